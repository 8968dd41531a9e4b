//! sockscope: a live socket monitor for the terminal — `htop` for ports.
//!
//! Data flows one way: [`collect`] reads the OS into a [`model::Snapshot`]; [`model::diff`]
//! compares snapshots; [`query`] filters rows; [`output`] prints them for the command line.
//!
//! - [`model`]: pure data (sockets, processes, snapshots, diff, event log, sanitiser).
//! - [`query`]: the filter language.
//! - [`collect`]: the OS boundary (sock_diag netlink, /proc, sysinfo, netstat2).
//! - [`output`]: plain table, JSON and CSV.
//! - [`cli`]: the command-line definition.

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
