//! One incremental pass over the report folder: search, size check, fetch, hand out, file.

use std::collections::{HashMap, HashSet};

use futures::{Stream, StreamExt};

use crate::connect::{connect_and_login, protocol, timed, ImapSession};
use crate::error::{ImapError, MessageError};
use crate::settings::ImapSettings;
use crate::state::{FolderState, ImapState};

/// UIDs per FETCH / MOVE command: keeps command lines short and lets a batch make progress
/// without holding every message's bytes at once.
const CHUNK: usize = 50;

/// What to do with a message after the callback has seen it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    /// Handled: move it to the archive folder.
    Processed,
    /// Not a usable report: move it to the invalid folder.
    Invalid,
    /// Leave it where it is (it is not offered again while UIDVALIDITY stays the same).
    Keep,
}

/// What one [`fetch_new`] run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Messages the callback marked [`Disposition::Processed`].
    pub processed: usize,
    /// Messages the callback marked [`Disposition::Invalid`], plus those over the size cap.
    pub invalid: usize,
    /// Messages the callback marked [`Disposition::Keep`].
    pub kept: usize,
    /// One entry per message that could not be fetched or filed, or was over the size cap.
    pub errors: Vec<MessageError>,
}

/// Hands every message of `settings.folder` newer than the last run to `handle` and files it
/// by the answer: the archive folder for [`Disposition::Processed`], the invalid folder for
/// [`Disposition::Invalid`]; folders are created when missing. `handle` gets the UID and the
/// raw RFC 822 bytes; messages are fetched with `BODY.PEEK[]`, so `\Seen` is not set.
///
/// Messages whose RFC822.SIZE is over `settings.max_message_bytes` are not downloaded: they
/// go to the invalid folder and are listed in [`FetchReport::errors`].
///
/// `state` is updated in memory (the caller saves it): its last UID moves past every message
/// that was handed out or filed as too large, but not past a message that could not be
/// fetched, which is then tried again next time. A changed UIDVALIDITY starts the folder over.
///
/// Moves use `UID MOVE` when the server has the MOVE capability, else `UID COPY`,
/// `UID STORE +FLAGS.SILENT (\Deleted)` and `UID EXPUNGE` (plain `EXPUNGE` without UIDPLUS).
///
/// Folder names use `/` as the hierarchy separator; it is translated to the server's.
///
/// # Errors
///
/// When the run cannot proceed: no connection, TLS or login failure, the folder cannot be
/// selected or searched. Per-message problems are in [`FetchReport::errors`] instead.
pub async fn fetch_new<F>(
    settings: &ImapSettings,
    state: &mut ImapState,
    mut handle: F,
) -> Result<FetchReport, ImapError>
where
    F: FnMut(u32, &[u8]) -> Disposition + Send,
{
    let mut session = connect_and_login(settings).await?;
    let result = Run {
        settings,
        session: &mut session,
        capabilities: None,
    }
    .fetch(state, &mut handle)
    .await;
    // A polite goodbye; the run's outcome does not depend on it.
    let _ = tokio::time::timeout(settings.timeout, session.logout()).await;
    result
}

/// The key of a folder in [`ImapState`]: the account and the folder.
fn state_key(settings: &ImapSettings) -> String {
    format!(
        "{}@{}:{}/{}",
        settings.username, settings.host, settings.port, settings.folder
    )
}

struct Run<'a> {
    settings: &'a ImapSettings,
    session: &'a mut ImapSession,
    /// (MOVE, UIDPLUS), asked once after login.
    capabilities: Option<(bool, bool)>,
}

impl Run<'_> {
    async fn fetch(
        &mut self,
        state: &mut ImapState,
        handle: &mut (dyn FnMut(u32, &[u8]) -> Disposition + Send),
    ) -> Result<FetchReport, ImapError> {
        let settings = self.settings;
        let delimiter = self.delimiter().await?;
        let folder = server_name(&settings.folder, delimiter.as_deref());
        let select = format!("SELECT {}", quote(&folder));
        let timeout = settings.timeout;
        let mailbox = cmd(timeout, &select, self.session.select(&folder)).await?;
        let validity = mailbox
            .uid_validity
            .ok_or_else(|| protocol(&select, "the server sent no UIDVALIDITY"))?;
        let key = state_key(settings);
        let last = match state.folder(&key) {
            Some(seen) if seen.uid_validity == validity => seen.last_uid,
            _ => 0,
        };

        let mut report = FetchReport::default();
        let uids = if mailbox.exists == 0 {
            Vec::new()
        } else {
            let query = format!("UID {}:*", last.saturating_add(1));
            let search = format!("UID SEARCH {query} in {}", quote(&folder));
            let found = cmd(timeout, &search, self.session.uid_search(&query)).await?;
            // "n:*" also matches the highest UID when it is below n.
            let mut uids: Vec<u32> = found.into_iter().filter(|&uid| uid > last).collect();
            uids.sort_unstable();
            uids
        };
        if uids.is_empty() {
            state.folders.insert(
                key,
                FolderState {
                    uid_validity: validity,
                    last_uid: last,
                },
            );
            return Ok(report);
        }

        let error = |uid: u32, reason: String| MessageError {
            folder: settings.folder.clone(),
            uid,
            reason,
        };
        let mut archive = Vec::new();
        let mut invalid = Vec::new();
        // UIDs that could not be fetched: the state stops short of them.
        let mut unfetched = Vec::new();

        let sizes = self.sizes(&folder, &uids).await;
        let mut to_fetch = Vec::new();
        for &uid in &uids {
            match sizes.get(&uid) {
                Some(Ok(size)) if u64::from(*size) > settings.max_message_bytes => {
                    report.invalid += 1;
                    invalid.push(uid);
                    report.errors.push(error(
                        uid,
                        format!(
                            "{size} bytes is over the {}-byte cap: not downloaded, filed as invalid",
                            settings.max_message_bytes
                        ),
                    ));
                }
                Some(Ok(_)) => to_fetch.push(uid),
                Some(Err(reason)) => {
                    unfetched.push(uid);
                    report.errors.push(error(uid, reason.clone()));
                }
                None => {
                    unfetched.push(uid);
                    report.errors.push(error(
                        uid,
                        "the server returned no size (expunged meanwhile?)".into(),
                    ));
                }
            }
        }

        for chunk in to_fetch.chunks(CHUNK) {
            let (bodies, failure) = self
                .bodies(&folder, chunk, |uid, body| {
                    let disposition = handle(uid, body);
                    match disposition {
                        Disposition::Processed => {
                            report.processed += 1;
                            archive.push(uid);
                        }
                        Disposition::Invalid => {
                            report.invalid += 1;
                            invalid.push(uid);
                        }
                        Disposition::Keep => report.kept += 1,
                    }
                })
                .await;
            for &uid in chunk {
                if !bodies.contains(&uid) {
                    unfetched.push(uid);
                    let reason = match &failure {
                        Some(reason) => format!("not fetched: {reason}"),
                        None => "the server returned no body (expunged meanwhile?)".into(),
                    };
                    report.errors.push(error(uid, reason));
                }
            }
        }

        self.file(
            &archive,
            &settings.archive_folder,
            delimiter.as_deref(),
            &mut report,
        )
        .await;
        self.file(
            &invalid,
            &settings.invalid_folder,
            delimiter.as_deref(),
            &mut report,
        )
        .await;

        let last_uid = match unfetched.iter().min() {
            Some(&first_failed) => first_failed.saturating_sub(1).max(last),
            None => uids.last().copied().unwrap_or(last),
        };
        state.folders.insert(
            key,
            FolderState {
                uid_validity: validity,
                last_uid,
            },
        );
        Ok(report)
    }

    /// The server's hierarchy delimiter (`LIST "" ""`); `None` for a flat server.
    async fn delimiter(&mut self) -> Result<Option<String>, ImapError> {
        let what = "LIST \"\" \"\"";
        let timeout = self.settings.timeout;
        let names = timed(timeout, || what.into(), async {
            let stream = self.session.list(Some(""), Some("\"\"")).await?;
            collect(stream).await
        })
        .await?
        .map_err(|e| protocol(what, e))?;
        Ok(names
            .iter()
            .find_map(|name| name.delimiter().map(str::to_owned)))
    }

    /// RFC822.SIZE of each UID; a failed FETCH gives its reason for every UID it covered.
    async fn sizes(&mut self, folder: &str, uids: &[u32]) -> HashMap<u32, Result<u32, String>> {
        let mut sizes = HashMap::new();
        let timeout = self.settings.timeout;
        for chunk in uids.chunks(CHUNK * 20) {
            let set = uid_set(chunk);
            let what = format!("UID FETCH {set} (RFC822.SIZE) in {}", quote(folder));
            let result = timed(timeout, || what.clone(), async {
                let stream = self.session.uid_fetch(&set, "(UID RFC822.SIZE)").await?;
                collect(stream).await
            })
            .await;
            match result {
                Ok(Ok(fetches)) => {
                    for fetch in fetches {
                        if let (Some(uid), Some(size)) = (fetch.uid, fetch.size) {
                            sizes.insert(uid, Ok(size));
                        }
                    }
                }
                Ok(Err(e)) => {
                    let reason = format!("{what} failed: {e}");
                    sizes.extend(chunk.iter().map(|&uid| (uid, Err(reason.clone()))));
                }
                Err(e) => {
                    sizes.extend(chunk.iter().map(|&uid| (uid, Err(e.to_string()))));
                }
            }
        }
        sizes
    }

    /// Fetches the bodies of `chunk` and hands each to `on_body` as it arrives. Returns the
    /// UIDs handed out and, when the FETCH broke off, why.
    async fn bodies(
        &mut self,
        folder: &str,
        chunk: &[u32],
        mut on_body: impl FnMut(u32, &[u8]),
    ) -> (HashSet<u32>, Option<String>) {
        let timeout = self.settings.timeout;
        let set = uid_set(chunk);
        let wanted: HashSet<u32> = chunk.iter().copied().collect();
        let what = format!("UID FETCH {set} (BODY.PEEK[]) in {}", quote(folder));
        let mut seen = HashSet::new();
        let mut stream = match timed(timeout, || what.clone(), async {
            self.session.uid_fetch(&set, "(UID BODY.PEEK[])").await
        })
        .await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return (seen, Some(format!("{what} failed: {e}"))),
            Err(e) => return (seen, Some(e.to_string())),
        };
        loop {
            // The timeout applies to each message, not to the whole chunk.
            let next = match tokio::time::timeout(timeout, stream.next()).await {
                Ok(next) => next,
                Err(_) => {
                    return (
                        seen,
                        Some(format!("{what} timed out after {} s", timeout.as_secs())),
                    )
                }
            };
            match next {
                None => return (seen, None),
                Some(Err(e)) => return (seen, Some(format!("{what} failed: {e}"))),
                Some(Ok(fetch)) => {
                    // Unsolicited FETCH responses (flag changes) have no body or another UID.
                    let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
                        continue;
                    };
                    if wanted.contains(&uid) && seen.insert(uid) {
                        on_body(uid, body);
                    }
                }
            }
        }
    }

    /// Moves `uids` to `target` (created when missing); failures become per-UID errors.
    async fn file(
        &mut self,
        uids: &[u32],
        target: &str,
        delimiter: Option<&str>,
        report: &mut FetchReport,
    ) {
        if uids.is_empty() {
            return;
        }
        let target_name = server_name(target, delimiter);
        let folder = self.settings.folder.clone();
        let fail_all = |report: &mut FetchReport, uids: &[u32], reason: &str| {
            report.errors.extend(uids.iter().map(|&uid| MessageError {
                folder: folder.clone(),
                uid,
                reason: format!("not moved to {target}: {reason}"),
            }));
        };
        if let Err(e) = self.ensure_folder(&target_name).await {
            fail_all(report, uids, &e.to_string());
            return;
        }
        let caps = match self.capabilities().await {
            Ok(caps) => caps,
            Err(e) => {
                fail_all(report, uids, &e.to_string());
                return;
            }
        };
        for chunk in uids.chunks(CHUNK) {
            if self.move_uids(chunk, &target_name, caps).await.is_ok() {
                continue;
            }
            // Find out which messages fail, and why, one at a time.
            for &uid in chunk {
                if let Err(e) = self.move_uids(&[uid], &target_name, caps).await {
                    fail_all(report, &[uid], &e.to_string());
                }
            }
        }
    }

    /// (MOVE, UIDPLUS) capabilities.
    async fn capabilities(&mut self) -> Result<(bool, bool), ImapError> {
        if let Some(known) = self.capabilities {
            return Ok(known);
        }
        let caps = cmd(
            self.settings.timeout,
            "CAPABILITY",
            self.session.capabilities(),
        )
        .await?;
        let known = (caps.has_str("MOVE"), caps.has_str("UIDPLUS"));
        self.capabilities = Some(known);
        Ok(known)
    }

    async fn ensure_folder(&mut self, name: &str) -> Result<(), ImapError> {
        let pattern = quote(name);
        let what = format!("LIST \"\" {pattern}");
        let timeout = self.settings.timeout;
        let names = timed(timeout, || what.clone(), async {
            let stream = self.session.list(Some(""), Some(&pattern)).await?;
            collect(stream).await
        })
        .await?
        .map_err(|e| protocol(&what, e))?;
        if names.iter().any(|n| n.name() == name) {
            return Ok(());
        }
        let create = format!("CREATE {pattern}");
        cmd(timeout, &create, self.session.create(name)).await
    }

    async fn move_uids(
        &mut self,
        uids: &[u32],
        target: &str,
        (has_move, has_uidplus): (bool, bool),
    ) -> Result<(), ImapError> {
        let set = uid_set(uids);
        let quoted = quote(target);
        if has_move {
            let what = format!("UID MOVE {set} {quoted}");
            return cmd(
                self.settings.timeout,
                &what,
                self.session.uid_mv(&set, target),
            )
            .await;
        }
        let what = format!("UID COPY {set} {quoted}");
        cmd(
            self.settings.timeout,
            &what,
            self.session.uid_copy(&set, target),
        )
        .await?;
        let timeout = self.settings.timeout;
        let what = format!("UID STORE {set} +FLAGS.SILENT (\\Deleted)");
        timed(timeout, || what.clone(), async {
            let stream = self
                .session
                .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                .await?;
            collect(stream).await
        })
        .await?
        .map_err(|e| protocol(&what, e))?;
        // Without UIDPLUS, EXPUNGE also removes other messages someone marked \Deleted in
        // this folder; that is what \Deleted means, and there is no narrower command.
        let what = if has_uidplus {
            format!("UID EXPUNGE {set}")
        } else {
            "EXPUNGE".to_string()
        };
        timed(timeout, || what.clone(), async {
            if has_uidplus {
                let stream = self.session.uid_expunge(&set).await?;
                collect(stream).await.map(drop)
            } else {
                let stream = self.session.expunge().await?;
                collect(stream).await.map(drop)
            }
        })
        .await?
        .map_err(|e| protocol(&what, e))
    }
}

/// Runs one command within the timeout; errors name the command.
async fn cmd<T>(
    timeout: std::time::Duration,
    what: &str,
    fut: impl std::future::Future<Output = async_imap::error::Result<T>>,
) -> Result<T, ImapError> {
    timed(timeout, || what.to_owned(), fut)
        .await?
        .map_err(|e| protocol(what, e))
}

/// Drains a response stream into a vector, stopping at the first error.
async fn collect<T>(
    stream: impl Stream<Item = async_imap::error::Result<T>>,
) -> async_imap::error::Result<Vec<T>> {
    let mut stream = std::pin::pin!(stream);
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item?);
    }
    Ok(items)
}

/// A configured folder name (`/` separated) in the server's hierarchy delimiter.
fn server_name(name: &str, delimiter: Option<&str>) -> String {
    match delimiter {
        Some(d) if d != "/" && name.contains('/') => name.replace('/', d),
        _ => name.to_owned(),
    }
}

/// An IMAP quoted string, for messages and LIST patterns.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A compact UID set: sorted UIDs with runs collapsed, e.g. `1:3,7,9:10`.
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_can_be_spawned_on_a_multi_threaded_runtime() {
        fn assert_send<T: Send>(_: &T) {}
        let settings = ImapSettings::new("h", "u", "p");
        let mut state = ImapState::default();
        let fut = fetch_new(&settings, &mut state, |_, _| Disposition::Keep);
        assert_send(&fut);
    }

    #[test]
    fn uid_sets_collapse_runs() {
        assert_eq!(uid_set(&[3, 1, 2, 7, 9, 10, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
    }

    #[test]
    fn folder_names_follow_the_server_delimiter() {
        assert_eq!(server_name("Archive/DMARC", Some(".")), "Archive.DMARC");
        assert_eq!(server_name("Archive/DMARC", Some("/")), "Archive/DMARC");
        assert_eq!(server_name("Archive/DMARC", None), "Archive/DMARC");
        assert_eq!(server_name("INBOX", Some(".")), "INBOX");
    }

    #[test]
    fn quoting_escapes_quotes_and_backslashes() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }

    #[test]
    fn the_state_key_names_account_and_folder() {
        let settings = ImapSettings::new("imap.example.com", "reports", "secret");
        assert_eq!(state_key(&settings), "reports@imap.example.com:993/INBOX");
    }
}
