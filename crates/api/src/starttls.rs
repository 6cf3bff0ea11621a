//! Probing an MX host's STARTTLS, as checkers see it: the one check that
//! opens outbound SMTP connections, so it is off unless a checker's config
//! asks for it.
//!
//! The host implements [`StarttlsProbe`] (crate `authwarden-https`: connect
//! to port 25, EHLO, STARTTLS, the certificate verified for the MX name)
//! and adds it to the run's extensions as [`StarttlsProbeExt`].

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;

use crate::https::HttpsFailureKind;

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StarttlsOutcome {
    /// TLS was negotiated and the certificate is valid for the MX name.
    Secure {
        /// The protocol version, e.g. `TLSv1.3`.
        version: String,
    },
    /// The server answered EHLO without offering STARTTLS.
    NotOffered,
    /// The server offered STARTTLS and then refused it (its reply).
    Refused(String),
    /// The TLS session failed; `kind` says whether it was the certificate
    /// (expired, for another name, untrusted) or the handshake.
    TlsFailed {
        /// Why.
        kind: HttpsFailureKind,
        /// The TLS library's reason.
        detail: String,
    },
    /// No SMTP conversation: no connection, a timeout, or not SMTP.
    Unreachable {
        /// Why (`connect`, `timeout` or `protocol`).
        kind: HttpsFailureKind,
        /// What happened.
        detail: String,
    },
}

/// Probes STARTTLS of the MX host `host` at `address`.
#[async_trait]
pub trait StarttlsProbe: Send + Sync {
    /// One SMTP conversation: greeting, EHLO, STARTTLS, handshake, QUIT.
    async fn probe(&self, host: &str, address: IpAddr) -> StarttlsOutcome;
}

/// The [`StarttlsProbe`] of a run, as stored in [`crate::Extensions`].
#[derive(Clone)]
pub struct StarttlsProbeExt(pub Arc<dyn StarttlsProbe>);

impl fmt::Debug for StarttlsProbeExt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StarttlsProbeExt(..)")
    }
}
