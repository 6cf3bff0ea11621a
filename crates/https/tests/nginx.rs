//! The fetcher against a real nginx on loopback port 443, with certificates
//! from a CA made at test time: each certificate problem is its own failure
//! kind, a redirect is an answer that is not followed, a large body is cut,
//! and a server that accepts and never answers costs the timeout, no more.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authwarden_api::https::{HttpsFailureKind, HttpsFetcher, MAX_BODY};
use authwarden_https::HttpsClient;
use authwarden_test_support::https::{HttpsServer, HttpsSite, SiteCert};
use authwarden_zone::ZoneResolver;

const PATH: &str = "/.well-known/mta-sts.txt";
const POLICY: &str = "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 604800\n";

/// `host` resolves to `address` (and `nowhere.example.test` to nothing).
fn client(hosts: &[(&str, &str)], ca: Option<&std::path::Path>, timeout: Duration) -> HttpsClient {
    let mut zone =
        String::from("$ORIGIN example.test.\n@ 300 IN SOA ns hostmaster 1 3600 900 604800 300\n");
    for (host, address) in hosts {
        zone.push_str(&format!("{host}. 300 IN A {address}\n"));
    }
    let resolver = ZoneResolver::from_str(&zone).unwrap();
    let pem = ca.map(|p| std::fs::read(p).unwrap());
    HttpsClient::new(Arc::new(resolver), pem.as_deref(), timeout).unwrap()
}

fn server(sites: &[HttpsSite]) -> HttpsServer {
    HttpsServer::start(sites).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_valid_site_answers_with_status_type_and_body() {
    let s = server(&[HttpsSite::file(
        [127, 0, 0, 2],
        "mta-sts.good.example.test",
        PATH,
        POLICY,
    )]);
    let c = client(
        &[("mta-sts.good.example.test", "127.0.0.2")],
        Some(&s.ca_file()),
        Duration::from_secs(5),
    );
    let r = c
        .get("mta-sts.good.example.test", PATH)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", s.log()));
    assert_eq!(r.status, 200);
    assert_eq!(r.media_type().as_deref(), Some("text/plain"));
    assert_eq!(r.body, POLICY.as_bytes());
    assert!(!r.truncated);
    assert_eq!(r.address, "127.0.0.2");
    let missing = c
        .get("mta-sts.good.example.test", "/nothing")
        .await
        .unwrap();
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn certificate_problems_are_told_apart() {
    let s = server(&[
        HttpsSite::file([127, 0, 0, 3], "mta-sts.expired.example.test", PATH, POLICY)
            .cert(SiteCert::Expired),
        HttpsSite::file([127, 0, 0, 4], "mta-sts.wrong.example.test", PATH, POLICY)
            .cert(SiteCert::OtherName("www.elsewhere.example".into())),
    ]);
    let hosts = [
        ("mta-sts.expired.example.test", "127.0.0.3"),
        ("mta-sts.wrong.example.test", "127.0.0.4"),
    ];
    let c = client(&hosts, Some(&s.ca_file()), Duration::from_secs(5));
    let kind = |r: Result<_, authwarden_api::https::HttpsFailure>| r.unwrap_err().kind;
    assert_eq!(
        kind(c.get("mta-sts.expired.example.test", PATH).await),
        HttpsFailureKind::CertificateExpired
    );
    assert_eq!(
        kind(c.get("mta-sts.wrong.example.test", PATH).await),
        HttpsFailureKind::CertificateName
    );
    // Without the test CA, the chain ends nowhere trusted.
    let public_only = client(&hosts, None, Duration::from_secs(5));
    assert_eq!(
        kind(public_only.get("mta-sts.wrong.example.test", PATH).await),
        HttpsFailureKind::CertificateUntrusted
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_large_bodies_are_cut() {
    let big = "x".repeat(MAX_BODY * 3);
    let s = server(&[
        HttpsSite::file([127, 0, 0, 5], "mta-sts.moved.example.test", PATH, POLICY).directives(
            "location = /.well-known/mta-sts.txt { return 301 https://www.example.test/; }",
        ),
        HttpsSite::file([127, 0, 0, 6], "mta-sts.big.example.test", PATH, &big),
    ]);
    let c = client(
        &[
            ("mta-sts.moved.example.test", "127.0.0.5"),
            ("mta-sts.big.example.test", "127.0.0.6"),
        ],
        Some(&s.ca_file()),
        Duration::from_secs(5),
    );
    let r = c.get("mta-sts.moved.example.test", PATH).await.unwrap();
    assert_eq!(
        (r.status, r.location.as_deref()),
        (301, Some("https://www.example.test/"))
    );
    let r = c.get("mta-sts.big.example.test", PATH).await.unwrap();
    assert_eq!(r.body.len(), MAX_BODY);
    assert!(r.truncated);
}

#[tokio::test]
async fn a_silent_server_costs_the_timeout_and_no_address_is_said() {
    // Accepts (the kernel completes the handshake) and never answers.
    let listener = TcpListener::bind("127.0.0.7:443").unwrap();
    let c = client(
        &[("mta-sts.silent.example.test", "127.0.0.7")],
        None,
        Duration::from_millis(1500),
    );
    let start = Instant::now();
    let e = c
        .get("mta-sts.silent.example.test", PATH)
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(e.kind, HttpsFailureKind::Timeout, "{e}");
    assert!(
        took < Duration::from_secs(10),
        "bounded by the timeout, took {took:?}"
    );
    drop(listener);
    let e = c.get("nowhere.example.test", PATH).await.unwrap_err();
    assert_eq!(e.kind, HttpsFailureKind::NoAddress);
    // Nothing listens on 127.0.0.8:443.
    let c = client(
        &[("mta-sts.closed.example.test", "127.0.0.8")],
        None,
        Duration::from_secs(5),
    );
    assert_eq!(
        c.get("mta-sts.closed.example.test", PATH)
            .await
            .unwrap_err()
            .kind,
        HttpsFailureKind::Connect
    );
}
