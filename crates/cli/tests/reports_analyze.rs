//! `authwarden reports analyze` and `authwarden ingest` run as processes over
//! the classification fixtures of authwarden-aggregate and the shared corpus.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authwarden"));
    cmd.env_remove("AUTHWARDEN_CONFIG");
    cmd
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../aggregate/tests/fixtures/classify")
}

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let out = bin().args(args).args(paths).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stdout));
    })
}

/// The invariants of the public contract, for any input.
fn check_contract(v: &Value) {
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "reports",
            "duplicates",
            "errors",
            "messages",
            "by_category",
            "sources",
            "tls",
            "failures"
        ]
    );
    let failures = v["failures"].as_object().unwrap();
    assert_eq!(
        failures.keys().cloned().collect::<Vec<_>>(),
        ["reports", "duplicates", "other_feedback", "sources"]
    );
    let per_source: u64 = failures["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reports"].as_u64().unwrap())
        .sum();
    assert_eq!(per_source, failures["reports"].as_u64().unwrap());
    let tls = v["tls"].as_object().unwrap();
    assert_eq!(
        tls.keys().cloned().collect::<Vec<_>>(),
        [
            "reports",
            "duplicates",
            "successful_sessions",
            "failed_sessions",
            "policies",
            "failures"
        ]
    );
    let policies = tls["policies"].as_array().unwrap();
    let ok: u64 = policies
        .iter()
        .map(|p| p["successful"].as_u64().unwrap())
        .sum();
    let failed: u64 = policies.iter().map(|p| p["failed"].as_u64().unwrap()).sum();
    assert_eq!(ok, tls["successful_sessions"].as_u64().unwrap());
    assert_eq!(failed, tls["failed_sessions"].as_u64().unwrap());
    let cat = v["by_category"].as_object().unwrap();
    assert_eq!(
        cat.keys().cloned().collect::<Vec<_>>(),
        ["pass", "partial", "fail"]
    );
    let messages = v["messages"].as_u64().unwrap();
    let by_cat: u64 = cat.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(by_cat, messages, "by_category counts messages");
    let sources = v["sources"].as_array().unwrap();
    let total: u64 = sources.iter().map(|s| s["count"].as_u64().unwrap()).sum();
    assert_eq!(total, messages, "sources count messages");
    let mut keys = std::collections::HashSet::new();
    for s in sources {
        let o = s.as_object().unwrap();
        assert_eq!(
            o.keys().cloned().collect::<Vec<_>>(),
            [
                "source_ip",
                "count",
                "category",
                "cause",
                "provider",
                "header_from"
            ]
        );
        let category = s["category"].as_str().unwrap();
        assert!(["pass", "partial", "fail"].contains(&category));
        assert!(s["cause"].as_str().is_some_and(|c| !c.is_empty()));
        assert!(s["provider"].is_null() || s["provider"].is_string());
        assert!(
            keys.insert((
                s["source_ip"].as_str().unwrap().to_string(),
                s["header_from"].as_str().unwrap().to_string(),
                category.to_string()
            )),
            "one entry per (source_ip, header_from, category): {s}"
        );
        let per_category = cat[category].as_u64().unwrap();
        assert!(s["count"].as_u64().unwrap() <= per_category);
    }
    for e in v["errors"].as_array().unwrap() {
        assert!(e["file"].as_str().is_some_and(|f| !f.is_empty()));
        assert!(e["reason"].as_str().is_some_and(|r| !r.is_empty()));
    }
}

#[test]
fn analyze_json_contract_over_the_fixtures() {
    let v = json(&run(
        &["reports", "analyze", "--format", "json"],
        &[&fixtures()],
    ));
    check_contract(&v);
    assert_eq!(v["reports"], 13);
    assert_eq!(v["duplicates"], 0);
    assert_eq!(v["errors"], serde_json::json!([]));
    assert_eq!(v["messages"], 340);
    assert_eq!(
        v["by_category"],
        serde_json::json!({"pass": 162, "partial": 73, "fail": 105})
    );
    let sources = v["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 23);
    // Sorted by messages, most first.
    assert_eq!(
        sources[0],
        serde_json::json!({"source_ip": "192.0.2.10", "count": 120, "category": "pass",
            "cause": "aligned", "provider": null, "header_from": "example.com"})
    );
    let find = |ip: &str| sources.iter().find(|s| s["source_ip"] == ip).unwrap();
    assert_eq!(
        find("167.89.0.80"),
        &serde_json::json!({"source_ip": "167.89.0.80", "count": 40, "category": "fail",
            "cause": "known-service-missing-spf", "provider": "SendGrid", "header_from": "example.com"})
    );
    assert_eq!(find("54.240.0.90")["cause"], "known-service-missing-dkim");
    assert_eq!(find("203.0.113.66")["cause"], "unknown-source");
    assert_eq!(find("198.51.100.20")["cause"], "forwarded");
    assert_eq!(find("192.0.2.12")["header_from"], "news.example.com");
    let causes: std::collections::BTreeSet<_> = sources
        .iter()
        .map(|s| s["cause"].as_str().unwrap())
        .collect();
    assert_eq!(causes.len(), 10, "every cause appears: {causes:?}");
}

#[test]
fn analyze_counts_smtp_tls_reports_apart_from_dmarc() {
    let mbox = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config/example-reports/tls-reports-2026-10.mbox");
    let v = json(&run(&["reports", "analyze", "--format", "json"], &[&mbox]));
    check_contract(&v);
    assert_eq!(v["reports"], 0, "no DMARC report in a TLS-report mailbox");
    assert_eq!(v["errors"], serde_json::json!([]));
    let tls = &v["tls"];
    assert_eq!(tls["reports"], 186);
    assert_eq!(tls["successful_sessions"], 30327);
    assert_eq!(tls["failed_sessions"], 12);
    let policies = tls["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 3);
    assert_eq!(policies[1]["policy_type"], "no-policy-found");
}

#[test]
fn analyze_reads_failure_reports_metadata_only() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../aggregate/tests/fixtures/arf");
    let out = run(&["reports", "analyze", "--format", "json"], &[&dir]);
    let v = json(&out);
    check_contract(&v);
    let f = &v["failures"];
    assert!(f["reports"].as_u64().unwrap() >= 3, "{f}");
    assert_eq!(
        f["other_feedback"], 1,
        "the abuse report is not a DMARC failure report: {f}"
    );
    assert_eq!(
        v["errors"].as_array().unwrap().len(),
        2,
        "the two broken ones: {}",
        v["errors"]
    );
    assert!(
        f["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["reported_domain"] == "shop.example"),
        "{f}"
    );
    let plain = run(&["reports", "analyze"], &[&dir]);
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(plain.contains("DMARC failure report"), "{plain}");
    // The private fixture's body, subject, recipient and other headers never come out.
    let json_text = String::from_utf8_lossy(&out.stdout).into_owned();
    for secret in [
        "purple giraffe",
        "ZX-4471",
        "jane.private.recipient",
        "internal-ticket-998877",
    ] {
        assert!(!json_text.contains(secret), "{secret} in {json_text}");
        assert!(!plain.contains(secret), "{secret} in {plain}");
    }
}

#[test]
fn a_broken_file_is_listed_and_the_batch_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("broken.xml"), "<feedback><report_metadata>").unwrap();
    std::fs::write(tmp.path().join("README.md"), "not a report").unwrap();
    std::fs::copy(
        fixtures().join("fail-unknown-source.xml"),
        tmp.path().join("ok.xml"),
    )
    .unwrap();
    // The same report again, gzipped: a duplicate.
    let gz = std::process::Command::new("gzip")
        .arg("-c")
        .arg(tmp.path().join("ok.xml"))
        .output();
    let gzipped = match gz {
        Ok(gz) if gz.status.success() => {
            std::fs::write(tmp.path().join("ok-again.xml.gz"), gz.stdout).unwrap();
            true
        }
        _ => false,
    };
    let v = json(&run(
        &["reports", "analyze", "--format", "json"],
        &[tmp.path(), &tmp.path().join("missing.xml")],
    ));
    check_contract(&v);
    assert_eq!(v["reports"], 1);
    assert_eq!(v["duplicates"], u64::from(gzipped));
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let reason = |name: &str| {
        errors
            .iter()
            .find(|e| e["file"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no error for {name}: {errors:?}"))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(
        reason("broken.xml").starts_with("truncated"),
        "{}",
        reason("broken.xml")
    );
    assert!(
        reason("missing.xml").starts_with("io"),
        "{}",
        reason("missing.xml")
    );
    assert_eq!(v["messages"], 26);
    assert_eq!(v["by_category"]["fail"], 26);
}

#[test]
fn analyze_text_and_csv() {
    let out = run(&["reports", "analyze"], &[&fixtures()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("13 reports, 0 duplicates dropped, 0 errors\n"),
        "{text}"
    );
    assert!(text.contains("340 messages: pass 162 (47.6%), partial 73 (21.5%), fail 105 (30.9%)"));
    assert!(text.contains("known-service-missing-spf"));

    let out = run(&["reports", "analyze", "--format", "csv"], &[&fixtures()]);
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<_> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "source_ip,count,category,cause,provider,header_from"
    );
    assert_eq!(lines.len(), 24);
    assert!(lines.contains(&"167.89.0.80,40,fail,known-service-missing-spf,SendGrid,example.com"));

    let out = bin()
        .args(["reports", "analyze", "--format", "parquet"])
        .arg(fixtures())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn ingest_twice_appends_once() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("authwarden.toml");
    let data = tmp.path().join("data");
    std::fs::write(
        &config,
        format!("history_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // `ingest --format json` over the fixtures, run twice below.
    let ingest = || {
        json(&run(
            &[
                "--config",
                config,
                "ingest",
                "--no-reverse-dns",
                "--format",
                "json",
            ],
            &[&fixtures()],
        ))
    };
    let first = ingest();
    assert_eq!(first["reports"], 13);
    assert_eq!(first["new"], 13);
    assert_eq!(first["already_ingested"], 0);
    assert_eq!(first["rows"], 23);
    assert_eq!(first["messages"], 340);
    assert!(first.get("reverse_dns").is_none(), "{first}");
    // The 13 reports share one partition (domain and day): one file.
    let files = first["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{first}");
    for f in files {
        let f = Path::new(f.as_str().unwrap());
        assert!(f.is_file());
        let rel = f
            .strip_prefix(&data)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            rel.starts_with("aggregate/domain=example.com/date=2024-01-01/batch-"),
            "{rel}"
        );
    }

    let second = ingest();
    assert_eq!(second["new"], 0);
    assert_eq!(second["already_ingested"], 13);
    assert_eq!(second["rows"], 0);
    assert_eq!(second["files"], serde_json::json!([]));

    let text = run(
        &["--config", config, "ingest", "--no-reverse-dns"],
        &[&fixtures()],
    );
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.starts_with("0 new reports (0 rows, 0 messages)"),
        "{text}"
    );
}

#[test]
fn corpus_gives_38_reports_and_2_errors_with_reasons() {
    let Some(dir) = authwarden_test_support::corpus::dir("dmarc-aggregate") else {
        return;
    };
    let v = json(&run(&["reports", "analyze", "--format", "json"], &[&dir]));
    check_contract(&v);
    // 38 files parse; 7 of them repeat an (org_name, report_id) of another
    // file and count once.
    let parsed = v["reports"].as_u64().unwrap() + v["duplicates"].as_u64().unwrap();
    assert_eq!(
        parsed, 38,
        "reports {} + duplicates {}",
        v["reports"], v["duplicates"]
    );
    assert_eq!(v["reports"], 31);
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let mut reasons: Vec<(String, String)> = errors
        .iter()
        .map(|e| {
            let file = e["file"].as_str().unwrap();
            let name = Path::new(file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, e["reason"].as_str().unwrap().to_string())
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons[0].0, "empty.xml");
    assert!(reasons[0].1.starts_with("empty: "), "{}", reasons[0].1);
    assert_eq!(reasons[1].0, "invalid_xml.xml");
    assert!(
        reasons[1].1.starts_with("invalid_xml: "),
        "{}",
        reasons[1].1
    );
    assert_eq!(v["messages"], 2475);
}
