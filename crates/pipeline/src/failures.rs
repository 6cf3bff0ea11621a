//! DMARC failure reports (RFC 6591 / RFC 9991) from the history, for the
//! report's failure section ([`failures_context`]): per configured domain,
//! the reports of the period by source IP and `Auth-Failure`, each source
//! beside what the aggregate reports of the same period say of it (the
//! classification of `authwarden_aggregate::classify`), so that a failure
//! report of a known service that lacks DKIM reads differently from one of
//! a spoofer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use authwarden_api::Cadence;
use authwarden_history::{FailureRow, HistoryStore};
use authwarden_report as report;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// How many sources the section lists per domain.
const TOP: usize = 10;

/// Whether a domain's facts say it asks for failure reports: the DMARC
/// checker's facts (`dmarc`) list a `ruf` destination.
pub fn asks_for_failure_reports(facts: &Map<String, Value>) -> bool {
    facts
        .get("dmarc")
        .and_then(|d| d.get("ruf"))
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

#[derive(Default)]
struct Source {
    reports: u64,
    incidents: u64,
    auth_failures: BTreeSet<String>,
    reporters: BTreeSet<String>,
    dkim: BTreeSet<String>,
    delivery: BTreeSet<String>,
}

fn joined(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// An aggregate classification: category, cause, provider.
type Class = (String, String, Option<String>);

/// What the aggregate reports of the period say of each source IP of
/// `domain`: its (category, cause, provider) with the most messages, and
/// the messages counted for it.
fn aggregate_view(
    store: &HistoryStore,
    domain: &str,
    period: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> HashMap<String, String> {
    let rows = match store.aggregate_rows(domain, start, end) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!("cannot read the aggregate reports of {domain}: {e}");
            return HashMap::new();
        }
    };
    let mut by_ip: HashMap<String, BTreeMap<Class, u64>> = HashMap::new();
    for r in rows {
        *by_ip
            .entry(r.source_ip.clone())
            .or_default()
            .entry((r.category.clone(), r.cause.clone(), r.provider.clone()))
            .or_default() += r.count;
    }
    by_ip
        .into_iter()
        .map(|(ip, classes)| {
            let total: u64 = classes.values().sum();
            let ((category, cause, provider), _) = classes
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .unwrap_or_default();
            let meaning = match cause.as_str() {
                "unknown-source" => " (likely spoofing)",
                "forwarded" | "mailing-list" => " (forwarding)",
                _ => "",
            };
            let provider = provider.map(|p| format!(", {p}")).unwrap_or_default();
            (
                ip,
                format!(
                    "{category}: {cause}{meaning}{provider}, {} message{} in {period}",
                    authwarden_api::text::group_digits(total),
                    if total == 1 { "" } else { "s" }
                ),
            )
        })
        .collect()
}

fn domain_section(
    store: &HistoryStore,
    domain: &str,
    period: &str,
    rows: &[FailureRow],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> report::FailureDomain {
    let mut sources: BTreeMap<String, Source> = BTreeMap::new();
    let mut causes: BTreeMap<String, u64> = BTreeMap::new();
    let mut incidents = 0u64;
    for row in rows {
        let r = &row.report;
        let cause = r.auth_failure.clone().unwrap_or_else(|| "unstated".into());
        *causes.entry(cause.clone()).or_default() += 1;
        incidents = incidents.saturating_add(r.incidents);
        let s = sources
            .entry(r.source_ip.clone().unwrap_or_else(|| "unknown".into()))
            .or_default();
        s.reports += 1;
        s.incidents = s.incidents.saturating_add(r.incidents);
        s.auth_failures.insert(cause);
        s.reporters.insert(r.reporter.clone());
        if let Some(d) = &r.dkim_domain {
            s.dkim.insert(match &r.dkim_selector {
                Some(sel) => format!("{d} ({sel})"),
                None => d.clone(),
            });
        }
        if let Some(d) = &r.delivery_result {
            s.delivery.insert(d.clone());
        }
    }
    let aggregate = aggregate_view(store, domain, period, start, end);
    let mut lines: Vec<report::FailureSourceLine> = sources
        .into_iter()
        .map(|(ip, s)| report::FailureSourceLine {
            aggregate: aggregate
                .get(&ip)
                .cloned()
                .unwrap_or_else(|| "not in the aggregate reports of the period".to_string()),
            source_ip: ip,
            auth_failure: joined(&s.auth_failures),
            reports: s.reports,
            incidents: s.incidents,
            reporters: joined(&s.reporters),
            dkim: joined(&s.dkim),
            delivery: joined(&s.delivery),
        })
        .collect();
    lines.sort_by(|a, b| {
        (b.reports, b.incidents)
            .cmp(&(a.reports, a.incidents))
            .then_with(|| a.source_ip.cmp(&b.source_ip))
    });
    let more = lines.len().saturating_sub(TOP) as u64;
    lines.truncate(TOP);
    report::FailureDomain {
        domain: domain.to_string(),
        reports: rows.len() as u64,
        incidents,
        no_reports: None,
        by_cause: causes
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        sources: lines,
        sources_more: more,
    }
}

/// The failure-report section for the configured `domains` (each with
/// whether it asks for failure reports) over `[start, end)`; `None` when
/// the history has none and no domain asks for them.
pub fn failures_context(
    job: Cadence,
    store: &HistoryStore,
    domains: &[(String, bool)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Option<report::FailureReports> {
    if !store.has_failure_reports() && !domains.iter().any(|(_, asks)| *asks) {
        return None;
    }
    let mut out = report::FailureReports {
        period: authwarden_history::period_for(job, start),
        reports: 0,
        incidents: 0,
        domains: Vec::new(),
    };
    for (domain, asks) in domains {
        let rows = store.failure_rows(domain, start, end).unwrap_or_else(|e| {
            tracing::warn!("cannot read the failure reports of {domain}: {e}");
            Vec::new()
        });
        if rows.is_empty() {
            if *asks {
                out.domains.push(report::FailureDomain {
                    domain: domain.clone(),
                    reports: 0,
                    incidents: 0,
                    no_reports: Some(
                        "no failure report this period: the domain asks for them (ruf=), but most large receivers (Gmail, Microsoft, Yahoo) send none, so their absence says little"
                            .into(),
                    ),
                    by_cause: String::new(),
                    sources: Vec::new(),
                    sources_more: 0,
                });
            }
            continue;
        }
        let section = domain_section(store, domain, &out.period, &rows, start, end);
        out.reports += section.reports;
        out.incidents = out.incidents.saturating_add(section.incidents);
        out.domains.push(section);
    }
    Some(out)
}
