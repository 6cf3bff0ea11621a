//! The error type of this crate.

use std::path::PathBuf;

/// Why a message could not be built, queued or sent, or why a flush could not run at all.
///
/// SMTP trouble (a server that refuses, times out or rejects a message) is not an error of
/// [`Outbox::flush`](crate::Outbox::flush): it is reported per message in its
/// [`FlushReport`](crate::FlushReport). What reaches the caller as `MailError` is one of three
/// kinds, which [`MailError::is_io`] and [`MailError::is_settings`] tell apart:
///
/// - a file or directory problem ([`MailError::Io`]: disk full, permissions, …), which names
///   the path and the operating system's reason, e.g. `cannot write …/x.eml: No space left on
///   device (os error 28)`;
/// - unusable SMTP settings ([`MailError::Settings`]): nothing was sent;
/// - a message that cannot be built or queued (bad address, key, Content-ID, …).
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
    /// The key given to [`Outbox::enqueue_keyed`](crate::Outbox::enqueue_keyed) is empty,
    /// longer than 100 characters, starts with `.` or holds a character other than ASCII
    /// letters, digits, `-`, `_` and `.`.
    #[error(
        "invalid outbox key {0:?}: use 1 to 100 ASCII letters, digits, '-', '_' or '.', \
         not starting with '.'"
    )]
    InvalidKey(String),
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

    /// A file or directory problem (disk full, permissions, a missing directory), not a
    /// problem with the message or with SMTP.
    pub fn is_io(&self) -> bool {
        matches!(self, MailError::Io { .. })
    }

    /// The SMTP settings cannot be used (e.g. `Security::None` to a remote host, a user name
    /// without a password, a CA file without a certificate).
    pub fn is_settings(&self) -> bool {
        matches!(self, MailError::Settings(_))
    }

    /// For an I/O error, the operating system's error kind (e.g. `StorageFull`).
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            MailError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}
