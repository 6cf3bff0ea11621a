//! Messages signed at test time with keys the test generates (openssl):
//! RSA 2048 and 1024, Ed25519, and the RFC 8301 failures (an RSA key under
//! 1024 bits, rsa-sha1), plus tampered copies — a changed body, a changed
//! signed header, an expired `x=` — each with its expected result and reason.
//! DNS comes from a zone (the project's zone-file resolver) through the
//! verification's DNS bridge; SPF and DMARC are evaluated for a client IP.

use std::process::Command;
use std::sync::Arc;

use authwarden_api::{async_trait, DnsAnswer, DnsOutcome, RecordType, Resolver};
use authwarden_verify::{verify, Verification, VerifyOptions};
use authwarden_zone::{Zone, ZoneResolver};

/// Every name does not exist.
struct Nowhere;

#[async_trait]
impl Resolver for Nowhere {
    async fn query(&self, name: &str, rtype: RecordType) -> DnsAnswer {
        DnsAnswer {
            name: name.to_string(),
            rtype,
            cname_chain: Vec::new(),
            outcome: DnsOutcome::NxDomain,
        }
    }
}
use base64::Engine as _;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

const MESSAGE: &str = "From: Alice <alice@example.org>\r\n\
To: bob@example.net\r\n\
Subject: Quarterly authentication test\r\n\
Date: Tue, 1 Dec 2026 10:00:00 +0000\r\n\
Message-ID: <test-1@example.org>\r\n\
List-Unsubscribe: <https://example.org/u/1>, <mailto:u@example.org>\r\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\
\r\n\
This message tests SPF, DKIM and DMARC.\r\n";

struct Key {
    path: std::path::PathBuf,
    pkcs8: Vec<u8>,
    /// The `p=` value.
    public: String,
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl (Debian package openssl, installed by scripts/test)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A new key for `selector`: `rsa:<bits>` or `ed25519`.
fn generate(selector: &str, kind: &str, dir: &std::path::Path) -> Key {
    let path = dir.join(format!("{selector}.der"));
    let path_s = path.to_str().unwrap();
    match kind.split_once(':') {
        Some(("rsa", bits)) => {
            let opt = format!("rsa_keygen_bits:{bits}");
            openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                &opt,
                "-outform",
                "DER",
                "-out",
                path_s,
            ]);
        }
        _ => {
            openssl(&[
                "genpkey",
                "-algorithm",
                "ed25519",
                "-outform",
                "DER",
                "-out",
                path_s,
            ]);
        }
    }
    let pkcs8 = std::fs::read(&path).unwrap();
    let spki = openssl(&[
        "pkey", "-inform", "DER", "-in", path_s, "-pubout", "-outform", "DER",
    ]);
    let public = if kind == "ed25519" {
        // RFC 8463: the raw 32-byte key, the end of the SPKI.
        base64::engine::general_purpose::STANDARD.encode(&spki[spki.len() - 32..])
    } else {
        base64::engine::general_purpose::STANDARD.encode(&spki)
    };
    Key {
        path,
        pkcs8,
        public,
    }
}

fn txt(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The DKIM-Signature header of `text` signed by `key` at `selector` of
/// example.org, expiring `expires` seconds from now.
fn dkim_header<K: SigningKey>(key: K, selector: &str, expires: Option<i64>, text: &str) -> String {
    let headers = [
        "From",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ];
    let mut signer = DkimSigner::from_key(key)
        .domain("example.org")
        .selector(selector)
        .headers(headers);
    if let Some(e) = expires {
        signer = signer.expiration(e.max(1) as u64);
    }
    signer.sign(text.as_bytes()).unwrap().to_header()
}

struct Setup {
    _dir: tempfile::TempDir,
    keys: Vec<(&'static str, Key)>,
    resolver: Arc<dyn Resolver>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Vec::new();
    for (selector, kind) in [
        ("rsa2048", "rsa:2048"),
        ("rsa1024", "rsa:1024"),
        ("rsa512", "rsa:512"),
        ("ed", "ed25519"),
        ("google", "rsa:2048"),
    ] {
        keys.push((selector, generate(selector, kind, dir.path())));
    }
    let mut zone = String::from(
        "$ORIGIN example.org.\n@ MX 10 mail\nmail A 192.0.2.10\n\
         @ TXT \"v=spf1 ip4:192.0.2.10 -all\"\n\
         _dmarc TXT \"v=DMARC1; p=reject; adkim=s; rua=mailto:dmarc@example.org\"\n",
    );
    for (selector, key) in &keys {
        let k = if *selector == "ed" { "ed25519" } else { "rsa" };
        zone.push_str(&format!(
            "{selector}._domainkey TXT {}\n",
            txt(&format!("v=DKIM1; k={k}; p={}", key.public))
        ));
    }
    Setup {
        // The zone, and NXDOMAIN for every other name (the DMARC tree walk
        // asks `_dmarc.org` too), as the Internet would answer.
        resolver: Arc::new(ZoneResolver::with_fallback(
            Zone::parse(&zone, "<inline>", None).unwrap(),
            Arc::new(Nowhere),
        )),
        keys,
        _dir: dir,
    }
}

impl Setup {
    fn key_path(&self, selector: &str) -> std::path::PathBuf {
        self.key(selector).path.clone()
    }

    fn key(&self, selector: &str) -> &Key {
        &self.keys.iter().find(|(s, _)| *s == selector).unwrap().1
    }

    /// `MESSAGE` signed with the key at `selector`, `expires` seconds from now
    /// (negative: already expired).
    fn signed(&self, selector: &str, sha1: bool, expires: Option<i64>) -> String {
        self.sign_text(selector, sha1, expires, MESSAGE)
    }

    /// `text` signed with the key at `selector`.
    fn sign_text(&self, selector: &str, sha1: bool, expires: Option<i64>, text: &str) -> String {
        let key = self.key(selector);
        let der = || // openssl writes RSA keys in DER as PKCS#1.
            PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(key.pkcs8.clone()));
        let header = if selector == "ed" {
            dkim_header(
                Ed25519Key::from_pkcs8_der(&key.pkcs8).unwrap(),
                selector,
                expires,
                text,
            )
        } else if sha1 {
            sign_rsa_sha1(&self.key_path(selector), selector)
        } else {
            dkim_header(
                RsaKey::<Sha256>::from_key_der(der()).unwrap(),
                selector,
                expires,
                text,
            )
        };
        format!("{header}{text}")
    }

    async fn verify(&self, message: &str) -> Verification {
        let opts = VerifyOptions {
            client_ip: Some("192.0.2.10".parse().unwrap()),
            helo: Some("mail.example.org".into()),
            mail_from: Some("bounce@example.org".into()),
            ..Default::default()
        };
        verify(message.as_bytes(), self.resolver.clone(), &opts)
            .await
            .unwrap()
    }
}

fn only_dkim(v: &Verification) -> &authwarden_verify::DkimSignature {
    assert_eq!(v.dkim.len(), 1, "{:#?}", v.dkim);
    &v.dkim[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_signatures_pass_and_tampered_copies_fail_with_their_reason() {
    let s = setup();

    for (selector, bits) in [
        ("rsa2048", Some(2048)),
        ("rsa1024", Some(1024)),
        ("ed", None),
    ] {
        let v = s.verify(&s.signed(selector, false, None)).await;
        let d = only_dkim(&v);
        assert_eq!(d.result, "pass", "{selector}: {d:#?}");
        assert_eq!(d.key_bits, bits, "{selector}");
        assert!(d.aligned_strict && d.aligned_relaxed);
        assert_eq!(v.dmarc.result, "pass", "{selector}: {:#?}", v.dmarc);
        assert_eq!(v.dmarc.dkim, "pass");
        assert_eq!(v.dmarc.spf, "pass");
        assert_eq!(v.dmarc.policy.as_deref(), Some("reject"));
        assert_eq!(v.dmarc.dkim_alignment.as_deref(), Some("strict"));
        assert!(v.passes());
        assert!(
            v.bulk.one_click && v.bulk.https_uri && v.bulk.signed,
            "{:#?}",
            v.bulk
        );
        // mail.example.org, the HELO name, publishes no SPF record.
        assert_eq!(
            v.spf.iter().map(|c| c.result.as_str()).collect::<Vec<_>>(),
            ["none", "pass"]
        );
    }
    assert_eq!(
        only_dkim(&s.verify(&s.signed("ed", false, None)).await).algorithm,
        "ed25519-sha256"
    );

    // A footer added after signing.
    let signed = s.signed("rsa2048", false, None);
    let footer = format!("{signed}--\r\nSent through the list\r\n");
    let d = only_dkim(&s.verify(&footer).await).clone();
    // "neutral (body hash did not verify)", as Gmail reports it.
    assert_eq!(d.result, "neutral", "{d:#?}");
    assert!(
        d.reason
            .as_deref()
            .unwrap()
            .starts_with("body hash mismatch"),
        "{d:#?}"
    );

    // A signed header changed (a list's subject tag).
    let tagged = signed.replace("Subject: Quarterly", "Subject: [list] Quarterly");
    let d = only_dkim(&s.verify(&tagged).await).clone();
    assert_eq!(d.result, "fail", "{d:#?}");
    assert!(
        d.reason
            .as_deref()
            .unwrap()
            .starts_with("signature mismatch"),
        "{d:#?}"
    );

    // Without DKIM, SPF alone still aligns; with a foreign client IP too,
    // DMARC fails and p=reject applies.
    let v = s.verify(&tagged).await;
    assert_eq!(v.dmarc.result, "pass", "spf still aligns: {:#?}", v.dmarc);
    let opts = VerifyOptions {
        client_ip: Some("203.0.113.66".parse().unwrap()),
        helo: Some("spoof.example".into()),
        mail_from: Some("bounce@example.org".into()),
        ..Default::default()
    };
    let v = verify(tagged.as_bytes(), s.resolver.clone(), &opts)
        .await
        .unwrap();
    assert_eq!(v.dmarc.result, "fail", "{:#?}", v.dmarc);
    assert_eq!(v.dmarc.disposition, "reject");
    assert!(!v.passes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc_8301_small_keys_and_sha1_fail() {
    let s = setup();
    let d = only_dkim(&s.verify(&s.signed("rsa512", false, None)).await).clone();
    assert_eq!(d.key_bits, Some(512));
    assert_eq!(d.result, "fail", "{d:#?}");
    assert!(d.reason.as_deref().unwrap().contains("RFC 8301"), "{d:#?}");

    let d = only_dkim(&s.verify(&s.signed("rsa2048", true, None)).await).clone();
    assert_eq!(d.algorithm, "rsa-sha1");
    assert_eq!(d.result, "fail", "{d:#?}");
    assert!(d.reason.as_deref().unwrap().contains("rsa-sha1"), "{d:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_signature_is_a_permerror() {
    let s = setup();
    // x= one second after signing: expired once two seconds have passed.
    let signed = s.signed("rsa2048", false, Some(1));
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let d = only_dkim(&s.verify(&signed).await).clone();
    assert!(d.expires.is_some());
    assert_ne!(d.result, "pass", "{d:#?}");
    assert!(d.reason.as_deref().unwrap().contains("expired"), "{d:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_a_message_is_bad_input() {
    let s = setup();
    let err = verify(b"", s.resolver.clone(), &VerifyOptions::default()).await;
    assert!(err.is_err());
}

/// `MESSAGE`'s DKIM-Signature with a=rsa-sha1, c=simple/simple, made by
/// hand (mail-auth signs only with SHA-256) and signed by openssl: RFC 6376
/// section 3.7 with the simple canonicalization, which leaves the header
/// fields as they are.
fn sign_rsa_sha1(key: &std::path::Path, selector: &str) -> String {
    use sha1::Digest;
    let (head, body) = MESSAGE.split_once("\r\n\r\n").unwrap();
    let mut body = body.to_string();
    while body.ends_with("\r\n\r\n") {
        body.truncate(body.len() - 2);
    }
    let bh = base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(body.as_bytes()));
    let fields: Vec<&str> = head.split("\r\n").collect();
    let names = ["From", "To", "Subject"];
    let unsigned = format!(
        "DKIM-Signature: v=1; a=rsa-sha1; c=simple/simple; d=example.org; s={selector}; h={}; bh={bh}; b=",
        names.join(":")
    );
    let mut data = String::new();
    for name in names {
        let field = fields
            .iter()
            .find(|f| f.starts_with(&format!("{name}:")))
            .unwrap();
        data.push_str(field);
        data.push_str("\r\n");
    }
    data.push_str(&unsigned);
    let dir = key.parent().unwrap();
    let input = dir.join("sha1-input");
    std::fs::write(&input, data).unwrap();
    let signature = openssl(&[
        "dgst",
        "-sha1",
        "-keyform",
        "DER",
        "-sign",
        key.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let b = base64::engine::general_purpose::STANDARD.encode(signature);
    format!("{unsigned}{b}\r\n")
}

/// The quarterly authentication test: the inventory's senders each get the
/// result of their newest test message, or "no test message".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authentication_test_gives_each_sender_its_result() {
    use authwarden_verify::authtest::{read_folder, sender_results, verify_candidates};
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let message = |date: &str, subject: &str| {
        MESSAGE
            .replace("Tue, 1 Dec 2026 10:00:00 +0000", date)
            .replace("Quarterly authentication test", subject)
    };
    let received = "Received: from mail.example.org (mail.example.org [192.0.2.10]) by mx.seed.example; Tue, 1 Dec 2026 10:00:01 +0000\r\n";
    // Google Workspace (selector `google`): an old failing message and a
    // newer passing one: the newer counts.
    let old = format!(
        "{received}{}",
        s.sign_text(
            "google",
            false,
            None,
            &message("Mon, 2 Nov 2026 10:00:00 +0000", "old")
        )
    );
    let old = old.replace("This message tests", "Edited: this message tests");
    std::fs::write(dir.path().join("1-old.eml"), old).unwrap();
    let new = format!(
        "{received}{}",
        s.sign_text(
            "google",
            false,
            None,
            &message("Tue, 1 Dec 2026 10:00:00 +0000", "new")
        )
    );
    std::fs::write(dir.path().join("2-new.eml"), new).unwrap();
    // The office relay (192.0.2.0/24): signed, then a footer added.
    let office = s.sign_text(
        "rsa2048",
        false,
        None,
        &message("Tue, 1 Dec 2026 11:00:00 +0000", "office"),
    );
    let office = format!(
        "Received: from relay.example.org (relay.example.org [192.0.2.77]) by mx.seed.example; Tue, 1 Dec 2026 11:00:01 +0000\r\n{office}-- \r\nDisclaimer\r\n"
    );
    std::fs::write(dir.path().join("3-office.eml"), office).unwrap();
    std::fs::write(dir.path().join("4-junk.eml"), "not a message").unwrap();

    let (candidates, problems) = read_folder(dir.path());
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(candidates.len(), 4);
    let settings = authwarden_api::serde_json::json!({"inventory": {"senders": [
        {"provider": "google-workspace"},
        {"name": "office", "ips": ["192.0.2.0/24"]},
        {"provider": "sendgrid"},
    ]}});
    let (inventory, problems) = authwarden_inventory::inventory::parse_inventory(
        &settings,
        authwarden_catalog::Catalog::builtin(),
    );
    assert!(problems.is_empty(), "{problems:?}");
    let opts = VerifyOptions {
        trusted_receivers: vec!["mx.seed.example".into()],
        mail_from: Some("bounce@example.org".into()),
        ..Default::default()
    };
    let verified = verify_candidates(&candidates, s.resolver.clone(), &opts).await;
    let results = sender_results("example.org", &inventory, &verified);
    let by: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r.sender.as_str(), r.status.as_str()))
        .collect();
    // The office relay's message: its IP (192.0.2.77) is not in the SPF
    // record and the footer breaks DKIM, so it fails, with both reasons.
    assert_eq!(
        by,
        [
            ("google-workspace", "pass"),
            ("office", "fail"),
            ("sendgrid", "missing")
        ],
        "{results:#?}"
    );
    let office = &results[1];
    let reason = office.reason.as_deref().unwrap();
    assert!(reason.contains("body hash mismatch"), "{reason}");
    assert!(reason.contains("SPF fail for 192.0.2.77"), "{reason}");
    assert_eq!(office.message.as_deref(), Some("3-office.eml"));
    assert_eq!(results[0].message.as_deref(), Some("2-new.eml"));
    assert_eq!(
        results[2].reason.as_deref(),
        Some("no test message this quarter")
    );
}
