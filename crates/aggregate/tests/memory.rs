//! Memory stays bounded on containers built to amplify it: an mbox whose
//! attachments are `zip.gz` files each holding a ~95 MiB padding member, and
//! zip archives nested four deep around such padding.
//!
//! Each test writes its hostile file, then runs this test binary again as a
//! child process (the `memory_worker` test, switched on by an environment
//! variable) that ingests the file through `visit_payloads` and
//! `Payload::parse_with` and prints its peak resident set size (`VmHWM` of
//! `/proc/self/status`). The parent asserts the peak and what was parsed.
//! Linux only: elsewhere the tests are skipped.

use std::path::Path;
use std::process::Command;

use authwarden_aggregate::{visit_payloads, Limits};

mod common;
use common::*;

const WORKER: &str = "AUTHWARDEN_AGGREGATE_MEMORY_WORKER";

/// The peak resident set size the ingest of one hostile file may reach.
const MAX_PEAK_KB: u64 = 200 * 1000;

const PADDING: usize = 95 * 1024 * 1024;

/// An mbox of `messages` messages, each with one `zip.gz` attachment: a
/// gzip of a zip whose stored padding member is ~95 MiB of zeros, so the
/// gzip is small and the zip inside it large.
fn amplifying_mbox(messages: usize) -> Vec<u8> {
    let mut all = Vec::new();
    for i in 0..messages {
        let zip = stored_zip(&[
            ("padding.bin", &vec![0u8; PADDING]),
            ("report.xml", &report(&format!("amp-{i}"))),
        ]);
        all.push(mail(&gzip(&zip), &format!("r{i}.zip.gz")));
    }
    mbox(&all)
}

/// Zip archives nested four deep (all members stored), the innermost
/// holding ~95 MiB of padding and a report; every layer also holds a report.
fn nested_zip() -> Vec<u8> {
    let mut inner = stored_zip(&[
        ("padding.bin", &vec![0u8; PADDING]),
        ("report.xml", &report("nested-0")),
    ]);
    for level in 1..4 {
        inner = stored_zip(&[
            (&format!("level-{level}.zip"), &inner),
            ("report.xml", &report(&format!("nested-{level}"))),
        ]);
    }
    inner
}

/// What the worker printed: (payloads parsed, payload errors, file errors,
/// peak RSS in kB).
#[derive(Debug)]
struct Worker {
    parsed: usize,
    failed: usize,
    file_errors: usize,
    peak_kb: u64,
    output: String,
}

fn run_worker(path: &Path) -> Worker {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "memory_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKER, path)
        .output()
        .unwrap();
    let output =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the worker failed:\n{output}");
    let field = |name: &str| -> u64 {
        let line = output
            .lines()
            .find_map(|l| l.strip_prefix("WORKER "))
            .unwrap_or_else(|| panic!("no worker line in:\n{output}"));
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("no {name} in {line}"))
            .parse()
            .unwrap()
    };
    Worker {
        parsed: field("parsed") as usize,
        failed: field("failed") as usize,
        file_errors: field("file_errors") as usize,
        peak_kb: field("peak_kb"),
        output,
    }
}

fn peak_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// The child's side: does nothing unless started by `run_worker`.
#[test]
fn memory_worker() {
    let Some(path) = std::env::var_os(WORKER) else {
        return;
    };
    let limits = Limits::default();
    let visits = visit_payloads([Path::new(&path)], &limits, |p| {
        let mut records = 0u64;
        p.parse_with(&limits, |_, _| records += 1)
            .map(|h| (h.metadata.report_id, records))
            .map_err(|e| e.to_string())
    });
    let (mut parsed, mut failed, mut file_errors) = (0, 0, 0);
    for v in &visits {
        match v {
            Ok((source, Ok((id, n)))) => {
                parsed += 1;
                println!("ok {source} {id} records={n}");
            }
            Ok((source, Err(e))) => {
                failed += 1;
                println!("failed {source}: {e}");
            }
            Err((source, e)) => {
                file_errors += 1;
                println!("file error {source}: {e}");
            }
        }
    }
    println!(
        "WORKER parsed={parsed} failed={failed} file_errors={file_errors} peak_kb={}",
        peak_kb().unwrap_or(0)
    );
}

fn linux() -> bool {
    Path::new("/proc/self/status").exists()
}

#[test]
fn mbox_of_zip_gz_attachments_with_padding_stays_small() {
    if !linux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("amplifying.mbox");
    let mbox = amplifying_mbox(8);
    // A few MB of mail expanding to 760 MiB (how small depends on the
    // deflate backend the build unifies flate2 to: miniz or zlib-rs).
    assert!(mbox.len() < 16 * 1024 * 1024, "{} bytes", mbox.len());
    std::fs::write(&path, &mbox).unwrap();
    let w = run_worker(&path);
    eprintln!("{}", w.output);
    // Each zip.gz gives its padding member (not a report) and its report.
    assert_eq!(w.parsed, 8, "{}", w.output);
    assert_eq!(w.file_errors, 0, "{}", w.output);
    assert_eq!(w.failed, 8, "{}", w.output);
    assert!(
        w.peak_kb < MAX_PEAK_KB,
        "peak RSS {} kB for a {} byte mbox\n{}",
        w.peak_kb,
        mbox.len(),
        w.output
    );
}

#[test]
fn nested_zip_with_padding_stays_small() {
    if !linux() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.zip");
    let zip = nested_zip();
    assert!(zip.len() > 99_000_000, "{} bytes", zip.len());
    std::fs::write(&path, &zip).unwrap();
    drop(zip);
    let w = run_worker(&path);
    eprintln!("{}", w.output);
    assert_eq!(w.parsed, 4, "{}", w.output);
    assert_eq!(w.file_errors, 0, "{}", w.output);
    assert!(
        w.peak_kb < MAX_PEAK_KB,
        "peak RSS {} kB for the nested zip\n{}",
        w.peak_kb,
        w.output
    );
}
