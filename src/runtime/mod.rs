//! The only place with tokio, crossterm and the real terminal: the TUI's event loop.

pub mod effects;
pub mod run;
pub mod session;
pub mod terminal;
#[cfg(test)]
mod tests;
pub mod watch;

pub use run::{TuiOptions, run};
