//! Times the history steps of one run for 1,000 domains × 10 findings with
//! twelve earlier monthly runs in the store.
//!
//! `cargo run -p authwarden-history --example bench_history [--release] [DOMAINS] [FINDINGS_PER_DOMAIN]`

use std::time::{Duration, Instant};

use authwarden_api::{Finding, Severity};
use authwarden_history::{
    annotate, compare, findings_frame, summary_frame, trends, DomainFacts, HistoryStore, RunMeta,
};
use chrono::{TimeZone, Utc};
use serde_json::{json, Map};

fn meta(month: u32) -> RunMeta {
    let (y, m) = (2026 + (month - 1) as i32 / 12, (month - 1) % 12 + 1);
    let started_at = Utc.with_ymd_and_hms(y, m, 1, 6, 0, 0).unwrap();
    RunMeta {
        run_id: format!("{}-monthly", started_at.format("%Y%m%dT%H%M%SZ")),
        job: "monthly".into(),
        period: format!("{y:04}-{m:02}"),
        started_at,
    }
}

/// Findings of run `run`: about a tenth of them change from run to run.
fn findings(domains: usize, per_domain: usize, run: usize) -> Vec<Finding> {
    let mut out = Vec::with_capacity(domains * per_domain);
    for d in 0..domains {
        for f in 0..per_domain {
            let variant = if (d + f) % 10 == run % 10 { run } else { 0 };
            let mut evidence = Map::new();
            evidence.insert("lookups".into(), json!(13));
            evidence.insert("limit".into(), json!(10));
            out.push(Finding {
                checker: "spf-lookups".into(),
                code: format!("SPF{f:03}"),
                name: "spf-lookup-limit-exceeded".into(),
                severity: [Severity::Error, Severity::Warning, Severity::Note][f % 3],
                domain: format!("domain{d}.example"),
                subject: format!("include{variant}.domain{d}.example"),
                message: "the SPF record needs 13 DNS lookups, more than the limit of 10".into(),
                help: "flatten includes or drop unused ones".into(),
                evidence,
            });
        }
    }
    out
}

fn facts(domains: usize) -> Vec<DomainFacts> {
    (0..domains)
        .map(|d| {
            let mut facts = Map::new();
            facts.insert(
                "dmarc".into(),
                json!({"policy": "quarantine", "pct": 50, "phase": "quarantine pct 50"}),
            );
            DomainFacts {
                domain: format!("domain{d}.example"),
                facts,
            }
        })
        .collect()
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let domains: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let per_domain: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10);
    let history_runs = 12;

    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(dir.path().join("reports/data"));
    let facts = facts(domains);
    for run in 1..=history_runs {
        let m = meta(run as u32);
        let f = findings(domains, per_domain, run);
        let df = findings_frame(&m, &f).unwrap();
        let summary = summary_frame(&m, &f, &facts).unwrap();
        store.append(&m, &df, &summary).unwrap();
    }

    let run = history_runs + 1;
    let m = meta(run as u32);
    let f = findings(domains, per_domain, run);
    let mut times: Vec<(&str, Duration)> = Vec::new();
    let mut time = |name, t: Instant| times.push((name, t.elapsed()));

    let t = Instant::now();
    let df = findings_frame(&m, &f).unwrap();
    time("findings_frame", t);
    let t = Instant::now();
    let summary = summary_frame(&m, &f, &facts).unwrap();
    time("summary_frame", t);
    let t = Instant::now();
    let cmp = compare(&store, &m, &df).unwrap();
    time("compare", t);
    let t = Instant::now();
    let annotated = annotate(&df, &cmp).unwrap();
    time("annotate", t);
    let t = Instant::now();
    store.append(&m, &annotated, &summary).unwrap();
    time("append", t);
    let t = Instant::now();
    let tr = trends(&store, "monthly", 12).unwrap();
    time("trends (12 runs)", t);

    println!(
        "{} findings over {domains} domains, {history_runs} earlier runs; new {} still open {} resolved {}; {} trend domains",
        df.height(),
        cmp.new,
        cmp.still_open,
        cmp.resolved,
        tr.len()
    );
    for (name, d) in &times {
        println!("{name:>18}: {:8.1} ms", d.as_secs_f64() * 1000.0);
    }
    let total: Duration = times.iter().map(|(_, d)| *d).sum();
    println!("{:>18}: {:8.1} ms", "total", total.as_secs_f64() * 1000.0);
    let size = std::fs::metadata(store.findings_path(&m)).unwrap().len();
    println!("findings file: {:.0} KiB", size as f64 / 1024.0);
    if let Some(mb) = peak_rss_mb() {
        println!("peak RSS: {mb:.0} MB");
    }
}
