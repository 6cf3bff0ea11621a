//! The `mta-sts` checker of authwarden: SMTP MTA Strict Transport Security
//! (RFC 8461) as senders see it.
//!
//! [`MtaSts`] looks up the `_mta-sts` record, fetches the policy from
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` through the run's
//! [`HttpsFetcherExt`] (the host resolved with the run's DNS layer, the
//! certificate verified, no redirect followed, the body capped), parses it,
//! checks that every MX host of the domain is covered by an `mx` pattern,
//! remembers the policy between jobs to catch a policy changed under an
//! unchanged `id`, and warns when `testing` mode is held for weeks, saying
//! from the TLS reports whether the domain is ready for `enforce`.
#![deny(missing_docs)]

pub mod codes;
pub mod policy;
pub mod state;

use std::collections::BTreeMap;

use authwarden_api::https::{HttpsFailureKind, HttpsFetcherExt};
use authwarden_api::plan::{Change, FindingRef, Proposal, Publisher};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::tls_reports::TlsReportSourceExt;
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, DnsAnswer, DnsOutcome,
    DomainTarget, Finding, Rdata, RecordType, ReportFact, RunPaths, SettingKey, SettingKind,
    SettingsSpec, Severity,
};

pub use codes::CODES;
use codes::*;
use policy::{Mode, Policy};

/// The checker id, also its config section `[checkers.mta-sts]`.
pub const CHECKER_ID: &str = "mta-sts";

/// The policy's path on the policy host.
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

/// Weeks of `testing` mode before STS015, by default.
const DEFAULT_TESTING_WEEKS: i64 = 4;
/// The failure share of the TLS reports at or below which a domain is ready.
const DEFAULT_READY_SHARE: f64 = 0.01;
/// Sessions the TLS reports must count before readiness is judged.
const READY_MIN_SESSIONS: u64 = 100;
/// At most this many MX hosts are matched against the policy.
const MAX_MX: usize = 20;

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "checks the mta-sts record and policy: fetch, certificate, syntax, mx coverage, id changes, testing held too long",
    cadences: &[Cadence::Monthly, Cadence::Quarterly, Cadence::Annual],
    codes: CODES,
    facts_key: "mta_sts",
};

static SETTINGS: SettingsSpec = SettingsSpec {
    checker: &[
        SettingKey {
            name: "testing_weeks",
            kind: SettingKind::Integer { min: 1, max: 520 },
        },
        SettingKey {
            name: "ready_failure_share",
            kind: SettingKind::Float { min: 0.0, max: 1.0 },
        },
    ],
    domain: &[],
};

/// The `mta-sts` checker.
///
/// Its facts (key `mta_sts`): `present` (bool, null when the lookup
/// failed), `record`, `id`, `policy_url`, `fetch` (`status`,
/// `content_type`, `address` or `error` and `error_kind`), `policy`
/// (`mode`, `max_age`, `mx`), `mx_hosts`, `uncovered` (MX hosts no pattern
/// matches) and `testing_since` (a date, while in testing mode).
#[derive(Debug, Default, Clone, Copy)]
pub struct MtaSts;

fn finding(code: &'static authwarden_api::CodeInfo, domain: &str, message: String) -> Finding {
    Finding::new(CHECKER_ID, code, domain, message)
}

fn incomplete(domain: &str, what: &str, error: String) -> Finding {
    finding(
        &STS_CHECK_INCOMPLETE,
        domain,
        format!("MTA-STS was not fully checked: {what} failed: {error}"),
    )
    .help(format!(
        "run `authwarden check {domain}` again once its name servers answer"
    ))
    .evidence("error", error)
}

/// The exchanges of a non-null MX set, in preference order; `None` when the
/// lookup failed.
fn mx_hosts(answer: &DnsAnswer) -> Option<Vec<String>> {
    if matches!(answer.outcome, DnsOutcome::Failed(_)) {
        return None;
    }
    let mut mx: Vec<(u16, String)> = answer
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::Mx {
                preference,
                exchange,
            } if !exchange.is_empty() && exchange != "." => Some((
                *preference,
                exchange.trim_end_matches('.').to_ascii_lowercase(),
            )),
            _ => None,
        })
        .collect();
    mx.sort();
    mx.dedup_by(|a, b| a.1 == b.1);
    Some(mx.into_iter().map(|(_, e)| e).collect())
}

/// The record that replaces every `v=STSv1` record at `name`, with an id
/// made of `now` (a new id tells senders to fetch the policy again).
fn new_record(
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
    reason: &str,
    f: &Finding,
) -> Proposal {
    Proposal::new(
        Change::PublishTxt {
            name: name.to_string(),
            value: format!("v=STSv1; id={}", now.format("%Y%m%dT%H%M%S")),
            publisher: Publisher::Us,
            replace: true,
        },
        reason,
        vec![FindingRef::to(f)],
    )
}

/// A duration in words: `14 days`, `6 hours`, `300 seconds`.
fn human(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds >= 86_400 && seconds.is_multiple_of(86_400) {
        plural(seconds / 86_400, "day")
    } else if seconds >= 3_600 && seconds.is_multiple_of(3_600) {
        plural(seconds / 3_600, "hour")
    } else {
        plural(seconds, "second")
    }
}

/// The TLS-report view of the last 30 days for `domain`'s `sts` policy.
struct Readiness {
    ok: u64,
    failed: u64,
    top: Vec<(String, u64)>,
}

fn readiness(ctx: &CheckContext, domain: &str) -> Option<Readiness> {
    let source = ctx.extensions.get::<TlsReportSourceExt>()?;
    let until = ctx.clock.now();
    let since = until - chrono::Duration::days(30);
    let rows = source.0.rows(domain, since, until);
    let mut out = Readiness {
        ok: 0,
        failed: 0,
        top: Vec::new(),
    };
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.policy_type == "sts") {
        out.ok = out.ok.saturating_add(row.successful);
        out.failed = out.failed.saturating_add(row.failed);
        for f in &row.failures {
            *types.entry(f.result_type.clone()).or_default() += f.count;
        }
    }
    let mut top: Vec<_> = types.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(3);
    out.top = top;
    Some(out)
}

/// What the fetch and parse gave.
enum Fetched {
    /// A valid policy.
    Policy(Policy),
    /// No usable policy; the findings say why.
    Broken,
}

async fn fetch_policy(
    ctx: &CheckContext,
    domain: &str,
    host: &str,
    facts: &mut Value,
    findings: &mut Vec<Finding>,
) -> Fetched {
    let url = format!("https://{host}{POLICY_PATH}");
    let Some(fetcher) = ctx.extensions.get::<HttpsFetcherExt>() else {
        findings.push(incomplete(
            domain,
            "fetching the policy",
            "this run has no HTTPS fetcher".into(),
        ));
        return Fetched::Broken;
    };
    let response = match fetcher.0.get(host, POLICY_PATH).await {
        Ok(r) => r,
        Err(e) => {
            facts["fetch"] = json!({"error": e.detail, "error_kind": e.kind.as_str()});
            let (code, what): (&'static authwarden_api::CodeInfo, &str) = match e.kind {
                HttpsFailureKind::Dns => {
                    findings.push(incomplete(
                        domain,
                        "the address lookup of the policy host",
                        e.detail,
                    ));
                    return Fetched::Broken;
                }
                HttpsFailureKind::CertificateExpired => (
                    &STS_CERT_EXPIRED,
                    "its certificate has expired or is not valid yet",
                ),
                HttpsFailureKind::CertificateName => {
                    (&STS_CERT_NAME, "its certificate is not valid for that name")
                }
                HttpsFailureKind::CertificateUntrusted => (
                    &STS_CERT_UNTRUSTED,
                    "its certificate does not chain to a trusted CA",
                ),
                HttpsFailureKind::NoAddress => (&STS_POLICY_UNREACHABLE, "the host has no address"),
                HttpsFailureKind::Connect => (
                    &STS_POLICY_UNREACHABLE,
                    "no address accepts connections on port 443",
                ),
                HttpsFailureKind::Timeout => {
                    (&STS_POLICY_UNREACHABLE, "the server did not answer in time")
                }
                HttpsFailureKind::Tls | HttpsFailureKind::Protocol => {
                    (&STS_POLICY_UNREACHABLE, "the TLS or HTTP exchange failed")
                }
            };
            findings.push(
                finding(
                    code,
                    domain,
                    format!("senders cannot fetch the MTA-STS policy {url}: {what}"),
                )
                .subject(host)
                .help(match e.kind {
                    k if k.is_certificate() => format!(
                        "serve a valid certificate from a public CA for {host}, then check again"
                    ),
                    _ => {
                        format!("serve the policy at {url} (A/AAAA for {host}, HTTPS on port 443)")
                    }
                })
                .evidence("url", url.as_str())
                .evidence("error", e.detail),
            );
            return Fetched::Broken;
        }
    };
    facts["fetch"] = json!({
        "status": response.status,
        "content_type": response.content_type,
        "address": response.address,
    });
    if (300..400).contains(&response.status) {
        findings.push(
            finding(
                &STS_POLICY_REDIRECT,
                domain,
                format!(
                    "the MTA-STS policy URL {url} redirects ({}) instead of serving the policy; senders do not follow redirects",
                    response.status
                ),
            )
            .subject(host)
            .help(format!("serve the file itself at {url}"))
            .evidence("status", response.status)
            .evidence("location", response.location.clone().unwrap_or_default()),
        );
        return Fetched::Broken;
    }
    if response.status != 200 {
        findings.push(
            finding(
                &STS_POLICY_HTTP_STATUS,
                domain,
                format!(
                    "the MTA-STS policy URL {url} answers HTTP {}",
                    response.status
                ),
            )
            .subject(host)
            .help(format!("put the policy file at {POLICY_PATH} on {host}"))
            .evidence("status", response.status),
        );
        return Fetched::Broken;
    }
    let media = response.media_type();
    if media.as_deref() != Some("text/plain") {
        findings.push(
            finding(
                &STS_POLICY_CONTENT_TYPE,
                domain,
                format!(
                    "the MTA-STS policy {url} is served as {}, not text/plain",
                    media.as_deref().unwrap_or("no content type")
                ),
            )
            .subject(host)
            .help("serve the policy file as text/plain")
            .evidence(
                "content_type",
                response.content_type.clone().unwrap_or_default(),
            ),
        );
        return Fetched::Broken;
    }
    let invalid =
        |problems: Vec<String>| {
            finding(
            &STS_POLICY_INVALID,
            domain,
            format!("the MTA-STS policy {url} is not valid: {}", problems.join("; ")),
        )
        .subject(host)
        .help("fix the policy file (see `authwarden explain STS010`), then change the record's id")
        .evidence("problems", problems)
        };
    if response.truncated {
        findings.push(invalid(vec![format!(
            "the body is larger than {} KiB",
            authwarden_api::https::MAX_BODY / 1024
        )]));
        return Fetched::Broken;
    }
    let Ok(body) = std::str::from_utf8(&response.body) else {
        findings.push(invalid(vec!["the body is not UTF-8 text".into()]));
        return Fetched::Broken;
    };
    match policy::parse_policy(body) {
        Ok(p) => Fetched::Policy(p),
        Err(e) => {
            if let Some(over) = e.max_age_over {
                findings.push(
                    finding(
                        &STS_MAX_AGE_RANGE,
                        domain,
                        format!(
                            "the MTA-STS policy's max_age {over} is above the maximum of {} seconds",
                            policy::MAX_AGE_LIMIT
                        ),
                    )
                    .subject(host)
                    .help("use max_age: 31557600 or less, then change the record's id")
                    .evidence("max_age", over),
                );
            }
            if !e.problems.is_empty() {
                findings.push(invalid(e.problems));
            }
            Fetched::Broken
        }
    }
}

impl MtaSts {
    fn testing_weeks(ctx: &CheckContext) -> i64 {
        ctx.config
            .get("testing_weeks")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_TESTING_WEEKS)
    }

    fn ready_share(ctx: &CheckContext) -> f64 {
        ctx.config
            .get("ready_failure_share")
            .and_then(Value::as_f64)
            .unwrap_or(DEFAULT_READY_SHARE)
    }
}

#[async_trait]
impl Checker for MtaSts {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    fn settings_spec(&self) -> Option<&'static SettingsSpec> {
        Some(&SETTINGS)
    }

    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        let value = match facts.get("present").and_then(Value::as_bool) {
            None => return Vec::new(),
            Some(false) => "not published".to_string(),
            Some(true) => match facts.get("policy").filter(|p| p.is_object()) {
                Some(p) => {
                    let mode = p["mode"].as_str().unwrap_or("?");
                    let mut s = format!(
                        "mode {mode}, max_age {}",
                        human(p["max_age"].as_u64().unwrap_or(0))
                    );
                    let hosts = facts["mx_hosts"].as_array().map_or(0, Vec::len);
                    let uncovered = facts["uncovered"].as_array().map_or(0, Vec::len);
                    if mode != "none" && hosts > 0 {
                        s.push_str(&format!(
                            ", covers {} of {hosts} MX host{}",
                            hosts - uncovered,
                            if hosts == 1 { "" } else { "s" }
                        ));
                    }
                    if let Some(since) = facts["testing_since"].as_str() {
                        s.push_str(&format!(", testing since {since}"));
                    }
                    s
                }
                None => "published, but no valid policy can be fetched".to_string(),
            },
        };
        vec![ReportFact::new("MTA-STS", value)]
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = target.name.as_str();
        let host = format!("mta-sts.{domain}");
        let record_name = format!("_mta-sts.{domain}");
        let mut findings = Vec::new();
        let mut facts = json!({
            "present": null,
            "record": null,
            "id": null,
            "policy_url": format!("https://{host}{POLICY_PATH}"),
            "fetch": null,
            "policy": null,
            "mx_hosts": null,
            "uncovered": [],
            "testing_since": null,
        });
        let (txt, mx) = tokio::join!(
            ctx.resolver.query(&record_name, RecordType::TXT),
            ctx.resolver.query(domain, RecordType::MX)
        );
        let mxs = mx_hosts(&mx);
        facts["mx_hosts"] = json!(mxs);
        if let Some(failure) = txt.failure() {
            findings.push(incomplete(
                domain,
                &format!("the TXT lookup of {record_name}"),
                failure.to_string(),
            ));
            return CheckOutput {
                findings,
                facts: Some(facts),
                ..Default::default()
            };
        }
        let records: Vec<String> = txt
            .txt()
            .into_iter()
            .filter(|t| t.starts_with("v=STSv1"))
            .collect();
        facts["present"] = json!(!records.is_empty());
        match records.len() {
            0 => {
                if mxs.as_ref().is_some_and(|m| !m.is_empty()) {
                    findings.push(
                        finding(
                            &STS_NOT_PUBLISHED,
                            domain,
                            "the domain receives mail but publishes no MTA-STS policy: senders accept a stripped STARTTLS or any certificate".into(),
                        )
                        .help(format!(
                            "publish TLS-RPT, then a `mode: testing` policy at https://{host}{POLICY_PATH} and `{record_name}. TXT \"v=STSv1; id=<timestamp>\"`"
                        )),
                    );
                }
                return CheckOutput {
                    findings,
                    facts: Some(facts),
                    ..Default::default()
                };
            }
            1 => {}
            n => {
                findings.push(
                    finding(
                        &STS_RECORD_MULTIPLE,
                        domain,
                        format!("{record_name} has {n} MTA-STS records; senders ignore them all"),
                    )
                    .subject(&record_name)
                    .help("keep exactly one `v=STSv1` record")
                    .evidence("records", records.clone()),
                );
                let proposals = vec![new_record(
                    &record_name,
                    ctx.clock.now(),
                    "one MTA-STS record, with a new id so that senders fetch the policy again",
                    &findings[findings.len() - 1],
                )];
                return CheckOutput {
                    findings,
                    facts: Some(facts),
                    proposals,
                };
            }
        }
        let record = &records[0];
        facts["record"] = json!(record);
        let mut proposals = Vec::new();
        let id = match policy::parse_record(record) {
            Ok(r) => Some(r.id),
            Err(why) => {
                findings.push(
                    finding(
                        &STS_RECORD_INVALID,
                        domain,
                        format!("the MTA-STS record of {domain} is not valid: {why}"),
                    )
                    .subject(&record_name)
                    .help(format!(
                        "publish `{record_name}. TXT \"v=STSv1; id=20261201T000000\"`"
                    ))
                    .evidence("record", record.as_str()),
                );
                proposals.push(new_record(
                    &record_name,
                    ctx.clock.now(),
                    "a valid MTA-STS record: v=STSv1 and an id of letters and digits",
                    &findings[findings.len() - 1],
                ));
                None
            }
        };
        facts["id"] = json!(id);
        let Fetched::Policy(policy) =
            fetch_policy(ctx, domain, &host, &mut facts, &mut findings).await
        else {
            return CheckOutput {
                findings,
                facts: Some(facts),
                proposals,
            };
        };
        facts["policy"] = json!({
            "mode": policy.mode.as_str(),
            "max_age": policy.max_age,
            "mx": policy.mx,
        });
        let short = match policy.mode {
            Mode::Enforce => 7 * 86_400,
            Mode::Testing => 86_400,
            Mode::None => 0,
        };
        if policy.max_age < short {
            findings.push(
                finding(
                    &STS_MAX_AGE_SHORT,
                    domain,
                    format!(
                        "the MTA-STS policy's max_age is {} in {} mode: senders forget it quickly",
                        human(policy.max_age),
                        policy.mode.as_str()
                    ),
                )
                .subject(&host)
                .help("once the policy is stable use max_age: 1209600 (two weeks) or more")
                .evidence("max_age", policy.max_age),
            );
        }
        if policy.mode != Mode::None {
            match &mxs {
                None => findings.push(incomplete(
                    domain,
                    &format!("the MX lookup of {domain}"),
                    mx.failure().map(ToString::to_string).unwrap_or_default(),
                )),
                Some(hosts) => {
                    let uncovered: Vec<&String> = hosts
                        .iter()
                        .take(MAX_MX)
                        .filter(|h| !policy.mx.iter().any(|p| policy::matches(p, h)))
                        .collect();
                    facts["uncovered"] = json!(uncovered);
                    for h in uncovered {
                        let mut f = finding(
                            &STS_MX_NOT_COVERED,
                            domain,
                            format!(
                                "the MX host {h} is not covered by the MTA-STS policy ({}): {}",
                                policy.mx.join(", "),
                                if policy.mode == Mode::Enforce {
                                    "senders refuse to deliver to it"
                                } else {
                                    "TLS reports count it as failing, and `enforce` would refuse it"
                                }
                            ),
                        )
                        .subject(h.as_str())
                        .help(format!(
                            "add `mx: {h}` to the policy file, then change the record's id"
                        ))
                        .evidence("mx", h.as_str())
                        .evidence("patterns", policy.mx.clone());
                        if policy.mode == Mode::Testing {
                            f = f.severity(Severity::Warning);
                        }
                        findings.push(f);
                    }
                }
            }
        }
        if let Some(id) = &id {
            let paths = ctx.extensions.get::<RunPaths>();
            let now = ctx.clock.now();
            let today = now.date_naive().to_string();
            let before = paths
                .as_ref()
                .and_then(|p| state::load(&p.data_dir, domain));
            let after = state::next(before.as_ref(), id, &policy, &today);
            if let Some((under, old)) = after.changed_under.as_ref().filter(|(u, _)| u == id) {
                findings.push(
                    finding(
                        &STS_CHANGED_SAME_ID,
                        domain,
                        format!(
                            "the MTA-STS policy changed but the record's id is still {under}: senders keep the old policy ({}) until max_age runs out",
                            old.describe()
                        ),
                    )
                    .subject(&record_name)
                    .help(format!("change the id: `{record_name}. TXT \"v=STSv1; id={}\"`", now.format("%Y%m%dT%H%M%S")))
                    .evidence("id", under.as_str())
                    .evidence("before", old.describe())
                    .evidence("now", after.policy.describe()),
                );
                proposals.push(new_record(
                    &record_name,
                    now,
                    "a new id, so that senders fetch the changed policy",
                    &findings[findings.len() - 1],
                ));
            }
            if let Some(since) = &after.testing_since {
                facts["testing_since"] = json!(since);
                let weeks = Self::testing_weeks(ctx);
                let held = chrono::NaiveDate::parse_from_str(since, "%Y-%m-%d")
                    .map(|d| (now.date_naive() - d).num_days())
                    .unwrap_or(0);
                if held >= weeks * 7 {
                    let ready = readiness(ctx, domain);
                    let share = Self::ready_share(ctx);
                    let (verdict, help) = match &ready {
                        None => (
                            "no TLS reports are read by this run, so readiness is unknown".to_string(),
                            "publish TLS-RPT and ingest its reports to see whether senders succeed".to_string(),
                        ),
                        Some(r) if r.ok + r.failed < READY_MIN_SESSIONS => (
                            format!(
                                "the TLS reports of the last 30 days count only {} sessions, too few to judge",
                                r.ok + r.failed
                            ),
                            "check that TLS-RPT is published and its reports are ingested".to_string(),
                        ),
                        Some(r) => {
                            let total = r.ok + r.failed;
                            let failed_share = r.failed as f64 / total as f64;
                            if failed_share <= share {
                                (
                                    format!(
                                        "the TLS reports of the last 30 days show it ready: {} of {total} sessions failed ({:.1} %)",
                                        r.failed,
                                        failed_share * 100.0
                                    ),
                                    format!("change `mode: testing` to `mode: enforce` in the policy and change the id of {record_name}"),
                                )
                            } else {
                                let top: Vec<String> =
                                    r.top.iter().map(|(t, n)| format!("{t} {n}")).collect();
                                (
                                    format!(
                                        "not ready yet: {} of {total} sessions failed ({:.1} %) in the last 30 days: {}",
                                        r.failed,
                                        failed_share * 100.0,
                                        top.join(", ")
                                    ),
                                    "fix the failures the TLS reports show, then switch to `mode: enforce`".to_string(),
                                )
                            }
                        }
                    };
                    findings.push(
                        finding(
                            &STS_TESTING_STALLED,
                            domain,
                            format!(
                                "the MTA-STS policy has been in testing mode since {since} ({} weeks); {verdict}",
                                held / 7
                            ),
                        )
                        .help(help)
                        .evidence("testing_since", since.as_str())
                        .evidence("weeks", held / 7),
                    );
                }
            }
            if let Some(p) = paths.filter(|p| !p.read_only) {
                if before.as_ref() != Some(&after) {
                    if let Err(e) = state::save(&p.data_dir, domain, &after) {
                        findings.push(incomplete(
                            domain,
                            "keeping the policy for the next job",
                            e.to_string(),
                        ));
                    }
                }
            }
        }
        CheckOutput {
            findings,
            facts: Some(facts),
            proposals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_words() {
        assert_eq!(human(1_209_600), "14 days");
        assert_eq!(human(86_400), "1 day");
        assert_eq!(human(7_200), "2 hours");
        assert_eq!(human(300), "300 seconds");
    }
}
