//! Between the polls: sockets the kernel freed (sock_diag's destroy events), what
//! `tcp_info` says about a connection, and who made a connection that is now closed or
//! in TIME-WAIT. Pure values; `collect` reads them, the diff attributes them.

use super::snapshot::Snapshot;
use super::socket::{Addr, Proto, Socket, State};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What `tcp_info` says about a TCP connection (`INET_DIAG_INFO`), the fields people ask
/// for. Byte counts are the kernel's (`bytes_acked` counts our SYN, on the end that
/// connected, and FIN too; `bytes_sent` counts payload only: see [`TcpInfo::sent`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TcpInfo {
    /// Smoothed round-trip time, µs.
    pub rtt_us: u32,
    pub rttvar_us: u32,
    /// Segments retransmitted over the connection's life.
    pub retrans: u32,
    /// Bytes the peer acknowledged (`tcpi_bytes_acked`).
    pub bytes_acked: u64,
    /// Bytes received in order (`tcpi_bytes_received`).
    pub bytes_received: u64,
    /// Since the last data was sent / received, ms.
    pub last_send_ms: u32,
    pub last_recv_ms: u32,
    /// The kernel's estimate of the delivery rate, bytes/s.
    pub delivery_rate: u64,
    /// Payload bytes sent, each once (`tcpi_bytes_sent` less `tcpi_bytes_retrans`;
    /// Linux 4.19 and later, else `None`).
    pub payload_sent: Option<u64>,
}

impl TcpInfo {
    /// Payload bytes sent: `bytes_sent` less retransmissions where the kernel has them
    /// (no SYN or FIN in it). Before 4.19, `bytes_acked` less the SYN (counted only on the
    /// end that connected: measured, a listener's end counts none) and the FIN on a
    /// closed connection: there the SYN is assumed.
    pub fn sent(&self, closed: bool) -> u64 {
        self.payload_sent
            .unwrap_or_else(|| self.bytes_acked.saturating_sub(1 + u64::from(closed)))
    }

    /// Payload bytes received: `bytes_received` less the peer's FIN on a closed
    /// connection (the kernel counts it once the FIN is in).
    pub fn received(&self, closed: bool) -> u64 {
        self.bytes_received.saturating_sub(u64::from(closed))
    }

    /// Since the last data either way, ms.
    pub fn idle_ms(&self) -> u32 {
        self.last_send_ms.min(self.last_recv_ms)
    }
}

/// A socket the kernel freed, as its destroy event says. No pid: the process's file
/// descriptor is gone by then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Freed {
    pub proto: Proto,
    pub local: Addr,
    pub remote: Addr,
    /// Inode of its network namespace; 0 for the host (as a socket's).
    pub netns: u32,
    pub cookie: u64,
    pub uid: u32,
    /// TCP only.
    pub tcp: Option<TcpInfo>,
}

/// Destroy events a subscriber lost (the kernel's queue overflowed: `ENOBUFS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lost {
    /// Overflows since the collector started.
    pub times: u64,
    /// When the last one was noticed, ms since the Unix epoch.
    pub last_ms: u64,
}

impl Lost {
    /// Both subscribers' losses as one: overflows add up, the last is the later.
    pub fn plus(self, other: Lost) -> Lost {
        Lost {
            times: self.times + other.times,
            last_ms: self.last_ms.max(other.last_ms),
        }
    }

    /// What the header and `watch` say once some were lost: `events lost: 2 at
    /// 10:42:07; resynced` (the snapshot that noticed it is a full dump, so the table is
    /// right again; the connections freed in the gap are not coming back). None when
    /// nothing was lost.
    pub fn sentence(&self) -> Option<String> {
        (self.times > 0).then(|| {
            let at = super::time::clock(
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.last_ms),
            );
            format!("events lost: {} at {at}; resynced", self.times)
        })
    }
}

/// Who made a connection, best evidence first.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Maker {
    /// Its owner, when a poll saw it open. (Names are shared: thousands of connections
    /// a second may name the same process.)
    Owner { pid: u32, name: Arc<str> },
    /// It came in on a listener of this process (no poll saw it open).
    Listener { pid: u32, name: Arc<str> },
    /// A poll saw it open without a visible owner: the uid of its row in the dump.
    Uid { uid: u32, user: Option<String> },
    /// No poll saw it and it did not come in on a listener: nothing is known. (A destroy
    /// event carries no uid: the kernel leaves it 0, as it leaves the inode, so it is
    /// never taken for root's.)
    Unseen,
}

impl Maker {
    /// "4242/php-fpm", "uid 33 (www-data)".
    pub fn text(&self) -> String {
        match self {
            Maker::Owner { pid, name } | Maker::Listener { pid, name } => format!("{pid}/{name}"),
            Maker::Uid { uid, user: Some(u) } => format!("uid {uid} ({u})"),
            Maker::Uid { uid, user: None } => format!("uid {uid}"),
            Maker::Unseen => String::new(),
        }
    }

    /// The process, when one is known.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Maker::Owner { pid, .. } | Maker::Listener { pid, .. } => Some(*pid),
            Maker::Uid { .. } | Maker::Unseen => None,
        }
    }
}

/// A connection the kernel freed, with who made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    pub freed: Freed,
    /// The state a poll last saw it in; `None`: no poll saw it (shorter than one poll).
    pub last_state: Option<super::State>,
    pub by: Maker,
}

impl Closed {
    /// No poll saw it: it opened and closed between two snapshots.
    pub fn short_lived(&self) -> bool {
        self.last_state.is_none()
    }
}

/// A TCP connection's identity across its life: namespace, local and remote address. A
/// TIME-WAIT has its connection's tuple, but not always its cookie: the kernel copies the
/// cookie into the TIME-WAIT only when one was made before (a dump asked for it), so a
/// connection no poll saw gets another cookie in TIME-WAIT than in its destroy event.
pub type Tuple = (u32, Addr, Addr);

/// Who made the connection each TIME-WAIT socket came from, by its tuple. Kept by the
/// diff from one snapshot to the next; at most [`Makers::CAP`] (a storm beyond it is left
/// unattributed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Makers {
    map: HashMap<Tuple, Known>,
}

/// A maker, and the socket it names.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Known {
    maker: Maker,
    /// The cookie of the socket it was learnt from; once a TIME-WAIT (or orphan) row
    /// took it (`bound`), that row's. A row with another cookie on the same addresses is
    /// another socket: a connection that took them over, whose maker this is not.
    cookie: u64,
    bound: bool,
}

impl Makers {
    /// Most TIME-WAIT makers kept.
    pub const CAP: usize = 1 << 18;

    pub fn get(&self, key: &Tuple) -> Option<&Maker> {
        self.map.get(key).map(|k| &k.maker)
    }

    /// The maker learnt from the socket with `cookie` itself: a new connection on the
    /// same addresses (a TIME-WAIT reused) is another socket, whose maker this is not.
    fn of_socket(&self, key: &Tuple, cookie: u64) -> Option<&Maker> {
        self.map
            .get(key)
            .filter(|k| cookie != 0 && k.cookie == cookie)
            .map(|k| &k.maker)
    }

    /// The maker of the lingering row `key` with `cookie`: the first row to come after
    /// what it was learnt from takes it (a connection no poll saw has another cookie in
    /// TIME-WAIT than in its destroy event), and keeps it to itself.
    fn of_row(&mut self, key: &Tuple, cookie: u64) -> Option<&Maker> {
        let k = self.map.get_mut(key)?;
        if !k.bound {
            (k.cookie, k.bound) = (cookie, true);
        }
        (k.cookie == cookie).then_some(&k.maker)
    }

    fn forget(&mut self, key: &Tuple) {
        self.map.remove(key);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn insert(&mut self, key: Tuple, maker: Maker, cookie: u64) {
        if self.map.len() < Self::CAP || self.map.contains_key(&key) {
            let bound = false;
            self.map.insert(
                key,
                Known {
                    maker,
                    cookie,
                    bound,
                },
            );
        }
    }
}

/// A connection the kernel holds on to after its process closed it: TIME-WAIT, or an
/// orphan still closing (FIN-WAIT-1/2, CLOSING, LAST-ACK, no file refers to it). Its
/// full socket's destroy event came when its process let go; the row goes on with the
/// same tuple, and who made it is the connection's maker.
pub fn lingers(s: &Socket) -> bool {
    s.proto.is_tcp()
        && (s.state == State::TimeWait
            || (s.inode == 0
                && matches!(
                    s.state,
                    State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck
                )))
}

/// The owner of a socket as a maker: its first pid, named from the snapshot. `names`
/// keeps each pid's name from `snap` once made (under churn thousands of connections a
/// second have the same few owners).
fn owner_of(snap: &Snapshot, s: &Socket, names: &mut HashMap<u32, Arc<str>>) -> Option<Maker> {
    let pid = *s.owners.first()?;
    let name = names
        .entry(pid)
        .or_insert_with(|| snap.processes.get(&pid).map_or("", |p| &p.name).into())
        .clone();
    Some(Maker::Owner { pid, name })
}

/// Attributes the sockets freed since `prev` (`next.freed`), best evidence first: seen
/// open by a poll (same cookie) → its owner; TCP in on a listener of the same namespace
/// → the listener's owner; a poll saw it without an owner → its row's uid; else unseen. Then marks each TIME-WAIT socket of `next` with
/// who made its connection (`Socket::maker`, an index into `next.makers`), from what
/// `known` kept or what `prev` saw open; `known` keeps only those.
pub fn attribute(prev: Option<&Snapshot>, next: &mut Snapshot, known: &mut Makers) -> Vec<Closed> {
    let lingering: HashSet<Tuple> = next
        .sockets
        .iter()
        .filter(|s| lingers(s))
        .map(|s| (s.netns, s.local(), s.remote()))
        .collect();
    // A full table's rows are all there is: a maker of no lingering row would be
    // forgotten below anyway, so it is not kept at all (under churn, most connections
    // end with a reset and leave no row).
    let keep = (next.scope == super::snapshot::Scope::All).then_some(&lingering);
    let freed = std::mem::take(&mut next.freed);
    let closed = if freed.is_empty() {
        Vec::new()
    } else {
        closed(prev, next, &freed, known, keep)
    };
    next.freed = freed;
    mark_time_waits(prev, next, known, &lingering);
    closed
}

/// [`attribute`] for a round that left the table as it was (`snap`): only the
/// connections freed meanwhile, with who made them.
pub fn attribute_freed(snap: &Snapshot, freed: &[Freed], known: &mut Makers) -> Vec<Closed> {
    if freed.is_empty() {
        return Vec::new();
    }
    closed(None, snap, freed, known, None)
}

/// What a poll saw of a socket freed since: its state, its owner (else the uid of its
/// row), its addresses and its `tcp_info` (when traffic is on).
struct Polled {
    state: State,
    by: Maker,
    local: Addr,
    remote: Addr,
    tcp: Option<TcpInfo>,
}

/// The connections in `freed`, with who made them; `known` learns the makers of those
/// whose tuple is in `keep` (all when `None`), for the TIME-WAIT rows they leave.
fn closed(
    prev: Option<&Snapshot>,
    next: &Snapshot,
    freed: &[Freed],
    known: &mut Makers,
    keep: Option<&HashSet<Tuple>>,
) -> Vec<Closed> {
    // Where a poll saw each freed socket (in `prev`?, its index), by namespace and
    // cookie: what it saw is read only for those found, and the map stays small (a
    // map of what was seen weighed 1.5 MB a second under a churn of 1,900/s).
    let mut at: HashMap<(u32, u64), Option<(bool, u32)>> =
        freed.iter().map(|f| ((f.netns, f.cookie), None)).collect();
    for (older, snap) in prev.map(|p| (true, p)).into_iter().chain([(false, next)]) {
        for (i, s) in snap.sockets.iter().enumerate() {
            if s.cookie != 0
                && let Some(slot @ None) = at.get_mut(&(s.netns, s.cookie))
            {
                *slot = Some((older, i as u32));
            }
        }
    }
    // Each snapshot's process names, made once per pid.
    let mut names: [HashMap<u32, Arc<str>>; 2] = Default::default();
    let mut polled = |key: &(u32, u64)| {
        let (older, i) = (*at.get(key)?)?;
        let snap = if older { prev? } else { next };
        let s = snap.sockets.get(i as usize)?;
        let by = owner_of(snap, s, &mut names[usize::from(older)]).unwrap_or_else(|| Maker::Uid {
            uid: s.uid,
            user: snap.user_name(s.uid).map(str::to_owned),
        });
        Some(Polled {
            state: s.state,
            by,
            local: s.local(),
            remote: s.remote(),
            tcp: snap.tcp_of(s).copied(),
        })
    };
    let mut listeners: Option<HashMap<(u32, u16), Maker>> = None;
    let mut out = Vec::with_capacity(freed.len());
    for f in freed {
        let found = polled(&(f.netns, f.cookie));
        if found.is_none() && never_connected(f) {
            continue;
        }
        let found = found.as_ref();
        let (last_state, by) = match found {
            Some(
                p @ Polled {
                    by: Maker::Owner { .. },
                    ..
                },
            ) => (Some(p.state), p.by.clone()),
            found => {
                let listeners = listeners.get_or_insert_with(|| listeners_of(next));
                let on = f
                    .proto
                    .is_tcp()
                    .then(|| listeners.get(&(f.netns, f.local.port())))
                    .flatten();
                // What an earlier round found out about this very socket (a poll saw it
                // open, then only its orphan): better than the orphan's uid. Learnt
                // from another socket on the same addresses (a TIME-WAIT a new
                // connection took over), it is not this connection's maker.
                let tuple = found.map_or((f.netns, f.local, f.remote), |p| {
                    (f.netns, p.local, p.remote)
                });
                let earlier = f
                    .proto
                    .is_tcp()
                    .then(|| known.of_socket(&tuple, f.cookie))
                    .flatten();
                let by = match (on, found, earlier) {
                    (Some(Maker::Owner { pid, name }), _, _) => Maker::Listener {
                        pid: *pid,
                        name: name.clone(),
                    },
                    (_, _, Some(m)) => m.clone(),
                    (_, Some(p), None) => p.by.clone(),
                    (_, None, None) => Maker::Unseen,
                };
                (found.map(|p| p.state), by)
            }
        };
        let mut freed = f.clone();
        // The addresses a poll saw: a connection reset by its own side (SO_LINGER 0) is
        // disconnected before it is freed, and its event says 0.0.0.0 and port 0. Its
        // counters are zeroed too: what the poll read is then the better (lower) bound.
        if let Some(p) = found {
            (freed.local, freed.remote) = (p.local, p.remote);
            if freed.tcp.as_ref().is_some_and(zeroed) && p.tcp.is_some() {
                freed.tcp = p.tcp;
            }
        }
        // The addresses are this connection's now: what an earlier one on them left
        // (a TIME-WAIT it took over) no longer names who made the TIME-WAIT to come.
        let tuple = (freed.netns, freed.local, freed.remote);
        if keep.is_some_and(|k| !k.contains(&tuple)) {
            // Nothing to name: no row lingers on these addresses.
        } else if f.proto.is_tcp() && by != Maker::Unseen {
            known.insert(tuple, by.clone(), freed.cookie);
        } else if f.proto.is_tcp() {
            known.forget(&tuple);
        }
        out.push(Closed {
            freed,
            last_state,
            by,
        });
    }
    out
}

/// `tcp_info` as the kernel leaves it after disconnecting a socket: nothing counted.
fn zeroed(t: &TcpInfo) -> bool {
    t.rtt_us == 0 && t.bytes_acked == 0 && t.bytes_received == 0 && t.payload_sent.unwrap_or(0) == 0
}

/// A freed socket that was never a connection: no peer at all (unspecified address, port
/// 0): a bind probe (`why`, `wait-free` and `free-port` make them), a socket bound and
/// closed, a listener no poll saw, an unconnected UDP socket. A connection reset by its
/// own side loses its peer port, local address and `tcp_info` counters before it is
/// freed (measured), but keeps its peer's address.
fn never_connected(f: &Freed) -> bool {
    f.remote.port() == 0 && f.remote.ip().is_unspecified()
}

/// TCP listeners with a visible owner, by (namespace, port).
fn listeners_of(snap: &Snapshot) -> HashMap<(u32, u16), Maker> {
    let mut names = HashMap::default();
    snap.sockets
        .iter()
        .filter(|s| s.proto.is_tcp() && s.state == State::Listen)
        .filter_map(|s| {
            let by = owner_of(snap, s, &mut names)?;
            Some(((s.netns, s.local().port()), by))
        })
        .collect()
}

/// Marks each TIME-WAIT socket of `next` (and each orphan still closing: see
/// [`lingers`]) with its maker, and keeps in `known` only the makers of those that still
/// exist: an orphan in FIN-WAIT-2 that becomes a TIME-WAIT later keeps its maker.
fn mark_time_waits(
    prev: Option<&Snapshot>,
    next: &mut Snapshot,
    known: &mut Makers,
    tw: &HashSet<Tuple>,
) {
    // A connection a poll saw open that is a TIME-WAIT now: its owner made it, even when
    // its destroy event was lost.
    let missing: HashSet<&Tuple> = tw.iter().filter(|k| known.get(k).is_none()).collect();
    if let Some(prev) = prev.filter(|_| !missing.is_empty()) {
        let mut names = HashMap::default();
        for s in prev.sockets.iter().filter(|s| !lingers(s)) {
            let key = (s.netns, s.local(), s.remote());
            if missing.contains(&key)
                && let Some(m) = owner_of(prev, s, &mut names)
            {
                known.insert(key, m, s.cookie);
            }
        }
    }
    // A listeners-only snapshot has no TIME-WAIT rows: what is known stays for the next
    // full one.
    if next.scope == super::snapshot::Scope::All {
        known.map.retain(|k, _| tw.contains(k));
    }
    let mut index: HashMap<Maker, u32> = HashMap::default();
    let mut makers: Vec<Maker> = Vec::new();
    for s in next.sockets.iter_mut().filter(|s| lingers(s)) {
        let Some(m) = known.of_row(&(s.netns, s.local(), s.remote()), s.cookie) else {
            continue;
        };
        let at = match index.get(m) {
            Some(&at) => at,
            None => {
                makers.push(m.clone());
                index.insert(m.clone(), makers.len() as u32);
                makers.len() as u32
            }
        };
        s.maker = at;
    }
    next.makers = makers;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{process, snapshot, sock};
    use crate::model::Scope;

    fn freed(local: &str, remote: &str, cookie: u64, uid: u32) -> Freed {
        Freed {
            proto: Proto::Tcp,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            netns: 0,
            cookie,
            uid,
            tcp: Some(TcpInfo {
                bytes_acked: 1002,
                bytes_received: 1,
                ..TcpInfo::default()
            }),
        }
    }

    /// A poll saw the connection open (owner 42); it closed actively and is a TIME-WAIT
    /// now: the closed event and the TIME-WAIT row both name 42.
    #[test]
    fn a_connection_seen_open_is_its_owners_and_so_is_its_time_wait() {
        let conn = sock(
            Proto::Tcp,
            "127.0.0.1:5000",
            "127.0.0.1:40000",
            State::Estab,
            77,
            &[42],
        );
        let prev = snapshot(0, Scope::All, vec![conn], &[process(42, "php-fpm", 'S')]);
        let tw = crate::app::testkit::time_wait("127.0.0.1:5000", "127.0.0.1:40000", 77);
        let mut next = snapshot(1, Scope::All, vec![tw], &[]);
        next.freed = vec![freed("127.0.0.1:5000", "127.0.0.1:40000", 77, 1000)];
        let mut known = Makers::default();
        let closed = attribute(Some(&prev), &mut next, &mut known);
        assert_eq!(closed.len(), 1);
        assert_eq!(
            closed[0].by,
            Maker::Owner {
                pid: 42,
                name: "php-fpm".into()
            }
        );
        assert!(!closed[0].short_lived());
        assert_eq!(closed[0].freed.tcp.unwrap().sent(true), 1000);
        let tw = &next.sockets[0];
        assert_eq!(
            next.maker_of(tw).map(Maker::text).as_deref(),
            Some("42/php-fpm")
        );
        // The next snapshot still knows it (no event, no poll of the connection).
        let prev = std::sync::Arc::new(next);
        let mut again = snapshot(2, Scope::All, prev.sockets.clone(), &[]);
        again.sockets[0].maker = 0;
        attribute(Some(&prev), &mut again, &mut known);
        assert_eq!(
            again.maker_of(&again.sockets[0]).and_then(Maker::pid),
            Some(42)
        );
        // Gone: forgotten.
        let mut empty = snapshot(3, Scope::All, vec![], &[]);
        attribute(Some(&again), &mut empty, &mut known);
        assert!(known.is_empty());
    }

    /// A new connection on the addresses of a TIME-WAIT another process left (the kernel
    /// lets one take a TIME-WAIT over) is not that process's: its closed event and the
    /// TIME-WAIT it leaves name no one rather than the earlier maker (review finding: a
    /// user's connections were blamed on an exited root process, for as long as the
    /// user liked).
    #[test]
    fn a_connection_reusing_a_time_waits_addresses_is_not_its_makers() {
        use crate::app::testkit::time_wait;
        let (l, r) = ("127.0.0.1:47301", "127.0.0.1:47200");
        let mut conn = sock(Proto::Tcp, l, r, State::Estab, 77, &[42]);
        conn.cookie = 77;
        let prev = snapshot(0, Scope::All, vec![conn], &[process(42, "innocent", 'S')]);
        // The innocent's connection closes actively: its TIME-WAIT is 42's.
        let innocents = |known: &mut Makers| {
            let mut one = snapshot(1, Scope::All, vec![time_wait(l, r, 77)], &[]);
            one.freed = vec![freed(l, r, 77, 0)];
            attribute(Some(&prev), &mut one, known);
            assert_eq!(one.maker_of(&one.sockets[0]).and_then(Maker::pid), Some(42));
            one
        };
        let mut known = Makers::default();
        let one = innocents(&mut known);
        // Another socket (cookie 99) takes the addresses over, opens and closes between
        // two polls: no poll saw it, no listener of ours took it.
        let mut two = snapshot(2, Scope::All, vec![time_wait(l, r, 100)], &[]);
        two.freed = vec![freed(l, r, 99, 0)];
        let closed = attribute(Some(&one), &mut two, &mut known);
        assert_eq!(closed[0].by, Maker::Unseen);
        assert_eq!(
            two.maker_of(&two.sockets[0]),
            None,
            "its TIME-WAIT is no one's"
        );

        // Its destroy event late or lost: the TIME-WAIT on those addresses is another
        // socket than the one the maker was taken by, all the same.
        let mut known = Makers::default();
        let one = innocents(&mut known);
        let mut two = snapshot(2, Scope::All, vec![time_wait(l, r, 100)], &[]);
        attribute(Some(&one), &mut two, &mut known);
        assert_eq!(two.maker_of(&two.sockets[0]), None);
    }

    /// The server closed first: its end is an orphan in FIN-WAIT-2 (no file, same tuple)
    /// for a round or more before it is a TIME-WAIT. The orphan carries its connection's
    /// maker, and so does the TIME-WAIT it becomes (a round that kept only TIME-WAIT
    /// makers forgot it while it was an orphan).
    #[test]
    fn an_orphan_in_fin_wait_2_keeps_its_maker_into_time_wait() {
        let listener = sock(
            Proto::Tcp,
            "127.0.0.1:5000",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[42],
        );
        let procs = [process(42, "php-fpm", 'S')];
        let mut orphan = crate::app::testkit::time_wait("127.0.0.1:5000", "127.0.0.1:40000", 0);
        orphan.state = State::FinWait2;
        let mut one = snapshot(1, Scope::All, vec![listener.clone(), orphan], &procs);
        one.freed = vec![freed("127.0.0.1:5000", "127.0.0.1:40000", 77, 0)];
        let mut known = Makers::default();
        let closed = attribute(None, &mut one, &mut known);
        assert!(matches!(closed[0].by, Maker::Listener { pid: 42, .. }));
        assert_eq!(one.maker_of(&one.sockets[1]).and_then(Maker::pid), Some(42));
        // Next round: still FIN-WAIT-2, no event.
        let mut two = snapshot(2, Scope::All, one.sockets.clone(), &procs);
        two.sockets[1].maker = 0;
        attribute(Some(&one), &mut two, &mut known);
        // Then the client closes: a TIME-WAIT, with no event either.
        let tw = crate::app::testkit::time_wait("127.0.0.1:5000", "127.0.0.1:40000", 0);
        let mut three = snapshot(3, Scope::All, vec![listener, tw], &procs);
        attribute(Some(&two), &mut three, &mut known);
        assert_eq!(
            three
                .maker_of(&three.sockets[1])
                .map(Maker::text)
                .as_deref(),
            Some("42/php-fpm")
        );
    }

    /// Inbound: the listener's owner. Outbound and never seen: unseen, whatever uid the
    /// event carries (the kernel leaves it 0: it would read as root's). Seen by a poll
    /// without a visible owner: the uid of its row in that dump.
    #[test]
    fn short_connections_are_the_listeners_inbound_and_unseen_outbound() {
        let listener = sock(
            Proto::Tcp,
            "0.0.0.0:8080",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[7],
        );
        let mut hidden = sock(
            Proto::Tcp,
            "127.0.0.1:52000",
            "127.0.0.1:9000",
            State::Estab,
            6,
            &[],
        );
        hidden.cookie = 93;
        hidden.uid = 33;
        let mut next = snapshot(1, Scope::All, vec![listener], &[process(7, "nginx", 'S')]);
        next.users.insert(33, "www-data".into());
        let mut prev = snapshot(0, Scope::All, vec![hidden], &[]);
        prev.users.insert(33, "www-data".into());
        next.freed = vec![
            freed("127.0.0.1:8080", "127.0.0.1:51000", 91, 0),
            freed("127.0.0.1:51000", "127.0.0.1:8080", 92, 0),
            freed("127.0.0.1:52000", "127.0.0.1:9000", 93, 0),
        ];
        let mut known = Makers::default();
        let closed = attribute(Some(&prev), &mut next, &mut known);
        assert_eq!(closed[0].by.text(), "7/nginx");
        assert!(matches!(closed[0].by, Maker::Listener { .. }));
        assert!(closed[0].short_lived() && closed[1].short_lived());
        assert_eq!(closed[1].by, Maker::Unseen);
        assert_eq!(closed[1].by.pid(), None);
        assert!(!closed[2].short_lived());
        assert_eq!(closed[2].by.text(), "uid 33 (www-data)");
        // An unseen maker is not remembered for a TIME-WAIT: it stays `(kernel)`.
        assert!(
            known
                .get(&(0, closed[1].freed.local, closed[1].freed.remote))
                .is_none()
        );
    }

    /// Sockets that never connected are not closed connections: a bind probe on a
    /// listener's port (what `why` and `wait-free` make) was counted as a short connection
    /// made by the listener's owner. A connection reset by its own side keeps its event
    /// (its peer's address is left) though the kernel has dropped its peer port; one a
    /// poll saw gets back the addresses the poll saw.
    #[test]
    fn what_never_connected_is_no_connection_and_a_reset_keeps_its_addresses() {
        let listener = sock(
            Proto::Tcp,
            "0.0.0.0:8080",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[7],
        );
        let mut conn = sock(
            Proto::Tcp,
            "127.0.0.1:48078",
            "127.0.0.1:8080",
            State::Estab,
            6,
            &[9],
        );
        conn.cookie = 95;
        let procs = [process(7, "nginx", 'S'), process(9, "client", 'S')];
        let mut prev = snapshot(0, Scope::All, vec![listener.clone(), conn], &procs);
        let polled = TcpInfo {
            rtt_us: 30,
            bytes_acked: 501,
            bytes_received: 7,
            ..TcpInfo::default()
        };
        prev.tcp = vec![(95, polled)];
        let mut next = snapshot(1, Scope::All, vec![listener], &procs);
        let quiet = |local: &str, remote: &str, cookie| Freed {
            tcp: Some(TcpInfo::default()),
            ..freed(local, remote, cookie, 0)
        };
        // As the kernel leaves it: no peer port, no local address, counters zeroed;
        // only the peer's address is left.
        let mut reset = freed("0.0.0.0:48100", "127.0.0.1:0", 96, 0);
        reset.tcp = Some(TcpInfo::default());
        next.freed = vec![
            // Bind probes of port 8080, v4 and v6: never connected.
            quiet("0.0.0.0:8080", "0.0.0.0:0", 90),
            Freed {
                proto: Proto::Tcp6,
                ..quiet("[::]:8080", "[::]:0", 91)
            },
            // An unconnected UDP socket.
            Freed {
                proto: Proto::Udp,
                tcp: None,
                ..quiet("0.0.0.0:5353", "0.0.0.0:0", 92)
            },
            // The poll saw it; reset, its event lost both addresses.
            quiet("0.0.0.0:48078", "127.0.0.1:0", 95),
            // No poll saw it, reset after a handshake.
            reset,
        ];
        let closed = attribute(Some(&prev), &mut next, &mut Makers::default());
        let cookies: Vec<u64> = closed.iter().map(|c| c.freed.cookie).collect();
        assert_eq!(cookies, vec![95, 96]);
        assert_eq!(closed[0].freed.local.to_string(), "127.0.0.1:48078");
        assert_eq!(closed[0].freed.remote.to_string(), "127.0.0.1:8080");
        assert_eq!(closed[0].by.text(), "9/client");
        assert_eq!(
            closed[0].freed.tcp,
            Some(polled),
            "the poll's counters, not zeros"
        );
        assert_eq!(closed[1].by, Maker::Unseen);
        assert!(closed[1].short_lived());
    }

    /// Measured here: a connection no dump ever saw has no cookie yet when it turns into a
    /// TIME-WAIT, so the TIME-WAIT gets one of its own, not its destroy event's. The
    /// tuple is what ties them.
    #[test]
    fn a_time_wait_is_tied_to_its_connection_by_tuple_not_cookie() {
        let listener = sock(
            Proto::Tcp,
            "0.0.0.0:8080",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[7],
        );
        let mut tw = sock(
            Proto::Tcp,
            "127.0.0.1:8080",
            "127.0.0.1:51000",
            State::TimeWait,
            0,
            &[],
        );
        tw.cookie = 0x32822f;
        let mut next = snapshot(
            1,
            Scope::All,
            vec![listener, tw],
            &[process(7, "nginx", 'S')],
        );
        next.freed = vec![freed("127.0.0.1:8080", "127.0.0.1:51000", 0x329060, 0)];
        attribute(None, &mut next, &mut Makers::default());
        assert_eq!(
            next.maker_of(&next.sockets[1]).map(Maker::text).as_deref(),
            Some("7/nginx")
        );
    }

    /// The destroy event was lost (ENOBUFS), but a poll saw the connection open before it
    /// turned into a TIME-WAIT: its owner made it.
    #[test]
    fn a_lost_event_still_leaves_the_time_wait_to_whom_a_poll_saw() {
        let mut conn = sock(
            Proto::Tcp,
            "127.0.0.1:5000",
            "127.0.0.1:40000",
            State::Estab,
            77,
            &[42],
        );
        conn.cookie = 500;
        let prev = snapshot(0, Scope::All, vec![conn], &[process(42, "api", 'S')]);
        let tw = crate::app::testkit::time_wait("127.0.0.1:5000", "127.0.0.1:40000", 500);
        let mut next = snapshot(1, Scope::All, vec![tw], &[]);
        let mut known = Makers::default();
        assert!(attribute(Some(&prev), &mut next, &mut known).is_empty());
        assert_eq!(
            next.maker_of(&next.sockets[0]).map(Maker::text).as_deref(),
            Some("42/api")
        );
    }
}
