//! Report e-mail for authwarden: building the message and delivering it without ever losing it.
//!
//! The flow is two steps, so that an SMTP outage never costs a report:
//!
//! 1. [`Outbox::enqueue`] (or [`Outbox::enqueue_keyed`], once per key) renders a [`Message`]
//!    to RFC 5322 bytes ([`build_eml`]) and writes it atomically to `<reports>/outbox/`
//!    together with its SMTP envelope. Nothing is sent yet.
//! 2. [`Outbox::flush`] sends every queued file over SMTP ([`SmtpSettings`]) and moves each one
//!    to `<reports>/sent/` only after the server accepted it, or to `outbox/rejected/` when
//!    the server refused it for good. Whatever failed for now stays queued for the next flush;
//!    the [`FlushReport`] says which message went where.
//!
//! With no SMTP server configured, the caller simply does not flush: the messages stay in the
//! outbox, where they can be read, sent by hand, or flushed once SMTP is set up.
//!
//! Errors ([`MailError`]) are file problems ([`MailError::is_io`]), unusable settings
//! ([`MailError::is_settings`]) or messages that cannot be built; SMTP problems are data in
//! the [`FlushReport`], not errors.

#![deny(missing_docs)]

mod error;
mod files;
mod flush;
mod message;
mod outbox;
mod recover;
mod session;
mod smtp;

pub use error::MailError;
pub use message::{build_eml, InlineImage, Message};
pub use outbox::{Enqueued, FlushReport, MessageState, Outbox, Parked, Recovery, RefusedRecipient};
pub use smtp::{Security, SmtpSettings};
