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
    // Addresses by `order_key`, which orders as the addresses do without building them.
    rows.sort_unstable_by_key(|r| {
        let s = r.socket;
        let (local, remote) = s.addrs.get();
        (
            local.port(),
            s.proto,
            local.order_key(),
            remote.order_key(),
            remote.port(),
            s.netns,
            s.inode,
            s.cookie,
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Addr, Proto, State};
    use proptest::prelude::*;

    fn addr(v6: bool, bits: u8, port: u16) -> Addr {
        let ip: std::net::IpAddr = if v6 {
            std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, u16::from(bits)).into()
        } else {
            std::net::Ipv4Addr::new(10, 0, 0, bits).into()
        };
        Addr::new(ip, port)
    }

    proptest! {
        /// The order by address keys is the order of the addresses themselves (port,
        /// protocol, local address, remote address and port, namespace, inode, cookie).
        #[test]
        fn rows_sort_as_their_addresses(
            specs in proptest::collection::vec(
                (any::<bool>(), 0u8..4, 0u16..3, 0u8..4, 0u16..3, 0u32..3, 0u64..3),
                0..40,
            ),
        ) {
            let sockets: Vec<Socket> = specs
                .iter()
                .map(|&(v6, l, lp, r, rp, inode, cookie)| {
                    let mut s = crate::app::testkit::sock(
                        if v6 { Proto::Tcp6 } else { Proto::Tcp },
                        "127.0.0.1:1",
                        "127.0.0.1:2",
                        State::Estab,
                        inode,
                        &[],
                    );
                    s.set_local(addr(v6, l, lp));
                    s.set_remote(addr(v6 && r % 2 == 0, r, rp));
                    s.cookie = cookie;
                    s
                })
                .collect();
            let mut rows: Vec<Row> = sockets
                .iter()
                .map(|socket| Row { socket, flags: Flags::empty() })
                .collect();
            sort_rows(&mut rows);
            let key = |s: &Socket| {
                (s.local().port(), s.proto, s.local().ip(), s.remote(), s.netns, s.inode, s.cookie)
            };
            for w in rows.windows(2) {
                prop_assert!(key(w[0].socket) <= key(w[1].socket));
            }
        }
    }
}
