//! The shared conformance corpus: real-world reports and test suites kept
//! beside the checkout (`../shared/corpus`, seen from the workspace root),
//! not in the repository.
//!
//! A test that reads it gets its folder from [`dir`]. When the corpus is
//! absent the test must not pass as if it had checked it: under CI (`CI` set)
//! or with `AUTHWARDEN_REQUIRE_CORPUS` set, [`dir`] panics; elsewhere it
//! writes a note that shows even when the test's output is captured, and the
//! test checks its own committed fixtures or nothing.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Overrides where the corpus is looked for (its root folder, the one that
/// holds `dmarc-aggregate/`, `spf/`, ...).
pub const CORPUS_VAR: &str = "AUTHWARDEN_CORPUS";

/// When set (to anything but `0` or `false`), a missing corpus fails the test.
pub const REQUIRE_VAR: &str = "AUTHWARDEN_REQUIRE_CORPUS";

/// The root of the corpus: `$AUTHWARDEN_CORPUS`, else `../shared/corpus`
/// beside the workspace root. It may not exist.
pub fn root() -> PathBuf {
    root_from(std::env::var_os(CORPUS_VAR))
}

/// The corpus folder `name` (e.g. `"dmarc-aggregate"`, `"spf"`), or `None`
/// when it is absent and the corpus is not required.
///
/// # Panics
///
/// When the folder is absent and the corpus is required: the environment
/// variable `CI` or [`REQUIRE_VAR`] is set (to anything but `0` or `false`).
pub fn dir(name: &str) -> Option<PathBuf> {
    match locate(&root(), name, |var| std::env::var_os(var)) {
        Ok(Some(dir)) => Some(dir),
        Ok(None) => {
            // Straight to the process's stderr: the test harness captures
            // `eprintln!` of passing tests, and this note must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** NOTE: the corpus folder {} is missing: the checks over it did NOT run \
                 (at most a smaller committed sample was checked; set {CORPUS_VAR} to its \
                 location; CI or {REQUIRE_VAR} make this a failure) ***\n",
                root().join(name).display()
            );
            None
        }
        Err(message) => panic!("{message}"),
    }
}

fn root_from(var: Option<OsString>) -> PathBuf {
    match var {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"),
    }
}

/// `root/name` when it is a folder; `Ok(None)` when it is absent and not
/// required; `Err` with the message to fail with when it is absent and
/// required. `var` reads an environment variable.
fn locate(
    root: &Path,
    name: &str,
    var: impl Fn(&str) -> Option<OsString>,
) -> Result<Option<PathBuf>, String> {
    let dir = root.join(name);
    if dir.is_dir() {
        return Ok(Some(dir));
    }
    match ["CI", REQUIRE_VAR]
        .into_iter()
        .find(|name| var(name).is_some_and(|v| is_on(&v)))
    {
        Some(required_by) => Err(format!(
            "the corpus folder {} is missing and {required_by} is set, so the corpus is \
             required: put the corpus there, point {CORPUS_VAR} at it, or unset {required_by}",
            dir.display()
        )),
        None => Ok(None),
    }
}

fn is_on(value: &OsStr) -> bool {
    !(value.is_empty() || value == "0" || value.eq_ignore_ascii_case("false"))
}

/// The rows of a corpus folder's `EXPECTED.tsv` (tab-separated, a header
/// line naming the columns), each as column → value; blank lines are
/// skipped. Panics with the file's name when it cannot be read.
pub fn expected(dir: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let path = dir.join("EXPECTED.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let values: Vec<&str> = line.split('\t').collect();
            header
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    (
                        h.to_string(),
                        values.get(i).copied().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn a_present_folder_is_found_whatever_the_environment() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("spf")).unwrap();
        let found = locate(root.path(), "spf", env(&[("CI", "true")])).unwrap();
        assert_eq!(found, Some(root.path().join("spf")));
    }

    #[test]
    fn a_missing_folder_fails_under_ci_or_when_required() {
        let root = tempfile::tempdir().unwrap();
        for required_by in ["CI", REQUIRE_VAR] {
            let err = locate(root.path(), "spf", env(&[(required_by, "true")])).unwrap_err();
            assert!(err.contains(&format!("{required_by} is set")), "{err}");
            assert!(err.contains(&root.path().join("spf").display().to_string()));
        }
    }

    #[test]
    fn a_missing_folder_is_none_elsewhere() {
        let root = tempfile::tempdir().unwrap();
        for off in [
            &[][..],
            &[("CI", "false")],
            &[("CI", "0"), (REQUIRE_VAR, "")],
        ] {
            assert_eq!(locate(root.path(), "spf", env(off)), Ok(None), "{off:?}");
        }
    }

    #[test]
    fn the_root_is_beside_the_workspace_unless_overridden() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert!(workspace.join("Cargo.toml").is_file());
        assert_eq!(root_from(None), workspace.join("../shared/corpus"));
        assert_eq!(
            root_from(Some("".into())),
            workspace.join("../shared/corpus")
        );
        assert_eq!(
            root_from(Some("/data/corpus".into())),
            Path::new("/data/corpus")
        );
    }
}
