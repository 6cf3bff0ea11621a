//! `authwarden history verify` and `history repair`: find the history files
//! that cannot be read, and set them aside so that the data can be written
//! again (re-ingesting a report whose rows were lost restores them);
//! `history compact`: one file per aggregate-report partition.

use std::io::Write;

use anyhow::Context as _;
use authwarden_api::text::{display_value, NAME_MAX_CHARS, TEXT_MAX_CHARS};
use authwarden_history::HistoryStore;
use authwarden_registry::Registry;
use clap::Subcommand;

use crate::{setup, Format, GlobalArgs, EXIT_FINDINGS, EXIT_OK};

/// `history` subcommands.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Read every history file and list those that cannot be read (exit 1 when any)
    Verify,
    /// Move unreadable history files to <history>/damaged/, forget the reports
    /// whose rows they held (so ingesting them again writes them anew) and
    /// remove temporary files left by killed writers
    Repair,
    /// Merge the files of each aggregate-report partition (domain and day)
    /// into one, atomically; the monthly job does it before its report
    Compact,
}

/// Runs a `history` subcommand.
pub fn run(
    global: &GlobalArgs,
    command: &HistoryCommand,
    registry: &Registry,
) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let store = HistoryStore::new(&config.history_dir);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match command {
        HistoryCommand::Verify => {
            let damaged = store.verify().with_context(|| {
                format!("cannot read the history in {}", store.root().display())
            })?;
            if global.format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &damaged)?;
                writeln!(out)?;
            } else {
                for d in &damaged {
                    writeln!(
                        out,
                        "damaged: {}: {} ({})",
                        display_value(&d.relative_path, NAME_MAX_CHARS),
                        display_value(&d.description, TEXT_MAX_CHARS),
                        display_value(&d.reason, TEXT_MAX_CHARS)
                    )?;
                }
                writeln!(
                    out,
                    "{}: {} unreadable file{}{}",
                    store.root().display(),
                    damaged.len(),
                    if damaged.len() == 1 { "" } else { "s" },
                    if damaged.is_empty() {
                        ""
                    } else {
                        "; `authwarden history repair` sets them aside"
                    }
                )?;
            }
            Ok(if damaged.is_empty() {
                EXIT_OK
            } else {
                EXIT_FINDINGS
            })
        }
        HistoryCommand::Repair => {
            let repair = store.repair().with_context(|| {
                format!("cannot repair the history in {}", store.root().display())
            })?;
            if global.format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &repair)?;
                writeln!(out)?;
            } else {
                for q in &repair.quarantined {
                    writeln!(
                        out,
                        "moved aside: {} -> {} ({})",
                        display_value(&q.file.relative_path, NAME_MAX_CHARS),
                        q.moved_to.display(),
                        display_value(&q.file.reason, TEXT_MAX_CHARS)
                    )?;
                }
                for f in &repair.forgotten {
                    writeln!(
                        out,
                        "to ingest again: report {} of {} ({})",
                        display_value(&f.report_id, NAME_MAX_CHARS),
                        display_value(&f.org_name, NAME_MAX_CHARS),
                        f.why
                    )?;
                }
                for t in &repair.removed_temporary {
                    writeln!(out, "removed: {}", t.display())?;
                }
                writeln!(
                    out,
                    "{}: {} file{} moved aside, {} report{} to ingest again, {} temporary file{} removed",
                    store.root().display(),
                    repair.quarantined.len(),
                    if repair.quarantined.len() == 1 { "" } else { "s" },
                    repair.forgotten.len(),
                    if repair.forgotten.len() == 1 { "" } else { "s" },
                    repair.removed_temporary.len(),
                    if repair.removed_temporary.len() == 1 { "" } else { "s" },
                )?;
            }
            Ok(EXIT_OK)
        }
        HistoryCommand::Compact => {
            let summary = store.compact_aggregate().with_context(|| {
                format!("cannot compact the history in {}", store.root().display())
            })?;
            if global.format == Format::Json {
                serde_json::to_writer_pretty(&mut out, &summary)?;
                writeln!(out)?;
            } else {
                for (partition, reason) in &summary.skipped {
                    writeln!(
                        out,
                        "left as it is: {} ({}; see `history verify`)",
                        display_value(partition, NAME_MAX_CHARS),
                        display_value(reason, TEXT_MAX_CHARS)
                    )?;
                }
                writeln!(
                    out,
                    "{}: {} partition{} compacted, {} files into {} ({} rows)",
                    store.aggregate_dir().display(),
                    summary.partitions,
                    if summary.partitions == 1 { "" } else { "s" },
                    summary.files_before,
                    summary.files_after,
                    summary.rows
                )?;
            }
            Ok(EXIT_OK)
        }
    }
}
