//! The host side against real processes: the Python example and a test
//! checker that misbehaves on purpose.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    Cadence, CheckContext, Checker, DnsFailure, DomainTarget, FixedClock, RecordType, Severity,
};
use authwarden_external::{ExternalChecker, ExternalSpec};
use authwarden_zone::ZoneResolver;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn spec(id: &str, command: &[&str], dir: PathBuf, timeout: Duration) -> ExternalSpec {
    ExternalSpec {
        id: id.into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        dir,
        timeout,
    }
}

async fn misbehave(mode: &str, timeout: Duration) -> ExternalChecker {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    ExternalChecker::describe(spec(
        "misbehave",
        &["python3", "misbehave.py", mode],
        dir,
        timeout,
    ))
    .await
}

fn ctx(zone: &str) -> CheckContext {
    let clock = FixedClock("2026-11-01T06:00:00Z".parse().unwrap());
    CheckContext::new(
        Arc::new(ZoneResolver::from_str(zone).unwrap()),
        Arc::new(clock),
    )
}

const ZONE: &str = "$ORIGIN example.org.\n@ TXT \"hello\"\n";

#[tokio::test]
async fn a_described_checker_runs_with_its_dns_answers_config_and_period() {
    let checker = misbehave("ok", Duration::from_secs(20)).await;
    assert_eq!(checker.describe_error(), None);
    let info = checker.info();
    assert_eq!(info.id, "misbehave");
    assert_eq!(info.cadences, [Cadence::Monthly, Cadence::Annual]);
    assert_eq!(info.codes[0].code, "TST001");
    assert_eq!(info.codes[0].parsed_docs().fix, "z");

    let mut ctx = ctx(ZONE).with_config(json!({"strict": true}));
    ctx.job = Some(Cadence::Quarterly);
    let mut target = DomainTarget::new("example.org");
    target.settings = json!({"misbehave": {"mode": "x"}, "other": {"y": 1}});
    let out = checker.check(&ctx, &target).await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(
        (f.checker.as_str(), f.code.as_str(), f.name.as_str()),
        ("misbehave", "TST001", "test-finding")
    );
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.subject, "example.org");
    // The request the program received, echoed back as evidence.
    let request = &f.evidence["request"];
    assert_eq!(request["request"], "run");
    assert_eq!(request["protocol"], 1);
    assert_eq!(request["job"], "quarterly");
    assert_eq!(request["period"], "2026-Q3"); // the quarter before 1 November
    assert_eq!(request["config"], json!({"strict": true}));
    let domain = &request["domains"][0];
    assert_eq!(domain["name"], "example.org");
    assert_eq!(domain["settings"], json!({"mode": "x"}));
    assert_eq!(
        domain["dns"]["example.org"]["TXT"],
        json!({"outcome": "records", "records": ["hello"], "error": null})
    );
    assert_eq!(
        out.facts.unwrap()["txt"]["example.org"]["TXT"]["outcome"],
        "records"
    );
}

async fn incomplete(mode: &str, timeout: Duration) -> (String, Value) {
    let checker = misbehave(mode, timeout).await;
    let out = checker
        .check(&ctx(ZONE), &DomainTarget::new("example.org"))
        .await;
    assert_eq!(out.findings.len(), 1, "{:?}", out.findings);
    let f = &out.findings[0];
    assert_eq!(
        (f.code.as_str(), f.checker.as_str()),
        ("EXT001", "misbehave")
    );
    assert_eq!(f.domain, "example.org");
    (f.message.clone(), Value::Object(f.evidence.clone()))
}

#[tokio::test]
async fn a_crash_is_a_finding_with_the_stderr_tail() {
    let (message, evidence) = incomplete("crash", Duration::from_secs(20)).await;
    assert!(message.contains("exited with status 3"), "{message}");
    assert_eq!(
        evidence["stderr"],
        json!([
            "Traceback (most recent call last):",
            "ZeroDivisionError: division by zero"
        ])
    );
}

#[tokio::test]
async fn a_hang_is_killed_at_the_timeout() {
    let started = std::time::Instant::now();
    let (message, _) = incomplete("sleep", Duration::from_secs(2)).await;
    assert!(
        message.contains("did not answer within 2s and was killed"),
        "{message}"
    );
    // Killed, not waited for: the script would sleep 30 s.
    assert!(started.elapsed() < Duration::from_secs(25));
}

#[tokio::test]
async fn malformed_output_is_a_finding() {
    let (message, _) = incomplete("garbage", Duration::from_secs(20)).await;
    assert!(message.contains("malformed run response"), "{message}");
    assert!(message.contains("this is not json"), "{message}");
}

#[tokio::test]
async fn undeclared_codes_and_foreign_domains_are_refused() {
    let (message, _) = incomplete("undeclared", Duration::from_secs(20)).await;
    assert!(
        message.contains("`TST999`, which it did not declare"),
        "{message}"
    );
    let (message, _) = incomplete("wrong-domain", Duration::from_secs(20)).await;
    assert!(
        message.contains("`elsewhere.example`, which it was not asked about"),
        "{message}"
    );
}

#[tokio::test]
async fn a_failed_describe_makes_every_domain_incomplete() {
    let checker = misbehave("describe-crash", Duration::from_secs(20)).await;
    assert!(checker
        .describe_error()
        .unwrap()
        .contains("exited with status 1"));
    assert_eq!(checker.info().id, "misbehave");
    let (message, _) = incomplete("describe-crash", Duration::from_secs(20)).await;
    assert!(message.contains("exited with status 1"), "{message}");

    let checker = misbehave("describe-bad", Duration::from_secs(20)).await;
    let why = checker.describe_error().unwrap();
    for expected in [
        "code `tst1` is not upper-case letters followed by three digits",
        "name `Test` of tst1 is not kebab-case",
        "the docs of tst1 have no `## How to fix`",
    ] {
        assert!(why.contains(expected), "{why}");
    }

    let missing = ExternalChecker::describe(spec(
        "gone",
        &["./no-such-program"],
        std::env::temp_dir(),
        Duration::from_secs(5),
    ))
    .await;
    assert!(missing.describe_error().unwrap().contains("cannot start"));
}

#[tokio::test]
async fn the_python_example_checks_bimi_and_its_dmarc_policy() {
    let checker = ExternalChecker::describe(spec(
        "bimi",
        &["python3", "examples/external/bimi.py"],
        repo(),
        Duration::from_secs(20),
    ))
    .await;
    assert_eq!(checker.describe_error(), None);
    let zone = concat!(
        "$ORIGIN good.example.\n",
        "_dmarc TXT \"v=DMARC1; p=quarantine\"\n",
        "default._bimi TXT \"v=BIMI1; l=https://good.example/logo.svg; a=https://good.example/vmc.pem\"\n",
        "$ORIGIN bad.example.\n",
        "_dmarc TXT \"v=DMARC1; p=quarantine; pct=10\"\n",
        "default._bimi TXT \"v=BIMI1; l=ftp://x/logo.svg\"\n",
        "$ORIGIN none.example.\n",
        "@ TXT \"v=spf1 -all\"\n",
        "$ORIGIN broken.example.\n",
        "default._bimi TXT \"v=BIMI1; l=https://broken.example/logo.svg\"\n",
    );
    let ctx = ctx(zone);
    let codes = |out: authwarden_api::CheckOutput| -> Vec<String> {
        out.findings.into_iter().map(|f| f.code).collect()
    };
    let good = checker
        .check(&ctx, &DomainTarget::new("good.example"))
        .await;
    assert_eq!(good.facts.as_ref().unwrap()["dmarc_enforced"], json!(true));
    assert!(codes(good).is_empty());
    let bad = checker.check(&ctx, &DomainTarget::new("bad.example")).await;
    assert_eq!(codes(bad), ["BIMI002", "BIMI003"]);
    let none = checker
        .check(&ctx, &DomainTarget::new("none.example"))
        .await;
    assert_eq!(codes(none), ["BIMI001"]);
    let failing = CheckContext::new(
        Arc::new(ZoneResolver::from_str(zone).unwrap().fail(
            "_dmarc.broken.example",
            Some(RecordType::TXT),
            DnsFailure::ServFail,
        )),
        Arc::new(FixedClock("2026-11-01T06:00:00Z".parse().unwrap())),
    );
    let broken = checker
        .check(&failing, &DomainTarget::new("broken.example"))
        .await;
    assert_eq!(codes(broken), ["BIMI004"]);
    let relaxed = ctx.with_config(json!({"require_bimi": false}));
    let none = checker
        .check(&relaxed, &DomainTarget::new("none.example"))
        .await;
    assert!(codes(none).is_empty());
}
