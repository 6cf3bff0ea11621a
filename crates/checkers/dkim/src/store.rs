//! The key history: every DKIM key the checker has seen, with the dates it
//! was first and last seen, and the rotation events between them.
//!
//! It lives in `<history folder>/dkim/keys/<domain>.json`, one file per
//! domain (the folder of [`authwarden_api::RunPaths`], `reports/data` by
//! default): a run over many domains reads and rewrites only each domain's
//! own small file, so the cost grows with the number of domains, not with
//! its square, and domains checked concurrently do not wait for each other.
//!
//! Why JSON and not Parquet like the rest of the history: checker crates
//! depend on the small checker API only and must not link polars (STYLE.md),
//! and this file is small (a few keys per domain, one line per key and per
//! rotation), read and rewritten whole by each run. An embedded database
//! would add a heavy dependency for the same result. The quarterly report
//! reads the facts of the run (which carry each selector's age and rotation
//! events), not this file.
//!
//! A damaged file (not JSON, not a key history, another format version) is
//! never treated as an empty history and never written over: the checker
//! reports it (DKIM012, naming the file and the error) and leaves it exactly
//! as it is, run after run, until someone repairs, restores or deletes it.
//! Moving it aside and starting a new file would be a silent reset one run
//! later: every key's age would restart from that day, and overdue
//! rotations would read as resolved. Deleting the file is that reset, done
//! on purpose.
//!
//! Concurrent runs (a manual `check` during a scheduled job, or the engine
//! checking several domains at once) serialise on an exclusive lock of
//! the domain's `<domain>.lock` held from read to rename; the file itself is replaced
//! atomically (write to a temporary file, then rename), so a crash never
//! leaves half a file.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use authwarden_api::serde_json;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The version written in the file.
pub const FORMAT_VERSION: u32 = 1;

/// One key seen at one selector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The domain.
    pub domain: String,
    /// The selector.
    pub selector: String,
    /// SHA-256 of the decoded key (of the `p=` text when it does not decode),
    /// lower-case hex.
    pub key_sha256: String,
    /// `rsa` or `ed25519`.
    pub key_type: String,
    /// The exact key size, when the key decodes.
    pub bits: Option<u32>,
    /// The CNAME target the key was found at, if delegated.
    pub cname_target: Option<String>,
    /// The first run that saw this key at this selector.
    pub first_seen: NaiveDate,
    /// The last run that saw it.
    pub last_seen: NaiveDate,
}

/// A new key on a selector (a rotation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationEvent {
    /// The domain.
    pub domain: String,
    /// The selector.
    pub selector: String,
    /// The run that saw the new key first.
    pub date: NaiveDate,
    /// The previous key's SHA-256.
    pub old_sha256: String,
    /// The new key's SHA-256.
    pub new_sha256: String,
    /// For a rotation to a new selector: the selector it replaces (revoked
    /// or removed in the same run). `None` for a new key on the same selector.
    #[serde(default)]
    pub old_selector: Option<String>,
}

/// The contents of one domain's key file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyHistory {
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Every key seen, oldest first.
    pub keys: Vec<KeyEntry>,
    /// Every rotation seen, oldest first.
    pub rotations: Vec<RotationEvent>,
}

impl Default for KeyHistory {
    fn default() -> Self {
        KeyHistory {
            version: FORMAT_VERSION,
            keys: Vec::new(),
            rotations: Vec::new(),
        }
    }
}

/// What a sighting of a key did to the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The entry of the key seen, after the update.
    pub entry: KeyEntry,
    /// The rotation this sighting is, when the selector had another key before.
    pub rotation: Option<RotationEvent>,
    /// True when the key appeared under the checker's eyes (a rotation, or a
    /// new selector at a domain that already had keys): its age is then exact.
    /// Otherwise the key may be older than its first sighting.
    pub age_exact: bool,
}

impl KeyHistory {
    /// The current (most recently seen) key of a selector.
    pub fn current(&self, domain: &str, selector: &str) -> Option<&KeyEntry> {
        self.keys
            .iter()
            .filter(|k| k.domain == domain && k.selector == selector)
            .max_by_key(|k| (k.last_seen, k.first_seen))
    }

    /// The rotation events of a selector, oldest first.
    pub fn rotations_of<'a>(
        &'a self,
        domain: &'a str,
        selector: &'a str,
    ) -> impl Iterator<Item = &'a RotationEvent> + 'a {
        self.rotations
            .iter()
            .filter(move |r| r.domain == domain && r.selector == selector)
    }

    /// The selectors of a domain with a key in the history.
    pub fn selectors_of(&self, domain: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for k in self.keys.iter().filter(|k| k.domain == domain) {
            if !out.contains(&k.selector) {
                out.push(k.selector.clone());
            }
        }
        out
    }

    /// Records that `key` was seen at its selector on `today`: updates
    /// `last_seen` of a known key, or adds it and, when the selector had
    /// another key, a rotation event.
    pub fn see(&mut self, key: KeyEntry, today: NaiveDate) -> Sighting {
        let had_domain = self.keys.iter().any(|k| k.domain == key.domain);
        let previous = self.current(&key.domain, &key.selector).cloned();
        if let Some(known) = self.keys.iter_mut().find(|k| {
            k.domain == key.domain && k.selector == key.selector && k.key_sha256 == key.key_sha256
        }) {
            known.last_seen = known.last_seen.max(today);
            known.bits = key.bits;
            known.cname_target = key.cname_target;
            let entry = known.clone();
            // A key that came back (a rollback) is not a new rotation, but
            // it is current again.
            let appeared = self.rotations.iter().any(|r| {
                r.domain == entry.domain
                    && r.selector == entry.selector
                    && r.new_sha256 == entry.key_sha256
            });
            return Sighting {
                age_exact: appeared || entry.first_seen > self.first_day(&entry.domain),
                entry,
                rotation: None,
            };
        }
        let entry = KeyEntry {
            first_seen: today,
            last_seen: today,
            ..key
        };
        self.keys.push(entry.clone());
        let rotation = previous
            .filter(|p| p.key_sha256 != entry.key_sha256)
            .map(|p| RotationEvent {
                domain: entry.domain.clone(),
                selector: entry.selector.clone(),
                date: today,
                old_sha256: p.key_sha256,
                new_sha256: entry.key_sha256.clone(),
                old_selector: None,
            });
        if let Some(r) = &rotation {
            self.rotations.push(r.clone());
        }
        Sighting {
            age_exact: rotation.is_some() || had_domain,
            entry,
            rotation,
        }
    }

    /// Records a rotation to a new selector: `new` (first seen today) replaces
    /// `old_selector`, whose key was revoked or removed. Returns the event, or
    /// `None` when the history has no key for `old_selector`.
    pub fn replace_selector(
        &mut self,
        new: &KeyEntry,
        old_selector: &str,
        today: NaiveDate,
    ) -> Option<RotationEvent> {
        let old = self.current(&new.domain, old_selector)?.key_sha256.clone();
        let event = RotationEvent {
            domain: new.domain.clone(),
            selector: new.selector.clone(),
            date: today,
            old_sha256: old,
            new_sha256: new.key_sha256.clone(),
            old_selector: Some(old_selector.to_string()),
        };
        self.rotations.push(event.clone());
        Some(event)
    }

    /// The first day the history saw any key of `domain`.
    fn first_day(&self, domain: &str) -> NaiveDate {
        self.keys
            .iter()
            .filter(|k| k.domain == domain)
            .map(|k| k.first_seen)
            .min()
            .unwrap_or(NaiveDate::MAX)
    }
}

/// Errors of the key history file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The file is there but is not a key history this build can use: not
    /// JSON (truncated, overwritten, hand-edited), not the expected shape,
    /// or another format version. The store never writes over it (see the
    /// module docs).
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, e.g. the JSON error with line and column.
        reason: String,
    },
    /// Reading, creating, locking or writing failed.
    Io(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Damaged { path, reason } => {
                write!(f, "key history {} is damaged: {reason}", path.display())
            }
            StoreError::Io(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for StoreError {}

/// The key history file of one history folder.
#[derive(Debug, Clone)]
pub struct KeyStore {
    dir: PathBuf,
    stem: String,
}

/// The locked history, released when dropped.
#[derive(Debug)]
pub struct LockedHistory {
    store: KeyStore,
    _lock: File,
    /// The history as read.
    pub history: KeyHistory,
}

impl KeyStore {
    /// The store of `domain` under `<data_dir>/dkim/keys/`.
    pub fn new(data_dir: &Path, domain: &str) -> Self {
        let stem: String = domain
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        KeyStore {
            dir: Self::keys_dir(data_dir),
            stem,
        }
    }

    fn keys_dir(data_dir: &Path) -> PathBuf {
        data_dir.join("dkim").join("keys")
    }

    /// The path of the domain's key file.
    pub fn path(&self) -> PathBuf {
        self.dir.join(format!("{}.json", self.stem))
    }

    /// The history of every domain, merged (for reports and tests); files
    /// that cannot be read are errors.
    pub fn read_all(data_dir: &Path) -> Result<KeyHistory, StoreError> {
        let dir = Self::keys_dir(data_dir);
        let mut all = KeyHistory::default();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(all),
            Err(err) => {
                return Err(StoreError::Io(format!(
                    "cannot read {}: {err}",
                    dir.display()
                )))
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        for path in paths {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let h = KeyStore {
                dir: dir.clone(),
                stem,
            }
            .read()?;
            all.keys.extend(h.keys);
            all.rotations.extend(h.rotations);
        }
        Ok(all)
    }

    /// Reads the history without locking (the file is only ever replaced
    /// whole, so this sees one consistent version); a missing file is an
    /// empty history.
    pub fn read(&self) -> Result<KeyHistory, StoreError> {
        let path = self.path();
        let history = match fs::read(&path) {
            Ok(bytes) => {
                serde_json::from_slice::<KeyHistory>(&bytes).map_err(|err| StoreError::Damaged {
                    path: path.clone(),
                    reason: err.to_string(),
                })?
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => KeyHistory::default(),
            Err(err) => {
                return Err(StoreError::Io(format!(
                    "cannot read {}: {err}",
                    path.display()
                )))
            }
        };
        if history.version != FORMAT_VERSION {
            return Err(StoreError::Damaged {
                reason: format!(
                    "format version {}, this build reads {FORMAT_VERSION}",
                    history.version
                ),
                path,
            });
        }
        Ok(history)
    }

    /// Takes the lock (blocking until other runs release it) and reads the
    /// history; a missing file is an empty history.
    pub fn lock(&self) -> Result<LockedHistory, StoreError> {
        let e = |what: &str, path: &Path, err: std::io::Error| {
            StoreError::Io(format!("{what} {}: {err}", path.display()))
        };
        fs::create_dir_all(&self.dir).map_err(|err| e("cannot create", &self.dir, err))?;
        let lock_path = self.dir.join(format!("{}.lock", self.stem));
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|err| e("cannot open", &lock_path, err))?;
        fs4::FileExt::lock(&lock).map_err(|err| e("cannot lock", &lock_path, err))?;
        let history = self.read()?;
        Ok(LockedHistory {
            store: self.clone(),
            _lock: lock,
            history,
        })
    }
}

impl LockedHistory {
    /// Writes the history back atomically through
    /// [`authwarden_api::fsutil::write_atomic_with`] (temporary file, fsync,
    /// rename, fsync of the directory) and releases the lock.
    pub fn save(self) -> Result<(), StoreError> {
        let path = self.store.path();
        authwarden_api::fsutil::write_atomic_with(&path, |f| {
            serde_json::to_writer_pretty(&mut *f, &self.history)?;
            f.write_all(b"\n")
        })
        .map_err(|err| StoreError::Io(format!("cannot write {}: {err}", path.display())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hash: &str) -> KeyEntry {
        KeyEntry {
            domain: "example.org".into(),
            selector: "s1".into(),
            key_sha256: hash.into(),
            key_type: "rsa".into(),
            bits: Some(2048),
            cname_target: None,
            first_seen: NaiveDate::MIN,
            last_seen: NaiveDate::MIN,
        }
    }

    #[test]
    fn sightings_and_rotations() {
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let mut h = KeyHistory::default();
        let s = h.see(key("aa"), d(1, 1));
        assert!(!s.age_exact && s.rotation.is_none());
        let s = h.see(key("aa"), d(2, 1));
        assert_eq!((s.entry.first_seen, s.entry.last_seen), (d(1, 1), d(2, 1)));
        assert!(!s.age_exact);
        let s = h.see(key("bb"), d(3, 1));
        assert!(s.age_exact);
        assert_eq!(s.rotation.unwrap().old_sha256, "aa");
        assert_eq!(h.current("example.org", "s1").unwrap().key_sha256, "bb");
        // Seen again later: exact age, no new event.
        let s = h.see(key("bb"), d(4, 1));
        assert!(s.age_exact && s.rotation.is_none());
        assert_eq!(h.rotations.len(), 1);
    }

    #[test]
    fn file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::new(dir.path(), "example.org");
        let mut locked = store.lock().unwrap();
        assert!(locked.history.keys.is_empty());
        locked
            .history
            .see(key("aa"), NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
        locked.save().unwrap();
        let again = store.lock().unwrap();
        assert_eq!(again.history.keys.len(), 1);
        drop(again);
        std::fs::write(store.path(), "{").unwrap();
        let damaged = store.lock().unwrap_err();
        assert!(
            matches!(&damaged, StoreError::Damaged { path, reason }
                if *path == store.path() && reason.contains("EOF")),
            "{damaged:?}"
        );
        assert!(damaged.to_string().starts_with("key history "), "{damaged}");
        assert_eq!(store.read().unwrap_err(), damaged);
        std::fs::write(
            store.path(),
            r#"{"version": 2, "keys": [], "rotations": []}"#,
        )
        .unwrap();
        assert_eq!(
            store.read().unwrap_err(),
            StoreError::Damaged {
                path: store.path(),
                reason: "format version 2, this build reads 1".into()
            }
        );
    }
}
