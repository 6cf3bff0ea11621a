//! DMARC as authwarden reads it: a domain library under the checkers, with
//! no checker in it.
//!
//! - [`record`]: the record model ([`DmarcRecord`], [`Policy`]) and a
//!   lenient parser ([`parse_record`]) that collects every syntax issue with
//!   a did-you-mean instead of stopping at the first;
//! - [`discovery`]: which record governs a domain ([`discover`], with the
//!   organizational-domain fallback of RFC 7489 section 6.6.3) and the
//!   external report authorization lookup;
//! - [`phase`]: the one rollout phase type ([`Phase`]: policy, `pct`,
//!   testing) that every crate speaking of a phase uses, and the phase a
//!   domain publishes ([`published_phase`]), and [`DomainPhase`] for a
//!   domain's state over time (a phase or no record);
//! - [`facts`]: the facts the DMARC checkers publish, as types
//!   ([`DmarcFacts`], [`RolloutFacts`]).
#![deny(missing_docs)]

pub mod discovery;
pub mod facts;
pub mod phase;
pub mod record;

pub use discovery::{
    authorization_name, check_authorization, discover, Authorization, Discovery, DiscoveryOutcome,
    FoundRecord, Lookalike, RecordSource,
};
pub use facts::{DmarcFacts, FailingSource, PhaseSince, RolloutFacts};
pub use phase::{published_phase, DomainPhase, Phase, PublishedPhase};
pub use record::{
    is_dmarc_record, parse_record, parse_record_bytes, Alignment, DmarcRecord, FailureOption,
    IssueKind, ParsedRecord, Policy, PsdFlag, ReportFormat, ReportUri, SyntaxIssue, Tag,
    KNOWN_TAGS,
};
