//! MTA-STS end to end: the real binary, Knot serving `tests/fixtures/mta-sts`,
//! and nginx serving each domain's policy on its own loopback address and
//! port 443, with certificates from a CA made by the test and trusted
//! through `[https] ca_bundle`. A correct setup gives no finding; each broken
//! one gives its own code; a host that accepts and never answers is
//! unreachable after the configured timeout. A domain whose MX publishes
//! DANE TLSA records (served by Knot) needs TLS-RPT too.

use std::net::TcpListener;

use authwarden_e2e::{
    authwarden, domain_report, findings_for, fixtures_dir, names_for, start_dns_in, write_config,
};
use authwarden_test_support::https::{HttpsServer, HttpsSite, SiteCert};

const PATH: &str = "/.well-known/mta-sts.txt";

fn policy(mode: &str, max_age: u64, mx: &[&str]) -> String {
    let mut p = format!("version: STSv1\r\nmode: {mode}\r\n");
    for m in mx {
        p.push_str(&format!("mx: {m}\r\n"));
    }
    p.push_str(&format!("max_age: {max_age}\r\n"));
    p
}

#[test]
fn each_broken_policy_host_has_its_code_and_a_correct_one_none() {
    let dns = start_dns_in(&fixtures_dir("mta-sts"), &[]);
    let good = policy("enforce", 1_209_600, &["*.good.sts.test"]);
    let site = |n: u8, name: &str, body: &str| {
        HttpsSite::file(
            [127, 0, 0, n],
            &format!("mta-sts.{name}.sts.test"),
            PATH,
            body,
        )
    };
    let https = HttpsServer::start(&[
        site(21, "good", &good),
        site(22, "moved", &good).directives(
            "location = /.well-known/mta-sts.txt { return 301 https://www.moved.sts.test/; }",
        ),
        site(23, "html", "<html><body>Welcome to nginx!</body></html>")
            .directives("location = /.well-known/mta-sts.txt { default_type text/html; }"),
        site(24, "expired", &good).cert(SiteCert::Expired),
        site(25, "wrongname", &good).cert(SiteCert::OtherName("www.sts.test".into())),
        site(
            26,
            "maxage",
            &policy("enforce", 40_000_000, &["mx1.good.sts.test"]),
        ),
        site(
            27,
            "uncovered",
            &policy("enforce", 1_209_600, &["mx1.good.sts.test"]),
        ),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    // Accepts connections (the kernel's backlog) and never answers.
    let _silent = TcpListener::bind("127.0.0.28:443").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let domains = [
        "good",
        "moved",
        "html",
        "expired",
        "wrongname",
        "maxage",
        "uncovered",
        "two",
        "silent",
        "none",
        "dane",
    ];
    let mut toml = format!(
        "[dns]\nnameservers = [\"{}\"]\ntimeout = \"2s\"\nretries = 0\n\n\
         [https]\nca_bundle = \"{}\"\ntimeout = \"3s\"\n",
        dns.addr(),
        https.ca_file().display()
    );
    for d in domains {
        toml.push_str(&format!("\n[[domains]]\nname = \"{d}.sts.test\"\n"));
    }
    let config = write_config(dir.path(), &toml);
    let run = authwarden(&[
        "check",
        "--config",
        &config,
        "--checker",
        "mta-sts",
        "--format",
        "json",
    ]);
    let out = run.json();
    let want = [
        ("good", vec![]),
        ("moved", vec!["mta-sts-policy-redirect"]),
        ("html", vec!["mta-sts-policy-content-type"]),
        ("expired", vec!["mta-sts-certificate-expired"]),
        ("wrongname", vec!["mta-sts-certificate-name-mismatch"]),
        ("maxage", vec!["mta-sts-max-age-out-of-range"]),
        ("uncovered", vec!["mta-sts-mx-not-covered"]),
        ("two", vec!["mta-sts-record-multiple"]),
        ("silent", vec!["mta-sts-policy-unreachable"]),
        ("none", vec!["mta-sts-not-published"]),
        ("dane", vec!["mta-sts-not-published"]),
    ];
    for (d, names) in want {
        let domain = format!("{d}.sts.test");
        assert_eq!(
            names_for(&out, &domain, "mta-sts"),
            names.iter().map(|s| s.to_string()).collect(),
            "{domain}: {:#?}\nnginx: {}",
            findings_for(&out, &domain),
            https.log()
        );
    }
    let good = &domain_report(&out, "good.sts.test")["mta_sts"];
    assert_eq!(good["policy"]["mode"], "enforce", "{good:#}");
    assert_eq!(good["fetch"]["address"], "127.0.0.21");
    assert_eq!(good["uncovered"], serde_json::json!([]));
    let uncovered = findings_for(&out, "uncovered.sts.test");
    assert_eq!(uncovered[0]["subject"], "backup-mx.other.test");
    let silent = findings_for(&out, "silent.sts.test");
    assert!(
        silent[0]["evidence"]["error"]
            .as_str()
            .unwrap()
            .contains("did not answer within 3 s"),
        "{:#}",
        silent[0]
    );
    // MTA-STS and TLS-RPT together: the correct domain has no transport finding.
    let both = authwarden(&[
        "check",
        "good.sts.test",
        "--config",
        &config,
        "--checker",
        "mta-sts",
        "--checker",
        "tls-rpt",
        "--format",
        "json",
    ])
    .json();
    assert_eq!(
        findings_for(&both, "good.sts.test").len(),
        0,
        "{:#?}",
        findings_for(&both, "good.sts.test")
    );
    assert_eq!(
        domain_report(&both, "good.sts.test")["tls_rpt"]["present"],
        true
    );
    // DANE without TLS-RPT: the TLSA record comes from Knot through the
    // resolver, and TLS-RPT is required as for MTA-STS.
    let dane = authwarden(&[
        "check",
        "dane.sts.test",
        "--config",
        &config,
        "--checker",
        "tls-rpt",
        "--format",
        "json",
    ])
    .json();
    let found = findings_for(&dane, "dane.sts.test");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["code"], "TLSRPT001", "{:#}", found[0]);
    assert_eq!(
        found[0]["evidence"]["dane"],
        serde_json::json!(["_25._tcp.mx.dane.sts.test"]),
        "{:#}",
        found[0]
    );
}
