//! Invariants of the declared codes and the checker info.

use authwarden_api::{Cadence, Checker};
use authwarden_checker_dkim::{Dkim, CODES};
use authwarden_test_support::fixture::assert_codes_documented;

#[test]
fn codes_are_unique_numbered_and_documented() {
    assert_codes_documented("DKIM", "dkim-", CODES);
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
