//! Every advice of the rollout advisor against synthetic report history
//! (StaticSource) and zones (ZoneResolver) at a fixed clock: advance, hold,
//! stall, done, unknown, exactly when due.

use std::sync::Arc;

use authwarden_api::plan::{Change, DmarcEditKind};
use authwarden_api::reports::{AggregateRow, AggregateSourceExt, StaticSource};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    CheckContext, CheckOutput, Checker, DnsFailure, DomainTarget, FixedClock, RecordType, RunPaths,
};
use authwarden_checker_rollout_advisor::RolloutAdvisor;
use authwarden_zone::ZoneResolver;
use chrono::{DateTime, Duration, TimeZone, Utc};

const DOMAIN: &str = "example.org";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap()
}

/// A daily row, `days_ago` days before `at`, from `ip`, published `p`/`pct`.
#[allow(clippy::too_many_arguments)]
fn row(
    at: DateTime<Utc>,
    days_ago: i64,
    ip: &str,
    count: u64,
    aligned: bool,
    provider: Option<&str>,
    p: &str,
    pct: Option<u8>,
) -> AggregateRow {
    let begin = (at - Duration::days(days_ago)).date_naive();
    let begin = begin.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    AggregateRow {
        org_name: "google.com".into(),
        report_id: format!("{begin}-{ip}"),
        begin,
        end: begin + 86_399,
        domain: DOMAIN.into(),
        p: Some(p.into()),
        pct,
        source_ip: ip.into(),
        count,
        header_from: DOMAIN.into(),
        dkim_aligned: aligned,
        spf_aligned: aligned,
        category: if aligned { "pass" } else { "fail" }.into(),
        cause: if aligned {
            "aligned"
        } else if provider.is_some() {
            "known-service-missing-dkim"
        } else {
            "unknown-source"
        }
        .into(),
        provider: provider.map(str::to_string),
        ..Default::default()
    }
}

/// `weeks` weeks of Google Workspace mail (aligned, 100 a day) and spoofing
/// (10 a day), published `p`/`pct`; plus Mailgun failing 10 a day when asked.
fn history(
    at: DateTime<Utc>,
    weeks: i64,
    p: &str,
    pct: Option<u8>,
    mailgun_failing: bool,
) -> Vec<AggregateRow> {
    let mut rows = Vec::new();
    for d in 0..weeks * 7 {
        rows.push(row(at, d, "209.85.130.10", 100, true, None, p, pct));
        rows.push(row(at, d, "185.220.101.1", 10, false, None, p, pct));
        if mailgun_failing {
            rows.push(row(
                at,
                d,
                "198.51.100.20",
                10,
                false,
                Some("Mailgun"),
                p,
                pct,
            ));
        }
    }
    rows
}

fn zone(dmarc: &str) -> String {
    format!(
        "$ORIGIN example.org.\n@ TXT \"v=spf1 include:_spf.google.com -all\"\n_dmarc TXT \"{dmarc}\"\n\
         $ORIGIN google.com.\n_spf TXT \"v=spf1 ip4:209.85.128.0/17 ~all\"\n"
    )
}

fn inventory() -> Value {
    json!({"inventory": {"senders": [
        {"provider": "google-workspace", "owner": "it", "purpose": "internal"},
        {"provider": "mailgun", "owner": "dev", "purpose": "transactional"},
    ]}})
}

struct Run {
    zone: String,
    rows: Option<Vec<AggregateRow>>,
    settings: Value,
    config: Value,
    data_dir: Option<std::path::PathBuf>,
    at: DateTime<Utc>,
    fail: bool,
}

impl Run {
    fn new(dmarc: &str, rows: Option<Vec<AggregateRow>>) -> Run {
        Run {
            zone: zone(dmarc),
            rows,
            settings: inventory(),
            config: json!({}),
            data_dir: None,
            at: now(),
            fail: false,
        }
    }

    async fn go(&self) -> CheckOutput {
        let mut resolver = ZoneResolver::from_str(&self.zone).unwrap();
        if self.fail {
            resolver = resolver.fail(
                "_dmarc.example.org",
                Some(RecordType::TXT),
                DnsFailure::Timeout,
            );
        }
        let mut ctx = CheckContext::new(Arc::new(resolver), Arc::new(FixedClock(self.at)))
            .with_config(self.config.clone());
        if let Some(rows) = &self.rows {
            ctx.extensions
                .insert(Arc::new(AggregateSourceExt(Arc::new(StaticSource::new(
                    rows.clone(),
                )))));
        }
        if let Some(dir) = &self.data_dir {
            ctx.extensions.insert(Arc::new(RunPaths::new(dir.clone())));
        }
        let mut target = DomainTarget::new(DOMAIN);
        target.settings = self.settings.clone();
        RolloutAdvisor.check(&ctx, &target).await
    }
}

fn facts(out: &CheckOutput) -> &Value {
    out.facts.as_ref().unwrap()
}

fn codes(out: &CheckOutput) -> Vec<&str> {
    out.findings.iter().map(|f| f.code.as_str()).collect()
}

fn snapshot(out: &CheckOutput) -> Value {
    json!({"findings": out.findings, "facts": out.facts})
}

#[tokio::test]
async fn monitoring_long_enough_and_clean_advances_to_quarantine_10() {
    let out = Run::new(
        "v=DMARC1; p=none; rua=mailto:d@example.org",
        Some(history(now(), 6, "none", None, false)),
    )
    .go()
    .await;
    assert_eq!(codes(&out), ["ROLL001"]);
    let f = facts(&out);
    assert_eq!(f["phase"], "none");
    assert_eq!(f["ready"], true);
    assert_eq!(f["pass_rate"], 1.0);
    assert_eq!(
        f["weeks_in_phase"], 5,
        "backfilled from the reports: 41 days"
    );
    assert_eq!(
        f["next_record"],
        "v=DMARC1; p=quarantine; pct=10; rua=mailto:d@example.org"
    );
    // The step as tag edits of the record, resolving the finding.
    assert_eq!(out.proposals.len(), 1);
    assert_eq!(
        out.proposals[0].change,
        Change::DmarcTags {
            name: "_dmarc.example.org".into(),
            set: vec![
                ("p".into(), "quarantine".into()),
                ("pct".into(), "10".into())
            ],
            remove: vec![],
            kind: DmarcEditKind::Strengthen,
        }
    );
    assert_eq!(out.proposals[0].resolves[0].code, "ROLL001");
    insta::assert_json_snapshot!(snapshot(&out));
}

#[tokio::test]
async fn monitoring_too_short_holds() {
    let out = Run::new(
        "v=DMARC1; p=none; rua=mailto:d@example.org",
        Some(history(now(), 3, "none", None, false)),
    )
    .go()
    .await;
    assert_eq!(codes(&out), ["ROLL002"]);
    let f = facts(&out);
    assert_eq!(f["ready"], true);
    assert_eq!(f["next_record"], Value::Null);
    assert_eq!(f["action"], "hold");
    assert_eq!(f["reasons"], json!(["2 weeks at none, at least 4 needed"]));
}

#[tokio::test]
async fn a_failing_legitimate_source_holds_with_the_reason() {
    let out = Run::new(
        "v=DMARC1; p=quarantine; pct=10; rua=mailto:d@example.org",
        Some(history(now(), 8, "quarantine", Some(10), true)),
    )
    .go()
    .await;
    assert_eq!(codes(&out), ["ROLL002"]);
    let f = facts(&out);
    assert_eq!(f["ready"], false);
    assert_eq!(f["pass_rate"], 100.0 / 110.0);
    assert_eq!(
        f["failing_sources"],
        json!([{"source": "mailgun", "messages": 280, "failing": 280}])
    );
    // A hold with its reasons, and what fixes Mailgun: DKIM at the
    // provider (outside DNS) and its documented SPF include.
    let changes: Vec<&Change> = out.proposals.iter().map(|p| &p.change).collect();
    assert_eq!(
        changes,
        [
            &Change::Hold {
                name: "_dmarc.example.org".into(),
                reasons: vec![
                    "aligned pass rate of legitimate mail is 90.9%, below 98.0%".into(),
                    "mailgun still fails DMARC for 280 of 280 messages: configure DKIM signing with d=example.org at Mailgun (see the inventory-drift findings)".into(),
                ],
            },
            &Change::Outside {
                action: "configure DKIM signing with d=example.org at Mailgun".into()
            },
            &Change::SpfTerms {
                name: DOMAIN.into(),
                add: vec!["include:mailgun.org".into()],
                remove: vec![],
                all: None
            },
        ]
    );
    assert!(out.proposals[0].resolves.is_empty());
    for p in &out.proposals[1..] {
        assert_eq!(p.resolves.len(), 1);
        assert_eq!(p.resolves[0].code, "ROLL002");
    }
    insta::assert_json_snapshot!(snapshot(&out));
}

#[tokio::test]
async fn the_threshold_is_configurable() {
    let mut run = Run::new(
        "v=DMARC1; p=quarantine; pct=10",
        Some(history(now(), 8, "quarantine", Some(10), true)),
    );
    run.config = json!({"pass_rate": 0.9});
    let out = run.go().await;
    assert_eq!(codes(&out), ["ROLL001"]);
    assert_eq!(facts(&out)["next_record"], "v=DMARC1; p=quarantine; pct=25");
    run.config = json!({"pass_rate": 98});
    let out = run.go().await;
    assert!(codes(&out).contains(&"ROLL005"), "{:#?}", out.findings);
}

#[tokio::test]
async fn ready_for_long_is_a_stall() {
    let out = Run::new(
        "v=DMARC1; p=quarantine; pct=25",
        Some(history(now(), 12, "quarantine", Some(25), false)),
    )
    .go()
    .await;
    assert_eq!(codes(&out), ["ROLL003"]);
    assert_eq!(facts(&out)["next_record"], "v=DMARC1; p=quarantine; pct=50");
    insta::assert_json_snapshot!(snapshot(&out));
}

#[tokio::test]
async fn the_ramp_through_quarantine_100_reject_10_and_testing() {
    let cases = [
        (
            "v=DMARC1; p=quarantine; pct=50",
            "quarantine",
            Some(50),
            "v=DMARC1; p=quarantine",
        ),
        (
            "v=DMARC1; p=quarantine",
            "quarantine",
            None,
            "v=DMARC1; p=reject; pct=10",
        ),
        (
            "v=DMARC1; p=reject; pct=10",
            "reject",
            Some(10),
            "v=DMARC1; p=reject",
        ),
        (
            "v=DMARC1; p=quarantine; t=y",
            "quarantine",
            None,
            "v=DMARC1; p=quarantine",
        ),
        (
            "v=DMARC1; p=reject; t=y",
            "reject",
            None,
            "v=DMARC1; p=reject",
        ),
    ];
    for (record, p, pct, next) in cases {
        let out = Run::new(record, Some(history(now(), 4, p, pct, false)))
            .go()
            .await;
        assert_eq!(codes(&out), ["ROLL001"], "{record}");
        assert_eq!(facts(&out)["next_record"], next, "{record}");
        let Change::DmarcTags {
            set, remove, kind, ..
        } = &out.proposals[0].change
        else {
            panic!("{record}: {:#?}", out.proposals);
        };
        assert_eq!(*kind, DmarcEditKind::Strengthen, "{record}");
        // The proposed tags make the same record as next_record.
        let mut edited: Vec<(String, String)> = record
            .split("; ")
            .skip(1)
            .filter_map(|t| t.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .filter(|(k, _)| !remove.contains(k))
            .collect();
        for (k, v) in set {
            match edited.iter_mut().find(|(t, _)| t == k) {
                Some(slot) => slot.1 = v.clone(),
                None => edited.push((k.clone(), v.clone())),
            }
        }
        let text: Vec<String> = edited.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(format!("v=DMARC1; {}", text.join("; ")), next, "{record}");
    }
}

#[tokio::test]
async fn reject_100_is_done_without_findings() {
    let out = Run::new(
        "v=DMARC1; p=reject",
        Some(history(now(), 6, "reject", None, false)),
    )
    .go()
    .await;
    assert!(out.findings.is_empty());
    assert_eq!(facts(&out)["action"], "done");
    assert!(out.proposals.is_empty());
    assert_eq!(facts(&out)["next_record"], Value::Null);
}

#[tokio::test]
async fn without_reports_no_advice_and_no_findings() {
    let out = Run::new("v=DMARC1; p=none", None).go().await;
    assert!(out.findings.is_empty());
    let f = facts(&out);
    assert_eq!(f["ready"], false);
    assert_eq!(f["pass_rate"], Value::Null);
    assert!(f["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("no aggregate reports"));
    insta::assert_json_snapshot!(snapshot(&out));
}

#[tokio::test]
async fn a_dns_failure_is_incomplete_and_a_missing_record_is_unknown() {
    let mut run = Run::new("v=DMARC1; p=none", None);
    run.fail = true;
    let out = run.go().await;
    assert_eq!(codes(&out), ["ROLL004"]);
    assert_eq!(facts(&out)["phase"], Value::Null);
    let mut run = Run::new("v=DMARC1; p=none", None);
    run.zone = "$ORIGIN example.org.\n@ TXT \"v=spf1 -all\"\n".into();
    let out = run.go().await;
    assert!(out.findings.is_empty());
    assert_eq!(facts(&out)["action"], "unknown");
}

#[tokio::test]
async fn the_phase_history_records_changes_with_dates() {
    let dir = tempfile::tempdir().unwrap();
    // First run: p=none, monitored for six weeks per the reports.
    let mut run = Run::new(
        "v=DMARC1; p=none",
        Some(history(now(), 6, "none", None, false)),
    );
    run.data_dir = Some(dir.path().to_path_buf());
    let out = run.go().await;
    assert_eq!(facts(&out)["since"], "2026-09-21");
    // Five weeks later the domain moved to quarantine pct=10 a week ago.
    let later = now() + Duration::days(35);
    run.at = later;
    run.zone = zone("v=DMARC1; p=quarantine; pct=10");
    let mut rows = history(later, 1, "quarantine", Some(10), false);
    rows.extend(history(now(), 6, "none", None, false));
    run.rows = Some(rows);
    let out = run.go().await;
    let f = facts(&out);
    assert_eq!(f["weeks_in_phase"], 0);
    assert_eq!(f["action"], "hold");
    assert_eq!(
        f["phases"],
        json!([
            {"phase": "none", "pct": 100, "testing": false, "since": "2026-09-21"},
            {"phase": "quarantine", "pct": 10, "testing": false, "since": "2026-12-06"},
        ])
    );
    // Two more weeks: ready for pct=25.
    run.at = later + Duration::days(14);
    let out = run.go().await;
    assert_eq!(codes(&out), ["ROLL001"]);
    assert_eq!(facts(&out)["next_record"], "v=DMARC1; p=quarantine; pct=25");
    let file: Value = authwarden_api::serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("rollout-advisor/phases.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(file["domains"]["example.org"].as_array().unwrap().len(), 2);
}

#[test]
fn every_code_is_documented() {
    for code in authwarden_checker_rollout_advisor::CODES {
        let d = code.parsed_docs();
        assert!(
            !d.summary.is_empty() && !d.what.is_empty() && !d.why.is_empty() && !d.fix.is_empty(),
            "{}",
            code.code
        );
    }
}
