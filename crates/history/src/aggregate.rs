//! DMARC aggregate report rows in the history: one row per `<record>` with
//! its report's metadata and classification, as Hive-partitioned Parquet.
//!
//! ```text
//! <root>/aggregate/domain=<domain>/date=<YYYY-MM-DD>/batch-<time>-<pid>-<seq>-<n>.parquet
//!     the rows of one ingest batch's reports of that domain and day
//! <root>/aggregate/domain=<domain>/date=<YYYY-MM-DD>/<org>-<report_id>.parquet
//!     a report larger than AGGREGATE_ROW_GROUP rows, streamed on its own
//! <root>/aggregate/domain=<domain>/date=<YYYY-MM-DD>/compact-<time>-<pid>.parquet
//!     a partition's files merged (`history compact`, see crate::compact)
//! <root>/aggregate/_seen.json      each (org_name, report_id) ingested, and its file
//! <root>/aggregate/.lock           held while a batch is appended
//! ```
//!
//! `domain` (of `policy_published`) and `date` (the UTC day the reporting
//! period begins) live in the path only, like `job` and `period` of the
//! other datasets (see the store's docs for why); [`HistoryStore::load_aggregate`]
//! restores them as text columns. In DuckDB:
//! `read_parquet('<root>/aggregate/*/*/*.parquet', hive_partitioning = true,
//! hive_types = {'domain': VARCHAR, 'date': VARCHAR})`.
//!
//! A report is ingested once: the seen index is checked and updated under
//! the lock, so the same report from a file and from IMAP counts once. A
//! batch's files are written (and synced, once for all) before the index; a
//! crash in between leaves files that the index does not name, and the next
//! batch adopts them (their reports are pointed at them), so nothing is
//! written twice. A missing or damaged index is rebuilt from the files (`_` names are skipped by Hive and Spark readers,
//! and do not match `*/*/*.parquet`).

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use authwarden_aggregate::{AggregateReport, AggregateRow, ReportHeader};
use fs4::FileExt;
use polars::io::parquet::write::BatchedWriter;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::damage::{parquet_frame_problem, Dataset, ForgottenReport, QuarantinedFile};
use crate::error::{HistoryError, Result};
use crate::frames::conform;
use crate::store::{
    empty_frame, encode_error, read_parquet_file, sync_filesystem, write_atomic,
    write_parquet_atomic, write_parquet_unsynced, IoErrorKept, KeptError,
};
use crate::HistoryStore;

/// The reports of one file: its distinct (org_name, report_id).
pub(crate) fn file_keys(file: &Path) -> Result<std::collections::BTreeSet<(String, String)>> {
    let df = read_parquet_file(file, Some(&["org_name", "report_id"]))?;
    crate::compact::frame_keys(&df).map_err(|e| HistoryError::Corrupt {
        path: file.to_path_buf(),
        reason: e.to_string(),
    })
}

/// `file` relative to `dir`, as the seen index names it.
pub(crate) fn relative_to(dir: &Path, file: &Path) -> String {
    file.strip_prefix(dir)
        .unwrap_or(file)
        .to_string_lossy()
        .into_owned()
}

/// The partition columns of the aggregate dataset: in the path, not the files.
pub(crate) const AGGREGATE_PARTITIONS: [&str; 2] = ["domain", "date"];

fn datetime_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
}

/// The columns of [`aggregate_frame`], in order, with their types. `domain`
/// and `date` (`YYYY-MM-DD`, UTC day of `begin`) are the partition columns.
pub fn aggregate_schema() -> Vec<(&'static str, DataType)> {
    use DataType::*;
    vec![
        ("domain", String),
        ("date", String),
        ("org_name", String),
        ("report_id", String),
        ("source", String),
        ("begin", datetime_dtype()),
        ("end", datetime_dtype()),
        ("adkim", String),
        ("aspf", String),
        ("p", String),
        ("sp", String),
        ("pct", UInt32),
        ("source_ip", String),
        ("count", UInt64),
        ("disposition", String),
        ("dmarc_dkim", String),
        ("dmarc_spf", String),
        ("reasons", String),
        ("header_from", String),
        ("envelope_from", String),
        ("envelope_to", String),
        ("dkim_domains", String),
        ("dkim_selectors", String),
        ("dkim_results", String),
        ("spf_domains", String),
        ("spf_results", String),
        ("dkim_aligned", Boolean),
        ("spf_aligned", Boolean),
        ("reporter_agrees", Boolean),
        ("category", String),
        ("cause", String),
        ("provider", String),
        ("action", String),
        // RFC 9990 (files written before read them back as nulls).
        ("np", String),
        ("testing", String),
        ("discovery_method", String),
        ("generator", String),
        // The report message's authentication (files written before read
        // them back as nulls).
        ("report_auth", String),
        ("report_from", String),
        ("report_auth_detail", String),
    ]
}

/// The UTC day a reporting period begins, `YYYY-MM-DD`.
pub fn aggregate_date(begin: i64) -> String {
    chrono::DateTime::from_timestamp(begin, 0)
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

/// One row per record, with the columns of [`aggregate_schema`]:
/// `begin`/`end` as UTC milliseconds, multi-valued auth results joined
/// with `;` (see [`AggregateRow`]).
pub fn aggregate_frame(rows: &[AggregateRow]) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let text = |name: &str, get: fn(&AggregateRow) -> &str| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let opt = |name: &str, get: fn(&AggregateRow) -> Option<&str>| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let flag = |name: &str, get: fn(&AggregateRow) -> bool| {
        Column::new(name.into(), rows.iter().map(get).collect::<Vec<_>>())
    };
    let time = |name: &str, get: fn(&AggregateRow) -> i64| {
        Int64Chunked::from_vec(
            name.into(),
            rows.iter()
                .map(|r| get(r).saturating_mul(1000))
                .collect::<Vec<_>>(),
        )
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
    };
    let columns = vec![
        Column::new(
            "domain".into(),
            rows.iter()
                .map(|r| partition_domain(&r.domain))
                .collect::<Vec<_>>(),
        ),
        Column::new(
            "date".into(),
            rows.iter()
                .map(|r| aggregate_date(r.begin))
                .collect::<Vec<_>>(),
        ),
        text("org_name", |r| &r.org_name),
        text("report_id", |r| &r.report_id),
        text("source", |r| &r.source),
        time("begin", |r| r.begin),
        time("end", |r| r.end),
        opt("adkim", |r| r.adkim.as_deref()),
        opt("aspf", |r| r.aspf.as_deref()),
        opt("p", |r| r.p.as_deref()),
        opt("sp", |r| r.sp.as_deref()),
        Column::new(
            "pct".into(),
            rows.iter()
                .map(|r| r.pct.map(u32::from))
                .collect::<Vec<_>>(),
        ),
        text("source_ip", |r| &r.source_ip),
        Column::new(
            "count".into(),
            rows.iter().map(|r| r.count).collect::<Vec<_>>(),
        ),
        opt("disposition", |r| r.disposition.as_deref()),
        opt("dmarc_dkim", |r| r.dmarc_dkim.as_deref()),
        opt("dmarc_spf", |r| r.dmarc_spf.as_deref()),
        opt("reasons", |r| r.reasons.as_deref()),
        text("header_from", |r| &r.header_from),
        opt("envelope_from", |r| r.envelope_from.as_deref()),
        opt("envelope_to", |r| r.envelope_to.as_deref()),
        opt("dkim_domains", |r| r.dkim_domains.as_deref()),
        opt("dkim_selectors", |r| r.dkim_selectors.as_deref()),
        opt("dkim_results", |r| r.dkim_results.as_deref()),
        opt("spf_domains", |r| r.spf_domains.as_deref()),
        opt("spf_results", |r| r.spf_results.as_deref()),
        flag("dkim_aligned", |r| r.dkim_aligned),
        flag("spf_aligned", |r| r.spf_aligned),
        flag("reporter_agrees", |r| r.reporter_agrees),
        text("category", |r| &r.category),
        text("cause", |r| &r.cause),
        opt("provider", |r| r.provider.as_deref()),
        text("action", |r| &r.action),
        opt("np", |r| r.np.as_deref()),
        opt("testing", |r| r.testing.as_deref()),
        opt("discovery_method", |r| r.discovery_method.as_deref()),
        opt("generator", |r| r.generator.as_deref()),
        opt("report_auth", |r| r.report_auth.as_deref()),
        opt("report_from", |r| r.report_from.as_deref()),
        opt("report_auth_detail", |r| r.report_auth_detail.as_deref()),
    ];
    DataFrame::new(n, columns)
}

/// What [`HistoryStore::append_aggregate`] did. From
/// [`AggregateBatch::into_summary`] only `rows`: a batch of 100,000 reports
/// keeps no list of them (the caller counts the outcomes it was given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AggregateAppend {
    /// Reports written now: org_name, report_id and the file.
    pub written: Vec<(String, String, PathBuf)>,
    /// Reports skipped because the history already holds them (or an
    /// earlier report of the same batch): org_name and report_id.
    pub already_ingested: Vec<(String, String)>,
    /// Rows written.
    pub rows: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SeenIndex {
    /// Entries sorted by (org_name, report_id).
    reports: Vec<SeenEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SeenEntry {
    org_name: String,
    report_id: String,
    /// The file, relative to the aggregate directory.
    file: String,
}

pub(crate) type Seen = BTreeMap<(String, String), String>;

impl HistoryStore {
    /// The directory of the aggregate dataset.
    pub fn aggregate_dir(&self) -> PathBuf {
        self.root().join("aggregate")
    }

    /// Where a report's rows are kept:
    /// `aggregate/domain=<domain>/date=<YYYY-MM-DD>/<org>-<report_id>.parquet`,
    /// each part reduced to ASCII letters, digits, `-`, `_` and `.` (with a
    /// hash of the original when that changed anything).
    pub fn aggregate_path(
        &self,
        domain: &str,
        begin: i64,
        org_name: &str,
        report_id: &str,
    ) -> PathBuf {
        self.aggregate_dir()
            .join(relative_path(domain, begin, org_name, report_id))
    }

    /// Whether the report (org_name, report_id) is in the history: in the
    /// seen index, with its file present and whole (see
    /// [`parquet_frame_problem`]). A report whose file is missing or damaged
    /// is not, so that ingesting it again writes it again.
    pub fn aggregate_contains(&self, org_name: &str, report_id: &str) -> Result<bool> {
        let seen = self.load_seen()?;
        Ok(seen
            .get(&(org_name.to_string(), report_id.to_string()))
            .is_some_and(|rel| self.seen_file_intact(rel)))
    }

    /// Whether the file of a seen report is there and looks whole. Cheap: the
    /// first and last bytes only.
    fn seen_file_intact(&self, rel: &str) -> bool {
        parquet_frame_problem(&self.aggregate_dir().join(rel)).is_none()
    }

    /// For a report in the seen index whose file is missing or damaged:
    /// moves a damaged file aside (recording it) and drops the key, so that
    /// the report is written again. Called under the dataset's lock.
    /// Returns whether the report must be written again.
    fn reclaim_lost(&self, seen: &mut Seen, key: &(String, String)) -> Result<bool> {
        let Some(rel) = seen.get(key) else {
            return Ok(false);
        };
        let path = self.aggregate_dir().join(rel);
        let Some(problem) = parquet_frame_problem(&path) else {
            return Ok(false);
        };
        if path.exists() {
            self.record_damage(&path, problem.clone());
            self.quarantine(&path)?;
        }
        self.warn(format!(
            "report {} of {} was in the history but its file {} is not usable ({problem}): writing it again",
            key.1,
            key.0,
            path.display()
        ));
        seen.remove(key);
        Ok(true)
    }

    /// Drops from the seen index the reports whose file is missing or
    /// damaged (moving a damaged one aside). Called by
    /// [`HistoryStore::repair`] under the lock, after the quarantine.
    pub(crate) fn forget_lost_reports(
        &self,
        quarantined: &[QuarantinedFile],
    ) -> Result<Vec<ForgottenReport>> {
        let dir = self.aggregate_dir();
        let moved: HashSet<&Path> = quarantined
            .iter()
            .filter(|q| q.file.table == Dataset::Aggregate)
            .map(|q| q.file.path.as_path())
            .collect();
        let mut seen = self.load_seen()?;
        let mut forgotten = Vec::new();
        let keys: Vec<_> = seen.keys().cloned().collect();
        for key in keys {
            let rel = seen[&key].clone();
            let path = dir.join(&rel);
            let why = if moved.contains(path.as_path()) {
                "damaged"
            } else if !path.exists() {
                "missing"
            } else if let Some(problem) = parquet_frame_problem(&path) {
                self.record_damage(&path, problem);
                self.quarantine(&path)?;
                "damaged"
            } else {
                continue;
            };
            seen.remove(&key);
            forgotten.push(ForgottenReport {
                org_name: key.0,
                report_id: key.1,
                file: rel,
                why,
            });
        }
        if !forgotten.is_empty() {
            self.save_seen(&seen)?;
        }
        Ok(forgotten)
    }

    /// Appends reports with their rows (from
    /// [`authwarden_aggregate::report_rows`]), one Parquet file per report,
    /// skipping reports already in the history by (org_name, report_id).
    /// Safe against a concurrent append (file and IMAP ingest): the batch
    /// holds the dataset's lock.
    pub fn append_aggregate<'a>(
        &self,
        reports: impl IntoIterator<Item = (&'a AggregateReport, &'a [AggregateRow])>,
    ) -> Result<AggregateAppend> {
        let dir = self.aggregate_dir();
        fs::create_dir_all(&dir).map_err(|source| HistoryError::Write {
            path: dir.clone(),
            source,
        })?;
        let _lock = lock(&dir.join(".lock"))?;
        self.remove_stale_temporary(Dataset::Aggregate)?;
        let mut seen = self.load_seen()?;
        let mut out = AggregateAppend::default();
        let mut reclaimed = false;
        for (report, rows) in reports {
            let key = (
                report.metadata.org_name.clone(),
                report.metadata.report_id.clone(),
            );
            if seen.contains_key(&key) {
                if self.reclaim_lost(&mut seen, &key)? {
                    reclaimed = true;
                } else {
                    out.already_ingested.push(key);
                    continue;
                }
            }
            let rel = relative_path(
                &report.policy_published.domain,
                report.metadata.date_range.begin,
                &key.0,
                &key.1,
            );
            let path = dir.join(&rel);
            let frame = aggregate_frame(rows)?;
            let mut frame = conform(&frame, &aggregate_schema(), &AGGREGATE_PARTITIONS, false)
                .map_err(|reason| HistoryError::Schema {
                    table: "aggregate",
                    reason,
                })?;
            write_parquet_atomic(&path, &mut frame)?;
            out.rows += rows.len();
            seen.insert(key.clone(), rel);
            out.written.push((key.0, key.1, path));
        }
        if !out.written.is_empty() || reclaimed {
            self.save_seen(&seen)?;
        }
        Ok(out)
    }

    /// Every aggregate row in the history, with the columns of
    /// [`aggregate_schema`] (`domain` and `date` from the path). Damaged
    /// files are skipped with a warning and listed in
    /// [`HistoryStore::damaged`].
    ///
    /// Its memory grows with the whole history: for tests, exports and
    /// one-off analyses. A job reads windows instead
    /// ([`HistoryStore::mail_summary`], [`HistoryStore::aggregate_rows`],
    /// [`HistoryStore::observed_dkim_selectors`]).
    pub fn load_aggregate(&self) -> Result<DataFrame> {
        let mut out: Option<DataFrame> = None;
        for (domain, date, path) in self.aggregate_files()? {
            let df = match read_parquet_file(&path, None).and_then(|df| {
                conform(&df, &aggregate_schema(), &AGGREGATE_PARTITIONS, true).map_err(|reason| {
                    HistoryError::Corrupt {
                        path: path.clone(),
                        reason,
                    }
                })
            }) {
                Ok(df) => df,
                Err(e) => {
                    self.skip("skipped aggregate file", &e);
                    continue;
                }
            };
            let mut df = df;
            let height = df.height();
            for (index, (name, value)) in
                [("domain", domain), ("date", date)].into_iter().enumerate()
            {
                let column = Column::new_scalar(
                    name.into(),
                    Scalar::new(DataType::String, AnyValue::StringOwned(value.into())),
                    height,
                );
                df.insert_column(index, column)?;
            }
            match out.as_mut() {
                Some(acc) => {
                    acc.vstack_mut_owned(df)?;
                }
                None => out = Some(df),
            }
        }
        Ok(match out {
            Some(mut df) => {
                df.rechunk_mut();
                df
            }
            None => empty_frame(&aggregate_schema()),
        })
    }

    /// The report files: (domain, date, path), sorted.
    fn aggregate_files(&self) -> Result<Vec<(String, String, PathBuf)>> {
        partition_files(&self.aggregate_dir())
    }

    fn seen_path(&self) -> PathBuf {
        self.aggregate_dir().join("_seen.json")
    }

    /// The seen index; rebuilt from the files when missing or damaged.
    fn load_seen(&self) -> Result<Seen> {
        let path = self.seen_path();
        if let Some(index) = self.read_index::<SeenIndex>(&path, "rebuilt from the report files")? {
            return Ok(index
                .reports
                .into_iter()
                .map(|e| ((e.org_name, e.report_id), e.file))
                .collect());
        }
        let dir = self.aggregate_dir();
        let mut seen = Seen::new();
        for (_, _, file) in self.aggregate_files()? {
            match file_keys(&file) {
                Ok(keys) => {
                    let rel = relative_to(&dir, &file);
                    for key in keys {
                        seen.insert(key, rel.clone());
                    }
                }
                Err(e) => self.skip("skipped aggregate file", &e),
            }
        }
        Ok(seen)
    }

    /// The seen index, with the reports of every file it does not name
    /// pointed at that file: a batch (or a compaction) that stopped after
    /// writing its files and before its index wrote them, and their reports
    /// are in the history. Returns whether the index changed. Called under
    /// the dataset's lock.
    pub(crate) fn reconciled_seen(&self) -> Result<(Seen, bool)> {
        let mut seen = self.load_seen()?;
        let known: HashSet<String> = seen.values().cloned().collect();
        let dir = self.aggregate_dir();
        let mut adopted = false;
        for (_, _, file) in self.aggregate_files()? {
            let rel = relative_to(&dir, &file);
            if known.contains(&rel) {
                continue;
            }
            match file_keys(&file) {
                Ok(keys) => {
                    for key in keys {
                        seen.insert(key, rel.clone());
                        adopted = true;
                    }
                }
                Err(e) => self.skip("skipped aggregate file", &e),
            }
        }
        Ok((seen, adopted))
    }

    pub(crate) fn save_seen(&self, seen: &Seen) -> Result<()> {
        /// The index's form, borrowed from the map (no copy of 100,000
        /// entries) and written straight to the file.
        #[derive(Serialize)]
        struct IndexRef<'a> {
            reports: Vec<EntryRef<'a>>,
        }
        #[derive(Serialize)]
        struct EntryRef<'a> {
            org_name: &'a str,
            report_id: &'a str,
            file: &'a str,
        }
        let index = IndexRef {
            reports: seen
                .iter()
                .map(|((org_name, report_id), file)| EntryRef {
                    org_name,
                    report_id,
                    file,
                })
                .collect(),
        };
        let path = self.seen_path();
        write_atomic(&path, |file| {
            use std::io::Write;
            let err = |source| HistoryError::Write {
                path: path.clone(),
                source,
            };
            let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
            serde_json::to_writer(&mut out, &index).map_err(|e| err(std::io::Error::other(e)))?;
            out.flush().map_err(err)
        })
    }
}

/// The stem of a batch's files, `batch-<time>-<pid>-<seq>`: distinct
/// between processes (the pid) and between the batches of one process, even
/// in the same millisecond (the sequence number).
pub(crate) fn batch_stamp(now: chrono::DateTime<chrono::Utc>) -> String {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!(
        "batch-{}-{}-{}",
        now.format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn lock(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| HistoryError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    FileExt::lock(&file).map_err(|source| HistoryError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(file)
}

pub(crate) fn list(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(HistoryError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out: Vec<_> = entries
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.to_string(), e.path())))
        .collect();
    out.sort();
    Ok(out)
}

/// The partition value of a policy domain.
/// The `.parquet` files of a `domain=…/date=…` dataset under `dir`:
/// (domain, date, path), in the order [`list`] gives.
pub(crate) fn partition_files(dir: &Path) -> Result<Vec<(String, String, PathBuf)>> {
    let mut out = Vec::new();
    for (d, ddir) in list(dir)? {
        let Some(domain) = d.strip_prefix("domain=") else {
            continue;
        };
        for (t, tdir) in list(&ddir)? {
            let Some(date) = t.strip_prefix("date=") else {
                continue;
            };
            for (f, path) in list(&tdir)? {
                if f.ends_with(".parquet") && !f.starts_with('.') {
                    out.push((domain.to_string(), date.to_string(), path));
                }
            }
        }
    }
    Ok(out)
}

/// The `.parquet` files of `domain`'s partitions of a `domain=…/date=…`
/// dataset under `dataset` whose day lies in `[since, until)` (Unix
/// seconds, `since < until`): each with its path relative to `dataset`
/// (`domain=…/date=…/<file>`, the same in a companion dataset) and its path.
pub(crate) fn window_partition_files(
    dataset: &Path,
    domain: &str,
    since: i64,
    until: i64,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let part = format!("domain={}", partition_domain(domain));
    let first = aggregate_date(since);
    let last = aggregate_date(until - 1);
    let mut out = Vec::new();
    for (d, ddir) in list(&dataset.join(&part))? {
        let Some(date) = d.strip_prefix("date=") else {
            continue;
        };
        if date < first.as_str() || date > last.as_str() {
            continue;
        }
        for (f, path) in list(&ddir)? {
            if f.ends_with(".parquet") && !f.starts_with('.') {
                out.push((Path::new(&part).join(&d).join(&f), path));
            }
        }
    }
    Ok(out)
}

pub(crate) fn partition_domain(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    if d.is_empty() {
        return "_unknown".to_string();
    }
    safe(&d, 120)
}

fn relative_path(domain: &str, begin: i64, org_name: &str, report_id: &str) -> String {
    let raw = format!("{org_name}\u{1f}{report_id}");
    let mut name = format!("{}-{}", safe(org_name, 60), safe(report_id, 100));
    if name != format!("{org_name}-{report_id}") {
        name.push_str(&format!("-{:08x}", fnv1a(raw.as_bytes()) as u32));
    }
    format!(
        "domain={}/date={}/{name}.parquet",
        partition_domain(domain),
        aggregate_date(begin)
    )
}

/// `s` reduced to `[A-Za-z0-9._-]` (others become `_`, a leading `.` too),
/// at most `max` bytes.
fn safe(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(max)
        .collect();
    if out.is_empty() {
        out.push('_');
    }
    if out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100000001b3)
    })
}

/// Rows buffered per report before they go to the Parquet file as a row
/// group: bounds the memory of one report however many records it has.
pub const AGGREGATE_ROW_GROUP: usize = 8192;

/// Whether [`AggregateBatch::start`] wants a report's rows.
pub enum ReportStart {
    /// A report the history does not hold: push its rows, then
    /// [`AggregateBatch::finish`] (or [`AggregateBatch::abort`]).
    New(Box<ReportWriter>),
    /// Already in the history (from a file, IMAP or an earlier run).
    AlreadyIngested,
    /// Already written (or being written) by this batch.
    Duplicate,
}

/// An append of many reports to the aggregate dataset while they are
/// parsed: rows stream into one Parquet file per report in row groups of
/// [`AGGREGATE_ROW_GROUP`], so memory stays bounded however large a report
/// is. Holds the dataset's lock from [`HistoryStore::aggregate_batch`]
/// until dropped, so two batches (a file ingest and a mailbox poll) never
/// write the same report; shareable between threads (`&self` methods).
///
/// The seen index is written by [`AggregateBatch::commit`]; a report whose
/// file was written but not committed is rewritten under the same name by
/// the next ingest of it, so nothing is counted twice.
pub struct AggregateBatch<'s> {
    store: &'s HistoryStore,
    dir: PathBuf,
    /// `batch-<time>-<pid>-<seq>`: the stem of the files this batch writes.
    stamp: String,
    _lock: File,
    inner: Mutex<BatchState>,
}

#[derive(Default)]
struct BatchState {
    seen: Seen,
    /// Reports started by this batch and not yet finished. A finished one
    /// is in `seen`, under a file of this batch (see `written_here`).
    mine: HashSet<(String, String)>,
    /// The large reports this batch wrote to files of their own (few: the
    /// small ones' files carry the batch's stamp in their name).
    large: HashSet<(String, String)>,
    /// Finished since the last commit.
    dirty: bool,
    out: AggregateAppend,
    /// The rows of the finished small reports not yet written, by partition
    /// (`domain=<d>/date=<day>`): one file each at the next write.
    pending: BTreeMap<String, Vec<AggregateRow>>,
    /// Rows in `pending`.
    pending_rows: usize,
    /// Counts the writes of `pending`: part of the files' names.
    generation: usize,
}

/// Up to this many files, a batch's write syncs each file (cheaper than
/// syncing the file system for the one file of a mailbox message).
const SYNC_EACH_UP_TO: usize = 4;

/// Rows of small reports a batch holds before it writes them (one file per
/// partition): bounds a batch's memory. Above it, a partition gets a second
/// file in the same batch.
pub const PENDING_ROWS_MAX: usize = 10_000;

/// The rows of one new report on their way to the history: held until the
/// report is finished (then they go to the batch's file of the partition),
/// or, for a report larger than [`AGGREGATE_ROW_GROUP`] rows, streamed into
/// a file of its own in row groups.
pub struct ReportWriter {
    key: (String, String),
    /// `domain=<d>/date=<day>`.
    partition: String,
    /// The report's own file, when it gets one.
    rel: String,
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<BatchedWriter<IoErrorKept<File>>>,
    io_error: KeptError,
    buf: Vec<AggregateRow>,
    rows: usize,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(crate) fn aggregate_file_schema() -> Schema {
    aggregate_schema()
        .into_iter()
        .filter(|(name, _)| !AGGREGATE_PARTITIONS.contains(name))
        .map(|(name, dtype)| Field::new(name.into(), dtype))
        .collect()
}

/// The Parquet writer of a report's file (`path` names it in errors).
fn report_file_writer<W: std::io::Write>(
    file: W,
    path: &Path,
) -> Result<(BatchedWriter<IoErrorKept<W>>, KeptError)> {
    let (file, io_error) = IoErrorKept::new(file);
    match ParquetWriter::new(file).batched(&aggregate_file_schema()) {
        Ok(w) => Ok((w, io_error)),
        Err(source) => Err(encode_error(path, &io_error, source)),
    }
}

impl ReportWriter {
    /// The report's (org_name, report_id).
    pub fn key(&self) -> &(String, String) {
        &self.key
    }

    /// Rows pushed so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds a row; a full buffer goes to the report's own file as a row
    /// group.
    pub fn push(&mut self, row: AggregateRow) -> Result<()> {
        self.buf.push(row);
        self.rows += 1;
        if self.buf.len() >= AGGREGATE_ROW_GROUP {
            if self.writer.is_none() {
                self.open()?;
            }
            self.flush()?;
        }
        Ok(())
    }

    /// Opens the report's own file (a temporary name until it is closed).
    fn open(&mut self) -> Result<()> {
        let parent = self
            .path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        fs::create_dir_all(&parent).map_err(|source| HistoryError::Write {
            path: parent.clone(),
            source,
        })?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::create(&tmp).map_err(|source| HistoryError::Write {
            path: tmp.clone(),
            source,
        })?;
        self.tmp = tmp;
        match report_file_writer(file, &self.path) {
            Ok((writer, io_error)) => {
                self.writer = Some(writer);
                self.io_error = io_error;
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_file(&self.tmp);
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let encode = |source| encode_error(&self.path, &self.io_error, source);
        let frame = aggregate_frame(&self.buf).map_err(encode)?;
        let frame = conform(&frame, &aggregate_schema(), &AGGREGATE_PARTITIONS, false).map_err(
            |reason| HistoryError::Schema {
                table: "aggregate",
                reason,
            },
        )?;
        self.buf.clear();
        if let Some(w) = self.writer.as_mut() {
            w.write_batch(&frame).map_err(encode)?;
        }
        Ok(())
    }

    /// Writes what is buffered and the file's footer, syncs it and renames
    /// it to its final name.
    fn close(&mut self) -> Result<()> {
        self.flush()?;
        if let Some(w) = self.writer.take() {
            w.finish()
                .map_err(|source| encode_error(&self.path, &self.io_error, source))?;
        }
        let write_err = |p: &Path| {
            let p = p.to_path_buf();
            move |source| HistoryError::Write { path: p, source }
        };
        File::open(&self.tmp)
            .and_then(|f| f.sync_all())
            .map_err(write_err(&self.tmp))?;
        fs::rename(&self.tmp, &self.path).map_err(write_err(&self.path))?;
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for ReportWriter {
    fn drop(&mut self) {
        // Never finished: leave no temporary file behind.
        if self.writer.take().is_some() || self.tmp.exists() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

impl HistoryStore {
    /// Starts a streaming append to the aggregate dataset (see
    /// [`AggregateBatch`]); waits for the dataset's lock.
    pub fn aggregate_batch(&self) -> Result<AggregateBatch<'_>> {
        let dir = self.aggregate_dir();
        fs::create_dir_all(&dir).map_err(|source| HistoryError::Write {
            path: dir.clone(),
            source,
        })?;
        let lock = lock(&dir.join(".lock"))?;
        // Under the lock no other ingest writes: temporary files of a
        // killed one can go.
        for path in self.remove_stale_temporary(Dataset::Aggregate)? {
            tracing::info!("removed {}, left by an interrupted ingest", path.display());
        }
        self.finish_compaction()?;
        let (seen, adopted) = self.reconciled_seen()?;
        Ok(AggregateBatch {
            store: self,
            dir,
            stamp: batch_stamp(chrono::Utc::now()),
            _lock: lock,
            inner: Mutex::new(BatchState {
                seen,
                dirty: adopted,
                ..Default::default()
            }),
        })
    }
}

impl AggregateBatch<'_> {
    fn state(&self) -> std::sync::MutexGuard<'_, BatchState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the history (or this batch) holds the report.
    pub fn contains(&self, org_name: &str, report_id: &str) -> bool {
        let key = (org_name.to_string(), report_id.to_string());
        let state = self.state();
        state.seen.contains_key(&key) || state.mine.contains(&key)
    }

    /// Decides about a report by its header: a new one gets a writer for
    /// its rows, one the history or this batch already holds is counted
    /// in [`AggregateAppend::already_ingested`] and skipped.
    pub fn start(&self, header: &ReportHeader) -> Result<ReportStart> {
        let key = (
            header.metadata.org_name.clone(),
            header.metadata.report_id.clone(),
        );
        {
            let mut state = self.state();
            if state.mine.contains(&key) || state.large.contains(&key) {
                return Ok(ReportStart::Duplicate);
            }
            if let Some(rel) = state.seen.get(&key) {
                // Finished by this batch: its file may not be written yet.
                if rel.contains(self.stamp.as_str()) {
                    return Ok(ReportStart::Duplicate);
                }
                if self.store.reclaim_lost(&mut state.seen, &key)? {
                    state.dirty = true;
                } else {
                    return Ok(ReportStart::AlreadyIngested);
                }
            }
            state.mine.insert(key.clone());
        }
        let rel = relative_path(
            &header.policy_published.domain,
            header.metadata.date_range.begin,
            &key.0,
            &key.1,
        );
        let partition = rel
            .rsplit_once('/')
            .map(|(d, _)| d.to_string())
            .unwrap_or_default();
        let path = self.dir.join(&rel);
        Ok(ReportStart::New(Box::new(ReportWriter {
            key,
            partition,
            rel,
            path,
            tmp: PathBuf::new(),
            writer: None,
            io_error: KeptError::default(),
            buf: Vec::new(),
            rows: 0,
        })))
    }

    /// The name of this batch's file of `partition` at `generation`.
    fn batch_rel(&self, partition: &str, generation: usize) -> String {
        format!("{partition}/{}-{generation}.parquet", self.stamp)
    }

    /// Writes the rows of the finished small reports: one file per
    /// partition, each written whole under a temporary name and renamed,
    /// then all made durable at once (one `syncfs`, not a sync per file).
    fn write_pending(&self, state: &mut BatchState) -> Result<()> {
        let pending = std::mem::take(&mut state.pending);
        let generation = state.generation;
        state.pending_rows = 0;
        state.generation += 1;
        // A few files (a mailbox message's commit) are synced one by one;
        // many at once with one syncfs.
        let one_by_one = pending.len() <= SYNC_EACH_UP_TO;
        let write = |partition: &str, rows: &[AggregateRow]| -> Result<()> {
            let path = self.dir.join(self.batch_rel(partition, generation));
            let frame = aggregate_frame(rows).map_err(|source| HistoryError::Encode {
                path: path.clone(),
                source,
            })?;
            let mut frame = conform(&frame, &aggregate_schema(), &AGGREGATE_PARTITIONS, false)
                .map_err(|reason| HistoryError::Schema {
                    table: "aggregate",
                    reason,
                })?;
            if one_by_one {
                write_parquet_atomic(&path, &mut frame)
            } else {
                write_parquet_unsynced(&path, &mut frame)
            }
        };
        // Encoding is CPU work: the partitions on all cores.
        let pending: Vec<(String, Vec<AggregateRow>)> = pending.into_iter().collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let failed: Mutex<Option<HistoryError>> = Mutex::new(None);
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(pending.len().max(1));
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((partition, rows)) = pending.get(i) else {
                        break;
                    };
                    if let Err(e) = write(partition, rows) {
                        let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                        f.get_or_insert(e);
                        // The others stop at their next partition.
                        next.store(pending.len(), Ordering::Relaxed);
                        break;
                    }
                });
            }
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        // One durable commit for all of them, before the index names them.
        if one_by_one {
            Ok(())
        } else {
            sync_filesystem(&self.dir)
        }
    }

    /// Completes a report: a large one's own file is closed; a small one's
    /// rows join the batch's file of its partition, written at
    /// [`AggregateBatch::commit`] (or earlier when the batch holds
    /// [`PENDING_ROWS_MAX`] rows). It counts as written from now on, and is
    /// in the seen index after the commit. Returns the file that holds (or
    /// will hold) its rows.
    pub fn finish(&self, mut writer: Box<ReportWriter>) -> Result<PathBuf> {
        if writer.writer.is_some() {
            if let Err(e) = writer.close() {
                self.state().mine.remove(&writer.key);
                return Err(e);
            }
            let mut state = self.state();
            state.mine.remove(&writer.key);
            state.seen.insert(writer.key.clone(), writer.rel.clone());
            state.large.insert(writer.key.clone());
            state.dirty = true;
            state.out.rows += writer.rows;
            return Ok(writer.path.clone());
        }
        let mut state = self.state();
        let rel = self.batch_rel(&writer.partition, state.generation);
        let rows = std::mem::take(&mut writer.buf);
        state.pending_rows += rows.len();
        state
            .pending
            .entry(writer.partition.clone())
            .or_default()
            .extend(rows);
        state.mine.remove(&writer.key);
        state.seen.insert(writer.key.clone(), rel.clone());
        state.dirty = true;
        state.out.rows += writer.rows;
        let path = self.dir.join(&rel);
        if state.pending_rows >= PENDING_ROWS_MAX {
            self.write_pending(&mut state)?;
        }
        Ok(path)
    }

    /// Drops a report whose parse failed: nothing of it stays.
    pub fn abort(&self, writer: Box<ReportWriter>) {
        self.state().mine.remove(&writer.key);
        drop(writer);
    }

    /// Writes the seen index when reports were finished since the last
    /// commit. Call it before acting on the reports being in the history
    /// (e.g. moving their messages out of the mailbox).
    pub fn commit(&self) -> Result<()> {
        let mut state = self.state();
        if !state.pending.is_empty() {
            self.write_pending(&mut state)?;
        }
        if state.dirty {
            self.store.save_seen(&state.seen)?;
            state.dirty = false;
        }
        Ok(())
    }

    /// Commits and returns what the batch did.
    pub fn into_summary(self) -> Result<AggregateAppend> {
        self.commit()?;
        let state = self.inner.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok(state.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(org: &str, id: &str) -> ReportHeader {
        let mut h = ReportHeader::default();
        h.metadata.org_name = org.into();
        h.metadata.report_id = id.into();
        h.metadata.date_range.begin = 1_704_067_200;
        h.policy_published.domain = "example.com".into();
        h
    }

    fn row(id: &str, n: usize) -> AggregateRow {
        AggregateRow {
            org_name: "org".into(),
            report_id: id.into(),
            domain: "example.com".into(),
            begin: 1_704_067_200,
            source_ip: format!("192.0.2.{}", n % 250),
            count: 1,
            category: "pass".into(),
            cause: "aligned".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_batch_streams_row_groups_skips_what_it_holds_and_aborts_cleanly() {
        let tmp = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(tmp.path());
        let n = AGGREGATE_ROW_GROUP * 2 + 5;
        {
            let batch = store.aggregate_batch().unwrap();
            let ReportStart::New(mut w) = batch.start(&header("org", "big")).unwrap() else {
                panic!("a new report");
            };
            for i in 0..n {
                w.push(row("big", i)).unwrap();
            }
            assert!(matches!(
                batch.start(&header("org", "big")).unwrap(),
                ReportStart::Duplicate
            ));
            batch.finish(w).unwrap();
            let ReportStart::New(mut w) = batch.start(&header("org", "broken")).unwrap() else {
                panic!("a new report");
            };
            w.push(row("broken", 0)).unwrap();
            batch.abort(w);
            let summary = batch.into_summary().unwrap();
            assert_eq!(summary.rows, n);
        }
        let frame = store.load_aggregate().unwrap();
        assert_eq!(frame.height(), n);
        assert!(store.aggregate_contains("org", "big").unwrap());
        assert!(!store.aggregate_contains("org", "broken").unwrap());
        // No temporary file is left of the aborted report.
        let dir = store
            .aggregate_dir()
            .join("domain=example.com/date=2024-01-01");
        let names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["org-big.parquet"]);
        // A later batch finds the report in the history.
        let batch = store.aggregate_batch().unwrap();
        assert!(matches!(
            batch.start(&header("org", "big")).unwrap(),
            ReportStart::AlreadyIngested
        ));
    }

    /// `n` small reports `r0..` (one row each), their periods on `days`
    /// days from 2024-01-01, in one batch; `commit`: whether it commits.
    fn small_reports(store: &HistoryStore, ids: std::ops::Range<usize>, days: usize, commit: bool) {
        let batch = store.aggregate_batch().unwrap();
        for i in ids {
            let id = format!("r{i}");
            let mut h = header("org", &id);
            h.metadata.date_range.begin += 86_400 * (i % days) as i64;
            let ReportStart::New(mut w) = batch.start(&h).unwrap() else {
                panic!("a new report");
            };
            let mut r = row(&id, i);
            r.begin = h.metadata.date_range.begin;
            w.push(r).unwrap();
            batch.finish(w).unwrap();
        }
        if commit {
            batch.commit().unwrap();
        } else {
            // The files, not the index: a crash before the index.
            let mut state = batch.state();
            batch.write_pending(&mut state).unwrap();
        }
    }

    fn files_of(store: &HistoryStore) -> Vec<String> {
        partition_files(&store.aggregate_dir())
            .unwrap()
            .into_iter()
            .map(|(d, day, f)| format!("{d}/{day}/{}", f.file_name().unwrap().to_string_lossy()))
            .collect()
    }

    #[test]
    fn a_batch_writes_one_file_per_partition_and_compaction_merges_batches() {
        let tmp = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(tmp.path());
        small_reports(&store, 0..30, 3, true);
        assert_eq!(files_of(&store).len(), 3, "{:?}", files_of(&store));
        small_reports(&store, 30..60, 3, true);
        assert_eq!(files_of(&store).len(), 6);
        // Each report is held once, whichever file holds it.
        let batch = store.aggregate_batch().unwrap();
        for i in [0, 29, 30, 59] {
            assert!(matches!(
                batch.start(&header("org", &format!("r{i}"))).unwrap(),
                ReportStart::AlreadyIngested
            ));
        }
        drop(batch);
        let summary = store.compact_aggregate().unwrap();
        assert_eq!(
            (
                summary.partitions,
                summary.files_before,
                summary.files_after,
                summary.rows
            ),
            (3, 6, 3, 60)
        );
        let files = files_of(&store);
        assert_eq!(files.len(), 3);
        assert!(files.iter().all(|f| f.contains("/compact-")), "{files:?}");
        assert_eq!(store.load_aggregate().unwrap().height(), 60);
        // The index points at the merged files and stays exact.
        for i in 0..60 {
            assert!(store.aggregate_contains("org", &format!("r{i}")).unwrap());
        }
        let seen = store.load_seen().unwrap();
        assert!(
            seen.values().all(|rel| rel.contains("/compact-")),
            "{seen:?}"
        );
        // Nothing left to merge.
        assert_eq!(store.compact_aggregate().unwrap().partitions, 0);
    }

    #[test]
    fn a_batch_stopped_before_its_index_is_adopted_not_written_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(tmp.path());
        small_reports(&store, 0..10, 2, false);
        assert!(!store.seen_path().exists());
        // The next batch finds the reports in the files.
        let batch = store.aggregate_batch().unwrap();
        assert!(matches!(
            batch.start(&header("org", "r3")).unwrap(),
            ReportStart::AlreadyIngested
        ));
        batch.commit().unwrap();
        drop(batch);
        assert_eq!(store.load_seen().unwrap().len(), 10);
        assert_eq!(store.load_aggregate().unwrap().height(), 10);
    }

    #[test]
    fn a_compaction_stopped_at_any_step_counts_every_row_once() {
        for stop in [
            crate::compact::Stop::BeforeSwap,
            crate::compact::Stop::AfterSwap,
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let store = HistoryStore::new(tmp.path());
            small_reports(&store, 0..20, 2, true);
            small_reports(&store, 20..40, 2, true);
            store.compact_aggregate_until(Some(stop)).unwrap();
            // Readers never see a partition twice, even now.
            assert_eq!(store.load_aggregate().unwrap().height(), 40, "{stop:?}");
            // The next writer completes it: no hidden folder, an exact index.
            let batch = store.aggregate_batch().unwrap();
            for i in [0, 39] {
                assert!(matches!(
                    batch.start(&header("org", &format!("r{i}"))).unwrap(),
                    ReportStart::AlreadyIngested
                ));
            }
            batch.commit().unwrap();
            drop(batch);
            let domain = store.aggregate_dir().join("domain=example.com");
            let hidden: Vec<_> = fs::read_dir(&domain)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(hidden.is_empty(), "{stop:?}: {hidden:?}");
            assert_eq!(store.load_aggregate().unwrap().height(), 40, "{stop:?}");
            let seen = store.load_seen().unwrap();
            assert_eq!(seen.len(), 40);
            for rel in seen.values() {
                assert!(store.aggregate_dir().join(rel).is_file(), "{stop:?}: {rel}");
            }
            // And a full compaction afterwards leaves one file per partition.
            store.compact_aggregate().unwrap();
            assert_eq!(files_of(&store).len(), 2, "{stop:?}");
            assert_eq!(store.load_aggregate().unwrap().height(), 40);
        }
    }

    #[test]
    fn a_full_disk_while_a_report_is_written_says_so() {
        // /dev/full takes nothing: every write fails with ENOSPC, which the
        // encoder alone reports as `Invalid thrift: transport error`.
        let file = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let path =
            PathBuf::from("/history/aggregate/domain=example.com/date=2024-01-01/org-r.parquet");
        let expected = format!(
            "cannot write {}: No space left on device (os error 28)",
            path.display()
        );
        let (writer, io_error) = match report_file_writer(file, &path) {
            Ok(w) => w,
            Err(e) => {
                assert_eq!(e.to_string(), expected);
                return;
            }
        };
        let mut w = ReportWriter {
            key: ("org".into(), "r".into()),
            partition: String::new(),
            rel: String::new(),
            path: path.clone(),
            tmp: PathBuf::from("/nonexistent/.org-r.parquet.tmp"),
            writer: Some(writer),
            io_error,
            buf: Vec::new(),
            rows: 0,
        };
        let mut result = Ok(());
        for i in 0..(AGGREGATE_ROW_GROUP + 10) {
            result = w.push(row("r", i));
            if result.is_err() {
                break;
            }
        }
        let err = result.and_then(|()| w.close()).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }

    /// A disk that fills up after `room` bytes.
    struct FillsUp {
        written: usize,
        room: usize,
    }

    impl std::io::Write for FillsUp {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.written + buf.len() > self.room {
                return Err(std::io::Error::from_raw_os_error(28));
            }
            self.written += buf.len();
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_disk_filling_up_at_the_footer_is_not_a_thrift_error() {
        let frame = || {
            let rows: Vec<_> = (0..100).map(|i| row("r", i)).collect();
            let f = aggregate_frame(&rows).unwrap();
            conform(&f, &aggregate_schema(), &AGGREGATE_PARTITIONS, false).unwrap()
        };
        let path = PathBuf::from("/h/aggregate/domain=example.com/date=2024-01-01/org-r.parquet");
        let write = |room: usize| -> Result<()> {
            let (mut w, kept) = report_file_writer(FillsUp { written: 0, room }, &path).unwrap();
            w.write_batch(&frame())
                .and_then(|()| w.finish().map(|_| ()))
                .map_err(|source| encode_error(&path, &kept, source))
        };
        // The whole file's size, with room to spare.
        let mut sink = Vec::new();
        {
            let (mut w, _) = report_file_writer(&mut sink, &path).unwrap();
            w.write_batch(&frame()).unwrap();
            w.finish().unwrap();
        }
        // Room for everything but the last bytes: the footer cannot be written.
        let err = write(sink.len() - 10).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "cannot write {}: No space left on device (os error 28)",
                path.display()
            )
        );
        assert!(write(sink.len()).is_ok());
    }

    #[test]
    fn paths_are_safe_and_distinct() {
        assert_eq!(
            relative_path("Example.COM.", 1704067200, "google.com", "123"),
            "domain=example.com/date=2024-01-01/google.com-123.parquet"
        );
        let a = relative_path("example.com", 0, "Org/A", "x y");
        let b = relative_path("example.com", 0, "Org_A", "x_y");
        assert!(
            a.starts_with("domain=example.com/date=1970-01-01/Org_A-x_y-"),
            "{a}"
        );
        assert_ne!(a, b);
        assert!(relative_path("", 0, "", "..").contains("domain=_unknown/"));
        assert!(!relative_path("x", 0, ".hidden", "1").contains("/."));
    }
}
