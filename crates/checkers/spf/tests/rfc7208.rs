//! Conformance with the RFC 7208 test suite (openspf.org, release 2014.04).
//!
//! Reads `../shared/corpus/spf/rfc7208-tests.yml` when present, else (with
//! a loud note, and a failure under CI) the small excerpt in
//! `tests/data/rfc7208-sample.yml`. Each scenario's
//! `zonedata` is served by a fake resolver with the suite's rules: an `SPF`
//! entry also serves as TXT unless the name has its own TXT (`TXT: NONE`
//! means none), `TIMEOUT` makes queries the name cannot answer time out, an
//! absent name is NXDOMAIN.
//!
//! A posture check has no client IP, so the checks are static:
//! - every test expecting `permerror` must get an error-severity finding of
//!   a permerror code for the domain (syntax, multiple records, limits, ...);
//! - every test expecting another result must find the domain's own record
//!   (when it has exactly one) parseable.
//!
//! Exceptions, each with its reason, are listed in [`EXCEPTIONS`]; the test
//! fails when the set of exceptions changes either way.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use authwarden_api::{
    async_trait, CheckContext, Checker, DnsAnswer, DnsFailure, DnsOutcome, DomainTarget,
    FixedClock, Rdata, RecordType, Resolver, Severity,
};
use authwarden_checker_spf::{is_spf_record, parse_record_parts, Spf};
use chrono::{TimeZone, Utc};
use serde_norway::Value;

/// Tests that the static checker cannot flag, and why.
const EXCEPTIONS: &[(&str, &str)] = &[];

/// The codes whose findings mean receivers return permerror.
const PERMERROR_CODES: &[&str] = &[
    "SPF001", "SPF002", "SPF004", "SPF005", "SPF016", "SPF017", "SPF018",
];

#[derive(Default)]
struct Node {
    records: Vec<(RecordType, Rdata)>,
    own_txt: bool,
    txt_none: bool,
    timeout: bool,
}

#[derive(Default)]
struct SuiteResolver {
    names: HashMap<String, Node>,
}

fn bytes_of(s: &str) -> Vec<u8> {
    // The suite writes raw bytes as `\xNN` escapes, which YAML reads as
    // code points U+0000..U+00FF: map them back to bytes.
    if s.chars().all(|c| (c as u32) < 256) {
        s.chars().map(|c| c as u32 as u8).collect()
    } else {
        s.as_bytes().to_vec()
    }
}

fn txt_parts(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::String(s) => vec![bytes_of(s)],
        Value::Sequence(items) => items
            .iter()
            .map(|i| bytes_of(i.as_str().unwrap_or_default()))
            .collect(),
        other => vec![bytes_of(&scalar(other))],
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

impl SuiteResolver {
    fn from_zonedata(zonedata: &Value) -> Self {
        let mut r = SuiteResolver::default();
        let Some(map) = zonedata.as_mapping() else {
            return r;
        };
        for (name, entries) in map {
            let name = scalar(name).trim_end_matches('.').to_ascii_lowercase();
            let node = r.names.entry(name).or_default();
            for entry in entries.as_sequence().into_iter().flatten() {
                if entry.as_str() == Some("TIMEOUT") {
                    node.timeout = true;
                    continue;
                }
                let Some(m) = entry.as_mapping() else {
                    continue;
                };
                for (k, v) in m {
                    let data = match scalar(k).as_str() {
                        "SPF" => {
                            let parts = txt_parts(v);
                            node.records.push((RecordType::SPF, Rdata::Txt(parts)));
                            continue;
                        }
                        "TXT" => {
                            node.own_txt = true;
                            if v.as_str() == Some("NONE") {
                                node.txt_none = true;
                                continue;
                            }
                            (RecordType::TXT, Rdata::Txt(txt_parts(v)))
                        }
                        "A" => match scalar(v).parse() {
                            Ok(ip) => (RecordType::A, Rdata::A(ip)),
                            Err(_) => continue,
                        },
                        "AAAA" => match scalar(v).parse() {
                            Ok(ip) => (RecordType::AAAA, Rdata::Aaaa(ip)),
                            Err(_) => continue,
                        },
                        "MX" => {
                            let s = v.as_sequence().cloned().unwrap_or_default();
                            (
                                RecordType::MX,
                                Rdata::Mx {
                                    preference: s.first().and_then(Value::as_u64).unwrap_or(0)
                                        as u16,
                                    exchange: s
                                        .get(1)
                                        .map(scalar)
                                        .unwrap_or_default()
                                        .trim_end_matches('.')
                                        .to_ascii_lowercase(),
                                },
                            )
                        }
                        "PTR" => (RecordType::PTR, Rdata::Ptr(scalar(v))),
                        "CNAME" => (
                            RecordType::CNAME,
                            Rdata::Cname(scalar(v).trim_end_matches('.').to_ascii_lowercase()),
                        ),
                        _ => continue,
                    };
                    node.records.push(data);
                }
            }
        }
        r
    }
}

#[async_trait]
impl Resolver for SuiteResolver {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        if rtype == RecordType::SPF {
            // The suite's `SPF` entries stand for "the record", served as TXT;
            // type 99 itself is not under test here.
            return DnsAnswer {
                name: name.to_string(),
                rtype,
                cname_chain: Vec::new(),
                outcome: DnsOutcome::NoData,
            };
        }
        let mut current = name.trim_end_matches('.').to_ascii_lowercase();
        let mut chain = Vec::new();
        let outcome = loop {
            let Some(node) = self.names.get(&current) else {
                break DnsOutcome::NxDomain;
            };
            let cname = node.records.iter().find_map(|(t, r)| match r {
                Rdata::Cname(c) if *t == RecordType::CNAME => Some(c.clone()),
                _ => None,
            });
            if let Some(c) = cname.filter(|_| rtype != RecordType::CNAME) {
                if chain.contains(&c) || chain.len() > 8 {
                    break DnsOutcome::Failed(DnsFailure::Other("cname loop".into()));
                }
                chain.push(c.clone());
                current = c;
                continue;
            }
            let mut found: Vec<Rdata> = node
                .records
                .iter()
                .filter(|(t, _)| *t == rtype)
                .map(|(_, r)| r.clone())
                .collect();
            if rtype == RecordType::TXT && !node.own_txt {
                found = node
                    .records
                    .iter()
                    .filter(|(t, _)| *t == RecordType::SPF)
                    .map(|(_, r)| r.clone())
                    .collect();
            }
            if !found.is_empty() {
                break DnsOutcome::Records(found);
            }
            if node.timeout {
                break DnsOutcome::Failed(DnsFailure::Timeout);
            }
            let _ = node.txt_none;
            break DnsOutcome::NoData;
        };
        DnsAnswer {
            name: name.to_string(),
            rtype,
            cname_chain: chain,
            outcome,
        }
    }
}

fn load_suite() -> (String, Vec<Value>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // `AUTHWARDEN_SPF_SUITE` overrides the location (e.g. to run on the sample).
    let shared = std::env::var_os("AUTHWARDEN_SPF_SUITE")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            authwarden_test_support::corpus::dir("spf").map(|d| d.join("rfc7208-tests.yml"))
        });
    let path = shared.unwrap_or_else(|| dir.join("tests/data/rfc7208-sample.yml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let docs = serde_norway::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    (path.display().to_string(), docs)
}

fn test_domain(test: &Value) -> Option<String> {
    let mailfrom = test.get("mailfrom").map(scalar).unwrap_or_default();
    let domain = match mailfrom.rsplit_once('@') {
        Some((_, d)) => d.to_string(),
        None if !mailfrom.is_empty() => mailfrom,
        None => test.get("helo").map(scalar)?,
    };
    (!domain.starts_with('[')).then(|| domain.trim_end_matches('.').to_ascii_lowercase())
}

fn results(test: &Value) -> Vec<String> {
    match test.get("result") {
        Some(Value::Sequence(s)) => s.iter().map(scalar).collect(),
        Some(v) => vec![scalar(v)],
        None => Vec::new(),
    }
}

#[tokio::test]
async fn rfc7208_suite() {
    let (path, docs) = load_suite();
    let clock = Arc::new(FixedClock(
        Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap(),
    ));
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    let (mut perm_total, mut perm_passed, mut other_total, mut other_passed) = (0, 0, 0, 0);
    for doc in &docs {
        let resolver = Arc::new(SuiteResolver::from_zonedata(
            doc.get("zonedata").unwrap_or(&Value::Null),
        ));
        let ctx = CheckContext::new(resolver.clone(), clock.clone());
        let Some(tests) = doc.get("tests").and_then(Value::as_mapping) else {
            continue;
        };
        for (name, test) in tests {
            let name = scalar(name);
            let Some(domain) = test_domain(test) else {
                continue;
            };
            let expected = results(test);
            if expected == ["permerror"] {
                perm_total += 1;
                let out = Spf.check(&ctx, &DomainTarget::new(&domain)).await;
                let flagged = out.findings.iter().any(|f| {
                    f.severity == Severity::Error && PERMERROR_CODES.contains(&f.code.as_str())
                });
                if std::env::var_os("SPF_SUITE_VERBOSE").is_some() {
                    let f: Vec<_> = out
                        .findings
                        .iter()
                        .map(|f| format!("{} {}", f.code, f.message))
                        .collect();
                    eprintln!("{name} @ {domain}: {}", f.join(" | "));
                }
                if flagged {
                    perm_passed += 1;
                } else {
                    let codes: Vec<_> = out.findings.iter().map(|f| f.code.clone()).collect();
                    failures.insert(
                        name,
                        format!("permerror not flagged at {domain}: {codes:?}"),
                    );
                }
            } else if !expected.iter().any(|r| r == "permerror") {
                let answer = resolver.query(&domain, RecordType::TXT).await;
                let spf: Vec<Vec<Vec<u8>>> = answer
                    .records()
                    .iter()
                    .filter_map(|r| match r {
                        Rdata::Txt(p) if is_spf_record(&p.concat()) => Some(p.clone()),
                        _ => None,
                    })
                    .collect();
                if let [parts] = spf.as_slice() {
                    other_total += 1;
                    match parse_record_parts(parts) {
                        Ok(_) => other_passed += 1,
                        Err(e) => {
                            failures.insert(name, format!("expected {expected:?} but: {e}"));
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "{path}: permerror flagged {perm_passed}/{perm_total}, other records parse {other_passed}/{other_total}"
    );
    for (name, why) in &failures {
        eprintln!("  {name}: {why}");
    }
    let got: BTreeSet<&str> = failures.keys().map(String::as_str).collect();
    let allowed: BTreeSet<&str> = EXCEPTIONS.iter().map(|(n, _)| *n).collect();
    assert!(perm_total > 0, "no permerror scenario in {path}");
    // Exceptions only apply to the full suite; the sample must pass whole.
    let unexpected: Vec<_> = got.difference(&allowed).collect();
    assert!(unexpected.is_empty(), "unexpected failures: {unexpected:?}");
    if path.ends_with("rfc7208-tests.yml") {
        let stale: Vec<_> = allowed.difference(&got).collect();
        assert!(stale.is_empty(), "exceptions that now pass: {stale:?}");
    }
}
