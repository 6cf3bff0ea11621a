//! Sender-inventory drift and the rollout advisor end to end: generated
//! DMARC aggregate reports (100 days of daily XML) go into the history with
//! `authwarden ingest`, then `authwarden check --format json` runs against
//! Knot DNS serving this test's own zones, and the `inventory` and `rollout`
//! objects of the JSON contract are asserted.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use authwarden_e2e::{authwarden, domain_report, write_config};
use authwarden_test_support::dns::{KnotOptions, KnotServer, ZoneSource};
use serde_json::Value;

const DAY: u64 = 86_400;

/// The zones: two domains and the providers' SPF records they include.
fn zones() -> Vec<(&'static str, ZoneSource)> {
    let soa = |origin: &str| {
        format!("$TTL 300\n@ SOA ns1.{origin}. hostmaster.{origin}. 1 7200 3600 1209600 300\n@ NS ns1.{origin}.\nns1 A 127.0.0.1\n")
    };
    vec![
        (
            "drift.test.",
            ZoneSource::text(format!(
                "{}@ TXT \"v=spf1 include:_spf.google.com include:servers.mcsv.net -all\"\n\
                 _dmarc TXT \"v=DMARC1; p=none; rua=mailto:d@drift.test\"\n\
                 google._domainkey TXT \"v=DKIM1; k=rsa; p=MIIBCgKCAQEAsynthetic\"\n",
                soa("drift.test")
            )),
        ),
        (
            "ready.test.",
            ZoneSource::text(format!(
                "{}@ TXT \"v=spf1 include:_spf.google.com -all\"\n\
                 _dmarc TXT \"v=DMARC1; p=none; rua=mailto:d@ready.test\"\n\
                 google._domainkey TXT \"v=DKIM1; k=rsa; p=MIIBCgKCAQEAsynthetic\"\n",
                soa("ready.test")
            )),
        ),
        (
            "google.com.",
            ZoneSource::text(format!(
                "{}_spf TXT \"v=spf1 ip4:209.85.128.0/17 ~all\"\n",
                soa("google.com")
            )),
        ),
        (
            "mcsv.net.",
            ZoneSource::text(format!(
                "{}servers TXT \"v=spf1 ip4:205.201.128.0/20 ~all\"\n",
                soa("mcsv.net")
            )),
        ),
    ]
}

/// One `<record>` of a report.
struct Rec<'a> {
    ip: &'a str,
    count: u64,
    envelope: &'a str,
    dkim: Option<(&'a str, &'a str, &'a str)>,
    spf: (&'a str, &'a str),
}

fn record(domain: &str, r: &Rec<'_>) -> String {
    let dkim_pass = r
        .dkim
        .is_some_and(|(d, _, res)| res == "pass" && d.ends_with(domain));
    let spf_pass = r.spf.1 == "pass" && r.spf.0.ends_with(domain);
    let verdict = |b: bool| if b { "pass" } else { "fail" };
    let dkim = r
        .dkim
        .map(|(d, s, res)| {
            format!(
                "<dkim><domain>{d}</domain><selector>{s}</selector><result>{res}</result></dkim>"
            )
        })
        .unwrap_or_default();
    format!(
        "<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>\
         <disposition>none</disposition><dkim>{dv}</dkim><spf>{sv}</spf></policy_evaluated></row>\
         <identifiers><header_from>{domain}</header_from><envelope_from>{env}</envelope_from></identifiers>\
         <auth_results>{dkim}<spf><domain>{sd}</domain><result>{sr}</result></spf></auth_results></record>",
        ip = r.ip,
        count = r.count,
        dv = verdict(dkim_pass),
        sv = verdict(spf_pass),
        env = r.envelope,
        sd = r.spf.0,
        sr = r.spf.1,
    )
}

/// Writes one report per domain and day for the last 100 days.
fn write_reports(dir: &Path, today: u64) {
    for days_ago in 1..=100u64 {
        let begin = today - days_ago * DAY;
        for domain in ["drift.test", "ready.test"] {
            let mut records = vec![
                // Google Workspace, aligned.
                Rec {
                    ip: "209.85.130.10",
                    count: 100,
                    envelope: domain,
                    dkim: Some((domain, "google", "pass")),
                    spf: (domain, "pass"),
                },
                // A spoofer.
                Rec {
                    ip: "185.220.101.1",
                    count: 5,
                    envelope: domain,
                    dkim: None,
                    spf: (domain, "fail"),
                },
            ];
            if domain == "drift.test" && days_ago <= 20 {
                // SendGrid appeared 20 days ago: its own envelope and
                // signature, so nothing aligns.
                records.push(Rec {
                    ip: "167.89.1.1",
                    count: 30,
                    envelope: "bounces.sendgrid.net",
                    dkim: Some(("sendgrid.net", "s1", "pass")),
                    spf: ("bounces.sendgrid.net", "pass"),
                });
            }
            let body: String = records.iter().map(|r| record(domain, r)).collect();
            let xml = format!(
                "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>google.com</org_name>\
                 <email>noreply-dmarc-support@google.com</email><report_id>{domain}-{begin}</report_id>\
                 <date_range><begin>{begin}</begin><end>{end}</end></date_range></report_metadata>\
                 <policy_published><domain>{domain}</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>\
                 <sp>none</sp><pct>100</pct></policy_published>{body}</feedback>",
                end = begin + DAY - 1
            );
            fs::write(dir.join(format!("{domain}-{days_ago}.xml")), xml).unwrap();
        }
    }
}

fn drift_kinds(inventory: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = inventory["drift"]
        .as_array()
        .expect("`drift` is an array")
        .iter()
        .map(|d| {
            assert!(d["action"].as_str().is_some_and(|a| !a.is_empty()), "{d}");
            (
                d["kind"].as_str().unwrap().to_string(),
                d["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn ingested_reports_drive_drift_and_rollout_advice() {
    let dns = KnotServer::start(&zones(), &KnotOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the test DNS server: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let reports = dir.path().join("incoming");
    fs::create_dir(&reports).unwrap();
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / DAY
        * DAY;
    write_reports(&reports, today);
    // The inventory is read from [domains.inventory]; the config accepts
    // domain tables named after checkers only, so it is written under the
    // drift checker's id, which both checkers read too.
    let config = write_config(
        dir.path(),
        &format!(
            "history_dir = \"{data}\"\n\
             reports_dir = \"{reports}\"\n\
             [dns]\nnameservers = [\"{ns}\"]\n\
             [[domains]]\nname = \"drift.test\"\n\
             [domains.inventory-drift]\nsenders = [\n\
               {{ provider = \"google-workspace\", owner = \"it\", purpose = \"internal\" }},\n\
               {{ provider = \"sendgrid\", owner = \"dev\", purpose = \"transactional\" }},\n\
               {{ provider = \"mailchimp\", owner = \"marketing\", purpose = \"marketing\" }},\n\
             ]\n\
             [[domains]]\nname = \"ready.test\"\n\
             [domains.inventory-drift]\nsenders = [{{ provider = \"google-workspace\" }}]\n",
            data = dir.path().join("data").display(),
            reports = dir.path().join("reports").display(),
            ns = dns.addr(),
        ),
    );
    let config = config.as_str();

    let ingest = authwarden(&[
        "ingest",
        reports.to_str().unwrap(),
        "--config",
        config,
        "--format",
        "json",
    ]);
    assert_eq!(ingest.code(), 0, "{ingest}");
    assert_eq!(ingest.json()["new"], 200, "{ingest}");

    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--config",
            config,
            "--format",
            "json",
            "--checker",
            "inventory-drift",
            "--checker",
            "rollout-advisor",
        ];
        args.extend_from_slice(extra);
        authwarden(&args)
    };
    let run = check(&[]);
    let out = run.json();

    // drift.test: SendGrid sends without SPF or aligned DKIM, Mailchimp is
    // authorized but silent, a spoofer fails.
    let drift = domain_report(&out, "drift.test");
    let inventory = &drift["inventory"];
    assert_eq!(
        drift_kinds(inventory),
        [
            ("missing-dkim".to_string(), "sendgrid".to_string()),
            ("missing-from-spf".to_string(), "sendgrid".to_string()),
            ("spoofing".to_string(), "drift.test".to_string()),
            ("stale".to_string(), "mailchimp".to_string()),
        ],
        "{run}"
    );
    assert_eq!(inventory["declared"].as_array().unwrap().len(), 3);
    let spf: Vec<&str> = inventory["authorized_by_spf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["mechanism"].as_str().unwrap())
        .collect();
    assert_eq!(spf, ["include:_spf.google.com", "include:servers.mcsv.net"]);
    let seen: Vec<&str> = inventory["seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        seen,
        ["google-workspace", "sendgrid", "unknown"],
        "{inventory:#}"
    );
    let missing = out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "DRIFT003")
        .expect("DRIFT003");
    assert_eq!(
        missing["evidence"]["suggested_record"],
        "v=spf1 include:_spf.google.com include:servers.mcsv.net include:sendgrid.net -all"
    );

    // drift.test holds: SendGrid's mail fails DMARC.
    let rollout = &drift["rollout"];
    assert_eq!(rollout["phase"], "none");
    assert_eq!(rollout["pct"], 100);
    assert_eq!(rollout["testing"], false);
    assert_eq!(rollout["ready"], false, "{rollout:#}");
    assert_eq!(rollout["next_record"], Value::Null);
    let rate = rollout["pass_rate"].as_f64().unwrap();
    assert!((0.0..0.98).contains(&rate), "{rate}");
    assert!(
        rollout["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with("sendgrid still fails DMARC")),
        "{rollout:#}"
    );

    // ready.test: only aligned legitimate mail for 14 weeks at p=none:
    // ready, and stalled past 8 weeks; the record to publish is given.
    let ready = domain_report(&out, "ready.test");
    assert_eq!(
        drift_kinds(&ready["inventory"]),
        [("spoofing".to_string(), "ready.test".to_string())]
    );
    let rollout = &ready["rollout"];
    assert_eq!(rollout["ready"], true, "{rollout:#}");
    assert_eq!(rollout["pass_rate"], 1.0);
    assert_eq!(
        rollout["next_record"],
        "v=DMARC1; p=quarantine; pct=10; rua=mailto:d@ready.test"
    );
    let codes: Vec<&str> = out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["domain"] == "ready.test" && f["checker"] == "rollout-advisor")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["ROLL003"], "{run}");

    // An ad-hoc check reads the checkers' state but writes none; a job
    // writes it to the history folder.
    assert!(!dir
        .path()
        .join("data/inventory-drift/authorized.json")
        .exists());
    assert!(!dir.path().join("data/rollout-advisor/phases.json").exists());
    let job = authwarden(&["run", "monthly", "--config", config]);
    assert!(
        dir.path()
            .join("data/inventory-drift/authorized.json")
            .is_file(),
        "{job}"
    );
    let phases: Value = serde_json::from_str(
        &fs::read_to_string(dir.path().join("data/rollout-advisor/phases.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(phases["domains"]["ready.test"][0]["policy"], "none");
}

#[test]
fn without_ingested_reports_the_report_based_kinds_are_skipped() {
    let dns = KnotServer::start(&zones(), &KnotOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the test DNS server: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "history_dir = \"{}\"\n[[domains]]\nname = \"drift.test\"\n\
             [domains.inventory-drift]\nsenders = [{{ provider = \"google-workspace\" }}]\n",
            dir.path().join("data").display()
        ),
    );
    let ns = dns.addr().to_string();
    let run = authwarden(&[
        "check",
        "--config",
        &config,
        "--nameserver",
        &ns,
        "--format",
        "json",
        "--checker",
        "inventory-drift",
        "--checker",
        "rollout-advisor",
    ]);
    let out = run.json();
    let d = domain_report(&out, "drift.test");
    // Mailchimp's include is documented by nobody: a DNS-only kind.
    assert_eq!(
        drift_kinds(&d["inventory"]),
        [(
            "unexplained-include".to_string(),
            "include:servers.mcsv.net".to_string()
        )],
        "{run}"
    );
    let skipped: Vec<&str> = d["inventory"]["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        [
            "new-sender",
            "stale",
            "missing-from-spf",
            "missing-dkim",
            "spoofing"
        ]
    );
    assert_eq!(d["rollout"]["ready"], false);
    assert_eq!(d["rollout"]["pass_rate"], Value::Null);
    assert!(out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["checker"] != "rollout-advisor"));
}
