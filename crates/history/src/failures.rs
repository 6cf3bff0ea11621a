//! DMARC failure reports (RFC 6591 / RFC 9991) in the history: their
//! metadata only, one row per distinct report.
//!
//! ```text
//! <root>/failures/domain=<reported-domain>/date=<YYYY-MM-DD>/<batch>.parquet
//!     one row per failure report that arrived that day (Arrival-Date, or
//!     the day it was ingested when the report gives none); one file per
//!     partition per ingest batch, not one per report, since receivers send
//!     a failure report per failed message
//! <root>/failures/_seen.json    the deduplication keys already ingested
//! <root>/failures/.lock         held while a batch is appended
//! ```
//!
//! What a row holds is [`FailureReport`]: never the body, the subject or
//! any header of the reported message but the domain of its `From` and a
//! hash of its `Message-ID`; of `Original-Rcpt-To` only its domain and a
//! truncated hash (see `authwarden_aggregate::arf`). In DuckDB:
//! `read_parquet('<root>/failures/*/*/*.parquet', hive_partitioning = true)`.
//!
//! A batch's files are written before the seen index; a crash in between
//! leaves rows that the index, rebuilt from the files when it is missing,
//! already counts. A missing or damaged index is rebuilt from the files.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Mutex;

use authwarden_aggregate::FailureReport;
use authwarden_api::reports::ReportAuth;
use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::aggregate::{
    aggregate_date, list, lock, partition_domain, partition_files, window_partition_files,
};
use crate::error::{HistoryError, Result};
use crate::store::{read_parquet_file, write_atomic, write_parquet_atomic};
use crate::HistoryStore;

/// The string columns of a `failures` file, in order, with how each is
/// read from a [`FailureReport`].
#[allow(clippy::type_complexity)]
const TEXT_COLUMNS: [(&str, fn(&FailureReport) -> Option<&str>); 20] = [
    ("reporter", |r| Some(r.reporter.as_str())),
    ("reporting_mta", |r| r.reporting_mta.as_deref()),
    ("feedback_type", |r| Some(r.feedback_type.as_str())),
    ("version", |r| r.version.as_deref()),
    ("user_agent", |r| r.user_agent.as_deref()),
    ("auth_failure", |r| r.auth_failure.as_deref()),
    ("reported_domain", |r| r.reported_domain.as_deref()),
    ("source_ip", |r| r.source_ip.as_deref()),
    ("mail_from_domain", |r| r.mail_from_domain.as_deref()),
    ("rcpt_to_domain", |r| r.rcpt_to_domain.as_deref()),
    ("rcpt_to_hash", |r| r.rcpt_to_hash.as_deref()),
    ("dkim_domain", |r| r.dkim_domain.as_deref()),
    ("dkim_selector", |r| r.dkim_selector.as_deref()),
    ("dkim_identity", |r| r.dkim_identity.as_deref()),
    ("spf_dns", |r| r.spf_dns.as_deref()),
    ("identity_alignment", |r| r.identity_alignment.as_deref()),
    ("delivery_result", |r| r.delivery_result.as_deref()),
    ("original_part", |r| r.original_part.as_deref()),
    ("header_from_domain", |r| r.header_from_domain.as_deref()),
    ("message_id_hash", |r| r.message_id_hash.as_deref()),
];

fn datetime_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
}

/// The columns of the `failures` dataset's files (the partitions `domain`
/// and `date` are in the path).
pub fn failures_schema() -> Vec<(&'static str, DataType)> {
    let mut out = vec![("source", DataType::String)];
    out.extend(TEXT_COLUMNS.iter().map(|(n, _)| (*n, DataType::String)));
    out.extend([
        ("arrival_date", datetime_dtype()),
        ("incidents", DataType::UInt64),
        ("dedup_key", DataType::String),
        ("ingested_at", datetime_dtype()),
        // The report message's authentication (files written before read
        // them back as nulls).
        ("report_auth", DataType::String),
        ("report_from", DataType::String),
        ("report_auth_detail", DataType::String),
    ]);
    out
}

/// One failure report of the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRow {
    /// What the report says (metadata only).
    pub report: FailureReport,
    /// Where it was read: a file, `file#member` or `imap:<folder> UID <n>`.
    pub source: String,
    /// When it arrived (`Arrival-Date`) or, without one, was ingested: Unix
    /// seconds. The row's `date` partition is this day.
    pub at: i64,
    /// How the mail message that carried the report authenticated; `None`
    /// in rows written before authwarden checked it.
    pub auth: Option<ReportAuth>,
}

/// What [`FailuresBatch::write`] did with a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureWrite {
    /// Taken into the batch: written at [`FailuresBatch::commit`].
    New,
    /// The history (or this batch) already holds it.
    AlreadyIngested,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SeenIndex {
    keys: Vec<String>,
}

struct State {
    seen: BTreeSet<String>,
    /// Rows taken since the last commit, by (partition domain, date).
    pending: BTreeMap<(String, String), Vec<FailureRow>>,
    dirty: bool,
}

/// An append of failure reports, holding the dataset's lock from
/// [`HistoryStore::failures_batch`] until dropped; shareable between
/// threads. Rows are kept until [`FailuresBatch::commit`] writes them.
pub struct FailuresBatch<'s> {
    store: &'s HistoryStore,
    _lock: File,
    inner: Mutex<State>,
    now: DateTime<Utc>,
}

impl HistoryStore {
    /// The directory of the failure reports dataset.
    pub fn failures_dir(&self) -> PathBuf {
        self.root().join("failures")
    }

    /// Starts an append to the failure reports dataset; waits for its lock.
    pub fn failures_batch(&self) -> Result<FailuresBatch<'_>> {
        let dir = self.failures_dir();
        fs::create_dir_all(&dir).map_err(|source| HistoryError::Write {
            path: dir.clone(),
            source,
        })?;
        let lock = lock(&dir.join(".lock"))?;
        let seen = self.load_failures_seen()?;
        Ok(FailuresBatch {
            store: self,
            _lock: lock,
            inner: Mutex::new(State {
                seen,
                pending: BTreeMap::new(),
                dirty: false,
            }),
            now: Utc::now(),
        })
    }

    fn failures_seen_path(&self) -> PathBuf {
        self.failures_dir().join("_seen.json")
    }

    fn load_failures_seen(&self) -> Result<BTreeSet<String>> {
        let path = self.failures_seen_path();
        if let Some(index) =
            self.read_index::<SeenIndex>(&path, "rebuilt from the failure report files")?
        {
            return Ok(index.keys.into_iter().collect());
        }
        let mut seen = BTreeSet::new();
        for (_, _, file) in partition_files(&self.failures_dir())? {
            match read_parquet_file(&file, Some(&["dedup_key"])) {
                Ok(df) => {
                    if let Ok(keys) = df.column("dedup_key").and_then(|c| c.str().cloned()) {
                        seen.extend(keys.iter().flatten().map(str::to_string));
                    }
                }
                Err(e) => self.skip("skipped failure report file", &e),
            }
        }
        Ok(seen)
    }

    /// Whether any failure report was ingested.
    pub fn has_failure_reports(&self) -> bool {
        list(&self.failures_dir())
            .map(|l| l.iter().any(|(n, _)| n.starts_with("domain=")))
            .unwrap_or(false)
    }

    /// The reported domains that have failure reports in the history.
    pub fn failure_domains(&self) -> Result<Vec<String>> {
        Ok(list(&self.failures_dir())?
            .into_iter()
            .filter_map(|(n, _)| n.strip_prefix("domain=").map(str::to_string))
            .collect())
    }

    /// The failure reports about `domain` that arrived in `[since, until)`,
    /// oldest first. Reads only the domain's partitions of the days asked
    /// for; damaged files are skipped with a warning and listed in
    /// [`HistoryStore::damaged`].
    pub fn failure_rows(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<FailureRow>> {
        if since >= until {
            return Ok(Vec::new());
        }
        let (since, until) = (since.timestamp(), until.timestamp());
        let mut out = Vec::new();
        for (_, path) in window_partition_files(&self.failures_dir(), domain, since, until)? {
            match read_parquet_file(&path, None).and_then(|df| {
                rows_of(&df).map_err(|e| HistoryError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            }) {
                Ok(rows) => out.extend(rows.into_iter().filter(|r| r.at >= since && r.at < until)),
                Err(e) => self.skip("skipped failure report file", &e),
            }
        }
        out.sort_by_cached_key(|r| (r.at, r.report.dedup_key()));
        Ok(out)
    }

    fn save_failures_seen(&self, seen: &BTreeSet<String>) -> Result<()> {
        let index = SeenIndex {
            keys: seen.iter().cloned().collect(),
        };
        let path = self.failures_seen_path();
        let json = serde_json::to_vec(&index).unwrap_or_default();
        write_atomic(&path, |file| {
            use std::io::Write;
            file.write_all(&json).map_err(|source| HistoryError::Write {
                path: path.clone(),
                source,
            })
        })
    }
}

fn time_column(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(
        name.into(),
        values
            .into_iter()
            .map(|t| t.map(|t| t.saturating_mul(1000))),
    )
    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    .into_column()
}

fn frame(rows: &[FailureRow], ingested_at: i64) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let mut columns = vec![Column::new(
        "source".into(),
        rows.iter().map(|r| r.source.clone()).collect::<Vec<_>>(),
    )];
    for (name, get) in TEXT_COLUMNS {
        columns.push(Column::new(
            name.into(),
            rows.iter()
                .map(|r| get(&r.report).map(str::to_string))
                .collect::<Vec<_>>(),
        ));
    }
    columns.push(time_column(
        "arrival_date",
        rows.iter().map(|r| r.report.arrival_date).collect(),
    ));
    columns.push(Column::new(
        "incidents".into(),
        rows.iter()
            .map(|r| r.report.incidents)
            .collect::<Vec<u64>>(),
    ));
    columns.push(Column::new(
        "dedup_key".into(),
        rows.iter()
            .map(|r| r.report.dedup_key())
            .collect::<Vec<_>>(),
    ));
    columns.push(time_column("ingested_at", vec![Some(ingested_at); n]));
    type AuthField = fn(&ReportAuth) -> Option<String>;
    let auth_columns: [(&str, AuthField); 3] = [
        ("report_auth", |a| Some(a.status.clone())),
        ("report_from", |a| a.from.clone()),
        ("report_auth_detail", |a| a.detail.clone()),
    ];
    for (name, get) in auth_columns {
        columns.push(Column::new(
            name.into(),
            rows.iter()
                .map(|r| r.auth.as_ref().and_then(get))
                .collect::<Vec<_>>(),
        ));
    }
    DataFrame::new(n, columns)
}

fn rows_of(df: &DataFrame) -> PolarsResult<Vec<FailureRow>> {
    let text = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        Ok(df
            .column(name)?
            .str()?
            .iter()
            .map(|s| s.map(str::to_string))
            .collect())
    };
    let secs = |name: &str| -> PolarsResult<Vec<Option<i64>>> {
        Ok(df
            .column(name)?
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map(|v| v.div_euclid(1000)))
            .collect())
    };
    let mut cols: BTreeMap<&str, Vec<Option<String>>> = BTreeMap::new();
    for (name, _) in TEXT_COLUMNS {
        cols.insert(name, text(name)?);
    }
    let source = text("source")?;
    // Absent from files written before the report messages were checked.
    let optional = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        match df.column(name) {
            Ok(_) => text(name),
            Err(_) => Ok(vec![None; df.height()]),
        }
    };
    let (auth, auth_from, auth_detail) = (
        optional("report_auth")?,
        optional("report_from")?,
        optional("report_auth_detail")?,
    );
    let arrival = secs("arrival_date")?;
    let ingested = secs("ingested_at")?;
    let incidents: Vec<u64> = df
        .column("incidents")?
        .cast(&DataType::UInt64)?
        .u64()?
        .iter()
        .map(|v| v.unwrap_or(1))
        .collect();
    let mut take = |name: &str, i: usize| -> Option<String> {
        cols.get_mut(name)
            .and_then(|c| c.get_mut(i))
            .and_then(Option::take)
    };
    let mut out = Vec::with_capacity(df.height());
    for i in 0..df.height() {
        let report = FailureReport {
            reporter: take("reporter", i).unwrap_or_default(),
            reporting_mta: take("reporting_mta", i),
            feedback_type: take("feedback_type", i).unwrap_or_default(),
            version: take("version", i),
            user_agent: take("user_agent", i),
            auth_failure: take("auth_failure", i),
            reported_domain: take("reported_domain", i),
            source_ip: take("source_ip", i),
            mail_from_domain: take("mail_from_domain", i),
            rcpt_to_domain: take("rcpt_to_domain", i),
            rcpt_to_hash: take("rcpt_to_hash", i),
            arrival_date: arrival[i],
            arrival_date_error: None,
            dkim_domain: take("dkim_domain", i),
            dkim_selector: take("dkim_selector", i),
            dkim_identity: take("dkim_identity", i),
            spf_dns: take("spf_dns", i),
            identity_alignment: take("identity_alignment", i),
            delivery_result: take("delivery_result", i),
            incidents: incidents[i],
            original_part: take("original_part", i),
            header_from_domain: take("header_from_domain", i),
            message_id_hash: take("message_id_hash", i),
        };
        let at = arrival[i].or(ingested[i]).unwrap_or(0);
        out.push(FailureRow {
            report,
            source: source[i].clone().unwrap_or_default(),
            at,
            auth: auth[i].clone().map(|status| ReportAuth {
                status,
                from: auth_from[i].clone(),
                detail: auth_detail[i].clone(),
            }),
        });
    }
    Ok(out)
}

impl FailuresBatch<'_> {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the history (or this batch) holds the report.
    pub fn contains(&self, report: &FailureReport) -> bool {
        self.state().seen.contains(&report.dedup_key())
    }

    /// Takes a report (read from `source`) into the batch unless the
    /// history or the batch holds it (same [`FailureReport::dedup_key`]).
    pub fn write(&self, source: &str, report: &FailureReport, auth: &ReportAuth) -> FailureWrite {
        let key = report.dedup_key();
        let mut state = self.state();
        if !state.seen.insert(key) {
            return FailureWrite::AlreadyIngested;
        }
        let at = report.arrival_date.unwrap_or(self.now.timestamp());
        let domain = partition_domain(report.reported_domain.as_deref().unwrap_or(""));
        state
            .pending
            .entry((domain, aggregate_date(at)))
            .or_default()
            .push(FailureRow {
                report: report.clone(),
                source: source.to_string(),
                at,
                // An empty status: the check was off.
                auth: (!auth.status.is_empty()).then(|| auth.clone()),
            });
        state.dirty = true;
        FailureWrite::New
    }

    /// Writes the rows taken since the last commit (one file per partition)
    /// and then the seen index; returns the files written.
    pub fn commit(&self) -> Result<Vec<PathBuf>> {
        let mut state = self.state();
        if !state.dirty {
            return Ok(Vec::new());
        }
        let stamp = crate::aggregate::batch_stamp(self.now);
        let pending = std::mem::take(&mut state.pending);
        let mut files = Vec::new();
        for ((domain, date), rows) in pending {
            let dir = self
                .store
                .failures_dir()
                .join(format!("domain={domain}"))
                .join(format!("date={date}"));
            // A second commit of the same batch writes a file of its own.
            let mut path = dir.join(format!("{stamp}.parquet"));
            let mut n = 1;
            while path.exists() {
                n += 1;
                path = dir.join(format!("{stamp}-{n}.parquet"));
            }
            let mut df = frame(&rows, self.now.timestamp()).map_err(|e| HistoryError::Corrupt {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            write_parquet_atomic(&path, &mut df)?;
            files.push(path);
        }
        self.store.save_failures_seen(&state.seen)?;
        state.dirty = false;
        Ok(files)
    }
}

impl Drop for FailuresBatch<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.commit() {
            tracing::warn!("cannot write the failure reports of this batch: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ip: &str, at: i64) -> FailureReport {
        FailureReport {
            reporter: "receiver.example".into(),
            feedback_type: "auth-failure".into(),
            auth_failure: Some("dmarc".into()),
            reported_domain: Some("Shop.Example".into()),
            source_ip: Some(ip.into()),
            arrival_date: Some(at),
            incidents: 2,
            message_id_hash: Some(format!("hash-{ip}-{at}")),
            ..FailureReport::default()
        }
    }

    fn auth() -> ReportAuth {
        ReportAuth {
            status: "authenticated".into(),
            from: Some("reporter.example".into()),
            detail: Some("DKIM pass for reporter.example (s=r1)".into()),
        }
    }

    #[test]
    fn reports_round_trip_once_in_one_file_per_partition() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path());
        let day = 1_793_000_000; // 2026-10-25
        {
            let batch = store.failures_batch().unwrap();
            assert_eq!(
                batch.write("a.eml", &report("192.0.2.1", day), &auth()),
                FailureWrite::New
            );
            assert_eq!(
                batch.write("b.eml", &report("192.0.2.2", day + 60), &auth()),
                FailureWrite::New
            );
            assert_eq!(
                batch.write("a-again.eml", &report("192.0.2.1", day), &auth()),
                FailureWrite::AlreadyIngested
            );
            let files = batch.commit().unwrap();
            assert_eq!(files.len(), 1, "{files:?}");
        }
        // A later batch knows them from the index, and from the files alone.
        for drop_index in [false, true] {
            if drop_index {
                fs::remove_file(store.failures_seen_path()).unwrap();
            }
            let batch = store.failures_batch().unwrap();
            assert_eq!(
                batch.write("c.eml", &report("192.0.2.2", day + 60), &auth()),
                FailureWrite::AlreadyIngested
            );
        }
        let since = DateTime::from_timestamp(day - 10, 0).unwrap();
        let until = DateTime::from_timestamp(day + 3600, 0).unwrap();
        let rows = store.failure_rows("shop.example", since, until).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].report, report("192.0.2.1", day));
        assert_eq!(rows[0].source, "a.eml");
        assert_eq!(rows[0].auth, Some(auth()));
        assert_eq!(rows[1].at, day + 60);
        let later = DateTime::from_timestamp(day + 30, 0).unwrap();
        assert_eq!(
            store
                .failure_rows("shop.example", later, until)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.failure_domains().unwrap(), ["shop.example"]);
        // The files hold exactly the documented columns.
        let (_, _, file) = partition_files(&store.failures_dir()).unwrap().remove(0);
        let df = read_parquet_file(&file, None).unwrap();
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let expected: Vec<String> = failures_schema()
            .iter()
            .map(|(n, _)| n.to_string())
            .collect();
        assert_eq!(names, expected);
    }
}
