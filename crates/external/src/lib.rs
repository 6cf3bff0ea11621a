//! External checkers: programs in any language that speak a small versioned
//! JSON protocol ([`protocol`]) over standard input and output.
//!
//! [`ExternalChecker`] implements the checker API's [`Checker`], so the
//! engine runs it like a built-in checker:
//!
//! - **describe once**: [`ExternalChecker::describe`] starts the program
//!   with `{"protocol": 1, "request": "describe"}` when authwarden starts
//!   and validates the answer (id, codes shaped like `ABC123` with the three
//!   doc sections, known cadences and record types). A program that fails
//!   to describe itself still becomes a checker: every domain it would
//!   check gets an [`EXTERNAL_CHECK_INCOMPLETE`] finding saying why.
//! - **one process per domain**: the engine calls `check` per domain, and
//!   each call starts the program once with a run request for that domain.
//!   That keeps a crash or a hang to one domain and lets the engine's
//!   concurrency limit apply; the protocol carries a list of domains so
//!   that batching can come later without a new version.
//! - **DNS by the host**: the program declares queries (`_mta-sts.{domain}`
//!   TXT); the host answers them through the run's resolver and passes the
//!   answers in the request, so the program needs no DNS library and works
//!   with zone files offline.
//! - **failures are findings**: a program that cannot be started, exits
//!   with another status than 0, outlives its timeout (it is killed), writes
//!   something that is not a valid response, or reports a code it did not
//!   declare produces an `EXT001 external-check-incomplete` finding for the
//!   domain; the run goes on. Its standard error is logged line by line
//!   (tracing, at warn level) and the last lines go into the finding.
//!
//! [`CheckerInfo`] has `&'static` fields, so the described strings are leaked
//! (`Box::leak`) once per checker per process: a few kilobytes for the
//! lifetime of a command-line run or of the daemon, which describes its
//! external checkers once when it starts.
#![deny(missing_docs)]

pub mod protocol;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use authwarden_api::serde_json::Value;
use authwarden_api::{
    async_trait, declare_codes, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, CodeInfo,
    DnsOutcome, DomainTarget, Finding, Rdata, RecordType, Severity,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use protocol::{
    DescribeResponse, DnsResult, DnsResultOutcome, Request, RunDomain, RunRequest, RunResponse,
    PROTOCOL_VERSION,
};

declare_codes! {
    /// An external checker failed, so its results for this domain are missing.
    ///
    /// ## What it checks
    /// The host reports this for a checker configured with
    /// `type = "external"` when its program could not be started, exited
    /// with a status other than 0, did not answer within its `timeout` (it is
    /// then killed), wrote something that is not a valid protocol response,
    /// reported a code it did not declare or a domain it was not asked
    /// about, or failed to describe itself when authwarden started.
    ///
    /// ## Why it matters
    /// The domain was not fully checked: the problems the external checker
    /// would have found are not in this report. Other checkers' results are
    /// unaffected.
    ///
    /// ## How to fix
    /// Read the `error` and `stderr` evidence of the finding. Run the program
    /// by hand with the request on standard input, e.g.
    /// `echo '{"protocol": 1, "request": "describe"}' | python3 checker.py`,
    /// and check its output against `docs/external-protocol.schema.json`.
    /// Raise `timeout` in its `[checkers.<id>]` table if it is only slow.
    pub EXTERNAL_CHECK_INCOMPLETE = ("EXT001", "external-check-incomplete", Severity::Warning);
}

/// Where the standard output of one call stops being read.
const MAX_OUTPUT: u64 = 16 * 1024 * 1024;
/// How many lines of standard error a finding quotes.
const STDERR_TAIL: usize = 10;
/// The most queries a checker may declare.
const MAX_QUERIES: usize = 32;

/// How to run an external checker's program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalSpec {
    /// The id of its `[checkers.<id>]` table.
    pub id: String,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// The working directory (the config file's directory); a program given
    /// as a relative path containing `/` is resolved against it.
    pub dir: PathBuf,
    /// The limit of one call (describe, or one domain's run).
    pub timeout: Duration,
}

/// A checker whose work is done by an external program.
#[derive(Debug)]
pub struct ExternalChecker {
    spec: ExternalSpec,
    info: CheckerInfo,
    queries: Vec<(String, RecordType)>,
    describe_error: Option<String>,
}

/// What went wrong in one call of the program.
#[derive(Debug)]
struct CallError {
    error: String,
    stderr: Vec<String>,
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

impl ExternalChecker {
    /// Starts the program with a describe request and builds the checker
    /// from its answer. Never fails: a program that does not describe itself
    /// becomes a checker that reports [`EXTERNAL_CHECK_INCOMPLETE`] for every
    /// domain (see [`ExternalChecker::describe_error`]).
    pub async fn describe(spec: ExternalSpec) -> Self {
        let request = Request::Describe {
            protocol: PROTOCOL_VERSION,
        };
        let described = match call(&spec, &request).await {
            Ok(stdout) => parse_describe(&spec, &stdout),
            Err(e) => Err(e.error),
        };
        match described {
            Ok(d) => Self::from_description(spec, d),
            Err(why) => Self::failed(spec, why),
        }
    }

    /// A checker that could not be described (or was refused by the host,
    /// e.g. for a code another checker declares): every domain gets an
    /// [`EXTERNAL_CHECK_INCOMPLETE`] finding with `why`.
    pub fn failed(spec: ExternalSpec, why: String) -> Self {
        tracing::warn!(checker = %spec.id, "external checker unavailable: {why}");
        let info = CheckerInfo {
            id: leak(spec.id.clone()),
            summary: leak(format!("external checker that failed to start: {why}")),
            cadences: &Cadence::ALL,
            codes: &[],
            facts_key: leak(spec.id.clone()),
        };
        ExternalChecker {
            spec,
            info,
            queries: Vec::new(),
            describe_error: Some(why),
        }
    }

    fn from_description(spec: ExternalSpec, d: Described) -> Self {
        let info = CheckerInfo {
            id: leak(spec.id.clone()),
            summary: leak(d.summary),
            cadences: Box::leak(d.cadences.into_boxed_slice()),
            codes: Box::leak(d.codes.into_boxed_slice()),
            facts_key: leak(spec.id.clone()),
        };
        ExternalChecker {
            spec,
            info,
            queries: d.queries,
            describe_error: None,
        }
    }

    /// Why describing failed, when it did.
    pub fn describe_error(&self) -> Option<&str> {
        self.describe_error.as_deref()
    }

    /// How the program is run.
    pub fn spec(&self) -> &ExternalSpec {
        &self.spec
    }

    fn incomplete(&self, domain: &str, error: &str, stderr: &[String]) -> Finding {
        let id = &self.spec.id;
        let mut f = Finding::new(
            id,
            &EXTERNAL_CHECK_INCOMPLETE,
            domain,
            format!("external checker `{id}` failed: {error}"),
        )
        .subject(id.as_str())
        .help(format!(
            "the {id} results for {domain} are missing; see the error and stderr evidence, and run `{}` by hand with the request on standard input",
            self.spec.command.join(" ")
        ))
        .evidence("checker", id.as_str())
        .evidence("command", self.spec.command.clone())
        .evidence("error", error);
        if !stderr.is_empty() {
            f = f.evidence("stderr", stderr.to_vec());
        }
        f
    }

    async fn answer_queries(
        &self,
        ctx: &CheckContext,
        domain: &str,
    ) -> BTreeMap<String, BTreeMap<String, DnsResult>> {
        let mut out: BTreeMap<String, BTreeMap<String, DnsResult>> = BTreeMap::new();
        for (template, rtype) in &self.queries {
            let name =
                authwarden_api::domain::normalize_name(&template.replace("{domain}", domain));
            let answer = ctx.resolver.query(&name, *rtype).await;
            let result = match &answer.outcome {
                DnsOutcome::Records(records) => DnsResult {
                    outcome: DnsResultOutcome::Records,
                    records: records.iter().filter_map(presentation).collect(),
                    error: None,
                },
                DnsOutcome::NxDomain => DnsResult {
                    outcome: DnsResultOutcome::Nxdomain,
                    records: Vec::new(),
                    error: None,
                },
                DnsOutcome::NoData => DnsResult {
                    outcome: DnsResultOutcome::Nodata,
                    records: Vec::new(),
                    error: None,
                },
                DnsOutcome::Failed(f) => DnsResult {
                    outcome: DnsResultOutcome::Failed,
                    records: Vec::new(),
                    error: Some(f.to_string()),
                },
            };
            out.entry(name)
                .or_default()
                .insert(rtype.as_str().to_string(), result);
        }
        out
    }

    /// Turns a run response into findings and facts for `domain`.
    fn accept(&self, domain: &str, stdout: &[u8]) -> Result<CheckOutput, String> {
        let response: RunResponse = serde_json::from_slice(stdout)
            .map_err(|e| format!("malformed run response: {e}{}", excerpt(stdout)))?;
        if response.protocol != PROTOCOL_VERSION {
            return Err(format!(
                "the run response speaks protocol {}, the host speaks {PROTOCOL_VERSION}",
                response.protocol
            ));
        }
        let mut out = CheckOutput::default();
        for wire in response.findings {
            let Some(code) = self.info.codes.iter().find(|c| c.code == wire.code) else {
                out.findings.push(self.incomplete(
                    domain,
                    &format!("reported code `{}`, which it did not declare", wire.code),
                    &[],
                ));
                continue;
            };
            if wire.domain != domain {
                out.findings.push(self.incomplete(
                    domain,
                    &format!(
                        "reported a finding for `{}`, which it was not asked about",
                        wire.domain
                    ),
                    &[],
                ));
                continue;
            }
            if let Some(name) = wire.name.as_deref().filter(|n| *n != code.name) {
                out.findings.push(self.incomplete(
                    domain,
                    &format!(
                        "reported code {} as `{name}`, but declared it as `{}`",
                        code.code, code.name
                    ),
                    &[],
                ));
                continue;
            }
            let mut f = Finding::new(&self.spec.id, code, domain, wire.message).help(wire.help);
            if let Some(subject) = wire.subject {
                f = f.subject(subject);
            }
            if let Some(severity) = wire.severity {
                f = f.severity(severity);
            }
            f.evidence = wire.evidence;
            out.findings.push(f);
        }
        out.facts = response.facts.get(domain).cloned();
        Ok(out)
    }
}

#[async_trait]
impl Checker for ExternalChecker {
    fn info(&self) -> &CheckerInfo {
        &self.info
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = target.name.as_str();
        if let Some(why) = &self.describe_error {
            return CheckOutput {
                findings: vec![self.incomplete(domain, why, &[])],
                facts: None,
                ..Default::default()
            };
        }
        let settings = target
            .settings
            .get(&self.spec.id)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let request = Request::Run(RunRequest {
            protocol: PROTOCOL_VERSION,
            job: ctx.job,
            period: ctx.job.map(|job| period_for(job, ctx.clock.now())),
            config: ctx.config.as_object().cloned().unwrap_or_default(),
            domains: vec![RunDomain {
                name: domain.to_string(),
                settings,
                dns: self.answer_queries(ctx, domain).await,
            }],
        });
        match call(&self.spec, &request).await {
            Ok(stdout) => self
                .accept(domain, &stdout)
                .unwrap_or_else(|why| CheckOutput {
                    findings: vec![self.incomplete(domain, &why, &[])],
                    facts: None,
                    ..Default::default()
                }),
            Err(e) => CheckOutput {
                findings: vec![self.incomplete(domain, &e.error, &e.stderr)],
                facts: None,
                ..Default::default()
            },
        }
    }
}

/// The period label of a job run at `now` (UTC), as the history files it
/// and the report is named: the last whole period before `now`, `2026-11`
/// for a monthly run in December, `2026-Q3`, `2025`.
fn period_for(job: Cadence, now: chrono::DateTime<chrono::Utc>) -> String {
    job.covered_period(now.date_naive())
}

/// A record in presentation form.
fn presentation(r: &Rdata) -> Option<String> {
    Some(match r {
        Rdata::A(ip) => ip.to_string(),
        Rdata::Aaaa(ip) => ip.to_string(),
        Rdata::Mx {
            preference,
            exchange,
        } if exchange.is_empty() => format!("{preference} ."),
        Rdata::Mx {
            preference,
            exchange,
        } => format!("{preference} {exchange}"),
        Rdata::Txt(_) => r.txt_joined()?,
        Rdata::Cname(n) | Rdata::Ptr(n) | Rdata::Ns(n) => n.clone(),
        Rdata::Tlsa {
            usage,
            selector,
            matching,
            data,
        } => format!("{usage} {selector} {matching} {data}"),
        Rdata::Other(s) => s.clone(),
    })
}

/// The first bytes of a bad output, for error messages.
fn excerpt(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    let text = text.trim();
    if text.is_empty() {
        return " (the output was empty)".into();
    }
    let cut: String = text.chars().take(120).collect();
    format!(
        " (output starts with {:?}{})",
        cut,
        if cut.len() < text.len() { "…" } else { "" }
    )
}

/// A described checker, validated.
struct Described {
    summary: String,
    cadences: Vec<Cadence>,
    codes: Vec<CodeInfo>,
    queries: Vec<(String, RecordType)>,
}

fn parse_describe(spec: &ExternalSpec, stdout: &[u8]) -> Result<Described, String> {
    let d: DescribeResponse = serde_json::from_slice(stdout)
        .map_err(|e| format!("malformed describe response: {e}{}", excerpt(stdout)))?;
    let mut problems = Vec::new();
    if d.protocol != PROTOCOL_VERSION {
        problems.push(format!(
            "it speaks protocol {}, the host speaks {PROTOCOL_VERSION}",
            d.protocol
        ));
    }
    if d.id != spec.id {
        problems.push(format!(
            "it describes itself as `{}` but is configured as `{}`",
            d.id, spec.id
        ));
    }
    if d.summary.trim().is_empty() {
        problems.push("its summary is empty".into());
    }
    if d.codes.is_empty() {
        problems.push("it declares no codes".into());
    }
    let mut seen = BTreeSet::new();
    let mut codes = Vec::new();
    for c in &d.codes {
        if !seen.insert(c.code.as_str()) {
            problems.push(format!("code {} is declared twice", c.code));
        }
        if !is_code(&c.code) {
            problems.push(format!(
                "code `{}` is not upper-case letters followed by three digits",
                c.code
            ));
        }
        if c.code.starts_with("EXT") && c.code[3..].chars().all(|c| c.is_ascii_digit()) {
            problems.push(format!("code {} is reserved for the host", c.code));
        }
        if !is_kebab(&c.name) {
            problems.push(format!("name `{}` of {} is not kebab-case", c.name, c.code));
        }
        let info = CodeInfo {
            code: leak(c.code.clone()),
            name: leak(c.name.clone()),
            default_severity: c.default_severity,
            docs: leak(c.docs.clone()),
        };
        let docs = info.parsed_docs();
        codes.push(info);
        for (section, text) in [
            ("a summary", &docs.summary),
            ("`## What it checks`", &docs.what),
            ("`## Why it matters`", &docs.why),
            ("`## How to fix`", &docs.fix),
        ] {
            if text.trim().is_empty() {
                problems.push(format!("the docs of {} have no {section}", c.code));
            }
        }
    }
    if d.queries.len() > MAX_QUERIES {
        problems.push(format!(
            "it declares {} queries, at most {MAX_QUERIES} are allowed",
            d.queries.len()
        ));
    }
    let mut queries = Vec::new();
    for q in &d.queries {
        match RecordType::parse(&q.rtype) {
            Some(t) => queries.push((q.name.clone(), t)),
            None => problems.push(format!(
                "query `{}` has an unknown type `{}`",
                q.name, q.rtype
            )),
        }
    }
    if !problems.is_empty() {
        return Err(format!(
            "invalid describe response: {}",
            problems.join("; ")
        ));
    }
    let mut cadences = d.cadences;
    cadences.dedup();
    Ok(Described {
        summary: d.summary,
        cadences,
        codes,
        queries,
    })
}

use authwarden_api::names::{is_code, is_kebab_case as is_kebab};

/// The program to start: a relative path with a `/` is relative to `dir`.
fn program(spec: &ExternalSpec) -> PathBuf {
    let program = Path::new(&spec.command[0]);
    if program.is_relative() && spec.command[0].contains('/') {
        spec.dir.join(program)
    } else {
        program.to_path_buf()
    }
}

/// The last lines of standard error; a grandchild that keeps the pipe open
/// does not hold the check up for more than a second.
async fn stderr_tail(task: tokio::task::JoinHandle<Vec<String>>) -> Vec<String> {
    match tokio::time::timeout(Duration::from_secs(1), task).await {
        Ok(Ok(tail)) => tail,
        _ => Vec::new(),
    }
}

/// Runs the program once with `request` and returns its standard output.
async fn call(spec: &ExternalSpec, request: &Request) -> Result<Vec<u8>, CallError> {
    let fail = |error: String| CallError {
        error,
        stderr: Vec::new(),
    };
    if spec.command.is_empty() {
        return Err(fail("the command is empty".into()));
    }
    let mut input = serde_json::to_vec(request).map_err(|e| fail(e.to_string()))?;
    input.push(b'\n');
    let mut child = tokio::process::Command::new(program(spec))
        .args(&spec.command[1..])
        .current_dir(if spec.dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &spec.dir
        })
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot start `{}` in {}: {e}",
                spec.command.join(" "),
                spec.dir.display()
            ))
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let id = spec.id.clone();
    let stderr_task = tokio::spawn(async move {
        let mut tail = std::collections::VecDeque::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::warn!(checker = %id, "stderr: {line}");
            if tail.len() == STDERR_TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        Vec::from(tail)
    });
    let work = async {
        // A program that exits without reading its input is not an error
        // here; its output decides.
        let write = async {
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let read = async {
            let mut buf = Vec::new();
            let r = stdout.take(MAX_OUTPUT + 1).read_to_end(&mut buf).await;
            r.map(|_| buf)
        };
        let ((), out) = tokio::join!(write, read);
        let status = child.wait().await;
        (out, status)
    };
    let result = tokio::time::timeout(spec.timeout, work).await;
    let (out, status) = match result {
        Ok(r) => r,
        Err(_) => {
            let _ = child.kill().await;
            let stderr = stderr_tail(stderr_task).await;
            return Err(CallError {
                error: format!("did not answer within {:?} and was killed", spec.timeout),
                stderr,
            });
        }
    };
    let stderr = stderr_tail(stderr_task).await;
    let err = |error: String| CallError {
        error,
        stderr: stderr.clone(),
    };
    let out = out.map_err(|e| err(format!("cannot read its output: {e}")))?;
    let status = status.map_err(|e| err(format!("cannot wait for it: {e}")))?;
    if !status.success() {
        return Err(err(match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => format!("was terminated ({status})"),
        }));
    }
    if out.len() as u64 > MAX_OUTPUT {
        return Err(err(format!(
            "wrote more than {} MiB to standard output",
            MAX_OUTPUT / 1024 / 1024
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/external-protocol.schema.json` is generated from the protocol
    /// types; this fails when it is stale. `AUTHWARDEN_BLESS=1` rewrites it.
    #[test]
    fn the_committed_schema_is_current() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/external-protocol.schema.json");
        let generated = serde_json::to_string_pretty(&protocol::schema()).unwrap() + "\n";
        if std::env::var_os("AUTHWARDEN_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: run `AUTHWARDEN_BLESS=1 cargo test -p authwarden-external` and commit it",
            path.display()
        );
    }

    #[test]
    fn requests_serialize_as_documented() {
        let describe = serde_json::to_value(Request::Describe { protocol: 1 }).unwrap();
        assert_eq!(
            describe,
            serde_json::json!({"request": "describe", "protocol": 1})
        );
        assert_eq!(
            period_for(Cadence::Monthly, "2026-12-01T06:00:00Z".parse().unwrap()),
            "2026-11"
        );
        assert_eq!(
            period_for(Cadence::Annual, "2027-01-01T06:00:00Z".parse().unwrap()),
            "2026"
        );
        assert_eq!(
            presentation(&Rdata::Mx {
                preference: 0,
                exchange: String::new()
            })
            .as_deref(),
            Some("0 .")
        );
    }
}
