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
    #[error("malformed sock_diag reply: {0}")]
    NetlinkParse(String),
    #[error("cannot read {path}: {source}")]
    Proc {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the process table: {0}")]
    Processes(String),
    #[error("portable collector failed: {0}")]
    Portable(String),
    #[error("the sock_diag collector only exists on Linux (use `--collector portable`)")]
    Unsupported,
    #[error(transparent)]
    Query(#[from] crate::query::QueryError),
    #[error("cannot write output: {0}")]
    Output(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
