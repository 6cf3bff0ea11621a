//! The file operations of the outbox: atomic writes, durable renames, locks.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::MailError;

/// The suffix of the temporary files [`write_atomic`] writes (after a leading `.`).
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// Writes `data` to a hidden temporary file beside `path`, syncs it and renames it to `path`.
/// On failure the temporary file is removed and `path` is untouched.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<(), MailError> {
    let dir = path.parent().expect("outbox files have a parent");
    let tmp = dir.join(format!(
        ".{}{TMP_SUFFIX}",
        path.file_name().expect("a file name").to_string_lossy()
    ));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        write_all(&mut file, path, data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        if let Err(rm) = fs::remove_file(&tmp) {
            if rm.kind() != io::ErrorKind::NotFound {
                tracing::warn!(file = %tmp.display(), error = %rm, "cannot remove a temporary file; the next opening of the outbox removes it");
            }
        }
        MailError::io("cannot write", path, e)
    })
}

fn write_all(file: &mut File, path: &Path, data: &[u8]) -> io::Result<()> {
    #[cfg(test)]
    if let Some(e) = fail::take(path) {
        // As a full disk does it: part of the data is in the file, then the write fails.
        file.write_all(&data[..data.len() / 2])?;
        return Err(e);
    }
    #[cfg(not(test))]
    let _ = path;
    file.write_all(data)
}

/// Renames `from` to `to`, creating `to`'s directory if needed.
pub(crate) fn move_file(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::rename(from, to)
}

/// Makes renames in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), MailError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MailError::io("cannot sync", dir, e))
}

/// The names of the entries of `dir` (none when it does not exist), sorted.
pub(crate) fn list(dir: &Path) -> Result<Vec<String>, MailError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(MailError::io("cannot list", dir, e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| MailError::io("cannot list", dir, e))?;
        if let Ok(name) = entry.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// An advisory lock (flock) on `path`, released when the file is dropped.
pub(crate) struct Lock {
    _file: File,
}

fn open_lock(path: &Path) -> Result<File, MailError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| MailError::io("cannot open", path, e))
}

impl Lock {
    /// Waits for the lock.
    pub(crate) fn wait(path: &Path) -> Result<Lock, MailError> {
        let file = open_lock(path)?;
        fs4::FileExt::lock(&file).map_err(|e| MailError::io("cannot lock", path, e))?;
        Ok(Lock { _file: file })
    }

    /// Waits for the lock without blocking the async runtime.
    pub(crate) async fn wait_async(path: PathBuf) -> Result<Lock, MailError> {
        tokio::task::spawn_blocking(move || Lock::wait(&path))
            .await
            .expect("the lock task does not panic")
    }

    /// The lock if nobody holds it, `None` if somebody does.
    pub(crate) fn try_take(path: &Path) -> Result<Option<Lock>, MailError> {
        let file = open_lock(path)?;
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(Some(Lock { _file: file })),
            Err(fs4::TryLockError::WouldBlock) => Ok(None),
            Err(fs4::TryLockError::Error(e)) => Err(MailError::io("cannot lock", path, e)),
        }
    }
}

/// A test seam: makes the next write of a file whose name ends with a given suffix fail.
#[cfg(test)]
pub(crate) mod fail {
    use std::cell::RefCell;
    use std::io;
    use std::path::Path;

    thread_local! {
        static NEXT: RefCell<Option<(String, i32)>> = const { RefCell::new(None) };
    }

    /// The next write on this thread of a file whose name ends with `suffix` fails with the
    /// OS error `errno` (e.g. 28, ENOSPC) after writing half of the data.
    pub(crate) fn next_write(suffix: &str, errno: i32) {
        NEXT.with(|n| *n.borrow_mut() = Some((suffix.to_string(), errno)));
    }

    pub(super) fn take(path: &Path) -> Option<io::Error> {
        let name = path.file_name()?.to_string_lossy().into_owned();
        NEXT.with(|n| {
            let mut next = n.borrow_mut();
            match next.as_ref() {
                Some((suffix, errno)) if name.ends_with(suffix.as_str()) => {
                    let e = io::Error::from_raw_os_error(*errno);
                    *next = None;
                    Some(e)
                }
                _ => None,
            }
        })
    }
}
