//! `authwarden spf build` and the monthly report propose the same SPF record
//! (issue #13): on the bundled example, offline (its zone file), the record
//! `spf build rollout.example` builds from the inventory is the record the
//! inventory-drift finding DRIFT003 suggests for the sender SPF does not
//! authorize yet, and the record `authwarden plan` (the report's next steps)
//! publishes. All keep the published record's own-host terms (`mx`).
//!
//! The example is copied to a temporary directory first, so the run writes
//! nothing into the checkout.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use authwarden_e2e::{authwarden, copy_dir};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The record's terms after `v=spf1`, lower-case, without the default `+`.
fn terms(record: &str) -> BTreeSet<String> {
    record
        .split_ascii_whitespace()
        .skip(1)
        .map(|t| t.trim_start_matches('+').to_ascii_lowercase())
        .collect()
}

#[test]
fn spf_build_proposes_the_record_of_the_drift_finding() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("config"), &dir.path().join("config"));
    copy_dir(&root().join("templates"), &dir.path().join("templates"));
    let config = dir.path().join("config/example.toml");
    let config = config.to_str().unwrap();
    let reports = dir.path().join("config/example-reports");

    // DRIFT003 needs the reports that show SendGrid sending.
    let ingest = authwarden(&["ingest", "--config", config, reports.to_str().unwrap()]);
    assert_eq!(ingest.code(), 0, "{ingest}");
    let check = authwarden(&[
        "check",
        "rollout.example",
        "--config",
        config,
        "--format",
        "json",
    ]);
    let out = check.json();
    let drift: Vec<&Value> = out["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == "DRIFT003")
        .collect();
    assert_eq!(drift.len(), 1, "one DRIFT003 for rollout.example: {out:#}");
    let suggested = drift[0]["evidence"]["suggested_record"]
        .as_str()
        .unwrap_or_else(|| panic!("DRIFT003 suggests a record: {:#}", drift[0]));

    let build = authwarden(&[
        "spf",
        "build",
        "rollout.example",
        "--config",
        config,
        "--format",
        "json",
    ]);
    assert_eq!(build.code(), 0, "{build}");
    let built = build.json();
    let record = built["record"].as_str().expect("the built record");

    assert_eq!(
        record, "v=spf1 mx include:_spf.mailhost.example include:sendgrid.net -all",
        "{built:#}"
    );
    assert_eq!(record, suggested, "spf build and DRIFT003 disagree");
    assert_eq!(terms(record), terms(suggested));
    // The published `mx` is kept and the output says why.
    assert_eq!(built["kept_from_published"], serde_json::json!(["mx"]));
    assert_eq!(built["diff"]["removed"], serde_json::json!([]), "{built:#}");

    // The plan (the report's next steps) publishes the same SPF record.
    let plan = authwarden(&[
        "plan",
        "rollout.example",
        "--config",
        config,
        "--format",
        "json",
    ]);
    let plans = plan.json();
    let spf_after: Vec<&Value> = plans
        .as_array()
        .expect("one plan per domain")
        .iter()
        .filter(|p| p["domain"] == "rollout.example")
        .filter_map(|p| p["changes"].as_array())
        .flatten()
        .filter(|c| c["kind"] == "spf")
        .filter_map(|c| c["after"].as_array())
        .flatten()
        .collect();
    assert_eq!(spf_after, [record], "{plans:#}");

    let text = authwarden(&["spf", "build", "rollout.example", "--config", config]);
    assert_eq!(text.code(), 0, "{text}");
    assert!(
        text.stdout
            .contains("kept from the published record: mx (the domain's own hosts"),
        "{text}"
    );
}
