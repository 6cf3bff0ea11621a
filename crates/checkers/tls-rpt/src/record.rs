//! The TLS-RPT record of RFC 8460 section 3: parsed, and its `rua` URIs
//! checked.

/// A record that parses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRptRecord {
    /// The `rua` URIs, in the order published.
    pub rua: Vec<String>,
    /// The extension fields, as `name=value`.
    pub extensions: Vec<String>,
}

/// What is wrong with a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The record's structure is wrong (lower-case words).
    Syntax(String),
    /// A `rua` URI is not usable.
    BadUri {
        /// The URI as published.
        uri: String,
        /// Why (lower-case words).
        why: String,
    },
}

fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The `rua` URIs of a record, whatever else is wrong with it.
pub fn rua_uris(text: &str) -> Vec<String> {
    text.split(';')
        .map(|f| f.trim_matches(is_wsp))
        .filter_map(|f| f.strip_prefix("rua="))
        .flat_map(|v| v.split(',').map(|u| u.trim_matches(is_wsp).to_string()))
        .filter(|u| !u.is_empty())
        .collect()
}

/// Parses a record; every problem found is returned.
pub fn parse(text: &str) -> Result<TlsRptRecord, Vec<RecordError>> {
    let mut errors = Vec::new();
    let mut fields: Vec<&str> = text.split(';').map(|f| f.trim_matches(is_wsp)).collect();
    // One final `;` is allowed.
    if fields.len() > 1 && fields.last() == Some(&"") {
        fields.pop();
    }
    if fields.first() != Some(&"v=TLSRPTv1") {
        errors.push(RecordError::Syntax(format!(
            "the first field is `{}`, not `v=TLSRPTv1`",
            fields.first().unwrap_or(&"")
        )));
    }
    let mut rua = Vec::new();
    let mut rua_fields = 0;
    let mut extensions = Vec::new();
    for field in fields.iter().skip(1) {
        if field.is_empty() {
            errors.push(RecordError::Syntax("it has an empty field (`;;`)".into()));
            continue;
        }
        let Some((name, value)) = field.split_once('=') else {
            errors.push(RecordError::Syntax(format!(
                "the field `{field}` has no `=`"
            )));
            continue;
        };
        if name == "rua" {
            rua_fields += 1;
            for uri in value.split(',').map(|u| u.trim_matches(is_wsp)) {
                if uri.is_empty() {
                    errors.push(RecordError::Syntax(format!(
                        "the field `{field}` has an empty uri"
                    )));
                    continue;
                }
                match check_uri(uri) {
                    Ok(()) => rua.push(uri.to_string()),
                    Err(why) => errors.push(RecordError::BadUri {
                        uri: uri.to_string(),
                        why,
                    }),
                }
            }
        } else if name == "v" {
            errors.push(RecordError::Syntax("`v=` is repeated".into()));
        } else if !valid_ext_name(name) {
            errors.push(RecordError::Syntax(format!(
                "`{name}` is not a valid field name"
            )));
        } else if value.is_empty()
            || !value
                .chars()
                .all(|c| matches!(c, '\x21'..='\x3a' | '\x3c' | '\x3e'..='\x7e'))
        {
            errors.push(RecordError::Syntax(format!(
                "the value of the field `{name}` is empty or has characters RFC 8460 does not allow"
            )));
        } else {
            extensions.push(field.to_string());
        }
    }
    match rua_fields {
        0 => errors.push(RecordError::Syntax("it has no `rua=` field".into())),
        1 => {}
        n => errors.push(RecordError::Syntax(format!(
            "it has {n} `rua=` fields; list every uri in one, separated by commas"
        ))),
    }
    if errors.is_empty() {
        Ok(TlsRptRecord { rua, extensions })
    } else {
        Err(errors)
    }
}

fn valid_ext_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A host name: at least two labels of letters, digits and inner hyphens.
pub fn valid_host(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    host.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
}

/// Checks one `rua` URI: `mailto:` with a valid address or `https://` with
/// a valid host name.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return Err("it has no scheme; use `mailto:` or `https://`".into());
    };
    match scheme.to_ascii_lowercase().as_str() {
        "mailto" => {
            let address = rest.split('?').next().unwrap_or("");
            let Some((local, host)) = address.rsplit_once('@') else {
                return Err(format!("`{address}` is not a mail address (no `@`)"));
            };
            let local_ok = !local.is_empty()
                && local.len() <= 64
                && !local.starts_with('.')
                && !local.ends_with('.')
                && !local.contains("..")
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
            if !local_ok {
                return Err(format!(
                    "`{local}` is not a valid local part of a mail address"
                ));
            }
            if !valid_host(host) {
                return Err(format!("`{host}` is not a valid mail domain"));
            }
            Ok(())
        }
        "https" => {
            let Some(rest) = rest.strip_prefix("//") else {
                return Err("an https uri must start with `https://`".into());
            };
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            if authority.contains('@') {
                return Err("an https uri must not carry user information".into());
            }
            let host = match authority.rsplit_once(':') {
                Some((host, port)) => {
                    if port.parse::<u16>().map_or(true, |p| p == 0) {
                        return Err(format!("`{port}` is not a valid port"));
                    }
                    host
                }
                None => authority,
            };
            if !valid_host(host) {
                return Err(format!("`{host}` is not a valid host name"));
            }
            Ok(())
        }
        other => Err(format!(
            "the scheme `{other}:` is not allowed; rfc 8460 allows only `mailto:` and `https:`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_records_parse() {
        let r =
            parse("v=TLSRPTv1; rua=mailto:a@example.org, https://r.example.org:8443/v1;").unwrap();
        assert_eq!(
            r.rua,
            ["mailto:a@example.org", "https://r.example.org:8443/v1"]
        );
        let r = parse("v=TLSRPTv1;rua=mailto:a@example.org;ext_1=x").unwrap();
        assert_eq!(r.extensions, ["ext_1=x"]);
    }

    #[test]
    fn bad_records_say_why() {
        for (text, want) in [
            ("v=TLSRPTv1", "no `rua=`"),
            (
                "v=TLSRPTv1; rua=mailto:a@example.org; rua=mailto:b@example.org",
                "2 `rua=`",
            ),
            ("rua=mailto:a@example.org; v=TLSRPTv1", "first field"),
            ("v=TLSRPTv1;; rua=mailto:a@example.org", "empty field"),
            ("v=TLSRPTv1; rua", "no `=`"),
        ] {
            let errors = parse(text).unwrap_err();
            assert!(
                errors
                    .iter()
                    .any(|e| matches!(e, RecordError::Syntax(w) if w.contains(want))),
                "{text}: {errors:?}"
            );
        }
        for uri in [
            "http://r.example.org/",
            "mailto:nobody",
            "mailto:a@localhost",
            "https://bad_host.example/",
            "https:r.example.org",
            "ftp://r.example.org/",
            "https://r.example.org:0/",
        ] {
            assert!(check_uri(uri).is_err(), "{uri}");
        }
    }
}
