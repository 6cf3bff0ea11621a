//! The state file: when each job last completed, so that a daemon that was
//! down over a slot catches it up once at its next start.
//!
//! It is small JSON, e.g. `reports/state/schedule.json`:
//!
//! ```json
//! { "last_completed": { "monthly": "2026-12-01T06:03:12Z" } }
//! ```
//!
//! Writes go to a temporary file in the same directory, which is then renamed
//! over the old one, so a crash never leaves half a file. The daemon and a
//! manual `authwarden run` may record different jobs at the same moment; each
//! read-modify-write therefore holds an exclusive `flock` on a sibling
//! `<file>.lock`, so neither update is lost.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use authwarden_api::Cadence;
use chrono::{DateTime, Utc};
use fs4::FileExt;
use serde::{Deserialize, Serialize};

use crate::SchedulerError;

/// What the state file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// When each job last completed successfully (manual runs included).
    #[serde(default)]
    pub last_completed: BTreeMap<Cadence, DateTime<Utc>>,
}

/// The JSON file that keeps the [`State`].
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
}

impl StateFile {
    /// A state file at `path` (it need not exist yet; its directory is created
    /// on the first write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StateFile { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state. A missing file is the empty state (first start); a file
    /// that is not valid state JSON is [`SchedulerError::StateCorrupt`] naming
    /// the file.
    pub fn load(&self) -> Result<State, SchedulerError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => {
                return Err(SchedulerError::StateRead {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        serde_json::from_str(&text).map_err(|source| SchedulerError::StateCorrupt {
            path: self.path.clone(),
            source,
        })
    }

    /// Records that `job` completed at `at` and writes the file atomically.
    ///
    /// The recorded time never moves backwards: a run that finishes with an
    /// earlier `at` than the one on file (a clock step, a slow manual run)
    /// leaves the later time in place.
    pub fn record_completed(&self, job: Cadence, at: DateTime<Utc>) -> Result<(), SchedulerError> {
        let dir = self.dir();
        fs::create_dir_all(&dir).map_err(|source| self.write_error(source))?;
        let _guard = self.lock_for_update()?;
        let mut state = self.load()?;
        let entry = state.last_completed.entry(job).or_insert(at);
        if at > *entry {
            *entry = at;
        }
        self.save_unlocked(&state)
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn write_error(&self, source: io::Error) -> SchedulerError {
        SchedulerError::StateWrite {
            path: self.path.clone(),
            source,
        }
    }

    /// Blocks until this process alone may update the file; the lock goes with
    /// the returned file.
    fn lock_for_update(&self) -> Result<File, SchedulerError> {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".lock");
        let lock_path = PathBuf::from(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|source| SchedulerError::Lock {
                path: lock_path.clone(),
                source,
            })?;
        // Held only for one read-modify-write, so blocking is fine.
        FileExt::lock(&file).map_err(|source| SchedulerError::Lock {
            path: lock_path,
            source,
        })?;
        Ok(file)
    }

    fn save_unlocked(&self, state: &State) -> Result<(), SchedulerError> {
        let mut json = serde_json::to_string_pretty(state)
            .map_err(|e| self.write_error(io::Error::other(e)))?;
        json.push('\n');
        authwarden_api::fsutil::write_atomic(&self.path, json.as_bytes())
            .map_err(|e| self.write_error(e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn missing_file_is_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(dir.path().join("nope/schedule.json"));
        assert_eq!(f.load().unwrap(), State::default());
    }

    #[test]
    fn corrupt_file_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedule.json");
        fs::write(&path, "{\"last_completed\": {\"weekly\": 3}}").unwrap();
        let err = StateFile::new(&path).load().unwrap_err();
        assert!(
            matches!(err, SchedulerError::StateCorrupt { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(msg.contains("corrupt"), "{msg}");
    }

    #[test]
    fn record_round_trips_and_keeps_other_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/schedule.json");
        let f = StateFile::new(&path);
        f.record_completed(Cadence::Monthly, utc("2026-12-01T06:03:00Z"))
            .unwrap();
        f.record_completed(Cadence::Annual, utc("2027-01-01T06:10:00Z"))
            .unwrap();
        let state = f.load().unwrap();
        assert_eq!(
            state.last_completed,
            BTreeMap::from([
                (Cadence::Monthly, utc("2026-12-01T06:03:00Z")),
                (Cadence::Annual, utc("2027-01-01T06:10:00Z")),
            ])
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"monthly\": \"2026-12-01T06:03:00Z\""),
            "{text}"
        );
        // Only the state file and its update lock are left behind.
        let mut names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["schedule.json", "schedule.json.lock"]);
    }

    #[test]
    fn recorded_time_never_moves_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(dir.path().join("schedule.json"));
        f.record_completed(Cadence::Monthly, utc("2026-12-01T06:03:00Z"))
            .unwrap();
        f.record_completed(Cadence::Monthly, utc("2026-11-01T06:03:00Z"))
            .unwrap();
        assert_eq!(
            f.load().unwrap().last_completed[&Cadence::Monthly],
            utc("2026-12-01T06:03:00Z")
        );
    }

    #[test]
    fn record_refuses_to_overwrite_a_corrupt_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedule.json");
        fs::write(&path, "not json").unwrap();
        let err = StateFile::new(&path)
            .record_completed(Cadence::Monthly, utc("2026-12-01T06:03:00Z"))
            .unwrap_err();
        assert!(
            matches!(err, SchedulerError::StateCorrupt { .. }),
            "{err:?}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "not json");
    }

    #[test]
    fn concurrent_records_of_different_jobs_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedule.json");
        let handles: Vec<_> = Cadence::ALL
            .into_iter()
            .map(|c| {
                let f = StateFile::new(&path);
                std::thread::spawn(move || {
                    for day in 1..=20 {
                        let at = utc(&format!("2026-01-{day:02}T06:00:00Z"));
                        f.record_completed(c, at).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let state = StateFile::new(&path).load().unwrap();
        for c in Cadence::ALL {
            assert_eq!(state.last_completed[&c], utc("2026-01-20T06:00:00Z"), "{c}");
        }
    }
}
