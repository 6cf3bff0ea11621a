//! SMTP TLS report (RFC 8460) results as checkers read them: one
//! [`TlsPolicyRow`] per `policies[]` entry of a report, with its failure
//! counts, and the [`TlsReportSource`] service that serves them per policy
//! domain and period.
//!
//! The report intake parses the JSON and the history keeps the rows; the host
//! adds a source over them to the run's extensions as [`TlsReportSourceExt`].
//! Checkers that judge transport security from what senders saw (an MTA-STS
//! policy ready for `enforce`, a failure share above a threshold) read it
//! here, without linking the parser or the history.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One policy of one TLS report, with the sessions it counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsPolicyRow {
    /// The reporting organisation (`organization-name`).
    pub org_name: String,
    /// The reporter's `report-id`.
    pub report_id: String,
    /// The file (or `file#member`) the report came from.
    pub source: String,
    /// Start of the reporting period (`date-range.start-datetime`), Unix seconds.
    pub begin: i64,
    /// End of the reporting period, Unix seconds.
    pub end: i64,
    /// `policy-domain`, lower-case, without a trailing dot.
    pub policy_domain: String,
    /// `policy-type`: `sts`, `tlsa` or `no-policy-found`.
    pub policy_type: String,
    /// `mx-host` patterns of the policy, as reported (may be empty).
    pub mx_hosts: Vec<String>,
    /// `total-successful-session-count`.
    pub successful: u64,
    /// `total-failure-session-count`.
    pub failed: u64,
    /// `failure-details`, one entry per reported group.
    pub failures: Vec<TlsFailure>,
    /// How the mail message that carried the report authenticated; `None`
    /// in rows written before authwarden checked it.
    pub auth: Option<crate::reports::ReportAuth>,
}

/// One `failure-details` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsFailure {
    /// `result-type`, e.g. `starttls-not-supported`, `certificate-expired`,
    /// `sts-policy-fetch-error`.
    pub result_type: String,
    /// `receiving-mx-hostname`, lower-case, without a trailing dot.
    pub receiving_mx_hostname: Option<String>,
    /// `sending-mta-ip`.
    pub sending_mta_ip: Option<String>,
    /// `receiving-ip`.
    pub receiving_ip: Option<String>,
    /// `failed-session-count`.
    pub count: u64,
}

/// Serves TLS report rows per policy domain.
pub trait TlsReportSource: Send + Sync {
    /// The rows whose `policy_domain` is `domain` and whose period starts in
    /// `[since, until)`.
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<TlsPolicyRow>;
}

/// The [`TlsReportSource`] of a run, as stored in [`crate::Extensions`].
/// Absent when the run has no history of TLS reports to read.
#[derive(Clone)]
pub struct TlsReportSourceExt(pub Arc<dyn TlsReportSource>);

impl std::fmt::Debug for TlsReportSourceExt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsReportSourceExt(..)")
    }
}

/// A [`TlsReportSource`] over rows held in memory: for tests, and for a host
/// that has already loaded its rows.
#[derive(Debug, Clone, Default)]
pub struct StaticTlsSource {
    rows: Vec<TlsPolicyRow>,
}

impl StaticTlsSource {
    /// A source over these rows.
    pub fn new(rows: Vec<TlsPolicyRow>) -> Self {
        StaticTlsSource { rows }
    }
}

impl TlsReportSource for StaticTlsSource {
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<TlsPolicyRow> {
        let domain = crate::dns::normalize_name(domain);
        self.rows
            .iter()
            .filter(|r| {
                r.policy_domain == domain
                    && r.begin >= since.timestamp()
                    && r.begin < until.timestamp()
            })
            .cloned()
            .collect()
    }
}
