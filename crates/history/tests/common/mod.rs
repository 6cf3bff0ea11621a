//! Helpers shared by the history tests.
#![allow(dead_code)]

use authwarden_api::{Finding, Severity};
use authwarden_history::{DomainFacts, RunMeta};
use chrono::{TimeZone, Utc};
use serde_json::{json, Map, Value};

/// A run of `job` started at the given UTC date, 06:00.
pub fn meta(job: &str, period: &str, y: i32, m: u32, d: u32) -> RunMeta {
    let started_at = Utc.with_ymd_and_hms(y, m, d, 6, 0, 0).unwrap();
    RunMeta {
        run_id: format!("{}-{job}", started_at.format("%Y%m%dT%H%M%SZ")),
        job: job.to_string(),
        period: period.to_string(),
        started_at,
    }
}

/// A finding with the given domain, code, subject and severity.
pub fn finding(domain: &str, code: &str, subject: &str, severity: Severity) -> Finding {
    let mut evidence = Map::new();
    evidence.insert("lookups".into(), json!(13));
    evidence.insert("limit".into(), json!(10));
    Finding {
        checker: "spf-lookups".into(),
        code: code.into(),
        name: format!("{}-name", code.to_lowercase()),
        severity,
        domain: domain.into(),
        subject: subject.into(),
        message: format!("{code} on {subject}"),
        help: "fix it".into(),
        evidence,
    }
}

/// DMARC facts for a domain.
pub fn dmarc_facts(domain: &str, policy: &str, pct: u32) -> DomainFacts {
    let mut facts = Map::new();
    facts.insert(
        "dmarc".into(),
        json!({"policy": policy, "pct": pct, "phase": format!("{policy} pct {pct}")}),
    );
    DomainFacts {
        domain: domain.into(),
        facts,
    }
}

/// Facts without a DMARC entry.
pub fn no_facts(domain: &str) -> DomainFacts {
    let mut facts = Map::new();
    facts.insert("spf".into(), Value::Object(Map::new()));
    DomainFacts {
        domain: domain.into(),
        facts,
    }
}
