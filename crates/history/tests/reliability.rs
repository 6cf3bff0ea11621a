//! Reliability of the history: windowed reads open only the partitions of
//! their window, damaged files are reported as data and repaired, lost
//! reports are ingested again, leftover temporary files go, write errors
//! name their cause, sums saturate, and damaged state never resolves a
//! finding.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_aggregate::{AggregateReport, AggregateRow, ReportHeader};
use authwarden_api::{Finding, Severity};
use authwarden_history::{
    compare, findings_frame, summary_frame, Comparison, Dataset, HistoryStore, MailQuery,
    ReportStart, RunMeta, Status,
};
use chrono::{DateTime, TimeZone, Utc};
use common::{finding, meta};

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

/// A one-day report of `domain` beginning at `day`, with one row per
/// (source, count, category).
fn report(
    domain: &str,
    id: &str,
    day: DateTime<Utc>,
    records: &[(&str, u64, &str)],
) -> (AggregateReport, Vec<AggregateRow>) {
    let mut rep = AggregateReport::default();
    rep.metadata.org_name = "google.com".into();
    rep.metadata.report_id = id.into();
    rep.metadata.date_range.begin = day.timestamp();
    rep.metadata.date_range.end = day.timestamp() + 86_399;
    rep.policy_published.domain = domain.into();
    let rows = records
        .iter()
        .map(|(ip, count, category)| AggregateRow {
            org_name: "google.com".into(),
            report_id: id.into(),
            source: "test".into(),
            begin: day.timestamp(),
            end: day.timestamp() + 86_399,
            domain: domain.into(),
            source_ip: ip.to_string(),
            count: *count,
            header_from: domain.into(),
            dkim_domains: Some(format!("{domain};esp.example")),
            dkim_selectors: Some(format!("s{};esp", day.format("%Y%m"))),
            dkim_results: Some("pass;pass".into()),
            category: category.to_string(),
            cause: if *category == "pass" {
                "aligned".into()
            } else {
                "unknown-source".into()
            },
            action: "look into it".into(),
            ..AggregateRow::default()
        })
        .collect();
    (rep, rows)
}

fn append(store: &HistoryStore, reports: &[(AggregateReport, Vec<AggregateRow>)]) {
    store
        .append_aggregate(reports.iter().map(|(r, rows)| (r, rows.as_slice())))
        .unwrap();
}

fn november() -> MailQuery {
    MailQuery::new(at(2026, 11, 1), at(2026, 12, 1))
}

/// Cuts a file to half its length, as a full disk or a bad copy does.
fn truncate(path: &Path) {
    let bytes = fs::read(path).unwrap();
    fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

fn file_of(store: &HistoryStore, domain: &str, day: DateTime<Utc>, id: &str) -> PathBuf {
    store.aggregate_path(domain, day.timestamp(), "google.com", id)
}

#[test]
fn a_truncated_report_file_is_reported_repaired_and_ingested_again() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let reports = [
        report(
            "a.example",
            "r1",
            at(2026, 11, 3),
            &[("192.0.2.1", 10, "pass")],
        ),
        report(
            "a.example",
            "r2",
            at(2026, 11, 4),
            &[("192.0.2.1", 7, "pass")],
        ),
    ];
    append(&store, &reports);
    let damaged_path = file_of(&store, "a.example", at(2026, 11, 4), "r2");
    truncate(&damaged_path);

    // Read: the damaged file's rows are missing, and that is said as data.
    let s = store.mail_summary(&november()).unwrap().unwrap();
    assert_eq!((s.messages, s.reports), (10, 1));
    let damaged = store.damaged();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    let d = &damaged[0];
    assert_eq!(d.table, Dataset::Aggregate);
    assert_eq!(d.path, damaged_path);
    assert_eq!(d.domain.as_deref(), Some("a.example"));
    assert_eq!(d.date.as_deref(), Some("2026-11-04"));
    assert!(d.reason.contains("footer"), "{}", d.reason);
    assert_eq!(
        d.description,
        "DMARC aggregate report rows of a.example for 2026-11-04"
    );
    let json = serde_json::to_value(d).unwrap();
    assert_eq!(json["table"], "aggregate");
    assert_eq!(json["date"], "2026-11-04");

    // Repair: moved aside (not deleted), forgotten by the seen index.
    let repair = store.repair().unwrap();
    assert_eq!(repair.quarantined.len(), 1, "{repair:?}");
    let moved = &repair.quarantined[0].moved_to;
    assert_eq!(
        moved,
        &tmp.path()
            .join("damaged/aggregate/domain=a.example/date=2026-11-04/google.com-r2.parquet")
    );
    assert!(moved.is_file() && !damaged_path.exists());
    let forgotten: Vec<_> = repair
        .forgotten
        .iter()
        .map(|f| (f.report_id.as_str(), f.why))
        .collect();
    assert_eq!(forgotten, [("r2", "damaged")]);
    assert!(!store.aggregate_contains("google.com", "r2").unwrap());
    assert!(store.aggregate_contains("google.com", "r1").unwrap());
    // A sound history: nothing more to do.
    assert!(store.repair().unwrap().is_empty());

    // Ingesting the source again writes the lost report, and only it.
    let again = store
        .append_aggregate(reports.iter().map(|(r, rows)| (r, rows.as_slice())))
        .unwrap();
    assert_eq!(again.written.len(), 1);
    assert_eq!(again.written[0].1, "r2");
    assert_eq!(again.already_ingested.len(), 1);
    let fresh = HistoryStore::new(tmp.path());
    let s = fresh.mail_summary(&november()).unwrap().unwrap();
    assert_eq!((s.messages, s.reports), (17, 2));
    assert!(fresh.damaged().is_empty());
}

#[test]
fn a_seen_report_whose_file_is_gone_or_damaged_is_written_again_without_a_repair() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let reports = [
        report(
            "a.example",
            "gone",
            at(2026, 11, 3),
            &[("192.0.2.1", 3, "pass")],
        ),
        report(
            "a.example",
            "cut",
            at(2026, 11, 5),
            &[("192.0.2.1", 4, "pass")],
        ),
        report(
            "a.example",
            "fine",
            at(2026, 11, 6),
            &[("192.0.2.1", 5, "pass")],
        ),
    ];
    append(&store, &reports);
    fs::remove_file(file_of(&store, "a.example", at(2026, 11, 3), "gone")).unwrap();
    let cut = file_of(&store, "a.example", at(2026, 11, 5), "cut");
    truncate(&cut);
    assert!(!store.aggregate_contains("google.com", "gone").unwrap());
    assert!(!store.aggregate_contains("google.com", "cut").unwrap());

    // The streaming ingest, as the jobs use it.
    let batch = store.aggregate_batch().unwrap();
    for (report, rows) in &reports {
        let header = ReportHeader {
            metadata: report.metadata.clone(),
            policy_published: report.policy_published.clone(),
            ..ReportHeader::default()
        };
        match batch.start(&header).unwrap() {
            ReportStart::New(mut w) => {
                for row in rows {
                    w.push(row.clone()).unwrap();
                }
                batch.finish(w).unwrap();
            }
            ReportStart::AlreadyIngested => assert_eq!(report.metadata.report_id, "fine"),
            ReportStart::Duplicate => panic!("no duplicate in this batch"),
        }
    }
    let summary = batch.into_summary().unwrap();
    // "gone" and "cut" written again (a row each), "fine" not.
    assert_eq!(summary.rows, 2);
    // The damaged file was kept, aside.
    assert!(tmp
        .path()
        .join("damaged/aggregate/domain=a.example/date=2026-11-05/google.com-cut.parquet")
        .is_file());
    let fresh = HistoryStore::new(tmp.path());
    let s = fresh.mail_summary(&november()).unwrap().unwrap();
    assert_eq!((s.messages, s.reports), (12, 3));
    assert!(fresh.aggregate_contains("google.com", "cut").unwrap());
}

/// Writes garbage under a `.parquet` name in an aggregate partition.
fn plant_garbage(root: &Path, domain: &str, date: &str) -> PathBuf {
    let dir = root.join(format!("aggregate/domain={domain}/date={date}"));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("garbage.parquet");
    fs::write(&path, b"PAR1 this is not a parquet file at all PAR1").unwrap();
    path
}

#[test]
fn window_reads_never_open_a_file_outside_their_window() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    append(
        &store,
        &[
            report(
                "a.example",
                "n1",
                at(2026, 11, 3),
                &[("192.0.2.1", 10, "pass"), ("203.0.113.9", 2, "fail")],
            ),
            report(
                "other.example",
                "o1",
                at(2026, 11, 3),
                &[("192.0.2.1", 99, "pass")],
            ),
        ],
    );
    // Damaged files outside every window of the November job: long before,
    // and in November but for a domain not asked for.
    let old = plant_garbage(tmp.path(), "a.example", "2025-01-15");
    plant_garbage(tmp.path(), "not-configured.example", "2026-11-10");

    let mut q = november();
    q.trend_start = at(2026, 6, 1);
    let q = q.with_domains(["A.Example.", "other.example"]);
    let s = store.mail_summary(&q).unwrap().unwrap();
    let names: Vec<_> = s.domains.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(names, ["a.example", "other.example"]);
    assert_eq!(s.messages, 111);
    assert_eq!(s.latest_report, Some(at(2026, 11, 3)));
    let rows = store
        .aggregate_rows("a.example", at(2026, 10, 1), at(2026, 12, 1))
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        store.observed_dkim_selectors("a.example").unwrap(),
        ["s202611"]
    );
    assert!(store.damaged().is_empty(), "{:?}", store.damaged());
    assert!(store.warnings().is_empty(), "{:?}", store.warnings());

    // A window that holds the damaged file reads it, and says so.
    let rows = store
        .aggregate_rows("a.example", at(2025, 1, 1), at(2025, 2, 1))
        .unwrap();
    assert!(rows.is_empty());
    let damaged = store.damaged();
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].path, old);
    assert_eq!(damaged[0].date.as_deref(), Some("2025-01-15"));
    // So does a summary of every domain.
    let s = HistoryStore::new(tmp.path());
    s.mail_summary(&november()).unwrap().unwrap();
    assert_eq!(s.damaged().len(), 1);
    assert_eq!(
        s.damaged()[0].domain.as_deref(),
        Some("not-configured.example")
    );
}

#[test]
fn a_domain_filter_leaves_out_the_domains_not_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    append(
        &store,
        &[
            report(
                "a.example",
                "a1",
                at(2026, 11, 3),
                &[("192.0.2.1", 10, "pass")],
            ),
            report(
                "stranger.example",
                "s1",
                at(2026, 11, 3),
                &[("192.0.2.1", 99, "fail")],
            ),
        ],
    );
    let s = store
        .mail_summary(&november().with_domains(["a.example"]))
        .unwrap()
        .unwrap();
    assert_eq!(s.domains.len(), 1);
    assert_eq!((s.messages, s.fail, s.reports), (10, 0, 1));
    // Only domains without any report: nothing to summarise.
    assert_eq!(
        store
            .mail_summary(&november().with_domains(["none.example"]))
            .unwrap(),
        None
    );
    let all = store.mail_summary(&november()).unwrap().unwrap();
    assert_eq!(all.domains.len(), 2);
}

#[test]
fn a_damaged_page_behind_an_intact_footer_is_found_by_the_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let many: Vec<(&str, u64, &str)> = (0..2000).map(|_| ("192.0.2.1", 1, "pass")).collect();
    append(
        &store,
        &[
            report("a.example", "big", at(2026, 11, 3), &many),
            report(
                "a.example",
                "ok",
                at(2026, 11, 4),
                &[("192.0.2.1", 5, "pass")],
            ),
        ],
    );
    let path = file_of(&store, "a.example", at(2026, 11, 3), "big");
    let mut bytes = fs::read(&path).unwrap();
    let n = bytes.len();
    let footer = u32::from_le_bytes(bytes[n - 8..n - 4].try_into().unwrap()) as usize;
    for (i, b) in bytes[4..n - 8 - footer].iter_mut().enumerate() {
        *b ^= 0x5a ^ (i as u8);
    }
    fs::write(&path, bytes).unwrap();

    let s = store.mail_summary(&november()).unwrap().unwrap();
    assert_eq!(s.messages, 5);
    let damaged = store.damaged();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0].path, path);
    let verified = store.verify().unwrap();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].path, path);
}

#[test]
fn message_counts_near_the_u64_limit_saturate() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let max = u64::MAX;
    append(
        &store,
        &[report(
            "a.example",
            "huge",
            at(2026, 11, 3),
            &[
                ("192.0.2.1", max, "pass"),
                ("192.0.2.1", max, "pass"),
                ("192.0.2.2", max, "fail"),
                ("192.0.2.2", max, "fail"),
                ("192.0.2.3", 5, "partial"),
            ],
        )],
    );
    let s = store.mail_summary(&november()).unwrap().unwrap();
    // 4 × (2^64 − 1) + 5 wraps to 1 in u64 arithmetic.
    assert_eq!(s.messages, max);
    assert_eq!((s.pass, s.fail, s.partial), (max, max, 5));
    let d = &s.domains[0];
    assert_eq!((d.messages, d.pass, d.fail, d.partial), (max, max, max, 5));
    assert_eq!(d.failing_sources[0].messages, max);
    assert_eq!(d.failing_sources[0].source_ip, "192.0.2.2");
    let new = d
        .new_sources
        .iter()
        .find(|n| n.source_ip == "192.0.2.1")
        .unwrap();
    assert_eq!((new.messages, new.pass), (max, max));
    // Exact below the limit: 2^63 + 2^63 − 1 is u64::MAX.
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    append(
        &store,
        &[report(
            "a.example",
            "edge",
            at(2026, 11, 3),
            &[
                ("192.0.2.1", 1 << 63, "pass"),
                ("192.0.2.1", (1 << 63) - 1, "pass"),
            ],
        )],
    );
    let s = store.mail_summary(&november()).unwrap().unwrap();
    assert_eq!(s.messages, max);
    assert_eq!(s.domains[0].pass_rate(), Some(1.0));
}

#[test]
fn rows_and_selectors_read_their_domain_and_window() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    append(
        &store,
        &[
            report(
                "a.example",
                "old",
                at(2025, 6, 1),
                &[("192.0.2.1", 1, "pass")],
            ),
            report(
                "a.example",
                "mid",
                at(2026, 6, 1),
                &[("192.0.2.1", 2, "pass")],
            ),
            report(
                "a.example",
                "new",
                at(2026, 11, 3),
                &[("192.0.2.1", 3, "pass")],
            ),
            report(
                "news.a.example",
                "sub",
                at(2026, 11, 4),
                &[("192.0.2.1", 4, "pass")],
            ),
            report(
                "b.example",
                "b",
                at(2026, 11, 3),
                &[("192.0.2.1", 5, "pass")],
            ),
        ],
    );
    let rows = store
        .aggregate_rows("A.example.", at(2026, 6, 1), at(2026, 11, 3))
        .unwrap();
    let ids: Vec<_> = rows.iter().map(|r| r.report_id.as_str()).collect();
    assert_eq!(ids, ["mid"], "since included, until excluded");
    assert_eq!(rows[0].count, 2);
    assert_eq!(rows[0].domain, "a.example");
    assert_eq!(rows[0].begin, at(2026, 6, 1).timestamp());
    assert_eq!(rows[0].dkim_selectors.as_deref(), Some("s202606;esp"));

    // The selectors of the last 400 days up to the latest report of the
    // domain or its subdomains: June 2025 is older than that.
    let mut sub = report(
        "news.a.example",
        "sub2",
        at(2026, 11, 5),
        &[("192.0.2.1", 4, "pass")],
    );
    sub.1[0].dkim_domains = Some("a.example".into());
    sub.1[0].dkim_selectors = Some("parent".into());
    append(&store, &[sub]);
    assert_eq!(
        store.observed_dkim_selectors("a.example").unwrap(),
        ["parent", "s202606", "s202611"]
    );
    assert!(store
        .observed_dkim_selectors("c.example")
        .unwrap()
        .is_empty());
}

#[test]
fn leftover_temporary_files_are_removed_when_an_ingest_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    append(
        &store,
        &[report(
            "a.example",
            "r1",
            at(2026, 11, 3),
            &[("192.0.2.1", 1, "pass")],
        )],
    );
    // A PID that is not running any more: a child that has exited.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let dir = tmp
        .path()
        .join("aggregate/domain=a.example/date=2026-11-03");
    let stale = dir.join(format!(".google.com-r9.parquet.tmp-{dead}-0"));
    let live = dir.join(format!(
        ".google.com-r8.parquet.tmp-{}-0",
        std::process::id()
    ));
    fs::write(&stale, b"half a file").unwrap();
    fs::write(&live, b"being written").unwrap();
    drop(store.aggregate_batch().unwrap());
    assert!(!stale.exists(), "the dead writer's file is removed");
    assert!(live.exists(), "a young file of a running writer is kept");

    // repair() does the same in the run datasets.
    let m = meta("monthly", "2026-11", 2026, 11, 1);
    let df = findings_frame(&m, &[]).unwrap();
    let summary = summary_frame(&m, &[], &[]).unwrap();
    store.append(&m, &df, &summary).unwrap();
    let run_tmp = store
        .findings_path(&m)
        .with_file_name(format!(".{}.parquet.tmp-{dead}", m.run_id));
    fs::write(&run_tmp, b"half").unwrap();
    let repair = store.repair().unwrap();
    assert_eq!(repair.removed_temporary, std::slice::from_ref(&run_tmp));
    assert!(!run_tmp.exists());
    assert!(repair.quarantined.is_empty());
}

#[test]
fn a_full_disk_is_named_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let m = meta("monthly", "2026-11", 2026, 11, 1);
    let findings: Vec<Finding> = (0..50)
        .map(|i| finding(&format!("d{i}.example"), "SPF001", "x", Severity::Error))
        .collect();
    let df = findings_frame(&m, &findings).unwrap();
    let summary = summary_frame(&m, &findings, &[]).unwrap();
    // The temporary file the store writes through is a device that
    // answers every write with ENOSPC.
    let path = store.findings_path(&m);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tmp_name = path.with_file_name(format!(".{}.parquet.tmp-{}", m.run_id, std::process::id()));
    std::os::unix::fs::symlink("/dev/full", &tmp_name).unwrap();
    let err = store.append(&m, &df, &summary).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "cannot write {}: No space left on device (os error 28)",
            path.display()
        )
    );
    assert!(!path.exists());
}

/// A finding of `checker` with the given code name.
fn check(checker: &str, domain: &str, code: &str, name: &str, subject: &str) -> Finding {
    let mut f = finding(domain, code, subject, Severity::Warning);
    f.checker = checker.into();
    f.name = name.into();
    f
}

fn run(store: &HistoryStore, m: &RunMeta, findings: &[Finding]) -> Comparison {
    let df = findings_frame(m, findings).unwrap();
    let cmp = compare(store, m, &df).unwrap();
    let summary = summary_frame(m, findings, &[]).unwrap();
    store.append(m, &df, &summary).unwrap();
    cmp
}

fn status<'a>(cmp: &'a Comparison, code: &str) -> &'a Status {
    &cmp.rows
        .iter()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no {code} in {:?}", cmp.rows))
        .status
}

#[test]
fn an_incomplete_check_never_resolves_a_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let weak = check("dkim", "a.example", "DKIM003", "dkim-key-weak", "s1");
    let spf = check("spf", "a.example", "SPF001", "spf-too-many", "a.example");
    let incomplete = check(
        "dkim",
        "a.example",
        "DKIM012",
        "dkim-check-incomplete",
        "a.example",
    );
    let other = check("dkim", "b.example", "DKIM003", "dkim-key-weak", "s1");
    let m1 = meta("quarterly", "2026-Q1", 2026, 1, 1);
    let m2 = meta("quarterly", "2026-Q2", 2026, 4, 1);
    let m3 = meta("quarterly", "2026-Q3", 2026, 7, 1);
    let m4 = meta("quarterly", "2026-Q4", 2026, 10, 1);
    run(&store, &m1, &[weak.clone(), spf.clone(), other.clone()]);

    // The DKIM check of a.example did not complete: its finding stays open.
    let c2 = run(&store, &m2, std::slice::from_ref(&incomplete));
    assert_eq!(
        status(&c2, "DKIM003"),
        &Status::NotRechecked {
            runs_open: 1,
            since: "2026-Q1".into()
        }
    );
    // b.example's DKIM check and a.example's SPF check did complete.
    let resolved: Vec<_> = c2
        .rows
        .iter()
        .filter(|r| r.status == Status::Resolved)
        .map(|r| (r.domain.as_str(), r.code.as_str()))
        .collect();
    assert_eq!(
        resolved,
        [("a.example", "SPF001"), ("b.example", "DKIM003")]
    );
    assert_eq!((c2.new, c2.resolved, c2.not_rechecked), (1, 2, 1));
    let json = serde_json::to_value(status(&c2, "DKIM003")).unwrap();
    assert_eq!(json["kind"], "not-rechecked");

    // Completed again, the finding is back: open since Q1, in two runs
    // before this one (the incomplete one neither counts nor breaks it).
    let c3 = run(&store, &m3, std::slice::from_ref(&weak));
    assert_eq!(
        status(&c3, "DKIM003"),
        &Status::StillOpen {
            runs_open: 2,
            since: "2026-Q1".into()
        }
    );
    assert_eq!(status(&c3, "DKIM012"), &Status::Resolved);

    // A crashed checker resolves nothing either.
    let crashed = check("engine", "a.example", "ENGINE001", "check-crashed", "dkim");
    let c4 = run(&store, &m4, &[crashed]);
    assert_eq!(
        status(&c4, "DKIM003"),
        &Status::NotRechecked {
            runs_open: 2,
            since: "2026-Q1".into()
        }
    );
    assert_eq!(c4.resolved, 0);
}

#[test]
fn after_an_incomplete_run_the_last_complete_one_decides() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let weak = check("dkim", "a.example", "DKIM003", "dkim-key-weak", "s1");
    let incomplete = check(
        "dkim",
        "a.example",
        "DKIM012",
        "dkim-check-incomplete",
        "a.example",
    );
    let m1 = meta("quarterly", "2026-Q1", 2026, 1, 1);
    let m2 = meta("quarterly", "2026-Q2", 2026, 4, 1);
    let m3 = meta("quarterly", "2026-Q3", 2026, 7, 1);
    run(&store, &m1, std::slice::from_ref(&weak));
    run(&store, &m2, std::slice::from_ref(&incomplete));
    // Complete now and the weak key is gone: resolved against Q1.
    let c3 = run(&store, &m3, &[]);
    let codes: Vec<_> = c3
        .rows
        .iter()
        .map(|r| (r.code.as_str(), r.status.as_str()))
        .collect();
    assert_eq!(codes, [("DKIM012", "resolved"), ("DKIM003", "resolved")]);
}

#[test]
fn a_damaged_previous_run_is_passed_over_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    let spf = check("spf", "a.example", "SPF001", "spf-too-many", "a.example");
    let m1 = meta("monthly", "2026-10", 2026, 10, 1);
    let m2 = meta("monthly", "2026-11", 2026, 11, 1);
    let m3 = meta("monthly", "2026-12", 2026, 12, 1);
    run(&store, &m1, std::slice::from_ref(&spf));
    run(&store, &m2, &[]);
    truncate(&store.findings_path(&m2));
    let c3 = run(&store, &m3, std::slice::from_ref(&spf));
    assert_eq!(c3.previous_run.as_deref(), Some(m1.run_id.as_str()));
    assert_eq!(c3.unreadable_runs, std::slice::from_ref(&m2.run_id));
    let note = c3.note.as_deref().unwrap();
    assert!(
        note.contains(&m2.run_id) && note.contains(&m1.run_id),
        "{note}"
    );
    let damaged = store.damaged();
    assert_eq!(damaged.len(), 1);
    assert_eq!(damaged[0].table, Dataset::Findings);
    assert_eq!(damaged[0].run_id.as_deref(), Some(m2.run_id.as_str()));
    assert_eq!(damaged[0].period.as_deref(), Some("2026-11"));
    // Repair moves it aside; the comparison keeps passing over the run.
    let repair = store.repair().unwrap();
    assert_eq!(repair.quarantined.len(), 1);
    assert!(repair.forgotten.is_empty());
}

#[test]
fn older_files_with_other_column_types_or_fewer_columns_still_count() {
    use authwarden_history::polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(tmp.path());
    append(
        &store,
        &[report(
            "a.example",
            "new",
            at(2026, 11, 3),
            &[("192.0.2.1", 10, "pass")],
        )],
    );
    // A file as an older version might have written it: `pct` as Int64,
    // `count` as Int64, no `provider` or `action` column.
    let (_, rows) = report(
        "a.example",
        "old",
        at(2026, 11, 4),
        &[("192.0.2.9", 4, "fail")],
    );
    let df = authwarden_history::aggregate_frame(&rows).unwrap();
    let mut df = df
        .drop_many(["domain", "date", "provider", "action"])
        .lazy()
        .with_columns([
            col("pct").cast(DataType::Int64),
            col("count").cast(DataType::Int64),
        ])
        .collect()
        .unwrap();
    let path = file_of(&store, "a.example", at(2026, 11, 4), "old");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    ParquetWriter::new(fs::File::create(&path).unwrap())
        .finish(&mut df)
        .unwrap();

    let s = store.mail_summary(&november()).unwrap().unwrap();
    assert_eq!((s.messages, s.fail, s.reports), (14, 4, 2));
    let d = &s.domains[0];
    assert_eq!(d.failing_sources[0].source_ip, "192.0.2.9");
    assert_eq!(d.failing_sources[0].action, "");
    let rows = store
        .aggregate_rows("a.example", at(2026, 11, 1), at(2026, 12, 1))
        .unwrap();
    assert_eq!(rows.len(), 2);
    let old = rows.iter().find(|r| r.report_id == "old").unwrap();
    assert_eq!((old.count, old.provider.as_deref()), (4, None));
    assert!(store.damaged().is_empty(), "{:?}", store.damaged());
    assert!(store.verify().unwrap().is_empty());
}
