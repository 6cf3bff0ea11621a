//! The binary the end-to-end tests run: the one Cargo built for this test
//! run, showing itself as `authwarden`.

use std::path::Path;

use authwarden_e2e::{authwarden, authwarden_bin};

#[test]
fn the_helpers_run_the_binary_cargo_built_for_these_tests() {
    assert_eq!(
        authwarden_bin(),
        Path::new(env!("CARGO_BIN_EXE_authwarden-e2e-bin"))
    );
}

#[test]
fn its_messages_name_it_authwarden() {
    let run = authwarden(&["--no-such-flag"]);
    assert_eq!(run.code(), 2, "{run}");
    assert!(
        run.stderr.contains("Usage: authwarden [OPTIONS] <COMMAND>"),
        "{run}"
    );
    let run = authwarden(&["--version"]);
    assert_eq!(run.code(), 0, "{run}");
    assert_eq!(
        run.stdout.trim(),
        format!("authwarden {}", env!("CARGO_PKG_VERSION"))
    );
}
