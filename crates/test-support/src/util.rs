//! Small helpers shared by the server guards: free loopback ports, waiting for
//! a port to accept connections, finding server binaries, and a child-process
//! guard that stops the server whatever the test's outcome.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Ports already handed out by [`free_port`] in this process.
///
/// Tests run in parallel threads: without this, two servers started at the
/// same moment could be given the same port, because a port is free again as
/// soon as `free_port` closes its probe sockets.
fn handed_out() -> &'static Mutex<HashSet<u16>> {
    static PORTS: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    PORTS.get_or_init(|| Mutex::new(HashSet::new()))
}

/// A port on 127.0.0.1 that is free for both UDP and TCP right now, and that
/// this process has not handed out before.
///
/// Another process can still take it before the caller binds it: callers that
/// start a server retry with a new port when the server cannot bind.
///
/// # Panics
///
/// When no such port is found in 100 tries (the machine has no free ports).
pub fn free_port() -> u16 {
    for _ in 0..100 {
        let Ok(udp) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let Ok(port) = udp.local_addr().map(|addr| addr.port()) else {
            continue;
        };
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_err() {
            continue;
        }
        if handed_out()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port)
        {
            return port;
        }
    }
    panic!("no port on 127.0.0.1 is free for both UDP and TCP after 100 tries");
}

/// Waits until a TCP connection to `addr` succeeds, polling every 20 ms.
///
/// Returns `false` when `timeout` passes first.
pub fn wait_for_port(addr: SocketAddr, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Where servers' binaries are looked for besides `PATH`: Debian puts daemons
/// in the sbin directories, which are not on every user's `PATH`.
const EXTRA_BIN_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"];

/// The full path of the executable `name`, searched in `PATH` and then in
/// `/usr/sbin`, `/usr/bin`, `/sbin` and `/usr/local/sbin`.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    path_dirs
        .into_iter()
        .chain(EXTRA_BIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A running child process that is killed, with its whole process group, when
/// the guard drops: a failing or panicking test leaves no server behind.
///
/// Spawn the command with [`ChildGuard::spawn`], which puts the child in a new
/// process group so that helper processes it forks are stopped too.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    name: String,
}

impl ChildGuard {
    /// Spawns `command` in a new process group; `name` is used in messages.
    pub fn spawn(command: &mut Command, name: &str) -> io::Result<ChildGuard> {
        let child = command.process_group(0).spawn()?;
        Ok(ChildGuard {
            child,
            name: name.to_string(),
        })
    }

    /// The process id, which is also the process group id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status when the process has exited, `None` while it runs.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }

    /// Mutable access to the child, e.g. to take its standard streams.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Stops the process group: SIGTERM, then SIGKILL when the process has not
    /// exited within `grace`. Returns the exit status; safe to call twice.
    pub fn stop(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            // The leader is gone; helpers of its group may still run.
            self.signal_group("KILL");
            return Ok(status);
        }
        self.signal_group("TERM");
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                self.signal_group("KILL");
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        self.signal_group("KILL");
        // Also through the handle, in case the group signal could not be sent.
        let _ = self.child.kill();
        self.child.wait()
    }

    /// Signals the child's process group with `kill(1)`: no signal crate in
    /// the test support, so that the workspace build enables no feature the
    /// production build lacks (which would rebuild their shared dependencies).
    fn signal_group(&self, signal: &str) {
        // ESRCH (group already gone) is the expected outcome after exit.
        let _ = std::process::Command::new("kill")
            .args(["-s", signal, "--", &format!("-{}", self.child.id())])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Err(err) = self.stop(Duration::from_secs(2)) {
            eprintln!("test-support: could not stop {}: {err}", self.name);
        }
    }
}

/// How long a test waits for something that should happen at once before it
/// calls it a hang. Not a speed limit: the waits end as soon as it happens.
#[cfg(test)]
pub(crate) const HANG_GUARD: Duration = Duration::from_secs(60);

/// Runs `f` on its own thread and returns its result; panics when it is
/// still running after [`HANG_GUARD`]. For tests of code that waits: the
/// bound only turns a hang into a failure, it says nothing about speed.
#[cfg(test)]
pub(crate) fn unless_it_hangs<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} hangs: still running after {HANG_GUARD:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable_for_udp_and_tcp_and_not_repeated() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
        UdpSocket::bind((Ipv4Addr::LOCALHOST, a)).unwrap();
        TcpListener::bind((Ipv4Addr::LOCALHOST, a)).unwrap();
    }

    #[test]
    fn wait_for_port_sees_a_listener_and_times_out_without_one() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        // Generous: it returns at the first connection that succeeds.
        assert!(wait_for_port(addr, Duration::from_secs(30)));
        drop(listener);
        let timeout = Duration::from_millis(100);
        let started = Instant::now();
        let seen = unless_it_hangs("wait_for_port on a closed port", move || {
            wait_for_port(addr, timeout)
        });
        assert!(!seen);
        // It kept trying until its timeout. (A lower bound: the monotonic
        // clock cannot make this fail on a slow machine.)
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
    }

    #[test]
    fn find_binary_finds_sh_and_not_nonsense() {
        assert!(find_binary("sh").is_some());
        assert!(find_binary("no-such-binary-authwarden").is_none());
    }

    #[test]
    fn child_guard_kills_the_process_group_on_drop() {
        // The shell forks a grandchild that would outlive a plain child kill.
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 30 & echo $!; wait"]);
        command.stdout(std::process::Stdio::piped());
        let mut guard = ChildGuard::spawn(&mut command, "sh").unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        io::BufReader::new(guard.child_mut().stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let grandchild: u32 = line.trim().parse().unwrap();
        let leader = guard.id();
        drop(guard);
        assert!(!Path::new(&format!("/proc/{leader}")).exists());
        // The grandchild is reparented and reaped by init; give it a moment
        // (generous: the loop ends as soon as it is gone).
        let deadline = Instant::now() + HANG_GUARD;
        while is_running(grandchild) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(10));
        }
        assert!(!is_running(grandchild), "grandchild {grandchild} survived");
    }

    /// Running means present and not a zombie.
    fn is_running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                let state = stat.rsplit(')').next().unwrap_or("").trim_start();
                !state.starts_with('Z')
            })
            .unwrap_or(false)
    }
}
