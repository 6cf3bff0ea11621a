//! The repair of the outbox after a crash or a full disk (see the guarantees in `outbox`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::Utc;
use lettre::message::Mailboxes;

use crate::files::{self, write_atomic, Lock, TMP_SUFFIX};
use crate::message::parse_address;
use crate::outbox::{
    envelope_path, is_eml, park, StoredEnvelope, StoredReason, EML, ENVELOPE_SUFFIX, REASON_SUFFIX,
};
use crate::{MailError, Outbox, Recovery};

impl Outbox {
    /// Repairs what a crash or a full disk left in the outbox (see the module's guarantees):
    /// removes temporary files and envelopes without their message, completes interrupted
    /// moves, rebuilds missing or unreadable envelopes from the message headers, and moves
    /// messages whose envelope cannot be rebuilt to `outbox/held/`. Every action is logged.
    ///
    /// Returns `None`, having done nothing, when a flush is running: it repairs at its start.
    /// Waits for a message being queued. `Err` only when a folder cannot be listed; a file
    /// that cannot be repaired is logged and left for the next time.
    pub fn recover(&self) -> Result<Option<Recovery>, MailError> {
        let Some(_flush) = Lock::try_take(&self.flush_lock_path())? else {
            tracing::debug!("a flush is running; it repairs the outbox itself");
            return Ok(None);
        };
        self.recover_locked().map(Some)
    }

    /// [`Outbox::recover`] with the flush lock already held.
    pub(crate) fn recover_locked(&self) -> Result<Recovery, MailError> {
        let _write = self.write_lock()?;
        let mut done = Recovery::default();
        let outbox = self.outbox_dir();

        // Parked folders first: a reason without its message is a move to finish.
        for dir in [self.rejected_dir(), self.held_dir()] {
            for name in files::list(&dir)? {
                let path = dir.join(&name);
                if is_tmp(&name) {
                    remove(&mut done, path, "temporary file of an interrupted write");
                    continue;
                }
                let Some(eml_name) = name.strip_suffix(REASON_SUFFIX) else {
                    continue;
                };
                if !is_eml(eml_name) || dir.join(eml_name).exists() {
                    continue;
                }
                let queued = outbox.join(eml_name);
                if queued.is_file() {
                    let target = dir.join(eml_name);
                    match fs::rename(&queued, &target) {
                        Ok(()) => {
                            let envelope = envelope_path(&queued);
                            if envelope.exists() {
                                if let Err(e) = fs::rename(&envelope, envelope_path(&target)) {
                                    warn_left(&envelope, &e);
                                }
                            }
                            tracing::warn!(file = %target.display(), "finished moving a message an interrupted flush was parking");
                            done.completed.push(target);
                        }
                        Err(e) => warn_left(&queued, &e),
                    }
                } else {
                    remove(&mut done, path, "reason whose message is gone");
                }
            }
        }

        // The outbox itself: temporary files, and envelopes without their message.
        for name in files::list(&outbox)? {
            let path = outbox.join(&name);
            if is_tmp(&name) {
                remove(&mut done, path, "temporary file of an interrupted write");
                continue;
            }
            let Some(eml_name) = name.strip_suffix(ENVELOPE_SUFFIX) else {
                continue;
            };
            if !is_eml(eml_name) || outbox.join(eml_name).exists() {
                continue;
            }
            // The message moved on and its envelope did not follow: complete the move.
            let followed = [self.sent_dir(), self.rejected_dir(), self.held_dir()]
                .into_iter()
                .map(|dir| dir.join(eml_name))
                .find(|moved| moved.is_file() && !envelope_path(moved).exists());
            match followed {
                Some(moved) => {
                    let target = envelope_path(&moved);
                    match fs::rename(&path, &target) {
                        Ok(()) => {
                            tracing::info!(file = %target.display(), "moved an envelope after its message");
                            done.completed.push(target);
                        }
                        Err(e) => warn_left(&path, &e),
                    }
                }
                None => remove(
                    &mut done,
                    path,
                    "envelope without its message (an interrupted enqueue)",
                ),
            }
        }

        // Queued messages without a usable envelope.
        for eml in self.pending()? {
            let envelope_file = envelope_path(&eml);
            let problem = match fs::read(&envelope_file) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => "it has no envelope".to_string(),
                // Perhaps a passing problem: the flush reports it; nothing is moved for it.
                Err(_) => continue,
                Ok(json) => match serde_json::from_slice::<StoredEnvelope>(&json) {
                    Ok(stored) => match check_envelope(&stored) {
                        Ok(()) => continue,
                        Err(why) => format!("its envelope is unusable ({why})"),
                    },
                    Err(e) => format!("its envelope is unreadable ({e})"),
                },
            };
            let rebuilt = fs::read(&eml)
                .map_err(|e| format!("cannot read it: {e}"))
                .and_then(|bytes| envelope_from_headers(&bytes, key_of(&eml)));
            match rebuilt {
                Ok(stored) => {
                    let json = serde_json::to_vec_pretty(&stored).expect("the envelope serialises");
                    match write_atomic(&envelope_file, &json) {
                        Ok(()) => {
                            tracing::warn!(file = %eml.display(), "{problem}: rebuilt it from the message headers");
                            done.rebuilt.push(eml);
                        }
                        Err(e) => {
                            tracing::warn!(file = %eml.display(), error = %e, "{problem} and it cannot be rebuilt now")
                        }
                    }
                }
                Err(why) => {
                    let reason = format!("{problem}, and the headers give none: {why}");
                    let stored = StoredReason {
                        at: Utc::now(),
                        reason: reason.clone(),
                        server: None,
                    };
                    match park(&eml, &self.held_dir(), &stored) {
                        Ok(target) => {
                            tracing::warn!(file = %target.display(), "{reason}; moved to held/");
                            done.held.push((target, reason));
                        }
                        Err(e) => {
                            tracing::warn!(file = %eml.display(), error = %e, "{reason}; cannot move it to held/")
                        }
                    }
                }
            }
        }

        if !done.is_empty() {
            let _ = files::sync_dir(&outbox);
        }
        Ok(done)
    }
}

fn is_tmp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TMP_SUFFIX)
}

fn remove(done: &mut Recovery, path: PathBuf, why: &str) {
    match fs::remove_file(&path) {
        Ok(()) => {
            tracing::warn!(file = %path.display(), "removed a {why}");
            done.removed.push((path, why.to_string()));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => warn_left(&path, &e),
    }
}

fn warn_left(path: &Path, e: &io::Error) {
    tracing::warn!(file = %path.display(), error = %e, "cannot repair this file of the outbox; left as it is");
}

fn check_envelope(stored: &StoredEnvelope) -> Result<(), String> {
    parse_address(&stored.from).map_err(|e| e.to_string())?;
    if stored.to.is_empty() {
        return Err("no recipient".into());
    }
    for to in &stored.to {
        parse_address(to).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The key in a file name `…+<key>.eml`.
fn key_of(eml: &Path) -> Option<String> {
    let name = eml.file_name()?.to_str()?;
    let (_, key) = name.strip_suffix(EML)?.rsplit_once('+')?;
    Some(key.to_string())
}

/// The envelope `enqueue` would have written for this message: the From address, the To and
/// Cc addresses, the Message-ID.
pub(crate) fn envelope_from_headers(
    bytes: &[u8],
    key: Option<String>,
) -> Result<StoredEnvelope, String> {
    let end = find(bytes, b"\r\n\r\n")
        .or_else(|| find(bytes, b"\n\n"))
        .ok_or("no end of the headers")?;
    let head = std::str::from_utf8(&bytes[..end]).map_err(|_| "the headers are not UTF-8")?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let values = |name: &str| -> Vec<&str> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let mailboxes = |value: &str| {
        Mailboxes::from_str(value)
            .map_err(|e| format!("cannot parse {value:?}: {e}"))
            .map(|m| {
                m.into_iter()
                    .map(|m| m.email.to_string())
                    .collect::<Vec<_>>()
            })
    };
    if !values("bcc").is_empty() {
        return Err("it has a Bcc header, which must not be sent as it is".into());
    }
    let from = match values("from")[..] {
        [one] => match &mailboxes(one)?[..] {
            [address] => address.clone(),
            _ => return Err("the From header does not hold exactly one mailbox".into()),
        },
        [] => return Err("no From header".into()),
        _ => return Err("several From headers".into()),
    };
    let mut to = Vec::new();
    for value in values("to").into_iter().chain(values("cc")) {
        to.extend(mailboxes(value)?);
    }
    if to.is_empty() {
        return Err("no To or Cc recipient".into());
    }
    let message_id = match values("message-id")[..] {
        [one] => one
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string(),
        _ => return Err("not exactly one Message-ID header".into()),
    };
    let stored = StoredEnvelope {
        from,
        to,
        message_id,
        key,
    };
    check_envelope(&stored)?;
    Ok(stored)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::render;
    use crate::Message;

    fn message(to: Vec<String>) -> Message {
        Message {
            from: "\"authwarden, reports\" <reports@example.com>".into(),
            to,
            subject: "report".into(),
            text: "plain".into(),
            html: "<p>html</p>".into(),
            inline_images: vec![],
            date: Utc::now(),
        }
    }

    #[test]
    fn the_headers_give_back_the_envelope_of_folded_and_encoded_recipient_lists() {
        let to: Vec<String> = (0..40)
            .map(|i| format!("Ünïcödé Name {i} <user{i}@example.org>"))
            .chain(["\"Doe, Jane\" <jane@example.net>".to_string()])
            .collect();
        let rendered = render(&message(to), "abc123", "example.com").unwrap();
        let head_end = find(&rendered.bytes, b"\r\n\r\n").unwrap();
        assert!(
            String::from_utf8_lossy(&rendered.bytes[..head_end]).contains("\r\n "),
            "the To header is folded"
        );
        let stored = envelope_from_headers(&rendered.bytes, Some("k".into())).unwrap();
        assert_eq!(
            stored,
            StoredEnvelope {
                from: rendered.envelope_from,
                to: rendered.envelope_to,
                message_id: rendered.message_id,
                key: Some("k".into()),
            }
        );
    }

    #[test]
    fn headers_that_give_no_envelope_say_why() {
        let cases: [(&[u8], &str); 5] = [
            (b"From: a@example.com\r\nTo: b@example.org\r\n", "no end of the headers"),
            (b"To: b@example.org\r\nMessage-ID: <x@y>\r\n\r\n", "no From header"),
            (
                b"From: a@example.com, c@example.com\r\nTo: b@example.org\r\nMessage-ID: <x@y>\r\n\r\n",
                "exactly one mailbox",
            ),
            (b"From: a@example.com\r\nTo: b@example.org\r\n\r\n", "Message-ID"),
            (
                b"From: a@example.com\r\nTo: not an address\r\nMessage-ID: <x@y>\r\n\r\n",
                "cannot parse",
            ),
        ];
        for (bytes, why) in cases {
            let err = envelope_from_headers(bytes, None).unwrap_err();
            assert!(
                err.contains(why),
                "{err:?} for {:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let ok = envelope_from_headers(
            b"From: a@example.com\nCc: c@example.org\nMessage-ID: <x@y>\n\nbody",
            None,
        )
        .unwrap();
        assert_eq!(ok.to, vec!["c@example.org"]);
        assert_eq!(ok.message_id, "x@y");
    }

    #[test]
    fn nothing_is_repaired_while_a_flush_runs() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path()).unwrap();
        let orphan = outbox
            .outbox_dir()
            .join("20250101T000000.000000Z-x.eml.envelope.json");
        fs::write(&orphan, b"{}").unwrap();
        let flush = Lock::wait(&outbox.flush_lock_path()).unwrap();
        assert_eq!(outbox.recover().unwrap(), None);
        Outbox::new(dir.path()).unwrap();
        assert!(orphan.exists(), "a running flush may be moving it");
        drop(flush);
        let done = outbox.recover().unwrap().unwrap();
        assert_eq!(done.removed.len(), 1);
        assert!(!orphan.exists());
    }
}
