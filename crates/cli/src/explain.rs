//! `authwarden explain CODE` and `authwarden checkers`.

use authwarden_api::{CheckerInfo, CodeInfo};
use authwarden_registry::Registry;
use serde_json::json;

use crate::{Format, EXIT_OK, EXIT_USAGE};

fn all_codes(registry: &Registry) -> Vec<(String, &CodeInfo)> {
    registry
        .all_codes()
        .into_iter()
        .map(|(owner, code)| (owner.to_string(), code))
        .collect()
}

/// Prints the docs of one code.
pub fn explain(registry: &Registry, wanted: &str, format: Format) -> anyhow::Result<u8> {
    let codes = all_codes(registry);
    let wanted_t = wanted.trim();
    let Some((checker, code)) = codes.iter().find(|(_, c)| {
        c.code.eq_ignore_ascii_case(wanted_t) || c.name.eq_ignore_ascii_case(wanted_t)
    }) else {
        eprintln!("error: unknown code `{wanted}`");
        let names = codes.iter().flat_map(|(_, c)| [c.code, c.name]);
        if let Some(name) = authwarden_api::names::did_you_mean(wanted_t, names) {
            eprintln!("  help: did you mean `{name}`?");
        }
        eprintln!("  help: `authwarden checkers` lists every code");
        return Ok(EXIT_USAGE);
    };
    let docs = code.parsed_docs();
    match format {
        Format::Json => {
            let v = json!({
                "code": code.code,
                "name": code.name,
                "checker": checker,
                "default_severity": code.default_severity,
                "summary": docs.summary,
                "what_it_checks": docs.what,
                "why_it_matters": docs.why,
                "how_to_fix": docs.fix,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            println!("{} {} ({})", code.code, code.name, code.default_severity);
            println!("checker: {checker}");
            println!();
            println!("{}", docs.summary);
            for (title, text) in [
                ("What it checks", &docs.what),
                ("Why it matters", &docs.why),
                ("How to fix", &docs.fix),
            ] {
                println!();
                println!("{title}");
                for line in text.lines() {
                    println!("  {line}");
                }
            }
        }
    }
    Ok(EXIT_OK)
}

/// Lists checkers and their codes.
pub fn list_checkers(registry: &Registry, format: Format) -> anyhow::Result<u8> {
    let infos: Vec<&CheckerInfo> = registry.checkers().iter().map(|c| c.info()).collect();
    match format {
        Format::Json => {
            let v: Vec<_> = infos
                .iter()
                .map(|i| {
                    json!({
                        "id": i.id,
                        "summary": i.summary,
                        "cadences": i.cadences,
                        "codes": i.codes.iter().map(|c| json!({
                            "code": c.code,
                            "name": c.name,
                            "default_severity": c.default_severity,
                            "summary": one_line(&c.summary()),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        _ => {
            for info in infos {
                let cadences: Vec<&str> = info.cadences.iter().map(|c| c.as_str()).collect();
                println!("{} — {} [{}]", info.id, info.summary, cadences.join(", "));
                for c in info.codes {
                    println!(
                        "  {:<9} {:<8} {:<40} {}",
                        c.code,
                        c.default_severity.as_str(),
                        c.name,
                        one_line(&c.summary())
                    );
                }
                println!();
            }
            println!("reported by authwarden itself, whatever the checkers:");
            for (owner, c) in authwarden_registry::host_codes() {
                println!(
                    "  {:<9} {:<8} {:<40} {} ({owner})",
                    c.code,
                    c.default_severity.as_str(),
                    c.name,
                    one_line(&c.summary())
                );
            }
        }
    }
    Ok(EXIT_OK)
}

/// A code's summary on one line (its first paragraph may wrap).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
