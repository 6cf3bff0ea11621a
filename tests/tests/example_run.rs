//! The README's first command, the monthly run on the bundled example,
//! end to end: offline (the example's zone file), it ingests the example's
//! aggregate reports from `[ingest] folders` before the checks, writes the
//! report and leaves the message in the outbox; a second run finds every
//! report already in the history; a broken report in the folder is named in
//! the log and the run goes on.
//!
//! The example is copied to a temporary directory first, so the run writes
//! nothing into the checkout.

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_e2e::{authwarden, copy_dir};
use authwarden_history::HistoryStore;
use tempfile::TempDir;

/// Reports in `config/example-reports/` (see scripts/example-reports.py).
const EXAMPLE_REPORTS: usize = 528;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The example's config/ and templates/ in a fresh directory.
fn example() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("config"), &dir.path().join("config"));
    copy_dir(&root().join("templates"), &dir.path().join("templates"));
    let config = dir.path().join("config/example.toml");
    (dir, config)
}

/// Distinct (org_name, report_id) in the history's aggregate rows.
fn reports_in_history(data: &Path) -> usize {
    let frame = HistoryStore::new(data).load_aggregate().unwrap();
    let orgs = frame.column("org_name").unwrap().str().unwrap().clone();
    let ids = frame.column("report_id").unwrap().str().unwrap().clone();
    let keys: std::collections::BTreeSet<(String, String)> = orgs
        .iter()
        .zip(ids.iter())
        .map(|(o, i)| (o.unwrap_or("").to_string(), i.unwrap_or("").to_string()))
        .collect();
    keys.len()
}

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files(&p, suffix));
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn the_monthly_run_on_the_example_ingests_its_reports_and_writes_the_report() {
    let (dir, config) = example();
    let config = config.to_str().unwrap();
    let data = dir.path().join("reports/data");

    let run = authwarden(&["run", "monthly", "--config", config]);
    assert_eq!(run.code(), 0, "{run}");
    assert!(
        run.stdout.contains(&format!(
            "reports: {EXAMPLE_REPORTS} new DMARC aggregate reports ingested, 0 already in the history, 0 unreadable"
        )),
        "{run}"
    );
    assert_eq!(reports_in_history(&data), EXAMPLE_REPORTS);
    let reports = files(&dir.path().join("reports/monthly"), "report.txt");
    assert_eq!(reports.len(), 1, "{run}");
    let text = fs::read_to_string(&reports[0]).unwrap();
    for domain in [
        "healthy.example",
        "monitoring.example",
        "rollout.example",
        "broken.example",
        "leaky.example",
    ] {
        assert!(text.contains(domain), "{domain} missing from\n{text}");
    }
    assert!(text.contains("DMARC ROLLOUT"), "{text}");
    assert_eq!(files(&dir.path().join("reports/outbox"), ".eml").len(), 1);

    // Every report is in the history already; a broken one is named, the
    // run goes on.
    let broken = dir.path().join("config/example-reports/broken.xml");
    fs::write(&broken, "<feedback><report_metadata><org_name>x").unwrap();
    let again = authwarden(&["run", "monthly", "--config", config]);
    assert_eq!(again.code(), 0, "{again}");
    assert!(
        again.stdout.contains(&format!(
            "reports: 0 new DMARC aggregate reports ingested, {EXAMPLE_REPORTS} already in the history, 1 unreadable"
        )),
        "{again}"
    );
    assert!(again.stdout.contains("not ingested: "), "{again}");
    assert!(again.stdout.contains("broken.xml: "), "{again}");
    assert_eq!(reports_in_history(&data), EXAMPLE_REPORTS);
    assert_eq!(files(&dir.path().join("reports/outbox"), ".eml").len(), 2);
}

/// `run monthly --period 2026-10` rebuilds October's report from the
/// history: named for October, its mail section is October's, it says the
/// checks are of today; a period that is not a month is a usage error.
#[test]
fn a_past_period_is_rebuilt_from_the_history() {
    let (dir, config) = example();
    let config = config.to_str().unwrap();
    let run = authwarden(&["run", "monthly", "--config", config, "--period", "2026-10"]);
    assert!(matches!(run.code(), 0 | 4), "{run}");
    let text = fs::read_to_string(dir.path().join("reports/monthly/2026-10/report.txt"))
        .unwrap_or_else(|e| panic!("no report for 2026-10 ({e})\n{run}"));
    assert!(
        text.starts_with("AUTHWARDEN MONTHLY REPORT 2026-10"),
        "{text}"
    );
    assert!(
        text.contains("Rebuilt for 2026-10 from the history"),
        "{text}"
    );
    assert!(
        text.contains("MAIL SENT AS YOUR DOMAINS IN 2026-10"),
        "{text}"
    );
    assert!(text.contains("covering 2026-10-01 to 2026-10-31"), "{text}");
    assert!(text.contains("DMARC ROLLOUT"), "{text}");
    // A rebuild is not this month's scheduled run.
    assert!(!dir.path().join("reports/state/schedule.json").exists());

    let bad = authwarden(&["run", "monthly", "--config", config, "--period", "2026-13"]);
    assert_eq!(bad.code(), 2, "{bad}");
    assert!(bad.stderr.contains("not a monthly period"), "{bad}");
}

/// The annual audit writes the as-built register beside its report, as
/// Markdown and HTML, and includes it as a section.
#[test]
fn the_annual_audit_writes_the_as_built_register() {
    let (dir, config) = example();
    let run = authwarden(&["run", "annual", "--config", config.to_str().unwrap()]);
    assert!(matches!(run.code(), 0 | 4), "{run}");
    let annual = dir.path().join("reports/annual");
    let period_dir = fs::read_dir(&annual)
        .unwrap_or_else(|e| panic!("no annual report ({e})\n{run}"))
        .flatten()
        .next()
        .unwrap()
        .path();
    let md = fs::read_to_string(period_dir.join("as-built.md")).unwrap();
    assert!(md.contains("## rollout.example"), "{md}");
    assert!(
        md.contains("| SPF | `` v=spf1 mx include:_spf.mailhost.example -all `` |"),
        "{md}"
    );
    assert!(
        md.contains("- sendgrid: owner marketing, purpose marketing"),
        "{md}"
    );
    assert!(md.contains("| MX | `` 10 mx.rollout.example `` |"), "{md}");
    let html = fs::read_to_string(period_dir.join("as-built.html")).unwrap();
    assert!(html.contains("<h2>rollout.example</h2>"), "{html}");
    let text = fs::read_to_string(period_dir.join("report.txt")).unwrap();
    assert!(text.contains("\nAS BUILT\n"), "{text}");
}
