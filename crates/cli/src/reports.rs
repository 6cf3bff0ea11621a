//! `reports analyze` and `ingest`: DMARC aggregate reports from files and
//! folders (`.xml`, `.gz`, `.zip`, `.eml`, mbox, Maildir), parsed, every
//! record classified (pass / partial / fail with a cause), then summarised
//! (`reports analyze`) or appended to the history (`ingest`).
//!
//! `ingest --imap` reads the `[imap]` mailbox the same way, message by
//! message, and the daemon polls it on `poll_cron` ([`poll_imap`]).
//!
//! Reports stream: each payload is parsed record by record
//! ([`Payload::parse_with`]), every record classified into a row as it
//! arrives, and rows go to the history in row groups
//! ([`AggregateBatch`]), so memory stays bounded however large a report is.
//!
//! Reverse DNS: before a payload's records stream, a first pass collects
//! its distinct source IPs and their PTR names are looked up
//! ([`resolve_ptrs`], cached across runs in `<history_dir>/aggregate/ptr-cache.json`),
//! so that the classification recognises a service by its sending hosts'
//! names. The name goes into the classification only: the history's rows
//! have no column for it. A DNS failure leaves the source unenriched.
//!
//! The work is the pipeline's report intake ([`authwarden_pipeline::intake`]);
//! this module parses the arguments and prints the results. A file that
//! cannot be read is one entry in `errors` and the batch goes on; the exit
//! status is 0 whenever the batch ran.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use authwarden_aggregate::{Classifier, PtrCache};
use authwarden_api::text::{display_value, NAME_MAX_CHARS, TEXT_MAX_CHARS};
use authwarden_history::HistoryStore;
use authwarden_pipeline::intake::{
    analyze_reports, ingest_shard, Analysis, ReverseDns, Source, TlsAnalysis,
};
use authwarden_registry::Registry;
use clap::{Args, Subcommand};

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
    /// Look up the PTR name of each distinct source IP (through the config's
    /// [dns], --nameserver, --zone-file), so a service is recognised by its
    /// hosts' names
    #[arg(long)]
    pub reverse_dns: bool,
}

/// Arguments of `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Report files or folders: .xml, .gz, .zip, .eml, mbox, Maildir
    #[arg(required_unless_present = "imap", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Also read new messages of the [imap] mailbox: processed ones go to its
    /// archive folder, ones without a readable report to its invalid folder
    #[arg(long)]
    pub imap: bool,
    /// Skip the reverse DNS of report sources for this run ([ingest]
    /// reverse_dns = false for every run)
    #[arg(long)]
    pub no_reverse_dns: bool,
    /// Keep only the reports about the domains of shard I of N (the same
    /// stable hash as `check --shard`); the others are left to their shards
    #[arg(long, value_name = "I/N", value_parser = crate::check::parse_shard, conflicts_with = "imap")]
    pub shard: Option<authwarden_api::domain::Shard>,
}

/// Runs a `reports` subcommand.
pub fn run(
    global: &GlobalArgs,
    command: &ReportsCommand,
    registry: &Registry,
) -> anyhow::Result<u8> {
    match command {
        ReportsCommand::Analyze(args) => analyze(global, args, registry),
    }
}

/// `authwarden reports analyze PATH...`.
pub fn analyze(global: &GlobalArgs, args: &AnalyzeArgs, registry: &Registry) -> anyhow::Result<u8> {
    if global.format == Format::Parquet {
        bail!("reports analyze prints text, json or csv, not parquet");
    }
    let mut warnings = Vec::new();
    // The config (when there is one) for the [ingest] caps, and with
    // --reverse-dns for [dns] and the PTR cache: analyze keeps nothing else.
    let config = setup::load_config(global, registry)?;
    let rdns = if args.reverse_dns {
        let cache_file = config
            .source
            .is_some()
            .then(|| PtrCache::path_in(&config.history_dir));
        ReverseDns::new(&config, cache_file.as_deref(), &mut warnings).map(|r| (r, cache_file))
    } else {
        None
    };
    let a = analyze_reports(
        &args.paths,
        &Classifier::default(),
        &authwarden_pipeline::intake::limits(&config),
        rdns.as_ref().map(|(r, _)| r),
    );
    if let Some((rdns, Some(cache_file))) = &rdns {
        rdns.save(cache_file, &mut warnings);
    }
    for w in warnings {
        eprintln!("warning: {}", text(&w));
    }
    if global.format == Format::Csv {
        for e in &a.errors {
            eprintln!("error: {}: {}", name(&e.file), text(&e.reason));
        }
    }
    // Standard output is line-buffered: one `write` per line of a 100,000-line
    // JSON answer. A buffer of its own writes it in large blocks.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = match global.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &a)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out)),
        Format::Csv => write_csv(&mut out, &a.sources),
        Format::Text | Format::Parquet | Format::Zone => write_text(&mut out, &a)
            .and_then(|()| write_tls_text(&mut out, &a.tls))
            .and_then(|()| write_failures_text(&mut out, &a.failures)),
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
    // Control characters from a report would reach whoever `cat`s the file.
    let s = &*text(s);
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
        writeln!(out, "  error: {}: {}", name(&e.file), text(&e.reason))?;
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
    // Every value comes from a report: made safe to show (no terminal
    // escapes, no forged lines) before the widths are measured.
    let rows: Vec<(&Source, String, String, String)> = a
        .sources
        .iter()
        .map(|s| {
            (
                s,
                name(&s.source_ip).into_owned(),
                name(&s.header_from).into_owned(),
                name(s.provider.as_deref().unwrap_or("-")).into_owned(),
            )
        })
        .collect();
    let width = |col: usize, min: usize| {
        rows.iter()
            .map(|r| if col == 0 { &r.1 } else { &r.2 }.chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let ip_w = width(0, 9);
    let from_w = width(1, 11);
    writeln!(
        out,
        "{:>9}  {:<7}  {:<26}  {:<ip_w$}  {:<from_w$}  PROVIDER",
        "MESSAGES", "RESULT", "CAUSE", "SOURCE IP", "HEADER FROM"
    )?;
    for (s, ip, from, provider) in &rows {
        writeln!(
            out,
            "{:>9}  {:<7}  {:<26}  {:<ip_w$}  {:<from_w$}  {}",
            s.count,
            s.category.as_str(),
            s.cause.code(),
            ip,
            from,
            provider
        )?;
    }
    Ok(())
}

/// The SMTP TLS reports of the inputs, when there were any: sessions per
/// policy domain and type, then the failures, most first.
fn write_tls_text(out: &mut impl Write, t: &TlsAnalysis) -> std::io::Result<()> {
    if t.reports == 0 && t.duplicates == 0 {
        return Ok(());
    }
    let total = t.successful_sessions.saturating_add(t.failed_sessions);
    writeln!(out)?;
    writeln!(
        out,
        "{} TLS report{}, {} duplicate{} dropped: {} sessions, {} failed ({:.1}%)",
        t.reports,
        plural(t.reports),
        t.duplicates,
        plural(t.duplicates),
        total,
        t.failed_sessions,
        percent(t.failed_sessions, total)
    )?;
    for p in &t.policies {
        let n = p.successful.saturating_add(p.failed);
        writeln!(
            out,
            "  {} ({}): {} sessions, {} failed ({:.1}%)",
            name(if p.policy_domain.is_empty() {
                "(no policy domain)"
            } else {
                &p.policy_domain
            }),
            name(&p.policy_type),
            n,
            p.failed,
            percent(p.failed, n)
        )?;
    }
    if !t.failures.is_empty() {
        writeln!(
            out,
            "{:>9}  {:<32}  {:<32}  SENDING MTA",
            "FAILED", "RESULT TYPE", "RECEIVING MX"
        )?;
        for f in &t.failures {
            writeln!(
                out,
                "{:>9}  {:<32}  {:<32}  {}",
                f.count,
                name(&f.result_type),
                name(f.receiving_mx_hostname.as_deref().unwrap_or("-")),
                name(f.sending_mta_ip.as_deref().unwrap_or("-"))
            )?;
        }
    }
    Ok(())
}

/// The DMARC failure reports of the inputs, when there were any.
fn write_failures_text(
    out: &mut impl Write,
    f: &authwarden_pipeline::intake::FailureAnalysis,
) -> std::io::Result<()> {
    if f.reports == 0 && f.duplicates == 0 && f.other_feedback == 0 {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} DMARC failure report{}, {} duplicate{} dropped, {} other feedback report{} left out",
        f.reports,
        plural(f.reports),
        f.duplicates,
        plural(f.duplicates),
        f.other_feedback,
        plural(f.other_feedback)
    )?;
    if !f.sources.is_empty() {
        writeln!(
            out,
            "{:>9}  {:<32}  {:<40}  AUTH FAILURE",
            "REPORTS", "DOMAIN", "SOURCE IP"
        )?;
        for s in &f.sources {
            writeln!(
                out,
                "{:>9}  {:<32}  {:<40}  {}",
                s.reports,
                name(if s.reported_domain.is_empty() {
                    "-"
                } else {
                    &s.reported_domain
                }),
                name(s.source_ip.as_deref().unwrap_or("-")),
                name(s.auth_failure.as_deref().unwrap_or("-"))
            )?;
        }
    }
    Ok(())
}

/// A name from outside (a file or member name, an IP, a domain) made safe
/// for a terminal: control and bidi characters escaped, length capped.
fn name(s: &str) -> std::borrow::Cow<'_, str> {
    display_value(s, NAME_MAX_CHARS)
}

/// A longer text from outside (an error that quotes a report) made safe.
fn text(s: &str) -> std::borrow::Cow<'_, str> {
    display_value(s, TEXT_MAX_CHARS)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `authwarden ingest PATH... [--imap]`: parse, classify and append to the
/// history (`<history_dir>/aggregate/`), skipping reports already there.
pub fn ingest(global: &GlobalArgs, args: &IngestArgs, registry: &Registry) -> anyhow::Result<u8> {
    if matches!(global.format, Format::Csv | Format::Parquet) {
        bail!("ingest prints text or json");
    }
    let config = setup::load_config(global, registry)?;
    // The command runs inside the CLI's multi-threaded runtime; the IMAP
    // pass is async while the rest of the ingest is blocking work.
    let (summary, warnings) = tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(ingest_shard(
            &config,
            &args.paths,
            args.imap,
            !args.no_reverse_dns,
            args.shard,
        ))
    })?;
    for w in warnings {
        eprintln!("warning: {}", text(&w));
    }
    let store = HistoryStore::new(&config.history_dir);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if global.format == Format::Json {
        serde_json::to_writer_pretty(&mut out, &summary)?;
        writeln!(out)?;
    } else {
        if let Some(imap) = &summary.imap {
            writeln!(
                out,
                "imap:{}: {} message{} processed, {} invalid, {} left in the folder",
                imap.folder,
                imap.processed,
                plural(imap.processed),
                imap.invalid,
                imap.kept
            )?;
        }
        writeln!(
            out,
            "{} new report{} ({} rows, {} messages) appended to {}",
            summary.new,
            plural(summary.new),
            summary.rows,
            summary.messages,
            store.aggregate_dir().display()
        )?;
        if summary.tls.reports > 0 {
            let t = &summary.tls;
            writeln!(
                out,
                "{} new TLS report{} ({} polic{}, {} sessions, {} failed) appended to {}; {} already in the history",
                t.new,
                plural(t.new),
                t.policies,
                if t.policies == 1 { "y" } else { "ies" },
                t.successful_sessions.saturating_add(t.failed_sessions),
                t.failed_sessions,
                store.tls_dir().display(),
                t.already_ingested
            )?;
        }
        if summary.failures.reports > 0 {
            let f = &summary.failures;
            writeln!(
                out,
                "{} new DMARC failure report{} (metadata only, no message content) appended to {}; {} already in the history",
                f.new,
                plural(f.new),
                store.failures_dir().display(),
                f.already_ingested
            )?;
        }
        if let Some(shard) = args.shard {
            writeln!(
                out,
                "shard {}/{}: {} report{} about other shards' domains left to them",
                shard.index,
                shard.count,
                summary.other_shards,
                plural(summary.other_shards)
            )?;
        }
        writeln!(
            out,
            "{} already in the history, {} duplicate{} in this batch, {} error{}",
            summary.already_ingested,
            summary.duplicates,
            plural(summary.duplicates),
            summary.errors.len(),
            plural(summary.errors.len())
        )?;
        if let Some(r) = &summary.reverse_dns {
            writeln!(
                out,
                "reverse DNS: {} source{} asked ({} named, {} failed), {} from the cache",
                r.queried,
                plural(r.queried),
                r.found,
                r.failed,
                r.cached
            )?;
        }
        if let Some(a) = &summary.report_auth {
            writeln!(
                out,
                "report mail: {} message{} checked for the reporter's authentication{}",
                a.messages,
                plural(a.messages as usize),
                if summary.refused > 0 {
                    format!(
                        "; {} report{} refused ([ingest] require_authenticated)",
                        summary.refused,
                        plural(summary.refused)
                    )
                } else {
                    String::new()
                }
            )?;
        }
        for e in &summary.errors {
            writeln!(out, "  error: {}: {}", name(&e.file), text(&e.reason))?;
        }
        for r in &summary.rejected {
            writeln!(
                out,
                "  records left out: {}: {}",
                name(&r.file),
                text(&r.reason)
            )?;
        }
    }
    out.flush()?;
    Ok(EXIT_OK)
}
