//! The authentication-test stage of the quarterly and annual jobs: the test
//! messages of `[verify] test_messages` that arrived in the period are
//! verified (`authwarden-verify`), the newest of each inventory sender
//! counts, and the results go to the `auth-test` checker through the run's
//! extensions. The quarterly job keeps its results in the history
//! (`<history_dir>/auth-test/<period>.json`) so that the annual audit shows
//! each sender's record over the year.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use authwarden_api::authtest::{AuthTestResultsExt, SenderTest};
use authwarden_api::{Cadence, DomainTarget, Resolver};
use authwarden_catalog::Catalog;
use authwarden_config::Config;
use authwarden_inventory::inventory::parse_inventory;
use authwarden_verify::authtest::{read_folder, sender_results, verify_candidates, Candidate};
use authwarden_verify::VerifyOptions;
use chrono::{DateTime, Utc};

/// The folder of the kept results.
pub const DIR: &str = "auth-test";

/// Runs the test for `job` over the messages dated in `[start, end)`, or
/// `None` when the job does not test (monthly) or no test mailbox is set.
pub async fn run(
    config: &Config,
    job: Cadence,
    period: &str,
    resolver: Arc<dyn Resolver>,
    targets: &[DomainTarget],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<AuthTestResultsExt> {
    if job == Cadence::Monthly || config.verify.test_messages.is_empty() {
        return None;
    }
    let mut candidates: Vec<Candidate> = Vec::new();
    for dir in &config.verify.test_messages {
        let (found, problems) = read_folder(dir);
        for (path, why) in problems {
            tracing::warn!("test message {} not read: {why}", path.display());
        }
        candidates.extend(found);
    }
    // The period's messages; an undated one counts for any period.
    candidates.retain(|c| c.date == 0 || (c.date >= start.timestamp() && c.date < end.timestamp()));
    candidates.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.path.cmp(&b.path)));
    let options = VerifyOptions {
        trusted_receivers: config.verify.trusted_receivers.clone(),
        timeout: Some(config.dns.timeout),
        ..Default::default()
    };
    // Each message is verified once, whichever domain's senders it tests.
    let verified = verify_candidates(&candidates, resolver, &options).await;
    let mut results = Vec::new();
    for target in targets {
        let (inventory, _) = parse_inventory(&target.settings, Catalog::builtin());
        if inventory.senders.is_empty() {
            continue;
        }
        let domain = target.name.trim_end_matches('.').to_ascii_lowercase();
        for r in sender_results(&domain, &inventory, &verified) {
            results.push(SenderTest {
                domain: domain.clone(),
                sender: r.sender,
                status: r.status,
                reason: r.reason,
                message: r.message,
                date: r.date,
            });
        }
    }
    let quarters = if job == Cadence::Annual {
        year_record(&config.history_dir, period)
    } else {
        Vec::new()
    };
    Some(AuthTestResultsExt {
        source: config
            .verify
            .test_messages
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        results: Arc::new(results),
        quarters: Arc::new(quarters),
    })
}

fn path(history: &Path, period: &str) -> PathBuf {
    history.join(DIR).join(format!("{period}.json"))
}

/// Keeps the quarterly job's results (`period` such as `2026-Q4`).
pub fn keep(history: &Path, period: &str, ext: &AuthTestResultsExt) -> std::io::Result<()> {
    let path = path(history, period);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let json = serde_json::to_vec_pretty(&*ext.results).map_err(std::io::Error::other)?;
    authwarden_api::fsutil::write_atomic(&path, &json)
}

/// The kept results of the four quarters of `year` (`2026`).
fn year_record(history: &Path, year: &str) -> Vec<(String, Vec<SenderTest>)> {
    (1..=4)
        .filter_map(|q| {
            let period = format!("{year}-Q{q}");
            let bytes = std::fs::read(path(history, &period)).ok()?;
            let rows: Vec<SenderTest> = serde_json::from_slice(&bytes)
                .map_err(|e| {
                    tracing::warn!("{period}: the kept authentication test is unreadable: {e}")
                })
                .ok()?;
            Some((period, rows))
        })
        .collect()
}
