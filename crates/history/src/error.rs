//! The error type of the history crate.

use std::path::PathBuf;

use polars::prelude::PolarsError;

/// Why a history operation failed. Every variant that concerns a file names it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A file or directory could not be read or listed.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory could not be created, written or renamed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file in the history is damaged or does not hold the expected columns.
    #[error("{} is not a usable history file: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A frame could not be encoded into a file.
    #[error("cannot encode {}: {source}", path.display())]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: PolarsError,
    },
    /// A frame could not be encoded into the caller's writer.
    #[error("cannot export as {format}: {source}")]
    Export {
        /// The export format.
        format: &'static str,
        /// The underlying error.
        #[source]
        source: PolarsError,
    },
    /// A frame given to the store lacks a column or has one of the wrong type.
    #[error("the {table} frame does not fit the history schema: {reason}")]
    Schema {
        /// `findings` or `summary`.
        table: &'static str,
        /// What does not fit.
        reason: String,
    },
    /// A job, period or run id cannot be used as a path segment.
    #[error("{what} `{value}` cannot be used in a history path: use ASCII letters, digits, `-`, `_` or `.` (not first)")]
    InvalidName {
        /// `job`, `period` or `run id`.
        what: &'static str,
        /// The rejected value.
        value: String,
    },
    /// The requested run is not in the history.
    #[error("no run `{run_id}` of job `{job}` in {}", path.display())]
    RunNotFound {
        /// The job.
        job: String,
        /// The run id.
        run_id: String,
        /// The history root searched.
        path: PathBuf,
    },
    /// A polars operation on in-memory frames failed.
    #[error(transparent)]
    Polars(#[from] PolarsError),
}

/// The result type of this crate.
pub type Result<T, E = HistoryError> = std::result::Result<T, E>;
