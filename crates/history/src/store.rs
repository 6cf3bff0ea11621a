//! The history store: Hive-partitioned Parquet files under `reports/data`.
//!
//! ```text
//! <root>/findings/job=<job>/period=<period>/<run_id>.parquet   one row per finding
//! <root>/summary/job=<job>/period=<period>/<run_id>.parquet    one row per domain
//! <root>/runs/job=<job>/period=<period>/<run_id>.parquet       one row: the run itself
//! ```
//!
//! `job` and `period` live in the path only, not in the files: Hive readers
//! add partition columns from the path, and a column present in both is
//! handled differently by each reader (DuckDB since 0.7 lets the path win,
//! Spark has warned about or mis-read such data, pyarrow fails when the types
//! differ). Every other column, `run_id` included, is in the file, so a file
//! copied out of the tree still says which run it belongs to. Readers should
//! take partition values as text, since `period=2026` would otherwise be
//! inferred as a number next to `period=2026-11`: in DuckDB,
//! `read_parquet('<root>/findings/*/*/*.parquet', hive_partitioning = true,
//! hive_types = {'job': VARCHAR, 'period': VARCHAR})`.
//!
//! A run is committed when its `runs` record is written, after its findings
//! and summary: [`HistoryStore::runs`] lists only committed runs, so a crash in
//! the middle leaves at most unlisted files that the retried run overwrites.
//! Each file is written under a hidden temporary name (`.<run_id>.parquet.tmp-<pid>`,
//! which neither `*.parquet` globs nor Spark/Hive pick up) and renamed into place.

use std::fs::{self, File};
use std::io::{self, Cursor, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::DateTime;
use polars::prelude::*;

use crate::damage::DamagedFile;
use crate::error::{HistoryError, Result};
use crate::frames::{conform, findings_schema, summary_schema, PARTITION_COLUMNS};
use crate::run::{truncate_to_millis, RunMeta};

/// The three datasets of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Findings,
    Summary,
    Runs,
}

impl Table {
    pub(crate) fn dir(self) -> &'static str {
        match self {
            Table::Findings => "findings",
            Table::Summary => "summary",
            Table::Runs => "runs",
        }
    }

    fn schema(self) -> Vec<(&'static str, DataType)> {
        match self {
            Table::Findings => findings_schema(),
            Table::Summary => summary_schema(),
            Table::Runs => runs_schema(),
        }
    }
}

pub(crate) fn runs_schema() -> Vec<(&'static str, DataType)> {
    vec![
        ("run_id", DataType::String),
        ("job", DataType::String),
        ("period", DataType::String),
        (
            "timestamp",
            DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC)),
        ),
        ("findings", DataType::UInt32),
        ("domains", DataType::UInt32),
    ]
}

/// The findings and summaries of past runs, as Parquet files under one root
/// (normally `reports/data`). See the module docs for the layout.
///
/// Damaged files met while reading history are skipped, not fatal: each is
/// logged with `tracing::warn!`, recorded in [`HistoryStore::warnings`] and,
/// as data, in [`HistoryStore::damaged`], so that the report can say which
/// period and domain lack data. [`HistoryStore::repair`] moves them aside so
/// that their reports can be ingested again.
///
/// Clones share those lists: a clone handed to the checkers' services
/// reports its damaged files to the store the job reads them from.
#[derive(Debug, Clone)]
pub struct HistoryStore {
    root: PathBuf,
    warnings: Arc<Mutex<Vec<String>>>,
    damaged: Arc<Mutex<Vec<DamagedFile>>>,
}

impl HistoryStore {
    /// A store rooted at `root`; nothing is created until the first append.
    pub fn new(root: impl Into<PathBuf>) -> HistoryStore {
        HistoryStore {
            root: root.into(),
            warnings: Arc::default(),
            damaged: Arc::default(),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The warnings recorded so far (damaged files skipped), oldest first,
    /// each naming its file.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// A JSON index (a dataset's seen index): `Some` when it reads, `None`
    /// when it is missing or damaged, a damaged one with a warning that it
    /// is `rebuilt` from the dataset's files (the caller does that).
    pub(crate) fn read_index<T: serde::de::DeserializeOwned>(
        &self,
        path: &Path,
        rebuilt: &str,
    ) -> Result<Option<T>> {
        match fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<T>(&bytes) {
                Ok(index) => Ok(Some(index)),
                Err(e) => {
                    self.warn(format!("{} is damaged ({e}); {rebuilt}", path.display()));
                    Ok(None)
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(HistoryError::Read {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub(crate) fn warn(&self, message: String) {
        tracing::warn!("{message}");
        if let Ok(mut w) = self.warnings.lock() {
            if !w.contains(&message) {
                w.push(message);
            }
        }
    }

    /// The history files found unreadable by the reads so far (each once,
    /// in the order met), with what they hold: the table, and the domain
    /// and day of an aggregate file or the job, period and run of a run's
    /// file. A file that a later read (or [`HistoryStore::repair`]) no
    /// longer finds damaged stays listed: the reads that skipped it did.
    pub fn damaged(&self) -> Vec<DamagedFile> {
        self.damaged.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// Skips a file that could not be read: a warning (`context: error`)
    /// and, when the error names a file of this history, an entry in
    /// [`HistoryStore::damaged`].
    pub(crate) fn skip(&self, context: &str, error: &HistoryError) {
        self.warn(format!("{context}: {error}"));
        let (path, reason) = match error {
            HistoryError::Corrupt { path, reason } => (path, reason.clone()),
            HistoryError::Read { path, source } => (path, source.to_string()),
            _ => return,
        };
        self.record_damage(path, reason);
    }

    /// Records `path` (a file under the root) as damaged.
    pub(crate) fn record_damage(&self, path: &Path, reason: String) {
        let Some(file) = DamagedFile::classify(&self.root, path, reason) else {
            return;
        };
        if let Ok(mut d) = self.damaged.lock() {
            if !d.iter().any(|f| f.path == file.path) {
                d.push(file);
            }
        }
    }

    fn job_dir(&self, table: Table, job: &str) -> PathBuf {
        self.root.join(table.dir()).join(format!("job={job}"))
    }

    /// The path of a run's file in `table`.
    pub(crate) fn file_path(&self, table: Table, meta: &RunMeta) -> PathBuf {
        self.job_dir(table, &meta.job)
            .join(format!("period={}", meta.period))
            .join(format!("{}.parquet", meta.run_id))
    }

    /// The path of the findings file of a run.
    pub fn findings_path(&self, meta: &RunMeta) -> PathBuf {
        self.file_path(Table::Findings, meta)
    }

    /// The path of the summary file of a run.
    pub fn summary_path(&self, meta: &RunMeta) -> PathBuf {
        self.file_path(Table::Summary, meta)
    }

    /// The path of the run record of a run.
    pub fn runs_path(&self, meta: &RunMeta) -> PathBuf {
        self.file_path(Table::Runs, meta)
    }

    /// Writes a run: its findings (from [`findings_frame`](crate::findings_frame)),
    /// its summary (from [`summary_frame`](crate::summary_frame)) and its run
    /// record, each atomically. Appending a run id again replaces that run,
    /// even when its period changed.
    ///
    /// The frames are written with exactly the history schema: extra columns
    /// (e.g. those added by [`annotate`](crate::annotate)) are dropped and the
    /// partition columns `job` and `period` are left to the path.
    pub fn append(&self, meta: &RunMeta, findings: &DataFrame, summary: &DataFrame) -> Result<()> {
        validate_name("job", &meta.job)?;
        validate_name("period", &meta.period)?;
        validate_name("run id", &meta.run_id)?;

        let mut findings = conform(findings, &findings_schema(), &PARTITION_COLUMNS, false)
            .map_err(|reason| HistoryError::Schema {
                table: "findings",
                reason,
            })?;
        let mut summary =
            conform(summary, &summary_schema(), &PARTITION_COLUMNS, false).map_err(|reason| {
                HistoryError::Schema {
                    table: "summary",
                    reason,
                }
            })?;
        let mut record = run_record(meta, findings.height(), summary.height())?;

        write_parquet_atomic(&self.file_path(Table::Findings, meta), &mut findings)?;
        write_parquet_atomic(&self.file_path(Table::Summary, meta), &mut summary)?;
        // Written last: the run exists for readers once this file does.
        write_parquet_atomic(&self.file_path(Table::Runs, meta), &mut record)?;

        for table in [Table::Runs, Table::Summary, Table::Findings] {
            self.remove_in_other_periods(table, meta)?;
        }
        Ok(())
    }

    fn pending_path(&self, meta: &RunMeta) -> PathBuf {
        self.root
            .join("pending")
            .join(format!("job={}", meta.job))
            .join(&meta.run_id)
    }

    /// Marks the run `meta` as started but not yet delivered: call it before
    /// [`append`](Self::append), and [`finish_run`](Self::finish_run) once
    /// the run's report and its outbox message are durably written. A run
    /// still marked (the process was killed, the disk filled up) is never the
    /// baseline of [`compare`](crate::compare): the next run reports its
    /// findings as new again instead of "still open", so recipients hear of
    /// them. The marker is a small file under `<root>/pending/`, outside the
    /// Hive tables.
    pub fn begin_run(&self, meta: &RunMeta) -> Result<()> {
        validate_name("job", &meta.job)?;
        validate_name("run id", &meta.run_id)?;
        write_atomic(&self.pending_path(meta), |f| {
            use std::io::Write as _;
            f.write_all(meta.started_at.to_rfc3339().as_bytes())
                .map_err(|source| HistoryError::Write {
                    path: self.pending_path(meta),
                    source,
                })
        })
    }

    /// Marks the run `meta` as delivered (its report and outbox message
    /// exist): removes the marker of [`begin_run`](Self::begin_run), durably.
    pub fn finish_run(&self, meta: &RunMeta) -> Result<()> {
        let path = self.pending_path(meta);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(HistoryError::Write { path, source }),
        }
        if let Some(dir) = path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }

    /// Whether the run `meta` was interrupted before its report and outbox
    /// message were written (see [`begin_run`](Self::begin_run)).
    pub fn is_interrupted(&self, meta: &RunMeta) -> bool {
        self.pending_path(meta).exists()
    }

    /// The runs of `job` that were interrupted before delivery, oldest first.
    pub fn interrupted_runs(&self, job: &str) -> Result<Vec<RunMeta>> {
        Ok(self
            .runs(job)?
            .into_iter()
            .filter(|r| self.is_interrupted(r))
            .collect())
    }

    /// Removes `<run_id>.parquet` from the job's other period directories,
    /// left there when a run was re-written under another period.
    fn remove_in_other_periods(&self, table: Table, meta: &RunMeta) -> Result<()> {
        let file_name = format!("{}.parquet", meta.run_id);
        let keep = format!("period={}", meta.period);
        for (dir_name, dir) in list_dir(&self.job_dir(table, &meta.job))? {
            if dir_name == keep || !dir_name.starts_with("period=") {
                continue;
            }
            let stale = dir.join(&file_name);
            if stale.is_file() {
                fs::remove_file(&stale).map_err(|source| HistoryError::Write {
                    path: stale.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }

    /// The committed runs of `job`, oldest first (by start time, then run id).
    /// A damaged run record is skipped with a warning.
    pub fn runs(&self, job: &str) -> Result<Vec<RunMeta>> {
        validate_name("job", job)?;
        let mut runs = Vec::new();
        for (period_dir, dir) in list_dir(&self.job_dir(Table::Runs, job))? {
            let Some(period) = period_dir.strip_prefix("period=") else {
                continue;
            };
            for (file_name, path) in list_dir(&dir)? {
                let Some(run_id) = file_name.strip_suffix(".parquet") else {
                    continue;
                };
                if file_name.starts_with('.') {
                    continue;
                }
                match read_run_record(&path) {
                    Ok(started_at) => runs.push(RunMeta {
                        run_id: run_id.to_string(),
                        job: job.to_string(),
                        period: period.to_string(),
                        started_at,
                    }),
                    Err(e) => self.skip(&format!("skipped run {run_id} of job {job}"), &e),
                }
            }
        }
        runs.sort_by(|a, b| (a.started_at, &a.run_id).cmp(&(b.started_at, &b.run_id)));
        Ok(runs)
    }

    /// The jobs with a run directory in the history, by name (`annual`,
    /// `check`, `monthly`, ...). A job listed may have no committed run yet.
    pub fn jobs(&self) -> Result<Vec<String>> {
        Ok(list_dir(&self.root.join(Table::Runs.dir()))?
            .into_iter()
            .filter_map(|(name, _)| name.strip_prefix("job=").map(str::to_string))
            .filter(|job| validate_name("job", job).is_ok())
            .collect())
    }

    fn find_run(&self, job: &str, run_id: &str) -> Result<RunMeta> {
        self.runs(job)?
            .into_iter()
            .find(|r| r.run_id == run_id)
            .ok_or_else(|| HistoryError::RunNotFound {
                job: job.to_string(),
                run_id: run_id.to_string(),
                path: self.root.clone(),
            })
    }

    /// The findings of one run, with the columns of
    /// [`findings_frame`](crate::findings_frame) (`job` and `period` restored
    /// from the path). A damaged file is an error here; history scans
    /// ([`compare`](crate::compare), [`trends`](crate::trends)) skip it instead.
    pub fn load_findings(&self, job: &str, run_id: &str) -> Result<DataFrame> {
        validate_name("run id", run_id)?;
        let meta = self.find_run(job, run_id)?;
        self.load_run(Table::Findings, &meta, None)
    }

    /// The summaries of the last `last_n` runs of `job` (all runs when
    /// `last_n` exceeds their number), oldest run first, with the columns of
    /// [`summary_frame`](crate::summary_frame). Damaged files are skipped with
    /// a warning.
    pub fn load_summaries(&self, job: &str, last_n: usize) -> Result<DataFrame> {
        let runs = self.runs(job)?;
        let recent = &runs[runs.len().saturating_sub(last_n)..];
        let mut out: Option<DataFrame> = None;
        for meta in recent {
            match self.load_run(Table::Summary, meta, None) {
                Ok(df) => match out.as_mut() {
                    Some(acc) => {
                        acc.vstack_mut_owned(df)?;
                    }
                    None => out = Some(df),
                },
                Err(e) => self.skip(&format!("skipped summary of run {}", meta.run_id), &e),
            }
        }
        match out {
            Some(mut df) => {
                df.rechunk_mut();
                Ok(df)
            }
            None => Ok(empty_frame(&summary_schema())),
        }
    }

    /// Reads one run's file of `table`, restoring `job` and `period` from the
    /// path. With `columns`, reads only those (no restoring).
    pub(crate) fn load_run(
        &self,
        table: Table,
        meta: &RunMeta,
        columns: Option<&[&str]>,
    ) -> Result<DataFrame> {
        let path = self.file_path(table, meta);
        let df = read_parquet_file(&path, columns)?;
        let corrupt = |reason: String| HistoryError::Corrupt {
            path: path.clone(),
            reason,
        };
        if let Some(columns) = columns {
            let schema: Vec<_> = table
                .schema()
                .into_iter()
                .filter(|(name, _)| columns.contains(name))
                .collect();
            return conform(&df, &schema, &[], false).map_err(corrupt);
        }
        let mut df = conform(&df, &table.schema(), &PARTITION_COLUMNS, true).map_err(corrupt)?;
        let height = df.height();
        for (index, (name, value)) in [("job", &meta.job), ("period", &meta.period)]
            .into_iter()
            .enumerate()
        {
            let column = Column::new_scalar(
                name.into(),
                Scalar::new(
                    DataType::String,
                    AnyValue::StringOwned(value.as_str().into()),
                ),
                height,
            );
            df.insert_column(index + 1, column)?;
        }
        Ok(df)
    }
}

/// The one-row run record.
fn run_record(meta: &RunMeta, findings: usize, domains: usize) -> Result<DataFrame> {
    let timestamp = Int64Chunked::full("timestamp".into(), meta.started_at.timestamp_millis(), 1)
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column();
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(DataFrame::new(
        1,
        vec![
            Column::new("run_id".into(), [meta.run_id.as_str()]),
            timestamp,
            Column::new("findings".into(), [count(findings)]),
            Column::new("domains".into(), [count(domains)]),
        ],
    )?)
}

fn read_run_record(path: &Path) -> Result<DateTime<chrono::Utc>> {
    let df = read_parquet_file(path, Some(&["timestamp"]))?;
    let corrupt = |reason: &str| HistoryError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let ts = df
        .column("timestamp")
        .and_then(|c| c.datetime())
        .map_err(|e| corrupt(&e.to_string()))?;
    let millis = match ts.time_unit() {
        TimeUnit::Milliseconds => ts.physical().get(0),
        _ => None,
    }
    .ok_or_else(|| corrupt("no start time in the run record"))?;
    let started_at = DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| corrupt("start time out of range"))?;
    Ok(truncate_to_millis(started_at))
}

/// An empty frame with the given schema.
pub(crate) fn empty_frame(schema: &[(&'static str, DataType)]) -> DataFrame {
    let columns = schema
        .iter()
        .map(|(name, dtype)| Column::new_empty((*name).into(), dtype))
        .collect();
    DataFrame::new(0, columns).unwrap_or_else(|_| DataFrame::empty())
}

/// Reads a whole Parquet file. The polars decoder may panic on some damaged
/// input instead of returning an error; that is caught and reported as
/// damage, so one bad file never takes the run down.
pub(crate) fn read_parquet_file(path: &Path, columns: Option<&[&str]>) -> Result<DataFrame> {
    let bytes = fs::read(path).map_err(|source| HistoryError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let columns: Option<Vec<String>> = columns.map(|c| c.iter().map(|s| s.to_string()).collect());
    let result = catch_unwind(AssertUnwindSafe(|| {
        ParquetReader::new(Cursor::new(bytes))
            .with_columns(columns)
            .finish()
    }));
    match result {
        Ok(Ok(df)) => Ok(df),
        Ok(Err(e)) => Err(HistoryError::Corrupt {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Err(_) => Err(HistoryError::Corrupt {
            path: path.to_path_buf(),
            reason: "the Parquet decoder failed on it".to_string(),
        }),
    }
}

/// Writes `df` to `path` via a hidden temporary file in the same directory
/// and a rename, so that `path` is either the old file or the complete new one.
pub(crate) fn write_parquet_atomic(path: &Path, df: &mut DataFrame) -> Result<()> {
    write_atomic(path, |file| {
        let (writer, io_error) = IoErrorKept::new(file);
        encode_buffered(path, writer, &io_error, df)
    })
}

/// Encodes `df` into `writer` through a buffer (the encoder's many small
/// writes become few system calls), flushed before the caller syncs.
fn encode_buffered<W: Write>(
    path: &Path,
    writer: W,
    io_error: &KeptError,
    df: &mut DataFrame,
) -> Result<()> {
    encode_buffered_with(path, writer, io_error, df, ParquetCompression::default())
}

fn encode_buffered_with<W: Write>(
    path: &Path,
    writer: W,
    io_error: &KeptError,
    df: &mut DataFrame,
    compression: ParquetCompression,
) -> Result<()> {
    let mut buf = io::BufWriter::with_capacity(1 << 16, writer);
    ParquetWriter::new(&mut buf)
        .with_compression(compression)
        .finish(df)
        .map_err(|source| encode_error(path, io_error, source))?;
    buf.flush().map_err(|source| HistoryError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `df` to `path` via a hidden temporary file and a rename, like
/// [`write_parquet_atomic`], without syncing: the caller makes a batch of
/// such files durable at once ([`sync_filesystem`]) before it records them.
///
/// A frame of a few rows is written uncompressed: compressing it costs more
/// (a compressor set up per column) than it saves, and such a file is merged
/// into a compressed one by `history compact`.
pub(crate) fn write_parquet_unsynced(path: &Path, df: &mut DataFrame) -> Result<()> {
    let compression = if df.height() < SMALL_FRAME_ROWS {
        ParquetCompression::Uncompressed
    } else {
        ParquetCompression::default()
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let write_err = |p: &Path| {
        let p = p.to_path_buf();
        move |source| HistoryError::Write { path: p, source }
    };
    fs::create_dir_all(dir).map_err(write_err(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let file = File::create(&tmp).map_err(write_err(&tmp))?;
        let (writer, io_error) = IoErrorKept::new(file);
        encode_buffered_with(path, writer, &io_error, df, compression)?;
        fs::rename(&tmp, path).map_err(write_err(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Below this many rows, [`write_parquet_unsynced`] does not compress.
const SMALL_FRAME_ROWS: usize = 256;

/// Makes everything written to the file system of `dir` durable (one
/// `syncfs`): the files of a batch, their renames and their folders.
pub(crate) fn sync_filesystem(dir: &Path) -> Result<()> {
    let err = |source| HistoryError::Write {
        path: dir.to_path_buf(),
        source,
    };
    let d = File::open(dir).map_err(err)?;
    rustix::fs::syncfs(&d).map_err(|e| err(std::io::Error::from(e)))
}

/// What is kept of an I/O error (which is not `Clone`): enough to make an
/// equal one.
type ErrorParts = (io::ErrorKind, Option<i32>, String);

/// The first I/O error met by an [`IoErrorKept`] writer.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeptError(Arc<Mutex<Option<ErrorParts>>>);

impl KeptError {
    fn keep(&self, e: &io::Error) {
        if let Ok(mut slot) = self.0.lock() {
            if slot.is_none() {
                *slot = Some((e.kind(), e.raw_os_error(), e.to_string()));
            }
        }
    }

    /// A copy of the error kept, if any.
    pub(crate) fn get(&self) -> Option<io::Error> {
        let slot = self.0.lock().ok()?;
        let (kind, os, message) = slot.as_ref()?;
        Some(match os {
            Some(code) => io::Error::from_raw_os_error(*code),
            None => io::Error::new(*kind, message.clone()),
        })
    }
}

/// A writer that keeps the first I/O error of the writer it wraps. The
/// Parquet encoder turns a failed write into `Invalid thrift: transport
/// error` or `underlying IO error`, which hides a full disk: with the error
/// kept, the history says `cannot write <file>: No space left on device`.
pub(crate) struct IoErrorKept<W> {
    inner: W,
    error: KeptError,
}

impl<W> IoErrorKept<W> {
    pub(crate) fn new(inner: W) -> (IoErrorKept<W>, KeptError) {
        let error = KeptError::default();
        (
            IoErrorKept {
                inner,
                error: error.clone(),
            },
            error,
        )
    }
}

impl<W: Write> Write for IoErrorKept<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).inspect_err(|e| self.error.keep(e))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner
            .write_all(buf)
            .inspect_err(|e| self.error.keep(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().inspect_err(|e| self.error.keep(e))
    }
}

/// The error of a failed Parquet encode into `path`: the I/O error under it
/// when there was one, the encoder's otherwise.
pub(crate) fn encode_error(path: &Path, kept: &KeptError, source: PolarsError) -> HistoryError {
    match kept.get() {
        Some(source) => HistoryError::Write {
            path: path.to_path_buf(),
            source,
        },
        None => HistoryError::Encode {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Creates `path`'s directory, writes through `write` into a temporary file
/// beside `path`, syncs it and renames it over `path` (the workspace's one
/// atomic write, [`authwarden_api::fsutil::write_atomic_with`]); an error of
/// `write` itself comes back as it is.
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let mut failed: Option<HistoryError> = None;
    let written = authwarden_api::fsutil::write_atomic_with(path, |file| {
        write(file).map_err(|e| {
            let text = e.to_string();
            failed = Some(e);
            std::io::Error::other(text)
        })
    });
    match (written, failed) {
        (Ok(()), _) => Ok(()),
        (Err(_), Some(e)) => Err(e),
        (Err(source), None) => Err(HistoryError::Write {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// The entries of a directory as (name, path), sorted by name; none when it
/// does not exist.
fn list_dir(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HistoryError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| HistoryError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_string(), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Job, period and run id become path segments: keep them to a safe alphabet.
fn validate_name(what: &'static str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && !value.starts_with('.')
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(HistoryError::InvalidName {
            what,
            value: value.to_string(),
        })
    }
}
