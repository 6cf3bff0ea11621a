//! The last UID seen per folder, kept between runs as a small JSON file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::ImapError;

/// What a folder looked like at the end of the last run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FolderState {
    /// The folder's UIDVALIDITY: UIDs are only comparable while it stays the same.
    pub uid_validity: u32,
    /// Every message with a UID up to this one has been handled.
    pub last_uid: u32,
}

/// The last UID seen in each folder, keyed by `user@host:port/folder`.
///
/// The key includes the account so that one state file can serve several mailboxes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapState {
    /// Per mailbox folder.
    pub folders: BTreeMap<String, FolderState>,
}

impl ImapState {
    /// Reads the state file; a missing file is an empty state (first run).
    pub fn load(path: &Path) -> Result<ImapState, ImapError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ImapState::default()),
            Err(e) => return Err(state_error(path, e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| state_error(path, e))
    }

    /// Writes the state file atomically (a temporary file in the same folder, then a rename),
    /// creating the folder when missing: a crash never leaves half a file.
    pub fn save(&self, path: &Path) -> Result<(), ImapError> {
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        fs::create_dir_all(dir).map_err(|e| state_error(path, e))?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| state_error(path, e))?;
        authwarden_api::fsutil::write_atomic(path, &json).map_err(|e| state_error(path, e))
    }

    /// The state of one folder of one account, if it was seen before.
    pub fn folder(&self, key: &str) -> Option<FolderState> {
        self.folders.get(key).copied()
    }
}

fn state_error(path: &Path, e: impl std::fmt::Display) -> ImapError {
    ImapError::State {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_an_empty_state_and_a_saved_one_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("imap-state.json");
        assert_eq!(ImapState::load(&path).unwrap(), ImapState::default());
        let mut state = ImapState::default();
        state.folders.insert(
            "u@h:993/INBOX".into(),
            FolderState {
                uid_validity: 7,
                last_uid: 42,
            },
        );
        state.save(&path).unwrap();
        assert_eq!(ImapState::load(&path).unwrap(), state);
        // Only the state file is left: the temporary file was renamed.
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("imap-state.json")]);
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imap-state.json");
        fs::write(&path, b"{not json").unwrap();
        let err = ImapState::load(&path).unwrap_err().to_string();
        assert!(err.contains("imap-state.json"), "{err}");
    }
}
