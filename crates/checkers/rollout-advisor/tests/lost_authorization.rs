//! A declared sender's SPF include and DKIM key are removed from DNS while
//! the reports of the window still show its mail passing: the rollout
//! advisor stops proposing the next step and holds, naming the sender, and
//! the inventory-drift checker reports DRIFT007 for the same sender. Both
//! read the same fixture zones, reports and history folder, as in a job.

use std::path::Path;
use std::sync::Arc;

use authwarden_api::plan::{Change, DmarcEditKind};
use authwarden_api::reports::{AggregateRow, AggregateSourceExt, StaticSource};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::{CheckContext, CheckOutput, Checker, DomainTarget, FixedClock, RunPaths};
use authwarden_checker_inventory_drift::InventoryDrift;
use authwarden_checker_rollout_advisor::RolloutAdvisor;
use authwarden_zone::ZoneResolver;
use chrono::{DateTime, Duration, TimeZone, Utc};

const DOMAIN: &str = "rollout.example";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap()
}

fn zone(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let read = |f: &str| {
        let path = dir.join(format!("{f}.zone"));
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    format!("{}\n{}", read(name), read("providers"))
}

fn inventory() -> Value {
    json!({"inventory": {"senders": [
        {"name": "mailhost", "includes": ["_spf.mailhost.example"], "owner": "it", "purpose": "transactional"},
        {"provider": "sendgrid", "owner": "marketing", "purpose": "marketing"},
    ]}})
}

/// A daily row `days_ago` days before `at`, published quarantine pct 50.
fn row(at: DateTime<Utc>, days_ago: i64, ip: &str, count: u64, sendgrid: bool) -> AggregateRow {
    let begin = (at - Duration::days(days_ago)).date_naive();
    let begin = begin.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    AggregateRow {
        org_name: "google.com".into(),
        report_id: format!("{begin}-{ip}"),
        begin,
        end: begin + 86_399,
        domain: DOMAIN.into(),
        p: Some("quarantine".into()),
        pct: Some(50),
        source_ip: ip.into(),
        count,
        header_from: DOMAIN.into(),
        dkim_domains: Some(DOMAIN.into()),
        dkim_selectors: Some(if sendgrid { "s1" } else { "mail" }.into()),
        dkim_results: Some("pass".into()),
        dkim_aligned: true,
        spf_aligned: !sendgrid,
        category: "pass".into(),
        cause: "aligned".into(),
        provider: sendgrid.then(|| "SendGrid".to_string()),
        ..Default::default()
    }
}

/// Four weeks before `at` of clean mail: the mail host, and SendGrid when
/// asked.
fn reports(at: DateTime<Utc>, sendgrid: bool) -> Vec<AggregateRow> {
    (0..28)
        .flat_map(|d| {
            let mut rows = vec![row(at, d, "198.51.100.10", 100, false)];
            if sendgrid {
                rows.push(row(at, d, "167.89.1.1", 50, true));
            }
            rows
        })
        .collect()
}

struct Job {
    zone: String,
    at: DateTime<Utc>,
    data_dir: std::path::PathBuf,
    read_only: bool,
    sendgrid_sends: bool,
    settings: Value,
}

impl Job {
    fn context(&self) -> CheckContext {
        let resolver = ZoneResolver::from_str(&self.zone).expect("zone parses");
        let mut ctx = CheckContext::new(Arc::new(resolver), Arc::new(FixedClock(self.at)));
        ctx.extensions
            .insert(Arc::new(AggregateSourceExt(Arc::new(StaticSource::new(
                reports(self.at, self.sendgrid_sends),
            )))));
        let paths = if self.read_only {
            RunPaths::read_only(self.data_dir.clone())
        } else {
            RunPaths::new(self.data_dir.clone())
        };
        ctx.extensions.insert(Arc::new(paths));
        ctx
    }

    /// The advisor's and the drift checker's output.
    async fn run(&self) -> (CheckOutput, CheckOutput) {
        let ctx = self.context();
        let mut target = DomainTarget::new(DOMAIN);
        target.settings = self.settings.clone();
        (
            RolloutAdvisor.check(&ctx, &target).await,
            InventoryDrift.check(&ctx, &target).await,
        )
    }
}

fn codes(out: &CheckOutput) -> Vec<&str> {
    out.findings.iter().map(|f| f.code.as_str()).collect()
}

/// (subject, mechanism) of the DRIFT007 findings.
fn lost(out: &CheckOutput) -> Vec<(String, Value)> {
    out.findings
        .iter()
        .filter(|f| f.code == "DRIFT007")
        .map(|f| (f.subject.clone(), f.evidence["mechanism"].clone()))
        .collect()
}

fn changes(out: &CheckOutput) -> Vec<&Change> {
    out.proposals.iter().map(|p| &p.change).collect()
}

#[tokio::test]
async fn a_sender_losing_its_authorization_holds_the_rollout_and_is_drift007() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job {
        zone: zone("rollout"),
        at: start(),
        data_dir: dir.path().to_path_buf(),
        read_only: false,
        sendgrid_sends: true,
        settings: inventory(),
    };

    // Both senders authorized, four clean weeks at pct 50: the next step.
    let (advice, drift) = job.run().await;
    assert_eq!(codes(&advice), ["ROLL001"], "{:#?}", advice.findings);
    assert_eq!(
        advice.findings[0].message,
        "ready for the next rollout step: quarantine pct 100 after quarantine pct 50"
    );
    assert_eq!(
        changes(&advice),
        [&Change::DmarcTags {
            name: "_dmarc.rollout.example".into(),
            set: vec![("p".into(), "quarantine".into())],
            remove: vec!["pct".into()],
            kind: DmarcEditKind::Strengthen,
        }]
    );
    assert_eq!(advice.proposals[0].resolves[0].code, "ROLL001");
    assert!(lost(&drift).is_empty(), "{:#?}", drift.findings);

    // A day later SendGrid's include and key are gone; the reports of the
    // window still show its mail passing.
    job.zone = zone("rollout-sendgrid-removed");
    job.at += Duration::days(1);
    let (advice, drift) = job.run().await;
    assert_eq!(codes(&advice), ["ROLL002"], "{:#?}", advice.findings);
    let hold = &advice.findings[0];
    assert!(
        hold.message.contains(
            "sendgrid is declared but DNS no longer authorizes it: include:sendgrid.net is not in the SPF record and no DKIM key is published at s1._domainkey.rollout.example"
        ),
        "{}",
        hold.message
    );
    assert_eq!(hold.evidence["lost_authorization"], json!(["sendgrid"]));
    let facts = advice.facts.as_ref().unwrap();
    assert_eq!(facts["action"], "hold");
    assert_eq!(facts["ready"], false);
    assert_eq!(facts["next_record"], Value::Null);
    assert!(
        !advice.proposals.iter().any(|p| matches!(
            p.change,
            Change::DmarcTags {
                kind: DmarcEditKind::Strengthen,
                ..
            }
        )),
        "{:#?}",
        advice.proposals
    );
    let Change::Hold { name, reasons } = changes(&advice)[0] else {
        panic!("{:#?}", advice.proposals);
    };
    assert_eq!(name, "_dmarc.rollout.example");
    assert!(
        reasons.iter().any(|r| r.starts_with("sendgrid ")),
        "{reasons:?}"
    );
    assert_eq!(
        changes(&advice)[1..],
        [
            &Change::Outside {
                action: "publish the key SendGrid gives for s1._domainkey.rollout.example again"
                    .into()
            },
            &Change::SpfTerms {
                name: DOMAIN.into(),
                add: vec!["include:sendgrid.net".into()],
                remove: vec![],
                all: None
            },
        ]
    );
    for p in &advice.proposals[1..] {
        assert_eq!(p.resolves.len(), 1);
        assert_eq!(p.resolves[0].code, "ROLL002");
    }
    let expected_lost = vec![
        ("sendgrid".to_string(), json!("dkim:s1")),
        ("sendgrid".to_string(), json!("include:sendgrid.net")),
    ];
    assert_eq!(lost(&drift), expected_lost);
    // The drift checker proposes the same two fixes, so the plan shows
    // each once.
    for c in &changes(&advice)[1..] {
        assert!(
            changes(&drift).contains(c),
            "{c:?} not in {:#?}",
            drift.proposals
        );
    }

    // An ad-hoc check, then the next job, nothing fixed: still held, still
    // DRIFT007.
    job.read_only = true;
    job.at += Duration::days(1);
    let (advice, drift) = job.run().await;
    assert_eq!(codes(&advice), ["ROLL002"]);
    assert_eq!(lost(&drift), expected_lost);
    job.read_only = false;
    job.at += Duration::days(6);
    let (advice, drift) = job.run().await;
    assert_eq!(codes(&advice), ["ROLL002"]);
    assert_eq!(lost(&drift), expected_lost);

    // Weeks later SendGrid's mail is out of the window (it stopped sending
    // without its records), DNS still without them: the advisor remembers
    // that DNS authorized it and still holds, as DRIFT007 stays open.
    job.sendgrid_sends = false;
    job.at += Duration::days(30);
    let (advice, drift) = job.run().await;
    assert_eq!(codes(&advice), ["ROLL002"], "{:#?}", advice.findings);
    assert!(
        advice.findings[0]
            .message
            .contains("sendgrid is declared but DNS no longer authorizes it"),
        "{}",
        advice.findings[0].message
    );
    assert_eq!(lost(&drift), expected_lost);
    // Removed from the inventory: on purpose, neither holds any more.
    let mut without = inventory();
    without["inventory"]["senders"]
        .as_array_mut()
        .unwrap()
        .remove(1);
    let kept = std::mem::replace(&mut job.settings, without);
    job.read_only = true;
    let (advice, drift) = job.run().await;
    assert_advances(&advice);
    assert!(lost(&drift).is_empty(), "{:#?}", drift.findings);
    job.settings = kept;
    job.read_only = false;
    job.sendgrid_sends = true;

    // DNS restored: the step is proposed again and DRIFT007 is gone.
    job.zone = zone("rollout");
    job.at += Duration::days(7);
    let (advice, drift) = job.run().await;
    assert_advances(&advice);
    assert!(lost(&drift).is_empty(), "{:#?}", drift.findings);
}

/// Ready for quarantine pct 100 (ROLL003 by now: weeks in the phase), the
/// step proposed.
fn assert_advances(advice: &CheckOutput) {
    assert_eq!(codes(advice), ["ROLL003"], "{:#?}", advice.findings);
    assert_eq!(advice.facts.as_ref().unwrap()["action"], "advance");
    assert!(
        matches!(
            changes(advice)[..],
            [Change::DmarcTags {
                kind: DmarcEditKind::Strengthen,
                ..
            }]
        ),
        "{:#?}",
        advice.proposals
    );
}
