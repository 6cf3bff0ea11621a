//! The tls-rpt checker against in-memory zones (`authwarden-zone`), one
//! test per code, a healthy domain, and lookups that fail.

use std::collections::BTreeSet;
use std::sync::Arc;

use authwarden_api::serde_json::{json, Value};
use authwarden_api::tls_reports::{StaticTlsSource, TlsFailure, TlsPolicyRow, TlsReportSourceExt};
use authwarden_api::{Cadence, CheckContext, CheckOutput, Checker, DomainTarget, FixedClock};
use authwarden_checker_tls_rpt::{TlsRpt, CHECKER_ID, CODES};
use authwarden_test_support::fixture::{
    assert_codes_documented, assert_finding_conventions, Fixture,
};
use chrono::{TimeZone, Utc};

/// 2026-12-01: a monthly job reports on 2026-11.
fn clock() -> FixedClock {
    FixedClock(Utc.with_ymd_and_hms(2026, 12, 1, 6, 0, 0).unwrap())
}

fn ctx(zone: &str, config: Value, rows: Option<Vec<TlsPolicyRow>>) -> (String, CheckContext) {
    let fixture = Fixture::from_text("inline", zone);
    let mut ctx =
        CheckContext::new(Arc::new(fixture.resolver), Arc::new(clock())).with_config(config);
    ctx.job = Some(Cadence::Monthly);
    if let Some(rows) = rows {
        ctx.extensions.insert(Arc::new(TlsReportSourceExt(Arc::new(
            StaticTlsSource::new(rows),
        ))));
    }
    (fixture.domain, ctx)
}

async fn check_with(zone: &str, config: Value, rows: Option<Vec<TlsPolicyRow>>) -> CheckOutput {
    let (domain, ctx) = ctx(zone, config, rows);
    let out = TlsRpt.check(&ctx, &DomainTarget::new(&domain)).await;
    let mut seen = BTreeSet::new();
    assert_finding_conventions(
        "inline",
        CHECKER_ID,
        &domain,
        CODES,
        &out.findings,
        &mut seen,
    );
    out
}

async fn check(zone: &str) -> CheckOutput {
    check_with(zone, json!({}), None).await
}

fn codes(out: &CheckOutput) -> Vec<&str> {
    out.findings.iter().map(|f| f.code.as_str()).collect()
}

const HEALTHY: &str = "$ORIGIN example.org.
@ MX 10 mail.example.org.
mail A 192.0.2.25
_mta-sts TXT \"v=STSv1; id=2026\"
_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://tlsrpt.example.net/v1\"
";

#[test]
fn codes_are_documented() {
    assert_codes_documented("TLSRPT", "tls-rpt-", CODES);
}

#[tokio::test]
async fn healthy_domain_has_no_finding_and_facts() {
    let out = check(HEALTHY).await;
    assert_eq!(codes(&out), Vec::<&str>::new());
    let facts = out.facts.unwrap();
    assert_eq!(facts["present"], true);
    assert_eq!(
        facts["record"],
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.org,https://tlsrpt.example.net/v1"
    );
    assert_eq!(
        facts["rua"],
        json!(["mailto:tlsrpt@example.org", "https://tlsrpt.example.net/v1"])
    );
}

#[tokio::test]
async fn missing_with_mta_sts_is_an_error() {
    let out =
        check("$ORIGIN example.org.\n@ MX 10 mail.example.org.\n_mta-sts TXT \"v=STSv1; id=1\"\n")
            .await;
    assert_eq!(codes(&out), ["TLSRPT001"]);
    assert_eq!(out.facts.unwrap()["present"], false);
}

#[tokio::test]
async fn missing_without_mta_sts_is_a_note_only_when_mail_is_received() {
    let out =
        check("$ORIGIN example.org.\n@ MX 10 mail.example.org.\n@ TXT \"v=spf1 -all\"\n").await;
    assert_eq!(codes(&out), ["TLSRPT007"]);
    let out = check("$ORIGIN example.org.\n@ MX 0 .\n@ TXT \"v=spf1 -all\"\n").await;
    assert_eq!(codes(&out), Vec::<&str>::new());
}

#[tokio::test]
async fn missing_with_dane_is_an_error_naming_the_tlsa_names() {
    let zone = "$ORIGIN example.org.\n@ MX 10 mail.example.org.\n@ MX 20 backup.example.org.\nmail A 192.0.2.25\n_25._tcp.mail TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n";
    let out = check(zone).await;
    assert_eq!(codes(&out), ["TLSRPT001"]);
    let f = &out.findings[0];
    assert!(f.message.contains("dane"), "{}", f.message);
    assert_eq!(
        f.evidence["dane"],
        json!(["_25._tcp.mail.example.org"]),
        "only the mx host with tlsa records is named"
    );
    // A TLS-RPT record satisfies it.
    let zone = format!("{zone}_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@example.org\"\n");
    assert_eq!(codes(&check(&zone).await), Vec::<&str>::new());
    // A failed TLSA lookup cannot tell TLSRPT001 from TLSRPT007.
    let out = check("; fail: _25._tcp.mail.example.org TLSA servfail\n$ORIGIN example.org.\n@ MX 10 mail.example.org.\n").await;
    assert_eq!(codes(&out), ["TLSRPT006"]);
}

#[tokio::test]
async fn two_records_are_an_error() {
    let out = check(
        "$ORIGIN example.org.\n_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:a@example.org\"\n_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:b@example.org\"\n",
    )
    .await;
    assert_eq!(codes(&out), ["TLSRPT002"]);
    assert_eq!(out.facts.unwrap()["record"], Value::Null);
}

#[tokio::test]
async fn syntax_errors() {
    for record in [
        "v=TLSRPTv1",
        "v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org",
        "v=TLSRPTv1;; rua=mailto:a@example.org",
        "v=TLSRPTv10; rua=mailto:a@example.org",
    ] {
        let out = check(&format!(
            "$ORIGIN example.org.\n_smtp._tls TXT \"{record}\"\n"
        ))
        .await;
        assert_eq!(codes(&out), ["TLSRPT003"], "{record}");
    }
    // Unknown extension fields are allowed.
    let out = check(
        "$ORIGIN example.org.\n_smtp._tls TXT \"v=TLSRPTv1; ext=1; rua=mailto:a@example.org;\"\n",
    )
    .await;
    assert_eq!(codes(&out), Vec::<&str>::new());
}

#[tokio::test]
async fn bad_uris_are_named() {
    let out = check(
        "$ORIGIN example.org.\n_smtp._tls TXT \"v=TLSRPTv1; rua=http://r.example.org/,mailto:nobody,mailto:ok@example.org\"\n",
    )
    .await;
    assert_eq!(codes(&out), ["TLSRPT004", "TLSRPT004"]);
    let uris: Vec<&Value> = out.findings.iter().map(|f| &f.evidence["uri"]).collect();
    assert_eq!(
        uris,
        [&json!("http://r.example.org/"), &json!("mailto:nobody")]
    );
    assert!(out.findings[0].message.contains("http://r.example.org/"));
    assert_eq!(out.facts.unwrap()["rua"], json!(["mailto:ok@example.org"]));
}

#[tokio::test]
async fn failed_lookups_are_incomplete_and_nothing_else() {
    for failure in ["servfail", "timeout"] {
        let zone = format!("; fail: _smtp._tls.example.org TXT {failure}\n$ORIGIN example.org.\n@ MX 10 mail.example.org.\n_mta-sts TXT \"v=STSv1; id=1\"\n");
        let out = check_with(
            &zone,
            json!({}),
            Some(vec![row("sts", 10, 90, &[("certificate-expired", 90)])]),
        )
        .await;
        assert_eq!(codes(&out), ["TLSRPT006"], "{failure}");
        assert_eq!(out.facts.unwrap()["present"], Value::Null);
    }
    // Without a record, a failed MTA-STS lookup cannot tell missing from not required.
    let out = check("; fail: _mta-sts.example.org TXT servfail\n$ORIGIN example.org.\n@ MX 10 mail.example.org.\n").await;
    assert_eq!(codes(&out), ["TLSRPT006"]);
}

fn row(policy_type: &str, ok: u64, failed: u64, failures: &[(&str, u64)]) -> TlsPolicyRow {
    TlsPolicyRow {
        org_name: "reporter.example".into(),
        report_id: format!("r-{policy_type}-{ok}"),
        policy_domain: "example.org".into(),
        policy_type: policy_type.into(),
        // Within November 2026.
        begin: Utc
            .with_ymd_and_hms(2026, 11, 10, 0, 0, 0)
            .unwrap()
            .timestamp(),
        end: Utc
            .with_ymd_and_hms(2026, 11, 11, 0, 0, 0)
            .unwrap()
            .timestamp(),
        successful: ok,
        failed,
        failures: failures
            .iter()
            .map(|(t, n)| TlsFailure {
                result_type: t.to_string(),
                count: *n,
                ..TlsFailure::default()
            })
            .collect(),
        ..TlsPolicyRow::default()
    }
}

#[tokio::test]
async fn failure_share_above_the_threshold_warns_with_counts_and_types() {
    let rows = vec![
        row(
            "sts",
            700,
            120,
            &[("certificate-expired", 100), ("validation-failure", 20)],
        ),
        row(
            "sts",
            0,
            30,
            &[("certificate-expired", 20), ("starttls-not-supported", 10)],
        ),
        // Below 5 %: no finding for this policy type.
        row(
            "no-policy-found",
            990,
            10,
            &[("starttls-not-supported", 10)],
        ),
    ];
    let out = check_with(HEALTHY, json!({}), Some(rows.clone())).await;
    assert_eq!(codes(&out), ["TLSRPT005"]);
    let f = &out.findings[0];
    assert_eq!(f.evidence["policy_type"], "sts");
    assert_eq!(f.evidence["successful_sessions"], 700);
    assert_eq!(f.evidence["failed_sessions"], 150);
    assert_eq!(f.evidence["period"], "2026-11");
    // 120 of 850 is 14.1 %.
    assert!(
        f.message
            .contains("certificate-expired 14.1 % (120 sessions)"),
        "{}",
        f.message
    );
    assert!(f.message.contains("17.6 %"), "{}", f.message);
    assert_eq!(
        f.evidence["top_result_types"][0]["result_type"],
        "certificate-expired"
    );

    // A threshold above the share: silent.
    let out = check_with(
        HEALTHY,
        json!({"failure_share_warn": 0.2}),
        Some(rows.clone()),
    )
    .await;
    assert_eq!(codes(&out), Vec::<&str>::new());
    // A lower threshold catches no-policy-found too.
    let out = check_with(HEALTHY, json!({"failure_share_warn": 0.005}), Some(rows)).await;
    assert_eq!(codes(&out), ["TLSRPT005", "TLSRPT005"]);
}

#[tokio::test]
async fn reports_outside_the_period_do_not_count() {
    let mut old = row("sts", 10, 90, &[("certificate-expired", 90)]);
    old.begin = Utc
        .with_ymd_and_hms(2026, 10, 5, 0, 0, 0)
        .unwrap()
        .timestamp();
    let out = check_with(HEALTHY, json!({}), Some(vec![old])).await;
    assert_eq!(codes(&out), Vec::<&str>::new());
}

#[tokio::test]
async fn every_code_has_a_test() {
    let shown: BTreeSet<&str> = [
        "TLSRPT001",
        "TLSRPT002",
        "TLSRPT003",
        "TLSRPT004",
        "TLSRPT005",
        "TLSRPT006",
        "TLSRPT007",
    ]
    .into();
    let declared: BTreeSet<&str> = CODES.iter().map(|c| c.code).collect();
    assert_eq!(shown, declared);
}

#[test]
fn report_facts_read_well() {
    let facts = json!({"present": true, "record": "v=TLSRPTv1; rua=mailto:a@example.org", "rua": ["mailto:a@example.org"]});
    let lines = TlsRpt.report_facts(&facts);
    assert_eq!(lines[0].value, "mailto:a@example.org");
    assert_eq!(
        TlsRpt.report_facts(&json!({"present": false}))[0].value,
        "not published"
    );
}
