//! Domain names as this crate stores them: lower-case ASCII labels joined by
//! dots, without the trailing dot; the root is the empty string.

use crate::error::ZoneError;
use crate::lexer::Token;

/// Longest name in presentation form without the trailing dot (255 octets on the wire).
const MAX_NAME_TEXT: usize = 253;
const MAX_LABEL: usize = 63;

/// The parent of `name`, `None` for the root.
pub(crate) fn parent(name: &str) -> Option<&str> {
    if name.is_empty() {
        return None;
    }
    Some(match name.find('.') {
        Some(i) => &name[i + 1..],
        None => "",
    })
}

/// True when `name` is `apex` or below it.
pub(crate) fn is_under(name: &str, apex: &str) -> bool {
    apex.is_empty()
        || name == apex
        || (name.len() > apex.len()
            && name.ends_with(apex)
            && name.as_bytes()[name.len() - apex.len() - 1] == b'.')
}

/// `name` with a trailing dot, as in presentation format.
pub(crate) fn fqdn(name: &str) -> String {
    if name.is_empty() {
        ".".to_owned()
    } else {
        format!("{name}.")
    }
}

/// Joins `relative` (already validated labels) to `origin`.
fn join(relative: &str, origin: &str) -> String {
    if origin.is_empty() {
        relative.to_owned()
    } else {
        format!("{relative}.{origin}")
    }
}

/// Checks one decoded label and turns it into text.
fn label_text(label: &[u8], file: &str, tok: &Token) -> Result<String, ZoneError> {
    if label.is_empty() {
        return Err(ZoneError::at(
            file,
            tok.line,
            tok.column,
            format!("empty label in name '{}'", tok.raw),
        ));
    }
    if label.len() > MAX_LABEL {
        return Err(ZoneError::at(
            file,
            tok.line,
            tok.column,
            format!("label longer than {MAX_LABEL} octets in name '{}'", tok.raw),
        ));
    }
    // Names are kept as text, so a label may only hold characters that
    // need no escape in presentation format.
    if let Some(b) = label
        .iter()
        .find(|b| !b.is_ascii_graphic() || **b == b'.' || **b == b'\\')
    {
        return Err(ZoneError::at(
            file,
            tok.line,
            tok.column,
            format!(
                "unsupported octet \\{b:03} in name '{}' (only printable ASCII other than '.' and '\\' is supported)",
                tok.raw
            ),
        ));
    }
    Ok(String::from_utf8_lossy(label).to_ascii_lowercase())
}

/// Parses a domain name token; relative names are completed with `origin`.
pub(crate) fn parse_name(
    tok: &Token,
    origin: Option<&str>,
    file: &str,
) -> Result<String, ZoneError> {
    let need_origin = || {
        origin.map(str::to_owned).ok_or_else(|| {
            ZoneError::at(
                file,
                tok.line,
                tok.column,
                format!(
                    "relative name '{}' but no $ORIGIN is set (write it with a trailing dot or add $ORIGIN)",
                    tok.raw
                ),
            )
        })
    };
    if tok.raw == "@" && !tok.quoted {
        return need_origin();
    }
    if tok.raw == "." {
        return Ok(String::new());
    }
    // Split on unescaped dots, decoding escapes.
    let mut labels: Vec<Vec<u8>> = vec![Vec::new()];
    let mut absolute = false;
    let chars: Vec<char> = tok.raw.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        absolute = false;
        match c {
            '.' => {
                labels.push(Vec::new());
                absolute = true;
            }
            '\\' => {
                let digits: String = chars.iter().skip(i + 1).take(3).collect();
                if digits.len() == 3 && digits.chars().all(|d| d.is_ascii_digit()) {
                    let value: u32 = digits.parse().unwrap_or(256);
                    let byte = u8::try_from(value).map_err(|_| {
                        ZoneError::at(
                            file,
                            tok.line,
                            tok.column,
                            format!("escape \\{digits} is not a byte value"),
                        )
                    })?;
                    if let Some(l) = labels.last_mut() {
                        l.push(byte);
                    }
                    i += 3;
                } else if let Some(next) = chars.get(i + 1) {
                    let mut buf = [0u8; 4];
                    if let Some(l) = labels.last_mut() {
                        l.extend_from_slice(next.encode_utf8(&mut buf).as_bytes());
                    }
                    i += 1;
                }
            }
            _ => {
                let mut buf = [0u8; 4];
                if let Some(l) = labels.last_mut() {
                    l.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        i += 1;
    }
    if absolute {
        // The trailing dot produced an empty last label.
        labels.pop();
    }
    let texts = labels
        .iter()
        .map(|l| label_text(l, file, tok))
        .collect::<Result<Vec<_>, _>>()?;
    let relative = texts.join(".");
    let name = if absolute {
        relative
    } else {
        join(&relative, &need_origin()?)
    };
    if name.len() > MAX_NAME_TEXT {
        return Err(ZoneError::at(
            file,
            tok.line,
            tok.column,
            format!("name '{}' is longer than 255 octets", tok.raw),
        ));
    }
    Ok(name)
}

/// Turns wire-format labels (uncompressed) into a name; returns the name and
/// the number of bytes read.
pub(crate) fn name_from_wire(data: &[u8]) -> Result<(String, usize), String> {
    let mut labels = Vec::new();
    let mut pos = 0;
    loop {
        let len = *data
            .get(pos)
            .ok_or_else(|| "name runs past the end of the data".to_owned())?
            as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > MAX_LABEL {
            return Err("compressed or oversized label in generic name data".to_owned());
        }
        let label = data
            .get(pos..pos + len)
            .ok_or_else(|| "label runs past the end of the data".to_owned())?;
        if label
            .iter()
            .any(|b| !b.is_ascii_graphic() || *b == b'.' || *b == b'\\')
        {
            return Err("unsupported octet in a label of generic name data".to_owned());
        }
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        pos += len;
    }
    Ok((labels.join("."), pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_suffixes() {
        assert_eq!(parent("a.b.c"), Some("b.c"));
        assert_eq!(parent("c"), Some(""));
        assert_eq!(parent(""), None);
        assert!(is_under("a.example.com", "example.com"));
        assert!(is_under("example.com", "example.com"));
        assert!(!is_under("badexample.com", "example.com"));
        assert!(is_under("anything", ""));
        assert_eq!(fqdn(""), ".");
        assert_eq!(fqdn("a.b"), "a.b.");
    }

    #[test]
    fn wire_names() {
        let wire = b"\x04mail\x07Example\x03com\x00";
        assert_eq!(
            name_from_wire(wire).unwrap(),
            ("mail.example.com".to_owned(), wire.len())
        );
        assert!(name_from_wire(b"\x04mai").is_err());
        assert!(name_from_wire(b"\xc0\x0c").is_err());
    }
}
