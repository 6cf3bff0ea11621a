//! The run history of authwarden, and the only crate that links polars.
//!
//! A run's findings and per-domain summary become polars frames
//! ([`findings_frame`], [`summary_frame`]), are appended to a
//! [`HistoryStore`] of Hive-partitioned Parquet files, are compared with the
//! previous run of the same job ([`compare`], [`annotate`]), are trended
//! over recent runs ([`trends`]) and can be exported ([`export`]). Each
//! domain's DMARC rollout phase over time, merged from every job's runs and
//! reduced to its changes, comes from [`rollout_history`].
//!
//! DMARC aggregate report rows ([`aggregate_frame`]) are kept beside them,
//! one file per report, deduplicated by (org_name, report_id)
//! ([`HistoryStore::append_aggregate`], [`HistoryStore::load_aggregate`]).
//!
//! SMTP TLS reports (RFC 8460) are kept in two flat datasets, `tls` (one
//! row per report and policy) and `tls_failures` (one row per failure
//! detail), deduplicated by (org_name, report_id) ([`HistoryStore::tls_batch`],
//! [`HistoryStore::tls_rows`]).
//!
//! The mail summary of a reporting period (messages by category, failing
//! and new sources, pass-rate series) is computed from those rows by
//! [`HistoryStore::mail_summary`] into plain structs ([`MailSummary`]).
//!
//! Other crates use the frames through the re-exported [`polars`] so that
//! they need not depend on it themselves.
#![deny(missing_docs)]

mod aggregate;
mod compact;
mod compare;
mod damage;
mod error;
mod export;
mod failures;
mod frames;
mod mail;
mod rollout;
mod run;
mod scan;
mod store;
mod tls;
mod trends;

pub use aggregate::{
    aggregate_date, aggregate_frame, aggregate_schema, AggregateAppend, AggregateBatch,
    ReportStart, ReportWriter, AGGREGATE_ROW_GROUP, PENDING_ROWS_MAX,
};
pub use compact::CompactSummary;
pub use compare::{annotate, compare, is_incomplete_marker, Comparison, FindingStatus, Status};
pub use damage::{
    DamagedFile, Dataset, ForgottenReport, QuarantinedFile, Repair, DAMAGED_DIR,
    TEMPORARY_FILE_MAX_AGE,
};
pub use error::{HistoryError, Result};
pub use export::{export, export_to_path, ExportFormat};
pub use failures::{failures_schema, FailureRow, FailureWrite, FailuresBatch};
pub use frames::{
    finding_key, findings_frame, findings_schema, summary_frame, summary_schema, DomainFacts,
};
pub use mail::{
    Bucket, DomainMail, FailingSource, MailQuery, MailSummary, NewSource, PassRatePoint,
    MAX_SPREAD_DAYS,
};
pub use rollout::{rollout_history, DomainRollout, PhaseChange};
pub use run::{covered_period, period_for, RunMeta, CHECK_JOB};
pub use scan::{aggregate_rows_of, SELECTOR_WINDOW_DAYS};
pub use store::HistoryStore;
pub use tls::{tls_failures_schema, tls_schema, TlsBatch, TlsWrite};
pub use trends::{trends, DomainTrend, TrendPoint};

/// Re-exported so that users of the frames share this crate's polars.
pub use polars;
