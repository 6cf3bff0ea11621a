//! Each domain's DMARC rollout phase over time, from the summaries of every
//! job's runs: one point per change of phase.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use polars::prelude::*;
use serde::Serialize;

use authwarden_dmarc::{DomainPhase, Phase, Policy};

use crate::error::{HistoryError, Result};
use crate::store::HistoryStore;

/// The first run that saw a domain in a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhaseChange {
    /// When that run started.
    pub at: DateTime<Utc>,
    /// The run.
    pub run_id: String,
    /// The phase before, `None` for the first run that saw the domain.
    pub from: Option<DomainPhase>,
    /// The phase from then on.
    pub to: DomainPhase,
}

/// One domain's rollout over a window of time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainRollout {
    /// The domain.
    pub domain: String,
    /// The phase in effect when the window opens, seen by the last run
    /// before it; `None` when no run before the window saw the domain.
    pub at_start: Option<DomainPhase>,
    /// The changes within the window, oldest first. The first run that ever
    /// saw the domain counts as one (with no `from`).
    pub changes: Vec<PhaseChange>,
    /// The phase of the latest run in the window.
    pub current: DomainPhase,
    /// When the current phase began: the first run that saw it, which may be
    /// before the window.
    pub since: DateTime<Utc>,
    /// The latest run in the window that saw the domain.
    pub last_seen: DateTime<Utc>,
}

/// The rollout of every domain seen by a run (of any job) between `from`
/// and `until` (both included), domains in name order.
///
/// A run's phase for a domain comes from the rollout advisor's facts when it
/// ran, otherwise from the dmarc-policy facts (`p`, `pct`, `t`); a run whose
/// DMARC lookup was incomplete, or that checked neither, says nothing about
/// the phase and is passed over, so a DNS timeout is not a change. Runs of
/// different jobs are merged by start time. Damaged summary files are
/// skipped with a warning.
pub fn rollout_history(
    store: &HistoryStore,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<DomainRollout>> {
    let mut seen: Vec<(DateTime<Utc>, String, String, DomainPhase)> = Vec::new();
    for job in store.jobs()? {
        let df = store.load_summaries(&job, usize::MAX)?;
        observations(&df, until, &mut seen)?;
    }
    // Oldest first; within one run the domain order does not matter.
    seen.sort_by(|a, b| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)));

    let mut by_domain: BTreeMap<String, Vec<(DateTime<Utc>, String, DomainPhase)>> =
        BTreeMap::new();
    for (at, run_id, domain, phase) in seen {
        by_domain
            .entry(domain)
            .or_default()
            .push((at, run_id, phase));
    }
    Ok(by_domain
        .into_iter()
        .filter_map(|(domain, runs)| domain_rollout(domain, &runs, from))
        .collect())
}

/// One domain's runs, oldest first, as a [`DomainRollout`]; `None` when no
/// run in the window saw it.
fn domain_rollout(
    domain: String,
    runs: &[(DateTime<Utc>, String, DomainPhase)],
    from: DateTime<Utc>,
) -> Option<DomainRollout> {
    let (last_seen, _, current) = runs.last()?.clone();
    if last_seen < from {
        return None;
    }
    let mut at_start = None;
    let mut changes = Vec::new();
    let mut since = last_seen;
    let mut previous: Option<DomainPhase> = None;
    for (at, run_id, phase) in runs {
        if previous == Some(*phase) {
            continue;
        }
        since = *at;
        if *at < from {
            at_start = Some(*phase);
        } else {
            changes.push(PhaseChange {
                at: *at,
                run_id: run_id.clone(),
                from: previous,
                to: *phase,
            });
        }
        previous = Some(*phase);
    }
    Some(DomainRollout {
        domain,
        at_start,
        changes,
        current,
        since,
        last_seen,
    })
}

/// Appends `(started_at, run_id, domain, phase)` for every row of a summary
/// frame up to `until` that tells the phase.
fn observations(
    df: &DataFrame,
    until: DateTime<Utc>,
    out: &mut Vec<(DateTime<Utc>, String, String, DomainPhase)>,
) -> Result<()> {
    let text = |name: &str| -> PolarsResult<&StringChunked> { df.column(name)?.str() };
    let int = |name: &str| -> PolarsResult<&Int64Chunked> { df.column(name)?.i64() };
    let flag = |name: &str| -> PolarsResult<&BooleanChunked> { df.column(name)?.bool() };
    let (run_id, domain) = (text("run_id")?, text("domain")?);
    let (policy, pct, phase, status, testing) = (
        text("dmarc_policy")?,
        int("dmarc_pct")?,
        text("dmarc_phase")?,
        text("dmarc_status")?,
        flag("dmarc_testing")?,
    );
    let (r_phase, r_pct, r_testing) = (
        text("rollout_phase")?,
        int("rollout_pct")?,
        flag("rollout_testing")?,
    );
    let timestamp = df.column("timestamp")?.datetime()?;
    if timestamp.time_unit() != TimeUnit::Milliseconds {
        return Err(HistoryError::Polars(PolarsError::SchemaMismatch(
            "summary timestamps are not in milliseconds".into(),
        )));
    }
    let millis = timestamp.physical();
    for i in 0..df.height() {
        let (Some(name), Some(at)) = (
            domain.get(i),
            millis.get(i).and_then(DateTime::from_timestamp_millis),
        ) else {
            continue;
        };
        if at > until {
            continue;
        }
        let advisor = r_phase.get(i).and_then(Policy::parse).map(|p| {
            published(
                p,
                r_pct.get(i).unwrap_or(100),
                r_testing.get(i) == Some(true),
            )
        });
        let checker = || {
            let p = Policy::parse(policy.get(i)?.trim())?;
            // Files written before `dmarc_testing` existed say it in the phase.
            let t = testing
                .get(i)
                .unwrap_or_else(|| phase.get(i).is_some_and(|s| s.ends_with("(testing)")));
            Some(published(p, pct.get(i).unwrap_or(100), t))
        };
        let found = advisor.or_else(checker).or_else(|| {
            matches!(status.get(i), Some("missing" | "multiple" | "invalid"))
                .then_some(DomainPhase::NoRecord)
        });
        if let Some(found) = found {
            out.push((
                at,
                run_id.get(i).unwrap_or_default().to_string(),
                name.to_string(),
                found,
            ));
        }
    }
    Ok(())
}

/// A published phase as a summary row stores it, `pct` clamped to 0..=100
/// and normalised where it changes nothing.
fn published(policy: Policy, pct: i64, testing: bool) -> DomainPhase {
    DomainPhase::published(Phase::new(policy, pct.clamp(0, 100) as u8, testing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_describe_like_the_checker_and_ignore_pct_where_it_does_not_apply() {
        assert_eq!(
            published(Policy::Quarantine, 25, true).describe(),
            "quarantine pct 25 (testing)"
        );
        assert_eq!(
            published(Policy::None, 30, false),
            published(Policy::None, 100, false)
        );
        assert_eq!(
            published(Policy::None, 0, true).describe(),
            "none (testing)"
        );
        assert_eq!(DomainPhase::NoRecord.describe(), "no record");
        assert_eq!(
            published(Policy::Reject, 250, false).phase().unwrap().pct,
            100
        );
    }
}
