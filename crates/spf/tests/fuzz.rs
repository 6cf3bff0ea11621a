//! Fuzzing the parser and the evaluator with proptest: no input may panic.
//!
//! Three sources of input:
//! - the kept corpus, `tests/corpus/` (run every time): `rfc7208/` holds every
//!   record of the RFC 7208 suite's zone data as a seed, `regressions/` the
//!   inputs that once failed (add a file there for every bug the fuzzers
//!   find; `cargo fuzz`, whose targets are in `crates/checkers/spf/fuzz/`,
//!   writes its crashes to `artifacts/` there);
//! - records generated from the grammar (terms, macros, CIDR lengths, with
//!   random bytes spliced in), so most inputs get deep into the parser;
//! - arbitrary bytes behind `v=spf1 `.
//!
//! Properties: parsing never panics; an error names a position inside the
//! input and a reason; a parsed record re-parses from its own text to the
//! same terms; the terms' texts joined again parse to the same kinds; and
//! evaluating a parsed record against a resolver that answers every TXT
//! query with that same record (every include a loop) terminates without
//! panic. proptest keeps the failures it finds in
//! `tests/fuzz.proptest-regressions` and replays them first.

use std::path::Path;

use authwarden_api::{async_trait, DnsAnswer, DnsOutcome, Rdata, RecordType, Resolver};
use authwarden_spf::{check_explanation, evaluate, parse_record, SpfRecord};
use proptest::prelude::*;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut out = Vec::new();
    for sub in ["rfc7208", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in dir {
            let path = e.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) == Some("txt") {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Answers every TXT query with `record`, A with 192.0.2.1 and MX with one host.
struct Echo(Vec<u8>);

#[async_trait]
impl Resolver for Echo {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        let outcome = match rtype {
            RecordType::TXT => DnsOutcome::Records(vec![Rdata::Txt(vec![self.0.clone()])]),
            RecordType::A => DnsOutcome::Records(vec![Rdata::A([192, 0, 2, 1].into())]),
            RecordType::MX => DnsOutcome::Records(vec![Rdata::Mx {
                preference: 10,
                exchange: format!("mx.{name}"),
            }]),
            _ => DnsOutcome::NoData,
        };
        DnsAnswer {
            name: name.to_string(),
            rtype,
            cname_chain: Vec::new(),
            outcome,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Every property over one input.
fn check(input: &[u8], rt: &tokio::runtime::Runtime) {
    match parse_record(input) {
        Err(e) => {
            assert!(e.position <= input.len(), "{e} in {input:?}");
            assert!(!e.reason.is_empty(), "no reason for {input:?}");
        }
        Ok(rec) => {
            let again = parse_record(rec.text.as_bytes()).expect("a parsed record re-parses");
            assert_eq!(again.terms, rec.terms, "re-parse of {:?}", rec.text);
            let joined = std::iter::once("v=spf1")
                .chain(rec.terms.iter().map(|t| t.text.as_str()))
                .collect::<Vec<_>>()
                .join(" ");
            let rejoined = parse_record(joined.as_bytes()).expect("the joined terms parse");
            let kinds = |r: &SpfRecord| r.terms.iter().map(|t| t.kind.clone()).collect::<Vec<_>>();
            assert_eq!(kinds(&rejoined), kinds(&rec), "rejoined {joined:?}");
            let ev = rt.block_on(evaluate(&Echo(input.to_vec()), "example.org", &rec));
            let sum: u32 = ev.tree.iter().map(|n| n.dns_lookups).sum();
            assert_eq!(ev.dns_lookups, sum);
        }
    }
    let _ = check_explanation(&String::from_utf8_lossy(input));
}

#[test]
fn the_kept_corpus_never_panics() {
    let rt = runtime();
    let corpus = corpus();
    assert!(
        corpus.len() >= 100,
        "the corpus is missing: {}",
        corpus.len()
    );
    for (name, input) in &corpus {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(input, &rt)));
        assert!(r.is_ok(), "{name} panics");
    }
}

fn domain() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("example.org".to_string()),
        Just("_spf.example.net".to_string()),
        "[a-z0-9-]{1,8}(\\.[a-z0-9-]{1,8}){0,3}\\.[a-z]{2,4}\\.?",
        // Macros with every letter, digits, transformers and delimiters.
        "(%\\{[slodiphcrtvSLODIPHCRTV][0-9]{0,3}r?[-.+,/_=]{0,2}\\}|%%|%_|%-|[a-z.]){1,6}\\.[a-z]{2,3}",
    ]
}

fn cidr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        (0u16..40).prop_map(|n| format!("/{n}")),
        (0u16..140).prop_map(|n| format!("//{n}")),
        (0u16..40, 0u16..140).prop_map(|(a, b)| format!("/{a}//{b}")),
    ]
}

fn term() -> impl Strategy<Value = String> {
    let qualifier = prop_oneof![Just(""), Just("+"), Just("-"), Just("~"), Just("?")];
    let mechanism = prop_oneof![
        Just("all".to_string()),
        domain().prop_map(|d| format!("include:{d}")),
        (proptest::option::of(domain()), cidr()).prop_map(|(d, c)| match d {
            Some(d) => format!("a:{d}{c}"),
            None => format!("a{c}"),
        }),
        (proptest::option::of(domain()), cidr()).prop_map(|(d, c)| match d {
            Some(d) => format!("mx:{d}{c}"),
            None => format!("mx{c}"),
        }),
        proptest::option::of(domain()).prop_map(|d| match d {
            Some(d) => format!("ptr:{d}"),
            None => "ptr".into(),
        }),
        (any::<[u8; 4]>(), proptest::option::of(0u8..40)).prop_map(|(a, l)| format!(
            "ip4:{}.{}.{}.{}{}",
            a[0],
            a[1],
            a[2],
            a[3],
            l.map(|l| format!("/{l}")).unwrap_or_default()
        )),
        (any::<u128>(), proptest::option::of(0u8..140)).prop_map(|(a, l)| format!(
            "ip6:{}{}",
            std::net::Ipv6Addr::from(a),
            l.map(|l| format!("/{l}")).unwrap_or_default()
        )),
        domain().prop_map(|d| format!("exists:{d}")),
    ];
    prop_oneof![
        4 => (qualifier, mechanism).prop_map(|(q, m)| format!("{q}{m}")),
        1 => domain().prop_map(|d| format!("redirect={d}")),
        1 => domain().prop_map(|d| format!("exp={d}")),
        1 => ("[a-zA-Z][a-zA-Z0-9._-]{0,6}", "[ -~&&[^ ]]{0,10}").prop_map(|(n, v)| format!("{n}={v}")),
    ]
}

/// A grammar-built record, then up to three random byte edits.
fn record() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just("v=spf1"), Just("V=SPF1"), Just("v=spf10"), Just("")],
        proptest::collection::vec(term(), 0..12),
        proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..4),
    )
        .prop_map(|(v, terms, edits)| {
            let mut s = v.as_bytes().to_vec();
            for t in terms {
                s.push(b' ');
                s.extend_from_slice(t.as_bytes());
            }
            for (pos, byte, op) in edits {
                let pos = pos % (s.len() + 1);
                match op {
                    0 if pos < s.len() => s[pos] = byte,
                    1 if pos < s.len() => {
                        s.remove(pos);
                    }
                    _ => s.insert(pos, byte),
                }
            }
            s
        })
}

proptest! {
    // 2000 cases per property in every test run; PROPTEST_CASES=200000 for a
    // longer fuzzing session.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn grammar_built_records_never_panic(input in record()) {
        check(&input, &runtime());
    }

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut input = b"v=spf1 ".to_vec();
        input.extend_from_slice(&tail);
        check(&input, &runtime());
        check(&tail, &runtime());
    }
}
