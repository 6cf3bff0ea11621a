//! Fixture tests: each `tests/fixtures/*.zone` is a DNS zone the checker runs
//! against, with the findings and facts snapshotted in `tests/snapshots`.
//!
//! Comment lines at the top of a fixture steer the run:
//! `; check: <domain>` names the domain to check (default: the first
//! `$ORIGIN`), `; fail: <name> <TYPE> servfail|timeout|refused` makes a query
//! fail.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    CheckContext, CheckOutput, Checker, DnsFailure, DomainTarget, FixedClock, RecordType,
};
use authwarden_checker_dmarc_policy::{DmarcPolicy, CODES};
use authwarden_zone::ZoneResolver;
use chrono::{TimeZone, Utc};

struct Fixture {
    domain: String,
    output: CheckOutput,
}

async fn run(name: &str) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.zone"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut resolver =
        ZoneResolver::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut domain = None;
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("; check:") {
            domain = Some(d.trim().to_string());
        } else if let Some(spec) = line.strip_prefix("; fail:") {
            let words: Vec<&str> = spec.split_whitespace().collect();
            let [name, rtype, failure] = words[..] else {
                panic!("{name}: `; fail:` wants <name> <TYPE> <failure>, got {spec:?}")
            };
            let failure = match failure {
                "servfail" => DnsFailure::ServFail,
                "timeout" => DnsFailure::Timeout,
                "refused" => DnsFailure::Refused,
                other => panic!("{name}: unknown failure {other}"),
            };
            resolver = resolver.fail(name, Some(RecordType::parse(rtype).unwrap()), failure);
        } else if domain.is_none() {
            if let Some(origin) = line.strip_prefix("$ORIGIN") {
                domain = Some(origin.trim().trim_end_matches('.').to_string());
            }
        }
    }
    let domain = domain.expect("fixture names no domain");
    let clock = FixedClock(Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap());
    let ctx = CheckContext::new(Arc::new(resolver), Arc::new(clock));
    let output = DmarcPolicy.check(&ctx, &DomainTarget::new(&domain)).await;
    Fixture { domain, output }
}

fn snapshot_value(fixture: &Fixture) -> Value {
    json!({
        "domain": fixture.domain,
        "findings": fixture.output.findings,
        "facts": fixture.output.facts,
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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".zone").map(str::to_string)
        })
        .collect();
    let listed: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, listed);
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
        for f in &fixture.output.findings {
            seen.insert(f.code.clone());
            let first = f.message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{name}: {}", f.message);
            assert!(!f.message.ends_with('.'), "{name}: {}", f.message);
            assert!(!f.help.is_empty(), "{name}: {} has no help", f.code);
            assert!(!f.evidence.is_empty(), "{name}: {} has no evidence", f.code);
            assert_eq!(f.checker, "dmarc-policy");
            assert_eq!(f.domain, fixture.domain);
            let code = CODES.iter().find(|c| c.code == f.code).unwrap();
            assert_eq!(f.name, code.name);
            assert_eq!(f.severity, code.default_severity, "{name}: {}", f.code);
            if f.code != "DMARC016" {
                assert!(f.help.contains("publish TXT"), "{name}: {}", f.help);
            }
        }
    }
    let declared: BTreeSet<String> = CODES.iter().map(|c| c.code.to_string()).collect();
    let missing: Vec<_> = declared.difference(&seen).collect();
    assert!(missing.is_empty(), "codes no fixture shows: {missing:?}");
}
