//! DMARC failure reports (RFC 6591 / RFC 9991) end to end: the monthly run
//! on the bundled example ingests its failure reports into the history
//! (`failures` dataset, deduplicated) and shows them in the report beside
//! the aggregate reports' view of the same sources; the public ARF samples
//! and the project's own private-looking one are ingested too, and no word
//! of any reported message's body, subject or recipient reaches anything
//! under `reports/`.

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_e2e::{authwarden, copy_dir};
use authwarden_history::polars::prelude::*;
use authwarden_history::HistoryStore;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Text of the reported messages (bodies, subjects, local parts of
/// addresses) that must never be stored.
const PRIVATE: &[&str] = &[
    // config/example-reports/failure-reports-2026-11.mbox
    "EXAMPLE-PRIVATE-BODY",
    "Your account is suspended",
    "Confirm your password",
    "user1@receiver-one.example",
    "offers@bulk-offers.example",
    // crates/aggregate/tests/fixtures/arf/authwarden-private.eml
    "purple giraffe",
    "Secret quarterly invoice",
    "jane.private.recipient",
    "internal-ticket-998877",
    "bounce-77@",
    // the shared corpus's samples
    "just making sure DKIM is working",
    "Wir kaufen dein Auto",
    "You have a new bill from your bank",
    "randomuser@",
    "Spam Spam Spam",
];

/// Every string cell of a Parquet file.
fn parquet_strings(path: &Path) -> Vec<String> {
    let file = fs::File::open(path).unwrap();
    let df = ParquetReader::new(file).finish().unwrap();
    let mut out = Vec::new();
    for c in df.columns() {
        if let Ok(s) = c.cast(&DataType::String) {
            if let Ok(s) = s.str() {
                out.extend(s.iter().flatten().map(str::to_string));
            }
        }
    }
    out
}

fn assert_nothing_private(reports: &Path) {
    let all = files(reports);
    assert!(!all.is_empty());
    for file in &all {
        let bytes = fs::read(file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let strings = if file.extension().is_some_and(|e| e == "parquet") {
            parquet_strings(file)
        } else {
            Vec::new()
        };
        for marker in PRIVATE {
            assert!(
                !text.contains(marker),
                "{marker:?} is stored in {}",
                file.display()
            );
            assert!(
                !strings.iter().any(|s| s.contains(marker)),
                "{marker:?} is stored in a column of {}",
                file.display()
            );
        }
    }
}

#[test]
fn failure_reports_reach_the_history_and_the_report_without_any_body() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("config"), &dir.path().join("config"));
    // The project's own report with private-looking content, and the
    // shared corpus's samples where there is one (a missing corpus fails
    // under CI).
    let extra = dir.path().join("config/example-reports/arf");
    fs::create_dir_all(&extra).unwrap();
    fs::copy(
        root().join("crates/aggregate/tests/fixtures/arf/authwarden-private.eml"),
        extra.join("authwarden-private.eml"),
    )
    .unwrap();
    let mut corpus_reports = 0;
    if let Some(corpus) = authwarden_test_support::corpus::dir("failure") {
        for f in files(&corpus) {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".eml") {
                fs::copy(&f, extra.join(&name)).unwrap();
                if !name.contains("abuse") {
                    corpus_reports += 1;
                }
            }
        }
        assert_eq!(corpus_reports, 3);
    }
    let config = dir.path().join("config/example.toml");
    let config = config.to_str().unwrap();
    let run = authwarden(&["run", "monthly", "--config", config, "--period", "2026-11"]);
    assert_eq!(run.code(), 0, "{run}");
    // 5 distinct in the example (one sent twice), 1 private, the corpus's.
    let expected = 5 + 1 + corpus_reports;
    assert!(
        run.stdout.contains(&format!(
            "{expected} new DMARC failure reports (metadata only)"
        )),
        "{run}"
    );
    if corpus_reports > 0 {
        assert!(
            run.stdout
                .contains("a feedback report of type abuse, not a DMARC report"),
            "{run}"
        );
    }

    // In the history, once.
    let data = dir.path().join("reports/data");
    let store = HistoryStore::new(&data);
    let since = chrono::DateTime::from_timestamp(0, 0).unwrap();
    let until = chrono::Utc::now();
    let rows = store
        .failure_rows("monitoring.example", since, until)
        .unwrap();
    assert_eq!(rows.len(), 5);
    let spoofer: Vec<_> = rows
        .iter()
        .filter(|r| r.report.source_ip.as_deref() == Some("2001:db8:bad:1::66"))
        .collect();
    assert_eq!(spoofer.len(), 3);
    assert_eq!(spoofer[0].report.auth_failure.as_deref(), Some("dmarc"));
    assert_eq!(
        spoofer[0].report.mail_from_domain.as_deref(),
        Some("bulk-offers.example")
    );
    assert_eq!(
        spoofer[0].report.rcpt_to_domain.as_deref(),
        Some("receiver-one.example")
    );
    assert!(spoofer[0].report.rcpt_to_hash.is_some());
    let private = store.failure_rows("shop.example", since, until).unwrap();
    assert_eq!(private.len(), 1);
    assert_eq!(private[0].report.incidents, 3);
    assert_eq!(private[0].report.delivery_result.as_deref(), Some("reject"));

    // The report's section, each source with the aggregate reports' view.
    let text = fs::read_to_string(dir.path().join("reports/monthly/2026-11/report.txt")).unwrap();
    let section = text
        .split("DMARC FAILURE REPORTS IN 2026-11")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure section in\n{text}"));
    let section = section.split("=====").next().unwrap();
    for expected in [
        "monitoring.example",
        "by cause: bodyhash 2, dmarc 3",
        "2001:db8:bad:1::66: dmarc, 3 reports",
        "fail: unknown-source (likely spoofing)",
        "203.0.113.25: bodyhash, 2 reports",
        "partial: mailing-list (forwarding)",
        "DKIM: monitoring.example (mh1)",
    ] {
        assert!(section.contains(expected), "{expected:?} not in\n{section}");
    }
    let html = fs::read_to_string(dir.path().join("reports/monthly/2026-11/report.html")).unwrap();
    assert!(html.contains("DMARC failure reports in 2026-11"), "{html}");

    // A second run reads them again from the folder: nothing new.
    let folder = dir.path().join("config/example-reports");
    let again = authwarden(&[
        "ingest",
        folder.to_str().unwrap(),
        "--config",
        config,
        "--format",
        "json",
    ]);
    assert_eq!(again.code(), 0, "{again}");
    let summary = again.json();
    assert_eq!(summary["failures"]["new"], 0, "{summary}");
    assert_eq!(
        summary["failures"]["already_ingested"].as_u64(),
        Some(expected as u64 + 1),
        "the example's resent report counts as already held too: {summary}"
    );

    assert_nothing_private(&dir.path().join("reports"));
}
