//! A sharded fleet end to end: the bundled example's monthly job run as 4
//! shards in 4 processes at once (`run monthly --shard I/4`), then merged
//! (`run monthly --merge-shards 4`), gives the same report as one unsharded
//! run of the same example: every figure, finding and plan step. Each
//! shard checks only its own domains; a merge with a shard missing names it.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use authwarden_e2e::{authwarden, copy_dir, Run};
use serde_json::Value;
use tempfile::TempDir;

const DOMAINS: [&str; 5] = [
    "healthy.example",
    "monitoring.example",
    "rollout.example",
    "broken.example",
    "leaky.example",
];

fn example() -> (TempDir, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root.join("config"), &dir.path().join("config"));
    let config = dir.path().join("config/example.toml");
    (dir, config.to_str().unwrap().to_string())
}

fn ok(run: Run) -> Run {
    assert!(
        run.status.code().is_some_and(|c| c != 2 && c < 64),
        "{}\n{}\n{}",
        run.command,
        run.stdout,
        run.stderr
    );
    run
}

/// The monthly report's text with the run's id and times taken out.
fn report(dir: &Path) -> String {
    let text = fs::read_to_string(
        dir.join("reports/monthly")
            .join(period(dir))
            .join("report.txt"),
    )
    .unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.to_string();
        // 20261204T005204768Z-monthly, 2026-12-04 00:52 UTC
        while let Some(at) = l.find("Z-monthly") {
            let start = at.saturating_sub(18);
            l.replace_range(start..at + 9, "RUN");
        }
        if l.contains("checks run ") || l.contains(" UTC") {
            l = "TIME".into();
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn period(dir: &Path) -> String {
    let entries: Vec<PathBuf> = fs::read_dir(dir.join("reports/monthly"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn findings(run: &Run) -> BTreeSet<(String, String, String)> {
    let v: Value = run.json();
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["domain"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
                f["subject"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn four_shards_merged_equal_one_unsharded_run() {
    let (whole_dir, whole_config) = example();
    let whole = ok(authwarden(&[
        "--format",
        "json",
        "run",
        "monthly",
        "--config",
        &whole_config,
    ]));

    let (dir, config) = example();
    // A merge before the shards ran names what is missing.
    let early = authwarden(&["run", "monthly", "--config", &config, "--merge-shards", "4"]);
    assert!(!early.status.success());
    assert!(
        early.stderr.contains("shard 1/4, 2/4, 3/4, 4/4"),
        "{}",
        early.stderr
    );

    let shards: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=4)
            .map(|i| {
                let config = config.clone();
                s.spawn(move || {
                    ok(authwarden(&[
                        "--format",
                        "json",
                        "run",
                        "monthly",
                        "--config",
                        &config,
                        "--shard",
                        &format!("{i}/4"),
                    ]))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        !dir.path().join("reports/monthly").exists(),
        "a shard makes no report"
    );
    let mut seen = BTreeSet::new();
    for (i, run) in shards.iter().enumerate() {
        let file = dir.path().join(format!(
            "reports/data/shards/monthly/{}/{}-of-4.json",
            period(whole_dir.path()),
            i + 1
        ));
        let kept: Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
        let domains: Vec<String> = kept["outcome"]["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["domain"].as_str().unwrap().to_string())
            .collect();
        for d in &domains {
            assert!(seen.insert(d.clone()), "{d} checked by two shards");
        }
        for f in findings(run) {
            assert!(
                domains.contains(&f.0),
                "shard {} reported {f:?} of another shard",
                i + 1
            );
        }
    }
    assert_eq!(
        seen,
        DOMAINS.iter().map(|d| d.to_string()).collect(),
        "every domain in one shard"
    );

    let merged = ok(authwarden(&[
        "--format",
        "json",
        "run",
        "monthly",
        "--config",
        &config,
        "--merge-shards",
        "4",
    ]));
    assert_eq!(findings(&merged), findings(&whole));
    assert!(!findings(&whole).is_empty());
    let (a, b) = (report(dir.path()), report(whole_dir.path()));
    if a != b {
        let diff: Vec<String> = a
            .lines()
            .zip(b.lines())
            .filter(|(x, y)| x != y)
            .take(10)
            .map(|(x, y)| format!("sharded: {x}\nwhole:   {y}"))
            .collect();
        panic!(
            "the merged report differs from the unsharded one:\n{}",
            diff.join("\n")
        );
    }
    // The merged run is in the history like any run: one message in the outbox.
    let outbox: Vec<_> = fs::read_dir(dir.path().join("reports/outbox"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(outbox.len(), 1);
}

#[test]
fn four_sharded_ingests_keep_what_one_unsharded_ingest_keeps() {
    let ingest = |config: &str, shard: Option<u32>| -> Value {
        let reports = Path::new(config).parent().unwrap().join("example-reports");
        let mut args = vec![
            "--format".to_string(),
            "json".into(),
            "ingest".into(),
            "--config".into(),
            config.into(),
            reports.to_str().unwrap().into(),
        ];
        if let Some(i) = shard {
            args.extend(["--shard".into(), format!("{i}/4")]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(authwarden(&args)).json()
    };
    let (_whole_dir, whole_config) = example();
    let whole = ingest(&whole_config, None);
    assert_eq!(whole["other_shards"], 0);

    let (_dir, config) = example();
    // Four processes at once into the same history.
    let shards: Vec<Value> = std::thread::scope(|s| {
        let handles: Vec<_> = (1..=4)
            .map(|i| {
                let config = config.clone();
                let ingest = &ingest;
                s.spawn(move || ingest(&config, Some(i)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let sum = |get: &dyn Fn(&Value) -> u64| shards.iter().map(get).sum::<u64>();
    for (name, get) in [
        (
            "new",
            &(|v: &Value| v["new"].as_u64().unwrap()) as &dyn Fn(&Value) -> u64,
        ),
        ("rows", &|v: &Value| v["rows"].as_u64().unwrap()),
        ("messages", &|v: &Value| v["messages"].as_u64().unwrap()),
        ("tls.new", &|v: &Value| v["tls"]["new"].as_u64().unwrap()),
        ("failures.new", &|v: &Value| {
            v["failures"]["new"].as_u64().unwrap()
        }),
    ] {
        assert_eq!(sum(get), get(&whole), "{name}: {shards:?}");
    }
    assert!(whole["new"].as_u64().unwrap() > 0);
    // Each report was kept by one shard and left by the three others.
    let kept = whole["reports"].as_u64().unwrap()
        + whole["tls"]["reports"].as_u64().unwrap()
        + whole["failures"]["reports"].as_u64().unwrap();
    assert_eq!(
        sum(&|v: &Value| v["other_shards"].as_u64().unwrap()),
        3 * kept
    );
    // A shard cannot read the mailbox: it would file the others' messages.
    let run = authwarden(&["ingest", "--config", &config, "--imap", "--shard", "1/4"]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("--shard"), "{}", run.stderr);
}
