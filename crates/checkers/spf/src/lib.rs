//! The `spf` checker of authwarden.
//!
//! [`Spf`] looks up a domain's SPF record, parses it with a complete RFC 7208
//! parser ([`parse_record`]) whose errors name the term, the byte position and
//! the reason, and evaluates it statically ([`evaluate`]): without a client IP
//! it follows every `include` and `redirect` and counts DNS-querying terms and
//! void lookups exactly, as a worst-case evaluation would. Its facts (`spf`
//! key) carry the record, both counts, the `all` qualifier, the ranges the
//! record authorises and the lookup tree with each term's own cost.
//!
//! The parser, the evaluator, flattening and the `all` that fits the DMARC
//! phase live in the domain library [`authwarden_spf`]; its modules and
//! types are re-exported here under their former paths ([`record`],
//! [`eval`], [`flatten`](mod@flatten), [`phase`], [`parse_record`], ...).
#![deny(missing_docs)]

mod checker;
pub mod codes;

// `flatten` names both the module and its function: this brings both.
pub use authwarden_spf::{eval, flatten, phase, record};
pub use checker::{tree_json, Spf, CHECKER_ID};
pub use codes::CODES;
pub use eval::{evaluate, Evaluation, LookupNode, NodeProblem, LOOKUP_LIMIT, VOID_LIMIT};
pub use flatten::{txt_strings, Flattened, REFRESH_WARNING};
pub use phase::{published_phase, PublishedPhase, Rollout};
pub use record::{
    check_explanation, is_spf_record, parse_record, parse_record_parts, DomainSpec, DualCidr,
    Macro, Mechanism, Modifier, Qualifier, SpfRecord, SyntaxError, Term, TermKind,
};
