//! The checker trait and the context a checker runs in.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Clock, CodeInfo, Finding, Resolver};

/// How often a job runs. Each checker declares the jobs it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    /// The monthly maintenance run.
    Monthly,
    /// The quarterly review.
    Quarterly,
    /// The annual audit.
    Annual,
}

impl Cadence {
    /// All cadences, shortest first.
    pub const ALL: [Cadence; 3] = [Cadence::Monthly, Cadence::Quarterly, Cadence::Annual];

    /// The label of the period of this cadence that `date` lies in:
    /// `2026-12`, `2026-Q4` or `2026` for 1 December 2026.
    pub fn period_of(self, date: chrono::NaiveDate) -> String {
        use chrono::Datelike;
        match self {
            Cadence::Monthly => format!("{:04}-{:02}", date.year(), date.month()),
            Cadence::Quarterly => format!("{:04}-Q{}", date.year(), (date.month() - 1) / 3 + 1),
            Cadence::Annual => format!("{:04}", date.year()),
        }
    }

    /// The label of the last whole period before the one `date` lies in:
    /// the period a job run on `date` reports on (`2026-11`, `2026-Q3`,
    /// `2025` for 1 December 2026).
    pub fn covered_period(self, date: chrono::NaiveDate) -> String {
        use chrono::{Datelike, Months, NaiveDate};
        let (month, back) = match self {
            Cadence::Monthly => (date.month(), 1),
            Cadence::Quarterly => ((date.month() - 1) / 3 * 3 + 1, 3),
            Cadence::Annual => (1, 12),
        };
        let start = NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date);
        self.period_of(start - Months::new(back))
    }

    /// The day a run reporting `period` is made (the first day after the
    /// period): `2026-11-01` for the monthly `2026-10`, `2026-10-01` for
    /// `2026-Q3`, `2027-01-01` for `2026`; `None` when `period` is not one
    /// of this cadence. `covered_period` of that day is `period` again.
    pub fn report_day(self, period: &str) -> Option<chrono::NaiveDate> {
        use chrono::{Months, NaiveDate};
        let period = period.trim();
        let (start, months) = match self {
            Cadence::Monthly => {
                let (y, m) = period.split_once('-')?;
                if m.len() != 2 {
                    return None;
                }
                (
                    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?,
                    1,
                )
            }
            Cadence::Quarterly => {
                let (y, q) = period.split_once("-Q")?;
                let q: u32 = q.parse().ok()?;
                if !(1..=4).contains(&q) {
                    return None;
                }
                (
                    NaiveDate::from_ymd_opt(y.parse().ok()?, (q - 1) * 3 + 1, 1)?,
                    3,
                )
            }
            Cadence::Annual => {
                if period.len() != 4 {
                    return None;
                }
                (NaiveDate::from_ymd_opt(period.parse().ok()?, 1, 1)?, 12)
            }
        };
        let day = start.checked_add_months(Months::new(months))?;
        (self.covered_period(day) == period).then_some(day)
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Monthly => "monthly",
            Cadence::Quarterly => "quarterly",
            Cadence::Annual => "annual",
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cadence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "monthly" => Ok(Cadence::Monthly),
            "quarterly" => Ok(Cadence::Quarterly),
            "annual" => Ok(Cadence::Annual),
            other => Err(format!(
                "unknown job `{other}`, expected monthly, quarterly or annual"
            )),
        }
    }
}

/// What a checker is: its id, what it does, when it runs and which codes it emits.
#[derive(Debug, Clone)]
pub struct CheckerInfo {
    /// Kebab-case id, e.g. `dmarc-policy`; also its config section `[checkers.<id>]`.
    pub id: &'static str,
    /// One line saying what it checks.
    pub summary: &'static str,
    /// The jobs it runs in unless config says otherwise.
    pub cadences: &'static [Cadence],
    /// Every code it may emit.
    pub codes: &'static [CodeInfo],
    /// The key under which its facts appear in a domain's JSON object, e.g. `dmarc`.
    pub facts_key: &'static str,
}

/// One domain to check, with its per-domain settings from config.
#[derive(Debug, Clone, Default)]
pub struct DomainTarget {
    /// The domain, lower-case without trailing dot.
    pub name: String,
    /// The domain's settings table from config (`[[domains]]` entry) as JSON;
    /// checkers read the keys they own and ignore the rest.
    pub settings: Value,
}

impl DomainTarget {
    /// A target with no settings.
    pub fn new(name: impl Into<String>) -> Self {
        DomainTarget {
            name: crate::dns::normalize_name(&name.into()),
            settings: Value::Object(Default::default()),
        }
    }
}

/// A type map for services added by later layers (history, report store),
/// so that the context grows without breaking checker crates.
#[derive(Clone, Default)]
pub struct Extensions {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// Adds (or replaces) a service.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: Arc<T>) {
        self.map.insert(TypeId::of::<T>(), value);
    }

    /// Gets a service by type.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|v| v.clone().downcast::<T>().ok())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extensions({} entries)", self.map.len())
    }
}

/// Where the run keeps its files; present in [`CheckContext::extensions`]
/// whenever the run has a config (always for jobs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// The history folder (`reports/data` by default). A checker that keeps
    /// state across runs (e.g. DKIM key first-seen dates) keeps it in a
    /// sub-folder named after its id.
    pub data_dir: std::path::PathBuf,
    /// Read the state, never write it: an ad-hoc `authwarden check` and the
    /// plan's verification see what the last job remembered without
    /// consuming it (a finding derived from remembered state stays open
    /// until a job sees its condition gone).
    pub read_only: bool,
}

impl RunPaths {
    /// State under `data_dir`, read and written.
    pub fn new(data_dir: impl Into<std::path::PathBuf>) -> Self {
        RunPaths {
            data_dir: data_dir.into(),
            read_only: false,
        }
    }

    /// State under `data_dir`, read only.
    pub fn read_only(data_dir: impl Into<std::path::PathBuf>) -> Self {
        RunPaths {
            data_dir: data_dir.into(),
            read_only: true,
        }
    }
}

/// Everything a checker may use from the outside world.
#[derive(Clone)]
pub struct CheckContext {
    /// The DNS resolver (cached per run, possibly with a zone-file overlay).
    pub resolver: Arc<dyn Resolver>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// This checker's config section `[checkers.<id>]` as JSON (an empty object when absent).
    pub config: Value,
    /// The job being run, or `None` for an ad-hoc `authwarden check`.
    pub job: Option<Cadence>,
    /// Further services (history store, report store, ...).
    pub extensions: Extensions,
}

impl CheckContext {
    /// A context with an empty config and no job.
    pub fn new(resolver: Arc<dyn Resolver>, clock: Arc<dyn Clock>) -> Self {
        CheckContext {
            resolver,
            clock,
            config: Value::Object(Default::default()),
            job: None,
            extensions: Extensions::default(),
        }
    }

    /// The same context with another config section.
    pub fn with_config(&self, config: Value) -> Self {
        let mut c = self.clone();
        c.config = config;
        c
    }
}

/// What a checker returns for one domain.
#[derive(Debug, Clone, Default)]
pub struct CheckOutput {
    /// The findings (with default severities; the host applies user levels).
    pub findings: Vec<Finding>,
    /// Facts about the domain (e.g. the DMARC policy), shown under
    /// [`CheckerInfo::facts_key`] in the domain's JSON object.
    pub facts: Option<Value>,
    /// DNS changes (or actions outside DNS) that would resolve findings,
    /// merged into one plan per domain by the pipeline (see
    /// [`crate::plan`]).
    pub proposals: Vec<crate::plan::Proposal>,
}

/// A checker. Implementations live in their own crates and are listed in
/// the registry.
#[async_trait]
pub trait Checker: Send + Sync {
    /// What this checker is.
    fn info(&self) -> &CheckerInfo;

    /// Checks one domain. Failures of the outside world (DNS timeouts, ...)
    /// are findings, never panics.
    async fn check(&self, ctx: &CheckContext, domain: &DomainTarget) -> CheckOutput;

    /// How config validation checks this checker's settings; `None` (the
    /// default) passes its tables through unchecked.
    fn settings_spec(&self) -> Option<&'static SettingsSpec> {
        None
    }

    /// How this checker's facts for one domain (what [`Checker::check`]
    /// returned in [`CheckOutput::facts`]) read in a report: labelled lines,
    /// in the order shown.
    ///
    /// The default shows every scalar field of a facts object as
    /// `<facts_key> <field>: <value>`; checkers with structured facts say
    /// what a reader needs instead.
    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        generic_report_facts(self.info().facts_key, facts)
    }
}

/// One line of a domain's facts in a report: `label: value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFact {
    /// What the line is about, e.g. `SPF lookups`.
    pub label: String,
    /// The value as text.
    pub value: String,
}

impl ReportFact {
    /// A line.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> ReportFact {
        ReportFact {
            label: label.into(),
            value: value.into(),
        }
    }
}

/// The default of [`Checker::report_facts`]: every string, number or
/// boolean field of the facts object, labelled `<facts_key> <field>`.
pub fn generic_report_facts(facts_key: &str, facts: &Value) -> Vec<ReportFact> {
    let Value::Object(map) = facts else {
        return Vec::new();
    };
    map.iter()
        .filter_map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(_) | Value::Bool(_) => v.to_string(),
                _ => return None,
            };
            Some(ReportFact::new(format!("{facts_key} {k}"), text))
        })
        .collect()
}

/// How config validation checks a checker's settings: the keys of its
/// `[checkers.<id>]` table (besides `enabled` and `jobs`) and of its table
/// in `[[domains]]`, each with the kind of value it takes.
///
/// A key not listed is an error with a did-you-mean among the listed ones,
/// and a value of the wrong kind is an error at the value; both carry the
/// file, line and column like every other config problem. The checker still
/// reads its settings itself (they reach it as JSON); the spec only lets the
/// config report mistakes before a run. Checkers that return no spec from
/// [`Checker::settings_spec`] get their tables passed through unchecked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettingsSpec {
    /// The keys of `[checkers.<id>]`.
    pub checker: &'static [SettingKey],
    /// The keys of the checker's table in a `[[domains]]` entry (`[domains.<id>]`).
    pub domain: &'static [SettingKey],
}

impl SettingsSpec {
    /// A checker without settings: every key is an error.
    pub const NONE: SettingsSpec = SettingsSpec {
        checker: &[],
        domain: &[],
    };
}

/// One key of a settings table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SettingKey {
    /// The key as written in the TOML table.
    pub name: &'static str,
    /// The values it accepts.
    pub kind: SettingKind,
}

/// The values a setting accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SettingKind {
    /// `true` or `false`.
    Bool,
    /// An integer from `min` to `max`, both included.
    Integer {
        /// The smallest value accepted.
        min: i64,
        /// The largest value accepted.
        max: i64,
    },
    /// A number from `min` to `max`, both included; an integer counts
    /// (`1` is `1.0`).
    Float {
        /// The smallest value accepted.
        min: f64,
        /// The largest value accepted.
        max: f64,
    },
    /// Any string.
    String,
    /// A duration greater than zero: whole seconds (`30`), or a string of
    /// digits and a unit `ms`, `s` or `m` (`"500ms"`, `"30s"`, `"2m"`);
    /// see [`parse_duration_setting`].
    Duration,
    /// An array whose items are all of this kind.
    Array(&'static SettingKind),
    /// A table with these keys.
    Table(&'static [SettingKey]),
    /// Any of these kinds, told apart by the value's type (a string, a
    /// table, ...): the first whose type matches is checked.
    AnyOf(&'static [SettingKind]),
    /// Any value: the checker checks it itself, at check time (the sender
    /// inventory's `senders`, whose entries the inventory parser reports).
    Any,
}

/// Reads a [`SettingKind::Duration`] value: whole seconds (`30`), or digits
/// with `ms`, `s` or `m` (`"500ms"`, `"30s"`, `"2m"`); `None` when it is not
/// one or is zero.
pub fn parse_duration_setting(value: &Value) -> Option<std::time::Duration> {
    use std::time::Duration;
    let duration = match value {
        Value::Number(n) => Duration::from_secs(n.as_u64()?),
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, unit) = s.split_at(split);
            let n: u64 = digits.parse().ok()?;
            match unit.trim() {
                "ms" => Duration::from_millis(n),
                "s" | "" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.saturating_mul(60)),
                _ => return None,
            }
        }
        _ => return None,
    };
    (!duration.is_zero()).then_some(duration)
}

#[cfg(test)]
mod period_tests {
    use super::Cadence;
    use chrono::NaiveDate;

    #[test]
    fn report_day_is_the_day_after_the_period() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(Cadence::Monthly.report_day("2026-10"), Some(d(2026, 11, 1)));
        assert_eq!(Cadence::Monthly.report_day("2026-12"), Some(d(2027, 1, 1)));
        assert_eq!(
            Cadence::Quarterly.report_day("2026-Q3"),
            Some(d(2026, 10, 1))
        );
        assert_eq!(Cadence::Annual.report_day("2026"), Some(d(2027, 1, 1)));
        for bad in ["2026-13", "2026-1", "2026", "x", "2026-Q5"] {
            assert_eq!(Cadence::Monthly.report_day(bad), None, "{bad}");
        }
        assert_eq!(Cadence::Quarterly.report_day("2026-10"), None);
        assert_eq!(Cadence::Annual.report_day("2026-10"), None);
    }
}
