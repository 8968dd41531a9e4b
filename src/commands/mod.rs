//! The command-line subcommands: each picks a concrete collector, runs, and returns the
//! process exit status. `main` only parses and dispatches.

pub mod list;

use std::io;

/// Exit status for success.
pub const EXIT_OK: u8 = 0;
/// Exit status for a usage error, a bad query, or a failure.
pub const EXIT_ERROR: u8 = 2;

/// True when writing stopped because the reader went away (`sockscope list | head`).
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}
