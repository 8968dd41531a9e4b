//! The `sockscope` binary: parse the command line, dispatch, report errors.

use clap::Parser;
use sockscope::cli::{Cli, Command};
use sockscope::commands::{self, EXIT_ERROR, EXIT_OK};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::List(args)) => commands::list::run(args, cli.collector),
        None => {
            eprintln!(
                "sockscope: the live TUI is not in this build yet; use `sockscope list` (or `sockscope list --all`) for a snapshot"
            );
            return ExitCode::from(EXIT_ERROR);
        }
    };
    match result {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("sockscope: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
