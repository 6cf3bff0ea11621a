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
    /// In the previous run (or the latest that checked it completely), not
    /// in this one, whose check of the domain did not complete (its checker
    /// reported `*-incomplete` or crashed): not resolved, still open as far
    /// as anyone knows.
    NotRechecked {
        /// Runs of the job that had it (this one not included, at least 1).
        runs_open: u32,
        /// The period of the first run of that streak.
        since: String,
    },
}

impl Status {
    /// `new`, `still-open`, `resolved` or `not-rechecked`, as in the
    /// `status` column and the JSON `kind`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::New => "new",
            Status::StillOpen { .. } => "still-open",
            Status::Resolved => "resolved",
            Status::NotRechecked { .. } => "not-rechecked",
        }
    }

    /// Consecutive runs with the finding, this one included: 1 when new,
    /// 0 when resolved; for a finding not re-checked, the earlier runs that
    /// had it.
    pub fn runs_open(&self) -> u32 {
        match self {
            Status::New => 1,
            Status::StillOpen { runs_open, .. } | Status::NotRechecked { runs_open, .. } => {
                *runs_open
            }
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
    /// New, still open, resolved or not re-checked.
    pub status: Status,
}

/// The current run set against the history of its job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// One row per finding of the current run, in frame order, then one per
    /// finding of the previous run that is gone (resolved or not
    /// re-checked), in that run's order, then those carried from earlier
    /// runs for checks the previous run did not complete.
    pub rows: Vec<FindingStatus>,
    /// How many current findings are new.
    pub new: usize,
    /// How many current findings were already in the previous run.
    pub still_open: usize,
    /// How many findings of the previous run are gone.
    pub resolved: usize,
    /// How many findings of the previous run are absent because their check
    /// did not complete in this run ([`Status::NotRechecked`]).
    pub not_rechecked: usize,
    /// The run id compared with; `None` for the first run of a job (or when
    /// no earlier run's findings can be read).
    pub previous_run: Option<String>,
    /// Newer earlier runs whose findings could not be read and were passed
    /// over, newest first.
    pub unreadable_runs: Vec<String>,
    /// What the report should say about the comparison, when something is
    /// off: e.g. `the findings of run R (period 2026-11) could not be read:
    /// compared with run Q (period 2026-10) instead`.
    pub note: Option<String>,
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

/// Whether a finding says its check did not complete: a code name ending
/// in `-incomplete` (`dkim-check-incomplete`, `spf-check-incomplete`,
/// `external-check-incomplete`, ...) or the engine's `check-crashed`.
pub fn is_incomplete_marker(name: &str) -> bool {
    name.ends_with("-incomplete") || name == CHECK_CRASHED
}

/// The engine's code name for a checker that panicked or timed out; its
/// subject is the checker's id.
const CHECK_CRASHED: &str = "check-crashed";

/// A (domain, checker) pair.
type Pair = (String, String);

/// The (domain, checker) pairs whose check a findings frame says did not
/// complete: the checker of an `-incomplete` finding, the subject (the
/// crashed checker) of a `check-crashed` one.
fn incomplete_pairs(rows: &Rows<'_>, height: usize) -> HashSet<Pair> {
    let mut out = HashSet::new();
    for i in 0..height {
        let name = rows.name.get(i).unwrap_or_default();
        if !is_incomplete_marker(name) {
            continue;
        }
        let domain = rows.domain.get(i).unwrap_or_default().to_string();
        let checker = if name == CHECK_CRASHED {
            rows.subject.get(i)
        } else {
            rows.checker.get(i)
        };
        out.insert((domain, checker.unwrap_or_default().to_string()));
    }
    out
}

/// The pair a finding belongs to.
fn pair_of(rows: &Rows<'_>, i: usize) -> Pair {
    (
        rows.domain.get(i).unwrap_or_default().to_string(),
        rows.checker.get(i).unwrap_or_default().to_string(),
    )
}

/// What an earlier run says about the keys of a streak.
struct RunKeys {
    keys: HashSet<String>,
    incomplete: HashSet<Pair>,
}

/// Compares the findings of the run `meta` (a frame from
/// [`findings_frame`](crate::findings_frame)) with the previous run of the
/// same job: the latest committed and delivered run that started before it,
/// other than itself, so it works before or after the current run is
/// appended.
///
/// `runs_open` counts back through the job's earlier runs while they have the
/// finding.
///
/// Damaged state never resolves a finding:
///
/// - A damaged history file is skipped (a warning, and an entry in
///   [`HistoryStore::damaged`]): a damaged previous run is replaced by the
///   newest readable one before it, which [`Comparison::unreadable_runs`]
///   and [`Comparison::note`] say; in a streak a damaged run neither breaks
///   nor lengthens it.
/// - A check that did not complete ([`is_incomplete_marker`]) resolves
///   nothing: a previous finding of a (domain, checker) whose check is
///   incomplete in this run is [`Status::NotRechecked`], not resolved. When
///   the previous run's check of a (domain, checker) was incomplete, its
///   earlier findings are taken from the latest run that completed it, so
///   that what that run found is compared now; in a streak such a run,
///   without the finding, neither breaks nor lengthens it.
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
    let mut unreadable: Vec<&RunMeta> = Vec::new();
    for (i, run) in earlier.iter().enumerate().rev() {
        match store.load_run(Table::Findings, run, None) {
            Ok(df) => {
                previous = Some((i, df));
                break;
            }
            Err(e) => {
                store.skip(&format!("skipped findings of run {}", run.run_id), &e);
                unreadable.push(run);
            }
        }
    }
    let unreadable_runs: Vec<String> = unreadable.iter().map(|r| r.run_id.clone()).collect();
    let describe = |r: &RunMeta| format!("run {} (period {})", r.run_id, r.period);
    let unreadable_text = || {
        unreadable
            .iter()
            .map(|r| describe(r))
            .collect::<Vec<_>>()
            .join(", ")
    };

    let cur = Rows::new(current)?;
    let incomplete_now = incomplete_pairs(&cur, current.height());
    let Some((prev_index, prev_df)) = previous else {
        let rows: Vec<FindingStatus> = (0..current.height())
            .map(|i| cur.status(i, Status::New))
            .collect();
        let note = (!unreadable.is_empty()).then(|| {
            format!(
                "the findings of {} could not be read: every finding counts as new",
                unreadable_text()
            )
        });
        return Ok(Comparison {
            new: rows.len(),
            still_open: 0,
            resolved: 0,
            not_rechecked: 0,
            rows,
            previous_run: None,
            unreadable_runs,
            note,
        });
    };
    let note = (!unreadable.is_empty()).then(|| {
        format!(
            "the findings of {} could not be read: compared with {} instead",
            unreadable_text(),
            describe(&earlier[prev_index])
        )
    });

    // The previous state: the previous run's findings, and for each
    // (domain, checker) it did not check completely, the findings of the
    // latest earlier run that did (with those of the incomplete runs in
    // between).
    let prev = Rows::new(&prev_df)?;
    let mut state: Vec<FindingStatus> = (0..prev_df.height())
        .map(|i| prev.status(i, Status::Resolved))
        .collect();
    let mut state_keys: HashSet<String> = state.iter().map(|f| f.key.clone()).collect();
    let mut pending = incomplete_pairs(&prev, prev_df.height());
    for run in earlier[..prev_index].iter().rev() {
        if pending.is_empty() {
            break;
        }
        let df = match store.load_run(Table::Findings, run, None) {
            Ok(df) => df,
            Err(e) => {
                store.skip(&format!("skipped findings of run {}", run.run_id), &e);
                continue;
            }
        };
        let rows = Rows::new(&df)?;
        let incomplete = incomplete_pairs(&rows, df.height());
        for i in 0..df.height() {
            let key = rows.key.get(i).unwrap_or_default();
            if state_keys.contains(key)
                || is_incomplete_marker(rows.name.get(i).unwrap_or_default())
                || !pending.contains(&pair_of(&rows, i))
            {
                continue;
            }
            state_keys.insert(key.to_string());
            state.push(rows.status(i, Status::Resolved));
        }
        pending.retain(|p| incomplete.contains(p));
    }

    // Streaks, for every key of the previous state: the runs that had it,
    // counting back from the previous run.
    let pair_by_key: HashMap<String, Pair> = state
        .iter()
        .map(|f| (f.key.clone(), (f.domain.clone(), f.checker.clone())))
        .collect();
    let mut streak: HashMap<String, (u32, usize)> = HashMap::new();
    let mut extending: Vec<&String> = pair_by_key.keys().collect();
    for (i, run) in earlier[..=prev_index].iter().enumerate().rev() {
        if extending.is_empty() {
            break;
        }
        let run_keys = if i == prev_index {
            RunKeys {
                keys: prev.key.iter().flatten().map(str::to_string).collect(),
                incomplete: incomplete_pairs(&prev, prev_df.height()),
            }
        } else {
            match read_run_keys(store, run) {
                Ok(k) => k,
                Err(e) => {
                    store.skip(&format!("skipped findings of run {}", run.run_id), &e);
                    continue;
                }
            }
        };
        extending.retain(|k| {
            if run_keys.keys.contains(*k) {
                let entry = streak.entry((*k).clone()).or_insert((0, i));
                entry.0 += 1;
                entry.1 = i;
                true
            } else {
                // Not checked completely there: neither breaks nor counts.
                pair_by_key
                    .get(*k)
                    .is_some_and(|p| run_keys.incomplete.contains(p))
            }
        });
    }
    let streak_of = |key: &str| {
        streak
            .get(key)
            .map(|&(runs, start)| (runs, earlier[start].period.clone()))
    };

    let mut rows = Vec::with_capacity(current.height() + state.len());
    let (mut new, mut still_open) = (0, 0);
    let current_keys: HashSet<&str> = cur.key.iter().flatten().collect();
    for i in 0..current.height() {
        let key = cur.key.get(i).unwrap_or_default();
        let status = match streak_of(key).filter(|_| state_keys.contains(key)) {
            Some((runs, since)) => {
                still_open += 1;
                Status::StillOpen {
                    runs_open: runs + 1,
                    since,
                }
            }
            None => {
                new += 1;
                Status::New
            }
        };
        rows.push(cur.status(i, status));
    }
    let (mut resolved, mut not_rechecked) = (0, 0);
    for mut f in state {
        if current_keys.contains(f.key.as_str()) {
            continue;
        }
        let pair = (f.domain.clone(), f.checker.clone());
        if incomplete_now.contains(&pair) {
            let (runs_open, since) =
                streak_of(&f.key).unwrap_or_else(|| (1, earlier[prev_index].period.clone()));
            f.status = Status::NotRechecked { runs_open, since };
            not_rechecked += 1;
        } else {
            resolved += 1;
        }
        rows.push(f);
    }
    Ok(Comparison {
        rows,
        new,
        still_open,
        resolved,
        not_rechecked,
        previous_run: Some(earlier[prev_index].run_id.clone()),
        unreadable_runs,
        note,
    })
}

/// The keys of an earlier run and the pairs it did not check completely.
fn read_run_keys(store: &HistoryStore, run: &RunMeta) -> Result<RunKeys> {
    let df = store.load_run(
        Table::Findings,
        run,
        Some(&["key", "checker", "domain", "name", "subject"]),
    )?;
    let text = |name: &str| -> PolarsResult<&StringChunked> { df.column(name)?.str() };
    let (key, checker, domain, name, subject) = (
        text("key")?,
        text("checker")?,
        text("domain")?,
        text("name")?,
        text("subject")?,
    );
    let keys = key.iter().flatten().map(str::to_string).collect();
    let mut incomplete = HashSet::new();
    for i in 0..df.height() {
        let n = name.get(i).unwrap_or_default();
        if is_incomplete_marker(n) {
            let who = if n == CHECK_CRASHED {
                subject.get(i)
            } else {
                checker.get(i)
            };
            incomplete.insert((
                domain.get(i).unwrap_or_default().to_string(),
                who.unwrap_or_default().to_string(),
            ));
        }
    }
    Ok(RunKeys { keys, incomplete })
}

/// `current` with two more columns from `comparison`: `status` (`new` or
/// `still-open`) and `runs_open` (UInt32, 1 for new findings). Rows whose key
/// the comparison does not know get nulls.
pub fn annotate(current: &DataFrame, comparison: &Comparison) -> PolarsResult<DataFrame> {
    let by_key: HashMap<&str, &Status> = comparison
        .rows
        .iter()
        .filter(|r| matches!(r.status, Status::New | Status::StillOpen { .. }))
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
