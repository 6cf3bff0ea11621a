//! Per-domain trends over the summaries of recent runs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::error::{HistoryError, Result};
use crate::store::HistoryStore;

/// One domain's counts in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrendPoint {
    /// The run.
    pub run_id: String,
    /// The period of the run.
    pub period: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Errors for the domain in that run.
    pub errors: u32,
    /// Warnings for the domain in that run.
    pub warnings: u32,
    /// Notes for the domain in that run.
    pub notes: u32,
    /// The DMARC rollout phase, when known.
    pub dmarc_phase: Option<String>,
    /// The domain's score (0-100), when that run recorded one.
    pub score: Option<i64>,
}

/// A domain's points over the recent runs of a job, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainTrend {
    /// The domain.
    pub domain: String,
    /// One point per run in which the domain was checked.
    pub points: Vec<TrendPoint>,
}

/// The trends of every domain over the last `last_n` committed runs of `job`
/// (so the current run counts once it has been appended), domains in name
/// order. Damaged summary files are skipped with a warning.
pub fn trends(store: &HistoryStore, job: &str, last_n: usize) -> Result<Vec<DomainTrend>> {
    let df = store.load_summaries(job, last_n)?;
    let text = |name: &str| -> PolarsResult<&StringChunked> { df.column(name)?.str() };
    let count = |name: &str| -> PolarsResult<&UInt32Chunked> { df.column(name)?.u32() };
    let (run_id, period, domain, phase) = (
        text("run_id")?,
        text("period")?,
        text("domain")?,
        text("dmarc_phase")?,
    );
    let (errors, warnings, notes) = (count("errors")?, count("warnings")?, count("notes")?);
    let timestamp = df.column("timestamp")?.datetime()?;
    if timestamp.time_unit() != TimeUnit::Milliseconds {
        return Err(HistoryError::Polars(PolarsError::SchemaMismatch(
            "summary timestamps are not in milliseconds".into(),
        )));
    }
    let millis = timestamp.physical();
    // Summaries written before the score existed have no column.
    let score = df.column("score").ok().and_then(|c| c.i64().ok());

    let mut by_domain: BTreeMap<String, Vec<TrendPoint>> = BTreeMap::new();
    for i in 0..df.height() {
        let Some(name) = domain.get(i) else { continue };
        let started_at = millis
            .get(i)
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_default();
        by_domain
            .entry(name.to_string())
            .or_default()
            .push(TrendPoint {
                run_id: run_id.get(i).unwrap_or_default().to_string(),
                period: period.get(i).unwrap_or_default().to_string(),
                started_at,
                errors: errors.get(i).unwrap_or(0),
                warnings: warnings.get(i).unwrap_or(0),
                notes: notes.get(i).unwrap_or(0),
                dmarc_phase: phase.get(i).map(str::to_string),
                score: score.and_then(|s| s.get(i)),
            });
    }
    Ok(by_domain
        .into_iter()
        .map(|(domain, points)| DomainTrend { domain, points })
        .collect())
}
