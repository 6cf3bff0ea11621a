//! `authwarden verify`: authenticate one saved message as a receiver would.

use std::io::{Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use authwarden_api::text::{display_value, NAME_MAX_CHARS, TEXT_MAX_CHARS};
use authwarden_registry::Registry;
use authwarden_verify::{EnvelopeSource, Verification, VerifyOptions, MAX_MESSAGE_BYTES};
use clap::Args;

use crate::{setup, Format, GlobalArgs, EXIT_FINDINGS, EXIT_OK, EXIT_USAGE};

/// Arguments of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The message (RFC 5322, e.g. a saved .eml) [default: standard input; `-` too]
    pub message: Option<PathBuf>,
    /// The SMTP client's IP address [default: from the trusted `Received` header]
    #[arg(long, value_name = "IP")]
    pub client_ip: Option<IpAddr>,
    /// The HELO/EHLO name [default: from the trusted `Received` header]
    #[arg(long, value_name = "NAME")]
    pub helo: Option<String>,
    /// The envelope sender (MAIL FROM) [default: the `Return-Path` header]
    #[arg(long, value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// A receiving host whose `Received` header is trusted (repeatable; adds
    /// to `[verify] trusted_receivers`)
    #[arg(long = "trusted-receiver", value_name = "HOST")]
    pub trusted_receivers: Vec<String>,
}

/// Runs `verify`: exit status 0 when DMARC passes, 1 when it does not, 2 on
/// bad input.
pub async fn run(
    global: &GlobalArgs,
    args: &VerifyArgs,
    registry: &Registry,
) -> anyhow::Result<u8> {
    let config = setup::load_config(global, registry)?;
    let (raw, name) = match args.message.as_deref() {
        None => (
            read_capped(std::io::stdin().lock())?,
            "standard input".to_string(),
        ),
        Some(p) if p.as_os_str() == "-" => (
            read_capped(std::io::stdin().lock())?,
            "standard input".to_string(),
        ),
        Some(p) => {
            let file =
                std::fs::File::open(p).with_context(|| format!("cannot read {}", p.display()))?;
            (
                read_capped(file).with_context(|| format!("cannot read {}", p.display()))?,
                p.display().to_string(),
            )
        }
    };
    let resolver = setup::resolver(&config)?;
    let mut trusted = config.verify.trusted_receivers.clone();
    trusted.extend(
        args.trusted_receivers
            .iter()
            .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()),
    );
    let options = VerifyOptions {
        client_ip: args.client_ip,
        helo: args.helo.clone(),
        mail_from: args.mail_from.clone(),
        trusted_receivers: trusted,
        timeout: Some(config.dns.timeout),
    };
    let verification = match authwarden_verify::verify(&raw, resolver, &options).await {
        Ok(v) => v,
        Err(authwarden_verify::VerifyError::BadInput(why)) => {
            eprintln!("error: {name}: {why}");
            return Ok(EXIT_USAGE);
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    match global.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &verification)?;
            writeln!(out)?;
        }
        _ => print_text(&mut out, &verification)?,
    }
    out.flush()?;
    Ok(if verification.passes() {
        EXIT_OK
    } else {
        EXIT_FINDINGS
    })
}

/// Reads at most [`MAX_MESSAGE_BYTES`] (one more tells that it was longer).
fn read_capped(reader: impl Read) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader
        .take(MAX_MESSAGE_BYTES as u64 + 1)
        .read_to_end(&mut buf)?;
    Ok(buf)
}

fn show(s: &str) -> String {
    display_value(s, NAME_MAX_CHARS).to_string()
}

/// The verification as a receiver's verdict, then each part.
pub fn print_text(out: &mut impl Write, v: &Verification) -> std::io::Result<()> {
    let from = v
        .dmarc
        .from_domain
        .as_deref()
        .map(show)
        .unwrap_or_else(|| "(no single From domain)".into());
    let verdict = match v.dmarc.result.as_str() {
        "pass" => "PASS".to_string(),
        "none" => "NONE (the From domain publishes no DMARC policy)".to_string(),
        other => other.to_ascii_uppercase(),
    };
    writeln!(out, "DMARC: {verdict} for {from}")?;
    if let Some(policy) = &v.dmarc.policy {
        let domain = v
            .dmarc
            .policy_domain
            .as_deref()
            .map(show)
            .unwrap_or_default();
        writeln!(
            out,
            "  policy of {domain}: p={policy}{}, DKIM alignment {}, SPF alignment {}; a receiver following it would {} this message",
            if v.dmarc.testing { " (t=y, testing)" } else { "" },
            v.dmarc.dkim_alignment.as_deref().unwrap_or("relaxed"),
            v.dmarc.spf_alignment.as_deref().unwrap_or("relaxed"),
            v.dmarc.disposition,
        )?;
    }
    writeln!(
        out,
        "  aligned DKIM: {} · aligned SPF: {}",
        v.dmarc.dkim, v.dmarc.spf
    )?;

    writeln!(out, "\nDKIM")?;
    if v.dkim.is_empty() {
        writeln!(out, "  no DKIM-Signature header: the message is not signed")?;
    }
    for d in &v.dkim {
        let bits = d
            .key_bits
            .map(|b| format!(", {b}-bit key"))
            .unwrap_or_default();
        let align = if d.aligned_strict {
            "aligned (strict and relaxed)"
        } else if d.aligned_relaxed {
            "aligned (relaxed only)"
        } else {
            "not aligned with From"
        };
        writeln!(
            out,
            "  {}: d={} s={} ({}{bits}), {align}",
            d.result.to_ascii_uppercase(),
            show(&d.domain),
            show(&d.selector),
            d.algorithm
        )?;
        if let Some(l) = d.body_length {
            writeln!(out, "    l={l}: only the first {l} bytes of the body are signed; text added after them is not covered")?;
        }
        if let Some(reason) = &d.reason {
            writeln!(out, "    {}", display_value(reason, TEXT_MAX_CHARS))?;
        }
    }

    writeln!(out, "\nSPF")?;
    let env = &v.envelope;
    let source = match &env.source {
        EnvelopeSource::Arguments => "from the command line".to_string(),
        EnvelopeSource::TrustedReceived(h) => format!("from the Received header added by {}", show(h)),
        EnvelopeSource::TopmostReceived(h) => format!(
            "from the topmost Received header (added by {}; set `[verify] trusted_receivers` to your MX hosts)",
            show(h)
        ),
        EnvelopeSource::None => "not known".to_string(),
    };
    match env.client_ip {
        Some(ip) => writeln!(
            out,
            "  client {ip}, HELO {}, MAIL FROM {} ({source})",
            env.helo.as_deref().map(show).unwrap_or_else(|| "-".into()),
            env.mail_from.as_deref().map(show).unwrap_or_else(|| "<>".into()),
        )?,
        None => writeln!(
            out,
            "  not evaluated: the client IP is {source}; give --client-ip (and --helo, --mail-from) or --trusted-receiver"
        )?,
    }
    for c in &v.spf {
        writeln!(
            out,
            "  {} ({}): {}",
            c.identity,
            show(&c.domain),
            c.result.to_ascii_uppercase()
        )?;
        if let Some(e) = &c.explanation {
            writeln!(out, "    {}", display_value(e, TEXT_MAX_CHARS))?;
        }
    }

    writeln!(out, "\nARC")?;
    match v.arc.result.as_str() {
        "none" => writeln!(out, "  no ARC headers")?,
        r => {
            writeln!(
                out,
                "  {}: chain of {} set(s)",
                r.to_ascii_uppercase(),
                v.arc.sets
            )?;
            if let Some(reason) = &v.arc.reason {
                writeln!(out, "    {}", display_value(reason, TEXT_MAX_CHARS))?;
            }
        }
    }

    writeln!(
        out,
        "\nBULK-SENDER HEADERS (Gmail and Yahoo, for 5,000+ messages a day)"
    )?;
    match &v.bulk.list_unsubscribe {
        None => writeln!(out, "  no List-Unsubscribe header: bulk mail must have one, with one-click unsubscribe (RFC 8058)")?,
        Some(value) => {
            writeln!(out, "  List-Unsubscribe: {}", display_value(value, TEXT_MAX_CHARS))?;
            writeln!(
                out,
                "  one-click (List-Unsubscribe-Post: List-Unsubscribe=One-Click with an https URI): {}",
                if v.bulk.one_click && v.bulk.https_uri { "yes" } else { "no" }
            )?;
            writeln!(
                out,
                "  covered by a passing aligned DKIM signature: {}",
                if v.bulk.signed { "yes" } else { "no" }
            )?;
        }
    }
    Ok(())
}
