//! The error type of this crate.

use std::path::PathBuf;

/// Why a message could not be built, queued or sent, or why a flush could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address in From or To is not a valid mailbox.
    #[error("invalid address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What the parser objected to.
        reason: String,
    },
    /// The message has no recipient.
    #[error("the message has no recipient")]
    NoRecipients,
    /// The domain for the Message-ID is empty or contains characters a Message-ID cannot hold.
    #[error("invalid Message-ID domain {0:?}")]
    InvalidMessageIdDomain(String),
    /// An inline image's Content-ID is empty or contains `<`, `>`, spaces or control characters.
    #[error("invalid Content-ID {0:?} for an inline image")]
    InvalidContentId(String),
    /// An inline image's content type does not parse as a MIME type.
    #[error("invalid content type {content_type:?} for inline image {cid:?}")]
    InvalidContentType {
        /// The Content-ID of the image.
        cid: String,
        /// The content type as given.
        content_type: String,
    },
    /// lettre refused to build the message.
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    /// A file or directory of the outbox could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "cannot write".
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The SMTP settings cannot be used; nothing was sent.
    #[error("invalid SMTP settings: {0}")]
    Settings(String),
}

impl MailError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        MailError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
