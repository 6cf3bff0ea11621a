//! The DKIM checker end to end: the real binary against Knot DNS serving the
//! zones of `tests/fixtures/dkim/`, asserting the exact `key_type`,
//! `key_bits`, `cname_target` and flags of the JSON contract and the finding
//! codes of each selector: RSA keys of every size, a bare RSAPublicKey,
//! ed25519, undecodable keys, revoked / testing / sha1-only records, a
//! selector that is not published, a CNAME chain into a provider's zone, and
//! SERVFAIL (check incomplete). The last test runs twice over one key
//! history folder.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{SystemTime, UNIX_EPOCH};

use authwarden_e2e::{
    authwarden, domain_report, findings_for, fixtures_dir, names_for, start_dns_in, write_config,
};
use authwarden_test_support::dns::KnotServer;
use serde_json::{json, Value};

/// Configured without a zone file: Knot answers SERVFAIL for every name.
const DOWN_ZONE: &str = "down.dkim.test.";

fn start_dns() -> KnotServer {
    start_dns_in(&fixtures_dir("dkim"), &[DOWN_ZONE])
}

/// `check DOMAIN --selector S... --checker dkim --format json` against `server`.
fn check(server: &KnotServer, domain: &str, selectors: &[&str]) -> Value {
    let addr = server.addr().to_string();
    let mut args = vec![
        "check",
        domain,
        "--nameserver",
        &addr,
        "--format",
        "json",
        "--checker",
        "dkim",
    ];
    for s in selectors {
        args.extend_from_slice(&["--selector", s]);
    }
    let run = authwarden(&args);
    assert!(
        matches!(run.code(), 0 | 1 | 3),
        "exit 0, 1 (findings) or 3 (incomplete): {run}"
    );
    run.json()
}

/// The `dkim` facts of `domain`, by selector.
fn facts_by_selector<'a>(out: &'a Value, domain: &str) -> BTreeMap<&'a str, &'a Value> {
    domain_report(out, domain)["dkim"]
        .as_array()
        .unwrap_or_else(|| panic!("`dkim` of {domain} is an array: {out:#}"))
        .iter()
        .map(|f| (f["selector"].as_str().expect("`selector` is a string"), f))
        .collect()
}

/// The codes of the dkim findings of `domain` whose subject is `subject`.
fn codes_at(out: &Value, domain: &str, subject: &str) -> BTreeSet<String> {
    findings_for(out, domain)
        .into_iter()
        .filter(|f| f["checker"] == "dkim" && f["subject"] == subject)
        .map(|f| f["code"].as_str().expect("`code` is a string").to_string())
        .collect()
}

/// The names whose lookup failed, from the `at` evidence of the
/// check-incomplete findings of `domain` (their subject is the domain).
fn incomplete_at(out: &Value, domain: &str) -> BTreeSet<String> {
    findings_for(out, domain)
        .into_iter()
        .filter(|f| f["code"] == "DKIM012")
        .map(|f| {
            assert_eq!(f["subject"], domain, "{f:#}");
            assert_eq!(f["evidence"]["stage"], "dns", "{f:#}");
            let at = f["evidence"]["at"].as_str().expect("`at` is a string");
            assert_eq!(
                f["message"],
                format!("txt lookup of {at} failed (SERVFAIL)"),
                "{f:#}"
            );
            at.to_string()
        })
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_kind_of_key_against_a_real_server() {
    let dns = start_dns();
    let domain = "keys.dkim.test";
    // (selector, key_type, key_bits, finding codes). The flags follow the
    // selector's name: only `revoked` is revoked, only `testing` has t=y, only
    // `sha1` has h=sha1; a selector without a key_type is not published.
    type Row<'a> = (&'a str, Option<&'a str>, Option<u64>, &'a [&'a str]);
    let expected: [Row; 13] = [
        ("rsa512", Some("rsa"), Some(512), &["DKIM002"]),
        ("rsa1024", Some("rsa"), Some(1024), &["DKIM003"]),
        ("rsa2048", Some("rsa"), Some(2048), &[]),
        ("rsa4096", Some("rsa"), Some(4096), &[]),
        ("bare", Some("rsa"), Some(2048), &[]),
        ("ed25519", Some("ed25519"), Some(256), &[]),
        ("ed25519spki", Some("ed25519"), Some(256), &[]),
        ("garbage", Some("rsa"), None, &["DKIM004"]),
        ("notakey", Some("rsa"), None, &["DKIM004"]),
        ("revoked", Some("rsa"), None, &["DKIM006"]),
        ("testing", Some("rsa"), Some(2048), &["DKIM007"]),
        ("sha1", Some("rsa"), Some(2048), &["DKIM008"]),
        ("missing", None, None, &["DKIM009"]),
    ];
    let named: Vec<&str> = expected.iter().map(|row| row.0).collect();
    let out = check(&dns, domain, &named);
    let facts = facts_by_selector(&out, domain);
    // The catalog's selectors are probed too, but those the domain does not
    // publish are neither facts nor findings; nor is there a domain-level
    // "no key" finding.
    assert_eq!(
        facts.keys().copied().collect::<BTreeSet<_>>(),
        named.iter().copied().collect::<BTreeSet<_>>(),
        "one fact per configured selector: {out:#}"
    );
    let subjects: BTreeSet<String> = named
        .iter()
        .map(|s| format!("{s}._domainkey.{domain}"))
        .collect();
    for f in findings_for(&out, domain) {
        assert!(
            subjects.contains(f["subject"].as_str().unwrap()),
            "a finding on a configured selector: {f:#}"
        );
    }
    for (selector, key_type, bits, codes) in expected {
        let subject = format!("{selector}._domainkey.{domain}");
        assert_eq!(
            codes_at(&out, domain, &subject),
            set(codes),
            "{selector}: {:#?}",
            findings_for(&out, domain)
        );
        let f = facts[selector];
        assert_eq!(f["found"], key_type.is_some(), "{selector}: {f:#}");
        assert_eq!(f["key_type"], json!(key_type), "{selector}: {f:#}");
        assert_eq!(f["key_bits"], json!(bits), "{selector}: {f:#}");
        assert_eq!(f["revoked"], selector == "revoked", "{selector}: {f:#}");
        assert_eq!(f["testing"], selector == "testing", "{selector}: {f:#}");
        assert_eq!(f["sha1_only"], selector == "sha1", "{selector}: {f:#}");
        assert_eq!(f["cname_target"], Value::Null, "{selector}: {f:#}");
    }
    // The key's encoding is reported.
    assert_eq!(facts["bare"]["key_format"], "rsa-public-key");
    assert_eq!(facts["rsa2048"]["key_format"], "spki");
    assert_eq!(facts["ed25519"]["key_format"], "raw");
    assert_eq!(facts["ed25519spki"]["key_format"], "spki");
    // The measured size is the evidence of the short-key findings.
    let short = findings_for(&out, domain)
        .into_iter()
        .find(|f| f["code"] == "DKIM002")
        .expect("DKIM002");
    assert_eq!(short["evidence"]["key_bits"], 512, "{short:#}");
    assert_eq!(short["severity"], "error", "{short:#}");
}

#[test]
fn cname_chain_to_a_provider_and_servfail_behind_a_cname() {
    let dns = start_dns();
    let domain = "a.dkim.test";
    let out = check(&dns, domain, &["s1", "s2"]);
    let facts = facts_by_selector(&out, domain);

    // s1 -> s1.domainkey.u1.provider.test -> k2026.keys.provider.test (TXT).
    let s1 = facts["s1"];
    assert_eq!(s1["found"], true, "{s1:#}");
    assert_eq!(s1["key_type"], "rsa", "{s1:#}");
    assert_eq!(s1["key_bits"], 1024, "{s1:#}");
    assert_eq!(s1["cname_target"], "k2026.keys.provider.test", "{s1:#}");
    assert_eq!(s1["managed_by"], "provider.test", "{s1:#}");
    assert_eq!(
        codes_at(&out, domain, "s1._domainkey.a.dkim.test"),
        set(&["DKIM003"])
    );
    let weak = findings_for(&out, domain)
        .into_iter()
        .find(|f| f["code"] == "DKIM003")
        .expect("DKIM003");
    assert!(
        weak["help"]
            .as_str()
            .unwrap()
            .contains("delegated to provider.test"),
        "{weak:#}"
    );

    // s2's CNAME target answers SERVFAIL: incomplete, not "missing".
    let s2 = facts["s2"];
    assert_eq!(s2["found"], false, "{s2:#}");
    assert_eq!(s2["status"], "failed", "{s2:#}");
    assert_eq!(
        incomplete_at(&out, domain),
        set(&["s2._domainkey.a.dkim.test"])
    );
    assert_eq!(
        codes_at(&out, domain, "s2._domainkey.a.dkim.test"),
        set(&[]),
        "no selector-missing claim: {:#?}",
        findings_for(&out, domain)
    );
    assert_eq!(
        names_for(&out, domain, "dkim"),
        set(&["dkim-rsa-key-weak", "dkim-check-incomplete"]),
        "{out:#}"
    );
}

#[test]
fn servfail_zone_is_check_incomplete() {
    let dns = start_dns();
    let domain = "down.dkim.test";
    let out = check(&dns, domain, &["s1"]);
    // Every probe failed (the configured selector and the catalog's): each is
    // a check-incomplete finding, and nothing claims a key is missing.
    assert_eq!(
        names_for(&out, domain, "dkim"),
        set(&["dkim-check-incomplete"]),
        "{out:#}"
    );
    let facts = facts_by_selector(&out, domain);
    let f = facts["s1"];
    assert_eq!(f["found"], false, "{f:#}");
    assert_eq!(f["status"], "failed", "{f:#}");
    assert_eq!(f["key_bits"], Value::Null, "{f:#}");
    // One fact and one finding per failed probe.
    let failed: BTreeSet<String> = facts
        .keys()
        .map(|s| format!("{s}._domainkey.{domain}"))
        .collect();
    assert!(failed.contains("s1._domainkey.down.dkim.test"), "{out:#}");
    assert_eq!(incomplete_at(&out, domain), failed, "{out:#}");
    assert_eq!(findings_for(&out, domain).len(), failed.len(), "{out:#}");
    assert!(facts.values().all(|f| f["status"] == "failed"), "{out:#}");
}

/// Today's date in UTC, `YYYY-MM-DD` (the checker's clock is UTC).
fn utc_today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    // Days since 1970-01-01 to a civil date (H. Hinnant's algorithm).
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[test]
fn config_selectors_and_key_history_over_two_runs() {
    let dns = start_dns();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        &format!(
            "history_dir = \"{data}\"\n\
             reports_dir = \"{reports}\"\n\
             [dns]\nnameservers = [\"{ns}\"]\n\
             [checkers.dkim]\nprobe_catalog = false\n\
             [[domains]]\nname = \"keys.dkim.test\"\n\
             [domains.dkim]\nselectors = [\"rsa2048\", \"ed25519\", \"missing\"]\n",
            data = data.display(),
            reports = dir.path().join("reports").display(),
            ns = dns.addr(),
        ),
    );
    let config = config.as_str();
    let run = || {
        let run = authwarden(&[
            "check",
            "--config",
            config,
            "--format",
            "json",
            "--checker",
            "dkim",
        ]);
        // The missing selector is an error finding: exit 1.
        assert_eq!(run.code(), 1, "{run}");
        run.json()
    };
    let domain = "keys.dkim.test";

    let before = utc_today();
    let first = run();
    let facts = facts_by_selector(&first, domain);
    assert_eq!(
        facts.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(["rsa2048", "ed25519", "missing"]),
        "config selectors only, no catalog probes: {first:#}"
    );
    assert_eq!(
        names_for(&first, domain, "dkim"),
        set(&["dkim-selector-missing"]),
        "{first:#}"
    );
    let today = facts["rsa2048"]["first_seen"]
        .as_str()
        .unwrap_or_else(|| panic!("first_seen is recorded: {first:#}"))
        .to_string();
    assert!(
        today == before || today == utc_today(),
        "first_seen {today} is today ({before}): {first:#}"
    );
    for selector in ["rsa2048", "ed25519"] {
        let f = facts[selector];
        assert_eq!(f["first_seen"], today.as_str(), "{selector}: {f:#}");
        assert_eq!(f["key_age_days"], 0, "{selector}: {f:#}");
        assert_eq!(f["age_source"], "history", "{selector}: {f:#}");
        assert_eq!(f["sources"], json!(["config"]), "{f:#}");
    }
    assert_eq!(facts["missing"]["first_seen"], Value::Null);
    assert_eq!(facts["missing"]["key_age_days"], Value::Null);
    let history = data.join("dkim/keys/keys.dkim.test.json");
    assert!(
        !history.is_file(),
        "an ad-hoc check records no key history: {}",
        history.display()
    );

    // A job that runs the DKIM checker (the quarterly one) records it.
    let job = authwarden(&["run", "quarterly", "--config", config]);
    assert!(
        history.is_file(),
        "{} is written by the job\n{job}",
        history.display()
    );

    // The next check finds the keys in the history: same first_seen, no
    // rotation.
    let second = run();
    let facts = facts_by_selector(&second, domain);
    for selector in ["rsa2048", "ed25519"] {
        let f = facts[selector];
        assert_eq!(f["first_seen"], today.as_str(), "{selector}: {f:#}");
        assert_eq!(f["sources"], json!(["config", "history"]), "{f:#}");
        assert_eq!(f["rotations"], json!([]), "{f:#}");
        if today == utc_today() {
            assert_eq!(f["key_age_days"], 0, "{selector}: {f:#}");
        }
    }
    assert_eq!(
        names_for(&second, domain, "dkim"),
        set(&["dkim-selector-missing"]),
        "{second:#}"
    );
}
