//! Report e-mail for authwarden: building the message and delivering it without ever losing it.
//!
//! The flow is two steps, so that an SMTP outage never costs a report:
//!
//! 1. [`Outbox::enqueue`] renders a [`Message`] to RFC 5322 bytes ([`build_eml`]) and writes it
//!    atomically to `<reports>/outbox/` together with its SMTP envelope. Nothing is sent yet.
//! 2. [`Outbox::flush`] sends every queued file over SMTP ([`SmtpSettings`]) and moves each one
//!    to `<reports>/sent/` only after the server accepted it. Whatever fails stays queued for
//!    the next flush.
//!
//! With no SMTP server configured, the caller simply does not flush: the messages stay in the
//! outbox, where they can be read, sent by hand, or flushed once SMTP is set up.

#![deny(missing_docs)]

mod error;
mod message;
mod outbox;
mod smtp;

pub use error::MailError;
pub use message::{build_eml, InlineImage, Message};
pub use outbox::{FlushReport, Outbox};
pub use smtp::{Security, SmtpSettings};
