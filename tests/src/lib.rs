//! Helpers for the end-to-end tests in `tests/`: they run the real
//! `authwarden` binary against real servers on loopback (Knot DNS serving the
//! zone files of `zones/`, later SMTP) and assert on its JSON output, exit
//! status and messages.
//!
//! # The binary under test
//!
//! [`authwarden_bin`] is this package's own `authwarden-e2e-bin` target: the
//! `authwarden` binary (the built-in registry and `authwarden_cli::main_with`)
//! compiled again under another name, which cannot overwrite the real one in
//! `target/<profile>/`. Cargo builds a package's binaries for that package's
//! integration tests, from the same sources in the same run, so `cargo test
//! -p authwarden-e2e` never runs a binary older than the code under test (a
//! binary found by path, such as `target/<profile>/authwarden`, could be).
//! The helpers run it with `argv[0]` set to `authwarden`, so its usage and
//! error messages read as the real binary's.
//!
//! Cargo passes its path in `CARGO_BIN_EXE_authwarden-e2e-bin`, to the tests
//! at compile time and (since Cargo 1.94) at run time. This library is built
//! as a plain dependency of the tests and so cannot read the compile-time
//! value; [`authwarden_bin`] reads the run-time one, and without it (an older
//! Cargo, a test executable run by hand) looks in `target/<profile>/`, where
//! Cargo puts the binary next to the test executables' `deps/` folder.
//!
//! # The zones
//!
//! Each `zones/<origin>zone` file is one zone (`healthy.test.zone` serves
//! `healthy.test.`); [`SERVFAIL_ZONE`] is configured without a file, so the
//! server answers SERVFAIL for every name in it.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use authwarden_test_support::dns::{zones_in_dir, KnotOptions, KnotServer};
use authwarden_test_support::imap::ImapServer;
use authwarden_test_support::util::{free_port, ChildGuard};
use serde_json::Value;

/// A zone the DNS server is configured for but cannot load: every query in it
/// is answered with SERVFAIL.
pub const SERVFAIL_ZONE: &str = "down.test.";

/// How long one run of the binary may take before the test fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// How long the daemon may take to exit after SIGTERM.
const DAEMON_EXIT_WAIT: Duration = Duration::from_secs(30);

/// The name of this package's copy of the `authwarden` binary.
const BIN_NAME: &str = "authwarden-e2e-bin";

/// The `authwarden` binary built for this test run (see the crate docs);
/// panics when it is missing.
pub fn authwarden_bin() -> PathBuf {
    let bin = match std::env::var_os(format!("CARGO_BIN_EXE_{BIN_NAME}")) {
        Some(path) => PathBuf::from(path),
        None => {
            // target/<profile>/deps/<test> -> target/<profile>/<bin>
            let exe = std::env::current_exe().expect("the test executable's path");
            exe.parent()
                .and_then(Path::parent)
                .expect("the test executable lives in target/<profile>/deps")
                .join(BIN_NAME)
        }
    };
    assert!(
        bin.is_file(),
        "{} does not exist: run the end-to-end tests with `cargo test -p authwarden-e2e`, \
         which builds it",
        bin.display()
    );
    bin
}

/// A command that runs [`authwarden_bin`] as `authwarden` (its `argv[0]`, the
/// name its messages show).
fn authwarden_command() -> Command {
    let mut command = Command::new(authwarden_bin());
    command.arg0("authwarden");
    command
}

/// The directory of the test zone files.
pub fn zones_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones")
}

/// Starts Knot DNS serving every zone of [`zones_dir`], plus [`SERVFAIL_ZONE`].
pub fn start_dns() -> KnotServer {
    start_dns_in(&zones_dir(), &[SERVFAIL_ZONE])
}

/// `tests/fixtures/<name>`: the zones, reports and configs of one test file.
pub fn fixtures_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Starts Knot DNS serving every zone file of `dir` (see [`zones_in_dir`]),
/// plus `servfail_zones`, configured without a file so that every query in
/// them is answered with SERVFAIL.
pub fn start_dns_in(dir: &Path, servfail_zones: &[&str]) -> KnotServer {
    let zones = zones_in_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    KnotServer::start(
        &zones,
        &KnotOptions {
            servfail_zones,
            ..KnotOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("cannot start the test DNS server: {e}"))
}

/// A loopback DNS "server" that never answers: a UDP socket that reads
/// nothing and a TCP listener that never accepts, on the same port. Queries
/// to it time out.
#[derive(Debug)]
pub struct SilentDns {
    _udp: UdpSocket,
    _tcp: TcpListener,
    addr: SocketAddr,
}

impl SilentDns {
    /// Binds both sockets on a free port of 127.0.0.1.
    pub fn start() -> SilentDns {
        for _ in 0..10 {
            let port = free_port();
            let (Ok(udp), Ok(tcp)) = (
                UdpSocket::bind((Ipv4Addr::LOCALHOST, port)),
                TcpListener::bind((Ipv4Addr::LOCALHOST, port)),
            ) else {
                continue;
            };
            return SilentDns {
                _udp: udp,
                _tcp: tcp,
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            };
        }
        panic!("no free port for the silent DNS server");
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// The exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// How long it took.
    pub elapsed: Duration,
}

impl Run {
    /// The exit code; panics when the process was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("{} was killed: {}\n{self}", self.command, self.status))
    }

    /// Standard output parsed as JSON; panics with the output when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e})\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\nexit: {}\n--- stdout\n{}\n--- stderr\n{}",
            self.command, self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `authwarden ARGS...` in an empty temporary directory (so no
/// `config/authwarden.toml` is picked up), with no `AUTHWARDEN_*` variables,
/// and kills it after 60 seconds.
pub fn authwarden(args: &[&str]) -> Run {
    authwarden_with_env(args, &[])
}

/// [`authwarden`] with extra environment variables.
pub fn authwarden_with_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let cwd = tempfile::tempdir().expect("a temporary directory");
    let mut command = authwarden_command();
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(cwd.path())
        .env_remove("AUTHWARDEN_CONFIG")
        .env_remove("AUTHWARDEN_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!("authwarden {}", args.join(" "));
    let started = Instant::now();
    let mut child = ChildGuard::spawn(&mut command, "authwarden")
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    // Read both pipes on threads so a full pipe cannot stall the process.
    let reader = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = reader(Box::new(child.child_mut().stdout.take().expect("piped")));
    let stderr = reader(Box::new(child.child_mut().stderr.take().expect("piped")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for authwarden") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = child.stop(Duration::from_millis(100));
            panic!("{shown} did not finish within {RUN_TIMEOUT:?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    Run {
        command: shown,
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed,
    }
}

/// `authwarden daemon -v --config CONFIG` in `cwd`, in the background, its
/// log (standard error) collected; killed with its process group when
/// dropped.
#[derive(Debug)]
pub struct Daemon {
    child: ChildGuard,
    log: Arc<Mutex<String>>,
}

impl Daemon {
    /// Starts the daemon with no `AUTHWARDEN_*` variables.
    pub fn start(config: &Path, cwd: &Path) -> Daemon {
        let mut command = authwarden_command();
        command
            .args(["daemon", "-v", "--config"])
            .arg(config)
            .current_dir(cwd)
            .env_remove("AUTHWARDEN_CONFIG")
            .env_remove("AUTHWARDEN_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = ChildGuard::spawn(&mut command, "authwarden daemon").unwrap();
        let mut stderr = child.child_mut().stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Daemon { child, log }
    }

    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Polls `done` every 50 ms until it holds; panics with the log after
    /// `wait` or when the daemon exits first.
    pub fn wait_for(&mut self, what: &str, wait: Duration, done: impl Fn(&Daemon) -> bool) {
        let deadline = Instant::now() + wait;
        while !done(self) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the daemon exited ({status}) before {what}; log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {wait:?}; log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM to the daemon (not its group) and waits for it to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(kill.success(), "kill -TERM {pid}");
        let deadline = Instant::now() + DAEMON_EXIT_WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                thread::sleep(Duration::from_millis(50));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon did not exit within {DAEMON_EXIT_WAIT:?} of SIGTERM; log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Writes `toml` to `dir/authwarden.toml`; its path, for `--config`.
pub fn write_config(dir: &Path, toml: &str) -> String {
    let config = dir.join("authwarden.toml");
    fs::write(&config, toml).unwrap_or_else(|e| panic!("cannot write {}: {e}", config.display()));
    config.to_str().expect("a UTF-8 path").to_string()
}

/// The `[imap]` table for `server` (plain IMAP to loopback, a 20-second
/// timeout), its password written to `dir/imap-password`; the table is left
/// open for more keys.
pub fn imap_table(server: &ImapServer, dir: &Path) -> String {
    let password = dir.join("imap-password");
    fs::write(&password, format!("{}\n", server.password())).unwrap();
    format!(
        "[imap]\nhost = {:?}\nport = {}\nsecurity = \"none\"\n\
         username = {:?}\npassword_file = {:?}\ntimeout = \"20s\"\n",
        server.host(),
        server.port(),
        server.user(),
        password.display().to_string(),
    )
}

/// Copies the folder `from` with everything in it to `to`, creating `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The findings of `output` for `domain`.
pub fn findings_for<'a>(output: &'a Value, domain: &str) -> Vec<&'a Value> {
    output["findings"]
        .as_array()
        .expect("`findings` is an array")
        .iter()
        .filter(|f| f["domain"] == domain)
        .collect()
}

/// The names of the findings of `checker` for `domain`.
pub fn names_for(output: &Value, domain: &str, checker: &str) -> BTreeSet<String> {
    findings_for(output, domain)
        .into_iter()
        .filter(|f| f["checker"] == checker)
        .map(|f| f["name"].as_str().expect("`name` is a string").to_string())
        .collect()
}

/// The entry of `domains` for `domain`.
pub fn domain_report<'a>(output: &'a Value, domain: &str) -> &'a Value {
    output["domains"]
        .as_array()
        .expect("`domains` is an array")
        .iter()
        .find(|d| d["domain"] == domain)
        .unwrap_or_else(|| panic!("no entry for {domain} in `domains`: {output:#}"))
}
