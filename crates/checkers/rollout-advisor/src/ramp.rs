//! The rollout ramp: the phase of a record and the record of the next step.
//!
//! ```text
//! p=none (at least monitor_weeks)
//!   → p=quarantine pct=10 → 25 → 50 → 100
//!   → p=reject pct=10 → 100
//! ```
//!
//! A record in RFC 9989 testing mode (`t=y`) is the testing step of its
//! policy: the next step drops `t=y` (quarantine), and `p=quarantine`
//! without testing goes on to `p=reject` as above.

use authwarden_checker_dmarc_policy::{DmarcRecord, Policy};
use serde::{Deserialize, Serialize};

/// The quarantine `pct` ladder.
pub const QUARANTINE_LADDER: [u8; 4] = [10, 25, 50, 100];

/// A rollout phase: the applied policy, its `pct` and testing mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    /// `none`, `quarantine` or `reject`.
    pub policy: Policy,
    /// The effective `pct` (100 when absent).
    pub pct: u8,
    /// `t=y`.
    pub testing: bool,
}

impl Phase {
    /// The phase of a record.
    pub fn of(record: &DmarcRecord, policy: Policy) -> Phase {
        Phase {
            policy,
            pct: record.effective_pct(),
            testing: record.is_testing(),
        }
    }

    /// `quarantine pct 25 (testing)`.
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

    /// True at `p=reject` for all mail, not testing: the end of the ramp.
    pub fn is_final(&self) -> bool {
        self.policy == Policy::Reject && self.pct == 100 && !self.testing
    }

    /// The next phase of the ramp, `None` at the end.
    pub fn next(&self) -> Option<Phase> {
        let step = |policy, pct| Phase {
            policy,
            pct,
            testing: false,
        };
        Some(match (self.policy, self.testing) {
            (Policy::None, _) => step(Policy::Quarantine, 10),
            (p, true) => step(p, self.pct),
            (Policy::Quarantine, false) => {
                match QUARANTINE_LADDER.iter().find(|&&n| n > self.pct) {
                    Some(&n) => step(Policy::Quarantine, n),
                    None => step(Policy::Reject, 10),
                }
            }
            (Policy::Reject, false) if self.pct < 100 => step(Policy::Reject, 100),
            (Policy::Reject, false) => return None,
        })
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_checker_dmarc_policy::parse_record;

    fn phase(text: &str) -> Phase {
        let r = parse_record(text).unwrap().record;
        Phase::of(&r, r.effective_policy())
    }

    #[test]
    fn the_whole_ramp() {
        let mut text = "v=DMARC1; p=none; rua=mailto:d@example.org".to_string();
        let mut steps = vec![text.clone()];
        while let Some(next) = phase(&text).next() {
            let r = parse_record(&text).unwrap().record;
            text = next.apply(&r).to_txt();
            steps.push(text.clone());
        }
        assert_eq!(
            steps,
            [
                "v=DMARC1; p=none; rua=mailto:d@example.org",
                "v=DMARC1; p=quarantine; pct=10; rua=mailto:d@example.org",
                "v=DMARC1; p=quarantine; pct=25; rua=mailto:d@example.org",
                "v=DMARC1; p=quarantine; pct=50; rua=mailto:d@example.org",
                "v=DMARC1; p=quarantine; rua=mailto:d@example.org",
                "v=DMARC1; p=reject; pct=10; rua=mailto:d@example.org",
                "v=DMARC1; p=reject; rua=mailto:d@example.org",
            ]
        );
    }

    #[test]
    fn off_ladder_and_testing() {
        assert_eq!(
            phase("v=DMARC1; p=quarantine; pct=30").next().unwrap().pct,
            50
        );
        assert_eq!(
            phase("v=DMARC1; p=reject; pct=25").next(),
            Some(Phase {
                policy: Policy::Reject,
                pct: 100,
                testing: false
            })
        );
        let t = phase("v=DMARC1; p=quarantine; t=y");
        assert_eq!(t.describe(), "quarantine pct 100 (testing)");
        assert_eq!(
            t.next(),
            Some(Phase {
                policy: Policy::Quarantine,
                pct: 100,
                testing: false
            })
        );
        assert_eq!(
            phase("v=DMARC1; p=reject; t=y").next(),
            Some(Phase {
                policy: Policy::Reject,
                pct: 100,
                testing: false
            })
        );
        assert!(phase("v=DMARC1; p=reject").is_final());
        assert_eq!(phase("v=DMARC1; p=reject").next(), None);
    }
}
