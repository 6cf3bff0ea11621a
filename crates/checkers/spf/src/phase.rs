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
//! The phase is read from the published DMARC record with the
//! `dmarc-policy` checker's discovery, so both checkers agree on it.

use authwarden_api::Resolver;
use authwarden_checker_dmarc_policy::{discover, DiscoveryOutcome, Policy, RecordSource};

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

/// The DMARC phase of a domain as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarcPhase {
    /// Monitoring or enforcing.
    pub rollout: Rollout,
    /// The DMARC name the record was found at, `_dmarc.example.org`.
    pub record_name: String,
    /// The record as published.
    pub record: String,
    /// The phase as the DMARC checker describes it, e.g. `quarantine pct 25`.
    pub describe: String,
}

/// Reads the DMARC phase of `domain` (its own record, else its
/// organizational domain's, applying `sp` there). `None` when there is no
/// usable record or the lookup failed: the DMARC checker reports those.
pub async fn dmarc_phase(resolver: &dyn Resolver, domain: &str) -> Option<DmarcPhase> {
    let discovery = discover(resolver, domain).await;
    let DiscoveryOutcome::Found(found) = discovery.outcome else {
        return None;
    };
    let parsed = found.parsed.as_ref().ok()?;
    let record = &parsed.record;
    let policy = match (found.source, record.subdomain_policy) {
        (RecordSource::Organizational, Some(sp)) => sp,
        _ => record.effective_policy(),
    };
    let pct = record.effective_pct();
    let testing = record.is_testing();
    let rollout = if policy == Policy::None || testing || pct == 0 {
        Rollout::Monitoring
    } else {
        Rollout::Enforcing
    };
    let mut describe = match policy {
        Policy::None => "none".to_string(),
        p => format!("{} pct {pct}", p.as_str()),
    };
    if testing {
        describe.push_str(" (testing)");
    }
    Some(DmarcPhase {
        rollout,
        record_name: found.name(),
        record: found.text.clone(),
        describe,
    })
}
