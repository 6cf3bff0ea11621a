//! The finding codes of the DKIM checker; their doc comments are the text
//! `authwarden explain DKIMnnn` prints.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// The domain sends mail but no DKIM key was found at any selector probed.
    ///
    /// ## What it checks
    /// DNS cannot list a domain's selectors, so the checker probes the selectors
    /// it knows of: those listed in config (`[domains.dkim] selectors`) or given
    /// with `--selector`, those seen in DMARC aggregate reports, those in its key
    /// history, and the provider catalog (`crates/catalog/providers.toml`). This code
    /// fires when none of them holds a usable key and the domain sends mail (it
    /// has MX records or an SPF record that authorises something).
    ///
    /// ## Why it matters
    /// Without DKIM, DMARC can pass only through SPF, which breaks on every
    /// forward and mailing list; many receivers also score unsigned mail as spam.
    /// If the domain does sign, the checker cannot see it and so cannot check the
    /// key's strength or age.
    ///
    /// ## How to fix
    /// Turn on DKIM signing at each service that sends the domain's mail and
    /// publish the keys it gives you. If the domain already signs, list its
    /// selectors under `[domains.dkim] selectors = [...]` (the `s=` tag of a
    /// received message's `DKIM-Signature` header names the selector).
    pub DKIM_KEY_MISSING = ("DKIM001", "dkim-key-missing", Severity::Warning);

    /// The RSA key is shorter than 1024 bits: receivers must reject its signatures.
    ///
    /// ## What it checks
    /// Decodes the `p=` tag as a DER SubjectPublicKeyInfo (or a bare PKCS#1
    /// RSAPublicKey) and measures the modulus exactly, in bits. This code fires
    /// below 1024 bits.
    ///
    /// ## Why it matters
    /// RFC 8301 section 3.2: verifiers MUST NOT consider signatures with keys
    /// under 1024 bits valid, so mail signed with this key is treated as unsigned.
    /// Keys this short can also be factored with modest resources, letting anyone
    /// sign mail as the domain.
    ///
    /// ## How to fix
    /// Generate a new 2048-bit key (or ed25519 alongside RSA), publish it under a
    /// new selector, switch signing to it, then revoke the old selector by
    /// publishing it with an empty `p=` tag.
    pub DKIM_RSA_TOO_SHORT = ("DKIM002", "dkim-rsa-key-too-short", Severity::Error);

    /// The RSA key is shorter than 2048 bits (deprecated by RFC 8301).
    ///
    /// ## What it checks
    /// The exact modulus length of the key (see DKIM002). This code fires from
    /// 1024 up to 2047 bits.
    ///
    /// ## Why it matters
    /// RFC 8301 section 3.2 says signers SHOULD use at least 2048 bits; 1024-bit
    /// RSA is within reach of well-funded attackers and some receivers already
    /// treat such signatures as weak.
    ///
    /// ## How to fix
    /// Rotate to a 2048-bit key under a new selector (most providers offer it;
    /// a TXT record longer than 255 bytes is published as several strings).
    pub DKIM_RSA_WEAK = ("DKIM003", "dkim-rsa-key-weak", Severity::Warning);

    /// The key in `p=` cannot be decoded.
    ///
    /// ## What it checks
    /// That `p=` is valid base64 and decodes to a DER SubjectPublicKeyInfo or
    /// RSAPublicKey of the type `k=` names (or a 32-byte ed25519 key).
    ///
    /// ## Why it matters
    /// Receivers cannot verify any signature with a key they cannot decode: every
    /// message signed with this selector fails DKIM. This is usually a copy-paste
    /// error (a truncated key, a missing string of a split record, quotes or
    /// spaces pasted into the value).
    ///
    /// ## How to fix
    /// Publish the key again exactly as the signing service gives it; for keys
    /// longer than 255 bytes make sure every string of the record is there.
    pub DKIM_KEY_UNDECODABLE = ("DKIM004", "dkim-key-undecodable", Severity::Error);

    /// The DKIM key record is malformed.
    ///
    /// ## What it checks
    /// Parses the record's tag list (RFC 6376 section 3.6.1): `tag=value` pairs
    /// separated by `;`, no tag twice, `v=DKIM1` first if present, `p=` present,
    /// a known `k=` key type, `h=` hash algorithms, `s=` service types and `t=`
    /// flags. The finding names the offending tag.
    ///
    /// ## Why it matters
    /// Receivers ignore a record they cannot parse, so signatures with this
    /// selector fail.
    ///
    /// ## How to fix
    /// Correct the tag named in the finding; a minimal record is
    /// `v=DKIM1; k=rsa; p=<base64 key>`.
    pub DKIM_RECORD_MALFORMED = ("DKIM005", "dkim-record-malformed", Severity::Error);

    /// A selector that config lists or reports show in use has a revoked key.
    ///
    /// ## What it checks
    /// A key record with an empty `p=` tag means "revoked" (RFC 6376 section
    /// 3.6.1). That is the right way to retire a selector; this code fires only
    /// when the selector is still listed in config or still appears in DMARC
    /// aggregate reports.
    ///
    /// ## Why it matters
    /// Mail still signed with a revoked selector fails DKIM. Either a sender was
    /// not moved to the new key, or the config lists a retired selector.
    ///
    /// ## How to fix
    /// Find the service still signing with this selector (the aggregate report
    /// names the source IPs) and switch it to the current key; or remove the
    /// selector from `[domains.dkim] selectors`.
    pub DKIM_KEY_REVOKED = ("DKIM006", "dkim-key-revoked", Severity::Warning);

    /// The key is in testing mode (`t=y`).
    ///
    /// ## What it checks
    /// The `t=` flags of the key record; this code fires when they contain `y`.
    ///
    /// ## Why it matters
    /// RFC 6376 section 3.6.1: verifiers MUST NOT treat messages from a domain in
    /// testing mode differently from unsigned mail, so DKIM gives no protection
    /// while the flag is set. It is often left behind after a rollout.
    ///
    /// ## How to fix
    /// Remove `y` from the `t=` tag (drop the tag if nothing else is in it) once
    /// signatures verify.
    pub DKIM_TESTING = ("DKIM007", "dkim-testing-mode", Severity::Warning);

    /// The key allows only SHA-1 signatures (`h=sha1`).
    ///
    /// ## What it checks
    /// The `h=` tag lists the hash algorithms the key may be used with; this
    /// code fires when `sha1` is the only one.
    ///
    /// ## Why it matters
    /// RFC 8301 section 3.1: signers MUST use rsa-sha256 and verifiers MUST NOT
    /// accept rsa-sha1 signatures, so no signature with this key can pass.
    ///
    /// ## How to fix
    /// Sign with rsa-sha256 and remove the `h=` tag (or set `h=sha256`).
    pub DKIM_SHA1_ONLY = ("DKIM008", "dkim-sha1-only", Severity::Error);

    /// A selector the inventory expects is not published.
    ///
    /// ## What it checks
    /// Each selector listed in `[domains.dkim] selectors` (or given with
    /// `--selector`) is looked up at `<selector>._domainkey.<domain>`; this code
    /// fires on NXDOMAIN, no TXT record, or TXT records that are not DKIM keys.
    ///
    /// ## Why it matters
    /// Mail signed with a selector whose key is missing fails DKIM. Either the
    /// record was deleted (or never published), or the inventory is out of date.
    ///
    /// ## How to fix
    /// Publish the key record the signing service gives you, or remove the
    /// selector from the config if the service no longer sends.
    pub DKIM_SELECTOR_MISSING = ("DKIM009", "dkim-selector-missing", Severity::Error);

    /// The key is older than the rotation interval.
    ///
    /// ## What it checks
    /// The key's age is the time since the checker first saw this exact key (its
    /// SHA-256) at this selector, kept in the key history across runs, or, before
    /// there is history, a lower bound taken from a date-coded selector name
    /// (`20240101`, `2025q4`, `scph0922`). This code fires when the age passes
    /// `rotation_days` (`[checkers.dkim]`, default 90, the quarterly rotation the
    /// organisation asks for), and up to twice that.
    ///
    /// ## Why it matters
    /// A key used for long is more likely to have leaked (backups, old servers,
    /// former staff) and gives an attacker who got it longer to use it.
    /// M3AAWG's DKIM key rotation best practices recommend rotating at least every
    /// six months; rotating on a schedule also keeps the procedure practised.
    ///
    /// ## How to fix
    /// Publish a new key under a new selector, switch signing to it, keep the old
    /// selector for a few days for mail in transit, then revoke it (`p=`). When
    /// the key is delegated by CNAME, the provider rotates it: ask them, or
    /// trigger the rotation in their console.
    pub DKIM_ROTATION_DUE = ("DKIM010", "dkim-key-rotation-due", Severity::Warning);

    /// The key is older than twice the rotation interval.
    ///
    /// ## What it checks
    /// As DKIM010, for keys older than twice `rotation_days` (180 days by
    /// default).
    ///
    /// ## Why it matters
    /// Past six months the key is also outside M3AAWG's recommended practice: the
    /// scheduled rotation has been missed at least twice.
    ///
    /// ## How to fix
    /// Rotate the key now (see DKIM010).
    pub DKIM_ROTATION_OVERDUE = ("DKIM011", "dkim-key-rotation-overdue", Severity::Error);

    /// The DKIM check could not finish: a DNS lookup failed or the key history
    /// could not be used.
    ///
    /// ## What it checks
    /// Every DNS lookup the checker makes (selector records, the domain's MX and
    /// SPF records), the key history file under the history folder, and the
    /// checker's own config section.
    ///
    /// ## Why it matters
    /// A failed lookup says nothing about the key: the result is unknown, so the
    /// other DKIM codes may be missing for this domain in this run.
    ///
    /// ## How to fix
    /// Check the domain's name servers (they answered SERVFAIL, refused or timed
    /// out), the permissions of the history folder, or the `[checkers.dkim]`
    /// section named in the finding; the next run retries.
    pub DKIM_INCOMPLETE = ("DKIM012", "dkim-check-incomplete", Severity::Warning);

    /// A new key was published on a selector since the previous run (a rotation).
    ///
    /// ## What it checks
    /// Compares each key's SHA-256 with the one the key history holds for the
    /// selector. The event is recorded with its date and listed in the
    /// quarterly report.
    ///
    /// ## Why it matters
    /// It is the evidence that rotation happens; an unexpected key change may
    /// also mean someone else took over the record.
    ///
    /// ## How to fix
    /// Nothing, if the rotation was planned. Otherwise find out who changed the
    /// record.
    pub DKIM_KEY_ROTATED = ("DKIM013", "dkim-key-rotated", Severity::Note);
}
