//! The DMARC rollout phase as SPF sees it, and the `all` qualifier that fits
//! it: `~all` while DMARC only monitors, `-all` once it enforces.
//!
//! Why tie them: while DMARC is at `p=none` the aggregate reports are still
//! revealing senders nobody listed; a `-all` then makes receivers that act on
//! SPF alone reject that mail before anyone has seen it in a report. Once
//! DMARC enforces, every legitimate sender is known (that is what enforcing
//! requires), a softfail only keeps forged mail deliverable at receivers that
//! ignore DMARC, and `-all` says what the domain means.
//!
//! The phase itself is the one [`Phase`] of `authwarden-dmarc` (read from the
//! published record with [`authwarden_dmarc::published_phase`]), so every
//! checker agrees on it; [`Rollout`] is only SPF's reading of it.

use authwarden_dmarc::Phase;
/// The phase a domain publishes, as [`Rollout::of`] reads it: re-exported
/// so that callers of this module need not name the DMARC library.
pub use authwarden_dmarc::{published_phase, PublishedPhase};

use crate::record::Qualifier;

/// Where a domain stands in its DMARC rollout, for SPF's purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    /// `p=none`, testing mode (`t=y`) or `pct=0`: failing mail is delivered,
    /// reports are being read.
    Monitoring,
    /// `p=quarantine` or `p=reject` applied to some mail.
    Enforcing,
}

impl Rollout {
    /// SPF's reading of a DMARC phase: enforcing when receivers act on
    /// failing mail ([`Phase::is_enforcing`]: `quarantine` or `reject`, not
    /// testing, `pct` above 0), monitoring otherwise.
    pub fn of(phase: &Phase) -> Rollout {
        if phase.is_enforcing() {
            Rollout::Enforcing
        } else {
            Rollout::Monitoring
        }
    }

    /// `monitoring` or `enforcing`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rollout::Monitoring => "monitoring",
            Rollout::Enforcing => "enforcing",
        }
    }

    /// Parses `monitoring` / `enforcing` (as a command-line override).
    pub fn parse(s: &str) -> Option<Rollout> {
        match s.trim().to_ascii_lowercase().as_str() {
            "monitoring" | "monitor" | "none" => Some(Rollout::Monitoring),
            "enforcing" | "enforce" | "quarantine" | "reject" => Some(Rollout::Enforcing),
            _ => None,
        }
    }

    /// The `all` qualifier that fits the phase: `~all` while monitoring,
    /// `-all` when enforcing.
    pub fn all(self) -> Qualifier {
        match self {
            Rollout::Monitoring => Qualifier::SoftFail,
            Rollout::Enforcing => Qualifier::Fail,
        }
    }

    /// Why [`Rollout::all`] is the right qualifier for this phase, lower-case.
    pub fn reason(self) -> &'static str {
        match self {
            Rollout::Monitoring => {
                "dmarc only monitors: ~all keeps mail from senders the reports have not revealed yet deliverable at receivers that act on spf alone"
            }
            Rollout::Enforcing => {
                "dmarc enforces, so every legitimate sender is known: -all tells receivers that ignore dmarc to refuse the rest"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_dmarc::Policy;

    #[test]
    fn monitoring_until_receivers_act_on_failing_mail() {
        let of = |policy, pct, testing| Rollout::of(&Phase::new(policy, pct, testing));
        assert_eq!(of(Policy::None, 100, false), Rollout::Monitoring);
        assert_eq!(of(Policy::Quarantine, 0, false), Rollout::Monitoring);
        assert_eq!(of(Policy::Reject, 100, true), Rollout::Monitoring);
        assert_eq!(of(Policy::Quarantine, 10, false), Rollout::Enforcing);
        assert_eq!(of(Policy::Reject, 100, false), Rollout::Enforcing);
        assert_eq!(Rollout::Monitoring.all(), Qualifier::SoftFail);
        assert_eq!(Rollout::Enforcing.all(), Qualifier::Fail);
    }
}
