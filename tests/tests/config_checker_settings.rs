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

/// `authwarden config validate` on a config whose only checker table is
/// `table` (a `[checkers.<id>]` header and its keys, starting at line 6).
fn validate_checker_table(table: &str) -> (String, authwarden_e2e::Run) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[templates]\ndir = {:?}\n[[domains]]\nname = \"example.org\"\n\n{table}",
            templates().to_str().unwrap()
        ),
    );
    let run = authwarden(&["config", "validate", "--config", &config]);
    (config, run)
}

#[test]
fn a_typo_in_checkers_rollout_advisor_is_reported_with_position_and_suggestion() {
    let (config, run) = validate_checker_table(
        "[checkers.rollout-advisor]\npas_rate = 0.95\nstall_weeks = \"8\"\nmonitor_weeks = 4\n",
    );
    assert_eq!(run.code(), 2, "{run}");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(&format!(
            "{config}:7:1: error: unknown key `pas_rate` in `[checkers.rollout-advisor]`"
        )),
        "{run}"
    );
    assert!(out.contains("help: did you mean `pass_rate`?"), "{run}");
    assert!(
        out.contains(&format!(
            "{config}:8:15: error: expected an integer for `checkers.rollout-advisor.stall_weeks`, found a string"
        )),
        "{run}"
    );
    assert!(!out.contains("monitor_weeks"), "{run}");
}

#[test]
fn a_typo_in_checkers_inventory_drift_is_reported_with_position_and_suggestion() {
    let (config, run) =
        validate_checker_table("[checkers.inventory-drift]\nstale_dys = 60\nperiod_days = 0\n");
    assert_eq!(run.code(), 2, "{run}");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(&format!(
            "{config}:7:1: error: unknown key `stale_dys` in `[checkers.inventory-drift]`"
        )),
        "{run}"
    );
    assert!(out.contains("help: did you mean `stale_days`?"), "{run}");
    assert!(
        out.contains(&format!(
            "{config}:8:15: error: `checkers.inventory-drift.period_days` must be from 1 to 4294967295, found 0"
        )),
        "{run}"
    );
}

#[test]
fn a_pass_rate_that_is_not_a_share_is_rejected_at_the_value() {
    let (config, run) = validate_checker_table("[checkers.rollout-advisor]\npass_rate = \"98%\"\n");
    assert_eq!(run.code(), 2, "{run}");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(&format!(
            "{config}:7:13: error: expected a number for `checkers.rollout-advisor.pass_rate`, found a string"
        )),
        "{run}"
    );

    let (config, run) = validate_checker_table("[checkers.rollout-advisor]\npass_rate = 98\n");
    assert_eq!(run.code(), 2, "{run}");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains(&format!(
            "{config}:7:13: error: `checkers.rollout-advisor.pass_rate` must be from 0 to 1, found 98"
        )),
        "{run}"
    );

    // A share written as an integer, and every key at once, validate.
    let (_, run) = validate_checker_table(
        "[checkers.rollout-advisor]\npass_rate = 1\nstall_weeks = 8\nmonitor_weeks = 0\nstep_weeks = 2\nwindow_days = 28\n\n[checkers.inventory-drift]\nstale_days = 90\nperiod_days = 30\n",
    );
    assert_eq!(run.code(), 0, "{run}");
}
