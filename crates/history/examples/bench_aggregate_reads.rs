//! The aggregate reads of a monthly job over a large history: generates
//! ROWS aggregate rows over the two years before 1 December 2026 (DOMAINS
//! domains, REPORTERS reports per domain and day, written through the
//! store's streaming ingest so the layout is the real one), then, in a
//! fresh process so that the peak RSS is that of the reads alone, runs what
//! the monthly job of 1 December reads: the mail summary of November (with
//! the weekly pass-rate series over six months) for the configured domains,
//! and per domain the rollout advisor's published policies (366 days) and
//! rows (28 days), the inventory drift's rows (121 days) and the DKIM
//! selectors seen. The per-domain reads
//! run one domain after the other; the job runs up to 16 checks at once,
//! each holding its rows.
//!
//! `cargo run -p authwarden-history --example bench_aggregate_reads [--release] -- [ROWS] [DOMAINS] [REPORTERS] [DIR]`
//!
//! Defaults: 10,000,000 rows, 100 domains, 2 reporters (146,000 files,
//! about 50,000 rows per domain and year). With
//! DIR the history is kept there, and reused when it was generated with the
//! same arguments (generation takes a while); without it, a temporary
//! directory is used and removed. The mail summary's memory does not grow
//! with ROWS for a given layout; the per-domain reads grow with the rows of
//! one domain's window, which the checkers receive as rows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use authwarden_aggregate::{AggregateRow, ReportHeader};
use authwarden_history::polars::prelude::{col, lit, DataType, IntoLazy};
use authwarden_history::{aggregate_rows_of, Bucket, HistoryStore, MailQuery, ReportStart};
use chrono::{DateTime, Duration, TimeZone, Utc};

const DAYS: i64 = 730;
const REPORTERS: [&str; 6] = [
    "google.com",
    "outlook.com",
    "yahoo.com",
    "comcast.net",
    "mail.ru",
    "web.de",
];

fn end_of_history() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap()
}

fn domain(d: usize) -> String {
    format!("domain{d:04}.example")
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn row(rng: &mut Rng, header: &ReportHeader, d: usize) -> AggregateRow {
    let dom = &header.policy_published.domain;
    let roll = rng.below(100);
    let (category, cause, action, ip, provider) = if roll < 85 {
        let ip = format!("192.0.{}.{}", d % 250, rng.below(200));
        ("pass", "aligned", "none", ip, Some("Google Workspace"))
    } else if roll < 90 {
        let ip = format!("198.51.100.{}", rng.below(250));
        (
            "partial",
            "forwarded",
            "nothing to do: forwarded mail",
            ip,
            None,
        )
    } else {
        // Failing sources: a long tail of addresses, some new each month.
        let ip = format!(
            "203.{}.{}.{}",
            rng.below(200),
            rng.below(250),
            rng.below(250)
        );
        (
            "fail",
            "unknown-source",
            "find out who sends from this address",
            ip,
            None,
        )
    };
    let selector = format!("s{}", header.metadata.date_range.begin / (86_400 * 180));
    AggregateRow {
        org_name: header.metadata.org_name.clone(),
        report_id: header.metadata.report_id.clone(),
        source: "bench".into(),
        begin: header.metadata.date_range.begin,
        end: header.metadata.date_range.end,
        domain: dom.clone(),
        adkim: Some("r".into()),
        aspf: Some("r".into()),
        p: Some("quarantine".into()),
        sp: None,
        pct: Some(100),
        np: None,
        testing: None,
        discovery_method: None,
        generator: None,
        report_auth: None,
        report_from: None,
        report_auth_detail: None,
        source_ip: ip,
        count: 1 + rng.below(500),
        disposition: Some("none".into()),
        dmarc_dkim: Some(if category == "fail" { "fail" } else { "pass" }.into()),
        dmarc_spf: Some(if category == "pass" { "pass" } else { "fail" }.into()),
        reasons: None,
        header_from: dom.clone(),
        envelope_from: Some(dom.clone()),
        envelope_to: None,
        dkim_domains: Some(format!("{dom};esp.example")),
        dkim_selectors: Some(format!("{selector};esp1")),
        dkim_results: Some("pass;pass".into()),
        spf_domains: Some(dom.clone()),
        spf_results: Some("pass".into()),
        dkim_aligned: category != "fail",
        spf_aligned: category == "pass",
        reporter_agrees: true,
        category: category.into(),
        cause: cause.into(),
        provider: provider.map(str::to_string),
        action: action.into(),
    }
}

fn generate(root: &Path, rows: u64, domains: usize, reporters: usize) {
    let store = HistoryStore::new(root);
    let start = end_of_history() - Duration::days(DAYS);
    let reports = DAYS as u64 * domains as u64 * reporters as u64;
    let per_report = rows / reports;
    let extra = rows % reports;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let t = Instant::now();
    let mut n = 0u64;
    let mut written = 0u64;
    // One batch (the seen index is rewritten at each commit, so a batch per
    // day would make generation quadratic), committed now and then.
    let batch = store.aggregate_batch().unwrap();
    for day in 0..DAYS {
        let begin = (start + Duration::days(day)).timestamp();
        for d in 0..domains {
            for org in REPORTERS.iter().take(reporters) {
                let mut header = ReportHeader::default();
                header.metadata.org_name = org.to_string();
                header.metadata.report_id = format!("{d}-{day}-{org}");
                header.metadata.date_range.begin = begin;
                header.metadata.date_range.end = begin + 86_399;
                header.policy_published.domain = domain(d);
                let ReportStart::New(mut w) = batch.start(&header).unwrap() else {
                    panic!("a new report");
                };
                let count = per_report + u64::from(n < extra);
                for _ in 0..count {
                    w.push(row(&mut rng, &header, d)).unwrap();
                }
                written += count;
                n += 1;
                batch.finish(w).unwrap();
            }
        }
        if day % 73 == 72 {
            batch.commit().unwrap();
            eprintln!(
                "  generated {written} rows in {n} reports ({:.0} s)",
                t.elapsed().as_secs_f64()
            );
        }
    }
    batch.into_summary().unwrap();
    eprintln!(
        "generated {written} rows in {n} report files in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The reads of the monthly job of 1 December 2026.
fn read(root: &Path, domains: usize) {
    let store = HistoryStore::new(root);
    let now = end_of_history();
    let names: Vec<String> = (0..domains).map(domain).collect();
    println!(
        "peak RSS before the reads: {:.0} MiB",
        peak_rss_mb().unwrap_or(0.0)
    );

    let t = Instant::now();
    let mut q = MailQuery::new(Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap(), now)
        .with_domains(&names);
    q.trend_start = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    q.bucket = Bucket::Week;
    let summary = store.mail_summary(&q).unwrap().unwrap();
    let mail_s = t.elapsed().as_secs_f64();
    println!(
        "mail summary of November: {} domains, {} reports, {} messages, {} failing sources, {:.2} s, peak RSS {:.0} MiB",
        summary.domains.len(),
        summary.reports,
        summary.messages,
        summary
            .domains
            .iter()
            .map(|d| d.failing_sources_total)
            .sum::<u64>(),
        mail_s,
        peak_rss_mb().unwrap_or(0.0)
    );

    // As the job's checker services do: the rollout advisor's year of
    // published policies (three columns, one entry a report), the widest
    // row window of a domain (the inventory drift's 121 days) read once as
    // a frame, each checker's rows cut from it (the rollout advisor's
    // readiness window of 28 days); both checkers' rows held at once, as
    // when they run side by side.
    let t = Instant::now();
    let (mut policies, mut rollout_rows, mut drift_rows, mut selectors) = (0usize, 0, 0, 0);
    let since = |days| (now - Duration::days(days)).timestamp_millis();
    for name in &names {
        policies += store
            .aggregate_policies(name, now - Duration::days(366), now)
            .unwrap()
            .len();
        let frame = store
            .aggregate_window(name, now - Duration::days(121), now)
            .unwrap();
        let cut = |from: i64| {
            let df = frame
                .clone()
                .lazy()
                .filter(col("begin").cast(DataType::Int64).gt_eq(lit(from)))
                .collect()
                .unwrap();
            aggregate_rows_of(&df).unwrap()
        };
        let rollout = cut(since(28));
        let drift = cut(since(121));
        rollout_rows += rollout.len();
        drift_rows += drift.len();
        selectors += store.observed_dkim_selectors(name).unwrap().len();
    }
    let per_domain_s = t.elapsed().as_secs_f64();
    println!(
        "per domain, one after the other: {policies} published policies (366 days), {rollout_rows} rollout rows (28 days), {drift_rows} drift rows (121 days), {selectors} selectors, {per_domain_s:.2} s ({:.0} ms a domain)",
        per_domain_s * 1000.0 / domains.max(1) as f64
    );
    assert!(store.damaged().is_empty(), "{:?}", store.damaged());
    // What an ingest pays before its first report: the lock, the look for
    // leftover temporary files in every partition, the seen index.
    let t = Instant::now();
    drop(store.aggregate_batch().unwrap());
    println!(
        "starting an ingest batch on this history: {:.2} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "reads: {:.2} s, peak RSS {:.0} MiB (target < 300 MB)",
        mail_s + per_domain_s,
        peak_rss_mb().unwrap_or(0.0)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--read") {
        let root = PathBuf::from(&args[1]);
        let domains = args[2].parse().unwrap();
        read(&root, domains);
        return;
    }
    let number = |i: usize, default: u64| -> u64 {
        args.get(i)
            .map(|a| a.replace('_', "").parse().expect("a number"))
            .unwrap_or(default)
    };
    let rows = number(0, 10_000_000);
    let domains = number(1, 100) as usize;
    let reporters = (number(2, 2) as usize).clamp(1, REPORTERS.len());
    let (root, _tmp) = match args.get(3) {
        Some(dir) => (PathBuf::from(dir), None),
        None => {
            let tmp = tempfile::tempdir().unwrap();
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    let stamp = root.join("bench.txt");
    let params = format!("{rows} {domains} {reporters}\n");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(params.as_str()) {
        eprintln!("reusing the history in {}", root.display());
    } else {
        if root.join("aggregate").exists() {
            std::fs::remove_dir_all(root.join("aggregate")).unwrap();
        }
        eprintln!(
            "generating {rows} rows: {domains} domains × {reporters} reports a day × {DAYS} days in {}",
            root.display()
        );
        generate(&root, rows, domains, reporters);
        std::fs::write(&stamp, params).unwrap();
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--read")
        .arg(&root)
        .arg(domains.to_string())
        .status()
        .unwrap();
    assert!(out.success(), "the read process failed");
}
