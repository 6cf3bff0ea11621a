//! Conformance over the shared corpus of real-world reports
//! (`../shared/corpus/dmarc-aggregate`; when absent, a failure under CI and
//! a loud note elsewhere): every file parses, or fails with the reason the
//! corpus marks for it.

use std::path::{Path, PathBuf};

use authwarden_aggregate::{open_path, Limits};

/// Files the corpus marks as broken, with the error code we must give.
const EXPECTED_FAILURES: &[(&str, &str)] = &[
    ("parsedmarc/empty.xml", "empty"),
    ("parsedmarc/invalid_xml.xml", "invalid_xml"),
];

fn corpus() -> Option<PathBuf> {
    authwarden_test_support::corpus::dir("dmarc-aggregate")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).unwrap().flatten() {
        if sub.path().is_dir() {
            for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
                out.push(f.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn corpus_conformance() {
    let Some(dir) = corpus() else {
        return;
    };
    let limits = Limits::default();
    let mut parsed = 0;
    let mut table = Vec::new();
    let mut wrong = Vec::new();
    let all = files(&dir);
    for path in &all {
        let rel = path
            .strip_prefix(&dir)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let outcome = open_path(path, &limits).and_then(|payloads| {
            let mut reports = Vec::new();
            for p in payloads {
                reports.push(p.parse(&limits)?);
            }
            Ok(reports)
        });
        let expected = EXPECTED_FAILURES
            .iter()
            .find(|(f, _)| *f == rel)
            .map(|(_, c)| *c);
        let line = match (&outcome, expected) {
            (Ok(reports), None) => {
                parsed += 1;
                let records: usize = reports.iter().map(|r| r.records.len()).sum();
                let messages: u64 = reports.iter().map(|r| r.message_count()).sum();
                format!(
                    "ok    {rel}  reports={} records={records} messages={messages}",
                    reports.len()
                )
            }
            (Err(e), Some(code)) if e.code() == code => format!("fail  {rel}  (expected) {e}"),
            (Ok(_), Some(code)) => {
                wrong.push(format!("{rel}: parsed, expected {code}"));
                format!("WRONG {rel}  parsed but the corpus marks it {code}")
            }
            (Err(e), _) => {
                wrong.push(format!("{rel}: {e}"));
                format!("WRONG {rel}  {e}")
            }
        };
        table.push(line);
    }
    println!("{}", table.join("\n"));
    println!("parsed {parsed} of {} files", all.len());
    assert!(
        wrong.is_empty(),
        "unexpected outcomes:\n{}",
        wrong.join("\n")
    );
    assert_eq!(all.len(), 40, "the corpus holds 40 files");
    assert_eq!(parsed, 38);
}
