//! The sender inventory of a domain, from its `[domains.inventory]` table:
//! who may send as the domain, who owns each source and what it is for.
//!
//! ```toml
//! [[domains]]
//! name = "example.org"
//!
//! [domains.inventory]
//! senders = [
//!   { provider = "google-workspace", owner = "it", purpose = "internal" },
//!   { name = "crm", ips = ["192.0.2.0/24"], owner = "sales", purpose = "marketing" },
//! ]
//! ```
//!
//! Catalog providers are named by their id in the one provider catalog of
//! authwarden (`crates/catalog/providers.toml`). Parsing collects every
//! problem instead of stopping at the first, leaves the broken entries out
//! and keeps the rest.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use authwarden_api::serde_json::{Map, Value};
use authwarden_catalog::{Catalog, Provider};

/// The settings keys the inventory is read from, in order: `inventory` (the
/// documented table, shared by the `inventory-drift` and `rollout-advisor`
/// checkers), then the checker's own id, which a config validator that only
/// accepts checker ids as `[domains.<id>]` tables lets through.
pub const SETTINGS_KEYS: [&str; 2] = ["inventory", "inventory-drift"];

/// The accepted purposes.
pub const PURPOSES: &[&str] = &["marketing", "transactional", "internal", "other"];

/// The keys of one sender table.
pub const SENDER_KEYS: &[&str] = &["provider", "name", "ips", "includes", "owner", "purpose"];

/// An IPv4 or IPv6 network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Cidr {
    /// The network of `addr` with `len` bits.
    pub fn new(addr: IpAddr, len: u8) -> Cidr {
        let len = len.min(max_len(addr));
        Cidr {
            addr: mask(addr, len),
            len,
        }
    }

    /// True when `ip` is inside the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        same_family(self.addr, ip) && mask(ip, self.len) == self.addr
    }

    /// True when the two networks share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        same_family(self.addr, other.addr)
            && mask(self.addr, self.len.min(other.len)) == mask(other.addr, self.len.min(other.len))
    }

    /// True when `other` lies entirely inside this network.
    pub fn covers(&self, other: &Cidr) -> bool {
        same_family(self.addr, other.addr) && self.len <= other.len && self.contains(other.addr)
    }

    /// The SPF mechanism authorizing the network, `ip4:192.0.2.0/24`.
    pub fn spf_term(&self) -> String {
        match self.addr {
            IpAddr::V4(_) if self.len == 32 => format!("ip4:{}", self.addr),
            IpAddr::V4(_) => format!("ip4:{self}"),
            IpAddr::V6(_) if self.len == 128 => format!("ip6:{}", self.addr),
            IpAddr::V6(_) => format!("ip6:{self}"),
        }
    }

    /// Parses an SPF range as the SPF evaluation lists them (`ip4:a.b.c.d/n`).
    pub fn from_spf_range(range: &str) -> Option<Cidr> {
        let rest = range
            .strip_prefix("ip4:")
            .or_else(|| range.strip_prefix("ip6:"))?;
        rest.parse().ok()
    }

    /// The network a mail server is grouped in when it is no known service:
    /// its IPv4 /24 or IPv6 /48.
    pub fn grouping(ip: IpAddr) -> Cidr {
        match ip {
            IpAddr::V4(_) => Cidr::new(ip, 24),
            IpAddr::V6(_) => Cidr::new(ip, 48),
        }
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

fn max_len(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a text is not a [`Cidr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before `/` is not an IP address.
    #[error("`{0}` is not an IP address or CIDR range")]
    NotAnAddress(String),
    /// The prefix length is not a number up to 32 (IPv4) or 128 (IPv6).
    #[error("`{0}` has an invalid prefix length")]
    InvalidPrefixLength(String),
}

impl FromStr for Cidr {
    type Err = CidrError;
    fn from_str(s: &str) -> Result<Cidr, CidrError> {
        let s = s.trim();
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| CidrError::NotAnAddress(s.to_string()))?;
        let len = match len {
            None => max_len(addr),
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max_len(addr) => n,
                _ => return Err(CidrError::InvalidPrefixLength(s.to_string())),
            },
        };
        Ok(Cidr::new(addr, len))
    }
}

/// One authorized sending source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    /// How findings and facts name it: its `name`, else the provider id.
    pub id: String,
    /// The catalog service, for `provider = "<id>"` entries.
    pub provider: Option<Provider>,
    /// Networks it sends from (for named sources).
    pub ips: Vec<Cidr>,
    /// SPF include domains that authorize it, besides its provider's.
    pub includes: Vec<String>,
    /// Who is responsible for it.
    pub owner: Option<String>,
    /// What it sends: marketing, transactional, internal or other.
    pub purpose: Option<String>,
}

impl Sender {
    /// The SPF include domains that belong to it: its provider's documented
    /// include and its own `includes`.
    pub fn include_domains(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .provider
            .as_ref()
            .and_then(Provider::spf_include)
            .map(str::to_string)
            .into_iter()
            .collect();
        out.extend(self.includes.iter().cloned());
        out
    }

    /// True when `target` (an SPF include's domain) authorizes this sender:
    /// one of its includes, or a domain of its provider (providers document
    /// regional variants of their include).
    pub fn owns_include(&self, target: &str, catalog: &Catalog) -> bool {
        let target = target.trim_end_matches('.').to_ascii_lowercase();
        self.includes.contains(&target)
            || self
                .provider
                .as_ref()
                .is_some_and(|p| catalog.lookup(&target).is_some_and(|q| q.id == p.id))
    }

    /// True when this is a third-party service (a catalog provider or a
    /// named source with its own includes), whose authorization is a record
    /// the organisation does not control alone.
    pub fn third_party(&self) -> bool {
        self.provider.is_some() || !self.includes.is_empty()
    }
}

/// A problem of the inventory as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryProblem {
    /// Where: `senders[2].provider`.
    pub path: String,
    /// What is wrong, lower-case.
    pub message: String,
    /// A did-you-mean, when there is a close match.
    pub suggestion: Option<String>,
}

/// A domain's inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// False when the domain has no inventory table at all.
    pub configured: bool,
    /// The usable senders, in config order.
    pub senders: Vec<Sender>,
}

impl Inventory {
    /// The sender with this id.
    pub fn sender(&self, id: &str) -> Option<&Sender> {
        self.senders.iter().find(|s| s.id == id)
    }

    /// The sender of the catalog provider with this id.
    pub fn by_provider(&self, provider_id: &str) -> Option<&Sender> {
        self.senders
            .iter()
            .find(|s| s.provider.as_ref().is_some_and(|p| p.id == provider_id))
    }

    /// The named sender whose `ips` hold `ip`.
    pub fn by_ip(&self, ip: IpAddr) -> Option<&Sender> {
        self.senders
            .iter()
            .find(|s| s.ips.iter().any(|c| c.contains(ip)))
    }

    /// The sender an SPF include's target belongs to.
    pub fn by_include(&self, target: &str, catalog: &Catalog) -> Option<&Sender> {
        self.senders
            .iter()
            .find(|s| s.owns_include(target, catalog))
    }
}

/// Reads a domain's inventory from its settings (see [`SETTINGS_KEYS`]),
/// resolving provider ids against `catalog`. Returns the usable inventory
/// and every problem found.
pub fn parse_inventory(settings: &Value, catalog: &Catalog) -> (Inventory, Vec<InventoryProblem>) {
    let mut problems = Vec::new();
    let mut inventory = Inventory::default();
    let Some(table) = SETTINGS_KEYS.iter().find_map(|k| settings.get(*k)) else {
        return (inventory, problems);
    };
    inventory.configured = true;
    let mut problem = |path: String, message: String, suggestion: Option<String>| {
        problems.push(InventoryProblem {
            path,
            message,
            suggestion,
        })
    };
    let Some(table) = table.as_object() else {
        problem(
            "inventory".into(),
            "the inventory must be a table with a `senders` list".into(),
            None,
        );
        return (inventory, problems);
    };
    for key in table.keys().filter(|k| *k != "senders") {
        problem(
            key.clone(),
            format!("unknown key `{key}` in the inventory"),
            close(key, &["senders"]),
        );
    }
    let senders = match table.get("senders") {
        None => &Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => {
            problem(
                "senders".into(),
                "`senders` must be a list of tables".into(),
                None,
            );
            return (inventory, problems);
        }
    };
    let ids: Vec<&str> = catalog.providers().iter().map(|p| p.id.as_str()).collect();
    for (i, raw) in senders.iter().enumerate() {
        let at = |key: &str| format!("senders[{i}].{key}");
        let Some(entry) = raw.as_object() else {
            problem(
                format!("senders[{i}]"),
                "a sender must be a table such as `{ provider = \"google-workspace\" }`".into(),
                None,
            );
            continue;
        };
        let mut ok = true;
        for key in entry.keys().filter(|k| !SENDER_KEYS.contains(&k.as_str())) {
            problem(
                at(key),
                format!("unknown key `{key}` in a sender"),
                close(key, SENDER_KEYS),
            );
            ok = false;
        }
        let text = |key: &str,
                    problem: &mut dyn FnMut(String, String, Option<String>)|
         -> Option<String> {
            match entry.get(key) {
                None => None,
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(_) => {
                    problem(at(key), format!("`{key}` must be a non-empty string"), None);
                    None
                }
            }
        };
        let provider_id = text("provider", &mut problem);
        let name = text("name", &mut problem);
        let owner = text("owner", &mut problem);
        let purpose = text("purpose", &mut problem).map(|p| p.to_ascii_lowercase());
        if let Some(p) = &purpose {
            if !PURPOSES.contains(&p.as_str()) {
                problem(
                    at("purpose"),
                    format!(
                        "unknown purpose `{p}`, expected one of {}",
                        PURPOSES.join(", ")
                    ),
                    close(p, PURPOSES),
                );
                ok = false;
            }
        }
        let provider = match &provider_id {
            None => None,
            Some(id) => match catalog.by_id(id) {
                Some(p) => Some(p.clone()),
                None => {
                    // A display name written instead of the id is the usual slip.
                    let by_name = catalog
                        .providers()
                        .iter()
                        .find(|p| p.name.eq_ignore_ascii_case(id))
                        .map(|p| p.id.clone());
                    problem(
                        at("provider"),
                        format!("unknown provider `{id}`: not in the provider catalog"),
                        by_name.or_else(|| close(id, &ids)),
                    );
                    ok = false;
                    None
                }
            },
        };
        let mut ips = Vec::new();
        match entry.get("ips") {
            None => {}
            Some(Value::Array(list)) => {
                for (j, ip) in list.iter().enumerate() {
                    match ip.as_str().map(str::parse::<Cidr>) {
                        Some(Ok(c)) => ips.push(c),
                        Some(Err(e)) => {
                            problem(format!("senders[{i}].ips[{j}]"), e.to_string(), None);
                            ok = false;
                        }
                        None => {
                            problem(
                                format!("senders[{i}].ips[{j}]"),
                                "an IP range must be a string such as \"192.0.2.0/24\"".into(),
                                None,
                            );
                            ok = false;
                        }
                    }
                }
            }
            Some(_) => {
                problem(at("ips"), "`ips` must be a list of IP ranges".into(), None);
                ok = false;
            }
        }
        let mut includes = Vec::new();
        match entry.get("includes") {
            None => {}
            Some(Value::Array(list)) => {
                for (j, d) in list.iter().enumerate() {
                    let d = d.as_str().map(authwarden_api::domain::normalize_name);
                    match d {
                        Some(d) if authwarden_api::domain::validate_domain(&d).is_ok() => {
                            includes.push(d)
                        }
                        _ => {
                            problem(
                                format!("senders[{i}].includes[{j}]"),
                                "an include must be a domain name such as \"spf.crm.example\""
                                    .into(),
                                None,
                            );
                            ok = false;
                        }
                    }
                }
            }
            Some(_) => {
                problem(
                    at("includes"),
                    "`includes` must be a list of domain names".into(),
                    None,
                );
                ok = false;
            }
        }
        let id = match (&name, &provider, &provider_id) {
            (Some(n), _, _) => n.clone(),
            (None, Some(p), _) => p.id.clone(),
            (None, None, Some(_)) => continue,
            (None, None, None) => {
                problem(
                    format!("senders[{i}]"),
                    "a sender needs a catalog `provider` id or a `name`".into(),
                    None,
                );
                continue;
            }
        };
        if provider.is_none() && ips.is_empty() && includes.is_empty() && ok {
            problem(
                format!("senders[{i}]"),
                format!(
                    "named sender `{id}` has neither `ips` nor `includes`: reports cannot be matched to it"
                ),
                None,
            );
            continue;
        }
        if inventory.senders.iter().any(|s| s.id == id) {
            problem(
                format!("senders[{i}]"),
                format!("sender `{id}` is listed twice"),
                None,
            );
            continue;
        }
        if !ok {
            continue;
        }
        inventory.senders.push(Sender {
            id,
            provider,
            ips,
            includes,
            owner,
            purpose,
        });
    }
    (inventory, problems)
}

/// The closest candidate within a small edit distance.
pub fn close(value: &str, candidates: &[&str]) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    let limit = (lower.chars().count() / 3).clamp(1, 4);
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, c)| c.to_string())
        .or_else(|| {
            // `google` for `google-workspace`: a prefix of one id only.
            let matches: Vec<&&str> = candidates
                .iter()
                .filter(|c| lower.len() >= 3 && c.starts_with(&lower))
                .collect();
            (matches.len() == 1).then(|| matches[0].to_string())
        })
}

/// The facts entry of a sender.
pub fn sender_facts(sender: &Sender) -> Value {
    let mut m = Map::new();
    m.insert("source".into(), sender.id.clone().into());
    m.insert(
        "provider".into(),
        sender
            .provider
            .as_ref()
            .map(|p| Value::from(p.id.clone()))
            .unwrap_or(Value::Null),
    );
    m.insert("owner".into(), sender.owner.clone().into());
    m.insert("purpose".into(), sender.purpose.clone().into());
    m.insert(
        "ips".into(),
        sender
            .ips
            .iter()
            .map(|c| Value::from(c.to_string()))
            .collect(),
    );
    m.insert("includes".into(), sender.include_domains().into());
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::serde_json::json;

    #[test]
    fn cidr() {
        let c: Cidr = "192.0.2.77/24".parse().unwrap();
        assert_eq!(c.to_string(), "192.0.2.0/24");
        assert!(c.contains("192.0.2.1".parse().unwrap()));
        assert!(!c.contains("192.0.3.1".parse().unwrap()));
        assert!(!c.contains("::1".parse().unwrap()));
        let host: Cidr = "192.0.2.9".parse().unwrap();
        assert_eq!(host.len, 32);
        assert!(c.covers(&host) && !host.covers(&c) && host.overlaps(&c));
        assert_eq!(host.spf_term(), "ip4:192.0.2.9");
        assert_eq!(c.spf_term(), "ip4:192.0.2.0/24");
        let v6: Cidr = "2001:db8::1/32".parse().unwrap();
        assert_eq!(v6.spf_term(), "ip6:2001:db8::/32");
        assert_eq!(Cidr::from_spf_range("ip4:198.51.100.0/24").unwrap().len, 24);
        assert!("192.0.2.0/33".parse::<Cidr>().is_err());
        assert!("crm".parse::<Cidr>().is_err());
    }

    #[test]
    fn parses_and_collects_every_problem() {
        let catalog = Catalog::builtin();
        let settings = json!({"inventory": {"senders": [
            {"provider": "google-workspace", "owner": "it", "purpose": "internal"},
            {"name": "crm", "ips": ["192.0.2.0/24"], "owner": "sales", "purpose": "marketing"},
            {"provider": "sendgrd"},
            {"provider": "Microsoft 365"},
            {"name": "x", "ips": ["nope"]},
            {"name": "y"},
            {"provider": "mailchimp", "purpose": "marketting", "ownr": "a"},
            {"owner": "z"},
            {"provider": "google-workspace"},
        ], "sender": []}});
        let (inv, problems) = parse_inventory(&settings, catalog);
        let ids: Vec<&str> = inv.senders.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["google-workspace", "crm"]);
        let shown: Vec<String> = problems
            .iter()
            .map(|p| format!("{}: {} ({:?})", p.path, p.message, p.suggestion))
            .collect();
        insta::assert_snapshot!(shown.join("\n"));
    }

    #[test]
    fn did_you_mean() {
        let ids = ["google-workspace", "sendgrid", "mailgun"];
        assert_eq!(close("sendgrd", &ids).as_deref(), Some("sendgrid"));
        assert_eq!(close("google", &ids).as_deref(), Some("google-workspace"));
        assert_eq!(close("postmark", &ids), None);
    }

    #[test]
    fn absent_and_fallback_key() {
        let catalog = Catalog::builtin();
        let (inv, p) = parse_inventory(&json!({}), catalog);
        assert!(!inv.configured && p.is_empty());
        let (inv, p) = parse_inventory(
            &json!({"inventory-drift": {"senders": [{"provider": "sendgrid"}]}}),
            catalog,
        );
        assert!(inv.configured && p.is_empty());
        assert!(inv.by_provider("sendgrid").is_some());
        assert!(inv.by_include("u123.wl.sendgrid.net", catalog).is_some());
    }
}
