//! SMTP TLS report (RFC 8460) rows in the history: two flat datasets,
//! partitioned like the aggregate one.
//!
//! ```text
//! <root>/tls/domain=<policy-domain>/date=<YYYY-MM-DD>/<org>-<report_id>.parquet
//!     one row per (report, policy) of that policy domain: sessions counted
//! <root>/tls_failures/domain=<policy-domain>/date=<YYYY-MM-DD>/<org>-<report_id>.parquet
//!     one row per failure-details entry, keyed to its policy by
//!     (org_name, report_id, policy_index)
//! <root>/tls/_seen.json    the (org_name, report_id) already ingested
//! <root>/tls/.lock         held while a batch is appended
//! ```
//!
//! `date` is the UTC day the report's period begins; `domain` and `date`
//! live in the path only (as for the aggregate dataset). In DuckDB:
//! `read_parquet('<root>/tls/*/*/*.parquet', hive_partitioning = true)`
//! joined with `tls_failures` on `(org_name, report_id, policy_index)`.
//!
//! A report is ingested once (its files are written before the seen index;
//! a crash in between leaves files that the retried ingest rewrites under
//! the same names). A missing or damaged index is rebuilt from the files.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::path::PathBuf;
use std::sync::Mutex;

use authwarden_aggregate::{TlsFailure, TlsPolicyRow, TlsReport};
use authwarden_api::reports::ReportAuth;
use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::aggregate::{
    aggregate_date, list, lock, partition_domain, partition_files, report_file_name,
    window_partition_files,
};
use crate::error::{HistoryError, Result};
use crate::store::{read_parquet_file, write_atomic, write_parquet_atomic};
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
    _lock: File,
    inner: Mutex<(Seen, bool)>,
}

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
        let seen = self.load_tls_seen()?;
        Ok(TlsBatch {
            store: self,
            _lock: lock,
            inner: Mutex::new((seen, false)),
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
            match read_parquet_file(&file, Some(&["org_name", "report_id"])) {
                Ok(df) => {
                    let get = |c: &str| {
                        df.column(c)
                            .ok()
                            .and_then(|c| c.str().ok().and_then(|s| s.get(0).map(str::to_string)))
                    };
                    if let (Some(org), Some(id)) = (get("org_name"), get("report_id")) {
                        let rel = file
                            .strip_prefix(&dir)
                            .unwrap_or(&file)
                            .to_string_lossy()
                            .into_owned();
                        seen.entry((org, id)).or_default().push(rel);
                    }
                }
                Err(e) => self.skip("skipped TLS report file", &e),
            }
        }
        Ok(seen)
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
            let fpath = self.tls_failures_dir().join(&rel);
            let mut failures: HashMap<u32, Vec<TlsFailure>> = HashMap::new();
            if fpath.exists() {
                match read_parquet_file(&fpath, None).and_then(|df| {
                    failure_rows(&df).map_err(|e| HistoryError::Corrupt {
                        path: fpath.clone(),
                        reason: e.to_string(),
                    })
                }) {
                    Ok(fs) => {
                        for (i, f) in fs {
                            failures.entry(i).or_default().push(f);
                        }
                    }
                    Err(e) => self.skip("skipped TLS failure details file", &e),
                }
            }
            for (i, mut row) in rows {
                row.failures = failures.remove(&i).unwrap_or_default();
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

fn failure_rows(df: &DataFrame) -> PolarsResult<Vec<(u32, TlsFailure)>> {
    let index = u64s(df, "policy_index")?;
    let result = strs(df, "result_type")?;
    let mta = strs(df, "sending_mta_ip")?;
    let mx = strs(df, "receiving_mx_hostname")?;
    let ip = strs(df, "receiving_ip")?;
    let count = u64s(df, "count")?;
    Ok((0..df.height())
        .map(|i| {
            (
                index[i] as u32,
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
    fn state(&self) -> std::sync::MutexGuard<'_, (Seen, bool)> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the history (or this batch) holds the report.
    pub fn contains(&self, org_name: &str, report_id: &str) -> bool {
        self.state()
            .0
            .contains_key(&(org_name.to_string(), report_id.to_string()))
    }

    /// Writes a report (from `source`) unless the history holds it: one
    /// file per policy domain in each dataset (none in `tls_failures` for
    /// a domain without failure details).
    pub fn write(&self, source: &str, report: &TlsReport, auth: &ReportAuth) -> Result<TlsWrite> {
        let key = (
            report.header.org_name.clone(),
            report.header.report_id.clone(),
        );
        let mut state = self.state();
        if let Some(files) = state.0.get(&key) {
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
        let name = report_file_name(&key.0, &key.1);
        let date = aggregate_date(report.header.begin);
        for (domain, indexes) in by_domain {
            let rel = format!("domain={}/date={date}/{name}", partition_domain(domain));
            let (mut policies, mut failures) = frames(source, report, auth, &indexes)?;
            if failures.height() > 0 {
                write_parquet_atomic(&self.store.tls_failures_dir().join(&rel), &mut failures)?;
            }
            let path = self.store.tls_dir().join(&rel);
            write_parquet_atomic(&path, &mut policies)?;
            rels.push(rel);
            files.push(path);
        }
        state.0.insert(key, rels);
        state.1 = true;
        let sessions = report.policies.iter().fold((0u64, 0u64), |(s, f), p| {
            (s.saturating_add(p.successful), f.saturating_add(p.failed))
        });
        Ok(TlsWrite::New {
            files,
            policies: report.policies.len(),
            sessions,
        })
    }

    /// Writes the seen index when reports were written since the last
    /// commit.
    pub fn commit(&self) -> Result<()> {
        let mut state = self.state();
        if state.1 {
            self.store.save_tls_seen(&state.0)?;
            state.1 = false;
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
}
