//! Key age and rotation across simulated runs: a fixed clock per run and one
//! temporary history folder (`tests/age/key-a.zone`, then `key-b.zone`, the
//! same selector with a new key).

mod common;

use std::path::Path;
use std::sync::Arc;

use authwarden_api::serde_json::Value;
use authwarden_api::{CheckContext, Checker, DomainTarget, FixedClock, RunPaths};
use authwarden_checker_dkim::store::{KeyHistory, KeyStore};
use authwarden_checker_dkim::Dkim;
use authwarden_zone::ZoneResolver;
use chrono::{DateTime, TimeZone, Utc};
use common::{run_text, selector_facts, snapshot_value, Fixture};

fn zone(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/age")
        .join(format!("{name}.zone"));
    std::fs::read_to_string(path).unwrap()
}

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 6, 0, 0).unwrap()
}

fn codes(f: &Fixture) -> Vec<&str> {
    f.output.findings.iter().map(|f| f.code.as_str()).collect()
}

fn history(dir: &Path) -> KeyHistory {
    KeyStore::read_all(dir).unwrap()
}

#[tokio::test]
async fn first_seen_aged_rotated_aged_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = Some(dir.path());

    // Run 1: first sighting. Age 0, not exact (the key may be older).
    let r1 = run_text("key-a", &zone("key-a"), day(2026, 1, 5), data).await;
    assert!(codes(&r1).is_empty(), "{:#?}", r1.output.findings);
    let s1 = selector_facts(&r1, "s1");
    assert_eq!(s1["first_seen"], "2026-01-05");
    assert_eq!(s1["key_age_days"], 0);
    assert_eq!(s1["age_exact"], false);
    assert_eq!(s1["next_rotation"], "2026-04-05");
    insta::assert_json_snapshot!("age-1-first-seen", snapshot_value(&r1));

    // Run 2, 100 days later, same key: past the 90-day interval.
    let r2 = run_text("key-a", &zone("key-a"), day(2026, 4, 15), data).await;
    assert_eq!(codes(&r2), ["DKIM010"]);
    assert_eq!(selector_facts(&r2, "s1")["key_age_days"], 100);
    insta::assert_json_snapshot!("age-2-hundred-days", snapshot_value(&r2));

    // Run 3: a new key on s1, a rotation. Age 0 and exact.
    let r3 = run_text("key-b", &zone("key-b"), day(2026, 5, 1), data).await;
    assert_eq!(codes(&r3), ["DKIM013"]);
    let s1 = selector_facts(&r3, "s1");
    assert_eq!(s1["first_seen"], "2026-05-01");
    assert_eq!(s1["key_age_days"], 0);
    assert_eq!(s1["age_exact"], true);
    let rotations = s1["rotations"].as_array().unwrap();
    assert_eq!(rotations.len(), 1);
    assert_eq!(rotations[0]["date"], "2026-05-01");
    assert_eq!(
        rotations[0]["old_sha256"],
        selector_facts(&r2, "s1")["key_sha256"]
    );
    assert_eq!(rotations[0]["new_sha256"], s1["key_sha256"]);
    insta::assert_json_snapshot!("age-3-rotated", snapshot_value(&r3));

    // Run 4, 200 days after the rotation: past twice the interval, exact age.
    let r4 = run_text("key-b", &zone("key-b"), day(2026, 11, 17), data).await;
    assert_eq!(codes(&r4), ["DKIM011"]);
    assert_eq!(selector_facts(&r4, "s1")["key_age_days"], 200);
    assert_eq!(
        selector_facts(&r4, "s1")["rotations"],
        Value::from(rotations.clone())
    );
    insta::assert_json_snapshot!("age-4-two-hundred-days", snapshot_value(&r4));

    // The history file: both keys, one rotation.
    let h = history(dir.path());
    assert_eq!(h.keys.len(), 2);
    assert_eq!(h.rotations.len(), 1);
    assert_eq!(h.keys[0].last_seen.to_string(), "2026-04-15");
    assert_eq!(h.keys[1].first_seen.to_string(), "2026-05-01");
    assert_eq!(h.keys[1].last_seen.to_string(), "2026-11-17");
    assert_eq!(h.keys[1].bits, Some(2048));
    assert!(dir.path().join("dkim/keys/example.org.json").is_file());
}

/// A selector remembered by the history is probed even when nothing else
/// names it, and reported when it disappears.
#[tokio::test]
async fn history_selectors_are_probed() {
    let dir = tempfile::tempdir().unwrap();
    let data = Some(dir.path());
    run_text("key-a", &zone("key-a"), day(2026, 1, 5), data).await;
    let without_config = zone("key-a").replace("; selectors: s1\n", "");
    let r = run_text("key-a", &without_config, day(2026, 1, 6), data).await;
    assert_eq!(
        selector_facts(&r, "s1")["sources"],
        Value::from(vec!["history"])
    );
    let gone = "; config: {\"probe_catalog\": false}\n$ORIGIN example.org.\n@ MX 10 mail\nmail A 192.0.2.25\n";
    let r = run_text("gone", gone, day(2026, 1, 7), data).await;
    let s1 = selector_facts(&r, "s1");
    assert_eq!(s1["status"], "missing");
    assert_eq!(codes(&r), ["DKIM001"]);
}

/// Without a history folder (an ad-hoc check) ages are unknown.
#[tokio::test]
async fn no_history_folder_no_ages() {
    let r = run_text("key-a", &zone("key-a"), day(2026, 1, 5), None).await;
    let s1 = selector_facts(&r, "s1");
    assert_eq!(s1["first_seen"], Value::Null);
    assert_eq!(s1["key_age_days"], Value::Null);
    assert_eq!(s1["next_rotation"], Value::Null);
    assert_eq!(s1["rotations"], Value::Array(Vec::new()));
}

/// Domains checked at the same time share one history file without losing
/// each other's keys (the file lock serialises the read-modify-write).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_share_the_history() {
    let a = zone("key-a");
    let record = a
        .split_once("s1._domainkey")
        .map(|(_, r)| format!("s1._domainkey{r}"))
        .unwrap();
    let mut text = String::new();
    for i in 0..16 {
        text.push_str(&format!("$ORIGIN d{i}.example.\n{record}"));
    }
    let resolver = Arc::new(ZoneResolver::from_str(&text).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = CheckContext::new(resolver, Arc::new(FixedClock(day(2026, 2, 1))));
    ctx.extensions
        .insert(Arc::new(RunPaths::new(dir.path().to_path_buf())));
    let ctx = ctx.with_config(authwarden_api::serde_json::json!({"probe_catalog": false}));
    let mut tasks = Vec::new();
    for i in 0..16 {
        let ctx = ctx.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = DomainTarget::new(format!("d{i}.example"));
            t.settings = authwarden_api::serde_json::json!({"dkim": {"selectors": ["s1"]}});
            Dkim.check(&ctx, &t).await
        }));
    }
    for t in tasks {
        let out = t.await.unwrap();
        assert!(out.findings.is_empty(), "{:#?}", out.findings);
    }
    let h = history(dir.path());
    assert_eq!(h.keys.len(), 16);
    assert!(h.rotations.is_empty());
}

/// A rotation by selector: s2 is published with a new key in the run where
/// s1 is revoked; the event names both, and is recorded once.
#[tokio::test]
async fn new_selector_replacing_a_revoked_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = Some(dir.path());
    run_text("key-a", &zone("key-a"), day(2026, 1, 5), data).await;
    let rotated = zone("key-b")
        .replace("; selectors: s1", "; selectors: s2")
        .replace("s1._domainkey", "s2._domainkey")
        + "s1._domainkey TXT \"v=DKIM1; k=rsa; p=\"\n";
    let r = run_text("selector-rotation", &rotated, day(2026, 3, 1), data).await;
    assert_eq!(codes(&r), ["DKIM013"], "{:#?}", r.output.findings);
    let s2 = selector_facts(&r, "s2");
    assert_eq!(s2["age_exact"], true);
    assert_eq!(s2["rotations"][0]["old_selector"], "s1");
    assert_eq!(s2["rotations"][0]["date"], "2026-03-01");
    assert_eq!(selector_facts(&r, "s1")["status"], "revoked");
    insta::assert_json_snapshot!("age-selector-rotation", snapshot_value(&r));
    // The next run sees the same state: no new event.
    let again = run_text("selector-rotation", &rotated, day(2026, 3, 2), data).await;
    assert!(codes(&again).is_empty(), "{:#?}", again.output.findings);
    assert_eq!(history(dir.path()).rotations.len(), 1);
}

/// The files of the history folder's `dkim/keys/`, sorted.
fn key_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("dkim/keys"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A damaged key history is never a fresh start: the overdue key stays
/// unknown (DKIM012 naming the file and the error) rather than young, no
/// first-seen date is made up, and the file is left byte for byte; once
/// repaired, the key's age is the one it had.
#[tokio::test]
async fn a_damaged_history_is_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let data = Some(dir.path());
    run_text("key-a", &zone("key-a"), day(2026, 1, 5), data).await;
    let r = run_text("key-a", &zone("key-a"), day(2026, 7, 24), data).await;
    assert_eq!(codes(&r), ["DKIM011"], "{:#?}", r.output.findings);

    // Cut short, as a full disk or a careless edit leaves it.
    let file = dir.path().join("dkim/keys/example.org.json");
    let good = std::fs::read(&file).unwrap();
    let damaged = good[..good.len() / 2].to_vec();
    std::fs::write(&file, &damaged).unwrap();
    let files_before = key_files(dir.path());

    let r = run_text("key-a", &zone("key-a"), day(2026, 7, 25), data).await;
    assert_eq!(codes(&r), ["DKIM012"], "{:#?}", r.output.findings);
    let finding = &r.output.findings[0];
    let path = file.display().to_string();
    assert_eq!(finding.evidence["stage"], "history");
    assert_eq!(finding.evidence["file"], path.as_str());
    assert_eq!(finding.evidence["key_ages"], "unknown");
    let error = finding.evidence["error"].as_str().unwrap();
    assert!(
        error.contains("line"),
        "the JSON error with its position: {error}"
    );
    assert!(
        finding
            .message
            .starts_with(&format!("key history {path} is damaged (")),
        "{}",
        finding.message
    );
    // Nothing from scratch: no first sighting, no age, no next rotation.
    let s1 = selector_facts(&r, "s1");
    assert_eq!(s1["status"], "valid");
    assert_eq!(s1["first_seen"], Value::Null);
    assert_eq!(s1["key_age_days"], Value::Null);
    assert_eq!(s1["next_rotation"], Value::Null);
    assert_eq!(s1["rotations"], Value::Array(Vec::new()));
    // The file as it was, and nothing beside it (no new file, no leftovers).
    assert_eq!(std::fs::read(&file).unwrap(), damaged);
    assert_eq!(key_files(dir.path()), files_before);

    // Every run says so until the file is repaired.
    let r = run_text("key-a", &zone("key-a"), day(2026, 7, 26), data).await;
    assert_eq!(codes(&r), ["DKIM012"]);
    assert_eq!(std::fs::read(&file).unwrap(), damaged);

    // Restored from a backup: the age it had, still overdue.
    std::fs::write(&file, &good).unwrap();
    let r = run_text("key-a", &zone("key-a"), day(2026, 7, 27), data).await;
    assert_eq!(codes(&r), ["DKIM011"], "{:#?}", r.output.findings);
    let s1 = selector_facts(&r, "s1");
    assert_eq!(s1["first_seen"], "2026-01-05");
    assert_eq!(s1["key_age_days"], 203);
}

/// A history written by another format version is not this build's to
/// rewrite either.
#[tokio::test]
async fn a_history_of_another_format_version_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("dkim/keys");
    std::fs::create_dir_all(&keys).unwrap();
    let file = keys.join("example.org.json");
    let text = r#"{"version": 2, "keys": [], "rotations": [], "more": true}"#;
    std::fs::write(&file, text).unwrap();
    let r = run_text("key-a", &zone("key-a"), day(2026, 1, 5), Some(dir.path())).await;
    assert_eq!(codes(&r), ["DKIM012"], "{:#?}", r.output.findings);
    assert_eq!(
        r.output.findings[0].evidence["error"],
        "format version 2, this build reads 1"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
}
