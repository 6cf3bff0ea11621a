//! Small JSON state kept across runs under the history folder
//! (`<RunPaths.data_dir>/<checker id>/<file>.json`): the inventory-drift
//! checker's authorizations and the rollout advisor's phase history.
//!
//! Why JSON and not Parquet like the rest of the history: checker crates
//! must not link polars (STYLE.md), and these files are tiny (a few entries
//! per domain), read and rewritten whole by each run, and worth reading by
//! hand when a finding surprises. An embedded database would add a heavy
//! dependency for the same result.
//!
//! The engine checks several domains at once, and a manual `check` may run
//! during a scheduled job: every update holds an exclusive lock of
//! `<file>.lock` from read to rename, and the file is replaced atomically
//! (temporary file, fsync, rename), so a crash never leaves half a file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use authwarden_api::serde_json;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Why a state file could not be used. The text names the file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Creating the folder, or opening, locking, reading or writing a file
    /// failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done: `cannot create`, `cannot open`, ...
        what: &'static str,
        /// The folder or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not the JSON it should be; it is left as it is.
    #[error("{} is damaged: {source}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What the JSON decoder said.
        source: serde_json::Error,
    },
    /// The state could not be encoded as JSON.
    #[error("{0}")]
    Encode(serde_json::Error),
}

/// One JSON state file.
#[derive(Debug, Clone)]
pub struct StateFile {
    path: PathBuf,
    read_only: bool,
}

impl StateFile {
    /// The file `<data_dir>/<dir>/<name>`.
    pub fn new(data_dir: &Path, dir: &str, name: &str) -> StateFile {
        StateFile {
            path: data_dir.join(dir).join(name),
            read_only: false,
        }
    }

    /// The file `<paths.data_dir>/<dir>/<name>` of this run: read only when
    /// [`RunPaths::read_only`] says so (an ad-hoc check, the plan's
    /// verification), so that such a run never consumes what a job
    /// remembered.
    ///
    /// [`RunPaths::read_only`]: authwarden_api::RunPaths::read_only
    pub fn for_run(paths: &authwarden_api::RunPaths, dir: &str, name: &str) -> StateFile {
        StateFile {
            read_only: paths.read_only,
            ..StateFile::new(&paths.data_dir, dir, name)
        }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the state (the default when the file does not exist), lets `f`
    /// change it, and writes it back atomically, under the lock. `f`'s
    /// result is returned. A read-only file ([`StateFile::for_run`]) lets
    /// `f` change a copy and writes nothing. A damaged file is an error (it is left alone, so
    /// that nothing is lost; the caller reports it).
    pub fn update<T, R>(&self, f: impl FnOnce(&mut T) -> R) -> Result<R, StateError>
    where
        T: Serialize + DeserializeOwned + Default,
    {
        let e = |what: &'static str, path: &Path, source: std::io::Error| StateError::Io {
            what,
            path: path.to_path_buf(),
            source,
        };
        if self.read_only {
            let mut state: T = self.read()?;
            return Ok(f(&mut state));
        }
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(|err| e("cannot create", dir, err))?;
        let lock_path = self.path.with_extension("lock");
        let lock: File = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|err| e("cannot open", &lock_path, err))?;
        fs4::FileExt::lock(&lock).map_err(|err| e("cannot lock", &lock_path, err))?;
        let mut state: T = self.read()?;
        let out = f(&mut state);
        let json = serde_json::to_vec_pretty(&state).map_err(StateError::Encode)?;
        authwarden_api::fsutil::write_atomic_with(&self.path, |file| {
            file.write_all(&json)?;
            file.write_all(b"\n")
        })
        .map_err(|err| e("cannot write", &self.path, err))?;
        drop(lock);
        Ok(out)
    }

    /// The state as on file (the default when the file does not exist).
    fn read<T: DeserializeOwned + Default>(&self) -> Result<T, StateError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| StateError::Damaged {
                path: self.path.clone(),
                source,
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(source) => Err(StateError::Io {
                what: "cannot read",
                path: self.path.clone(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let file = StateFile::new(dir.path(), "inventory-drift", "authorized.json");
        let n = file
            .update(|m: &mut BTreeMap<String, u32>| {
                m.insert("a".into(), 1);
                m.len()
            })
            .unwrap();
        assert_eq!(n, 1);
        let seen = file
            .update(|m: &mut BTreeMap<String, u32>| m.get("a").copied())
            .unwrap();
        assert_eq!(seen, Some(1));
        fs::write(file.path(), "{").unwrap();
        let err = file
            .update(|_: &mut BTreeMap<String, u32>| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("damaged"), "{err}");
        assert_eq!(fs::read_to_string(file.path()).unwrap(), "{");
    }
}
