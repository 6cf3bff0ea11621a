//! The sender inventory as authwarden reads it: a domain library under the
//! checkers, with no checker in it.
//!
//! - [`inventory`]: the model and parser of `[domains.inventory]`
//!   ([`parse_inventory`], [`Inventory`], [`Sender`], [`Cidr`]), which
//!   collects every problem with a did-you-mean;
//! - [`authorization`]: what DNS authorizes for a domain ([`SpfView`]: the
//!   SPF record's includes and ranges, from `authwarden-spf`; DKIM keys at
//!   the providers' selectors);
//! - [`declared`]: which declared senders DNS authorizes now and which
//!   not ([`Authorizations`]), the one answer of the inventory-drift checker
//!   and the rollout advisor;
//! - [`attribution`]: who sent each aggregate report row ([`Attributor`],
//!   [`Origin`]) and the rows summed per sender ([`summarize`]);
//! - [`state`]: the small JSON state kept across runs ([`StateFile`]).
//!
//! The inventory-drift checker, the rollout advisor and `authwarden spf
//! build` read inventories and legitimate mail through this crate.
#![deny(missing_docs)]

pub mod attribution;
pub mod authorization;
pub mod declared;
pub mod inventory;
pub mod state;

pub use attribution::{summarize, Attributor, Origin, SeenSource, INTERMEDIARY_CAUSES};
pub use authorization::{dkim_key_published, IncludeAuth, SpfView};
pub use declared::{dkim_signing_action, Authorizations, SenderAuthorization};
pub use inventory::{parse_inventory, Cidr, CidrError, Inventory, InventoryProblem, Sender};
pub use state::{StateError, StateFile};
