//! The `auth-test` checker of authwarden: the quarterly authentication test.
//!
//! Once a quarter every sender of a domain's inventory mails a test message
//! to a seed mailbox (`[verify] test_messages`). The job verifies the newest
//! message of each sender as a receiver would (DKIM, SPF, DMARC, through
//! `authwarden-verify`) and hands the results to this checker as
//! [`AuthTestResultsExt`]; it reports each sender whose message failed, with
//! the exact reason, and each sender that sent none. Without results (no
//! `[verify] test_messages`, or an ad-hoc check) it reports nothing and says
//! why in its facts.
#![deny(missing_docs)]

use authwarden_api::authtest::AuthTestResultsExt;
use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    async_trait, declare_codes, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo,
    DomainTarget, Finding, ReportFact, Severity,
};

/// The checker id, also its config section `[checkers.auth-test]`.
pub const CHECKER_ID: &str = "auth-test";

declare_codes! {
    /// A sender's test message did not pass DMARC.
    ///
    /// ## What it checks
    /// The newest test message of each inventory sender in the period,
    /// verified as a receiver would: every DKIM signature, SPF for the
    /// sending server, and DMARC alignment with the From domain.
    ///
    /// ## Why it matters
    /// What the DNS records promise is not what receivers see: a footer
    /// added after signing, a changed return path or a server missing from
    /// SPF make real mail fail DMARC, and under `p=quarantine` or
    /// `p=reject` it is lost.
    ///
    /// ## How to fix
    /// Fix what the reason names (the finding's evidence gives the message
    /// file); then send a new test message and check it with
    /// `authwarden verify MESSAGE.eml`.
    pub AUTH_TEST_FAILED = ("AUTH001", "sender-test-failed", Severity::Error);

    /// A sender of the inventory sent no test message this period.
    ///
    /// ## What it checks
    /// Whether a test message from each inventory sender arrived in the
    /// test mailbox during the period (matched by its DKIM signing domain
    /// or selector, its envelope sender or its sending address).
    ///
    /// ## Why it matters
    /// The quarterly test is the only proof that a sender's real mail
    /// authenticates; a sender not tested may have broken since.
    ///
    /// ## How to fix
    /// Have the sender's owner send one message from the service, exactly
    /// as it sends real mail, to the test mailbox.
    pub AUTH_TEST_MISSING = ("AUTH002", "sender-test-missing", Severity::Warning);
}

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "the quarterly authentication test: each inventory sender's test message, verified as a receiver would",
    cadences: &[Cadence::Quarterly, Cadence::Annual],
    codes: CODES,
    facts_key: "auth_test",
};

/// The `auth-test` checker. Its facts (key `auth_test`) are `{"tested":
/// bool, "senders": [{sender, status, reason, message, date}], "skipped":
/// [...]}`.
#[derive(Debug, Default, Clone, Copy)]
pub struct AuthTest;

#[async_trait]
impl Checker for AuthTest {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    /// One line per sender (its result, the message verified), and in the
    /// annual audit one per sender with its quarters.
    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        let mut out = Vec::new();
        if facts["tested"] != true {
            return out;
        }
        for s in facts["senders"].as_array().into_iter().flatten() {
            let sender = s["sender"].as_str().unwrap_or("?");
            let value = match s["status"].as_str() {
                Some("pass") => format!(
                    "pass (SPF, DKIM and DMARC as a receiver checks them; {})",
                    s["message"].as_str().unwrap_or("message")
                ),
                Some("fail") => format!(
                    "FAIL: {} ({})",
                    s["reason"].as_str().unwrap_or("no reason given"),
                    s["message"].as_str().unwrap_or("message")
                ),
                _ => "no test message this period: have its owner send one message from it to the test mailbox".into(),
            };
            out.push(ReportFact::new(
                format!("Authentication test {sender}"),
                value,
            ));
        }
        let mut record: Vec<(String, Vec<String>)> = Vec::new();
        for q in facts["quarters"].as_array().into_iter().flatten() {
            let period = q["period"].as_str().unwrap_or("?");
            for s in q["senders"].as_array().into_iter().flatten() {
                let sender = s["sender"].as_str().unwrap_or("?").to_string();
                let entry = format!("{period} {}", s["status"].as_str().unwrap_or("?"));
                match record.iter_mut().find(|(n, _)| *n == sender) {
                    Some((_, list)) => list.push(entry),
                    None => record.push((sender, vec![entry])),
                }
            }
        }
        for (sender, list) in record {
            out.push(ReportFact::new(
                format!("Authentication tests of {sender} this year"),
                list.join(", "),
            ));
        }
        out
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = target.name.trim_end_matches('.').to_ascii_lowercase();
        let mut out = CheckOutput::default();
        let Some(results) = ctx.extensions.get::<AuthTestResultsExt>() else {
            let reason = if ctx.job.is_none() {
                "the authentication test runs in the quarterly and annual jobs"
            } else {
                "no test mailbox is configured (`[verify] test_messages`)"
            };
            out.facts = Some(json!({
                "tested": false,
                "senders": [],
                "skipped": [{"kind": "all", "reason": reason}],
            }));
            return out;
        };
        let mine = results.of(&domain);
        for r in &mine {
            let finding = match r.status.as_str() {
                "fail" => Finding::new(
                    CHECKER_ID,
                    &AUTH_TEST_FAILED,
                    &domain,
                    format!(
                        "the test message of {} failed dmarc: {}",
                        r.sender,
                        r.reason.as_deref().unwrap_or("no reason given")
                    ),
                )
                .help(format!(
                    "fix what the reason names at {}, send a new test message to the test mailbox and check it with `authwarden verify`",
                    r.sender
                )),
                "missing" => Finding::new(
                    CHECKER_ID,
                    &AUTH_TEST_MISSING,
                    &domain,
                    format!("{} sent no test message this period", r.sender),
                )
                .help(format!(
                    "have the owner of {} send one message from it, as it sends real mail, to the test mailbox ({})",
                    r.sender, results.source
                )),
                _ => continue,
            };
            out.findings.push(
                finding
                    .evidence("sender", r.sender.clone())
                    .evidence("message", r.message.clone())
                    .evidence("date", r.date),
            );
        }
        // The annual audit: each sender's quarters, from the history.
        let quarters: Vec<Value> = results
            .quarters
            .iter()
            .map(|(period, rows)| {
                let senders: Vec<Value> = rows
                    .iter()
                    .filter(|r| r.domain == domain)
                    .map(|r| json!({"sender": r.sender, "status": r.status}))
                    .collect();
                json!({"period": period, "senders": senders})
            })
            .collect();
        out.facts = Some(json!({
            "tested": true,
            "senders": mine,
            "quarters": quarters,
            "skipped": if mine.is_empty() {
                json!([{"kind": "all", "reason": "the domain has no [domains.inventory] senders to test"}])
            } else {
                json!([])
            },
        }));
        out
    }
}
