//! One SMTP session, driven command by command so that every reply can be classified.
//!
//! lettre's transport sends a message as one step and gives up at the first refused
//! recipient; it also bounds only the TCP connect, per resolved address, and no read at all.
//! Here the commands are sent one by one with lettre's connection type, so that:
//!
//! - a problem of the connection or the settings (refused, TLS, AUTH, timeout, 530) is told
//!   apart from a reply about one message (MAIL FROM, RCPT TO, DATA);
//! - a recipient refused for good does not stop delivery to the others;
//! - one deadline covers the whole connection attempt, and one more each message's exchange.

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::Address;

use crate::SmtpSettings;

/// The longest wait for the reply to QUIT after the last message.
const QUIT_TIMEOUT: Duration = Duration::from_secs(5);

/// Settings checked and turned into what a connection needs.
pub(crate) struct Prepared {
    pub(crate) settings: SmtpSettings,
    pub(crate) host: String,
    pub(crate) tls: TlsMode,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) hello: ClientId,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings' Debug hides the password; the credentials are not shown at all.
        f.debug_struct("Prepared")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

pub(crate) enum TlsMode {
    None,
    StartTls(TlsParameters),
    Wrapper(TlsParameters),
}

/// Why no session could be opened. Every queued message waits for the next flush.
#[derive(Debug)]
pub(crate) struct ConnectFailure {
    pub(crate) text: String,
}

/// What happened to one message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The server took it; `refused` are recipients it refused for good (address, reply).
    Accepted { refused: Vec<(String, String)> },
    /// Refused for good: every recipient, the sender or the content got a 5xx reply.
    Rejected(String),
    /// Not now: a 4xx reply, a timeout or a broken connection. `broken`: the session cannot
    /// be used for the next message.
    Deferred { text: String, broken: bool },
}

/// An open, greeted (and, as configured, encrypted and authenticated) connection.
pub(crate) struct Session<'a> {
    prepared: &'a Prepared,
    conn: AsyncSmtpConnection,
}

impl Prepared {
    fn no_answer(&self) -> String {
        format!(
            "no answer from {}:{} within {:?}",
            self.settings.host, self.settings.port, self.settings.timeout
        )
    }

    fn text(&self, e: &lettre::transport::smtp::Error) -> String {
        self.settings.redact(&error_text(e))
    }

    /// Connects within one `timeout`, whatever the number of addresses the host has.
    pub(crate) async fn open(&self) -> Result<Session<'_>, ConnectFailure> {
        self.open_to(None).await
    }

    /// [`Prepared::open`], to these addresses instead of the host's when given.
    pub(crate) async fn open_to(
        &self,
        addresses: Option<Vec<SocketAddr>>,
    ) -> Result<Session<'_>, ConnectFailure> {
        match tokio::time::timeout(self.settings.timeout, self.connect(addresses)).await {
            Err(_) => Err(ConnectFailure {
                text: self.no_answer(),
            }),
            Ok(Err(text)) => Err(ConnectFailure {
                text: self.settings.redact(&text),
            }),
            Ok(Ok(conn)) => Ok(Session {
                prepared: self,
                conn,
            }),
        }
    }

    async fn connect(
        &self,
        addresses: Option<Vec<SocketAddr>>,
    ) -> Result<AsyncSmtpConnection, String> {
        let port = self.settings.port;
        let addresses = match addresses {
            Some(addresses) => addresses,
            None => resolve(&self.host, port)
                .await
                .map_err(|e| format!("cannot resolve {}: {e}", self.host))?,
        };
        let wrapper = match &self.tls {
            TlsMode::Wrapper(params) => Some(params.clone()),
            _ => None,
        };
        // lettre's own timeout applies to each address's TCP connect; the deadline around
        // this whole function is what bounds the attempt.
        let mut conn = AsyncSmtpConnection::connect_tokio1(
            &addresses[..],
            Some(self.settings.timeout),
            &self.hello,
            wrapper,
            None,
        )
        .await
        .map_err(|e| self.text(&e))?;
        if let TlsMode::StartTls(params) = &self.tls {
            if !conn.can_starttls() {
                conn.abort().await;
                return Err(format!(
                    "{}:{} does not offer STARTTLS, which security = starttls requires; \
                     nothing was sent",
                    self.settings.host, port
                ));
            }
            conn.starttls(params.clone(), &self.hello)
                .await
                .map_err(|e| self.text(&e))?;
        }
        if let Some(credentials) = &self.credentials {
            if let Err(e) = conn.auth(DEFAULT_MECHANISMS, credentials).await {
                conn.abort().await;
                return Err(self.text(&e));
            }
        }
        Ok(conn)
    }
}

impl Session<'_> {
    /// Sends one message within `timeout`.
    pub(crate) async fn send(&mut self, from: &Address, to: &[Address], bytes: &[u8]) -> Delivery {
        let timeout = self.prepared.settings.timeout;
        match tokio::time::timeout(timeout, self.exchange(from, to, bytes)).await {
            Ok(delivery) => delivery,
            Err(_) => Delivery::Deferred {
                text: self.prepared.no_answer(),
                broken: true,
            },
        }
    }

    /// QUIT, briefly: everything is delivered already.
    pub(crate) async fn quit(mut self) {
        let wait = self.prepared.settings.timeout.min(QUIT_TIMEOUT);
        let _ = tokio::time::timeout(wait, self.conn.quit()).await;
    }

    async fn exchange(&mut self, from: &Address, to: &[Address], bytes: &[u8]) -> Delivery {
        let info = self.conn.server_info();
        let mut parameters = Vec::new();
        let ascii = |a: &Address| AsRef::<str>::as_ref(a).is_ascii();
        let non_ascii = !ascii(from) || !to.iter().all(ascii);
        if non_ascii {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                return Delivery::Rejected(
                    "the envelope has non-ASCII addresses and the server does not support \
                     SMTPUTF8"
                        .into(),
                );
            }
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !bytes.is_ascii() {
            if !info.supports_feature(Extension::EightBitMime) {
                return Delivery::Rejected(
                    "the message is not ASCII and the server does not support 8BITMIME".into(),
                );
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }

        if let Err(e) = self
            .conn
            .command(Mail::new(Some(from.clone()), parameters))
            .await
        {
            return self.failed(&e).await;
        }
        let mut accepted = 0;
        let mut refused = Vec::new();
        let mut later = Vec::new();
        for rcpt in to {
            match self.conn.command(Rcpt::new(rcpt.clone(), vec![])).await {
                Ok(_) => accepted += 1,
                Err(e) if is_settings_reply(&e) => return self.failed(&e).await,
                Err(e) if e.is_permanent() => {
                    refused.push((rcpt.to_string(), self.prepared.text(&e)));
                }
                Err(e) if e.is_transient() => {
                    later.push(format!("{rcpt}: {}", self.prepared.text(&e)));
                }
                Err(e) => {
                    return Delivery::Deferred {
                        text: self.prepared.text(&e),
                        broken: true,
                    }
                }
            }
        }
        if !later.is_empty() {
            // Sending now would mean sending again later to those who got it: wait for all.
            let broken = !self.reset().await;
            let mut text = format!("recipient refused for now: {}", later.join("; "));
            if !refused.is_empty() {
                text.push_str(&format!("; refused for good: {}", joined(&refused)));
            }
            return Delivery::Deferred { text, broken };
        }
        if accepted == 0 {
            self.reset().await;
            return Delivery::Rejected(format!("every recipient refused: {}", joined(&refused)));
        }
        if let Err(e) = self.conn.command(Data).await {
            return self.failed(&e).await;
        }
        match self.conn.message(bytes).await {
            Ok(_) => Delivery::Accepted { refused },
            Err(e) => self.failed(&e).await,
        }
    }

    /// The message's transaction failed with `e`; ends it so the session can go on.
    async fn failed(&mut self, e: &lettre::transport::smtp::Error) -> Delivery {
        let text = self.prepared.text(e);
        if is_settings_reply(e) {
            Delivery::Deferred { text, broken: true }
        } else if e.is_permanent() {
            self.reset().await;
            Delivery::Rejected(text)
        } else if e.is_transient() {
            let closing = e.status().is_some_and(|c| c.to_string() == "421");
            let broken = closing || !self.reset().await;
            Delivery::Deferred { text, broken }
        } else {
            Delivery::Deferred { text, broken: true }
        }
    }

    async fn reset(&mut self) -> bool {
        self.conn.command(Rset).await.is_ok()
    }
}

/// 530 (authentication or encryption required) answers the settings, not the message: every
/// message would get it.
fn is_settings_reply(e: &lettre::transport::smtp::Error) -> bool {
    e.status().is_some_and(|c| c.to_string() == "530")
}

fn joined(refused: &[(String, String)]) -> String {
    refused
        .iter()
        .map(|(address, reply)| format!("{address}: {reply}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The host's addresses. A name is resolved on a thread of its own rather than with
/// `spawn_blocking`: a resolver that hangs past the deadline must not keep the runtime, and
/// so the process, alive at exit (a runtime waits for its blocking tasks when it shuts down).
async fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let name = host.to_string();
    std::thread::Builder::new()
        .name("smtp-resolve".into())
        .spawn(move || {
            let _ = tx.send(
                (name.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect::<Vec<_>>),
            );
        })?;
    let addresses = rx
        .await
        .unwrap_or_else(|_| Err(io::Error::other("the resolver ended without an answer")))?;
    if addresses.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no address"));
    }
    Ok(addresses)
}

/// The error with its causes, each once (lettre repeats "Connection error: " when it wraps).
pub(crate) fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    let mut segments: Vec<&str> = text.split(": ").collect();
    segments.dedup();
    segments.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Security;

    /// A loopback address whose accept queue is full: the kernel drops new SYNs, so a connect
    /// to it neither succeeds nor fails, like a firewalled server. Keep the rest alive.
    fn black_hole(ip: &str) -> (SocketAddr, (tokio::net::TcpListener, std::net::TcpStream)) {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(SocketAddr::new(ip.parse().unwrap(), 0))
            .unwrap();
        let listener = socket.listen(0).unwrap();
        let address = listener.local_addr().unwrap();
        // Fills the queue (a backlog of 0 holds one).
        let filler = std::net::TcpStream::connect(address).unwrap();
        (address, (listener, filler))
    }

    /// Two unreachable addresses cost one timeout in all, not one each (lettre's own timeout
    /// is per address: alone, it would take twice the configured time here).
    #[tokio::test(start_paused = true)]
    async fn one_deadline_covers_every_address_of_the_host() {
        let (a, _a) = black_hole("127.0.0.1");
        let (b, _b) = black_hole("127.0.0.2");
        let mut settings = SmtpSettings::new("127.0.0.1", a.port(), Security::None);
        settings.timeout = Duration::from_secs(30);
        let prepared = settings.transport().unwrap();

        let started = tokio::time::Instant::now();
        let failure = prepared.open_to(Some(vec![a, b])).await.err().unwrap();
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(30) && took < Duration::from_secs(31),
            "virtual time: {took:?}"
        );
        assert!(failure.text.starts_with("no answer from"), "{failure:?}");
    }

    #[test]
    fn refused_recipients_are_listed_with_their_replies() {
        assert_eq!(
            joined(&[
                ("a@example.org".into(), "550 no".into()),
                ("b@example.org".into(), "553 bad".into())
            ]),
            "a@example.org: 550 no; b@example.org: 553 bad"
        );
    }
}
