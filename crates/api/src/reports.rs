//! Aggregate report rows as checkers read them: the flat [`AggregateRow`]
//! (one per `<record>` of a report, with its classification) and the
//! [`AggregateSource`] service that serves them per domain and period.
//!
//! Checkers that compare DNS with who actually sends (inventory drift,
//! rollout readiness) read the rows through [`AggregateSource`], which the
//! host implements over the history (Parquet, polars) and adds to the run's
//! extensions as [`AggregateSourceExt`]. The types live here, in the checker
//! API, so that a checker links neither the report parser (quick-xml) nor the
//! history (polars); the report intake crate builds the rows.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One record of one report, flattened, with its classification. Multi-valued
/// `auth_results` fields are joined with `;` in document order, so that the
/// n-th DKIM domain, selector and result belong together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AggregateRow {
    /// The reporting organisation.
    pub org_name: String,
    /// The reporter's report id.
    pub report_id: String,
    /// The file (or `file#member`) the report came from.
    pub source: String,
    /// Start of the reporting period, Unix seconds.
    pub begin: i64,
    /// End of the reporting period, Unix seconds.
    pub end: i64,
    /// The domain of `policy_published`.
    pub domain: String,
    /// Published `adkim` (`r`, `s`).
    pub adkim: Option<String>,
    /// Published `aspf` (`r`, `s`).
    pub aspf: Option<String>,
    /// Published `p`.
    pub p: Option<String>,
    /// Published `sp`.
    pub sp: Option<String>,
    /// Published `pct`.
    pub pct: Option<u8>,
    /// Published `np` (RFC 9990), the policy for non-existent subdomains.
    pub np: Option<String>,
    /// Published `testing` (RFC 9990, the `t` tag): `y` or `n`.
    pub testing: Option<String>,
    /// How the reporter discovered the policy (RFC 9990): `psl` or
    /// `treewalk`.
    pub discovery_method: Option<String>,
    /// The software that made the report (RFC 9990 `generator`).
    pub generator: Option<String>,
    /// The sending IP as reported.
    pub source_ip: String,
    /// Number of messages.
    pub count: u64,
    /// The applied disposition.
    pub disposition: Option<String>,
    /// The reporter's DMARC verdict for DKIM.
    pub dmarc_dkim: Option<String>,
    /// The reporter's DMARC verdict for SPF.
    pub dmarc_spf: Option<String>,
    /// Override reasons as `type` or `type: comment`, joined with `;`.
    pub reasons: Option<String>,
    /// RFC5322.From domain.
    pub header_from: String,
    /// RFC5321.MailFrom domain.
    pub envelope_from: Option<String>,
    /// RFC5321.RcptTo domain.
    pub envelope_to: Option<String>,
    /// DKIM `d=` domains.
    pub dkim_domains: Option<String>,
    /// DKIM selectors (empty where none was reported).
    pub dkim_selectors: Option<String>,
    /// DKIM results.
    pub dkim_results: Option<String>,
    /// SPF domains.
    pub spf_domains: Option<String>,
    /// SPF results.
    pub spf_results: Option<String>,
    /// Our DKIM alignment.
    pub dkim_aligned: bool,
    /// Our SPF alignment.
    pub spf_aligned: bool,
    /// The reporter's verdicts match ours.
    pub reporter_agrees: bool,
    /// `pass`, `partial` or `fail`.
    pub category: String,
    /// The cause code, e.g. `unknown-source`.
    pub cause: String,
    /// The known service, by name.
    pub provider: Option<String>,
    /// The suggested action.
    pub action: String,
    /// Whether the mail message that carried the report was authenticated
    /// by the reporter's domain: one of the [`report_auth`] values; `None`
    /// in rows written before authwarden checked it.
    pub report_auth: Option<String>,
    /// The `From` domain of the message that carried the report.
    pub report_from: Option<String>,
    /// What the check found, in words (the signature that passed, or why
    /// none did).
    pub report_auth_detail: Option<String>,
}

/// The values of [`AggregateRow::report_auth`] (and of the TLS and failure
/// report datasets' `report_auth` column): how the mail message that
/// carried a report authenticated. RFC 9990 (section 4.5) asks that a report
/// message pass DMARC for the reporter's domain, and warns that reports can
/// be forged.
pub mod report_auth {
    /// The message's `From` domain is the reporter's (same organizational
    /// domain) and it passed: a From-aligned DKIM signature verified, or SPF
    /// passed for an aligned envelope sender.
    pub const AUTHENTICATED: &str = "authenticated";
    /// It did not: no aligned signature or SPF pass, or a `From` domain that
    /// is not the reporter's.
    pub const NOT_AUTHENTICATED: &str = "not-authenticated";
    /// A DNS failure left the check without a verdict (a key not fetched).
    pub const INCOMPLETE: &str = "incomplete";
    /// The report was a file, not a mail message: nothing to check.
    pub const NOT_MAIL: &str = "not-mail";
}

/// The authentication of the message that carried one report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReportAuth {
    /// One of the [`report_auth`] values.
    pub status: String,
    /// The message's `From` domain.
    pub from: Option<String>,
    /// What was found, in words.
    pub detail: Option<String>,
}

impl ReportAuth {
    /// A report that came as a file.
    pub fn not_mail() -> ReportAuth {
        ReportAuth {
            status: report_auth::NOT_MAIL.into(),
            from: None,
            detail: None,
        }
    }

    /// The report was authenticated by its reporter.
    pub fn is_authenticated(&self) -> bool {
        self.status == report_auth::AUTHENTICATED
    }
}

impl AggregateRow {
    /// Records `auth` in the row's `report_*` fields.
    pub fn set_report_auth(&mut self, auth: &ReportAuth) {
        self.report_auth = Some(auth.status.clone());
        self.report_from = auth.from.clone();
        self.report_auth_detail = auth.detail.clone();
    }
}

/// What a classification adds to a record to make its row: implemented by
/// the report intake crate for its classification type over its report
/// types (`M` the report metadata, `P` the published policy, `R` the
/// record), so that [`AggregateRow::new`] keeps one call shape while the row
/// type lives here, free of the parser.
pub trait RowClassification<M: ?Sized, P: ?Sized, R: ?Sized> {
    /// The row of `record`, from the report with this metadata and policy,
    /// read from `source`, classified as `self`.
    fn into_row(self, source: &str, metadata: &M, policy: &P, record: &R) -> AggregateRow;
}

impl AggregateRow {
    /// The row of `record`, from the report with this metadata and policy,
    /// read from `source`, classified as `class`.
    pub fn new<M: ?Sized, P: ?Sized, R: ?Sized, C: RowClassification<M, P, R>>(
        source: &str,
        metadata: &M,
        policy: &P,
        record: &R,
        class: C,
    ) -> AggregateRow {
        class.into_row(source, metadata, policy, record)
    }
}

/// The aggregate report rows of the history, per domain and period.
///
/// ```
/// use std::sync::Arc;
/// use authwarden_api::reports::{AggregateRow, AggregateSource, AggregateSourceExt, StaticSource};
/// use authwarden_api::Extensions;
///
/// let mut ext = Extensions::default();
/// ext.insert(Arc::new(AggregateSourceExt(Arc::new(StaticSource::new(Vec::new())))));
/// let source = ext.get::<AggregateSourceExt>().unwrap();
/// assert!(source.0.rows("example.org", chrono::DateTime::UNIX_EPOCH, chrono::Utc::now()).is_empty());
/// ```
pub trait AggregateSource: Send + Sync {
    /// The rows of reports about `domain` (the `policy_published` domain,
    /// lower-case, no trailing dot) whose reporting period begins at or
    /// after `since` and before `until`, in any order.
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<AggregateRow>;

    /// The policies the reports about `domain` in `[since, until)` say
    /// were published: one entry per distinct (`begin`, `p`, `pct`) of
    /// their rows, in any order. A checker that needs only the policy over
    /// a long window (the rollout advisor's phase start, a year back) asks
    /// for this instead of every row, so its memory follows the number of
    /// reports, not of rows. The default derives it from
    /// [`AggregateSource::rows`]; a host over a columnar history reads the
    /// three columns alone.
    fn published_policies(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<PublishedPolicy> {
        let mut out: Vec<PublishedPolicy> = self
            .rows(domain, since, until)
            .into_iter()
            .map(|r| PublishedPolicy {
                begin: r.begin,
                p: r.p,
                pct: r.pct,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// The policy a report says was published (its `policy_published`), as
/// [`AggregateSource::published_policies`] gives it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublishedPolicy {
    /// Start of the report's period, seconds since the Unix epoch.
    pub begin: i64,
    /// Published `p`, as written in the report.
    pub p: Option<String>,
    /// Published `pct`.
    pub pct: Option<u8>,
}

/// The [`AggregateSource`] of a run, as stored in
/// [`crate::Extensions`] (which looks services up by concrete type,
/// so the trait object is wrapped in this struct). Absent when the run has
/// no history of aggregate reports to read.
#[derive(Clone)]
pub struct AggregateSourceExt(pub Arc<dyn AggregateSource>);

impl std::fmt::Debug for AggregateSourceExt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AggregateSourceExt(..)")
    }
}

/// An [`AggregateSource`] over rows held in memory: for tests, and for a
/// host that has already loaded its rows.
#[derive(Debug, Clone, Default)]
pub struct StaticSource {
    rows: Vec<AggregateRow>,
}

impl StaticSource {
    /// A source serving `rows`.
    pub fn new(rows: Vec<AggregateRow>) -> Self {
        StaticSource { rows }
    }
}

impl AggregateSource for StaticSource {
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<AggregateRow> {
        let domain = crate::domain::normalize_name(domain);
        let (since, until) = (since.timestamp(), until.timestamp());
        self.rows
            .iter()
            .filter(|r| {
                crate::domain::normalize_name(&r.domain) == domain
                    && r.begin >= since
                    && r.begin < until
            })
            .cloned()
            .collect()
    }
}
