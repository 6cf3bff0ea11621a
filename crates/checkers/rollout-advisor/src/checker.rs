//! The checker: phase, readiness, weeks in the phase, advice.

use std::collections::BTreeMap;

use authwarden_api::reports::{AggregateRow, AggregateSourceExt, PublishedPolicy};
use authwarden_api::serde_json::Value;
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, CodeInfo, DomainTarget,
    Finding, RunPaths,
};
use authwarden_catalog::Catalog;
use authwarden_dmarc::{discover, DiscoveryOutcome, Phase, Policy};
use authwarden_inventory::attribution::{summarize, Attributor, Origin};
use authwarden_inventory::authorization::SpfView;
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
    let (messages, aligned) = if inventory.configured {
        let seen = summarize(&attributor, window.iter());
        let mut messages = 0u64;
        let mut aligned = 0u64;
        for (origin, s) in &seen {
            let Origin::Inventory(id) = origin else {
                continue;
            };
            messages = messages.saturating_add(s.messages);
            aligned = aligned.saturating_add(s.aligned);
            if s.failing > 0 {
                let fix = if s.dkim_aligned == 0 {
                    format!("configure DKIM signing with d={domain}")
                } else {
                    format!("make DKIM sign all of its mail with d={domain}")
                };
                reasons.push(format!(
                    "{id} still fails DMARC for {} of {} messages: {fix} (see the inventory-drift findings)",
                    s.failing, s.messages
                ));
                failing_sources.push(authwarden_dmarc::FailingSource {
                    source: id.to_string(),
                    messages: s.messages,
                    failing: s.failing,
                });
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
    let ready = pass_rate.is_some_and(|r| r >= config.pass_rate);
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
    let action;
    if phase.is_final() {
        action = "done";
        reasons.clear();
        reasons.push("p=reject applies to all mail: the rollout is complete".into());
    } else if ready && old_enough {
        action = "advance";
        let next = ramp::next(&phase).expect("not final");
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
        findings.push(
            finding(&domain, code, &found.name(), message)
                .help(format!("publish at {}: `{text}`", found.name()))
                .evidence("record", found.text.clone())
                .evidence("next_record", text.clone())
                .evidence("pass_rate", pass_rate)
                .evidence("weeks_in_phase", weeks),
        );
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
        if source.is_some() && pass_rate.is_some() {
            findings.push(
                finding(
                    &domain,
                    &ROLL_HOLD,
                    &found.name(),
                    format!("dmarc rollout holds at {}: {}", phase.describe(), reasons.join("; ")),
                )
                .help(if failing_sources.is_empty() {
                    "wait for the phase to age, then publish the next step".to_string()
                } else {
                    "fix the failing legitimate sources listed, then wait for a month of clean reports".to_string()
                })
                .evidence("reasons", reasons.clone())
                .evidence("pass_rate", pass_rate)
                .evidence(
                    "failing_sources",
                    authwarden_api::serde_json::to_value(&failing_sources)
                        .expect("failing sources serialise"),
                )
                .evidence("weeks_in_phase", weeks),
            );
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
        ..Default::default()
    }
}
