//! The finding codes of the mx checker; their doc comments are the text
//! `authwarden explain MXnnn` prints.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// The domain publishes no MX record, so mail goes to its address records.
    ///
    /// ## What it checks
    /// Looks up MX at the domain. When the answer has no record (the name
    /// does not exist, or has no MX), senders fall back to the domain's own
    /// A/AAAA records (RFC 5321 section 5.1); the evidence lists them.
    ///
    /// ## Why it matters
    /// The web server behind the domain's address usually does not accept
    /// mail, so senders retry for days and then bounce; if it does listen on
    /// port 25 it may accept mail nobody reads. Either is rarely intended.
    ///
    /// ## How to fix
    /// Publish the mail hosts, e.g. `example.org. MX 10 mail.example.org.`,
    /// or, when the domain receives no mail, a null MX (RFC 7505):
    /// `example.org. MX 0 .`.
    pub MX_MISSING = ("MX001", "mx-missing", Severity::Warning);

    /// A null MX (`MX 0 .`) is published together with other MX records.
    ///
    /// ## What it checks
    /// A null MX (RFC 7505: preference 0, exchange `.`) says the domain
    /// accepts no mail; it must be the only MX record of the domain
    /// (RFC 7505 section 3). A null MX alone is fine and reported by nothing.
    ///
    /// ## Why it matters
    /// Senders treat the mix inconsistently: some deliver to the other hosts,
    /// some bounce at once as for a null MX. Either the domain receives mail
    /// or it does not.
    ///
    /// ## How to fix
    /// For a domain that receives mail, delete `example.org. MX 0 .`; for one
    /// that does not, delete every other MX record and keep only
    /// `example.org. MX 0 .`.
    pub MX_NULL_MIXED = ("MX002", "mx-null-mx-mixed", Severity::Error);

    /// An MX record's exchange is an IP address instead of a host name.
    ///
    /// ## What it checks
    /// Whether the exchange of an MX record parses as an IPv4 or IPv6
    /// address (`example.org. MX 10 192.0.2.25.`).
    ///
    /// ## Why it matters
    /// The exchange of an MX record must be a domain name (RFC 1035 section
    /// 3.3.9, RFC 5321 section 5.1). Senders look up `192.0.2.25.` as a name,
    /// find nothing and cannot deliver.
    ///
    /// ## How to fix
    /// Give the host a name with an address record and point the MX at it:
    /// `mail.example.org. A 192.0.2.25` and `example.org. MX 10 mail.example.org.`.
    pub MX_IP_LITERAL = ("MX003", "mx-exchange-ip-literal", Severity::Error);

    /// An MX record's exchange is an alias (CNAME).
    ///
    /// ## What it checks
    /// Whether the address lookup of an MX exchange follows a CNAME, i.e.
    /// the exchange is an alias rather than the host's own name.
    ///
    /// ## Why it matters
    /// RFC 2181 section 10.3 forbids an MX pointing at an alias, and
    /// RFC 5321 section 5.1 lets senders refuse it. Most follow the alias,
    /// but some do not, and the names in the certificate and in MTA-STS
    /// policies get confusing.
    ///
    /// ## How to fix
    /// Point the MX at the canonical name the alias leads to:
    /// replace `example.org. MX 10 mx.example.org.` (with
    /// `mx.example.org. CNAME mail.provider.example.`) by
    /// `example.org. MX 10 mail.provider.example.`.
    pub MX_CNAME = ("MX004", "mx-exchange-is-cname", Severity::Warning);

    /// An MX host has no A and no AAAA record.
    ///
    /// ## What it checks
    /// Looks up A and AAAA of each MX exchange; reported when both answer
    /// with no record (or the name does not exist).
    ///
    /// ## Why it matters
    /// Senders cannot connect to a host without an address: mail to that MX
    /// cannot be delivered, and when it is the only MX, the domain receives
    /// no mail at all.
    ///
    /// ## How to fix
    /// Publish the host's address (`mail.example.org. A 192.0.2.25`), or
    /// remove the MX record that points at it.
    pub MX_NO_ADDRESS = ("MX005", "mx-exchange-no-address", Severity::Error);

    /// An MX address has no forward-confirmed reverse DNS.
    ///
    /// ## What it checks
    /// For each address of each MX host: the PTR record of the address,
    /// then the A/AAAA records of the name it gives; the address must be
    /// among them. Reported when there is no PTR record or no PTR name leads
    /// back to the address.
    ///
    /// ## Why it matters
    /// The MX hosts usually send mail too (bounces, forwards, replies from
    /// the same servers). Many receivers reject or score down mail from an
    /// address without forward-confirmed reverse DNS, and it makes the
    /// host's logs and TLS certificates harder to match.
    ///
    /// ## How to fix
    /// Ask whoever runs the address block (the hosting provider) to set the
    /// PTR record to the host's name, e.g.
    /// `25.2.0.192.in-addr.arpa. PTR mail.example.org.`, and make sure the
    /// name resolves back: `mail.example.org. A 192.0.2.25`.
    pub MX_FCRDNS = ("MX006", "mx-fcrdns-mismatch", Severity::Warning);

    /// A DNS lookup failed, so the MX records were not fully checked.
    ///
    /// ## What it checks
    /// Reported for each MX, A, AAAA or PTR lookup of the check that fails
    /// with SERVFAIL, a timeout or a refusal; the finding names the lookup.
    /// The checks that depend on that answer are skipped rather than
    /// guessed.
    ///
    /// ## Why it matters
    /// The result is unknown, and senders whose lookups fail the same way
    /// cannot deliver mail to the domain either.
    ///
    /// ## How to fix
    /// Check that the name servers answer (`dig MX example.org`,
    /// `dig A mail.example.org`), then run `authwarden check example.org`
    /// again.
    pub MX_CHECK_INCOMPLETE = ("MX007", "mx-check-incomplete", Severity::Warning);

    /// An MX host does not offer STARTTLS (the optional probe).
    ///
    /// ## What it checks
    /// Only with `[checkers.mx] starttls_probe = true`, the one check of
    /// authwarden that opens outbound SMTP connections: connects to port 25
    /// of the first address of each MX host, says `EHLO` and looks for
    /// `STARTTLS` among the extensions.
    ///
    /// ## Why it matters
    /// Without STARTTLS every message to the domain crosses the Internet in
    /// plain text, and an MTA-STS policy in `enforce` mode makes senders
    /// refuse to deliver to the host at all.
    ///
    /// ## How to fix
    /// Enable TLS on the mail server (e.g. Postfix `smtpd_tls_security_level
    /// = may` with a certificate for the MX name).
    pub MX_STARTTLS_MISSING = ("MX008", "mx-starttls-not-offered", Severity::Error);

    /// An MX host's STARTTLS certificate is expired or not valid for its name (the optional probe).
    ///
    /// ## What it checks
    /// With `starttls_probe = true`: after `STARTTLS`, the certificate must
    /// chain to a public CA (or `[https] ca_bundle`), be unexpired and name
    /// the MX host.
    ///
    /// ## Why it matters
    /// Senders that verify certificates, those applying the domain's
    /// MTA-STS policy, refuse to deliver; the TLS reports show them as
    /// `certificate-expired`, `certificate-host-mismatch` or
    /// `certificate-not-trusted`.
    ///
    /// ## How to fix
    /// Install a certificate from a public CA for the MX name (automate its
    /// renewal) and restart the mail server.
    pub MX_STARTTLS_CERT = ("MX009", "mx-starttls-certificate-invalid", Severity::Error);

    /// STARTTLS with an MX host fails (the optional probe).
    ///
    /// ## What it checks
    /// With `starttls_probe = true`: the server offers STARTTLS but refuses
    /// the command or the TLS handshake fails for another reason than the
    /// certificate.
    ///
    /// ## Why it matters
    /// Senders fall back to plain text, or under MTA-STS do not deliver.
    ///
    /// ## How to fix
    /// Check the mail server's TLS settings and logs (protocol versions,
    /// ciphers, the key file's permissions).
    pub MX_STARTTLS_FAILED = ("MX010", "mx-starttls-failed", Severity::Error);
}
