//! The facts the DMARC checkers publish per domain, as types: the
//! dmarc-policy checker's [`DmarcFacts`] (key `dmarc`) and the rollout
//! advisor's [`RolloutFacts`] (key `rollout`).
//!
//! The checkers build these and serialise them into their facts; the history
//! and the report read them back through the same types, so the JSON layout
//! is written in one place. Field order is the JSON key order (the host
//! keeps it), every field is serialised (null where unknown), and a missing
//! field reads back as its default so that partial facts still deserialise.

use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::record::Policy;

/// The facts of the dmarc-policy checker for one domain (key `dmarc`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DmarcFacts {
    /// `found`, `missing`, `multiple`, `invalid` or `incomplete`.
    pub status: Option<String>,
    /// The record as published.
    pub record: Option<String>,
    /// `domain` or `organizational`.
    pub source: Option<String>,
    /// The domain the record was found for.
    pub record_domain: Option<String>,
    /// The organizational domain of the checked domain.
    pub organizational_domain: Option<String>,
    /// The policy applied to the checked domain (the organizational record's
    /// `sp` when inherited).
    pub policy: Option<Policy>,
    /// `sp` with its default applied.
    pub subdomain_policy: Option<Policy>,
    /// `np` with its default applied.
    pub nonexistent_subdomain_policy: Option<Policy>,
    /// The effective `pct`.
    pub pct: Option<u8>,
    /// `t=y`.
    pub testing: Option<bool>,
    /// The aggregate report URIs, without size limits.
    pub rua: Option<Vec<String>>,
    /// The failure report URIs, without size limits.
    pub ruf: Option<Vec<String>>,
    /// `r` or `s`.
    pub adkim: Option<String>,
    /// `r` or `s`.
    pub aspf: Option<String>,
    /// The failure options, e.g. `1:d`.
    pub fo: Option<String>,
    /// The report interval in seconds.
    pub ri: Option<u32>,
    /// `policy` one step weaker under `t=y` or `pct=0`.
    pub strictness: Option<Policy>,
    /// The phase as [`Phase::describe`] words it.
    pub phase: Option<String>,
}

impl DmarcFacts {
    /// The facts of a domain without a usable record: `status` and the
    /// organizational domain, every other field null.
    pub fn without_record(status: &str, organizational_domain: &str) -> DmarcFacts {
        DmarcFacts {
            status: Some(status.to_string()),
            organizational_domain: Some(organizational_domain.to_string()),
            ..DmarcFacts::default()
        }
    }

    /// The published phase, when the facts tell the policy.
    pub fn published_phase(&self) -> Option<Phase> {
        Some(Phase::new(
            self.policy?,
            self.pct.unwrap_or(100),
            self.testing.unwrap_or(false),
        ))
    }

    /// True when the domain has no usable record (`missing`, `multiple` or
    /// `invalid`); an `incomplete` lookup says nothing either way.
    pub fn has_no_record(&self) -> bool {
        matches!(
            self.status.as_deref(),
            Some("missing" | "multiple" | "invalid")
        )
    }
}

/// A legitimate source that still fails DMARC, in [`RolloutFacts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FailingSource {
    /// The inventory id of the source.
    pub source: String,
    /// Its messages in the window.
    pub messages: u64,
    /// Those failing DMARC.
    pub failing: u64,
}

/// One phase of a domain's rollout history, in [`RolloutFacts`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseSince {
    /// The policy.
    pub phase: Policy,
    /// Its `pct`.
    pub pct: u8,
    /// `t=y`.
    pub testing: bool,
    /// The first day of the phase, `YYYY-MM-DD`.
    pub since: String,
}

impl PhaseSince {
    /// The entry for `phase`, begun on `since`.
    pub fn new(phase: &Phase, since: String) -> PhaseSince {
        PhaseSince {
            phase: phase.policy,
            pct: phase.pct,
            testing: phase.testing,
            since,
        }
    }
}

/// The facts of the rollout advisor for one domain (key `rollout`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RolloutFacts {
    /// The applied policy, null without a usable record.
    pub phase: Option<Policy>,
    /// Its `pct`.
    pub pct: Option<u8>,
    /// `t=y`.
    pub testing: Option<bool>,
    /// Whether the reports show the domain ready for the next step.
    pub ready: bool,
    /// The aligned share of legitimate mail over the window, null without
    /// reports.
    pub pass_rate: Option<f64>,
    /// The record to publish now, null when holding or done.
    pub next_record: Option<String>,
    /// Why the advisor says what it says.
    pub reasons: Vec<String>,
    /// `advance`, `hold`, `done` or `unknown`.
    pub action: String,
    /// The record as published; absent when the phase is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// Whole weeks in the current phase.
    pub weeks_in_phase: Option<i64>,
    /// The first day of the current phase, `YYYY-MM-DD`.
    pub since: Option<String>,
    /// Legitimate messages in the window.
    pub messages: u64,
    /// Legitimate sources that still fail.
    pub failing_sources: Vec<FailingSource>,
    /// The domain's phase history, oldest first.
    pub phases: Vec<PhaseSince>,
}

impl RolloutFacts {
    /// The facts when the phase cannot be told, with the reasons why.
    pub fn unknown(reasons: Vec<String>) -> RolloutFacts {
        RolloutFacts {
            reasons,
            action: "unknown".into(),
            ..RolloutFacts::default()
        }
    }

    /// The current phase, when the advisor read one.
    pub fn current_phase(&self) -> Option<Phase> {
        Some(Phase::new(
            self.phase?,
            self.pct.unwrap_or(100),
            self.testing.unwrap_or(false),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::serde_json::{self, json};

    #[test]
    fn dmarc_facts_without_a_record_keep_every_key() {
        let v = serde_json::to_value(DmarcFacts::without_record("missing", "example.org")).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "status",
                "record",
                "source",
                "record_domain",
                "organizational_domain",
                "policy",
                "subdomain_policy",
                "nonexistent_subdomain_policy",
                "pct",
                "testing",
                "rua",
                "ruf",
                "adkim",
                "aspf",
                "fo",
                "ri",
                "strictness",
                "phase"
            ]
        );
        assert_eq!(v["status"], "missing");
        assert_eq!(v["policy"], json!(null));
    }

    #[test]
    fn partial_facts_read_back() {
        let f: DmarcFacts =
            serde_json::from_value(json!({"policy": "quarantine", "pct": 25})).unwrap();
        assert_eq!(
            f.published_phase(),
            Some(Phase::new(Policy::Quarantine, 25, false))
        );
        let r: RolloutFacts = serde_json::from_value(json!({"phase": null})).unwrap();
        assert_eq!(r.current_phase(), None);
        let unknown = serde_json::to_value(RolloutFacts::unknown(vec!["x".into()])).unwrap();
        assert_eq!(
            unknown,
            json!({
                "phase": null, "pct": null, "testing": null, "ready": false, "pass_rate": null,
                "next_record": null, "reasons": ["x"], "action": "unknown",
                "weeks_in_phase": null, "since": null, "messages": 0, "failing_sources": [], "phases": [],
            })
        );
    }
}
