//! What the command line prints: an aligned plain table, JSON and CSV. Every string here
//! was sanitised when it was read; nothing adds colour or escape sequences.

pub mod csv;
pub mod json;
pub mod metrics;
pub mod table;
pub mod watch;
pub mod why;

use crate::model::{Flags, OwnerStatus, Snapshot, Socket};
use std::fmt::Write as _;

/// One output row: a socket of the snapshot and its diagnosis flags.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub socket: &'a Socket,
    pub flags: Flags,
}

/// Rows of a snapshot that match `query`, flags computed, in [`sort_rows`] order.
pub fn rows<'a>(snap: &'a Snapshot, query: &crate::query::Query) -> Vec<Row<'a>> {
    let leaking = crate::diagnose::CloseWaitTracker::default().observe(snap);
    rows_flagged(snap, query, &leaking)
}

/// [`rows`] with the pids whose CLOSE-WAIT sockets pile up counted beforehand (from
/// sockets no longer in `snap`, as `list` drops the CLOSE-WAITs it counted).
pub fn rows_flagged<'a>(
    snap: &'a Snapshot,
    query: &crate::query::Query,
    leaking: &std::collections::HashSet<u32>,
) -> Vec<Row<'a>> {
    let flags = crate::diagnose::row_flags(snap, leaking);
    let mut rows: Vec<Row<'a>> = snap
        .sockets
        .iter()
        .zip(flags)
        .filter(|(s, f)| query.matches_socket(s, snap, *f))
        .map(|(socket, flags)| Row { socket, flags })
        .collect();
    sort_rows(&mut rows);
    rows
}

/// Stable row order for one-shot output: by local port, then protocol and addresses
/// (then namespace, inode and cookie: a total order, so an unstable sort gives the same
/// output every time).
pub fn sort_rows(rows: &mut [Row<'_>]) {
    rows.sort_unstable_by(|a, b| {
        let (a, b) = (a.socket, b.socket);
        (
            a.local.port(),
            a.proto,
            a.local.ip(),
            a.remote,
            a.netns,
            a.inode,
            a.cookie,
        )
            .cmp(&(
                b.local.port(),
                b.proto,
                b.local.ip(),
                b.remote,
                b.netns,
                b.inode,
                b.cookie,
            ))
    });
}

/// `pid/name` for each owner, comma-separated; or why there is none.
pub fn owners_cell(s: &Socket, snap: &Snapshot) -> String {
    let mut out = String::new();
    snap.write_owners(&mut out, s);
    out
}

/// The socket's user: the name when known, else the uid; `-` for kernel-held rows, whose
/// uid (always 0) says nothing.
pub fn user_cell(s: &Socket, snap: &Snapshot) -> String {
    let mut out = String::new();
    user_cell_into(&mut out, s, snap);
    out
}

/// [`user_cell`] appended to a reused buffer.
pub fn user_cell_into(out: &mut String, s: &Socket, snap: &Snapshot) {
    if s.owner_status == OwnerStatus::Kernel {
        out.push('-');
        return;
    }
    match snap.user_name(s.uid) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "{}", s.uid);
        }
    }
}
