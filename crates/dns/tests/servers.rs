//! End-to-end tests of `HickoryResolver` and `build_resolver` against tiny
//! in-process DNS servers on 127.0.0.1 (UDP and TCP on the same port), each
//! answering in one scripted way.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use authwarden_api::{DnsFailure, DnsOutcome, Rdata, RecordType, Resolver};
use authwarden_dns::{build_resolver, DnsSettings, HickoryResolver};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType as WireType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

const TIMEOUT: Duration = Duration::from_millis(300);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

/// Builds the answer to a query; `None` drops it.
type Handler = Arc<dyn Fn(&Message, Transport) -> Option<Message> + Send + Sync>;

struct TestServer {
    addr: SocketAddr,
    /// Queries received over UDP, the resolver's liveness probe (`. NS`)
    /// not included.
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    /// The liveness probes (`. NS` over UDP) received.
    probes: Arc<AtomicUsize>,
    tasks: Vec<JoinHandle<()>>,
}

/// The resolver's liveness probe: a query for the root's NS records.
fn is_probe(query: &Message) -> bool {
    query
        .queries
        .first()
        .is_some_and(|q| q.name().is_root() && q.query_type() == WireType::NS)
}

impl Drop for TestServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl TestServer {
    async fn start(handler: Handler) -> TestServer {
        // Bind UDP on a free port, then TCP on the same port (retrying when
        // that TCP port happens to be taken).
        for _ in 0..20 {
            let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = udp.local_addr().unwrap();
            let Ok(tcp) = TcpListener::bind(addr).await else {
                continue;
            };
            let udp_queries = Arc::new(AtomicUsize::new(0));
            let tcp_queries = Arc::new(AtomicUsize::new(0));
            let probes = Arc::new(AtomicUsize::new(0));
            let udp_task = {
                let handler = handler.clone();
                let count = udp_queries.clone();
                let probes = probes.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    while let Ok((len, peer)) = udp.recv_from(&mut buf).await {
                        let Ok(query) = Message::from_vec(&buf[..len]) else {
                            count.fetch_add(1, Ordering::SeqCst);
                            continue;
                        };
                        if is_probe(&query) {
                            probes.fetch_add(1, Ordering::SeqCst);
                        } else {
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        if let Some(response) = handler(&query, Transport::Udp) {
                            let bytes = response.to_vec().unwrap();
                            let _ = udp.send_to(&bytes, peer).await;
                        }
                    }
                })
            };
            let tcp_task = {
                let count = tcp_queries.clone();
                tokio::spawn(async move {
                    while let Ok((mut stream, _)) = tcp.accept().await {
                        let handler = handler.clone();
                        let count = count.clone();
                        tokio::spawn(async move {
                            loop {
                                let Ok(len) = stream.read_u16().await else {
                                    return;
                                };
                                let mut buf = vec![0u8; usize::from(len)];
                                if stream.read_exact(&mut buf).await.is_err() {
                                    return;
                                }
                                count.fetch_add(1, Ordering::SeqCst);
                                let Ok(query) = Message::from_vec(&buf) else {
                                    return;
                                };
                                if let Some(response) = handler(&query, Transport::Tcp) {
                                    let bytes = response.to_vec().unwrap();
                                    let len = u16::try_from(bytes.len()).unwrap();
                                    if stream.write_u16(len).await.is_err()
                                        || stream.write_all(&bytes).await.is_err()
                                    {
                                        return;
                                    }
                                }
                            }
                        });
                    }
                })
            };
            return TestServer {
                addr,
                udp_queries,
                tcp_queries,
                probes,
                tasks: vec![udp_task, tcp_task],
            };
        }
        panic!("no free port pair on 127.0.0.1");
    }

    fn resolver(&self) -> HickoryResolver {
        HickoryResolver::new(&settings(self.addr)).unwrap()
    }
}

fn settings(addr: SocketAddr) -> DnsSettings {
    DnsSettings {
        nameservers: vec![addr],
        timeout: TIMEOUT,
        retries: 1,
        zone_files: vec![],
    }
}

/// An empty response to `query` with `code`.
fn reply(query: &Message, code: ResponseCode) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.response_code = code;
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(query.queries.clone());
    response
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn handler(f: impl Fn(&Message, Transport) -> Option<Message> + Send + Sync + 'static) -> Handler {
    Arc::new(f)
}

fn rcode_server(code: ResponseCode) -> Handler {
    handler(move |q, _| Some(reply(q, code)))
}

#[tokio::test]
async fn unanswered_query_times_out() {
    let server = TestServer::start(handler(|_, _| None)).await;
    let resolver = server.resolver();
    let start = Instant::now();
    let answer = resolver.query("example.com", RecordType::TXT).await;
    let elapsed = start.elapsed();
    assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::Timeout));
    // Two attempts (1 retry), each waiting out the timeout (a lower bound
    // only: an upper one would depend on the machine's load).
    let attempts = 2;
    assert!(elapsed >= TIMEOUT, "gave up early: {elapsed:?}");
    // One UDP packet per attempt: hickory retransmits within an attempt only
    // after 333 ms, longer than this test's timeout. No TCP for a timeout.
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), attempts as usize);
    assert_eq!(server.tcp_queries.load(Ordering::SeqCst), 0);
    assert_eq!(resolver.queries_sent(), 1);
}

#[tokio::test]
async fn servfail_is_reported_as_servfail() {
    let server = TestServer::start(rcode_server(ResponseCode::ServFail)).await;
    let resolver = server.resolver();
    let answer = resolver.query("example.com", RecordType::TXT).await;
    assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::ServFail));
    // hickory retries a SERVFAIL: once plus one retry, each answered (a
    // SERVFAIL that waited for a timeout would have been a timeout).
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), 2);
    assert_eq!(resolver.verdict(), None);
}

#[tokio::test]
async fn refused_is_reported_as_refused() {
    let server = TestServer::start(rcode_server(ResponseCode::Refused)).await;
    let answer = server.resolver().query("example.com", RecordType::MX).await;
    assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::Refused));
}

#[tokio::test]
async fn nxdomain_and_nodata_stay_apart() {
    let server = TestServer::start(rcode_server(ResponseCode::NXDomain)).await;
    let answer = server
        .resolver()
        .query("nope.example.com.", RecordType::TXT)
        .await;
    assert_eq!(answer.outcome, DnsOutcome::NxDomain);
    assert!(answer.is_void());
    // A negative answer is final: no retry.
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), 1);

    let server = TestServer::start(rcode_server(ResponseCode::NoError)).await;
    let answer = server
        .resolver()
        .query("example.com", RecordType::TXT)
        .await;
    assert_eq!(answer.outcome, DnsOutcome::NoData);
}

#[tokio::test]
async fn truncated_udp_answer_is_retried_over_tcp() {
    let server = TestServer::start(handler(|q, transport| {
        let mut response = reply(q, ResponseCode::NoError);
        if transport == Transport::Udp {
            response.metadata.truncation = true;
            return Some(response);
        }
        let long = vec![b'a'; 255];
        response.add_answer(Record::from_rdata(
            name("example.com."),
            300,
            RData::TXT(TXT::from_bytes(vec![b"v=spf1 ", &long, b"\xff -all"])),
        ));
        response.add_answer(Record::from_rdata(
            name("example.com."),
            300,
            RData::TXT(TXT::from_bytes(vec![b"second record"])),
        ));
        Some(response)
    }))
    .await;
    let answer = server
        .resolver()
        .query("example.com", RecordType::TXT)
        .await;
    let long = vec![b'a'; 255];
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![
            Rdata::Txt(vec![b"v=spf1 ".to_vec(), long, b"\xff -all".to_vec()]),
            Rdata::Txt(vec![b"second record".to_vec()]),
        ])
    );
    assert!(server.tcp_queries.load(Ordering::SeqCst) >= 1);
}

#[tokio::test]
async fn cname_chain_is_reported() {
    let server = TestServer::start(handler(|q, _| {
        let mut response = reply(q, ResponseCode::NoError);
        let asked = q.queries.first()?.name().to_ascii().to_ascii_lowercase();
        if asked == "www.example.com." {
            response.add_answer(Record::from_rdata(
                name("www.example.com."),
                300,
                RData::CNAME(CNAME(name("cdn.example.net."))),
            ));
            response.add_answer(Record::from_rdata(
                name("cdn.example.net."),
                300,
                RData::A(A(Ipv4Addr::new(192, 0, 2, 80))),
            ));
        }
        Some(response)
    }))
    .await;
    let answer = server
        .resolver()
        .query("WWW.example.com", RecordType::A)
        .await;
    assert_eq!(answer.name, "www.example.com");
    assert_eq!(answer.cname_chain, vec!["cdn.example.net"]);
    assert_eq!(answer.canonical_name(), "cdn.example.net");
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 80))])
    );
}

#[tokio::test]
async fn tlsa_records_keep_their_fields_and_hex_data() {
    use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
    let server = TestServer::start(handler(|q, _| {
        let mut response = reply(q, ResponseCode::NoError);
        if q.queries.first()?.query_type() == WireType::TLSA {
            response.add_answer(Record::from_rdata(
                name("_25._tcp.mail.example.com."),
                300,
                RData::TLSA(TLSA::new(
                    CertUsage::DaneEe,
                    Selector::Spki,
                    Matching::Sha256,
                    vec![0xab, 0x01, 0xff],
                )),
            ));
        }
        Some(response)
    }))
    .await;
    let answer = server
        .resolver()
        .query("_25._tcp.mail.example.com", RecordType::TLSA)
        .await;
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![Rdata::Tlsa {
            usage: 3,
            selector: 1,
            matching: 1,
            data: "ab01ff".into()
        }])
    );
}

#[tokio::test]
async fn spf_type_99_keeps_character_strings() {
    let server = TestServer::start(handler(|q, _| {
        let mut response = reply(q, ResponseCode::NoError);
        if q.queries.first()?.query_type() == WireType::Unknown(99) {
            response.add_answer(Record::from_rdata(
                name("example.com."),
                300,
                RData::Unknown {
                    code: WireType::Unknown(99),
                    rdata: hickory_proto::rr::rdata::NULL::with(b"\x07v=spf1 \x04-all".to_vec()),
                },
            ));
        }
        Some(response)
    }))
    .await;
    let answer = server
        .resolver()
        .query("example.com", RecordType::SPF)
        .await;
    assert_eq!(
        answer.outcome,
        DnsOutcome::Records(vec![Rdata::Txt(vec![
            b"v=spf1 ".to_vec(),
            b"-all".to_vec()
        ])])
    );
}

#[tokio::test]
async fn built_resolver_caches_and_overlays_zone_files() {
    let server = TestServer::start(handler(|q, _| {
        let mut response = reply(q, ResponseCode::NoError);
        response.add_answer(Record::from_rdata(
            q.queries.first()?.name().clone(),
            300,
            RData::TXT(TXT::from_bytes(vec![b"from the network"])),
        ));
        Some(response)
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let zone_file = dir.path().join("overlay.zone");
    std::fs::write(
        &zone_file,
        "$ORIGIN example.com.\n@ TXT \"from the zone file\"\nalias CNAME target.example.org.\n",
    )
    .unwrap();
    let mut s = settings(server.addr);
    s.zone_files = vec![zone_file];
    let resolver = build_resolver(&s).unwrap();

    // Inside the overlay: no network.
    let answer = resolver.query("example.com", RecordType::TXT).await;
    assert_eq!(answer.txt(), vec!["from the zone file"]);
    assert_eq!(
        resolver
            .query("nope.example.com", RecordType::TXT)
            .await
            .outcome,
        DnsOutcome::NxDomain
    );
    assert_eq!(resolver.queries_sent(), 0);
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), 0);

    // Outside: the network, once per (name, type) even when asked concurrently.
    let answers =
        futures::future::join_all((0..8).map(|_| resolver.query("example.org", RecordType::TXT)))
            .await;
    for answer in &answers {
        assert_eq!(answer.txt(), vec!["from the network"]);
    }
    assert_eq!(resolver.queries_sent(), 1);
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), 1);

    // A CNAME leaving the zone continues on the network.
    let answer = resolver.query("alias.example.com", RecordType::TXT).await;
    assert_eq!(answer.cname_chain, vec!["target.example.org"]);
    assert_eq!(answer.txt(), vec!["from the network"]);
    assert_eq!(resolver.queries_sent(), 2);
}

#[tokio::test]
async fn built_resolver_without_zone_files_caches() {
    let server = TestServer::start(rcode_server(ResponseCode::NXDomain)).await;
    let resolver = build_resolver(&settings(server.addr)).unwrap();
    for _ in 0..3 {
        assert_eq!(
            resolver.query("nope.example", RecordType::A).await.outcome,
            DnsOutcome::NxDomain
        );
    }
    assert_eq!(resolver.queries_sent(), 1);
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), 1);
}

#[test]
fn zone_file_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.zone");
    let s = DnsSettings {
        zone_files: vec![missing],
        ..settings("127.0.0.1:53".parse().unwrap())
    };
    let e = build_resolver(&s).err().expect("missing file must fail");
    assert!(e.to_string().contains("missing.zone"), "{e}");

    let bad = dir.path().join("bad.zone");
    std::fs::write(&bad, "$ORIGIN example.com.\n@ TXT \"ok\"\n@ WKS x\n").unwrap();
    let s = DnsSettings {
        zone_files: vec![bad],
        ..settings("127.0.0.1:53".parse().unwrap())
    };
    let e = build_resolver(&s).err().expect("bad file must fail");
    assert!(
        e.to_string()
            .contains("bad.zone:3:3: unsupported record type 'WKS'"),
        "{e}"
    );
}

#[test]
fn builds_outside_a_runtime_and_from_system_config() {
    // Building needs no runtime; only queries do.
    assert!(build_resolver(&settings("127.0.0.1:53".parse().unwrap())).is_ok());
    // No name servers: the system configuration. Nothing is queried here.
    if std::path::Path::new("/etc/resolv.conf").exists() {
        let resolver = HickoryResolver::new(&DnsSettings::default()).unwrap();
        assert_eq!(resolver.queries_sent(), 0);
    }
}

// --- The run's memory of its name servers --------------------------------

/// Settings for `addr` with one attempt per query.
fn one_attempt(addr: SocketAddr, timeout: Duration) -> DnsSettings {
    DnsSettings {
        retries: 0,
        timeout,
        ..settings(addr)
    }
}

/// How many datagrams wait unread at `socket`.
fn drain(socket: &std::net::UdpSocket) -> usize {
    socket.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while socket.recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

/// A name server that never answers (a UDP socket nobody reads): after
/// three different names timed out, with no answer in the run, every
/// further query fails at once as unreachable and is not sent.
#[tokio::test]
async fn a_silent_server_is_given_up_after_consecutive_timeouts() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let resolver = HickoryResolver::new(&one_attempt(addr, TIMEOUT))
        .unwrap()
        .dead_after(3);
    for name in ["a.example", "b.example", "c.example"] {
        let answer = resolver.query(name, RecordType::TXT).await;
        assert_eq!(
            answer.outcome,
            DnsOutcome::Failed(DnsFailure::Timeout),
            "{name}"
        );
    }
    let verdict = resolver.verdict().expect("given up after three names");
    assert!(
        verdict
            .to_string()
            .starts_with("name server unreachable (3 consecutive timeouts"),
        "{verdict}"
    );
    assert!(verdict.to_string().contains(&addr.to_string()), "{verdict}");
    for i in 0..20 {
        let answer = resolver
            .query(&format!("d{i}.example"), RecordType::TXT)
            .await;
        assert!(
            matches!(
                answer.outcome,
                DnsOutcome::Failed(DnsFailure::Unreachable(_))
            ),
            "{answer:?}"
        );
    }
    assert_eq!(resolver.queries_sent(), 3);
    assert_eq!(resolver.queries_failed_fast(), 20);
    // On the wire: the three queries and the liveness probe, nothing else.
    assert_eq!(drain(&silent), 4);
}

/// Queries in flight when the servers are given up end then, as
/// unreachable, instead of waiting for their own timeout.
#[tokio::test]
async fn queries_in_flight_end_when_the_server_is_given_up() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let resolver = HickoryResolver::new(&one_attempt(addr, TIMEOUT))
        .unwrap()
        .dead_after(2);
    let answers =
        futures::future::join_all((0..12).map(|i| resolver.query_owned(format!("n{i}.example"))))
            .await;
    let timeouts = answers
        .iter()
        .filter(|a| a.outcome == DnsOutcome::Failed(DnsFailure::Timeout))
        .count();
    let unreachable = answers
        .iter()
        .filter(|a| matches!(a.outcome, DnsOutcome::Failed(DnsFailure::Unreachable(_))))
        .count();
    assert_eq!(timeouts + unreachable, 12, "{answers:#?}");
    assert!(
        timeouts >= 2,
        "the verdict needs two timeouts: {answers:#?}"
    );
    assert!(resolver.verdict().is_some());
    assert_eq!(resolver.queries_sent(), 12);
    assert_eq!(resolver.queries_failed_fast(), 0);
}

/// The same name timing out again and again is not a dead server: it may
/// be slow for that one name.
#[tokio::test]
async fn one_name_timing_out_repeatedly_is_not_a_dead_server() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let resolver = HickoryResolver::new(&one_attempt(addr, TIMEOUT))
        .unwrap()
        .dead_after(2);
    for rtype in [
        RecordType::TXT,
        RecordType::MX,
        RecordType::A,
        RecordType::TXT,
    ] {
        let answer = resolver.query("slow.example", rtype).await;
        assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::Timeout));
    }
    assert_eq!(resolver.verdict(), None);
    assert_eq!(resolver.queries_sent(), 4);
}

/// A server that answers some names is alive, however many other names
/// time out in a row.
#[tokio::test]
async fn a_server_slow_for_some_names_is_not_given_up() {
    let server = TestServer::start(handler(|q, _| {
        let asked = q.queries.first()?.name().to_ascii();
        (!asked.starts_with("slow")).then(|| reply(q, ResponseCode::NXDomain))
    }))
    .await;
    let resolver = HickoryResolver::new(&one_attempt(server.addr, TIMEOUT))
        .unwrap()
        .dead_after(2);
    assert_eq!(
        resolver
            .query("fine.example", RecordType::TXT)
            .await
            .outcome,
        DnsOutcome::NxDomain
    );
    for i in 0..5 {
        let answer = resolver
            .query(&format!("slow{i}.example"), RecordType::TXT)
            .await;
        assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::Timeout));
    }
    assert_eq!(resolver.verdict(), None);
    assert_eq!(resolver.queries_sent(), 6);
    assert_eq!(server.udp_queries.load(Ordering::SeqCst), 6);
}

/// A server that answers only the liveness probe is alive too: the probe's
/// answer is what keeps a run whose first names all time out (one lame
/// domain checked first) from giving up a working server.
#[tokio::test]
async fn an_answered_probe_keeps_the_server() {
    let server = TestServer::start(handler(|q, _| {
        is_probe(q).then(|| reply(q, ResponseCode::NoError))
    }))
    .await;
    let resolver = HickoryResolver::new(&one_attempt(server.addr, Duration::from_millis(500)))
        .unwrap()
        .dead_after(2);
    for i in 0..4 {
        let answer = resolver
            .query(&format!("lame{i}.example"), RecordType::TXT)
            .await;
        assert_eq!(answer.outcome, DnsOutcome::Failed(DnsFailure::Timeout));
    }
    assert_eq!(server.probes.load(Ordering::SeqCst), 1, "one probe per run");
    assert_eq!(resolver.verdict(), None);
    assert_eq!(resolver.queries_sent(), 4);
}

/// A port nothing listens on: the ICMP "port unreachable" is reported as
/// a refused connection, not as a timeout, and later queries are not sent.
#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let closed = {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    };
    // A long timeout: only the refusal can end the query early, and the
    // assertions below fail if it ends as a timeout.
    let resolver =
        HickoryResolver::new(&settings_with_timeout(closed, Duration::from_secs(5))).unwrap();
    let answer = resolver.query("example.com", RecordType::TXT).await;
    assert_eq!(
        answer.outcome,
        DnsOutcome::Failed(DnsFailure::ConnectionRefused(closed.to_string()))
    );
    assert!(
        answer
            .failure()
            .unwrap()
            .to_string()
            .contains("connection refused"),
        "{answer:?}"
    );
    let again = resolver.query("example.org", RecordType::MX).await;
    assert_eq!(again.outcome, answer.outcome);
    assert_eq!(resolver.queries_sent(), 1);
    assert_eq!(resolver.queries_failed_fast(), 1);
}

/// Through the run's cache: the verdict is per run, shared by every query.
#[tokio::test]
async fn built_resolver_gives_a_silent_server_up_for_the_run() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let resolver = build_resolver(&one_attempt(addr, TIMEOUT)).unwrap();
    // Concurrently, as the engine asks: one wave of timeouts, then nothing.
    let names: Vec<String> = (0..40)
        .map(|i| format!("s{i}._domainkey.example"))
        .collect();
    let answers =
        futures::future::join_all(names.iter().map(|n| resolver.query(n, RecordType::TXT))).await;
    assert!(
        answers.iter().all(|a| a.failure().is_some()),
        "{answers:#?}"
    );
    let later_names: Vec<String> = (0..40).map(|i| format!("t{i}.example")).collect();
    let later = futures::future::join_all(
        later_names
            .iter()
            .map(|n| resolver.query(n, RecordType::TXT)),
    )
    .await;
    for answer in &later {
        assert!(
            matches!(
                answer.outcome,
                DnsOutcome::Failed(DnsFailure::Unreachable(_))
            ),
            "{answer:?}"
        );
    }
    // The later wave went nowhere: 40 queries and one probe on the wire.
    assert_eq!(resolver.queries_sent(), 40);
    assert_eq!(drain(&silent), 41);
}

fn settings_with_timeout(addr: SocketAddr, timeout: Duration) -> DnsSettings {
    DnsSettings {
        timeout,
        ..settings(addr)
    }
}

/// `query` taking its name by value, for `join_all` over owned names.
trait QueryOwned {
    async fn query_owned(&self, name: String) -> authwarden_api::DnsAnswer;
}

impl QueryOwned for HickoryResolver {
    async fn query_owned(&self, name: String) -> authwarden_api::DnsAnswer {
        self.query(&name, RecordType::TXT).await
    }
}
