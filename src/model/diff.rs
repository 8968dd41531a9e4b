//! Diff of two snapshots by socket identity: what opened, closed, or changed.

use super::snapshot::Snapshot;
use super::socket::{Pids, Socket, SocketKey, State};
use rustc_hash::FxHashMap as HashMap;

/// What changed about one socket that exists in both snapshots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    State { from: State, to: State },
    Owners { from: Pids, to: Pids },
}

/// A change to the socket at `index` in the newer snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub index: usize,
    pub kind: ChangeKind,
}

/// Result of [`diff`]: indices point into the newer snapshot; closed sockets are copied
/// out of the older one because they exist nowhere else any more.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub opened: Vec<usize>,
    pub closed: Vec<Socket>,
    /// Where each closed socket was in the older snapshot (same order as `closed`).
    pub closed_at: Vec<usize>,
    pub changed: Vec<Change>,
    /// For each socket of the newer snapshot, its index in the older one ([`NEW`] when it
    /// opened): what a view keeps per socket (its age) follows it without a map of keys.
    pub previous: Vec<u32>,
}

/// In [`Delta::previous`]: the socket was not in the older snapshot.
pub const NEW: u32 = u32::MAX;

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.opened.is_empty() && self.closed.is_empty() && self.changed.is_empty()
    }
}

/// Diffs `prev` → `next` by [`SocketKey`] (proto, local, remote, cookie or inode).
pub fn diff(prev: &Snapshot, next: &Snapshot) -> Delta {
    diff_sockets(&prev.sockets, &next.sockets)
}

/// The same as [`diff`] over plain socket lists.
///
/// The older sockets are indexed by (netns, cookie) where the collector gives cookies
/// (sock_diag: unique per socket), a 16-byte key, and by their whole [`SocketKey`] only
/// where it does not; a match by cookie must have the same key too.
pub fn diff_sockets(prev: &[Socket], next: &[Socket]) -> Delta {
    let with_cookie = prev.iter().filter(|s| s.cookie != 0).count();
    let mut by_cookie: HashMap<(u64, u64), u32> =
        HashMap::with_capacity_and_hasher(with_cookie, Default::default());
    let mut by_key: HashMap<SocketKey, u32> =
        HashMap::with_capacity_and_hasher(prev.len() - with_cookie, Default::default());
    for (i, s) in prev.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(NEW);
        if s.cookie != 0 {
            by_cookie.insert((s.netns, s.cookie), i);
        } else {
            by_key.insert(s.key(), i);
        }
    }
    // Where a socket with this one's key was in the older list.
    let older = |s: &Socket| -> Option<u32> {
        if s.cookie != 0 {
            by_cookie
                .get(&(s.netns, s.cookie))
                .copied()
                .filter(|&j| prev.get(j as usize).is_some_and(|o| o.key() == s.key()))
        } else {
            by_key.get(&s.key()).copied()
        }
    };
    let mut matched = vec![false; prev.len()];
    let mut delta = Delta {
        previous: Vec::with_capacity(next.len()),
        ..Delta::default()
    };
    for (index, s) in next.iter().enumerate() {
        let found = older(s);
        let Some(j) = found.filter(|&j| !matched.get(j as usize).copied().unwrap_or(true)) else {
            delta.opened.push(index);
            delta.previous.push(NEW);
            continue;
        };
        matched[j as usize] = true;
        delta.previous.push(j);
        let o = &prev[j as usize];
        if o.state != s.state {
            delta.changed.push(Change {
                index,
                kind: ChangeKind::State {
                    from: o.state,
                    to: s.state,
                },
            });
        }
        // A socket whose file was released (inode → 0) went to the kernel as part of its
        // close: the state change says it, not an owner change.
        let released = o.inode != 0 && s.inode == 0;
        if o.owners != s.owners && !released {
            delta.changed.push(Change {
                index,
                kind: ChangeKind::Owners {
                    from: o.owners.clone(),
                    to: s.owners.clone(),
                },
            });
        }
    }
    // What was not matched closed; in prev's order so output is stable. A socket listed
    // twice in the older dump (a race inside the kernel's dump) shares the fate of the
    // entry its key points at.
    for (i, s) in prev.iter().enumerate() {
        if matched[i] {
            continue;
        }
        let same = older(s);
        if same.is_some_and(|j| matched.get(j as usize).copied().unwrap_or(false)) {
            continue;
        }
        delta.closed.push(s.clone());
        delta.closed_at.push(i);
    }
    delta
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::socket::{OwnerStatus, Proto};
    use proptest::prelude::*;
    use smallvec::smallvec;
    use std::collections::HashSet;
    use std::net::SocketAddr;

    pub(crate) fn sock(port: u16, rport: u16, inode: u64, state: State, owner: u32) -> Socket {
        Socket {
            proto: Proto::Tcp,
            local: SocketAddr::from(([127, 0, 0, 1], port)),
            remote: SocketAddr::from(([127, 0, 0, 1], rport)),
            state,
            recv_q: 0,
            send_q: 0,
            timer: None,
            uid: 0,
            inode,
            cookie: 0,
            netns: 0,
            v6only: false,
            owners: if owner == 0 {
                smallvec![]
            } else {
                smallvec![owner]
            },
            owner_status: if owner == 0 {
                OwnerStatus::Kernel
            } else {
                OwnerStatus::Known
            },
        }
    }

    #[test]
    fn reports_opened_closed_and_changes() {
        let prev = vec![
            sock(80, 0, 1, State::Listen, 10),
            sock(81, 5000, 2, State::Estab, 10),
            sock(82, 5001, 3, State::Estab, 11),
        ];
        let next = vec![
            sock(81, 5000, 2, State::CloseWait, 10),
            sock(82, 5001, 3, State::Estab, 12),
            sock(83, 0, 4, State::Listen, 13),
        ];
        let d = diff_sockets(&prev, &next);
        assert_eq!(d.opened, vec![2]);
        assert_eq!(d.closed.len(), 1);
        assert_eq!(d.closed[0].local.port(), 80);
        assert_eq!(
            d.changed,
            vec![
                Change {
                    index: 0,
                    kind: ChangeKind::State {
                        from: State::Estab,
                        to: State::CloseWait
                    }
                },
                Change {
                    index: 1,
                    kind: ChangeKind::Owners {
                        from: smallvec![11],
                        to: smallvec![12]
                    }
                },
            ]
        );
    }

    #[test]
    fn same_port_new_inode_is_close_plus_open() {
        let d = diff_sockets(
            &[sock(80, 0, 1, State::Listen, 10)],
            &[sock(80, 0, 2, State::Listen, 10)],
        );
        assert_eq!((d.opened.len(), d.closed.len(), d.changed.len()), (1, 1, 0));
    }

    /// The owner closes its end: the kernel keeps the same socket (same cookie) in
    /// FIN-WAIT-2 without a file. One state change, not a close and an open, and not an
    /// owner change to nobody.
    #[test]
    fn a_client_side_close_is_a_state_change() {
        let mut est = sock(50_000, 80, 7, State::Estab, 10);
        est.cookie = 99;
        let mut fin = sock(50_000, 80, 0, State::FinWait2, 0);
        fin.cookie = 99;
        let d = diff_sockets(&[est.clone()], &[fin]);
        assert_eq!((d.opened.len(), d.closed.len()), (0, 0));
        assert_eq!(
            d.changed,
            vec![Change {
                index: 0,
                kind: ChangeKind::State {
                    from: State::Estab,
                    to: State::FinWait2
                }
            }]
        );
        // A TIME-WAIT is a new kernel object with a cookie of its own.
        let mut tw = sock(50_000, 80, 0, State::TimeWait, 0);
        tw.cookie = 100;
        let d = diff_sockets(&[est], &[tw]);
        assert_eq!((d.opened.len(), d.closed.len()), (1, 1));
    }

    fn arb_sockets() -> impl Strategy<Value = Vec<Socket>> {
        proptest::collection::vec((1u16..40, 0u16..4, 0u64..30, 0usize..11, 0u32..4), 0..60)
            .prop_map(|v| {
                let mut seen: HashSet<SocketKey> = HashSet::new();
                v.into_iter()
                    .map(|(p, r, i, st, o)| {
                        let mut s = sock(p, r, i, State::ALL[st], o);
                        // Some with a cookie (unique per socket, as the kernel's are).
                        if i % 2 == 1 {
                            s.cookie = u64::from(p) * 10_000 + u64::from(r) * 100 + i + 1;
                        }
                        s
                    })
                    .filter(|s| seen.insert(s.key()))
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn diff_with_itself_is_empty(a in arb_sockets()) {
            prop_assert!(diff_sockets(&a, &a).is_empty());
        }

        #[test]
        fn opened_and_closed_turn_prev_into_next(a in arb_sockets(), b in arb_sockets()) {
            let d = diff_sockets(&a, &b);
            let mut keys: HashSet<SocketKey> = a.iter().map(Socket::key).collect();
            for c in &d.closed {
                prop_assert!(keys.remove(&c.key()));
            }
            for &i in &d.opened {
                prop_assert!(keys.insert(b[i].key()));
            }
            let want: HashSet<SocketKey> = b.iter().map(Socket::key).collect();
            prop_assert_eq!(keys, want);
            for c in &d.changed {
                prop_assert!(!d.opened.contains(&c.index));
            }
            // Each socket of the newer list points at itself in the older one, or is new.
            prop_assert_eq!(d.previous.len(), b.len());
            for (i, &j) in d.previous.iter().enumerate() {
                if j == NEW {
                    prop_assert!(d.opened.contains(&i));
                } else {
                    prop_assert_eq!(a[j as usize].key(), b[i].key());
                }
            }
        }
    }
}
