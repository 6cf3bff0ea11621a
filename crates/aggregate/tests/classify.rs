//! Classification over hand-made reports (`tests/fixtures/classify`): each
//! file is named `<category>-<cause>[--variant].xml` and every record in it
//! must classify so. Every category and cause has at least one file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use authwarden_aggregate::{
    open_path, report_rows, AggregateReport, Category, Cause, Classifier, Limits, Record,
};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classify");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> AggregateReport {
    let limits = Limits::default();
    let mut payloads = open_path(path, &limits).unwrap();
    assert_eq!(payloads.len(), 1);
    payloads.remove(0).parse(&limits).unwrap()
}

/// `partial-spf-only--strict-dkim` → (partial, spf-only).
fn expected(path: &Path) -> (Category, Cause) {
    let stem = path.file_stem().unwrap().to_str().unwrap();
    let stem = stem.split("--").next().unwrap();
    let (category, cause) = stem.split_once('-').unwrap();
    let category = Category::ALL
        .into_iter()
        .find(|c| c.as_str() == category)
        .unwrap_or_else(|| panic!("{stem}: unknown category"));
    let cause = Cause::from_code(cause).unwrap_or_else(|| panic!("{stem}: unknown cause"));
    assert_eq!(
        cause.category(),
        category,
        "{stem}: cause of another category"
    );
    (category, cause)
}

#[test]
fn every_fixture_record_classifies_as_its_file_name_says() {
    let classifier = Classifier::default();
    let mut causes = BTreeSet::new();
    let mut wrong = Vec::new();
    for path in fixtures() {
        let (category, cause) = expected(&path);
        causes.insert(cause);
        let report = load(&path);
        assert!(!report.records.is_empty(), "{}", path.display());
        for record in &report.records {
            let c = classifier.classify(&report.policy_published, record);
            if (c.category, c.cause) != (category, cause) {
                wrong.push(format!(
                    "{}: {} got {}/{} (dkim_aligned={}, spf_aligned={})",
                    path.file_name().unwrap().to_string_lossy(),
                    record.source_ip,
                    c.category,
                    c.cause,
                    c.dkim_aligned,
                    c.spf_aligned
                ));
            }
            assert!(!c.action.is_empty());
            assert!(!c.action.ends_with('.'), "no trailing period: {}", c.action);
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
    let missing: Vec<_> = Cause::ALL
        .into_iter()
        .filter(|c| !causes.contains(c))
        .collect();
    assert!(missing.is_empty(), "causes without a fixture: {missing:?}");
}

fn classify_file(name: &str) -> Vec<(Record, authwarden_aggregate::Classification)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/classify")
        .join(name);
    let report = load(&path);
    let classifier = Classifier::default();
    report
        .records
        .iter()
        .map(|r| (r.clone(), classifier.classify(&report.policy_published, r)))
        .collect()
}

#[test]
fn providers_are_named_and_actions_mention_them() {
    let rows = classify_file("fail-known-service-missing-spf.xml");
    assert_eq!(rows[0].1.provider.as_deref(), Some("SendGrid"));
    assert!(
        rows[0]
            .1
            .action
            .contains("add include:sendgrid.net to the SPF record of example.com"),
        "{}",
        rows[0].1.action
    );
    assert_eq!(rows[1].1.provider.as_deref(), Some("Mailgun"));

    let rows = classify_file("fail-known-service-missing-dkim.xml");
    assert_eq!(rows[0].1.provider.as_deref(), Some("Amazon SES"));
    assert_eq!(rows[1].1.provider.as_deref(), Some("Microsoft 365"));
    assert!(rows[0]
        .1
        .action
        .starts_with("configure DKIM signing with d=example.com at Amazon SES"));

    let rows = classify_file("partial-spf-only.xml");
    assert_eq!(rows[0].1.provider, None);
    assert_eq!(rows[1].1.provider.as_deref(), Some("SendGrid"));

    let rows = classify_file("partial-mailing-list.xml");
    assert_eq!(rows[2].1.provider.as_deref(), Some("Google Groups"));

    let rows = classify_file("fail-unknown-source.xml");
    assert!(rows.iter().all(|(_, c)| c.provider.is_none()));
    assert!(rows[0].1.action.starts_with("likely spoofing"));
}

#[test]
fn reporter_verdicts_are_compared_with_ours() {
    // The fixtures' policy_evaluated matches what we compute.
    for path in fixtures() {
        let report = load(&path);
        let classifier = Classifier::default();
        for r in &report.records {
            let c = classifier.classify(&report.policy_published, r);
            assert!(c.reporter_agrees, "{}: {}", path.display(), r.source_ip);
        }
    }
    // A reporter claiming DKIM aligned where the signature is another domain's.
    let report = load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/classify/partial-spf-only.xml"),
    );
    let mut record = report.records[1].clone();
    record.policy_evaluated.dkim = authwarden_aggregate::DmarcResult::parse("pass");
    let c = Classifier::default().classify(&report.policy_published, &record);
    assert_eq!(c.cause, Cause::SpfOnly);
    assert!(!c.reporter_agrees);
}

#[test]
fn ptr_name_identifies_a_service_the_auth_results_hide() {
    let report = load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/classify/fail-unknown-source.xml"),
    );
    let record = &report.records[0];
    let classifier = Classifier::default();
    let c = classifier.classify_with_ptr(
        &report.policy_published,
        record,
        Some("mail-sor-f41.google.com."),
    );
    assert_eq!(c.cause, Cause::KnownServiceMissingSpf);
    assert_eq!(c.provider.as_deref(), Some("Google Workspace"));
    assert!(c.action.contains("include:_spf.google.com"), "{}", c.action);
    // The domain's own PTR names are no provider.
    let c = classifier.classify_with_ptr(&report.policy_published, record, Some("mx.example.com"));
    assert_eq!(c.cause, Cause::UnknownSource);
}

#[test]
fn rows_flatten_reports_with_their_classification() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/classify/partial-mailing-list.xml");
    let report = load(&path);
    let rows = report_rows("list.xml", &report, &Classifier::default());
    assert_eq!(rows.len(), 3);
    let r = &rows[0];
    assert_eq!(r.org_name, "classify.example");
    assert_eq!(r.source, "list.xml");
    assert_eq!(r.domain, "example.com");
    assert_eq!(r.begin, 1704067200);
    assert_eq!(r.p.as_deref(), Some("reject"));
    assert_eq!(r.count, 9);
    assert_eq!(
        r.dkim_domains.as_deref(),
        Some("example.com;lists.project.example")
    );
    assert_eq!(r.dkim_selectors.as_deref(), Some("s1;s1"));
    assert_eq!(r.dkim_results.as_deref(), Some("fail;pass"));
    assert_eq!(r.reasons.as_deref(), Some("mailing_list"));
    assert_eq!(
        (r.category.as_str(), r.cause.as_str()),
        ("partial", "mailing-list")
    );
}
