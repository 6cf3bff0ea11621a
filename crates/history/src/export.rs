//! Exporting a frame as CSV, JSON or Parquet.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use polars::prelude::*;

use crate::error::{HistoryError, Result};
use crate::store::write_atomic;

/// A file format for [`export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// Comma-separated with a header row; timestamps as RFC 3339 in UTC.
    Csv,
    /// One JSON array of row objects; timestamps as RFC 3339 strings in UTC.
    Json,
    /// Parquet, with the frame's types.
    Parquet,
}

impl ExportFormat {
    /// All formats.
    pub const ALL: [ExportFormat; 3] =
        [ExportFormat::Csv, ExportFormat::Json, ExportFormat::Parquet];

    /// The lower-case name, also the usual file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Parquet => "parquet",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            "parquet" => Ok(ExportFormat::Parquet),
            other => Err(format!(
                "unknown export format `{other}`, expected csv, json or parquet"
            )),
        }
    }
}

const TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

/// Datetime columns as RFC 3339 text in UTC, for the text formats: their own
/// rendering of time zones differs between polars writers.
fn with_text_timestamps(df: &DataFrame) -> PolarsResult<DataFrame> {
    let mut out = df.clone();
    for col in df.columns() {
        if let DataType::Datetime(_, _) = col.dtype() {
            // The physical values are UTC epochs whatever the zone.
            let text = col.datetime()?.to_string(TIMESTAMP_FORMAT)?;
            out.with_column(text.into_column())?;
        }
    }
    Ok(out)
}

fn encode<W: Write>(df: &mut DataFrame, format: ExportFormat, writer: W) -> PolarsResult<()> {
    match format {
        ExportFormat::Csv => {
            let mut df = with_text_timestamps(df)?;
            CsvWriter::new(writer).include_header(true).finish(&mut df)
        }
        ExportFormat::Json => {
            let mut df = with_text_timestamps(df)?;
            JsonWriter::new(writer)
                .with_json_format(JsonFormat::Json)
                .finish(&mut df)
        }
        ExportFormat::Parquet => ParquetWriter::new(writer).finish(df).map(|_| ()),
    }
}

/// Writes `df` to `writer` in `format`.
pub fn export<W: Write>(df: &mut DataFrame, format: ExportFormat, writer: W) -> Result<()> {
    encode(df, format, writer).map_err(|source| HistoryError::Export {
        format: format.as_str(),
        source,
    })
}

/// Writes `df` to the file `path` in `format`, atomically (a temporary file
/// beside it, then a rename), creating its directory.
pub fn export_to_path(df: &mut DataFrame, format: ExportFormat, path: &Path) -> Result<()> {
    write_atomic(path, |file| {
        let mut buffered = std::io::BufWriter::new(file);
        encode(df, format, &mut buffered).map_err(|source| HistoryError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
        buffered.flush().map_err(|source| HistoryError::Write {
            path: path.to_path_buf(),
            source,
        })
    })
}
