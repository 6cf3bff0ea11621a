//! The DNS resolver of authwarden.
//!
//! [`HickoryResolver`] puts hickory-resolver behind the
//! [`Resolver`](authwarden_api::Resolver) trait and keeps NXDOMAIN, NODATA,
//! SERVFAIL, REFUSED and timeouts apart; [`CachingResolver`] makes each
//! (name, type) go out once per run however many checkers ask; and
//! [`build_resolver`] stacks them, with an optional zone-file overlay
//! ([`authwarden_zone::ZoneResolver`]) that answers first for the names in
//! its zones. [`HickoryResolver`] also remembers for the run whether its
//! name servers answer at all ([`health`]): a refused port or a dead server
//! costs one timeout per run, not one per query.
#![deny(missing_docs)]

mod cache;
pub mod health;
mod hickory;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::Resolver;
use authwarden_zone::{Zone, ZoneError, ZoneResolver};

pub use cache::CachingResolver;
pub use hickory::HickoryResolver;

/// How to reach DNS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSettings {
    /// Name servers to ask (UDP, with TCP when an answer is truncated).
    /// Empty: the system configuration (`/etc/resolv.conf` on Unix).
    pub nameservers: Vec<SocketAddr>,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// Further attempts after a failed one (timeouts, SERVFAIL, ...);
    /// `1` means two attempts in all.
    pub retries: usize,
    /// Zone files whose data answers before the network for the names in
    /// their zones.
    pub zone_files: Vec<PathBuf>,
}

impl Default for DnsSettings {
    /// The system name servers, 5 s timeout, 1 retry, no zone files.
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
            retries: 1,
            zone_files: Vec::new(),
        }
    }
}

/// Why no resolver could be built.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A zone file is missing or invalid; the error names file and line.
    // The zone error is part of the message and not also the source, so a
    // whole-chain print (`{:#}`) states it once.
    #[error("zone file overlay: {0}")]
    Zone(ZoneError),
    /// No name servers were given and the system configuration could not
    /// be read.
    #[error("cannot read the system DNS configuration (give name servers explicitly): {0}")]
    SystemConfig(String),
    /// hickory-resolver rejected the configuration.
    #[error("cannot build the DNS resolver: {0}")]
    Build(String),
}

/// Builds the resolver of one run: a [`CachingResolver`] over the zone-file
/// overlay (when `zone_files` is not empty) over [`HickoryResolver`].
///
impl From<ZoneError> for DnsError {
    fn from(e: ZoneError) -> Self {
        DnsError::Zone(e)
    }
}

/// Zone files are loaded first, so their errors come before any problem
/// with the system configuration.
pub fn build_resolver(settings: &DnsSettings) -> Result<Arc<dyn Resolver>, DnsError> {
    let zone = if settings.zone_files.is_empty() {
        None
    } else {
        Some(Zone::load_all(&settings.zone_files)?)
    };
    let network = HickoryResolver::new(settings)?;
    Ok(match zone {
        Some(zone) => Arc::new(CachingResolver::new(ZoneResolver::with_fallback(
            zone,
            Arc::new(network),
        ))),
        None => Arc::new(CachingResolver::new(network)),
    })
}
