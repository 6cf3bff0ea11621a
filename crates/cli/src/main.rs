//! The `authwarden` binary: the built-in registry and the library's entry point.

fn main() -> std::process::ExitCode {
    authwarden_cli::main_with(authwarden_registry::Registry::builtin())
}
