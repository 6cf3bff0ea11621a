//! SMTP TLS reports (RFC 8460): the committed fixtures (plain, gzip, a
//! mail with an `application/tlsrpt+gzip` attachment, a mail whose body is
//! the JSON, and broken ones) and the shared corpus of real reports
//! (`../shared/corpus/tlsrpt`, checked against its `EXPECTED.tsv`; when
//! absent, a failure under CI and a loud note elsewhere).

use std::path::{Path, PathBuf};

use authwarden_aggregate::{ingest_paths, open_path, visit_payloads, Limits, TlsReport};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
}

/// Every TLS report of a file, or the first error.
fn tls_reports(path: &Path, limits: &Limits) -> Result<Vec<(String, TlsReport)>, String> {
    let payloads = open_path(path, limits).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for p in payloads {
        if !p.is_tls_report(limits) {
            return Err(format!("{} is not a TLS report", p.source()));
        }
        let r = p.parse_tls(limits).map_err(|e| e.to_string())?;
        out.push((p.source().to_string(), r));
    }
    Ok(out)
}

#[test]
fn every_container_gives_the_report() {
    let limits = Limits::default();
    for (file, id, member) in [
        ("good.json", "2026-11-02T00:00:00Z_example.com", None),
        (
            "sender.example!example.com!1793664000!1793750399.json.gz",
            "gzip-2026-11-03",
            None,
        ),
        (
            "report.eml",
            "mail-2026-11-04",
            Some("#sender.example!example.com!1793750400!1793836799.json.gz"),
        ),
        ("body.eml", "body-2026-11-05", None),
    ] {
        let got =
            tls_reports(&fixtures().join(file), &limits).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.len(), 1, "{file}");
        let (source, r) = &got[0];
        if let Some(m) = member {
            assert!(source.ends_with(m), "{source}");
        }
        assert_eq!(r.header.report_id, id, "{file}");
        assert_eq!(r.header.org_name, "Example Sender Inc.");
        assert_eq!(r.policies.len(), 2);
        let sts = &r.policies[0];
        assert_eq!(
            (sts.policy_type.as_str(), sts.successful, sts.failed),
            ("sts", 970, 30)
        );
        assert_eq!(sts.failures.len(), 2);
        assert_eq!(
            sts.failures[1].failure_reason_code.as_deref(),
            Some("X509_V_ERR")
        );
        assert_eq!(sts.failures[1].receiving_mx_helo.as_deref(), Some("mx2"));
        assert_eq!(r.policies[1].policy_type, "no-policy-found");
    }
}

#[test]
fn broken_reports_give_their_reason_and_the_batch_goes_on() {
    let limits = Limits::default();
    let visits = visit_payloads([fixtures()], &limits, |p| {
        if p.is_tls_report(&limits) {
            p.parse_tls(&limits)
                .map(|r| r.header.report_id)
                .map_err(|e| e.to_string())
        } else {
            Err("not a TLS report".to_string())
        }
    });
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for v in visits {
        match v {
            Ok((s, Ok(id))) => ok.push((s, id)),
            Ok((s, Err(e))) => failed.push((s, e)),
            Err((s, e)) => failed.push((s, e)),
        }
    }
    // The folder walk takes the .json files that are TLS reports (and skips
    // make_fixtures.py).
    assert_eq!(ok.len(), 4, "{ok:?} {failed:?}");
    let reason = |name: &str| {
        failed
            .iter()
            .find(|(s, _)| s.ends_with(name))
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| panic!("no error for {name}: {failed:?}"))
    };
    assert!(
        reason("broken.json").starts_with("invalid_json:"),
        "{}",
        reason("broken.json")
    );
    assert!(reason("wrong-type.json").starts_with("invalid_tls_report:"));
    assert!(
        reason("huge-numbers.json").contains("out of range"),
        "{}",
        reason("huge-numbers.json")
    );
    assert!(reason("missing-id.json").contains("\"report-id\" is missing"));
    assert_eq!(failed.len(), 4, "{failed:?}");
}

#[test]
fn a_report_over_the_size_cap_is_refused() {
    let limits = Limits {
        max_decompressed_bytes: 512,
        ..Limits::default()
    };
    let e = tls_reports(&fixtures().join("good.json"), &limits).unwrap_err();
    assert!(e.starts_with("too_large:"), "{e}");
    // Through gzip too.
    let e = tls_reports(
        &fixtures().join("sender.example!example.com!1793664000!1793750399.json.gz"),
        &limits,
    )
    .unwrap_err();
    assert!(e.starts_with("too_large:"), "{e}");
}

#[test]
fn aggregate_parsing_of_a_json_file_fails_as_before() {
    let r = ingest_paths([fixtures().join("good.json")], &Limits::default());
    assert!(r.reports.is_empty());
    assert_eq!(r.errors.len(), 1);
    assert!(
        r.errors[0]
            .1
            .starts_with("unsupported_format: not XML, gzip, zip or a mail message"),
        "{:?}",
        r.errors
    );
}

/// The corpus's expectations, one row per report.
#[test]
fn corpus_conformance() {
    let Some(dir) = authwarden_test_support::corpus::dir("tlsrpt") else {
        return;
    };
    let limits = Limits::default();
    let mut checked = 0;
    for row in authwarden_test_support::corpus::expected(&dir) {
        let get = |name: &str| row.get(name).map(String::as_str).unwrap_or("");
        let file = get("file");
        assert_eq!(get("status"), "ok", "{file}: only good samples so far");
        let got = tls_reports(&dir.join(file), &limits).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got.len(), 1, "{file}");
        let (source, r) = &got[0];
        let member = get("member");
        if member != "-" {
            assert!(source.ends_with(&format!("#{member}")), "{file}: {source}");
        }
        let h = &r.header;
        assert_eq!(h.org_name, get("organization"), "{file}");
        assert_eq!(h.report_id, get("report_id"), "{file}");
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
        assert_eq!(h.begin, t(get("start")), "{file}");
        assert_eq!(h.end, t(get("end")), "{file}");
        assert_eq!(r.policies.len().to_string(), get("policies"), "{file}");
        let types: Vec<&str> = r.policies.iter().map(|p| p.policy_type.as_str()).collect();
        assert_eq!(types.join(","), get("policy_types"), "{file}");
        let domains: Vec<&str> = r
            .policies
            .iter()
            .map(|p| {
                if p.policy_domain.is_empty() {
                    "<missing>"
                } else {
                    &p.policy_domain
                }
            })
            .collect();
        assert_eq!(domains.join(","), get("policy_domains"), "{file}");
        let ok: u64 = r.policies.iter().map(|p| p.successful).sum();
        let failed: u64 = r.policies.iter().map(|p| p.failed).sum();
        let details: usize = r.policies.iter().map(|p| p.failures.len()).sum();
        assert_eq!(ok.to_string(), get("success_sum"), "{file}");
        assert_eq!(failed.to_string(), get("failure_sum"), "{file}");
        assert_eq!(details.to_string(), get("failure_details"), "{file}");
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} corpus reports checked");
}

/// The bundled example's TLS reports (scripts/example-tls-reports.py):
/// every message of its mbox files gives one TLS report, attachments and
/// bodies alike.
#[test]
fn the_example_tls_mailboxes_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/example-reports");
    let limits = Limits::default();
    let mut reports = 0;
    let mut bodies = 0;
    for month in ["2026-09", "2026-10", "2026-11"] {
        let path = dir.join(format!("tls-reports-{month}.mbox"));
        for (source, r) in tls_reports(&path, &limits).unwrap() {
            assert_eq!(r.policies.len(), 1, "{source}");
            reports += 1;
            bodies += usize::from(source.ends_with("#part-0"));
        }
    }
    assert_eq!(reports, 528);
    assert!(bodies > 0, "no report sent as a message body");
}
