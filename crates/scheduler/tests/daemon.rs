//! Behaviour of the daemon loop: firing, catch-up, locking, failures and
//! shutdown.
//!
//! Every test runs on Tokio's paused clock: a sleep or timeout completes as
//! soon as nothing else can run, by moving the clock, never by waiting. The
//! daemon's own clock is fixed or follows that paused clock, so the tests do
//! not depend on how fast the machine is, and the time a test reads is
//! exactly the time the daemon slept.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use authwarden_api::{Cadence, Clock, FixedClock};
use authwarden_scheduler::daemon::MAX_NAP;
use authwarden_scheduler::{
    parse_cron, run_daemon, DaemonConfig, DaemonJob, DaemonSummary, JobLock, JobRunner,
    SchedulerError, StateFile, Tz,
};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;
use tokio::time::Instant;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// What the test runner does when asked to run a job.
#[derive(Clone, Copy)]
enum Behaviour {
    Succeed,
    Fail,
    Panic,
    Sleep(Duration),
}

/// Records each run, says when one starts, and notices when a run's future is
/// dropped before it finished.
struct TestRunner {
    behaviour: Behaviour,
    runs: Mutex<Vec<(Cadence, DateTime<Utc>)>>,
    started: mpsc::UnboundedSender<Cadence>,
    active: AtomicUsize,
    max_active: AtomicUsize,
    abandoned: AtomicBool,
}

impl TestRunner {
    fn new(behaviour: Behaviour) -> (Arc<Self>, mpsc::UnboundedReceiver<Cadence>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let runner = Arc::new(TestRunner {
            behaviour,
            runs: Mutex::new(Vec::new()),
            started: tx,
            active: AtomicUsize::new(0),
            max_active: AtomicUsize::new(0),
            abandoned: AtomicBool::new(false),
        });
        (runner, rx)
    }
}

/// Marks a run abandoned unless disarmed at its end.
struct DropGuard<'a> {
    runner: &'a TestRunner,
    finished: bool,
}

impl Drop for DropGuard<'_> {
    fn drop(&mut self) {
        self.runner.active.fetch_sub(1, Ordering::SeqCst);
        if !self.finished {
            self.runner.abandoned.store(true, Ordering::SeqCst);
        }
    }
}

#[async_trait::async_trait]
impl JobRunner for TestRunner {
    async fn run(&self, job: Cadence, scheduled_for: DateTime<Utc>) -> Result<(), String> {
        let now_active = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_active.fetch_max(now_active, Ordering::SeqCst);
        let mut guard = DropGuard {
            runner: self,
            finished: false,
        };
        self.runs.lock().unwrap().push((job, scheduled_for));
        let _ = self.started.send(job);
        let result = match self.behaviour {
            Behaviour::Succeed => Ok(()),
            Behaviour::Fail => Err("dns down".to_string()),
            Behaviour::Panic => panic!("boom"),
            Behaviour::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
        };
        guard.finished = true;
        result
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    state_path: PathBuf,
    lock_dir: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Setup {
            state_path: dir.path().join("state/schedule.json"),
            lock_dir: dir.path().join("locks"),
            _dir: dir,
        }
    }

    fn state(&self) -> StateFile {
        StateFile::new(&self.state_path)
    }

    fn config(&self, jobs: Vec<DaemonJob>) -> DaemonConfig {
        DaemonConfig::new(jobs, Tz::UTC, self.state(), &self.lock_dir)
    }

    fn record(&self, job: Cadence, at: &str) {
        self.state().record_completed(job, utc(at)).unwrap();
    }

    fn last(&self, job: Cadence) -> Option<DateTime<Utc>> {
        self.state()
            .load()
            .unwrap()
            .last_completed
            .get(&job)
            .copied()
    }
}

fn monthly() -> Vec<DaemonJob> {
    vec![DaemonJob::with_default_schedule(Cadence::Monthly)]
}

fn fixed(at: &str) -> Arc<dyn Clock> {
    Arc::new(FixedClock(utc(at)))
}

/// A clock that starts at a given time and moves with Tokio's (paused) clock.
struct TokioClock {
    start: DateTime<Utc>,
    started: Instant,
}

impl TokioClock {
    fn starting_at(at: &str) -> Arc<dyn Clock> {
        Arc::new(TokioClock {
            start: utc(at),
            started: Instant::now(),
        })
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.started.elapsed()).unwrap()
    }
}

async fn after(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// Runs the daemon to its end, which must come before the paused clock has
/// moved by `limit`: a daemon that waits for a timer it should not (a job past
/// its grace period, a nap after shutdown) fails here instead of hanging.
async fn run_within(
    limit: Duration,
    config: DaemonConfig,
    runner: Arc<TestRunner>,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<DaemonSummary, SchedulerError> {
    tokio::time::timeout(limit, run_daemon(config, runner, clock, shutdown))
        .await
        .unwrap_or_else(|_| panic!("the daemon still ran after {limit:?} of the paused clock"))
}

#[tokio::test(start_paused = true)]
async fn every_second_schedule_fires_and_shutdown_is_prompt() {
    let setup = Setup::new();
    let jobs = vec![DaemonJob {
        job: Cadence::Monthly,
        schedule: parse_cron("* * * * * *").unwrap(),
    }];
    let (runner, mut started) = TestRunner::new(Behaviour::Succeed);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let clock = TokioClock::starting_at("2026-03-15T12:00:00.250Z");
    let daemon = tokio::spawn(run_daemon(
        setup.config(jobs),
        runner.clone(),
        clock.clone(),
        async move {
            let _ = stop_rx.await;
        },
    ));

    // Each run starts when its slot comes, not a nap later.
    for second in 1..=3 {
        tokio::time::timeout(Duration::from_secs(2), started.recv())
            .await
            .unwrap_or_else(|_| panic!("no run within two seconds of run {}", second - 1));
        let slot = utc(&format!("2026-03-15T12:00:0{second}Z"));
        let late = clock.now() - slot;
        assert!(
            late >= chrono::Duration::zero() && late < chrono::Duration::milliseconds(10),
            "the run for {slot} started at {}",
            clock.now()
        );
    }
    let stop_requested = Instant::now();
    stop_tx.send(()).unwrap();
    let summary = tokio::time::timeout(MAX_NAP, daemon)
        .await
        .expect("the daemon stopped before a nap would have ended")
        .unwrap()
        .unwrap();
    // Prompt: it returned without sleeping at all (its next slot was a second
    // away), and no run started after the request.
    assert_eq!(stop_requested.elapsed(), Duration::ZERO);
    let slots: Vec<_> = summary.runs.iter().map(|(_, s, _)| *s).collect();
    assert_eq!(
        slots,
        [
            utc("2026-03-15T12:00:01Z"),
            utc("2026-03-15T12:00:02Z"),
            utc("2026-03-15T12:00:03Z"),
        ]
    );
    assert!(summary
        .runs
        .iter()
        .all(|(job, _, r)| *job == Cadence::Monthly && r.is_ok()));
    // Slots are whole seconds and strictly increasing: no slot ran twice.
    assert!(slots.windows(2).all(|w| w[0] < w[1]), "{slots:?}");
    assert!(slots.iter().all(|s| s.timestamp_subsec_nanos() == 0));
    assert!(setup.last(Cadence::Monthly).is_some());
    assert_eq!(runner.max_active.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn missed_slots_are_caught_up_once_at_start() {
    let setup = Setup::new();
    // Monthly last ran in January: February and March were missed.
    setup.record(Cadence::Monthly, "2026-01-01T06:02:00Z");
    // Quarterly ran at its January slot; its next slot (April) is ahead.
    setup.record(Cadence::Quarterly, "2026-01-01T06:10:00Z");
    // Annual never ran: first start, nothing to catch up.
    let jobs = Cadence::ALL
        .into_iter()
        .map(DaemonJob::with_default_schedule)
        .collect();
    let (runner, _started) = TestRunner::new(Behaviour::Succeed);
    let now = "2026-03-15T12:00:00Z";

    let summary = run_within(
        Duration::from_secs(5),
        setup.config(jobs),
        runner,
        fixed(now),
        after(500),
    )
    .await
    .unwrap();

    assert_eq!(
        summary.runs,
        vec![(Cadence::Monthly, utc("2026-03-01T06:00:00Z"), Ok(()))]
    );
    assert!(summary.skipped.is_empty());
    assert_eq!(setup.last(Cadence::Monthly), Some(utc(now)));
    assert_eq!(
        setup.last(Cadence::Quarterly),
        Some(utc("2026-01-01T06:10:00Z"))
    );
    assert_eq!(setup.last(Cadence::Annual), None);
}

#[tokio::test(start_paused = true)]
async fn catch_up_slot_is_computed_in_the_configured_zone() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-02-01T05:02:00Z");
    let (runner, _started) = TestRunner::new(Behaviour::Succeed);
    let config = DaemonConfig::new(
        monthly(),
        "Europe/Berlin".parse().unwrap(),
        setup.state(),
        &setup.lock_dir,
    );

    let summary = run_within(
        Duration::from_secs(5),
        config,
        runner,
        fixed("2026-04-20T00:00:00Z"),
        after(500),
    )
    .await
    .unwrap();

    // 06:00 in Berlin on 1 April is 04:00 UTC (summer time).
    assert_eq!(
        summary.runs,
        vec![(Cadence::Monthly, utc("2026-04-01T04:00:00Z"), Ok(()))]
    );
}

#[tokio::test(start_paused = true)]
async fn jobs_due_together_run_one_after_another_in_order() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-12-01T06:01:00Z");
    setup.record(Cadence::Quarterly, "2026-10-01T06:01:00Z");
    setup.record(Cadence::Annual, "2026-01-01T06:01:00Z");
    let jobs = Cadence::ALL
        .into_iter()
        .map(DaemonJob::with_default_schedule)
        .collect();
    let (runner, _started) = TestRunner::new(Behaviour::Sleep(Duration::from_millis(50)));

    let summary = run_within(
        Duration::from_secs(5),
        setup.config(jobs),
        runner.clone(),
        fixed("2027-01-01T07:00:00Z"),
        after(1000),
    )
    .await
    .unwrap();

    let slot = utc("2027-01-01T06:00:00Z");
    assert_eq!(
        summary.runs,
        vec![
            (Cadence::Monthly, slot, Ok(())),
            (Cadence::Quarterly, slot, Ok(())),
            (Cadence::Annual, slot, Ok(())),
        ]
    );
    assert_eq!(runner.max_active.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn after_shutdown_no_further_due_job_starts() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-12-01T06:01:00Z");
    setup.record(Cadence::Quarterly, "2026-10-01T06:01:00Z");
    let jobs = vec![
        DaemonJob::with_default_schedule(Cadence::Monthly),
        DaemonJob::with_default_schedule(Cadence::Quarterly),
    ];
    let (runner, mut started) = TestRunner::new(Behaviour::Sleep(Duration::from_millis(200)));
    let config = setup
        .config(jobs)
        .with_grace_period(Duration::from_secs(30));

    // Shutdown arrives while the monthly run (the first of two due) runs.
    let summary = run_within(
        Duration::from_secs(10),
        config,
        runner,
        fixed("2027-01-01T07:00:00Z"),
        async move {
            started.recv().await;
        },
    )
    .await
    .unwrap();

    assert_eq!(
        summary.runs,
        vec![(Cadence::Monthly, utc("2027-01-01T06:00:00Z"), Ok(()))]
    );
    assert_eq!(
        setup.last(Cadence::Quarterly),
        Some(utc("2026-10-01T06:01:00Z"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_shutdown_pending_at_start_runs_no_catch_up() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-01-01T06:02:00Z");
    let (runner, _started) = TestRunner::new(Behaviour::Succeed);

    let summary = run_within(
        Duration::from_secs(5),
        setup.config(monthly()),
        runner,
        fixed("2026-03-15T12:00:00Z"),
        async {},
    )
    .await
    .unwrap();

    assert_eq!(summary, DaemonSummary::default());
}

#[tokio::test(start_paused = true)]
async fn a_held_lock_skips_the_slot() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-01-01T06:02:00Z");
    // A manual `authwarden run monthly` in progress.
    let manual = JobLock::acquire(&setup.lock_dir, "monthly").unwrap();
    let (runner, _started) = TestRunner::new(Behaviour::Succeed);

    let summary = run_within(
        Duration::from_secs(5),
        setup.config(monthly()),
        runner.clone(),
        fixed("2026-03-15T12:00:00Z"),
        after(500),
    )
    .await
    .unwrap();

    assert!(summary.runs.is_empty(), "{:?}", summary.runs);
    assert_eq!(summary.skipped.len(), 1);
    let (job, slot, holder) = &summary.skipped[0];
    assert_eq!(
        (*job, *slot),
        (Cadence::Monthly, utc("2026-03-01T06:00:00Z"))
    );
    assert!(
        holder.contains(&format!("pid {}", std::process::id())),
        "{holder}"
    );
    assert!(runner.runs.lock().unwrap().is_empty());
    assert_eq!(
        setup.last(Cadence::Monthly),
        Some(utc("2026-01-01T06:02:00Z"))
    );

    // Once the manual run is over, the lock is free again.
    drop(manual);
    JobLock::acquire(&setup.lock_dir, "monthly").unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_long_job_abandons_it_after_the_grace_period() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-01-01T06:02:00Z");
    let job_takes = Duration::from_secs(60);
    let grace = Duration::from_millis(200);
    let (runner, mut started) = TestRunner::new(Behaviour::Sleep(job_takes));
    let config = setup.config(monthly()).with_grace_period(grace);
    let t0 = Instant::now();

    let summary = run_within(
        Duration::from_secs(10),
        config,
        runner.clone(),
        fixed("2026-03-15T12:00:00Z"),
        async move {
            started.recv().await;
        },
    )
    .await
    .unwrap();

    // It waited out the grace period, not the job.
    let waited = t0.elapsed();
    assert!(waited >= grace && waited < job_takes, "{waited:?}");
    assert_eq!(summary.runs.len(), 1);
    let (job, slot, result) = &summary.runs[0];
    assert_eq!(
        (*job, *slot),
        (Cadence::Monthly, utc("2026-03-01T06:00:00Z"))
    );
    let reason = result.as_ref().unwrap_err();
    assert!(reason.contains("abandoned"), "{reason}");
    // The job's future was dropped, its lock released, its run not recorded.
    assert!(runner.abandoned.load(Ordering::SeqCst));
    JobLock::acquire(&setup.lock_dir, "monthly").unwrap();
    assert_eq!(
        setup.last(Cadence::Monthly),
        Some(utc("2026-01-01T06:02:00Z"))
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_short_job_lets_it_finish() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-01-01T06:02:00Z");
    let (runner, mut started) = TestRunner::new(Behaviour::Sleep(Duration::from_millis(300)));
    let config = setup
        .config(monthly())
        .with_grace_period(Duration::from_secs(30));
    let now = "2026-03-15T12:00:00Z";

    let summary = run_within(
        Duration::from_secs(10),
        config,
        runner.clone(),
        fixed(now),
        async move {
            started.recv().await;
        },
    )
    .await
    .unwrap();

    assert_eq!(
        summary.runs,
        vec![(Cadence::Monthly, utc("2026-03-01T06:00:00Z"), Ok(()))]
    );
    assert!(!runner.abandoned.load(Ordering::SeqCst));
    assert_eq!(setup.last(Cadence::Monthly), Some(utc(now)));
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_logged_not_recorded_and_not_retried_in_a_loop() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-01-01T06:02:00Z");
    let (runner, _started) = TestRunner::new(Behaviour::Fail);

    let summary = run_within(
        Duration::from_secs(5),
        setup.config(monthly()),
        runner.clone(),
        fixed("2026-03-15T12:00:00Z"),
        after(500),
    )
    .await
    .unwrap();

    assert_eq!(
        summary.runs,
        vec![(
            Cadence::Monthly,
            utc("2026-03-01T06:00:00Z"),
            Err("dns down".to_string())
        )]
    );
    assert_eq!(
        setup.last(Cadence::Monthly),
        Some(utc("2026-01-01T06:02:00Z"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_run_is_a_failed_run() {
    let setup = Setup::new();
    setup.record(Cadence::Monthly, "2026-01-01T06:02:00Z");
    let (runner, _started) = TestRunner::new(Behaviour::Panic);

    let summary = run_within(
        Duration::from_secs(5),
        setup.config(monthly()),
        runner,
        fixed("2026-03-15T12:00:00Z"),
        after(500),
    )
    .await
    .unwrap();

    assert_eq!(summary.runs.len(), 1);
    let reason = summary.runs[0].2.as_ref().unwrap_err();
    assert!(reason.contains("panicked: boom"), "{reason}");
    assert_eq!(
        setup.last(Cadence::Monthly),
        Some(utc("2026-01-01T06:02:00Z"))
    );
    // The lock went with the panicking task.
    JobLock::acquire(&setup.lock_dir, "monthly").unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_while_idle_returns_at_once() {
    let setup = Setup::new();
    let (runner, _started) = TestRunner::new(Behaviour::Succeed);
    let t0 = Instant::now();

    let summary = run_within(
        Duration::from_secs(5),
        setup.config(monthly()),
        runner,
        fixed("2026-03-15T12:00:00Z"),
        async {},
    )
    .await
    .unwrap();

    // Nothing was due and the shutdown was already there: it did not take
    // even one nap.
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(summary, DaemonSummary::default());
}

#[tokio::test(start_paused = true)]
async fn a_corrupt_state_file_stops_the_start() {
    let setup = Setup::new();
    std::fs::create_dir_all(setup.state_path.parent().unwrap()).unwrap();
    std::fs::write(&setup.state_path, "{").unwrap();
    let (runner, _started) = TestRunner::new(Behaviour::Succeed);

    let err = run_within(
        Duration::from_secs(5),
        setup.config(monthly()),
        runner,
        fixed("2026-03-15T12:00:00Z"),
        async {},
    )
    .await
    .unwrap_err();

    assert!(
        matches!(err, SchedulerError::StateCorrupt { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&display(&setup.state_path)));
}

#[tokio::test(start_paused = true)]
async fn a_job_listed_twice_is_refused() {
    let setup = Setup::new();
    let (runner, _started) = TestRunner::new(Behaviour::Succeed);
    let jobs = vec![
        DaemonJob::with_default_schedule(Cadence::Annual),
        DaemonJob::with_default_schedule(Cadence::Annual),
    ];

    let err = run_within(
        Duration::from_secs(5),
        setup.config(jobs),
        runner,
        fixed("2026-03-15T12:00:00Z"),
        async {},
    )
    .await
    .unwrap_err();

    assert!(
        matches!(err, SchedulerError::DuplicateJob(Cadence::Annual)),
        "{err:?}"
    );
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
