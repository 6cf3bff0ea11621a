//! Sending what is queued: [`Outbox::flush`].

use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use lettre::Address;

use crate::files::{self, Lock};
use crate::message::parse_address;
use crate::outbox::{envelope_path, park, StoredEnvelope, StoredReason};
use crate::session::{Delivery, Session};
use crate::{FlushReport, MailError, Outbox, RefusedRecipient, SmtpSettings};

/// A queued message read back from disk.
struct Loaded {
    from: Address,
    to: Vec<Address>,
    bytes: Vec<u8>,
    message_id: String,
}

impl Outbox {
    /// Repairs the outbox ([`Outbox::recover`]), then sends every queued message, oldest
    /// first, over one connection, and moves each according to the server's answer:
    ///
    /// - accepted (for at least one recipient): to `sent/`, in [`FlushReport::sent`];
    ///   recipients refused for good meanwhile are in [`FlushReport::refused_recipients`];
    /// - refused for good (5xx to MAIL FROM, to DATA or its end, or to every recipient): to
    ///   `outbox/rejected/` with a `.reason.json`, in [`FlushReport::rejected`];
    /// - anything else stays queued, in [`FlushReport::failed`]: a 4xx reply (for any one
    ///   recipient too: nobody gets it now, so nobody gets it twice later), a timeout, a
    ///   broken connection, or a local file problem (also in [`FlushReport::io_failures`]).
    ///
    /// When no connection can be made (refused, TLS, AUTH, timeout), or it breaks, or a reply
    /// is 530 (authentication or encryption required), the rest are not tried in this flush:
    /// they are in `failed` as "not tried after an earlier failure: …". Such problems of the
    /// server or the settings never reject a message. One connection attempt is bounded by
    /// [`SmtpSettings::timeout`] as a whole, and so is each message's exchange.
    ///
    /// `Err` means the flush could not run at all: unusable settings (e.g. `Security::None`
    /// to a non-loopback host), or an unreadable outbox. A concurrent flush on the same
    /// directory waits for this one, then sends only what is still queued.
    pub async fn flush(&self, smtp: &SmtpSettings) -> Result<FlushReport, MailError> {
        let prepared = smtp.transport()?;
        let _lock = Lock::wait_async(self.flush_lock_path()).await?;
        let mut report = FlushReport {
            recovery: self.recover_locked()?,
            ..FlushReport::default()
        };
        let server = format!("{}:{}", smtp.host, smtp.port);
        let mut session: Option<Session<'_>> = None;
        let mut stopped: Option<String> = None;

        for eml in self.pending()? {
            if let Some(why) = &stopped {
                report
                    .failed
                    .push((eml, format!("not tried after an earlier failure: {why}")));
                continue;
            }
            let loaded = match load(&eml) {
                Ok(loaded) => loaded,
                Err(text) => {
                    tracing::warn!(file = %eml.display(), error = %text, "report e-mail not sent; it stays in the outbox");
                    report.io_failures.push(eml.clone());
                    report.failed.push((eml, text));
                    continue;
                }
            };
            let current = match session.as_mut() {
                Some(current) => current,
                None => match prepared.open().await {
                    Ok(opened) => session.insert(opened),
                    Err(failure) => {
                        tracing::warn!(server = %server, error = %failure.text, "cannot connect to the SMTP server; the outbox is kept");
                        report.failed.push((eml, failure.text.clone()));
                        stopped = Some(failure.text);
                        continue;
                    }
                },
            };
            match current.send(&loaded.from, &loaded.to, &loaded.bytes).await {
                Delivery::Accepted { refused } => match self.to_sent(&eml) {
                    Ok(sent) => {
                        tracing::info!(file = %sent.display(), message_id = %loaded.message_id, "report e-mail sent");
                        for (address, reply) in refused {
                            tracing::warn!(file = %sent.display(), address = %address, reply = %reply, "the server refused this recipient for good; the others got the message");
                            report.refused_recipients.push(RefusedRecipient {
                                message: sent.clone(),
                                address,
                                reply,
                            });
                        }
                        report.sent.push(sent);
                    }
                    Err(text) => {
                        tracing::warn!(file = %eml.display(), error = %text, "report e-mail delivered but not moved");
                        report.io_failures.push(eml.clone());
                        report.failed.push((eml, text));
                    }
                },
                Delivery::Rejected(reason) => {
                    let stored = StoredReason {
                        at: Utc::now(),
                        reason: reason.clone(),
                        server: Some(server.clone()),
                    };
                    match park(&eml, &self.rejected_dir(), &stored) {
                        Ok(target) => {
                            tracing::warn!(file = %target.display(), error = %reason, "report e-mail refused for good; moved to rejected/, not retried");
                            report.rejected.push((target, reason));
                        }
                        Err(e) => {
                            let text = format!(
                                "refused for good ({reason}), but cannot move it to {}: {e}; \
                                 the next flush tries it again",
                                self.rejected_dir().display()
                            );
                            tracing::warn!(file = %eml.display(), error = %text, "report e-mail stays in the outbox");
                            report.io_failures.push(eml.clone());
                            report.failed.push((eml, text));
                        }
                    }
                }
                Delivery::Deferred { text, broken } => {
                    tracing::warn!(file = %eml.display(), error = %text, "report e-mail not sent; it stays in the outbox");
                    report.failed.push((eml, text.clone()));
                    if broken {
                        // Dropped without QUIT: a server that stopped answering must not hold
                        // us up again.
                        session = None;
                        stopped = Some(text);
                    }
                }
            }
        }
        if let Some(session) = session {
            session.quit().await;
        }
        Ok(report)
    }

    /// Moves a delivered message and then its envelope to `sent/`.
    fn to_sent(&self, eml: &Path) -> Result<PathBuf, String> {
        let sent_dir = self.sent_dir();
        let sent = sent_dir.join(eml.file_name().expect("a listed file has a name"));
        if let Err(e) = files::move_file(eml, &sent) {
            return Err(format!(
                "delivered, but cannot move it to {}: {e}; the next flush will send it again",
                sent_dir.display()
            ));
        }
        let envelope = envelope_path(eml);
        if let Err(e) = fs::rename(&envelope, envelope_path(&sent)) {
            // The message has moved; the next repair moves the envelope after it.
            tracing::warn!(file = %envelope.display(), error = %e, "cannot move the envelope to sent/");
        }
        let _ = files::sync_dir(&sent_dir).and_then(|()| files::sync_dir(&self.outbox_dir()));
        Ok(sent)
    }
}

/// The message and its envelope, or why they cannot be read (naming the file).
fn load(eml: &Path) -> Result<Loaded, String> {
    let envelope_file = envelope_path(eml);
    let stored: StoredEnvelope = fs::read(&envelope_file)
        .map_err(|e| e.to_string())
        .and_then(|json| serde_json::from_slice(&json).map_err(|e| e.to_string()))
        .map_err(|e| format!("cannot read {}: {e}", envelope_file.display()))?;
    let bad = |e: MailError| format!("bad envelope {}: {e}", envelope_file.display());
    let from = parse_address(&stored.from).map_err(bad)?;
    let to = stored
        .to
        .iter()
        .map(|a| parse_address(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(bad)?;
    let bytes = fs::read(eml).map_err(|e| format!("cannot read {}: {e}", eml.display()))?;
    Ok(Loaded {
        from,
        to,
        bytes,
        message_id: stored.message_id,
    })
}
