//! Turns the lexer's entries into resource records (RFC 1035 section 5,
//! generic types and data per RFC 3597).

use std::net::{Ipv4Addr, Ipv6Addr};

use authwarden_api::{Rdata, RecordType};

use crate::error::{Location, ZoneError};
use crate::lexer::{lex, Entry, Token};
use crate::name::{fqdn, name_from_wire, parse_name};
use crate::zone::ZoneRecord;

/// The TTL used when the file states none ($TTL absent and no earlier explicit TTL).
pub const DEFAULT_TTL: u32 = 3600;

const ALL_TYPES: [RecordType; 10] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::MX,
    RecordType::TXT,
    RecordType::CNAME,
    RecordType::NS,
    RecordType::PTR,
    RecordType::SOA,
    RecordType::SPF,
    RecordType::TLSA,
];

/// What one file holds.
pub(crate) struct ParsedFile {
    pub records: Vec<ZoneRecord>,
    /// Owners of SOA records, in file order.
    pub soa_owners: Vec<String>,
    /// The default origin (if any) and every `$ORIGIN` value, in file order.
    pub origins: Vec<String>,
}

struct State<'a> {
    file: &'a str,
    origin: Option<String>,
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    last_owner: Option<String>,
    out: ParsedFile,
}

fn err(file: &str, tok: &Token, reason: impl Into<String>) -> ZoneError {
    ZoneError::at(file, tok.line, tok.column, reason)
}

/// Parses a TTL: seconds, or BIND-style units such as `1h30m` or `2d`.
fn parse_ttl(tok: &Token, file: &str) -> Result<u32, ZoneError> {
    let bad = || {
        err(
            file,
            tok,
            format!(
                "invalid TTL '{}' (expected seconds or units like 1h30m)",
                tok.raw
            ),
        )
    };
    if tok.quoted || tok.raw.is_empty() {
        return Err(bad());
    }
    if tok.raw.bytes().all(|b| b.is_ascii_digit()) {
        return tok.raw.parse::<u32>().map_err(|_| bad());
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in tok.raw.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit: u64 = match c.to_ascii_lowercase() {
            'w' => 604_800,
            'd' => 86_400,
            'h' => 3_600,
            'm' => 60,
            's' => 1,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !digits.is_empty() {
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = total.saturating_add(n);
    }
    u32::try_from(total).map_err(|_| bad())
}

/// Parses a record type mnemonic or the generic `TYPEnnn` form.
fn parse_type(tok: &Token, file: &str) -> Result<RecordType, ZoneError> {
    let unsupported = || {
        err(
            file,
            tok,
            format!(
                "unsupported record type '{}' (supported: A, AAAA, MX, TXT, SPF, CNAME, NS, PTR, SOA and TYPEnnn of these)",
                tok.raw
            ),
        )
    };
    if tok.quoted {
        return Err(unsupported());
    }
    let upper = tok.raw.to_ascii_uppercase();
    if let Some(code) = upper.strip_prefix("TYPE") {
        let code: u16 = code.parse().map_err(|_| unsupported())?;
        return ALL_TYPES
            .into_iter()
            .find(|t| t.code() == code)
            .ok_or_else(unsupported);
    }
    RecordType::parse(&upper).ok_or_else(unsupported)
}

/// Recognises a class field; `Ok(false)` when the token is not a class.
fn parse_class(tok: &Token, file: &str) -> Result<bool, ZoneError> {
    if tok.quoted {
        return Ok(false);
    }
    let upper = tok.raw.to_ascii_uppercase();
    match upper.as_str() {
        "IN" | "CLASS1" => Ok(true),
        "CH" | "CS" | "HS" | "NONE" | "ANY" => Err(err(
            file,
            tok,
            format!("class {upper} is not supported (only IN)"),
        )),
        _ if upper.starts_with("CLASS") && upper[5..].bytes().all(|b| b.is_ascii_digit()) => {
            Err(err(
                file,
                tok,
                format!("class {upper} is not supported (only IN)"),
            ))
        }
        _ => Ok(false),
    }
}

/// Checks that `rdata` has exactly `n` tokens.
fn expect_count(
    rdata: &[Token],
    n: usize,
    type_tok: &Token,
    what: &str,
    file: &str,
) -> Result<(), ZoneError> {
    if rdata.len() < n {
        return Err(err(
            file,
            rdata.last().unwrap_or(type_tok),
            format!("{} record needs {what}", type_tok.raw.to_ascii_uppercase()),
        ));
    }
    if let Some(extra) = rdata.get(n) {
        return Err(err(
            file,
            extra,
            format!(
                "unexpected '{}' after the {} record data",
                extra.raw,
                type_tok.raw.to_ascii_uppercase()
            ),
        ));
    }
    Ok(())
}

fn parse_u16(tok: &Token, what: &str, file: &str) -> Result<u16, ZoneError> {
    tok.raw.parse::<u16>().map_err(|_| {
        err(
            file,
            tok,
            format!("invalid {what} '{}' (0 to 65535)", tok.raw),
        )
    })
}

fn character_string(tok: &Token, file: &str) -> Result<Vec<u8>, ZoneError> {
    if tok.bytes.len() > 255 {
        return Err(err(
            file,
            tok,
            format!(
                "character-string is {} bytes long; at most 255 are allowed (split it into several quoted strings)",
                tok.bytes.len()
            ),
        ));
    }
    Ok(tok.bytes.clone())
}

fn soa_text(names: [&str; 2], numbers: [u32; 5]) -> String {
    let [serial, refresh, retry, expire, minimum] = numbers;
    format!(
        "{} {} {serial} {refresh} {retry} {expire} {minimum}",
        fqdn(names[0]),
        fqdn(names[1])
    )
}

/// Parses character-strings from wire data.
fn strings_from_wire(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let len = data[pos] as usize;
        let s = data
            .get(pos + 1..pos + 1 + len)
            .ok_or_else(|| "character-string runs past the end of the data".to_owned())?;
        out.push(s.to_vec());
        pos += 1 + len;
    }
    if out.is_empty() {
        return Err("TXT data needs at least one character-string".to_owned());
    }
    Ok(out)
}

fn u32_at(data: &[u8], pos: usize) -> Option<u32> {
    let b = data.get(pos..pos + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// Hexadecimal digits (possibly split over several tokens) as bytes;
/// `None` when odd in length or not hexadecimal.
fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
            .collect(),
    )
}

fn parse_u8(tok: &Token, what: &str, file: &str) -> Result<u8, ZoneError> {
    tok.raw.parse::<u8>().map_err(|_| {
        err(
            file,
            tok,
            format!("invalid {what} '{}' (0 to 255)", tok.raw),
        )
    })
}

/// Decodes RFC 3597 generic data (`\# LEN HEX...`) for a known type.
fn generic_rdata(
    rtype: RecordType,
    rdata: &[Token],
    type_tok: &Token,
    file: &str,
) -> Result<Rdata, ZoneError> {
    let marker = &rdata[0];
    let len_tok = rdata.get(1).ok_or_else(|| {
        err(
            file,
            marker,
            "generic data '\\#' needs a length and hexadecimal data",
        )
    })?;
    let len: usize = len_tok
        .raw
        .parse()
        .map_err(|_| err(file, len_tok, format!("invalid length '{}'", len_tok.raw)))?;
    let hex: String = rdata[2..].iter().map(|t| t.raw.as_str()).collect();
    let data = hex_bytes(&hex).ok_or_else(|| {
        err(
            file,
            rdata.get(2).unwrap_or(len_tok),
            "generic data must be an even number of hexadecimal digits",
        )
    })?;
    if data.len() != len {
        return Err(err(
            file,
            len_tok,
            format!(
                "generic data length is {len} but {} bytes follow",
                data.len()
            ),
        ));
    }
    let bad = |reason: String| {
        err(
            file,
            marker,
            format!("invalid generic {} data: {reason}", type_tok.raw),
        )
    };
    let whole_name = |data: &[u8]| -> Result<String, ZoneError> {
        let (name, used) = name_from_wire(data).map_err(bad)?;
        if used != data.len() {
            return Err(bad("extra bytes after the name".to_owned()));
        }
        Ok(name)
    };
    Ok(match rtype {
        RecordType::A => {
            let b: [u8; 4] = data
                .as_slice()
                .try_into()
                .map_err(|_| bad("an A record has 4 bytes".to_owned()))?;
            Rdata::A(Ipv4Addr::from(b))
        }
        RecordType::AAAA => {
            let b: [u8; 16] = data
                .as_slice()
                .try_into()
                .map_err(|_| bad("an AAAA record has 16 bytes".to_owned()))?;
            Rdata::Aaaa(Ipv6Addr::from(b))
        }
        RecordType::TXT | RecordType::SPF => Rdata::Txt(strings_from_wire(&data).map_err(bad)?),
        RecordType::MX => {
            if data.len() < 3 {
                return Err(bad("too short for an MX record".to_owned()));
            }
            Rdata::Mx {
                preference: u16::from_be_bytes([data[0], data[1]]),
                exchange: whole_name(&data[2..])?,
            }
        }
        RecordType::CNAME => Rdata::Cname(whole_name(&data)?),
        RecordType::NS => Rdata::Ns(whole_name(&data)?),
        RecordType::PTR => Rdata::Ptr(whole_name(&data)?),
        RecordType::TLSA => {
            if data.len() < 4 {
                return Err(bad("too short for a TLSA record".to_owned()));
            }
            Rdata::tlsa(data[0], data[1], data[2], &data[3..])
        }
        RecordType::SOA => {
            let (mname, a) = name_from_wire(&data).map_err(bad)?;
            let (rname, b) = name_from_wire(&data[a..]).map_err(bad)?;
            let rest = &data[a + b..];
            if rest.len() != 20 {
                return Err(bad("an SOA record ends with five 32-bit numbers".to_owned()));
            }
            let n = |i: usize| u32_at(rest, i * 4).unwrap_or(0);
            Rdata::Other(soa_text([&mname, &rname], [n(0), n(1), n(2), n(3), n(4)]))
        }
    })
}

impl State<'_> {
    fn name(&self, tok: &Token) -> Result<String, ZoneError> {
        parse_name(tok, self.origin.as_deref(), self.file)
    }

    fn rdata(
        &self,
        rtype: RecordType,
        rdata: &[Token],
        type_tok: &Token,
    ) -> Result<Rdata, ZoneError> {
        let file = self.file;
        if rdata.first().is_some_and(|t| t.is_word("\\#")) {
            return generic_rdata(rtype, rdata, type_tok, file);
        }
        Ok(match rtype {
            RecordType::A => {
                expect_count(rdata, 1, type_tok, "an IPv4 address", file)?;
                let t = &rdata[0];
                Rdata::A(
                    t.raw
                        .parse()
                        .map_err(|_| err(file, t, format!("invalid IPv4 address '{}'", t.raw)))?,
                )
            }
            RecordType::AAAA => {
                expect_count(rdata, 1, type_tok, "an IPv6 address", file)?;
                let t = &rdata[0];
                Rdata::Aaaa(
                    t.raw
                        .parse()
                        .map_err(|_| err(file, t, format!("invalid IPv6 address '{}'", t.raw)))?,
                )
            }
            RecordType::MX => {
                expect_count(rdata, 2, type_tok, "a preference and an exchange", file)?;
                Rdata::Mx {
                    preference: parse_u16(&rdata[0], "MX preference", file)?,
                    exchange: self.name(&rdata[1])?,
                }
            }
            RecordType::TXT | RecordType::SPF => {
                if rdata.is_empty() {
                    return Err(err(
                        file,
                        type_tok,
                        format!(
                            "{} record needs at least one character-string",
                            type_tok.raw.to_ascii_uppercase()
                        ),
                    ));
                }
                Rdata::Txt(
                    rdata
                        .iter()
                        .map(|t| character_string(t, file))
                        .collect::<Result<_, _>>()?,
                )
            }
            RecordType::CNAME => {
                expect_count(rdata, 1, type_tok, "a target name", file)?;
                Rdata::Cname(self.name(&rdata[0])?)
            }
            RecordType::NS => {
                expect_count(rdata, 1, type_tok, "a name server name", file)?;
                Rdata::Ns(self.name(&rdata[0])?)
            }
            RecordType::PTR => {
                expect_count(rdata, 1, type_tok, "a target name", file)?;
                Rdata::Ptr(self.name(&rdata[0])?)
            }
            RecordType::TLSA => {
                // The data may be split over several tokens (RFC 6698 section 2.2).
                expect_count(
                    &rdata[..rdata.len().min(4)],
                    4,
                    type_tok,
                    "USAGE SELECTOR MATCHING-TYPE and hexadecimal data",
                    file,
                )?;
                let hex: String = rdata[3..].iter().map(|t| t.raw.as_str()).collect();
                let data = hex_bytes(&hex).ok_or_else(|| {
                    err(
                        file,
                        &rdata[3],
                        "TLSA data must be an even number of hexadecimal digits",
                    )
                })?;
                Rdata::tlsa(
                    parse_u8(&rdata[0], "TLSA certificate usage", file)?,
                    parse_u8(&rdata[1], "TLSA selector", file)?,
                    parse_u8(&rdata[2], "TLSA matching type", file)?,
                    &data,
                )
            }
            RecordType::SOA => {
                expect_count(
                    rdata,
                    7,
                    type_tok,
                    "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM",
                    file,
                )?;
                let mname = self.name(&rdata[0])?;
                let rname = self.name(&rdata[1])?;
                let serial = rdata[2].raw.parse::<u32>().map_err(|_| {
                    err(
                        file,
                        &rdata[2],
                        format!("invalid SOA serial '{}'", rdata[2].raw),
                    )
                })?;
                let mut numbers = [serial, 0, 0, 0, 0];
                for (slot, tok) in numbers.iter_mut().skip(1).zip(&rdata[3..7]) {
                    *slot = parse_ttl(tok, file)?;
                }
                Rdata::Other(soa_text([&mname, &rname], numbers))
            }
        })
    }

    fn directive(&mut self, tokens: &[Token]) -> Result<(), ZoneError> {
        let file = self.file;
        let head = &tokens[0];
        let upper = head.raw.to_ascii_uppercase();
        match upper.as_str() {
            "$ORIGIN" => {
                expect_count(&tokens[1..], 1, head, "a domain name", file)?;
                let origin = self.name(&tokens[1])?;
                self.out.origins.push(origin.clone());
                self.origin = Some(origin);
            }
            "$TTL" => {
                expect_count(&tokens[1..], 1, head, "a TTL", file)?;
                self.default_ttl = Some(parse_ttl(&tokens[1], file)?);
            }
            "$INCLUDE" => {
                return Err(err(
                    file,
                    head,
                    "$INCLUDE is not supported; load the files separately and merge them",
                ));
            }
            _ => return Err(err(file, head, format!("unknown directive '{}'", head.raw))),
        }
        Ok(())
    }

    fn record(&mut self, entry: &Entry) -> Result<(), ZoneError> {
        let file = self.file;
        let tokens = &entry.tokens;
        let mut i = 0;
        let owner = if entry.blank_start {
            self.last_owner.clone().ok_or_else(|| {
                err(
                    file,
                    &tokens[0],
                    "the owner is omitted (line starts with a blank) but no record came before",
                )
            })?
        } else {
            i = 1;
            self.name(&tokens[0])?
        };
        let mut ttl = None;
        let mut class_seen = false;
        let type_tok = loop {
            let tok = tokens.get(i).ok_or_else(|| {
                err(
                    file,
                    tokens.last().unwrap_or(&tokens[0]),
                    "record has no type",
                )
            })?;
            i += 1;
            if !tok.quoted && tok.raw.starts_with(|c: char| c.is_ascii_digit()) {
                if ttl.is_some() {
                    return Err(err(file, tok, "TTL given twice"));
                }
                ttl = Some(parse_ttl(tok, file)?);
            } else if parse_class(tok, file)? {
                if class_seen {
                    return Err(err(file, tok, "class given twice"));
                }
                class_seen = true;
            } else {
                break tok;
            }
        };
        let rtype = parse_type(type_tok, file)?;
        let rdata = self.rdata(rtype, &tokens[i..], type_tok)?;
        let ttl = match ttl {
            Some(t) => {
                self.last_ttl = Some(t);
                t
            }
            None => self.default_ttl.or(self.last_ttl).unwrap_or(DEFAULT_TTL),
        };
        if rtype == RecordType::SOA {
            self.out.soa_owners.push(owner.clone());
        }
        let first = &tokens[0];
        self.out.records.push(ZoneRecord {
            name: owner.clone(),
            ttl,
            rtype,
            rdata,
            location: Location {
                file: file.to_owned(),
                line: first.line,
                column: first.column,
            },
        });
        self.last_owner = Some(owner);
        Ok(())
    }
}

/// Parses one file's text.
pub(crate) fn parse_file(
    text: &str,
    file: &str,
    default_origin: Option<&str>,
) -> Result<ParsedFile, ZoneError> {
    let origin = match default_origin {
        Some(o) => Some(parse_name(
            &Token {
                raw: if o.ends_with('.') {
                    o.to_owned()
                } else {
                    format!("{o}.")
                },
                bytes: Vec::new(),
                quoted: false,
                line: 0,
                column: 0,
            },
            None,
            file,
        )?),
        None => None,
    };
    let mut state = State {
        file,
        origin: origin.clone(),
        default_ttl: None,
        last_ttl: None,
        last_owner: None,
        out: ParsedFile {
            records: Vec::new(),
            soa_owners: Vec::new(),
            origins: origin.into_iter().collect(),
        },
    };
    for entry in lex(text, file)? {
        let first = &entry.tokens[0];
        if !entry.blank_start && !first.quoted && first.raw.starts_with('$') {
            state.directive(&entry.tokens)?;
        } else {
            state.record(&entry)?;
        }
    }
    Ok(state.out)
}
