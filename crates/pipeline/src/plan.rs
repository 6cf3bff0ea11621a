//! The plan stage: every change the checkers propose for a domain merged
//! into one change per DNS name, consistent with the rollout decision, and
//! verified before it is shown.
//!
//! The rules (written out for users in `docs/PLAN.md`):
//!
//! 1. Proposals are grouped by the DNS name they change. At each name the
//!    TXT records of today are read through the run's resolver; the plan
//!    says what the name holds before and after, so that one record is
//!    published per name and type (one DMARC record, one SPF record).
//! 2. A [`Change::Hold`] at a DMARC record drops every
//!    [`DmarcEditKind::Strengthen`] edit of that record; the dropped step
//!    is listed with the hold's reasons.
//! 3. Edits are applied most important first: fixes, then relaxations,
//!    then rollout steps; among equals, the one resolving the more severe
//!    finding, then checker order. A tag (DMARC) or the `all` term (SPF)
//!    set by a more important edit is not changed by a later one: a fix
//!    keeps the rest of its tags, a rollout step or a relaxation that would
//!    change such a tag is dropped whole (a step is one coherent policy).
//!    So a relaxation beats a step, and of two steps the more urgent wins.
//! 4. A DMARC record is rebuilt from today's valid record (or `v=DMARC1`
//!    when there is none) with `v` first and `p` second; every other DMARC
//!    record at the name goes. An SPF record likewise: terms removed as
//!    written, terms added before the `all` term, one record.
//! 5. [`Change::PublishTxt`] with `replace` replaces the records with the
//!    same `v=` tag; [`Change::RemoveTxt`] removes the one record or all.
//! 6. Actions outside DNS are listed once each with the findings they
//!    resolve.
//! 7. Verification: the checks run again with every change of the plan
//!    answered by an overlay over the run's resolver, with the checkers'
//!    state read but never written. A finding of this run the checks no
//!    longer report is resolved; one they still report remains; a warning
//!    or error they report only with the plan applied is introduced, and
//!    shown with the plan.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use authwarden_api::plan::{
    Change, DmarcEditKind, DomainPlan, DroppedProposal, FindingRef, HoldNote, NameChange,
    OutsideStep, Proposal, Publisher,
};
use authwarden_api::{
    async_trait, dns::normalize_name, CheckContext, DnsAnswer, DnsOutcome, DomainTarget, Finding,
    Rdata, RecordType, Resolver, RunPaths, Severity,
};
use authwarden_engine::{Engine, RunOutcome};

/// Plans every domain of `outcome` and verifies the plans: the checks of
/// `engine` run again over the domains with changes, against `ctx`'s
/// resolver with the plans applied and the checkers' state read only.
pub async fn plan_and_verify(
    engine: &Engine,
    ctx: &CheckContext,
    targets: &[DomainTarget],
    outcome: &RunOutcome,
) -> Vec<DomainPlan> {
    let mut plans = Vec::with_capacity(outcome.domains.len());
    for d in &outcome.domains {
        plans.push(plan_domain(&*ctx.resolver, outcome, &d.domain, &[]).await);
    }
    // Proposals the re-check makes for findings the plan would introduce
    // (e.g. `-all` once DMARC enforces), folded into the plan: at most
    // three rounds, each planning and checking again only the domains that
    // got new proposals.
    let mut extra: HashMap<String, Vec<Proposal>> = HashMap::new();
    let mut todo: BTreeSet<String> = plans.iter().map(|p| p.domain.clone()).collect();
    for _round in 0..3 {
        let Some(after) = verify(engine, ctx, targets, outcome, &mut plans, &todo).await else {
            break;
        };
        let mut more = BTreeSet::new();
        for plan in plans.iter().filter(|p| todo.contains(&p.domain)) {
            let introduced: BTreeSet<&FindingRef> = plan.verification.introduced.iter().collect();
            let Some(report) = after.domains.iter().find(|d| d.domain == plan.domain) else {
                continue;
            };
            for p in &report.proposals {
                let step = matches!(
                    p.change,
                    Change::DmarcTags {
                        kind: DmarcEditKind::Strengthen,
                        ..
                    } | Change::Hold { .. }
                );
                if step || !p.resolves.iter().any(|r| introduced.contains(r)) {
                    continue;
                }
                let list = extra.entry(plan.domain.clone()).or_default();
                if !list.contains(p) {
                    list.push(p.clone());
                    more.insert(plan.domain.clone());
                }
            }
        }
        if more.is_empty() {
            break;
        }
        for plan in plans.iter_mut().filter(|p| more.contains(&p.domain)) {
            *plan = plan_domain(&*ctx.resolver, outcome, &plan.domain, &extra[&plan.domain]).await;
        }
        todo = more;
    }
    plans
}

/// The merged plan of `domain` from its proposals in `outcome` and `extra`.
async fn plan_domain(
    resolver: &dyn Resolver,
    outcome: &RunOutcome,
    domain: &str,
    extra: &[Proposal],
) -> DomainPlan {
    let findings: Vec<&Finding> = outcome
        .findings
        .iter()
        .filter(|f| f.domain == domain)
        .collect();
    let mut proposals: Vec<Proposal> = outcome
        .domains
        .iter()
        .find(|d| d.domain == domain)
        .map(|d| d.proposals.clone())
        .unwrap_or_default();
    let followups = proposals.len();
    proposals.extend(extra.iter().cloned());
    merge_with_followups(resolver, domain, &proposals, followups, &findings).await
}

/// The TXT records at each name once every plan is applied.
fn overlay_of(plans: &[DomainPlan]) -> HashMap<String, Vec<String>> {
    let mut names = HashMap::new();
    for plan in plans {
        for c in &plan.changes {
            names.insert(normalize_name(&c.name), c.after.clone());
        }
    }
    names
}

/// Runs the checks of the domains in `only` again with every plan applied
/// and fills in their plans' [`authwarden_api::plan::Verification`].
async fn verify(
    engine: &Engine,
    ctx: &CheckContext,
    targets: &[DomainTarget],
    outcome: &RunOutcome,
    plans: &mut [DomainPlan],
    only: &BTreeSet<String>,
) -> Option<RunOutcome> {
    let changed: BTreeSet<String> = plans
        .iter()
        .filter(|p| !p.changes.is_empty() && only.contains(&p.domain))
        .map(|p| p.domain.clone())
        .collect();
    for plan in plans.iter_mut().filter(|p| only.contains(&p.domain)) {
        if plan.changes.is_empty() {
            plan.verification.note = Some(if plan.outside.is_empty() {
                "nothing to change in DNS".into()
            } else {
                "no DNS change: the steps are outside DNS".into()
            });
            plan.verification.remaining = refs(outcome, &plan.domain, |_| true);
        }
    }
    if changed.is_empty() {
        return None;
    }
    let overlay = Overlay {
        inner: ctx.resolver.clone(),
        names: overlay_of(plans),
    };
    let mut again = ctx.clone();
    again.resolver = Arc::new(overlay);
    if let Some(paths) = ctx.extensions.get::<RunPaths>() {
        again
            .extensions
            .insert(Arc::new(RunPaths::read_only(paths.data_dir.clone())));
    }
    let again_targets: Vec<DomainTarget> = targets
        .iter()
        .filter(|t| changed.contains(&t.name))
        .cloned()
        .collect();
    let after = engine.run(&again, &again_targets, &|| {}).await;
    for plan in plans.iter_mut().filter(|p| changed.contains(&p.domain)) {
        let before: BTreeSet<FindingRef> =
            refs(outcome, &plan.domain, |_| true).into_iter().collect();
        let incomplete = after
            .incomplete_checks()
            .into_iter()
            .filter(|(d, _)| *d == plan.domain)
            .count();
        let now: BTreeSet<FindingRef> = refs(&after, &plan.domain, |_| true).into_iter().collect();
        let serious: BTreeSet<FindingRef> =
            refs(&after, &plan.domain, |f| f.severity != Severity::Note)
                .into_iter()
                .collect();
        let v = &mut plan.verification;
        v.verified = true;
        v.resolved = before.difference(&now).cloned().collect();
        // An action outside DNS whose findings the DNS changes already
        // resolve is not needed.
        let resolved = &v.resolved;
        plan.outside
            .retain(|o| o.resolves.is_empty() || !o.resolves.iter().all(|r| resolved.contains(r)));
        v.remaining = before.intersection(&now).cloned().collect();
        v.introduced = serious.difference(&before).cloned().collect();
        if incomplete > 0 {
            v.note = Some(format!(
                "{incomplete} check(s) did not complete when run again: what they would find is unknown"
            ));
        }
    }
    Some(after)
}

/// The references of `outcome`'s findings of `domain` that `keep`.
fn refs(outcome: &RunOutcome, domain: &str, keep: impl Fn(&Finding) -> bool) -> Vec<FindingRef> {
    let mut out: Vec<FindingRef> = outcome
        .findings
        .iter()
        .filter(|f| f.domain == domain && keep(f))
        .map(FindingRef::to)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A resolver answering TXT queries of the plan's names from the plan and
/// everything else from `inner`.
struct Overlay {
    inner: Arc<dyn Resolver>,
    names: HashMap<String, Vec<String>>,
}

#[async_trait]
impl Resolver for Overlay {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        let key = normalize_name(name);
        if rtype == RecordType::TXT {
            if let Some(records) = self.names.get(&key) {
                let outcome = if records.is_empty() {
                    // The name may still hold other types: ask, and answer
                    // NXDOMAIN only when the name had nothing but TXT.
                    match self.inner.query(name, RecordType::A).await.outcome {
                        DnsOutcome::NxDomain => DnsOutcome::NxDomain,
                        _ => DnsOutcome::NoData,
                    }
                } else {
                    DnsOutcome::Records(records.iter().map(|r| txt_rdata(r)).collect())
                };
                return DnsAnswer {
                    name: key,
                    rtype,
                    cname_chain: Vec::new(),
                    outcome,
                };
            }
        }
        self.inner.query(name, rtype).await
    }

    fn queries_sent(&self) -> u64 {
        self.inner.queries_sent()
    }
}

/// A TXT record's data: the text in character-strings of at most 255 bytes.
fn txt_rdata(text: &str) -> Rdata {
    Rdata::Txt(text.as_bytes().chunks(255).map(<[u8]>::to_vec).collect())
}

/// How important a proposal is: lower first.
fn rank(p: &Proposal, severity: &HashMap<(&str, &str), Severity>) -> (u8, u8, i8, u8) {
    let kind = match &p.change {
        Change::DmarcTags { kind, .. } => match kind {
            DmarcEditKind::Fix => 0,
            DmarcEditKind::Relax => 1,
            DmarcEditKind::Strengthen => 2,
        },
        _ => 0,
    };
    let worst = p
        .resolves
        .iter()
        .filter_map(|r| severity.get(&(r.code.as_str(), r.subject.as_str())))
        .map(|s| match s {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Note => 2,
        })
        .min()
        .unwrap_or(3);
    // A publish that replaces a record decides it: term and tag edits of
    // the same record come after it (and are dropped, see `merge`).
    let replaces = match &p.change {
        Change::PublishTxt { replace: true, .. } => 0,
        _ => 1,
    };
    (kind, replaces, -p.precedence, worst)
}

/// The `v=` tag of a TXT record, lower-case (`dmarc1`, `spf1`, `dkim1`).
fn version_of(record: &str) -> Option<String> {
    let first = record.split([';', ' ']).next()?.trim();
    let (k, v) = first.split_once('=')?;
    k.trim()
        .eq_ignore_ascii_case("v")
        .then(|| v.trim().to_ascii_lowercase())
}

fn is_dmarc(record: &str) -> bool {
    version_of(record).as_deref() == Some("dmarc1")
}

fn is_spf(record: &str) -> bool {
    record.len() >= 6 && record[..6].eq_ignore_ascii_case("v=spf1")
}

/// The DMARC record being edited: tags in order, `v` left out.
struct DmarcEdit {
    tags: Vec<(String, String)>,
    /// Which tags a more important edit already decided: `Some(value)` set,
    /// `None` removed.
    claimed: BTreeMap<String, Option<String>>,
}

impl DmarcEdit {
    fn from_record(record: Option<&str>) -> DmarcEdit {
        let mut tags: Vec<(String, String)> = Vec::new();
        if let Some(r) = record {
            for part in r.split(';') {
                let Some((k, v)) = part.split_once('=') else {
                    continue;
                };
                let k = k.trim().to_ascii_lowercase();
                if k == "v" || k.is_empty() || tags.iter().any(|(t, _)| *t == k) {
                    continue;
                }
                tags.push((k, v.trim().to_string()));
            }
        }
        DmarcEdit {
            tags,
            claimed: BTreeMap::new(),
        }
    }

    /// The tags of the edit that a more important edit decided otherwise.
    fn conflicts(&self, set: &[(String, String)], remove: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for (t, v) in set {
            if let Some(decided) = self.claimed.get(&t.to_ascii_lowercase()) {
                if decided.as_deref() != Some(v.as_str()) {
                    out.push(t.clone());
                }
            }
        }
        for t in remove {
            if let Some(Some(_)) = self.claimed.get(&t.to_ascii_lowercase()) {
                out.push(t.clone());
            }
        }
        out
    }

    /// Applies the edit, leaving tags a more important edit decided alone.
    fn apply(&mut self, set: &[(String, String)], remove: &[String]) {
        for t in remove {
            let t = t.to_ascii_lowercase();
            if self.claimed.contains_key(&t) {
                continue;
            }
            self.tags.retain(|(k, _)| *k != t);
            self.claimed.insert(t, None);
        }
        for (t, v) in set {
            let t = t.to_ascii_lowercase();
            if self.claimed.contains_key(&t) {
                continue;
            }
            match self.tags.iter_mut().find(|(k, _)| *k == t) {
                Some(slot) => slot.1 = v.clone(),
                None => self.tags.push((t.clone(), v.clone())),
            }
            self.claimed.insert(t, Some(v.clone()));
        }
    }

    /// The record: `v=DMARC1` first, then the policy tags in a fixed order
    /// (`p`, `sp`, `np`, `pct`, `t`, `adkim`, `aspf`), then the others as
    /// they were.
    fn to_record(&self) -> String {
        const ORDER: [&str; 7] = ["p", "sp", "np", "pct", "t", "adkim", "aspf"];
        let mut parts = vec!["v=DMARC1".to_string()];
        for tag in ORDER {
            if let Some((_, v)) = self.tags.iter().find(|(k, _)| k == tag) {
                parts.push(format!("{tag}={v}"));
            }
        }
        parts.extend(
            self.tags
                .iter()
                .filter(|(k, _)| !ORDER.contains(&k.as_str()))
                .map(|(k, v)| format!("{k}={v}")),
        );
        parts.join("; ")
    }
}

/// The SPF record being edited.
struct SpfEdit {
    terms: Vec<String>,
    all_claimed: Option<String>,
}

impl SpfEdit {
    fn from_record(record: Option<&str>) -> SpfEdit {
        SpfEdit {
            terms: record
                .map(|r| r.split_whitespace().skip(1).map(str::to_string).collect())
                .unwrap_or_default(),
            all_claimed: None,
        }
    }

    fn is_all(term: &str) -> bool {
        term.trim_start_matches(['+', '-', '~', '?'])
            .eq_ignore_ascii_case("all")
    }

    fn is_modifier(term: &str) -> bool {
        term.split_once('=')
            .is_some_and(|(n, _)| !n.contains(':') && !n.contains('/'))
    }

    fn apply(&mut self, add: &[String], remove: &[String], all: Option<&str>) -> Option<String> {
        for r in remove {
            self.terms.retain(|t| !t.eq_ignore_ascii_case(r));
        }
        for a in add {
            if self.terms.iter().any(|t| t.eq_ignore_ascii_case(a)) {
                continue;
            }
            let at = self
                .terms
                .iter()
                .position(|t| Self::is_all(t) || Self::is_modifier(t))
                .unwrap_or(self.terms.len());
            self.terms.insert(at, a.clone());
        }
        let mut conflict = None;
        if let Some(all) = all {
            match &self.all_claimed {
                Some(decided) if !decided.eq_ignore_ascii_case(all) => {
                    conflict = Some(decided.clone());
                }
                Some(_) => {}
                None => {
                    self.terms.retain(|t| !Self::is_all(t));
                    let at = self
                        .terms
                        .iter()
                        .position(|t| Self::is_modifier(t))
                        .unwrap_or(self.terms.len());
                    self.terms.insert(at, all.to_string());
                    self.all_claimed = Some(all.to_string());
                }
            }
        }
        conflict
    }

    fn to_record(&self) -> String {
        let mut terms = self.terms.clone();
        let ends = terms
            .iter()
            .any(|t| Self::is_all(t) || t.to_ascii_lowercase().starts_with("redirect="));
        if !ends {
            terms.push("~all".into());
        }
        std::iter::once("v=spf1".to_string())
            .chain(terms)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Describes a change in a few words, for a dropped proposal.
fn describe(change: &Change) -> String {
    match change {
        Change::DmarcTags { set, remove, .. } => {
            let mut parts = Vec::new();
            if !set.is_empty() {
                let tags: Vec<String> = set.iter().map(|(t, v)| format!("{t}={v}")).collect();
                parts.push(format!("set {}", tags.join("; ")));
            }
            if !remove.is_empty() {
                parts.push(format!("remove {}", remove.join(", ")));
            }
            parts.join(", ")
        }
        Change::SpfTerms {
            add, remove, all, ..
        } => {
            let mut parts: Vec<String> = add.iter().map(|t| format!("add {t}")).collect();
            parts.extend(remove.iter().map(|t| format!("remove {t}")));
            parts.extend(all.iter().map(|a| format!("end with {a}")));
            parts.join(", ")
        }
        Change::PublishTxt { value, .. } => format!("publish \"{value}\""),
        Change::RemoveTxt { value, .. } => match value {
            Some(v) => format!("remove \"{v}\""),
            None => "remove the TXT records".into(),
        },
        Change::Outside { action } => action.clone(),
        Change::Hold { .. } => "hold".into(),
    }
}

/// Merges one domain's proposals into its plan (unverified). `findings`
/// are the domain's findings of this run (for the urgency of proposals).
pub async fn merge(
    resolver: &dyn Resolver,
    domain: &str,
    proposals: &[Proposal],
    findings: &[&Finding],
) -> DomainPlan {
    merge_with_followups(resolver, domain, proposals, proposals.len(), findings).await
}

/// [`merge`], where the proposals from index `followups` on are fixes the
/// re-check made for what the earlier ones introduce (`-all` once DMARC
/// enforces): their steps come after the steps they follow from, however
/// urgent, so that no step's reason depends on a later one.
async fn merge_with_followups(
    resolver: &dyn Resolver,
    domain: &str,
    proposals: &[Proposal],
    followups: usize,
    findings: &[&Finding],
) -> DomainPlan {
    let severity: HashMap<(&str, &str), Severity> = findings
        .iter()
        .map(|f| ((f.code.as_str(), f.subject.as_str()), f.severity))
        .collect();
    let mut plan = DomainPlan {
        domain: domain.to_string(),
        ..DomainPlan::default()
    };

    // Holds, and the order of the rest.
    let mut holds: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in proposals {
        if let Change::Hold { name, reasons } = &p.change {
            let entry = holds.entry(normalize_name(name)).or_default();
            for r in reasons {
                if !entry.contains(r) {
                    entry.push(r.clone());
                }
            }
        }
    }
    plan.holds = holds
        .iter()
        .map(|(name, reasons)| HoldNote {
            name: name.clone(),
            reasons: reasons.clone(),
        })
        .collect();
    let mut ordered: Vec<(usize, &Proposal)> = proposals
        .iter()
        .enumerate()
        .filter(|(_, p)| !matches!(p.change, Change::Hold { .. }))
        .collect();
    ordered.sort_by_key(|(i, p)| (*i >= followups, rank(p, &severity), *i));

    // Outside DNS: once each.
    for (_, p) in &ordered {
        if let Change::Outside { action } = &p.change {
            match plan.outside.iter_mut().find(|o| o.action == *action) {
                Some(o) => extend_refs(&mut o.resolves, &p.resolves),
                None => plan.outside.push(OutsideStep {
                    action: action.clone(),
                    resolves: p.resolves.clone(),
                }),
            }
        }
    }

    // DNS: by name, in the order names first appear.
    let mut names: Vec<(String, Publisher)> = Vec::new();
    for (_, p) in &ordered {
        let Some(name) = p.change.name() else {
            continue;
        };
        let name = normalize_name(name);
        let publisher = match &p.change {
            Change::PublishTxt { publisher, .. } => publisher.clone(),
            _ => Publisher::Us,
        };
        if !names.iter().any(|(n, _)| *n == name) {
            names.push((name, publisher));
        }
    }
    for (name, publisher) in names {
        let here: Vec<&Proposal> = ordered
            .iter()
            .map(|(_, p)| *p)
            .filter(|p| p.change.name().map(normalize_name).as_deref() == Some(name.as_str()))
            .collect();
        let answer = resolver.query(&name, RecordType::TXT).await;
        let before: Vec<String> = match &answer.outcome {
            DnsOutcome::Records(_) => answer.txt(),
            DnsOutcome::NxDomain | DnsOutcome::NoData => Vec::new(),
            DnsOutcome::Failed(failure) => {
                for p in here {
                    plan.dropped.push(DroppedProposal {
                        name: name.clone(),
                        change: describe(&p.change),
                        why: format!("the records at {name} could not be read: {failure}"),
                        resolves: p.resolves.clone(),
                    });
                }
                continue;
            }
        };
        let held = holds.get(&name);
        let mut records = before.clone();
        let mut dmarc: Option<DmarcEdit> = None;
        let mut spf: Option<SpfEdit> = None;
        // `v=` tags of records a replacing publish decided.
        let mut published: BTreeMap<String, String> = BTreeMap::new();
        let mut reasons: Vec<String> = Vec::new();
        let mut resolves: Vec<FindingRef> = Vec::new();
        let mut kind = "txt";
        for p in here {
            let mut drop = |why: String| {
                plan.dropped.push(DroppedProposal {
                    name: name.clone(),
                    change: describe(&p.change),
                    why,
                    resolves: p.resolves.clone(),
                })
            };
            match &p.change {
                Change::DmarcTags {
                    set,
                    remove,
                    kind: edit,
                    ..
                } => {
                    kind = "dmarc";
                    if let Some(value) = published.get("dmarc1") {
                        drop(format!("the plan publishes \"{value}\" there instead"));
                        continue;
                    }
                    if *edit == DmarcEditKind::Strengthen {
                        if let Some(reasons) = held {
                            drop(format!("the rollout holds: {}", reasons.join("; ")));
                            continue;
                        }
                    }
                    let d = dmarc.get_or_insert_with(|| {
                        DmarcEdit::from_record(records.iter().find(|r| is_dmarc(r)).map(|s| &**s))
                    });
                    let conflicts = d.conflicts(set, remove);
                    if !conflicts.is_empty() && *edit != DmarcEditKind::Fix {
                        drop(format!(
                            "a more important change sets {} differently",
                            conflicts.join(", ")
                        ));
                        continue;
                    }
                    d.apply(set, remove);
                    if !conflicts.is_empty() {
                        // Part of the fix was decided otherwise: its reason
                        // would contradict the record (e.g. "start with
                        // monitoring" beside p=reject); its findings count.
                        extend_refs(&mut resolves, &p.resolves);
                        continue;
                    }
                }
                Change::SpfTerms {
                    add, remove, all, ..
                } => {
                    kind = "spf";
                    if let Some(value) = published.get("spf1") {
                        drop(format!("the plan publishes \"{value}\" there instead"));
                        continue;
                    }
                    let s = spf.get_or_insert_with(|| {
                        SpfEdit::from_record(records.iter().find(|r| is_spf(r)).map(|s| &**s))
                    });
                    if let Some(decided) = s.apply(add, remove, all.as_deref()) {
                        if add.is_empty() && remove.is_empty() {
                            drop(format!(
                                "a more important change ends the record with {decided}"
                            ));
                            continue;
                        }
                    }
                }
                Change::PublishTxt { value, replace, .. } => {
                    let v = version_of(value).unwrap_or_default();
                    if *replace {
                        if let Some(first) = published.get(&v) {
                            if first != value {
                                drop(format!(
                                    "a more important change publishes \"{first}\" there"
                                ));
                                continue;
                            }
                        }
                        records.retain(|r| version_of(r).unwrap_or_default() != v || r == value);
                        published.insert(v, value.clone());
                    }
                    if !records.contains(value) {
                        records.push(value.clone());
                    }
                }
                // Never a record this plan publishes.
                Change::RemoveTxt { value, .. } => match value {
                    Some(v) => records.retain(|r| r != v || published.values().any(|p| p == r)),
                    None => records.retain(|r| published.values().any(|p| p == r)),
                },
                Change::Outside { .. } | Change::Hold { .. } => continue,
            }
            if !reasons.contains(&p.reason) {
                reasons.push(p.reason.clone());
            }
            extend_refs(&mut resolves, &p.resolves);
        }
        if let Some(d) = dmarc {
            let record = d.to_record();
            let at = records.iter().position(|r| is_dmarc(r));
            records.retain(|r| !is_dmarc(r));
            records.insert(at.unwrap_or(records.len()).min(records.len()), record);
        }
        if let Some(s) = spf {
            let record = s.to_record();
            let at = records.iter().position(|r| is_spf(r));
            records.retain(|r| !is_spf(r));
            records.insert(at.unwrap_or(records.len()).min(records.len()), record);
        }
        if kind == "txt" && name.starts_with("_dmarc.") {
            kind = "dmarc";
        }
        let add: Vec<String> = records
            .iter()
            .filter(|r| !before.contains(r))
            .cloned()
            .collect();
        let remove: Vec<String> = before
            .iter()
            .filter(|r| !records.contains(r))
            .cloned()
            .collect();
        if add.is_empty() && remove.is_empty() {
            continue;
        }
        plan.changes.push(NameChange {
            name,
            kind: kind.into(),
            publisher,
            before,
            after: records,
            add,
            remove,
            reasons,
            resolves,
        });
    }
    plan
}

fn extend_refs(into: &mut Vec<FindingRef>, more: &[FindingRef]) {
    for r in more {
        if !into.contains(r) {
            into.push(r.clone());
        }
    }
}

/// The plan as a zone-file fragment: for each name in the domain's own DNS,
/// its TXT records after the change (delete the name's TXT records and
/// publish these), with what it resolves as comments. Changes in other
/// organisations' DNS are comments.
pub fn zone_fragment(plans: &[DomainPlan]) -> String {
    let mut out = String::new();
    for plan in plans.iter().filter(|p| !p.changes.is_empty()) {
        out.push_str(&format!("; {}\n", plan.domain));
        for c in &plan.changes {
            let codes: Vec<&str> = c.resolves.iter().map(|r| r.code.as_str()).collect();
            let theirs = match &c.publisher {
                Publisher::Us => None,
                Publisher::Other(org) => Some(org.as_str()),
            };
            let prefix = if theirs.is_some() { ";   " } else { "" };
            out.push_str(&format!(
                "; {}: replace the TXT records with{}{}\n",
                c.name,
                if codes.is_empty() {
                    String::new()
                } else {
                    format!(" (resolves {})", codes.join(", "))
                },
                theirs
                    .map(|o| format!(" — in the DNS of {o}, ask them"))
                    .unwrap_or_default()
            ));
            if c.after.is_empty() {
                out.push_str(&format!("; (no TXT records left at {})\n", c.name));
            }
            for r in &c.after {
                out.push_str(&format!(
                    "{prefix}{}. 3600 IN TXT {}\n",
                    c.name,
                    zone_txt(r)
                ));
            }
        }
        out.push('\n');
    }
    out
}

/// A TXT record's text in zone-file syntax: quoted character-strings of at
/// most 255 bytes, `"` and `\` escaped, bytes outside printable ASCII as
/// `\DDD`.
pub fn zone_txt(text: &str) -> String {
    text.as_bytes()
        .chunks(255)
        .map(|chunk| {
            let mut s = String::from("\"");
            for &b in chunk {
                match b {
                    b'"' | b'\\' => {
                        s.push('\\');
                        s.push(b as char);
                    }
                    0x20..=0x7e => s.push(b as char),
                    _ => s.push_str(&format!("\\{b:03}")),
                }
            }
            s.push('"');
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_zone::ZoneResolver;

    fn finding(code: &str, subject: &str, severity: Severity) -> Finding {
        let mut f = Finding::new(
            "test",
            &authwarden_api::CodeInfo {
                code: "X",
                name: "x",
                default_severity: severity,
                docs: "",
            },
            "example.org",
            "m",
        )
        .subject(subject);
        f.code = code.into();
        f.severity = severity;
        f
    }

    fn r(code: &str, subject: &str) -> FindingRef {
        FindingRef {
            code: code.into(),
            subject: subject.into(),
        }
    }

    fn tags(name: &str, set: &[(&str, &str)], remove: &[&str], kind: DmarcEditKind) -> Change {
        Change::DmarcTags {
            name: name.into(),
            set: set
                .iter()
                .map(|(t, v)| (t.to_string(), v.to_string()))
                .collect(),
            remove: remove.iter().map(|t| t.to_string()).collect(),
            kind,
        }
    }

    fn zone() -> ZoneResolver {
        ZoneResolver::from_str(
            "$ORIGIN example.org.\n\
             @ 3600 IN A 192.0.2.1\n\
             @ 3600 IN TXT \"v=spf1 mx include:_spf.mailhost.example ~all\"\n\
             @ 3600 IN TXT \"google-site-verification=abc\"\n\
             _dmarc 3600 IN TXT \"v=DMARC1; p=quarantine; sp=none; pct=25; rua=mailto:d@example.org\"\n\
             $ORIGIN reports.example.\n\
             @ 3600 IN A 192.0.2.2\n",
        )
        .unwrap()
    }

    const DMARC: &str = "_dmarc.example.org";

    async fn plan(proposals: Vec<Proposal>, findings: &[Finding]) -> DomainPlan {
        let refs: Vec<&Finding> = findings.iter().collect();
        merge(&zone(), "example.org", &proposals, &refs).await
    }

    #[tokio::test]
    async fn two_dmarc_edits_become_one_record_and_a_hold_drops_the_step() {
        let findings = [
            finding("DMARC007", DMARC, Severity::Warning),
            finding("ROLL001", DMARC, Severity::Note),
        ];
        let proposals = vec![
            Proposal::new(
                tags(DMARC, &[], &["sp"], DmarcEditKind::Strengthen),
                "subdomains inherit p",
                vec![r("DMARC007", DMARC)],
            ),
            Proposal::new(
                tags(DMARC, &[("pct", "50")], &[], DmarcEditKind::Strengthen),
                "next step",
                vec![r("ROLL001", DMARC)],
            ),
            Proposal::new(
                Change::Hold {
                    name: DMARC.into(),
                    reasons: vec!["SendGrid fails DKIM".into()],
                },
                "hold",
                vec![],
            ),
        ];
        let p = plan(proposals.clone(), &findings).await;
        assert!(p.changes.is_empty(), "{p:#?}");
        assert_eq!(p.dropped.len(), 2);
        assert!(p.dropped[0].why.contains("SendGrid fails DKIM"));

        // Without the hold both edits merge into one record.
        let p = plan(proposals[..2].to_vec(), &findings).await;
        assert_eq!(p.changes.len(), 1, "{p:#?}");
        let c = &p.changes[0];
        assert_eq!(c.kind, "dmarc");
        assert_eq!(
            c.after,
            vec!["v=DMARC1; p=quarantine; pct=50; rua=mailto:d@example.org"]
        );
        assert_eq!(c.remove, c.before);
        assert_eq!(c.resolves, vec![r("DMARC007", DMARC), r("ROLL001", DMARC)]);
    }

    #[tokio::test]
    async fn a_fix_is_never_held_and_relax_beats_strengthen() {
        let findings = [
            finding("DMARC003", DMARC, Severity::Error),
            finding("ROLL001", DMARC, Severity::Note),
            finding("ROLL005", DMARC, Severity::Warning),
        ];
        let proposals = vec![
            Proposal::new(
                tags(
                    DMARC,
                    &[("p", "reject")],
                    &["pct"],
                    DmarcEditKind::Strengthen,
                ),
                "next step",
                vec![r("ROLL001", DMARC)],
            ),
            Proposal::new(
                tags(DMARC, &[("p", "none")], &["pct"], DmarcEditKind::Relax),
                "back to monitoring while a sender is broken",
                vec![r("ROLL005", DMARC)],
            ),
            Proposal::new(
                tags(DMARC, &[("fo", "1")], &[], DmarcEditKind::Fix),
                "fix",
                vec![r("DMARC003", DMARC)],
            ),
            Proposal::new(
                Change::Hold {
                    name: DMARC.into(),
                    reasons: vec!["a sender fails".into()],
                },
                "hold",
                vec![],
            ),
        ];
        let p = plan(proposals, &findings).await;
        assert_eq!(p.changes.len(), 1, "{p:#?}");
        assert_eq!(
            p.changes[0].after,
            vec!["v=DMARC1; p=none; sp=none; rua=mailto:d@example.org; fo=1"]
        );
        assert_eq!(p.dropped.len(), 1);
        assert!(p.dropped[0].change.contains("p=reject"));
    }

    #[tokio::test]
    async fn of_two_steps_setting_the_same_tag_the_more_urgent_wins() {
        let findings = [
            finding("DMARC009", DMARC, Severity::Warning),
            finding("ROLL001", DMARC, Severity::Note),
        ];
        let proposals = vec![
            Proposal::new(
                tags(DMARC, &[("pct", "100")], &[], DmarcEditKind::Strengthen),
                "note-level step",
                vec![r("ROLL001", DMARC)],
            ),
            Proposal::new(
                tags(DMARC, &[("pct", "50")], &[], DmarcEditKind::Strengthen),
                "warning-level step",
                vec![r("DMARC009", DMARC)],
            ),
        ];
        let p = plan(proposals, &findings).await;
        assert_eq!(
            p.changes[0].after,
            vec!["v=DMARC1; p=quarantine; sp=none; pct=50; rua=mailto:d@example.org"]
        );
        assert_eq!(p.dropped.len(), 1);
        assert_eq!(p.dropped[0].resolves, vec![r("ROLL001", DMARC)]);
    }

    #[tokio::test]
    async fn fixes_merge_tag_by_tag_and_the_earlier_one_keeps_its_tags() {
        // dmarc-policy sends a reset of every tag and a single-tag fix.
        let findings = [
            finding("DMARC002", DMARC, Severity::Error),
            finding("DMARC004", DMARC, Severity::Warning),
        ];
        let proposals = vec![
            Proposal::new(
                tags(
                    DMARC,
                    &[("p", "none"), ("rua", "mailto:x@example.org")],
                    &[],
                    DmarcEditKind::Fix,
                ),
                "reset",
                vec![r("DMARC002", DMARC)],
            ),
            Proposal::new(
                tags(
                    DMARC,
                    &[("p", "reject"), ("adkim", "r")],
                    &[],
                    DmarcEditKind::Fix,
                ),
                "less urgent fix",
                vec![r("DMARC004", DMARC)],
            ),
        ];
        let p = plan(proposals, &findings).await;
        assert_eq!(
            p.changes[0].after,
            vec!["v=DMARC1; p=none; sp=none; pct=25; adkim=r; rua=mailto:x@example.org"]
        );
        assert!(p.dropped.is_empty());
    }

    #[tokio::test]
    async fn spf_edits_become_one_record_and_other_txt_stays() {
        let proposals = vec![
            Proposal::new(
                Change::SpfTerms {
                    name: "example.org".into(),
                    add: vec!["include:sendgrid.net".into()],
                    remove: vec![],
                    all: None,
                },
                "authorize SendGrid",
                vec![r("DRIFT003", "example.org")],
            ),
            Proposal::new(
                Change::SpfTerms {
                    name: "example.org".into(),
                    add: vec![],
                    remove: vec![],
                    all: Some("-all".into()),
                },
                "fail what is not listed",
                vec![r("SPF005", "example.org")],
            ),
        ];
        let p = plan(proposals, &[]).await;
        assert_eq!(p.changes.len(), 1);
        let c = &p.changes[0];
        assert_eq!(c.kind, "spf");
        assert_eq!(
            c.after,
            vec![
                "v=spf1 mx include:_spf.mailhost.example include:sendgrid.net -all",
                "google-site-verification=abc"
            ]
        );
        assert_eq!(
            c.remove,
            vec!["v=spf1 mx include:_spf.mailhost.example ~all"]
        );
    }

    #[tokio::test]
    async fn a_followup_fix_comes_after_the_step_it_follows_from() {
        let findings = [
            finding("ROLL001", DMARC, Severity::Note),
            finding("SPF020", "example.org", Severity::Warning),
        ];
        let proposals = vec![
            Proposal::new(
                tags(DMARC, &[("pct", "10")], &[], DmarcEditKind::Strengthen),
                "next step",
                vec![r("ROLL001", DMARC)],
            ),
            Proposal::new(
                Change::PublishTxt {
                    name: "example.org".into(),
                    value: "v=spf1 -all".into(),
                    publisher: Publisher::Us,
                    replace: true,
                },
                "dmarc enforces: -all",
                vec![r("SPF020", "example.org")],
            ),
        ];
        let refs: Vec<&Finding> = findings.iter().collect();
        let names = |p: &DomainPlan| p.changes.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        // As first proposals, the fix comes first ...
        let p = merge(&zone(), "example.org", &proposals, &refs).await;
        assert_eq!(names(&p), ["example.org", DMARC], "{p:#?}");
        // ... as a follow-up of the step, after it.
        let p = merge_with_followups(&zone(), "example.org", &proposals, 1, &refs).await;
        assert_eq!(names(&p), [DMARC, "example.org"], "{p:#?}");
    }

    #[tokio::test]
    async fn publish_replace_remove_and_outside() {
        let proposals = vec![
            Proposal::new(
                Change::PublishTxt {
                    name: "example.org._report._dmarc.reports.example".into(),
                    value: "v=DMARC1".into(),
                    publisher: Publisher::Other("reports.example".into()),
                    replace: false,
                },
                "authorize the report receiver",
                vec![r("DMARC010", DMARC)],
            ),
            Proposal::new(
                Change::RemoveTxt {
                    name: "old._domainkey.example.org".into(),
                    value: None,
                },
                "retired selector",
                vec![],
            ),
            Proposal::new(
                Change::Outside {
                    action: "configure DKIM at SendGrid".into(),
                },
                "a",
                vec![r("ROLL002", DMARC)],
            ),
            Proposal::new(
                Change::Outside {
                    action: "configure DKIM at SendGrid".into(),
                },
                "b",
                vec![r("DRIFT004", "sendgrid")],
            ),
        ];
        let p = plan(proposals, &[]).await;
        // The retired selector has no records in the zone: nothing to do.
        assert_eq!(p.changes.len(), 1, "{p:#?}");
        assert_eq!(
            p.changes[0].publisher,
            Publisher::Other("reports.example".into())
        );
        assert_eq!(p.changes[0].add, vec!["v=DMARC1"]);
        assert_eq!(p.outside.len(), 1);
        assert_eq!(p.outside[0].resolves.len(), 2);
        let zone = zone_fragment(&[p]);
        assert!(
            zone.contains(
                ";   example.org._report._dmarc.reports.example. 3600 IN TXT \"v=DMARC1\""
            ),
            "{zone}"
        );
    }

    #[tokio::test]
    async fn a_decisive_proposal_and_a_replacing_publish_decide_their_record() {
        let findings = [
            finding("DMARC001", DMARC, Severity::Error),
            finding("PARK002", DMARC, Severity::Warning),
            finding("SPF004", "example.org", Severity::Error),
            finding("PARK001", "example.org", Severity::Warning),
        ];
        let proposals = vec![
            Proposal::new(
                tags(
                    DMARC,
                    &[("p", "none"), ("rua", "mailto:r@example.org")],
                    &[],
                    DmarcEditKind::Fix,
                ),
                "start with monitoring",
                vec![r("DMARC001", DMARC)],
            ),
            Proposal::new(
                Change::SpfTerms {
                    name: "example.org".into(),
                    add: vec!["mx".into()],
                    remove: vec![],
                    all: None,
                },
                "merge the records",
                vec![r("SPF004", "example.org")],
            ),
            Proposal::new(
                tags(
                    DMARC,
                    &[("p", "reject"), ("sp", "reject")],
                    &["pct"],
                    DmarcEditKind::Fix,
                ),
                "parked: reject everything",
                vec![r("PARK002", DMARC)],
            )
            .decisive(),
            Proposal::new(
                Change::PublishTxt {
                    name: "example.org".into(),
                    value: "v=spf1 -all".into(),
                    publisher: Publisher::Us,
                    replace: true,
                },
                "parked: no host sends",
                vec![r("PARK001", "example.org")],
            )
            .decisive(),
        ];
        let p = plan(proposals, &findings).await;
        let at = |name: &str| {
            p.changes
                .iter()
                .find(|c| c.name == name)
                .unwrap()
                .after
                .clone()
        };
        assert_eq!(
            at(DMARC),
            vec!["v=DMARC1; p=reject; sp=reject; rua=mailto:r@example.org"]
        );
        assert_eq!(
            at("example.org"),
            vec!["google-site-verification=abc", "v=spf1 -all"]
        );
        let c = p.changes.iter().find(|c| c.name == DMARC).unwrap();
        assert_eq!(c.reasons, vec!["parked: reject everything"], "{c:#?}");
        assert_eq!(p.dropped.len(), 1, "{p:#?}");
        assert!(p.dropped[0].why.contains("publishes \"v=spf1 -all\""));
    }

    #[test]
    fn zone_txt_splits_and_escapes() {
        let long = "a".repeat(300);
        let z = zone_txt(&long);
        assert!(z.starts_with(&format!("\"{}\" \"", "a".repeat(255))));
        assert_eq!(zone_txt("say \"hi\"\\"), "\"say \\\"hi\\\"\\\\\"");
        assert_eq!(zone_txt("é"), "\"\\195\\169\"");
    }
}
