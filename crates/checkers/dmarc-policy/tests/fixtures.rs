//! Fixture tests: each `tests/fixtures/*.zone` is a DNS zone the checker runs
//! against, with the findings and facts snapshotted in `tests/snapshots`.
//!
//! Comment lines at the top of a fixture steer the run:
//! `; check: <domain>` names the domain to check (default: the first
//! `$ORIGIN`), `; fail: <name> <TYPE> servfail|timeout|refused` makes a query
//! fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{CheckContext, CheckOutput, Checker, DomainTarget, FixedClock};
use authwarden_checker_dmarc_policy::{DmarcPolicy, CODES};
use authwarden_test_support::fixture::{
    assert_every_code_seen, assert_finding_conventions, fixture_names, Fixture as Zone,
};
use chrono::{TimeZone, Utc};

struct Fixture {
    domain: String,
    output: CheckOutput,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

async fn run(name: &str) -> Fixture {
    let zone = Zone::load(&fixtures_dir(), name);
    let clock = FixedClock(Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap());
    let ctx = CheckContext::new(Arc::new(zone.resolver), Arc::new(clock));
    let output = DmarcPolicy
        .check(&ctx, &DomainTarget::new(&zone.domain))
        .await;
    Fixture {
        domain: zone.domain,
        output,
    }
}

fn snapshot_value(fixture: &Fixture) -> Value {
    json!({
        "domain": fixture.domain,
        "findings": fixture.output.findings,
        "facts": fixture.output.facts,
        "proposals": fixture.output.proposals,
    })
}

macro_rules! fixtures {
    ($($test:ident => $file:literal,)+) => {
        $(
            #[tokio::test]
            async fn $test() {
                let fixture = run($file).await;
                insta::assert_json_snapshot!($file, snapshot_value(&fixture));
            }
        )+
        const FIXTURES: &[&str] = &[$($file),+];
    };
}

fixtures! {
    healthy_reject => "healthy-reject",
    monitoring_none => "monitoring-none",
    quarantine_pct25 => "quarantine-pct25",
    broken_record => "broken-record",
    broken_no_policy => "broken-no-policy",
    two_records => "two-records",
    no_record => "no-record",
    subdomain_inherits => "subdomain-inherits",
    subdomain_own_record => "subdomain-own-record",
    subdomain_no_record => "subdomain-no-record",
    external_rua_authorized => "external-rua-authorized",
    external_rua_unauthorized => "external-rua-unauthorized",
    external_rua_servfail => "external-rua-servfail",
    testing_mode => "testing-mode",
    sp_weaker => "sp-weaker",
    np_weaker => "np-weaker",
    servfail => "servfail",
    org_timeout => "org-timeout",
    garbage_bytes => "garbage-bytes",
    reporting_problems => "reporting-problems",
    lookalike => "lookalike",
    version_case => "version-case",
    cname_hosted => "cname-hosted",
    missing_semicolon => "missing-semicolon",
}

#[test]
fn every_fixture_file_has_a_test() {
    let listed: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(fixture_names(&fixtures_dir()), listed);
}

/// Meta-test over every fixture's findings: the conventions of STYLE.md,
/// and every declared code shown by at least one fixture.
#[tokio::test]
async fn conventions_hold_and_every_code_is_exercised() {
    let mut seen = BTreeSet::new();
    for name in FIXTURES {
        let fixture = run(name).await;
        let facts = fixture.output.facts.as_ref().expect("facts are always set");
        for key in [
            "status",
            "record",
            "source",
            "policy",
            "subdomain_policy",
            "nonexistent_subdomain_policy",
            "pct",
            "testing",
            "rua",
            "ruf",
            "adkim",
            "aspf",
            "fo",
            "ri",
            "strictness",
            "phase",
        ] {
            assert!(facts.get(key).is_some(), "{name}: facts lack {key}");
        }
        assert_finding_conventions(
            name,
            "dmarc-policy",
            &fixture.domain,
            CODES,
            &fixture.output.findings,
            &mut seen,
        );
        for f in &fixture.output.findings {
            if f.code != "DMARC016" && f.code != "DMARC017" {
                assert!(f.help.contains("publish TXT"), "{name}: {}", f.help);
            }
        }
    }
    // DMARC017 comes from the history's report rows, not from DNS.
    let (domain, output) = with_reports().await;
    assert_finding_conventions(
        "reports",
        "dmarc-policy",
        &domain,
        CODES,
        &output.findings,
        &mut seen,
    );
    assert_every_code_seen(CODES, &seen);
}

/// The healthy fixture with the history's aggregate rows of two reports:
/// one whose mail google.com authenticated, one re-signed by another domain.
async fn with_reports() -> (String, CheckOutput) {
    use authwarden_api::reports::{AggregateRow, AggregateSourceExt, StaticSource};
    let zone = Zone::load(&fixtures_dir(), "healthy-reject");
    let clock = FixedClock(Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap());
    let begin = Utc
        .with_ymd_and_hms(2026, 10, 20, 0, 0, 0)
        .unwrap()
        .timestamp();
    let row = |id: &str, auth: &str, from: &str, detail: &str| AggregateRow {
        org_name: "google.com".into(),
        report_id: id.into(),
        source: format!("reports.mbox#{id}"),
        begin,
        end: begin + 86_400,
        domain: zone.domain.clone(),
        count: 10,
        report_auth: Some(auth.into()),
        report_from: Some(from.into()),
        report_auth_detail: Some(detail.into()),
        ..Default::default()
    };
    let rows = vec![
        row("r1", "authenticated", "google.com", "DKIM pass for google.com (s=s1)"),
        row("r1", "authenticated", "google.com", "DKIM pass for google.com (s=s1)"),
        row(
            "r2",
            "not-authenticated",
            "google.com",
            "google.com did not authenticate it: DKIM not aligned: signed with d=unrelated.test instead of the From domain",
        ),
    ];
    let mut ctx = CheckContext::new(Arc::new(zone.resolver), Arc::new(clock));
    ctx.extensions
        .insert(Arc::new(AggregateSourceExt(Arc::new(StaticSource::new(
            rows,
        )))));
    let output = DmarcPolicy
        .check(&ctx, &DomainTarget::new(&zone.domain))
        .await;
    (zone.domain, output)
}

#[tokio::test]
async fn reports_their_reporter_did_not_authenticate_are_flagged() {
    let (domain, output) = with_reports().await;
    let flagged: Vec<_> = output
        .findings
        .iter()
        .filter(|f| f.code == "DMARC017")
        .collect();
    assert_eq!(flagged.len(), 1, "{:?}", output.findings);
    let f = flagged[0];
    assert_eq!(f.domain, domain);
    assert!(
        f.message.starts_with("1 of the 2 aggregate reports about"),
        "{}",
        f.message
    );
    let evidence = f.evidence.get("report 1").unwrap().as_str().unwrap();
    assert!(
        evidence.starts_with("google.com r2 (reports.mbox#r2): google.com did not authenticate it"),
        "{evidence}"
    );
    // Without the history's rows, no such finding.
    assert!(run("healthy-reject")
        .await
        .output
        .findings
        .iter()
        .all(|f| f.code != "DMARC017"));
}
