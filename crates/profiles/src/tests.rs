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

/// The rollout.example-like case, a missing record and a 1,024-bit key, on a second set of helpers.
mod more {
    use crate::*;
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

    fn run(
        f: &Map<String, Value>,
        m: Option<&MailEvidence>,
        bulk: Option<bool>,
    ) -> Vec<ProfileResult> {
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
}
