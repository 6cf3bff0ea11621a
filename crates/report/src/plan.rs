//! The report's "Next steps": each domain's merged and verified plan
//! ([`authwarden_api::plan::DomainPlan`]) as the templates show it.

use authwarden_api::plan::{DomainPlan, FindingRef, Publisher};
use serde::{Deserialize, Serialize};

/// One domain's next steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSection {
    /// The domain.
    pub domain: String,
    /// The steps, DNS changes first, in the order to do them.
    pub steps: Vec<PlanStep>,
    /// Proposals left out of the plan, one sentence each (e.g. the rollout
    /// step held back, and why).
    pub held: Vec<String>,
    /// What checking the plan showed, one sentence.
    pub check: String,
    /// Findings the plan does not resolve, `CODE subject` each.
    pub remaining: Vec<String>,
    /// Warnings or errors the checks report only with the plan applied.
    pub introduced: Vec<String>,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// What to do, e.g. "Publish at _dmarc.example.org (TXT)".
    pub title: String,
    /// The TXT records to publish (DNS steps).
    #[serde(default)]
    pub publish: Vec<String>,
    /// The TXT records they replace or that go.
    #[serde(default)]
    pub delete: Vec<String>,
    /// Why, one sentence or several.
    pub why: String,
    /// The findings it resolves, e.g. `DMARC007, DMARC009`.
    pub resolves: String,
}

fn codes(refs: &[FindingRef]) -> String {
    let mut out: Vec<&str> = refs.iter().map(|r| r.code.as_str()).collect();
    out.dedup();
    out.join(", ")
}

fn named(r: &FindingRef, domain: &str) -> String {
    if r.subject == domain {
        r.code.clone()
    } else {
        format!("{} ({})", r.code, r.subject)
    }
}

impl PlanSection {
    /// The section of `plan`; `None` when it has nothing to do.
    pub fn of(plan: &DomainPlan) -> Option<PlanSection> {
        if plan.is_empty() && plan.dropped.is_empty() {
            return None;
        }
        let mut steps = Vec::new();
        let v = &plan.verification;
        // A DNS change is shown resolving what the re-check confirmed; what
        // it helps with but does not resolve alone is named apart.
        let confirmed = |refs: &[FindingRef]| -> String {
            if !v.verified {
                return codes(refs);
            }
            // Still reported by the re-check: needs more; anything else is
            // resolved, or (a fix folded in) never raised.
            let (rest, done): (Vec<FindingRef>, Vec<FindingRef>) =
                refs.iter().cloned().partition(|r| v.remaining.contains(r));
            match (done.is_empty(), rest.is_empty()) {
                (_, true) => codes(&done),
                (true, false) => format!("{} once the other steps are done too", codes(&rest)),
                (false, false) => format!(
                    "{}; {} once the other steps are done too",
                    codes(&done),
                    codes(&rest)
                ),
            }
        };
        for c in &plan.changes {
            let title = match (&c.publisher, c.after.is_empty()) {
                (Publisher::Us, false) => format!("Publish at {} (TXT)", c.name),
                (Publisher::Us, true) => format!("Delete the TXT records at {}", c.name),
                (Publisher::Other(org), _) => {
                    format!("Ask {org} to publish at {} (TXT)", c.name)
                }
            };
            steps.push(PlanStep {
                title,
                publish: c.add.clone(),
                delete: c.remove.clone(),
                why: c.reasons.join("; "),
                resolves: confirmed(&c.resolves),
            });
        }
        for o in &plan.outside {
            steps.push(PlanStep {
                title: format!("Outside DNS: {}", o.action),
                publish: Vec::new(),
                delete: Vec::new(),
                why: String::new(),
                resolves: codes(&o.resolves),
            });
        }
        let held = plan
            .dropped
            .iter()
            .map(|d| format!("{} at {}: {}", d.change, d.name, d.why))
            .collect();
        let check = if v.verified {
            let total = v.resolved.len() + v.remaining.len();
            let mut s = format!(
                "Checked before it is shown: with these DNS changes applied the checks no longer report {} of the domain's {} {}",
                v.resolved.len(),
                total,
                if total == 1 { "finding" } else { "findings" }
            );
            if let Some(note) = &v.note {
                s.push_str(&format!(" ({note})"));
            }
            s.push('.');
            s
        } else {
            format!(
                "Not checked by a new run: {}.",
                v.note.as_deref().unwrap_or("nothing to verify")
            )
        };
        Some(PlanSection {
            domain: plan.domain.clone(),
            steps,
            held,
            check,
            remaining: v.remaining.iter().map(|r| named(r, &plan.domain)).collect(),
            introduced: v
                .introduced
                .iter()
                .map(|r| named(r, &plan.domain))
                .collect(),
        })
    }

    /// A made-up section using every field (see `ReportContext::sample`).
    pub fn sample() -> PlanSection {
        PlanSection {
            domain: "example.com".into(),
            steps: vec![
                PlanStep {
                    title: "Publish at _dmarc.example.com (TXT)".into(),
                    publish: vec!["v=DMARC1; p=quarantine; pct=25; rua=mailto:d@example.com".into()],
                    delete: vec!["v=DMARC1; p=none; rua=mailto:d@example.com".into()],
                    why: "the next rollout step".into(),
                    resolves: "ROLL001".into(),
                },
                PlanStep {
                    title: "Outside DNS: configure DKIM signing with d=example.com at SendGrid"
                        .into(),
                    publish: Vec::new(),
                    delete: Vec::new(),
                    why: String::new(),
                    resolves: "ROLL002".into(),
                },
            ],
            held: vec!["set pct=50 at _dmarc.example.com: the rollout holds".into()],
            check: "Checked before it is shown: with these DNS changes applied the checks no longer report 1 of the domain's 2 findings.".into(),
            remaining: vec!["ROLL002".into()],
            introduced: Vec::new(),
        }
    }
}
