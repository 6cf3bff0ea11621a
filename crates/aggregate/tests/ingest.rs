//! Containers and batch ingest: sniffing by bytes, every zip member, mail
//! attachments, mbox, folders, errors naming the file, deduplication.

use std::path::{Path, PathBuf};

use authwarden_aggregate::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn ids(paths: &[PathBuf]) -> Vec<String> {
    let limits = Limits::default();
    let mut out = Vec::new();
    for p in paths {
        for payload in open_path(p, &limits).unwrap() {
            out.push(payload.parse(&limits).unwrap().metadata.report_id);
        }
    }
    out
}

#[test]
fn gzip_nested_gzip_and_zip_by_magic_bytes() {
    assert_eq!(ids(&[fixture("minimal.xml.gz")]), ["minimal-1"]);
    assert_eq!(ids(&[fixture("minimal.xml.gz.gz")]), ["minimal-1"]);
    // A zip named .bin: found by its bytes, every member read.
    assert_eq!(
        ids(&[fixture("two-members.zip.bin")]),
        ["minimal-1", "bis-7"]
    );
}

#[test]
fn eml_with_zip_attachment() {
    let payloads = open_path(&fixture("report.eml"), &Limits::default()).unwrap();
    let sources: Vec<_> = payloads
        .iter()
        .map(|p| p.source().rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        sources,
        [
            "report.eml#reporter.example!example.com!1704067200!1704153599.zip#minimal.xml",
            "report.eml#reporter.example!example.com!1704067200!1704153599.zip#rfc9990.xml"
        ]
    );
    assert_eq!(ids(&[fixture("report.eml")]), ["minimal-1", "bis-7"]);
}

#[test]
fn mbox_gives_one_entry_per_message() {
    let payloads = open_path(&fixture("mailbox.mbox"), &Limits::default()).unwrap();
    assert_eq!(payloads.len(), 2);
    assert!(
        payloads[0]
            .source()
            .ends_with("mailbox.mbox#message-1#a.xml.gz"),
        "{}",
        payloads[0].source()
    );
    assert_eq!(
        payloads[0]
            .parse(&Limits::default())
            .unwrap()
            .metadata
            .report_id,
        "bis-7"
    );
    let e = payloads[1].parse(&Limits::default()).unwrap_err();
    assert!(payloads[1].source().ends_with("#message-2"));
    assert_eq!(e.code(), "invalid_mail");
}

#[test]
fn folder_ingest_reports_errors_and_dedupes() {
    let dir = tempfile::tempdir().unwrap();
    // A Maildir-shaped tree: the same report as xml, gz and inside a zip.
    let cur = dir.path().join("Maildir/cur");
    std::fs::create_dir_all(&cur).unwrap();
    std::fs::create_dir_all(dir.path().join("Maildir/new")).unwrap();
    std::fs::copy(fixture("minimal.xml"), dir.path().join("a.xml")).unwrap();
    std::fs::copy(
        fixture("minimal.xml.gz"),
        cur.join("1704067200.M1P1.host:2,S"),
    )
    .unwrap();
    std::fs::copy(fixture("report.eml"), cur.join("1704067201.M2P2.host:2,S")).unwrap();
    std::fs::write(dir.path().join("Maildir/dovecot-uidlist"), "3 V1 N4\n").unwrap();
    std::fs::write(dir.path().join("broken.xml"), "<feedback><report_metadata>").unwrap();
    std::fs::write(dir.path().join("empty.xml"), "").unwrap();
    std::fs::write(dir.path().join("photo.jpg"), b"\xff\xd8\xff\xe0 JFIF").unwrap();

    let res = ingest_paths(
        [dir.path(), Path::new("/nonexistent/path")],
        &Limits::default(),
    );
    let ids: Vec<_> = res
        .reports
        .iter()
        .map(|(_, r)| r.metadata.report_id.as_str())
        .collect();
    assert_eq!(ids, ["minimal-1", "bis-7"]);
    assert_eq!(res.duplicates.len(), 2, "{:?}", res.duplicates);
    let errors: Vec<_> = res
        .errors
        .iter()
        .map(|(s, r)| {
            (
                s.rsplit('/').next().unwrap().to_owned(),
                r.split(':').next().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("path".to_owned(), "io".to_owned()),
            ("broken.xml".to_owned(), "truncated".to_owned()),
            ("empty.xml".to_owned(), "empty".to_owned()),
            ("photo.jpg".to_owned(), "unsupported_format".to_owned()),
        ]
    );
}
