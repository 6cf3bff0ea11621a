//! Test support: real servers on loopback for integration and end-to-end tests,
//! and the checker fixture harness ([`fixture`]: zone-file fixtures and the
//! checks every checker's tests share, which panic by design).
//!
//! Each server is started by a guard value and stopped when the guard drops,
//! whatever the test's outcome. [`mail`] builds the report mails those
//! servers are fed; [`corpus`] finds the shared conformance corpus.

pub mod corpus;
pub mod dkim;
pub mod dns;
pub mod fixture;
pub mod https;
pub mod imap;
pub mod mail;
pub mod smtp;
mod tls;
pub mod util;
