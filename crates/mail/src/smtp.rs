//! SMTP settings and the lettre transport built from them.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use crate::session::{Prepared, TlsMode};
use crate::MailError;

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS; fails if the server does not offer it
    /// (submission, usually port 587).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption at all. Only allowed when the host is loopback (`localhost`, `127.0.0.0/8`,
    /// `::1`), e.g. a local relay; refused for any other host.
    None,
}

/// Where and how to send mail.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Host name or IP address of the server (also the name its certificate must match).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Transport security.
    pub security: Security,
    /// User name for AUTH; set together with `password` or not at all.
    pub username: Option<String>,
    /// Password for AUTH. Never printed: `Debug` redacts it and error texts have it removed.
    pub password: Option<String>,
    /// Extra CA certificate(s), PEM, trusted besides the built-in web roots
    /// (a company CA, or a test CA).
    pub ca_pem: Option<Vec<u8>>,
    /// Bounds one connection attempt as a whole (resolving the host, TCP to each of its
    /// addresses, greeting, EHLO, STARTTLS, AUTH), and then each message's exchange (MAIL FROM
    /// to the reply after the data) on its own. A server that accepts and never answers costs
    /// one timeout and one connection per flush; the rest of the queue is not tried.
    pub timeout: Duration,
    /// Name sent in EHLO; the local host name when `None`.
    pub hello_name: Option<String>,
}

impl SmtpSettings {
    /// Settings without authentication or extra CA and a 30-second timeout.
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> Self {
        SmtpSettings {
            host: host.into(),
            port,
            security,
            username: None,
            password: None,
            ca_pem: None,
            timeout: Duration::from_secs(30),
            hello_name: None,
        }
    }

    /// Checks the settings and prepares a connection; connects nowhere.
    pub(crate) fn transport(&self) -> Result<Prepared, MailError> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(MailError::Settings("the SMTP host is empty".into()));
        }
        if self.timeout.is_zero() {
            return Err(MailError::Settings(
                "the SMTP timeout must be greater than zero".into(),
            ));
        }
        let tls = match self.security {
            Security::None if !is_loopback(host) => {
                return Err(MailError::Settings(format!(
                    "security = none sends mail and password unencrypted, so it is only allowed \
                     for a loopback host, not {host:?}; use starttls or tls"
                )))
            }
            Security::None => TlsMode::None,
            Security::StartTls => TlsMode::StartTls(self.tls_parameters(host)?),
            Security::Tls => TlsMode::Wrapper(self.tls_parameters(host)?),
        };
        let credentials = match (&self.username, &self.password) {
            (Some(user), Some(pass)) => Some(Credentials::new(user.clone(), pass.clone())),
            (None, None) => None,
            (Some(_), None) => {
                return Err(MailError::Settings(
                    "a user name is set but no password".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(MailError::Settings(
                    "a password is set but no user name".into(),
                ))
            }
        };
        let hello = match &self.hello_name {
            Some(name) => ClientId::Domain(name.clone()),
            None => ClientId::default(),
        };
        Ok(Prepared {
            settings: self.clone(),
            host: host.to_string(),
            tls,
            credentials,
            hello,
        })
    }

    fn tls_parameters(&self, host: &str) -> Result<TlsParameters, MailError> {
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(pem) = &self.ca_pem {
            // lettre accepts a PEM without any certificate in it; an empty CA file is a mistake.
            if !pem
                .windows(b"-----BEGIN CERTIFICATE-----".len())
                .any(|w| w == b"-----BEGIN CERTIFICATE-----")
            {
                return Err(MailError::Settings(
                    "the CA PEM holds no certificate".into(),
                ));
            }
            let cert = Certificate::from_pem(pem)
                .map_err(|e| MailError::Settings(format!("invalid CA PEM: {e}")))?;
            params = params.add_root_certificate(cert);
        }
        params
            .build()
            .map_err(|e| MailError::Settings(format!("cannot set up TLS: {e}")))
    }

    /// `text` with the password, if any, replaced by `<redacted>`.
    ///
    /// lettre's errors never contain credentials, but a server's reply is free text. A
    /// password shorter than 8 characters is only replaced where it stands alone (not inside
    /// a longer word): replacing every `p` of a one-letter password would wreck the message.
    pub(crate) fn redact(&self, text: &str) -> String {
        let Some(password) = self.password.as_deref().filter(|p| !p.is_empty()) else {
            return text.to_string();
        };
        let whole_words_only = password.chars().count() < 8;
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.find(password) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + password.len()..].chars().next();
            let stands_alone = !before.is_some_and(char::is_alphanumeric)
                && !after.is_some_and(char::is_alphanumeric);
            out.push_str(&rest[..at]);
            if stands_alone || !whole_words_only {
                out.push_str("<redacted>");
                rest = &rest[at + password.len()..];
            } else {
                let skip = password.chars().next().map_or(1, char::len_utf8);
                out.push_str(&rest[at..at + skip]);
                rest = &rest[at + skip..];
            }
        }
        out.push_str(rest);
        out
    }
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field(
                "ca_pem",
                &self.ca_pem.as_ref().map(|p| format!("{} bytes", p.len())),
            )
            .field("timeout", &self.timeout)
            .field("hello_name", &self.hello_name)
            .finish()
    }
}

/// `localhost` (RFC 6761 reserves it for loopback) or a loopback IP address.
fn is_loopback(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_password() {
        let mut s = SmtpSettings::new("smtp.example.com", 587, Security::StartTls);
        s.username = Some("reports".into());
        s.password = Some("hunter2-s3cret".into());
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2-s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("reports"), "{shown}");
        assert_eq!(s.redact("535 bad hunter2-s3cret"), "535 bad <redacted>");
        assert_eq!(s.redact("xhunter2-s3cretx"), "x<redacted>x");
    }

    #[test]
    fn short_passwords_are_redacted_where_they_stand_alone() {
        let mut s = SmtpSettings::new("localhost", 25, Security::None);
        s.password = Some("p".into());
        assert_eq!(
            s.redact("permanent error (535): p is wrong, p"),
            "permanent error (535): <redacted> is wrong, <redacted>"
        );
        s.password = Some("ab".into());
        assert_eq!(s.redact("aab ab:ab"), "aab <redacted>:<redacted>");
        s.password = None;
        assert_eq!(s.redact("p"), "p");
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "example.com",
            "10.0.0.1",
            "192.168.1.1",
            "::",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn plain_smtp_is_refused_for_other_hosts() {
        let s = SmtpSettings::new("smtp.example.com", 25, Security::None);
        let err = s.transport().unwrap_err().to_string();
        assert!(err.contains("only allowed for a loopback host"), "{err}");
        assert!(SmtpSettings::new("[::1]", 25, Security::None)
            .transport()
            .is_ok());
    }

    #[test]
    fn half_credentials_and_empty_ca_are_refused() {
        let mut s = SmtpSettings::new("localhost", 25, Security::None);
        s.username = Some("u".into());
        assert!(s.transport().is_err());
        let mut s = SmtpSettings::new("localhost", 465, Security::Tls);
        s.ca_pem = Some(b"nothing here".to_vec());
        assert!(s.transport().is_err());
    }
}
