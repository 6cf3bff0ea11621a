//! The finding codes of the mta-sts checker; their doc comments are the
//! text `authwarden explain STSnnn` prints.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// The domain publishes more than one MTA-STS record.
    ///
    /// ## What it checks
    /// Looks up TXT at `_mta-sts.<domain>` and counts the strings that start
    /// with `v=STSv1` (RFC 8461 section 3.1). There must be exactly one.
    ///
    /// ## Why it matters
    /// With several records, senders must act as if the domain had no
    /// MTA-STS policy at all: mail to it is no longer protected against a
    /// downgrade to plain text or a forged MX.
    ///
    /// ## How to fix
    /// Keep one record and remove the others:
    /// `_mta-sts.example.org. TXT "v=STSv1; id=20261201T000000"`.
    pub STS_RECORD_MULTIPLE = ("STS001", "mta-sts-record-multiple", Severity::Error);

    /// The MTA-STS record is not valid.
    ///
    /// ## What it checks
    /// The `_mta-sts.<domain>` record must start with `v=STSv1` and carry an
    /// `id` of 1 to 32 letters and digits (RFC 8461 section 3.1), fields
    /// separated by `;`.
    ///
    /// ## Why it matters
    /// Senders ignore an invalid record, so the policy is never fetched. The
    /// `id` is what tells senders that the policy changed: without it they
    /// cannot know when to fetch it again.
    ///
    /// ## How to fix
    /// Publish `_mta-sts.example.org. TXT "v=STSv1; id=20261201T000000"`
    /// (any 1–32 letters and digits; a timestamp makes a good id). Change
    /// the id every time the policy file changes.
    pub STS_RECORD_INVALID = ("STS002", "mta-sts-record-invalid", Severity::Error);

    /// The MTA-STS policy cannot be fetched.
    ///
    /// ## What it checks
    /// Fetches `https://mta-sts.<domain>/.well-known/mta-sts.txt` (RFC 8461
    /// section 3.3): the host name must resolve, port 443 accept a
    /// connection, and the server answer HTTP within `[https] timeout`.
    ///
    /// ## Why it matters
    /// The record announces a policy that senders cannot get. A sender that
    /// has no cached policy delivers without MTA-STS; one with a cached
    /// policy keeps using it until `max_age` runs out, so a later change is
    /// never seen.
    ///
    /// ## How to fix
    /// Publish an A or AAAA record for `mta-sts.example.org` pointing at a
    /// web server that serves the policy over HTTPS, or remove the
    /// `_mta-sts` record if the domain should have no policy (after a
    /// `mode: none` policy has been served for `max_age`).
    pub STS_POLICY_UNREACHABLE = ("STS003", "mta-sts-policy-unreachable", Severity::Error);

    /// The certificate of the MTA-STS policy host has expired.
    ///
    /// ## What it checks
    /// The TLS certificate served by `mta-sts.<domain>` must be within its
    /// validity period.
    ///
    /// ## Why it matters
    /// Senders must refuse a policy from a host whose certificate does not
    /// validate (RFC 8461 section 3.3), so the policy is not applied and
    /// cannot be refreshed.
    ///
    /// ## How to fix
    /// Renew the certificate of `mta-sts.example.org` (automate it, e.g.
    /// with an ACME client) and reload the web server.
    pub STS_CERT_EXPIRED = ("STS004", "mta-sts-certificate-expired", Severity::Error);

    /// The certificate of the MTA-STS policy host is for another name.
    ///
    /// ## What it checks
    /// The TLS certificate served by `mta-sts.<domain>` must name that host
    /// (a subject alternative name, a wildcard covering it counts).
    ///
    /// ## Why it matters
    /// Senders refuse the policy: to them, another party answers for the
    /// domain. This often happens when the policy is put on a shared web
    /// server whose default certificate is for another site.
    ///
    /// ## How to fix
    /// Get a certificate that includes `mta-sts.example.org` and serve it for
    /// that name (a virtual host of its own).
    pub STS_CERT_NAME = ("STS005", "mta-sts-certificate-name-mismatch", Severity::Error);

    /// The certificate of the MTA-STS policy host is not trusted.
    ///
    /// ## What it checks
    /// The TLS certificate served by `mta-sts.<domain>` must chain to a
    /// public root CA (or to a CA of `[https] ca_bundle`).
    ///
    /// ## Why it matters
    /// Senders trust the public web CAs only: a self-signed or private
    /// certificate makes them refuse the policy.
    ///
    /// ## How to fix
    /// Use a certificate from a public CA and serve the intermediate
    /// certificates with it (the full chain).
    pub STS_CERT_UNTRUSTED = ("STS006", "mta-sts-certificate-untrusted", Severity::Error);

    /// The MTA-STS policy URL redirects.
    ///
    /// ## What it checks
    /// The policy URL must answer `200` itself: senders do not follow
    /// redirects (RFC 8461 section 3.3), and neither does this check.
    ///
    /// ## Why it matters
    /// A redirect (e.g. to `https://www.example.org/`) means senders get no
    /// policy at all.
    ///
    /// ## How to fix
    /// Serve the file at exactly `/.well-known/mta-sts.txt` on
    /// `mta-sts.example.org`, and exempt that path from the site-wide
    /// redirect rules.
    pub STS_POLICY_REDIRECT = ("STS007", "mta-sts-policy-redirect", Severity::Error);

    /// The MTA-STS policy URL answers with an HTTP error.
    ///
    /// ## What it checks
    /// The policy URL must answer `200 OK`.
    ///
    /// ## Why it matters
    /// Senders treat any other status as "no policy".
    ///
    /// ## How to fix
    /// Put the policy file at `/.well-known/mta-sts.txt` of the web root of
    /// `mta-sts.example.org` and check that it is readable by the server.
    pub STS_POLICY_HTTP_STATUS = ("STS008", "mta-sts-policy-http-error", Severity::Error);

    /// The MTA-STS policy is not served as `text/plain`.
    ///
    /// ## What it checks
    /// The `Content-Type` of the policy must be `text/plain` (RFC 8461
    /// section 3.2); parameters such as `charset=utf-8` are fine.
    ///
    /// ## Why it matters
    /// Senders may refuse the policy. Another type often means the server
    /// answered with an HTML page (a default site or an error page) instead
    /// of the file.
    ///
    /// ## How to fix
    /// Configure the web server to serve the file as `text/plain`, e.g. in
    /// nginx `location = /.well-known/mta-sts.txt { default_type text/plain; }`.
    pub STS_POLICY_CONTENT_TYPE = ("STS009", "mta-sts-policy-content-type", Severity::Error);

    /// The MTA-STS policy file is not valid.
    ///
    /// ## What it checks
    /// The policy (RFC 8461 section 3.2): lines of `key: value`;
    /// `version: STSv1`; `mode` one of `enforce`, `testing`, `none`; one
    /// `mx` line per MX host pattern (required unless `mode: none`), a name
    /// with an optional `*.` as the whole leftmost label; `max_age` in
    /// seconds. The body is capped at 64 KiB.
    ///
    /// ## Why it matters
    /// Senders discard a policy they cannot parse, so the domain has no
    /// MTA-STS protection even though it looks configured.
    ///
    /// ## How to fix
    /// Serve a policy like:
    /// `version: STSv1` / `mode: enforce` / `mx: mx1.example.org` /
    /// `mx: *.mail.example.net` / `max_age: 1209600`, one per line.
    pub STS_POLICY_INVALID = ("STS010", "mta-sts-policy-invalid", Severity::Error);

    /// The `max_age` of the MTA-STS policy is above the maximum.
    ///
    /// ## What it checks
    /// `max_age` must be at most 31,557,600 seconds (about one year, RFC
    /// 8461 section 3.2).
    ///
    /// ## Why it matters
    /// A sender may reject the policy or cap it; either way the domain does
    /// not get the protection it asked for.
    ///
    /// ## How to fix
    /// Use `max_age: 31557600` or less; `1209600` (two weeks) to `31557600`
    /// is usual for `enforce`.
    pub STS_MAX_AGE_RANGE = ("STS011", "mta-sts-max-age-out-of-range", Severity::Error);

    /// The `max_age` of the MTA-STS policy is short.
    ///
    /// ## What it checks
    /// Warns when `max_age` is below one day, or below one week in `enforce`
    /// mode.
    ///
    /// ## Why it matters
    /// MTA-STS protects a domain because senders remember its policy. A
    /// short `max_age` lets an attacker who blocks the policy fetch for a day
    /// strip the protection; RFC 8461 recommends values of weeks or more.
    ///
    /// ## How to fix
    /// Once the policy is stable, use `max_age: 1209600` (two weeks) or more;
    /// keep a short value only while testing.
    pub STS_MAX_AGE_SHORT = ("STS012", "mta-sts-max-age-short", Severity::Warning);

    /// An MX host of the domain is not covered by its MTA-STS policy.
    ///
    /// ## What it checks
    /// Every MX host of the domain must match an `mx` pattern of the policy
    /// (a name, or `*.` matching exactly one more label on the left).
    ///
    /// ## Why it matters
    /// In `enforce` mode senders refuse to deliver to an MX host the policy
    /// does not list: mail for that host bounces or is delayed. In `testing`
    /// mode the TLS reports will show the failures, and switching to
    /// `enforce` would break delivery.
    ///
    /// ## How to fix
    /// Add an `mx:` line for the host to the policy file, then change the
    /// `id` of the `_mta-sts` record so senders fetch it again.
    pub STS_MX_NOT_COVERED = ("STS013", "mta-sts-mx-not-covered", Severity::Error);

    /// The MTA-STS policy changed but the record's `id` did not.
    ///
    /// ## What it checks
    /// Compares the policy (mode, `max_age`, `mx` patterns) with the one
    /// seen at the last job, kept in the history under `mta-sts/`. When the
    /// policy changed and the `id` of `_mta-sts` is the same, senders that
    /// cached the old policy keep it until its `max_age` runs out. The
    /// finding stays until the `id` changes.
    ///
    /// ## Why it matters
    /// Senders only fetch the policy again when the `id` changes. A new MX
    /// host missing from the cached policy is refused by them in `enforce`
    /// mode.
    ///
    /// ## How to fix
    /// Change the `id`: `_mta-sts.example.org. TXT "v=STSv1; id=20261202T000000"`.
    pub STS_CHANGED_SAME_ID = ("STS014", "mta-sts-policy-changed-id-unchanged", Severity::Error);

    /// The MTA-STS policy has been in `testing` mode for a long time.
    ///
    /// ## What it checks
    /// Counts how long the policy has been in `mode: testing`, from the
    /// history of the jobs, and warns after `[checkers.mta-sts]
    /// testing_weeks` (4 by default). The finding says whether the TLS
    /// reports of the last 30 days show the domain ready for `enforce`:
    /// enough sessions, and a failure share at most `ready_failure_share`.
    ///
    /// ## Why it matters
    /// `testing` only asks senders to report: mail is still delivered
    /// without TLS to a forged MX. Like a DMARC policy left at `p=none`, a
    /// testing policy protects nothing.
    ///
    /// ## How to fix
    /// When the TLS reports show no failures, change `mode: testing` to
    /// `mode: enforce` in the policy file and change the record's `id`.
    pub STS_TESTING_STALLED = ("STS015", "mta-sts-testing-stalled", Severity::Warning);

    /// A lookup or fetch failed, so MTA-STS was not fully checked.
    ///
    /// ## What it checks
    /// Reported when a DNS lookup of this checker (the `_mta-sts` TXT, the
    /// MX records, the address of the policy host) fails with SERVFAIL or a
    /// timeout, or when the run has no HTTPS fetcher.
    ///
    /// ## Why it matters
    /// The result is unknown: a problem may be hidden.
    ///
    /// ## How to fix
    /// Check that the domain's name servers answer, then run
    /// `authwarden check <domain>` again.
    pub STS_CHECK_INCOMPLETE = ("STS016", "mta-sts-check-incomplete", Severity::Warning);

    /// The domain receives mail but publishes no MTA-STS policy.
    ///
    /// ## What it checks
    /// A domain with MX hosts (not a null MX) and no `_mta-sts` record.
    ///
    /// ## Why it matters
    /// Without MTA-STS (or DANE), a sender falls back to plain text when
    /// STARTTLS is stripped, and accepts any certificate: an attacker on
    /// the path can read or redirect the domain's inbound mail.
    ///
    /// ## How to fix
    /// Publish a TLS-RPT record first (`_smtp._tls.example.org. TXT
    /// "v=TLSRPTv1; rua=mailto:tls-reports@example.org"`), then a policy in
    /// `mode: testing` at `https://mta-sts.example.org/.well-known/mta-sts.txt`
    /// and `_mta-sts.example.org. TXT "v=STSv1; id=20261201T000000"`; move
    /// to `enforce` when the reports show no failures.
    pub STS_NOT_PUBLISHED = ("STS017", "mta-sts-not-published", Severity::Note);
}
