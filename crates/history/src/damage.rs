//! Damaged history files as data, and their repair.
//!
//! A Parquet file that cannot be read is skipped by every read, which
//! records it ([`HistoryStore::damaged`]) with what it held, so that a report
//! can say which domain and day (aggregate rows) or which run (findings,
//! summary, run record) lacks data. [`HistoryStore::repair`] moves such
//! files to `<root>/damaged/<their relative path>` (never deleting them) and
//! drops their reports from the aggregate seen index, so that ingesting the
//! source reports again writes their rows again.
//!
//! Temporary files (`.<name>.parquet.tmp-<pid>[-<n>]`) left by a process
//! killed while writing are removed by [`HistoryStore::repair`] and, in the
//! aggregate dataset, whenever an ingest starts.

use std::fmt;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::error::{HistoryError, Result};
use crate::HistoryStore;

/// The datasets of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dataset {
    /// `findings/job=<job>/period=<period>/<run_id>.parquet`.
    Findings,
    /// `summary/job=<job>/period=<period>/<run_id>.parquet`.
    Summary,
    /// `runs/job=<job>/period=<period>/<run_id>.parquet`.
    Runs,
    /// `aggregate/domain=<domain>/date=<YYYY-MM-DD>/<org>-<report_id>.parquet`.
    Aggregate,
}

impl Dataset {
    /// Every dataset, in the order [`HistoryStore::verify`] checks them.
    pub const ALL: [Dataset; 4] = [
        Dataset::Runs,
        Dataset::Findings,
        Dataset::Summary,
        Dataset::Aggregate,
    ];

    /// The directory name under the root, also the serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataset::Findings => "findings",
            Dataset::Summary => "summary",
            Dataset::Runs => "runs",
            Dataset::Aggregate => "aggregate",
        }
    }

    fn from_dir(name: &str) -> Option<Dataset> {
        Dataset::ALL.into_iter().find(|d| d.as_str() == name)
    }

    /// The two Hive partition keys of the dataset's paths.
    fn partition_keys(self) -> [&'static str; 2] {
        match self {
            Dataset::Aggregate => ["domain", "date"],
            _ => ["job", "period"],
        }
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A history file that could not be read, and what data it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DamagedFile {
    /// The dataset.
    pub table: Dataset,
    /// The file.
    pub path: PathBuf,
    /// The file relative to the history root, `/`-separated, e.g.
    /// `aggregate/domain=example.com/date=2026-11-03/google.com-123.parquet`.
    pub relative_path: String,
    /// The policy domain of an aggregate file.
    pub domain: Option<String>,
    /// The UTC day (`YYYY-MM-DD`) its reports begin, for an aggregate file.
    pub date: Option<String>,
    /// The job of a findings, summary or run file.
    pub job: Option<String>,
    /// The period of a findings, summary or run file.
    pub period: Option<String>,
    /// The run of a findings, summary or run file.
    pub run_id: Option<String>,
    /// Why it cannot be read, e.g. `no Parquet footer (the file is cut short)`.
    pub reason: String,
    /// What is missing because of it, in words, e.g. `DMARC aggregate report
    /// rows of example.com for 2026-11-03`.
    pub description: String,
}

impl DamagedFile {
    /// The entry for `path` under `root`: `None` when the path is not a
    /// file of one of the datasets.
    pub(crate) fn classify(root: &Path, path: &Path, reason: String) -> Option<DamagedFile> {
        let rel = path.strip_prefix(root).ok()?;
        let parts: Vec<&str> = rel
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => s.to_str(),
                _ => None,
            })
            .collect();
        let table = Dataset::from_dir(parts.first()?)?;
        let [first_key, second_key] = table.partition_keys();
        let value = |i: usize, key: &str| {
            parts
                .get(i)
                .and_then(|p| p.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        let (first, second) = (value(1, first_key), value(2, second_key));
        let file_stem = parts
            .get(3)
            .and_then(|f| f.strip_suffix(".parquet"))
            .map(str::to_string);
        let relative_path = parts.join("/");
        let unknown = || "?".to_string();
        let mut out = DamagedFile {
            table,
            path: path.to_path_buf(),
            relative_path,
            domain: None,
            date: None,
            job: None,
            period: None,
            run_id: None,
            reason,
            description: String::new(),
        };
        if table == Dataset::Aggregate {
            out.description = format!(
                "DMARC aggregate report rows of {} for {}",
                first.clone().unwrap_or_else(unknown),
                second.clone().unwrap_or_else(unknown)
            );
            out.domain = first;
            out.date = second;
        } else {
            let what = match table {
                Dataset::Findings => "findings",
                Dataset::Summary => "per-domain summary",
                _ => "run record",
            };
            out.description = format!(
                "{what} of the {} run {} (period {})",
                first.clone().unwrap_or_else(unknown),
                file_stem.clone().unwrap_or_else(unknown),
                second.clone().unwrap_or_else(unknown)
            );
            out.job = first;
            out.period = second;
            out.run_id = file_stem;
        }
        Some(out)
    }
}

/// A damaged file moved aside by [`HistoryStore::repair`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantinedFile {
    /// The file as it was found.
    pub file: DamagedFile,
    /// Where it is now, under `<root>/damaged/`.
    pub moved_to: PathBuf,
}

/// A report dropped from the aggregate seen index, so that ingesting it
/// again writes its rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForgottenReport {
    /// The reporting organisation.
    pub org_name: String,
    /// The report id.
    pub report_id: String,
    /// Its file, relative to the aggregate directory.
    pub file: String,
    /// Why: `damaged` (moved aside now or before) or `missing`.
    pub why: &'static str,
}

/// What [`HistoryStore::repair`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Repair {
    /// Unreadable files moved to `<root>/damaged/`.
    pub quarantined: Vec<QuarantinedFile>,
    /// Reports whose rows are gone, to be ingested again from their source.
    pub forgotten: Vec<ForgottenReport>,
    /// Temporary files of killed writers, removed.
    pub removed_temporary: Vec<PathBuf>,
}

impl Repair {
    /// Whether the history was already sound.
    pub fn is_empty(&self) -> bool {
        self.quarantined.is_empty()
            && self.forgotten.is_empty()
            && self.removed_temporary.is_empty()
    }
}

/// A temporary file older than this is a leftover even when a process with
/// its PID runs (PIDs are reused); no history file takes this long to write.
pub const TEMPORARY_FILE_MAX_AGE: Duration = Duration::from_secs(3600);

/// The directory of quarantined files under the root.
pub const DAMAGED_DIR: &str = "damaged";

/// What is wrong with the frame of a Parquet file (magic bytes and footer
/// length), read from its first and last bytes only; `None` when it looks
/// whole. Catches truncated and overwritten files without decoding them;
/// damage inside the data pages shows only when a read decodes them.
pub(crate) fn parquet_frame_problem(path: &Path) -> Option<String> {
    let check = || -> std::io::Result<Option<&'static str>> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if len < 12 {
            return Ok(Some("too short to be a Parquet file"));
        }
        let mut head = [0u8; 4];
        file.read_exact(&mut head)?;
        if &head != b"PAR1" {
            return Ok(Some("no Parquet header"));
        }
        let mut tail = [0u8; 8];
        file.seek(SeekFrom::End(-8))?;
        file.read_exact(&mut tail)?;
        if &tail[4..] != b"PAR1" {
            return Ok(Some("no Parquet footer (the file is cut short)"));
        }
        let footer = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
        if footer + 12 > len {
            return Ok(Some("the Parquet footer length is out of range"));
        }
        Ok(None)
    };
    match check() {
        Ok(problem) => problem.map(str::to_string),
        Err(e) => Some(format!("cannot read it: {e}")),
    }
}

/// The PID in a temporary file name `.<name>.parquet.tmp-<pid>[-<n>]`.
fn temporary_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let (_, rest) = name.rsplit_once(".parquet.tmp-")?;
    rest.split('-').next()?.parse().ok()
}

/// Whether a temporary file was left by a writer that is gone: its process
/// is not running, or it is older than [`TEMPORARY_FILE_MAX_AGE`].
fn temporary_is_stale(path: &Path, pid: u32, now: SystemTime) -> bool {
    let old = fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age > TEMPORARY_FILE_MAX_AGE);
    // Without procfs nothing can be said about the PID: age decides.
    let procfs = Path::new("/proc/self").exists();
    let gone = procfs && pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists();
    old || gone
}

/// The sorted (name, path) entries of `dir`; none when it does not exist.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let read = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HistoryError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out: Vec<_> = read
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
        .collect();
    out.sort();
    Ok(out)
}

/// The partition directories of a dataset: `<dir>/<k1>=*/<k2>=*`.
fn partition_dirs(root: &Path, table: Dataset) -> Result<Vec<PathBuf>> {
    let [k1, k2] = table.partition_keys();
    let mut out = Vec::new();
    for (name, dir) in entries(&root.join(table.as_str()))? {
        if !name.starts_with(&format!("{k1}=")) {
            continue;
        }
        for (name, sub) in entries(&dir)? {
            if name.starts_with(&format!("{k2}=")) {
                out.push(sub);
            }
        }
    }
    Ok(out)
}

impl HistoryStore {
    /// Removes the leftover temporary files of `table` (see
    /// [`TEMPORARY_FILE_MAX_AGE`]), returning them.
    pub(crate) fn remove_stale_temporary(&self, table: Dataset) -> Result<Vec<PathBuf>> {
        let now = SystemTime::now();
        let mut removed = Vec::new();
        for dir in partition_dirs(self.root(), table)? {
            for (name, path) in entries(&dir)? {
                let Some(pid) = temporary_pid(&name) else {
                    continue;
                };
                if temporary_is_stale(&path, pid, now) {
                    match fs::remove_file(&path) {
                        Ok(()) => removed.push(path),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(source) => return Err(HistoryError::Write { path, source }),
                    }
                }
            }
        }
        Ok(removed)
    }

    /// Every Parquet file of the history that cannot be read in full (each
    /// is decoded, which takes a while for a large aggregate dataset), in
    /// dataset order. Reads only: see [`HistoryStore::repair`].
    pub fn verify(&self) -> Result<Vec<DamagedFile>> {
        let mut out = Vec::new();
        for table in Dataset::ALL {
            for dir in partition_dirs(self.root(), table)? {
                for (name, path) in entries(&dir)? {
                    if name.starts_with('.') || !name.ends_with(".parquet") {
                        continue;
                    }
                    if let Err(reason) = self.check_file(table, &path) {
                        if let Some(file) = DamagedFile::classify(self.root(), &path, reason) {
                            out.push(file);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Repairs the history: removes leftover temporary files, moves every
    /// unreadable Parquet file (see [`HistoryStore::verify`]) to
    /// `<root>/damaged/<its relative path>`, and drops from the aggregate
    /// seen index the reports whose file is gone or damaged, so that
    /// ingesting them again writes their rows. Holds the aggregate lock, so
    /// no ingest runs meanwhile. Running it again on a sound history does
    /// nothing.
    pub fn repair(&self) -> Result<Repair> {
        let aggregate = self.aggregate_dir();
        let _lock = if aggregate.is_dir() {
            Some(crate::aggregate::lock(&aggregate.join(".lock"))?)
        } else {
            None
        };
        let mut out = Repair::default();
        for table in Dataset::ALL {
            out.removed_temporary
                .extend(self.remove_stale_temporary(table)?);
        }
        for file in self.verify()? {
            let moved_to = self.quarantine(&file.path)?;
            out.quarantined.push(QuarantinedFile { file, moved_to });
        }
        if aggregate.is_dir() {
            out.forgotten = self.forget_lost_reports(&out.quarantined)?;
        }
        Ok(out)
    }

    /// Moves `path` (a file under the root) to the same relative path under
    /// `<root>/damaged/`, with `.1`, `.2`, ... appended when one is there.
    pub(crate) fn quarantine(&self, path: &Path) -> Result<PathBuf> {
        let rel = path.strip_prefix(self.root()).unwrap_or(path);
        let base = self.root().join(DAMAGED_DIR).join(rel);
        let mut dest = base.clone();
        let mut n = 0;
        while dest.exists() {
            n += 1;
            let mut name = base.as_os_str().to_owned();
            name.push(format!(".{n}"));
            dest = PathBuf::from(name);
        }
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).map_err(|source| HistoryError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        fs::rename(path, &dest).map_err(|source| HistoryError::Write {
            path: dest.clone(),
            source,
        })?;
        tracing::warn!(
            "moved the damaged history file {} to {}",
            path.display(),
            dest.display()
        );
        Ok(dest)
    }

    /// Reads one file in full: `Err(reason)` when it cannot be.
    fn check_file(&self, table: Dataset, path: &Path) -> std::result::Result<(), String> {
        if let Some(problem) = parquet_frame_problem(path) {
            return Err(problem);
        }
        let read = crate::store::read_parquet_file(path, None).and_then(|df| {
            let (schema, skip): (Vec<_>, &[&str]) = match table {
                Dataset::Aggregate => (
                    crate::aggregate::aggregate_schema(),
                    &crate::aggregate::AGGREGATE_PARTITIONS,
                ),
                Dataset::Findings => (
                    crate::frames::findings_schema(),
                    &crate::frames::PARTITION_COLUMNS,
                ),
                Dataset::Summary => (
                    crate::frames::summary_schema(),
                    &crate::frames::PARTITION_COLUMNS,
                ),
                Dataset::Runs => (
                    crate::store::runs_schema(),
                    &crate::frames::PARTITION_COLUMNS,
                ),
            };
            crate::frames::conform(&df, &schema, skip, true)
                .map(|_| ())
                .map_err(|reason| HistoryError::Corrupt {
                    path: path.to_path_buf(),
                    reason,
                })
        });
        match read {
            Ok(()) => Ok(()),
            Err(HistoryError::Corrupt { reason, .. }) => Err(reason),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_names_domain_and_date_or_job_period_and_run() {
        let root = Path::new("/h");
        let f = DamagedFile::classify(
            root,
            Path::new("/h/aggregate/domain=example.com/date=2026-11-03/g-1.parquet"),
            "cut".into(),
        )
        .unwrap();
        assert_eq!(f.table, Dataset::Aggregate);
        assert_eq!(f.domain.as_deref(), Some("example.com"));
        assert_eq!(f.date.as_deref(), Some("2026-11-03"));
        assert_eq!(
            f.description,
            "DMARC aggregate report rows of example.com for 2026-11-03"
        );
        let f = DamagedFile::classify(
            root,
            Path::new("/h/findings/job=monthly/period=2026-11/R1.parquet"),
            "cut".into(),
        )
        .unwrap();
        assert_eq!(
            (f.job.as_deref(), f.period.as_deref(), f.run_id.as_deref()),
            (Some("monthly"), Some("2026-11"), Some("R1"))
        );
        assert_eq!(
            f.description,
            "findings of the monthly run R1 (period 2026-11)"
        );
        assert!(
            DamagedFile::classify(root, Path::new("/h/aggregate/_seen.json"), "x".into())
                .is_some_and(|f| f.domain.is_none())
        );
        assert!(
            DamagedFile::classify(root, Path::new("/elsewhere/x.parquet"), "x".into()).is_none()
        );
        assert!(DamagedFile::classify(root, Path::new("/h/other/x.parquet"), "x".into()).is_none());
    }

    #[test]
    fn temporary_names_carry_the_pid() {
        assert_eq!(temporary_pid(".a-1.parquet.tmp-4242-7"), Some(4242));
        assert_eq!(temporary_pid(".R1.parquet.tmp-99"), Some(99));
        assert_eq!(temporary_pid("a.parquet"), None);
        assert_eq!(temporary_pid(".a.parquet.tmp-x"), None);
    }
}
