//! The DMARC rollout phase of each domain over time, from Parquet history
//! written by the store.

mod common;

use std::fs::File;

use authwarden_dmarc::{DomainPhase, Phase, Policy as PhasePolicy};
use authwarden_history::polars::prelude::*;
use authwarden_history::{
    findings_frame, rollout_history, summary_frame, DomainFacts, DomainRollout, HistoryStore,
    RunMeta,
};
use chrono::{DateTime, TimeZone as _, Utc};
use common::meta;
use serde_json::{json, Map, Value};

fn store() -> (tempfile::TempDir, HistoryStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(dir.path().join("reports/data"));
    (dir, store)
}

/// What the dmarc-policy checker says of a found record.
fn dmarc(policy: &str, pct: u32, testing: bool) -> Value {
    let mut phase = if policy == "none" {
        "none".to_string()
    } else {
        format!("{policy} pct {pct}")
    };
    if testing {
        phase.push_str(" (testing)");
    }
    json!({"status": "found", "policy": policy, "pct": pct, "testing": testing, "phase": phase})
}

/// What the dmarc-policy checker says without a usable record.
fn dmarc_without(status: &str) -> Value {
    json!({"status": status, "policy": null, "pct": null, "testing": null, "phase": null})
}

/// What the rollout advisor says.
fn rollout(phase: &str, pct: u32, testing: bool) -> Value {
    json!({"phase": phase, "pct": pct, "testing": testing, "action": "hold"})
}

fn domain(name: &str, facts: &[(&str, Value)]) -> DomainFacts {
    let mut map = Map::new();
    for (key, value) in facts {
        map.insert((*key).to_string(), value.clone());
    }
    DomainFacts {
        domain: name.into(),
        facts: map,
    }
}

fn append(store: &HistoryStore, meta: &RunMeta, domains: &[DomainFacts]) {
    let findings = findings_frame(meta, &[]).unwrap();
    let summary = summary_frame(meta, &[], domains).unwrap();
    store.append(meta, &findings, &summary).unwrap();
}

fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn phase(policy: PhasePolicy, pct: u8, testing: bool) -> DomainPhase {
    DomainPhase::published(Phase::new(policy, pct, testing))
}

/// `date: from -> to` per change.
fn changes(d: &DomainRollout) -> Vec<String> {
    d.changes
        .iter()
        .map(|c| {
            format!(
                "{}: {} -> {}",
                c.at.format("%Y-%m-%d"),
                c.from.map(|p| p.describe()).unwrap_or_else(|| "-".into()),
                c.to
            )
        })
        .collect()
}

#[test]
fn changes_of_all_jobs_merged_in_time_and_repeats_dropped() {
    let (_dir, store) = store();
    let a = |facts: Value| domain("a.example", &[("dmarc", facts)]);
    append(
        &store,
        &meta("monthly", "2026-01", 2026, 1, 1),
        &[a(dmarc("none", 100, false))],
    );
    append(
        &store,
        &meta("monthly", "2026-02", 2026, 2, 1),
        &[a(dmarc("none", 100, false))],
    );
    // An ad-hoc check between two monthly runs sees the first step.
    append(
        &store,
        &meta("check", "2026-02-15", 2026, 2, 15),
        &[a(dmarc("quarantine", 10, true))],
    );
    append(
        &store,
        &meta("monthly", "2026-03", 2026, 3, 1),
        &[a(dmarc("quarantine", 10, true))],
    );
    // A DNS timeout: no phase, not a change.
    append(
        &store,
        &meta("monthly", "2026-04", 2026, 4, 1),
        &[a(dmarc_without("incomplete"))],
    );
    append(
        &store,
        &meta("annual", "2026", 2026, 5, 1),
        &[a(dmarc("quarantine", 50, false))],
    );
    append(
        &store,
        &meta("monthly", "2026-06", 2026, 6, 1),
        &[a(dmarc_without("missing"))],
    );

    let all = rollout_history(&store, day(2025, 1, 1), day(2026, 12, 31)).unwrap();
    assert_eq!(all.len(), 1);
    let d = &all[0];
    assert_eq!(d.domain, "a.example");
    assert_eq!(d.at_start, None);
    assert_eq!(
        changes(d),
        [
            "2026-01-01: - -> none",
            "2026-02-15: none -> quarantine pct 10 (testing)",
            "2026-05-01: quarantine pct 10 (testing) -> quarantine pct 50",
            "2026-06-01: quarantine pct 50 -> no record",
        ]
    );
    assert_eq!(d.current, DomainPhase::NoRecord);
    assert_eq!(d.since, Utc.with_ymd_and_hms(2026, 6, 1, 6, 0, 0).unwrap());
    assert_eq!(d.changes[1].run_id, "20260215T060000Z-check");

    // A window from April to May: the phase when it opens comes from the
    // run before it, `since` from the change before the window.
    let window = rollout_history(&store, day(2026, 3, 2), day(2026, 5, 2)).unwrap();
    let d = &window[0];
    assert_eq!(
        d.at_start,
        Some(phase(PhasePolicy::Quarantine, 10, true)),
        "the March run"
    );
    assert_eq!(
        changes(d),
        ["2026-05-01: quarantine pct 10 (testing) -> quarantine pct 50"]
    );
    assert_eq!(d.current, phase(PhasePolicy::Quarantine, 50, false));
    assert_eq!(
        d.last_seen,
        Utc.with_ymd_and_hms(2026, 5, 1, 6, 0, 0).unwrap()
    );

    // A window with no change (the March run repeats the phase, the April
    // run timed out): the phase held since before it.
    let quiet = rollout_history(&store, day(2026, 2, 20), day(2026, 4, 30)).unwrap();
    assert!(quiet[0].changes.is_empty());
    assert_eq!(
        quiet[0].since,
        Utc.with_ymd_and_hms(2026, 2, 15, 6, 0, 0).unwrap()
    );
}

#[test]
fn the_rollout_advisor_wins_over_the_dmarc_facts_and_gone_domains_drop_out() {
    let (_dir, store) = store();
    append(
        &store,
        &meta("monthly", "2026-01", 2026, 1, 1),
        &[
            // The advisor and the checker disagree on pct: the advisor wins.
            domain(
                "a.example",
                &[
                    ("dmarc", dmarc("quarantine", 100, false)),
                    ("rollout", rollout("quarantine", 25, false)),
                ],
            ),
            domain("old.example", &[("dmarc", dmarc("none", 100, false))]),
            // Neither checker ran for it.
            domain("b.example", &[("spf", json!({}))]),
        ],
    );
    append(
        &store,
        &meta("monthly", "2026-02", 2026, 2, 1),
        &[
            // The advisor without a usable record: the checker's facts count.
            domain(
                "a.example",
                &[
                    ("dmarc", dmarc("reject", 100, false)),
                    (
                        "rollout",
                        json!({"phase": null, "pct": null, "testing": null}),
                    ),
                ],
            ),
            domain("b.example", &[("dmarc", dmarc_without("multiple"))]),
        ],
    );

    let got = rollout_history(&store, day(2026, 1, 15), day(2026, 3, 1)).unwrap();
    let names: Vec<&str> = got.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(
        names,
        ["a.example", "b.example"],
        "old.example left in January"
    );
    assert_eq!(
        got[0].at_start,
        Some(phase(PhasePolicy::Quarantine, 25, false))
    );
    assert_eq!(
        changes(&got[0]),
        ["2026-02-01: quarantine pct 25 -> reject pct 100"]
    );
    assert_eq!(got[1].at_start, None);
    assert_eq!(changes(&got[1]), ["2026-02-01: - -> no record"]);

    // A window ending before any run: nothing.
    assert!(rollout_history(&store, day(2025, 1, 1), day(2025, 12, 31))
        .unwrap()
        .is_empty());
    assert!(rollout_history(
        &HistoryStore::new("missing-history"),
        day(2025, 1, 1),
        day(2027, 1, 1)
    )
    .unwrap()
    .is_empty());
}

#[test]
fn summaries_written_before_the_testing_and_rollout_columns_still_count() {
    let (_dir, store) = store();
    let old = meta("monthly", "2026-01", 2026, 1, 1);
    append(
        &store,
        &old,
        &[domain("a.example", &[("dmarc", dmarc("reject", 50, true))])],
    );
    // Rewrite the file as an older version wrote it.
    let path = store.summary_path(&old);
    let mut df = ParquetReader::new(File::open(&path).unwrap())
        .finish()
        .unwrap()
        .drop_many([
            "dmarc_status",
            "dmarc_testing",
            "rollout_phase",
            "rollout_pct",
            "rollout_testing",
        ]);
    assert!(df.column("dmarc_testing").is_err());
    ParquetWriter::new(File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();
    append(
        &store,
        &meta("monthly", "2026-02", 2026, 2, 1),
        &[domain("a.example", &[("dmarc", dmarc("reject", 50, true))])],
    );

    let got = rollout_history(&store, day(2025, 1, 1), day(2026, 12, 31)).unwrap();
    assert_eq!(
        changes(&got[0]),
        ["2026-01-01: - -> reject pct 50 (testing)"],
        "the testing flag is read from the phase text of the old file"
    );
    assert!(store.warnings().is_empty());
}
