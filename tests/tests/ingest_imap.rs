//! `authwarden ingest --imap`, the real binary against a real Dovecot on
//! loopback: report messages with zip, gzip and plain XML attachments and
//! one broken one are appended over IMAP, ingested into the history and
//! filed into the archive and invalid folders; a second run finds nothing
//! new; a report ingested from a file first and then from the mailbox
//! counts once.
//!
//! The attachments are gzip and zip with stored (uncompressed) data,
//! built by `authwarden_test_support::mail`, so the test needs no
//! compression crate.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::time::Duration;

use authwarden_e2e::{authwarden, imap_table, write_config, Daemon, Run};
use authwarden_history::HistoryStore;
use authwarden_test_support::imap::{ImapOptions, ImapServer};
use authwarden_test_support::mail::{gzip, mail, zip};
use serde_json::Value;

const MINIMAL: &str = include_str!("../../crates/aggregate/tests/fixtures/minimal.xml");

/// The fixture report (one record, 3 messages) with another report_id.
fn report_xml(id: &str) -> Vec<u8> {
    MINIMAL.replace("minimal-1", id).into_bytes()
}

fn subject(message: &[u8]) -> String {
    String::from_utf8_lossy(message)
        .lines()
        .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        .unwrap_or_default()
}

fn subjects(server: &ImapServer, folder: &str) -> Vec<String> {
    let mut s: Vec<String> = server
        .folder_messages(folder)
        .iter()
        .map(|m| subject(m))
        .collect();
    s.sort();
    s
}

fn json(run: &Run) -> Value {
    assert!(run.status.success(), "{}\n{}", run.command, run.stderr);
    run.json()
}

/// report_id -> rows in the history.
fn history_rows(data: &Path) -> BTreeMap<String, usize> {
    let frame = HistoryStore::new(data).load_aggregate().unwrap();
    let ids = frame.column("report_id").unwrap().str().unwrap().clone();
    let mut out = BTreeMap::new();
    for id in ids.iter().flatten() {
        *out.entry(id.to_string()).or_default() += 1;
    }
    out
}

/// A config for the test mailbox (plain IMAP to loopback, the password in
/// a file) with the history in `<tmp>/data`; `extra` ends the `[imap]` table.
/// Reverse DNS is off: no [dns] here, so it would ask the system resolver.
fn mailbox_config(server: &ImapServer, tmp: &Path, extra: &str) -> String {
    let history = tmp.join("data").display().to_string();
    let imap = imap_table(server, tmp);
    write_config(
        tmp,
        &format!("history_dir = {history:?}\n\n[ingest]\nreverse_dns = false\n\n{imap}{extra}"),
    )
}

fn start_imap() -> ImapServer {
    ImapServer::start(ImapOptions::default())
        .unwrap_or_else(|e| panic!("cannot start the test IMAP server: {e}"))
}

#[test]
fn mailbox_reports_are_ingested_archived_once_and_a_broken_one_is_invalid() {
    let server = start_imap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = mailbox_config(&server, tmp.path(), "");
    let config = config.as_str();

    // A report first ingested from a file ...
    let file = tmp.path().join("from-file.xml");
    fs::write(&file, report_xml("both-ways")).unwrap();
    let first = json(&authwarden(&[
        "--config",
        config,
        "ingest",
        "--format",
        "json",
        file.to_str().unwrap(),
    ]));
    assert_eq!(
        (first["new"].as_u64(), first["rows"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(first.get("imap").is_none(), "{first}");

    // ... then arrives by mail too, beside zip, gzip, xml and a broken gzip.
    let mails = [
        mail(
            "zip report",
            "application/zip",
            "r!example.com!1!2.zip",
            &zip("r.xml", &report_xml("imap-zip")),
        ),
        mail(
            "gzip report",
            "application/gzip",
            "r!example.com!1!2.xml.gz",
            &gzip(&report_xml("imap-gz")),
        ),
        mail(
            "xml report",
            "text/xml",
            "r!example.com!1!2.xml",
            &report_xml("imap-xml"),
        ),
        mail(
            "file report",
            "text/xml",
            "r!example.com!1!2.xml",
            &report_xml("both-ways"),
        ),
        mail(
            "broken report",
            "application/gzip",
            "r!example.com!1!2.xml.gz",
            &gzip(&report_xml("imap-broken"))[..40],
        ),
    ];
    let mut uids = Vec::new();
    for m in &mails {
        uids.push(server.append("INBOX", m).unwrap());
    }
    let broken_uid = uids[4];

    let run = json(&authwarden(&[
        "--config", config, "ingest", "--imap", "--format", "json",
    ]));
    assert_eq!(run["imap"]["processed"], 4, "{run}");
    assert_eq!(run["imap"]["invalid"], 1, "{run}");
    assert_eq!(run["imap"]["kept"], 0, "{run}");
    assert_eq!(run["new"], 3, "{run}");
    assert_eq!(run["already_ingested"], 1, "{run}");
    assert_eq!(run["rows"], 3, "{run}");
    assert_eq!(run["messages"], 9, "{run}");
    let errors = run["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{run}");
    let broken = format!("imap:INBOX UID {broken_uid}");
    assert!(
        errors[0]["file"].as_str().unwrap().starts_with(&broken),
        "{run}"
    );
    assert!(
        errors[0]["reason"].as_str().unwrap().contains("gzip"),
        "{run}"
    );

    assert_eq!(
        subjects(&server, "Archive/DMARC"),
        ["file report", "gzip report", "xml report", "zip report"]
    );
    assert_eq!(subjects(&server, "Invalid/DMARC"), ["broken report"]);
    assert!(data.join("imap-state.json").is_file());
    let rows = history_rows(&data);
    assert_eq!(
        rows,
        BTreeMap::from(
            ["both-ways", "imap-gz", "imap-xml", "imap-zip"].map(|id| (id.to_string(), 1))
        ),
        "the report from the file and the mailbox is in the history once"
    );

    // A second run: nothing new, in the mailbox or the history.
    let text = authwarden(&["--config", config, "ingest", "--imap"]);
    assert!(text.status.success(), "{}", text.stderr);
    assert!(
        text.stdout.starts_with(
            "imap:INBOX: 0 messages processed, 0 invalid, 0 left in the folder\n0 new reports"
        ),
        "{}",
        text.stdout
    );
    assert_eq!(history_rows(&data).len(), 4);

    // Files and the mailbox in one run; the file repeats a mailbox report.
    server
        .append(
            "INBOX",
            &mail(
                "late report",
                "application/gzip",
                "late.xml.gz",
                &gzip(&report_xml("imap-late")),
            ),
        )
        .unwrap();
    let again = tmp.path().join("again.xml");
    fs::write(&again, report_xml("imap-zip")).unwrap();
    let mixed = json(&authwarden(&[
        "--config",
        config,
        "ingest",
        "--imap",
        "--format",
        "json",
        again.to_str().unwrap(),
    ]));
    assert_eq!(mixed["imap"]["processed"], 1, "{mixed}");
    assert_eq!(mixed["new"], 1, "{mixed}");
    assert_eq!(mixed["already_ingested"], 1, "{mixed}");
    assert_eq!(history_rows(&data).len(), 5);
    assert_eq!(subjects(&server, "Archive/DMARC").len(), 5);
}

const TLS_REPORT: &str = include_str!("../../crates/aggregate/tests/fixtures/tls/good.json");

/// SMTP TLS reports (RFC 8460) come through the same mailbox: a gzip
/// attachment as Google sends it, a JSON one, the same report again and a
/// broken one; they land in the TLS history, are filed like aggregate
/// reports, and count once.
#[test]
fn tls_reports_from_the_mailbox_are_ingested_once_and_a_broken_one_is_invalid() {
    let server = start_imap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let config = mailbox_config(&server, tmp.path(), "");
    let other = TLS_REPORT.replace("2026-11-02T00:00:00Z_example.com", "imap-json-1");
    let mails = [
        mail(
            "Report Domain: example.com Submitter: sender.example",
            "application/tlsrpt+gzip",
            "sender.example!example.com!1793577600!1793663999!001.json.gz",
            &gzip(TLS_REPORT.as_bytes()),
        ),
        mail(
            "json tls report",
            "application/tlsrpt+json",
            "sender.example!example.com!1793577600!1793663999!002.json",
            other.as_bytes(),
        ),
        mail(
            "same tls report again",
            "application/tlsrpt+gzip",
            "sender.example!example.com!1793577600!1793663999!001.json.gz",
            &gzip(TLS_REPORT.as_bytes()),
        ),
        mail(
            "broken tls report",
            "application/tlsrpt+json",
            "sender.example!example.com!1!2.json",
            &TLS_REPORT.as_bytes()[..200],
        ),
    ];
    for m in &mails {
        server.append("INBOX", m).unwrap();
    }
    let run = json(&authwarden(&[
        "--config", &config, "ingest", "--imap", "--format", "json",
    ]));
    assert_eq!(run["tls"]["new"], 2, "{run}");
    assert_eq!(run["tls"]["already_ingested"], 1, "{run}");
    assert_eq!(run["imap"]["invalid"], 1, "{run}");
    let errors = run["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{run}");
    assert!(
        errors[0]["file"]
            .as_str()
            .unwrap()
            .starts_with("imap:INBOX UID 4"),
        "{run}"
    );
    assert_eq!(subjects(&server, "Invalid/DMARC"), ["broken tls report"]);
    assert_eq!(subjects(&server, "Archive/DMARC").len(), 3);
    let store = HistoryStore::new(&data);
    assert!(store.has_tls_reports());
    assert_eq!(store.tls_domains().unwrap(), ["example.com"]);
    let again = json(&authwarden(&[
        "--config", &config, "ingest", "--imap", "--format", "json",
    ]));
    assert_eq!(again["imap"]["processed"], 0, "{again}");
}

#[test]
fn ingest_imap_without_an_imap_section_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path(), "");
    let run = authwarden(&["--config", &config, "ingest", "--imap"]);
    assert_eq!(run.code(), 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--imap needs an [imap] section"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_daemon_polls_the_mailbox_on_its_cron_and_stops_on_sigterm() {
    let server = start_imap();
    let tmp = tempfile::tempdir().unwrap();
    // Every job disabled: the daemon runs for the mailbox alone.
    let config = mailbox_config(
        &server,
        tmp.path(),
        "poll_cron = \"* * * * * *\"\n\n[jobs.monthly]\nenabled = false\n\n\
         [jobs.quarterly]\nenabled = false\n\n[jobs.annual]\nenabled = false\n",
    );
    let mut daemon = Daemon::start(Path::new(&config), tmp.path());
    server
        .append(
            "INBOX",
            &mail("polled report", "text/xml", "r.xml", &report_xml("polled")),
        )
        .unwrap();
    daemon.wait_for("archived report", Duration::from_secs(30), |_| {
        !subjects(&server, "Archive/DMARC").is_empty()
    });
    assert_eq!(history_rows(&tmp.path().join("data")).len(), 1);

    let status = daemon.terminate();
    let log = daemon.log();
    assert!(status.success(), "{status}; log:\n{log}");
    assert!(log.contains("mailbox polled"), "{log}");
}
