//! Compaction of the aggregate dataset: every partition
//! (`domain=<d>/date=<day>`) with more than one file gets one, with the same
//! rows (`authwarden history compact`, and the monthly job before its
//! report).
//!
//! The swap is atomic for every reader: the merged file is written into a
//! hidden sibling folder (`.date=<day>.compact-<stamp>`), which then trades
//! places with the partition in one `renameat2(RENAME_EXCHANGE)`; a reader
//! lists either the old files or the new one, never both. Then the seen
//! index points the partition's reports at the new file and the old files
//! (now in the hidden folder) are deleted. A crash at any point leaves a
//! state that the next writer of the dataset (an ingest, a compaction)
//! completes under the dataset's lock ([`HistoryStore::finish_compaction`]):
//! a hidden folder is deleted (it holds either the merged file that never
//! took the partition's place, or the old files it replaced), and a file the
//! index does not know is adopted: its reports are pointed at it, so the
//! index stays exact. A file system without `RENAME_EXCHANGE` gets two
//! renames (the partition is briefly absent, never doubled).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use serde::Serialize;

use crate::aggregate::{aggregate_schema, lock, AGGREGATE_PARTITIONS};
use crate::damage::Dataset;
use crate::error::{HistoryError, Result};
use crate::frames::conform;
use crate::store::{read_parquet_file, write_parquet_atomic};
use crate::HistoryStore;

/// What a compaction did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CompactSummary {
    /// Partitions merged.
    pub partitions: usize,
    /// Their files before.
    pub files_before: usize,
    /// Their files after (one per partition).
    pub files_after: usize,
    /// Rows in the merged files.
    pub rows: usize,
    /// Partitions left as they were because a file of theirs cannot be
    /// read (see `history verify` / `history repair`), with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Where a compaction stops in a test (a crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The merged file is written in the hidden folder, nothing swapped.
    BeforeSwap,
    /// The partition holds the merged file; the index and the old files
    /// are as before.
    AfterSwap,
}

const COMPACT_MARK: &str = ".compact-";
const OLD_MARK: &str = ".old-";

impl HistoryStore {
    /// Merges every partition of the aggregate dataset that has more than
    /// one file into one file (see the module docs). Holds the dataset's
    /// lock, so it waits for a running ingest and an ingest waits for it.
    pub fn compact_aggregate(&self) -> Result<CompactSummary> {
        self.compact_aggregate_until(None)
    }

    pub(crate) fn compact_aggregate_until(&self, stop: Option<Stop>) -> Result<CompactSummary> {
        let dir = self.aggregate_dir();
        if !dir.is_dir() {
            return Ok(CompactSummary::default());
        }
        let _lock = lock(&dir.join(".lock"))?;
        self.remove_stale_temporary(Dataset::Aggregate)?;
        self.finish_compaction()?;
        let (mut seen, adopted) = self.reconciled_seen()?;
        if adopted {
            self.save_seen(&seen)?;
        }
        let mut by_partition: BTreeMap<(String, String), Vec<PathBuf>> = BTreeMap::new();
        for (domain, date, file) in crate::aggregate::partition_files(&dir)? {
            by_partition.entry((domain, date)).or_default().push(file);
        }
        let stamp = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ"),
            std::process::id()
        );
        let mut out = CompactSummary::default();
        for ((domain, date), files) in by_partition {
            if files.len() < 2 {
                continue;
            }
            let partition = dir
                .join(format!("domain={domain}"))
                .join(format!("date={date}"));
            match self.compact_partition(&partition, &files, &stamp, &mut seen, stop) {
                Ok(rows) => {
                    out.partitions += 1;
                    out.files_before += files.len();
                    out.files_after += 1;
                    out.rows += rows;
                }
                Err(PartitionError::Unreadable(reason)) => {
                    out.skipped
                        .push((format!("domain={domain}/date={date}"), reason));
                }
                Err(PartitionError::Stopped) => return Ok(out),
                Err(PartitionError::Failed(e)) => return Err(e),
            }
        }
        Ok(out)
    }

    /// One partition: the merged file beside it, the swap, the index, the
    /// old files gone. Returns the rows.
    fn compact_partition(
        &self,
        partition: &Path,
        files: &[PathBuf],
        stamp: &str,
        seen: &mut crate::aggregate::Seen,
        stop: Option<Stop>,
    ) -> std::result::Result<usize, PartitionError> {
        let mut merged: Option<DataFrame> = None;
        for file in files {
            let df = read_parquet_file(file, None)
                .map_err(|e| PartitionError::Unreadable(e.to_string()))?;
            // Older files lack newer columns: they read as nulls.
            let df = conform(&df, &aggregate_schema(), &AGGREGATE_PARTITIONS, true).map_err(
                |reason| PartitionError::Unreadable(format!("{}: {reason}", file.display())),
            )?;
            merged = Some(match merged {
                None => df,
                Some(mut m) => {
                    m.vstack_mut(&df)
                        .map_err(|e| PartitionError::Unreadable(e.to_string()))?;
                    m
                }
            });
        }
        let Some(mut merged) = merged else {
            return Ok(0);
        };
        merged.rechunk_mut();
        let rows = merged.height();
        let keys = frame_keys(&merged).map_err(|e| PartitionError::Unreadable(e.to_string()))?;
        let parent = partition.parent().unwrap_or(partition);
        let name = partition
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hidden = parent.join(format!(".{name}{COMPACT_MARK}{stamp}"));
        let file_name = format!("compact-{stamp}.parquet");
        write_parquet_atomic(&hidden.join(&file_name), &mut merged)?;
        if stop == Some(Stop::BeforeSwap) {
            return Err(PartitionError::Stopped);
        }
        let old = swap(&hidden, partition, parent, &name, stamp)?;
        if stop == Some(Stop::AfterSwap) {
            return Err(PartitionError::Stopped);
        }
        let rel = format!(
            "{}/{name}/{file_name}",
            parent
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        for key in keys {
            seen.insert(key, rel.clone());
        }
        self.save_seen(seen)?;
        fs::remove_dir_all(&old).map_err(|source| HistoryError::Write { path: old, source })?;
        Ok(rows)
    }

    /// Completes what a stopped compaction left (called under the dataset's
    /// lock): a hidden folder beside a partition is deleted, and a partition
    /// missing between the two renames of the fallback swap is put back.
    pub(crate) fn finish_compaction(&self) -> Result<()> {
        let dir = self.aggregate_dir();
        for (name, domain_dir) in crate::aggregate::list(&dir)? {
            if !name.starts_with("domain=") {
                continue;
            }
            let Ok(entries) = fs::read_dir(&domain_dir) else {
                continue;
            };
            let mut hidden: Vec<(String, PathBuf)> = entries
                .filter_map(|e| e.ok())
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .filter(|(n, _)| {
                    n.starts_with(".date=") && (n.contains(COMPACT_MARK) || n.contains(OLD_MARK))
                })
                .collect();
            // The old files' folders first: a missing partition is restored
            // from its merged file before that folder is looked at.
            hidden.sort_by_key(|(n, _)| !n.contains(OLD_MARK));
            for (n, path) in hidden {
                if !path.exists() {
                    continue;
                }
                if let Some((partition, stamp)) = n[1..].split_once(OLD_MARK) {
                    let live = domain_dir.join(partition);
                    let merged = domain_dir.join(format!(".{partition}{COMPACT_MARK}{stamp}"));
                    if !live.exists() && merged.is_dir() {
                        fs::rename(&merged, &live).map_err(|source| HistoryError::Write {
                            path: live.clone(),
                            source,
                        })?;
                    }
                }
                tracing::info!(
                    "removed {}, left by an interrupted compaction",
                    path.display()
                );
                fs::remove_dir_all(&path).map_err(|source| HistoryError::Write { path, source })?;
            }
        }
        Ok(())
    }
}

enum PartitionError {
    Unreadable(String),
    Stopped,
    Failed(HistoryError),
}

impl From<HistoryError> for PartitionError {
    fn from(e: HistoryError) -> Self {
        PartitionError::Failed(e)
    }
}

/// Swaps the hidden folder with the partition; returns where the old files
/// are now.
fn swap(
    hidden: &Path,
    partition: &Path,
    parent: &Path,
    name: &str,
    stamp: &str,
) -> std::result::Result<PathBuf, PartitionError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PartitionError::Failed(HistoryError::Write { path, source })
    };
    match rustix::fs::renameat_with(
        rustix::fs::CWD,
        hidden,
        rustix::fs::CWD,
        partition,
        rustix::fs::RenameFlags::EXCHANGE,
    ) {
        Ok(()) => {
            sync_dir(parent);
            Ok(hidden.to_path_buf())
        }
        Err(_) => {
            // No RENAME_EXCHANGE here: two renames.
            let old = parent.join(format!(".{name}{OLD_MARK}{stamp}"));
            fs::rename(partition, &old).map_err(write_err(partition))?;
            fs::rename(hidden, partition).map_err(write_err(partition))?;
            sync_dir(parent);
            Ok(old)
        }
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The distinct (org_name, report_id) of a frame.
pub(crate) fn frame_keys(df: &DataFrame) -> PolarsResult<BTreeSet<(String, String)>> {
    let org = df.column("org_name")?.str()?.clone();
    let id = df.column("report_id")?.str()?.clone();
    Ok(org
        .iter()
        .zip(id.iter())
        .filter_map(|(o, i)| Some((o?.to_string(), i?.to_string())))
        .collect())
}
