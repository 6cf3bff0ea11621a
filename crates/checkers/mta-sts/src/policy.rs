//! The MTA-STS TXT record and policy file of RFC 8461 sections 3.1 and 3.2,
//! and the matching of MX host names against the policy's `mx` patterns.

/// The largest `max_age` allowed (RFC 8461 section 3.2).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;

/// A parsed `_mta-sts` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsRecord {
    /// The `id` value.
    pub id: String,
}

/// Parses an `_mta-sts` record: `v=STSv1` first, then `;`-separated fields,
/// one of them `id` with 1–32 letters and digits. Other fields are allowed.
pub fn parse_record(text: &str) -> Result<StsRecord, String> {
    let mut fields = text.split(';').map(str::trim).filter(|f| !f.is_empty());
    match fields.next() {
        Some("v=STSv1") => {}
        Some(first) => {
            return Err(format!(
                "the record must start with `v=STSv1`, not `{first}`"
            ))
        }
        None => return Err("the record is empty".into()),
    }
    let mut id = None;
    for field in fields {
        let Some((key, value)) = field.split_once('=') else {
            return Err(format!("`{field}` is not a `key=value` field"));
        };
        if key.trim() == "id" {
            if id.is_some() {
                return Err("the record has two `id` fields".into());
            }
            let value = value.trim();
            if value.is_empty()
                || value.len() > 32
                || !value.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(format!(
                    "the id `{value}` must be 1 to 32 letters and digits"
                ));
            }
            id = Some(value.to_string());
        }
    }
    id.map(|id| StsRecord { id })
        .ok_or_else(|| "the record has no `id` field".into())
}

/// The policy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Senders must not deliver without a valid TLS session to a listed MX.
    Enforce,
    /// Senders deliver anyway and report failures.
    Testing,
    /// The policy is withdrawn.
    None,
}

impl Mode {
    /// The policy's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Testing => "testing",
            Mode::None => "none",
        }
    }
}

/// A parsed policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `mode`.
    pub mode: Mode,
    /// `max_age`, seconds.
    pub max_age: u64,
    /// `mx` patterns, lower-case, in file order.
    pub mx: Vec<String>,
}

/// Why a policy file is not valid: every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors {
    /// The problems, one sentence each.
    pub problems: Vec<String>,
    /// `max_age` parsed but above [`MAX_AGE_LIMIT`] (reported apart).
    pub max_age_over: Option<u64>,
}

/// Parses a policy file (RFC 8461 section 3.2). Lines end in CRLF or LF;
/// unknown keys are ignored as the RFC asks.
pub fn parse_policy(body: &str) -> Result<Policy, PolicyErrors> {
    let mut problems = Vec::new();
    let mut version = None;
    let mut mode = None;
    let mut max_age = None;
    let mut max_age_over = None;
    let mut mx = Vec::new();
    for (n, line) in body.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            problems.push(format!(
                "line {}: `{}` is not `key: value`",
                n + 1,
                clip(line)
            ));
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "version" => {
                if version.is_some() {
                    problems.push(format!("line {}: a second `version`", n + 1));
                }
                version = Some(value.to_string());
            }
            "mode" => {
                if mode.is_some() {
                    problems.push(format!("line {}: a second `mode`", n + 1));
                }
                mode = Some(match value {
                    "enforce" => Some(Mode::Enforce),
                    "testing" => Some(Mode::Testing),
                    "none" => Some(Mode::None),
                    other => {
                        problems.push(format!(
                            "line {}: mode `{}` is none of enforce, testing, none",
                            n + 1,
                            clip(other)
                        ));
                        None
                    }
                });
            }
            "max_age" => {
                if max_age.is_some() {
                    problems.push(format!("line {}: a second `max_age`", n + 1));
                }
                match value.parse::<u64>() {
                    Ok(v) if value.len() <= 10 && v <= MAX_AGE_LIMIT => max_age = Some(v),
                    Ok(v) if value.bytes().all(|b| b.is_ascii_digit()) => {
                        max_age_over = Some(v);
                        max_age = Some(v);
                    }
                    _ => problems.push(format!(
                        "line {}: max_age `{}` is not a number of seconds",
                        n + 1,
                        clip(value)
                    )),
                }
            }
            "mx" => match valid_pattern(value) {
                Ok(()) => mx.push(value.trim_end_matches('.').to_ascii_lowercase()),
                Err(why) => problems.push(format!("line {}: mx `{}` {why}", n + 1, clip(value))),
            },
            _ => {}
        }
    }
    match version.as_deref() {
        Some("STSv1") => {}
        Some(v) => problems.push(format!("version `{}` is not STSv1", clip(v))),
        None => problems.push("no `version: STSv1` line".into()),
    }
    let mode = match mode {
        Some(Some(m)) => Some(m),
        Some(None) => None,
        None => {
            problems.push("no `mode` line".into());
            None
        }
    };
    if max_age.is_none() && !problems.iter().any(|p| p.contains("max_age")) {
        problems.push("no `max_age` line".into());
    }
    if mx.is_empty() && mode != Some(Mode::None) {
        problems.push("no `mx` line (required unless `mode: none`)".into());
    }
    match (mode, max_age) {
        (Some(mode), Some(max_age)) if problems.is_empty() && max_age_over.is_none() => {
            Ok(Policy { mode, max_age, mx })
        }
        _ => Err(PolicyErrors {
            problems,
            max_age_over,
        }),
    }
}

/// A pattern is a host name, optionally `*.` as the whole leftmost label.
fn valid_pattern(pattern: &str) -> Result<(), &'static str> {
    let name = pattern.trim_end_matches('.');
    let rest = name.strip_prefix("*.").unwrap_or(name);
    if rest.is_empty() {
        return Err("is empty");
    }
    if rest.contains('*') {
        return Err("has a wildcard that is not the whole leftmost label");
    }
    if rest.parse::<std::net::IpAddr>().is_ok() {
        return Err("is an address, not a host name");
    }
    let labels_ok = rest.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    });
    if !labels_ok || rest.len() > 253 {
        return Err("is not a host name");
    }
    Ok(())
}

/// Whether `host` matches `pattern`: equal, or `*.rest` with exactly one
/// more label (RFC 8461 section 4.1).
pub fn matches(pattern: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => host == pattern,
    }
}

/// At most 80 characters of hostile text, for messages.
fn clip(s: &str) -> String {
    authwarden_api::text::display_value(s, 80).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        assert_eq!(parse_record("v=STSv1; id=2026A").unwrap().id, "2026A");
        assert_eq!(parse_record("v=STSv1;id=x1;ext=y").unwrap().id, "x1");
        assert!(parse_record("v=STSv1").unwrap_err().contains("no `id`"));
        assert!(parse_record("id=1; v=STSv1").is_err());
        assert!(parse_record("v=STSv1; id=2026-12-01")
            .unwrap_err()
            .contains("letters and digits"));
        assert!(parse_record(&format!("v=STSv1; id={}", "a".repeat(33))).is_err());
    }

    #[test]
    fn policies() {
        let p = parse_policy("version: STSv1\r\nmode: enforce\r\nmx: mx1.example.org\r\nmx: *.mail.example.net\r\nmax_age: 1209600\r\n").unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 1_209_600);
        assert_eq!(p.mx, ["mx1.example.org", "*.mail.example.net"]);
        let none = parse_policy("version: STSv1\nmode: none\nmax_age: 86400\n").unwrap();
        assert_eq!(none.mode, Mode::None);
        let e = parse_policy("version: STSv2\nmode: strict\nmax_age: x\n").unwrap_err();
        assert_eq!(e.problems.len(), 4, "{:?}", e.problems);
        let e = parse_policy("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601\n")
            .unwrap_err();
        assert_eq!((e.problems.len(), e.max_age_over), (0, Some(31_557_601)));
        let e = parse_policy("version: STSv1\nmode: testing\nmx: mx.*.example\nmax_age: 600\n")
            .unwrap_err();
        assert!(e.problems[0].contains("wildcard"), "{:?}", e.problems);
        assert!(parse_policy("<html>").is_err());
    }

    #[test]
    fn wildcards_match_one_label() {
        assert!(matches("*.example.net", "mx1.example.net"));
        assert!(!matches("*.example.net", "a.b.example.net"));
        assert!(!matches("*.example.net", "example.net"));
        assert!(matches("MX.example.org.", "mx.example.org"));
        assert!(!matches("mx.example.org", "mx2.example.org"));
    }
}
