//! Containers: what a file or an attachment holds, sniffed by its bytes
//! (never only its name), expanded into payloads that each decompress to one
//! report's XML as a stream.
//!
//! # Streaming, and what memory is bounded by
//!
//! A container is expanded member by member: each payload is handed out
//! ([`stream_path`], [`stream_payload`], and so
//! [`visit_payloads`](crate::visit_payloads)) as soon as it is found, and the
//! next member is looked at only after the handler returns; nothing of a
//! member is kept once it is handled. [`open_path`] and [`open_payload`]
//! collect the same payloads into a `Vec`, which keeps what they refer to
//! alive; prefer the streaming forms for files from strangers.
//!
//! - Plain and gzipped XML stream from disk; a zip archive on disk is read
//!   in place (its central directory, then one member at a time, by
//!   position); stored members are never copied, deflated ones inflate as
//!   a stream.
//! - An inner container that has to be decoded before it can be expanded
//!   (a zip inside gzip, a deflated zip member that is itself a zip or a
//!   mail message) is materialized: up to 4 MiB ([`SPOOL_ABOVE`]) in
//!   memory, larger ones spooled to an anonymous temporary file (in
//!   `$TMPDIR`, gone when closed) that is read by position, each within
//!   [`Limits::max_input_bytes`]. So nested layers cost disk, not memory,
//!   and the disk they cost is counted in the work budget.
//! - An mbox is split as a stream, one message at a time, each message at
//!   most [`Limits::max_input_bytes`]; a mail message is parsed in memory,
//!   and its attachments are handed out from the parsed message (decoded
//!   attachments are at most the message's size).
//! - Everything one input file holds in memory at once (mail messages read
//!   from an mbox or a container, inner containers under 4 MiB) is counted
//!   and capped at twice [`Limits::max_input_bytes`], across all nesting
//!   layers ([`ReportError::MemoryCap`]).
//! - A zip's central directory may take at most 1 MiB plus 1 KiB per
//!   allowed member ([`Limits::max_members`]) to read, so a forged entry
//!   count cannot make the zip reader allocate a huge table.
//!
//! So memory per input file is bounded by about three times
//! `max_input_bytes` in the worst case (a message, its decoded attachments
//! and inner containers), plus buffers of 64 KiB per open layer, whatever
//! the number of members; real reports need a few MiB. Work per input file
//! is bounded by [`Limits::max_work_bytes`] and [`Limits::max_work_time`]
//! (see the budget module).

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use flate2::read::{DeflateDecoder, MultiGzDecoder};

use crate::budget::{Active, BudgetSpent, Hold, Meter, Metered};
use crate::label::{is_unsafe_char, member_name, path_label};
use crate::{
    parse_report, parse_report_with, AggregateReport, Limits, Record, ReportError, ReportHeader,
};

/// How many leading bytes decide the format.
const HEAD: u64 = 512;

/// Inner containers larger than this (in bytes) are spooled to an
/// anonymous temporary file instead of being held in memory.
pub const SPOOL_ABOVE: usize = 4 * 1024 * 1024;

/// Buffer size of every decoding layer and file reader.
const BUF: usize = 64 * 1024;

/// What a zip's central directory may take to read: this much…
const ZIP_DIRECTORY_BASE: u64 = 1024 * 1024;
/// …plus this much per member allowed.
const ZIP_DIRECTORY_PER_MEMBER: u64 = 1024;

/// Lines a mail message may have that start a MIME part (`--`) or look
/// like a header field (hold a `:`): the mail parser builds a structure of
/// about a hundred bytes for each, so a message of tiny parts or header
/// lines would multiply its size in memory. Real report mails have a few.
const MAX_MIME_BOUNDARY_LINES: usize = 10_000;
const MAX_MIME_FIELD_LINES: usize = 100_000;

/// How a payload's bytes are encoded before they are XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    /// Plain XML.
    Xml,
    /// gzip (possibly gzip in gzip).
    Gzip,
    /// A deflated zip member.
    ZipDeflate,
    /// A container member that could not be opened; [`Payload::open`]
    /// returns the reason.
    Failed,
}

// ---------------------------------------------------------------------------
// Where bytes live.

/// Bytes in memory, with their reservation in the file's budget.
struct Buf {
    data: BufData,
    _hold: Option<Hold>,
}

enum BufData {
    Shared(Arc<[u8]>),
    Owned(Vec<u8>),
}

impl Buf {
    fn shared(b: Arc<[u8]>) -> Arc<Buf> {
        Arc::new(Buf {
            data: BufData::Shared(b),
            _hold: None,
        })
    }

    fn owned(v: Vec<u8>, hold: Option<Hold>) -> Arc<Buf> {
        Arc::new(Buf {
            data: BufData::Owned(v),
            _hold: hold,
        })
    }

    fn bytes(&self) -> &[u8] {
        match &self.data {
            BufData::Shared(b) => b,
            BufData::Owned(v) => v,
        }
    }
}

/// A file read by position: the input file, or an anonymous spool file.
struct Disk {
    file: File,
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(f, buf, offset)
}

#[cfg(windows)]
fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(f, buf, offset)
}

#[derive(Clone)]
enum Source {
    Mem(Arc<Buf>, Range<usize>),
    Disk(Arc<Disk>, Range<u64>),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Mem(_, r) => write!(f, "Mem({r:?})"),
            Source::Disk(_, r) => write!(f, "Disk({r:?})"),
        }
    }
}

/// A slice of memory as a reader; holds the time guard of an open stream.
struct MemReader<'a> {
    data: &'a [u8],
    _active: Option<Active>,
}

impl Read for MemReader<'_> {
    #[inline]
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.data.read(out)
    }
}

impl BufRead for MemReader<'_> {
    #[inline]
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.data)
    }

    #[inline]
    fn consume(&mut self, n: usize) {
        self.data = &self.data[n.min(self.data.len())..];
    }
}

/// A range of a file as a reader, by position (no shared cursor).
struct DiskReader {
    disk: Arc<Disk>,
    pos: u64,
    end: u64,
    _active: Option<Active>,
}

impl Read for DiskReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let n = (out.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = read_at(&self.disk.file, &mut out[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// A range of a file (or of memory) that the zip reader can seek in.
struct DiskCursor {
    disk: Arc<Disk>,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for DiskCursor {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (out.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = read_at(&self.disk.file, &mut out[..n], self.start + self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for DiskCursor {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match pos {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            )),
        }
    }
}

trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

impl Source {
    fn len(&self) -> u64 {
        match self {
            Source::Mem(_, r) => (r.end - r.start) as u64,
            Source::Disk(_, r) => r.end - r.start,
        }
    }

    /// `range`, relative to this source; `None` when it lies outside.
    fn sub(&self, range: Range<u64>) -> Option<Source> {
        if range.start > range.end || range.end > self.len() {
            return None;
        }
        Some(match self {
            Source::Mem(b, r) => {
                let s = r.start + usize::try_from(range.start).ok()?;
                let e = r.start + usize::try_from(range.end).ok()?;
                Source::Mem(b.clone(), s..e)
            }
            Source::Disk(d, r) => {
                Source::Disk(d.clone(), r.start + range.start..r.start + range.end)
            }
        })
    }

    fn reader(&self, meter: &Arc<Meter>, active: Option<Active>) -> Box<dyn BufRead + Send + '_> {
        match self {
            Source::Mem(b, r) => Box::new(MemReader {
                data: &b.bytes()[r.clone()],
                _active: active,
            }),
            Source::Disk(d, r) => Box::new(BufReader::with_capacity(
                BUF,
                Metered::new(
                    DiskReader {
                        disk: d.clone(),
                        pos: r.start,
                        end: r.end,
                        _active: active,
                    },
                    meter.clone(),
                    false,
                ),
            )),
        }
    }

    fn seekable(&self) -> Box<dyn ReadSeek + '_> {
        match self {
            Source::Mem(b, r) => Box::new(Cursor::new(&b.bytes()[r.clone()])),
            Source::Disk(d, r) => Box::new(BufReader::with_capacity(
                8 * 1024,
                DiskCursor {
                    disk: d.clone(),
                    start: r.start,
                    len: r.end - r.start,
                    pos: 0,
                },
            )),
        }
    }
}

// ---------------------------------------------------------------------------
// Decoding.

/// Tags decompression errors so the parser can report them as such.
#[derive(Debug)]
struct DecompressError(String);

impl std::fmt::Display for DecompressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecompressError {}

struct Tagged<R>(R, &'static str);

impl<R: Read> Read for Tagged<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            if e.get_ref()
                .is_some_and(|i| i.is::<DecompressError>() || i.is::<BudgetSpent>())
            {
                e
            } else {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    DecompressError(format!("{}: {e}", self.1)),
                )
            }
        })
    }
}

/// Turns an I/O error back into the right report error.
pub(crate) fn io_to_report(e: io::Error) -> ReportError {
    if let Some(s) = e.get_ref().and_then(|i| i.downcast_ref::<BudgetSpent>()) {
        return s.0.error();
    }
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<DecompressError>())
    {
        Some(d) if d.0.starts_with("zip") => ReportError::Zip(d.0.clone()),
        Some(d) => ReportError::Gzip(d.0.clone()),
        None => ReportError::Io(e),
    }
}

fn gunzip<'a>(r: impl BufRead + Send + 'a, meter: &Arc<Meter>) -> Box<dyn BufRead + Send + 'a> {
    Box::new(BufReader::with_capacity(
        BUF,
        Tagged(
            Metered::new(MultiGzDecoder::new(r), meter.clone(), true),
            "gzip",
        ),
    ))
}

fn inflate<'a>(r: impl BufRead + Send + 'a, meter: &Arc<Meter>) -> Box<dyn BufRead + Send + 'a> {
    Box::new(BufReader::with_capacity(
        BUF,
        Tagged(
            Metered::new(DeflateDecoder::new(r), meter.clone(), true),
            "zip deflate",
        ),
    ))
}

fn decode<'a>(
    kind: PayloadKind,
    raw: Box<dyn BufRead + Send + 'a>,
    meter: &Arc<Meter>,
) -> Box<dyn BufRead + Send + 'a> {
    match kind {
        PayloadKind::Gzip => gunzip(raw, meter),
        PayloadKind::ZipDeflate => inflate(raw, meter),
        _ => raw,
    }
}

// ---------------------------------------------------------------------------
// Payloads.

/// One report's worth of bytes inside a file: the file itself, a zip member,
/// a mail attachment. Cheap to hold; decompression happens in
/// [`Payload::open`]. Every payload of one input file shares that file's
/// work budget ([`Limits::max_work_bytes`], [`Limits::max_work_time`]).
#[derive(Debug, Clone)]
pub struct Payload {
    source: String,
    kind: PayloadKind,
    data: Option<Source>,
    failure: Option<(&'static str, String)>,
    meter: Arc<Meter>,
    /// Sniffed as plain JSON when expanded: the error the aggregate parser
    /// gives it (what such a file gave before TLS reports were read).
    json_head: Option<String>,
    /// A whole feedback report message (RFC 5965 ARF): read by
    /// [`Payload::parse_failure`], not by the XML or JSON parsers.
    arf: bool,
    /// The mail message the payload came in (the outermost one), when it
    /// came in one.
    carrier: Option<Arc<Carrier>>,
}

/// The mail message that carried a report: its bytes as they arrived (an
/// mbox message unquoted), for authenticating the report's sender.
pub struct Carrier {
    label: String,
    buf: Arc<Buf>,
    range: Range<usize>,
}

impl std::fmt::Debug for Carrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Carrier")
            .field("label", &self.label)
            .field("bytes", &self.range.len())
            .finish()
    }
}

impl Carrier {
    /// The message's label (`file`, `file#message-3`, `imap:INBOX UID 7`):
    /// the same for every payload of one message.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The message's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf.bytes()[self.range.clone()]
    }
}

impl Payload {
    fn new(source: String, kind: PayloadKind, data: Source, meter: &Arc<Meter>) -> Self {
        Self {
            source,
            kind,
            data: Some(data),
            failure: None,
            meter: meter.clone(),
            json_head: None,
            arf: false,
            carrier: None,
        }
    }

    fn failed(source: String, err: &ReportError, meter: &Arc<Meter>) -> Self {
        Self {
            source,
            kind: PayloadKind::Failed,
            data: None,
            failure: Some((err.code(), err.to_string())),
            meter: meter.clone(),
            json_head: None,
            arf: false,
            carrier: None,
        }
    }

    /// The mail message the payload arrived in (the outermost message of
    /// its file: a report attached to a forwarded message has the
    /// forwarding message); `None` for a report file that is no mail.
    pub fn carrier(&self) -> Option<&Carrier> {
        self.carrier.as_deref()
    }

    /// Where the payload comes from: `file`, `file#member`,
    /// `file#message-2#attachment.zip#member.xml`. Names taken from inside
    /// containers have control and bidi characters escaped (`\u{a}`) and are
    /// cut to 200 characters, so the label is safe to print on one line.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How the bytes are encoded.
    pub fn kind(&self) -> PayloadKind {
        self.kind
    }

    /// The report error for an I/O error of this payload's stream: the
    /// spent budget when one is spent.
    fn fix(&self, e: ReportError) -> ReportError {
        if let Some(s) = self.meter.spent() {
            return s.error();
        }
        match e {
            ReportError::Io(io) => io_to_report(io),
            other => other,
        }
    }

    /// A stream of the payload's XML, decompressing as it goes (and gzip in
    /// gzip, up to [`Limits::max_nesting`] layers). The time the stream is
    /// alive counts toward the file's [`Limits::max_work_time`]; once a
    /// budget of the file is spent, this is the budget's error.
    pub fn open(&self, limits: &Limits) -> Result<Box<dyn BufRead + Send + '_>, ReportError> {
        let (Some(data), None) = (&self.data, &self.failure) else {
            let (code, message) = self.failure.clone().unwrap_or(("io", String::new()));
            return Err(ReportError::Failed { code, message });
        };
        self.meter.check()?;
        let raw = data.reader(&self.meter, Some(self.meter.enter()));
        let mut r = decode(self.kind, raw, &self.meter);
        for _ in 0..limits.max_nesting {
            let head = r.fill_buf().map_err(|e| self.fix(ReportError::Io(e)))?;
            if !head.starts_with(&[0x1f, 0x8b]) {
                break;
            }
            r = gunzip(r, &self.meter);
        }
        if r.fill_buf()
            .map_err(|e| self.fix(ReportError::Io(e)))?
            .starts_with(&[0x1f, 0x8b])
        {
            return Err(ReportError::UnsupportedFormat(format!(
                "gzip nested deeper than {} layers",
                limits.max_nesting
            )));
        }
        Ok(r)
    }

    /// Opens and parses the payload into a whole report.
    pub fn parse(&self, limits: &Limits) -> Result<AggregateReport, ReportError> {
        self.not_json()?;
        let r = self.open(limits)?;
        parse_report(r, limits).map_err(|e| self.fix(e))
    }

    /// Opens and parses the payload as a stream; see [`parse_report_with`].
    pub fn parse_with<F: FnMut(&ReportHeader, Record)>(
        &self,
        limits: &Limits,
        on_record: F,
    ) -> Result<ReportHeader, ReportError> {
        self.not_json()?;
        let r = self.open(limits)?;
        parse_report_with(r, limits, on_record).map_err(|e| self.fix(e))
    }

    fn not_json(&self) -> Result<(), ReportError> {
        match &self.json_head {
            Some(why) => Err(ReportError::UnsupportedFormat(why.clone())),
            None => Ok(()),
        }
    }

    /// Whether the payload, decoded, is JSON: an SMTP TLS report (RFC 8460)
    /// rather than a DMARC aggregate report. Looks at the first bytes only;
    /// `false` when the payload cannot be opened (its parse says why).
    pub fn is_tls_report(&self, limits: &Limits) -> bool {
        if self.json_head.is_some() {
            return true;
        }
        let Ok(mut r) = self.open(limits) else {
            return false;
        };
        r.fill_buf().is_ok_and(crate::tlsrpt::looks_like_json)
    }

    /// Whether the payload is a feedback report message (`multipart/report;
    /// report-type=feedback-report`): a DMARC failure report or another
    /// feedback type, which [`Payload::parse_failure`] reads.
    pub fn is_failure_report(&self) -> bool {
        self.arf
    }

    /// Parses the payload as a feedback report message; see
    /// [`crate::parse_failure_report`]. The message is the one the
    /// expansion holds (at most [`Limits::max_input_bytes`]).
    pub fn parse_failure(&self, limits: &Limits) -> Result<crate::ArfOutcome, ReportError> {
        if let Some(Source::Mem(buf, range)) = &self.data {
            return crate::parse_failure_report(&buf.bytes()[range.clone()], limits);
        }
        let mut bytes = Vec::new();
        self.open(limits)?
            .take(limits.max_input_bytes.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| self.fix(ReportError::Io(e)))?;
        crate::parse_failure_report(&bytes, limits)
    }

    /// Opens and parses the payload as an SMTP TLS report.
    pub fn parse_tls(&self, limits: &Limits) -> Result<crate::TlsReport, ReportError> {
        let r = self.open(limits)?;
        crate::parse_tls_report(r, limits).map_err(|e| self.fix(e))
    }

    /// Opens and parses the payload as an SMTP TLS report, one policy at a
    /// time; see [`crate::parse_tls_report_with`].
    pub fn parse_tls_with(
        &self,
        limits: &Limits,
        on_policy: impl FnMut(crate::TlsPolicy),
    ) -> Result<crate::TlsReportHeader, ReportError> {
        let r = self.open(limits)?;
        crate::parse_tls_report_with(r, limits, on_policy).map_err(|e| self.fix(e))
    }
}

// ---------------------------------------------------------------------------
// Sniffing.

/// What leading bytes say a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniff {
    Empty,
    Xml,
    Gzip,
    Zip,
    Mail,
    Mbox,
    /// A JSON object: an SMTP TLS report.
    Json,
    Unknown,
}

fn sniff(head: &[u8]) -> Sniff {
    if head.starts_with(&[0x1f, 0x8b]) {
        return Sniff::Gzip;
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Sniff::Zip;
    }
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let trimmed = match body.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(i) => &body[i..],
        None => return Sniff::Empty,
    };
    if trimmed.starts_with(b"<") {
        return Sniff::Xml;
    }
    if trimmed.starts_with(b"{") {
        return Sniff::Json;
    }
    if head.starts_with(b"From ") {
        return Sniff::Mbox;
    }
    // A header field: printable ASCII name, then a colon, on the first line.
    let line_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
    let line = &head[..line_end];
    if let Some(colon) = line.iter().position(|&b| b == b':') {
        if colon > 0
            && line[..colon]
                .iter()
                .all(|&b| b.is_ascii_graphic() && b != b':')
        {
            return Sniff::Mail;
        }
    }
    Sniff::Unknown
}

fn describe(head: &[u8]) -> String {
    let shown: String = String::from_utf8_lossy(&head[..head.len().min(16)])
        .chars()
        .map(|c| {
            if c.is_control() || is_unsafe_char(c) {
                '.'
            } else {
                c
            }
        })
        .collect();
    format!("not XML, gzip, zip or a mail message (starts with {shown:?})")
}

const NO_ATTACHMENT: &str = "the message has no report attachment (XML, gzip or zip)";

// ---------------------------------------------------------------------------
// Expansion.

/// Expands one input, handing out each payload as soon as it is found.
struct Expander<'a> {
    limits: &'a Limits,
    meter: Arc<Meter>,
    emit: &'a mut dyn FnMut(Payload),
    emitted: usize,
    /// The expansion's time guard, put down while a handler runs.
    active: Option<Active>,
    /// The outermost mail message being expanded.
    carrier: Option<Arc<Carrier>>,
}

impl Expander<'_> {
    fn payload(&self, source: String, kind: PayloadKind, data: Source) -> Payload {
        let mut p = Payload::new(source, kind, data, &self.meter);
        p.carrier = self.carrier.clone();
        p
    }

    /// Hands a payload to the handler, unless a budget is spent; stops the
    /// expansion when the handler spent one.
    fn emit(&mut self, p: Payload) -> Result<(), ReportError> {
        self.meter.check()?;
        self.emitted += 1;
        self.active = None;
        (self.emit)(p);
        self.active = Some(self.meter.enter());
        self.meter.check()
    }

    fn emit_failed(&mut self, source: String, e: &ReportError) -> Result<(), ReportError> {
        let p = Payload::failed(source, e, &self.meter);
        self.emit(p)
    }

    /// A member failed: a spent budget stops the whole input; anything else
    /// is that member's failure, and the others go on.
    fn member_failed(&mut self, source: String, e: ReportError) -> Result<(), ReportError> {
        if self.meter.spent().is_some() || e.is_work_budget() {
            return Err(self.meter.error());
        }
        self.emit_failed(source, &e)
    }

    fn io(&self, e: io::Error) -> ReportError {
        match self.meter.spent() {
            Some(s) => s.error(),
            None => io_to_report(e),
        }
    }

    /// The first bytes of `src` after decoding `kind`.
    fn head(&self, src: &Source, kind: PayloadKind) -> Result<Vec<u8>, ReportError> {
        let r = decode(kind, src.reader(&self.meter, None), &self.meter);
        let mut out = Vec::new();
        r.take(HEAD).read_to_end(&mut out).map_err(|e| self.io(e))?;
        Ok(out)
    }

    /// The first bytes inside the gzip stream that `src` holds once
    /// `kind` is decoded.
    fn gzip_head(&self, src: &Source, kind: PayloadKind) -> Result<Vec<u8>, ReportError> {
        let r = gunzip(
            decode(kind, src.reader(&self.meter, None), &self.meter),
            &self.meter,
        );
        let mut out = Vec::new();
        r.take(HEAD).read_to_end(&mut out).map_err(|e| self.io(e))?;
        Ok(out)
    }

    /// `src` decoded, within `max_input_bytes`: in memory up to
    /// [`SPOOL_ABOVE`], in an anonymous temporary file above.
    fn materialize(&self, src: &Source, kind: PayloadKind) -> Result<Source, ReportError> {
        let cap = self.limits.max_input_bytes;
        let mut r = decode(kind, src.reader(&self.meter, None), &self.meter);
        let probe = cap.min(SPOOL_ABOVE as u64) + 1;
        let mut first = Vec::new();
        (&mut r)
            .take(probe)
            .read_to_end(&mut first)
            .map_err(|e| self.io(e))?;
        let len = first.len() as u64;
        if len > cap {
            return Err(ReportError::TooLarge { limit: cap });
        }
        if len < probe {
            let hold = self.meter.hold(len)?;
            let n = first.len();
            return Ok(Source::Mem(Buf::owned(first, Some(hold)), 0..n));
        }
        let mut spool = tempfile::tempfile()?;
        spool.write_all(&first)?;
        drop(first);
        let rest =
            io::copy(&mut (&mut r).take(cap - len + 1), &mut spool).map_err(|e| self.io(e))?;
        let total = len + rest;
        if total > cap {
            return Err(ReportError::TooLarge { limit: cap });
        }
        Ok(Source::Disk(Arc::new(Disk { file: spool }), 0..total))
    }

    /// `src` in memory, for the mail parser: borrowed when it is already,
    /// read (and counted) otherwise.
    fn in_memory(&self, src: &Source) -> Result<(Arc<Buf>, Range<usize>), ReportError> {
        match src {
            Source::Mem(b, r) => Ok((b.clone(), r.clone())),
            Source::Disk(..) => {
                let cap = self.limits.max_input_bytes;
                if src.len() > cap {
                    return Err(ReportError::TooLarge { limit: cap });
                }
                let hold = self.meter.hold(src.len())?;
                let mut v = Vec::with_capacity(src.len() as usize);
                src.reader(&self.meter, None)
                    .read_to_end(&mut v)
                    .map_err(|e| self.io(e))?;
                let n = v.len();
                Ok((Buf::owned(v, Some(hold)), 0..n))
            }
        }
    }

    fn expand(&mut self, src: Source, name: String, depth: usize) -> Result<(), ReportError> {
        if depth > self.limits.max_nesting {
            return Err(ReportError::UnsupportedFormat(format!(
                "containers nested deeper than {} layers",
                self.limits.max_nesting
            )));
        }
        self.meter.check()?;
        let head = self.head(&src, PayloadKind::Xml)?;
        match sniff(&head) {
            Sniff::Empty | Sniff::Xml => {
                let p = self.payload(name, PayloadKind::Xml, src);
                self.emit(p)
            }
            Sniff::Json => {
                let mut p = self.payload(name, PayloadKind::Xml, src);
                p.json_head = Some(describe(&head));
                self.emit(p)
            }
            Sniff::Gzip => {
                let inner = self.head(&src, PayloadKind::Gzip)?;
                match sniff(&inner) {
                    Sniff::Zip | Sniff::Mail => {
                        let m = self.materialize(&src, PayloadKind::Gzip)?;
                        self.expand(m, name, depth + 1)
                    }
                    Sniff::Mbox => {
                        let meter = self.meter.clone();
                        let r = gunzip(src.reader(&meter, None), &meter);
                        self.expand_mbox(r, &name, depth + 1)
                    }
                    // XML, gzip in gzip (opened layer by layer), or junk that
                    // the parser will name.
                    _ => {
                        let p = self.payload(name, PayloadKind::Gzip, src);
                        self.emit(p)
                    }
                }
            }
            Sniff::Zip => self.expand_zip(&src, &name, depth),
            Sniff::Mail => {
                let before = self.emitted;
                let (buf, range) = self.in_memory(&src)?;
                drop(src);
                self.expand_mail(buf, range, &name, depth)?;
                if self.emitted == before {
                    return Err(ReportError::Mail(NO_ATTACHMENT.into()));
                }
                Ok(())
            }
            Sniff::Mbox => {
                let meter = self.meter.clone();
                let r = src.reader(&meter, None);
                self.expand_mbox(r, &name, depth)
            }
            Sniff::Unknown => Err(ReportError::UnsupportedFormat(describe(&head))),
        }
    }

    fn expand_zip(&mut self, src: &Source, name: &str, depth: usize) -> Result<(), ReportError> {
        let budget = ZIP_DIRECTORY_BASE.saturating_add(
            ZIP_DIRECTORY_PER_MEMBER.saturating_mul(self.limits.max_members as u64),
        );
        let left = Rc::new(Cell::new(budget));
        let reader = DirectoryCap {
            inner: src.seekable(),
            left: left.clone(),
        };
        let mut archive = zip::ZipArchive::new(reader).map_err(|e| {
            if left.get() == 0 {
                ReportError::Zip(format!(
                    "the central directory takes more than {budget} bytes to read (more than {} members?)",
                    self.limits.max_members
                ))
            } else {
                ReportError::Zip(path_label(&e.to_string()).into_owned())
            }
        })?;
        left.set(u64::MAX);
        if archive.len() > self.limits.max_members {
            return Err(ReportError::Zip(format!(
                "{} members, more than the limit of {}",
                archive.len(),
                self.limits.max_members
            )));
        }
        let mut members = 0;
        for i in 0..archive.len() {
            self.meter.check()?;
            let (member, method, start, size, encrypted, is_dir) = {
                let f = archive
                    .by_index_raw(i)
                    .map_err(|e| ReportError::Zip(path_label(&e.to_string()).into_owned()))?;
                (
                    member_name(f.name()).into_owned(),
                    f.compression(),
                    f.data_start(),
                    f.compressed_size(),
                    f.encrypted(),
                    f.is_dir(),
                )
            };
            if is_dir {
                continue;
            }
            members += 1;
            let source = format!("{name}#{member}");
            let kind = match method {
                zip::CompressionMethod::Stored => PayloadKind::Xml,
                zip::CompressionMethod::Deflated => PayloadKind::ZipDeflate,
                other => {
                    let e = ReportError::Zip(format!(
                        "member \"{member}\" uses unsupported compression {other}"
                    ));
                    self.emit_failed(source, &e)?;
                    continue;
                }
            };
            let sub = start
                .and_then(|s| Some(s..s.checked_add(size)?))
                .and_then(|r| src.sub(r));
            let Some(sub) = sub else {
                let e = ReportError::Zip(format!("member \"{member}\" lies outside the archive"));
                self.emit_failed(source, &e)?;
                continue;
            };
            if encrypted {
                let e = ReportError::Zip(format!("member \"{member}\" is encrypted"));
                self.emit_failed(source, &e)?;
                continue;
            }
            let head = match self.head(&sub, kind) {
                Ok(h) => h,
                Err(e) => {
                    self.member_failed(source, e)?;
                    continue;
                }
            };
            let container = match sniff(&head) {
                Sniff::Zip | Sniff::Mail | Sniff::Mbox => true,
                // A gzip member may hold a container too (mail.eml.gz).
                Sniff::Gzip => match self.gzip_head(&sub, kind) {
                    Ok(h) => matches!(sniff(&h), Sniff::Zip | Sniff::Mail | Sniff::Mbox),
                    Err(e) => {
                        self.member_failed(source, e)?;
                        continue;
                    }
                },
                _ => false,
            };
            if container {
                // A stored container is read in place; a deflated one is
                // inflated once.
                let inner = if kind == PayloadKind::Xml {
                    Ok(sub)
                } else {
                    self.materialize(&sub, kind)
                };
                if let Err(e) = inner.and_then(|m| self.expand(m, source.clone(), depth + 1)) {
                    self.member_failed(source, e)?;
                }
            } else {
                let p = self.payload(source, kind, sub);
                self.emit(p)?;
            }
        }
        if members == 0 {
            return Err(ReportError::Zip("the archive has no files".into()));
        }
        Ok(())
    }

    /// An mbox as a stream: one message at a time, each at most
    /// `max_input_bytes` (a larger one is that message's error).
    fn expand_mbox(
        &mut self,
        mut r: impl BufRead,
        name: &str,
        depth: usize,
    ) -> Result<(), ReportError> {
        let cap = usize::try_from(self.limits.max_input_bytes).unwrap_or(usize::MAX);
        let mut line = Vec::new();
        let mut current: Option<MboxMessage> = None;
        let mut n = 0;
        loop {
            line.clear();
            let room = match &current {
                Some(m) if !m.too_large => cap.saturating_add(1).saturating_sub(m.bytes.len()),
                _ => 0,
            }
            .max(16);
            let read = read_line_into(&mut r, &mut line, room).map_err(|e| self.io(e))?;
            if read == 0 {
                break;
            }
            if line.starts_with(b"From ") {
                if let Some(m) = current.take() {
                    n += 1;
                    self.mbox_message(m, name, n, depth)?;
                }
                current = Some(MboxMessage::default());
                continue;
            }
            // Lines before the first `From ` line belong to no message.
            let Some(m) = current.as_mut() else { continue };
            if m.too_large {
                continue;
            }
            if line.len() < read || m.bytes.len() + line.len() > cap {
                m.too_large = true;
                m.bytes = Vec::new();
                continue;
            }
            // `>From ` quoting (mboxrd): one `>` less.
            let quoted = line
                .iter()
                .position(|&b| b != b'>')
                .is_some_and(|i| i > 0 && line[i..].starts_with(b"From "));
            m.bytes
                .extend_from_slice(if quoted { &line[1..] } else { &line[..] });
        }
        if let Some(m) = current.take() {
            n += 1;
            self.mbox_message(m, name, n, depth)?;
        }
        Ok(())
    }

    fn mbox_message(
        &mut self,
        m: MboxMessage,
        name: &str,
        n: usize,
        depth: usize,
    ) -> Result<(), ReportError> {
        let source = format!("{name}#message-{n}");
        if m.too_large {
            let e = ReportError::TooLarge {
                limit: self.limits.max_input_bytes,
            };
            return self.emit_failed(source, &e);
        }
        let before = self.emitted;
        let len = m.bytes.len();
        let res = self.meter.hold(len as u64).and_then(|hold| {
            self.expand_mail(Buf::owned(m.bytes, Some(hold)), 0..len, &source, depth + 1)
        });
        match res {
            Err(e) => self.member_failed(source, e),
            Ok(()) if self.emitted == before => {
                self.emit_failed(source, &ReportError::Mail(NO_ATTACHMENT.into()))
            }
            Ok(()) => Ok(()),
        }
    }

    fn expand_mail(
        &mut self,
        raw: Arc<Buf>,
        range: Range<usize>,
        name: &str,
        depth: usize,
    ) -> Result<(), ReportError> {
        // The outermost message carries every payload found inside it.
        let outermost = self.carrier.is_none();
        if outermost {
            self.carrier = Some(Arc::new(Carrier {
                label: name.to_string(),
                buf: raw.clone(),
                range: range.clone(),
            }));
        }
        let res = self.expand_mail_inner(raw, range, name, depth);
        if outermost {
            self.carrier = None;
        }
        res
    }

    fn expand_mail_inner(
        &mut self,
        raw: Arc<Buf>,
        range: Range<usize>,
        name: &str,
        depth: usize,
    ) -> Result<(), ReportError> {
        let bytes = &raw.bytes()[range.clone()];
        mime_precheck(bytes)?;
        let mut msg = mail_parser::MessageParser::default()
            .parse(bytes)
            .ok_or_else(|| ReportError::Mail("not a parseable mail message".into()))?;
        // A feedback report (a DMARC failure report, or abuse…) is handed
        // out whole: its parser reads the parts it needs.
        if crate::arf::is_feedback_report(&msg) {
            drop(msg);
            let mut p = self.payload(name.to_string(), PayloadKind::Xml, Source::Mem(raw, range));
            p.arf = true;
            return self.emit(p);
        }
        self.expand_message(&mut msg, &raw, name, depth)
    }

    fn expand_message(
        &mut self,
        msg: &mut mail_parser::Message<'_>,
        raw: &Arc<Buf>,
        name: &str,
        depth: usize,
    ) -> Result<(), ReportError> {
        use mail_parser::{MimeHeaders, PartType};
        if depth > self.limits.max_nesting {
            return Err(ReportError::Mail(format!(
                "messages nested deeper than {} layers",
                self.limits.max_nesting
            )));
        }
        let mut taken = 0;
        for (i, part) in msg.parts.iter_mut().enumerate() {
            let content: &[u8] = match &part.body {
                PartType::Binary(b) | PartType::InlineBinary(b) => b,
                PartType::Text(t) => t.as_bytes(),
                PartType::Message(_) => {
                    let PartType::Message(inner) = &mut part.body else {
                        continue;
                    };
                    self.expand_message(inner, raw, &format!("{name}#part-{i}"), depth + 1)?;
                    continue;
                }
                PartType::Html(_) | PartType::Multipart(_) => continue,
            };
            let head = &content[..content.len().min(HEAD as usize)];
            let tlsrpt_type = part.content_type().is_some_and(|ct| {
                ct.subtype()
                    .is_some_and(|s| s.to_ascii_lowercase().contains("tlsrpt"))
            });
            // A TLS report attachment left base64-encoded by the mail
            // parser (the last part of a message without its closing
            // boundary, as some reporters send): decoded here.
            let mut decoded: Option<Vec<u8>> = None;
            if tlsrpt_type && sniff(head) == Sniff::Unknown {
                decoded = decode_base64(content);
            }
            let head = match &decoded {
                Some(d) => &d[..d.len().min(HEAD as usize)],
                None => head,
            };
            let keep = match sniff(head) {
                Sniff::Gzip | Sniff::Zip => true,
                // Only XML that looks like a report: not an XHTML body.
                Sniff::Xml => {
                    content.windows(9).take(4096).any(|w| w == b"<feedback")
                        || part.attachment_name().is_some()
                }
                // A TLS report: by its type (application/tlsrpt+json), its
                // name (.json) or its content.
                Sniff::Json => {
                    tlsrpt_type
                        || part
                            .attachment_name()
                            .is_some_and(|n| n.to_ascii_lowercase().ends_with(".json"))
                        || crate::tlsrpt::mentions_tls_keys(content)
                }
                _ => false,
            };
            if !keep {
                continue;
            }
            taken += 1;
            if taken > self.limits.max_members {
                return Err(ReportError::Mail(format!(
                    "more than {} attachments",
                    self.limits.max_members
                )));
            }
            let label = match part.attachment_name() {
                Some(n) => member_name(n).into_owned(),
                None => format!("part-{i}"),
            };
            let source = format!("{name}#{label}");
            let src = match decoded {
                Some(d) => {
                    let n = d.len();
                    Source::Mem(Buf::owned(d, None), 0..n)
                }
                None => part_source(&mut part.body, raw),
            };
            if let Err(e) = self.expand(src, source.clone(), depth + 1) {
                self.member_failed(source, e)?;
            }
        }
        Ok(())
    }
}

/// Base64 text (white space ignored) decoded; `None` when it is not base64.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut ended = false;
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                ended = true;
                continue;
            }
            c if c.is_ascii_whitespace() => continue,
            _ => return None,
        };
        if ended {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// A part's content as a source: a range of the raw message when the
/// parser borrowed it (8bit, binary), else the decoded bytes moved out of
/// the message, never copied.
fn part_source(body: &mut mail_parser::PartType<'_>, raw: &Arc<Buf>) -> Source {
    use mail_parser::PartType;
    use std::borrow::Cow;
    let base = raw.bytes().as_ptr() as usize;
    let raw_len = raw.bytes().len();
    let within = |s: &[u8]| {
        let p = s.as_ptr() as usize;
        (p >= base && p - base + s.len() <= raw_len).then(|| p - base..p - base + s.len())
    };
    let owned = match body {
        PartType::Binary(b) | PartType::InlineBinary(b) => match std::mem::take(b) {
            Cow::Borrowed(s) => match within(s) {
                Some(r) => return Source::Mem(raw.clone(), r),
                None => s.to_vec(),
            },
            Cow::Owned(v) => v,
        },
        PartType::Text(t) => match std::mem::take(t) {
            Cow::Borrowed(s) => match within(s.as_bytes()) {
                Some(r) => return Source::Mem(raw.clone(), r),
                None => s.as_bytes().to_vec(),
            },
            Cow::Owned(s) => s.into_bytes(),
        },
        _ => Vec::new(),
    };
    let n = owned.len();
    Source::Mem(Buf::owned(owned, None), 0..n)
}

/// Refuses a message whose shape would make the mail parser build far more
/// structure than the message's size: see [`MAX_MIME_BOUNDARY_LINES`].
pub(crate) fn mime_precheck(bytes: &[u8]) -> Result<(), ReportError> {
    // A message shorter than this cannot reach either count.
    if bytes.len() < 2 * MAX_MIME_BOUNDARY_LINES {
        return Ok(());
    }
    let (mut boundaries, mut fields) = (0usize, 0usize);
    for line in bytes.split(|&b| b == b'\n') {
        if line.starts_with(b"--") {
            boundaries += 1;
        } else if line.len() < 1000 && line.contains(&b':') {
            fields += 1;
        }
        if boundaries > MAX_MIME_BOUNDARY_LINES || fields > MAX_MIME_FIELD_LINES {
            return Err(ReportError::Mail(format!(
                "more than {MAX_MIME_BOUNDARY_LINES} MIME part lines or {MAX_MIME_FIELD_LINES} header lines: not a report mail"
            )));
        }
    }
    Ok(())
}

#[derive(Default)]
struct MboxMessage {
    bytes: Vec<u8>,
    too_large: bool,
}

/// Reads through the next `\n` (or the end), appending at most `keep` bytes
/// of it to `out`; returns the bytes consumed, 0 at the end.
fn read_line_into(r: &mut impl BufRead, out: &mut Vec<u8>, keep: usize) -> io::Result<usize> {
    let mut keep = keep;
    let mut consumed = 0;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(consumed);
        }
        let (n, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        let k = n.min(keep);
        out.extend_from_slice(&buf[..k]);
        keep -= k;
        r.consume(n);
        consumed += n;
        if done {
            return Ok(consumed);
        }
    }
}

/// Caps what the zip reader may read while it parses the central
/// directory; see [`ZIP_DIRECTORY_BASE`].
struct DirectoryCap<R> {
    inner: R,
    left: Rc<Cell<u64>>,
}

impl<R: Read> Read for DirectoryCap<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = self.left.get();
        if left == 0 {
            return Err(io::Error::other("zip central directory too large"));
        }
        let n = (out.len() as u64).min(left) as usize;
        let got = self.inner.read(&mut out[..n])?;
        if left != u64::MAX {
            self.left.set(left - got as u64);
        }
        Ok(got)
    }
}

impl<R: Seek> Seek for DirectoryCap<R> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

// ---------------------------------------------------------------------------
// The entry points.

fn run(
    src: Source,
    name: String,
    limits: &Limits,
    meter: &Arc<Meter>,
    emit: &mut dyn FnMut(Payload),
) -> Result<(), ReportError> {
    let mut x = Expander {
        limits,
        meter: meter.clone(),
        emit,
        emitted: 0,
        active: Some(meter.enter()),
        carrier: None,
    };
    let res = x.expand(src, name, 0);
    drop(x);
    match meter.spent() {
        Some(s) => Err(s.error()),
        None => res,
    }
}

fn bytes_source(bytes: Arc<[u8]>, limits: &Limits) -> Result<Source, ReportError> {
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(ReportError::TooLarge {
            limit: limits.max_input_bytes,
        });
    }
    let len = bytes.len();
    Ok(Source::Mem(Buf::shared(bytes), 0..len))
}

fn path_source(path: &Path) -> Result<Source, ReportError> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    Ok(Source::Disk(Arc::new(Disk { file }), 0..len))
}

/// Calls `handle` for every payload of a file as it is found: the streaming
/// form of [`open_path`], memory bounded as the module documentation says.
/// The payload given to `handle` is valid only during the call (cloning it
/// keeps what it refers to alive). The time `handle` spends outside the
/// payload's streams does not count toward [`Limits::max_work_time`].
///
/// `Err` when the file as a whole cannot be read (after the payloads
/// already handed out), or a work budget ran out: then the rest of the file
/// is not read (and the payload being read when it ran out fails with the
/// same error).
pub fn stream_path(
    path: &Path,
    limits: &Limits,
    mut handle: impl FnMut(&Payload),
) -> Result<(), ReportError> {
    let meter = Meter::new(limits);
    let src = path_source(path)?;
    run(
        src,
        path_label(&path.display().to_string()).into_owned(),
        limits,
        &meter,
        &mut |p| handle(&p),
    )
}

/// [`stream_path`] for bytes already in memory (a message from IMAP): the
/// streaming form of [`open_payload`].
pub fn stream_payload(
    bytes: impl Into<Arc<[u8]>>,
    name: &str,
    limits: &Limits,
    mut handle: impl FnMut(&Payload),
) -> Result<(), ReportError> {
    let meter = Meter::new(limits);
    let src = bytes_source(bytes.into(), limits)?;
    run(
        src,
        path_label(name).into_owned(),
        limits,
        &meter,
        &mut |p| handle(&p),
    )
}

/// Expands bytes (a file read into memory, an attachment) into payloads:
/// XML and gzip are one payload; a zip is one per member; a mail message one
/// per report attachment; an mbox one per attachment of every message. A
/// member that cannot be opened becomes a payload whose [`Payload::open`]
/// returns the reason, so one bad member does not hide the others.
///
/// The payloads keep what they refer to alive (decoded attachments, inner
/// containers, in memory up to [`SPOOL_ABOVE`] each, in temporary files
/// above); [`stream_payload`] hands them out one at a time instead.
pub fn open_payload(
    bytes: impl Into<Arc<[u8]>>,
    name: &str,
    limits: &Limits,
) -> Result<Vec<Payload>, ReportError> {
    let meter = Meter::new(limits);
    let src = bytes_source(bytes.into(), limits)?;
    let mut out = Vec::new();
    run(
        src,
        path_label(name).into_owned(),
        limits,
        &meter,
        &mut |p| out.push(p),
    )?;
    Ok(out)
}

/// Opens a file: plain and gzipped XML stream from disk, a zip is read in
/// place, mail and mbox are expanded as by [`open_payload`]. The payloads
/// keep what they refer to alive; [`stream_path`] (and
/// [`visit_payloads`](crate::visit_payloads)) hand them out one at a time.
pub fn open_path(path: &Path, limits: &Limits) -> Result<Vec<Payload>, ReportError> {
    let meter = Meter::new(limits);
    let src = path_source(path)?;
    let mut out = Vec::new();
    run(
        src,
        path_label(&path.display().to_string()).into_owned(),
        limits,
        &meter,
        &mut |p| out.push(p),
    )?;
    Ok(out)
}

/// [`stream_path`] for the ingest: the file's meter is the caller's, so it
/// can tell whether the handler's payload ran out of budget.
pub(crate) fn stream_path_metered(
    path: &Path,
    label: String,
    limits: &Limits,
    meter: &Arc<Meter>,
    handle: &mut dyn FnMut(Payload),
) -> Result<(), ReportError> {
    let src = path_source(path)?;
    run(src, label, limits, meter, handle)
}
