//! A real SMTP server (aiosmtpd) on loopback that stores what it receives in a Maildir.
//!
//! ```no_run
//! use authwarden_test_support::smtp::{SmtpOptions, SmtpServer};
//!
//! let server = SmtpServer::start(SmtpOptions { starttls: true, ..Default::default() }).unwrap();
//! // point the client at server.host():server.port(), trusting server.ca_pem()
//! let received: Vec<Vec<u8>> = server.messages();
//! ```
//!
//! The server is aiosmtpd's `SMTP` class with its `Mailbox` handler, driven by a short Python
//! script instead of `python3 -m aiosmtpd`: the command line has no options for authentication,
//! and the script lets the OS choose the port and reports it, so two tests never race for one.
//!
//! Python is `$AUTHWARDEN_TEST_PYTHON` when set; otherwise the first of `/usr/bin/python3`
//! (where Debian's `python3-aiosmtpd` lives) and `python3` on `PATH` that can
//! `import aiosmtpd`. If none can, [`SmtpServer::start`] fails and says to run
//! `scripts/test`, which installs it: a test that needs SMTP fails rather than passing silently.
//!
//! [`SmtpOptions::refuse_recipients`] and [`SmtpOptions::refuse_data`] make the handler answer
//! RCPT TO or the end of DATA with a given reply (a 5xx or 4xx), for tests of permanent and
//! temporary refusals.
//!
//! For STARTTLS and implicit TLS a throw-away CA and a server certificate for `localhost` and
//! `127.0.0.1` are made with `rcgen` at start; [`SmtpServer::ca_pem`] gives the CA to trust.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use tempfile::TempDir;

use crate::tls::{make_certificates, write};
use crate::util::ChildGuard;

/// The address every server of this module listens on.
pub const HOST: &str = "127.0.0.1";

/// How long to wait for the server to report that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The Python side: aiosmtpd's SMTP protocol with the Maildir handler, configured from a JSON
/// argument; prints `LISTENING <port>` once the socket listens.
const DRIVER: &str = r#"
import asyncio, json, ssl, sys
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

cfg = json.loads(sys.argv[1])
refuse_rcpt = {a.lower(): r for a, r in cfg.get("refuse_recipients", [])}
refuse_data = cfg.get("refuse_data")

class Handler(Mailbox):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = refuse_rcpt.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if refuse_data is not None:
            return refuse_data
        return await super().handle_DATA(server, session, envelope)

handler = Handler(cfg["maildir"])
ctx = None
if cfg.get("cert"):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
starttls = ctx is not None and not cfg["implicit_tls"]
auth = cfg.get("auth")

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        auth is not None
        and isinstance(auth_data, LoginPassword)
        and auth_data.login == auth[0].encode()
        and auth_data.password == auth[1].encode()
    )
    # handled=False: aiosmtpd then replies 535 itself; with the default (True) it would say
    # nothing and the client would wait forever.
    return AuthResult(success=ok, handled=False)

def factory():
    return SMTP(
        handler,
        hostname="localhost",
        tls_context=ctx if starttls else None,
        require_starttls=starttls,
        authenticator=authenticator if auth else None,
        auth_required=auth is not None,
        # Over implicit TLS the session is already encrypted; plain test servers allow
        # AUTH without TLS so that authentication can be tested without certificates too.
        auth_require_tls=starttls,
    )

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, host=cfg["host"], port=cfg["port"],
        ssl=ctx if cfg["implicit_tls"] else None,
    )
    port = server.sockets[0].getsockname()[1]
    print("LISTENING", port, flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"#;

/// What kind of SMTP server to start.
#[derive(Clone, Debug, Default)]
pub struct SmtpOptions {
    /// Offer STARTTLS and require it before MAIL FROM (ignored when `implicit_tls` is set).
    pub starttls: bool,
    /// Speak TLS from the first byte (SMTPS, "wrapper" mode) instead of plain text.
    pub implicit_tls: bool,
    /// Require AUTH (PLAIN or LOGIN) with this user name and password.
    pub auth: Option<(String, String)>,
    /// Listen on this port; `None` lets the OS choose a free one. A fixed port serves tests
    /// that first need nobody to listen there and then a server to appear.
    pub port: Option<u16>,
    /// Recipients to refuse, with the whole reply line to RCPT TO, e.g.
    /// `("nobody@example.org", "550 5.1.1 no such user")` or a `450 …` for a temporary
    /// refusal. Matched without regard to case; the others are accepted.
    pub refuse_recipients: Vec<(String, String)>,
    /// The reply to the end of DATA instead of `250 OK` (the message is then not stored),
    /// e.g. `"554 5.6.0 content rejected"`.
    pub refuse_data: Option<String>,
    /// The CA and certificate to serve instead of a fresh valid one for
    /// localhost (e.g. an expired one, from [`crate::https::test_certificates`]).
    pub certificates: Option<crate::https::TestCertificates>,
}

/// A running aiosmtpd on `127.0.0.1`; stopped when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    // Declared first so that the server stops before its directory is removed.
    _child: ChildGuard,
    port: u16,
    ca_pem: Option<Vec<u8>>,
    maildir: PathBuf,
    // Keeps the Maildir, certificates and log alive until the server is gone.
    _dir: TempDir,
}

impl SmtpServer {
    /// Starts the server and returns once it accepts connections.
    ///
    /// Fails with a message naming the cause, e.g. that aiosmtpd is not installed.
    pub fn start(opts: SmtpOptions) -> Result<SmtpServer, String> {
        let python = find_python()?;
        let dir = tempfile::Builder::new()
            .prefix("authwarden-smtp-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let maildir = dir.path().join("Maildir");

        let tls = opts.starttls || opts.implicit_tls;
        let (ca_pem, cert, key) = if tls {
            let (ca, cert, key) = match &opts.certificates {
                Some(c) => (c.ca.clone(), c.cert.clone(), c.key.clone()),
                None => make_certificates()?,
            };
            let cert_path = dir.path().join("server.crt");
            let key_path = dir.path().join("server.key");
            write(&cert_path, cert.as_bytes())?;
            write(&key_path, key.as_bytes())?;
            (Some(ca.into_bytes()), Some(cert_path), Some(key_path))
        } else {
            (None, None, None)
        };

        let refuse_recipients = opts
            .refuse_recipients
            .iter()
            .map(|(a, r)| format!("[{},{}]", json_str(a), json_str(r)))
            .collect::<Vec<_>>()
            .join(",");
        let config = format!(
            "{{\"host\":{},\"port\":{},\"maildir\":{},\"cert\":{},\"key\":{},\"implicit_tls\":{},\"auth\":{},\"refuse_recipients\":[{refuse_recipients}],\"refuse_data\":{}}}",
            json_str(HOST),
            opts.port.unwrap_or(0),
            json_str(&maildir.to_string_lossy()),
            cert.as_deref()
                .map_or("null".into(), |p| json_str(&p.to_string_lossy())),
            key.as_deref()
                .map_or("null".into(), |p| json_str(&p.to_string_lossy())),
            opts.implicit_tls,
            opts.auth
                .as_ref()
                .map_or("null".into(), |(u, p)| format!(
                    "[{},{}]",
                    json_str(u),
                    json_str(p)
                )),
            opts.refuse_data.as_deref().map_or("null".into(), json_str),
        );

        // aiosmtpd logs to stderr; a file cannot fill up and block it like an unread pipe.
        let log_path = dir.path().join("aiosmtpd.log");
        let log = File::create(&log_path).map_err(|e| format!("cannot create the log: {e}"))?;
        let mut command = Command::new(&python);
        command
            .arg("-c")
            .arg(DRIVER)
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = ChildGuard::spawn(&mut command, "aiosmtpd")
            .map_err(|e| format!("cannot start {}: {e}", python.display()))?;

        let stdout = child.child_mut().stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line
                .strip_prefix("LISTENING ")
                .and_then(|p| p.trim().parse::<u16>().ok()),
            Err(_) => None,
        };
        let Some(port) = port else {
            drop(child);
            let mut log = String::new();
            let _ = File::open(&log_path).and_then(|mut f| f.read_to_string(&mut log));
            return Err(format!(
                "aiosmtpd did not start on {HOST}:{}: {}",
                opts.port.map_or("<any>".into(), |p| p.to_string()),
                log.trim()
            ));
        };

        Ok(SmtpServer {
            _child: child,
            port,
            ca_pem,
            maildir,
            _dir: dir,
        })
    }

    /// The address the server listens on: always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        HOST
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM of the throw-away CA that signed the server certificate (TLS servers only).
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// The Maildir the server delivers into.
    pub fn maildir(&self) -> &Path {
        &self.maildir
    }

    /// Every message received so far, as stored (oldest first by file name).
    ///
    /// aiosmtpd's Mailbox handler re-serialises each message with Python's `email` package
    /// and adds `X-Peer`, `X-MailFrom` and `X-RcptTo` headers that record the envelope.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = fs::read_dir(self.maildir.join(sub)) {
                files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        }
        files.sort();
        files
            .iter()
            .filter_map(|path| fs::read(path).ok())
            .collect()
    }
}

/// The first Python that can import aiosmtpd.
fn find_python() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("AUTHWARDEN_TEST_PYTHON") {
        // An explicit choice is not second-guessed.
        Some(python) => vec![python.into()],
        // Debian's python3-aiosmtpd is in /usr/bin/python3's dist-packages; a pyenv or venv
        // python3 first on PATH would not see it.
        None => vec!["/usr/bin/python3".into(), "python3".into()],
    };
    for python in &candidates {
        let ok = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(python.clone());
        }
    }
    Err(format!(
        "no Python that can import aiosmtpd (tried {}); run scripts/test, which installs \
         python3-aiosmtpd, or `apt-get install python3-aiosmtpd`",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A JSON string literal (the driver's configuration is tiny; no serde needed).
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpStream;

    /// One SMTP exchange by hand: send `line`, return the server's (last) reply line.
    fn say(reader: &mut BufReader<TcpStream>, line: &str) -> String {
        if !line.is_empty() {
            reader
                .get_mut()
                .write_all(format!("{line}\r\n").as_bytes())
                .unwrap();
        }
        loop {
            let mut reply = String::new();
            reader.read_line(&mut reply).unwrap();
            // Multi-line replies have a '-' after the code on all but the last line.
            if reply.as_bytes().get(3) != Some(&b'-') {
                return reply;
            }
        }
    }

    #[test]
    fn a_plain_server_stores_what_it_receives_in_the_maildir() {
        let server = SmtpServer::start(SmtpOptions::default()).unwrap();
        assert!(server.ca_pem().is_none());
        assert!(server.messages().is_empty());
        let stream = TcpStream::connect((HOST, server.port())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut smtp = BufReader::new(stream);
        assert!(say(&mut smtp, "").starts_with("220"));
        assert!(say(&mut smtp, "EHLO test").starts_with("250"));
        assert!(say(&mut smtp, "MAIL FROM:<a@example.com>").starts_with("250"));
        assert!(say(&mut smtp, "RCPT TO:<b@example.org>").starts_with("250"));
        assert!(say(&mut smtp, "DATA").starts_with("354"));
        assert!(say(&mut smtp, "Subject: hi\r\n\r\nbody\r\n.").starts_with("250"));
        assert!(say(&mut smtp, "QUIT").starts_with("221"));

        let messages = server.messages();
        assert_eq!(messages.len(), 1);
        let text = String::from_utf8_lossy(&messages[0]);
        assert!(text.contains("Subject: hi"), "{text}");
        assert!(text.contains("X-RcptTo: b@example.org"), "{text}");
    }

    #[test]
    fn a_tls_server_has_a_ca_and_listens_on_the_port_asked_for() {
        let port = crate::util::free_port();
        let server = SmtpServer::start(SmtpOptions {
            starttls: true,
            port: Some(port),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(server.port(), port);
        let ca = String::from_utf8(server.ca_pem().unwrap().to_vec()).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

        let stream = TcpStream::connect((HOST, port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut smtp = BufReader::new(stream);
        assert!(say(&mut smtp, "").starts_with("220"));
        assert!(say(&mut smtp, "EHLO test").starts_with("250"));
        // STARTTLS is required: no mail in clear text.
        assert!(say(&mut smtp, "MAIL FROM:<a@example.com>").starts_with("530"));
    }

    #[test]
    fn recipients_and_data_can_be_refused_with_the_reply_asked_for() {
        let server = SmtpServer::start(SmtpOptions {
            refuse_recipients: vec![
                ("Gone@example.org".into(), "550 5.1.1 no such user".into()),
                ("later@example.org".into(), "450 4.2.1 try later".into()),
            ],
            refuse_data: Some("554 5.6.0 content rejected".into()),
            ..Default::default()
        })
        .unwrap();
        let stream = TcpStream::connect((HOST, server.port())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut smtp = BufReader::new(stream);
        assert!(say(&mut smtp, "").starts_with("220"));
        assert!(say(&mut smtp, "EHLO test").starts_with("250"));
        assert!(say(&mut smtp, "MAIL FROM:<a@example.com>").starts_with("250"));
        assert_eq!(
            say(&mut smtp, "RCPT TO:<gone@example.org>").trim_end(),
            "550 5.1.1 no such user"
        );
        assert!(say(&mut smtp, "RCPT TO:<later@example.org>").starts_with("450"));
        assert!(say(&mut smtp, "RCPT TO:<b@example.org>").starts_with("250"));
        assert!(say(&mut smtp, "DATA").starts_with("354"));
        assert_eq!(
            say(&mut smtp, "Subject: hi\r\n\r\nbody\r\n.").trim_end(),
            "554 5.6.0 content rejected"
        );
        assert!(say(&mut smtp, "QUIT").starts_with("221"));
        assert!(server.messages().is_empty());
    }

    #[test]
    fn a_busy_port_is_an_error_that_says_why() {
        let taken = std::net::TcpListener::bind((HOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = SmtpServer::start(SmtpOptions {
            port: Some(port),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.contains("did not start"), "{err}");
        assert!(err.to_lowercase().contains("address"), "{err}");
    }
}
