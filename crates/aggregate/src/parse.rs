//! The streaming parser: quick-xml events drive a small state machine
//! (a stack of contexts, one per open element) that fills one record at a
//! time. Nothing but the current record and the header is ever held.

use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::label::display_safe;
use crate::limited::{Limited, Trip};
use crate::types::*;
use crate::{Limits, ReportError};

/// Parses a whole report into memory. For large reports prefer
/// [`parse_report_with`], which hands out records one at a time.
pub fn parse_report(reader: impl BufRead, limits: &Limits) -> Result<AggregateReport, ReportError> {
    let mut records = Vec::new();
    let header = parse_report_with(reader, limits, |_, r| records.push(r))?;
    Ok(AggregateReport::from_parts(header, records))
}

/// Parses a report as a stream, calling `on_record` for every `<record>` as
/// soon as it is complete, with the header as known so far (reports put
/// `report_metadata` and `policy_published` before the records, so it is
/// complete in practice). Memory stays constant however many records there
/// are. Returns the header.
///
/// On error, records already handed out stay handed out: a caller that wants
/// all-or-nothing collects them and drops them on `Err`.
pub fn parse_report_with<R, F>(
    reader: R,
    limits: &Limits,
    mut on_record: F,
) -> Result<ReportHeader, ReportError>
where
    R: BufRead,
    F: FnMut(&ReportHeader, Record),
{
    // Room for one text node plus the markup around it.
    let max_event = limits.max_text_bytes.saturating_add(1024);
    let limited = Limited::new(reader, limits.max_decompressed_bytes, max_event);
    let mut xml = Reader::from_reader(limited);
    let config = xml.config_mut();
    config.check_end_names = true;
    // Whitespace between elements then never becomes an event: about half
    // of all events in a pretty-printed report. Switched off inside fields.
    config.trim_text_start = true;
    let mut p = Parser {
        limits,
        header: ReportHeader::default(),
        record: Record::default(),
        reason: None,
        text: String::new(),
        stack: Vec::with_capacity(16),
        started: false,
        first_root: None,
        stray_text: false,
        records: 0,
    };
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        xml.get_mut().reset_event();
        let event = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => return Err(xml_error(&xml, e, limits)),
        };
        match event {
            Event::Start(e) => {
                p.start(&e)?;
                // Inside a field, whitespace after an entity is content.
                xml.config_mut().trim_text_start = !p.in_field();
            }
            Event::Empty(e) => {
                p.start(&e)?;
                if p.end(&mut on_record)? {
                    return p.finish();
                }
            }
            Event::End(_) => {
                if p.end(&mut on_record)? {
                    return p.finish();
                }
                xml.config_mut().trim_text_start = true;
            }
            Event::Text(t) => p.text(&t)?,
            Event::CData(t) => p.text(&t)?,
            Event::GeneralRef(r) => {
                let ch = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => c,
                        Ok(None) | Err(_) => {
                            return Err(ReportError::InvalidXml {
                                position: xml.buffer_position(),
                                message: format!(
                                    "invalid character reference &{};",
                                    display_safe(&String::from_utf8_lossy(&r), 40)
                                ),
                            })
                        }
                    }
                } else {
                    match &*r {
                        b"lt" => '<',
                        b"gt" => '>',
                        b"amp" => '&',
                        b"apos" => '\'',
                        b"quot" => '"',
                        other => {
                            // 64 characters, not bytes: a byte cut can
                            // fall inside a character.
                            let name =
                                display_safe(&String::from_utf8_lossy(other), 64).into_owned();
                            return Err(ReportError::UndefinedEntity(name));
                        }
                    }
                };
                let mut utf8 = [0u8; 4];
                p.text(ch.encode_utf8(&mut utf8).as_bytes())?;
            }
            Event::DocType(_) => return Err(ReportError::DocType),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return p.eof(),
        }
    }
}

fn xml_error<R: BufRead>(
    xml: &Reader<Limited<R>>,
    e: quick_xml::Error,
    limits: &Limits,
) -> ReportError {
    match xml.get_ref().tripped {
        Some(Trip::Total) => ReportError::TooLarge {
            limit: limits.max_decompressed_bytes,
        },
        Some(Trip::Event) => ReportError::TextTooLong {
            limit: limits.max_text_bytes,
        },
        None => match e {
            quick_xml::Error::Io(io) => match std::sync::Arc::try_unwrap(io) {
                Ok(io) => ReportError::Io(io),
                Err(io) => ReportError::Io(std::io::Error::new(io.kind(), io.to_string())),
            },
            other => ReportError::InvalidXml {
                position: xml.error_position(),
                message: display_safe(&other.to_string(), 300).into_owned(),
            },
        },
    }
}

/// One open element: where we are in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Before `<feedback>`, e.g. inside a stray `<xs:schema>`.
    Outside,
    Feedback,
    Metadata,
    DateRange,
    Policy,
    Record,
    Row,
    PolicyEvaluated,
    Reason,
    Identifiers,
    AuthResults,
    Dkim,
    Spf,
    /// An element the schema does not know: skipped with its children.
    Skip,
    Field(F),
}

/// A leaf element whose text we keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum F {
    Version,
    OrgName,
    Email,
    ReportId,
    ExtraContact,
    Begin,
    End,
    Error,
    Generator,
    PDomain,
    Adkim,
    Aspf,
    P,
    Sp,
    Np,
    Pct,
    Fo,
    Testing,
    Discovery,
    SourceIp,
    Count,
    Disposition,
    EvDkim,
    EvSpf,
    ReasonType,
    ReasonComment,
    HeaderFrom,
    EnvFrom,
    EnvTo,
    DkimDomain,
    DkimSelector,
    DkimResult,
    DkimHuman,
    SpfDomain,
    SpfScope,
    SpfResult,
    SpfHuman,
}

fn child(parent: Ctx, name: &[u8]) -> Ctx {
    use Ctx::Field as Fd;
    match parent {
        Ctx::Outside => match name {
            b"feedback" => Ctx::Feedback,
            _ => Ctx::Outside,
        },
        Ctx::Feedback => match name {
            b"version" => Fd(F::Version),
            b"report_metadata" => Ctx::Metadata,
            b"policy_published" => Ctx::Policy,
            b"record" => Ctx::Record,
            _ => Ctx::Skip,
        },
        Ctx::Metadata => match name {
            b"org_name" => Fd(F::OrgName),
            b"email" => Fd(F::Email),
            b"report_id" => Fd(F::ReportId),
            b"extra_contact_info" => Fd(F::ExtraContact),
            b"date_range" => Ctx::DateRange,
            b"error" => Fd(F::Error),
            b"generator" => Fd(F::Generator),
            _ => Ctx::Skip,
        },
        Ctx::DateRange => match name {
            b"begin" => Fd(F::Begin),
            b"end" => Fd(F::End),
            _ => Ctx::Skip,
        },
        Ctx::Policy => match name {
            b"domain" => Fd(F::PDomain),
            b"adkim" => Fd(F::Adkim),
            b"aspf" => Fd(F::Aspf),
            b"p" => Fd(F::P),
            b"sp" => Fd(F::Sp),
            b"np" => Fd(F::Np),
            b"pct" => Fd(F::Pct),
            b"fo" => Fd(F::Fo),
            b"testing" => Fd(F::Testing),
            b"discovery_method" => Fd(F::Discovery),
            _ => Ctx::Skip,
        },
        Ctx::Record => match name {
            b"row" => Ctx::Row,
            b"identifiers" | b"identities" => Ctx::Identifiers,
            b"auth_results" => Ctx::AuthResults,
            _ => Ctx::Skip,
        },
        Ctx::Row => match name {
            b"source_ip" => Fd(F::SourceIp),
            b"count" => Fd(F::Count),
            b"policy_evaluated" => Ctx::PolicyEvaluated,
            _ => Ctx::Skip,
        },
        Ctx::PolicyEvaluated => match name {
            b"disposition" => Fd(F::Disposition),
            b"dkim" => Fd(F::EvDkim),
            b"spf" => Fd(F::EvSpf),
            b"reason" => Ctx::Reason,
            _ => Ctx::Skip,
        },
        Ctx::Reason => match name {
            b"type" => Fd(F::ReasonType),
            b"comment" => Fd(F::ReasonComment),
            _ => Ctx::Skip,
        },
        Ctx::Identifiers => match name {
            b"header_from" => Fd(F::HeaderFrom),
            b"envelope_from" => Fd(F::EnvFrom),
            b"envelope_to" => Fd(F::EnvTo),
            _ => Ctx::Skip,
        },
        Ctx::AuthResults => match name {
            b"dkim" => Ctx::Dkim,
            b"spf" => Ctx::Spf,
            _ => Ctx::Skip,
        },
        Ctx::Dkim => match name {
            b"domain" => Fd(F::DkimDomain),
            b"selector" => Fd(F::DkimSelector),
            b"result" => Fd(F::DkimResult),
            b"human_result" => Fd(F::DkimHuman),
            _ => Ctx::Skip,
        },
        Ctx::Spf => match name {
            b"domain" => Fd(F::SpfDomain),
            b"scope" => Fd(F::SpfScope),
            b"result" => Fd(F::SpfResult),
            b"human_result" => Fd(F::SpfHuman),
            _ => Ctx::Skip,
        },
        Ctx::Skip | Ctx::Field(_) => Ctx::Skip,
    }
}

/// The name after the namespace prefix, as `QName::local_name` finds it
/// (after the first `:`), with a plain loop: element names are a few bytes
/// long and `memchr`'s setup costs more than the scan.
#[inline]
fn local_name(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn ctx_name(c: Ctx) -> &'static str {
    match c {
        Ctx::Outside => "document",
        Ctx::Feedback => "feedback",
        Ctx::Metadata => "report_metadata",
        Ctx::DateRange => "date_range",
        Ctx::Policy => "policy_published",
        Ctx::Record => "record",
        Ctx::Row => "row",
        Ctx::PolicyEvaluated => "policy_evaluated",
        Ctx::Reason => "reason",
        Ctx::Identifiers => "identifiers",
        Ctx::AuthResults => "auth_results",
        Ctx::Dkim => "dkim",
        Ctx::Spf => "spf",
        Ctx::Skip => "an unknown element",
        Ctx::Field(_) => "a field",
    }
}

struct Parser<'l> {
    limits: &'l Limits,
    header: ReportHeader,
    record: Record,
    reason: Option<(Option<PolicyOverride>, Option<String>)>,
    text: String,
    stack: Vec<Ctx>,
    started: bool,
    first_root: Option<String>,
    stray_text: bool,
    records: u64,
}

fn opt(s: &str) -> Option<String> {
    if s.is_empty() {
        None
    } else {
        Some(s.to_owned())
    }
}

/// Content quoted in an error: 40 characters, control and bidi characters
/// escaped.
fn short(s: &str) -> String {
    display_safe(s, 40).into_owned()
}

/// A Unix timestamp; some reporters send a fraction, which is dropped.
fn timestamp(element: &'static str, v: &str) -> Result<i64, ReportError> {
    if let Ok(n) = v.parse::<i64>() {
        return Ok(n);
    }
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f.abs() < 1e15 => Ok(f as i64),
        _ => Err(ReportError::InvalidValue {
            element,
            value: short(v),
            expected: "a Unix timestamp",
        }),
    }
}

impl Parser<'_> {
    #[inline]
    fn top(&self) -> Ctx {
        self.stack.last().copied().unwrap_or(Ctx::Outside)
    }

    #[inline]
    fn in_field(&self) -> bool {
        matches!(self.top(), Ctx::Field(_))
    }

    fn start(&mut self, e: &BytesStart<'_>) -> Result<(), ReportError> {
        let parent = self.top();
        let name = e.name().into_inner();
        // Schema names have no `:`, so a prefixed name never matches as a
        // whole: only then is the local name looked for (a scan per element
        // otherwise, for the rare report with a namespace prefix).
        let mut ctx = child(parent, name);
        if matches!(ctx, Ctx::Skip | Ctx::Outside) && name.contains(&b':') {
            ctx = child(parent, local_name(name));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(ReportError::TooDeep {
                limit: self.limits.max_depth,
            });
        }
        match ctx {
            Ctx::Feedback => {
                self.started = true;
                for a in e.attributes().flatten() {
                    if a.key.as_ref() == b"xmlns" {
                        self.header.namespace =
                            Some(String::from_utf8_lossy(&a.value).trim().to_owned());
                    }
                }
            }
            Ctx::Outside if self.first_root.is_none() => {
                self.first_root = Some(short(&String::from_utf8_lossy(e.name().as_ref())));
            }
            Ctx::Field(_) => self.text.clear(),
            Ctx::Reason => self.reason = Some((None, None)),
            Ctx::Dkim => self
                .record
                .auth_results
                .dkim
                .push(DkimAuthResult::default()),
            Ctx::Spf => self.record.auth_results.spf.push(SpfAuthResult::default()),
            _ => {}
        }
        self.stack.push(ctx);
        Ok(())
    }

    #[inline]
    fn text(&mut self, bytes: &[u8]) -> Result<(), ReportError> {
        if !self.in_field() {
            if self.stack.is_empty() && !self.stray_text {
                self.stray_text = bytes.iter().any(|b| !b.is_ascii_whitespace());
            }
            return Ok(());
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => self.text.push_str(s),
            Err(_) => self.text.push_str(&String::from_utf8_lossy(bytes)),
        }
        if self.text.len() > self.limits.max_text_bytes {
            return Err(ReportError::TextTooLong {
                limit: self.limits.max_text_bytes,
            });
        }
        Ok(())
    }

    /// Closes the innermost element; `true` when it was `</feedback>`.
    fn end<C: FnMut(&ReportHeader, Record)>(
        &mut self,
        on_record: &mut C,
    ) -> Result<bool, ReportError> {
        let Some(ctx) = self.stack.pop() else {
            return Ok(false);
        };
        match ctx {
            Ctx::Field(f) => {
                let text = std::mem::take(&mut self.text);
                self.assign(f, trim(&text))?;
                self.text = text;
            }
            Ctx::Reason => {
                if let Some((kind, comment)) = self.reason.take() {
                    // An empty <reason/> (seen in the wild) says nothing.
                    if kind.is_some() || comment.is_some() {
                        self.record.policy_evaluated.reasons.push(OverrideReason {
                            kind: kind.unwrap_or(PolicyOverride::Other),
                            comment,
                        });
                    }
                }
            }
            Ctx::Record => {
                self.records += 1;
                if self.records > self.limits.max_records {
                    return Err(ReportError::TooManyRecords {
                        limit: self.limits.max_records,
                    });
                }
                let record = std::mem::take(&mut self.record);
                if crate::parse_source_ip(&record.source_ip).is_some() {
                    on_record(&self.header, record);
                } else {
                    let reason = if record.source_ip.is_empty() {
                        "a record without source_ip".to_owned()
                    } else {
                        format!(
                            "source_ip \"{}\" is not an IP address",
                            display_safe(&record.source_ip, 64)
                        )
                    };
                    self.header.rejected.add(record.count, reason);
                }
            }
            Ctx::DateRange => self.check_dates()?,
            Ctx::Feedback => return Ok(true),
            _ => {}
        }
        Ok(false)
    }

    fn assign(&mut self, f: F, v: &str) -> Result<(), ReportError> {
        let h = &mut self.header;
        let r = &mut self.record;
        match f {
            F::Version => h.version = opt(v),
            F::OrgName => h.metadata.org_name = v.to_owned(),
            F::Email => h.metadata.email = v.to_owned(),
            F::ReportId => h.metadata.report_id = v.to_owned(),
            F::ExtraContact => h.metadata.extra_contact_info = opt(v),
            F::Begin => h.metadata.date_range.begin = timestamp("begin", v)?,
            F::End => h.metadata.date_range.end = timestamp("end", v)?,
            F::Error => {
                if !v.is_empty() {
                    h.metadata.errors.push(v.to_owned());
                }
            }
            F::Generator => h.metadata.generator = opt(v),
            F::PDomain => {
                if !is_plausible_domain(v) {
                    return Err(ReportError::InvalidValue {
                        element: "domain",
                        value: display_safe(v, 40).into_owned(),
                        expected: "a domain name of at most 253 bytes without control characters",
                    });
                }
                h.policy_published.domain = v.to_owned();
            }
            F::Adkim => h.policy_published.adkim = Alignment::parse(v),
            F::Aspf => h.policy_published.aspf = Alignment::parse(v),
            F::P => h.policy_published.p = Disposition::parse(v),
            F::Sp => h.policy_published.sp = Disposition::parse(v),
            F::Np => h.policy_published.np = Disposition::parse(v),
            F::Pct => h.policy_published.pct = v.parse().ok(),
            F::Fo => h.policy_published.fo = opt(v),
            F::Testing => h.policy_published.testing = Testing::parse(v),
            F::Discovery => h.policy_published.discovery_method = DiscoveryMethod::parse(v),
            F::SourceIp => r.source_ip = v.to_owned(),
            F::Count => {
                r.count = if v.is_empty() {
                    0
                } else {
                    v.parse().map_err(|_| ReportError::InvalidValue {
                        element: "count",
                        value: short(v),
                        expected: "a non-negative integer",
                    })?
                }
            }
            F::Disposition => r.policy_evaluated.disposition = Disposition::parse(v),
            F::EvDkim => r.policy_evaluated.dkim = DmarcResult::parse(v),
            F::EvSpf => r.policy_evaluated.spf = DmarcResult::parse(v),
            F::ReasonType => {
                if let Some(reason) = &mut self.reason {
                    reason.0 = PolicyOverride::parse(v);
                }
            }
            F::ReasonComment => {
                if let Some(reason) = &mut self.reason {
                    reason.1 = opt(v);
                }
            }
            F::HeaderFrom => r.identifiers.header_from = domain_field(v),
            F::EnvFrom => r.identifiers.envelope_from = opt(v).map(|v| domain_field(&v)),
            F::EnvTo => r.identifiers.envelope_to = opt(v).map(|v| domain_field(&v)),
            F::DkimDomain | F::DkimSelector | F::DkimResult | F::DkimHuman => {
                if let Some(d) = r.auth_results.dkim.last_mut() {
                    match f {
                        F::DkimDomain => d.domain = domain_field(v),
                        F::DkimSelector => d.selector = opt(v),
                        F::DkimResult => d.result = DkimResult::parse(v),
                        _ => d.human_result = opt(v),
                    }
                }
            }
            F::SpfDomain | F::SpfScope | F::SpfResult | F::SpfHuman => {
                if let Some(s) = r.auth_results.spf.last_mut() {
                    match f {
                        F::SpfDomain => s.domain = domain_field(v),
                        F::SpfScope => s.scope = SpfScope::parse(v),
                        F::SpfResult => s.result = SpfResult::parse(v),
                        _ => s.human_result = opt(v),
                    }
                }
            }
        }
        Ok(())
    }

    /// A report is filed under the date its period begins: a period
    /// outside 1970–2100, or one that ends before it begins, is refused
    /// rather than filed under year -29719.
    fn check_dates(&self) -> Result<(), ReportError> {
        // 2100-01-01T00:00:00Z.
        const LAST: i64 = 4_102_444_800;
        let d = &self.header.metadata.date_range;
        let shown = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "beyond any calendar".into())
        };
        for (what, t) in [("begin", d.begin), ("end", d.end)] {
            if !(0..=LAST).contains(&t) {
                return Err(ReportError::InvalidDateRange(format!(
                    "date_range {what} {t} ({}) is outside 1970-01-01..2100-01-01",
                    shown(t)
                )));
            }
        }
        if d.end < d.begin {
            return Err(ReportError::InvalidDateRange(format!(
                "date_range ends at {} ({}) before it begins at {} ({})",
                d.end,
                shown(d.end),
                d.begin,
                shown(d.begin)
            )));
        }
        Ok(())
    }

    fn finish(self) -> Result<ReportHeader, ReportError> {
        if self.header.metadata.report_id.is_empty() {
            return Err(ReportError::MissingField("report_id"));
        }
        Ok(self.header)
    }

    fn eof(self) -> Result<ReportHeader, ReportError> {
        if self.started {
            let inner = self
                .stack
                .iter()
                .rev()
                .copied()
                .find(|c| !matches!(c, Ctx::Field(_) | Ctx::Skip))
                .unwrap_or(Ctx::Feedback);
            return Err(ReportError::Truncated {
                element: ctx_name(inner).to_owned(),
            });
        }
        match self.first_root {
            Some(root) => Err(ReportError::NotAggregateReport(format!(
                "the document has no <feedback> element (root is <{root}>)"
            ))),
            None if self.stray_text => Err(ReportError::NotAggregateReport(
                "the input has no XML elements".into(),
            )),
            None => Err(ReportError::Empty),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_names_match_by_local_name() {
        let xml = br#"<?xml version="1.0"?>
<d:feedback xmlns:d="urn:ietf:params:xml:ns:dmarc-2.0">
  <d:report_metadata><d:org_name>o</d:org_name><d:report_id>r1</d:report_id></d:report_metadata>
  <d:policy_published><d:domain>example.com</d:domain><d:p>reject</d:p></d:policy_published>
  <d:record>
    <d:row><d:source_ip>192.0.2.1</d:source_ip><d:count>3</d:count>
      <x:extra xmlns:x="urn:x"><d:count>9</d:count></x:extra></d:row>
    <d:identifiers><d:header_from>example.com</d:header_from></d:identifiers>
    <d:auth_results><d:spf><d:domain>example.com</d:domain><d:result>pass</d:result></d:spf></d:auth_results>
  </d:record>
</d:feedback>"#;
        let report = parse_report(&xml[..], &Limits::default()).unwrap();
        assert_eq!(report.metadata.report_id, "r1");
        assert_eq!(report.policy_published.p, Some(Disposition::Reject));
        let r = &report.records[0];
        assert_eq!((r.source_ip.as_str(), r.count), ("192.0.2.1", 3));
        assert_eq!(r.auth_results.spf[0].result, Some(SpfResult::Pass));
    }
}
