//! The parser on hand-made fixtures: the schemas and the quirks of real
//! reporters.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use authwarden_aggregate::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn parse_file(name: &str) -> Result<AggregateReport, ReportError> {
    let bytes = std::fs::read(fixture(name)).unwrap();
    parse_report(Cursor::new(bytes), &Limits::default())
}

#[test]
fn minimal_rfc7489_report() {
    let r = parse_file("minimal.xml").unwrap();
    assert_eq!(r.metadata.org_name, "reporter.example");
    assert_eq!(r.metadata.report_id, "minimal-1");
    assert_eq!(
        r.metadata.date_range,
        DateRange {
            begin: 1704067200,
            end: 1704153599
        }
    );
    assert_eq!(r.policy_published.p, Some(Disposition::Reject));
    assert_eq!(r.policy_published.adkim, Some(Alignment::Relaxed));
    assert_eq!(r.policy_published.pct, Some(100));
    assert_eq!(r.records.len(), 1);
    let rec = &r.records[0];
    assert_eq!(rec.ip(), Some("192.0.2.1".parse().unwrap()));
    assert_eq!(rec.count, 3);
    assert_eq!(rec.policy_evaluated.dkim, Some(DmarcResult::Pass));
    assert_eq!(rec.auth_results.dkim[0].selector.as_deref(), Some("s1"));
    assert_eq!(rec.auth_results.spf[0].scope, Some(SpfScope::Mfrom));
    assert_eq!(r.message_count(), 3);
}

#[test]
fn rfc9990_namespace_and_new_fields() {
    let r = parse_file("rfc9990.xml").unwrap();
    assert_eq!(
        r.namespace.as_deref(),
        Some("urn:ietf:params:xml:ns:dmarc-2.0")
    );
    assert_eq!(r.version.as_deref(), Some("1.0"));
    assert_eq!(
        r.metadata.generator.as_deref(),
        Some("Example Reporter 2.1")
    );
    let p = &r.policy_published;
    assert_eq!(p.np, Some(Disposition::Reject));
    assert_eq!(p.testing, Some(Testing::No));
    assert_eq!(p.discovery_method, Some(DiscoveryMethod::Treewalk));
    assert_eq!(p.pct, None);
    let rec = &r.records[0];
    assert_eq!(rec.policy_evaluated.disposition, Some(Disposition::Pass));
    assert_eq!(rec.ip(), Some("2001:db8::25".parse().unwrap()));
    assert_eq!(rec.auth_results.spf[0].result, Some(SpfResult::SoftFail));
    assert_eq!(
        rec.auth_results.spf[0].human_result.as_deref(),
        Some("via forwarder")
    );
    assert_eq!(
        rec.identifiers.envelope_from.as_deref(),
        Some("bounce.example.com")
    );
}

#[test]
fn real_world_quirks_are_tolerated() {
    let r = parse_file("quirks.xml").unwrap();
    // Invalid UTF-8 decoded lossily; entities and character references resolved.
    assert_eq!(r.metadata.org_name, "Soci\u{FFFD}t\u{FFFD} & Co \u{2713}");
    assert_eq!(r.metadata.report_id, "quirks-1", "CDATA text");
    assert_eq!(r.metadata.extra_contact_info, None);
    // Trailing/leading spaces in numbers; a three-day range is kept as sent.
    assert_eq!(
        r.metadata.date_range,
        DateRange {
            begin: 1704067200,
            end: 1704326399
        }
    );
    assert_eq!(r.metadata.errors, vec!["first error".to_owned()]);
    let p = &r.policy_published;
    assert_eq!(p.adkim, Some(Alignment::Strict));
    assert_eq!(p.aspf, None);
    assert_eq!(p.p, Some(Disposition::Quarantine));
    assert_eq!(p.sp, None);
    assert_eq!(p.pct, Some(100));
    assert_eq!(p.fo, None);
    // The record of empty elements (empty IP, count 0) is refused and
    // counted, not kept as if it had a source.
    assert_eq!(r.records.len(), 1);
    assert_eq!(
        r.rejected,
        RejectedRecords {
            records: 1,
            messages: 0,
            reasons: vec!["a record without source_ip".into()]
        }
    );
    let rec = &r.records[0];
    assert_eq!(rec.source_ip, "198.51.100.7");
    assert_eq!(rec.count, 12);
    assert_eq!(rec.policy_evaluated.disposition, Some(Disposition::None));
    assert_eq!(rec.policy_evaluated.dkim, Some(DmarcResult::Pass));
    assert_eq!(rec.policy_evaluated.spf, Some(DmarcResult::Fail));
    // The empty <reason></reason> adds nothing; an unknown type is kept.
    assert_eq!(
        rec.policy_evaluated.reasons,
        vec![
            OverrideReason {
                kind: PolicyOverride::Forwarded,
                comment: None
            },
            OverrideReason {
                kind: PolicyOverride::Unknown("arc_override".into()),
                comment: Some("arc=pass".into())
            },
        ]
    );
    assert_eq!(rec.identifiers.envelope_from, None);
    assert_eq!(rec.auth_results.dkim.len(), 2);
    assert_eq!(rec.auth_results.dkim[0].result, Some(DkimResult::Pass));
    assert_eq!(rec.auth_results.dkim[0].human_result, None);
    assert_eq!(rec.auth_results.dkim[1].result, Some(DkimResult::TempError));
    assert_eq!(rec.auth_results.spf[0].scope, Some(SpfScope::Helo));
    assert_eq!(rec.auth_results.spf[0].result, Some(SpfResult::SoftFail));
}

#[test]
fn streaming_callback_sees_header_and_every_record() {
    let bytes = std::fs::read(fixture("quirks.xml")).unwrap();
    let mut seen = Vec::new();
    let header = parse_report_with(Cursor::new(bytes), &Limits::default(), |h, rec| {
        seen.push((
            h.metadata.report_id.clone(),
            h.policy_published.domain.clone(),
            rec.count,
        ));
    })
    .unwrap();
    assert_eq!(header.metadata.report_id, "quirks-1");
    // The record without a source is not handed out; the header counts it.
    assert_eq!(seen, vec![("quirks-1".into(), "example.com".into(), 12)]);
    assert_eq!(header.rejected.records, 1);
}

#[test]
fn serialises_enums_as_lower_case_strings() {
    let r = parse_file("quirks.xml").unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert_eq!(v["policy_published"]["p"], "quarantine");
    assert_eq!(v["records"][0]["policy_evaluated"]["dkim"], "pass");
    assert_eq!(
        v["records"][0]["policy_evaluated"]["reasons"][1]["type"],
        "arc_override"
    );
    assert_eq!(
        v["records"][0]["auth_results"]["spf"][0]["result"],
        "softfail"
    );
}

fn err(xml: &str) -> ReportError {
    parse_report(Cursor::new(xml.as_bytes().to_vec()), &Limits::default()).unwrap_err()
}

#[test]
fn broken_documents_name_their_reason() {
    assert_eq!(err("").code(), "empty");
    assert_eq!(err("  \n ").code(), "empty");
    assert_eq!(err("hello, world").code(), "not_aggregate_report");
    assert_eq!(err("<html><body/></html>").code(), "not_aggregate_report");
    assert_eq!(
        err("<feedback><report_metadata><org_name>x</org_name>").code(),
        "truncated"
    );
    assert!(err("<feedback><report_metadata>")
        .to_string()
        .contains("<report_metadata>"));
    assert_eq!(err("<feedback><a></b></feedback>").code(), "invalid_xml");
    assert_eq!(
        err("<feedback><report_metadata><org_name>x</org_name></report_metadata></feedback>")
            .code(),
        "missing_field"
    );
    let bad_count = "<feedback><report_metadata><report_id>1</report_id></report_metadata>\
                     <record><row><count>many</count></row></record></feedback>";
    let e = err(bad_count);
    assert_eq!(e.code(), "invalid_value");
    assert!(e.to_string().contains("<count>"), "{e}");
}

#[test]
fn parsing_stops_at_the_end_of_feedback() {
    // Junk after </feedback> (seen from broken reporters) is ignored.
    let xml =
        "<feedback><report_metadata><report_id>1</report_id></report_metadata></feedback><<garbage";
    let r = parse_report(Cursor::new(xml.as_bytes().to_vec()), &Limits::default()).unwrap();
    assert_eq!(r.metadata.report_id, "1");
}

#[test]
fn whitespace_around_references_inside_a_field_is_kept() {
    let xml = "<feedback><report_metadata><org_name> A &amp; B &#65; C </org_name><report_id>1</report_id></report_metadata></feedback>";
    let r = parse_report(Cursor::new(xml.as_bytes().to_vec()), &Limits::default()).unwrap();
    assert_eq!(r.metadata.org_name, "A & B A C");
}
