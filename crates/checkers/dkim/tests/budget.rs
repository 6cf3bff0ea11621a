//! The selector probes of one domain run several at once, and the whole
//! check of a domain has a time budget: a dead or slow name server ends in
//! DKIM012 findings that name what could not be probed, with the results of
//! the selectors that did answer kept, long before the engine's limit. On
//! Tokio's paused clock, so the budgets elapse at once.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{
    async_trait, CheckContext, CheckOutput, Checker, DnsAnswer, DnsFailure, DnsOutcome,
    DomainTarget, Finding, FixedClock, RecordType, Resolver,
};
use authwarden_checker_dkim::selectors::{default_catalog, DEFAULT_BUDGET};
use authwarden_checker_dkim::Dkim;
use authwarden_zone::ZoneResolver;
use chrono::{TimeZone, Utc};

/// How a [`Scripted`] resolver treats a name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Answers from the zone after a second.
    Answer,
    /// Fails with a timeout after ten seconds.
    TimeOut,
    /// Never answers.
    Hang,
    /// Answers SERVFAIL at once.
    ServFail,
}

/// A resolver over the `tests/age/key-a.zone` zone (a key at `s1`) that
/// answers, times out or hangs per name, counting the queries and the most
/// that were in flight at once.
struct Scripted {
    zone: ZoneResolver,
    behaviour: fn(&str) -> Behaviour,
    asked: AtomicUsize,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Scripted {
    fn new(behaviour: fn(&str) -> Behaviour) -> Arc<Self> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/age/key-a.zone");
        let text = std::fs::read_to_string(path).unwrap();
        Arc::new(Scripted {
            zone: ZoneResolver::from_str(&text).unwrap(),
            behaviour,
            asked: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        })
    }

    fn asked(&self) -> usize {
        self.asked.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Resolver for Scripted {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        // The domain's own records (its SPF record, read for the providers
        // it names) answer at once: the budget is about the key probes.
        if !name.contains("._domainkey.") {
            return self.zone.query(name, rtype).await;
        }
        self.asked.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        // Leaves the count right however the query ends (answered or dropped
        // when the budget runs out).
        struct Done<'a>(&'a AtomicUsize);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _done = Done(&self.in_flight);
        match (self.behaviour)(name) {
            Behaviour::Answer => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                self.zone.query(name, rtype).await
            }
            Behaviour::TimeOut => {
                tokio::time::sleep(Duration::from_secs(10)).await;
                DnsAnswer {
                    name: name.to_string(),
                    rtype,
                    cname_chain: vec![],
                    outcome: DnsOutcome::Failed(DnsFailure::Timeout),
                }
            }
            Behaviour::Hang => std::future::pending().await,
            Behaviour::ServFail => DnsAnswer {
                name: name.to_string(),
                rtype,
                cname_chain: vec![],
                outcome: DnsOutcome::Failed(DnsFailure::ServFail),
            },
        }
    }
}

/// Checks example.org with the whole catalog probed (`probe_catalog =
/// true`), the most lookups one domain can need.
async fn check(resolver: Arc<Scripted>, mut config: Value, selectors: &[&str]) -> CheckOutput {
    config["probe_catalog"] = json!(true);
    let now = Utc.with_ymd_and_hms(2026, 2, 1, 6, 0, 0).unwrap();
    let ctx = CheckContext::new(resolver, Arc::new(FixedClock(now))).with_config(config);
    let mut target = DomainTarget::new("example.org");
    target.settings = json!({"dkim": {"selectors": selectors}});
    Dkim.check(&ctx, &target).await
}

fn incomplete(out: &CheckOutput) -> Vec<&Finding> {
    out.findings
        .iter()
        .filter(|f| f.code == "DKIM012")
        .collect()
}

fn facts_of<'a>(out: &'a CheckOutput, selector: &str) -> &'a Value {
    out.facts
        .as_ref()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["selector"] == selector)
        .unwrap_or_else(|| panic!("no facts for {selector}: {:#?}", out.facts))
}

fn catalog_size() -> usize {
    default_catalog().len()
}

/// The catalog's selectors are looked up eight at a time (the default), so
/// the check of a domain takes about a second per eight selectors, not one
/// per selector.
#[tokio::test(start_paused = true)]
async fn selectors_are_probed_concurrently_and_bounded() {
    let dns = Scripted::new(|_| Behaviour::Answer);
    let started = tokio::time::Instant::now();
    let out = check(dns.clone(), json!({}), &["s1"]).await;
    assert!(incomplete(&out).is_empty(), "{:#?}", out.findings);
    assert_eq!(facts_of(&out, "s1")["status"], "valid");
    // Every selector once (s1 is also a catalog name or not: count both).
    let probed = catalog_size() + usize::from(!default_catalog().iter().any(|e| e.name == "s1"));
    assert_eq!(dns.asked(), probed);
    assert_eq!(dns.most_in_flight.load(Ordering::SeqCst), 8);
    // On the paused clock: one second per wave of eight.
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(probed.div_ceil(8) as u64)
    );

    let dns = Scripted::new(|_| Behaviour::Answer);
    check(dns.clone(), json!({"probe_concurrency": 3}), &["s1"]).await;
    assert_eq!(dns.most_in_flight.load(Ordering::SeqCst), 3);
}

/// A name server that never answers some names: when the budget runs out
/// the check ends with one DKIM012 naming the selectors not probed, and
/// keeps the key that did answer.
#[tokio::test(start_paused = true)]
async fn the_budget_ends_the_check_and_keeps_what_answered() {
    let dns = Scripted::new(|name| {
        if name.starts_with("s1.") {
            Behaviour::Answer
        } else {
            Behaviour::Hang
        }
    });
    let started = tokio::time::Instant::now();
    let out = check(dns.clone(), json!({}), &["s1", "corp"]).await;
    assert_eq!(started.elapsed(), DEFAULT_BUDGET);
    assert_eq!(facts_of(&out, "s1")["status"], "valid");
    assert_eq!(facts_of(&out, "corp")["status"], "failed");
    let incomplete = incomplete(&out);
    assert_eq!(incomplete.len(), 1, "{:#?}", out.findings);
    let finding = incomplete[0];
    let total = catalog_size() + 1; // s1 is in the catalog, corp is not
    assert!(
        finding.message.starts_with(&format!(
            "{} selectors not probed: the dkim check's budget of 30s for the domain ran out (",
            total - 1
        )),
        "{}",
        finding.message
    );
    assert_eq!(finding.evidence["stage"], "budget");
    assert_eq!(finding.evidence["budget_seconds"], 30.0);
    let selectors = finding.evidence["selectors"].as_array().unwrap();
    assert_eq!(selectors.len(), total - 1, "{finding:#?}");
    // Eight at a time: the eight in flight when the budget ran out, and
    // s1's slot taken by the next one; the others were never asked.
    assert_eq!(dns.asked(), 9);
    assert!(selectors.contains(&json!("corp")));
    assert!(!selectors.contains(&json!("s1")));
    // Unknown is not missing: no "selector missing" or "no key" claims.
    assert!(
        out.findings.iter().all(|f| f.code == "DKIM012"),
        "{:#?}",
        out.findings
    );
}

/// A dead name server: every lookup times out. Each selector is asked
/// once, the failures make one DKIM012 listing them all, the "does the
/// domain send mail" lookups are not made (a failed probe is no evidence
/// of a missing key), and the check ends within its budget.
#[tokio::test(start_paused = true)]
async fn a_dead_server_ends_in_one_incomplete_finding() {
    let dns = Scripted::new(|_| Behaviour::TimeOut);
    let started = tokio::time::Instant::now();
    let out = check(dns.clone(), json!({"probe_concurrency": 16}), &["corp"]).await;
    assert!(started.elapsed() <= DEFAULT_BUDGET);
    let probed = catalog_size() + 1;
    assert_eq!(dns.asked(), probed);
    assert_eq!(out.findings.len(), 1, "{:#?}", out.findings);
    let finding = &out.findings[0];
    assert_eq!(finding.code, "DKIM012");
    assert_eq!(
        finding.message.split(':').next().unwrap(),
        format!("txt lookups of {probed} selectors failed (timeout)")
    );
    assert_eq!(finding.evidence["reason"], "timeout");
    assert_eq!(
        finding.evidence["selectors"].as_array().unwrap().len(),
        probed
    );
    assert_eq!(finding.subject, "_domainkey.example.org");
}

/// The budget is read from `[checkers.dkim] budget`; past it the lookups
/// still running are abandoned (and counted as not probed), and no new
/// one starts.
#[tokio::test(start_paused = true)]
async fn the_budget_is_configurable() {
    let dns = Scripted::new(|_| Behaviour::TimeOut);
    let started = tokio::time::Instant::now();
    let out = check(
        dns.clone(),
        json!({"budget": "15s", "probe_concurrency": 4}),
        &["corp"],
    )
    .await;
    assert_eq!(started.elapsed(), Duration::from_secs(15));
    // Waves of four at 0 s and 10 s; the second is cut at 15 s and no third starts.
    assert_eq!(dns.asked(), 8);
    let stages: Vec<(&str, usize)> = incomplete(&out)
        .iter()
        .map(|f| {
            (
                f.evidence["stage"].as_str().unwrap_or_default(),
                f.evidence["selectors"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    // The first wave timed out; the rest were cut or never asked.
    assert_eq!(
        stages,
        [("dns", 4), ("budget", catalog_size() + 1 - 4)],
        "{:#?}",
        out.findings
    );
}

/// An answer about a name (SERVFAIL) is that name's own finding; the
/// lookups that got no answer at all are listed together.
#[tokio::test(start_paused = true)]
async fn answered_failures_stay_per_selector() {
    let dns = Scripted::new(|name| match name.split('.').next() {
        Some("corp" | "s1") => Behaviour::ServFail,
        _ => Behaviour::TimeOut,
    });
    let out = check(dns, json!({"probe_concurrency": 32}), &["corp", "s1"]).await;
    let mut subjects: Vec<(&str, &str)> = incomplete(&out)
        .iter()
        .map(|f| (f.subject.as_str(), f.evidence["stage"].as_str().unwrap()))
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            ("_domainkey.example.org", "dns"),
            ("example.org", "dns"),
            ("example.org", "dns")
        ],
        "{:#?}",
        out.findings
    );
    let messages: Vec<&str> = incomplete(&out)
        .iter()
        .map(|f| f.message.as_str())
        .collect();
    assert!(messages.contains(&"txt lookup of corp._domainkey.example.org failed (SERVFAIL)"));
    assert!(messages.contains(&"txt lookup of s1._domainkey.example.org failed (SERVFAIL)"));
    let grouped = incomplete(&out)
        .into_iter()
        .find(|f| f.subject == "_domainkey.example.org")
        .unwrap();
    assert_eq!(grouped.evidence["reason"], "timeout");
    assert_eq!(
        grouped.evidence["selectors"].as_array().unwrap().len(),
        catalog_size() - 1
    );
}
