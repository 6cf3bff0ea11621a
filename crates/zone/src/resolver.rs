//! [`ZoneResolver`]: answers queries from a [`Zone`], optionally asking a
//! fallback resolver for names outside it.

use std::str::FromStr;
use std::sync::Arc;

use authwarden_api::dns::normalize_name;
use authwarden_api::{async_trait, DnsAnswer, DnsFailure, DnsOutcome, RecordType, Resolver};

use crate::error::ZoneError;
use crate::zone::{Zone, ZoneLookup};

/// The longest CNAME chain followed before giving up, as resolvers do.
pub const MAX_CNAME_CHAIN: usize = 16;

/// The failure message for names outside the zone when there is no fallback.
pub const OUTSIDE_MESSAGE: &str = "name is outside the zone file";

#[derive(Debug, Clone)]
struct FailureRule {
    name: String,
    rtype: Option<RecordType>,
    failure: DnsFailure,
}

/// A [`Resolver`] that answers from zone-file data.
///
/// For a name at or below one of the zone's apexes it answers like an
/// authoritative server plus a resolver following CNAMEs: records,
/// NXDOMAIN, NODATA (also for empty non-terminals), wildcard synthesis, and
/// CNAME chains recorded in [`DnsAnswer::cname_chain`]. A chain that leaves
/// the zone continues through the fallback resolver, if any.
///
/// Names outside the zone go to the fallback ([`ZoneResolver::with_fallback`])
/// or, without one, fail with `DnsFailure::Other("name is outside the zone file")`.
///
/// ```
/// use authwarden_api::{DnsOutcome, Resolver, RecordType};
/// use authwarden_zone::ZoneResolver;
///
/// let resolver = ZoneResolver::from_str(
///     "$ORIGIN example.com.\n@ TXT \"v=spf1 \" \"-all\"\nwww CNAME @\n",
/// ).unwrap();
/// let answer = futures::executor::block_on(resolver.query("www.example.com", RecordType::TXT));
/// assert_eq!(answer.cname_chain, vec!["example.com".to_owned()]);
/// assert_eq!(answer.txt(), vec!["v=spf1 -all".to_owned()]);
/// ```
#[derive(Clone)]
pub struct ZoneResolver {
    zone: Zone,
    fallback: Option<Arc<dyn Resolver>>,
    failures: Vec<FailureRule>,
}

impl std::fmt::Debug for ZoneResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneResolver")
            .field("zone", &self.zone)
            .field("fallback", &self.fallback.is_some())
            .field("failures", &self.failures)
            .finish()
    }
}

impl ZoneResolver {
    /// Answers from `zone` only.
    pub fn new(zone: Zone) -> Self {
        Self {
            zone,
            fallback: None,
            failures: Vec::new(),
        }
    }

    /// Answers from `zone` first and asks `fallback` for everything else.
    pub fn with_fallback(zone: Zone, fallback: Arc<dyn Resolver>) -> Self {
        Self {
            zone,
            fallback: Some(fallback),
            failures: Vec::new(),
        }
    }

    /// Parses zone-file text (file name `<inline>`, no default origin) into
    /// a resolver without fallback; handy for fixtures.
    #[allow(clippy::should_implement_trait)] // also implemented; this one needs no import
    pub fn from_str(text: &str) -> Result<Self, ZoneError> {
        Zone::parse(text, "<inline>", None).map(Self::new)
    }

    /// Test hook: makes queries for `name` fail with `failure`, for one
    /// type (`Some`) or for every type (`None`), so fixture tests can
    /// simulate SERVFAIL, timeouts or refusals offline.
    ///
    /// The rule is checked before the zone data and before the fallback,
    /// for the queried name and for every name a CNAME chain reaches (the
    /// answer then carries the chain so far). A rule for one type wins over
    /// a rule for every type; among equal rules the last one added wins.
    ///
    /// ```
    /// use authwarden_api::{DnsFailure, DnsOutcome, Resolver, RecordType};
    /// use authwarden_zone::ZoneResolver;
    ///
    /// let resolver = ZoneResolver::from_str("$ORIGIN example.com.\n@ TXT \"v=spf1 -all\"\n")
    ///     .unwrap()
    ///     .fail("_dmarc.example.com", Some(RecordType::TXT), DnsFailure::ServFail);
    /// let answer = futures::executor::block_on(resolver.query("_dmarc.example.com.", RecordType::TXT));
    /// assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::ServFail));
    /// ```
    pub fn fail(mut self, name: &str, rtype: Option<RecordType>, failure: DnsFailure) -> Self {
        self.failures.push(FailureRule {
            name: normalize_name(name),
            rtype,
            failure,
        });
        self
    }

    /// The zone data.
    pub fn zone(&self) -> &Zone {
        &self.zone
    }

    fn failure_for(&self, name: &str, rtype: RecordType) -> Option<&DnsFailure> {
        let matching = |typed: bool| {
            self.failures
                .iter()
                .rev()
                .find(|r| {
                    r.name == name
                        && r.rtype.is_some() == typed
                        && r.rtype.is_none_or(|t| t == rtype)
                })
                .map(|r| &r.failure)
        };
        matching(true).or_else(|| matching(false))
    }
}

impl FromStr for ZoneResolver {
    type Err = ZoneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ZoneResolver::from_str(text)
    }
}

#[async_trait]
impl Resolver for ZoneResolver {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        let name = normalize_name(name);
        let mut chain: Vec<String> = Vec::new();
        let mut current = name.clone();
        let outcome = loop {
            if let Some(failure) = self.failure_for(&current, rtype) {
                break DnsOutcome::Failed(failure.clone());
            }
            match self.zone.lookup(&current, rtype) {
                ZoneLookup::Records(records) => break DnsOutcome::Records(records),
                ZoneLookup::NoData => break DnsOutcome::NoData,
                ZoneLookup::NxDomain => break DnsOutcome::NxDomain,
                ZoneLookup::Outside => match &self.fallback {
                    Some(fallback) if chain.is_empty() => {
                        return fallback.query(&name, rtype).await
                    }
                    Some(fallback) => {
                        let answer = fallback.query(&current, rtype).await;
                        chain.extend(answer.cname_chain);
                        break answer.outcome;
                    }
                    None if chain.is_empty() => {
                        break DnsOutcome::Failed(DnsFailure::Other(OUTSIDE_MESSAGE.into()))
                    }
                    None => {
                        break DnsOutcome::Failed(DnsFailure::Other(format!(
                            "CNAME target {current} is outside the zone file"
                        )))
                    }
                },
                ZoneLookup::Cname(target) => {
                    if target == name || chain.contains(&target) {
                        break DnsOutcome::Failed(DnsFailure::Other(format!(
                            "CNAME loop at {target}"
                        )));
                    }
                    if chain.len() >= MAX_CNAME_CHAIN {
                        break DnsOutcome::Failed(DnsFailure::Other(format!(
                            "CNAME chain longer than {MAX_CNAME_CHAIN}"
                        )));
                    }
                    chain.push(target.clone());
                    current = target;
                }
            }
        };
        DnsAnswer {
            name,
            rtype,
            cname_chain: chain,
            outcome,
        }
    }

    fn queries_sent(&self) -> u64 {
        self.fallback.as_ref().map_or(0, |f| f.queries_sent())
    }
}
