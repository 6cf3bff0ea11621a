//! `authwarden check`: run every enabled checker on the given domains now.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use anyhow::bail;
use authwarden_api::{domain, CheckContext, DomainTarget, Severity, SystemClock};
use authwarden_config::Config;
use authwarden_engine::{Engine, PlannedChecker, RunOutcome};
use authwarden_registry::Registry;
use clap::Args;

use crate::{setup, Format, GlobalArgs, EXIT_FINDINGS, EXIT_OK};

/// Arguments of `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Domains to check [default: the domains of the config file]
    pub domains: Vec<String>,
    /// Run only these checkers (repeatable)
    #[arg(long = "checker", value_name = "ID")]
    pub checkers: Vec<String>,
    /// With --format csv|parquet: write the findings frame here instead of standard output
    #[arg(long, value_name = "PATH")]
    pub output: Option<std::path::PathBuf>,
    /// Also probe this DKIM selector at every domain (repeatable; added to
    /// `[domains.dkim] selectors`)
    #[arg(long = "selector", value_name = "NAME")]
    pub selectors: Vec<String>,
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

/// The targets: command-line domains (with their config settings when the
/// config lists them too) or every domain of the config.
pub fn targets(config: &Config, cli_domains: &[String]) -> anyhow::Result<Vec<DomainTarget>> {
    let mut targets = Vec::new();
    if cli_domains.is_empty() {
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
    for raw in cli_domains {
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

/// The checkers to run: enabled in config, optionally narrowed by `--checker`.
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

/// Runs `check`.
pub async fn run(global: &GlobalArgs, args: &CheckArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let targets = with_selectors(targets(&config, &args.domains)?, &args.selectors);
    let resolver = setup::resolver(&config)?;
    let planned = planned(registry, &config, &args.checkers)?;
    let engine = Engine::new(planned).levels(config.levels.clone());
    let mut ctx = CheckContext::new(resolver.clone(), Arc::new(SystemClock));
    // Checkers keep state (DKIM key first-seen dates, ...) only for a
    // configured installation; an ad-hoc `check example.org` writes nothing.
    if config.source.is_some() {
        ctx.extensions.insert(Arc::new(authwarden_api::RunPaths {
            data_dir: config.history_dir.clone(),
        }));
    }
    crate::report_rows::insert(&mut ctx.extensions, &config.history_dir);
    let outcome = engine.run(&ctx, &targets, &|| {}).await;
    tracing::info!(queries = resolver.queries_sent(), "DNS queries sent");
    let mut out = std::io::stdout().lock();
    match global.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &outcome)?;
            writeln!(out)?;
        }
        Format::Text => print_text(&mut out, &outcome, resolver.queries_sent())?,
        other => {
            drop(out);
            let meta = authwarden_history::RunMeta::new(None, chrono::Utc::now());
            let mut frame = authwarden_history::findings_frame(&meta, &outcome.findings)?;
            crate::jobs::export(other, &mut frame, args.output.as_ref())?;
            return Ok(if outcome.has_errors() {
                EXIT_FINDINGS
            } else {
                EXIT_OK
            });
        }
    }
    out.flush()?;
    Ok(if outcome.has_errors() {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    })
}

fn label(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error  ",
        Severity::Warning => "warning",
        Severity::Note => "note   ",
    }
}

/// Human-readable findings, grouped by domain.
pub fn print_text(out: &mut impl Write, outcome: &RunOutcome, queries: u64) -> std::io::Result<()> {
    for d in &outcome.domains {
        writeln!(out, "{}", d.domain)?;
        if let Some(dmarc) = d.facts.get("dmarc") {
            if let Some(phase) = dmarc.get("phase").and_then(|v| v.as_str()) {
                writeln!(out, "  dmarc phase: {phase}")?;
            }
        }
        if let Some(spf) = d.facts.get("spf") {
            if let Some(n) = spf.get("dns_lookups").and_then(|v| v.as_u64()) {
                let voids = spf
                    .get("void_lookups")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(0);
                writeln!(
                    out,
                    "  spf: {n}/10 DNS lookups, {voids}/2 void lookups, {}",
                    spf.get("all").and_then(|v| v.as_str()).unwrap_or("no all")
                )?;
            }
        }
        let mut findings: Vec<_> = outcome
            .findings
            .iter()
            .filter(|f| f.domain == d.domain)
            .collect();
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        // The lookup tree with per-term costs, when there is an SPF finding
        // to act on: it shows where the lookups and voids come from.
        if findings.iter().any(|f| f.checker == "spf") {
            if let Some(tree) = d
                .facts
                .get("spf")
                .and_then(|s| s.get("tree"))
                .and_then(|t| t.as_array())
                .filter(|t| !t.is_empty())
            {
                writeln!(out, "  spf lookup tree:")?;
                crate::spf::write_tree(out, tree, "    ")?;
            }
        }
        if findings.is_empty() {
            writeln!(out, "  ok: no findings")?;
        }
        for f in findings {
            writeln!(
                out,
                "  {} {} {}: {}",
                label(f.severity),
                f.code,
                f.name,
                f.message
            )?;
            if f.subject != f.domain {
                writeln!(out, "          at {}", f.subject)?;
            }
            if !f.help.is_empty() {
                writeln!(out, "          help: {}", f.help)?;
            }
        }
        writeln!(out)?;
    }
    let c = outcome.counts();
    writeln!(
        out,
        "{} domain{} checked: {} error{}, {} warning{}, {} note{} ({} DNS quer{} sent)",
        outcome.domains.len(),
        plural(outcome.domains.len()),
        c.errors,
        plural(c.errors),
        c.warnings,
        plural(c.warnings),
        c.notes,
        plural(c.notes),
        queries,
        if queries == 1 { "y" } else { "ies" }
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
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
