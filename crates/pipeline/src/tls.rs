//! SMTP TLS reports (RFC 8460) from the history, for the run: the
//! [`TlsReportSource`] that checkers read (added to the run's extensions by
//! [`crate::report_rows::insert_store`]) and the report's TLS section
//! ([`tls_context`]): per configured domain and policy type, the sessions
//! of the period against the period before, the failures by receiving MX
//! and by sending MTA, the trend and its chart.

use std::collections::{BTreeMap, HashMap};

use authwarden_api::tls_reports::{TlsPolicyRow, TlsReportSource};
use authwarden_api::Cadence;
use authwarden_history::HistoryStore;
use authwarden_report::{self as report, Chart};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use serde_json::{Map, Value};

/// The content id of the TLS chart in the HTML part.
pub const TLS_CHART_CID: &str = "tls-sessions-chart@authwarden";
/// The chart's file beside `report.html`.
pub const TLS_CHART_FILE: &str = "tls-sessions.png";

/// How many (result type, host) pairs the section lists per domain.
const TOP: usize = 5;

/// The history's TLS report rows as a [`TlsReportSource`].
pub struct HistoryTls {
    store: HistoryStore,
}

impl HistoryTls {
    /// The rows of the history at `store`'s root.
    pub fn new(store: HistoryStore) -> Self {
        HistoryTls { store }
    }
}

impl TlsReportSource for HistoryTls {
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<TlsPolicyRow> {
        self.store
            .tls_rows(domain, since, until)
            .unwrap_or_else(|e| {
                tracing::warn!("cannot read the TLS reports of {domain} in the history: {e}");
                Vec::new()
            })
    }
}

/// Whether a domain's facts say it asks for TLS reports or publishes
/// MTA-STS: a fact object of the MTA-STS or TLS-RPT checkers (`mta_sts`,
/// `mta-sts`, `tls_rpt`, `tls-rpt`) that does not say the record is absent.
pub fn asks_for_tls_reports(facts: &Map<String, Value>) -> bool {
    ["mta_sts", "mta-sts", "tls_rpt", "tls-rpt", "tlsrpt"]
        .iter()
        .filter_map(|k| facts.get(*k))
        .any(|v| match v {
            Value::Object(o) => {
                !matches!(
                    o.get("present").or_else(|| o.get("published")),
                    Some(Value::Bool(false))
                ) && !matches!(o.get("record"), Some(Value::Null))
            }
            Value::Null | Value::Bool(false) => false,
            _ => true,
        })
}

/// Sessions of one (domain, policy type).
#[derive(Default, Clone, Copy)]
struct Counts {
    ok: u64,
    failed: u64,
}

impl Counts {
    fn add(&mut self, ok: u64, failed: u64) {
        self.ok = self.ok.saturating_add(ok);
        self.failed = self.failed.saturating_add(failed);
    }

    fn total(self) -> u64 {
        self.ok.saturating_add(self.failed)
    }
}

/// The first day of the trend bucket holding `t`: the Monday of its week,
/// or the first of its month for the annual audit.
fn bucket(job: Cadence, t: i64) -> NaiveDate {
    let d = DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .date_naive();
    match job {
        Cadence::Annual => d.with_day(1).unwrap_or(d),
        _ => d - Duration::days(i64::from(d.weekday().num_days_from_monday())),
    }
}

/// Top `TOP` of `counts`, most first, and how many more there are.
fn top(counts: HashMap<(String, String), u64>) -> (Vec<report::TlsFailureLine>, u64) {
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let more = v.len().saturating_sub(TOP) as u64;
    let lines = v
        .into_iter()
        .take(TOP)
        .map(|((result_type, host), sessions)| report::TlsFailureLine {
            result_type,
            host,
            sessions,
        })
        .collect();
    (lines, more)
}

/// Whether the failure share went up, down or stayed (as shown, to one
/// decimal), or is `new` without sessions in the period before.
fn change(now: Counts, before: Counts) -> String {
    if before.total() == 0 {
        return "new".into();
    }
    let (a, b) = (
        report::percent(now.failed, now.total()),
        report::percent(before.failed, before.total()),
    );
    if a == b {
        return "same".into();
    }
    let rate = |c: Counts| c.failed as f64 / c.total().max(1) as f64;
    if rate(now) > rate(before) {
        "up"
    } else {
        "down"
    }
    .into()
}

/// The report's TLS section for the period `[start, end)` of `job`, with the
/// period before for comparison, and the chart. `domains` are the run's
/// domains with their facts. `None` when no TLS report was ever ingested and
/// no domain asks for them.
pub fn tls_context(
    job: Cadence,
    store: &HistoryStore,
    domains: &[(String, bool)],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> (Option<report::TlsReports>, Option<Vec<u8>>) {
    let any_history = store.has_tls_reports();
    if !any_history && !domains.iter().any(|(_, asks)| *asks) {
        return (None, None);
    }
    let months = match job {
        Cadence::Monthly => 1,
        Cadence::Quarterly => 3,
        Cadence::Annual => 12,
    };
    let before = start
        .checked_sub_months(Months::new(months))
        .unwrap_or(start - Duration::days(30 * i64::from(months)));
    let day = |t: &DateTime<Utc>| t.format("%Y-%m-%d").to_string();
    let mut out = report::TlsReports {
        period: authwarden_history::period_for(job, start),
        first_day: day(&start),
        last_day: day(&(end - Duration::days(1))),
        unit: match job {
            Cadence::Monthly => "month",
            Cadence::Quarterly => "quarter",
            Cadence::Annual => "year",
        }
        .into(),
        reports: 0,
        sessions: 0,
        failed: 0,
        failure_percent: String::new(),
        previous_failure_percent: String::new(),
        domains: Vec::new(),
        chart: None,
    };
    let mut all = Counts::default();
    let mut all_before = Counts::default();
    let mut reports = std::collections::HashSet::new();
    let mut series = Vec::new();
    for (domain, asks) in domains {
        let rows = store.tls_rows(domain, before, end).unwrap_or_else(|e| {
            tracing::warn!("cannot read the TLS reports of {domain}: {e}");
            Vec::new()
        });
        let (now, then): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r.begin >= start.timestamp());
        if now.is_empty() {
            if *asks || !then.is_empty() {
                out.domains.push(report::TlsDomain {
                    domain: domain.clone(),
                    reports: 0,
                    no_reports: Some(if *asks {
                        format!("no TLS report covers this {} although the domain asks for them (TLS-RPT) or publishes MTA-STS: check the rua of its _smtp._tls record and that reports reach the ingest folders or mailbox", out.unit)
                    } else {
                        format!("no TLS report covers this {}; the {} before had some", out.unit, out.unit)
                    }),
                    policies: Vec::new(),
                    by_mx: Vec::new(),
                    by_mx_more: 0,
                    by_mta: Vec::new(),
                    by_mta_more: 0,
                    trend: Vec::new(),
                });
            }
            continue;
        }
        let mut by_type: BTreeMap<String, (Counts, Counts)> = BTreeMap::new();
        let mut by_mx: HashMap<(String, String), u64> = HashMap::new();
        let mut by_mta: HashMap<(String, String), u64> = HashMap::new();
        let mut trend: BTreeMap<NaiveDate, Counts> = BTreeMap::new();
        let mut domain_reports = std::collections::HashSet::new();
        for r in &then {
            by_type
                .entry(r.policy_type.clone())
                .or_default()
                .1
                .add(r.successful, r.failed);
            all_before.add(r.successful, r.failed);
            trend
                .entry(bucket(job, r.begin))
                .or_default()
                .add(r.successful, r.failed);
        }
        for r in &now {
            by_type
                .entry(r.policy_type.clone())
                .or_default()
                .0
                .add(r.successful, r.failed);
            all.add(r.successful, r.failed);
            trend
                .entry(bucket(job, r.begin))
                .or_default()
                .add(r.successful, r.failed);
            domain_reports.insert((r.org_name.clone(), r.report_id.clone()));
            reports.insert((r.org_name.clone(), r.report_id.clone()));
            for f in &r.failures {
                let unknown = || "unknown".to_string();
                *by_mx
                    .entry((
                        f.result_type.clone(),
                        f.receiving_mx_hostname.clone().unwrap_or_else(unknown),
                    ))
                    .or_default() += f.count;
                *by_mta
                    .entry((
                        f.result_type.clone(),
                        f.sending_mta_ip.clone().unwrap_or_else(unknown),
                    ))
                    .or_default() += f.count;
            }
        }
        let (by_mx, by_mx_more) = top(by_mx);
        let (by_mta, by_mta_more) = top(by_mta);
        series.push(report::PassRateSeries {
            domain: domain.clone(),
            points: trend
                .iter()
                .map(|(d, c)| {
                    (
                        d.format("%Y-%m-%d").to_string(),
                        c.total() as f64,
                        c.ok as f64,
                    )
                })
                .collect(),
        });
        out.domains.push(report::TlsDomain {
            domain: domain.clone(),
            reports: domain_reports.len() as u64,
            no_reports: None,
            policies: by_type
                .into_iter()
                .filter(|(_, (n, _))| n.total() > 0)
                .map(|(policy_type, (n, b))| report::TlsPolicyLine {
                    policy_type,
                    successful: n.ok,
                    failed: n.failed,
                    failure_percent: report::percent(n.failed, n.total()),
                    previous_failure_percent: report::percent(b.failed, b.total()),
                    change: change(n, b),
                })
                .collect(),
            by_mx,
            by_mx_more,
            by_mta,
            by_mta_more,
            trend: trend
                .range(bucket(job, start.timestamp())..)
                .map(|(d, c)| report::TlsTrendPoint {
                    start: d.format("%Y-%m-%d").to_string(),
                    sessions: c.total(),
                    failed: c.failed,
                    failure_percent: report::percent(c.failed, c.total()),
                })
                .collect(),
        });
    }
    out.reports = reports.len() as u64;
    out.sessions = all.total();
    out.failed = all.failed;
    out.failure_percent = report::percent(all.failed, all.total());
    out.previous_failure_percent = report::percent(all_before.failed, all_before.total());
    out.domains.sort_by(|a, b| a.domain.cmp(&b.domain));
    let caption = match job {
        Cadence::Annual => "month starting (UTC)",
        _ => "week starting (UTC)",
    };
    let png = if series.is_empty() {
        None
    } else {
        report::tls_success_chart_png(&series, caption, 1184, 560)
            .map_err(|e| tracing::warn!("no TLS chart: {e}"))
            .ok()
    };
    if png.is_some() {
        // The first week (or month) with data: the window may start earlier.
        let first_point = out
            .domains
            .iter()
            .filter_map(|d| d.trend.first().map(|p| p.start.clone()))
            .min()
            .unwrap_or_else(|| day(&before));
        out.chart = Some(Chart::new(
            TLS_CHART_CID,
            TLS_CHART_FILE,
            format!(
                "share of SMTP sessions to each domain that used TLS as its policy asks, per {} from {} to {}, from the TLS reports",
                if job == Cadence::Annual { "month" } else { "week" },
                first_point,
                out.last_day
            ),
        ));
    }
    (Some(out), png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_aggregate::{TlsFailureDetail, TlsPolicy, TlsReport, TlsReportHeader};
    use chrono::TimeZone as _;

    fn report(id: &str, day: (i32, u32, u32), ok: u64, failed: u64) -> TlsReport {
        let begin = Utc
            .with_ymd_and_hms(day.0, day.1, day.2, 0, 0, 0)
            .unwrap()
            .timestamp();
        TlsReport {
            header: TlsReportHeader {
                org_name: "Sender".into(),
                report_id: id.into(),
                contact_info: None,
                begin,
                end: begin + 86399,
                policies: 1,
            },
            policies: vec![TlsPolicy {
                policy_type: "sts".into(),
                policy_domain: "example.com".into(),
                successful: ok,
                failed,
                failures: (0..7)
                    .map(|i| TlsFailureDetail {
                        result_type: "certificate-expired".into(),
                        receiving_mx_hostname: Some(format!("mx{i}.example.com")),
                        sending_mta_ip: Some(format!("192.0.2.{i}")),
                        count: i + 1,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn the_section_compares_with_the_period_before_and_names_silent_domains() {
        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path());
        {
            let b = store.tls_batch().unwrap();
            b.write(
                "a",
                &report("oct", (2026, 10, 5), 990, 10),
                &authwarden_api::reports::ReportAuth::not_mail(),
            )
            .unwrap();
            b.write(
                "b",
                &report("nov1", (2026, 11, 2), 900, 100),
                &authwarden_api::reports::ReportAuth::not_mail(),
            )
            .unwrap();
            b.write(
                "c",
                &report("nov2", (2026, 11, 20), 950, 50),
                &authwarden_api::reports::ReportAuth::not_mail(),
            )
            .unwrap();
        }
        let start = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        let domains = vec![
            ("example.com".to_string(), true),
            ("example.org".to_string(), true),
            ("example.net".to_string(), false),
        ];
        let (ctx, png) = tls_context(Cadence::Monthly, &store, &domains, start, end);
        let ctx = ctx.unwrap();
        assert!(png.is_some() && ctx.chart.is_some());
        assert_eq!((ctx.reports, ctx.sessions, ctx.failed), (2, 2000, 150));
        assert_eq!(ctx.failure_percent, "7.5%");
        assert_eq!(ctx.previous_failure_percent, "1.0%");
        assert_eq!(
            ctx.domains.len(),
            2,
            "example.net asks nothing and has nothing"
        );
        let com = &ctx.domains[0];
        assert_eq!(com.policies[0].change, "up");
        assert_eq!(com.by_mx.len(), 5);
        assert_eq!(com.by_mx_more, 2);
        assert_eq!(com.by_mx[0].host, "mx6.example.com");
        assert_eq!(com.by_mx[0].sessions, 14);
        assert_eq!(com.trend.len(), 2);
        assert_eq!(com.trend[0].start, "2026-11-02");
        let org = &ctx.domains[1];
        assert!(org
            .no_reports
            .as_deref()
            .unwrap()
            .starts_with("no TLS report covers this month"));
    }

    #[test]
    fn facts_that_ask_for_reports() {
        let facts = |v: Value| v.as_object().unwrap().clone();
        assert!(asks_for_tls_reports(&facts(
            serde_json::json!({"tls_rpt": {"rua": ["mailto:a@b"]}})
        )));
        assert!(!asks_for_tls_reports(&facts(
            serde_json::json!({"tls_rpt": {"present": false}})
        )));
        assert!(!asks_for_tls_reports(&facts(
            serde_json::json!({"dmarc": {}})
        )));
    }
}
