//! The checkers are leaves of the crate graph (STYLE.md, "The layout we are
//! moving to"): a crate under `crates/checkers/` depends on `authwarden-api`,
//! the domain libraries (`authwarden-dmarc`, `authwarden-spf`,
//! `authwarden-inventory`) and small crates only. Read from `cargo
//! metadata`:
//!
//! - no checker depends on another checker, directly (the manifests, `cargo
//!   metadata --no-deps`) or through any other crate (the resolved graph);
//! - no checker links polars, lettre, handlebars or quick-xml, directly or
//!   through any chain of normal dependencies, except through the crates of
//!   [`EXCEPTIONS`], each of which may bring only the forbidden crates it
//!   names, and each of which must still be used (an exception nothing needs
//!   any more is an error, so that the list only shrinks).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Crates no checker may link: the history's, the mail's, the report's and
/// the report parser's heavy dependencies.
const FORBIDDEN: &[&str] = &["polars", "lettre", "handlebars", "quick-xml"];

/// A crate a checker may depend on although it links forbidden crates.
struct Exception {
    /// The package.
    through: &'static str,
    /// The forbidden crates it may bring, and no other.
    brings: &'static [&'static str],
    /// Why it is allowed for now.
    why: &'static str,
}

/// The known exceptions, each with its reason. Remove an entry as soon as the
/// edge it allows is gone (the test fails while an entry matches nothing).
/// Empty: the aggregate rows come through `authwarden_api::reports` and the
/// provider catalog from `authwarden-catalog`, so no checker reaches the
/// report intake any more.
const EXCEPTIONS: &[Exception] = &[];

/// The dependency graph the checks run over: package names, and for each
/// package its normal dependencies by name.
#[derive(Debug, Default)]
struct Graph {
    deps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn add(&mut self, from: &str, to: &str) {
        self.deps
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
        self.deps.entry(to.to_string()).or_default();
    }
}

/// What the walk found.
#[derive(Debug, Default)]
struct Walk {
    /// Every path that breaks a rule, as `a → b → c: why`.
    violations: Vec<String>,
    /// The exceptions some checker went through.
    used: BTreeSet<&'static str>,
}

/// Walks the normal dependencies of every checker, breadth first, and
/// reports each checker or forbidden crate it reaches, with the shortest
/// path to it. Entering an exception's crate allows the forbidden crates it
/// names for the rest of that path.
fn walk(graph: &Graph, checkers: &BTreeSet<String>, exceptions: &[Exception]) -> Walk {
    let mut out = Walk::default();
    for checker in checkers {
        // State: the package and the forbidden crates allowed on the way to it.
        type State = (String, BTreeSet<&'static str>);
        let start: State = (checker.clone(), BTreeSet::new());
        let mut parent: BTreeMap<State, Option<State>> = BTreeMap::new();
        parent.insert(start.clone(), None);
        let mut queue = VecDeque::from([start]);
        let mut reported = BTreeSet::new();
        while let Some(state) = queue.pop_front() {
            let (name, allowed) = &state;
            let path = || {
                let mut names = vec![name.clone()];
                let mut at = parent[&state].clone();
                while let Some(s) = at {
                    names.push(s.0.clone());
                    at = parent[&s].clone();
                }
                names.reverse();
                names.join(" → ")
            };
            if name != checker {
                if checkers.contains(name) {
                    if reported.insert(name.clone()) {
                        out.violations.push(format!(
                            "{}: a checker depends on another checker (share the code through a domain library instead)",
                            path()
                        ));
                    }
                    continue;
                }
                if FORBIDDEN.contains(&name.as_str()) && !allowed.contains(name.as_str()) {
                    if reported.insert(name.clone()) {
                        out.violations.push(format!(
                            "{}: a checker links {name}, which checker crates must not",
                            path()
                        ));
                    }
                    continue;
                }
            }
            let mut allowed = allowed.clone();
            if let Some(e) = exceptions.iter().find(|e| e.through == name) {
                out.used.insert(e.through);
                allowed.extend(e.brings.iter().copied());
            }
            for dep in graph.deps.get(name).into_iter().flatten() {
                let next: State = (dep.clone(), allowed.clone());
                if !parent.contains_key(&next) {
                    parent.insert(next.clone(), Some(state.clone()));
                    queue.push_back(next);
                }
            }
        }
    }
    out
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests package is inside the workspace")
        .to_path_buf()
}

fn metadata(extra: &[&str]) -> Value {
    let root = workspace_root();
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .args(extra)
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata {extra:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

fn packages(metadata: &Value) -> &Vec<Value> {
    metadata["packages"].as_array().expect("packages")
}

/// The workspace packages whose manifest is under `crates/checkers/`.
fn checker_packages(metadata: &Value) -> BTreeSet<String> {
    let dir = workspace_root().join("crates").join("checkers");
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .expect("workspace_members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    packages(metadata)
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(id)))
        .filter(|p| {
            p["manifest_path"]
                .as_str()
                .is_some_and(|m| Path::new(m).starts_with(&dir))
        })
        .map(|p| p["name"].as_str().expect("name").to_string())
        .collect()
}

/// True for a normal (not dev, not build) dependency kind.
fn normal(kind: &Value) -> bool {
    kind.is_null()
}

#[test]
fn checker_manifests_name_no_checker_and_no_heavy_crate() {
    let metadata = metadata(&["--no-deps"]);
    let checkers = checker_packages(&metadata);
    for expected in [
        "authwarden-checker-dmarc-policy",
        "authwarden-checker-spf",
        "authwarden-checker-inventory-drift",
        "authwarden-checker-rollout-advisor",
    ] {
        assert!(
            checkers.contains(expected),
            "{expected} not found under crates/checkers/: {checkers:?}"
        );
    }
    let mut problems = Vec::new();
    for package in packages(&metadata) {
        let name = package["name"].as_str().expect("name");
        if !checkers.contains(name) {
            continue;
        }
        for dep in package["dependencies"].as_array().expect("dependencies") {
            if !normal(&dep["kind"]) {
                continue;
            }
            let dep_name = dep["name"].as_str().expect("dependency name");
            if checkers.contains(dep_name) {
                problems.push(format!(
                    "{name} depends on the checker {dep_name}: share the code through a domain library instead"
                ));
            }
            if FORBIDDEN.contains(&dep_name) {
                problems.push(format!(
                    "{name} depends on {dep_name}, which checker crates must not"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_checker_reaches_another_checker_or_a_heavy_crate() {
    let metadata = metadata(&[]);
    let checkers = checker_packages(&metadata);
    assert!(!checkers.is_empty(), "no checker packages found");
    let names: BTreeMap<&str, &str> = packages(&metadata)
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id"),
                p["name"].as_str().expect("name"),
            )
        })
        .collect();
    let mut graph = Graph::default();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve") {
        let from = names[node["id"].as_str().expect("node id")];
        for dep in node["deps"].as_array().expect("node deps") {
            let is_normal = dep["dep_kinds"]
                .as_array()
                .expect("dep_kinds")
                .iter()
                .any(|k| normal(&k["kind"]));
            if is_normal {
                graph.add(from, names[dep["pkg"].as_str().expect("dep pkg")]);
            }
        }
    }
    let found = walk(&graph, &checkers, EXCEPTIONS);
    assert!(
        found.violations.is_empty(),
        "the checkers must stay leaves:\n{}",
        found.violations.join("\n")
    );
    let unused: Vec<String> = EXCEPTIONS
        .iter()
        .filter(|e| !found.used.contains(e.through))
        .map(|e| format!("{} ({})", e.through, e.why))
        .collect();
    assert!(
        unused.is_empty(),
        "no checker depends on these exceptions any more, remove them from EXCEPTIONS: {}",
        unused.join(", ")
    );
}

/// The walk on a small graph: so that the test above cannot pass because
/// the walk finds nothing.
#[test]
fn the_walk_finds_every_kind_of_violation_and_allows_only_the_exception() {
    let mut g = Graph::default();
    // Allowed: through the exception, the crate it names.
    g.add("checker-a", "lib");
    g.add("lib", "authwarden-aggregate");
    g.add("authwarden-aggregate", "quick-xml");
    // Not allowed: the exception bringing a crate it does not name.
    g.add("checker-b", "authwarden-aggregate-2");
    g.add("authwarden-aggregate-2", "polars");
    // Not allowed: quick-xml by another path, a checker through a library.
    g.add("checker-c", "other");
    g.add("other", "quick-xml");
    g.add("checker-c", "lib-2");
    g.add("lib-2", "checker-a");
    let checkers: BTreeSet<String> = ["checker-a", "checker-b", "checker-c"]
        .into_iter()
        .map(String::from)
        .collect();
    let exceptions = [
        Exception {
            through: "authwarden-aggregate",
            brings: &["quick-xml"],
            why: "test",
        },
        Exception {
            through: "authwarden-aggregate-2",
            brings: &["quick-xml"],
            why: "test",
        },
        Exception {
            through: "unused",
            brings: &[],
            why: "test",
        },
    ];
    let found = walk(&g, &checkers, &exceptions);
    assert_eq!(
        found.violations,
        [
            "checker-b → authwarden-aggregate-2 → polars: a checker links polars, which checker crates must not",
            "checker-c → lib-2 → checker-a: a checker depends on another checker (share the code through a domain library instead)",
            "checker-c → other → quick-xml: a checker links quick-xml, which checker crates must not",
        ]
    );
    assert_eq!(
        found.used,
        BTreeSet::from(["authwarden-aggregate", "authwarden-aggregate-2"])
    );
}
