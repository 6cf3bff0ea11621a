//! Flat rows: one per `<record>`, with the report's metadata and the
//! record's [`Classification`]. The history crate turns them into a polars
//! frame; this crate stays free of polars.

use serde::Serialize;

use crate::classify::{Classification, Classifier};
use crate::types::*;

/// One record of one report, flattened, with its classification. Multi-valued
/// `auth_results` fields are joined with `;` in document order, so that the
/// n-th DKIM domain, selector and result belong together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AggregateRow {
    /// The reporting organisation.
    pub org_name: String,
    /// The reporter's report id.
    pub report_id: String,
    /// The file (or `file#member`) the report came from.
    pub source: String,
    /// Start of the reporting period, Unix seconds.
    pub begin: i64,
    /// End of the reporting period, Unix seconds.
    pub end: i64,
    /// The domain of `policy_published`.
    pub domain: String,
    /// Published `adkim` (`r`, `s`).
    pub adkim: Option<String>,
    /// Published `aspf` (`r`, `s`).
    pub aspf: Option<String>,
    /// Published `p`.
    pub p: Option<String>,
    /// Published `sp`.
    pub sp: Option<String>,
    /// Published `pct`.
    pub pct: Option<u8>,
    /// The sending IP as reported.
    pub source_ip: String,
    /// Number of messages.
    pub count: u64,
    /// The applied disposition.
    pub disposition: Option<String>,
    /// The reporter's DMARC verdict for DKIM.
    pub dmarc_dkim: Option<String>,
    /// The reporter's DMARC verdict for SPF.
    pub dmarc_spf: Option<String>,
    /// Override reasons as `type` or `type: comment`, joined with `;`.
    pub reasons: Option<String>,
    /// RFC5322.From domain.
    pub header_from: String,
    /// RFC5321.MailFrom domain.
    pub envelope_from: Option<String>,
    /// RFC5321.RcptTo domain.
    pub envelope_to: Option<String>,
    /// DKIM `d=` domains.
    pub dkim_domains: Option<String>,
    /// DKIM selectors (empty where none was reported).
    pub dkim_selectors: Option<String>,
    /// DKIM results.
    pub dkim_results: Option<String>,
    /// SPF domains.
    pub spf_domains: Option<String>,
    /// SPF results.
    pub spf_results: Option<String>,
    /// Our DKIM alignment.
    pub dkim_aligned: bool,
    /// Our SPF alignment.
    pub spf_aligned: bool,
    /// The reporter's verdicts match ours.
    pub reporter_agrees: bool,
    /// `pass`, `partial` or `fail`.
    pub category: String,
    /// The cause code, e.g. `unknown-source`.
    pub cause: String,
    /// The known service, by name.
    pub provider: Option<String>,
    /// The suggested action.
    pub action: String,
}

fn join<'a>(items: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut out = String::new();
    let mut any = false;
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(';');
        }
        out.push_str(item);
        any = true;
    }
    any.then_some(out)
}

impl AggregateRow {
    /// The row of `record`, from the report with this metadata and policy,
    /// read from `source`, classified as `class`.
    pub fn new(
        source: &str,
        metadata: &ReportMetadata,
        policy: &PolicyPublished,
        record: &Record,
        class: Classification,
    ) -> AggregateRow {
        let s = |v: &Option<_>| v.as_ref().map(|v: &Disposition| v.as_str().to_owned());
        let a = |v: &Option<_>| v.as_ref().map(|v: &Alignment| v.as_str().to_owned());
        let r = |v: &Option<_>| v.as_ref().map(|v: &DmarcResult| v.as_str().to_owned());
        let auth = &record.auth_results;
        AggregateRow {
            org_name: metadata.org_name.clone(),
            report_id: metadata.report_id.clone(),
            source: source.to_owned(),
            begin: metadata.date_range.begin,
            end: metadata.date_range.end,
            domain: policy.domain.clone(),
            adkim: a(&policy.adkim),
            aspf: a(&policy.aspf),
            p: s(&policy.p),
            sp: s(&policy.sp),
            pct: policy.pct,
            source_ip: record.source_ip.clone(),
            count: record.count,
            disposition: s(&record.policy_evaluated.disposition),
            dmarc_dkim: r(&record.policy_evaluated.dkim),
            dmarc_spf: r(&record.policy_evaluated.spf),
            reasons: (!record.policy_evaluated.reasons.is_empty()).then(|| {
                record
                    .policy_evaluated
                    .reasons
                    .iter()
                    .map(|x| match &x.comment {
                        Some(c) => format!("{}: {c}", x.kind),
                        None => x.kind.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(";")
            }),
            header_from: record.identifiers.header_from.clone(),
            envelope_from: record.identifiers.envelope_from.clone(),
            envelope_to: record.identifiers.envelope_to.clone(),
            dkim_domains: join(auth.dkim.iter().map(|d| d.domain.as_str())),
            dkim_selectors: join(
                auth.dkim
                    .iter()
                    .map(|d| d.selector.as_deref().unwrap_or("")),
            ),
            dkim_results: join(
                auth.dkim
                    .iter()
                    .map(|d| d.result.as_ref().map_or("", |r| r.as_str())),
            ),
            spf_domains: join(auth.spf.iter().map(|d| d.domain.as_str())),
            spf_results: join(
                auth.spf
                    .iter()
                    .map(|d| d.result.as_ref().map_or("", |r| r.as_str())),
            ),
            dkim_aligned: class.dkim_aligned,
            spf_aligned: class.spf_aligned,
            reporter_agrees: class.reporter_agrees,
            category: class.category.as_str().to_owned(),
            cause: class.cause.code().to_owned(),
            provider: class.provider,
            action: class.action,
        }
    }
}

/// Every record of `report` as a classified row.
pub fn report_rows(
    source: &str,
    report: &AggregateReport,
    classifier: &Classifier<'_>,
) -> Vec<AggregateRow> {
    report
        .records
        .iter()
        .map(|record| {
            let class = classifier.classify(&report.policy_published, record);
            AggregateRow::new(
                source,
                &report.metadata,
                &report.policy_published,
                record,
                class,
            )
        })
        .collect()
}
