//! Reverse DNS of report sources: the PTR name of each distinct source IP,
//! asked once and concurrently, and kept across runs in a small JSON cache
//! ([`PtrCache`], `<history_dir>/aggregate/ptr-cache.json`).
//!
//! A name is what [`Classifier::classify_with_ptr`](crate::Classifier::classify_with_ptr)
//! takes: `o1.ptr1234.sendgrid.net` makes a source SendGrid even when its
//! `auth_results` name only the customer's domains.
//!
//! Lookups never fail the caller: a SERVFAIL or timeout leaves the source
//! without a name and is not saved, so the next run asks again (within a
//! run it is not asked twice: a dead reverse zone costs its timeout once).
//! "No name" (NXDOMAIN, no PTR record) is an answer and is cached, for a
//! shorter time than a name.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use authwarden_api::dns::normalize_name;
use authwarden_api::{DnsOutcome, Rdata, RecordType, Resolver};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt as _};
use serde::{Deserialize, Serialize};

/// How long a PTR name is trusted: 30 days.
pub const PTR_POSITIVE_TTL: Duration = Duration::days(30);
/// How long "this IP has no PTR name" is trusted: 1 day.
pub const PTR_NEGATIVE_TTL: Duration = Duration::days(1);
/// Lookups in flight at once unless the caller says otherwise.
pub const DEFAULT_PTR_CONCURRENCY: usize = 32;

/// The cache file's version; a file of another version is ignored.
const CACHE_VERSION: u32 = 1;

/// The name to ask for the PTR record of `ip`: `4.3.2.1.in-addr.arpa` for
/// `1.2.3.4`, 32 reversed nibbles under `ip6.arpa` for IPv6. An
/// IPv4-mapped IPv6 address is asked as the IPv4 address it maps.
pub fn ptr_query_name(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                for nibble in [byte & 0x0f, byte >> 4] {
                    name.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
                    name.push('.');
                }
            }
            name.push_str("ip6.arpa");
            name
        }
    }
}

/// A report's `source_ip` as an address (canonical: IPv4-mapped IPv6
/// becomes IPv4), `None` when it is not one.
pub fn parse_source_ip(source_ip: &str) -> Option<IpAddr> {
    source_ip
        .trim()
        .parse::<IpAddr>()
        .ok()
        .map(|ip| ip.to_canonical())
}

/// One cached answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PtrEntry {
    /// The PTR name, lower-case without trailing dot; `None` when the IP has
    /// none (NXDOMAIN, or no PTR record).
    pub name: Option<String>,
    /// When the answer was fetched.
    pub fetched: DateTime<Utc>,
}

impl PtrEntry {
    /// Whether the entry may still be used at `now`: 30 days for a name,
    /// 1 day for "no name"; an entry from the future (the clock went back)
    /// is not.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        let ttl = if self.name.is_some() {
            PTR_POSITIVE_TTL
        } else {
            PTR_NEGATIVE_TTL
        };
        self.fetched <= now && now - self.fetched < ttl
    }
}

/// The file format.
#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    entries: BTreeMap<IpAddr, PtrEntry>,
}

/// Why the cache file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PtrCacheError {
    /// Reading the file failed.
    #[error("cannot read the PTR cache {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a PTR cache.
    #[error("the PTR cache {path} is not valid JSON of a PTR cache: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Writing the file failed.
    #[error("cannot write the PTR cache {path}: {source}")]
    Write {
        /// The file (or its temporary sibling).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// PTR answers by IP, with the time each was fetched. `now` is the run's
/// time: freshness is judged and new answers are stamped with it. IPs whose
/// lookup failed are remembered for the life of the value, never saved.
#[derive(Debug, Clone)]
pub struct PtrCache {
    entries: BTreeMap<IpAddr, PtrEntry>,
    failed: HashSet<IpAddr>,
    now: DateTime<Utc>,
}

impl Default for PtrCache {
    fn default() -> Self {
        PtrCache::new()
    }
}

impl PtrCache {
    /// An empty cache at the current time.
    pub fn new() -> PtrCache {
        PtrCache {
            entries: BTreeMap::new(),
            failed: HashSet::new(),
            now: Utc::now(),
        }
    }

    /// The cache file of a history: `<history_dir>/aggregate/ptr-cache.json`.
    pub fn path_in(history_dir: &Path) -> PathBuf {
        history_dir.join("aggregate").join("ptr-cache.json")
    }

    /// Reads the cache file; a missing file (or one of another version) is
    /// an empty cache.
    pub fn load(path: &Path) -> Result<PtrCache, PtrCacheError> {
        let text = match fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(PtrCache::new()),
            Err(source) => {
                return Err(PtrCacheError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let file: CacheFile =
            serde_json::from_slice(&text).map_err(|source| PtrCacheError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        let mut cache = PtrCache::new();
        if file.version == CACHE_VERSION {
            cache.entries = file.entries;
        }
        Ok(cache)
    }

    /// Writes the fresh entries (stale ones are dropped) to `path`
    /// atomically: a temporary file beside it, then a rename, so a reader
    /// or a crash never sees half a file. Creates the folder.
    pub fn save(&self, path: &Path) -> Result<(), PtrCacheError> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| PtrCacheError::Write { path, source }
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(write_err(dir))?;
        let file = CacheFile {
            version: CACHE_VERSION,
            entries: self
                .entries
                .iter()
                .filter(|(_, e)| e.is_fresh(self.now))
                .map(|(ip, e)| (*ip, e.clone()))
                .collect(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| PtrCacheError::Write {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        authwarden_api::fsutil::write_atomic_with(path, |f| {
            f.write_all(&json)?;
            f.write_all(b"\n")
        })
        .map_err(|source| PtrCacheError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The same cache judged (and stamping new answers) at `now`.
    pub fn at(mut self, now: DateTime<Utc>) -> PtrCache {
        self.now = now;
        self
    }

    /// The run's time.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The fresh entry of `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<&PtrEntry> {
        self.entries
            .get(&ip.to_canonical())
            .filter(|e| e.is_fresh(self.now))
    }

    /// The PTR name of `ip`, when a fresh entry has one.
    pub fn name(&self, ip: IpAddr) -> Option<&str> {
        self.get(ip).and_then(|e| e.name.as_deref())
    }

    /// Whether the lookup of `ip` failed while this value lived.
    pub fn failed(&self, ip: IpAddr) -> bool {
        self.failed.contains(&ip.to_canonical())
    }

    /// Records that the lookup of `ip` failed: not asked again while this
    /// value lives, not saved.
    pub fn insert_failure(&mut self, ip: IpAddr) {
        self.failed.insert(ip.to_canonical());
    }

    /// Records an answer fetched now: a name, or `None` for "no name".
    pub fn insert(&mut self, ip: IpAddr, name: Option<String>) {
        self.failed.remove(&ip.to_canonical());
        self.entries.insert(
            ip.to_canonical(),
            PtrEntry {
                name,
                fetched: self.now,
            },
        );
    }

    /// Entries held, stale ones included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What [`resolve_ptrs`] did, by distinct IP.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PtrCounts {
    /// Not asked: the cache held a name or "no name", or the lookup had
    /// failed earlier in the same run.
    pub cached: usize,
    /// Asked of the resolver.
    pub queried: usize,
    /// Asked, and a PTR name came back.
    pub found: usize,
    /// Asked, and the lookup failed (SERVFAIL, timeout, ...): not cached.
    pub failed: usize,
}

impl std::ops::AddAssign for PtrCounts {
    fn add_assign(&mut self, other: PtrCounts) {
        self.cached += other.cached;
        self.queried += other.queried;
        self.found += other.found;
        self.failed += other.failed;
    }
}

/// The name an answer gives: the first PTR target in order, lower-case
/// without trailing dot. `Ok(None)` is "no name", `Err(())` a failure.
fn ptr_of(outcome: &DnsOutcome) -> Result<Option<String>, ()> {
    match outcome {
        DnsOutcome::Records(records) => {
            let mut names: Vec<String> = records
                .iter()
                .filter_map(|r| match r {
                    Rdata::Ptr(name) => Some(normalize_name(name)),
                    _ => None,
                })
                .filter(|n| !n.is_empty())
                .collect();
            // Several PTR records come back in any order: take the same one
            // every time.
            names.sort();
            Ok(names.into_iter().next())
        }
        DnsOutcome::NxDomain | DnsOutcome::NoData => Ok(None),
        DnsOutcome::Failed(_) => Err(()),
    }
}

/// Looks up the PTR name of every distinct IP of `ips` that `cache` does
/// not hold fresh, at most `concurrency` at once (0 counts as 1), and puts
/// the answers into `cache`. Each distinct IP is counted and asked once.
pub async fn resolve_ptrs(
    resolver: &dyn Resolver,
    ips: impl IntoIterator<Item = IpAddr>,
    cache: &mut PtrCache,
    concurrency: usize,
) -> PtrCounts {
    let mut counts = PtrCounts::default();
    let mut seen = HashSet::new();
    let mut todo = Vec::new();
    for ip in ips {
        let ip = ip.to_canonical();
        if !seen.insert(ip) {
            continue;
        }
        if cache.get(ip).is_some() || cache.failed(ip) {
            counts.cached += 1;
        } else {
            todo.push(ip);
        }
    }
    counts.queried = todo.len();
    let mut answers = stream::iter(todo)
        .map(|ip| async move {
            let answer = resolver.query(&ptr_query_name(ip), RecordType::PTR).await;
            (ip, ptr_of(&answer.outcome))
        })
        .buffer_unordered(concurrency.max(1));
    while let Some((ip, answer)) = answers.next().await {
        match answer {
            Ok(name) => {
                counts.found += usize::from(name.is_some());
                cache.insert(ip, name);
            }
            Err(()) => {
                counts.failed += 1;
                cache.insert_failure(ip);
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use authwarden_api::{DnsAnswer, DnsFailure};
    use chrono::TimeZone as _;

    /// Answers from a map by query name, counting every query and the
    /// most in flight at once.
    #[derive(Default)]
    struct FakeResolver {
        answers: HashMap<String, DnsOutcome>,
        asked: Mutex<Vec<String>>,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
    }

    impl FakeResolver {
        fn with(mut self, name: &str, outcome: DnsOutcome) -> Self {
            self.answers.insert(name.to_string(), outcome);
            self
        }

        fn asked(&self) -> Vec<String> {
            let mut a = self.asked.lock().unwrap().clone();
            a.sort();
            a
        }
    }

    #[authwarden_api::async_trait]
    impl Resolver for FakeResolver {
        async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
            assert_eq!(rtype, RecordType::PTR);
            self.asked.lock().unwrap().push(name.to_string());
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            // Yield once so that other lookups can start meanwhile.
            let mut yielded = false;
            std::future::poll_fn(|cx| {
                if yielded {
                    std::task::Poll::Ready(())
                } else {
                    yielded = true;
                    cx.waker().wake_by_ref();
                    std::task::Poll::Pending
                }
            })
            .await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            DnsAnswer {
                name: name.to_string(),
                rtype,
                cname_chain: Vec::new(),
                outcome: self
                    .answers
                    .get(name)
                    .cloned()
                    .unwrap_or(DnsOutcome::NxDomain),
            }
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn ptr(name: &str) -> DnsOutcome {
        DnsOutcome::Records(vec![Rdata::Ptr(name.to_string())])
    }

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
    }

    fn run(r: &FakeResolver, ips: &[&str], cache: &mut PtrCache, concurrency: usize) -> PtrCounts {
        futures::executor::block_on(resolve_ptrs(
            r,
            ips.iter().map(|s| ip(s)),
            cache,
            concurrency,
        ))
    }

    #[test]
    fn query_names() {
        assert_eq!(ptr_query_name(ip("192.0.2.10")), "10.2.0.192.in-addr.arpa");
        assert_eq!(
            ptr_query_name(ip("2001:db8::567:89ab")),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
        assert_eq!(
            ptr_query_name(ip("::ffff:198.51.100.7")),
            "7.100.51.198.in-addr.arpa"
        );
        assert_eq!(
            parse_source_ip(" ::ffff:198.51.100.7 "),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(parse_source_ip("not-an-ip"), None);
    }

    #[test]
    fn each_distinct_ip_is_asked_once() {
        let r = FakeResolver::default()
            .with("10.2.0.192.in-addr.arpa", ptr("O1.Ptr1234.SendGrid.net."))
            .with(
                "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
                ptr("mail.example.net"),
            )
            .with(
                "11.2.0.192.in-addr.arpa",
                DnsOutcome::Failed(DnsFailure::ServFail),
            );
        let mut cache = PtrCache::new().at(t0());
        let counts = run(
            &r,
            &[
                "192.0.2.10",
                "192.0.2.10",
                "2001:db8::567:89ab",
                "2001:0db8:0:0::567:89AB",
                "::ffff:192.0.2.10",
                "192.0.2.11",
                "192.0.2.12",
            ],
            &mut cache,
            DEFAULT_PTR_CONCURRENCY,
        );
        assert_eq!(
            counts,
            PtrCounts {
                cached: 0,
                queried: 4,
                found: 2,
                failed: 1
            }
        );
        assert_eq!(
            r.asked(),
            [
                "10.2.0.192.in-addr.arpa",
                "11.2.0.192.in-addr.arpa",
                "12.2.0.192.in-addr.arpa",
                "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
            ]
        );
        assert_eq!(
            cache.name(ip("192.0.2.10")),
            Some("o1.ptr1234.sendgrid.net")
        );
        assert_eq!(
            cache.name(ip("2001:db8::567:89ab")),
            Some("mail.example.net")
        );
        // NXDOMAIN is an answer; SERVFAIL is not cached.
        assert_eq!(
            cache.get(ip("192.0.2.12")).map(|e| e.name.clone()),
            Some(None)
        );
        assert!(cache.get(ip("192.0.2.11")).is_none());
        assert_eq!(cache.len(), 3);
        // Within the run the failure is not asked again; a new run asks.
        let counts = run(&r, &["192.0.2.11", "192.0.2.10"], &mut cache, 2);
        assert_eq!((counts.cached, counts.queried), (2, 0));
        assert_eq!(r.asked().len(), 4);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ptr-cache.json");
        cache.save(&path).unwrap();
        let mut next = PtrCache::load(&path).unwrap().at(t0());
        assert!(!next.failed(ip("192.0.2.11")));
        let counts = run(&r, &["192.0.2.11", "192.0.2.10"], &mut next, 2);
        assert_eq!((counts.cached, counts.queried, counts.failed), (1, 1, 1));
    }

    #[test]
    fn cache_hits_are_not_asked() {
        let r = FakeResolver::default().with("1.2.0.192.in-addr.arpa", ptr("a.example.net"));
        let mut cache = PtrCache::new().at(t0());
        cache.insert(ip("192.0.2.2"), Some("b.example.net".into()));
        cache.insert(ip("192.0.2.3"), None);
        let counts = run(&r, &["192.0.2.1", "192.0.2.2", "192.0.2.3"], &mut cache, 4);
        assert_eq!(
            counts,
            PtrCounts {
                cached: 2,
                queried: 1,
                found: 1,
                failed: 0
            }
        );
        assert_eq!(r.asked(), ["1.2.0.192.in-addr.arpa"]);
        // A second pass asks nothing.
        let counts = run(&r, &["192.0.2.1", "192.0.2.2", "192.0.2.3"], &mut cache, 4);
        assert_eq!((counts.cached, counts.queried), (3, 0));
        assert_eq!(r.asked().len(), 1);
    }

    #[test]
    fn entries_expire() {
        let r = FakeResolver::default();
        let mut cache = PtrCache::new().at(t0());
        cache.insert(ip("192.0.2.1"), Some("a.example.net".into()));
        cache.insert(ip("192.0.2.2"), None);
        // A negative answer lasts a day, a name 30 days.
        let cache = cache.at(t0() + Duration::hours(25));
        assert_eq!(cache.name(ip("192.0.2.1")), Some("a.example.net"));
        assert!(cache.get(ip("192.0.2.2")).is_none());
        let mut cache = cache.at(t0() + Duration::days(30));
        assert!(cache.get(ip("192.0.2.1")).is_none());
        let counts = run(&r, &["192.0.2.1", "192.0.2.2"], &mut cache, 1);
        assert_eq!((counts.cached, counts.queried), (0, 2));
        // Clock went back: an entry from the future is not trusted.
        let cache = cache.at(t0());
        assert!(cache.get(ip("192.0.2.1")).is_none());
    }

    #[test]
    fn concurrency_is_bounded() {
        let r = FakeResolver::default();
        let ips: Vec<String> = (0..100).map(|i| format!("10.0.0.{i}")).collect();
        let ips: Vec<&str> = ips.iter().map(String::as_str).collect();
        let mut cache = PtrCache::new().at(t0());
        let counts = run(&r, &ips, &mut cache, 8);
        assert_eq!(counts.queried, 100);
        let max = r.max_in_flight.load(Ordering::SeqCst);
        assert!(max > 1 && max <= 8, "{max} lookups in flight");
        let r = FakeResolver::default();
        let mut cache = PtrCache::new().at(t0());
        run(&r, &ips, &mut cache, 0);
        assert_eq!(r.max_in_flight.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = PtrCache::path_in(dir.path());
        assert!(path.ends_with("aggregate/ptr-cache.json"));
        assert!(PtrCache::load(&path).unwrap().is_empty());
        let mut cache = PtrCache::new().at(t0() - Duration::days(2));
        cache.insert(ip("192.0.2.9"), None);
        let mut cache = cache.at(t0());
        cache.insert(ip("192.0.2.1"), Some("a.example.net".into()));
        cache.insert(ip("2001:db8::1"), None);
        cache.save(&path).unwrap();
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["ptr-cache.json"], "no temporary file is left");
        let loaded = PtrCache::load(&path).unwrap().at(t0());
        // The stale negative entry was dropped.
        assert_eq!(loaded.len(), 2);
        assert_eq!(loaded.name(ip("192.0.2.1")), Some("a.example.net"));
        assert_eq!(
            loaded.get(ip("2001:db8::1")),
            Some(&PtrEntry {
                name: None,
                fetched: t0()
            })
        );
        fs::write(&path, "{not json").unwrap();
        let err = PtrCache::load(&path).unwrap_err().to_string();
        assert!(err.contains("ptr-cache.json is not valid JSON"), "{err}");
    }
}
