//! The scheduler's error type.

use std::io;
use std::path::PathBuf;

use authwarden_api::Cadence;

/// Why a scheduler operation could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// A cron expression that the `cron` crate rejects.
    #[error(
        "invalid cron expression `{expr}`: {reason}; expected 6 or 7 fields \
         `sec min hour day-of-month month day-of-week [year]`, e.g. `0 0 6 1 * *` \
         for 06:00 on the 1st of each month"
    )]
    InvalidCron {
        /// The expression as given.
        expr: String,
        /// What the parser said.
        reason: String,
    },

    /// The state file exists but cannot be read.
    #[error("cannot read state file `{}`: {source}", path.display())]
    StateRead {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// The state file is not the JSON this crate writes.
    #[error(
        "state file `{}` is corrupt: {source}; fix or delete it \
         (without it no missed run is caught up)",
        path.display()
    )]
    StateCorrupt {
        /// The state file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },

    /// The state file (or its temporary sibling) cannot be written.
    #[error("cannot write state file `{}`: {source}", path.display())]
    StateWrite {
        /// The state file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// Another process (or another [`crate::JobLock`] in this one) runs the job.
    #[error("job `{job}` is already running: its lock is held by {holder}")]
    Locked {
        /// The job name.
        job: String,
        /// Who holds the lock, e.g. `pid 4242 since 2026-12-01T06:00:00+00:00`.
        holder: String,
    },

    /// The lock file cannot be created, opened or locked.
    #[error("cannot take lock `{}`: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },

    /// A job name that cannot be used as a lock file name.
    #[error("invalid job name `{0}`: use letters, digits, `-` and `_` only")]
    InvalidJobName(String),

    /// The daemon was given the same job twice.
    #[error("job `{0}` is listed twice for the daemon")]
    DuplicateJob(Cadence),
}
