//! `authwarden check` end to end: the real binary against Knot DNS serving
//! the zones of `tests/zones/`, asserting on the JSON contract, the exit
//! status, and how DNS failures (SERVFAIL, timeouts) become findings.

use std::collections::BTreeSet;

use authwarden_e2e::{
    authwarden, domain_report, findings_for, names_for, start_dns, write_config, SilentDns,
    SERVFAIL_ZONE,
};
use serde_json::Value;

const DMARC: &str = "dmarc-policy";

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Asserts the names of the DMARC findings of `domain`, showing them all on failure.
fn assert_names(out: &Value, domain: &str, want: &[&str]) {
    assert_eq!(
        names_for(out, domain, DMARC),
        names(want),
        "findings of {domain}: {:#?}",
        findings_for(out, domain)
    );
}

/// `check DOMAINS --nameserver ADDR --format json --checker dmarc-policy`.
///
/// Narrowed to the DMARC checker so that checkers added later neither change
/// these expectations nor the exit status.
fn check_args<'a>(nameserver: &'a str, domains: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["check"];
    args.extend_from_slice(domains);
    args.extend_from_slice(&[
        "--nameserver",
        nameserver,
        "--format",
        "json",
        "--checker",
        DMARC,
    ]);
    args
}

fn is_kebab(s: &str) -> bool {
    !s.is_empty()
        && s.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Every finding has the documented fields with the documented types.
fn assert_finding_shape(finding: &Value) {
    let object = finding.as_object().expect("a finding is an object");
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "checker", "code", "name", "severity", "domain", "subject", "message", "help", "evidence",
    ]
    .into();
    assert_eq!(keys, expected, "fields of {finding:#}");
    for key in [
        "checker", "code", "name", "domain", "subject", "message", "help",
    ] {
        assert!(
            finding[key].is_string(),
            "`{key}` is a string in {finding:#}"
        );
    }
    assert!(finding["evidence"].is_object(), "{finding:#}");
    let severity = finding["severity"].as_str().unwrap();
    assert!(
        ["note", "warning", "error"].contains(&severity),
        "{finding:#}"
    );
    let name = finding["name"].as_str().unwrap();
    assert!(is_kebab(name), "name is kebab-case: {finding:#}");
    let code = finding["code"].as_str().unwrap();
    if finding["checker"] == DMARC {
        assert!(
            code.len() == 8
                && code.starts_with("DMARC")
                && code[5..].chars().all(|c| c.is_ascii_digit()),
            "code like DMARC001: {finding:#}"
        );
    }
    let message = finding["message"].as_str().unwrap();
    assert!(
        !message.is_empty()
            && !message.ends_with('.')
            && !message.starts_with(|c: char| c.is_uppercase()),
        "message lower-case, no trailing period: {finding:#}"
    );
}

#[test]
fn json_contract_findings_and_facts_per_domain() {
    let dns = start_dns();
    let ns = dns.addr().to_string();
    let domains = [
        "healthy.test",
        "monitor.test",
        "rollout.test",
        "broken.test",
        "missing.test",
        "outsourced.test",
        "leaky.test",
        "parent.test",
        "mail.parent.test",
    ];
    let run = authwarden(&check_args(&ns, &domains));
    // missing.test has no record (an error finding).
    assert_eq!(run.code(), 1, "{run}");
    let out = run.json();

    let top: BTreeSet<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(top, ["domains", "findings"].into(), "{out:#}");
    for finding in out["findings"].as_array().unwrap() {
        assert_finding_shape(finding);
        assert!(
            domains.contains(&finding["domain"].as_str().unwrap()),
            "finding for a domain not asked for: {finding:#}"
        );
    }
    let listed: Vec<&str> = out["domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["domain"].as_str().unwrap())
        .collect();
    assert_eq!(listed, domains, "one entry per domain, in input order");

    let expected: &[(&str, &[&str])] = &[
        ("healthy.test", &[]),
        ("monitor.test", &["dmarc-policy-none"]),
        ("rollout.test", &["dmarc-partial-policy"]),
        ("missing.test", &["dmarc-record-missing"]),
        ("outsourced.test", &[]),
        ("leaky.test", &["dmarc-external-reports-unauthorized"]),
        ("parent.test", &["dmarc-subdomain-policy-weaker"]),
    ];
    for (domain, want) in expected {
        assert_names(&out, domain, want);
    }
    // A record with three invalid values: each is a syntax error with a
    // did-you-mean (the one for `p` says that receivers fall back to none),
    // and with `rua` invalid no reports are asked for.
    assert_names(
        &out,
        "broken.test",
        &["dmarc-syntax-error", "dmarc-no-aggregate-reports"],
    );
    let syntax: BTreeSet<(&str, &str)> = findings_for(&out, "broken.test")
        .into_iter()
        .filter(|f| f["name"] == "dmarc-syntax-error")
        .map(|f| {
            let text = |key: &str| f["evidence"][key].as_str().unwrap_or("(missing)");
            (text("tag"), text("suggestion"))
        })
        .collect();
    assert_eq!(
        syntax,
        [
            ("p", "reject"),
            ("pct", "100"),
            ("rua", "mailto:dmarc@broken.test")
        ]
        .into(),
        "tag and did-you-mean of each syntax error: {:#?}",
        findings_for(&out, "broken.test")
    );
    // The subdomain is governed by its parent's record, whose weak `sp` is
    // exactly what applies to it.
    assert_names(&out, "mail.parent.test", &["dmarc-subdomain-policy-weaker"]);

    // The facts.
    let dmarc = |domain: &str| domain_report(&out, domain)["dmarc"].clone();
    let healthy = dmarc("healthy.test");
    assert_eq!(
        healthy["record"],
        "v=DMARC1; p=reject; sp=reject; rua=mailto:dmarc@healthy.test"
    );
    assert_eq!(healthy["policy"], "reject");
    assert_eq!(healthy["subdomain_policy"], "reject");
    assert_eq!(healthy["pct"], 100);
    assert_eq!(healthy["testing"], false);
    assert_eq!(healthy["adkim"], "r");
    assert_eq!(healthy["aspf"], "r");
    assert_eq!(healthy["phase"], "reject pct 100");
    let rua = healthy["rua"].as_array().expect("`rua` is an array");
    assert_eq!(rua.len(), 1, "{healthy:#}");
    assert!(
        rua[0].to_string().contains("dmarc@healthy.test"),
        "{healthy:#}"
    );

    assert_eq!(healthy["status"], "found");
    assert_eq!(healthy["source"], "domain");

    assert_eq!(dmarc("monitor.test")["policy"], "none");
    assert_eq!(dmarc("monitor.test")["phase"], "none");
    let rollout = dmarc("rollout.test");
    assert_eq!(rollout["policy"], "quarantine");
    assert_eq!(rollout["pct"], 25);
    assert_eq!(rollout["phase"], "quarantine pct 25");
    assert_eq!(dmarc("broken.test")["policy"], "none");

    // No record of its own: the organizational domain's `sp` applies.
    let inherited = dmarc("mail.parent.test");
    assert_eq!(inherited["source"], "organizational", "{inherited:#}");
    assert_eq!(inherited["record_domain"], "parent.test");
    assert_eq!(inherited["policy"], "quarantine");
    assert_eq!(inherited["phase"], "quarantine pct 100");
    assert_eq!(
        inherited["record"],
        "v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@parent.test"
    );
    assert_eq!(dmarc("parent.test")["policy"], "reject");
    assert_eq!(dmarc("missing.test")["policy"], Value::Null);
}

#[test]
fn a_servfail_domain_is_incomplete_and_the_others_are_still_checked() {
    let dns = start_dns();
    let ns = dns.addr().to_string();
    let down = SERVFAIL_ZONE.trim_end_matches('.');
    let run = authwarden(&check_args(&ns, &["healthy.test", down, "monitor.test"]));
    // Incomplete is a warning: the run goes on, and the exit status (3)
    // says that not every check could complete.
    assert_eq!(run.code(), 3, "{run}");
    let out = run.json();
    assert_names(&out, down, &["dmarc-check-incomplete"]);
    let incomplete = findings_for(&out, down)[0];
    assert_eq!(incomplete["severity"], "warning");
    let text = incomplete.to_string();
    assert!(
        text.contains(&format!("_dmarc.{down}")) && text.to_lowercase().contains("servfail"),
        "the failed name and the failure are in the finding: {incomplete:#}"
    );
    assert_eq!(domain_report(&out, down)["dmarc"]["status"], "incomplete");
    assert_names(&out, "healthy.test", &[]);
    assert_names(&out, "monitor.test", &["dmarc-policy-none"]);
    assert_eq!(
        domain_report(&out, "monitor.test")["dmarc"]["policy"],
        "none"
    );
}

#[test]
fn exit_status_is_0_without_error_findings() {
    let dns = start_dns();
    let ns = dns.addr().to_string();
    let run = authwarden(&check_args(&ns, &["healthy.test", "monitor.test"]));
    assert_eq!(run.code(), 0, "{run}");
    // Not vacuous: there is a finding, only not an error.
    let out = run.json();
    assert_names(&out, "monitor.test", &["dmarc-policy-none"]);
}

#[test]
fn exit_status_is_1_with_an_error_finding() {
    let dns = start_dns();
    let ns = dns.addr().to_string();
    let run = authwarden(&check_args(&ns, &["healthy.test", "missing.test"]));
    assert_eq!(run.code(), 1, "{run}");
    let out = run.json();
    let missing = findings_for(&out, "missing.test");
    assert_eq!(missing.len(), 1, "{out:#}");
    assert_eq!(missing[0]["severity"], "error");
}

#[test]
fn exit_status_is_2_for_a_broken_config_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "# broken on purpose\n[dns]\ntimeout = \"300ms\"\nretries = \"two\"\ntimout = \"1s\"\n",
    );
    let config = config.as_str();
    let run = authwarden(&[
        "check",
        "healthy.test",
        "--config",
        config,
        "--nameserver",
        "127.0.0.1:9",
        "--format",
        "json",
    ]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stdout.trim().is_empty(),
        "no report on a config error: {run}"
    );
    // Every problem, each at file:line:column: `retries = "two"` (the value
    // starts at column 11) and the misspelt key on line 5.
    for position in [":4:11:", ":5:1:"] {
        assert!(
            run.stderr.contains(&format!("{config}{position}")),
            "stderr names {config}{position}: {run}"
        );
    }
    assert!(run.stderr.contains("did you mean `timeout`"), "{run}");
}

#[test]
fn exit_status_is_2_for_a_usage_error() {
    let run = authwarden(&["check", "healthy.test", "--no-such-flag"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(run.stderr.contains("--no-such-flag"), "{run}");
}

#[test]
fn a_dns_timeout_is_an_incomplete_finding_and_the_run_ends_normally() {
    let silent = SilentDns::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "[dns]\ntimeout = \"300ms\"\nretries = 0\n");
    let ns = silent.addr().to_string();
    let mut args = check_args(&ns, &["healthy.test", "monitor.test"]);
    args.extend_from_slice(&["--config", &config]);
    let run = authwarden(&args);
    // Only warnings, but the checks could not complete: exit status 3.
    assert_eq!(run.code(), 3, "{run}");
    let out = run.json();
    for domain in ["healthy.test", "monitor.test"] {
        assert_names(&out, domain, &["dmarc-check-incomplete"]);
        let finding = findings_for(&out, domain)[0].to_string();
        assert!(finding.contains("timeout"), "{finding}");
    }
}
