//! The repair of the outbox on opening and flushing, with real files on disk.

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_mail::{Message, MessageState, Outbox, Security, SmtpSettings};
use authwarden_test_support::smtp::{SmtpOptions, SmtpServer};
use chrono::{TimeZone, Utc};

fn report() -> Message {
    Message {
        from: "authwarden <reports@example.com>".into(),
        to: vec![
            "\"Postmaster, Example\" <postmaster@example.org>".into(),
            "Sécurité <security@example.org>".into(),
        ],
        subject: "DMARC posture — example.org".into(),
        text: "plain\n".into(),
        html: "<p>html</p>\n".into(),
        inline_images: vec![],
        date: Utc.with_ymd_and_hms(2025, 4, 1, 6, 30, 0).unwrap(),
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn envelope(eml: &Path) -> PathBuf {
    PathBuf::from(format!("{}.envelope.json", eml.display()))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn opening_removes_temporary_files_and_envelopes_without_their_message() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("reports");
    let outbox = Outbox::new(&root).unwrap();
    let kept = outbox.enqueue(&report()).unwrap();
    let orphan = outbox.enqueue(&report()).unwrap();
    // A crash between the envelope and the message of an enqueue; a crash inside a write.
    fs::remove_file(&orphan).unwrap();
    let tmp = outbox
        .outbox_dir()
        .join(".20250401T063000.000000Z-x.eml.tmp");
    fs::write(&tmp, b"half a messa").unwrap();
    let unrelated = outbox.outbox_dir().join("notes.txt");
    fs::write(&unrelated, b"mine").unwrap();

    let reopened = Outbox::new(&root).unwrap();
    let kept_name = kept.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(
        names(&reopened.outbox_dir()),
        vec![
            kept_name.clone(),
            format!("{kept_name}.envelope.json"),
            "notes.txt".to_string(),
        ],
        "the orphan envelope and the temporary file are gone; the rest is untouched"
    );
    assert_eq!(reopened.pending().unwrap(), vec![kept]);
    // Nothing left to do the second time.
    assert!(reopened.recover().unwrap().unwrap().is_empty());
}

#[test]
fn the_repair_reports_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).unwrap();
    let orphan = outbox.enqueue(&report()).unwrap();
    fs::remove_file(&orphan).unwrap();
    let tmp = outbox.outbox_dir().join(".x.eml.envelope.json.tmp");
    fs::write(&tmp, b"{").unwrap();

    let done = outbox.recover().unwrap().expect("no flush is running");
    let mut removed: Vec<PathBuf> = done.removed.iter().map(|(p, _)| p.clone()).collect();
    removed.sort();
    let mut expected = vec![envelope(&orphan), tmp];
    expected.sort();
    assert_eq!(removed, expected, "{done:?}");
    assert!(done.completed.is_empty() && done.rebuilt.is_empty() && done.held.is_empty());
}

#[test]
fn an_envelope_left_behind_by_a_move_to_sent_follows_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).unwrap();
    let eml = outbox.enqueue(&report()).unwrap();
    // The message moved to sent/, the envelope did not (a crash, or a failed rename).
    let sent = outbox.sent_dir().join(eml.file_name().unwrap());
    fs::rename(&eml, &sent).unwrap();

    let done = outbox.recover().unwrap().unwrap();
    assert_eq!(done.completed, vec![envelope(&sent)]);
    assert!(done.removed.is_empty(), "{done:?}");
    assert!(envelope(&sent).exists());
    assert!(names(&outbox.outbox_dir()).is_empty());
}

#[tokio::test]
async fn a_message_without_envelope_gets_it_back_from_its_headers_and_is_sent_to_the_same_recipients(
) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).unwrap();
    let queued = outbox.enqueue_keyed(&report(), "monthly-2025-03").unwrap();
    let eml = queued.path;
    let written = json(&envelope(&eml));
    fs::remove_file(envelope(&eml)).unwrap();

    let done = outbox.recover().unwrap().unwrap();
    assert_eq!(done.rebuilt, vec![eml.clone()], "{done:?}");
    assert_eq!(
        json(&envelope(&eml)),
        written,
        "the same envelope as enqueue wrote, key included"
    );

    // An envelope that does not parse is rebuilt too.
    fs::write(envelope(&eml), b"{\"from\": 1").unwrap();
    let done = outbox.recover().unwrap().unwrap();
    assert_eq!(done.rebuilt, vec![eml.clone()]);
    assert_eq!(json(&envelope(&eml)), written);

    let server = SmtpServer::start(SmtpOptions::default()).unwrap();
    let smtp = SmtpSettings::new(server.host(), server.port(), Security::None);
    let result = outbox.flush(&smtp).await.unwrap();
    assert_eq!(result.sent.len(), 1, "{result:?}");
    let received = String::from_utf8_lossy(&server.messages()[0]).into_owned();
    assert!(
        received.contains("X-RcptTo: postmaster@example.org, security@example.org"),
        "{received}"
    );
}

#[tokio::test]
async fn a_message_whose_envelope_cannot_be_rebuilt_is_held_and_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).unwrap();
    // Dropped in by hand, with no recipient in the headers.
    let eml = outbox
        .outbox_dir()
        .join("20250401T063000.000000Z-byhand.eml");
    fs::write(
        &eml,
        b"From: a@example.com\r\nSubject: hi\r\nMessage-ID: <x@example.com>\r\n\r\nbody\r\n",
    )
    .unwrap();
    let bcc = outbox.outbox_dir().join("20250401T063001.000000Z-bcc.eml");
    fs::write(
        &bcc,
        b"From: a@example.com\r\nTo: b@example.org\r\nBcc: secret@example.org\r\nMessage-ID: <y@example.com>\r\n\r\nbody\r\n",
    )
    .unwrap();

    let server = SmtpServer::start(SmtpOptions::default()).unwrap();
    let smtp = SmtpSettings::new(server.host(), server.port(), Security::None);
    let result = outbox.flush(&smtp).await.unwrap();
    assert!(
        result.sent.is_empty() && result.failed.is_empty(),
        "{result:?}"
    );
    let held_eml = outbox.held_dir().join(eml.file_name().unwrap());
    let held_bcc = outbox.held_dir().join(bcc.file_name().unwrap());
    let held: Vec<&PathBuf> = result.recovery.held.iter().map(|(p, _)| p).collect();
    assert_eq!(held, vec![&held_eml, &held_bcc]);
    assert!(server.messages().is_empty());
    assert!(outbox.pending().unwrap().is_empty());

    let listed = outbox.held().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].path, held_eml);
    assert!(
        listed[0].reason.contains("it has no envelope"),
        "{:?}",
        listed[0]
    );
    assert!(
        listed[0].reason.contains("no To or Cc recipient"),
        "{:?}",
        listed[0]
    );
    assert!(listed[0].at.is_some());
    assert!(listed[1].reason.contains("Bcc"), "{:?}", listed[1]);
    assert!(held_eml.exists() && held_eml.with_extension("eml.reason.json").exists());
}

#[test]
fn an_interrupted_move_to_rejected_is_completed() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path()).unwrap();
    let eml = outbox.enqueue_keyed(&report(), "k1").unwrap().path;
    // The reason was written, then the flush died before moving the message.
    fs::create_dir_all(outbox.rejected_dir()).unwrap();
    let target = outbox.rejected_dir().join(eml.file_name().unwrap());
    fs::write(
        format!("{}.reason.json", target.display()),
        br#"{"at": "2025-04-01T07:00:00Z", "reason": "permanent error (550): no such user", "server": "localhost:25"}"#,
    )
    .unwrap();
    // And a reason whose message is gone altogether.
    let stray = outbox
        .rejected_dir()
        .join("20250101T000000.000000Z-gone.eml.reason.json");
    fs::write(&stray, b"{}").unwrap();

    let done = outbox.recover().unwrap().unwrap();
    assert_eq!(done.completed, vec![target.clone()], "{done:?}");
    assert_eq!(done.removed.len(), 1, "{done:?}");
    assert_eq!(done.removed[0].0, stray);
    assert!(outbox.pending().unwrap().is_empty());
    assert!(envelope(&target).exists());
    let rejected = outbox.rejected().unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason, "permanent error (550): no such user");
    assert_eq!(rejected[0].server.as_deref(), Some("localhost:25"));
    // Its key is still taken: a redone job does not queue it again.
    let again = outbox.enqueue_keyed(&report(), "k1").unwrap();
    assert_eq!(
        (again.state, again.created, again.path),
        (MessageState::Rejected, false, target)
    );
}
