//! The `dkim` checker of authwarden.
//!
//! [`Dkim`] finds a domain's DKIM selectors (config, `--selector`, DMARC
//! aggregate reports through [`ObservedSelectors`], its key history and a
//! provider catalog, [`selectors`]), parses each key record with errors that
//! name the tag ([`record`]), measures keys exactly from their DER encoding
//! ([`key`]), and tracks each key's age and rotations across runs in a small
//! JSON history ([`store`]).
#![deny(missing_docs)]

mod checker;
pub mod codes;
pub mod evidence;
pub mod key;
pub mod record;
pub mod selectors;
pub mod store;

pub use checker::{Dkim, CHECKER_ID};
pub use codes::CODES;
pub use selectors::{DkimConfig, ObservedSelectors, ObservedSelectorsExt};
