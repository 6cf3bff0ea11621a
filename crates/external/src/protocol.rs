//! The external checker protocol, version 1: the messages and their JSON
//! Schema (`docs/external-protocol.schema.json` is generated from these
//! types; a test fails when it is stale).
//!
//! One call is one process: the host writes one request (a JSON object) to
//! the program's standard input and closes it; the program writes one
//! response (a JSON object) to standard output and exits with status 0.
//! Standard error is for the program's own log lines, which the host logs.
//!
//! - `{"protocol": 1, "request": "describe"}` → [`DescribeResponse`]: the
//!   checker's id, summary, default cadences, codes with their docs, and the
//!   DNS queries it needs per domain.
//! - [`RunRequest`] → [`RunResponse`]: findings and facts.
//!
//! The program does no DNS itself: it declares queries (`"_mta-sts.{domain}"`
//! TXT) and the host answers them per domain in the run request, through the
//! run's resolver — the same cache, name servers and zone-file overlay as the
//! built-in checkers, so offline runs and tests work unchanged.

use std::collections::BTreeMap;

use authwarden_api::{Cadence, Severity};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The protocol version this host speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// A request from the host, written to the program's standard input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "request", rename_all = "lowercase")]
pub enum Request {
    /// Asks the program what it is. Sent once per process of authwarden,
    /// before any run.
    Describe {
        /// Always 1.
        protocol: u32,
    },
    /// Checks domains.
    Run(RunRequest),
}

/// `"request": "run"`: check these domains.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunRequest {
    /// Always 1.
    pub protocol: u32,
    /// The job being run, or null for an ad-hoc `authwarden check`.
    #[schemars(schema_with = "cadence_or_null")]
    pub job: Option<Cadence>,
    /// The job's period (`2026-11`, `2026-Q4`, `2026`, by the UTC date),
    /// or null for an ad-hoc check.
    pub period: Option<String>,
    /// The checker's `config` table from `[checkers.<id>]`.
    pub config: Map<String, Value>,
    /// The domains to check. This host sends one domain per process; a
    /// program must accept any number.
    pub domains: Vec<RunDomain>,
}

/// One domain of a run request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunDomain {
    /// The domain, lower-case without trailing dot.
    pub name: String,
    /// The domain's `[domains.<id>]` table for this checker (empty when absent).
    pub settings: Map<String, Value>,
    /// The answers to the queries the checker declared, by name (lower-case,
    /// no trailing dot), then by record type.
    pub dns: BTreeMap<String, BTreeMap<String, DnsResult>>,
}

/// The answer to one declared query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DnsResult {
    /// `records`, `nxdomain` (the name does not exist), `nodata` (it exists
    /// but has no record of this type) or `failed` (SERVFAIL, timeout, ...:
    /// the answer is unknown).
    pub outcome: DnsResultOutcome,
    /// The records in presentation form: TXT strings joined without
    /// separator, MX as `10 mx.example.org` (the null MX as `0 .`),
    /// addresses, names without trailing dot.
    pub records: Vec<String>,
    /// Why the lookup failed, for `failed`.
    pub error: Option<String>,
}

/// The outcome of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DnsResultOutcome {
    /// Records of the asked type.
    Records,
    /// NXDOMAIN.
    Nxdomain,
    /// NOERROR without records of the asked type.
    Nodata,
    /// The lookup failed.
    Failed,
}

/// The answer to `describe`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeResponse {
    /// Always 1.
    pub protocol: u32,
    /// The checker's id; must equal the id of its `[checkers.<id>]` table.
    pub id: String,
    /// One line saying what it checks, lower-case.
    pub summary: String,
    /// The jobs it runs in unless the config says otherwise.
    #[schemars(schema_with = "cadences")]
    pub cadences: Vec<Cadence>,
    /// Every code it may emit.
    pub codes: Vec<CodeDoc>,
    /// The DNS queries the host answers for each domain; `{domain}` in a name
    /// is replaced by the domain.
    #[serde(default)]
    pub queries: Vec<Query>,
}

/// A code the checker declares, like a built-in checker's `declare_codes!`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeDoc {
    /// Upper-case letters then three digits, e.g. `MTASTS001`; unique across
    /// all checkers. `EXT` codes are the host's.
    #[schemars(regex(pattern = r"^[A-Z]{2,}[0-9]{3}$"))]
    pub code: String,
    /// Kebab-case name, e.g. `mta-sts-record-missing`.
    #[schemars(regex(pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$"))]
    pub name: String,
    /// The severity unless `[levels]` overrides it.
    #[schemars(schema_with = "severity")]
    pub default_severity: Severity,
    /// Markdown: a summary paragraph, then `## What it checks`,
    /// `## Why it matters` and `## How to fix`.
    pub docs: String,
}

/// A DNS query to answer per domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The name; `{domain}` is replaced by the domain, e.g. `_mta-sts.{domain}`.
    pub name: String,
    /// The record type.
    #[serde(rename = "type")]
    #[schemars(schema_with = "record_type")]
    pub rtype: String,
}

/// The answer to `run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunResponse {
    /// Always 1.
    pub protocol: u32,
    /// Every finding, for any of the requested domains.
    pub findings: Vec<WireFinding>,
    /// Facts per domain, shown under the checker's id in the domain's JSON object.
    #[serde(default)]
    pub facts: BTreeMap<String, Value>,
}

/// A finding: the shape of a built-in checker's finding, where the host
/// fills in what is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WireFinding {
    /// Must be a code the checker declared.
    pub code: String,
    /// One of the requested domains.
    pub domain: String,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
    /// What exactly it is about (a DNS name, ...); default: the domain.
    #[serde(default)]
    pub subject: Option<String>,
    /// What to do about it.
    #[serde(default)]
    pub help: String,
    /// Structured evidence.
    #[serde(default)]
    pub evidence: Map<String, Value>,
    /// Overrides the code's default severity for this finding.
    #[serde(default)]
    #[schemars(schema_with = "severity_or_null")]
    pub severity: Option<Severity>,
    /// Ignored; the host sets the checker's id.
    #[serde(default)]
    pub checker: Option<String>,
    /// Ignored when it matches the code's name; a different name is an error.
    #[serde(default)]
    pub name: Option<String>,
}

fn string_enum(values: &[&str]) -> Schema {
    schemars::json_schema!({ "type": "string", "enum": values })
}

fn severity(_: &mut SchemaGenerator) -> Schema {
    string_enum(&["note", "warning", "error"])
}

fn severity_or_null(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "enum": ["note", "warning", "error", null] })
}

fn cadences(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "string", "enum": ["monthly", "quarterly", "annual"] }
    })
}

fn cadence_or_null(_: &mut SchemaGenerator) -> Schema {
    schemars::json_schema!({ "enum": ["monthly", "quarterly", "annual", null] })
}

fn record_type(_: &mut SchemaGenerator) -> Schema {
    string_enum(&["A", "AAAA", "MX", "TXT", "CNAME", "NS", "PTR", "SOA"])
}

/// The JSON Schema of the protocol: the three messages under `$defs`, and
/// the document valid for any of them.
pub fn schema() -> Value {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let request = generator.subschema_for::<Request>();
    let describe = generator.subschema_for::<DescribeResponse>();
    let run = generator.subschema_for::<RunResponse>();
    let defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "authwarden external checker protocol, version 1",
        "description": "One request on the program's standard input (Request), one response on its standard output: DescribeResponse to `describe`, RunResponse to `run`. Generated from crates/external/src/protocol.rs.",
        "anyOf": [request, describe, run],
        "$defs": defs,
    })
}
