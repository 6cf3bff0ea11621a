//! The finding codes of the SPF checker; their doc comments are the text
//! `authwarden explain SPFnnn` prints.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// Evaluating the SPF record takes more than 10 DNS lookups: receivers return permerror.
    ///
    /// ## What it checks
    /// Counts the DNS-querying terms (`include`, `a`, `mx`, `ptr`, `exists` and
    /// the `redirect` modifier) in the record and, recursively, in every include
    /// and redirect target, as if every term were evaluated (the worst case, which
    /// is what a message from an unlisted sender costs). `redirect` is not counted
    /// when the record has an `all` term; a term with a macro counts 1 and is not
    /// followed.
    ///
    /// ## Why it matters
    /// RFC 7208 section 4.6.4 caps the lookups at 10. Past the cap receivers stop
    /// and return permerror, which DMARC treats as an SPF failure: legitimate mail
    /// that relied on SPF fails, often only for the senders listed last.
    ///
    /// ## How to fix
    /// Drop includes of services no longer used, replace `a` and `mx` terms with
    /// the `ip4:`/`ip6:` ranges they stand for, or flatten an expensive include into
    /// its current ranges (and refresh it whenever the provider changes them). The
    /// finding's evidence lists the terms that cost the most.
    pub SPF_LOOKUP_LIMIT = ("SPF001", "spf-lookup-limit-exceeded", Severity::Error);

    /// More than 2 of the record's DNS lookups return no answer: receivers return permerror.
    ///
    /// ## What it checks
    /// Counts the lookups made by the record's terms, recursively, that come back
    /// NXDOMAIN or NOERROR without data (a "void lookup"): an `a` target without
    /// A/AAAA, an `mx` target without MX, an `exists` target without A, an include
    /// or redirect target that does not exist.
    ///
    /// ## Why it matters
    /// RFC 7208 section 4.6.4 lets receivers stop after 2 void lookups with
    /// permerror, to limit abuse. Void lookups are also dead weight: they name
    /// hosts or providers that are gone.
    ///
    /// ## How to fix
    /// Remove the terms whose targets no longer exist (listed in the evidence),
    /// or publish the missing records.
    pub SPF_VOID_LIMIT = ("SPF002", "spf-void-lookup-limit-exceeded", Severity::Error);

    /// The domain publishes no SPF record.
    ///
    /// ## What it checks
    /// Looks up TXT at the domain and keeps the strings that start with `v=spf1`.
    /// This code fires when there is none.
    ///
    /// ## Why it matters
    /// Without SPF receivers cannot tell authorised servers from forgers by the
    /// envelope sender, DMARC can pass only through DKIM, and many receivers score
    /// the missing record as spam.
    ///
    /// ## How to fix
    /// Publish one TXT record at the domain listing the servers that send its mail,
    /// e.g. `v=spf1 include:_spf.google.com ~all`. A domain that sends no mail
    /// publishes `v=spf1 -all`.
    pub SPF_RECORD_MISSING = ("SPF003", "spf-record-missing", Severity::Error);

    /// More than one SPF record is published at one name: receivers return permerror.
    ///
    /// ## What it checks
    /// Counts the TXT strings starting with `v=spf1` at the domain and at every
    /// include and redirect target.
    ///
    /// ## Why it matters
    /// RFC 7208 section 4.5: with more than one record the result is permerror,
    /// so SPF fails for all mail. This usually happens when a provider's setup
    /// guide says "add this TXT record" and a second record is added instead of
    /// the first being edited.
    ///
    /// ## How to fix
    /// Merge the records into one (combine their mechanisms, keep one `all` at
    /// the end) and delete the others.
    pub SPF_MULTIPLE_RECORDS = ("SPF004", "spf-multiple-records", Severity::Error);

    /// The SPF record has a syntax error: receivers return permerror.
    ///
    /// ## What it checks
    /// Parses the record, and every include and redirect target, against the
    /// grammar of RFC 7208 section 12: `v=spf1` exactly, qualifiers, the
    /// mechanisms `all`, `include`, `a`, `mx`, `ptr`, `ip4`, `ip6` and `exists`
    /// with their domain-specs and CIDR lengths, the `redirect` and `exp`
    /// modifiers (at most once each) and unknown modifiers, macros with their
    /// letters, transformers and delimiters, and 7-bit ASCII only. The finding
    /// names the term, its byte position and the reason.
    ///
    /// ## Why it matters
    /// RFC 7208 section 4.6 makes any syntax error a permerror for the whole
    /// record, not just the broken term: one typo makes SPF fail for all mail.
    ///
    /// ## How to fix
    /// Correct the term named in the finding. Common causes: a space after a colon
    /// (`include: example.com`), a missing colon, `ip4:` with a host name, a prefix
    /// length out of range, a stray `%` (write `%%`).
    pub SPF_SYNTAX_ERROR = ("SPF005", "spf-syntax-error", Severity::Error);

    /// The record ends in `+all`: every server on the internet passes SPF.
    ///
    /// ## What it checks
    /// The qualifier of the record's `all` term.
    ///
    /// ## Why it matters
    /// `+all` (or a bare `all`) authorises every host, so SPF protects nothing and
    /// forged mail passes SPF, and with it DMARC.
    ///
    /// ## How to fix
    /// Use `~all` while checking the DMARC reports for unlisted senders, then `-all`.
    pub SPF_PASS_ALL = ("SPF006", "spf-pass-all", Severity::Error);

    /// The record ends in `?all`: unlisted servers are neutral, neither passing nor failing.
    ///
    /// ## What it checks
    /// The qualifier of the record's `all` term.
    ///
    /// ## Why it matters
    /// A neutral result gives receivers nothing to act on: forged mail is treated
    /// as if the domain had no SPF record.
    ///
    /// ## How to fix
    /// Use `~all` while monitoring, then `-all` once every sender is listed.
    pub SPF_NEUTRAL_ALL = ("SPF007", "spf-neutral-all", Severity::Warning);

    /// The record has neither an `all` term nor a `redirect`: unlisted servers get neutral.
    ///
    /// ## What it checks
    /// Whether the record has an `all` mechanism or a `redirect` modifier.
    ///
    /// ## Why it matters
    /// Without either, a message from an unlisted server ends evaluation with the
    /// default result neutral (RFC 7208 section 4.7), the same as `?all`.
    ///
    /// ## How to fix
    /// End the record with `~all` while monitoring, then `-all`.
    pub SPF_NO_ALL = ("SPF008", "spf-no-all", Severity::Warning);

    /// The record uses the `ptr` mechanism, which RFC 7208 deprecates.
    ///
    /// ## What it checks
    /// Whether the record, or an include or redirect target, has a `ptr` term.
    ///
    /// ## Why it matters
    /// `ptr` is slow and unreliable (a reverse lookup and then forward lookups per
    /// name), puts load on the reverse DNS of the client's network, and RFC 7208
    /// section 5.5 says it SHOULD NOT be used; some receivers skip it.
    ///
    /// ## How to fix
    /// Replace `ptr` with the `ip4:`/`ip6:` ranges of the servers it stood for.
    pub SPF_PTR_USED = ("SPF009", "spf-ptr-used", Severity::Warning);

    /// Mechanisms follow the `all` term and are never evaluated.
    ///
    /// ## What it checks
    /// Whether any mechanism is written after `all`.
    ///
    /// ## Why it matters
    /// Evaluation stops at `all`, which always matches: the mechanisms after it
    /// never authorise anything. They were usually appended to the record by
    /// mistake, and their senders fail SPF.
    ///
    /// ## How to fix
    /// Move the mechanisms before `all`, or delete them if they are not needed.
    pub SPF_TERMS_AFTER_ALL = ("SPF010", "spf-terms-after-all", Severity::Warning);

    /// A TXT character-string of the record is longer than 255 bytes.
    ///
    /// ## What it checks
    /// The length of each character-string of the TXT record holding SPF.
    ///
    /// ## Why it matters
    /// A DNS character-string holds at most 255 bytes; longer ones cannot be
    /// served as written, and DNS providers truncate or reject them.
    ///
    /// ## How to fix
    /// Split the record into several quoted strings of at most 255 bytes each
    /// (`"v=spf1 ... " "... -all"`); receivers join them without a separator.
    pub SPF_STRING_TOO_LONG = ("SPF011", "spf-txt-string-too-long", Severity::Error);

    /// The SPF record is longer than 450 bytes.
    ///
    /// ## What it checks
    /// The length of the joined record.
    ///
    /// ## Why it matters
    /// RFC 7208 section 3.4 asks records to stay small enough that the whole DNS
    /// answer fits in 512 bytes over UDP; past about 450 bytes of record the
    /// answer may need TCP or EDNS, which some resolvers do not manage.
    ///
    /// ## How to fix
    /// Shorten the record: merge adjacent `ip4:` ranges into CIDR blocks, drop
    /// unused terms, or move groups of ranges into an include of your own.
    pub SPF_RECORD_LONG = ("SPF012", "spf-record-long", Severity::Warning);

    /// The SPF record is longer than 512 bytes.
    ///
    /// ## What it checks
    /// The length of the joined record.
    ///
    /// ## Why it matters
    /// A record this long can never fit a classic 512-byte UDP DNS answer, so
    /// receivers behind resolvers without TCP or EDNS fallback cannot read it and
    /// get temperror.
    ///
    /// ## How to fix
    /// Move groups of ranges into includes of your own (each costs one lookup) or
    /// drop terms no longer needed.
    pub SPF_RECORD_TOO_LONG = ("SPF013", "spf-record-too-long", Severity::Error);

    /// The domain still publishes an SPF record of the obsolete DNS type SPF (99).
    ///
    /// ## What it checks
    /// Queries the domain for type 99 records.
    ///
    /// ## Why it matters
    /// RFC 7208 section 3.1 removed type 99: receivers read only TXT. A type 99
    /// record is ignored and tends to drift out of step with the TXT record,
    /// misleading whoever edits the zone.
    ///
    /// ## How to fix
    /// Delete the type 99 record and keep the TXT record.
    pub SPF_TYPE99 = ("SPF014", "spf-type99-record", Severity::Warning);

    /// The SPF record is served through a CNAME.
    ///
    /// ## What it checks
    /// Whether the TXT answer at the domain was reached by following a CNAME.
    ///
    /// ## Why it matters
    /// The record is then controlled by whoever owns the CNAME target; a CNAME
    /// also forbids every other record at the name (so no MX, no other TXT), and
    /// at a zone apex it is invalid outright.
    ///
    /// ## How to fix
    /// Publish the TXT record at the domain itself, using `include:` of the
    /// target if the provider maintains the record.
    pub SPF_CNAME = ("SPF015", "spf-cname-at-name", Severity::Warning);

    /// An `mx` term resolves to more than 10 mail hosts: receivers return permerror.
    ///
    /// ## What it checks
    /// The number of MX records at each `mx` term's target.
    ///
    /// ## Why it matters
    /// RFC 7208 section 4.6.4 limits the address lookups of one `mx` term to 10;
    /// more is a permerror.
    ///
    /// ## How to fix
    /// List the mail hosts' ranges with `ip4:`/`ip6:` instead of `mx`.
    pub SPF_MX_TOO_MANY = ("SPF016", "spf-mx-too-many-hosts", Severity::Error);

    /// An include or redirect target publishes no SPF record: receivers return permerror.
    ///
    /// ## What it checks
    /// Looks up the SPF record at every `include` and `redirect` target.
    ///
    /// ## Why it matters
    /// RFC 7208 sections 5.2 and 6.1: an include or redirect whose target has no
    /// SPF record is a permerror, so SPF fails for all mail that reaches the term.
    /// It usually means a provider retired its SPF name or the name is misspelt.
    ///
    /// ## How to fix
    /// Check the provider's current documentation for its SPF include, fix the
    /// name, or remove the term if the service is no longer used.
    pub SPF_TARGET_MISSING = ("SPF017", "spf-target-without-spf", Severity::Error);

    /// Includes or redirects form a loop: receivers return permerror.
    ///
    /// ## What it checks
    /// Follows every include and redirect and reports a target that is already
    /// being evaluated further up the chain.
    ///
    /// ## Why it matters
    /// A loop never ends on its own; receivers stop it at the lookup limit with
    /// permerror.
    ///
    /// ## How to fix
    /// Remove the term that points back to a record already in the chain.
    pub SPF_LOOP = ("SPF018", "spf-include-loop", Severity::Error);

    /// A DNS lookup failed (timeout, SERVFAIL): the SPF check is incomplete.
    ///
    /// ## What it checks
    /// Every lookup the checker makes; a failure means the affected part of the
    /// record could not be checked, and its counts are lower bounds.
    ///
    /// ## Why it matters
    /// Receivers hitting the same failure return temperror and defer or reject the
    /// mail. If it persists, the name servers of the zone are not answering.
    ///
    /// ## How to fix
    /// Run the check again; if the failure persists, check that every
    /// authoritative name server of the zone answers for the name in the
    /// finding's evidence.
    pub SPF_CHECK_INCOMPLETE = ("SPF019", "spf-check-incomplete", Severity::Warning);

    /// The record's `~all` / `-all` does not fit the domain's DMARC rollout phase.
    ///
    /// ## What it checks
    /// Compares the effective `all` of the record (its own, or through its
    /// `redirect` chain) with the DMARC phase of the domain, read from its
    /// published DMARC record: `~all` is expected while DMARC monitors
    /// (`p=none`, `t=y` or `pct=0`), `-all` once it enforces (`p=quarantine`
    /// or `p=reject`). `+all`, `?all` and a missing `all` have their own codes.
    /// `v=spf1 -all`, the record of a domain that sends no mail, fits every
    /// phase.
    ///
    /// ## Why it matters
    /// While DMARC monitors, its reports are still revealing senders nobody
    /// listed: `-all` makes receivers that act on SPF alone reject their mail
    /// before anyone has seen it in a report. Once DMARC enforces, every
    /// legitimate sender is known, and `~all` only keeps forged mail
    /// deliverable at receivers that ignore DMARC.
    ///
    /// ## How to fix
    /// Publish the record the finding proposes: `~all` during monitoring,
    /// `-all` once the DMARC policy is quarantine or reject. `authwarden spf
    /// build` picks the qualifier the same way.
    pub SPF_ALL_PHASE = ("SPF020", "spf-all-dmarc-phase-mismatch", Severity::Warning);
}
