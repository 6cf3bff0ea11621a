//! libFuzzer target: bytes as a file (XML, gzip, zip, mail, mbox) and as
//! bare XML must never panic; the whole-report and the streaming parse must
//! agree, and every parsed record must classify.
#![no_main]

use std::io::Cursor;

use authwarden_aggregate::{
    open_payload, parse_report, parse_report_with, report_rows, AggregateReport, Classifier, Limits,
};
use libfuzzer_sys::fuzz_target;

fn both(whole: Result<AggregateReport, String>, streamed: Result<AggregateReport, String>) {
    assert_eq!(whole, streamed, "parse and parse_with disagree");
    if let Ok(report) = whole {
        let rows = report_rows("fuzz", &report, &Classifier::default());
        assert_eq!(rows.len(), report.records.len());
        let _ = report.message_count();
    }
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_decompressed_bytes: 1 << 20,
        max_input_bytes: 1 << 20,
        ..Limits::default()
    };
    let code = |e: authwarden_aggregate::ReportError| e.code().to_string();

    let whole = parse_report(Cursor::new(data), &limits).map_err(code);
    let mut records = Vec::new();
    let streamed = parse_report_with(Cursor::new(data), &limits, |_, r| records.push(r))
        .map(|h| AggregateReport::from_parts(h, records))
        .map_err(code);
    both(whole, streamed);

    if let Ok(payloads) = open_payload(data.to_vec(), "fuzz", &limits) {
        for p in &payloads {
            let whole = p.parse(&limits).map_err(code);
            let mut records = Vec::new();
            let streamed = p
                .parse_with(&limits, |_, r| records.push(r))
                .map(|h| AggregateReport::from_parts(h, records))
                .map_err(code);
            both(whole, streamed);
        }
    }
});
