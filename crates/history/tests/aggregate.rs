//! Aggregate rows in the history: Hive layout, dedupe by (org_name,
//! report_id) across appends, the seen index rebuilt when lost, and reading
//! everything back.

use std::path::Path;

use authwarden_aggregate::{ingest_paths, report_rows, AggregateRow, Classifier, Limits};
use authwarden_history::polars::prelude::*;
use authwarden_history::{aggregate_frame, aggregate_schema, HistoryStore};

fn fixtures() -> authwarden_aggregate::IngestResult {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../aggregate/tests/fixtures/classify");
    let result = ingest_paths([dir], &Limits::default());
    assert!(result.errors.is_empty(), "{:?}", result.errors);
    assert_eq!(result.reports.len(), 13);
    result
}

fn rows(result: &authwarden_aggregate::IngestResult) -> Vec<Vec<AggregateRow>> {
    let classifier = Classifier::default();
    result
        .reports
        .iter()
        .map(|(source, report)| report_rows(source, report, &classifier))
        .collect()
}

#[test]
fn frame_has_the_schema() {
    let result = fixtures();
    let rows: Vec<AggregateRow> = rows(&result).into_iter().flatten().collect();
    let df = aggregate_frame(&rows).unwrap();
    assert_eq!(df.height(), rows.len());
    let names: Vec<_> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let expected: Vec<_> = aggregate_schema()
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    assert_eq!(names, expected);
    for (name, dtype) in aggregate_schema() {
        assert_eq!(df.column(name).unwrap().dtype(), &dtype, "{name}");
    }
    let date = df
        .column("date")
        .unwrap()
        .str()
        .unwrap()
        .get(0)
        .unwrap()
        .to_string();
    assert_eq!(date, "2024-01-01");
}

#[test]
fn append_twice_writes_once_and_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let result = fixtures();
    let rows = rows(&result);
    let batch = || {
        result
            .reports
            .iter()
            .zip(&rows)
            .map(|((_, report), rows)| (report, rows.as_slice()))
    };
    let total_rows: usize = rows.iter().map(Vec::len).sum();

    let first = store.append_aggregate(batch()).unwrap();
    assert_eq!(first.written.len(), 13);
    assert!(first.already_ingested.is_empty());
    assert_eq!(first.rows, total_rows);
    let (_, _, path) = &first.written[0];
    let rel = path
        .strip_prefix(tmp.path())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        rel.starts_with("aggregate/domain=example.com/date=2024-01-01/classify.example-classify-"),
        "{rel}"
    );
    assert!(tmp.path().join("aggregate/_seen.json").is_file());
    assert!(store
        .aggregate_contains("classify.example", "classify-1")
        .unwrap());
    assert!(!store
        .aggregate_contains("classify.example", "nope")
        .unwrap());

    let second = store.append_aggregate(batch()).unwrap();
    assert!(second.written.is_empty());
    assert_eq!(second.already_ingested.len(), 13);
    assert_eq!(second.rows, 0);

    let df = store.load_aggregate().unwrap();
    assert_eq!(df.height(), total_rows);
    assert_eq!(
        df.column("domain").unwrap().str().unwrap().get(0),
        Some("example.com")
    );
    let messages: u64 = df.column("count").unwrap().u64().unwrap().sum().unwrap();
    let expected: u64 = result.reports.iter().map(|(_, r)| r.message_count()).sum();
    assert_eq!(messages, expected);

    // The index lost: rebuilt from the files, still nothing new.
    std::fs::remove_file(tmp.path().join("aggregate/_seen.json")).unwrap();
    let third = store.append_aggregate(batch()).unwrap();
    assert!(third.written.is_empty());
    assert_eq!(third.already_ingested.len(), 13);

    // A damaged index too, with a warning.
    std::fs::write(tmp.path().join("aggregate/_seen.json"), b"{not json").unwrap();
    let fourth = store.append_aggregate(batch()).unwrap();
    assert!(fourth.written.is_empty());
    assert!(store.warnings().iter().any(|w| w.contains("_seen.json")));
}

#[test]
fn empty_history_loads_an_empty_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let df = HistoryStore::new(tmp.path()).load_aggregate().unwrap();
    assert_eq!(df.height(), 0);
    assert_eq!(df.width(), aggregate_schema().len());
}
