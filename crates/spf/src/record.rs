//! The SPF record grammar of RFC 7208 section 12: record selection
//! ([`is_spf_record`]), the parser ([`parse_record`]) and the parsed form
//! ([`SpfRecord`]).
//!
//! The parser is strict: everything RFC 7208 makes a permerror is a
//! [`SyntaxError`] naming the term, the byte position in the record and the
//! reason. It works on bytes because TXT data is bytes: a non-ASCII byte is
//! an error at its position, not a decoding failure.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The version tag every SPF record starts with.
pub const VERSION: &str = "v=spf1";

/// True when `text` is an SPF record per RFC 7208 section 4.5: it starts
/// with `v=spf1` (case-insensitively) followed by a space or the end.
/// `v=spf10` and `v=spf1mx` are not SPF records.
pub fn is_spf_record(text: &[u8]) -> bool {
    text.len() >= VERSION.len()
        && text[..VERSION.len()].eq_ignore_ascii_case(VERSION.as_bytes())
        && matches!(text.get(VERSION.len()), None | Some(b' '))
}

/// A qualifier: the result a matching mechanism produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Qualifier {
    /// `+` (the default): pass.
    Pass,
    /// `-`: fail.
    Fail,
    /// `~`: softfail.
    SoftFail,
    /// `?`: neutral.
    Neutral,
}

impl Qualifier {
    /// The qualifier character.
    pub fn as_char(self) -> char {
        match self {
            Qualifier::Pass => '+',
            Qualifier::Fail => '-',
            Qualifier::SoftFail => '~',
            Qualifier::Neutral => '?',
        }
    }

    fn parse(b: u8) -> Option<Self> {
        Some(match b {
            b'+' => Qualifier::Pass,
            b'-' => Qualifier::Fail,
            b'~' => Qualifier::SoftFail,
            b'?' => Qualifier::Neutral,
            _ => return None,
        })
    }
}

/// A `domain-spec`: a macro-string ending in a top label or a macro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpec {
    /// The text as written.
    pub text: String,
    /// The macros it contains (empty for a plain domain name).
    pub macros: Vec<Macro>,
}

impl DomainSpec {
    /// True when the spec contains a `%{...}` macro, so its target depends on
    /// the message and cannot be followed statically.
    pub fn has_macros(&self) -> bool {
        !self.macros.is_empty()
    }

    /// The domain, lower-case without trailing dot, when the spec has no
    /// `%{...}` macro (`%%`, `%_` and `%-` escapes expanded).
    pub fn domain(&self) -> Option<String> {
        if self.has_macros() {
            return None;
        }
        let expanded = self
            .text
            .replace("%%", "%")
            .replace("%_", " ")
            .replace("%-", "%20");
        Some(expanded.trim_end_matches('.').to_ascii_lowercase())
    }
}

/// One `%{...}` macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Macro {
    /// The letter, lower-case.
    pub letter: char,
    /// True for an upper-case letter (URL-escape the value).
    pub url_escape: bool,
    /// The number of right-hand parts to keep.
    pub digits: Option<u32>,
    /// The `r` transformer.
    pub reverse: bool,
}

/// A dual CIDR length (`/24//64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DualCidr {
    /// The IPv4 prefix length, 0 to 32.
    pub v4: Option<u8>,
    /// The IPv6 prefix length, 0 to 128.
    pub v6: Option<u8>,
}

/// A mechanism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mechanism {
    /// `all`.
    All,
    /// `include:<domain-spec>`.
    Include(DomainSpec),
    /// `a[:<domain-spec>][<dual-cidr>]`.
    A(Option<DomainSpec>, DualCidr),
    /// `mx[:<domain-spec>][<dual-cidr>]`.
    Mx(Option<DomainSpec>, DualCidr),
    /// `ptr[:<domain-spec>]`.
    Ptr(Option<DomainSpec>),
    /// `ip4:<network>[/<len>]`.
    Ip4(Ipv4Addr, Option<u8>),
    /// `ip6:<network>[/<len>]`.
    Ip6(Ipv6Addr, Option<u8>),
    /// `exists:<domain-spec>`.
    Exists(DomainSpec),
}

impl Mechanism {
    /// The mechanism's name, e.g. `include`.
    pub fn name(&self) -> &'static str {
        match self {
            Mechanism::All => "all",
            Mechanism::Include(_) => "include",
            Mechanism::A(..) => "a",
            Mechanism::Mx(..) => "mx",
            Mechanism::Ptr(_) => "ptr",
            Mechanism::Ip4(..) => "ip4",
            Mechanism::Ip6(..) => "ip6",
            Mechanism::Exists(_) => "exists",
        }
    }

    /// True for the mechanisms that query DNS and so count towards the limit
    /// of 10 (RFC 7208 section 4.6.4).
    pub fn queries_dns(&self) -> bool {
        matches!(
            self,
            Mechanism::Include(_)
                | Mechanism::A(..)
                | Mechanism::Mx(..)
                | Mechanism::Ptr(_)
                | Mechanism::Exists(_)
        )
    }
}

/// A modifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    /// `redirect=<domain-spec>`.
    Redirect(DomainSpec),
    /// `exp=<domain-spec>`.
    Exp(DomainSpec),
    /// Any other `name=value`; ignored by evaluation, but syntax-checked.
    Unknown {
        /// The name as written.
        name: String,
        /// The value (a macro-string).
        value: String,
    },
}

/// What a term is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    /// A qualifier and a mechanism.
    Directive(Qualifier, Mechanism),
    /// A modifier.
    Modifier(Modifier),
}

/// One term of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The term as written.
    pub text: String,
    /// The byte offset of the term in the record.
    pub position: usize,
    /// What it is.
    pub kind: TermKind,
}

/// A parsed SPF record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpfRecord {
    /// The record text (TXT strings joined without separator).
    pub text: String,
    /// Its terms in order, without the version.
    pub terms: Vec<Term>,
}

impl SpfRecord {
    /// The qualifier of the first `all` term, if any.
    pub fn all(&self) -> Option<Qualifier> {
        self.terms.iter().find_map(|t| match t.kind {
            TermKind::Directive(q, Mechanism::All) => Some(q),
            _ => None,
        })
    }

    /// The `redirect` modifier's target, if any.
    pub fn redirect(&self) -> Option<(&Term, &DomainSpec)> {
        self.terms.iter().find_map(|t| match &t.kind {
            TermKind::Modifier(Modifier::Redirect(d)) => Some((t, d)),
            _ => None,
        })
    }

    /// The terms that authorize the domain's own hosts: `a` and `mx` whose
    /// target is `domain` itself or a name under it (or unset), and the
    /// `ip4:`/`ip6:` ranges written in the record, each with the `+`
    /// qualifier, in record order. A record built from a sender inventory
    /// keeps these: the inventory lists the services that send for the
    /// domain, not the domain's own mail servers.
    pub fn own_host_terms(&self, domain: &str) -> Vec<&Term> {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let own = |spec: &Option<DomainSpec>| match spec {
            None => true,
            Some(spec) => spec
                .domain()
                .is_some_and(|d| d == domain || d.ends_with(&format!(".{domain}"))),
        };
        self.terms
            .iter()
            .filter(|t| match &t.kind {
                TermKind::Directive(Qualifier::Pass, Mechanism::A(spec, _))
                | TermKind::Directive(Qualifier::Pass, Mechanism::Mx(spec, _)) => own(spec),
                TermKind::Directive(Qualifier::Pass, Mechanism::Ip4(..))
                | TermKind::Directive(Qualifier::Pass, Mechanism::Ip6(..)) => true,
                _ => false,
            })
            .collect()
    }

    /// The terms written after the first `all` (never evaluated).
    pub fn terms_after_all(&self) -> Vec<&Term> {
        let Some(i) = self
            .terms
            .iter()
            .position(|t| matches!(t.kind, TermKind::Directive(_, Mechanism::All)))
        else {
            return Vec::new();
        };
        self.terms[i + 1..]
            .iter()
            .filter(|t| matches!(t.kind, TermKind::Directive(..)))
            .collect()
    }
}

/// A syntax error: which term, where, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("term `{term}` at byte {position}: {reason}")]
pub struct SyntaxError {
    /// The term in error as written (lossy UTF-8), or the record's start for
    /// version errors.
    pub term: String,
    /// The byte offset of the error in the record.
    pub position: usize,
    /// Why it is an error, lower-case.
    pub reason: String,
}

/// Parses a record given as TXT character-strings, joined without separator.
pub fn parse_record_parts(parts: &[Vec<u8>]) -> Result<SpfRecord, SyntaxError> {
    parse_record(&parts.concat())
}

/// Parses one SPF record (RFC 7208 section 12). The record must start with
/// `v=spf1`; every term is checked, including unknown modifiers and macros.
pub fn parse_record(input: &[u8]) -> Result<SpfRecord, SyntaxError> {
    let lossy = |range: std::ops::Range<usize>| String::from_utf8_lossy(&input[range]).into_owned();
    if !is_spf_record(input) {
        let end = input.iter().position(|&b| b == b' ').unwrap_or(input.len());
        return Err(SyntaxError {
            term: lossy(0..end),
            position: 0,
            reason: "the record does not start with `v=spf1` followed by a space".into(),
        });
    }
    let mut terms = Vec::new();
    let mut redirect_seen = false;
    let mut exp_seen = false;
    let mut i = VERSION.len();
    while i < input.len() {
        if input[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < input.len() && input[i] != b' ' {
            i += 1;
        }
        let raw = &input[start..i];
        let err = |offset: usize, reason: String| SyntaxError {
            term: lossy(start..i),
            position: start + offset,
            reason,
        };
        if let Some(bad) = raw
            .iter()
            .position(|b| !b.is_ascii() || b.is_ascii_control())
        {
            let b = raw[bad];
            let reason = if b.is_ascii() {
                format!("control character 0x{b:02x} (terms are separated by spaces only)")
            } else {
                format!("non-ASCII byte 0x{b:02x} (SPF records are 7-bit ASCII)")
            };
            return Err(err(bad, reason));
        }
        // Safe: checked ASCII above.
        let text = std::str::from_utf8(raw).unwrap_or_default();
        let kind = parse_term(text).map_err(|(off, reason)| err(off, reason))?;
        match &kind {
            TermKind::Modifier(Modifier::Redirect(_)) => {
                if redirect_seen {
                    return Err(err(
                        0,
                        "`redirect` appears more than once (RFC 7208 section 6)".into(),
                    ));
                }
                redirect_seen = true;
            }
            TermKind::Modifier(Modifier::Exp(_)) => {
                if exp_seen {
                    return Err(err(
                        0,
                        "`exp` appears more than once (RFC 7208 section 6)".into(),
                    ));
                }
                exp_seen = true;
            }
            _ => {}
        }
        terms.push(Term {
            text: text.to_string(),
            position: start,
            kind,
        });
    }
    Ok(SpfRecord {
        text: lossy(0..input.len()),
        terms,
    })
}

type TermError = (usize, String);

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn parse_term(text: &str) -> Result<TermKind, TermError> {
    // A modifier is `name=`, where name starts with a letter and has no `:`
    // or `/` (those make it a mechanism with an argument).
    if let Some(eq) = text.find('=') {
        let name = &text[..eq];
        if is_name(name) {
            let value = &text[eq + 1..];
            let offset = eq + 1;
            return Ok(TermKind::Modifier(
                match name.to_ascii_lowercase().as_str() {
                    "redirect" => Modifier::Redirect(parse_domain_spec(value, offset, false)?),
                    "exp" => Modifier::Exp(parse_domain_spec(value, offset, false)?),
                    _ => {
                        parse_macro_string(value, offset, false)?;
                        Modifier::Unknown {
                            name: name.to_string(),
                            value: value.to_string(),
                        }
                    }
                },
            ));
        }
    }
    let (qualifier, body, q_len) = match Qualifier::parse(text.as_bytes()[0]) {
        Some(q) => (q, &text[1..], 1),
        None => (Qualifier::Pass, text, 0),
    };
    let name_len = body
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(body.len());
    let name = body[..name_len].to_ascii_lowercase();
    let rest = &body[name_len..];
    let rest_at = q_len + name_len;
    let mechanism = match name.as_str() {
        "all" => {
            no_argument(rest, rest_at, "all")?;
            Mechanism::All
        }
        "include" => Mechanism::Include(required_domain(rest, rest_at, "include")?),
        "exists" => Mechanism::Exists(required_domain(rest, rest_at, "exists")?),
        "ptr" => Mechanism::Ptr(optional_domain(rest, rest_at, "ptr")?),
        "a" | "mx" => {
            let (spec, cidr_at) = split_dual_cidr(rest);
            let cidr = parse_dual_cidr(&rest[cidr_at..], rest_at + cidr_at)?;
            let domain = optional_domain(spec, rest_at, &name)?;
            if name == "a" {
                Mechanism::A(domain, cidr)
            } else {
                Mechanism::Mx(domain, cidr)
            }
        }
        "ip4" => {
            let arg = argument(rest, rest_at, "ip4", "an IPv4 network")?;
            let (net, len) = split_cidr(arg);
            let addr = parse_ip4(net).ok_or_else(|| {
                (
                    rest_at + 1,
                    format!("`{net}` is not an IPv4 address (four decimal octets 0-255)"),
                )
            })?;
            let len = match len {
                Some(l) => Some(parse_cidr(l, 32, rest_at + 1 + net.len())?),
                None => None,
            };
            Mechanism::Ip4(addr, len)
        }
        "ip6" => {
            let arg = argument(rest, rest_at, "ip6", "an IPv6 network")?;
            let (net, len) = split_cidr(arg);
            let addr: Ipv6Addr = net
                .parse()
                .map_err(|_| (rest_at + 1, format!("`{net}` is not an IPv6 address")))?;
            let len = match len {
                Some(l) => Some(parse_cidr(l, 128, rest_at + 1 + net.len())?),
                None => None,
            };
            Mechanism::Ip6(addr, len)
        }
        "" => {
            return Err((
                q_len,
                if q_len == 1 && body.is_empty() {
                    "a qualifier without a mechanism".into()
                } else {
                    "expected a mechanism or a modifier".into()
                },
            ))
        }
        other => {
            return Err((
                q_len,
                match suggest(other) {
                    Some(s) => format!("unknown mechanism `{other}` (did you mean `{s}`?)"),
                    None => format!("unknown mechanism `{other}`"),
                },
            ))
        }
    };
    Ok(TermKind::Directive(qualifier, mechanism))
}

fn suggest(name: &str) -> Option<&'static str> {
    const KNOWN: &[&str] = &["all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"];
    KNOWN.iter().copied().filter(|k| k.len() > 1).find(|k| {
        let (a, b) = (k.as_bytes(), name.as_bytes());
        // One edit away: a substitution, an insertion or a deletion.
        let diff = a.len().abs_diff(b.len());
        diff <= 1 && edit_distance(a, b) == 1
    })
}

fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn no_argument(rest: &str, at: usize, name: &str) -> Result<(), TermError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err((at, format!("`{name}` takes no argument, found `{rest}`")))
    }
}

fn argument<'a>(rest: &'a str, at: usize, name: &str, what: &str) -> Result<&'a str, TermError> {
    match rest.strip_prefix(':') {
        Some("") => Err((at + 1, format!("`{name}:` needs {what} after the colon"))),
        Some(arg) => Ok(arg),
        None if rest.is_empty() => Err((at, format!("`{name}` needs `:` and {what}"))),
        None => Err((
            at,
            format!("expected `:` after `{name}`, found `{}`", &rest[..1]),
        )),
    }
}

fn required_domain(rest: &str, at: usize, name: &str) -> Result<DomainSpec, TermError> {
    let arg = argument(rest, at, name, "a domain")?;
    parse_domain_spec(arg, at + 1, false)
}

fn optional_domain(rest: &str, at: usize, name: &str) -> Result<Option<DomainSpec>, TermError> {
    if rest.is_empty() {
        return Ok(None);
    }
    required_domain(rest, at, name).map(Some)
}

/// Splits `a`/`mx` arguments into the domain part and the dual CIDR suffix
/// (`/24`, `//64`, `/24//64`) at its end; returns the index where the CIDR starts.
fn split_dual_cidr(rest: &str) -> (&str, usize) {
    let bytes = rest.as_bytes();
    let digits_before = |end: usize| {
        let mut s = end;
        while s > 0 && bytes[s - 1].is_ascii_digit() {
            s -= 1;
        }
        s
    };
    let mut end = rest.len();
    // `//N` at the end.
    let s = digits_before(end);
    if s < end && s >= 2 && &rest[s - 2..s] == "//" {
        end = s - 2;
        let s2 = digits_before(end);
        if s2 < end && s2 >= 1 && bytes[s2 - 1] == b'/' && !(s2 >= 2 && bytes[s2 - 2] == b'/') {
            end = s2 - 1;
        }
    } else if s < end && s >= 1 && bytes[s - 1] == b'/' {
        end = s - 1;
    }
    (&rest[..end], end)
}

fn parse_dual_cidr(cidr: &str, at: usize) -> Result<DualCidr, TermError> {
    let mut out = DualCidr::default();
    if cidr.is_empty() {
        return Ok(out);
    }
    let (v4, v6) = match cidr.find("//") {
        Some(p) => (&cidr[..p], Some((&cidr[p + 2..], p + 2))),
        None => (cidr, None),
    };
    if let Some(v4) = v4.strip_prefix('/') {
        out.v4 = Some(parse_cidr(v4, 32, at)?);
    }
    if let Some((v6, off)) = v6 {
        out.v6 = Some(parse_cidr(v6, 128, at + off - 2)?);
    }
    Ok(out)
}

fn split_cidr(arg: &str) -> (&str, Option<&str>) {
    match arg.find('/') {
        Some(p) => (&arg[..p], Some(&arg[p + 1..])),
        None => (arg, None),
    }
}

fn parse_cidr(digits: &str, max: u8, at: usize) -> Result<u8, TermError> {
    let family = if max == 32 { "IPv4" } else { "IPv6" };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err((
            at,
            format!("`/{digits}` is not a prefix length (decimal 0-{max})"),
        ));
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err((at, format!("prefix length `/{digits}` has a leading zero")));
    }
    match digits.parse::<u16>() {
        Ok(n) if n <= u16::from(max) => Ok(n as u8),
        _ => Err((
            at,
            format!("{family} prefix length {digits} is out of range 0-{max}"),
        )),
    }
}

fn parse_ip4(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    for part in s.split('.') {
        if n == 4
            || part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|b| b.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
        {
            return None;
        }
        octets[n] = part.parse().ok()?;
        n += 1;
    }
    (n == 4).then(|| Ipv4Addr::from(octets))
}

/// Parses a macro-string; `exp_text` allows the letters `c`, `r` and `t`
/// (only explanation text may use them, RFC 7208 section 7.2).
fn parse_macro_string(s: &str, at: usize, exp_text: bool) -> Result<MacroString, TermError> {
    let b = s.as_bytes();
    let mut macros = Vec::new();
    let mut ends_in_expand = false;
    let mut i = 0;
    while i < b.len() {
        ends_in_expand = b[i] == b'%';
        match b[i] {
            b'%' => match b.get(i + 1) {
                Some(b'%' | b'_' | b'-') => i += 2,
                Some(b'{') => {
                    let close = s[i..]
                        .find('}')
                        .map(|p| p + i)
                        .ok_or_else(|| (at + i, "macro `%{` is not closed with `}`".to_string()))?;
                    macros.push(parse_macro(&s[i + 2..close], at + i, exp_text)?);
                    i = close + 1;
                }
                Some(&c) => {
                    return Err((
                        at + i,
                        format!(
                            "`%{}` is not a macro: a literal `%` is written `%%`",
                            c as char
                        ),
                    ))
                }
                None => {
                    return Err((
                        at + i,
                        "a lone `%` at the end: a literal `%` is written `%%`".into(),
                    ))
                }
            },
            c if (0x21..=0x7e).contains(&c) => i += 1,
            c => {
                return Err((
                    at + i,
                    format!("character 0x{c:02x} is not allowed in a macro-string"),
                ))
            }
        }
    }
    Ok(MacroString {
        macros,
        ends_in_expand,
    })
}

struct MacroString {
    macros: Vec<Macro>,
    ends_in_expand: bool,
}

fn parse_macro(inner: &str, at: usize, exp_text: bool) -> Result<Macro, TermError> {
    let whole = format!("%{{{inner}}}");
    let mut chars = inner.chars();
    let letter = chars
        .next()
        .ok_or_else(|| (at, "empty macro `%{}`".to_string()))?;
    let lower = letter.to_ascii_lowercase();
    if !"slodiphcrtv".contains(lower) || !letter.is_ascii_alphabetic() {
        return Err((
            at + 2,
            format!("`{letter}` in `{whole}` is not a macro letter (s l o d i p h c r t v)"),
        ));
    }
    if !exp_text && "crt".contains(lower) {
        return Err((
            at + 2,
            format!("macro letter `{letter}` in `{whole}` is allowed only in explanation text"),
        ));
    }
    let rest = &inner[1..];
    let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let digits = if digits_len > 0 {
        let n: u32 = rest[..digits_len]
            .parse()
            .ok()
            .filter(|&n| (1..=128).contains(&n))
            .ok_or_else(|| {
                (
                    at + 3,
                    format!(
                        "transformer `{}` in `{whole}` must be 1 to 128",
                        &rest[..digits_len]
                    ),
                )
            })?;
        Some(n)
    } else {
        None
    };
    let mut rest = &rest[digits_len..];
    let reverse = if let Some(r) = rest.strip_prefix(['r', 'R']) {
        rest = r;
        true
    } else {
        false
    };
    if let Some(bad) = rest.find(|c: char| !".-+,/_=".contains(c)) {
        return Err((
            at + 2 + (inner.len() - rest.len()) + bad,
            format!(
                "`{}` in `{whole}` is not a delimiter (. - + , / _ =)",
                // A char, not a byte: explanation text may hold any UTF-8.
                rest[bad..].chars().next().unwrap_or_default()
            ),
        ));
    }
    Ok(Macro {
        letter: lower,
        url_escape: letter.is_ascii_uppercase(),
        digits,
        reverse,
    })
}

/// Parses a domain-spec: a macro-string that ends in `.toplabel[.]` or a macro.
fn parse_domain_spec(s: &str, at: usize, exp_text: bool) -> Result<DomainSpec, TermError> {
    if s.is_empty() {
        return Err((at, "empty domain".into()));
    }
    let MacroString {
        macros,
        ends_in_expand,
    } = parse_macro_string(s, at, exp_text)?;
    // domain-end: a macro-expand at the end, or "." toplabel ["."].
    if !ends_in_expand {
        let trimmed = s.strip_suffix('.').unwrap_or(s);
        let Some(dot) = trimmed.rfind('.') else {
            return Err((
                at,
                format!("`{s}` is not a domain: it needs at least two labels"),
            ));
        };
        let top = &trimmed[dot + 1..];
        if let Err(reason) = check_toplabel(top) {
            return Err((at + dot + 1, format!("top label `{top}` of `{s}` {reason}")));
        }
        if let Some(p) = trimmed.find("..") {
            return Err((at + p, format!("`{s}` has an empty label")));
        }
    }
    for (off, label) in label_offsets(s) {
        if label.len() > 63 && !label.contains('%') {
            return Err((
                at + off,
                format!(
                    "label of {} characters in `{s}`, the limit is 63",
                    label.len()
                ),
            ));
        }
    }
    Ok(DomainSpec {
        text: s.to_string(),
        macros,
    })
}

fn label_offsets(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut off = 0;
    s.split('.').map(move |l| {
        let o = off;
        off += l.len() + 1;
        (o, l)
    })
}

fn check_toplabel(top: &str) -> Result<(), &'static str> {
    if top.is_empty() {
        return Err("is empty");
    }
    if !top.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err("may contain only letters, digits and hyphens");
    }
    if top.starts_with('-') || top.ends_with('-') {
        return Err("may not start or end with a hyphen");
    }
    if top.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is all digits (an IP address is not a domain)");
    }
    Ok(())
}

/// Checks explanation text (the TXT record an `exp` modifier points at):
/// a macro-string where `c`, `r` and `t` are allowed and spaces separate words.
pub fn check_explanation(text: &str) -> Result<(), SyntaxError> {
    for (off, word) in label_offsets_by(text, ' ') {
        parse_macro_string(word, off, true).map_err(|(position, reason)| SyntaxError {
            term: word.to_string(),
            position,
            reason,
        })?;
    }
    Ok(())
}

fn label_offsets_by(s: &str, sep: char) -> impl Iterator<Item = (usize, &str)> {
    let mut off = 0;
    s.split(sep).map(move |l| {
        let o = off;
        off += l.len() + 1;
        (o, l)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_dual_cidr() {
        assert_eq!(split_dual_cidr(":example.com/24//64"), (":example.com", 12));
        assert_eq!(split_dual_cidr("//64"), ("", 0));
        assert_eq!(split_dual_cidr("/24"), ("", 0));
        assert_eq!(split_dual_cidr(":e.com"), (":e.com", 6));
    }

    #[test]
    fn own_host_terms_are_a_mx_and_ranges_of_the_domain() {
        let r = parse_record(
            b"v=spf1 mx a:mail.Example.org. +a:other.example ip4:192.0.2.0/24 ~mx include:_spf.example.net ip6:2001:db8::/32 mx:example.org/24 a:%{d}.example.org -all",
        )
        .unwrap();
        let own: Vec<&str> = r
            .own_host_terms("example.org")
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        assert_eq!(
            own,
            [
                "mx",
                "a:mail.Example.org.",
                "ip4:192.0.2.0/24",
                "ip6:2001:db8::/32",
                "mx:example.org/24"
            ]
        );
    }

    #[test]
    fn edit_distance_one() {
        assert_eq!(suggest("inlcude"), None);
        assert_eq!(suggest("includ"), Some("include"));
        assert_eq!(suggest("ip5"), Some("ip4"));
    }
}
