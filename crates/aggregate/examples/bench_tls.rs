//! Benchmark: generates an SMTP TLS report (RFC 8460) of about 50 MB (by
//! default 500 policies of 400 failure details each) on disk, plain and
//! gzipped, then measures
//!
//! 1. a bare serde_json pass that ignores every value (the reference),
//! 2. the streaming parse (`parse_tls_report_with`: one policy in memory at
//!    a time),
//! 3. the same from the gzip file, through the payload layer (as the
//!    ingest reads it),
//! 4. `parse_tls_report` collecting every policy in memory,
//!
//! printing the time, MB/s and the peak RSS (VmHWM, which only grows, so
//! the steps run from the least to the most memory).
//!
//! `cargo run --release -p authwarden-aggregate --example bench_tls [POLICIES] [DETAILS] [KEEP.json]`
//!
//! With `KEEP.json` the generated report is also copied there, e.g. to
//! measure `authwarden ingest KEEP.json` on the same bytes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use authwarden_aggregate::{open_path, parse_tls_report, parse_tls_report_with, Limits};

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn generate(path: &Path, policies: u32, details: u32) -> std::io::Result<u64> {
    let mut w = BufWriter::new(File::create(path)?);
    write!(
        w,
        r#"{{"organization-name":"Bench Sender Inc.","date-range":{{"start-datetime":"2026-11-02T00:00:00Z","end-datetime":"2026-11-02T23:59:59Z"}},"contact-info":"smtp-tls-reporting@bench.example","report-id":"bench-{policies}x{details}","policies":["#
    )?;
    for p in 0..policies {
        if p > 0 {
            w.write_all(b",")?;
        }
        write!(
            w,
            r#"{{"policy":{{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce","mx: *.d{p}.example","max_age: 604800"],"policy-domain":"d{p}.example","mx-host":["*.d{p}.example"]}},"summary":{{"total-successful-session-count":{},"total-failure-session-count":{}}},"failure-details":["#,
            1000 + p,
            details
        )?;
        for d in 0..details {
            if d > 0 {
                w.write_all(b",")?;
            }
            write!(
                w,
                r#"{{"result-type":"certificate-expired","sending-mta-ip":"2001:db8:{:x}:{:x}::1","receiving-mx-hostname":"mx{}.d{p}.example","receiving-mx-helo":"mx{}.d{p}.example","receiving-ip":"198.51.{}.{}","failed-session-count":1,"additional-information":"https://bench.example/tls/{p}/{d}"}}"#,
                p,
                d,
                d % 4,
                d % 4,
                d % 256,
                p % 256
            )?;
        }
        w.write_all(b"]}")?;
    }
    w.write_all(b"]}\n")?;
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn report(label: &str, policies: u64, details: u64, bytes: u64, secs: f64) {
    println!(
        "{label:<40} {policies:>6} policies {details:>8} details  {:>7.1} MB/s  {:>6.3} s  peak RSS {:.1} MiB",
        bytes as f64 / 1e6 / secs,
        secs,
        vm_hwm_mib()
    );
}

fn main() {
    let arg = |i: usize, default: u32| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (policies, details) = (arg(1, 500), arg(2, 400));
    let dir = std::env::temp_dir().join(format!("authwarden-bench-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("bench.json");
    let bytes = generate(&json, policies, details).unwrap();
    println!(
        "generated {policies} policies of {details} failure details, {:.1} MB, at {}",
        bytes as f64 / 1e6,
        json.display()
    );
    if let Some(keep) = std::env::args().nth(3) {
        std::fs::copy(&json, &keep).unwrap();
        println!("kept a copy at {keep}");
    }
    let gz = dir.join("bench.json.gz");
    {
        let mut enc = flate2::write::GzEncoder::new(
            File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        std::io::copy(&mut File::open(&json).unwrap(), &mut enc).unwrap();
        enc.finish().unwrap();
    }
    println!(
        "gzipped: {:.1} MB; peak RSS after generating: {:.1} MiB",
        std::fs::metadata(&gz).unwrap().len() as f64 / 1e6,
        vm_hwm_mib()
    );
    let limits = Limits::default();

    // 1. Bare serde_json pass.
    let t = Instant::now();
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(
        64 * 1024,
        File::open(&json).unwrap(),
    ));
    serde::de::Deserialize::deserialize(&mut de)
        .map(|_: serde::de::IgnoredAny| ())
        .unwrap();
    report(
        "bare serde_json pass (IgnoredAny)",
        0,
        0,
        bytes,
        t.elapsed().as_secs_f64(),
    );

    // 2. Streaming parse.
    let t = Instant::now();
    let (mut n, mut d) = (0u64, 0u64);
    let h = parse_tls_report_with(
        BufReader::with_capacity(64 * 1024, File::open(&json).unwrap()),
        &limits,
        |p| {
            n += 1;
            d += p.failures.len() as u64;
        },
    )
    .unwrap();
    report(
        "parse_tls_report_with (streaming)",
        n,
        d,
        bytes,
        t.elapsed().as_secs_f64(),
    );
    assert_eq!(
        (h.policies, d),
        (
            u64::from(policies),
            u64::from(policies) * u64::from(details)
        )
    );

    // 3. From gzip, through the payload layer.
    let t = Instant::now();
    let (mut n, mut d) = (0u64, 0u64);
    for p in open_path(&gz, &limits).unwrap() {
        assert!(p.is_tls_report(&limits));
        p.parse_tls_with(&limits, |p| {
            n += 1;
            d += p.failures.len() as u64;
        })
        .unwrap();
    }
    report(
        "payload .json.gz, streaming",
        n,
        d,
        bytes,
        t.elapsed().as_secs_f64(),
    );

    // 4. Whole report in memory.
    let t = Instant::now();
    let r = parse_tls_report(
        BufReader::with_capacity(64 * 1024, File::open(&json).unwrap()),
        &limits,
    )
    .unwrap();
    let d: u64 = r.policies.iter().map(|p| p.failures.len() as u64).sum();
    report(
        "parse_tls_report (in memory)",
        r.policies.len() as u64,
        d,
        bytes,
        t.elapsed().as_secs_f64(),
    );
    drop(r);
    let _ = std::fs::remove_dir_all(&dir);
}
