//! Sorting the rows of the current view by its sort column. Socket rows (up to hundreds
//! of thousands, on every snapshot) sort by integer keys computed once per row; the small
//! aggregated views by a key per column.

use super::App;
use super::columns::{Col, Column, EventCol, PortCol, ProcCol};
use super::views::RowId;
use crate::model::{Flags, Socket, State};

/// A sort key of one row of a small view: numbers and text, each compared as such.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Num(u128),
    Text(String),
    /// An endpoint: by port, then its text.
    Port(u16, String),
}

impl App {
    pub(super) fn sort_rows(&self, rows: &mut [RowId]) {
        let sort = self.sort();
        match sort.column {
            Col::Socket(c) => self.sort_sockets(rows, c),
            Col::Event(EventCol::Time) => {} // log order is time order
            col => rows.sort_by_cached_key(|r| self.small_key(*r, col)),
        }
        if sort.descending {
            rows.reverse();
        }
    }

    fn sort_sockets(&self, rows: &mut [RowId], column: Column) {
        let sock = |r: &RowId| self.row_socket(*r);
        match column {
            Column::Process | Column::User | Column::Netns => {
                // String keys: computed once per row, not once per comparison.
                rows.sort_by_cached_key(|r| {
                    let s = sock(r);
                    let name = s.map_or(String::new(), |s| match column {
                        Column::Process => self.process_name(s).to_lowercase(),
                        Column::Netns => self.live.snap.netns.name(s.netns),
                        _ => self.live.snap.user_name(s.uid).unwrap_or("").to_owned(),
                    });
                    (
                        name,
                        s.map(|s| (s.owners.first().copied(), s.local(), s.remote(), s.inode)),
                    )
                });
            }
            _ => {
                // Keys computed once per row and compared as plain integers. A row
                // without a socket (none in practice) sorts last.
                let key = |r: &RowId| {
                    sock(r).map(|s| {
                        let flags = match column {
                            Column::Flags => self.row_flags(*r),
                            _ => Flags::empty(),
                        };
                        let seen = match column {
                            Column::Age => self.row_first_seen(*r),
                            _ => None,
                        };
                        self.socket_key(column, s, flags, seen)
                    })
                };
                // Rows whose ends are all IPv4 have keys of at most 32 bytes: 40 bytes a
                // row with its id instead of 64 (at 500k sockets 20 MB, not 32, at the
                // moment of an update). One row with an IPv6 end (a `[::]` listener, on
                // most hosts) makes every key seven words.
                if rows
                    .iter()
                    .all(|r| sock(r).is_none_or(|s| s.addrs.both_v4()))
                {
                    sort_keyed(rows, |r| key(r).map_or([u64::MAX; 4], |k| k.words()));
                } else {
                    sort_keyed(rows, |r| key(r).map_or([u64::MAX; 7], |k| k.words()));
                }
            }
        }
    }

    fn process_name(&self, s: &Socket) -> &str {
        s.owners
            .first()
            .and_then(|p| self.live.snap.processes.get(p))
            .map_or("", |p| p.name.as_str())
    }

    /// The key of a row of the Ports, Processes or Events view, ending in its identity
    /// so that equal rows keep their order from one refresh to the next.
    fn small_key(&self, row: RowId, col: Col) -> (Key, u128) {
        let n = |v: u32| Key::Num(u128::from(v));
        let text = |c: Col| Key::Text(self.cell(row, c).to_lowercase());
        match (row, col) {
            (RowId::Port(i), Col::Port(c)) => {
                let Some(p) = self.table.ports.get(i as usize) else {
                    return (Key::Num(0), 0);
                };
                let k = match c {
                    PortCol::Port => n(u32::from(p.port)),
                    PortCol::Listen => n(p.listen),
                    PortCol::Estab => n(p.estab),
                    PortCol::TimeWait => n(p.time_wait),
                    PortCol::ConnRate => Key::Num(u128::from(
                        self.live.conns.per_sec(p.netns, p.port).unwrap_or(0),
                    )),
                    PortCol::CloseWait => n(p.close_wait),
                    PortCol::Total => n(p.total),
                    PortCol::Flags => n(u32::from(p.flags.bits())),
                    PortCol::Netns | PortCol::Proto | PortCol::Owners => text(col),
                };
                (k, u128::from(p.netns) << 16 | u128::from(p.port))
            }
            (RowId::Proc(i), Col::Proc(c)) => {
                let Some(r) = self.table.procs.get(i as usize) else {
                    return (Key::Num(0), 0);
                };
                let k = match c {
                    ProcCol::Pid => n(r.pid),
                    ProcCol::Sockets => n(r.sockets),
                    ProcCol::Estab => n(r.estab),
                    ProcCol::CloseWait => n(r.close_wait),
                    ProcCol::Flags => n(u32::from(r.flags.bits())),
                    ProcCol::RxRate => Key::Num(r.rate.map_or(0, |t| u128::from(t.rx))),
                    ProcCol::TxRate => Key::Num(r.rate.map_or(0, |t| u128::from(t.tx))),
                    ProcCol::Listening => {
                        Key::Num(r.listening.first().map_or(u128::MAX, |p| u128::from(*p)))
                    }
                    ProcCol::Name | ProcCol::User | ProcCol::State | ProcCol::Command => text(col),
                };
                (k, u128::from(r.pid))
            }
            (RowId::Event(i), Col::Event(c @ (EventCol::Local | EventCol::Peer))) => {
                let port = self.live.events.get(i as usize).map_or(0, |e| {
                    if c == EventCol::Local {
                        e.socket.local.port()
                    } else {
                        e.socket.remote.port()
                    }
                });
                (
                    Key::Port(port, self.cell(row, col).to_lowercase()),
                    i as u128,
                )
            }
            (RowId::Event(i), Col::Event(_)) => (text(col), i as u128),
            _ => (Key::Num(0), 0),
        }
    }

    /// The sort key of a socket for a non-text column, ending in a tie-break on the
    /// socket's identity (addresses, protocol, inode) so equal rows keep their order
    /// from one refresh to the next.
    fn socket_key(
        &self,
        c: Column,
        s: &Socket,
        flags: Flags,
        first_seen: Option<std::time::SystemTime>,
    ) -> KeyBytes {
        let (local, remote) = s.addrs.get();
        let num = |n: u64| Primary::Num(n);
        let primary = match c {
            Column::Proto => num(s.proto as u64),
            Column::State => num(STATE_BY_NAME
                .iter()
                .position(|x| *x == s.state)
                .unwrap_or(0) as u64),
            Column::RecvQ => num(u64::from(s.recv_q)),
            Column::SendQ => num(u64::from(s.send_q)),
            // By port, then address: `*:22`, `127.0.0.1:22`, `[::]:22`, then port 80 …
            // — never by the text, where every IPv6 address came after every IPv4 one.
            Column::Local => Primary::Local,
            Column::Peer => Primary::Peer,
            Column::Timer => num(s.timer.map_or(0, |t| u64::from(t.expires_ms) + 1)),
            // Age in ms: the longest seen is the biggest.
            Column::Age => num(first_seen
                .and_then(|t| self.live.now.duration_since(t).ok())
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))),
            Column::Inode => num(u64::from(s.inode)),
            Column::Process | Column::User | Column::Netns => num(0),
            // By port: services are named after their port.
            Column::Service => num(u64::from(local.port())),
            Column::Flags => num(u64::from(flags.bits())),
            // Without figures (a listener, UDP, traffic off) below any figure.
            Column::RxRate => num(self.socket_rate(s).map_or(0, |r| r.rx.saturating_add(1))),
            Column::TxRate => num(self.socket_rate(s).map_or(0, |r| r.tx.saturating_add(1))),
            Column::Rtt => num(self.socket_tcp(s).map_or(0, |t| u64::from(t.rtt_us) + 1)),
            Column::Retrans => num(self.socket_tcp(s).map_or(0, |t| u64::from(t.retrans) + 1)),
            Column::Idle => num(self.socket_tcp(s).map_or(0, |t| u64::from(t.idle_ms()) + 1)),
        };
        encode(&Fields {
            primary,
            local: (local.port(), local.order_key()),
            remote: (remote.port(), remote.order_key()),
            tail: (s.proto as u64) << 60 | u64::from(s.inode),
        })
    }
}

/// Above this many rows, the two halves of the keys sort on two threads and merge.
const SORT_IN_TWO: usize = 100_000;

/// Sorts `rows` by `key_of` (a key computed once per row). A big table computes and
/// sorts the keys of its two halves at once, then merges them: at 500k sockets the keys
/// and the sort were most of an `update`, with the other core idle.
fn sort_keyed<const N: usize>(rows: &mut [RowId], key_of: impl Fn(&RowId) -> [u64; N] + Sync) {
    let keyed_of = |rows: &[RowId]| {
        let mut keyed: Vec<([u64; N], RowId)> = rows.iter().map(|r| (key_of(r), *r)).collect();
        keyed.sort_unstable_by_key(|k| k.0);
        keyed
    };
    if rows.len() < SORT_IN_TWO {
        let keyed = keyed_of(rows);
        for (dst, (_, r)) in rows.iter_mut().zip(&keyed) {
            *dst = *r;
        }
        return;
    }
    let (first, second) = rows.split_at(rows.len() / 2);
    let (a, b) = std::thread::scope(|scope| {
        let other = std::thread::Builder::new().spawn_scoped(scope, || keyed_of(first));
        let b = keyed_of(second);
        (other.ok().and_then(|t| t.join().ok()), b)
    });
    // No thread to spare: this one does the first half too.
    let a = a.unwrap_or_else(|| keyed_of(first));
    let (mut i, mut j) = (0, 0);
    for dst in rows.iter_mut() {
        // Equal keys cannot happen (the key ends in the socket's identity), and either
        // order would do.
        let take_a = j >= b.len() || (i < a.len() && a[i].0 <= b[j].0);
        if take_a {
            *dst = a[i].1;
            i += 1;
        } else {
            *dst = b[j].1;
            j += 1;
        }
    }
}

/// What a socket row sorts by first.
#[derive(Clone, Copy, Debug)]
enum Primary {
    /// A figure: then the local end, the ports, the remote end.
    Num(u64),
    /// The local end (port, then address), then the remote end.
    Local,
    /// The remote end (port, then address), then the local address and port.
    Peer,
}

/// An end of a socket: its port, and its address as (family, bits) ([`Addr::order_key`]).
type End = (u16, (u8, u128));

/// The fields of a socket's sort key; `tail` (protocol and inode) makes it unique.
#[derive(Clone, Copy, Debug)]
struct Fields {
    primary: Primary,
    local: End,
    remote: End,
    tail: u64,
}

impl Fields {
    /// The fields in the order they compare in, as one tuple (the order [`encode`]
    /// keeps; unused places are 0).
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    fn order(&self) -> (u64, (u8, u128), u16, u16, (u8, u128), u16, u64) {
        let ((lp, la), (rp, ra)) = (self.local, self.remote);
        match self.primary {
            Primary::Num(n) => (n, la, lp, rp, ra, 0, self.tail),
            Primary::Local => (u64::from(lp), la, rp, 0, ra, 0, self.tail),
            Primary::Peer => (u64::from(rp), ra, 0, 0, la, lp, self.tail),
        }
    }
}

/// A socket row's sort key: its fields written big-endian, most significant first, and
/// compared as words: seven, or four when both ends of every row sorted are IPv4 (one
/// `[::]` listener among them makes it seven). Every field says its own length (an IPv4
/// address takes 5 bytes with its family, IPv6 17; a figure takes a length byte and its
/// bytes), so no key is the beginning of another and the bytes compare as the fields
/// do. 56 bytes: at most 55 for a figure and two IPv6 ends, 22 for a row of IPv4 sorted
/// by address; the fixed layout this replaces took 65 bytes, compared with `memcmp`.
fn encode(f: &Fields) -> KeyBytes {
    let mut key = KeyBytes::new();
    let (lport, laddr) = f.local;
    let (rport, raddr) = f.remote;
    match f.primary {
        Primary::Num(n) => {
            key.num(n);
            key.addr(laddr);
            key.put(&lport.to_be_bytes());
            key.put(&rport.to_be_bytes());
            key.addr(raddr);
        }
        Primary::Local => {
            key.put(&lport.to_be_bytes());
            key.addr(laddr);
            key.put(&rport.to_be_bytes());
            key.addr(raddr);
        }
        Primary::Peer => {
            key.put(&rport.to_be_bytes());
            key.addr(raddr);
            key.addr(laddr);
            key.put(&lport.to_be_bytes());
        }
    }
    key.put(&f.tail.to_be_bytes());
    key
}

struct KeyBytes([u8; 56], usize);

impl KeyBytes {
    fn new() -> Self {
        KeyBytes([0; 56], 0)
    }

    fn put(&mut self, bytes: &[u8]) {
        self.0[self.1..self.1 + bytes.len()].copy_from_slice(bytes);
        self.1 += bytes.len();
    }

    /// A length byte, then the number without its leading zero bytes.
    fn num(&mut self, n: u64) {
        let len = 8 - (n.leading_zeros() / 8) as usize;
        self.put(&[len as u8]);
        self.put(&n.to_be_bytes()[8 - len..]);
    }

    /// The family, then 4 bytes for IPv4 (its bits are the low 32 of an IPv4-mapped
    /// address), 16 for IPv6.
    fn addr(&mut self, (family, bits): (u8, u128)) {
        self.put(&[family]);
        if family == 0 {
            self.put(&(bits as u32).to_be_bytes());
        } else {
            self.put(&bits.to_be_bytes());
        }
    }

    /// The key as `N` words; the bytes past them must be unwritten (zero).
    fn words<const N: usize>(&self) -> [u64; N] {
        debug_assert!(self.1 <= N * 8, "a key of {} bytes in {N} words", self.1);
        let mut words = [0; N];
        for (w, bytes) in words.iter_mut().zip(self.0.chunks_exact(8)) {
            let mut b = [0; 8];
            b.copy_from_slice(bytes);
            *w = u64::from_be_bytes(b);
        }
        words
    }
}

/// States in the order of their names, which is how the State column sorts.
const STATE_BY_NAME: [State; 11] = [
    State::CloseWait,
    State::Closing,
    State::Estab,
    State::FinWait1,
    State::FinWait2,
    State::LastAck,
    State::Listen,
    State::SynRecv,
    State::SynSent,
    State::TimeWait,
    State::Unconn,
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn end() -> impl Strategy<Value = End> {
        let v4 = any::<u32>().prop_map(|ip| (0u8, (0xffff_u128 << 32) | u128::from(ip)));
        let v6 = any::<u128>().prop_map(|ip| (1u8, ip));
        (any::<u16>(), prop_oneof![v4, v6])
    }
    /// A table big enough to sort in two halves comes out in the order one sort gives,
    /// with keys that share long prefixes (one port, one address) as real tables do.
    #[test]
    fn two_halves_merge_into_the_order_of_one_sort() {
        let n = SORT_IN_TWO + 12_345;
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let keys: Vec<[u64; 7]> = (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let mut k = [0u64; 7];
                k[0] = x % 3;
                k[2] = x >> 20;
                // The identity at the end: no two keys are equal.
                k[6] = i as u64;
                k
            })
            .collect();
        let mut rows: Vec<RowId> = (0..n).map(|i| RowId::Live(i as u32)).collect();
        let mut want = rows.clone();
        want.sort_unstable_by_key(|r| keys[row_of(*r)]);
        sort_keyed(&mut rows, |r| keys[row_of(*r)]);
        assert_eq!(rows, want);
        // A small table sorts in one piece, to the same order.
        let mut small: Vec<RowId> = rows[..1000].iter().rev().copied().collect();
        let mut want: Vec<RowId> = small.clone();
        want.sort_unstable_by_key(|r| keys[row_of(*r)]);
        sort_keyed(&mut small, |r| keys[row_of(*r)]);
        assert_eq!(small, want);
    }

    fn row_of(r: RowId) -> usize {
        match r {
            RowId::Live(i) => i as usize,
            _ => unreachable!("only live rows here"),
        }
    }

    proptest! {
        /// Two keys of one column compare as their fields do, in the column's order.
        #[test]
        fn keys_order_as_their_fields(
            kind in 0u8..3,
            n in (any::<u64>(), any::<u64>()),
            ends in (end(), end(), end(), end()),
            tails in (any::<u64>(), any::<u64>()),
            same in 0u8..32,
        ) {
            let primary = |n: u64| match kind {
                0 => Primary::Num(n >> (n % 64)),
                1 => Primary::Local,
                _ => Primary::Peer,
            };
            let a = Fields { primary: primary(n.0), local: ends.0, remote: ends.1, tail: tails.0 };
            let mut b = Fields { primary: primary(n.1), local: ends.2, remote: ends.3, tail: tails.1 };
            // Often equal in some fields, as rows of one port or address are.
            if same & 1 != 0 { b.primary = a.primary; }
            if same & 2 != 0 { b.local.0 = a.local.0; }
            if same & 4 != 0 { b.remote.0 = a.remote.0; }
            if same & 8 != 0 { b.local.1 = a.local.1; }
            if same & 16 != 0 { b.remote.1 = a.remote.1; }
            let words = |f: &Fields| encode(f).words::<7>();
            prop_assert_eq!(words(&a).cmp(&words(&b)), a.order().cmp(&b.order()));
            // Two IPv4 ends fit in four words, which compare alike.
            let v4 = |e: End| e.1.0 == 0;
            if [a.local, a.remote, b.local, b.remote].into_iter().all(v4) {
                prop_assert!(encode(&a).1 <= 32 && encode(&b).1 <= 32);
                let short = |f: &Fields| encode(f).words::<4>();
                prop_assert_eq!(short(&a).cmp(&short(&b)), a.order().cmp(&b.order()));
            }
        }
    }
}
