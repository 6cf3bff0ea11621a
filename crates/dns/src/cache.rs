//! [`CachingResolver`]: the per-run cache shared by all checkers.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use authwarden_api::dns::normalize_name;
use authwarden_api::{async_trait, DnsAnswer, RecordType, Resolver};
use tokio::sync::OnceCell;

type Slot = Arc<OnceCell<DnsAnswer>>;
type Key = (String, RecordType);

/// How many answers a run keeps by default: about 14 a domain, so a fleet
/// of some 14,000 domains never forgets one, and a larger one stays within
/// a few tens of MiB (an answer with a DKIM key is about 500 bytes).
pub const DEFAULT_CAPACITY: usize = 200_000;

/// The answers, and the order they were first asked in.
struct Slots {
    map: HashMap<Key, Slot>,
    order: VecDeque<Key>,
    capacity: usize,
}

/// Asks the inner resolver at most once per (name, type) for its lifetime,
/// which is one run: concurrent identical queries wait for the one in
/// flight, and failures are kept like answers (a name that timed out once
/// is reported as timed out for the rest of the run instead of costing the
/// timeout again). There is no TTL handling: a run is short. It keeps at
/// most [`DEFAULT_CAPACITY`] answers ([`CachingResolver::with_capacity`]):
/// past that the oldest are forgotten, and asked again if a check needs
/// them, so a large fleet's memory stays bounded.
pub struct CachingResolver<R: ?Sized> {
    inner: Arc<R>,
    slots: Mutex<Slots>,
    forwarded: AtomicU64,
}

impl<R: Resolver> CachingResolver<R> {
    /// Caches the answers of `inner`.
    pub fn new(inner: R) -> Self {
        Self::from_arc(Arc::new(inner))
    }
}

impl<R: Resolver + ?Sized> CachingResolver<R> {
    /// Caches the answers of a shared resolver (also `Arc<dyn Resolver>`).
    pub fn from_arc(inner: Arc<R>) -> Self {
        Self::with_capacity(inner, DEFAULT_CAPACITY)
    }

    /// Caches at most `capacity` answers (at least one) of `inner`.
    pub fn with_capacity(inner: Arc<R>, capacity: usize) -> Self {
        Self {
            inner,
            slots: Mutex::new(Slots {
                map: HashMap::new(),
                order: VecDeque::new(),
                capacity: capacity.max(1),
            }),
            forwarded: AtomicU64::new(0),
        }
    }

    /// The wrapped resolver.
    pub fn inner(&self) -> &R {
        &self.inner
    }

    /// How many queries went to the inner resolver (cache misses), whether
    /// or not the inner resolver then used the network.
    pub fn lookups_forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    /// How many (name, type) pairs are kept.
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .map
            .len()
    }

    /// True before the first query.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<R: Resolver + ?Sized> Resolver for CachingResolver<R> {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        let name = normalize_name(name);
        let slot = {
            // A std mutex is enough: it is never held across an await.
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            let key = (name.clone(), rtype);
            match slots.map.get(&key) {
                Some(slot) => slot.clone(),
                None => {
                    let slot = Slot::default();
                    slots.map.insert(key.clone(), slot.clone());
                    slots.order.push_back(key);
                    // The oldest go first; a query still waiting on one
                    // holds its slot and gets its answer all the same.
                    while slots.map.len() > slots.capacity {
                        match slots.order.pop_front() {
                            Some(old) => {
                                slots.map.remove(&old);
                            }
                            None => break,
                        }
                    }
                    slot
                }
            }
        };
        slot.get_or_init(|| async {
            self.forwarded.fetch_add(1, Ordering::Relaxed);
            self.inner.query(&name, rtype).await
        })
        .await
        .clone()
    }

    /// The queries the inner resolver sent to the network: cache hits and
    /// zone-file answers do not count.
    fn queries_sent(&self) -> u64 {
        self.inner.queries_sent()
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::Duration;

    use authwarden_api::{DnsFailure, DnsOutcome, Rdata};

    use super::*;

    /// Answers after a short delay, counting the queries it receives.
    #[derive(Default)]
    struct Counting {
        sent: AtomicU64,
    }

    #[async_trait]
    impl Resolver for Counting {
        async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
            self.sent.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            let outcome = if name.starts_with("fail") {
                DnsOutcome::Failed(DnsFailure::Timeout)
            } else {
                DnsOutcome::Records(vec![Rdata::A(Ipv4Addr::new(192, 0, 2, 1))])
            };
            DnsAnswer {
                name: name.to_owned(),
                rtype,
                cname_chain: vec![],
                outcome,
            }
        }

        fn queries_sent(&self) -> u64 {
            self.sent.load(Ordering::SeqCst)
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_identical_queries_are_sent_once() {
        let cache = Arc::new(CachingResolver::new(Counting::default()));
        let tasks: Vec<_> = (0..32)
            .map(|i| {
                let cache = cache.clone();
                // Different spellings of one name share the entry.
                let name = if i % 2 == 0 {
                    "Example.COM."
                } else {
                    "example.com"
                };
                tokio::spawn(async move { cache.query(name, RecordType::A).await })
            })
            .collect();
        for task in tasks {
            let answer = task.await.unwrap();
            assert_eq!(answer.name, "example.com");
            assert_eq!(answer.records().len(), 1);
        }
        assert_eq!(cache.inner().sent.load(Ordering::SeqCst), 1);
        assert_eq!(cache.queries_sent(), 1);
        assert_eq!(cache.lookups_forwarded(), 1);

        // Another type or name is another query.
        cache.query("example.com", RecordType::MX).await;
        cache.query("www.example.com", RecordType::A).await;
        assert_eq!(cache.queries_sent(), 3);
        assert_eq!(cache.len(), 3);
    }

    #[tokio::test]
    async fn failures_are_cached_for_the_run() {
        let cache = CachingResolver::new(Counting::default());
        assert!(cache.is_empty());
        for _ in 0..3 {
            let answer = cache.query("fail.example", RecordType::TXT).await;
            assert_eq!(answer.failure(), Some(&DnsFailure::Timeout));
        }
        assert_eq!(cache.queries_sent(), 1);
    }

    #[tokio::test]
    async fn past_its_capacity_the_oldest_answers_are_forgotten() {
        let inner: Arc<Counting> = Arc::new(Counting::default());
        let cache = CachingResolver::with_capacity(inner.clone(), 2);
        for name in ["a.example", "b.example", "b.example", "c.example"] {
            cache.query(name, RecordType::A).await;
        }
        assert_eq!(inner.queries_sent(), 3);
        assert_eq!(cache.len(), 2);
        // b and c are kept; a was forgotten and is asked again.
        cache.query("c.example", RecordType::A).await;
        cache.query("b.example", RecordType::A).await;
        assert_eq!(inner.queries_sent(), 3);
        cache.query("a.example", RecordType::A).await;
        assert_eq!(inner.queries_sent(), 4);
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn wraps_shared_trait_objects() {
        let inner: Arc<dyn Resolver> = Arc::new(Counting::default());
        let cache = CachingResolver::from_arc(inner.clone());
        cache.query("a.example", RecordType::A).await;
        cache.query("a.example", RecordType::A).await;
        assert_eq!(inner.queries_sent(), 1);
    }
}
