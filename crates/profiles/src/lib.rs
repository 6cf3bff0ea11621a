//! Receiver-rule profiles: whether a domain meets the rules that mail
//! receivers and standards set, rule by rule, with the rule's source, the
//! evidence and a status of pass, fail, not visible or not applicable.
//!
//! A pure library: it reads a domain's checker facts (the `dmarc`, `spf`,
//! `dkim`, `inventory` and `rollout` keys) and the period's aggregate-report
//! evidence ([`MailEvidence`]), and does no I/O. The profiles:
//!
//! - [`ProfileId::GmailYahoo`]: the Gmail and Yahoo sender requirements
//!   (`gmail.rs`), with the bulk-sender rules decided from Google's daily
//!   volumes or the config override;
//! - [`ProfileId::Outlook`]: Outlook.com's high-volume sender requirements
//!   (`outlook.rs`);
//! - [`ProfileId::Rfc9989`]: what RFC 9989 (DMARCbis) changes for the
//!   record (`rfc9989.rs`);
//! - [`ProfileId::M3aawgDkim`]: the M3AAWG DKIM key practice (`m3aawg.rs`).
//!
//! The one principle: nothing passes that was not seen. What DNS and
//! aggregate reports cannot show (a spam rate, one-click unsubscribe) is
//! [`RuleStatus::NotVisible`], with the reason as its evidence.
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

mod gmail;
mod m3aawg;
mod outlook;
mod rfc9989;
mod seen;

#[cfg(test)]
mod tests;

use seen::Facts;

/// A receiver-rule profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileId {
    /// Gmail and Yahoo sender requirements (`gmail-yahoo`).
    GmailYahoo,
    /// Outlook.com high-volume sender requirements (`outlook`).
    Outlook,
    /// RFC 9989, DMARCbis (`rfc9989`).
    Rfc9989,
    /// M3AAWG DKIM key practice (`m3aawg-dkim`).
    M3aawgDkim,
}

impl ProfileId {
    /// Every profile, in report order.
    pub const ALL: [ProfileId; 4] = [
        ProfileId::GmailYahoo,
        ProfileId::Outlook,
        ProfileId::Rfc9989,
        ProfileId::M3aawgDkim,
    ];

    /// The config name: `gmail-yahoo`, `outlook`, `rfc9989`, `m3aawg-dkim`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileId::GmailYahoo => "gmail-yahoo",
            ProfileId::Outlook => "outlook",
            ProfileId::Rfc9989 => "rfc9989",
            ProfileId::M3aawgDkim => "m3aawg-dkim",
        }
    }

    /// The profile's name as a report heads it.
    pub fn name(self) -> &'static str {
        match self {
            ProfileId::GmailYahoo => "Gmail and Yahoo sender requirements",
            ProfileId::Outlook => "Outlook.com high-volume sender requirements",
            ProfileId::Rfc9989 => "RFC 9989 (DMARCbis)",
            ProfileId::M3aawgDkim => "M3AAWG DKIM key practice",
        }
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile name that is none of [`ProfileId::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(pub String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ProfileId::ALL.iter().map(|p| p.as_str()).collect();
        write!(
            f,
            "unknown profile `{}`: expected one of {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownProfile {}

impl FromStr for ProfileId {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProfileId::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownProfile(s.to_string()))
    }
}

/// What the aggregate reports of the period show for a domain; every field
/// may be zero or unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MailEvidence {
    /// The largest daily message count in reports whose reporter is Google:
    /// the bulk-sender signal. The caller keeps the maximum ever seen
    /// (Gmail's bulk classification is permanent); `None` when no report
    /// from Google was ever seen.
    pub max_daily_to_google: Option<u64>,
    /// All messages of the period for the domain (legitimate or not).
    pub messages: u64,
    /// Those that passed DMARC.
    pub dmarc_pass: u64,
    /// Those whose SPF result was a pass aligned with the From domain.
    pub spf_aligned: u64,
    /// Those with a passing DKIM signature aligned with the From domain.
    pub dkim_aligned: u64,
    /// Google's `Sender requirement failed: ...` reason comments of
    /// `policy_evaluated`, as found.
    pub sender_requirement_comments: Vec<String>,
    /// Sending sources whose PTR does not forward-confirm, when known.
    pub fcrdns_failing_sources: Option<u64>,
}

/// One domain to evaluate.
#[derive(Debug, Clone, Copy)]
pub struct ProfileInput<'a> {
    /// The domain.
    pub domain: &'a str,
    /// Its checker facts, keyed by checker (`dmarc`, `spf`, `dkim`, ...).
    pub facts: &'a serde_json::Map<String, serde_json::Value>,
    /// The period's aggregate-report evidence, `None` without reports.
    pub mail: Option<&'a MailEvidence>,
    /// The config's bulk-sender flag; it overrides the volume.
    pub bulk_sender: Option<bool>,
}

/// The status of one rule.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RuleStatus {
    /// Seen to be met.
    Pass,
    /// Seen not to be met; the evidence says what was seen.
    Fail,
    /// Cannot be seen from DNS and the aggregate reports here.
    NotVisible,
    /// Does not apply to this domain (e.g. a bulk-sender rule, not a bulk
    /// sender).
    NotApplicable,
}

impl RuleStatus {
    /// `pass`, `fail`, `not-visible`, `not-applicable`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::NotVisible => "not-visible",
            RuleStatus::NotApplicable => "not-applicable",
        }
    }
}

/// One rule of a profile, evaluated.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct RuleResult {
    /// A stable kebab-case id, e.g. `gmail-dkim-key-1024`.
    pub id: String,
    /// The rule in one sentence.
    pub rule: String,
    /// Where the rule is written: a URL or an RFC section.
    pub source: String,
    /// What was seen, with the meaning of every number.
    pub evidence: String,
    /// Pass, fail, not visible or not applicable.
    pub status: RuleStatus,
}

/// One profile, evaluated for one domain.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct ProfileResult {
    /// The profile.
    pub id: ProfileId,
    /// Its name.
    pub name: String,
    /// To whom the profile (or its stricter part) applies, and whether this
    /// domain is one, e.g. `bulk sender (about 5,000 a day or more to
    /// Gmail): yes, 12,400 on the busiest day`.
    pub applies: String,
    /// The rules, in the order of the source.
    pub rules: Vec<RuleResult>,
    /// Rules seen to be met.
    pub passed: usize,
    /// Rules seen not to be met.
    pub failed: usize,
    /// Rules that cannot be seen from here.
    pub not_visible: usize,
    /// `meets`, `meets the rules seen; 2 not visible`, `fails 2 rules` or
    /// `cannot tell` (see [`verdict`]).
    pub verdict: String,
}

/// Evaluates `profiles` (in the order given) for one domain.
pub fn evaluate(profiles: &[ProfileId], input: &ProfileInput) -> Vec<ProfileResult> {
    let facts = Facts::read(input);
    profiles
        .iter()
        .map(|&id| {
            let (applies, rules) = match id {
                ProfileId::GmailYahoo => gmail::rules(&facts, input.bulk_sender),
                ProfileId::Outlook => outlook::rules(&facts, input.bulk_sender),
                ProfileId::Rfc9989 => rfc9989::rules(&facts),
                ProfileId::M3aawgDkim => m3aawg::rules(&facts),
            };
            result(id, applies, rules)
        })
        .collect()
}

fn result(id: ProfileId, applies: String, rules: Vec<RuleResult>) -> ProfileResult {
    let n = |s: RuleStatus| rules.iter().filter(|r| r.status == s).count();
    let (passed, failed, not_visible) = (
        n(RuleStatus::Pass),
        n(RuleStatus::Fail),
        n(RuleStatus::NotVisible),
    );
    ProfileResult {
        id,
        name: id.name().to_string(),
        applies,
        verdict: verdict(passed, failed, not_visible),
        rules,
        passed,
        failed,
        not_visible,
    }
}

/// The verdict of a profile from its counts: `fails 1 rule` / `fails N
/// rules` when any rule fails; `cannot tell` when none passed; `meets the
/// rules seen; N not visible` when some cannot be seen; else `meets`.
pub fn verdict(passed: usize, failed: usize, not_visible: usize) -> String {
    if failed == 1 {
        "fails 1 rule".into()
    } else if failed > 1 {
        format!("fails {failed} rules")
    } else if passed == 0 {
        "cannot tell".into()
    } else if not_visible > 0 {
        format!("meets the rules seen; {not_visible} not visible")
    } else {
        "meets".into()
    }
}

/// A rule, evaluated.
pub(crate) fn rule(
    id: &str,
    rule: &str,
    source: &str,
    status: RuleStatus,
    evidence: impl Into<String>,
) -> RuleResult {
    RuleResult {
        id: id.to_string(),
        rule: rule.to_string(),
        source: source.to_string(),
        evidence: evidence.into(),
        status,
    }
}

/// A rule that every valid RSA DKIM key has at least `min_bits`: not
/// visible without keys or with a key of unknown size, not applicable with
/// ed25519 keys only.
pub(crate) fn key_size_rule(
    facts: &Facts,
    id: &str,
    text: &str,
    source: &str,
    min_bits: u64,
) -> RuleResult {
    let valid = facts.valid_keys();
    if valid.is_empty() {
        return rule(id, text, source, RuleStatus::NotVisible, facts.no_key());
    }
    let rsa: Vec<_> = valid.iter().filter(|k| k.is_rsa()).collect();
    if rsa.is_empty() {
        return rule(
            id,
            text,
            source,
            RuleStatus::NotApplicable,
            "only ed25519 keys (RFC 8463), which an RSA key length does not measure",
        );
    }
    let describe = |keep: &dyn Fn(Option<u64>) -> bool| -> Vec<String> {
        rsa.iter()
            .filter(|k| keep(k.key_bits))
            .map(|k| k.describe())
            .collect()
    };
    let short = describe(&|b| b.is_some_and(|b| b < min_bits));
    if !short.is_empty() {
        return rule(
            id,
            text,
            source,
            RuleStatus::Fail,
            format!(
                "shorter than {} bits: {}",
                count(min_bits),
                short.join(", ")
            ),
        );
    }
    let unknown = describe(&|b| b.is_none());
    if !unknown.is_empty() {
        return rule(
            id,
            text,
            source,
            RuleStatus::NotVisible,
            format!("key size not known: {}", unknown.join(", ")),
        );
    }
    rule(
        id,
        text,
        source,
        RuleStatus::Pass,
        format!(
            "every RSA key is {} bits or longer: {}",
            count(min_bits),
            describe(&|_| true).join(", ")
        ),
    )
}

/// What an evaluated rule says about anything DNS and reports cannot show.
pub(crate) const CANNOT_BE_SEEN: &str = "cannot be seen from DNS and aggregate reports";

/// `12,400`.
pub(crate) fn count(n: u64) -> String {
    authwarden_api::text::group_digits(n)
}
