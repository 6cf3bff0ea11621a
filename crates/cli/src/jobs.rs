//! `run`, `daemon` and `outbox`: the scheduled side of authwarden.

use std::io::Write;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use authwarden_api::text::{display_value, NAME_MAX_CHARS, TEXT_MAX_CHARS};
use authwarden_api::{Cadence, Clock, SystemClock};
use authwarden_config::Config;
use authwarden_history::ExportFormat;
use authwarden_mail::Outbox;
use authwarden_registry::Registry;
use authwarden_scheduler::{run_daemon, DaemonConfig, DaemonJob, JobLock, JobRunner, StateFile};
use clap::Args;

use authwarden_pipeline as pipeline;

use crate::{setup, Format, GlobalArgs, EXIT_OK, EXIT_USAGE};

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job: monthly, quarterly or annual
    #[arg(value_parser = parse_cadence)]
    pub job: Cadence,
    /// With --format csv|json|parquet: write the run's findings frame here
    /// instead of standard output
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Report this past period instead of the last whole one (e.g. 2026-10,
    /// 2026-Q3, 2025): the mail section and the rollout come from the
    /// history of that period, the checks are of today
    #[arg(long, value_name = "PERIOD")]
    pub period: Option<String>,
    /// Run as shard I of N of a fleet: ingest, check the domains of this
    /// shard and keep the result for `--merge-shards`; no report, no mail
    #[arg(long, value_name = "I/N", value_parser = crate::check::parse_shard, conflicts_with = "merge_shards")]
    pub shard: Option<authwarden_api::domain::Shard>,
    /// Make the report of the period from the results of shards 1 to N
    /// (each `run JOB --shard I/N` first), and mail it
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub merge_shards: Option<u32>,
}

fn parse_cadence(s: &str) -> Result<Cadence, String> {
    Cadence::from_str(s)
}

fn state_file(config: &Config) -> StateFile {
    StateFile::new(config.reports_dir.join("state").join("schedule.json"))
}

fn lock_dir(config: &Config) -> PathBuf {
    config.reports_dir.join("state")
}

/// `authwarden run JOB`: one run now, under the job's lock, recorded in the
/// scheduler's state so that the daemon does not repeat it.
pub async fn run(global: &GlobalArgs, args: &RunArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    if !config.job(args.job).enabled {
        tracing::warn!(
            "the {} job is disabled in the config; running it anyway because it was asked for",
            args.job
        );
    }
    std::fs::create_dir_all(lock_dir(&config))
        .with_context(|| format!("cannot create {}", lock_dir(&config).display()))?;
    // Shards of one job run side by side (on one machine or on several
    // sharing the storage): each holds a lock of its own.
    let lock_name = match args.shard {
        Some(s) => format!("{}-shard-{}", args.job.as_str(), s.file_stem()),
        None => args.job.as_str().to_string(),
    };
    let _lock = JobLock::acquire(&lock_dir(&config), &lock_name)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mode = match (args.shard, args.merge_shards) {
        (Some(s), _) => pipeline::job::JobMode::Shard(s),
        (None, Some(n)) => pipeline::job::JobMode::Merge(n),
        (None, None) => pipeline::job::JobMode::Whole,
    };
    let mut result = pipeline::job::run_job_mode(
        &config,
        registry,
        args.job,
        clock.clone(),
        &crate::progress::Bar::new(global.format == Format::Text),
        args.period.as_deref(),
        mode,
    )
    .await?;
    if let (Some(shard), Some(file)) = (args.shard, &result.shard_file) {
        match global.format {
            Format::Text => {
                let s = &result.summary;
                println!(
                    "{} {} shard {shard}: {}, {}, {}, {}",
                    args.job,
                    result.meta.period,
                    count(s.domains, "domain"),
                    count(s.errors, "error"),
                    count(s.warnings, "warning"),
                    count(s.notes, "note"),
                );
                println!("result: {}", file.display());
                println!(
                    "        the report is made by `authwarden run {} --merge-shards {}` once every shard has run",
                    args.job, shard.count
                );
            }
            other => export(other, &mut result.frame, args.output.as_ref())?,
        }
        return Ok(run_status(&config, &result));
    }
    // A rebuild of a past period is not this period's scheduled run.
    if args.period.is_none() {
        if let Err(e) = state_file(&config).record_completed(args.job, clock.now()) {
            tracing::warn!("the run is not recorded in the scheduler state: {e}");
        }
    }
    match global.format {
        Format::Text => {
            let s = &result.summary;
            println!(
                "{} {} ({}): {}, {}, {}, {}; {} new, {} still open, {} resolved",
                args.job,
                result.meta.period,
                result.meta.run_id,
                count(s.domains, "domain"),
                count(s.errors, "error"),
                count(s.warnings, "warning"),
                count(s.notes, "note"),
                s.new,
                s.still_open,
                s.resolved
            );
            if let Some(i) = &result.ingested {
                println!(
                    "reports: {} new DMARC aggregate report{} ingested, {} already in the history, {} unreadable",
                    i.new,
                    if i.new == 1 { "" } else { "s" },
                    i.already_ingested,
                    i.errors.len()
                );
                if i.tls.reports > 0 || i.failures.reports > 0 {
                    println!(
                        "         {} new SMTP TLS report{}, {} new DMARC failure report{} (metadata only)",
                        i.tls.new,
                        if i.tls.new == 1 { "" } else { "s" },
                        i.failures.new,
                        if i.failures.new == 1 { "" } else { "s" },
                    );
                }
                for e in &i.errors {
                    println!(
                        "        not ingested: {}: {}",
                        display_value(&e.file, NAME_MAX_CHARS),
                        display_value(&e.reason, TEXT_MAX_CHARS)
                    );
                }
            }
            println!(
                "report: {}",
                result.report_dir.join("report.html").display()
            );
            println!("        {}", result.report_dir.join("report.txt").display());
            match &result.eml {
                Some(p) if p.starts_with(config.reports_dir.join("sent")) => {
                    println!("email:  sent ({})", p.display())
                }
                Some(p) if p.starts_with(config.reports_dir.join("outbox").join("rejected")) => {
                    println!("email:  refused by the SMTP server ({})", p.display())
                }
                Some(p) => println!("email:  waiting in the outbox ({})", p.display()),
                None => println!("email:  none (no recipients configured for this job)"),
            }
            for (p, why) in &result.unsent {
                println!("        not sent: {}: {why}", p.display());
            }
            for (p, why) in &result.rejected {
                println!("        refused by the server: {}: {why}", p.display());
            }
        }
        other => export(other, &mut result.frame, args.output.as_ref())?,
    }
    Ok(run_status(&config, &result))
}

/// The exit status of a job that ran: mail not delivered first (what an
/// operator must act on), then checks that could not complete.
fn run_status(config: &Config, result: &pipeline::JobResult) -> u8 {
    if !result.rejected.is_empty() {
        return crate::EXIT_MAIL_REJECTED;
    }
    if config.smtp.is_some() && !result.unsent.is_empty() {
        return crate::EXIT_MAIL_DEFERRED;
    }
    if pipeline::job::incomplete_checks(&result.outcome) > 0 {
        return crate::EXIT_INCOMPLETE;
    }
    EXIT_OK
}

fn count(n: u32, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Writes a findings frame in an export format.
pub fn export(
    format: Format,
    frame: &mut authwarden_history::polars::prelude::DataFrame,
    output: Option<&PathBuf>,
) -> anyhow::Result<()> {
    let fmt = match format {
        Format::Csv => ExportFormat::Csv,
        Format::Json => ExportFormat::Json,
        Format::Parquet => ExportFormat::Parquet,
        Format::Text => return Ok(()),
        Format::Zone => return Err(anyhow!("--format zone is for `authwarden plan`")),
    };
    match output {
        Some(path) => authwarden_history::export_to_path(frame, fmt, path)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::IsTerminal;
            if fmt == ExportFormat::Parquet && std::io::stdout().is_terminal() {
                return Err(anyhow!(
                    "parquet is binary: give --output PATH or redirect standard output"
                ));
            }
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            authwarden_history::export(frame, fmt, &mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

struct PipelineRunner {
    config: Config,
    registry: Registry,
}

#[authwarden_api::async_trait]
impl JobRunner for PipelineRunner {
    async fn run(
        &self,
        job: Cadence,
        scheduled_for: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), String> {
        tracing::info!(%job, slot = %scheduled_for, "job starting");
        match pipeline::run_job(
            &self.config,
            &self.registry,
            job,
            Arc::new(SystemClock),
            &pipeline::NoProgress,
        )
        .await
        {
            Ok(r) => {
                tracing::info!(
                    %job,
                    period = %r.meta.period,
                    errors = r.summary.errors,
                    warnings = r.summary.warnings,
                    sent = r.sent,
                    unsent = r.unsent.len(),
                    "job finished; report in {}",
                    r.report_dir.display()
                );
                Ok(())
            }
            Err(e) => Err(format!("{e:#}")),
        }
    }
}

/// `authwarden daemon`: the jobs at their slots and, with `[imap]`, the
/// mailbox poll at its own (`poll_cron`).
///
/// The poll is a task of its own beside the scheduler rather than a kind of
/// [`DaemonJob`]: a job is keyed by a report cadence, has catch-up, a lock
/// and a completion record, none of which a poll wants (a missed poll is
/// simply the next one, and its UID state file is its record). Both stop on
/// the same SIGTERM/SIGINT; a poll in progress finishes first.
pub async fn daemon(global: &GlobalArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signal = authwarden_scheduler::shutdown_signal()
        .context("cannot install the SIGTERM/SIGINT handlers")?;
    let shutdown = async move {
        signal.await;
        let _ = stop_tx.send(true);
    };
    let poller = config.imap.is_some().then(|| {
        tokio::spawn(pipeline::intake::poll_imap(
            Arc::new(config.clone()),
            stop_rx,
        ))
    });
    let jobs: Vec<DaemonJob> = Cadence::ALL
        .iter()
        .filter(|c| config.job(**c).enabled)
        .map(|c| DaemonJob {
            job: *c,
            schedule: config.job(*c).schedule.clone(),
        })
        .collect();
    if jobs.is_empty() {
        let Some(poller) = poller else {
            eprintln!("error: every job is disabled in the config; nothing to schedule");
            return Ok(EXIT_USAGE);
        };
        tracing::info!("daemon started: every job is disabled, only the mailbox is polled");
        shutdown.await;
        let _ = poller.await;
        tracing::info!("daemon stopped");
        return Ok(EXIT_OK);
    }
    std::fs::create_dir_all(lock_dir(&config))
        .with_context(|| format!("cannot create {}", lock_dir(&config).display()))?;
    let daemon_config = DaemonConfig::new(
        jobs,
        config.timezone,
        state_file(&config),
        lock_dir(&config),
    );
    tracing::info!(
        "daemon started (time zone {}); state in {}",
        config.timezone,
        state_file(&config).path().display()
    );
    let runner = Arc::new(PipelineRunner {
        config,
        registry: registry.clone(),
    });
    let summary = run_daemon(daemon_config, runner, Arc::new(SystemClock), shutdown)
        .await
        .map_err(|e| anyhow!("{e}"))?;
    if let Some(poller) = poller {
        let _ = poller.await;
    }
    tracing::info!(
        runs = summary.runs.len(),
        skipped = summary.skipped.len(),
        "daemon stopped"
    );
    Ok(EXIT_OK)
}

/// `authwarden outbox flush`.
pub async fn outbox_flush(global: &GlobalArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let outbox = Outbox::new(&config.reports_dir)?;
    if config.smtp.is_none() {
        let n = outbox.pending()?.len();
        eprintln!(
            "error: no [smtp] section in the config: {n} message(s) stay in {}",
            outbox.outbox_dir().display()
        );
        return Ok(EXIT_USAGE);
    }
    let report = pipeline::flush_outbox(&config, &outbox).await?;
    println!(
        "{} sent, {} still in the outbox, {} refused by the server",
        report.sent.len(),
        report.failed.len(),
        report.rejected.len()
    );
    for (p, why) in &report.failed {
        println!("  waiting: {}: {why}", p.display());
    }
    for (p, why) in &report.rejected {
        println!("  refused: {}: {why}", p.display());
    }
    for r in &report.refused_recipients {
        println!(
            "  recipient refused: {} for {}: {}",
            r.address,
            r.message.display(),
            r.reply
        );
    }
    Ok(
        if !report.rejected.is_empty() || !report.refused_recipients.is_empty() {
            crate::EXIT_MAIL_REJECTED
        } else if !report.io_failures.is_empty() {
            crate::EXIT_IO
        } else if !report.failed.is_empty() {
            crate::EXIT_MAIL_DEFERRED
        } else {
            EXIT_OK
        },
    )
}

/// `authwarden outbox list`.
pub fn outbox_list(global: &GlobalArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let outbox = Outbox::new(&config.reports_dir)?;
    let pending = outbox.pending()?;
    for p in &pending {
        println!("{}", p.display());
    }
    let rejected = outbox.rejected()?;
    for p in &rejected {
        println!("rejected: {}: {}", p.path.display(), p.reason);
    }
    let held = outbox.held()?;
    for p in &held {
        println!("held: {}: {}", p.path.display(), p.reason);
    }
    eprintln!(
        "{} message(s) waiting, {} refused by the server (in {}), {} held (in {})",
        pending.len(),
        rejected.len(),
        outbox.rejected_dir().display(),
        held.len(),
        outbox.held_dir().display()
    );
    Ok(EXIT_OK)
}
