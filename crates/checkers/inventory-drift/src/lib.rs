//! The `inventory-drift` checker of authwarden.
//!
//! [`InventoryDrift`] compares three views of each domain: (1) its sender
//! inventory in config (`[domains.inventory]`: catalog providers and named
//! sources, each with an owner and a purpose); (2) what DNS authorizes, the
//! SPF record's includes and ranges (the `authwarden-spf` evaluation) and the
//! DKIM keys at the providers' default selectors; (3) who actually sent as
//! the domain, from the DMARC aggregate reports of the history (an
//! [`authwarden_api::reports::AggregateSource`] the host adds to the run).
//! Seven drift kinds between them are findings DRIFT001 to DRIFT007, each
//! with its action; without reports, the kinds that need them are skipped
//! and the facts say so.
//!
//! The inventory model and parser, the authorization view, the attribution
//! of report rows to inventory senders and the state file live in the
//! domain library [`authwarden_inventory`], which the `rollout-advisor`
//! checker and `authwarden spf build` share; its modules are re-exported
//! here under their former paths ([`inventory`], [`attribution`],
//! [`authorization`], [`state`]).
#![deny(missing_docs)]

mod checker;
pub mod codes;

pub use authwarden_inventory::{attribution, authorization, inventory, state};
pub use checker::{
    kind, Authorization, AuthorizedState, DomainAuthorizations, DriftConfig, InventoryDrift,
    LostAuthorization, CHECKER_ID, DEFAULT_PERIOD_DAYS, DEFAULT_STALE_DAYS, STATE_FILE,
};
pub use codes::CODES;
pub use inventory::{parse_inventory, Cidr, Inventory, InventoryProblem, Sender};
