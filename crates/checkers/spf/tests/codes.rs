//! Invariants of the declared codes and the checker info.

use authwarden_api::{Cadence, Checker};
use authwarden_checker_spf::{Spf, CODES};
use authwarden_test_support::fixture::assert_codes_documented;

#[test]
fn codes_are_unique_numbered_and_documented() {
    assert_codes_documented("SPF", "spf-", CODES);
}

#[test]
fn checker_info() {
    let info = Spf.info();
    assert_eq!(info.id, "spf");
    assert_eq!(info.facts_key, "spf");
    assert_eq!(info.cadences, &[Cadence::Monthly, Cadence::Annual]);
    assert_eq!(info.codes.len(), CODES.len());
    assert!(!info.summary.ends_with('.'));
}
