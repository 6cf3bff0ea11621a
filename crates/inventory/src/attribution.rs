//! Who sent each aggregate row: an inventory sender, a catalog service
//! outside the inventory, or an unknown source; and the rows summed per
//! source. The inventory-drift checker and the rollout advisor (which tells
//! legitimate mail, from the inventory, from the rest) read rows this way.
//!
//! A row is attributed, the first rule that applies winning:
//!
//! 1. its source IP is in the `ips` of a named inventory sender;
//! 2. the report's classification named a catalog service (from its DKIM,
//!    SPF or envelope domains outside the domain's organization);
//! 3. its source IP is in the ranges of an SPF include of the domain that
//!    belongs to an inventory sender or a catalog service;
//! 4. it carries a passing, aligned DKIM signature whose selector is a
//!    catalog service's default (inventory senders first): services that
//!    sign with the customer's domain and bounce to it leave no other trace;
//! 5. otherwise it is unknown, grouped by its IPv4 /24 or IPv6 /48.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use authwarden_api::reports::AggregateRow;
use authwarden_catalog::Catalog;

use crate::authorization::SpfView;
use crate::inventory::{Cidr, Inventory};

/// Who a row's mail came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// An inventory sender, by its id.
    Inventory(String),
    /// A catalog service that is not in the inventory, by its id.
    Provider(String),
    /// Neither: the sender's network.
    Unknown(Cidr),
}

impl Origin {
    /// How facts and findings name it.
    pub fn label(&self) -> String {
        match self {
            Origin::Inventory(id) | Origin::Provider(id) => id.clone(),
            Origin::Unknown(net) => net.to_string(),
        }
    }

    /// True for an inventory sender.
    pub fn in_inventory(&self) -> bool {
        matches!(self, Origin::Inventory(_))
    }
}

/// Causes of mail re-sent by an intermediary (forwarders, lists, ARC): the
/// intermediary's mail, not the original sender's.
pub const INTERMEDIARY_CAUSES: &[&str] = &[
    "forwarded",
    "mailing-list",
    "arc-override",
    "local-policy-override",
];

/// Attributes rows to origins for one domain.
#[derive(Debug)]
pub struct Attributor<'a> {
    inventory: &'a Inventory,
    catalog: &'a Catalog,
    include_ranges: Vec<(Cidr, Origin)>,
}

impl<'a> Attributor<'a> {
    /// An attributor for the domain with this inventory and SPF view.
    pub fn new(inventory: &'a Inventory, catalog: &'a Catalog, spf: &SpfView) -> Self {
        let mut include_ranges = Vec::new();
        for include in &spf.includes {
            let origin = match inventory.by_include(&include.target, catalog) {
                Some(s) => Some(Origin::Inventory(s.id.clone())),
                None => catalog
                    .lookup(&include.target)
                    .map(|p| Origin::Provider(p.id.clone())),
            };
            if let Some(origin) = origin {
                for r in &include.ranges {
                    include_ranges.push((*r, origin.clone()));
                }
            }
        }
        Attributor {
            inventory,
            catalog,
            include_ranges,
        }
    }

    fn of_provider(&self, provider_id: &str) -> Origin {
        match self.inventory.by_provider(provider_id) {
            Some(s) => Origin::Inventory(s.id.clone()),
            None => Origin::Provider(provider_id.to_string()),
        }
    }

    /// The origin of one row.
    pub fn origin(&self, row: &AggregateRow) -> Origin {
        let ip: Option<IpAddr> = row.source_ip.trim().parse().ok();
        if let Some(s) = ip.and_then(|ip| self.inventory.by_ip(ip)) {
            return Origin::Inventory(s.id.clone());
        }
        if let Some(p) = row
            .provider
            .as_deref()
            .and_then(|n| self.catalog.by_name(n))
        {
            return self.of_provider(&p.id);
        }
        if let Some(ip) = ip {
            if let Some((_, o)) = self.include_ranges.iter().find(|(r, _)| r.contains(ip)) {
                return o.clone();
            }
        }
        for selector in aligned_selectors(row) {
            let candidates: Vec<_> = self.catalog.by_selector(&selector).collect();
            if let Some(p) = candidates
                .iter()
                .find(|p| self.inventory.by_provider(&p.id).is_some())
                .or(candidates.first())
            {
                return self.of_provider(&p.id);
            }
        }
        match ip {
            Some(ip) => Origin::Unknown(Cidr::grouping(ip)),
            None => Origin::Unknown(Cidr::new(IpAddr::from([0, 0, 0, 0]), 0)),
        }
    }
}

/// The selectors of the row's passing DKIM signatures (all of them: the
/// classification already decided alignment, and a service's own-domain
/// signature uses the same selector names).
fn aligned_selectors(row: &AggregateRow) -> Vec<String> {
    if !row.dkim_aligned {
        return Vec::new();
    }
    let split = |v: &Option<String>| -> Vec<String> {
        v.as_deref()
            .map(|s| {
                s.split(';')
                    .map(|x| x.trim().to_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default()
    };
    let selectors = split(&row.dkim_selectors);
    let results = split(&row.dkim_results);
    selectors
        .into_iter()
        .enumerate()
        .filter(|(i, s)| !s.is_empty() && results.get(*i).is_none_or(|r| r == "pass"))
        .map(|(_, s)| s)
        .collect()
}

/// The rows of one origin, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenSource {
    /// Messages.
    pub messages: u64,
    /// Messages with aligned SPF or DKIM (DMARC pass).
    pub aligned: u64,
    /// Messages with aligned DKIM.
    pub dkim_aligned: u64,
    /// Messages with aligned SPF.
    pub spf_aligned: u64,
    /// Messages re-sent by intermediaries (see [`INTERMEDIARY_CAUSES`]).
    pub intermediary: u64,
    /// Those of them that still passed DMARC (a list that kept the
    /// original DKIM signature intact): the original sender's mail, not
    /// the intermediary's own.
    pub intermediary_aligned: u64,
    /// Messages with nothing aligned and no intermediary: DMARC fails.
    pub failing: u64,
    /// Messages per source IP.
    pub ips: BTreeMap<String, u64>,
    /// Failing messages (see [`SeenSource::failing`]) per source IP.
    pub failing_ips: BTreeMap<String, u64>,
    /// DKIM selectors seen.
    pub selectors: BTreeSet<String>,
    /// Start of the first reporting period, Unix seconds.
    pub first_seen: i64,
    /// End of the last reporting period, Unix seconds.
    pub last_seen: i64,
    /// Messages per report classification cause.
    pub causes: BTreeMap<String, u64>,
}

/// Adds message counts that come from reports, i.e. from strangers: at
/// `u64::MAX` it stays there instead of overflowing.
pub fn add_count(slot: &mut u64, n: u64) {
    *slot = slot.saturating_add(n);
}

impl SeenSource {
    /// Adds a row.
    pub fn add(&mut self, row: &AggregateRow) {
        let n = row.count;
        if self.messages == 0 || row.begin < self.first_seen {
            self.first_seen = row.begin;
        }
        self.last_seen = self.last_seen.max(row.end.max(row.begin));
        add_count(&mut self.messages, n);
        if row.dkim_aligned || row.spf_aligned {
            add_count(&mut self.aligned, n);
        }
        if row.dkim_aligned {
            add_count(&mut self.dkim_aligned, n);
        }
        if row.spf_aligned {
            add_count(&mut self.spf_aligned, n);
        }
        if INTERMEDIARY_CAUSES.contains(&row.cause.as_str()) {
            add_count(&mut self.intermediary, n);
            if row.dkim_aligned || row.spf_aligned {
                add_count(&mut self.intermediary_aligned, n);
            }
        } else if !row.dkim_aligned && !row.spf_aligned {
            add_count(&mut self.failing, n);
            add_count(
                self.failing_ips.entry(row.source_ip.clone()).or_default(),
                n,
            );
        }
        add_count(self.ips.entry(row.source_ip.clone()).or_default(), n);
        add_count(self.causes.entry(row.cause.clone()).or_default(), n);
        if let Some(s) = &row.dkim_selectors {
            self.selectors.extend(
                s.split(';')
                    .map(|x| x.trim().to_ascii_lowercase())
                    .filter(|x| !x.is_empty()),
            );
        }
    }

    /// Messages without aligned DKIM, intermediaries left out.
    pub fn without_dkim(&self) -> u64 {
        let own = self.messages - self.intermediary;
        own.saturating_sub(self.dkim_aligned)
    }

    /// The IPs with the most messages first (ties by address), at most `n`.
    pub fn top_ips(&self, n: usize) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.ips.iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(n);
        v
    }
}

/// Sums rows per origin.
pub fn summarize<'r>(
    attributor: &Attributor<'_>,
    rows: impl IntoIterator<Item = &'r AggregateRow>,
) -> BTreeMap<Origin, SeenSource> {
    let mut out: BTreeMap<Origin, SeenSource> = BTreeMap::new();
    for row in rows {
        out.entry(attributor.origin(row)).or_default().add(row);
    }
    out
}
