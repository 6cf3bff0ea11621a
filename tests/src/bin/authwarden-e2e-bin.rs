//! The `authwarden` binary, built again as a target of this package so that
//! `cargo test` rebuilds it with the code under test (see the crate docs).

fn main() -> std::process::ExitCode {
    authwarden_cli::main_with(authwarden_registry::Registry::builtin())
}
