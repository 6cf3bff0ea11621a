//! External checkers end to end through a real `authwarden` (this crate's
//! build of the CLI, which is the stock one plus a private checker): the
//! Python example of `examples/external/bimi.py` configured with
//! `type = "external"`, run by `check` and `run` over a zone file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const ZONE: &str = r#"
$ORIGIN good.example.
@             TXT "v=spf1 -all"
_dmarc        TXT "v=DMARC1; p=reject"
default._bimi TXT "v=BIMI1; l=https://good.example/logo.svg"
$ORIGIN bad.example.
@             TXT "v=spf1 -all"
_dmarc        TXT "v=DMARC1; p=none"
default._bimi TXT "v=BIMI1; l=http://bad.example/logo.png"
$ORIGIN none.example.
@             TXT "v=spf1 -all"
"#;

/// A project folder: config/authwarden.toml, config/example.zone and the
/// Python checker under config/checkers/.
fn project(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(config.join("checkers")).unwrap();
    std::fs::copy(
        repo().join("examples/external/bimi.py"),
        config.join("checkers/bimi.py"),
    )
    .unwrap();
    std::fs::write(config.join("example.zone"), ZONE).unwrap();
    let templates = repo().join("templates");
    std::fs::write(
        config.join("authwarden.toml"),
        format!(
            r#"
reports_dir = "../reports"

[dns]
zone_files = ["example.zone"]
# Nothing listens here: names outside the zone file fail fast.
nameservers = ["127.0.0.1:9"]
timeout = "200ms"
retries = 0

[[domains]]
name = "good.example"

[[domains]]
name = "bad.example"

[[domains]]
name = "none.example"

[levels]
BIMI001 = "warn"

[templates]
dir = "{}"

[checkers.bimi]
type = "external"
command = ["python3", "checkers/bimi.py"]
timeout = "20s"
{extra}
"#,
            templates.display()
        ),
    )
    .unwrap();
    dir
}

fn authwarden(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_authwarden-custom"))
        .current_dir(dir)
        .env_remove("AUTHWARDEN_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn check_runs_the_python_checker() {
    let dir = project("");
    let out = authwarden(
        dir.path(),
        &["check", "--checker", "bimi", "--format", "json"],
    );
    let report = json(&out);
    let findings: Vec<(&str, &str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["domain"].as_str().unwrap(),
                f["code"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
            )
        })
        .collect();
    // BIMI001 is a note by default; [levels] made it a warning.
    assert_eq!(
        findings,
        [
            ("bad.example", "BIMI002", "error"),
            ("bad.example", "BIMI003", "error"),
            ("none.example", "BIMI001", "warning")
        ]
    );
    assert_eq!(report["findings"][0]["checker"], "bimi");
    assert_eq!(
        report["domains"][0]["bimi"]["bimi"][0],
        "v=BIMI1; l=https://good.example/logo.svg"
    );
    assert_eq!(report["domains"][0]["bimi"]["dmarc_enforced"], true);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an error finding fails the check"
    );
}

#[test]
fn checkers_explain_and_validate_know_the_external_checker() {
    let dir = project("");
    let out = authwarden(dir.path(), &["checkers", "--format", "json"]);
    let list = json(&out);
    let bimi = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "bimi")
        .expect("bimi is listed");
    assert_eq!(bimi["codes"].as_array().unwrap().len(), 4);
    assert_eq!(bimi["cadences"], serde_json::json!(["monthly"]));

    let out = authwarden(dir.path(), &["explain", "BIMI002", "--format", "json"]);
    let doc = json(&out);
    assert_eq!(doc["name"], "bimi-record-invalid");
    assert_eq!(doc["checker"], "bimi");
    assert!(doc["how_to_fix"].as_str().unwrap().contains("v=BIMI1"));

    let out = authwarden(dir.path(), &["explain", "EXT001"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("external-check-incomplete"));

    let out = authwarden(dir.path(), &["config", "validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn run_monthly_includes_the_external_findings() {
    let dir = project("");
    let out = authwarden(dir.path(), &["run", "monthly", "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BIMI002"), "{stdout}");
    let report = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .flatten()
        .any(|e| e.file_name() != "data" && e.file_name() != "state");
    assert!(report, "no report folder was written");
}

#[test]
fn a_broken_external_checker_does_not_stop_the_run() {
    let dir = project(
        r#"
[checkers.broken]
type = "external"
command = ["python3", "-c", "import sys; sys.exit('no describe here')"]
"#,
    );
    let out = authwarden(dir.path(), &["check", "--format", "json"]);
    let report = json(&out);
    let codes: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["checker"] == "broken" || f["checker"] == "bimi")
        .map(|f| (f["checker"].as_str().unwrap(), f["code"].as_str().unwrap()))
        .collect();
    for expected in [("broken", "EXT001"), ("bimi", "BIMI002")] {
        assert!(codes.contains(&expected), "{codes:?}");
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("no describe here"));

    let out = authwarden(dir.path(), &["config", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("external checker `broken` (python3 -c"));
}
