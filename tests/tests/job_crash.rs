//! A job run killed at each of its steps loses no report: the run is
//! marked delivered in the history only once its report and its outbox
//! message are on disk, so the next run reports the same findings as new
//! (never as "still open") and writes its report and message.
//!
//! The binary aborts itself right after a step (`AUTHWARDEN_FAULT_AFTER`,
//! the pipeline's test hook), as a `kill -9` would stop it there.

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_e2e::{authwarden, authwarden_with_env, copy_dir};
use tempfile::TempDir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn example() -> (TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("config"), &dir.path().join("config"));
    copy_dir(&root().join("templates"), &dir.path().join("templates"));
    let config = dir.path().join("config/example.toml");
    (dir, config.to_str().unwrap().to_string())
}

fn emls(dir: &Path) -> usize {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
        .unwrap_or(0)
}

/// "(… new, … still open, … resolved)" of `run`'s summary line.
fn counts(stdout: &str) -> (u32, u32, u32) {
    let line = stdout
        .lines()
        .find(|l| l.contains(" still open, "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"));
    let tail = line.rsplit("; ").next().unwrap();
    let n: Vec<u32> = tail
        .split(", ")
        .map(|p| p.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    (n[0], n[1], n[2])
}

#[test]
fn a_run_killed_after_any_step_is_reported_again_by_the_next_run() {
    // The baseline: two complete runs; the second finds nothing new.
    let (dir, config) = example();
    let first = authwarden(&["run", "monthly", "--config", &config]);
    assert_eq!(first.code(), 0, "{first}");
    let (new, open, _) = counts(&first.stdout);
    assert!(new > 0 && open == 0, "{first}");
    let second = authwarden(&["run", "monthly", "--config", &config]);
    assert_eq!(second.code(), 0, "{second}");
    assert_eq!(counts(&second.stdout), (0, new, 0), "{second}");
    drop(dir);

    for step in ["history", "report", "outbox"] {
        let (dir, config) = example();
        let outbox = dir.path().join("reports/outbox");
        let killed = authwarden_with_env(
            &["run", "monthly", "--config", &config],
            &[("AUTHWARDEN_FAULT_AFTER", step)],
        );
        assert!(
            killed.status.code().is_none() || killed.code() != 0,
            "the fault hook did not stop the run after {step}\n{killed}"
        );
        assert!(
            killed
                .stderr
                .contains(&format!("AUTHWARDEN_FAULT_AFTER={step}")),
            "{killed}"
        );
        let queued_by_killed = emls(&outbox);
        assert_eq!(
            queued_by_killed,
            usize::from(step == "outbox"),
            "after {step}: {killed}"
        );

        let next = authwarden(&["run", "monthly", "--config", &config]);
        assert_eq!(next.code(), 0, "after a kill after {step}: {next}");
        assert_eq!(
            counts(&next.stdout),
            (new, 0, 0),
            "after a kill after {step}, the next run must report every finding as new: {next}"
        );
        assert_eq!(
            emls(&outbox),
            queued_by_killed + 1,
            "after {step}: the next run queues its message\n{next}"
        );
        // And the run after that is an ordinary follow-up.
        let again = authwarden(&["run", "monthly", "--config", &config]);
        assert_eq!(counts(&again.stdout), (0, new, 0), "after {step}: {again}");
    }
}
