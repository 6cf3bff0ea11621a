//! What the TLS test servers (SMTP and IMAP) share: a throw-away CA and a
//! server certificate for loopback, and writing their files.

use std::fs;
use std::path::Path;

use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair};

/// The address the test servers listen on.
const HOST: &str = "127.0.0.1";

/// A CA certificate (PEM) and a server certificate and key (PEM) for localhost and 127.0.0.1.
pub(crate) fn make_certificates() -> Result<(String, String, String), String> {
    let err = |e: rcgen::Error| format!("cannot make the test certificates: {e}");
    let (ca_pem, issuer) = crate::https::make_ca()?;

    let key = KeyPair::generate().map_err(err)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_string(), HOST.to_string()]).map_err(err)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let cert = params.signed_by(&key, &issuer).map_err(err)?;
    Ok((ca_pem, cert.pem(), key.serialize_pem()))
}

pub(crate) fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    fs::write(path, data).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
