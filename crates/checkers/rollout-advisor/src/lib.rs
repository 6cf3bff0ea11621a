//! The `rollout-advisor` checker of authwarden.
//!
//! [`RolloutAdvisor`] reads each domain's DMARC phase ([`Phase`], the one
//! phase type of `authwarden-dmarc`) from its published record (that
//! library's discovery and parser), its readiness from the DMARC aggregate
//! reports of the history (the aligned pass rate of legitimate mail, i.e.
//! the sources of the domain's inventory as `authwarden-inventory`
//! attributes them, over the last four weeks), and the weeks spent in the
//! phase (a JSON phase history under the history folder). It advises the
//! next step of the ramp ([`ramp`]) with the exact record to publish, or to
//! hold with the reasons; a domain ready but stuck in its phase is a
//! finding. A declared sender that DNS no longer authorizes (the shared
//! answer of `authwarden_inventory::declared`) holds the rollout.
//!
//! Its proposals (`CheckOutput::proposals`): the next step as a
//! `Change::DmarcTags` of kind `Strengthen`; or a `Change::Hold` with the
//! reasons, plus for each source that holds it the DKIM work at the provider
//! (`Change::Outside`) and the missing SPF terms (`Change::SpfTerms`).
#![deny(missing_docs)]

mod checker;
pub mod codes;
pub mod ramp;

pub use checker::{
    PhaseEntry, PhaseHistory, RolloutAdvisor, RolloutConfig, CHECKER_ID, PHASES_FILE,
};
pub use codes::CODES;
pub use ramp::Phase;
