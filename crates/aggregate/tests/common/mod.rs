//! Builders of hostile inputs shared by the reliability and memory tests:
//! reports, gzip, zip, base64 and mail, all made in the test.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use flate2::write::GzEncoder;
use flate2::Compression;

/// A valid report with one record, `extra` inserted before `</feedback>`
/// (padding in a comment, say).
pub fn report_with(id: &str, extra: &str) -> Vec<u8> {
    format!(
        "<feedback><report_metadata><org_name>o</org_name><report_id>{id}</report_id>\
         <date_range><begin>1704067200</begin><end>1704153599</end></date_range></report_metadata>\
         <policy_published><domain>example.com</domain><p>none</p></policy_published>\
         <record><row><source_ip>192.0.2.1</source_ip><count>1</count></row>\
         <identifiers><header_from>example.com</header_from></identifiers></record>{extra}</feedback>"
    )
    .into_bytes()
}

pub fn report(id: &str) -> Vec<u8> {
    report_with(id, "")
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A zip of `(name, bytes)` members, stored or deflated.
pub fn zip_of(members: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    for (name, bytes) in members {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

pub fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    zip_of(members, zip::CompressionMethod::Stored)
}

pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38);
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = |j: usize| u32::from(chunk.get(j).copied().unwrap_or(0));
        let n = (b(0) << 16) | (b(1) << 8) | b(2);
        for j in 0..4 {
            if j <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * j)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A mail message with one base64 attachment named `filename` (written
/// into the headers as given: a test may put anything in it).
pub fn mail(attachment: &[u8], filename: &str) -> Vec<u8> {
    format!(
        "From: noreply@reporter.example\r\n\
         Subject: Report Domain: example.com\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: application/gzip; name=\"{filename}\"\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --b1--\r\n",
        base64(attachment)
    )
    .into_bytes()
}

/// An mbox of the given messages.
pub fn mbox(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        write!(
            out,
            "From noreply@reporter.example Tue Jan  2 00:00:{:02} 2024\r\n",
            i % 60
        )
        .unwrap();
        out.extend_from_slice(m);
        out.extend_from_slice(b"\r\n");
    }
    out
}
