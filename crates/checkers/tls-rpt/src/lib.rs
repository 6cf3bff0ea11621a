//! The `tls-rpt` checker of authwarden: SMTP TLS Reporting (RFC 8460).
//!
//! [`TlsRpt`] looks up the TLS-RPT record at `_smtp._tls.<domain>`, checks
//! that there is exactly one and that it parses (RFC 8460 section 3: the
//! version first, one `rua` with `mailto:` or `https:` URIs), requires it
//! when the domain publishes MTA-STS, and reads the ingested TLS reports
//! ([`TlsReportSourceExt`]) to warn when the share of failed sessions of the
//! checked period is above `[checkers.tls-rpt] failure_share_warn`.
#![deny(missing_docs)]

pub mod codes;
pub mod record;

use std::collections::BTreeMap;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::tls_reports::TlsReportSourceExt;
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, DnsAnswer, DomainTarget,
    Finding, Rdata, RecordType, ReportFact, SettingKey, SettingKind, SettingsSpec,
};
use chrono::{DateTime, Months, NaiveTime, Utc};

pub use codes::CODES;
use codes::*;
use record::{parse, RecordError};

/// The checker id, also its config section `[checkers.tls-rpt]`.
pub const CHECKER_ID: &str = "tls-rpt";

/// The failed share of sessions above which TLSRPT005 is reported, by default.
pub const DEFAULT_FAILURE_SHARE_WARN: f64 = 0.05;

/// How many failure result types a TLSRPT005 finding names.
const TOP_RESULT_TYPES: usize = 3;

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary:
        "checks the tls-rpt record (rfc 8460) and the failure share of the tls reports received",
    cadences: &[Cadence::Monthly, Cadence::Quarterly, Cadence::Annual],
    codes: CODES,
    facts_key: "tls_rpt",
};

static SETTINGS: SettingsSpec = SettingsSpec {
    checker: &[SettingKey {
        name: "failure_share_warn",
        kind: SettingKind::Float { min: 0.0, max: 1.0 },
    }],
    domain: &[],
};

/// The `tls-rpt` checker.
///
/// Its facts (key `tls_rpt`): `present` (bool, null when the lookup
/// failed), `record` (the one valid record, else null), `rua` (its URIs)
/// and `records` (every `v=TLSRPTv1` string published).
#[derive(Debug, Default, Clone, Copy)]
pub struct TlsRpt;

fn finding(code: &'static authwarden_api::CodeInfo, domain: &str, message: String) -> Finding {
    Finding::new(CHECKER_ID, code, domain, message)
}

fn incomplete(domain: &str, answer: &DnsAnswer) -> Option<Finding> {
    let failure = answer.failure()?;
    Some(
        finding(
            &TLSRPT_CHECK_INCOMPLETE,
            domain,
            format!(
                "tls-rpt was not checked: the txt lookup of {} failed: {failure}",
                answer.name
            ),
        )
        .help(format!(
            "check that the name servers answer for {}, then run `authwarden check {domain}` again",
            answer.name
        ))
        .failed_lookup(answer),
    )
}

fn starts_with(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len()) == Some(prefix)
}

/// The period whose reports are judged: the one the job reports on, or the
/// last 30 days for an ad-hoc check.
fn period(ctx: &CheckContext) -> (String, DateTime<Utc>, DateTime<Utc>) {
    let now = ctx.clock.now();
    if let Some(job) = ctx.job {
        let label = job.covered_period(now.date_naive());
        let months = match job {
            Cadence::Monthly => 1,
            Cadence::Quarterly => 3,
            Cadence::Annual => 12,
        };
        if let Some(end) = job.report_day(&label) {
            if let Some(start) = end.checked_sub_months(Months::new(months)) {
                let at = |d: chrono::NaiveDate| d.and_time(NaiveTime::MIN).and_utc();
                return (label, at(start), at(end));
            }
        }
    }
    (
        "the last 30 days".into(),
        now - chrono::Duration::days(30),
        now,
    )
}

fn threshold(ctx: &CheckContext) -> f64 {
    ctx.config
        .get("failure_share_warn")
        .and_then(Value::as_f64)
        .filter(|v| (0.0..=1.0).contains(v))
        .unwrap_or(DEFAULT_FAILURE_SHARE_WARN)
}

fn percent(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (part as f64 * 1000.0 / total as f64).round() / 10.0
    }
}

#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    types: BTreeMap<String, u64>,
}

/// TLSRPT005 findings: one per policy type whose failed share is above the threshold.
fn failure_share(ctx: &CheckContext, domain: &str) -> Vec<Finding> {
    let Some(source) = ctx.extensions.get::<TlsReportSourceExt>() else {
        return Vec::new();
    };
    let (label, since, until) = period(ctx);
    let limit = threshold(ctx);
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for row in source.0.rows(domain, since, until) {
        let t = tallies.entry(row.policy_type.clone()).or_default();
        t.ok = t.ok.saturating_add(row.successful);
        t.failed = t.failed.saturating_add(row.failed);
        for f in &row.failures {
            *t.types.entry(f.result_type.clone()).or_default() += f.count;
        }
    }
    let mut out = Vec::new();
    for (policy_type, t) in tallies {
        let total = t.ok.saturating_add(t.failed);
        if total == 0 {
            continue;
        }
        let share = t.failed as f64 / total as f64;
        if share <= limit {
            continue;
        }
        let mut top: Vec<(String, u64)> = t.types.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(TOP_RESULT_TYPES);
        let n = authwarden_api::text::group_digits;
        let top_text: Vec<String> = top
            .iter()
            .map(|(ty, count)| {
                format!("{ty} {} % ({} sessions)", percent(*count, total), n(*count))
            })
            .collect();
        let mut message = format!(
            "{} % of the {} sessions with policy type {policy_type} failed in {label} ({} of {}), above {} %",
            percent(t.failed, total),
            n(total),
            n(t.failed),
            n(total),
            (limit * 1000.0).round() / 10.0,
        );
        if !top_text.is_empty() {
            message.push_str(&format!(": {}", top_text.join(", ")));
        }
        out.push(
            finding(&TLSRPT_FAILURE_SHARE, domain, message)
                .subject(format!("{domain} ({policy_type})"))
                .help("fix the cause of the top result type (see `authwarden explain TLSRPT005`): renew or correct the mx certificates, list every mx host in the mta-sts policy, keep the policy reachable")
                .evidence("policy_type", policy_type.as_str())
                .evidence("period", label.as_str())
                .evidence("successful_sessions", t.ok)
                .evidence("failed_sessions", t.failed)
                .evidence("failure_share", (share * 10_000.0).round() / 10_000.0)
                .evidence("threshold", limit)
                .evidence(
                    "top_result_types",
                    top.iter()
                        .map(|(ty, n)| json!({"result_type": ty, "sessions": n, "share_percent": percent(*n, total)}))
                        .collect::<Vec<_>>(),
                ),
        );
    }
    out
}

/// How many MX hosts are asked for DANE records.
const DANE_MX_LIMIT: usize = 10;

/// The TLSA names (`_25._tcp.<mx>`, RFC 7672 section 2.2) of the domain's
/// MX hosts that publish TLSA records; a failed lookup is a TLSRPT006
/// finding, since without it TLSRPT001 cannot be told from TLSRPT007.
async fn dane_hosts(ctx: &CheckContext, domain: &str) -> Result<Vec<String>, Finding> {
    let mx = ctx.resolver.query(domain, RecordType::MX).await;
    if let Some(f) = incomplete(domain, &mx) {
        return Err(f);
    }
    let mut hosts: Vec<String> = mx
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::Mx { exchange, .. } if !exchange.is_empty() && exchange != "." => {
                Some(exchange.clone())
            }
            _ => None,
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    let mut out = Vec::new();
    for host in hosts.into_iter().take(DANE_MX_LIMIT) {
        let name = format!("_25._tcp.{host}");
        let answer = ctx.resolver.query(&name, RecordType::TLSA).await;
        if let Some(f) = incomplete(domain, &answer) {
            return Err(f);
        }
        if answer
            .records()
            .iter()
            .any(|r| matches!(r, Rdata::Tlsa { .. }))
        {
            out.push(name);
        }
    }
    Ok(out)
}

fn receives_mail(answer: &DnsAnswer) -> bool {
    answer
        .records()
        .iter()
        .any(|r| matches!(r, Rdata::Mx { exchange, .. } if !exchange.is_empty() && exchange != "."))
}

#[async_trait]
impl Checker for TlsRpt {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    fn settings_spec(&self) -> Option<&'static SettingsSpec> {
        Some(&SETTINGS)
    }

    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        match facts.get("present").and_then(Value::as_bool) {
            Some(true) => {
                let rua: Vec<&str> = facts
                    .get("rua")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if facts.get("record").is_some_and(|r| !r.is_null()) {
                    vec![ReportFact::new("TLS-RPT reports to", rua.join(", "))]
                } else {
                    vec![ReportFact::new("TLS-RPT", "published but unusable")]
                }
            }
            Some(false) => vec![ReportFact::new("TLS-RPT", "not published")],
            None => Vec::new(),
        }
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = target.name.as_str();
        let name = format!("_smtp._tls.{domain}");
        let answer = ctx.resolver.query(&name, RecordType::TXT).await;
        if let Some(f) = incomplete(domain, &answer) {
            return CheckOutput {
                findings: vec![f],
                facts: Some(json!({"present": null, "record": null, "rua": [], "records": null})),
                proposals: Vec::new(),
            };
        }
        let records: Vec<String> = answer
            .txt()
            .into_iter()
            .filter(|t| starts_with(t, "v=TLSRPTv1"))
            .collect();
        let mut facts = json!({
            "present": !records.is_empty(),
            "record": null,
            "rua": [],
            "records": records,
        });
        let mut findings = Vec::new();
        let example = format!("{name}. TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\"");
        match records.as_slice() {
            [] => {
                let sts_name = format!("_mta-sts.{domain}");
                let sts = ctx.resolver.query(&sts_name, RecordType::TXT).await;
                if let Some(f) = incomplete(domain, &sts) {
                    return CheckOutput {
                        findings: vec![f],
                        facts: Some(facts),
                        proposals: Vec::new(),
                    };
                }
                let sts_records: Vec<String> = sts
                    .txt()
                    .into_iter()
                    .filter(|t| starts_with(t, "v=STSv1"))
                    .collect();
                let dane = if sts_records.is_empty() {
                    match dane_hosts(ctx, domain).await {
                        Ok(hosts) => hosts,
                        Err(f) => {
                            return CheckOutput {
                                findings: vec![f],
                                facts: Some(facts),
                                proposals: Vec::new(),
                            };
                        }
                    }
                } else {
                    Vec::new()
                };
                if !dane.is_empty() {
                    findings.push(
                        finding(
                            &TLSRPT_MISSING,
                            domain,
                            format!(
                                "the mx hosts of the domain publish dane tlsa records ({}) but there is no tls-rpt record at {name}, so no sender reports failed deliveries",
                                dane.join(", ")
                            ),
                        )
                        .subject(&name)
                        .help(format!("publish `{example}`"))
                        .evidence("name", name.as_str())
                        .evidence("dane", dane),
                    );
                } else if !sts_records.is_empty() {
                    findings.push(
                        finding(
                            &TLSRPT_MISSING,
                            domain,
                            format!("the domain publishes mta-sts but no tls-rpt record at {name}, so no sender reports failed deliveries"),
                        )
                        .subject(&name)
                        .help(format!("publish `{example}`"))
                        .evidence("name", name.as_str())
                        .evidence("mta_sts", sts_records),
                    );
                } else {
                    let mx = ctx.resolver.query(domain, RecordType::MX).await;
                    if receives_mail(&mx) {
                        findings.push(
                            finding(
                                &TLSRPT_NOT_PUBLISHED,
                                domain,
                                format!("the domain receives mail but publishes no tls-rpt record at {name}"),
                            )
                            .subject(&name)
                            .help(format!("publish `{example}` to learn which senders fail to use tls"))
                            .evidence("name", name.as_str())
                            .evidence("mta_sts", false),
                        );
                    }
                }
            }
            [one] => match parse(one) {
                Ok(parsed) => {
                    facts["record"] = one.as_str().into();
                    facts["rua"] = parsed.rua.clone().into();
                }
                Err(errors) => {
                    let good: Vec<String> = record::rua_uris(one)
                        .into_iter()
                        .filter(|u| record::check_uri(u).is_ok())
                        .collect();
                    facts["rua"] = good.into();
                    for e in errors {
                        findings.push(match e {
                            RecordError::Syntax(why) => finding(
                                &TLSRPT_SYNTAX,
                                domain,
                                format!("the tls-rpt record does not parse: {why}"),
                            )
                            .subject(&name)
                            .help(format!("publish the record in the form `{example}`"))
                            .evidence("record", one.as_str())
                            .evidence("problem", why),
                            RecordError::BadUri { uri, why } => finding(
                                &TLSRPT_BAD_URI,
                                domain,
                                format!("the rua uri `{uri}` of the tls-rpt record is not usable: {why}"),
                            )
                            .subject(&name)
                            .help(format!("use a `mailto:` address or an `https://` url, e.g. `rua=mailto:tlsrpt@{domain}`"))
                            .evidence("record", one.as_str())
                            .evidence("uri", uri.as_str())
                            .evidence("problem", why),
                        });
                    }
                }
            },
            many => findings.push(
                finding(
                    &TLSRPT_MULTIPLE,
                    domain,
                    format!(
                        "{name} publishes {} tls-rpt records, so senders send no report at all",
                        many.len()
                    ),
                )
                .subject(&name)
                .help(format!(
                    "merge them into one record with every address in one rua, e.g. `{example}`"
                ))
                .evidence("records", many.to_vec()),
            ),
        }
        findings.extend(failure_share(ctx, domain));
        CheckOutput {
            findings,
            facts: Some(facts),
            proposals: Vec::new(),
        }
    }
}
