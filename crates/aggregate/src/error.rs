//! Why a report could not be read. Each message names the cause in words a
//! postmaster understands; the ingest layer prefixes the file or member.

/// A report (or a container of reports) that could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The input has no content at all.
    #[error("empty: the file has no content")]
    Empty,
    /// Not well-formed XML.
    #[error("invalid_xml: {message} (at byte {position})")]
    InvalidXml {
        /// Byte offset in the decompressed XML.
        position: u64,
        /// The XML reader's message.
        message: String,
    },
    /// The input ends inside the report.
    #[error("truncated: the input ends inside <{element}>")]
    Truncated {
        /// The innermost open element.
        element: String,
    },
    /// A `<!DOCTYPE>` declaration: DTDs and entity definitions are refused,
    /// never expanded.
    #[error("doctype_forbidden: the report declares a DOCTYPE/DTD, which aggregate reports never need (entity expansion refused)")]
    DocType,
    /// A reference to an entity other than the five XML ones.
    #[error("undefined_entity: reference to undefined entity &{0}; (custom entities are never expanded)")]
    UndefinedEntity(String),
    /// Well-formed XML that is not a DMARC aggregate report.
    #[error("not_aggregate_report: {0}")]
    NotAggregateReport(String),
    /// A required element is missing or empty.
    #[error("missing_field: <{0}> is missing or empty")]
    MissingField(&'static str),
    /// A number that is not a number.
    #[error("invalid_value: <{element}> is {value:?}, expected {expected}")]
    InvalidValue {
        /// The element.
        element: &'static str,
        /// The raw value (truncated).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// The decompressed input exceeds [`crate::Limits::max_decompressed_bytes`].
    #[error("too_large: the decompressed report exceeds the limit of {limit} bytes (zip/gzip bomb or oversized report)")]
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// Elements nested deeper than [`crate::Limits::max_depth`].
    #[error("too_deep: elements nested deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// More records than [`crate::Limits::max_records`].
    #[error("too_many_records: more than {limit} records")]
    TooManyRecords {
        /// The limit.
        limit: u64,
    },
    /// A single text node or tag longer than [`crate::Limits::max_text_bytes`].
    #[error("text_too_long: a text node or tag exceeds {limit} bytes")]
    TextTooLong {
        /// The limit.
        limit: usize,
    },
    /// A broken gzip stream.
    #[error("invalid_gzip: {0}")]
    Gzip(String),
    /// A broken or unsupported zip archive.
    #[error("invalid_zip: {0}")]
    Zip(String),
    /// A mail message that could not be parsed or holds no report.
    #[error("invalid_mail: {0}")]
    Mail(String),
    /// The bytes are none of the known formats.
    #[error("unsupported_format: {0}")]
    UnsupportedFormat(String),
    /// A container member that failed while its container was expanded;
    /// `message` is the original error's text, `code` its code.
    #[error("{message}")]
    Failed {
        /// The original error's code.
        code: &'static str,
        /// The original error's message.
        message: String,
    },
    /// The input file decompressed more than
    /// [`crate::Limits::max_work_bytes`], counted across all its members
    /// and layers: the rest of the file is not read.
    #[error("work_budget_bytes: more than {limit} bytes decompressed from this input file, across all its members and layers (the work budget per file); the rest of the file is not read")]
    WorkBytes {
        /// The budget in bytes.
        limit: u64,
    },
    /// Reading the input file took longer than
    /// [`crate::Limits::max_work_time`]: the rest of the file is not read.
    #[error("work_budget_time: reading this input file took more than {limit:?} (the work budget per file); the rest of the file is not read")]
    WorkTime {
        /// The budget.
        limit: std::time::Duration,
    },
    /// The containers of one input file held in memory at once (mail
    /// messages, small inner containers) would exceed twice
    /// [`crate::Limits::max_input_bytes`].
    #[error("too_large: this input would hold more than {limit} bytes of mail messages and containers in memory at once")]
    MemoryCap {
        /// The limit in bytes.
        limit: u64,
    },
    /// A `<date_range>` outside 1970–2100, or one that ends before it
    /// begins: such a report cannot be filed under a date.
    #[error("invalid_date_range: {0}")]
    InvalidDateRange(String),
    /// Not well-formed JSON where an SMTP TLS report (RFC 8460) was expected.
    #[error("invalid_json: {0}")]
    InvalidJson(String),
    /// Well-formed JSON that is not an SMTP TLS report, or one that lacks a
    /// required field or holds a value out of range.
    #[error("invalid_tls_report: {0}")]
    InvalidTlsReport(String),
    /// A feedback report message (RFC 5965 / RFC 6591) that cannot be read
    /// as a DMARC failure report.
    #[error("invalid_failure_report: {0}")]
    InvalidFailureReport(String),
    /// Reading the input failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

impl ReportError {
    /// The stable snake_case code of the error (the text before the colon),
    /// e.g. `invalid_xml`, `empty`, `too_large`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::InvalidXml { .. } => "invalid_xml",
            Self::Truncated { .. } => "truncated",
            Self::DocType => "doctype_forbidden",
            Self::UndefinedEntity(_) => "undefined_entity",
            Self::NotAggregateReport(_) => "not_aggregate_report",
            Self::MissingField(_) => "missing_field",
            Self::InvalidValue { .. } => "invalid_value",
            Self::TooLarge { .. } => "too_large",
            Self::TooDeep { .. } => "too_deep",
            Self::TooManyRecords { .. } => "too_many_records",
            Self::TextTooLong { .. } => "text_too_long",
            Self::Gzip(_) => "invalid_gzip",
            Self::Zip(_) => "invalid_zip",
            Self::Mail(_) => "invalid_mail",
            Self::UnsupportedFormat(_) => "unsupported_format",
            Self::Failed { code, .. } => code,
            Self::WorkBytes { .. } => "work_budget_bytes",
            Self::WorkTime { .. } => "work_budget_time",
            Self::MemoryCap { .. } => "too_large",
            Self::InvalidDateRange(_) => "invalid_date_range",
            Self::InvalidJson(_) => "invalid_json",
            Self::InvalidTlsReport(_) => "invalid_tls_report",
            Self::InvalidFailureReport(_) => "invalid_failure_report",
            Self::Io(_) => "io",
        }
    }

    /// Whether the error is a spent work budget of the input file
    /// ([`ReportError::WorkBytes`], [`ReportError::WorkTime`]), also when it
    /// reached the caller as [`ReportError::Failed`].
    pub fn is_work_budget(&self) -> bool {
        matches!(self.code(), "work_budget_bytes" | "work_budget_time")
    }
}
