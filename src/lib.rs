//! sockscope: a live socket monitor for the terminal — `htop` for ports.
//!
//! Data flows one way: [`collect`] reads the OS into a [`model::Snapshot`] (on its own
//! thread in the live view and `watch`, [`collect::worker`]); [`model::diff()`] compares
//! snapshots and [`model::events()`] turns the diff into events; [`app::update::update`]
//! turns them and every key into state and [`app::Effect`]s; [`ui::draw`] renders that
//! state; [`runtime`] runs the loop ([`runtime::session::Session`]) and performs the
//! effects.
//!
//! Modules and what they may import:
//! - [`model`]: pure data — sockets, processes, snapshots, diff and events, flags,
//!   signals as values (`Sig`, `Refusal`, `Delivery`), the `/proc/PID/stat` parser,
//!   durations and interval limits, the sanitiser. Imports nothing else of ours.
//! - [`query`]: the filter language. Reads `model`.
//! - [`diagnose`]: flags, the one verdict for a port ([`diagnose::verdict()`]), the
//!   CLOSE-WAIT tracker, the bind probe. Reads `model`.
//! - [`procfs`]: the one door to `/proc`: a process pinned by its directory fd, reads of
//!   its files, its fd tables, the holder check; a fake for tests. Imports `model`.
//! - [`collect`]: the OS boundary (sock_diag netlink, sysinfo, netstat2, /proc through
//!   `procfs`) and the collector thread. Imports `model`, `procfs` and `error`.
//! - [`signal`]: pinned targets, guards and pidfd delivery; reads /proc through
//!   `procfs`. Imports `model` and `procfs` (and `error` only through `model`).
//! - [`app`]: TUI state (`Live`, `Table`, `Modes`) and `update`; no I/O. Imports `model`,
//!   `query`, `diagnose`.
//! - [`ui`]: drawing only. Reads `app` and `model`.
//! - [`runtime`]: the only place with tokio, hyper, crossterm and the real terminal: the
//!   live view's loop, `watch`, the metrics server of `serve` and the MCP server of
//!   `mcp`. Chooses the concrete collector and signaller.
//! - [`caps`]: least privilege under capabilities (what is kept, dropped, and
//!   [`caps::as_user`] for every path a user names). Imports nothing of ours; anyone
//!   may call it.
//! - [`config`], [`output`], [`commands`], [`cli`], [`error`]: configuration, what the
//!   command line prints (tables, CSV, JSON, and the Prometheus exposition), the
//!   subcommands, the clap definition, the error type.
//!
//! Named exceptions to the import rules:
//! - `config` builds `app` values (`Theme`, `Keymap`, columns): the config file is the
//!   live view's, and `app` must not read files.
//! - Tests of `app` and `ui` use `runtime::effects` and `collect::worker::Differ` with
//!   fakes, to run whole sessions as the runtime does.
//! - `commands` and `runtime::watch`/`runtime::serve` share the exit codes and the
//!   one-line error printer in `commands`.
//! - `runtime::mcp`'s tools call the commands' functions (`why::judge`,
//!   `list::snapshot`, `kill::plan`, …) and return their documents: a new face, nothing
//!   judged twice.
//! - `ui` reads `diagnose` for the sentences it shows (flag explanations, the
//!   supervisor behind a holder), never to decide anything.
//! - `runtime::effects` closes sockets and stops containers through `collect` (the OS
//!   boundary), as the live view's effects.

// Tests may unwrap: a panic there is a failed test, which is the point.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod caps;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod config;
pub mod diagnose;
pub mod error;
pub mod model;
pub mod output;
pub mod procfs;
pub mod query;
pub mod runtime;
pub mod signal;
pub mod ui;

pub use error::{Error, Result};
