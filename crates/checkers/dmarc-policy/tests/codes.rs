//! Invariants of the declared codes and the checker info.

use authwarden_api::{Cadence, Checker};
use authwarden_checker_dmarc_policy::{DmarcPolicy, CODES};
use authwarden_test_support::fixture::assert_codes_documented;

#[test]
fn codes_are_unique_numbered_and_documented() {
    assert_codes_documented("DMARC", "dmarc-", CODES);
}

#[test]
fn checker_info() {
    let info = DmarcPolicy.info();
    assert_eq!(info.id, "dmarc-policy");
    assert_eq!(info.facts_key, "dmarc");
    assert_eq!(info.cadences, &[Cadence::Monthly, Cadence::Annual]);
    assert_eq!(info.codes.len(), CODES.len());
    assert!(!info.summary.ends_with('.'));
}
