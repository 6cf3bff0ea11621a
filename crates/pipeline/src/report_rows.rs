//! The history's DMARC aggregate rows as services of a run: the
//! [`AggregateSource`] that the `inventory-drift` and `rollout-advisor`
//! checkers read, and the DKIM checker's [`ObservedSelectors`] (the
//! selectors of `auth_results`), both over the Parquet rows of
//! `<history>/aggregate/`. Checker crates do not link polars; this host does.
//!
//! Each question reads only what it needs: the rows of one domain's
//! partitions in the window asked for ([`HistoryStore::aggregate_window`]),
//! the two DKIM columns of a domain's partitions
//! ([`HistoryStore::observed_dkim_selectors`]). Windows are kept for the
//! run in a small cache, as frames (several times smaller than rows), so
//! that the checkers of one domain asking for the same (or a narrower)
//! window read it once, while memory stays bounded by a few domains'
//! windows however many domains there are.
//!
//! The services are added only when the history holds aggregate rows at
//! all: a run without ingested reports adds neither, so the checkers say "no
//! reports" instead of "no mail". Damaged files met are skipped and listed
//! in the store's [`HistoryStore::damaged`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use authwarden_aggregate::{AggregateRow, AggregateSource, AggregateSourceExt};
use authwarden_api::reports::PublishedPolicy;
use authwarden_api::tls_reports::TlsReportSourceExt;
use authwarden_api::{domain, Extensions};
use authwarden_history::polars::prelude::{col, lit, DataFrame, DataType, IntoLazy};
use authwarden_history::{aggregate_rows_of, HistoryStore};
use authwarden_registry::authwarden_checker_dkim::{ObservedSelectors, ObservedSelectorsExt};
use chrono::{DateTime, Duration, DurationRound, Utc};

/// How many (domain, window) answers the rows cache keeps. The engine runs
/// a domain's checkers next to each other, so a few suffice for them to
/// share a read.
const CACHED_WINDOWS: usize = 8;

/// A window read: its domain and whole UTC days.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Window {
    domain: String,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl Window {
    fn contains(&self, other: &Window) -> bool {
        self.domain == other.domain && self.since <= other.since && other.until <= self.until
    }
}

/// The aggregate rows of a history folder, read per domain and window.
pub struct HistoryRows {
    store: HistoryStore,
    rows: Mutex<VecDeque<(Window, Arc<DataFrame>)>>,
    selectors: Mutex<HashMap<String, Vec<String>>>,
}

impl HistoryRows {
    /// The rows of the history at `store`'s root. Damaged files met are
    /// listed in `store`'s (and its clones') [`HistoryStore::damaged`].
    pub fn new(store: HistoryStore) -> Self {
        HistoryRows {
            store,
            rows: Mutex::new(VecDeque::new()),
            selectors: Mutex::new(HashMap::new()),
        }
    }

    /// The rows of `window` (whole days), from the cache or the history.
    fn window(&self, window: Window) -> Option<Arc<DataFrame>> {
        if let Some(hit) = self.rows.lock().ok().and_then(|c| {
            c.iter()
                .find(|(w, _)| w.contains(&window))
                .map(|e| e.1.clone())
        }) {
            return Some(hit);
        }
        let rows = match self
            .store
            .aggregate_window(&window.domain, window.since, window.until)
        {
            Ok(df) => Arc::new(df),
            Err(e) => {
                tracing::warn!(
                    "cannot read the aggregate rows of {} in the history: {e}",
                    window.domain
                );
                return None;
            }
        };
        if let Ok(mut cache) = self.rows.lock() {
            cache.retain(|(w, _)| !window.contains(w));
            if cache.len() >= CACHED_WINDOWS {
                cache.pop_front();
            }
            cache.push_back((window, rows.clone()));
        }
        Some(rows)
    }
}

/// The whole UTC days around `[since, until)`: checkers asking at slightly
/// different instants of one run share a read.
fn whole_days(domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Window {
    let day = Duration::days(1);
    let floor = |t: DateTime<Utc>| t.duration_trunc(day).unwrap_or(t);
    let ceil = |t: DateTime<Utc>| {
        let f = floor(t);
        if f == t {
            t
        } else {
            f + day
        }
    };
    Window {
        domain: domain::normalize_name(domain),
        since: floor(since),
        until: ceil(until),
    }
}

impl AggregateSource for HistoryRows {
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<AggregateRow> {
        if since >= until {
            return Vec::new();
        }
        let Some(frame) = self.window(whole_days(domain, since, until)) else {
            return Vec::new();
        };
        let (since, until) = (since.timestamp_millis(), until.timestamp_millis());
        let begin = || col("begin").cast(DataType::Int64);
        (*frame)
            .clone()
            .lazy()
            .filter(begin().gt_eq(lit(since)).and(begin().lt(lit(until))))
            .collect()
            .and_then(|df| aggregate_rows_of(&df))
            .unwrap_or_else(|e| {
                tracing::warn!("cannot read the aggregate rows of {domain}: {e}");
                Vec::new()
            })
    }

    fn published_policies(
        &self,
        domain: &str,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<PublishedPolicy> {
        self.store
            .aggregate_policies(domain, since, until)
            .unwrap_or_else(|e| {
                tracing::warn!("cannot read the published policies of {domain}: {e}");
                Vec::new()
            })
    }
}

impl ObservedSelectors for HistoryRows {
    fn selectors(&self, domain: &str) -> Vec<String> {
        let domain = domain::normalize_name(domain);
        if let Some(hit) = self
            .selectors
            .lock()
            .ok()
            .and_then(|c| c.get(&domain).cloned())
        {
            return hit;
        }
        let found = self
            .store
            .observed_dkim_selectors(&domain)
            .unwrap_or_else(|e| {
                tracing::warn!("cannot read the DKIM selectors of {domain} in the history: {e}");
                Vec::new()
            });
        if let Ok(mut cache) = self.selectors.lock() {
            cache.insert(domain, found.clone());
        }
        found
    }
}

/// Adds the history's aggregate rows to a run's extensions, when the
/// history folder holds any.
pub fn insert(extensions: &mut Extensions, history_dir: &std::path::Path) {
    insert_store(extensions, &HistoryStore::new(history_dir));
}

/// [`insert`] with the run's store: the damaged files the checkers' reads
/// meet show in `store.damaged()` (clones share it).
pub fn insert_store(extensions: &mut Extensions, store: &HistoryStore) {
    // The TLS reports (RFC 8460), when any were ingested: what the MTA-STS
    // and TLS-RPT checkers read.
    if store.has_tls_reports() {
        let tls = Arc::new(crate::tls::HistoryTls::new(store.clone()));
        extensions.insert(Arc::new(TlsReportSourceExt(tls)));
    }
    if !store.aggregate_dir().is_dir() {
        return;
    }
    let rows = Arc::new(HistoryRows::new(store.clone()));
    extensions.insert(Arc::new(AggregateSourceExt(rows.clone())));
    extensions.insert(Arc::new(ObservedSelectorsExt(rows)));
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
        assert_eq!(authwarden_history::aggregate_rows_of(&df).unwrap(), rows);

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
        insert_store(&mut ext, &store);
        let source = ext.get::<AggregateSourceExt>().unwrap();
        let at = |t| DateTime::from_timestamp(t, 0).unwrap();
        let got = source
            .0
            .rows("Example.org.", at(1_789_000_000), at(1_791_000_000));
        assert_eq!(got, vec![rows[0].clone()]);
        // A narrower window from the cache, cut to the instant.
        assert!(source
            .0
            .rows("example.org", at(1_790_000_001), at(1_791_000_000))
            .is_empty());
        assert_eq!(
            source
                .0
                .rows("example.org", at(1_790_000_000), at(1_790_000_001)),
            vec![rows[0].clone()]
        );
        // The published policies: one entry a report, from three columns.
        assert_eq!(
            source
                .0
                .published_policies("example.org", at(1_789_000_000), at(1_791_000_000)),
            vec![PublishedPolicy {
                begin: rows[0].begin,
                p: None,
                pct: Some(10),
            }]
        );
        assert!(source
            .0
            .published_policies("example.org", at(1_790_000_001), at(1_791_000_000))
            .is_empty());
        let seen = ext.get::<ObservedSelectorsExt>().unwrap();
        assert_eq!(seen.0.selectors("example.org"), ["s2026"]);
        assert!(store.damaged().is_empty());

        // A damaged file met by a checker's read shows in the run's store.
        let path = store.aggregate_path(
            "example.net",
            rows[1].begin,
            "google.com",
            &rows[1].report_id,
        );
        std::fs::write(&path, b"not parquet").unwrap();
        assert!(source
            .0
            .rows("example.net", at(1_789_000_000), at(1_791_000_000))
            .is_empty());
        assert_eq!(store.damaged().len(), 1);
        assert_eq!(store.damaged()[0].domain.as_deref(), Some("example.net"));
    }

    #[test]
    fn windows_are_whole_days() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let w = whole_days(
            "Example.COM.",
            t("2026-11-03T10:00:00Z"),
            t("2026-11-05T00:00:00Z"),
        );
        assert_eq!(w.domain, "example.com");
        assert_eq!(
            (w.since, w.until),
            (t("2026-11-03T00:00:00Z"), t("2026-11-05T00:00:00Z"))
        );
        let later = whole_days(
            "example.com",
            t("2026-11-03T10:00:01Z"),
            t("2026-11-04T23:00:00Z"),
        );
        assert!(w.contains(&later));
        assert!(!later.contains(&whole_days(
            "example.com",
            t("2026-11-02T10:00:00Z"),
            t("2026-11-04T00:00:00Z")
        )));
    }
}
