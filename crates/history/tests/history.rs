//! Frames, the Parquet store, comparison, trends and exports.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_api::{Cadence, Severity};
use authwarden_history::polars::prelude::*;
use authwarden_history::{
    annotate, compare, covered_period, export, export_to_path, findings_frame, period_for,
    summary_frame, trends, Comparison, ExportFormat, HistoryStore, RunMeta, Status,
};
use chrono::{FixedOffset, TimeZone as _, Utc};
use common::{dmarc_facts, finding, meta, no_facts};
use Severity::{Error, Note, Warning};

fn store() -> (tempfile::TempDir, HistoryStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(dir.path().join("reports/data"));
    (dir, store)
}

/// Builds both frames, compares, then appends, as the pipeline does.
fn run(
    store: &HistoryStore,
    meta: &RunMeta,
    findings: &[authwarden_api::Finding],
) -> (DataFrame, Comparison) {
    let domains: Vec<_> = ["a.example", "b.example"]
        .iter()
        .map(|d| dmarc_facts(d, "quarantine", 50))
        .collect();
    let df = findings_frame(meta, findings).unwrap();
    let summary = summary_frame(meta, findings, &domains).unwrap();
    let cmp = compare(store, meta, &df).unwrap();
    store.append(meta, &df, &summary).unwrap();
    (df, cmp)
}

fn status_of<'a>(cmp: &'a Comparison, key: &str) -> &'a Status {
    &cmp.rows
        .iter()
        .find(|r| r.key == key)
        .unwrap_or_else(|| panic!("no row for {key}"))
        .status
}

fn strings(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|s| s.map(str::to_string))
        .collect()
}

fn parquet_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn read_parquet(path: &Path) -> DataFrame {
    ParquetReader::new(fs::File::open(path).unwrap())
        .finish()
        .unwrap()
}

#[test]
fn a_run_covers_the_last_whole_period() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap();
    assert_eq!(covered_period(Cadence::Monthly, at), "2026-11");
    assert_eq!(covered_period(Cadence::Quarterly, at), "2026-Q3");
    assert_eq!(covered_period(Cadence::Annual, at), "2025");
    let late = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap();
    assert_eq!(covered_period(Cadence::Monthly, late), "2026-11");
    let january = Utc.with_ymd_and_hms(2027, 1, 1, 6, 0, 0).unwrap();
    assert_eq!(covered_period(Cadence::Monthly, january), "2026-12");
    assert_eq!(covered_period(Cadence::Quarterly, january), "2026-Q4");
    assert_eq!(covered_period(Cadence::Annual, january), "2026");
    assert_eq!(
        RunMeta::new(Some(Cadence::Monthly), at).period,
        "2026-11",
        "the run on 1 December reports November"
    );
}

#[test]
fn period_is_the_one_the_run_happens_in() {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap();
    assert_eq!(period_for(Cadence::Monthly, at), "2026-12");
    assert_eq!(period_for(Cadence::Quarterly, at), "2026-Q4");
    assert_eq!(period_for(Cadence::Annual, at), "2026");
    let april = Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap();
    assert_eq!(period_for(Cadence::Quarterly, april), "2026-Q2");
    assert_eq!(
        period_for(Cadence::Quarterly, april - chrono::Duration::seconds(1)),
        "2026-Q1"
    );

    // The calendar of the zone given counts: 00:30 on 1 January in UTC+2
    // is still 31 December in UTC.
    let tz = FixedOffset::east_opt(2 * 3600).unwrap();
    let local = tz.with_ymd_and_hms(2027, 1, 1, 0, 30, 0).unwrap();
    assert_eq!(period_for(Cadence::Annual, local), "2027");
    assert_eq!(
        period_for(Cadence::Annual, local.with_timezone(&Utc)),
        "2026"
    );

    let m = RunMeta::new(Some(Cadence::Monthly), local);
    assert_eq!(m.run_id, "20261231T223000000Z-monthly");
    // A run reports the whole period before it.
    assert_eq!((m.job.as_str(), m.period.as_str()), ("monthly", "2026-12"));
    let check = RunMeta::new(None, local);
    assert_eq!(
        (check.job.as_str(), check.period.as_str()),
        ("check", "2027-01-01")
    );
    assert_eq!(check.started_at_rfc3339(), "2026-12-31T22:30:00.000Z");
}

#[test]
fn findings_frame_has_one_row_per_finding() {
    let m = meta("monthly", "2026-11", 2026, 11, 1);
    let findings = [
        finding("a.example", "SPF001", "a.example", Error),
        finding("b.example", "DMARC003", "_dmarc.b.example", Warning),
    ];
    let df = findings_frame(&m, &findings).unwrap();
    assert_eq!(df.height(), 2);
    let names: Vec<&str> = df.get_column_names().iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "run_id",
            "job",
            "period",
            "timestamp",
            "checker",
            "code",
            "name",
            "severity",
            "domain",
            "subject",
            "message",
            "help",
            "evidence",
            "key"
        ]
    );
    assert_eq!(
        df.column("timestamp").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    );
    assert_eq!(
        df.column("timestamp")
            .unwrap()
            .datetime()
            .unwrap()
            .physical()
            .get(0),
        Some(m.started_at.timestamp_millis())
    );
    assert_eq!(
        strings(&df, "key"),
        [
            Some("a.example|SPF001|a.example".to_string()),
            Some("b.example|DMARC003|_dmarc.b.example".to_string())
        ]
    );
    assert_eq!(strings(&df, "severity")[1].as_deref(), Some("warning"));
    assert_eq!(
        strings(&df, "run_id")[1].as_deref(),
        Some(m.run_id.as_str())
    );
    let evidence: serde_json::Value =
        serde_json::from_str(strings(&df, "evidence")[0].as_deref().unwrap()).unwrap();
    assert_eq!(evidence, serde_json::json!({"lookups": 13, "limit": 10}));

    let empty = findings_frame(&m, &[]).unwrap();
    assert_eq!((empty.height(), empty.width()), (0, 14));
}

#[test]
fn summary_frame_counts_per_domain() {
    let m = meta("monthly", "2026-11", 2026, 11, 1);
    let findings = [
        finding("a.example", "SPF001", "a.example", Error),
        finding("a.example", "SPF002", "a.example", Error),
        finding("a.example", "DKIM001", "sel._domainkey.a.example", Warning),
        finding("b.example", "DMARC010", "b.example", Note),
        finding("c.example", "SPF001", "c.example", Warning),
    ];
    let domains = [
        dmarc_facts("a.example", "reject", 100),
        no_facts("b.example"),
        dmarc_facts("quiet.example", "none", 0),
    ];
    let df = summary_frame(&m, &findings, &domains).unwrap();
    assert_eq!(
        strings(&df, "domain"),
        ["a.example", "b.example", "quiet.example", "c.example"].map(|s| Some(s.to_string()))
    );
    let u32s = |name: &str| -> Vec<u32> {
        df.column(name)
            .unwrap()
            .u32()
            .unwrap()
            .iter()
            .map(|v| v.unwrap())
            .collect()
    };
    assert_eq!(u32s("errors"), [2, 0, 0, 0]);
    assert_eq!(u32s("warnings"), [1, 0, 0, 1]);
    assert_eq!(u32s("notes"), [0, 1, 0, 0]);
    assert_eq!(u32s("total"), [3, 1, 0, 1]);
    assert_eq!(
        strings(&df, "dmarc_policy"),
        [Some("reject".into()), None, Some("none".into()), None]
    );
    let pct: Vec<Option<i64>> = df
        .column("dmarc_pct")
        .unwrap()
        .i64()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(pct, [Some(100), None, Some(0), None]);
    assert_eq!(
        strings(&df, "dmarc_phase")[0].as_deref(),
        Some("reject pct 100")
    );
    assert_eq!(strings(&df, "period")[3].as_deref(), Some("2026-11"));
}

#[test]
fn append_writes_hive_partitioned_parquet_without_partition_columns() {
    let (_dir, store) = store();
    let m = meta("monthly", "2026-11", 2026, 11, 1);
    let findings = [
        finding("a.example", "SPF001", "a.example", Error),
        finding("b.example", "DMARC003", "_dmarc.b.example", Warning),
    ];
    let (df, _) = run(&store, &m, &findings);

    let root = store.root();
    let relative: Vec<String> = parquet_files(root)
        .iter()
        .map(|p| p.strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        relative,
        [
            "findings/job=monthly/period=2026-11/20261101T060000Z-monthly.parquet",
            "runs/job=monthly/period=2026-11/20261101T060000Z-monthly.parquet",
            "summary/job=monthly/period=2026-11/20261101T060000Z-monthly.parquet",
        ],
        "no temporary file may be left behind"
    );

    // What a Hive reader sees in a file: everything but the partition columns.
    let raw = read_parquet(&store.findings_path(&m));
    let names: Vec<&str> = raw.get_column_names().iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "run_id",
            "timestamp",
            "checker",
            "code",
            "name",
            "severity",
            "domain",
            "subject",
            "message",
            "help",
            "evidence",
            "key"
        ]
    );
    assert_eq!(
        raw.column("timestamp").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    );
    let raw_summary = read_parquet(&store.summary_path(&m));
    assert!(raw_summary.column("job").is_err() && raw_summary.column("period").is_err());
    assert_eq!(raw_summary.height(), 2);

    // Read back through the store: the same frame, partition columns restored.
    let back = store.load_findings("monthly", &m.run_id).unwrap();
    assert_eq!(back.schema(), df.schema());
    assert!(back.equals_missing(&df));
    assert_eq!(store.runs("monthly").unwrap(), vec![m.clone()]);
    assert!(store.runs("annual").unwrap().is_empty());
    assert!(store.warnings().is_empty());
}

#[test]
fn append_again_replaces_the_run() {
    let (_dir, store) = store();
    let m = meta("monthly", "2026-11", 2026, 11, 1);
    run(
        &store,
        &m,
        &[finding("a.example", "SPF001", "a.example", Error)],
    );
    run(
        &store,
        &m,
        &[
            finding("a.example", "SPF001", "a.example", Error),
            finding("a.example", "SPF002", "a.example", Error),
        ],
    );
    assert_eq!(
        store.load_findings("monthly", &m.run_id).unwrap().height(),
        2
    );
    assert_eq!(store.runs("monthly").unwrap().len(), 1);

    // Re-filed under another period: the old files go.
    let moved = RunMeta {
        period: "2026-12".into(),
        ..m.clone()
    };
    run(&store, &moved, &[]);
    assert_eq!(store.runs("monthly").unwrap(), vec![moved.clone()]);
    assert_eq!(parquet_files(store.root()).len(), 3);
    assert!(!store.findings_path(&m).exists());
}

#[test]
fn append_rejects_names_unfit_for_paths_and_frames_missing_columns() {
    let (_dir, store) = store();
    let mut m = meta("monthly", "2026-11", 2026, 11, 1);
    m.run_id = "../escape".into();
    let df = findings_frame(&m, &[]).unwrap();
    let summary = summary_frame(&m, &[], &[]).unwrap();
    let err = store.append(&m, &df, &summary).unwrap_err().to_string();
    assert!(err.contains("`../escape`"), "{err}");

    let m = meta("monthly", "2026-11", 2026, 11, 1);
    let without_key = df.drop("key").unwrap();
    let err = store
        .append(&m, &without_key, &summary)
        .unwrap_err()
        .to_string();
    assert!(err.contains("findings") && err.contains("`key`"), "{err}");
    assert!(!store.root().exists(), "nothing written");
}

#[test]
fn compare_splits_new_still_open_and_resolved_and_counts_runs_open() {
    let (_dir, store) = store();
    let spf = finding("a.example", "SPF001", "a.example", Error);
    let dkim = finding("a.example", "DKIM001", "s1._domainkey.a.example", Warning);
    let dmarc = finding("b.example", "DMARC003", "_dmarc.b.example", Warning);
    let tls = finding("b.example", "MTA001", "b.example", Note);

    let m1 = meta("monthly", "2026-10", 2026, 10, 1);
    let (_, c1) = run(&store, &m1, &[spf.clone(), dkim.clone(), dmarc.clone()]);
    assert_eq!((c1.new, c1.still_open, c1.resolved), (3, 0, 0));
    assert_eq!(c1.previous_run, None);

    // Second run: dkim fixed, tls appears.
    let m2 = meta("monthly", "2026-11", 2026, 11, 1);
    let (df2, c2) = run(&store, &m2, &[spf.clone(), dmarc.clone(), tls.clone()]);
    assert_eq!((c2.new, c2.still_open, c2.resolved), (1, 2, 1));
    assert_eq!(c2.previous_run.as_deref(), Some(m1.run_id.as_str()));
    assert_eq!(
        status_of(&c2, "a.example|SPF001|a.example"),
        &Status::StillOpen {
            runs_open: 2,
            since: "2026-10".into()
        }
    );
    assert_eq!(status_of(&c2, "b.example|MTA001|b.example"), &Status::New);
    let resolved = c2.rows.last().unwrap();
    assert_eq!(resolved.status, Status::Resolved);
    assert_eq!(resolved.key, "a.example|DKIM001|s1._domainkey.a.example");
    assert_eq!(resolved.severity, Warning);
    assert_eq!(resolved.message, dkim.message);
    assert_eq!(c2.rows.len(), 4);

    let annotated = annotate(&df2, &c2).unwrap();
    assert_eq!(
        strings(&annotated, "status"),
        ["still-open", "still-open", "new"].map(|s| Some(s.to_string()))
    );
    let runs_open: Vec<Option<u32>> = annotated
        .column("runs_open")
        .unwrap()
        .u32()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(runs_open, [Some(2), Some(2), Some(1)]);

    // Third run: spf still there, dkim back (a new streak), dmarc fixed.
    let m3 = meta("monthly", "2026-12", 2026, 12, 1);
    let (_, c3) = run(&store, &m3, &[spf.clone(), dkim.clone(), tls.clone()]);
    assert_eq!((c3.new, c3.still_open, c3.resolved), (1, 2, 1));
    assert_eq!(
        status_of(&c3, "a.example|SPF001|a.example"),
        &Status::StillOpen {
            runs_open: 3,
            since: "2026-10".into()
        }
    );
    assert_eq!(
        status_of(&c3, "b.example|MTA001|b.example"),
        &Status::StillOpen {
            runs_open: 2,
            since: "2026-11".into()
        }
    );
    assert_eq!(
        status_of(&c3, "a.example|DKIM001|s1._domainkey.a.example"),
        &Status::New
    );
    assert_eq!(
        status_of(&c3, "b.example|DMARC003|_dmarc.b.example"),
        &Status::Resolved
    );

    // Comparing after the append gives the same answer (the run skips itself).
    let df3 = store.load_findings("monthly", &m3.run_id).unwrap();
    assert_eq!(compare(&store, &m3, &df3).unwrap(), c3);

    // Other jobs keep their own history.
    let q = meta("quarterly", "2026-Q4", 2026, 12, 1);
    let (_, cq) = run(&store, &q, &[spf]);
    assert_eq!((cq.new, cq.previous_run), (1, None));
}

#[test]
fn trends_follow_each_domain_over_recent_runs() {
    let (_dir, store) = store();
    let months = [("2026-10", 10), ("2026-11", 11), ("2026-12", 12)];
    for (i, (period, month)) in months.iter().enumerate() {
        let m = meta("monthly", period, 2026, *month, 1);
        // a.example improves: 3, 2, 1 errors; b.example moves to reject.
        let findings: Vec<_> = (0..3 - i)
            .map(|n| finding("a.example", &format!("SPF00{n}"), "a.example", Error))
            .collect();
        let domains = [
            no_facts("a.example"),
            dmarc_facts(
                "b.example",
                if i == 2 { "reject" } else { "quarantine" },
                100,
            ),
        ];
        let df = findings_frame(&m, &findings).unwrap();
        let summary = summary_frame(&m, &findings, &domains).unwrap();
        store.append(&m, &df, &summary).unwrap();
    }

    let all = trends(&store, "monthly", 10).unwrap();
    assert_eq!(all.len(), 2);
    let a = &all[0];
    assert_eq!(a.domain, "a.example");
    let errors: Vec<u32> = a.points.iter().map(|p| p.errors).collect();
    assert_eq!(errors, [3, 2, 1]);
    let periods: Vec<&str> = a.points.iter().map(|p| p.period.as_str()).collect();
    assert_eq!(periods, ["2026-10", "2026-11", "2026-12"]);
    assert_eq!(a.points[0].dmarc_phase, None);
    assert_eq!(
        a.points[2].started_at,
        Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap()
    );
    let phases: Vec<Option<&str>> = all[1]
        .points
        .iter()
        .map(|p| p.dmarc_phase.as_deref())
        .collect();
    assert_eq!(
        phases,
        [
            Some("quarantine pct 100"),
            Some("quarantine pct 100"),
            Some("reject pct 100")
        ]
    );

    let last_two = trends(&store, "monthly", 2).unwrap();
    assert_eq!(last_two[0].points.len(), 2);
    assert_eq!(last_two[0].points[0].period, "2026-11");
    assert!(trends(&store, "annual", 5).unwrap().is_empty());

    let summaries = store.load_summaries("monthly", 2).unwrap();
    assert_eq!(summaries.height(), 4);
    assert_eq!(
        strings(&summaries, "job"),
        vec![Some("monthly".to_string()); 4]
    );
}

#[test]
fn exports_in_all_three_formats_read_back() {
    let m = meta("monthly", "2026-11", 2026, 11, 1);
    let findings = [
        finding("a.example", "SPF001", "a.example", Error),
        finding("b.example", "DMARC003", "_dmarc.b.example", Warning)
            .help("a help, with \"quotes\"\nand a newline"),
    ];
    let mut df = findings_frame(&m, &findings).unwrap();

    // CSV: header plus one record per row, fields quoted where needed.
    let mut csv = Vec::new();
    export(&mut df, ExportFormat::Csv, &mut csv).unwrap();
    let back = CsvReadOptions::default()
        .with_has_header(true)
        .into_reader_with_file_handle(std::io::Cursor::new(csv.clone()))
        .finish()
        .unwrap();
    assert_eq!(back.height(), 2);
    assert_eq!(back.width(), df.width());
    assert_eq!(strings(&back, "help"), strings(&df, "help"));
    assert_eq!(strings(&back, "key"), strings(&df, "key"));
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with("run_id,job,period,timestamp,"), "{text}");
    assert!(text.contains(",2026-11-01T06:00:00.000Z,"), "{text}");

    // JSON: one array of row objects.
    let mut json = Vec::new();
    export(&mut df, ExportFormat::Json, &mut json).unwrap();
    let rows: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(&json).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["code"], "DMARC003");
    assert_eq!(rows[1]["help"], findings[1].help);
    assert_eq!(rows[0]["timestamp"], "2026-11-01T06:00:00.000Z");
    let evidence: serde_json::Value =
        serde_json::from_str(rows[0]["evidence"].as_str().unwrap()).unwrap();
    assert_eq!(evidence["lookups"], 13);

    // Parquet, to a path: the frame itself.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out/findings.parquet");
    export_to_path(&mut df, ExportFormat::Parquet, &path).unwrap();
    let back = read_parquet(&path);
    assert!(back.equals_missing(&df));
    assert_eq!(back.schema(), df.schema());
    assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

    assert_eq!("json".parse::<ExportFormat>(), Ok(ExportFormat::Json));
    assert!("xlsx".parse::<ExportFormat>().is_err());
}

#[test]
fn damaged_history_files_are_skipped_with_a_warning() {
    let (_dir, store) = store();
    let spf = finding("a.example", "SPF001", "a.example", Error);
    let dkim = finding("a.example", "DKIM001", "s1._domainkey.a.example", Warning);
    let m1 = meta("monthly", "2026-09", 2026, 9, 1);
    let m2 = meta("monthly", "2026-10", 2026, 10, 1);
    let m3 = meta("monthly", "2026-11", 2026, 11, 1);
    let m4 = meta("monthly", "2026-12", 2026, 12, 1);
    run(&store, &m1, std::slice::from_ref(&spf));
    run(&store, &m2, &[spf.clone(), dkim.clone()]);
    run(&store, &m3, std::slice::from_ref(&spf));

    // The previous run's findings are garbage; its summary is cut short.
    fs::write(store.findings_path(&m3), b"this is not parquet").unwrap();
    let summary = store.summary_path(&m3);
    let bytes = fs::read(&summary).unwrap();
    fs::write(&summary, &bytes[..bytes.len() / 2]).unwrap();

    let df4 = findings_frame(&m4, std::slice::from_ref(&spf)).unwrap();
    let cmp = compare(&store, &m4, &df4).unwrap();
    // Compared with the last readable run instead; the damaged one does not
    // break the streak, nor count in it.
    assert_eq!(cmp.previous_run.as_deref(), Some(m2.run_id.as_str()));
    assert_eq!(
        status_of(&cmp, "a.example|SPF001|a.example"),
        &Status::StillOpen {
            runs_open: 3,
            since: "2026-09".into()
        }
    );
    assert_eq!(cmp.resolved, 1);

    let summaries = store.load_summaries("monthly", 10).unwrap();
    assert_eq!(summaries.height(), 4, "two domains in each readable run");

    let warnings = store.warnings();
    let findings_file = store.findings_path(&m3).display().to_string();
    let summary_file = summary.display().to_string();
    assert!(
        warnings.iter().any(|w| w.contains(&findings_file)),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains(&summary_file)),
        "{warnings:?}"
    );

    // Asked for directly, a damaged file is an error naming it.
    let err = store.load_findings("monthly", &m3.run_id).unwrap_err();
    assert!(err.to_string().contains(&findings_file), "{err}");

    // A damaged run record hides the run.
    fs::write(store.runs_path(&m1), b"PAR1garbagePAR1").unwrap();
    let runs = store.runs("monthly").unwrap();
    assert_eq!(runs, vec![m2, m3]);
}

#[test]
fn damaged_pages_behind_an_intact_footer_are_skipped_too() {
    let (_dir, store) = store();
    let spf = finding("a.example", "SPF001", "a.example", Error);
    let m1 = meta("monthly", "2026-10", 2026, 10, 1);
    let m2 = meta("monthly", "2026-11", 2026, 11, 1);
    let m3 = meta("monthly", "2026-12", 2026, 12, 1);
    run(&store, &m1, std::slice::from_ref(&spf));
    let many: Vec<_> = (0..500)
        .map(|i| finding(&format!("d{i}.example"), "SPF001", "x", Error))
        .collect();
    run(&store, &m2, &many);

    // Keep the magic and the footer (its length is in the last 8 bytes),
    // scramble the column chunks in between.
    let path = store.findings_path(&m2);
    let mut bytes = fs::read(&path).unwrap();
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    for (i, b) in bytes[4..n - 8 - footer].iter_mut().enumerate() {
        *b ^= 0x5a ^ (i as u8);
    }
    fs::write(&path, bytes).unwrap();

    let df3 = findings_frame(&m3, &[spf]).unwrap();
    let cmp = compare(&store, &m3, &df3).unwrap();
    assert_eq!(cmp.previous_run.as_deref(), Some(m1.run_id.as_str()));
    let file = path.display().to_string();
    assert!(
        store.warnings().iter().any(|w| w.contains(&file)),
        "{:?}",
        store.warnings()
    );
}
