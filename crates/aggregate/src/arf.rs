//! DMARC failure reports (RFC 6591 `Feedback-Type: auth-failure` in the
//! Abuse Reporting Format of RFC 5965, as DMARC sends them to `ruf=`,
//! RFC 9991): the metadata of one report message, never its content.
//!
//! The message is parsed by mail-parser (as every mail of this crate). Of
//! its `message/feedback-report` part the fields are kept; of the third
//! part (`message/rfc822` or `text/rfc822-headers`) only the domain of the
//! header `From` and a SHA-256 of the `Message-ID` (for deduplication).
//!
//! Privacy: the body, the subject and every other header of the reported
//! message are never kept. Of `Original-Mail-From` only the domain is kept;
//! of `Original-Rcpt-To` the domain and a truncated SHA-256 of the
//! lower-cased address ([`RCPT_HASH_HEX`] hex digits), enough to count
//! distinct recipients, never the address itself.
//!
//! A report whose `Feedback-Type` is not `auth-failure` (abuse, fraud, …)
//! is [`ArfOutcome::Ignored`], not an error. A message that is not an ARF
//! report, or whose feedback part is missing or lacks its required fields,
//! is [`ReportError::InvalidFailureReport`].

use std::net::IpAddr;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::{display_safe, Limits, ReportError};

/// Hex digits kept of the SHA-256 of an `Original-Rcpt-To` address (64
/// bits): distinct recipients can be counted, the address cannot be looked
/// up from a list of candidates cheaply enough to matter at this length.
pub const RCPT_HASH_HEX: usize = 16;

/// The longest field value kept, in characters (a longer one is cut).
const MAX_FIELD_CHARS: usize = 500;

/// What one failure report says, metadata only (see the module's privacy
/// note).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FailureReport {
    /// The domain of the report message's `From` address: who reported.
    pub reporter: String,
    /// `Reporting-MTA`, when given.
    pub reporting_mta: Option<String>,
    /// `Feedback-Type`, lower-case (`auth-failure`).
    pub feedback_type: String,
    /// `Version`.
    pub version: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Auth-Failure`, lower-case: `dkim`, `spf`, `adsp`, `bodyhash`,
    /// `revoked`, `signature`, `dmarc`, or what the reporter sent.
    pub auth_failure: Option<String>,
    /// `Reported-Domain`, lower-case without a trailing dot (the first, when
    /// several are given).
    pub reported_domain: Option<String>,
    /// `Source-IP`, the address only (a reverse name in parentheses is
    /// dropped); `None` when it is not an IP address.
    pub source_ip: Option<String>,
    /// The domain of `Original-Mail-From` (the address is not kept).
    pub mail_from_domain: Option<String>,
    /// The domain of `Original-Rcpt-To` (the first, when several).
    pub rcpt_to_domain: Option<String>,
    /// Truncated SHA-256 (hex) of the lower-cased `Original-Rcpt-To`
    /// address, for counting distinct recipients.
    pub rcpt_to_hash: Option<String>,
    /// `Arrival-Date`, Unix seconds.
    pub arrival_date: Option<i64>,
    /// Why `Arrival-Date` could not be read, when it is given but is not an
    /// RFC 5322 date.
    pub arrival_date_error: Option<String>,
    /// `DKIM-Domain`.
    pub dkim_domain: Option<String>,
    /// `DKIM-Selector`.
    pub dkim_selector: Option<String>,
    /// `DKIM-Identity`.
    pub dkim_identity: Option<String>,
    /// `SPF-DNS`.
    pub spf_dns: Option<String>,
    /// `Identity-Alignment`, lower-case.
    pub identity_alignment: Option<String>,
    /// `Delivery-Result`, lower-case.
    pub delivery_result: Option<String>,
    /// `Incidents` (1 when not given).
    pub incidents: u64,
    /// The content type of the reported message's part:
    /// `message/rfc822` or `text/rfc822-headers`.
    pub original_part: Option<String>,
    /// The domain of the reported message's header `From`.
    pub header_from_domain: Option<String>,
    /// SHA-256 (hex) of the reported message's `Message-ID`.
    pub message_id_hash: Option<String>,
}

impl FailureReport {
    /// The deduplication key: reporter, arrival date, source IP and the
    /// Message-ID hash (or, without a Message-ID, the recipient hash and the
    /// reported domain), joined by `|`.
    pub fn dedup_key(&self) -> String {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        format!(
            "{}|{}|{}|{}|{}|{}|{}",
            self.reporter,
            self.reporting_mta.clone().unwrap_or_default(),
            self.arrival_date.map(|t| t.to_string()).unwrap_or_default(),
            o(&self.source_ip),
            o(&self.message_id_hash),
            o(&self.rcpt_to_hash),
            o(&self.reported_domain),
        )
    }
}

/// What a feedback report message turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArfOutcome {
    /// A DMARC failure report (`Feedback-Type: auth-failure`).
    Failure(Box<FailureReport>),
    /// Another feedback type (abuse, fraud, …): not a DMARC failure report.
    Ignored {
        /// The `Feedback-Type`, lower-case and escaped.
        feedback_type: String,
    },
}

/// Whether a parsed message is an ARF report: `multipart/report` with
/// `report-type=feedback-report`.
pub(crate) fn is_feedback_report(msg: &mail_parser::Message<'_>) -> bool {
    msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct
                .attribute("report-type")
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("feedback-report"))
    })
}

/// Whether the raw bytes of a message are an ARF report (parses the
/// message; see [`parse_failure_report`] for the caps).
pub fn is_feedback_report_message(message: &[u8]) -> bool {
    MessageParser::default()
        .parse_headers(message)
        .is_some_and(|m| is_feedback_report(&m))
}

fn invalid(why: impl Into<String>) -> ReportError {
    ReportError::InvalidFailureReport(why.into())
}

/// Parses one report message (the whole message, headers and parts). The
/// message is at most [`Limits::max_input_bytes`]; a longer one is refused
/// unread.
pub fn parse_failure_report(message: &[u8], limits: &Limits) -> Result<ArfOutcome, ReportError> {
    if message.len() as u64 > limits.max_input_bytes {
        return Err(ReportError::TooLarge {
            limit: limits.max_input_bytes,
        });
    }
    if message.iter().all(u8::is_ascii_whitespace) {
        return Err(ReportError::Empty);
    }
    crate::payload::mime_precheck(message)?;
    let msg = MessageParser::default()
        .parse(message)
        .ok_or_else(|| ReportError::Mail("not a parseable mail message".into()))?;
    from_message(&msg, limits)
}

pub(crate) fn from_message(
    msg: &mail_parser::Message<'_>,
    limits: &Limits,
) -> Result<ArfOutcome, ReportError> {
    if !is_feedback_report(msg) {
        return Err(invalid(
            "not a feedback report (expected multipart/report; report-type=feedback-report)",
        ));
    }
    let mut feedback: Option<&[u8]> = None;
    let mut original: Option<OriginalPart> = None;
    for part in msg.parts.iter().skip(1) {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let ctype = ct.ctype().to_ascii_lowercase();
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        match (ctype.as_str(), sub.as_str(), &part.body) {
            ("message", "feedback-report", body) if feedback.is_none() => {
                feedback = Some(part_bytes(body));
            }
            ("message", "rfc822" | "global", PartType::Message(inner)) if original.is_none() => {
                original = Some(OriginalPart::of_message("message/rfc822", inner));
            }
            ("text", "rfc822-headers", body) | ("message", "rfc822-headers", body)
                if original.is_none() =>
            {
                let bytes = part_bytes(body);
                original = Some(match MessageParser::default().parse_headers(bytes) {
                    Some(m) => OriginalPart::of_message("text/rfc822-headers", &m),
                    None => OriginalPart {
                        content_type: "text/rfc822-headers",
                        ..Default::default()
                    },
                });
            }
            _ => {}
        }
    }
    let feedback = feedback.ok_or_else(|| invalid("no message/feedback-report part"))?;
    let fields = feedback_fields(feedback, limits)?;
    let get = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let feedback_type = get("Feedback-Type")
        .map(|v| v.to_ascii_lowercase())
        .ok_or_else(|| invalid("the feedback report has no Feedback-Type field"))?;
    if feedback_type != "auth-failure" {
        return Ok(ArfOutcome::Ignored {
            feedback_type: display_safe(&feedback_type, 64).into_owned(),
        });
    }
    let lower = |name: &str| get(name).map(|v| v.to_ascii_lowercase());
    let reporter = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .and_then(address_domain)
        .ok_or_else(|| invalid("the report message has no From address with a domain"))?;
    let (arrival_date, arrival_date_error) = match get("Arrival-Date") {
        None => (None, None),
        Some(v) => match parse_date(&v) {
            Some(t) => (Some(t), None),
            None => (
                None,
                Some(format!(
                    "Arrival-Date {:?} is not an RFC 5322 date",
                    display_safe(&v, 64)
                )),
            ),
        },
    };
    let rcpt = get("Original-Rcpt-To").map(|v| strip_angle(&v).to_ascii_lowercase());
    let incidents = match get("Incidents") {
        None => 1,
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            invalid(format!(
                "Incidents is {:?}, expected a whole number",
                display_safe(&v, 32)
            ))
        })?,
    };
    let original = original.unwrap_or_default();
    let report = FailureReport {
        reporter,
        reporting_mta: get("Reporting-MTA").map(|v| {
            // `dns; mta.example`: the name after the type.
            v.split_once(';')
                .map_or(v.as_str(), |(_, n)| n)
                .trim()
                .to_ascii_lowercase()
        }),
        feedback_type,
        version: get("Version"),
        user_agent: get("User-Agent"),
        auth_failure: lower("Auth-Failure"),
        reported_domain: get("Reported-Domain").map(|v| domain_name(&v)),
        source_ip: get("Source-IP").and_then(|v| source_ip(&v)),
        mail_from_domain: get("Original-Mail-From").and_then(|v| address_domain(strip_angle(&v))),
        rcpt_to_domain: rcpt.as_deref().and_then(address_domain),
        rcpt_to_hash: rcpt
            .as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| sha256_hex(r.as_bytes())[..RCPT_HASH_HEX].to_string()),
        arrival_date,
        arrival_date_error,
        dkim_domain: get("DKIM-Domain").map(|v| domain_name(&v)),
        dkim_selector: get("DKIM-Selector"),
        dkim_identity: get("DKIM-Identity"),
        spf_dns: get("SPF-DNS"),
        identity_alignment: lower("Identity-Alignment"),
        delivery_result: lower("Delivery-Result"),
        incidents,
        original_part: Some(original.content_type.to_string()).filter(|s| !s.is_empty()),
        header_from_domain: original.from_domain,
        message_id_hash: original.message_id_hash,
    };
    Ok(ArfOutcome::Failure(Box::new(report)))
}

/// What is kept of the reported message.
#[derive(Default)]
struct OriginalPart {
    content_type: &'static str,
    from_domain: Option<String>,
    message_id_hash: Option<String>,
}

impl OriginalPart {
    fn of_message(content_type: &'static str, m: &mail_parser::Message<'_>) -> Self {
        OriginalPart {
            content_type,
            from_domain: m
                .from()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .and_then(address_domain),
            message_id_hash: m
                .message_id()
                .map(|id| id.trim().trim_matches(['<', '>']).to_string())
                .filter(|id| !id.is_empty())
                .map(|id| sha256_hex(id.as_bytes())),
        }
    }
}

fn part_bytes<'a>(body: &'a PartType<'_>) -> &'a [u8] {
    match body {
        PartType::Binary(b) | PartType::InlineBinary(b) => b,
        PartType::Text(t) | PartType::Html(t) => t.as_bytes(),
        _ => &[],
    }
}

/// The fields of the `message/feedback-report` part, unfolded and escaped,
/// in order. The part is a header block, read by mail-parser.
fn feedback_fields(body: &[u8], limits: &Limits) -> Result<Vec<(String, String)>, ReportError> {
    if body.len() > limits.max_text_bytes {
        return Err(ReportError::TextTooLong {
            limit: limits.max_text_bytes,
        });
    }
    // mail-parser reads a header block up to its blank line: make sure the
    // part ends with one.
    let mut block = body.to_vec();
    block.extend_from_slice(b"\r\n\r\n");
    let m = MessageParser::default()
        .parse_headers(&block[..])
        .ok_or_else(|| invalid("the message/feedback-report part holds no fields"))?;
    let mut out = Vec::new();
    for h in m.headers() {
        let (s, e) = (h.offset_start as usize, h.offset_end as usize);
        let Some(raw) = block.get(s..e) else { continue };
        let value = String::from_utf8_lossy(raw);
        let unfolded: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push((
            h.name.as_str().to_string(),
            display_safe(&unfolded, MAX_FIELD_CHARS).into_owned(),
        ));
    }
    if out.is_empty() {
        return Err(invalid("the message/feedback-report part holds no fields"));
    }
    Ok(out)
}

/// An RFC 5322 date (with an optional trailing comment) as Unix seconds,
/// within 1970–2100.
fn parse_date(v: &str) -> Option<i64> {
    let v = match v.find('(') {
        Some(i) => &v[..i],
        None => v,
    }
    .trim();
    let t = mail_parser::DateTime::parse_rfc822(v)?;
    if !t.is_valid() {
        return None;
    }
    let ts = t.to_timestamp();
    (0..4_102_444_800).contains(&ts).then_some(ts)
}

fn strip_angle(v: &str) -> &str {
    let v = v.trim();
    match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    }
}

/// The lower-case domain of an address (`user@Example.NET.` → `example.net`).
fn address_domain(addr: &str) -> Option<String> {
    let (_, d) = strip_angle(addr).rsplit_once('@')?;
    let d = domain_name(d);
    (!d.is_empty()).then_some(d)
}

fn domain_name(v: &str) -> String {
    display_safe(v.trim().trim_end_matches('.'), 253).to_ascii_lowercase()
}

/// `148.163.85.135 (sainay.example)` → `148.163.85.135`.
fn source_ip(v: &str) -> Option<String> {
    let first = v.split(|c: char| c.is_whitespace() || c == '(').next()?;
    let first = first.trim_matches(['[', ']']);
    first.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ip_drops_the_reverse_name() {
        assert_eq!(
            source_ip("148.163.85.135 (sainay.example)").as_deref(),
            Some("148.163.85.135")
        );
        assert_eq!(source_ip("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(source_ip("not-an-ip"), None);
    }

    #[test]
    fn dates_with_a_comment_parse() {
        assert_eq!(
            parse_date("8 Oct 2011 20:15:58 +0000 (GMT)"),
            Some(1_318_104_958)
        );
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn address_domains_are_lower_case() {
        assert_eq!(
            address_domain("<User@Example.NET.>").as_deref(),
            Some("example.net")
        );
        assert_eq!(address_domain("nobody"), None);
    }
}
