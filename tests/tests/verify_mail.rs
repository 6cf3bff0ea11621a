//! `authwarden verify` against Knot: the public DKIM-signed and ARC-sealed
//! messages of `../shared/corpus/dkim-mail/`, with their key records served
//! by Knot on loopback, each give the result the corpus states for a
//! verifier following RFC 6376 and RFC 8301 (`CASES.tsv`,
//! `verify_rfc8301`). One case depends on the clock: `mailauthrs__dkim-005`
//! carries `x=1667930064` and is expired at any date after 2022-11-09, so
//! its expected result is the expired one; no other result depends on the
//! clock (no other signature has `x=`). Exit status: 0 when DMARC passes,
//! 1 when it does not, 2 on bad input.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use authwarden_e2e::authwarden;
use authwarden_test_support::corpus;
use authwarden_test_support::dns::{KnotOptions, KnotServer, ZoneSource};
use serde_json::Value;

/// One row of CASES.tsv.
struct Case {
    file: String,
    kind: String,
    d: String,
    s: String,
    expected: String,
}

fn cases(dir: &Path) -> Vec<Case> {
    let text = fs::read_to_string(dir.join("CASES.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (file, kind, d, s, expected) = (
        col("file"),
        col("kind"),
        col("d"),
        col("s"),
        col("verify_rfc8301"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Case {
                file: f[file].into(),
                kind: f[kind].into(),
                d: f[d].into(),
                s: f[s].into(),
                expected: f[expected].into(),
            }
        })
        .collect()
}

/// The key records of dns.tsv (and of tests/fixtures/verify/extra-keys.tsv,
/// the keys the corpus lacks) as zones, one per parent of `_domainkey`.
fn zones(dir: &Path) -> Vec<(String, ZoneSource)> {
    let extra = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/verify/extra-keys.tsv");
    let text =
        fs::read_to_string(dir.join("dns.tsv")).unwrap() + &fs::read_to_string(extra).unwrap();
    let mut by_zone: BTreeMap<String, String> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut f = line.split('\t');
        let (Some(name), Some(value)) = (f.next(), f.next()) else {
            continue;
        };
        if value.starts_with("DNS-ERROR") || value == "NXDOMAIN" {
            continue;
        }
        let zone = name.split_once("._domainkey.").unwrap().1.to_string();
        let strings: Vec<String> = value
            .as_bytes()
            .chunks(255)
            .map(|c| format!("\"{}\"", String::from_utf8_lossy(c).replace('"', "\\\"")))
            .collect();
        let entry = by_zone.entry(zone).or_insert_with(|| {
            "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 127.0.0.1\n".into()
        });
        entry.push_str(&format!("{name}. TXT {}\n", strings.join(" ")));
    }
    by_zone
        .into_iter()
        .map(|(z, text)| (z, ZoneSource::text(text)))
        .collect()
}

#[test]
fn the_corpus_messages_verify_as_the_corpus_says() {
    let Some(dir) = corpus::dir("dkim-mail") else {
        return;
    };
    let dns = KnotServer::start(&zones(&dir), &KnotOptions::default()).unwrap();
    let server = dns.addr().to_string();
    let cases = cases(&dir);
    let mut checked = 0;
    let mut files: Vec<&str> = cases.iter().map(|c| c.file.as_str()).collect();
    files.dedup();
    for file in files {
        let path = dir.join(file);
        let run = authwarden(&[
            "verify",
            "--nameserver",
            &server,
            "--format",
            "json",
            path.to_str().unwrap(),
        ]);
        assert!(matches!(run.code(), 0 | 1), "{file}: {run}");
        let v: Value =
            serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{file}: {e}\n{run}"));
        for case in cases.iter().filter(|c| c.file == file) {
            if case.kind == "arc" {
                assert_eq!(
                    v["arc"]["result"],
                    case.expected.as_str(),
                    "{file} ARC: {:#}",
                    v["arc"]
                );
            } else {
                let sig = v["dkim"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["domain"] == case.d.as_str() && s["selector"] == case.s.as_str())
                    .unwrap_or_else(|| {
                        panic!(
                            "{file}: no signature d={} s={}: {:#}",
                            case.d, case.s, v["dkim"]
                        )
                    });
                assert_eq!(
                    sig["result"],
                    case.expected.as_str(),
                    "{file} d={} s={}: {sig:#}",
                    case.d,
                    case.s
                );
                if case.expected == "permerror" {
                    assert!(
                        sig["reason"].as_str().unwrap().contains("expired"),
                        "{sig:#}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, cases.len());
    assert!(checked >= 10, "{checked} cases");
}

#[test]
fn bad_input_is_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.eml");
    fs::write(&empty, b"").unwrap();
    let run = authwarden(&["verify", empty.to_str().unwrap()]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr.contains("empty.eml"), "{run}");
}
