//! The error type of zone-file loading.

use std::fmt;

/// A position in a zone file: file name, 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file name as given to the parser.
    pub file: String,
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, counted in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Why a zone file could not be loaded.
///
/// Each message is complete on its own: the I/O error of [`ZoneError::Io`]
/// is part of the message and deliberately not returned by
/// [`std::error::Error::source`] (which is why the traits are implemented
/// by hand rather than derived: thiserror makes a field named `source` the
/// source), so a caller printing the whole chain, like anyhow's `{:#}`,
/// shows it once.
#[derive(Debug)]
pub enum ZoneError {
    /// The file's text is not a valid zone file (or holds data the parser
    /// does not support).
    Syntax {
        /// Where the problem is.
        location: Location,
        /// What is wrong, lower-case, no trailing period.
        reason: String,
    },
    /// The file could not be read.
    Io {
        /// The path as given.
        file: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ZoneError::Syntax { location, reason } => write!(f, "{location}: {reason}"),
            ZoneError::Io { file, source } => write!(f, "{file}: cannot read zone file: {source}"),
        }
    }
}

impl std::error::Error for ZoneError {}

impl ZoneError {
    pub(crate) fn at(file: &str, line: usize, column: usize, reason: impl Into<String>) -> Self {
        ZoneError::Syntax {
            location: Location {
                file: file.to_owned(),
                line,
                column,
            },
            reason: reason.into(),
        }
    }

    pub(crate) fn at_location(location: &Location, reason: impl Into<String>) -> Self {
        ZoneError::Syntax {
            location: location.clone(),
            reason: reason.into(),
        }
    }

    /// The file the error is in.
    pub fn file(&self) -> &str {
        match self {
            ZoneError::Syntax { location, .. } => &location.file,
            ZoneError::Io { file, .. } => file,
        }
    }

    /// The 1-based line, for syntax errors.
    pub fn line(&self) -> Option<usize> {
        match self {
            ZoneError::Syntax { location, .. } => Some(location.line),
            ZoneError::Io { .. } => None,
        }
    }

    /// The 1-based column, for syntax errors.
    pub fn column(&self) -> Option<usize> {
        match self {
            ZoneError::Syntax { location, .. } => Some(location.column),
            ZoneError::Io { .. } => None,
        }
    }

    /// What is wrong, without the position.
    pub fn reason(&self) -> String {
        match self {
            ZoneError::Syntax { reason, .. } => reason.clone(),
            ZoneError::Io { source, .. } => format!("cannot read zone file: {source}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use crate::Zone;

    /// The message as anyhow's `{:#}` prints it: each error of the
    /// `source()` chain, joined by `: `.
    fn chain(e: &dyn std::error::Error) -> String {
        let mut out = e.to_string();
        let mut next = e.source();
        while let Some(s) = next {
            out.push_str(": ");
            out.push_str(&s.to_string());
            next = s.source();
        }
        out
    }

    #[test]
    fn a_missing_file_is_named_once_with_its_reason_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.zone");
        let e = Zone::load(&path).unwrap_err();
        let printed = chain(&e);
        assert_eq!(printed.matches("missing.zone").count(), 1, "{printed}");
        assert_eq!(
            printed.matches("cannot read zone file").count(),
            1,
            "{printed}"
        );
        // the OS text, e.g. "No such file or directory (os error 2)"
        let os = e.reason();
        let os = os.trim_start_matches("cannot read zone file: ");
        assert_eq!(printed.matches(os).count(), 1, "{printed}");
        assert!(!os.is_empty());
        assert!(e.source().is_none());
    }

    #[test]
    fn a_syntax_error_has_file_line_and_column() {
        let e = Zone::parse(
            "$ORIGIN example.com.\n@ TXT \"ok\"\n@ WKS x\n",
            "t.zone",
            None,
        )
        .unwrap_err();
        assert_eq!(
            (e.file(), e.line(), e.column()),
            ("t.zone", Some(3), Some(3))
        );
        assert!(
            e.reason().starts_with("unsupported record type 'WKS'"),
            "{e}"
        );
        assert_eq!(chain(&e), format!("t.zone:3:3: {}", e.reason()));
    }
}
