//! The on-disk outbox: queue first, send later, move to `sent/` only after the server accepted.
//!
//! Layout under the reports directory:
//!
//! ```text
//! outbox/<UTC timestamp>-<id>[+<key>].eml          the message, exactly the bytes that are sent
//! outbox/<same>.eml.envelope.json                  its SMTP envelope {from, to, message_id, key}
//! outbox/.flush.lock                               held (flock) while a flush runs
//! outbox/.write.lock                               held while a message is queued or the
//!                                                  outbox is repaired
//! outbox/rejected/<same>.eml, .eml.envelope.json   refused for good by the server; never
//!                                                  retried automatically
//! outbox/rejected/<same>.eml.reason.json           {at, reason, server}: why
//! outbox/held/<same>.eml, .eml.reason.json         a message found without a usable envelope
//!                                                  that could not be rebuilt from its headers
//! sent/<same names>                                delivered messages
//! ```
//!
//! Only the `.eml` files directly in `outbox/` are queued ([`Outbox::pending`]);
//! [`Outbox::rejected`] and [`Outbox::held`] list the other two folders with their reasons.
//! To send a rejected message again after fixing what the reason says, move its `.eml` and
//! `.eml.envelope.json` back into `outbox/`.
//!
//! # Guarantees
//!
//! - **Nothing half-queued.** [`Outbox::enqueue`] writes the envelope, then the message, each
//!   to a hidden temporary name (`.<name>.tmp`), synced and renamed, so a visible `.eml` is
//!   complete and has its envelope. If the message cannot be written (disk full, …) the
//!   envelope is removed again and the error names the file and the OS reason.
//! - **Repair after a crash.** Opening the outbox ([`Outbox::new`], when no flush is running)
//!   and every [`Outbox::flush`] first repair what a crash or a full disk left ([`Recovery`]):
//!   temporary files are removed; an envelope whose message already moved to `sent/` or
//!   `rejected/` follows it there, any other envelope without its message is removed; a
//!   message whose envelope is missing or unreadable gets it rebuilt from its From, To, Cc
//!   and Message-ID headers, which is exactly what `enqueue` writes, or, when those do not
//!   give one (no recipient, a Bcc header, unparsable addresses), goes to `held/` with the
//!   reason. A move to `rejected/` or `held/` writes the reason first and is completed by the
//!   repair if it was interrupted. The repair takes both locks, so it never touches a message
//!   being queued or sent.
//! - **Once per key.** [`Outbox::enqueue_keyed`] queues nothing when a message with the same
//!   key is already queued, sent, rejected or held, and says where it is; so a job redone
//!   after a crash does not send its report twice. The key is part of the file name.
//! - **At-least-once delivery.** A message moves to `sent/` only after the server accepted
//!   it, so a crash between the two (or a failed move, which is reported) sends it again on
//!   the next flush, with the same Message-ID. Two flushes never send the same file: the lock
//!   serialises them, and the second sees only what the first left.
//! - **Permanent is permanent.** A message the server refuses for good (5xx for the sender,
//!   the content or every recipient) moves to `rejected/` instead of being retried on every
//!   run; a temporary refusal (4xx, timeout, connection refused) leaves it queued. Problems of
//!   the connection or the settings (TLS, AUTH, 530) never reject a message: every message
//!   stays queued. See [`FlushReport`] for recipients refused while others accepted.
//!
//! The envelope lives beside the message rather than being re-read from its headers so that
//! sending never depends on parsing what was built; the headers are only the fallback of the
//! repair.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::files::{self, write_atomic, Lock};
use crate::message::render;
use crate::{MailError, Message};

pub(crate) const EML: &str = ".eml";
pub(crate) const ENVELOPE_SUFFIX: &str = ".envelope.json";
pub(crate) const REASON_SUFFIX: &str = ".reason.json";
const FLUSH_LOCK: &str = ".flush.lock";
const WRITE_LOCK: &str = ".write.lock";
const MAX_KEY_LEN: usize = 100;

/// The outbox and sent folders under a reports directory.
///
/// Without SMTP settings nobody calls [`Outbox::flush`], and queued messages simply stay in
/// `outbox/` until SMTP is configured (or someone sends the `.eml` files by hand).
#[derive(Clone, Debug)]
pub struct Outbox {
    root: PathBuf,
}

/// What one [`Outbox::flush`] did, per message.
///
/// Every message that was queued when the flush started is in exactly one of `sent`,
/// `failed` and `rejected`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Delivered (to at least one recipient), at their new place in `sent/`.
    pub sent: Vec<PathBuf>,
    /// Deferred: still in `outbox/` and retried by the next flush, with why (passwords
    /// removed from the text). Temporary SMTP refusals (4xx), timeouts, connection, TLS and
    /// authentication problems, and local file problems (those are also in `io_failures`).
    pub failed: Vec<(PathBuf, String)>,
    /// Refused for good by the server, now in `outbox/rejected/` (with a `.reason.json`
    /// beside), with why. Never retried automatically.
    pub rejected: Vec<(PathBuf, String)>,
    /// Recipients refused for good (5xx) of messages the server accepted for the others;
    /// those messages are in `sent`. They are not sent again to anyone.
    pub refused_recipients: Vec<RefusedRecipient>,
    /// The messages of `failed` that wait because of a local file problem (unreadable, or
    /// delivered but not movable to `sent/`), not because of SMTP.
    pub io_failures: Vec<PathBuf>,
    /// What the repair at the start of the flush did.
    pub recovery: Recovery,
}

impl FlushReport {
    /// Every message that was queued was delivered to every recipient.
    pub fn all_delivered(&self) -> bool {
        self.failed.is_empty() && self.rejected.is_empty() && self.refused_recipients.is_empty()
    }
}

/// A recipient the server refused for good while it accepted the message for others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedRecipient {
    /// The message, in `sent/`.
    pub message: PathBuf,
    /// The refused address.
    pub address: String,
    /// The server's reply (passwords removed).
    pub reply: String,
}

/// Where a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageState {
    /// In `outbox/`, waiting to be sent.
    Queued,
    /// In `sent/`.
    Sent,
    /// In `outbox/rejected/`.
    Rejected,
    /// In `outbox/held/`.
    Held,
}

/// What [`Outbox::enqueue_keyed`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enqueued {
    /// The `.eml` file of the message with this key.
    pub path: PathBuf,
    /// Where it is.
    pub state: MessageState,
    /// `true`: this call queued it. `false`: it was there already and nothing was written.
    pub created: bool,
}

/// A message in `outbox/rejected/` or `outbox/held/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parked {
    /// The `.eml` file.
    pub path: PathBuf,
    /// Why it is there (the server's reply, or what the repair found).
    pub reason: String,
    /// When it was moved there, if recorded.
    pub at: Option<DateTime<Utc>>,
    /// The server (`host:port`) that refused it, for rejected messages.
    pub server: Option<String>,
}

/// What the repair of the outbox did; empty when there was nothing to repair.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Files removed: temporary files and envelopes without their message, with why.
    pub removed: Vec<(PathBuf, String)>,
    /// Files moved to finish a move a crash interrupted, at their new place.
    pub completed: Vec<PathBuf>,
    /// Messages whose envelope was rebuilt from their headers (they stay queued).
    pub rebuilt: Vec<PathBuf>,
    /// Messages moved to `outbox/held/`, with why.
    pub held: Vec<(PathBuf, String)>,
}

impl Recovery {
    /// Nothing was repaired.
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty()
            && self.completed.is_empty()
            && self.rebuilt.is_empty()
            && self.held.is_empty()
    }
}

/// The SMTP envelope stored beside each queued message.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredEnvelope {
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
}

/// Why a message is in `rejected/` or `held/`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredReason {
    pub(crate) at: DateTime<Utc>,
    pub(crate) reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) server: Option<String>,
}

impl Outbox {
    /// The outbox of the reports directory `root`; creates `outbox/` and `sent/` in it.
    ///
    /// Then repairs what a crash left ([`Outbox::recover`]) unless a flush is running (which
    /// repairs it itself). A repair that fails is logged, not returned: the outbox can still
    /// be used and listed.
    pub fn new(root: impl Into<PathBuf>) -> Result<Outbox, MailError> {
        let outbox = Outbox { root: root.into() };
        for dir in [outbox.outbox_dir(), outbox.sent_dir()] {
            fs::create_dir_all(&dir).map_err(|e| MailError::io("cannot create", dir, e))?;
        }
        if let Err(e) = outbox.recover() {
            tracing::warn!(error = %e, "cannot repair the outbox");
        }
        Ok(outbox)
    }

    /// `<root>/outbox`: messages waiting to be sent.
    pub fn outbox_dir(&self) -> PathBuf {
        self.root.join("outbox")
    }

    /// `<root>/sent`: messages the server accepted.
    pub fn sent_dir(&self) -> PathBuf {
        self.root.join("sent")
    }

    /// `<root>/outbox/rejected`: messages the server refused for good.
    pub fn rejected_dir(&self) -> PathBuf {
        self.outbox_dir().join("rejected")
    }

    /// `<root>/outbox/held`: messages without a usable envelope.
    pub fn held_dir(&self) -> PathBuf {
        self.outbox_dir().join("held")
    }

    /// Renders `message` and stores it in the outbox; sends nothing.
    ///
    /// The Message-ID's domain is the From address's domain. Returns the `.eml` path. On
    /// error nothing is left in the outbox.
    pub fn enqueue(&self, message: &Message) -> Result<PathBuf, MailError> {
        let _lock = self.write_lock()?;
        self.write_new(message, None)
    }

    /// [`Outbox::enqueue`] unless a message with `key` already exists, queued, sent,
    /// rejected or held; then nothing is written and its place is returned.
    ///
    /// The key (e.g. the job's name and period, or a run id) is 1 to 100 ASCII letters,
    /// digits, `-`, `_` and `.`, not starting with `.`; it becomes part of the file name
    /// (`…+<key>.eml`) and is stored in the envelope. Two concurrent calls with the same key
    /// queue one message.
    pub fn enqueue_keyed(&self, message: &Message, key: &str) -> Result<Enqueued, MailError> {
        check_key(key)?;
        let _lock = self.write_lock()?;
        if let Some((path, state)) = self.find_key(key)? {
            tracing::info!(file = %path.display(), key, ?state, "a message with this key exists already; nothing queued");
            return Ok(Enqueued {
                path,
                state,
                created: false,
            });
        }
        let path = self.write_new(message, Some(key))?;
        Ok(Enqueued {
            path,
            state: MessageState::Queued,
            created: true,
        })
    }

    /// The message with `key`, wherever it is. The folders are read in the order messages
    /// move (outbox first), so a message moving meanwhile is still found.
    pub fn find_key(&self, key: &str) -> Result<Option<(PathBuf, MessageState)>, MailError> {
        check_key(key)?;
        let wanted = format!("{key}{EML}");
        for (dir, state) in [
            (self.outbox_dir(), MessageState::Queued),
            (self.rejected_dir(), MessageState::Rejected),
            (self.held_dir(), MessageState::Held),
            (self.sent_dir(), MessageState::Sent),
        ] {
            let found = files::list(&dir)?.into_iter().find(|name| {
                !name.starts_with('.')
                    && name
                        .rsplit_once('+')
                        .is_some_and(|(_, rest)| rest == wanted)
            });
            if let Some(name) = found {
                return Ok(Some((dir.join(name), state)));
            }
        }
        Ok(None)
    }

    /// The queued `.eml` files, oldest first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, MailError> {
        let dir = self.outbox_dir();
        Ok(files::list(&dir)?
            .into_iter()
            .filter(|name| is_eml(name))
            .map(|name| dir.join(name))
            .filter(|path| path.is_file())
            .collect())
    }

    /// The messages in `outbox/rejected/`, oldest first, with why the server refused them.
    pub fn rejected(&self) -> Result<Vec<Parked>, MailError> {
        parked(&self.rejected_dir())
    }

    /// The messages in `outbox/held/`, oldest first, with why they could not be queued.
    pub fn held(&self) -> Result<Vec<Parked>, MailError> {
        parked(&self.held_dir())
    }

    /// Writes the envelope and then the message; removes the envelope if the message fails.
    fn write_new(&self, message: &Message, key: Option<&str>) -> Result<PathBuf, MailError> {
        let from: lettre::message::Mailbox =
            message
                .from
                .parse()
                .map_err(
                    |e: lettre::address::AddressError| MailError::InvalidAddress {
                        address: message.from.clone(),
                        reason: e.to_string(),
                    },
                )?;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let rendered = render(message, &id, from.email.domain())?;

        let dir = self.outbox_dir();
        fs::create_dir_all(&dir).map_err(|e| MailError::io("cannot create", &dir, e))?;
        // The timestamp first, so that sorting by name gives the order of queueing.
        let stamp = Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
        let name = match key {
            Some(key) => format!("{stamp}-{id}+{key}{EML}"),
            None => format!("{stamp}-{id}{EML}"),
        };
        let eml = dir.join(&name);
        let envelope = StoredEnvelope {
            from: rendered.envelope_from,
            to: rendered.envelope_to,
            message_id: rendered.message_id,
            key: key.map(str::to_string),
        };
        let json = serde_json::to_vec_pretty(&envelope).expect("the envelope serialises");
        let envelope_file = envelope_path(&eml);
        write_atomic(&envelope_file, &json)?;
        let written = write_atomic(&eml, &rendered.bytes).and_then(|()| files::sync_dir(&dir));
        if let Err(e) = written {
            for file in [&eml, &envelope_file] {
                if let Err(rm) = fs::remove_file(file) {
                    if rm.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(file = %file.display(), error = %rm, "cannot remove a half-queued file; the next opening of the outbox removes it");
                    }
                }
            }
            let _ = files::sync_dir(&dir);
            return Err(e);
        }
        tracing::info!(file = %eml.display(), message_id = %envelope.message_id, "queued report e-mail");
        Ok(eml)
    }

    pub(crate) fn write_lock(&self) -> Result<Lock, MailError> {
        Lock::wait(&self.outbox_dir().join(WRITE_LOCK))
    }

    pub(crate) fn flush_lock_path(&self) -> PathBuf {
        self.outbox_dir().join(FLUSH_LOCK)
    }
}

/// `x.eml` → `x.eml.envelope.json`.
pub(crate) fn envelope_path(eml: &Path) -> PathBuf {
    sibling(eml, ENVELOPE_SUFFIX)
}

/// `x.eml` → `x.eml.reason.json`.
pub(crate) fn reason_path(eml: &Path) -> PathBuf {
    sibling(eml, REASON_SUFFIX)
}

fn sibling(eml: &Path, suffix: &str) -> PathBuf {
    let mut name = eml.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A message file name (not hidden, ends with `.eml`).
pub(crate) fn is_eml(name: &str) -> bool {
    !name.starts_with('.') && name.ends_with(EML) && name.len() > EML.len()
}

fn check_key(key: &str) -> Result<(), MailError> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && !key.starts_with('.')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(MailError::InvalidKey(key.to_string()))
    }
}

fn parked(dir: &Path) -> Result<Vec<Parked>, MailError> {
    let mut out = Vec::new();
    for name in files::list(dir)? {
        if !is_eml(&name) {
            continue;
        }
        let path = dir.join(&name);
        let reason_file = reason_path(&path);
        let stored: Option<StoredReason> = fs::read(&reason_file)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok());
        out.push(match stored {
            Some(r) => Parked {
                path,
                reason: r.reason,
                at: Some(r.at),
                server: r.server,
            },
            None => Parked {
                path,
                reason: format!("no readable reason in {}", reason_file.display()),
                at: None,
                server: None,
            },
        });
    }
    Ok(out)
}

/// Writes `reason` beside where `eml` goes in `dir`, then moves the message and its envelope
/// there. The reason first: a crash in between leaves a reason whose message is still
/// queued, and the repair completes the move.
pub(crate) fn park(eml: &Path, dir: &Path, reason: &StoredReason) -> Result<PathBuf, MailError> {
    let name = eml.file_name().expect("a listed file has a name");
    let target = dir.join(name);
    fs::create_dir_all(dir).map_err(|e| MailError::io("cannot create", dir, e))?;
    let json = serde_json::to_vec_pretty(reason).expect("the reason serialises");
    write_atomic(&reason_path(&target), &json)?;
    if let Err(e) = fs::rename(eml, &target) {
        let _ = fs::remove_file(reason_path(&target));
        return Err(MailError::io("cannot move", eml, e));
    }
    let envelope = envelope_path(eml);
    if envelope.exists() {
        if let Err(e) = fs::rename(&envelope, envelope_path(&target)) {
            // The message has moved; the repair moves its envelope after it.
            tracing::warn!(file = %envelope.display(), error = %e, "cannot move the envelope beside its message");
        }
    }
    let _ = files::sync_dir(dir);
    if let Some(parent) = eml.parent() {
        let _ = files::sync_dir(parent);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::fail;
    use chrono::TimeZone;

    fn message() -> Message {
        Message {
            from: "authwarden <reports@example.com>".into(),
            to: vec!["postmaster@example.org".into()],
            subject: "report".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
            inline_images: vec![],
            date: Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap(),
        }
    }

    fn all_names(dir: &Path) -> Vec<String> {
        files::list(dir)
            .unwrap()
            .into_iter()
            .filter(|n| !n.ends_with(".lock"))
            .collect()
    }

    #[test]
    fn a_full_disk_at_the_message_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path()).unwrap();
        fail::next_write(EML, 28);
        let err = outbox.enqueue(&message()).unwrap_err();
        assert!(err.is_io(), "{err}");
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::StorageFull));
        let text = err.to_string();
        assert!(text.contains("No space left on device"), "{text}");
        assert!(text.contains(".eml"), "names the file: {text}");
        assert!(text.starts_with("cannot write "), "{text}");
        assert_eq!(
            all_names(&outbox.outbox_dir()),
            Vec::<String>::new(),
            "neither the envelope nor a temporary file is left"
        );
        assert!(outbox.pending().unwrap().is_empty());

        // The disk has room again: the next enqueue works as usual.
        let eml = outbox.enqueue(&message()).unwrap();
        assert_eq!(outbox.pending().unwrap(), vec![eml]);
    }

    #[test]
    fn a_full_disk_at_the_envelope_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path()).unwrap();
        fail::next_write(ENVELOPE_SUFFIX, 28);
        let err = outbox
            .enqueue_keyed(&message(), "monthly-2025-03")
            .unwrap_err();
        assert!(err.is_io(), "{err}");
        assert!(err.to_string().contains(".envelope.json"), "{err}");
        assert_eq!(all_names(&outbox.outbox_dir()), Vec::<String>::new());
        assert_eq!(outbox.find_key("monthly-2025-03").unwrap(), None);
        let again = outbox.enqueue_keyed(&message(), "monthly-2025-03").unwrap();
        assert!(again.created);
    }

    #[test]
    fn the_seam_fails_only_the_file_asked_for_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path()).unwrap();
        fail::next_write(".nothing-like-this", 28);
        outbox.enqueue(&message()).unwrap();
        fail::next_write(EML, 5);
        let err = outbox.enqueue(&message()).unwrap_err();
        assert!(err.to_string().contains("Input/output error"), "{err}");
        outbox.enqueue(&message()).unwrap();
        assert_eq!(outbox.pending().unwrap().len(), 2);
    }

    #[test]
    fn keyed_enqueue_queues_once_and_finds_the_message_wherever_it_went() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path()).unwrap();
        let first = outbox
            .enqueue_keyed(&message(), "monthly.2025-03_a")
            .unwrap();
        assert!(first.created);
        assert_eq!(first.state, MessageState::Queued);
        assert!(first
            .path
            .to_string_lossy()
            .ends_with("+monthly.2025-03_a.eml"));
        let envelope: StoredEnvelope =
            serde_json::from_slice(&fs::read(envelope_path(&first.path)).unwrap()).unwrap();
        assert_eq!(envelope.key.as_deref(), Some("monthly.2025-03_a"));

        let again = outbox
            .enqueue_keyed(&message(), "monthly.2025-03_a")
            .unwrap();
        assert_eq!(
            again,
            Enqueued {
                path: first.path.clone(),
                state: MessageState::Queued,
                created: false
            }
        );
        assert_eq!(outbox.pending().unwrap().len(), 1);

        // A key that ends like another one is another key.
        let other = outbox.enqueue_keyed(&message(), "2025-03_a").unwrap();
        assert!(other.created);
        assert_eq!(outbox.pending().unwrap().len(), 2);

        // Once sent, the key is found in sent/.
        let sent = outbox.sent_dir().join(first.path.file_name().unwrap());
        fs::rename(&first.path, &sent).unwrap();
        fs::rename(envelope_path(&first.path), envelope_path(&sent)).unwrap();
        let again = outbox
            .enqueue_keyed(&message(), "monthly.2025-03_a")
            .unwrap();
        assert_eq!(
            (again.path, again.state, again.created),
            (sent, MessageState::Sent, false)
        );

        // And in rejected/.
        let reason = StoredReason {
            at: Utc::now(),
            reason: "550 no".into(),
            server: None,
        };
        let parked = park(&other.path, &outbox.rejected_dir(), &reason).unwrap();
        let again = outbox.enqueue_keyed(&message(), "2025-03_a").unwrap();
        assert_eq!(
            (again.path, again.state, again.created),
            (parked, MessageState::Rejected, false)
        );
        assert!(outbox.pending().unwrap().is_empty());
    }

    #[test]
    fn keys_that_cannot_be_a_file_name_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path()).unwrap();
        let long = "k".repeat(101);
        for key in ["", ".hidden", "a/b", "a+b", "a b", "ä", long.as_str()] {
            let err = outbox.enqueue_keyed(&message(), key).unwrap_err();
            assert!(matches!(err, MailError::InvalidKey(_)), "{key:?}: {err}");
            assert!(!err.is_io());
        }
        assert!(outbox.pending().unwrap().is_empty());
        assert!(outbox.enqueue_keyed(&message(), &"k".repeat(100)).is_ok());
    }

    #[test]
    fn parked_messages_are_listed_with_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path()).unwrap();
        let eml = outbox.enqueue(&message()).unwrap();
        let at = Utc.with_ymd_and_hms(2025, 4, 1, 7, 0, 0).unwrap();
        let reason = StoredReason {
            at,
            reason: "permanent error (550): no such user".into(),
            server: Some("smtp.example.com:587".into()),
        };
        let parked = park(&eml, &outbox.rejected_dir(), &reason).unwrap();
        assert_eq!(
            outbox.rejected().unwrap(),
            vec![Parked {
                path: parked.clone(),
                reason: "permanent error (550): no such user".into(),
                at: Some(at),
                server: Some("smtp.example.com:587".into()),
            }]
        );
        assert!(envelope_path(&parked).exists());
        assert!(outbox.pending().unwrap().is_empty());
        assert!(outbox.held().unwrap().is_empty());
        assert!(
            !outbox.outbox_dir().join("held").exists(),
            "folders are made when needed"
        );
    }
}
