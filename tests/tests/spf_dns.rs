//! The SPF checker and `spf build` end to end: the real binary against Knot
//! DNS serving the zones of `tests/fixtures/spf/`, asserting the exact
//! `dns_lookups` / `void_lookups` of the JSON contract for the lookup limit
//! through nested includes, void lookups, a loop, and a SERVFAIL on an
//! include (check incomplete).

use std::collections::BTreeSet;

use authwarden_e2e::{
    authwarden, domain_report, fixtures_dir, names_for, start_dns_in, write_config,
};
use authwarden_test_support::dns::KnotServer;
use serde_json::Value;

/// Configured without a zone file: Knot answers SERVFAIL for every name.
const DOWN_ZONE: &str = "down.spf.test.";

fn start_dns() -> KnotServer {
    start_dns_in(&fixtures_dir("spf"), &[DOWN_ZONE])
}

/// `check DOMAINS --checker spf --format json` against `server`.
fn check(server: &KnotServer, domains: &[&str]) -> Value {
    let addr = server.addr().to_string();
    let mut args = vec!["check"];
    args.extend_from_slice(domains);
    args.extend_from_slice(&[
        "--nameserver",
        &addr,
        "--format",
        "json",
        "--checker",
        "spf",
    ]);
    let run = authwarden(&args);
    assert!(
        matches!(run.code(), 0 | 1 | 3),
        "exit 0, 1 (findings) or 3 (incomplete): {run}"
    );
    run.json()
}

fn spf<'a>(out: &'a Value, domain: &str) -> &'a Value {
    &domain_report(out, domain)["spf"]
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn counts_are_exact_against_a_real_server() {
    let dns = start_dns();
    let domains = [
        "over.limit.spf.test",
        "at.limit.spf.test",
        "three.void.spf.test",
        "two.void.spf.test",
        "loop.spf.test",
        "fail.spf.test",
    ];
    let out = check(&dns, &domains);
    // (domain, dns_lookups, void_lookups, spf finding names)
    let expected: [(&str, u64, u64, &[&str]); 6] = [
        ("over.limit.spf.test", 11, 0, &["spf-lookup-limit-exceeded"]),
        ("at.limit.spf.test", 10, 0, &[]),
        (
            "three.void.spf.test",
            4,
            4,
            &["spf-void-lookup-limit-exceeded", "spf-target-without-spf"],
        ),
        ("two.void.spf.test", 2, 2, &[]),
        ("loop.spf.test", 3, 0, &["spf-include-loop"]),
        ("fail.spf.test", 2, 0, &["spf-check-incomplete"]),
    ];
    for (domain, lookups, voids, findings) in expected {
        let facts = spf(&out, domain);
        assert_eq!(facts["dns_lookups"], lookups, "{domain}: {facts:#}");
        assert_eq!(facts["void_lookups"], voids, "{domain}: {facts:#}");
        assert_eq!(
            names_for(&out, domain, "spf"),
            names(findings),
            "{domain}: {out:#}"
        );
        // The tree's top-level costs add up to the totals.
        let tree = facts["tree"].as_array().expect("tree is an array");
        let sum: u64 = tree
            .iter()
            .map(|n| n["dns_lookups"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, lookups, "{domain}: {facts:#}");
    }
    // The nested include's cost is its own lookup and its subtree's.
    let tree = spf(&out, "over.limit.spf.test")["tree"].as_array().unwrap();
    let costs: Vec<(&str, u64)> = tree
        .iter()
        .map(|n| {
            (
                n["term"].as_str().unwrap(),
                n["dns_lookups"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        costs,
        [
            ("a", 1),
            ("mx", 1),
            ("include:p1.limit.spf.test", 4),
            ("include:p2.limit.spf.test", 5)
        ]
    );
    // SPF001 proposes a flattened record under the limit, with the warning.
    let limit = out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "SPF001")
        .expect("SPF001");
    let flat = limit["evidence"]["flattened_record"].as_str().unwrap();
    assert!(flat.contains("ip4:198.51.100.0/26"), "{limit:#}");
    assert!(limit["evidence"]["flattened_dns_lookups"].as_u64().unwrap() <= 10);
    assert!(
        limit["help"].as_str().unwrap().contains("rebuild it"),
        "{limit:#}"
    );
    // SERVFAIL is a value, not a crash: the failing include is named.
    let fail = spf(&out, "fail.spf.test")["tree"].as_array().unwrap();
    assert!(
        fail[0]["problem"].as_str().unwrap().contains("failed"),
        "{fail:#?}"
    );
}

#[test]
fn text_output_shows_the_tree_with_costs() {
    let dns = start_dns();
    let addr = dns.addr().to_string();
    let run = authwarden(&[
        "check",
        "over.limit.spf.test",
        "--nameserver",
        &addr,
        "--checker",
        "spf",
    ]);
    assert_eq!(run.code(), 1, "{run}");
    for line in [
        "  spf lookup tree:",
        "    ├── include:p1.limit.spf.test  (4 lookups)",
        "    │   ├── include:n1.limit.spf.test  (1 lookup)",
        "    └── include:p2.limit.spf.test  (5 lookups)",
        "        └── exists:%{i}.x.limit.spf.test  (1 lookup, macro: not followed)",
    ] {
        assert!(run.stdout.contains(line), "`{line}` in:\n{run}");
    }
}

#[test]
fn spf_build_from_the_inventory() {
    let dns = start_dns();
    let addr = dns.addr().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[domains]]\nname = \"build.spf.test\"\n\n[domains.inventory]\nsenders = [\n  \
         { name = \"office\", ips = [\"192.0.2.0/24\"] },\n  \
         { name = \"crm\", includes = [\"crm.build.spf.test\"] },\n]\n",
    );
    // `spf build build.spf.test` with the config and the test server; EXTRA last.
    let build = |extra: &[&str]| {
        let mut args = vec![
            "spf",
            "build",
            "build.spf.test",
            "--config",
            &config,
            "--nameserver",
            &addr,
        ];
        args.extend_from_slice(extra);
        let run = authwarden(&args);
        assert_eq!(run.code(), 0, "{run}");
        run
    };
    let out = build(&["--format", "json"]).json();
    assert_eq!(
        out["record"], "v=spf1 ip4:192.0.2.0/24 include:crm.build.spf.test -all",
        "{out:#}"
    );
    // include (1) + its a (1) + its include (1).
    assert_eq!(out["dns_lookups"], 3);
    assert_eq!(out["void_lookups"], 0);
    assert_eq!(out["all"], "-all");
    assert_eq!(out["phase"]["rollout"], "enforcing");
    assert_eq!(out["phase"]["source"], "dmarc");
    assert_eq!(
        out["published"]["record"],
        "v=spf1 include:old.build.spf.test ~all"
    );
    assert_eq!(
        out["diff"]["added"],
        serde_json::json!(["ip4:192.0.2.0/24", "include:crm.build.spf.test", "-all"])
    );
    assert_eq!(
        out["diff"]["removed"],
        serde_json::json!(["include:old.build.spf.test", "~all"])
    );
    assert_eq!(out["flattened"], Value::Null);

    // Overriding the phase gives ~all; the text names the reason.
    let run = build(&["--phase", "monitoring"]);
    assert!(
        run.stdout.contains(
            "build.spf.test. TXT \"v=spf1 ip4:192.0.2.0/24 include:crm.build.spf.test ~all\""
        ),
        "{run}"
    );
    assert!(run.stdout.contains("~all: --phase monitoring"), "{run}");
    assert!(
        run.stdout.contains("  - include:old.build.spf.test"),
        "{run}"
    );
}
