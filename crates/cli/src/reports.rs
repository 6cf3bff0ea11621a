//! `reports analyze` and `ingest`: DMARC aggregate reports from files and
//! folders (`.xml`, `.gz`, `.zip`, `.eml`, mbox, Maildir), parsed, every
//! record classified (pass / partial / fail with a cause), then summarised
//! (`reports analyze`) or appended to the history (`ingest`).
//!
//! A file that cannot be read is one entry in `errors` and the batch goes
//! on; the exit status is 0 whenever the batch ran.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use authwarden_aggregate::{
    ingest_paths, report_rows, AggregateRow, Category, Cause, Classifier, IngestResult, Limits,
};
use authwarden_history::HistoryStore;
use authwarden_registry::Registry;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::{setup, Format, GlobalArgs, EXIT_OK};

/// `reports` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// Parse and classify DMARC aggregate reports and print messages by
    /// category and every source (--format text, json or csv)
    Analyze(AnalyzeArgs),
}

/// Arguments of `reports analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Report files or folders: .xml, .gz, .zip, .eml, mbox, Maildir
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Arguments of `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Report files or folders: .xml, .gz, .zip, .eml, mbox, Maildir
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Runs a `reports` subcommand.
pub fn run(global: &GlobalArgs, command: &ReportsCommand) -> anyhow::Result<u8> {
    match command {
        ReportsCommand::Analyze(args) => analyze(global, args),
    }
}

/// A file or member that could not be read.
#[derive(Debug, Serialize)]
struct FileError {
    file: String,
    reason: String,
}

/// Messages per category.
#[derive(Debug, Default, Serialize)]
struct ByCategory {
    pass: u64,
    partial: u64,
    fail: u64,
}

impl ByCategory {
    fn add(&mut self, category: Category, count: u64) {
        let slot = match category {
            Category::Pass => &mut self.pass,
            Category::Partial => &mut self.partial,
            Category::Fail => &mut self.fail,
        };
        *slot = slot.saturating_add(count);
    }
}

/// One distinct (source_ip, header_from, category).
#[derive(Debug, Serialize)]
struct Source {
    source_ip: String,
    count: u64,
    category: Category,
    cause: Cause,
    provider: Option<String>,
    header_from: String,
}

/// The JSON contract of `reports analyze` (public: keep it stable).
#[derive(Debug, Serialize)]
struct Analysis {
    reports: usize,
    duplicates: usize,
    errors: Vec<FileError>,
    messages: u64,
    by_category: ByCategory,
    sources: Vec<Source>,
}

fn errors_of(result: &IngestResult) -> Vec<FileError> {
    result
        .errors
        .iter()
        .map(|(file, reason)| FileError {
            file: file.clone(),
            reason: reason.clone(),
        })
        .collect()
}

#[derive(Default)]
struct SourceAcc {
    count: u64,
    /// Messages per (cause, provider): the largest names the source.
    causes: HashMap<(Cause, Option<String>), u64>,
}

fn analysis(result: &IngestResult, classifier: &Classifier<'_>) -> Analysis {
    let mut messages = 0u64;
    let mut by_category = ByCategory::default();
    let mut acc: HashMap<(String, String, Category), SourceAcc> = HashMap::new();
    for (_, report) in &result.reports {
        let policy = &report.policy_published;
        for record in &report.records {
            let c = classifier.classify(policy, record);
            messages = messages.saturating_add(record.count);
            by_category.add(c.category, record.count);
            let header_from = match record.identifiers.header_from.trim() {
                "" => policy.domain.trim(),
                h => h,
            }
            .trim_end_matches('.')
            .to_ascii_lowercase();
            let entry = acc
                .entry((record.source_ip.clone(), header_from, c.category))
                .or_default();
            entry.count = entry.count.saturating_add(record.count);
            *entry.causes.entry((c.cause, c.provider)).or_default() += record.count;
        }
    }
    let mut sources: Vec<Source> = acc
        .into_iter()
        .map(|((source_ip, header_from, category), a)| {
            let ((cause, provider), _) = a
                .causes
                .into_iter()
                .max_by(|(ka, na), (kb, nb)| na.cmp(nb).then_with(|| kb.cmp(ka)))
                .unwrap_or(((Cause::UnknownSource, None), 0));
            Source {
                source_ip,
                count: a.count,
                category,
                cause,
                provider,
                header_from,
            }
        })
        .collect();
    sources.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.source_ip.cmp(&b.source_ip))
            .then_with(|| a.header_from.cmp(&b.header_from))
            .then_with(|| a.category.cmp(&b.category))
    });
    Analysis {
        reports: result.reports.len(),
        duplicates: result.duplicates.len(),
        errors: errors_of(result),
        messages,
        by_category,
        sources,
    }
}

/// `authwarden reports analyze PATH...`.
pub fn analyze(global: &GlobalArgs, args: &AnalyzeArgs) -> anyhow::Result<u8> {
    if global.format == Format::Parquet {
        bail!("reports analyze prints text, json or csv, not parquet");
    }
    let result = ingest_paths(&args.paths, &Limits::default());
    let a = analysis(&result, &Classifier::default());
    if global.format == Format::Csv {
        for e in &a.errors {
            eprintln!("error: {}: {}", e.file, e.reason);
        }
    }
    let mut out = std::io::stdout().lock();
    let written = match global.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &a)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Csv => write_csv(&mut out, &a.sources),
        Format::Text | Format::Parquet => write_text(&mut out, &a),
    }
    .and_then(|()| out.flush());
    match written {
        // `| head` is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(EXIT_OK),
        other => {
            other.context("cannot write to standard output")?;
            Ok(EXIT_OK)
        }
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The sources as CSV (the export for threat intelligence), the columns of
/// the JSON `sources` in the same order.
fn write_csv(out: &mut impl Write, sources: &[Source]) -> std::io::Result<()> {
    writeln!(out, "source_ip,count,category,cause,provider,header_from")?;
    for s in sources {
        writeln!(
            out,
            "{},{},{},{},{},{}",
            csv_field(&s.source_ip),
            s.count,
            s.category,
            s.cause,
            csv_field(s.provider.as_deref().unwrap_or("")),
            csv_field(&s.header_from)
        )?;
    }
    Ok(())
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        part as f64 * 100.0 / total as f64
    }
}

fn write_text(out: &mut impl Write, a: &Analysis) -> std::io::Result<()> {
    writeln!(
        out,
        "{} report{}, {} duplicate{} dropped, {} error{}",
        a.reports,
        plural(a.reports),
        a.duplicates,
        plural(a.duplicates),
        a.errors.len(),
        plural(a.errors.len())
    )?;
    for e in &a.errors {
        writeln!(out, "  error: {}: {}", e.file, e.reason)?;
    }
    let c = &a.by_category;
    writeln!(
        out,
        "{} messages: pass {} ({:.1}%), partial {} ({:.1}%), fail {} ({:.1}%)",
        a.messages,
        c.pass,
        percent(c.pass, a.messages),
        c.partial,
        percent(c.partial, a.messages),
        c.fail,
        percent(c.fail, a.messages)
    )?;
    if a.sources.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    let ip_w = a
        .sources
        .iter()
        .map(|s| s.source_ip.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let from_w = a
        .sources
        .iter()
        .map(|s| s.header_from.len())
        .max()
        .unwrap_or(0)
        .max(11);
    writeln!(
        out,
        "{:>9}  {:<7}  {:<26}  {:<ip_w$}  {:<from_w$}  PROVIDER",
        "MESSAGES", "RESULT", "CAUSE", "SOURCE IP", "HEADER FROM"
    )?;
    for s in &a.sources {
        writeln!(
            out,
            "{:>9}  {:<7}  {:<26}  {:<ip_w$}  {:<from_w$}  {}",
            s.count,
            s.category.as_str(),
            s.cause.code(),
            s.source_ip,
            s.header_from,
            s.provider.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What `ingest` did (its JSON output).
#[derive(Debug, Serialize)]
struct IngestSummary {
    /// Reports parsed (after dropping duplicates within the batch).
    reports: usize,
    /// Reports appended to the history now.
    new: usize,
    /// Reports the history already held.
    already_ingested: usize,
    /// Duplicates within this batch.
    duplicates: usize,
    /// Rows (records) appended.
    rows: usize,
    /// Messages of the new reports.
    messages: u64,
    errors: Vec<FileError>,
    /// The Parquet files written.
    files: Vec<String>,
}

/// `authwarden ingest PATH...`: parse, classify and append to the history
/// (`<history_dir>/aggregate/`), skipping reports already there.
pub fn ingest(global: &GlobalArgs, args: &IngestArgs, registry: &Registry) -> anyhow::Result<u8> {
    if matches!(global.format, Format::Csv | Format::Parquet) {
        bail!("ingest prints text or json");
    }
    let config = setup::load_config(global, registry)?;
    let store = HistoryStore::new(&config.history_dir);
    let result = ingest_paths(&args.paths, &Limits::default());
    let classifier = Classifier::default();
    let rows: Vec<Vec<AggregateRow>> = result
        .reports
        .iter()
        .map(|(source, report)| report_rows(source, report, &classifier))
        .collect();
    let appended = store
        .append_aggregate(
            result
                .reports
                .iter()
                .zip(&rows)
                .map(|((_, report), rows)| (report, rows.as_slice())),
        )
        .with_context(|| format!("cannot append to the history in {}", store.root().display()))?;
    let new_keys: std::collections::HashSet<(&str, &str)> = appended
        .written
        .iter()
        .map(|(o, r, _)| (o.as_str(), r.as_str()))
        .collect();
    let messages = result
        .reports
        .iter()
        .filter(|(_, r)| {
            new_keys.contains(&(r.metadata.org_name.as_str(), r.metadata.report_id.as_str()))
        })
        .map(|(_, r)| r.message_count())
        .sum();
    let summary = IngestSummary {
        reports: result.reports.len(),
        new: appended.written.len(),
        already_ingested: appended.already_ingested.len(),
        duplicates: result.duplicates.len(),
        rows: appended.rows,
        messages,
        errors: errors_of(&result),
        files: appended
            .written
            .iter()
            .map(|(_, _, p)| p.display().to_string())
            .collect(),
    };
    for w in store.warnings() {
        eprintln!("warning: {w}");
    }
    let mut out = std::io::stdout().lock();
    if global.format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} new report{} ({} rows, {} messages) appended to {}",
            summary.new,
            plural(summary.new),
            summary.rows,
            summary.messages,
            store.aggregate_dir().display()
        )?;
        writeln!(
            out,
            "{} already in the history, {} duplicate{} in this batch, {} error{}",
            summary.already_ingested,
            summary.duplicates,
            plural(summary.duplicates),
            summary.errors.len(),
            plural(summary.errors.len())
        )?;
        for e in &summary.errors {
            writeln!(out, "  error: {}: {}", e.file, e.reason)?;
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}
