//! sockscope: a live socket monitor for the terminal — `htop` for ports.
//!
//! Data flows one way: [`collect`] reads the OS into a [`model::Snapshot`] (on its own
//! thread in the live view, [`collect::worker`]); [`model::diff()`] compares snapshots;
//! [`app::update::update`] turns them and every key into state and [`app::Effect`]s;
//! [`ui::draw`] renders that state; [`runtime`] runs the loop and performs the effects.
//!
//! - [`model`]: pure data (sockets, processes, snapshots, diff, event log, sanitiser).
//! - [`query`]: the filter language.
//! - [`diagnose`]: flags and port verdicts, pure over a snapshot, plus the bind probe.
//! - [`collect`]: the OS boundary (sock_diag netlink, /proc, sysinfo, netstat2).
//! - [`signal`]: pinned targets, guards and pidfd delivery.
//! - [`app`], [`ui`], [`runtime`], [`config`]: the live view.
//! - [`output`], [`commands`], [`cli`]: the command line.

// Tests may unwrap: a panic there is a failed test, which is the point.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod cli;
pub mod collect;
pub mod commands;
pub mod config;
pub mod diagnose;
pub mod error;
pub mod model;
pub mod output;
pub mod query;
pub mod runtime;
pub mod signal;
pub mod ui;

pub use error::{Error, Result};
