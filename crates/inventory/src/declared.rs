//! Which declared senders DNS authorizes now, and which not: the one answer
//! the inventory-drift checker (DRIFT003, DRIFT007) and the rollout advisor
//! (which holds while a declared sender is not authorized) share, so that
//! the two never disagree about the same sender.
//!
//! A sender is authorized by SPF when an include of the domain's record
//! that belongs to it works (catalog services, named sources with
//! `includes`) or, for a named source with `ips`, when the record's ranges
//! cover all of them. Its DKIM keys are those published at its catalog
//! provider's default selectors, and at the selectors the caller saw it
//! sign with (from the aggregate reports). Failed lookups are unknown, not
//! missing.

use std::collections::{BTreeMap, BTreeSet};

use authwarden_api::Resolver;
use authwarden_catalog::Catalog;

use crate::authorization::{dkim_key_published, SpfView};
use crate::inventory::{Cidr, Inventory, Sender};

/// What DNS authorizes of one declared sender now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderAuthorization {
    /// The inventory sender's id.
    pub sender: String,
    /// True for a third-party service ([`Sender::third_party`]).
    pub third_party: bool,
    /// The targets of the working includes of the record that belong to it.
    pub includes: Vec<String>,
    /// Its `ips` the record's ranges do not cover.
    pub uncovered: Vec<Cidr>,
    /// True when SPF authorizes it (see the module documentation).
    pub spf_authorized: bool,
    /// The SPF terms that would authorize it, when SPF does not: its
    /// provider's documented include (or SPF term), the first of its own
    /// `includes`, the terms of its uncovered ranges. Empty when SPF
    /// authorizes it or nothing documents the term.
    pub spf_missing: Vec<String>,
    /// False when the SPF record could not be read: the SPF fields are then
    /// unknown.
    pub spf_known: bool,
    /// The selectors probed, catalog defaults first.
    pub dkim_probed: Vec<String>,
    /// The selectors with a published key.
    pub dkim_keys: Vec<String>,
    /// The selectors whose lookup failed, with the failure.
    pub dkim_failed: Vec<(String, String)>,
}

impl SenderAuthorization {
    /// True when DNS shows no authorization of the sender at all (no SPF
    /// authorization, no DKIM key) and every lookup that could show one
    /// worked: its mail cannot pass DMARC.
    pub fn unauthorized(&self) -> bool {
        self.spf_known
            && !self.spf_authorized
            && self.dkim_keys.is_empty()
            && self.dkim_failed.is_empty()
    }

    /// True when the DKIM lookups worked and found no key at any selector
    /// probed (false when nothing was probed: then nothing is known).
    pub fn dkim_missing(&self) -> bool {
        !self.dkim_probed.is_empty() && self.dkim_keys.is_empty() && self.dkim_failed.is_empty()
    }

    /// The authorizations DRIFT007 remembers for a third-party sender:
    /// `include:<target>` and `dkim:<selector>`.
    pub fn mechanisms(&self) -> Vec<String> {
        if !self.third_party {
            return Vec::new();
        }
        self.includes
            .iter()
            .map(|t| format!("include:{t}"))
            .chain(self.dkim_keys.iter().map(|s| format!("dkim:{s}")))
            .collect()
    }
}

/// What DNS authorizes of every declared sender of a domain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorizations {
    /// One entry per inventory sender, in inventory order.
    pub senders: Vec<SenderAuthorization>,
}

impl Authorizations {
    /// Reads what DNS authorizes of each sender of `inventory`: the SPF
    /// side from `spf` (fetched by the caller, who needs it anyway), the
    /// DKIM keys by looking up each sender's provider selectors and the
    /// `extra_selectors` given for it (by sender id).
    pub async fn fetch(
        resolver: &dyn Resolver,
        domain: &str,
        inventory: &Inventory,
        catalog: &Catalog,
        spf: &SpfView,
        extra_selectors: &BTreeMap<String, BTreeSet<String>>,
    ) -> Authorizations {
        let mut senders = Vec::with_capacity(inventory.senders.len());
        for sender in &inventory.senders {
            let mut a = spf_side(sender, catalog, spf);
            let mut selectors: Vec<String> = sender
                .provider
                .as_ref()
                .map(|p| p.dkim_selectors.clone())
                .unwrap_or_default();
            for s in extra_selectors.get(&sender.id).into_iter().flatten() {
                if !selectors.contains(s) {
                    selectors.push(s.clone());
                }
            }
            for sel in selectors {
                match dkim_key_published(resolver, domain, &sel).await {
                    Ok(true) => a.dkim_keys.push(sel.clone()),
                    Ok(false) => {}
                    Err(e) => a.dkim_failed.push((sel.clone(), e)),
                }
                a.dkim_probed.push(sel);
            }
            senders.push(a);
        }
        Authorizations { senders }
    }

    /// The entry of the sender with this id.
    pub fn sender(&self, id: &str) -> Option<&SenderAuthorization> {
        self.senders.iter().find(|s| s.sender == id)
    }

    /// The third-party authorizations found, as (sender, mechanism),
    /// sorted: what DRIFT007 compares from run to run.
    pub fn third_party_mechanisms(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .senders
            .iter()
            .flat_map(|s| s.mechanisms().into_iter().map(|m| (s.sender.clone(), m)))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// (sender, selector) of every published key, in inventory order.
    pub fn dkim_published(&self) -> Vec<(String, String)> {
        self.senders
            .iter()
            .flat_map(|s| s.dkim_keys.iter().map(|k| (s.sender.clone(), k.clone())))
            .collect()
    }

    /// The senders whose DKIM lookups failed.
    pub fn dkim_unknown(&self) -> BTreeSet<String> {
        self.senders
            .iter()
            .filter(|s| !s.dkim_failed.is_empty())
            .map(|s| s.sender.clone())
            .collect()
    }
}

/// The one sentence for the DKIM work a sender's mail needs, shared by the
/// checkers so that the plan lists it once: `configure DKIM signing with
/// d=<domain> at <Provider>` when none of its mail is signed aligned,
/// `make DKIM sign all of its mail with d=<domain> at <Provider>` when some
/// is (`for <id>` instead of `at <Provider>` for a named source).
pub fn dkim_signing_action(domain: &str, sender: &Sender, signs_some: bool) -> String {
    let at = match &sender.provider {
        Some(p) => format!("at {}", p.name),
        None => format!("for {}", sender.id),
    };
    if signs_some {
        format!("make DKIM sign all of its mail with d={domain} {at}")
    } else {
        format!("configure DKIM signing with d={domain} {at}")
    }
}

/// The SPF fields of one sender's entry.
fn spf_side(sender: &Sender, catalog: &Catalog, spf: &SpfView) -> SenderAuthorization {
    let mut includes: Vec<String> = spf
        .includes
        .iter()
        .filter(|i| i.working && sender.owns_include(&i.target, catalog))
        .map(|i| i.target.clone())
        .collect();
    includes.dedup();
    let uncovered: Vec<Cidr> = sender
        .ips
        .iter()
        .filter(|c| !spf.covers(c))
        .copied()
        .collect();
    let (spf_authorized, spf_missing) = match &sender.provider {
        Some(p) => {
            let ok = !includes.is_empty();
            let missing = if ok {
                Vec::new()
            } else {
                p.spf_include()
                    .map(|d| format!("include:{d}"))
                    .or_else(|| p.spf.clone())
                    .into_iter()
                    .collect()
            };
            (ok, missing)
        }
        None => {
            let mut missing: Vec<String> = Vec::new();
            if !sender.includes.is_empty() && includes.is_empty() {
                missing.push(format!("include:{}", sender.includes[0]));
            }
            missing.extend(uncovered.iter().map(Cidr::spf_term));
            (missing.is_empty(), missing)
        }
    };
    SenderAuthorization {
        sender: sender.id.clone(),
        third_party: sender.third_party(),
        includes,
        uncovered,
        spf_authorized,
        spf_missing,
        spf_known: spf.failure.is_none(),
        dkim_probed: Vec::new(),
        dkim_keys: Vec::new(),
        dkim_failed: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::parse_inventory;
    use authwarden_api::serde_json::json;
    use authwarden_zone::ZoneResolver;

    const PROVIDERS: &str = "$ORIGIN sendgrid.net.\n@ TXT \"v=spf1 ip4:167.89.0.0/17 ~all\"\n\
        $ORIGIN mailhost.example.\n_spf TXT \"v=spf1 ip4:198.51.100.0/24 ~all\"\n";

    async fn check(zone: &str, extra: &[(&str, &str)]) -> Authorizations {
        let resolver = ZoneResolver::from_str(&format!("{zone}\n{PROVIDERS}")).unwrap();
        let catalog = Catalog::builtin();
        let (inventory, problems) = parse_inventory(
            &json!({"inventory": {"senders": [
                {"provider": "sendgrid"},
                {"name": "mailhost", "includes": ["_spf.mailhost.example"]},
                {"name": "crm", "ips": ["192.0.2.0/24", "203.0.113.0/24"]},
            ]}}),
            catalog,
        );
        assert!(problems.is_empty(), "{problems:?}");
        let spf = SpfView::fetch(&resolver, "example.org").await;
        let mut extras: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (s, sel) in extra {
            extras
                .entry(s.to_string())
                .or_default()
                .insert(sel.to_string());
        }
        Authorizations::fetch(&resolver, "example.org", &inventory, catalog, &spf, &extras).await
    }

    #[tokio::test]
    async fn authorized_senders_and_what_the_others_miss() {
        let all = check(
            "$ORIGIN example.org.\n\
             @ TXT \"v=spf1 include:sendgrid.net include:_spf.mailhost.example ip4:192.0.2.0/24 -all\"\n\
             s1._domainkey TXT \"v=DKIM1; p=MIIB\"\n\
             mail._domainkey TXT \"v=DKIM1; p=MIIB\"\n",
            &[("mailhost", "mail")],
        )
        .await;
        let sg = all.sender("sendgrid").unwrap();
        assert!(sg.spf_authorized && !sg.unauthorized());
        assert_eq!(sg.includes, ["sendgrid.net"]);
        assert_eq!(sg.dkim_keys, ["s1"]);
        assert_eq!(sg.dkim_probed, ["s1", "s2", "smtpapi"]);
        let mh = all.sender("mailhost").unwrap();
        assert!(
            mh.spf_authorized && mh.third_party,
            "a named source with includes"
        );
        assert_eq!(mh.dkim_keys, ["mail"], "a selector the caller saw it use");
        // One of the CRM's two ranges is not in the record.
        let crm = all.sender("crm").unwrap();
        assert!(!crm.spf_authorized);
        assert_eq!(crm.spf_missing, ["ip4:203.0.113.0/24"]);
        assert_eq!(
            all.third_party_mechanisms(),
            [
                ("mailhost".to_string(), "dkim:mail".to_string()),
                (
                    "mailhost".to_string(),
                    "include:_spf.mailhost.example".to_string()
                ),
                ("sendgrid".to_string(), "dkim:s1".to_string()),
                ("sendgrid".to_string(), "include:sendgrid.net".to_string()),
            ]
        );

        // SendGrid's include and key gone: nothing authorizes it any more.
        let after = check(
            "$ORIGIN example.org.\n\
             @ TXT \"v=spf1 include:_spf.mailhost.example ip4:192.0.2.0/24 -all\"\n",
            &[],
        )
        .await;
        let sg = after.sender("sendgrid").unwrap();
        assert!(sg.unauthorized() && sg.dkim_missing());
        assert_eq!(sg.spf_missing, ["include:sendgrid.net"]);
        // The mail host without its include is missing it too.
        let mh = after.sender("mailhost").unwrap();
        assert!(mh.spf_authorized);
        let without = check("$ORIGIN example.org.\n@ TXT \"v=spf1 -all\"\n", &[]).await;
        let mh = without.sender("mailhost").unwrap();
        assert_eq!(mh.spf_missing, ["include:_spf.mailhost.example"]);
        assert!(mh.unauthorized(), "nothing probed, no key, no SPF");
    }

    #[tokio::test]
    async fn a_failed_lookup_is_unknown_not_missing() {
        let resolver = ZoneResolver::from_str(&format!(
            "$ORIGIN example.org.\n@ TXT \"v=spf1 -all\"\n{PROVIDERS}"
        ))
        .unwrap()
        .fail(
            "s1._domainkey.example.org",
            Some(authwarden_api::RecordType::TXT),
            authwarden_api::DnsFailure::Timeout,
        );
        let catalog = Catalog::builtin();
        let (inventory, _) = parse_inventory(
            &json!({"inventory": {"senders": [{"provider": "sendgrid"}]}}),
            catalog,
        );
        let spf = SpfView::fetch(&resolver, "example.org").await;
        let a = Authorizations::fetch(
            &resolver,
            "example.org",
            &inventory,
            catalog,
            &spf,
            &BTreeMap::new(),
        )
        .await;
        let sg = a.sender("sendgrid").unwrap();
        assert_eq!(sg.dkim_failed.len(), 1);
        assert!(!sg.unauthorized() && !sg.dkim_missing());
        assert_eq!(a.dkim_unknown().len(), 1);
    }
}
