//! The checker trait and the context a checker runs in.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Clock, CodeInfo, Finding, Resolver};

/// How often a job runs. Each checker declares the jobs it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cadence {
    /// The monthly maintenance run.
    Monthly,
    /// The quarterly review.
    Quarterly,
    /// The annual audit.
    Annual,
}

impl Cadence {
    /// All cadences, shortest first.
    pub const ALL: [Cadence; 3] = [Cadence::Monthly, Cadence::Quarterly, Cadence::Annual];

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cadence::Monthly => "monthly",
            Cadence::Quarterly => "quarterly",
            Cadence::Annual => "annual",
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cadence {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "monthly" => Ok(Cadence::Monthly),
            "quarterly" => Ok(Cadence::Quarterly),
            "annual" => Ok(Cadence::Annual),
            other => Err(format!(
                "unknown job `{other}`, expected monthly, quarterly or annual"
            )),
        }
    }
}

/// What a checker is: its id, what it does, when it runs and which codes it emits.
#[derive(Debug, Clone)]
pub struct CheckerInfo {
    /// Kebab-case id, e.g. `dmarc-policy`; also its config section `[checkers.<id>]`.
    pub id: &'static str,
    /// One line saying what it checks.
    pub summary: &'static str,
    /// The jobs it runs in unless config says otherwise.
    pub cadences: &'static [Cadence],
    /// Every code it may emit.
    pub codes: &'static [CodeInfo],
    /// The key under which its facts appear in a domain's JSON object, e.g. `dmarc`.
    pub facts_key: &'static str,
}

/// One domain to check, with its per-domain settings from config.
#[derive(Debug, Clone, Default)]
pub struct DomainTarget {
    /// The domain, lower-case without trailing dot.
    pub name: String,
    /// The domain's settings table from config (`[[domains]]` entry) as JSON;
    /// checkers read the keys they own and ignore the rest.
    pub settings: Value,
}

impl DomainTarget {
    /// A target with no settings.
    pub fn new(name: impl Into<String>) -> Self {
        DomainTarget {
            name: crate::dns::normalize_name(&name.into()),
            settings: Value::Object(Default::default()),
        }
    }
}

/// A type map for services added by later layers (history, report store),
/// so that the context grows without breaking checker crates.
#[derive(Clone, Default)]
pub struct Extensions {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl Extensions {
    /// Adds (or replaces) a service.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: Arc<T>) {
        self.map.insert(TypeId::of::<T>(), value);
    }

    /// Gets a service by type.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|v| v.clone().downcast::<T>().ok())
    }
}

impl fmt::Debug for Extensions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Extensions({} entries)", self.map.len())
    }
}

/// Where the run keeps its files; present in [`CheckContext::extensions`]
/// whenever the run has a config (always for jobs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPaths {
    /// The history folder (`reports/data` by default). A checker that keeps
    /// state across runs (e.g. DKIM key first-seen dates) keeps it in a
    /// sub-folder named after its id.
    pub data_dir: std::path::PathBuf,
}

/// Everything a checker may use from the outside world.
#[derive(Clone)]
pub struct CheckContext {
    /// The DNS resolver (cached per run, possibly with a zone-file overlay).
    pub resolver: Arc<dyn Resolver>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// This checker's config section `[checkers.<id>]` as JSON (an empty object when absent).
    pub config: Value,
    /// The job being run, or `None` for an ad-hoc `authwarden check`.
    pub job: Option<Cadence>,
    /// Further services (history store, report store, ...).
    pub extensions: Extensions,
}

impl CheckContext {
    /// A context with an empty config and no job.
    pub fn new(resolver: Arc<dyn Resolver>, clock: Arc<dyn Clock>) -> Self {
        CheckContext {
            resolver,
            clock,
            config: Value::Object(Default::default()),
            job: None,
            extensions: Extensions::default(),
        }
    }

    /// The same context with another config section.
    pub fn with_config(&self, config: Value) -> Self {
        let mut c = self.clone();
        c.config = config;
        c
    }
}

/// What a checker returns for one domain.
#[derive(Debug, Clone, Default)]
pub struct CheckOutput {
    /// The findings (with default severities; the host applies user levels).
    pub findings: Vec<Finding>,
    /// Facts about the domain (e.g. the DMARC policy), shown under
    /// [`CheckerInfo::facts_key`] in the domain's JSON object.
    pub facts: Option<Value>,
}

/// A checker. Implementations live in their own crates and are listed in
/// the registry.
#[async_trait]
pub trait Checker: Send + Sync {
    /// What this checker is.
    fn info(&self) -> &CheckerInfo;

    /// Checks one domain. Failures of the outside world (DNS timeouts, ...)
    /// are findings, never panics.
    async fn check(&self, ctx: &CheckContext, domain: &DomainTarget) -> CheckOutput;
}
