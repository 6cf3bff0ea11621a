//! Delivery: the SMTP settings of `[smtp]` and the outbox flush.

use authwarden_config::{Config, Security as CfgSecurity};
use authwarden_mail::{FlushReport, Outbox, Security, SmtpSettings};

use crate::setup;

/// Sends what waits in the outbox when SMTP is configured, and logs what
/// happened. Without `[smtp]` nothing is sent and the report is empty.
/// A message the server refused for good is in `rejected` (moved to
/// `outbox/rejected/`, never retried); one that could not be sent now is in
/// `failed` (still in the outbox).
pub async fn flush_outbox(config: &Config, outbox: &Outbox) -> anyhow::Result<FlushReport> {
    let Some(settings) = smtp_settings(config)? else {
        let pending = outbox.pending()?;
        if !pending.is_empty() {
            tracing::info!(
                "no [smtp] configured: {} message(s) wait in {}",
                pending.len(),
                outbox.outbox_dir().display()
            );
        }
        return Ok(FlushReport::default());
    };
    let report = outbox.flush(&settings).await?;
    for p in &report.sent {
        tracing::info!("sent {}", p.display());
    }
    for (p, why) in &report.failed {
        tracing::warn!(
            "not sent, left in the outbox for the next run or `authwarden outbox flush`: {}: {why}",
            p.display()
        );
    }
    for (p, why) in &report.rejected {
        tracing::error!(
            "refused by the SMTP server, moved to {} and not retried: {}: {why}",
            outbox.rejected_dir().display(),
            p.display()
        );
    }
    for r in &report.refused_recipients {
        tracing::error!(
            "recipient {} refused for {}: {}",
            r.address,
            r.message.display(),
            r.reply
        );
    }
    Ok(report)
}

/// The SMTP settings from config, with the password read from its source.
pub fn smtp_settings(config: &Config) -> anyhow::Result<Option<SmtpSettings>> {
    let Some(smtp) = &config.smtp else {
        return Ok(None);
    };
    let security = match smtp.security {
        CfgSecurity::StartTls => Security::StartTls,
        CfgSecurity::Tls => Security::Tls,
        CfgSecurity::None => Security::None,
    };
    let mut s = SmtpSettings::new(smtp.host.clone(), smtp.port, security);
    s.username = smtp.username.clone();
    s.timeout = smtp.timeout;
    s.password = setup::read_password(&smtp.password, "smtp")?;
    s.ca_pem = setup::read_ca(smtp.ca_file.as_deref(), "smtp")?;
    Ok(Some(s))
}
