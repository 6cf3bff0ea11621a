//! The quarterly authentication test: each sender of a domain's inventory
//! mails a test message to a seed address once a quarter; the newest one of
//! each sender is verified, and the sender passes, fails with the exact
//! reason, or has sent no test message.
//!
//! A message belongs to a sender when its From domain is the domain (or a
//! subdomain) and one of these ties it to the sender: a DKIM signature
//! whose `d=` or selector belongs to the sender's catalog provider, the
//! envelope sender's domain belongs to that provider (or is one of the
//! sender's SPF include domains' providers), or the SMTP client's address
//! is in the sender's `ips`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use authwarden_api::domain::{normalize_name, organizational_domain};
use authwarden_api::Resolver;
use authwarden_catalog::Catalog;
use authwarden_inventory::inventory::{Inventory, Sender};
use serde::Serialize;

use crate::{verify, Verification, VerifyOptions, MAX_MESSAGE_BYTES};

/// The most test messages read from one folder.
pub const MAX_MESSAGES: usize = 2_000;

/// A test message found in a folder.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its `Date`, Unix seconds (0 when absent or unreadable).
    pub date: i64,
    /// The message.
    pub raw: Vec<u8>,
}

/// The messages of a folder of `.eml` files or of a Maildir (`cur/`, `new/`),
/// newest first; unreadable or oversized files are listed in the second
/// value with their reason.
pub fn read_folder(dir: &Path) -> (Vec<Candidate>, Vec<(PathBuf, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    for sub in ["cur", "new"] {
        if dir.join(sub).is_dir() {
            dirs.push(dir.join(sub));
        }
    }
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            problems.push((d.clone(), "cannot read the folder".into()));
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_file()
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files.truncate(MAX_MESSAGES);
    let mut out = Vec::new();
    for path in files {
        match std::fs::metadata(&path) {
            Ok(m) if m.len() > MAX_MESSAGE_BYTES as u64 => {
                problems.push((path, format!("larger than {MAX_MESSAGE_BYTES} bytes")));
                continue;
            }
            Err(e) => {
                problems.push((path, e.to_string()));
                continue;
            }
            _ => {}
        }
        match std::fs::read(&path) {
            Ok(raw) => {
                let date = mail_parser::MessageParser::default()
                    .parse_headers(&raw)
                    .and_then(|m| m.date().map(|d| d.to_timestamp()))
                    .unwrap_or(0);
                out.push(Candidate { path, date, raw });
            }
            Err(e) => problems.push((path, e.to_string())),
        }
    }
    out.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.path.cmp(&b.path)));
    (out, problems)
}

/// One sender's result.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SenderResult {
    /// The inventory's name for it.
    pub sender: String,
    /// `pass`, `fail` or `missing` (no test message this period).
    pub status: String,
    /// Why it failed, or what is missing.
    pub reason: Option<String>,
    /// The message verified (file name).
    pub message: Option<String>,
    /// Its `Date`, Unix seconds.
    pub date: Option<i64>,
    /// DMARC, aligned DKIM and aligned SPF results, e.g. `pass`, `fail`.
    pub dmarc: Option<String>,
    /// The aligned DKIM result.
    pub dkim: Option<String>,
    /// The aligned SPF result.
    pub spf: Option<String>,
}

/// Does `v` (of a message from `domain`) belong to `sender`?
fn belongs(v: &Verification, sender: &Sender, catalog: &Catalog) -> bool {
    let provider = sender.provider.as_ref().map(|p| p.id.as_str());
    let of_provider = |name: &str| {
        provider.is_some_and(|id| catalog.lookup(name).is_some_and(|p| p.id == id))
            || sender
                .includes
                .iter()
                .filter_map(|i| catalog.lookup(i))
                .any(|p| catalog.lookup(name).is_some_and(|q| q.id == p.id))
    };
    let by_dkim = v.dkim.iter().any(|d| {
        of_provider(&d.domain)
            || sender.provider.as_ref().is_some_and(|p| {
                p.dkim_selectors
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(&d.selector))
            })
    });
    let by_envelope = v
        .envelope
        .mail_from
        .as_deref()
        .and_then(|m| m.rsplit_once('@'))
        .is_some_and(|(_, d)| of_provider(d));
    // A source of its own (`includes`, no catalog provider): the envelope
    // sender or a signing domain under an include's organizational domain.
    let own_org = |name: &str| {
        let org = organizational_domain(name);
        sender
            .includes
            .iter()
            .any(|i| catalog.lookup(i).is_none() && organizational_domain(i) == org)
    };
    let by_own = v.dkim.iter().any(|d| own_org(&d.domain))
        || v.envelope
            .mail_from
            .as_deref()
            .and_then(|m| m.rsplit_once('@'))
            .is_some_and(|(_, d)| own_org(d));
    let by_ip = v
        .envelope
        .client_ip
        .is_some_and(|ip: IpAddr| sender.ips.iter().any(|c| c.contains(ip)));
    by_dkim || by_envelope || by_own || by_ip
}

/// Why `v` did not pass DMARC, in words.
pub(crate) fn failure_reason(v: &Verification) -> String {
    let mut parts = Vec::new();
    let aligned: Vec<_> = v.dkim.iter().filter(|d| d.aligned_relaxed).collect();
    if v.dkim.is_empty() {
        parts.push("not DKIM-signed".to_string());
    } else if aligned.is_empty() {
        let ds: Vec<String> = v.dkim.iter().map(|d| format!("d={}", d.domain)).collect();
        parts.push(format!(
            "DKIM not aligned: signed with {} instead of the From domain",
            ds.join(", ")
        ));
    } else {
        for d in aligned.iter().filter(|d| d.result != "pass") {
            parts.push(format!(
                "DKIM {} (s={}): {}",
                d.result,
                d.selector,
                d.reason.as_deref().unwrap_or("no reason given")
            ));
        }
    }
    match v.envelope.client_ip {
        None => parts.push("SPF not evaluated (no client IP in a trusted Received header)".into()),
        Some(ip) => {
            if let Some(c) = v.spf.iter().find(|c| c.identity == "mailfrom") {
                if c.result != "pass" {
                    parts.push(format!(
                        "SPF {} for {ip} at {}: the record does not authorize this server",
                        c.result, c.domain
                    ));
                } else if v.dmarc.spf != "pass" {
                    parts.push(format!(
                        "SPF passes for {} but is not aligned with the From domain (set a custom return-path under the domain)",
                        c.domain
                    ));
                }
            }
        }
    }
    if parts.is_empty() {
        parts.push(format!("DMARC {}", v.dmarc.result));
    }
    parts.join("; ")
}

/// A test message and its verification.
pub type Verified<'a> = (&'a Candidate, Verification);

/// Verifies each candidate once, in the candidates' order (newest first);
/// messages that are not messages are left out.
pub async fn verify_candidates<'a>(
    candidates: &'a [Candidate],
    resolver: Arc<dyn Resolver>,
    options: &VerifyOptions,
) -> Vec<Verified<'a>> {
    let mut out = Vec::new();
    for c in candidates {
        if let Ok(v) = verify(&c.raw, resolver.clone(), options).await {
            out.push((c, v));
        }
    }
    out
}

/// The result of every sender of `inventory` from the newest of the
/// `verified` messages sent as `domain` (or a subdomain).
pub fn sender_results(
    domain: &str,
    inventory: &Inventory,
    verified: &[Verified<'_>],
) -> Vec<SenderResult> {
    let domain = normalize_name(domain);
    let catalog = Catalog::builtin();
    let subdomain = format!(".{domain}");
    let verified: Vec<&Verified<'_>> = verified
        .iter()
        .filter(|(_, v)| {
            v.dmarc
                .from_domain
                .as_deref()
                .is_some_and(|f| f == domain || f.ends_with(&subdomain))
        })
        .collect();
    inventory
        .senders
        .iter()
        .map(|sender| {
            let found = verified.iter().find(|(_, v)| belongs(v, sender, catalog));
            match found {
                None => SenderResult {
                    sender: sender.id.clone(),
                    status: "missing".into(),
                    reason: Some("no test message this quarter".into()),
                    message: None,
                    date: None,
                    dmarc: None,
                    dkim: None,
                    spf: None,
                },
                Some((c, v)) => SenderResult {
                    sender: sender.id.clone(),
                    status: if v.passes() { "pass" } else { "fail" }.into(),
                    reason: (!v.passes()).then(|| failure_reason(v)),
                    message: c.path.file_name().map(|n| n.to_string_lossy().into_owned()),
                    date: (c.date > 0).then_some(c.date),
                    dmarc: Some(v.dmarc.result.clone()),
                    dkim: Some(v.dmarc.dkim.clone()),
                    spf: Some(v.dmarc.spf.clone()),
                },
            }
        })
        .collect()
}
