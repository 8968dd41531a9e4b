//! The only place with tokio, crossterm and the real terminal: the TUI's event loop.

pub mod backlog;
pub mod effects;
pub mod mailbox;
pub mod mcp;
pub mod run;
pub mod session;
pub mod terminal;
#[cfg(test)]
mod tests;
pub mod watch;

pub mod serve;

pub use run::{TuiOptions, run};

/// The single-threaded tokio runtime the live view and `watch` run on.
pub(crate) fn tokio() -> crate::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| crate::Error::Start {
            what: "the event loop",
            source,
        })
}
