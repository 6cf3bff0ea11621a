//! The DNS resolver trait and its answers.
//!
//! Answers keep NXDOMAIN, NOERROR-with-no-data, SERVFAIL and timeouts apart,
//! because the SPF checker counts "void" lookups from them and every checker
//! turns failures into "check incomplete" findings instead of aborting.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The record types authwarden asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    AAAA,
    /// Mail exchanger.
    MX,
    /// Text.
    TXT,
    /// Canonical name.
    CNAME,
    /// Name server.
    NS,
    /// Pointer (reverse DNS).
    PTR,
    /// Start of authority.
    SOA,
    /// The obsolete SPF type (99), deprecated by RFC 7208.
    SPF,
    /// A DANE certificate association (RFC 6698), e.g. at `_25._tcp.<mx>`.
    TLSA,
}

impl RecordType {
    /// The mnemonic, e.g. `TXT`.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::AAAA => "AAAA",
            RecordType::MX => "MX",
            RecordType::TXT => "TXT",
            RecordType::CNAME => "CNAME",
            RecordType::NS => "NS",
            RecordType::PTR => "PTR",
            RecordType::SOA => "SOA",
            RecordType::SPF => "SPF",
            RecordType::TLSA => "TLSA",
        }
    }

    /// The numeric type code.
    pub fn code(self) -> u16 {
        match self {
            RecordType::A => 1,
            RecordType::NS => 2,
            RecordType::CNAME => 5,
            RecordType::SOA => 6,
            RecordType::PTR => 12,
            RecordType::MX => 15,
            RecordType::TXT => 16,
            RecordType::AAAA => 28,
            RecordType::SPF => 99,
            RecordType::TLSA => 52,
        }
    }

    /// Parses a mnemonic (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "A" => RecordType::A,
            "AAAA" => RecordType::AAAA,
            "MX" => RecordType::MX,
            "TXT" => RecordType::TXT,
            "CNAME" => RecordType::CNAME,
            "NS" => RecordType::NS,
            "PTR" => RecordType::PTR,
            "SOA" => RecordType::SOA,
            "SPF" | "TYPE99" => RecordType::SPF,
            "TLSA" | "TYPE52" => RecordType::TLSA,
            _ => return None,
        })
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum Rdata {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// A mail exchanger.
    Mx {
        /// Preference (lower is preferred).
        preference: u16,
        /// The exchange host name, lower-case without trailing dot.
        exchange: String,
    },
    /// A TXT (or SPF type 99) record: its character-strings, raw bytes.
    Txt(Vec<Vec<u8>>),
    /// A canonical name.
    Cname(String),
    /// A pointer.
    Ptr(String),
    /// A name server.
    Ns(String),
    /// A DANE certificate association (RFC 6698 section 2.1).
    Tlsa {
        /// Certificate usage: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE.
        usage: u8,
        /// Selector: 0 the whole certificate, 1 its public key.
        selector: u8,
        /// Matching type: 0 the data itself, 1 SHA-256, 2 SHA-512.
        matching: u8,
        /// The certificate association data, lower-case hexadecimal.
        data: String,
    },
    /// Anything else, in presentation format.
    Other(String),
}

impl Rdata {
    /// A TLSA record from its fields and raw association data.
    pub fn tlsa(usage: u8, selector: u8, matching: u8, data: &[u8]) -> Self {
        use fmt::Write;
        let mut hex = String::with_capacity(data.len() * 2);
        for b in data {
            let _ = write!(hex, "{b:02x}");
        }
        Rdata::Tlsa {
            usage,
            selector,
            matching,
            data: hex,
        }
    }

    /// For TXT: the character-strings joined without separator, as RFC 7208
    /// and RFC 7489 require; lossy UTF-8.
    pub fn txt_joined(&self) -> Option<String> {
        match self {
            Rdata::Txt(parts) => Some(String::from_utf8_lossy(&parts.concat()).into_owned()),
            _ => None,
        }
    }
}

/// Why a query produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "detail")]
pub enum DnsFailure {
    /// The server answered SERVFAIL.
    ServFail,
    /// No answer within the timeout (after retries, UDP and TCP).
    Timeout,
    /// The server refused the query.
    Refused,
    /// Nothing listens at the name server's address: it refused the
    /// connection (TCP) or the datagram (UDP, an ICMP "port unreachable").
    /// The detail names the server(s).
    #[serde(rename = "connection_refused")]
    ConnectionRefused(String),
    /// The name server has answered no query of this run and several
    /// queries to different names in a row timed out: the resolver stops
    /// sending to it for the rest of the run. The detail says how many.
    Unreachable(String),
    /// The check ran out of its time budget: the query was not sent, or its
    /// answer no longer awaited. The detail names the budget.
    #[serde(rename = "out_of_time")]
    OutOfTime(String),
    /// Any other error (network unreachable, malformed answer, ...).
    Other(String),
}

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DnsFailure::ServFail => f.write_str("SERVFAIL"),
            DnsFailure::Timeout => f.write_str("timeout"),
            DnsFailure::Refused => f.write_str("REFUSED"),
            DnsFailure::ConnectionRefused(server) => {
                write!(f, "connection refused by name server {server}")
            }
            DnsFailure::Unreachable(why) => write!(f, "name server unreachable ({why})"),
            DnsFailure::OutOfTime(why) => write!(f, "out of time: {why}"),
            DnsFailure::Other(e) => write!(f, "error: {e}"),
        }
    }
}

/// What a query produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DnsOutcome {
    /// NOERROR with records of the asked type (after following CNAMEs).
    Records(Vec<Rdata>),
    /// The name does not exist (NXDOMAIN).
    NxDomain,
    /// The name exists but has no record of this type (NOERROR, no data).
    NoData,
    /// The lookup failed: the result is unknown.
    Failed(DnsFailure),
}

/// The answer to one query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsAnswer {
    /// The name asked for, lower-case without trailing dot.
    pub name: String,
    /// The type asked for.
    pub rtype: RecordType,
    /// The CNAME targets followed, in order (empty when the name is not an alias).
    pub cname_chain: Vec<String>,
    /// The outcome.
    pub outcome: DnsOutcome,
}

impl DnsAnswer {
    /// The records, empty for every outcome but [`DnsOutcome::Records`].
    pub fn records(&self) -> &[Rdata] {
        match &self.outcome {
            DnsOutcome::Records(r) => r,
            _ => &[],
        }
    }

    /// True for NXDOMAIN or NOERROR-with-no-data: a "void lookup" (RFC 7208 4.6.4).
    pub fn is_void(&self) -> bool {
        matches!(self.outcome, DnsOutcome::NxDomain | DnsOutcome::NoData)
            || matches!(&self.outcome, DnsOutcome::Records(r) if r.is_empty())
    }

    /// The failure, when the lookup failed.
    pub fn failure(&self) -> Option<&DnsFailure> {
        match &self.outcome {
            DnsOutcome::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// TXT records, each joined into one string (lossy UTF-8).
    pub fn txt(&self) -> Vec<String> {
        self.records()
            .iter()
            .filter_map(Rdata::txt_joined)
            .collect()
    }

    /// The final name after following CNAMEs.
    pub fn canonical_name(&self) -> &str {
        self.cname_chain
            .last()
            .map(String::as_str)
            .unwrap_or(&self.name)
    }
}

/// A DNS resolver. The `authwarden-dns` crate implements it over hickory,
/// with a per-run cache and a zone-file overlay; unit tests implement it
/// over a map.
#[async_trait]
pub trait Resolver: Send + Sync {
    /// Looks up `name` (absolute, with or without trailing dot) for `rtype`.
    /// Never panics and never errors: failures are a [`DnsOutcome::Failed`].
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer;

    /// How many queries went to the network (cache hits and zone-file
    /// answers do not count).
    fn queries_sent(&self) -> u64 {
        0
    }
}

/// Normalises a DNS name: lower-case, no trailing dot, surrounding space trimmed.
pub fn normalize_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}
