//! Findings and their severities.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CodeInfo;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Note,
    /// Should be fixed; mail still flows as intended.
    Warning,
    /// Must be fixed: protection is missing or mail is at risk.
    Error,
}

impl Severity {
    /// The lower-case name used in config, JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A user's override of a code's severity, set in `[levels]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Drop findings with this code.
    Allow,
    /// Report findings with this code as notes.
    Note,
    /// Report findings with this code as warnings.
    Warn,
    /// Report findings with this code as errors (fails the run).
    Deny,
}

impl Level {
    /// The severity a finding gets under this level, or `None` when dropped.
    pub fn severity(self) -> Option<Severity> {
        match self {
            Level::Allow => None,
            Level::Note => Some(Severity::Note),
            Level::Warn => Some(Severity::Warning),
            Level::Deny => Some(Severity::Error),
        }
    }

    /// All accepted names, for error messages.
    pub const NAMES: &'static [&'static str] = &["allow", "note", "warn", "deny"];
}

impl FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Level::Allow),
            "note" => Ok(Level::Note),
            "warn" => Ok(Level::Warn),
            "deny" => Ok(Level::Deny),
            other => Err(format!(
                "unknown level `{other}`, expected one of: allow, note, warn, deny"
            )),
        }
    }
}

/// One problem (or noteworthy fact) found by a checker for a domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The id of the checker that produced it, e.g. `dmarc-policy`.
    pub checker: String,
    /// The stable code, e.g. `DMARC003`.
    pub code: String,
    /// The kebab-case name of the code.
    pub name: String,
    /// The effective severity (after user overrides).
    pub severity: Severity,
    /// The domain checked.
    pub domain: String,
    /// What exactly the finding is about: a DNS name, a selector, a source IP.
    pub subject: String,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
    /// What to do about it.
    pub help: String,
    /// Structured evidence, e.g. `{"lookups": 13, "limit": 10}`.
    pub evidence: Map<String, Value>,
}

impl Finding {
    /// A finding with the code's default severity; the subject defaults to the domain.
    pub fn new(
        checker: &str,
        code: &CodeInfo,
        domain: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let domain = domain.into();
        Finding {
            checker: checker.to_string(),
            code: code.code.to_string(),
            name: code.name.to_string(),
            severity: code.default_severity,
            subject: domain.clone(),
            domain,
            message: message.into(),
            help: String::new(),
            evidence: Map::new(),
        }
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the help text.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    /// Adds one evidence entry.
    pub fn evidence(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.evidence.insert(key.to_string(), value.into());
        self
    }

    /// Names the DNS lookup that failed, for a "check incomplete" finding:
    /// the subject is the name asked, the evidence `name`, `type` and
    /// `error` (the failure; none when the answer did not fail).
    pub fn failed_lookup(self, answer: &crate::DnsAnswer) -> Self {
        let error = answer.failure().map(ToString::to_string);
        let f = self
            .subject(&answer.name)
            .evidence("name", answer.name.as_str())
            .evidence("type", answer.rtype.as_str());
        match error {
            Some(e) => f.evidence("error", e),
            None => f,
        }
    }

    /// Overrides the severity (for codes whose severity depends on the case).
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
}
