//! The one model of a DMARC rollout phase: the policy applied to a domain,
//! the share of failing mail it applies to (`pct`) and testing mode (`t=y`).
//!
//! Every crate that speaks of a phase — the dmarc-policy checker's facts,
//! SPF's `~all` / `-all` advice, the rollout advisor's ramp, the history's
//! phase changes and the report's timeline — reads it as a [`Phase`], and
//! words it with [`Phase::describe`]: `none`, `quarantine pct 25`,
//! `reject pct 100 (testing)`.

use std::fmt;

use authwarden_api::Resolver;
use serde::{Deserialize, Serialize};

use crate::discovery::{discover, DiscoveryOutcome, RecordSource};
use crate::record::{DmarcRecord, Policy};

/// A rollout phase: the applied policy, its `pct` and testing mode.
///
/// Serialised as `{"policy": "quarantine", "pct": 25, "testing": false}`.
/// `pct` is kept as published even where it changes nothing (`p=none;
/// pct=30`); [`Phase::normalized`] gives the form to compare phases by
/// their effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Phase {
    /// `none`, `quarantine` or `reject`.
    pub policy: Policy,
    /// The effective `pct`, 0 to 100 (100 when absent).
    pub pct: u8,
    /// `t=y` (RFC 9989 testing mode).
    pub testing: bool,
}

impl Phase {
    /// A phase; `pct` above 100 counts as 100.
    pub fn new(policy: Policy, pct: u8, testing: bool) -> Phase {
        Phase {
            policy,
            pct: pct.min(100),
            testing,
        }
    }

    /// The phase `record` gives a domain it was discovered for from
    /// `source`: the applied policy ([`DmarcRecord::applied_policy`]), the
    /// effective `pct` and `t=y`.
    pub fn of(record: &DmarcRecord, source: RecordSource) -> Phase {
        Phase {
            policy: record.applied_policy(source),
            pct: record.effective_pct(),
            testing: record.is_testing(),
        }
    }

    /// `none`, `quarantine pct 25`, `reject pct 100 (testing)`: the policy,
    /// its `pct` unless it is `none`, and ` (testing)` under `t=y`.
    pub fn describe(&self) -> String {
        let mut s = self.policy.as_str().to_string();
        if self.policy != Policy::None {
            s.push_str(&format!(" pct {}", self.pct));
        }
        if self.testing {
            s.push_str(" (testing)");
        }
        s
    }

    /// True when receivers act on failing mail: `quarantine` or `reject`,
    /// not in testing mode and with a `pct` above 0. Otherwise the domain
    /// only monitors.
    pub fn is_enforcing(&self) -> bool {
        self.policy != Policy::None && !self.testing && self.pct > 0
    }

    /// The policy receivers apply at least to failing mail: the policy, one
    /// step weaker under `t=y` or `pct=0` (RFC 9989, RFC 7489 section 6.6.4).
    pub fn strictness(&self) -> Policy {
        if self.testing || self.pct == 0 {
            self.policy.weaker()
        } else {
            self.policy
        }
    }

    /// True at `p=reject` for all mail, not testing: nothing stricter to
    /// publish.
    pub fn is_final(&self) -> bool {
        self.policy == Policy::Reject && self.pct == 100 && !self.testing
    }

    /// `record` changed to this phase: `p`, `pct` (dropped at 100) and `t`
    /// (dropped unless testing) set, every other tag kept.
    pub fn apply(&self, record: &DmarcRecord) -> DmarcRecord {
        let mut r = record.clone();
        r.policy = Some(self.policy);
        r.pct = (self.pct < 100).then_some(self.pct);
        r.testing = self.testing.then_some(true);
        r
    }

    /// The phase with `pct` set to 100 where it changes nothing (`none`),
    /// so that two records with the same effect compare equal.
    pub fn normalized(&self) -> Phase {
        Phase {
            pct: if self.policy == Policy::None {
                100
            } else {
                self.pct
            },
            ..*self
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A domain's DMARC state as history and the report's timeline follow it:
/// a [`Phase`], or no usable record (missing, more than one, or invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DomainPhase {
    /// No usable DMARC record.
    NoRecord,
    /// A published phase.
    Published(Phase),
}

impl DomainPhase {
    /// The published `phase`, [normalised](Phase::normalized) so that two
    /// records with the same effect compare equal.
    pub fn published(phase: Phase) -> DomainPhase {
        DomainPhase::Published(phase.normalized())
    }

    /// The phase, `None` without a record.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            DomainPhase::NoRecord => None,
            DomainPhase::Published(p) => Some(*p),
        }
    }

    /// `no record`, else [`Phase::describe`].
    pub fn describe(&self) -> String {
        match self {
            DomainPhase::NoRecord => "no record".into(),
            DomainPhase::Published(p) => p.describe(),
        }
    }
}

impl fmt::Display for DomainPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// The phase of a domain as published, with the record it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedPhase {
    /// The phase.
    pub phase: Phase,
    /// The DMARC name the record was found at, `_dmarc.example.org`.
    pub record_name: String,
    /// The record as published.
    pub record: String,
}

/// Reads the phase of `domain` from its DMARC record (its own, else its
/// organizational domain's, applying `sp` there). `None` when there is no
/// usable record or the lookup failed: the dmarc-policy checker reports
/// those.
pub async fn published_phase(resolver: &dyn Resolver, domain: &str) -> Option<PublishedPhase> {
    let discovery = discover(resolver, domain).await;
    let DiscoveryOutcome::Found(found) = discovery.outcome else {
        return None;
    };
    Some(PublishedPhase {
        phase: found.phase()?,
        record_name: found.name(),
        record: found.text.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::parse_record;

    fn phase(text: &str, source: RecordSource) -> Phase {
        Phase::of(&parse_record(text).unwrap().record, source)
    }

    #[test]
    fn describe_enforcing_and_strictness() {
        let p = phase("v=DMARC1; p=none", RecordSource::Domain);
        assert_eq!(p.describe(), "none");
        assert!(!p.is_enforcing());
        assert_eq!(p.strictness(), Policy::None);

        let p = phase("v=DMARC1; p=quarantine; pct=25", RecordSource::Domain);
        assert_eq!(p.describe(), "quarantine pct 25");
        assert!(p.is_enforcing());
        assert_eq!(p.strictness(), Policy::Quarantine);

        let p = phase("v=DMARC1; p=reject; t=y", RecordSource::Domain);
        assert_eq!(p.describe(), "reject pct 100 (testing)");
        assert!(!p.is_enforcing());
        assert_eq!(p.strictness(), Policy::Quarantine);
        assert!(!p.is_final());

        let p = phase("v=DMARC1; p=reject; pct=0", RecordSource::Domain);
        assert!(!p.is_enforcing());
        assert_eq!(p.strictness(), Policy::Quarantine);
        assert_eq!(p.to_string(), "reject pct 0");

        assert!(phase("v=DMARC1; p=reject", RecordSource::Domain).is_final());
    }

    #[test]
    fn the_organizational_record_applies_sp() {
        let text = "v=DMARC1; p=reject; sp=none";
        assert_eq!(phase(text, RecordSource::Domain).policy, Policy::Reject);
        assert_eq!(
            phase(text, RecordSource::Organizational).policy,
            Policy::None
        );
        let text = "v=DMARC1; p=quarantine";
        assert_eq!(
            phase(text, RecordSource::Organizational).policy,
            Policy::Quarantine
        );
    }

    #[test]
    fn normalized_and_serde() {
        let p = phase("v=DMARC1; p=none; pct=30", RecordSource::Domain);
        assert_eq!(p.pct, 30);
        assert_eq!(p.normalized(), Phase::new(Policy::None, 100, false));
        assert_eq!(Phase::new(Policy::Reject, 250, false).pct, 100);
        let json = authwarden_api::serde_json::to_string(&Phase::new(Policy::Quarantine, 25, true))
            .unwrap();
        assert_eq!(json, r#"{"policy":"quarantine","pct":25,"testing":true}"#);
        let back: Phase = authwarden_api::serde_json::from_str(&json).unwrap();
        assert_eq!(back, Phase::new(Policy::Quarantine, 25, true));
    }

    #[test]
    fn apply_keeps_the_other_tags() {
        let record = parse_record("v=DMARC1; p=none; rua=mailto:d@example.org")
            .unwrap()
            .record;
        let next = Phase::new(Policy::Quarantine, 10, false).apply(&record);
        assert_eq!(
            next.to_txt(),
            "v=DMARC1; p=quarantine; pct=10; rua=mailto:d@example.org"
        );
        let full = Phase::new(Policy::Reject, 100, true).apply(&record);
        assert_eq!(
            full.to_txt(),
            "v=DMARC1; p=reject; t=y; rua=mailto:d@example.org"
        );
    }
}
