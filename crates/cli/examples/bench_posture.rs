//! Posture benchmark: N generated domains (default 10,000) whose SPF records
//! share a few popular provider includes (nested like Google's and
//! Microsoft's), with DMARC and MX records, written to one zone file and
//! checked by every built-in checker through the engine and the run's real
//! resolver stack (shared cache over the zone-file overlay). Offline: every
//! name is inside a zone of the file, so nothing goes to the network.
//!
//! ```sh
//! cargo run --release -p authwarden-cli --example bench_posture -- 10000
//! BENCH_DNS=knot cargo run --release -p authwarden-cli --example bench_posture -- 10000
//! ```
//!
//! With `BENCH_DNS=knot` the zones are served by a real Knot DNS server on a
//! loopback port (started and stopped by the benchmark; `scripts/test`
//! installs `knot`) and every query goes over UDP through hickory, as in a
//! live run; without it they answer from the zone-file overlay.
//!
//! Reports domains per second, the DNS queries answered below the cache
//! (each distinct name and type once per run), the distinct names in the
//! zone and the peak RSS.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authwarden_api::{
    async_trait, CheckContext, DnsAnswer, DomainTarget, RecordType, Resolver, SystemClock,
};
use authwarden_dns::{build_resolver, DnsSettings};
use authwarden_engine::{Engine, PlannedChecker};
use authwarden_registry::Registry;
use authwarden_test_support::dns::{KnotOptions, KnotServer, ZoneSource};

/// A provider's SPF tree: (include name, its record, nested (name, record)s).
type Provider = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Provider SPF trees.
const PROVIDERS: &[Provider] = &[
    (
        "_spf.mail.bench-google.test",
        "v=spf1 include:_nb1.mail.bench-google.test include:_nb2.mail.bench-google.test include:_nb3.mail.bench-google.test ~all",
        &[
            ("_nb1.mail.bench-google.test", "v=spf1 ip4:35.190.247.0/24 ip4:64.233.160.0/19 ip4:66.102.0.0/20 ~all"),
            ("_nb2.mail.bench-google.test", "v=spf1 ip6:2001:4860:4000::/36 ip6:2404:6800:4000::/36 ~all"),
            ("_nb3.mail.bench-google.test", "v=spf1 ip4:172.217.0.0/19 ip4:172.217.32.0/20 ~all"),
        ],
    ),
    (
        "spf.protection.bench-outlook.test",
        "v=spf1 include:spfa.protection.bench-outlook.test include:spfb.protection.bench-outlook.test -all",
        &[
            ("spfa.protection.bench-outlook.test", "v=spf1 ip4:40.92.0.0/15 ip4:40.107.0.0/16 ip4:52.100.0.0/14 -all"),
            ("spfb.protection.bench-outlook.test", "v=spf1 ip6:2a01:111:f400::/48 ip6:2a01:111:f403::/49 -all"),
        ],
    ),
    ("bench-sendgrid.test", "v=spf1 ip4:167.89.0.0/17 ip4:208.117.48.0/20 ~all", &[]),
    (
        "spf.bench-mandrill.test",
        "v=spf1 ip4:198.2.128.0/18 ip4:148.105.8.0/21 a:relay.bench-mandrill.test ~all",
        &[],
    ),
    ("spf.bench-mtasv.test", "v=spf1 ip4:50.31.156.96/27 ip4:104.245.209.192/26 ~all", &[]),
    (
        "_spf.bench-salesforce.test",
        "v=spf1 exists:%{i}._spf.bench-salesforce.test include:_nb.bench-salesforce.test ~all",
        &[("_nb.bench-salesforce.test", "v=spf1 ip4:13.108.0.0/14 ip4:96.43.144.0/20 ~all")],
    ),
    ("bench-amazonses.test", "v=spf1 ip4:199.255.192.0/22 ip4:54.240.0.0/18 ~all", &[]),
    ("mail.bench-zendesk.test", "v=spf1 ip4:192.161.144.0/20 ip4:185.12.80.0/22 ~all", &[]),
];

const ORIGINS: &[&str] = &[
    "bench.test",
    "bench-google.test",
    "bench-outlook.test",
    "bench-sendgrid.test",
    "bench-mandrill.test",
    "bench-mtasv.test",
    "bench-salesforce.test",
    "bench-amazonses.test",
    "bench-zendesk.test",
];

fn zone(n: usize) -> String {
    let mut z = String::new();
    let soa = |z: &mut String, origin: &str| {
        let _ = writeln!(
            z,
            "$ORIGIN {origin}.\n@ 300 IN SOA ns hostmaster 1 3600 900 604800 300\n@ 300 IN NS ns\nns 300 IN A 127.0.0.1"
        );
    };
    for origin in &ORIGINS[1..] {
        soa(&mut z, origin);
        for (name, record, nested) in PROVIDERS {
            if name.ends_with(origin) {
                let _ = writeln!(z, "{name}. 300 IN TXT \"{record}\"");
                for (n, r) in *nested {
                    let _ = writeln!(z, "{n}. 300 IN TXT \"{r}\"");
                }
            }
        }
    }
    let _ = writeln!(z, "relay.bench-mandrill.test. 300 IN A 198.2.180.1");
    soa(&mut z, "bench.test");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..n {
        let d = format!("d{i}.bench.test.");
        // 1 to 4 providers, Google/Microsoft most often; some own ranges, mx.
        let mut terms = vec![format!("ip4:192.0.{}.0/24", i % 256)];
        if next() % 3 == 0 {
            terms.push("mx".into());
        }
        let count = 1 + (next() % 4) as usize;
        let mut used = Vec::new();
        for _ in 0..count {
            let p = match next() % 10 {
                0..=3 => 0,
                4..=5 => 1,
                k => (k as usize - 4) % PROVIDERS.len(),
            };
            if !used.contains(&p) {
                used.push(p);
                terms.push(format!("include:{}", PROVIDERS[p].0));
            }
        }
        let all = if next() % 2 == 0 { "-all" } else { "~all" };
        let policy = ["none", "quarantine", "reject"][(next() % 3) as usize];
        let _ = writeln!(z, "{d} 300 IN TXT \"v=spf1 {} {all}\"", terms.join(" "));
        let _ = writeln!(
            z,
            "_dmarc.{d} 300 IN TXT \"v=DMARC1; p={policy}; rua=mailto:dmarc@{}\"",
            d.trim_end_matches('.')
        );
        let _ = writeln!(z, "{d} 300 IN MX 10 mx.{d}");
        let _ = writeln!(z, "mx.{d} 300 IN A 192.0.{}.25", i % 256);
    }
    z
}

/// The one generated zone file as one zone text per origin, for Knot: each
/// record goes to the longest origin its owner name ends with.
fn split_zones(text: &str) -> Vec<(String, ZoneSource)> {
    let mut by_origin: Vec<(String, String)> = ORIGINS
        .iter()
        .map(|o| (format!("{o}."), format!("$ORIGIN {o}.\n")))
        .collect();
    let mut current = String::new();
    for line in text.lines() {
        if let Some(origin) = line.strip_prefix("$ORIGIN ") {
            current = origin.trim().to_string();
            continue;
        }
        let Some(owner) = line.split_whitespace().next() else {
            continue;
        };
        let absolute = if owner.ends_with('.') {
            owner.to_string()
        } else if owner == "@" {
            current.clone()
        } else {
            format!("{owner}.{current}")
        };
        let rest = &line[owner.len()..];
        if let Some((_, zone)) = by_origin
            .iter_mut()
            .filter(|(o, _)| absolute == *o || absolute.ends_with(&format!(".{o}")))
            .max_by_key(|(o, _)| o.len())
        {
            zone.push_str(&absolute);
            zone.push_str(rest);
            zone.push('\n');
        }
    }
    by_origin
        .into_iter()
        .map(|(o, z)| (o, ZoneSource::text(z)))
        .collect()
}

/// Counts what the checkers ask, and the distinct (name, type) pairs: what
/// the run's cache lets through to the zone (or, live, to the network).
struct Counting {
    inner: Arc<dyn Resolver>,
    asked: AtomicU64,
    distinct: Mutex<HashSet<(String, RecordType)>>,
}

#[async_trait]
impl Resolver for Counting {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        self.asked.fetch_add(1, Ordering::Relaxed);
        self.distinct
            .lock()
            .unwrap()
            .insert((name.to_ascii_lowercase(), rtype));
        self.inner.query(name, rtype).await
    }
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("authwarden-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.zone");
    let started = Instant::now();
    std::fs::write(&path, zone(n)).unwrap();
    let zone_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let knot = std::env::var("BENCH_DNS").is_ok_and(|v| v == "knot");
    let server = knot.then(|| {
        let zones = split_zones(&std::fs::read_to_string(&path).unwrap());
        KnotServer::start(
            &zones,
            &KnotOptions {
                startup_timeout: Some(Duration::from_secs(120)),
                ..KnotOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("cannot start Knot: {e}"))
    });
    let resolver = build_resolver(&DnsSettings {
        // With the overlay never asked: every name is inside a zone of the file.
        nameservers: vec![server
            .as_ref()
            .map_or("127.0.0.1:9".parse().unwrap(), |s| s.addr())],
        timeout: Duration::from_secs(if knot { 2 } else { 1 }),
        retries: if knot { 2 } else { 0 },
        zone_files: if knot { vec![] } else { vec![path.clone()] },
    })
    .expect("the generated zone loads");
    let loaded = started.elapsed();
    let counting = Arc::new(Counting {
        inner: resolver,
        asked: AtomicU64::new(0),
        distinct: Mutex::new(HashSet::new()),
    });
    let resolver: Arc<dyn Resolver> = counting.clone();
    // BENCH_CHECKERS=spf,dmarc-policy narrows the run.
    let only: Option<Vec<String>> = std::env::var("BENCH_CHECKERS")
        .ok()
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect());
    let registry = Registry::builtin();
    let planned: Vec<PlannedChecker> = registry
        .checkers()
        .iter()
        .filter(|c| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|id| id == c.info().id))
        })
        .map(|c| PlannedChecker {
            checker: c.clone(),
            settings: serde_json::json!({}),
        })
        .collect();
    let ids: Vec<&str> = planned.iter().map(|c| c.checker.info().id).collect();
    let engine = Engine::new(planned);
    let ctx = CheckContext::new(resolver.clone(), Arc::new(SystemClock));
    let targets: Vec<DomainTarget> = (0..n)
        .map(|i| DomainTarget::new(format!("d{i}.bench.test")))
        .collect();
    let t = Instant::now();
    let outcome = engine.run(&ctx, &targets, &|| {}).await;
    let elapsed = t.elapsed();
    let counts = outcome.counts();
    let spf_over: usize = outcome
        .findings
        .iter()
        .filter(|f| f.code == "SPF001")
        .count();
    println!(
        "profile: {}",
        if cfg!(debug_assertions) {
            "dev (debug assertions on)"
        } else {
            "release"
        }
    );
    println!(
        "dns: {}",
        match &server {
            Some(s) => format!("Knot DNS on {} (UDP, hickory)", s.addr()),
            None => "zone-file overlay".to_string(),
        }
    );
    println!("checkers: {}", ids.join(", "));
    println!(
        "zone: {n} domains, {zone_bytes} bytes, generated and loaded in {:.2} s",
        loaded.as_secs_f64()
    );
    println!(
        "checked {n} domains in {:.2} s: {:.0} domains/s",
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64()
    );
    let asked = counting.asked.load(Ordering::Relaxed);
    let distinct = counting.distinct.lock().unwrap().len();
    println!(
        "dns queries: {asked} asked by the checkers, {distinct} distinct (name, type) answered below the cache ({:.1} per domain)",
        distinct as f64 / n as f64
    );
    println!(
        "findings: {} errors, {} warnings, {} notes ({spf_over} over the spf lookup limit)",
        counts.errors, counts.warnings, counts.notes
    );
    if let Some(kib) = peak_rss_kib() {
        println!("peak rss: {:.1} MiB", kib as f64 / 1024.0);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
