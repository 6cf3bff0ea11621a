//! Where selectors come from: the checker's config and provider catalog, the
//! per-domain list, the selectors seen in DMARC aggregate reports
//! ([`ObservedSelectors`]), and what date-coded selector names reveal.

use std::sync::Arc;
use std::time::Duration;

use authwarden_api::domain::organizational_domain;
use authwarden_api::serde_json::{self, Value};
use authwarden_api::Cadence;
use chrono::NaiveDate;
use serde::Deserialize;

/// The default rotation interval in days: the organisation's quarterly
/// rotation. M3AAWG's DKIM key rotation best practices ask for at most six
/// months.
pub const DEFAULT_ROTATION_DAYS: u32 = 90;

/// How long the check of one domain may take by default, well under the
/// engine's limit per check (120 s): selectors not probed by then are
/// reported as not probed (DKIM012) and the rest of the results are kept.
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);

/// How many selectors of one domain are looked up at once by default.
pub const DEFAULT_PROBE_CONCURRENCY: usize = 8;

/// The most selectors of one domain looked up at once.
pub const MAX_PROBE_CONCURRENCY: usize = 64;

/// One selector of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntry {
    /// The selector.
    pub name: String,
    /// Who uses it, when known.
    #[serde(default)]
    pub provider: Option<String>,
    /// The organizational domains the provider's CNAME targets live under.
    #[serde(default)]
    pub domains: Vec<String>,
}

/// The selectors of the provider catalog (`authwarden-catalog`), in its
/// probe order: each with its provider's name and domains (a selector's
/// label and its domains where the catalog has one), so that a key
/// delegated by CNAME into those domains is reported as managed by it.
pub fn default_catalog() -> Vec<CatalogEntry> {
    authwarden_catalog::Catalog::builtin()
        .dkim_probe()
        .into_iter()
        .map(|(selector, provider)| CatalogEntry {
            name: selector.to_owned(),
            provider: provider.map(|p| p.dkim_name(selector).to_owned()),
            domains: provider
                .map(|p| {
                    p.dkim_domains(selector)
                        .into_iter()
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CatalogItem {
    Name(String),
    Entry(CatalogEntry),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    probe_catalog: Option<bool>,
    #[serde(default)]
    catalog: Option<Vec<CatalogItem>>,
    #[serde(default)]
    rotation_days: Option<u32>,
    #[serde(default)]
    budget: Option<Value>,
    #[serde(default)]
    probe_concurrency: Option<usize>,
}

/// When a run probes the whole provider catalog at a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogProbe {
    /// At every domain, with the other selectors (`probe_catalog = true`,
    /// the quarterly and annual jobs, `check --probe-catalog`).
    Always,
    /// Only where none of the selectors with evidence (config, reports,
    /// history, the providers the domain's SPF record and inventory name)
    /// has a key: the default of the monthly job and of `check`.
    Scheduled,
    /// Never (`probe_catalog = false`).
    Never,
}

/// The checker's config section `[checkers.dkim]`.
///
/// ```toml
/// [checkers.dkim]
/// probe_catalog = true       # probe the whole provider catalog at every run
///                            # (unset: quarterly, annual, `check --probe-catalog`,
///                            # and where no selector with evidence has a key)
/// catalog = ["s1", { name = "corp2024", provider = "our MTA" }]  # replaces the shipped one
/// rotation_days = 90         # rotation interval; M3AAWG practice is at most 180
/// budget = "30s"             # the whole check of one domain ("500ms", "30s", "2m" or seconds)
/// probe_concurrency = 8      # selectors of one domain looked up at once (1 to 64)
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DkimConfig {
    /// When the whole catalog is probed: `Some(true)` at every run,
    /// `Some(false)` never, `None` (the default) as [`CatalogProbe::Scheduled`].
    pub probe_catalog: Option<bool>,
    /// The catalog: the shipped one unless config gives its own.
    pub catalog: Vec<CatalogEntry>,
    /// The rotation interval in days.
    pub rotation_days: u32,
    /// How long the DNS lookups of one domain may take in all; what is not
    /// answered by then is reported as not probed (DKIM012).
    pub budget: Duration,
    /// How many selectors of one domain are looked up at once.
    pub probe_concurrency: usize,
}

impl Default for DkimConfig {
    fn default() -> Self {
        DkimConfig {
            probe_catalog: None,
            catalog: default_catalog(),
            rotation_days: DEFAULT_ROTATION_DAYS,
            budget: DEFAULT_BUDGET,
            probe_concurrency: DEFAULT_PROBE_CONCURRENCY,
        }
    }
}

/// Reads a duration: whole seconds (`30`), or a number with `ms`, `s` or
/// `m` (`"500ms"`, `"30s"`, `"2m"`).
fn parse_budget(value: &Value) -> Result<Duration, String> {
    let bad = || {
        format!(
            "invalid `[checkers.dkim]`: `budget` must be a duration such as \"30s\", \"500ms\" or \"2m\", found {value}"
        )
    };
    let duration = match value {
        Value::Number(n) => Duration::from_secs(n.as_u64().ok_or_else(bad)?),
        Value::String(s) => {
            let s = s.trim();
            let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            let (digits, unit) = s.split_at(split);
            let n: u64 = digits.parse().map_err(|_| bad())?;
            match unit.trim() {
                "ms" => Duration::from_millis(n),
                "s" | "" => Duration::from_secs(n),
                "m" => Duration::from_secs(n.saturating_mul(60)),
                _ => return Err(bad()),
            }
        }
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err("invalid `[checkers.dkim]`: `budget` must be greater than zero".into());
    }
    Ok(duration)
}

impl DkimConfig {
    /// Reads `[checkers.dkim]` (as JSON); unknown keys and wrong types are errors.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let raw: RawConfig = serde_json::from_value(value.clone())
            .map_err(|e| format!("invalid `[checkers.dkim]`: {e}"))?;
        let mut config = DkimConfig {
            probe_catalog: raw.probe_catalog,
            ..DkimConfig::default()
        };
        if let Some(days) = raw.rotation_days {
            if days == 0 {
                return Err("invalid `[checkers.dkim]`: `rotation_days` must be at least 1".into());
            }
            config.rotation_days = days;
        }
        if let Some(budget) = &raw.budget {
            config.budget = parse_budget(budget)?;
        }
        if let Some(n) = raw.probe_concurrency {
            if !(1..=MAX_PROBE_CONCURRENCY).contains(&n) {
                return Err(format!(
                    "invalid `[checkers.dkim]`: `probe_concurrency` must be from 1 to {MAX_PROBE_CONCURRENCY}, found {n}"
                ));
            }
            config.probe_concurrency = n;
        }
        if let Some(items) = raw.catalog {
            config.catalog = items
                .into_iter()
                .map(|item| match item {
                    CatalogItem::Name(name) => CatalogEntry {
                        name,
                        provider: None,
                        domains: Vec::new(),
                    },
                    CatalogItem::Entry(e) => e,
                })
                .collect();
        }
        for entry in &mut config.catalog {
            entry.name = entry.name.trim().to_ascii_lowercase();
            if let Err(e) = validate_selector(&entry.name) {
                return Err(format!("invalid `[checkers.dkim] catalog`: {e}"));
            }
        }
        Ok(config)
    }

    /// How this run probes the catalog: a job of `job`'s cadence, `None`
    /// for an ad-hoc check.
    pub fn catalog_probe(&self, job: Option<Cadence>) -> CatalogProbe {
        match (self.probe_catalog, job) {
            (Some(true), _) => CatalogProbe::Always,
            (Some(false), _) => CatalogProbe::Never,
            (None, Some(Cadence::Quarterly | Cadence::Annual)) => CatalogProbe::Always,
            (None, _) => CatalogProbe::Scheduled,
        }
    }

    /// The catalog entry of a selector.
    pub fn catalog_entry(&self, selector: &str) -> Option<&CatalogEntry> {
        self.catalog.iter().find(|e| e.name == selector)
    }

    /// Who manages a key delegated by CNAME to `target`: the catalog's
    /// provider whose `domains` hold the target's organizational domain,
    /// else that organizational domain.
    pub fn provider_of(&self, target: &str) -> String {
        let org = organizational_domain(target);
        self.catalog
            .iter()
            .find(|e| e.domains.iter().any(|d| d.eq_ignore_ascii_case(&org)))
            .and_then(|e| e.provider.clone())
            .unwrap_or(org)
    }
}

/// The selectors of a domain's `[domains.dkim] selectors` (with those given
/// by `--selector` merged in by the command line).
pub fn configured_selectors(settings: &Value) -> Result<Vec<String>, String> {
    let Some(dkim) = settings.get("dkim") else {
        return Ok(Vec::new());
    };
    let Some(list) = dkim.get("selectors") else {
        return Ok(Vec::new());
    };
    let Some(list) = list.as_array() else {
        return Err("`[domains.dkim] selectors` must be an array of selector names".into());
    };
    let mut out = Vec::new();
    for item in list {
        let Some(s) = item.as_str() else {
            return Err(format!(
                "`[domains.dkim] selectors` must hold strings, found {item}"
            ));
        };
        let s = s.trim().to_ascii_lowercase();
        validate_selector(&s).map_err(|e| format!("`[domains.dkim] selectors`: {e}"))?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Checks a selector's syntax: dot-separated labels of letters, digits,
/// hyphens and underscores (RFC 6376 section 3.1).
pub fn validate_selector(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("empty selector".into());
    }
    let ok = s.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    if ok {
        Ok(())
    } else {
        Err(format!("`{s}` is not a valid selector"))
    }
}

/// The selectors seen in DMARC aggregate reports (the `<selector>` of each
/// `auth_results/dkim` element), per domain.
///
/// The reports pipeline implements this and adds it to the run as
/// [`ObservedSelectorsExt`]; the checker then probes those selectors too,
/// and a revoked key on one of them is a finding (mail still arrives signed
/// with it).
///
/// ```
/// use std::sync::Arc;
/// use authwarden_api::Extensions;
/// use authwarden_checker_dkim::{ObservedSelectors, ObservedSelectorsExt};
///
/// struct FromReports;
/// impl ObservedSelectors for FromReports {
///     fn selectors(&self, domain: &str) -> Vec<String> {
///         if domain == "example.org" { vec!["s2025".into()] } else { vec![] }
///     }
/// }
/// let mut ext = Extensions::default();
/// ext.insert(Arc::new(ObservedSelectorsExt(Arc::new(FromReports))));
/// let seen = ext.get::<ObservedSelectorsExt>().unwrap();
/// assert_eq!(seen.0.selectors("example.org"), ["s2025"]);
/// ```
pub trait ObservedSelectors: Send + Sync {
    /// The selectors seen signing mail from `domain` (lower-case, no
    /// trailing dot), in any order; empty when none.
    fn selectors(&self, domain: &str) -> Vec<String>;
}

/// The [`ObservedSelectors`] of a run, as stored in
/// [`authwarden_api::Extensions`] (which looks services up by concrete type,
/// so the trait object is wrapped in this struct).
#[derive(Clone)]
pub struct ObservedSelectorsExt(pub Arc<dyn ObservedSelectors>);

impl std::fmt::Debug for ObservedSelectorsExt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ObservedSelectorsExt(..)")
    }
}

/// The date a date-coded selector name carries, if any: `20240101`
/// (YYYYMMDD, also inside a name like `20230601pm` or `s20240101`),
/// `2025q4` (the quarter's first day), `202403` (YYYYMM), `scph0922`
/// (SparkPost's MMYY). Only plausible dates (2000 to 2099) count; the caller
/// drops dates in the future.
///
/// ```
/// use authwarden_checker_dkim::selectors::selector_date;
/// use chrono::NaiveDate;
/// let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
/// assert_eq!(selector_date("20240101"), d(2024, 1, 1));
/// assert_eq!(selector_date("20230601pm"), d(2023, 6, 1));
/// assert_eq!(selector_date("2025q4"), d(2025, 10, 1));
/// assert_eq!(selector_date("scph0922"), d(2022, 9, 1));
/// assert_eq!(selector_date("selector1"), None);
/// ```
pub fn selector_date(selector: &str) -> Option<NaiveDate> {
    let s = selector.to_ascii_lowercase();
    let ymd = |y: i32, m: u32, d: u32| {
        (2000..2100)
            .contains(&y)
            .then(|| NaiveDate::from_ymd_opt(y, m, d))
            .flatten()
    };
    if let Some(mmyy) = s.strip_prefix("scph") {
        if mmyy.len() == 4 && mmyy.bytes().all(|b| b.is_ascii_digit()) {
            let m: u32 = mmyy[..2].parse().ok()?;
            let y: i32 = mmyy[2..].parse().ok()?;
            return ymd(2000 + y, m, 1);
        }
    }
    let bytes = s.as_bytes();
    // Runs of digits, with what follows them.
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let run = &s[start..i];
        let rest = &s[i..];
        let found = match run.len() {
            8 | 10 | 12 | 14 => ymd(
                run[..4].parse().ok()?,
                run[4..6].parse().ok()?,
                run[6..8].parse().ok()?,
            ),
            6 => ymd(run[..4].parse().ok()?, run[4..6].parse().ok()?, 1),
            4 => {
                let rest = rest.strip_prefix('-').unwrap_or(rest);
                match rest.as_bytes() {
                    [b'q', q @ b'1'..=b'4', ..] => {
                        ymd(run.parse().ok()?, u32::from(q - b'1') * 3 + 1, 1)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::serde_json::json;

    #[test]
    fn shipped_catalog() {
        let c = default_catalog();
        for name in [
            "google",
            "selector1",
            "selector2",
            "k1",
            "k2",
            "mandrill",
            "s1",
            "s2",
            "zendesk1",
            "zendesk2",
            "pdk1",
            "pdk2",
            "mxvault",
            "dkim",
            "default",
        ] {
            assert!(c.iter().any(|e| e.name == name), "{name}");
        }
        for e in &c {
            validate_selector(&e.name).unwrap();
        }
    }

    #[test]
    fn config() {
        let c = DkimConfig::from_value(&json!({})).unwrap();
        assert_eq!(c, DkimConfig::default());
        let c = DkimConfig::from_value(&json!({
            "probe_catalog": false, "rotation_days": 30,
            "catalog": ["corp", {"name": "s1", "provider": "SendGrid", "domains": ["sendgrid.net"]}]
        }))
        .unwrap();
        assert_eq!(c.probe_catalog, Some(false));
        assert_eq!(c.rotation_days, 30);
        assert_eq!(c.catalog.len(), 2);
        assert_eq!(
            c.provider_of("s1.domainkey.u123.wl.sendgrid.net"),
            "SendGrid"
        );
        assert_eq!(c.provider_of("key.provider.example"), "provider.example");
        assert!(DkimConfig::from_value(&json!({"rotation": 30})).is_err());
        assert!(DkimConfig::from_value(&json!({"rotation_days": 0})).is_err());
        assert_eq!(c.budget, DEFAULT_BUDGET);
        assert_eq!(c.probe_concurrency, DEFAULT_PROBE_CONCURRENCY);
        let budget = |v: Value| DkimConfig::from_value(&json!({ "budget": v })).map(|c| c.budget);
        assert_eq!(budget(json!("500ms")), Ok(Duration::from_millis(500)));
        assert_eq!(budget(json!("45s")), Ok(Duration::from_secs(45)));
        assert_eq!(budget(json!("2m")), Ok(Duration::from_secs(120)));
        assert_eq!(budget(json!(10)), Ok(Duration::from_secs(10)));
        for bad in [
            json!("0s"),
            json!("fast"),
            json!("10h"),
            json!(-1),
            json!(true),
        ] {
            assert!(budget(bad.clone()).is_err(), "{bad}");
        }
        let n = |v: usize| {
            DkimConfig::from_value(&json!({ "probe_concurrency": v })).map(|c| c.probe_concurrency)
        };
        assert_eq!(n(16), Ok(16));
        assert!(n(0).is_err());
        assert!(n(65).is_err());
        assert!(DkimConfig::from_value(&json!({"catalog": ["bad name"]})).is_err());
    }

    #[test]
    fn domain_selectors() {
        let s = json!({"dkim": {"selectors": ["S1", "corp", "s1"]}});
        assert_eq!(configured_selectors(&s).unwrap(), ["s1", "corp"]);
        assert!(configured_selectors(&json!({})).unwrap().is_empty());
        assert!(configured_selectors(&json!({"dkim": {"selectors": "s1"}})).is_err());
        assert!(configured_selectors(&json!({"dkim": {"selectors": ["a b"]}})).is_err());
    }

    #[test]
    fn dates() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(selector_date("20250301123456pm"), d(2025, 3, 1));
        assert_eq!(selector_date("s202403"), d(2024, 3, 1));
        assert_eq!(selector_date("2024-q2"), d(2024, 4, 1));
        assert_eq!(selector_date("k1"), None);
        assert_eq!(selector_date("s2048"), None);
        assert_eq!(selector_date("19991231"), None);
        assert_eq!(selector_date("20241332"), None);
        assert_eq!(selector_date("scph1322"), None);
    }
}
