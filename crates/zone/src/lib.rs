//! Zone files for authwarden: a parser for the DNS master-file format
//! (RFC 1035 section 5) and [`ZoneResolver`], a [`Resolver`] answering from
//! the parsed data.
//!
//! Checker crates use it as a dev-dependency to describe DNS fixtures as
//! zone files; `authwarden-dns` uses it for the zone-file overlay that
//! answers before the network. It depends on neither hickory nor tokio.
//!
//! Supported syntax: `$ORIGIN`, `$TTL`, `@`, relative and absolute names,
//! an omitted owner (the previous one), TTL and class `IN` in either order,
//! parentheses spanning lines, `;` comments, quoted strings with `\"`,
//! `\X` and `\DDD` escapes, and the types A, AAAA, MX, TXT, SPF, CNAME, NS,
//! PTR, SOA, also as `TYPEnnn` and with RFC 3597 generic data (`\# LEN HEX`).
//! TXT and SPF data keep each character-string as raw bytes. Other types,
//! other classes and `$INCLUDE` are errors that name file, line and column.
//!
//! [`Resolver`]: authwarden_api::Resolver
#![deny(missing_docs)]

mod error;
mod lexer;
mod name;
mod parser;
mod resolver;
mod zone;

pub use error::{Location, ZoneError};
pub use parser::DEFAULT_TTL;
pub use resolver::{ZoneResolver, MAX_CNAME_CHAIN, OUTSIDE_MESSAGE};
pub use zone::{Zone, ZoneLookup, ZoneRecord};

#[cfg(test)]
mod tests;
