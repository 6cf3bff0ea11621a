//! Containers: what a file or an attachment holds, sniffed by its bytes
//! (never only its name), expanded into payloads that each decompress to one
//! report's XML as a stream.
//!
//! Plain and gzipped XML files are streamed from disk; zip members are
//! inflated straight from the archive bytes; only zip archives, mail
//! messages and mailboxes are held in memory, within
//! [`Limits::max_input_bytes`](crate::Limits::max_input_bytes).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use flate2::read::{DeflateDecoder, MultiGzDecoder};

use crate::limited::read_bounded;
use crate::{
    parse_report, parse_report_with, AggregateReport, Limits, Record, ReportError, ReportHeader,
};

/// How many leading bytes decide the format.
const HEAD: u64 = 512;

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

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Mem(Arc<[u8]>, std::ops::Range<usize>),
}

impl Source {
    fn reader(&self) -> io::Result<Box<dyn BufRead + Send + '_>> {
        Ok(match self {
            Source::File(p) => Box::new(BufReader::with_capacity(64 * 1024, File::open(p)?)),
            Source::Mem(b, r) => Box::new(Cursor::new(&b[r.clone()])),
        })
    }
}

/// One report's worth of bytes inside a file: the file itself, a zip member,
/// a mail attachment. Cheap to hold; decompression happens in
/// [`Payload::open`].
#[derive(Debug, Clone)]
pub struct Payload {
    source: String,
    kind: PayloadKind,
    data: Option<Source>,
    failure: Option<(&'static str, String)>,
}

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
            if e.get_ref().is_some_and(|i| i.is::<DecompressError>()) {
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
    match e
        .get_ref()
        .and_then(|i| i.downcast_ref::<DecompressError>())
    {
        Some(d) if d.0.starts_with("zip") => ReportError::Zip(d.0.clone()),
        Some(d) => ReportError::Gzip(d.0.clone()),
        None => ReportError::Io(e),
    }
}

fn gunzip<'a>(r: impl BufRead + Send + 'a) -> Box<dyn BufRead + Send + 'a> {
    Box::new(BufReader::with_capacity(
        64 * 1024,
        Tagged(MultiGzDecoder::new(r), "gzip"),
    ))
}

fn inflate<'a>(r: impl BufRead + Send + 'a) -> Box<dyn BufRead + Send + 'a> {
    Box::new(BufReader::with_capacity(
        64 * 1024,
        Tagged(DeflateDecoder::new(r), "zip deflate"),
    ))
}

impl Payload {
    fn new(source: String, kind: PayloadKind, data: Source) -> Self {
        Self {
            source,
            kind,
            data: Some(data),
            failure: None,
        }
    }

    fn failed(source: String, err: &ReportError) -> Self {
        Self {
            source,
            kind: PayloadKind::Failed,
            data: None,
            failure: Some((err.code(), err.to_string())),
        }
    }

    /// Where the payload comes from: `file`, `file#member`,
    /// `file#message-2#attachment.zip#member.xml`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How the bytes are encoded.
    pub fn kind(&self) -> PayloadKind {
        self.kind
    }

    /// A stream of the payload's XML, decompressing as it goes (and gzip in
    /// gzip, up to [`Limits::max_nesting`] layers).
    pub fn open(&self, limits: &Limits) -> Result<Box<dyn BufRead + Send + '_>, ReportError> {
        let (Some(data), None) = (&self.data, &self.failure) else {
            let (code, message) = self.failure.clone().unwrap_or(("io", String::new()));
            return Err(ReportError::Failed { code, message });
        };
        let raw = data.reader()?;
        let mut r = match self.kind {
            PayloadKind::Gzip => gunzip(raw),
            PayloadKind::ZipDeflate => inflate(raw),
            _ => raw,
        };
        for _ in 0..limits.max_nesting {
            if !r
                .fill_buf()
                .map_err(io_to_report)?
                .starts_with(&[0x1f, 0x8b])
            {
                break;
            }
            r = gunzip(r);
        }
        if r.fill_buf()
            .map_err(io_to_report)?
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
        let r = self.open(limits)?;
        parse_report(r, limits).map_err(unwrap_io)
    }

    /// Opens and parses the payload as a stream; see [`parse_report_with`].
    pub fn parse_with<F: FnMut(&ReportHeader, Record)>(
        &self,
        limits: &Limits,
        on_record: F,
    ) -> Result<ReportHeader, ReportError> {
        let r = self.open(limits)?;
        parse_report_with(r, limits, on_record).map_err(unwrap_io)
    }

    /// The first bytes after the outer decoding layer.
    fn head(&self) -> Result<Vec<u8>, ReportError> {
        let data = self.data.as_ref().expect("head of a live payload");
        let raw = data.reader()?;
        let r = match self.kind {
            PayloadKind::Gzip => gunzip(raw),
            PayloadKind::ZipDeflate => inflate(raw),
            _ => raw,
        };
        let mut out = Vec::new();
        r.take(HEAD).read_to_end(&mut out).map_err(io_to_report)?;
        Ok(out)
    }

    /// Everything after the outer decoding layer, within `limit`.
    fn materialize(&self, limit: u64) -> Result<Arc<[u8]>, ReportError> {
        let data = self.data.as_ref().expect("materialize a live payload");
        let raw = data.reader()?;
        let r = match self.kind {
            PayloadKind::Gzip => gunzip(raw),
            PayloadKind::ZipDeflate => inflate(raw),
            _ => raw,
        };
        match read_bounded(r, limit) {
            Err(ReportError::Io(e)) => Err(io_to_report(e)),
            other => other.map(Arc::from),
        }
    }
}

fn unwrap_io(e: ReportError) -> ReportError {
    match e {
        ReportError::Io(io) => io_to_report(io),
        other => other,
    }
}

/// What leading bytes say a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sniff {
    Empty,
    Xml,
    Gzip,
    Zip,
    Mail,
    Mbox,
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
        .map(|c| if c.is_control() { '.' } else { c })
        .collect();
    format!("not XML, gzip, zip or a mail message (starts with {shown:?})")
}

/// Expands bytes (a file read into memory, an attachment) into payloads:
/// XML and gzip are one payload; a zip is one per member; a mail message one
/// per report attachment; an mbox one per attachment of every message. A
/// member that cannot be opened becomes a payload whose [`Payload::open`]
/// returns the reason, so one bad member does not hide the others.
pub fn open_payload(
    bytes: impl Into<Arc<[u8]>>,
    name: &str,
    limits: &Limits,
) -> Result<Vec<Payload>, ReportError> {
    let bytes: Arc<[u8]> = bytes.into();
    if bytes.len() as u64 > limits.max_input_bytes {
        return Err(ReportError::TooLarge {
            limit: limits.max_input_bytes,
        });
    }
    let len = bytes.len();
    let mut out = Vec::new();
    expand(
        Source::Mem(bytes, 0..len),
        name.to_owned(),
        0,
        limits,
        &mut out,
    )?;
    Ok(out)
}

/// Opens a file: plain and gzipped XML stream from disk, other containers
/// are read into memory (within [`Limits::max_input_bytes`]) and expanded as
/// by [`open_payload`].
pub fn open_path(path: &Path, limits: &Limits) -> Result<Vec<Payload>, ReportError> {
    let mut out = Vec::new();
    expand(
        Source::File(path.to_owned()),
        path.display().to_string(),
        0,
        limits,
        &mut out,
    )?;
    Ok(out)
}

fn expand(
    src: Source,
    name: String,
    depth: usize,
    limits: &Limits,
    out: &mut Vec<Payload>,
) -> Result<(), ReportError> {
    if depth > limits.max_nesting {
        return Err(ReportError::UnsupportedFormat(format!(
            "containers nested deeper than {} layers",
            limits.max_nesting
        )));
    }
    let plain = Payload::new(name.clone(), PayloadKind::Xml, src.clone());
    let head = plain.head()?;
    match sniff(&head) {
        Sniff::Empty | Sniff::Xml => out.push(plain),
        Sniff::Gzip => {
            let gz = Payload::new(name.clone(), PayloadKind::Gzip, src);
            let inner = gz.head()?;
            match sniff(&inner) {
                Sniff::Zip | Sniff::Mail | Sniff::Mbox => {
                    let bytes = gz.materialize(limits.max_input_bytes)?;
                    let len = bytes.len();
                    expand(Source::Mem(bytes, 0..len), name, depth + 1, limits, out)?;
                }
                // XML, gzip in gzip (opened layer by layer), or junk that the
                // parser will name.
                _ => out.push(gz),
            }
        }
        Sniff::Zip => {
            let bytes = mem_bytes(&plain, limits)?;
            expand_zip(bytes, &name, depth, limits, out)?;
        }
        Sniff::Mail => {
            let bytes = mem_bytes(&plain, limits)?;
            let before = out.len();
            expand_mail(&bytes, &name, depth, limits, out)?;
            if out.len() == before {
                return Err(ReportError::Mail(
                    "the message has no report attachment (XML, gzip or zip)".into(),
                ));
            }
        }
        Sniff::Mbox => {
            let bytes = mem_bytes(&plain, limits)?;
            let iter = mail_parser::mailbox::mbox::MessageIterator::new(Cursor::new(&bytes[..]));
            for (i, msg) in iter.enumerate() {
                let source = format!("{name}#message-{}", i + 1);
                let msg = msg?;
                let before = out.len();
                if let Err(e) = expand_mail(msg.contents(), &source, depth + 1, limits, out) {
                    out.push(Payload::failed(source, &e));
                } else if out.len() == before {
                    let e = ReportError::Mail(
                        "the message has no report attachment (XML, gzip or zip)".into(),
                    );
                    out.push(Payload::failed(source, &e));
                }
            }
        }
        Sniff::Unknown => return Err(ReportError::UnsupportedFormat(describe(&head))),
    }
    Ok(())
}

fn mem_bytes(plain: &Payload, limits: &Limits) -> Result<Arc<[u8]>, ReportError> {
    match plain.data.as_ref() {
        Some(Source::Mem(b, r)) if r.start == 0 && r.end == b.len() => Ok(b.clone()),
        _ => plain.materialize(limits.max_input_bytes),
    }
}

fn expand_zip(
    bytes: Arc<[u8]>,
    name: &str,
    depth: usize,
    limits: &Limits,
    out: &mut Vec<Payload>,
) -> Result<(), ReportError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(&bytes[..]))
        .map_err(|e| ReportError::Zip(e.to_string()))?;
    if archive.len() > limits.max_members {
        return Err(ReportError::Zip(format!(
            "{} members, more than the limit of {}",
            archive.len(),
            limits.max_members
        )));
    }
    let mut members = 0;
    for i in 0..archive.len() {
        let (member, method, start, size, encrypted, is_dir) = {
            let f = archive
                .by_index_raw(i)
                .map_err(|e| ReportError::Zip(e.to_string()))?;
            (
                f.name().to_owned(),
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
                    "member {member:?} uses unsupported compression {other}"
                ));
                out.push(Payload::failed(source, &e));
                continue;
            }
        };
        let range = start.and_then(|s| {
            let s = usize::try_from(s).ok()?;
            let end = s.checked_add(usize::try_from(size).ok()?)?;
            (end <= bytes.len()).then_some(s..end)
        });
        let Some(range) = range else {
            let e = ReportError::Zip(format!("member {member:?} lies outside the archive"));
            out.push(Payload::failed(source, &e));
            continue;
        };
        if encrypted {
            let e = ReportError::Zip(format!("member {member:?} is encrypted"));
            out.push(Payload::failed(source, &e));
            continue;
        }
        let p = Payload::new(source.clone(), kind, Source::Mem(bytes.clone(), range));
        let inner = match p.head() {
            Ok(h) => h,
            Err(e) => {
                out.push(Payload::failed(source, &e));
                continue;
            }
        };
        match sniff(&inner) {
            Sniff::Zip | Sniff::Mail | Sniff::Mbox => {
                let res = p.materialize(limits.max_input_bytes).and_then(|b| {
                    let len = b.len();
                    expand(
                        Source::Mem(b, 0..len),
                        source.clone(),
                        depth + 1,
                        limits,
                        out,
                    )
                });
                if let Err(e) = res {
                    out.push(Payload::failed(source, &e));
                }
            }
            _ => out.push(p),
        }
    }
    if members == 0 {
        return Err(ReportError::Zip("the archive has no files".into()));
    }
    Ok(())
}

fn expand_mail(
    bytes: &[u8],
    name: &str,
    depth: usize,
    limits: &Limits,
    out: &mut Vec<Payload>,
) -> Result<(), ReportError> {
    let msg = mail_parser::MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| ReportError::Mail("not a parseable mail message".into()))?;
    expand_message(&msg, name, depth, limits, out)
}

fn expand_message(
    msg: &mail_parser::Message<'_>,
    name: &str,
    depth: usize,
    limits: &Limits,
    out: &mut Vec<Payload>,
) -> Result<(), ReportError> {
    use mail_parser::{MimeHeaders, PartType};
    if depth > limits.max_nesting {
        return Err(ReportError::Mail(format!(
            "messages nested deeper than {} layers",
            limits.max_nesting
        )));
    }
    let mut taken = 0;
    for (i, part) in msg.parts.iter().enumerate() {
        let content: &[u8] = match &part.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b,
            PartType::Text(t) => t.as_bytes(),
            PartType::Message(inner) => {
                expand_message(inner, &format!("{name}#part-{i}"), depth + 1, limits, out)?;
                continue;
            }
            PartType::Html(_) | PartType::Multipart(_) => continue,
        };
        let head = &content[..content.len().min(HEAD as usize)];
        let keep = match sniff(head) {
            Sniff::Gzip | Sniff::Zip => true,
            // Only XML that looks like a report: not an XHTML body.
            Sniff::Xml => {
                content.windows(9).take(4096).any(|w| w == b"<feedback")
                    || part.attachment_name().is_some()
            }
            _ => false,
        };
        if !keep {
            continue;
        }
        taken += 1;
        if taken > limits.max_members {
            return Err(ReportError::Mail(format!(
                "more than {} attachments",
                limits.max_members
            )));
        }
        let label = part
            .attachment_name()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("part-{i}"));
        let source = format!("{name}#{label}");
        let bytes: Arc<[u8]> = Arc::from(content);
        let len = bytes.len();
        if let Err(e) = expand(
            Source::Mem(bytes, 0..len),
            source.clone(),
            depth + 1,
            limits,
            out,
        ) {
            out.push(Payload::failed(source, &e));
        }
    }
    Ok(())
}
