//! Synthetic aggregate-report history and the run harness shared by the
//! drift tests: months of daily rows per source, served by a
//! `StaticSource`, against zones parsed by `ZoneResolver`, at a fixed clock.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use authwarden_api::reports::{AggregateRow, AggregateSourceExt, StaticSource};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::{CheckContext, CheckOutput, Checker, DomainTarget, FixedClock, RunPaths};
use authwarden_checker_inventory_drift::InventoryDrift;
use authwarden_zone::ZoneResolver;
use chrono::{DateTime, Duration, TimeZone, Utc};

pub const DOMAIN: &str = "example.org";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap()
}

/// One source's daily mail.
#[derive(Clone)]
pub struct Stream {
    pub ip: &'static str,
    pub per_day: u64,
    pub dkim: bool,
    pub spf: bool,
    pub provider: Option<&'static str>,
    pub cause: &'static str,
    pub selector: Option<&'static str>,
    pub dkim_domain: Option<&'static str>,
}

impl Stream {
    pub fn aligned(ip: &'static str, per_day: u64, selector: &'static str) -> Stream {
        Stream {
            ip,
            per_day,
            dkim: true,
            spf: true,
            provider: None,
            cause: "aligned",
            selector: Some(selector),
            dkim_domain: Some(DOMAIN),
        }
    }

    pub fn failing(ip: &'static str, per_day: u64, cause: &'static str) -> Stream {
        Stream {
            ip,
            per_day,
            dkim: false,
            spf: false,
            provider: None,
            cause,
            selector: None,
            dkim_domain: None,
        }
    }
}

/// A daily report row of `stream` for the day `days_ago` days before now,
/// published policy `p`/`pct`.
pub fn row(stream: &Stream, days_ago: i64, p: &str, pct: Option<u8>) -> AggregateRow {
    let begin = (now() - Duration::days(days_ago)).date_naive();
    let begin = begin.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let category = match (stream.dkim, stream.spf) {
        (true, true) => "pass",
        (false, false) if stream.cause != "forwarded" => "fail",
        _ => "partial",
    };
    AggregateRow {
        org_name: "google.com".into(),
        report_id: format!("{days_ago}-{}", stream.ip),
        source: "synthetic".into(),
        begin,
        end: begin + 86_399,
        domain: DOMAIN.into(),
        p: Some(p.into()),
        pct,
        source_ip: stream.ip.into(),
        count: stream.per_day,
        header_from: DOMAIN.into(),
        dkim_domains: stream.dkim_domain.map(str::to_string),
        dkim_selectors: stream.selector.map(str::to_string),
        dkim_results: stream
            .dkim_domain
            .map(|_| if stream.dkim { "pass" } else { "fail" }.to_string()),
        dkim_aligned: stream.dkim,
        spf_aligned: stream.spf,
        reporter_agrees: true,
        category: category.into(),
        cause: stream.cause.into(),
        provider: stream.provider.map(str::to_string),
        ..Default::default()
    }
}

/// Daily rows of `stream` from `from` days ago to `to` days ago (inclusive).
pub fn days(stream: &Stream, from: i64, to: i64) -> Vec<AggregateRow> {
    (to..=from).map(|d| row(stream, d, "none", None)).collect()
}

pub struct Harness {
    pub zone: String,
    pub settings: Value,
    pub config: Value,
    pub rows: Option<Vec<AggregateRow>>,
    pub data_dir: Option<std::path::PathBuf>,
    /// Run as an ad-hoc check: the state is read, never written.
    pub read_only: bool,
    pub now: DateTime<Utc>,
    pub fail: Vec<(String, authwarden_api::RecordType)>,
}

impl Harness {
    pub fn new(zone: &str, settings: Value) -> Harness {
        Harness {
            zone: zone.to_string(),
            settings,
            config: json!({}),
            rows: None,
            data_dir: None,
            read_only: false,
            now: now(),
            fail: Vec::new(),
        }
    }

    pub async fn run(&self) -> CheckOutput {
        let mut resolver = ZoneResolver::from_str(&self.zone).expect("zone parses");
        for (name, rtype) in &self.fail {
            resolver = resolver.fail(name, Some(*rtype), authwarden_api::DnsFailure::ServFail);
        }
        let mut ctx = CheckContext::new(Arc::new(resolver), Arc::new(FixedClock(self.now)))
            .with_config(self.config.clone());
        if let Some(rows) = &self.rows {
            ctx.extensions
                .insert(Arc::new(AggregateSourceExt(Arc::new(StaticSource::new(
                    rows.clone(),
                )))));
        }
        if let Some(dir) = &self.data_dir {
            let paths = if self.read_only {
                RunPaths::read_only(dir.clone())
            } else {
                RunPaths::new(dir.clone())
            };
            ctx.extensions.insert(Arc::new(paths));
        }
        let mut target = DomainTarget::new(DOMAIN);
        target.settings = self.settings.clone();
        InventoryDrift.check(&ctx, &target).await
    }
}

pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.zone"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (kind, source) of every drift entry, sorted.
pub fn drift(out: &CheckOutput) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = out.facts.as_ref().unwrap()["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap().to_string(),
                d["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

pub fn codes(out: &CheckOutput) -> Vec<String> {
    let mut v: Vec<String> = out.findings.iter().map(|f| f.code.clone()).collect();
    v.sort();
    v
}

pub fn snapshot(out: &CheckOutput) -> Value {
    json!({"findings": out.findings, "facts": out.facts})
}
