//! A real authoritative DNS server for tests: [`KnotServer`] runs Knot DNS
//! (`knotd`) on a random port of 127.0.0.1, serving the zones a test gives it,
//! and stops it when dropped.
//!
//! ```no_run
//! use authwarden_test_support::dns::{qtype, KnotOptions, KnotServer, Transport, ZoneSource};
//!
//! let zone = "$TTL 300\n@ SOA ns hostmaster 1 3600 900 604800 300\n@ NS ns\nns A 127.0.0.1\n\
//!             _dmarc TXT \"v=DMARC1; p=reject\"\n";
//! let server = KnotServer::start(
//!     &[("example.test.", ZoneSource::text(zone))],
//!     &KnotOptions { servfail_zones: &["broken.test."], ..KnotOptions::default() },
//! )
//! .unwrap();
//! // Point the code under test at `server.addr()`; the harness can query too:
//! let reply = server.query("_dmarc.example.test.", qtype::TXT, Transport::Udp).unwrap();
//! assert_eq!(reply.txt(), ["v=DMARC1; p=reject"]);
//! ```
//!
//! The module also holds a tiny DNS client ([`query`]) used to wait for the
//! server and to test the harness itself without a resolver dependency.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::util::{find_binary, free_port, ChildGuard};

/// Where a zone's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneSource {
    /// Zone file text, written to the server's temporary directory.
    Text(String),
    /// An existing zone file, used in place.
    File(PathBuf),
}

impl ZoneSource {
    /// Zone file text. Relative names are relative to the zone's origin.
    pub fn text(text: impl Into<String>) -> ZoneSource {
        ZoneSource::Text(text.into())
    }

    /// A zone file on disk.
    pub fn file(path: impl Into<PathBuf>) -> ZoneSource {
        ZoneSource::File(path.into())
    }
}

/// Every `*.zone` file of `dir`, sorted by name, with its origin taken from
/// the file name: `healthy.test.zone` serves `healthy.test.`.
pub fn zones_in_dir(dir: &Path) -> io::Result<Vec<(String, ZoneSource)>> {
    let mut zones = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("zone") {
            continue;
        }
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        zones.push((fqdn(stem), ZoneSource::File(path)));
    }
    zones.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(zones)
}

/// Options of [`KnotServer::start`].
#[derive(Debug, Clone, Default)]
pub struct KnotOptions<'a> {
    /// Zones listed in the server's config without a zone file. Knot cannot
    /// load them and answers SERVFAIL for every name in them.
    pub servfail_zones: &'a [&'a str],
    /// How long to wait for the server to answer for every zone, per attempt.
    /// `None` means 15 seconds, enough for a loaded 2-core CI machine.
    pub startup_timeout: Option<Duration>,
}

/// A running `knotd` serving test zones on `127.0.0.1:PORT` over UDP and TCP.
///
/// Dropping it kills the server and removes its temporary directory.
#[derive(Debug)]
pub struct KnotServer {
    // Declared before `dir`: the server stops before its files are removed.
    child: ChildGuard,
    addr: SocketAddr,
    dir: TempDir,
}

/// How many times `start` picks a new port when another process took it.
const PORT_ATTEMPTS: usize = 4;

impl KnotServer {
    /// Writes a self-contained config (zones, storage, run directory and
    /// control socket in a new temporary directory; no DNSSEC), starts
    /// `knotd`, and returns once every zone answers its SOA query.
    ///
    /// Zone origins may be given with or without the trailing dot.
    ///
    /// # Errors
    ///
    /// A readable message when `knotd` is not installed (run `scripts/test`,
    /// which installs it), when a zone does not load, or when the server does
    /// not come up; the message includes the server's log.
    pub fn start<S: AsRef<str>>(
        zones: &[(S, ZoneSource)],
        options: &KnotOptions<'_>,
    ) -> Result<KnotServer, String> {
        let knotd = find_binary("knotd").ok_or_else(|| {
            "knotd (Knot DNS) is not installed: run scripts/test, which installs the Debian \
             package `knot`, or `apt-get install knot`"
                .to_string()
        })?;
        let zones: Vec<(String, ZoneSource)> = zones
            .iter()
            .map(|(origin, source)| (fqdn(origin.as_ref()), source.clone()))
            .collect();
        let servfail: Vec<String> = options.servfail_zones.iter().map(|z| fqdn(z)).collect();
        let timeout = options.startup_timeout.unwrap_or(Duration::from_secs(15));

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            match Self::start_on(free_port(), &knotd, &zones, &servfail, timeout) {
                Ok(server) => return Ok(server),
                Err(StartError::PortTaken(log)) => last_error = log,
                Err(StartError::Fatal(message)) => return Err(message),
            }
        }
        Err(format!(
            "knotd could not bind a free port in {PORT_ATTEMPTS} attempts; last log:\n{last_error}"
        ))
    }

    fn start_on(
        port: u16,
        knotd: &Path,
        zones: &[(String, ZoneSource)],
        servfail: &[String],
        timeout: Duration,
    ) -> Result<KnotServer, StartError> {
        let fatal = |what: &str, err: io::Error| StartError::Fatal(format!("{what}: {err}"));
        let dir = tempfile::Builder::new()
            .prefix("authwarden-knot-")
            .tempdir()
            .map_err(|e| fatal("cannot create a temporary directory", e))?;
        let root = dir.path();
        for sub in ["run", "storage", "zones"] {
            fs::create_dir(root.join(sub)).map_err(|e| fatal("cannot create a directory", e))?;
        }
        let mut zone_files = Vec::new();
        for (i, (origin, source)) in zones.iter().enumerate() {
            let path = match source {
                ZoneSource::Text(text) => {
                    let path = root.join("zones").join(format!("{i}.zone"));
                    fs::write(&path, text).map_err(|e| fatal("cannot write a zone file", e))?;
                    path
                }
                ZoneSource::File(path) => path.canonicalize().map_err(|e| {
                    StartError::Fatal(format!("zone file {} for {origin}: {e}", path.display()))
                })?,
            };
            zone_files.push((origin.as_str(), path));
        }

        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let config = config_text(root, addr, &zone_files, servfail);
        let config_path = root.join("knot.conf");
        fs::write(&config_path, config).map_err(|e| fatal("cannot write knot.conf", e))?;

        let log_path = root.join("knotd.log");
        let log = fs::File::create(&log_path).map_err(|e| fatal("cannot create knotd.log", e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| fatal("cannot create knotd.log", e))?;
        let mut command = Command::new(knotd);
        command
            .arg("-c")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = ChildGuard::spawn(&mut command, "knotd")
            .map_err(|e| fatal(&format!("cannot run {}", knotd.display()), e))?;
        let mut server = KnotServer { child, addr, dir };
        server.wait_ready(zones, timeout)?;
        Ok(server)
    }

    /// Polls until every served zone answers its SOA over UDP.
    fn wait_ready(
        &mut self,
        zones: &[(String, ZoneSource)],
        timeout: Duration,
    ) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        let mut pending: Vec<&str> = zones.iter().map(|(origin, _)| origin.as_str()).collect();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = self.log();
                return Err(if log.contains("address already in use") {
                    StartError::PortTaken(log)
                } else {
                    StartError::Fatal(format!(
                        "knotd exited with {status} at startup; log:\n{log}"
                    ))
                });
            }
            let log = self.log();
            if let Some(origin) = pending
                .iter()
                .find(|origin| log.contains(&format!("[{origin}] zone event 'load' failed")))
            {
                return Err(StartError::Fatal(format!(
                    "knotd could not load zone {origin}; log:\n{log}"
                )));
            }
            pending.retain(|origin| {
                !matches!(
                    query(self.addr, origin, qtype::SOA, Transport::Udp, Duration::from_millis(200)),
                    Ok(reply) if reply.rcode == rcode::NOERROR && !reply.answers.is_empty()
                )
            });
            // With only SERVFAIL zones there is no SOA to wait for: any answer will do.
            if pending.is_empty() && (!zones.is_empty() || self.answers()) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let waiting_for = if pending.is_empty() {
                    "any query".to_string()
                } else {
                    pending.join(", ")
                };
                return Err(StartError::Fatal(format!(
                    "knotd did not answer for {waiting_for} within {timeout:?}; log:\n{}",
                    self.log()
                )));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answers anything at all (any rcode).
    fn answers(&self) -> bool {
        query(
            self.addr,
            "authwarden-probe.invalid.",
            qtype::SOA,
            Transport::Udp,
            Duration::from_millis(200),
        )
        .is_ok()
    }

    /// The address to send queries to: `127.0.0.1:PORT`, UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port, for configs that take the address and port apart.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The server's temporary directory (config, log, storage).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server logged so far; handy in assertion messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("knotd.log")).unwrap_or_default()
    }

    /// Sends one query to the server with a 2-second timeout.
    pub fn query(&self, name: &str, qtype: u16, transport: Transport) -> io::Result<DnsReply> {
        query(self.addr, name, qtype, transport, Duration::from_secs(2))
    }

    /// Stops the server now (it is also stopped on drop).
    pub fn stop(mut self) {
        let _ = self.child.stop(Duration::from_secs(2));
    }
}

enum StartError {
    /// Another process bound the port first: retry with a new one.
    PortTaken(String),
    Fatal(String),
}

/// `name` with exactly one trailing dot, lower-case.
fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.').to_ascii_lowercase())
}

fn config_text(
    root: &Path,
    addr: SocketAddr,
    zones: &[(&str, PathBuf)],
    servfail: &[String],
) -> String {
    let root = root.display();
    // One worker each: tests start many servers at once on small machines.
    // No `server.user`: knotd keeps the invoking user, root included (CI runs
    // as root), so every file it writes stays in the temporary directory.
    let mut conf = format!(
        "server:
    rundir: \"{root}/run\"
    listen: {ip}@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: \"{root}/storage\"

control:
    listen: \"{root}/run/knot.sock\"

template:
  - id: default
    storage: \"{root}/zones\"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none

zone:
",
        ip = addr.ip(),
        port = addr.port(),
    );
    for (origin, path) in zones {
        let _ = writeln!(
            conf,
            "  - domain: \"{origin}\"\n    file: \"{}\"",
            path.display()
        );
    }
    for origin in servfail {
        // The file does not exist: the zone fails to load and answers SERVFAIL.
        let _ = writeln!(
            conf,
            "  - domain: \"{origin}\"\n    file: \"{root}/zones/{origin}missing\""
        );
    }
    conf
}

/// Query types used by the tests (the numeric codes of RFC 1035 and successors).
pub mod qtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// Mail exchanger.
    pub const MX: u16 = 15;
    /// Text.
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
}

/// Response codes.
pub mod rcode {
    /// No error.
    pub const NOERROR: u8 = 0;
    /// Server failure.
    pub const SERVFAIL: u8 = 2;
    /// The name does not exist.
    pub const NXDOMAIN: u8 = 3;
    /// The server refuses to answer (not authoritative for the name).
    pub const REFUSED: u8 = 5;
}

/// The transport of a [`query`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One UDP datagram each way (no EDNS: answers over 512 bytes are truncated).
    Udp,
    /// A TCP connection with the two-byte length prefix.
    Tcp,
}

/// One resource record of an answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// The record's type code.
    pub rtype: u16,
    /// Time to live in seconds.
    pub ttl: u32,
    /// The raw record data.
    pub rdata: Vec<u8>,
}

/// A parsed DNS response: header facts and the answer section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsReply {
    /// The response code (see [`rcode`]).
    pub rcode: u8,
    /// The AA bit.
    pub authoritative: bool,
    /// The TC bit: the answer did not fit a UDP datagram.
    pub truncated: bool,
    /// The answer section.
    pub answers: Vec<DnsRecord>,
}

impl DnsReply {
    /// The TXT records of the answer, each one's strings concatenated (lossy UTF-8).
    pub fn txt(&self) -> Vec<String> {
        self.answers
            .iter()
            .filter(|r| r.rtype == qtype::TXT)
            .map(|r| {
                let mut text = Vec::new();
                let mut rest = r.rdata.as_slice();
                while let Some((&len, tail)) = rest.split_first() {
                    let len = usize::from(len).min(tail.len());
                    text.extend_from_slice(&tail[..len]);
                    rest = &tail[len..];
                }
                String::from_utf8_lossy(&text).into_owned()
            })
            .collect()
    }
}

/// Sends one recursion-free query for `name`/`qtype` (class IN) to `server`
/// and parses the reply.
///
/// # Errors
///
/// I/O errors, a timeout (`ErrorKind::TimedOut` or `WouldBlock`), or
/// `InvalidData` for a reply that cannot be parsed.
pub fn query(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    transport: Transport,
    timeout: Duration,
) -> io::Result<DnsReply> {
    let id = next_id();
    let message = encode_query(id, name, qtype)?;
    let deadline = Instant::now() + timeout;
    let remaining = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "dns query timed out"))
    };
    let reply = match transport {
        Transport::Udp => {
            let local: SocketAddr = if server.is_ipv4() {
                (Ipv4Addr::LOCALHOST, 0).into()
            } else {
                (std::net::Ipv6Addr::LOCALHOST, 0).into()
            };
            let socket = UdpSocket::bind(local)?;
            socket.connect(server)?;
            socket.send(&message)?;
            let mut buf = [0u8; 65535];
            loop {
                socket.set_read_timeout(Some(remaining()?))?;
                let len = socket.recv(&mut buf)?;
                // Ignore stray datagrams that do not answer this query.
                if len >= 2 && u16::from_be_bytes([buf[0], buf[1]]) == id {
                    break buf[..len].to_vec();
                }
            }
        }
        Transport::Tcp => {
            let mut stream = TcpStream::connect_timeout(&server, remaining()?)?;
            stream.set_read_timeout(Some(remaining()?))?;
            stream.set_write_timeout(Some(remaining()?))?;
            let len = u16::try_from(message.len())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "query too long"))?;
            let mut framed = len.to_be_bytes().to_vec();
            framed.extend_from_slice(&message);
            stream.write_all(&framed)?;
            let mut len = [0u8; 2];
            stream.read_exact(&mut len)?;
            let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut buf)?;
            buf
        }
    };
    parse_reply(&reply, id)
}

fn next_id() -> u16 {
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Truncation is intended: any 16 bits that differ between queries will do.
    (nanos as u16) ^ (std::process::id() as u16) ^ COUNTER.fetch_add(7919, Ordering::Relaxed)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("bad dns message: {what}"),
    )
}

fn encode_query(id: u16, name: &str, qtype: u16) -> io::Result<Vec<u8>> {
    let mut msg = Vec::with_capacity(32 + name.len());
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&[0, 0]); // standard query, RD clear
    msg.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|&len| len <= 63)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "label too long"))?;
        msg.push(len);
        msg.extend_from_slice(label.as_bytes());
    }
    msg.push(0);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes()); // class IN
    Ok(msg)
}

/// Returns the offset just past the (possibly compressed) name at `pos`.
fn skip_name(msg: &[u8], mut pos: usize) -> io::Result<usize> {
    loop {
        let len = *msg
            .get(pos)
            .ok_or_else(|| invalid("name runs past the end"))?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xC0 == 0xC0 => return Ok(pos + 2),
            l => pos += 1 + usize::from(l),
        }
    }
}

fn read_u16(msg: &[u8], pos: usize) -> io::Result<u16> {
    msg.get(pos..pos + 2)
        .map(|b| u16::from_be_bytes([b[0], b[1]]))
        .ok_or_else(|| invalid("truncated"))
}

fn parse_reply(msg: &[u8], id: u16) -> io::Result<DnsReply> {
    if msg.len() < 12 {
        return Err(invalid("shorter than a header"));
    }
    if read_u16(msg, 0)? != id {
        return Err(invalid("id does not match the query"));
    }
    let flags = read_u16(msg, 2)?;
    if flags & 0x8000 == 0 {
        return Err(invalid("not a response"));
    }
    let qdcount = read_u16(msg, 4)?;
    let ancount = read_u16(msg, 6)?;
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = skip_name(msg, pos)? + 4;
    }
    let mut answers = Vec::with_capacity(usize::from(ancount));
    for _ in 0..ancount {
        pos = skip_name(msg, pos)?;
        let rtype = read_u16(msg, pos)?;
        let ttl = u32::from(read_u16(msg, pos + 4)?) << 16 | u32::from(read_u16(msg, pos + 6)?);
        let rdlen = usize::from(read_u16(msg, pos + 8)?);
        pos += 10;
        let rdata = msg
            .get(pos..pos + rdlen)
            .ok_or_else(|| invalid("record data runs past the end"))?
            .to_vec();
        pos += rdlen;
        answers.push(DnsRecord { rtype, ttl, rdata });
    }
    Ok(DnsReply {
        // Truncation is intended: the low four bits are the rcode.
        rcode: (flags & 0x000F) as u8,
        authoritative: flags & 0x0400 != 0,
        truncated: flags & 0x0200 != 0,
        answers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "$TTL 300
@       SOA   ns1 hostmaster 1 3600 900 604800 300
@       NS    ns1
ns1     A     127.0.0.1
_dmarc  TXT   \"v=DMARC1; p=reject; rua=mailto:dmarc@harness.test\"
long    TXT   \"first part, \" \"second part\"
";

    fn start() -> KnotServer {
        KnotServer::start(
            &[("harness.test", ZoneSource::text(ZONE))],
            &KnotOptions {
                servfail_zones: &["servfail.test"],
                ..KnotOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn serves_txt_over_udp_and_tcp() {
        let server = start();
        assert!(server.addr().ip().is_loopback());
        for transport in [Transport::Udp, Transport::Tcp] {
            let reply = server
                .query("_dmarc.harness.test.", qtype::TXT, transport)
                .unwrap();
            assert_eq!(reply.rcode, rcode::NOERROR, "{transport:?}");
            assert!(reply.authoritative);
            assert_eq!(
                reply.txt(),
                ["v=DMARC1; p=reject; rua=mailto:dmarc@harness.test"],
                "{transport:?}"
            );
            let reply = server
                .query("long.harness.test", qtype::TXT, transport)
                .unwrap();
            assert_eq!(reply.txt(), ["first part, second part"]);
        }
    }

    #[test]
    fn tells_nxdomain_nodata_servfail_and_refused_apart() {
        let server = start();
        let rcode_of = |name: &str| server.query(name, qtype::TXT, Transport::Udp).unwrap();
        let nx = rcode_of("nothing.harness.test");
        assert_eq!(nx.rcode, rcode::NXDOMAIN);
        let nodata = rcode_of("ns1.harness.test");
        assert_eq!((nodata.rcode, nodata.answers.len()), (rcode::NOERROR, 0));
        assert_eq!(rcode_of("_dmarc.servfail.test").rcode, rcode::SERVFAIL);
        assert_eq!(rcode_of("servfail.test").rcode, rcode::SERVFAIL);
        assert_eq!(rcode_of("elsewhere.example").rcode, rcode::REFUSED);
    }

    #[test]
    fn zone_files_in_a_directory_and_drop_stops_the_server() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("files.test.zone"), ZONE).unwrap();
        fs::write(dir.path().join("README"), "not a zone").unwrap();
        let zones = zones_in_dir(dir.path()).unwrap();
        assert_eq!(zones.len(), 1);
        assert_eq!(zones[0].0, "files.test.");
        let server = KnotServer::start(&zones, &KnotOptions::default()).unwrap();
        let addr = server.addr();
        let pid = server.child.id();
        let reply = server
            .query("_dmarc.files.test", qtype::TXT, Transport::Udp)
            .unwrap();
        assert_eq!(reply.txt().len(), 1);
        let state_dir = server.dir().to_path_buf();
        drop(server);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "knotd {pid} still runs"
        );
        assert!(!state_dir.exists());
        let err = query(
            addr,
            "files.test",
            qtype::SOA,
            Transport::Udp,
            Duration::from_millis(200),
        );
        assert!(err.is_err(), "server still answers after drop: {err:?}");
    }

    #[test]
    fn a_broken_zone_is_a_readable_error_with_the_log() {
        let err = KnotServer::start(
            &[("bad.test", ZoneSource::text("@ SOA this is not a zone\n"))],
            &KnotOptions::default(),
        )
        .unwrap_err();
        assert!(err.contains("bad.test."), "{err}");
        assert!(err.contains("log:"), "{err}");
    }

    #[test]
    fn a_taken_port_is_reported_for_a_retry() {
        // Another process holds the TCP port: knotd exits, and the harness
        // must see that as "pick another port", not as a fatal error.
        let port = free_port();
        let _holder = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        let knotd = find_binary("knotd").expect("knotd is installed by scripts/test");
        let zones = [("harness.test.".to_string(), ZoneSource::text(ZONE))];
        match KnotServer::start_on(port, &knotd, &zones, &[], Duration::from_secs(15)) {
            Err(StartError::PortTaken(log)) => assert!(log.contains("in use"), "{log}"),
            Err(StartError::Fatal(message)) => panic!("fatal instead of retry: {message}"),
            Ok(server) => panic!("started on a taken port: {}", server.log()),
        }
    }

    #[test]
    fn only_servfail_zones() {
        let server = KnotServer::start::<&str>(
            &[],
            &KnotOptions {
                servfail_zones: &["down.test."],
                ..KnotOptions::default()
            },
        )
        .unwrap();
        let reply = server
            .query("down.test", qtype::SOA, Transport::Tcp)
            .unwrap();
        assert_eq!(reply.rcode, rcode::SERVFAIL);
    }

    #[test]
    fn query_times_out_against_a_silent_socket() {
        // A peer that reads the query and never answers.
        let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = silent.local_addr().unwrap();
        let timeout = Duration::from_millis(100);
        let started = Instant::now();
        let err = crate::util::unless_it_hangs("a query to a silent peer", move || {
            query(addr, "x.test", qtype::TXT, Transport::Udp, timeout)
        })
        .unwrap_err();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            "{err:?}"
        );
        // It sent the query once and waited for the answer until its timeout.
        // (A lower bound: the monotonic clock cannot make this fail on a slow
        // machine.)
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
        silent.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 512];
        let len = silent.recv(&mut buf).expect("the query reached the peer");
        let question = encode_query(0, "x.test", qtype::TXT).unwrap();
        assert_eq!(buf[2..len], question[2..], "the query after its id");
        assert!(silent.recv(&mut buf).is_err(), "a second datagram was sent");
    }

    #[test]
    fn query_skips_stray_datagrams_and_takes_the_answer() {
        // A peer that first sends a datagram with another id, then the answer.
        let peer = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = peer.local_addr().unwrap();
        let answering = thread::spawn(move || {
            let mut buf = [0u8; 512];
            let (len, from) = peer.recv_from(&mut buf).unwrap();
            let mut reply = buf[..len].to_vec();
            reply[2] = 0x84; // QR + AA
            let mut stray = reply.clone();
            stray[1] ^= 0xFF;
            peer.send_to(&stray, from).unwrap();
            peer.send_to(&reply, from).unwrap();
        });
        // Generous: the answer comes at once, this only bounds a failure.
        let reply = crate::util::unless_it_hangs("a query to an answering peer", move || {
            query(
                addr,
                "x.test",
                qtype::TXT,
                Transport::Udp,
                Duration::from_secs(30),
            )
        })
        .unwrap();
        answering.join().unwrap();
        assert_eq!(reply.rcode, 0);
        assert!(reply.authoritative);
        assert!(reply.answers.is_empty());
    }

    #[test]
    fn encodes_and_parses_messages() {
        let q = encode_query(0x1234, "a.bc.", qtype::TXT).unwrap();
        assert_eq!(
            q,
            [0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 16, 0, 1]
        );
        // A response to it with one compressed TXT answer.
        let mut r = q.clone();
        r[2] = 0x84; // QR + AA
        r[7] = 1; // ancount
        r.extend_from_slice(&[
            0xC0, 12, 0, 16, 0, 1, 0, 0, 1, 44, 0, 6, 2, b'h', b'i', 2, b'y', b'o',
        ]);
        let reply = parse_reply(&r, 0x1234).unwrap();
        assert_eq!(reply.rcode, 0);
        assert!(reply.authoritative);
        assert_eq!(reply.answers[0].ttl, 300);
        assert_eq!(reply.txt(), ["hiyo"]);
        assert!(parse_reply(&r[..r.len() - 1], 0x1234).is_err());
        assert!(parse_reply(&r, 0x1235).is_err());
    }
}
