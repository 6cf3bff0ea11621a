//! The profiles on hand-built facts: a healthy domain, a domain without
//! DMARC, key sizes and ages, the bulk-sender decision and what is not
//! visible.

use serde_json::{json, Map, Value};

use crate::{evaluate, MailEvidence, ProfileId, ProfileInput, ProfileResult, RuleStatus};

fn facts(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn dmarc(record: &str, policy: &str, rua: &[&str]) -> Value {
    json!({
        "status": "found", "record": record, "source": "domain",
        "record_domain": "example.org", "organizational_domain": "example.org",
        "policy": policy, "subdomain_policy": policy, "pct": 100, "testing": false,
        "rua": rua, "ruf": [], "adkim": "r", "aspf": "r", "phase": policy
    })
}

fn spf() -> Value {
    json!({
        "status": "found", "record": "v=spf1 include:_spf.mailhost.example -all",
        "dns_lookups": 1, "void_lookups": 0, "all": "-all", "redirect": null,
        "redirect_ignored": false, "ip4": [], "ip6": [], "tree": []
    })
}

fn key(selector: &str, bits: u64, age: Option<i64>) -> Value {
    json!({
        "selector": selector, "found": true, "status": "valid", "key_type": "rsa",
        "key_bits": bits, "key_age_days": age,
        "age_source": age.map(|_| "history"), "revoked": false, "testing": false,
        "sha1_only": false
    })
}

fn mail(google: Option<u64>) -> MailEvidence {
    MailEvidence {
        max_daily_to_google: google,
        messages: 10_000,
        dmarc_pass: 10_000,
        spf_aligned: 10_000,
        dkim_aligned: 10_000,
        ..MailEvidence::default()
    }
}

fn run(f: &Map<String, Value>, m: Option<&MailEvidence>, bulk: Option<bool>) -> Vec<ProfileResult> {
    evaluate(
        &ProfileId::ALL,
        &ProfileInput {
            domain: "example.org",
            facts: f,
            mail: m,
            bulk_sender: bulk,
        },
    )
}

fn status(results: &[ProfileResult], profile: ProfileId, rule: &str) -> RuleStatus {
    let p = results.iter().find(|p| p.id == profile).unwrap();
    p.rules
        .iter()
        .find(|r| r.id == rule)
        .unwrap_or_else(|| {
            panic!(
                "no rule {rule} in {:?}",
                p.rules.iter().map(|r| &r.id).collect::<Vec<_>>()
            )
        })
        .status
}

fn healthy() -> Map<String, Value> {
    facts(json!({
        "dmarc": dmarc("v=DMARC1; p=reject; rua=mailto:d@example.org", "reject", &["mailto:d@example.org"]),
        "spf": spf(),
        "dkim": [key("s1", 2048, Some(30))],
    }))
}

#[test]
fn a_healthy_domain_fails_nothing_and_passes_what_is_seen() {
    let f = healthy();
    let m = mail(Some(12_000));
    let results = run(&f, Some(&m), None);
    assert_eq!(results.len(), 4);
    for p in &results {
        assert_eq!(p.failed, 0, "{p:#?}");
        assert!(p.passed > 0, "{p:#?}");
        for r in &p.rules {
            assert!(!r.evidence.is_empty(), "{r:#?}");
            assert!(!r.source.is_empty(), "{r:#?}");
        }
    }
    let gmail = &results[0];
    assert!(gmail.applies.contains("yes"), "{}", gmail.applies);
    assert!(gmail.applies.contains("12,000"), "{}", gmail.applies);
    // What DNS and reports cannot show is never a pass.
    assert!(gmail
        .rules
        .iter()
        .any(|r| r.status == RuleStatus::NotVisible));
}

#[test]
fn without_dmarc_rfc9989_fails_and_a_bulk_sender_fails_gmail() {
    let f = facts(json!({
        "dmarc": {"status": "missing"},
        "spf": spf(),
        "dkim": [key("s1", 2048, Some(30))],
    }));
    let m = mail(Some(20_000));
    let results = run(&f, Some(&m), None);
    let rfc = results.iter().find(|p| p.id == ProfileId::Rfc9989).unwrap();
    assert!(rfc.failed >= 1, "{rfc:#?}");
    let gmail = results
        .iter()
        .find(|p| p.id == ProfileId::GmailYahoo)
        .unwrap();
    assert!(gmail.failed >= 1, "{gmail:#?}");
    assert!(gmail.verdict.starts_with("fails"), "{}", gmail.verdict);
}

#[test]
fn a_1024_bit_key_meets_gmail_but_not_m3aawg() {
    let mut f = healthy();
    f.insert("dkim".into(), json!([key("s1", 1024, Some(30))]));
    let results = run(&f, Some(&mail(None)), None);
    assert_eq!(
        status(&results, ProfileId::GmailYahoo, "gmail-dkim-key-1024"),
        RuleStatus::Pass
    );
    assert_eq!(
        status(&results, ProfileId::M3aawgDkim, "m3aawg-dkim-key-2048"),
        RuleStatus::Fail
    );
}

#[test]
fn key_age_old_fails_rotation_unknown_is_not_visible() {
    let mut f = healthy();
    f.insert("dkim".into(), json!([key("s1", 2048, Some(400))]));
    let old = run(&f, Some(&mail(None)), None);
    let m3 = old.iter().find(|p| p.id == ProfileId::M3aawgDkim).unwrap();
    assert!(
        m3.rules.iter().any(|r| r.status == RuleStatus::Fail),
        "{m3:#?}"
    );
    f.insert("dkim".into(), json!([key("s1", 2048, None)]));
    let unknown = run(&f, Some(&mail(None)), None);
    let m3 = unknown
        .iter()
        .find(|p| p.id == ProfileId::M3aawgDkim)
        .unwrap();
    assert!(
        m3.rules.iter().any(|r| r.status == RuleStatus::NotVisible),
        "{m3:#?}"
    );
    assert!(
        !m3.rules.iter().any(|r| r.status == RuleStatus::Fail),
        "{m3:#?}"
    );
}

#[test]
fn the_bulk_override_decides_and_a_job_without_dkim_says_so() {
    let mut f = healthy();
    f.remove("dkim");
    // Small volume, but the config says bulk: the bulk rules apply.
    let results = run(&f, Some(&mail(Some(100))), Some(true));
    let gmail = results
        .iter()
        .find(|p| p.id == ProfileId::GmailYahoo)
        .unwrap();
    assert!(
        gmail.applies.contains("yes, set in config"),
        "{}",
        gmail.applies
    );
    assert!(
        !gmail
            .rules
            .iter()
            .any(|r| r.status == RuleStatus::NotApplicable),
        "the bulk rules apply: {gmail:#?}"
    );
    let not_bulk = run(&f, Some(&mail(Some(100_000))), Some(false));
    let gmail = not_bulk
        .iter()
        .find(|p| p.id == ProfileId::GmailYahoo)
        .unwrap();
    assert!(gmail.applies.contains("no"), "{}", gmail.applies);
    assert!(
        gmail
            .rules
            .iter()
            .any(|r| r.status == RuleStatus::NotApplicable),
        "the bulk rules do not apply: {gmail:#?}"
    );
    // No dkim facts: the key rules say the checker did not run.
    let m3 = results
        .iter()
        .find(|p| p.id == ProfileId::M3aawgDkim)
        .unwrap();
    assert!(
        m3.rules
            .iter()
            .all(|r| r.evidence.contains("not checked in this job")),
        "{m3:#?}"
    );
}
