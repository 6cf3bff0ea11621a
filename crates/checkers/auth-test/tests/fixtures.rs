//! The checker over the results the host hands it: a failed test message is
//! an error with its reason, a sender without one a warning, a pass nothing;
//! without results it reports nothing and says why in its facts.

use std::sync::Arc;

use authwarden_api::authtest::{AuthTestResultsExt, SenderTest};
use authwarden_api::{Cadence, CheckContext, Checker, DomainTarget, SystemClock};
use authwarden_checker_auth_test::{AuthTest, AUTH_TEST_FAILED, AUTH_TEST_MISSING};
use authwarden_zone::ZoneResolver;

fn ctx() -> CheckContext {
    let resolver = ZoneResolver::from_str("$ORIGIN example.org.\n@ TXT \"v=spf1 -all\"\n").unwrap();
    CheckContext::new(Arc::new(resolver), Arc::new(SystemClock))
}

fn result(domain: &str, sender: &str, status: &str, reason: Option<&str>) -> SenderTest {
    SenderTest {
        domain: domain.into(),
        sender: sender.into(),
        status: status.into(),
        reason: reason.map(str::to_string),
        message: (status != "missing").then(|| format!("{sender}.eml")),
        date: (status != "missing").then_some(1_796_000_000),
    }
}

#[tokio::test]
async fn failures_and_missing_tests_are_findings() {
    let mut ctx = ctx();
    ctx.job = Some(Cadence::Quarterly);
    ctx.extensions.insert(Arc::new(AuthTestResultsExt {
        source: "/var/mail/seed".into(),
        results: Arc::new(vec![
            result("example.org", "google-workspace", "pass", None),
            result(
                "example.org",
                "office",
                "fail",
                Some("DKIM neutral (s=corp): body hash mismatch"),
            ),
            result(
                "example.org",
                "sendgrid",
                "missing",
                Some("no test message this quarter"),
            ),
            result("other.example", "mailchimp", "fail", Some("x")),
        ]),
        quarters: Arc::new(vec![(
            "2026-Q3".into(),
            vec![result("example.org", "office", "missing", None)],
        )]),
    }));
    let out = AuthTest
        .check(&ctx, &DomainTarget::new("example.org"))
        .await;
    let codes: Vec<&str> = out.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, [AUTH_TEST_FAILED.code, AUTH_TEST_MISSING.code]);
    assert!(
        out.findings[0].message.contains("body hash mismatch"),
        "{:#?}",
        out.findings
    );
    assert_eq!(out.findings[0].evidence["message"], "office.eml");
    assert!(out.findings[1].help.contains("/var/mail/seed"));
    let facts = out.facts.unwrap();
    assert_eq!(facts["tested"], true);
    assert_eq!(facts["senders"].as_array().unwrap().len(), 3);
    let lines = AuthTest.report_facts(&facts);
    let text: Vec<String> = lines
        .iter()
        .map(|l| format!("{}: {}", l.label, l.value))
        .collect();
    assert!(
        text.iter()
            .any(|l| l.starts_with("Authentication test office: FAIL: DKIM neutral")),
        "{text:#?}"
    );
    assert!(
        text.iter()
            .any(|l| l == "Authentication tests of office this year: 2026-Q3 missing"),
        "{text:#?}"
    );
}

#[tokio::test]
async fn without_results_nothing_is_reported_and_the_facts_say_why() {
    let out = AuthTest
        .check(&ctx(), &DomainTarget::new("example.org"))
        .await;
    assert!(out.findings.is_empty());
    let facts = out.facts.unwrap();
    assert_eq!(facts["tested"], false);
    assert!(facts["skipped"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("quarterly"));
}
