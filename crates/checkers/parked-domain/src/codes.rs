//! The finding codes of the parked-domain checker; their doc comments are
//! the text `authwarden explain PARKnnn` prints.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// A parked domain does not publish exactly `v=spf1 -all`.
    ///
    /// ## What it checks
    /// For a domain marked as parked (`[domains.parked-domain] parked = true`,
    /// or listed in `[checkers.parked-domain] domains`), looks up TXT at the
    /// domain and keeps the strings that start with `v=spf1`. There must be
    /// exactly one, and its only term must be `-all`.
    ///
    /// ## Why it matters
    /// A domain that sends no mail is a favourite for spoofing precisely
    /// because nobody watches it. `v=spf1 -all` tells receivers that no host
    /// may send for it, so SPF fails for every forged message. Any other
    /// mechanism authorizes someone; `~all` or `?all` only asks receivers to
    /// be suspicious; two SPF records are a permanent error (RFC 7208
    /// section 4.5), as good as none.
    ///
    /// ## How to fix
    /// Replace every SPF record of the domain with one:
    /// `example.org. TXT "v=spf1 -all"`.
    pub PARKED_SPF = ("PARK001", "parked-spf-not-reject-all", Severity::Error);

    /// A parked domain's DMARC policy is not `reject` for the domain and its subdomains.
    ///
    /// ## What it checks
    /// For a parked domain, discovers its DMARC record like the dmarc-policy
    /// checker (`_dmarc.<domain>`, else the organizational domain's, whose `sp`
    /// applies) and requires the policy applied to the domain and the
    /// subdomain policy (`sp`, which defaults to `p`) to be `reject`, at
    /// `pct=100` and not in testing mode (`t=y`).
    ///
    /// ## Why it matters
    /// SPF alone does not protect the visible From: address. `p=reject` makes
    /// receivers refuse mail that claims to come from the parked domain, and
    /// `sp=reject` does the same for made-up subdomains like
    /// `billing.example.org`. There is no legitimate mail to lose, so there is
    /// no reason for a softer policy.
    ///
    /// ## How to fix
    /// Publish `_dmarc.example.org. TXT "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s"`
    /// (add `rua=mailto:...` to receive reports about abuse). No DKIM key is
    /// needed: a parked domain signs nothing.
    pub PARKED_DMARC = ("PARK002", "parked-dmarc-not-reject", Severity::Error);

    /// A parked domain does not publish a null MX (`MX 0 .`) as its only MX record.
    ///
    /// ## What it checks
    /// For a parked domain, looks up MX at the domain. It must have exactly
    /// one record, the null MX of RFC 7505: preference 0 and the exchange `.`.
    ///
    /// ## Why it matters
    /// Without any MX, senders fall back to the domain's A record and try to
    /// deliver to it, and bounces to forged addresses pile up on someone's
    /// server. An MX pointing at a real host accepts mail nobody reads. A null
    /// MX says "this domain accepts no mail" so senders fail at once; mixed
    /// with other MX records it is invalid (RFC 7505 section 3.3).
    ///
    /// ## How to fix
    /// Delete the other MX records and publish `example.org. MX 0 .`.
    pub PARKED_NULL_MX = ("PARK003", "parked-null-mx-missing", Severity::Error);

    /// A DNS lookup failed, so the parked domain was not fully checked.
    ///
    /// ## What it checks
    /// Reported when the TXT, MX or DMARC lookup of a parked domain fails
    /// (SERVFAIL, timeout, refused) instead of answering.
    ///
    /// ## Why it matters
    /// The result is unknown: the parked domain may be unprotected.
    ///
    /// ## How to fix
    /// Check that the domain's name servers answer, then run
    /// `authwarden check <domain>` again.
    pub PARKED_CHECK_INCOMPLETE = ("PARK004", "parked-check-incomplete", Severity::Warning);

    /// The domain has no MX, no address and no SPF record: it looks parked but is not marked so.
    ///
    /// ## What it checks
    /// For a domain not marked as parked, looks up MX, A, AAAA and SPF. When
    /// the domain exists but has none of them, it sends and receives no mail
    /// and probably serves nothing. (When a lookup fails, nothing is said.)
    ///
    /// ## Why it matters
    /// Such a domain is unprotected by default: without `v=spf1 -all`,
    /// `p=reject` and a null MX, anyone can send mail in its name and
    /// receivers have nothing to go by.
    ///
    /// ## How to fix
    /// If the domain is meant to send no mail, mark it in the config
    /// (`[domains.parked-domain] parked = true` under its `[[domains]]`
    /// entry) and publish the three records the other PARK codes describe.
    /// If it is in use, set the level of this code to `allow` for it, or
    /// publish its real mail records.
    pub DOMAIN_LOOKS_PARKED = ("PARK005", "domain-looks-parked", Severity::Note);
}
