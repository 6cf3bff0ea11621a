//! The SMTP envelope of a saved message: the client IP and HELO name from
//! the `Received` header that a trusted receiving host added (headers above
//! it can be forged by no one but the receiver; below it by anyone), and the
//! envelope sender from `Return-Path`, unless the caller gives them.

use std::net::IpAddr;

use serde::Serialize;

use crate::VerifyOptions;

/// The envelope the checks use.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Envelope {
    /// The SMTP client's address.
    pub client_ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    pub helo: Option<String>,
    /// The envelope sender, `""` for the null sender.
    pub mail_from: Option<String>,
    /// Where the client IP and HELO came from.
    pub source: EnvelopeSource,
}

/// Where the client IP and HELO came from.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", content = "host", rename_all = "kebab-case")]
pub enum EnvelopeSource {
    /// `--client-ip` / `--helo`.
    Arguments,
    /// The `Received` header added by this trusted receiving host.
    TrustedReceived(String),
    /// No trusted receiver is configured: the topmost `Received` header with
    /// a client address (added by the last host, whoever that was).
    TopmostReceived(String),
    /// Nothing usable: SPF is not evaluated.
    #[default]
    None,
}

/// A message's header fields as mail-auth parsed them: (name, raw value),
/// in order from the top.
pub type Headers<'a> = [(&'a [u8], &'a [u8])];

/// The values of the header fields named `name`, unfolded, in order.
fn values(headers: &Headers<'_>, name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| {
            String::from_utf8_lossy(v)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// What one `Received` header says: (by host, from HELO, client IP).
fn parse_received(value: &str) -> (Option<String>, Option<String>, Option<IpAddr>) {
    let words: Vec<&str> = value.split_whitespace().collect();
    let after = |key: &str| -> Option<String> {
        words
            .iter()
            .position(|w| w.eq_ignore_ascii_case(key))
            .and_then(|i| words.get(i + 1))
            .map(|w| w.trim_end_matches(';').to_ascii_lowercase())
    };
    let by = after("by");
    let helo = after("from");
    // The client address: the first [...] in the `from` clause.
    let from_clause = match value.to_ascii_lowercase().find(" by ") {
        Some(i) => &value[..i],
        None => value,
    };
    let ip = from_clause.split('[').skip(1).find_map(|rest| {
        let inner = rest.split(']').next()?;
        let inner = inner
            .strip_prefix("IPv6:")
            .or_else(|| inner.strip_prefix("ipv6:"))
            .unwrap_or(inner);
        inner.parse::<IpAddr>().ok()
    });
    (by, helo, ip)
}

/// The envelope from the `Received` headers: the one added by the
/// first (from the top) trusted receiver, else, with no trusted receiver
/// configured, the topmost one with a client address that is not loopback.
pub fn received_envelope(headers: &Headers<'_>, trusted: &[String]) -> Envelope {
    for value in values(headers, "Received") {
        let (by, helo, ip) = parse_received(&value);
        let Some(by) = by else { continue };
        let source = if trusted.is_empty() {
            match ip {
                Some(ip) if !ip.is_loopback() => EnvelopeSource::TopmostReceived(by),
                _ => continue,
            }
        } else if trusted
            .iter()
            .any(|t| t.trim_end_matches('.').eq_ignore_ascii_case(&by))
        {
            EnvelopeSource::TrustedReceived(by)
        } else {
            continue;
        };
        return Envelope {
            client_ip: ip,
            helo,
            mail_from: None,
            source,
        };
    }
    Envelope::default()
}

/// The envelope: the caller's values first, then the headers.
pub(crate) fn envelope(headers: &Headers<'_>, options: &VerifyOptions) -> Envelope {
    let mut env = if options.client_ip.is_some() {
        Envelope {
            client_ip: options.client_ip,
            helo: options.helo.clone(),
            mail_from: None,
            source: EnvelopeSource::Arguments,
        }
    } else {
        let mut env = received_envelope(headers, &options.trusted_receivers);
        if options.helo.is_some() {
            env.helo = options.helo.clone();
        }
        env
    };
    env.mail_from = options.mail_from.clone().or_else(|| {
        values(headers, "Return-Path").first().map(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
                .to_string()
        })
    });
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_auth::AuthenticatedMessage;

    fn parsed(raw: &[u8]) -> AuthenticatedMessage<'_> {
        AuthenticatedMessage::parse(raw).unwrap()
    }

    const MSG: &[u8] = b"Return-Path: <bounce@mail.example.org>\r\n\
Received: from localhost (localhost [127.0.0.1]) by filter.example.net; Tue, 1 Dec 2026 10:00:02 +0000\r\n\
Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n\tby mx.example.net (Postfix) with ESMTPS id 1; Tue, 1 Dec 2026 10:00:01 +0000\r\n\
Received: from forged.example (forged [203.0.113.66]) by mx.example.net; Tue, 1 Dec 2026 09:00:00 +0000\r\n\
From: a@example.org\r\n\r\nbody\r\n";

    #[test]
    fn the_trusted_receivers_header_gives_the_envelope() {
        let env = received_envelope(&parsed(MSG).headers, &["mx.example.net".into()]);
        assert_eq!(env.client_ip, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(env.helo.as_deref(), Some("mail.example.org"));
        assert_eq!(
            env.source,
            EnvelopeSource::TrustedReceived("mx.example.net".into())
        );
    }

    #[test]
    fn without_trusted_receivers_the_topmost_non_loopback_header() {
        let env = received_envelope(&parsed(MSG).headers, &[]);
        assert_eq!(env.client_ip, Some("192.0.2.10".parse().unwrap()));
        assert_eq!(
            env.source,
            EnvelopeSource::TopmostReceived("mx.example.net".into())
        );
    }

    #[test]
    fn an_untrusted_chain_gives_nothing() {
        let env = received_envelope(&parsed(MSG).headers, &["mx.other.example".into()]);
        assert_eq!(env, Envelope::default());
    }

    #[test]
    fn arguments_win_and_return_path_gives_the_sender() {
        let opts = VerifyOptions {
            client_ip: Some("198.51.100.7".parse().unwrap()),
            helo: Some("out.example.org".into()),
            ..Default::default()
        };
        let env = envelope(&parsed(MSG).headers, &opts);
        assert_eq!(env.source, EnvelopeSource::Arguments);
        assert_eq!(env.client_ip, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(env.mail_from.as_deref(), Some("bounce@mail.example.org"));
    }

    #[test]
    fn ipv6_literals() {
        let (_, _, ip) =
            parse_received("from a.example (a.example [IPv6:2001:db8::1]) by mx.example.net");
        assert_eq!(ip, Some("2001:db8::1".parse().unwrap()));
    }
}
