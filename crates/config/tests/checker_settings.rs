//! `[checkers.<id>]` and `[domains.<id>]` settings are checked against the
//! checkers' own settings specs, in the same pass and error list as every
//! other key: the built-in checkers of a default build.

use std::path::Path;

use authwarden_config::{Config, ConfigErrors, Known};
use authwarden_registry::Registry;

fn known() -> Known {
    let registry = Registry::builtin();
    let mut known = Known::from_infos(registry.checkers().iter().map(|c| c.info()));
    known.settings = registry
        .checkers()
        .iter()
        .filter_map(|c| Some((c.info().id.to_string(), c.settings_spec()?)))
        .collect();
    known
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    authwarden_config::parse(text, Path::new("config/t.toml"), &known())
}

fn errors(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_dkim_checker_declares_its_settings() {
    assert!(known().settings_spec("dkim").is_some());
    assert!(known().settings_spec("parked-domain").is_some());
}

#[test]
fn a_typo_in_checkers_dkim_has_its_position_and_a_suggestion() {
    let text = "[checkers.dkim]\nrotaton_days = 90\nbudgte = \"30s\"\n";
    let e = errors(text);
    assert!(
        e.contains("config/t.toml:2:1: error: unknown key `rotaton_days` in `[checkers.dkim]`"),
        "{e}"
    );
    assert!(e.contains("help: did you mean `rotation_days`?"), "{e}");
    assert!(
        e.contains("config/t.toml:3:1: error: unknown key `budgte` in `[checkers.dkim]`"),
        "{e}"
    );
    assert!(e.contains("help: did you mean `budget`?"), "{e}");
}

#[test]
fn checker_settings_errors_join_the_other_errors() {
    let text = "[dns]\nnameserver = []\n\n[checkers.dkim]\nbudgte = \"30s\"\n";
    let e = parse(text).unwrap_err();
    assert_eq!(e.len(), 2, "{e}");
}

#[test]
fn wrong_types_and_ranges_point_at_the_value() {
    let text = "[checkers.dkim]\nrotation_days = 0\nprobe_concurrency = 65\nbudget = \"30 seconds\"\nprobe_catalog = \"yes\"\ncatalog = [\"s1\", { name = \"x\", provder = \"y\" }, 3]\n";
    let e = errors(text);
    for want in [
        "config/t.toml:2:17: error: `checkers.dkim.rotation_days` must be from 1 to 4294967295, found 0",
        "config/t.toml:3:21: error: `checkers.dkim.probe_concurrency` must be from 1 to 64, found 65",
        "config/t.toml:4:10: error: invalid duration for `checkers.dkim.budget`",
        "config/t.toml:5:17: error: expected a boolean for `checkers.dkim.probe_catalog`, found a string",
        "error: unknown key `provder` in `checkers.dkim.catalog[1]`",
        "help: did you mean `provider`?",
        "error: expected a string or a table for `checkers.dkim.catalog[2]`, found an integer",
    ] {
        assert!(e.contains(want), "missing {want:?} in:\n{e}");
    }
}

#[test]
fn domain_tables_of_a_checker_are_checked_too() {
    let text = "[[domains]]\nname = \"example.org\"\n\n[domains.dkim]\nselector = [\"s1\"]\n\n[domains.parked-domain]\nparked = 1\n";
    let e = errors(text);
    assert!(
        e.contains("config/t.toml:5:1: error: unknown key `selector` in `[domains.dkim]`"),
        "{e}"
    );
    assert!(e.contains("help: did you mean `selectors`?"), "{e}");
    assert!(
        e.contains("config/t.toml:8:10: error: expected a boolean for `domains[0].parked-domain.parked`, found an integer"),
        "{e}"
    );
}

#[test]
fn valid_checker_settings_pass_and_reach_the_checker() {
    let text = r#"
[[domains]]
name = "example.org"
dkim = { selectors = ["s1", "s2"] }
parked-domain = { parked = false }

[checkers.dkim]
jobs = ["quarterly"]
probe_catalog = true
catalog = ["s1", { name = "corp", provider = "our mta", domains = ["example.net"] }]
rotation_days = 180
budget = "500ms"
probe_concurrency = 4

[checkers.parked-domain]
domains = ["old.example"]
"#;
    let config = match parse(text) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    };
    let dkim = config.checker_settings("dkim");
    assert_eq!(dkim["rotation_days"], 180);
    assert_eq!(dkim["budget"], "500ms");
    assert_eq!(config.domains[0].settings["dkim"]["selectors"][1], "s2");
    assert_eq!(dkim["probe_concurrency"], 4);
}

#[test]
fn checkers_without_settings_refuse_every_other_key() {
    let text = "[checkers.spf]\njobs = [\"monthly\"]\nlimit = 10\n\n[[domains]]\nname = \"example.org\"\nspf = { strict = true }\n";
    let e = errors(text);
    assert!(
        e.contains("config/t.toml:3:1: error: unknown key `limit` in `[checkers.spf]`"),
        "{e}"
    );
    assert!(
        e.contains("error: unknown key `strict` in `[domains.spf]`"),
        "{e}"
    );
    assert!(e.contains("help: this table takes no settings"), "{e}");
}

/// Every key a built-in checker declares has a row in CONFIG.md, so the
/// reference cannot fall behind the checkers.
#[test]
fn config_md_documents_every_declared_key() {
    let doc = include_str!("../CONFIG.md");
    for (id, spec) in &known().settings {
        if spec.checker.is_empty() && spec.domain.is_empty() {
            continue;
        }
        let section = format!("### `[checkers.{id}]`");
        let start = doc
            .find(&section)
            .unwrap_or_else(|| panic!("CONFIG.md has no section {section}"));
        let body = &doc[start + section.len()..];
        let body = &body[..body.find("\n### ").unwrap_or(body.len())];
        for key in spec.checker.iter().chain(spec.domain) {
            assert!(
                body.contains(&format!("| `{}` |", key.name)),
                "CONFIG.md section {section} has no row for `{}`",
                key.name
            );
        }
    }
}
