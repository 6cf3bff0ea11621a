//! The template context: the plain structs the pipeline fills in and the
//! templates read.
//!
//! These structs are the contract between the pipeline (which turns the
//! polars frames of a run into them) and the templates (which see them as
//! JSON). Renaming a field breaks every user's custom template, so fields are
//! only ever added.

use std::cmp::Reverse;

use authwarden_api::{Cadence, Severity};
use serde::{Deserialize, Serialize};

/// Everything a report template can show.
///
/// Templates see this as JSON plus one extra top-level field, `subject`
/// (the result of [`ReportContext::subject`]).
///
/// Many strings here come from outside (DNS records of any domain, DMARC
/// aggregate reports). [`crate::Renderer`] makes every one display-safe before
/// the templates see it (controls, bidi controls and invisible characters
/// escaped visibly, long values cut; see `authwarden_api::text`), so they are
/// stored here as they are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportContext {
    /// The job that ran; serialised as `monthly`, `quarterly` or `annual`
    /// and used to pick the template.
    pub job: Cadence,
    /// The period the report covers, e.g. `2026-11`, `2026-Q3` or `2026`.
    pub period: String,
    /// When the report was generated, RFC 3339.
    pub generated_at: String,
    /// Who the report is for, shown in the header when set.
    pub organisation: Option<String>,
    /// The counts shown at the top.
    pub summary: Summary,
    /// One section per checked domain, in the order given.
    pub domains: Vec<DomainSection>,
    /// Findings of the previous run that are gone now.
    pub resolved: Vec<FindingRow>,
    /// Set when the report was rebuilt for a past period
    /// (`run --period`): what is of that period and what is of today.
    #[serde(default)]
    pub rebuilt: Option<String>,
    /// The as-built register (the annual audit; empty otherwise).
    #[serde(default)]
    pub as_built: Vec<AsBuiltDomain>,
    /// The domain overview shown first: one row per domain.
    #[serde(default)]
    pub overview: Vec<OverviewRow>,
    /// The next steps: each domain's plan, merged from every checker's
    /// proposals and verified (domains with nothing to do are left out).
    #[serde(default)]
    pub plan: Vec<crate::PlanSection>,
    /// The trend chart, attached to the mail as an inline image.
    pub chart: Option<Chart>,
    /// Whether this is the audit, which also lists every check that passed.
    pub is_audit: bool,
    /// What the DMARC aggregate reports say about the mail of the period;
    /// `None` when no report was ever ingested (the report then says how to
    /// ingest them).
    #[serde(default)]
    pub mail: Option<MailSummary>,
    /// Each domain's DMARC rollout phase over the last 12 months (monthly
    /// report) or the year (annual audit); `None` when the job does not show
    /// it or the history has no phase yet.
    #[serde(default)]
    pub rollout: Option<RolloutTimeline>,
    /// History files that could not be read in this run: the data (which
    /// domain and day, which run) that this report lacks, and why. Empty when
    /// the history is whole.
    #[serde(default)]
    pub data_gaps: Vec<DataGap>,
    /// What the SMTP TLS reports (RFC 8460) of the period say about mail
    /// sent to your domains; `None` when no TLS report was ever ingested and
    /// no domain asks for them.
    #[serde(default)]
    pub tls: Option<TlsReports>,
    /// What the DMARC failure reports (RFC 6591 / RFC 9991) of the period
    /// say; `None` when none was ever ingested and no domain asks for them
    /// (`ruf=`).
    #[serde(default)]
    pub failures: Option<FailureReports>,
    /// Whether the reports of the period came from their reporters: the
    /// mail that carried each was checked at ingest; `None` when the period
    /// has no report.
    #[serde(default)]
    pub report_auth: Option<ReportAuthenticity>,
}

/// The report-authenticity section: of the period's aggregate, TLS and
/// failure reports, how many came in mail that the reporter's domain
/// authenticated, and each one that did not.
///
/// Reporters, report ids and details come from strangers' mail: templates
/// show them escaped (double braces) and never as links.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAuthenticity {
    /// The period, e.g. `2026-11`.
    pub period: String,
    /// Reports of the period, all kinds.
    pub reports: u64,
    /// The reports by kind, e.g. `162 aggregate, 162 TLS, 5 failure`.
    pub by_kind: String,
    /// Those whose mail the reporter's domain authenticated.
    pub authenticated: u64,
    /// The domains that authenticated them, e.g. `google.com, microsoft.com`.
    pub senders: String,
    /// Those that did not (possibly forged).
    pub flagged: u64,
    /// Those whose check was incomplete (a DNS failure at ingest).
    pub incomplete: u64,
    /// Report files that were no mail: nothing to check.
    pub not_mail: u64,
    /// Reports ingested without the check (before it existed, or with
    /// `[ingest] authenticate = false`).
    pub unchecked: u64,
    /// Every report of the period was authenticated.
    pub all_authenticated: bool,
    /// The flagged reports, first ones.
    pub lines: Vec<FlaggedReport>,
    /// How many more flagged reports there are than listed.
    pub lines_more: u64,
}

/// One report whose reporter did not authenticate the mail it came in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlaggedReport {
    /// `aggregate`, `TLS` or `failure`.
    pub kind: String,
    /// The domain the report is about.
    pub domain: String,
    /// The reporter the report names (its organization).
    pub reporter: String,
    /// The report id (empty for a failure report).
    pub report_id: String,
    /// The file or message it came from.
    pub source: String,
    /// Why it is flagged.
    pub detail: String,
}

/// The failure-report section: per domain, the failures receivers
/// reported, by source and cause, each source beside what the aggregate
/// reports of the period say of it.
///
/// Reporters, IPs and DKIM domains come from strangers' reports: templates
/// show them escaped (double braces) and never as links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureReports {
    /// The period the figures cover, e.g. `2026-11`.
    pub period: String,
    /// Failure reports that arrived in the period, all domains.
    pub reports: u64,
    /// The failed messages they stand for (`Incidents`).
    pub incidents: u64,
    /// One entry per domain shown: those with reports and those that ask
    /// for them (`ruf=`) without any in the period.
    pub domains: Vec<FailureDomain>,
}

/// One domain's failure reports in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureDomain {
    /// The reported domain.
    pub domain: String,
    /// Failure reports.
    pub reports: u64,
    /// Failed messages they stand for.
    pub incidents: u64,
    /// Set when there is no report for the domain in the period: what that
    /// means, in one sentence.
    pub no_reports: Option<String>,
    /// Reports per `Auth-Failure` value, e.g. `dmarc 3, spf 1`.
    pub by_cause: String,
    /// Per source IP, most reports first.
    pub sources: Vec<FailureSourceLine>,
    /// How many more sources there are than listed.
    pub sources_more: u64,
}

/// The failure reports of one source IP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureSourceLine {
    /// The sending IP (`unknown` when the reports name none).
    pub source_ip: String,
    /// The `Auth-Failure` values, joined, e.g. `dmarc, spf`.
    pub auth_failure: String,
    /// Failure reports.
    pub reports: u64,
    /// Failed messages they stand for.
    pub incidents: u64,
    /// Who reported, joined.
    pub reporters: String,
    /// The DKIM domains and selectors named, e.g. `mailer.example (s1)`;
    /// empty when none.
    pub dkim: String,
    /// What the receivers did (`Delivery-Result`), joined; empty when not said.
    pub delivery: String,
    /// What the aggregate reports of the period say of the same source,
    /// e.g. `fail: unknown-source (likely spoofing)`, or that they do not
    /// list it.
    pub aggregate: String,
}

/// The TLS-report section: per domain and policy type, the SMTP sessions
/// that senders reported, failed and successful, the failures by receiving
/// MX and by sending MTA, and the trend.
///
/// Org names, MX names and IPs come from strangers' reports: templates show
/// them escaped (double braces) and never as links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsReports {
    /// The period the figures cover, e.g. `2026-11`.
    pub period: String,
    /// Its first day, `YYYY-MM-DD`.
    pub first_day: String,
    /// Its last day, `YYYY-MM-DD`.
    pub last_day: String,
    /// `month`, `quarter` or `year`.
    pub unit: String,
    /// TLS reports with policies in the period.
    pub reports: u64,
    /// Sessions in the period, all domains.
    pub sessions: u64,
    /// Of which failed.
    pub failed: u64,
    /// `failed` as a share of `sessions`, e.g. `2.1%`.
    pub failure_percent: String,
    /// The same share in the period before, `—` without sessions then.
    pub previous_failure_percent: String,
    /// One entry per domain shown, by name: those with reports and those
    /// that ask for them (TLS-RPT, MTA-STS) without any in the period.
    pub domains: Vec<TlsDomain>,
    /// The success-share chart.
    pub chart: Option<Chart>,
}

/// One domain's TLS reports in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsDomain {
    /// The policy domain.
    pub domain: String,
    /// Reports with policies for it.
    pub reports: u64,
    /// Set when there is no report for the domain in the period: what that
    /// means, in one sentence.
    pub no_reports: Option<String>,
    /// Per policy type.
    pub policies: Vec<TlsPolicyLine>,
    /// Failed sessions per (result type, receiving MX), most first.
    pub by_mx: Vec<TlsFailureLine>,
    /// How many more (result type, MX) pairs there are than listed.
    pub by_mx_more: u64,
    /// Failed sessions per (result type, sending MTA), most first.
    pub by_mta: Vec<TlsFailureLine>,
    /// How many more (result type, MTA) pairs there are than listed.
    pub by_mta_more: u64,
    /// Sessions per day or week of the trend window.
    pub trend: Vec<TlsTrendPoint>,
}

/// One policy type of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsPolicyLine {
    /// `sts`, `tlsa`, `no-policy-found`, …
    pub policy_type: String,
    /// Successful sessions.
    pub successful: u64,
    /// Failed sessions.
    pub failed: u64,
    /// `failed` as a share of all, e.g. `2.1%`.
    pub failure_percent: String,
    /// The same share in the period before (`—` without sessions then).
    pub previous_failure_percent: String,
    /// `up`, `down`, `same` or `new` (no sessions in the period before).
    pub change: String,
}

/// Failed sessions of one result type at one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFailureLine {
    /// `result-type`, e.g. `certificate-expired`.
    pub result_type: String,
    /// The receiving MX host name or the sending MTA's IP (`unknown` when
    /// not reported).
    pub host: String,
    /// Failed sessions.
    pub sessions: u64,
}

/// Sessions of one day or week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsTrendPoint {
    /// The first day, `YYYY-MM-DD`.
    pub start: String,
    /// Sessions.
    pub sessions: u64,
    /// Of which failed.
    pub failed: u64,
    /// `failed` as a share, e.g. `2.1%`.
    pub failure_percent: String,
}

/// One domain of the annual as-built register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsBuiltDomain {
    /// The domain.
    pub domain: String,
    /// Every published record, e.g. `DMARC` → the record.
    pub records: Vec<Fact>,
    /// The declared senders with owner and purpose.
    pub senders: Vec<String>,
    /// The DMARC phase now and since when.
    pub phases: String,
    /// What changed in the year, one line each.
    pub changes: Vec<String>,
}

/// One domain in the overview table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewRow {
    /// The domain.
    pub domain: String,
    /// Its score, 0-100 (`docs/SCORE.md`).
    pub score: u8,
    /// The change since the previous run of the same job, e.g. `+12`,
    /// `-3`, `±0`; empty for the first run.
    pub change: String,
    /// The change as the text report says it, e.g. ` (+8 since the last
    /// run)`; empty for the first run.
    pub change_note: String,
    /// The DMARC phase, e.g. `quarantine pct 25`.
    pub phase: String,
    /// SPF DNS lookups, e.g. `3/10`; `-` when unknown.
    pub spf_lookups: String,
    /// The oldest published DKIM key, e.g. `s1, 412 days`, `none
    /// published` or `not in this job`.
    pub oldest_dkim_key: String,
    /// The aligned pass rate of the period, e.g. `97.4%`; `no reports`
    /// without reports.
    pub pass_rate: String,
    /// Steps in the domain's plan.
    pub open_actions: usize,
    /// The verdict of each receiver-rule profile, e.g. `Gmail/Yahoo:
    /// meets · Outlook.com: fails 1 rule`; empty without profiles.
    #[serde(default)]
    pub profiles: String,
}

/// A part of the history this report could not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataGap {
    /// What is missing, e.g. "DMARC aggregate report rows of a.example for
    /// 2026-11-04".
    pub description: String,
    /// Why the file could not be read.
    pub reason: String,
}

/// Each domain's DMARC rollout phase over a window of time, from the run
/// history of every job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutTimeline {
    /// The first day of the window, `YYYY-MM-DD`.
    pub from: String,
    /// The last day of the window, `YYYY-MM-DD`.
    pub until: String,
    /// One entry per domain, by name.
    pub domains: Vec<RolloutDomain>,
    /// The phase timeline chart, attached as an inline image.
    pub chart: Option<Chart>,
}

/// One domain's rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutDomain {
    /// The domain.
    pub domain: String,
    /// Its phase now, e.g. `quarantine pct 25 (testing)`, `none` or
    /// `no record`.
    pub phase: String,
    /// The day the current phase was first seen, `YYYY-MM-DD` (may be
    /// before the window).
    pub since: String,
    /// Whole weeks in the current phase.
    pub weeks_in_phase: u32,
    /// The phase when the window opened, when a run before it saw the
    /// domain.
    pub at_start: Option<String>,
    /// The changes within the window, oldest first.
    pub changes: Vec<RolloutChange>,
}

/// A change of rollout phase, seen first by the run of `date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutChange {
    /// The day of the first run that saw the new phase, `YYYY-MM-DD`.
    pub date: String,
    /// The phase before; `None` when that run was the first to see the
    /// domain.
    pub from: Option<String>,
    /// The new phase.
    pub to: String,
}

/// The mail of a period, from the DMARC aggregate reports received.
///
/// Everything in here comes from reports that anyone can send: templates
/// must show it escaped (never with `{{{ }}}`); the renderer has already
/// escaped its control and bidi characters and cut its long values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailSummary {
    /// The period the figures cover, e.g. `2026-11`: for the monthly report
    /// the month before the run, since the run's own month has just begun.
    pub period: String,
    /// Its first day, `YYYY-MM-DD`.
    pub first_day: String,
    /// Its last day, `YYYY-MM-DD`.
    pub last_day: String,
    /// What the period is: `month`, `quarter` or `year`.
    pub unit: String,
    /// Reports with records in the period.
    pub reports: u64,
    /// Messages in the period, all domains.
    pub messages: u64,
    /// The share of messages with SPF and DKIM aligned, e.g. `97.4%`.
    pub pass_percent: String,
    /// Messages with SPF and DKIM aligned.
    pub pass: u64,
    /// Messages with one of them aligned.
    pub partial: u64,
    /// Messages with neither aligned.
    pub fail: u64,
    /// The day the latest report in the history begins (of any period).
    pub latest_report: Option<String>,
    /// One entry per domain with mail in the period, by name; empty when no
    /// report covers the period.
    pub domains: Vec<MailDomain>,
    /// The pass-rate chart, attached as a second inline image.
    pub chart: Option<Chart>,
}

/// One domain's mail in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailDomain {
    /// The domain the reports are about.
    pub domain: String,
    /// Reports with records for it.
    pub reports: u64,
    /// Messages.
    pub messages: u64,
    /// Messages with SPF and DKIM aligned.
    pub pass: u64,
    /// Messages with one of them aligned (DMARC passes; forwarding or a
    /// missing mechanism).
    pub partial: u64,
    /// Messages with neither aligned (DMARC fails).
    pub fail: u64,
    /// `pass` as a share of `messages`, e.g. `97.4%`.
    pub pass_percent: String,
    /// The sources with the most partial or failing messages, most first.
    pub failing_sources: Vec<FailingSource>,
    /// How many more failing sources there are than listed.
    pub failing_sources_more: u64,
    /// Sources first seen in the period, most messages first.
    pub new_sources: Vec<NewSource>,
    /// How many more new sources there are than listed.
    pub new_sources_more: u64,
}

/// Partial or failing mail from one source for one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailingSource {
    /// The sending IP address, as reported.
    pub source_ip: String,
    /// The known service it belongs to, when known.
    pub provider: Option<String>,
    /// `partial` or `fail`.
    pub category: String,
    /// The cause code, e.g. `known-service-missing-spf`.
    pub cause: String,
    /// What to do about it.
    pub action: String,
    /// The From domains of its messages.
    pub header_from: Vec<String>,
    /// Messages.
    pub messages: u64,
}

/// A source seen for the first time in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSource {
    /// The sending IP address, as reported.
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
    /// The day of its first report, `YYYY-MM-DD`.
    pub first_seen: String,
}

/// `part` as a percentage of `whole` with one decimal, e.g. `97.4%`; never
/// `100.0%` unless all are, nor `0.0%` unless none are, so that a single
/// failing message out of ten thousand still shows. `—` when `whole` is 0.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "—".to_string();
    }
    let tenths = (part as f64 * 1000.0 / whole as f64).round() as u64;
    let tenths = match tenths {
        1000 if part < whole => 999,
        0 if part > 0 => 1,
        t => t,
    };
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// The counts a busy reader acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Open findings with severity error.
    pub errors: u32,
    /// Open findings with severity warning.
    pub warnings: u32,
    /// Open findings with severity note.
    pub notes: u32,
    /// Open findings that the previous run did not have.
    pub new: u32,
    /// Open findings that the previous run had too.
    pub still_open: u32,
    /// Findings of the previous run that are gone now.
    pub resolved: u32,
    /// Domains checked.
    pub domains: u32,
    /// Domains with at least one error.
    pub domains_with_errors: u32,
}

impl Summary {
    /// Counts the findings of `domains` and the `resolved` list.
    pub fn tally(domains: &[DomainSection], resolved: &[FindingRow]) -> Summary {
        let mut s = Summary {
            domains: count(domains.len()),
            resolved: count(resolved.len()),
            ..Summary::default()
        };
        for d in domains {
            let mut has_error = false;
            for f in &d.findings {
                match f.severity {
                    Severity::Error => {
                        s.errors += 1;
                        has_error = true;
                    }
                    Severity::Warning => s.warnings += 1,
                    Severity::Note => s.notes += 1,
                }
                match f.status {
                    FindingStatus::New => s.new += 1,
                    FindingStatus::Open => s.still_open += 1,
                    FindingStatus::Resolved => {}
                }
            }
            s.domains_with_errors += u32::from(has_error);
        }
        s
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The overall state of one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainStatus {
    /// No errors or warnings (notes may be present).
    Ok,
    /// Warnings but no errors.
    Warning,
    /// At least one error.
    Error,
}

impl DomainStatus {
    /// The status that open findings with these severities give a domain.
    pub fn from_findings<'a>(findings: impl IntoIterator<Item = &'a FindingRow>) -> DomainStatus {
        let worst = findings
            .into_iter()
            .filter(|f| f.status != FindingStatus::Resolved)
            .map(|f| f.severity)
            .max();
        match worst {
            Some(Severity::Error) => DomainStatus::Error,
            Some(Severity::Warning) => DomainStatus::Warning,
            Some(Severity::Note) | None => DomainStatus::Ok,
        }
    }
}

/// Where a finding stands compared with the previous run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    /// Not found by the previous run.
    New,
    /// Found by the previous run too.
    Open,
    /// Found by the previous run, gone now.
    Resolved,
}

impl FindingStatus {
    fn rank(self) -> u8 {
        match self {
            FindingStatus::New => 0,
            FindingStatus::Open => 1,
            FindingStatus::Resolved => 2,
        }
    }
}

/// One domain's part of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainSection {
    /// The domain.
    pub domain: String,
    /// The worst severity among its open findings.
    pub status: DomainStatus,
    /// Facts about the domain, e.g. `DMARC phase` → `enforcing (p=reject)`.
    pub facts: Vec<Fact>,
    /// Its open findings; [`crate::Renderer::render`] sorts them with
    /// [`DomainSection::sort_findings`].
    pub findings: Vec<FindingRow>,
    /// The checks that found nothing (listed in the audit).
    pub passed: Vec<PassedCheck>,
    /// Checks that were skipped for this domain, with why, one sentence
    /// each (e.g. the stale-sender check while the reports cover fewer
    /// days than it needs).
    #[serde(default)]
    pub skipped: Vec<String>,
    /// The receiver-rule profiles (Gmail/Yahoo, Outlook, RFC 9989,
    /// M3AAWG), one table each.
    #[serde(default)]
    pub profiles: Vec<ProfileTable>,
}

/// One receiver-rule profile of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileTable {
    /// The profile's name, e.g. `Gmail and Yahoo sender requirements`.
    pub name: String,
    /// To whom it applies and whether this domain is one.
    pub applies: String,
    /// E.g. `fails 2 rules`.
    pub verdict: String,
    /// The rules that apply, in the order of the source.
    pub rules: Vec<ProfileRule>,
    /// How many rules do not apply to the domain (not listed).
    pub not_applicable: usize,
}

/// One rule of a [`ProfileTable`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRule {
    /// `PASS`, `FAIL` or `NOT VISIBLE`.
    pub status: String,
    /// The rule.
    pub rule: String,
    /// Where it is written.
    pub source: String,
    /// What was seen.
    pub evidence: String,
}

impl DomainSection {
    /// Sorts the findings: errors first, then new before open, then by code
    /// and subject.
    pub fn sort_findings(&mut self) {
        self.findings
            .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    }
}

/// A label and a value, shown as one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// What it is, e.g. `DMARC phase`.
    pub label: String,
    /// Its value, as shown.
    pub value: String,
}

impl Fact {
    /// A fact.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Fact {
        Fact {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// One finding as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRow {
    /// The domain it was found on (needed in the list of resolved findings,
    /// whose subject may be a selector or an IP address).
    pub domain: String,
    /// Its severity, serialised as `error`, `warning` or `note`.
    pub severity: Severity,
    /// The stable code, e.g. `DMARC003`.
    pub code: String,
    /// The kebab-case name of the code.
    pub name: String,
    /// What it is about: a DNS name, a selector, a source IP.
    pub subject: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub help: String,
    /// Compared with the previous run.
    pub status: FindingStatus,
    /// For how many consecutive runs it has been open (1 when new).
    pub runs_open: u32,
    /// The period of the first run that found it, when known.
    pub since: Option<String>,
    /// The evidence, one fact per entry.
    pub evidence: Vec<Fact>,
}

impl FindingRow {
    fn sort_key(&self) -> (Reverse<Severity>, u8, &str, &str) {
        (
            Reverse(self.severity),
            self.status.rank(),
            &self.code,
            &self.subject,
        )
    }
}

/// A check that found nothing for a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassedCheck {
    /// The checker id, e.g. `dmarc-policy`.
    pub checker: String,
    /// What it checked, one line.
    pub summary: String,
}

/// A chart: an inline attachment of the mail and a PNG file beside
/// `report.html` on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chart {
    /// The Content-ID of the attachment, without angle brackets.
    pub cid: String,
    /// The PNG file's name in the report folder, e.g. `trend.png`.
    pub file: String,
    /// What an `<img src>` names: `cid:<cid>` in the mail, the file's name
    /// in the `report.html` written to disk (see
    /// [`ReportContext::for_files`]), so both show their images.
    pub src: String,
    /// The text alternative: what the chart shows, in one sentence.
    pub alt: String,
}

impl Chart {
    /// A chart sent as the inline attachment `cid` and written as `file`.
    pub fn new(cid: impl Into<String>, file: impl Into<String>, alt: impl Into<String>) -> Chart {
        let cid = cid.into();
        Chart {
            src: format!("cid:{cid}"),
            cid,
            file: file.into(),
            alt: alt.into(),
        }
    }

    fn pointing_at_file(&mut self) {
        self.src = self.file.clone();
    }
}

impl ReportContext {
    /// The same context for the `report.html` written to disk: every chart's
    /// `src` names its PNG file beside the report instead of the mail's
    /// inline attachment, which a browser opening the file cannot resolve.
    pub fn for_files(&self) -> ReportContext {
        let mut ctx = self.clone();
        let charts = [
            ctx.chart.as_mut(),
            ctx.mail.as_mut().and_then(|m| m.chart.as_mut()),
            ctx.rollout.as_mut().and_then(|r| r.chart.as_mut()),
            ctx.tls.as_mut().and_then(|t| t.chart.as_mut()),
        ];
        for chart in charts.into_iter().flatten() {
            chart.pointing_at_file();
        }
        ctx
    }

    /// The mail subject, e.g.
    /// `authwarden monthly report 2026-11 — 3 errors, 1 warning`, or
    /// `authwarden monthly report 2026-11 — all checks passed` when there are
    /// neither errors nor warnings.
    pub fn subject(&self) -> String {
        let s = &self.summary;
        let outcome = if s.errors == 0 && s.warnings == 0 {
            "all checks passed".to_string()
        } else {
            format!(
                "{}, {}",
                plural(s.errors, "error", "errors"),
                plural(s.warnings, "warning", "warnings")
            )
        };
        format!("authwarden {} report {} — {outcome}", self.job, self.period)
    }

    /// The same context with findings sorted as the report shows them:
    /// per domain with [`DomainSection::sort_findings`], the resolved list by
    /// domain, then like a domain's findings.
    pub fn sorted(&self) -> ReportContext {
        let mut ctx = self.clone();
        for d in &mut ctx.domains {
            d.sort_findings();
        }
        ctx.resolved
            .sort_by(|a, b| (&a.domain, a.sort_key()).cmp(&(&b.domain, b.sort_key())));
        ctx
    }

    /// A context for `job` that uses every field, with made-up example data.
    ///
    /// [`crate::Renderer`] renders it when loading templates, so that a
    /// template naming a field that does not exist fails at load time rather
    /// than on the day of the run; it also serves for previews.
    pub fn sample(job: Cadence) -> ReportContext {
        let finding = |severity, code: &str, status, runs_open, since: Option<&str>| FindingRow {
            domain: "example.com".into(),
            severity,
            code: code.into(),
            name: "example-finding".into(),
            subject: "_dmarc.example.com".into(),
            message: "an example finding".into(),
            help: "an example of what to do".into(),
            status,
            runs_open,
            since: since.map(Into::into),
            evidence: vec![Fact::new("record", "v=DMARC1; p=none")],
        };
        let findings = vec![
            finding(Severity::Error, "EX001", FindingStatus::New, 1, None),
            finding(
                Severity::Warning,
                "EX002",
                FindingStatus::Open,
                3,
                Some("2026-01"),
            ),
            finding(Severity::Note, "EX003", FindingStatus::Open, 2, None),
        ];
        let domains = vec![
            DomainSection {
                domain: "example.com".into(),
                status: DomainStatus::from_findings(&findings),
                facts: vec![Fact::new("DMARC phase", "monitoring (p=none)")],
                findings,
                passed: vec![PassedCheck {
                    checker: "example-check".into(),
                    summary: "an example check".into(),
                }],
                skipped: vec![
                    "inventory: stale not checked: the reports cover 42 days, staleness needs 90"
                        .into(),
                ],
                profiles: vec![ProfileTable {
                    name: "Gmail and Yahoo sender requirements".into(),
                    applies: "bulk sender (about 5,000 a day or more to Gmail): yes, 12,400 on the busiest day".into(),
                    verdict: "fails 1 rule".into(),
                    rules: vec![ProfileRule {
                        status: "FAIL".into(),
                        rule: "A bulk sender authenticates its mail with both SPF and DKIM.".into(),
                        source: "https://support.google.com/a/answer/81126".into(),
                        evidence: "no DKIM key was found".into(),
                    }],
                    not_applicable: 0,
                }],
            },
            DomainSection {
                domain: "example.net".into(),
                status: DomainStatus::Ok,
                facts: vec![],
                findings: vec![],
                passed: vec![],
                skipped: vec![],
                profiles: vec![],
            },
        ];
        let resolved = vec![finding(
            Severity::Warning,
            "EX004",
            FindingStatus::Resolved,
            2,
            Some("2026-02"),
        )];
        ReportContext {
            job,
            period: "2026-04".into(),
            generated_at: "2026-05-01T06:00:00Z".into(),
            organisation: Some("Example Org".into()),
            summary: Summary::tally(&domains, &resolved),
            domains,
            resolved,
            rebuilt: None,
            as_built: vec![AsBuiltDomain {
                domain: "example.com".into(),
                records: vec![Fact::new(
                    "DMARC",
                    "v=DMARC1; p=reject; rua=mailto:d@example.com",
                )],
                senders: vec!["mailhost: owner it, purpose transactional".into()],
                phases: "reject pct 100, since 2026-03-02".into(),
                changes: vec!["2026-03-02: DMARC quarantine pct 100 → reject pct 100".into()],
            }],
            overview: vec![OverviewRow {
                domain: "example.com".into(),
                score: 72,
                change: "+8".into(),
                change_note: " (+8 since the last run)".into(),
                phase: "quarantine pct 25".into(),
                spf_lookups: "4/10".into(),
                oldest_dkim_key: "s1, 412 days".into(),
                pass_rate: "97.4%".into(),
                open_actions: 2,
                profiles: "Gmail/Yahoo: fails 1 rule · Outlook.com: meets".into(),
            }],
            plan: vec![crate::PlanSection::sample()],
            chart: Some(Chart::new("trend@example", "trend.png", "an example chart")),
            is_audit: job == Cadence::Annual,
            mail: Some(MailSummary::sample()),
            rollout: Some(RolloutTimeline::sample()),
            data_gaps: Vec::new(),
            tls: Some(TlsReports::sample()),
            failures: Some(FailureReports::sample()),
            report_auth: Some(ReportAuthenticity::sample()),
        }
    }
}

impl ReportAuthenticity {
    /// A made-up section that uses every field (see [`ReportContext::sample`]).
    pub fn sample() -> ReportAuthenticity {
        ReportAuthenticity {
            period: "2026-11".into(),
            reports: 64,
            by_kind: "31 aggregate, 31 TLS, 2 failure".into(),
            authenticated: 60,
            senders: "google.com, microsoft.com".into(),
            flagged: 2,
            incomplete: 1,
            not_mail: 1,
            unchecked: 0,
            all_authenticated: false,
            lines: vec![FlaggedReport {
                kind: "aggregate".into(),
                domain: "example.com".into(),
                reporter: "google.com".into(),
                report_id: "1234567890".into(),
                source: "reports/2026-11.mbox#message-17".into(),
                detail: "google.com did not authenticate it: DKIM not aligned: signed with d=unrelated.example instead of the From domain".into(),
            }],
            lines_more: 1,
        }
    }
}

impl FailureReports {
    /// Made-up failure reports that use every field (see
    /// [`ReportContext::sample`]): one domain with reports, one that asks
    /// for them and got none.
    pub fn sample() -> FailureReports {
        FailureReports {
            period: "2026-11".into(),
            reports: 3,
            incidents: 5,
            domains: vec![
                FailureDomain {
                    domain: "example.com".into(),
                    reports: 3,
                    incidents: 5,
                    no_reports: None,
                    by_cause: "dmarc 2, spf 1".into(),
                    sources: vec![FailureSourceLine {
                        source_ip: "203.0.113.77".into(),
                        auth_failure: "dmarc".into(),
                        reports: 2,
                        incidents: 4,
                        reporters: "receiver.example".into(),
                        dkim: "mailer.example.com (s2026)".into(),
                        delivery: "reject".into(),
                        aggregate: "fail: unknown-source (likely spoofing), 40 messages".into(),
                    }],
                    sources_more: 1,
                },
                FailureDomain {
                    domain: "example.net".into(),
                    reports: 0,
                    incidents: 0,
                    no_reports: Some("no failure report this period: the domain asks for them (ruf=), but most large receivers send none".into()),
                    by_cause: String::new(),
                    sources: Vec::new(),
                    sources_more: 0,
                },
            ],
        }
    }
}

impl TlsReports {
    /// Made-up TLS reports that use every field (see
    /// [`ReportContext::sample`]): one domain with failures, one that asks
    /// for reports and got none.
    pub fn sample() -> TlsReports {
        let line = |result_type: &str, host: &str, sessions| TlsFailureLine {
            result_type: result_type.into(),
            host: host.into(),
            sessions,
        };
        TlsReports {
            period: "2026-03".into(),
            first_day: "2026-03-01".into(),
            last_day: "2026-03-31".into(),
            unit: "month".into(),
            reports: 31,
            sessions: 12400,
            failed: 260,
            failure_percent: "2.1%".into(),
            previous_failure_percent: "0.4%".into(),
            domains: vec![
                TlsDomain {
                    domain: "example.com".into(),
                    reports: 31,
                    no_reports: None,
                    policies: vec![TlsPolicyLine {
                        policy_type: "sts".into(),
                        successful: 12140,
                        failed: 260,
                        failure_percent: "2.1%".into(),
                        previous_failure_percent: "0.4%".into(),
                        change: "up".into(),
                    }],
                    by_mx: vec![line("certificate-expired", "mx2.example.com", 240)],
                    by_mx_more: 1,
                    by_mta: vec![line("certificate-expired", "192.0.2.10", 200)],
                    by_mta_more: 2,
                    trend: vec![TlsTrendPoint {
                        start: "2026-03-02".into(),
                        sessions: 2900,
                        failed: 60,
                        failure_percent: "2.1%".into(),
                    }],
                },
                TlsDomain {
                    domain: "example.org".into(),
                    reports: 0,
                    no_reports: Some(
                        "no TLS report in this period although the domain publishes TLS-RPT".into(),
                    ),
                    policies: Vec::new(),
                    by_mx: Vec::new(),
                    by_mx_more: 0,
                    by_mta: Vec::new(),
                    by_mta_more: 0,
                    trend: Vec::new(),
                },
            ],
            chart: Some(Chart::new(
                "tls-chart@example",
                "tls-sessions.png",
                "an example TLS chart",
            )),
        }
    }
}

impl RolloutTimeline {
    /// A made-up rollout that uses every field (see
    /// [`ReportContext::sample`]): one domain that moved twice in the window,
    /// one first seen in it.
    pub fn sample() -> RolloutTimeline {
        RolloutTimeline {
            from: "2025-05-01".into(),
            until: "2026-04-30".into(),
            domains: vec![
                RolloutDomain {
                    domain: "example.com".into(),
                    phase: "quarantine pct 25".into(),
                    since: "2026-03-01".into(),
                    weeks_in_phase: 8,
                    at_start: Some("none".into()),
                    changes: vec![
                        RolloutChange {
                            date: "2026-01-01".into(),
                            from: Some("none".into()),
                            to: "quarantine pct 10 (testing)".into(),
                        },
                        RolloutChange {
                            date: "2026-03-01".into(),
                            from: Some("quarantine pct 10 (testing)".into()),
                            to: "quarantine pct 25".into(),
                        },
                    ],
                },
                RolloutDomain {
                    domain: "example.net".into(),
                    phase: "none".into(),
                    since: "2026-02-01".into(),
                    weeks_in_phase: 12,
                    at_start: None,
                    changes: vec![RolloutChange {
                        date: "2026-02-01".into(),
                        from: None,
                        to: "none".into(),
                    }],
                },
            ],
            chart: Some(Chart::new(
                "phase-timeline@example",
                "phase-timeline.png",
                "an example rollout timeline",
            )),
        }
    }
}

impl MailSummary {
    /// Made-up mail that uses every field (see [`ReportContext::sample`]):
    /// one domain with failing and new sources, one with neither.
    pub fn sample() -> MailSummary {
        MailSummary {
            period: "2026-03".into(),
            first_day: "2026-03-01".into(),
            last_day: "2026-03-31".into(),
            unit: "month".into(),
            reports: 12,
            messages: 1250,
            pass_percent: percent(1200, 1250),
            pass: 1200,
            partial: 30,
            fail: 20,
            latest_report: Some("2026-03-31".into()),
            domains: vec![
                MailDomain {
                    domain: "example.com".into(),
                    reports: 10,
                    messages: 1050,
                    pass: 1000,
                    partial: 30,
                    fail: 20,
                    pass_percent: percent(1000, 1050),
                    failing_sources: vec![
                        FailingSource {
                            source_ip: "192.0.2.1".into(),
                            provider: Some("Example Mailer".into()),
                            category: "fail".into(),
                            cause: "known-service-missing-spf".into(),
                            action: "an example of what to do".into(),
                            header_from: vec!["example.com".into()],
                            messages: 20,
                        },
                        FailingSource {
                            source_ip: "198.51.100.2".into(),
                            provider: None,
                            category: "partial".into(),
                            cause: "forwarded".into(),
                            action: "an example of what to do".into(),
                            header_from: vec!["example.com".into()],
                            messages: 30,
                        },
                    ],
                    failing_sources_more: 1,
                    new_sources: vec![
                        NewSource {
                            source_ip: "192.0.2.1".into(),
                            provider: Some("Example Mailer".into()),
                            messages: 20,
                            pass: 0,
                            partial: 0,
                            fail: 20,
                            first_seen: "2026-03-04".into(),
                        },
                        NewSource {
                            source_ip: "203.0.113.3".into(),
                            provider: None,
                            messages: 5,
                            pass: 5,
                            partial: 0,
                            fail: 0,
                            first_seen: "2026-03-09".into(),
                        },
                    ],
                    new_sources_more: 1,
                },
                MailDomain {
                    domain: "example.net".into(),
                    reports: 2,
                    messages: 200,
                    pass: 200,
                    partial: 0,
                    fail: 0,
                    pass_percent: percent(200, 200),
                    failing_sources: vec![],
                    failing_sources_more: 0,
                    new_sources: vec![],
                    new_sources_more: 0,
                },
            ],
            chart: Some(Chart::new(
                "pass-rate@example",
                "pass-rate.png",
                "an example pass-rate chart",
            )),
        }
    }
}

/// `1 error`, `2 errors`, `0 errors`, `1,874 messages`.
pub(crate) fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!(
        "{} {}",
        crate::render::group_digits(n),
        if n == 1 { one } else { many }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(errors: u32, warnings: u32, notes: u32) -> ReportContext {
        let mut c = ReportContext::sample(Cadence::Monthly);
        c.period = "2026-11".into();
        c.summary = Summary {
            errors,
            warnings,
            notes,
            ..Summary::default()
        };
        c
    }

    #[test]
    fn subject_counts_with_singular_and_plural() {
        assert_eq!(
            ctx(3, 5, 0).subject(),
            "authwarden monthly report 2026-11 — 3 errors, 5 warnings"
        );
        assert_eq!(
            ctx(1, 1, 0).subject(),
            "authwarden monthly report 2026-11 — 1 error, 1 warning"
        );
        assert_eq!(
            ctx(0, 2, 0).subject(),
            "authwarden monthly report 2026-11 — 0 errors, 2 warnings"
        );
    }

    #[test]
    fn subject_when_clean_says_so_even_with_notes() {
        assert_eq!(
            ctx(0, 0, 4).subject(),
            "authwarden monthly report 2026-11 — all checks passed"
        );
    }

    #[test]
    fn findings_sort_by_severity_then_new_then_code() {
        let mut d = ReportContext::sample(Cadence::Monthly).domains.remove(0);
        let base = d.findings[0].clone();
        let row = |severity, status, code: &str| FindingRow {
            severity,
            status,
            code: code.into(),
            ..base.clone()
        };
        d.findings = vec![
            row(Severity::Note, FindingStatus::New, "A001"),
            row(Severity::Error, FindingStatus::Open, "A001"),
            row(Severity::Warning, FindingStatus::New, "B002"),
            row(Severity::Error, FindingStatus::New, "C003"),
            row(Severity::Error, FindingStatus::New, "B002"),
        ];
        d.sort_findings();
        let got: Vec<_> = d
            .findings
            .iter()
            .map(|f| format!("{} {:?} {}", f.severity, f.status, f.code))
            .collect();
        assert_eq!(
            got,
            [
                "error New B002",
                "error New C003",
                "error Open A001",
                "warning New B002",
                "note New A001"
            ]
        );
    }

    #[test]
    fn percent_shows_one_decimal_and_never_rounds_away_a_failure() {
        assert_eq!(percent(974, 1000), "97.4%");
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(9999, 10000), "99.9%");
        assert_eq!(percent(10, 10), "100.0%");
        assert_eq!(percent(1, 10000), "0.1%");
        assert_eq!(percent(0, 10), "0.0%");
        assert_eq!(percent(0, 0), "—");
    }

    #[test]
    fn tally_counts_severities_statuses_and_domains() {
        let c = ReportContext::sample(Cadence::Monthly);
        assert_eq!(
            c.summary,
            Summary {
                errors: 1,
                warnings: 1,
                notes: 1,
                new: 1,
                still_open: 2,
                resolved: 1,
                domains: 2,
                domains_with_errors: 1,
            }
        );
        assert_eq!(c.domains[0].status, DomainStatus::Error);
    }
}
