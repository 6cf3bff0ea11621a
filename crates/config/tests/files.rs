//! The files and folders a config names are checked by `load`: each
//! problem at the file, line and column of the key's value, in the same
//! list as every other config error.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use authwarden_config::{load, ConfigError, ConfigErrors};

const ZONE: &str = "$ORIGIN example.org.\n@ 3600 IN TXT \"v=spf1 -all\"\n";
const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// A project folder with the config in `config/`, as the loader expects.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("config")).unwrap();
        Project { dir }
    }

    /// A path relative to the config folder.
    fn at(&self, rel: &str) -> PathBuf {
        self.dir.path().join("config").join(rel)
    }

    fn file(&self, rel: &str, text: &str) -> &Self {
        let path = self.at(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        self
    }

    fn folder(&self, rel: &str) -> &Self {
        fs::create_dir_all(self.at(rel)).unwrap();
        self
    }

    fn config_path(&self) -> PathBuf {
        self.at("authwarden.toml")
    }

    fn load(&self, text: &str) -> Result<authwarden_config::Config, ConfigErrors> {
        fs::write(self.config_path(), text).unwrap();
        load(&self.config_path(), &common::known())
    }

    fn errors(&self, text: &str) -> Vec<ConfigError> {
        match self.load(text) {
            Ok(_) => panic!("expected errors for:\n{text}"),
            Err(e) => e.0,
        }
    }
}

/// The 1-based line and column of the first `"value"` in `text`.
fn pos(text: &str, value: &str) -> (usize, usize) {
    let quoted = format!("\"{value}\"");
    let offset = text
        .find(&quoted)
        .unwrap_or_else(|| panic!("{quoted} not in the config"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

const EVERYTHING: &str = r#"reports_dir = "../reports"
history_dir = "../history"

[dns]
zone_files = ["example.zone", "more/other.zone"]

[[domains]]
name = "example.org"

[checkers.local-check]
type = "external"
command = ["./checkers/local.sh", "--flag"]

[checkers.path-check]
type = "external"
command = ["sh", "-c", "true"]

[smtp]
host = "smtp.example.org"
username = "authwarden"
password_file = "secrets/smtp-password"
from = "authwarden <authwarden@example.org>"
ca_file = "ca/smtp.pem"

[templates]
dir = "../templates"

[imap]
host = "imap.example.org"
username = "reports"
password_file = "secrets/imap-password"
ca_file = "ca/imap.pem"
state_file = "../state/imap.json"

[ingest]
folders = ["../inbox", "../reports.mbox"]
"#;

/// Every file and folder `EVERYTHING` names as an input, present.
fn everything_present() -> Project {
    let p = Project::new();
    p.file("example.zone", ZONE)
        .file(
            "more/other.zone",
            "$ORIGIN example.net.\n@ 3600 IN A 192.0.2.1\n",
        )
        .file("checkers/local.sh", "#!/bin/sh\n")
        .file("secrets/smtp-password", "s3cret\n")
        .file("secrets/imap-password", "s3cret\n")
        .file("ca/smtp.pem", PEM)
        .file("ca/imap.pem", PEM)
        .folder("../templates")
        .folder("../inbox")
        .file("../reports.mbox", "");
    #[cfg(unix)]
    make_executable(&p.at("checkers/local.sh"));
    p
}

#[test]
fn a_config_with_every_file_present_validates_clean() {
    let p = everything_present();
    // The outputs (reports, history, IMAP state) do not exist yet: normal.
    assert!(!p.at("../reports").exists() && !p.at("../state").exists());
    let config = match p.load(EVERYTHING) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    };
    assert_eq!(config.dns.zone_files[1], p.at("more/other.zone"));
}

#[test]
fn each_missing_input_is_reported_at_its_value() {
    let p = Project::new();
    let errors = p.errors(EVERYTHING);
    let expect = [
        ("example.zone", "`dns.zone_files`: "),
        ("more/other.zone", "`dns.zone_files`: "),
        ("./checkers/local.sh", "`checkers.local-check.command`: "),
        ("secrets/smtp-password", "`smtp.password_file`: "),
        ("ca/smtp.pem", "`smtp.ca_file`: "),
        ("../templates", "`templates.dir`: "),
        ("secrets/imap-password", "`imap.password_file`: "),
        ("ca/imap.pem", "`imap.ca_file`: "),
        ("../inbox", "`ingest.folders`: "),
        ("../reports.mbox", "`ingest.folders`: "),
    ];
    let shown = ConfigErrors(errors.clone()).to_string();
    assert_eq!(errors.len(), expect.len(), "{shown}");
    for (error, (value, key)) in errors.iter().zip(expect) {
        assert_eq!(error.file, p.config_path());
        assert_eq!(
            (error.line, error.column),
            pos(EVERYTHING, value),
            "{shown}"
        );
        assert!(error.message.starts_with(key), "{shown}");
        assert!(error.message.ends_with("does not exist"), "{shown}");
        let name = Path::new(value).file_name().unwrap().to_str().unwrap();
        assert!(error.message.contains(name), "{shown}");
    }
    // A relative path names its folder in the message and says why.
    assert!(
        errors[3]
            .message
            .contains(&format!("config{}secrets", std::path::MAIN_SEPARATOR)),
        "{shown}"
    );
    assert!(errors[3]
        .help
        .as_deref()
        .is_some_and(|h| h.contains("relative to the config file's folder")));
}

#[test]
fn the_display_names_file_line_and_column() {
    let p = everything_present();
    fs::remove_file(p.at("secrets/smtp-password")).unwrap();
    let err = p.load(EVERYTHING).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    let (line, column) = pos(EVERYTHING, "secrets/smtp-password");
    assert_eq!(
        err.0[0].to_string().lines().next().unwrap(),
        format!(
            "{}:{line}:{column}: error: `smtp.password_file`: `{}` does not exist",
            p.config_path().display(),
            p.at("secrets/smtp-password").display()
        )
    );
}

#[test]
fn parse_alone_does_not_look_at_the_file_system() {
    let p = Project::new();
    let config = authwarden_config::parse(EVERYTHING, &p.config_path(), &common::known());
    assert!(config.is_ok(), "{:?}", config.err());
}

#[test]
fn a_broken_zone_file_is_one_error_with_both_positions() {
    let p = everything_present();
    p.file(
        "example.zone",
        "$ORIGIN example.org.\n@ TXT \"ok\"\n\n@ WKS x\n",
    );
    let err = p.load(EVERYTHING).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    let e = &err.0[0];
    assert_eq!((e.line, e.column), pos(EVERYTHING, "example.zone"));
    assert!(
        e.message
            .starts_with("zone file example.zone: line 4: unsupported record type 'WKS'"),
        "{err}"
    );
    assert_eq!(
        e.help.as_deref(),
        Some(format!("at {}:4:3", p.at("example.zone").display()).as_str())
    );
    // said once: no repeated source messages
    assert_eq!(err.to_string().matches("WKS").count(), 1, "{err}");
}

#[test]
fn a_zone_file_missing_its_origin_is_reported_at_the_config_value() {
    let p = everything_present();
    p.file("more/other.zone", "www 3600 IN A 192.0.2.1\n");
    let err = p.load(EVERYTHING).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert_eq!(
        (err.0[0].line, err.0[0].column),
        pos(EVERYTHING, "more/other.zone")
    );
    assert!(
        err.0[0]
            .message
            .starts_with("zone file more/other.zone: line 1: relative name 'www' but no $ORIGIN"),
        "{err}"
    );
}

#[test]
fn zone_files_that_conflict_when_merged_are_reported_at_the_second() {
    let p = everything_present();
    p.file(
        "more/other.zone",
        "$ORIGIN example.org.\nwww 3600 IN CNAME example.org.\n",
    );
    p.file(
        "example.zone",
        "$ORIGIN example.org.\nwww 3600 IN A 192.0.2.1\n",
    );
    let err = p.load(EVERYTHING).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    let e = &err.0[0];
    assert_eq!((e.line, e.column), pos(EVERYTHING, "more/other.zone"));
    assert!(
        e.message.starts_with(
            "zone file more/other.zone: line 2: CNAME beside other data (A at example.zone:2:1)"
        ),
        "{err}"
    );
}

#[test]
fn a_zone_file_that_is_missing_is_said_once() {
    let p = everything_present();
    fs::remove_file(p.at("example.zone")).unwrap();
    let err = p.load(EVERYTHING).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert_eq!(err.to_string().matches("example.zone").count(), 1, "{err}");
    assert_eq!(
        err.to_string().matches("does not exist").count(),
        1,
        "{err}"
    );
}

#[test]
fn inputs_of_the_wrong_kind() {
    let p = everything_present();
    fs::remove_file(p.at("secrets/smtp-password")).unwrap();
    p.folder("secrets/smtp-password");
    p.file("ca/imap.pem", "-----BEGIN PRIVATE KEY-----\nMII\n");
    fs::remove_dir(p.at("../templates")).unwrap();
    p.file("../templates", "not a folder");
    let err = p.load(EVERYTHING).unwrap_err();
    let messages: Vec<(usize, &str)> = err.0.iter().map(|e| (e.line, e.message.as_str())).collect();
    assert_eq!(err.len(), 3, "{err}");
    assert_eq!(messages[0].0, pos(EVERYTHING, "secrets/smtp-password").0);
    assert!(messages[0].1.ends_with("is a folder, not a file"), "{err}");
    assert_eq!(messages[1].0, pos(EVERYTHING, "../templates").0);
    assert!(messages[1].1.ends_with("is a file, not a folder"), "{err}");
    assert_eq!(messages[2].0, pos(EVERYTHING, "ca/imap.pem").0);
    assert!(messages[2].1.ends_with("holds no PEM certificate"), "{err}");
}

#[cfg(unix)]
#[test]
fn an_ingest_entry_that_is_neither_file_nor_folder() {
    let text = "[ingest]\nfolders = [\"/dev/null\"]\n";
    let err = Project::new().load(text).unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert_eq!((err.0[0].line, err.0[0].column), (2, 12));
    assert!(
        err.0[0].message.ends_with("is neither a file nor a folder"),
        "{err}"
    );
}

#[test]
fn outputs_may_be_missing_but_must_be_creatable() {
    let p = everything_present();
    // `../reports` would have to be created inside a file; the IMAP state
    // file is a folder.
    p.file("../blocker", "");
    let text = EVERYTHING
        .replace("\"../reports\"", "\"../blocker/reports\"")
        .replace("\"../history\"", "\"../history/deep/down\"");
    p.folder("../state/imap.json");
    let err = p.load(&text).unwrap_err();
    assert_eq!(err.len(), 2, "{err}");
    assert_eq!(
        (err.0[0].line, err.0[0].column),
        pos(&text, "../blocker/reports")
    );
    assert_eq!(
        err.0[0].message,
        format!(
            "`reports_dir`: `{}` cannot be created: `{}` is a file, not a folder",
            p.dir.path().join("blocker/reports").display(),
            p.dir.path().join("blocker").display()
        ),
        "{err}"
    );
    assert_eq!(
        (err.0[1].line, err.0[1].column),
        pos(&text, "../state/imap.json")
    );
    assert!(err.0[1].message.starts_with("`imap.state_file`: "), "{err}");
    assert!(
        err.0[1].message.ends_with("is a folder, not a file"),
        "{err}"
    );
}

#[test]
fn external_programs_must_exist_and_run() {
    let p = everything_present();
    let text = EVERYTHING.replace("\"sh\"", "\"authwarden-no-such-program\"");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(p.at("checkers/local.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    }
    let err = p.load(&text).unwrap_err();
    let shown = err.to_string();
    let mut expected = vec![(
        pos(&text, "authwarden-no-such-program"),
        "`checkers.path-check.command`: the program `authwarden-no-such-program` is not found in PATH",
    )];
    if cfg!(unix) {
        expected.insert(
            0,
            (
                pos(&text, "./checkers/local.sh"),
                "`checkers.local-check.command`: the program",
            ),
        );
    }
    assert_eq!(err.len(), expected.len(), "{shown}");
    for (e, (at, start)) in err.0.iter().zip(expected) {
        assert_eq!((e.line, e.column), at, "{shown}");
        assert!(e.message.starts_with(start), "{shown}");
    }
    if cfg!(unix) {
        assert!(err.0[0].message.ends_with("is not executable"), "{shown}");
    }
}

#[test]
fn file_problems_are_listed_with_the_other_errors_in_file_order() {
    let p = Project::new();
    let text = "[dns]\nzone_files = [\"none.zone\"]\nretries = -1\n\n[smtp]\nhots = \"x\"\n";
    let err = p.load(text).unwrap_err();
    let lines: Vec<usize> = err.0.iter().map(|e| e.line).collect();
    // zone file (2), retries (3), unknown key and missing keys of [smtp] (5, 6)
    assert_eq!(lines.first(), Some(&2), "{err}");
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{err}");
    assert!(err.0[0].message.contains("none.zone"), "{err}");
    assert!(err.0.iter().any(|e| e.message.contains("hots")), "{err}");
}
