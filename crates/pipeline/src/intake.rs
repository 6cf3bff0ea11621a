//! Report intake: DMARC aggregate reports from files and folders (`.xml`,
//! `.gz`, `.zip`, `.eml`, mbox, Maildir) and the `[imap]` mailbox, parsed,
//! every record classified (pass / partial / fail with a cause), then
//! summarised ([`analyze_reports`]) or appended to the history
//! ([`ingest_all`]); the daemon polls the mailbox on `poll_cron`
//! ([`poll_imap`]).
//!
//! Reports stream: each payload is parsed record by record
//! ([`Payload::parse_with`]), every record classified into a row as it
//! arrives, and rows go to the history in row groups
//! ([`AggregateBatch`]), so memory stays bounded however large a report is.
//!
//! Reverse DNS: before a payload's records stream, a first pass collects
//! its distinct source IPs and their PTR names are looked up
//! ([`resolve_ptrs`], cached across runs in `<history_dir>/aggregate/ptr-cache.json`),
//! so that the classification recognises a service by its sending hosts'
//! names. The name goes into the classification only: the history's rows
//! have no column for it. A DNS failure leaves the source unenriched.
//!
//! SMTP TLS reports (RFC 8460) come the same ways and are told apart by
//! their content (JSON, not XML): they are summarised into
//! [`Analysis::tls`] or written to the history's TLS datasets
//! ([`IngestSummary::tls`]), deduplicated by (organization-name, report-id).
//!
//! A file that cannot be read is one entry in `errors` and the batch goes
//! on.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _};
use authwarden_aggregate::{
    parse_source_ip, resolve_ptrs, stream_payload, visit_payloads, visit_payloads_skipping,
    AggregateRow, Category, Cause, Classifier, FailedInputs, Limits, Payload, PtrCache, PtrCounts,
    RejectedRecords, ReportError, ReportHeader, DEFAULT_PTR_CONCURRENCY,
};
use authwarden_api::domain::Shard;
use authwarden_api::Resolver;
use authwarden_config::{Config, ImapConfig, Security as CfgSecurity};
use authwarden_history::{
    AggregateBatch, FailureWrite, FailuresBatch, HistoryError, HistoryStore, ReportStart, TlsBatch,
    TlsWrite,
};
use authwarden_imap::{fetch_new, Disposition, ImapSettings, ImapState, Security};
use serde::Serialize;

use crate::report_auth::{aggregate_reporter, ReportAuthCounts, ReportAuthenticator};
use crate::setup;
use authwarden_api::reports::{report_auth, ReportAuth};
use authwarden_verify::report::contact_domain;

/// The reverse DNS of one run: the resolver, the PTR cache that the worker
/// threads share, and what was asked.
pub struct ReverseDns {
    resolver: Arc<dyn Resolver>,
    runtime: tokio::runtime::Handle,
    cache: Mutex<PtrCache>,
    counts: Mutex<PtrCounts>,
}

impl ReverseDns {
    /// The run's resolver from `config`'s `[dns]`, and the cache from
    /// `cache_file` (a missing or damaged one is an empty cache). `None`,
    /// with a warning, when DNS cannot be set up: the run goes on without.
    pub fn new(
        config: &Config,
        cache_file: Option<&std::path::Path>,
        warnings: &mut Vec<String>,
    ) -> Option<ReverseDns> {
        let resolver = match setup::resolver(config) {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!("reverse DNS skipped: {e:#}"));
                return None;
            }
        };
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(h) => h,
            Err(e) => {
                warnings.push(format!("reverse DNS skipped: {e}"));
                return None;
            }
        };
        let cache = match cache_file.map(PtrCache::load) {
            None => PtrCache::new(),
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                warnings.push(format!("{e}; starting with an empty PTR cache"));
                PtrCache::new()
            }
        };
        Some(ReverseDns {
            resolver,
            runtime,
            cache: Mutex::new(cache),
            counts: Mutex::new(PtrCounts::default()),
        })
    }

    /// The PTR names of `ips` that have one, looked up for those the cache
    /// does not hold. The cache stays locked while asking, so two payloads
    /// never ask for the same IP.
    fn names(&self, ips: &HashSet<IpAddr>) -> HashMap<IpAddr, String> {
        if ips.is_empty() {
            return HashMap::new();
        }
        let mut guard = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let cache: &mut PtrCache = &mut guard;
        // Callers are the parse's worker threads or the mailbox pass, which
        // runs inside the runtime, where blocking on it panics: a thread of
        // its own may block on it from anywhere.
        let counts = std::thread::scope(|s| {
            s.spawn(|| {
                self.runtime.block_on(resolve_ptrs(
                    &*self.resolver,
                    ips.iter().copied(),
                    cache,
                    DEFAULT_PTR_CONCURRENCY,
                ))
            })
            .join()
        });
        match counts {
            Ok(c) => *self.counts.lock().unwrap_or_else(|e| e.into_inner()) += c,
            Err(_) => tracing::warn!("the reverse DNS lookups ended early"),
        }
        ips.iter()
            .filter_map(|ip| guard.name(*ip).map(|n| (*ip, n.to_string())))
            .collect()
    }

    /// The first pass over a payload: its distinct source IPs and their
    /// names, unless `held(org_name, report_id)` says that the report's rows
    /// are not needed. `Err` when the report cannot be read (the caller
    /// reports it).
    fn payload_names(
        &self,
        payload: &Payload,
        limits: &Limits,
        held: impl Fn(&str, &str) -> bool,
    ) -> Result<Prepass, ReportError> {
        let mut ips = HashSet::new();
        let mut is_held: Option<bool> = None;
        let header = payload.parse_with(limits, |header, record| {
            let m = &header.metadata;
            if !*is_held.get_or_insert_with(|| held(&m.org_name, &m.report_id)) {
                if let Some(ip) = parse_source_ip(&record.source_ip) {
                    ips.insert(ip);
                }
            }
        })?;
        Ok(Prepass {
            header,
            names: self.names(&ips),
            held: is_held == Some(true),
        })
    }

    /// What was asked so far, by distinct IP.
    pub fn counts(&self) -> PtrCounts {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes the cache to `path`; a failure is a warning.
    pub fn save(&self, path: &std::path::Path, warnings: &mut Vec<String>) {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = cache.save(path) {
            warnings.push(e.to_string());
        }
    }
}

/// What the first pass over a payload found.
struct Prepass {
    header: ReportHeader,
    /// PTR names by source IP.
    names: HashMap<IpAddr, String>,
    /// The report's rows are not needed: no name was looked up.
    held: bool,
}

/// The PTR name of a record's source, from a payload's names.
fn ptr_of<'a>(names: &'a HashMap<IpAddr, String>, source_ip: &str) -> Option<&'a str> {
    if names.is_empty() {
        return None;
    }
    parse_source_ip(source_ip)
        .and_then(|ip| names.get(&ip))
        .map(String::as_str)
}

/// A file or member that could not be read.
#[derive(Debug, Serialize)]
pub struct FileError {
    /// The file, `file#member` or `imap:<folder> UID <n>`.
    pub file: String,
    /// Why it could not be read.
    pub reason: String,
}

/// Messages per category.
#[derive(Debug, Default, Serialize)]
pub struct ByCategory {
    /// Aligned, DMARC pass.
    pub pass: u64,
    /// Forwarded, mailing list, override, one identifier only.
    pub partial: u64,
    /// A known service missing SPF or DKIM, or spoofing.
    pub fail: u64,
}

impl ByCategory {
    fn add(&mut self, category: Category, count: u64) {
        let slot = match category {
            Category::Pass => &mut self.pass,
            Category::Partial => &mut self.partial,
            Category::Fail => &mut self.fail,
        };
        *slot = slot.saturating_add(count);
    }
}

/// One distinct (source_ip, header_from, category).
#[derive(Debug, Serialize)]
pub struct Source {
    /// The sending IP, as the report gives it.
    pub source_ip: String,
    /// Messages.
    pub count: u64,
    /// pass / partial / fail.
    pub category: Category,
    /// Why, for the largest share of the messages.
    pub cause: Cause,
    /// The known service, when recognised.
    pub provider: Option<String>,
    /// The `From` domain.
    pub header_from: String,
}

/// The JSON contract of `reports analyze` (public: keep it stable).
#[derive(Debug, Serialize)]
pub struct Analysis {
    /// Distinct reports read.
    pub reports: usize,
    /// Reports read more than once.
    pub duplicates: usize,
    /// Inputs without a readable report.
    pub errors: Vec<FileError>,
    /// Messages of all reports.
    pub messages: u64,
    /// Messages per category.
    pub by_category: ByCategory,
    /// Every distinct (source_ip, header_from, category), most messages first.
    pub sources: Vec<Source>,
    /// With `--reverse-dns`: the lookups, by distinct IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse_dns: Option<PtrCounts>,
    /// The SMTP TLS reports (RFC 8460) among the inputs.
    pub tls: TlsAnalysis,
    /// The DMARC failure reports (RFC 6591 ARF, `Feedback-Type:
    /// auth-failure`) among the inputs: metadata only, never a body.
    pub failures: FailureAnalysis,
}

/// What the DMARC failure reports of `reports analyze` say.
#[derive(Debug, Default, Serialize)]
pub struct FailureAnalysis {
    /// Distinct failure reports read.
    pub reports: usize,
    /// Failure reports read more than once.
    pub duplicates: usize,
    /// Feedback reports of another type (abuse, fraud, …): not DMARC
    /// failure reports, counted and left out.
    pub other_feedback: usize,
    /// Failures per (reported domain, source IP, auth failure), most first.
    pub sources: Vec<FailureSource>,
}

/// The failure reports of one (reported domain, source IP, auth failure).
#[derive(Debug, Serialize)]
pub struct FailureSource {
    /// `Reported-Domain` (empty when the reporter left it out).
    pub reported_domain: String,
    /// `Source-IP`, when it is an address.
    pub source_ip: Option<String>,
    /// `Auth-Failure`: `dmarc`, `dkim`, `spf`, `bodyhash`, …
    pub auth_failure: Option<String>,
    /// Failure reports.
    pub reports: usize,
    /// Incidents they count (`Incidents`, 1 when absent).
    pub incidents: u64,
}

/// What the SMTP TLS reports of `reports analyze` say.
#[derive(Debug, Default, Serialize)]
pub struct TlsAnalysis {
    /// Distinct TLS reports read.
    pub reports: usize,
    /// TLS reports read more than once.
    pub duplicates: usize,
    /// Sessions that negotiated TLS as the policy asks.
    pub successful_sessions: u64,
    /// Sessions that failed.
    pub failed_sessions: u64,
    /// Per (policy domain, policy type), most sessions first.
    pub policies: Vec<TlsPolicySummary>,
    /// Failed sessions per (result type, receiving MX, sending MTA), most first.
    pub failures: Vec<TlsFailureSummary>,
}

/// One (policy domain, policy type) of the TLS reports read.
#[derive(Debug, Serialize)]
pub struct TlsPolicySummary {
    /// `policy-domain` (empty when the reporter left it out).
    pub policy_domain: String,
    /// `sts`, `tlsa`, `no-policy-found`, …
    pub policy_type: String,
    /// Successful sessions.
    pub successful: u64,
    /// Failed sessions.
    pub failed: u64,
}

/// Failed sessions of one kind.
#[derive(Debug, Serialize)]
pub struct TlsFailureSummary {
    /// `policy-domain`.
    pub policy_domain: String,
    /// `result-type`, e.g. `certificate-expired`.
    pub result_type: String,
    /// `receiving-mx-hostname`, when reported.
    pub receiving_mx_hostname: Option<String>,
    /// `sending-mta-ip`, when reported.
    pub sending_mta_ip: Option<String>,
    /// Failed sessions.
    pub count: u64,
}

type TlsFailureKey = (String, String, Option<String>, Option<String>);

/// (reported domain, source IP, auth failure) of a failure report.
type FailureKey = (String, Option<String>, Option<String>);

/// One TLS report summarised while it streams.
#[derive(Default)]
struct TlsAcc {
    policies: HashMap<(String, String), (u64, u64)>,
    failures: HashMap<TlsFailureKey, u64>,
}

fn analyze_tls_payload(
    payload: &Payload,
    limits: &Limits,
) -> Result<((String, String), TlsAcc), ReportError> {
    let mut acc = TlsAcc::default();
    let header = payload.parse_tls_with(limits, |p| {
        let e = acc
            .policies
            .entry((p.policy_domain.clone(), p.policy_type.clone()))
            .or_default();
        e.0 = e.0.saturating_add(p.successful);
        e.1 = e.1.saturating_add(p.failed);
        for f in p.failures {
            let n = acc
                .failures
                .entry((
                    p.policy_domain.clone(),
                    f.result_type,
                    f.receiving_mx_hostname,
                    f.sending_mta_ip,
                ))
                .or_default();
            *n = n.saturating_add(f.count);
        }
    })?;
    Ok(((header.org_name, header.report_id), acc))
}

/// What one payload of `reports analyze` gave.
enum Analyzed {
    Aggregate(Result<((String, String), ReportAcc), ReportError>),
    Tls(Result<((String, String), TlsAcc), ReportError>),
    Failure(Result<authwarden_aggregate::ArfOutcome, ReportError>),
}

#[derive(Default)]
struct SourceAcc {
    count: u64,
    /// Messages per (cause, provider): the largest names the source. A
    /// source has one or two: a list, not a map.
    causes: Vec<((Cause, Option<String>), u64)>,
}

impl SourceAcc {
    fn add_cause(&mut self, cause: (Cause, Option<String>), n: u64) {
        match self.causes.iter_mut().find(|(c, _)| *c == cause) {
            Some((_, m)) => *m = m.saturating_add(n),
            None => self.causes.push((cause, n)),
        }
    }
}

/// The hash of the per-record maps: foldhash, several times faster than
/// the standard SipHash on short keys, and seeded per process, so keys
/// chosen by a report's sender cannot be aimed at one bucket in advance.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

type SourceKey = (String, String, Category);

/// One report summarised while it streams: only its distinct sources are
/// kept, never its records.
#[derive(Default)]
struct ReportAcc {
    messages: u64,
    by_category: ByCategory,
    sources: FastMap<SourceKey, SourceAcc>,
}

impl ReportAcc {
    fn merge(&mut self, other: ReportAcc) {
        self.messages = self.messages.saturating_add(other.messages);
        self.by_category.pass = self.by_category.pass.saturating_add(other.by_category.pass);
        self.by_category.partial = self
            .by_category
            .partial
            .saturating_add(other.by_category.partial);
        self.by_category.fail = self.by_category.fail.saturating_add(other.by_category.fail);
        for (key, acc) in other.sources {
            let entry = self.sources.entry(key).or_default();
            entry.count = entry.count.saturating_add(acc.count);
            for (cause, n) in acc.causes {
                entry.add_cause(cause, n);
            }
        }
    }
}

/// Parses one payload as a stream into its (org_name, report_id) and summary.
fn analyze_payload(
    payload: &Payload,
    classifier: &Classifier<'_>,
    limits: &Limits,
    rdns: Option<&ReverseDns>,
) -> Result<((String, String), ReportAcc), ReportError> {
    let names = match rdns {
        Some(rdns) => rdns.payload_names(payload, limits, |_, _| false)?.names,
        None => HashMap::new(),
    };
    let mut acc = ReportAcc::default();
    let header = payload.parse_with(limits, |header, record| {
        let policy = &header.policy_published;
        let c = classifier.classify_with_ptr(policy, &record, ptr_of(&names, &record.source_ip));
        acc.messages = acc.messages.saturating_add(record.count);
        acc.by_category.add(c.category, record.count);
        let header_from = match record.identifiers.header_from.trim() {
            "" => policy.domain.trim(),
            h => h,
        }
        .trim_end_matches('.')
        .to_ascii_lowercase();
        let entry = acc
            .sources
            .entry((record.source_ip, header_from, c.category))
            .or_default();
        entry.count = entry.count.saturating_add(record.count);
        entry.add_cause((c.cause, c.provider), record.count);
    })?;
    Ok(((header.metadata.org_name, header.metadata.report_id), acc))
}

/// Every report under `paths`, streamed on all cores; duplicates by
/// (org_name, report_id) are dropped in input order. Nothing is kept.
pub fn analyze_reports(
    paths: &[PathBuf],
    classifier: &Classifier<'_>,
    limits: &Limits,
    rdns: Option<&ReverseDns>,
) -> Analysis {
    let visits = visit_payloads(paths, limits, |p| {
        if p.is_failure_report() {
            Analyzed::Failure(p.parse_failure(limits))
        } else if p.is_tls_report(limits) {
            Analyzed::Tls(analyze_tls_payload(p, limits))
        } else {
            Analyzed::Aggregate(analyze_payload(p, classifier, limits, rdns))
        }
    });
    let mut total = ReportAcc::default();
    let mut seen = std::collections::HashSet::new();
    let (mut reports, mut duplicates) = (0, 0);
    let mut errors = Vec::new();
    let mut tls = TlsAnalysis::default();
    let mut tls_seen = std::collections::HashSet::new();
    let mut tls_total = TlsAcc::default();
    let mut failures = FailureAnalysis::default();
    let mut failure_seen = std::collections::HashSet::new();
    let mut failure_sources: HashMap<FailureKey, (usize, u64)> = HashMap::new();
    for visit in visits {
        match visit {
            Ok((_, Analyzed::Failure(Ok(authwarden_aggregate::ArfOutcome::Ignored { .. })))) => {
                failures.other_feedback += 1;
            }
            Ok((_, Analyzed::Failure(Ok(authwarden_aggregate::ArfOutcome::Failure(r))))) => {
                if failure_seen.insert(r.dedup_key()) {
                    failures.reports += 1;
                    let e = failure_sources
                        .entry((
                            r.reported_domain.clone().unwrap_or_default(),
                            r.source_ip.clone(),
                            r.auth_failure.clone(),
                        ))
                        .or_default();
                    e.0 += 1;
                    e.1 = e.1.saturating_add(r.incidents);
                } else {
                    failures.duplicates += 1;
                }
            }
            Ok((file, Analyzed::Failure(Err(e)))) => errors.push(FileError {
                file,
                reason: e.to_string(),
            }),
            Ok((_, Analyzed::Aggregate(Ok((key, acc))))) => {
                if seen.insert(key) {
                    reports += 1;
                    total.merge(acc);
                } else {
                    duplicates += 1;
                }
            }
            Ok((_, Analyzed::Tls(Ok((key, acc))))) => {
                if tls_seen.insert(key) {
                    tls.reports += 1;
                    for (k, (ok, failed)) in acc.policies {
                        let e = tls_total.policies.entry(k).or_default();
                        e.0 = e.0.saturating_add(ok);
                        e.1 = e.1.saturating_add(failed);
                    }
                    for (k, n) in acc.failures {
                        let e = tls_total.failures.entry(k).or_default();
                        *e = e.saturating_add(n);
                    }
                } else {
                    tls.duplicates += 1;
                }
            }
            Ok((file, Analyzed::Aggregate(Err(e)) | Analyzed::Tls(Err(e)))) => {
                errors.push(FileError {
                    file,
                    reason: e.to_string(),
                })
            }
            Err((file, reason)) => errors.push(FileError { file, reason }),
        }
    }
    for ((policy_domain, policy_type), (successful, failed)) in tls_total.policies {
        tls.successful_sessions = tls.successful_sessions.saturating_add(successful);
        tls.failed_sessions = tls.failed_sessions.saturating_add(failed);
        tls.policies.push(TlsPolicySummary {
            policy_domain,
            policy_type,
            successful,
            failed,
        });
    }
    tls.policies.sort_by(|a, b| {
        (b.successful + b.failed)
            .cmp(&(a.successful + a.failed))
            .then_with(|| {
                (&a.policy_domain, &a.policy_type).cmp(&(&b.policy_domain, &b.policy_type))
            })
    });
    tls.failures = tls_total
        .failures
        .into_iter()
        .map(
            |((policy_domain, result_type, receiving_mx_hostname, sending_mta_ip), count)| {
                TlsFailureSummary {
                    policy_domain,
                    result_type,
                    receiving_mx_hostname,
                    sending_mta_ip,
                    count,
                }
            },
        )
        .collect();
    tls.failures.sort_by(|a, b| {
        b.count.cmp(&a.count).then_with(|| {
            (
                &a.policy_domain,
                &a.result_type,
                &a.receiving_mx_hostname,
                &a.sending_mta_ip,
            )
                .cmp(&(
                    &b.policy_domain,
                    &b.result_type,
                    &b.receiving_mx_hostname,
                    &b.sending_mta_ip,
                ))
        })
    });
    let ReportAcc {
        messages,
        by_category,
        sources: acc,
    } = total;
    let mut sources: Vec<Source> = acc
        .into_iter()
        .map(|((source_ip, header_from, category), a)| {
            let ((cause, provider), _) = a
                .causes
                .into_iter()
                .max_by(|(ka, na), (kb, nb)| na.cmp(nb).then_with(|| kb.cmp(ka)))
                .unwrap_or(((Cause::UnknownSource, None), 0));
            Source {
                source_ip,
                count: a.count,
                category,
                cause,
                provider,
                header_from,
            }
        })
        .collect();
    sources.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.source_ip.cmp(&b.source_ip))
            .then_with(|| a.header_from.cmp(&b.header_from))
            .then_with(|| a.category.cmp(&b.category))
    });
    Analysis {
        reports,
        duplicates,
        errors,
        messages,
        by_category,
        sources,
        reverse_dns: rdns.map(ReverseDns::counts),
        tls,
        failures: {
            let mut sources: Vec<FailureSource> = failure_sources
                .into_iter()
                .map(
                    |((reported_domain, source_ip, auth_failure), (reports, incidents))| {
                        FailureSource {
                            reported_domain,
                            source_ip,
                            auth_failure,
                            reports,
                            incidents,
                        }
                    },
                )
                .collect();
            sources.sort_by(|a, b| {
                b.reports
                    .cmp(&a.reports)
                    .then_with(|| a.reported_domain.cmp(&b.reported_domain))
                    .then_with(|| a.source_ip.cmp(&b.source_ip))
                    .then_with(|| a.auth_failure.cmp(&b.auth_failure))
            });
            FailureAnalysis {
                sources,
                ..failures
            }
        },
    }
}

/// What `ingest` did (its JSON output).
#[derive(Debug, Default, Serialize)]
pub struct IngestSummary {
    /// Reports read, without the repeats within this batch.
    pub reports: usize,
    /// Reports appended to the history now.
    pub new: usize,
    /// Reports the history already held (from a file, the mailbox or an earlier run).
    pub already_ingested: usize,
    /// Reports read twice in this batch.
    pub duplicates: usize,
    /// Rows (records) appended.
    pub rows: usize,
    /// Messages of the new reports.
    pub messages: u64,
    /// Inputs without a readable report: a file, `file#member` or
    /// `imap:<folder> UID <n>[#attachment]`, and why.
    pub errors: Vec<FileError>,
    /// The Parquet files written (one per partition, domain and day, per
    /// batch; a report over 8,192 rows has its own), sorted.
    pub files: Vec<String>,
    /// Records left out of new reports because their content is invalid
    /// (a `source_ip` that is no IP address, …); the rest of each report is
    /// in the history.
    pub rejected_records: u64,
    /// The reports with records left out, and why.
    pub rejected: Vec<FileError>,
    /// What the mailbox run did, with `--imap`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imap: Option<ImapSummary>,
    /// The reverse DNS of the sources of new reports, by distinct IP; absent
    /// when it is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverse_dns: Option<PtrCounts>,
    /// The SMTP TLS reports (RFC 8460) of the batch; their unreadable
    /// inputs are in `errors` with the others.
    pub tls: TlsIngestSummary,
    /// The DMARC failure reports (RFC 6591 / RFC 9991) of the batch,
    /// metadata only; their unreadable inputs are in `errors`.
    pub failures: FailureIngestSummary,
    /// New reports refused because their reporter did not authenticate the
    /// message that carried them (`[ingest] require_authenticated`; each is
    /// also in `errors`).
    pub refused: usize,
    /// Reports about domains of other shards, left to their ingest
    /// (`ingest --shard I/N`).
    pub other_shards: usize,
    /// The check of the report messages; absent when `[ingest]
    /// authenticate` is off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_auth: Option<ReportAuthCounts>,
    /// The files already in `files`.
    #[serde(skip)]
    files_seen: HashSet<PathBuf>,
}

/// What `ingest` did with DMARC failure reports.
#[derive(Debug, Default, Serialize)]
pub struct FailureIngestSummary {
    /// Failure reports read.
    pub reports: usize,
    /// Appended to the history now.
    pub new: usize,
    /// Already in the history (or read twice in this batch).
    pub already_ingested: usize,
    /// The Parquet files written (`failures/…`), one per (domain, day).
    pub files: Vec<String>,
}

/// What `ingest` did with SMTP TLS reports.
#[derive(Debug, Default, Serialize)]
pub struct TlsIngestSummary {
    /// TLS reports read.
    pub reports: usize,
    /// Appended to the history now.
    pub new: usize,
    /// Already in the history (or read twice in this batch).
    pub already_ingested: usize,
    /// Policies (rows of the `tls` dataset) appended.
    pub policies: usize,
    /// Successful sessions of the new reports.
    pub successful_sessions: u64,
    /// Failed sessions of the new reports.
    pub failed_sessions: u64,
    /// The Parquet files written (`tls/…`, one per partition per batch).
    pub files: Vec<String>,
    /// The files already in `files`.
    #[serde(skip)]
    files_seen: HashSet<String>,
}

/// What one pass over the `[imap]` folder did.
#[derive(Debug, Default, Serialize)]
pub struct ImapSummary {
    /// The folder read.
    pub folder: String,
    /// Messages whose reports are in the history now, moved to the archive folder.
    pub processed: usize,
    /// Messages without a readable report (or over the size cap), moved to the invalid folder.
    pub invalid: usize,
    /// Messages left in the folder.
    pub kept: usize,
}

/// What ingesting one payload did.
enum Outcome {
    New {
        messages: u64,
        path: PathBuf,
        rejected: RejectedRecords,
    },
    AlreadyIngested,
    Duplicate,
    Unreadable(String),
    /// An SMTP TLS report, written or already held.
    Tls(TlsWrite),
    /// A DMARC failure report, taken into the batch or already held.
    Failure(FailureWrite),
    /// A new report that its reporter did not authenticate, refused
    /// (`[ingest] require_authenticated`); `retry` when the check was
    /// incomplete (a DNS failure), so a later run tries again.
    Refused {
        reason: String,
        retry: bool,
    },
    /// A report about a domain of another shard (`ingest --shard`): left
    /// to that shard's ingest.
    OtherShard,
}

impl IngestSummary {
    fn add(&mut self, source: &str, outcome: Outcome) {
        match outcome {
            Outcome::New {
                messages,
                path,
                rejected,
            } => {
                self.reports += 1;
                self.new += 1;
                self.messages = self.messages.saturating_add(messages);
                // Many reports share a batch's file of their partition.
                if self.files_seen.insert(path.clone()) {
                    self.files.push(path.display().to_string());
                }
                if !rejected.is_empty() {
                    self.rejected_records = self.rejected_records.saturating_add(rejected.records);
                    self.rejected.push(FileError {
                        file: source.to_string(),
                        reason: format!(
                            "{} record{} ({} message{}) left out: {}",
                            rejected.records,
                            if rejected.records == 1 { "" } else { "s" },
                            rejected.messages,
                            if rejected.messages == 1 { "" } else { "s" },
                            rejected.reasons.join("; ")
                        ),
                    });
                }
            }
            Outcome::AlreadyIngested => {
                self.reports += 1;
                self.already_ingested += 1;
            }
            Outcome::Duplicate => self.duplicates += 1,
            Outcome::Unreadable(reason) => self.error(source, reason),
            Outcome::Refused { reason, .. } => {
                self.refused += 1;
                self.error(source, reason);
            }
            Outcome::OtherShard => self.other_shards += 1,
            Outcome::Failure(write) => {
                self.failures.reports += 1;
                match write {
                    FailureWrite::New => self.failures.new += 1,
                    FailureWrite::AlreadyIngested => self.failures.already_ingested += 1,
                }
            }
            Outcome::Tls(TlsWrite::AlreadyIngested) => {
                self.tls.reports += 1;
                self.tls.already_ingested += 1;
            }
            Outcome::Tls(TlsWrite::New {
                files,
                policies,
                sessions,
            }) => {
                let t = &mut self.tls;
                t.reports += 1;
                t.new += 1;
                t.policies += policies;
                t.successful_sessions = t.successful_sessions.saturating_add(sessions.0);
                t.failed_sessions = t.failed_sessions.saturating_add(sessions.1);
                // Many reports share a batch file: each named once.
                for f in files {
                    let f = f.display().to_string();
                    if t.files_seen.insert(f.clone()) {
                        t.files.push(f);
                    }
                }
            }
        }
    }

    fn error(&mut self, file: &str, reason: String) {
        self.errors.push(FileError {
            file: file.to_string(),
            reason,
        });
    }
}

/// The caps of `[ingest]` (and a mail message up to `[imap]`'s size cap).
pub fn limits(config: &Config) -> Limits {
    let defaults = Limits::default();
    Limits {
        max_decompressed_bytes: config.ingest.max_decompressed,
        max_records: config.ingest.max_records,
        max_work_bytes: config.ingest.max_work,
        max_work_time: config.ingest.max_work_time,
        max_input_bytes: config.imap.as_ref().map_or(defaults.max_input_bytes, |i| {
            i.max_message_size.max(defaults.max_input_bytes)
        }),
        ..defaults
    }
}

/// Streams one payload into the batch: the header decides at the first
/// record whether the report is new; rows are classified as they arrive.
/// `Err` only when the history cannot be written.
fn ingest_payload(
    payload: &Payload,
    batches: &Batches<'_>,
    classifier: &Classifier<'_>,
    limits: &Limits,
    rdns: Option<&ReverseDns>,
) -> Result<Outcome, HistoryError> {
    let checker = batches.auth;
    let mine = |domain: &str| batches.shard.is_none_or(|s| s.contains(domain));
    // The authentication of a new report, and whether it is refused.
    let authenticate = |reporter: Option<String>| -> (ReportAuth, Option<Outcome>) {
        let Some(checker) = checker else {
            return (ReportAuth::default(), None);
        };
        let auth = checker.report(payload, reporter.as_deref());
        let refused = checker.refuses(&auth).map(|reason| Outcome::Refused {
            reason,
            retry: auth.status == report_auth::INCOMPLETE,
        });
        (auth, refused)
    };
    if payload.is_failure_report() {
        // Metadata only (authwarden_aggregate::arf): the reported message's
        // body and headers are never kept. Another feedback type (abuse,
        // fraud) is no DMARC report: it stays unprocessed (an [imap]
        // message goes to the invalid folder) with what it is.
        return Ok(match payload.parse_failure(limits) {
            Ok(authwarden_aggregate::ArfOutcome::Failure(r)) => {
                if !mine(r.reported_domain.as_deref().unwrap_or("")) {
                    return Ok(Outcome::OtherShard);
                }
                if batches.failures.contains(&r) {
                    return Ok(Outcome::Failure(FailureWrite::AlreadyIngested));
                }
                // The reporter the report names: its Reporting-MTA.
                let reporter = r.reporting_mta.as_deref().and_then(contact_domain);
                let (auth, refused) = authenticate(reporter);
                match refused {
                    Some(o) => o,
                    None => Outcome::Failure(batches.failures.write(payload.source(), &r, &auth)),
                }
            }
            Ok(authwarden_aggregate::ArfOutcome::Ignored { feedback_type }) => Outcome::Unreadable(
                format!("a feedback report of type {feedback_type}, not a DMARC report"),
            ),
            Err(e) => Outcome::Unreadable(e.to_string()),
        });
    }
    if payload.is_tls_report(limits) {
        return match payload.parse_tls(limits) {
            Ok(report) => {
                let h = &report.header;
                // A TLS report goes to the shard of its first policy domain
                // (reporters send one report per recipient domain).
                let first = report.policies.first().map(|p| p.policy_domain.as_str());
                if !mine(first.unwrap_or("")) {
                    return Ok(Outcome::OtherShard);
                }
                if batches.tls.contains(&h.org_name, &h.report_id) {
                    return batches
                        .tls
                        .write(payload.source(), &report, &ReportAuth::default())
                        .map(Outcome::Tls);
                }
                let reporter = h
                    .contact_info
                    .as_deref()
                    .and_then(contact_domain)
                    .or_else(|| contact_domain(&h.org_name));
                let (auth, refused) = authenticate(reporter);
                match refused {
                    Some(o) => Ok(o),
                    None => batches
                        .tls
                        .write(payload.source(), &report, &auth)
                        .map(Outcome::Tls),
                }
            }
            Err(e) => Ok(Outcome::Unreadable(e.to_string())),
        };
    }
    let batch = batches.aggregate;
    // Reports the history holds need no names, and no second pass.
    let prepass = rdns.map(|r| r.payload_names(payload, limits, |o, i| batch.contains(o, i)));
    let names = match prepass {
        None => HashMap::new(),
        Some(Err(e)) => return Ok(Outcome::Unreadable(e.to_string())),
        Some(Ok(Prepass {
            header,
            names,
            held,
        })) => {
            if !mine(&header.policy_published.domain) {
                return Ok(Outcome::OtherShard);
            }
            if held {
                match batch.start(&header)? {
                    ReportStart::AlreadyIngested => return Ok(Outcome::AlreadyIngested),
                    ReportStart::Duplicate => return Ok(Outcome::Duplicate),
                    // No longer held (a writer of this batch failed): the
                    // streaming pass writes it, without names.
                    ReportStart::New(writer) => batch.abort(writer),
                }
            }
            names
        }
    };
    let mut start: Option<ReportStart> = None;
    let mut failure: Option<HistoryError> = None;
    let mut refused: Option<Outcome> = None;
    let mut auth = ReportAuth::default();
    let mut messages = 0u64;
    let source = payload.source();
    let parsed = payload.parse_with(limits, |header, record| {
        if failure.is_some() || refused.is_some() {
            return;
        }
        if start.is_none() && !mine(&header.policy_published.domain) {
            refused = Some(Outcome::OtherShard);
            return;
        }
        if start.is_none() {
            match batch.start(header) {
                Ok(ReportStart::New(writer)) => {
                    let m = &header.metadata;
                    let (a, r) = authenticate(aggregate_reporter(&m.org_name, &m.email));
                    if r.is_some() {
                        batch.abort(writer);
                        refused = r;
                        return;
                    }
                    auth = a;
                    start = Some(ReportStart::New(writer));
                }
                Ok(s) => start = Some(s),
                Err(e) => {
                    failure = Some(e);
                    return;
                }
            }
        }
        if let Some(ReportStart::New(writer)) = start.as_mut() {
            let policy = &header.policy_published;
            let class =
                classifier.classify_with_ptr(policy, &record, ptr_of(&names, &record.source_ip));
            messages = messages.saturating_add(record.count);
            let mut row = AggregateRow::new(source, &header.metadata, policy, &record, class);
            if !auth.status.is_empty() {
                row.set_report_auth(&auth);
            }
            if let Err(e) = writer.push(row) {
                failure = Some(e);
            }
        }
    });
    if let Some(refused) = refused {
        return Ok(refused);
    }
    let abort = |start: Option<ReportStart>| {
        if let Some(ReportStart::New(writer)) = start {
            batch.abort(writer);
        }
    };
    if let Some(e) = failure {
        abort(start);
        return Err(e);
    }
    let header = match parsed {
        Ok(header) => header,
        Err(e) => {
            abort(start);
            return Ok(Outcome::Unreadable(e.to_string()));
        }
    };
    if !mine(&header.policy_published.domain) {
        return Ok(Outcome::OtherShard);
    }
    let start = match start {
        Some(s) => s,
        // A report without records.
        None => match batch.start(&header)? {
            ReportStart::New(writer) => {
                let m = &header.metadata;
                if let (_, Some(r)) = authenticate(aggregate_reporter(&m.org_name, &m.email)) {
                    batch.abort(writer);
                    return Ok(r);
                }
                ReportStart::New(writer)
            }
            other => other,
        },
    };
    Ok(match start {
        ReportStart::New(writer) => Outcome::New {
            messages,
            path: batch.finish(writer)?,
            rejected: header.rejected,
        },
        ReportStart::AlreadyIngested => Outcome::AlreadyIngested,
        ReportStart::Duplicate => Outcome::Duplicate,
    })
}

/// The three appends of an ingest: aggregate, TLS and failure reports,
/// with the check of the report messages.
struct Batches<'a> {
    aggregate: &'a AggregateBatch<'a>,
    tls: &'a TlsBatch<'a>,
    failures: &'a FailuresBatch<'a>,
    auth: Option<&'a ReportAuthenticator>,
    /// `ingest --shard`: only the reports about this shard's domains.
    shard: Option<Shard>,
}

impl Batches<'_> {
    /// Writes what the batches hold; the failure report files written are
    /// added to `summary`.
    fn commit(&self, summary: &mut IngestSummary) -> Result<(), HistoryError> {
        let files = self.failures.commit()?;
        summary
            .failures
            .files
            .extend(files.iter().map(|f| f.display().to_string()));
        self.aggregate.commit()?;
        self.tls.commit()
    }
}

/// Files and folders into the batch, on all cores.
/// A file that failed before and has not changed since is skipped (with
/// one error line saying so) instead of being parsed again by every run:
/// `failed` remembers them, see [`FailedInputs`].
fn ingest_files(
    paths: &[PathBuf],
    batch: &Batches<'_>,
    limits: &Limits,
    rdns: Option<&ReverseDns>,
    failed: &mut FailedInputs,
    summary: &mut IngestSummary,
) -> anyhow::Result<()> {
    let classifier = Classifier::default();
    let visits = visit_payloads_skipping(
        paths,
        limits,
        failed,
        |p| ingest_payload(p, batch, &classifier, limits, rdns),
        |outcome| match outcome {
            Ok(Outcome::Unreadable(reason)) => Some(reason.clone()),
            // Refused for good; an incomplete check is tried again.
            Ok(Outcome::Refused {
                reason,
                retry: false,
            }) => Some(reason.clone()),
            _ => None,
        },
    );
    for visit in visits {
        match visit {
            Ok((source, outcome)) => summary.add(
                &source,
                outcome.with_context(|| format!("cannot append {source} to the history"))?,
            ),
            Err((file, reason)) => summary.error(&file, reason),
        }
    }
    batch.commit(summary)?;
    Ok(())
}

/// The mailbox settings of `[imap]`, with the password read.
pub fn imap_settings(imap: &ImapConfig) -> anyhow::Result<ImapSettings> {
    let password = setup::read_password(&imap.password, "imap")?.unwrap_or_default();
    let mut s = ImapSettings::new(imap.host.clone(), imap.username.clone(), password);
    s.security = match imap.security {
        CfgSecurity::Tls => Security::Tls,
        CfgSecurity::StartTls => Security::StartTls,
        CfgSecurity::None => Security::None,
    };
    s.port = imap.port;
    s.folder = imap.folder.clone();
    s.archive_folder = imap.archive_folder.clone();
    s.invalid_folder = imap.invalid_folder.clone();
    s.timeout = imap.timeout;
    s.max_message_bytes = imap.max_message_size;
    s.ca_pem = setup::read_ca(imap.ca_file.as_deref(), "imap")?;
    Ok(s)
}

/// One pass over the `[imap]` folder into the batch. A message is
/// processed (archived) once its reports are in the history and the seen
/// index is written; one with an unreadable report goes to the invalid
/// folder with an error line. When the history cannot be written the
/// message stays, the pass stops taking messages and the state file is not
/// saved, so the next pass offers them again; the state is saved only
/// after every report of the pass is in the history.
async fn ingest_imap(
    imap: &ImapConfig,
    batch: &Batches<'_>,
    limits: &Limits,
    rdns: Option<&ReverseDns>,
    summary: &mut IngestSummary,
) -> anyhow::Result<()> {
    let settings = imap_settings(imap)?;
    let mut state = ImapState::load(&imap.state_file)?;
    let classifier = Classifier::default();
    let fatal: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let shared = Mutex::new(std::mem::take(summary));
    let folder = imap.folder.clone();
    let handle = |uid: u32, raw: &[u8]| -> Disposition {
        let mut fatal = fatal.lock().unwrap_or_else(|e| e.into_inner());
        if fatal.is_some() {
            return Disposition::Keep;
        }
        let mut summary = shared.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("imap:{folder} UID {uid}");
        // Each attachment is ingested as it is expanded and dropped before
        // the next one: memory stays bounded whatever the message holds.
        let mut unreadable = false;
        let mut payloads = 0usize;
        let mut failure: Option<anyhow::Error> = None;
        let streamed = stream_payload(raw.to_vec(), &name, limits, |payload| {
            if failure.is_some() {
                return;
            }
            payloads += 1;
            match ingest_payload(payload, batch, &classifier, limits, rdns) {
                Ok(outcome) => {
                    // A refused report too (also one whose check was
                    // incomplete: a kept message is not offered again).
                    unreadable |=
                        matches!(outcome, Outcome::Unreadable(_) | Outcome::Refused { .. });
                    summary.add(payload.source(), outcome);
                }
                Err(e) => {
                    failure = Some(
                        anyhow::Error::new(e)
                            .context(format!("cannot append {} to the history", payload.source())),
                    );
                }
            }
        });
        if let Some(e) = failure {
            *fatal = Some(e);
            return Disposition::Keep;
        }
        match streamed {
            Ok(()) if payloads == 0 => {
                summary.error(&name, "the message has no report attachment".into());
                return Disposition::Invalid;
            }
            Ok(()) => {}
            Err(e) => {
                summary.error(&name, e.to_string());
                unreadable = true;
            }
        }
        if let Err(e) = batch.commit(&mut summary) {
            *fatal = Some(anyhow::Error::new(e).context("cannot write the history's seen index"));
            return Disposition::Keep;
        }
        // A message with one unreadable (or refused) attachment needs a
        // look even when its other reports went in.
        if unreadable {
            Disposition::Invalid
        } else {
            Disposition::Processed
        }
    };
    let fetched = fetch_new(&settings, &mut state, handle).await;
    *summary = shared.into_inner().unwrap_or_else(|e| e.into_inner());
    let fetched = fetched.with_context(|| {
        format!(
            "cannot read the mailbox {}@{}:{}",
            settings.username, settings.host, settings.port
        )
    })?;
    for e in &fetched.errors {
        summary.error(
            &format!("imap:{} UID {}", e.folder, e.uid),
            e.reason.clone(),
        );
    }
    summary.imap = Some(ImapSummary {
        folder: imap.folder.clone(),
        processed: fetched.processed,
        invalid: fetched.invalid,
        kept: fetched.kept,
    });
    if let Some(e) = fatal.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e.context(format!(
            "the IMAP state {} is not saved: the messages left in the folder are read again next time",
            imap.state_file.display()
        )));
    }
    state
        .save(&imap.state_file)
        .with_context(|| format!("cannot save the IMAP state {}", imap.state_file.display()))?;
    Ok(())
}

/// Files, then the mailbox with `imap`, into the history under one lock;
/// with `reverse_dns` and `[ingest] reverse_dns`, the sources' PTR names
/// are looked up first.
pub async fn ingest_all(
    config: &Config,
    paths: &[PathBuf],
    imap: bool,
    reverse_dns: bool,
) -> anyhow::Result<(IngestSummary, Vec<String>)> {
    ingest_shard(config, paths, imap, reverse_dns, None).await
}

/// [`ingest_all`] keeping only the reports about the domains of `shard`
/// (by the domain of `policy_published`, a TLS report's first policy
/// domain, a failure report's `Reported-Domain`); the others count as
/// [`IngestSummary::other_shards`]. Not with the mailbox: a shard would
/// file away the messages of the others.
pub async fn ingest_shard(
    config: &Config,
    paths: &[PathBuf],
    imap: bool,
    reverse_dns: bool,
    shard: Option<Shard>,
) -> anyhow::Result<(IngestSummary, Vec<String>)> {
    if imap && shard.is_some() {
        bail!("--shard cannot be used with --imap: every message of the mailbox would be filed by the shard that reads it; ingest the mailbox in one process (or give each shard its own mailbox folder)");
    }
    let imap_config = match (imap, &config.imap) {
        (false, _) => None,
        (true, Some(i)) => Some(i),
        (true, None) => bail!(
            "--imap needs an [imap] section in the config{}",
            config
                .source
                .as_ref()
                .map(|p| format!(" ({})", p.display()))
                .unwrap_or_default()
        ),
    };
    let store = HistoryStore::new(&config.history_dir);
    let limits = limits(config);
    let aggregate = store
        .aggregate_batch()
        .with_context(|| format!("cannot open the history in {}", store.root().display()))?;
    let tls = store
        .tls_batch()
        .with_context(|| format!("cannot open the history in {}", store.root().display()))?;
    let failures = store
        .failures_batch()
        .with_context(|| format!("cannot open the history in {}", store.root().display()))?;
    let mut warnings = Vec::new();
    let checker = ReportAuthenticator::new(config, &mut warnings);
    let batch = Batches {
        aggregate: &aggregate,
        tls: &tls,
        failures: &failures,
        auth: checker.as_ref(),
        shard,
    };
    let cache_file = PtrCache::path_in(&config.history_dir);
    let rdns = (reverse_dns && config.ingest.reverse_dns)
        .then(|| ReverseDns::new(config, Some(&cache_file), &mut warnings))
        .flatten();
    let mut summary = IngestSummary::default();
    let mut ingested = Ok(());
    if !paths.is_empty() {
        let failed_file = FailedInputs::path_in(&config.history_dir);
        let mut failed = FailedInputs::load(&failed_file).unwrap_or_else(|e| {
            warnings.push(format!(
                "{e}; every file of the batch is tried again, also those that failed before"
            ));
            FailedInputs::new()
        });
        ingested = ingest_files(
            paths,
            &batch,
            &limits,
            rdns.as_ref(),
            &mut failed,
            &mut summary,
        );
        if ingested.is_ok() {
            if let Err(e) = failed.save(&failed_file) {
                warnings.push(e.to_string());
            }
        }
    }
    if let (Ok(()), Some(imap)) = (&ingested, imap_config) {
        ingested = ingest_imap(imap, &batch, &limits, rdns.as_ref(), &mut summary).await;
    }
    summary.report_auth = checker.as_ref().map(|c| c.counts());
    drop(checker);
    // The answers are kept even when the history could not be written.
    if let Some(rdns) = &rdns {
        rdns.save(&cache_file, &mut warnings);
        summary.reverse_dns = Some(rdns.counts());
    }
    ingested?;
    tls.commit()?;
    drop(tls);
    let files = failures.commit()?;
    summary
        .failures
        .files
        .extend(files.iter().map(|f| f.display().to_string()));
    drop(failures);
    let appended = aggregate.into_summary()?;
    summary.rows = appended.rows;
    summary.files.sort();
    summary.files_seen = HashSet::new();
    summary.tls.files_seen = HashSet::new();
    warnings.extend(store.warnings());
    Ok((summary, warnings))
}

/// The daemon's mailbox poll: on every slot of `poll_cron` (in the config's
/// time zone) one `ingest --imap` pass, until `stop` turns true. A failed
/// pass is logged and the next slot tries again. Each pass runs on a
/// blocking thread: parsing and writing Parquet are CPU and disk work.
pub async fn poll_imap(
    config: std::sync::Arc<Config>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(imap) = config.imap.as_ref() else {
        return;
    };
    tracing::info!(cron = %imap.poll_cron, folder = %imap.folder, "mailbox polling started");
    loop {
        let now = chrono::Utc::now();
        let Some(next) = authwarden_scheduler::next_fire(&imap.poll_schedule, config.timezone, now)
        else {
            tracing::warn!("the [imap] poll_cron has no further slot: polling stops");
            return;
        };
        let wait = (next - now).to_std().unwrap_or_default();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        let pass_config = config.clone();
        let handle = tokio::runtime::Handle::current();
        let pass = tokio::task::spawn_blocking(move || {
            handle.block_on(ingest_all(&pass_config, &[], true, true))
        })
        .await;
        match pass {
            Ok(Ok((s, warnings))) => {
                for w in warnings {
                    tracing::warn!("{w}");
                }
                for e in &s.errors {
                    tracing::warn!("{}: {}", e.file, e.reason);
                }
                let imap = s.imap.unwrap_or_default();
                tracing::info!(
                    processed = imap.processed,
                    invalid = imap.invalid,
                    new = s.new,
                    already_ingested = s.already_ingested,
                    rows = s.rows,
                    "mailbox polled"
                );
            }
            Ok(Err(e)) => tracing::error!("mailbox poll failed: {e:#}"),
            Err(e) => tracing::error!("mailbox poll ended: {e}"),
        }
    }
}
