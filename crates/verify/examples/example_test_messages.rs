//! Makes the bundled example's quarterly test messages
//! (`config/example-test-messages/`) and prints the DKIM key records to put
//! in `config/example.zone`: new keys each time (openssl), signed with
//! mail-auth, private keys thrown away.
//!
//!     cargo run -p authwarden-verify --example example_test_messages -- config/example-test-messages
//!
//! The messages are what each sender of the example inventory mailed to the
//! seed mailbox in 2026-Q3: healthy.example's office relay (passes),
//! healthy.example's mail host (a footer added after signing and an
//! envelope sender outside the domain: fails DMARC), rollout.example's
//! mail host (passes through DKIM); rollout.example's SendGrid and
//! monitoring.example's mail host sent none.

use std::path::PathBuf;

use authwarden_test_support::dkim::{rsa_key, rsa_key_record};
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

struct Message {
    file: &'static str,
    domain: &'static str,
    selector: &'static str,
    client: &'static str,
    helo: &'static str,
    mail_from: &'static str,
    date: &'static str,
    /// Text appended after signing (a footer).
    footer: &'static str,
}

fn main() {
    let out = PathBuf::from(std::env::args().nth(1).expect("output folder"));
    std::fs::create_dir_all(&out).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let messages = [
        Message {
            file: "2026-09-14-healthy-office.eml",
            domain: "healthy.example",
            selector: "office2026",
            client: "192.0.2.25",
            helo: "relay.healthy.example",
            mail_from: "it@healthy.example",
            date: "Mon, 14 Sep 2026 09:12:00 +0000",
            footer: "",
        },
        Message {
            file: "2026-09-15-healthy-mailhost.eml",
            domain: "healthy.example",
            selector: "mailhost2026",
            client: "198.51.100.10",
            helo: "out1.mailhost.example",
            mail_from: "bounces@mailhost.example",
            date: "Tue, 15 Sep 2026 10:30:00 +0000",
            footer: "--\r\nThis message was scanned by the mail host.\r\n",
        },
        Message {
            file: "2026-09-15-rollout-mailhost.eml",
            domain: "rollout.example",
            selector: "mailhost2026",
            client: "198.51.100.10",
            helo: "out1.mailhost.example",
            mail_from: "bounces@mailhost.example",
            date: "Tue, 15 Sep 2026 10:35:00 +0000",
            footer: "",
        },
    ];
    let mut keys: Vec<(String, (Vec<u8>, String))> = Vec::new();
    for m in &messages {
        let name = format!("{}._domainkey.{}", m.selector, m.domain);
        if !keys.iter().any(|(n, _)| *n == name) {
            keys.push((
                name.clone(),
                rsa_key(tmp.path(), &m.selector.replace('.', "-"), 2048),
            ));
        }
        let (der, _) = &keys.iter().find(|(n, _)| *n == name).unwrap().1;
        let body = format!(
            "From: IT <it@{d}>\r\nTo: seed@tests.healthy.example\r\nSubject: Quarterly authentication test ({s})\r\nDate: {date}\r\nMessage-ID: <{s}.{file}@{d}>\r\n\r\nThis is the quarterly authentication test of {d}, sent through {helo}.\r\n",
            d = m.domain,
            s = m.selector,
            date = m.date,
            file = m.file,
            helo = m.helo,
        );
        let k = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(
            der.clone(),
        )))
        .unwrap();
        let sig = DkimSigner::from_key(k)
            .domain(m.domain)
            .selector(m.selector)
            .headers(["From", "To", "Subject", "Date", "Message-ID"])
            .sign(body.as_bytes())
            .unwrap()
            .to_header();
        let received = format!(
            "Return-Path: <{}>\r\nReceived: from {} ({} [{}])\r\n\tby mx1.healthy.example with ESMTPS; {}\r\n",
            m.mail_from, m.helo, m.helo, m.client, m.date
        );
        std::fs::write(
            out.join(m.file),
            format!("{received}{sig}{body}{}", m.footer),
        )
        .unwrap();
    }
    for (name, (_, p)) in &keys {
        println!("{name}. IN TXT ( {} )", rsa_key_record(p));
    }
}
