//! Stable finding codes and their documentation.

use crate::Severity;

/// A stable finding code: `DMARC001` plus a kebab-case name, a default
/// severity and the documentation written as doc comments on its declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// The stable code, e.g. `DMARC001`. Never reused for another meaning.
    pub code: &'static str,
    /// The kebab-case name, e.g. `dmarc-record-missing`.
    pub name: &'static str,
    /// The severity used unless the user overrides it in `[levels]`.
    pub default_severity: Severity,
    /// The Markdown documentation: a summary line, then the sections
    /// `## What it checks`, `## Why it matters` and `## How to fix`.
    pub docs: &'static str,
}

/// The documentation of a code split into its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeDocs {
    /// The first paragraph.
    pub summary: String,
    /// The `What it checks` section.
    pub what: String,
    /// The `Why it matters` section.
    pub why: String,
    /// The `How to fix` section.
    pub fix: String,
}

impl CodeInfo {
    /// Splits [`CodeInfo::docs`] into summary and sections.
    pub fn parsed_docs(&self) -> CodeDocs {
        let mut docs = CodeDocs::default();
        let mut current: Option<&mut String> = None;
        let mut summary = String::new();
        for raw in self.docs.lines() {
            let line = raw.strip_prefix(' ').unwrap_or(raw);
            if let Some(heading) = line.strip_prefix("## ") {
                let heading = heading.trim().to_ascii_lowercase();
                current = match heading.as_str() {
                    "what it checks" => Some(&mut docs.what),
                    "why it matters" => Some(&mut docs.why),
                    "how to fix" => Some(&mut docs.fix),
                    _ => None,
                };
                continue;
            }
            match current.as_deref_mut() {
                Some(section) => {
                    section.push_str(line);
                    section.push('\n');
                }
                None => {
                    summary.push_str(line);
                    summary.push('\n');
                }
            }
        }
        docs.summary = summary.trim().to_string();
        docs.what = docs.what.trim().to_string();
        docs.why = docs.why.trim().to_string();
        docs.fix = docs.fix.trim().to_string();
        docs
    }

    /// The one-line summary (first paragraph of the docs).
    pub fn summary(&self) -> String {
        self.parsed_docs().summary
    }
}

/// Declares finding codes as constants whose doc comments are their
/// documentation, and a `CODES` slice listing all of them.
///
/// ```
/// use authwarden_api::{declare_codes, Severity};
/// declare_codes! {
///     /// The domain publishes no record.
///     ///
///     /// ## What it checks
///     /// Whether a record exists.
///     /// ## Why it matters
///     /// Without it nothing is protected.
///     /// ## How to fix
///     /// Publish one.
///     pub EXAMPLE_MISSING = ("EX001", "example-missing", Severity::Error);
/// }
/// assert_eq!(EXAMPLE_MISSING.code, "EX001");
/// assert_eq!(CODES.len(), 1);
/// assert_eq!(EXAMPLE_MISSING.parsed_docs().fix, "Publish one.");
/// ```
#[macro_export]
macro_rules! declare_codes {
    ($( $(#[doc = $doc:literal])* $vis:vis $ident:ident = ($code:literal, $name:literal, $sev:expr); )+) => {
        $(
            $(#[doc = $doc])*
            $vis const $ident: $crate::CodeInfo = $crate::CodeInfo {
                code: $code,
                name: $name,
                default_severity: $sev,
                docs: concat!($($doc, "\n"),*),
            };
        )+
        /// Every code this crate declares, in declaration order.
        pub const CODES: &[$crate::CodeInfo] = &[$($ident),+];
    };
}
