//! An organisation's own `authwarden`: every built-in checker plus a private one.

use std::sync::Arc;

use authwarden_example_custom::OwnerTag;
use authwarden_registry::Registry;

fn main() -> std::process::ExitCode {
    authwarden_cli::main_with(Registry::builtin().with(Arc::new(OwnerTag)))
}
