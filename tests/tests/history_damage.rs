//! A damaged history file never goes unnoticed: when its report is still in
//! an `[ingest]` folder, the next run writes its rows again by itself; when
//! it is not, the monthly report names what is missing ("missing data"),
//! `history verify` lists the file, `history repair` sets it aside and
//! forgets its report, and ingesting the report again writes the rows anew,
//! after which the report is whole again (issue 11, item 5).

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_e2e::{authwarden, copy_dir};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

#[test]
fn a_truncated_aggregate_file_is_reported_and_repaired_by_ingesting_again() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root().join("config"), &dir.path().join("config"));
    copy_dir(&root().join("templates"), &dir.path().join("templates"));
    let config = dir.path().join("config/example.toml");
    let config = config.to_str().unwrap();
    let data = dir.path().join("reports/data");
    let report_txt = || {
        let mut all = Vec::new();
        files(&dir.path().join("reports/monthly"), &mut all);
        let txt = all
            .iter()
            .find(|p| p.ends_with("report.txt"))
            .expect("a report.txt");
        fs::read_to_string(txt).unwrap()
    };

    let first = authwarden(&["run", "monthly", "--config", config]);
    assert_eq!(first.code(), 0, "{first}");
    assert!(!report_txt().contains("MISSING DATA"), "{first}");

    // Truncate one November file of the aggregate rows (the mail section of
    // a run in December covers November).
    let november_file = || {
        let mut all = Vec::new();
        files(&data.join("aggregate"), &mut all);
        all.into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .filter(|p| !p.to_string_lossy().contains("/damaged/"))
            .find(|p| p.to_string_lossy().contains("date=2026-11-04"))
            .expect("an aggregate file of 4 November")
    };
    let truncate = |p: &Path| {
        let bytes = fs::read(p).unwrap();
        fs::write(p, &bytes[..bytes.len() / 2]).unwrap();
    };
    let victim = november_file();
    truncate(&victim);

    // The reports are still in the [ingest] folder: the run writes them
    // again. The file held the day's two reports (Google's and Outlook's:
    // one file per domain and day per ingest batch).
    let healed = authwarden(&["run", "monthly", "--config", config]);
    assert_eq!(healed.code(), 0, "{healed}");
    assert!(
        healed
            .stdout
            .contains("reports: 2 new DMARC aggregate reports ingested"),
        "{healed}"
    );
    assert!(!report_txt().contains("MISSING DATA"), "{healed}");

    // Now with the reports gone from the folder: nothing can heal it.
    let victim = november_file();
    truncate(&victim);
    let reports = dir.path().join("config/example-reports");
    let away = dir.path().join("reports-away");
    fs::rename(&reports, &away).unwrap();
    fs::create_dir(&reports).unwrap();
    let domain = victim
        .ancestors()
        .find_map(|a| {
            a.file_name()?
                .to_str()?
                .strip_prefix("domain=")
                .map(str::to_string)
        })
        .unwrap();

    let second = authwarden(&["run", "monthly", "--config", config]);
    assert_eq!(second.code(), 0, "{second}");
    let text = report_txt();
    assert!(text.contains("MISSING DATA"), "{text}");
    assert!(
        text.contains(&domain),
        "the report names the domain: {text}"
    );

    let verify = authwarden(&["history", "verify", "--config", config]);
    assert_eq!(verify.code(), 1, "{verify}");
    assert!(verify.stdout.contains("1 unreadable file"), "{verify}");

    let repair = authwarden(&["history", "repair", "--config", config]);
    assert_eq!(repair.code(), 0, "{repair}");
    assert!(repair.stdout.contains("1 file moved aside"), "{repair}");
    assert!(repair.stdout.contains("to ingest again"), "{repair}");
    assert!(
        !victim.exists(),
        "the damaged file is moved aside: {repair}"
    );

    fs::remove_dir(&reports).unwrap();
    fs::rename(&away, &reports).unwrap();
    let ingest = authwarden(&[
        "ingest",
        "--config",
        config,
        "--no-reverse-dns",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(ingest.code(), 0, "{ingest}");
    assert!(ingest.stdout.starts_with("2 new reports"), "{ingest}");

    let verify = authwarden(&["history", "verify", "--config", config]);
    assert_eq!(verify.code(), 0, "{verify}");
    let third = authwarden(&["run", "monthly", "--config", config]);
    assert_eq!(third.code(), 0, "{third}");
    assert!(!report_txt().contains("MISSING DATA"), "{third}");
}
