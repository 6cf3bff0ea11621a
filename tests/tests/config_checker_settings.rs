//! `authwarden config validate` checks the checkers' own settings: a typo in
//! `[checkers.dkim]` is reported with its position and a did-you-mean, like
//! every other key of the file.

use authwarden_e2e::{authwarden, write_config};

/// The repository's templates, so that only the settings are in question.
fn templates() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../templates")
}

#[test]
fn a_typo_in_checkers_dkim_is_reported_with_position_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[templates]\ndir = {:?}\n[[domains]]\nname = \"example.org\"\n\n[checkers.dkim]\nrotaton_days = 90\nprobe_concurrency = 100\n",
            templates().to_str().unwrap()
        ),
    );
    let run = authwarden(&["config", "validate", "--config", &config]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(!run.stderr.contains("templates"), "{run}");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(&format!(
            "{config}:7:1: error: unknown key `rotaton_days` in `[checkers.dkim]`"
        )),
        "{run}"
    );
    assert!(out.contains("help: did you mean `rotation_days`?"), "{run}");
    assert!(
        out.contains(&format!(
            "{config}:8:21: error: `checkers.dkim.probe_concurrency` must be from 1 to 64, found 100"
        )),
        "{run}"
    );
}

#[test]
fn valid_checker_settings_validate() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[templates]\ndir = {:?}\n\n[[domains]]\nname = \"example.org\"\ndkim = {{ selectors = [\"s1\"] }}\n\n[checkers.dkim]\nrotation_days = 180\nbudget = \"10s\"\n",
            templates().to_str().unwrap()
        ),
    );
    let run = authwarden(&["config", "validate", "--config", &config]);
    assert_eq!(run.code(), 0, "{run}");
}
