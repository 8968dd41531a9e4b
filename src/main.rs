//! The `sockscope` binary: parse the command line, set up least privilege, dispatch,
//! exit with the status.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    sockscope::collect::return_big_frees();
    sockscope::collect::raise_fd_limit();
    let cli = match sockscope::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => sockscope::cli::exit_on(e),
    };
    // Before any thread exists: every thread inherits the capabilities this leaves.
    if let Err(e) = sockscope::caps::init(cli.reads_processes()) {
        sockscope::commands::warn(&e);
        return ExitCode::from(sockscope::commands::EXIT_ERROR);
    }
    ExitCode::from(sockscope::commands::dispatch(&cli))
}
