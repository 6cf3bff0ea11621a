//! A real IMAP server (Dovecot) on loopback with one test user and Maildir storage.
//!
//! ```no_run
//! use authwarden_test_support::imap::{ImapOptions, ImapServer};
//!
//! let server = ImapServer::start(ImapOptions { tls: true, ..Default::default() }).unwrap();
//! server.append("INBOX", b"Subject: hi\r\n\r\nbody\r\n").unwrap();
//! // connect to server.host():server.port() (plain or STARTTLS) or server.imaps_port()
//! // (implicit TLS), log in as server.user() / server.password(), trust server.ca_pem()
//! let archived: Vec<Vec<u8>> = server.folder_messages("Archive/DMARC");
//! ```
//!
//! Dovecot runs in the foreground (`dovecot -F -c CONFIG`) with a self-contained configuration
//! in a temporary directory: its runtime and state directories, the log file and the mail all
//! live there, and nothing of `/etc/dovecot` is read. The test user logs in with a plaintext
//! password (`disable_plaintext_auth = no`, a static passdb); the hierarchy separator is `/`.
//!
//! As root, Dovecot's mail processes run as `nobody`/`nogroup` (mail users cannot be uid 0)
//! chrooted into the mail directory, so the temporary directory's parents need not be readable
//! by `nobody`. As another user, everything runs as that user, without chroots.
//!
//! If Dovecot is not installed, [`ImapServer::start`] fails and says to run `scripts/test`,
//! which installs `dovecot-imapd`: a test that needs IMAP fails rather than passing silently.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::tls::{make_certificates, write};
use crate::util::{find_binary, free_port, ChildGuard};

/// The address every server of this module listens on.
pub const HOST: &str = "127.0.0.1";

/// The test user's name.
pub const USER: &str = "dmarc";

/// The test user's password.
pub const PASSWORD: &str = "test-password";

/// How long to wait for Dovecot to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times a start is retried with new ports when Dovecot cannot bind.
const START_ATTEMPTS: usize = 4;

/// What kind of IMAP server to start.
#[derive(Clone, Debug, Default)]
pub struct ImapOptions {
    /// Offer STARTTLS on [`ImapServer::port`] and implicit TLS on [`ImapServer::imaps_port`],
    /// with a certificate for `localhost` and `127.0.0.1` signed by a throw-away CA.
    /// Plaintext login stays allowed without TLS.
    pub tls: bool,
    /// Hide the MOVE capability (the server still has UIDPLUS), so that clients take their
    /// COPY + STORE \Deleted + EXPUNGE path.
    pub no_move: bool,
}

/// A running Dovecot on `127.0.0.1`; stopped when dropped.
#[derive(Debug)]
pub struct ImapServer {
    // Declared first so that the server stops before its directory is removed.
    _child: ChildGuard,
    port: u16,
    imaps_port: Option<u16>,
    ca_pem: Option<Vec<u8>>,
    maildir: PathBuf,
    log_path: PathBuf,
    // Keeps the configuration, mail and log alive until the server is gone.
    _dir: TempDir,
}

impl ImapServer {
    /// Starts Dovecot and returns once it accepts connections.
    ///
    /// Fails with a message naming the cause, e.g. that Dovecot is not installed.
    pub fn start(opts: ImapOptions) -> Result<ImapServer, String> {
        let dovecot = find_binary("dovecot").ok_or_else(|| {
            "dovecot is not installed: run scripts/test, which installs dovecot-imapd, \
             or `apt-get install dovecot-imapd`"
                .to_string()
        })?;
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&dovecot, &opts)? {
                Ok(server) => return Ok(server),
                // Another process took a port between free_port and Dovecot's bind.
                Err(err) => last_error = err,
            }
        }
        Err(last_error)
    }

    /// `Err` for a setup failure, `Ok(Err)` for a start failure worth retrying on new ports.
    fn try_start(dovecot: &Path, opts: &ImapOptions) -> Result<Result<ImapServer, String>, String> {
        let dir = tempfile::Builder::new()
            .prefix("authwarden-imap-")
            .tempdir()
            .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
        let root = dir.path();
        let mail_root = root.join("mail");
        let user_home = mail_root.join(USER);
        for sub in [&root.join("run"), &root.join("state"), &user_home] {
            fs::create_dir_all(sub).map_err(|e| format!("cannot create {}: {e}", sub.display()))?;
        }
        let identity = Identity::current()?;
        if let Some((uid, gid)) = identity.mail_owner {
            for path in [&mail_root, &user_home] {
                std::os::unix::fs::chown(path, Some(uid), Some(gid))
                    .map_err(|e| format!("cannot hand {} to uid {uid}: {e}", path.display()))?;
            }
        }

        let port = free_port();
        let (ca_pem, ssl, imaps_port) = if opts.tls {
            let (ca, cert, key) = make_certificates()?;
            let cert_path = root.join("server.crt");
            let key_path = root.join("server.key");
            write(&cert_path, cert.as_bytes())?;
            write(&key_path, key.as_bytes())?;
            let ssl = format!(
                "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n",
                cert_path.display(),
                key_path.display()
            );
            (Some(ca.into_bytes()), ssl, Some(free_port()))
        } else {
            (None, "ssl = no\n".to_string(), None)
        };

        let log_path = root.join("dovecot.log");
        let config = config_text(
            root,
            &identity,
            &ssl,
            port,
            imaps_port,
            opts.no_move,
            &log_path,
        );
        let config_path = root.join("dovecot.conf");
        write(&config_path, config.as_bytes())?;

        // Dovecot logs to its log file; its own stderr only has start-up errors.
        let stderr_path = root.join("dovecot.stderr");
        let stderr = File::create(&stderr_path)
            .map_err(|e| format!("cannot create {}: {e}", stderr_path.display()))?;
        let mut command = Command::new(dovecot);
        command
            .arg("-F")
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut child = ChildGuard::spawn(&mut command, "dovecot")
            .map_err(|e| format!("cannot start {}: {e}", dovecot.display()))?;

        let mut ports = vec![port];
        ports.extend(imaps_port);
        let deadline = Instant::now() + START_TIMEOUT;
        for &p in &ports {
            let addr: SocketAddr = (std::net::Ipv4Addr::LOCALHOST, p).into();
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                let exited = child.try_wait().ok().flatten().is_some();
                if exited || Instant::now() >= deadline {
                    drop(child);
                    let why = if exited {
                        "exited"
                    } else {
                        "did not listen in time"
                    };
                    return Ok(Err(format!(
                        "dovecot {why} on {HOST}:{p}: {} {}",
                        read_lossy(&stderr_path).trim(),
                        read_lossy(&log_path).trim()
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }

        Ok(Ok(ImapServer {
            _child: child,
            port,
            imaps_port,
            ca_pem,
            maildir: user_home.join("Maildir"),
            log_path,
            _dir: dir,
        }))
    }

    /// The address the server listens on: always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        HOST
    }

    /// The port for plain IMAP, and for STARTTLS when the server was started with `tls`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port for IMAP over implicit TLS (servers started with `tls` only).
    pub fn imaps_port(&self) -> Option<u16> {
        self.imaps_port
    }

    /// The test user's name.
    pub fn user(&self) -> &'static str {
        USER
    }

    /// The test user's password.
    pub fn password(&self) -> &'static str {
        PASSWORD
    }

    /// The PEM of the throw-away CA that signed the server certificate (TLS servers only).
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// The test user's Maildir (Maildir++ layout: `INBOX` is the top, `A/B` is `.A.B`).
    pub fn maildir(&self) -> &Path {
        &self.maildir
    }

    /// Dovecot's log so far, for assertion messages.
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }

    /// Creates `folder` (and its parents) over IMAP; an existing folder is not an error.
    pub fn create_folder(&self, folder: &str) -> Result<(), String> {
        let mut imap = RawImap::login(self.port)?;
        imap.create(folder)?;
        imap.logout();
        Ok(())
    }

    /// Appends one message to `folder` over IMAP (APPEND with a literal), creating the folder
    /// when it is missing. Returns the message's UID (Dovecot answers APPENDUID).
    pub fn append(&self, folder: &str, message: &[u8]) -> Result<u32, String> {
        let mut imap = RawImap::login(self.port)?;
        if !folder.eq_ignore_ascii_case("INBOX") {
            imap.create(folder)?;
        }
        let uid = imap.append(folder, message)?;
        imap.logout();
        Ok(uid)
    }

    /// The messages of `folder` read straight from the Maildir (new and cur, in the order
    /// Dovecot stored them). Dovecot stores lines ending in LF, not CRLF. A folder that does
    /// not exist has no messages.
    pub fn folder_messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let dir = self.folder_path(folder);
        let mut files = Vec::new();
        for sub in ["new", "cur"] {
            if let Ok(entries) = fs::read_dir(dir.join(sub)) {
                files.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
            }
        }
        // Maildir names start with the delivery time and a per-process counter.
        files.sort_by_key(|path| maildir_order(path));
        files
            .iter()
            .filter_map(|path| fs::read(path).ok())
            .collect()
    }

    /// The Maildir directory of `folder`.
    pub fn folder_path(&self, folder: &str) -> PathBuf {
        if folder.eq_ignore_ascii_case("INBOX") {
            self.maildir.clone()
        } else {
            self.maildir.join(format!(".{}", folder.replace('/', ".")))
        }
    }
}

/// Sort key of a Maildir file name `SECONDS.M<micros>P<pid>...`: seconds, then microseconds.
fn maildir_order(path: &Path) -> (u64, u64, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut parts = name.splitn(2, '.');
    let secs = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let micros = parts
        .next()
        .and_then(|rest| rest.strip_prefix('M'))
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0);
    (secs, micros, name)
}

/// Who Dovecot's processes run as.
struct Identity {
    /// Root: `Some((uid, gid))` of `nobody`/`nogroup`, which own the mail.
    mail_owner: Option<(u32, u32)>,
    /// Not root: the current user's name, uid, group name and gid, used for every process.
    unprivileged: Option<(String, u32, String, u32)>,
}

impl Identity {
    fn current() -> Result<Identity, String> {
        // /proc/self belongs to the process's effective user and group.
        let me =
            std::fs::metadata("/proc/self").map_err(|e| format!("cannot read /proc/self: {e}"))?;
        let (uid, gid) = (
            std::os::unix::fs::MetadataExt::uid(&me),
            std::os::unix::fs::MetadataExt::gid(&me),
        );
        if uid == 0 {
            let nobody = lookup("/etc/passwd", "nobody", 2).unwrap_or(65534);
            let nogroup = lookup("/etc/group", "nogroup", 2)
                .or_else(|| lookup("/etc/passwd", "nobody", 3))
                .unwrap_or(65534);
            Ok(Identity {
                mail_owner: Some((nobody, nogroup)),
                unprivileged: None,
            })
        } else {
            let name = name_of("/etc/passwd", uid).ok_or_else(|| {
                format!("uid {uid} has no name in /etc/passwd, dovecot needs one")
            })?;
            let group = name_of("/etc/group", gid)
                .ok_or_else(|| format!("gid {gid} has no name in /etc/group, dovecot needs one"))?;
            Ok(Identity {
                mail_owner: None,
                unprivileged: Some((name, uid, group, gid)),
            })
        }
    }
}

/// The numeric field `field` of the `name` entry of a passwd-style file.
fn lookup(file: &str, name: &str, field: usize) -> Option<u32> {
    let text = fs::read_to_string(file).ok()?;
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.first() == Some(&name))
        .and_then(|fields| fields.get(field)?.parse().ok())
}

/// The name of the entry whose numeric id (third field) is `id` in a passwd-style file.
fn name_of(file: &str, id: u32) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines()
        .map(|line| line.split(':').collect::<Vec<_>>())
        .find(|fields| fields.get(2).and_then(|u| u.parse::<u32>().ok()) == Some(id))
        .map(|fields| fields[0].to_string())
}

/// The whole Dovecot configuration.
fn config_text(
    root: &Path,
    identity: &Identity,
    ssl: &str,
    port: u16,
    imaps_port: Option<u16>,
    no_move: bool,
    log_path: &Path,
) -> String {
    let root_s = root.display();
    // The instance name shows in process titles (`dovecot-<name>/imap`) and keeps instances apart.
    let instance = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "authwarden-imap".into());
    let users = match (&identity.mail_owner, &identity.unprivileged) {
        (Some((uid, gid)), _) => format!(
            // Chrooted into the mail directory: `nobody` needs no access to its parents.
            "mail_chroot = {root_s}/mail\n\
             mail_uid = {uid}\nmail_gid = {gid}\n\
             first_valid_uid = {uid}\nfirst_valid_gid = {gid}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home=/%u\n}}\n"
        ),
        (None, Some((name, uid, group, gid))) => format!(
            "default_login_user = {name}\ndefault_internal_user = {name}\n\
             default_internal_group = {group}\n\
             mail_uid = {uid}\nmail_gid = {gid}\n\
             first_valid_uid = {uid}\nfirst_valid_gid = {gid}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={root_s}/mail/%u\n}}\n\
             service imap-login {{\n  chroot =\n}}\n\
             service anvil {{\n  chroot =\n}}\n"
        ),
        (None, None) => unreachable!("an identity is root or not"),
    };
    let imaps = match imaps_port {
        Some(p) => format!(
            "  inet_listener imaps {{\n    address = {HOST}\n    port = {p}\n    ssl = yes\n  }}\n"
        ),
        None => "  inet_listener imaps {\n    port = 0\n  }\n".to_string(),
    };
    let capability = if no_move {
        // The full list replaces the advertised one; MOVE is left out.
        "imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT \
         SORT=DISPLAY THREAD=REFERENCES THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND \
         URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 \
         CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS \
         BINARY SPECIAL-USE LITERAL+\n"
    } else {
        ""
    };
    format!(
        "# Written by authwarden-test-support: a self-contained test server.\n\
         instance_name = {instance}\n\
         base_dir = {root_s}/run\n\
         state_dir = {root_s}/state\n\
         log_path = {log}\n\
         info_log_path = {log}\n\
         protocols = imap\n\
         listen = {HOST}\n\
         {ssl}\
         disable_plaintext_auth = no\n\
         auth_mechanisms = plain login\n\
         mail_location = maildir:~/Maildir\n\
         namespace inbox {{\n  inbox = yes\n  separator = /\n}}\n\
         passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}\n\
         {users}\
         {capability}\
         service imap-login {{\n  inet_listener imap {{\n    address = {HOST}\n    port = {port}\n  }}\n{imaps}}}\n\
         protocol imap {{\n  mail_max_userip_connections = 100\n}}\n",
        log = log_path.display(),
    )
}

/// A minimal synchronous IMAP client for setting up test data.
struct RawImap {
    reader: BufReader<TcpStream>,
    tag: u32,
}

impl RawImap {
    fn login(port: u16) -> Result<RawImap, String> {
        let mut imap = RawImap::connect(port)?;
        imap.command(&format!("LOGIN {} {}", quote(USER), quote(PASSWORD)))?;
        Ok(imap)
    }

    /// Connects and reads the greeting, without logging in.
    fn connect(port: u16) -> Result<RawImap, String> {
        let stream = TcpStream::connect((HOST, port))
            .map_err(|e| format!("cannot connect to {HOST}:{port}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(|e| e.to_string())?;
        let mut imap = RawImap {
            reader: BufReader::new(stream),
            tag: 0,
        };
        let greeting = imap.line()?;
        if !greeting.starts_with("* OK") {
            return Err(format!("unexpected IMAP greeting: {greeting}"));
        }
        Ok(imap)
    }

    fn create(&mut self, folder: &str) -> Result<(), String> {
        match self.command(&format!("CREATE {}", quote(folder))) {
            Ok(_) => Ok(()),
            Err(e) if e.contains("ALREADYEXISTS") => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn append(&mut self, folder: &str, message: &[u8]) -> Result<u32, String> {
        let tag = self.next_tag();
        self.write(format!("{tag} APPEND {} {{{}}}\r\n", quote(folder), message.len()).as_bytes())?;
        let cont = self.line()?;
        if !cont.starts_with('+') {
            return Err(format!("APPEND to {folder} refused: {cont}"));
        }
        self.write(message)?;
        self.write(b"\r\n")?;
        let done = self.done(&tag)?;
        // "<tag> OK [APPENDUID <validity> <uid>] Append completed."
        done.split("APPENDUID ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().nth(1))
            .and_then(|uid| uid.trim_end_matches(']').parse().ok())
            .ok_or_else(|| format!("no APPENDUID in {done}"))
    }

    fn logout(mut self) {
        let _ = self.command("LOGOUT");
    }

    /// Sends a command and returns its tagged OK line; a NO or BAD is an error.
    fn command(&mut self, command: &str) -> Result<String, String> {
        let tag = self.next_tag();
        self.write(format!("{tag} {command}\r\n").as_bytes())?;
        self.done(&tag)
    }

    fn done(&mut self, tag: &str) -> Result<String, String> {
        loop {
            let line = self.line()?;
            if let Some(rest) = line.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
                return if rest.starts_with("OK") {
                    Ok(line)
                } else {
                    Err(line)
                };
            }
        }
    }

    fn next_tag(&mut self) -> String {
        self.tag += 1;
        format!("t{}", self.tag)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.reader
            .get_mut()
            .write_all(bytes)
            .map_err(|e| format!("IMAP write failed: {e}"))
    }

    fn line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("the IMAP server closed the connection".into()),
            Ok(_) => Ok(line.trim_end().to_string()),
            Err(e) => Err(format!("IMAP read failed: {e}")),
        }
    }
}

/// An IMAP quoted string.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn read_lossy(path: &Path) -> String {
    let mut bytes = Vec::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_end(&mut bytes));
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_messages_land_in_the_maildir_of_their_folder() {
        let server = ImapServer::start(ImapOptions::default()).unwrap();
        assert!(server.ca_pem().is_none());
        assert!(server.imaps_port().is_none());
        assert!(server.folder_messages("INBOX").is_empty());
        let first = server
            .append("INBOX", b"Subject: one\r\n\r\nbody\r\n")
            .unwrap();
        let second = server
            .append("INBOX", b"Subject: two\r\n\r\nbody\r\n")
            .unwrap();
        assert!(second > first, "{first} {second}");
        server
            .append("Archive/DMARC", b"Subject: three\r\n\r\nbody\r\n")
            .unwrap();

        let inbox = server.folder_messages("INBOX");
        assert_eq!(inbox.len(), 2, "{}", server.log());
        assert!(String::from_utf8_lossy(&inbox[0]).contains("Subject: one"));
        assert!(String::from_utf8_lossy(&inbox[1]).contains("Subject: two"));
        let archive = server.folder_messages("Archive/DMARC");
        assert_eq!(archive.len(), 1, "{}", server.log());
        assert!(server.folder_messages("Invalid/DMARC").is_empty());
    }

    #[test]
    fn a_tls_server_offers_starttls_and_implicit_tls_with_its_ca() {
        let server = ImapServer::start(ImapOptions {
            tls: true,
            ..Default::default()
        })
        .unwrap();
        let ca = String::from_utf8(server.ca_pem().unwrap().to_vec()).unwrap();
        assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
        // Before login, as a client deciding on STARTTLS sees it.
        let mut imap = RawImap::connect(server.port()).unwrap();
        let tag = imap.next_tag();
        imap.write(format!("{tag} CAPABILITY\r\n").as_bytes())
            .unwrap();
        let untagged = imap.line().unwrap();
        assert!(untagged.contains("STARTTLS"), "{untagged}");
        // The implicit TLS port answers a TLS handshake, not a plain greeting: a plain
        // client sees no "* OK" line.
        let stream = TcpStream::connect((HOST, server.imaps_port().unwrap())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut line = String::new();
        let _ = BufReader::new(stream).read_line(&mut line);
        assert!(!line.starts_with("* OK"), "{line}");
    }

    #[test]
    fn no_move_hides_the_move_capability() {
        let server = ImapServer::start(ImapOptions {
            no_move: true,
            ..Default::default()
        })
        .unwrap();
        let mut imap = RawImap::login(server.port()).unwrap();
        let tag = imap.next_tag();
        imap.write(format!("{tag} CAPABILITY\r\n").as_bytes())
            .unwrap();
        let untagged = imap.line().unwrap();
        assert!(untagged.contains("UIDPLUS"), "{untagged}");
        assert!(!untagged.contains("MOVE"), "{untagged}");
    }

    #[test]
    fn the_server_stops_when_dropped() {
        let server = ImapServer::start(ImapOptions::default()).unwrap();
        let port = server.port();
        drop(server);
        // Generous: the loop ends as soon as the port is closed.
        let deadline = Instant::now() + crate::util::HANG_GUARD;
        while TcpStream::connect((HOST, port)).is_ok() {
            assert!(Instant::now() < deadline, "dovecot still listens on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
