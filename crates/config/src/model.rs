//! The validated configuration and the knowledge about checkers it is
//! validated against.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use authwarden_api::serde_json::{Map, Value};
use authwarden_api::{Cadence, CheckerInfo, DomainTarget, Level, SettingsSpec};

/// What the configuration is validated against: the checkers compiled into
/// the binary and the codes they emit. The caller (the registry) builds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    /// Every known checker.
    pub checkers: Vec<KnownChecker>,
    /// Every known code as `(code, name)`, e.g. `("DMARC001", "dmarc-record-missing")`.
    pub codes: Vec<(String, String)>,
    /// How the settings of a checker are checked, by checker id
    /// ([`authwarden_api::Checker::settings_spec`]); a checker without an
    /// entry has its `[checkers.<id>]` and `[domains.<id>]` keys passed
    /// through unchecked.
    pub settings: BTreeMap<String, &'static SettingsSpec>,
}

/// A checker the configuration may refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownChecker {
    /// The checker's id, e.g. `dmarc-policy`.
    pub id: String,
    /// The jobs it runs in unless the configuration says otherwise.
    pub cadences: Vec<Cadence>,
}

impl Known {
    /// Builds the knowledge from the checkers' descriptions.
    pub fn from_infos<'a>(infos: impl IntoIterator<Item = &'a CheckerInfo>) -> Self {
        let mut known = Known::default();
        for info in infos {
            known.checkers.push(KnownChecker {
                id: info.id.to_string(),
                cadences: info.cadences.to_vec(),
            });
            known.codes.extend(
                info.codes
                    .iter()
                    .map(|c| (c.code.to_string(), c.name.to_string())),
            );
        }
        known
    }

    /// The settings spec of the checker with this id, if it declares one.
    pub fn settings_spec(&self, id: &str) -> Option<&'static SettingsSpec> {
        self.settings.get(id).copied()
    }

    /// The checker with this id.
    pub fn checker(&self, id: &str) -> Option<&KnownChecker> {
        self.checkers.iter().find(|c| c.id == id)
    }

    /// The code for a code or a kebab-case name, compared case-insensitively
    /// like `authwarden explain` does: `dmarc-no-rua` gives `DMARC004`.
    pub fn resolve_code(&self, code_or_name: &str) -> Option<&str> {
        self.codes
            .iter()
            .find(|(code, name)| {
                code.eq_ignore_ascii_case(code_or_name) || name.eq_ignore_ascii_case(code_or_name)
            })
            .map(|(code, _)| code.as_str())
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from; `None` for [`crate::defaults`].
    pub source: Option<PathBuf>,
    /// The time zone of schedules and report dates.
    pub timezone: chrono_tz::Tz,
    /// Where rendered reports are written.
    pub reports_dir: PathBuf,
    /// Where the history (Parquet) is kept.
    pub history_dir: PathBuf,
    /// How DNS is queried.
    pub dns: DnsConfig,
    /// The domains to check, in file order.
    pub domains: Vec<DomainConfig>,
    /// The user's levels per code (names are resolved to codes).
    pub levels: BTreeMap<String, Level>,
    /// Per-checker settings, only for checkers that have a `[checkers.<id>]` table.
    pub checkers: BTreeMap<String, CheckerConfig>,
    /// The three jobs, always all present, defaults filled in.
    pub jobs: BTreeMap<Cadence, JobConfig>,
    /// How mail is sent; `None` leaves messages in the outbox.
    pub smtp: Option<SmtpConfig>,
    /// A folder of report templates that replaces the built-in ones
    /// (`[templates] dir`); `None` uses the templates compiled into the
    /// binary, so an installed binary needs no files beside it.
    pub templates_dir: Option<PathBuf>,
    /// The mailbox DMARC aggregate reports arrive in; `None` without `[imap]`.
    pub imap: Option<ImapConfig>,
    /// Caps on what one report may cost when it is ingested (`[ingest]`).
    pub ingest: IngestConfig,
    /// Which receiver-rule profiles the reports evaluate (`[profiles]`).
    pub profiles: ProfilesConfig,
    /// How `authwarden verify` reads a saved message (`[verify]`).
    pub verify: VerifyConfig,
    /// How policies are fetched over HTTPS (`[https]`): MTA-STS.
    pub https: HttpsConfig,
}

/// The `[https]` section: how the checkers that read web resources (the
/// MTA-STS policy) fetch them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpsConfig {
    /// PEM certificates trusted besides the public roots (a private CA).
    pub ca_bundle: Option<PathBuf>,
    /// The time one fetch may take, connection and body included.
    pub timeout: Duration,
    /// A folder answering instead of the network: `<host>/<path>` files are
    /// served as `200 text/plain` (an offline run, like `dns.zone_files`).
    pub responses_dir: Option<PathBuf>,
}

impl Default for HttpsConfig {
    fn default() -> Self {
        HttpsConfig {
            ca_bundle: None,
            timeout: Duration::from_secs(10),
            responses_dir: None,
        }
    }
}

/// The `[verify]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyConfig {
    /// The receiving hosts whose `Received` headers give a message's SMTP
    /// client IP and HELO name (lower-case, no trailing dot).
    pub trusted_receivers: Vec<String>,
    /// Folders or Maildirs where the quarterly authentication test's
    /// messages arrive (one test message per inventory sender a quarter).
    pub test_messages: Vec<PathBuf>,
}

/// The ids of the receiver-rule profiles (`authwarden-profiles`).
pub const PROFILE_IDS: &[&str] = &["gmail-yahoo", "outlook", "rfc9989", "m3aawg-dkim"];

/// The `[profiles]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfilesConfig {
    /// The profiles evaluated, by id ([`PROFILE_IDS`]); all by default.
    pub enabled: Vec<String>,
    /// Domains treated as bulk senders whatever the reports show.
    pub bulk_senders: Vec<String>,
    /// Domains treated as not bulk senders whatever the reports show.
    pub not_bulk_senders: Vec<String>,
}

impl Default for ProfilesConfig {
    fn default() -> Self {
        ProfilesConfig {
            enabled: PROFILE_IDS.iter().map(|s| s.to_string()).collect(),
            bulk_senders: Vec::new(),
            not_bulk_senders: Vec::new(),
        }
    }
}

impl ProfilesConfig {
    /// The bulk-sender override for `domain`, if any.
    pub fn bulk_override(&self, domain: &str) -> Option<bool> {
        let is = |list: &[String]| list.iter().any(|d| d.eq_ignore_ascii_case(domain));
        if is(&self.bulk_senders) {
            Some(true)
        } else if is(&self.not_bulk_senders) {
            Some(false)
        } else {
            None
        }
    }
}

/// The `[dns]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// The name servers to ask; empty means the system resolver.
    pub nameservers: Vec<SocketAddr>,
    /// The timeout of one query attempt.
    pub timeout: Duration,
    /// How often a query is retried after a timeout.
    pub retries: usize,
    /// Zone files whose records answer before the network is asked,
    /// resolved against the config file's directory.
    pub zone_files: Vec<PathBuf>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            nameservers: Vec::new(),
            timeout: Duration::from_secs(5),
            retries: 1,
            zone_files: Vec::new(),
        }
    }
}

/// One `[[domains]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainConfig {
    /// The domain, lower-case without trailing dot.
    pub name: String,
    /// Per-checker settings: a JSON object from checker id to that
    /// checker's table for this domain.
    pub settings: Value,
}

impl DomainConfig {
    /// The checker API's view of this domain.
    pub fn target(&self) -> DomainTarget {
        DomainTarget {
            name: self.name.clone(),
            settings: self.settings.clone(),
        }
    }
}

/// One `[checkers.<id>]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckerConfig {
    /// Whether the checker runs at all.
    pub enabled: bool,
    /// The jobs it runs in, replacing its default cadences.
    pub jobs: Option<Vec<Cadence>>,
    /// Every other key of the table, as a JSON object for the checker; for
    /// an external checker, its `config` table.
    pub settings: Value,
    /// Set for `type = "external"`: how to run the checker's process.
    pub external: Option<ExternalConfig>,
}

/// How to run an external checker (`[checkers.<id>] type = "external"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalConfig {
    /// The program and its arguments, as written. A program given as a
    /// relative path with a `/` (`./bimi.py`) is relative to [`Self::dir`].
    pub command: Vec<String>,
    /// The config file's directory: the process's working directory, so
    /// relative paths in its arguments are relative to the config file.
    pub dir: PathBuf,
    /// How long one call of the process may take before it is killed.
    pub timeout: Duration,
}

/// The timeout of an external checker's process unless `timeout` says otherwise.
pub const DEFAULT_EXTERNAL_TIMEOUT: Duration = Duration::from_secs(30);

/// One `[jobs.<cadence>]` table, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct JobConfig {
    /// The cron expression as written (cron crate syntax, with seconds).
    pub cron: String,
    /// The parsed schedule, to be read in [`Config::timezone`].
    pub schedule: cron::Schedule,
    /// Who receives the job's report; empty leaves it in the outbox.
    pub recipients: Vec<String>,
    /// The checkers to run; `None` means every enabled checker whose
    /// cadences include this job.
    pub checkers: Option<Vec<String>>,
    /// Whether the job runs.
    pub enabled: bool,
}

impl JobConfig {
    /// The built-in job for a cadence: the default schedule, no recipients,
    /// the default checkers, enabled.
    pub fn default_for(cadence: Cadence) -> Self {
        let cron = default_cron(cadence).to_string();
        JobConfig {
            schedule: cron::Schedule::from_str(&cron).expect("built-in cron expressions parse"),
            cron,
            recipients: Vec::new(),
            checkers: None,
            enabled: true,
        }
    }
}

/// The built-in cron expression of a job: 06:00 on the first day of the
/// month, of each quarter, or of the year.
pub fn default_cron(cadence: Cadence) -> &'static str {
    match cadence {
        Cadence::Monthly => "0 0 6 1 * *",
        Cadence::Quarterly => "0 0 6 1 1,4,7,10 *",
        Cadence::Annual => "0 0 6 1 1 *",
    }
}

/// The `[smtp]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The server's host name or IP address.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How the connection is secured.
    pub security: Security,
    /// The user name to log in with, if any.
    pub username: Option<String>,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// The `From:` mailbox, e.g. `authwarden <authwarden@example.org>`.
    pub from: String,
    /// An extra trusted root certificate (PEM), resolved against the config file's directory.
    pub ca_file: Option<PathBuf>,
    /// The timeout of the SMTP conversation.
    pub timeout: Duration,
}

/// How the SMTP (or IMAP) connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (required); port 587 by default.
    StartTls,
    /// TLS from the first byte ("implicit TLS", SMTPS); port 465 by default.
    Tls,
    /// No encryption; only allowed to a loopback host. Port 25 by default.
    None,
}

impl Security {
    /// All accepted names, for error messages.
    pub const NAMES: &'static [&'static str] = &["starttls", "tls", "none"];

    /// The name used in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Security::StartTls => "starttls",
            Security::Tls => "tls",
            Security::None => "none",
        }
    }

    /// The port used when the config gives none.
    pub fn default_port(self) -> u16 {
        match self {
            Security::StartTls => 587,
            Security::Tls => 465,
            Security::None => 25,
        }
    }

    /// The IMAP port used when `[imap]` gives none: 993 for TLS, 143 otherwise.
    pub fn default_imap_port(self) -> u16 {
        match self {
            Security::Tls => 993,
            Security::StartTls | Security::None => 143,
        }
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "starttls" => Ok(Security::StartTls),
            "tls" => Ok(Security::Tls),
            "none" => Ok(Security::None),
            other => Err(format!(
                "unknown security `{other}`, expected one of: starttls, tls, none"
            )),
        }
    }
}

/// Where the SMTP or IMAP password comes from. The file never holds the password itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password.
    None,
    /// The named environment variable.
    Env(String),
    /// The content of this file without a trailing newline; the path is
    /// resolved against the config file's directory.
    File(PathBuf),
}

/// The `[imap]` section: the mailbox DMARC aggregate reports arrive in.
#[derive(Debug, Clone, PartialEq)]
pub struct ImapConfig {
    /// The server's host name or IP address.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// How the connection is secured (same names as `[smtp]`, IMAP ports).
    pub security: Security,
    /// The user name to log in with.
    pub username: String,
    /// Where the password comes from; never [`PasswordSource::None`].
    pub password: PasswordSource,
    /// An extra trusted root certificate (PEM), resolved against the config file's directory.
    pub ca_file: Option<PathBuf>,
    /// The folder reports arrive in.
    pub folder: String,
    /// Where processed messages are moved.
    pub archive_folder: String,
    /// Where messages without a readable report are moved.
    pub invalid_folder: String,
    /// The timeout of the connection and of each command.
    pub timeout: Duration,
    /// Messages larger than this many bytes are not downloaded (filed as invalid).
    pub max_message_size: u64,
    /// When the daemon polls the mailbox, as written.
    pub poll_cron: String,
    /// The parsed poll schedule, to be read in [`Config::timezone`].
    pub poll_schedule: cron::Schedule,
    /// The JSON file remembering the last UID seen.
    pub state_file: PathBuf,
}

/// The poll schedule of `[imap]` unless `poll_cron` says otherwise: every hour.
pub const DEFAULT_IMAP_POLL_CRON: &str = "0 0 * * * *";

/// The `[ingest]` section: report folders the jobs read, caps against
/// hostile or broken reports, and the reverse-DNS enrichment of report
/// sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// Folders (or files) of aggregate reports that every job run ingests
    /// before its checks: a drop folder, a Maildir or an mbox a mail filter
    /// delivers reports to. Resolved against the config file's directory.
    pub folders: Vec<PathBuf>,
    /// Maximum decompressed XML bytes of one report.
    pub max_decompressed: u64,
    /// Maximum records of one report.
    pub max_records: u64,
    /// The work budget of one input file: bytes decompressed across all its
    /// members and layers.
    pub max_work: u64,
    /// The work budget of one input file: time spent reading it.
    pub max_work_time: std::time::Duration,
    /// Look up the PTR name of every distinct source IP (through `[dns]`)
    /// so that a service is recognised by its sending hosts' names.
    pub reverse_dns: bool,
    /// Verify the mail message that carried each new report (DKIM, SPF,
    /// DMARC, through `[dns]`) and record whether the reporter's domain
    /// authenticated it.
    pub authenticate: bool,
    /// Refuse every new report that its reporter's domain did not
    /// authenticate (also report files that are not mail, and reports whose
    /// check was incomplete).
    pub require_authenticated: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            folders: Vec::new(),
            max_decompressed: 100 * 1024 * 1024,
            max_records: 10_000_000,
            max_work: 1024 * 1024 * 1024,
            max_work_time: std::time::Duration::from_secs(60),
            reverse_dns: true,
            authenticate: true,
            require_authenticated: false,
        }
    }
}

impl Config {
    /// The settings of `[checkers.<id>]` (without `enabled` and `jobs`),
    /// an empty JSON object when there are none.
    pub fn checker_settings(&self, id: &str) -> Value {
        self.checkers
            .get(id)
            .map(|c| c.settings.clone())
            .unwrap_or_else(|| Value::Object(Map::new()))
    }

    /// Whether a checker runs at all (true unless `enabled = false`).
    pub fn checker_enabled(&self, id: &str) -> bool {
        self.checkers.get(id).is_none_or(|c| c.enabled)
    }

    /// The cadences a checker runs in: its `jobs` override, else its defaults.
    pub fn checker_cadences(&self, checker: &KnownChecker) -> Vec<Cadence> {
        self.checkers
            .get(&checker.id)
            .and_then(|c| c.jobs.clone())
            .unwrap_or_else(|| checker.cadences.clone())
    }

    /// The checkers a job runs, in the order of `known`: the job's
    /// `checkers` list when it has one, else every checker whose cadences
    /// include the job. Disabled checkers are left out either way.
    pub fn job_checkers(&self, cadence: Cadence, known: &Known) -> Vec<String> {
        let listed = self.jobs.get(&cadence).and_then(|j| j.checkers.as_ref());
        known
            .checkers
            .iter()
            .filter(|c| self.checker_enabled(&c.id))
            .filter(|c| match listed {
                Some(list) => list.contains(&c.id),
                None => self.checker_cadences(c).contains(&cadence),
            })
            .map(|c| c.id.clone())
            .collect()
    }

    /// The external checkers (`type = "external"`), by id.
    pub fn external_checkers(&self) -> impl Iterator<Item = (&str, &ExternalConfig)> {
        self.checkers
            .iter()
            .filter_map(|(id, c)| c.external.as_ref().map(|e| (id.as_str(), e)))
    }

    /// The user's level for a code, if `[levels]` sets one.
    pub fn level_for(&self, code: &str) -> Option<Level> {
        self.levels.get(code).copied()
    }

    /// The job's configuration (always present).
    pub fn job(&self, cadence: Cadence) -> &JobConfig {
        &self.jobs[&cadence]
    }

    /// The domains as the checker API's targets.
    pub fn domain_targets(&self) -> Vec<DomainTarget> {
        self.domains.iter().map(DomainConfig::target).collect()
    }
}

/// Joins `rel` onto `base` and removes `.` and `..` components lexically
/// (without touching the file system), so that `config/../reports` reads
/// `reports`. An absolute `rel` is returned as it is.
pub(crate) fn resolve_path(base: &Path, rel: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for comp in base.join(rel).components() {
        match comp {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) | Some(Component::Prefix(_)) => {}
                _ => out.push(".."),
            },
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_lexically() {
        let p = |b: &str, r: &str| resolve_path(Path::new(b), Path::new(r));
        assert_eq!(p("config", "../reports"), PathBuf::from("reports"));
        assert_eq!(p("", "../reports"), PathBuf::from("../reports"));
        assert_eq!(p(".", "x/./y"), PathBuf::from("x/y"));
        assert_eq!(p("/etc/aw", "../../.."), PathBuf::from("/"));
        assert_eq!(p("a/b", "/abs/z"), PathBuf::from("/abs/z"));
        assert_eq!(p("config", ".."), PathBuf::from("."));
        assert_eq!(p("../c", "../r"), PathBuf::from("../r"));
    }

    #[test]
    fn default_crons_parse() {
        for c in Cadence::ALL {
            assert_eq!(JobConfig::default_for(c).cron, default_cron(c));
        }
    }
}
