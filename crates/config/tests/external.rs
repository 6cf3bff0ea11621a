//! `[checkers.<id>] type = "external"`: accepted for ids the registry does
//! not know, with strict keys of their own.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use authwarden_api::serde_json::json;
use authwarden_api::Cadence;
use authwarden_config::{external_checkers, ExternalConfig, DEFAULT_EXTERNAL_TIMEOUT};

#[test]
fn an_external_checker_is_read_with_its_keys() {
    let c = common::ok(
        r#"
[[domains]]
name = "example.org"
[domains.bimi]
selector = "brand"

[jobs.quarterly]
checkers = ["bimi", "dmarc-policy"]

[checkers.bimi]
type = "external"
command = ["python3", "checkers/bimi.py", "--strict"]
timeout = "45s"
jobs = ["quarterly"]
config = { require_bimi = true, logo = "https://example.org/logo.svg" }
"#,
    );
    let checker = &c.checkers["bimi"];
    assert!(checker.enabled);
    assert_eq!(checker.jobs, Some(vec![Cadence::Quarterly]));
    assert_eq!(
        checker.settings,
        json!({"require_bimi": true, "logo": "https://example.org/logo.svg"})
    );
    assert_eq!(
        checker.external,
        Some(ExternalConfig {
            command: vec![
                "python3".into(),
                "checkers/bimi.py".into(),
                "--strict".into()
            ],
            dir: PathBuf::from("config"),
            timeout: Duration::from_secs(45),
        })
    );
    assert_eq!(
        c.domains[0].settings,
        json!({"bimi": {"selector": "brand"}})
    );
    assert_eq!(
        c.job(Cadence::Quarterly).checkers,
        Some(vec!["bimi".to_string(), "dmarc-policy".to_string()])
    );
    let ids: Vec<&str> = c.external_checkers().map(|(id, _)| id).collect();
    assert_eq!(ids, ["bimi"]);
}

#[test]
fn defaults_and_lenient_extraction() {
    let text = r#"
[levels]
BIMI001 = "deny"   # unknown until the checker describes itself

[checkers.sts-audit]
type = "external"
command = ["./sts_audit"]
"#;
    // The full validation rejects the code ...
    let errors = common::errors(text);
    assert!(
        errors.contains("unknown code or name `BIMI001`"),
        "{errors}"
    );
    // ... but the external checkers are still found, to be described.
    let found = external_checkers(text, Path::new("/etc/aw/authwarden.toml"), &common::known());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "sts-audit");
    assert_eq!(found[0].1.timeout, DEFAULT_EXTERNAL_TIMEOUT);
    assert_eq!(found[0].1.dir, PathBuf::from("/etc/aw"));
    assert_eq!(found[0].1.command, ["./sts_audit"]);
}

#[test]
fn external_checker_problems_are_reported() {
    let e = common::errors(
        r#"
[checkers.bimi]
type = "external"
comand = ["python3"]
timeout = "0s"
config = 3

[checkers.Bad_Id]
type = "external"
command = []

[checkers.other]
type = "plugin"
command = ["x"]
"#,
    );
    for expected in [
        "unknown key `comand` in `[checkers.bimi]`",
        "did you mean `command`?",
        "`checkers.bimi.timeout` must be greater than zero",
        "expected a table for `checkers.bimi.config`, found an integer",
        "missing key `command` in `[checkers.bimi]`",
        "invalid external checker id `Bad_Id`",
        "`checkers.Bad_Id.command` must name a program",
        "unknown checker type for `checkers.other.type`",
    ] {
        assert!(e.contains(expected), "missing {expected:?} in:\n{e}");
    }
}

#[test]
fn without_type_an_unknown_id_is_still_an_error() {
    let e = common::one_error(
        r#"
[checkers.bimi]
command = ["python3", "x.py"]
"#,
    );
    assert!(e.contains("unknown checker `bimi` in `[checkers]`"), "{e}");
}
