//! Checker fixtures: a zone file whose leading comment lines steer the run,
//! and the checks every checker's fixture tests share.
//!
//! Directives understood here (checkers may read more from [`Fixture::text`]):
//! `; check: <domain>` names the domain to check (default: the first
//! `$ORIGIN`), `; fail: <name> <TYPE> servfail|timeout|refused` makes that
//! query fail.
//!
//! These helpers are for tests: they panic with a message naming the
//! fixture instead of returning errors.

use std::collections::BTreeSet;
use std::path::Path;

use authwarden_api::{CodeInfo, DnsFailure, Finding, RecordType};
use authwarden_zone::ZoneResolver;

/// A parsed fixture.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The domain to check.
    pub domain: String,
    /// Answers from the zone, with the `; fail:` failures applied.
    pub resolver: ZoneResolver,
    /// The file's text, for checker-specific directives.
    pub text: String,
}

impl Fixture {
    /// Reads `<dir>/<name>.zone`.
    pub fn load(dir: &Path, name: &str) -> Fixture {
        let path = dir.join(format!("{name}.zone"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Fixture::from_text(name, &text)
    }

    /// Parses fixture text; `name` is only for messages.
    pub fn from_text(name: &str, text: &str) -> Fixture {
        let mut resolver = ZoneResolver::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut domain = None;
        for line in text.lines() {
            let line = line.trim();
            if let Some(d) = line.strip_prefix("; check:") {
                domain = Some(d.trim().to_string());
            } else if let Some(spec) = line.strip_prefix("; fail:") {
                let words: Vec<&str> = spec.split_whitespace().collect();
                let [fail_name, rtype, failure] = words[..] else {
                    panic!("{name}: `; fail:` wants <name> <TYPE> <failure>, got {spec:?}")
                };
                let failure = match failure {
                    "servfail" => DnsFailure::ServFail,
                    "timeout" => DnsFailure::Timeout,
                    "refused" => DnsFailure::Refused,
                    other => panic!("{name}: unknown failure {other}"),
                };
                let rtype = RecordType::parse(rtype)
                    .unwrap_or_else(|| panic!("{name}: unknown record type {rtype}"));
                resolver = resolver.fail(fail_name, Some(rtype), failure);
            } else if domain.is_none() {
                if let Some(origin) = line.strip_prefix("$ORIGIN") {
                    domain = Some(origin.trim().trim_end_matches('.').to_string());
                }
            }
        }
        Fixture {
            domain: domain.unwrap_or_else(|| panic!("{name}: the fixture names no domain")),
            resolver,
            text: text.to_string(),
        }
    }
}

/// The names of the `*.zone` files in `dir`, without the extension: a test
/// compares them with the fixtures it runs, so no file is left unrun.
pub fn fixture_names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".zone").map(str::to_string)
        })
        .collect()
}

/// Asserts the conventions of every finding (STYLE.md): a message in lower
/// case without a final period, help and evidence present, the checker's
/// id, the checked domain, and the declared name and default severity of
/// its code. Each finding's code is added to `seen`.
pub fn assert_finding_conventions(
    fixture: &str,
    checker: &str,
    domain: &str,
    codes: &[CodeInfo],
    findings: &[Finding],
    seen: &mut BTreeSet<String>,
) {
    for f in findings {
        seen.insert(f.code.clone());
        let first = f.message.chars().next().unwrap_or('x');
        assert!(!first.is_uppercase(), "{fixture}: {}", f.message);
        assert!(!f.message.ends_with('.'), "{fixture}: {}", f.message);
        assert!(!f.help.is_empty(), "{fixture}: {} has no help", f.code);
        assert!(
            !f.evidence.is_empty(),
            "{fixture}: {} has no evidence",
            f.code
        );
        assert_eq!(f.checker, checker, "{fixture}: {}", f.code);
        assert_eq!(f.domain, domain, "{fixture}: {}", f.code);
        let code = codes
            .iter()
            .find(|c| c.code == f.code)
            .unwrap_or_else(|| panic!("{fixture}: {} is not declared", f.code));
        assert_eq!(f.name, code.name, "{fixture}: {}", f.code);
        assert_eq!(f.severity, code.default_severity, "{fixture}: {}", f.code);
    }
}

/// Asserts that every declared code is in `seen`.
pub fn assert_every_code_seen(codes: &[CodeInfo], seen: &BTreeSet<String>) {
    let missing: Vec<&str> = codes
        .iter()
        .map(|c| c.code)
        .filter(|c| !seen.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes no fixture shows: {missing:?}");
}

/// Asserts the invariants of a checker's declared codes: numbered in order
/// from `<code_prefix>001`, names unique, kebab-case and starting with
/// `<name_prefix>`, and documentation with a summary and the sections
/// What it checks, Why it matters and How to fix.
pub fn assert_codes_documented(code_prefix: &str, name_prefix: &str, codes: &[CodeInfo]) {
    let mut names = BTreeSet::new();
    for (i, code) in codes.iter().enumerate() {
        assert_eq!(
            code.code,
            format!("{code_prefix}{:03}", i + 1),
            "codes are numbered in order"
        );
        assert!(names.insert(code.name), "duplicate name {}", code.name);
        assert!(code.name.starts_with(name_prefix), "{}", code.name);
        assert!(
            code.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit()),
            "{} is not kebab-case",
            code.name
        );
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use authwarden_api::Resolver;

    const TEXT: &str = "; check: sub.example.org\n; fail: _dmarc.example.org TXT timeout\n$ORIGIN example.org.\n@ 300 IN TXT \"v=spf1 -all\"\n";

    #[test]
    fn directives_name_the_domain_and_the_failures() {
        let f = Fixture::from_text("t", TEXT);
        assert_eq!(f.domain, "sub.example.org");
        let answer =
            futures::executor::block_on(f.resolver.query("_dmarc.example.org", RecordType::TXT));
        assert_eq!(answer.failure(), Some(&DnsFailure::Timeout));
        let answer = futures::executor::block_on(f.resolver.query("example.org", RecordType::TXT));
        assert_eq!(answer.txt(), ["v=spf1 -all"]);
    }

    #[test]
    fn the_first_origin_is_the_default_domain() {
        let f = Fixture::from_text("t", "$ORIGIN a.example.\n@ 300 IN A 192.0.2.1\n");
        assert_eq!(f.domain, "a.example");
    }
}
