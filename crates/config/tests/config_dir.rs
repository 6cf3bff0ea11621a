//! Every configuration file shipped in the workspace's `config/` directory
//! validates against the checkers and codes of a default build (the same
//! knowledge the CLI passes).

use std::path::Path;

use authwarden_config::Known;
use authwarden_registry::Registry;

fn real_known() -> Known {
    let registry = Registry::builtin();
    let mut known = Known::from_infos(registry.checkers().iter().map(|c| c.info()));
    known.settings = registry
        .checkers()
        .iter()
        .filter_map(|c| Some((c.info().id.to_string(), c.settings_spec()?)))
        .collect();
    known.codes.extend(
        authwarden_engine::CODES
            .iter()
            .map(|c| (c.code.to_string(), c.name.to_string())),
    );
    known
}

#[test]
fn every_file_in_config_dir_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        // No config/ directory in this checkout: nothing to validate.
        return;
    };
    let known = real_known();
    let mut failures = Vec::new();
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            if let Err(errors) = authwarden_config::load(&path, &known) {
                failures.push(errors.to_string());
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The TOML examples of CONFIG.md are valid against the real checkers and
/// codes, so the reference never shows a key or id that does not exist.
#[test]
fn examples_in_config_md_are_valid() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("CONFIG.md")).unwrap();
    let known = real_known();
    let mut blocks = 0;
    for block in doc.split("```toml\n").skip(1) {
        let text = &block[..block.find("```").unwrap()];
        authwarden_config::parse(text, Path::new("CONFIG.md"), &known)
            .unwrap_or_else(|e| panic!("example in CONFIG.md is invalid:\n{text}\n{e}"));
        blocks += 1;
    }
    assert!(blocks >= 3, "found {blocks} examples");
}
