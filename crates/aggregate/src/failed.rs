//! Input files that failed, remembered across runs, so that a file which
//! spent its whole work budget (or cannot be read at all) is not read again
//! by every job run: [`FailedInputs`], a small JSON file the caller keeps
//! (beside the history, see [`FailedInputs::path_in`]), and
//! [`visit_payloads_skipping`](crate::visit_payloads_skipping), which skips
//! the files it names.
//!
//! A file is known by its canonical path, and is "unchanged" while its size
//! and modification time are those recorded; a file that changes, or a
//! parser of another version, tries it again.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::label::display_safe;

const FILE_VERSION: u32 = 1;

/// The most files remembered; the oldest are forgotten first.
pub const MAX_FAILED_INPUTS: usize = 10_000;

/// The longest reason kept, in characters.
const MAX_REASON_CHARS: usize = 500;

/// One remembered failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedInput {
    /// The file's size when it failed.
    pub size: u64,
    /// Its modification time then: seconds since the Unix epoch (negative
    /// before it)…
    pub mtime_secs: i64,
    /// …and nanoseconds.
    pub mtime_nanos: u32,
    /// Why it failed (`work_budget_bytes: …`).
    pub reason: String,
    /// When it failed.
    pub since: DateTime<Utc>,
    /// The version of this crate that failed on it: another version tries
    /// again.
    pub parser: String,
}

#[derive(Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    files: BTreeMap<String, FailedInput>,
}

/// Why the failed-inputs file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FailedInputsError {
    /// Reading the file failed.
    #[error("cannot read the failed-inputs file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a failed-inputs file.
    #[error("the failed-inputs file {path} is not valid JSON of a failed-inputs file: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// Writing the file failed.
    #[error("cannot write the failed-inputs file {path}: {source}")]
    Write {
        /// The file (or its temporary sibling).
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Input files that failed, by canonical path; see the module
/// documentation.
///
/// ```
/// use authwarden_aggregate::FailedInputs;
/// let dir = tempfile::tempdir().unwrap();
/// let report = dir.path().join("huge.zip");
/// std::fs::write(&report, b"PK\x05\x06").unwrap();
/// let store = dir.path().join("failed-inputs.json");
///
/// let mut failed = FailedInputs::load(&store).unwrap();
/// failed.remember(&report, "work_budget_bytes: ...");
/// failed.save(&store).unwrap();
///
/// let failed = FailedInputs::load(&store).unwrap();
/// assert_eq!(failed.remembered(&report).unwrap().reason, "work_budget_bytes: ...");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedInputs {
    files: BTreeMap<String, FailedInput>,
}

/// A file's identity and fingerprint now.
fn stat(file: &Path) -> Option<(String, u64, i64, u32)> {
    let canonical = fs::canonicalize(file).ok()?;
    let meta = fs::metadata(&canonical).ok()?;
    let (secs, nanos) = match meta.modified().ok()?.duration_since(UNIX_EPOCH) {
        Ok(d) => (i64::try_from(d.as_secs()).ok()?, d.subsec_nanos()),
        Err(before) => {
            let d = before.duration();
            (-i64::try_from(d.as_secs()).ok()?, d.subsec_nanos())
        }
    };
    Some((
        canonical.to_string_lossy().into_owned(),
        meta.len(),
        secs,
        nanos,
    ))
}

impl FailedInputs {
    /// Nothing remembered.
    pub fn new() -> FailedInputs {
        FailedInputs::default()
    }

    /// The file of a history: `<history_dir>/aggregate/failed-inputs.json`.
    pub fn path_in(history_dir: &Path) -> PathBuf {
        history_dir.join("aggregate").join("failed-inputs.json")
    }

    /// Reads the file; a missing file (or one of another version) is an
    /// empty memory.
    pub fn load(path: &Path) -> Result<FailedInputs, FailedInputsError> {
        let text = match fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FailedInputs::new()),
            Err(source) => {
                return Err(FailedInputsError::Read {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let file: StoreFile =
            serde_json::from_slice(&text).map_err(|source| FailedInputsError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        let mut out = FailedInputs::new();
        if file.version == FILE_VERSION {
            out.files = file.files;
        }
        Ok(out)
    }

    /// Writes the memory to `path` atomically and durably: a temporary file
    /// beside it, flushed to disk, renamed over `path`, then the folder
    /// flushed, so neither a reader nor a crash ever sees half a file.
    /// Creates the folder.
    pub fn save(&self, path: &Path) -> Result<(), FailedInputsError> {
        let write_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FailedInputsError::Write { path, source }
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir).map_err(write_err(dir))?;
        let file = StoreFile {
            version: FILE_VERSION,
            files: self.files.clone(),
        };
        let json = serde_json::to_vec_pretty(&file).map_err(|e| FailedInputsError::Write {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        authwarden_api::fsutil::write_atomic_with(path, |f| {
            f.write_all(&json)?;
            f.write_all(b"\n")
        })
        .map_err(|source| FailedInputsError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The remembered failure of `file`, if it is unchanged since (same
    /// size and modification time) and this parser version recorded it.
    pub fn remembered(&self, file: &Path) -> Option<&FailedInput> {
        let (key, size, secs, nanos) = stat(file)?;
        self.files.get(&key).filter(|f| {
            f.size == size
                && f.mtime_secs == secs
                && f.mtime_nanos == nanos
                && f.parser == env!("CARGO_PKG_VERSION")
        })
    }

    /// Remembers that `file` failed with `reason` (escaped and cut to 500
    /// characters). `false` when the file cannot be looked at (then there
    /// is nothing to compare with next time, and nothing is remembered).
    pub fn remember(&mut self, file: &Path, reason: &str) -> bool {
        self.remember_at(file, reason, Utc::now())
    }

    fn remember_at(&mut self, file: &Path, reason: &str, now: DateTime<Utc>) -> bool {
        let Some((key, size, secs, nanos)) = stat(file) else {
            return false;
        };
        self.files.insert(
            key,
            FailedInput {
                size,
                mtime_secs: secs,
                mtime_nanos: nanos,
                reason: display_safe(reason, MAX_REASON_CHARS).into_owned(),
                since: now,
                parser: env!("CARGO_PKG_VERSION").to_owned(),
            },
        );
        while self.files.len() > MAX_FAILED_INPUTS {
            let oldest = self
                .files
                .iter()
                .min_by_key(|(_, f)| f.since)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.files.remove(&k),
                None => break,
            };
        }
        true
    }

    /// Forgets `file` (after it was read successfully, say). `true` when it
    /// was remembered.
    pub fn forget(&mut self, file: &Path) -> bool {
        match fs::canonicalize(file) {
            Ok(c) => self.files.remove(&*c.to_string_lossy()).is_some(),
            Err(_) => false,
        }
    }

    /// Forgets the files that are gone or have changed since they failed.
    pub fn prune(&mut self) {
        self.files.retain(|path, f| {
            stat(Path::new(path)).is_some_and(|(_, size, secs, nanos)| {
                f.size == size && f.mtime_secs == secs && f.mtime_nanos == nanos
            })
        });
    }

    /// The remembered files, by canonical path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FailedInput)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// How many files are remembered.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FailedInput {
    /// What a skipped file is reported with:
    /// `skipped: failed before with <reason> (unchanged since <when>)`.
    pub fn skip_message(&self) -> String {
        format!(
            "skipped: failed before with {} (unchanged since {})",
            self.reason,
            self.since.format("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_file_is_tried_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.zip");
        fs::write(&f, b"one").unwrap();
        let mut m = FailedInputs::new();
        assert!(m.remember(&f, "invalid_zip: broken"));
        assert!(m.remembered(&f).is_some());
        // Another name for the same file is the same file.
        let other = dir.path().join(".").join("r.zip");
        assert!(m.remembered(&other).is_some());
        fs::write(&f, b"three").unwrap();
        assert!(m.remembered(&f).is_none(), "the size changed");
        m.prune();
        assert!(m.is_empty());
    }

    #[test]
    fn a_touched_file_is_tried_again() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.zip");
        fs::write(&f, b"one").unwrap();
        let mut m = FailedInputs::new();
        m.remember(&f, "invalid_zip: broken");
        let file = fs::File::options().write(true).open(&f).unwrap();
        file.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(1_000_000))
            .unwrap();
        assert!(m.remembered(&f).is_none(), "the mtime changed");
    }

    #[test]
    fn save_and_load_round_trip_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("r.zip");
        fs::write(&f, b"one").unwrap();
        let store = FailedInputs::path_in(&dir.path().join("history"));
        assert!(
            FailedInputs::load(&store).unwrap().is_empty(),
            "missing is empty"
        );
        let mut m = FailedInputs::new();
        m.remember(&f, "work_budget_time: a\nforged line");
        m.save(&store).unwrap();
        let back = FailedInputs::load(&store).unwrap();
        assert_eq!(back, m);
        let entry = back.remembered(&f).unwrap();
        assert!(!entry.reason.contains('\n'), "{}", entry.reason);
        assert!(entry.skip_message().starts_with(
            "skipped: failed before with work_budget_time: a\\u{a}forged line (unchanged since "
        ));
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(store.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["failed-inputs.json"]);
        // A missing file cannot be remembered; a missing one is forgotten.
        assert!(!m.remember(&dir.path().join("gone"), "x"));
        fs::remove_file(&f).unwrap();
        m.prune();
        assert!(m.is_empty());
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("failed-inputs.json");
        fs::write(&store, b"{not json").unwrap();
        let e = FailedInputs::load(&store).unwrap_err();
        assert!(e.to_string().contains("failed-inputs.json"), "{e}");
    }

    #[test]
    fn the_oldest_are_forgotten_past_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = FailedInputs::new();
        let t0 = Utc::now();
        let n = MAX_FAILED_INPUTS + 2;
        for i in 0..n {
            let f = dir.path().join(format!("{i}.xml"));
            fs::write(&f, b"x").unwrap();
            m.remember_at(&f, "empty", t0 + chrono::Duration::seconds(i as i64));
        }
        assert_eq!(m.len(), MAX_FAILED_INPUTS);
        assert!(m.remembered(&dir.path().join("0.xml")).is_none());
        assert!(m.remembered(&dir.path().join("1.xml")).is_none());
        assert!(m.remembered(&dir.path().join("2.xml")).is_some());
    }
}
