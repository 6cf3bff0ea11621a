//! The checker API of authwarden.
//!
//! Every checker crate depends on this crate and on nothing heavy: it holds the
//! [`Checker`] trait, the [`Finding`] type with its [`Severity`], the stable
//! finding codes ([`CodeInfo`], declared with [`declare_codes!`]), the job
//! [`Cadence`], the [`CheckContext`] a checker runs in, and the DNS
//! [`Resolver`] trait that the `authwarden-dns` crate implements, and the
//! aggregate report rows a checker may read ([`reports`]).
#![deny(missing_docs)]

pub mod authtest;
mod checker;
mod clock;
mod codes;
pub mod dns;
pub mod domain;
mod finding;
pub mod fsutil;
pub mod https;
pub mod names;
pub mod plan;
pub mod reports;
pub mod score;
pub mod starttls;
pub mod text;
pub mod tls_reports;

pub use checker::{
    generic_report_facts, parse_duration_setting, Cadence, CheckContext, CheckOutput, Checker,
    CheckerInfo, DomainTarget, Extensions, ReportFact, RunPaths, SettingKey, SettingKind,
    SettingsSpec,
};
pub use clock::{Clock, FixedClock, SystemClock};
pub use codes::{CodeDocs, CodeInfo};
pub use dns::{DnsAnswer, DnsFailure, DnsOutcome, Rdata, RecordType, Resolver};
pub use finding::{Finding, Level, Severity};

/// Re-exported so that checker crates use the same versions as the host.
pub use async_trait::async_trait;
pub use serde_json;
