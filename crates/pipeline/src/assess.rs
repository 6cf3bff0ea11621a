//! The assessment stage: each domain's score ([`authwarden_api::score`],
//! method in `docs/SCORE.md`) and its receiver-rule profiles
//! (`authwarden-profiles`, docs/PROFILES.md) added to its facts under
//! `score` and `profiles`, so that `check --format json`, the history and
//! the report read one figure.

use std::collections::{BTreeMap, BTreeSet};

use authwarden_api::reports::{AggregateSource, AggregateSourceExt};
use authwarden_api::score::score;
use authwarden_api::{CheckContext, CheckerInfo, RunPaths};
use authwarden_config::Config;
use authwarden_engine::{PlannedChecker, RunOutcome};
use authwarden_inventory::StateFile;
use authwarden_profiles::{evaluate, MailEvidence, ProfileId, ProfileInput};
use chrono::{DateTime, Utc};

/// The facts key of the score.
pub const SCORE_KEY: &str = "score";

/// Scores every domain of `outcome` over the checkers that ran.
pub fn add_scores(outcome: &mut RunOutcome, planned: &[PlannedChecker]) {
    let infos: Vec<&CheckerInfo> = planned.iter().map(|p| p.checker.info()).collect();
    let incomplete = outcome.incomplete_checks();
    let mut scores = Vec::with_capacity(outcome.domains.len());
    for d in &outcome.domains {
        let findings: Vec<_> = outcome
            .findings
            .iter()
            .filter(|f| f.domain == d.domain)
            .collect();
        let failed: BTreeSet<&str> = incomplete
            .iter()
            .filter(|(domain, _)| *domain == d.domain)
            .map(|(_, checker)| *checker)
            .collect();
        scores.push(score(&infos, &findings, &failed, &not_applicable(&d.facts)));
    }
    for (d, s) in outcome.domains.iter_mut().zip(scores) {
        d.facts.insert(
            SCORE_KEY.into(),
            serde_json::to_value(s).expect("a score serialises"),
        );
    }
}

/// The checkers that do not apply to a domain, from its facts: the
/// parked-domain checks apply only to a domain that is parked or looks
/// parked.
fn not_applicable(facts: &serde_json::Map<String, serde_json::Value>) -> BTreeSet<&'static str> {
    let mut out = BTreeSet::new();
    if let Some(parked) = facts.get("parked") {
        if parked["parked"] == false && parked["looks_parked"] != true {
            out.insert("parked-domain");
        }
    }
    out
}

/// The score in a domain's facts, when there is one.
pub fn score_of(facts: &serde_json::Map<String, serde_json::Value>) -> Option<u8> {
    facts
        .get(SCORE_KEY)?
        .get("value")?
        .as_u64()
        .and_then(|v| u8::try_from(v).ok())
}

/// The facts key of the receiver-rule profiles.
pub const PROFILES_KEY: &str = "profiles";

/// Where, under the history folder, each domain's largest daily volume to
/// Google ever seen is kept: Gmail's bulk-sender classification is
/// permanent, so the evidence must not age out with the reports.
const BULK_DIR: &str = "profiles";
const BULK_FILE: &str = "google-daily-max.json";

/// What the aggregate reports of `[since, until)` show for `domain`.
pub fn mail_evidence(
    source: &dyn AggregateSource,
    domain: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Option<MailEvidence> {
    let rows = source.rows(domain, since, until);
    if rows.is_empty() {
        return None;
    }
    let mut e = MailEvidence::default();
    let mut google_days: BTreeMap<i64, u64> = BTreeMap::new();
    for r in &rows {
        e.messages = e.messages.saturating_add(r.count);
        let spf = r.dmarc_spf.as_deref() == Some("pass");
        let dkim = r.dmarc_dkim.as_deref() == Some("pass");
        if spf {
            e.spf_aligned = e.spf_aligned.saturating_add(r.count);
        }
        if dkim {
            e.dkim_aligned = e.dkim_aligned.saturating_add(r.count);
        }
        if spf || dkim {
            e.dmarc_pass = e.dmarc_pass.saturating_add(r.count);
        }
        if is_google(&r.org_name) {
            // A report covering several days counts its messages on the
            // day it begins: the daily figure is an upper bound of a day's.
            let day = r.begin.div_euclid(86_400);
            let n = google_days.entry(day).or_default();
            *n = n.saturating_add(r.count);
        }
        if let Some(reasons) = &r.reasons {
            for part in reasons.split(';') {
                let part = part.trim();
                if part.to_ascii_lowercase().contains("sender requirement")
                    && !e.sender_requirement_comments.iter().any(|c| c == part)
                {
                    e.sender_requirement_comments.push(part.to_string());
                }
            }
        }
    }
    e.max_daily_to_google = google_days.values().copied().max();
    Some(e)
}

fn is_google(org: &str) -> bool {
    let org = org.trim().to_ascii_lowercase();
    org == "google.com" || org.ends_with(".google.com") || org == "google"
}

/// The largest daily volume to Google per domain, kept across runs.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct BulkMemory {
    domains: BTreeMap<String, u64>,
}

/// `seen` combined with the largest daily volume to Google remembered for
/// `domain`; a job remembers the new maximum, a read-only run
/// ([`RunPaths::read_only`]) only reads it.
fn remembered_max(paths: Option<&RunPaths>, domain: &str, seen: Option<u64>) -> Option<u64> {
    let Some(paths) = paths else { return seen };
    let file = StateFile::for_run(paths, BULK_DIR, BULK_FILE);
    file.update(|memory: &mut BulkMemory| {
        let max = memory.domains.get(domain).copied().max(seen);
        if let Some(m) = max {
            memory.domains.insert(domain.to_string(), m);
        }
        max
    })
    .unwrap_or_else(|e| {
        tracing::warn!("the remembered bulk-sender volume is not used: {e}");
        seen
    })
}

/// Evaluates the `[profiles]` of the config for every domain of `outcome`
/// and adds them to its facts under `profiles`: the aggregate reports of
/// `[since, until)` (through the context's report source) are the mail
/// evidence, the config's bulk-sender overrides apply.
pub fn add_profiles(
    outcome: &mut RunOutcome,
    ctx: &CheckContext,
    config: &Config,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) {
    let profiles: Vec<ProfileId> = config
        .profiles
        .enabled
        .iter()
        .filter_map(|p| p.parse().ok())
        .collect();
    if profiles.is_empty() {
        return;
    }
    let source = ctx.extensions.get::<AggregateSourceExt>();
    let paths = ctx.extensions.get::<RunPaths>();
    for d in &mut outcome.domains {
        let mut mail = source
            .as_ref()
            .and_then(|s| mail_evidence(&*s.0, &d.domain, since, until));
        let seen = mail.as_ref().and_then(|m| m.max_daily_to_google);
        let max = remembered_max(paths.as_deref(), &d.domain, seen);
        if let Some(m) = &mut mail {
            m.max_daily_to_google = max;
        } else if max.is_some() {
            mail = Some(MailEvidence {
                max_daily_to_google: max,
                ..MailEvidence::default()
            });
        }
        let input = ProfileInput {
            domain: &d.domain,
            facts: &d.facts,
            mail: mail.as_ref(),
            bulk_sender: config.profiles.bulk_override(&d.domain),
        };
        let results = evaluate(&profiles, &input);
        d.facts.insert(
            PROFILES_KEY.into(),
            serde_json::to_value(results).expect("profiles serialise"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_busiest_day_is_remembered_by_jobs_only() {
        let dir = tempfile::tempdir().unwrap();
        let job = RunPaths::new(dir.path());
        let check = RunPaths::read_only(dir.path());
        assert_eq!(
            remembered_max(Some(&check), "a.example", Some(9_000)),
            Some(9_000)
        );
        assert_eq!(
            remembered_max(Some(&job), "a.example", None),
            None,
            "a check wrote nothing"
        );
        assert_eq!(
            remembered_max(Some(&job), "a.example", Some(6_000)),
            Some(6_000)
        );
        assert_eq!(
            remembered_max(Some(&job), "a.example", Some(100)),
            Some(6_000)
        );
        assert_eq!(remembered_max(Some(&check), "a.example", None), Some(6_000));
        assert_eq!(remembered_max(None, "a.example", Some(5)), Some(5));
    }

    #[test]
    fn the_config_knows_every_profile() {
        let ids: Vec<&str> = authwarden_profiles::ProfileId::ALL
            .iter()
            .map(|p| p.as_str())
            .collect();
        assert_eq!(ids, authwarden_config::PROFILE_IDS);
    }
}
