//! What RFC 9989 (DMARCbis, which obsoletes RFC 7489) asks of a domain's
//! record: a valid `p` and a valid `rua` (without either receivers apply no
//! DMARC or send no reports), `p=reject` not resting on SPF alone, testing
//! with `t=y` instead of the historic `pct`, and policy discovery by the DNS
//! tree walk instead of the public-suffix list.

use authwarden_dmarc::Policy;

use crate::seen::{Alignment, Dmarc, Facts, Seen};
use crate::{rule, RuleResult, RuleStatus};

/// The profile's `applies` and rules.
pub(crate) fn rules(facts: &Facts) -> (String, Vec<RuleResult>) {
    let applies = "every domain that sends mail or publishes a DMARC record".to_string();
    let rules = vec![
        valid_p(facts),
        valid_rua(facts),
        reject_not_spf_alone(facts),
        testing(facts),
        discovery(facts),
    ];
    (applies, rules)
}

fn no_record(id: &str, text: &str, source: &str, dmarc: &Dmarc) -> Option<RuleResult> {
    match dmarc {
        Dmarc::Unknown(why) => Some(rule(id, text, source, RuleStatus::NotVisible, why.clone())),
        Dmarc::None(why) => Some(rule(
            id,
            text,
            source,
            RuleStatus::Fail,
            format!("{why}: receivers apply no DMARC"),
        )),
        Dmarc::Found(_) => None,
    }
}

fn valid_p(facts: &Facts) -> RuleResult {
    let (id, text, source) = (
        "rfc9989-valid-p",
        "The record has a valid p; without one and without a valid rua receivers apply no DMARC at all.",
        "RFC 9989 (DMARCbis): the p tag and policy discovery",
    );
    if let Some(r) = no_record(id, text, source, &facts.dmarc) {
        return r;
    }
    let Dmarc::Found(r) = &facts.dmarc else {
        unreachable!("no_record answers every other case")
    };
    let without = match &r.invalid_p {
        Some(bad) => format!("p={bad} is not a policy"),
        None => "the record has no p".to_string(),
    };
    match r.p {
        Some(p) => rule(
            id,
            text,
            source,
            RuleStatus::Pass,
            format!("p={p} in `{}`", r.record),
        ),
        None if !r.rua.is_empty() => rule(
            id,
            text,
            source,
            RuleStatus::Fail,
            format!(
                "{without} in `{}`: with its valid rua receivers treat it as p=none",
                r.record
            ),
        ),
        None => rule(
            id,
            text,
            source,
            RuleStatus::Fail,
            format!(
                "{without} in `{}` and it has no valid rua: receivers apply no DMARC at all",
                r.record
            ),
        ),
    }
}

fn valid_rua(facts: &Facts) -> RuleResult {
    let (id, text, source) = (
        "rfc9989-valid-rua",
        "The record has a valid rua; receivers send no aggregate reports without one.",
        "RFC 9989 (DMARCbis): the rua tag",
    );
    if let Some(r) = no_record(id, text, source, &facts.dmarc) {
        return r;
    }
    let Dmarc::Found(r) = &facts.dmarc else {
        unreachable!("no_record answers every other case")
    };
    if !r.rua.is_empty() {
        return rule(
            id,
            text,
            source,
            RuleStatus::Pass,
            format!("rua={}", r.rua.join(",")),
        );
    }
    let what = if r.rua_tag {
        "its rua holds no valid URI (a mailto: address is needed)"
    } else {
        "it has no rua"
    };
    rule(
        id,
        text,
        source,
        RuleStatus::Fail,
        format!("`{}`: {what}, so no aggregate reports are sent", r.record),
    )
}

fn reject_not_spf_alone(facts: &Facts) -> RuleResult {
    let (id, text, source) = (
        "rfc9989-reject-not-spf-only",
        "A domain at p=reject does not rely on SPF alone: its mail carries valid DKIM signatures.",
        "RFC 9989 (DMARCbis): policy enforcement and security considerations",
    );
    let Dmarc::Found(r) = &facts.dmarc else {
        return rule(
            id,
            text,
            source,
            RuleStatus::NotApplicable,
            "no DMARC record, so no p=reject",
        );
    };
    if r.applied != Some(Policy::Reject) {
        let applied = r
            .applied
            .map(|p| format!("the policy applied is {p}"))
            .unwrap_or_else(|| "the policy is not known".into());
        return rule(id, text, source, RuleStatus::NotApplicable, applied);
    }
    let unsigned = facts.senders_without(Alignment::Dkim);
    if !unsigned.is_empty() {
        return rule(
            id,
            text,
            source,
            RuleStatus::Fail,
            format!("p=reject, but {}", unsigned.join("; ")),
        );
    }
    match facts.dkim() {
        Seen::Yes(t) => rule(id, text, source, RuleStatus::Pass, format!("p=reject; {t}")),
        Seen::No(t) => rule(
            id,
            text,
            source,
            RuleStatus::Fail,
            format!("p=reject, but {t}"),
        ),
        Seen::Unknown(t) => rule(
            id,
            text,
            source,
            RuleStatus::NotVisible,
            format!("p=reject; {t}"),
        ),
    }
}

fn testing(facts: &Facts) -> RuleResult {
    let (id, text, source) = (
        "rfc9989-testing-mode",
        "Testing is signalled with t=y; pct is historic and receivers that follow RFC 9989 ignore it.",
        "RFC 9989 (DMARCbis): the t tag; pct, rf and ri are historic",
    );
    let Dmarc::Found(r) = &facts.dmarc else {
        return rule(
            id,
            text,
            source,
            RuleStatus::NotApplicable,
            "no DMARC record",
        );
    };
    let pct = r.pct.filter(|&p| p < 100);
    let policy = r
        .applied
        .map(|p| p.to_string())
        .unwrap_or_else(|| "the policy".into());
    match (r.testing, pct) {
        (true, _) => rule(
            id,
            text,
            source,
            RuleStatus::Pass,
            format!(
                "t=y: receivers that follow RFC 9989 apply {} instead of {policy}; receivers still on RFC 7489 ignore t{}",
                r.applied.map(|p| p.weaker().to_string()).unwrap_or_else(|| "one policy weaker".into()),
                pct.map(|p| format!(" and sample pct={p}")).unwrap_or_else(|| format!(" and apply {policy} in full"))
            ),
        ),
        (false, Some(p)) => rule(
            id,
            text,
            source,
            RuleStatus::Fail,
            format!(
                "pct={p} without t=y: receivers that follow RFC 9989 ignore pct and apply {policy} to all failing mail, while receivers on RFC 7489 apply it to {p}%"
            ),
        ),
        (false, None) => rule(
            id,
            text,
            source,
            RuleStatus::NotApplicable,
            format!("not in testing mode: {policy} applies in full"),
        ),
    }
}

fn labels(name: &str) -> usize {
    name.trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
        .count()
}

fn discovery(facts: &Facts) -> RuleResult {
    let (id, text, source) = (
        "rfc9989-discovery",
        "The DNS tree walk, which replaces the public-suffix list, finds the same record the public-suffix list does.",
        "RFC 9989 (DMARCbis): the DNS tree walk",
    );
    let domain = facts.domain;
    match &facts.dmarc {
        Dmarc::Unknown(why) => rule(id, text, source, RuleStatus::NotVisible, why.clone()),
        Dmarc::None(why) => rule(
            id,
            text,
            source,
            RuleStatus::NotVisible,
            format!("{why}; the names a tree walk queries beyond these (up to the top-level domain, for a public-suffix operator's record) are not checked here"),
        ),
        Dmarc::Found(r) => {
            let at = r.record_domain.as_deref().unwrap_or(domain);
            if r.source.as_deref() != Some("organizational") {
                return rule(
                    id,
                    text,
                    source,
                    RuleStatus::Pass,
                    format!("the record is published at _dmarc.{at}, the domain itself: both find it first"),
                );
            }
            let org = r.organizational_domain.as_deref().unwrap_or(at);
            if labels(domain) <= labels(org) + 1 {
                rule(
                    id,
                    text,
                    source,
                    RuleStatus::Pass,
                    format!("the record of the organizational domain {org}, the parent of {domain}: the tree walk queries the same name next"),
                )
            } else {
                rule(
                    id,
                    text,
                    source,
                    RuleStatus::NotVisible,
                    format!(
                        "the record is inherited from {org}, {} labels up; the tree walk first queries the names in between, which are not checked here",
                        labels(domain) - labels(org)
                    ),
                )
            }
        }
    }
}
