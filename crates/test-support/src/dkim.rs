//! DKIM keys made at test time: a new RSA key from openssl (the Debian
//! package `openssl`, which scripts/test installs) and its key record.

use std::path::Path;
use std::process::Command;

use base64::Engine as _;

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (Debian package openssl): {e}"));
    assert!(out.status.success(), "openssl {args:?} failed");
    out.stdout
}

/// A new RSA key of `bits` bits, made in `dir` under `name` and removed
/// from there: (the private key as openssl writes it in DER, PKCS#1, and
/// the public key for the record's `p=`).
pub fn rsa_key(dir: &Path, name: &str, bits: u32) -> (Vec<u8>, String) {
    let path = dir.join(format!("{name}.der"));
    let p = path.to_str().expect("a UTF-8 path");
    let bits = format!("rsa_keygen_bits:{bits}");
    openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        &bits,
        "-outform",
        "DER",
        "-out",
        p,
    ]);
    let der = std::fs::read(&path).expect("the key openssl wrote");
    let spki = openssl(&[
        "pkey", "-inform", "DER", "-in", p, "-pubout", "-outform", "DER",
    ]);
    let _ = std::fs::remove_file(&path);
    (der, base64::engine::general_purpose::STANDARD.encode(spki))
}

/// The TXT data of an RSA key record for `public` (`v=DKIM1; k=rsa; p=…`),
/// as zone-file strings of at most 200 bytes: `"…" "…"`.
pub fn rsa_key_record(public: &str) -> String {
    format!("v=DKIM1; k=rsa; p={public}")
        .as_bytes()
        .chunks(200)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}
