//! `authwarden plan`: the checks of `check`, then every domain's proposals
//! merged into one change per DNS name and verified by running the checks
//! again with the changes applied (docs/PLAN.md). Nothing is written: the
//! checkers' state is read only, as for `check`.

use std::io::Write;
use std::sync::Arc;

use authwarden_api::text::{display_value, NAME_MAX_CHARS, TEXT_MAX_CHARS};
use authwarden_api::SystemClock;
use authwarden_engine::Engine;
use authwarden_registry::Registry;
use authwarden_report::PlanSection;
use clap::Args;

use crate::{setup, Format, GlobalArgs, EXIT_INCOMPLETE, EXIT_OK};

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Domains to plan [default: the domains of the config file]
    pub domains: Vec<String>,
}

/// Runs `plan`.
pub async fn run(global: &GlobalArgs, args: &PlanArgs, registry: &Registry) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let targets = authwarden_pipeline::setup::targets(&config, &args.domains)?;
    let resolver = setup::resolver(&config)?;
    let planned = authwarden_pipeline::setup::planned(registry, &config, &[])?;
    let engine = Engine::new(planned).levels(config.levels.clone());
    let ctx = authwarden_pipeline::run_context(
        &config,
        resolver.clone(),
        Arc::new(SystemClock),
        authwarden_pipeline::RunKind::Check,
    );
    let outcome = engine.run(&ctx, &targets, &|| {}).await;
    let plans = authwarden_pipeline::plan::plan_and_verify(&engine, &ctx, &targets, &outcome).await;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match global.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &plans)?;
            writeln!(out)?;
        }
        Format::Zone => {
            out.write_all(authwarden_pipeline::plan::zone_fragment(&plans).as_bytes())?
        }
        Format::Text => {
            let sections: Vec<PlanSection> = plans.iter().filter_map(PlanSection::of).collect();
            if sections.is_empty() {
                writeln!(out, "nothing to change: no checker proposes a change")?;
            }
            for s in &sections {
                print_section(&mut out, s)?;
            }
        }
        Format::Csv | Format::Parquet => {
            anyhow::bail!("`plan` prints text, json or zone (--format text|json|zone)")
        }
    }
    out.flush()?;
    Ok(
        if authwarden_pipeline::job::incomplete_checks(&outcome) > 0 {
            EXIT_INCOMPLETE
        } else {
            EXIT_OK
        },
    )
}

fn safe(s: &str) -> String {
    display_value(s, TEXT_MAX_CHARS).into_owned()
}

/// One domain's plan as text.
fn print_section(out: &mut impl Write, s: &PlanSection) -> std::io::Result<()> {
    writeln!(out, "{}", display_value(&s.domain, NAME_MAX_CHARS))?;
    for (i, step) in s.steps.iter().enumerate() {
        writeln!(out, "  {}. {}", i + 1, safe(&step.title))?;
        for r in &step.publish {
            writeln!(out, "       + {}", safe(r))?;
        }
        for r in &step.delete {
            writeln!(out, "       - {}", safe(r))?;
        }
        if !step.why.is_empty() {
            writeln!(out, "     why: {}", safe(&step.why))?;
        }
        if !step.resolves.is_empty() {
            writeln!(out, "     resolves: {}", safe(&step.resolves))?;
        }
    }
    for h in &s.held {
        writeln!(out, "  left out: {}", safe(h))?;
    }
    writeln!(out, "  {}", safe(&s.check))?;
    if !s.remaining.is_empty() {
        writeln!(
            out,
            "  still open after these steps: {}",
            safe(&s.remaining.join(", "))
        )?;
    }
    if !s.introduced.is_empty() {
        writeln!(
            out,
            "  new once these changes are made: {}",
            safe(&s.introduced.join(", "))
        )?;
    }
    writeln!(out)
}
