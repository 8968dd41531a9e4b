//! The command-line subcommands: each picks a concrete collector, runs, and returns the
//! process exit status. `main` only parses and dispatches.

pub mod kill;
pub mod list;
pub mod wait_free;
pub mod watch;
pub mod why;

use std::io;

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status of `why`, `kill` and `wait-free` when the port is (still) in use.
pub const EXIT_IN_USE: u8 = 1;
/// Exit status for a usage error, a bad query, a refusal, or a failure.
pub const EXIT_ERROR: u8 = 2;

/// Runs a parsed command line; returns the exit status. Errors are printed here, as one
/// line.
pub fn dispatch(cli: &crate::cli::Cli) -> u8 {
    use crate::cli::Command;
    let result = match &cli.command {
        Some(Command::List(args)) => list::run(args, cli.collector).map(|()| EXIT_OK),
        Some(Command::Why(args)) => why::run(args, cli.collector),
        Some(Command::Kill(args)) => kill::run(args, cli.collector),
        Some(Command::WaitFree(args)) => wait_free::run(args),
        Some(Command::Watch(args)) => watch::run(args, cli.collector),
        Some(Command::Completions { shell }) => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "sockscope", &mut io::stdout());
            Ok(EXIT_OK)
        }
        Some(Command::Man) => {
            let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(cmd)
                .render(&mut io::stdout())
                .map(|()| EXIT_OK)
                .or_else(|e| {
                    if is_broken_pipe(&e) {
                        Ok(EXIT_OK)
                    } else {
                        Err(crate::error::Error::Output(e.to_string()))
                    }
                })
        }
        None => {
            let opts = crate::runtime::TuiOptions {
                interval: cli.interval,
                view: cli.view,
                filter: cli.filter.clone(),
                no_color: cli.no_color,
                config: cli.config.clone(),
                collector: cli.collector,
            };
            return match crate::runtime::run(opts) {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("sockscope: {e}");
                    EXIT_ERROR
                }
            };
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sockscope: {e}");
            EXIT_ERROR
        }
    }
}

/// True when writing stopped because the reader went away (`sockscope list | head`).
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
