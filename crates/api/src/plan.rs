//! Changes a checker proposes: the typed input of the plan.
//!
//! A checker that knows how to resolve one of its findings says so as a
//! [`Proposal`] in [`crate::CheckOutput::proposals`] instead of (only) in the
//! finding's help text. The pipeline's plan stage merges every proposal of a
//! domain into one change per DNS name and type (one `_dmarc` TXT record, one
//! SPF record, ...), applies the rollout decision (a [`Change::Hold`] drops
//! every strengthening of `p`, `sp`, `pct` and `t` at that name), verifies the
//! merged plan against a zone overlay and shows it as the report's next
//! steps and as `authwarden plan`.
//!
//! Proposals are edits, not whole records, wherever edits combine: a fix of
//! an invalid `p` and a rollout step become one DMARC record because both are
//! tag edits of the same record; "authorize SendGrid" and "end in -all" become
//! one SPF record because both are term edits.

use serde::{Deserialize, Serialize};

/// A finding a proposal resolves, by code and subject (the pair the history
/// uses to follow a finding from run to run).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FindingRef {
    /// The finding's code, e.g. `DMARC003`.
    pub code: String,
    /// The finding's subject, e.g. `_dmarc.example.org`.
    pub subject: String,
}

impl FindingRef {
    /// The reference to `finding`.
    pub fn to(finding: &crate::Finding) -> FindingRef {
        FindingRef {
            code: finding.code.clone(),
            subject: finding.subject.clone(),
        }
    }
}

/// What kind of DMARC edit a [`Change::DmarcTags`] is; the merge rules treat
/// them differently (see the plan stage's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DmarcEditKind {
    /// Makes the record valid or complete (an invalid tag value corrected, an
    /// unknown tag removed, a missing `rua` added): never held back.
    Fix,
    /// A step of the rollout (`p`, `pct`, `sp`, `t` made stricter): dropped
    /// while the rollout holds.
    Strengthen,
    /// Makes the policy weaker or keeps it (e.g. back to `p=none` while a
    /// sender is broken).
    Relax,
}

/// Who publishes a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "domain")]
pub enum Publisher {
    /// The domain's own DNS.
    Us,
    /// Another organisation's DNS (e.g. the `_report._dmarc` authorization at
    /// a third-party report receiver): the plan asks them.
    Other(String),
}

/// One change to DNS, or an action outside DNS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Change {
    /// Edits of the DMARC record at `name` (`_dmarc.<domain>`): `set` tags in
    /// order (a tag already there is replaced in place, a new one appended),
    /// `remove` tags. A record that is missing or invalid is the base
    /// `v=DMARC1` with its valid tags.
    DmarcTags {
        /// The record's name, e.g. `_dmarc.example.org`.
        name: String,
        /// Tags to set, as (tag, value), e.g. `("p", "quarantine")`.
        set: Vec<(String, String)>,
        /// Tags to remove, e.g. `foo`.
        remove: Vec<String>,
        /// What the edit does to the policy.
        kind: DmarcEditKind,
    },
    /// Edits of the SPF record at `name` (the domain itself): `add` terms
    /// (mechanisms such as `include:sendgrid.net`, inserted before `all`),
    /// `remove` terms (exactly as written in the record), and the `all`
    /// term to end with (e.g. `-all`).
    SpfTerms {
        /// The record's name (the domain).
        name: String,
        /// Terms to add.
        add: Vec<String>,
        /// Terms to remove.
        remove: Vec<String>,
        /// The `all` term to end with, when it changes.
        all: Option<String>,
    },
    /// Publish one TXT record at `name` with exactly `value` (a DKIM key, a
    /// `_report._dmarc` authorization, a null SPF record of a parked domain).
    /// Records with other values at that name stay unless `replace` is set.
    PublishTxt {
        /// Where.
        name: String,
        /// The record's text.
        value: String,
        /// Whose DNS it is in.
        publisher: Publisher,
        /// Replace every other TXT record at `name` that starts like this
        /// one (same `v=` tag), instead of adding beside them.
        replace: bool,
    },
    /// Remove TXT records at `name`: the one with `value`, or all of them
    /// with the same `v=` tag when `value` is `None` (a retired DKIM
    /// selector, a duplicate record).
    RemoveTxt {
        /// Where.
        name: String,
        /// Which record; `None` for all of them at that name.
        value: Option<String>,
    },
    /// Something to do outside DNS (e.g. "configure DKIM signing with
    /// d=example.org at SendGrid"): listed in the plan, never verified.
    Outside {
        /// What to do, one sentence.
        action: String,
    },
    /// The rollout holds at `name`: no [`DmarcEditKind::Strengthen`] edit of
    /// that record goes into the plan.
    Hold {
        /// The DMARC record's name.
        name: String,
        /// Why, one sentence each.
        reasons: Vec<String>,
    },
}

impl Change {
    /// The DNS name the change is about (`None` for [`Change::Outside`]).
    pub fn name(&self) -> Option<&str> {
        match self {
            Change::DmarcTags { name, .. }
            | Change::SpfTerms { name, .. }
            | Change::PublishTxt { name, .. }
            | Change::RemoveTxt { name, .. }
            | Change::Hold { name, .. } => Some(name),
            Change::Outside { .. } => None,
        }
    }
}

/// A change a checker proposes, with the findings it resolves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// The change.
    pub change: Change,
    /// The findings it resolves once done (empty for a hold).
    pub resolves: Vec<FindingRef>,
    /// Why, one sentence (shown with the change).
    pub reason: String,
    /// Precedence over other proposals of the same kind: higher first
    /// (default 0). A checker that knows more about the domain than the
    /// general checks (e.g. that it is parked and sends no mail) proposes
    /// with [`Proposal::decisive`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub precedence: i8,
}

fn is_zero(n: &i8) -> bool {
    *n == 0
}

impl Proposal {
    /// A proposal resolving `resolves`.
    pub fn new(change: Change, reason: impl Into<String>, resolves: Vec<FindingRef>) -> Proposal {
        Proposal {
            change,
            resolves,
            reason: reason.into(),
            precedence: 0,
        }
    }

    /// The same proposal, ahead of every proposal of precedence 0 for the
    /// same tags (the plan stage's rule 3).
    pub fn decisive(mut self) -> Proposal {
        self.precedence = 1;
        self
    }
}

/// The merged plan of one domain: what the plan stage makes of every
/// proposal of the domain's checkers (see `docs/PLAN.md` for the rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainPlan {
    /// The domain.
    pub domain: String,
    /// One change per DNS name (TXT records): what the name holds before
    /// and after.
    pub changes: Vec<NameChange>,
    /// Things to do outside DNS, each once.
    pub outside: Vec<OutsideStep>,
    /// Rollout holds in force, with their reasons.
    pub holds: Vec<HoldNote>,
    /// Proposals left out of the plan, each with why (held back by a hold,
    /// superseded by a more urgent proposal for the same tag).
    pub dropped: Vec<DroppedProposal>,
    /// What re-running the checks with the plan applied showed.
    pub verification: Verification,
}

impl DomainPlan {
    /// True when there is nothing to change or do.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.outside.is_empty()
    }
}

/// The TXT records of one name, before and after the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameChange {
    /// The name, e.g. `_dmarc.example.org`.
    pub name: String,
    /// What the records are: `dmarc`, `spf` or `txt`.
    pub kind: String,
    /// Whose DNS it is in.
    pub publisher: Publisher,
    /// The TXT records at the name now.
    pub before: Vec<String>,
    /// The TXT records at the name once the change is made (empty: none).
    pub after: Vec<String>,
    /// Records to publish (in `after`, not in `before`).
    pub add: Vec<String>,
    /// Records to delete (in `before`, not in `after`).
    pub remove: Vec<String>,
    /// Why, one sentence per merged proposal.
    pub reasons: Vec<String>,
    /// The findings the merged proposals say the change resolves.
    pub resolves: Vec<FindingRef>,
}

/// An action outside DNS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideStep {
    /// What to do.
    pub action: String,
    /// The findings it resolves.
    pub resolves: Vec<FindingRef>,
}

/// A hold of the rollout at a DMARC record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldNote {
    /// The DMARC record's name.
    pub name: String,
    /// Why.
    pub reasons: Vec<String>,
}

/// A proposal the plan leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DroppedProposal {
    /// The name it was about.
    pub name: String,
    /// The change, in words (e.g. `set p=quarantine; pct=50`).
    pub change: String,
    /// Why it is left out.
    pub why: String,
    /// The findings it would have resolved.
    pub resolves: Vec<FindingRef>,
}

/// The outcome of checking the domain again with the plan applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// True when the checks ran again with the plan applied; false when
    /// there was nothing to verify or it could not be done (`note` says why).
    pub verified: bool,
    /// Why it was not verified, or a remark.
    pub note: Option<String>,
    /// Findings of this run that the checks no longer report with the plan
    /// applied.
    pub resolved: Vec<FindingRef>,
    /// Findings still reported with the plan applied (they need action
    /// outside DNS, or time).
    pub remaining: Vec<FindingRef>,
    /// Findings the checks report only with the plan applied, at warning
    /// or error severity (a plan that causes them is shown with them).
    pub introduced: Vec<FindingRef>,
}
