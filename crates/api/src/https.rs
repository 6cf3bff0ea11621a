//! Fetching a web resource over HTTPS, as checkers see it: the MTA-STS
//! policy (RFC 8461 section 3.3) is the one they read.
//!
//! The host implements [`HttpsFetcher`] (crate `authwarden-https`: the host
//! name resolved through the run's [`crate::Resolver`], the certificate
//! verified for that name, redirects never followed, the body capped, the
//! whole fetch bounded in time) and adds it to the run's extensions as
//! [`HttpsFetcherExt`]. A checker gets an [`HttpsResponse`] whatever the
//! status, or an [`HttpsFailure`] that says what went wrong as data.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

/// The body cap of a fetch: larger bodies are cut and flagged.
pub const MAX_BODY: usize = 64 * 1024;

/// What a server answered. Redirects are answers too: `location` says where
/// to, and nothing follows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsResponse {
    /// The address the answer came from.
    pub address: String,
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header, as sent.
    pub content_type: Option<String>,
    /// The `Location` header, as sent.
    pub location: Option<String>,
    /// The body, at most [`MAX_BODY`] bytes.
    pub body: Vec<u8>,
    /// The body was longer than [`MAX_BODY`] and was cut.
    pub truncated: bool,
}

impl HttpsResponse {
    /// The media type of `Content-Type`, lower-case, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.content_type.as_deref().map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
    }
}

/// Why a fetch got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpsFailureKind {
    /// The host name has no address (NXDOMAIN or no A / AAAA).
    NoAddress,
    /// The address lookup failed (timeout, SERVFAIL): nothing is known.
    Dns,
    /// No address accepted a connection on port 443.
    Connect,
    /// The server took longer than the timeout.
    Timeout,
    /// The certificate has expired or is not valid yet.
    CertificateExpired,
    /// The certificate is not valid for the host name.
    CertificateName,
    /// The certificate does not chain to a trusted root.
    CertificateUntrusted,
    /// Another TLS failure (handshake, protocol version, bad certificate).
    Tls,
    /// The server's answer is not HTTP.
    Protocol,
}

impl HttpsFailureKind {
    /// A short stable name, for evidence and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpsFailureKind::NoAddress => "no-address",
            HttpsFailureKind::Dns => "dns",
            HttpsFailureKind::Connect => "connect",
            HttpsFailureKind::Timeout => "timeout",
            HttpsFailureKind::CertificateExpired => "certificate-expired",
            HttpsFailureKind::CertificateName => "certificate-name",
            HttpsFailureKind::CertificateUntrusted => "certificate-untrusted",
            HttpsFailureKind::Tls => "tls",
            HttpsFailureKind::Protocol => "protocol",
        }
    }

    /// The failure is about the certificate.
    pub fn is_certificate(self) -> bool {
        matches!(
            self,
            HttpsFailureKind::CertificateExpired
                | HttpsFailureKind::CertificateName
                | HttpsFailureKind::CertificateUntrusted
        )
    }
}

/// A fetch that got no answer, with what was tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsFailure {
    /// What went wrong.
    pub kind: HttpsFailureKind,
    /// The detail, e.g. the TLS library's reason or the addresses tried.
    pub detail: String,
}

impl HttpsFailure {
    /// A failure of `kind` with `detail`.
    pub fn new(kind: HttpsFailureKind, detail: impl Into<String>) -> Self {
        HttpsFailure {
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for HttpsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Fetches `https://<host><path>` (port 443).
#[async_trait]
pub trait HttpsFetcher: Send + Sync {
    /// One GET, never following redirects.
    async fn get(&self, host: &str, path: &str) -> Result<HttpsResponse, HttpsFailure>;
}

/// The [`HttpsFetcher`] of a run, as stored in [`crate::Extensions`].
/// Absent when the host fetches nothing over HTTPS.
#[derive(Clone)]
pub struct HttpsFetcherExt(pub Arc<dyn HttpsFetcher>);

impl fmt::Debug for HttpsFetcherExt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpsFetcherExt(..)")
    }
}
