//! The finding codes of the `inventory-drift` checker: one per drift kind
//! (DRIFT001 to DRIFT007), then the inventory's own problems and incomplete
//! checks.

use authwarden_api::{declare_codes, Severity};

declare_codes! {
    /// A source sends mail that passes DMARC but is not in the inventory.
    ///
    /// ## What it checks
    /// Every source that sent mail as the domain in the period (30 days by
    /// default) with aligned SPF or DKIM, according to the DMARC aggregate
    /// reports, is matched against the domain's `[domains.inventory]`: by the
    /// catalog service its DKIM, SPF or envelope domains, its IP (through the
    /// ranges of the SPF includes) or its DKIM selector point to, or by the
    /// `ips` of a named source. A passing source matched by none is reported,
    /// grouped by network (IPv4 /24, IPv6 /48) when it is no known service.
    /// ## Why it matters
    /// Someone was given the right to send as the domain without anybody
    /// writing it down: nobody owns the service, nobody will remove it when
    /// the contract ends, and nobody checks that it keeps DKIM set up.
    /// ## How to fix
    /// Add the source to the inventory with its owner and purpose
    /// (`senders = [{ provider = "...", owner = "...", purpose = "..." }]`),
    /// or stop it sending as the domain (remove its SPF include or DKIM key).
    pub DRIFT_NEW_SENDER = ("DRIFT001", "inventory-new-sender", Severity::Warning);

    /// An inventory entry has not been seen in the aggregate reports for the
    /// stale period.
    ///
    /// ## What it checks
    /// Whether every inventory entry sent at least one message in the last
    /// `stale_days` (90 by default, `[checkers.inventory-drift]`). The check
    /// runs only when the reports cover the whole stale period. The evidence
    /// gives the SPF include that authorizes the entry and the DNS lookups it
    /// costs, counted by the `spf` checker's evaluation.
    /// ## Why it matters
    /// A service nobody uses any more still holds the right to send as the
    /// domain (a risk if the account is taken over), and its SPF include
    /// spends lookups of the limit of ten that services in use need.
    /// ## How to fix
    /// Confirm with the entry's owner that the service is gone, then remove
    /// its include from the SPF record (the help gives the record without it)
    /// and the entry from the inventory. If it sends rarely (a yearly
    /// mailing), raise `stale_days`.
    pub DRIFT_STALE = ("DRIFT002", "inventory-stale-sender", Severity::Note);

    /// A sender of the inventory sends but SPF does not authorize it.
    ///
    /// ## What it checks
    /// For each inventory entry that sent mail in the period: a catalog
    /// service must be authorized by an include of the domain's SPF record
    /// that resolves to the service; a named source's `ips` must be covered
    /// by the ranges the record authorizes (directly or through includes).
    /// ## Why it matters
    /// Its mail fails SPF; unless DKIM aligns for every message, it fails
    /// DMARC and is quarantined or rejected once the policy is enforced.
    /// ## How to fix
    /// Publish the record given in the help: the current record with the
    /// service's documented include (or the source's ranges) added before
    /// `all`, everything else kept. Check the lookup count stays at 10 or
    /// less (`authwarden check --checker spf`).
    pub DRIFT_MISSING_FROM_SPF = ("DRIFT003", "inventory-sender-missing-from-spf", Severity::Warning);

    /// A sender of the inventory sends mail without an aligned DKIM signature.
    ///
    /// ## What it checks
    /// The share of an inventory entry's messages in the period that carry
    /// no passing DKIM signature aligned with the domain. One percent or more
    /// is reported (mail re-sent by forwarders and lists is the forwarder's,
    /// not the entry's, and does not count).
    /// ## Why it matters
    /// Without aligned DKIM the mail depends on SPF alone, which breaks on
    /// every forward; a service that lost its DKIM setup (a rotated key not
    /// published, a new account) shows up here first.
    /// ## How to fix
    /// Configure DKIM signing with `d=` the domain at the service and publish
    /// the selector records it gives (the `dkim` checker then verifies them).
    pub DRIFT_MISSING_DKIM = ("DRIFT004", "inventory-sender-without-dkim", Severity::Warning);

    /// An SPF include matches no inventory entry.
    ///
    /// ## What it checks
    /// Every `include:` of the domain's SPF record (also behind a
    /// `redirect=`) is matched against the inventory: a catalog service's
    /// include belongs to its entry, a named source may list its own in
    /// `includes`. Reports are not needed for this check.
    /// ## Why it matters
    /// The record authorizes someone the organisation does not know about:
    /// a left-over of a past service, or a service added without review. It
    /// costs lookups and widens who may send as the domain.
    /// ## How to fix
    /// Remove the include (the help gives the record without it) or document
    /// the service in the inventory with an owner.
    pub DRIFT_UNEXPLAINED_INCLUDE = ("DRIFT005", "inventory-unexplained-spf-include", Severity::Warning);

    /// Sources unknown to the inventory and the catalog fail DMARC: likely
    /// spoofing.
    ///
    /// ## What it checks
    /// The messages of the period from sources that are neither in the
    /// inventory nor a known service and with nothing aligned (the `unknown-
    /// source` cause of the report classification), with their IPs and
    /// volumes. One finding per domain.
    /// ## Why it matters
    /// Someone sends as the domain without the right to. DMARC at
    /// `p=reject` makes receivers refuse it; before that it may be delivered.
    /// ## How to fix
    /// No SPF or DKIM change is needed: the sources are not yours. Keep the
    /// evidence (IPs, volumes) for threat intelligence and move the domain's
    /// DMARC policy towards `p=reject` (the `rollout-advisor` says when).
    pub DRIFT_SPOOFING = ("DRIFT006", "inventory-spoofing-sources", Severity::Note);

    /// A third-party sender lost its authorization since the last run.
    ///
    /// ## What it checks
    /// The authorizations of the inventory's third-party senders (their SPF
    /// includes, and the DKIM keys at their default selectors) found by the
    /// previous run, kept in `<history>/inventory-drift/authorized.json`,
    /// against those of this run. Reports are not needed for this check.
    /// A lost authorization is remembered there and reported by every run
    /// until it is back in DNS or the sender is removed from the inventory;
    /// an ad-hoc `authwarden check` reads the file but never changes it.
    /// ## Why it matters
    /// The sender is still in the inventory, so its mail is expected; without
    /// the include or the key it now fails SPF or DKIM, and DMARC once the
    /// other one fails too. Typical causes: an SPF record edited by hand, a
    /// DNS migration that dropped records, a provider that renamed its include.
    /// ## How to fix
    /// Restore the record given in the evidence, or remove the sender from
    /// the inventory if it no longer sends for the domain.
    pub DRIFT_AUTHORIZATION_LOST = ("DRIFT007", "inventory-authorization-disappeared", Severity::Error);

    /// The domain's inventory in config cannot be used as written.
    ///
    /// ## What it checks
    /// `[domains.inventory]`: `senders` is a list of tables with a catalog
    /// `provider` id or a `name`, optional `ips` (addresses or CIDR ranges),
    /// `includes` (SPF include domains of a named source), `owner` and
    /// `purpose` (marketing, transactional, internal or other). Unknown
    /// provider ids get a did-you-mean from the provider catalog;
    /// `[checkers.inventory-drift]` takes `stale_days` and `period_days`.
    /// ## Why it matters
    /// An entry that cannot be read is left out, so its mail looks like a new
    /// sender and its includes look unexplained.
    /// ## How to fix
    /// Correct the entry as the message says; `authwarden explain DRIFT008`
    /// lists the keys. The catalog's ids are in `crates/catalog/providers.toml`.
    pub DRIFT_INVENTORY_INVALID = ("DRIFT008", "inventory-invalid", Severity::Error);

    /// Part of the drift check could not run.
    ///
    /// ## What it checks
    /// Whether the SPF record, the DKIM selectors and the checker's state
    /// file could be read. A DNS failure or an unreadable state file skips
    /// the drift kinds that need them; the others still run.
    /// ## Why it matters
    /// Drift that could not be checked is not reported: the result is
    /// incomplete, not clean.
    /// ## How to fix
    /// Retry the run; if it persists, check the domain's name servers or the
    /// permissions of the history folder named in the evidence.
    pub DRIFT_INCOMPLETE = ("DRIFT009", "inventory-check-incomplete", Severity::Warning);
}
