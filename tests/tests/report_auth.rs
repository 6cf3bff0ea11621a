//! Authenticated report intake against Knot: aggregate report mails signed
//! at test time with keys that Knot serves on loopback. A report mailed and
//! DKIM-signed by the reporter it names (reporter.test) is recorded as
//! authenticated; the same kind of report re-signed by an unrelated domain,
//! or sent as that domain, is flagged in the history, by DMARC017 and in
//! the monthly report; with `[ingest] require_authenticated` those two are
//! refused (named with their file and the reason) and the authentic one is
//! kept.

use std::fs;
use std::path::Path;

use authwarden_e2e::{authwarden, write_config};
use authwarden_history::HistoryStore;
use authwarden_test_support::dkim::{rsa_key, rsa_key_record};
use authwarden_test_support::dns::{KnotOptions, KnotServer, ZoneSource};
use base64::Engine as _;
use chrono::{Duration, Utc};
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};
use serde_json::Value;

/// A zone with the DKIM key at `s1._domainkey` and an enforcing DMARC record.
fn zone(public: &str) -> ZoneSource {
    ZoneSource::text(format!(
        "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 127.0.0.1\n\
         _dmarc TXT \"v=DMARC1; p=reject\"\ns1._domainkey TXT {}\n",
        rsa_key_record(public)
    ))
}

/// The last minute of the previous month: a report period that is over
/// (for the monthly job) and within the last 31 days (for DMARC017), but in
/// the last minute of a 31-day month.
fn report_begin() -> chrono::DateTime<Utc> {
    use chrono::{Datelike, TimeZone};
    let now = Utc::now();
    Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .unwrap()
        - Duration::seconds(60)
}

/// An aggregate report by reporter.test about shop.test.
fn report(id: &str) -> String {
    let begin = report_begin().timestamp();
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>reporter.test</org_name>\
         <email>noreply-dmarc@reporter.test</email><report_id>{id}</report_id>\
         <date_range><begin>{begin}</begin><end>{}</end></date_range></report_metadata>\
         <policy_published><domain>shop.test</domain><adkim>r</adkim><aspf>r</aspf><p>none</p>\
         <sp>none</sp><pct>100</pct></policy_published><record><row><source_ip>192.0.2.10</source_ip>\
         <count>42</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim>\
         <spf>pass</spf></policy_evaluated></row><identifiers><header_from>shop.test</header_from>\
         </identifiers><auth_results><dkim><domain>shop.test</domain><result>pass</result></dkim>\
         <spf><domain>shop.test</domain><result>pass</result></spf></auth_results></record></feedback>",
        begin + 86_400
    )
}

/// The report mail from `from`, DKIM-signed for `domain` with `der`.
fn mail(from: &str, id: &str, domain: &str, der: &[u8]) -> String {
    let xml = base64::engine::general_purpose::STANDARD.encode(report(id));
    let body = format!(
        "From: {from}\r\nTo: dmarc@shop.test\r\nSubject: Report domain: shop.test Submitter: reporter.test Report-ID: {id}\r\n\
         Date: Mon, 02 Nov 2026 06:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         An aggregate report.\r\n--b\r\nContent-Type: application/xml; name=\"{id}.xml\"\r\n\
         Content-Disposition: attachment; filename=\"{id}.xml\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{xml}\r\n--b--\r\n"
    );
    let k = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(
        der.to_vec(),
    )))
    .unwrap();
    let sig = DkimSigner::from_key(k)
        .domain(domain)
        .selector("s1")
        .headers(["From", "To", "Subject", "Date", "Content-Type"])
        .sign(body.as_bytes())
        .unwrap()
        .to_header();
    format!("{sig}{body}")
}

struct Setup {
    _dns: KnotServer,
    dir: tempfile::TempDir,
    server: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let (reporter_der, reporter_pub) = rsa_key(dir.path(), "reporter", 2048);
    let (other_der, other_pub) = rsa_key(dir.path(), "other", 2048);
    let shop = ZoneSource::text(
        "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 127.0.0.1\n\
         @ TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n_dmarc TXT \"v=DMARC1; p=none; rua=mailto:dmarc@shop.test\"\n",
    );
    let dns = KnotServer::start(
        &[
            ("reporter.test".to_string(), zone(&reporter_pub)),
            ("unrelated.test".to_string(), zone(&other_pub)),
            ("shop.test".to_string(), shop),
        ],
        &KnotOptions::default(),
    )
    .unwrap();
    let mails = dir.path().join("mail");
    fs::create_dir(&mails).unwrap();
    let from = "DMARC reports <noreply-dmarc@reporter.test>";
    // The reporter's own signature.
    fs::write(
        mails.join("1-authentic.eml"),
        mail(from, "r-authentic", "reporter.test", &reporter_der),
    )
    .unwrap();
    // The same kind of report, its signature made by an unrelated domain.
    fs::write(
        mails.join("2-resigned.eml"),
        mail(from, "r-resigned", "unrelated.test", &other_der),
    )
    .unwrap();
    // Sent and signed as the unrelated domain, naming reporter.test.
    fs::write(
        mails.join("3-other-sender.eml"),
        mail(
            "reports@unrelated.test",
            "r-other",
            "unrelated.test",
            &other_der,
        ),
    )
    .unwrap();
    let server = dns.addr().to_string();
    Setup {
        _dns: dns,
        dir,
        server,
    }
}

fn config(s: &Setup, name: &str, require: bool) -> String {
    let history = s.dir.path().join(name);
    write_config(
        s.dir.path(),
        &format!(
            "reports_dir = \"{}\"\nhistory_dir = \"{}\"\n\n\
             [dns]\nnameservers = [\"{}\"]\ntimeout = \"2s\"\n\n\
             [ingest]\nreverse_dns = false\nrequire_authenticated = {require}\n\n\
             [[domains]]\nname = \"shop.test\"\n",
            s.dir.path().join("reports").display(),
            history.display(),
            s.server,
        ),
    )
}

/// The report_auth of each report id in the history of `dir`.
fn statuses(dir: &Path) -> Vec<(String, String, String)> {
    let store = HistoryStore::new(dir);
    let now = Utc::now();
    let mut rows = store
        .aggregate_rows("shop.test", now - Duration::days(40), now)
        .unwrap();
    rows.sort_by(|a, b| a.report_id.cmp(&b.report_id));
    rows.into_iter()
        .map(|r| {
            (
                r.report_id,
                r.report_auth.unwrap_or_default(),
                r.report_auth_detail.unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn a_report_its_reporter_signed_passes_and_a_resigned_one_is_flagged() {
    let s = setup();
    let config = config(&s, "history", false);
    let mails = s.dir.path().join("mail");
    let run = authwarden(&[
        "ingest",
        "--config",
        &config,
        "--format",
        "json",
        mails.to_str().unwrap(),
    ]);
    assert_eq!(run.code(), 0, "{run}");
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["new"], 3, "{run}");
    assert_eq!(summary["report_auth"]["messages"], 3, "{run}");
    let got = statuses(&s.dir.path().join("history"));
    let ids: Vec<&str> = got.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids, ["r-authentic", "r-other", "r-resigned"]);
    let by_id = |id: &str| got.iter().find(|(i, _, _)| i == id).unwrap().clone();
    let (_, status, detail) = by_id("r-authentic");
    assert_eq!(status, "authenticated", "{detail}");
    assert_eq!(detail, "DKIM pass for reporter.test (s=s1)");
    let (_, status, detail) = by_id("r-resigned");
    assert_eq!(status, "not-authenticated", "{detail}");
    assert!(
        detail.starts_with("reporter.test did not authenticate it: DKIM not aligned")
            && detail.contains("d=unrelated.test"),
        "{detail}"
    );
    let (_, status, detail) = by_id("r-other");
    assert_eq!(status, "not-authenticated", "{detail}");
    assert!(
        detail.starts_with("sent as unrelated.test, but the report names reporter.test"),
        "{detail}"
    );

    // The DMARC check of the domain flags them (DMARC017).
    let run = authwarden(&["check", "--config", &config, "--format", "json"]);
    let out = run.json();
    let flagged: Vec<&Value> = out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "DMARC017")
        .collect();
    assert_eq!(flagged.len(), 1, "{run}");
    let message = flagged[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("2 of the 3 aggregate reports about shop.test"),
        "{message}"
    );

    // The monthly report says so, with each flagged report.
    let period = report_begin().format("%Y-%m").to_string();
    let run = authwarden(&["run", "monthly", "--config", &config, "--period", &period]);
    assert!(matches!(run.code(), 0..=3), "{run}");
    let text = fs::read_to_string(
        s.dir
            .path()
            .join("reports/monthly")
            .join(&period)
            .join("report.txt"),
    )
    .unwrap_or_else(|e| panic!("no report.txt ({e}): {run}"));
    let section = text
        .split("REPORT AUTHENTICITY")
        .nth(1)
        .unwrap_or_else(|| panic!("no authenticity section:\n{text}"));
    let section = section.split("=====").next().unwrap();
    let flat = section.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("1 of 3 reports of the period (3 aggregate) came in mail that the reporter's own domain authenticated (reporter.test)"),
        "{flat}"
    );
    assert!(
        flat.contains(
            "2 reports came in mail that the reporter named in the report did not authenticate"
        ),
        "{flat}"
    );
    assert!(
        flat.contains("aggregate report r-resigned from reporter.test about shop.test"),
        "{flat}"
    );
    assert!(flat.contains("2-resigned.eml"), "{flat}");
}

#[test]
fn require_authenticated_refuses_the_others_and_keeps_the_authentic_one() {
    let s = setup();
    let config = config(&s, "strict", true);
    let mails = s.dir.path().join("mail");
    let run = authwarden(&["ingest", "--config", &config, mails.to_str().unwrap()]);
    assert_eq!(
        run.stdout.lines().next().unwrap_or(""),
        "1 new report (1 rows, 42 messages) appended to ".to_string()
            + s.dir.path().join("strict/aggregate").to_str().unwrap(),
        "{run}"
    );
    assert!(
        run.stdout.contains(
            "report mail: 3 messages checked for the reporter's authentication; 2 reports refused"
        ),
        "{run}"
    );
    for file in ["2-resigned.eml", "3-other-sender.eml"] {
        let line = run
            .stdout
            .lines()
            .find(|l| l.contains("error:") && l.contains(file))
            .unwrap_or_else(|| panic!("no error line for {file}: {run}"));
        assert!(
            line.contains("refused ([ingest] require_authenticated)"),
            "{line}"
        );
    }
    let got = statuses(&s.dir.path().join("strict"));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "r-authentic");
    assert_eq!(got[0].1, "authenticated");
}
