//! The per-job lock: one run of a job at a time, whether the daemon or a
//! manual `authwarden run` starts it.
//!
//! It is an exclusive advisory `flock` on `<dir>/<job>.lock`, not a file
//! created with `O_EXCL`: the kernel releases a `flock` when its holder dies,
//! even by `SIGKILL`, so a crashed run never leaves a stale lock behind. The
//! file holds the holder's pid and start time, only for the message a second
//! run gets. The file itself is never deleted: removing it while another
//! process waits to open it would let two processes lock two different files.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use fs4::{FileExt, TryLockError};

use crate::SchedulerError;

/// A held job lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct JobLock {
    file: File,
    path: PathBuf,
}

impl JobLock {
    /// Takes the lock of `job` in `dir` (created if missing) without waiting.
    ///
    /// When someone else holds it, returns [`SchedulerError::Locked`] with the
    /// holder's pid and start time, e.g. `pid 4242 since
    /// 2026-12-01T06:00:00Z`. Locks are per open file, so a second
    /// `acquire` in the same process is refused too.
    pub fn acquire(dir: &Path, job: &str) -> Result<JobLock, SchedulerError> {
        if job.is_empty()
            || !job
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SchedulerError::InvalidJobName(job.to_string()));
        }
        let path = dir.join(format!("{job}.lock"));
        let io_err = |source| SchedulerError::Lock {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io_err)?;
        // No truncation before the lock is ours: the holder's pid is in there.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(SchedulerError::Locked {
                    job: job.to_string(),
                    holder: describe_holder(&mut file),
                })
            }
            Err(TryLockError::Error(source)) => return Err(io_err(source)),
        }
        let since = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        let record = format!("{} {since}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| file.write_all(record.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io_err)?;
        Ok(JobLock { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        // Empty the record first so that nobody reads a stale pid, then unlock
        // explicitly; closing the file would release the lock anyway.
        let _ = self.file.set_len(0);
        let _ = FileExt::unlock(&self.file);
    }
}

/// Reads `<pid> <since>` from a lock file held by someone else.
fn describe_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text));
    let mut parts = text.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(pid), Some(since)) if pid.parse::<u32>().is_ok() => {
            format!("pid {pid} since {since}")
        }
        // The holder has locked but not written yet.
        _ => "another process (pid not yet recorded)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_is_refused_with_the_holder_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let lock = JobLock::acquire(dir.path(), "monthly").unwrap();
        assert_eq!(lock.path(), dir.path().join("monthly.lock"));
        match JobLock::acquire(dir.path(), "monthly") {
            Err(SchedulerError::Locked { job, holder }) => {
                assert_eq!(job, "monthly");
                assert!(
                    holder.starts_with(&format!("pid {} since ", std::process::id())),
                    "{holder}"
                );
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        // Another job is independent.
        let _annual = JobLock::acquire(dir.path(), "annual").unwrap();
        drop(lock);
        let _again = JobLock::acquire(dir.path(), "monthly").unwrap();
    }

    #[test]
    fn locked_message_says_who() {
        let dir = tempfile::tempdir().unwrap();
        let _lock = JobLock::acquire(dir.path(), "quarterly").unwrap();
        let msg = JobLock::acquire(dir.path(), "quarterly")
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("job `quarterly` is already running: its lock is held by pid "),
            "{msg}"
        );
    }

    #[test]
    fn job_names_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "../x", "a/b", "a b"] {
            assert!(
                matches!(
                    JobLock::acquire(dir.path(), bad),
                    Err(SchedulerError::InvalidJobName(_))
                ),
                "{bad:?}"
            );
        }
    }
}
