//! RFC 9990 report fields are kept in the history: `np`, `testing`,
//! `discovery_method` (policy_published) and `generator` (report_metadata)
//! of an ingested report come back from the Parquet files, and the
//! aggregate rows the checkers read carry them.

use std::path::Path;

use authwarden_e2e::{authwarden, write_config};
use authwarden_history::{aggregate_rows_of, HistoryStore};

#[test]
fn rfc9990_fields_are_kept_in_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = write_config(
        dir.path(),
        &format!(
            "history_dir = \"{}\"\n[[domains]]\nname = \"example.com\"\n",
            data.display()
        ),
    );
    let report = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/aggregate/tests/fixtures/rfc9990.xml");
    let run = authwarden(&["ingest", report.to_str().unwrap(), "--config", &config]);
    assert_eq!(run.code(), 0, "{run}");

    let frame = HistoryStore::new(&data).load_aggregate().unwrap();
    let column = |name: &str| -> Vec<Option<String>> {
        frame
            .column(name)
            .unwrap_or_else(|e| panic!("no column {name}: {e}"))
            .str()
            .unwrap()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    };
    assert!(frame.height() > 0);
    for (name, want) in [
        ("np", "reject"),
        ("testing", "n"),
        ("discovery_method", "treewalk"),
        ("generator", "Example Reporter 2.1"),
    ] {
        let values = column(name);
        assert!(
            values.iter().all(|v| v.as_deref() == Some(want)),
            "{name}: {values:?}"
        );
    }
    let rows = aggregate_rows_of(&frame).unwrap();
    assert!(rows.iter().all(|r| r.np.as_deref() == Some("reject")
        && r.testing.as_deref() == Some("n")
        && r.discovery_method.as_deref() == Some("treewalk")
        && r.generator.as_deref() == Some("Example Reporter 2.1")));
}
