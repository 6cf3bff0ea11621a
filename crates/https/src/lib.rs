//! The HTTPS fetcher of authwarden: [`HttpsClient`] implements
//! [`HttpsFetcher`] for the checkers that read a web resource (the MTA-STS
//! policy of RFC 8461).
//!
//! What RFC 8461 section 3.3 asks of a policy fetch, and what a checker
//! needs to tell a broken policy host from a slow one:
//! - the host name is resolved through the run's [`Resolver`] (zone files
//!   and test name servers work, and a lookup failure is told apart from a
//!   name without address);
//! - the certificate must chain to a trusted root (the Mozilla roots of
//!   `webpki-roots`, plus a private CA bundle) and be valid for the host
//!   name; expired, wrong-name and untrusted certificates are three
//!   different [`HttpsFailureKind`]s;
//! - redirects are answers, never followed;
//! - the body is capped at [`MAX_BODY`] and the whole fetch, from the
//!   address lookup to the last byte, at the configured timeout, so a
//!   server that accepts and never answers costs that much and no more.
//!
//! [`DirFetcher`] answers from a folder instead, for offline runs, and
//! [`StarttlsClient`] probes the STARTTLS of an MX host.
#![deny(missing_docs)]

pub mod starttls;
pub use starttls::StarttlsClient;

use std::io;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::https::{
    HttpsFailure, HttpsFailureKind, HttpsFetcher, HttpsResponse, MAX_BODY,
};
use authwarden_api::{async_trait, DnsOutcome, Rdata, RecordType, Resolver};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// At most this many addresses of a host are tried.
const MAX_ADDRESSES: usize = 4;

/// Fetches over HTTPS with the run's resolver.
pub struct HttpsClient {
    resolver: Arc<dyn Resolver>,
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
    port: u16,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("timeout", &self.timeout)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl HttpsClient {
    /// A client resolving through `resolver`, trusting the public roots and
    /// the certificates of `ca_pem` (a PEM bundle), giving up on a fetch
    /// after `timeout`.
    pub fn new(
        resolver: Arc<dyn Resolver>,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(HttpsClient {
            resolver,
            tls: Arc::new(client_config(ca_pem)?),
            timeout,
            port: 443,
        })
    }

    /// Connects to `port` instead of 443 (a test server on an unprivileged port).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, HttpsFailure> {
        let mut out = Vec::new();
        let mut failures = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            let answer = self.resolver.query(host, rtype).await;
            match &answer.outcome {
                DnsOutcome::Records(records) => {
                    out.extend(records.iter().filter_map(|r| match r {
                        Rdata::A(a) => Some(IpAddr::V4(*a)),
                        Rdata::Aaaa(a) => Some(IpAddr::V6(*a)),
                        _ => None,
                    }))
                }
                DnsOutcome::Failed(f) => failures.push(format!("{}: {f}", rtype.as_str())),
                DnsOutcome::NxDomain | DnsOutcome::NoData => {}
            }
        }
        if !out.is_empty() {
            out.truncate(MAX_ADDRESSES);
            return Ok(out);
        }
        if failures.is_empty() {
            Err(HttpsFailure::new(
                HttpsFailureKind::NoAddress,
                format!("{host} has no A or AAAA record"),
            ))
        } else {
            Err(HttpsFailure::new(
                HttpsFailureKind::Dns,
                format!(
                    "the address lookup of {host} failed ({})",
                    failures.join("; ")
                ),
            ))
        }
    }

    async fn fetch(&self, host: &str, path: &str) -> Result<HttpsResponse, HttpsFailure> {
        let addresses = self.addresses(host).await?;
        let mut refused = Vec::new();
        let mut connected = None;
        for address in addresses {
            match TcpStream::connect((address, self.port)).await {
                Ok(stream) => {
                    connected = Some((address, stream));
                    break;
                }
                Err(e) => refused.push(format!("{address}: {e}")),
            }
        }
        let Some((address, tcp)) = connected else {
            return Err(HttpsFailure::new(
                HttpsFailureKind::Connect,
                format!(
                    "no address of {host} accepts connections on port {}: {}",
                    self.port,
                    refused.join("; ")
                ),
            ));
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| HttpsFailure::new(HttpsFailureKind::Tls, format!("{host}: {e}")))?;
        let tls = TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| tls_failure(host, &e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| protocol(host, &e))?;
        let driver = tokio::spawn(conn);
        let request = hyper::Request::get(path)
            .header(hyper::header::HOST, host)
            .header(
                hyper::header::USER_AGENT,
                concat!("authwarden/", env!("CARGO_PKG_VERSION")),
            )
            .header(hyper::header::ACCEPT, "text/plain")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
            .map_err(|e| protocol(host, &e))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| protocol(host, &e))?;
        let header = |name: hyper::header::HeaderName| {
            response
                .headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let status = response.status().as_u16();
        let content_type = header(hyper::header::CONTENT_TYPE);
        let location = header(hyper::header::LOCATION);
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        let mut truncated = false;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| protocol(host, &e))?;
            if let Some(data) = frame.data_ref() {
                let room = MAX_BODY - bytes.len();
                if data.len() > room {
                    bytes.extend_from_slice(&data[..room]);
                    truncated = true;
                    break;
                }
                bytes.extend_from_slice(data);
            }
        }
        driver.abort();
        Ok(HttpsResponse {
            address: address.to_string(),
            status,
            content_type,
            location,
            body: bytes,
            truncated,
        })
    }
}

#[async_trait]
impl HttpsFetcher for HttpsClient {
    async fn get(&self, host: &str, path: &str) -> Result<HttpsResponse, HttpsFailure> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match tokio::time::timeout(self.timeout, self.fetch(&host, path)).await {
            Ok(result) => result,
            Err(_) => Err(HttpsFailure::new(
                HttpsFailureKind::Timeout,
                format!(
                    "https://{host}{path} did not answer within {} s",
                    self.timeout.as_secs_f64()
                ),
            )),
        }
    }
}

fn protocol(host: &str, e: &dyn std::fmt::Display) -> HttpsFailure {
    HttpsFailure::new(
        HttpsFailureKind::Protocol,
        format!("{host} did not answer HTTP: {e}"),
    )
}

/// The failure kind of a TLS handshake error.
pub(crate) fn tls_failure(host: &str, e: &io::Error) -> HttpsFailure {
    use rustls::CertificateError as C;
    let kind = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(c)) => match c {
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => HttpsFailureKind::CertificateExpired,
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                HttpsFailureKind::CertificateName
            }
            C::UnknownIssuer => HttpsFailureKind::CertificateUntrusted,
            _ => HttpsFailureKind::Tls,
        },
        _ => HttpsFailureKind::Tls,
    };
    HttpsFailure::new(kind, format!("TLS with {host} failed: {e}"))
}

/// The web PKI roots plus the certificates of `ca_pem`, with ring as the
/// crypto provider (named, so that a second provider elsewhere in the build
/// cannot make it ambiguous).
pub(crate) fn client_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("the CA bundle: {e}"))?;
            roots.add(cert).map_err(|e| format!("the CA bundle: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("the CA bundle has no CERTIFICATE block".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Answers from a folder: the file `<dir>/<host>/<path>` is served as
/// `200 text/plain`; a missing one fails as if the host had no address.
#[derive(Debug, Clone)]
pub struct DirFetcher {
    dir: PathBuf,
}

impl DirFetcher {
    /// Answers from `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirFetcher { dir: dir.into() }
    }

    fn file(&self, host: &str, path: &str) -> Option<PathBuf> {
        let relative = Path::new(host).join(path.trim_start_matches('/'));
        relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
            .then(|| self.dir.join(relative))
    }
}

#[async_trait]
impl HttpsFetcher for DirFetcher {
    async fn get(&self, host: &str, path: &str) -> Result<HttpsResponse, HttpsFailure> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let missing = || {
            HttpsFailure::new(
                HttpsFailureKind::NoAddress,
                format!("no file for https://{host}{path} in {}", self.dir.display()),
            )
        };
        let file = self.file(&host, path).ok_or_else(missing)?;
        let mut body = tokio::fs::read(&file).await.map_err(|_| missing())?;
        let truncated = body.len() > MAX_BODY;
        body.truncate(MAX_BODY);
        Ok(HttpsResponse {
            address: "file".into(),
            status: 200,
            content_type: Some("text/plain".into()),
            location: None,
            body,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_refused() {
        assert!(client_config(Some(b"not a pem")).is_err());
        assert!(client_config(None).is_ok());
    }

    #[tokio::test]
    async fn the_folder_answers_and_refuses_paths_out_of_it() {
        let dir = std::env::temp_dir().join(format!("aw-https-{}", std::process::id()));
        let file = dir.join("mta-sts.example.org/.well-known/mta-sts.txt");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "version: STSv1\n").unwrap();
        let f = DirFetcher::new(&dir);
        let r = f
            .get("MTA-STS.example.org.", "/.well-known/mta-sts.txt")
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, &b"version: STSv1\n"[..])
        );
        let e = f.get("mta-sts.example.org", "/../../etc/passwd").await;
        assert_eq!(e.unwrap_err().kind, HttpsFailureKind::NoAddress);
        let e = f.get("other.example.org", "/.well-known/mta-sts.txt").await;
        assert_eq!(e.unwrap_err().kind, HttpsFailureKind::NoAddress);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
