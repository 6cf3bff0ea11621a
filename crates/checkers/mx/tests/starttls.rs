//! The optional STARTTLS probe of the mx checker against a real SMTP server
//! (aiosmtpd on loopback, certificates from a CA made by the test): a good
//! certificate passes, an expired one and a missing STARTTLS have their
//! codes, and without `starttls_probe = true` no connection is made.

use std::sync::Arc;
use std::time::Duration;

use authwarden_api::serde_json::json;
use authwarden_api::starttls::StarttlsProbeExt;
use authwarden_api::{CheckContext, CheckOutput, Checker, DomainTarget, SystemClock};
use authwarden_checker_mx::Mx;
use authwarden_https::StarttlsClient;
use authwarden_test_support::https::{test_certificates, SiteCert};
use authwarden_test_support::smtp::{SmtpOptions, SmtpServer};
use authwarden_zone::ZoneResolver;

const ZONE: &str = "$ORIGIN example.test.
@ 300 IN SOA ns hostmaster 1 3600 900 604800 300
@ 300 IN MX 10 mx.example.test.
mx 300 IN A 127.0.0.1
$ORIGIN 127.in-addr.arpa.
@ 300 IN SOA ns.example.test. hostmaster.example.test. 1 3600 900 604800 300
1.0.0 300 IN PTR mx.example.test.
";

async fn check(cert: Option<SiteCert>, probe_on: bool) -> CheckOutput {
    let certificates = cert.map(|c| test_certificates("mx.example.test", c).unwrap());
    let ca = certificates.as_ref().map(|c| c.ca.clone().into_bytes());
    let server = SmtpServer::start(SmtpOptions {
        starttls: certificates.is_some(),
        certificates,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let probe = StarttlsClient::new(ca.as_deref(), Duration::from_secs(10), "probe.example.test")
        .unwrap()
        .with_port(server.port());
    let mut ctx = CheckContext::new(
        Arc::new(ZoneResolver::from_str(ZONE).unwrap()),
        Arc::new(SystemClock),
    )
    .with_config(json!({"starttls_probe": probe_on}));
    ctx.extensions
        .insert(Arc::new(StarttlsProbeExt(Arc::new(probe))));
    Mx.check(&ctx, &DomainTarget::new("example.test")).await
}

fn codes(out: &CheckOutput) -> Vec<&str> {
    out.findings.iter().map(|f| f.code.as_str()).collect()
}

#[tokio::test]
async fn a_valid_certificate_passes() {
    let out = check(Some(SiteCert::Valid), true).await;
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert_eq!(
        out.facts.unwrap()["hosts"][0]["starttls"]["result"],
        "secure"
    );
}

#[tokio::test]
async fn an_expired_certificate_is_mx009() {
    let out = check(Some(SiteCert::Expired), true).await;
    assert_eq!(codes(&out), ["MX009"]);
    assert!(
        out.findings[0].message.contains("expired"),
        "{}",
        out.findings[0].message
    );
}

#[tokio::test]
async fn no_starttls_is_mx008() {
    assert_eq!(codes(&check(None, true).await), ["MX008"]);
}

#[tokio::test]
async fn the_probe_is_off_by_default() {
    let out = check(None, false).await;
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    assert!(out.facts.unwrap()["hosts"][0].get("starttls").is_none());
}

/// A server that offers STARTTLS, accepts it and then answers the TLS
/// handshake with plain text: a TLS failure that is not the certificate.
#[tokio::test]
async fn a_broken_handshake_is_mx010() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut line = String::new();
        w.write_all(b"220 mx.example.test ESMTP\r\n").unwrap();
        r.read_line(&mut line).unwrap();
        w.write_all(b"250-mx.example.test\r\n250 STARTTLS\r\n")
            .unwrap();
        line.clear();
        r.read_line(&mut line).unwrap();
        w.write_all(b"220 go ahead\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let _ = w.write_all(b"this is not a TLS server hello at all\r\n");
        std::thread::sleep(Duration::from_millis(500));
    });
    let probe = StarttlsClient::new(None, Duration::from_secs(10), "probe.example.test")
        .unwrap()
        .with_port(port);
    let mut ctx = CheckContext::new(
        Arc::new(ZoneResolver::from_str(ZONE).unwrap()),
        Arc::new(SystemClock),
    )
    .with_config(json!({"starttls_probe": true}));
    ctx.extensions
        .insert(Arc::new(StarttlsProbeExt(Arc::new(probe))));
    let out = Mx.check(&ctx, &DomainTarget::new("example.test")).await;
    assert_eq!(codes(&out), ["MX010"], "{:?}", out.findings);
}
