//! What the command line prints: an aligned plain table, JSON and CSV. Every string here
//! was sanitised when it was read; nothing adds colour or escape sequences.

pub mod csv;
pub mod json;
pub mod table;

use crate::model::{OwnerStatus, Snapshot, Socket};
use std::fmt::Write as _;

/// Stable row order for one-shot output: by local port, then protocol and addresses.
pub fn sort_rows(rows: &mut [&Socket]) {
    rows.sort_by(|a, b| {
        (a.local.port(), a.proto, a.local.ip(), a.remote, a.inode).cmp(&(
            b.local.port(),
            b.proto,
            b.local.ip(),
            b.remote,
            b.inode,
        ))
    });
}

/// `pid/name` for each owner, comma-separated; or why there is none: `(kernel)`,
/// `(hidden)`, `(unknown)`.
pub fn owners_cell(s: &Socket, snap: &Snapshot) -> String {
    if s.owners.is_empty() {
        return match s.owner_status {
            OwnerStatus::Known | OwnerStatus::Unknown => "(unknown)".to_owned(),
            OwnerStatus::Kernel => "(kernel)".to_owned(),
            OwnerStatus::Hidden => "(hidden)".to_owned(),
        };
    }
    let mut out = String::new();
    for (i, pid) in s.owners.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = match snap.processes.get(pid) {
            Some(p) => write!(out, "{pid}/{}", p.name),
            None => write!(out, "{pid}"),
        };
    }
    out
}

/// The socket's user: the name when known, else the uid.
pub fn user_cell(s: &Socket, snap: &Snapshot) -> String {
    snap.user_name(s.uid)
        .map_or_else(|| s.uid.to_string(), str::to_owned)
}
