//! The one provider catalog of authwarden: the sending services and
//! mailing-list hosts it knows, read from the crate's own `providers.toml`.
//!
//! - the report intake classifies a record's sender by its domains (DKIM
//!   `d=`, SPF, envelope from) and the PTR name of its source IP
//!   ([`Catalog::lookup`]);
//! - the sender inventory refers to providers by id ([`Catalog::by_id`]) and
//!   finds them by SPF include target ([`Catalog::lookup`] again) or by a
//!   DKIM selector seen in reports ([`Catalog::by_selector`]);
//! - the dkim checker probes [`Catalog::dkim_probe`] at every domain, and
//!   names the provider a delegated key's CNAME points to.
//!
//! A small crate of its own (serde and toml only) so that checkers read the
//! catalog without linking the report parser.
#![deny(missing_docs)]

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The catalog shipped with authwarden.
const BUILTIN_CATALOG: &str = include_str!("../providers.toml");

/// What kind of sender a catalog entry is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// A sending service (ESP, hosted mailbox, help desk, CRM, ...).
    #[default]
    Service,
    /// A mailing-list host: its mail is a partial, not a failure.
    MailingList,
}

/// One known sender of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Display name, e.g. `SendGrid`.
    pub name: String,
    /// Domains it signs or sends from, its reverse-DNS names and where its
    /// delegated DKIM keys live; subdomains match too.
    pub domains: Vec<String>,
    /// Service or mailing-list host.
    #[serde(default)]
    pub kind: ProviderKind,
    /// The SPF mechanism the service documents, e.g. `include:sendgrid.net`.
    #[serde(default)]
    pub spf: Option<String>,
    /// The stable kebab-case id the sender inventory refers to
    /// (`google-workspace`); derived from the name when the file has none.
    #[serde(default)]
    pub id: String,
    /// Selectors the service signs with by default (`google`, `selector1`):
    /// hints to recognise it in `auth_results` and to probe in DNS.
    #[serde(default)]
    pub dkim_selectors: Vec<String>,
    /// Selectors of this provider that DKIM findings name otherwise, by
    /// selector: a product of the provider with its own name (Mandrill,
    /// Mailchimp's transactional service), and the domains of the
    /// provider's where the keys of that selector are delegated to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub dkim_labels: BTreeMap<String, DkimLabel>,
}

/// How DKIM findings name one selector of a provider (`dkim_labels`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimLabel {
    /// The name a key at this selector, or delegated by CNAME into one of
    /// `domains`, is reported as managed by.
    pub name: String,
    /// The provider's domains that belong to this selector rather than to
    /// the provider's other selectors (a subset of its `domains`).
    #[serde(default)]
    pub domains: Vec<String>,
}

impl Provider {
    /// The domain of the SPF `include:` the service documents
    /// (`_spf.google.com`), if its `spf` is an include.
    pub fn spf_include(&self) -> Option<&str> {
        let spf = self.spf.as_deref()?.trim();
        let target = spf
            .strip_prefix("include:")
            .or_else(|| spf.strip_prefix("+include:"))?;
        Some(target.trim_end_matches('.'))
    }

    /// How DKIM findings name the provider of a key at `selector`: its
    /// label's name (`dkim_labels`), else the provider's.
    pub fn dkim_name(&self, selector: &str) -> &str {
        match self.dkim_labels.get(&normalize_selector(selector)) {
            Some(label) => &label.name,
            None => &self.name,
        }
    }

    /// The domains a key at `selector` is delegated into when it is managed
    /// by this provider: its label's domains, else the provider's domains
    /// that no label claims.
    pub fn dkim_domains(&self, selector: &str) -> Vec<&str> {
        match self.dkim_labels.get(&normalize_selector(selector)) {
            Some(label) => label.domains.iter().map(String::as_str).collect(),
            None => self
                .domains
                .iter()
                .filter(|d| !self.dkim_labels.values().any(|l| l.domains.contains(d)))
                .map(String::as_str)
                .collect(),
        }
    }
}

/// A kebab-case id from a display name: `Microsoft 365` gives `microsoft-365`,
/// `Groups.io` gives `groups-io`.
pub fn provider_id(name: &str) -> String {
    let mut id = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    id.trim_end_matches('-').to_string()
}

/// A provider catalog that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid provider catalog: {0}")]
pub struct CatalogError(String);

/// Known sending services and mailing-list hosts, looked up by domain, id,
/// name or DKIM selector.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    providers: Vec<Provider>,
    by_domain: HashMap<String, usize>,
    generic_selectors: Vec<String>,
    probe_order: Vec<String>,
    unprobed: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    #[serde(default)]
    generic_dkim_selectors: Vec<String>,
    #[serde(default)]
    dkim_probe_order: Vec<String>,
    #[serde(default)]
    dkim_unprobed: Vec<String>,
    #[serde(default, rename = "provider")]
    providers: Vec<Provider>,
}

impl Catalog {
    /// The catalog shipped with authwarden (`providers.toml` of this crate),
    /// parsed once.
    pub fn builtin() -> &'static Catalog {
        static BUILTIN: OnceLock<Catalog> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            Catalog::from_toml(BUILTIN_CATALOG).expect("the shipped providers.toml is valid")
        })
    }

    /// Reads a catalog in the format of `providers.toml`: names and domains
    /// must not be empty, no id or domain may belong to two providers, and
    /// `dkim_probe_order` may name only the catalog's selectors, each once.
    pub fn from_toml(text: &str) -> Result<Catalog, CatalogError> {
        let file: CatalogFile =
            toml::from_str(text).map_err(|e| CatalogError(e.message().to_string()))?;
        let mut catalog = Catalog::default();
        for p in file.providers {
            catalog.add(p)?;
        }
        for s in file.generic_dkim_selectors {
            let s = normalize_selector(&s);
            if let Some(p) = catalog.by_selector(&s).next() {
                return Err(CatalogError(format!(
                    "generic selector `{s}` is also a selector of `{}`",
                    p.name
                )));
            }
            if catalog.generic_selectors.contains(&s) {
                return Err(CatalogError(format!(
                    "generic selector `{s}` is listed twice"
                )));
            }
            catalog.generic_selectors.push(s);
        }
        for s in file.dkim_probe_order {
            let s = normalize_selector(&s);
            if catalog.by_selector(&s).next().is_none() && !catalog.generic_selectors.contains(&s) {
                return Err(CatalogError(format!(
                    "`dkim_probe_order` names `{s}`, a selector of no provider and not generic"
                )));
            }
            if catalog.probe_order.contains(&s) {
                return Err(CatalogError(format!(
                    "`dkim_probe_order` names `{s}` twice"
                )));
            }
            catalog.probe_order.push(s);
        }
        for s in file.dkim_unprobed {
            let s = normalize_selector(&s);
            if catalog.by_selector(&s).next().is_none() && !catalog.generic_selectors.contains(&s) {
                return Err(CatalogError(format!(
                    "`dkim_unprobed` names `{s}`, a selector of no provider and not generic"
                )));
            }
            if catalog.probe_order.contains(&s) || catalog.unprobed.contains(&s) {
                return Err(CatalogError(format!(
                    "`dkim_unprobed` names `{s}`, which is in `dkim_probe_order` or named twice"
                )));
            }
            catalog.unprobed.push(s);
        }
        Ok(catalog)
    }

    /// Adds a provider (e.g. from the organisation's inventory).
    pub fn add(&mut self, mut provider: Provider) -> Result<(), CatalogError> {
        if provider.name.trim().is_empty() {
            return Err(CatalogError("a provider has an empty name".into()));
        }
        if provider.domains.is_empty() {
            return Err(CatalogError(format!(
                "`{}` lists no domains",
                provider.name
            )));
        }
        if provider.id.trim().is_empty() {
            provider.id = provider_id(&provider.name);
        }
        if let Some(other) = self.providers.iter().find(|p| p.id == provider.id) {
            return Err(CatalogError(format!(
                "id `{}` belongs to both `{}` and `{}`",
                provider.id, other.name, provider.name
            )));
        }
        for s in &mut provider.dkim_selectors {
            *s = normalize_selector(s);
        }
        let mut labels = BTreeMap::new();
        for (selector, mut label) in std::mem::take(&mut provider.dkim_labels) {
            let selector = normalize_selector(&selector);
            if !provider.dkim_selectors.contains(&selector) {
                return Err(CatalogError(format!(
                    "`{}` labels `{selector}`, which is not one of its dkim_selectors",
                    provider.name
                )));
            }
            if label.name.trim().is_empty() {
                return Err(CatalogError(format!(
                    "`{}` gives `{selector}` an empty label",
                    provider.name
                )));
            }
            for d in &mut label.domains {
                *d = normalize(d).into_owned();
                if !provider.domains.iter().any(|p| normalize(p) == d.as_str()) {
                    return Err(CatalogError(format!(
                        "`{}` labels `{selector}` with `{d}`, which is not one of its domains",
                        provider.name
                    )));
                }
            }
            labels.insert(selector, label);
        }
        provider.dkim_labels = labels;
        let index = self.providers.len();
        for d in &mut provider.domains {
            *d = normalize(d).into_owned();
            if d.is_empty() {
                return Err(CatalogError(format!(
                    "`{}` lists an empty domain",
                    provider.name
                )));
            }
            if let Some(&other) = self.by_domain.get(d.as_str()) {
                return Err(CatalogError(format!(
                    "`{d}` belongs to both `{}` and `{}`",
                    self.providers[other].name, provider.name
                )));
            }
            self.by_domain.insert(d.clone(), index);
        }
        self.providers.push(provider);
        Ok(())
    }

    /// Every provider, in catalog order.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The provider with this id (`google-workspace`).
    pub fn by_id(&self, id: &str) -> Option<&Provider> {
        let id = id.trim();
        self.providers
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(id))
    }

    /// The provider with this display name (`Google Workspace`), as the
    /// `provider` column of aggregate rows holds it.
    pub fn by_name(&self, name: &str) -> Option<&Provider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The providers whose default DKIM selectors include `selector`.
    pub fn by_selector(&self, selector: &str) -> impl Iterator<Item = &Provider> {
        let selector = normalize_selector(selector);
        self.providers
            .iter()
            .filter(move |p| p.dkim_selectors.contains(&selector))
    }

    /// The provider `domain` belongs to: one of its domains or a subdomain
    /// of one. The one lookup for every kind of name: a report's DKIM, SPF
    /// or envelope domain, the PTR name of a source IP (reverse DNS), the
    /// target of an SPF `include:` or of a DKIM key's CNAME.
    pub fn lookup(&self, domain: &str) -> Option<&Provider> {
        let domain = normalize(domain);
        let mut rest: &str = &domain;
        loop {
            if let Some(&i) = self.by_domain.get(rest) {
                return Some(&self.providers[i]);
            }
            rest = &rest[rest.find('.')? + 1..];
        }
    }

    /// The selectors in common use that belong to no one service.
    pub fn generic_selectors(&self) -> &[String] {
        &self.generic_selectors
    }

    /// The DKIM selectors to probe at every domain, because DNS cannot list
    /// a domain's selectors: each once, with the provider that signs with it
    /// by default (`None` for a generic selector). The file's
    /// `dkim_probe_order` first, then any selector it does not name (of
    /// providers added later, or of a catalog without an order).
    /// Selectors named in `dkim_unprobed` are left out: known (in aggregate
    /// reports, for a sender of the provider), but not probed everywhere.
    pub fn dkim_probe(&self) -> Vec<(&str, Option<&Provider>)> {
        let mut seen: HashSet<&str> = self.unprobed.iter().map(String::as_str).collect();
        let mut out = Vec::new();
        let owned = self
            .providers
            .iter()
            .flat_map(|p| p.dkim_selectors.iter().map(move |s| s.as_str()));
        let ordered = self.probe_order.iter().map(String::as_str);
        let generic = self.generic_selectors.iter().map(String::as_str);
        for s in ordered.chain(owned).chain(generic) {
            if seen.insert(s) {
                out.push((s, self.by_selector(s).next()));
            }
        }
        out
    }
}

/// Lower case, no surrounding space, no trailing dot; borrowed when already
/// so, as it nearly always is: [`Catalog::lookup`] runs for every domain of
/// every record of a report, and an allocation costs more than the lookup.
fn normalize(name: &str) -> Cow<'_, str> {
    let t = match (name.as_bytes().first(), name.as_bytes().last()) {
        (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic() => name,
        _ => name.trim(),
    };
    let t = t.trim_end_matches('.');
    if t.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(t.to_ascii_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

fn normalize_selector(selector: &str) -> String {
    selector.trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests;
