//! DMARC aggregate reports: a streaming parser and the ingest of files.
//!
//! - [`parse_report`] / [`parse_report_with`]: quick-xml events straight into
//!   typed records, never a DOM; the callback form keeps memory constant
//!   however many records a report has. RFC 7489, RFC 9990 (DMARCbis) and the
//!   old draft schema; tolerant of what real reporters send.
//! - [`stream_path`] / [`stream_payload`] (and [`open_path`] /
//!   [`open_payload`], which collect): sniff XML, gzip (also nested), zip
//!   (every member), `.eml` and mbox by their bytes, and hand out payloads
//!   that decompress as a stream, one member at a time.
//! - [`visit_payloads`] / [`ingest_paths`]: files and folders (Maildir
//!   included) on all cores, one error per broken input, deduplicated by
//!   (org_name, report_id); [`visit_payloads_skipping`] with
//!   [`FailedInputs`] does not read again, run after run, a file that
//!   failed and has not changed since.
//! - [`Classifier`]: DMARC alignment computed from `auth_results`, then a
//!   [`Category`] (pass / partial / fail), a [`Cause`], the known service
//!   from the provider [`Catalog`] (the `authwarden-catalog` crate) and a suggested action;
//!   [`report_rows`] flattens a report into classified [`AggregateRow`]s.
//! - [`AggregateSource`]: the rows of the history per domain and period, as
//!   a service that the host adds to a run ([`AggregateSourceExt`]), so that
//!   checkers read them without linking polars. It and [`AggregateRow`] are
//!   defined in `authwarden_api::reports` and re-exported here.
//!
//! - SMTP TLS reports (RFC 8460): [`parse_tls_report`] /
//!   [`parse_tls_report_with`] read the JSON with the same caps, policy by
//!   policy; the containers above hand them out like aggregate reports
//!   (plain, gzip, `application/tlsrpt+gzip` / `+json` attachments and
//!   bodies), and [`Payload::is_tls_report`] tells them apart.
//!
//! - DMARC failure reports (RFC 6591 ARF, `Feedback-Type: auth-failure`):
//!   [`parse_failure_report`] keeps the metadata of one report message,
//!   never the reported message's body, subject or other headers; the
//!   containers above hand out a `multipart/report; report-type=feedback-report`
//!   message whole, and [`Payload::is_failure_report`] tells it apart.
//!
//! Hostile input is expected: DOCTYPEs and custom entities are refused,
//! and [`Limits`] caps decompressed size, nesting, record count and the
//! length of any one text node, so bombs end in an error with memory bounded.
//!
//! What memory is bounded by: containers are streamed, so one input file
//! costs at most about three times [`Limits::max_input_bytes`] (a mail
//! message, its decoded attachments and the inner containers held at once,
//! counted across nesting layers and capped at twice `max_input_bytes`),
//! plus 64 KiB per open decoding layer, whatever the number of members;
//! inner containers over 4 MiB are spooled to anonymous temporary files
//! (see the payload module). What work is bounded by: per input file,
//! [`Limits::max_work_bytes`] decompressed across all members and layers
//! and [`Limits::max_work_time`] of reading. Report content is checked as
//! it is read: a record whose `source_ip` is not an IP address is refused
//! and counted in [`ReportHeader::rejected`]; a report whose `date_range`
//! lies outside 1970–2100 (or ends before it begins), or whose published
//! domain is not a plausible domain name, is refused; names from inside
//! containers and content quoted in errors are escaped ([`display_safe`]).
#![deny(missing_docs)]

mod arf;
mod budget;
mod classify;
mod error;
mod failed;
mod ingest;
mod label;
mod limited;
mod parse;
mod payload;
mod rdns;
mod rows;
mod tlsrpt;
mod types;

pub use arf::{
    is_feedback_report_message, parse_failure_report, ArfOutcome, FailureReport, RCPT_HASH_HEX,
};
/// The provider catalog lives in its own crate, which checkers read too;
/// re-exported for the hosts that classify with it.
pub use authwarden_catalog::{provider_id, Catalog, CatalogError, Provider, ProviderKind};
pub use classify::{Category, Cause, Classification, Classifier};

/// The row and source types live in the checker API so that checkers need
/// not link this crate; re-exported for the hosts that use both.
pub use authwarden_api::reports::{
    AggregateRow, AggregateSource, AggregateSourceExt, RowClassification, StaticSource,
};
/// The TLS report rows and their source live in the checker API, like the
/// aggregate ones; re-exported for the hosts.
pub use authwarden_api::tls_reports::{
    StaticTlsSource, TlsFailure, TlsPolicyRow, TlsReportSource, TlsReportSourceExt,
};
pub use error::ReportError;
pub use failed::{FailedInput, FailedInputs, FailedInputsError, MAX_FAILED_INPUTS};
pub use ingest::{ingest_paths, visit_payloads, visit_payloads_skipping, IngestResult, Visit};
pub use label::{display_safe, is_unsafe_char, MAX_NAME_CHARS};
pub use parse::{parse_report, parse_report_with};
pub use payload::{
    open_path, open_payload, stream_path, stream_payload, Carrier, Payload, PayloadKind,
    SPOOL_ABOVE,
};
pub use rdns::{
    parse_source_ip, ptr_query_name, resolve_ptrs, PtrCache, PtrCacheError, PtrCounts, PtrEntry,
    DEFAULT_PTR_CONCURRENCY, PTR_NEGATIVE_TTL, PTR_POSITIVE_TTL,
};
pub use rows::report_rows;
pub use tlsrpt::{
    looks_like_json, mentions_tls_keys, parse_tls_report, parse_tls_report_with, tls_policy_row,
    TlsFailureDetail, TlsPolicy, TlsReport, TlsReportHeader, MAX_TLS_COUNT,
};
pub use types::*;

/// Caps against hostile or broken input. The defaults suit real reports: the
/// largest seen in the wild are tens of MB uncompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum decompressed XML bytes of one report (default 100 MiB).
    pub max_decompressed_bytes: u64,
    /// Maximum size of a container: a mail message (also one message of an
    /// mbox), an inner zip or other container decoded before it is
    /// expanded, bytes given to [`open_payload`] (default 100 MiB). One
    /// input file holds at most twice this in memory at once.
    pub max_input_bytes: u64,
    /// Maximum element nesting depth (default 32; a report needs 5).
    pub max_depth: usize,
    /// Maximum records per report (default 10 million).
    pub max_records: u64,
    /// Maximum bytes of one text node, tag or comment (default 1 MiB).
    pub max_text_bytes: usize,
    /// Maximum layers of containers inside each other: gzip in gzip, zip in
    /// mail, and so on (default 4).
    pub max_nesting: usize,
    /// Maximum members taken from one zip archive or attachments from one
    /// message (default 1000).
    pub max_members: usize,
    /// The work budget of one input file: bytes decompressed across all
    /// its members and all layers (gzip in zip in mail…), every decoder's
    /// output counted (default 1 GiB, ten of the largest real reports).
    /// When it runs out, the rest of the file is not read
    /// ([`ReportError::WorkBytes`]).
    pub max_work_bytes: u64,
    /// The time budget of one input file: the time spent expanding its
    /// containers and reading its payloads' streams, not what a handler
    /// does between streams (default 60 s; real reports take well under a
    /// second). When it runs out, the rest of the file is not read
    /// ([`ReportError::WorkTime`]).
    pub max_work_time: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 100 * 1024 * 1024,
            max_input_bytes: 100 * 1024 * 1024,
            max_depth: 32,
            max_records: 10_000_000,
            max_text_bytes: 1024 * 1024,
            max_nesting: 4,
            max_members: 1000,
            max_work_bytes: 1024 * 1024 * 1024,
            max_work_time: std::time::Duration::from_secs(60),
        }
    }
}
