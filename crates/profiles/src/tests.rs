//! Hand-built facts for the profiles.

use super::*;
use serde_json::{json, Map, Value};

fn facts(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn healthy() -> Value {
    json!({
        "dmarc": {"status": "found", "record": "v=DMARC1; p=reject; rua=mailto:d@healthy.example",
                  "source": "domain", "record_domain": "healthy.example",
                  "organizational_domain": "healthy.example", "policy": "reject", "pct": 100,
                  "testing": false, "rua": ["mailto:d@healthy.example"]},
        "spf": {"status": "found", "record": "v=spf1 ip4:192.0.2.0/24 -all", "dns_lookups": 0, "void_lookups": 0},
        "dkim": [{"selector": "mail2026", "found": true, "status": "valid", "key_type": "rsa",
                  "key_bits": 2048, "key_age_days": 40, "age_source": "history"}],
        "inventory": {"configured": true, "seen": [
            {"source": "mailhost", "inventory": true, "messages": 100, "aligned": 100, "dkim_aligned": 100, "spf_aligned": 100}]},
    })
}

fn mail(max: Option<u64>) -> MailEvidence {
    MailEvidence {
        max_daily_to_google: max,
        messages: 100,
        dmarc_pass: 100,
        spf_aligned: 100,
        dkim_aligned: 100,
        sender_requirement_comments: vec![],
        fcrdns_failing_sources: Some(0),
    }
}

fn run(f: &Map<String, Value>, m: Option<&MailEvidence>, bulk: Option<bool>) -> Vec<ProfileResult> {
    evaluate(
        &ProfileId::ALL,
        &ProfileInput {
            domain: "healthy.example",
            facts: f,
            mail: m,
            bulk_sender: bulk,
        },
    )
}

fn status<'a>(r: &'a [ProfileResult], id: &str) -> &'a RuleStatus {
    &r.iter()
        .flat_map(|p| &p.rules)
        .find(|x| x.id == id)
        .unwrap()
        .status
}

#[test]
fn a_healthy_domain_fails_nothing() {
    let f = facts(healthy());
    let m = mail(Some(12_400));
    let r = run(&f, Some(&m), None);
    for p in &r {
        assert_eq!(p.failed, 0, "{p:#?}");
    }
    assert!(r[0].applies.ends_with("yes, 12,400 on the busiest day"));
    assert_eq!(
        status(&r, "gmail-spam-rate").clone(),
        RuleStatus::NotVisible
    );
}

#[test]
fn rollout_like_facts_fail_the_bulk_rules_for_sendgrid() {
    let mut v = healthy();
    v["dmarc"] = json!({"status": "found", "record": "v=DMARC1; p=quarantine; pct=25; rua=mailto:d@rollout.example",
        "source": "domain", "policy": "quarantine", "pct": 25, "testing": false, "rua": ["mailto:d@rollout.example"]});
    v["inventory"]["seen"] = json!([
        {"source": "mailhost", "inventory": true, "messages": 4081, "aligned": 4081, "dkim_aligned": 4081, "spf_aligned": 4081},
        {"source": "sendgrid", "inventory": true, "messages": 5288, "aligned": 0, "dkim_aligned": 0, "spf_aligned": 0}]);
    let f = facts(v);
    let r = run(&f, None, Some(true));
    assert!(r[0].applies.contains("yes, set in config"));
    assert_eq!(*status(&r, "gmail-bulk-alignment"), RuleStatus::Fail);
    assert_eq!(*status(&r, "gmail-bulk-spf-and-dkim"), RuleStatus::Fail);
    assert_eq!(*status(&r, "outlook-dmarc"), RuleStatus::Fail);
    assert_eq!(*status(&r, "rfc9989-testing-mode"), RuleStatus::Fail);
    let ev = &r[0]
        .rules
        .iter()
        .find(|x| x.id == "gmail-bulk-alignment")
        .unwrap()
        .evidence;
    assert!(ev.contains("sendgrid: 0 of 5,288"), "{ev}");
}

#[test]
fn missing_dmarc_fails_rfc9989() {
    let mut v = healthy();
    v["dmarc"] = json!({"status": "missing", "organizational_domain": "healthy.example"});
    let f = facts(v);
    let r = run(&f, None, None);
    assert_eq!(*status(&r, "rfc9989-valid-p"), RuleStatus::Fail);
    assert_eq!(*status(&r, "rfc9989-valid-rua"), RuleStatus::Fail);
    assert_eq!(r[2].verdict, "fails 2 rules");
}

#[test]
fn a_1024_bit_key_meets_gmail_not_m3aawg_and_unknown_age_is_not_visible() {
    let mut v = healthy();
    v["dkim"] = json!([{"selector": "s1", "found": true, "status": "valid", "key_type": "rsa", "key_bits": 1024, "key_age_days": null}]);
    let f = facts(v);
    let r = run(&f, None, None);
    assert_eq!(*status(&r, "gmail-dkim-key-1024"), RuleStatus::Pass);
    assert_eq!(*status(&r, "m3aawg-dkim-key-2048"), RuleStatus::Fail);
    assert_eq!(*status(&r, "m3aawg-dkim-rotation"), RuleStatus::NotVisible);
}
