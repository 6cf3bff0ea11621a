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
            if f.code != "DMARC016" {
                assert!(f.help.contains("publish TXT"), "{name}: {}", f.help);
            }
        }
    }
    assert_every_code_seen(CODES, &seen);
}
