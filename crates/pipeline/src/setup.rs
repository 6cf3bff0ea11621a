//! From a loaded config to a ready run: what the config crate must know of
//! the registry, the resolver, the domains and checkers to run, and the run
//! context that `check` and every job build the same way.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use authwarden_api::{domain, Cadence, CheckContext, Clock, DomainTarget, Resolver};
use authwarden_config::{Config, Known, KnownChecker, PasswordSource};
use authwarden_engine::PlannedChecker;
use authwarden_registry::Registry;

/// What the config crate needs to know about checkers and codes.
pub fn known(registry: &Registry) -> Known {
    let known = Known {
        checkers: registry
            .checkers()
            .iter()
            .map(|c| KnownChecker {
                id: c.info().id.to_string(),
                cadences: c.info().cadences.to_vec(),
            })
            .collect(),
        codes: registry
            .all_codes()
            .iter()
            .map(|(_, c)| (c.code.to_string(), c.name.to_string()))
            .collect(),
        settings: registry
            .checkers()
            .iter()
            .filter_map(|c| Some((c.info().id.to_string(), c.settings_spec()?)))
            .collect(),
    };
    known
}

/// Builds the run's resolver (cache, zone-file overlay, network).
pub fn resolver(config: &Config) -> anyhow::Result<Arc<dyn Resolver>> {
    let settings = authwarden_dns::DnsSettings {
        nameservers: config.dns.nameservers.clone(),
        timeout: config.dns.timeout,
        retries: config.dns.retries,
        zone_files: config.dns.zone_files.clone(),
    };
    authwarden_dns::build_resolver(&settings).context("cannot set up DNS")
}

/// What a run of the checkers is for: an ad-hoc `check` or a scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `authwarden check`: checkers keep state (DKIM key first-seen dates,
    /// drift state) only for a configured installation, so an ad-hoc
    /// `check example.org` writes nothing.
    Check,
    /// A monthly, quarterly or annual job.
    Job(Cadence),
}

/// The run context of `check` and of every job, built in this one place:
/// the resolver, the clock, the job, where checkers keep their state, and
/// the services over the history that checkers read.
pub fn run_context(
    config: &Config,
    resolver: Arc<dyn Resolver>,
    clock: Arc<dyn Clock>,
    kind: RunKind,
) -> CheckContext {
    let store = authwarden_history::HistoryStore::new(&config.history_dir);
    run_context_with_store(config, resolver, clock, kind, &store)
}

/// [`run_context`] over the run's own history store, so that the damaged
/// files the checkers' reads meet are in the store's `damaged()` list that
/// the report shows.
pub fn run_context_with_store(
    config: &Config,
    resolver: Arc<dyn Resolver>,
    clock: Arc<dyn Clock>,
    kind: RunKind,
    store: &authwarden_history::HistoryStore,
) -> CheckContext {
    let mut ctx = CheckContext::new(resolver.clone(), clock);
    if let Some(fetcher) = https_fetcher(config, resolver) {
        ctx.extensions
            .insert(Arc::new(authwarden_api::https::HttpsFetcherExt(fetcher)));
    }
    if let Some(probe) = starttls_probe(config) {
        ctx.extensions
            .insert(Arc::new(authwarden_api::starttls::StarttlsProbeExt(probe)));
    }
    // A job reads and writes the checkers' state; an ad-hoc check with a
    // config reads it only, so that it never consumes what the next job
    // must still report (e.g. an authorization gone since the last job).
    let paths = match kind {
        RunKind::Check if config.source.is_some() => Some(authwarden_api::RunPaths::read_only(
            config.history_dir.clone(),
        )),
        RunKind::Check => None,
        RunKind::Job(job) => {
            ctx.job = Some(job);
            Some(authwarden_api::RunPaths::new(config.history_dir.clone()))
        }
    };
    if let Some(paths) = paths {
        ctx.extensions.insert(Arc::new(paths));
    }
    crate::report_rows::insert_store(&mut ctx.extensions, store);
    ctx
}

/// The HTTPS fetcher of the run (`[https]`): the folder of answers of an
/// offline run, else the network through the run's resolver. `None` only
/// when the CA bundle, checked when the config was loaded, cannot be read
/// any more: the checkers then report their fetches as incomplete.
fn https_fetcher(
    config: &Config,
    resolver: Arc<dyn Resolver>,
) -> Option<Arc<dyn authwarden_api::https::HttpsFetcher>> {
    if let Some(dir) = &config.https.responses_dir {
        return Some(Arc::new(authwarden_https::DirFetcher::new(dir)));
    }
    let ca = match &config.https.ca_bundle {
        Some(path) => match std::fs::read(path) {
            Ok(pem) => Some(pem),
            Err(e) => {
                tracing::warn!("cannot read the CA bundle {}: {e}", path.display());
                return None;
            }
        },
        None => None,
    };
    match authwarden_https::HttpsClient::new(resolver, ca.as_deref(), config.https.timeout) {
        Ok(client) => Some(Arc::new(client)),
        Err(e) => {
            tracing::warn!("cannot set up HTTPS: {e}");
            None
        }
    }
}

/// The STARTTLS probe a checker may use when its config asks for it (it is
/// the one check that opens outbound SMTP connections): the `[https]` CA
/// bundle and timeout, `EHLO` with this machine's host name.
fn starttls_probe(config: &Config) -> Option<Arc<dyn authwarden_api::starttls::StarttlsProbe>> {
    let ca = config
        .https
        .ca_bundle
        .as_ref()
        .and_then(|p| std::fs::read(p).ok());
    let helo = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        })
        .unwrap_or_else(|| "localhost".into());
    let client =
        authwarden_https::StarttlsClient::new(ca.as_deref(), config.https.timeout, &helo).ok()?;
    Some(Arc::new(client))
}

/// Adds `--selector` names to each target's `dkim.selectors` setting,
/// after those of the config, without duplicates.
pub fn with_selectors(mut targets: Vec<DomainTarget>, selectors: &[String]) -> Vec<DomainTarget> {
    if selectors.is_empty() {
        return targets;
    }
    for target in &mut targets {
        if !target.settings.is_object() {
            target.settings = serde_json::Value::Object(Default::default());
        }
        let dkim = target
            .settings
            .as_object_mut()
            .unwrap()
            .entry("dkim")
            .or_insert_with(|| serde_json::json!({}));
        if !dkim.is_object() {
            *dkim = serde_json::json!({});
        }
        let list = dkim
            .as_object_mut()
            .unwrap()
            .entry("selectors")
            .or_insert_with(|| serde_json::json!([]));
        if !list.is_array() {
            *list = serde_json::json!([]);
        }
        let list = list.as_array_mut().unwrap();
        for s in selectors {
            let s = serde_json::Value::String(s.trim().to_ascii_lowercase());
            if !list.contains(&s) {
                list.push(s);
            }
        }
    }
    targets
}

/// The targets: the given domains (with their config settings when the
/// config lists them too) or, when none are given, every domain of the
/// config.
pub fn targets(config: &Config, domains: &[String]) -> anyhow::Result<Vec<DomainTarget>> {
    let mut targets = Vec::new();
    if domains.is_empty() {
        for d in &config.domains {
            targets.push(DomainTarget {
                name: d.name.clone(),
                settings: d.settings.clone(),
            });
        }
        if targets.is_empty() {
            bail!("no domains to check: give domains on the command line or list them in the config file under [[domains]]");
        }
        return Ok(targets);
    }
    let mut seen = BTreeSet::new();
    for raw in domains {
        let name = domain::normalize_name(raw);
        if let Err(e) = domain::validate_domain(&name) {
            bail!("invalid domain `{raw}`: {e}");
        }
        if !seen.insert(name.clone()) {
            continue;
        }
        let settings = config
            .domains
            .iter()
            .find(|d| d.name == name)
            .map(|d| d.settings.clone())
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        targets.push(DomainTarget { name, settings });
    }
    Ok(targets)
}

/// The checkers to run: enabled in config, optionally narrowed to `only`.
pub fn planned(
    registry: &Registry,
    config: &Config,
    only: &[String],
) -> anyhow::Result<Vec<PlannedChecker>> {
    for id in only {
        if registry.checker(id).is_none() {
            let ids: Vec<&str> = registry.checkers().iter().map(|c| c.info().id).collect();
            bail!("unknown checker `{id}`; known checkers: {}", ids.join(", "));
        }
    }
    Ok(registry
        .checkers()
        .iter()
        .filter(|c| {
            let id = c.info().id;
            if only.is_empty() {
                config.checker_enabled(id)
            } else {
                only.iter().any(|o| o == id)
            }
        })
        .map(|c| PlannedChecker {
            checker: c.clone(),
            settings: config.checker_settings(c.info().id),
        })
        .collect())
}

/// `check --probe-catalog`: the DKIM checker probes its whole selector
/// catalog at every domain, as the quarterly job does
/// (`[checkers.dkim] probe_catalog = true` for this run).
pub fn probe_catalog(planned: &mut [PlannedChecker]) {
    for p in planned.iter_mut().filter(|p| p.checker.info().id == "dkim") {
        if !p.settings.is_object() {
            p.settings = serde_json::json!({});
        }
        if let Some(map) = p.settings.as_object_mut() {
            map.insert("probe_catalog".into(), serde_json::Value::Bool(true));
        }
    }
}

/// The checkers of a job: those the config runs in it.
pub fn job_planned(registry: &Registry, config: &Config, job: Cadence) -> Vec<PlannedChecker> {
    let ids = config.job_checkers(job, &known(registry));
    registry
        .checkers()
        .iter()
        .filter(|c| ids.iter().any(|id| id == c.info().id))
        .map(|c| PlannedChecker {
            checker: c.clone(),
            settings: config.checker_settings(c.info().id),
        })
        .collect()
}

/// A secret from where the config says it is (`section` names the config
/// section in errors): an environment variable or a file (one trailing
/// line break dropped). `None` when the config names none.
pub fn read_password(source: &PasswordSource, section: &str) -> anyhow::Result<Option<String>> {
    Ok(match source {
        PasswordSource::None => None,
        PasswordSource::Env(var) => Some(std::env::var(var).map_err(|_| {
            anyhow!("[{section}] password_env names `{var}`, which is not set in the environment")
        })?),
        PasswordSource::File(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| {
                    format!("cannot read [{section}] password_file {}", path.display())
                })?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ),
    })
}

/// The PEM bytes of a `ca_file`, when the config names one.
pub fn read_ca(path: Option<&Path>, section: &str) -> anyhow::Result<Option<Vec<u8>>> {
    path.map(|ca| {
        std::fs::read(ca)
            .with_context(|| format!("cannot read [{section}] ca_file {}", ca.display()))
    })
    .transpose()
}

#[cfg(test)]
mod selector_tests {
    use super::*;

    #[test]
    fn selectors_merge_into_the_dkim_settings() {
        let mut from_config = DomainTarget::new("example.org");
        from_config.settings = serde_json::json!({"dkim": {"selectors": ["corp"]}, "spf": {}});
        let targets = vec![from_config, DomainTarget::new("example.net")];
        let out = with_selectors(targets, &["S1".into(), "corp".into()]);
        assert_eq!(
            out[0].settings,
            serde_json::json!({"dkim": {"selectors": ["corp", "s1"]}, "spf": {}})
        );
        assert_eq!(
            out[1].settings,
            serde_json::json!({"dkim": {"selectors": ["s1", "corp"]}})
        );
    }
}
