//! Static evaluation: a posture check has no client IP, so instead of
//! evaluating for one message it follows every `include` and `redirect` and
//! accounts for every DNS-querying term, as the worst case (a message from an
//! unlisted server) would.
//!
//! The rules (RFC 7208 section 4.6.4, as the issue spells them out):
//! - `include`, `a`, `mx`, `ptr`, `exists` and `redirect` cost one lookup each,
//!   in the record and recursively in every include and redirect target;
//! - `redirect` is neither followed nor counted when the record has `all`;
//! - a term whose domain-spec has a macro costs one and is not followed;
//! - a void lookup is NXDOMAIN or NOERROR-without-data for the term's own query
//!   (`a`: neither A nor AAAA; `mx`: no MX; `exists`: no A; `include` and
//!   `redirect`: no TXT at the target); `ptr` needs the client IP and queries
//!   nothing here.
//!
//! Every DNS answer is memoised for the evaluation, so a name shared by
//! several includes is queried once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use authwarden_api::{DnsAnswer, DnsFailure, Rdata, RecordType, Resolver};

use crate::record::{
    is_spf_record, parse_record_parts, DomainSpec, Mechanism, Modifier, Qualifier, SpfRecord,
    SyntaxError, TermKind,
};

/// The DNS lookup limit (RFC 7208 section 4.6.4): receivers return
/// permerror past this many DNS-querying terms (`include`, `a`, `mx`,
/// `ptr`, `exists`, `redirect`), counted through every include and redirect.
pub const LOOKUP_LIMIT: u32 = 10;
/// The void lookup limit (RFC 7208 section 4.6.4): receivers may return
/// permerror past this many lookups that answer NXDOMAIN or no data.
pub const VOID_LIMIT: u32 = 2;
/// An `mx` term may resolve to at most this many hosts.
pub const MX_LIMIT: usize = 10;
/// Safety valve against pathological include graphs: past this many followed
/// include/redirect targets, further targets are counted but not followed.
const MAX_FOLLOWED: usize = 500;

/// What a fetch of the SPF record at a name found.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// Exactly one SPF record (parsed, or with its syntax error).
    Record {
        /// The TXT character-strings as published.
        parts: Vec<Vec<u8>>,
        /// The joined text (lossy UTF-8).
        text: String,
        /// The parse result.
        parsed: Result<SpfRecord, SyntaxError>,
    },
    /// No SPF record; `void` when the TXT query itself returned nothing.
    Missing {
        /// NXDOMAIN or no TXT at all.
        void: bool,
    },
    /// More than one SPF record.
    Multiple(Vec<String>),
    /// The TXT lookup failed.
    Failed(DnsFailure),
}

/// Selects the SPF record(s) from a TXT answer (RFC 7208 section 4.5).
pub fn select_record(answer: &DnsAnswer) -> Fetched {
    if let Some(f) = answer.failure() {
        return Fetched::Failed(f.clone());
    }
    let spf: Vec<&Vec<Vec<u8>>> = answer
        .records()
        .iter()
        .filter_map(|r| match r {
            Rdata::Txt(parts) if is_spf_record(&parts.concat()) => Some(parts),
            _ => None,
        })
        .collect();
    match spf.as_slice() {
        [] => Fetched::Missing {
            void: answer.is_void(),
        },
        [parts] => Fetched::Record {
            parts: (*parts).clone(),
            text: String::from_utf8_lossy(&parts.concat()).into_owned(),
            parsed: parse_record_parts(parts),
        },
        many => Fetched::Multiple(
            many.iter()
                .map(|p| String::from_utf8_lossy(&p.concat()).into_owned())
                .collect(),
        ),
    }
}

/// Why a term could not be followed or is an error in itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeProblem {
    /// An include or redirect target with no SPF record (permerror).
    NoRecord,
    /// An include or redirect target with several SPF records (permerror).
    Multiple(Vec<String>),
    /// An include or redirect target whose record does not parse (permerror).
    Syntax(SyntaxError),
    /// The target is already being evaluated further up (permerror).
    Loop,
    /// The `mx` target has this many hosts, more than [`MX_LIMIT`] (permerror).
    TooManyMx(usize),
    /// The lookup failed (temperror): counts below this term are lower bounds.
    Failed(DnsFailure),
    /// Not followed: the evaluation already followed `MAX_FOLLOWED` (500)
    /// targets.
    Truncated,
}

/// One DNS-querying term and, for `include` and `redirect`, the terms of its
/// target's record.
#[derive(Debug, Clone)]
pub struct LookupNode {
    /// The term as written, e.g. `include:_spf.example.net`.
    pub term: String,
    /// The name the term queries (`None` for a macro or `ptr`).
    pub target: Option<String>,
    /// True when the domain-spec has a macro: counted once, not followed.
    pub has_macro: bool,
    /// Lookups of this term and everything below it.
    pub dns_lookups: u32,
    /// Void lookups of this term and everything below it.
    pub void_lookups: u32,
    /// This term's own query was void.
    pub void: bool,
    /// For include/redirect: the target's record text.
    pub record: Option<String>,
    /// A problem at this term.
    pub problem: Option<NodeProblem>,
    /// The `ip4:`/`ip6:` ranges authorised below this term (include/redirect).
    pub ranges: Vec<String>,
    /// True when everything below this term is `ip4`/`ip6` (possibly through
    /// nested includes), so [`LookupNode::ranges`] can replace it.
    pub flattenable: bool,
    /// The DNS-querying terms of the target's record.
    pub children: Vec<LookupNode>,
}

impl LookupNode {
    fn new(term: &str) -> Self {
        LookupNode {
            term: term.to_string(),
            target: None,
            has_macro: false,
            dns_lookups: 1,
            void_lookups: 0,
            void: false,
            record: None,
            problem: None,
            ranges: Vec::new(),
            flattenable: false,
            children: Vec::new(),
        }
    }

    /// Visits this node and its descendants with the path of terms above each.
    pub fn walk<'a>(&'a self, path: &mut Vec<&'a str>, f: &mut dyn FnMut(&[&'a str], &'a Self)) {
        path.push(&self.term);
        f(path, self);
        for c in &self.children {
            c.walk(path, f);
        }
        path.pop();
    }
}

/// The static evaluation of one record.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// The DNS-querying terms of the record, with their subtrees.
    pub tree: Vec<LookupNode>,
    /// Total DNS-querying terms.
    pub dns_lookups: u32,
    /// Total void lookups.
    pub void_lookups: u32,
    /// The effective `all`: the record's own, or through its redirect chain.
    pub all: Option<Qualifier>,
    /// True when the record has both `all` and `redirect` (redirect ignored).
    pub redirect_ignored: bool,
    /// Every `ip4:` range authorised, recursively, without duplicates.
    pub ip4: Vec<String>,
    /// Every `ip6:` range authorised, recursively, without duplicates.
    pub ip6: Vec<String>,
    /// Every `ptr` term, recursively, as a path of terms.
    pub ptr_terms: Vec<Vec<String>>,
}

/// Evaluates `record` (published at `domain`) statically, following every
/// include and redirect through `resolver`.
pub async fn evaluate(resolver: &dyn Resolver, domain: &str, record: &SpfRecord) -> Evaluation {
    let mut ev = Evaluator {
        resolver,
        cache: HashMap::new(),
        followed: 0,
        ptr_terms: Vec::new(),
    };
    let mut stack = vec![domain.to_string()];
    let mut path = Vec::new();
    let walked = ev.record(domain, record, &mut stack, &mut path).await;
    let mut out = Evaluation {
        dns_lookups: walked.nodes.iter().map(|n| n.dns_lookups).sum(),
        void_lookups: walked.nodes.iter().map(|n| n.void_lookups).sum(),
        tree: walked.nodes,
        all: walked.all,
        redirect_ignored: record.all().is_some() && record.redirect().is_some(),
        ip4: Vec::new(),
        ip6: Vec::new(),
        ptr_terms: ev.ptr_terms,
    };
    for r in walked.ranges {
        let list = if r.starts_with("ip6:") {
            &mut out.ip6
        } else {
            &mut out.ip4
        };
        if !list.contains(&r) {
            list.push(r);
        }
    }
    out
}

struct Walked {
    nodes: Vec<LookupNode>,
    ranges: Vec<String>,
    flattenable: bool,
    all: Option<Qualifier>,
}

struct Evaluator<'r> {
    resolver: &'r dyn Resolver,
    cache: HashMap<(String, RecordType), DnsAnswer>,
    followed: usize,
    ptr_terms: Vec<Vec<String>>,
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl<'r> Evaluator<'r> {
    async fn query(&mut self, name: &str, rtype: RecordType) -> DnsAnswer {
        let key = (name.to_string(), rtype);
        if let Some(a) = self.cache.get(&key) {
            return a.clone();
        }
        let answer = self.resolver.query(name, rtype).await;
        self.cache.insert(key, answer.clone());
        answer
    }

    fn record<'a>(
        &'a mut self,
        domain: &'a str,
        record: &'a SpfRecord,
        stack: &'a mut Vec<String>,
        path: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Walked>
    where
        'r: 'a,
    {
        Box::pin(async move {
            let mut walked = Walked {
                nodes: Vec::new(),
                ranges: Vec::new(),
                flattenable: true,
                all: record.all(),
            };
            for term in &record.terms {
                match &term.kind {
                    TermKind::Directive(q, Mechanism::Ip4(addr, len)) => {
                        walked.flattenable &= *q == Qualifier::Pass;
                        walked.ranges.push(match len {
                            Some(l) => format!("ip4:{addr}/{l}"),
                            None => format!("ip4:{addr}"),
                        });
                    }
                    TermKind::Directive(q, Mechanism::Ip6(addr, len)) => {
                        walked.flattenable &= *q == Qualifier::Pass;
                        walked.ranges.push(match len {
                            Some(l) => format!("ip6:{addr}/{l}"),
                            None => format!("ip6:{addr}"),
                        });
                    }
                    TermKind::Directive(_, Mechanism::All) => {}
                    TermKind::Directive(q, Mechanism::Include(spec)) => {
                        if *q != Qualifier::Pass {
                            walked.flattenable = false;
                        }
                        let node = self.follow(&term.text, spec, stack, path).await;
                        if !node.flattenable {
                            walked.flattenable = false;
                        }
                        walked.ranges.extend(node.ranges.iter().cloned());
                        walked.nodes.push(node);
                    }
                    TermKind::Directive(_, mech) => {
                        walked.flattenable = false;
                        let node = self.mechanism(domain, &term.text, mech, path).await;
                        walked.nodes.push(node);
                    }
                    TermKind::Modifier(Modifier::Redirect(spec)) => {
                        if record.all().is_some() {
                            continue;
                        }
                        walked.flattenable = false;
                        let (node, all) = self.redirect(&term.text, spec, stack, path).await;
                        walked.all = all;
                        walked.ranges.extend(node.ranges.iter().cloned());
                        walked.nodes.push(node);
                    }
                    TermKind::Modifier(_) => {}
                }
            }
            walked
        })
    }

    async fn mechanism(
        &mut self,
        domain: &str,
        term: &str,
        mech: &Mechanism,
        path: &[String],
    ) -> LookupNode {
        let mut node = LookupNode::new(term);
        let spec = match mech {
            Mechanism::A(s, _) | Mechanism::Mx(s, _) | Mechanism::Ptr(s) => s.as_ref(),
            Mechanism::Exists(s) => Some(s),
            _ => None,
        };
        if spec.is_some_and(DomainSpec::has_macros) {
            node.has_macro = true;
            return node;
        }
        let target = spec
            .and_then(DomainSpec::domain)
            .unwrap_or_else(|| domain.to_string());
        if let Mechanism::Ptr(_) = mech {
            // Needs the client IP: counted, nothing to query.
            let mut p = path.to_vec();
            p.push(term.to_string());
            self.ptr_terms.push(p);
            return node;
        }
        node.target = Some(target.clone());
        let answer = match mech {
            Mechanism::A(..) => {
                let a = self.query(&target, RecordType::A).await;
                if a.is_void() {
                    self.query(&target, RecordType::AAAA).await
                } else {
                    a
                }
            }
            Mechanism::Mx(..) => self.query(&target, RecordType::MX).await,
            _ => self.query(&target, RecordType::A).await,
        };
        if let Some(f) = answer.failure() {
            node.problem = Some(NodeProblem::Failed(f.clone()));
        } else if answer.is_void() {
            node.void = true;
            node.void_lookups = 1;
        } else if let Mechanism::Mx(..) = mech {
            let hosts = answer.records().len();
            if hosts > MX_LIMIT {
                node.problem = Some(NodeProblem::TooManyMx(hosts));
            }
        }
        node
    }

    /// Fetches the record at an include or redirect target and walks it.
    async fn target(
        &mut self,
        term: &str,
        spec: &DomainSpec,
        stack: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> (LookupNode, Option<Qualifier>) {
        let mut node = LookupNode::new(term);
        let Some(target) = spec.domain() else {
            node.has_macro = true;
            return (node, None);
        };
        node.target = Some(target.clone());
        if stack.contains(&target) {
            node.problem = Some(NodeProblem::Loop);
            return (node, None);
        }
        if self.followed >= MAX_FOLLOWED {
            node.problem = Some(NodeProblem::Truncated);
            return (node, None);
        }
        self.followed += 1;
        let answer = self.query(&target, RecordType::TXT).await;
        let mut all = None;
        match select_record(&answer) {
            Fetched::Failed(f) => node.problem = Some(NodeProblem::Failed(f)),
            Fetched::Missing { void } => {
                node.void = void;
                node.void_lookups = u32::from(void);
                node.problem = Some(NodeProblem::NoRecord);
            }
            Fetched::Multiple(records) => node.problem = Some(NodeProblem::Multiple(records)),
            Fetched::Record { text, parsed, .. } => {
                node.record = Some(text);
                match parsed {
                    Err(e) => node.problem = Some(NodeProblem::Syntax(e)),
                    Ok(rec) => {
                        stack.push(target.clone());
                        path.push(term.to_string());
                        let walked = self.record(&target, &rec, stack, path).await;
                        path.pop();
                        stack.pop();
                        node.dns_lookups += walked.nodes.iter().map(|n| n.dns_lookups).sum::<u32>();
                        node.void_lookups +=
                            walked.nodes.iter().map(|n| n.void_lookups).sum::<u32>();
                        node.children = walked.nodes;
                        node.ranges = walked.ranges;
                        node.flattenable = walked.flattenable;
                        all = walked.all;
                    }
                }
            }
        }
        (node, all)
    }

    async fn follow(
        &mut self,
        term: &str,
        spec: &DomainSpec,
        stack: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> LookupNode {
        self.target(term, spec, stack, path).await.0
    }

    async fn redirect(
        &mut self,
        term: &str,
        spec: &DomainSpec,
        stack: &mut Vec<String>,
        path: &mut Vec<String>,
    ) -> (LookupNode, Option<Qualifier>) {
        // A redirect replaces the record: the target is evaluated as if it
        // were the domain's, so the chain (not just the parent) is the loop guard.
        self.target(term, spec, stack, path).await
    }
}
