//! The finding codes of the tls-rpt checker; their doc comments are the
//! text `authwarden explain TLSRPTnnn` prints.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// The domain publishes MTA-STS or DANE but no TLS-RPT record.
    ///
    /// ## What it checks
    /// Looks up TXT at `_smtp._tls.<domain>` and keeps the strings that start
    /// with `v=TLSRPTv1` (RFC 8460 section 3). When there is none while
    /// `_mta-sts.<domain>` publishes a `v=STSv1` record, or while one of the
    /// domain's MX hosts (the first ten) publishes TLSA records at
    /// `_25._tcp.<mx host>` (DANE for SMTP, RFC 7672), this error is
    /// reported. (A domain with neither gets TLSRPT007, a note, instead.)
    /// The TLSA records are only looked for: whether they are signed with
    /// DNSSEC and match the certificates is not checked.
    ///
    /// ## Why it matters
    /// With MTA-STS or DANE, senders refuse to deliver over a connection that
    /// fails the policy: an expired certificate or a new MX host missing from the
    /// policy silently stops mail from those senders. TLS reports (RFC 8460)
    /// are the only way to learn about it from the senders' side; without a
    /// TLS-RPT record nobody sends them.
    ///
    /// ## How to fix
    /// Publish one record with an address that is read, e.g.
    /// `_smtp._tls.example.org. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"`,
    /// and let authwarden ingest the reports sent to it.
    pub TLSRPT_MISSING = ("TLSRPT001", "tls-rpt-missing", Severity::Error);

    /// The domain publishes more than one TLS-RPT record.
    ///
    /// ## What it checks
    /// Counts the TXT strings at `_smtp._tls.<domain>` that start with
    /// `v=TLSRPTv1`; there must be exactly one.
    ///
    /// ## Why it matters
    /// RFC 8460 section 3: when the number of records is not one, senders
    /// must assume that the domain does not implement TLS reporting, so no
    /// report is sent to any of the addresses.
    ///
    /// ## How to fix
    /// Merge the records into one, listing every address in one `rua`:
    /// `_smtp._tls.example.org. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://tlsrpt.example.org/v1"`,
    /// and delete the others.
    pub TLSRPT_MULTIPLE = ("TLSRPT002", "tls-rpt-multiple-records", Severity::Error);

    /// The TLS-RPT record does not follow the syntax of RFC 8460.
    ///
    /// ## What it checks
    /// The record must start with the field `v=TLSRPTv1`, followed by
    /// `;`-separated fields of the form `name=value`, exactly one of which is
    /// `rua=` with one or more comma-separated URIs. Unknown extension fields
    /// (`name=value` with a name of letters, digits, `_`, `-`, `.`) are
    /// allowed; empty fields (other than a final `;`), fields without `=`, a
    /// missing or repeated `rua` are errors.
    ///
    /// ## Why it matters
    /// Senders discard a record they cannot parse, so no TLS report is sent
    /// and transport failures go unnoticed.
    ///
    /// ## How to fix
    /// Publish the record in the form
    /// `_smtp._tls.example.org. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"`:
    /// the version first, one `rua` field, fields separated by `;`.
    pub TLSRPT_SYNTAX = ("TLSRPT003", "tls-rpt-syntax-error", Severity::Error);

    /// A `rua` URI of the TLS-RPT record is not a valid `mailto:` or `https:` URI.
    ///
    /// ## What it checks
    /// Each URI of `rua=` must be either `mailto:` with a valid mail address
    /// (`local@domain`, the domain a host name with at least two labels) or
    /// `https://` with a valid host name (optionally a port and a path).
    /// Other schemes (`http:`, `ftp:`, ...) and malformed addresses are
    /// reported, one finding per bad URI.
    ///
    /// ## Why it matters
    /// RFC 8460 section 3 defines only the `mailto` and `https` schemes:
    /// senders cannot deliver reports anywhere else, and a malformed address
    /// bounces every report.
    ///
    /// ## How to fix
    /// Replace the URI with one that works, e.g.
    /// `rua=mailto:tlsrpt@example.org` or `rua=https://tlsrpt.example.org/v1`
    /// (note `https://`, not `http://`).
    pub TLSRPT_BAD_URI = ("TLSRPT004", "tls-rpt-bad-rua-uri", Severity::Error);

    /// The TLS reports show a share of failed sessions above the threshold.
    ///
    /// ## What it checks
    /// Sums, over the ingested SMTP TLS reports (RFC 8460) for the domain of
    /// the checked period (the period the job reports on; the last 30 days
    /// for `authwarden check`), the successful and failed sessions per policy
    /// type (`sts`, `tlsa`, `no-policy-found`). When the failed share of a
    /// policy type is above `[checkers.tls-rpt] failure_share_warn` (default
    /// 0.05, i.e. 5 %), this warning names the policy type, the share, the
    /// session counts and the most frequent failure result types.
    ///
    /// ## Why it matters
    /// Each failed session is mail a sender could not deliver securely: with
    /// an MTA-STS `enforce` policy or DANE it was not delivered at all, with
    /// `testing` it went over an unverified connection. The result types say
    /// why: `certificate-expired`, `certificate-host-mismatch`,
    /// `starttls-not-supported`, `sts-policy-fetch-error`, ...
    ///
    /// ## How to fix
    /// Act on the top result type: renew the certificate of the MX hosts
    /// (`certificate-expired`), add the MX host to the certificate's names
    /// (`certificate-host-mismatch`), add every MX host to the policy's `mx:`
    /// lines (`validation-failure`), make
    /// `https://mta-sts.example.org/.well-known/mta-sts.txt` reachable
    /// (`sts-policy-fetch-error`), or publish matching TLSA records
    /// (`tlsa-invalid`, `dane-required`).
    pub TLSRPT_FAILURE_SHARE = ("TLSRPT005", "tls-rpt-failure-share-high", Severity::Warning);

    /// A DNS lookup failed, so TLS-RPT was not checked for the domain.
    ///
    /// ## What it checks
    /// Reported when the TXT lookup of `_smtp._tls.<domain>` (or, when no
    /// record is published, of `_mta-sts.<domain>`) fails with SERVFAIL, a
    /// timeout or a refusal instead of an answer. No other TLS-RPT finding is
    /// reported for the domain then.
    ///
    /// ## Why it matters
    /// The result is unknown: the record may be missing or broken, and
    /// senders whose lookups fail the same way send no reports either.
    ///
    /// ## How to fix
    /// Check that the domain's name servers answer for
    /// `_smtp._tls.example.org` (`dig TXT _smtp._tls.example.org`), then run
    /// `authwarden check example.org` again.
    pub TLSRPT_CHECK_INCOMPLETE = ("TLSRPT006", "tls-rpt-check-incomplete", Severity::Warning);

    /// The domain receives mail but publishes no TLS-RPT record (and no MTA-STS or DANE).
    ///
    /// ## What it checks
    /// For a domain with at least one MX record other than the null MX
    /// (`MX 0 .`), without an MTA-STS record and without TLSA records for
    /// its MX hosts, reports that there is no
    /// `v=TLSRPTv1` record at `_smtp._tls.<domain>`. Domains that receive no
    /// mail (no MX, or a null MX) get nothing; when the MX lookup fails the
    /// note is left out.
    ///
    /// ## Why it matters
    /// Without MTA-STS or DANE, senders deliver over an unverified or
    /// plain-text connection when TLS fails, so nothing breaks, but TLS
    /// reports still show which senders fail to negotiate TLS and are the
    /// first step before publishing MTA-STS in `testing` mode.
    ///
    /// ## How to fix
    /// Publish `_smtp._tls.example.org. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example.org"`,
    /// or set `[levels] TLSRPT007 = "allow"` if you do not want the reports.
    pub TLSRPT_NOT_PUBLISHED = ("TLSRPT007", "tls-rpt-not-published", Severity::Note);
}
