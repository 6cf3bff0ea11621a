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
}

impl Proposal {
    /// A proposal resolving `resolves`.
    pub fn new(change: Change, reason: impl Into<String>, resolves: Vec<FindingRef>) -> Proposal {
        Proposal {
            change,
            resolves,
            reason: reason.into(),
        }
    }
}
