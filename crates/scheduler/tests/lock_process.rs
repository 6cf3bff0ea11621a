//! The job lock across processes: a second process is refused with the
//! holder's pid, and the lock goes away when the holder is killed (the reason
//! for `flock` rather than an `O_EXCL` file).
//!
//! The holder is this test binary itself, re-run with only the ignored
//! `lock_holder_child` test and an environment variable naming the directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use authwarden_scheduler::{JobLock, SchedulerError};

const DIR_VAR: &str = "AUTHWARDEN_SCHEDULER_TEST_LOCK_DIR";

/// Not a test of its own: the child side of the test below. Holds the lock
/// until its stdin closes or it is killed.
#[test]
#[ignore = "helper process for lock_is_held_across_processes_and_freed_when_the_holder_dies"]
fn lock_holder_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let lock = JobLock::acquire(std::path::Path::new(&dir), "monthly").unwrap();
    println!("locked");
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    drop(lock);
}

#[test]
fn lock_is_held_across_processes_and_freed_when_the_holder_dies() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["lock_holder_child", "--exact", "--ignored", "--nocapture"])
        .env(DIR_VAR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut locked = false;
    for line in stdout.lines() {
        if line.unwrap().trim() == "locked" {
            locked = true;
            break;
        }
    }
    assert!(locked, "the child took the lock");

    match JobLock::acquire(dir.path(), "monthly") {
        Err(SchedulerError::Locked { job, holder }) => {
            assert_eq!(job, "monthly");
            assert!(
                holder.starts_with(&format!("pid {} since ", child.id())),
                "{holder}"
            );
        }
        other => panic!("expected Locked, got {other:?}"),
    }

    // SIGKILL: no destructor runs, the kernel drops the lock.
    child.kill().unwrap();
    child.wait().unwrap();
    JobLock::acquire(dir.path(), "monthly").unwrap();
}
