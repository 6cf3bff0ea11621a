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
[domains.mta-sts]
mode = "enforce"

[jobs.quarterly]
checkers = ["mta-sts", "dmarc-policy"]

[checkers.mta-sts]
type = "external"
command = ["python3", "checkers/mta_sts.py", "--strict"]
timeout = "45s"
jobs = ["quarterly"]
config = { require_tls_rpt = true, rua = ["mailto:tls@example.org"] }
"#,
    );
    let checker = &c.checkers["mta-sts"];
    assert!(checker.enabled);
    assert_eq!(checker.jobs, Some(vec![Cadence::Quarterly]));
    assert_eq!(
        checker.settings,
        json!({"require_tls_rpt": true, "rua": ["mailto:tls@example.org"]})
    );
    assert_eq!(
        checker.external,
        Some(ExternalConfig {
            command: vec![
                "python3".into(),
                "checkers/mta_sts.py".into(),
                "--strict".into()
            ],
            dir: PathBuf::from("config"),
            timeout: Duration::from_secs(45),
        })
    );
    assert_eq!(
        c.domains[0].settings,
        json!({"mta-sts": {"mode": "enforce"}})
    );
    assert_eq!(
        c.job(Cadence::Quarterly).checkers,
        Some(vec!["mta-sts".to_string(), "dmarc-policy".to_string()])
    );
    let ids: Vec<&str> = c.external_checkers().map(|(id, _)| id).collect();
    assert_eq!(ids, ["mta-sts"]);
}

#[test]
fn defaults_and_lenient_extraction() {
    let text = r#"
[levels]
MTASTS001 = "deny"   # unknown until the checker describes itself

[checkers.tls-rpt]
type = "external"
command = ["./tls_rpt"]
"#;
    // The full validation rejects the code ...
    let errors = common::errors(text);
    assert!(
        errors.contains("unknown code or name `MTASTS001`"),
        "{errors}"
    );
    // ... but the external checkers are still found, to be described.
    let found = external_checkers(text, Path::new("/etc/aw/authwarden.toml"), &common::known());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "tls-rpt");
    assert_eq!(found[0].1.timeout, DEFAULT_EXTERNAL_TIMEOUT);
    assert_eq!(found[0].1.dir, PathBuf::from("/etc/aw"));
    assert_eq!(found[0].1.command, ["./tls_rpt"]);
}

#[test]
fn external_checker_problems_are_reported() {
    let e = common::errors(
        r#"
[checkers.mta-sts]
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
        "unknown key `comand` in `[checkers.mta-sts]`",
        "did you mean `command`?",
        "`checkers.mta-sts.timeout` must be greater than zero",
        "expected a table for `checkers.mta-sts.config`, found an integer",
        "missing key `command` in `[checkers.mta-sts]`",
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
[checkers.mta-sts]
command = ["python3", "x.py"]
"#,
    );
    assert!(
        e.contains("unknown checker `mta-sts` in `[checkers]`"),
        "{e}"
    );
}
