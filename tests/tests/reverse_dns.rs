//! Reverse DNS of report sources end to end: the real binary against Knot
//! serving the reverse zones of `tests/fixtures/rdns/`. A source that fails
//! SPF and DKIM for the customer's own domain is unknown by its
//! `auth_results` alone; its PTR name (`o1.ptr1234.sendgrid.net`) makes it
//! SendGrid, a known service missing from SPF. The answers are cached in
//! the history, so a second ingest asks only for what failed before.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use authwarden_e2e::{authwarden, fixtures_dir, imap_table, start_dns_in, write_config};
use authwarden_history::HistoryStore;
use authwarden_test_support::dns::KnotServer;
use authwarden_test_support::imap::{ImapOptions, ImapServer};
use authwarden_test_support::mail::mail_7bit;
use serde_json::{json, Value};

/// Configured without a zone file: Knot answers SERVFAIL for every name.
const SERVFAIL_ZONE: &str = "100.51.198.in-addr.arpa.";

fn start_dns() -> KnotServer {
    start_dns_in(&fixtures_dir("rdns"), &[SERVFAIL_ZONE])
}

/// One record of example.com mail that fails SPF for example.com and has
/// no passing DKIM signature.
fn record(ip: &str, count: u32) -> String {
    format!(
        "<record><row><source_ip>{ip}</source_ip><count>{count}</count>\
         <policy_evaluated><disposition>reject</disposition><dkim>fail</dkim><spf>fail</spf>\
         </policy_evaluated></row>\
         <identifiers><envelope_from>example.com</envelope_from>\
         <header_from>example.com</header_from></identifiers>\
         <auth_results><dkim><domain>example.com</domain><selector>s1</selector>\
         <result>fail</result></dkim>\
         <spf><domain>example.com</domain><scope>mfrom</scope><result>fail</result></spf>\
         </auth_results></record>"
    )
}

fn write_report(dir: &Path, id: &str, records: &[(&str, u32)]) -> PathBuf {
    let records: String = records.iter().map(|(ip, n)| record(ip, *n)).collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\
         <report_metadata><org_name>rdns.example</org_name>\
         <email>dmarc@rdns.example</email><report_id>{id}</report_id>\
         <date_range><begin>1704067200</begin><end>1704153599</end></date_range>\
         </report_metadata>\
         <policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf>\
         <p>reject</p><sp>reject</sp><pct>100</pct></policy_published>\
         {records}</feedback>\n"
    );
    let path = dir.join(format!("{id}.xml"));
    fs::write(&path, xml).unwrap();
    path
}

/// The first report: a SendGrid host twice, a Mailgun host over IPv6, an
/// IP without a PTR name and one whose reverse zone answers SERVFAIL.
const FIRST: &[(&str, u32)] = &[
    ("192.0.2.10", 12),
    ("192.0.2.10", 4),
    ("2001:db8::25", 5),
    ("192.0.2.30", 3),
    ("198.51.100.7", 2),
];

/// The second report: the same hosts again.
const SECOND: &[(&str, u32)] = &[("192.0.2.10", 7), ("192.0.2.30", 1), ("198.51.100.7", 1)];

/// The history in `dir/data`, reverse DNS from `dns`.
fn base_config(dir: &Path, dns: &KnotServer) -> String {
    format!(
        "history_dir = {:?}\n[dns]\nnameservers = [\"{}\"]\ntimeout = \"5s\"\n",
        dir.join("data").display().to_string(),
        dns.addr()
    )
}

fn ingest(config: &str, report: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--config", config, "ingest", "--format", "json"];
    args.extend_from_slice(extra);
    args.push(report.to_str().unwrap());
    let run = authwarden(&args);
    assert_eq!(run.code(), 0, "{run}");
    run.json()
}

/// The (cause, provider) of a row.
type Class = (String, Option<String>);

/// (report_id, source_ip) -> the classes of its rows.
type Rows = BTreeMap<(String, String), Vec<Class>>;

fn history(data: &Path) -> Rows {
    let frame = HistoryStore::new(data).load_aggregate().unwrap();
    let text = |name: &str| {
        frame
            .column(name)
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect::<Vec<_>>()
    };
    let (ids, ips, causes, providers) = (
        text("report_id"),
        text("source_ip"),
        text("cause"),
        text("provider"),
    );
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for i in 0..ids.len() {
        out.entry((ids[i].clone().unwrap(), ips[i].clone().unwrap()))
            .or_default()
            .push((causes[i].clone().unwrap(), providers[i].clone()));
    }
    out
}

fn classes(rows: &Rows, id: &str, ip: &str) -> Vec<Class> {
    rows.get(&(id.to_string(), ip.to_string()))
        .unwrap_or_else(|| panic!("no row of {ip} in {id}: {rows:?}"))
        .clone()
}

fn known(provider: &str) -> Class {
    (
        "known-service-missing-spf".to_string(),
        Some(provider.to_string()),
    )
}

fn unknown() -> Class {
    ("unknown-source".to_string(), None)
}

#[test]
fn ptr_names_classify_sources_and_are_cached_across_ingests() {
    let dns = start_dns();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &base_config(tmp.path(), &dns));
    let data = tmp.path().join("data");
    let first = write_report(tmp.path(), "rdns-1", FIRST);
    let second = write_report(tmp.path(), "rdns-2", SECOND);

    let run = ingest(&config, &first, &[]);
    assert_eq!(run["new"], 1, "{run}");
    // Four distinct IPs asked once each: two names, one NXDOMAIN, one SERVFAIL.
    assert_eq!(
        run["reverse_dns"],
        json!({"cached": 0, "queried": 4, "found": 2, "failed": 1}),
        "{run}"
    );
    let rows = history(&data);
    assert_eq!(
        classes(&rows, "rdns-1", "192.0.2.10"),
        [known("SendGrid"), known("SendGrid")]
    );
    assert_eq!(classes(&rows, "rdns-1", "2001:db8::25"), [known("Mailgun")]);
    assert_eq!(classes(&rows, "rdns-1", "192.0.2.30"), [unknown()]);
    assert_eq!(classes(&rows, "rdns-1", "198.51.100.7"), [unknown()]);

    let cache_file = data.join("aggregate/ptr-cache.json");
    let cache: Value = serde_json::from_slice(&fs::read(&cache_file).unwrap()).unwrap();
    let entries = &cache["entries"];
    assert_eq!(entries["192.0.2.10"]["name"], "o1.ptr1234.sendgrid.net");
    assert_eq!(entries["2001:db8::25"]["name"], "smtp-out25.mailgun.net");
    assert_eq!(entries["192.0.2.30"]["name"], Value::Null);
    assert!(
        entries.get("198.51.100.7").is_none(),
        "a failure is not cached: {cache}"
    );

    // The same hosts again: the cache answers, only the failure is asked again.
    let run = ingest(&config, &second, &[]);
    assert_eq!(run["new"], 1, "{run}");
    assert_eq!(
        run["reverse_dns"],
        json!({"cached": 2, "queried": 1, "found": 0, "failed": 1}),
        "{run}"
    );
    let rows = history(&data);
    assert_eq!(classes(&rows, "rdns-2", "192.0.2.10"), [known("SendGrid")]);
    assert_eq!(classes(&rows, "rdns-2", "192.0.2.30"), [unknown()]);

    // A report already in the history costs no lookup.
    let run = ingest(&config, &second, &[]);
    assert_eq!(run["already_ingested"], 1, "{run}");
    assert_eq!(run["reverse_dns"]["queried"], 0, "{run}");
    assert_eq!(run["reverse_dns"]["cached"], 0, "{run}");
}

/// Reports of one run share the lookups: an IP in both is asked once, and
/// so is the one that fails.
#[test]
fn one_run_asks_each_ip_once_across_reports() {
    let dns = start_dns();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &base_config(tmp.path(), &dns));
    let reports = tmp.path().join("reports");
    fs::create_dir(&reports).unwrap();
    write_report(&reports, "rdns-1", FIRST);
    write_report(&reports, "rdns-2", SECOND);
    let run = ingest(&config, &reports, &[]);
    assert_eq!(run["new"], 2, "{run}");
    assert_eq!(
        run["reverse_dns"],
        json!({"cached": 3, "queried": 4, "found": 2, "failed": 1}),
        "{run}"
    );
    let rows = history(&tmp.path().join("data"));
    for id in ["rdns-1", "rdns-2"] {
        assert!(classes(&rows, id, "192.0.2.10")
            .iter()
            .all(|c| *c == known("SendGrid")));
    }
}

#[test]
fn without_reverse_dns_the_source_stays_unknown() {
    let dns = start_dns();
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), &base_config(tmp.path(), &dns));
    let data = tmp.path().join("data");
    let first = write_report(tmp.path(), "rdns-1", FIRST);

    let run = ingest(&config, &first, &["--no-reverse-dns"]);
    assert_eq!(run["new"], 1, "{run}");
    assert!(run.get("reverse_dns").is_none(), "{run}");
    let rows = history(&data);
    assert_eq!(
        classes(&rows, "rdns-1", "192.0.2.10"),
        [unknown(), unknown()]
    );
    assert!(!data.join("aggregate/ptr-cache.json").exists());

    // The config key turns it off for every run.
    let off = tmp.path().join("off.toml");
    fs::write(
        &off,
        format!(
            "{}[ingest]\nreverse_dns = false\n",
            fs::read_to_string(&config)
                .unwrap()
                .replace("/data\"", "/data-off\"")
        ),
    )
    .unwrap();
    let run = ingest(off.to_str().unwrap(), &first, &[]);
    assert_eq!(run["new"], 1, "{run}");
    assert!(run.get("reverse_dns").is_none(), "{run}");
}

#[test]
fn reports_analyze_with_reverse_dns() {
    let dns = start_dns();
    let tmp = tempfile::tempdir().unwrap();
    let first = write_report(tmp.path(), "rdns-1", FIRST);
    let addr = dns.addr().to_string();
    let analyze = |extra: &[&str]| {
        let mut args = vec!["reports", "analyze", "--format", "json"];
        args.extend_from_slice(extra);
        args.push(first.to_str().unwrap());
        let run = authwarden(&args);
        assert_eq!(run.code(), 0, "{run}");
        run.json()
    };
    let source = |out: &Value, ip: &str| -> (String, Value) {
        let s = out["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source_ip"] == ip)
            .unwrap_or_else(|| panic!("no source {ip}: {out:#}"));
        (
            s["cause"].as_str().unwrap().to_string(),
            s["provider"].clone(),
        )
    };

    let plain = analyze(&[]);
    assert!(plain.get("reverse_dns").is_none(), "{plain}");
    assert_eq!(
        source(&plain, "192.0.2.10"),
        ("unknown-source".to_string(), Value::Null)
    );

    let enriched = analyze(&["--reverse-dns", "--nameserver", &addr]);
    assert_eq!(
        enriched["reverse_dns"],
        json!({"cached": 0, "queried": 4, "found": 2, "failed": 1}),
        "{enriched}"
    );
    assert_eq!(
        source(&enriched, "192.0.2.10"),
        ("known-service-missing-spf".to_string(), json!("SendGrid"))
    );
    assert_eq!(
        source(&enriched, "2001:db8::25"),
        ("known-service-missing-spf".to_string(), json!("Mailgun"))
    );
    assert_eq!(
        source(&enriched, "192.0.2.30"),
        ("unknown-source".to_string(), Value::Null)
    );
}

/// The mailbox pass takes the same path: a report arriving over IMAP is
/// enriched too (the lookups run while the mailbox session is open).
#[test]
fn ingest_imap_with_reverse_dns() {
    let dns = start_dns();
    let server = ImapServer::start(ImapOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the test IMAP server: {e}"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let report = write_report(tmp.path(), "rdns-imap", FIRST);
    let message = mail_7bit(
        "Report Domain: example.com Submitter: rdns.example",
        "text/xml",
        "rdns.example!example.com!1!2.xml",
        &fs::read_to_string(&report).unwrap(),
    );
    server.append("INBOX", &message).unwrap();
    let config = write_config(
        tmp.path(),
        &(base_config(tmp.path(), &dns) + &imap_table(&server, tmp.path())),
    );
    let run = authwarden(&["--config", &config, "ingest", "--imap", "--format", "json"]);
    assert_eq!(run.code(), 0, "{run}");
    let out = run.json();
    assert_eq!(out["imap"]["processed"], 1, "{out}");
    assert_eq!(out["new"], 1, "{out}");
    assert_eq!(
        out["reverse_dns"],
        json!({"cached": 0, "queried": 4, "found": 2, "failed": 1}),
        "{out}"
    );
    let rows = history(&data);
    assert_eq!(
        classes(&rows, "rdns-imap", "192.0.2.10"),
        [known("SendGrid"), known("SendGrid")]
    );
    assert_eq!(
        classes(&rows, "rdns-imap", "2001:db8::25"),
        [known("Mailgun")]
    );
}
