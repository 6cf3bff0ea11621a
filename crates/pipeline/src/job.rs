//! One run of a job, end to end, in one direction:
//! config → checkers (findings) → polars frame → history (Parquet) →
//! template context → rendered report → outbox → SMTP.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context as _};
use authwarden_api::{Cadence, Clock, DomainTarget, Finding};
use authwarden_config::Config;
use authwarden_engine::{Engine, RunOutcome};
use authwarden_history::{self as history, HistoryStore, RunMeta};
use authwarden_mail::{InlineImage, Message, Outbox};
use authwarden_registry::Registry;
use authwarden_report::{
    self as report, Chart, DomainSection, DomainStatus, Fact, FindingRow, FindingStatus,
    PassedCheck, Renderer, ReportContext, Summary,
};
use serde_json::Value;

use crate::delivery::flush_outbox;
use crate::setup::{self, RunKind};
pub use crate::shard::JobMode;
use crate::Progress;

/// The content id of the trend chart in the HTML part.
const CHART_CID: &str = "trend-chart@authwarden";
/// The content id of the mail summary's pass-rate chart.
const MAIL_CHART_CID: &str = "pass-rate-chart@authwarden";
/// The content id of the DMARC rollout timeline.
const ROLLOUT_CHART_CID: &str = "phase-timeline@authwarden";
/// The charts' files beside `report.html`.
const CHART_FILE: &str = "trend.png";
const MAIL_CHART_FILE: &str = "pass-rate.png";
const ROLLOUT_CHART_FILE: &str = "phase-timeline.png";

/// What a run left behind.
#[derive(Debug)]
pub struct JobResult {
    /// The run's identity.
    pub meta: RunMeta,
    /// Findings and facts.
    pub outcome: RunOutcome,
    /// The report files written.
    pub report_dir: PathBuf,
    /// The message in the outbox (or already in `sent/`).
    pub eml: Option<PathBuf>,
    /// New / still open / resolved counts.
    pub summary: Summary,
    /// Delivered now (messages of earlier runs included).
    pub sent: usize,
    /// Still waiting in the outbox, with why.
    pub unsent: Vec<(PathBuf, String)>,
    /// Refused for good by the SMTP server (moved to `outbox/rejected/`),
    /// with the server's reply; recipients refused while others accepted
    /// are listed as `message: address: reply`.
    pub rejected: Vec<(PathBuf, String)>,
    /// The findings frame of this run (for exports).
    pub frame: history::polars::prelude::DataFrame,
    /// What ingesting `[ingest] folders` and `[imap]` before the checks did
    /// (`None` when neither is configured or the ingest could not run).
    pub ingested: Option<crate::intake::IngestSummary>,
    /// Where a shard's result is kept (`--shard`); then there is no report.
    pub shard_file: Option<PathBuf>,
}

/// Runs `job` once now.
pub async fn run_job(
    config: &Config,
    registry: &Registry,
    job: Cadence,
    clock: Arc<dyn Clock>,
    progress: &dyn Progress,
) -> anyhow::Result<JobResult> {
    run_job_for_period(config, registry, job, clock, progress, None).await
}

/// Runs `job` once now for `period` (e.g. `2026-10`; `None`: the last whole
/// period, as a scheduled run): the mail section and the rollout cover that
/// period from the history, the checks (DNS, findings, plan) are of today,
/// and the report says so.
pub async fn run_job_for_period(
    config: &Config,
    registry: &Registry,
    job: Cadence,
    clock: Arc<dyn Clock>,
    progress: &dyn Progress,
    period: Option<&str>,
) -> anyhow::Result<JobResult> {
    run_job_mode(
        config,
        registry,
        job,
        clock,
        progress,
        period,
        JobMode::Whole,
    )
    .await
}

/// [`run_job_for_period`] as one shard of a fleet, or as the merge of every
/// shard's result (see [`crate::shard`]). A shard's result has no report
/// and no message: `shard_file` says where it is kept.
pub async fn run_job_mode(
    config: &Config,
    registry: &Registry,
    job: Cadence,
    clock: Arc<dyn Clock>,
    progress: &dyn Progress,
    period: Option<&str>,
    mode: JobMode,
) -> anyhow::Result<JobResult> {
    let started = clock.now();
    let local = started.with_timezone(&config.timezone);
    let mut meta = RunMeta::new(Some(job), local);
    // The day the report is made as of: today, or the day after the period.
    let mut report_day = local.date_naive();
    let mut rebuilt = None;
    if let Some(period) = period {
        let day = job.report_day(period).ok_or_else(|| {
            anyhow!(
                "`{period}` is not a {job} period (e.g. {})",
                job.covered_period(local.date_naive())
            )
        })?;
        if day > local.date_naive() {
            return Err(anyhow!(
                "{period} is not over yet: the {job} report of a period is made after it ends"
            ));
        }
        if meta.period != period {
            rebuilt = Some(format!(
                "Rebuilt for {period} from the history: the mail section and the DMARC rollout are of {period}; the checks, findings and next steps are of today."
            ));
        }
        meta.period = period.to_string();
        report_day = day;
    }
    let report_until = if period.is_some() {
        report_day.and_time(chrono::NaiveTime::MIN).and_utc()
    } else {
        started
    };
    tracing::info!(job = %job, run = %meta.run_id, period = %meta.period, "run started");

    // 0. the templates, first: a broken template fails the run before any
    // DNS work and before anything is written to the history.
    // Without `[templates] dir`, the templates compiled into the binary.
    let renderer = match &config.templates_dir {
        Some(dir) => Renderer::from_dir(dir)
            .map_err(|e| anyhow!("{e}"))
            .with_context(|| format!("cannot load the templates in {}", dir.display()))?,
        None => Renderer::builtin()
            .map_err(|e| anyhow!("{e}"))
            .context("cannot load the built-in templates")?,
    };

    let planned = setup::job_planned(registry, config, job);
    let all_targets = config.domain_targets();
    if all_targets.is_empty() {
        return Err(anyhow!(
            "no domains to check: list them in the config file under [[domains]]"
        ));
    }
    // One store for the whole run: the damaged files that any read meets
    // (the checkers' included) end up in the report.
    let store = HistoryStore::new(&config.history_dir);
    let window = mail_query(job, report_day, config);
    let (ingested, outcome, plans, auth_test) = if let JobMode::Merge(count) = mode {
        // Every shard's result of the period; the shards ingested and checked.
        let order: Vec<String> = all_targets.iter().map(|t| t.name.to_string()).collect();
        let merged = crate::shard::merge(&config.history_dir, job, &meta.period, count, &order)?;
        tracing::info!(
            shards = count,
            domains = merged.outcome.domains.len(),
            "shards merged"
        );
        let auth_test =
            merged
                .auth_test
                .map(|results| authwarden_api::authtest::AuthTestResultsExt {
                    source: String::new(),
                    results: Arc::new(results),
                    quarters: Arc::new(Vec::new()),
                });
        (None, merged.outcome, merged.plans, auth_test)
    } else {
        // 0b. new aggregate reports: the `[ingest] folders` and the `[imap]`
        // mailbox, so the checks and the mail section see this period's reports.
        let ingested = ingest_new_reports(config).await;
        // 0c. the monthly job keeps the history compact: one file per
        // aggregate-report partition.
        if job == Cadence::Monthly {
            compact_history(config).await;
        }

        // 1. checkers
        let targets: Vec<DomainTarget> = match mode {
            JobMode::Shard(shard) => all_targets
                .iter()
                .filter(|t| shard.contains(&t.name))
                .cloned()
                .collect(),
            _ => all_targets.clone(),
        };
        let resolver = setup::resolver(config)?;
        let mut ctx = setup::run_context_with_store(
            config,
            resolver.clone(),
            clock.clone(),
            RunKind::Job(job),
            &store,
        );
        // 1a. the quarterly authentication test: the period's test messages,
        // verified, for the auth-test checker.
        let auth_test = crate::authtest::run(
            config,
            job,
            &meta.period,
            resolver.clone(),
            &targets,
            window.start,
            window.end,
        )
        .await;
        if let Some(results) = &auth_test {
            ctx.extensions.insert(Arc::new(results.clone()));
        }
        let engine = Engine::new(planned.clone()).levels(config.levels.clone());
        progress.checks_started(engine.total_checks(targets.len()));
        let mut outcome = engine.run(&ctx, &targets, &|| progress.check_done()).await;
        crate::assess::add_scores(&mut outcome, &planned);
        crate::assess::add_profiles(&mut outcome, &ctx, config, window.start, window.end);
        progress.checks_finished();
        tracing::info!(
            findings = outcome.findings.len(),
            dns_queries = resolver.queries_sent(),
            "checks done"
        );
        // 1b. the plan: every proposal merged per DNS name and verified by
        // running the checks again with it applied (state read only).
        let plans = crate::plan::plan_and_verify(&engine, &ctx, &targets, &outcome).await;
        tracing::info!(
            domains = plans.iter().filter(|p| !p.is_empty()).count(),
            "plan verified"
        );
        (ingested, outcome, plans, auth_test)
    };
    if let JobMode::Shard(shard) = mode {
        let result = crate::shard::ShardResult {
            index: shard.index,
            count: shard.count,
            checked_at: started,
            outcome,
            plans,
            auth_test: auth_test.map(|a| a.results.as_ref().clone()),
        };
        let path = crate::shard::keep(&config.history_dir, job, &meta.period, &result)?;
        tracing::info!("shard {shard} result kept in {}", path.display());
        let frame = history::findings_frame(&meta, &result.outcome.findings)?;
        return Ok(JobResult {
            ingested,
            meta,
            summary: {
                let c = result.outcome.counts();
                Summary {
                    domains: result.outcome.domains.len() as u32,
                    errors: c.errors as u32,
                    warnings: c.warnings as u32,
                    notes: c.notes as u32,
                    ..Summary::default()
                }
            },
            outcome: result.outcome,
            report_dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            eml: None,
            sent: 0,
            unsent: Vec::new(),
            rejected: Vec::new(),
            frame,
            shard_file: Some(path),
        });
    }

    // 2. frames and history
    let findings_df = history::findings_frame(&meta, &outcome.findings)?;
    let facts: Vec<history::DomainFacts> = outcome
        .domains
        .iter()
        .map(|d| history::DomainFacts {
            domain: d.domain.clone(),
            facts: d.facts.clone(),
        })
        .collect();
    let summary_df = history::summary_frame(&meta, &outcome.findings, &facts)?;
    let comparison = history::compare(&store, &meta, &findings_df).with_context(|| {
        format!(
            "cannot compare with the history in {}",
            store.root().display()
        )
    })?;
    // The run is in the history from here on, marked as not delivered until
    // its report and outbox message exist (see the end of this function):
    // a run killed in between is no baseline for the next one, which then
    // reports these findings as new instead of "still open".
    store
        .begin_run(&meta)
        .with_context(|| format!("cannot write the history in {}", store.root().display()))?;
    store
        .append(&meta, &findings_df, &summary_df)
        .with_context(|| format!("cannot write the history in {}", store.root().display()))?;
    if let (Cadence::Quarterly, Some(results)) = (job, &auth_test) {
        crate::authtest::keep(&config.history_dir, &meta.period, results).with_context(|| {
            format!(
                "cannot keep the authentication test in {}",
                store.root().display()
            )
        })?;
    }
    fault_point("history");
    for w in store.warnings() {
        tracing::warn!("{w}");
    }
    let trends = history::trends(&store, &meta.job, 12).unwrap_or_else(|e| {
        tracing::warn!("trends unavailable: {e}");
        Vec::new()
    });
    let mail = store
        .mail_summary(&mail_query(job, report_day, config))
        .unwrap_or_else(|e| {
            tracing::warn!("mail summary unavailable: {e}");
            None
        });

    // 3. report context
    let mut ctx = build_context(
        config,
        registry,
        job,
        &meta,
        &outcome,
        &comparison,
        &planned,
        &plans,
    );
    let chart_png = if trends.is_empty() {
        None
    } else {
        let series: Vec<report::DomainTrend> = trends
            .iter()
            .map(|t| report::DomainTrend {
                domain: t.domain.clone(),
                points: t
                    .points
                    .iter()
                    .map(|p| {
                        (
                            p.started_at.format("%Y-%m-%d").to_string(),
                            p.errors,
                            p.warnings,
                        )
                    })
                    .collect(),
            })
            .collect();
        match report::trend_chart_png(&series, 1184, 560) {
            Ok(png) => Some(png),
            Err(e) => {
                tracing::warn!("no chart: {e}");
                None
            }
        }
    };
    if chart_png.is_some() {
        ctx.chart = Some(Chart::new(
            CHART_CID,
            CHART_FILE,
            format!(
                "findings per domain over the last {} {} runs",
                trends.iter().map(|t| t.points.len()).max().unwrap_or(1),
                job
            ),
        ));
    }
    let (mail_ctx, mail_png) = match &mail {
        Some(m) => mail_context(job, m),
        None => (None, None),
    };
    ctx.mail = mail_ctx;
    ctx.overview = overview(
        &outcome,
        &trends,
        ctx.mail.as_ref(),
        &ctx.plan,
        &ctx.domains,
    );
    let (rollout_ctx, rollout_png) = rollout_context(job, &store, &outcome, report_until);
    ctx.rebuilt = rebuilt;
    ctx.rollout = rollout_ctx;
    // The TLS reports (RFC 8460) of the mail section's period.
    let tls_domains: Vec<(String, bool)> = outcome
        .domains
        .iter()
        .map(|d| (d.domain.clone(), crate::tls::asks_for_tls_reports(&d.facts)))
        .collect();
    let (tls_ctx, tls_png) =
        crate::tls::tls_context(job, &store, &tls_domains, window.start, window.end);
    ctx.tls = tls_ctx;
    // The DMARC failure reports of the same period.
    let failure_domains: Vec<(String, bool)> = outcome
        .domains
        .iter()
        .map(|d| {
            (
                d.domain.clone(),
                crate::failures::asks_for_failure_reports(&d.facts),
            )
        })
        .collect();
    ctx.failures =
        crate::failures::failures_context(job, &store, &failure_domains, window.start, window.end);
    // Whether the period's reports came from their reporters.
    let report_domains: Vec<String> = outcome.domains.iter().map(|d| d.domain.clone()).collect();
    ctx.report_auth = crate::report_auth::authenticity_context(
        job,
        &store,
        &report_domains,
        window.start,
        window.end,
    );
    if job == Cadence::Annual {
        ctx.as_built = crate::register::register(&outcome, ctx.rollout.as_ref(), &ctx.resolved);
    }
    ctx.data_gaps = store
        .damaged()
        .into_iter()
        .map(|d| report::DataGap {
            description: d.description,
            reason: d.reason,
        })
        .collect();
    for gap in &ctx.data_gaps {
        tracing::error!(
            "history data missing from this report: {}: {}",
            gap.description,
            gap.reason
        );
    }
    let ctx = ctx.sorted();

    // 4. render and write: the mail's HTML names its charts by Content-ID,
    // the file on disk by the PNG files beside it.
    let rendered = renderer.render(&ctx).map_err(|e| anyhow!("{e}"))?;
    let html_file = renderer
        .render_html(&ctx.for_files())
        .map_err(|e| anyhow!("{e}"))?;
    let report_dir = config.reports_dir.join(job.as_str()).join(&meta.period);
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("cannot create {}", report_dir.display()))?;
    write_atomic(&report_dir.join("report.html"), html_file.as_bytes())?;
    write_atomic(&report_dir.join("report.txt"), rendered.text.as_bytes())?;
    if !ctx.as_built.is_empty() {
        let md = crate::register::markdown(&meta.period, &ctx.generated_at, &ctx.as_built);
        write_atomic(&report_dir.join("as-built.md"), md.as_bytes())?;
        let html = crate::register::html(&meta.period, &ctx.generated_at, &ctx.as_built);
        write_atomic(&report_dir.join("as-built.html"), html.as_bytes())?;
    }
    if let Some(png) = &chart_png {
        write_atomic(&report_dir.join(CHART_FILE), png)?;
    }
    if let Some(png) = &mail_png {
        write_atomic(&report_dir.join(MAIL_CHART_FILE), png)?;
    }
    if let Some(png) = &rollout_png {
        write_atomic(&report_dir.join(ROLLOUT_CHART_FILE), png)?;
    }
    if let Some(png) = &tls_png {
        write_atomic(&report_dir.join(crate::tls::TLS_CHART_FILE), png)?;
    }
    fault_point("report");

    // 5. outbox, then SMTP
    let job_cfg = config.job(job);
    let outbox = Outbox::new(&config.reports_dir)?;
    let mut eml = None;
    if job_cfg.recipients.is_empty() {
        tracing::warn!(
            "no recipients for the {job} job ([jobs.{job}] recipients): the report is in {} but no message was written",
            report_dir.display()
        );
    } else {
        let from = config
            .smtp
            .as_ref()
            .map(|s| s.from.clone())
            .unwrap_or_else(|| "authwarden <authwarden@localhost>".to_string());
        let message = Message {
            from,
            to: job_cfg.recipients.clone(),
            subject: rendered.subject.clone(),
            text: rendered.text.clone(),
            html: rendered.html.clone(),
            inline_images: [
                (CHART_CID, &chart_png),
                (MAIL_CHART_CID, &mail_png),
                (ROLLOUT_CHART_CID, &rollout_png),
                (crate::tls::TLS_CHART_CID, &tls_png),
            ]
            .into_iter()
            .filter_map(|(cid, png)| {
                Some(InlineImage {
                    cid: cid.to_string(),
                    content_type: "image/png".into(),
                    data: png.as_ref()?.clone(),
                })
            })
            .collect(),
            date: started,
        };
        let queued = outbox.enqueue_keyed(&message, &meta.run_id)?;
        let path = queued.path;
        tracing::info!("message written to {}", path.display());
        eml = Some(path);
    }
    fault_point("outbox");
    // The report and its message are on disk: the run counts as delivered
    // (or queued) now, and only now.
    store
        .finish_run(&meta)
        .with_context(|| format!("cannot write the history in {}", store.root().display()))?;
    let flushed = flush_outbox(config, &outbox).await?;
    if eml.is_some() {
        if let Some((path, _)) = outbox.find_key(&meta.run_id)? {
            eml = Some(path);
        }
    }
    let mut rejected = flushed.rejected.clone();
    rejected.extend(flushed.refused_recipients.iter().map(|r| {
        (
            r.message.clone(),
            format!("recipient {} refused: {}", r.address, r.reply),
        )
    }));
    Ok(JobResult {
        ingested,
        meta,
        outcome,
        report_dir,
        eml,
        summary: ctx.summary.clone(),
        sent: flushed.sent.len(),
        unsent: flushed.failed,
        rejected,
        frame: findings_df,
        shard_file: None,
    })
}

/// Writes `bytes` to `path` through a synced temporary file and a rename,
/// so a reader never sees half a report.
fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    authwarden_api::fsutil::write_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// A test hook: with `AUTHWARDEN_FAULT_AFTER=<step>` in the environment
/// (`history`, `report` or `outbox`), the process aborts right after that
/// step of a job run, as a `kill -9` or a power cut would stop it there.
/// The end-to-end tests use it to prove that no step order loses a report.
fn fault_point(step: &str) {
    if std::env::var_os("AUTHWARDEN_FAULT_AFTER").is_some_and(|v| v == step) {
        eprintln!("AUTHWARDEN_FAULT_AFTER={step}: aborting the run here");
        std::process::abort();
    }
}

fn row(f: &Finding, status: FindingStatus, runs_open: u32, since: Option<String>) -> FindingRow {
    FindingRow {
        domain: f.domain.clone(),
        severity: f.severity,
        code: f.code.clone(),
        name: f.name.clone(),
        subject: f.subject.clone(),
        message: f.message.clone(),
        help: f.help.clone(),
        status,
        runs_open,
        since,
        evidence: f
            .evidence
            .iter()
            .map(|(k, v)| Fact::new(k.clone(), scalar(v)))
            .collect(),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

/// The facts keys whose lines come first in a domain's section, in this
/// order (DMARC posture, then SPF, DKIM, the sender inventory, the rollout
/// and parking); the facts of any other checker follow in the order of the
/// domain's facts.
const FACTS_ORDER: [&str; 6] = ["dmarc", "spf", "dkim", "inventory", "rollout", "parked"];

/// Facts a reader wants to see per domain, as each checker words its own
/// ([`authwarden_api::Checker::report_facts`]); facts of a key no checker of
/// the registry owns read as their scalar fields.
fn domain_facts(registry: &Registry, facts: &serde_json::Map<String, Value>) -> Vec<Fact> {
    let mut keys: Vec<&String> = facts.keys().collect();
    keys.sort_by_key(|k| {
        FACTS_ORDER
            .iter()
            .position(|o| o == k)
            .unwrap_or(FACTS_ORDER.len())
    });
    keys.into_iter()
        .flat_map(|key| {
            let value = &facts[key];
            match registry
                .checkers()
                .iter()
                .find(|c| c.info().facts_key == key.as_str())
            {
                Some(checker) => checker.report_facts(value),
                None => authwarden_api::generic_report_facts(key, value),
            }
        })
        .map(|f| Fact::new(f.label, f.value))
        .collect()
}

// Each argument is one stage's output; bundling them would only rename them.
#[allow(clippy::too_many_arguments)]
fn build_context(
    config: &Config,
    registry: &Registry,
    job: Cadence,
    meta: &RunMeta,
    outcome: &RunOutcome,
    comparison: &history::Comparison,
    planned: &[authwarden_engine::PlannedChecker],
    plans: &[authwarden_api::plan::DomainPlan],
) -> ReportContext {
    let status_of: BTreeMap<&str, &history::FindingStatus> = comparison
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r))
        .collect();
    let mut domains = Vec::new();
    for d in &outcome.domains {
        let mut findings = Vec::new();
        for f in outcome.findings.iter().filter(|f| f.domain == d.domain) {
            let key = history::finding_key(&f.domain, &f.code, &f.subject);
            let (status, runs, since) = match status_of.get(key.as_str()).map(|s| &s.status) {
                Some(history::Status::StillOpen { runs_open, since }) => {
                    (FindingStatus::Open, *runs_open, Some(since.clone()))
                }
                _ => (FindingStatus::New, 1, None),
            };
            findings.push(row(f, status, runs, since));
        }
        // Earlier findings this run could not re-check (its check of the
        // domain was incomplete): still open as far as anyone knows.
        for r in comparison.rows.iter().filter(|r| r.domain == d.domain) {
            if let history::Status::NotRechecked { runs_open, since } = &r.status {
                findings.push(FindingRow {
                    domain: r.domain.clone(),
                    severity: r.severity,
                    code: r.code.clone(),
                    name: r.name.clone(),
                    subject: r.subject.clone(),
                    message: r.message.clone(),
                    help: r.help.clone(),
                    status: FindingStatus::Open,
                    runs_open: *runs_open,
                    since: Some(since.clone()),
                    evidence: vec![Fact::new(
                        "not re-checked",
                        "this run's check of the domain did not complete; the finding stays open until a complete check",
                    )],
                });
            }
        }
        let passed = planned
            .iter()
            .filter_map(|p| {
                let info = p.checker.info();
                let fired: std::collections::BTreeSet<&str> = outcome
                    .findings
                    .iter()
                    .filter(|f| f.domain == d.domain && f.checker == info.id)
                    .map(|f| f.code.as_str())
                    .collect();
                let total = info.codes.len();
                let ok = total.saturating_sub(fired.len());
                (ok > 0).then(|| PassedCheck {
                    checker: info.id.to_string(),
                    summary: if fired.is_empty() {
                        format!("{} — all {total} checks passed", info.summary)
                    } else {
                        format!("{} — {ok} of {total} checks passed", info.summary)
                    },
                })
            })
            .collect();
        let status = DomainStatus::from_findings(&findings);
        domains.push(DomainSection {
            domain: d.domain.clone(),
            status,
            facts: domain_facts(registry, &d.facts),
            findings,
            passed,
            skipped: skipped_checks(&d.facts),
            profiles: profile_tables(&d.facts),
        });
    }
    let resolved: Vec<FindingRow> = comparison
        .rows
        .iter()
        .filter(|r| matches!(r.status, history::Status::Resolved))
        .map(|r| FindingRow {
            domain: r.domain.clone(),
            severity: r.severity,
            code: r.code.clone(),
            name: r.name.clone(),
            subject: r.subject.clone(),
            message: r.message.clone(),
            help: r.help.clone(),
            status: FindingStatus::Resolved,
            runs_open: 0,
            since: None,
            evidence: Vec::new(),
        })
        .collect();
    let summary = Summary::tally(&domains, &resolved);
    // The most urgent first: domains with errors, then warnings, then the
    // rest, each group in the config's order.
    let mut plan: Vec<report::PlanSection> =
        plans.iter().filter_map(report::PlanSection::of).collect();
    let urgency = |domain: &str| {
        let worst = outcome
            .findings
            .iter()
            .filter(|f| f.domain == domain)
            .map(|f| f.severity)
            .max();
        std::cmp::Reverse(worst)
    };
    plan.sort_by_key(|p| urgency(&p.domain));
    ReportContext {
        job,
        period: meta.period.clone(),
        generated_at: meta.started_at_rfc3339(),
        organisation: None,
        summary,
        domains,
        resolved,
        rebuilt: None,
        as_built: Vec::new(),
        overview: Vec::new(),
        plan,
        chart: None,
        is_audit: job == Cadence::Annual,
        mail: None,
        rollout: None,
        data_gaps: Vec::new(),
        tls: None,
        failures: None,
        report_auth: None,
    }
    .with_timezone_note(config)
}

trait TzNote {
    fn with_timezone_note(self, config: &Config) -> Self;
}

impl TzNote for ReportContext {
    fn with_timezone_note(mut self, config: &Config) -> Self {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&self.generated_at) {
            self.generated_at = t
                .with_timezone(&config.timezone)
                .format("%Y-%m-%d %H:%M %Z")
                .to_string();
        }
        self
    }
}

/// How many (domain, checker) pairs of a run could not complete: a
/// "check incomplete" finding (a DNS timeout or failure) or a checker that
/// crashed or ran out of time ([`RunOutcome::incomplete_checks`]).
pub fn incomplete_checks(outcome: &RunOutcome) -> usize {
    outcome.incomplete_checks().len()
}

/// Ingests the reports of `[ingest] folders` and, with `[imap]`, the
/// mailbox, before a job's checks. Nothing here fails the run: a broken
/// report is logged with its file and reason, an unreachable mailbox or an
/// unwritable history with the error, and the job goes on with the history
/// as it is.
async fn ingest_new_reports(config: &Config) -> Option<crate::intake::IngestSummary> {
    let folders: Vec<_> = config
        .ingest
        .folders
        .iter()
        .filter(|f| {
            let exists = f.exists();
            if !exists {
                tracing::warn!("[ingest] folder {} does not exist", f.display());
            }
            exists
        })
        .cloned()
        .collect();
    let imap = config.imap.is_some();
    if folders.is_empty() && !imap {
        return None;
    }
    // On a blocking thread: parsing and writing Parquet are CPU and disk
    // work, and this works on any runtime flavour.
    let config = config.clone();
    let handle = tokio::runtime::Handle::current();
    let result = tokio::task::spawn_blocking(move || {
        handle.block_on(crate::intake::ingest_all(
            &config,
            &folders,
            imap,
            config.ingest.reverse_dns,
        ))
    })
    .await;
    match result {
        Err(e) => {
            tracing::warn!("aggregate reports not ingested: {e}");
            None
        }
        Ok(Err(e)) => {
            tracing::warn!("aggregate reports not ingested: {e:#}");
            None
        }
        Ok(Ok((summary, warnings))) => {
            for w in warnings {
                tracing::warn!("{w}");
            }
            for e in &summary.errors {
                tracing::warn!("report not ingested: {}: {}", e.file, e.reason);
            }
            tracing::info!(
                new = summary.new,
                already_ingested = summary.already_ingested,
                rows = summary.rows,
                errors = summary.errors.len(),
                "aggregate reports ingested"
            );
            Some(summary)
        }
    }
}

/// Merges the aggregate dataset's partitions of many files into one each
/// (`history compact`). A failure is logged: the history stays as it was.
async fn compact_history(config: &Config) {
    let store = HistoryStore::new(&config.history_dir);
    match tokio::task::spawn_blocking(move || store.compact_aggregate()).await {
        Ok(Ok(s)) => {
            for (partition, reason) in &s.skipped {
                tracing::warn!("history partition {partition} not compacted: {reason}");
            }
            if s.partitions > 0 {
                tracing::info!(
                    partitions = s.partitions,
                    files_before = s.files_before,
                    rows = s.rows,
                    "history compacted"
                );
            }
        }
        Ok(Err(e)) => tracing::warn!("history not compacted: {e}"),
        Err(e) => tracing::warn!("history not compacted: {e}"),
    }
}

/// The mail summary's period: the last whole month, quarter or year before
/// the run's day (the monthly run on 1 December covers November), as the
/// UTC days of those dates, which is how aggregate reports count; its
/// pass-rate series runs weekly over the last 6 months, 4 quarters or 2
/// years.
fn mail_query(job: Cadence, today: chrono::NaiveDate, config: &Config) -> history::MailQuery {
    use chrono::{Datelike, Months, NaiveDate};
    let (months, trend) = match job {
        Cadence::Monthly => (1, 6),
        Cadence::Quarterly => (3, 12),
        Cadence::Annual => (12, 24),
    };
    let first = |d: NaiveDate| {
        let month = match job {
            Cadence::Monthly => d.month(),
            Cadence::Quarterly => (d.month() - 1) / 3 * 3 + 1,
            Cadence::Annual => 1,
        };
        NaiveDate::from_ymd_opt(d.year(), month, 1).unwrap_or(d)
    };
    let end = first(today);
    let start = end - Months::new(months);
    let trend_start = end - Months::new(trend);
    let utc = |d: NaiveDate| d.and_time(chrono::NaiveTime::MIN).and_utc();
    let mut q = history::MailQuery::new(utc(start), utc(end));
    q.trend_start = utc(trend_start);
    // "New" senders: none of their mail in the chart's months before.
    q.known_since = q.trend_start;
    q.bucket = history::Bucket::Week;
    // Only the configured domains: reports about other domains (a typo in
    // someone's rua, a domain no longer configured) are not "your" mail.
    q.with_domains(config.domains.iter().map(|d| d.name.as_str()))
}

/// The window of the DMARC rollout section, in UTC: the last 12 whole months
/// and the run's own days for the monthly report, the last whole year and
/// the days since for the annual audit (the audit on 1 January covers the
/// year just ended); `None` for the quarterly report, which does not show it.
fn rollout_window(
    job: Cadence,
    started: chrono::DateTime<chrono::Utc>,
) -> Option<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> {
    use chrono::{Datelike, Months, NaiveDate};
    let today = started.date_naive();
    let first = match job {
        Cadence::Monthly => NaiveDate::from_ymd_opt(today.year(), today.month(), 1),
        Cadence::Annual => NaiveDate::from_ymd_opt(today.year(), 1, 1),
        Cadence::Quarterly => return None,
    }
    .unwrap_or(today);
    let from = first - Months::new(12);
    Some((from.and_time(chrono::NaiveTime::MIN).and_utc(), started))
}

/// The report's DMARC rollout section from the phases in the history (runs
/// of every job), for the domains of this run, and the timeline chart.
fn rollout_context(
    job: Cadence,
    store: &HistoryStore,
    outcome: &RunOutcome,
    started: chrono::DateTime<chrono::Utc>,
) -> (Option<report::RolloutTimeline>, Option<Vec<u8>>) {
    let Some((from, until)) = rollout_window(job, started) else {
        return (None, None);
    };
    let history = match history::rollout_history(store, from, until) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("rollout history unavailable: {e}");
            return (None, None);
        }
    };
    let checked: std::collections::BTreeSet<&str> =
        outcome.domains.iter().map(|d| d.domain.as_str()).collect();
    let mut history: Vec<_> = history
        .into_iter()
        .filter(|d| checked.contains(d.domain.as_str()))
        .map(|d| with_advisor_phases(d, outcome, from, until))
        .collect();
    // Domains no run of the window saw (a report rebuilt for a past
    // period, a first run) still have the advisor's phase history.
    for domain in &checked {
        if history.iter().any(|d| d.domain == *domain) {
            continue;
        }
        let blank = history::DomainRollout {
            domain: domain.to_string(),
            at_start: None,
            changes: Vec::new(),
            current: authwarden_dmarc::DomainPhase::NoRecord,
            since: until,
            last_seen: until,
        };
        let d = with_advisor_phases(blank.clone(), outcome, from, until);
        if d != blank {
            history.push(d);
        }
    }
    history.sort_by(|a, b| a.domain.cmp(&b.domain));
    if history.is_empty() {
        return (None, None);
    }
    let day = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let domains: Vec<report::RolloutDomain> = history
        .iter()
        .map(|d| report::RolloutDomain {
            domain: d.domain.clone(),
            phase: d.current.describe(),
            since: day(d.since),
            weeks_in_phase: u32::try_from((until - d.since).num_weeks().max(0)).unwrap_or(0),
            at_start: d.at_start.map(|p| p.describe()),
            changes: d
                .changes
                .iter()
                .map(|c| report::RolloutChange {
                    date: day(c.at),
                    from: c.from.map(|p| p.describe()),
                    to: c.to.describe(),
                })
                .collect(),
        })
        .collect();
    let rows: Vec<report::PhaseRow> = history
        .iter()
        .map(|d| report::PhaseRow {
            domain: d.domain.clone(),
            phases: d
                .at_start
                .iter()
                .map(|p| (from.date_naive(), *p))
                .chain(d.changes.iter().map(|c| (c.at.date_naive(), c.to)))
                .collect(),
        })
        .collect();
    // A timeline needs time: while every phase was first seen on the run's
    // own day (the first run of a history), the section lists the phases
    // without a chart of one-day slivers.
    let first_day = rows
        .iter()
        .filter_map(|r| r.phases.first().map(|p| p.0))
        .min()
        .unwrap_or(until.date_naive());
    // Room for the legend in two columns and a row per domain.
    let height = (260 + 64 * rows.len() as u32).clamp(450, 4000);
    let png = if first_day >= until.date_naive() {
        None
    } else {
        match report::phase_timeline_png(&rows, from.date_naive(), until.date_naive(), 1184, height)
        {
            Ok(png) => Some(png),
            Err(e) => {
                tracing::warn!("no rollout chart: {e}");
                None
            }
        }
    };
    const NAMED: usize = 8;
    let mut alt: Vec<String> = domains
        .iter()
        .take(NAMED)
        .map(|d| format!("{} {} since {}", d.domain, d.phase, d.since))
        .collect();
    if domains.len() > NAMED {
        alt.push(format!("and {} more", domains.len() - NAMED));
    }
    let timeline = report::RolloutTimeline {
        from: day(from),
        until: day(until),
        chart: png.as_ref().map(|_| {
            Chart::new(
                ROLLOUT_CHART_CID,
                ROLLOUT_CHART_FILE,
                format!(
                    "DMARC phase per domain from {} to {}: {}",
                    day(from),
                    day(until),
                    alt.join(", ")
                ),
            )
        }),
        domains,
    };
    (Some(timeline), png)
}

/// The receiver-rule profiles of a domain's facts as the report shows them:
/// the rules that apply, with their status.
fn profile_tables(facts: &serde_json::Map<String, Value>) -> Vec<report::ProfileTable> {
    use authwarden_profiles::{ProfileResult, RuleStatus};
    let Some(list) = facts
        .get(crate::assess::PROFILES_KEY)
        .and_then(|v| serde_json::from_value::<Vec<ProfileResult>>(v.clone()).ok())
    else {
        return Vec::new();
    };
    list.into_iter()
        .map(|p| {
            let not_applicable = p
                .rules
                .iter()
                .filter(|r| r.status == RuleStatus::NotApplicable)
                .count();
            report::ProfileTable {
                name: p.name,
                applies: p.applies,
                verdict: p.verdict,
                rules: p
                    .rules
                    .into_iter()
                    .filter(|r| r.status != RuleStatus::NotApplicable)
                    .map(|r| report::ProfileRule {
                        status: match r.status {
                            RuleStatus::Pass => "PASS",
                            RuleStatus::Fail => "FAIL",
                            _ => "NOT VISIBLE",
                        }
                        .into(),
                        rule: r.rule,
                        source: r.source,
                        evidence: r.evidence,
                    })
                    .collect(),
                not_applicable,
            }
        })
        .collect()
}

/// The checks a checker skipped for the domain, from the `skipped` list of
/// its facts (`[{"kind": ..., "reason": ...}]`), the kinds of one reason
/// together: `inventory: stale not checked: the reports cover 42 days,
/// staleness needs 90`.
fn skipped_checks(facts: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    for (key, value) in facts {
        let Some(list) = value.get("skipped").and_then(Value::as_array) else {
            continue;
        };
        let mut by_reason: Vec<(String, Vec<String>)> = Vec::new();
        for s in list {
            let (Some(kind), Some(reason)) = (s["kind"].as_str(), s["reason"].as_str()) else {
                continue;
            };
            match by_reason.iter_mut().find(|(r, _)| r == reason) {
                Some((_, kinds)) => kinds.push(kind.to_string()),
                None => by_reason.push((reason.to_string(), vec![kind.to_string()])),
            }
        }
        for (reason, kinds) in by_reason {
            out.push(format!("{key}: {} not checked: {reason}", kinds.join(", ")));
        }
    }
    out
}

/// The overview table: per domain its score and the change since the
/// previous run of the job (from the trend, whose last point is this run),
/// the DMARC phase, the SPF lookups, the oldest DKIM key, the aligned pass
/// rate of the period and the number of steps in its plan.
fn overview(
    outcome: &RunOutcome,
    trends: &[history::DomainTrend],
    mail: Option<&report::MailSummary>,
    plan: &[report::PlanSection],
    sections: &[DomainSection],
) -> Vec<report::OverviewRow> {
    outcome
        .domains
        .iter()
        .map(|d| {
            let score = crate::assess::score_of(&d.facts).unwrap_or(0);
            let previous = trends.iter().find(|t| t.domain == d.domain).and_then(|t| {
                let n = t.points.len();
                (n >= 2).then(|| t.points[n - 2].score).flatten()
            });
            let change = previous
                .map(|p| match i64::from(score) - p {
                    0 => "±0".to_string(),
                    c if c > 0 => format!("+{c}"),
                    c => c.to_string(),
                })
                .unwrap_or_default();
            let change_note = if change.is_empty() {
                String::new()
            } else {
                format!(" ({change} since the last run)")
            };
            // A checker that is not in this job says so, never "none".
            let phase = match d.facts.get("dmarc") {
                None => "not in this job".to_string(),
                Some(f) => f
                    .get("phase")
                    .and_then(Value::as_str)
                    .unwrap_or("no DMARC record")
                    .to_string(),
            };
            let spf_lookups = match d.facts.get("spf") {
                None => "not in this job".to_string(),
                Some(f) => f
                    .get("dns_lookups")
                    .and_then(Value::as_u64)
                    .map(|n| format!("{n}/10"))
                    .unwrap_or_else(|| "no SPF record".into()),
            };
            let oldest_dkim_key = oldest_key(d.facts.get("dkim"));
            let pass_rate = mail
                .and_then(|m| m.domains.iter().find(|m| m.domain == d.domain))
                .map(|m| m.pass_percent.clone())
                .unwrap_or_else(|| "no reports".into());
            let open_actions = plan
                .iter()
                .find(|p| p.domain == d.domain)
                .map_or(0, |p| p.steps.len());
            let profiles = sections
                .iter()
                .find(|s| s.domain == d.domain)
                .map(|s| s.profiles.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|p| format!("{}: {}", short_profile(&p.name), p.verdict))
                .collect::<Vec<_>>()
                .join(" · ");
            report::OverviewRow {
                profiles,
                domain: d.domain.clone(),
                score,
                change,
                change_note,
                phase,
                spf_lookups,
                oldest_dkim_key,
                pass_rate,
                open_actions,
            }
        })
        .collect()
}

/// A profile's name as the overview says it.
fn short_profile(name: &str) -> &str {
    match name {
        "Gmail and Yahoo sender requirements" => "Gmail/Yahoo",
        "Outlook.com high-volume sender requirements" => "Outlook.com",
        "RFC 9989 (DMARCbis)" => "RFC 9989",
        "M3AAWG DKIM key practice" => "M3AAWG DKIM",
        other => other,
    }
}

/// The oldest published DKIM key in the dkim facts (a list of selectors):
/// `s1, 412 days`, `s1, age unknown`, `none published`, or `not in this
/// job` (the DKIM checker runs quarterly by default).
fn oldest_key(dkim: Option<&Value>) -> String {
    let Some(list) = dkim.and_then(Value::as_array) else {
        return "not in this job".into();
    };
    let found: Vec<&Value> = list.iter().filter(|s| s["found"] == true).collect();
    let aged = found
        .iter()
        .filter_map(|s| Some((s["key_age_days"].as_u64()?, s["selector"].as_str()?)))
        .max();
    match (aged, found.first()) {
        (Some((days, selector)), _) => format!("{selector}, {days} days"),
        (None, Some(s)) => format!("{}, age unknown", s["selector"].as_str().unwrap_or("?")),
        (None, None) => "none published".into(),
    }
}

/// The domain's rollout as the rollout advisor of this run sees it, when
/// it has a phase history (its own, begun from the published policies of
/// the aggregate reports): so that the DMARC ROLLOUT section and the
/// advisor state one phase age. Otherwise the runs' view as it is.
fn with_advisor_phases(
    mut d: history::DomainRollout,
    outcome: &RunOutcome,
    from: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> history::DomainRollout {
    use authwarden_dmarc::{DomainPhase, Phase, RolloutFacts};
    let Some(facts) = outcome
        .domains
        .iter()
        .find(|r| r.domain == d.domain)
        .and_then(|r| r.facts.get("rollout"))
        .and_then(|v| serde_json::from_value::<RolloutFacts>(v.clone()).ok())
    else {
        return d;
    };
    // Phases begun after the window (a report rebuilt for a past period)
    // are not part of it.
    let entries: Vec<(chrono::DateTime<chrono::Utc>, DomainPhase)> = facts
        .phases
        .iter()
        .filter_map(|p| {
            let day = chrono::NaiveDate::parse_from_str(&p.since, "%Y-%m-%d").ok()?;
            Some((
                day.and_time(chrono::NaiveTime::MIN).and_utc(),
                DomainPhase::published(Phase::new(p.phase, p.pct, p.testing)),
            ))
        })
        .filter(|(at, _)| *at <= until)
        .collect();
    let Some((since, current)) = entries.last().cloned() else {
        return d;
    };
    if since > until {
        return d;
    }
    d.current = current;
    d.since = since;
    d.at_start = entries
        .iter()
        .rev()
        .find(|(at, _)| *at < from)
        .map(|(_, p)| *p);
    d.changes = entries
        .iter()
        .enumerate()
        .filter(|(_, (at, _))| *at >= from && *at <= until)
        .map(|(i, (at, to))| history::PhaseChange {
            at: *at,
            run_id: String::new(),
            from: i.checked_sub(1).map(|j| entries[j].1),
            to: *to,
        })
        .collect();
    d
}

/// The report's mail section from the history's summary, and the pass-rate
/// chart when there are points to draw.
fn mail_context(
    job: Cadence,
    m: &history::MailSummary,
) -> (Option<report::MailSummary>, Option<Vec<u8>>) {
    let day = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d").to_string();
    let series: Vec<report::PassRateSeries> = m
        .domains
        .iter()
        .filter(|d| !d.pass_rate.is_empty())
        .map(|d| report::PassRateSeries {
            domain: d.domain.clone(),
            points: d
                .pass_rate
                .iter()
                .map(|p| (p.start.format("%Y-%m-%d").to_string(), p.messages, p.pass))
                .collect(),
        })
        .collect();
    let png = if series.is_empty() {
        None
    } else {
        report::pass_rate_chart_png(&series, "week starting (UTC)", 1184, 560)
            .map_err(|e| tracing::warn!("no pass-rate chart: {e}"))
            .ok()
    };
    let first_week = series
        .iter()
        .filter_map(|s| s.points.first().map(|p| p.0.clone()))
        .min();
    let more = |total: u64, shown: usize| total.saturating_sub(shown as u64);
    let summary = report::MailSummary {
        period: history::period_for(job, m.start),
        first_day: day(&m.start),
        last_day: day(&(m.end - chrono::Duration::days(1))),
        unit: match job {
            Cadence::Monthly => "month",
            Cadence::Quarterly => "quarter",
            Cadence::Annual => "year",
        }
        .to_string(),
        reports: m.reports,
        messages: m.messages,
        pass_percent: report::percent(m.pass, m.messages),
        pass: m.pass,
        partial: m.partial,
        fail: m.fail,
        latest_report: m.latest_report.as_ref().map(day),
        domains: m
            .domains
            .iter()
            .map(|d| report::MailDomain {
                domain: d.domain.clone(),
                reports: d.reports,
                messages: d.messages,
                pass: d.pass,
                partial: d.partial,
                fail: d.fail,
                pass_percent: report::percent(d.pass, d.messages),
                failing_sources: d
                    .failing_sources
                    .iter()
                    .map(|f| report::FailingSource {
                        source_ip: f.source_ip.clone(),
                        provider: f.provider.clone(),
                        category: f.category.clone(),
                        cause: f.cause.clone(),
                        action: f.action.clone(),
                        header_from: f.header_from.clone(),
                        messages: f.messages,
                    })
                    .collect(),
                failing_sources_more: more(d.failing_sources_total, d.failing_sources.len()),
                new_sources: d
                    .new_sources
                    .iter()
                    .map(|n| report::NewSource {
                        source_ip: n.source_ip.clone(),
                        provider: n.provider.clone(),
                        messages: n.messages,
                        pass: n.pass,
                        partial: n.partial,
                        fail: n.fail,
                        first_seen: day(&n.first_seen),
                    })
                    .collect(),
                new_sources_more: more(d.new_sources_total, d.new_sources.len()),
            })
            .collect(),
        chart: png.as_ref().map(|_| {
            Chart::new(
                MAIL_CHART_CID,
                MAIL_CHART_FILE,
                format!(
                    "share of messages with SPF and DKIM aligned per week and domain, from the week of {} to {}",
                    first_week.as_deref().unwrap_or("?"),
                    day(&(m.end - chrono::Duration::days(1)))
                ),
            )
        }),
    };
    (Some(summary), png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_engine::DomainReport;
    use chrono::{TimeZone as _, Utc};
    use serde_json::json;

    fn at(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 6, 0, 0).unwrap()
    }

    #[test]
    fn the_rollout_window_is_twelve_months_or_the_year_just_ended() {
        let day = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%d").to_string();
        let (from, until) = rollout_window(Cadence::Monthly, at(2026, 12, 1)).unwrap();
        assert_eq!((day(from), until), ("2025-12-01".into(), at(2026, 12, 1)));
        let (from, _) = rollout_window(Cadence::Monthly, at(2026, 12, 17)).unwrap();
        assert_eq!(day(from), "2025-12-01");
        let (from, _) = rollout_window(Cadence::Annual, at(2027, 1, 1)).unwrap();
        assert_eq!(day(from), "2026-01-01");
        assert_eq!(rollout_window(Cadence::Quarterly, at(2026, 10, 1)), None);
    }

    /// Appends a run whose only domains have these `dmarc` facts.
    fn run(
        store: &HistoryStore,
        job: Cadence,
        started: chrono::DateTime<Utc>,
        facts: &[(&str, Value)],
    ) {
        let meta = RunMeta::new(Some(job), started);
        let domains: Vec<history::DomainFacts> = facts
            .iter()
            .map(|(domain, dmarc)| history::DomainFacts {
                domain: domain.to_string(),
                facts: serde_json::Map::from_iter([("dmarc".to_string(), dmarc.clone())]),
            })
            .collect();
        let findings = history::findings_frame(&meta, &[]).unwrap();
        let summary = history::summary_frame(&meta, &[], &domains).unwrap();
        store.append(&meta, &findings, &summary).unwrap();
    }

    fn outcome(domains: &[&str]) -> RunOutcome {
        RunOutcome {
            findings: Vec::new(),
            domains: domains
                .iter()
                .map(|d| DomainReport {
                    domain: d.to_string(),
                    facts: serde_json::Map::new(),
                    proposals: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_rollout_section_lists_this_runs_domains_with_a_chart_once_there_is_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path());
        let none = json!({"status": "found", "policy": "none", "pct": 100, "testing": false});
        let quarantine =
            json!({"status": "found", "policy": "quarantine", "pct": 25, "testing": true});
        run(
            &store,
            Cadence::Monthly,
            at(2026, 11, 1),
            &[("a.example", none.clone()), ("gone.example", none.clone())],
        );

        // The first run of a history: phases, no chart.
        let (ctx, png) = rollout_context(
            Cadence::Monthly,
            &store,
            &outcome(&["a.example"]),
            at(2026, 11, 1),
        );
        let ctx = ctx.unwrap();
        assert!(png.is_none() && ctx.chart.is_none());
        assert_eq!(ctx.domains.len(), 1, "only the domains of this run");

        run(
            &store,
            Cadence::Monthly,
            at(2026, 12, 1),
            &[("a.example", quarantine)],
        );
        let (ctx, png) = rollout_context(
            Cadence::Monthly,
            &store,
            &outcome(&["a.example"]),
            at(2026, 12, 1),
        );
        let ctx = ctx.unwrap();
        assert!(png.unwrap().starts_with(b"\x89PNG"));
        assert_eq!(ctx.chart.unwrap().cid, ROLLOUT_CHART_CID);
        assert_eq!(
            (ctx.from.as_str(), ctx.until.as_str()),
            ("2025-12-01", "2026-12-01")
        );
        let a = &ctx.domains[0];
        assert_eq!(
            (a.phase.as_str(), a.since.as_str(), a.weeks_in_phase),
            ("quarantine pct 25 (testing)", "2026-12-01", 0)
        );
        let changes: Vec<_> = a
            .changes
            .iter()
            .map(|c| (c.date.as_str(), c.from.as_deref(), c.to.as_str()))
            .collect();
        assert_eq!(
            changes,
            [
                ("2026-11-01", None, "none"),
                ("2026-12-01", Some("none"), "quarantine pct 25 (testing)")
            ]
        );

        // The quarterly report has no rollout section.
        assert_eq!(
            rollout_context(
                Cadence::Quarterly,
                &store,
                &outcome(&["a.example"]),
                at(2027, 1, 1)
            ),
            (None, None)
        );
    }
}
