//! Comparing a run's findings with the previous runs of the same job.

use std::collections::{HashMap, HashSet};

use authwarden_api::Severity;
use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::run::RunMeta;
use crate::store::{HistoryStore, Table};

/// Where a finding stands compared with the previous run of the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Status {
    /// In this run, not in the previous one.
    New,
    /// In this run and in the previous one.
    StillOpen {
        /// Consecutive runs of the job that had it, this one included (at least 2).
        runs_open: u32,
        /// The period of the first run of that streak.
        since: String,
    },
    /// In the previous run, not in this one.
    Resolved,
}

impl Status {
    /// `new`, `still-open` or `resolved`, as in the `status` column.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::New => "new",
            Status::StillOpen { .. } => "still-open",
            Status::Resolved => "resolved",
        }
    }

    /// Consecutive runs with the finding, this one included: 1 when new,
    /// 0 when resolved.
    pub fn runs_open(&self) -> u32 {
        match self {
            Status::New => 1,
            Status::StillOpen { runs_open, .. } => *runs_open,
            Status::Resolved => 0,
        }
    }
}

/// One finding of the current run, or one resolved since the previous run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FindingStatus {
    /// `domain|code|subject`, see [`finding_key`](crate::finding_key).
    pub key: String,
    /// The checker id.
    pub checker: String,
    /// The domain.
    pub domain: String,
    /// The finding code, e.g. `DMARC003`.
    pub code: String,
    /// The kebab-case name of the code.
    pub name: String,
    /// What the finding is about.
    pub subject: String,
    /// The severity (for a resolved finding: as last seen).
    pub severity: Severity,
    /// The message (for a resolved finding: as last seen).
    pub message: String,
    /// The help text.
    pub help: String,
    /// New, still open or resolved.
    pub status: Status,
}

/// The current run set against the history of its job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// One row per finding of the current run, in frame order, then one per
    /// finding of the previous run that is gone, in that run's order.
    pub rows: Vec<FindingStatus>,
    /// How many current findings are new.
    pub new: usize,
    /// How many current findings were already in the previous run.
    pub still_open: usize,
    /// How many findings of the previous run are gone.
    pub resolved: usize,
    /// The run id compared with; `None` for the first run of a job.
    pub previous_run: Option<String>,
}

/// The text columns of a findings frame that a [`FindingStatus`] copies.
struct Rows<'a> {
    key: &'a StringChunked,
    checker: &'a StringChunked,
    domain: &'a StringChunked,
    code: &'a StringChunked,
    name: &'a StringChunked,
    subject: &'a StringChunked,
    severity: &'a StringChunked,
    message: &'a StringChunked,
    help: &'a StringChunked,
}

impl<'a> Rows<'a> {
    fn new(df: &'a DataFrame) -> PolarsResult<Rows<'a>> {
        let col = |name: &str| -> PolarsResult<&'a StringChunked> { df.column(name)?.str() };
        Ok(Rows {
            key: col("key")?,
            checker: col("checker")?,
            domain: col("domain")?,
            code: col("code")?,
            name: col("name")?,
            subject: col("subject")?,
            severity: col("severity")?,
            message: col("message")?,
            help: col("help")?,
        })
    }

    fn status(&self, i: usize, status: Status) -> FindingStatus {
        let text = |ca: &StringChunked| ca.get(i).unwrap_or_default().to_string();
        FindingStatus {
            key: text(self.key),
            checker: text(self.checker),
            domain: text(self.domain),
            code: text(self.code),
            name: text(self.name),
            subject: text(self.subject),
            severity: parse_severity(self.severity.get(i).unwrap_or_default()),
            message: text(self.message),
            help: text(self.help),
            status,
        }
    }
}

fn parse_severity(s: &str) -> Severity {
    match s {
        "error" => Severity::Error,
        "warning" => Severity::Warning,
        _ => Severity::Note,
    }
}

/// Compares the findings of the run `meta` (a frame from
/// [`findings_frame`](crate::findings_frame)) with the previous run of the
/// same job: the latest committed and delivered run that started before it,
/// other than itself, so it works before or after the current run is
/// appended.
///
/// `runs_open` counts back through the job's earlier runs while they have the
/// finding. A damaged history file is skipped with a warning: a damaged
/// previous run is replaced by the one before it, and in a streak a damaged
/// run neither breaks nor lengthens it.
pub fn compare(store: &HistoryStore, meta: &RunMeta, current: &DataFrame) -> Result<Comparison> {
    let earlier: Vec<RunMeta> = store
        .runs(&meta.job)?
        .into_iter()
        .filter(|r| {
            r.run_id != meta.run_id
                && (r.started_at, &r.run_id) < (meta.started_at, &meta.run_id)
                // A run killed before its report and mail existed told
                // nobody: it is no baseline (see HistoryStore::begin_run).
                && !store.is_interrupted(r)
        })
        .collect();

    // The newest readable earlier run, in full.
    let mut previous: Option<(usize, DataFrame)> = None;
    for (i, run) in earlier.iter().enumerate().rev() {
        match store.load_run(Table::Findings, run, None) {
            Ok(df) => {
                previous = Some((i, df));
                break;
            }
            Err(e) => store.warn(format!("skipped findings of run {}: {e}", run.run_id)),
        }
    }

    let cur = Rows::new(current)?;
    let Some((prev_index, prev_df)) = previous else {
        let rows: Vec<FindingStatus> = (0..current.height())
            .map(|i| cur.status(i, Status::New))
            .collect();
        return Ok(Comparison {
            new: rows.len(),
            still_open: 0,
            resolved: 0,
            rows,
            previous_run: None,
        });
    };
    let prev = Rows::new(&prev_df)?;

    let current_keys: HashSet<&str> = cur.key.iter().flatten().collect();
    let previous_keys: HashSet<&str> = prev.key.iter().flatten().collect();

    // For every key open in both, the index in `earlier` where its streak starts.
    let mut streak_start: HashMap<&str, usize> = current_keys
        .iter()
        .filter(|k| previous_keys.contains(*k))
        .map(|k| (*k, prev_index))
        .collect();
    let mut extending: Vec<&str> = streak_start.keys().copied().collect();
    let mut damaged = vec![false; prev_index];
    for (i, run) in earlier[..prev_index].iter().enumerate().rev() {
        if extending.is_empty() {
            break;
        }
        let keys = match store.load_run(Table::Findings, run, Some(&["key"])) {
            Ok(df) => df,
            Err(e) => {
                store.warn(format!("skipped findings of run {}: {e}", run.run_id));
                damaged[i] = true;
                continue;
            }
        };
        let run_keys: HashSet<&str> = keys.column("key")?.str()?.iter().flatten().collect();
        extending.retain(|k| {
            let open = run_keys.contains(k);
            if open {
                streak_start.insert(k, i);
            }
            open
        });
    }
    // readable_from[i]: readable runs in earlier[i..=prev_index], the runs a
    // streak starting at i has been open in before this one.
    let mut readable_from = vec![0u32; prev_index + 1];
    let mut acc = 0;
    for i in (0..=prev_index).rev() {
        if !damaged.get(i).copied().unwrap_or(false) {
            acc += 1;
        }
        readable_from[i] = acc;
    }

    let mut rows = Vec::with_capacity(current.height() + prev_df.height());
    let (mut new, mut still_open) = (0, 0);
    for i in 0..current.height() {
        let key = cur.key.get(i).unwrap_or_default();
        let status = match streak_start.get(key) {
            Some(&start) => {
                still_open += 1;
                Status::StillOpen {
                    runs_open: readable_from[start] + 1,
                    since: earlier[start].period.clone(),
                }
            }
            None => {
                new += 1;
                Status::New
            }
        };
        rows.push(cur.status(i, status));
    }
    let mut resolved = 0;
    for i in 0..prev_df.height() {
        let key = prev.key.get(i).unwrap_or_default();
        if !current_keys.contains(key) {
            resolved += 1;
            rows.push(prev.status(i, Status::Resolved));
        }
    }
    Ok(Comparison {
        rows,
        new,
        still_open,
        resolved,
        previous_run: Some(earlier[prev_index].run_id.clone()),
    })
}

/// `current` with two more columns from `comparison`: `status` (`new` or
/// `still-open`) and `runs_open` (UInt32, 1 for new findings). Rows whose key
/// the comparison does not know get nulls.
pub fn annotate(current: &DataFrame, comparison: &Comparison) -> PolarsResult<DataFrame> {
    let by_key: HashMap<&str, &Status> = comparison
        .rows
        .iter()
        .filter(|r| r.status != Status::Resolved)
        .map(|r| (r.key.as_str(), &r.status))
        .collect();
    let keys = current.column("key")?.str()?;
    let mut status: Vec<Option<&str>> = Vec::with_capacity(keys.len());
    let mut runs_open: Vec<Option<u32>> = Vec::with_capacity(keys.len());
    for key in keys.iter() {
        let s = key.and_then(|k| by_key.get(k));
        status.push(s.map(|s| s.as_str()));
        runs_open.push(s.map(|s| s.runs_open()));
    }
    let mut out = current.clone();
    out.with_column(Column::new("status".into(), status))?;
    out.with_column(Column::new("runs_open".into(), runs_open))?;
    Ok(out)
}
