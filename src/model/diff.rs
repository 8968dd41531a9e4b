//! Diff of two snapshots by socket identity: what opened, closed, or changed.

use super::snapshot::Snapshot;
use super::socket::{Pids, Socket, SocketKey, State};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

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
/// The kernel dumps its hash tables in the same order every time, and a socket that stays
/// keeps its place relative to the others: the two lists are walked in step, and only
/// sockets out of step (opened, closed, moved) are parked in small maps by [`SocketKey`]
/// until their partner turns up. No index of the whole older list is built (at 500k
/// sockets one weighed 25 MB); lists in any other order still diff right, with bigger
/// maps.
pub fn diff_sockets(prev: &[Socket], next: &[Socket]) -> Delta {
    let (previous, parked_old, twice) = match_in_step(prev, next);
    let mut delta = changes(prev, next, previous);
    closed(prev, next, parked_old, twice, &mut delta);
    delta
}

/// Sockets out of step a poll that the parking maps take without growing.
const PARK_ROOM: usize = 4096;

/// A parking map kept from one diff to the next on the same thread (emptied): at
/// [`PARK_ROOM`] each is half a megabyte, a fresh mapping with its page faults every poll
/// when made anew.
type Parking = std::thread::LocalKey<std::cell::RefCell<HashMap<SocketKey, u32>>>;

thread_local! {
    static PARKED_OLD: std::cell::RefCell<HashMap<SocketKey, u32>> = Default::default();
    static PARKED_NEW: std::cell::RefCell<HashMap<SocketKey, u32>> = Default::default();
}

/// The map kept in `slot` (empty when there is none), with room for `room`.
fn take_parking(slot: &'static Parking, room: usize) -> HashMap<SocketKey, u32> {
    let mut map = slot
        .try_with(|p| p.try_borrow_mut().map(|mut p| std::mem::take(&mut *p)).ok())
        .ok()
        .flatten()
        .unwrap_or_default();
    map.reserve(room);
    map
}

/// Keeps `map` (emptied) in `slot` for the next diff on this thread, unless a burst left
/// it far roomier than a poll's churn needs.
fn give_back_parking(slot: &'static Parking, mut map: HashMap<SocketKey, u32>) {
    if map.capacity() > 4 * PARK_ROOM {
        return;
    }
    map.clear();
    let _ = slot.try_with(|p| {
        if let Ok(mut p) = p.try_borrow_mut() {
            *p = map;
        }
    });
}

/// Walks both dumps in the kernel's order: `previous[j]` is the index in `prev` of
/// `next[j]` (or `NEW`). Returns also the older sockets left unmatched (parked), and those
/// an older one with the same key parked already (a socket listed twice: a race inside
/// the kernel's dump).
fn match_in_step(
    prev: &[Socket],
    next: &[Socket],
) -> (Vec<u32>, HashMap<SocketKey, u32>, Vec<u32>) {
    let mut previous = vec![NEW; next.len()];
    // Room for a churn of a few thousand sockets a poll made up front: growing the maps
    // step by step (each step rehashing) was half the diff's time under churn.
    let room = prev.len().min(next.len()).min(PARK_ROOM);
    let mut parked_old = take_parking(&PARKED_OLD, room);
    let mut parked_new = take_parking(&PARKED_NEW, room);
    let mut twice: Vec<u32> = Vec::new();
    let (mut i, mut j) = (0usize, 0usize);
    while i < prev.len() || j < next.len() {
        let (old, new) = (prev.get(i), next.get(j));
        if let (Some(o), Some(n)) = (old, new)
            && same_socket(o, n)
        {
            previous[j] = i as u32;
            i += 1;
            j += 1;
            continue;
        }
        if let Some(n) = new
            && let Some(at) = parked_old.remove(&n.key())
        {
            previous[j] = at;
            j += 1;
            continue;
        }
        if let Some(o) = old
            && let Some(at) = parked_new.remove(&o.key())
        {
            previous[at as usize] = i as u32;
            i += 1;
            continue;
        }
        if let Some(o) = old {
            match parked_old.entry(o.key()) {
                std::collections::hash_map::Entry::Occupied(_) => twice.push(i as u32),
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(i as u32);
                }
            }
            i += 1;
        }
        if let Some(n) = new {
            // A newer socket listed twice: the first takes the match, the second opened.
            parked_new.entry(n.key()).or_insert(j as u32);
            j += 1;
        }
    }
    give_back_parking(&PARKED_NEW, parked_new);
    (previous, parked_old, twice)
}

/// Opened sockets and the changes of the matched ones.
fn changes(prev: &[Socket], next: &[Socket], previous: Vec<u32>) -> Delta {
    let mut delta = Delta {
        previous,
        ..Delta::default()
    };
    for (index, s) in next.iter().enumerate() {
        let j = delta.previous[index];
        if j == NEW {
            delta.opened.push(index);
            continue;
        }
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

    delta
}

/// What is still parked was not matched (a match takes it out of the map): it closed.
/// In prev's order so output is stable. A socket listed twice in the older dump shares
/// the fate of its other entry: it did not close if a newer socket has its key.
fn closed(
    prev: &[Socket],
    next: &[Socket],
    parked_old: HashMap<SocketKey, u32>,
    twice: Vec<u32>,
    delta: &mut Delta,
) {
    let mut unmatched: Vec<u32> = parked_old.values().copied().chain(twice).collect();
    give_back_parking(&PARKED_OLD, parked_old);
    unmatched.sort_unstable();
    if !unmatched.is_empty() {
        // Which of them a newer socket still has (first by cookie or inode, a cheap
        // look at every newer socket; then by whole key).
        let ids: HashSet<u64> = unmatched
            .iter()
            .map(|&k| prev[k as usize].ident())
            .collect();
        let present: HashSet<SocketKey> = next
            .iter()
            .filter(|s| ids.contains(&s.ident()))
            .map(Socket::key)
            .collect();
        if !present.is_empty() {
            unmatched.retain(|&k| !present.contains(&prev[k as usize].key()));
        }
    }
    for k in unmatched {
        let s = &prev[k as usize];
        delta.closed.push(s.clone());
        delta.closed_at.push(k as usize);
    }
}

/// The same socket in two dumps: same namespace, protocol, addresses and cookie (or
/// inode, without cookies).
fn same_socket(a: &Socket, b: &Socket) -> bool {
    a.cookie == b.cookie
        && a.netns == b.netns
        && a.addrs == b.addrs
        && a.proto == b.proto
        && (a.cookie != 0 || a.inode == b.inode)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::socket::{OwnerStatus, Proto};
    use proptest::prelude::*;
    use std::collections::HashSet;
    use std::net::SocketAddr;

    pub(crate) fn sock(port: u16, rport: u16, inode: u32, state: State, owner: u32) -> Socket {
        Socket {
            proto: Proto::Tcp,
            addrs: crate::model::AddrPair::new(
                SocketAddr::from(([127, 0, 0, 1], port)).into(),
                SocketAddr::from(([127, 0, 0, 1], rport)).into(),
            ),
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
                Pids::new()
            } else {
                Pids::from_slice(&[owner])
            },
            owner_status: if owner == 0 {
                OwnerStatus::Kernel
            } else {
                OwnerStatus::Known
            },
            maker: 0,
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
        assert_eq!(d.closed[0].local().port(), 80);
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
                        from: Pids::from_slice(&[11]),
                        to: Pids::from_slice(&[12])
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
        proptest::collection::vec((1u16..40, 0u16..4, 0u32..30, 0usize..11, 0u32..4), 0..60)
            .prop_map(|v| {
                let mut seen: HashSet<SocketKey> = HashSet::new();
                v.into_iter()
                    .map(|(p, r, i, st, o)| {
                        let mut s = sock(p, r, i, State::ALL[st], o);
                        // Some with a cookie (unique per socket, as the kernel's are).
                        if i % 2 == 1 {
                            s.cookie =
                                u64::from(p) * 10_000 + u64::from(r) * 100 + u64::from(i) + 1;
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

        /// The usual case: the newer dump is the older one in the same order, with
        /// sockets gone, new ones in between and a few moved.
        #[test]
        fn a_dump_in_the_same_order_diffs_in_step(
            a in arb_sockets(),
            edits in proptest::collection::vec((0usize..4, 0usize..60, 0u16..60), 0..12),
        ) {
            let mut b = a.clone();
            for (kind, at, port) in edits {
                let at = at.min(b.len());
                match kind {
                    0 if at < b.len() => { b.remove(at); }
                    1 => {
                        let mut s = sock(1000 + port, 9, 500 + u32::from(port), State::Estab, 1);
                        s.cookie = 900_000 + u64::from(port);
                        if !b.iter().any(|o| o.key() == s.key()) {
                            b.insert(at, s);
                        }
                    }
                    2 if at < b.len() => {
                        let s = b.remove(at);
                        b.insert(at / 2, s);
                    }
                    _ => {}
                }
            }
            let d = diff_sockets(&a, &b);
            let before: HashSet<SocketKey> = a.iter().map(Socket::key).collect();
            let after: HashSet<SocketKey> = b.iter().map(Socket::key).collect();
            let closed: HashSet<SocketKey> = d.closed.iter().map(Socket::key).collect();
            let opened: HashSet<SocketKey> = d.opened.iter().map(|&i| b[i].key()).collect();
            prop_assert_eq!(closed, before.difference(&after).cloned().collect::<HashSet<_>>());
            prop_assert_eq!(opened, after.difference(&before).cloned().collect::<HashSet<_>>());
            for (i, &j) in d.previous.iter().enumerate() {
                prop_assert!(j == NEW || a[j as usize].key() == b[i].key());
            }
        }

        /// A socket the older dump listed twice (a race inside the kernel's dump) that is
        /// still there did not close, wherever its second entry sits.
        #[test]
        fn a_socket_listed_twice_that_stays_did_not_close(
            a in arb_sockets(),
            pick in 0usize..60,
            at in 0usize..61,
        ) {
            prop_assume!(!a.is_empty());
            let mut older = a.clone();
            older.insert(at.min(older.len()), a[pick % a.len()].clone());
            let d = diff_sockets(&older, &a);
            prop_assert!(d.is_empty(), "{:?}", d);
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
