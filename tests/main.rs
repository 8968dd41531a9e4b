//! Integration tests: one binary, a module per area. Real sockets on loopback, real child
//! processes the tests start themselves, the real `sockscope` binary.

// A panic in a test is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod backpressure;
mod budget;
mod cli_errors;
mod cli_list;
mod close;
mod collect;
mod doctor;
mod faults;
mod mcp;
mod owners;
mod port_helpers;
mod privilege;
mod safety;
mod serve;
mod supervisors;
mod trust;
mod tui_pty;
mod tui_traffic;
mod watch;
