//! The on-disk outbox: queue first, send later, move to `sent/` only after the server accepted.
//!
//! Layout under the reports directory:
//!
//! ```text
//! outbox/<UTC timestamp>-<id>.eml                 the message, exactly the bytes that are sent
//! outbox/<UTC timestamp>-<id>.eml.envelope.json   its SMTP envelope {from, to, message_id}
//! outbox/.flush.lock                               held (flock) while a flush runs
//! sent/<same names>                                delivered messages
//! ```
//!
//! Both files are written to a temporary name, synced and renamed, the envelope first, so a
//! visible `.eml` is always complete and has its envelope. The envelope lives beside the
//! message rather than being re-read from its headers so that sending never depends on
//! parsing what was built.
//!
//! Delivery is at-least-once: the file is moved only after the server accepted it, so a crash
//! between the two (or a failed move, which is reported) sends it again on the next flush,
//! with the same Message-ID. Two flushes never send the same file: the lock serialises them,
//! and the second sees only what the first left.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use crate::message::{parse_address, render};
use crate::{MailError, Message, SmtpSettings};

const EML: &str = "eml";
const ENVELOPE_SUFFIX: &str = ".envelope.json";
const LOCK_FILE: &str = ".flush.lock";

/// The outbox and sent folders under a reports directory.
///
/// Without SMTP settings nobody calls [`Outbox::flush`], and queued messages simply stay in
/// `outbox/` until SMTP is configured (or someone sends the `.eml` files by hand).
#[derive(Clone, Debug)]
pub struct Outbox {
    root: PathBuf,
}

/// What one [`Outbox::flush`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    /// Delivered messages, at their new place in `sent/`.
    pub sent: Vec<PathBuf>,
    /// Messages still in `outbox/`, with why (passwords removed from the text).
    pub failed: Vec<(PathBuf, String)>,
}

/// The SMTP envelope stored beside each queued message.
#[derive(Debug, Serialize, Deserialize)]
struct StoredEnvelope {
    from: String,
    to: Vec<String>,
    message_id: String,
}

/// Why one message was not delivered, and whether the rest are worth trying now.
struct Failure {
    text: String,
    /// The server or the connection is the problem, not this message: stop this flush.
    stop: bool,
}

impl Outbox {
    /// The outbox of the reports directory `root`; creates `outbox/` and `sent/` in it.
    pub fn new(root: impl Into<PathBuf>) -> Result<Outbox, MailError> {
        let outbox = Outbox { root: root.into() };
        for dir in [outbox.outbox_dir(), outbox.sent_dir()] {
            fs::create_dir_all(&dir).map_err(|e| MailError::io("cannot create", dir, e))?;
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

    /// Renders `message` and stores it in the outbox; sends nothing.
    ///
    /// The Message-ID's domain is the From address's domain. Returns the `.eml` path.
    pub fn enqueue(&self, message: &Message) -> Result<PathBuf, MailError> {
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
        let name = format!("{}-{id}.{EML}", Utc::now().format("%Y%m%dT%H%M%S%.6fZ"));
        let eml = dir.join(&name);
        let envelope = StoredEnvelope {
            from: rendered.envelope_from,
            to: rendered.envelope_to,
            message_id: rendered.message_id,
        };
        let json = serde_json::to_vec_pretty(&envelope).expect("the envelope serialises");
        write_atomic(&envelope_path(&eml), &json)?;
        write_atomic(&eml, &rendered.bytes)?;
        sync_dir(&dir)?;
        tracing::info!(file = %eml.display(), message_id = %envelope.message_id, "queued report e-mail");
        Ok(eml)
    }

    /// The queued `.eml` files, oldest first.
    pub fn pending(&self) -> Result<Vec<PathBuf>, MailError> {
        let dir = self.outbox_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(MailError::io("cannot list", dir, e)),
        };
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| MailError::io("cannot list", &dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with('.') && name.ends_with(&format!(".{EML}")) {
                files.push(entry.path());
            }
        }
        files.sort();
        Ok(files)
    }

    /// Sends every queued message, oldest first, and moves each delivered one to `sent/`.
    ///
    /// Per-message failures (connection refused, TLS, authentication, 4xx/5xx replies,
    /// timeouts) are in the report and leave the file queued. After a failure that is not a
    /// permanent rejection of that one message, the rest are not tried in this flush (they are
    /// reported as failed too): the server would only refuse or time out again.
    ///
    /// `Err` means the flush could not run at all: unusable settings (e.g. `Security::None`
    /// to a non-loopback host), or an unreadable outbox. A concurrent flush on the same
    /// directory waits for this one, then sends only what is still queued.
    pub async fn flush(&self, smtp: &SmtpSettings) -> Result<FlushReport, MailError> {
        let builder = smtp.transport()?;
        let _lock = self.lock().await?;
        let mut report = FlushReport::default();
        let pending = self.pending()?;
        if pending.is_empty() {
            return Ok(report);
        }
        let transport: AsyncSmtpTransport<Tokio1Executor> = builder.build();
        let mut queue = pending.into_iter();
        while let Some(eml) = queue.next() {
            match self.send_one(&transport, smtp, &eml).await {
                Ok(sent) => report.sent.push(sent),
                Err(failure) => {
                    tracing::warn!(file = %eml.display(), error = %failure.text, "report e-mail not sent; it stays in the outbox");
                    if failure.stop {
                        let skipped =
                            format!("not tried after an earlier failure: {}", failure.text);
                        report.failed.push((eml, failure.text));
                        report
                            .failed
                            .extend(queue.by_ref().map(|rest| (rest, skipped.clone())));
                    } else {
                        report.failed.push((eml, failure.text));
                    }
                }
            }
        }
        // QUIT to pooled connections; a server that stopped answering must not hold us up.
        let _ = tokio::time::timeout(smtp.timeout, transport.shutdown()).await;
        Ok(report)
    }

    async fn send_one(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        smtp: &SmtpSettings,
        eml: &Path,
    ) -> Result<PathBuf, Failure> {
        let local = |text: String| Failure { text, stop: false };
        let envelope_file = envelope_path(eml);
        let stored: StoredEnvelope = fs::read(&envelope_file)
            .map_err(|e| e.to_string())
            .and_then(|json| serde_json::from_slice(&json).map_err(|e| e.to_string()))
            .map_err(|e| local(format!("cannot read {}: {e}", envelope_file.display())))?;
        let envelope = envelope(&stored).map_err(|e| local(e.to_string()))?;
        let bytes = fs::read(eml).map_err(|e| local(format!("cannot read: {e}")))?;

        match tokio::time::timeout(smtp.timeout, transport.send_raw(&envelope, &bytes)).await {
            Err(_) => {
                return Err(Failure {
                    text: format!(
                        "no answer from {}:{} within {:?}",
                        smtp.host, smtp.port, smtp.timeout
                    ),
                    stop: true,
                })
            }
            Ok(Err(e)) => {
                return Err(Failure {
                    text: smtp.redact(&error_text(&e)),
                    stop: !e.is_permanent(),
                })
            }
            Ok(Ok(_response)) => {}
        }

        // Accepted: from here on, failing to move means it will be sent again next time.
        let sent_dir = self.sent_dir();
        let file_name = eml.file_name().expect("a listed file has a name");
        let sent = sent_dir.join(file_name);
        let moved = fs::create_dir_all(&sent_dir).and_then(|()| fs::rename(eml, &sent));
        if let Err(e) = moved {
            return Err(local(format!(
                "delivered, but cannot move it to {}: {e}; the next flush will send it again",
                sent_dir.display()
            )));
        }
        if let Err(e) = fs::rename(&envelope_file, envelope_path(&sent)) {
            // A stray envelope in the outbox is ignored; the message itself has moved.
            tracing::warn!(file = %envelope_file.display(), error = %e, "cannot move the envelope to sent/");
        }
        let _ = sync_dir(&sent_dir).and_then(|()| sync_dir(&self.outbox_dir()));
        tracing::info!(file = %sent.display(), message_id = %stored.message_id, "report e-mail sent");
        Ok(sent)
    }

    /// Takes the flush lock, waiting for a flush in progress to finish.
    async fn lock(&self) -> Result<File, MailError> {
        let path = self.outbox_dir().join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| MailError::io("cannot open", &path, e))?;
        tokio::task::spawn_blocking(move || fs4::FileExt::lock(&file).map(|()| file))
            .await
            .expect("the lock task does not panic")
            .map_err(|e| MailError::io("cannot lock", path, e))
    }
}

fn envelope_path(eml: &Path) -> PathBuf {
    let mut name = eml.as_os_str().to_owned();
    name.push(ENVELOPE_SUFFIX);
    PathBuf::from(name)
}

fn envelope(stored: &StoredEnvelope) -> Result<Envelope, MailError> {
    let from = parse_address(&stored.from)?;
    let to = stored
        .to
        .iter()
        .map(|a| parse_address(a))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| MailError::Settings(format!("bad envelope: {e}")))
}

/// The error with its causes, each once (lettre repeats "Connection error: " when it wraps).
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    let mut segments: Vec<&str> = text.split(": ").collect();
    segments.dedup();
    segments.join(": ")
}

/// Writes `data` to a temporary file beside `path`, syncs it and renames it to `path`.
fn write_atomic(path: &Path, data: &[u8]) -> Result<(), MailError> {
    let dir = path.parent().expect("outbox files have a parent");
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().expect("a file name").to_string_lossy()
    ));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        MailError::io("cannot write", path, e)
    })
}

/// Makes renames in `dir` durable.
fn sync_dir(dir: &Path) -> Result<(), MailError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| MailError::io("cannot sync", dir, e))
}
