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
//!
//! The phase is the one [`Phase`] of `authwarden-dmarc` (policy, `pct`,
//! testing, with `describe`, `is_final` and `apply`); this module adds only
//! the ladder and [`next`].

/// The one rollout phase type of `authwarden-dmarc`, under its former path.
pub use authwarden_dmarc::Phase;
use authwarden_dmarc::Policy;

/// The quarantine `pct` ladder.
pub const QUARANTINE_LADDER: [u8; 4] = [10, 25, 50, 100];

/// How the enforcing steps are signalled (`[checkers.rollout-advisor]
/// steps`). Receivers that follow RFC 7489
/// sample with `pct`; RFC 9989 makes `pct` historic and has only `t=y`
/// ("testing": apply the next weaker policy), which those receivers ignore.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepMode {
    /// `pct` 10 → 25 → 50 → 100 for quarantine, 10 → 100 for reject.
    #[default]
    Pct,
    /// RFC 9989 only: `p=quarantine; t=y` → `p=quarantine` →
    /// `p=reject; t=y` → `p=reject`.
    Testing,
    /// The `pct` ladder with `t=y` beside every step below 100, so that
    /// RFC 9989 receivers (which ignore `pct`) apply the weaker policy
    /// until the step reaches 100.
    Both,
}

/// The next phase after `phase` in `mode`, `None` at the end
/// ([`Phase::is_final`]).
pub fn next_in(phase: &Phase, mode: StepMode) -> Option<Phase> {
    let step = |policy, pct, testing| Phase {
        policy,
        pct,
        testing,
    };
    match mode {
        StepMode::Pct => next(phase),
        StepMode::Testing => Some(match (phase.policy, phase.testing) {
            (Policy::None, _) => step(Policy::Quarantine, 100, true),
            (p, true) => step(p, 100, false),
            (Policy::Quarantine, false) => step(Policy::Reject, 100, true),
            (Policy::Reject, false) if phase.pct < 100 => step(Policy::Reject, 100, false),
            (Policy::Reject, false) => return None,
        }),
        StepMode::Both => {
            let n = next(&Phase {
                testing: false,
                ..*phase
            })?;
            Some(step(n.policy, n.pct, n.pct < 100))
        }
    }
}

/// The next phase of the ramp after `phase`, `None` at the end
/// ([`Phase::is_final`]).
pub fn next(phase: &Phase) -> Option<Phase> {
    let step = |policy, pct| Phase {
        policy,
        pct,
        testing: false,
    };
    Some(match (phase.policy, phase.testing) {
        (Policy::None, _) => step(Policy::Quarantine, 10),
        (p, true) => step(p, phase.pct),
        (Policy::Quarantine, false) => match QUARANTINE_LADDER.iter().find(|&&n| n > phase.pct) {
            Some(&n) => step(Policy::Quarantine, n),
            None => step(Policy::Reject, 10),
        },
        (Policy::Reject, false) if phase.pct < 100 => step(Policy::Reject, 100),
        (Policy::Reject, false) => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_dmarc::{parse_record, RecordSource};

    fn phase(text: &str) -> Phase {
        let r = parse_record(text).unwrap().record;
        Phase::of(&r, RecordSource::Domain)
    }

    #[test]
    fn the_whole_ramp() {
        let mut text = "v=DMARC1; p=none; rua=mailto:d@example.org".to_string();
        let mut steps = vec![text.clone()];
        while let Some(step) = next(&phase(&text)) {
            let r = parse_record(&text).unwrap().record;
            text = step.apply(&r).to_txt();
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

    fn ramp(mode: StepMode) -> Vec<String> {
        let mut text = "v=DMARC1; p=none; rua=mailto:d@example.org".to_string();
        let mut steps = vec![text.clone()];
        while let Some(step) = next_in(&phase(&text), mode) {
            let r = parse_record(&text).unwrap().record;
            text = step.apply(&r).to_txt();
            steps.push(text.clone());
        }
        steps
    }

    #[test]
    fn the_testing_and_both_ramps() {
        assert_eq!(
            ramp(StepMode::Testing),
            [
                "v=DMARC1; p=none; rua=mailto:d@example.org",
                "v=DMARC1; p=quarantine; t=y; rua=mailto:d@example.org",
                "v=DMARC1; p=quarantine; rua=mailto:d@example.org",
                "v=DMARC1; p=reject; t=y; rua=mailto:d@example.org",
                "v=DMARC1; p=reject; rua=mailto:d@example.org",
            ]
        );
        let both = ramp(StepMode::Both);
        assert_eq!(both.len(), 7, "{both:#?}");
        assert_eq!(
            both[1],
            "v=DMARC1; p=quarantine; pct=10; t=y; rua=mailto:d@example.org"
        );
        assert_eq!(both[4], "v=DMARC1; p=quarantine; rua=mailto:d@example.org");
        assert_eq!(
            both[5],
            "v=DMARC1; p=reject; pct=10; t=y; rua=mailto:d@example.org"
        );
        assert_eq!(ramp(StepMode::Pct).len(), 7);
    }

    #[test]
    fn off_ladder_and_testing() {
        assert_eq!(
            next(&phase("v=DMARC1; p=quarantine; pct=30")).unwrap().pct,
            50
        );
        assert_eq!(
            next(&phase("v=DMARC1; p=reject; pct=25")),
            Some(Phase {
                policy: Policy::Reject,
                pct: 100,
                testing: false
            })
        );
        let t = phase("v=DMARC1; p=quarantine; t=y");
        assert_eq!(t.describe(), "quarantine pct 100 (testing)");
        assert_eq!(
            next(&t),
            Some(Phase {
                policy: Policy::Quarantine,
                pct: 100,
                testing: false
            })
        );
        assert_eq!(
            next(&phase("v=DMARC1; p=reject; t=y")),
            Some(Phase {
                policy: Policy::Reject,
                pct: 100,
                testing: false
            })
        );
        assert!(phase("v=DMARC1; p=reject").is_final());
        assert_eq!(next(&phase("v=DMARC1; p=reject")), None);
    }
}
