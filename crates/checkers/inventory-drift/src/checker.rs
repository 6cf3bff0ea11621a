//! The checker: the three views of a domain (inventory, DNS, reports) and
//! the seven drift kinds between them.

use std::collections::{BTreeMap, BTreeSet};

use authwarden_api::plan::{Change, FindingRef, Proposal};
use authwarden_api::reports::{AggregateRow, AggregateSourceExt};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, CodeInfo, DomainTarget,
    Finding, RunPaths,
};
use authwarden_catalog::Catalog;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use authwarden_inventory::attribution::{add_count, summarize, Attributor, Origin, SeenSource};
use authwarden_inventory::authorization::{IncludeAuth, SpfView};
use authwarden_inventory::declared::{dkim_signing_action, Authorizations};
use authwarden_inventory::inventory::{parse_inventory, sender_facts, Inventory};
use authwarden_inventory::state::StateFile;

use crate::codes::*;

/// The checker's id.
pub const CHECKER_ID: &str = "inventory-drift";

/// The default of `[checkers.inventory-drift] stale_days`.
pub const DEFAULT_STALE_DAYS: u32 = 90;
/// The default of `[checkers.inventory-drift] period_days`: the period whose
/// reports count as "who sends now" (the monthly run's month).
pub const DEFAULT_PERIOD_DAYS: u32 = 30;

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "the sender inventory against what DNS authorizes and who actually sends",
    cadences: &[Cadence::Monthly, Cadence::Quarterly, Cadence::Annual],
    codes: CODES,
    facts_key: "inventory",
};

/// The drift kinds, as they appear in the facts' `drift[].kind`.
pub mod kind {
    /// DRIFT001.
    pub const NEW_SENDER: &str = "new-sender";
    /// DRIFT002.
    pub const STALE: &str = "stale";
    /// DRIFT003.
    pub const MISSING_FROM_SPF: &str = "missing-from-spf";
    /// DRIFT004.
    pub const MISSING_DKIM: &str = "missing-dkim";
    /// DRIFT005.
    pub const UNEXPLAINED_INCLUDE: &str = "unexplained-include";
    /// DRIFT006.
    pub const SPOOFING: &str = "spoofing";
    /// DRIFT007.
    pub const AUTHORIZATION_DISAPPEARED: &str = "authorization-disappeared";
    /// The kinds that need aggregate reports.
    pub const REPORT_BASED: [&str; 5] =
        [NEW_SENDER, STALE, MISSING_FROM_SPF, MISSING_DKIM, SPOOFING];
}

/// Compares each domain's sender inventory with DNS and with the DMARC
/// aggregate reports of the history.
///
/// Its facts (key `inventory`): `declared` (the inventory), `authorized_by_spf`
/// (the SPF includes with their owner and lookups, and the ranges),
/// `dkim_selectors` (keys found at the inventory's provider selectors),
/// `seen` (who sent in the period, by source), `drift` (one `{kind, source,
/// action}` per finding of DRIFT001 to DRIFT007) and `skipped` (drift kinds
/// that could not be checked, with the reason).
#[derive(Debug, Default, Clone, Copy)]
pub struct InventoryDrift;

/// `[checkers.inventory-drift]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftConfig {
    /// Days without mail after which an inventory entry is stale.
    #[serde(default = "default_stale")]
    pub stale_days: u32,
    /// Days of reports that count as "who sends now".
    #[serde(default = "default_period")]
    pub period_days: u32,
}

fn default_stale() -> u32 {
    DEFAULT_STALE_DAYS
}
fn default_period() -> u32 {
    DEFAULT_PERIOD_DAYS
}

impl Default for DriftConfig {
    fn default() -> Self {
        DriftConfig {
            stale_days: DEFAULT_STALE_DAYS,
            period_days: DEFAULT_PERIOD_DAYS,
        }
    }
}

impl DriftConfig {
    /// Reads the section; unknown keys, wrong types and zero are errors.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let c: DriftConfig = authwarden_api::serde_json::from_value(value.clone())
            .map_err(|e| format!("invalid `[checkers.{CHECKER_ID}]`: {e}"))?;
        if c.stale_days == 0 || c.period_days == 0 {
            return Err(format!(
                "invalid `[checkers.{CHECKER_ID}]`: `stale_days` and `period_days` must be at least 1"
            ));
        }
        Ok(c)
    }
}

/// The state file's content: per domain, the third-party authorizations
/// found by the last run that could read them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedState {
    /// Format version, 1.
    #[serde(default)]
    pub version: u32,
    /// Per domain.
    #[serde(default)]
    pub domains: BTreeMap<String, DomainAuthorizations>,
}

/// One domain's authorizations at the last run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainAuthorizations {
    /// The day of that run.
    pub checked: Option<NaiveDate>,
    /// The authorizations.
    pub authorized: Vec<Authorization>,
    /// Authorizations found missing by a run and not back since: DRIFT007
    /// stays open while they are here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<LostAuthorization>,
}

/// An authorization of an inventory sender that disappeared.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LostAuthorization {
    /// The inventory sender.
    pub sender: String,
    /// `include:<domain>` or `dkim:<selector>`.
    pub mechanism: String,
    /// The first run that saw it.
    pub authorized_since: NaiveDate,
    /// The first run that found it missing.
    pub missing_since: NaiveDate,
    /// The last run that saw it.
    pub last_seen: Option<NaiveDate>,
}

/// One authorization of an inventory sender.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Authorization {
    /// The inventory sender.
    pub sender: String,
    /// `include:<domain>` or `dkim:<selector>`.
    pub mechanism: String,
    /// The first run that saw it.
    pub since: NaiveDate,
}

/// The file name of the state, under `<data_dir>/inventory-drift/`.
pub const STATE_FILE: &str = "authorized.json";

#[async_trait]
impl Checker for InventoryDrift {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        Run::new(ctx, target).run().await
    }

    /// The keys of [`DriftConfig`]; the domain tables take none (the
    /// inventory is the shared `[domains.inventory]`).
    fn settings_spec(&self) -> Option<&'static authwarden_api::SettingsSpec> {
        Some(&SETTINGS)
    }

    /// How many senders are declared, authorized, seen and drifting.
    fn report_facts(&self, facts: &Value) -> Vec<authwarden_api::ReportFact> {
        if facts.get("configured").and_then(Value::as_bool) != Some(true) {
            return Vec::new();
        }
        let len = |k: &str| facts.get(k).and_then(Value::as_array).map_or(0, Vec::len);
        vec![authwarden_api::ReportFact::new(
            "Sender inventory",
            format!(
                "{} declared, {} authorized by SPF, {} seen in reports, {} drift",
                len("declared"),
                len("authorized_by_spf"),
                len("seen"),
                len("drift")
            ),
        )]
    }
}

/// The keys of `[checkers.inventory-drift]`, checked by config validation
/// with the ranges [`DriftConfig::from_value`] enforces; and of
/// `[domains.inventory-drift]`, the other table the sender inventory is read
/// from (`authwarden_inventory::SETTINGS_KEYS`): its `senders`, whose
/// entries the inventory parser checks (DRIFT008), as it does in the shared
/// `[domains.inventory]`.
static SETTINGS: authwarden_api::SettingsSpec = {
    use authwarden_api::{SettingKey, SettingKind};
    const DAYS: SettingKind = SettingKind::Integer {
        min: 1,
        max: u32::MAX as i64,
    };
    authwarden_api::SettingsSpec {
        checker: &[
            SettingKey {
                name: "stale_days",
                kind: DAYS,
            },
            SettingKey {
                name: "period_days",
                kind: DAYS,
            },
        ],
        domain: &[SettingKey {
            name: "senders",
            kind: SettingKind::Any,
        }],
    }
};

/// `[checkers.inventory-drift]` as last parsed: the same for every domain of
/// a run, so it is parsed once, not once per domain.
static PARSED: std::sync::Mutex<Option<(Value, Result<DriftConfig, String>)>> =
    std::sync::Mutex::new(None);

impl DriftConfig {
    /// [`DriftConfig::from_value`], kept while the settings stay the same.
    pub fn parsed(value: &Value) -> Result<Self, String> {
        let mut cached = PARSED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((v, parsed)) = cached.as_ref() {
            if v == value {
                return parsed.clone();
            }
        }
        let parsed = DriftConfig::from_value(value);
        *cached = Some((value.clone(), parsed.clone()));
        parsed
    }
}

struct Run<'c> {
    ctx: &'c CheckContext,
    domain: String,
    settings: &'c Value,
    now: DateTime<Utc>,
    catalog: &'static Catalog,
    findings: Vec<Finding>,
    drift: Vec<Value>,
    skipped: Vec<Value>,
    proposals: Vec<Proposal>,
}

fn day(ts: i64) -> Value {
    DateTime::from_timestamp(ts, 0)
        .map(|d| Value::from(d.format("%Y-%m-%d").to_string()))
        .unwrap_or(Value::Null)
}

fn ips_evidence(seen: &SeenSource, n: usize) -> Value {
    seen.top_ips(n)
        .into_iter()
        .map(|(ip, messages)| json!({"ip": ip, "messages": messages}))
        .collect()
}

impl<'c> Run<'c> {
    fn new(ctx: &'c CheckContext, target: &'c DomainTarget) -> Self {
        Run {
            ctx,
            domain: target.name.clone(),
            settings: &target.settings,
            now: ctx.clock.now(),
            catalog: Catalog::builtin(),
            findings: Vec::new(),
            drift: Vec::new(),
            skipped: Vec::new(),
            proposals: Vec::new(),
        }
    }

    fn finding(&self, code: &CodeInfo, subject: &str, message: String) -> Finding {
        Finding::new(CHECKER_ID, code, &self.domain, message).subject(subject)
    }

    /// A drift finding and its facts entry.
    fn drift(
        &mut self,
        code: &CodeInfo,
        kind: &str,
        source: &str,
        message: String,
        action: String,
        evidence: Value,
    ) {
        let mut f = self.finding(code, source, message).help(action.clone());
        if let Value::Object(m) = evidence {
            f.evidence = m;
        }
        f.evidence.insert("kind".into(), kind.into());
        self.findings.push(f);
        self.drift
            .push(json!({"kind": kind, "source": source, "action": action}));
    }

    /// A proposal resolving the finding pushed last.
    fn propose_last(&mut self, change: Change, reason: String) {
        let resolves = self
            .findings
            .last()
            .map(FindingRef::to)
            .into_iter()
            .collect();
        self.proposals.push(Proposal::new(change, reason, resolves));
    }

    fn skip(&mut self, kinds: &[&str], reason: &str) {
        for k in kinds {
            if !self.skipped.iter().any(|s| s["kind"] == *k) {
                self.skipped.push(json!({"kind": k, "reason": reason}));
            }
        }
    }

    async fn run(mut self) -> CheckOutput {
        let config = match DriftConfig::parsed(&self.ctx.config) {
            Ok(c) => c,
            Err(e) => {
                let f = self
                    .finding(&DRIFT_INVENTORY_INVALID, &format!("[checkers.{CHECKER_ID}]"), e)
                    .help("fix the section; the defaults are used meanwhile (stale_days = 90, period_days = 30)");
                self.findings.push(f);
                DriftConfig::default()
            }
        };
        let (inventory, problems) = parse_inventory(self.settings, self.catalog);
        for p in &problems {
            let help = match &p.suggestion {
                Some(s) => format!("did you mean `{s}`? The entry is left out until it is fixed"),
                None => "fix the entry in `[domains.inventory]`; it is left out until then".into(),
            };
            let f = self
                .finding(
                    &DRIFT_INVENTORY_INVALID,
                    &format!("inventory.{}", p.path),
                    format!("inventory of {}: {}", self.domain, p.message),
                )
                .help(help)
                .evidence("path", p.path.clone())
                .evidence("suggestion", p.suggestion.clone());
            self.findings.push(f);
        }
        if !inventory.configured {
            return CheckOutput {
                findings: self.findings,
                facts: Some(json!({
                    "configured": false,
                    "declared": [], "authorized_by_spf": [], "dkim_selectors": [],
                    "seen": [], "drift": [],
                    "skipped": [{"kind": "all", "reason": "the domain has no [domains.inventory]"}],
                })),
                ..Default::default()
            };
        }

        // (2) what DNS authorizes
        let resolver = self.ctx.resolver.clone();
        let spf = SpfView::fetch(resolver.as_ref(), &self.domain).await;
        if let Some(failure) = &spf.failure {
            let f = self
                .finding(
                    &DRIFT_INCOMPLETE,
                    &self.domain.clone(),
                    format!(
                        "spf record of {} could not be read completely: {failure}",
                        self.domain
                    ),
                )
                .help("retry the run; drift that depends on the SPF record was not checked")
                .evidence("failure", failure.clone());
            self.findings.push(f);
        }
        let spf_ok = spf.failure.is_none();
        let auth = Authorizations::fetch(
            resolver.as_ref(),
            &self.domain,
            &inventory,
            self.catalog,
            &spf,
            &BTreeMap::new(),
        )
        .await;
        self.dkim_failures(&auth);
        let dkim_published = auth.dkim_published();

        // (1) x (2): includes no inventory entry explains
        let mut authorized_by_spf = Vec::new();
        for inc in &spf.includes {
            let owner = inventory.by_include(&inc.target, self.catalog);
            let provider = self.catalog.lookup(&inc.target);
            authorized_by_spf.push(json!({
                "mechanism": inc.term,
                "source": owner.map(|s| s.id.clone()),
                "provider": provider.map(|p| p.id.clone()),
                "lookups": inc.lookups,
                "working": inc.working,
            }));
            if owner.is_none() && spf_ok {
                let without = spf.without_term(&inc.term);
                let action = match &without {
                    Some(r) => format!(
                        "remove {} from SPF (saves {} DNS lookup{}): publish `{r}`; or document it in [domains.inventory]",
                        inc.term, inc.lookups, if inc.lookups == 1 { "" } else { "s" }
                    ),
                    None => format!(
                        "remove {} from the SPF record behind the redirect, or document it in [domains.inventory]",
                        inc.term
                    ),
                };
                let message = match provider {
                    Some(p) => format!(
                        "spf include `{}` ({}) matches no inventory entry",
                        inc.term, p.name
                    ),
                    None => format!("spf include `{}` matches no inventory entry", inc.term),
                };
                self.drift(
                    &DRIFT_UNEXPLAINED_INCLUDE,
                    kind::UNEXPLAINED_INCLUDE,
                    &inc.term,
                    message,
                    action,
                    json!({
                        "include": inc.target,
                        "lookups": inc.lookups,
                        "provider": provider.map(|p| p.id.clone()),
                        "record": spf.text,
                        "suggested_record": without,
                    }),
                );
            }
        }
        for r in &spf.own_ranges {
            authorized_by_spf.push(json!({
                "mechanism": r.spf_term(),
                "source": inventory.senders.iter().find(|s| s.ips.iter().any(|c| r.overlaps(c))).map(|s| s.id.clone()),
                "provider": null,
                "lookups": 0,
                "working": true,
            }));
        }

        // authorizations that disappeared since the last run
        self.compare_state(
            &inventory,
            &spf,
            auth.third_party_mechanisms(),
            spf_ok,
            &auth.dkim_unknown(),
        );

        // (3) who sends
        let source = self.ctx.extensions.get::<AggregateSourceExt>();
        let mut seen_facts = Vec::new();
        match source {
            None => self.skip(
                &kind::REPORT_BASED,
                "no aggregate reports in this run (ingest reports with `authwarden ingest`)",
            ),
            Some(source) => {
                let window = i64::from(config.stale_days.max(config.period_days)) + 31;
                let rows = source
                    .0
                    .rows(&self.domain, self.now - Duration::days(window), self.now);
                if rows.is_empty() {
                    self.skip(
                        &kind::REPORT_BASED,
                        &format!(
                            "no aggregate reports for {} in the last {window} days",
                            self.domain
                        ),
                    );
                } else {
                    seen_facts = self.report_drift(&config, &inventory, &spf, &auth, &rows);
                }
            }
        }

        let facts = json!({
            "configured": true,
            "period_days": config.period_days,
            "stale_days": config.stale_days,
            "declared": inventory.senders.iter().map(sender_facts).collect::<Vec<_>>(),
            "authorized_by_spf": authorized_by_spf,
            "dkim_selectors": dkim_published.iter().map(|(s, sel)| json!({"selector": sel, "source": s})).collect::<Vec<_>>(),
            "seen": seen_facts,
            "drift": self.drift,
            "skipped": self.skipped,
        });
        CheckOutput {
            findings: self.findings,
            facts: Some(facts),
            proposals: self.proposals,
        }
    }

    /// A DRIFT009 finding per DKIM selector whose lookup failed.
    fn dkim_failures(&mut self, auth: &Authorizations) {
        for a in &auth.senders {
            for (sel, e) in &a.dkim_failed {
                let f = self
                    .finding(
                        &DRIFT_INCOMPLETE,
                        &format!("{sel}._domainkey.{}", self.domain),
                        format!(
                            "dkim selector `{sel}` of {} could not be looked up: {e}",
                            a.sender
                        ),
                    )
                    .help("retry the run; whether the key disappeared was not checked")
                    .evidence("failure", e.clone());
                self.findings.push(f);
            }
        }
    }

    /// DRIFT007: the third-party authorizations of the last run against
    /// `current`. An authorization found missing is remembered as lost and
    /// reported by every run until it is back or its sender leaves the
    /// inventory; one whose lookup failed now is kept as it was.
    fn compare_state(
        &mut self,
        inventory: &Inventory,
        spf: &SpfView,
        current: Vec<(String, String)>,
        spf_ok: bool,
        dkim_failed: &BTreeSet<String>,
    ) {
        let Some(paths) = self.ctx.extensions.get::<RunPaths>() else {
            self.skip(
                &[kind::AUTHORIZATION_DISAPPEARED],
                "no history folder in this run to remember the last run's authorizations",
            );
            return;
        };
        let file = StateFile::for_run(&paths, CHECKER_ID, STATE_FILE);
        let today = self.now.date_naive();
        let domain = self.domain.clone();
        let unknown = |mechanism: &str, sender: &str| {
            if mechanism.starts_with("include:") {
                !spf_ok
            } else {
                dkim_failed.contains(sender)
            }
        };
        let result = file.update(|state: &mut AuthorizedState| {
            state.version = 1;
            let entry = state.domains.entry(domain).or_default();
            let previous = std::mem::take(&mut entry.authorized);
            let previous_lost = std::mem::take(&mut entry.lost);
            let found = |sender: &str, mechanism: &str| {
                current.iter().any(|(s, m)| s == sender && m == mechanism)
            };
            let mut next = Vec::new();
            for (sender, mechanism) in &current {
                let since = previous
                    .iter()
                    .find(|a| &a.sender == sender && &a.mechanism == mechanism)
                    .map(|a| a.since)
                    .unwrap_or(today);
                next.push(Authorization {
                    sender: sender.clone(),
                    mechanism: mechanism.clone(),
                    since,
                });
            }
            let mut lost = Vec::new();
            for a in previous {
                if found(&a.sender, &a.mechanism) {
                    continue;
                }
                if unknown(&a.mechanism, &a.sender) {
                    // Unknown now (a failed lookup): keep it, judge next run.
                    next.push(a);
                } else {
                    lost.push(LostAuthorization {
                        sender: a.sender,
                        mechanism: a.mechanism,
                        authorized_since: a.since,
                        missing_since: today,
                        last_seen: entry.checked,
                    });
                }
            }
            // Lost before: still open unless it is back or the sender left
            // the inventory (then it was removed on purpose).
            for l in previous_lost {
                if found(&l.sender, &l.mechanism) || inventory.sender(&l.sender).is_none() {
                    continue;
                }
                if !lost
                    .iter()
                    .any(|n| n.sender == l.sender && n.mechanism == l.mechanism)
                {
                    lost.push(l);
                }
            }
            // Senders removed from the inventory lost it on purpose.
            lost.retain(|l| inventory.sender(&l.sender).is_some());
            lost.sort();
            next.sort();
            entry.authorized = next;
            entry.lost = lost.clone();
            entry.checked = Some(today);
            lost
        });
        match result {
            Err(e) => {
                let f = self
                    .finding(
                        &DRIFT_INCOMPLETE,
                        &file.path().display().to_string(),
                        format!("the state of the last run could not be used: {e}"),
                    )
                    .help("check the file's permissions, or move a damaged file away (the next run starts a new one)")
                    .evidence("path", file.path().display().to_string())
                    .evidence("failure", e.to_string());
                self.findings.push(f);
                self.skip(
                    &[kind::AUTHORIZATION_DISAPPEARED],
                    "the state file could not be used",
                );
            }
            Ok(lost) => {
                for l in lost {
                    self.report_lost(inventory, spf, &l, unknown(&l.mechanism, &l.sender));
                }
            }
        }
    }

    /// The DRIFT007 finding of one lost authorization, with the proposal
    /// that restores it.
    fn report_lost(
        &mut self,
        inventory: &Inventory,
        spf: &SpfView,
        l: &LostAuthorization,
        unverified: bool,
    ) {
        let (what, restore, change) = match l.mechanism.strip_prefix("dkim:") {
            Some(sel) => {
                let provider = inventory
                    .sender(&l.sender)
                    .and_then(|s| s.provider.as_ref())
                    .map_or_else(|| l.sender.clone(), |p| p.name.clone());
                let restore = format!(
                    "publish the key {provider} gives for {sel}._domainkey.{} again",
                    self.domain
                );
                (
                    format!("its DKIM key at selector `{sel}`"),
                    restore.clone(),
                    Change::Outside { action: restore },
                )
            }
            None => (
                format!("`{}` in SPF", l.mechanism),
                format!(
                    "restore {}: publish `{}`",
                    l.mechanism,
                    spf.with_term(&l.mechanism)
                ),
                Change::SpfTerms {
                    name: self.domain.clone(),
                    add: vec![l.mechanism.clone()],
                    remove: Vec::new(),
                    all: None,
                },
            ),
        };
        let when = if l.missing_since == self.now.date_naive() {
            "since the last run".to_string()
        } else {
            format!("(missing since {})", l.missing_since)
        };
        let message = format!("{} lost {what} {when}", l.sender);
        let action = format!(
            "{restore}; or remove {} from the inventory if it no longer sends",
            l.sender
        );
        self.drift(
            &DRIFT_AUTHORIZATION_LOST,
            kind::AUTHORIZATION_DISAPPEARED,
            &l.sender,
            message,
            action,
            json!({
                "mechanism": l.mechanism,
                "authorized_since": l.authorized_since.to_string(),
                "missing_since": l.missing_since.to_string(),
                "last_run": l.last_seen.map(|d| d.to_string()),
                "record": spf.text,
                "unverified": unverified,
            }),
        );
        self.propose_last(
            change,
            format!("{} is in the inventory but lost {what}", l.sender),
        );
    }

    /// The report-based drift kinds; returns the `seen` facts.
    fn report_drift(
        &mut self,
        config: &DriftConfig,
        inventory: &Inventory,
        spf: &SpfView,
        auth: &Authorizations,
        rows: &[AggregateRow],
    ) -> Vec<Value> {
        let attributor = Attributor::new(inventory, self.catalog, spf);
        let period_start = (self.now - Duration::days(i64::from(config.period_days))).timestamp();
        let stale_start = (self.now - Duration::days(i64::from(config.stale_days))).timestamp();
        let in_period = summarize(&attributor, rows.iter().filter(|r| r.begin >= period_start));
        let in_stale = summarize(&attributor, rows.iter().filter(|r| r.begin >= stale_start));
        let all = summarize(&attributor, rows.iter());
        let earliest = rows.iter().map(|r| r.begin).min().unwrap_or(i64::MAX);

        let mut seen_facts = Vec::new();
        let mut unknown_failing = SeenSource::default();
        let mut unknown_failing_nets = 0;
        for (origin, seen) in &in_period {
            let entry = json!({
                "source": origin.label(),
                "inventory": origin.in_inventory(),
                "provider": match origin {
                    Origin::Provider(p) => Some(p.clone()),
                    Origin::Inventory(id) => inventory.sender(id).and_then(|s| s.provider.as_ref()).map(|p| p.id.clone()),
                    Origin::Unknown(_) => None,
                },
                "messages": seen.messages,
                "aligned": seen.aligned,
                "dkim_aligned": seen.dkim_aligned,
                "spf_aligned": seen.spf_aligned,
                "ips": seen.ips.len(),
                "last_seen": day(seen.last_seen),
            });
            match origin {
                Origin::Unknown(_) if seen.aligned == 0 => {
                    if seen.failing > 0 {
                        unknown_failing_nets += 1;
                    }
                    // Only the failing mail: forwarders' copies are not spoofing.
                    for (ip, n) in &seen.failing_ips {
                        add_count(unknown_failing.ips.entry(ip.clone()).or_default(), *n);
                    }
                    add_count(&mut unknown_failing.messages, seen.messages);
                    add_count(&mut unknown_failing.failing, seen.failing);
                    add_count(&mut unknown_failing.intermediary, seen.intermediary);
                    for (c, n) in &seen.causes {
                        add_count(unknown_failing.causes.entry(c.clone()).or_default(), *n);
                    }
                    unknown_failing.last_seen = unknown_failing.last_seen.max(seen.last_seen);
                }
                _ => seen_facts.push(entry),
            }

            // DRIFT001: passing mail from outside the inventory; a
            // forwarder or list relaying others' signed mail is not a sender.
            let own_aligned = seen.aligned.saturating_sub(seen.intermediary_aligned);
            if !origin.in_inventory() && own_aligned > 0 {
                let label = origin.label();
                let what = match origin {
                    Origin::Provider(p) => self
                        .catalog
                        .by_id(p)
                        .map(|p| p.name.clone())
                        .unwrap_or_else(|| p.clone()),
                    _ => format!("servers in {label}"),
                };
                self.drift(
                    &DRIFT_NEW_SENDER,
                    kind::NEW_SENDER,
                    &label,
                    format!(
                        "{what} sent {} message{} passing dmarc as {} but {} not in the inventory",
                        own_aligned,
                        if own_aligned == 1 { "" } else { "s" },
                        self.domain,
                        if matches!(origin, Origin::Provider(_)) { "is" } else { "are" }
                    ),
                    format!(
                        "add it to the inventory ([domains.inventory] senders, with an owner and a purpose) or stop it sending as {}",
                        self.domain
                    ),
                    json!({
                        "messages": seen.messages,
                        "aligned_messages": own_aligned,
                        "ips": ips_evidence(seen, 10),
                        "provider": match origin { Origin::Provider(p) => Some(p.clone()), _ => None },
                        "first_seen": day(seen.first_seen),
                        "last_seen": day(seen.last_seen),
                    }),
                );
            }
        }

        for sender in &inventory.senders {
            let origin = Origin::Inventory(sender.id.clone());
            let period = in_period.get(&origin);

            // DRIFT003: sending but not authorized by SPF (the one answer
            // the rollout advisor shares)
            let status = auth.sender(&sender.id);
            if let Some((seen, status)) = period
                .filter(|s| s.messages > 0)
                .zip(status)
                .filter(|(_, a)| a.spf_known && !a.spf_authorized)
            {
                let terms = &status.spf_missing;
                let (action, record) = if terms.is_empty() {
                    (
                        format!(
                            "authorize {} in the SPF record of {} as the service documents",
                            sender.id, self.domain
                        ),
                        None,
                    )
                } else {
                    let r = spf.with_term(&terms.join(" "));
                    (
                        format!("update the SPF record of {}: publish `{r}`", self.domain),
                        Some(r),
                    )
                };
                let term = (!terms.is_empty()).then(|| terms.join(" "));
                self.drift(
                    &DRIFT_MISSING_FROM_SPF,
                    kind::MISSING_FROM_SPF,
                    &sender.id,
                    format!(
                        "{} sends as {} ({} message{}) but the spf record does not authorize it",
                        sender.id,
                        self.domain,
                        seen.messages,
                        if seen.messages == 1 { "" } else { "s" }
                    ),
                    action,
                    json!({
                        "messages": seen.messages,
                        "spf_aligned_messages": seen.spf_aligned,
                        "mechanism": term,
                        "record": spf.text,
                        "suggested_record": record,
                        "ips": ips_evidence(seen, 10),
                    }),
                );
                if !terms.is_empty() {
                    self.propose_last(
                        Change::SpfTerms {
                            name: self.domain.clone(),
                            add: terms.clone(),
                            remove: Vec::new(),
                            all: None,
                        },
                        format!("authorize {} in the SPF record", sender.id),
                    );
                }
            }

            // DRIFT004: sending without aligned DKIM
            if let Some(seen) = period {
                let without = seen.without_dkim();
                if without > 0 && without * 100 >= seen.messages {
                    let at = sender
                        .provider
                        .as_ref()
                        .map(|p| format!(" at {}", p.name))
                        .unwrap_or_default();
                    self.drift(
                        &DRIFT_MISSING_DKIM,
                        kind::MISSING_DKIM,
                        &sender.id,
                        format!(
                            "{} sent {without} of {} message{} without an aligned dkim signature",
                            sender.id,
                            seen.messages,
                            if seen.messages == 1 { "" } else { "s" }
                        ),
                        format!(
                            "configure DKIM signing with d={}{at} and publish its selector records",
                            self.domain
                        ),
                        json!({
                            "messages": seen.messages,
                            "without_dkim": without,
                            "dkim_aligned_messages": seen.dkim_aligned,
                            "selectors_seen": seen.selectors.iter().cloned().collect::<Vec<_>>(),
                            "ips": ips_evidence(seen, 10),
                        }),
                    );
                    // The same sentence as the rollout advisor's, so the
                    // plan lists the work once for both findings.
                    self.propose_last(
                        Change::Outside {
                            action: dkim_signing_action(
                                &self.domain,
                                sender,
                                seen.dkim_aligned > 0,
                            ),
                        },
                        format!("{} sends mail without aligned DKIM", sender.id),
                    );
                }
            }

            // DRIFT002: not seen for stale_days
            let covered = earliest <= stale_start + 2 * 86_400;
            if !covered {
                continue;
            }
            if in_stale.get(&origin).is_some_and(|s| s.messages > 0) {
                continue;
            }
            let last_seen = all
                .get(&origin)
                .map(|s| day(s.last_seen))
                .unwrap_or(Value::Null);
            let includes: Vec<&IncludeAuth> = spf
                .includes
                .iter()
                .filter(|i| sender.owns_include(&i.target, self.catalog))
                .collect();
            // Its own ranges still in the record, as written (none that
            // another sender of the inventory sends from).
            let ranges: Vec<String> = spf
                .own_range_terms()
                .into_iter()
                .filter(|(_, r)| {
                    sender.ips.iter().any(|c| c.covers(r))
                        && !inventory
                            .senders
                            .iter()
                            .any(|o| o.id != sender.id && o.ips.iter().any(|c| c.overlaps(r)))
                })
                .map(|(t, _)| t)
                .collect();
            let lookups: u32 = includes.iter().map(|i| i.lookups).sum();
            let mut terms: Vec<String> = includes.iter().map(|i| i.term.clone()).collect();
            terms.extend(ranges.iter().cloned());
            // The terms a removal can take out of this record (not those
            // behind a redirect).
            let removable: Vec<String> = terms
                .iter()
                .filter(|t| spf.without_term(t).is_some())
                .cloned()
                .collect();
            let owner = sender.owner.as_deref().unwrap_or("its owner");
            let action = if terms.is_empty() {
                format!("confirm with {owner} that it is gone and remove it from the inventory")
            } else {
                let saves = if lookups > 0 {
                    format!(
                        " (saves {lookups} DNS lookup{})",
                        if lookups == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                };
                match spf_without(spf, &removable) {
                    Some(r) if removable.len() == terms.len() => format!(
                        "confirm with {owner} that it is gone, then remove {} from SPF{saves}: publish `{r}`; and remove it from the inventory",
                        terms.join(" ")
                    ),
                    _ => format!(
                        "confirm with {owner} that it is gone, then remove {} from SPF{saves} and the entry from the inventory",
                        terms.join(" ")
                    ),
                }
            };
            let still = match terms.len() {
                0 => String::new(),
                1 => format!("; {} is still in the SPF record", terms[0]),
                _ => format!("; {} are still in the SPF record", terms.join(" ")),
            };
            self.drift(
                &DRIFT_STALE,
                kind::STALE,
                &sender.id,
                format!(
                    "{} has not sent as {} for {} days{still}",
                    sender.id, self.domain, config.stale_days
                ),
                action,
                json!({
                    "stale_days": config.stale_days,
                    "last_seen": last_seen,
                    "spf_terms": terms,
                    "lookups": lookups,
                    "owner": sender.owner,
                }),
            );
            if !removable.is_empty() {
                self.propose_last(
                    Change::SpfTerms {
                        name: self.domain.clone(),
                        add: Vec::new(),
                        remove: removable,
                        all: None,
                    },
                    format!(
                        "{} has not sent for {} days: its SPF authorization only widens who may send",
                        sender.id, config.stale_days
                    ),
                );
            }
        }
        if earliest > stale_start + 2 * 86_400 {
            let days = (self.now.timestamp() - earliest) / 86_400;
            self.skip(
                &[kind::STALE],
                &format!(
                    "the reports cover {days} days, staleness needs {}",
                    config.stale_days
                ),
            );
        }

        // DRIFT006: failing mail from unknown sources
        let spoofed = unknown_failing.failing;
        if spoofed > 0 {
            let top = ips_evidence(&unknown_failing, 20);
            self.drift(
                &DRIFT_SPOOFING,
                kind::SPOOFING,
                &self.domain.clone(),
                format!(
                    "{spoofed} message{} from {} unknown source{} failed dmarc: likely spoofing",
                    if spoofed == 1 { "" } else { "s" },
                    unknown_failing.ips.len(),
                    if unknown_failing.ips.len() == 1 { "" } else { "s" }
                ),
                "no SPF or DKIM change needed: these sources are not yours; keep the IPs and volumes for threat intelligence and move DMARC towards p=reject".into(),
                json!({
                    "messages": spoofed,
                    "ips": unknown_failing.ips.len(),
                    "networks": unknown_failing_nets,
                    "sources": top,
                }),
            );
        }
        if unknown_failing.messages > 0 {
            seen_facts.push(json!({
                "source": "unknown",
                "inventory": false,
                "provider": null,
                "messages": unknown_failing.messages,
                "aligned": 0,
                "dkim_aligned": 0,
                "spf_aligned": 0,
                "ips": unknown_failing.ips.len(),
                "failing": unknown_failing.failing,
                "intermediary": unknown_failing.intermediary,
                "last_seen": day(unknown_failing.last_seen),
            }));
        }
        seen_facts
    }
}

/// The record without every one of `terms`, when each is a top-level term.
fn spf_without(spf: &SpfView, terms: &[String]) -> Option<String> {
    let record = spf.record.as_ref()?;
    let kept: Vec<&str> = record
        .terms
        .iter()
        .map(|t| t.text.as_str())
        .filter(|t| !terms.iter().any(|r| r == t))
        .collect();
    (!terms.is_empty()).then(|| format!("v=spf1 {}", kept.join(" ")))
}
