//! Domain name helpers: normalisation and the organizational domain.

pub use crate::dns::normalize_name;

/// The organizational domain of `name` (RFC 7489 section 3.2): the
/// registrable domain per the public suffix list, e.g. `mail.example.co.uk`
/// gives `example.co.uk`. A name that is itself a public suffix (or unknown)
/// is returned unchanged.
pub fn organizational_domain(name: &str) -> String {
    let name = normalize_name(name);
    match psl::domain_str(&name) {
        Some(d) => d.to_string(),
        None => name,
    }
}

/// True when `a` and `b` share an organizational domain (relaxed alignment).
pub fn relaxed_aligned(a: &str, b: &str) -> bool {
    organizational_domain(a) == organizational_domain(b)
}

/// Checks that `name` is a syntactically valid domain name: labels of 1 to
/// 63 letters, digits, hyphens or underscores, 253 characters at most.
pub fn validate_domain(name: &str) -> Result<(), String> {
    let name = name.trim_end_matches('.');
    if name.is_empty() {
        return Err("empty domain name".into());
    }
    if name.len() > 253 {
        return Err(format!(
            "domain name is {} characters, the limit is 253",
            name.len()
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!("`{name}` has an empty label"));
        }
        if label.len() > 63 {
            return Err(format!("label `{label}` is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("`{name}` contains the character `{c}`"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_domain() {
        assert_eq!(
            organizational_domain("mail.Example.co.uk."),
            "example.co.uk"
        );
        assert_eq!(organizational_domain("a.b.example.com"), "example.com");
        assert_eq!(organizational_domain("example.com"), "example.com");
        assert!(relaxed_aligned("bounce.example.com", "example.com"));
        assert!(!relaxed_aligned("example.net", "example.com"));
    }

    #[test]
    fn domain_syntax() {
        assert!(validate_domain("example.org").is_ok());
        assert!(validate_domain("exa mple.org").is_err());
        assert!(validate_domain("a..b").is_err());
        assert!(validate_domain("-a.b").is_err());
    }
}
