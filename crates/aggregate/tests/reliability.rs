//! Reliability against reports from strangers (issue 11): the work budget
//! of an input file, the memory of failed inputs, names from inside
//! archives shown safely, and report content that is refused or escaped.
//! Every hostile input is built here.

use std::io::Write;
use std::time::Duration;

use authwarden_aggregate::*;

mod common;
use common::*;

/// Every character of `s` is safe to print on one line.
fn printable(s: &str) -> bool {
    !s.chars().any(is_unsafe_char)
}

/// What a test handler gives: the report id, or the error code and text.
type Parsed = Result<String, (String, String)>;

fn parse_id(p: &Payload, limits: &Limits) -> Parsed {
    p.parse_with(limits, |_, _| {})
        .map(|h| h.metadata.report_id)
        .map_err(|e| (e.code().to_owned(), e.to_string()))
}

// ---------------------------------------------------------------------------
// The work budget.

/// A zip of `members` stored members, each a gzip in gzip of a report
/// padded with a ~512 KiB comment: small to build and to store, but every
/// member decompresses to half a megabyte (the measured hostile file had
/// 1,000 members of 99 MiB each).
fn gzip_in_gzip_zip(members: usize) -> Vec<u8> {
    let padding = format!("<!--{}-->", " ".repeat(512 * 1024));
    let names: Vec<String> = (0..members).map(|i| format!("r{i:04}.xml.gz")).collect();
    let bodies: Vec<Vec<u8>> = (0..members)
        .map(|i| gzip(&gzip(&report_with(&format!("gg-{i}"), &padding))))
        .collect();
    let list: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&bodies)
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    stored_zip(&list)
}

#[test]
fn the_byte_budget_stops_the_rest_of_the_file_with_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.zip");
    std::fs::write(&path, gzip_in_gzip_zip(1000)).unwrap();
    let limits = Limits {
        max_work_bytes: 20 * 1024 * 1024,
        ..Limits::default()
    };
    let visits = visit_payloads([&path], &limits, |p| parse_id(p, &limits));
    let (ok, rest): (Vec<_>, Vec<_>) = visits.iter().partition(|v| matches!(v, Ok((_, Ok(_)))));
    // The reports read before the budget ran out are kept, in order…
    assert!(
        (10..100).contains(&ok.len()),
        "{} reports before the budget ran out",
        ok.len()
    );
    for (i, v) in ok.iter().enumerate() {
        let Ok((source, Ok(id))) = v else {
            unreachable!()
        };
        assert_eq!(id, &format!("gg-{i}"));
        assert!(
            source.ends_with(&format!("many.zip#r{i:04}.xml.gz")),
            "{source}"
        );
    }
    // …then one error for the file, naming it and the budget; nothing of
    // the other ~950 members is read.
    assert_eq!(rest.len(), 1, "{rest:?}");
    let Err((source, reason)) = rest[0] else {
        panic!("{:?}", rest[0])
    };
    assert!(source.ends_with("many.zip"), "{source}");
    assert!(reason.starts_with("work_budget_bytes: "), "{reason}");
    assert!(reason.contains("20971520 bytes"), "{reason}");
    // The default budget is far above this file: every member parses.
    let all = visit_payloads([&path], &Limits::default(), |p| {
        parse_id(p, &Limits::default())
    });
    assert_eq!(all.len(), 1000);
    assert!(all.iter().all(|v| matches!(v, Ok((_, Ok(_))))));
}

#[test]
fn the_time_budget_stops_the_file_with_its_own_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.zip");
    std::fs::write(&path, gzip_in_gzip_zip(20)).unwrap();
    let limits = Limits {
        max_work_time: Duration::ZERO,
        ..Limits::default()
    };
    let visits = visit_payloads([&path], &limits, |p| parse_id(p, &limits));
    assert_eq!(visits.len(), 1, "{visits:?}");
    let Err((source, reason)) = &visits[0] else {
        panic!("{visits:?}")
    };
    assert!(source.ends_with("many.zip"));
    assert!(reason.starts_with("work_budget_time: "), "{reason}");
    // The same through the streaming API, as an error kind.
    let e = stream_path(&path, &limits, |_| panic!("no payload is handed out")).unwrap_err();
    assert!(matches!(e, ReportError::WorkTime { .. }), "{e}");
    assert_eq!(e.code(), "work_budget_time");
    assert!(e.is_work_budget());
}

#[test]
fn a_payload_of_a_spent_file_fails_with_the_budget() {
    // Through the Vec API the budget is shared by the payloads too.
    let limits = Limits {
        max_work_bytes: 3 * 1024 * 1024,
        ..Limits::default()
    };
    let payloads = open_payload(gzip_in_gzip_zip(10), "many.zip", &limits).unwrap();
    assert_eq!(payloads.len(), 10);
    let codes: Vec<_> = payloads
        .iter()
        .map(|p| match p.parse(&limits) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        })
        .collect();
    assert_eq!(codes[..5], ["ok"; 5], "{codes:?}");
    assert!(
        codes[6..].iter().all(|c| *c == "work_budget_bytes"),
        "{codes:?}"
    );
}

// ---------------------------------------------------------------------------
// Failed inputs are remembered.

#[test]
fn failed_files_are_skipped_until_they_change() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let broken = inputs.join("broken.zip");
    std::fs::write(&broken, b"PK\x03\x04 not really a zip").unwrap();
    std::fs::write(inputs.join("good.xml"), report("good-1")).unwrap();
    std::fs::write(inputs.join("truncated.xml"), b"<feedback><report_metadata>").unwrap();
    std::fs::write(inputs.join("spent.zip"), gzip_in_gzip_zip(30)).unwrap();
    let store = FailedInputs::path_in(&dir.path().join("history"));
    let limits = Limits {
        max_work_bytes: 5 * 1024 * 1024,
        ..Limits::default()
    };
    let run = || {
        let mut failed = FailedInputs::load(&store).unwrap();
        let visits = visit_payloads_skipping(
            [&inputs],
            &limits,
            &mut failed,
            |p| parse_id(p, &limits),
            |r| r.as_ref().err().map(|(_, text)| text.clone()),
        );
        failed.save(&store).unwrap();
        let lines: Vec<(String, String)> = visits
            .into_iter()
            .map(|v| match v {
                Ok((s, Ok(id))) => (s, format!("ok {id}")),
                Ok((s, Err((code, _)))) => (s, code),
                Err((s, reason)) => (s, reason),
            })
            .map(|(s, r)| (s.rsplit('/').next().unwrap().to_owned(), r))
            .collect();
        (lines, failed)
    };

    let (first, failed) = run();
    let file_lines = |lines: &[(String, String)], name: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|(s, _)| s == name)
            .map(|(_, r)| r.clone())
            .collect()
    };
    assert!(
        file_lines(&first, "broken.zip")[0].starts_with("invalid_zip: "),
        "{first:?}"
    );
    assert_eq!(file_lines(&first, "good.xml"), ["ok good-1"]);
    assert_eq!(file_lines(&first, "truncated.xml"), ["truncated"]);
    assert!(file_lines(&first, "spent.zip")[0].starts_with("work_budget_bytes: "));
    // The broken, the truncated and the spent file are remembered, the
    // good one not.
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(failed.remembered(&inputs.join("good.xml")).is_none());

    // The next run reads none of them again.
    let (second, _) = run();
    for name in ["broken.zip", "truncated.xml", "spent.zip"] {
        let lines = file_lines(&second, name);
        assert_eq!(lines.len(), 1, "{second:?}");
        assert!(
            lines[0].starts_with("skipped: failed before with ")
                && lines[0].contains("(unchanged since "),
            "{}",
            lines[0]
        );
    }
    assert!(file_lines(&second, "broken.zip")[0].contains("invalid_zip: "));
    assert_eq!(file_lines(&second, "good.xml"), ["ok good-1"]);

    // A file that changes is tried again, and forgotten once it reads.
    std::fs::write(inputs.join("truncated.xml"), report("fixed-1")).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&broken)
        .unwrap();
    f.write_all(b" and more").unwrap();
    drop(f);
    let (third, failed) = run();
    assert_eq!(file_lines(&third, "truncated.xml"), ["ok fixed-1"]);
    assert!(file_lines(&third, "broken.zip")[0].starts_with("invalid_zip: "));
    assert!(file_lines(&third, "spent.zip")[0].starts_with("skipped: "));
    assert!(failed.remembered(&inputs.join("truncated.xml")).is_none());
    assert_eq!(failed.len(), 2);
}

#[test]
fn an_unreadable_path_is_not_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let mut failed = FailedInputs::new();
    let visits = visit_payloads_skipping(
        [dir.path().join("missing.xml")],
        &Limits::default(),
        &mut failed,
        |p| parse_id(p, &Limits::default()),
        |r| r.as_ref().err().map(|(_, t)| t.clone()),
    );
    assert!(matches!(&visits[..], [Err((_, r))] if r.starts_with("io: ")));
    assert!(failed.is_empty());
}

// ---------------------------------------------------------------------------
// Names from inside archives.

#[test]
fn member_names_cannot_forge_lines_or_drive_the_terminal() {
    let evil = "r.xml\n2024-01-01 ok: forged line\u{1b}[2J\u{7}\r\u{202e}lmx.gz";
    let long = "n".repeat(1000);
    let zip = zip_of(
        &[
            (evil, &report("evil-1")),
            (&format!("{evil}.broken"), b"<feedback><report_metadata>"),
            (&long, &report("long-1")),
        ],
        zip::CompressionMethod::Deflated,
    );
    // RFC 2047 lets a header carry any byte: a newline, escape and bell.
    let mail = mail(&zip, "=?utf-8?q?reports=0A=1B]0;title=07.zip?=");
    let limits = Limits::default();
    let mut seen = Vec::new();
    stream_payload(mail, "inbox\u{1b}[1m", &limits, |p| {
        seen.push((p.source().to_owned(), parse_id(p, &limits)));
    })
    .unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (source, outcome) in &seen {
        assert!(printable(source), "{source:?}");
        if let Err((_, text)) = outcome {
            assert!(printable(text), "{text:?}");
        }
    }
    let (source, outcome) = &seen[0];
    assert_eq!(
        source,
        "inbox\\u{1b}[1m#reports\\u{a}\\u{1b}]0;title\\u{7}.zip#r.xml\\u{a}2024-01-01 ok: forged line\\u{1b}[2J\\u{7}\\u{d}\\u{202e}lmx.gz"
    );
    assert_eq!(outcome.as_deref(), Ok("evil-1"));
    assert_eq!(seen[1].1.as_ref().unwrap_err().0, "truncated");
    // A long name is cut to 200 characters with an ellipsis.
    let last = seen[2].0.rsplit('#').next().unwrap();
    assert_eq!(last.chars().count(), 200);
    assert!(last.ends_with('…'));
    assert_eq!(seen[2].1.as_deref(), Ok("long-1"));
}

#[test]
fn errors_quoting_content_carry_no_control_characters() {
    let limits = Limits::default();
    let bad = [
        // An undefined entity whose name holds an escape.
        "<feedback><report_metadata><org_name>&x\u{1b}[2J;</org_name>".to_owned(),
        // A mismatched end tag holding a newline and a bidi control.
        "<feedback><report_metadata></report\u{202e}_metadata\n>".to_owned(),
        // A count that is no number.
        "<feedback><record><row><count>1\u{1b}[31m</count></row></record></feedback>".to_owned(),
        // Junk that is no known format.
        "\u{1b}[2J\u{7}\n\rjunk".to_owned(),
    ];
    for xml in bad {
        let e = open_payload(xml.clone().into_bytes(), "x", &limits)
            .and_then(|p| p[0].parse(&limits))
            .unwrap_err();
        let text = e.to_string();
        assert!(printable(&text), "{xml:?} gives {text:?}");
    }
}

// ---------------------------------------------------------------------------
// Report content.

fn report_of(metadata_dates: &str, domain: &str, records: &str) -> Vec<u8> {
    format!(
        "<feedback><report_metadata><org_name>o</org_name><report_id>v-1</report_id>\
         <date_range>{metadata_dates}</date_range></report_metadata>\
         <policy_published><domain>{domain}</domain></policy_published>{records}</feedback>"
    )
    .into_bytes()
}

fn record(ip: &str, count: u64, header_from: &str) -> String {
    format!(
        "<record><row><source_ip>{ip}</source_ip><count>{count}</count></row>\
         <identifiers><header_from>{header_from}</header_from></identifiers></record>"
    )
}

const DAY: &str = "<begin>1704067200</begin><end>1704153599</end>";

#[test]
fn records_whose_source_is_no_ip_are_refused_and_counted() {
    let records = [
        record("192.0.2.1", 3, "example.com"),
        record("999.1.1.1", 5, "example.com"),
        record("2001:db8::25", 2, "example.com"),
        record("not an ip\u{1b}[2J", 7, "example.com"),
    ]
    .concat();
    let r = parse_report(
        &report_of(DAY, "example.com", &records)[..],
        &Limits::default(),
    )
    .unwrap();
    let ips: Vec<_> = r.records.iter().map(|r| r.source_ip.as_str()).collect();
    assert_eq!(ips, ["192.0.2.1", "2001:db8::25"]);
    assert!(r.records.iter().all(|r| r.ip().is_some()));
    assert_eq!(r.rejected.records, 2);
    assert_eq!(r.rejected.messages, 12);
    assert_eq!(
        r.rejected.reasons,
        [
            "source_ip \"999.1.1.1\" is not an IP address",
            "source_ip \"not an ip\\u{1b}[2J\" is not an IP address"
        ]
    );
    assert_eq!(r.message_count(), 5);
}

#[test]
fn extreme_or_reversed_periods_refuse_the_report() {
    let limits = Limits::default();
    let cases = [
        // Year -29719.
        (
            "<begin>-999999999999</begin><end>1704153599</end>",
            "date_range begin -999999999999 (-29719-",
        ),
        // Past 9999.
        (
            "<begin>1704067200</begin><end>999999999999</end>",
            "date_range end 999999999999",
        ),
        (
            "<begin>1704153599</begin><end>1704067200</end>",
            "date_range ends at 1704067200 (2024-01-01) before it begins",
        ),
        (
            "<begin>-1</begin><end>0</end>",
            "is outside 1970-01-01..2100-01-01",
        ),
    ];
    for (dates, expected) in cases {
        let e = parse_report(&report_of(dates, "example.com", "")[..], &limits).unwrap_err();
        assert_eq!(e.code(), "invalid_date_range", "{dates}: {e}");
        assert!(e.to_string().contains(expected), "{dates}: {e}");
    }
    // The edges of the range are fine, and so is a report without a period.
    for dates in ["<begin>0</begin><end>4102444800</end>", ""] {
        assert!(parse_report(&report_of(dates, "example.com", "")[..], &limits).is_ok());
    }
}

#[test]
fn implausible_domains_are_refused_or_escaped() {
    let limits = Limits::default();
    // The published domain names the report's partition: refused.
    for domain in [
        "exa\u{1b}[2Jmple.com".to_owned(),
        format!("{}.com", "a".repeat(260)),
    ] {
        let e = parse_report(&report_of(DAY, &domain, "")[..], &limits).unwrap_err();
        assert_eq!(e.code(), "invalid_value", "{e}");
        assert!(e.to_string().contains("<domain>"), "{e}");
        assert!(printable(&e.to_string()), "{e}");
    }
    // A record's domains are escaped and cut, the record kept.
    let long = format!("{}.example.com", "x".repeat(300));
    let records = [
        record("192.0.2.1", 1, "evil\n.example\u{202e}.com"),
        record("192.0.2.2", 1, &long),
    ]
    .concat();
    let r = parse_report(&report_of(DAY, "example.com", &records)[..], &limits).unwrap();
    assert_eq!(
        r.records[0].identifiers.header_from,
        "evil\\u{a}.example\\u{202e}.com"
    );
    let cut = &r.records[1].identifiers.header_from;
    assert!(
        cut.len() <= 253 && cut.ends_with('…'),
        "{} bytes",
        cut.len()
    );
    assert!(cut.starts_with("xxxx"));
}

// ---------------------------------------------------------------------------
// Containers: shapes that would multiply memory.

#[test]
fn an_oversized_mbox_message_fails_alone() {
    let limits = Limits {
        max_input_bytes: 64 * 1024,
        ..Limits::default()
    };
    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(100 * 1024)).into_bytes();
    let bytes = mbox(&[
        mail(&gzip(&report("m-1")), "a.xml.gz"),
        big,
        mail(&gzip(&report("m-3")), "c.xml.gz"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("box.mbox");
    std::fs::write(&path, bytes).unwrap();
    let visits = visit_payloads([&path], &limits, |p| parse_id(p, &limits));
    let got: Vec<_> = visits
        .iter()
        .map(|v| match v {
            Ok((s, Ok(id))) => format!("{} {id}", s.rsplit('/').next().unwrap()),
            Ok((s, Err((code, _)))) => format!("{} {code}", s.rsplit('/').next().unwrap()),
            Err(e) => format!("{e:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            "box.mbox#message-1#a.xml.gz m-1",
            "box.mbox#message-2 too_large",
            "box.mbox#message-3#c.xml.gz m-3"
        ]
    );
}

#[test]
fn a_message_of_tiny_mime_parts_is_refused_before_parsing() {
    let mut msg = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n".to_vec();
    for _ in 0..20_000 {
        msg.extend_from_slice(b"--b\r\n\r\n");
    }
    let e = open_payload(msg, "parts.eml", &Limits::default()).unwrap_err();
    assert_eq!(e.code(), "invalid_mail", "{e}");
    assert!(e.to_string().contains("MIME part lines"), "{e}");
}

#[test]
fn a_zip_directory_past_its_read_cap_is_refused() {
    let limits = Limits {
        max_members: 10,
        ..Limits::default()
    };
    let names: Vec<String> = (0..12_000).map(|i| format!("{i:0>80}.xml")).collect();
    let list: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    let e = open_payload(stored_zip(&list), "huge-directory.zip", &limits).unwrap_err();
    assert_eq!(e.code(), "invalid_zip", "{e}");
    assert!(
        e.to_string().contains("central directory takes more than"),
        "{e}"
    );
    // Under the cap, the member count is what refuses it.
    let e = open_payload(stored_zip(&list[..20]), "z.zip", &limits).unwrap_err();
    assert!(
        e.to_string()
            .contains("20 members, more than the limit of 10"),
        "{e}"
    );
}

#[test]
fn inner_containers_nest_within_the_limits_and_stream() {
    // A deflated zip member that is a zip holding a gzip of a mail with a
    // zip attachment: every layer read, the payloads streamed in order.
    let inner_mail = mail(&stored_zip(&[("deep.xml", &report("deep-1"))]), "deep.zip");
    let inner = zip_of(
        &[
            ("mail.eml.gz", &gzip(&inner_mail)),
            ("flat.xml", &report("flat-1")),
        ],
        zip::CompressionMethod::Deflated,
    );
    let outer = zip_of(
        &[("inner.zip", &inner), ("top.xml", &report("top-1"))],
        zip::CompressionMethod::Deflated,
    );
    let limits = Limits::default();
    let mut ids = Vec::new();
    stream_payload(outer, "outer.zip", &limits, |p| {
        let id = parse_id(p, &limits).unwrap_or_else(|e| panic!("{}: {e:?}", p.source()));
        ids.push((p.source().to_owned(), id));
    })
    .unwrap();
    assert_eq!(
        ids,
        [
            (
                "outer.zip#inner.zip#mail.eml.gz#deep.zip#deep.xml".to_owned(),
                "deep-1".to_owned()
            ),
            (
                "outer.zip#inner.zip#flat.xml".to_owned(),
                "flat-1".to_owned()
            ),
            ("outer.zip#top.xml".to_owned(), "top-1".to_owned()),
        ]
    );
}

#[test]
fn a_large_inner_container_is_spooled_not_held() {
    // A gzip of a zip larger than SPOOL_ABOVE: read through a temporary
    // file, its members still found.
    let pad = vec![b' '; SPOOL_ABOVE + 1024];
    let zip = stored_zip(&[("pad.txt", &pad), ("r.xml", &report("spooled-1"))]);
    assert!(zip.len() > SPOOL_ABOVE);
    let limits = Limits::default();
    let payloads = open_payload(gzip(&zip), "big.zip.gz", &limits).unwrap();
    assert_eq!(payloads.len(), 2);
    assert_eq!(
        payloads[1].parse(&limits).unwrap().metadata.report_id,
        "spooled-1"
    );
    // Too large for max_input_bytes: the container is refused.
    let small = Limits {
        max_input_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let e = open_payload(gzip(&zip), "big.zip.gz", &small).unwrap_err();
    assert_eq!(e.code(), "too_large");
}

#[test]
fn each_payload_knows_the_mail_message_that_carried_it() {
    let limits = Limits::default();
    let first = mail(&gzip(&report("c-1")), "a.xml.gz");
    let second = mail(&gzip(&report("c-2")), "b.xml.gz");
    let bytes = mbox(&[first.clone(), second.clone()]);
    let payloads = open_payload(bytes, "box.mbox", &limits).unwrap();
    let carriers: Vec<(String, Vec<u8>)> = payloads
        .iter()
        .map(|p| {
            let c = p.carrier().expect("a mail message carried it");
            (c.label().to_string(), c.bytes().to_vec())
        })
        .collect();
    assert_eq!(carriers[0].0, "box.mbox#message-1");
    assert_eq!(carriers[1].0, "box.mbox#message-2");
    // The message as it was, headers and all (the mbox's separator line is
    // not part of it).
    assert!(
        carriers[0].1.starts_with(&first[..40]),
        "{:?}",
        String::from_utf8_lossy(&carriers[0].1[..60])
    );
    assert!(String::from_utf8_lossy(&carriers[1].1).contains("b.xml.gz"));
    // A zip of two messages: each is its own carrier.
    let zip = stored_zip(&[("one.eml", &first), ("two.eml", &second)]);
    let payloads = open_payload(zip, "mails.zip", &limits).unwrap();
    let labels: Vec<&str> = payloads
        .iter()
        .map(|p| p.carrier().unwrap().label())
        .collect();
    assert_eq!(labels, ["mails.zip#one.eml", "mails.zip#two.eml"]);
    // A report file that is no mail has none.
    let payloads = open_payload(gzip(&report("c-3")), "r.xml.gz", &limits).unwrap();
    assert!(payloads[0].carrier().is_none());
}
