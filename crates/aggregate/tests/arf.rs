//! DMARC failure reports (RFC 6591 ARF): the committed fixtures (three of
//! mail-auth's samples, one abuse report, one of ours whose reported
//! message has a unique body sentence, broken ones), in every container,
//! and the shared corpus (`../shared/corpus/failure`, checked against its
//! `EXPECTED.tsv`; when absent, a failure under CI and a loud note
//! elsewhere).

use std::path::{Path, PathBuf};

use authwarden_aggregate::{
    open_path, parse_failure_report, ArfOutcome, FailureReport, Limits, RCPT_HASH_HEX,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/arf")
}

/// The one outcome of a file, through the containers, or its error.
fn outcome(path: &Path, limits: &Limits) -> Result<ArfOutcome, String> {
    let payloads = open_path(path, limits).map_err(|e| e.to_string())?;
    assert_eq!(payloads.len(), 1, "{}", path.display());
    let p = &payloads[0];
    assert!(
        p.is_failure_report(),
        "{} is not a feedback report",
        p.source()
    );
    p.parse_failure(limits).map_err(|e| e.to_string())
}

fn failure(file: &str) -> FailureReport {
    match outcome(&fixtures().join(file), &Limits::default()) {
        Ok(ArfOutcome::Failure(r)) => *r,
        other => panic!("{file}: {other:?}"),
    }
}

#[test]
fn rfc6591_sample_with_message_rfc822() {
    let r = failure("arf-003.eml");
    assert_eq!(r.reporter, "example.com");
    assert_eq!(r.feedback_type, "auth-failure");
    assert_eq!(r.auth_failure.as_deref(), Some("bodyhash"));
    assert_eq!(r.reported_domain.as_deref(), Some("example.net"));
    assert_eq!(r.source_ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(r.mail_from_domain.as_deref(), Some("example.net"));
    assert_eq!(r.rcpt_to_domain.as_deref(), Some("example.com"));
    assert_eq!(
        r.rcpt_to_hash.as_ref().map(String::len),
        Some(RCPT_HASH_HEX)
    );
    assert_eq!(r.dkim_domain.as_deref(), Some("example.net"));
    assert_eq!(r.user_agent.as_deref(), Some("SomeDKIMFilter/1.0"));
    assert_eq!(r.version.as_deref(), Some("1"));
    // Received-Date is not Arrival-Date.
    assert_eq!(r.arrival_date, None);
    assert_eq!(r.original_part.as_deref(), Some("message/rfc822"));
    assert_eq!(r.header_from_domain.as_deref(), Some("example.net"));
    // The reported message has no Message-ID.
    assert_eq!(r.message_id_hash, None);
    assert_eq!(r.incidents, 1);
}

#[test]
fn opendmarc_report_with_headers_only() {
    let r = failure("arf-004.eml");
    assert_eq!(r.reporter, "box.mydomain.name");
    assert_eq!(r.auth_failure.as_deref(), Some("dmarc"));
    assert_eq!(r.reported_domain.as_deref(), Some("interpublication.org"));
    // The reverse name in parentheses is dropped.
    assert_eq!(r.source_ip.as_deref(), Some("148.163.85.135"));
    assert_eq!(r.mail_from_domain.as_deref(), Some("interpublication.org"));
    assert_eq!(r.rcpt_to_domain, None);
    assert_eq!(r.rcpt_to_hash, None);
    assert_eq!(r.user_agent.as_deref(), Some("OpenDMARC-Filter/1.3.2"));
    assert_eq!(r.original_part.as_deref(), Some("text/rfc822-headers"));
    assert_eq!(
        r.header_from_domain.as_deref(),
        Some("interpublication.org")
    );
}

#[test]
fn folded_report_type_and_arrival_date() {
    let r = failure("arf-005.eml");
    assert_eq!(r.reporter, "mail.receiver.example");
    assert_eq!(r.auth_failure.as_deref(), Some("bodyhash"));
    assert_eq!(r.reported_domain.as_deref(), Some("a.sender.example"));
    assert_eq!(r.arrival_date, Some(1_318_104_958));
    assert_eq!(r.dkim_domain.as_deref(), Some("sender.example"));
    assert_eq!(r.dkim_selector.as_deref(), Some("testkey"));
    assert_eq!(r.dkim_identity.as_deref(), Some("@sender.example"));
    assert_eq!(r.header_from_domain.as_deref(), Some("a.sender.example"));
    let id_hash = r.message_id_hash.as_deref().unwrap();
    assert_eq!(id_hash.len(), 64);
    assert!(id_hash.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn our_fixture_keeps_metadata_only() {
    let r = failure("authwarden-private.eml");
    assert_eq!(r.reporter, "reports.receiver.example");
    assert_eq!(r.reporting_mta.as_deref(), Some("mx1.receiver.example"));
    assert_eq!(r.reported_domain.as_deref(), Some("shop.example"));
    assert_eq!(r.source_ip.as_deref(), Some("203.0.113.77"));
    assert_eq!(r.auth_failure.as_deref(), Some("dmarc"));
    assert_eq!(r.mail_from_domain.as_deref(), Some("mailer.shop.example"));
    assert_eq!(r.rcpt_to_domain.as_deref(), Some("customer.example"));
    assert_eq!(r.arrival_date, Some(1_793_700_672));
    assert_eq!(r.identity_alignment.as_deref(), Some("none"));
    assert_eq!(r.delivery_result.as_deref(), Some("reject"));
    assert_eq!(r.incidents, 3);
    assert_eq!(
        r.spf_dns.as_deref(),
        Some("txt; shop.example; \"v=spf1 include:_spf.shop.example -all\"")
    );
    assert_eq!(r.header_from_domain.as_deref(), Some("shop.example"));
    // Nothing of the body, the subject, other headers or the addresses.
    let all = serde_json::to_string(&r).unwrap();
    for secret in [
        "purple giraffe",
        "Secret quarterly",
        "ZX-4471",
        "internal-ticket",
        "jane.private.recipient",
        "bounce-77",
        "billing@",
        "invoice-4471",
    ] {
        assert!(!all.contains(secret), "{secret:?} kept: {all}");
    }
}

#[test]
fn the_dedup_key_is_stable_and_distinct() {
    let a = failure("authwarden-private.eml");
    let b = failure("arf-005.eml");
    assert_eq!(a.dedup_key(), failure("authwarden-private.eml").dedup_key());
    assert_ne!(a.dedup_key(), b.dedup_key());
}

#[test]
fn abuse_reports_are_ignored_not_errors() {
    let got = outcome(&fixtures().join("arf-001-abuse.eml"), &Limits::default()).unwrap();
    assert_eq!(
        got,
        ArfOutcome::Ignored {
            feedback_type: "abuse".into()
        }
    );
}

#[test]
fn malformed_reports_are_errors_that_say_why() {
    let limits = Limits::default();
    let e = outcome(&fixtures().join("broken-no-feedback-part.eml"), &limits).unwrap_err();
    assert!(
        e.starts_with("invalid_failure_report:") && e.contains("no message/feedback-report part"),
        "{e}"
    );
    let e = outcome(&fixtures().join("broken-no-feedback-type.eml"), &limits).unwrap_err();
    assert!(e.contains("no Feedback-Type"), "{e}");
    let e = parse_failure_report(b"From: a@b.example\r\n\r\nhello\r\n", &limits).unwrap_err();
    assert!(e.to_string().contains("not a feedback report"), "{e}");
}

#[test]
fn an_unparsable_arrival_date_is_kept_as_an_error() {
    let raw = std::fs::read_to_string(fixtures().join("authwarden-private.eml")).unwrap();
    let raw = raw.replace(
        "Arrival-Date: Tue, 3 Nov 2026 10:11:12 +0000",
        "Arrival-Date: last tuesday",
    );
    let Ok(ArfOutcome::Failure(r)) = parse_failure_report(raw.as_bytes(), &Limits::default())
    else {
        panic!("not parsed");
    };
    assert_eq!(r.arrival_date, None);
    assert!(r
        .arrival_date_error
        .as_deref()
        .is_some_and(|e| e.contains("last tuesday")));
}

#[test]
fn the_size_cap_refuses_a_large_message_unread() {
    let raw = std::fs::read(fixtures().join("authwarden-private.eml")).unwrap();
    let small = Limits {
        max_input_bytes: 100,
        ..Limits::default()
    };
    let e = parse_failure_report(&raw, &small).unwrap_err();
    assert!(e.to_string().starts_with("too_large"), "{e}");
}

#[test]
fn reports_in_an_mbox_and_gzip_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let mut mbox = Vec::new();
    for f in ["arf-005.eml", "arf-001-abuse.eml", "authwarden-private.eml"] {
        mbox.extend_from_slice(b"From MAILER-DAEMON Tue Nov  3 10:12:00 2026\n");
        mbox.extend_from_slice(&std::fs::read(fixtures().join(f)).unwrap());
        mbox.extend_from_slice(b"\n");
    }
    let path = dir.path().join("failures.mbox");
    std::fs::write(&path, &mbox).unwrap();
    let limits = Limits::default();
    let payloads = open_path(&path, &limits).unwrap();
    assert_eq!(payloads.len(), 3);
    assert!(payloads.iter().all(|p| p.is_failure_report()));
    let kinds: Vec<bool> = payloads
        .iter()
        .map(|p| matches!(p.parse_failure(&limits), Ok(ArfOutcome::Failure(_))))
        .collect();
    assert_eq!(kinds, [true, false, true]);

    let gz = dir.path().join("report.eml.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(
        &mut enc,
        &std::fs::read(fixtures().join("arf-004.eml")).unwrap(),
    )
    .unwrap();
    std::fs::write(&gz, enc.finish().unwrap()).unwrap();
    assert!(matches!(
        outcome(&gz, &limits),
        Ok(ArfOutcome::Failure(r)) if r.reported_domain.as_deref() == Some("interpublication.org")
    ));
}

/// The corpus's expectations, one row per sample.
#[test]
fn corpus_conformance() {
    let Some(dir) = authwarden_test_support::corpus::dir("failure") else {
        return;
    };
    let limits = Limits::default();
    let mut checked = 0;
    for row in authwarden_test_support::corpus::expected(&dir) {
        let get = |name: &str| row.get(name).map(String::as_str).unwrap_or("");
        let file = get("file");
        assert_eq!(get("status"), "ok", "{file}: only good samples so far");
        let got = outcome(&dir.join(file), &limits).unwrap_or_else(|e| panic!("{file}: {e}"));
        let r = match got {
            ArfOutcome::Ignored { feedback_type } => {
                assert_eq!(feedback_type, get("feedback-type"), "{file}");
                checked += 1;
                continue;
            }
            ArfOutcome::Failure(r) => r,
        };
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        assert_eq!(r.feedback_type, get("feedback-type"), "{file}");
        assert_eq!(opt(&r.auth_failure), get("auth-failure"), "{file}");
        assert_eq!(opt(&r.reported_domain), get("reported-domain"), "{file}");
        // The corpus keeps the field as sent; we keep the address only.
        let ip = get("source-ip").split(' ').next().unwrap_or("");
        assert_eq!(opt(&r.source_ip), ip, "{file}");
        let domain_of = |v: &str| {
            v.trim_matches(['<', '>'])
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            opt(&r.mail_from_domain),
            domain_of(get("original-mail-from")),
            "{file}"
        );
        assert_eq!(
            opt(&r.rcpt_to_domain),
            domain_of(get("original-rcpt-to")),
            "{file}"
        );
        assert_eq!(
            r.arrival_date.is_some(),
            !get("arrival-date").is_empty(),
            "{file}"
        );
        assert_eq!(opt(&r.dkim_domain), get("dkim-domain"), "{file}");
        assert_eq!(opt(&r.dkim_selector), get("dkim-selector"), "{file}");
        assert_eq!(opt(&r.user_agent), get("user-agent"), "{file}");
        assert_eq!(opt(&r.version), get("version"), "{file}");
        assert_eq!(opt(&r.original_part), get("original_part"), "{file}");
        checked += 1;
    }
    assert!(checked >= 4, "only {checked} corpus samples checked");
}
