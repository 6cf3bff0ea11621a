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
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    /// The file's text is not a valid zone file (or holds data the parser
    /// does not support).
    #[error("{location}: {reason}")]
    Syntax {
        /// Where the problem is.
        location: Location,
        /// What is wrong, lower-case, no trailing period.
        reason: String,
    },
    /// The file could not be read.
    #[error("{file}: cannot read zone file: {source}")]
    Io {
        /// The path as given.
        file: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

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
