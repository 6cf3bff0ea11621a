//! Delivery through the outbox against a real SMTP server (aiosmtpd on 127.0.0.1).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use authwarden_mail::{InlineImage, MailError, Message, Outbox, Security, SmtpSettings};
use authwarden_test_support::smtp::{SmtpOptions, SmtpServer};
use authwarden_test_support::util::free_port;
use chrono::{TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders, PartType};

const SUBJECT: &str = "DMARC posture — example.org, March 2025";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake but binary \xff\x00\xfe";

fn report() -> Message {
    Message {
        from: "authwarden <reports@example.com>".into(),
        to: vec![
            "Postmaster <postmaster@example.org>".into(),
            "security@example.org".into(),
        ],
        subject: SUBJECT.into(),
        text: "Posture: 2 findings — see the HTML version for the chart.\n".into(),
        html: "<html><body><h1>Posture — March</h1><img src=\"cid:trend-chart\" alt=\"trend\"></body></html>\n".into(),
        inline_images: vec![InlineImage {
            cid: "trend-chart".into(),
            content_type: "image/png".into(),
            data: PNG.to_vec(),
        }],
        date: Utc.with_ymd_and_hms(2025, 4, 1, 6, 30, 0).unwrap(),
    }
}

fn start(opts: SmtpOptions) -> SmtpServer {
    SmtpServer::start(opts).unwrap_or_else(|e| panic!("cannot start the SMTP server: {e}"))
}

fn settings(server: &SmtpServer, security: Security) -> SmtpSettings {
    let mut s = SmtpSettings::new(server.host(), server.port(), security);
    s.ca_pem = server.ca_pem().map(<[u8]>::to_vec);
    s.timeout = Duration::from_secs(10);
    s
}

fn outbox() -> (tempfile::TempDir, Outbox) {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::new(dir.path().join("reports")).unwrap();
    (dir, outbox)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// The received message has the structure, headers and envelope that were queued.
fn assert_is_the_report(raw: &[u8]) {
    let parsed = MessageParser::default().parse(raw).expect("parses");
    assert_eq!(parsed.subject(), Some(SUBJECT));
    let date = parsed.date().expect("Date header");
    assert_eq!(
        (date.year, date.month, date.day, date.hour, date.minute),
        (2025, 4, 1, 6, 30)
    );
    let message_id = parsed.message_id().expect("Message-ID header");
    assert!(message_id.ends_with("@example.com"), "{message_id}");

    // aiosmtpd's Mailbox handler records the envelope in headers.
    assert_eq!(
        parsed.header_raw("X-MailFrom").map(str::trim),
        Some("reports@example.com")
    );
    assert_eq!(
        parsed.header_raw("X-RcptTo").map(str::trim),
        Some("postmaster@example.org, security@example.org")
    );

    let root = parsed.root_part();
    assert!(root.is_content_type("multipart", "alternative"));
    let PartType::Multipart(children) = &root.body else {
        panic!("the root is not multipart: {:?}", root.body)
    };
    assert_eq!(children.len(), 2, "text/plain and multipart/related");
    let plain = parsed.part(children[0]).unwrap();
    assert!(plain.is_content_type("text", "plain"));
    assert_eq!(
        plain.text_contents(),
        Some("Posture: 2 findings — see the HTML version for the chart.\n")
    );

    let related = parsed.part(children[1]).unwrap();
    assert!(related.is_content_type("multipart", "related"));
    let PartType::Multipart(related_children) = &related.body else {
        panic!("multipart/related has no parts")
    };
    assert_eq!(related_children.len(), 2, "text/html and one image");
    let html_part = parsed.part(related_children[0]).unwrap();
    assert!(html_part.is_content_type("text", "html"));
    let html = html_part.text_contents().unwrap();
    assert!(html.contains("<h1>Posture — March</h1>"), "{html}");

    let image = parsed.part(related_children[1]).unwrap();
    assert!(image.is_content_type("image", "png"));
    assert_eq!(image.contents(), PNG);
    let cid = image.content_id().expect("Content-ID");
    assert_eq!(cid, "trend-chart");
    assert!(html.contains(&format!("src=\"cid:{cid}\"")), "{html}");
    let disposition = image.content_disposition().expect("Content-Disposition");
    assert_eq!(disposition.ctype(), "inline");
}

#[tokio::test]
async fn plain_smtp_to_loopback_delivers_and_moves_to_sent() {
    let server = start(SmtpOptions::default());
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    assert_eq!(outbox.pending().unwrap(), vec![queued.clone()]);
    assert!(server.messages().is_empty(), "enqueue sends nothing");

    let result = outbox
        .flush(&settings(&server, Security::None))
        .await
        .unwrap();
    assert!(result.failed.is_empty(), "{:?}", result.failed);
    let sent = outbox.sent_dir().join(queued.file_name().unwrap());
    assert_eq!(result.sent, vec![sent.clone()]);
    assert!(sent.exists());
    assert!(outbox.pending().unwrap().is_empty());
    assert!(names(&outbox.outbox_dir()).is_empty(), "envelope moved too");

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_is_the_report(&messages[0]);
}

#[tokio::test]
async fn starttls_with_the_test_ca_and_authentication() {
    let server = start(SmtpOptions {
        starttls: true,
        auth: Some(("reports".into(), "pa55-word".into())),
        ..Default::default()
    });
    let (_dir, outbox) = outbox();
    outbox.enqueue(&report()).unwrap();
    let mut smtp = settings(&server, Security::StartTls);
    smtp.username = Some("reports".into());
    smtp.password = Some("pa55-word".into());
    smtp.hello_name = Some("reports.example.com".into());

    let result = outbox.flush(&smtp).await.unwrap();
    assert!(result.failed.is_empty(), "{:?}", result.failed);
    assert_eq!(result.sent.len(), 1);
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    assert_is_the_report(&messages[0]);
}

#[tokio::test]
async fn implicit_tls_with_the_test_ca() {
    let server = start(SmtpOptions {
        implicit_tls: true,
        ..Default::default()
    });
    let (_dir, outbox) = outbox();
    outbox.enqueue(&report()).unwrap();
    let result = outbox
        .flush(&settings(&server, Security::Tls))
        .await
        .unwrap();
    assert!(result.failed.is_empty(), "{:?}", result.failed);
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused_and_the_message_stays() {
    let server = start(SmtpOptions {
        starttls: true,
        ..Default::default()
    });
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    let mut smtp = settings(&server, Security::StartTls);
    smtp.ca_pem = None;

    let result = outbox.flush(&smtp).await.unwrap();
    assert!(result.sent.is_empty());
    assert_eq!(result.failed.len(), 1);
    assert_eq!(result.failed[0].0, queued);
    assert!(
        result.failed[0].1.to_lowercase().contains("certificate"),
        "{}",
        result.failed[0].1
    );
    assert_eq!(outbox.pending().unwrap(), vec![queued]);
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn required_starttls_fails_when_the_server_does_not_offer_it() {
    let server = start(SmtpOptions::default());
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    let result = outbox
        .flush(&settings(&server, Security::StartTls))
        .await
        .unwrap();
    assert!(result.sent.is_empty());
    assert_eq!(result.failed.len(), 1, "{result:?}");
    assert_eq!(outbox.pending().unwrap(), vec![queued]);
    assert!(
        server.messages().is_empty(),
        "nothing went out in clear text"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_without_showing_it() {
    let server = start(SmtpOptions {
        starttls: true,
        auth: Some(("reports".into(), "right-password".into())),
        ..Default::default()
    });
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    let mut smtp = settings(&server, Security::StartTls);
    smtp.username = Some("reports".into());
    smtp.password = Some("Wr0ng-Secret".into());

    let result = outbox.flush(&smtp).await.unwrap();
    assert!(result.sent.is_empty());
    assert_eq!(result.failed.len(), 1);
    let (path, error) = &result.failed[0];
    assert_eq!(path, &queued);
    assert!(error.contains("535"), "{error}");
    assert!(!error.contains("Wr0ng-Secret"), "{error}");
    assert!(!format!("{result:?}").contains("Wr0ng-Secret"));
    assert_eq!(outbox.pending().unwrap(), vec![queued]);
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn an_outage_keeps_the_message_until_the_server_is_back_then_sends_it_once() {
    let port = free_port();
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    let smtp = SmtpSettings::new("127.0.0.1", port, Security::None);

    // Nobody listens on the port yet.
    let result = outbox.flush(&smtp).await.unwrap();
    assert!(result.sent.is_empty());
    assert_eq!(result.failed.len(), 1);
    assert_eq!(result.failed[0].0, queued);
    assert!(queued.exists());
    assert_eq!(outbox.pending().unwrap(), vec![queued.clone()]);

    let server = start(SmtpOptions {
        port: Some(port),
        ..Default::default()
    });
    let result = outbox.flush(&smtp).await.unwrap();
    assert!(result.failed.is_empty(), "{:?}", result.failed);
    assert_eq!(result.sent.len(), 1);
    assert_eq!(server.messages().len(), 1);

    let result = outbox.flush(&smtp).await.unwrap();
    assert!(
        result.sent.is_empty() && result.failed.is_empty(),
        "{result:?}"
    );
    assert_eq!(server.messages().len(), 1, "sent exactly once");
    assert_is_the_report(&server.messages()[0]);
}

#[tokio::test]
async fn messages_are_sent_oldest_first() {
    let server = start(SmtpOptions::default());
    let (_dir, outbox) = outbox();
    let subjects = ["first — 1", "second — 2", "third — 3"];
    for subject in subjects {
        let mut m = report();
        m.subject = subject.into();
        outbox.enqueue(&m).unwrap();
    }
    let result = outbox
        .flush(&settings(&server, Security::None))
        .await
        .unwrap();
    assert_eq!(result.sent.len(), 3, "{result:?}");
    // The Maildir's names do not keep order across one second; the report's order does, and
    // it is the order the server got them in (one connection, sequential).
    let sent_subjects: Vec<String> = result
        .sent
        .iter()
        .map(|p| {
            let raw = std::fs::read(p).unwrap();
            let parsed = MessageParser::default().parse(&raw[..]).unwrap();
            parsed.subject().unwrap().to_string()
        })
        .collect();
    assert_eq!(sent_subjects, subjects);
    assert_eq!(server.messages().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_flushes_send_each_message_once() {
    let server = start(SmtpOptions::default());
    let (_dir, outbox) = outbox();
    for _ in 0..3 {
        outbox.enqueue(&report()).unwrap();
    }
    let smtp = settings(&server, Security::None);
    let other = outbox.clone();
    let other_smtp = smtp.clone();
    let (a, b) = tokio::join!(
        tokio::spawn(async move { other.flush(&other_smtp).await.unwrap() }),
        outbox.flush(&smtp)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.failed.is_empty() && b.failed.is_empty(), "{a:?} {b:?}");
    assert_eq!(a.sent.len() + b.sent.len(), 3, "{a:?} {b:?}");
    assert_eq!(server.messages().len(), 3);
    assert!(outbox.pending().unwrap().is_empty());
}

#[tokio::test]
async fn a_silent_server_times_out_and_the_rest_are_not_tried() {
    // Accepts the connection and never says a word.
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let (_dir, outbox) = outbox();
    let first = outbox.enqueue(&report()).unwrap();
    let second = outbox.enqueue(&report()).unwrap();
    let mut smtp = SmtpSettings::new("127.0.0.1", port, Security::None);
    smtp.timeout = Duration::from_millis(500);

    let started = Instant::now();
    let result = outbox.flush(&smtp).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(result.sent.is_empty());
    assert_eq!(result.failed.len(), 2, "{result:?}");
    assert_eq!(result.failed[0].0, first);
    assert!(result.failed[0].1.contains("no answer"), "{result:?}");
    assert_eq!(result.failed[1].0, second);
    assert!(result.failed[1].1.starts_with("not tried"), "{result:?}");
    assert_eq!(outbox.pending().unwrap(), vec![first, second]);
    hold.abort();
}

#[tokio::test]
async fn plain_smtp_to_a_non_loopback_host_is_refused_before_connecting() {
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    // 192.0.2.0/24 is TEST-NET-1; it is refused before any connection is tried.
    let smtp = SmtpSettings::new("192.0.2.10", 25, Security::None);
    let err = outbox.flush(&smtp).await.unwrap_err();
    assert!(matches!(err, MailError::Settings(_)), "{err}");
    assert_eq!(outbox.pending().unwrap(), vec![queued]);
}

#[test]
fn enqueue_writes_the_message_and_its_envelope_atomically() {
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    let name = queued.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with(".eml"), "{name}");
    assert_eq!(
        names(&outbox.outbox_dir()),
        vec![name.clone(), format!("{name}.envelope.json")],
        "no temporary files are left"
    );
    let envelope: serde_json::Value = serde_json::from_slice(
        &std::fs::read(outbox.outbox_dir().join(format!("{name}.envelope.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(envelope["from"], "reports@example.com");
    assert_eq!(
        envelope["to"],
        serde_json::json!(["postmaster@example.org", "security@example.org"])
    );
    assert_is_the_report_headers_only(&std::fs::read(&queued).unwrap());
}

fn assert_is_the_report_headers_only(raw: &[u8]) {
    let parsed = MessageParser::default().parse(raw).unwrap();
    assert_eq!(parsed.subject(), Some(SUBJECT));
    assert!(raw.windows(2).any(|w| w == b"\r\n"), "CRLF line endings");
}

fn refusing(recipients: &[(&str, &str)], data: Option<&str>) -> SmtpServer {
    start(SmtpOptions {
        refuse_recipients: recipients
            .iter()
            .map(|(a, r)| (a.to_string(), r.to_string()))
            .collect(),
        refuse_data: data.map(str::to_string),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_message_refused_for_every_recipient_is_moved_to_rejected_and_never_retried() {
    let server = refusing(
        &[
            ("postmaster@example.org", "550 5.1.1 no such user"),
            ("security@example.org", "553 5.1.3 bad address"),
        ],
        None,
    );
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    let smtp = settings(&server, Security::None);

    let result = outbox.flush(&smtp).await.unwrap();
    assert!(
        result.sent.is_empty() && result.failed.is_empty(),
        "{result:?}"
    );
    let rejected = outbox.rejected_dir().join(queued.file_name().unwrap());
    assert_eq!(result.rejected.len(), 1, "{result:?}");
    assert_eq!(result.rejected[0].0, rejected);
    let reason = &result.rejected[0].1;
    assert!(reason.contains("every recipient refused"), "{reason}");
    assert!(
        reason.contains("postmaster@example.org: permanent error (550)"),
        "{reason}"
    );
    assert!(reason.contains("no such user"), "{reason}");
    assert!(reason.contains("553"), "{reason}");
    assert!(!result.all_delivered());

    assert!(outbox.pending().unwrap().is_empty());
    assert!(rejected.exists());
    assert!(PathBuf::from(format!("{}.envelope.json", rejected.display())).exists());
    let listed = outbox.rejected().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0].reason, reason);
    assert_eq!(
        listed[0].server.as_deref(),
        Some(format!("127.0.0.1:{}", server.port()).as_str())
    );

    // The next flush has nothing to do: the message is not retried.
    let again = outbox.flush(&smtp).await.unwrap();
    assert_eq!(again, Default::default());
    assert!(server.messages().is_empty());
}

#[tokio::test]
async fn content_refused_at_the_end_of_data_is_rejected_and_the_next_message_is_still_tried() {
    let server = refusing(&[], Some("554 5.6.0 content rejected"));
    let (_dir, outbox) = outbox();
    let first = outbox.enqueue(&report()).unwrap();
    let second = outbox.enqueue(&report()).unwrap();
    let result = outbox
        .flush(&settings(&server, Security::None))
        .await
        .unwrap();
    let rejected: Vec<_> = result.rejected.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(
        rejected,
        vec![
            outbox.rejected_dir().join(first.file_name().unwrap()),
            outbox.rejected_dir().join(second.file_name().unwrap()),
        ],
        "{result:?}"
    );
    assert!(result.rejected[0].1.contains("554"), "{result:?}");
    assert!(result.failed.is_empty());
}

#[tokio::test]
async fn a_recipient_refused_for_good_does_not_stop_delivery_to_the_others() {
    let server = refusing(&[("security@example.org", "550 5.1.1 no such user")], None);
    let (_dir, outbox) = outbox();
    let queued = outbox.enqueue(&report()).unwrap();
    let result = outbox
        .flush(&settings(&server, Security::None))
        .await
        .unwrap();
    let sent = outbox.sent_dir().join(queued.file_name().unwrap());
    assert_eq!(result.sent, vec![sent.clone()], "{result:?}");
    assert!(result.failed.is_empty() && result.rejected.is_empty());
    assert_eq!(result.refused_recipients.len(), 1, "{result:?}");
    let refused = &result.refused_recipients[0];
    assert_eq!(refused.message, sent);
    assert_eq!(refused.address, "security@example.org");
    assert!(refused.reply.contains("550"), "{refused:?}");
    assert!(!result.all_delivered());

    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let parsed = MessageParser::default().parse(&messages[0][..]).unwrap();
    assert_eq!(
        parsed.header_raw("X-RcptTo").map(str::trim),
        Some("postmaster@example.org")
    );
}

#[tokio::test]
async fn a_recipient_refused_for_now_defers_the_whole_message() {
    let server = refusing(&[("security@example.org", "450 4.2.1 mailbox busy")], None);
    let (_dir, outbox) = outbox();
    let first = outbox.enqueue(&report()).unwrap();
    let second = outbox.enqueue(&report()).unwrap();
    let result = outbox
        .flush(&settings(&server, Security::None))
        .await
        .unwrap();
    assert!(
        result.sent.is_empty() && result.rejected.is_empty(),
        "{result:?}"
    );
    assert_eq!(result.failed.len(), 2, "{result:?}");
    assert_eq!(result.failed[0].0, first);
    assert!(result.failed[0].1.contains("450"), "{result:?}");
    assert!(result.failed[0].1.contains("mailbox busy"), "{result:?}");
    // The connection was still good: the second message was tried, not skipped.
    assert_eq!(result.failed[1].0, second);
    assert!(!result.failed[1].1.starts_with("not tried"), "{result:?}");
    assert!(result.io_failures.is_empty());
    assert_eq!(outbox.pending().unwrap(), vec![first, second]);
    assert!(
        server.messages().is_empty(),
        "nobody got it, so nobody gets it twice"
    );
}

#[tokio::test]
async fn a_rejection_reply_has_the_password_removed_everywhere() {
    let password = "Secr3t-Passw0rd";
    let server = start(SmtpOptions {
        auth: Some(("reports".into(), password.into())),
        refuse_recipients: vec![
            (
                "postmaster@example.org".into(),
                format!("550 5.7.1 user reports with {password} may not send here"),
            ),
            (
                "security@example.org".into(),
                format!("550 5.7.1 {password}"),
            ),
        ],
        ..Default::default()
    });
    let (_dir, outbox) = outbox();
    outbox.enqueue(&report()).unwrap();
    let mut smtp = settings(&server, Security::None);
    smtp.username = Some("reports".into());
    smtp.password = Some(password.into());
    let result = outbox.flush(&smtp).await.unwrap();
    assert_eq!(result.rejected.len(), 1, "{result:?}");
    assert!(
        result.rejected[0].1.contains("<redacted>"),
        "{:?}",
        result.rejected[0]
    );
    assert!(!format!("{result:?}").contains(password));
    let stored =
        std::fs::read_to_string(format!("{}.reason.json", result.rejected[0].0.display())).unwrap();
    assert!(!stored.contains(password), "{stored}");
    assert!(!format!("{:?}", outbox.rejected().unwrap()).contains(password));
}

/// A listener that completes TCP handshakes (the kernel does) but never accepts or speaks.
/// After the flush, [`silent_connections`] counts the connections that were made.
fn silent_listener() -> std::net::TcpListener {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    listener
}

fn silent_connections(listener: &std::net::TcpListener) -> usize {
    let mut n = 0;
    while listener.accept().is_ok() {
        n += 1;
    }
    n
}

#[tokio::test]
async fn a_silent_server_costs_one_connection_and_ends_in_a_timeout() {
    let listener = silent_listener();
    let port = listener.local_addr().unwrap().port();
    let (_dir, outbox) = outbox();
    let first = outbox.enqueue(&report()).unwrap();
    let second = outbox.enqueue(&report()).unwrap();
    let mut smtp = SmtpSettings::new("127.0.0.1", port, Security::None);
    smtp.timeout = Duration::from_millis(300);

    let result = outbox.flush(&smtp).await.unwrap();
    assert_eq!(
        silent_connections(&listener),
        1,
        "one attempt, no retry, no second connection for the second message"
    );
    assert_eq!(result.failed.len(), 2, "{result:?}");
    assert_eq!(result.failed[0].0, first);
    assert_eq!(
        result.failed[0].1,
        format!("no answer from 127.0.0.1:{port} within 300ms")
    );
    assert_eq!(result.failed[1].0, second);
    assert!(result.failed[1].1.starts_with("not tried"), "{result:?}");
    assert!(result.rejected.is_empty() && result.io_failures.is_empty());
    assert_eq!(outbox.pending().unwrap(), vec![first, second]);
}

#[tokio::test]
async fn a_refused_connection_defers_everything_without_rejecting() {
    let port = free_port();
    let (_dir, outbox) = outbox();
    outbox.enqueue(&report()).unwrap();
    let result = outbox
        .flush(&SmtpSettings::new("127.0.0.1", port, Security::None))
        .await
        .unwrap();
    assert_eq!(result.failed.len(), 1);
    assert!(
        result.failed[0].1.to_lowercase().contains("refused"),
        "{result:?}"
    );
    assert!(result.rejected.is_empty());
}

#[test]
fn errors_tell_disk_problems_from_settings() {
    let dir = tempfile::tempdir().unwrap();
    // The reports "directory" is a file: nothing can be created in it.
    let file = dir.path().join("reports");
    std::fs::write(&file, b"").unwrap();
    let err = Outbox::new(&file).unwrap_err();
    assert!(err.is_io() && !err.is_settings(), "{err}");
    assert!(err.to_string().contains("Not a directory"), "{err}");
    assert!(err.to_string().contains("reports"), "{err}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_dir, outbox) = outbox();
    let err = rt
        .block_on(outbox.flush(&SmtpSettings::new("192.0.2.1", 25, Security::None)))
        .unwrap_err();
    assert!(err.is_settings() && !err.is_io(), "{err}");
}
