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
    async_trait, CheckContext, CheckOutput, Checker, DnsAnswer, DnsFailure, DnsOutcome,
    DomainTarget, FixedClock, Rdata, RecordType, Resolver,
};
use authwarden_checker_spf::{Spf, CODES};
use authwarden_zone::ZoneResolver;
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
    let ctx = CheckContext::new(Arc::new(resolver), clock());
    let output = Spf.check(&ctx, &DomainTarget::new(&domain)).await;
    Fixture { domain, output }
}

fn snapshot_value(fixture: &Fixture) -> Value {
    json!({
        "domain": fixture.domain,
        "findings": fixture.output.findings,
        "facts": fixture.output.facts,
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
        for f in &fixture.output.findings {
            seen.insert(f.code.clone());
            let first = f.message.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{name}: {}", f.message);
            assert!(!f.message.ends_with('.'), "{name}: {}", f.message);
            assert!(!f.help.is_empty(), "{name}: {} has no help", f.code);
            assert!(!f.evidence.is_empty(), "{name}: {} has no evidence", f.code);
            assert_eq!(f.checker, "spf");
            assert_eq!(f.domain, fixture.domain);
            let code = CODES.iter().find(|c| c.code == f.code).unwrap();
            assert_eq!(f.name, code.name);
            assert_eq!(f.severity, code.default_severity, "{name}: {}", f.code);
        }
    }
    let declared: BTreeSet<String> = CODES.iter().map(|c| c.code.to_string()).collect();
    let missing: Vec<_> = declared.difference(&seen).collect();
    assert!(missing.is_empty(), "codes no fixture shows: {missing:?}");
}
