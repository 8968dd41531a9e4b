//! The command-line subcommands: each picks a concrete collector, runs, and returns the
//! process exit status. `main` only parses and dispatches.
//!
//! Output goes through `writeln!` on [`std::io::stdout`], never `println!`: a closed pipe
//! (`sockscope list | head`) ends a command quietly with its status, and any other write
//! error (a full disk) is one line and exit 2, instead of a panic.

#[cfg(target_os = "linux")]
pub mod close;
pub mod free_port;
pub mod info;
pub mod kill;
pub mod list;
pub mod mcp;
pub mod wait_free;
pub mod wait_listen;
pub mod watch;
pub mod why;

use crate::error::{Error, Result};
use std::io::{self, BufRead, IsTerminal, Write};

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status of `why`, `kill` and `wait-free` when the port is (still) in use.
pub const EXIT_IN_USE: u8 = 1;
/// Exit status for a usage error, a bad query, a refusal, or a failure.
pub const EXIT_ERROR: u8 = 2;

/// The CPU budget of continuous collection: `--budget`, else the config's.
fn budget(cli: &crate::cli::Cli) -> crate::error::Result<crate::model::Budget> {
    match cli.budget {
        Some(b) => Ok(b),
        None => Ok(crate::config::load(cli.config.as_deref())?.budget),
    }
}

/// Runs a parsed command line; returns the exit status. Errors are printed here, as one
/// line.
pub fn dispatch(cli: &crate::cli::Cli) -> u8 {
    use crate::cli::Command;
    // A config file named on the command line must load, whatever the command: a typo in
    // its path is never silently ignored (most commands have no use for its contents).
    // `info` is the one that diagnoses it: a failed check naming the line, exit 0.
    if let Some(path) = &cli.config
        && !matches!(cli.command, Some(Command::Info(_)))
        && let Err(e) = crate::config::load(Some(path))
    {
        return finish(Err(e.into()));
    }
    let kind = cli.collector_kind();
    let result = match &cli.command {
        Some(Command::List(args)) => list::run(args, kind).map(|()| EXIT_OK),
        Some(Command::Why(args)) => why::run(args, kind),
        Some(Command::Kill(args)) => kill::run(args, kind),
        Some(Command::WaitFree(args)) => wait_free::run(args, kind),
        Some(Command::FreePort(args)) => free_port::run(args, kind),
        Some(Command::Serve(args)) => budget(cli).and_then(|budget| {
            crate::runtime::serve::run(crate::runtime::serve::ServeOptions {
                listen: args.listen,
                interval: args.interval,
                top: args.top,
                collector: kind,
                budget,
            })
        }),
        #[cfg(target_os = "linux")]
        Some(Command::Close(args)) => close::run(args, kind),
        #[cfg(not(target_os = "linux"))]
        Some(Command::Close(_)) => {
            warn("close needs Linux (sock_diag SOCK_DESTROY)");
            Ok(EXIT_ERROR)
        }
        Some(Command::WaitListen(args)) => wait_listen::run(args, kind),
        Some(Command::Watch(args)) => budget(cli).and_then(|b| watch::run(args, kind, b)),
        Some(Command::Mcp(args)) => mcp::run(args, cli.config.as_deref(), kind),
        Some(Command::Info(args)) => info::run(args.json, cli.config.as_deref(), kind),
        Some(Command::Completions { shell }) => completions(*shell),
        Some(Command::Man { command }) => man(command.as_deref()),
        None => {
            let opts = crate::runtime::TuiOptions {
                interval: cli.interval,
                view: cli.view,
                filter: cli.filter.clone(),
                no_color: cli.no_color,
                config: cli.config.clone(),
                collector: kind,
                budget: cli.budget,
            };
            crate::runtime::run(opts).map(|()| EXIT_OK)
        }
    };
    finish(result)
}

/// The exit status of a command's result; an error is printed as one line.
pub fn finish(result: Result<u8>) -> u8 {
    match result {
        Ok(code) => code,
        // Whoever read our output stopped reading: nothing left to say to anyone.
        Err(e) if e.is_broken_pipe() => EXIT_OK,
        Err(e) => {
            warn(&e.to_string());
            EXIT_ERROR
        }
    }
}

/// One line on stderr, prefixed `sockscope:`. A stderr that cannot be written is ignored:
/// there is nowhere left to report anything.
pub fn warn(msg: &str) {
    let _ = writeln!(io::stderr(), "sockscope: {msg}");
}

/// Writes a finished buffer to stdout and flushes it.
fn emit(bytes: &[u8]) -> Result<u8> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(EXIT_OK)
}

/// clap_complete panics when its writer fails, so the script is built in memory first.
fn completions(shell: clap_complete::Shell) -> Result<u8> {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sockscope", &mut buf);
    emit(&buf)
}

/// The page of `sockscope`, or of one of its commands (`sockscope-why`, as
/// clap_mangen's own SUBCOMMANDS section names them).
fn man(command: Option<&str>) -> Result<u8> {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    cmd.build();
    let page = match command {
        None => cmd,
        Some(name) => {
            let found = cmd
                .get_subcommands()
                .find(|s| s.get_name() == name)
                .cloned();
            match found {
                Some(sub) => sub,
                None => {
                    let names: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
                    return Err(Error::Usage(format!(
                        "no command `{}` (one of: {})",
                        crate::model::sanitize::quote(name),
                        names.join(", ")
                    )));
                }
            }
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(page)
        .source(format!("sockscope {}", env!("SOCKSCOPE_VERSION")))
        .render(&mut buf)?;
    emit(&buf)
}

/// Ends a command that wrote to `out`: flushes, and turns the result into its status.
/// One JSON document and a newline: indented for a person at a terminal, on one line
/// (a third the size, and quicker to write and parse) when piped or redirected, as `gh`
/// does.
fn write_json(out: &mut impl Write, doc: &impl serde::Serialize, pretty: bool) -> Result<()> {
    if pretty {
        serde_json::to_writer_pretty(&mut *out, doc)?;
    } else {
        serde_json::to_writer(&mut *out, doc)?;
    }
    writeln!(out)?;
    Ok(())
}

fn flushed(out: &mut impl Write, code: u8) -> Result<u8> {
    out.flush()?;
    Ok(code)
}

/// Asks `question [y/N]` on the terminal; refuses without one.
pub(crate) fn confirm(question: &str) -> Result<bool> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        warn(&format!(
            "refusing without confirmation: stdin is not a terminal (add --yes to {})",
            question.trim_end_matches('?')
        ));
        return Ok(false);
    }
    let mut err = io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(Error::Stdin)?;
    let yes = matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        warn("cancelled, nothing was done");
    }
    Ok(yes)
}
