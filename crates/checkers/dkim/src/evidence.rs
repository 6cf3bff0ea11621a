//! The selectors a domain's own configuration points at: the DKIM selectors
//! of the providers its SPF record includes (`include:` and `redirect=`,
//! following the domain's own include targets two levels down) and of the
//! senders in its inventory (`[domains.inventory]`), from the one provider
//! catalog.
//!
//! They are probed at every run. The whole catalog is probed only on a
//! schedule, on request, or when no selector with evidence has a key
//! (`[checkers.dkim] probe_catalog`): most of its ~35 selectors cannot
//! exist at a given domain, and probing them all at every domain of a fleet
//! is most of the check's DNS traffic.

use std::sync::Arc;

use authwarden_api::domain::organizational_domain;
use authwarden_api::serde_json::Value;
use authwarden_api::{RecordType, Resolver};
use authwarden_catalog::{Catalog, Provider};
use authwarden_spf::eval::{select_record, Fetched};
use authwarden_spf::record::{Mechanism, TermKind};
use tokio::time::Instant;

/// How deep the domain's own include targets are followed.
const MAX_DEPTH: usize = 2;

/// The most SPF records fetched for one domain's evidence.
const MAX_FETCHES: usize = 6;

/// The catalog selectors of the providers the domain's SPF record includes
/// and of its inventory's senders, each once, in that order; with the
/// provider's name.
pub async fn provider_selectors(
    resolver: Arc<dyn Resolver>,
    domain: &str,
    settings: &Value,
    deadline: Instant,
) -> Vec<(String, String)> {
    let catalog = Catalog::builtin();
    let mut providers: Vec<&Provider> = Vec::new();
    let push = |p: &'static Provider, providers: &mut Vec<&'static Provider>| {
        if !providers.iter().any(|q| q.id == p.id) {
            providers.push(p);
        }
    };
    for p in spf_providers(resolver, domain, deadline, catalog).await {
        push(p, &mut providers);
    }
    let (inventory, _) = authwarden_inventory::inventory::parse_inventory(settings, catalog);
    for sender in &inventory.senders {
        if let Some(p) = sender.provider.as_ref().and_then(|p| catalog.by_id(&p.id)) {
            push(p, &mut providers);
        }
        for include in &sender.includes {
            if let Some(p) = catalog.lookup(include) {
                push(p, &mut providers);
            }
        }
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for p in providers {
        for s in &p.dkim_selectors {
            if !out.iter().any(|(name, _)| name == s) {
                out.push((s.clone(), p.name.clone()));
            }
        }
    }
    out
}

/// The catalog providers the SPF record of `domain` names.
async fn spf_providers(
    resolver: Arc<dyn Resolver>,
    domain: &str,
    deadline: Instant,
    catalog: &'static Catalog,
) -> Vec<&'static Provider> {
    let own = organizational_domain(domain);
    let mut out = Vec::new();
    let mut queue = vec![(domain.to_string(), 0usize)];
    let mut fetched = 0;
    while let Some((name, depth)) = queue.pop() {
        if fetched == MAX_FETCHES || Instant::now() >= deadline {
            break;
        }
        fetched += 1;
        let Ok(answer) =
            tokio::time::timeout_at(deadline, resolver.query(&name, RecordType::TXT)).await
        else {
            break;
        };
        let Fetched::Record {
            parsed: Ok(record), ..
        } = select_record(&answer)
        else {
            continue;
        };
        let targets = record.terms.iter().filter_map(|t| match &t.kind {
            TermKind::Directive(_, Mechanism::Include(spec)) => spec.domain(),
            _ => None,
        });
        let redirect = record.redirect().and_then(|(_, spec)| spec.domain());
        for target in targets.chain(redirect) {
            match catalog.lookup(&target) {
                Some(p) => out.push(p),
                None if depth < MAX_DEPTH && organizational_domain(&target) == own => {
                    queue.insert(0, (target, depth + 1));
                }
                None => {}
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::serde_json::json;
    use authwarden_api::{async_trait, DnsAnswer, DnsOutcome, Rdata};
    use std::collections::HashMap;
    use std::time::Duration;

    struct Txt(HashMap<&'static str, &'static str>);

    #[async_trait]
    impl Resolver for Txt {
        async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
            let outcome = match (rtype, self.0.get(name)) {
                (RecordType::TXT, Some(t)) => {
                    DnsOutcome::Records(vec![Rdata::Txt(vec![t.as_bytes().to_vec()])])
                }
                _ => DnsOutcome::NxDomain,
            };
            DnsAnswer {
                name: name.to_string(),
                rtype,
                cname_chain: Vec::new(),
                outcome,
            }
        }
    }

    fn deadline() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    #[tokio::test]
    async fn includes_own_includes_and_inventory_name_their_providers() {
        let resolver = Arc::new(Txt(HashMap::from([
            (
                "example.org",
                "v=spf1 include:_spf.example.org include:_spf.google.com -all",
            ),
            (
                "_spf.example.org",
                "v=spf1 include:spf.protection.outlook.com ip4:192.0.2.1 -all",
            ),
        ])));
        let settings = json!({"inventory": {"senders": [{"provider": "mailchimp"}]}});
        let got = provider_selectors(resolver, "example.org", &settings, deadline()).await;
        let names: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert!(names.contains(&"google"), "{names:?}");
        assert!(names.contains(&"selector1"), "{names:?}");
        assert!(names.contains(&"k1"), "{names:?}");
        // Google's comes first: the domain's own include target is followed
        // after the top-level terms.
        assert_eq!(names[0], "google", "{names:?}");
    }

    #[tokio::test]
    async fn no_spf_and_no_inventory_name_nothing() {
        let resolver = Arc::new(Txt(HashMap::new()));
        let got = provider_selectors(resolver, "example.org", &json!({}), deadline()).await;
        assert!(got.is_empty(), "{got:?}");
    }

    #[tokio::test]
    async fn foreign_unknown_includes_are_not_followed() {
        let resolver = Arc::new(Txt(HashMap::from([
            ("example.org", "v=spf1 include:spf.unknown.example -all"),
            ("spf.unknown.example", "v=spf1 include:_spf.google.com -all"),
        ])));
        let got = provider_selectors(resolver, "example.org", &json!({}), deadline()).await;
        assert!(got.is_empty(), "{got:?}");
    }
}
