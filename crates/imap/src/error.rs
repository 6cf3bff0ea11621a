//! Errors that stop a run, and the per-message errors that do not.

use std::fmt;
use std::path::PathBuf;

/// What stops a whole [`fetch_new`](crate::fetch_new) run or a state file operation.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// Plain text to a host that is not loopback.
    #[error("refusing an unencrypted IMAP connection to {host}: security \"none\" is only allowed to loopback addresses")]
    InsecureRemote {
        /// The configured host.
        host: String,
    },
    /// The host name did not resolve or no address accepted the connection.
    #[error("cannot connect to {host}:{port}: {reason}")]
    Connect {
        /// The configured host.
        host: String,
        /// The configured port.
        port: u16,
        /// Why.
        reason: String,
    },
    /// The extra CA certificates could not be read.
    #[error("invalid CA certificate PEM: {0}")]
    Ca(String),
    /// The TLS handshake failed (certificate not trusted, wrong name, not TLS at all, ...).
    #[error("TLS with {host}:{port} failed: {reason}")]
    Tls {
        /// The configured host.
        host: String,
        /// The configured port.
        port: u16,
        /// Why.
        reason: String,
    },
    /// The server did not offer STARTTLS, or refused it.
    #[error("{host}:{port} does not offer STARTTLS: {reason}")]
    StartTls {
        /// The configured host.
        host: String,
        /// The configured port.
        port: u16,
        /// The server's answer.
        reason: String,
    },
    /// LOGIN was refused.
    #[error("IMAP login as {username} at {host} refused: {reason}")]
    Login {
        /// The configured host.
        host: String,
        /// The login name.
        username: String,
        /// The server's answer.
        reason: String,
    },
    /// A command of the session failed (greeting, capabilities, SELECT, SEARCH, ...).
    #[error("IMAP {what} failed: {reason}")]
    Protocol {
        /// The command and the folder it was about, e.g. `SELECT "INBOX"`.
        what: String,
        /// The server's answer or the I/O error.
        reason: String,
    },
    /// The server did not answer in time.
    #[error("IMAP {what} timed out after {seconds} s")]
    Timeout {
        /// The step that timed out.
        what: String,
        /// The configured timeout.
        seconds: u64,
    },
    /// The state file could not be read or written.
    #[error("IMAP state file {path}: {reason}")]
    State {
        /// The state file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// One message that could not be fetched, filed or was filed as invalid by the size cap; the
/// rest of the batch went on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageError {
    /// The folder the message is in.
    pub folder: String,
    /// The message's UID in that folder.
    pub uid: u32,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for MessageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} UID {}: {}", self.folder, self.uid, self.reason)
    }
}

impl std::error::Error for MessageError {}
