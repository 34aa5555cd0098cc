//! `scomo-agent`: a SCOMO device agent for Linux-class devices. See `--help`.

use std::process::ExitCode;

use clap::Parser;
use scomo_agent::cli::{Cli, Command};
use scomo_agent::session;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .target(env_logger::Target::Stderr)
        .init();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                session::EXIT_USAGE
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let outcome = match &cli.command {
        Command::Session(args) => session::session(args),
        Command::Inventory(args) => session::inventory(args),
    };
    if let Some(error) = &outcome.error {
        eprintln!("scomo-agent: {error}");
    }
    ExitCode::from(outcome.code)
}
