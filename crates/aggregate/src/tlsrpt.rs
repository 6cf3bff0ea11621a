//! SMTP TLS reports (RFC 8460): the JSON that sending MTAs mail to a
//! domain's `_smtp._tls` `rua`, parsed with bounded memory.
//!
//! The report is read by serde_json from a capped reader
//! ([`Limits::max_decompressed_bytes`]); the top-level object is walked by a
//! visitor and its `policies` array by a [`DeserializeSeed`], so each policy
//! is typed and handed out ([`parse_tls_report_with`]) before the next is
//! read: no JSON tree is built, whatever the report's size. Entries
//! (policies plus their `failure-details`) are capped by
//! [`Limits::max_records`].
//!
//! Lenient where real reporters deviate: a missing `summary` count is 0
//! (mail-auth's samples leave out `total-failure-session-count`), a missing
//! `policy-domain` is empty, an unknown `policy-type` is kept as sent,
//! `policy-string` and `mx-host` may be a string instead of a list, date
//! times may lack the `Z`, a UTF-8 byte order mark is skipped, unknown keys
//! are ignored. Strict where the data could not be filed or counted: the
//! organisation, the report id and the date range are required, the range
//! must lie in 1970–2100 and not end before it begins, counts must be whole
//! numbers up to 2^53.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::{Limits, ReportError};
use authwarden_api::tls_reports::{TlsFailure, TlsPolicyRow};

/// The largest count accepted: 2^53, the largest integer every JSON reader
/// keeps exact. Real reports count far fewer sessions.
pub const MAX_TLS_COUNT: u64 = 1 << 53;

/// What a TLS report says about itself (everything but `policies`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TlsReportHeader {
    /// `organization-name`.
    pub org_name: String,
    /// `report-id`.
    pub report_id: String,
    /// `contact-info`, when given.
    pub contact_info: Option<String>,
    /// `date-range.start-datetime`, Unix seconds.
    pub begin: i64,
    /// `date-range.end-datetime`, Unix seconds.
    pub end: i64,
    /// Policies in the report.
    pub policies: u64,
}

/// One `failure-details` entry, as reported (names lower-cased, without a
/// trailing dot).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TlsFailureDetail {
    /// `result-type`, e.g. `certificate-expired`.
    pub result_type: String,
    /// `sending-mta-ip`.
    pub sending_mta_ip: Option<String>,
    /// `receiving-mx-hostname`.
    pub receiving_mx_hostname: Option<String>,
    /// `receiving-mx-helo`.
    pub receiving_mx_helo: Option<String>,
    /// `receiving-ip`.
    pub receiving_ip: Option<String>,
    /// `failed-session-count`.
    pub count: u64,
    /// `additional-information` (a URI, by the RFC; any text in practice).
    pub additional_information: Option<String>,
    /// `failure-reason-code`.
    pub failure_reason_code: Option<String>,
}

/// One `policies[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TlsPolicy {
    /// `policy-type`: `sts`, `tlsa`, `no-policy-found` (other values kept).
    pub policy_type: String,
    /// `policy-string`, one entry per line of the policy.
    pub policy_string: Vec<String>,
    /// `policy-domain`, lower-case without a trailing dot; empty when left out.
    pub policy_domain: String,
    /// `mx-host` patterns.
    pub mx_hosts: Vec<String>,
    /// `total-successful-session-count`.
    pub successful: u64,
    /// `total-failure-session-count`.
    pub failed: u64,
    /// `failure-details`.
    pub failures: Vec<TlsFailureDetail>,
}

/// A whole TLS report.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TlsReport {
    /// The report's metadata.
    pub header: TlsReportHeader,
    /// Its policies, in order.
    pub policies: Vec<TlsPolicy>,
}

impl TlsReport {
    /// The rows the checkers read ([`TlsPolicyRow`]), one per policy.
    pub fn rows(&self, source: &str) -> Vec<TlsPolicyRow> {
        self.policies
            .iter()
            .map(|p| tls_policy_row(source, &self.header, p))
            .collect()
    }
}

/// One policy as the row checkers read.
pub fn tls_policy_row(source: &str, h: &TlsReportHeader, p: &TlsPolicy) -> TlsPolicyRow {
    TlsPolicyRow {
        org_name: h.org_name.clone(),
        report_id: h.report_id.clone(),
        source: source.to_string(),
        begin: h.begin,
        end: h.end,
        policy_domain: p.policy_domain.clone(),
        policy_type: p.policy_type.clone(),
        mx_hosts: p.mx_hosts.clone(),
        successful: p.successful,
        failed: p.failed,
        failures: p
            .failures
            .iter()
            .map(|f| TlsFailure {
                result_type: f.result_type.clone(),
                receiving_mx_hostname: f.receiving_mx_hostname.clone(),
                sending_mta_ip: f.sending_mta_ip.clone(),
                receiving_ip: f.receiving_ip.clone(),
                count: f.count,
            })
            .collect(),
        auth: None,
    }
}

/// Whether the first bytes of a decoded payload look like JSON (an object),
/// after an optional byte order mark and white space.
pub fn looks_like_json(head: &[u8]) -> bool {
    let body = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// Whether the first 4 KiB of `content` name keys that only TLS reports
/// have (`"organization-name"`, `"policies"`): tells a TLS report from other
/// JSON (an export, a config) by its content.
pub fn mentions_tls_keys(content: &[u8]) -> bool {
    let head = &content[..content.len().min(4096)];
    let has = |k: &[u8]| head.windows(k.len()).any(|w| w == k);
    looks_like_json(head) && (has(b"\"organization-name\"") || has(b"\"policies\""))
}

/// Parses a whole TLS report.
pub fn parse_tls_report(r: impl BufRead, limits: &Limits) -> Result<TlsReport, ReportError> {
    let mut policies = Vec::new();
    let header = parse_tls_report_with(r, limits, |p| policies.push(p))?;
    Ok(TlsReport { header, policies })
}

/// Parses a TLS report as a stream: `on_policy` gets each policy as soon as
/// it is read, and the header comes back at the end (its keys may follow
/// `policies` in the JSON). Memory: one policy at a time.
pub fn parse_tls_report_with(
    r: impl BufRead,
    limits: &Limits,
    mut on_policy: impl FnMut(TlsPolicy),
) -> Result<TlsReportHeader, ReportError> {
    let mut capped = Capped {
        inner: r,
        left: limits.max_decompressed_bytes,
        tripped: false,
        started: false,
    };
    let mut reader = BufReader::with_capacity(64 * 1024, &mut capped);
    if reader.fill_buf()?.is_empty() {
        return Err(ReportError::Empty);
    }
    let mut state = State {
        limits,
        entries: 0,
        on_policy: &mut on_policy,
    };
    let mut de = serde_json::Deserializer::from_reader(&mut reader);
    let result = ReportSeed { state: &mut state }
        .deserialize(&mut de)
        .and_then(|raw| de.end().map(|()| raw));
    drop(de);
    drop(reader);
    let raw = match result {
        Ok(raw) => raw,
        Err(e) => return Err(json_error(e, &capped, limits)),
    };
    raw.finish()
}

/// A reader with a total byte budget that skips a leading BOM.
struct Capped<R> {
    inner: R,
    left: u64,
    tripped: bool,
    started: bool,
}

impl<R: BufRead> Read for Capped<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.started {
            self.started = true;
            let head = self.inner.fill_buf()?;
            if head.starts_with(b"\xef\xbb\xbf") {
                self.inner.consume(3);
            }
        }
        let buf = self.inner.fill_buf()?;
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            self.tripped = true;
            return Err(io::Error::other("input limit reached"));
        }
        let n = buf.len().min(out.len()).min(self.left as usize);
        out[..n].copy_from_slice(&buf[..n]);
        self.inner.consume(n);
        self.left -= n as u64;
        Ok(n)
    }
}

fn json_error<R>(e: serde_json::Error, capped: &Capped<R>, limits: &Limits) -> ReportError {
    if capped.tripped {
        return ReportError::TooLarge {
            limit: limits.max_decompressed_bytes,
        };
    }
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        serde_json::error::Category::Io => crate::payload::io_to_report(io::Error::from(e)),
        serde_json::error::Category::Eof => ReportError::InvalidJson(format!(
            "the input ends inside the report (line {line}, column {column})"
        )),
        serde_json::error::Category::Syntax => {
            ReportError::InvalidJson(crate::display_safe(&e.to_string(), 300).into_owned())
        }
        serde_json::error::Category::Data => {
            // Our own messages say where; serde's say the line.
            ReportError::InvalidTlsReport(crate::display_safe(&e.to_string(), 300).into_owned())
        }
    }
}

struct State<'a, 'f> {
    limits: &'a Limits,
    /// Policies and failure details read so far.
    entries: u64,
    on_policy: &'f mut dyn FnMut(TlsPolicy),
}

impl State<'_, '_> {
    fn count<E: de::Error>(&mut self) -> Result<(), E> {
        self.entries += 1;
        if self.entries > self.limits.max_records {
            return Err(E::custom(format!(
                "more than {} policies and failure details (the records limit)",
                self.limits.max_records
            )));
        }
        Ok(())
    }
}

#[derive(Default)]
struct RawHeader {
    org_name: Option<String>,
    report_id: Option<String>,
    contact_info: Option<String>,
    date_range: Option<RawDateRange>,
    policies: Option<u64>,
}

impl RawHeader {
    fn finish(self) -> Result<TlsReportHeader, ReportError> {
        let required = |v: Option<String>, name: &str| match v.map(|s| s.trim().to_string()) {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(ReportError::InvalidTlsReport(format!(
                "\"{name}\" is missing or empty"
            ))),
        };
        let org_name = required(self.org_name, "organization-name")?;
        let report_id = required(self.report_id, "report-id")?;
        let range = self
            .date_range
            .ok_or_else(|| ReportError::InvalidTlsReport("\"date-range\" is missing".into()))?;
        let begin = parse_time(range.start.as_deref(), "start-datetime")?;
        let end = parse_time(range.end.as_deref(), "end-datetime")?;
        if end < begin {
            return Err(ReportError::InvalidDateRange(format!(
                "the TLS report's date-range ends ({end}) before it begins ({begin})"
            )));
        }
        let policies = self
            .policies
            .ok_or_else(|| ReportError::InvalidTlsReport("\"policies\" is missing".into()))?;
        Ok(TlsReportHeader {
            org_name,
            report_id,
            contact_info: self.contact_info.filter(|s| !s.trim().is_empty()),
            begin,
            end,
            policies,
        })
    }
}

#[derive(Deserialize)]
struct RawDateRange {
    #[serde(rename = "start-datetime")]
    start: Option<String>,
    #[serde(rename = "end-datetime")]
    end: Option<String>,
}

/// 1970-01-01 and 2100-01-01, Unix seconds.
const MIN_TIME: i64 = 0;
const MAX_TIME: i64 = 4_102_444_800;

fn parse_time(v: Option<&str>, name: &str) -> Result<i64, ReportError> {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return Err(ReportError::InvalidTlsReport(format!(
            "\"date-range\".\"{name}\" is missing"
        )));
    };
    let t = chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| t.timestamp())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(v.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S")
                .or_else(|_| {
                    chrono::NaiveDateTime::parse_from_str(
                        v.trim_end_matches('Z'),
                        "%Y-%m-%d %H:%M:%S",
                    )
                })
                .map(|t| t.and_utc().timestamp())
        })
        .map_err(|_| {
            ReportError::InvalidTlsReport(format!(
                "\"date-range\".\"{name}\" is {:?}, expected an RFC 3339 date-time",
                crate::display_safe(v, 64)
            ))
        })?;
    if !(MIN_TIME..MAX_TIME).contains(&t) {
        return Err(ReportError::InvalidDateRange(format!(
            "the TLS report's \"{name}\" {v:?} lies outside 1970–2100"
        )));
    }
    Ok(t)
}

struct ReportSeed<'s, 'a, 'f> {
    state: &'s mut State<'a, 'f>,
}

impl<'de> DeserializeSeed<'de> for ReportSeed<'_, '_, '_> {
    type Value = RawHeader;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawHeader, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ReportSeed<'_, '_, '_> {
    type Value = RawHeader;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an SMTP TLS report (a JSON object with \"policies\")")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawHeader, A::Error> {
        let mut h = RawHeader::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "organization-name" => h.org_name = map.next_value::<Option<String>>()?,
                "report-id" => h.report_id = map.next_value::<Option<String>>()?,
                "contact-info" => h.contact_info = map.next_value::<Option<String>>()?,
                "date-range" => h.date_range = Some(map.next_value()?),
                "policies" => {
                    let n = map.next_value_seed(PoliciesSeed {
                        state: &mut *self.state,
                    })?;
                    h.policies = Some(n);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(h)
    }
}

struct PoliciesSeed<'s, 'a, 'f> {
    state: &'s mut State<'a, 'f>,
}

impl<'de> DeserializeSeed<'de> for PoliciesSeed<'_, '_, '_> {
    type Value = u64;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PoliciesSeed<'_, '_, '_> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"policies\" as a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut n = 0u64;
        loop {
            self.state.count()?;
            let Some(p) = seq.next_element_seed(PolicySeed {
                state: &mut *self.state,
                index: n,
            })?
            else {
                self.state.entries -= 1;
                break;
            };
            n += 1;
            (self.state.on_policy)(p);
        }
        Ok(n)
    }
}

struct PolicySeed<'s, 'a, 'f> {
    state: &'s mut State<'a, 'f>,
    index: u64,
}

#[derive(Deserialize, Default)]
struct RawPolicy {
    #[serde(rename = "policy-type")]
    policy_type: Option<String>,
    #[serde(rename = "policy-string", default)]
    policy_string: OneOrMany,
    #[serde(rename = "policy-domain")]
    policy_domain: Option<String>,
    #[serde(rename = "mx-host", default)]
    mx_host: OneOrMany,
}

#[derive(Deserialize, Default)]
struct RawSummary {
    #[serde(rename = "total-successful-session-count")]
    successful: Option<Count>,
    #[serde(rename = "total-failure-session-count")]
    failed: Option<Count>,
}

/// A string or a list of strings (`null` is none).
#[derive(Default)]
struct OneOrMany(Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
            None(()),
        }
        Ok(OneOrMany(match Raw::deserialize(d)? {
            Raw::One(s) => vec![s],
            Raw::Many(v) => v,
            Raw::None(()) => Vec::new(),
        }))
    }
}

/// A session count: a whole number in 0..=2^53.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a session count (a whole number from 0 to {MAX_TLS_COUNT})"
                )
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                if v > MAX_TLS_COUNT {
                    return Err(E::custom(format!(
                        "session count {v} is out of range (at most {MAX_TLS_COUNT})"
                    )));
                }
                Ok(Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!(
                        "session count {v} is out of range (negative)"
                    ))),
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                if v.fract() == 0.0 && (0.0..=MAX_TLS_COUNT as f64).contains(&v) {
                    return Ok(Count(v as u64));
                }
                Err(E::custom(format!(
                    "session count {v} is out of range (a whole number from 0 to {MAX_TLS_COUNT})"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct RawFailure {
    #[serde(rename = "result-type")]
    result_type: Option<String>,
    #[serde(rename = "sending-mta-ip")]
    sending_mta_ip: Option<String>,
    #[serde(rename = "receiving-mx-hostname")]
    receiving_mx_hostname: Option<String>,
    #[serde(rename = "receiving-mx-helo")]
    receiving_mx_helo: Option<String>,
    #[serde(rename = "receiving-ip")]
    receiving_ip: Option<String>,
    #[serde(rename = "failed-session-count")]
    count: Option<Count>,
    #[serde(rename = "additional-information")]
    additional_information: Option<String>,
    #[serde(rename = "failure-reason-code")]
    failure_reason_code: Option<String>,
}

fn host_name(s: &str) -> String {
    s.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn text(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

impl<'de> DeserializeSeed<'de> for PolicySeed<'_, '_, '_> {
    type Value = TlsPolicy;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<TlsPolicy, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PolicySeed<'_, '_, '_> {
    type Value = TlsPolicy;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a policy entry (an object with \"policy\" and \"summary\")")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TlsPolicy, A::Error> {
        let mut policy: Option<RawPolicy> = None;
        let mut summary = RawSummary::default();
        let mut failures = Vec::new();
        let at = self.index;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "policy" => policy = Some(map.next_value()?),
                "summary" => summary = map.next_value::<Option<RawSummary>>()?.unwrap_or_default(),
                "failure-details" => {
                    map.next_value_seed(FailuresSeed {
                        state: &mut *self.state,
                        out: &mut failures,
                        policy: at,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let policy =
            policy.ok_or_else(|| de::Error::custom(format!("policies[{at}] has no \"policy\"")))?;
        let policy_type = text(policy.policy_type).ok_or_else(|| {
            de::Error::custom(format!("policies[{at}].policy has no \"policy-type\""))
        })?;
        Ok(TlsPolicy {
            policy_type: policy_type.to_ascii_lowercase(),
            policy_string: policy.policy_string.0,
            policy_domain: policy
                .policy_domain
                .as_deref()
                .map(host_name)
                .unwrap_or_default(),
            mx_hosts: policy
                .mx_host
                .0
                .iter()
                .map(|m| host_name(m))
                .filter(|m| !m.is_empty())
                .collect(),
            successful: summary.successful.map_or(0, |c| c.0),
            failed: summary.failed.map_or(0, |c| c.0),
            failures,
        })
    }
}

struct FailuresSeed<'s, 'a, 'f, 'o> {
    state: &'s mut State<'a, 'f>,
    out: &'o mut Vec<TlsFailureDetail>,
    policy: u64,
}

impl<'de> DeserializeSeed<'de> for FailuresSeed<'_, '_, '_, '_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FailuresSeed<'_, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"failure-details\" as a list")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0u64;
        while let Some(raw) = seq.next_element::<RawFailure>()? {
            self.state.count()?;
            let result_type = text(raw.result_type).ok_or_else(|| {
                de::Error::custom(format!(
                    "policies[{}].failure-details[{i}] has no \"result-type\"",
                    self.policy
                ))
            })?;
            self.out.push(TlsFailureDetail {
                result_type: result_type.to_ascii_lowercase(),
                sending_mta_ip: text(raw.sending_mta_ip),
                receiving_mx_hostname: text(raw.receiving_mx_hostname).map(|h| host_name(&h)),
                receiving_mx_helo: text(raw.receiving_mx_helo),
                receiving_ip: text(raw.receiving_ip),
                count: raw.count.map_or(0, |c| c.0),
                additional_information: text(raw.additional_information),
                failure_reason_code: text(raw.failure_reason_code),
            });
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<TlsReport, ReportError> {
        parse_tls_report(s.as_bytes(), &Limits::default())
    }

    const GOOD: &str = r#"{"organization-name":"Org","date-range":{"start-datetime":"2026-11-02T00:00:00Z","end-datetime":"2026-11-02T23:59:59Z"},"contact-info":"x@example.net","report-id":"r1","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: enforce"],"policy-domain":"Example.COM.","mx-host":["*.example.com"]},"summary":{"total-successful-session-count":10,"total-failure-session-count":2},"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-mx-hostname":"MX1.example.com.","failed-session-count":2}]}]}"#;

    #[test]
    fn a_report_parses_with_names_normalised() {
        let r = parse(GOOD).unwrap();
        assert_eq!(r.header.org_name, "Org");
        assert_eq!(r.header.policies, 1);
        let p = &r.policies[0];
        assert_eq!(p.policy_domain, "example.com");
        assert_eq!((p.successful, p.failed), (10, 2));
        assert_eq!(
            p.failures[0].receiving_mx_hostname.as_deref(),
            Some("mx1.example.com")
        );
        assert_eq!(p.policy_string.len(), 2);
    }

    #[test]
    fn header_keys_after_the_policies_are_read_too() {
        let s = r#"{"policies":[],"report-id":"x","organization-name":"O","date-range":{"start-datetime":"2026-01-01T00:00:00","end-datetime":"2026-01-02T00:00:00Z"}}"#;
        let r = parse(s).unwrap();
        assert_eq!(r.header.report_id, "x");
        assert_eq!(r.header.begin, 1_767_225_600);
    }

    #[test]
    fn broken_input_says_why() {
        assert_eq!(parse("").unwrap_err().code(), "empty");
        assert_eq!(
            parse("{\"policies\": [").unwrap_err().code(),
            "invalid_json"
        );
        assert_eq!(parse("[1,2]").unwrap_err().code(), "invalid_tls_report");
        let missing = parse(r#"{"policies":[]}"#).unwrap_err().to_string();
        assert!(missing.contains("organization-name"), "{missing}");
        let huge = GOOD.replace(
            "\"total-successful-session-count\":10",
            "\"total-successful-session-count\":100000000000000000000",
        );
        let e = parse(&huge).unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        let neg = GOOD.replace(":10,", ":-1,");
        assert!(parse(&neg).unwrap_err().to_string().contains("negative"));
        let late = GOOD.replace("2026-11-02T23:59:59Z", "2026-11-01T23:59:59Z");
        assert_eq!(parse(&late).unwrap_err().code(), "invalid_date_range");
    }

    #[test]
    fn the_size_and_entry_caps_hold() {
        let small = Limits {
            max_decompressed_bytes: 100,
            ..Limits::default()
        };
        let e = parse_tls_report(GOOD.as_bytes(), &small).unwrap_err();
        assert_eq!(e.code(), "too_large", "{e}");
        let few = Limits {
            max_records: 1,
            ..Limits::default()
        };
        let e = parse_tls_report(GOOD.as_bytes(), &few).unwrap_err();
        assert!(e.to_string().contains("records limit"), "{e}");
    }

    #[test]
    fn a_bom_and_a_single_mx_string_are_accepted() {
        let s = format!(
            "\u{feff}{}",
            GOOD.replace("[\"*.example.com\"]", "\"mx.example.com\"")
        );
        let r = parse(&s).unwrap();
        assert_eq!(r.policies[0].mx_hosts, vec!["mx.example.com"]);
    }
}
