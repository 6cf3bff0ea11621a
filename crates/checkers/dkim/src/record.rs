//! The DKIM key record (RFC 6376 section 3.6.1): the tag-list parser, with
//! errors that name the offending tag.

use std::fmt;

/// The key type of the `k=` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// `k=rsa` (the default).
    Rsa,
    /// `k=ed25519` (RFC 8463).
    Ed25519,
}

impl KeyType {
    /// The lower-case name, as in `k=`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

/// A parsed key record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// `v=` when present (always `DKIM1`).
    pub version: Option<String>,
    /// `k=`, `rsa` when absent.
    pub key_type: KeyType,
    /// `p=` without whitespace; empty means revoked.
    pub public_key: String,
    /// `h=`: the hash algorithms allowed, empty when absent (all allowed).
    pub hashes: Vec<String>,
    /// `s=`: the service types, empty when absent (`*`).
    pub services: Vec<String>,
    /// `t=`: the flags, e.g. `y` (testing) and `s` (strict).
    pub flags: Vec<String>,
    /// `n=`: notes for humans.
    pub notes: Option<String>,
}

impl KeyRecord {
    /// An empty `p=`: the key is revoked.
    pub fn revoked(&self) -> bool {
        self.public_key.is_empty()
    }

    /// `t=y`: testing mode.
    pub fn testing(&self) -> bool {
        self.flags.iter().any(|f| f == "y")
    }

    /// `h=` lists only `sha1`.
    pub fn sha1_only(&self) -> bool {
        !self.hashes.is_empty() && self.hashes.iter().all(|h| h == "sha1")
    }
}

/// Why a record does not parse: the tag at fault and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagError {
    /// The tag name (`p`, `k`, ...), or the raw text of a piece without `=`.
    pub tag: String,
    /// What is wrong, lower-case.
    pub reason: String,
}

impl fmt::Display for TagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tag `{}`: {}", self.tag, self.reason)
    }
}

impl std::error::Error for TagError {}

fn err(tag: &str, reason: impl Into<String>) -> TagError {
    TagError {
        tag: tag.to_string(),
        reason: reason.into(),
    }
}

/// True for text that looks like it is meant as a DKIM key record: it starts
/// with `v=DKIM1` or has a `p=` tag. Other TXT records at a selector name
/// (verification tokens, SPF copied by a wildcard) are not key records.
pub fn looks_like_key_record(text: &str) -> bool {
    text.split(';').any(|piece| {
        let piece = piece.trim_start();
        piece.starts_with("p=") || piece.starts_with("p =")
    }) || text.trim_start().starts_with("v=DKIM1")
}

/// Parses a key record's tag list.
///
/// ```
/// use authwarden_checker_dkim::record::{parse_record, KeyType};
/// let r = parse_record("v=DKIM1; k=ed25519; t=y; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").unwrap();
/// assert_eq!(r.key_type, KeyType::Ed25519);
/// assert!(r.testing());
/// assert_eq!(parse_record("v=DKIM1; k=dsa; p=AAAA").unwrap_err().tag, "k");
/// ```
pub fn parse_record(text: &str) -> Result<KeyRecord, TagError> {
    let mut record = KeyRecord {
        version: None,
        key_type: KeyType::Rsa,
        public_key: String::new(),
        hashes: Vec::new(),
        services: Vec::new(),
        flags: Vec::new(),
        notes: None,
    };
    let mut seen: Vec<String> = Vec::new();
    let mut p_seen = false;
    let pieces: Vec<&str> = text.split(';').collect();
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.trim();
        if piece.is_empty() {
            // A trailing `;` (or an empty record) is allowed by the grammar.
            continue;
        }
        let Some((name, value)) = piece.split_once('=') else {
            return Err(err(piece, "is not `tag=value`"));
        };
        let name = name.trim();
        let value = value.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(name, "is not a valid tag name"));
        }
        if seen.iter().any(|s| s == name) {
            return Err(err(name, "appears twice"));
        }
        seen.push(name.to_string());
        let list = |v: &str| -> Vec<String> {
            v.split(':')
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect()
        };
        match name {
            "v" => {
                if i != 0 || seen.len() != 1 {
                    return Err(err("v", "must be the first tag"));
                }
                if value != "DKIM1" {
                    return Err(err("v", format!("is `{value}`, expected `DKIM1`")));
                }
                record.version = Some(value.to_string());
            }
            "k" => {
                record.key_type = match value.to_ascii_lowercase().as_str() {
                    "rsa" => KeyType::Rsa,
                    "ed25519" => KeyType::Ed25519,
                    other => {
                        return Err(err(
                            "k",
                            format!("unknown key type `{other}`, expected `rsa` or `ed25519`"),
                        ))
                    }
                }
            }
            "p" => {
                p_seen = true;
                record.public_key = value.chars().filter(|c| !c.is_whitespace()).collect();
            }
            "h" => {
                record.hashes = list(value);
                if record.hashes.is_empty() {
                    return Err(err("h", "is empty"));
                }
                if let Some(bad) = record
                    .hashes
                    .iter()
                    .find(|h| !h.chars().all(|c| c.is_ascii_alphanumeric()))
                {
                    return Err(err("h", format!("`{bad}` is not a hash algorithm name")));
                }
            }
            "s" => {
                record.services = list(value);
                if !record.services.is_empty()
                    && !record.services.iter().any(|s| s == "*" || s == "email")
                {
                    return Err(err(
                        "s",
                        format!(
                            "`{value}` excludes email: receivers will not use this key for mail"
                        ),
                    ));
                }
            }
            "t" => {
                record.flags = list(value);
                if let Some(bad) = record
                    .flags
                    .iter()
                    .find(|f| !f.chars().all(|c| c.is_ascii_alphanumeric()))
                {
                    return Err(err("t", format!("`{bad}` is not a flag")));
                }
            }
            "n" => record.notes = Some(value.to_string()),
            // RFC 6376: unknown tags MUST be ignored.
            _ => {}
        }
    }
    if !p_seen {
        return Err(err("p", "is missing (an empty `p=` revokes a key)"));
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let r =
            parse_record("v=DKIM1; h=sha1:sha256; k=rsa; s=email; t=y:s; n=hi; p=AB CD").unwrap();
        assert_eq!(r.public_key, "ABCD");
        assert_eq!(r.hashes, ["sha1", "sha256"]);
        assert!(r.testing() && !r.sha1_only());
        assert_eq!(r.notes.as_deref(), Some("hi"));
        assert!(parse_record("p=").unwrap().revoked());
        assert!(parse_record("h=sha1; p=AA").unwrap().sha1_only());
        assert!(parse_record("p=AA; x=unknown;").is_ok());
    }

    #[test]
    fn errors_name_the_tag() {
        for (text, tag) in [
            ("v=DKIM1; k=rsa", "p"),
            ("k=rsa; v=DKIM1; p=AA", "v"),
            ("v=DKIM2; p=AA", "v"),
            ("p=AA; p=BB", "p"),
            ("p=AA; garbage", "garbage"),
            ("s=tls; p=AA", "s"),
            ("h=; p=AA", "h"),
            ("t=y?; p=AA", "t"),
            ("k=dsa; p=AA", "k"),
        ] {
            assert_eq!(parse_record(text).unwrap_err().tag, tag, "{text}");
        }
    }

    #[test]
    fn key_record_detection() {
        assert!(looks_like_key_record("v=DKIM1; p="));
        assert!(looks_like_key_record("k=rsa; p=AAA"));
        assert!(!looks_like_key_record("google-site-verification=abc"));
        assert!(!looks_like_key_record("v=spf1 -all"));
    }
}
