//! Flat rows: one per `<record>`, with the report's metadata and the
//! record's [`Classification`]. The row type, [`AggregateRow`], lives in the
//! checker API (`authwarden_api::reports`) so that checkers read rows
//! without linking this crate; here is how a record becomes one. The
//! history crate turns them into a polars frame; this crate stays free of
//! polars.

use authwarden_api::reports::{AggregateRow, RowClassification};

use crate::classify::{Classification, Classifier};
use crate::types::*;

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

/// How [`AggregateRow::new`] flattens a record of this crate's report types.
impl RowClassification<ReportMetadata, PolicyPublished, Record> for Classification {
    fn into_row(
        self,
        source: &str,
        metadata: &ReportMetadata,
        policy: &PolicyPublished,
        record: &Record,
    ) -> AggregateRow {
        let class = self;
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
            np: s(&policy.np),
            testing: policy.testing.as_ref().map(|t| t.as_str().to_owned()),
            discovery_method: policy
                .discovery_method
                .as_ref()
                .map(|d| d.as_str().to_owned()),
            generator: metadata.generator.clone(),
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
            // Set by the intake, which knows the carrying message.
            report_auth: None,
            report_from: None,
            report_auth_detail: None,
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
