//! The `sockscope` binary: parse the command line, dispatch, exit with the status.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    sockscope::collect::return_big_frees();
    let cli = sockscope::cli::Cli::parse();
    ExitCode::from(sockscope::commands::dispatch(&cli))
}
