//! Policy discovery (RFC 7489 section 6.6.3): which DMARC record governs a
//! domain, looked up through the injected resolver, so that every checker
//! (dmarc-policy, spf, rollout-advisor, parked-domain) finds the record the
//! same way; and the external report authorization lookup (section 7.1).

use authwarden_api::domain::organizational_domain;
use authwarden_api::{DnsFailure, DnsOutcome, Rdata, RecordType, Resolver};
use serde::{Deserialize, Serialize};

use crate::phase::Phase;
use crate::record::{is_dmarc_record, parse_record_bytes, ParsedRecord, SyntaxIssue};

/// Where the record that governs a domain was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordSource {
    /// At `_dmarc.<domain>` itself.
    Domain,
    /// At `_dmarc.<organizational domain>`, whose `sp` applies.
    Organizational,
}

impl RecordSource {
    /// `domain` or `organizational`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordSource::Domain => "domain",
            RecordSource::Organizational => "organizational",
        }
    }
}

/// The one DMARC record that governs the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRecord {
    /// Whether it is the domain's own record or the organizational domain's.
    pub source: RecordSource,
    /// The domain the record is published for (the name without `_dmarc.`).
    pub domain: String,
    /// The TXT data, character-strings joined, as raw bytes.
    pub bytes: Vec<u8>,
    /// The TXT data as text (invalid UTF-8 replaced).
    pub text: String,
    /// The parse result.
    pub parsed: Result<ParsedRecord, Vec<SyntaxIssue>>,
}

impl FoundRecord {
    /// The DNS name of the record, `_dmarc.<domain>`.
    pub fn name(&self) -> String {
        format!("_dmarc.{}", self.domain)
    }

    /// The rollout phase the record gives the domain it was discovered for
    /// (`sp` applies when it is the organizational domain's), as published:
    /// `None` when the record does not parse.
    pub fn phase(&self) -> Option<Phase> {
        let parsed = self.parsed.as_ref().ok()?;
        Some(Phase::of(&parsed.record, self.source))
    }
}

/// What discovery found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryOutcome {
    /// Exactly one record.
    Found(Box<FoundRecord>),
    /// Several records at one name: receivers apply no DMARC at all.
    Multiple {
        /// Where they were found.
        source: RecordSource,
        /// The domain they are published for.
        domain: String,
        /// The records, as bytes, in the order the resolver returned them.
        records: Vec<Vec<u8>>,
    },
    /// No record at the domain nor at its organizational domain.
    Missing,
    /// A lookup failed: whether a record exists is unknown.
    Failed {
        /// The name that failed.
        name: String,
        /// How it failed.
        failure: DnsFailure,
    },
}

/// A TXT string at a `_dmarc` name that mentions `v=DMARC1` but does not
/// start with it, so receivers discard it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookalike {
    /// The `_dmarc` name it is published at.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The result of policy discovery for one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    /// The domain asked about.
    pub domain: String,
    /// Its organizational domain (public suffix list).
    pub organizational_domain: String,
    /// What was found.
    pub outcome: DiscoveryOutcome,
    /// Ignored TXT strings that look like DMARC records.
    pub lookalikes: Vec<Lookalike>,
    /// The names looked up, in order.
    pub queried: Vec<String>,
}

enum Lookup {
    Records(Vec<Vec<u8>>),
    Failed(DnsFailure),
}

async fn lookup(resolver: &dyn Resolver, name: &str, lookalikes: &mut Vec<Lookalike>) -> Lookup {
    let answer = resolver.query(name, RecordType::TXT).await;
    let rdata = match answer.outcome {
        DnsOutcome::Failed(failure) => return Lookup::Failed(failure),
        DnsOutcome::NxDomain | DnsOutcome::NoData => return Lookup::Records(Vec::new()),
        DnsOutcome::Records(rdata) => rdata,
    };
    let mut records = Vec::new();
    for rdata in rdata {
        let Rdata::Txt(parts) = rdata else { continue };
        let bytes = parts.concat();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if is_dmarc_record(&text) {
            records.push(bytes);
        } else if squeeze(&text).contains("v=dmarc1") {
            lookalikes.push(Lookalike {
                name: name.to_string(),
                text,
            });
        }
    }
    Lookup::Records(records)
}

/// Lower-case without whitespace, to spot `v = DMARC1` anywhere.
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Finds the DMARC record that governs `domain`: the TXT strings at
/// `_dmarc.<domain>` that start with `v=DMARC1`; when there are none and the
/// domain is not its own organizational domain, those at
/// `_dmarc.<organizational domain>`. Several records at the first name that
/// has any end discovery (RFC 7489 section 6.6.3). Never fails: DNS
/// failures are [`DiscoveryOutcome::Failed`].
pub async fn discover(resolver: &dyn Resolver, domain: &str) -> Discovery {
    let domain = authwarden_api::domain::normalize_name(domain);
    let org = organizational_domain(&domain);
    let mut discovery = Discovery {
        domain: domain.clone(),
        organizational_domain: org.clone(),
        outcome: DiscoveryOutcome::Missing,
        lookalikes: Vec::new(),
        queried: Vec::new(),
    };
    let mut candidates = vec![(RecordSource::Domain, domain.clone())];
    if org != domain {
        candidates.push((RecordSource::Organizational, org));
    }
    for (source, at) in candidates {
        let name = format!("_dmarc.{at}");
        discovery.queried.push(name.clone());
        match lookup(resolver, &name, &mut discovery.lookalikes).await {
            Lookup::Failed(failure) => {
                discovery.outcome = DiscoveryOutcome::Failed { name, failure };
                return discovery;
            }
            Lookup::Records(records) if records.is_empty() => continue,
            Lookup::Records(mut records) if records.len() == 1 => {
                let bytes = records.remove(0);
                discovery.outcome = DiscoveryOutcome::Found(Box::new(FoundRecord {
                    source,
                    domain: at,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                    parsed: parse_record_bytes(&bytes),
                    bytes,
                }));
                return discovery;
            }
            Lookup::Records(records) => {
                discovery.outcome = DiscoveryOutcome::Multiple {
                    source,
                    domain: at,
                    records,
                };
                return discovery;
            }
        }
    }
    discovery
}

/// Whether `<domain>._report._dmarc.<host>` authorizes `host` to receive
/// reports for `domain` (RFC 7489 section 7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// A TXT string starting with `v=DMARC1` is published.
    Authorized,
    /// The name does not exist.
    NxDomain,
    /// The name exists but has no TXT string starting with `v=DMARC1`.
    NoRecord,
    /// The lookup failed.
    Failed(DnsFailure),
}

/// The authorization record name for reports about `domain` sent to `host`.
pub fn authorization_name(domain: &str, host: &str) -> String {
    format!("{domain}._report._dmarc.{host}")
}

/// Looks up the external report authorization for `domain` at `host`.
pub async fn check_authorization(
    resolver: &dyn Resolver,
    domain: &str,
    host: &str,
) -> Authorization {
    let answer = resolver
        .query(&authorization_name(domain, host), RecordType::TXT)
        .await;
    match &answer.outcome {
        DnsOutcome::Failed(failure) => Authorization::Failed(failure.clone()),
        DnsOutcome::NxDomain => Authorization::NxDomain,
        _ if answer.txt().iter().any(|t| is_dmarc_record(t)) => Authorization::Authorized,
        _ => Authorization::NoRecord,
    }
}
