//! DMARC aggregate reports: a streaming parser and the ingest of files.
//!
//! - [`parse_report`] / [`parse_report_with`]: quick-xml events straight into
//!   typed records, never a DOM; the callback form keeps memory constant
//!   however many records a report has. RFC 7489, RFC 9990 (DMARCbis) and the
//!   old draft schema; tolerant of what real reporters send.
//! - [`open_payload`] / [`open_path`]: sniff XML, gzip (also nested), zip
//!   (every member), `.eml` and mbox by their bytes, and hand out payloads
//!   that decompress as a stream.
//! - [`ingest_paths`]: files and folders (Maildir included) into reports and
//!   one error per broken input, deduplicated by (org_name, report_id).
//! - [`Classifier`]: DMARC alignment computed from `auth_results`, then a
//!   [`Category`] (pass / partial / fail), a [`Cause`], the known service
//!   from the provider [`Catalog`] (`providers.toml`) and a suggested action;
//!   [`report_rows`] flattens a report into classified [`AggregateRow`]s.
//! - [`AggregateSource`]: the rows of the history per domain and period, as
//!   a service that the host adds to a run ([`AggregateSourceExt`]), so that
//!   checkers read them without linking polars.
//!
//! Hostile input is expected: DOCTYPEs and custom entities are refused,
//! and [`Limits`] caps decompressed size, nesting, record count and the
//! length of any one text node, so bombs end in an error with memory bounded.
#![deny(missing_docs)]

mod classify;
mod error;
mod ingest;
mod limited;
mod parse;
mod payload;
mod rdns;
mod rows;
mod source;
mod types;

pub use classify::{
    provider_id, Catalog, CatalogError, Category, Cause, Classification, Classifier, Provider,
    ProviderKind,
};

pub use error::ReportError;
pub use ingest::{ingest_paths, visit_payloads, IngestResult, Visit};
pub use parse::{parse_report, parse_report_with};
pub use payload::{open_path, open_payload, Payload, PayloadKind};
pub use rdns::{
    parse_source_ip, ptr_query_name, resolve_ptrs, PtrCache, PtrCacheError, PtrCounts, PtrEntry,
    DEFAULT_PTR_CONCURRENCY, PTR_NEGATIVE_TTL, PTR_POSITIVE_TTL,
};
pub use rows::{report_rows, AggregateRow};
pub use source::{AggregateSource, AggregateSourceExt, StaticSource};
pub use types::*;

/// Caps against hostile or broken input. The defaults suit real reports: the
/// largest seen in the wild are tens of MB uncompressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Maximum decompressed XML bytes of one report (default 100 MiB).
    pub max_decompressed_bytes: u64,
    /// Maximum size of an input file or container held in memory: zip
    /// archives, mail messages and mbox files (default 100 MiB).
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
        }
    }
}
