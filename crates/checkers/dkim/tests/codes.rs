//! Invariants of the declared codes and the checker info.

use std::collections::BTreeSet;

use authwarden_api::{Cadence, Checker};
use authwarden_checker_dkim::{Dkim, CODES};

#[test]
fn codes_are_unique_numbered_and_documented() {
    let mut names = BTreeSet::new();
    for (i, code) in CODES.iter().enumerate() {
        assert_eq!(code.code, format!("DKIM{:03}", i + 1), "numbered in order");
        assert!(names.insert(code.name), "duplicate name {}", code.name);
        assert!(code.name.starts_with("dkim-"), "{}", code.name);
        let docs = code.parsed_docs();
        assert!(!docs.summary.is_empty(), "{} has no summary", code.code);
        assert!(
            !docs.what.is_empty(),
            "{} lacks `What it checks`",
            code.code
        );
        assert!(!docs.why.is_empty(), "{} lacks `Why it matters`", code.code);
        assert!(!docs.fix.is_empty(), "{} lacks `How to fix`", code.code);
    }
    assert!(CODES.iter().any(|c| c.name == "dkim-check-incomplete"));
}

#[test]
fn checker_info() {
    let info = Dkim.info();
    assert_eq!(info.id, "dkim");
    assert_eq!(info.facts_key, "dkim");
    assert_eq!(info.cadences, &[Cadence::Quarterly, Cadence::Annual]);
    assert_eq!(info.codes.len(), CODES.len());
    assert!(!info.summary.ends_with('.'));
}
