//! Windowed reads of the aggregate dataset, for the jobs: only the files of
//! the domains and days asked for are opened (the partition directories are
//! listed, the others never read), only the columns asked for are decoded,
//! and the queries run on polars' streaming engine, so that memory follows
//! what a query returns rather than the size of the history.
//!
//! A damaged file is skipped and recorded ([`HistoryStore::damaged`]): a
//! cut-short file is seen from its first and last bytes before the scan; a
//! file damaged inside fails the scan, after which each file is tried alone
//! and the query runs again without the bad ones.

use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Arc;

use authwarden_aggregate::AggregateRow;
use authwarden_api::dns::normalize_name;
use authwarden_api::reports::PublishedPolicy;
use chrono::{DateTime, Utc};
use polars::prelude::*;

use crate::aggregate::{aggregate_date, aggregate_file_schema, aggregate_schema, partition_domain};
use crate::damage::parquet_frame_problem;
use crate::error::{HistoryError, Result};
use crate::frames::conform;
use crate::store::{empty_frame, read_parquet_file};
use crate::HistoryStore;

/// How far back [`HistoryStore::observed_dkim_selectors`] looks, in days,
/// from the domain's latest report: a selector unused for longer is not
/// "seen in reports" any more (it was probably retired), and the read stays
/// bounded however long the history.
pub const SELECTOR_WINDOW_DAYS: i64 = 400;

/// How many files [`HistoryStore::aggregate_rows`] reads into one frame.
const ROWS_CHUNK_FILES: usize = 256;

/// One aggregate report file.
#[derive(Debug, Clone)]
pub(crate) struct AggFile {
    /// The partition value of its policy domain.
    pub domain: String,
    pub path: PathBuf,
}

/// Which domain partitions a read covers.
pub(crate) enum Domains<'a> {
    /// Every domain.
    All,
    /// These partition values.
    Only(&'a BTreeSet<String>),
    /// This partition value and those of its subdomains.
    WithSubdomains(&'a str),
}

impl Domains<'_> {
    fn matches(&self, partition: &str) -> bool {
        match self {
            Domains::All => true,
            Domains::Only(set) => set.contains(partition),
            Domains::WithSubdomains(d) => {
                partition == *d
                    || partition
                        .strip_suffix(d)
                        .is_some_and(|head| head.ends_with('.'))
            }
        }
    }
}

/// A range of `YYYY-MM-DD` partitions, both ends included; `None` is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Days {
    pub first: Option<String>,
    pub last: Option<String>,
}

impl Days {
    /// The days holding reports that begin in `[from, to)` (milliseconds).
    pub(crate) fn of_millis(from: i64, to: i64) -> Days {
        Days {
            first: Some(aggregate_date(from.div_euclid(1000))),
            last: Some(aggregate_date((to - 1).div_euclid(1000))),
        }
    }

    fn contains(&self, date: &str) -> bool {
        self.first.as_deref().is_none_or(|f| date >= f)
            && self.last.as_deref().is_none_or(|l| date <= l)
    }
}

/// The partition value of a domain as asked for by a caller.
pub(crate) fn domain_partition(domain: &str) -> String {
    partition_domain(&normalize_name(domain))
}

impl HistoryStore {
    /// The domain partition directories: (partition value, directory).
    pub(crate) fn aggregate_domain_dirs(
        &self,
        domains: &Domains,
    ) -> Result<Vec<(String, PathBuf)>> {
        Ok(crate::aggregate::list(&self.aggregate_dir())?
            .into_iter()
            .filter_map(|(name, dir)| {
                let d = name.strip_prefix("domain=")?;
                domains.matches(d).then(|| (d.to_string(), dir))
            })
            .collect())
    }

    /// The report files of `domains` in `days`, by domain, day and name.
    /// Directories of other domains and days are not entered.
    pub(crate) fn aggregate_files_in(
        &self,
        domains: &Domains,
        days: &Days,
    ) -> Result<Vec<AggFile>> {
        let mut out = Vec::new();
        for (domain, ddir) in self.aggregate_domain_dirs(domains)? {
            for (name, tdir) in crate::aggregate::list(&ddir)? {
                let Some(date) = name.strip_prefix("date=") else {
                    continue;
                };
                if !days.contains(date) {
                    continue;
                }
                for (f, path) in crate::aggregate::list(&tdir)? {
                    if f.ends_with(".parquet") && !f.starts_with('.') {
                        out.push(AggFile {
                            domain: domain.clone(),
                            path,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    /// The newest day partition of `domains`, if any.
    pub(crate) fn latest_aggregate_day(&self, domains: &Domains) -> Result<Option<String>> {
        let mut latest: Option<String> = None;
        for (_, ddir) in self.aggregate_domain_dirs(domains)? {
            for (name, _) in crate::aggregate::list(&ddir)? {
                if let Some(date) = name.strip_prefix("date=") {
                    if latest.as_deref().is_none_or(|l| date > l) {
                        latest = Some(date.to_string());
                    }
                }
            }
        }
        Ok(latest)
    }

    /// Runs `query` over the rows of `files`, which it receives as a lazy
    /// frame with the file columns `columns` and `domain` (the partition
    /// value). Damaged files are skipped and recorded, see the module docs.
    pub(crate) fn collect_aggregate(
        &self,
        files: &[AggFile],
        columns: &[&str],
        query: &dyn Fn(LazyFrame) -> LazyFrame,
    ) -> Result<DataFrame> {
        let mut scanned: Vec<&AggFile> = Vec::with_capacity(files.len());
        for f in files {
            match parquet_frame_problem(&f.path) {
                Some(problem) => self.skip(
                    "skipped aggregate file",
                    &HistoryError::Corrupt {
                        path: f.path.clone(),
                        reason: problem,
                    },
                ),
                None => scanned.push(f),
            }
        }
        let mut eager: Vec<(String, DataFrame)> = Vec::new();
        let first = run_streaming(query(self.lazy_rows(&scanned, &eager, columns)?));
        let error = match first {
            Ok(df) => return Ok(df),
            Err(e) => e,
        };
        tracing::debug!("aggregate scan failed ({error}); trying its files one by one");
        // Find the files the scan fails on: damaged ones are recorded and
        // left out, readable ones that the scan rejects (a column of an
        // older type) are read whole and conformed instead.
        let mut kept = Vec::with_capacity(scanned.len());
        for f in scanned {
            let alone = self.lazy_rows(&[f], &[], columns)?;
            if run_streaming(alone).is_ok() {
                kept.push(f);
                continue;
            }
            match read_whole(f, columns) {
                Ok(df) => eager.push((f.domain.clone(), df)),
                Err(e) => self.skip("skipped aggregate file", &e),
            }
        }
        Ok(run_streaming(query(
            self.lazy_rows(&kept, &eager, columns)?,
        ))?)
    }

    /// The lazy frame of `files` (scanned, grouped by domain) and of frames
    /// already in memory.
    fn lazy_rows(
        &self,
        files: &[&AggFile],
        eager: &[(String, DataFrame)],
        columns: &[&str],
    ) -> Result<LazyFrame> {
        let mut by_domain: Vec<(&str, Vec<PlRefPath>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for f in files {
            let i = *index.entry(f.domain.as_str()).or_insert_with(|| {
                by_domain.push((f.domain.as_str(), Vec::new()));
                by_domain.len() - 1
            });
            by_domain[i]
                .1
                .push(PlRefPath::new(f.path.to_string_lossy().as_ref()));
        }
        let schema: SchemaRef = Arc::new(aggregate_file_schema());
        let select: Vec<Expr> = columns.iter().map(|c| col(*c)).collect();
        let mut parts = Vec::with_capacity(by_domain.len() + eager.len());
        for (domain, paths) in by_domain {
            let args = ScanArgsParquet {
                schema: Some(schema.clone()),
                allow_missing_columns: true,
                hive_options: HiveOptions::new_disabled(),
                glob: false,
                cache: false,
                rechunk: false,
                ..Default::default()
            };
            let lf = LazyFrame::scan_parquet_sources(
                ScanSources::Paths(paths.into_iter().collect()),
                args,
            )?
            .select(select.clone())
            .with_column(lit(domain).alias("domain"));
            parts.push(lf);
        }
        for (domain, df) in eager {
            parts.push(
                df.clone()
                    .lazy()
                    .select(select.clone())
                    .with_column(lit(domain.as_str()).alias("domain")),
            );
        }
        if parts.is_empty() {
            let mut fields = selected_schema(columns);
            fields.push(("domain", DataType::String));
            return Ok(empty_frame(&fields).lazy());
        }
        Ok(concat(
            parts,
            UnionArgs {
                parallel: true,
                rechunk: false,
                to_supertypes: false,
                ..Default::default()
            },
        )?)
    }

    /// The aggregate rows of `domain` whose report begins in
    /// `[since, until)`, as a frame with the columns of
    /// [`aggregate_schema`](crate::aggregate_schema) but `date` (`domain`
    /// is the partition value), from that domain's partitions of those days
    /// only (the domain as given: case and a final dot do not matter; its
    /// subdomains have partitions of their own). Damaged files are skipped
    /// and listed in [`HistoryStore::damaged`]. Columnar, so several times
    /// smaller than the same rows as [`AggregateRow`]s.
    pub fn aggregate_window(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<DataFrame> {
        let files = self.window_files(domain, since, until)?;
        self.collect_window(&files, since, until)
    }

    /// [`HistoryStore::aggregate_window`] as rows. The frame is read a few
    /// hundred files at a time, so that at its peak the memory holds the
    /// rows and one slice of the frame, not the whole frame too.
    pub fn aggregate_rows(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<AggregateRow>> {
        let files = self.window_files(domain, since, until)?;
        let mut out = Vec::new();
        for chunk in files.chunks(ROWS_CHUNK_FILES) {
            let df = self.collect_window(chunk, since, until)?;
            out.extend(aggregate_rows_of(&df)?);
        }
        Ok(out)
    }

    /// The distinct published policies (`begin` in seconds, `p`, `pct`) of
    /// the reports about `domain` that begin in `[since, until)`: the three
    /// columns alone, made distinct in the engine, so a year of a busy
    /// domain is one entry a report (and policy), not a row each.
    pub fn aggregate_policies(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<PublishedPolicy>> {
        let files = self.window_files(domain, since, until)?;
        let (from, to) = (since.timestamp_millis(), until.timestamp_millis());
        let begin = || col("begin").cast(DataType::Int64);
        let df = self.collect_aggregate(&files, &["begin", "p", "pct"], &|lf| {
            lf.filter(begin().gt_eq(lit(from)).and(begin().lt(lit(to))))
                .select([
                    begin().floor_div(lit(1000i64)).alias("begin"),
                    col("p"),
                    col("pct"),
                ])
                .unique(None, UniqueKeepStrategy::Any)
        })?;
        let begins = df.column("begin")?.i64()?.clone();
        let ps = df.column("p")?.str()?.clone();
        let pcts = df.column("pct")?.cast(&DataType::UInt32)?;
        let pcts = pcts.u32()?;
        let mut out: Vec<PublishedPolicy> = (0..df.height())
            .filter_map(|i| {
                Some(PublishedPolicy {
                    begin: begins.get(i)?,
                    p: ps.get(i).map(str::to_string),
                    pct: pcts.get(i).and_then(|v| u8::try_from(v).ok()),
                })
            })
            .collect();
        out.sort();
        Ok(out)
    }

    fn window_files(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<AggFile>> {
        let (from, to) = (since.timestamp_millis(), until.timestamp_millis());
        if from >= to {
            return Ok(Vec::new());
        }
        let only = BTreeSet::from([domain_partition(domain)]);
        self.aggregate_files_in(&Domains::Only(&only), &Days::of_millis(from, to))
    }

    fn collect_window(
        &self,
        files: &[AggFile],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<DataFrame> {
        let (from, to) = (since.timestamp_millis(), until.timestamp_millis());
        let columns: Vec<&str> = aggregate_schema()
            .into_iter()
            .map(|(name, _)| name)
            .filter(|name| !crate::aggregate::AGGREGATE_PARTITIONS.contains(name))
            .collect();
        let begin = || col("begin").cast(DataType::Int64);
        self.collect_aggregate(files, &columns, &|lf| {
            lf.filter(begin().gt_eq(lit(from)).and(begin().lt(lit(to))))
        })
    }

    /// The DKIM selectors seen signing for `domain` in the aggregate
    /// reports (the `auth_results` of the rows: the n-th selector signed for
    /// the n-th `d=`), lower-case and sorted.
    ///
    /// Reads only the two DKIM columns, of the partitions of `domain` and
    /// of its subdomains (a subdomain with a DMARC record of its own gets
    /// reports of its own, in which the parent's `d=` signs too), over the
    /// [`SELECTOR_WINDOW_DAYS`] up to the newest of those partitions.
    pub fn observed_dkim_selectors(&self, domain: &str) -> Result<Vec<String>> {
        let wanted = normalize_name(domain);
        let partition = domain_partition(domain);
        let domains = Domains::WithSubdomains(&partition);
        let Some(latest) = self.latest_aggregate_day(&domains)? else {
            return Ok(Vec::new());
        };
        let first = chrono::NaiveDate::parse_from_str(&latest, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.checked_sub_days(chrono::Days::new(SELECTOR_WINDOW_DAYS as u64 - 1)))
            .map(|d| d.format("%Y-%m-%d").to_string());
        let days = Days {
            first,
            last: Some(latest),
        };
        let files = self.aggregate_files_in(&domains, &days)?;
        let pairs = self.collect_aggregate(&files, &["dkim_domains", "dkim_selectors"], &|lf| {
            lf.filter(
                col("dkim_domains")
                    .is_not_null()
                    .and(col("dkim_selectors").is_not_null()),
            )
            .select([col("dkim_domains"), col("dkim_selectors")])
            .unique(None, UniqueKeepStrategy::Any)
        })?;
        let (domains, selectors) = (
            pairs.column("dkim_domains")?.str()?,
            pairs.column("dkim_selectors")?.str()?,
        );
        let mut out = BTreeSet::new();
        for (d, s) in domains.iter().zip(selectors.iter()) {
            let (Some(d), Some(s)) = (d, s) else { continue };
            // Joined in the same order: the n-th selector signed for the n-th domain.
            for (d, s) in d.split(';').zip(s.split(';')) {
                let s = s.trim().to_ascii_lowercase();
                if !s.is_empty() && normalize_name(d) == wanted {
                    out.insert(s);
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// The schema of `columns` of the aggregate files.
fn selected_schema(columns: &[&str]) -> Vec<(&'static str, DataType)> {
    aggregate_schema()
        .into_iter()
        .filter(|(name, _)| columns.contains(name))
        .collect()
}

/// One file read eagerly and conformed to the history schema (older files:
/// missing columns as nulls, other types cast).
fn read_whole(f: &AggFile, columns: &[&str]) -> Result<DataFrame> {
    let df = read_parquet_file(&f.path, None)?;
    conform(&df, &selected_schema(columns), &[], true).map_err(|reason| HistoryError::Corrupt {
        path: f.path.clone(),
        reason,
    })
}

/// Collects on the streaming engine. The Parquet decoder may panic on
/// damaged input: that is an error here.
pub(crate) fn run_streaming(lf: LazyFrame) -> PolarsResult<DataFrame> {
    match catch_unwind(AssertUnwindSafe(|| {
        lf.collect_with_engine(Engine::Streaming)
    })) {
        Ok(result) => result.map(|r| r.unwrap_single()),
        Err(_) => Err(PolarsError::ComputeError(
            "the Parquet decoder failed on a file of the scan".into(),
        )),
    }
}

/// The text columns of an [`AggregateRow`], in the order
/// [`aggregate_rows_of`] reads them.
const ROW_TEXT_COLUMNS: [&str; 25] = [
    "domain",
    "org_name",
    "report_id",
    "source",
    "adkim",
    "aspf",
    "p",
    "sp",
    "source_ip",
    "disposition",
    "dmarc_dkim",
    "dmarc_spf",
    "reasons",
    "header_from",
    "envelope_from",
    "envelope_to",
    "dkim_domains",
    "dkim_selectors",
    "dkim_results",
    "spf_domains",
    "spf_results",
    "category",
    "cause",
    "provider",
    "action",
];

/// Aggregate rows from a frame with the columns of
/// [`aggregate_schema`](crate::aggregate_schema) (`date` may be missing):
/// the inverse of [`aggregate_frame`](crate::aggregate_frame).
pub fn aggregate_rows_of(df: &DataFrame) -> PolarsResult<Vec<AggregateRow>> {
    let n = df.height();
    let mut texts = Vec::with_capacity(ROW_TEXT_COLUMNS.len());
    for name in ROW_TEXT_COLUMNS {
        texts.push(df.column(name)?.cast(&DataType::String)?.str()?.clone());
    }
    let int = |name: &str| -> PolarsResult<Int64Chunked> {
        Ok(df.column(name)?.cast(&DataType::Int64)?.i64()?.clone())
    };
    let flag = |name: &str| -> PolarsResult<BooleanChunked> {
        Ok(df.column(name)?.cast(&DataType::Boolean)?.bool()?.clone())
    };
    // RFC 9990 and report authentication columns, absent from frames of
    // files written before them.
    let optional = |name: &str| -> PolarsResult<Option<StringChunked>> {
        match df.column(name) {
            Ok(c) => Ok(Some(c.cast(&DataType::String)?.str()?.clone())),
            Err(_) => Ok(None),
        }
    };
    let rfc9990: Vec<Option<StringChunked>> = [
        "np",
        "testing",
        "discovery_method",
        "generator",
        "report_auth",
        "report_from",
        "report_auth_detail",
    ]
    .iter()
    .map(|n| optional(n))
    .collect::<PolarsResult<_>>()?;
    let mut rfc9990_iters: Vec<Option<_>> = rfc9990
        .iter()
        .map(|c| c.as_ref().map(|c| c.iter()))
        .collect();
    let count = df.column("count")?.cast(&DataType::UInt64)?;
    let (begin, end, pct) = (int("begin")?, int("end")?, int("pct")?);
    let (dkim_aligned, spf_aligned, reporter_agrees) = (
        flag("dkim_aligned")?,
        flag("spf_aligned")?,
        flag("reporter_agrees")?,
    );
    // Iterators, not get(i): a frame read from many files has as many
    // chunks, and each get(i) would search them.
    let mut text_iters: Vec<_> = texts.iter().map(|c| c.iter()).collect();
    let (mut begin, mut end, mut pct, mut count) =
        (begin.iter(), end.iter(), pct.iter(), count.u64()?.iter());
    let (mut dkim_aligned, mut spf_aligned, mut reporter_agrees) = (
        dkim_aligned.iter(),
        spf_aligned.iter(),
        reporter_agrees.iter(),
    );
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut t = text_iters.iter_mut().map(|it| it.next().flatten());
        let mut o = || t.next().flatten().map(str::to_string);
        let [domain, org_name, report_id, source, adkim, aspf, p, sp, source_ip, disposition, dmarc_dkim, dmarc_spf, reasons, header_from, envelope_from, envelope_to, dkim_domains, dkim_selectors, dkim_results, spf_domains, spf_results, category, cause, provider, action] =
            std::array::from_fn(|_| o());
        let [np, testing, discovery_method, generator, report_auth, report_from, report_auth_detail]: [Option<String>; 7] =
            std::array::from_fn(|i| {
                rfc9990_iters[i]
                    .as_mut()
                    .and_then(|it| it.next().flatten().map(str::to_string))
            });
        let flag =
            |it: &mut dyn Iterator<Item = Option<bool>>| it.next().flatten().unwrap_or(false);
        out.push(AggregateRow {
            org_name: org_name.unwrap_or_default(),
            report_id: report_id.unwrap_or_default(),
            source: source.unwrap_or_default(),
            // Milliseconds in the frame, seconds in the rows.
            begin: begin.next().flatten().unwrap_or(0).div_euclid(1000),
            end: end.next().flatten().unwrap_or(0).div_euclid(1000),
            domain: domain.unwrap_or_default(),
            adkim,
            aspf,
            p,
            sp,
            pct: pct.next().flatten().and_then(|v| u8::try_from(v).ok()),
            np,
            testing,
            discovery_method,
            generator,
            report_auth,
            report_from,
            report_auth_detail,
            source_ip: source_ip.unwrap_or_default(),
            count: count.next().flatten().unwrap_or(0),
            disposition,
            dmarc_dkim,
            dmarc_spf,
            reasons,
            header_from: header_from.unwrap_or_default(),
            envelope_from,
            envelope_to,
            dkim_domains,
            dkim_selectors,
            dkim_results,
            spf_domains,
            spf_results,
            dkim_aligned: flag(&mut dkim_aligned),
            spf_aligned: flag(&mut spf_aligned),
            reporter_agrees: flag(&mut reporter_agrees),
            category: category.unwrap_or_default(),
            cause: cause.unwrap_or_default(),
            provider,
            action: action.unwrap_or_default(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_of_a_window_include_both_ends() {
        let d = Days::of_millis(1_704_067_200_000, 1_704_067_200_000 + 2 * 86_400_000);
        assert_eq!(d.first.as_deref(), Some("2024-01-01"));
        assert_eq!(d.last.as_deref(), Some("2024-01-02"));
        assert!(d.contains("2024-01-02") && !d.contains("2024-01-03") && !d.contains("2023-12-31"));
    }

    #[test]
    fn subdomain_partitions_match_only_on_a_label_boundary() {
        let d = Domains::WithSubdomains("example.com");
        assert!(d.matches("example.com"));
        assert!(d.matches("news.example.com"));
        assert!(!d.matches("badexample.com"));
        assert!(!d.matches("example.org"));
    }
}
