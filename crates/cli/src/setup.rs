//! From the command line and config file to a loaded config (with
//! command-line overrides) and the registry with the config's external
//! checkers; `config validate`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _};
use authwarden_api::Checker as _;
use authwarden_config::{Config, KnownChecker};
use authwarden_registry::Registry;

use crate::{GlobalArgs, EXIT_OK, EXIT_USAGE};

/// The default config path, relative to the current directory.
pub const DEFAULT_CONFIG: &str = "config/authwarden.toml";

pub use authwarden_pipeline::setup::{known, resolver};

/// Adds the config file's external checkers (`type = "external"`) to the
/// registry. Each program is started once to describe itself, all at once;
/// one that fails to (or declares a code another checker has) is still
/// added, reporting EXT001 for every domain, and the returned problems say
/// why. Without a config file the registry is returned as it is.
pub async fn with_external(
    global: &GlobalArgs,
    registry: Registry,
) -> anyhow::Result<(Registry, Vec<String>)> {
    let path = match &global.config {
        Some(p) => p.clone(),
        None => PathBuf::from(DEFAULT_CONFIG),
    };
    // A missing or unreadable file is reported by load_config.
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok((registry, Vec::new()));
    };
    let specs = authwarden_config::external_checkers(&text, &path, &known(&registry));
    let mut described = Vec::new();
    for (id, external) in specs {
        if registry.checker(&id).is_some() {
            bail!(
                "{}: the external checker `{id}` has the id of a built-in checker; give it another id",
                path.display()
            );
        }
        let spec = authwarden_external::ExternalSpec {
            id,
            command: external.command,
            dir: external.dir,
            timeout: external.timeout,
        };
        described.push(tokio::spawn(
            authwarden_external::ExternalChecker::describe(spec),
        ));
    }
    let mut taken: std::collections::BTreeMap<String, String> = known(&registry)
        .codes
        .into_iter()
        .map(|(code, _)| (code, "the host".to_string()))
        .collect();
    for (info, c) in registry.codes() {
        taken.insert(c.code.to_string(), format!("`{}`", info.id));
    }
    let mut registry = registry;
    let mut problems = Vec::new();
    for task in described {
        let mut checker = task.await.context("describing an external checker")?;
        let clash = checker
            .info()
            .codes
            .iter()
            .find_map(|c| taken.get(c.code).map(|by| (c.code, by.clone())));
        if let Some((code, by)) = clash {
            let why = format!("it declares {code}, which {by} declares already");
            checker = authwarden_external::ExternalChecker::failed(checker.spec().clone(), why);
        }
        for c in checker.info().codes {
            taken.insert(c.code.to_string(), format!("`{}`", checker.info().id));
        }
        if let Some(why) = checker.describe_error() {
            problems.push(format!(
                "external checker `{}` ({}): {why}",
                checker.info().id,
                checker.spec().command.join(" ")
            ));
        }
        registry = registry.with(Arc::new(checker));
    }
    Ok((registry, problems))
}

/// What a command asks of [`load_config_with`] beyond [`load_config`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Loading<'a> {
    /// Checker ids whose tables (`[checkers.<id>]`, `[domains.<id>]`) the
    /// file may hold even when no checker of this build has that id: the
    /// command reads them itself (`spf build` reads `[domains.inventory]`
    /// when the inventory-drift checker is not registered).
    pub extra_checkers: &'a [&'a str],
    /// The file must exist, the default path too (no built-in defaults);
    /// the text says why, after "config file PATH does not exist: ".
    pub required_because: Option<&'a str>,
}

/// Loads the config: `--config` (must exist), else `config/authwarden.toml`
/// when it exists, else the built-in defaults. Command-line DNS options
/// override the file. Config errors are printed, all at once.
pub fn load_config(global: &GlobalArgs, registry: &Registry) -> anyhow::Result<Config> {
    load_config_with(global, registry, &Loading::default())
}

/// [`load_config`], with the extra checker ids and the "file must exist"
/// rule of `loading`.
pub fn load_config_with(
    global: &GlobalArgs,
    registry: &Registry,
    loading: &Loading<'_>,
) -> anyhow::Result<Config> {
    let mut known = known(registry);
    for &id in loading.extra_checkers {
        if !known.checkers.iter().any(|c| c.id == id) {
            known.checkers.push(KnownChecker {
                id: id.into(),
                cadences: Vec::new(),
            });
        }
    }
    let path = match &global.config {
        Some(p) => Some(p.clone()),
        None if loading.required_because.is_some() => Some(PathBuf::from(DEFAULT_CONFIG)),
        None => Some(PathBuf::from(DEFAULT_CONFIG)).filter(|p| p.exists()),
    };
    let mut config = match &path {
        Some(path) => {
            if !path.exists() {
                match loading.required_because {
                    Some(why) => bail!("config file {} does not exist: {why}", path.display()),
                    None => bail!("config file {} does not exist", path.display()),
                }
            }
            match authwarden_config::load(path, &known) {
                Ok(c) => c,
                Err(errors) => {
                    eprint!("{errors}");
                    if !errors.to_string().ends_with('\n') {
                        eprintln!();
                    }
                    bail!(
                        "{} has {} problem{}",
                        path.display(),
                        errors.0.len(),
                        if errors.0.len() == 1 { "" } else { "s" }
                    );
                }
            }
        }
        None => authwarden_config::defaults(Path::new("config")),
    };
    if !global.nameservers.is_empty() {
        config.dns.nameservers = global
            .nameservers
            .iter()
            .map(|s| parse_nameserver(s))
            .collect::<Result<_, _>>()?;
    }
    config
        .dns
        .zone_files
        .extend(global.zone_files.iter().cloned());
    Ok(config)
}

/// Parses `IP`, `IP:PORT` or `[IPv6]:PORT` (the config's own rule).
pub fn parse_nameserver(s: &str) -> anyhow::Result<SocketAddr> {
    authwarden_config::parse_nameserver(s).ok_or_else(|| {
        anyhow!("invalid nameserver `{s}`: expected IP or IP:PORT, e.g. 127.0.0.1:5353 or [::1]:53")
    })
}

/// `authwarden config validate`; `external_problems` are the external
/// checkers that failed to describe themselves.
pub fn validate(
    global: &GlobalArgs,
    registry: &Registry,
    external_problems: &[String],
) -> anyhow::Result<u8> {
    let path = global
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    if !path.exists() {
        eprintln!("error: config file {} does not exist", path.display());
        return Ok(EXIT_USAGE);
    }
    let global = GlobalArgs {
        config: Some(path.clone()),
        ..global.clone()
    };
    match load_config(&global, registry) {
        Ok(_) if !external_problems.is_empty() => {
            for p in external_problems {
                eprintln!("error: {p}");
            }
            Ok(EXIT_USAGE)
        }
        Ok(config) => {
            // Zone files are part of the config: load them now so that a
            // syntax error shows up here rather than in the monthly run.
            resolver(&config)?;
            // Templates too: a broken template is found now, with its file
            // and line, rather than at the next scheduled run.
            let checked = match &config.templates_dir {
                Some(dir) => authwarden_report::Renderer::validate_dir(dir).map_err(|e| (dir, e)),
                None => Ok(()),
            };
            if let Err((dir, errors)) = checked {
                for e in &errors {
                    eprintln!("{e}");
                }
                eprintln!(
                    "error: the templates in {} have {} problem{}",
                    dir.display(),
                    errors.len(),
                    if errors.len() == 1 { "" } else { "s" }
                );
                return Ok(EXIT_USAGE);
            }
            println!(
                "{}: ok ({} domain{}, {} checker{} enabled)",
                path.display(),
                config.domains.len(),
                if config.domains.len() == 1 { "" } else { "s" },
                registry
                    .checkers()
                    .iter()
                    .filter(|c| config.checker_enabled(c.info().id))
                    .count(),
                if registry.checkers().len() == 1 {
                    ""
                } else {
                    "s"
                },
            );
            Ok(EXIT_OK)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(EXIT_USAGE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

    fn global(config: PathBuf) -> GlobalArgs {
        GlobalArgs {
            config: Some(config),
            nameservers: Vec::new(),
            zone_files: Vec::new(),
            format: Format::Text,
            verbose: 0,
        }
    }

    #[test]
    fn extra_checkers_admit_their_tables() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authwarden.toml");
        std::fs::write(
            &path,
            "[[domains]]\nname = \"example.org\"\n\n[checkers.inventory-drift]\nstale_days = 60\n",
        )
        .unwrap();
        let registry = Registry::empty();
        let err = load_config(&global(path.clone()), &registry).unwrap_err();
        assert!(err.to_string().ends_with("has 1 problem"), "{err:#}");
        let loading = Loading {
            extra_checkers: &["inventory", "inventory-drift"],
            required_because: None,
        };
        let config = load_config_with(&global(path), &registry, &loading).unwrap();
        assert_eq!(config.domains.len(), 1);
    }

    #[test]
    fn a_required_file_that_is_missing_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.toml");
        let loading = Loading {
            extra_checkers: &[],
            required_because: Some("the command reads it"),
        };
        let err = load_config_with(&global(path.clone()), &Registry::empty(), &loading)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!(
                "config file {} does not exist: the command reads it",
                path.display()
            )
        );
        let err = load_config(&global(path.clone()), &Registry::empty())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("config file {} does not exist", path.display())
        );
    }
}
