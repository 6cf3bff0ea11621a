//! [`HickoryResolver`]: hickory-resolver 0.26 behind the `Resolver` trait,
//! and the mapping of its results to [`DnsOutcome`].

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::dns::normalize_name;
use authwarden_api::{async_trait, DnsAnswer, DnsFailure, DnsOutcome, Rdata, RecordType, Resolver};
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as WireError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, Record};
use hickory_resolver::TokioResolver;

use crate::health::{Health, DEAD_AFTER};
use crate::{DnsError, DnsSettings};

/// The type code of the obsolete SPF type, which hickory decodes as unknown data.
const SPF_CODE: u16 = 99;

/// Queries name servers through hickory-resolver.
///
/// Hickory's own cache is reduced to nothing (size 0, every TTL clamped to
/// 0), the hosts file is ignored, EDNS is on, and names are always sent
/// fully qualified (no search list). CNAMEs are followed by hickory; the
/// answer's chain lists the targets in order.
///
/// It remembers for the run how its name servers behave (see
/// [`crate::health`]): a server with nothing listening at its port fails
/// every query at once with [`DnsFailure::ConnectionRefused`], and servers
/// that answered nothing while [`DEAD_AFTER`] different names in a row
/// timed out fail every later query at once with
/// [`DnsFailure::Unreachable`].
pub struct HickoryResolver {
    inner: TokioResolver,
    /// The servers asked: the configured ones, or the system's.
    servers: Vec<SocketAddr>,
    health: Arc<Health>,
    /// How long the probe of a server may wait for its answer.
    probe_wait: Duration,
    sent: AtomicU64,
    failed_fast: AtomicU64,
}

impl std::fmt::Debug for HickoryResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HickoryResolver")
            .field("nameservers", &self.servers)
            .field("queries_sent", &self.sent.load(Ordering::Relaxed))
            .field("failed_fast", &self.failed_fast.load(Ordering::Relaxed))
            .field("verdict", &self.health.verdict())
            .finish()
    }
}

fn apply_settings(options: &mut ResolverOpts, settings: &DnsSettings) {
    options.timeout = settings.timeout;
    // hickory sends once and then retries `attempts` more times.
    options.attempts = settings.retries;
    options.edns0 = true;
    // We cache per run ourselves; a second cache with its own rules
    // (negative TTLs, SOA minimums) would only surprise.
    options.cache_size = 0;
    options.positive_min_ttl = None;
    options.negative_min_ttl = None;
    options.positive_max_ttl = Some(Duration::ZERO);
    options.negative_max_ttl = Some(Duration::ZERO);
    options.use_hosts_file = ResolveHosts::Never;
    options.preserve_intermediates = true;
    options.recursion_desired = true;
}

impl HickoryResolver {
    /// Builds a resolver for `settings` (its `zone_files` are ignored here).
    ///
    /// With name servers, each address gets a UDP and a TCP connection on
    /// its port; TCP is used when a UDP answer is truncated. Without, the
    /// system configuration is read, with `settings`' timeout and retries.
    /// Building needs no tokio runtime; querying does.
    pub fn new(settings: &DnsSettings) -> Result<Self, DnsError> {
        let mut servers = settings.nameservers.clone();
        let mut builder = if settings.nameservers.is_empty() {
            let (config, options) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| DnsError::SystemConfig(e.to_string()))?;
            servers = system_servers(&config);
            let mut builder =
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
            *builder.options_mut() = options;
            builder
        } else {
            let servers = settings
                .nameservers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
                })
                .collect();
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(servers),
                TokioRuntimeProvider::default(),
            )
        };
        apply_settings(builder.options_mut(), settings);
        let inner = builder
            .build()
            .map_err(|e| DnsError::Build(e.to_string()))?;
        let attempts = u32::try_from(settings.retries.saturating_add(1)).unwrap_or(u32::MAX);
        Ok(Self {
            inner,
            health: Arc::new(Health::new(servers.clone(), DEAD_AFTER)),
            servers,
            probe_wait: settings.timeout.saturating_mul(attempts),
            sent: AtomicU64::new(0),
            failed_fast: AtomicU64::new(0),
        })
    }

    /// The same resolver, giving its servers up after `n` different names
    /// in a row timed out without any answer in the run (default
    /// [`DEAD_AFTER`]).
    pub fn dead_after(mut self, n: usize) -> Self {
        self.health = Arc::new(Health::new(self.servers.clone(), n));
        self
    }

    /// Queries answered at once with the run's verdict on its name servers
    /// (refused or unreachable) instead of being sent.
    pub fn queries_failed_fast(&self) -> u64 {
        self.failed_fast.load(Ordering::Relaxed)
    }

    /// The run's verdict on its name servers, once there is one: every
    /// query fails with it without being sent.
    pub fn verdict(&self) -> Option<DnsFailure> {
        self.health.verdict()
    }
}

/// The UDP address of each name server of a system configuration.
fn system_servers(config: &ResolverConfig) -> Vec<SocketAddr> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for ns in config.name_servers() {
        let port = ns
            .connections
            .iter()
            .find(|c| matches!(c.protocol, ProtocolConfig::Udp))
            .map(|c| c.port);
        if let Some(port) = port {
            let addr = SocketAddr::new(ns.ip, port);
            if !out.contains(&addr) {
                out.push(addr);
            }
        }
    }
    out
}

#[async_trait]
impl Resolver for HickoryResolver {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        let name = normalize_name(name);
        let mut answer = DnsAnswer {
            name: name.clone(),
            rtype,
            cname_chain: Vec::new(),
            outcome: DnsOutcome::NoData,
        };
        // Fully qualified, so that no search domain is appended.
        let fqdn = format!("{name}.");
        let parsed = if fqdn.is_ascii() {
            Name::from_ascii(&fqdn)
        } else {
            Name::from_utf8(&fqdn)
        };
        let qname = match parsed {
            Ok(n) => n,
            Err(e) => {
                answer.outcome =
                    DnsOutcome::Failed(DnsFailure::Other(format!("invalid name '{name}': {e}")));
                return answer;
            }
        };
        if let Some(verdict) = self.health.verdict() {
            self.failed_fast.fetch_add(1, Ordering::Relaxed);
            answer.outcome = DnsOutcome::Failed(verdict);
            return answer;
        }
        let lookup = self.inner.lookup(qname, rtype.code().into());
        self.sent.fetch_add(1, Ordering::Relaxed);
        if self.health.start_probe() {
            // Its own task: it must not end with the query that started it.
            let (health, wait) = (self.health.clone(), self.probe_wait);
            tokio::spawn(async move { health.probe(wait).await });
        }
        let result = tokio::select! {
            biased;
            result = lookup => result,
            // Queries in flight end as soon as the servers are given up.
            verdict = self.health.wait_verdict() => {
                answer.outcome = DnsOutcome::Failed(verdict);
                return answer;
            }
        };
        match result {
            Ok(lookup) => {
                self.health.answered();
                let (chain, outcome) = map_records(&name, rtype, lookup.answers());
                answer.cname_chain = chain;
                answer.outcome = outcome;
            }
            Err(e) => {
                tracing::debug!(%name, %rtype, error = %e, "DNS lookup failed");
                answer.outcome = outcome_from_error(&e, &self.health.servers_text());
                match &answer.outcome {
                    DnsOutcome::Failed(DnsFailure::Timeout) => {
                        // The probe may have learnt meanwhile that nothing
                        // listens there: say so rather than "timeout".
                        match self.health.verdict() {
                            Some(verdict) => answer.outcome = DnsOutcome::Failed(verdict),
                            None => self.health.timed_out(&name),
                        }
                    }
                    DnsOutcome::Failed(DnsFailure::ConnectionRefused(_) | DnsFailure::Other(_)) => {
                    }
                    // NXDOMAIN, NODATA, SERVFAIL, REFUSED...: an answer.
                    _ => self.health.answered(),
                }
            }
        }
        answer
    }

    /// Lookups handed to hickory: one per query, however many packets
    /// (retries, TCP, CNAME follow-ups) hickory needed for it.
    fn queries_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

fn owner(record: &Record) -> String {
    normalize_name(&record.name.to_ascii())
}

fn name_text(name: &Name) -> String {
    normalize_name(&name.to_ascii())
}

fn presentation(name: &Name) -> String {
    let n = name_text(name);
    if n.is_empty() {
        ".".to_owned()
    } else {
        format!("{n}.")
    }
}

/// Splits RDATA into character-strings; `None` when malformed.
fn character_strings(data: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let len = usize::from(data[pos]);
        out.push(data.get(pos + 1..pos + 1 + len)?.to_vec());
        pos += 1 + len;
    }
    Some(out)
}

/// Converts one record's data; TXT and SPF keep raw bytes.
pub(crate) fn map_rdata(data: &RData) -> Rdata {
    match data {
        RData::A(a) => Rdata::A(a.0),
        RData::AAAA(a) => Rdata::Aaaa(a.0),
        RData::MX(mx) => Rdata::Mx {
            preference: mx.preference,
            exchange: name_text(&mx.exchange),
        },
        RData::TXT(txt) => Rdata::Txt(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
        RData::CNAME(c) => Rdata::Cname(name_text(&c.0)),
        RData::NS(ns) => Rdata::Ns(name_text(&ns.0)),
        RData::PTR(ptr) => Rdata::Ptr(name_text(&ptr.0)),
        RData::TLSA(t) => Rdata::tlsa(
            u8::from(t.cert_usage),
            u8::from(t.selector),
            u8::from(t.matching),
            &t.cert_data,
        ),
        // Same presentation as authwarden-zone writes for SOA.
        RData::SOA(soa) => Rdata::Other(format!(
            "{} {} {} {} {} {} {}",
            presentation(&soa.mname),
            presentation(&soa.rname),
            soa.serial,
            soa.refresh,
            soa.retry,
            soa.expire,
            soa.minimum
        )),
        RData::Unknown { code, rdata } if u16::from(*code) == SPF_CODE => {
            match character_strings(&rdata.anything) {
                Some(strings) if !strings.is_empty() => Rdata::Txt(strings),
                _ => Rdata::Other(format!("{data}")),
            }
        }
        other => Rdata::Other(other.to_string()),
    }
}

/// Picks the records of the asked type out of an answer section, following
/// the CNAME chain from `name`.
pub(crate) fn map_records(
    name: &str,
    rtype: RecordType,
    records: &[Record],
) -> (Vec<String>, DnsOutcome) {
    let mut chain: Vec<String> = Vec::new();
    if rtype != RecordType::CNAME {
        let mut current = name.to_owned();
        while chain.len() < records.len() {
            let next = records.iter().find_map(|r| match &r.data {
                RData::CNAME(c) if owner(r) == current => Some(name_text(&c.0)),
                _ => None,
            });
            match next {
                Some(target) if target != name && !chain.contains(&target) => {
                    chain.push(target.clone());
                    current = target;
                }
                _ => break,
            }
        }
    }
    let code = rtype.code();
    let data: Vec<Rdata> = records
        .iter()
        .filter(|r| u16::from(r.record_type()) == code)
        .filter(|r| {
            let o = owner(r);
            o == name || chain.contains(&o)
        })
        .map(|r| map_rdata(&r.data))
        .collect();
    let outcome = if data.is_empty() {
        DnsOutcome::NoData
    } else {
        DnsOutcome::Records(data)
    };
    (chain, outcome)
}

fn rcode_failure(code: ResponseCode) -> DnsOutcome {
    DnsOutcome::Failed(match code {
        ResponseCode::ServFail => DnsFailure::ServFail,
        ResponseCode::Refused => DnsFailure::Refused,
        other => DnsFailure::Other(format!("server answered {other}")),
    })
}

/// Maps a hickory error to an outcome.
///
/// hickory 0.26 turns NXDOMAIN and NOERROR-without-data into
/// `NoRecordsFound` (told apart by the response code), and any other
/// error response code, SERVFAIL included, into `ResponseCode` after its
/// retries; a query nobody answers ends as `Timeout`.
///
/// A refused connection (TCP, or UDP where the socket reports the ICMP
/// "port unreachable") is [`DnsFailure::ConnectionRefused`], naming
/// `servers`, not a timeout.
pub(crate) fn outcome_from_error(error: &NetError, servers: &str) -> DnsOutcome {
    if error.is_nx_domain() {
        return DnsOutcome::NxDomain;
    }
    match error {
        NetError::Dns(WireError::NoRecordsFound(no_records)) => match no_records.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => DnsOutcome::NoData,
            code => rcode_failure(code),
        },
        NetError::Dns(WireError::ResponseCode(code)) => rcode_failure(*code),
        NetError::Timeout => DnsOutcome::Failed(DnsFailure::Timeout),
        NetError::Io(e) if e.kind() == io::ErrorKind::TimedOut => {
            DnsOutcome::Failed(DnsFailure::Timeout)
        }
        NetError::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            DnsOutcome::Failed(DnsFailure::ConnectionRefused(servers.to_owned()))
        }
        NetError::Truncated => DnsOutcome::Failed(DnsFailure::Other(
            "answer truncated over UDP and not available over TCP".into(),
        )),
        other => DnsOutcome::Failed(DnsFailure::Other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_resolver::net::NoRecords;
    use hickory_resolver::proto::op::Query;
    use hickory_resolver::proto::rr::rdata::{A, CNAME, MX, NULL, SOA, TXT};
    use hickory_resolver::proto::rr::RecordType as WireType;

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn rec(owner: &str, data: RData) -> Record {
        Record::from_rdata(n(owner), 300, data)
    }

    fn no_records(code: ResponseCode) -> NetError {
        NoRecords::new(Query::query(n("example.com."), WireType::TXT), code).into()
    }

    #[test]
    fn errors_map_to_outcomes() {
        let map = |e: &NetError| outcome_from_error(e, "127.0.0.1:53");
        assert_eq!(
            map(&no_records(ResponseCode::NXDomain)),
            DnsOutcome::NxDomain
        );
        assert_eq!(map(&no_records(ResponseCode::NoError)), DnsOutcome::NoData);
        assert_eq!(
            map(&WireError::ResponseCode(ResponseCode::ServFail).into()),
            DnsOutcome::Failed(DnsFailure::ServFail)
        );
        assert_eq!(
            map(&WireError::ResponseCode(ResponseCode::Refused).into()),
            DnsOutcome::Failed(DnsFailure::Refused)
        );
        assert!(matches!(
            map(&WireError::ResponseCode(ResponseCode::FormErr).into()),
            DnsOutcome::Failed(DnsFailure::Other(m)) if m.contains("server answered")
        ));
        assert_eq!(
            map(&NetError::Timeout),
            DnsOutcome::Failed(DnsFailure::Timeout)
        );
        assert_eq!(
            map(&NetError::Io(Arc::new(io::Error::from(
                io::ErrorKind::TimedOut
            )))),
            DnsOutcome::Failed(DnsFailure::Timeout)
        );
        // A refused connection is not a timeout, and names the server.
        let refused = map(&NetError::Io(Arc::new(io::Error::from(
            io::ErrorKind::ConnectionRefused,
        ))));
        assert_eq!(
            refused,
            DnsOutcome::Failed(DnsFailure::ConnectionRefused("127.0.0.1:53".into()))
        );
        assert_eq!(
            refused.failure_text(),
            "connection refused by name server 127.0.0.1:53"
        );
        assert!(matches!(
            map(&NetError::NoConnections),
            DnsOutcome::Failed(DnsFailure::Other(_))
        ));
    }

    trait FailureText {
        fn failure_text(&self) -> String;
    }

    impl FailureText for DnsOutcome {
        fn failure_text(&self) -> String {
            match self {
                DnsOutcome::Failed(f) => f.to_string(),
                other => format!("{other:?}"),
            }
        }
    }

    #[test]
    fn records_map_with_chain_and_raw_bytes() {
        let records = vec![
            rec(
                "Alias.Example.com.",
                RData::CNAME(CNAME(n("mid.example.com."))),
            ),
            rec(
                "mid.example.com.",
                RData::CNAME(CNAME(n("target.example.net."))),
            ),
            rec(
                "target.example.net.",
                RData::TXT(TXT::from_bytes(vec![b"v=spf1 ", b"\xff-all"])),
            ),
            // Another name's TXT is not part of the answer.
            rec("other.example.", RData::TXT(TXT::from_bytes(vec![b"x"]))),
        ];
        let (chain, outcome) = map_records("alias.example.com", RecordType::TXT, &records);
        assert_eq!(chain, vec!["mid.example.com", "target.example.net"]);
        assert_eq!(
            outcome,
            DnsOutcome::Records(vec![Rdata::Txt(vec![
                b"v=spf1 ".to_vec(),
                b"\xff-all".to_vec()
            ])])
        );

        // Asking for the CNAME itself does not follow it.
        let (chain, outcome) = map_records("alias.example.com", RecordType::CNAME, &records);
        assert!(chain.is_empty());
        assert_eq!(
            outcome,
            DnsOutcome::Records(vec![Rdata::Cname("mid.example.com".into())])
        );

        // A chain without data of the type is NODATA.
        let (chain, outcome) = map_records("alias.example.com", RecordType::A, &records[..2]);
        assert_eq!(chain.len(), 2);
        assert_eq!(outcome, DnsOutcome::NoData);

        // CNAME loops end.
        let looped = vec![
            rec("a.example.", RData::CNAME(CNAME(n("b.example.")))),
            rec("b.example.", RData::CNAME(CNAME(n("a.example.")))),
        ];
        let (chain, _) = map_records("a.example", RecordType::A, &looped);
        assert_eq!(chain, vec!["b.example"]);
    }

    #[test]
    fn rdata_conversions() {
        assert_eq!(
            map_rdata(&RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))),
            Rdata::A(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            map_rdata(&RData::MX(MX::new(10, n("Mail.Example.com.")))),
            Rdata::Mx {
                preference: 10,
                exchange: "mail.example.com".into()
            }
        );
        assert_eq!(
            map_rdata(&RData::MX(MX::new(0, Name::root()))),
            Rdata::Mx {
                preference: 0,
                exchange: String::new()
            }
        );
        assert_eq!(
            map_rdata(&RData::Unknown {
                code: WireType::Unknown(SPF_CODE),
                rdata: NULL::with(b"\x0bv=spf1 -all\x01x".to_vec()),
            }),
            Rdata::Txt(vec![b"v=spf1 -all".to_vec(), b"x".to_vec()])
        );
        let soa = SOA::new(
            n("ns1.example.com."),
            n("hostmaster.example.com."),
            2024010101,
            7200,
            3600,
            1209600,
            300,
        );
        // The same text authwarden-zone produces for the same SOA.
        let zone = authwarden_zone::Zone::parse(
            "example.com. SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300\n",
            "t",
            None,
        )
        .unwrap();
        let expected = zone.records().next().unwrap().rdata.clone();
        assert_eq!(map_rdata(&RData::SOA(soa)), expected);
    }

    #[test]
    fn default_settings() {
        let s = DnsSettings::default();
        assert!(s.nameservers.is_empty());
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.retries, 1);
        let mut opts = ResolverOpts::default();
        apply_settings(&mut opts, &s);
        assert_eq!(opts.attempts, 1);
        assert_eq!(opts.cache_size, 0);
        assert!(opts.edns0);
    }
}
