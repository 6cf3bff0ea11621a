//! The daemon loop: runs each job at its slots until shut down.
//!
//! # What it does
//!
//! 1. At start it loads the state file (a corrupt one stops it) and, for each
//!    job whose last completed run predates a slot that has passed, runs that
//!    job once for the latest such slot ([`missed_run`]). A job with no
//!    recorded run waits for its next slot.
//! 2. Then it sleeps until the earliest next slot, logging `next: monthly at
//!    2026-12-01T06:00:00+01:00` for each job whenever that plan changes. It
//!    naps at most [`MAX_NAP`] at a time and compares the injected clock with
//!    the target after each nap, so a suspended machine or a stepped clock
//!    delays a run by at most that much instead of trusting one long sleep.
//! 3. A due job first takes its [`JobLock`]. If a manual `authwarden run`
//!    holds it, the slot is logged and skipped. Otherwise the [`JobRunner`]
//!    runs it in its own task (a panic there becomes a failed run, not a dead
//!    daemon).
//! 4. A successful run is recorded in the state file with the clock's time at
//!    completion. A failed run is logged and not recorded: the job runs again
//!    at its next slot, or is caught up at the next start of the daemon.
//! 5. A job that fell behind (a run of another job took long, the machine
//!    slept) runs once, late, for its latest due slot; slots are never queued.
//!    Jobs run one at a time: a job never overlaps itself, and jobs due at the
//!    same moment run one after the other, in the order given.
//!
//! # Shutdown
//!
//! The `shutdown` future (usually [`shutdown_signal`]) ends the loop. While
//! idle the daemon returns at once, and once shutdown is requested it starts
//! no further job (not even a due catch-up). While a job runs it waits for the
//! job up to
//! the grace period ([`DEFAULT_GRACE_PERIOD`], five minutes, unless
//! configured); after that the job's task is aborted: its future is dropped at
//! its next `.await`, its lock is released, its completion is not recorded, and
//! the daemon returns. Work the runner started outside its future
//! (`spawn_blocking`, child processes without `kill_on_drop`) is not stopped by
//! that; a runner should keep its work inside the future it returns.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use authwarden_api::{Cadence, Clock};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use tokio::task::JoinError;

use crate::schedule::{missed_run, next_fire};
use crate::{default_cron, parse_cron, JobLock, SchedulerError, StateFile};

/// How long a running job may finish after a shutdown request, by default.
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(5 * 60);

/// The longest single sleep; after it the daemon checks the clock again.
pub const MAX_NAP: Duration = Duration::from_secs(60);

/// After aborting a job at shutdown, how long to wait for its task to be
/// dropped (and its lock released) before returning regardless.
const ABORT_WAIT: Duration = Duration::from_secs(2);

/// One job the daemon runs, with its schedule.
#[derive(Debug, Clone)]
pub struct DaemonJob {
    /// The job.
    pub job: Cadence,
    /// When it runs (local wall-clock times in the daemon's time zone).
    pub schedule: Schedule,
}

impl DaemonJob {
    /// The job with its [`default_cron`] schedule.
    pub fn with_default_schedule(job: Cadence) -> Self {
        DaemonJob {
            job,
            schedule: parse_cron(default_cron(job))
                .expect("the default cron expressions are valid"),
        }
    }
}

/// Runs one job; implemented by the binary on top of the pipeline.
#[async_trait]
pub trait JobRunner: Send + Sync {
    /// Runs `job` for the slot `scheduled_for` (earlier than now for a
    /// catch-up). `Err` holds a one-line reason for the log; the run is then
    /// not recorded as completed.
    async fn run(&self, job: Cadence, scheduled_for: DateTime<Utc>) -> Result<(), String>;
}

/// What the daemon needs besides the runner, the clock and the shutdown signal.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The jobs, each at most once; jobs due at the same moment run in this
    /// order.
    pub jobs: Vec<DaemonJob>,
    /// The time zone the cron expressions are read in.
    pub tz: Tz,
    /// Where completed runs are recorded.
    pub state: StateFile,
    /// Where the job locks live (shared with manual runs).
    pub lock_dir: PathBuf,
    /// How long a running job may finish after a shutdown request.
    pub grace_period: Duration,
}

impl DaemonConfig {
    /// A config with the [`DEFAULT_GRACE_PERIOD`].
    pub fn new(
        jobs: Vec<DaemonJob>,
        tz: Tz,
        state: StateFile,
        lock_dir: impl Into<PathBuf>,
    ) -> Self {
        DaemonConfig {
            jobs,
            tz,
            state,
            lock_dir: lock_dir.into(),
            grace_period: DEFAULT_GRACE_PERIOD,
        }
    }

    /// The same config with another grace period.
    pub fn with_grace_period(mut self, grace_period: Duration) -> Self {
        self.grace_period = grace_period;
        self
    }
}

/// What the daemon did, for tests and the final log line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonSummary {
    /// Each run in order: the job, the slot it ran for and its result. A run
    /// abandoned at shutdown is an `Err` saying so.
    pub runs: Vec<(Cadence, DateTime<Utc>, Result<(), String>)>,
    /// Slots skipped because the job's lock was held (by a manual run): the
    /// job, the slot and who held the lock.
    pub skipped: Vec<(Cadence, DateTime<Utc>, String)>,
}

/// Runs the jobs at their slots until `shutdown` completes (see the module
/// docs for catch-up, locking, failures and shutdown).
///
/// Returns `Err` only when the daemon cannot start: a job listed twice, a
/// state file that cannot be read, a lock directory that cannot be created.
/// Everything that goes wrong later is logged and the loop goes on.
pub async fn run_daemon(
    config: DaemonConfig,
    runner: Arc<dyn JobRunner>,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()>,
) -> Result<DaemonSummary, SchedulerError> {
    let DaemonConfig {
        jobs,
        tz,
        state,
        lock_dir,
        grace_period,
    } = config;
    for (i, j) in jobs.iter().enumerate() {
        if jobs[..i].iter().any(|k| k.job == j.job) {
            return Err(SchedulerError::DuplicateJob(j.job));
        }
    }
    let loaded = state.load()?;
    std::fs::create_dir_all(&lock_dir).map_err(|source| SchedulerError::Lock {
        path: lock_dir.clone(),
        source,
    })?;

    let started = clock.now();
    // A job's cursor is the instant after which its next slot is due. Starting
    // it at the last completion makes the first pass of the loop the catch-up.
    let mut cursors: Vec<DateTime<Utc>> = jobs
        .iter()
        .map(|j| match loaded.last_completed.get(&j.job) {
            Some(&last) => last.min(started),
            None => started,
        })
        .collect();
    tracing::info!(
        jobs = %jobs.iter().map(|j| format!("{} `{}`", j.job, j.schedule)).collect::<Vec<_>>().join(", "),
        tz = %tz,
        state = %state.path().display(),
        "scheduler started"
    );

    let mut shutdown = std::pin::pin!(shutdown);
    let mut summary = DaemonSummary::default();
    let mut logged_plan: Option<Vec<(Cadence, Option<DateTime<Utc>>)>> = None;

    loop {
        let now = clock.now();
        let due = jobs
            .iter()
            .zip(&cursors)
            .enumerate()
            .filter_map(|(i, (j, &cursor))| {
                missed_run(&j.schedule, tz, Some(cursor), now).map(|slot| (slot, i))
            })
            .min();

        if let Some((slot, i)) = due {
            let job = jobs[i].job;
            // A shutdown requested while the previous job ran (or before the
            // start) starts no new job.
            let stop_now = tokio::select! {
                biased;
                () = &mut shutdown => true,
                () = std::future::ready(()) => false,
            };
            if stop_now {
                tracing::info!(
                    "shutdown requested; {job} for {} not started",
                    local(slot, tz)
                );
                return Ok(summary);
            }
            logged_plan = None;
            let slot_local = local(slot, tz);
            let lock = match JobLock::acquire(&lock_dir, job.as_str()) {
                Ok(lock) => lock,
                Err(SchedulerError::Locked { holder, .. }) => {
                    tracing::warn!(%job, %holder, "skipping {job} for {slot_local}: it is already running ({holder})");
                    summary.skipped.push((job, slot, holder));
                    cursors[i] = slot.max(clock.now());
                    continue;
                }
                Err(e) => {
                    tracing::error!(%job, "cannot run {job} for {slot_local}: {e}");
                    summary.runs.push((job, slot, Err(e.to_string())));
                    cursors[i] = slot.max(clock.now());
                    continue;
                }
            };
            if slot < started {
                tracing::info!(%job, "running {job} to catch up the missed slot {slot_local}");
            } else {
                tracing::info!(%job, "running {job} for {slot_local}");
            }
            let t0 = Instant::now();
            let task_runner = Arc::clone(&runner);
            // The lock moves into the task so that it is released exactly when
            // the job's future is dropped, also when it is aborted.
            let mut task = tokio::spawn(async move {
                let _lock = lock;
                task_runner.run(job, slot).await
            });
            let (result, stop) = tokio::select! {
                joined = &mut task => (flatten(joined), false),
                () = &mut shutdown => {
                    tracing::info!(%job, "shutdown requested while {job} runs; waiting up to {grace_period:?} for it to finish");
                    match tokio::time::timeout(grace_period, &mut task).await {
                        Ok(joined) => (flatten(joined), true),
                        Err(_) => {
                            task.abort();
                            if tokio::time::timeout(ABORT_WAIT, &mut task).await.is_err() {
                                tracing::warn!(%job, "{job} did not stop after abort; its lock goes when the process exits");
                            }
                            let reason = format!("abandoned at shutdown after the grace period of {grace_period:?}");
                            tracing::warn!(%job, "{job} for {slot_local} {reason}; not recorded as completed");
                            summary.runs.push((job, slot, Err(reason)));
                            return Ok(summary);
                        }
                    }
                }
            };
            let took = t0.elapsed();
            cursors[i] = slot.max(clock.now());
            let next = match next_fire(&jobs[i].schedule, tz, cursors[i]) {
                Some(t) => format!("next: {job} at {}", local(t, tz)),
                None => format!("next: {job} never"),
            };
            match &result {
                Ok(()) => {
                    tracing::info!(%job, ?took, "{job} for {slot_local} completed in {took:.1?}; {next}");
                    if let Err(e) = state.record_completed(job, clock.now()) {
                        tracing::error!(%job, "{job} completed but the state was not saved: {e}");
                    }
                }
                Err(reason) => {
                    tracing::error!(%job, ?took, "{job} for {slot_local} failed after {took:.1?}: {reason}; not recorded as completed; {next}");
                }
            }
            summary.runs.push((job, slot, result));
            if stop {
                tracing::info!("shutting down after {job} finished");
                return Ok(summary);
            }
            continue;
        }

        let plan: Vec<(Cadence, Option<DateTime<Utc>>)> = jobs
            .iter()
            .zip(&cursors)
            .map(|(j, &cursor)| (j.job, next_fire(&j.schedule, tz, cursor.max(now))))
            .collect();
        if logged_plan.as_ref() != Some(&plan) {
            for (job, next) in &plan {
                match next {
                    Some(t) => {
                        tracing::info!(%job, "next: {job} at {}", local(*t, tz))
                    }
                    None => {
                        tracing::info!(%job, "next: {job} never (its schedule has no further slot)")
                    }
                }
            }
            logged_plan = Some(plan.clone());
        }
        let nap = plan
            .iter()
            .filter_map(|(_, t)| *t)
            .min()
            .map(|t| (t - now).to_std().unwrap_or(Duration::ZERO).min(MAX_NAP))
            .unwrap_or(MAX_NAP);
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("shutdown requested while idle");
                return Ok(summary);
            }
            () = tokio::time::sleep(nap) => {}
        }
    }
}

/// A future that completes on SIGTERM or SIGINT (Ctrl-C), for
/// [`run_daemon`]'s `shutdown`.
///
/// The handlers are installed when this is called, so a signal that arrives
/// before the future is first polled is not lost; call it inside a Tokio
/// runtime. Fails when a handler cannot be installed.
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("received SIGTERM"),
                _ = int.recv() => tracing::info!("received SIGINT"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

fn flatten(joined: Result<Result<(), String>, JoinError>) -> Result<(), String> {
    match joined {
        Ok(result) => result,
        Err(e) if e.is_panic() => {
            let payload = e.into_panic();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            Err(format!("the job panicked: {msg}"))
        }
        Err(e) => Err(format!("the job's task ended: {e}")),
    }
}
