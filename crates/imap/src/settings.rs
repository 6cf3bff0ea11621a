//! Where the mailbox is and how to talk to it.

use std::fmt;
use std::time::Duration;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Security {
    /// TLS from the first byte (IMAPS, usually port 993).
    #[default]
    Tls,
    /// Plain text upgraded with STARTTLS before login (usually port 143); a server that does
    /// not offer STARTTLS is an error, never a silent fallback to plain text.
    StartTls,
    /// No encryption. Allowed only when the host resolves to loopback addresses: the password
    /// would otherwise cross the network in clear text.
    None,
}

impl Security {
    /// The usual port for this kind of connection: 993 for TLS, 143 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls | Security::None => 143,
        }
    }
}

/// The mailbox to read reports from and what to do with them.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapSettings {
    /// Server host name or IP address; also the name the TLS certificate must match.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Implicit TLS, STARTTLS or none.
    pub security: Security,
    /// Login name.
    pub username: String,
    /// Login password (never printed by `Debug`).
    pub password: String,
    /// Extra CA certificates (PEM) trusted besides the public web roots, e.g. a company CA.
    pub ca_pem: Option<Vec<u8>>,
    /// The folder reports arrive in (default `INBOX`).
    pub folder: String,
    /// Where processed messages are moved (default `Archive/DMARC`; created when missing).
    pub archive_folder: String,
    /// Where unparseable messages are moved (default `Invalid/DMARC`; created when missing).
    pub invalid_folder: String,
    /// Time allowed for the connection and for each command (default 60 s).
    pub timeout: Duration,
    /// Messages larger than this (by their RFC822.SIZE) are not downloaded and go to the
    /// invalid folder (default 50 MiB).
    pub max_message_bytes: u64,
}

impl ImapSettings {
    /// Settings for `host` over implicit TLS on port 993 with the default folders, timeout
    /// and size cap.
    pub fn new(
        host: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port: Security::Tls.default_port(),
            security: Security::Tls,
            username: username.into(),
            password: password.into(),
            ca_pem: None,
            folder: "INBOX".into(),
            archive_folder: "Archive/DMARC".into(),
            invalid_folder: "Invalid/DMARC".into(),
            timeout: Duration::from_secs(60),
            max_message_bytes: 50 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for ImapSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("ca_pem", &self.ca_pem.as_ref().map(|pem| pem.len()))
            .field("folder", &self.folder)
            .field("archive_folder", &self.archive_folder)
            .field("invalid_folder", &self.invalid_folder)
            .field("timeout", &self.timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_password() {
        let settings = ImapSettings::new("imap.example.com", "reports", "hunter2-secret");
        let text = format!("{settings:?}");
        assert!(!text.contains("hunter2-secret"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
        assert!(text.contains("imap.example.com"), "{text}");
    }

    #[test]
    fn defaults_are_implicit_tls_on_993_with_the_dmarc_folders() {
        let settings = ImapSettings::new("h", "u", "p");
        assert_eq!(settings.security, Security::Tls);
        assert_eq!(settings.port, 993);
        assert_eq!(settings.folder, "INBOX");
        assert_eq!(settings.archive_folder, "Archive/DMARC");
        assert_eq!(settings.invalid_folder, "Invalid/DMARC");
        assert_eq!(settings.max_message_bytes, 50 * 1024 * 1024);
        assert_eq!(Security::StartTls.default_port(), 143);
    }
}
