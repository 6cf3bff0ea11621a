//! `authwarden check`: run every enabled checker on the given domains now.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;

use authwarden_api::text::{display_value, NAME_MAX_CHARS, TEXT_MAX_CHARS};
use authwarden_api::{Severity, SystemClock};
use authwarden_engine::{Engine, RunOutcome};
use authwarden_registry::Registry;
use clap::Args;

use crate::{setup, Format, GlobalArgs, EXIT_FINDINGS, EXIT_OK};

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Domains to check [default: the domains of the config file]
    pub domains: Vec<String>,
    /// Run only these checkers (repeatable)
    #[arg(long = "checker", value_name = "ID")]
    pub checkers: Vec<String>,
    /// With --format csv|parquet: write the findings frame here instead of standard output
    #[arg(long, value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
    /// Also probe this DKIM selector at every domain (repeatable; added to
    /// `[domains.dkim] selectors`)
    #[arg(long = "selector", value_name = "NAME")]
    pub selectors: Vec<String>,
    /// Probe the whole DKIM selector catalog at every domain (by default
    /// `check` and the monthly job probe the selectors with evidence: config,
    /// reports, key history and the providers the SPF record and the
    /// inventory name; the quarterly and annual jobs probe the catalog)
    #[arg(long)]
    pub probe_catalog: bool,
    /// Check only the domains of shard I of N (a stable hash of the
    /// domain name), e.g. `--shard 2/4`
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<authwarden_api::domain::Shard>,
}

pub use authwarden_pipeline::setup::{planned, targets, with_selectors};

/// `I/N` for `--shard`.
pub fn parse_shard(s: &str) -> Result<authwarden_api::domain::Shard, String> {
    authwarden_api::domain::Shard::parse(s)
}

/// Runs `check`.
pub async fn run(global: &GlobalArgs, args: &CheckArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let mut targets = with_selectors(targets(&config, &args.domains)?, &args.selectors);
    if let Some(shard) = args.shard {
        targets.retain(|t| shard.contains(&t.name));
    }
    let resolver = setup::resolver(&config)?;
    let mut planned = planned(registry, &config, &args.checkers)?;
    if args.probe_catalog {
        authwarden_pipeline::setup::probe_catalog(&mut planned);
    }
    let engine = Engine::new(planned.clone()).levels(config.levels.clone());
    let ctx = authwarden_pipeline::run_context(
        &config,
        resolver.clone(),
        Arc::new(SystemClock),
        authwarden_pipeline::RunKind::Check,
    );
    if global.format == Format::Text {
        return run_text(&engine, &ctx, &targets, &planned, &resolver).await;
    }
    if global.format == Format::Json {
        return run_json(&engine, &ctx, &targets, &planned, &config, &resolver).await;
    }
    let mut outcome = engine.run(&ctx, &targets, &|| {}).await;
    authwarden_pipeline::assess::add_scores(&mut outcome, &planned);
    tracing::info!(queries = resolver.queries_sent(), "DNS queries sent");
    let meta = authwarden_history::RunMeta::new(None, chrono::Utc::now());
    let mut frame = authwarden_history::findings_frame(&meta, &outcome.findings)?;
    crate::jobs::export(global.format, &mut frame, args.output.as_ref())?;
    Ok(check_status(&outcome))
}

/// One JSON array being written an element at a time, each element
/// pretty-printed at the depth of a member of the top-level object (the
/// same bytes as `serde_json::to_writer_pretty` of the whole object).
struct JsonArray<W: Write> {
    out: W,
    empty: bool,
}

impl<W: Write> JsonArray<W> {
    fn new(out: W) -> Self {
        JsonArray { out, empty: true }
    }

    fn push(&mut self, value: &impl serde::Serialize) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
        self.out
            .write_all(if self.empty { b"\n" } else { b",\n" })?;
        self.empty = false;
        for (i, line) in text.lines().enumerate() {
            if i > 0 {
                self.out.write_all(b"\n")?;
            }
            self.out.write_all(b"    ")?;
            self.out.write_all(line.as_bytes())?;
        }
        Ok(())
    }

    /// The closing bracket (`[]` when nothing was pushed: the opening one
    /// is the caller's).
    fn close(mut self) -> std::io::Result<W> {
        if !self.empty {
            self.out.write_all(b"\n  ")?;
        }
        self.out.write_all(b"]")?;
        Ok(self.out)
    }
}

/// `check --format json`: the domains in batches of [`TEXT_BATCH`] like the
/// text output, so memory follows the batch, not the fleet. The findings
/// go to standard output as each batch is checked; the domains (which come
/// after them in the document) wait in an anonymous temporary file and are
/// copied after the last batch. The document is the one a single run
/// would print, byte for byte.
async fn run_json(
    engine: &Engine,
    ctx: &authwarden_api::CheckContext,
    targets: &[authwarden_api::DomainTarget],
    planned: &[authwarden_engine::PlannedChecker],
    config: &authwarden_config::Config,
    resolver: &Arc<dyn authwarden_api::Resolver>,
) -> anyhow::Result<u8> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    out.write_all(b"{\n  \"findings\": [")?;
    let mut findings = JsonArray::new(out);
    let spool = tempfile::tempfile().context("cannot make a temporary file for the domains")?;
    let mut domains = JsonArray::new(std::io::BufWriter::with_capacity(1 << 16, spool));
    let (mut incomplete, mut errors) = (false, false);
    // The profiles read the reports of the last 30 days. Only the JSON
    // shows them: the other formats skip them (their rule texts are most
    // of a domain's facts).
    let now = chrono::Utc::now();
    for batch in targets.chunks(TEXT_BATCH) {
        let mut outcome = engine.run(ctx, batch, &|| {}).await;
        authwarden_pipeline::assess::add_scores(&mut outcome, planned);
        authwarden_pipeline::assess::add_profiles(
            &mut outcome,
            ctx,
            config,
            now - chrono::Duration::days(30),
            now,
        );
        for f in &outcome.findings {
            findings.push(f)?;
        }
        for d in &outcome.domains {
            domains.push(d)?;
        }
        incomplete |= authwarden_pipeline::job::incomplete_checks(&outcome) > 0;
        errors |= outcome.has_errors();
    }
    tracing::info!(queries = resolver.queries_sent(), "DNS queries sent");
    let mut out = findings.close()?;
    out.write_all(b",\n  \"domains\": [")?;
    let mut spool = domains
        .close()?
        .into_inner()
        .map_err(|e| anyhow::anyhow!("cannot write the temporary file: {}", e.error()))?;
    spool.flush()?;
    use std::io::Seek as _;
    spool.seek(std::io::SeekFrom::Start(0))?;
    std::io::copy(&mut spool, &mut out)?;
    out.write_all(b"\n}\n")?;
    out.flush()?;
    Ok(exit_status(incomplete, errors))
}

/// How many domains the text output checks at a time: each batch's
/// findings and facts are printed and dropped before the next, so memory
/// follows the batch, not the fleet.
const TEXT_BATCH: usize = 256;

/// `check` in text: the domains in batches of [`TEXT_BATCH`], each printed
/// as soon as it is checked (in the order given), then the totals.
async fn run_text(
    engine: &Engine,
    ctx: &authwarden_api::CheckContext,
    targets: &[authwarden_api::DomainTarget],
    planned: &[authwarden_engine::PlannedChecker],
    resolver: &Arc<dyn authwarden_api::Resolver>,
) -> anyhow::Result<u8> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let mut totals = authwarden_engine::SeverityCounts::default();
    let (mut incomplete, mut errors) = (false, false);
    for batch in targets.chunks(TEXT_BATCH) {
        let mut outcome = engine.run(ctx, batch, &|| {}).await;
        authwarden_pipeline::assess::add_scores(&mut outcome, planned);
        print_domains(&mut out, &outcome)?;
        out.flush()?;
        let c = outcome.counts();
        totals.errors += c.errors;
        totals.warnings += c.warnings;
        totals.notes += c.notes;
        incomplete |= authwarden_pipeline::job::incomplete_checks(&outcome) > 0;
        errors |= outcome.has_errors();
    }
    tracing::info!(queries = resolver.queries_sent(), "DNS queries sent");
    print_totals(&mut out, targets.len(), totals, resolver.queries_sent())?;
    out.flush()?;
    Ok(exit_status(incomplete, errors))
}

/// Checks that could not complete first (the result is not the whole
/// picture), then error-level findings.
fn check_status(outcome: &RunOutcome) -> u8 {
    exit_status(
        authwarden_pipeline::job::incomplete_checks(outcome) > 0,
        outcome.has_errors(),
    )
}

/// The exit status of a check with (or without) incomplete checks and
/// error-level findings.
fn exit_status(incomplete: bool, errors: bool) -> u8 {
    if incomplete {
        crate::EXIT_INCOMPLETE
    } else if errors {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

fn label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error  ",
        Severity::Warning => "warning",
        Severity::Note => "note   ",
    }
}

/// Each domain of `outcome` with its facts and findings, the more severe
/// first.
fn print_domains(out: &mut impl Write, outcome: &RunOutcome) -> std::io::Result<()> {
    let mut by_domain: std::collections::HashMap<&str, Vec<&authwarden_api::Finding>> =
        std::collections::HashMap::new();
    for f in &outcome.findings {
        by_domain.entry(f.domain.as_str()).or_default().push(f);
    }
    for d in &outcome.domains {
        writeln!(out, "{}", display_value(&d.domain, NAME_MAX_CHARS))?;
        if let Some(score) = authwarden_pipeline::assess::score_of(&d.facts) {
            writeln!(out, "  score: {score}/100 (docs/SCORE.md)")?;
        }
        if let Some(dmarc) = d.facts.get("dmarc") {
            if let Some(phase) = dmarc.get("phase").and_then(|v| v.as_str()) {
                writeln!(out, "  dmarc phase: {phase}")?;
            }
        }
        if let Some(spf) = d.facts.get("spf") {
            if let Some(n) = spf.get("dns_lookups").and_then(|v| v.as_u64()) {
                let voids = spf
                    .get("void_lookups")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                writeln!(
                    out,
                    "  spf: {n}/10 DNS lookups, {voids}/2 void lookups, {}",
                    spf.get("all").and_then(|v| v.as_str()).unwrap_or("no all")
                )?;
            }
        }
        let mut findings = by_domain.remove(d.domain.as_str()).unwrap_or_default();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        // The lookup tree with per-term costs, when there is an SPF finding
        // to act on: it shows where the lookups and voids come from.
        if findings.iter().any(|f| f.checker == "spf") {
            if let Some(tree) = d
                .facts
                .get("spf")
                .and_then(|s| s.get("tree"))
                .and_then(|t| t.as_array())
                .filter(|t| !t.is_empty())
            {
                writeln!(out, "  spf lookup tree:")?;
                crate::spf::write_tree(out, tree, "    ")?;
            }
        }
        if findings.is_empty() {
            writeln!(out, "  ok: no findings")?;
        }
        for f in findings {
            // Messages and help quote DNS content of any domain: shown safe.
            writeln!(
                out,
                "  {} {} {}: {}",
                label(f.severity),
                f.code,
                f.name,
                display_value(&f.message, TEXT_MAX_CHARS)
            )?;
            if f.subject != f.domain {
                writeln!(
                    out,
                    "          at {}",
                    display_value(&f.subject, NAME_MAX_CHARS)
                )?;
            }
            if !f.help.is_empty() {
                writeln!(
                    out,
                    "          help: {}",
                    display_value(&f.help, TEXT_MAX_CHARS)
                )?;
            }
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The closing line: domains, findings by severity, DNS queries.
fn print_totals(
    out: &mut impl Write,
    domains: usize,
    c: authwarden_engine::SeverityCounts,
    queries: u64,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{} domain{} checked: {} error{}, {} warning{}, {} note{} ({} DNS quer{} sent)",
        domains,
        plural(domains),
        c.errors,
        plural(c.errors),
        c.warnings,
        plural(c.warnings),
        c.notes,
        plural(c.notes),
        queries,
        if queries == 1 { "y" } else { "ies" }
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
