//! The mx checker against in-memory zones (`authwarden-zone`), one test per
//! code, a healthy domain, and lookups that fail.

use std::collections::BTreeSet;
use std::sync::Arc;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::{CheckContext, CheckOutput, Checker, DomainTarget, SystemClock};
use authwarden_checker_mx::{reverse_name, Mx, CHECKER_ID, CODES};
use authwarden_test_support::fixture::{
    assert_codes_documented, assert_finding_conventions, Fixture,
};

async fn check(zone: &str) -> CheckOutput {
    let fixture = Fixture::from_text("inline", zone);
    let ctx = CheckContext::new(Arc::new(fixture.resolver), Arc::new(SystemClock));
    let out = Mx.check(&ctx, &DomainTarget::new(&fixture.domain)).await;
    let mut seen = BTreeSet::new();
    assert_finding_conventions(
        "inline",
        CHECKER_ID,
        &fixture.domain,
        CODES,
        &out.findings,
        &mut seen,
    );
    out
}

fn codes(out: &CheckOutput) -> Vec<&str> {
    out.findings.iter().map(|f| f.code.as_str()).collect()
}

/// Reverse zones beside the forward one: the zone resolver holds several origins.
const HEALTHY: &str = "$ORIGIN example.org.
@ MX 10 mail.example.org.
@ MX 20 mail2.example.org.
mail A 192.0.2.25
mail AAAA 2001:db8::25
mail2 A 192.0.2.26
$ORIGIN 2.0.192.in-addr.arpa.
25 PTR mail.example.org.
26 PTR mail2.example.org.
$ORIGIN 8.b.d.0.1.0.0.2.ip6.arpa.
5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0 PTR mail.example.org.
";

#[test]
fn codes_are_documented() {
    assert_codes_documented("MX", "mx-", CODES);
}

#[test]
fn reverse_names() {
    assert_eq!(
        reverse_name("192.0.2.25".parse().unwrap()),
        "25.2.0.192.in-addr.arpa"
    );
    assert_eq!(
        reverse_name("2001:db8::25".parse().unwrap()),
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    );
}

#[tokio::test]
async fn healthy_domain_has_no_finding() {
    let out = check(HEALTHY).await;
    assert_eq!(codes(&out), Vec::<&str>::new(), "{:#?}", out.findings);
    let facts = out.facts.unwrap();
    assert_eq!(facts["null_mx"], false);
    assert_eq!(facts["hosts"][0]["exchange"], "mail.example.org");
    assert_eq!(facts["hosts"][0]["preference"], 10);
    assert_eq!(
        facts["hosts"][0]["addresses"],
        json!(["192.0.2.25", "2001:db8::25"])
    );
    assert_eq!(facts["hosts"][0]["cname"], Value::Null);
    assert_eq!(
        facts["hosts"][0]["fcrdns"],
        json!([
            {"address": "192.0.2.25", "ptr": "mail.example.org", "confirmed": true},
            {"address": "2001:db8::25", "ptr": "mail.example.org", "confirmed": true},
        ])
    );
}

#[tokio::test]
async fn null_mx_alone_is_fine() {
    let out = check("$ORIGIN example.org.\n@ MX 0 .\n@ A 192.0.2.1\n").await;
    assert_eq!(codes(&out), Vec::<&str>::new());
    assert_eq!(out.facts.unwrap()["null_mx"], true);
}

#[tokio::test]
async fn no_mx_warns_and_names_the_fallback() {
    let out = check("$ORIGIN example.org.\n@ A 192.0.2.1\n").await;
    assert_eq!(codes(&out), ["MX001"]);
    assert_eq!(
        out.findings[0].evidence["fallback_addresses"],
        json!(["192.0.2.1"])
    );
}

#[tokio::test]
async fn null_mx_mixed_is_an_error() {
    let out = check(
        "$ORIGIN example.org.\n@ MX 0 .\n@ MX 10 mail.example.org.\nmail A 192.0.2.25\n$ORIGIN 2.0.192.in-addr.arpa.\n25 PTR mail.example.org.\n",
    )
    .await;
    assert_eq!(codes(&out), ["MX002"]);
}

#[tokio::test]
async fn ip_literal_is_an_error() {
    let out = check("$ORIGIN example.org.\n@ MX 10 192.0.2.25.\n").await;
    assert_eq!(codes(&out), ["MX003"]);
    assert_eq!(out.findings[0].subject, "192.0.2.25");
}

#[tokio::test]
async fn cname_exchange_warns() {
    let out = check(
        "$ORIGIN example.org.\n@ MX 10 mx.example.org.\nmx CNAME mail.example.org.\nmail A 192.0.2.25\n$ORIGIN 2.0.192.in-addr.arpa.\n25 PTR mail.example.org.\n",
    )
    .await;
    assert_eq!(codes(&out), ["MX004"]);
    assert_eq!(out.facts.unwrap()["hosts"][0]["cname"], "mail.example.org");
}

#[tokio::test]
async fn exchange_without_address_is_an_error() {
    let out =
        check("$ORIGIN example.org.\n@ MX 10 mail.example.org.\nmail TXT \"no address\"\n").await;
    assert_eq!(codes(&out), ["MX005"]);
    assert_eq!(out.findings[0].subject, "mail.example.org");
}

#[tokio::test]
async fn fcrdns_mismatch_and_missing_ptr_warn() {
    let out = check(
        "$ORIGIN example.org.\n@ MX 10 mail.example.org.\nmail A 192.0.2.25\nmail A 192.0.2.27\n$ORIGIN 2.0.192.in-addr.arpa.\n25 PTR host-25.isp.example.org.\n",
    )
    .await;
    assert_eq!(codes(&out), ["MX006", "MX006"]);
    let f = &out.findings[0];
    assert_eq!(f.evidence["address"], "192.0.2.25");
    assert_eq!(f.evidence["ptr"], "host-25.isp.example.org");
    assert!(
        f.message.contains("host-25.isp.example.org"),
        "{}",
        f.message
    );
    assert_eq!(out.findings[1].evidence["ptr"], Value::Null);
    assert!(
        out.findings[1].message.contains("no ptr"),
        "{}",
        out.findings[1].message
    );
}

#[tokio::test]
async fn failed_lookups_are_incomplete_not_errors() {
    for failure in ["servfail", "timeout"] {
        let out = check(&format!(
            "; fail: example.org MX {failure}\n$ORIGIN example.org.\n@ A 192.0.2.1\n"
        ))
        .await;
        assert_eq!(codes(&out), ["MX007"], "{failure}");
        assert_eq!(out.facts.unwrap()["hosts"], Value::Null);
    }
    // The address lookups of a host fail: no MX005.
    let out = check(
        "; fail: mail.example.org A timeout\n; fail: mail.example.org AAAA timeout\n$ORIGIN example.org.\n@ MX 10 mail.example.org.\n",
    )
    .await;
    assert_eq!(codes(&out), ["MX007", "MX007"]);
    assert!(out.findings[0].message.contains("mail.example.org"));
    // The PTR lookup fails: no MX006.
    let out = check(
        "; fail: 25.2.0.192.in-addr.arpa PTR servfail\n$ORIGIN example.org.\n@ MX 10 mail.example.org.\nmail A 192.0.2.25\n",
    )
    .await;
    assert_eq!(codes(&out), ["MX007"]);
    assert_eq!(out.findings[0].evidence["type"], "PTR");
}

#[tokio::test]
async fn work_is_capped_and_says_so() {
    let mut zone = String::from("$ORIGIN example.org.\n");
    for i in 0..12 {
        zone.push_str(&format!("@ MX {i} mx{i}.example.org.\n"));
    }
    for i in 0..6 {
        zone.push_str(&format!("mx0 A 192.0.2.{}\n", 100 + i));
    }
    // The reverse zone exists, without a PTR for those addresses.
    zone.push_str("$ORIGIN 2.0.192.in-addr.arpa.\n1 PTR other.example.org.\n");
    let out = check(&zone).await;
    // mx0: 4 of its 6 addresses without PTR; mx1..mx9 without address; mx10, mx11 not examined.
    let got = codes(&out);
    assert_eq!(got.iter().filter(|c| **c == "MX006").count(), 4, "{got:?}");
    assert_eq!(got.iter().filter(|c| **c == "MX005").count(), 9, "{got:?}");
    assert!(out
        .findings
        .iter()
        .all(|f| f.evidence["capped"] == "10 of 12 mx hosts examined"));
    assert_eq!(
        out.findings[0].evidence["addresses_capped"],
        "4 of 6 addresses of mx0.example.org examined"
    );
    let facts = out.facts.unwrap();
    assert_eq!(facts["hosts"].as_array().unwrap().len(), 10);
    assert_eq!(facts["capped"], true);
}

#[test]
fn every_code_has_a_test() {
    let shown: BTreeSet<&str> = [
        "MX001", "MX002", "MX003", "MX004", "MX005", "MX006", "MX007", "MX008", "MX009", "MX010",
    ]
    .into();
    let declared: BTreeSet<&str> = CODES.iter().map(|c| c.code).collect();
    assert_eq!(shown, declared);
}
