//! Configuration errors: each one names the file, line and column of the
//! offending key or value, and they print like rustc's diagnostics.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The configuration file.
    pub file: PathBuf,
    /// The 1-based line of the offending key or value; 0 when the problem
    /// has no position (e.g. the file cannot be read).
    pub line: usize,
    /// The 1-based column, counted in characters; 0 when `line` is 0.
    pub column: usize,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
    /// What to do about it, e.g. `did you mean `nameservers`?`.
    pub help: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: error: {}", self.file.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: error: {}",
                self.file.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a configuration file, in the order they appear
/// in the file. Never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display_all(.0))]
pub struct ConfigErrors(pub Vec<ConfigError>);

fn display_all(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

impl ConfigErrors {
    /// The errors.
    pub fn errors(&self) -> &[ConfigError] {
        &self.0
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there is no error (never the case for a returned error).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for ConfigErrors {
    type Item = ConfigError;
    type IntoIter = std::vec::IntoIter<ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Turns byte offsets into 1-based line and character column.
pub(crate) struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    pub(crate) fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let start = self.starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line + 1, column + 1)
    }
}

/// Collects errors while the document is walked.
pub(crate) struct Sink<'a> {
    file: &'a Path,
    lines: LineIndex<'a>,
    pub(crate) errors: Vec<ConfigError>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        Sink {
            file,
            lines: LineIndex::new(text),
            errors: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        let (line, column) = self.lines.position(span.start);
        self.errors.push(ConfigError {
            file: self.file.to_path_buf(),
            line,
            column,
            message,
            help,
        });
    }

    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.lines.position(offset).0
    }

    pub(crate) fn finish(mut self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            self.errors.sort_by_key(|e| (e.line, e.column));
            Err(ConfigErrors(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let idx = LineIndex::new("a = 1\nné = \"x\"\n");
        assert_eq!(idx.position(0), (1, 1));
        assert_eq!(idx.position(4), (1, 5));
        assert_eq!(idx.position(6), (2, 1));
        // `=` after the two-byte `é`
        assert_eq!(idx.position(10), (2, 4));
        assert_eq!(idx.position(999), (3, 1));
    }

    #[test]
    fn display_like_rustc() {
        let errors = ConfigErrors(vec![
            ConfigError {
                file: "a.toml".into(),
                line: 3,
                column: 1,
                message: "unknown key `x`".into(),
                help: Some("did you mean `y`?".into()),
            },
            ConfigError {
                file: "a.toml".into(),
                line: 0,
                column: 0,
                message: "cannot read".into(),
                help: None,
            },
        ]);
        assert_eq!(
            errors.to_string(),
            "a.toml:3:1: error: unknown key `x`\n  help: did you mean `y`?\na.toml: error: cannot read"
        );
    }
}
