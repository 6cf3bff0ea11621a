//! The assessment stage: each domain's score ([`authwarden_api::score`],
//! method in `docs/SCORE.md`) added to its facts under `score`, so that
//! `check --format json`, the history and the report read one figure.

use std::collections::BTreeSet;

use authwarden_api::score::score;
use authwarden_api::CheckerInfo;
use authwarden_engine::{PlannedChecker, RunOutcome};

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
