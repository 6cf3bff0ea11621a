//! Fixture tests: each `tests/fixtures/*.zone` is a DNS zone the checker runs
//! against, with the findings and facts snapshotted in `tests/snapshots`.
//!
//! Comment lines at the top of a fixture steer the run:
//! `; parked` / `; not-parked` set `[domains.parked-domain] parked`,
//! `; checker-config: domains = [...]` sets the checker's config (TOML
//! value syntax, JSON-compatible), `; check: <domain>` names the domain to
//! check (default: the first `$ORIGIN`), `; fail: <name> <TYPE>
//! servfail|timeout|refused` makes a query fail.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use authwarden_api::serde_json::{self, json, Value};
use authwarden_api::{CheckContext, CheckOutput, Checker, DomainTarget, SystemClock};
use authwarden_checker_parked_domain::{ParkedDomain, CHECKER_ID};
use authwarden_test_support::fixture::{fixture_names, Fixture as Zone};

struct Fixture {
    domain: String,
    output: CheckOutput,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

async fn run(name: &str) -> Fixture {
    let zone = Zone::load(&fixtures_dir(), name);
    let mut parked = None;
    let mut config = json!({});
    for line in zone.text.lines() {
        let line = line.trim();
        if line == "; parked" {
            parked = Some(true);
        } else if line == "; not-parked" {
            parked = Some(false);
        } else if let Some(spec) = line.strip_prefix("; checker-config:") {
            let (key, value) = spec.split_once('=').expect("key = value");
            let value: Value = serde_json::from_str(value.trim()).unwrap();
            config[key.trim()] = value;
        }
    }
    let (domain, resolver) = (zone.domain, zone.resolver);
    let ctx = CheckContext::new(Arc::new(resolver), Arc::new(SystemClock)).with_config(config);
    let mut target = DomainTarget::new(&domain);
    if let Some(parked) = parked {
        target.settings = json!({ CHECKER_ID: { "parked": parked } });
    }
    let output = ParkedDomain.check(&ctx, &target).await;
    Fixture { domain, output }
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
    parked_ok => "parked-ok",
    parked_nothing => "parked-nothing",
    parked_weak => "parked-weak",
    parked_mixed_mx => "parked-mixed-mx",
    parked_two_spf => "parked-two-spf",
    parked_by_checker_config => "parked-by-checker-config",
    parked_subdomain_inherits => "parked-subdomain-inherits",
    parked_servfail => "parked-servfail",
    looks_parked => "looks-parked",
    unmarked_in_use => "unmarked-in-use",
    unmarked_lookup_fails => "unmarked-lookup-fails",
    explicitly_not_parked => "explicitly-not-parked",
    parked_two_dmarc => "parked-two-dmarc",
    parked_subdomain_weak_org => "parked-subdomain-weak-org",
}

#[test]
fn every_fixture_file_has_a_test() {
    let listed: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(fixture_names(&fixtures_dir()), listed);
}

/// The codes each fixture must produce, so that a wrong snapshot cannot be
/// accepted by accident.
#[tokio::test]
async fn expected_codes() {
    for (file, codes) in [
        ("parked-ok", &[][..]),
        ("parked-nothing", &["PARK001", "PARK003", "PARK002"][..]),
        ("parked-weak", &["PARK001", "PARK003", "PARK002"]),
        ("parked-mixed-mx", &["PARK003", "PARK002"]),
        ("parked-two-spf", &["PARK001"]),
        ("parked-by-checker-config", &["PARK002"]),
        ("parked-subdomain-inherits", &[]),
        ("parked-servfail", &["PARK004"]),
        ("looks-parked", &["PARK005"]),
        ("unmarked-in-use", &[]),
        ("unmarked-lookup-fails", &[]),
        ("explicitly-not-parked", &[]),
        ("parked-two-dmarc", &["PARK002"]),
        ("parked-subdomain-weak-org", &["PARK002"]),
    ] {
        let fixture = run(file).await;
        let got: Vec<&str> = fixture
            .output
            .findings
            .iter()
            .map(|f| f.code.as_str())
            .collect();
        assert_eq!(got, codes, "{file}");
    }
}

/// The proposals name exactly the records of a parked domain, and each
/// resolves its finding: every finding but PARK004 (run again) has one.
#[tokio::test]
async fn proposals_resolve_every_finding() {
    use authwarden_api::plan::{Change, FindingRef};
    for file in FIXTURES {
        let fixture = run(file).await;
        let out = &fixture.output;
        for f in out.findings.iter().filter(|f| f.code != "PARK004") {
            assert!(
                out.proposals
                    .iter()
                    .any(|p| p.resolves == [FindingRef::to(f)]),
                "{file}: nothing resolves {} {}",
                f.code,
                f.subject
            );
        }
        let domain = &fixture.domain;
        for p in &out.proposals {
            match &p.change {
                Change::PublishTxt { name, value, .. } => {
                    assert_eq!((name, value.as_str()), (domain, "v=spf1 -all"), "{file}");
                }
                Change::DmarcTags { name, set, .. } => {
                    assert_eq!(name, &format!("_dmarc.{domain}"), "{file}");
                    assert!(set.contains(&("p".into(), "reject".into())), "{file}");
                    assert!(set.contains(&("sp".into(), "reject".into())), "{file}");
                }
                Change::RemoveTxt { name, value } => {
                    assert_eq!(name, &format!("_dmarc.{domain}"), "{file}");
                    assert_eq!(value, &None, "{file}");
                }
                Change::Outside { action } => {
                    assert!(
                        action.contains(&format!("{domain}. MX 0 .")) || action.contains("parked"),
                        "{file}: {action}"
                    );
                }
                other => panic!("{file}: unexpected {other:?}"),
            }
        }
    }
}
