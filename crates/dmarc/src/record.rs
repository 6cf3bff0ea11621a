//! The DMARC record: its types, a lenient parser that collects every syntax
//! issue instead of stopping at the first, and a serialiser for suggested
//! records.
//!
//! The grammar is RFC 7489 section 6.4 with the tags RFC 9989 (DMARCbis)
//! adds (`np`, `t`, `psd`); the tags RFC 9989 retires (`pct`, `rf`, `ri`)
//! are still parsed because published records carry them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::discovery::RecordSource;

/// Every tag this parser knows, in the order [`DmarcRecord::to_txt`] writes them.
pub const KNOWN_TAGS: &[&str] = &[
    "v", "p", "sp", "np", "pct", "t", "adkim", "aspf", "fo", "rua", "ruf", "rf", "ri", "psd",
];

/// The default report interval (`ri`), one day in seconds.
pub const DEFAULT_REPORT_INTERVAL: u32 = 86_400;

/// A requested disposition for failing mail (`p`, `sp`, `np`), ordered from
/// weakest to strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Monitoring only: failing mail is delivered as usual.
    None,
    /// Failing mail goes to spam / quarantine.
    Quarantine,
    /// Failing mail is rejected during the SMTP transaction.
    Reject,
}

impl Policy {
    /// The accepted values, for did-you-mean suggestions.
    pub const NAMES: &'static [&'static str] = &["none", "quarantine", "reject"];

    /// The value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "none",
            Policy::Quarantine => "quarantine",
            Policy::Reject => "reject",
        }
    }

    /// Parses a value (case-insensitive, as the ABNF literals are).
    pub fn parse(value: &str) -> Option<Self> {
        match value.to_ascii_lowercase().as_str() {
            "none" => Some(Policy::None),
            "quarantine" => Some(Policy::Quarantine),
            "reject" => Some(Policy::Reject),
            _ => None,
        }
    }

    /// The next weaker policy: what receivers apply to mail left out by
    /// `pct` (RFC 7489 section 6.6.4) or in testing mode (`t=y`, RFC 9989).
    pub fn weaker(self) -> Policy {
        match self {
            Policy::Reject => Policy::Quarantine,
            Policy::Quarantine | Policy::None => Policy::None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifier alignment mode (`adkim`, `aspf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alignment {
    /// `r`: the organizational domains must match (the default).
    #[serde(rename = "r")]
    Relaxed,
    /// `s`: the domains must match exactly.
    #[serde(rename = "s")]
    Strict,
}

impl Alignment {
    /// The value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            Alignment::Relaxed => "r",
            Alignment::Strict => "s",
        }
    }
}

/// A failure reporting option (`fo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureOption {
    /// `0`: report when all mechanisms fail to produce an aligned pass (the default).
    #[serde(rename = "0")]
    AllFail,
    /// `1`: report when any mechanism fails to produce an aligned pass.
    #[serde(rename = "1")]
    AnyFail,
    /// `d`: report when DKIM fails, aligned or not.
    #[serde(rename = "d")]
    Dkim,
    /// `s`: report when SPF fails, aligned or not.
    #[serde(rename = "s")]
    Spf,
}

impl FailureOption {
    /// The value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureOption::AllFail => "0",
            FailureOption::AnyFail => "1",
            FailureOption::Dkim => "d",
            FailureOption::Spf => "s",
        }
    }
}

/// A failure report format (`rf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// The Authentication Failure Reporting Format (RFC 6591), the default.
    Afrf,
    /// The Incident Object Description Exchange Format (RFC 5070).
    Iodef,
}

impl ReportFormat {
    /// The value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Afrf => "afrf",
            ReportFormat::Iodef => "iodef",
        }
    }
}

/// The public suffix domain flag (`psd`, RFC 9989).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PsdFlag {
    /// `y`: the domain is a public suffix domain.
    #[serde(rename = "y")]
    Yes,
    /// `n`: the domain is an organizational domain.
    #[serde(rename = "n")]
    No,
    /// `u`: unspecified (the default).
    #[serde(rename = "u")]
    Unspecified,
}

impl PsdFlag {
    /// The value as written in a record.
    pub fn as_str(self) -> &'static str {
        match self {
            PsdFlag::Yes => "y",
            PsdFlag::No => "n",
            PsdFlag::Unspecified => "u",
        }
    }
}

/// One report destination from `rua` or `ruf`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportUri {
    /// The URI without the size limit, e.g. `mailto:dmarc@example.org`.
    pub uri: String,
    /// The size limit as written after `!`, e.g. `10m`.
    pub max_size: Option<String>,
}

impl ReportUri {
    /// The scheme, lower-case, e.g. `mailto`.
    pub fn scheme(&self) -> String {
        self.uri
            .split_once(':')
            .map(|(s, _)| s.to_ascii_lowercase())
            .unwrap_or_default()
    }

    /// True for a `mailto:` URI, the only scheme receivers deliver to.
    pub fn is_mailto(&self) -> bool {
        self.scheme() == "mailto"
    }

    /// For `mailto:`, the address without any `?` header fields.
    pub fn mailto_address(&self) -> Option<&str> {
        let (scheme, rest) = self.uri.split_once(':')?;
        if !scheme.eq_ignore_ascii_case("mailto") {
            return None;
        }
        Some(rest.split('?').next().unwrap_or(rest))
    }

    /// For `mailto:`, the host the reports are sent to, lower-case.
    pub fn mailto_host(&self) -> Option<String> {
        let (_, host) = self.mailto_address()?.rsplit_once('@')?;
        Some(authwarden_api::domain::normalize_name(host))
    }

    /// The size limit in bytes, when one is given.
    pub fn max_bytes(&self) -> Option<u64> {
        let size = self.max_size.as_deref()?;
        let (digits, unit) = match size.char_indices().last()? {
            (i, c) if c.is_ascii_alphabetic() => (&size[..i], Some(c.to_ascii_lowercase())),
            _ => (size, None),
        };
        let n: u64 = digits.parse().ok()?;
        let factor: u64 = match unit {
            None => 1,
            Some('k') => 1 << 10,
            Some('m') => 1 << 20,
            Some('g') => 1 << 30,
            Some('t') => 1 << 40,
            Some(_) => return None,
        };
        n.checked_mul(factor)
    }
}

impl fmt::Display for ReportUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.max_size {
            Some(size) => write!(f, "{}!{}", self.uri, size),
            None => f.write_str(&self.uri),
        }
    }
}

/// One `name=value` pair as written in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// The tag name, lower-case.
    pub name: String,
    /// The value, surrounding whitespace trimmed.
    pub value: String,
}

/// A parsed DMARC record. Fields are `None` (or empty) when the tag is absent
/// or its value was invalid; the `effective_*` methods apply the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcRecord {
    /// The record text as published.
    pub text: String,
    /// Every tag as written, in order, unknown ones included.
    pub tags: Vec<Tag>,
    /// `p`: the policy for the domain.
    pub policy: Option<Policy>,
    /// `sp`: the policy for subdomains.
    pub subdomain_policy: Option<Policy>,
    /// `np`: the policy for non-existent subdomains (RFC 9989).
    pub nonexistent_subdomain_policy: Option<Policy>,
    /// `pct`: the percentage of failing mail the policy applies to (RFC 7489).
    pub pct: Option<u8>,
    /// `t`: testing mode (RFC 9989).
    pub testing: Option<bool>,
    /// `adkim`: DKIM alignment mode.
    pub adkim: Option<Alignment>,
    /// `aspf`: SPF alignment mode.
    pub aspf: Option<Alignment>,
    /// `fo`: failure reporting options.
    pub fo: Option<Vec<FailureOption>>,
    /// `rua`: aggregate report destinations (valid URIs only).
    pub rua: Vec<ReportUri>,
    /// `ruf`: failure report destinations (valid URIs only).
    pub ruf: Vec<ReportUri>,
    /// `rf`: failure report formats.
    pub rf: Option<Vec<ReportFormat>>,
    /// `ri`: requested aggregate report interval in seconds.
    pub ri: Option<u32>,
    /// `psd`: public suffix domain flag (RFC 9989).
    pub psd: Option<PsdFlag>,
}

impl DmarcRecord {
    /// An empty record (`v=DMARC1` only).
    pub fn new() -> Self {
        DmarcRecord::default()
    }

    /// The policy receivers apply to the domain itself. A missing or invalid
    /// `p` counts as `none`: RFC 9989 says so for any otherwise valid record,
    /// RFC 7489 section 6.6.3 when `rua` holds a valid URI (otherwise RFC 7489
    /// receivers ignore the record, see [`DmarcRecord::ignored_by_rfc7489`]).
    pub fn effective_policy(&self) -> Policy {
        self.policy.unwrap_or(Policy::None)
    }

    /// True when an RFC 7489 receiver ignores the record: `p` missing or
    /// invalid and no valid `rua` URI.
    pub fn ignored_by_rfc7489(&self) -> bool {
        self.policy.is_none() && self.rua.is_empty()
    }

    /// The policy for subdomains: `sp`, else `p`.
    pub fn effective_subdomain_policy(&self) -> Policy {
        self.subdomain_policy
            .unwrap_or_else(|| self.effective_policy())
    }

    /// The policy applied to a domain whose governing record this is:
    /// `p` when the record is the domain's own; when it was found at the
    /// organizational domain, its `sp` if present, else `p` (RFC 7489
    /// section 6.6.3).
    pub fn applied_policy(&self, source: RecordSource) -> Policy {
        match (source, self.subdomain_policy) {
            (RecordSource::Organizational, Some(sp)) => sp,
            _ => self.effective_policy(),
        }
    }

    /// The policy for non-existent subdomains: `np`, else `sp`, else `p`.
    pub fn effective_nonexistent_subdomain_policy(&self) -> Policy {
        self.nonexistent_subdomain_policy
            .unwrap_or_else(|| self.effective_subdomain_policy())
    }

    /// `pct`, 100 when absent.
    pub fn effective_pct(&self) -> u8 {
        self.pct.unwrap_or(100)
    }

    /// `t=y`.
    pub fn is_testing(&self) -> bool {
        self.testing.unwrap_or(false)
    }

    /// `adkim`, relaxed when absent.
    pub fn effective_adkim(&self) -> Alignment {
        self.adkim.unwrap_or(Alignment::Relaxed)
    }

    /// `aspf`, relaxed when absent.
    pub fn effective_aspf(&self) -> Alignment {
        self.aspf.unwrap_or(Alignment::Relaxed)
    }

    /// `fo`, `0` when absent.
    pub fn effective_fo(&self) -> Vec<FailureOption> {
        self.fo
            .clone()
            .unwrap_or_else(|| vec![FailureOption::AllFail])
    }

    /// `ri`, one day when absent.
    pub fn effective_ri(&self) -> u32 {
        self.ri.unwrap_or(DEFAULT_REPORT_INTERVAL)
    }

    /// The record text receivers would read from the parsed values: tags in
    /// canonical order, defaults and unknown or invalid tags left out except
    /// where present in the original. Used to build suggested records.
    pub fn to_txt(&self) -> String {
        let mut parts = vec!["v=DMARC1".to_string()];
        if let Some(p) = self.policy {
            parts.push(format!("p={p}"));
        }
        if let Some(sp) = self.subdomain_policy {
            parts.push(format!("sp={sp}"));
        }
        if let Some(np) = self.nonexistent_subdomain_policy {
            parts.push(format!("np={np}"));
        }
        if let Some(pct) = self.pct {
            parts.push(format!("pct={pct}"));
        }
        if let Some(t) = self.testing {
            parts.push(format!("t={}", if t { "y" } else { "n" }));
        }
        if let Some(a) = self.adkim {
            parts.push(format!("adkim={}", a.as_str()));
        }
        if let Some(a) = self.aspf {
            parts.push(format!("aspf={}", a.as_str()));
        }
        if let Some(fo) = &self.fo {
            let fo: Vec<_> = fo.iter().map(|o| o.as_str()).collect();
            parts.push(format!("fo={}", fo.join(":")));
        }
        if !self.rua.is_empty() {
            parts.push(format!("rua={}", join_uris(&self.rua)));
        }
        if !self.ruf.is_empty() {
            parts.push(format!("ruf={}", join_uris(&self.ruf)));
        }
        if let Some(rf) = &self.rf {
            let rf: Vec<_> = rf.iter().map(|f| f.as_str()).collect();
            parts.push(format!("rf={}", rf.join(":")));
        }
        if let Some(ri) = self.ri {
            parts.push(format!("ri={ri}"));
        }
        if let Some(psd) = self.psd {
            parts.push(format!("psd={}", psd.as_str()));
        }
        parts.join("; ")
    }

    /// Sets one tag from its textual value, as the parser does; unknown tags
    /// and invalid values are returned as an issue and change nothing.
    /// `v` is accepted only as `DMARC1`.
    pub fn set_tag(&mut self, name: &str, value: &str) -> Result<(), SyntaxIssue> {
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        let invalid = |expected: &str, suggestion: Option<String>| {
            SyntaxIssue::invalid_value(&name, value, expected, suggestion)
        };
        match name.as_str() {
            "v" => {
                if value != "DMARC1" {
                    return Err(invalid("`DMARC1`", close_match(value, &["DMARC1"])));
                }
            }
            "p" | "sp" | "np" => {
                let policy = Policy::parse(value).ok_or_else(|| {
                    invalid(
                        "one of none, quarantine, reject",
                        close_match(value, Policy::NAMES),
                    )
                })?;
                match name.as_str() {
                    "p" => self.policy = Some(policy),
                    "sp" => self.subdomain_policy = Some(policy),
                    _ => self.nonexistent_subdomain_policy = Some(policy),
                }
            }
            "pct" => {
                let digits = value.strip_suffix('%').unwrap_or(value);
                match digits.parse::<u64>() {
                    Ok(n) if n <= 100 && digits == value => self.pct = Some(n as u8),
                    Ok(n) if n <= 100 => {
                        return Err(invalid("an integer from 0 to 100", Some(n.to_string())))
                    }
                    Ok(_) => return Err(invalid("an integer from 0 to 100", Some("100".into()))),
                    Err(_) => return Err(invalid("an integer from 0 to 100", None)),
                }
            }
            "t" => {
                self.testing = Some(
                    parse_yes_no(value)
                        .ok_or_else(|| invalid("y or n", letter_hint(value, &["y", "n"])))?,
                )
            }
            "adkim" | "aspf" => {
                let mode = match value.to_ascii_lowercase().as_str() {
                    "r" => Alignment::Relaxed,
                    "s" => Alignment::Strict,
                    _ => return Err(invalid("r or s", letter_hint(value, &["r", "s"]))),
                };
                if name == "adkim" {
                    self.adkim = Some(mode);
                } else {
                    self.aspf = Some(mode);
                }
            }
            "fo" => {
                let mut options = Vec::new();
                for item in value.split(':') {
                    let option = match item.trim().to_ascii_lowercase().as_str() {
                        "0" => FailureOption::AllFail,
                        "1" => FailureOption::AnyFail,
                        "d" => FailureOption::Dkim,
                        "s" => FailureOption::Spf,
                        _ => return Err(invalid("a colon-separated list of 0, 1, d, s", None)),
                    };
                    if !options.contains(&option) {
                        options.push(option);
                    }
                }
                self.fo = Some(options);
            }
            "rua" | "ruf" => {
                let uris = parse_uri_list(&name, value)?;
                if name == "rua" {
                    self.rua = uris;
                } else {
                    self.ruf = uris;
                }
            }
            "rf" => {
                let mut formats = Vec::new();
                for item in value.split(':') {
                    let format = match item.trim().to_ascii_lowercase().as_str() {
                        "afrf" => ReportFormat::Afrf,
                        "iodef" => ReportFormat::Iodef,
                        other => {
                            return Err(invalid(
                                "afrf or iodef",
                                close_match(other, &["afrf", "iodef"]),
                            ))
                        }
                    };
                    if !formats.contains(&format) {
                        formats.push(format);
                    }
                }
                self.rf = Some(formats);
            }
            "ri" => match value.parse::<u32>() {
                Ok(n) => self.ri = Some(n),
                Err(_) => {
                    return Err(invalid(
                        "a number of seconds",
                        value
                            .strip_suffix('s')
                            .filter(|d| d.parse::<u32>().is_ok())
                            .map(str::to_string),
                    ))
                }
            },
            "psd" => {
                let flag = match value.to_ascii_lowercase().as_str() {
                    "y" => PsdFlag::Yes,
                    "n" => PsdFlag::No,
                    "u" => PsdFlag::Unspecified,
                    _ => return Err(invalid("y, n or u", letter_hint(value, &["y", "n", "u"]))),
                };
                self.psd = Some(flag);
            }
            _ => return Err(SyntaxIssue::unknown_tag(&name, value)),
        }
        Ok(())
    }
}

fn join_uris(uris: &[ReportUri]) -> String {
    uris.iter()
        .map(ReportUri::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_yes_no(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "y" => Some(true),
        "n" => Some(false),
        _ => None,
    }
}

/// For one-letter values: `yes` → `y`, `strict` → `s`, `true` → `y`.
fn letter_hint(value: &str, options: &[&str]) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    match lower.as_str() {
        "true" | "1" if options.contains(&"y") => return Some("y".into()),
        "false" | "0" if options.contains(&"n") => return Some("n".into()),
        _ => {}
    }
    let first = lower.get(..1)?;
    options
        .iter()
        .find(|o| **o == first && lower.len() > 1)
        .map(|o| o.to_string())
}

/// The closest candidate within a small edit distance, for did-you-mean.
pub fn close_match(value: &str, candidates: &[&str]) -> Option<String> {
    let lower = value.to_ascii_lowercase();
    if lower.is_empty() {
        return None;
    }
    let limit = edit_limit(&lower);
    candidates
        .iter()
        .map(|c| (strsim::osa_distance(&lower, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Splits `v=DMARC1 p=reject` into `v=DMARC1` and `p=reject`: a known tag
/// name followed by `=` after whitespace inside a value starts a new tag.
fn split_missing_semicolons(part: &str) -> Vec<&str> {
    let Some(eq) = part.find('=') else {
        return vec![part];
    };
    let mut pieces = Vec::new();
    let mut start = 0;
    let bytes = part.as_bytes();
    for i in eq + 1..part.len() {
        // Only where a word starts after whitespace (an ASCII byte, so `i`
        // is a character boundary).
        if !bytes[i - 1].is_ascii_whitespace() || bytes[i].is_ascii_whitespace() {
            continue;
        }
        let rest = &part[i..];
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let starts_tag = KNOWN_TAGS.contains(&rest[..name_len].to_ascii_lowercase().as_str())
            && rest[name_len..].trim_start().starts_with('=');
        if starts_tag && part[start..i].contains('=') {
            pieces.push(part[start..i].trim_end());
            start = i;
        }
    }
    pieces.push(&part[start..]);
    pieces
}

/// How many edits still count as a near miss: one per three characters,
/// at least one, at most three.
fn edit_limit(value: &str) -> usize {
    (value.chars().count() / 3).clamp(1, 3)
}

/// A value for a message: control and non-ASCII characters escaped, so that
/// a report never carries raw control bytes or replacement characters.
fn shown(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_control() || !c.is_ascii() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn parse_uri_list(tag: &str, value: &str) -> Result<Vec<ReportUri>, SyntaxIssue> {
    let mut uris = Vec::new();
    for item in value.split(',') {
        let item = item.trim();
        let (uri, max_size) = match item.rsplit_once('!') {
            Some((uri, size)) if is_size(size) => (uri.trim(), Some(size.to_ascii_lowercase())),
            Some(_) => {
                return Err(SyntaxIssue::invalid_value(
                    tag,
                    item,
                    "a size limit like `!10m` after `!`",
                    None,
                ))
            }
            None => (item, None),
        };
        validate_uri(tag, uri)?;
        uris.push(ReportUri {
            uri: uri.to_string(),
            max_size,
        });
    }
    Ok(uris)
}

fn is_size(size: &str) -> bool {
    let digits = size.trim_end_matches(|c: char| "kmgtKMGT".contains(c));
    let unit_len = size.len() - digits.len();
    unit_len <= 1 && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn validate_uri(tag: &str, uri: &str) -> Result<(), SyntaxIssue> {
    let expected = "a uri like `mailto:dmarc@example.org`";
    let scheme_ok = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    };
    match uri.split_once(':') {
        Some((scheme, rest)) if scheme_ok(scheme) && !rest.is_empty() => {
            if scheme.eq_ignore_ascii_case("mailto") {
                let address = rest.split('?').next().unwrap_or(rest);
                let valid = match address.rsplit_once('@') {
                    Some((local, host)) => {
                        !local.is_empty()
                            && authwarden_api::domain::validate_domain(host).is_ok()
                            && host.contains('.')
                    }
                    None => false,
                };
                if !valid {
                    return Err(SyntaxIssue::invalid_value(
                        tag,
                        uri,
                        "a mail address after `mailto:`",
                        None,
                    ));
                }
            }
            Ok(())
        }
        _ => {
            // `rua=dmarc@example.org` is a common slip: suggest the scheme.
            let suggestion = uri
                .contains('@')
                .then(|| format!("mailto:{}", uri.trim_start_matches(':')));
            Err(SyntaxIssue::invalid_value(tag, uri, expected, suggestion))
        }
    }
}

/// What kind of syntax problem a [`SyntaxIssue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IssueKind {
    /// The text does not start with `v=DMARC1`: receivers discard it.
    NotDmarc,
    /// `p` is missing.
    MissingPolicy,
    /// A tag this parser does not know; receivers ignore it.
    UnknownTag,
    /// A known tag with a value outside its grammar; receivers ignore the tag.
    InvalidValue,
    /// A tag appears more than once.
    DuplicateTag,
    /// A part between semicolons that is not `name=value`.
    MalformedTag,
    /// A control or non-ASCII character in the record.
    InvalidCharacter,
    /// The TXT data is not valid UTF-8.
    InvalidUtf8,
    /// Two tags without `;` between them (`v=DMARC1 p=reject`).
    MissingSemicolon,
}

/// One syntax problem, with enough structure for evidence and a did-you-mean.
/// Its text is [`SyntaxIssue::message`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxIssue {
    /// What kind of problem.
    pub kind: IssueKind,
    /// The tag concerned, lower-case, when there is one.
    pub tag: Option<String>,
    /// The offending value (or text), as written.
    pub value: Option<String>,
    /// What the value should have been, e.g. `reject` for `rejct`.
    pub suggestion: Option<String>,
    /// Byte offset in the record, for character problems.
    pub offset: Option<usize>,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
}

impl SyntaxIssue {
    fn new(kind: IssueKind, message: String) -> Self {
        SyntaxIssue {
            kind,
            tag: None,
            value: None,
            suggestion: None,
            offset: None,
            message,
        }
    }

    fn invalid_value(tag: &str, value: &str, expected: &str, suggestion: Option<String>) -> Self {
        let hint = match &suggestion {
            Some(s) => format!(" (did you mean `{s}`?)"),
            None => String::new(),
        };
        let message = format!(
            "invalid value `{}` for tag `{tag}`{hint}, expected {expected}",
            shown(value)
        );
        SyntaxIssue {
            tag: Some(tag.to_string()),
            value: Some(value.to_string()),
            suggestion,
            ..SyntaxIssue::new(IssueKind::InvalidValue, message)
        }
    }

    fn unknown_tag(tag: &str, value: &str) -> Self {
        // Suggest a known tag only when the value fits it: `rau=mailto:...`
        // is `rua`, but `foo=bar` is not `fo`.
        let mut candidates: Vec<(usize, &str)> = KNOWN_TAGS[1..]
            .iter()
            .map(|c| (strsim::osa_distance(tag, c), *c))
            .filter(|(d, _)| *d <= edit_limit(tag))
            .collect();
        candidates.sort_by_key(|(d, _)| *d);
        let suggestion = candidates
            .into_iter()
            .find(|(_, c)| DmarcRecord::default().set_tag(c, value).is_ok())
            .map(|(_, c)| c.to_string());
        let shown_tag = shown(tag);
        let message = match &suggestion {
            Some(s) => {
                format!("unknown tag `{shown_tag}` (did you mean `{s}`?), receivers ignore it")
            }
            None => format!("unknown tag `{shown_tag}`, receivers ignore it"),
        };
        SyntaxIssue {
            tag: Some(tag.to_string()),
            value: Some(value.to_string()),
            suggestion,
            ..SyntaxIssue::new(IssueKind::UnknownTag, message)
        }
    }
}

/// A record that starts with `v=DMARC1`, with the problems found in the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedRecord {
    /// The values receivers would use.
    pub record: DmarcRecord,
    /// Every syntax problem, in record order.
    pub issues: Vec<SyntaxIssue>,
}

impl ParsedRecord {
    /// True when nothing at all is wrong.
    pub fn is_clean(&self) -> bool {
        self.issues.is_empty()
    }

    /// The record with every did-you-mean applied and a missing or invalid
    /// `p` set to `none` (what receivers assume): the basis of suggested
    /// records.
    ///
    /// An invalid policy value (`p=rejct`, `sp=quarantin`, `np=...`) is not
    /// corrected to its did-you-mean: receivers apply `none` (or fall back
    /// to `p`) today, and going from there to the policy the typo meant is
    /// a rollout step, which the rollout advisor decides on the aggregate
    /// reports, not a repair.
    pub fn repaired(&self) -> DmarcRecord {
        let mut record = self.record.clone();
        for issue in &self.issues {
            if let (Some(tag), Some(value), Some(suggestion)) =
                (&issue.tag, &issue.value, &issue.suggestion)
            {
                let applied = match issue.kind {
                    IssueKind::InvalidValue if is_policy_tag(tag) => Ok(()),
                    IssueKind::InvalidValue => record.set_tag(tag, suggestion),
                    IssueKind::UnknownTag => record.set_tag(suggestion, value),
                    IssueKind::MalformedTag => match suggestion.split_once('=') {
                        Some((name, value)) => record.set_tag(name, value),
                        None => Ok(()),
                    },
                    _ => Ok(()),
                };
                // A suggestion that does not parse is simply not applied.
                let _ = applied;
            }
        }
        if record.policy.is_none() {
            record.policy = Some(Policy::None);
        }
        record
    }

    /// The value of an invalid `p` as published (`rejct` for `p=rejct`),
    /// `None` when `p` is valid or missing. Receivers treat such a record
    /// as `p=none`; the phase says so: `none (invalid p=rejct)`.
    pub fn invalid_policy(&self) -> Option<&str> {
        self.issues
            .iter()
            .find(|i| i.kind == IssueKind::InvalidValue && i.tag.as_deref() == Some("p"))
            .and_then(|i| i.value.as_deref())
    }
}

/// `p`, `sp` and `np`: the tags whose value is a policy.
fn is_policy_tag(tag: &str) -> bool {
    matches!(tag, "p" | "sp" | "np")
}

/// True when `text` is a DMARC record for discovery (RFC 7489 section
/// 6.6.3): its first tag is `v=DMARC1`. Whitespace around `=` and the case
/// of `DMARC1` are tolerated here; [`parse_record`] reports the wrong case.
pub fn is_dmarc_record(text: &str) -> bool {
    let text = text.trim_start();
    let Some(rest) = text.strip_prefix(['v', 'V']) else {
        return false;
    };
    let Some(rest) = rest.trim_start().strip_prefix('=') else {
        return false;
    };
    let rest = rest.trim_start();
    match rest.get(..6) {
        Some(version) if version.eq_ignore_ascii_case("DMARC1") => rest[6..]
            .chars()
            .next()
            .is_none_or(|c| c == ';' || c.is_whitespace()),
        _ => false,
    }
}

/// Parses TXT data given as bytes (the character-strings joined): reports
/// invalid UTF-8, then parses the text with invalid sequences replaced.
pub fn parse_record_bytes(bytes: &[u8]) -> Result<ParsedRecord, Vec<SyntaxIssue>> {
    let utf8_issue = std::str::from_utf8(bytes).err().map(|e| {
        let offset = e.valid_up_to();
        let bad = &bytes[offset..bytes.len().min(offset + e.error_len().unwrap_or(1))];
        let hex: Vec<String> = bad.iter().map(|b| format!("\\x{b:02x}")).collect();
        SyntaxIssue {
            value: Some(hex.concat()),
            offset: Some(offset),
            ..SyntaxIssue::new(
                IssueKind::InvalidUtf8,
                format!(
                    "record is not valid utf-8: byte {} at offset {offset}",
                    hex.concat()
                ),
            )
        }
    });
    // Scan the raw bytes so that offsets match the published data; invalid
    // sequences are reported once, above, not again as characters.
    let mut chars = Vec::new();
    let mut offset = 0;
    for chunk in bytes.utf8_chunks() {
        chars.extend(chunk.valid().char_indices().map(|(i, c)| (offset + i, c)));
        offset += chunk.valid().len() + chunk.invalid().len();
    }
    let text = String::from_utf8_lossy(bytes);
    let result = parse_text(&text, chars);
    match (result, utf8_issue) {
        (Ok(mut parsed), Some(issue)) => {
            parsed.issues.insert(0, issue);
            Ok(parsed)
        }
        (Err(mut issues), Some(issue)) => {
            issues.insert(0, issue);
            Err(issues)
        }
        (result, None) => result,
    }
}

/// Parses a DMARC record. `Err` when the text is not a DMARC record at all
/// (it does not start with `v=DMARC1`); otherwise the record as receivers
/// would read it, with every syntax issue found: unknown tags, invalid values
/// (with a did-you-mean where a close match exists), duplicates, a missing
/// `p`, control or non-ASCII characters.
pub fn parse_record(text: &str) -> Result<ParsedRecord, Vec<SyntaxIssue>> {
    parse_text(text, text.char_indices().collect())
}

/// Parses `text`; `chars` are its characters with their byte offsets in the
/// published data, for the character check.
fn parse_text(text: &str, chars: Vec<(usize, char)>) -> Result<ParsedRecord, Vec<SyntaxIssue>> {
    let mut issues = Vec::new();
    let bad: Vec<(usize, char)> = chars
        .into_iter()
        .filter(|(_, c)| (c.is_control() && *c != '\t') || !c.is_ascii())
        .collect();
    if let Some((offset, c)) = bad.first() {
        let code = format!("U+{:04X}", *c as u32);
        let message = if bad.len() == 1 {
            format!("record contains the control or non-ascii character {code} at offset {offset}")
        } else {
            format!(
                "record contains {} control or non-ascii characters, the first is {code} at offset {offset}",
                bad.len()
            )
        };
        issues.push(SyntaxIssue {
            value: Some(code),
            offset: Some(*offset),
            ..SyntaxIssue::new(IssueKind::InvalidCharacter, message)
        });
    }

    let mut parts = Vec::new();
    for part in text
        .split(';')
        .map(|p| p.trim_matches(|c: char| c.is_ascii_whitespace()))
        .filter(|p| !p.is_empty())
    {
        let pieces = split_missing_semicolons(part);
        for piece in &pieces[1..] {
            let tag = piece
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            issues.push(SyntaxIssue {
                tag: Some(tag.clone()),
                value: Some(part.to_string()),
                ..SyntaxIssue::new(
                    IssueKind::MissingSemicolon,
                    format!(
                        "missing `;` before tag `{tag}` in `{}`, strict receivers read it as part of the previous value",
                        shown(part)
                    ),
                )
            });
        }
        parts.extend(pieces);
    }
    let mut parts = parts.into_iter();

    let first = parts.next().unwrap_or("");
    let version = first
        .split_once('=')
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("v"))
        .map(|(_, value)| value.trim());
    let mut record = DmarcRecord {
        text: text.to_string(),
        ..DmarcRecord::default()
    };
    match version {
        Some("DMARC1") => {}
        Some(v) if v.eq_ignore_ascii_case("DMARC1") => {
            issues.push(SyntaxIssue::invalid_value(
                "v",
                v,
                "exactly `DMARC1` (strict receivers ignore the record otherwise)",
                Some("DMARC1".into()),
            ));
        }
        _ => {
            let mut issue = SyntaxIssue::new(
                IssueKind::NotDmarc,
                "record does not start with `v=DMARC1`, receivers ignore it".into(),
            );
            issue.value = Some(first.to_string());
            issues.push(issue);
            return Err(issues);
        }
    }
    if let Some((_, value)) = first.split_once('=') {
        record.tags.push(Tag {
            name: "v".into(),
            value: value.trim().to_string(),
        });
    }

    let mut seen: Vec<String> = vec!["v".into()];
    for part in parts {
        let Some((name, value)) = part.split_once('=') else {
            let suggestion = Policy::parse(part).map(|p| format!("p={p}"));
            let message = match &suggestion {
                Some(s) => format!(
                    "`{}` is not a `tag=value` pair (did you mean `{s}`?)",
                    shown(part)
                ),
                None => format!("`{}` is not a `tag=value` pair", shown(part)),
            };
            issues.push(SyntaxIssue {
                value: Some(part.to_string()),
                suggestion,
                ..SyntaxIssue::new(IssueKind::MalformedTag, message)
            });
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim();
        record.tags.push(Tag {
            name: name.clone(),
            value: value.to_string(),
        });
        if seen.contains(&name) {
            issues.push(SyntaxIssue {
                tag: Some(name.clone()),
                value: Some(value.to_string()),
                ..SyntaxIssue::new(
                    IssueKind::DuplicateTag,
                    format!(
                        "tag `{}` appears more than once, receivers may use either value or ignore the record",
                        shown(&name)
                    ),
                )
            });
            continue;
        }
        seen.push(name.clone());
        if let Err(issue) = record.set_tag(&name, value) {
            issues.push(issue);
        }
    }

    if record.policy.is_none() {
        let treatment = if record.rua.is_empty() {
            "rfc 7489 receivers ignore the record (no valid rua), rfc 9989 receivers treat it as p=none"
        } else {
            "receivers treat the record as p=none because rua is present (rfc 7489 section 6.6.3, rfc 9989)"
        };
        if let Some(issue) = issues
            .iter_mut()
            .find(|i| i.kind == IssueKind::InvalidValue && i.tag.as_deref() == Some("p"))
        {
            issue.message.push_str(&format!("; {treatment}"));
        }
    }
    if !seen.iter().any(|t| t == "p") {
        let message = if record.rua.is_empty() {
            "record has no `p` tag: rfc 7489 receivers ignore it (no valid rua), rfc 9989 receivers treat it as p=none"
        } else {
            "record has no `p` tag: receivers treat it as p=none because rua is present (rfc 7489 section 6.6.3, rfc 9989)"
        };
        let mut issue = SyntaxIssue::new(IssueKind::MissingPolicy, message.into());
        issue.tag = Some("p".into());
        issue.suggestion = Some("none".into());
        issues.push(issue);
    }
    Ok(ParsedRecord { record, issues })
}
