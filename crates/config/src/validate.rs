//! Phase 2: walks the parsed document against the schema, building the
//! [`Config`] and collecting every problem with its position.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use authwarden_api::domain::{normalize_name, validate_domain};
use authwarden_api::{Cadence, Level, SettingKey, SettingKind};
use serde_json::{Map, Value};
use toml::de::{DeString, DeTable, DeValue};
use toml::Spanned;

use crate::error::Sink;
use crate::files::{FileRef, Kind};
use crate::model::{
    resolve_path, CheckerConfig, Config, DnsConfig, DomainConfig, ExternalConfig, ImapConfig,
    IngestConfig, JobConfig, Known, PasswordSource, Security, SmtpConfig, DEFAULT_EXTERNAL_TIMEOUT,
    DEFAULT_IMAP_POLL_CRON,
};

/// Tables under `[[domains]]` shared by several checkers.
const SHARED_DOMAIN_TABLES: &[&str] = &["inventory"];

type Val<'i> = Spanned<DeValue<'i>>;
type Key<'i> = Spanned<DeString<'i>>;
/// A string value with the span of its quotes.
type SpannedStr<'v> = (&'v str, Range<usize>);

const ROOT_KEYS: &[&str] = &[
    "timezone",
    "reports_dir",
    "history_dir",
    "dns",
    "domains",
    "levels",
    "checkers",
    "jobs",
    "smtp",
    "templates",
    "imap",
    "ingest",
    "profiles",
    "verify",
    "https",
];
const HTTPS_KEYS: &[&str] = &["ca_bundle", "timeout", "responses_dir"];
const VERIFY_KEYS: &[&str] = &["trusted_receivers", "test_messages"];
const PROFILES_KEYS: &[&str] = &["enabled", "bulk_senders", "not_bulk_senders"];
const DNS_KEYS: &[&str] = &["nameservers", "timeout", "retries", "zone_files"];
const JOB_KEYS: &[&str] = &["cron", "recipients", "checkers", "enabled"];
const SMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "password_file",
    "from",
    "ca_file",
    "timeout",
];
const TEMPLATES_KEYS: &[&str] = &["dir"];
const IMAP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "password_file",
    "ca_file",
    "folder",
    "archive_folder",
    "invalid_folder",
    "timeout",
    "max_message_size",
    "poll_cron",
    "state_file",
];
const INGEST_KEYS: &[&str] = &[
    "folders",
    "max_decompressed",
    "max_records",
    "max_work",
    "max_work_time",
    "reverse_dns",
    "authenticate",
    "require_authenticated",
];
/// The keys of `[checkers.<id>]` with `type = "external"`: no pass-through
/// keys, the checker's own settings go in `config`.
const EXTERNAL_KEYS: &[&str] = &["type", "command", "timeout", "enabled", "jobs", "config"];
/// Names people write for a security mode, mapped to the mode they mean.
const SECURITY_ALIASES: &[(&str, &str)] = &[
    ("ssl", "tls"),
    ("smtps", "tls"),
    ("imaps", "tls"),
    ("implicit", "tls"),
    ("plain", "none"),
    ("plaintext", "none"),
    ("insecure", "none"),
];
const CADENCE_NAMES: &[&str] = &["monthly", "quarterly", "annual"];

/// Names people write for a level, mapped to the level they mean.
const LEVEL_ALIASES: &[(&str, &str)] = &[
    ("warning", "warn"),
    ("error", "deny"),
    ("ignore", "allow"),
    ("off", "allow"),
    ("info", "note"),
];

/// Whether validation looks at the files and folders the config names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Files {
    /// Each must exist and be usable (see the `files` module).
    Check,
    /// The text alone is validated.
    Ignore,
}

/// Parses and validates `text`, read from `path`.
pub(crate) fn parse(
    text: &str,
    path: &Path,
    known: &Known,
    files: Files,
) -> Result<Config, crate::ConfigErrors> {
    let (config, errors) = walk(text, path, known, files);
    errors?;
    config.ok_or_else(|| unreachable_errors(path))
}

/// Like [`parse`] without the file checks, but returns what could be read
/// despite errors; `None` only when the TOML itself does not parse.
pub(crate) fn parse_lenient(text: &str, path: &Path, known: &Known) -> Option<Config> {
    walk(text, path, known, Files::Ignore).0
}

fn unreachable_errors(path: &Path) -> crate::ConfigErrors {
    crate::ConfigErrors(vec![crate::ConfigError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: "the configuration could not be read".into(),
        help: None,
    }])
}

fn walk(
    text: &str,
    path: &Path,
    known: &Known,
    files: Files,
) -> (Option<Config>, Result<(), crate::ConfigErrors>) {
    let mut sink = Sink::new(path, text);
    let root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(e) => {
            sink.push(
                e.span().unwrap_or(0..0),
                format!("invalid TOML: {}", e.message()),
                None,
            );
            return (None, sink.finish());
        }
    };
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let external_ids = external_ids(root.get_ref());
    let mut walker = Walker {
        text,
        sink,
        known,
        dir,
        external_ids,
        files: Vec::new(),
    };
    let mut config = walker.root(root.get_ref());
    config.source = Some(path.to_path_buf());
    if files == Files::Check {
        crate::files::check(&mut walker.sink, &walker.files);
    }
    (Some(config), walker.sink.finish())
}

/// The ids of `[checkers.<id>]` tables with `type = "external"`, found before the walk so that `[[domains]]` and
/// `[jobs.*]` may name them wherever they are in the file.
fn external_ids(root: &DeTable<'_>) -> Vec<String> {
    let Some(DeValue::Table(checkers)) = root.get("checkers").map(|v| v.get_ref()) else {
        return Vec::new();
    };
    checkers
        .iter()
        .filter(|(_, v)| match v.get_ref() {
            DeValue::Table(t) => matches!(
                t.get("type").map(|v| v.get_ref()),
                Some(DeValue::String(s)) if s.as_ref() == "external"
            ),
            _ => false,
        })
        .map(|(k, _)| k.get_ref().to_string())
        .collect()
}

/// The best near-miss for `word` among `candidates`: the workspace's one
/// did-you-mean rule ([`authwarden_api::names::did_you_mean`]).
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    authwarden_api::names::did_you_mean(word, candidates)
}

fn alias(aliases: &[(&str, &'static str)], s: &str) -> Option<&'static str> {
    aliases
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(s))
        .map(|(_, meant)| *meant)
}

fn did_you_mean(s: &str) -> String {
    format!("did you mean `{s}`?")
}

fn with_article(type_str: &str) -> &'static str {
    match type_str {
        "string" => "a string",
        "integer" => "an integer",
        "float" => "a float",
        "boolean" => "a boolean",
        "datetime" => "a date-time",
        "array" => "an array",
        _ => "a table",
    }
}

fn join_ticked(items: &[&str]) -> String {
    items
        .iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a setting's kind reads in a message: "a string", "a table", ...
fn kind_name(kind: SettingKind) -> &'static str {
    match kind {
        SettingKind::Bool => "a boolean",
        SettingKind::Integer { .. } => "an integer",
        SettingKind::Float { .. } => "a number",
        SettingKind::String => "a string",
        SettingKind::Duration => "a duration",
        SettingKind::Array(_) => "an array",
        SettingKind::Table(_) => "a table",
        SettingKind::AnyOf(_) | SettingKind::Any => "a value",
    }
}

/// Whether a value has the TOML type of a kind (its content is checked later).
fn kind_accepts(kind: SettingKind, v: &Val<'_>) -> bool {
    match (kind, v.get_ref()) {
        (SettingKind::Bool, DeValue::Boolean(_))
        | (SettingKind::Integer { .. }, DeValue::Integer(_))
        | (SettingKind::Float { .. }, DeValue::Float(_) | DeValue::Integer(_))
        | (SettingKind::String, DeValue::String(_))
        | (SettingKind::Duration, DeValue::String(_) | DeValue::Integer(_))
        | (SettingKind::Array(_), DeValue::Array(_))
        | (SettingKind::Table(_), DeValue::Table(_)) => true,
        (SettingKind::AnyOf(kinds), _) => kinds.iter().any(|k| kind_accepts(*k, v)),
        (SettingKind::Any, _) => true,
        _ => false,
    }
}

struct Walker<'a> {
    text: &'a str,
    sink: Sink<'a>,
    known: &'a Known,
    /// The config file's directory; relative paths are resolved against it.
    dir: PathBuf,
    /// The ids of the file's external checkers (not in `known`).
    external_ids: Vec<String>,
    /// Every file and folder the config names, checked after the walk.
    files: Vec<FileRef>,
}

impl<'a> Walker<'a> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.sink.push(span, message.into(), None);
    }

    fn err_help(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        help: Option<impl Into<String>>,
    ) {
        self.sink.push(span, message.into(), help.map(|h| h.into()));
    }

    fn type_err(&mut self, v: &Val<'_>, expected: &str, path: &str) {
        self.err(
            v.span(),
            format!(
                "expected {expected} for `{path}`, found {}",
                with_article(v.get_ref().type_str())
            ),
        );
    }

    fn unknown_key(&mut self, key: &Key<'_>, section: &str, candidates: &[&str]) {
        let name = key.get_ref().as_ref();
        let help = match suggest(name, candidates.iter().copied()) {
            Some(s) => did_you_mean(s),
            None => format!("expected one of: {}", join_ticked(candidates)),
        };
        self.err_help(
            key.span(),
            format!("unknown key `{name}` {section}"),
            Some(help),
        );
    }

    fn missing_key(&mut self, table: &Val<'_>, key: &str, section: &str, example: &str) {
        self.err_help(
            table.span(),
            format!("missing key `{key}` in {section}"),
            Some(format!("add e.g. `{key} = {example}`")),
        );
    }

    // ---- typed accessors: each reports a wrong type and returns None ----

    fn str<'v>(&mut self, v: &'v Val<'_>, path: &str) -> Option<&'v str> {
        match v.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            _ => {
                self.type_err(v, "a string", path);
                None
            }
        }
    }

    fn non_empty_str<'v>(&mut self, v: &'v Val<'_>, path: &str) -> Option<&'v str> {
        let s = self.str(v, path)?;
        if s.trim().is_empty() {
            self.err(v.span(), format!("`{path}` must not be empty"));
            return None;
        }
        Some(s)
    }

    fn bool(&mut self, v: &Val<'_>, path: &str) -> Option<bool> {
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.type_err(v, "a boolean", path);
                None
            }
        }
    }

    fn uint(&mut self, v: &Val<'_>, path: &str, min: u64, max: u64) -> Option<u64> {
        let DeValue::Integer(i) = v.get_ref() else {
            self.type_err(v, "an integer", path);
            return None;
        };
        match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if n >= 0 && (min..=max).contains(&n.unsigned_abs()) => Some(n.unsigned_abs()),
            _ => {
                self.err(
                    v.span(),
                    format!("`{path}` must be between {min} and {max}, found {i}"),
                );
                None
            }
        }
    }

    fn table<'v, 'i>(&mut self, v: &'v Val<'i>, path: &str) -> Option<&'v DeTable<'i>> {
        match v.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.type_err(v, "a table", path);
                None
            }
        }
    }

    /// The string elements of an array of strings, with their spans.
    fn strings<'v>(&mut self, v: &'v Val<'_>, path: &str) -> Option<Vec<SpannedStr<'v>>> {
        let DeValue::Array(array) = v.get_ref() else {
            self.type_err(v, "an array of strings", path);
            return None;
        };
        let mut out = Vec::new();
        for (i, e) in array.iter().enumerate() {
            if let Some(s) = self.str(e, &format!("{path}[{i}]")) {
                out.push((s, e.span()));
            }
        }
        Some(out)
    }

    fn duration(&mut self, v: &Val<'_>, path: &str) -> Option<Duration> {
        let DeValue::String(s) = v.get_ref() else {
            self.type_err(v, "a duration string like \"5s\"", path);
            return None;
        };
        match parse_duration(s) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err_help(
                    v.span(),
                    format!("invalid duration `{s}` for `{path}`: {e}"),
                    Some(
                        "write a number with a unit (ms, s, m or h), e.g. `300ms`, `5s` or `1m30s`",
                    ),
                );
                None
            }
        }
    }

    fn path(&mut self, v: &Val<'_>, path: &str) -> Option<PathBuf> {
        let s = self.non_empty_str(v, path)?;
        Some(resolve_path(&self.dir, Path::new(s)))
    }

    /// A path that is kept for the file checks after the walk.
    fn file_path(&mut self, v: &Val<'_>, path: &str, kind: Kind) -> Option<PathBuf> {
        let resolved = self.path(v, path)?;
        if let DeValue::String(s) = v.get_ref() {
            self.files.push(FileRef {
                key: path.to_string(),
                written: s.to_string(),
                path: resolved.clone(),
                span: v.span(),
                kind,
            });
        }
        Some(resolved)
    }

    /// A list of paths, each kept for the file checks after the walk.
    fn file_paths(&mut self, v: &Val<'_>, path: &str, kind: Kind) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for (s, span) in self.strings(v, path).unwrap_or_default() {
            if s.trim().is_empty() {
                self.err(span, format!("`{path}` must not contain an empty path"));
            } else {
                let resolved = resolve_path(&self.dir, Path::new(s));
                self.files.push(FileRef {
                    key: path.to_string(),
                    written: s.to_string(),
                    path: resolved.clone(),
                    span,
                    kind,
                });
                out.push(resolved);
            }
        }
        out
    }

    /// Converts a pass-through value to JSON for a checker.
    fn json(&mut self, v: &Val<'_>, path: &str) -> Value {
        match v.get_ref() {
            DeValue::String(s) => Value::String(s.to_string()),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(d) => Value::String(d.to_string()),
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Value::from(n),
                Err(_) => {
                    self.err(
                        v.span(),
                        format!("integer `{i}` for `{path}` does not fit in 64 bits"),
                    );
                    Value::Null
                }
            },
            DeValue::Float(f) => match f
                .as_str()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
            {
                Some(n) => Value::Number(n),
                None => {
                    self.err(
                        v.span(),
                        format!("`{path}` cannot be {f}: checker settings are JSON, which has no NaN or infinity"),
                    );
                    Value::Null
                }
            },
            DeValue::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, e)| self.json(e, &format!("{path}[{i}]")))
                    .collect(),
            ),
            DeValue::Table(t) => Value::Object(self.json_table(t, path)),
        }
    }

    fn json_table(&mut self, t: &DeTable<'_>, path: &str) -> Map<String, Value> {
        let mut map = Map::new();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let value = self.json(v, &format!("{path}.{key}"));
            map.insert(key.to_string(), value);
        }
        map
    }

    fn checker_ids(&self) -> Vec<String> {
        self.known
            .checkers
            .iter()
            .map(|c| c.id.clone())
            .chain(self.external_ids.iter().cloned())
            .collect()
    }

    /// A built-in checker or one of the file's external checkers.
    fn is_checker(&self, id: &str) -> bool {
        self.known.checker(id).is_some() || self.external_ids.iter().any(|e| e == id)
    }

    fn unknown_checker(&mut self, span: Range<usize>, id: &str, place: &str) {
        let ids = self.checker_ids();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let help = match suggest(id, ids.iter().copied()) {
            Some(s) => Some(did_you_mean(s)),
            None if ids.is_empty() => None,
            None => Some(format!("known checkers: {}", join_ticked(&ids))),
        };
        self.err_help(span, format!("unknown checker `{id}` {place}"), help);
    }

    fn cadence(&mut self, s: &str, span: Range<usize>) -> Option<Cadence> {
        match Cadence::from_str(s) {
            Ok(c) => Some(c),
            Err(e) => {
                let help = suggest(s, CADENCE_NAMES.iter().copied()).map(did_you_mean);
                self.err_help(span, e, help);
                None
            }
        }
    }

    // ---- sections ----

    fn root(&mut self, t: &DeTable<'_>) -> Config {
        let mut config = crate::defaults(&self.dir);
        let mut reports_dir = None;
        let mut history_dir = None;
        let mut imap = None;
        for (k, v) in t.iter() {
            match k.get_ref().as_ref() {
                "timezone" => {
                    if let Some(tz) = self.timezone(v) {
                        config.timezone = tz;
                    }
                }
                "reports_dir" => {
                    reports_dir = self.file_path(v, "reports_dir", Kind::OutputFolder);
                }
                "history_dir" => {
                    history_dir = self.file_path(v, "history_dir", Kind::OutputFolder);
                }
                "dns" => {
                    if let Some(t) = self.table(v, "dns") {
                        config.dns = self.dns(t);
                    }
                }
                "domains" => config.domains = self.domains(v),
                "levels" => {
                    if let Some(t) = self.table(v, "levels") {
                        config.levels = self.levels(t);
                    }
                }
                "checkers" => {
                    if let Some(t) = self.table(v, "checkers") {
                        config.checkers = self.checkers(t);
                    }
                }
                "jobs" => {
                    if let Some(t) = self.table(v, "jobs") {
                        self.jobs(t, &mut config.jobs);
                    }
                }
                "smtp" => {
                    if let Some(t) = self.table(v, "smtp") {
                        config.smtp = self.smtp(v, t);
                    }
                }
                "templates" => {
                    if let Some(t) = self.table(v, "templates") {
                        for (k, v) in t.iter() {
                            match k.get_ref().as_ref() {
                                "dir" => {
                                    if let Some(p) =
                                        self.file_path(v, "templates.dir", Kind::Folder)
                                    {
                                        config.templates_dir = Some(p);
                                    }
                                }
                                _ => self.unknown_key(k, "in `[templates]`", TEMPLATES_KEYS),
                            }
                        }
                    }
                }
                "verify" => {
                    if let Some(t) = self.table(v, "verify") {
                        config.verify = self.verify(t);
                    }
                }
                "https" => {
                    if let Some(t) = self.table(v, "https") {
                        config.https = self.https(t);
                    }
                }
                "profiles" => {
                    if let Some(t) = self.table(v, "profiles") {
                        config.profiles = self.profiles(t);
                    }
                }
                "imap" => {
                    if let Some(t) = self.table(v, "imap") {
                        imap = self.imap(v, t);
                    }
                }
                "ingest" => {
                    if let Some(t) = self.table(v, "ingest") {
                        config.ingest = self.ingest(t);
                    }
                }
                _ => self.unknown_key(k, "at the top level", ROOT_KEYS),
            }
        }
        if let Some(dir) = reports_dir {
            config.history_dir = dir.join("data");
            config.reports_dir = dir;
        }
        if let Some(dir) = history_dir {
            config.history_dir = dir;
        }
        // The state file defaults into the history directory, which may be
        // set after `[imap]` in the file: resolved once the walk is done.
        config.imap = imap.map(|(mut imap, state_file)| {
            imap.state_file =
                state_file.unwrap_or_else(|| config.history_dir.join("imap-state.json"));
            imap
        });
        config
    }

    fn timezone(&mut self, v: &Val<'_>) -> Option<chrono_tz::Tz> {
        let s = self.str(v, "timezone")?;
        match chrono_tz::Tz::from_str(s) {
            Ok(tz) => Some(tz),
            Err(_) => {
                let help = match suggest(s, chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name())) {
                    Some(name) => did_you_mean(name),
                    None => "use an IANA time zone name such as `Europe/Berlin` or `UTC`".into(),
                };
                self.err_help(v.span(), format!("unknown timezone `{s}`"), Some(help));
                None
            }
        }
    }

    fn dns(&mut self, t: &DeTable<'_>) -> DnsConfig {
        let mut dns = DnsConfig::default();
        for (k, v) in t.iter() {
            match k.get_ref().as_ref() {
                "nameservers" => {
                    for (s, span) in self.strings(v, "dns.nameservers").unwrap_or_default() {
                        match parse_nameserver(s) {
                            Some(addr) => dns.nameservers.push(addr),
                            None => self.err_help(
                                span,
                                format!("invalid nameserver `{s}`"),
                                Some("give an IP address with an optional port, e.g. `192.0.2.53`, `192.0.2.53:5353` or `[2001:db8::53]:53`"),
                            ),
                        }
                    }
                }
                "timeout" => {
                    if let Some(d) = self.duration(v, "dns.timeout") {
                        if d.is_zero() {
                            self.err(v.span(), "`dns.timeout` must be greater than zero");
                        } else {
                            dns.timeout = d;
                        }
                    }
                }
                "retries" => {
                    if let Some(n) = self.uint(v, "dns.retries", 0, 100) {
                        dns.retries = n as usize;
                    }
                }
                "zone_files" => {
                    dns.zone_files = self.file_paths(v, "dns.zone_files", Kind::ZoneFile);
                }
                _ => self.unknown_key(k, "in `[dns]`", DNS_KEYS),
            }
        }
        dns
    }

    fn domains(&mut self, v: &Val<'_>) -> Vec<DomainConfig> {
        let DeValue::Array(array) = v.get_ref() else {
            self.type_err(v, "an array of tables (`[[domains]]`)", "domains");
            return Vec::new();
        };
        let mut out = Vec::new();
        // normalised name -> offset of its first mention
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, entry) in array.iter().enumerate() {
            let path = format!("domains[{i}]");
            let (name, settings) = match entry.get_ref() {
                // `domains = ["example.org"]` is shorthand for a table with only a name.
                DeValue::String(s) => (Some((s.as_ref(), entry.span())), Map::new()),
                DeValue::Table(t) => self.domain_table(entry, t, &path),
                _ => {
                    self.type_err(entry, "a table or a domain name", &path);
                    continue;
                }
            };
            let Some((name, span)) = name else { continue };
            let normalized = normalize_name(name);
            if let Err(e) = validate_domain(&normalized) {
                self.err(span, format!("invalid domain name `{name}`: {e}"));
                continue;
            }
            if let Some(&first) = seen.get(&normalized) {
                let line = self.sink.line_of(first);
                self.err_help(
                    span,
                    format!("duplicate domain `{normalized}`"),
                    Some(format!("it is already listed on line {line}")),
                );
                continue;
            }
            seen.insert(normalized.clone(), span.start);
            out.push(DomainConfig {
                name: normalized,
                settings: Value::Object(settings),
            });
        }
        out
    }

    /// Tables under `[[domains]]` that several checkers read, besides the
    /// per-checker ones: `inventory` (the sender inventory, read by
    /// inventory-drift, rollout-advisor and `spf build`).
    fn domain_table<'v>(
        &mut self,
        entry: &Val<'_>,
        t: &'v DeTable<'_>,
        path: &str,
    ) -> (Option<SpannedStr<'v>>, Map<String, Value>) {
        let mut name = None;
        let mut name_seen = false;
        let mut settings = Map::new();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            if key == "name" {
                name_seen = true;
                name = self.str(v, &format!("{path}.name")).map(|s| (s, v.span()));
            } else if self.is_checker(key) || SHARED_DOMAIN_TABLES.contains(&key) {
                let sub = format!("{path}.{key}");
                if let Some(t) = self.table(v, &sub) {
                    if let Some(spec) = self.known.settings_spec(key) {
                        let section = format!("`[domains.{key}]`");
                        for (k, v) in t.iter() {
                            self.setting(k, v, spec.domain, &section, &sub, &[]);
                        }
                    }
                    let table = self.json_table(t, &sub);
                    settings.insert(key.to_string(), Value::Object(table));
                }
            } else {
                let ids = self.checker_ids();
                let mut candidates = vec!["name"];
                candidates.extend(SHARED_DOMAIN_TABLES);
                candidates.extend(ids.iter().map(String::as_str));
                self.unknown_key(k, "in `[[domains]]`", &candidates);
            }
        }
        if !name_seen {
            self.missing_key(entry, "name", "`[[domains]]`", "\"example.org\"");
        }
        (name, settings)
    }

    fn levels(&mut self, t: &DeTable<'_>) -> BTreeMap<String, Level> {
        let mut levels = BTreeMap::new();
        // code -> (key as written, offset)
        let mut seen: HashMap<String, (String, usize)> = HashMap::new();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let code = self.known.resolve_code(key).map(str::to_string);
            if code.is_none() {
                let all = self
                    .known
                    .codes
                    .iter()
                    .flat_map(|(c, n)| [c.as_str(), n.as_str()]);
                let help = suggest(key, all).map(did_you_mean);
                self.err_help(
                    k.span(),
                    format!("unknown code or name `{key}` in `[levels]`"),
                    help,
                );
            }
            let level = self.str(v, &format!("levels.{key}")).and_then(|s| {
                Level::from_str(s)
                    .map_err(|e| {
                        let help = alias(LEVEL_ALIASES, s)
                            .or_else(|| suggest(s, Level::NAMES.iter().copied()))
                            .map(did_you_mean);
                        self.err_help(v.span(), e, help);
                    })
                    .ok()
            });
            let (Some(code), Some(level)) = (code, level) else {
                continue;
            };
            if let Some((first, offset)) = seen.get(&code) {
                let line = self.sink.line_of(*offset);
                self.err_help(
                    k.span(),
                    format!("the level of `{code}` is already set on line {line} (as `{first}`)"),
                    Some("keep one of them"),
                );
                continue;
            }
            seen.insert(code.clone(), (key.to_string(), k.span().start));
            levels.insert(code, level);
        }
        levels
    }

    fn checkers(&mut self, t: &DeTable<'_>) -> BTreeMap<String, CheckerConfig> {
        let mut out = BTreeMap::new();
        for (k, v) in t.iter() {
            let id = k.get_ref().as_ref();
            let path = format!("checkers.{id}");
            let external_type = match v.get_ref() {
                DeValue::Table(t) => t.iter().find(|(k, _)| k.get_ref().as_ref() == "type"),
                _ => None,
            };
            // `Known` does not tell built-in checkers from external ones that
            // the host has already described, so an id clash with a built-in
            // checker is refused by the host, which knows its registry.
            if let Some((_, type_value)) = external_type {
                if matches!(type_value.get_ref(), DeValue::String(s) if s.as_ref() == "external") {
                    if let Some(t) = self.table(v, &path) {
                        if let Some(checker) = self.external_checker(id, k, t, &path) {
                            out.insert(id.to_string(), checker);
                        }
                    }
                } else {
                    self.err_help(
                        type_value.span(),
                        format!("unknown checker type for `{path}.type`"),
                        Some("the only type is `\"external\"`: a program that speaks the external checker protocol"),
                    );
                }
                continue;
            }
            if self.known.checker(id).is_none() {
                self.unknown_checker(k.span(), id, "in `[checkers]`");
                continue;
            }
            let Some(t) = self.table(v, &path) else {
                continue;
            };
            let mut checker = CheckerConfig {
                enabled: true,
                jobs: None,
                settings: Value::Object(Map::new()),
                external: None,
            };
            let mut settings = Map::new();
            for (k, v) in t.iter() {
                let key = k.get_ref().as_ref();
                match key {
                    "enabled" => {
                        if let Some(b) = self.bool(v, &format!("{path}.enabled")) {
                            checker.enabled = b;
                        }
                    }
                    "jobs" => checker.jobs = self.checker_jobs(v, &path),
                    _ => {
                        if let Some(spec) = self.known.settings_spec(id) {
                            let section = format!("`[{path}]`");
                            self.setting(k, v, spec.checker, &section, &path, &["enabled", "jobs"]);
                        }
                        let value = self.json(v, &format!("{path}.{key}"));
                        settings.insert(key.to_string(), value);
                    }
                }
            }
            checker.settings = Value::Object(settings);
            out.insert(id.to_string(), checker);
        }
        out
    }

    /// Checks one `key = value` of a checker's settings table against the
    /// checker's [`SettingKey`]s: an unknown key gets a did-you-mean among
    /// them (and `also`, the table's other keys), a wrong value its position.
    fn setting(
        &mut self,
        k: &Key<'_>,
        v: &Val<'_>,
        keys: &[SettingKey],
        section: &str,
        path: &str,
        also: &[&str],
    ) {
        let name = k.get_ref().as_ref();
        if let Some(key) = keys.iter().find(|s| s.name == name) {
            self.setting_value(v, key.kind, &format!("{path}.{name}"));
            return;
        }
        let mut candidates = also.to_vec();
        candidates.extend(keys.iter().map(|s| s.name));
        if candidates.is_empty() {
            self.err_help(
                k.span(),
                format!("unknown key `{name}` in {section}"),
                Some("this table takes no settings"),
            );
        } else {
            self.unknown_key(k, &format!("in {section}"), &candidates);
        }
    }

    /// Checks a setting's value against its kind.
    fn setting_value(&mut self, v: &Val<'_>, kind: SettingKind, path: &str) {
        match kind {
            SettingKind::Bool => {
                self.bool(v, path);
            }
            SettingKind::String => {
                self.str(v, path);
            }
            SettingKind::Integer { min, max } => {
                let DeValue::Integer(i) = v.get_ref() else {
                    self.type_err(v, "an integer", path);
                    return;
                };
                match i64::from_str_radix(i.as_str(), i.radix()) {
                    Ok(n) if (min..=max).contains(&n) => {}
                    _ => self.err(
                        v.span(),
                        format!("`{path}` must be from {min} to {max}, found {i}"),
                    ),
                }
            }
            SettingKind::Float { min, max } => {
                let (n, text) = match v.get_ref() {
                    DeValue::Float(f) => (f.as_str().parse::<f64>().ok(), f.as_str().to_string()),
                    DeValue::Integer(i) => (
                        i64::from_str_radix(i.as_str(), i.radix())
                            .ok()
                            .map(|n| n as f64),
                        i.as_str().to_string(),
                    ),
                    _ => {
                        self.type_err(v, "a number", path);
                        return;
                    }
                };
                match n {
                    Some(n) if (min..=max).contains(&n) => {}
                    _ => self.err(
                        v.span(),
                        format!("`{path}` must be from {min} to {max}, found {text}"),
                    ),
                }
            }
            SettingKind::Duration => {
                let value = match v.get_ref() {
                    DeValue::String(s) => Value::String(s.to_string()),
                    DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                        Ok(n) => Value::from(n),
                        Err(_) => Value::Null,
                    },
                    _ => {
                        self.type_err(v, "a duration (\"30s\")", path);
                        return;
                    }
                };
                if authwarden_api::parse_duration_setting(&value).is_none() {
                    self.err_help(
                        v.span(),
                        format!("invalid duration for `{path}`: {value}"),
                        Some("give whole seconds (`30`) or digits with `ms`, `s` or `m` (`\"500ms\"`, `\"30s\"`, `\"2m\"`), greater than zero"),
                    );
                }
            }
            SettingKind::Array(item) => {
                let DeValue::Array(array) = v.get_ref() else {
                    self.type_err(v, &format!("an array of {}", kind_name(*item)), path);
                    return;
                };
                for (i, e) in array.iter().enumerate() {
                    self.setting_value(e, *item, &format!("{path}[{i}]"));
                }
            }
            SettingKind::Table(keys) => {
                if let Some(t) = self.table(v, path) {
                    let section = format!("`{path}`");
                    for (k, e) in t.iter() {
                        self.setting(k, e, keys, &section, path, &[]);
                    }
                }
            }
            SettingKind::Any => {}
            SettingKind::AnyOf(kinds) => match kinds.iter().find(|k| kind_accepts(**k, v)) {
                Some(k) => self.setting_value(v, *k, path),
                None => {
                    let names: Vec<&str> = kinds.iter().map(|k| kind_name(*k)).collect();
                    self.type_err(v, &names.join(" or "), path);
                }
            },
        }
    }

    fn checker_jobs(&mut self, v: &Val<'_>, path: &str) -> Option<Vec<Cadence>> {
        let list = self.strings(v, &format!("{path}.jobs"))?;
        let mut jobs = Vec::new();
        for (s, span) in list {
            if let Some(c) = self.cadence(s, span) {
                if !jobs.contains(&c) {
                    jobs.push(c);
                }
            }
        }
        Some(jobs)
    }

    /// `[checkers.<id>]` with `type = "external"`.
    fn external_checker(
        &mut self,
        id: &str,
        key: &Key<'_>,
        t: &DeTable<'_>,
        path: &str,
    ) -> Option<CheckerConfig> {
        let mut ok = true;
        if !is_kebab(id) {
            self.err_help(
                key.span(),
                format!("invalid external checker id `{id}`"),
                Some(
                    "use kebab-case: lower-case letters, digits and single hyphens, e.g. `mta-sts`",
                ),
            );
            ok = false;
        }
        let mut checker = CheckerConfig {
            enabled: true,
            jobs: None,
            settings: Value::Object(Map::new()),
            external: None,
        };
        let mut command = None;
        let mut timeout = DEFAULT_EXTERNAL_TIMEOUT;
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let sub = format!("{path}.{key}");
            match key {
                "type" => {}
                "command" => {
                    if let Some(list) = self.strings(v, &sub) {
                        if list.is_empty() || list[0].0.trim().is_empty() {
                            self.err_help(
                                v.span(),
                                format!("`{sub}` must name a program"),
                                Some("e.g. `command = [\"python3\", \"checkers/bimi.py\"]`"),
                            );
                            ok = false;
                        } else {
                            let (program, span) = &list[0];
                            self.program(program, span.clone(), &sub);
                            command = Some(list.iter().map(|(s, _)| s.to_string()).collect());
                        }
                    } else {
                        ok = false;
                    }
                }
                "timeout" => match self.duration(v, &sub) {
                    Some(d) if d.is_zero() => {
                        self.err(v.span(), format!("`{sub}` must be greater than zero"));
                    }
                    Some(d) => timeout = d,
                    None => {}
                },
                "enabled" => {
                    if let Some(b) = self.bool(v, &sub) {
                        checker.enabled = b;
                    }
                }
                "jobs" => checker.jobs = self.checker_jobs(v, path),
                "config" => {
                    if let Some(t) = self.table(v, &sub) {
                        checker.settings = Value::Object(self.json_table(t, &sub));
                    }
                }
                _ => {
                    let help = match suggest(key, EXTERNAL_KEYS.iter().copied()) {
                        Some(s) => did_you_mean(s),
                        None => format!(
                            "expected one of: {}; the checker's own settings go in `config = {{ ... }}`",
                            join_ticked(EXTERNAL_KEYS)
                        ),
                    };
                    self.err_help(
                        k.span(),
                        format!("unknown key `{key}` in `[{path}]`"),
                        Some(help),
                    );
                }
            }
        }
        if command.is_none() && !t.iter().any(|(k, _)| k.get_ref().as_ref() == "command") {
            self.err_help(
                key.span(),
                format!("missing key `command` in `[{path}]`"),
                Some("add e.g. `command = [\"python3\", \"bimi.py\"]`"),
            );
        }
        let command = command?;
        if !ok {
            return None;
        }
        checker.external = Some(ExternalConfig {
            command,
            dir: self.dir.clone(),
            timeout,
        });
        Some(checker)
    }

    fn jobs(&mut self, t: &DeTable<'_>, jobs: &mut BTreeMap<Cadence, JobConfig>) {
        for (k, v) in t.iter() {
            let Some(cadence) = self.cadence(k.get_ref(), k.span()) else {
                continue;
            };
            let path = format!("jobs.{cadence}");
            let Some(t) = self.table(v, &path) else {
                continue;
            };
            let job = jobs
                .entry(cadence)
                .or_insert_with(|| JobConfig::default_for(cadence));
            for (k, v) in t.iter() {
                let key = k.get_ref().as_ref();
                let sub = format!("{path}.{key}");
                match key {
                    "cron" => {
                        if let Some(s) = self.str(v, &sub) {
                            if let Some(schedule) = self.cron(s, v, &sub) {
                                job.cron = s.to_string();
                                job.schedule = schedule;
                            }
                        }
                    }
                    "recipients" => {
                        let mut recipients = Vec::new();
                        for (s, span) in self.strings(v, &sub).unwrap_or_default() {
                            match check_mailbox(s) {
                                Ok(()) => recipients.push(s.trim().to_string()),
                                Err(e) => self.err(
                                    span,
                                    format!("invalid mail address `{s}` in `{sub}`: {e}"),
                                ),
                            }
                        }
                        job.recipients = recipients;
                    }
                    "checkers" => {
                        if let Some(list) = self.strings(v, &sub) {
                            let mut ids = Vec::new();
                            for (s, span) in list {
                                if !self.is_checker(s) {
                                    self.unknown_checker(span, s, &format!("in `{sub}`"));
                                } else if !ids.iter().any(|id| id == s) {
                                    ids.push(s.to_string());
                                }
                            }
                            job.checkers = Some(ids);
                        }
                    }
                    "enabled" => {
                        if let Some(b) = self.bool(v, &sub) {
                            job.enabled = b;
                        }
                    }
                    _ => self.unknown_key(k, &format!("in `[{path}]`"), JOB_KEYS),
                }
            }
        }
    }

    fn cron(&mut self, s: &str, v: &Val<'_>, path: &str) -> Option<cron::Schedule> {
        let fields = s.split_whitespace().count();
        if !(6..=7).contains(&fields) {
            self.err_help(
                v.span(),
                format!("invalid cron expression `{s}` for `{path}`: expected 6 or 7 fields, found {fields}"),
                Some("the fields are: second minute hour day-of-month month day-of-week [year], e.g. `0 0 6 1 * *` for 06:00 on the 1st of every month"),
            );
            return None;
        }
        match cron::Schedule::from_str(s) {
            Ok(schedule) => Some(schedule),
            Err(e) => {
                // The cron crate renders `expression\n<spaces>^\nmessage`:
                // point at the caret when the string is written without escapes.
                let rendered = e.to_string();
                let mut lines = rendered.lines();
                let first = lines.next();
                let caret = lines.next().and_then(|l| l.find('^'));
                let message = lines.collect::<Vec<_>>().join(" ");
                let mut span = v.span();
                let raw = &self.text[v.span()];
                if first == Some(s) && raw.len() == s.len() + 2 {
                    if let Some(c) = caret {
                        let offset = s.char_indices().nth(c).map_or(s.len(), |(i, _)| i);
                        span = span.start + 1 + offset..span.end;
                    }
                }
                let message = if message.trim().is_empty() {
                    format!("invalid cron expression `{s}` for `{path}`")
                } else {
                    format!(
                        "invalid cron expression `{s}` for `{path}`: {}",
                        message.trim()
                    )
                };
                self.err(span, message);
                None
            }
        }
    }

    fn smtp(&mut self, table: &Val<'_>, t: &DeTable<'_>) -> Option<SmtpConfig> {
        let mut host: Option<(String, Range<usize>)> = None;
        let mut port = None;
        let mut security: Option<(Security, Range<usize>)> = None;
        let mut username = None;
        let mut password_env: Option<(String, Range<usize>)> = None;
        let mut password_file: Option<(PathBuf, Range<usize>)> = None;
        let mut from = None;
        let mut ca_file = None;
        let mut timeout = Duration::from_secs(30);
        let (mut host_seen, mut from_seen) = (false, false);
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let path = format!("smtp.{key}");
            match key {
                "host" => {
                    host_seen = true;
                    host = self
                        .non_empty_str(v, &path)
                        .map(|s| (s.trim().to_string(), v.span()));
                }
                "port" => port = self.uint(v, &path, 1, 65535).map(|p| p as u16),
                "security" => security = self.security(v, &path),
                "username" => username = self.non_empty_str(v, &path).map(str::to_string),
                "password" => self.literal_password(k, "SMTP"),
                "password_env" => {
                    password_env = self.password_env(v, &path).map(|s| (s, k.span()));
                }
                "password_file" => {
                    password_file = self.file_path(v, &path, Kind::File).map(|p| (p, k.span()));
                }
                "from" => {
                    from_seen = true;
                    if let Some(s) = self.str(v, &path) {
                        match check_mailbox(s) {
                            Ok(()) => from = Some(s.trim().to_string()),
                            Err(e) => self.err(
                                v.span(),
                                format!("invalid mail address `{s}` in `smtp.from`: {e}"),
                            ),
                        }
                    }
                }
                "ca_file" => ca_file = self.file_path(v, &path, Kind::CaFile),
                "timeout" => {
                    if let Some(d) = self.duration(v, &path) {
                        if d.is_zero() {
                            self.err(v.span(), "`smtp.timeout` must be greater than zero");
                        } else {
                            timeout = d;
                        }
                    }
                }
                _ => self.unknown_key(k, "in `[smtp]`", SMTP_KEYS),
            }
        }

        if !host_seen {
            self.missing_key(table, "host", "`[smtp]`", "\"smtp.example.org\"");
        }
        if !from_seen {
            self.missing_key(
                table,
                "from",
                "`[smtp]`",
                "\"authwarden <authwarden@example.org>\"",
            );
        }
        let password = self.password_source(password_env, password_file);
        if password != PasswordSource::None && username.is_none() {
            let span = t
                .iter()
                .find(|(k, _)| k.get_ref().starts_with("password"))
                .map_or(table.span(), |(k, _)| k.span());
            self.err_help(
                span,
                "a password is set in `[smtp]` but no `username`",
                Some("add `username`, or remove the password"),
            );
        }
        self.loopback_only(&security, &host, "mail");
        let security = security.map_or(Security::StartTls, |(s, _)| s);
        Some(SmtpConfig {
            host: host?.0,
            port: port.unwrap_or_else(|| security.default_port()),
            security,
            username,
            password,
            from: from?,
            ca_file,
            timeout,
        })
    }
}

impl Walker<'_> {
    /// Keeps an external checker's program for the file checks, resolved
    /// as the process is started: a relative path with a `/` against the
    /// config file's folder, a bare name in `PATH`.
    fn program(&mut self, program: &str, span: Range<usize>, key: &str) {
        let (path, kind) = if program.contains('/') {
            (resolve_path(&self.dir, Path::new(program)), Kind::Program)
        } else {
            (PathBuf::from(program), Kind::ProgramInPath)
        };
        self.files.push(FileRef {
            key: key.to_string(),
            written: program.to_string(),
            path,
            span,
            kind,
        });
    }

    /// `starttls`, `tls` or `none`, with a did-you-mean for `ssl` and the like.
    fn security(&mut self, v: &Val<'_>, path: &str) -> Option<(Security, Range<usize>)> {
        let s = self.str(v, path)?;
        match Security::from_str(s) {
            Ok(sec) => Some((sec, v.span())),
            Err(e) => {
                let help = alias(SECURITY_ALIASES, s)
                    .or_else(|| suggest(s, Security::NAMES.iter().copied()))
                    .map(did_you_mean);
                self.err_help(v.span(), e, help);
                None
            }
        }
    }

    /// A literal `password` key: always an error.
    fn literal_password(&mut self, k: &Key<'_>, what: &str) {
        self.err_help(
            k.span(),
            format!("the config file must not hold the {what} password"),
            Some("set `password_env` to the name of an environment variable that holds it, or `password_file` to a file that contains it"),
        );
    }

    /// The name of the environment variable holding a password.
    fn password_env(&mut self, v: &Val<'_>, path: &str) -> Option<String> {
        let s = self.non_empty_str(v, path)?;
        if s.contains(['=', '\0']) {
            self.err(
                v.span(),
                format!("`{s}` is not a valid environment variable name"),
            );
            return None;
        }
        Some(s.to_string())
    }

    /// `password_env` or `password_file`, not both.
    fn password_source(
        &mut self,
        env: Option<(String, Range<usize>)>,
        file: Option<(PathBuf, Range<usize>)>,
    ) -> PasswordSource {
        match (env, file) {
            (Some(_), Some((_, second))) => {
                self.err_help(
                    second,
                    "`password_env` and `password_file` cannot both be set",
                    Some("keep one of them"),
                );
                PasswordSource::None
            }
            (Some((var, _)), None) => PasswordSource::Env(var),
            (None, Some((file, _))) => PasswordSource::File(file),
            (None, None) => PasswordSource::None,
        }
    }

    /// `security = "none"` only to a loopback host.
    fn loopback_only(
        &mut self,
        security: &Option<(Security, Range<usize>)>,
        host: &Option<(String, Range<usize>)>,
        what: &str,
    ) {
        if let (Some((sec, sec_span)), Some((host, _))) = (security, host) {
            if *sec == Security::None && !is_loopback(host) {
                self.err_help(
                    sec_span.clone(),
                    format!("`security = \"none\"` is only allowed for a loopback host, and `{host}` is not one"),
                    Some(format!("{what} and any password would cross the network unencrypted; use `starttls` or `tls`")),
                );
            }
        }
    }

    /// A size string: a whole number and a binary unit, `"50MiB"`.
    fn size(&mut self, v: &Val<'_>, path: &str) -> Option<u64> {
        const HELP: &str =
            "write a whole number with a unit (B, KiB, MiB or GiB), e.g. `512KiB` or `50MiB`";
        let DeValue::String(s) = v.get_ref() else {
            self.err_help(
                v.span(),
                format!(
                    "expected a size string like \"50MiB\" for `{path}`, found {}",
                    with_article(v.get_ref().type_str())
                ),
                Some(HELP),
            );
            return None;
        };
        match parse_size(s) {
            Ok(0) => {
                self.err(v.span(), format!("`{path}` must be greater than zero"));
                None
            }
            Ok(n) => Some(n),
            Err(e) => {
                self.err_help(
                    v.span(),
                    format!("invalid size `{s}` for `{path}`: {e}"),
                    Some(HELP),
                );
                None
            }
        }
    }

    /// A folder name: not empty, no control characters.
    fn folder(&mut self, v: &Val<'_>, path: &str) -> Option<(String, Range<usize>)> {
        let s = self.non_empty_str(v, path)?;
        if s.chars().any(char::is_control) {
            self.err(
                v.span(),
                format!("`{path}` must not contain control characters"),
            );
            return None;
        }
        Some((s.to_string(), v.span()))
    }

    /// `[imap]`; the state file is returned apart because its default
    /// depends on `history_dir`.
    fn imap(&mut self, table: &Val<'_>, t: &DeTable<'_>) -> Option<(ImapConfig, Option<PathBuf>)> {
        let mut host: Option<(String, Range<usize>)> = None;
        let mut port = None;
        let mut security: Option<(Security, Range<usize>)> = None;
        let mut username = None;
        let mut password_env: Option<(String, Range<usize>)> = None;
        let mut password_file: Option<(PathBuf, Range<usize>)> = None;
        let mut ca_file = None;
        let mut folder = ("INBOX".to_string(), None);
        let mut archive_folder = ("Archive/DMARC".to_string(), None);
        let mut invalid_folder = ("Invalid/DMARC".to_string(), None);
        let mut timeout = Duration::from_secs(60);
        let mut max_message_size = 50 * 1024 * 1024;
        let mut poll_cron = DEFAULT_IMAP_POLL_CRON.to_string();
        let mut poll_schedule = Some(
            cron::Schedule::from_str(DEFAULT_IMAP_POLL_CRON)
                .expect("the built-in poll cron parses"),
        );
        let mut state_file = None;
        let (mut host_seen, mut username_seen, mut password_seen) = (false, false, false);
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let path = format!("imap.{key}");
            match key {
                "host" => {
                    host_seen = true;
                    host = self
                        .non_empty_str(v, &path)
                        .map(|s| (s.trim().to_string(), v.span()));
                }
                "port" => port = self.uint(v, &path, 1, 65535).map(|p| p as u16),
                "security" => security = self.security(v, &path),
                "username" => {
                    username_seen = true;
                    username = self.non_empty_str(v, &path).map(str::to_string);
                }
                "password" => {
                    password_seen = true;
                    self.literal_password(k, "IMAP");
                }
                "password_env" => {
                    password_seen = true;
                    password_env = self.password_env(v, &path).map(|s| (s, k.span()));
                }
                "password_file" => {
                    password_seen = true;
                    password_file = self.file_path(v, &path, Kind::File).map(|p| (p, k.span()));
                }
                "ca_file" => ca_file = self.file_path(v, &path, Kind::CaFile),
                "folder" => {
                    if let Some((f, span)) = self.folder(v, &path) {
                        folder = (f, Some(span));
                    }
                }
                "archive_folder" => {
                    if let Some((f, span)) = self.folder(v, &path) {
                        archive_folder = (f, Some(span));
                    }
                }
                "invalid_folder" => {
                    if let Some((f, span)) = self.folder(v, &path) {
                        invalid_folder = (f, Some(span));
                    }
                }
                "timeout" => {
                    if let Some(d) = self.duration(v, &path) {
                        if d.is_zero() {
                            self.err(v.span(), "`imap.timeout` must be greater than zero");
                        } else {
                            timeout = d;
                        }
                    }
                }
                "max_message_size" => {
                    if let Some(n) = self.size(v, &path) {
                        max_message_size = n;
                    }
                }
                "poll_cron" => {
                    if let Some(s) = self.str(v, &path) {
                        poll_schedule = self.cron(s, v, &path);
                        poll_cron = s.to_string();
                    }
                }
                "state_file" => state_file = self.file_path(v, &path, Kind::OutputFile),
                _ => self.unknown_key(k, "in `[imap]`", IMAP_KEYS),
            }
        }

        if !host_seen {
            self.missing_key(table, "host", "`[imap]`", "\"imap.example.org\"");
        }
        if !username_seen {
            self.missing_key(table, "username", "`[imap]`", "\"dmarc-reports\"");
        }
        let password = self.password_source(password_env, password_file);
        if !password_seen {
            self.err_help(
                table.span(),
                "missing `password_env` or `password_file` in `[imap]`",
                Some("add e.g. `password_env = \"AUTHWARDEN_IMAP_PASSWORD\"`: the mailbox needs a login"),
            );
        }
        for (name, (value, span)) in [
            ("archive_folder", &archive_folder),
            ("invalid_folder", &invalid_folder),
        ] {
            if value == &folder.0 {
                self.err_help(
                    span.clone().unwrap_or(table.span()),
                    format!("`imap.{name}` is the folder reports are read from (`{value}`)"),
                    Some("processed and invalid messages are moved out of `folder`: give another folder"),
                );
            }
        }
        self.loopback_only(&security, &host, "the login");
        let security = security.map_or(Security::Tls, |(s, _)| s);
        if password == PasswordSource::None {
            return None;
        }
        Some((
            ImapConfig {
                host: host?.0,
                port: port.unwrap_or_else(|| security.default_imap_port()),
                security,
                username: username?,
                password,
                ca_file,
                folder: folder.0,
                archive_folder: archive_folder.0,
                invalid_folder: invalid_folder.0,
                timeout,
                max_message_size,
                poll_cron,
                poll_schedule: poll_schedule?,
                state_file: PathBuf::new(),
            },
            state_file,
        ))
    }

    /// `[verify]`.
    fn verify(&mut self, t: &DeTable<'_>) -> crate::model::VerifyConfig {
        let mut out = crate::model::VerifyConfig::default();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let path = format!("verify.{key}");
            match key {
                "trusted_receivers" => {
                    out.trusted_receivers = self
                        .strings(v, &path)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, _)| s.trim().trim_end_matches('.').to_ascii_lowercase())
                        .collect();
                }
                "test_messages" => {
                    out.test_messages =
                        self.file_paths(v, "verify.test_messages", Kind::FileOrFolder);
                }
                _ => self.unknown_key(k, "in `[verify]`", VERIFY_KEYS),
            }
        }
        out
    }

    /// `[https]`.
    fn https(&mut self, t: &DeTable<'_>) -> crate::model::HttpsConfig {
        let mut out = crate::model::HttpsConfig::default();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let path = format!("https.{key}");
            match key {
                "ca_bundle" => out.ca_bundle = self.file_path(v, &path, Kind::CaFile),
                "timeout" => {
                    if let Some(d) = self.duration(v, &path) {
                        out.timeout = d;
                    }
                }
                "responses_dir" => out.responses_dir = self.file_path(v, &path, Kind::Folder),
                _ => self.unknown_key(k, "in `[https]`", HTTPS_KEYS),
            }
        }
        out
    }

    /// `[profiles]`.
    fn profiles(&mut self, t: &DeTable<'_>) -> crate::model::ProfilesConfig {
        let mut out = crate::model::ProfilesConfig::default();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let path = format!("profiles.{key}");
            match key {
                "enabled" => {
                    let mut ids = Vec::new();
                    for (s, span) in self.strings(v, &path).unwrap_or_default() {
                        if crate::model::PROFILE_IDS.contains(&s) {
                            ids.push(s.to_string());
                        } else {
                            self.err(
                                span,
                                format!(
                                    "unknown profile `{s}` in `{path}`: expected one of {}",
                                    crate::model::PROFILE_IDS.join(", ")
                                ),
                            );
                        }
                    }
                    out.enabled = ids;
                }
                "bulk_senders" | "not_bulk_senders" => {
                    let list: Vec<String> = self
                        .strings(v, &path)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(s, _)| s.trim().trim_end_matches('.').to_ascii_lowercase())
                        .collect();
                    if key == "bulk_senders" {
                        out.bulk_senders = list;
                    } else {
                        out.not_bulk_senders = list;
                    }
                }
                _ => self.unknown_key(k, "in `[profiles]`", PROFILES_KEYS),
            }
        }
        out
    }

    fn ingest(&mut self, t: &DeTable<'_>) -> IngestConfig {
        let mut ingest = IngestConfig::default();
        for (k, v) in t.iter() {
            let key = k.get_ref().as_ref();
            let path = format!("ingest.{key}");
            match key {
                "folders" => {
                    ingest.folders = self.file_paths(v, "ingest.folders", Kind::FileOrFolder);
                }
                "max_decompressed" => {
                    if let Some(n) = self.size(v, &path) {
                        ingest.max_decompressed = n;
                    }
                }
                "max_records" => {
                    if let Some(n) = self.uint(v, &path, 1, 1_000_000_000) {
                        ingest.max_records = n;
                    }
                }
                "max_work" => {
                    if let Some(n) = self.size(v, &path) {
                        ingest.max_work = n;
                    }
                }
                "max_work_time" => {
                    if let Some(d) = self.duration(v, &path) {
                        ingest.max_work_time = d;
                    }
                }
                "reverse_dns" => {
                    if let Some(b) = self.bool(v, &path) {
                        ingest.reverse_dns = b;
                    }
                }
                "authenticate" => {
                    if let Some(b) = self.bool(v, &path) {
                        ingest.authenticate = b;
                    }
                }
                "require_authenticated" => {
                    if let Some(b) = self.bool(v, &path) {
                        ingest.require_authenticated = b;
                    }
                }
                _ => self.unknown_key(k, "in `[ingest]`", INGEST_KEYS),
            }
        }
        if ingest.require_authenticated && !ingest.authenticate {
            if let Some((k, _)) = t
                .iter()
                .find(|(k, _)| k.get_ref().as_ref() == "require_authenticated")
            {
                self.err(
                    k.span(),
                    "`ingest.require_authenticated` needs `authenticate = true`: a report that is not checked cannot be refused for failing the check",
                );
            }
        }
        ingest
    }
}

/// Parses `"50MiB"`, `"512KiB"`, `"1GiB"` or `"1048576B"`: a whole number
/// and a binary unit, case-insensitive, optionally separated by a space.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("the size is empty".into());
    }
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return Err(format!("expected a number at `{s}`"));
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| format!("`{}` is too large", &s[..digits]))?;
    let unit = s[digits..].trim_start();
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "" => return Err(format!("missing unit after `{n}`")),
        "kb" | "mb" | "gb" | "k" | "m" | "g" => {
            return Err(format!(
                "`{unit}` is ambiguous: sizes use binary units (KiB, MiB, GiB)"
            ))
        }
        _ => return Err(format!("unknown unit `{unit}`")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| "the size is too large".to_string())
}

/// Parses `IP`, `IP:PORT`, `[IPv6]` or `[IPv6]:PORT`; the port defaults to 53.
pub fn parse_nameserver(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    let addr = match s.parse::<SocketAddr>() {
        Ok(addr) => addr,
        Err(_) => {
            let ip = s
                .strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .unwrap_or(s);
            SocketAddr::new(ip.parse::<IpAddr>().ok()?, 53)
        }
    };
    (addr.port() != 0).then_some(addr)
}

/// Parses `300ms`, `5s`, `1m`, `2h` and sums like `1m30s`.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err("the duration is empty".into());
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("expected a number at `{rest}`"));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{}` is too large", &rest[..digits]))?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c.is_whitespace())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let secs = |factor: u64| n.checked_mul(factor).map(Duration::from_secs);
        let part = match unit {
            "ms" => Some(Duration::from_millis(n)),
            "s" => secs(1),
            "m" => secs(60),
            "h" => secs(3600),
            "" => return Err(format!("missing unit after `{n}`")),
            other => return Err(format!("unknown unit `{other}`")),
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| "the duration is too large".to_string())?;
        rest = rest[unit_len..].trim_start();
    }
    Ok(total)
}

/// Checks `local@domain` or `Name <local@domain>`.
pub(crate) fn check_mailbox(s: &str) -> Result<(), String> {
    let s = s.trim();
    let addr = match s.rfind('<') {
        Some(i) => s[i + 1..]
            .strip_suffix('>')
            .ok_or("missing `>` after the address")?,
        None => s,
    };
    let (local, domain) = addr.rsplit_once('@').ok_or("the address has no `@`")?;
    if local.is_empty() {
        return Err("the part before `@` is empty".into());
    }
    if local
        .chars()
        .any(|c| c.is_whitespace() || c == '<' || c == '>')
    {
        return Err(format!("`{local}` is not a valid local part"));
    }
    validate_domain(domain)
}

use authwarden_api::names::is_kebab_case as is_kebab;

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("5"), Err("missing unit after `5`".into()));
        assert_eq!(parse_duration("5x"), Err("unknown unit `x`".into()));
        assert_eq!(parse_duration("s"), Err("expected a number at `s`".into()));
        assert_eq!(parse_duration(""), Err("the duration is empty".into()));
        assert!(parse_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("50MiB"), Ok(50 * 1024 * 1024));
        assert_eq!(parse_size("512 KiB"), Ok(512 * 1024));
        assert_eq!(parse_size("1gib"), Ok(1 << 30));
        assert_eq!(parse_size("1048576B"), Ok(1_048_576));
        assert_eq!(parse_size("50"), Err("missing unit after `50`".into()));
        assert!(parse_size("50MB").unwrap_err().contains("binary units"));
        assert_eq!(parse_size("5x"), Err("unknown unit `x`".into()));
        assert_eq!(parse_size("MiB"), Err("expected a number at `MiB`".into()));
        assert!(parse_size("99999999999GiB").is_err());
    }

    #[test]
    fn nameservers() {
        let p = |s| parse_nameserver(s).map(|a| a.to_string());
        assert_eq!(p("127.0.0.1:5353").as_deref(), Some("127.0.0.1:5353"));
        assert_eq!(p("192.0.2.1").as_deref(), Some("192.0.2.1:53"));
        assert_eq!(p("[::1]:53").as_deref(), Some("[::1]:53"));
        assert_eq!(p("[::1]").as_deref(), Some("[::1]:53"));
        assert_eq!(p("::1").as_deref(), Some("[::1]:53"));
        assert_eq!(p("ns1.example.org"), None);
        assert_eq!(p("1.2.3.4:0"), None);
        assert_eq!(p("1.2.3.4:99999"), None);
    }

    #[test]
    fn mailboxes() {
        assert!(check_mailbox("a@example.org").is_ok());
        assert!(check_mailbox("authwarden <a@example.org>").is_ok());
        assert!(check_mailbox("\"Post Master\" <postmaster@example.org>").is_ok());
        assert_eq!(
            check_mailbox("nobody"),
            Err("the address has no `@`".into())
        );
        assert!(check_mailbox("a@exa mple.org").is_err());
        assert!(check_mailbox("x <a@example.org").is_err());
        assert!(check_mailbox("@example.org").is_err());
    }

    #[test]
    fn loopback() {
        assert!(is_loopback("localhost"));
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("127.1.2.3"));
        assert!(is_loopback("::1"));
        assert!(is_loopback("[::1]"));
        assert!(!is_loopback("smtp.example.org"));
        assert!(!is_loopback("192.0.2.1"));
    }

    /// Every key of the schema has a row in CONFIG.md, so the reference
    /// cannot silently fall behind the code.
    #[test]
    fn config_md_documents_every_key() {
        let doc = include_str!("../CONFIG.md");
        for (section, keys) in [
            ("## Top level", ROOT_KEYS),
            ("## `[dns]`", DNS_KEYS),
            ("## `[jobs.<job>]`", JOB_KEYS),
            ("## `[smtp]`", SMTP_KEYS),
            ("## `[templates]`", TEMPLATES_KEYS),
            ("## `[profiles]`", PROFILES_KEYS),
            ("## `[verify]`", VERIFY_KEYS),
            ("## `[https]`", HTTPS_KEYS),
            ("## `[imap]`", IMAP_KEYS),
            ("## `[ingest]`", INGEST_KEYS),
            ("## `[[domains]]`", &["name"]),
            ("## `[checkers.<id>]`", &["enabled", "jobs"]),
            ("## External checkers", EXTERNAL_KEYS),
        ] {
            let start = doc
                .find(section)
                .unwrap_or_else(|| panic!("no section {section}"));
            let body = &doc[start + section.len()..];
            let body = &body[..body.find("\n## ").unwrap_or(body.len())];
            for key in keys {
                assert!(
                    body.contains(&format!("| `{key}` |")),
                    "CONFIG.md section {section} has no row for `{key}`"
                );
            }
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("nameserver", DNS_KEYS.iter().copied()),
            Some("nameservers")
        );
        assert_eq!(
            suggest("dmarc003", ["DMARC003", "DMARC004"]),
            Some("DMARC003")
        );
        assert_eq!(suggest("zzz", DNS_KEYS.iter().copied()), None);
    }
}
