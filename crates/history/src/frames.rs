//! Building the findings and summary frames of one run, and their schemas.

use std::collections::HashMap;

use authwarden_api::{Finding, Severity};
use authwarden_dmarc::{DmarcFacts, RolloutFacts};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::run::RunMeta;

/// The stable identity of a finding across runs: `domain|code|subject`.
pub fn finding_key(domain: &str, code: &str, subject: &str) -> String {
    format!("{domain}|{code}|{subject}")
}

/// Facts a run gathered about one domain, keyed by checker facts key,
/// e.g. `{"dmarc": {"policy": "reject", "pct": 100, "phase": "reject pct 100"}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainFacts {
    /// The domain.
    pub domain: String,
    /// Facts per checker facts key.
    pub facts: Map<String, Value>,
}

/// The Hive partition columns: taken from the path, not stored in the files.
pub(crate) const PARTITION_COLUMNS: [&str; 2] = ["job", "period"];

fn timestamp_dtype() -> DataType {
    DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
}

fn run_schema_fields() -> Vec<(&'static str, DataType)> {
    vec![
        ("run_id", DataType::String),
        ("job", DataType::String),
        ("period", DataType::String),
        ("timestamp", timestamp_dtype()),
    ]
}

/// The columns of [`findings_frame`], in order, with their types.
pub fn findings_schema() -> Vec<(&'static str, DataType)> {
    let mut fields = run_schema_fields();
    fields.extend(
        [
            "checker", "code", "name", "severity", "domain", "subject", "message", "help",
            "evidence", "key",
        ]
        .map(|name| (name, DataType::String)),
    );
    fields
}

/// The columns of [`summary_frame`], in order, with their types.
pub fn summary_schema() -> Vec<(&'static str, DataType)> {
    let mut fields = run_schema_fields();
    fields.extend([
        ("domain", DataType::String),
        ("errors", DataType::UInt32),
        ("warnings", DataType::UInt32),
        ("notes", DataType::UInt32),
        ("total", DataType::UInt32),
        ("dmarc_policy", DataType::String),
        ("dmarc_pct", DataType::Int64),
        ("dmarc_phase", DataType::String),
        ("dmarc_status", DataType::String),
        ("dmarc_testing", DataType::Boolean),
        ("rollout_phase", DataType::String),
        ("rollout_pct", DataType::Int64),
        ("rollout_testing", DataType::Boolean),
        ("score", DataType::Int64),
    ]);
    fields
}

fn run_columns(meta: &RunMeta, height: usize) -> Vec<Column> {
    let text = |name: &str, value: &str| {
        Column::new_scalar(
            name.into(),
            Scalar::new(DataType::String, AnyValue::StringOwned(value.into())),
            height,
        )
    };
    let timestamp = Int64Chunked::full(
        "timestamp".into(),
        meta.started_at.timestamp_millis(),
        height,
    )
    .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
    .into_column();
    vec![
        text("run_id", &meta.run_id),
        text("job", &meta.job),
        text("period", &meta.period),
        timestamp,
    ]
}

/// One row per finding of the run, with the columns of [`findings_schema`]:
/// the run columns (`run_id`, `job`, `period`, `timestamp` as UTC milliseconds),
/// the finding's fields (`severity` lower-case, `evidence` as a JSON string)
/// and `key`, see [`finding_key`].
pub fn findings_frame(meta: &RunMeta, findings: &[Finding]) -> PolarsResult<DataFrame> {
    let n = findings.len();
    let field = |name: &str, get: fn(&Finding) -> &str| -> Column {
        let values: Vec<&str> = findings.iter().map(get).collect();
        Column::new(name.into(), values)
    };
    let mut columns = run_columns(meta, n);
    columns.extend([
        field("checker", |f| &f.checker),
        field("code", |f| &f.code),
        field("name", |f| &f.name),
        field("severity", |f| f.severity.as_str()),
        field("domain", |f| &f.domain),
        field("subject", |f| &f.subject),
        field("message", |f| &f.message),
        field("help", |f| &f.help),
    ]);
    let evidence: Vec<String> = findings
        .iter()
        .map(|f| Value::Object(f.evidence.clone()).to_string())
        .collect();
    columns.push(Column::new("evidence".into(), evidence));
    let keys: Vec<String> = findings
        .iter()
        .map(|f| finding_key(&f.domain, &f.code, &f.subject))
        .collect();
    columns.push(Column::new("key".into(), keys));
    DataFrame::new(n, columns)
}

#[derive(Default)]
struct Counts {
    errors: u32,
    warnings: u32,
    notes: u32,
}

/// One row per domain, with the columns of [`summary_schema`]: the run
/// columns, the number of `errors`, `warnings`, `notes` and their `total`,
/// the DMARC posture from the `dmarc` facts (`dmarc_policy`, `dmarc_pct`,
/// `dmarc_phase`, `dmarc_status`, `dmarc_testing`) and the phase from the
/// `rollout` facts of the rollout advisor (`rollout_phase`, `rollout_pct`,
/// `rollout_testing`) and the domain's `score` (0-100, from the `score`
/// facts); null when absent. Files written before a column was added read
/// it back as nulls.
///
/// Domains appear in the order of `domains`, then any domain that has findings
/// but no facts, in the order of its first finding.
pub fn summary_frame(
    meta: &RunMeta,
    findings: &[Finding],
    domains: &[DomainFacts],
) -> PolarsResult<DataFrame> {
    let mut order: Vec<&str> = Vec::with_capacity(domains.len());
    let mut counts: HashMap<&str, Counts> = HashMap::with_capacity(domains.len());
    let mut facts: HashMap<&str, &Map<String, Value>> = HashMap::with_capacity(domains.len());
    for d in domains {
        if counts.insert(&d.domain, Counts::default()).is_none() {
            order.push(&d.domain);
        }
        facts.insert(&d.domain, &d.facts);
    }
    for f in findings {
        let c = counts.entry(&f.domain).or_insert_with(|| {
            order.push(&f.domain);
            Counts::default()
        });
        match f.severity {
            Severity::Error => c.errors += 1,
            Severity::Warning => c.warnings += 1,
            Severity::Note => c.notes += 1,
        }
    }

    let n = order.len();
    let mut errors = Vec::with_capacity(n);
    let mut warnings = Vec::with_capacity(n);
    let mut notes = Vec::with_capacity(n);
    let mut total = Vec::with_capacity(n);
    let mut policy: Vec<Option<String>> = Vec::with_capacity(n);
    let mut pct: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut phase: Vec<Option<String>> = Vec::with_capacity(n);
    let mut status: Vec<Option<String>> = Vec::with_capacity(n);
    let mut testing: Vec<Option<bool>> = Vec::with_capacity(n);
    let mut rollout_phase: Vec<Option<String>> = Vec::with_capacity(n);
    let mut rollout_pct: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut rollout_testing: Vec<Option<bool>> = Vec::with_capacity(n);
    let mut score: Vec<Option<i64>> = Vec::with_capacity(n);
    for domain in &order {
        let c = &counts[domain];
        errors.push(c.errors);
        warnings.push(c.warnings);
        notes.push(c.notes);
        total.push(c.errors + c.warnings + c.notes);
        let dmarc: Option<DmarcFacts> = typed(facts.get(domain), "dmarc");
        let dmarc = dmarc.as_ref();
        policy.push(dmarc.and_then(|d| d.policy).map(|p| p.as_str().to_string()));
        pct.push(dmarc.and_then(|d| d.pct).map(i64::from));
        phase.push(dmarc.and_then(|d| d.phase.clone()));
        status.push(dmarc.and_then(|d| d.status.clone()));
        testing.push(dmarc.and_then(|d| d.testing));
        let rollout: Option<RolloutFacts> = typed(facts.get(domain), "rollout");
        let rollout = rollout.as_ref();
        rollout_phase.push(
            rollout
                .and_then(|d| d.phase)
                .map(|p| p.as_str().to_string()),
        );
        rollout_pct.push(rollout.and_then(|d| d.pct).map(i64::from));
        rollout_testing.push(rollout.and_then(|d| d.testing));
        score.push(
            facts
                .get(domain)
                .and_then(|f| f.get("score"))
                .and_then(|s| s.get("value"))
                .and_then(Value::as_i64),
        );
    }

    let mut columns = run_columns(meta, n);
    columns.extend([
        Column::new("domain".into(), order),
        Column::new("errors".into(), errors),
        Column::new("warnings".into(), warnings),
        Column::new("notes".into(), notes),
        Column::new("total".into(), total),
        Column::new("dmarc_policy".into(), policy),
        Column::new("dmarc_pct".into(), pct),
        Column::new("dmarc_phase".into(), phase),
        Column::new("dmarc_status".into(), status),
        Column::new("dmarc_testing".into(), testing),
        Column::new("rollout_phase".into(), rollout_phase),
        Column::new("rollout_pct".into(), rollout_pct),
        Column::new("rollout_testing".into(), rollout_testing),
        Column::new("score".into(), score),
    ]);
    DataFrame::new(n, columns)
}

/// The facts of `key` read as their type; `None` when absent or not of it
/// (facts of another shape say nothing about the posture).
fn typed<T: serde::de::DeserializeOwned>(
    facts: Option<&&Map<String, Value>>,
    key: &str,
) -> Option<T> {
    let value = facts?.get(key)?;
    T::deserialize(value).ok()
}

/// Reorders and types `df` to `schema`, dropping other columns.
///
/// A missing column is an error unless `fill_missing`, when it becomes nulls
/// (for history files written before a column was added).
pub(crate) fn conform(
    df: &DataFrame,
    schema: &[(&'static str, DataType)],
    skip: &[&str],
    fill_missing: bool,
) -> Result<DataFrame, String> {
    let height = df.height();
    let mut columns = Vec::with_capacity(schema.len());
    for (name, dtype) in schema {
        if skip.contains(name) {
            continue;
        }
        match df.column(name) {
            Ok(col) if col.dtype() == dtype => columns.push(col.clone()),
            Ok(col) => columns.push(col.strict_cast(dtype).map_err(|e| {
                format!(
                    "column `{name}` is {} where {dtype} is expected: {e}",
                    col.dtype()
                )
            })?),
            Err(_) if fill_missing => {
                columns.push(Column::full_null((*name).into(), height, dtype))
            }
            Err(_) => return Err(format!("column `{name}` is missing")),
        }
    }
    DataFrame::new(height, columns).map_err(|e| e.to_string())
}
