//! The `dkim` checker: gathers selectors, looks each one up, analyses the
//! key records, updates the key history and turns it all into findings and
//! facts.

use std::fmt::Write as _;
use std::path::Path;

use authwarden_api::domain::{normalize_name, organizational_domain};
use authwarden_api::plan::{Change, FindingRef, Proposal, Publisher};
use authwarden_api::serde_json::{json, Map, Value};
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, CodeInfo, DnsOutcome,
    DomainTarget, Finding, RecordType, ReportFact, RunPaths, SettingKey, SettingKind, SettingsSpec,
};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use authwarden_api::{DnsAnswer, DnsFailure, Resolver};
use chrono::{Duration, NaiveDate};
use futures::stream::{self, StreamExt};
use sha2::{Digest, Sha256};
use tokio::time::{timeout_at, Instant};

use crate::codes::*;
use crate::evidence::provider_selectors;
use crate::key::{analyze_der, decode_base64, KeyInfo};
use crate::record::{looks_like_key_record, parse_record, KeyRecord, KeyType};
use crate::selectors::{
    configured_selectors, selector_date, validate_selector, CatalogProbe, DkimConfig,
    ObservedSelectorsExt, MAX_PROBE_CONCURRENCY,
};
use crate::store::{KeyEntry, KeyHistory, KeyStore, RotationEvent, StoreError};

/// The checker id.
pub const CHECKER_ID: &str = "dkim";

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "checks dkim keys: selectors published, exact key strength, record flags, key age and rotation",
    cadences: &[Cadence::Quarterly, Cadence::Annual],
    codes: CODES,
    facts_key: "dkim",
};

/// The keys of `[checkers.dkim]` and `[domains.dkim]`, checked by config
/// validation; [`DkimConfig::from_value`] and `configured_selectors` read them.
static SETTINGS: SettingsSpec = SettingsSpec {
    checker: &[
        SettingKey {
            name: "probe_catalog",
            kind: SettingKind::Bool,
        },
        SettingKey {
            name: "catalog",
            kind: SettingKind::Array(&SettingKind::AnyOf(&[
                SettingKind::String,
                SettingKind::Table(&[
                    SettingKey {
                        name: "name",
                        kind: SettingKind::String,
                    },
                    SettingKey {
                        name: "provider",
                        kind: SettingKind::String,
                    },
                    SettingKey {
                        name: "domains",
                        kind: SettingKind::Array(&SettingKind::String),
                    },
                ]),
            ])),
        },
        SettingKey {
            name: "rotation_days",
            kind: SettingKind::Integer {
                min: 1,
                max: u32::MAX as i64,
            },
        },
        SettingKey {
            name: "budget",
            kind: SettingKind::Duration,
        },
        SettingKey {
            name: "probe_concurrency",
            kind: SettingKind::Integer {
                min: 1,
                max: MAX_PROBE_CONCURRENCY as i64,
            },
        },
    ],
    domain: &[SettingKey {
        name: "selectors",
        kind: SettingKind::Array(&SettingKind::String),
    }],
};

/// `[checkers.dkim]` as last parsed: the settings are the same for every
/// domain of a run, so they are parsed once and not once per domain.
static PARSED: Mutex<Option<(Value, Parsed)>> = Mutex::new(None);

/// `[checkers.dkim]` read by [`DkimConfig::from_value`], shared by the domains of a run.
type Parsed = Arc<Result<DkimConfig, String>>;

/// The parsed `[checkers.dkim]`, from [`PARSED`] when it holds these settings.
fn parsed_config(settings: &Value) -> Parsed {
    let mut cached = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((value, parsed)) = cached.as_ref() {
        if value == settings {
            return Arc::clone(parsed);
        }
    }
    let parsed = Arc::new(DkimConfig::from_value(settings));
    *cached = Some((settings.clone(), Arc::clone(&parsed)));
    parsed
}

/// Checks a domain's DKIM keys.
///
/// Selectors come from `[domains.dkim] selectors` (and `--selector`), from
/// DMARC aggregate reports ([`ObservedSelectorsExt`] in the context's
/// extensions), from the key history, and from the provider catalog
/// (`[checkers.dkim]`, see [`DkimConfig`]). Each is looked up at
/// `<selector>._domainkey.<domain>`, CNAMEs followed.
///
/// With [`RunPaths`] in the context the checker keeps the key history in
/// `<data_dir>/dkim/keys/<domain>.json` (see [`crate::store`]) and reports key ages and
/// rotations; without it (an ad-hoc check) it writes nothing and ages come
/// only from date-coded selector names.
///
/// Its facts (key `dkim`) are an array with one object per selector that
/// was found, or that config, reports or the history name: `selector`,
/// `found`, `status` (`valid`, `revoked`, `malformed`, `undecodable`,
/// `missing`, `failed`), `key_type` (`rsa`, `ed25519`), `key_bits` (exact),
/// `key_format`, `key_sha256`, `cname_target`, `managed_by` (the provider a
/// delegated key belongs to), `revoked`, `testing`, `sha1_only`, `sources`,
/// `first_seen`, `selector_date`, `key_age_days`, `age_source` (`history` or
/// `selector-name`), `age_exact`, `next_rotation` and `rotations` (the
/// selector's rotation events: `date`, `old_sha256`, `new_sha256`,
/// `old_selector` when a new selector replaced a revoked or removed one). Unknown
/// values are null.
#[derive(Debug, Default, Clone, Copy)]
pub struct Dkim;

/// Where a selector came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Configured,
    Observed,
    History,
    /// A provider the domain's SPF record or inventory names.
    Provider,
    Catalog,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Configured => "config",
            Source::Observed => "reports",
            Source::History => "history",
            Source::Provider => "provider",
            Source::Catalog => "catalog",
        }
    }
}

#[derive(Debug)]
enum Status {
    Valid(KeyRecord, KeyInfo),
    Revoked(KeyRecord),
    Malformed,
    Undecodable(KeyRecord),
    Missing,
    Failed,
}

impl Status {
    fn as_str(&self) -> &'static str {
        match self {
            Status::Valid(..) => "valid",
            Status::Revoked(_) => "revoked",
            Status::Malformed => "malformed",
            Status::Undecodable(_) => "undecodable",
            Status::Missing => "missing",
            Status::Failed => "failed",
        }
    }

    fn record(&self) -> Option<&KeyRecord> {
        match self {
            Status::Valid(r, _) | Status::Revoked(r) | Status::Undecodable(r) => Some(r),
            _ => None,
        }
    }

    fn found(&self) -> bool {
        !matches!(self, Status::Missing | Status::Failed)
    }
}

struct Probe {
    selector: String,
    name: String,
    sources: Vec<Source>,
    status: Status,
    cname_target: Option<String>,
    managed_by: Option<String>,
    key_sha256: Option<String>,
    /// The key records found, as published.
    texts: Vec<String>,
}

impl Probe {
    /// Who holds the key: the provider the selector is delegated to, else
    /// the service that signs with it.
    fn holder(&self) -> String {
        self.managed_by
            .clone()
            .unwrap_or_else(|| "the signing service".into())
    }

    fn expected(&self) -> bool {
        self.sources
            .iter()
            .any(|s| matches!(s, Source::Configured | Source::Observed))
    }
}

#[async_trait]
impl Checker for Dkim {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    fn settings_spec(&self) -> Option<&'static SettingsSpec> {
        Some(&SETTINGS)
    }

    /// One line per published selector (key, first seen and age, next
    /// rotation, delegation) and one for its rotations.
    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        let Value::Array(selectors) = facts else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for sel in selectors {
            let Some(name) = sel.get("selector").and_then(Value::as_str) else {
                continue;
            };
            if sel.get("found").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let mut parts = Vec::new();
            if sel.get("revoked").and_then(Value::as_bool) == Some(true) {
                parts.push("revoked".to_string());
            } else {
                let kind = sel.get("key_type").and_then(Value::as_str).unwrap_or("key");
                match sel.get("key_bits").and_then(Value::as_u64) {
                    Some(bits) => parts.push(format!("{kind} {bits} bits")),
                    None => parts.push(kind.to_string()),
                }
            }
            if let Some(first) = sel.get("first_seen").and_then(Value::as_str) {
                let age = sel.get("key_age_days").and_then(Value::as_u64);
                parts.push(match age {
                    Some(days) => format!("first seen {first} ({days} days)"),
                    None => format!("first seen {first}"),
                });
            }
            if let Some(next) = sel.get("next_rotation").and_then(Value::as_str) {
                parts.push(format!("next rotation {next}"));
            }
            if let Some(target) = sel.get("cname_target").and_then(Value::as_str) {
                parts.push(format!("delegated to {target}"));
            }
            out.push(ReportFact::new(format!("DKIM {name}"), parts.join(" · ")));
            if let Some(Value::Array(rotations)) = sel.get("rotations") {
                let events: Vec<String> = rotations
                    .iter()
                    .filter_map(|r| {
                        let date = r.get("date").and_then(Value::as_str)?;
                        Some(match r.get("old_selector").and_then(Value::as_str) {
                            Some(old) => format!("{date} (replaced selector {old})"),
                            None => format!("{date} (new key)"),
                        })
                    })
                    .collect();
                if !events.is_empty() {
                    out.push(ReportFact::new(
                        format!("DKIM {name} rotations"),
                        events.join(", "),
                    ));
                }
            }
        }
        out
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = normalize_name(&target.name);
        let mut run = Run {
            domain: domain.clone(),
            findings: Vec::new(),
            proposals: Vec::new(),
            history: None,
        };
        let parsed = parsed_config(&ctx.config);
        let default_config;
        let config = match parsed.as_ref() {
            Ok(config) => config,
            Err(e) => {
                run.incomplete(&domain, e.clone(), "config", "[checkers.dkim]");
                default_config = DkimConfig::default();
                &default_config
            }
        };
        let today = ctx.clock.now().date_naive();

        // Gather the selectors, each with every source that names it.
        let deadline = Instant::now() + config.budget;
        let mut selectors: Vec<(String, Vec<Source>)> = Vec::new();
        match configured_selectors(&target.settings) {
            Ok(list) => list
                .iter()
                .for_each(|s| add_selector(&mut selectors, s, Source::Configured)),
            Err(e) => run.incomplete(&domain, e, "config", "[domains.dkim]"),
        }
        if let Some(observed) = ctx.extensions.get::<ObservedSelectorsExt>() {
            for s in observed.0.selectors(&domain) {
                add_selector(&mut selectors, &s, Source::Observed);
            }
        }
        let paths = ctx.extensions.get::<RunPaths>();
        let store = paths.as_ref().map(|p| KeyStore::new(&p.data_dir, &domain));
        // An ad-hoc check and the plan's verification read the key history
        // but never record into it.
        let read_only = paths.as_ref().is_some_and(|p| p.read_only);
        let mut history_ok = store.is_some();
        // Kept for a read-only run, which updates a copy and writes nothing.
        let mut read_history: Option<KeyHistory> = None;
        if let Some(store) = &store {
            match store.read() {
                Ok(h) => {
                    h.selectors_of(&domain)
                        .iter()
                        .for_each(|s| add_selector(&mut selectors, s, Source::History));
                    read_history = Some(h);
                }
                Err(e) => {
                    history_ok = false;
                    run.history_unusable(&e, &store.path());
                }
            }
        }
        for (s, _) in
            provider_selectors(ctx.resolver.clone(), &domain, &target.settings, deadline).await
        {
            add_selector(&mut selectors, &s, Source::Provider);
        }
        let catalog_probe = config.catalog_probe(ctx.job);
        if catalog_probe == CatalogProbe::Always {
            for entry in &config.catalog {
                add_selector(&mut selectors, &entry.name, Source::Catalog);
            }
        }

        // Look them up, several at once and all within the budget; the
        // answers come back in the selectors' order.
        let mut answers = lookup_selectors(ctx, &domain, &selectors, 0, deadline, config).await;
        // No selector with evidence has a key (and none failed): the domain
        // may sign with a selector only the catalog knows.
        let any_key_or_failure = answers.iter().any(|a| match a {
            None => true,
            Some(a) => a.failure().is_some() || a.txt().iter().any(|t| looks_like_key_record(t)),
        });
        if catalog_probe == CatalogProbe::Scheduled && !any_key_or_failure {
            let from = selectors.len();
            for entry in &config.catalog {
                add_selector(&mut selectors, &entry.name, Source::Catalog);
            }
            answers
                .extend(lookup_selectors(ctx, &domain, &selectors, from, deadline, config).await);
        }
        let mut probes = Vec::new();
        // (selector, name, why): `None` when the budget ran out first.
        let mut failed: Vec<(String, String, Option<String>)> = Vec::new();
        for ((selector, sources), answer) in selectors.into_iter().zip(answers) {
            let name = format!("{selector}._domainkey.{domain}");
            let Some(answer) = answer else {
                failed.push((selector.clone(), name.clone(), None));
                probes.push(Probe {
                    selector,
                    name,
                    sources,
                    status: Status::Failed,
                    cname_target: None,
                    managed_by: None,
                    key_sha256: None,
                    texts: Vec::new(),
                });
                continue;
            };
            let cname_target = answer.cname_chain.last().cloned();
            let managed_by = cname_target
                .as_deref()
                .filter(|t| organizational_domain(t) != organizational_domain(&domain))
                .map(|t| config.provider_of(t));
            let mut probe = Probe {
                selector,
                name,
                sources,
                status: Status::Missing,
                cname_target,
                managed_by,
                key_sha256: None,
                texts: Vec::new(),
            };
            match &answer.outcome {
                DnsOutcome::Failed(f) => {
                    // An answer about this name (SERVFAIL, REFUSED, ...) is
                    // its own finding; "no answer at all" is the same fact
                    // for every selector and is listed in one.
                    let no_answer = matches!(
                        f,
                        DnsFailure::Timeout
                            | DnsFailure::Unreachable(_)
                            | DnsFailure::ConnectionRefused(_)
                            | DnsFailure::OutOfTime(_)
                    );
                    let reason = f.to_string();
                    if no_answer {
                        failed.push((probe.selector.clone(), probe.name.clone(), Some(reason)));
                    } else {
                        run.incomplete(
                            &domain,
                            format!("txt lookup of {} failed ({reason})", probe.name),
                            "dns",
                            &probe.name,
                        );
                    }
                    probe.status = Status::Failed;
                }
                DnsOutcome::Records(_) => {
                    let texts: Vec<String> = answer
                        .txt()
                        .into_iter()
                        .filter(|t| looks_like_key_record(t))
                        .collect();
                    if !texts.is_empty() {
                        probe.status = run.analyze(&mut probe, &texts);
                        probe.texts = texts;
                    }
                }
                DnsOutcome::NxDomain | DnsOutcome::NoData => {}
            }
            probes.push(probe);
        }

        run.failed_lookups(failed, config.budget);

        // Findings on each selector's record.
        for probe in &probes {
            run.record_findings(probe);
        }

        // Key history: updated in one locked, synchronous step after all DNS
        // (holding the lock across awaits would stall other domains).
        let mut sightings = Vec::new();
        if let (Some(store), true) = (&store, history_ok) {
            let keys: Vec<KeyEntry> = probes
                .iter()
                .filter_map(|p| key_entry(&domain, p))
                .collect();
            // Read only: the history read above, no lock (which would
            // create a lock file for every domain of an ad-hoc check) and
            // nothing written.
            let opened = match read_history {
                Some(history) if read_only => Ok((history, None)),
                _ => store
                    .lock()
                    .map(|locked| (locked.history.clone(), Some(locked))),
            };
            match opened {
                Ok((mut history, locked)) => {
                    let before = history.selectors_of(&domain);
                    for key in keys {
                        sightings.push(history.see(key, today));
                    }
                    // A new selector published while a known one was revoked or
                    // removed: a rotation by selector (one new per retired one).
                    let retired: Vec<String> = probes
                        .iter()
                        .filter(|p| {
                            before.contains(&p.selector)
                                && matches!(p.status, Status::Revoked(_) | Status::Missing)
                                && history
                                    .current(&domain, &p.selector)
                                    .is_some_and(|k| k.last_seen < today)
                                && !history.rotations.iter().any(|r| {
                                    r.domain == domain
                                        && r.old_selector.as_deref() == Some(p.selector.as_str())
                                })
                        })
                        .map(|p| p.selector.clone())
                        .collect();
                    let mut retired = retired.into_iter();
                    for sighting in &mut sightings {
                        let new_selector = !before.contains(&sighting.entry.selector)
                            && sighting.entry.first_seen == today;
                        if !new_selector || before.is_empty() {
                            continue;
                        }
                        let Some(old) = retired.next() else { break };
                        sighting.rotation = history.replace_selector(&sighting.entry, &old, today);
                    }
                    if let Some(mut locked) = locked {
                        locked.history = history.clone();
                        if let Err(e) = locked.save() {
                            run.history_unusable(&e, &store.path());
                        }
                    }
                    run.history = Some(history);
                }
                Err(e) => run.history_unusable(&e, &store.path()),
            }
        }

        // Ages and rotations, and the facts.
        let mut facts = Vec::new();
        for probe in &probes {
            let sighting = sightings
                .iter()
                .find(|s| s.entry.selector == probe.selector);
            if let Some(rotation) = sighting.and_then(|s| s.rotation.as_ref()) {
                run.rotated(probe, rotation);
            }
            let age = Age::of(probe, sighting.map(|s| (&s.entry, s.age_exact)), today);
            if matches!(probe.status, Status::Valid(..)) {
                run.age_findings(probe, &age, config.rotation_days, today);
            }
            if probe.status.found()
                || probe.expected()
                || probe.sources.contains(&Source::History)
                || matches!(probe.status, Status::Failed)
            {
                facts.push(run.facts(probe, &age, config.rotation_days));
            }
        }

        // A domain that sends mail should have at least one key.
        if !probes.iter().any(|p| p.status.found())
            && !probes.iter().any(|p| matches!(p.status, Status::Failed))
        {
            if let Some(evidence) = sends_mail(ctx, &mut run, deadline, config).await {
                let probed: Vec<&str> = probes.iter().map(|p| p.selector.as_str()).collect();
                let finding = run
                    .finding(
                        &DKIM_KEY_MISSING,
                        &domain,
                        format!(
                            "the domain sends mail ({evidence}) but none of the {} selectors probed has a dkim key",
                            probed.len()
                        ),
                    )
                    .help(
                        "enable dkim signing at every service that sends the domain's mail and publish its keys; \
                         if the domain already signs, list its selectors under `[domains.dkim] selectors = [...]` \
                         (the `s=` tag of a received message's DKIM-Signature header names it)",
                    )
                    .evidence("sends_mail", evidence)
                    .evidence("selectors_probed", probed);
                run.outside(
                    format!(
                        "enable dkim signing at every service that sends mail for {domain} and publish the keys it gives, or list the selectors the domain already signs with under `[domains.dkim] selectors`"
                    ),
                    "the keys come from the signing services",
                    &finding,
                );
                run.push(finding);
            }
        }

        CheckOutput {
            findings: run.findings,
            facts: Some(Value::Array(facts)),
            proposals: run.proposals,
        }
    }
}

/// The history entry for a probe's key, when it has one.
fn key_entry(domain: &str, probe: &Probe) -> Option<KeyEntry> {
    let (Status::Valid(record, _) | Status::Undecodable(record)) = &probe.status else {
        return None;
    };
    let bits = match &probe.status {
        Status::Valid(_, info) => Some(info.bits),
        _ => None,
    };
    Some(KeyEntry {
        domain: domain.to_string(),
        selector: probe.selector.clone(),
        key_sha256: probe.key_sha256.clone()?,
        key_type: record.key_type.as_str().to_string(),
        bits,
        cname_target: probe.cname_target.clone(),
        first_seen: NaiveDate::MIN,
        last_seen: NaiveDate::MIN,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest.iter() {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Whether the domain sends mail: MX records (other than a null MX) or an
/// SPF record that authorises something. `None` when it does not or the
/// lookups failed (then an incomplete finding says so).
async fn sends_mail(
    ctx: &CheckContext,
    run: &mut Run,
    deadline: Instant,
    config: &DkimConfig,
) -> Option<String> {
    let domain = run.domain.clone();
    let query = |rtype| {
        let answer = lookup(ctx.resolver.clone(), domain.clone(), rtype, deadline);
        async move {
            let answer = answer.await.ok_or_else(|| out_of_budget(config))?;
            match answer.failure() {
                Some(f) => Err(f.to_string()),
                None => Ok(answer),
            }
        }
    };
    let mx = match query(RecordType::MX).await {
        Ok(mx) => mx,
        Err(f) => {
            run.incomplete(
                &domain,
                format!("mx lookup of {domain} failed ({f})"),
                "dns",
                &domain,
            );
            return None;
        }
    };
    let exchanges: Vec<String> = mx
        .records()
        .iter()
        .filter_map(|r| match r {
            authwarden_api::Rdata::Mx { exchange, .. }
                if !exchange.is_empty() && exchange != "." =>
            {
                Some(exchange.clone())
            }
            _ => None,
        })
        .collect();
    if !exchanges.is_empty() {
        return Some(format!("mx {}", exchanges.join(", ")));
    }
    let txt = match query(RecordType::TXT).await {
        Ok(txt) => txt,
        Err(f) => {
            run.incomplete(
                &domain,
                format!("txt lookup of {domain} failed ({f})"),
                "dns",
                &domain,
            );
            return None;
        }
    };
    txt.txt()
        .into_iter()
        .find(|t| {
            let lower = t.to_ascii_lowercase();
            let mut terms = lower.split_whitespace();
            terms.next() == Some("v=spf1") && terms.any(|t| t != "-all")
        })
        .map(|spf| format!("spf `{spf}`"))
}

/// Looks `name` up unless the budget runs out first (`None`).
/// Adds a selector with its source, once.
fn add_selector(selectors: &mut Vec<(String, Vec<Source>)>, s: &str, source: Source) {
    let s = s.trim().to_ascii_lowercase();
    if validate_selector(&s).is_err() {
        return;
    }
    match selectors.iter_mut().find(|(name, _)| *name == s) {
        Some((_, sources)) if !sources.contains(&source) => sources.push(source),
        Some(_) => {}
        None => selectors.push((s, vec![source])),
    }
}

/// Looks up the key records of `selectors[from..]`, `probe_concurrency` at
/// a time; the answers in the selectors' order, `None` where the budget ran
/// out first.
async fn lookup_selectors(
    ctx: &CheckContext,
    domain: &str,
    selectors: &[(String, Vec<Source>)],
    from: usize,
    deadline: Instant,
    config: &DkimConfig,
) -> Vec<Option<DnsAnswer>> {
    let names: Vec<String> = selectors[from..]
        .iter()
        .map(|(selector, _)| format!("{selector}._domainkey.{domain}"))
        .collect();
    stream::iter(names)
        .map(|name| lookup(ctx.resolver.clone(), name, RecordType::TXT, deadline))
        .buffered(config.probe_concurrency)
        .collect()
        .await
}

async fn lookup(
    resolver: Arc<dyn Resolver>,
    name: String,
    rtype: RecordType,
    deadline: Instant,
) -> Option<DnsAnswer> {
    // Checked first: a timeout polls its future once even when past due.
    if Instant::now() >= deadline {
        return None;
    }
    timeout_at(deadline, resolver.query(&name, rtype))
        .await
        .ok()
}

/// Why a lookup has no answer when the budget ran out first.
fn out_of_budget(config: &DkimConfig) -> String {
    format!(
        "not answered: the dkim check's budget of {:?} for the domain ran out",
        config.budget
    )
}

/// How old a key is and how that is known.
struct Age {
    first_seen: Option<NaiveDate>,
    selector_date: Option<NaiveDate>,
    /// The larger of the two lower bounds.
    days: Option<i64>,
    /// `history` or `selector-name`: which bound `days` is.
    source: Option<&'static str>,
    exact: bool,
    /// The date the age counts from.
    base: Option<NaiveDate>,
}

impl Age {
    fn of(probe: &Probe, entry: Option<(&KeyEntry, bool)>, today: NaiveDate) -> Age {
        let first_seen = entry.map(|(e, _)| e.first_seen);
        let selector_date = if matches!(probe.status, Status::Valid(..) | Status::Undecodable(_)) {
            selector_date(&probe.selector).filter(|d| *d <= today)
        } else {
            None
        };
        let by_history = first_seen.map(|d| (today - d).num_days());
        let by_name = selector_date.map(|d| (today - d).num_days());
        let (days, source, base) = match (by_history, by_name) {
            (Some(h), Some(n)) if n > h => (Some(n), Some("selector-name"), selector_date),
            (Some(h), _) => (Some(h), Some("history"), first_seen),
            (None, Some(n)) => (Some(n), Some("selector-name"), selector_date),
            (None, None) => (None, None, None),
        };
        Age {
            first_seen,
            selector_date,
            days,
            source,
            exact: source == Some("history") && entry.is_some_and(|(_, exact)| exact),
            base,
        }
    }

    fn next_rotation(&self, rotation_days: u32) -> Option<NaiveDate> {
        self.base
            .map(|b| b + Duration::days(i64::from(rotation_days)))
    }
}

/// Collects the findings for one domain.
struct Run {
    domain: String,
    findings: Vec<Finding>,
    proposals: Vec<Proposal>,
    history: Option<KeyHistory>,
}

impl Run {
    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// Proposes `action` outside DNS as the resolution of `finding`.
    fn outside(&mut self, action: String, reason: &str, finding: &Finding) {
        self.proposals.push(Proposal::new(
            Change::Outside { action },
            reason,
            vec![FindingRef::to(finding)],
        ));
    }

    fn finding(&self, code: &CodeInfo, subject: &str, message: String) -> Finding {
        Finding::new(CHECKER_ID, code, &self.domain, message).subject(subject)
    }

    fn incomplete(&mut self, subject: &str, message: String, stage: &str, at: &str) {
        let finding = self
            .finding(&DKIM_INCOMPLETE, subject, message)
            .help(match stage {
                "dns" => "check the name servers of the domain (they failed to answer); the next run retries",
                "history" => "check that the history folder is writable and the key history file is valid json; key ages are unknown in this run",
                _ => "correct the setting named in the message; the checker ran with defaults where it could",
            })
            .evidence("stage", stage)
            .evidence("at", at);
        self.push(finding);
    }

    /// The key history could not be read or written: key ages and
    /// rotations are unknown in this run. A damaged file is named with its
    /// error and left as it is.
    fn history_unusable(&mut self, error: &StoreError, path: &Path) {
        let file = path.display().to_string();
        let StoreError::Damaged { reason, .. } = error else {
            let domain = self.domain.clone();
            self.incomplete(&domain, error.to_string(), "history", &file);
            return;
        };
        let finding = self
            .finding(
                &DKIM_INCOMPLETE,
                &self.domain,
                format!(
                    "key history {file} is damaged ({reason}): key ages and rotations are unknown in this run, \
                     and the file is left as it is"
                ),
            )
            .help(
                "repair the file (it is json; the error names the line and column) or restore it from a backup; \
                 until then every run reports it and writes nothing; deleting it starts the key history afresh \
                 and every key's age restarts from that day",
            )
            .evidence("stage", "history")
            .evidence("at", file.as_str())
            .evidence("file", file.as_str())
            .evidence("error", reason.as_str())
            .evidence("key_ages", "unknown");
        self.push(finding);
    }

    /// One "check incomplete" finding per reason the selector lookups got
    /// no answer for (a dead name server fails them all the same way;
    /// `None`: not probed, the budget ran out): a lone failed lookup keeps
    /// its own finding, several are listed in one.
    fn failed_lookups(
        &mut self,
        failed: Vec<(String, String, Option<String>)>,
        budget: StdDuration,
    ) {
        let mut reasons: Vec<Option<&str>> = Vec::new();
        for (_, _, reason) in &failed {
            if !reasons.contains(&reason.as_deref()) {
                reasons.push(reason.as_deref());
            }
        }
        let subject = format!("_domainkey.{}", self.domain);
        for reason in reasons {
            let group: Vec<&(String, String, Option<String>)> = failed
                .iter()
                .filter(|(_, _, r)| r.as_deref() == reason)
                .collect();
            let selectors: Vec<&str> = group.iter().map(|(s, _, _)| s.as_str()).collect();
            let finding = match (reason, group.as_slice()) {
                (Some(reason), [(_, name, _)]) => {
                    let domain = self.domain.clone();
                    self.incomplete(
                        &domain,
                        format!("txt lookup of {name} failed ({reason})"),
                        "dns",
                        name,
                    );
                    continue;
                }
                (Some(reason), _) => self
                    .finding(
                        &DKIM_INCOMPLETE,
                        &subject,
                        format!(
                            "txt lookups of {} selectors failed ({reason}): {}",
                            selectors.len(),
                            selectors.join(", ")
                        ),
                    )
                    .help(
                        "check the name servers of the domain (they failed to answer); the selectors that \
                         answered are checked as usual, the next run retries these",
                    )
                    .evidence("stage", "dns")
                    .evidence("reason", reason),
                (None, _) => self
                    .finding(
                        &DKIM_INCOMPLETE,
                        &subject,
                        format!(
                            "{} selector{} not probed: the dkim check's budget of {budget:?} for the domain ran out ({})",
                            selectors.len(),
                            if selectors.len() == 1 { "" } else { "s" },
                            selectors.join(", ")
                        ),
                    )
                    .help(
                        "the name servers answer too slowly or not at all; the selectors that answered are \
                         checked as usual and the next run retries these; if the servers are only slow, \
                         raise `[checkers.dkim] budget`",
                    )
                    .evidence("stage", "budget")
                    .evidence("budget_seconds", budget.as_secs_f64()),
            };
            let finding = finding
                .evidence("at", subject.as_str())
                .evidence("selectors", selectors);
            self.push(finding);
        }
    }

    /// Parses and measures the key record(s) found at a selector.
    fn analyze(&mut self, probe: &mut Probe, texts: &[String]) -> Status {
        if texts.len() > 1 {
            let finding = self
                .finding(
                    &DKIM_RECORD_MALFORMED,
                    &probe.name,
                    format!(
                        "{} key records at selector {}, receivers pick one at random",
                        texts.len(),
                        probe.selector
                    ),
                )
                .help(
                    "publish exactly one key record per selector; use a new selector for a new key",
                )
                .evidence("selector", probe.selector.as_str())
                .evidence("records", texts.to_vec());
            self.outside(
                format!(
                    "keep one key record at {} (the one {} signs with) and delete the others; a new key gets a new selector",
                    probe.name,
                    probe.holder()
                ),
                "which key signs is not visible in dns",
                &finding,
            );
            self.push(finding);
        }
        let text = &texts[0];
        let record = match parse_record(text) {
            Ok(r) => r,
            Err(e) => {
                let finding = self
                    .finding(
                        &DKIM_RECORD_MALFORMED,
                        &probe.name,
                        format!(
                            "key record at selector {} is malformed: {e}",
                            probe.selector
                        ),
                    )
                    .help(format!(
                        "correct the `{}` tag; a minimal record is `v=DKIM1; k=rsa; p=<base64 key>`",
                        e.tag
                    ))
                    .evidence("selector", probe.selector.as_str())
                    .evidence("tag", e.tag.as_str())
                    .evidence("reason", e.reason.as_str())
                    .evidence("record", text.as_str());
                self.outside(
                    format!(
                        "publish the key record of selector {} again exactly as {} gives it (the `{}` tag is malformed)",
                        probe.selector,
                        probe.holder(),
                        e.tag
                    ),
                    "the key is the signing service's",
                    &finding,
                );
                self.push(finding);
                return Status::Malformed;
            }
        };
        if record.revoked() {
            return Status::Revoked(record);
        }
        let decoded = decode_base64(&record.public_key);
        probe.key_sha256 = Some(sha256_hex(match &decoded {
            Ok(der) => der,
            Err(_) => record.public_key.as_bytes(),
        }));
        match decoded.and_then(|der| analyze_der(record.key_type, &der)) {
            Ok(info) => Status::Valid(record, info),
            Err(e) => {
                let finding = self
                    .finding(
                        &DKIM_KEY_UNDECODABLE,
                        &probe.name,
                        format!("key at selector {} cannot be decoded: {e}", probe.selector),
                    )
                    .help(
                        "publish the key again exactly as the signing service gives it; \
                         for a key longer than 255 bytes make sure every string of the record is there",
                    )
                    .evidence("selector", probe.selector.as_str())
                    .evidence("k", record.key_type.as_str())
                    .evidence("reason", e.0.as_str())
                    .evidence("p_length", record.public_key.len());
                self.outside(
                    format!(
                        "publish the key of selector {} again exactly as {} gives it, every string of the record included",
                        probe.selector,
                        probe.holder()
                    ),
                    "the key is the signing service's",
                    &finding,
                );
                self.push(finding);
                Status::Undecodable(record)
            }
        }
    }

    fn record_findings(&mut self, probe: &Probe) {
        let sel = probe.selector.as_str();
        let sources: Vec<&str> = probe.sources.iter().map(|s| s.as_str()).collect();
        match &probe.status {
            Status::Missing if probe.sources.contains(&Source::Configured) => {
                let finding = self
                    .finding(
                        &DKIM_SELECTOR_MISSING,
                        &probe.name,
                        format!("configured selector {sel} has no dkim key at {}", probe.name),
                    )
                    .help(format!(
                        "publish the key record for {sel} that the signing service gives you, \
                         or remove {sel} from `[domains.dkim] selectors` if the service no longer sends"
                    ))
                    .evidence("selector", sel)
                    .evidence("cname_target", probe.cname_target.clone());
                self.outside(
                    format!(
                        "publish the key record {} gives for selector {sel} at {}, or remove {sel} from `[domains.dkim] selectors` if the service no longer sends",
                        probe.holder(),
                        probe.name
                    ),
                    "the key is the signing service's",
                    &finding,
                );
                self.push(finding);
            }
            Status::Revoked(_) if probe.expected() => {
                let in_reports = probe.sources.contains(&Source::Observed);
                let in_config = probe.sources.contains(&Source::Configured);
                let why = match (in_reports, in_config) {
                    (true, true) => {
                        "still listed in config and seen signing mail in aggregate reports"
                    }
                    (true, false) => "still seen signing mail in aggregate reports",
                    _ => "still listed in config",
                };
                let help = if in_reports {
                    format!(
                        "find the service still signing with {sel} (the aggregate reports name its source ips) \
                         and move it to the current key"
                    )
                } else {
                    format!(
                        "remove {sel} from `[domains.dkim] selectors`, or publish its current key if it is still in use"
                    )
                };
                let finding = self
                    .finding(
                        &DKIM_KEY_REVOKED,
                        &probe.name,
                        format!("selector {sel} is revoked (empty `p=`) but {why}"),
                    )
                    .help(help)
                    .evidence("selector", sel)
                    .evidence("sources", sources.clone());
                // Removing the revoked record would not help: the selector
                // is still expected. What signs with it is to change.
                let action = if in_reports {
                    format!("move the service still signing with selector {sel} to the current key")
                } else {
                    format!(
                        "remove {sel} from `[domains.dkim] selectors`, or publish its current key if it is still in use"
                    )
                };
                self.outside(action, "a revoked selector verifies nothing", &finding);
                self.push(finding);
            }
            _ => {}
        }
        if let Some(record) = probe.status.record() {
            // t=y and h=sha1 are both edits of the one record: they become
            // one replacement resolving both findings.
            let mut edited: Vec<FindingRef> = Vec::new();
            if record.testing() {
                let finding = self
                    .finding(
                        &DKIM_TESTING,
                        &probe.name,
                        format!("key at selector {sel} is in testing mode (`t=y`)"),
                    )
                    .help("remove `y` from the `t=` tag once signatures verify")
                    .evidence("selector", sel)
                    .evidence("flags", record.flags.clone());
                edited.push(FindingRef::to(&finding));
                self.push(finding);
            }
            if record.sha1_only() {
                let finding = self
                    .finding(
                        &DKIM_SHA1_ONLY,
                        &probe.name,
                        format!("key at selector {sel} allows only sha1 (`h=sha1`), which receivers reject"),
                    )
                    .help("sign with rsa-sha256 and remove the `h=` tag (or set `h=sha256`)")
                    .evidence("selector", sel)
                    .evidence("h", record.hashes.clone());
                edited.push(FindingRef::to(&finding));
                self.outside(
                    format!(
                        "sign with rsa-sha256 for selector {sel} at {}",
                        probe.holder()
                    ),
                    "verifiers reject rsa-sha1 signatures (rfc 8301)",
                    &finding,
                );
                self.push(finding);
            }
            if !edited.is_empty() {
                self.propose_record_edit(probe, edited);
            }
        }
        if let Status::Valid(record, info) = &probe.status {
            if record.key_type == KeyType::Rsa && info.bits < 2048 {
                let (code, message, help) = if info.bits < 1024 {
                    (
                        &DKIM_RSA_TOO_SHORT,
                        format!(
                            "rsa key at selector {sel} is {} bits, under the 1024 receivers accept",
                            info.bits
                        ),
                        "publish a 2048-bit key under a new selector, switch signing to it, then revoke this one (`p=`)",
                    )
                } else {
                    (
                        &DKIM_RSA_WEAK,
                        format!(
                            "rsa key at selector {sel} is {} bits, rfc 8301 asks for 2048",
                            info.bits
                        ),
                        "rotate to a 2048-bit key under a new selector (split the record into 255-byte strings)",
                    )
                };
                let mut help = help.to_string();
                if let Some(provider) = &probe.managed_by {
                    let _ = write!(
                        help,
                        "; the key is delegated to {provider}, ask them for a longer key"
                    );
                }
                let finding = self
                    .finding(code, &probe.name, message)
                    .help(help)
                    .evidence("selector", sel)
                    .evidence("key_bits", info.bits)
                    .evidence("key_format", info.format.as_str());
                self.outside(
                    format!(
                        "rotate the key of selector {sel} at {} to a 2048-bit key under a new selector, then revoke {sel} (`p=`)",
                        probe.holder()
                    ),
                    "a new key is generated where mail is signed",
                    &finding,
                );
                self.push(finding);
            }
        }
    }

    /// The key record without `y` in `t=` and without `h=`, replacing the
    /// one published, as the resolution of `resolves`: only for a single
    /// record in the domain's own DNS (a delegated selector's record is the
    /// provider's, asked for outside DNS).
    fn propose_record_edit(&mut self, probe: &Probe, resolves: Vec<FindingRef>) {
        let [text] = probe.texts.as_slice() else {
            return;
        };
        if let Some(provider) = &probe.managed_by {
            self.proposals.push(Proposal::new(
                Change::Outside {
                    action: format!(
                        "ask {provider} to publish the key of selector {} without `t=y` and `h=sha1`",
                        probe.selector
                    ),
                },
                "the selector is delegated by cname",
                resolves,
            ));
            return;
        }
        let fixed = without_testing_and_sha1(text);
        if fixed == *text {
            return;
        }
        let reason = match probe.status.record() {
            Some(r) if r.testing() && r.sha1_only() => {
                "the same key, out of testing mode and allowing sha256"
            }
            Some(r) if r.testing() => "the same key, out of testing mode",
            _ => "the same key, allowing sha256",
        };
        self.proposals.push(Proposal::new(
            Change::RemoveTxt {
                name: probe.name.clone(),
                value: Some(text.clone()),
            },
            reason,
            resolves.clone(),
        ));
        self.proposals.push(Proposal::new(
            Change::PublishTxt {
                name: probe.name.clone(),
                value: fixed,
                publisher: Publisher::Us,
                replace: false,
            },
            reason,
            resolves,
        ));
    }

    fn rotated(&mut self, probe: &Probe, rotation: &RotationEvent) {
        let message = match &rotation.old_selector {
            None => format!(
                "new key at selector {} since the previous run (rotated on {})",
                probe.selector, rotation.date
            ),
            Some(old) => format!(
                "new selector {} replaces {old}, which was revoked or removed (rotated on {})",
                probe.selector, rotation.date
            ),
        };
        let finding = self
            .finding(&DKIM_KEY_ROTATED, &probe.name, message)
            .help("nothing to do if the rotation was planned; otherwise find out who changed the record")
            .evidence("selector", probe.selector.as_str())
            .evidence("date", rotation.date.to_string())
            .evidence("old_sha256", rotation.old_sha256.as_str())
            .evidence("new_sha256", rotation.new_sha256.as_str())
            .evidence("old_selector", rotation.old_selector.clone());
        self.push(finding);
    }

    fn age_findings(&mut self, probe: &Probe, age: &Age, rotation_days: u32, today: NaiveDate) {
        let Some(days) = age.days else { return };
        let interval = i64::from(rotation_days);
        let code = if days > 2 * interval {
            &DKIM_ROTATION_OVERDUE
        } else if days > interval {
            &DKIM_ROTATION_DUE
        } else {
            return;
        };
        let sel = probe.selector.as_str();
        let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_default();
        let (how, why) = match (age.source, age.exact) {
            (Some("history"), true) => (
                format!("is {days} days old"),
                format!(" (published {})", date(age.first_seen)),
            ),
            (Some("history"), _) => (
                format!("is unchanged for at least {days} days"),
                format!(
                    " (the same key since first seen on {})",
                    date(age.first_seen)
                ),
            ),
            _ => (
                format!("is at least {days} days old"),
                format!(
                    " (going by the date {} in the selector name; no key history yet)",
                    date(age.selector_date)
                ),
            ),
        };
        let past = if code == &DKIM_ROTATION_OVERDUE {
            "past twice"
        } else {
            "past"
        };
        let mut message = format!(
            "key at selector {sel} {how}, {past} the {rotation_days}-day rotation interval{why}"
        );
        let mut help = String::from(
            "publish a new key under a new selector, switch signing to it, then revoke the old selector (`p=`)",
        );
        if let Some(provider) = &probe.managed_by {
            let _ = write!(message, "; rotation is managed by {provider}");
            help = format!(
                "the key is delegated by cname to {}: rotation is managed by {provider}, trigger it in their console or ask them",
                probe.cname_target.as_deref().unwrap_or_default()
            );
        }
        let finding = self
            .finding(code, &probe.name, message)
            .help(help)
            .evidence("selector", sel)
            .evidence("key_age_days", days)
            .evidence("age_source", age.source)
            .evidence("age_exact", age.exact)
            .evidence("rotation_days", rotation_days)
            .evidence("first_seen", age.first_seen.map(|d| d.to_string()))
            .evidence("selector_date", age.selector_date.map(|d| d.to_string()))
            .evidence("today", today.to_string())
            .evidence("managed_by", probe.managed_by.clone());
        let action = match &probe.managed_by {
            Some(provider) => format!(
                "trigger the rotation of the key of selector {sel} at {provider} (delegated by cname to {})",
                probe.cname_target.as_deref().unwrap_or_default()
            ),
            None => format!(
                "rotate the key of selector {sel} at {}: a new key under a new selector, signing switched to it, then {sel} revoked (`p=`)",
                probe.holder()
            ),
        };
        self.outside(
            action,
            "a new key is generated where mail is signed",
            &finding,
        );
        self.push(finding);
    }

    fn facts(&self, probe: &Probe, age: &Age, rotation_days: u32) -> Value {
        let record = probe.status.record();
        let info = match &probe.status {
            Status::Valid(_, info) => Some(info),
            _ => None,
        };
        let rotations: Vec<Value> = self
            .history
            .as_ref()
            .map(|h| {
                h.rotations_of(&self.domain, &probe.selector)
                    .map(|r| {
                        json!({
                            "date": r.date.to_string(),
                            "old_sha256": r.old_sha256,
                            "new_sha256": r.new_sha256,
                            "old_selector": r.old_selector,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let date = |d: Option<NaiveDate>| {
            d.map(|d| Value::String(d.to_string()))
                .unwrap_or(Value::Null)
        };
        let mut facts = Map::new();
        facts.insert("selector".into(), probe.selector.clone().into());
        facts.insert("found".into(), probe.status.found().into());
        facts.insert("status".into(), probe.status.as_str().into());
        facts.insert(
            "key_type".into(),
            record.map(|r| r.key_type.as_str()).into(),
        );
        facts.insert("key_bits".into(), info.map(|i| i.bits).into());
        facts.insert("key_format".into(), info.map(|i| i.format.as_str()).into());
        facts.insert("key_sha256".into(), probe.key_sha256.clone().into());
        facts.insert("cname_target".into(), probe.cname_target.clone().into());
        facts.insert("managed_by".into(), probe.managed_by.clone().into());
        facts.insert(
            "revoked".into(),
            matches!(probe.status, Status::Revoked(_)).into(),
        );
        facts.insert("testing".into(), record.is_some_and(|r| r.testing()).into());
        facts.insert(
            "sha1_only".into(),
            record.is_some_and(|r| r.sha1_only()).into(),
        );
        facts.insert(
            "sources".into(),
            probe
                .sources
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .into(),
        );
        facts.insert("first_seen".into(), date(age.first_seen));
        facts.insert("selector_date".into(), date(age.selector_date));
        facts.insert("key_age_days".into(), age.days.into());
        facts.insert("age_source".into(), age.source.into());
        facts.insert("age_exact".into(), age.exact.into());
        facts.insert(
            "next_rotation".into(),
            date(
                matches!(probe.status, Status::Valid(..))
                    .then(|| age.next_rotation(rotation_days))
                    .flatten(),
            ),
        );
        facts.insert("rotations".into(), rotations.into());
        Value::Object(facts)
    }
}

/// A key record's text without `y` in `t=` (the tag dropped when nothing
/// else is in it) and without `h=` (every hash allowed); the other tags as
/// written.
fn without_testing_and_sha1(text: &str) -> String {
    let mut tags = Vec::new();
    for tag in text.split(';').map(str::trim).filter(|t| !t.is_empty()) {
        let name = tag.split('=').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("h") {
            continue;
        }
        if name.eq_ignore_ascii_case("t") {
            let value = tag.split_once('=').map(|(_, v)| v).unwrap_or_default();
            let flags: Vec<&str> = value
                .split(':')
                .map(str::trim)
                .filter(|f| !f.is_empty() && !f.eq_ignore_ascii_case("y"))
                .collect();
            if !flags.is_empty() {
                tags.push(format!("t={}", flags.join(":")));
            }
            continue;
        }
        tags.push(tag.to_string());
    }
    tags.join("; ")
}

#[cfg(test)]
mod settings_tests {
    use super::*;

    #[test]
    fn a_record_leaves_testing_mode_and_allows_sha256() {
        assert_eq!(
            without_testing_and_sha1("v=DKIM1; k=rsa; t=y; h=sha1; p=MIIB"),
            "v=DKIM1; k=rsa; p=MIIB"
        );
        assert_eq!(
            without_testing_and_sha1("v=DKIM1;t=y:s;p=MIIB;"),
            "v=DKIM1; t=s; p=MIIB"
        );
        assert_eq!(
            without_testing_and_sha1("v=DKIM1; p=MIIB"),
            "v=DKIM1; p=MIIB"
        );
    }

    /// Every key the spec lists is one `DkimConfig::from_value` reads, so
    /// config validation and the checker agree on the table.
    #[test]
    fn the_spec_lists_the_keys_the_parser_reads() {
        let full = json!({
            "probe_catalog": false,
            "catalog": ["s1", {"name": "corp", "provider": "our mta", "domains": ["example.net"]}],
            "rotation_days": 30,
            "budget": "2m",
            "probe_concurrency": 64,
        });
        let names: Vec<&str> = SETTINGS.checker.iter().map(|k| k.name).collect();
        assert_eq!(
            names,
            full.as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        let config = DkimConfig::from_value(&full).expect("every spec key parses");
        assert_eq!(config.budget, StdDuration::from_secs(120));
        assert!(DkimConfig::from_value(&json!({"rotaton_days": 30})).is_err());
        assert!(DkimConfig::from_value(&json!({"probe_concurrency": 65})).is_err());
    }

    #[test]
    fn settings_are_parsed_once_for_the_same_value() {
        let settings = json!({"rotation_days": 45});
        let first = parsed_config(&settings);
        let second = parsed_config(&settings);
        assert!(Arc::ptr_eq(&first, &second) || first == second);
        assert_eq!(first.as_ref().as_ref().unwrap().rotation_days, 45);
        let other = parsed_config(&json!({"rotation_days": 60}));
        assert_eq!(other.as_ref().as_ref().unwrap().rotation_days, 60);
    }
}
