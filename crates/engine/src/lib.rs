//! The engine: runs checkers over domains, concurrently and bounded, and
//! turns their outputs into one [`RunOutcome`] — the findings with the user's
//! levels applied and the facts per domain. This is the `check --format json`
//! contract.
//!
//! A checker that panics does not stop the run: its domain gets an
//! [`ENGINE_CHECK_CRASHED`] finding and every other check goes on.
//!
//! Each check has a hard time limit ([`Engine::timeout`], 120 s), past which
//! it is abandoned with [`ENGINE_CHECK_CRASHED`], and a softer DNS budget
//! ([`Engine::dns_budget`], three quarters of the limit): the check's
//! resolver answers every query asked after the budget ran out, and every
//! query still unanswered then, with [`DnsFailure::OutOfTime`] at once. A
//! checker turns those failures into its own "check incomplete" findings,
//! as it does for timeouts, and returns before the hard limit with what it
//! did find, instead of losing everything to `ENGINE001`.
#![deny(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::{
    async_trait, declare_codes, serde_json::Map, serde_json::Value, CheckContext, CheckOutput,
    Checker, DnsAnswer, DnsFailure, DnsOutcome, DomainTarget, Finding, Level, RecordType, Resolver,
    Severity,
};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

declare_codes! {
    /// A checker failed unexpectedly; its results for this domain are missing.
    ///
    /// ## What it checks
    /// The engine reports this when a checker crashed (panicked) or did not
    /// finish within its time limit while checking a domain.
    ///
    /// ## Why it matters
    /// The domain was not fully checked: problems the checker would have found
    /// are not in this report.
    ///
    /// ## How to fix
    /// Run `authwarden check <domain> -v` to reproduce it and report the
    /// message in the evidence to the checker's maintainers. Other checkers'
    /// results for the domain are unaffected.
    pub ENGINE_CHECK_CRASHED = ("ENGINE001", "check-crashed", Severity::Warning);
}

/// The id the engine uses for its own findings.
pub const ENGINE_ID: &str = "engine";

/// The facts of one domain: checker facts keyed by each checker's facts key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DomainReport {
    /// The domain.
    pub domain: String,
    /// Facts, e.g. `"dmarc": {...}`.
    #[serde(flatten)]
    pub facts: Map<String, Value>,
    /// The changes the checkers propose for this domain, in checker order
    /// (the input of the pipeline's plan stage; not part of the facts).
    #[serde(skip)]
    pub proposals: Vec<authwarden_api::plan::Proposal>,
}

/// Everything one run produced.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct RunOutcome {
    /// Every finding (levels applied, allowed ones removed).
    pub findings: Vec<Finding>,
    /// One entry per domain checked, in input order.
    pub domains: Vec<DomainReport>,
}

impl RunOutcome {
    /// The number of findings at each severity.
    pub fn counts(&self) -> SeverityCounts {
        let mut c = SeverityCounts::default();
        for f in &self.findings {
            match f.severity {
                Severity::Error => c.errors += 1,
                Severity::Warning => c.warnings += 1,
                Severity::Note => c.notes += 1,
            }
        }
        c
    }

    /// True when a finding is at error severity (the run "fails").
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// The (domain, checker) checks that did not complete: those with a
    /// "check incomplete" finding (a code name ending in `-incomplete`,
    /// e.g. `dkim-check-incomplete` after a DNS timeout) and those the
    /// engine reported as [`ENGINE_CHECK_CRASHED`] (the checker is that
    /// finding's subject). Sorted, each pair once; `.len()` is the number
    /// of incomplete checks.
    ///
    /// It reads the findings after levels were applied: an incomplete code
    /// the user set to `allow` is not counted.
    pub fn incomplete_checks(&self) -> BTreeSet<(&str, &str)> {
        self.findings
            .iter()
            .filter_map(|f| incomplete_check(f).map(|checker| (f.domain.as_str(), checker)))
            .collect()
    }
}

/// The checker whose check of the finding's domain did not complete, when
/// the finding says so (see [`RunOutcome::incomplete_checks`]).
pub fn incomplete_check(finding: &Finding) -> Option<&str> {
    if finding.name == ENGINE_CHECK_CRASHED.name {
        Some(finding.subject.as_str())
    } else if finding.name.ends_with("-incomplete") {
        Some(finding.checker.as_str())
    } else {
        None
    }
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Notes.
    pub notes: usize,
}

/// A checker with the config section it runs with.
#[derive(Clone)]
pub struct PlannedChecker {
    /// The checker.
    pub checker: Arc<dyn Checker>,
    /// Its config section (`[checkers.<id>]`), an empty object when absent.
    pub settings: Value,
}

/// Runs checkers over domains.
pub struct Engine {
    checkers: Vec<PlannedChecker>,
    levels: BTreeMap<String, Level>,
    concurrency: usize,
    timeout: Duration,
    dns_budget: Option<Duration>,
}

impl Engine {
    /// An engine over these checkers, with no level overrides, 16 checks at
    /// once, a 120 s limit per check and DNS answered until 90 s into it.
    pub fn new(checkers: Vec<PlannedChecker>) -> Self {
        Engine {
            checkers,
            levels: BTreeMap::new(),
            concurrency: 16,
            timeout: Duration::from_secs(120),
            dns_budget: None,
        }
    }

    /// How long into a check its DNS queries are answered; later ones fail
    /// at once with [`DnsFailure::OutOfTime`]. Default: three quarters of
    /// [`Engine::timeout`], which leaves the checker a quarter of its time
    /// to report what it found. A budget past the limit turns it off.
    pub fn dns_budget(mut self, budget: Duration) -> Self {
        self.dns_budget = Some(budget);
        self
    }

    fn effective_dns_budget(&self) -> Duration {
        self.dns_budget.unwrap_or(self.timeout / 4 * 3)
    }

    /// Per-code levels (keys are codes such as `DMARC003`).
    pub fn levels(mut self, levels: BTreeMap<String, Level>) -> Self {
        self.levels = levels;
        self
    }

    /// How many (checker, domain) checks run at once.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The time limit of one check of one domain.
    pub fn timeout(mut self, t: std::time::Duration) -> Self {
        self.timeout = t;
        self
    }

    /// The number of checks a run over `domains` performs.
    pub fn total_checks(&self, domains: usize) -> usize {
        self.checkers.len() * domains
    }

    /// Runs every checker on every domain. `on_done` is called after each
    /// check (for a progress bar).
    pub async fn run(
        &self,
        ctx: &CheckContext,
        domains: &[DomainTarget],
        on_done: &(dyn Fn() + Send + Sync),
    ) -> RunOutcome {
        let mut jobs = Vec::with_capacity(self.total_checks(domains.len()));
        for (di, domain) in domains.iter().enumerate() {
            for (ci, planned) in self.checkers.iter().enumerate() {
                jobs.push((di, ci, domain.clone(), planned.clone()));
            }
        }
        let timeout = self.timeout;
        let budget = self.effective_dns_budget();
        let mut results: Vec<(usize, usize, CheckOutput)> =
            stream::iter(jobs.into_iter().map(|(di, ci, domain, planned)| {
                let mut ctx = ctx.with_config(planned.settings.clone());
                async move {
                    let id = planned.checker.info().id;
                    let name = domain.name.clone();
                    let task = tokio::spawn(async move {
                        // The clock starts when the check does, not when it
                        // was queued.
                        ctx.resolver = Arc::new(Budgeted {
                            inner: ctx.resolver.clone(),
                            deadline: Instant::now() + budget,
                            why: format!("the {id} check's DNS budget of {budget:?} ran out"),
                        });
                        tokio::time::timeout(timeout, planned.checker.check(&ctx, &domain)).await
                    });
                    let out = match task.await {
                        Ok(Ok(out)) => out,
                        Ok(Err(_elapsed)) => CheckOutput {
                            findings: vec![crashed(
                                id,
                                &name,
                                format!("did not finish within {timeout:?}"),
                            )],
                            ..Default::default()
                        },
                        Err(join) => CheckOutput {
                            findings: vec![crashed(id, &name, panic_message(join))],
                            ..Default::default()
                        },
                    };
                    on_done();
                    (di, ci, out)
                }
            }))
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        results.sort_by_key(|(di, ci, ..)| (*di, *ci));

        let mut outcome = RunOutcome {
            findings: Vec::new(),
            domains: domains
                .iter()
                .map(|d| DomainReport {
                    domain: d.name.clone(),
                    facts: Map::new(),
                    proposals: Vec::new(),
                })
                .collect(),
        };
        for (di, ci, out) in results {
            let key = self.checkers[ci].checker.info().facts_key;
            if let Some(facts) = out.facts {
                outcome.domains[di].facts.insert(key.to_string(), facts);
            }
            outcome.domains[di].proposals.extend(out.proposals);
            outcome
                .findings
                .extend(out.findings.into_iter().filter_map(|f| self.apply_level(f)));
        }
        outcome
    }

    /// Applies the user's level for the finding's code; `None` when allowed.
    pub fn apply_level(&self, mut finding: Finding) -> Option<Finding> {
        match self.levels.get(&finding.code) {
            None => Some(finding),
            Some(level) => {
                finding.severity = level.severity()?;
                Some(finding)
            }
        }
    }
}

/// The resolver of one check: the run's resolver until the check's DNS
/// budget runs out, then [`DnsFailure::OutOfTime`] at once.
struct Budgeted {
    inner: Arc<dyn Resolver>,
    deadline: Instant,
    /// The failure's detail.
    why: String,
}

#[async_trait]
impl Resolver for Budgeted {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        let out_of_time = || DnsAnswer {
            name: authwarden_api::dns::normalize_name(name),
            rtype,
            cname_chain: Vec::new(),
            outcome: DnsOutcome::Failed(DnsFailure::OutOfTime(self.why.clone())),
        };
        if Instant::now() >= self.deadline {
            return out_of_time();
        }
        tokio::time::timeout_at(self.deadline, self.inner.query(name, rtype))
            .await
            .unwrap_or_else(|_| out_of_time())
    }

    fn queries_sent(&self) -> u64 {
        self.inner.queries_sent()
    }
}

fn crashed(checker: &str, domain: &str, why: String) -> Finding {
    Finding::new(
        ENGINE_ID,
        &ENGINE_CHECK_CRASHED,
        domain,
        format!("checker `{checker}` failed on this domain: {why}"),
    )
    .subject(checker)
    .help(format!(
        "the {checker} results for {domain} are missing from this run; run `authwarden check {domain}` again and report the error if it persists"
    ))
    .evidence("checker", checker)
    .evidence("error", why)
}

fn panic_message(join: tokio::task::JoinError) -> String {
    if join.is_cancelled() {
        return "cancelled".into();
    }
    match join.try_into_panic() {
        Ok(payload) => {
            if let Some(s) = payload.downcast_ref::<&str>() {
                format!("panicked: {s}")
            } else if let Some(s) = payload.downcast_ref::<String>() {
                format!("panicked: {s}")
            } else {
                "panicked".into()
            }
        }
        Err(_) => "failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::{Cadence, CheckOutput, CheckerInfo, SystemClock};

    mod codes {
        use authwarden_api::{declare_codes, Severity};
        declare_codes! {
            /// Test code.
            ///
            /// ## What it checks
            /// x
            /// ## Why it matters
            /// x
            /// ## How to fix
            /// x
            pub T1 = ("TST001", "test-one", Severity::Warning);
            /// Test code.
            ///
            /// ## What it checks
            /// x
            /// ## Why it matters
            /// x
            /// ## How to fix
            /// x
            pub T2 = ("TST002", "test-check-incomplete", Severity::Warning);
        }
    }

    /// Answers every query after ten seconds (of Tokio's clock), counting
    /// the queries it receives.
    #[derive(Default)]
    struct SlowDns {
        asked: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl Resolver for SlowDns {
        async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
            self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(10)).await;
            DnsAnswer {
                name: name.into(),
                rtype,
                cname_chain: vec![],
                outcome: DnsOutcome::Failed(DnsFailure::Timeout),
            }
        }
    }

    /// Looks up 100 names one after another (20 minutes against
    /// [`SlowDns`]) and reports each failure as "check incomplete".
    struct Sequential;

    static SEQUENTIAL: CheckerInfo = CheckerInfo {
        id: "sequential",
        summary: "sequential",
        cadences: &[Cadence::Monthly],
        codes: codes::CODES,
        facts_key: "sequential",
    };

    #[async_trait]
    impl Checker for Sequential {
        fn info(&self) -> &CheckerInfo {
            &SEQUENTIAL
        }
        async fn check(&self, ctx: &CheckContext, d: &DomainTarget) -> CheckOutput {
            let mut findings = Vec::new();
            for i in 0..100 {
                let name = format!("n{i}.{}", d.name);
                let answer = ctx.resolver.query(&name, RecordType::TXT).await;
                if let Some(f) = answer.failure() {
                    findings.push(
                        Finding::new("sequential", &codes::T2, &d.name, format!("{f}"))
                            .subject(name),
                    );
                }
            }
            CheckOutput {
                findings,
                facts: None,
                ..Default::default()
            }
        }
    }

    struct NoDns;
    #[async_trait]
    impl Resolver for NoDns {
        async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
            DnsAnswer {
                name: name.into(),
                rtype,
                cname_chain: vec![],
                outcome: DnsOutcome::NxDomain,
            }
        }
    }

    struct Fake {
        info: CheckerInfo,
    }
    #[async_trait]
    impl Checker for Fake {
        fn info(&self) -> &CheckerInfo {
            &self.info
        }
        async fn check(&self, _ctx: &CheckContext, d: &DomainTarget) -> CheckOutput {
            if d.name == "bad.example" {
                panic!("boom on {}", d.name);
            }
            if d.name == "slow.example" {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
            CheckOutput {
                findings: vec![Finding::new(self.info.id, &codes::T1, &d.name, "something")],
                facts: Some(serde_json::json!({"seen": d.name})),
                ..Default::default()
            }
        }
    }

    fn engine() -> Engine {
        let fake = Fake {
            info: CheckerInfo {
                id: "fake",
                summary: "fake",
                cadences: &[Cadence::Monthly],
                codes: codes::CODES,
                facts_key: "fake",
            },
        };
        Engine::new(vec![PlannedChecker {
            checker: Arc::new(fake),
            settings: Value::Object(Map::new()),
        }])
    }

    fn ctx() -> CheckContext {
        CheckContext::new(Arc::new(NoDns), Arc::new(SystemClock))
    }

    fn targets(names: &[&str]) -> Vec<DomainTarget> {
        names.iter().map(|n| DomainTarget::new(*n)).collect()
    }

    #[tokio::test]
    async fn a_panicking_checker_becomes_a_finding_and_the_run_goes_on() {
        let out = engine()
            .run(
                &ctx(),
                &targets(&["a.example", "bad.example", "c.example"]),
                &|| {},
            )
            .await;
        let codes: Vec<_> = out
            .findings
            .iter()
            .map(|f| (f.domain.as_str(), f.code.as_str()))
            .collect();
        assert_eq!(
            codes,
            vec![
                ("a.example", "TST001"),
                ("bad.example", "ENGINE001"),
                ("c.example", "TST001")
            ]
        );
        assert!(out.findings[1].message.contains("boom on bad.example"));
        assert_eq!(out.domains.len(), 3);
        assert_eq!(out.domains[0].facts["fake"]["seen"], "a.example");
        assert!(out.domains[1].facts.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_checker_times_out() {
        let out = engine()
            .timeout(std::time::Duration::from_secs(5))
            .run(&ctx(), &targets(&["slow.example", "a.example"]), &|| {})
            .await;
        assert_eq!(out.findings[0].code, "ENGINE001");
        assert!(out.findings[0].message.contains("did not finish"));
        assert_eq!(out.findings[1].code, "TST001");
    }

    /// A checker whose DNS is slow gets failures once its DNS budget ran
    /// out and reports them itself, in time: no ENGINE001.
    #[tokio::test(start_paused = true)]
    async fn out_of_dns_budget_the_checker_reports_itself_incomplete() {
        let dns = Arc::new(SlowDns::default());
        let engine = Engine::new(vec![PlannedChecker {
            checker: Arc::new(Sequential),
            settings: Value::Object(Map::new()),
        }]);
        let ctx = CheckContext::new(dns.clone(), Arc::new(SystemClock));
        let out = engine.run(&ctx, &targets(&["a.example"]), &|| {}).await;
        assert!(
            out.findings.iter().all(|f| f.code == "TST002"),
            "{:#?}",
            out.findings
        );
        assert_eq!(out.findings.len(), 100);
        // 90 s of budget at 10 s a query: the rest were not asked.
        let asked = dns.asked.load(std::sync::atomic::Ordering::SeqCst);
        assert!((9..=10).contains(&asked), "{asked} queries asked");
        let out_of_time = out
            .findings
            .iter()
            .filter(|f| {
                f.message
                    .starts_with("out of time: the sequential check's DNS budget")
            })
            .count();
        assert_eq!(out_of_time, 100 - 9, "{:#?}", out.findings);
        assert_eq!(
            out.incomplete_checks(),
            BTreeSet::from([("a.example", "sequential")])
        );
    }

    /// With the budget set to the limit, the same checker is abandoned.
    #[tokio::test(start_paused = true)]
    async fn without_a_dns_budget_the_slow_checker_crashes() {
        let engine = Engine::new(vec![PlannedChecker {
            checker: Arc::new(Sequential),
            settings: Value::Object(Map::new()),
        }])
        .dns_budget(Duration::from_secs(3600));
        let ctx = CheckContext::new(Arc::new(SlowDns::default()), Arc::new(SystemClock));
        let out = engine.run(&ctx, &targets(&["a.example"]), &|| {}).await;
        assert_eq!(out.findings.len(), 1);
        assert_eq!(out.findings[0].code, "ENGINE001");
        assert_eq!(
            out.incomplete_checks(),
            BTreeSet::from([("a.example", "sequential")])
        );
    }

    #[tokio::test]
    async fn incomplete_checks_pair_domains_with_checkers() {
        let out = engine()
            .run(
                &ctx(),
                &targets(&["a.example", "bad.example", "c.example"]),
                &|| {},
            )
            .await;
        // The crashed check is the fake checker's, not the engine's.
        assert_eq!(
            out.incomplete_checks(),
            BTreeSet::from([("bad.example", "fake")])
        );
        let mut out = out;
        out.findings
            .push(Finding::new("spf", &codes::T2, "c.example", "x"));
        out.findings
            .push(Finding::new("spf", &codes::T2, "c.example", "y"));
        out.findings
            .push(Finding::new("spf", &codes::T1, "a.example", "z"));
        assert_eq!(
            out.incomplete_checks(),
            BTreeSet::from([("bad.example", "fake"), ("c.example", "spf")])
        );
        assert_eq!(out.incomplete_checks().len(), 2);
    }

    #[tokio::test]
    async fn levels_change_or_drop_findings() {
        let mut levels = BTreeMap::new();
        levels.insert("TST001".to_string(), Level::Deny);
        let out = engine()
            .levels(levels.clone())
            .run(&ctx(), &targets(&["a.example"]), &|| {})
            .await;
        assert_eq!(out.findings[0].severity, Severity::Error);
        assert!(out.has_errors());
        levels.insert("TST001".to_string(), Level::Allow);
        let out = engine()
            .levels(levels)
            .run(&ctx(), &targets(&["a.example"]), &|| {})
            .await;
        assert!(out.findings.is_empty());
        assert_eq!(out.counts(), SeverityCounts::default());
    }
}
