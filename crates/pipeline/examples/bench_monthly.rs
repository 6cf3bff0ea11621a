//! Benchmark of the monthly job: N domains (default 1,000) answered from a
//! generated zone file (no network), checked, kept as history, rendered and
//! written to the outbox. Prints wall time per run and the peak memory.
//!
//! cargo run --release -p authwarden-pipeline --example bench_monthly -- [DOMAINS]

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use authwarden_api::{Cadence, SystemClock};

fn zone_and_config(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut zone = String::from("$TTL 3600\n");
    let mut config = String::from(
        // Every name is answered by the zone file; the name server is never
        // asked (nothing leaves the machine).
        "timezone = \"UTC\"\nreports_dir = \"reports\"\n\n[dns]\nzone_files = [\"bench.zone\"]\nnameservers = [\"127.0.0.1:9\"]\n\n",
    );
    for i in 0..n {
        let d = format!("d{i:05}.bench.example");
        let dmarc = match i % 6 {
            0 => format!("v=DMARC1; p=reject; rua=mailto:dmarc@{d}"),
            1 => format!("v=DMARC1; p=none; rua=mailto:dmarc@{d}"),
            2 => format!("v=DMARC1; p=quarantine; pct=25; sp=none; rua=mailto:dmarc@{d}"),
            3 => "v=DMARC1; p=rejct; pct=abc; foo=bar".to_string(),
            4 => "v=DMARC1; p=quarantine; rua=mailto:r@elsewhere.example".to_string(),
            _ => String::new(),
        };
        let _ = writeln!(
            zone,
            "$ORIGIN {d}.\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n@ IN MX 10 mx\nmx IN A 192.0.2.{}\n@ IN TXT \"v=spf1 mx -all\"",
            i % 250 + 1
        );
        if !dmarc.is_empty() {
            let _ = writeln!(zone, "_dmarc IN TXT \"{dmarc}\"");
        }
        let _ = writeln!(config, "[[domains]]\nname = \"{d}\"\n");
    }
    zone.push_str("$ORIGIN elsewhere.example.\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n");
    // The parent of every domain: DMARC discovery falls back to it.
    zone.push_str("$ORIGIN bench.example.\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n");
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let _ = writeln!(
        config,
        "[jobs.monthly]\nrecipients = [\"postmaster@bench.example\"]\n\n[templates]\ndir = \"{}\"",
        templates.display()
    );
    std::fs::write(dir.join("bench.zone"), zone).expect("write zone");
    let path = dir.join("bench.toml");
    std::fs::write(&path, config).expect("write config");
    path
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1000);
    let dir = tempfile::tempdir()?;
    let config_path = zone_and_config(dir.path(), n);
    let registry = authwarden_registry::Registry::builtin();
    let known = authwarden_pipeline::known(&registry);
    let config =
        authwarden_config::load(&config_path, &known).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for run in 1..=2 {
        let t = Instant::now();
        let result = rt.block_on(authwarden_pipeline::run_job(
            &config,
            &registry,
            Cadence::Monthly,
            Arc::new(SystemClock),
            &authwarden_pipeline::NoProgress,
        ))?;
        let elapsed = t.elapsed();
        println!(
            "run {run}: {n} domains, {} findings ({} new, {} still open), {:.2} s wall, peak RSS so far {:.0} MiB",
            result.outcome.findings.len(),
            result.summary.new,
            result.summary.still_open,
            elapsed.as_secs_f64(),
            peak_rss_mib()
        );
        // a second run in the same second would reuse the run id
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    Ok(())
}
