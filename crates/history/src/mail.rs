//! The mail summary of a reporting period, from the DMARC aggregate rows in
//! the history: per policy domain, the messages by category, the sources
//! that fail most, the sources seen for the first time, and the pass rate
//! over recent periods for a chart.
//!
//! The queries run on polars lazy frames; what comes out are plain structs
//! ([`MailSummary`]), so that the report crate need not know polars.
//!
//! Counts are summed without wrapping: a sum beyond `u64::MAX` saturates, as
//! the ingest does.
//!
//! Rows belong to the period in which their report's range *begins*
//! (reports cover a day, and the caller's boundaries are whole days). The
//! pass-rate series spreads a report covering several days evenly over
//! those days (at most [`MAX_SPREAD_DAYS`]), so that a weekly report does
//! not make one day look busy and the next six empty.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::scan::{domain_partition, AggFile, Days, Domains};
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

/// What to summarise: the period `[start, end)`, the window of the
/// pass-rate series `[trend_start, end)`, the look-back for new sources
/// `[known_since, start)` and the domains.
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
    /// A source is new in the period when none of its rows since this
    /// instant begins before the period. [`MailQuery::new`] sets
    /// `start - (end - start)`, a look-back as long as the period; set it
    /// to `trend_start` to look back as far as the chart. Only these days are read, however
    /// long the history: a source silent for longer counts as new again.
    pub known_since: DateTime<Utc>,
    /// The policy domains to summarise (case and a final dot do not
    /// matter), e.g. the configured ones, so that reports for domains not
    /// configured (any more) stay out of the summary; `None` for every
    /// domain in the history. Only their partitions are read.
    pub domains: Option<Vec<String>>,
}

impl MailQuery {
    /// The period `[start, end)`, with a daily pass-rate series over the
    /// period itself, 10 sources of each kind per domain, new sources
    /// against the previous period of the same length, and every domain.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> MailQuery {
        MailQuery {
            start,
            end,
            trend_start: start,
            bucket: Bucket::Day,
            top_sources: 10,
            new_sources: 10,
            known_since: start - (end - start),
            domains: None,
        }
    }

    /// Only these policy domains (see [`MailQuery::domains`]).
    pub fn with_domains<S: AsRef<str>>(mut self, domains: impl IntoIterator<Item = S>) -> Self {
        self.domains = Some(
            domains
                .into_iter()
                .map(|d| d.as_ref().to_string())
                .collect(),
        );
        self
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
    /// `None` when the history holds no aggregate report of the queried
    /// domains (none was ever ingested). A period without rows gives a
    /// summary with no domains.
    ///
    /// Reads only the partitions of the queried domains and of the days the
    /// query looks at (the period, the look-back for new sources from
    /// [`MailQuery::known_since`], the pass-rate window from
    /// [`MailQuery::trend_start`] less [`MAX_SPREAD_DAYS`]), and of those
    /// only the columns each part uses; the aggregation runs in polars'
    /// streaming engine. Damaged files are skipped and listed in
    /// [`HistoryStore::damaged`].
    pub fn mail_summary(&self, query: &MailQuery) -> Result<Option<MailSummary>> {
        let only: Option<BTreeSet<String>> = query
            .domains
            .as_ref()
            .map(|ds| ds.iter().map(|d| domain_partition(d)).collect());
        let domains = match &only {
            Some(set) => Domains::Only(set),
            None => Domains::All,
        };
        if self.aggregate_domain_dirs(&domains)?.is_empty() {
            return Ok(None);
        }
        let rows = StoreRows {
            store: self,
            domains,
        };
        Ok(Some(summarize(&rows, query)?))
    }
}

/// Where [`summarize`] reads aggregate rows from.
pub(crate) trait RowSource {
    /// `query` run over the rows whose `begin` is in `[from, to)`
    /// (milliseconds), given as a lazy frame with the file columns
    /// `columns`, `begin` and `domain`.
    fn collect(
        &self,
        from: i64,
        to: i64,
        columns: &[&str],
        query: &dyn Fn(LazyFrame) -> LazyFrame,
    ) -> Result<DataFrame>;

    /// The `begin` (milliseconds) of the latest report of any period.
    fn latest_begin(&self) -> Result<Option<i64>>;
}

/// The rows of an in-memory frame with the columns of
/// [`crate::aggregate_schema`].
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) struct FrameRows(pub DataFrame);

fn in_window(from: i64, to: i64) -> Expr {
    let begin = || col("begin").cast(DataType::Int64);
    begin().gt_eq(lit(from)).and(begin().lt(lit(to)))
}

impl RowSource for FrameRows {
    fn collect(
        &self,
        from: i64,
        to: i64,
        columns: &[&str],
        query: &dyn Fn(LazyFrame) -> LazyFrame,
    ) -> Result<DataFrame> {
        let mut select: Vec<Expr> = columns.iter().map(|c| col(*c)).collect();
        if !columns.contains(&"begin") {
            select.push(col("begin"));
        }
        select.push(col("domain"));
        let lf = self
            .0
            .clone()
            .lazy()
            .filter(in_window(from, to))
            .select(select);
        Ok(query(lf).collect()?)
    }

    fn latest_begin(&self) -> Result<Option<i64>> {
        Ok(self
            .0
            .clone()
            .lazy()
            .select([col("begin").cast(DataType::Int64).max()])
            .collect()?
            .column("begin")?
            .i64()?
            .get(0))
    }
}

/// The rows of the history's partitions of some domains.
struct StoreRows<'a> {
    store: &'a HistoryStore,
    domains: Domains<'a>,
}

impl RowSource for StoreRows<'_> {
    fn collect(
        &self,
        from: i64,
        to: i64,
        columns: &[&str],
        query: &dyn Fn(LazyFrame) -> LazyFrame,
    ) -> Result<DataFrame> {
        let files = self
            .store
            .aggregate_files_in(&self.domains, &Days::of_millis(from, to))?;
        let mut with_begin: Vec<&str> = columns.to_vec();
        if !with_begin.contains(&"begin") {
            with_begin.push("begin");
        }
        let run = |files: &[AggFile]| {
            self.store.collect_aggregate(files, &with_begin, &|lf| {
                query(lf.filter(in_window(from, to)))
            })
        };
        // One domain at a time: every query groups by domain, so the
        // answers of the domains stacked are the answer of all of them,
        // while the engine holds the scan state of one domain's files only
        // (a union of every domain's scans runs them side by side, each
        // with its own buffers, and memory grows with the domains).
        let mut out: Option<DataFrame> = None;
        for chunk in files.chunk_by(|a, b| a.domain == b.domain) {
            let df = run(chunk)?;
            match out.as_mut() {
                None => out = Some(df),
                Some(all) => {
                    all.vstack_mut(&df)?;
                }
            }
        }
        match out {
            Some(mut df) => {
                df.rechunk_mut();
                Ok(df)
            }
            None => run(&[]),
        }
    }

    fn latest_begin(&self) -> Result<Option<i64>> {
        // The newest day first; an older one only when all of its files
        // are damaged.
        let mut days = BTreeSet::new();
        for (_, dir) in self.store.aggregate_domain_dirs(&self.domains)? {
            for (name, _) in crate::aggregate::list(&dir)? {
                if let Some(day) = name.strip_prefix("date=") {
                    days.insert(day.to_string());
                }
            }
        }
        for day in days.into_iter().rev() {
            let range = Days {
                first: Some(day.clone()),
                last: Some(day),
            };
            let files = self.store.aggregate_files_in(&self.domains, &range)?;
            let df = self.store.collect_aggregate(&files, &["begin"], &|lf| {
                lf.select([col("begin").cast(DataType::Int64).max()])
            })?;
            if let Some(latest) = df.column("begin")?.i64()?.get(0) {
                return Ok(Some(latest));
            }
        }
        Ok(None)
    }
}

/// 2^32: counts are summed as their high and low halves, which cannot wrap
/// (each half sum stays below 2^64 for fewer than 2^32 rows), and joined
/// into a saturated u64 afterwards.
const HALF: u64 = 1 << 32;

/// The sums of the high and low halves of `value` (a UInt64 expression),
/// as `<name>_hi` and `<name>_lo`; [`Sums`] joins them.
fn split_sum(value: Expr, name: &str) -> [Expr; 2] {
    [
        value
            .clone()
            .floor_div(lit(HALF))
            .sum()
            .alias(format!("{name}_hi")),
        (value % lit(HALF)).sum().alias(format!("{name}_lo")),
    ]
}

/// `count` where `cond` holds, 0 elsewhere.
fn count_if(cond: Expr) -> Expr {
    when(cond).then(col("count")).otherwise(lit(0u64))
}

/// The exact sums of a [`split_sum`] pair.
struct Sums {
    hi: UInt64Chunked,
    lo: UInt64Chunked,
}

impl Sums {
    fn of(df: &DataFrame, name: &str) -> PolarsResult<Sums> {
        Ok(Sums {
            hi: number(df, &format!("{name}_hi"))?,
            lo: number(df, &format!("{name}_lo"))?,
        })
    }

    fn get(&self, i: usize) -> u128 {
        (u128::from(self.hi.get(i).unwrap_or(0)) << 32) + u128::from(self.lo.get(i).unwrap_or(0))
    }
}

/// A sum as a u64, saturated (the ingest saturates counts the same way).
fn saturate(v: u128) -> u64 {
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// The summary of the rows of `source` (columns of
/// [`crate::aggregate_schema`]).
pub(crate) fn summarize(source: &dyn RowSource, q: &MailQuery) -> Result<MailSummary> {
    let (start, end) = (q.start.timestamp_millis(), q.end.timestamp_millis());
    let trend_start = q.trend_start.timestamp_millis().min(start);
    let known_since = q.known_since.timestamp_millis().min(start);
    let counted = || col("count").fill_null(lit(0u64));
    let category = |c: &str| col("category").eq(lit(c));

    // Messages by category, per report.
    let per_report = source.collect(
        start,
        end,
        &["org_name", "report_id", "count", "category"],
        &|lf| {
            lf.with_column(counted().alias("count"))
                .group_by([col("domain"), col("org_name"), col("report_id")])
                .agg(
                    [
                        split_sum(col("count"), "messages"),
                        split_sum(count_if(category("pass")), "pass"),
                        split_sum(count_if(category("partial")), "partial"),
                        split_sum(count_if(category("fail")), "fail"),
                    ]
                    .concat(),
                )
        },
    )?;

    // Failing sources, per From domain: the lists of From domains are
    // joined below, on the few groups left.
    let failing = source.collect(
        start,
        end,
        &[
            "count",
            "category",
            "source_ip",
            "cause",
            "provider",
            "action",
            "header_from",
        ],
        &|lf| {
            lf.filter(col("category").neq(lit("pass")))
                .with_column(counted().alias("count"))
                .group_by([
                    col("domain"),
                    col("source_ip"),
                    col("category"),
                    col("cause"),
                    col("header_from"),
                ])
                .agg(
                    [
                        split_sum(col("count"), "messages").to_vec(),
                        vec![
                            col("provider").max().alias("provider"),
                            col("action").max().alias("action"),
                        ],
                    ]
                    .concat(),
                )
        },
    )?;

    // Sources first seen in the period: none of their rows since
    // `known_since` begins before it.
    let new = source.collect(
        known_since,
        end,
        &["count", "category", "source_ip", "provider"],
        &|lf| {
            let in_period = || {
                let begin = || col("begin").cast(DataType::Int64);
                begin().gt_eq(lit(start)).and(begin().lt(lit(end)))
            };
            lf.with_columns([
                counted().alias("count"),
                col("begin").cast(DataType::Int64).alias("begin_ms"),
            ])
            .group_by([col("domain"), col("source_ip")])
            .agg(
                [
                    vec![
                        col("begin_ms").min().alias("first_seen"),
                        col("provider").max().alias("provider"),
                    ],
                    split_sum(count_if(in_period()), "messages").to_vec(),
                    split_sum(count_if(in_period().and(category("pass"))), "pass").to_vec(),
                    split_sum(count_if(in_period().and(category("partial"))), "partial").to_vec(),
                    split_sum(count_if(in_period().and(category("fail"))), "fail").to_vec(),
                ]
                .concat(),
            )
            .filter(
                col("first_seen")
                    .gt_eq(lit(start))
                    .and(col("first_seen").lt(lit(end))),
            )
        },
    )?;

    // The pass-rate series: each row spread over the days of its range.
    let spread = spread_days()?;
    let bucket = q.bucket;
    let series = source.collect(
        trend_start - MAX_SPREAD_DAYS * DAY_MS,
        end,
        &["end", "count", "category"],
        &|lf| {
            let begin_ms = || col("begin").cast(DataType::Int64);
            let end_ms = col("end").cast(DataType::Int64);
            let days = (end_ms - begin_ms() + lit(DAY_MS - 1)).floor_div(lit(DAY_MS));
            let days = when(days.clone().lt(lit(1i64)))
                .then(lit(1i64))
                .when(days.clone().gt(lit(MAX_SPREAD_DAYS)))
                .then(lit(MAX_SPREAD_DAYS))
                .otherwise(days);
            lf.select([
                col("domain"),
                counted().cast(DataType::Float64).alias("count"),
                col("category"),
                begin_ms().floor_div(lit(DAY_MS)).alias("first_day"),
                days.alias("days"),
            ])
            // One copy of each row per day it covers: joined with the (days,
            // offset) pairs 0 <= offset < days.
            .inner_join(spread.clone(), col("days"), col("days"))
            .with_columns([
                (col("first_day") + col("offset")).alias("day"),
                (col("count") / col("days").cast(DataType::Float64)).alias("share"),
            ])
            .filter(
                (col("day") * lit(DAY_MS))
                    .gt_eq(lit(trend_start))
                    .and((col("day") * lit(DAY_MS)).lt(lit(end))),
            )
            .with_column(bucket.start_expr(col("day")).alias("bucket"))
            .group_by([col("domain"), col("bucket")])
            .agg([
                col("share").sum().alias("messages"),
                col("share")
                    .filter(col("category").eq(lit("pass")))
                    .sum()
                    .alias("pass"),
            ])
            .filter(col("messages").gt(lit(0.0)))
        },
    )?;

    let latest_report = source
        .latest_begin()?
        .and_then(DateTime::from_timestamp_millis);

    // Plain structs from the frames.
    #[derive(Default)]
    struct Totals {
        reports: u64,
        messages: u128,
        pass: u128,
        partial: u128,
        fail: u128,
    }
    let mut totals: BTreeMap<String, Totals> = BTreeMap::new();
    {
        let domain = text(&per_report, "domain")?;
        let (messages, pass, partial, fail) = (
            Sums::of(&per_report, "messages")?,
            Sums::of(&per_report, "pass")?,
            Sums::of(&per_report, "partial")?,
            Sums::of(&per_report, "fail")?,
        );
        for i in 0..per_report.height() {
            let t = totals
                .entry(domain.get(i).unwrap_or_default().to_string())
                .or_default();
            t.reports += 1;
            t.messages += messages.get(i);
            t.pass += pass.get(i);
            t.partial += partial.get(i);
            t.fail += fail.get(i);
        }
    }
    let mut domains: BTreeMap<String, DomainMail> = totals
        .into_iter()
        .map(|(name, t)| {
            let mail = DomainMail {
                domain: name.clone(),
                reports: t.reports,
                messages: saturate(t.messages),
                pass: saturate(t.pass),
                partial: saturate(t.partial),
                fail: saturate(t.fail),
                failing_sources: Vec::new(),
                failing_sources_total: 0,
                new_sources: Vec::new(),
                new_sources_total: 0,
                pass_rate: Vec::new(),
            };
            (name, mail)
        })
        .collect();
    {
        /// One failing (domain, source, category, cause), From domains joined.
        struct Failing {
            provider: Option<String>,
            action: String,
            header_from: BTreeSet<String>,
            messages: u128,
        }
        let domain = text(&failing, "domain")?;
        let (ip, category, cause, provider, action, from) = (
            text(&failing, "source_ip")?,
            text(&failing, "category")?,
            text(&failing, "cause")?,
            text(&failing, "provider")?,
            text(&failing, "action")?,
            text(&failing, "header_from")?,
        );
        let messages = Sums::of(&failing, "messages")?;
        let mut groups: BTreeMap<(&str, &str, &str, &str), Failing> = BTreeMap::new();
        for i in 0..failing.height() {
            let key = (
                domain.get(i).unwrap_or_default(),
                ip.get(i).unwrap_or_default(),
                category.get(i).unwrap_or_default(),
                cause.get(i).unwrap_or_default(),
            );
            let g = groups.entry(key).or_insert_with(|| Failing {
                provider: None,
                action: String::new(),
                header_from: BTreeSet::new(),
                messages: 0,
            });
            g.messages += messages.get(i);
            if let Some(f) = from.get(i) {
                g.header_from.insert(f.to_string());
            }
            if let Some(p) = provider.get(i) {
                if g.provider.as_deref().is_none_or(|q| p > q) {
                    g.provider = Some(p.to_string());
                }
            }
            if let Some(a) = action.get(i) {
                if a > g.action.as_str() {
                    g.action = a.to_string();
                }
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        // Per domain: most messages first, then by source, cause, category.
        groups.sort_by(
            |((d1, ip1, cat1, cause1), a), ((d2, ip2, cat2, cause2), b)| {
                (d1, std::cmp::Reverse(a.messages), ip1, cause1, cat1).cmp(&(
                    d2,
                    std::cmp::Reverse(b.messages),
                    ip2,
                    cause2,
                    cat2,
                ))
            },
        );
        for ((d, ip, category, cause), g) in groups {
            let Some(d) = domains.get_mut(d) else {
                continue;
            };
            d.failing_sources_total += 1;
            if d.failing_sources.len() >= q.top_sources {
                continue;
            }
            d.failing_sources.push(FailingSource {
                source_ip: ip.to_string(),
                provider: g.provider,
                category: category.to_string(),
                cause: cause.to_string(),
                action: g.action,
                header_from: g.header_from.into_iter().collect(),
                messages: saturate(g.messages),
            });
        }
    }
    {
        let domain = text(&new, "domain")?;
        let (ip, provider) = (text(&new, "source_ip")?, text(&new, "provider")?);
        let (messages, pass, partial, fail) = (
            Sums::of(&new, "messages")?,
            Sums::of(&new, "pass")?,
            Sums::of(&new, "partial")?,
            Sums::of(&new, "fail")?,
        );
        let first_seen = new.column("first_seen")?.cast(&DataType::Int64)?;
        let first_seen = first_seen.i64()?;
        let mut order: Vec<usize> = (0..new.height()).collect();
        order.sort_by(|&a, &b| {
            (domain.get(a), std::cmp::Reverse(messages.get(a)), ip.get(a)).cmp(&(
                domain.get(b),
                std::cmp::Reverse(messages.get(b)),
                ip.get(b),
            ))
        });
        for i in order {
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
                messages: saturate(messages.get(i)),
                pass: saturate(pass.get(i)),
                partial: saturate(partial.get(i)),
                fail: saturate(fail.get(i)),
                first_seen: first_seen
                    .get(i)
                    .and_then(DateTime::from_timestamp_millis)
                    .unwrap_or_default(),
            });
        }
    }
    {
        let series = series.sort(["domain", "bucket"], SortMultipleOptions::new())?;
        let domain = text(&series, "domain")?;
        let bucket = series.column("bucket")?.cast(&DataType::Int64)?;
        let bucket = bucket.i64()?;
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
    let sum = |f: fn(&DomainMail) -> u64| {
        domains
            .iter()
            .map(f)
            .fold(0u64, |acc, n| acc.saturating_add(n))
    };
    Ok(MailSummary {
        start: q.start,
        end: q.end,
        reports: sum(|d| d.reports),
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
        summarize(&FrameRows(aggregate_frame(rows).unwrap()), q).unwrap()
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
    fn new_sources_were_not_seen_since_known_since_before_the_period() {
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
        let mut q = november();
        q.known_since = at(2026, 9, 1);
        let s = summary(&rows, &q);
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

        // By default the look-back is as long as the period (30 days back
        // from 1 November): the source last seen in September is new again.
        let s = summary(&rows, &november());
        assert_eq!(november().known_since, at(2026, 10, 2));
        let d = &s.domains[0];
        assert_eq!(d.new_sources_total, 3);
        assert_eq!(
            (
                d.new_sources[0].source_ip.as_str(),
                d.new_sources[0].messages
            ),
            ("192.0.2.1", 50)
        );
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
