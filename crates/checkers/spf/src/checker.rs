//! The `spf` checker: fetch the record, parse it, evaluate it statically,
//! then one finding per problem and the facts.

use authwarden_api::plan::{Change, FindingRef, Proposal};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    async_trait, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo, CodeInfo, DomainTarget,
    Finding, RecordType, ReportFact,
};

use authwarden_dmarc::{published_phase, PublishedPhase};
use authwarden_spf::{
    evaluate, flatten, is_spf_record, parse_record, select_record, txt_strings, Evaluation,
    Fetched, Flattened, LookupNode, Mechanism, NodeProblem, Qualifier, Rollout, SpfFacts,
    SpfRecord, SyntaxError, TermKind, LOOKUP_LIMIT, MX_LIMIT, REFRESH_WARNING, VOID_LIMIT,
};

use crate::codes::*;

/// The checker id.
pub const CHECKER_ID: &str = "spf";

/// A character-string holds at most this many bytes.
const STRING_LIMIT: usize = 255;
/// RFC 7208 section 3.4: keep the record under this size...
const RECORD_SOFT_LIMIT: usize = 450;
/// ...and the DNS answer under this one.
const RECORD_HARD_LIMIT: usize = 512;

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary:
        "checks the spf record: syntax, exact dns and void lookup counts, includes and strictness",
    cadences: &[Cadence::Monthly, Cadence::Annual],
    codes: CODES,
    facts_key: "spf",
};

/// Checks a domain's SPF record (RFC 7208): that exactly one is published and
/// parses, that evaluating it stays within the lookup limits (counted exactly,
/// through every include and redirect), that every include resolves, and how
/// strict its `all` is.
#[derive(Debug, Default, Clone, Copy)]
pub struct Spf;

#[async_trait]
impl Checker for Spf {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    /// No settings: a key in `[checkers.<id>]` (besides `enabled` and
    /// `jobs`) or in the domain's table is a mistake the config reports.
    fn settings_spec(&self) -> Option<&'static authwarden_api::SettingsSpec> {
        Some(&authwarden_api::SettingsSpec::NONE)
    }

    /// The record and its lookups against the limits.
    fn report_facts(&self, facts: &Value) -> Vec<ReportFact> {
        let Ok(spf) = authwarden_api::serde_json::from_value::<SpfFacts>(facts.clone()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(record) = &spf.record {
            out.push(ReportFact::new("SPF record", record.as_str()));
        }
        if let Some(lookups) = spf.lookups_text() {
            out.push(ReportFact::new("SPF lookups", lookups));
        }
        out
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = target.name.clone();
        let mut run = Run {
            domain: domain.clone(),
            findings: Vec::new(),
            proposals: Vec::new(),
        };
        let resolver = &*ctx.resolver;
        let answer = resolver.query(&domain, RecordType::TXT).await;
        if !answer.cname_chain.is_empty() && answer.failure().is_none() {
            run.cname(&answer.cname_chain);
        }
        let type99 = resolver.query(&domain, RecordType::SPF).await;
        // A failure of the type 99 query is not reported: it is informational
        // and some servers mishandle unknown types.
        let type99: Vec<String> = type99
            .records()
            .iter()
            .filter_map(|r| r.txt_joined())
            .filter(|t| is_spf_record(t.as_bytes()))
            .collect();
        if !type99.is_empty() {
            run.type99(&type99);
        }
        let facts = match select_record(&answer) {
            Fetched::Failed(f) => {
                run.incomplete(&[], &domain, &f.to_string());
                empty_facts("incomplete", None)
            }
            Fetched::Missing { .. } => {
                run.missing();
                empty_facts("missing", None)
            }
            Fetched::Multiple(records) => {
                run.multiple(&[], &domain, &records);
                empty_facts("multiple", None)
            }
            Fetched::Record {
                parts,
                text,
                parsed,
            } => {
                run.sizes(&parts, &text);
                match parsed {
                    Err(e) => {
                        run.syntax(&[], &domain, &text, &e);
                        empty_facts("invalid", Some(&text))
                    }
                    Ok(record) => {
                        let ev = evaluate(resolver, &domain, &record).await;
                        let flat = if ev.dns_lookups > LOOKUP_LIMIT {
                            flatten(resolver, &domain, &record, &ev).await
                        } else {
                            None
                        };
                        // The DMARC phase picks the `all` of SPF020 and
                        // the `all` that replaces a missing or lax one.
                        let lax = match record.all() {
                            Some(q) => matches!(q, Qualifier::Pass | Qualifier::Neutral),
                            None => record.redirect().is_none(),
                        };
                        let strict = matches!(ev.all, Some(Qualifier::SoftFail | Qualifier::Fail));
                        let phase = if lax || strict {
                            published_phase(resolver, &domain).await
                        } else {
                            None
                        };
                        let want = phase
                            .as_ref()
                            .map(|p| Rollout::of(&p.phase).all())
                            .unwrap_or(Qualifier::SoftFail);
                        run.record(&record, &ev, flat.as_ref(), want);
                        if let (true, Some(phase)) = (strict, &phase) {
                            run.phase(&record, &ev, phase);
                        }
                        found_facts(&record, &ev)
                    }
                }
            }
        };
        CheckOutput {
            findings: run.findings,
            facts: Some(facts),
            proposals: run.proposals,
        }
    }
}

fn qualifier_name(all: Option<Qualifier>) -> String {
    match all {
        Some(q) => format!("{}all", q.as_char()),
        None => "none".into(),
    }
}

fn empty_facts(status: &str, record: Option<&str>) -> Value {
    facts_json(&SpfFacts::without_record(status, record))
}

fn found_facts(record: &SpfRecord, ev: &Evaluation) -> Value {
    facts_json(&SpfFacts {
        status: Some("found".into()),
        record: Some(record.text.clone()),
        dns_lookups: Some(ev.dns_lookups),
        void_lookups: Some(ev.void_lookups),
        all: Some(qualifier_name(ev.all)),
        redirect: record.redirect().map(|(_, d)| d.text.clone()),
        redirect_ignored: Some(ev.redirect_ignored),
        ip4: ev.ip4.clone(),
        ip6: ev.ip6.clone(),
        tree: ev.tree.iter().map(node_json).collect(),
    })
}

fn facts_json(facts: &SpfFacts) -> Value {
    authwarden_api::serde_json::to_value(facts).expect("spf facts serialise")
}

/// The lookup tree as the facts' `tree` shows it: per node `term`,
/// `dns_lookups` and `void_lookups` (the node and everything below it), and
/// when they apply `target`, `macro`, `record`, `problem` and `children`.
pub fn tree_json(nodes: &[LookupNode]) -> Value {
    nodes.iter().map(node_json).collect::<Vec<_>>().into()
}

fn node_json(node: &LookupNode) -> Value {
    let mut v = json!({
        "term": node.term,
        "dns_lookups": node.dns_lookups,
        "void_lookups": node.void_lookups,
    });
    if let Some(t) = &node.target {
        v["target"] = t.as_str().into();
    }
    if node.has_macro {
        v["macro"] = true.into();
    }
    if let Some(r) = &node.record {
        v["record"] = r.as_str().into();
    }
    if let Some(p) = &node.problem {
        v["problem"] = problem_text(p).into();
    }
    if !node.children.is_empty() {
        v["children"] = node
            .children
            .iter()
            .map(node_json)
            .collect::<Vec<_>>()
            .into();
    }
    v
}

fn problem_text(p: &NodeProblem) -> String {
    match p {
        NodeProblem::NoRecord => "no spf record".into(),
        NodeProblem::Multiple(r) => format!("{} spf records", r.len()),
        NodeProblem::Syntax(e) => format!("syntax error: {e}"),
        NodeProblem::Loop => "loop".into(),
        NodeProblem::TooManyMx(n) => format!("{n} mx hosts, the limit is {MX_LIMIT}"),
        NodeProblem::Failed(f) => format!("lookup failed: {f}"),
        NodeProblem::Truncated => "not followed: too many includes".into(),
    }
}

struct Run {
    domain: String,
    findings: Vec<Finding>,
    proposals: Vec<Proposal>,
}

fn chain(path: &[&str]) -> String {
    path.join(" → ")
}

impl Run {
    fn finding(&self, code: &CodeInfo, message: String) -> Finding {
        Finding::new(CHECKER_ID, code, &self.domain, message)
    }

    fn push(&mut self, f: Finding) {
        self.findings.push(f);
    }

    /// Proposes `change` as the resolution of `finding`.
    fn propose(&mut self, change: Change, reason: &str, finding: &Finding) {
        self.proposals
            .push(Proposal::new(change, reason, vec![FindingRef::to(finding)]));
    }

    /// Proposes the term edit `(add, remove, all)` of the domain's own
    /// record as the resolution of `finding`.
    fn propose_terms(
        &mut self,
        add: Vec<String>,
        remove: Vec<String>,
        all: Option<String>,
        reason: &str,
        finding: &Finding,
    ) {
        let change = Change::SpfTerms {
            name: self.domain.clone(),
            add,
            remove,
            all,
        };
        self.propose(change, reason, finding);
    }

    /// Proposes the action outside DNS as the resolution of `finding`.
    fn propose_outside(&mut self, action: String, reason: &str, finding: &Finding) {
        self.propose(Change::Outside { action }, reason, finding);
    }

    fn missing(&mut self) {
        let f = self
            .finding(
                &SPF_RECORD_MISSING,
                format!("{} publishes no spf record", self.domain),
            )
            .help(format!(
                "publish one TXT record at {} listing the servers that send its mail, e.g. \"v=spf1 mx ~all\"; a domain that sends no mail publishes \"v=spf1 -all\"",
                self.domain
            ))
            .evidence("name", self.domain.as_str());
        // Which servers send the domain's mail is not in DNS: the record is
        // built from the sender inventory (a parked domain's `v=spf1 -all`
        // is the parked-domain checker's proposal).
        self.propose_outside(
            format!(
                "publish an SPF record at {} listing the servers that send its mail (`authwarden spf build {}` builds it from the sender inventory)",
                self.domain, self.domain
            ),
            "which servers send the domain's mail is not visible in DNS",
            &f,
        );
        self.push(f);
    }

    fn multiple(&mut self, path: &[&str], name: &str, records: &[String]) {
        let where_ = if path.is_empty() {
            String::new()
        } else {
            format!(" (reached through {})", chain(path))
        };
        let f = self
            .finding(
                &SPF_MULTIPLE_RECORDS,
                format!(
                    "{} spf records at {name}{where_}, receivers return permerror",
                    records.len()
                ),
            )
            .subject(name)
            .help("merge them into one record (combine the mechanisms, keep one `all` at the end) and delete the others")
            .evidence("count", records.len())
            .evidence("records", records.to_vec())
            .evidence("path", path.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        self.propose_merge(path, name, records, &f);
        self.push(f);
    }

    /// The records at the domain itself become the first one that parses,
    /// with the other records' mechanisms added to it; the others are
    /// removed. Records at an include or redirect target are their owner's.
    fn propose_merge(&mut self, path: &[&str], name: &str, records: &[String], f: &Finding) {
        if !path.is_empty() {
            self.propose_outside(
                format!(
                    "ask the owner of {name} to merge its {} spf records into one",
                    records.len()
                ),
                "the records are in another domain's DNS",
                f,
            );
            return;
        }
        let parsed: Vec<Option<SpfRecord>> = records
            .iter()
            .map(|r| parse_record(r.as_bytes()).ok())
            .collect();
        let Some(keep) = parsed.iter().position(Option::is_some) else {
            self.propose_outside(
                format!(
                    "merge the {} spf records of {name} into one record and delete the others (none of them parses)",
                    records.len()
                ),
                "receivers return permerror while more than one record is published",
                f,
            );
            return;
        };
        let kept = parsed[keep].as_ref().expect("kept record parses");
        let mut add: Vec<String> = Vec::new();
        let mut unmerged = Vec::new();
        for (i, (text, record)) in records.iter().zip(&parsed).enumerate() {
            if i == keep {
                continue;
            }
            match record {
                Some(record) => {
                    for t in &record.terms {
                        let directive =
                            matches!(t.kind, TermKind::Directive(_, ref m) if *m != Mechanism::All);
                        let known = kept
                            .terms
                            .iter()
                            .any(|k| k.text.eq_ignore_ascii_case(&t.text))
                            || add.iter().any(|a| a.eq_ignore_ascii_case(&t.text));
                        if directive && !known {
                            add.push(t.text.clone());
                        }
                    }
                }
                None => unmerged.push(text.clone()),
            }
            self.propose(
                Change::RemoveTxt {
                    name: name.to_string(),
                    value: Some(text.clone()),
                },
                "receivers return permerror while more than one spf record is published",
                f,
            );
        }
        if !add.is_empty() {
            self.propose_terms(
                add,
                Vec::new(),
                None,
                &format!(
                    "the mechanisms of the removed records, added to \"{}\"",
                    kept.text
                ),
                f,
            );
        }
        for text in unmerged {
            self.propose_outside(
                format!("add the senders of the removed record \"{text}\" (it does not parse) to the spf record of {name} if they still send"),
                "a record that does not parse cannot be merged term by term",
                f,
            );
        }
    }

    fn syntax(&mut self, path: &[&str], name: &str, text: &str, e: &SyntaxError) {
        let where_ = if path.is_empty() {
            String::new()
        } else {
            format!(" (reached through {})", chain(path))
        };
        let help = if path.is_empty() {
            format!(
                "correct the term `{}` at byte {}: {}",
                e.term, e.position, e.reason
            )
        } else {
            format!(
                "the record at {name} is not yours to fix: tell its owner, or remove `{}` from your record",
                path.last().copied().unwrap_or_default()
            )
        };
        let f = self
            .finding(
                &SPF_SYNTAX_ERROR,
                format!(
                    "spf record at {name}{where_} has a syntax error in `{}` at byte {}: {}",
                    e.term, e.position, e.reason
                ),
            )
            .subject(name)
            .help(help)
            .evidence("record", text)
            .evidence("term", e.term.as_str())
            .evidence("position", e.position)
            .evidence("reason", e.reason.as_str())
            .evidence(
                "path",
                path.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            );
        // The correction of a typo is the author's to choose; a record that
        // does not parse cannot be edited term by term.
        let action = if path.is_empty() {
            format!(
                "correct the term `{}` at byte {} of the spf record of {name}: {}",
                e.term, e.position, e.reason
            )
        } else {
            format!(
                "ask the owner of {name} to correct the term `{}` of its spf record ({}), or remove `{}` from the spf record of {}",
                e.term,
                e.reason,
                path.last().copied().unwrap_or_default(),
                self.domain
            )
        };
        self.propose_outside(
            action,
            "receivers return permerror for a record with a syntax error",
            &f,
        );
        self.push(f);
    }

    fn incomplete(&mut self, path: &[&str], name: &str, failure: &str) {
        let f = self
            .finding(
                &SPF_CHECK_INCOMPLETE,
                format!("dns lookup for {name} failed ({failure}), the spf check is incomplete"),
            )
            .subject(name)
            .help(format!(
                "run the check again; if it keeps failing, check that every name server for {name} answers"
            ))
            .evidence("name", name)
            .evidence("failure", failure)
            .evidence("path", path.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        self.push(f);
    }

    fn cname(&mut self, chain_: &[String]) {
        let target = chain_.last().cloned().unwrap_or_default();
        let f = self
            .finding(
                &SPF_CNAME,
                format!("the spf record of {} is served through a cname to {target}", self.domain),
            )
            .help(format!(
                "publish the TXT record at {} itself and use \"include:{target}\" if the provider maintains the record",
                self.domain
            ))
            .evidence("cname_chain", chain_.to_vec());
        self.propose_outside(
            format!(
                "replace the CNAME at {} by the TXT record itself (with \"include:{target}\" if the provider maintains the record)",
                self.domain
            ),
            "a CNAME cannot be replaced by a TXT record edit",
            &f,
        );
        self.push(f);
    }

    fn type99(&mut self, records: &[String]) {
        let f = self
            .finding(
                &SPF_TYPE99,
                format!(
                    "{} still publishes an spf record of the obsolete type 99",
                    self.domain
                ),
            )
            .help("delete the type 99 (SPF) record; receivers read only the TXT record")
            .evidence("records", records.to_vec());
        self.propose_outside(
            format!(
                "delete the record of type 99 (SPF) at {}; keep the TXT record",
                self.domain
            ),
            "receivers read only the TXT record",
            &f,
        );
        self.push(f);
    }

    fn sizes(&mut self, parts: &[Vec<u8>], text: &str) {
        for (i, p) in parts.iter().enumerate() {
            if p.len() > STRING_LIMIT {
                let f = self
                    .finding(
                        &SPF_STRING_TOO_LONG,
                        format!(
                            "string {} of the spf record is {} bytes, the limit is {STRING_LIMIT}",
                            i + 1,
                            p.len()
                        ),
                    )
                    .help("split the record into quoted strings of at most 255 bytes each; receivers join them without a separator")
                    .evidence("string", i + 1)
                    .evidence("bytes", p.len())
                    .evidence("limit", STRING_LIMIT);
                let split = txt_strings(text)
                    .iter()
                    .map(|s| format!("\"{s}\""))
                    .collect::<Vec<_>>()
                    .join(" ");
                self.propose_outside(
                    format!(
                        "store the TXT record of {} as strings of at most 255 bytes: {split}",
                        self.domain
                    ),
                    "the record stays the same; only its strings are split",
                    &f,
                );
                self.push(f);
            }
        }
        let len = text.len();
        let (code, limit) = if len > RECORD_HARD_LIMIT {
            (&SPF_RECORD_TOO_LONG, RECORD_HARD_LIMIT)
        } else if len > RECORD_SOFT_LIMIT {
            (&SPF_RECORD_LONG, RECORD_SOFT_LIMIT)
        } else {
            return;
        };
        let f = self
            .finding(code, format!("the spf record is {len} bytes, over {limit}"))
            .help("shorten it: merge adjacent ranges into larger CIDR blocks, drop unused terms, or move groups of ranges into an include of your own")
            .evidence("bytes", len)
            .evidence("limit", limit);
        // Which ranges to merge or which terms are unused is a judgement
        // the checker cannot make.
        self.propose_outside(
            format!(
                "shorten the spf record of {} to at most {limit} bytes: merge adjacent ranges, drop unused terms, or move groups of ranges into an include of your own",
                self.domain
            ),
            "a shorter record fits a classic dns answer",
            &f,
        );
        self.push(f);
    }

    /// `want` is the `all` that fits the domain's DMARC phase (`~all`
    /// without a DMARC record), which replaces a missing or lax one.
    fn record(
        &mut self,
        record: &SpfRecord,
        ev: &Evaluation,
        flat: Option<&Flattened>,
        want: Qualifier,
    ) {
        // Strictness of the domain's own record.
        let own_all = record.all();
        let want_s = qualifier_name(Some(want));
        // "~all ..., then -all" while DMARC monitors; "-all" at once when it
        // enforces (SPF020 would ask for it next).
        let step = |monitoring: &str| match want {
            Qualifier::Fail => "use -all, dmarc enforces".to_string(),
            _ => monitoring.to_string(),
        };
        let all_reason = match want {
            Qualifier::Fail => "dmarc enforces: -all refuses what is not listed",
            _ => "~all while dmarc monitors; -all once it enforces",
        };
        match own_all {
            Some(Qualifier::Pass) => {
                let f = self
                    .finding(
                        &SPF_PASS_ALL,
                        "the spf record ends in +all, every server passes".into(),
                    )
                    .help(format!(
                        "{}: {}",
                        step("use ~all while checking the DMARC reports for unlisted senders, then -all"),
                        publish(&self.domain, &replace_all(record, want))
                    ))
                    .evidence("all", "+all");
                self.propose_terms(Vec::new(), Vec::new(), Some(want_s.clone()), all_reason, &f);
                self.push(f);
            }
            Some(Qualifier::Neutral) => {
                let f = self
                    .finding(
                        &SPF_NEUTRAL_ALL,
                        "the spf record ends in ?all, unlisted servers are neutral".into(),
                    )
                    .help(format!(
                        "{}: {}",
                        step("use ~all while monitoring, then -all"),
                        publish(&self.domain, &replace_all(record, want))
                    ))
                    .evidence("all", "?all");
                self.propose_terms(Vec::new(), Vec::new(), Some(want_s.clone()), all_reason, &f);
                self.push(f);
            }
            None if record.redirect().is_none() => {
                let f = self
                    .finding(
                        &SPF_NO_ALL,
                        "the spf record has neither `all` nor `redirect`, unlisted servers are neutral".into(),
                    )
                    .help(format!(
                        "{}: {}",
                        match want {
                            Qualifier::Fail => "end the record with -all, dmarc enforces".to_string(),
                            _ => "end the record with ~all while monitoring, then -all".to_string(),
                        },
                        publish(
                            &self.domain,
                            &format!("{} {want_s}", record.text.trim_end())
                        )
                    ))
                    .evidence("all", "none");
                self.propose_terms(Vec::new(), Vec::new(), Some(want_s.clone()), all_reason, &f);
                self.push(f);
            }
            _ => {}
        }
        let after = record.terms_after_all();
        if !after.is_empty() {
            let terms: Vec<String> = after.iter().map(|t| t.text.clone()).collect();
            let f = self
                .finding(
                    &SPF_TERMS_AFTER_ALL,
                    format!(
                        "{} term(s) after `all` are never evaluated: {}",
                        terms.len(),
                        terms.join(" ")
                    ),
                )
                .help(format!(
                    "move them before `all`: {}",
                    publish(&self.domain, &move_all_last(record))
                ))
                .evidence("terms", terms);
            // Ending the record with its own `all` moves that `all` after
            // every mechanism.
            let all = record.terms.iter().find_map(|t| match t.kind {
                TermKind::Directive(_, Mechanism::All) => Some(t.text.clone()),
                _ => None,
            });
            self.propose_terms(
                Vec::new(),
                Vec::new(),
                all,
                "the same record with `all` last",
                &f,
            );
            self.push(f);
        }

        // Problems found while following the tree.
        let mut problems: Vec<(Vec<String>, LookupNode)> = Vec::new();
        let mut voids: Vec<String> = Vec::new();
        for node in &ev.tree {
            node.walk(&mut Vec::new(), &mut |path, n| {
                if n.problem.is_some() {
                    problems.push((
                        path[..path.len() - 1]
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                        n.clone(),
                    ));
                }
                if n.void {
                    voids.push(chain(path));
                }
            });
        }
        for (path, node) in &problems {
            let mut full: Vec<&str> = path.iter().map(String::as_str).collect();
            let target = node.target.clone().unwrap_or_default();
            match node.problem.as_ref() {
                Some(NodeProblem::NoRecord) => {
                    full.push(&node.term);
                    let f = self
                        .finding(
                            &SPF_TARGET_MISSING,
                            format!(
                                "`{}` points at {target}, which publishes no spf record{}",
                                node.term,
                                if node.void { " (the name does not exist)" } else { "" }
                            ),
                        )
                        .subject(&target)
                        .help(format!(
                            "check the provider's current spf include and fix `{}`, or remove it if the service is no longer used",
                            node.term
                        ))
                        .evidence("term", node.term.as_str())
                        .evidence("target", target.as_str())
                        .evidence("void", node.void)
                        .evidence("path", full.iter().map(|s| s.to_string()).collect::<Vec<_>>());
                    // Whether the provider renamed its include or the
                    // service is gone is not visible in DNS.
                    let action = if path.is_empty() {
                        format!(
                            "check the provider's current spf include and fix `{}` in the spf record of {}, or remove it if the service is no longer used",
                            node.term, self.domain
                        )
                    } else {
                        format!(
                            "ask the owner of the record that has `{}` ({}) to fix it",
                            node.term,
                            chain(&full)
                        )
                    };
                    self.propose_outside(
                        action,
                        "an include of a name without spf is a permerror",
                        &f,
                    );
                    self.push(f);
                }
                Some(NodeProblem::Multiple(records)) => {
                    full.push(&node.term);
                    self.multiple(&full, &target, records);
                }
                Some(NodeProblem::Syntax(e)) => {
                    full.push(&node.term);
                    let text = node.record.clone().unwrap_or_default();
                    self.syntax(&full, &target, &text, e);
                }
                Some(NodeProblem::Loop) => {
                    full.push(&node.term);
                    let f = self
                        .finding(
                            &SPF_LOOP,
                            format!("`{}` loops back to {target}: {}", node.term, chain(&full)),
                        )
                        .subject(&target)
                        .help(format!(
                            "remove `{}`: {target} is already being evaluated",
                            node.term
                        ))
                        .evidence("term", node.term.as_str())
                        .evidence(
                            "path",
                            full.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                        );
                    let reason = "a term that loops back authorizes nothing new";
                    if path.is_empty() {
                        self.propose_terms(Vec::new(), vec![node.term.clone()], None, reason, &f);
                    } else {
                        self.propose_outside(
                            format!(
                                "remove `{}` from the record that has it ({})",
                                node.term,
                                chain(&full)
                            ),
                            reason,
                            &f,
                        );
                    }
                    self.push(f);
                }
                Some(NodeProblem::TooManyMx(n)) => {
                    full.push(&node.term);
                    let f = self
                        .finding(
                            &SPF_MX_TOO_MANY,
                            format!(
                                "`{}` resolves to {n} mail hosts, the limit is {MX_LIMIT}",
                                node.term
                            ),
                        )
                        .subject(&target)
                        .help("list the mail hosts' ranges with ip4:/ip6: instead of mx")
                        .evidence("term", node.term.as_str())
                        .evidence("hosts", *n)
                        .evidence("limit", MX_LIMIT)
                        .evidence(
                            "path",
                            full.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                        );
                    let action = if path.is_empty() {
                        format!(
                            "replace `{}` in the spf record of {} by the ip4:/ip6: ranges of its mail hosts",
                            node.term, self.domain
                        )
                    } else {
                        format!(
                            "ask the owner of the record that has `{}` ({}) to list its mail hosts' ranges instead",
                            node.term,
                            chain(&full)
                        )
                    };
                    self.propose_outside(
                        action,
                        "which ranges the mail hosts need is the operator's choice",
                        &f,
                    );
                    self.push(f);
                }
                Some(NodeProblem::Failed(failure)) => {
                    full.push(&node.term);
                    self.incomplete(&full, &target, &failure.to_string());
                }
                Some(NodeProblem::Truncated) => {
                    full.push(&node.term);
                    self.incomplete(&full, &target, "not followed: more than 500 includes");
                }
                None => {}
            }
        }
        if !ev.ptr_terms.is_empty() {
            let paths: Vec<String> = ev.ptr_terms.iter().map(|p| p.join(" → ")).collect();
            let f = self
                .finding(
                    &SPF_PTR_USED,
                    format!("the spf record uses the deprecated ptr mechanism: {}", paths.join(", ")),
                )
                .help("replace ptr with the ip4:/ip6: ranges of the servers it stood for (a ptr inside an include is the provider's to fix)")
                .evidence("terms", paths);
            let (own, theirs): (Vec<&Vec<String>>, Vec<&Vec<String>>) =
                ev.ptr_terms.iter().partition(|p| p.len() == 1);
            if !own.is_empty() {
                let mut remove: Vec<String> = own.iter().map(|p| p[0].clone()).collect();
                remove.dedup();
                self.propose_terms(
                    Vec::new(),
                    remove,
                    None,
                    "ptr is deprecated; list the ip4:/ip6: ranges of the servers it stood for instead",
                    &f,
                );
            }
            for p in theirs {
                self.propose_outside(
                    format!(
                        "ask the owner of the record that has `{}` ({}) to replace it with ip4:/ip6: ranges",
                        p.last().cloned().unwrap_or_default(),
                        p.join(" → ")
                    ),
                    "a ptr inside an include is its owner's to fix",
                    &f,
                );
            }
            self.push(f);
        }
        if ev.dns_lookups > LOOKUP_LIMIT {
            self.lookup_limit(record, ev, flat);
        }
        if ev.void_lookups > VOID_LIMIT {
            let f = self
                .finding(
                    &SPF_VOID_LIMIT,
                    format!(
                        "{} void dns lookups, the limit is {VOID_LIMIT}, receivers return permerror",
                        ev.void_lookups
                    ),
                )
                .help(format!(
                    "remove the terms whose targets no longer exist, or publish the missing records: {}",
                    voids.join(", ")
                ))
                .evidence("void_lookups", ev.void_lookups)
                .evidence("limit", VOID_LIMIT)
                .evidence("terms", voids);
            // A term of the domain's own record whose query is void
            // authorizes nothing: removing it changes no result. It is the
            // edit when it brings the count within the limit.
            let own_void: Vec<&LookupNode> = ev
                .tree
                .iter()
                .filter(|n| n.void && !n.term.starts_with("redirect="))
                .collect();
            let left = ev.void_lookups - own_void.iter().map(|n| n.void_lookups).sum::<u32>();
            if !own_void.is_empty() && left <= VOID_LIMIT {
                self.propose_terms(
                    Vec::new(),
                    own_void.iter().map(|n| n.term.clone()).collect(),
                    None,
                    "these terms' lookups return nothing, so they authorize nothing",
                    &f,
                );
            } else {
                self.propose_outside(
                    format!(
                        "remove the terms of the spf record of {} whose targets no longer exist, or publish the missing records: {}",
                        self.domain,
                        f.evidence["terms"]
                            .as_array()
                            .map(|t| t
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(", "))
                            .unwrap_or_default()
                    ),
                    "the void lookups are inside records of other domains",
                    &f,
                );
            }
            self.push(f);
        }
    }

    /// `~all` / `-all` against the DMARC phase (SPF020).
    fn phase(&mut self, record: &SpfRecord, ev: &Evaluation, phase: &PublishedPhase) {
        let rollout = Rollout::of(&phase.phase);
        let describe = phase.phase.describe();
        let want = rollout.all();
        let Some(have) = ev.all else { return };
        if have == want {
            return;
        }
        // `v=spf1 -all` says the domain sends no mail: there is no sender
        // the reports could still reveal, whatever the DMARC phase.
        let null_record = have == Qualifier::Fail
            && record
                .terms
                .iter()
                .all(|t| matches!(t.kind, TermKind::Directive(_, Mechanism::All)));
        if null_record {
            return;
        }
        let (have_s, want_s) = (qualifier_name(Some(have)), qualifier_name(Some(want)));
        let message = match rollout {
            Rollout::Monitoring => format!(
                "the spf record ends in {have_s} while dmarc only monitors ({describe}): mail from senders not yet listed is rejected by receivers that act on spf alone"
            ),
            Rollout::Enforcing => format!(
                "the spf record ends in {have_s} while dmarc enforces ({describe}): use {want_s}"
            ),
        };
        let fix = if record.all().is_some() {
            publish(&self.domain, &replace_all(record, want))
        } else {
            format!(
                "the {have_s} comes through `{}`: end your own record with {want_s} (a record with `all` ignores its redirect) or ask the redirect target's owner",
                record.redirect().map(|(t, _)| t.text.as_str()).unwrap_or("redirect")
            )
        };
        let f = self
            .finding(&SPF_ALL_PHASE, message)
            .help(format!("{}; {fix}", rollout.reason()))
            .evidence("all", have_s)
            .evidence("expected", want_s.as_str())
            .evidence("dmarc_phase", describe.as_str())
            .evidence("rollout", rollout.as_str())
            .evidence("dmarc_record", phase.record.as_str())
            .evidence("dmarc_name", phase.record_name.as_str());
        if record.all().is_some() {
            self.propose_terms(Vec::new(), Vec::new(), Some(want_s), rollout.reason(), &f);
        } else {
            // Ending the own record with `all` would drop the redirect's
            // mechanisms: the redirect target is to change.
            self.propose_outside(
                format!(
                    "ask the owner of the record `{}` points to to end it with {want_s}",
                    record
                        .redirect()
                        .map(|(t, _)| t.text.as_str())
                        .unwrap_or("redirect")
                ),
                rollout.reason(),
                &f,
            );
        }
        self.push(f);
    }

    fn lookup_limit(&mut self, record: &SpfRecord, ev: &Evaluation, flat: Option<&Flattened>) {
        let mut costs: Vec<&LookupNode> = ev.tree.iter().collect();
        costs.sort_by_key(|n| std::cmp::Reverse(n.dns_lookups));
        let cost_list: Vec<Value> = costs
            .iter()
            .map(|n| json!({"term": n.term, "dns_lookups": n.dns_lookups}))
            .collect();
        let expensive: Vec<String> = costs
            .iter()
            .filter(|n| n.dns_lookups > 1)
            .map(|n| format!("{} ({})", n.term, n.dns_lookups))
            .collect();
        let mut help = format!(
            "cut {} lookup(s): drop includes of services no longer used, replace a/mx with the ranges they stand for, or flatten an include into its ranges; the most expensive terms: {}",
            ev.dns_lookups - LOOKUP_LIMIT,
            if expensive.is_empty() {
                "every term costs 1".to_string()
            } else {
                expensive.join(", ")
            }
        );
        let mut f = self.finding(
            &SPF_LOOKUP_LIMIT,
            format!(
                "evaluating the spf record takes {} dns lookups, the limit is {LOOKUP_LIMIT}",
                ev.dns_lookups
            ),
        );
        if let Some(flat) = flat.filter(|f| f.within_limit()) {
            let replaced: Vec<String> = flat
                .replaced
                .iter()
                .map(|(t, n)| format!("{t} ({n})"))
                .collect();
            help.push_str(&format!(
                ". Flattening {} gives {} lookup(s): {}; {}",
                replaced.join(", "),
                flat.dns_lookups,
                publish(&self.domain, &flat.record),
                REFRESH_WARNING
            ));
            f = f
                .evidence("flattened_record", flat.record.as_str())
                .evidence("flattened_dns_lookups", flat.dns_lookups);
        }
        let f = f
            .help(help)
            .evidence("dns_lookups", ev.dns_lookups)
            .evidence("limit", LOOKUP_LIMIT)
            .evidence("costs", cost_list);
        match flat.filter(|f| f.within_limit()) {
            Some(flat) => {
                // The flattened record as term edits: its new ranges added,
                // the replaced terms removed.
                let old: Vec<&str> = record.terms.iter().map(|t| t.text.as_str()).collect();
                let new: Vec<String> = flat
                    .record
                    .split_ascii_whitespace()
                    .skip(1)
                    .map(str::to_string)
                    .collect();
                let remove: Vec<String> = flat.replaced.iter().map(|(t, _)| t.clone()).collect();
                let add: Vec<String> = new
                    .into_iter()
                    .filter(|t| !old.iter().any(|o| o.eq_ignore_ascii_case(t)))
                    .filter(|t| !t.trim_start_matches(['+', '-', '~', '?']).eq_ignore_ascii_case("all"))
                    .collect();
                self.propose_terms(
                    add,
                    remove,
                    None,
                    &format!("flattened within the limit; {REFRESH_WARNING}"),
                    &f,
                );
            }
            None => self.propose_outside(
                format!(
                    "cut {} dns lookup(s) from the spf record of {}: drop includes of services no longer used or replace a/mx with the ranges they stand for",
                    ev.dns_lookups - LOOKUP_LIMIT,
                    self.domain
                ),
                "flattening alone does not bring the record within the limit",
                &f,
            ),
        }
        self.push(f);
    }
}

fn publish(domain: &str, record: &str) -> String {
    format!("publish TXT {domain} \"{record}\"")
}

fn replace_all(record: &SpfRecord, q: Qualifier) -> String {
    let mut out = vec!["v=spf1".to_string()];
    for t in &record.terms {
        match t.kind {
            TermKind::Directive(_, Mechanism::All) => out.push(format!("{}all", q.as_char())),
            _ => out.push(t.text.clone()),
        }
    }
    out.join(" ")
}

fn move_all_last(record: &SpfRecord) -> String {
    let mut out = vec!["v=spf1".to_string()];
    let mut all = None;
    for t in &record.terms {
        match t.kind {
            TermKind::Directive(_, Mechanism::All) if all.is_none() => all = Some(t.text.clone()),
            _ => out.push(t.text.clone()),
        }
    }
    out.extend(all);
    out.join(" ")
}
