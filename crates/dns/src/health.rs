//! What one run has learnt about its name servers: whether they answered at
//! all, whether nothing listens at their address, and when to stop asking.
//!
//! Without this memory a dead name server costs every distinct query the
//! full timeout × attempts, so a run over 30 domains (with ~20 DKIM selector
//! probes each) waits minutes for answers that never come. With it:
//!
//! - a **probe** is sent to each configured server when the run sends its
//!   first query, over a *connected* UDP socket. hickory's own sockets are
//!   unconnected, and on Linux an unconnected socket never sees the ICMP
//!   "port unreachable" a closed port answers with, so hickory reports a
//!   refused port as a timeout; the probe's socket does see it. Any answer
//!   to the probe (even REFUSED or SERVFAIL) proves the server alive.
//! - when every server refused the probe, every query of the run — those
//!   in flight included — fails at once with
//!   [`DnsFailure::ConnectionRefused`].
//! - when no server has answered anything in this run (probe included)
//!   and queries for [`DEAD_AFTER`] different names timed out in a row, the
//!   servers are taken as dead: the queries in flight and every later one
//!   fail at once with [`DnsFailure::Unreachable`].
//!
//! A server that answers at all is never given up on: one that is slow for
//! one name, or lame for one domain, costs those names their timeout and
//! nothing else (the checkers' own time budgets bound the rest). The
//! verdict is kept for the rest of the run: a run is short, and a server
//! that was dead for its first queries is not worth the wait.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use authwarden_api::DnsFailure;
use tokio::net::UdpSocket;
use tokio::sync::watch;

/// How many different names must time out in a row, with no answer from
/// any server in the run, before the servers are taken as dead.
pub const DEAD_AFTER: usize = 4;

/// What the probe of one server found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProbeResult {
    /// A datagram came back: the server is alive.
    Answered,
    /// Nothing listens at the address (ICMP port unreachable).
    Refused,
    /// Nothing came back in time.
    Silent,
    /// The probe could not be sent (no route, ...).
    Failed,
}

struct State {
    /// Some server answered a query (or the probe) in this run.
    answered: bool,
    /// The distinct names of the timeouts since the last answer.
    streak: Vec<String>,
    /// The probe has been started.
    probing: bool,
}

/// The failure memory of one resolver, shared by its queries.
pub(crate) struct Health {
    servers: Vec<SocketAddr>,
    dead_after: usize,
    state: Mutex<State>,
    verdict: watch::Sender<Option<DnsFailure>>,
}

impl Health {
    pub(crate) fn new(servers: Vec<SocketAddr>, dead_after: usize) -> Self {
        Health {
            servers,
            dead_after: dead_after.max(1),
            state: Mutex::new(State {
                answered: false,
                streak: Vec::new(),
                probing: false,
            }),
            verdict: watch::Sender::new(None),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The servers, for messages.
    pub(crate) fn servers_text(&self) -> String {
        if self.servers.is_empty() {
            return "(system configuration)".into();
        }
        self.servers
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The failure every query now gets without being sent, once known.
    pub(crate) fn verdict(&self) -> Option<DnsFailure> {
        self.verdict.borrow().clone()
    }

    /// Waits until there is a verdict (forever when there never is).
    pub(crate) async fn wait_verdict(&self) -> DnsFailure {
        let mut rx = self.verdict.subscribe();
        let verdict = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone(),
            // The sender lives as long as `self`.
            Err(_) => None,
        };
        match verdict {
            Some(v) => v,
            None => std::future::pending().await,
        }
    }

    fn set_verdict(&self, failure: DnsFailure) {
        self.verdict.send_if_modified(|v| {
            if v.is_some() {
                return false;
            }
            tracing::warn!(servers = %self.servers_text(), %failure, "giving up on the name servers for this run");
            *v = Some(failure);
            true
        });
    }

    /// A server answered (any response code): it is alive.
    pub(crate) fn answered(&self) {
        let mut state = self.state();
        state.answered = true;
        state.streak.clear();
    }

    /// A query for `name` timed out. Gives the servers up when none has
    /// answered in this run and this makes `dead_after` different names in
    /// a row.
    pub(crate) fn timed_out(&self, name: &str) {
        let dead = {
            let mut state = self.state();
            if !state.streak.iter().any(|n| n == name) {
                state.streak.push(name.to_owned());
            }
            !state.answered && state.streak.len() >= self.dead_after
        };
        if dead {
            self.set_verdict(DnsFailure::Unreachable(format!(
                "{} consecutive timeouts and no answer in this run from {}",
                self.dead_after,
                self.servers_text()
            )));
        }
    }

    /// True the first time: the caller starts the probe.
    pub(crate) fn start_probe(&self) -> bool {
        let mut state = self.state();
        !std::mem::replace(&mut state.probing, true)
    }

    /// Probes every server (concurrently), waiting at most `wait` for each,
    /// and records what that shows.
    pub(crate) async fn probe(&self, wait: Duration) {
        if self.servers.is_empty() {
            return;
        }
        let results = futures::future::join_all(
            self.servers
                .iter()
                .map(|&server| probe_server(server, wait)),
        )
        .await;
        for (server, result) in self.servers.iter().zip(&results) {
            tracing::debug!(%server, ?result, "name server probe");
        }
        if results.contains(&ProbeResult::Answered) {
            self.answered();
        } else if results.iter().all(|r| *r == ProbeResult::Refused) {
            self.set_verdict(DnsFailure::ConnectionRefused(self.servers_text()));
        }
    }
}

/// A query for `. NS` with recursion desired, as raw bytes.
fn probe_query(id: u16) -> [u8; 17] {
    let [hi, lo] = id.to_be_bytes();
    [
        hi, lo, 0x01, 0x00, // RD
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 1 question
        0x00, // the root
        0x00, 0x02, // NS
        0x00, 0x01, // IN
    ]
}

/// Sends one query to `server` over a connected UDP socket and waits up to
/// `wait` for a datagram back or for the refusal.
pub(crate) async fn probe_server(server: SocketAddr, wait: Duration) -> ProbeResult {
    let local: SocketAddr = match server.ip() {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let exchange = async {
        let socket = UdpSocket::bind(local).await?;
        socket.connect(server).await?;
        socket.send(&probe_query(rand_id())).await?;
        let mut buf = [0u8; 512];
        socket.recv(&mut buf).await
    };
    match tokio::time::timeout(wait, exchange).await {
        Ok(Ok(_)) => ProbeResult::Answered,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => ProbeResult::Refused,
        Ok(Err(_)) => ProbeResult::Failed,
        Err(_) => ProbeResult::Silent,
    }
}

/// A query id that differs from run to run (no need for a good random).
fn rand_id() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    (nanos ^ std::process::id()) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(n: usize) -> Health {
        Health::new(vec!["127.0.0.1:53".parse().unwrap()], n)
    }

    #[test]
    fn gives_up_after_different_names_in_a_row_without_any_answer() {
        let h = health(3);
        h.timed_out("a.example");
        h.timed_out("a.example");
        h.timed_out("b.example");
        assert_eq!(h.verdict(), None, "two different names only");
        h.timed_out("c.example");
        let v = h.verdict().expect("three different names");
        assert!(
            v.to_string()
                .starts_with("name server unreachable (3 consecutive timeouts"),
            "{v}"
        );
        assert!(v.to_string().contains("127.0.0.1:53"), "{v}");
    }

    #[test]
    fn a_server_that_answered_is_never_given_up() {
        let h = health(2);
        h.timed_out("a.example");
        h.answered();
        for i in 0..20 {
            h.timed_out(&format!("n{i}.example"));
        }
        assert_eq!(h.verdict(), None);
    }

    #[test]
    fn the_probe_starts_once() {
        let h = health(2);
        assert!(h.start_probe());
        assert!(!h.start_probe());
    }

    #[test]
    fn probe_query_is_a_root_ns_question() {
        let q = probe_query(0xabcd);
        assert_eq!(&q[..2], &[0xab, 0xcd]);
        assert_eq!(q[5], 1, "one question");
        assert_eq!(&q[12..], &[0, 0, 2, 0, 1]);
    }
}
