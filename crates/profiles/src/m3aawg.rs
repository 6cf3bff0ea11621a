//! The M3AAWG DKIM key practice: 2,048-bit RSA keys, rotated about every
//! six months.

use crate::seen::Facts;
use crate::{rule, RuleResult, RuleStatus};

const M3AAWG: &str =
    "https://www.m3aawg.org/sites/default/files/m3aawg-dkim-key-rotation-bp-2019-03.pdf";

/// About six months, in days: the longest a key should stay in use.
pub(crate) const ROTATION_DAYS: i64 = 183;

/// The profile's `applies` and rules.
pub(crate) fn rules(facts: &Facts) -> (String, Vec<RuleResult>) {
    let valid = facts.valid_keys();
    let applies = match valid.len() {
        0 => format!("domains that sign with DKIM: {}", facts.no_key()),
        1 => "domains that sign with DKIM: 1 valid key found".to_string(),
        n => format!("domains that sign with DKIM: {n} valid keys found"),
    };
    (applies, vec![key_2048(facts), rotation(facts)])
}

fn key_2048(facts: &Facts) -> RuleResult {
    crate::key_size_rule(
        facts,
        "m3aawg-dkim-key-2048",
        "RSA DKIM keys are 2,048 bits long.",
        M3AAWG,
        2048,
    )
}

fn rotation(facts: &Facts) -> RuleResult {
    let id = "m3aawg-dkim-rotation";
    let text = "DKIM keys are rotated at least every six months (183 days).";
    let valid = facts.valid_keys();
    if valid.is_empty() {
        return rule(id, text, M3AAWG, RuleStatus::NotVisible, facts.no_key());
    }
    let aged = |k: &&crate::seen::Key, days: i64| {
        let from = match k.age_source.as_deref() {
            Some("history") => " (since first seen in DNS)",
            Some("selector-name") => " (from the date in the selector name)",
            _ => "",
        };
        format!("selector {}: {days} days old{from}", k.selector)
    };
    let old: Vec<String> = valid
        .iter()
        .filter_map(|k| {
            k.key_age_days
                .filter(|&d| d > ROTATION_DAYS)
                .map(|d| aged(k, d))
        })
        .collect();
    if !old.is_empty() {
        return rule(
            id,
            text,
            M3AAWG,
            RuleStatus::Fail,
            format!("older than {ROTATION_DAYS} days: {}", old.join("; ")),
        );
    }
    let unknown: Vec<&str> = valid
        .iter()
        .filter(|k| k.key_age_days.is_none())
        .map(|k| k.selector.as_str())
        .collect();
    if !unknown.is_empty() {
        return rule(
            id,
            text,
            M3AAWG,
            RuleStatus::NotVisible,
            format!(
                "age not known for selector {}: no key history yet and no date in the selector name",
                unknown.join(", ")
            ),
        );
    }
    let all: Vec<String> = valid
        .iter()
        .filter_map(|k| k.key_age_days.map(|d| aged(k, d)))
        .collect();
    rule(
        id,
        text,
        M3AAWG,
        RuleStatus::Pass,
        format!(
            "every key is {ROTATION_DAYS} days old or younger: {}",
            all.join("; ")
        ),
    )
}
