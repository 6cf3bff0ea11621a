//! The `dmarc-policy` checker of authwarden.
//!
//! [`DmarcPolicy`] looks up a domain's DMARC record (falling back to the
//! organizational domain's, RFC 7489 section 6.6.3), parses it, and reports
//! missing or duplicate records, syntax errors with did-you-mean fixes, weak
//! or partial policies, and report destinations that cannot receive reports.
//! Every finding's help names the exact record to publish, built from the
//! current one. Its facts (`dmarc` key) describe the policy and rollout phase.
//!
//! The parser, discovery and the rollout phase live in the domain library
//! [`authwarden_dmarc`], which every checker reading DMARC uses; its
//! modules and types are re-exported here under their former paths
//! ([`record`], [`discovery`], [`parse_record`], [`discover`], ...).
#![deny(missing_docs)]

mod checker;
pub mod codes;

pub use authwarden_dmarc::{discovery, record};
pub use checker::{DmarcPolicy, CHECKER_ID};
pub use codes::CODES;
pub use discovery::{discover, Discovery, DiscoveryOutcome, FoundRecord, RecordSource};
pub use record::{
    is_dmarc_record, parse_record, parse_record_bytes, Alignment, DmarcRecord, FailureOption,
    IssueKind, ParsedRecord, Policy, PsdFlag, ReportFormat, ReportUri, SyntaxIssue,
};
