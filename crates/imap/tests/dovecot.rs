//! `fetch_new` against a real Dovecot on loopback (started per test by authwarden-test-support;
//! `scripts/test` installs `dovecot-imapd`).
//!
//! The messages carry DMARC aggregate reports as zip, gzip and plain XML attachments, built
//! here; the handler is what the ingest does: `open_payload` and `parse` from
//! authwarden-aggregate.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use authwarden_aggregate::{open_payload, Limits};
use authwarden_imap::{fetch_new, Disposition, ImapError, ImapSettings, ImapState, Security};
use authwarden_test_support::imap::{ImapOptions, ImapServer};
use authwarden_test_support::mail::mail;

const MINIMAL: &str = include_str!("../../aggregate/tests/fixtures/minimal.xml");

/// A report whose report_id is `id`.
fn report_xml(id: &str) -> Vec<u8> {
    MINIMAL.replace("minimal-1", id).into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn zip(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file(name, zip::write::SimpleFileOptions::default())
        .unwrap();
    zip.write_all(bytes).unwrap();
    zip.finish().unwrap().into_inner()
}

/// Three good reports (zip, gzip, xml) and one whose gzip attachment is broken.
fn report_mails() -> Vec<Vec<u8>> {
    vec![
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
            "broken report",
            "application/gzip",
            "r!example.com!1!2.xml.gz",
            &gzip(&report_xml("imap-broken"))[..40],
        ),
    ]
}

fn settings_for(server: &ImapServer, security: Security) -> ImapSettings {
    let mut settings = ImapSettings::new(server.host(), server.user(), server.password());
    settings.security = security;
    settings.port = match security {
        Security::Tls => server.imaps_port().expect("a TLS server"),
        Security::StartTls | Security::None => server.port(),
    };
    settings.ca_pem = server.ca_pem().map(<[u8]>::to_vec);
    settings.timeout = Duration::from_secs(20);
    settings
}

/// The ingest's handler: every attachment must open and parse; collects the report ids.
fn ingest<'a>(report_ids: &'a mut BTreeSet<String>) -> impl FnMut(u32, &[u8]) -> Disposition + 'a {
    move |uid, raw| {
        let limits = Limits::default();
        let Ok(payloads) = open_payload(raw.to_vec(), &format!("UID {uid}"), &limits) else {
            return Disposition::Invalid;
        };
        let mut ids = Vec::new();
        for payload in &payloads {
            match payload.parse(&limits) {
                Ok(report) => ids.push(report.metadata.report_id),
                Err(_) => return Disposition::Invalid,
            }
        }
        report_ids.extend(ids);
        Disposition::Processed
    }
}

fn subjects(messages: &[Vec<u8>]) -> BTreeSet<String> {
    messages
        .iter()
        .filter_map(|m| {
            String::from_utf8_lossy(m)
                .lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_owned))
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The whole scenario of the issue: three reports archived, the broken one filed as invalid,
/// a second run finds nothing new.
async fn ingest_scenario(server: &ImapServer, security: Security) {
    for message in report_mails() {
        server.append("INBOX", &message).unwrap();
    }
    let settings = settings_for(server, security);
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("imap-state.json");

    let mut state = ImapState::load(&state_path).unwrap();
    let mut ids = BTreeSet::new();
    let report = fetch_new(&settings, &mut state, ingest(&mut ids))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
    state.save(&state_path).unwrap();

    assert_eq!(
        (report.processed, report.invalid, report.kept),
        (3, 1, 0),
        "{report:?}"
    );
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(ids, set(&["imap-gz", "imap-xml", "imap-zip"]));
    assert!(
        server.folder_messages("INBOX").is_empty(),
        "{}",
        server.log()
    );
    assert_eq!(
        subjects(&server.folder_messages("Archive/DMARC")),
        set(&["gzip report", "xml report", "zip report"])
    );
    assert_eq!(
        subjects(&server.folder_messages("Invalid/DMARC")),
        set(&["broken report"])
    );

    // A second run, with the state read back from its file, finds nothing new.
    let mut state = ImapState::load(&state_path).unwrap();
    let mut handed_out = 0;
    let again = fetch_new(&settings, &mut state, |_, _| {
        handed_out += 1;
        Disposition::Keep
    })
    .await
    .unwrap();
    assert_eq!(handed_out, 0);
    assert_eq!(again, Default::default());

    // A report arriving later is the only one handed out next time.
    server
        .append(
            "INBOX",
            &mail(
                "late report",
                "text/xml",
                "late.xml",
                &report_xml("imap-late"),
            ),
        )
        .unwrap();
    let mut late_ids = BTreeSet::new();
    let late = fetch_new(&settings, &mut state, ingest(&mut late_ids))
        .await
        .unwrap();
    assert_eq!((late.processed, late.invalid), (1, 0), "{late:?}");
    assert_eq!(late_ids, set(&["imap-late"]));
    assert_eq!(server.folder_messages("Archive/DMARC").len(), 4);
}

/// Dovecot's log line for the session that downloaded `bodies` messages, once written (the
/// log process writes it shortly after the logout).
fn fetch_session_log(server: &ImapServer, bodies: usize) -> String {
    let needle = format!(" body_count={bodies} ");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(line) = server.log().lines().find(|l| l.contains(&needle)) {
            return line.to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no session with{needle}in\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn reports_are_archived_the_broken_one_is_invalid_and_a_second_run_finds_nothing() {
    let server = ImapServer::start(ImapOptions::default()).unwrap();
    ingest_scenario(&server, Security::None).await;
    // UID MOVE: nothing was flagged \Deleted.
    let line = fetch_session_log(&server, 4);
    assert!(line.contains(" deleted=0 expunged=0 "), "{line}");
}

#[tokio::test]
async fn without_move_messages_are_copied_flagged_and_expunged() {
    let server = ImapServer::start(ImapOptions {
        no_move: true,
        ..Default::default()
    })
    .unwrap();
    ingest_scenario(&server, Security::None).await;
    // COPY, then \Deleted and EXPUNGE on the four messages.
    let line = fetch_session_log(&server, 4);
    assert!(line.contains(" deleted=4 expunged=4 "), "{line}");
}

#[tokio::test]
async fn starttls_with_the_test_ca() {
    let server = ImapServer::start(ImapOptions {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    ingest_scenario(&server, Security::StartTls).await;
}

#[tokio::test]
async fn implicit_tls_with_the_test_ca() {
    let server = ImapServer::start(ImapOptions {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    ingest_scenario(&server, Security::Tls).await;
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_error() {
    let server = ImapServer::start(ImapOptions {
        tls: true,
        ..Default::default()
    })
    .unwrap();
    for security in [Security::Tls, Security::StartTls] {
        let mut settings = settings_for(&server, security);
        settings.ca_pem = None;
        let err = fetch_new(&settings, &mut ImapState::default(), |_, _| {
            Disposition::Keep
        })
        .await
        .unwrap_err();
        assert!(matches!(err, ImapError::Tls { .. }), "{security:?}: {err}");
        assert!(err.to_string().contains("127.0.0.1"), "{err}");
    }
}

#[tokio::test]
async fn starttls_on_a_server_without_it_is_an_error_not_plain_text() {
    let server = ImapServer::start(ImapOptions::default()).unwrap();
    let settings = settings_for(&server, Security::StartTls);
    let err = fetch_new(&settings, &mut ImapState::default(), |_, _| {
        Disposition::Keep
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ImapError::StartTls { .. }), "{err}");
}

#[tokio::test]
async fn a_wrong_password_is_a_login_error() {
    let server = ImapServer::start(ImapOptions::default()).unwrap();
    let mut settings = settings_for(&server, Security::None);
    settings.password = "wrong".into();
    let err = fetch_new(&settings, &mut ImapState::default(), |_, _| {
        Disposition::Keep
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ImapError::Login { .. }), "{err}");
    assert!(!err.to_string().contains("wrong"), "{err}");
}

#[tokio::test]
async fn a_message_over_the_size_cap_is_filed_as_invalid_without_download() {
    let server = ImapServer::start(ImapOptions::default()).unwrap();
    let small = mail("small", "text/xml", "s.xml", &report_xml("small"));
    let mut big = mail("big", "text/xml", "b.xml", &report_xml("big"));
    big.extend(std::iter::repeat_n(b' ', 20_000));
    server.append("INBOX", &small).unwrap();
    let big_uid = server.append("INBOX", &big).unwrap();

    let mut settings = settings_for(&server, Security::None);
    settings.max_message_bytes = 10_000;
    let mut ids = BTreeSet::new();
    let report = fetch_new(&settings, &mut ImapState::default(), ingest(&mut ids))
        .await
        .unwrap();
    assert_eq!((report.processed, report.invalid), (1, 1), "{report:?}");
    assert_eq!(ids, set(&["small"]));
    assert_eq!(report.errors.len(), 1);
    let error = report.errors[0].to_string();
    assert!(
        error.starts_with(&format!("INBOX UID {big_uid}: ")),
        "{error}"
    );
    assert!(error.contains("cap"), "{error}");
    assert_eq!(
        subjects(&server.folder_messages("Invalid/DMARC")),
        set(&["big"])
    );
}

#[tokio::test]
async fn kept_messages_stay_and_a_new_uidvalidity_offers_them_again() {
    let server = ImapServer::start(ImapOptions::default()).unwrap();
    for message in report_mails() {
        server.append("INBOX", &message).unwrap();
    }
    let settings = settings_for(&server, Security::None);
    let mut state = ImapState::default();
    let mut seen = Vec::new();
    let report = fetch_new(&settings, &mut state, |uid, _| {
        seen.push(uid);
        Disposition::Keep
    })
    .await
    .unwrap();
    assert_eq!(report.kept, 4);
    assert_eq!(seen.len(), 4);
    assert_eq!(server.folder_messages("INBOX").len(), 4);

    let mut handed_out = 0;
    fetch_new(&settings, &mut state, |_, _| {
        handed_out += 1;
        Disposition::Keep
    })
    .await
    .unwrap();
    assert_eq!(handed_out, 0, "kept messages are not offered twice");

    // A folder recreated on the server has a new UIDVALIDITY: its UIDs start over.
    for folder in state.folders.values_mut() {
        folder.uid_validity = folder.uid_validity.wrapping_add(1);
    }
    let again = fetch_new(&settings, &mut state, |_, _| Disposition::Keep)
        .await
        .unwrap();
    assert_eq!(again.kept, 4);
}

#[tokio::test]
async fn a_missing_folder_is_an_error_naming_it() {
    let server = ImapServer::start(ImapOptions::default()).unwrap();
    let mut settings = settings_for(&server, Security::None);
    settings.folder = "Reports/Nowhere".into();
    let err = fetch_new(&settings, &mut ImapState::default(), |_, _| {
        Disposition::Keep
    })
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("SELECT \"Reports/Nowhere\""), "{err}");
}

#[tokio::test]
async fn a_folder_that_cannot_be_created_leaves_the_messages_and_names_each_one() {
    let server = ImapServer::start(ImapOptions::default()).unwrap();
    for message in report_mails() {
        server.append("INBOX", &message).unwrap();
    }
    let mut settings = settings_for(&server, Security::None);
    // Longer than a file name may be: Dovecot refuses to create it.
    settings.archive_folder = format!("Archive/{}", "x".repeat(300));
    let mut ids = BTreeSet::new();
    let report = fetch_new(&settings, &mut ImapState::default(), ingest(&mut ids))
        .await
        .unwrap();
    // The batch went on: the three reports were handed out, the broken one was filed.
    assert_eq!((report.processed, report.invalid), (3, 1), "{report:?}");
    assert_eq!(report.errors.len(), 3, "{:?}", report.errors);
    for error in &report.errors {
        let text = error.to_string();
        assert!(text.starts_with("INBOX UID "), "{text}");
        assert!(text.contains("not moved to Archive/xxx"), "{text}");
    }
    assert_eq!(server.folder_messages("INBOX").len(), 3);
    assert_eq!(server.folder_messages("Invalid/DMARC").len(), 1);
}
