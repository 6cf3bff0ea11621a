//! Fuzzing the aggregate-report parser with proptest: no input may panic.
//!
//! Four sources of input:
//! - the kept corpus, `tests/fuzz-corpus/` (run every time): `seeds/` holds
//!   real-shaped reports, containers and edge cases, `regressions/` the
//!   inputs that once failed (add a file there for every bug the fuzzers
//!   find; `cargo fuzz` writes its crashes to `fuzz/artifacts/`);
//! - reports built from the schemas (RFC 7489, RFC 9990 with `np`,
//!   `testing`, `discovery_method` and `generator`, the old draft with
//!   `<identities>`, a prefixed `feedback`), with random text: non-ASCII,
//!   entities, character references, CDATA, upper-case enums, empty and
//!   missing elements, odd whitespace and junk in numbers. Unedited, they
//!   must parse to exactly what was built; with random byte edits (bit
//!   flips, inserts, deletes, truncation, duplicated slices) they must only
//!   not panic;
//! - arbitrary bytes, alone and behind the prefixes that steer the format
//!   sniffer (XML, gzip, zip, mail, mbox);
//! - the same reports inside gzip, gzip in gzip, zip and a mail message with
//!   a base64 attachment, through the public payload API; intact containers
//!   must give what the bare XML gives, corrupted ones a clean error.
//!
//! Every input goes through `parse_report` and `parse_report_with` (which
//! must agree), `open_payload` with `Payload::parse` and
//! `Payload::parse_with` (which must agree), with the default limits and
//! with tight ones; every parsed report is checked (`message_count` is the
//! sum of the counts, the record cap holds), serialised, and every record
//! classified and turned into a row. proptest keeps the failures it finds in
//! `tests/fuzz.proptest-regressions` and replays them first.

use std::io::{Cursor, Write};
use std::path::Path;

use authwarden_aggregate::*;
use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use proptest::sample::{select, Index};

// ---------------------------------------------------------------------------
// The properties every input must satisfy.

/// Limits small enough that the fuzzer reaches every cap.
fn tight() -> Limits {
    Limits {
        max_decompressed_bytes: 3000,
        max_input_bytes: 4096,
        max_depth: 6,
        max_records: 2,
        max_text_bytes: 32,
        max_nesting: 1,
        max_members: 2,
        max_work_bytes: 20_000,
        ..Limits::default()
    }
}

/// What a parse gave, comparable across APIs: the report, or the error code.
type Outcome = Result<AggregateReport, &'static str>;

fn outcome(r: Result<AggregateReport, ReportError>) -> Outcome {
    r.map_err(|e| {
        assert!(!e.to_string().is_empty(), "an error without a message");
        e.code()
    })
}

/// Parses through both APIs; they must agree. Returns the outcome.
fn parse_both(input: &[u8], limits: &Limits) -> Outcome {
    let whole = outcome(parse_report(Cursor::new(input), limits));
    let mut streamed = Vec::new();
    let header = parse_report_with(Cursor::new(input), limits, |_, r| streamed.push(r));
    let stream = outcome(header.map(|h| AggregateReport::from_parts(h, streamed)));
    assert_eq!(whole, stream, "parse_report and parse_report_with disagree");
    if let Ok(report) = &whole {
        report_invariants(report, limits);
    }
    whole
}

/// Opens bytes as a file would be and parses every payload through both
/// payload APIs. Returns the outcome of each payload, or the open error.
fn payloads(input: &[u8], limits: &Limits) -> Result<Vec<Outcome>, &'static str> {
    let payloads = open_payload(input.to_vec(), "fuzz", limits).map_err(|e| e.code())?;
    let mut out = Vec::new();
    for p in &payloads {
        assert!(p.source().starts_with("fuzz"), "{}", p.source());
        let whole = outcome(p.parse(limits));
        let mut streamed = Vec::new();
        let header = p.parse_with(limits, |_, r| streamed.push(r));
        let stream = outcome(header.map(|h| AggregateReport::from_parts(h, streamed)));
        assert_eq!(whole, stream, "Payload::parse and parse_with disagree");
        if let Ok(report) = &whole {
            report_invariants(report, limits);
        }
        out.push(whole);
    }
    Ok(out)
}

fn report_invariants(report: &AggregateReport, limits: &Limits) {
    assert!(
        !report.metadata.report_id.is_empty(),
        "parsed without an id"
    );
    assert!(report.records.len() as u64 <= limits.max_records);
    let sum: u128 = report.records.iter().map(|r| u128::from(r.count)).sum();
    assert_eq!(
        u128::from(report.message_count()),
        sum.min(u128::from(u64::MAX)),
        "message_count is the sum of the counts"
    );
    serde_json::to_string(report).expect("a parsed report serialises");
    let classifier = Classifier::default();
    let rows = report_rows("fuzz", report, &classifier);
    assert_eq!(rows.len(), report.records.len());
    for (record, row) in report.records.iter().zip(&rows) {
        assert_eq!(row.count, record.count);
        assert_eq!(row.source_ip, record.source_ip);
        let c = classifier.classify_with_ptr(
            &report.policy_published,
            record,
            Some(&record.identifiers.header_from),
        );
        assert_eq!(c.category, c.cause.category());
        assert_eq!(
            c.cause == Cause::Aligned,
            c.dkim_aligned && c.spf_aligned,
            "{c:?}"
        );
        assert!(!c.action.is_empty());
        assert_eq!(
            Cause::from_code(&row.cause).map(|c| c.category().as_str()),
            Some(row.category.as_str())
        );
    }
}

/// Every property over one input, with both sets of limits.
fn check(input: &[u8]) {
    for limits in [Limits::default(), tight()] {
        let _ = parse_both(input, &limits);
        let _ = payloads(input, &limits);
    }
}

/// The sniffer's view of bare bytes: XML (not empty, not another format).
fn sniffs_as_xml(input: &[u8]) -> bool {
    let head = &input[..input.len().min(512)];
    if head.starts_with(&[0x1f, 0x8b]) {
        return false;
    }
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

/// `xml` inside `wrapper`, through the payload API: never a panic, and an
/// intact container gives what the bare XML gives.
fn check_wrapped(xml: &[u8], wrapper: Wrapper, container_edits: &[Edit]) {
    let limits = Limits::default();
    let bare = parse_both(xml, &limits);
    let wrapped = apply(wrap(xml, wrapper), container_edits);
    let got = payloads(&wrapped, &limits);
    if container_edits.is_empty() && sniffs_as_xml(xml) {
        let got = got.unwrap_or_else(|e| panic!("{wrapper:?} of XML does not open: {e}"));
        assert_eq!(got.len(), 1, "{wrapper:?} holds one report");
        assert_eq!(got[0], bare, "{wrapper:?} changes the outcome");
    }
    let _ = payloads(&wrapped, &tight());
}

// ---------------------------------------------------------------------------
// Containers.

#[derive(Debug, Clone, Copy)]
enum Wrapper {
    Gzip,
    GzipInGzip,
    ZipDeflated,
    ZipStored,
    Mail,
    MailGzip,
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn zip(data: &[u8], method: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    zip.start_file("report.xml", opts).unwrap();
    zip.write_all(data).unwrap();
    zip.finish().unwrap().into_inner()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
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

fn mail(attachment: &[u8], filename: &str) -> Vec<u8> {
    format!(
        "From: noreply-dmarc@reporter.example\r\n\
         To: dmarc@example.com\r\n\
         Subject: Report Domain: example.com Submitter: reporter.example\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         This is an aggregate report.\r\n\
         --b1\r\n\
         Content-Type: application/octet-stream; name=\"{filename}\"\r\n\
         Content-Disposition: attachment; filename=\"{filename}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {}\r\n\
         --b1--\r\n",
        base64(attachment)
    )
    .into_bytes()
}

fn wrap(xml: &[u8], wrapper: Wrapper) -> Vec<u8> {
    match wrapper {
        Wrapper::Gzip => gzip(xml),
        Wrapper::GzipInGzip => gzip(&gzip(xml)),
        Wrapper::ZipDeflated => zip(xml, zip::CompressionMethod::Deflated),
        Wrapper::ZipStored => zip(xml, zip::CompressionMethod::Stored),
        Wrapper::Mail => mail(xml, "report.xml"),
        Wrapper::MailGzip => mail(&gzip(xml), "report.xml.gz"),
    }
}

fn wrapper() -> impl Strategy<Value = Wrapper> {
    select(vec![
        Wrapper::Gzip,
        Wrapper::GzipInGzip,
        Wrapper::ZipDeflated,
        Wrapper::ZipStored,
        Wrapper::Mail,
        Wrapper::MailGzip,
    ])
}

// ---------------------------------------------------------------------------
// Byte edits.

/// Where, which byte, and what to do: flip a bit, delete, truncate,
/// overwrite, duplicate a slice, insert.
type Edit = (Index, u8, u8);

fn edits(n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Edit>> {
    let byte = prop_oneof![
        2 => any::<u8>(),
        1 => select(b"<>/&;#![]\"'= \n\x00\xc3\xff".to_vec()),
    ];
    proptest::collection::vec((any::<Index>(), byte, 0u8..6), n)
}

fn apply(mut s: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for (at, byte, op) in edits {
        let pos = at.index(s.len() + 1);
        match op {
            0 if pos < s.len() => s[pos] ^= 1 << (byte % 8),
            1 if pos < s.len() => {
                s.remove(pos);
            }
            2 => s.truncate(pos),
            3 if pos < s.len() => s[pos] = *byte,
            4 => {
                let end = (pos + usize::from(*byte)).min(s.len());
                let slice = s[pos..end].to_vec();
                s.splice(pos..pos, slice);
            }
            _ => s.insert(pos, *byte),
        }
    }
    s
}

// ---------------------------------------------------------------------------
// Reports built from the schemas.

/// Text content: its XML spelling and the text a parser must read from it.
#[derive(Debug, Clone, Default)]
struct Txt {
    xml: String,
    value: String,
}

impl Txt {
    fn plain(s: &str) -> Txt {
        Txt {
            xml: s
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
            value: s.to_owned(),
        }
    }
}

fn ws() -> impl Strategy<Value = String> {
    "[ \t\r\n]{0,2}"
}

fn piece() -> impl Strategy<Value = Txt> {
    prop_oneof![
        4 => "[a-zA-Z0-9._@ -]{0,12}".prop_map(|s| Txt::plain(&s)),
        // Any printable character: accents, CJK, RTL, emoji, U+FEFF.
        2 => "\\PC{0,8}".prop_map(|s| Txt::plain(&s)),
        1 => select(vec![("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'")])
            .prop_map(|(xml, value)| Txt { xml: xml.into(), value: value.into() }),
        1 => (any::<char>().prop_filter("NUL is no character reference", |c| *c != '\0'), any::<bool>())
            .prop_map(|(c, hex)| Txt {
                xml: if hex { format!("&#x{:X};", u32::from(c)) } else { format!("&#{};", u32::from(c)) },
                value: c.to_string(),
            }),
        1 => "[^\\]]{0,10}".prop_map(|s| Txt { xml: format!("<![CDATA[{s}]]>"), value: s }),
    ]
}

fn text() -> BoxedStrategy<Txt> {
    proptest::collection::vec(piece(), 0..4)
        .prop_map(|parts| Txt {
            xml: parts.iter().map(|p| p.xml.as_str()).collect(),
            value: parts.iter().map(|p| p.value.as_str()).collect(),
        })
        .boxed()
}

/// A schema value in random case and padding, or any text.
fn enum_value(values: &'static [&'static str]) -> BoxedStrategy<Txt> {
    prop_oneof![
        3 => (select(values), any::<u16>(), ws(), ws()).prop_map(|(v, upper, a, b)| {
            let v: String = v
                .chars()
                .enumerate()
                .map(|(i, c)| if upper >> (i % 16) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect();
            Txt::plain(&format!("{a}{v}{b}"))
        }),
        1 => text(),
    ]
    .boxed()
}

/// Numbers as reporters write them, and as they should not.
fn number() -> BoxedStrategy<Txt> {
    // Mostly valid, so that most built reports parse.
    prop_oneof![
        20 => (0u64..2_000_000_000, ws(), ws()).prop_map(|(n, a, b)| format!("{a}{n}{b}")),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        1 => Just(u64::MAX.to_string()),
        1 => any::<i64>().prop_map(|n| n.to_string()),
        1 => any::<f64>().prop_map(|f| f.to_string()),
        1 => select(vec![
            "", "+7", "-0", "-1", "1e3", "1.5", "1704067200.25", "0x10", "NaN", "inf",
            "18446744073709551616", "1 2", "\u{661}\u{662}", "1e400", "007",
        ])
        .prop_map(String::from),
    ]
    .prop_map(|s| Txt::plain(&s))
    .boxed()
}

/// Unix timestamps: seconds, fractions, exponents, and some junk.
fn time() -> BoxedStrategy<Txt> {
    prop_oneof![
        20 => (0i64..4_000_000_000, ws(), ws()).prop_map(|(n, a, b)| format!("{a}{n}{b}")),
        2 => (0u32..2_000_000_000, 0u32..1000).prop_map(|(n, f)| format!("{n}.{f}")),
        1 => select(vec!["-1", "1.7041536e9", "1e15", "NaN", "-inf", "", "17040672OO", "0x10"]).prop_map(String::from),
        1 => number().prop_map(|t| t.value),
    ]
    .prop_map(|s| Txt::plain(&s))
    .boxed()
}

/// The period: mostly a valid one (the end a day or two after the begin),
/// sometimes any two timestamps (out of range, reversed, junk).
fn dates() -> BoxedStrategy<(Leaf, Leaf)> {
    prop_oneof![
        4 => (0i64..4_000_000_000, 0i64..200_000, ws(), ws()).prop_flat_map(|(b, d, w1, w2)| {
            (
                leaf("begin", Just(Txt::plain(&format!("{w1}{b}"))).boxed()),
                leaf("end", Just(Txt::plain(&format!("{}{w2}", b + d))).boxed()),
            )
        }),
        1 => (leaf("begin", time()), leaf("end", time())),
    ]
    .boxed()
}

fn domain() -> BoxedStrategy<Txt> {
    prop_oneof![
        3 => select(vec![
            "example.com", "mail.example.com", "EXAMPLE.COM.", "bounce.example.com",
            "example.co.uk", "sendgrid.net", "o1.email.sendgrid.net", "google.com",
            "groups.io", "esp.example", "com", "co.uk", "", ".", "..", "a..b",
            "xn--bcher-kva.example", "b\u{fc}cher.example", "-.example", "*.example.com",
        ])
        .prop_map(Txt::plain),
        1 => "[a-z0-9-]{1,8}(\\.[a-zA-Z0-9-]{1,8}){0,3}\\.?".prop_map(|s| Txt::plain(&s)),
        1 => text(),
    ]
    .boxed()
}

fn ip() -> BoxedStrategy<Txt> {
    prop_oneof![
        2 => any::<[u8; 4]>().prop_map(|a| std::net::Ipv4Addr::from(a).to_string()),
        1 => any::<u128>().prop_map(|a| std::net::Ipv6Addr::from(a).to_string()),
        1 => select(vec!["192.0.2.1", " 198.51.100.7 ", "2001:db8::25", "::ffff:1.2.3.4", "999.1.1.1", "", "fe80::1%eth0"])
            .prop_map(String::from),
    ]
    .prop_map(|s| Txt::plain(&s))
    .boxed()
}

/// A leaf element: written out, written empty (`<x/>`), or left out. The
/// value is what the parser must read (before trimming); `None` when left out.
#[derive(Debug, Clone)]
struct Leaf {
    xml: String,
    value: Option<String>,
}

impl Leaf {
    fn trimmed(&self) -> &str {
        self.value.as_deref().unwrap_or("").trim()
    }
}

fn leaf(name: &'static str, content: BoxedStrategy<Txt>) -> BoxedStrategy<Leaf> {
    prop_oneof![
        16 => (content, ws()).prop_map(move |(t, w)| Leaf {
            xml: format!("<{name}>{}</{name}>{w}", t.xml),
            value: Some(t.value),
        }),
        1 => ws().prop_map(move |w| Leaf { xml: format!("<{name}/>{w}"), value: Some(String::new()) }),
        1 => Just(Leaf { xml: String::new(), value: None }),
    ]
    .boxed()
}

fn join(leaves: &[&Leaf]) -> String {
    leaves.iter().map(|l| l.xml.as_str()).collect()
}

/// Things reporters add that the schema does not know: extension elements,
/// comments, processing instructions, stray text between elements.
fn extra() -> BoxedStrategy<String> {
    prop_oneof![
        6 => Just(String::new()),
        1 => text().prop_map(|t| format!("<extension a=\"1\"><x>{}</x><y/></extension>", t.xml)),
        1 => Just("<!-- a comment with <tags> & ampersands -->".to_string()),
        1 => Just("<?processing instruction?>".to_string()),
        1 => text().prop_map(|t| t.xml),
    ]
    .boxed()
}

const DISPOSITIONS: &[&str] = &["none", "quarantine", "reject", "pass"];
const ALIGNMENTS: &[&str] = &["r", "s", "relaxed", "strict"];
const DMARC_RESULTS: &[&str] = &["pass", "fail"];
const DKIM_RESULTS: &[&str] = &[
    "none",
    "pass",
    "fail",
    "policy",
    "neutral",
    "temperror",
    "permerror",
    "temp_error",
];
const SPF_RESULTS: &[&str] = &[
    "none",
    "neutral",
    "pass",
    "fail",
    "hardfail",
    "softfail",
    "temperror",
    "permerror",
];
const SPF_SCOPES: &[&str] = &["mfrom", "helo"];
const OVERRIDES: &[&str] = &[
    "forwarded",
    "sampled_out",
    "trusted_forwarder",
    "mailing_list",
    "local_policy",
    "other",
    "arc",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Schema {
    Rfc7489,
    Rfc9990,
    Draft,
    /// `<dmarc:feedback xmlns:dmarc="...">`.
    Prefixed,
}

#[derive(Debug, Clone)]
struct Rec {
    source_ip: Leaf,
    count: Leaf,
    header_from: Leaf,
    /// `<policy_evaluated>` and the rest of `<row>` after `<count>`.
    evaluated: String,
    /// `<identifiers>`' content after `<header_from>`.
    identifiers: String,
    auth_results: String,
    extra: String,
}

fn reason() -> BoxedStrategy<String> {
    (leaf("type", enum_value(OVERRIDES)), leaf("comment", text()))
        .prop_map(|(t, c)| format!("<reason>{}</reason>", join(&[&t, &c])))
        .boxed()
}

fn auth_entry(
    kind: &'static str,
    middle: &'static str,
    middle_values: BoxedStrategy<Txt>,
    results: &'static [&'static str],
) -> BoxedStrategy<String> {
    (
        leaf("domain", domain()),
        leaf(middle, middle_values),
        leaf("result", enum_value(results)),
        leaf("human_result", text()),
        ws(),
    )
        .prop_map(move |(d, m, r, h, w)| format!("<{kind}>{}</{kind}>{w}", join(&[&d, &m, &r, &h])))
        .boxed()
}

fn record() -> BoxedStrategy<Rec> {
    let evaluated = (
        leaf("disposition", enum_value(DISPOSITIONS)),
        leaf("dkim", enum_value(DMARC_RESULTS)),
        leaf("spf", enum_value(DMARC_RESULTS)),
        proptest::collection::vec(reason(), 0..3),
        any::<bool>(),
    )
        .prop_map(|(d, k, s, reasons, empty_reason)| {
            let mut inner = join(&[&d, &k, &s]);
            inner.push_str(&reasons.concat());
            if empty_reason {
                inner.push_str("<reason/>");
            }
            format!("<policy_evaluated>{inner}</policy_evaluated>")
        });
    let identifiers = (
        leaf("envelope_from", domain()),
        leaf("envelope_to", domain()),
    )
        .prop_map(|(f, t)| join(&[&f, &t]));
    let auth = (
        proptest::collection::vec(auth_entry("dkim", "selector", text(), DKIM_RESULTS), 0..3),
        proptest::collection::vec(
            auth_entry("spf", "scope", enum_value(SPF_SCOPES), SPF_RESULTS),
            0..3,
        ),
        0u8..4,
    )
        .prop_map(|(dkim, spf, form)| match form {
            0 => String::new(),
            1 => "<auth_results/>".to_string(),
            _ => format!(
                "<auth_results>{}{}</auth_results>",
                dkim.concat(),
                spf.concat()
            ),
        });
    (
        leaf("source_ip", ip()),
        leaf("count", number()),
        leaf("header_from", domain()),
        evaluated,
        identifiers,
        auth,
        extra(),
    )
        .prop_map(
            |(source_ip, count, header_from, evaluated, identifiers, auth_results, extra)| Rec {
                source_ip,
                count,
                header_from,
                evaluated,
                identifiers,
                auth_results,
                extra,
            },
        )
        .boxed()
}

/// A report as built and what parsing it must give.
#[derive(Debug, Clone)]
struct Built {
    xml: String,
    namespace: Option<String>,
    org_name: Leaf,
    report_id: Leaf,
    begin: Leaf,
    end: Leaf,
    domain: Leaf,
    records: Vec<Rec>,
}

/// What the parser does with a timestamp (an empty one is an error).
fn timestamp(v: &str) -> Option<i64> {
    v.parse::<i64>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

fn count(v: &str) -> Option<u64> {
    if v.is_empty() {
        Some(0)
    } else {
        v.parse().ok()
    }
}

/// What the parser keeps of a domain-like record field: verbatim when at
/// most 253 bytes without control or bidi characters, else escaped and cut
/// to 253 bytes with an ellipsis.
fn domain_field(v: &str) -> String {
    let plausible = v.len() <= 253 && !v.chars().any(is_unsafe_char);
    if plausible {
        return v.to_owned();
    }
    let mut out = display_safe(v, usize::MAX).into_owned();
    if out.len() > 253 {
        let mut cut = 250;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

impl Built {
    fn time(leaf: &Leaf) -> Option<i64> {
        match leaf.value {
            Some(_) => timestamp(leaf.trimmed()),
            None => Some(0),
        }
    }

    /// The outcome the oracle expects: the error code, or `Ok`. The parser
    /// stops at the first problem in document order: the timestamps, the
    /// period, the published domain, the counts, then the missing id.
    fn expected_error(&self) -> Option<&'static str> {
        let (Some(begin), Some(end)) = (Self::time(&self.begin), Self::time(&self.end)) else {
            return Some("invalid_value");
        };
        let in_range = |t: i64| (0..=4_102_444_800).contains(&t);
        if !in_range(begin) || !in_range(end) || end < begin {
            return Some("invalid_date_range");
        }
        let domain = self.domain.trimmed();
        if self.domain.value.is_some() && (domain.len() > 253 || domain.chars().any(is_unsafe_char))
        {
            return Some("invalid_value");
        }
        let bad_count = self
            .records
            .iter()
            .any(|r| count(r.count.trimmed()).is_none());
        if bad_count {
            Some("invalid_value")
        } else if self.report_id.trimmed().is_empty() {
            Some("missing_field")
        } else {
            None
        }
    }

    /// The records the parser hands out: those whose source is an IP.
    fn kept_records(&self) -> impl Iterator<Item = &Rec> {
        self.records
            .iter()
            .filter(|r| parse_source_ip(r.source_ip.trimmed()).is_some())
    }

    fn assert_parsed(&self, got: &Outcome) {
        let report = match (self.expected_error(), got) {
            (Some(code), Err(got)) => {
                assert_eq!(code, *got);
                return;
            }
            (None, Ok(report)) => report,
            (expected, got) => panic!("expected {expected:?}, got {got:?}"),
        };
        assert_eq!(report.namespace, self.namespace);
        assert_eq!(report.metadata.org_name, self.org_name.trimmed());
        assert_eq!(report.metadata.report_id, self.report_id.trimmed());
        for (got, want) in [
            (report.metadata.date_range.begin, &self.begin),
            (report.metadata.date_range.end, &self.end),
        ] {
            assert_eq!(Some(got), Self::time(want));
        }
        assert_eq!(report.policy_published.domain, self.domain.trimmed());
        let kept: Vec<&Rec> = self.kept_records().collect();
        assert_eq!(report.records.len(), kept.len());
        assert_eq!(
            report.rejected.records as usize,
            self.records.len() - kept.len()
        );
        for (got, want) in report.records.iter().zip(kept) {
            assert_eq!(got.source_ip, want.source_ip.trimmed());
            assert!(got.ip().is_some());
            assert_eq!(got.count, count(want.count.trimmed()).unwrap());
            assert_eq!(
                got.identifiers.header_from,
                domain_field(want.header_from.trimmed())
            );
        }
    }
}

fn report() -> BoxedStrategy<Built> {
    let schema = select(vec![
        Schema::Rfc7489,
        Schema::Rfc9990,
        Schema::Draft,
        Schema::Prefixed,
    ]);
    let prolog = select(vec![
        "",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "\u{feff}<?xml version=\"1.0\"?>",
        "<!-- generated -->\n",
        "<?xml version=\"1.0\"?> <xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\">\n",
    ]);
    let metadata = (
        leaf("org_name", text()),
        leaf("email", text()),
        leaf(
            "report_id",
            prop_oneof![4 => "[a-zA-Z0-9._!-]{1,24}".prop_map(|s| Txt::plain(&s)), 1 => text()]
                .boxed(),
        ),
        leaf("extra_contact_info", text()),
        dates(),
        proptest::collection::vec(leaf("error", text()), 0..3),
        leaf("generator", text()),
    );
    let policy = (
        leaf("domain", domain()),
        leaf("adkim", enum_value(ALIGNMENTS)),
        leaf("aspf", enum_value(ALIGNMENTS)),
        leaf("p", enum_value(DISPOSITIONS)),
        leaf("sp", enum_value(DISPOSITIONS)),
        leaf("pct", number()),
        leaf("fo", text()),
        leaf("np", enum_value(DISPOSITIONS)),
        leaf("testing", enum_value(&["y", "n"])),
        leaf("discovery_method", enum_value(&["psl", "treewalk"])),
    );
    (
        schema,
        prolog,
        metadata,
        policy,
        proptest::collection::vec(record(), 0..6),
        extra(),
        ws(),
    )
        .prop_map(|(schema, prolog, m, p, records, extra, w)| {
            let (org_name, email, report_id, contact, (begin, end), errors, generator) = m;
            let (domain, adkim, aspf, pp, sp, pct, fo, np, testing, discovery) = p;
            let bis = schema == Schema::Rfc9990;
            let (open, close, namespace) = match schema {
                Schema::Rfc7489 => ("<feedback>", "</feedback>", None),
                Schema::Rfc9990 => (
                    "<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">\n  <version>1.0</version>",
                    "</feedback>",
                    Some("urn:ietf:params:xml:ns:dmarc-2.0".to_string()),
                ),
                Schema::Draft => (
                    "<feedback xmlns=\" http://dmarc.org/dmarc-xml/0.1 \"><version>0.1</version>",
                    "</feedback>",
                    Some("http://dmarc.org/dmarc-xml/0.1".to_string()),
                ),
                Schema::Prefixed => (
                    "<dmarc:feedback xmlns:dmarc=\"urn:ietf:params:xml:ns:dmarc-2.0\">",
                    "</dmarc:feedback>",
                    None,
                ),
            };
            let mut xml = format!("{prolog}{open}{w}<report_metadata>");
            xml += &join(&[&org_name, &email, &report_id, &contact]);
            xml += &format!("<date_range>{}</date_range>{w}", join(&[&begin, &end]));
            for e in &errors {
                xml += &e.xml;
            }
            if bis {
                xml += &generator.xml;
            }
            xml += &format!("</report_metadata>{w}{extra}<policy_published>");
            xml += &join(&[&domain, &adkim, &aspf, &pp, &sp]);
            if bis {
                xml += &join(&[&np, &testing, &discovery]);
            } else {
                xml += &join(&[&pct, &fo]);
            }
            xml += "</policy_published>";
            let identifiers = if schema == Schema::Draft {
                "identities"
            } else {
                "identifiers"
            };
            for r in &records {
                xml += &format!(
                    "<record>{w}<row>{}{}{}</row><{identifiers}>{}{}</{identifiers}>{}{}</record>{w}",
                    r.source_ip.xml,
                    r.count.xml,
                    r.evaluated,
                    r.header_from.xml,
                    r.identifiers,
                    r.auth_results,
                    r.extra,
                );
            }
            xml += close;
            if prolog.contains("xs:schema") {
                xml += "</xs:schema>";
            }
            xml += &w;
            Built {
                xml,
                namespace,
                org_name,
                report_id,
                begin,
                end,
                domain,
                records,
            }
        })
        .boxed()
}

// ---------------------------------------------------------------------------
// The kept corpus and the properties.

fn corpus() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut out = Vec::new();
    for sub in ["seeds", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(sub)) else {
            continue;
        };
        for e in dir {
            let path = e.unwrap().path();
            if path.is_file() {
                let name = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_kept_corpus_never_panics() {
    let corpus = corpus();
    assert!(
        corpus.len() >= 20,
        "the corpus is missing: {}",
        corpus.len()
    );
    assert!(corpus.iter().any(|(n, _)| n.starts_with("regressions/")));
    let mut parsed = 0;
    for (name, input) in &corpus {
        let r = std::panic::catch_unwind(|| {
            check(input);
            for w in [Wrapper::Gzip, Wrapper::ZipDeflated, Wrapper::Mail] {
                check_wrapped(input, w, &[]);
            }
            payloads(input, &Limits::default())
                .is_ok_and(|p| !p.is_empty() && p.iter().all(Result::is_ok))
        });
        match r {
            Ok(true) => parsed += 1,
            Ok(false) => {}
            Err(_) => panic!("{name} panics"),
        }
    }
    // The seeds hold real-shaped reports, not only broken input.
    assert!(parsed >= 8, "only {parsed} corpus files parse");
}

proptest! {
    // 256 cases per property in every test run; PROPTEST_CASES=100000 for a
    // longer fuzzing session.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        ..ProptestConfig::default()
    })]

    #[test]
    fn built_reports_parse_to_what_was_built(built in report()) {
        let got = parse_both(built.xml.as_bytes(), &Limits::default());
        built.assert_parsed(&got);
        check(built.xml.as_bytes());
    }

    #[test]
    fn edited_reports_never_panic(built in report(), edits in edits(1..5)) {
        check(&apply(built.xml.into_bytes(), &edits));
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        prefix in select(vec![
            &b""[..], b"<", b"<feedback>", b"<?xml version=\"1.0\"?><feedback><report_metadata><report_id>",
            b"\x1f\x8b", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff", b"PK\x03\x04", b"PK\x05\x06",
            b"From ", b"Subject: x\r\nContent-Type: application/gzip\r\n\r\n", b"\xef\xbb\xbf",
        ]),
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        wrapper in wrapper(),
    ) {
        let mut input = prefix.to_vec();
        input.extend_from_slice(&bytes);
        check(&input);
        check(&bytes);
        check_wrapped(&input, wrapper, &[]);
    }

    #[test]
    fn wrapped_reports_never_panic(
        built in report(),
        edits in edits(0..3),
        wrapper in wrapper(),
        container_edits in prop_oneof![2 => Just(Vec::new()), 1 => edits(1..4)],
    ) {
        let xml = apply(built.xml.into_bytes(), &edits);
        check_wrapped(&xml, wrapper, &container_edits);
    }
}
