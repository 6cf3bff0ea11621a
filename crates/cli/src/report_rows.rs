//! The history's DMARC aggregate rows as services of a run: the
//! [`AggregateSource`] that the `inventory-drift` and `rollout-advisor`
//! checkers read, and the DKIM checker's [`ObservedSelectors`] (the
//! selectors of `auth_results`), both over the Parquet rows of
//! `<history>/aggregate/`. Checker crates do not link polars; this host does.
//!
//! The rows are read once per run, on first use, and only when the history
//! holds aggregate rows at all: a run without ingested reports adds neither
//! service, so the checkers say "no reports" instead of "no mail".

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, OnceLock};

use authwarden_aggregate::{AggregateRow, AggregateSource, AggregateSourceExt};
use authwarden_api::{domain, Extensions};
use authwarden_history::polars::prelude::{DataFrame, DataType, PolarsResult};
use authwarden_history::HistoryStore;
use authwarden_registry::authwarden_checker_dkim::{ObservedSelectors, ObservedSelectorsExt};
use chrono::{DateTime, Utc};

/// The aggregate rows of a history folder, by domain, loaded on first use.
pub struct HistoryRows {
    store: HistoryStore,
    rows: OnceLock<HashMap<String, Vec<AggregateRow>>>,
}

impl HistoryRows {
    /// The rows of the history at `store`'s root.
    pub fn new(store: HistoryStore) -> Self {
        HistoryRows {
            store,
            rows: OnceLock::new(),
        }
    }

    fn by_domain(&self) -> &HashMap<String, Vec<AggregateRow>> {
        self.rows.get_or_init(|| {
            let rows = self
                .store
                .load_aggregate()
                .and_then(|df| rows_of(&df).map_err(Into::into))
                .unwrap_or_else(|e| {
                    tracing::warn!("cannot read the aggregate rows of the history: {e}");
                    Vec::new()
                });
            let mut map: HashMap<String, Vec<AggregateRow>> = HashMap::new();
            for row in rows {
                map.entry(domain::normalize_name(&row.domain))
                    .or_default()
                    .push(row);
            }
            map
        })
    }
}

impl AggregateSource for HistoryRows {
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<AggregateRow> {
        let (since, until) = (since.timestamp(), until.timestamp());
        self.by_domain()
            .get(&domain::normalize_name(domain))
            .map(|rows| {
                rows.iter()
                    .filter(|r| r.begin >= since && r.begin < until)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl ObservedSelectors for HistoryRows {
    fn selectors(&self, domain: &str) -> Vec<String> {
        let domain = domain::normalize_name(domain);
        let mut out = BTreeSet::new();
        for row in self.by_domain().values().flatten() {
            // `dkim_domains` and `dkim_selectors` are joined in the same
            // order: the n-th selector signed for the n-th domain.
            let (Some(domains), Some(selectors)) = (&row.dkim_domains, &row.dkim_selectors) else {
                continue;
            };
            for (d, s) in domains.split(';').zip(selectors.split(';')) {
                let s = s.trim().to_ascii_lowercase();
                if !s.is_empty() && domain::normalize_name(d) == domain {
                    out.insert(s);
                }
            }
        }
        out.into_iter().collect()
    }
}

/// Adds the history's aggregate rows to a run's extensions, when the
/// history folder holds any.
pub fn insert(extensions: &mut Extensions, history_dir: &std::path::Path) {
    let store = HistoryStore::new(history_dir);
    if !store.aggregate_dir().is_dir() {
        return;
    }
    let rows = Arc::new(HistoryRows::new(store));
    extensions.insert(Arc::new(AggregateSourceExt(rows.clone())));
    extensions.insert(Arc::new(ObservedSelectorsExt(rows)));
}

/// The frame of [`HistoryStore::load_aggregate`] back into rows.
pub fn rows_of(df: &DataFrame) -> PolarsResult<Vec<AggregateRow>> {
    let n = df.height();
    let text = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        let c = df.column(name)?.cast(&DataType::String)?;
        let c = c.str()?;
        Ok((0..n).map(|i| c.get(i).map(str::to_string)).collect())
    };
    let int = |name: &str| -> PolarsResult<Vec<Option<i64>>> {
        let c = df.column(name)?.cast(&DataType::Int64)?;
        let c = c.i64()?;
        Ok((0..n).map(|i| c.get(i)).collect())
    };
    let flag = |name: &str| -> PolarsResult<Vec<bool>> {
        let c = df.column(name)?.cast(&DataType::Boolean)?;
        let c = c.bool()?;
        Ok((0..n).map(|i| c.get(i).unwrap_or(false)).collect())
    };
    let (domain, org_name, report_id, source) = (
        text("domain")?,
        text("org_name")?,
        text("report_id")?,
        text("source")?,
    );
    let (begin, end, pct, count) = (int("begin")?, int("end")?, int("pct")?, int("count")?);
    let (adkim, aspf, p, sp) = (text("adkim")?, text("aspf")?, text("p")?, text("sp")?);
    let (source_ip, disposition, dmarc_dkim, dmarc_spf, reasons) = (
        text("source_ip")?,
        text("disposition")?,
        text("dmarc_dkim")?,
        text("dmarc_spf")?,
        text("reasons")?,
    );
    let (header_from, envelope_from, envelope_to) = (
        text("header_from")?,
        text("envelope_from")?,
        text("envelope_to")?,
    );
    let (dkim_domains, dkim_selectors, dkim_results, spf_domains, spf_results) = (
        text("dkim_domains")?,
        text("dkim_selectors")?,
        text("dkim_results")?,
        text("spf_domains")?,
        text("spf_results")?,
    );
    let (dkim_aligned, spf_aligned, reporter_agrees) = (
        flag("dkim_aligned")?,
        flag("spf_aligned")?,
        flag("reporter_agrees")?,
    );
    let (category, cause, provider, action) = (
        text("category")?,
        text("cause")?,
        text("provider")?,
        text("action")?,
    );
    let s = |v: &Vec<Option<String>>, i: usize| v[i].clone().unwrap_or_default();
    Ok((0..n)
        .map(|i| AggregateRow {
            org_name: s(&org_name, i),
            report_id: s(&report_id, i),
            source: s(&source, i),
            // Milliseconds in the frame, seconds in the rows.
            begin: begin[i].unwrap_or(0).div_euclid(1000),
            end: end[i].unwrap_or(0).div_euclid(1000),
            domain: s(&domain, i),
            adkim: adkim[i].clone(),
            aspf: aspf[i].clone(),
            p: p[i].clone(),
            sp: sp[i].clone(),
            pct: pct[i].and_then(|v| u8::try_from(v).ok()),
            source_ip: s(&source_ip, i),
            count: count[i].and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
            disposition: disposition[i].clone(),
            dmarc_dkim: dmarc_dkim[i].clone(),
            dmarc_spf: dmarc_spf[i].clone(),
            reasons: reasons[i].clone(),
            header_from: s(&header_from, i),
            envelope_from: envelope_from[i].clone(),
            envelope_to: envelope_to[i].clone(),
            dkim_domains: dkim_domains[i].clone(),
            dkim_selectors: dkim_selectors[i].clone(),
            dkim_results: dkim_results[i].clone(),
            spf_domains: spf_domains[i].clone(),
            spf_results: spf_results[i].clone(),
            dkim_aligned: dkim_aligned[i],
            spf_aligned: spf_aligned[i],
            reporter_agrees: reporter_agrees[i],
            category: s(&category, i),
            cause: s(&cause, i),
            provider: provider[i].clone(),
            action: s(&action, i),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(domain: &str, begin: i64, selectors: &str) -> AggregateRow {
        AggregateRow {
            org_name: "google.com".into(),
            report_id: format!("{domain}-{begin}"),
            begin,
            end: begin + 86_399,
            domain: domain.into(),
            pct: Some(10),
            count: 7,
            source_ip: "192.0.2.1".into(),
            header_from: domain.into(),
            dkim_domains: Some(format!("{domain};esp.example")),
            dkim_selectors: Some(selectors.into()),
            dkim_results: Some("pass;pass".into()),
            dkim_aligned: true,
            category: "pass".into(),
            cause: "aligned".into(),
            ..Default::default()
        }
    }

    #[test]
    fn frame_round_trip_and_services() {
        let rows = vec![
            row("example.org", 1_790_000_000, "s2026;esp1"),
            row("example.net", 1_790_086_400, "k1;esp1"),
        ];
        let df = authwarden_history::aggregate_frame(&rows).unwrap();
        assert_eq!(rows_of(&df).unwrap(), rows);

        let dir = tempfile::tempdir().unwrap();
        let store = HistoryStore::new(dir.path());
        let mut ext = Extensions::default();
        insert(&mut ext, dir.path());
        assert!(
            ext.get::<AggregateSourceExt>().is_none(),
            "no rows, no service"
        );
        let report = |r: &AggregateRow| {
            let mut rep = authwarden_aggregate::AggregateReport::default();
            rep.metadata.org_name = r.org_name.clone();
            rep.metadata.report_id = r.report_id.clone();
            rep.metadata.date_range.begin = r.begin;
            rep.policy_published.domain = r.domain.clone();
            rep
        };
        let reports: Vec<_> = rows.iter().map(report).collect();
        store
            .append_aggregate(
                reports
                    .iter()
                    .zip(&rows)
                    .map(|(rep, r)| (rep, std::slice::from_ref(r))),
            )
            .unwrap();
        insert(&mut ext, dir.path());
        let source = ext.get::<AggregateSourceExt>().unwrap();
        let at = |t| DateTime::from_timestamp(t, 0).unwrap();
        let got = source
            .0
            .rows("Example.org.", at(1_789_000_000), at(1_791_000_000));
        assert_eq!(got, vec![rows[0].clone()]);
        assert!(source
            .0
            .rows("example.org", at(1_790_000_001), at(1_791_000_000))
            .is_empty());
        let seen = ext.get::<ObservedSelectorsExt>().unwrap();
        assert_eq!(seen.0.selectors("example.org"), ["s2026"]);
    }
}
