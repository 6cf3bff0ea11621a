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
use authwarden_api::{
    async_trait, CheckContext, CheckOutput, Checker, DnsAnswer, DnsOutcome, DomainTarget,
    FixedClock, Rdata, RecordType, Resolver,
};
use authwarden_checker_spf::{Spf, CODES};
use authwarden_test_support::fixture::{
    assert_every_code_seen, assert_finding_conventions, fixture_names, Fixture as Zone,
};
use chrono::{TimeZone, Utc};

struct Fixture {
    domain: String,
    output: CheckOutput,
}

fn clock() -> Arc<FixedClock> {
    Arc::new(FixedClock(
        Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap(),
    ))
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

async fn run(name: &str) -> Fixture {
    let zone = Zone::load(&fixtures_dir(), name);
    let ctx = CheckContext::new(Arc::new(zone.resolver), clock());
    let output = Spf.check(&ctx, &DomainTarget::new(&zone.domain)).await;
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

/// A zone file cannot hold a character-string over 255 bytes, but a broken
/// DNS provider can serve one: this resolver does.
struct LongStringResolver;

#[async_trait]
impl Resolver for LongStringResolver {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        let outcome = if rtype == RecordType::TXT {
            let mut s = b"v=spf1 ".to_vec();
            for i in 0..14 {
                s.extend_from_slice(format!("ip4:198.51.{i}.0/24 ").as_bytes());
            }
            s.extend_from_slice(b"-all");
            DnsOutcome::Records(vec![Rdata::Txt(vec![s])])
        } else {
            DnsOutcome::NoData
        };
        DnsAnswer {
            name: name.to_string(),
            rtype,
            cname_chain: Vec::new(),
            outcome,
        }
    }
}

async fn run_long_string() -> Fixture {
    let ctx = CheckContext::new(Arc::new(LongStringResolver), clock());
    let output = Spf.check(&ctx, &DomainTarget::new("example.org")).await;
    Fixture {
        domain: "example.org".into(),
        output,
    }
}

#[tokio::test]
async fn txt_string_too_long() {
    insta::assert_json_snapshot!(
        "txt-string-too-long",
        snapshot_value(&run_long_string().await)
    );
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
    healthy => "healthy",
    lookup_limit => "lookup-limit",
    void_limit => "void-limit",
    no_record => "no-record",
    two_records => "two-records",
    syntax_error => "syntax-error",
    pass_all => "pass-all",
    neutral_all => "neutral-all",
    no_all => "no-all",
    ptr => "ptr",
    terms_after_all => "terms-after-all",
    record_long => "record-long",
    record_too_long => "record-too-long",
    type99 => "type99",
    cname => "cname",
    mx_too_many => "mx-too-many",
    include_no_spf => "include-no-spf",
    loop_ => "loop",
    servfail => "servfail",
    include_timeout => "include-timeout",
    redirect_with_all => "redirect-with-all",
    redirect_without_all => "redirect-without-all",
    duplicate_includes => "duplicate-includes",
    macros => "macros",
    nested_mx_voids => "nested-mx-voids",
    all_phase_enforcing => "all-phase-enforcing",
    all_phase_monitoring => "all-phase-monitoring",
    flatten_a_mx => "flatten-a-mx",
    pass_all_enforcing => "pass-all-enforcing",
    self_loop => "self-loop",
    null_record_monitoring => "null-record-monitoring",
}

#[test]
fn every_fixture_file_has_a_test() {
    let listed: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(fixture_names(&fixtures_dir()), listed);
}

/// The counting rules, asserted directly (the snapshots show the trees).
#[tokio::test]
async fn counts_are_exact() {
    for (name, lookups, voids) in [
        ("healthy", 2, 0),
        ("lookup-limit", 12, 0),
        ("void-limit", 4, 3),
        ("redirect-with-all", 1, 0),
        ("redirect-without-all", 3, 0),
        ("duplicate-includes", 4, 0),
        ("macros", 3, 0),
        ("nested-mx-voids", 5, 2),
        ("ptr", 3, 0),
        ("loop", 2, 0),
        ("include-no-spf", 2, 1),
        ("flatten-a-mx", 11, 0),
    ] {
        let f = run(name).await;
        let facts = f.output.facts.unwrap();
        assert_eq!(facts["dns_lookups"], lookups, "{name}: {facts:#}");
        assert_eq!(facts["void_lookups"], voids, "{name}: {facts:#}");
    }
}

/// Meta-test over every fixture's findings: the conventions of STYLE.md,
/// and every declared code shown by at least one fixture.
#[tokio::test]
async fn conventions_hold_and_every_code_is_exercised() {
    let mut seen = BTreeSet::new();
    let mut all = Vec::new();
    for name in FIXTURES {
        all.push((name.to_string(), run(name).await));
    }
    all.push(("txt-string-too-long".into(), run_long_string().await));
    for (name, fixture) in &all {
        let facts = fixture.output.facts.as_ref().expect("facts are always set");
        for key in [
            "status",
            "record",
            "dns_lookups",
            "void_lookups",
            "all",
            "ip4",
            "ip6",
            "tree",
        ] {
            assert!(facts.get(key).is_some(), "{name}: facts lack {key}");
        }
        assert_finding_conventions(
            name,
            "spf",
            &fixture.domain,
            CODES,
            &fixture.output.findings,
            &mut seen,
        );
    }
    assert_every_code_seen(CODES, &seen);
}

/// Every finding but an incomplete check (SPF019: run again) has a
/// proposal resolving it, and every proposal resolves a finding of the
/// same run; term edits are of the domain's own record.
#[tokio::test]
async fn every_finding_has_a_proposal() {
    use authwarden_api::plan::{Change, FindingRef};
    let mut all = Vec::new();
    for name in FIXTURES {
        all.push((name.to_string(), run(name).await));
    }
    all.push(("txt-string-too-long".into(), run_long_string().await));
    for (name, fixture) in &all {
        let out = &fixture.output;
        let refs: BTreeSet<FindingRef> = out.findings.iter().map(FindingRef::to).collect();
        for f in &out.findings {
            if f.code == "SPF019" {
                continue;
            }
            assert!(
                out.proposals
                    .iter()
                    .any(|p| p.resolves.contains(&FindingRef::to(f))),
                "{name}: no proposal resolves {} {}",
                f.code,
                f.subject
            );
        }
        for p in &out.proposals {
            assert!(!p.resolves.is_empty(), "{name}: {p:?}");
            assert!(p.resolves.iter().all(|r| refs.contains(r)), "{name}: {p:?}");
            if let Change::SpfTerms { name: at, .. } = &p.change {
                assert_eq!(at, &fixture.domain, "{name}");
            }
        }
    }
}
