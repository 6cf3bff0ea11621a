//! The `parked-domain` checker of authwarden.
//!
//! A parked domain sends and receives no mail. It is protected only when it
//! says so in DNS: `v=spf1 -all` (no host may send), a DMARC policy of
//! `reject` for it and its subdomains, and a null MX (RFC 7505: no host
//! accepts mail). No DKIM key is needed. [`ParkedDomain`] checks those three
//! records for the domains the config marks as parked, and points out
//! unmarked domains that look parked (no MX, no address, no SPF). Each
//! finding comes with the edit that resolves it as a proposal: the SPF
//! record replaced by `v=spf1 -all`, the DMARC tags of a rejecting policy,
//! and (not a TXT record) the null MX as an action.
//!
//! Made with `cargo xtask new-checker parked-domain --code-prefix PARK`.
#![deny(missing_docs)]

pub mod codes;

use authwarden_api::plan::{Change, DmarcEditKind, FindingRef, Proposal, Publisher};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, DnsAnswer, DnsOutcome,
    DomainTarget, Finding, Rdata, RecordType, ReportFact, SettingKey, SettingKind, SettingsSpec,
};
use authwarden_dmarc::{discover, DiscoveryOutcome, Policy, RecordSource};

pub use codes::CODES;
use codes::*;

/// The checker id, also its config section `[checkers.parked-domain]`.
pub const CHECKER_ID: &str = "parked-domain";

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "checks that parked domains publish v=spf1 -all, dmarc p=reject and a null mx",
    cadences: &[Cadence::Monthly, Cadence::Annual],
    codes: CODES,
    facts_key: "parked",
};

/// `[checkers.parked-domain] domains` and `[domains.parked-domain] parked`,
/// checked by config validation.
static SETTINGS: SettingsSpec = SettingsSpec {
    checker: &[SettingKey {
        name: "domains",
        kind: SettingKind::Array(&SettingKind::String),
    }],
    domain: &[SettingKey {
        name: "parked",
        kind: SettingKind::Bool,
    }],
};

/// The `parked-domain` checker.
///
/// A domain is parked when its config entry says so,
/// `[domains.parked-domain] parked = true`, or when the checker's config
/// lists it: `[checkers.parked-domain] domains = ["old-brand.example"]`.
///
/// Its facts (key `parked`): `parked` (bool), `marked_by` (`domain`,
/// `checker` or null), `spf` (the SPF records), `mx` (as `preference
/// exchange`, the null MX as `0 .`), `null_mx` (bool), `dmarc_policy` and
/// `dmarc_subdomain_policy` (parked domains only, else null) and
/// `looks_parked` (bool; unmarked domains only). Lists are null when their
/// lookup failed.
#[derive(Debug, Default, Clone, Copy)]
pub struct ParkedDomain;

/// Why a domain counts as parked.
fn marked_by(ctx: &CheckContext, target: &DomainTarget) -> Option<&'static str> {
    let own = target
        .settings
        .get(CHECKER_ID)
        .and_then(|s| s.get("parked"))
        .and_then(Value::as_bool);
    match own {
        Some(true) => return Some("domain"),
        // An explicit `parked = false` wins over the checker's list.
        Some(false) => return None,
        None => {}
    }
    let listed = ctx
        .config
        .get("domains")
        .and_then(Value::as_array)
        .is_some_and(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .any(|d| authwarden_api::domain::normalize_name(d) == target.name.as_str())
        });
    listed.then_some("checker")
}

fn spf_records(answer: &DnsAnswer) -> Vec<String> {
    answer
        .txt()
        .into_iter()
        .filter(|t| {
            let lower = t.to_ascii_lowercase();
            lower == "v=spf1" || lower.starts_with("v=spf1 ")
        })
        .collect()
}

fn mx_text(answer: &DnsAnswer) -> Vec<(u16, String)> {
    answer
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::Mx {
                preference,
                exchange,
            } => Some((*preference, exchange.clone())),
            _ => None,
        })
        .collect()
}

fn mx_display((preference, exchange): &(u16, String)) -> String {
    if exchange.is_empty() {
        format!("{preference} .")
    } else {
        format!("{preference} {exchange}")
    }
}

fn incomplete(domain: &str, answer: &DnsAnswer) -> Option<Finding> {
    let failure = answer.failure()?;
    Some(
        Finding::new(
            CHECKER_ID,
            &PARKED_CHECK_INCOMPLETE,
            domain,
            format!(
                "the {} lookup of {} failed: {failure}",
                answer.rtype.as_str().to_ascii_lowercase(),
                answer.name
            ),
        )
        .help(format!(
            "run `authwarden check {domain}` again once its name servers answer"
        ))
        .failed_lookup(answer),
    )
}

#[async_trait]
impl Checker for ParkedDomain {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    fn settings_spec(&self) -> Option<&'static SettingsSpec> {
        Some(&SETTINGS)
    }

    /// Whether the domain is marked parked, or only looks parked.
    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        let flag = |key: &str| facts.get(key).and_then(Value::as_bool) == Some(true);
        if flag("parked") {
            vec![ReportFact::new("Parked", "yes: sends no mail")]
        } else if flag("looks_parked") {
            vec![ReportFact::new(
                "Parked",
                "looks parked (no MX), not marked",
            )]
        } else {
            Vec::new()
        }
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = target.name.as_str();
        let txt = ctx.resolver.query(domain, RecordType::TXT).await;
        let mx = ctx.resolver.query(domain, RecordType::MX).await;
        let spf = (!matches!(txt.outcome, DnsOutcome::Failed(_))).then(|| spf_records(&txt));
        let mxs = (!matches!(mx.outcome, DnsOutcome::Failed(_))).then(|| mx_text(&mx));
        let null_mx = mxs
            .as_ref()
            .is_some_and(|m| m.len() == 1 && m[0].1.is_empty());
        let mut facts = json!({
            "parked": false,
            "marked_by": null,
            "spf": spf,
            "mx": mxs.as_ref().map(|m| m.iter().map(mx_display).collect::<Vec<_>>()),
            "null_mx": null_mx,
            "dmarc_policy": null,
            "dmarc_subdomain_policy": null,
            "looks_parked": false,
        });
        let mut findings = Vec::new();
        let mut proposals = Vec::new();
        match marked_by(ctx, target) {
            Some(by) => {
                facts["parked"] = true.into();
                facts["marked_by"] = by.into();
                findings.extend(incomplete(domain, &txt));
                findings.extend(incomplete(domain, &mx));
                if let Some(f) = spf.as_deref().and_then(|spf| check_spf(domain, spf)) {
                    proposals.push(propose(
                        Change::PublishTxt {
                            name: domain.to_string(),
                            value: NULL_SPF.into(),
                            publisher: Publisher::Us,
                            replace: true,
                        },
                        "no host may send for a parked domain",
                        &f,
                    ));
                    findings.push(f);
                }
                if let Some(f) = mxs.as_deref().and_then(|mxs| check_mx(domain, mxs)) {
                    let action = if mxs.as_ref().is_some_and(|m| !m.is_empty()) {
                        format!("delete the mx records of {domain} and publish a null MX record: {domain}. MX 0 .")
                    } else {
                        format!("publish a null MX record: {domain}. MX 0 .")
                    };
                    proposals.push(propose(
                        Change::Outside { action },
                        "a null mx tells senders at once that the domain accepts no mail",
                        &f,
                    ));
                    findings.push(f);
                }
                let (dmarc, policy, sub) = check_dmarc(ctx, domain).await;
                if let Some(Dmarc { finding, changes }) = dmarc {
                    for change in changes {
                        proposals.push(propose(
                            change,
                            "a parked domain rejects all mail in its name and its subdomains' names",
                            &finding,
                        ));
                    }
                    findings.push(finding);
                }
                facts["dmarc_policy"] = policy.map(Policy::as_str).into();
                facts["dmarc_subdomain_policy"] = sub.map(Policy::as_str).into();
            }
            None => {
                if let Some(f) = looks_parked(ctx, domain, &txt, &mx, spf.as_deref()).await {
                    facts["looks_parked"] = true.into();
                    proposals.push(propose(
                        Change::Outside {
                            action: format!(
                                "decide whether {domain} sends mail: if not, mark it parked (`[domains.parked-domain] parked = true`) and publish its parked records; if it does, publish its mail records"
                            ),
                        },
                        "whether the domain is in use is not visible in DNS",
                        &f,
                    ));
                    findings.push(f);
                }
            }
        }
        CheckOutput {
            findings,
            facts: Some(facts),
            proposals,
        }
    }
}

/// The SPF record of a domain that sends no mail.
const NULL_SPF: &str = "v=spf1 -all";

/// The DMARC tags of a parked domain, as PARK002's help gives them.
const PARKED_DMARC_TAGS: [(&str, &str); 4] = [
    ("p", "reject"),
    ("sp", "reject"),
    ("adkim", "s"),
    ("aspf", "s"),
];

fn propose(change: Change, reason: &str, finding: &Finding) -> Proposal {
    // A parked domain sends no mail: what this checker proposes for it
    // decides over the general checks' proposals (e.g. the monitoring
    // record p=none that a missing DMARC record gets elsewhere).
    Proposal::new(change, reason, vec![FindingRef::to(finding)]).decisive()
}

/// The DMARC finding and the changes that resolve it.
struct Dmarc {
    finding: Finding,
    changes: Vec<Change>,
}

/// The parked domain's own DMARC record as tag edits: the tags of
/// [`PARKED_DMARC_TAGS`] set, `pct` and `t` removed (both default to full
/// enforcement). On a missing or invalid record the edit starts from
/// `v=DMARC1`; a record of its own at `_dmarc.<domain>` also takes
/// precedence over an inherited one.
fn parked_dmarc(domain: &str) -> Change {
    Change::DmarcTags {
        name: format!("_dmarc.{domain}"),
        set: PARKED_DMARC_TAGS
            .iter()
            .map(|(t, v)| (t.to_string(), v.to_string()))
            .collect(),
        remove: vec!["pct".into(), "t".into()],
        kind: DmarcEditKind::Fix,
    }
}

fn check_spf(domain: &str, spf: &[String]) -> Option<Finding> {
    let fix = format!("publish exactly one spf record: `{domain}. TXT \"v=spf1 -all\"`");
    let finding = |message: String| {
        Finding::new(CHECKER_ID, &PARKED_SPF, domain, message)
            .help(fix.clone())
            .evidence("records", spf.to_vec())
    };
    match spf {
        [] => Some(finding(
            "the parked domain publishes no spf record, so receivers cannot tell that it sends no mail".into(),
        )),
        [record] => {
            let terms: Vec<String> = record
                .split_whitespace()
                .skip(1)
                .map(str::to_ascii_lowercase)
                .collect();
            if terms == ["-all"] {
                return None;
            }
            let why = match terms.last().map(String::as_str) {
                _ if terms.len() > 1 => "it authorizes senders",
                Some("~all") => "`~all` only marks forged mail as suspicious",
                Some("?all") => "`?all` is neutral about forged mail",
                Some("+all") | Some("all") => "`+all` authorizes every host on the internet",
                Some(_) => "it authorizes senders",
                None => "it has no `-all`, which leaves every host neutral",
            };
            Some(finding(format!(
                "the parked domain's spf record is `{record}`, not `v=spf1 -all`: {why}"
            )))
        }
        many => Some(finding(format!(
            "the parked domain publishes {} spf records; receivers treat that as a permanent error",
            many.len()
        ))),
    }
}

fn check_mx(domain: &str, mxs: &[(u16, String)]) -> Option<Finding> {
    let shown: Vec<String> = mxs.iter().map(mx_display).collect();
    let nulls = mxs.iter().filter(|(_, e)| e.is_empty()).count();
    let message = match (mxs.len(), nulls) {
        (1, 1) => return None,
        (0, _) => {
            "the parked domain publishes no mx record, so senders fall back to its address records"
                .to_string()
        }
        (_, 0) => format!(
            "the parked domain accepts mail at {}",
            mxs.iter()
                .map(|(_, e)| e.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => "the parked domain mixes a null mx with other mx records, which rfc 7505 forbids"
            .to_string(),
    };
    Some(
        Finding::new(CHECKER_ID, &PARKED_NULL_MX, domain, message)
            .help(format!(
                "delete the other mx records and publish the null mx: `{domain}. MX 0 .`"
            ))
            .evidence("mx", shown),
    )
}

async fn check_dmarc(
    ctx: &CheckContext,
    domain: &str,
) -> (Option<Dmarc>, Option<Policy>, Option<Policy>) {
    let (finding, policy, sub, multiple_at) = dmarc_finding(ctx, domain).await;
    let dmarc = finding.map(|finding| {
        let mut changes = Vec::new();
        if finding.code == PARKED_CHECK_INCOMPLETE.code {
            // Run again: nothing to change.
        } else {
            // Several records at the domain's own name: receivers ignore
            // them all, so they go before the edit starts from `v=DMARC1`.
            // (At the organizational domain they are not this domain's to
            // remove: a record of its own takes precedence.)
            if multiple_at.as_deref() == Some(domain) {
                changes.push(Change::RemoveTxt {
                    name: format!("_dmarc.{domain}"),
                    value: None,
                });
            }
            changes.push(parked_dmarc(domain));
        }
        Dmarc { finding, changes }
    });
    (dmarc, policy, sub)
}

/// The DMARC finding, the policies applied, and where several records are
/// published, if they are.
async fn dmarc_finding(
    ctx: &CheckContext,
    domain: &str,
) -> (
    Option<Finding>,
    Option<Policy>,
    Option<Policy>,
    Option<String>,
) {
    let fix = format!(
        "publish `_dmarc.{domain}. TXT \"v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s\"` (no dkim key is needed)"
    );
    let finding = |message: String| {
        Finding::new(CHECKER_ID, &PARKED_DMARC, domain, message)
            .subject(format!("_dmarc.{domain}"))
            .help(fix.clone())
    };
    let discovery = discover(&*ctx.resolver, domain).await;
    let found = match discovery.outcome {
        DiscoveryOutcome::Failed { name, failure } => {
            let f = Finding::new(
                CHECKER_ID,
                &PARKED_CHECK_INCOMPLETE,
                domain,
                format!("the dmarc lookup of {name} failed: {failure}"),
            )
            .subject(&name)
            .help(format!(
                "run `authwarden check {domain}` again once its name servers answer"
            ))
            .evidence("name", name.as_str())
            .evidence("type", "TXT")
            .evidence("error", failure.to_string());
            return (Some(f), None, None, None);
        }
        DiscoveryOutcome::Missing => {
            return (
                Some(finding(
                    "the parked domain has no dmarc record, so receivers apply no policy to mail forged in its name".into(),
                )),
                None,
                None,
                None,
            )
        }
        DiscoveryOutcome::Multiple {
            domain: at,
            records,
            ..
        } => {
            return (
                Some(
                    finding(format!(
                        "_dmarc.{at} has {} dmarc records, so receivers apply none",
                        records.len()
                    ))
                    .subject(format!("_dmarc.{at}")),
                ),
                None,
                None,
                Some(at),
            )
        }
        DiscoveryOutcome::Found(found) => found,
    };
    let subject = format!("_dmarc.{}", found.domain);
    let parsed = match &found.parsed {
        Ok(parsed) => parsed,
        Err(_) => {
            return (
                Some(
                    finding(format!(
                        "the dmarc record `{}` does not parse, so receivers ignore it",
                        found.text
                    ))
                    .subject(subject)
                    .evidence("record", found.text.as_str()),
                ),
                None,
                None,
                None,
            )
        }
    };
    let record = &parsed.record;
    let p = record.policy;
    let sp = record.subdomain_policy.or(p);
    let (applied, sub) = match found.source {
        RecordSource::Domain => (p, sp),
        // Inherited from the organizational domain: its `sp` applies to the
        // parked domain and to the parked domain's subdomains alike.
        RecordSource::Organizational => (sp, sp),
    };
    let mut weak = Vec::new();
    if applied != Some(Policy::Reject) {
        weak.push(format!(
            "its policy is `{}`",
            applied.map_or("missing", Policy::as_str)
        ));
    }
    if sub != Some(Policy::Reject) {
        weak.push(format!(
            "its subdomain policy is `{}`",
            sub.map_or("missing", Policy::as_str)
        ));
    }
    if let Some(pct) = record.pct.filter(|pct| *pct < 100) {
        weak.push(format!("it applies to {pct}% of forged mail only"));
    }
    if record.testing == Some(true) {
        weak.push("it is in testing mode (`t=y`)".into());
    }
    let f = (!weak.is_empty()).then(|| {
        let inherited = match found.source {
            RecordSource::Domain => String::new(),
            RecordSource::Organizational => format!(" (inherited from {})", found.domain),
        };
        finding(format!(
            "the parked domain's dmarc record{inherited} does not reject forged mail: {}",
            weak.join(", ")
        ))
        .subject(subject)
        .evidence("record", found.text.as_str())
    });
    (f, applied, sub, None)
}

/// For an unmarked domain: a note when it exists but has no MX, no address
/// and no SPF. Silent when a lookup failed.
async fn looks_parked(
    ctx: &CheckContext,
    domain: &str,
    txt: &DnsAnswer,
    mx: &DnsAnswer,
    spf: Option<&[String]>,
) -> Option<Finding> {
    if !spf?.is_empty() || !mx.is_void() || mx.failure().is_some() {
        return None;
    }
    let a = ctx.resolver.query(domain, RecordType::A).await;
    let aaaa = ctx.resolver.query(domain, RecordType::AAAA).await;
    if !a.is_void() || !aaaa.is_void() {
        return None;
    }
    let answers = [txt, mx, &a, &aaaa];
    if answers
        .iter()
        .all(|a| matches!(a.outcome, DnsOutcome::NxDomain))
    {
        // The name does not exist at all: not a parked domain, a missing one.
        return None;
    }
    Some(
        Finding::new(
            CHECKER_ID,
            &DOMAIN_LOOKS_PARKED,
            domain,
            "the domain has no mx, a, aaaa or spf record: it looks parked but is not marked as parked",
        )
        .help(format!(
            "if {domain} sends no mail, add `[domains.parked-domain] parked = true` to its [[domains]] entry and publish `v=spf1 -all`, `p=reject` and a null mx; if it is in use, publish its mail records"
        )),
    )
}
