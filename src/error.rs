//! Library errors. Each says what failed, on what, and what to do about it.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open a sock_diag netlink socket: {0} (use `--collector portable`)")]
    NetlinkOpen(#[source] io::Error),
    #[error("sock_diag dump of {what} failed: {source} (use `--collector portable`)")]
    NetlinkDump {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the process table: {0}")]
    Processes(String),
    #[error(
        "too many open files (the limit is {limit}): raise it with `ulimit -n`; no half-read socket table is shown"
    )]
    TooManyOpenFiles { limit: u64 },
    #[error("portable collector failed: {0}")]
    Portable(String),
    #[error("the sock_diag collector only exists on Linux (use `--collector portable`)")]
    Unsupported,
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    /// Writing the output failed. A closed pipe (`| head`) is not an error: the commands
    /// end quietly with their status; anything else (a full disk) is one line, exit 2.
    #[error("cannot write output: {0}")]
    Write(#[from] io::Error),
    #[error("cannot read the answer from the terminal: {0}")]
    Stdin(#[source] io::Error),
    #[error("cannot start {what}: {source}")]
    Start {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(
        "the live view needs a terminal on stdin and stdout; for a snapshot that can be piped, use `sockscope list`"
    )]
    NoTerminal,
    #[error("cannot {what} the terminal: {source}")]
    Terminal {
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The reader of our output went away (`sockscope list | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Write(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// A CSV error as the I/O error it usually is, so a closed pipe stays a closed pipe.
impl From<csv::Error> for Error {
    fn from(e: csv::Error) -> Error {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => Error::Write(io),
            other => Error::Write(io::Error::other(format!("{other:?}"))),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Write(e.into())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
