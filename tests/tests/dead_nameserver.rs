//! `authwarden check` with a name server that never answers, and with one
//! whose port is closed: every domain ends with its checkers' own "check
//! incomplete" findings (never ENGINE001), the run ends in about one query
//! timeout instead of minutes, and a closed port is called refused, not a
//! timeout.
//!
//! Nothing here measures time. The failure signal of a run that waits out
//! every query again is the helper's hard limit (60 s, after which the child
//! is killed and the test fails; without the fix these runs take minutes)
//! and the number of datagrams the silent server received.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use authwarden_e2e::{authwarden, findings_for, names_for};
use authwarden_test_support::util::free_port;
use serde_json::Value;

/// The exit status of a run whose checks could not complete.
const EXIT_INCOMPLETE: i32 = 3;

/// A loopback "name server" that reads every datagram and answers none,
/// counting them; its TCP port listens and never accepts.
struct CountingSilentDns {
    addr: SocketAddr,
    datagrams: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    _tcp: TcpListener,
}

impl CountingSilentDns {
    fn start() -> CountingSilentDns {
        for _ in 0..10 {
            let port = free_port();
            let (Ok(udp), Ok(tcp)) = (
                UdpSocket::bind((Ipv4Addr::LOCALHOST, port)),
                TcpListener::bind((Ipv4Addr::LOCALHOST, port)),
            ) else {
                continue;
            };
            udp.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let datagrams = Arc::new(AtomicUsize::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let reader = {
                let (datagrams, stop) = (datagrams.clone(), stop.clone());
                thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while !stop.load(Ordering::SeqCst) {
                        if udp.recv_from(&mut buf).is_ok() {
                            datagrams.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            };
            return CountingSilentDns {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                datagrams,
                stop,
                reader: Some(reader),
                _tcp: tcp,
            };
        }
        panic!("no free port for the silent DNS server");
    }

    fn datagrams(&self) -> usize {
        self.datagrams.load(Ordering::SeqCst)
    }
}

impl Drop for CountingSilentDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// An address of 127.0.0.1 where nothing listens (bound, then closed).
fn closed_port() -> SocketAddr {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket.local_addr().unwrap()
}

fn domains(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("d{i}.example")).collect()
}

/// `check DOMAINS --nameserver ADDR --format json`, every checker, the
/// default DNS settings (5 s timeout, one retry).
fn check(nameserver: SocketAddr, domains: &[String]) -> authwarden_e2e::Run {
    let ns = nameserver.to_string();
    let mut args: Vec<&str> = vec!["check"];
    args.extend(domains.iter().map(String::as_str));
    args.extend_from_slice(&["--nameserver", &ns, "--format", "json"]);
    authwarden(&args)
}

/// Every domain has the DMARC, SPF and DKIM "check incomplete" findings and
/// nothing crashed.
fn assert_incomplete_everywhere(out: &Value, domains: &[String]) {
    let crashed: Vec<&Value> = out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "ENGINE001")
        .collect();
    assert!(crashed.is_empty(), "checks crashed: {crashed:#?}");
    for domain in domains {
        for (checker, name) in [
            ("dmarc-policy", "dmarc-check-incomplete"),
            ("spf", "spf-check-incomplete"),
            ("dkim", "dkim-check-incomplete"),
        ] {
            assert!(
                names_for(out, domain, checker).contains(name),
                "no {name} for {domain}: {:#?}",
                findings_for(out, domain)
            );
        }
    }
}

/// All the findings of a run as text, for searching messages and evidence.
fn incomplete_text(out: &Value) -> Vec<String> {
    out["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["name"]
                .as_str()
                .unwrap_or_default()
                .ends_with("-incomplete")
        })
        .map(Value::to_string)
        .collect()
}

#[test]
fn a_dead_name_server_makes_every_check_incomplete_in_about_one_timeout() {
    let silent = CountingSilentDns::start();
    let domains = domains(10);
    let run = check(silent.addr, &domains);
    assert_eq!(run.code(), EXIT_INCOMPLETE, "{run}");
    let out = run.json();
    assert_incomplete_everywhere(&out, &domains);
    // The run gave the server up: later lookups say so instead of waiting.
    let texts = incomplete_text(&out);
    assert!(
        texts
            .iter()
            .any(|t| t.contains("name server unreachable (4 consecutive timeouts")),
        "{texts:#?}"
    );
    // One lookup per selector, and the selectors of a domain in one finding
    // per reason: a handful of DKIM012 per domain, not one per selector.
    for domain in &domains {
        let dkim = findings_for(&out, domain)
            .into_iter()
            .filter(|f| f["code"] == "DKIM012")
            .count();
        assert!(dkim <= 3, "{domain}: {dkim} DKIM012 findings");
    }
    // What reached the server: the first wave of queries only. At most 16
    // checks run at once and a check looks up at most 8 selectors at once,
    // each query is sent twice (one retry), plus the liveness probe (170
    // were counted). Waiting out every query instead passes this bound
    // within 40 s and sends ~3,400 for ten domains (10,230 for 30).
    let sent = silent.datagrams();
    assert!(
        sent <= 16 * 8 * 2 + 1,
        "{sent} datagrams reached the silent server"
    );
}

#[test]
fn a_closed_port_is_reported_as_refused() {
    let closed = closed_port();
    let domains = domains(3);
    let run = check(closed, &domains);
    assert_eq!(run.code(), EXIT_INCOMPLETE, "{run}");
    let out = run.json();
    assert_incomplete_everywhere(&out, &domains);
    let texts = incomplete_text(&out);
    for text in &texts {
        assert!(
            text.contains(&format!("connection refused by name server {closed}")),
            "{text}"
        );
        assert!(!text.contains("timeout"), "{text}");
    }
}
