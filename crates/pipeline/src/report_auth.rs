//! Report intake: whether the mail message that carried a report was sent
//! by the reporter ([`ReportAuthenticator`]). Each new report's carrying
//! message is verified once (DKIM, SPF for the client of the trusted
//! `Received` header, DMARC, as `authwarden verify` does, through `[dns]`)
//! and judged against the domain the report names as its reporter
//! (`authwarden_verify::report`). The result goes into the report's rows
//! (`report_auth`, `report_from`, `report_auth_detail`); with `[ingest]
//! require_authenticated` a report that fails is refused.
//!
//! The intake's payload handlers are synchronous and run on worker threads
//! or inside the mailbox pass (on the caller's runtime), so verification has
//! a small runtime of its own, entered from a scoped thread: blocking on a
//! runtime from inside one panics.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use authwarden_aggregate::{Carrier, Payload};
use authwarden_api::reports::ReportAuth;
use authwarden_config::Config;
use authwarden_verify::report::{judge, message_auth, MessageAuth};
use authwarden_verify::{Verifier, VerifyOptions};

use crate::setup;

/// How many carrying messages' results are kept: the payloads of one
/// message come one after the other, on one of a few worker threads.
const REMEMBERED: usize = 16;

/// What the report check counted in one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReportAuthCounts {
    /// Mail messages verified (the reports refused are
    /// `IngestSummary::refused`).
    pub messages: u64,
}

/// Verifies the messages that carry reports, each once.
pub struct ReportAuthenticator {
    runtime: Option<tokio::runtime::Runtime>,
    verifier: Option<Verifier>,
    options: VerifyOptions,
    require: bool,
    recent: Mutex<VecDeque<(String, MessageAuth)>>,
    counts: Mutex<ReportAuthCounts>,
}

impl Drop for ReportAuthenticator {
    fn drop(&mut self) {
        // The bridge's tasks first, then the runtime, without blocking (the
        // caller may be on a runtime of its own).
        drop(self.verifier.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl ReportAuthenticator {
    /// The check of `config` (`[ingest] authenticate`), or `None` when it is
    /// off, or, with a warning, when it cannot start (the reports are then
    /// recorded as not checked).
    pub fn new(config: &Config, warnings: &mut Vec<String>) -> Option<ReportAuthenticator> {
        if !config.ingest.authenticate {
            return None;
        }
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("report-auth")
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                warnings.push(format!("report messages not checked: {e}"));
                return None;
            }
        };
        let started = std::thread::scope(|s| {
            s.spawn(|| {
                runtime.block_on(async {
                    let resolver = setup::resolver(config).map_err(|e| format!("{e:#}"))?;
                    Verifier::start(resolver, Some(config.dns.timeout))
                        .await
                        .map_err(|e| e.to_string())
                })
            })
            .join()
        });
        let verifier = match started {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                warnings.push(format!("report messages not checked: {e}"));
                runtime.shutdown_background();
                return None;
            }
            Err(_) => {
                warnings.push("report messages not checked: the check failed to start".into());
                runtime.shutdown_background();
                return None;
            }
        };
        Some(ReportAuthenticator {
            runtime: Some(runtime),
            verifier: Some(verifier),
            options: VerifyOptions {
                trusted_receivers: config.verify.trusted_receivers.clone(),
                timeout: Some(config.dns.timeout),
                ..Default::default()
            },
            require: config.ingest.require_authenticated,
            recent: Mutex::new(VecDeque::new()),
            counts: Mutex::new(ReportAuthCounts::default()),
        })
    }

    /// The authentication of a report read from `payload` whose reporter is
    /// `reporter` (a domain, see `authwarden_verify::report::contact_domain`).
    pub fn report(&self, payload: &Payload, reporter: Option<&str>) -> ReportAuth {
        match payload.carrier() {
            None => ReportAuth::not_mail(),
            Some(carrier) => judge(&self.message(carrier), reporter),
        }
    }

    /// `Some(reason)` when `auth` means the report is refused.
    pub fn refuses(&self, auth: &ReportAuth) -> Option<String> {
        if !self.require || auth.is_authenticated() {
            return None;
        }
        Some(format!(
            "refused ([ingest] require_authenticated): {}",
            match &auth.detail {
                Some(d) => d.clone(),
                None => "a report file, not a mail message: its sender cannot be checked".into(),
            }
        ))
    }

    /// What was counted so far.
    pub fn counts(&self) -> ReportAuthCounts {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn message(&self, carrier: &Carrier) -> MessageAuth {
        {
            let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, m)) = recent.iter().find(|(l, _)| l == carrier.label()) {
                return m.clone();
            }
        }
        let (Some(runtime), Some(verifier)) = (&self.runtime, &self.verifier) else {
            return message_auth(Err(&authwarden_verify::VerifyError::Bridge(
                "the check is stopped".into(),
            )));
        };
        let verified = std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(verifier.verify(carrier.bytes(), &self.options)))
                .join()
        });
        let auth = match verified {
            Ok(v) => message_auth(v.as_ref()),
            Err(_) => message_auth(Err(&authwarden_verify::VerifyError::Bridge(
                "the verification failed".into(),
            ))),
        };
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .messages += 1;
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() >= REMEMBERED {
            recent.pop_front();
        }
        recent.push_back((carrier.label().to_string(), auth.clone()));
        auth
    }
}

/// The reporter an aggregate report names: the domain of its
/// `report_metadata/email` (`noreply-dmarc-support@google.com`), else its
/// `org_name` when that is a domain.
pub fn aggregate_reporter(org_name: &str, email: &str) -> Option<String> {
    authwarden_verify::report::contact_domain(email)
        .or_else(|| authwarden_verify::report::contact_domain(org_name))
}

/// Shared, for the intake's handlers.
pub type SharedAuthenticator = Option<Arc<ReportAuthenticator>>;

/// How many flagged reports the report lists.
const FLAGGED_SHOWN: usize = 10;

/// The report-authenticity section of a job's report: the aggregate, TLS
/// and failure reports about `domains` in `[start, end)` (by the day their
/// period begins, or a failure report arrived), counted by what the check at
/// ingest found, and each one whose reporter did not authenticate the mail
/// it came in. `None` when the period has no report.
pub fn authenticity_context(
    job: authwarden_api::Cadence,
    store: &authwarden_history::HistoryStore,
    domains: &[String],
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
) -> Option<authwarden_report::ReportAuthenticity> {
    use authwarden_api::reports::report_auth as status;
    use std::collections::{BTreeMap, BTreeSet};
    // (kind, domain, reporter, report id) → (status, from, detail, source).
    type Key = (&'static str, String, String, String);
    type Seen = (Option<String>, Option<String>, Option<String>, String);
    let mut reports: BTreeMap<Key, Seen> = BTreeMap::new();
    for domain in domains {
        if let Ok(rows) = store.aggregate_rows(domain, start, end) {
            for r in rows {
                reports
                    .entry(("aggregate", domain.clone(), r.org_name, r.report_id))
                    .or_insert((r.report_auth, r.report_from, r.report_auth_detail, r.source));
            }
        }
        if let Ok(rows) = store.tls_rows(domain, start, end) {
            for r in rows {
                let a = r.auth.unwrap_or_default();
                let s = (!a.status.is_empty()).then_some(a.status);
                reports
                    .entry(("TLS", domain.clone(), r.org_name, r.report_id))
                    .or_insert((s, a.from, a.detail, r.source));
            }
        }
        if let Ok(rows) = store.failure_rows(domain, start, end) {
            for r in rows {
                let a = r.auth.unwrap_or_default();
                let s = (!a.status.is_empty()).then_some(a.status);
                let key = r.report.dedup_key();
                reports
                    .entry(("failure", domain.clone(), r.report.reporter.clone(), key))
                    .or_insert((s, a.from, a.detail, r.source));
            }
        }
    }
    if reports.is_empty() {
        return None;
    }
    let mut out = authwarden_report::ReportAuthenticity {
        period: authwarden_history::period_for(job, start),
        reports: reports.len() as u64,
        ..Default::default()
    };
    let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
    for (kind, ..) in reports.keys() {
        *kinds.entry(kind).or_default() += 1;
    }
    out.by_kind = ["aggregate", "TLS", "failure"]
        .iter()
        .filter_map(|k| {
            kinds
                .get(k)
                .map(|n| format!("{} {k}", authwarden_api::text::group_digits(*n)))
        })
        .collect::<Vec<_>>()
        .join(", ");
    let mut senders = BTreeSet::new();
    for ((kind, domain, reporter, id), (st, from, detail, source)) in reports {
        match st.as_deref() {
            Some(status::AUTHENTICATED) => {
                out.authenticated += 1;
                if let Some(f) = from {
                    senders.insert(f);
                }
            }
            Some(status::NOT_AUTHENTICATED) => {
                out.flagged += 1;
                if out.lines.len() < FLAGGED_SHOWN {
                    out.lines.push(authwarden_report::FlaggedReport {
                        kind: kind.into(),
                        domain,
                        reporter,
                        report_id: if kind == "failure" { String::new() } else { id },
                        source,
                        detail: detail.unwrap_or_default(),
                    });
                } else {
                    out.lines_more += 1;
                }
            }
            Some(status::INCOMPLETE) => out.incomplete += 1,
            Some(status::NOT_MAIL) => out.not_mail += 1,
            _ => out.unchecked += 1,
        }
    }
    out.senders = senders.into_iter().collect::<Vec<_>>().join(", ");
    out.all_authenticated = out.authenticated == out.reports;
    Some(out)
}
