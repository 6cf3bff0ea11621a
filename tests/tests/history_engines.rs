//! The history read by real query engines: after the monthly run on the
//! bundled example, DuckDB and Apache Spark (local mode) read `reports/data/`
//! as Hive-partitioned Parquet, unconverted, and compute the period's mail
//! totals by domain and category and the run's findings by domain — the
//! numbers the report shows. DuckDB's view of every dataset's columns and
//! types must equal docs/HISTORY-SCHEMA.md.
//!
//! The engines come from PyPI (`tests/python/requirements.txt`), in the
//! virtual environment that scripts/test makes and names in
//! `AUTHWARDEN_QUERY_PYTHON`; Spark runs on Debian's OpenJDK. Without them the
//! test fails and says how to get them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use authwarden_e2e::{authwarden, copy_dir};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python that has duckdb and pyspark.
fn python() -> String {
    std::env::var("AUTHWARDEN_QUERY_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs tests/python/history_engines.py with one engine: its JSON answer.
fn engine(name: &str, data: &Path) -> Value {
    let script = root().join("tests/python/history_engines.py");
    let out = Command::new(python())
        .arg(&script)
        .args([name, data.to_str().unwrap()])
        .args(["2026-11-01", "2026-11-30", "monthly", "2026-11"])
        // Spark may leave files in its working directory.
        .current_dir(data.parent().unwrap())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    assert!(
        out.status.success(),
        "{name} could not read the history (is {} the Python of scripts/test, with \
         tests/python/requirements.txt installed? set AUTHWARDEN_QUERY_PYTHON):\n{}",
        python(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name} printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The tables of docs/HISTORY-SCHEMA.md: dataset → [(column, type)].
fn documented() -> BTreeMap<String, Vec<(String, String)>> {
    let text = fs::read_to_string(root().join("docs/HISTORY-SCHEMA.md")).unwrap();
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("## Dataset `") {
            let name = rest.trim_end_matches('`').to_string();
            out.entry(name.clone()).or_default();
            current = Some(name);
        } else if line.starts_with("## ") {
            current = None;
        } else if let (Some(ds), Some(row)) = (&current, line.strip_prefix("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let column = cells[0].trim_end_matches('`').to_string();
            out.get_mut(ds)
                .unwrap()
                .push((column, cells[1].to_string()));
        }
    }
    out
}

/// The report's per-domain mail lines: domain → (messages, partial, fail).
/// `  monitoring.example` then `    10,101 messages: 61.0% pass, 3,435 partial, 505 fail`.
fn report_mail(text: &str) -> BTreeMap<String, (u64, u64, u64)> {
    let section = text
        .split("MAIL SENT AS YOUR DOMAINS IN 2026-11")
        .nth(1)
        .expect("the report has a mail section for 2026-11");
    let number = |s: &str| -> u64 { s.trim().replace(',', "").parse().unwrap() };
    let mut out = BTreeMap::new();
    let mut domain: Option<String> = None;
    for line in section.lines() {
        if line.starts_with("====") {
            break;
        }
        if line.starts_with("  ") && !line.starts_with("   ") && line.trim().ends_with(".example") {
            domain = Some(line.trim().to_string());
        } else if let (Some(d), Some((total, rest))) =
            (&domain, line.trim().split_once(" messages: "))
        {
            // "61.0% pass, 3,435 partial, 505 fail"
            let parts: Vec<&str> = rest.split(", ").collect();
            let partial = number(parts[1].trim_end_matches(" partial"));
            let fail = number(parts[2].trim_end_matches(" fail"));
            out.insert(d.clone(), (number(total), partial, fail));
            domain = None;
        }
    }
    out
}

/// `[[domain, category, n], ...]` as domain → (total, partial, fail).
fn mail_by_domain(answer: &Value) -> BTreeMap<String, (u64, u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for row in answer["mail"].as_array().unwrap() {
        let domain = row[0].as_str().unwrap().to_string();
        let n = row[2].as_u64().unwrap();
        let entry = out.entry(domain).or_default();
        entry.0 += n;
        match row[1].as_str().unwrap() {
            "partial" => entry.1 += n,
            "fail" => entry.2 += n,
            _ => {}
        }
    }
    out
}

/// `[[domain, severity, n], ...]` as domain → count.
fn findings_by_domain(answer: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for row in answer["findings"].as_array().unwrap() {
        *out.entry(row[0].as_str().unwrap().to_string()).or_default() += row[2].as_u64().unwrap();
    }
    out
}

#[test]
fn duckdb_and_spark_read_the_history_and_find_the_reports_numbers() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("config"), &dir.path().join("config"));
    copy_dir(&root().join("templates"), &dir.path().join("templates"));
    let config = dir.path().join("config/example.toml");
    let run = authwarden(&[
        "run",
        "monthly",
        "--config",
        config.to_str().unwrap(),
        "--period",
        "2026-11",
    ]);
    assert!(matches!(run.code(), 0 | 4), "{run}");
    let data = dir.path().join("reports/data");
    let report = fs::read_to_string(dir.path().join("reports/monthly/2026-11/report.txt")).unwrap();

    let duck = engine("duckdb", &data);
    let spark = engine("spark", &data);

    // The schema as DuckDB reads it is the documented one, dataset by
    // dataset and column by column, in order.
    let doc = documented();
    let read: BTreeMap<String, Vec<(String, String)>> = duck["schema"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(ds, cols)| {
            let cols = cols
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c[0].as_str().unwrap().to_string(),
                        c[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            (ds.clone(), cols)
        })
        .collect();
    assert_eq!(
        read.keys().collect::<Vec<_>>(),
        doc.keys().collect::<Vec<_>>(),
        "the datasets written and those of docs/HISTORY-SCHEMA.md differ"
    );
    for (ds, cols) in &read {
        assert_eq!(
            cols, &doc[ds],
            "dataset `{ds}`: the columns written (left) and docs/HISTORY-SCHEMA.md (right) differ"
        );
    }

    // The mail totals: both engines agree with each other and with the report.
    let shown = report_mail(&report);
    assert_eq!(
        shown.keys().collect::<Vec<_>>(),
        ["healthy.example", "monitoring.example", "rollout.example"],
        "{report}"
    );
    assert_eq!(mail_by_domain(&duck), shown, "DuckDB vs the report");
    assert_eq!(mail_by_domain(&spark), shown, "Spark vs the report");
    assert_eq!(duck["mail"], spark["mail"]);
    let reports = duck["reports"].as_u64().unwrap();
    assert_eq!(spark["reports"].as_u64(), Some(reports));
    assert!(
        report.contains(&format!(
            "From {reports} DMARC aggregate reports covering 2026-11-01 to 2026-11-30"
        )),
        "{reports} reports\n{report}"
    );

    // The findings: per domain as the run's summary counts them, and in all
    // as the report's summary line says.
    let duck_findings = findings_by_domain(&duck);
    assert_eq!(duck_findings, findings_by_domain(&spark));
    assert_eq!(duck["findings"], spark["findings"]);
    let summary = authwarden_history::HistoryStore::new(&data)
        .load_summaries("monthly", 1)
        .unwrap();
    let domains = summary.column("domain").unwrap().str().unwrap().clone();
    let totals = summary.column("total").unwrap().u32().unwrap().clone();
    let from_summary: BTreeMap<String, u64> = domains
        .iter()
        .zip(totals.iter())
        .filter(|(_, t)| t.unwrap_or(0) > 0)
        .map(|(d, t)| (d.unwrap().to_string(), u64::from(t.unwrap())))
        .collect();
    assert_eq!(duck_findings, from_summary);
    let count = |severity: &str| -> u64 {
        duck["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r[1] == severity)
            .map(|r| r[2].as_u64().unwrap())
            .sum()
    };
    let line = format!(
        "{} errors, {} warnings, {} notes",
        count("error"),
        count("warning"),
        count("note")
    );
    assert!(report.contains(&line), "no `{line}` in\n{report}");
}
