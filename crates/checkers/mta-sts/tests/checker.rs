//! The checker over a zone and a fetcher that answers from memory (the
//! real HTTPS path, nginx on loopback, is tested in `authwarden-https` and
//! end to end in the `tests` package): one test per code, the state kept
//! between jobs, and readiness read from TLS reports.

use std::collections::HashMap;
use std::sync::Arc;

use authwarden_api::https::{
    HttpsFailure, HttpsFailureKind, HttpsFetcher, HttpsFetcherExt, HttpsResponse,
};
use authwarden_api::serde_json::{json, Value};
use authwarden_api::tls_reports::{StaticTlsSource, TlsFailure, TlsPolicyRow, TlsReportSourceExt};
use authwarden_api::{
    async_trait, CheckContext, CheckOutput, Checker, DnsFailure, DomainTarget, FixedClock,
    RecordType, RunPaths,
};
use authwarden_checker_mta_sts::MtaSts;
use authwarden_zone::ZoneResolver;
use chrono::{TimeZone, Utc};

const GOOD: &str = "version: STSv1\nmode: enforce\nmx: mx1.example.org\nmx: *.mail.example.net\nmax_age: 1209600\n";

fn zone(record: &str) -> String {
    format!(
        "$ORIGIN example.org.\n@ 300 IN SOA ns hostmaster 1 3600 900 604800 300\n\
         @ 300 IN MX 10 mx1.example.org.\n@ 300 IN MX 20 in.mail.example.net.\n\
         mx1 300 IN A 192.0.2.25\n{record}\n"
    )
}

const RECORD: &str = "_mta-sts 300 IN TXT \"v=STSv1; id=20261201\"";

#[derive(Default)]
struct Answers(HashMap<String, Result<HttpsResponse, HttpsFailure>>);

#[async_trait]
impl HttpsFetcher for Answers {
    async fn get(&self, host: &str, _path: &str) -> Result<HttpsResponse, HttpsFailure> {
        self.0
            .get(host)
            .cloned()
            .unwrap_or_else(|| Err(HttpsFailure::new(HttpsFailureKind::NoAddress, "no address")))
    }
}

fn ok(status: u16, content_type: &str, body: &str) -> Result<HttpsResponse, HttpsFailure> {
    Ok(HttpsResponse {
        address: "192.0.2.80".into(),
        status,
        content_type: Some(content_type.into()),
        location: (status == 301).then(|| "https://www.example.org/".into()),
        body: body.as_bytes().to_vec(),
        truncated: false,
    })
}

fn ctx(zone_text: &str, answer: Result<HttpsResponse, HttpsFailure>) -> CheckContext {
    let resolver = ZoneResolver::from_str(zone_text).unwrap();
    ctx_with(resolver, answer, 2026, 12, 1)
}

fn ctx_with(
    resolver: ZoneResolver,
    answer: Result<HttpsResponse, HttpsFailure>,
    y: i32,
    m: u32,
    d: u32,
) -> CheckContext {
    let clock = FixedClock(Utc.with_ymd_and_hms(y, m, d, 6, 0, 0).unwrap());
    let mut ctx = CheckContext::new(Arc::new(resolver), Arc::new(clock));
    let mut answers = Answers::default();
    answers.0.insert("mta-sts.example.org".into(), answer);
    ctx.extensions
        .insert(Arc::new(HttpsFetcherExt(Arc::new(answers))));
    ctx
}

async fn run(ctx: &CheckContext) -> CheckOutput {
    MtaSts.check(ctx, &DomainTarget::new("example.org")).await
}

fn names(out: &CheckOutput) -> Vec<String> {
    out.findings.iter().map(|f| f.name.clone()).collect()
}

async fn names_for(record: &str, answer: Result<HttpsResponse, HttpsFailure>) -> Vec<String> {
    names(&run(&ctx(&zone(record), answer)).await)
}

#[tokio::test]
async fn a_correct_setup_has_no_finding_and_facts_say_so() {
    let out = run(&ctx(
        &zone(RECORD),
        ok(200, "text/plain; charset=utf-8", GOOD),
    ))
    .await;
    assert!(out.findings.is_empty(), "{:?}", out.findings);
    let facts = out.facts.unwrap();
    assert_eq!(facts["present"], true);
    assert_eq!(facts["id"], "20261201");
    assert_eq!(facts["policy"]["mode"], "enforce");
    assert_eq!(
        facts["mx_hosts"],
        json!(["mx1.example.org", "in.mail.example.net"])
    );
    assert_eq!(facts["uncovered"], json!([]));
    let lines = MtaSts.report_facts(&facts);
    assert_eq!(
        lines[0].value,
        "mode enforce, max_age 14 days, covers 2 of 2 MX hosts"
    );
}

#[tokio::test]
async fn each_problem_has_its_code() {
    let two = format!("{RECORD}\n_mta-sts 300 IN TXT \"v=STSv1; id=2\"");
    assert_eq!(
        names_for(&two, ok(200, "text/plain", GOOD)).await,
        ["mta-sts-record-multiple"]
    );
    let bad_id = "_mta-sts 300 IN TXT \"v=STSv1; id=2026-12-01\"";
    assert_eq!(
        names_for(bad_id, ok(200, "text/plain", GOOD)).await,
        ["mta-sts-record-invalid"]
    );
    assert_eq!(
        names_for(RECORD, ok(301, "text/html", "")).await,
        ["mta-sts-policy-redirect"]
    );
    assert_eq!(
        names_for(RECORD, ok(404, "text/html", "")).await,
        ["mta-sts-policy-http-error"]
    );
    assert_eq!(
        names_for(RECORD, ok(200, "text/html", "<html>")).await,
        ["mta-sts-policy-content-type"]
    );
    assert_eq!(
        names_for(
            RECORD,
            ok(200, "text/plain", "version: STSv1\nmode: strict\n")
        )
        .await,
        ["mta-sts-policy-invalid"]
    );
    let long = GOOD.replace("1209600", "40000000");
    assert_eq!(
        names_for(RECORD, ok(200, "text/plain", &long)).await,
        ["mta-sts-max-age-out-of-range"]
    );
    let short = GOOD.replace("1209600", "86400");
    assert_eq!(
        names_for(RECORD, ok(200, "text/plain", &short)).await,
        ["mta-sts-max-age-short"]
    );
    let narrow = GOOD.replace("mx: *.mail.example.net\n", "");
    let out = run(&ctx(&zone(RECORD), ok(200, "text/plain", &narrow))).await;
    assert_eq!(names(&out), ["mta-sts-mx-not-covered"]);
    assert_eq!(out.findings[0].subject, "in.mail.example.net");
    assert_eq!(out.findings[0].severity.as_str(), "error");
    let testing = narrow.replace("enforce", "testing");
    let out = run(&ctx(&zone(RECORD), ok(200, "text/plain", &testing))).await;
    assert_eq!(
        out.findings[0].severity.as_str(),
        "warning",
        "testing mode delivers anyway"
    );
    for (kind, name) in [
        (
            HttpsFailureKind::CertificateExpired,
            "mta-sts-certificate-expired",
        ),
        (
            HttpsFailureKind::CertificateName,
            "mta-sts-certificate-name-mismatch",
        ),
        (
            HttpsFailureKind::CertificateUntrusted,
            "mta-sts-certificate-untrusted",
        ),
        (HttpsFailureKind::Timeout, "mta-sts-policy-unreachable"),
        (HttpsFailureKind::NoAddress, "mta-sts-policy-unreachable"),
        (HttpsFailureKind::Dns, "mta-sts-check-incomplete"),
    ] {
        assert_eq!(
            names_for(RECORD, Err(HttpsFailure::new(kind, "x"))).await,
            [name],
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn no_record_is_a_note_only_for_a_domain_that_receives_mail() {
    assert_eq!(
        names_for("", ok(200, "text/plain", GOOD)).await,
        ["mta-sts-not-published"]
    );
    let null_mx =
        "$ORIGIN example.org.\n@ 300 IN SOA ns hostmaster 1 3600 900 604800 300\n@ 300 IN MX 0 .\n";
    assert!(names(&run(&ctx(null_mx, ok(200, "text/plain", GOOD))).await).is_empty());
}

#[tokio::test]
async fn a_failed_lookup_is_incomplete_not_missing() {
    let resolver = ZoneResolver::from_str(&zone(RECORD)).unwrap().fail(
        "_mta-sts.example.org",
        Some(RecordType::TXT),
        DnsFailure::ServFail,
    );
    let out = run(&ctx_with(
        resolver,
        ok(200, "text/plain", GOOD),
        2026,
        12,
        1,
    ))
    .await;
    assert_eq!(names(&out), ["mta-sts-check-incomplete"]);
    assert_eq!(out.facts.unwrap()["present"], Value::Null);
}

#[tokio::test]
async fn a_policy_changed_under_the_same_id_is_reported_until_the_id_changes() {
    let dir = tempfile::tempdir().unwrap();
    let job = |record: &str, body: &str, day: u32| {
        let mut c = ctx_with(
            ZoneResolver::from_str(&zone(record)).unwrap(),
            ok(200, "text/plain", body),
            2026,
            11,
            day,
        );
        c.extensions.insert(Arc::new(RunPaths::new(dir.path())));
        c
    };
    assert!(names(&run(&job(RECORD, GOOD, 1)).await).is_empty());
    let changed = GOOD.replace("mx1.example.org", "mx*.example.org").replace(
        "mx: mx*.example.org\n",
        "mx: mx1.example.org\nmx: mx2.example.org\n",
    );
    let out = run(&job(RECORD, &changed, 2)).await;
    assert_eq!(names(&out), ["mta-sts-policy-changed-id-unchanged"]);
    let proposal = json!(out.proposals[0].change);
    assert_eq!(proposal["name"], "_mta-sts.example.org");
    assert_eq!(proposal["value"], "v=STSv1; id=20261102T060000");
    assert!(
        out.findings[0].message.contains("mx1.example.org"),
        "{}",
        out.findings[0].message
    );
    // Still the same id at the next job: still reported.
    assert_eq!(
        names(&run(&job(RECORD, &changed, 3)).await),
        ["mta-sts-policy-changed-id-unchanged"]
    );
    // A read-only check sees it and writes nothing.
    let mut check = job(RECORD, &changed, 4);
    check
        .extensions
        .insert(Arc::new(RunPaths::read_only(dir.path())));
    assert_eq!(
        names(&run(&check).await),
        ["mta-sts-policy-changed-id-unchanged"]
    );
    let new_id = "_mta-sts 300 IN TXT \"v=STSv1; id=20261105\"";
    assert!(names(&run(&job(new_id, &changed, 5)).await).is_empty());
}

fn tls_row(ok: u64, failed: u64) -> TlsPolicyRow {
    TlsPolicyRow {
        org_name: "Google Inc.".into(),
        report_id: format!("r{ok}"),
        source: "f".into(),
        begin: Utc
            .with_ymd_and_hms(2026, 12, 20, 0, 0, 0)
            .unwrap()
            .timestamp(),
        end: Utc
            .with_ymd_and_hms(2026, 12, 21, 0, 0, 0)
            .unwrap()
            .timestamp(),
        policy_domain: "example.org".into(),
        policy_type: "sts".into(),
        mx_hosts: vec![],
        successful: ok,
        failed,
        failures: vec![TlsFailure {
            result_type: "certificate-expired".into(),
            count: failed,
            ..Default::default()
        }],
        auth: None,
    }
}

#[tokio::test]
async fn testing_held_for_weeks_says_whether_the_reports_show_it_ready() {
    let dir = tempfile::tempdir().unwrap();
    let testing = GOOD.replace("enforce", "testing");
    let job = |month: u32, day: u32, rows: Option<Vec<TlsPolicyRow>>| {
        let mut c = ctx_with(
            ZoneResolver::from_str(&zone(RECORD)).unwrap(),
            ok(200, "text/plain", &testing),
            2026,
            month,
            day,
        );
        c.extensions.insert(Arc::new(RunPaths::new(dir.path())));
        if let Some(rows) = rows {
            c.extensions.insert(Arc::new(TlsReportSourceExt(Arc::new(
                StaticTlsSource::new(rows),
            ))));
        }
        c
    };
    let first = run(&job(11, 1, None)).await;
    assert!(names(&first).is_empty());
    assert_eq!(first.facts.unwrap()["testing_since"], "2026-11-01");
    assert!(
        names(&run(&job(11, 20, None)).await).is_empty(),
        "under 4 weeks"
    );
    let unknown = run(&job(12, 28, None)).await;
    assert_eq!(names(&unknown), ["mta-sts-testing-stalled"]);
    assert!(unknown.findings[0].message.contains("readiness is unknown"));
    let failing = run(&job(12, 28, Some(vec![tls_row(850, 120)]))).await;
    assert!(
        failing.findings[0]
            .message
            .contains("not ready yet: 120 of 970"),
        "{}",
        failing.findings[0].message
    );
    assert!(failing.findings[0]
        .message
        .contains("certificate-expired 120"));
    let ready = run(&job(12, 28, Some(vec![tls_row(5000, 3)]))).await;
    assert!(
        ready.findings[0].message.contains("show it ready"),
        "{}",
        ready.findings[0].message
    );
    assert!(ready.findings[0].help.contains("mode: enforce"));
}
