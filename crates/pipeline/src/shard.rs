//! Sharded fleets: `run JOB --shard I/N` checks the domains of shard I
//! (ingest is shared: the history's ingest lock makes the first shard ingest
//! every new report and the others wait and find them there), verifies its
//! plan and keeps what the report needs in
//! `<history>/shards/<job>/<period>/I-of-N.json`; `run JOB --merge-shards N`
//! reads every shard's file of the period and makes the one report, history
//! entry and message of the run, as an unsharded run would.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use authwarden_api::authtest::SenderTest;
use authwarden_api::domain::Shard;
use authwarden_api::plan::DomainPlan;
use authwarden_api::Cadence;
use authwarden_engine::RunOutcome;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a job run is split across processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobMode {
    /// One process does everything.
    Whole,
    /// Check one shard's domains and keep the result for the merge.
    Shard(Shard),
    /// Report on every shard's kept result.
    Merge(u32),
}

/// What one shard keeps for the merge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardResult {
    /// Which shard.
    pub index: u32,
    /// Of how many.
    pub count: u32,
    /// When its checks ran.
    pub checked_at: DateTime<Utc>,
    /// Its findings and facts.
    pub outcome: RunOutcome,
    /// Its verified plans.
    pub plans: Vec<DomainPlan>,
    /// Its authentication test results (quarterly and annual jobs).
    pub auth_test: Option<Vec<SenderTest>>,
}

/// Where shard `index` of `count` keeps its result of `job` for `period`.
pub fn path(history: &Path, job: Cadence, period: &str, index: u32, count: u32) -> PathBuf {
    history
        .join("shards")
        .join(job.as_str())
        .join(period)
        .join(format!("{index}-of-{count}.json"))
}

/// Writes a shard's result atomically.
pub fn keep(
    history: &Path,
    job: Cadence,
    period: &str,
    result: &ShardResult,
) -> anyhow::Result<PathBuf> {
    let path = path(history, job, period, result.index, result.count);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let json = serde_json::to_vec(result)?;
    authwarden_api::fsutil::write_atomic(&path, &json)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Every shard's result of `job` for `period`, merged in the config's
/// domain order; an error names the shards that have not run.
pub fn merge(
    history: &Path,
    job: Cadence,
    period: &str,
    count: u32,
    domain_order: &[String],
) -> anyhow::Result<ShardResult> {
    let mut missing = Vec::new();
    let mut results = Vec::new();
    for index in 1..=count {
        let p = path(history, job, period, index, count);
        match std::fs::read(&p) {
            Ok(bytes) => results.push(
                serde_json::from_slice::<ShardResult>(&bytes)
                    .with_context(|| format!("cannot read the shard result {}", p.display()))?,
            ),
            Err(_) => missing.push(format!("{index}/{count}")),
        }
    }
    if !missing.is_empty() {
        return Err(anyhow!(
            "no {job} result of shard {} for {period} in {}: run `authwarden run {job} --shard I/{count}` for each shard first",
            missing.join(", "),
            history.join("shards").display()
        ));
    }
    let rank = |d: &str| {
        domain_order
            .iter()
            .position(|o| o == d)
            .unwrap_or(usize::MAX)
    };
    let mut outcome = RunOutcome::default();
    let mut plans = Vec::new();
    let mut auth: Option<Vec<SenderTest>> = None;
    let mut checked_at = results[0].checked_at;
    for r in results {
        outcome.findings.extend(r.outcome.findings);
        outcome.domains.extend(r.outcome.domains);
        plans.extend(r.plans);
        if let Some(a) = r.auth_test {
            auth.get_or_insert_with(Vec::new).extend(a);
        }
        checked_at = checked_at.min(r.checked_at);
    }
    // Stable sorts: within a domain, the checkers' order is kept.
    outcome.domains.sort_by_key(|d| rank(&d.domain));
    outcome.findings.sort_by_key(|f| rank(&f.domain));
    plans.sort_by_key(|p| rank(&p.domain));
    Ok(ShardResult {
        index: 0,
        count,
        checked_at,
        outcome,
        plans,
        auth_test: auth,
    })
}
