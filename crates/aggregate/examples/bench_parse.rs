//! Benchmark: generates a DMARC aggregate report (default 100,000 records,
//! about 20,000 distinct source IPs) on disk, then measures
//!
//! 1. a bare quick-xml `read_event_into` pass over the file (the physical
//!    reference),
//! 2. the streaming parser (`parse_report_with`, constant memory),
//! 3. streaming parse + classify (alignment, cause, provider, action) of
//!    every record, single-threaded: the figure the issue targets,
//! 4. the same from a gzip file,
//! 5. `parse_report` collecting every record in memory,
//! 6. classify alone over the collected records,
//!
//! printing records/s, MB/s and the peak RSS (VmHWM) after each step.
//!
//! `cargo run --release -p authwarden-aggregate --example bench_parse [RECORDS] [KEEP.xml]`
//!
//! With `KEEP.xml` the generated report is also copied there and kept, e.g.
//! to measure `authwarden ingest KEEP.xml` on the same bytes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use authwarden_aggregate::{
    open_path, parse_report, parse_report_with, Category, Classifier, Limits,
};

fn vm_hwm_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn generate(path: &Path, records: u32) -> std::io::Result<u64> {
    let mut w = BufWriter::new(File::create(path)?);
    write!(
        w,
        r#"<?xml version="1.0" encoding="UTF-8" ?>
<feedback>
  <version>1.0</version>
  <report_metadata>
    <org_name>bench.example</org_name>
    <email>noreply-dmarc-support@bench.example</email>
    <extra_contact_info>https://bench.example/dmarc</extra_contact_info>
    <report_id>bench-{records}</report_id>
    <date_range>
      <begin>1704067200</begin>
      <end>1704153599</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>example.com</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>reject</p>
    <sp>reject</sp>
    <pct>100</pct>
  </policy_published>
"#
    )?;
    for i in 0..records {
        // ~20,000 distinct IPs, a mix of outcomes.
        let ip = i % 20_000;
        let (a, b) = (ip / 250, ip % 250 + 1);
        let pass = i % 4 != 0;
        let (dkim, spf) = if pass {
            ("pass", "pass")
        } else {
            ("fail", "fail")
        };
        let disposition = if pass { "none" } else { "reject" };
        write!(
            w,
            r#"  <record>
    <row>
      <source_ip>10.{}.{a}.{b}</source_ip>
      <count>{}</count>
      <policy_evaluated>
        <disposition>{disposition}</disposition>
        <dkim>{dkim}</dkim>
        <spf>{spf}</spf>
      </policy_evaluated>
    </row>
    <identifiers>
      <envelope_to>example.net</envelope_to>
      <envelope_from>bounce{}.example.com</envelope_from>
      <header_from>example.com</header_from>
    </identifiers>
    <auth_results>
      <dkim>
        <domain>example.com</domain>
        <selector>selector{}</selector>
        <result>{dkim}</result>
      </dkim>
      <spf>
        <domain>bounce{}.example.com</domain>
        <scope>mfrom</scope>
        <result>{spf}</result>
      </spf>
    </auth_results>
  </record>
"#,
            ip % 7,
            i % 50 + 1,
            i % 13,
            i % 3,
            i % 13
        )?;
    }
    writeln!(w, "</feedback>")?;
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn report(label: &str, records: u64, bytes: u64, secs: f64) {
    println!(
        "{label:<34} {records:>8} records  {:>9.0} records/s  {:>6.1} MB/s  {:>6.3} s  peak RSS {:.1} MiB",
        records as f64 / secs,
        bytes as f64 / secs / 1e6,
        secs,
        vm_hwm_mib()
    );
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("authwarden-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let xml = dir.join("bench.xml");
    let bytes = generate(&xml, n).unwrap();
    println!(
        "generated {n} records, {:.1} MB, at {}",
        bytes as f64 / 1e6,
        xml.display()
    );
    if let Some(keep) = std::env::args().nth(2) {
        std::fs::copy(&xml, &keep).unwrap();
        println!("kept a copy at {keep}");
    }
    println!("peak RSS after generating: {:.1} MiB", vm_hwm_mib());
    let limits = Limits::default();

    // 1. Bare quick-xml event pass.
    let t = Instant::now();
    let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(
        64 * 1024,
        File::open(&xml).unwrap(),
    ));
    let mut buf = Vec::new();
    let mut bare = 0u64;
    loop {
        match reader.read_event_into(&mut buf).unwrap() {
            quick_xml::events::Event::Start(e) if e.local_name().as_ref() == b"record" => bare += 1,
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    report(
        "bare quick-xml event pass",
        bare,
        bytes,
        t.elapsed().as_secs_f64(),
    );

    // 2. Streaming parse into typed records.
    let t = Instant::now();
    let mut count = 0u64;
    let mut messages = 0u64;
    parse_report_with(
        BufReader::with_capacity(64 * 1024, File::open(&xml).unwrap()),
        &limits,
        |_, r| {
            count += 1;
            messages += r.count;
        },
    )
    .unwrap();
    report(
        "parse_report_with (streaming)",
        count,
        bytes,
        t.elapsed().as_secs_f64(),
    );
    assert_eq!(count, u64::from(n));

    // 3. Streaming parse + classify, single-threaded.
    let classifier = Classifier::default();
    let t = Instant::now();
    let mut by_category = [0u64; 3];
    let mut classified = 0u64;
    parse_report_with(
        BufReader::with_capacity(64 * 1024, File::open(&xml).unwrap()),
        &limits,
        |header, r| {
            let c = classifier.classify(&header.policy_published, &r);
            classified += 1;
            by_category[match c.category {
                Category::Pass => 0,
                Category::Partial => 1,
                Category::Fail => 2,
            }] += r.count;
        },
    )
    .unwrap();
    report(
        "parse + classify (streaming)",
        classified,
        bytes,
        t.elapsed().as_secs_f64(),
    );
    assert_eq!(classified, u64::from(n));
    println!(
        "  messages by category: pass {}, partial {}, fail {}",
        by_category[0], by_category[1], by_category[2]
    );

    // 4. The same through gzip.
    let gz = dir.join("bench.xml.gz");
    {
        let mut enc = flate2::write::GzEncoder::new(
            File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        std::io::copy(&mut File::open(&xml).unwrap(), &mut enc).unwrap();
        enc.finish().unwrap();
    }
    let t = Instant::now();
    let mut count_gz = 0u64;
    for p in open_path(&gz, &limits).unwrap() {
        p.parse_with(&limits, |_, _| count_gz += 1).unwrap();
    }
    report(
        "streaming from .xml.gz",
        count_gz,
        bytes,
        t.elapsed().as_secs_f64(),
    );

    // 4. Everything in memory (what ingest_paths returns).
    let t = Instant::now();
    let whole = parse_report(
        BufReader::with_capacity(64 * 1024, File::open(&xml).unwrap()),
        &limits,
    )
    .unwrap();
    report(
        "parse_report (all records kept)",
        whole.records.len() as u64,
        bytes,
        t.elapsed().as_secs_f64(),
    );

    // 6. Classification alone, over the records in memory.
    let t = Instant::now();
    let mut fails = 0u64;
    for r in &whole.records {
        if classifier.classify(&whole.policy_published, r).category == Category::Fail {
            fails += 1;
        }
    }
    report(
        "classify only (records in memory)",
        whole.records.len() as u64,
        bytes,
        t.elapsed().as_secs_f64(),
    );
    assert!(fails > 0);
    println!("messages: {messages}");
    std::fs::remove_dir_all(&dir).ok();
}
