//! The DNS bridge: mail-auth resolves through hickory, so the verification
//! runs against a small DNS server on loopback, started for it, that answers
//! every query from the project's [`Resolver`] — zone files, the overlay of
//! `plan`, the configured name servers and the per-run cache all apply, and
//! a failure of the project's resolver reaches mail-auth as SERVFAIL (a
//! temporary error), never as a made-up answer.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::{DnsOutcome, Rdata, RecordType, Resolver};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, PTR, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType as WireType};
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// The largest UDP answer sent; a longer one is truncated and hickory asks
/// again over TCP.
const UDP_MAX: usize = 1232;

/// The TTL of every answer (hickory's cache lives as long as one verification).
const TTL: u32 = 60;

/// A running bridge; the server stops when it is dropped.
pub struct Bridge {
    addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Bridge {
    /// Starts a bridge to `resolver` on a free loopback port (UDP and TCP).
    pub async fn start(resolver: Arc<dyn Resolver>) -> std::io::Result<Bridge> {
        let mut last = None;
        for _ in 0..20 {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await?;
            let addr = udp.local_addr()?;
            let tcp = match TcpListener::bind(addr).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            };
            let udp_task = {
                let resolver = resolver.clone();
                tokio::spawn(async move {
                    let udp = Arc::new(udp);
                    let mut buf = vec![0u8; 4096];
                    while let Ok((len, peer)) = udp.recv_from(&mut buf).await {
                        let Ok(query) = Message::from_vec(&buf[..len]) else {
                            continue;
                        };
                        let resolver = resolver.clone();
                        let udp = udp.clone();
                        tokio::spawn(async move {
                            let mut response = answer(&resolver, &query).await;
                            let mut bytes = response.to_vec().unwrap_or_default();
                            if bytes.len() > UDP_MAX {
                                response.answers.clear();
                                response.metadata.truncation = true;
                                bytes = response.to_vec().unwrap_or_default();
                            }
                            let _ = udp.send_to(&bytes, peer).await;
                        });
                    }
                })
            };
            let tcp_task = tokio::spawn(async move {
                while let Ok((mut stream, _)) = tcp.accept().await {
                    let resolver = resolver.clone();
                    tokio::spawn(async move {
                        loop {
                            let Ok(len) = stream.read_u16().await else {
                                return;
                            };
                            let mut buf = vec![0u8; usize::from(len)];
                            if stream.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            let Ok(query) = Message::from_vec(&buf) else {
                                return;
                            };
                            let bytes =
                                answer(&resolver, &query).await.to_vec().unwrap_or_default();
                            let Ok(len) = u16::try_from(bytes.len()) else {
                                return;
                            };
                            if stream.write_u16(len).await.is_err()
                                || stream.write_all(&bytes).await.is_err()
                            {
                                return;
                            }
                        }
                    });
                }
            });
            return Ok(Bridge {
                addr,
                tasks: vec![udp_task, tcp_task],
            });
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no free loopback port")))
    }

    /// A hickory resolver that asks only this bridge, without a cache of
    /// its own beyond one verification and without search domains.
    pub fn resolver(&self, timeout: Duration) -> Result<TokioResolver, String> {
        let mut udp = ConnectionConfig::udp();
        udp.port = self.addr.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = self.addr.port();
        let server = NameServerConfig::new(self.addr.ip(), true, vec![udp, tcp]);
        let mut builder = TokioResolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![server]),
            TokioRuntimeProvider::default(),
        );
        let opts: &mut ResolverOpts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 0;
        opts.edns0 = true;
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        opts.recursion_desired = true;
        builder.build().map_err(|e| e.to_string())
    }
}

/// The answer to one query, from `resolver`.
async fn answer(resolver: &Arc<dyn Resolver>, query: &Message) -> Message {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(query.queries.clone());
    let Some(q) = query.queries.first() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return response;
    };
    let asked = q.name().clone();
    let rtype = match q.query_type() {
        WireType::A => RecordType::A,
        WireType::AAAA => RecordType::AAAA,
        WireType::MX => RecordType::MX,
        WireType::TXT => RecordType::TXT,
        WireType::PTR => RecordType::PTR,
        WireType::CNAME => RecordType::CNAME,
        _ => {
            response.metadata.response_code = ResponseCode::NotImp;
            return response;
        }
    };
    let name = asked.to_ascii();
    let got = resolver.query(name.trim_end_matches('.'), rtype).await;
    match &got.outcome {
        DnsOutcome::Records(records) => {
            for r in records {
                if let Some(data) = rdata(r) {
                    response.add_answer(Record::from_rdata(asked.clone(), TTL, data));
                }
            }
        }
        DnsOutcome::NoData => {}
        DnsOutcome::NxDomain => response.metadata.response_code = ResponseCode::NXDomain,
        DnsOutcome::Failed(_) => response.metadata.response_code = ResponseCode::ServFail,
    }
    response
}

/// The wire form of one record, where hickory can carry it.
fn rdata(r: &Rdata) -> Option<RData> {
    Some(match r {
        Rdata::A(ip) => RData::A(A(*ip)),
        Rdata::Aaaa(ip) => RData::AAAA(AAAA(*ip)),
        Rdata::Mx {
            preference,
            exchange,
        } => RData::MX(MX::new(*preference, fqdn(exchange)?)),
        Rdata::Txt(parts) => RData::TXT(TXT::from_bytes(
            parts.iter().map(Vec::as_slice).collect::<Vec<&[u8]>>(),
        )),
        Rdata::Ptr(name) => RData::PTR(PTR(fqdn(name)?)),
        _ => return None,
    })
}

fn fqdn(name: &str) -> Option<Name> {
    if name.is_empty() || name == "." {
        return Some(Name::root());
    }
    Name::from_ascii(format!("{}.", name.trim_end_matches('.'))).ok()
}
