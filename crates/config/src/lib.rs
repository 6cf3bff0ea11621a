//! Loading and validating authwarden's configuration file.
//!
//! Loading has two phases, like cargo-deny's: the TOML is parsed keeping the
//! span of every key and value (a syntax error stops here, with its
//! position), then the document is walked against the schema and **every**
//! problem is collected — unknown keys with a did-you-mean, wrong types,
//! invalid values, unknown checkers and codes — each with the file, line and
//! column of the offending key or value. [`ConfigErrors`] prints them like
//! rustc does.
//!
//! [`load`] also looks at every file and folder the config names — the
//! password and CA files, the zone files (which must parse), the report
//! folders, the templates folder, external checkers' programs, and whether
//! the output folders can be created — and reports each problem at the
//! key's value in the same list, so a command stops before any work.
//! [`parse`] validates the text alone.
//!
//! What checkers and codes exist is not known here: the caller passes a
//! [`Known`] built from the registry.
//!
//! Every key is documented in `CONFIG.md` beside this crate's manifest.
#![deny(missing_docs)]

mod error;
mod files;
mod model;
mod validate;

use std::path::Path;

pub use error::{ConfigError, ConfigErrors};
pub use model::{
    default_cron, CheckerConfig, Config, DnsConfig, DomainConfig, ExternalConfig, HttpsConfig,
    ImapConfig, IngestConfig, JobConfig, Known, KnownChecker, PasswordSource, ProfilesConfig,
    Security, SmtpConfig, VerifyConfig, DEFAULT_EXTERNAL_TIMEOUT, DEFAULT_IMAP_POLL_CRON,
    PROFILE_IDS,
};
pub use validate::parse_nameserver;

/// The default location of the configuration file, relative to the current directory.
pub const DEFAULT_PATH: &str = "config/authwarden.toml";

/// Reads and validates the configuration file at `path`, including the
/// files and folders it names.
///
/// Relative paths inside the file are resolved against the file's
/// directory. Inputs must exist and be usable: `password_file` (readable),
/// `ca_file` (holds a PEM certificate), every `dns.zone_files` entry
/// (parses, and merges with the others as the resolver loads them; an
/// error reads `zone file example.zone: line 7: <reason>` at the config
/// value), every `ingest.folders` entry (a folder or file), `templates.dir`
/// (a folder), an external checker's program (an executable path, or a
/// bare name found in `PATH`). Outputs (`reports_dir`, `history_dir`,
/// `imap.state_file`) may be missing; they are an error only when they can
/// never be created (they, or a folder above them, are a file of the
/// wrong kind).
pub fn load(path: &Path, known: &Known) -> Result<Config, ConfigErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => validate::parse(&text, path, known, validate::Files::Check),
        Err(e) => Err(ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            message: format!("cannot read the configuration file: {e}"),
            help: None,
        }])),
    }
}

/// Validates `text` as if read from `path`: `path` names the file in
/// errors, and relative paths inside are resolved against its directory.
///
/// The file system is not looked at: the files and folders the text names
/// are not checked (see [`load`]).
pub fn parse(text: &str, path: &Path, known: &Known) -> Result<Config, ConfigErrors> {
    validate::parse(text, path, known, validate::Files::Ignore)
}

/// The external checkers (`[checkers.<id>] type = "external"`) that `text`
/// declares, read leniently: every other problem of the file is ignored
/// here (and reported by [`parse`]).
///
/// The host needs them before the real validation: it asks each external
/// checker to describe itself, and the codes it declares are what `[levels]`
/// is then validated against.
pub fn external_checkers(text: &str, path: &Path, known: &Known) -> Vec<(String, ExternalConfig)> {
    validate::parse_lenient(text, path, known)
        .map(|config| {
            config
                .external_checkers()
                .map(|(id, e)| (id.to_string(), e.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The built-in configuration, for running without a file: UTC, the
/// system resolver, no domains, the three default jobs, no SMTP (messages
/// stay in the outbox), no IMAP mailbox, the default ingest caps.
///
/// `base_dir` is where the config file would live (usually `config`), so
/// the directories are the same as for a file there without those keys:
/// reports in `<base_dir>/../reports`, history in `<reports>/data`,
/// and the built-in templates.
pub fn defaults(base_dir: &Path) -> Config {
    let project_dir = model::resolve_path(base_dir, Path::new(".."));
    let reports_dir = model::resolve_path(&project_dir, Path::new("reports"));
    Config {
        source: None,
        timezone: chrono_tz::Tz::UTC,
        history_dir: reports_dir.join("data"),
        reports_dir,
        dns: DnsConfig::default(),
        domains: Vec::new(),
        levels: Default::default(),
        checkers: Default::default(),
        jobs: authwarden_api::Cadence::ALL
            .into_iter()
            .map(|c| (c, JobConfig::default_for(c)))
            .collect(),
        smtp: None,
        templates_dir: None,
        profiles: Default::default(),
        verify: Default::default(),
        https: Default::default(),
        imap: None,
        ingest: IngestConfig::default(),
    }
}
