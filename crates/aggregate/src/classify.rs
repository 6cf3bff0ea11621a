//! Classification of every record (Workflow 3): DMARC alignment computed
//! from `auth_results` against the published `adkim`/`aspf`, compared with
//! the reporter's `policy_evaluated`, then a [`Category`], a [`Cause`], the
//! sending service when it is known and a suggested action.
//!
//! The decision, in order (the first that applies wins):
//!
//! 1. SPF and DKIM both aligned: **pass** / `aligned`.
//! 2. The receiver overrode the policy (`<reason>`): **partial** /
//!    `mailing-list`, `forwarded` (also `trusted_forwarder`), `arc-override`
//!    (a reason or comment naming ARC) or `local-policy-override`.
//! 3. Signs of a mailing list: a host of the catalog of kind
//!    `mailing-list`, or the author's DKIM signature broken while another
//!    domain's signature passes (a list that rewrote and re-signed):
//!    **partial** / `mailing-list`.
//! 4. Only SPF aligned: **partial** / `spf-only`; only DKIM aligned:
//!    **partial** / `dkim-only` (typically SPF broken by forwarding).
//! 5. Nothing aligned, from a service of the [`Catalog`]: **fail** /
//!    `known-service-missing-spf` when SPF was checked against the domain's
//!    own envelope and did not pass (the service is not in the SPF record),
//!    else `known-service-missing-dkim` (the service signs with its own
//!    domain and bounces to its own: only DKIM for the domain can align).
//! 6. Anything else: **fail** / `unknown-source`, likely spoofing.
//!
//! When a report has no `auth_results` entry for a mechanism, the
//! reporter's verdict in `policy_evaluated` stands in for it; when it has,
//! our own computation wins and [`Classification::reporter_agrees`] says
//! whether the reporter saw it the same way.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};

use authwarden_catalog::{Catalog, Provider, ProviderKind};
use serde::{Serialize, Serializer};

use crate::types::*;

/// The three outcomes of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// SPF and DKIM both aligned: nothing to do.
    Pass,
    /// One mechanism aligned, or the receiver accepted the message for a
    /// known reason (forwarding, mailing list, ARC).
    Partial,
    /// Nothing aligned: a service that is not set up, or spoofing.
    Fail,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 3] = [Category::Pass, Category::Partial, Category::Fail];

    /// `pass`, `partial` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Pass => "pass",
            Category::Partial => "partial",
            Category::Fail => "fail",
        }
    }
}

impl std::fmt::Display for Category {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why a record is in its category. The kebab-case [`Cause::code`] is
/// stable: it is in the JSON of `reports analyze` and in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// `aligned` (pass): SPF and DKIM both pass and align with the From
    /// domain. Nothing to do.
    Aligned,
    /// `forwarded` (partial): the receiver says the message was forwarded
    /// (`<reason><type>forwarded</type>` or `trusted_forwarder`); SPF breaks
    /// on forwarding by design. Accept it; keep DKIM signing everything.
    Forwarded,
    /// `mailing-list` (partial): a mailing list re-sent the message (a
    /// `mailing_list` reason, a list host of the catalog, or the author's
    /// DKIM signature broken while the list's own signature passes).
    /// Accept it, or ask the list to rewrite From or to sign with ARC.
    MailingList,
    /// `arc-override` (partial): the receiver trusted an ARC chain of an
    /// intermediary and overrode the DMARC result. Nothing to do.
    ArcOverride,
    /// `local-policy-override` (partial): the receiver's local policy
    /// overrode the DMARC result (`local_policy` without ARC). Read the
    /// reason's comment; usually nothing to do.
    LocalPolicyOverride,
    /// `spf-only` (partial): SPF aligns, DKIM is missing, failing or signed
    /// by another domain. Configure DKIM signing for the From domain, or
    /// forwarded copies of these messages will fail.
    SpfOnly,
    /// `dkim-only` (partial): DKIM aligns, SPF fails or checked another
    /// domain (typical of forwarding, or of a service bouncing to its own
    /// domain). Accept forwarding, or authorise the source in SPF / set a
    /// custom return-path at the service.
    DkimOnly,
    /// `known-service-missing-spf` (fail): a service of the catalog sends
    /// with the domain's own envelope, SPF does not authorise it and DKIM
    /// does not align. Add the service to the SPF record.
    KnownServiceMissingSpf,
    /// `known-service-missing-dkim` (fail): a service of the catalog sends
    /// with its own envelope and signs (if at all) with its own domain, so
    /// nothing aligns. Configure DKIM signing for the From domain at the
    /// service.
    KnownServiceMissingDkim,
    /// `unknown-source` (fail): nothing aligns and the source is no known
    /// service: likely spoofing. No SPF or DKIM change is needed; document
    /// the source IPs (CSV export for threat intelligence).
    UnknownSource,
}

impl Cause {
    /// Every cause, in report order.
    pub const ALL: [Cause; 10] = [
        Cause::Aligned,
        Cause::Forwarded,
        Cause::MailingList,
        Cause::ArcOverride,
        Cause::LocalPolicyOverride,
        Cause::SpfOnly,
        Cause::DkimOnly,
        Cause::KnownServiceMissingSpf,
        Cause::KnownServiceMissingDkim,
        Cause::UnknownSource,
    ];

    /// The stable kebab-case code, e.g. `known-service-missing-spf`.
    pub fn code(self) -> &'static str {
        match self {
            Cause::Aligned => "aligned",
            Cause::Forwarded => "forwarded",
            Cause::MailingList => "mailing-list",
            Cause::ArcOverride => "arc-override",
            Cause::LocalPolicyOverride => "local-policy-override",
            Cause::SpfOnly => "spf-only",
            Cause::DkimOnly => "dkim-only",
            Cause::KnownServiceMissingSpf => "known-service-missing-spf",
            Cause::KnownServiceMissingDkim => "known-service-missing-dkim",
            Cause::UnknownSource => "unknown-source",
        }
    }

    /// The cause with this code.
    pub fn from_code(code: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The category the cause belongs to.
    pub fn category(self) -> Category {
        match self {
            Cause::Aligned => Category::Pass,
            Cause::Forwarded
            | Cause::MailingList
            | Cause::ArcOverride
            | Cause::LocalPolicyOverride
            | Cause::SpfOnly
            | Cause::DkimOnly => Category::Partial,
            Cause::KnownServiceMissingSpf
            | Cause::KnownServiceMissingDkim
            | Cause::UnknownSource => Category::Fail,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Cause {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// The verdict on one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// Pass, partial or fail.
    pub category: Category,
    /// Why.
    pub cause: Cause,
    /// The known service or list host the source belongs to, by name.
    pub provider: Option<String>,
    /// What to do, in one sentence.
    pub action: String,
    /// A DKIM signature passed and aligned with the From domain.
    pub dkim_aligned: bool,
    /// SPF passed for a domain aligned with the From domain.
    pub spf_aligned: bool,
    /// The reporter's `policy_evaluated` verdicts (where given) match ours.
    pub reporter_agrees: bool,
}

/// Classifies records against a provider [`Catalog`]. Cheap to create and
/// to share between threads.
#[derive(Debug, Clone, Copy)]
pub struct Classifier<'c> {
    catalog: &'c Catalog,
}

impl Default for Classifier<'static> {
    fn default() -> Self {
        Classifier {
            catalog: Catalog::builtin(),
        }
    }
}

impl<'c> Classifier<'c> {
    /// A classifier using `catalog` (e.g. the built-in one extended with the
    /// organisation's inventory).
    pub fn new(catalog: &'c Catalog) -> Self {
        Classifier { catalog }
    }

    /// The catalog in use.
    pub fn catalog(&self) -> &'c Catalog {
        self.catalog
    }

    /// Classifies one record of a report that published `policy`.
    pub fn classify(&self, policy: &PolicyPublished, record: &Record) -> Classification {
        self.classify_with_ptr(policy, record, None)
    }

    /// Like [`Classifier::classify`], with the reverse-DNS (PTR) name of the
    /// source IP when it is known: it identifies services whose
    /// `auth_results` name only the customer's domains.
    pub fn classify_with_ptr(
        &self,
        policy: &PolicyPublished,
        record: &Record,
        ptr: Option<&str>,
    ) -> Classification {
        let raw_from = match record.identifiers.header_from.trim() {
            "" => policy.domain.as_str(),
            from => from,
        };
        let from = normalize(raw_from);
        let from_org = OrgOf::new(&from);
        let strict_dkim = policy.adkim == Some(Alignment::Strict);
        let strict_spf = policy.aspf == Some(Alignment::Strict);

        // Providers are looked for among the domains outside the From
        // domain's organization.
        let mut provider: Option<&Provider> = None;
        let mut note_foreign = |domain: &str| {
            if provider.is_none() {
                provider = self.catalog.lookup(domain);
            }
        };

        let mut dkim_aligned = false;
        let mut author_signature_broken = false;
        let mut foreign_signature_passed = false;
        for sig in &record.auth_results.dkim {
            let d = normalize(&sig.domain);
            if d.is_empty() {
                continue;
            }
            let same_org = from_org.contains(&d);
            let aligned = if strict_dkim { d == from } else { same_org };
            let pass = sig.result == Some(DkimResult::Pass);
            match (aligned, pass) {
                (true, true) => dkim_aligned = true,
                (true, false) => {
                    author_signature_broken |= !matches!(sig.result, None | Some(DkimResult::None))
                }
                (false, true) => foreign_signature_passed = true,
                (false, false) => {}
            }
            if !same_org {
                note_foreign(&d);
            }
        }
        if record.auth_results.dkim.is_empty() {
            dkim_aligned = record.policy_evaluated.dkim == Some(DmarcResult::Pass);
        }

        let envelope = record
            .identifiers
            .envelope_from
            .as_deref()
            .map(normalize)
            .filter(|e| !e.is_empty());
        let mut spf_aligned = false;
        let mut own_envelope_unauthorised = false;
        for spf in &record.auth_results.spf {
            let d = normalize(&spf.domain);
            if d.is_empty() {
                continue;
            }
            // HELO counts for DMARC only when the envelope sender is empty.
            if spf.scope == Some(SpfScope::Helo) && envelope.as_ref().is_some_and(|e| *e != d) {
                continue;
            }
            let same_org = from_org.contains(&d);
            let aligned = if strict_spf { d == from } else { same_org };
            let pass = spf.result == Some(SpfResult::Pass);
            if aligned && pass {
                spf_aligned = true;
            } else if same_org && !pass {
                own_envelope_unauthorised = true;
            }
            if !same_org {
                note_foreign(&d);
            }
        }
        if record.auth_results.spf.is_empty() {
            spf_aligned = record.policy_evaluated.spf == Some(DmarcResult::Pass);
            own_envelope_unauthorised =
                !spf_aligned && envelope.as_ref().is_some_and(|e| from_org.contains(e));
        }
        if let Some(e) = &envelope {
            if !from_org.contains(e) {
                note_foreign(e);
            }
        }
        if let Some(ptr) = ptr {
            let ptr = normalize(ptr);
            if !ptr.is_empty() && !from_org.contains(&ptr) {
                note_foreign(&ptr);
            }
        }

        let reporter_agrees = [
            (&record.policy_evaluated.dkim, dkim_aligned),
            (&record.policy_evaluated.spf, spf_aligned),
        ]
        .iter()
        .all(|(reported, ours)| match reported {
            Some(DmarcResult::Pass) => *ours,
            Some(DmarcResult::Fail) => !*ours,
            _ => true,
        });

        let list_host = provider.is_some_and(|p| p.kind == ProviderKind::MailingList);
        let cause = if dkim_aligned && spf_aligned {
            Cause::Aligned
        } else if let Some(cause) = override_cause(&record.policy_evaluated.reasons) {
            cause
        } else if list_host || (author_signature_broken && foreign_signature_passed) {
            Cause::MailingList
        } else if spf_aligned {
            Cause::SpfOnly
        } else if dkim_aligned {
            Cause::DkimOnly
        } else if provider.is_some() {
            if own_envelope_unauthorised {
                Cause::KnownServiceMissingSpf
            } else {
                Cause::KnownServiceMissingDkim
            }
        } else {
            Cause::UnknownSource
        };
        let envelope_domain = envelope.as_deref().unwrap_or(&from);
        Classification {
            category: cause.category(),
            cause,
            action: action(cause, provider, &from, envelope_domain),
            provider: provider.map(|p| p.name.clone()),
            dkim_aligned,
            spf_aligned,
            reporter_agrees,
        }
    }
}

/// The organizational domain of the From domain, computed on first use:
/// records whose auth domains equal the From domain never need it.
struct OrgOf<'a> {
    from: &'a str,
    org: OnceCell<Cow<'a, str>>,
}

impl<'a> OrgOf<'a> {
    fn new(from: &'a str) -> Self {
        OrgOf {
            from,
            org: OnceCell::new(),
        }
    }

    /// `domain` is in the From domain's organization (relaxed alignment).
    fn contains(&self, domain: &str) -> bool {
        if domain == self.from {
            return true;
        }
        let org: &str = self.org.get_or_init(|| org_domain(self.from));
        // A cheap rejection before the public-suffix lookup: the domain must
        // be the organizational domain or end in `.<org>`.
        let candidate = domain == org
            || (domain.len() > org.len()
                && domain.ends_with(org)
                && domain.as_bytes()[domain.len() - org.len() - 1] == b'.');
        candidate && org_domain(domain) == org
    }
}

/// How many names [`org_domain`] remembers, per thread.
const ORG_CACHE_SLOTS: usize = 64;

thread_local! {
    /// Recently looked-up names and where their organizational domain lies
    /// in them (start, length). The records of a report repeat the same few
    /// From, DKIM and envelope domains, and comparing a name with a slot is
    /// much cheaper than normalizing it and walking the public-suffix list.
    /// Per thread, so that a [`Classifier`] stays `Copy` and shareable.
    static ORG_CACHE: RefCell<[(String, usize, usize); ORG_CACHE_SLOTS]> =
        const { RefCell::new([const { (String::new(), 0, 0) }; ORG_CACHE_SLOTS]) };
}

/// The organizational domain of `name`, exactly as
/// [`authwarden_api::domain::organizational_domain`] computes it, from the
/// per-thread cache when the name was seen recently.
fn org_domain(name: &str) -> Cow<'_, str> {
    // FNV-1a: names are short, and a slot is only a hint (the name is compared).
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let slot = (hash % ORG_CACHE_SLOTS as u64) as usize;
    let hit = ORG_CACHE.with_borrow(|cache| {
        let (cached, start, len) = &cache[slot];
        (cached == name).then_some((*start, *len))
    });
    if let Some((start, len)) = hit {
        return Cow::Borrowed(&name[start..start + len]);
    }
    let org = org_domain_uncached(name);
    // Longer than any DNS name: not worth keeping (and the cache stays small).
    if name.len() > 255 {
        return org;
    }
    if let Cow::Borrowed(org) = org {
        // A slice of `name`: remember where.
        let start = org.as_ptr() as usize - name.as_ptr() as usize;
        ORG_CACHE.with_borrow_mut(|cache| {
            let entry = &mut cache[slot];
            name.clone_into(&mut entry.0);
            entry.1 = start;
            entry.2 = org.len();
        });
    }
    org
}

/// The organizational domain of `name`, exactly as
/// [`authwarden_api::domain::organizational_domain`] computes it, but
/// borrowed from `name` when that is already normalized (always, here):
/// two allocations per lookup cost more than the lookup itself.
fn org_domain_uncached(name: &str) -> Cow<'_, str> {
    match normalize(name) {
        Cow::Borrowed(n) => Cow::Borrowed(psl::domain_str(n).unwrap_or(n)),
        Cow::Owned(n) => match psl::domain_str(&n) {
            Some(d) => Cow::Owned(d.to_owned()),
            None => Cow::Owned(n),
        },
    }
}

/// Lower case, no surrounding space, no trailing dot; borrowed when already so.
fn normalize(name: &str) -> Cow<'_, str> {
    let t = crate::types::trim(name).trim_end_matches('.');
    if t.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(t.to_ascii_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

/// The partial cause a receiver's override reasons point to; with several
/// reasons, the first in the order of [`Cause`] (forwarded, mailing list,
/// ARC, local policy) wins. `sampled_out` and `other` point nowhere.
fn override_cause(reasons: &[OverrideReason]) -> Option<Cause> {
    reasons
        .iter()
        .filter_map(|r| {
            let arc =
                mentions_arc(r.kind.as_str()) || r.comment.as_deref().is_some_and(mentions_arc);
            match &r.kind {
                PolicyOverride::MailingList => Some(Cause::MailingList),
                PolicyOverride::Forwarded | PolicyOverride::TrustedForwarder => {
                    Some(Cause::Forwarded)
                }
                _ if arc => Some(Cause::ArcOverride),
                PolicyOverride::LocalPolicy => Some(Cause::LocalPolicyOverride),
                _ => None,
            }
        })
        .min()
}

/// `arc` as a word: `arc=pass`, `ARC chain`, `arc_override`.
fn mentions_arc(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w.eq_ignore_ascii_case("arc"))
}

fn action(cause: Cause, provider: Option<&Provider>, from: &str, envelope: &str) -> String {
    let at = provider
        .map(|p| format!(" at {}", p.name))
        .unwrap_or_default();
    let name = provider.map(|p| p.name.as_str()).unwrap_or("the service");
    match cause {
        Cause::Aligned => "none: SPF and DKIM both align".into(),
        Cause::Forwarded => {
            "none needed: the receiver recognised forwarding; keep DKIM signing all mail so that forwarded copies pass".into()
        }
        Cause::MailingList => {
            "none needed: a mailing list re-sent the message; accept it, or ask the list to rewrite From or sign with ARC".into()
        }
        Cause::ArcOverride => {
            "none needed: the receiver trusted the ARC chain of an intermediary".into()
        }
        Cause::LocalPolicyOverride => {
            "none needed: the receiver's local policy overrode DMARC; read the reason's comment".into()
        }
        Cause::SpfOnly => format!(
            "configure DKIM signing with d={from}{at}: only SPF aligns, so forwarded copies will fail"
        ),
        Cause::DkimOnly => match provider {
            Some(p) => format!(
                "accept it (DKIM aligns), or set a custom return-path under {from} at {}",
                p.name
            ),
            None => "accept forwarding (DKIM aligns), or authorise the source in SPF if it is yours"
                .into(),
        },
        Cause::KnownServiceMissingSpf => match provider.and_then(|p| p.spf.as_deref()) {
            Some(spf) => format!(
                "update SPF: add {spf} to the SPF record of {envelope} so that {name} is authorised, and configure DKIM signing with d={from}{at}"
            ),
            None => format!(
                "update SPF: authorise {name} in the SPF record of {envelope}, and configure DKIM signing with d={from}{at}"
            ),
        },
        Cause::KnownServiceMissingDkim => format!(
            "configure DKIM signing with d={from}{at} and publish its selector records; {name} sends with its own envelope, so SPF cannot align"
        ),
        Cause::UnknownSource => {
            "likely spoofing: no SPF or DKIM change needed; document the source IPs (CSV export for threat intelligence) and move towards p=reject".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::domain::organizational_domain;

    #[test]
    fn cause_codes_are_unique_kebab_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in Cause::ALL {
            assert!(seen.insert(c.code()));
            assert!(c
                .code()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert_eq!(Cause::from_code(c.code()), Some(c));
        }
        for cat in Category::ALL {
            assert!(Cause::ALL.iter().any(|c| c.category() == cat));
        }
    }

    #[test]
    fn org_domain_matches_the_api() {
        for name in [
            "example.com",
            "Mail.Example.COM.",
            " bounce.example.co.uk ",
            "a.b.c.example.org",
            "com",
            "co.uk",
            "localhost",
            "",
            ".",
            " a. .",
            "x.blogspot.com",
            "a.x.blogspot.com",
            "1.2.3.4",
            "münchen.de",
            "a.xn--mnchen-3ya.de",
        ] {
            assert_eq!(
                org_domain_uncached(name),
                organizational_domain(name),
                "{name:?}"
            );
            // Twice: the second answer comes from the cache.
            assert_eq!(org_domain(name), organizational_domain(name), "{name:?}");
            assert_eq!(org_domain(name), organizational_domain(name), "{name:?}");
        }
    }

    #[test]
    fn arc_is_a_word() {
        assert!(mentions_arc("arc=pass"));
        assert!(mentions_arc("arc_override"));
        assert!(mentions_arc("ARC chain validated"));
        assert!(!mentions_arc("search"));
    }
}
