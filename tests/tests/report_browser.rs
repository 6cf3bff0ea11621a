//! The report as a new user first sees it: `report.html` on disk opened in a
//! real browser (headless Chromium from the Debian packages, installed by
//! `scripts/test`), every image loaded. The example's config is copied alone
//! to a directory outside the checkout, so the run also proves that the
//! binary needs no template files beside it (the templates are built in).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use authwarden_e2e::{authwarden, copy_dir};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Added before `</body>` of a copy of the report: after load, lists every
/// image as `ok <src>` or `broken <src>` in a `<pre>` that `--dump-dom`
/// prints.
const PROBE: &str = r#"<script>window.addEventListener('load',function(){var r=[];document.querySelectorAll('img').forEach(function(i){r.push((i.complete&&i.naturalWidth>0?'ok ':'broken ')+i.getAttribute('src'))});var p=document.createElement('pre');p.id='aw-images';p.textContent='['+r.join('|')+']';document.body.appendChild(p);});</script>"#;

fn chromium() -> &'static str {
    for name in ["chromium", "chromium-browser"] {
        if Command::new(name).arg("--version").output().is_ok() {
            return name;
        }
    }
    panic!("headless Chromium is needed for this test (Debian package `chromium`; scripts/test installs it)");
}

/// The images of `html` (a file) as the browser loaded them.
fn images_in_browser(html: &Path) -> Vec<String> {
    let text = fs::read_to_string(html).unwrap();
    assert!(text.contains("</body>"), "{}", html.display());
    let probe = html.with_file_name("report-probe.html");
    fs::write(
        &probe,
        text.replacen("</body>", &format!("{PROBE}</body>"), 1),
    )
    .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"aw-images\">[").unwrap_or_else(|| {
        panic!(
            "the probe did not run: {dom}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rest = &dom[start + "<pre id=\"aw-images\">[".len()..];
    let list = &rest[..rest.find(']').unwrap()];
    list.split('|')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn report_html_on_disk_shows_every_chart_in_a_real_browser() {
    let dir = tempfile::tempdir().unwrap();
    // Only config/: no templates folder anywhere near the config.
    copy_dir(&root().join("config"), &dir.path().join("config"));
    let config = dir.path().join("config/example.toml");
    let run = authwarden(&["run", "monthly", "--config", config.to_str().unwrap()]);
    assert_eq!(run.code(), 0, "{run}");

    let monthly = dir.path().join("reports/monthly");
    let period = fs::read_dir(&monthly)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let html = period.join("report.html");
    let text = fs::read_to_string(&html).unwrap();
    assert!(
        !text.contains("cid:"),
        "the file on disk must not use cid: images"
    );

    let images = images_in_browser(&html);
    // The example has aggregate reports (pass-rate chart) and a run history
    // of one run (trend chart) at least.
    assert!(images.len() >= 2, "{images:?}");
    for image in &images {
        assert!(
            image.starts_with("ok "),
            "image not loaded in the browser: {image} (all: {images:?})"
        );
    }

    // The mail keeps inline images, every one of them attached.
    let eml = fs::read_dir(dir.path().join("reports/outbox"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "eml"))
        .expect("the message in the outbox");
    let message = fs::read_to_string(eml).unwrap();
    assert!(
        message.contains("cid:"),
        "the mail names its images by Content-ID"
    );
    for image in &images {
        let file = image.trim_start_matches("ok ");
        assert!(period.join(file).exists(), "{file}");
    }
}
