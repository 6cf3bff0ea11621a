//! [`StarttlsClient`]: the STARTTLS probe of an MX host (RFC 3207): the
//! greeting, `EHLO`, `STARTTLS` when offered, the TLS handshake with the
//! certificate verified for the MX name, `QUIT`. Every read is capped (line
//! length, line count) and the whole conversation bounded in time.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::async_trait;
use authwarden_api::https::HttpsFailureKind;
use authwarden_api::starttls::{StarttlsOutcome, StarttlsProbe};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The longest reply line read (RFC 5321 allows 512 octets).
const MAX_LINE: usize = 1000;
/// The most lines of one reply.
const MAX_LINES: usize = 100;

/// Probes STARTTLS on port 25 (or another, for tests).
pub struct StarttlsClient {
    tls: Arc<rustls::ClientConfig>,
    timeout: Duration,
    port: u16,
    helo: String,
}

impl std::fmt::Debug for StarttlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StarttlsClient")
            .field("timeout", &self.timeout)
            .field("port", &self.port)
            .field("helo", &self.helo)
            .finish_non_exhaustive()
    }
}

impl StarttlsClient {
    /// A probe trusting the public roots and `ca_pem`, saying `EHLO helo`,
    /// giving up after `timeout`.
    pub fn new(ca_pem: Option<&[u8]>, timeout: Duration, helo: &str) -> Result<Self, String> {
        Ok(StarttlsClient {
            tls: Arc::new(crate::client_config(ca_pem)?),
            timeout,
            port: 25,
            helo: helo.to_string(),
        })
    }

    /// Connects to `port` instead of 25 (a test server).
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    async fn talk(&self, host: &str, address: IpAddr) -> StarttlsOutcome {
        let unreachable = |kind, detail: String| StarttlsOutcome::Unreachable { kind, detail };
        let tcp = match TcpStream::connect((address, self.port)).await {
            Ok(s) => s,
            Err(e) => {
                return unreachable(
                    HttpsFailureKind::Connect,
                    format!("{address} port {}: {e}", self.port),
                )
            }
        };
        let mut conn = BufReader::new(tcp);
        let protocol = |what: String| unreachable(HttpsFailureKind::Protocol, what);
        match reply(&mut conn).await {
            Ok((220, _)) => {}
            Ok((code, text)) => return protocol(format!("greeting {code} {text}")),
            Err(e) => return protocol(format!("no SMTP greeting: {e}")),
        }
        if let Err(e) = conn
            .get_mut()
            .write_all(format!("EHLO {}\r\n", self.helo).as_bytes())
            .await
        {
            return protocol(format!("EHLO: {e}"));
        }
        let offered = match reply(&mut conn).await {
            Ok((250, lines)) => lines
                .lines()
                .any(|l| l.trim().eq_ignore_ascii_case("STARTTLS")),
            Ok((code, text)) => return protocol(format!("EHLO answered {code} {text}")),
            Err(e) => return protocol(format!("EHLO: {e}")),
        };
        if !offered {
            let _ = conn.get_mut().write_all(b"QUIT\r\n").await;
            return StarttlsOutcome::NotOffered;
        }
        if let Err(e) = conn.get_mut().write_all(b"STARTTLS\r\n").await {
            return protocol(format!("STARTTLS: {e}"));
        }
        match reply(&mut conn).await {
            Ok((220, _)) => {}
            Ok((code, text)) => return StarttlsOutcome::Refused(format!("{code} {text}")),
            Err(e) => return protocol(format!("STARTTLS: {e}")),
        }
        // Bytes after the 220 before the handshake would be read as if they
        // came over TLS (the STARTTLS injection of CVE-2011-0411).
        if !conn.buffer().is_empty() {
            return protocol("the server sent data after its STARTTLS reply".into());
        }
        let tcp = conn.into_inner();
        let Ok(name) = ServerName::try_from(host.to_string()) else {
            return protocol(format!("{host} is not a host name"));
        };
        match TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
        {
            Ok(mut tls) => {
                let version = tls
                    .get_ref()
                    .1
                    .protocol_version()
                    .map(|v| match v {
                        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
                        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
                        other => format!("{other:?}"),
                    })
                    .unwrap_or_default();
                let _ = tls.write_all(b"QUIT\r\n").await;
                let _ = tls.shutdown().await;
                StarttlsOutcome::Secure { version }
            }
            Err(e) => {
                let failure = crate::tls_failure(host, &e);
                StarttlsOutcome::TlsFailed {
                    kind: failure.kind,
                    detail: failure.detail,
                }
            }
        }
    }
}

#[async_trait]
impl StarttlsProbe for StarttlsClient {
    async fn probe(&self, host: &str, address: IpAddr) -> StarttlsOutcome {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        match tokio::time::timeout(self.timeout, self.talk(&host, address)).await {
            Ok(outcome) => outcome,
            Err(_) => StarttlsOutcome::Unreachable {
                kind: HttpsFailureKind::Timeout,
                detail: format!(
                    "{host} ({address}) did not finish the SMTP conversation within {} s",
                    self.timeout.as_secs_f64()
                ),
            },
        }
    }
}

/// One SMTP reply: its code and the text of its lines, one per line.
async fn reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Result<(u16, String), String> {
    let mut text = String::new();
    for _ in 0..MAX_LINES {
        let mut line = Vec::new();
        let mut limited = (&mut *r).take(MAX_LINE as u64 + 1);
        let n = limited
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed".into());
        }
        if line.len() > MAX_LINE {
            return Err(format!("a reply line longer than {MAX_LINE} bytes"));
        }
        let line = String::from_utf8_lossy(&line);
        let line = line.trim_end_matches(['\r', '\n']);
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| {
                format!(
                    "not an SMTP reply: {}",
                    authwarden_api::text::display_value(line, 80)
                )
            })?;
        let rest = line.get(4..).unwrap_or("");
        text.push_str(rest);
        text.push('\n');
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text.trim_end().to_string()));
        }
    }
    Err(format!("a reply of more than {MAX_LINES} lines"))
}
