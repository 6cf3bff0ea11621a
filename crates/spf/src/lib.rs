//! SPF as authwarden reads it: a domain library under the checkers, with no
//! checker in it.
//!
//! - [`record`]: the RFC 7208 grammar, a strict parser ([`parse_record`])
//!   whose errors name the term, the byte position and the reason;
//! - [`eval`]: static evaluation ([`evaluate`]): without a client IP it
//!   follows every `include` and `redirect` and counts DNS-querying terms
//!   and void lookups exactly, as a worst-case evaluation would, against
//!   the limits [`LOOKUP_LIMIT`] and [`VOID_LIMIT`];
//! - [`flatten`](mod@flatten): replacing DNS-querying terms by the ranges
//!   they authorize today ([`flatten()`]) and splitting long records into
//!   strings;
//! - [`facts`]: the facts the spf checker publishes ([`SpfFacts`]);
//! - [`phase`]: the `all` qualifier that fits the DMARC rollout phase
//!   ([`Rollout`]).
#![deny(missing_docs)]

pub mod eval;
pub mod facts;
pub mod flatten;
pub mod phase;
pub mod record;

pub use eval::{
    evaluate, select_record, Evaluation, Fetched, LookupNode, NodeProblem, LOOKUP_LIMIT, MX_LIMIT,
    VOID_LIMIT,
};
pub use facts::SpfFacts;
pub use flatten::{flatten, txt_strings, Flattened, REFRESH_WARNING};
pub use phase::{published_phase, PublishedPhase, Rollout};
pub use record::{
    check_explanation, is_spf_record, parse_record, parse_record_parts, DomainSpec, DualCidr,
    Macro, Mechanism, Modifier, Qualifier, SpfRecord, SyntaxError, Term, TermKind,
};
