//! The Gmail and Yahoo sender requirements: the rules for all senders, and
//! those for bulk senders (about 5,000 messages a day or more to Gmail),
//! which apply when Google's daily volumes or the config say so.
//!
//! Google's `Sender requirement failed: <SMTP code>` comments in aggregate
//! reports fail the rule their code names; Google saw the failure, so its
//! word stands over what DNS suggests.

use crate::seen::{Alignment, Facts, Seen};
use crate::{count, rule, RuleResult, RuleStatus, CANNOT_BE_SEEN};

const GOOGLE: &str = "https://support.google.com/a/answer/81126";
const BOTH: &str =
    "https://support.google.com/a/answer/81126 and https://senders.yahooinc.com/best-practices/";

/// Google's bulk-sender threshold, messages a day to personal Gmail accounts.
pub(crate) const BULK_DAILY: u64 = 5_000;

/// The requirement a Google comment names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    /// x.7.27: SPF did not pass.
    Spf,
    /// x.7.30: DKIM did not pass.
    Dkim,
    /// x.7.26: unauthenticated (neither SPF nor DKIM).
    Auth,
    /// x.7.31 / x.7.40: no DMARC record or no usable policy.
    Dmarc,
    /// x.7.32: From not aligned with SPF or DKIM.
    Align,
    /// x.7.23 / x.7.25: no valid forward and reverse DNS.
    Ptr,
    /// x.7.29: no TLS.
    Tls,
    /// Anything else (5.7.1 and the like).
    Other,
}

/// The requirement a comment names: by the enhanced status code Google
/// appends, else by the words in it.
fn classify(comment: &str) -> Named {
    let lower = comment.to_ascii_lowercase();
    for class in ["4.7.", "5.7."] {
        let mut rest = lower.as_str();
        while let Some(at) = rest.find(class) {
            let digits: String = rest[at + class.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            match digits.as_str() {
                "27" => return Named::Spf,
                "30" => return Named::Dkim,
                "26" => return Named::Auth,
                "31" | "40" => return Named::Dmarc,
                "32" => return Named::Align,
                "23" | "25" => return Named::Ptr,
                "29" => return Named::Tls,
                _ => {}
            }
            rest = &rest[at + class.len()..];
        }
    }
    let has = |w: &str| lower.contains(w);
    if has("dmarc") {
        Named::Dmarc
    } else if has("align") {
        Named::Align
    } else if has("spf") {
        Named::Spf
    } else if has("dkim") {
        Named::Dkim
    } else if has("ptr") || has("reverse dns") {
        Named::Ptr
    } else if has("tls") {
        Named::Tls
    } else if has("unauthenticated") {
        Named::Auth
    } else {
        Named::Other
    }
}

/// Whether the bulk-sender rules apply, and the words for `applies`.
fn bulk(facts: &Facts, override_: Option<bool>, comments: &[(Named, &str)]) -> (bool, String) {
    let max = facts.mail.and_then(|m| m.max_daily_to_google);
    let busiest = |n: u64| format!("{} on the busiest day", count(n));
    match override_ {
        Some(true) => {
            let seen = max
                .map(|n| format!(" ({})", busiest(n)))
                .unwrap_or_default();
            return (true, format!("yes, set in config{seen}"));
        }
        Some(false) => {
            let seen = max
                .map(|n| format!(" ({})", busiest(n)))
                .unwrap_or_default();
            return (false, format!("no, set in config{seen}"));
        }
        None => {}
    }
    if let Some((_, c)) = comments
        .iter()
        .find(|(n, _)| matches!(n, Named::Dmarc | Named::Align))
    {
        return (
            true,
            format!("yes: Google's reports name a bulk-sender requirement (\"{c}\")"),
        );
    }
    match (max, facts.mail) {
        (Some(n), _) if n >= BULK_DAILY => (true, format!("yes, {}", busiest(n))),
        (Some(n), _) => (false, format!("no, {}", busiest(n))),
        (None, Some(_)) => (false, "no: no aggregate report from Google was seen".into()),
        (None, None) => (
            true,
            "cannot tell without aggregate reports; the bulk-sender rules are checked as if it were one (the bulk-sender flag in config decides)".into(),
        ),
    }
}

/// The status of "one or the other" from two answers.
fn either(a: &Seen, b: &Seen) -> RuleStatus {
    match (a, b) {
        (Seen::Yes(_), _) | (_, Seen::Yes(_)) => RuleStatus::Pass,
        (Seen::No(_), Seen::No(_)) => RuleStatus::Fail,
        _ => RuleStatus::NotVisible,
    }
}

pub(crate) fn status_of(seen: &Seen) -> RuleStatus {
    match seen {
        Seen::Yes(_) => RuleStatus::Pass,
        Seen::No(_) => RuleStatus::Fail,
        Seen::Unknown(_) => RuleStatus::NotVisible,
    }
}

/// A rule's status from what was seen, for a bulk-sender rule.
fn bulk_rule(
    applies: bool,
    id: &str,
    text: &str,
    source: &str,
    status: RuleStatus,
    evidence: String,
) -> RuleResult {
    if applies {
        rule(id, text, source, status, evidence)
    } else {
        rule(
            id,
            text,
            source,
            RuleStatus::NotApplicable,
            "not a bulk sender",
        )
    }
}

/// The profile's `applies` and rules.
pub(crate) fn rules(facts: &Facts, override_: Option<bool>) -> (String, Vec<RuleResult>) {
    let comments: Vec<(Named, &str)> = facts
        .mail
        .iter()
        .flat_map(|m| &m.sender_requirement_comments)
        .map(|c| (classify(c), c.as_str()))
        .collect();
    let (is_bulk, words) = bulk(facts, override_, &comments);
    let applies = format!("bulk sender (about 5,000 a day or more to Gmail): {words}");

    let spf = facts.spf();
    let dkim = facts.dkim();
    let mut rules = Vec::new();

    // All senders.
    rules.push(rule(
        "gmail-spf-or-dkim",
        "Every sender authenticates its mail with SPF or DKIM.",
        BOTH,
        either(&spf, &dkim),
        format!("SPF: {}; DKIM: {}", spf.text(), dkim.text()),
    ));
    rules.push(dkim_1024(facts));
    rules.push(fcrdns(facts));
    rules.push(rule(
        "gmail-tls",
        "Mail is sent over a TLS connection.",
        GOOGLE,
        RuleStatus::NotVisible,
        CANNOT_BE_SEEN,
    ));
    rules.push(rule(
        "gmail-spam-rate",
        "The spam rate users report, as Google Postmaster Tools shows it, stays below 0.3%.",
        BOTH,
        RuleStatus::NotVisible,
        CANNOT_BE_SEEN,
    ));

    // Bulk senders.
    let mut missing = Vec::new();
    for seen in [&spf, &dkim] {
        if let Seen::No(t) = seen {
            missing.push(t.clone());
        }
    }
    missing.extend(facts.senders_without(Alignment::Spf));
    missing.extend(facts.senders_without(Alignment::Dkim));
    let (status, evidence) = if !missing.is_empty() {
        (RuleStatus::Fail, missing.join("; "))
    } else {
        let status = match (&spf, &dkim) {
            (Seen::Yes(_), Seen::Yes(_)) => RuleStatus::Pass,
            _ => RuleStatus::NotVisible,
        };
        (
            status,
            format!("SPF: {}; DKIM: {}", spf.text(), dkim.text()),
        )
    };
    rules.push(bulk_rule(
        is_bulk,
        "gmail-bulk-spf-and-dkim",
        "A bulk sender authenticates its mail with both SPF and DKIM for its domain.",
        BOTH,
        status,
        evidence,
    ));
    let dmarc = facts.dmarc_published();
    rules.push(bulk_rule(
        is_bulk,
        "gmail-bulk-dmarc",
        "A bulk sender publishes a DMARC record, with a policy of at least p=none.",
        BOTH,
        status_of(&dmarc),
        dmarc.text().to_string(),
    ));
    let aligned = facts.alignment();
    rules.push(bulk_rule(
        is_bulk,
        "gmail-bulk-alignment",
        "A bulk sender's From domain is aligned with the SPF or the DKIM domain (DMARC passes).",
        GOOGLE,
        status_of(&aligned),
        aligned.text().to_string(),
    ));
    rules.push(bulk_rule(
        is_bulk,
        "gmail-bulk-one-click-unsubscribe",
        "A bulk sender's marketing and subscribed mail supports one-click unsubscribe (RFC 8058) and shows an unsubscribe link.",
        BOTH,
        RuleStatus::NotVisible,
        CANNOT_BE_SEEN.to_string(),
    ));
    rules.push(rule(
        "gmail-other-requirements",
        "Google's aggregate reports name no other failed sender requirement.",
        GOOGLE,
        if facts.mail.and_then(|m| m.max_daily_to_google).is_some() {
            RuleStatus::Pass
        } else {
            RuleStatus::NotVisible
        },
        if facts.mail.and_then(|m| m.max_daily_to_google).is_some() {
            "Google's reports carry no other \"Sender requirement failed\" comment"
        } else {
            "no aggregate report from Google was seen"
        },
    ));

    apply_comments(&mut rules, &comments, is_bulk);
    (applies, rules)
}

/// Fails the rule each Google comment names, with the comment as evidence;
/// a comment naming no rule that applies fails `gmail-other-requirements`.
fn apply_comments(rules: &mut [RuleResult], comments: &[(Named, &str)], is_bulk: bool) {
    for &(named, comment) in comments {
        let (target, meaning) = match named {
            Named::Spf if is_bulk => ("gmail-bulk-spf-and-dkim", "SPF did not pass"),
            Named::Spf => ("gmail-spf-or-dkim", "SPF did not pass"),
            Named::Dkim if is_bulk => ("gmail-bulk-spf-and-dkim", "DKIM did not pass"),
            Named::Dkim => ("gmail-spf-or-dkim", "DKIM did not pass"),
            Named::Auth => (
                "gmail-spf-or-dkim",
                "the mail was unauthenticated: neither SPF nor DKIM passed",
            ),
            Named::Dmarc => (
                "gmail-bulk-dmarc",
                "no DMARC record, or none with a usable policy",
            ),
            Named::Align => (
                "gmail-bulk-alignment",
                "the From domain was aligned with neither SPF nor DKIM",
            ),
            Named::Ptr => (
                "gmail-fcrdns",
                "the sending IP had no valid forward and reverse DNS",
            ),
            Named::Tls => ("gmail-tls", "the mail was not sent over TLS"),
            Named::Other => (
                "gmail-other-requirements",
                "a requirement the code does not name further",
            ),
        };
        let applicable = rules
            .iter()
            .any(|r| r.id == target && r.status != RuleStatus::NotApplicable);
        let target = if applicable {
            target
        } else {
            "gmail-other-requirements"
        };
        if let Some(r) = rules.iter_mut().find(|r| r.id == target) {
            let said = format!("Google reported \"{comment}\" ({meaning})");
            if r.status == RuleStatus::Fail {
                r.evidence = format!("{}; {said}", r.evidence);
            } else {
                r.evidence = said;
            }
            r.status = RuleStatus::Fail;
        }
    }
}

fn dkim_1024(facts: &Facts) -> RuleResult {
    crate::key_size_rule(
        facts,
        "gmail-dkim-key-1024",
        "DKIM keys are 1,024 bits or longer (Google recommends 2,048).",
        GOOGLE,
        1024,
    )
}

fn fcrdns(facts: &Facts) -> RuleResult {
    let id = "gmail-fcrdns";
    let text = "The sending IPs have forward-confirmed reverse DNS: a PTR name that resolves back to the IP.";
    match facts.mail.and_then(|m| m.fcrdns_failing_sources) {
        Some(0) => rule(
            id,
            text,
            BOTH,
            RuleStatus::Pass,
            "every sending source's PTR name resolves back to its IP",
        ),
        Some(n) => rule(
            id,
            text,
            BOTH,
            RuleStatus::Fail,
            format!(
                "{} sending source{} without a PTR that resolves back to the IP",
                count(n),
                if n == 1 { "" } else { "s" }
            ),
        ),
        None => rule(
            id,
            text,
            BOTH,
            RuleStatus::NotVisible,
            "the reverse DNS of the sending IPs is not known here",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_map_to_the_requirement_their_code_names() {
        assert_eq!(
            classify("Sender requirement failed: 550-5.7.27"),
            Named::Spf
        );
        assert_eq!(
            classify("Sender requirement failed: 421-4.7.30"),
            Named::Dkim
        );
        assert_eq!(
            classify("Sender requirement failed: 550-5.7.26"),
            Named::Auth
        );
        assert_eq!(
            classify("Sender requirement failed: 421-4.7.40"),
            Named::Dmarc
        );
        assert_eq!(
            classify("Sender requirement failed: 421-4.7.32"),
            Named::Align
        );
        assert_eq!(
            classify("Sender requirement failed: 550-5.7.25"),
            Named::Ptr
        );
        assert_eq!(
            classify("Sender requirement failed: 421-4.7.29"),
            Named::Tls
        );
        assert_eq!(
            classify("Sender requirement failed: 550-5.7.1"),
            Named::Other
        );
        assert_eq!(
            classify("Sender requirement failed: DMARC policy missing"),
            Named::Dmarc
        );
    }
}
