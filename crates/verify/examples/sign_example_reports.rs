//! DKIM-signs the report mails of the bundled example
//! (`config/example-reports/*.mbox`) the way their reporters sign them, and
//! prints the key records to put in `config/example.zone`: new stand-in
//! keys each time (openssl), private keys thrown away. The example then
//! shows what the intake records for an authentic report (`report_auth` =
//! `authenticated`). Run it after `scripts/example-reports.py`,
//! `scripts/example-tls-reports.py` or `scripts/example-failure-reports.py`
//! rewrote a mailbox:
//!
//!     cargo run -p authwarden-verify --example sign_example_reports -- config/example-reports
//!
//! A message that already has a DKIM-Signature is signed again from its
//! unsigned form (the old signature is removed first).

use std::path::PathBuf;

use authwarden_test_support::dkim::{rsa_key, rsa_key_record};
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

/// The selector of every stand-in key.
const SELECTOR: &str = "example2026";

/// The messages of an mbox: (the `From ` line, the message with LF line ends).
fn messages(mbox: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in mbox.split_inclusive('\n') {
        if line.starts_with("From ") {
            out.push((line.to_string(), String::new()));
        } else if let Some((_, m)) = out.last_mut() {
            m.push_str(line);
        }
    }
    out
}

/// `message` without its DKIM-Signature header fields.
fn unsigned(message: &str) -> String {
    let (head, body) = message.split_once("\n\n").unwrap_or((message, ""));
    let mut kept = String::new();
    let mut skipping = false;
    for line in head.split_inclusive('\n') {
        if line.starts_with([' ', '\t']) {
            if !skipping {
                kept.push_str(line);
            }
            continue;
        }
        skipping = line.to_ascii_lowercase().starts_with("dkim-signature:");
        if !skipping {
            kept.push_str(line);
        }
    }
    if !kept.ends_with('\n') {
        kept.push('\n');
    }
    format!("{kept}\n{body}")
}

/// The domain of the message's `From` address.
fn from_domain(message: &str) -> String {
    let line = message
        .lines()
        .take_while(|l| !l.is_empty())
        .find(|l| l.to_ascii_lowercase().starts_with("from:"))
        .expect("a From header");
    let addr = line.rsplit('@').next().unwrap();
    addr.trim_end_matches(['>', ' ']).to_ascii_lowercase()
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("the example-reports folder"));
    let tmp = tempfile::tempdir().unwrap();
    let mut keys: Vec<(String, (Vec<u8>, String))> = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "mbox"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut out = String::new();
        let mut n = 0;
        for (from_line, message) in messages(&text) {
            let message = unsigned(&message);
            let domain = from_domain(&message);
            if !keys.iter().any(|(d, _)| *d == domain) {
                keys.push((domain.clone(), rsa_key(tmp.path(), &domain, 2048)));
            }
            let (der, _) = &keys.iter().find(|(d, _)| *d == domain).unwrap().1;
            let k = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(
                der.clone(),
            )))
            .unwrap();
            let crlf = message.replace('\n', "\r\n");
            let sig = DkimSigner::from_key(k)
                .domain(domain.as_str())
                .selector(SELECTOR)
                .headers([
                    "From",
                    "To",
                    "Subject",
                    "Date",
                    "MIME-Version",
                    "Content-Type",
                ])
                .sign(crlf.as_bytes())
                .unwrap()
                .to_header()
                .replace("\r\n", "\n");
            out.push_str(&from_line);
            out.push_str(&sig);
            out.push_str(&message);
            n += 1;
        }
        std::fs::write(&file, out).unwrap();
        eprintln!("{}: {n} messages signed", file.display());
    }
    for (domain, (_, p)) in &keys {
        println!(
            "{SELECTOR}._domainkey.{domain}. IN TXT ( {} )",
            rsa_key_record(p)
        );
    }
}
