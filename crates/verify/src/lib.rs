//! Authenticating one message the way a receiver does (`authwarden verify`):
//! every DKIM signature, the ARC chain, SPF for the client IP with the
//! envelope sender and the HELO name, and the DMARC result with the relaxed
//! and strict alignment of each identifier and the policy that would apply;
//! for bulk mail also the `List-Unsubscribe` headers the Gmail and Yahoo
//! rules ask for.
//!
//! The receiver rules and the cryptography are mail-auth's (RSA-SHA256,
//! Ed25519-SHA256, `l=`, `x=`, canonicalization, ARC, SPF, DMARC); this crate
//! feeds it the project's resolver (through [`bridge`]) and adds what
//! RFC 8301 asks of a verifier beyond it: RSA-SHA1 signatures and RSA keys
//! under 1,024 bits fail. Reasons are written for the people who fix them
//! ("the body changed after signing (a footer added by a list or a gateway)").
#![deny(missing_docs)]

pub mod authtest;
pub mod bridge;
mod envelope;
pub mod report;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use authwarden_api::domain::organizational_domain;
use authwarden_api::{RecordType, Resolver};
use base64::Engine as _;
use mail_auth::arc::ArcError;
use mail_auth::common::crypto::{Algorithm, CryptoError};
use mail_auth::dkim::DkimError;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::dmarc::{Alignment, Policy};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimResult, DmarcResult, DnsError, Error as AuthError,
    MessageAuthenticator, SpfOutput, SpfResult,
};
use serde::Serialize;

pub use envelope::{received_envelope, Envelope, EnvelopeSource, Headers};

/// The largest message verified (bytes).
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// The smallest RSA key RFC 8301 allows a verifier to accept.
pub const MIN_RSA_BITS: usize = 1024;

/// What the caller knows besides the message.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The SMTP client's address; `None`: from the trusted `Received` header.
    pub client_ip: Option<IpAddr>,
    /// The HELO/EHLO name; `None`: from the trusted `Received` header.
    pub helo: Option<String>,
    /// The envelope sender (RFC5321.MailFrom); `None`: the `Return-Path`.
    pub mail_from: Option<String>,
    /// The receiving hosts whose `Received` headers are believed (the
    /// first one, from the top, added by one of them gives the envelope).
    pub trusted_receivers: Vec<String>,
    /// How long one DNS query may take.
    pub timeout: Option<Duration>,
}

/// Why a message could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The input is not a message.
    #[error("not an RFC 5322 message: {0}")]
    BadInput(String),
    /// The DNS bridge could not start.
    #[error("cannot start the DNS bridge on loopback: {0}")]
    Bridge(String),
}

/// The result of one DKIM signature.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DkimSignature {
    /// `d=`.
    pub domain: String,
    /// `s=`.
    pub selector: String,
    /// `a=`: `rsa-sha256`, `ed25519-sha256` or `rsa-sha1`.
    pub algorithm: String,
    /// `pass`, `fail`, `neutral`, `temperror`, `permerror`.
    pub result: String,
    /// Why it did not pass, for the person who fixes it.
    pub reason: Option<String>,
    /// The key's size in bits (RSA), when the key was found.
    pub key_bits: Option<usize>,
    /// `l=`, the body length signed, when the signature limits it.
    pub body_length: Option<u64>,
    /// `x=`, the expiry (Unix seconds), when set.
    pub expires: Option<u64>,
    /// `d=` equals the From domain.
    pub aligned_strict: bool,
    /// `d=` has the From domain's organizational domain.
    pub aligned_relaxed: bool,
}

/// The ARC chain.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ArcChain {
    /// `none` (no ARC headers), `pass`, `fail`, `neutral`, `permerror`, `temperror`.
    pub result: String,
    /// The number of ARC sets.
    pub sets: usize,
    /// Why it did not pass.
    pub reason: Option<String>,
}

/// One SPF evaluation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SpfCheck {
    /// The identity checked: `mailfrom` or `helo`.
    pub identity: String,
    /// The domain whose record was evaluated.
    pub domain: String,
    /// `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`, `permerror`.
    pub result: String,
    /// The explanation the record gives, if any.
    pub explanation: Option<String>,
}

/// The DMARC verdict.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DmarcVerdict {
    /// `pass`, `fail`, `none` (no policy), `temperror`, `permerror`.
    pub result: String,
    /// The RFC5322.From domain.
    pub from_domain: Option<String>,
    /// The domain whose policy applies.
    pub policy_domain: Option<String>,
    /// The policy that applies to this message: `none`, `quarantine`,
    /// `reject` (the subdomain policy where it applies).
    pub policy: Option<String>,
    /// What a receiver following the policy would do with this message:
    /// `deliver`, `quarantine` or `reject`.
    pub disposition: String,
    /// `adkim`: `relaxed` or `strict`.
    pub dkim_alignment: Option<String>,
    /// `aspf`: `relaxed` or `strict`.
    pub spf_alignment: Option<String>,
    /// The aligned DKIM result.
    pub dkim: String,
    /// The aligned SPF result.
    pub spf: String,
    /// The policy says `t=y` (testing).
    pub testing: bool,
}

/// The unsubscribe headers that Gmail and Yahoo require of bulk senders.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct BulkHeaders {
    /// `List-Unsubscribe`, as sent.
    pub list_unsubscribe: Option<String>,
    /// It has an `https:` URI (needed for one-click).
    pub https_uri: bool,
    /// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).
    pub one_click: bool,
    /// The message is DKIM-signed over both headers by a passing,
    /// From-aligned signature (RFC 8058 §4 asks for it).
    pub signed: bool,
}

/// Everything `authwarden verify` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// Where the envelope came from.
    pub envelope: Envelope,
    /// Each DKIM signature, in header order.
    pub dkim: Vec<DkimSignature>,
    /// The ARC chain.
    pub arc: ArcChain,
    /// SPF for the HELO name and the envelope sender (empty without a client IP).
    pub spf: Vec<SpfCheck>,
    /// DMARC.
    pub dmarc: DmarcVerdict,
    /// The bulk-sender headers.
    pub bulk: BulkHeaders,
}

impl Verification {
    /// DMARC passed.
    pub fn passes(&self) -> bool {
        self.dmarc.result == "pass"
    }
}

/// Verifies `raw` with DNS from `resolver` (a [`Verifier`] for one message).
pub async fn verify(
    raw: &[u8],
    resolver: Arc<dyn Resolver>,
    options: &VerifyOptions,
) -> Result<Verification, VerifyError> {
    Verifier::start(resolver, options.timeout)
        .await?
        .verify(raw, options)
        .await
}

/// Verifies many messages with one DNS bridge: the report intake checks
/// every report message with one, instead of starting a bridge per message.
/// The bridge's tasks run on the runtime it was started on.
pub struct Verifier {
    resolver: Arc<dyn Resolver>,
    authenticator: MessageAuthenticator,
    // Stops the bridge when the verifier is dropped; declared last, so the
    // authenticator that asks it goes first.
    _bridge: bridge::Bridge,
}

impl Verifier {
    /// Starts the bridge to `resolver`; `timeout` bounds one DNS query
    /// (5 s when `None`).
    pub async fn start(
        resolver: Arc<dyn Resolver>,
        timeout: Option<Duration>,
    ) -> Result<Verifier, VerifyError> {
        let bridge = bridge::Bridge::start(resolver.clone())
            .await
            .map_err(|e| VerifyError::Bridge(e.to_string()))?;
        let timeout = timeout.unwrap_or(Duration::from_secs(5));
        let authenticator =
            MessageAuthenticator(bridge.resolver(timeout).map_err(VerifyError::Bridge)?);
        Ok(Verifier {
            resolver,
            authenticator,
            _bridge: bridge,
        })
    }

    /// Verifies `raw`; `options.timeout` is the one given to [`Verifier::start`].
    pub async fn verify(
        &self,
        raw: &[u8],
        options: &VerifyOptions,
    ) -> Result<Verification, VerifyError> {
        verify_with(raw, &self.resolver, &self.authenticator, options).await
    }
}

async fn verify_with(
    raw: &[u8],
    resolver: &Arc<dyn Resolver>,
    authenticator: &MessageAuthenticator,
    options: &VerifyOptions,
) -> Result<Verification, VerifyError> {
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(VerifyError::BadInput(format!(
            "{} bytes, more than the {} accepted",
            raw.len(),
            MAX_MESSAGE_BYTES
        )));
    }
    // mail-auth canonicalizes CRLF; a file saved with LF line ends is read
    // as the wire form it was.
    let owned;
    let raw = if raw.windows(2).any(|w| w == b"\r\n") {
        raw
    } else {
        owned = lf_to_crlf(raw);
        &owned[..]
    };
    let message = AuthenticatedMessage::parse(raw)
        .ok_or_else(|| VerifyError::BadInput("no header fields".into()))?;
    if message.headers.is_empty() {
        return Err(VerifyError::BadInput("no header fields".into()));
    }
    let envelope = envelope::envelope(&message.headers, options);
    let from_domain = from_domain(&message);

    // DKIM, then RFC 8301 on top.
    let outputs = authenticator.verify_dkim(&message).await;
    let mut dkim = Vec::new();
    for output in &outputs {
        let Some(sig) = output.signature() else {
            continue;
        };
        let (mut result, mut reason) = dkim_result(output.result());
        let key_bits = if sig.a == Algorithm::Ed25519Sha256 {
            None
        } else {
            rsa_key_bits(resolver, &sig.s, &sig.d).await
        };
        if sig.a == Algorithm::RsaSha1 && result == "pass" {
            result = "fail".into();
            reason = Some("signed with rsa-sha1, which RFC 8301 says verifiers must not accept: sign with rsa-sha256 or ed25519-sha256".into());
        }
        if let Some(bits) = key_bits.filter(|b| *b < MIN_RSA_BITS) {
            if result == "pass" {
                result = "fail".into();
                reason = Some(format!("the RSA key is {bits} bits; RFC 8301 says keys under {MIN_RSA_BITS} bits must not be accepted: publish a 2048-bit key"));
            }
        }
        let domain = sig.d.to_ascii_lowercase();
        dkim.push(DkimSignature {
            aligned_strict: from_domain.as_deref() == Some(domain.as_str()),
            aligned_relaxed: from_domain
                .as_deref()
                .is_some_and(|f| organizational_domain(f) == organizational_domain(&domain)),
            domain,
            selector: sig.s.clone(),
            algorithm: algorithm(sig.a).into(),
            result,
            reason,
            key_bits,
            body_length: (sig.l > 0).then_some(sig.l),
            expires: (sig.x > 0).then_some(sig.x),
        });
    }

    // ARC.
    let arc_out = authenticator.verify_arc(&message).await;
    let (arc_result, arc_reason) =
        if arc_out.sets().is_empty() && matches!(arc_out.result(), DkimResult::None) {
            ("none".to_string(), None)
        } else {
            dkim_result(arc_out.result())
        };
    let arc = ArcChain {
        result: arc_result,
        sets: arc_out.sets().len(),
        reason: arc_reason,
    };

    // SPF, for the HELO name and the envelope sender.
    let mut spf = Vec::new();
    let helo = envelope.helo.clone().unwrap_or_default();
    let mail_from = envelope.mail_from.clone().unwrap_or_default();
    let mail_from_domain = mail_from
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_else(|| helo.to_ascii_lowercase());
    let spf_mail_from = match envelope.client_ip {
        Some(ip) => {
            if !helo.is_empty() {
                let out = authenticator
                    .verify_spf(SpfParameters::verify_ehlo(ip, &helo, "authwarden.invalid"))
                    .await;
                spf.push(spf_check("helo", &out));
            }
            // An empty MAIL FROM (bounces) is checked as postmaster@HELO.
            let sender = if mail_from.is_empty() {
                format!("postmaster@{helo}")
            } else {
                mail_from.clone()
            };
            let out = authenticator
                .verify_spf(SpfParameters::verify_mail_from(
                    ip,
                    &helo,
                    "authwarden.invalid",
                    &sender,
                ))
                .await;
            spf.push(spf_check("mailfrom", &out));
            out
        }
        None => SpfOutput::new(mail_from_domain.clone()),
    };

    // DMARC.
    let dmarc_out = authenticator
        .verify_dmarc(DmarcParameters::new(
            &message,
            &outputs,
            &mail_from_domain,
            &spf_mail_from,
        ))
        .await;
    let record = dmarc_out.dmarc_record();
    // With a policy, an identifier that did not pass aligned failed.
    let aligned = |r: &DmarcResult| match (dmarc_result(r).as_str(), record.is_some()) {
        ("none", true) => "fail".to_string(),
        (other, _) => other.to_string(),
    };
    let dkim_aligned = aligned(dmarc_out.dkim_result());
    let spf_aligned = aligned(dmarc_out.spf_result());
    let result = if record.is_none() {
        match (dmarc_out.dkim_result(), dmarc_out.spf_result()) {
            (DmarcResult::TempError(_), _) | (_, DmarcResult::TempError(_)) => "temperror",
            (DmarcResult::PermError(_), _) | (_, DmarcResult::PermError(_)) => "permerror",
            _ => "none",
        }
    } else if dkim_aligned == "pass" || spf_aligned == "pass" {
        "pass"
    } else if dkim_aligned == "temperror" || spf_aligned == "temperror" {
        "temperror"
    } else {
        "fail"
    };
    let policy = record.map(|_| policy(dmarc_out.policy()));
    let disposition = match (result, policy.as_deref()) {
        ("fail", Some("reject")) => "reject",
        ("fail", Some("quarantine")) => "quarantine",
        _ => "deliver",
    };
    let dmarc = DmarcVerdict {
        result: result.into(),
        from_domain: from_domain.clone(),
        policy_domain: record.map(|_| dmarc_out.domain().to_string()),
        policy,
        disposition: disposition.into(),
        dkim_alignment: record.map(|r| alignment(r.adkim)),
        spf_alignment: record.map(|r| alignment(r.aspf)),
        dkim: dkim_aligned,
        spf: spf_aligned,
        testing: record.is_some_and(|r| r.t),
    };

    let bulk = bulk_headers(&message, &outputs, from_domain.as_deref());
    Ok(Verification {
        envelope,
        dkim,
        arc,
        spf,
        dmarc,
        bulk,
    })
}

fn lf_to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for &b in raw {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

/// The domain of the single RFC5322.From address.
fn from_domain(message: &AuthenticatedMessage<'_>) -> Option<String> {
    let mut domains = message
        .from
        .iter()
        .filter_map(|f| f.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()));
    let first = domains.next()?;
    domains.all(|d| d == first).then_some(first)
}

fn algorithm(a: Algorithm) -> &'static str {
    match a {
        Algorithm::RsaSha1 => "rsa-sha1",
        Algorithm::RsaSha256 => "rsa-sha256",
        Algorithm::Ed25519Sha256 => "ed25519-sha256",
    }
}

fn policy(p: Policy) -> String {
    match p {
        Policy::None | Policy::Unspecified => "none",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    }
    .into()
}

fn alignment(a: Alignment) -> String {
    match a {
        Alignment::Relaxed => "relaxed",
        Alignment::Strict => "strict",
    }
    .into()
}

/// A mail-auth error in words for the person who fixes it.
fn explain(e: &AuthError) -> String {
    match e {
        AuthError::Dkim(DkimError::FailedBodyHashMatch) | AuthError::Arc(ArcError::FailedBodyHashMatch) => {
            "body hash mismatch: the body changed after signing (a footer or disclaimer added by a list, a gateway or a security appliance, or a rewritten line)".into()
        }
        AuthError::Crypto(CryptoError::FailedVerification) => {
            "signature mismatch: a signed header changed after signing (a subject tag, a rewritten From or To), or the key in DNS is not the signing key".into()
        }
        AuthError::Dkim(DkimError::SignatureExpired) | AuthError::Arc(ArcError::SignatureExpired) => {
            "the signature has expired (its x= time is past): sign again, or set a later x=".into()
        }
        AuthError::Dkim(DkimError::RevokedPublicKey) => {
            "the key is revoked (empty p= in DNS): sign with a current selector".into()
        }
        AuthError::Dkim(DkimError::FailedAuidMatch) => {
            "the i= identity is not within d=".into()
        }
        AuthError::Dkim(DkimError::SignatureLength) | AuthError::Arc(ArcError::SignatureLength) => {
            "the body is shorter than the l= length the signature covers".into()
        }
        AuthError::Dkim(DkimError::UnsupportedAlgorithm) => "unsupported signing algorithm".into(),
        AuthError::Dkim(DkimError::UnsupportedKeyType) => {
            "the key in DNS is of a type the signature's algorithm cannot use".into()
        }
        AuthError::Crypto(CryptoError::IncompatibleAlgorithms) => {
            "the key in DNS does not match the signature's algorithm (k= vs a=)".into()
        }
        AuthError::Dns(DnsError::RecordNotFound(_)) => "no key record in DNS at the selector".into(),
        AuthError::Dns(DnsError::InvalidRecordType) => "the DNS record at the selector is not a valid key record".into(),
        AuthError::Dns(DnsError::Resolver(e)) => format!("DNS lookup failed ({e}): try again later"),
        AuthError::Arc(ArcError::BrokenChain) => "the ARC chain is broken (a set is missing or out of order)".into(),
        AuthError::Arc(ArcError::InvalidCV) => "an ARC seal has the wrong cv= value".into(),
        other => other.to_string(),
    }
}

fn dkim_result(r: &DkimResult) -> (String, Option<String>) {
    match r {
        // RFC 6376 6.1.1: an expired signature is a PERMFAIL, reported as
        // `permerror` (RFC 8601) — mail-auth says `neutral`.
        DkimResult::Neutral(e @ AuthError::Dkim(DkimError::SignatureExpired)) => {
            ("permerror".into(), Some(explain(e)))
        }
        DkimResult::Pass => ("pass".into(), None),
        DkimResult::Neutral(e) => ("neutral".into(), Some(explain(e))),
        DkimResult::Fail(e) => ("fail".into(), Some(explain(e))),
        DkimResult::PermError(e) => ("permerror".into(), Some(explain(e))),
        DkimResult::TempError(e) => ("temperror".into(), Some(explain(e))),
        DkimResult::None => ("none".into(), None),
    }
}

fn dmarc_result(r: &DmarcResult) -> String {
    match r {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
    .into()
}

fn spf_check(identity: &str, out: &SpfOutput) -> SpfCheck {
    SpfCheck {
        identity: identity.into(),
        domain: out.domain().to_string(),
        result: match out.result() {
            SpfResult::Pass => "pass",
            SpfResult::Fail => "fail",
            SpfResult::SoftFail => "softfail",
            SpfResult::Neutral => "neutral",
            SpfResult::TempError => "temperror",
            SpfResult::PermError => "permerror",
            SpfResult::None => "none",
        }
        .into(),
        explanation: out.explanation().map(str::to_string),
    }
}

/// The size of the RSA key at `selector._domainkey.domain`, read through the
/// project's resolver (the same answer mail-auth got).
async fn rsa_key_bits(resolver: &Arc<dyn Resolver>, selector: &str, domain: &str) -> Option<usize> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let name = format!("{selector}._domainkey.{domain}");
    let answer = resolver.query(&name, RecordType::TXT).await;
    answer.txt().iter().find_map(|text| {
        let p = text
            .split(';')
            .filter_map(|tag| tag.split_once('='))
            .find(|(k, _)| k.trim() == "p")
            .map(|(_, v)| v.split_whitespace().collect::<String>())?;
        let der = base64::engine::general_purpose::STANDARD.decode(p).ok()?;
        let key = rsa::RsaPublicKey::from_public_key_der(&der)
            .or_else(|_| rsa::RsaPublicKey::from_pkcs1_der(&der))
            .ok()?;
        Some(key.n().bits())
    })
}

/// `List-Unsubscribe` and `List-Unsubscribe-Post`, and whether a passing,
/// aligned DKIM signature covers them.
fn bulk_headers(
    message: &AuthenticatedMessage<'_>,
    outputs: &[mail_auth::DkimOutput<'_>],
    from: Option<&str>,
) -> BulkHeaders {
    let header = |name: &str| -> Option<String> {
        message
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| {
                String::from_utf8_lossy(v)
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
    };
    let list_unsubscribe = header("List-Unsubscribe");
    let one_click = header("List-Unsubscribe-Post")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("List-Unsubscribe=One-Click"));
    let https_uri = list_unsubscribe
        .as_deref()
        .is_some_and(|v| v.to_ascii_lowercase().contains("<https:"));
    let signed = outputs.iter().any(|o| {
        matches!(o.result(), DkimResult::Pass)
            && o.signature().is_some_and(|s| {
                let covers = |h: &str| s.h.iter().any(|x| x.eq_ignore_ascii_case(h));
                from.is_some_and(|f| organizational_domain(f) == organizational_domain(&s.d))
                    && covers("List-Unsubscribe")
                    && covers("List-Unsubscribe-Post")
            })
    });
    BulkHeaders {
        list_unsubscribe,
        https_uri,
        one_click,
        signed,
    }
}
