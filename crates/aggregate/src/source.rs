//! Aggregate rows as a service of the run: checkers that compare DNS with
//! who actually sends (inventory drift, rollout readiness) read the rows
//! through [`AggregateSource`], which the host implements over the history
//! (Parquet, polars) and adds to the run's extensions as
//! [`AggregateSourceExt`]. Checker crates so never link polars.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::rows::AggregateRow;

/// The aggregate report rows of the history, per domain and period.
///
/// ```
/// use std::sync::Arc;
/// use authwarden_aggregate::{AggregateRow, AggregateSource, AggregateSourceExt, StaticSource};
/// use authwarden_api::Extensions;
///
/// let mut ext = Extensions::default();
/// ext.insert(Arc::new(AggregateSourceExt(Arc::new(StaticSource::new(Vec::new())))));
/// let source = ext.get::<AggregateSourceExt>().unwrap();
/// assert!(source.0.rows("example.org", chrono::DateTime::UNIX_EPOCH, chrono::Utc::now()).is_empty());
/// ```
pub trait AggregateSource: Send + Sync {
    /// The rows of reports about `domain` (the `policy_published` domain,
    /// lower-case, no trailing dot) whose reporting period begins at or
    /// after `since` and before `until`, in any order.
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<AggregateRow>;
}

/// The [`AggregateSource`] of a run, as stored in
/// [`authwarden_api::Extensions`] (which looks services up by concrete type,
/// so the trait object is wrapped in this struct). Absent when the run has
/// no history of aggregate reports to read.
#[derive(Clone)]
pub struct AggregateSourceExt(pub Arc<dyn AggregateSource>);

impl std::fmt::Debug for AggregateSourceExt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AggregateSourceExt(..)")
    }
}

/// An [`AggregateSource`] over rows held in memory: for tests, and for a
/// host that has already loaded its rows.
#[derive(Debug, Clone, Default)]
pub struct StaticSource {
    rows: Vec<AggregateRow>,
}

impl StaticSource {
    /// A source serving `rows`.
    pub fn new(rows: Vec<AggregateRow>) -> Self {
        StaticSource { rows }
    }
}

impl AggregateSource for StaticSource {
    fn rows(&self, domain: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<AggregateRow> {
        let domain = authwarden_api::domain::normalize_name(domain);
        let (since, until) = (since.timestamp(), until.timestamp());
        self.rows
            .iter()
            .filter(|r| {
                authwarden_api::domain::normalize_name(&r.domain) == domain
                    && r.begin >= since
                    && r.begin < until
            })
            .cloned()
            .collect()
    }
}
