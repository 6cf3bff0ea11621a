//! The mail summary of a reporting period, from the DMARC aggregate rows in
//! the history: per policy domain, the messages by category, the sources
//! that fail most, the sources seen for the first time, and the pass rate
//! over recent periods for a chart.
//!
//! The queries run on polars lazy frames; what comes out are plain structs
//! ([`MailSummary`]), so that the report crate need not know polars.
//!
//! Rows belong to the period in which their report's range *begins*
//! (reports cover a day, and the caller's boundaries are whole days). The
//! pass-rate series spreads a report covering several days evenly over
//! those days (at most [`MAX_SPREAD_DAYS`]), so that a weekly report does
//! not make one day look busy and the next six empty.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::HistoryStore;

const DAY_MS: i64 = 86_400_000;

/// A report's count is spread over at most this many days in the pass-rate
/// series; longer ranges (reporters' bugs, mostly) are cut, which bounds the
/// work whatever the input.
pub const MAX_SPREAD_DAYS: i64 = 31;

/// The points of the pass-rate series: one per day or per week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// One point per UTC day.
    Day,
    /// One point per week, Monday to Sunday (UTC).
    Week,
}

impl Bucket {
    /// The first day (days since 1970-01-01) of the bucket holding `day`.
    fn start_expr(self, day: Expr) -> Expr {
        match self {
            Bucket::Day => day,
            // 1970-01-01 was a Thursday: Monday is 3 days earlier.
            Bucket::Week => day.clone() - (day + lit(3i64)) % lit(7i64),
        }
    }
}

/// What to summarise: the period `[start, end)` and the window of the
/// pass-rate series `[trend_start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailQuery {
    /// The first instant of the period.
    pub start: DateTime<Utc>,
    /// The first instant after the period.
    pub end: DateTime<Utc>,
    /// The first instant of the pass-rate series (at most `start`), e.g. the
    /// start of the period five periods back for six periods of trend.
    pub trend_start: DateTime<Utc>,
    /// The points of the pass-rate series.
    pub bucket: Bucket,
    /// How many failing sources to list per domain.
    pub top_sources: usize,
    /// How many new sources to list per domain.
    pub new_sources: usize,
}

impl MailQuery {
    /// The period `[start, end)`, with a daily pass-rate series over the
    /// period itself and 10 sources of each kind per domain.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> MailQuery {
        MailQuery {
            start,
            end,
            trend_start: start,
            bucket: Bucket::Day,
            top_sources: 10,
            new_sources: 10,
        }
    }
}

/// What the aggregate reports say about a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailSummary {
    /// The first instant of the period.
    pub start: DateTime<Utc>,
    /// The first instant after the period.
    pub end: DateTime<Utc>,
    /// Reports (distinct org_name, report_id) with rows in the period.
    pub reports: u64,
    /// Messages in the period, all domains.
    pub messages: u64,
    /// Of which both SPF and DKIM aligned.
    pub pass: u64,
    /// Of which only one aligned.
    pub partial: u64,
    /// Of which neither aligned.
    pub fail: u64,
    /// When the latest report in the history begins, whatever the period
    /// (to say how old the data is when the period has none).
    pub latest_report: Option<DateTime<Utc>>,
    /// One entry per policy domain with rows in the period, by name.
    pub domains: Vec<DomainMail>,
}

/// One policy domain's mail in the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainMail {
    /// The domain of the reports' `policy_published`.
    pub domain: String,
    /// Reports with rows for the domain in the period.
    pub reports: u64,
    /// Messages.
    pub messages: u64,
    /// Messages with SPF and DKIM aligned.
    pub pass: u64,
    /// Messages with one of them aligned.
    pub partial: u64,
    /// Messages with neither aligned.
    pub fail: u64,
    /// The sources with the most partial or failing messages, most first,
    /// at most [`MailQuery::top_sources`].
    pub failing_sources: Vec<FailingSource>,
    /// How many (source, category, cause) there are in all.
    pub failing_sources_total: u64,
    /// Sources first seen in the period, most messages first, at most
    /// [`MailQuery::new_sources`].
    pub new_sources: Vec<NewSource>,
    /// How many sources were first seen in the period.
    pub new_sources_total: u64,
    /// The pass rate per day or week in `[trend_start, end)`, oldest first;
    /// buckets without messages are left out.
    pub pass_rate: Vec<PassRatePoint>,
}

impl DomainMail {
    /// `pass` / `messages`, when there are messages.
    pub fn pass_rate(&self) -> Option<f64> {
        (self.messages > 0).then(|| self.pass as f64 / self.messages as f64)
    }
}

/// Partial or failing mail from one source for one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailingSource {
    /// The sending IP as reported.
    pub source_ip: String,
    /// The known service it belongs to, when known.
    pub provider: Option<String>,
    /// `partial` or `fail`.
    pub category: String,
    /// The cause code, e.g. `unknown-source`.
    pub cause: String,
    /// The suggested action.
    pub action: String,
    /// The RFC5322.From domains it sent, sorted.
    pub header_from: Vec<String>,
    /// Messages.
    pub messages: u64,
}

/// A source seen for the first time in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewSource {
    /// The sending IP as reported.
    pub source_ip: String,
    /// The known service it belongs to, when known.
    pub provider: Option<String>,
    /// Its messages in the period.
    pub messages: u64,
    /// Of which pass.
    pub pass: u64,
    /// Of which partial.
    pub partial: u64,
    /// Of which fail.
    pub fail: u64,
    /// The begin of its first report.
    pub first_seen: DateTime<Utc>,
}

/// One point of a pass-rate series. Counts are fractional where a report's
/// range was spread over several days.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassRatePoint {
    /// The first day of the bucket.
    pub start: NaiveDate,
    /// Messages in the bucket.
    pub messages: f64,
    /// Of which pass.
    pub pass: f64,
}

impl PassRatePoint {
    /// `pass` / `messages` (the series leaves out empty buckets).
    pub fn rate(&self) -> f64 {
        if self.messages > 0.0 {
            self.pass / self.messages
        } else {
            0.0
        }
    }
}

impl HistoryStore {
    /// The mail summary of `query`'s period from the aggregate rows, or
    /// `None` when the history holds no aggregate rows at all (no report was
    /// ever ingested). A period without rows gives a summary with no domains.
    pub fn mail_summary(&self, query: &MailQuery) -> Result<Option<MailSummary>> {
        let rows = self.load_aggregate()?;
        if rows.height() == 0 {
            return Ok(None);
        }
        Ok(Some(summarize(rows, query)?))
    }
}

/// The summary of `rows` (columns of [`crate::aggregate_schema`]).
pub(crate) fn summarize(rows: DataFrame, q: &MailQuery) -> PolarsResult<MailSummary> {
    let (start, end) = (q.start.timestamp_millis(), q.end.timestamp_millis());
    let trend_start = q.trend_start.timestamp_millis().min(start);
    let all = rows
        .lazy()
        .with_columns([
            col("begin").cast(DataType::Int64).alias("begin_ms"),
            col("end").cast(DataType::Int64).alias("end_ms"),
            col("count").fill_null(lit(0u64)),
        ])
        .with_column(
            col("begin_ms")
                .gt_eq(lit(start))
                .and(col("begin_ms").lt(lit(end)))
                .alias("in_period"),
        );
    let period = all.clone().filter(col("in_period"));
    let sum_if = |category: &str| {
        col("count")
            .filter(col("category").eq(lit(category)))
            .sum()
            .alias(category)
    };

    // Messages by category, and the reports.
    let totals = period
        .clone()
        .group_by([col("domain")])
        .agg([
            col("count").sum().alias("messages"),
            sum_if("pass"),
            sum_if("partial"),
            sum_if("fail"),
        ])
        .sort(["domain"], SortMultipleOptions::new())
        .collect()?;
    let reports = period
        .clone()
        .select([col("domain"), col("org_name"), col("report_id")])
        .unique(None, UniqueKeepStrategy::Any);
    let reports_total = reports
        .clone()
        .select([col("org_name"), col("report_id")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?
        .height() as u64;
    let reports_by_domain = reports
        .group_by([col("domain")])
        .agg([len().alias("reports")])
        .collect()?;

    // Top failing sources.
    let failing = period
        .clone()
        .filter(col("category").neq(lit("pass")))
        .group_by([
            col("domain"),
            col("source_ip"),
            col("category"),
            col("cause"),
        ])
        .agg([
            col("count").sum().alias("messages"),
            col("provider").drop_nulls().first().alias("provider"),
            col("action").first().alias("action"),
            col("header_from")
                .unique()
                .sort(SortOptions::new())
                .alias("header_from"),
        ])
        .sort_by_exprs(
            [
                col("domain"),
                col("messages"),
                col("source_ip"),
                col("cause"),
            ],
            SortMultipleOptions::new().with_order_descending_multi([false, true, false, false]),
        )
        .collect()?;

    // Sources first seen in the period: over every row of the history.
    let new = all
        .clone()
        .group_by([col("domain"), col("source_ip")])
        .agg([
            col("begin_ms").min().alias("first_seen"),
            col("count")
                .filter(col("in_period"))
                .sum()
                .alias("messages"),
            col("count")
                .filter(col("in_period").and(col("category").eq(lit("pass"))))
                .sum()
                .alias("pass"),
            col("count")
                .filter(col("in_period").and(col("category").eq(lit("partial"))))
                .sum()
                .alias("partial"),
            col("count")
                .filter(col("in_period").and(col("category").eq(lit("fail"))))
                .sum()
                .alias("fail"),
            col("provider").drop_nulls().first().alias("provider"),
        ])
        .filter(
            col("first_seen")
                .gt_eq(lit(start))
                .and(col("first_seen").lt(lit(end))),
        )
        .sort_by_exprs(
            [col("domain"), col("messages"), col("source_ip")],
            SortMultipleOptions::new().with_order_descending_multi([false, true, false]),
        )
        .collect()?;

    // The pass-rate series: each row spread over the days of its range.
    let days = (col("end_ms") - col("begin_ms") + lit(DAY_MS - 1)).floor_div(lit(DAY_MS));
    let days = when(days.clone().lt(lit(1i64)))
        .then(lit(1i64))
        .when(days.clone().gt(lit(MAX_SPREAD_DAYS)))
        .then(lit(MAX_SPREAD_DAYS))
        .otherwise(days);
    let series = all
        .clone()
        .filter(
            col("begin_ms")
                .lt(lit(end))
                .and(col("begin_ms").gt_eq(lit(trend_start - MAX_SPREAD_DAYS * DAY_MS))),
        )
        .select([
            col("domain"),
            col("count").cast(DataType::Float64).alias("count"),
            col("category"),
            col("begin_ms").floor_div(lit(DAY_MS)).alias("first_day"),
            days.alias("days"),
        ])
        // One copy of each row per day it covers: joined with the (days,
        // offset) pairs 0 <= offset < days.
        .inner_join(spread_days()?, col("days"), col("days"))
        .with_columns([
            (col("first_day") + col("offset")).alias("day"),
            (col("count") / col("days").cast(DataType::Float64)).alias("share"),
        ])
        .filter(
            (col("day") * lit(DAY_MS))
                .gt_eq(lit(trend_start))
                .and((col("day") * lit(DAY_MS)).lt(lit(end))),
        )
        .with_column(q.bucket.start_expr(col("day")).alias("bucket"))
        .group_by([col("domain"), col("bucket")])
        .agg([
            col("share").sum().alias("messages"),
            col("share")
                .filter(col("category").eq(lit("pass")))
                .sum()
                .alias("pass"),
        ])
        .filter(col("messages").gt(lit(0.0)))
        .sort(["domain", "bucket"], SortMultipleOptions::new())
        .collect()?;

    let latest_report = all
        .select([col("begin_ms").max()])
        .collect()?
        .column("begin_ms")?
        .i64()?
        .get(0)
        .and_then(DateTime::from_timestamp_millis);

    // Plain structs from the frames.
    let mut domains: BTreeMap<String, DomainMail> = BTreeMap::new();
    {
        let domain = text(&totals, "domain")?;
        let (messages, pass, partial, fail) = (
            number(&totals, "messages")?,
            number(&totals, "pass")?,
            number(&totals, "partial")?,
            number(&totals, "fail")?,
        );
        for i in 0..totals.height() {
            let name = domain.get(i).unwrap_or_default().to_string();
            domains.insert(
                name.clone(),
                DomainMail {
                    domain: name,
                    reports: 0,
                    messages: messages.get(i).unwrap_or(0),
                    pass: pass.get(i).unwrap_or(0),
                    partial: partial.get(i).unwrap_or(0),
                    fail: fail.get(i).unwrap_or(0),
                    failing_sources: Vec::new(),
                    failing_sources_total: 0,
                    new_sources: Vec::new(),
                    new_sources_total: 0,
                    pass_rate: Vec::new(),
                },
            );
        }
    }
    {
        let domain = text(&reports_by_domain, "domain")?;
        let n = reports_by_domain
            .column("reports")?
            .cast(&DataType::UInt64)?;
        let n = n.u64()?;
        for i in 0..reports_by_domain.height() {
            if let Some(d) = domain.get(i).and_then(|d| domains.get_mut(d)) {
                d.reports = n.get(i).unwrap_or(0);
            }
        }
    }
    {
        let domain = text(&failing, "domain")?;
        let (ip, category, cause, provider, action) = (
            text(&failing, "source_ip")?,
            text(&failing, "category")?,
            text(&failing, "cause")?,
            text(&failing, "provider")?,
            text(&failing, "action")?,
        );
        let messages = number(&failing, "messages")?;
        let from = failing.column("header_from")?.list()?;
        for i in 0..failing.height() {
            let Some(d) = domain.get(i).and_then(|d| domains.get_mut(d)) else {
                continue;
            };
            d.failing_sources_total += 1;
            if d.failing_sources.len() >= q.top_sources {
                continue;
            }
            let header_from = match from.get_as_series(i) {
                Some(s) => s.str()?.iter().flatten().map(str::to_string).collect(),
                None => Vec::new(),
            };
            d.failing_sources.push(FailingSource {
                source_ip: ip.get(i).unwrap_or_default().to_string(),
                provider: provider.get(i).map(str::to_string),
                category: category.get(i).unwrap_or_default().to_string(),
                cause: cause.get(i).unwrap_or_default().to_string(),
                action: action.get(i).unwrap_or_default().to_string(),
                header_from,
                messages: messages.get(i).unwrap_or(0),
            });
        }
    }
    {
        let domain = text(&new, "domain")?;
        let (ip, provider) = (text(&new, "source_ip")?, text(&new, "provider")?);
        let (messages, pass, partial, fail) = (
            number(&new, "messages")?,
            number(&new, "pass")?,
            number(&new, "partial")?,
            number(&new, "fail")?,
        );
        let first_seen = new.column("first_seen")?.i64()?;
        for i in 0..new.height() {
            let Some(d) = domain.get(i).and_then(|d| domains.get_mut(d)) else {
                continue;
            };
            d.new_sources_total += 1;
            if d.new_sources.len() >= q.new_sources {
                continue;
            }
            d.new_sources.push(NewSource {
                source_ip: ip.get(i).unwrap_or_default().to_string(),
                provider: provider.get(i).map(str::to_string),
                messages: messages.get(i).unwrap_or(0),
                pass: pass.get(i).unwrap_or(0),
                partial: partial.get(i).unwrap_or(0),
                fail: fail.get(i).unwrap_or(0),
                first_seen: first_seen
                    .get(i)
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or_default(),
            });
        }
    }
    {
        let domain = text(&series, "domain")?;
        let bucket = series.column("bucket")?.i64()?;
        let (messages, pass) = (
            series.column("messages")?.f64()?,
            series.column("pass")?.f64()?,
        );
        for i in 0..series.height() {
            let Some(d) = domain.get(i).and_then(|d| domains.get_mut(d)) else {
                continue;
            };
            let Some(start) = bucket
                .get(i)
                .and_then(|b| DateTime::from_timestamp_millis(b * DAY_MS))
            else {
                continue;
            };
            d.pass_rate.push(PassRatePoint {
                start: start.date_naive(),
                messages: messages.get(i).unwrap_or(0.0),
                pass: pass.get(i).unwrap_or(0.0),
            });
        }
    }

    let domains: Vec<DomainMail> = domains.into_values().collect();
    let sum = |f: fn(&DomainMail) -> u64| domains.iter().map(f).sum();
    Ok(MailSummary {
        start: q.start,
        end: q.end,
        reports: reports_total,
        messages: sum(|d| d.messages),
        pass: sum(|d| d.pass),
        partial: sum(|d| d.partial),
        fail: sum(|d| d.fail),
        latest_report,
        domains,
    })
}

/// Every `(days, offset)` with `1 <= days <= MAX_SPREAD_DAYS` and
/// `0 <= offset < days`.
fn spread_days() -> PolarsResult<LazyFrame> {
    let (days, offset): (Vec<i64>, Vec<i64>) = (1..=MAX_SPREAD_DAYS)
        .flat_map(|n| (0..n).map(move |o| (n, o)))
        .unzip();
    Ok(DataFrame::new(
        days.len(),
        vec![
            Column::new("days".into(), days),
            Column::new("offset".into(), offset),
        ],
    )?
    .lazy())
}

fn text<'a>(df: &'a DataFrame, name: &str) -> PolarsResult<&'a StringChunked> {
    df.column(name)?.str()
}

/// A count column as u64 (sums of `count` are u64; an empty frame's may not be).
fn number(df: &DataFrame, name: &str) -> PolarsResult<UInt64Chunked> {
    Ok(df.column(name)?.cast(&DataType::UInt64)?.u64()?.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate_frame;
    use authwarden_aggregate::AggregateRow;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    /// A one-day report row of `domain` from `ip`.
    fn row(domain: &str, day: DateTime<Utc>, ip: &str, count: u64, category: &str) -> AggregateRow {
        let cause = match category {
            "pass" => "aligned",
            "partial" => "forwarded",
            _ => "unknown-source",
        };
        AggregateRow {
            org_name: "google.com".into(),
            report_id: format!("{domain}-{}", day.timestamp()),
            source: "test".into(),
            begin: day.timestamp(),
            end: day.timestamp() + 86_399,
            domain: domain.into(),
            source_ip: ip.into(),
            count,
            header_from: domain.into(),
            category: category.into(),
            cause: cause.into(),
            action: format!("action for {cause}"),
            ..AggregateRow::default()
        }
    }

    fn november() -> MailQuery {
        MailQuery::new(at(2026, 11, 1), at(2026, 12, 1))
    }

    fn summary(rows: &[AggregateRow], q: &MailQuery) -> MailSummary {
        summarize(aggregate_frame(rows).unwrap(), q).unwrap()
    }

    #[test]
    fn counts_messages_by_category_in_the_period_only() {
        let rows = [
            row("example.com", at(2026, 11, 3), "192.0.2.1", 100, "pass"),
            row("example.com", at(2026, 11, 4), "192.0.2.1", 50, "pass"),
            row("example.com", at(2026, 11, 4), "192.0.2.2", 7, "partial"),
            row("example.com", at(2026, 11, 30), "198.51.100.9", 3, "fail"),
            // Outside: the day before and the first day after.
            row("example.com", at(2026, 10, 31), "192.0.2.1", 1000, "pass"),
            row("example.com", at(2026, 12, 1), "192.0.2.1", 1000, "fail"),
            row("example.org", at(2026, 11, 10), "192.0.2.1", 20, "pass"),
        ];
        let s = summary(&rows, &november());
        assert_eq!(
            (s.messages, s.pass, s.partial, s.fail, s.reports),
            (180, 170, 7, 3, 4)
        );
        let names: Vec<_> = s.domains.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(names, ["example.com", "example.org"]);
        let d = &s.domains[0];
        assert_eq!((d.messages, d.pass, d.partial, d.fail), (160, 150, 7, 3));
        assert_eq!(d.reports, 3);
        assert_eq!(d.pass_rate(), Some(150.0 / 160.0));
        assert_eq!(s.latest_report, Some(at(2026, 12, 1)));
    }

    #[test]
    fn failing_sources_are_the_top_ten_by_volume_with_cause_and_action() {
        let mut rows: Vec<_> = (1..=12u64)
            .map(|i| {
                row(
                    "example.com",
                    at(2026, 11, 5),
                    &format!("203.0.113.{i}"),
                    i,
                    "fail",
                )
            })
            .collect();
        // The same source on two days and under two From domains adds up.
        let mut r = row("example.com", at(2026, 11, 6), "203.0.113.1", 100, "fail");
        r.header_from = "news.example.com".into();
        r.provider = Some("SendGrid".into());
        rows.push(r);
        rows.push(row(
            "example.com",
            at(2026, 11, 6),
            "192.0.2.1",
            10_000,
            "pass",
        ));
        rows.push(row(
            "example.com",
            at(2026, 11, 6),
            "192.0.2.7",
            11,
            "partial",
        ));
        let s = summary(&rows, &november());
        let d = &s.domains[0];
        assert_eq!(d.failing_sources.len(), 10);
        assert_eq!(d.failing_sources_total, 13);
        let top = &d.failing_sources[0];
        assert_eq!(top.source_ip, "203.0.113.1");
        assert_eq!(top.messages, 101);
        assert_eq!(top.provider.as_deref(), Some("SendGrid"));
        assert_eq!(top.cause, "unknown-source");
        assert_eq!(top.action, "action for unknown-source");
        assert_eq!(top.header_from, ["example.com", "news.example.com"]);
        let order: Vec<_> = d.failing_sources.iter().map(|f| f.messages).collect();
        assert_eq!(order, [101, 12, 11, 11, 10, 9, 8, 7, 6, 5]);
        // Equal volumes by source IP: 192.0.2.7 (partial) before 203.0.113.11.
        assert_eq!(d.failing_sources[2].source_ip, "192.0.2.7");
        assert_eq!(d.failing_sources[2].category, "partial");
        assert!(d.failing_sources.iter().all(|f| f.source_ip != "192.0.2.1"));
    }

    #[test]
    fn new_sources_were_never_seen_before_the_period() {
        let rows = [
            row("example.com", at(2026, 9, 20), "192.0.2.1", 5, "pass"),
            row("example.com", at(2026, 11, 2), "192.0.2.1", 50, "pass"),
            row("example.com", at(2026, 11, 2), "198.51.100.7", 4, "fail"),
            row("example.com", at(2026, 11, 9), "198.51.100.7", 6, "pass"),
            row("example.com", at(2026, 11, 3), "203.0.113.5", 9, "partial"),
            // New for example.org, though example.com knew it before.
            row("example.org", at(2026, 11, 3), "192.0.2.1", 2, "pass"),
            // First seen after the period: not new in it.
            row("example.com", at(2026, 12, 2), "203.0.113.99", 1, "fail"),
        ];
        let s = summary(&rows, &november());
        let d = &s.domains[0];
        let new: Vec<_> = d
            .new_sources
            .iter()
            .map(|n| (n.source_ip.as_str(), n.messages, n.pass, n.partial, n.fail))
            .collect();
        assert_eq!(
            new,
            [("198.51.100.7", 10, 6, 0, 4), ("203.0.113.5", 9, 0, 9, 0)]
        );
        assert_eq!(d.new_sources[0].first_seen, at(2026, 11, 2));
        assert_eq!(d.new_sources_total, 2);
        assert_eq!(s.domains[1].new_sources[0].source_ip, "192.0.2.1");
    }

    #[test]
    fn pass_rate_per_week_over_the_trend_window_spreads_long_reports() {
        let mut q = november();
        q.trend_start = at(2026, 10, 1);
        q.bucket = Bucket::Week;
        let mut week_long = row("example.com", at(2026, 11, 2), "192.0.2.1", 70, "pass");
        week_long.end = at(2026, 11, 9).timestamp();
        let rows = [
            // Thursday 1 October: the week of Monday 28 September, cut at the window.
            row("example.com", at(2026, 10, 1), "192.0.2.1", 3, "pass"),
            row("example.com", at(2026, 10, 1), "192.0.2.9", 1, "fail"),
            // Before the window.
            row("example.com", at(2026, 9, 30), "192.0.2.1", 100, "fail"),
            // Monday 2 November to Sunday 8 November, 10 a day, all pass.
            week_long,
            row("example.com", at(2026, 11, 3), "192.0.2.9", 30, "fail"),
        ];
        let s = summary(&rows, &q);
        let points: Vec<_> = s.domains[0]
            .pass_rate
            .iter()
            .map(|p| (p.start.to_string(), p.messages, p.pass))
            .collect();
        assert_eq!(
            points,
            [
                ("2026-09-28".to_string(), 4.0, 3.0),
                ("2026-11-02".to_string(), 100.0, 70.0)
            ]
        );
        assert_eq!(s.domains[0].pass_rate[1].rate(), 0.7);

        q.bucket = Bucket::Day;
        let s = summary(&rows, &q);
        let nov3 = s.domains[0]
            .pass_rate
            .iter()
            .find(|p| p.start.to_string() == "2026-11-03")
            .unwrap();
        assert_eq!((nov3.messages, nov3.pass), (40.0, 10.0));
    }

    #[test]
    fn an_empty_period_gives_no_domains_but_says_when_the_latest_report_was() {
        let rows = [row("example.com", at(2026, 9, 20), "192.0.2.1", 5, "pass")];
        let s = summary(&rows, &november());
        assert!(s.domains.is_empty());
        assert_eq!((s.messages, s.reports), (0, 0));
        assert_eq!(s.latest_report, Some(at(2026, 9, 20)));
    }

    #[test]
    fn a_history_without_reports_gives_none() {
        let tmp = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(tmp.path());
        assert_eq!(store.mail_summary(&november()).unwrap(), None);
    }
}
