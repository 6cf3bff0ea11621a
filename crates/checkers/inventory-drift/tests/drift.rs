//! Every drift kind against months of synthetic report history and fixture
//! zones: produced exactly when it should be, and not otherwise.

mod common;

use authwarden_api::plan::Change;
use authwarden_api::reports::AggregateRow;
use authwarden_api::serde_json::{json, Value};
use authwarden_api::RecordType;
use chrono::Duration;
use common::*;

fn zone(name: &str) -> String {
    format!("{}\n{}", fixture(name), fixture("providers"))
}

fn full_inventory() -> Value {
    json!({"inventory": {"senders": [
        {"provider": "google-workspace", "owner": "it", "purpose": "internal"},
        {"provider": "sendgrid", "owner": "dev", "purpose": "transactional"},
        {"name": "crm", "ips": ["192.0.2.0/24"], "owner": "sales", "purpose": "marketing"},
        {"provider": "mailgun", "owner": "dev", "purpose": "transactional"},
        {"provider": "mailchimp", "owner": "marketing", "purpose": "marketing"},
        {"provider": "zendesk", "owner": "support", "purpose": "transactional"},
    ]}})
}

fn gws() -> Stream {
    Stream::aligned("209.85.130.10", 100, "google")
}

fn crm() -> Stream {
    Stream::aligned("192.0.2.10", 20, "crm")
}

fn sendgrid(dkim: bool) -> Stream {
    Stream {
        provider: Some("SendGrid"),
        dkim,
        cause: if dkim { "aligned" } else { "spf-only" },
        selector: dkim.then_some("s1"),
        dkim_domain: dkim.then_some(DOMAIN),
        ..Stream::aligned("167.89.1.1", 50, "s1")
    }
}

/// Four months of history: Google Workspace, SendGrid losing DKIM 20 days
/// ago, the CRM, Mailgun (never authorized, never aligned), Mailchimp
/// silent for 100 days, HubSpot and an unknown MTA appearing, spoofers and
/// a forwarder.
fn history() -> Vec<AggregateRow> {
    let mut rows = Vec::new();
    rows.extend(days(&gws(), 120, 0));
    rows.extend(days(&crm(), 120, 0));
    rows.extend(days(&sendgrid(true), 120, 21));
    rows.extend(days(&sendgrid(false), 20, 0));
    rows.extend(days(
        &Stream {
            provider: Some("Mailgun"),
            dkim_domain: Some("mailgun.org"),
            selector: Some("krs"),
            ..Stream::failing("198.51.100.20", 30, "known-service-missing-dkim")
        },
        60,
        0,
    ));
    rows.extend(days(
        &Stream {
            provider: Some("Mailchimp"),
            ..Stream::aligned("205.201.130.5", 40, "k1")
        },
        110,
        100,
    ));
    rows.extend(days(
        &Stream {
            provider: Some("HubSpot"),
            ..Stream::aligned("104.16.0.5", 12, "hs1")
        },
        10,
        0,
    ));
    rows.extend(days(&Stream::aligned("203.0.113.7", 5, "mta"), 5, 0));
    rows.extend(days(&Stream::aligned("203.0.113.8", 5, "mta"), 5, 0));
    for (ip, n) in [("185.220.101.1", 5), ("185.220.101.2", 3), ("45.9.20.1", 2)] {
        rows.extend(days(&Stream::failing(ip, n, "unknown-source"), 60, 0));
    }
    rows.extend(days(&Stream::failing("40.92.0.5", 4, "forwarded"), 60, 0));
    rows
}

fn kinds(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(k, s)| (k.to_string(), s.to_string()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn every_report_kind_from_months_of_history() {
    let mut h = Harness::new(&zone("org"), full_inventory());
    h.rows = Some(history());
    let out = h.run().await;
    assert_eq!(
        drift(&out),
        kinds(&[
            ("missing-dkim", "mailgun"),
            ("missing-dkim", "sendgrid"),
            ("missing-from-spf", "mailgun"),
            ("new-sender", "203.0.113.0/24"),
            ("new-sender", "hubspot"),
            ("spoofing", "example.org"),
            ("stale", "mailchimp"),
            ("stale", "zendesk"),
            ("unexplained-include", "include:spf.unknown-esp.example"),
        ])
    );
    assert_eq!(out.findings.len(), 9, "{:#?}", out.findings);
    let f = |code: &str, subject: &str| {
        out.findings
            .iter()
            .find(|f| f.code == code && f.subject == subject)
            .unwrap_or_else(|| panic!("no {code} at {subject}"))
    };
    // The exact record with the provider's include added, the rest kept.
    assert_eq!(
        f("DRIFT003", "mailgun").evidence["suggested_record"],
        "v=spf1 include:_spf.google.com include:sendgrid.net include:servers.mcsv.net include:spf.unknown-esp.example ip4:192.0.2.0/24 include:mailgun.org -all"
    );
    // ...and the same term proposed as an SPF edit resolving the finding.
    let authorize: Vec<_> = out
        .proposals
        .iter()
        .filter(|p| p.resolves.iter().any(|r| r.code == "DRIFT003"))
        .collect();
    assert_eq!(authorize.len(), 1);
    assert_eq!(
        authorize[0].change,
        Change::SpfTerms {
            name: DOMAIN.into(),
            add: vec!["include:mailgun.org".into()],
            remove: vec![],
            all: None
        }
    );
    assert_eq!(authorize[0].resolves[0].subject, "mailgun");
    // The stale include is named and its removal proposed.
    assert!(
        f("DRIFT002", "mailchimp")
            .message
            .ends_with("include:servers.mcsv.net is still in the SPF record"),
        "{}",
        f("DRIFT002", "mailchimp").message
    );
    assert!(out.proposals.iter().any(|p| p.change
        == Change::SpfTerms {
            name: DOMAIN.into(),
            add: vec![],
            remove: vec!["include:servers.mcsv.net".into()],
            all: None
        }
        && p.resolves[0].code == "DRIFT002"));
    // DKIM work at the provider, in the rollout advisor's words.
    let dkim: Vec<(&str, &Change)> = out
        .proposals
        .iter()
        .filter(|p| p.resolves.iter().any(|r| r.code == "DRIFT004"))
        .map(|p| (p.resolves[0].subject.as_str(), &p.change))
        .collect();
    assert_eq!(
        dkim,
        [
            (
                "sendgrid",
                &Change::Outside {
                    action: "make DKIM sign all of its mail with d=example.org at SendGrid".into()
                }
            ),
            (
                "mailgun",
                &Change::Outside {
                    action: "configure DKIM signing with d=example.org at Mailgun".into()
                }
            ),
        ]
    );
    // The stale include's cost, from the spf evaluation.
    assert_eq!(f("DRIFT002", "mailchimp").evidence["lookups"], 1);
    assert_eq!(f("DRIFT002", "zendesk").evidence["lookups"], 0);
    assert_eq!(
        f("DRIFT002", "mailchimp").evidence["last_seen"],
        "2026-07-24"
    );
    // include + its a: 2 lookups.
    assert_eq!(
        f("DRIFT005", "include:spf.unknown-esp.example").evidence["lookups"],
        2
    );
    let spoof = f("DRIFT006", DOMAIN);
    // The period is the last 30 days (the day 30 days ago began before it).
    assert_eq!(spoof.evidence["messages"], 30 * 10);
    assert_eq!(spoof.evidence["sources"][0]["ip"], "185.220.101.1");
    // Sendgrid: 21 days of 50 messages without DKIM in the last 30.
    let sg = f("DRIFT004", "sendgrid");
    assert_eq!(sg.evidence["without_dkim"], 21 * 50);
    let facts = out.facts.as_ref().unwrap();
    // Only the state-based kind is skipped: this run has no history folder.
    assert_eq!(facts["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(facts["skipped"][0]["kind"], "authorization-disappeared");
    let seen: Vec<&str> = facts["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert!(
        seen.contains(&"google-workspace") && seen.contains(&"crm") && seen.contains(&"unknown"),
        "{seen:?}"
    );
    insta::assert_json_snapshot!(snapshot(&out));
}

#[tokio::test]
async fn without_reports_only_the_dns_kinds_run() {
    let h = Harness::new(&zone("org"), full_inventory());
    let out = h.run().await;
    assert_eq!(
        drift(&out),
        kinds(&[("unexplained-include", "include:spf.unknown-esp.example")])
    );
    assert_eq!(codes(&out), ["DRIFT005"]);
    let skipped: Vec<&str> = out.facts.as_ref().unwrap()["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        [
            "authorization-disappeared",
            "new-sender",
            "stale",
            "missing-from-spf",
            "missing-dkim",
            "spoofing"
        ]
    );
    insta::assert_json_snapshot!(snapshot(&out));
}

#[tokio::test]
async fn a_domain_matching_its_inventory_has_no_drift() {
    let settings = json!({"inventory": {"senders": [
        {"provider": "google-workspace"},
        {"provider": "sendgrid"},
        {"name": "crm", "ips": ["192.0.2.0/24"]},
    ]}});
    let mut h = Harness::new(&zone("clean"), settings);
    let mut rows = days(&gws(), 120, 0);
    rows.extend(days(&crm(), 120, 0));
    rows.extend(days(&sendgrid(true), 120, 0));
    // A forwarder's failing copies are not spoofing.
    rows.extend(days(&Stream::failing("40.92.0.5", 4, "forwarded"), 60, 0));
    // A mailing list relaying members' mail with the original DKIM
    // signature intact passes DMARC, but is not a new sender.
    let list = Stream {
        dkim: true,
        cause: "mailing-list",
        selector: Some("members"),
        dkim_domain: Some(common::DOMAIN),
        ..Stream::failing("203.0.113.25", 3, "mailing-list")
    };
    rows.extend(days(&list, 60, 0));
    h.rows = Some(rows);
    let out = h.run().await;
    assert!(out.findings.is_empty(), "{:#?}", out.findings);
    assert_eq!(drift(&out), kinds(&[]));
    let facts = out.facts.unwrap();
    assert_eq!(facts["declared"].as_array().unwrap().len(), 3);
    assert_eq!(facts["authorized_by_spf"].as_array().unwrap().len(), 3);
    assert_eq!(facts["dkim_selectors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn staleness_needs_reports_covering_the_stale_period() {
    let mut h = Harness::new(&zone("clean"), full_inventory());
    h.rows = Some(days(&gws(), 30, 0));
    let out = h.run().await;
    assert!(
        !drift(&out).iter().any(|(k, _)| k == "stale"),
        "{:?}",
        drift(&out)
    );
    let skipped = out.facts.as_ref().unwrap()["skipped"].as_array().unwrap();
    let stale = skipped.iter().find(|s| s["kind"] == "stale").unwrap();
    assert!(
        stale["reason"].as_str().unwrap().contains("cover 30 days"),
        "{stale}"
    );
    // ...and `stale_days` shortens the period.
    h.config = json!({"stale_days": 20});
    let out = h.run().await;
    let stale: Vec<_> = drift(&out)
        .into_iter()
        .filter(|(k, _)| k == "stale")
        .collect();
    assert_eq!(
        stale,
        kinds(&[
            ("stale", "mailchimp"),
            ("stale", "mailgun"),
            ("stale", "sendgrid"),
            ("stale", "zendesk"),
            ("stale", "crm")
        ])
    );
    // The CRM's range is still in the record: the finding names the term as
    // written and proposes removing exactly that.
    let crm = out
        .findings
        .iter()
        .find(|f| f.code == "DRIFT002" && f.subject == "crm")
        .unwrap();
    assert_eq!(
        crm.message,
        "crm has not sent as example.org for 20 days; ip4:192.0.2.0/24 is still in the SPF record"
    );
    assert_eq!(crm.evidence["spf_terms"], json!(["ip4:192.0.2.0/24"]));
    let removal: Vec<&Change> = out
        .proposals
        .iter()
        .filter(|p| {
            p.resolves
                .iter()
                .any(|r| r.code == "DRIFT002" && r.subject == "crm")
        })
        .map(|p| &p.change)
        .collect();
    assert_eq!(
        removal,
        [&Change::SpfTerms {
            name: DOMAIN.into(),
            add: vec![],
            remove: vec!["ip4:192.0.2.0/24".into()],
            all: None
        }]
    );
    assert!(
        crm.help
            .contains("publish `v=spf1 include:_spf.google.com include:sendgrid.net -all`"),
        "{}",
        crm.help
    );
}

/// (sender, mechanism) of every DRIFT007 finding.
fn lost_of(out: &authwarden_api::CheckOutput) -> Vec<(String, Value)> {
    out.findings
        .iter()
        .filter(|f| f.code == "DRIFT007")
        .map(|f| (f.subject.clone(), f.evidence["mechanism"].clone()))
        .collect()
}

#[tokio::test]
async fn authorization_disappeared_since_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(&zone("org"), full_inventory());
    h.data_dir = Some(dir.path().to_path_buf());
    let first = h.run().await;
    assert!(!codes(&first).contains(&"DRIFT007".to_string()));
    let state: Value = authwarden_api::serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("inventory-drift/authorized.json")).unwrap(),
    )
    .unwrap();
    insta::assert_json_snapshot!("state-after-first-run", state);

    // A month later SendGrid's include and key are gone.
    h.zone = zone("org-changed");
    h.now += Duration::days(30);
    let second = h.run().await;
    assert_eq!(
        lost_of(&second),
        [
            ("sendgrid".to_string(), json!("dkim:s1")),
            ("sendgrid".to_string(), json!("include:sendgrid.net"))
        ]
    );
    let restore = &second
        .findings
        .iter()
        .find(|f| f.evidence.get("mechanism") == Some(&json!("include:sendgrid.net")))
        .unwrap()
        .help;
    assert!(
        restore.contains("v=spf1 include:_spf.google.com include:servers.mcsv.net include:spf.unknown-esp.example ip4:192.0.2.0/24 include:sendgrid.net -all"),
        "{restore}"
    );

    // Each lost authorization proposes its restoration.
    let restores: Vec<&Change> = second
        .proposals
        .iter()
        .filter(|p| p.resolves.iter().any(|r| r.code == "DRIFT007"))
        .map(|p| &p.change)
        .collect();
    assert_eq!(
        restores,
        [
            &Change::Outside {
                action: "publish the key SendGrid gives for s1._domainkey.example.org again".into()
            },
            &Change::SpfTerms {
                name: DOMAIN.into(),
                add: vec!["include:sendgrid.net".into()],
                remove: vec![],
                all: None
            }
        ]
    );

    // Nothing fixed: the next job reports it again, with the day it went.
    h.now += Duration::days(30);
    let third = h.run().await;
    assert_eq!(lost_of(&third), lost_of(&second));
    let again = third
        .findings
        .iter()
        .find(|f| f.code == "DRIFT007")
        .unwrap();
    assert_eq!(again.evidence["missing_since"], "2026-12-01");
    assert!(
        again.message.contains("missing since 2026-12-01"),
        "{}",
        again.message
    );

    // DNS restored: resolved, and not reported again after that.
    h.zone = zone("org");
    h.now += Duration::days(30);
    let fourth = h.run().await;
    assert!(!codes(&fourth).contains(&"DRIFT007".to_string()));
    h.now += Duration::days(30);
    assert!(!codes(&h.run().await).contains(&"DRIFT007".to_string()));

    // A sender removed from the inventory lost it on purpose.
    let dir2 = tempfile::tempdir().unwrap();
    let mut h = Harness::new(&zone("org"), full_inventory());
    h.data_dir = Some(dir2.path().to_path_buf());
    h.run().await;
    h.zone = zone("org-changed");
    let mut settings = full_inventory();
    settings["inventory"]["senders"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    h.settings = settings;
    let out = h.run().await;
    assert!(
        !codes(&out).contains(&"DRIFT007".to_string()),
        "{:#?}",
        out.findings
    );
}

#[tokio::test]
async fn an_ad_hoc_check_between_two_jobs_does_not_consume_a_lost_authorization() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(&zone("org"), full_inventory());
    h.data_dir = Some(dir.path().to_path_buf());
    h.run().await;
    let state = dir.path().join("inventory-drift/authorized.json");
    let after_job = std::fs::read_to_string(&state).unwrap();

    // SendGrid's include and key go; an ad-hoc check sees it first...
    h.zone = zone("org-changed");
    h.now += Duration::days(10);
    h.read_only = true;
    let adhoc = h.run().await;
    assert_eq!(lost_of(&adhoc).len(), 2, "{:#?}", adhoc.findings);
    assert_eq!(std::fs::read_to_string(&state).unwrap(), after_job);

    // ...and the next job still reports it, as does the one after.
    h.read_only = false;
    h.now += Duration::days(20);
    let job = h.run().await;
    assert_eq!(lost_of(&job), lost_of(&adhoc));
    h.read_only = true;
    h.now += Duration::days(1);
    assert_eq!(lost_of(&h.run().await), lost_of(&adhoc));
    h.read_only = false;
    h.now += Duration::days(29);
    assert_eq!(lost_of(&h.run().await), lost_of(&adhoc));
}

#[tokio::test]
async fn a_failed_lookup_keeps_the_state_and_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(&zone("org"), full_inventory());
    h.data_dir = Some(dir.path().to_path_buf());
    h.run().await;
    h.fail = vec![(DOMAIN.into(), RecordType::TXT)];
    let out = h.run().await;
    assert_eq!(codes(&out), ["DRIFT009"], "{:#?}", out.findings);
    // The lookup works again: nothing disappeared.
    h.fail.clear();
    let out = h.run().await;
    assert_eq!(codes(&out), ["DRIFT005"], "{:#?}", out.findings);
}

#[tokio::test]
async fn invalid_inventory_and_config_are_findings_with_did_you_mean() {
    let settings = json!({"inventory": {"senders": [
        {"provider": "sendgrd"},
        {"provider": "google-workspace"},
    ]}});
    let mut h = Harness::new(&zone("clean"), settings);
    h.config = json!({"stale_day": 30});
    let out = h.run().await;
    let invalid: Vec<_> = out
        .findings
        .iter()
        .filter(|f| f.code == "DRIFT008")
        .map(|f| (f.subject.clone(), f.evidence.get("suggestion").cloned()))
        .collect();
    assert_eq!(
        invalid,
        [
            ("[checkers.inventory-drift]".to_string(), None),
            (
                "inventory.senders[0].provider".to_string(),
                Some(json!("sendgrid"))
            ),
        ]
    );
    insta::assert_json_snapshot!(snapshot(&out));
}

#[tokio::test]
async fn a_domain_without_inventory_gets_facts_only() {
    let mut h = Harness::new(&zone("org"), json!({}));
    h.rows = Some(history());
    let out = h.run().await;
    assert!(out.findings.is_empty());
    assert_eq!(out.facts.unwrap()["configured"], false);
}

#[test]
fn every_code_is_documented() {
    for code in authwarden_checker_inventory_drift::CODES {
        let docs = code.parsed_docs();
        assert!(
            !docs.summary.is_empty()
                && !docs.what.is_empty()
                && !docs.why.is_empty()
                && !docs.fix.is_empty(),
            "{}",
            code.code
        );
    }
}
