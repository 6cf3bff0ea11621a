//! `cargo xtask new-checker NAME`: scaffolds a checker crate and registers it.
//!
//! Run from the workspace root, it creates `crates/checkers/NAME/` (manifest,
//! `src/lib.rs` with the `Checker` implementation and its codes, a fixture
//! zone and a passing fixture test), then adds the crate to
//! `[workspace.dependencies]` of the root `Cargo.toml`, a Cargo feature and an
//! optional dependency to `crates/registry/Cargo.toml`, and one entry to
//! `builtin()` in `crates/registry/src/lib.rs`.
//!
//! Every new file and edited file is computed first and checked (the TOML
//! files must still parse); nothing is written when a check fails, and an
//! existing crate directory is never overwritten.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};
use clap::Args;

/// Arguments of `new-checker`.
#[derive(Debug, Args)]
pub struct NewCheckerArgs {
    /// The checker id, kebab-case, e.g. `mta-sts`; also the crate directory
    /// `crates/checkers/NAME` and the Cargo feature
    pub name: String,
    /// The letters of its codes, e.g. `MTA` for MTA001 [default: the first
    /// word of NAME, upper-case, at most 4 letters]
    #[arg(long, value_name = "LETTERS")]
    pub code_prefix: Option<String>,
    /// The workspace root
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
}

/// Runs `new-checker`.
pub fn run(args: &NewCheckerArgs) -> anyhow::Result<()> {
    let plan = plan(&args.root, &args.name, args.code_prefix.as_deref())?;
    plan.write()?;
    // Long names make long lines: format the new sources when rustfmt is
    // installed (best effort; the files compile either way).
    let sources: Vec<&PathBuf> = plan
        .create
        .iter()
        .map(|(p, _)| p)
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    let _ = std::process::Command::new("rustfmt")
        .args(["--edition", "2021"])
        .args(sources)
        .status();
    println!("created checker `{}`:", args.name);
    for (path, _) in &plan.create {
        println!("  new     {}", path.display());
    }
    for (path, _) in &plan.edit {
        println!("  edited  {}", path.display());
    }
    println!();
    println!("next: write the checks in {}, then run `cargo test -p authwarden-checker-{}` and `cargo test -p authwarden-registry`", plan.lib_rs.display(), args.name);
    Ok(())
}

/// The files a scaffold creates and the files it rewrites, with their content.
#[derive(Debug)]
pub struct Plan {
    /// New files (must not exist).
    pub create: Vec<(PathBuf, String)>,
    /// Existing files with their new content.
    pub edit: Vec<(PathBuf, String)>,
    lib_rs: PathBuf,
}

impl Plan {
    /// Writes every file; fails before writing anything when a new file exists.
    pub fn write(&self) -> anyhow::Result<()> {
        for (path, _) in &self.create {
            if path.exists() {
                bail!("{} exists; refusing to overwrite it", path.display());
            }
        }
        for (path, text) in self.create.iter().chain(&self.edit) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            std::fs::write(path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}

/// Checks the name and computes every file, without writing.
pub fn plan(root: &Path, name: &str, code_prefix: Option<&str>) -> anyhow::Result<Plan> {
    check_name(name)?;
    let prefix = match code_prefix {
        Some(p) => {
            if p.len() < 2 || p.len() > 6 || !p.chars().all(|c| c.is_ascii_uppercase()) {
                bail!("invalid code prefix `{p}`: use 2 to 6 upper-case letters, e.g. `MTA`");
            }
            p.to_string()
        }
        None => default_prefix(name).ok_or_else(|| {
            anyhow!("cannot derive code letters from `{name}`; give them with --code-prefix, e.g. --code-prefix ABC")
        })?,
    };
    let crate_dir = root.join("crates/checkers").join(name);
    if crate_dir.exists() {
        bail!(
            "{} exists; refusing to overwrite it (pick another name or remove it)",
            crate_dir.display()
        );
    }
    let root_toml = root.join("Cargo.toml");
    let registry_toml = root.join("crates/registry/Cargo.toml");
    let registry_lib = root.join("crates/registry/src/lib.rs");
    let read = |p: &Path| {
        std::fs::read_to_string(p).with_context(|| {
            format!(
                "cannot read {} (run `cargo xtask new-checker` from the workspace root, or give --root)",
                p.display()
            )
        })
    };
    let names = Names::new(name, &prefix);
    let root_text = edit_root_manifest(&read(&root_toml)?, &names)?;
    let registry_text = edit_registry_manifest(&read(&registry_toml)?, &names)?;
    let lib_text = edit_registry_lib(&read(&registry_lib)?, &names)?;
    for (path, text) in [(&root_toml, &root_text), (&registry_toml, &registry_text)] {
        text.parse::<toml::Table>()
            .map_err(|e| anyhow!("editing {} would break it: {e}", path.display()))?;
    }
    let lib_rs = crate_dir.join("src/lib.rs");
    Ok(Plan {
        create: vec![
            (crate_dir.join("Cargo.toml"), names.fill(CARGO_TOML)),
            (lib_rs.clone(), names.fill(LIB_RS)),
            (
                crate_dir.join(format!("tests/fixtures/{name}.zone")),
                names.fill(FIXTURE_ZONE),
            ),
            (
                crate_dir.join("tests/fixtures.rs"),
                names.fill(FIXTURE_TEST),
            ),
        ],
        edit: vec![
            (root_toml, root_text),
            (registry_toml, registry_text),
            (registry_lib, lib_text),
        ],
        lib_rs,
    })
}

/// Kebab-case: lower-case ASCII letters and digits in hyphen-separated words,
/// starting with a letter.
fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!("invalid checker name `{name}`: use kebab-case (lower-case letters, digits and single hyphens, starting with a letter, at most 40 characters), e.g. `mta-sts`");
    }
    Ok(())
}

fn default_prefix(name: &str) -> Option<String> {
    let first: String = name
        .split('-')
        .next()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_lowercase)
        .collect();
    let letters = if first.len() >= 2 {
        first
    } else {
        name.chars().filter(char::is_ascii_lowercase).collect()
    };
    let prefix: String = letters.to_ascii_uppercase().chars().take(4).collect();
    (prefix.len() >= 2).then_some(prefix)
}

/// The spellings of a checker's name in the generated files.
struct Names {
    /// `mta-sts`
    id: String,
    /// `mta_sts`
    snake: String,
    /// `MtaSts`
    pascal: String,
    /// `MTA_STS`
    upper: String,
    /// `MTA`
    prefix: String,
}

impl Names {
    fn new(id: &str, prefix: &str) -> Self {
        let pascal = id
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
                    None => String::new(),
                }
            })
            .collect();
        Names {
            id: id.to_string(),
            snake: id.replace('-', "_"),
            pascal,
            upper: id.replace('-', "_").to_ascii_uppercase(),
            prefix: prefix.to_string(),
        }
    }

    fn fill(&self, template: &str) -> String {
        template
            .replace("{{id}}", &self.id)
            .replace("{{snake}}", &self.snake)
            .replace("{{Pascal}}", &self.pascal)
            .replace("{{UPPER}}", &self.upper)
            .replace("{{PREFIX}}", &self.prefix)
    }

    fn crate_name(&self) -> String {
        format!("authwarden-checker-{}", self.id)
    }
}

/// The section `[name]` of a TOML text as a byte range of its body
/// (from after the header line to the next header or the end).
fn section(text: &str, header: &str) -> Option<std::ops::Range<usize>> {
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if start.is_none() {
            if trimmed == header {
                start = Some(offset + line.len());
            }
        } else if trimmed.starts_with('[') {
            return start.map(|s| s..offset);
        }
        offset += line.len();
    }
    start.map(|s| s..text.len())
}

/// Inserts `line` after the last line of the section that starts with
/// `after_prefix` (else after the section's last non-blank line).
fn insert_in_section(
    text: &str,
    header: &str,
    after_prefix: &str,
    line: &str,
) -> anyhow::Result<String> {
    let range = section(text, header).ok_or_else(|| anyhow!("no `{header}` section"))?;
    let body = &text[range.clone()];
    let mut at = None;
    let mut last_content = 0;
    let mut offset = range.start;
    for l in body.split_inclusive('\n') {
        offset += l.len();
        if !after_prefix.is_empty() && l.trim_start().starts_with(after_prefix) {
            at = Some(offset);
        }
        if !l.trim().is_empty() {
            last_content = offset;
        }
    }
    let at = at.unwrap_or(if last_content == 0 {
        range.start
    } else {
        last_content
    });
    let mut out = String::with_capacity(text.len() + line.len() + 1);
    out.push_str(&text[..at]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out.push_str(&text[at..]);
    Ok(out)
}

fn edit_root_manifest(text: &str, names: &Names) -> anyhow::Result<String> {
    let krate = names.crate_name();
    if text.contains(&format!("\n{krate} =")) {
        bail!("the root Cargo.toml already has a dependency `{krate}`");
    }
    let mut text = insert_in_section(
        text,
        "[workspace.dependencies]",
        "authwarden-checker-",
        &format!("{krate} = {{ path = \"crates/checkers/{}\" }}", names.id),
    )?;
    // A workspace whose members do not include crates/checkers/* by glob
    // gets the crate as a member of its own.
    if !text.contains("\"crates/checkers/*\"") {
        let members = text
            .find("members = [")
            .ok_or_else(|| anyhow!("the root Cargo.toml has no `members = [` list"))?;
        let at = members + "members = [".len();
        text.insert_str(at, &format!("\n    \"crates/checkers/{}\",", names.id));
    }
    Ok(text)
}

fn edit_registry_manifest(text: &str, names: &Names) -> anyhow::Result<String> {
    let krate = names.crate_name();
    let id = &names.id;
    if section(text, "[features]").is_some_and(|r| {
        text[r]
            .lines()
            .any(|l| l.trim_start().starts_with(&format!("{id} =")))
    }) {
        bail!("crates/registry/Cargo.toml already has a feature `{id}`");
    }
    let text = insert_in_section(text, "[features]", "", &format!("{id} = [\"dep:{krate}\"]"))?;
    let mut text = insert_in_section(
        &text,
        "[dependencies]",
        "authwarden-checker-",
        &format!("{krate} = {{ workspace = true, optional = true }}"),
    )?;
    // Built-in checkers are on by default.
    let features = section(&text, "[features]").expect("inserted above");
    if let Some(rel) = text[features.clone()].find("default = [") {
        let open = features.start + rel + "default = [".len();
        let close = open
            + text[open..]
                .find(']')
                .ok_or_else(|| anyhow!("unterminated `default = [` in [features]"))?;
        let empty = text[open..close].trim().is_empty();
        let before = text[open..close].trim_end().len();
        let entry = if empty {
            format!("\"{id}\"")
        } else {
            format!(", \"{id}\"")
        };
        text.insert_str(open + before, &entry);
    }
    Ok(text)
}

fn edit_registry_lib(text: &str, names: &Names) -> anyhow::Result<String> {
    let start = text
        .find("pub fn builtin()")
        .ok_or_else(|| anyhow!("no `pub fn builtin()` in crates/registry/src/lib.rs"))?;
    let close = start
        + text[start..]
            .find("\n    ]")
            .ok_or_else(|| anyhow!("cannot find the end of the list in `builtin()`"))?;
    let entry = format!(
        "\n        #[cfg(feature = \"{}\")]\n        Arc::new(authwarden_checker_{}::{}),",
        names.id, names.snake, names.pascal
    );
    let mut out = text.to_string();
    out.insert_str(close, &entry);
    Ok(out)
}

const CARGO_TOML: &str = r#"[package]
name = "authwarden-checker-{{id}}"
description = "The {{id}} checker of authwarden."
version.workspace = true
edition.workspace = true
license.workspace = true

[dependencies]
authwarden-api.workspace = true

[dev-dependencies]
authwarden-zone.workspace = true
tokio.workspace = true

[lints]
workspace = true
"#;

const LIB_RS: &str = r#"//! The `{{id}}` checker of authwarden.
//!
//! Replace this with what the checker checks. It starts out as an example
//! that looks up the domain's TXT records and reports a domain without any.
#![deny(missing_docs)]

use authwarden_api::serde_json::json;
use authwarden_api::{
    async_trait, declare_codes, Cadence, CheckContext, CheckOutput, Checker, CheckerInfo,
    DnsOutcome, DomainTarget, Finding, RecordType, Severity,
};

/// The checker id, also its config section `[checkers.{{id}}]`.
pub const CHECKER_ID: &str = "{{id}}";

declare_codes! {
    /// The domain publishes no TXT record.
    ///
    /// ## What it checks
    /// Looks up TXT at the domain itself.
    ///
    /// ## Why it matters
    /// Say what goes wrong for the domain's mail when this finding fires.
    ///
    /// ## How to fix
    /// Say exactly what to publish or change.
    pub {{UPPER}}_TXT_MISSING = ("{{PREFIX}}001", "{{id}}-txt-missing", Severity::Warning);

    /// A DNS lookup failed, so the domain was not fully checked.
    ///
    /// ## What it checks
    /// Reported when a lookup of this checker fails (SERVFAIL, timeout,
    /// refused) instead of answering.
    ///
    /// ## Why it matters
    /// The result is unknown: a problem may be hidden.
    ///
    /// ## How to fix
    /// Check that the domain's name servers answer, then run
    /// `authwarden check <domain>` again.
    pub {{UPPER}}_CHECK_INCOMPLETE = ("{{PREFIX}}002", "{{id}}-check-incomplete", Severity::Warning);
}

static INFO: CheckerInfo = CheckerInfo {
    id: CHECKER_ID,
    summary: "checks that the domain publishes a txt record",
    cadences: &[Cadence::Monthly],
    codes: CODES,
    facts_key: "{{snake}}",
};

/// The `{{id}}` checker. Its facts (key `{{snake}}`) are `{"txt": [...]}`.
#[derive(Debug, Default, Clone, Copy)]
pub struct {{Pascal}};

#[async_trait]
impl Checker for {{Pascal}} {
    fn info(&self) -> &CheckerInfo {
        &INFO
    }

    async fn check(&self, ctx: &CheckContext, target: &DomainTarget) -> CheckOutput {
        let domain = &target.name;
        let answer = ctx.resolver.query(domain, RecordType::TXT).await;
        let mut out = CheckOutput::default();
        match &answer.outcome {
            DnsOutcome::Failed(failure) => {
                out.findings.push(
                    Finding::new(
                        CHECKER_ID,
                        &{{UPPER}}_CHECK_INCOMPLETE,
                        domain,
                        format!("the txt lookup of {domain} failed: {failure}"),
                    )
                    .help(format!(
                        "run `authwarden check {domain}` again once its name servers answer"
                    ))
                    .evidence("error", failure.to_string()),
                );
            }
            _ if answer.txt().is_empty() => {
                out.findings.push(
                    Finding::new(
                        CHECKER_ID,
                        &{{UPPER}}_TXT_MISSING,
                        domain,
                        "the domain publishes no txt record",
                    )
                    .help(format!("publish a txt record at {domain}")),
                );
            }
            _ => {}
        }
        out.facts = Some(json!({ "txt": answer.txt() }));
        out
    }
}
"#;

const FIXTURE_ZONE: &str = r#"; The fixture DNS of the {{id}} checker's tests (RFC 1035 master format).
$ORIGIN example.org.
@        TXT  "v=spf1 -all"
"#;

const FIXTURE_TEST: &str = r#"//! Runs the checker against `tests/fixtures/{{id}}.zone`.

use std::path::Path;
use std::sync::Arc;

use authwarden_api::{CheckContext, Checker, DnsFailure, DomainTarget, RecordType, SystemClock};
use authwarden_checker_{{snake}}::{{{Pascal}}, CODES};
use authwarden_zone::ZoneResolver;

fn resolver() -> ZoneResolver {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/{{id}}.zone");
    let text = std::fs::read_to_string(&path).unwrap();
    ZoneResolver::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn codes(resolver: ZoneResolver, domain: &str) -> Vec<String> {
    let ctx = CheckContext::new(Arc::new(resolver), Arc::new(SystemClock));
    let out = {{Pascal}}.check(&ctx, &DomainTarget::new(domain)).await;
    out.findings.into_iter().map(|f| f.code).collect()
}

#[tokio::test]
async fn a_domain_with_txt_has_no_findings() {
    assert!(codes(resolver(), "example.org").await.is_empty());
}

#[tokio::test]
async fn a_domain_without_txt_is_reported() {
    assert_eq!(
        codes(resolver(), "nothing.example.org").await,
        [CODES[0].code]
    );
}

#[tokio::test]
async fn a_failed_lookup_is_a_finding() {
    let failing = resolver().fail("example.org", Some(RecordType::TXT), DnsFailure::ServFail);
    assert_eq!(codes(failing, "example.org").await, [CODES[1].code]);
}
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// A workspace skeleton holding copies of the real files the scaffold edits.
    fn skeleton() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for rel in [
            "Cargo.toml",
            "crates/registry/Cargo.toml",
            "crates/registry/src/lib.rs",
        ] {
            let to = dir.path().join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(repo.join(rel), to).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("crates/checkers/spf")).unwrap();
        dir
    }

    fn read(root: &Path, rel: &str) -> String {
        std::fs::read_to_string(root.join(rel)).unwrap()
    }

    #[test]
    fn scaffolds_a_crate_and_registers_it() {
        let dir = skeleton();
        let root = dir.path();
        plan(root, "mx-hosts", None).unwrap().write().unwrap();

        let krate = root.join("crates/checkers/mx-hosts");
        for rel in [
            "Cargo.toml",
            "src/lib.rs",
            "tests/fixtures/mx-hosts.zone",
            "tests/fixtures.rs",
        ] {
            assert!(krate.join(rel).is_file(), "{rel} was not created");
        }
        let manifest: toml::Table = read(&krate, "Cargo.toml").parse().unwrap();
        assert_eq!(
            manifest["package"]["name"].as_str(),
            Some("authwarden-checker-mx-hosts")
        );
        let lib = read(&krate, "src/lib.rs");
        assert!(lib.contains("pub struct MxHosts;"));
        assert!(lib.contains("(\"MX001\", \"mx-hosts-txt-missing\", Severity::Warning)"));
        for section in ["## What it checks", "## Why it matters", "## How to fix"] {
            assert!(lib.contains(section));
        }
        assert!(read(&krate, "tests/fixtures.rs")
            .contains("use authwarden_checker_mx_hosts::{MxHosts, CODES};"));

        let root_manifest: toml::Table = read(root, "Cargo.toml").parse().unwrap();
        assert_eq!(
            root_manifest["workspace"]["dependencies"]["authwarden-checker-mx-hosts"]["path"]
                .as_str(),
            Some("crates/checkers/mx-hosts")
        );
        let registry: toml::Table = read(root, "crates/registry/Cargo.toml").parse().unwrap();
        let features = registry["features"].as_table().unwrap();
        assert_eq!(
            features["mx-hosts"].as_array().unwrap()[0].as_str(),
            Some("dep:authwarden-checker-mx-hosts")
        );
        assert!(features["default"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str() == Some("mx-hosts")));
        let dep = &registry["dependencies"]["authwarden-checker-mx-hosts"];
        assert_eq!(dep["optional"].as_bool(), Some(true));
        assert_eq!(dep["workspace"].as_bool(), Some(true));
        let lib = read(root, "crates/registry/src/lib.rs");
        let builtin = &lib[lib.find("pub fn builtin()").unwrap()..];
        let builtin = &builtin[..builtin.find("\n}").unwrap()];
        assert!(builtin.contains(
            "#[cfg(feature = \"mx-hosts\")]\n        Arc::new(authwarden_checker_mx_hosts::MxHosts),\n    ]"
        ));
    }

    #[test]
    fn refuses_to_overwrite_and_rejects_bad_names() {
        let dir = skeleton();
        let root = dir.path();
        plan(root, "mx-hosts", Some("MXH"))
            .unwrap()
            .write()
            .unwrap();
        let before = read(root, "crates/registry/src/lib.rs");
        let err = plan(root, "mx-hosts", None).unwrap_err().to_string();
        assert!(err.contains("refusing to overwrite"), "{err}");
        assert_eq!(read(root, "crates/registry/src/lib.rs"), before);
        // An existing checker directory (spf in the skeleton).
        assert!(plan(root, "spf", None).is_err());
        for bad in ["Mx", "mx_hosts", "-mx", "mx-", "mx--hosts", "1mx", ""] {
            assert!(plan(root, bad, None).is_err(), "{bad:?} was accepted");
        }
        assert!(plan(root, "abc", Some("abc")).is_err());
        assert!(!root.join("crates/checkers/abc").exists());
    }

    #[test]
    fn the_registry_check_refuses_a_registered_id() {
        // The real workspace: `spf` is a registered checker there.
        let args = NewCheckerArgs {
            name: "spf".into(),
            code_prefix: None,
            root: Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        };
        let err = run(&args).unwrap_err().to_string();
        assert!(err.contains("spf"), "{err}");
    }

    #[test]
    fn prefixes() {
        assert_eq!(default_prefix("mta-sts").as_deref(), Some("MTA"));
        assert_eq!(default_prefix("parked-domain").as_deref(), Some("PARK"));
        assert_eq!(default_prefix("x-ray").as_deref(), Some("XRAY"));
        assert_eq!(default_prefix("x").as_deref(), None);
    }
}
