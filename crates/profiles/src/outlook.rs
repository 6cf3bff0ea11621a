//! Outlook.com's requirements for high-volume senders (more than 5,000
//! messages a day to Outlook.com addresses), enforced since 5 May 2025 with
//! `550 5.7.515`: SPF pass, DKIM pass, and DMARC at least `p=none` aligned
//! with SPF or DKIM.
//!
//! The aggregate reports give no daily count for Outlook.com here, so
//! whether a domain is a high-volume sender is not visible: the rules are
//! checked as if it were one, unless the config's bulk-sender flag says no.

use crate::gmail::status_of;
use crate::seen::{Alignment, Facts, Seen};
use crate::{rule, RuleResult, RuleStatus};

const MICROSOFT: &str = "https://techcommunity.microsoft.com/blog/microsoftdefenderforoffice365blog/strengthening-email-ecosystem-outlook%E2%80%99s-new-requirements-for-high%E2%80%90volume-senders/4399730";

/// Fails `seen` when any declared sender lacks the alignment.
fn with_senders(seen: Seen, missing: Vec<String>) -> Seen {
    if missing.is_empty() {
        return seen;
    }
    match seen {
        Seen::No(t) => Seen::No(format!("{t}; {}", missing.join("; "))),
        Seen::Yes(t) | Seen::Unknown(t) => Seen::No(format!("{}; {t}", missing.join("; "))),
    }
}

/// The profile's `applies` and rules.
pub(crate) fn rules(facts: &Facts, bulk: Option<bool>) -> (String, Vec<RuleResult>) {
    let head = "high-volume sender (more than 5,000 a day to Outlook.com)";
    let applies = match bulk {
        Some(true) => format!("{head}: yes, set in config"),
        Some(false) => format!("{head}: no, set in config"),
        None => format!(
            "{head}: not visible from the reports of other receivers; the rules are checked as if it were one (the bulk-sender flag in config decides)"
        ),
    };
    let spf = with_senders(facts.spf(), facts.senders_without(Alignment::Spf));
    let dkim = with_senders(facts.dkim(), facts.senders_without(Alignment::Dkim));
    let dmarc = facts.dmarc_published();
    let aligned = facts.alignment();
    let (dmarc_status, dmarc_evidence) = match (&dmarc, &aligned) {
        (Seen::No(_), _) | (_, Seen::No(_)) => {
            let failing: Vec<&str> = [&dmarc, &aligned]
                .into_iter()
                .filter(|s| matches!(s, Seen::No(_)))
                .map(Seen::text)
                .collect();
            (RuleStatus::Fail, failing.join("; "))
        }
        (Seen::Yes(_), Seen::Yes(_)) => (
            RuleStatus::Pass,
            format!("{}; {}", dmarc.text(), aligned.text()),
        ),
        _ => (
            RuleStatus::NotVisible,
            format!("{}; {}", dmarc.text(), aligned.text()),
        ),
    };
    let mut rules = vec![
        rule(
            "outlook-spf-pass",
            "SPF passes for the sending domain.",
            MICROSOFT,
            status_of(&spf),
            spf.text().to_string(),
        ),
        rule(
            "outlook-dkim-pass",
            "DKIM passes for the sending domain.",
            MICROSOFT,
            status_of(&dkim),
            dkim.text().to_string(),
        ),
        rule(
            "outlook-dmarc",
            "A DMARC record of at least p=none is published, and mail is aligned with SPF or DKIM (preferably both).",
            MICROSOFT,
            dmarc_status,
            dmarc_evidence,
        ),
    ];
    if bulk == Some(false) {
        for r in &mut rules {
            r.status = RuleStatus::NotApplicable;
            r.evidence = "not a high-volume sender (set in config)".into();
        }
    }
    (applies, rules)
}
