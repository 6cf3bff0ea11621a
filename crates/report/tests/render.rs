//! Rendering the shipped templates, escaping, and errors of broken folders.

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_api::Cadence;
use authwarden_report::{Fact, RenderError, Renderer, ReportContext};

fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

/// The fixture context, as the pipeline would fill it in for `job`.
fn fixture(job: Cadence) -> ReportContext {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/context.json");
    let mut ctx: ReportContext = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    ctx.job = job;
    ctx.is_audit = job == Cadence::Annual;
    ctx.period = match job {
        Cadence::Monthly => "2026-11",
        Cadence::Quarterly => "2026-Q4",
        Cadence::Annual => "2026",
    }
    .into();
    ctx
}

fn renderer() -> Renderer {
    Renderer::from_dir(&templates()).unwrap()
}

/// A copy of the shipped templates to break.
fn copy_templates() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("partials")).unwrap();
    for sub in ["", "partials"] {
        for entry in fs::read_dir(templates().join(sub)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
            }
        }
    }
    dir
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn monthly_report() {
    let r = renderer().render(&fixture(Cadence::Monthly)).unwrap();
    assert_eq!(
        r.subject,
        "authwarden monthly report 2026-11 — 2 errors, 3 warnings"
    );
    insta::assert_snapshot!("monthly_txt", r.text);
    insta::assert_snapshot!("monthly_html", r.html);
}

#[test]
fn quarterly_report() {
    let r = renderer().render(&fixture(Cadence::Quarterly)).unwrap();
    insta::assert_snapshot!("quarterly_txt", r.text);
    insta::assert_snapshot!("quarterly_html", r.html);
}

#[test]
fn annual_audit_lists_passed_checks() {
    let r = renderer().render(&fixture(Cadence::Annual)).unwrap();
    assert!(r
        .text
        .contains("PASS dmarc-policy: the DMARC record exists"));
    assert!(r.html.contains("Checks that passed"));
    // Outside the audit a clean domain is one line, in the audit a section.
    assert!(r.text.contains("example.net [OK]\n"));
    insta::assert_snapshot!("annual_txt", r.text);
    insta::assert_snapshot!("annual_html", r.html);
}

#[test]
fn clean_report_says_so() {
    let mut ctx = fixture(Cadence::Monthly);
    for d in &mut ctx.domains {
        d.findings.clear();
    }
    ctx.resolved.clear();
    ctx.plan.clear();
    ctx.chart = None;
    ctx.summary = authwarden_report::Summary::tally(&ctx.domains, &ctx.resolved);
    let r = renderer().render(&ctx).unwrap();
    assert_eq!(
        r.subject,
        "authwarden monthly report 2026-11 — all checks passed"
    );
    assert!(r.text.contains(
        "[OK] Nothing open on example.com, example.org, example.net,\n     shop.example-subsidiary.co.uk"
    ));
    assert!(!r.text.contains("NEXT STEPS"));
    // The trend chart is gone; the mail summary keeps its own.
    assert!(!r.html.contains("cid:trend-"));
}

#[test]
fn builtin_templates_render_like_the_folder() {
    let ctx = fixture(Cadence::Quarterly);
    assert_eq!(
        Renderer::builtin().unwrap().render(&ctx).unwrap(),
        renderer().render(&ctx).unwrap()
    );
}

#[test]
fn text_fits_72_columns_and_has_no_html() {
    for job in Cadence::ALL {
        let text = renderer().render(&fixture(job)).unwrap().text;
        for line in text.lines() {
            assert!(line.chars().count() <= 72, "{job}: {line:?}");
        }
        for entity in [
            "&lt;", "&gt;", "&amp;", "&quot;", "&#x", "&middot;", "<br", "<td",
        ] {
            assert!(!text.contains(entity), "{job}: {entity}");
        }
    }
}

#[test]
fn html_is_self_contained() {
    for job in Cadence::ALL {
        let html = renderer().render(&fixture(job)).unwrap().html;
        for banned in ["<script", "<style", "<link", "http://", "https://", "url("] {
            assert!(!html.contains(banned), "{job}: {banned}");
        }
        let srcs: Vec<_> = html.match_indices("src=\"").collect();
        // The monthly report shows the rollout timeline as a third chart;
        // the annual audit has the rollout as a table.
        let charts = if job == Cadence::Monthly { 3 } else { 2 };
        assert_eq!(srcs.len(), charts, "{job}: only the charts are images");
        assert!(html.contains("<img src=\"cid:trend-2026-11@authwarden\""));
        assert!(html.contains("<img src=\"cid:pass-rate-2026-11@authwarden\""));
        assert_eq!(
            html.contains("<img src=\"cid:phase-timeline-2026-11@authwarden\""),
            job == Cadence::Monthly,
            "{job}"
        );
    }
}

#[test]
fn the_file_on_disk_names_the_chart_files_and_the_mail_the_inline_images() {
    for job in Cadence::ALL {
        let ctx = fixture(job);
        let mail = renderer().render(&ctx).unwrap().html;
        let file = renderer().render_html(&ctx.for_files()).unwrap();
        assert!(mail.contains("<img src=\"cid:trend-2026-11@authwarden\""));
        assert!(
            !file.contains("cid:"),
            "{job}: a browser cannot resolve cid:"
        );
        assert!(file.contains("<img src=\"trend.png\""), "{job}");
        assert!(file.contains("<img src=\"pass-rate.png\""), "{job}");
        assert_eq!(
            file.contains("<img src=\"phase-timeline.png\""),
            job == Cadence::Monthly,
            "{job}"
        );
    }
}

#[test]
fn severities_have_words_not_only_colours() {
    let r = renderer().render(&fixture(Cadence::Monthly)).unwrap();
    for word in [
        ">ERROR<",
        ">WARNING<",
        ">NOTE<",
        ">NEW<",
        ">RESOLVED<",
        ">OK<",
    ] {
        assert!(r.html.contains(word), "{word}");
    }
    for word in [
        "[ERROR] DMARC003",
        "[WARNING] SPF004",
        "[NOTE] DKIM007",
        "(new)",
    ] {
        assert!(r.text.contains(word), "{word}");
    }
}

#[test]
fn findings_are_sorted_errors_first_then_new_then_code() {
    // The fixture lists example.com's findings note, warning, error.
    let text = renderer().render(&fixture(Cadence::Monthly)).unwrap().text;
    let pos = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(pos("DMARC003") < pos("SPF004"));
    assert!(pos("SPF004") < pos("DKIM007"));
    // Same severity: new (DMARC001) before open would come, then by code.
    assert!(pos("[ERROR] DMARC001") < pos("[WARNING] SPF002"));
}

#[test]
fn hostile_values_are_escaped_in_html_and_literal_in_text() {
    let script = "<script>alert(1)</script>";
    let chars = r#"quote " amp & lt < gt >"#;
    let mut ctx = fixture(Cadence::Annual);
    ctx.organisation = Some(script.into());
    ctx.plan[0].steps[0].publish.push(format!("fix {script}"));
    ctx.chart.as_mut().unwrap().alt = chars.into();
    let d = &mut ctx.domains[0];
    d.domain = format!("{script}.example");
    d.facts.push(Fact::new(script, chars));
    d.passed[0].summary = script.into();
    let f = &mut d.findings[0];
    f.evidence.push(Fact::new("record", script));
    f.message = chars.into();
    f.help = script.into();
    f.subject = script.into();
    f.since = Some(script.into());
    ctx.resolved[0].message = script.into();

    let r = renderer().render(&ctx).unwrap();
    assert!(
        !r.html.contains("<script"),
        "unescaped script tag in the HTML"
    );
    assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(r.html.contains("quote &quot; amp &amp; lt &lt; gt &gt;"));
    assert!(!r.html.contains(chars));

    assert!(r.text.contains(&format!("- record: {script}")));
    assert!(r.text.contains(&format!("    {chars}\n")));
    assert!(r.text.contains(&format!("{script}.example [ERROR]")));
    assert!(!r.text.contains("&lt;"));
    assert!(!r.text.contains("&amp;"));
}

#[test]
fn mail_summary_shows_categories_failing_and_new_sources() {
    let r = renderer().render(&fixture(Cadence::Monthly)).unwrap();
    for text in [&r.text, &r.html] {
        for want in [
            "2026-10-01 to 2026-10-31",
            "48,211",
            "96.8%",
            "203.0.113.45",
            "known-service-missing-spf",
            "update SPF: add include:sendgrid.net",
            "first seen 2026-10-12",
        ] {
            assert!(text.contains(want), "{want}:\n{text}");
        }
    }
    assert!(r.text.contains("MAIL SENT AS YOUR DOMAINS IN 2026-10"));
    assert!(r.text.contains("[FAIL] 203.0.113.45 (unknown sender), 212"));
    assert!(r.html.contains(">FAIL<") && r.html.contains(">PARTIAL<"));
    assert!(r.html.contains("New sources, first seen this month"));
    assert!(!r.text.contains("ingest PATH"));
}

#[test]
fn without_reports_the_mail_summary_is_one_line_with_the_ingest_hint() {
    let mut ctx = fixture(Cadence::Monthly);
    ctx.mail = None;
    let r = renderer().render(&ctx).unwrap();
    let hint = "No DMARC aggregate reports ingested yet: add them with `authwarden ingest PATH` to see who sends mail as your domains.";
    let at = r
        .text
        .find("No DMARC aggregate reports ingested yet")
        .unwrap();
    let section: String = r.text[at..].split("\n\n").next().unwrap().into();
    assert_eq!(section.replace('\n', " "), hint);
    assert!(r.html.contains("No DMARC aggregate reports ingested yet"));
    assert!(r.html.contains("authwarden ingest PATH"));
    assert!(!r.html.contains("cid:pass-rate"));
    assert!(!r.html.contains("Top failing sources"));

    // Reports, but none for the period: one line, no table.
    let mut ctx = fixture(Cadence::Quarterly);
    let mail = ctx.mail.as_mut().unwrap();
    mail.domains.clear();
    mail.chart = None;
    mail.latest_report = Some("2026-06-30".into());
    let r = renderer().render(&ctx).unwrap();
    assert!(r.text.contains(
        "No DMARC aggregate report covers 2026-10-01 to 2026-10-31 (the latest\nbegins 2026-06-30): add newer ones with `authwarden ingest PATH`."
    ), "{}", r.text);
    assert!(r.html.contains("authwarden ingest PATH"));
    assert!(!r.html.contains(">Messages<"));
}

#[test]
fn hostile_report_values_are_escaped_in_html_and_literal_in_text() {
    let script = "<script>alert(1)</script>";
    let mut ctx = fixture(Cadence::Monthly);
    let mail = ctx.mail.as_mut().unwrap();
    mail.period = script.into();
    let d = &mut mail.domains[0];
    d.domain = format!("{script}.example");
    let f = &mut d.failing_sources[0];
    f.provider = Some(script.into());
    f.header_from = vec![format!("{script}.example"), "\"&'".into()];
    f.source_ip = script.into();
    f.cause = script.into();
    f.action = script.into();
    let n = &mut d.new_sources[0];
    n.provider = Some(script.into());
    n.source_ip = script.into();
    n.first_seen = script.into();

    let r = renderer().render(&ctx).unwrap();
    assert!(
        !r.html.to_ascii_lowercase().contains("<script"),
        "unescaped script tag in the HTML"
    );
    assert!(r
        .html
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;.example, &quot;&amp;&#x27;"));
    assert!(r.text.contains(&format!("[FAIL] {script} ({script}), 212")));
    let flat = r.text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("From: {script}.example, \"&'")),
        "{}",
        r.text
    );
    assert!(!r.text.contains("&lt;"));
    for line in r.text.lines() {
        assert!(line.chars().count() <= 72, "{line:?}");
    }
}

/// The characters that must not reach a reader from a value: controls
/// (the templates' own line breaks aside) and bidi controls.
fn unsafe_chars(out: &str) -> Vec<char> {
    out.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(
                    c,
                    '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}'
                )
                || ('\u{202A}'..='\u{202E}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

#[test]
fn control_bidi_and_huge_values_are_escaped_and_cut_in_both_formats() {
    use authwarden_api::text::{NAME_MAX_CHARS, TEXT_MAX_CHARS};

    let osc = "\x1b]8;;http://evil\x07click\x1b]8;;\x07\x1b[2J";
    // A newline that would start a line looking like the report's own.
    let forged = "x.example\nFORGED";
    let rtl = "\u{202e}gro.elpmaxe";
    let long_text = "ж".repeat(60_000);
    let long_name = "ц".repeat(60_000);
    // A DKIM record to publish: long, but it must reach the reader whole.
    let key = format!("v=DKIM1; k=rsa; p={}", "K".repeat(800));

    for job in Cadence::ALL {
        let mut ctx = fixture(job);
        ctx.organisation = Some(format!("{forged} {osc}"));
        ctx.plan[0].steps[0].why = format!("{rtl}: {forged}");
        let d = &mut ctx.domains[0];
        d.facts.push(Fact::new(rtl, osc));
        let f = &mut d.findings[0];
        f.subject = rtl.into();
        f.message = format!("the record of {forged} says {osc}");
        f.help = format!("publish {key}");
        f.evidence.push(Fact::new("record", long_text.clone()));
        let mail = ctx.mail.as_mut().unwrap();
        let m = &mut mail.domains[0];
        m.domain = rtl.into();
        let s = &mut m.failing_sources[0];
        s.source_ip = long_name.clone();
        s.provider = Some(osc.into());
        s.header_from = vec![forged.into(), rtl.into()];
        let n = &mut m.new_sources[0];
        n.source_ip = forged.into();
        n.provider = Some("\u{7}\u{85}\u{9b}".into());

        let r = renderer().render(&ctx).unwrap();
        for (format, out) in [("text", &r.text), ("html", &r.html)] {
            assert_eq!(unsafe_chars(out), Vec::<char>::new(), "{job} {format}");
            assert!(out.contains("\\u{202e}gro.elpmaxe"), "{job} {format}");
            assert!(
                out.contains("\\u{1b}]8;;http://evil\\u{7}"),
                "{job} {format}"
            );
            assert!(out.contains("x.example\\nFORGED"), "{job} {format}");
            // Each value is cut at its field's cap, with the rest counted.
            assert_eq!(out.matches('ж').count(), TEXT_MAX_CHARS, "{job} {format}");
            assert_eq!(out.matches('ц').count(), NAME_MAX_CHARS, "{job} {format}");
            // (The text may wrap the note of what was cut.)
            let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
            for cap in [NAME_MAX_CHARS, TEXT_MAX_CHARS] {
                let rest = format!("… ({} more characters)", group(60_000 - cap));
                assert!(flat.contains(&rest), "{job} {format}: {rest}");
            }
            // The record to publish is whole (the text wraps it, the HTML
            // escapes its `=`).
            assert!(
                out.replace("&#x3D;", "=")
                    .replace(['\n', ' '], "")
                    .contains(&key.replace(' ', "")),
                "{job} {format}"
            );
        }
        for line in r.text.lines() {
            assert!(!line.trim_start().starts_with("FORGED"), "{job}: {line:?}");
            assert!(line.chars().count() <= 72, "{job}: {line:?}");
        }
        // Nothing from outside becomes a link.
        assert!(!r.html.contains("<a "), "{job}");
        assert!(!r.html.contains("href"), "{job}");
    }
}

/// `59744` → `59,744`.
fn group(n: usize) -> String {
    authwarden_api::text::group_digits(n as u64)
}

#[test]
fn ordinary_text_is_not_touched_by_the_escaping() {
    // Letters of other scripts, the typography of the templates and the
    // zero width joiner stay as they are.
    let name = "Zürich Mail AG — 配信 · مرحبا · 👩\u{200d}💻";
    let mut ctx = fixture(Cadence::Monthly);
    ctx.organisation = Some(name.into());
    ctx.mail.as_mut().unwrap().domains[0].failing_sources[0].provider = Some(name.into());
    let r = renderer().render(&ctx).unwrap();
    assert!(r.text.contains(name), "{}", r.text);
    assert!(r.html.contains(name));
    assert!(!r.text.contains("\\u{"));
}

#[test]
fn html_templates_never_use_triple_stash() {
    let mut files = vec![];
    for sub in ["", "partials"] {
        for entry in fs::read_dir(templates().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.to_string_lossy().ends_with(".html.hbs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 6);
    for path in files {
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains("{{{"), "{} uses {{{{{{", path.display());
        assert!(!text.contains("{{&"), "{} uses {{{{&", path.display());
    }
}

#[test]
fn missing_template_file_is_named() {
    let dir = copy_templates();
    fs::remove_file(dir.path().join("quarterly.txt.hbs")).unwrap();
    let err = Renderer::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, RenderError::Missing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: template file is missing",
            dir.path().join("quarterly.txt.hbs").display()
        )
    );
}

#[test]
fn missing_folder_is_named() {
    let err = Renderer::from_dir(Path::new("/nonexistent/templates")).unwrap_err();
    assert!(
        err.to_string().starts_with("/nonexistent/templates: "),
        "{err}"
    );
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let dir = copy_templates();
    let path = dir.path().join("monthly.html.hbs");
    // Line 4 of monthly.html.hbs is `{{> next-steps}}`.
    edit(&path, "{{> next-steps}}", "<p>{{#if plan}}</p>{{/each}}");
    let err = Renderer::from_dir(dir.path()).unwrap_err().to_string();
    let prefix = format!("{}:4:", path.display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(err.contains("if") && err.contains("each"), "{err}");
    assert!(!err.contains('\n'), "one line: {err}");
}

#[test]
fn syntax_error_in_a_partial_names_the_partial() {
    let dir = copy_templates();
    let path = dir.path().join("partials/finding.txt.hbs");
    edit(
        &path,
        "{{wrap message indent=4}}",
        "{{wrap message indent=4}",
    );
    let err = Renderer::from_dir(dir.path()).unwrap_err().to_string();
    let prefix = format!("{}:4:", path.display());
    assert!(err.starts_with(&prefix), "{err}");
}

#[test]
fn unknown_field_names_file_and_line() {
    let dir = copy_templates();
    let path = dir.path().join("partials/finding.html.hbs");
    edit(&path, "{{message}}", "{{mesage}}");
    let err = Renderer::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, RenderError::Template { .. }), "{err:?}");
    let err = err.to_string();
    let prefix = format!("{}:5:61: ", path.display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(err.contains("`mesage` is not a field"), "{err}");
}

#[test]
fn missing_partial_is_named() {
    let dir = copy_templates();
    fs::remove_file(dir.path().join("partials/footer.txt.hbs")).unwrap();
    let err = Renderer::from_dir(dir.path()).unwrap_err().to_string();
    let prefix = format!("{}:", dir.path().join("monthly.txt.hbs").display());
    assert!(err.starts_with(&prefix), "{err}");
    assert!(err.contains("partial `footer` not found"), "{err}");
}

#[test]
fn validate_dir_reports_every_problem() {
    assert!(Renderer::validate_dir(&templates()).is_ok());
    let dir = copy_templates();
    fs::remove_file(dir.path().join("annual.html.hbs")).unwrap();
    edit(
        &dir.path().join("monthly.txt.hbs"),
        "{{> summary}}",
        "{{#if x}}",
    );
    let errors = Renderer::validate_dir(dir.path()).unwrap_err();
    let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{messages:#?}");
    assert!(messages
        .iter()
        .any(|m| m.contains("annual.html.hbs: template file is missing")));
    assert!(messages.iter().any(|m| m.contains("monthly.txt.hbs:")));
}
