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
            let opts = sockscope::runtime::TuiOptions {
                interval: cli.interval,
                view: cli.view,
                filter: cli.filter.clone(),
                no_color: cli.no_color,
                config: cli.config.clone(),
                collector: cli.collector,
            };
            return match sockscope::runtime::run(opts) {
                Ok(()) => ExitCode::from(EXIT_OK),
                Err(e) => {
                    eprintln!("sockscope: {e}");
                    ExitCode::from(EXIT_ERROR)
                }
            };
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
