//! The checker: phase, readiness, weeks in the phase, advice.

use std::collections::{BTreeMap, BTreeSet};

use authwarden_api::plan::{Change, DmarcEditKind, FindingRef, Proposal};
use authwarden_api::reports::{AggregateRow, AggregateSourceExt, PublishedPolicy};
use authwarden_api::serde_json::Value;
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, CodeInfo, DomainTarget,
    Finding, RunPaths,
};
use authwarden_catalog::Catalog;
use authwarden_dmarc::DmarcRecord;
use authwarden_dmarc::{discover, DiscoveryOutcome, Phase, Policy};
use authwarden_inventory::attribution::{summarize, Attributor, Origin, SeenSource};
use authwarden_inventory::authorization::SpfView;
use authwarden_inventory::declared::{dkim_signing_action, Authorizations, SenderAuthorization};
use authwarden_inventory::inventory::Sender;
use authwarden_inventory::parse_inventory;
use authwarden_inventory::state::StateFile;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::codes::*;
use crate::ramp;

/// The checker's id.
pub const CHECKER_ID: &str = "rollout-advisor";

/// The file name of the phase history, under `<data_dir>/rollout-advisor/`.
pub const PHASES_FILE: &str = "phases.json";

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "the DMARC rollout phase of each domain, its readiness from the reports, and the next record to publish",
    cadences: &[Cadence::Monthly, Cadence::Annual],
    codes: CODES,
    facts_key: "rollout",
};

/// Advises each domain's DMARC rollout.
///
/// Its facts (key `rollout`): `phase` (`none`, `quarantine`, `reject`, null
/// without a usable record), `pct`, `testing`, `ready`, `pass_rate` (aligned
/// share of legitimate mail over the window, null without reports),
/// `next_record` (the record to publish now, null when holding or done),
/// `reasons`, and `action` (`advance`, `hold`, `done` or `unknown`),
/// `weeks_in_phase`, `since`, `messages`, `failing_sources` and `phases`
/// (the domain's phase history, for the report's timeline).
#[derive(Debug, Default, Clone, Copy)]
pub struct RolloutAdvisor;

/// `[checkers.rollout-advisor]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    /// The aligned pass rate of legitimate mail needed to advance, 0 to 1.
    #[serde(default = "d_pass_rate")]
    pub pass_rate: f64,
    /// Weeks ready in one phase after which the rollout is stalled.
    #[serde(default = "d_stall")]
    pub stall_weeks: u32,
    /// Weeks at `p=none` before the first enforcing step.
    #[serde(default = "d_monitor")]
    pub monitor_weeks: u32,
    /// Weeks at each later step before the next.
    #[serde(default = "d_step")]
    pub step_weeks: u32,
    /// Days of reports readiness is computed over.
    #[serde(default = "d_window")]
    pub window_days: u32,
    /// How the steps are signalled: `pct` (RFC 7489 receivers), `testing`
    /// (RFC 9989 `t=y`) or `both` (see [`ramp::StepMode`]).
    #[serde(default)]
    pub steps: ramp::StepMode,
}

fn d_pass_rate() -> f64 {
    0.98
}
fn d_stall() -> u32 {
    8
}
fn d_monitor() -> u32 {
    4
}
fn d_step() -> u32 {
    2
}
fn d_window() -> u32 {
    28
}

impl Default for RolloutConfig {
    fn default() -> Self {
        RolloutConfig {
            pass_rate: d_pass_rate(),
            stall_weeks: d_stall(),
            monitor_weeks: d_monitor(),
            step_weeks: d_step(),
            window_days: d_window(),
            steps: ramp::StepMode::Pct,
        }
    }
}

/// The keys of `[checkers.rollout-advisor]`, checked by config validation
/// with the ranges [`RolloutConfig::from_value`] enforces.
static SETTINGS: authwarden_api::SettingsSpec = {
    use authwarden_api::{SettingKey, SettingKind};
    const WEEKS: SettingKind = SettingKind::Integer {
        min: 0,
        max: u32::MAX as i64,
    };
    const AT_LEAST_ONE: SettingKind = SettingKind::Integer {
        min: 1,
        max: u32::MAX as i64,
    };
    authwarden_api::SettingsSpec {
        checker: &[
            SettingKey {
                name: "pass_rate",
                kind: SettingKind::Float { min: 0.0, max: 1.0 },
            },
            SettingKey {
                name: "stall_weeks",
                kind: AT_LEAST_ONE,
            },
            SettingKey {
                name: "monitor_weeks",
                kind: WEEKS,
            },
            SettingKey {
                name: "step_weeks",
                kind: WEEKS,
            },
            SettingKey {
                name: "window_days",
                kind: AT_LEAST_ONE,
            },
            SettingKey {
                name: "steps",
                kind: SettingKind::String,
            },
        ],
        domain: &[],
    }
};

/// `[checkers.rollout-advisor]` as last parsed: the same for every domain
/// of a run, so it is parsed once, not once per domain.
static PARSED: std::sync::Mutex<Option<(Value, Result<RolloutConfig, String>)>> =
    std::sync::Mutex::new(None);

impl RolloutConfig {
    /// [`RolloutConfig::from_value`], kept while the settings stay the same.
    pub fn parsed(value: &Value) -> Result<Self, String> {
        let mut cached = PARSED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((v, parsed)) = cached.as_ref() {
            if v == value {
                return parsed.clone();
            }
        }
        let parsed = RolloutConfig::from_value(value);
        *cached = Some((value.clone(), parsed.clone()));
        parsed
    }

    /// Reads the section; unknown keys, wrong types and out-of-range values
    /// are errors.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let c: RolloutConfig = authwarden_api::serde_json::from_value(value.clone())
            .map_err(|e| format!("invalid `[checkers.{CHECKER_ID}]`: {e}"))?;
        if !(0.0..=1.0).contains(&c.pass_rate) {
            return Err(format!(
                "invalid `[checkers.{CHECKER_ID}]`: `pass_rate` is a share from 0 to 1 (0.98 for 98%), not {}",
                c.pass_rate
            ));
        }
        if c.window_days == 0 || c.stall_weeks == 0 {
            return Err(format!(
                "invalid `[checkers.{CHECKER_ID}]`: `window_days` and `stall_weeks` must be at least 1"
            ));
        }
        Ok(c)
    }
}

/// The phase history file: per domain, each phase seen with the day it
/// began, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseHistory {
    /// Format version, 1.
    #[serde(default)]
    pub version: u32,
    /// Per domain.
    #[serde(default)]
    pub domains: BTreeMap<String, Vec<PhaseEntry>>,
    /// Per domain, the declared senders DNS has authorized at some run and
    /// that are still in the inventory: one of them that DNS no longer
    /// authorizes holds the rollout until it is authorized again or leaves
    /// the inventory (as DRIFT007 stays open), even once its failing mail
    /// has aged out of the window.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorized: BTreeMap<String, BTreeSet<String>>,
}

/// One phase of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseEntry {
    /// The phase.
    #[serde(flatten)]
    pub phase: Phase,
    /// The day it began: the first run that saw it, or for a domain's first
    /// run the first day of the reports that show this `p` and `pct` without
    /// interruption up to now.
    pub since: NaiveDate,
}

#[async_trait]
impl Checker for RolloutAdvisor {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        advise(ctx, target).await
    }

    /// The keys of [`RolloutConfig`]; the domain tables take none (the
    /// inventory is the shared `[domains.inventory]`).
    fn settings_spec(&self) -> Option<&'static authwarden_api::SettingsSpec> {
        Some(&SETTINGS)
    }

    /// The advice with its evidence, and the next record to publish.
    fn report_facts(&self, facts: &Value) -> Vec<authwarden_api::ReportFact> {
        use authwarden_api::ReportFact;
        let Ok(r) =
            authwarden_api::serde_json::from_value::<authwarden_dmarc::RolloutFacts>(facts.clone())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !r.action.is_empty() {
            let mut text = r.action.clone();
            if let Some(rate) = r.pass_rate {
                text.push_str(&format!(
                    " · {:.1}% of {} legitimate messages aligned",
                    rate * 100.0,
                    r.messages
                ));
            }
            if let Some(w) = r.weeks_in_phase {
                text.push_str(&format!(" · {w} weeks in this phase"));
            }
            out.push(ReportFact::new("DMARC rollout", text));
        }
        if let Some(next) = r.next_record {
            out.push(ReportFact::new("Next DMARC record", next));
        }
        out
    }
}

fn finding(domain: &str, code: &CodeInfo, subject: &str, message: String) -> Finding {
    Finding::new(CHECKER_ID, code, domain, message).subject(subject)
}

fn unknown_facts(reasons: Vec<String>) -> Value {
    facts_json(&authwarden_dmarc::RolloutFacts::unknown(reasons))
}

fn facts_json(facts: &authwarden_dmarc::RolloutFacts) -> Value {
    authwarden_api::serde_json::to_value(facts).expect("rollout facts serialise")
}

/// The first day of the uninterrupted run of reports, newest backwards,
/// that published this policy and pct.
fn backfill(policies: &[PublishedPolicy], phase: &Phase) -> Option<NaiveDate> {
    let mut by_begin: Vec<&PublishedPolicy> = policies.iter().filter(|r| r.p.is_some()).collect();
    by_begin.sort_by_key(|r| std::cmp::Reverse(r.begin));
    let mut first = None;
    for r in by_begin {
        let same = r.p.as_deref().and_then(Policy::parse) == Some(phase.policy)
            && r.pct.unwrap_or(100) == phase.pct;
        if !same {
            break;
        }
        first = Some(r.begin);
    }
    first
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|d| d.date_naive())
}

async fn advise(ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
    let domain = target.name.clone();
    let now: DateTime<Utc> = ctx.clock.now();
    let today = now.date_naive();
    let mut findings = Vec::new();
    let config = RolloutConfig::parsed(&ctx.config).unwrap_or_else(|e| {
        findings.push(
            finding(
                &domain,
                &ROLL_CONFIG_INVALID,
                &format!("[checkers.{CHECKER_ID}]"),
                e,
            )
            .help("fix the section; the defaults are used meanwhile"),
        );
        RolloutConfig::default()
    });

    // The phase, from the published record.
    let discovery = discover(ctx.resolver.as_ref(), &domain).await;
    let found = match discovery.outcome {
        DiscoveryOutcome::Found(found) => found,
        DiscoveryOutcome::Failed { name, failure } => {
            findings.push(
                finding(
                    &domain,
                    &ROLL_INCOMPLETE,
                    &name,
                    format!("dmarc record of {domain} could not be looked up: {failure}"),
                )
                .help("retry the run; no rollout advice without the published record")
                .evidence("failure", failure.to_string()),
            );
            return CheckOutput {
                findings,
                facts: Some(unknown_facts(vec![format!("TXT {name}: {failure}")])),
                ..Default::default()
            };
        }
        DiscoveryOutcome::Missing => {
            return CheckOutput {
                findings,
                facts: Some(unknown_facts(vec![format!(
                    "{domain} publishes no DMARC record: start with p=none (see the dmarc-policy findings)"
                )])),
                ..Default::default()
            }
        }
        DiscoveryOutcome::Multiple { .. } => {
            return CheckOutput {
                findings,
                facts: Some(unknown_facts(vec![
                    "several DMARC records: receivers apply none (see the dmarc-policy findings)".into(),
                ])),
                ..Default::default()
            }
        }
    };
    let Ok(parsed) = &found.parsed else {
        return CheckOutput {
            findings,
            facts: Some(unknown_facts(vec![
                "the DMARC record does not parse (see the dmarc-policy findings)".into(),
            ])),
            ..Default::default()
        };
    };
    let record = parsed.repaired();
    let phase = Phase::of(&record, found.source);

    // Reports: a year of published policies for the phase's start (one
    // entry a report, not a row), the rows of the window for readiness.
    let source = ctx.extensions.get::<AggregateSourceExt>();
    let policies: Vec<PublishedPolicy> = source
        .as_ref()
        .map(|s| {
            s.0.published_policies(&domain, now - Duration::days(366), now)
        })
        .unwrap_or_default();

    // Weeks in the phase, from the phase history.
    let mut history_entries: Vec<PhaseEntry> = Vec::new();
    let since = match ctx.extensions.get::<RunPaths>() {
        None => backfill(&policies, &phase),
        Some(paths) => {
            let file = StateFile::for_run(&paths, CHECKER_ID, PHASES_FILE);
            let result = file.update(|h: &mut PhaseHistory| {
                h.version = 1;
                let entries = h.domains.entry(domain.clone()).or_default();
                let same = entries.last().is_some_and(|e| e.phase == phase);
                if !same {
                    let since = if entries.is_empty() {
                        backfill(&policies, &phase).unwrap_or(today)
                    } else {
                        today
                    };
                    entries.push(PhaseEntry { phase, since });
                }
                entries.clone()
            });
            match result {
                Ok(entries) => {
                    let since = entries.last().map(|e| e.since);
                    history_entries = entries;
                    since
                }
                Err(e) => {
                    findings.push(
                        finding(
                            &domain,
                            &ROLL_INCOMPLETE,
                            &file.path().display().to_string(),
                            format!("the phase history could not be used: {e}"),
                        )
                        .help("check the file's permissions, or move a damaged file away")
                        .evidence("failure", e.to_string()),
                    );
                    backfill(&policies, &phase)
                }
            }
        }
    };
    let weeks = since.map(|s| (today - s).num_days().max(0) / 7);

    // Readiness, from the legitimate mail of the window.
    let catalog = Catalog::builtin();
    let (inventory, _) = parse_inventory(&target.settings, catalog);
    let spf = SpfView::fetch(ctx.resolver.as_ref(), &domain).await;
    let attributor = Attributor::new(&inventory, catalog, &spf);
    let window: Vec<AggregateRow> = source
        .as_ref()
        .map(|s| {
            s.0.rows(
                &domain,
                now - Duration::days(i64::from(config.window_days).min(366)),
                now,
            )
        })
        .unwrap_or_default();
    let mut reasons = Vec::new();
    let mut failing_sources = Vec::new();
    let mut troubles: Vec<Trouble> = Vec::new();
    let (messages, aligned) = if inventory.configured {
        let seen = summarize(&attributor, window.iter());
        // What DNS authorizes of each declared sender now, with the
        // selectors it signed with in the window: the inventory-drift
        // checker's answer, so that the two agree.
        let signed: BTreeMap<String, BTreeSet<String>> = seen
            .iter()
            .filter_map(|(o, s)| match o {
                Origin::Inventory(id) => Some((id.clone(), s.selectors.clone())),
                _ => None,
            })
            .collect();
        let auth = Authorizations::fetch(
            ctx.resolver.as_ref(),
            &domain,
            &inventory,
            catalog,
            &spf,
            &signed,
        )
        .await;
        let remembered = remember_authorized(ctx, &domain, &inventory, &auth);
        let mut messages = 0u64;
        let mut aligned = 0u64;
        for (origin, s) in &seen {
            let Origin::Inventory(id) = origin else {
                continue;
            };
            messages = messages.saturating_add(s.messages);
            aligned = aligned.saturating_add(s.aligned);
            // Lost: DNS authorized it (its own mail passed in the window,
            // or an earlier run saw it authorized) and now shows no
            // authorization at all. (A sender that never passed is a
            // failing one, weighed by the pass rate.)
            let passed = s.aligned.saturating_sub(s.intermediary_aligned);
            let lost = (passed > 0 || remembered.contains(id))
                && auth.sender(id).is_some_and(|a| a.unauthorized());
            if s.failing == 0 && !lost {
                continue;
            }
            let sender = inventory
                .sender(id)
                .expect("attributed to an inventory sender");
            let status = auth.sender(id);
            let trouble = Trouble::of(&domain, sender, s, status, lost);
            reasons.push(trouble.reason.clone());
            if s.failing > 0 {
                failing_sources.push(authwarden_dmarc::FailingSource {
                    source: id.to_string(),
                    messages: s.messages,
                    failing: s.failing,
                });
            }
            troubles.push(trouble);
        }
        // Remembered senders without mail in the window that lost it too.
        for sender in &inventory.senders {
            let silent = !seen.contains_key(&Origin::Inventory(sender.id.clone()));
            let status = auth.sender(&sender.id);
            if silent && remembered.contains(&sender.id) && status.is_some_and(|a| a.unauthorized())
            {
                let trouble = Trouble::of(&domain, sender, &SeenSource::default(), status, true);
                reasons.push(trouble.reason.clone());
                troubles.push(trouble);
            }
        }
        (messages, aligned)
    } else {
        // Without an inventory, legitimate mail is everything but the
        // unknown sources (likely spoofing).
        let legit: Vec<&AggregateRow> = window
            .iter()
            .filter(|r| r.cause != "unknown-source")
            .collect();
        if !window.is_empty() {
            reasons.push(format!(
                "{domain} has no [domains.inventory]: legitimate mail is taken as all mail but unknown sources"
            ));
        }
        (
            // Counts come from reports, i.e. from strangers: saturate.
            legit.iter().fold(0u64, |n, r| n.saturating_add(r.count)),
            legit
                .iter()
                .filter(|r| r.dkim_aligned || r.spf_aligned)
                .fold(0u64, |n, r| n.saturating_add(r.count)),
        )
    };
    let pass_rate = (messages > 0).then(|| aligned as f64 / messages as f64);
    // A declared sender DNS no longer authorizes holds the rollout whatever
    // the reports of the window say: its next messages fail.
    let blocked = troubles.iter().any(|t| t.lost);
    let ready = pass_rate.is_some_and(|r| r >= config.pass_rate) && !blocked;
    match (source.is_some(), pass_rate) {
        (false, _) => reasons.insert(
            0,
            "no aggregate reports in this run: readiness unknown (ingest reports with `authwarden ingest`)".into(),
        ),
        (true, None) => reasons.insert(
            0,
            format!("no legitimate mail in the aggregate reports of the last {} days", config.window_days),
        ),
        (true, Some(r)) if r < config.pass_rate => reasons.insert(
            0,
            format!(
                "aligned pass rate of legitimate mail is {:.1}%, below {:.1}%",
                r * 100.0,
                config.pass_rate * 100.0
            ),
        ),
        _ => {}
    }

    // Advice.
    let needed = if phase.policy == Policy::None {
        config.monitor_weeks
    } else {
        config.step_weeks
    };
    let old_enough = weeks.is_some_and(|w| w >= i64::from(needed));
    let mut next_record = None;
    let mut proposals = Vec::new();
    let action;
    if phase.is_final() {
        action = "done";
        reasons.clear();
        reasons.push("p=reject applies to all mail: the rollout is complete".into());
    } else if ready && old_enough {
        action = "advance";
        let next = ramp::next_in(&phase, config.steps).expect("not final");
        let text = next.apply(&record).to_txt();
        let stalled = weeks.is_some_and(|w| w > i64::from(config.stall_weeks));
        let (code, message) = if stalled {
            (
                &ROLL_STALLED,
                format!(
                    "dmarc rollout stalled: ready for {} but at {} for {} weeks",
                    next.describe(),
                    phase.describe(),
                    weeks.unwrap_or(0)
                ),
            )
        } else {
            (
                &ROLL_NEXT_STEP,
                format!(
                    "ready for the next rollout step: {} after {}",
                    next.describe(),
                    phase.describe()
                ),
            )
        };
        let step = finding(&domain, code, &found.name(), message)
            .help(format!("publish at {}: `{text}`", found.name()))
            .evidence("record", found.text.clone())
            .evidence("next_record", text.clone())
            .evidence("pass_rate", pass_rate)
            .evidence("weeks_in_phase", weeks);
        let (set, remove) = step_tags(&record, &next);
        proposals.push(Proposal::new(
            Change::DmarcTags {
                name: found.name(),
                set,
                remove,
                kind: DmarcEditKind::Strengthen,
            },
            format!(
                "the next rollout step: {} after {}, legitimate mail passes",
                next.describe(),
                phase.describe()
            ),
            vec![FindingRef::to(&step)],
        ));
        findings.push(step);
        reasons.insert(
            0,
            format!(
                "aligned pass rate of legitimate mail is {:.1}% over {} days, after {} week{} at {}",
                pass_rate.unwrap_or(0.0) * 100.0,
                config.window_days,
                weeks.unwrap_or(0),
                if weeks == Some(1) { "" } else { "s" },
                phase.describe()
            ),
        );
        next_record = Some(text);
    } else {
        action = "hold";
        if !old_enough {
            reasons.push(match weeks {
                Some(w) => format!(
                    "{w} week{} at {}, at least {needed} needed",
                    if w == 1 { "" } else { "s" },
                    phase.describe()
                ),
                None => "the weeks in the current phase are unknown".into(),
            });
        }
        let mut resolves = Vec::new();
        if source.is_some() && pass_rate.is_some() {
            let hold = finding(
                &domain,
                &ROLL_HOLD,
                &found.name(),
                format!("dmarc rollout holds at {}: {}", phase.describe(), reasons.join("; ")),
            )
            .help(if troubles.is_empty() {
                "wait for the phase to age, then publish the next step".to_string()
            } else if failing_sources.is_empty() {
                "authorize the legitimate sources listed again (SPF include or DKIM key), then publish the next step".to_string()
            } else {
                "fix the failing legitimate sources listed, then wait for a month of clean reports".to_string()
            });
            resolves.push(FindingRef::to(&hold));
            findings.push(
                hold.evidence("reasons", reasons.clone())
                    .evidence("pass_rate", pass_rate)
                    .evidence(
                        "failing_sources",
                        authwarden_api::serde_json::to_value(&failing_sources)
                            .expect("failing sources serialise"),
                    )
                    .evidence(
                        "lost_authorization",
                        troubles
                            .iter()
                            .filter(|t| t.lost)
                            .map(|t| t.sender.clone())
                            .collect::<Vec<_>>(),
                    )
                    .evidence("weeks_in_phase", weeks),
            );
        }
        proposals.push(Proposal::new(
            Change::Hold {
                name: found.name(),
                reasons: reasons.clone(),
            },
            format!("the rollout holds at {}", phase.describe()),
            Vec::new(),
        ));
        for t in &troubles {
            for (change, reason) in &t.fixes {
                proposals.push(Proposal::new(
                    change.clone(),
                    reason.clone(),
                    resolves.clone(),
                ));
            }
        }
    }

    let facts = authwarden_dmarc::RolloutFacts {
        phase: Some(phase.policy),
        pct: Some(phase.pct),
        testing: Some(phase.testing),
        ready,
        pass_rate,
        next_record,
        reasons,
        action: action.to_string(),
        record: Some(found.text.clone()),
        weeks_in_phase: weeks,
        since: since.map(|d| d.to_string()),
        messages,
        failing_sources,
        phases: history_entries
            .iter()
            .map(|e| authwarden_dmarc::PhaseSince::new(&e.phase, e.since.to_string()))
            .collect(),
    };
    CheckOutput {
        findings,
        facts: Some(facts_json(&facts)),
        proposals,
    }
}

/// The declared senders DNS has authorized at this run or an earlier one
/// and that are still in the inventory, from the phase history file (read
/// only in an ad-hoc check; empty without a history folder). Senders whose
/// lookups failed keep what was remembered.
fn remember_authorized(
    ctx: &CheckContext,
    domain: &str,
    inventory: &authwarden_inventory::Inventory,
    auth: &Authorizations,
) -> BTreeSet<String> {
    let Some(paths) = ctx.extensions.get::<RunPaths>() else {
        return BTreeSet::new();
    };
    let file = StateFile::for_run(&paths, CHECKER_ID, PHASES_FILE);
    // A file that cannot be used was reported with the phase history.
    file.update(|h: &mut PhaseHistory| {
        h.version = 1;
        let known = h.authorized.entry(domain.to_string()).or_default();
        known.retain(|id| inventory.sender(id).is_some());
        for a in &auth.senders {
            if a.spf_authorized && a.spf_known || !a.dkim_keys.is_empty() {
                known.insert(a.sender.clone());
            }
        }
        let out = known.clone();
        if known.is_empty() {
            h.authorized.remove(domain);
        }
        out
    })
    .unwrap_or_default()
}

/// The tags of the rollout step from `record` to `next`: `p` and `pct` (or
/// `t=y`) set, `pct` and `t` removed where the step drops them.
fn step_tags(record: &DmarcRecord, next: &Phase) -> (Vec<(String, String)>, Vec<String>) {
    let mut set = vec![("p".to_string(), next.policy.as_str().to_string())];
    let mut remove = Vec::new();
    if next.pct < 100 {
        set.push(("pct".into(), next.pct.to_string()));
    } else if record.pct.is_some() {
        remove.push("pct".to_string());
    }
    if next.testing {
        set.push(("t".into(), "y".into()));
    } else if record.testing.is_some() {
        remove.push("t".to_string());
    }
    (set, remove)
}

/// A declared sender that holds the rollout: it fails DMARC in the window,
/// or DNS no longer authorizes it, with the reason and the changes that fix
/// it.
struct Trouble {
    sender: String,
    /// DNS no longer authorizes it.
    lost: bool,
    reason: String,
    fixes: Vec<(Change, String)>,
}

impl Trouble {
    fn of(
        domain: &str,
        sender: &Sender,
        seen: &SeenSource,
        status: Option<&SenderAuthorization>,
        lost: bool,
    ) -> Trouble {
        let id = &sender.id;
        let mut fixes = Vec::new();
        // DKIM: a key it signed with and that is gone is published again;
        // otherwise signing is set up (or extended to all of its mail).
        let lost_key = status.filter(|a| lost && seen.dkim_aligned > 0 && a.dkim_missing());
        let dkim_fix = match lost_key {
            Some(a) => {
                let sel = a
                    .dkim_probed
                    .iter()
                    .find(|s| seen.selectors.contains(*s))
                    .or(a.dkim_probed.first())
                    .cloned()
                    .unwrap_or_default();
                let who = sender
                    .provider
                    .as_ref()
                    .map_or(id.as_str(), |p| p.name.as_str());
                Some(format!(
                    "publish the key {who} gives for {sel}._domainkey.{domain} again"
                ))
            }
            None if seen.dkim_aligned == 0 || seen.failing > 0 => {
                Some(dkim_signing_action(domain, sender, seen.dkim_aligned > 0))
            }
            None => None,
        };
        if let Some(action) = &dkim_fix {
            fixes.push((
                Change::Outside {
                    action: action.clone(),
                },
                format!("{id} needs aligned DKIM for its mail to pass DMARC"),
            ));
        }
        // SPF: the terms that authorize it, where they are missing.
        let spf_missing: Vec<String> = status
            .filter(|a| a.spf_known && !a.spf_authorized)
            .map(|a| a.spf_missing.clone())
            .unwrap_or_default();
        if !spf_missing.is_empty() {
            fixes.push((
                Change::SpfTerms {
                    name: domain.to_string(),
                    add: spf_missing.clone(),
                    remove: Vec::new(),
                    all: None,
                },
                format!("authorize {id} in the SPF record"),
            ));
        }
        let reason = if lost {
            let spf = match spf_missing.as_slice() {
                [] => "the SPF record does not authorize it".to_string(),
                [t] => format!("{t} is not in the SPF record"),
                ts => format!("{} are not in the SPF record", ts.join(" ")),
            };
            let probed = status.map(|a| a.dkim_probed.clone()).unwrap_or_default();
            let dkim = if probed.is_empty() {
                "no DKIM key of it is known".to_string()
            } else {
                format!(
                    "no DKIM key is published at {}",
                    or_list(
                        &probed
                            .iter()
                            .map(|s| format!("{s}._domainkey.{domain}"))
                            .collect::<Vec<_>>()
                    )
                )
            };
            let failing = if seen.failing > 0 {
                format!(
                    "; it already fails DMARC for {} of {} messages",
                    seen.failing, seen.messages
                )
            } else {
                String::new()
            };
            format!(
                "{id} is declared but DNS no longer authorizes it: {spf} and {dkim}{failing} (see the inventory-drift findings)"
            )
        } else {
            format!(
                "{id} still fails DMARC for {} of {} messages: {} (see the inventory-drift findings)",
                seen.failing,
                seen.messages,
                dkim_fix.unwrap_or_else(|| format!("make its mail align with {domain}"))
            )
        };
        Trouble {
            sender: id.clone(),
            lost,
            reason,
            fixes,
        }
    }
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}
