//! Delivery: the SMTP settings of `[smtp]` and the outbox flush.

use std::path::PathBuf;

use authwarden_config::{Config, Security as CfgSecurity};
use authwarden_mail::{Outbox, Security, SmtpSettings};

use crate::setup;

/// Sends what waits in the outbox when SMTP is configured. Returns the
/// number sent and what is still waiting (with why).
pub async fn flush_outbox(
    config: &Config,
    outbox: &Outbox,
) -> anyhow::Result<(usize, Vec<(PathBuf, String)>)> {
    let Some(settings) = smtp_settings(config)? else {
        let pending = outbox.pending()?;
        if !pending.is_empty() {
            tracing::info!(
                "no [smtp] configured: {} message(s) wait in {}",
                pending.len(),
                outbox.outbox_dir().display()
            );
        }
        return Ok((0, Vec::new()));
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
    Ok((report.sent.len(), report.failed))
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
