//! Fetches DMARC aggregate report messages from an IMAP mailbox.
//!
//! [`fetch_new`] connects (implicit TLS, STARTTLS, or plain text to loopback only), logs in,
//! selects the configured folder and hands every message newer than the last UID seen to a
//! callback, as raw RFC 822 bytes. The callback's [`Disposition`] decides where the message
//! goes: [`Disposition::Processed`] to the archive folder, [`Disposition::Invalid`] to the
//! invalid folder, [`Disposition::Keep`] leaves it. Messages over the size cap are filed as
//! invalid without being downloaded.
//!
//! [`ImapState`] remembers the last UID seen and the folder's UIDVALIDITY, and is kept as JSON
//! by the caller ([`ImapState::load`], [`ImapState::save`]), so that a second run finds nothing
//! new; a changed UIDVALIDITY starts the folder over.
//!
//! A broken message never stops the batch: it becomes an entry of [`FetchReport::errors`]
//! naming the folder and UID. [`ImapError`] is for what stops the whole run (no connection,
//! login refused, the folder cannot be selected).
#![deny(missing_docs)]

mod connect;
mod error;
mod fetch;
mod settings;
mod state;

pub use error::{ImapError, MessageError};
pub use fetch::{fetch_new, Disposition, FetchReport};
pub use settings::{ImapSettings, Security};
pub use state::{FolderState, ImapState};
