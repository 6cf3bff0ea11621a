//! When authwarden's jobs run: cron schedules evaluated in the configured time
//! zone, the state file that remembers the last completed run of each job, the
//! per-job lock shared by the daemon and manual `authwarden run`, and the daemon
//! loop itself.
//!
//! - [`schedule`]: [`default_cron`], [`parse_cron`], [`next_fire`] and
//!   [`missed_run`], including what happens at DST transitions.
//! - [`state`]: [`StateFile`] and [`State`] (`reports/state/schedule.json`).
//! - [`lock`]: [`JobLock`], an exclusive `flock` on `<dir>/<job>.lock`.
//! - [`daemon`]: [`run_daemon`], generic over a [`JobRunner`], and
//!   [`shutdown_signal`].
//!
//! The daemon never reaches into the pipeline: it calls the [`JobRunner`] the
//! binary hands it with the job and the slot it runs for.

#![deny(missing_docs)]

pub mod daemon;
mod error;
pub mod lock;
pub mod schedule;
pub mod state;

pub use daemon::{
    run_daemon, shutdown_signal, DaemonConfig, DaemonJob, DaemonSummary, JobRunner,
    DEFAULT_GRACE_PERIOD,
};
pub use error::SchedulerError;
pub use lock::JobLock;
pub use schedule::{default_cron, missed_run, next_fire, parse_cron};
pub use state::{State, StateFile};

/// Re-exported so that callers name the same versions as this crate.
pub use chrono_tz::Tz;
/// Re-exported so that callers name the same versions as this crate.
pub use cron::Schedule;
