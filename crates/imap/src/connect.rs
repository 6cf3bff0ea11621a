//! The connection: TCP, then implicit TLS, STARTTLS or plain text (loopback only), then LOGIN.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::{Client, Session};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::ImapError;
use crate::settings::{ImapSettings, Security};

/// The byte stream under the IMAP session: plain TCP (loopback only) or TLS over TCP.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An authenticated session.
pub(crate) type ImapSession = Session<Stream>;

/// Runs `fut` within the configured timeout; `what` names the step in the error.
pub(crate) async fn timed<T, E>(
    timeout: Duration,
    what: impl FnOnce() -> String,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<Result<T, E>, ImapError> {
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| ImapError::Timeout {
            what: what(),
            seconds: timeout.as_secs(),
        })
}

/// Connects, protects the connection as configured and logs in.
pub(crate) async fn connect_and_login(settings: &ImapSettings) -> Result<ImapSession, ImapError> {
    let host = settings.host.as_str();
    let port = settings.port;
    let connect_error = |reason: String| ImapError::Connect {
        host: host.to_owned(),
        port,
        reason,
    };

    let addrs: Vec<SocketAddr> = timed(
        settings.timeout,
        || format!("resolving {host}"),
        tokio::net::lookup_host((host, port)),
    )
    .await?
    .map_err(|e| connect_error(e.to_string()))?
    .collect();
    if addrs.is_empty() {
        return Err(connect_error("the name has no addresses".into()));
    }
    if settings.security == Security::None && !addrs.iter().all(|a| a.ip().is_loopback()) {
        return Err(ImapError::InsecureRemote {
            host: host.to_owned(),
        });
    }
    let tcp = timed(
        settings.timeout,
        || format!("connecting to {host}:{port}"),
        TcpStream::connect(&addrs[..]),
    )
    .await?
    .map_err(|e| connect_error(e.to_string()))?;

    let client = match settings.security {
        Security::Tls => {
            let tls = tls_handshake(settings, tcp).await?;
            let mut client = Client::new(Stream::Tls(Box::new(tls)));
            read_greeting(settings, &mut client).await?;
            client
        }
        Security::None => {
            let mut client = Client::new(Stream::Plain(tcp));
            read_greeting(settings, &mut client).await?;
            client
        }
        Security::StartTls => {
            let mut plain = Client::new(tcp);
            read_greeting(settings, &mut plain).await?;
            let starttls_error = |reason: String| ImapError::StartTls {
                host: host.to_owned(),
                port,
                reason,
            };
            timed(settings.timeout, || "STARTTLS".into(), async {
                plain.run_command_and_check_ok("STARTTLS", None).await
            })
            .await?
            .map_err(|e| starttls_error(e.to_string()))?;
            // Whatever the server sent after its OK is dropped with the plain client: nothing
            // from before the handshake may be taken as if it came over TLS.
            let tls = tls_handshake(settings, plain.into_inner()).await?;
            Client::new(Stream::Tls(Box::new(tls)))
        }
    };

    let login = timed(
        settings.timeout,
        || format!("LOGIN as {}", settings.username),
        client.login(&settings.username, &settings.password),
    )
    .await?;
    login.map_err(|(e, _client)| ImapError::Login {
        host: host.to_owned(),
        username: settings.username.clone(),
        reason: e.to_string(),
    })
}

async fn read_greeting<T>(settings: &ImapSettings, client: &mut Client<T>) -> Result<(), ImapError>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let greeting = timed(
        settings.timeout,
        || "greeting".into(),
        client.read_response(),
    )
    .await?
    .map_err(|e| protocol("greeting", e))?;
    match greeting {
        Some(response) => {
            use async_imap::imap_proto::{Response, Status};
            match response.parsed() {
                Response::Data {
                    status: Status::Ok, ..
                } => Ok(()),
                other => Err(protocol(
                    "greeting",
                    format!("the server did not greet with OK: {other:?}"),
                )),
            }
        }
        None => Err(protocol("greeting", "the server closed the connection")),
    }
}

async fn tls_handshake(
    settings: &ImapSettings,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, ImapError> {
    let tls_error = |reason: String| ImapError::Tls {
        host: settings.host.clone(),
        port: settings.port,
        reason,
    };
    let config = client_config(settings.ca_pem.as_deref())?;
    let name = ServerName::try_from(settings.host.clone())
        .map_err(|e| tls_error(format!("invalid server name: {e}")))?;
    let connector = TlsConnector::from(Arc::new(config));
    timed(
        settings.timeout,
        || format!("TLS handshake with {}:{}", settings.host, settings.port),
        connector.connect(name, tcp),
    )
    .await?
    .map_err(|e| tls_error(e.to_string()))
}

/// The web PKI roots plus the configured extra CAs, with ring as the crypto provider (named
/// explicitly so that another crate enabling a second provider cannot make this ambiguous).
fn client_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, ImapError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| ImapError::Ca(e.to_string()))?;
            roots.add(cert).map_err(|e| ImapError::Ca(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ImapError::Ca("no CERTIFICATE block found".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ImapError::Ca(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

pub(crate) fn protocol(what: impl Into<String>, reason: impl ToString) -> ImapError {
    ImapError::Protocol {
        what: what.into(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_without_certificates_is_refused() {
        let err = client_config(Some(b"not a pem")).unwrap_err().to_string();
        assert!(err.contains("CA certificate"), "{err}");
    }

    #[test]
    fn without_extra_cas_the_web_roots_are_enough() {
        client_config(None).unwrap();
    }

    #[tokio::test]
    async fn plain_text_to_a_remote_host_is_refused_before_connecting() {
        let mut settings = ImapSettings::new("192.0.2.1", "u", "p");
        settings.security = Security::None;
        settings.port = 143;
        let err = connect_and_login(&settings).await.unwrap_err();
        assert!(matches!(err, ImapError::InsecureRemote { .. }), "{err}");
    }
}
