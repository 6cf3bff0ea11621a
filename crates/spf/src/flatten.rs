//! Flattening: replacing DNS-querying terms by the `ip4:`/`ip6:` ranges they
//! authorise today, to bring a record back under the lookup limit.
//!
//! Unlike the quick proposal of the SPF001 help (which only replaces
//! includes that already consist of ranges), this resolves everything a
//! receiver would: `a` and `mx` inside includes become the addresses of
//! their hosts (with the term's CIDR lengths), nested includes and redirects
//! are walked. A term whose meaning depends on the message (`ptr`, `exists`,
//! macros) or whose outcome is not a plain "pass" (`-ip4:` inside an include,
//! `+all`) cannot be flattened and stays.
//!
//! The result is a snapshot: providers change their ranges without notice,
//! so a flattened record must be rebuilt regularly (`authwarden spf build`
//! does it from the inventory; the monthly check shows the drift).

use std::collections::HashSet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::pin::Pin;

use authwarden_api::{Rdata, RecordType, Resolver};

use crate::eval::{select_record, Evaluation, Fetched, LOOKUP_LIMIT, MX_LIMIT};
use crate::record::{DomainSpec, DualCidr, Mechanism, Modifier, Qualifier, SpfRecord, TermKind};

/// Bounds the walk of one include (nested includes, redirects).
const MAX_DEPTH: usize = 10;

/// The warning every flattened record carries.
pub const REFRESH_WARNING: &str = "a flattened record holds today's addresses only: rebuild it whenever a provider changes its ranges (run `authwarden spf build` at least monthly), or mail from the new ranges fails spf";

/// A flattened record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flattened {
    /// The record to publish.
    pub record: String,
    /// The terms replaced by their ranges, with how many lookups each saved.
    pub replaced: Vec<(String, u32)>,
    /// Terms that could not be flattened, with why.
    pub kept: Vec<(String, String)>,
    /// The lookups the flattened record costs.
    pub dns_lookups: u32,
}

impl Flattened {
    /// True when the flattened record is within the lookup limit.
    pub fn within_limit(&self) -> bool {
        self.dns_lookups <= LOOKUP_LIMIT
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The ranges `term` (a directive of the record published at `domain`)
/// authorises today, or why it cannot be flattened.
pub async fn resolve_term(
    resolver: &dyn Resolver,
    domain: &str,
    qualifier: Qualifier,
    mech: &Mechanism,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut stack = vec![domain.to_string()];
    directive(resolver, domain, qualifier, mech, &mut out, &mut stack, 0).await?;
    Ok(out)
}

fn directive<'a>(
    resolver: &'a dyn Resolver,
    domain: &'a str,
    qualifier: Qualifier,
    mech: &'a Mechanism,
    out: &'a mut Vec<String>,
    stack: &'a mut Vec<String>,
    depth: usize,
) -> BoxFuture<'a, Result<(), String>> {
    Box::pin(async move {
        if qualifier != Qualifier::Pass && !matches!(mech, Mechanism::All) {
            return Err(format!(
                "`{}{}` is not a pass: flattening would change its meaning",
                qualifier.as_char(),
                mech.name()
            ));
        }
        match mech {
            Mechanism::Ip4(a, l) => push(out, range4(*a, l.unwrap_or(32))),
            Mechanism::Ip6(a, l) => push(out, range6(*a, l.unwrap_or(128))),
            Mechanism::A(spec, cidr) => {
                let host = target(spec.as_ref(), domain)?;
                addresses(resolver, &host, *cidr, out).await?;
            }
            Mechanism::Mx(spec, cidr) => {
                let host = target(spec.as_ref(), domain)?;
                let answer = resolver.query(&host, RecordType::MX).await;
                if let Some(f) = answer.failure() {
                    return Err(format!("mx lookup of {host} failed ({f})"));
                }
                let hosts: Vec<&str> = answer
                    .records()
                    .iter()
                    .filter_map(|r| match r {
                        Rdata::Mx { exchange, .. } if !exchange.is_empty() => {
                            Some(exchange.as_str())
                        }
                        _ => None,
                    })
                    .collect();
                if hosts.len() > MX_LIMIT {
                    return Err(format!("mx of {host} has {} hosts", hosts.len()));
                }
                for h in hosts {
                    addresses(resolver, h, *cidr, out).await?;
                }
            }
            Mechanism::Include(spec) => {
                let t = target(Some(spec), domain)?;
                record_at(resolver, &t, out, stack, depth + 1).await?;
            }
            Mechanism::All => {}
            Mechanism::Ptr(_) => return Err("`ptr` needs the client's address".into()),
            Mechanism::Exists(_) => return Err("`exists` depends on the message".into()),
        }
        Ok(())
    })
}

/// Walks the record at `name` as an include would, collecting its ranges.
fn record_at<'a>(
    resolver: &'a dyn Resolver,
    name: &'a str,
    out: &'a mut Vec<String>,
    stack: &'a mut Vec<String>,
    depth: usize,
) -> BoxFuture<'a, Result<(), String>> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(format!("includes nested deeper than {MAX_DEPTH} at {name}"));
        }
        if stack.iter().any(|s| s == name) {
            return Err(format!("{name} loops back to itself"));
        }
        let record = match select_record(&resolver.query(name, RecordType::TXT).await) {
            Fetched::Record {
                parsed: Ok(rec), ..
            } => rec,
            Fetched::Record { parsed: Err(e), .. } => {
                return Err(format!("the record at {name} has a syntax error: {e}"))
            }
            Fetched::Missing { .. } => return Err(format!("{name} publishes no spf record")),
            Fetched::Multiple(_) => return Err(format!("{name} publishes several spf records")),
            Fetched::Failed(f) => return Err(format!("txt lookup of {name} failed ({f})")),
        };
        stack.push(name.to_string());
        let result = walk(resolver, name, &record, out, stack, depth).await;
        stack.pop();
        result
    })
}

async fn walk(
    resolver: &dyn Resolver,
    name: &str,
    record: &SpfRecord,
    out: &mut Vec<String>,
    stack: &mut Vec<String>,
    depth: usize,
) -> Result<(), String> {
    for term in &record.terms {
        match &term.kind {
            TermKind::Directive(Qualifier::Pass, Mechanism::All) => {
                return Err(format!("{name} ends in +all"))
            }
            // Evaluation of an included record stops at `all` (which, not
            // being a pass, makes the include not match).
            TermKind::Directive(_, Mechanism::All) => return Ok(()),
            TermKind::Directive(q, mech) => {
                directive(resolver, name, *q, mech, out, stack, depth).await?
            }
            TermKind::Modifier(Modifier::Redirect(spec)) => {
                let t = target(Some(spec), name)?;
                return record_at(resolver, &t, out, stack, depth + 1).await;
            }
            TermKind::Modifier(_) => {}
        }
    }
    Ok(())
}

fn target(spec: Option<&DomainSpec>, domain: &str) -> Result<String, String> {
    match spec {
        None => Ok(domain.to_string()),
        Some(s) => s
            .domain()
            .ok_or_else(|| format!("`{}` has a macro: it depends on the message", s.text)),
    }
}

async fn addresses(
    resolver: &dyn Resolver,
    host: &str,
    cidr: DualCidr,
    out: &mut Vec<String>,
) -> Result<(), String> {
    for rtype in [RecordType::A, RecordType::AAAA] {
        let answer = resolver.query(host, rtype).await;
        if let Some(f) = answer.failure() {
            return Err(format!("{rtype:?} lookup of {host} failed ({f})"));
        }
        for r in answer.records() {
            match r {
                Rdata::A(a) => push(out, range4(*a, cidr.v4.unwrap_or(32))),
                Rdata::Aaaa(a) => push(out, range6(*a, cidr.v6.unwrap_or(128))),
                _ => {}
            }
        }
    }
    Ok(())
}

fn push(out: &mut Vec<String>, r: String) {
    if !out.contains(&r) {
        out.push(r);
    }
}

fn range4(a: Ipv4Addr, len: u8) -> String {
    let len = len.min(32);
    if len == 32 {
        return format!("ip4:{a}");
    }
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    format!("ip4:{}/{len}", IpAddr::V4((u32::from(a) & mask).into()))
}

fn range6(a: Ipv6Addr, len: u8) -> String {
    let len = len.min(128);
    if len == 128 {
        return format!("ip6:{a}");
    }
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - u32::from(len))
    };
    format!("ip6:{}/{len}", IpAddr::V6((u128::from(a) & mask).into()))
}

/// Flattens the most expensive terms of `record` (published at `domain`,
/// evaluated as `ev`) until it is within the lookup limit: top-level
/// includes first, by cost, then `a` and `mx`. Returns `None` when nothing
/// can be flattened. The result may still be over the limit (see
/// [`Flattened::within_limit`]) when the remaining terms cannot be flattened.
pub async fn flatten(
    resolver: &dyn Resolver,
    domain: &str,
    record: &SpfRecord,
    ev: &Evaluation,
) -> Option<Flattened> {
    // (index of the term in the record, cost, ranges)
    let mut candidates: Vec<(usize, u32, Result<Vec<String>, String>)> = Vec::new();
    let mut nodes = ev.tree.iter();
    for (i, term) in record.terms.iter().enumerate() {
        let TermKind::Directive(q, mech) = &term.kind else {
            if matches!(term.kind, TermKind::Modifier(Modifier::Redirect(_)))
                && record.all().is_none()
            {
                nodes.next();
            }
            continue;
        };
        if !mech.queries_dns() {
            continue;
        }
        let cost = nodes
            .next()
            .filter(|n| n.term == term.text)
            .map_or(1, |n| n.dns_lookups);
        candidates.push((i, cost, resolve_term(resolver, domain, *q, mech).await));
    }
    // Includes before a/mx at equal cost: they are what providers change.
    candidates.sort_by_key(|(i, cost, _)| {
        let include = matches!(
            record.terms[*i].kind,
            TermKind::Directive(_, Mechanism::Include(_))
        );
        (std::cmp::Reverse(*cost), !include, *i)
    });
    let mut total = ev.dns_lookups;
    let mut chosen: HashSet<usize> = HashSet::new();
    let mut replaced = Vec::new();
    let mut kept = Vec::new();
    for (i, cost, ranges) in &candidates {
        match ranges {
            Ok(_) if total > LOOKUP_LIMIT => {
                total -= cost;
                chosen.insert(*i);
                replaced.push((record.terms[*i].text.clone(), *cost));
            }
            Ok(_) => {}
            Err(why) => kept.push((record.terms[*i].text.clone(), why.clone())),
        }
    }
    if chosen.is_empty() {
        return None;
    }
    let mut out: Vec<String> = vec!["v=spf1".into()];
    for (i, term) in record.terms.iter().enumerate() {
        if chosen.contains(&i) {
            let ranges = candidates
                .iter()
                .find(|(j, ..)| *j == i)
                .and_then(|(_, _, r)| r.as_ref().ok())
                .cloned()
                .unwrap_or_default();
            for r in ranges {
                if !out.contains(&r) {
                    out.push(r);
                }
            }
        } else {
            out.push(term.text.clone());
        }
    }
    Some(Flattened {
        record: out.join(" "),
        replaced,
        kept,
        dns_lookups: total,
    })
}

/// Splits a record into TXT character-strings of at most 255 bytes, at
/// spaces where possible (receivers join them without a separator, so the
/// space stays at the end of a string).
pub fn txt_strings(record: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for (i, word) in record.split(' ').enumerate() {
        let piece = if i == 0 {
            word.to_string()
        } else {
            format!(" {word}")
        };
        if current.len() + piece.len() > 255 && !current.is_empty() {
            // Keep the separating space at the end of the full string.
            if current.len() < 255 {
                current.push(' ');
                out.push(std::mem::take(&mut current));
                current.push_str(word);
            } else {
                out.push(std::mem::take(&mut current));
                current.push_str(&piece);
            }
        } else {
            current.push_str(&piece);
        }
        while current.len() > 255 {
            let rest = current.split_off(255);
            out.push(std::mem::replace(&mut current, rest));
        }
    }
    if !current.is_empty() || out.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_rejoin_to_the_record_and_stay_short() {
        let record = format!(
            "v=spf1 {} -all",
            (0..40)
                .map(|i| format!("ip4:198.51.{i}.0/24"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let parts = txt_strings(&record);
        assert!(parts.len() > 1);
        assert!(parts.iter().all(|p| p.len() <= 255), "{parts:?}");
        assert_eq!(parts.concat(), record);
        assert_eq!(txt_strings("v=spf1 -all"), ["v=spf1 -all"]);
    }

    #[test]
    fn ranges_are_networks() {
        assert_eq!(
            range4("192.0.2.77".parse().unwrap(), 24),
            "ip4:192.0.2.0/24"
        );
        assert_eq!(range4("192.0.2.77".parse().unwrap(), 32), "ip4:192.0.2.77");
        assert_eq!(
            range6("2001:db8::1".parse().unwrap(), 64),
            "ip6:2001:db8::/64"
        );
    }
}
