//! Development commands of the workspace, run as `cargo xtask COMMAND`
//! (an alias in `.cargo/config.toml`). They edit the source tree, so they
//! live here and not in the installed `authwarden` binary.

mod scaffold;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Development commands of the authwarden workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a checker crate under crates/checkers and register it (run from the workspace root)
    NewChecker(scaffold::NewCheckerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::NewChecker(args) => scaffold::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
