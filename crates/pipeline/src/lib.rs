//! A job run of authwarden end to end, as a library: what `authwarden run`,
//! the daemon, `check`, `ingest` and custom binaries share.
//!
//! The stages, in the one direction data flows:
//!
//! 1. [`intake`]: DMARC aggregate reports from `[ingest] folders` and the
//!    `[imap]` mailbox (with reverse DNS of their sources) into the history;
//! 2. [`setup`]: the resolver and the run context, built in one place for
//!    `check` and every job, with the services over the history that
//!    checkers read ([`report_rows`]);
//! 3. the checks (the engine runs the registry's checkers);
//! 4. [`job`]: the findings frame and the history, the report context,
//!    rendering, the report files and the outbox message;
//! 5. [`delivery`]: SMTP settings and the outbox flush.
//!
//! Progress is reported through [`Progress`]; the command line draws it.
#![deny(missing_docs)]

pub mod assess;
pub mod authtest;
pub mod delivery;
pub mod failures;
pub mod intake;
pub mod job;
pub mod plan;
pub mod register;
pub mod report_auth;
pub mod report_rows;
pub mod setup;
pub mod shard;
pub mod tls;

pub use delivery::{flush_outbox, smtp_settings};
pub use job::{run_job, run_job_for_period, JobResult};
pub use setup::{known, resolver, run_context, RunKind};

/// Progress of a run's checks, for a progress bar or a log. Every method
/// has an empty default: [`NoProgress`] reports nothing.
pub trait Progress: Send + Sync {
    /// The checks start: `total` (domain, checker) pairs.
    fn checks_started(&self, _total: usize) {}
    /// One (domain, checker) pair is done.
    fn check_done(&self) {}
    /// Every check is done.
    fn checks_finished(&self) {}
}

/// Reports no progress.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
