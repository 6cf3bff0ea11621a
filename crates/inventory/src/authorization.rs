//! What DNS authorizes for a domain: the SPF record's includes (with the
//! lookups each costs) and ranges, from the `authwarden-spf` parser and
//! static evaluation, and the DKIM keys published at the inventory's
//! provider selectors. Also the edits of an SPF record the findings suggest.

use authwarden_api::{Rdata, RecordType, Resolver};
use authwarden_spf::{
    evaluate, select_record, Evaluation, Fetched, LookupNode, Mechanism, Modifier, NodeProblem,
    Qualifier, SpfRecord, TermKind,
};

use crate::inventory::Cidr;

/// One `include:` of the record, at the top level or behind a `redirect=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeAuth {
    /// The term as written, `include:_spf.google.com`.
    pub term: String,
    /// The include's domain.
    pub target: String,
    /// DNS lookups it costs, itself and everything below it.
    pub lookups: u32,
    /// The ranges it authorizes.
    pub ranges: Vec<Cidr>,
    /// True when it authorizes something: its target has one valid record
    /// (an include of a missing record is a permerror, not an authorization).
    pub working: bool,
}

/// The SPF view of a domain.
#[derive(Debug, Clone, Default)]
pub struct SpfView {
    /// The record text, when the domain has exactly one valid record.
    pub text: Option<String>,
    /// The parsed record.
    pub record: Option<SpfRecord>,
    /// The static evaluation.
    pub evaluation: Option<Evaluation>,
    /// The includes.
    pub includes: Vec<IncludeAuth>,
    /// Every range authorized, recursively.
    pub ranges: Vec<Cidr>,
    /// The ranges of the record's own `ip4:`/`ip6:` terms (pass qualifier).
    pub own_ranges: Vec<Cidr>,
    /// Why the record could not be read, when a lookup failed (the view is
    /// then unknown, not empty).
    pub failure: Option<String>,
}

impl SpfView {
    /// Looks the record up and evaluates it.
    pub async fn fetch(resolver: &dyn Resolver, domain: &str) -> SpfView {
        let answer = resolver.query(domain, RecordType::TXT).await;
        let mut view = SpfView::default();
        match select_record(&answer) {
            Fetched::Failed(f) => view.failure = Some(format!("TXT {domain}: {f}")),
            Fetched::Missing { .. } | Fetched::Multiple(_) => {}
            Fetched::Record { text, parsed, .. } => {
                view.text = Some(text);
                if let Ok(record) = parsed {
                    let evaluation = evaluate(resolver, domain, &record).await;
                    let mut includes = Vec::new();
                    collect_includes(&evaluation.tree, &mut includes, &mut view.failure);
                    view.includes = includes;
                    view.ranges = evaluation
                        .ip4
                        .iter()
                        .chain(&evaluation.ip6)
                        .filter_map(|r| Cidr::from_spf_range(r))
                        .collect();
                    view.own_ranges = record
                        .terms
                        .iter()
                        .filter_map(|t| match &t.kind {
                            TermKind::Directive(Qualifier::Pass, Mechanism::Ip4(a, l)) => {
                                Some(Cidr::new((*a).into(), l.unwrap_or(32)))
                            }
                            TermKind::Directive(Qualifier::Pass, Mechanism::Ip6(a, l)) => {
                                Some(Cidr::new((*a).into(), l.unwrap_or(128)))
                            }
                            _ => None,
                        })
                        .collect();
                    view.evaluation = Some(evaluation);
                    view.record = Some(record);
                }
            }
        }
        view
    }

    /// The record's own pass `ip4:`/`ip6:` terms as written, with their
    /// ranges (what a proposal to remove one names).
    pub fn own_range_terms(&self) -> Vec<(String, Cidr)> {
        let Some(record) = &self.record else {
            return Vec::new();
        };
        record
            .terms
            .iter()
            .filter_map(|t| match &t.kind {
                TermKind::Directive(Qualifier::Pass, Mechanism::Ip4(a, l)) => {
                    Some((t.text.clone(), Cidr::new((*a).into(), l.unwrap_or(32))))
                }
                TermKind::Directive(Qualifier::Pass, Mechanism::Ip6(a, l)) => {
                    Some((t.text.clone(), Cidr::new((*a).into(), l.unwrap_or(128))))
                }
                _ => None,
            })
            .collect()
    }

    /// True when some authorized range covers `net`.
    pub fn covers(&self, net: &Cidr) -> bool {
        self.ranges.iter().any(|r| r.covers(net))
    }

    /// The record with `term` added before `all` (or before `redirect=`, or
    /// at the end), everything else kept; `v=spf1 <term> ~all` when the
    /// domain has no record.
    pub fn with_term(&self, term: &str) -> String {
        let Some(record) = &self.record else {
            return format!("v=spf1 {term} ~all");
        };
        let mut terms: Vec<&str> = record.terms.iter().map(|t| t.text.as_str()).collect();
        let at = record
            .terms
            .iter()
            .position(|t| {
                matches!(
                    t.kind,
                    TermKind::Directive(_, Mechanism::All)
                        | TermKind::Modifier(Modifier::Redirect(_))
                )
            })
            .unwrap_or(terms.len());
        terms.insert(at, term);
        format!("v=spf1 {}", terms.join(" "))
    }

    /// The record without the top-level term `term` (when it is behind a
    /// redirect, the record at the redirect's target must change instead:
    /// `None`).
    pub fn without_term(&self, term: &str) -> Option<String> {
        let record = self.record.as_ref()?;
        if !record.terms.iter().any(|t| t.text == term) {
            return None;
        }
        let terms: Vec<&str> = record
            .terms
            .iter()
            .map(|t| t.text.as_str())
            .filter(|t| *t != term)
            .collect();
        Some(format!("v=spf1 {}", terms.join(" ")))
    }
}

/// Includes at the top level, and those of the records a `redirect=`
/// points to (they authorize the domain's mail the same way).
fn collect_includes(
    nodes: &[LookupNode],
    out: &mut Vec<IncludeAuth>,
    failure: &mut Option<String>,
) {
    for node in nodes {
        let mechanism = node.term.trim_start_matches(['+', '-', '~', '?']);
        if let Some(NodeProblem::Failed(f)) = &node.problem {
            if failure.is_none() {
                *failure = Some(format!(
                    "{}: {f}",
                    node.target.as_deref().unwrap_or(&node.term)
                ));
            }
        }
        if mechanism.starts_with("include:") && !node.term.starts_with(['-', '~', '?']) {
            let Some(target) = node.target.clone() else {
                continue;
            };
            out.push(IncludeAuth {
                term: node.term.clone(),
                target,
                lookups: node.dns_lookups,
                ranges: node
                    .ranges
                    .iter()
                    .filter_map(|r| Cidr::from_spf_range(r))
                    .collect(),
                working: node.problem.is_none() && node.record.is_some(),
            });
        } else if mechanism.starts_with("redirect=") {
            collect_includes(&node.children, out, failure);
        }
    }
}

/// Whether a DKIM key is published at `<selector>._domainkey.<domain>`:
/// `Ok(true)` for a TXT record with a non-empty `p=` (CNAMEs followed by
/// the resolver), `Ok(false)` for none or a revoked key, `Err` when the
/// lookup failed.
pub async fn dkim_key_published(
    resolver: &dyn Resolver,
    domain: &str,
    selector: &str,
) -> Result<bool, String> {
    let name = format!("{selector}._domainkey.{domain}");
    let answer = resolver.query(&name, RecordType::TXT).await;
    if let Some(f) = answer.failure() {
        return Err(format!("TXT {name}: {f}"));
    }
    Ok(answer
        .records()
        .iter()
        .filter_map(Rdata::txt_joined)
        .any(|t| {
            t.split(';').any(|tag| {
                tag.split_once('=').is_some_and(|(k, v)| {
                    k.trim() == "p"
                        && !v
                            .chars()
                            .filter(|c| !c.is_whitespace())
                            .collect::<String>()
                            .is_empty()
                })
            })
        }))
}
