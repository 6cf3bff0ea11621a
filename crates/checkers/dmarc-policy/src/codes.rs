//! The finding codes of the DMARC policy checker; their doc comments are the
//! text `authwarden explain DMARCnnn` prints.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// The domain publishes no DMARC record, and neither does its organizational domain.
    ///
    /// ## What it checks
    /// Looks up TXT at `_dmarc.<domain>` and keeps the strings that start with
    /// `v=DMARC1`. When there is none and the domain is a subdomain, looks up
    /// `_dmarc.<organizational domain>` (RFC 7489 section 6.6.3), whose `sp`
    /// would apply. This code fires when neither has a record.
    ///
    /// ## Why it matters
    /// Without a DMARC record receivers apply no policy to mail that fails SPF
    /// and DKIM alignment, so anyone can send mail in the domain's name, and the
    /// domain owner gets no aggregate reports showing who does.
    ///
    /// ## How to fix
    /// Publish a monitoring record first and read the aggregate reports for a few
    /// weeks, e.g. `_dmarc.example.org TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.org"`.
    /// A record at the organizational domain also covers its subdomains.
    pub DMARC_RECORD_MISSING = ("DMARC001", "dmarc-record-missing", Severity::Error);

    /// More than one DMARC record is published at one name: receivers ignore all of them.
    ///
    /// ## What it checks
    /// Counts the TXT strings at `_dmarc.<domain>` (or the organizational domain
    /// it fell back to) that start with `v=DMARC1`.
    ///
    /// ## Why it matters
    /// RFC 7489 section 6.6.3: when discovery returns several records, DMARC
    /// processing is not applied at all. The domain is as unprotected as with
    /// no record, and no reports arrive. This usually happens when a second
    /// record is added instead of the first being edited.
    ///
    /// ## How to fix
    /// Merge the records into one and delete the others, so that exactly one
    /// TXT string at `_dmarc.<domain>` starts with `v=DMARC1`.
    pub DMARC_MULTIPLE_RECORDS = ("DMARC002", "dmarc-multiple-records", Severity::Error);

    /// The DMARC record has a syntax error: an invalid value, a duplicate tag, bad characters.
    ///
    /// ## What it checks
    /// Parses the record against the grammar of RFC 7489 section 6.4 and RFC 9989:
    /// `v` first and exactly `DMARC1`; `p`, `sp`, `np` one of none, quarantine,
    /// reject; `pct` 0 to 100; `t` and `psd` y/n(/u); `adkim` and `aspf` r or s;
    /// `fo` a colon-separated list of 0, 1, d, s; `rua` and `ruf` comma-separated
    /// URIs with an optional `!size`; `rf` afrf or iodef; `ri` seconds; every tag
    /// at most once; no control or non-ASCII characters and valid UTF-8. It also
    /// reports TXT strings at `_dmarc` that look like DMARC but do not start with
    /// `v=DMARC1`. Near misses get a did-you-mean (`p=rejct` → `reject`).
    ///
    /// ## Why it matters
    /// Receivers ignore a tag with an invalid value and use its default: a
    /// misspelt `p=rejct` leaves the domain at `none`, a bad `rua` means no
    /// reports. A record that does not start with `v=DMARC1` is discarded whole.
    ///
    /// ## How to fix
    /// Publish the corrected record given in the finding's help; it keeps every
    /// valid tag of the current record and applies the did-you-mean fixes.
    pub DMARC_SYNTAX_ERROR = ("DMARC003", "dmarc-syntax-error", Severity::Error);

    /// The DMARC record contains a tag that DMARC does not define.
    ///
    /// ## What it checks
    /// Every tag name against the tags of RFC 7489 and RFC 9989: v, p, sp, np,
    /// pct, t, adkim, aspf, fo, rua, ruf, rf, ri, psd.
    ///
    /// ## Why it matters
    /// Receivers ignore unknown tags, so whatever the tag was meant to say has no
    /// effect. It is often a misspelling (`rau=` for `rua=`) that silently
    /// disables a setting.
    ///
    /// ## How to fix
    /// Remove the tag, or correct its name when it was a typo; the finding
    /// suggests the closest known tag.
    pub DMARC_UNKNOWN_TAG = ("DMARC004", "dmarc-unknown-tag", Severity::Warning);

    /// The DMARC record has no `p` tag.
    ///
    /// ## What it checks
    /// Whether the record states a policy with `p=`.
    ///
    /// ## Why it matters
    /// RFC 7489 section 6.6.3 makes `p` required: a record without it is ignored,
    /// unless `rua` has a valid URI, in which case receivers act as if `p=none`.
    /// RFC 9989 treats any otherwise valid record without `p` as `p=none`. Either
    /// way the domain is not protected, and older receivers may not even report.
    ///
    /// ## How to fix
    /// Add `p=none` to keep monitoring, or `p=quarantine` / `p=reject` once the
    /// aggregate reports show that all legitimate mail passes DMARC.
    pub DMARC_POLICY_MISSING = ("DMARC005", "dmarc-policy-missing", Severity::Error);

    /// The DMARC policy that applies to the domain is `none`: monitoring only.
    ///
    /// ## What it checks
    /// The policy receivers apply to the domain: `p` of its own record, or `sp`
    /// (else `p`) of the organizational domain's record when it has none.
    ///
    /// ## Why it matters
    /// With `none`, receivers deliver mail that fails DMARC as usual; the record
    /// only produces reports. That is the right first step, but it does not stop
    /// spoofing.
    ///
    /// ## How to fix
    /// Once the aggregate reports show that every legitimate source passes SPF or
    /// DKIM aligned, move to `p=quarantine` for a small share of mail
    /// (`pct=10`, or `t=y` under RFC 9989), then raise it step by step to
    /// `p=reject`.
    pub DMARC_POLICY_NONE = ("DMARC006", "dmarc-policy-none", Severity::Warning);

    /// The DMARC policy applies to only part of the failing mail (`pct` below 100).
    ///
    /// ## What it checks
    /// `pct` when the applied policy is quarantine or reject.
    ///
    /// ## Why it matters
    /// RFC 7489 section 6.6.4: receivers apply the policy to `pct` percent of
    /// failing mail and the next weaker policy to the rest, so some spoofed mail
    /// still gets through. RFC 9989 retires `pct` in favour of `t`, so receivers
    /// that follow it may apply the full policy: a partial rollout behaves
    /// differently at different receivers.
    ///
    /// ## How to fix
    /// Raise `pct` step by step (e.g. 10, 25, 50) while the reports stay clean,
    /// then remove it (100 is the default).
    pub DMARC_PARTIAL_POLICY = ("DMARC007", "dmarc-partial-policy", Severity::Warning);

    /// The DMARC record is in testing mode (`t=y`).
    ///
    /// ## What it checks
    /// `t=y` when the applied policy is quarantine or reject.
    ///
    /// ## Why it matters
    /// RFC 9989: in testing mode receivers apply the next weaker policy (reject
    /// becomes quarantine, quarantine becomes none), so the published policy is
    /// not enforced. Receivers that only know RFC 7489 ignore `t` and enforce
    /// the full policy, so the effect differs between receivers.
    ///
    /// ## How to fix
    /// When the reports show that legitimate mail passes, remove `t=y` (or set
    /// `t=n`).
    pub DMARC_TESTING_MODE = ("DMARC008", "dmarc-testing-mode", Severity::Warning);

    /// The subdomain policy `sp` is weaker than the domain policy `p`.
    ///
    /// ## What it checks
    /// Compares `sp` with `p` (none < quarantine < reject) when `sp` is present.
    ///
    /// ## Why it matters
    /// Attackers send from made-up or forgotten subdomains (`billing.example.org`)
    /// precisely because the subdomain policy is often left weaker than the
    /// domain's own.
    ///
    /// ## How to fix
    /// Remove `sp` so that subdomains inherit `p`, or give subdomains that still
    /// need monitoring records of their own.
    pub DMARC_SUBDOMAIN_POLICY_WEAKER = ("DMARC009", "dmarc-subdomain-policy-weaker", Severity::Warning);

    /// The non-existent subdomain policy `np` is weaker than the domain policy `p`.
    ///
    /// ## What it checks
    /// Compares `np` (RFC 9989) with `p` when `np` is present.
    ///
    /// ## Why it matters
    /// Names that do not exist send no legitimate mail, so there is no reason for
    /// a weaker policy there; a weak `np` invites spoofing from invented names.
    ///
    /// ## How to fix
    /// Remove `np` (it then follows `sp`, then `p`) or set it to `reject`.
    pub DMARC_NONEXISTENT_POLICY_WEAKER = ("DMARC010", "dmarc-nonexistent-subdomain-policy-weaker", Severity::Warning);

    /// The DMARC record asks for no aggregate reports (`rua` missing).
    ///
    /// ## What it checks
    /// Whether the record has at least one valid `rua` URI.
    ///
    /// ## Why it matters
    /// Aggregate reports are the only way to learn which sources send mail in
    /// the domain's name and whether they pass. Without them moving to a
    /// stricter policy is guesswork, and breakage goes unnoticed.
    ///
    /// ## How to fix
    /// Add `rua=mailto:<address>` pointing to a mailbox (or report processor)
    /// that is read.
    pub DMARC_NO_AGGREGATE_REPORTS = ("DMARC011", "dmarc-no-aggregate-reports", Severity::Warning);

    /// Reports go to an external domain that has not authorized them: receivers drop them.
    ///
    /// ## What it checks
    /// For every `mailto:` URI in `rua` and `ruf` whose host is in another
    /// organizational domain than the record, looks up TXT at
    /// `<record domain>._report._dmarc.<host>` and expects a string starting with
    /// `v=DMARC1` (RFC 7489 section 7.1).
    ///
    /// ## Why it matters
    /// Receivers verify this authorization so that a DMARC record cannot direct
    /// report floods at a third party. Without it they send no reports to that
    /// address.
    ///
    /// ## How to fix
    /// Ask the operator of the destination (your report processor) to publish
    /// `<record domain>._report._dmarc.<host> TXT "v=DMARC1"`, or send reports to
    /// an address in your own domain.
    pub DMARC_EXTERNAL_REPORTS_UNAUTHORIZED = ("DMARC012", "dmarc-external-reports-unauthorized", Severity::Error);

    /// The record lists more than two aggregate report URIs.
    ///
    /// ## What it checks
    /// The number of URIs in `rua`.
    ///
    /// ## Why it matters
    /// RFC 7489 section 6.2 lets receivers limit how many destinations they
    /// serve, and many send to the first two only; the others silently get
    /// nothing.
    ///
    /// ## How to fix
    /// Keep at most two destinations; forward from one mailbox if more parties
    /// need the reports.
    pub DMARC_TOO_MANY_REPORT_URIS = ("DMARC013", "dmarc-too-many-report-uris", Severity::Warning);

    /// A report URI in `rua` or `ruf` is not a `mailto:` URI.
    ///
    /// ## What it checks
    /// The scheme of every URI in `rua` and `ruf`.
    ///
    /// ## Why it matters
    /// RFC 7489 defines delivery by mail only, and receivers do not deliver
    /// reports to `https:` or other schemes: that destination gets nothing.
    ///
    /// ## How to fix
    /// Replace the URI with a `mailto:` address.
    pub DMARC_REPORT_URI_NOT_MAILTO = ("DMARC014", "dmarc-report-uri-not-mailto", Severity::Error);

    /// The record asks for failure (forensic) reports with `ruf`.
    ///
    /// ## What it checks
    /// Whether `ruf` is present.
    ///
    /// ## Why it matters
    /// Few receivers send failure reports, and those that do include headers and
    /// sometimes content of individual messages, which is personal data: the
    /// mailbox needs the same protection as any mail archive.
    ///
    /// ## How to fix
    /// Keep `ruf` only if someone reads and protects the mailbox the reports
    /// arrive in; otherwise remove it. authwarden ingests them keeping only
    /// their metadata, never the reported message (`reports/data/failures/`),
    /// and shows them in the report's failure section. Since keeping `ruf`
    /// is a choice, not a fault, this note proposes no DNS change: the plan
    /// leaves `ruf` as it is.
    pub DMARC_FAILURE_REPORTS_REQUESTED = ("DMARC015", "dmarc-failure-reports-requested", Severity::Note);

    /// The DMARC check is incomplete: a DNS lookup failed.
    ///
    /// ## What it checks
    /// Every DNS query of the check: `_dmarc.<domain>`, the organizational
    /// domain's record, and report authorization records. A SERVFAIL, timeout or
    /// refusal means the answer is unknown.
    ///
    /// ## Why it matters
    /// Nothing is concluded from missing data, so other problems may be hidden.
    /// Receivers that hit the same failure treat it as a temporary error and may
    /// defer or accept mail without applying the policy.
    ///
    /// ## How to fix
    /// Run the check again; if the failure persists, check that every
    /// authoritative name server of the zone answers for the name in the
    /// finding's evidence.
    pub DMARC_CHECK_INCOMPLETE = ("DMARC016", "dmarc-check-incomplete", Severity::Warning);

    /// Aggregate reports about the domain came in mail that their reporter
    /// did not authenticate.
    ///
    /// ## What it checks
    /// The aggregate reports of the last 31 days in the history. At ingest,
    /// the mail message that carried each report was verified (DKIM, and
    /// SPF where a trusted `Received` header names the client) and its
    /// `From` domain compared with the reporter the report names (the domain
    /// of `report_metadata/email`). A report is flagged when the message's
    /// domain is not the reporter's, or when the reporter's domain did not
    /// authenticate it (no From-aligned DKIM signature verified, no aligned
    /// SPF pass).
    ///
    /// ## Why it matters
    /// RFC 9990 (section 4.5) asks that report messages pass DMARC for the
    /// reporter's domain, because anyone can mail a report that claims to
    /// come from google.com. A forged report can make a spoofing source look
    /// like a legitimate one, or invent failures, and so steer the rollout:
    /// its figures are in the history and the report like any other's.
    ///
    /// ## How to fix
    /// Look at the reports listed in the evidence (their `source` names the
    /// file or message). If they are forged, delete their rows from the
    /// history and set `[ingest] require_authenticated = true` to refuse
    /// such reports from now on. If they are genuine, the reporter's mail
    /// was changed on the way (a gateway that rewrites messages breaks the
    /// signature): deliver reports to authwarden unmodified.
    pub DMARC_REPORTS_NOT_AUTHENTICATED = ("DMARC017", "dmarc-reports-not-authenticated", Severity::Warning);
}
