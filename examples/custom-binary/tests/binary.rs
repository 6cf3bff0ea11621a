//! Runs the built `authwarden-custom` binary: the private checker is listed,
//! explained and run next to the built-in ones.

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authwarden-custom"));
    // No config file of the workspace is picked up by accident.
    cmd.current_dir(std::env::temp_dir())
        .env_remove("AUTHWARDEN_CONFIG");
    cmd
}

fn zone() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("authwarden-custom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("example.zone");
    std::fs::write(
        &path,
        "$ORIGIN owned.example.\n@ TXT \"acme-owner=mail-team\"\n@ TXT \"v=spf1 -all\"\n\
         $ORIGIN orphan.example.\n@ TXT \"v=spf1 -all\"\n",
    )
    .unwrap();
    path
}

#[test]
fn checkers_lists_the_private_checker_with_the_builtin_ones() {
    let out = bin()
        .args(["checkers", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"acme-owner"), "{ids:?}");
    assert!(ids.contains(&"dmarc-policy"), "{ids:?}");

    let out = bin().args(["explain", "ACME001"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("acme-owner-missing"));
}

#[test]
fn check_reports_the_private_code() {
    let zone = zone();
    let out = bin()
        .args([
            "check",
            "owned.example",
            "orphan.example",
            "--checker",
            "acme-owner",
        ])
        .arg("--zone-file")
        .arg(&zone)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings: Vec<(&str, &str)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["domain"].as_str().unwrap(), f["code"].as_str().unwrap()))
        .collect();
    assert_eq!(findings, [("orphan.example", "ACME001")]);
    assert_eq!(report["domains"][0]["acme_owner"]["owner"], "mail-team");
    // A warning is not an error: exit status 0.
    assert_eq!(out.status.code(), Some(0));
}
