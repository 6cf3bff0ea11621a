//! SMTP TLS report (RFC 8460) rows in the history: two flat datasets,
//! partitioned like the aggregate one.
//!
//! ```text
//! <root>/tls/domain=<policy-domain>/date=<YYYY-MM-DD>/batch-<stamp>-<n>.parquet
//!     one row per (report, policy) of that policy domain: sessions counted;
//!     one file per partition per ingest batch (older histories have one
//!     file per report, `<org>-<report_id>.parquet`)
//! <root>/tls_failures/domain=<policy-domain>/date=<YYYY-MM-DD>/batch-<stamp>-<n>.parquet
//!     one row per failure-details entry, keyed to its policy by
//!     (org_name, report_id, policy_index) within the same partition
//! <root>/tls/_seen.json    the (org_name, report_id) already ingested
//! <root>/tls/.lock         held while a batch is appended
//! ```
//!
//! `date` is the UTC day the report's period begins; `domain` and `date`
//! live in the path only (as for the aggregate dataset). In DuckDB:
//! `read_parquet('<root>/tls/*/*/*.parquet', hive_partitioning = true)`
//! joined with `tls_failures` on `(org_name, report_id, policy_index)`.
//!
//! A report is ingested once. A batch writes its `tls_failures` files and
//! makes them durable, then its `tls` files, then the seen index. A crash
//! before the index leaves files that the next batch reconciles under the
//! lock: a `tls` file the index does not name is adopted (its reports are
//! in the history), and a `tls_failures` file without its `tls` file whose
//! reports the index does not hold is deleted (they are written again,
//! whole). A missing or damaged index is rebuilt from the files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use authwarden_aggregate::{TlsFailure, TlsPolicyRow, TlsReport};
use authwarden_api::reports::ReportAuth;
use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::aggregate::{
    aggregate_date, batch_stamp, file_keys, list, lock, partition_domain, partition_files,
    relative_to, window_partition_files,
};
use crate::error::{HistoryError, Result};
use crate::store::{
    read_parquet_file, sync_filesystem, write_atomic, write_parquet_atomic, write_parquet_unsynced,
};
use crate::HistoryStore;

fn datetime_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
}

/// The columns of the `tls` dataset's files (the partitions `domain` and
/// `date` are in the path).
pub fn tls_schema() -> Vec<(&'static str, DataType)> {
    use DataType::*;
    vec![
        ("org_name", String),
        ("report_id", String),
        ("source", String),
        ("begin", datetime_dtype()),
        ("end", datetime_dtype()),
        ("contact_info", String),
        ("policy_index", UInt32),
        ("policy_type", String),
        ("policy_domain", String),
        ("policy_string", String),
        ("mx_hosts", String),
        ("successful", UInt64),
        ("failed", UInt64),
        // The report message's authentication (files written before read
        // them back as nulls).
        ("report_auth", String),
        ("report_from", String),
        ("report_auth_detail", String),
    ]
}

/// The columns of the `tls_failures` dataset's files.
pub fn tls_failures_schema() -> Vec<(&'static str, DataType)> {
    use DataType::*;
    vec![
        ("org_name", String),
        ("report_id", String),
        ("begin", datetime_dtype()),
        ("policy_index", UInt32),
        ("policy_type", String),
        ("result_type", String),
        ("sending_mta_ip", String),
        ("receiving_mx_hostname", String),
        ("receiving_mx_helo", String),
        ("receiving_ip", String),
        ("count", UInt64),
        ("additional_information", String),
        ("failure_reason_code", String),
    ]
}

fn time_column(name: &str, values: Vec<i64>) -> Column {
    Int64Chunked::from_vec(
        name.into(),
        values.into_iter().map(|t| t.saturating_mul(1000)).collect(),
    )
    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    .into_column()
}

/// The frames of one policy domain's policies of a report.
fn frames(
    source: &str,
    report: &TlsReport,
    auth: &ReportAuth,
    indexes: &[usize],
) -> PolarsResult<(DataFrame, DataFrame)> {
    let h = &report.header;
    let ps: Vec<_> = indexes.iter().map(|&i| (i, &report.policies[i])).collect();
    let n = ps.len();
    let rep = |v: &str| vec![v.to_string(); n];
    let policies = DataFrame::new(
        n,
        vec![
            Column::new("org_name".into(), rep(&h.org_name)),
            Column::new("report_id".into(), rep(&h.report_id)),
            Column::new("source".into(), rep(source)),
            time_column("begin", vec![h.begin; n]),
            time_column("end", vec![h.end; n]),
            Column::new("contact_info".into(), vec![h.contact_info.clone(); n]),
            Column::new(
                "policy_index".into(),
                ps.iter().map(|(i, _)| *i as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "policy_type".into(),
                ps.iter()
                    .map(|(_, p)| p.policy_type.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "policy_domain".into(),
                ps.iter()
                    .map(|(_, p)| p.policy_domain.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "policy_string".into(),
                ps.iter()
                    .map(|(_, p)| p.policy_string.join("\n"))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "mx_hosts".into(),
                ps.iter()
                    .map(|(_, p)| p.mx_hosts.join(";"))
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "successful".into(),
                ps.iter().map(|(_, p)| p.successful).collect::<Vec<_>>(),
            ),
            Column::new(
                "failed".into(),
                ps.iter().map(|(_, p)| p.failed).collect::<Vec<_>>(),
            ),
            Column::new(
                "report_auth".into(),
                vec![(!auth.status.is_empty()).then(|| auth.status.clone()); n],
            ),
            Column::new("report_from".into(), vec![auth.from.clone(); n]),
            Column::new("report_auth_detail".into(), vec![auth.detail.clone(); n]),
        ],
    )?;
    let fs: Vec<_> = ps
        .iter()
        .flat_map(|(i, p)| p.failures.iter().map(move |f| (*i, &p.policy_type, f)))
        .collect();
    let m = fs.len();
    let opt = |get: fn(&authwarden_aggregate::TlsFailureDetail) -> Option<String>| {
        fs.iter().map(|(_, _, f)| get(f)).collect::<Vec<_>>()
    };
    let failures = DataFrame::new(
        m,
        vec![
            Column::new("org_name".into(), vec![h.org_name.clone(); m]),
            Column::new("report_id".into(), vec![h.report_id.clone(); m]),
            time_column("begin", vec![h.begin; m]),
            Column::new(
                "policy_index".into(),
                fs.iter().map(|(i, _, _)| *i as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "policy_type".into(),
                fs.iter().map(|(_, t, _)| t.to_string()).collect::<Vec<_>>(),
            ),
            Column::new(
                "result_type".into(),
                fs.iter()
                    .map(|(_, _, f)| f.result_type.clone())
                    .collect::<Vec<_>>(),
            ),
            Column::new("sending_mta_ip".into(), opt(|f| f.sending_mta_ip.clone())),
            Column::new(
                "receiving_mx_hostname".into(),
                opt(|f| f.receiving_mx_hostname.clone()),
            ),
            Column::new(
                "receiving_mx_helo".into(),
                opt(|f| f.receiving_mx_helo.clone()),
            ),
            Column::new("receiving_ip".into(), opt(|f| f.receiving_ip.clone())),
            Column::new(
                "count".into(),
                fs.iter().map(|(_, _, f)| f.count).collect::<Vec<_>>(),
            ),
            Column::new(
                "additional_information".into(),
                opt(|f| f.additional_information.clone()),
            ),
            Column::new(
                "failure_reason_code".into(),
                opt(|f| f.failure_reason_code.clone()),
            ),
        ],
    )?;
    Ok((policies, failures))
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct SeenIndex {
    reports: Vec<SeenEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct SeenEntry {
    org_name: String,
    report_id: String,
    /// The report's files under `tls/`, one per policy domain.
    files: Vec<String>,
}

type Seen = BTreeMap<(String, String), Vec<String>>;

/// What [`TlsBatch::write`] did with a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsWrite {
    /// Written now: its files under `tls/` and the number of policies.
    New {
        /// The `tls/` files written, one per policy domain.
        files: Vec<PathBuf>,
        /// Policies written.
        policies: usize,
        /// Sessions the report counts, successful and failed.
        sessions: (u64, u64),
    },
    /// The history (or this batch) already holds it.
    AlreadyIngested,
}

/// An append of TLS reports, holding the dataset's lock from
/// [`HistoryStore::tls_batch`] until dropped; shareable between threads.
/// The seen index is written by [`TlsBatch::commit`].
pub struct TlsBatch<'s> {
    store: &'s HistoryStore,
    /// Part of the names of this batch's files.
    stamp: String,
    _lock: File,
    inner: Mutex<TlsState>,
}

#[derive(Default)]
struct TlsState {
    seen: Seen,
    /// The index differs from the file.
    dirty: bool,
    /// The reports this batch wrote (some maybe still pending).
    mine: HashSet<(String, String)>,
    /// The frames not yet written, by partition: (policies, failures).
    pending: BTreeMap<String, Vec<(DataFrame, DataFrame)>>,
    /// Policy rows in `pending`.
    pending_rows: usize,
    /// Counts the writes of `pending`: part of the files' names.
    generation: usize,
}

/// Policy rows a TLS batch holds before it writes them.
const TLS_PENDING_ROWS_MAX: usize = 20_000;

/// Up to this many files, a batch's write syncs each file.
const SYNC_EACH_UP_TO: usize = 4;

impl HistoryStore {
    /// The directory of the TLS report policies dataset.
    pub fn tls_dir(&self) -> PathBuf {
        self.root().join("tls")
    }

    /// The directory of the TLS report failure details dataset.
    pub fn tls_failures_dir(&self) -> PathBuf {
        self.root().join("tls_failures")
    }

    /// Whether any TLS report was ingested.
    pub fn has_tls_reports(&self) -> bool {
        list(&self.tls_dir())
            .map(|l| l.iter().any(|(n, _)| n.starts_with("domain=")))
            .unwrap_or(false)
    }

    /// Starts an append to the TLS datasets; waits for their lock.
    pub fn tls_batch(&self) -> Result<TlsBatch<'_>> {
        let dir = self.tls_dir();
        fs::create_dir_all(&dir).map_err(|source| HistoryError::Write {
            path: dir.clone(),
            source,
        })?;
        let lock = lock(&dir.join(".lock"))?;
        let (seen, adopted) = self.reconciled_tls_seen()?;
        Ok(TlsBatch {
            store: self,
            stamp: batch_stamp(Utc::now()),
            _lock: lock,
            inner: Mutex::new(TlsState {
                seen,
                dirty: adopted,
                ..Default::default()
            }),
        })
    }

    fn tls_seen_path(&self) -> PathBuf {
        self.tls_dir().join("_seen.json")
    }

    fn load_tls_seen(&self) -> Result<Seen> {
        let path = self.tls_seen_path();
        if let Some(index) =
            self.read_index::<SeenIndex>(&path, "rebuilt from the TLS report files")?
        {
            return Ok(index
                .reports
                .into_iter()
                .map(|e| ((e.org_name, e.report_id), e.files))
                .collect());
        }
        let dir = self.tls_dir();
        let mut seen = Seen::new();
        for (_, _, file) in partition_files(&dir)? {
            match file_keys(&file) {
                Ok(keys) => {
                    let rel = relative_to(&dir, &file);
                    for key in keys {
                        seen.entry(key).or_default().push(rel.clone());
                    }
                }
                Err(e) => self.skip("skipped TLS report file", &e),
            }
        }
        Ok(seen)
    }

    /// The seen index with what a batch that stopped before its index
    /// left (see the module docs); returns whether the index changed.
    /// Called under the lock.
    fn reconciled_tls_seen(&self) -> Result<(Seen, bool)> {
        let mut seen = self.load_tls_seen()?;
        let known: HashSet<String> = seen.values().flatten().cloned().collect();
        let dir = self.tls_dir();
        let mut adopted = false;
        for (_, _, file) in partition_files(&dir)? {
            let rel = relative_to(&dir, &file);
            if known.contains(&rel) {
                continue;
            }
            match file_keys(&file) {
                Ok(keys) => {
                    for key in keys {
                        let files = seen.entry(key).or_default();
                        if !files.contains(&rel) {
                            files.push(rel.clone());
                            adopted = true;
                        }
                    }
                }
                Err(e) => self.skip("skipped TLS report file", &e),
            }
        }
        let fdir = self.tls_failures_dir();
        for (_, _, file) in partition_files(&fdir)? {
            let rel = relative_to(&fdir, &file);
            if dir.join(&rel).exists() {
                continue;
            }
            let Ok(keys) = file_keys(&file) else {
                continue;
            };
            if keys.iter().any(|k| seen.contains_key(k)) {
                continue;
            }
            tracing::info!(
                "removed {}, left by an interrupted ingest before its reports' policies",
                file.display()
            );
            fs::remove_file(&file).map_err(|source| HistoryError::Write {
                path: file.clone(),
                source,
            })?;
        }
        Ok((seen, adopted))
    }

    fn save_tls_seen(&self, seen: &Seen) -> Result<()> {
        let index = SeenIndex {
            reports: seen
                .iter()
                .map(|((org_name, report_id), files)| SeenEntry {
                    org_name: org_name.clone(),
                    report_id: report_id.clone(),
                    files: files.clone(),
                })
                .collect(),
        };
        let path = self.tls_seen_path();
        let json = serde_json::to_vec_pretty(&index).unwrap_or_default();
        write_atomic(&path, |file| {
            use std::io::Write;
            file.write_all(&json).map_err(|source| HistoryError::Write {
                path: path.clone(),
                source,
            })
        })
    }

    /// The TLS report policies of `domain` (the policy domain) whose period
    /// begins in `[since, until)`, each with its failure details. Damaged
    /// files are skipped with a warning and listed in
    /// [`HistoryStore::damaged`]. Reads only the domain's partitions of the
    /// days asked for.
    pub fn tls_rows(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<TlsPolicyRow>> {
        if since >= until {
            return Ok(Vec::new());
        }
        let (since, until) = (since.timestamp(), until.timestamp());
        let mut out = Vec::new();
        // A partition's failure details, keyed by (org, report, policy):
        // read once per partition, whichever of its files holds them.
        let mut failures: HashMap<(String, String, u32), Vec<TlsFailure>> = HashMap::new();
        let mut failures_of: Option<PathBuf> = None;
        for (rel, path) in window_partition_files(&self.tls_dir(), domain, since, until)? {
            let rows = match read_parquet_file(&path, None).and_then(|df| {
                policy_rows(&df).map_err(|e| HistoryError::Corrupt {
                    path: path.clone(),
                    reason: e.to_string(),
                })
            }) {
                Ok(rows) => rows,
                Err(e) => {
                    self.skip("skipped TLS report file", &e);
                    continue;
                }
            };
            let rows: Vec<_> = rows
                .into_iter()
                .filter(|(_, r)| r.begin >= since && r.begin < until)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let partition = rel.parent().map(Path::to_path_buf).unwrap_or_default();
            if failures_of.as_ref() != Some(&partition) {
                failures.clear();
                for (f, fpath) in list(&self.tls_failures_dir().join(&partition))? {
                    if !f.ends_with(".parquet") || f.starts_with('.') {
                        continue;
                    }
                    match read_parquet_file(&fpath, None).and_then(|df| {
                        failure_rows(&df).map_err(|e| HistoryError::Corrupt {
                            path: fpath.clone(),
                            reason: e.to_string(),
                        })
                    }) {
                        Ok(fs) => {
                            for (key, f) in fs {
                                failures.entry(key).or_default().push(f);
                            }
                        }
                        Err(e) => self.skip("skipped TLS failure details file", &e),
                    }
                }
                failures_of = Some(partition);
            }
            for (i, mut row) in rows {
                let key = (row.org_name.clone(), row.report_id.clone(), i);
                row.failures = failures.remove(&key).unwrap_or_default();
                out.push(row);
            }
        }
        out.sort_by(|a, b| {
            (a.begin, &a.org_name, &a.report_id, &a.policy_type).cmp(&(
                b.begin,
                &b.org_name,
                &b.report_id,
                &b.policy_type,
            ))
        });
        Ok(out)
    }

    /// The policy domains that have TLS reports in the history.
    pub fn tls_domains(&self) -> Result<Vec<String>> {
        Ok(list(&self.tls_dir())?
            .into_iter()
            .filter_map(|(n, _)| n.strip_prefix("domain=").map(str::to_string))
            .collect())
    }
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df
        .column(name)?
        .str()?
        .iter()
        .map(|s| s.map(str::to_string))
        .collect())
}

fn u64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<u64>> {
    Ok(df
        .column(name)?
        .cast(&DataType::UInt64)?
        .u64()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

fn secs(df: &DataFrame, name: &str) -> PolarsResult<Vec<i64>> {
    Ok(df
        .column(name)?
        .cast(&DataType::Int64)?
        .i64()?
        .iter()
        .map(|v| v.unwrap_or(0).div_euclid(1000))
        .collect())
}

fn policy_rows(df: &DataFrame) -> PolarsResult<Vec<(u32, TlsPolicyRow)>> {
    let org = strs(df, "org_name")?;
    let id = strs(df, "report_id")?;
    let source = strs(df, "source")?;
    let begin = secs(df, "begin")?;
    let end = secs(df, "end")?;
    let index = u64s(df, "policy_index")?;
    let ptype = strs(df, "policy_type")?;
    let pdomain = strs(df, "policy_domain")?;
    let mx = strs(df, "mx_hosts")?;
    let ok = u64s(df, "successful")?;
    let failed = u64s(df, "failed")?;
    // Absent from files written before the report messages were checked.
    let optional = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        match df.column(name) {
            Ok(_) => strs(df, name),
            Err(_) => Ok(vec![None; df.height()]),
        }
    };
    let auth = optional("report_auth")?;
    let from = optional("report_from")?;
    let detail = optional("report_auth_detail")?;
    Ok((0..df.height())
        .map(|i| {
            let s = |v: &Vec<Option<String>>| v[i].clone().unwrap_or_default();
            (
                index[i] as u32,
                TlsPolicyRow {
                    org_name: s(&org),
                    report_id: s(&id),
                    source: s(&source),
                    begin: begin[i],
                    end: end[i],
                    policy_domain: s(&pdomain),
                    policy_type: s(&ptype),
                    mx_hosts: s(&mx)
                        .split(';')
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect(),
                    successful: ok[i],
                    failed: failed[i],
                    failures: Vec::new(),
                    auth: auth[i].clone().map(|status| ReportAuth {
                        status,
                        from: from[i].clone(),
                        detail: detail[i].clone(),
                    }),
                },
            )
        })
        .collect())
}

#[allow(clippy::type_complexity)]
fn failure_rows(df: &DataFrame) -> PolarsResult<Vec<((String, String, u32), TlsFailure)>> {
    let org = strs(df, "org_name")?;
    let id = strs(df, "report_id")?;
    let index = u64s(df, "policy_index")?;
    let result = strs(df, "result_type")?;
    let mta = strs(df, "sending_mta_ip")?;
    let mx = strs(df, "receiving_mx_hostname")?;
    let ip = strs(df, "receiving_ip")?;
    let count = u64s(df, "count")?;
    Ok((0..df.height())
        .map(|i| {
            (
                (
                    org[i].clone().unwrap_or_default(),
                    id[i].clone().unwrap_or_default(),
                    index[i] as u32,
                ),
                TlsFailure {
                    result_type: result[i].clone().unwrap_or_default(),
                    receiving_mx_hostname: mx[i].clone(),
                    sending_mta_ip: mta[i].clone(),
                    receiving_ip: ip[i].clone(),
                    count: count[i],
                },
            )
        })
        .collect())
}

impl TlsBatch<'_> {
    fn state(&self) -> std::sync::MutexGuard<'_, TlsState> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the history (or this batch) holds the report.
    pub fn contains(&self, org_name: &str, report_id: &str) -> bool {
        self.state()
            .seen
            .contains_key(&(org_name.to_string(), report_id.to_string()))
    }

    /// Adds a report (from `source`) unless the history holds it: its
    /// policies join this batch's file of each policy domain's partition
    /// (and its failure details the `tls_failures` file of the same name),
    /// written at [`TlsBatch::commit`] or when the batch holds
    /// `TLS_PENDING_ROWS_MAX` policies.
    pub fn write(&self, source: &str, report: &TlsReport, auth: &ReportAuth) -> Result<TlsWrite> {
        let key = (
            report.header.org_name.clone(),
            report.header.report_id.clone(),
        );
        let mut state = self.state();
        if state.mine.contains(&key) {
            return Ok(TlsWrite::AlreadyIngested);
        }
        if let Some(files) = state.seen.get(&key) {
            let dir = self.store.tls_dir();
            if files.iter().all(|f| dir.join(f).is_file()) {
                return Ok(TlsWrite::AlreadyIngested);
            }
            self.store.warn(format!(
                "TLS report {} of {} was in the history but a file of it is missing: writing it again",
                key.1, key.0
            ));
        }
        let mut by_domain: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, p) in report.policies.iter().enumerate() {
            by_domain.entry(&p.policy_domain).or_default().push(i);
        }
        // A report without policies is remembered as seen, with no file.
        let mut rels = Vec::new();
        let mut files = Vec::new();
        let date = aggregate_date(report.header.begin);
        for (domain, indexes) in by_domain {
            let partition = format!("domain={}/date={date}", partition_domain(domain));
            let frames = frames(source, report, auth, &indexes)?;
            state.pending_rows += frames.0.height();
            let rel = format!("{partition}/{}-{}.parquet", self.stamp, state.generation);
            state.pending.entry(partition).or_default().push(frames);
            files.push(self.store.tls_dir().join(&rel));
            rels.push(rel);
        }
        state.seen.insert(key.clone(), rels);
        state.mine.insert(key);
        state.dirty = true;
        if state.pending_rows >= TLS_PENDING_ROWS_MAX {
            self.write_pending(&mut state)?;
        }
        let sessions = report.policies.iter().fold((0u64, 0u64), |(s, f), p| {
            (s.saturating_add(p.successful), f.saturating_add(p.failed))
        });
        Ok(TlsWrite::New {
            files,
            policies: report.policies.len(),
            sessions,
        })
    }

    /// Writes the pending frames: every `tls_failures` file, made durable,
    /// then every `tls` file, made durable (see the module docs).
    fn write_pending(&self, state: &mut TlsState) -> Result<()> {
        let pending = std::mem::take(&mut state.pending);
        let generation = state.generation;
        state.pending_rows = 0;
        state.generation += 1;
        let one_by_one = pending.len() <= SYNC_EACH_UP_TO;
        let stack = |frames: &mut dyn Iterator<Item = &DataFrame>, path: &PathBuf| {
            let mut out: Option<DataFrame> = None;
            for f in frames {
                match out.as_mut() {
                    None => out = Some(f.clone()),
                    Some(o) => {
                        o.vstack_mut(f).map_err(|source| HistoryError::Encode {
                            path: path.clone(),
                            source,
                        })?;
                    }
                }
            }
            Ok::<_, HistoryError>(out)
        };
        let write = |path: &PathBuf, df: &mut DataFrame| {
            df.rechunk_mut();
            if one_by_one {
                write_parquet_atomic(path, df)
            } else {
                write_parquet_unsynced(path, df)
            }
        };
        let name = |partition: &str| format!("{partition}/{}-{generation}.parquet", self.stamp);
        let fdir = self.store.tls_failures_dir();
        let mut wrote_failures = false;
        for (partition, frames) in &pending {
            let path = fdir.join(name(partition));
            let mut it = frames.iter().map(|(_, f)| f).filter(|f| f.height() > 0);
            if let Some(mut df) = stack(&mut it, &path)? {
                write(&path, &mut df)?;
                wrote_failures = true;
            }
        }
        if wrote_failures && !one_by_one {
            sync_filesystem(&fdir)?;
        }
        let dir = self.store.tls_dir();
        for (partition, frames) in &pending {
            let path = dir.join(name(partition));
            let mut it = frames.iter().map(|(p, _)| p);
            if let Some(mut df) = stack(&mut it, &path)? {
                write(&path, &mut df)?;
            }
        }
        if !one_by_one {
            sync_filesystem(&dir)?;
        }
        Ok(())
    }

    /// Writes the pending reports and then the seen index, when reports
    /// were written since the last commit.
    pub fn commit(&self) -> Result<()> {
        let mut state = self.state();
        if !state.pending.is_empty() {
            self.write_pending(&mut state)?;
        }
        if state.dirty {
            self.store.save_tls_seen(&state.seen)?;
            state.dirty = false;
        }
        Ok(())
    }
}

impl Drop for TlsBatch<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.commit() {
            tracing::warn!("cannot write the TLS reports' seen index: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_aggregate::{TlsFailureDetail, TlsPolicy, TlsReportHeader};
    use chrono::TimeZone as _;

    fn report(id: &str, begin: i64) -> TlsReport {
        let policy =
            |domain: &str, t: &str, ok, failed, failures: Vec<TlsFailureDetail>| TlsPolicy {
                policy_type: t.into(),
                policy_string: vec!["version: STSv1".into(), "mode: enforce".into()],
                policy_domain: domain.into(),
                mx_hosts: vec!["mx1.example.com".into(), "*.example.com".into()],
                successful: ok,
                failed,
                failures,
            };
        TlsReport {
            header: TlsReportHeader {
                org_name: "Org".into(),
                report_id: id.into(),
                contact_info: Some("x@example.net".into()),
                begin,
                end: begin + 86399,
                policies: 3,
            },
            policies: vec![
                policy(
                    "example.com",
                    "sts",
                    90,
                    10,
                    vec![TlsFailureDetail {
                        result_type: "certificate-expired".into(),
                        sending_mta_ip: Some("192.0.2.1".into()),
                        receiving_mx_hostname: Some("mx1.example.com".into()),
                        receiving_ip: Some("198.51.100.1".into()),
                        count: 10,
                        ..Default::default()
                    }],
                ),
                policy("example.com", "no-policy-found", 5, 0, vec![]),
                policy("example.org", "tlsa", 7, 0, vec![]),
            ],
        }
    }

    #[test]
    fn reports_round_trip_per_domain_and_window_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path());
        assert!(!store.has_tls_reports());
        let t = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
        {
            let batch = store.tls_batch().unwrap();
            let w = batch
                .write(
                    "a.json",
                    &report("r1", t.timestamp()),
                    &ReportAuth::not_mail(),
                )
                .unwrap();
            assert!(matches!(
                w,
                TlsWrite::New {
                    policies: 3,
                    sessions: (102, 10),
                    ..
                }
            ));
            assert_eq!(
                batch
                    .write(
                        "b.json",
                        &report("r1", t.timestamp()),
                        &ReportAuth::not_mail()
                    )
                    .unwrap(),
                TlsWrite::AlreadyIngested
            );
            batch
                .write(
                    "c.json",
                    &report("r2", t.timestamp() + 86400 * 40),
                    &ReportAuth::not_mail(),
                )
                .unwrap();
            batch.commit().unwrap();
        }
        assert!(store.has_tls_reports());
        let nov = |d| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
        let rows = store.tls_rows("Example.COM.", nov(1), nov(30)).unwrap();
        assert_eq!(rows.len(), 2, "{rows:#?}");
        let sts = rows.iter().find(|r| r.policy_type == "sts").unwrap();
        assert_eq!((sts.successful, sts.failed), (90, 10));
        assert_eq!(sts.source, "a.json");
        assert_eq!(sts.mx_hosts, vec!["mx1.example.com", "*.example.com"]);
        assert_eq!(sts.failures.len(), 1);
        assert_eq!(sts.failures[0].result_type, "certificate-expired");
        assert_eq!(sts.failures[0].count, 10);
        assert_eq!(
            store
                .tls_rows("example.org", nov(1), nov(30))
                .unwrap()
                .len(),
            1
        );
        // The second report begins in December.
        assert!(store
            .tls_rows("example.com", nov(3), nov(30))
            .unwrap()
            .is_empty());
        // A new batch sees what the first wrote; a lost index is rebuilt.
        fs::remove_file(store.tls_dir().join("_seen.json")).unwrap();
        let batch = store.tls_batch().unwrap();
        assert!(batch.contains("Org", "r1") && batch.contains("Org", "r2"));
        assert_eq!(
            batch
                .write("d.json", &report("r2", 0), &ReportAuth::not_mail())
                .unwrap(),
            TlsWrite::AlreadyIngested
        );
    }

    fn files_under(dir: &Path) -> Vec<String> {
        let mut out: Vec<String> = partition_files(dir)
            .unwrap()
            .into_iter()
            .map(|(_, _, f)| relative_to(dir, &f))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_batch_writes_one_file_per_partition_and_pairs_failures_by_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path());
        let t = Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap();
        {
            let batch = store.tls_batch().unwrap();
            for i in 0..10 {
                let mut r = report(&format!("r{i}"), t.timestamp());
                // Each report's sts failure count tells them apart.
                r.policies[0].failures[0].count = 100 + i;
                batch.write("x.json", &r, &ReportAuth::not_mail()).unwrap();
            }
            batch.commit().unwrap();
        }
        // Two partitions (example.com, example.org), one file each, and
        // one failure details file (only example.com has failures).
        assert_eq!(files_under(&store.tls_dir()).len(), 2);
        assert_eq!(files_under(&store.tls_failures_dir()).len(), 1);
        let nov = |d| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
        let rows = store.tls_rows("example.com", nov(1), nov(30)).unwrap();
        for i in 0..10u64 {
            let sts = rows
                .iter()
                .find(|r| r.policy_type == "sts" && r.report_id == format!("r{i}"))
                .unwrap();
            assert_eq!(sts.failures.len(), 1, "{sts:?}");
            assert_eq!(sts.failures[0].count, 100 + i);
        }

        // What a batch stopped before its index leaves, made in another
        // history and copied in: a report's policies and failures (adopted),
        // and the failures of another without its policies (deleted).
        let one_report = |id: &str| {
            let dir = tempfile::tempdir().unwrap();
            let store = HistoryStore::new(dir.path());
            let batch = store.tls_batch().unwrap();
            let r = report(id, t.timestamp());
            batch.write("o.json", &r, &ReportAuth::not_mail()).unwrap();
            batch.commit().unwrap();
            drop(batch);
            (dir, store)
        };
        let (_other, other_store) = one_report("orphan");
        let (_ghost, ghost_store) = one_report("ghost");
        for (from, dataset) in [(&other_store, "tls"), (&other_store, "tls_failures")] {
            let d = from.root().join(dataset);
            for rel in files_under(&d) {
                let to = store.root().join(dataset).join(&rel);
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                fs::copy(d.join(&rel), to).unwrap();
            }
        }
        let gdir = ghost_store.tls_failures_dir();
        let ghost_rel = files_under(&gdir).remove(0);
        let ghost_copy = store
            .tls_failures_dir()
            .join(ghost_rel.replace(".parquet", "-ghost.parquet"));
        fs::copy(gdir.join(&ghost_rel), &ghost_copy).unwrap();
        {
            let batch = store.tls_batch().unwrap();
            assert!(batch.contains("Org", "orphan"));
            assert!(!batch.contains("Org", "ghost"));
            assert!(
                !ghost_copy.exists(),
                "the failures without policies are gone"
            );
            assert_eq!(
                batch
                    .write(
                        "o2.json",
                        &report("orphan", t.timestamp()),
                        &ReportAuth::not_mail()
                    )
                    .unwrap(),
                TlsWrite::AlreadyIngested
            );
        }
        let rows = store.tls_rows("example.com", nov(1), nov(30)).unwrap();
        let orphan: Vec<_> = rows.iter().filter(|r| r.report_id == "orphan").collect();
        assert_eq!(orphan.len(), 2, "{orphan:#?}");
        let sts = orphan.iter().find(|r| r.policy_type == "sts").unwrap();
        assert_eq!(sts.failures.len(), 1);
        assert!(rows.iter().all(|r| r.report_id != "ghost"));
    }
}
