//! Hostile input ends in a clear error with memory bounded: DTDs and
//! entities, zip and gzip bombs, deep nesting, huge text nodes, too many
//! records.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use authwarden_aggregate::*;
use flate2::write::GzEncoder;
use flate2::Compression;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn small_limits() -> Limits {
    Limits {
        max_decompressed_bytes: 4 * 1024 * 1024,
        max_input_bytes: 4 * 1024 * 1024,
        ..Limits::default()
    }
}

fn parse_bytes(bytes: Vec<u8>, limits: &Limits) -> Result<AggregateReport, ReportError> {
    parse_report(Cursor::new(bytes), limits)
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let e = open_path(&fixture("billion-laughs.xml"), &Limits::default()).unwrap()[0]
        .parse(&Limits::default())
        .unwrap_err();
    assert_eq!(e.code(), "doctype_forbidden");
    assert!(e.to_string().contains("DOCTYPE"));
}

#[test]
fn external_entity_doctype_is_refused() {
    let xml = r#"<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>"#;
    assert_eq!(
        parse_bytes(xml.into(), &Limits::default())
            .unwrap_err()
            .code(),
        "doctype_forbidden"
    );
}

#[test]
fn undeclared_custom_entity_is_an_error_not_resolved() {
    let bytes = std::fs::read(fixture("xxe-no-doctype.xml")).unwrap();
    let e = parse_bytes(bytes, &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "undefined_entity");
    assert!(e.to_string().contains("&xxe;"), "{e}");
}

/// A gzip stream of `total` bytes of well-formed XML: `<feedback>` then
/// `<a/>` forever, so only the size cap can stop it.
fn gzip_bomb(total: usize) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(b"<feedback>").unwrap();
    let chunk = b"<a/>".repeat(16 * 1024);
    let mut written = 0;
    while written < total {
        enc.write_all(&chunk).unwrap();
        written += chunk.len();
    }
    enc.finish().unwrap()
}

#[test]
fn gzip_bomb_stops_at_the_decompressed_cap() {
    let limits = small_limits();
    let bomb = gzip_bomb(64 * 1024 * 1024);
    assert!(
        bomb.len() < 1024 * 1024,
        "the bomb is small: {}",
        bomb.len()
    );
    let payloads = open_payload(bomb, "bomb.xml.gz", &limits).unwrap();
    assert_eq!(payloads[0].kind(), PayloadKind::Gzip);
    let e = payloads[0].parse(&limits).unwrap_err();
    assert_eq!(e.code(), "too_large", "{e}");
    assert!(e.to_string().contains("4194304"), "{e}");
}

#[test]
fn zip_bomb_member_stops_at_the_decompressed_cap() {
    let limits = small_limits();
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("bomb.xml", opts).unwrap();
    zip.write_all(b"<feedback>").unwrap();
    let chunk = b"<a/>".repeat(16 * 1024);
    for _ in 0..(64 * 1024 * 1024 / chunk.len()) {
        zip.write_all(&chunk).unwrap();
    }
    zip.start_file("ok.xml", opts).unwrap();
    zip.write_all(&std::fs::read(fixture("minimal.xml")).unwrap())
        .unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let payloads = open_payload(bytes, "bomb.zip", &limits).unwrap();
    assert_eq!(payloads.len(), 2);
    assert_eq!(payloads[0].source(), "bomb.zip#bomb.xml");
    assert_eq!(payloads[0].parse(&limits).unwrap_err().code(), "too_large");
    // The bomb does not take its neighbour down.
    assert_eq!(
        payloads[1].parse(&limits).unwrap().metadata.report_id,
        "minimal-1"
    );
}

#[test]
fn gzip_bomb_of_zeros_is_stopped_by_the_text_cap() {
    let limits = small_limits();
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(b"<feedback><report_metadata><org_name>")
        .unwrap();
    let zeros = vec![b'a'; 1024 * 1024];
    for _ in 0..32 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let e = open_payload(bomb, "z.gz", &limits).unwrap()[0]
        .parse(&limits)
        .unwrap_err();
    assert_eq!(e.code(), "text_too_long", "{e}");
}

#[test]
fn huge_plain_file_stops_at_the_cap() {
    let limits = Limits {
        max_decompressed_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let mut xml = b"<feedback>".to_vec();
    xml.extend(b"<a/>".repeat(1024 * 1024));
    assert_eq!(parse_bytes(xml, &limits).unwrap_err().code(), "too_large");
}

#[test]
fn deep_nesting_is_capped() {
    let xml = format!("<feedback>{}", "<x>".repeat(10_000));
    let e = parse_bytes(xml.into(), &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "too_deep");
}

#[test]
fn record_count_is_capped() {
    let limits = Limits {
        max_records: 10,
        ..Limits::default()
    };
    let xml = format!(
        "<feedback><report_metadata><report_id>1</report_id></report_metadata>{}</feedback>",
        "<record><row><count>1</count></row></record>".repeat(11)
    );
    let e = parse_bytes(xml.into(), &limits).unwrap_err();
    assert_eq!(e.code(), "too_many_records");
}

#[test]
fn long_text_is_capped() {
    let limits = Limits {
        max_text_bytes: 1000,
        ..Limits::default()
    };
    let xml = format!(
        "<feedback><report_metadata><org_name>{}</org_name>",
        "x".repeat(5000)
    );
    assert_eq!(
        parse_bytes(xml.into(), &limits).unwrap_err().code(),
        "text_too_long"
    );
    // Many small pieces (entities) add up too.
    let xml = format!(
        "<feedback><report_metadata><org_name>{}</org_name>",
        "&amp;".repeat(5000)
    );
    assert_eq!(
        parse_bytes(xml.into(), &limits).unwrap_err().code(),
        "text_too_long"
    );
}

#[test]
fn deeply_nested_gzip_is_capped() {
    let mut data = std::fs::read(fixture("minimal.xml")).unwrap();
    for _ in 0..10 {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&data).unwrap();
        data = enc.finish().unwrap();
    }
    let limits = Limits::default();
    let e = open_payload(data, "deep.gz", &limits).unwrap()[0]
        .parse(&limits)
        .unwrap_err();
    assert_eq!(e.code(), "unsupported_format", "{e}");
    assert!(e.to_string().contains("nested deeper"), "{e}");
}

#[test]
fn corrupt_gzip_is_an_invalid_gzip_error() {
    let mut gz = std::fs::read(fixture("minimal.xml.gz")).unwrap();
    let n = gz.len();
    for b in &mut gz[20..n - 20] {
        *b ^= 0x5a;
    }
    let limits = Limits::default();
    let e = open_payload(gz, "bad.gz", &limits)
        .and_then(|p| p[0].parse(&limits))
        .unwrap_err();
    assert_eq!(e.code(), "invalid_gzip", "{e}");
}

#[test]
fn no_input_panics_on_truncation() {
    // Every prefix of every fixture parses or fails cleanly.
    let limits = Limits::default();
    for name in [
        "minimal.xml",
        "quirks.xml",
        "rfc9990.xml",
        "minimal.xml.gz",
        "two-members.zip.bin",
        "report.eml",
    ] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for cut in 0..bytes.len() {
            if let Ok(payloads) = open_payload(bytes[..cut].to_vec(), name, &limits) {
                for p in payloads {
                    let _ = p.parse(&limits);
                }
            }
        }
    }
}
