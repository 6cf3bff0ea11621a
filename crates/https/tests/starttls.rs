//! The STARTTLS probe against a real SMTP server (aiosmtpd on loopback):
//! a good certificate, an expired one, one for another name, and a server
//! that does not offer STARTTLS.

use std::net::IpAddr;
use std::time::Duration;

use authwarden_api::https::HttpsFailureKind;
use authwarden_api::starttls::{StarttlsOutcome, StarttlsProbe};
use authwarden_https::StarttlsClient;
use authwarden_test_support::https::{test_certificates, SiteCert};
use authwarden_test_support::smtp::{SmtpOptions, SmtpServer};

const MX: &str = "mx.example.test";

async fn probe(cert: Option<SiteCert>) -> StarttlsOutcome {
    let certificates = cert.map(|c| test_certificates(MX, c).unwrap());
    let ca = certificates.as_ref().map(|c| c.ca.clone().into_bytes());
    let server = SmtpServer::start(SmtpOptions {
        starttls: certificates.is_some(),
        certificates,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let client = StarttlsClient::new(ca.as_deref(), Duration::from_secs(10), "probe.example.test")
        .unwrap()
        .with_port(server.port());
    client
        .probe(MX, server.host().parse::<IpAddr>().unwrap())
        .await
}

#[tokio::test]
async fn a_valid_certificate_is_secure() {
    match probe(Some(SiteCert::Valid)).await {
        StarttlsOutcome::Secure { version } => assert!(version.starts_with("TLSv1."), "{version}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_expired_certificate_is_told_apart() {
    match probe(Some(SiteCert::Expired)).await {
        StarttlsOutcome::TlsFailed { kind, .. } => {
            assert_eq!(kind, HttpsFailureKind::CertificateExpired)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_certificate_for_another_name_is_told_apart() {
    match probe(Some(SiteCert::OtherName("smtp.elsewhere.example".into()))).await {
        StarttlsOutcome::TlsFailed { kind, .. } => {
            assert_eq!(kind, HttpsFailureKind::CertificateName)
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn no_starttls_offered() {
    assert_eq!(probe(None).await, StarttlsOutcome::NotOffered);
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let port = authwarden_test_support::util::free_port();
    let client = StarttlsClient::new(None, Duration::from_secs(5), "probe.example.test")
        .unwrap()
        .with_port(port);
    match client.probe(MX, "127.0.0.1".parse().unwrap()).await {
        StarttlsOutcome::Unreachable { kind, .. } => assert_eq!(kind, HttpsFailureKind::Connect),
        other => panic!("{other:?}"),
    }
}
