//! A domain's score, 0 to 100, by the method of `docs/SCORE.md`.
//!
//! Every code a checker declares at warning or error severity is one check
//! that can fail ("check incomplete" codes are not checks); a check fails
//! when a finding of that code is reported for the domain at warning or
//! error severity (after the user's levels). Each checker that ran and
//! applies to the domain is one category; a category starts at 100 and
//! loses [`ERROR_PENALTY`] for each failing check of error severity and
//! [`WARNING_PENALTY`] for each failing warning, down to 0; a category
//! whose check did not complete scores 0 (what could not be seen does not
//! pass). The domain's score is the mean of its categories, rounded down:
//! categories weigh equally, whatever their number of checks, and what
//! does not apply (e.g. the parked-domain checks of a domain that sends
//! mail) is left out.
//!
//! Fixing a finding never lowers the score: it can only turn a failing
//! check into a passing one, or complete a category that scored 0.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{CheckerInfo, Finding, Severity};

/// What a failing check of error severity costs its category.
pub const ERROR_PENALTY: u32 = 40;
/// What a failing check of warning severity costs its category.
pub const WARNING_PENALTY: u32 = 15;

/// A domain's score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// 0 to 100.
    pub value: u8,
    /// One per checker that ran, in checker order.
    pub categories: Vec<CategoryScore>,
    /// Where the method is written down.
    pub method: String,
}

/// One category of a [`Score`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryScore {
    /// The checker id, e.g. `spf`.
    pub checker: String,
    /// 0 to 100.
    pub value: u8,
    /// Checks that pass.
    pub passed: u32,
    /// Checks that fail, by code.
    pub failed: Vec<String>,
    /// True when the checker's check of the domain did not complete (the
    /// category then scores 0).
    pub incomplete: bool,
}

/// Whether a code is a check that can fail: declared at warning or error
/// severity and not a "check incomplete" code.
fn is_check(code: &crate::CodeInfo) -> bool {
    code.default_severity != Severity::Note && !code.name.ends_with("-incomplete")
}

fn penalty(code: &crate::CodeInfo) -> u32 {
    match code.default_severity {
        Severity::Error => ERROR_PENALTY,
        _ => WARNING_PENALTY,
    }
}

/// The score of one domain: `checkers` are those that ran, `findings` the
/// domain's findings (levels applied), `incomplete` the ids of the checkers
/// whose check of the domain did not complete, `not_applicable` the ids of
/// those that do not apply to it (left out).
pub fn score(
    checkers: &[&CheckerInfo],
    findings: &[&Finding],
    incomplete: &BTreeSet<&str>,
    not_applicable: &BTreeSet<&str>,
) -> Score {
    let failing: BTreeSet<(&str, &str)> = findings
        .iter()
        .filter(|f| f.severity != Severity::Note)
        .map(|f| (f.checker.as_str(), f.code.as_str()))
        .collect();
    let mut categories = Vec::new();
    for info in checkers {
        if not_applicable.contains(info.id) {
            continue;
        }
        let checks: Vec<&crate::CodeInfo> = info.codes.iter().filter(|c| is_check(c)).collect();
        if checks.is_empty() {
            continue;
        }
        let incomplete = incomplete.contains(info.id);
        let mut passed = 0;
        let mut lost = 0u32;
        let mut failed = Vec::new();
        for c in &checks {
            if failing.contains(&(info.id, c.code)) {
                failed.push(c.code.to_string());
                lost += penalty(c);
            } else {
                passed += 1;
            }
        }
        let value = if incomplete {
            0
        } else {
            100u32.saturating_sub(lost) as u8
        };
        categories.push(CategoryScore {
            checker: info.id.to_string(),
            value,
            passed,
            failed,
            incomplete,
        });
    }
    let value = if categories.is_empty() {
        100
    } else {
        let sum: u32 = categories.iter().map(|c| u32::from(c.value)).sum();
        (f64::from(sum) / categories.len() as f64).floor() as u8
    };
    Score {
        value,
        categories,
        method: "docs/SCORE.md".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cadence, CodeInfo};
    use proptest::prelude::*;

    const CODES_A: &[CodeInfo] = &[
        CodeInfo {
            code: "A001",
            name: "a-missing",
            default_severity: Severity::Error,
            docs: "",
        },
        CodeInfo {
            code: "A002",
            name: "a-weak",
            default_severity: Severity::Warning,
            docs: "",
        },
        CodeInfo {
            code: "A003",
            name: "a-note",
            default_severity: Severity::Note,
            docs: "",
        },
        CodeInfo {
            code: "A004",
            name: "a-check-incomplete",
            default_severity: Severity::Warning,
            docs: "",
        },
    ];
    const CODES_B: &[CodeInfo] = &[
        CodeInfo {
            code: "B001",
            name: "b-missing",
            default_severity: Severity::Error,
            docs: "",
        },
        CodeInfo {
            code: "B002",
            name: "b-old",
            default_severity: Severity::Warning,
            docs: "",
        },
        CodeInfo {
            code: "B003",
            name: "b-odd",
            default_severity: Severity::Warning,
            docs: "",
        },
    ];
    const A: CheckerInfo = CheckerInfo {
        id: "a",
        summary: "",
        cadences: &[Cadence::Monthly],
        codes: CODES_A,
        facts_key: "a",
    };
    const B: CheckerInfo = CheckerInfo {
        id: "b",
        summary: "",
        cadences: &[Cadence::Monthly],
        codes: CODES_B,
        facts_key: "b",
    };

    fn finding(checker: &str, code: &CodeInfo, severity: Severity) -> Finding {
        let mut f = Finding::new(checker, code, "example.org", "m");
        f.severity = severity;
        f
    }

    fn all() -> Vec<(&'static str, &'static CodeInfo)> {
        CODES_A
            .iter()
            .map(|c| ("a", c))
            .chain(CODES_B.iter().map(|c| ("b", c)))
            .collect()
    }

    #[test]
    fn method_on_an_example() {
        let none = BTreeSet::new();
        let clean = score(&[&A, &B], &[], &none, &none);
        assert_eq!(clean.value, 100);
        // A001 (error) and A002 (warning) fail: a = 100 - 40 - 15 = 45;
        // b = 100; mean 72.
        let f = finding("a", &CODES_A[0], Severity::Error);
        let w = finding("a", &CODES_A[1], Severity::Warning);
        let s = score(&[&A, &B], &[&f, &w], &none, &none);
        assert_eq!(s.categories[0].value, 45);
        assert_eq!(s.categories[0].failed, vec!["A001", "A002"]);
        assert_eq!(s.value, 72);
        // b does not apply: a alone.
        assert_eq!(
            score(&[&A, &B], &[&f, &w], &none, &BTreeSet::from(["b"])).value,
            45
        );
        // The penalty is the code's: B002 and B003 are warnings by default,
        // whatever severity the finding was raised to.
        let b1 = finding("b", &CODES_B[0], Severity::Error);
        let b2 = finding("b", &CODES_B[1], Severity::Error);
        let b3 = finding("b", &CODES_B[2], Severity::Error);
        assert_eq!(score(&[&B], &[&b1, &b2, &b3], &none, &none).value, 30);
        // A note-level finding and a finding the user levelled to note fail nothing.
        let n = finding("a", &CODES_A[2], Severity::Note);
        let lowered = finding("b", &CODES_B[0], Severity::Note);
        assert_eq!(score(&[&A, &B], &[&n, &lowered], &none, &none).value, 100);
        // An incomplete check scores its category 0.
        let inc = BTreeSet::from(["b"]);
        assert_eq!(score(&[&A, &B], &[], &inc, &none).value, 50);
    }

    proptest! {
        #[test]
        fn fixing_a_finding_never_lowers_the_score(
            picks in proptest::collection::vec((0usize..7, 0u8..3), 0..10),
            incomplete_a in any::<bool>(),
            incomplete_b in any::<bool>(),
            fix in 0usize..10,
        ) {
            let codes = all();
            let findings: Vec<Finding> = picks
                .iter()
                .map(|(i, s)| {
                    let (checker, code) = codes[*i];
                    let severity = [Severity::Note, Severity::Warning, Severity::Error][*s as usize];
                    finding(checker, code, severity)
                })
                .collect();
            let mut incomplete = BTreeSet::new();
            if incomplete_a { incomplete.insert("a"); }
            if incomplete_b { incomplete.insert("b"); }
            let refs: Vec<&Finding> = findings.iter().collect();
            let before = score(&[&A, &B], &refs, &incomplete, &BTreeSet::new()).value;
            // Fix one finding.
            if !refs.is_empty() {
                let i = fix % refs.len();
                let mut fixed = refs.clone();
                fixed.remove(i);
                prop_assert!(score(&[&A, &B], &fixed, &incomplete, &BTreeSet::new()).value >= before);
            }
            // Complete a check.
            let mut completed = incomplete.clone();
            completed.remove("a");
            prop_assert!(score(&[&A, &B], &refs, &completed, &BTreeSet::new()).value >= before);
        }
    }
}
