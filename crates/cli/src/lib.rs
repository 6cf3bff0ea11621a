//! The authwarden command line as a library.
//!
//! [`main_with`] takes a [`Registry`], so an organisation can build its own
//! `authwarden` binary with private checker crates in a few lines of
//! `main.rs` without forking.

mod check;
mod explain;
mod history;
mod jobs;
mod plan;
mod progress;
mod reports;
mod setup;
mod spf;
mod verify;

pub use setup::known;

use std::path::PathBuf;
use std::process::ExitCode;

use authwarden_registry::Registry;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit status: done; no finding at error level (`check`); the job ran, its
/// report is written and its email delivered, or queued when no `[smtp]` is
/// configured (`run`).
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one finding at error level (`check`); messages
/// still wait in the outbox (`outbox flush`).
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: usage or configuration error (bad arguments, a config
/// problem, a file the config names is missing).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: some checks could not complete (a DNS timeout or failure,
/// a checker that crashed or ran out of time): the findings are printed and
/// the report is written, but they are not the whole picture.
pub const EXIT_INCOMPLETE: u8 = 3;
/// Exit status: `run` wrote its report, but the email could not be
/// delivered now (server unreachable, temporary failure): it waits in the
/// outbox and the next run or `outbox flush` sends it.
pub const EXIT_MAIL_DEFERRED: u8 = 4;
/// Exit status: the SMTP server refused a message for good (a 5xx reply):
/// it was moved out of the outbox (to `outbox/rejected/`) and is not retried.
pub const EXIT_MAIL_REJECTED: u8 = 5;
/// Exit status: another run of the same job holds its lock.
pub const EXIT_LOCKED: u8 = 6;
/// Exit status: a file could not be read or written (disk full,
/// permissions): the history, the report or the outbox.
pub const EXIT_IO: u8 = 7;

/// The exit status for an error that ended a command: a held job lock, an
/// I/O failure anywhere in its causes, else a usage or configuration error.
pub fn exit_status_of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(authwarden_scheduler::SchedulerError::Locked { .. }) = cause.downcast_ref() {
            return EXIT_LOCKED;
        }
    }
    for cause in e.chain() {
        if cause.downcast_ref::<std::io::Error>().is_some()
            || matches!(
                cause.downcast_ref::<authwarden_history::HistoryError>(),
                Some(authwarden_history::HistoryError::Write { .. })
            )
        {
            return EXIT_IO;
        }
    }
    EXIT_USAGE
}

/// Keeps SPF, DKIM and DMARC healthy: checks domains, explains findings,
/// runs the monthly, quarterly and annual jobs.
#[derive(Debug, Parser)]
#[command(
    name = "authwarden",
    version,
    about = "Keeps SPF, DKIM and DMARC healthy: checks domains, ingests DMARC aggregate reports, runs the monthly, quarterly and annual jobs and mails their reports",
    long_about = None
)]
pub struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// Config file [default: config/authwarden.toml when it exists, else built-in defaults]
    #[arg(long, global = true, env = "AUTHWARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// DNS server to ask, IP or IP:PORT (repeatable); replaces `[dns] nameservers`
    #[arg(long = "nameserver", global = true, value_name = "IP:PORT")]
    pub nameservers: Vec<String>,
    /// Zone file (master-file format) answered before DNS (repeatable)
    #[arg(long = "zone-file", global = true, value_name = "PATH")]
    pub zone_files: Vec<PathBuf>,
    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// More log output (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable text.
    Text,
    /// One JSON object (the stable contract).
    Json,
    /// The run's findings frame as CSV (`run` and `check`).
    Csv,
    /// The run's findings frame as Parquet (`run` and `check`, with `--output`).
    Parquet,
    /// A zone-file fragment (`plan`).
    Zone,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check domains now and print the findings
    Check(check::CheckArgs),
    /// The changes to make, one per DNS name, verified by checking again with them applied
    Plan(plan::PlanArgs),
    /// Authenticate one message as a receiver would: DKIM, ARC, SPF, DMARC (exit 0 when DMARC passes, 1 when not)
    Verify(verify::VerifyArgs),
    /// Print the documentation of a finding code (e.g. DMARC001 or dmarc-record-missing)
    Explain {
        /// Code or name
        code: String,
    },
    /// List the checkers and their codes
    Checkers,
    /// Run a job once now (what cron or a systemd timer calls; the annual audit on demand)
    Run(jobs::RunArgs),
    /// Run every job at its cron time until SIGTERM or SIGINT
    Daemon,
    /// The outbox of unsent reports
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
    },
    /// DMARC aggregate reports: analyze files without keeping them
    Reports {
        #[command(subcommand)]
        command: reports::ReportsCommand,
    },
    /// Parse, classify and append DMARC aggregate reports to the history
    Ingest(reports::IngestArgs),
    /// SPF commands: build the record from the sender inventory
    Spf {
        #[command(subcommand)]
        command: spf::SpfCommand,
    },
    /// The history: find unreadable files, set them aside for repair
    History {
        #[command(subcommand)]
        command: history::HistoryCommand,
    },
    /// Configuration commands
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Send every message waiting in the outbox
    Flush,
    /// List the messages waiting in the outbox
    List,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check the config file and report every problem with its line and column
    Validate,
}

/// Parses the command line and runs it with these checkers. Returns the
/// process exit status (0 ok, 1 error findings, 2 usage or config error).
pub fn main_with(registry: Registry) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.global.verbose);
    // A custom binary's registry keeps the same invariants as the built-in
    // one (unique ids and codes, documented codes): refuse to run otherwise.
    let problems = registry.validate();
    if !problems.is_empty() {
        eprintln!("error: the registry of this build is invalid:");
        for p in &problems {
            eprintln!("  {p}");
        }
        return ExitCode::from(EXIT_USAGE);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let status = runtime.block_on(dispatch(cli, registry));
    ExitCode::from(status)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHWARDEN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: a log file or a pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

async fn dispatch(cli: Cli, registry: Registry) -> u8 {
    // The config's external checkers join the registry before anything reads
    // the config: `[levels]` may name their codes.
    let (registry, external_problems) = match setup::with_external(&cli.global, registry).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return EXIT_USAGE;
        }
    };
    let result = match cli.command {
        Command::Check(args) => check::run(&cli.global, &args, &registry).await,
        Command::Plan(args) => plan::run(&cli.global, &args, &registry).await,
        Command::Verify(args) => verify::run(&cli.global, &args, &registry).await,
        Command::Explain { code } => explain::explain(&registry, &code, cli.global.format),
        Command::Run(args) => jobs::run(&cli.global, &args, &registry).await,
        Command::Daemon => jobs::daemon(&cli.global, &registry).await,
        Command::Outbox {
            command: OutboxCommand::Flush,
        } => jobs::outbox_flush(&cli.global, &registry).await,
        Command::Outbox {
            command: OutboxCommand::List,
        } => jobs::outbox_list(&cli.global, &registry),
        Command::Checkers => explain::list_checkers(&registry, cli.global.format),
        Command::Config {
            command: ConfigCommand::Validate,
        } => setup::validate(&cli.global, &registry, &external_problems),
        Command::Reports { command } => reports::run(&cli.global, &command, &registry),
        Command::Ingest(args) => reports::ingest(&cli.global, &args, &registry),
        Command::History { command } => history::run(&cli.global, &command, &registry),
        Command::Spf { command } => spf::run(&cli.global, &command, &registry).await,
    };
    match result {
        Ok(status) => status,
        Err(e) => {
            eprintln!("error: {e:#}");
            exit_status_of(&e)
        }
    }
}
