//! Authenticating the mail messages that carry reports (aggregate, TLS and
//! failure reports): RFC 9990 (section 4.5) asks that a report message pass
//! DMARC for the reporter's domain and warns that reports can be forged, so
//! a report in the history should say whether its reporter sent it.
//!
//! Two steps: [`message_auth`] reads a [`Verification`] of the message (who
//! it is `From`, and whether that domain authenticated it: a From-aligned
//! DKIM signature that verified, or SPF that passed for an aligned envelope
//! sender), and [`judge`] compares the `From` domain with the domain the
//! report names as its reporter (the organizational domains must be the
//! same). A DMARC record of the reporter is not needed: what counts is the
//! aligned pass.

use authwarden_api::domain::organizational_domain;
use authwarden_api::reports::{report_auth, ReportAuth};

use crate::authtest::failure_reason;
use crate::{Verification, VerifyError};

/// What one report message proves about its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAuth {
    /// The `From` domain (lower-case), when the message has exactly one.
    pub from: Option<String>,
    /// `authenticated` (the `From` domain passed), `not-authenticated` or
    /// `incomplete` (a DNS failure).
    pub status: &'static str,
    /// The passing identifier (`DKIM pass for google.com (s=20230601)`) or
    /// why none passed.
    pub detail: String,
}

/// The [`MessageAuth`] of a verification (or of its error).
pub fn message_auth(verified: Result<&Verification, &VerifyError>) -> MessageAuth {
    let v = match verified {
        Ok(v) => v,
        Err(VerifyError::BadInput(e)) => {
            return MessageAuth {
                from: None,
                status: report_auth::NOT_AUTHENTICATED,
                detail: format!("the report message cannot be read: {e}"),
            }
        }
        Err(e) => {
            return MessageAuth {
                from: None,
                status: report_auth::INCOMPLETE,
                detail: e.to_string(),
            }
        }
    };
    let from = v.dmarc.from_domain.clone();
    let Some(from_domain) = from.as_deref() else {
        return MessageAuth {
            from,
            status: report_auth::NOT_AUTHENTICATED,
            detail: "the report message has no single From domain".into(),
        };
    };
    let org = organizational_domain(from_domain);
    if let Some(sig) = v
        .dkim
        .iter()
        .find(|d| d.result == "pass" && d.aligned_relaxed)
    {
        return MessageAuth {
            from,
            status: report_auth::AUTHENTICATED,
            detail: format!("DKIM pass for {} (s={})", sig.domain, sig.selector),
        };
    }
    if let (Some(ip), Some(spf)) = (
        v.envelope.client_ip,
        v.spf
            .iter()
            .find(|c| c.identity == "mailfrom" && c.result == "pass"),
    ) {
        if organizational_domain(&spf.domain) == org {
            return MessageAuth {
                from,
                status: report_auth::AUTHENTICATED,
                detail: format!("SPF pass for {ip} at {}", spf.domain),
            };
        }
    }
    let temporary = v
        .dkim
        .iter()
        .any(|d| d.aligned_relaxed && d.result == "temperror")
        || v.spf.iter().any(|c| c.result == "temperror");
    MessageAuth {
        from,
        status: if temporary {
            report_auth::INCOMPLETE
        } else {
            report_auth::NOT_AUTHENTICATED
        },
        detail: failure_reason(v),
    }
}

/// The domain of a reporter's contact: the part after `@` of an address,
/// the host of a URI, or the text itself when it looks like a domain
/// (`google.com`); `None` for anything else (`Google Inc.`).
pub fn contact_domain(contact: &str) -> Option<String> {
    let c = contact.trim().trim_start_matches("mailto:");
    let host = if let Some((_, rest)) = c.split_once("://") {
        rest.split(['/', ':', '?']).next().unwrap_or("")
    } else if let Some((_, d)) = c.rsplit_once('@') {
        d.trim_end_matches('>')
    } else {
        // `dns; mta.example.net` (a Reporting-MTA field).
        c.rsplit(';').next().unwrap_or("").trim()
    };
    let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
    let domain_like = host.contains('.')
        && host
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
        && !host.starts_with('.')
        && !host.ends_with('.');
    domain_like.then_some(host)
}

/// The authentication of one report whose reporter is `reporter` (the
/// domain the report names, see [`contact_domain`]; `None` when it names
/// none, then the `From` domain alone is judged), carried by a message
/// with `message`.
pub fn judge(message: &MessageAuth, reporter: Option<&str>) -> ReportAuth {
    let out = |status: &str, detail: String| ReportAuth {
        status: status.into(),
        from: message.from.clone(),
        detail: Some(detail),
    };
    let mismatch = match (message.from.as_deref(), reporter) {
        (Some(from), Some(reporter)) => {
            (organizational_domain(from) != organizational_domain(reporter)).then_some(reporter)
        }
        _ => None,
    };
    if let (Some(reporter), Some(from)) = (mismatch, message.from.as_deref()) {
        return out(
            report_auth::NOT_AUTHENTICATED,
            format!(
                "sent as {from}, but the report names {reporter} as its reporter ({}: {})",
                if message.status == report_auth::AUTHENTICATED {
                    "the message is authenticated only for its own domain"
                } else {
                    "and not authenticated either"
                },
                message.detail
            ),
        );
    }
    match message.status {
        report_auth::AUTHENTICATED => out(report_auth::AUTHENTICATED, message.detail.clone()),
        report_auth::INCOMPLETE => out(
            report_auth::INCOMPLETE,
            format!("check incomplete: {}", message.detail),
        ),
        _ => out(
            report_auth::NOT_AUTHENTICATED,
            match message.from.as_deref() {
                Some(from) => format!("{from} did not authenticate it: {}", message.detail),
                None => message.detail.clone(),
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passed(from: &str) -> MessageAuth {
        MessageAuth {
            from: Some(from.into()),
            status: report_auth::AUTHENTICATED,
            detail: format!("DKIM pass for {from} (s=s1)"),
        }
    }

    #[test]
    fn the_reporter_domain_is_read_from_addresses_uris_and_mta_fields() {
        assert_eq!(
            contact_domain("noreply-dmarc-support@google.com").as_deref(),
            Some("google.com")
        );
        assert_eq!(
            contact_domain("mailto:tlsrpt@Example.NET").as_deref(),
            Some("example.net")
        );
        assert_eq!(
            contact_domain("https://support.example.org/tls").as_deref(),
            Some("support.example.org")
        );
        assert_eq!(
            contact_domain("dns; mail-out.example.com").as_deref(),
            Some("mail-out.example.com")
        );
        assert_eq!(
            contact_domain("Outlook.com").as_deref(),
            Some("outlook.com")
        );
        assert_eq!(contact_domain("Google Inc."), None);
        assert_eq!(contact_domain(""), None);
    }

    #[test]
    fn a_report_passes_only_when_its_reporter_authenticated_the_message() {
        let ok = judge(&passed("google.com"), Some("google.com"));
        assert!(ok.is_authenticated(), "{ok:?}");
        // A subdomain of the reporter's organizational domain is the reporter.
        assert!(judge(&passed("reports.google.com"), Some("google.com")).is_authenticated());
        let other = judge(&passed("unrelated.test"), Some("google.com"));
        assert_eq!(other.status, report_auth::NOT_AUTHENTICATED);
        let detail = other.detail.unwrap();
        assert!(detail.contains("names google.com"), "{detail}");
        let unsigned = MessageAuth {
            from: Some("google.com".into()),
            status: report_auth::NOT_AUTHENTICATED,
            detail: "not DKIM-signed".into(),
        };
        let j = judge(&unsigned, Some("google.com"));
        assert_eq!(j.status, report_auth::NOT_AUTHENTICATED);
        assert_eq!(
            j.detail.as_deref(),
            Some("google.com did not authenticate it: not DKIM-signed")
        );
        let dns = MessageAuth {
            status: report_auth::INCOMPLETE,
            ..unsigned
        };
        assert_eq!(
            judge(&dns, Some("google.com")).status,
            report_auth::INCOMPLETE
        );
        // No reporter named: the From domain alone.
        assert!(judge(&passed("mx.example"), None).is_authenticated());
    }
}
