//! The rounds between full snapshots, when a full one costs more than the CPU budget
//! allows: what they read (listeners, the sockets a narrowing filter picks, the kernel's
//! counters, the destroy events), how that is merged into the last table, and how fresh
//! each part of what is shown is.

use super::budget::Budget;
use super::lifecycle::{Freed, Lost};
use super::narrow::Narrow;
use super::process::Process;
use super::snapshot::Snapshot;
use super::socket::{Proto, Socket, State};
use rustc_hash::FxHashSet as HashSet;
use std::collections::HashMap;
use std::time::{Duration, SystemTime};

/// What a round between full snapshots read.
#[derive(Clone, Debug)]
pub struct Fresh {
    pub taken_at: SystemTime,
    /// Every listener of the host's namespace (TCP LISTEN, unconnected UDP) and, with
    /// `narrow`, every other socket it accepts, as they are now, with owners.
    pub sockets: Vec<Socket>,
    pub narrow: Option<Narrow>,
    /// Details of these sockets' owners.
    pub processes: HashMap<u32, Process>,
    /// Names of these sockets' and owners' uids.
    pub users: HashMap<u32, String>,
    /// Sockets the kernel freed since the last round (destroy events).
    pub freed: Vec<Freed>,
    pub lost: Lost,
    /// The host's counters, when readable.
    pub sockstat: Option<Sockstat>,
    /// The namespace table, when the listeners of the other network namespaces were
    /// read too (as root): then theirs are replaced as well.
    pub netns: Option<super::NetnsTable>,
}

/// Whether a round with `narrow` read this socket again: the host's listeners and the
/// host's sockets `narrow` accepts, and every namespace's listeners with `all_listeners`.
pub fn covered(s: &Socket, host: bool, narrow: Option<&Narrow>, all_listeners: bool) -> bool {
    (s.is_listener() && (host || all_listeners)) || (host && narrow.is_some_and(|n| n.accepts(s)))
}

/// The table of `prev` with the sockets `fresh` read again replaced by what they are now;
/// `None` when that changes nothing (then `prev` stands, and no table is copied).
///
/// The sockets the kernel freed since (`fresh.freed`, and `pending`: freed in earlier
/// rounds that copied no table) are taken out when the table is copied anyway, or with
/// `flush`: a host that closes connections all the time does not make every round copy
/// the whole table (their closes are reported from the destroy events at once).
///
/// The sockets read again come first, in the order they were read: the next round finds
/// them in the same place and, when nothing changed, compares without copying.
pub fn merge(
    prev: &Snapshot,
    fresh: &Fresh,
    pending: &HashSet<(u32, u64)>,
    flush: bool,
) -> Option<Snapshot> {
    let mut freed: HashSet<(u32, u64)> = fresh
        .freed
        .iter()
        .filter(|f| f.cookie != 0)
        .map(|f| (f.netns, f.cookie))
        .collect();
    freed.extend(pending.iter().copied());
    let gone = |s: &Socket| s.cookie != 0 && freed.contains(&(s.netns, s.cookie));
    let all_listeners = fresh.netns.is_some();
    let is_covered = |s: &Socket| {
        covered(
            s,
            prev.netns.is_host(s.netns),
            fresh.narrow.as_ref(),
            all_listeners,
        )
    };
    let mut before: Vec<&Socket> = Vec::with_capacity(fresh.sockets.len());
    let mut any_gone = false;
    for s in &prev.sockets {
        if is_covered(s) {
            before.push(s);
        } else if !freed.is_empty() && gone(s) {
            any_gone = true;
        }
    }
    let same = before.len() == fresh.sockets.len()
        && before.iter().zip(&fresh.sockets).all(|(a, b)| *a == b);
    if same && !(flush && any_gone) {
        return None;
    }
    drop(before);
    let mut sockets = Vec::with_capacity(prev.sockets.len() + fresh.sockets.len());
    sockets.extend(fresh.sockets.iter().cloned());
    sockets.extend(
        prev.sockets
            .iter()
            .filter(|s| !is_covered(s) && !gone(s))
            .cloned(),
    );
    let mut processes = prev.processes.clone();
    processes.extend(fresh.processes.iter().map(|(k, v)| (*k, v.clone())));
    let mut users = prev.users.clone();
    users.extend(fresh.users.iter().map(|(k, v)| (*k, v.clone())));
    let mut snap = Snapshot {
        taken_at: fresh.taken_at,
        scope: prev.scope,
        collector: prev.collector,
        sockets,
        processes,
        users,
        netns: fresh.netns.clone().unwrap_or_else(|| prev.netns.clone()),
        visibility: prev.visibility.clone(),
        published: prev.published.clone(),
        freed: Vec::new(),
        lost: fresh.lost,
        makers: Vec::new(),
        tcp: prev.tcp.clone(),
    };
    snap.count_hidden();
    Some(snap)
}

/// The host's socket counters from `/proc/net/sockstat` and `sockstat6`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sockstat {
    /// TCP sockets in the hash tables (listening and connected; not TIME-WAIT or
    /// SYN-RECV), IPv4 and IPv6.
    pub tcp: u32,
    pub tcp6: u32,
    /// TIME-WAIT sockets, both families.
    pub tw: u32,
    /// Bound UDP sockets, IPv4 and IPv6.
    pub udp: u32,
    pub udp6: u32,
}

impl Sockstat {
    /// Parses the two files' text (`TCP: inuse 7 orphan 0 tw 331 alloc 12 mem 0`, …);
    /// `None` without a TCP line.
    pub fn parse(v4: &str, v6: &str) -> Option<Sockstat> {
        let mut s = Sockstat::default();
        let mut tcp_seen = false;
        for line in v4.lines().chain(v6.lines()) {
            let mut words = line.split_whitespace();
            let proto = words.next().unwrap_or("");
            let pairs: Vec<&str> = words.collect();
            let get = |key: &str| {
                pairs
                    .chunks(2)
                    .find(|p| p.first() == Some(&key))
                    .and_then(|p| p.get(1))
                    .and_then(|v| v.parse::<u32>().ok())
            };
            match proto {
                "TCP:" => {
                    tcp_seen = true;
                    s.tcp = get("inuse").unwrap_or(0);
                    s.tw = get("tw").unwrap_or(0);
                }
                "TCP6:" => s.tcp6 = get("inuse").unwrap_or(0),
                "UDP:" => s.udp = get("inuse").unwrap_or(0),
                "UDP6:" => s.udp6 = get("inuse").unwrap_or(0),
                _ => {}
            }
        }
        tcp_seen.then_some(s)
    }

    /// All sockets it counts.
    pub fn total(&self) -> usize {
        [self.tcp, self.tcp6, self.tw, self.udp, self.udp6]
            .iter()
            .map(|&n| n as usize)
            .sum()
    }
}

/// Sockets per state and per protocol, for the header; the ones that are estimates (read
/// longer ago than this round, or worked out from the kernel's counters) are marked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// By `State as usize`.
    pub states: [usize; 12],
    /// One bit per state (`1 << State as usize`): an estimate.
    pub estimated: u16,
    /// By `Proto as usize`.
    pub protos: [usize; 4],
    pub protos_estimated: bool,
}

impl Counts {
    pub fn is_estimate(&self, s: State) -> bool {
        self.estimated & (1 << s as u16) != 0
    }

    /// The counts of a table as it is (every count exact).
    pub fn of(snap: &Snapshot) -> Counts {
        let mut c = Counts::default();
        for s in &snap.sockets {
            c.states[s.state as usize] += 1;
            c.protos[s.proto as usize] += 1;
        }
        c
    }

    /// The header's counts after a round between full snapshots: listeners are exact
    /// (read this round); TIME-WAIT is the kernel's count; ESTAB is the kernel's count of
    /// connected sockets less the table's sockets in the other connected states;
    /// everything else, and every socket of another network namespace, is as the last
    /// full table had it, less what the kernel freed since. Without counters only
    /// listeners are exact.
    pub fn estimate(snap: &Snapshot, sockstat: Option<&Sockstat>) -> Counts {
        let (mut tcp, mut udp, mut other) = ([0usize; 12], [0usize; 12], [0usize; 12]);
        let (mut protos, mut other_protos) = ([0usize; 4], [0usize; 4]);
        let (mut tw4, mut tw6) = (0usize, 0usize);
        for s in &snap.sockets {
            let (st, p) = (s.state as usize, s.proto as usize);
            if !snap.netns.is_host(s.netns) {
                other[st] += 1;
                other_protos[p] += 1;
                continue;
            }
            protos[p] += 1;
            if s.proto.is_tcp() {
                tcp[st] += 1;
            } else {
                udp[st] += 1;
            }
            match (s.proto, s.state) {
                (Proto::Tcp, State::TimeWait) => tw4 += 1,
                (Proto::Tcp6, State::TimeWait) => tw6 += 1,
                _ => {}
            }
        }
        let bit = |s: State| 1u16 << s as u16;
        let mut states: [usize; 12] = std::array::from_fn(|i| tcp[i] + udp[i]);
        // Listeners and unconnected UDP were read this round.
        let mut known = bit(State::Listen);
        if tcp[State::Unconn as usize] == 0 {
            known |= bit(State::Unconn);
        }
        if let Some(k) = sockstat {
            let n = |v: u32| v as usize;
            // The kernel counts TCP sockets in its hash tables: listeners and connected
            // ones, not TIME-WAIT or SYN-RECV.
            let connected: usize = [
                State::SynSent,
                State::FinWait1,
                State::FinWait2,
                State::CloseWait,
                State::LastAck,
                State::Closing,
            ]
            .iter()
            .map(|&s| tcp[s as usize])
            .sum();
            let tcp_estab =
                (n(k.tcp) + n(k.tcp6)).saturating_sub(tcp[State::Listen as usize] + connected);
            let udp_estab = (n(k.udp) + n(k.udp6)).saturating_sub(udp[State::Unconn as usize]);
            states[State::Estab as usize] = tcp_estab + udp_estab;
            states[State::TimeWait as usize] = n(k.tw);
            known |= bit(State::TimeWait);
            // TIME-WAIT is one count for both families: split as the table does.
            let tw_v6 = (n(k.tw) * tw6).checked_div(tw4 + tw6).unwrap_or(0);
            protos = [
                n(k.tcp) + n(k.tw) - tw_v6,
                n(k.tcp6) + tw_v6,
                n(k.udp),
                n(k.udp6),
            ];
        }
        for i in 0..12 {
            states[i] += other[i];
            // Another namespace's sockets are as the last full table had them.
            if other[i] > 0 {
                known &= !(1 << i);
            }
        }
        for (p, n) in protos.iter_mut().zip(other_protos) {
            *p += n;
        }
        Counts {
            states,
            estimated: !known & 0x0ffe,
            protos,
            protos_estimated: true,
        }
    }
}

/// How fresh what a consumer shows is, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Freshness {
    pub budget: Budget,
    pub interval: Duration,
    /// A full snapshot every this many intervals (1: every interval).
    pub every: u32,
    /// When the last full table was taken: sockets not read again since are that old.
    pub full_at: SystemTime,
    /// This round read only listeners (and a narrowing filter's sockets).
    pub partial: bool,
    /// The sockets of a narrowing filter are read every round.
    pub narrowed: bool,
    /// The header's counts, when they are not the table's own (a partial round).
    pub counts: Option<Counts>,
    /// When this round read what it read.
    pub taken_at: SystemTime,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness {
            budget: Budget::OFF,
            interval: Duration::from_secs(1),
            every: 1,
            full_at: SystemTime::UNIX_EPOCH,
            partial: false,
            narrowed: false,
            counts: None,
            taken_at: SystemTime::UNIX_EPOCH,
        }
    }
}

impl Freshness {
    /// How long between full tables.
    pub fn full_period(&self) -> Duration {
        self.interval.saturating_mul(self.every)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diff::tests::sock;
    use crate::model::lifecycle::Freed;
    use crate::model::narrow::{Cond, End};

    fn table(sockets: Vec<Socket>) -> Snapshot {
        let mut s = Snapshot::empty(crate::model::Scope::All);
        s.taken_at = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        s.sockets = sockets;
        s
    }

    fn fresh(sockets: Vec<Socket>, narrow: Option<Narrow>) -> Fresh {
        Fresh {
            taken_at: SystemTime::UNIX_EPOCH + Duration::from_secs(104),
            sockets,
            narrow,
            processes: HashMap::new(),
            users: HashMap::new(),
            freed: Vec::new(),
            lost: Lost::default(),
            sockstat: None,
            netns: None,
        }
    }

    fn freed(s: &Socket) -> Freed {
        Freed {
            proto: s.proto,
            local: s.local(),
            remote: s.remote(),
            netns: s.netns,
            cookie: s.cookie,
            uid: s.uid,
            tcp: None,
        }
    }

    fn ports(s: &Snapshot) -> Vec<(u16, u16, State)> {
        let mut v: Vec<_> = s
            .sockets
            .iter()
            .map(|s| (s.local().port(), s.remote().port(), s.state))
            .collect();
        v.sort_by_key(|x| (x.0, x.1));
        v
    }

    /// A listener gone, a new one, a connection kept as the full table had it (with its
    /// queue, read seconds ago), and one freed meanwhile taken out.
    #[test]
    fn listeners_are_replaced_and_connections_kept() {
        let old_listener = sock(80, 0, 1, State::Listen, 10);
        let kept = {
            let mut s = sock(80, 5000, 2, State::Estab, 10);
            s.recv_q = 7;
            s.cookie = 2;
            s
        };
        let closed = {
            let mut s = sock(80, 5001, 3, State::Estab, 10);
            s.cookie = 3;
            s
        };
        let prev = table(vec![old_listener, kept.clone(), closed.clone()]);
        let new_listener = sock(81, 0, 4, State::Listen, 11);
        let mut f = fresh(vec![new_listener], None);
        f.freed.push(freed(&closed));
        let m = merge(&prev, &f, &HashSet::default(), false).expect("the table changed");
        assert_eq!(
            ports(&m),
            vec![(80, 5000, State::Estab), (81, 0, State::Listen)]
        );
        let k = m.sockets.iter().find(|s| s.cookie == 2).unwrap();
        assert_eq!(
            k, &kept,
            "a connection not read again is as the full table had it"
        );
        assert_eq!(m.taken_at, f.taken_at);
        // A socket freed while nothing watched changed stays (no copy of the table for
        // it) until the table is copied anyway, or flushed.
        let mut other = sock(80, 5009, 9, State::Estab, 10);
        other.cookie = 9;
        let mut with_other = m.clone();
        with_other.sockets.push(other.clone());
        let mut only_freed = fresh(vec![sock(81, 0, 4, State::Listen, 11)], None);
        only_freed.freed.push(freed(&other));
        assert!(merge(&with_other, &only_freed, &HashSet::default(), false).is_none());
        let pending: HashSet<(u32, u64)> = [(0, 9)].into_iter().collect();
        let flushed = merge(
            &with_other,
            &fresh(vec![sock(81, 0, 4, State::Listen, 11)], None),
            &pending,
            true,
        )
        .expect("flushed");
        assert!(flushed.sockets.iter().all(|s| s.cookie != 9));
        let changed =
            merge(&with_other, &fresh(vec![], None), &pending, false).expect("a listener went");
        assert!(
            changed.sockets.iter().all(|s| s.cookie != 9),
            "taken out with the copy"
        );
        // Nothing new: no table is copied.
        let again = fresh(vec![sock(81, 0, 4, State::Listen, 11)], None);
        assert!(merge(&m, &again, &HashSet::default(), false).is_none());
    }

    /// With a narrowing, its sockets are replaced too (one closed, one opened), and the
    /// others are kept; another namespace's listeners are never replaced.
    #[test]
    fn a_narrowing_replaces_its_own_sockets_only() {
        let mut other_ns = sock(9000, 0, 9, State::Listen, 0);
        other_ns.netns = 77;
        let mut prev = table(vec![
            sock(80, 0, 1, State::Listen, 10),
            sock(80, 5000, 2, State::Estab, 10),
            sock(443, 6000, 3, State::Estab, 10),
            other_ns,
        ]);
        prev.netns.host = 5;
        let n = Narrow::new(vec![vec![Cond::Port {
            end: End::Local,
            lo: 80,
            hi: 80,
        }]]);
        let f = fresh(
            vec![
                sock(80, 0, 1, State::Listen, 10),
                sock(80, 5002, 4, State::Estab, 10),
            ],
            n,
        );
        let m = merge(&prev, &f, &HashSet::default(), false).unwrap();
        assert_eq!(
            ports(&m),
            vec![
                (80, 0, State::Listen),
                (80, 5002, State::Estab),
                (443, 6000, State::Estab),
                (9000, 0, State::Listen)
            ]
        );
    }

    #[test]
    fn sockstat_parses_the_kernel_lines() {
        let v4 =
            "sockets: used 300\nTCP: inuse 7 orphan 0 tw 331 alloc 12 mem 0\nUDP: inuse 3 mem 1\n";
        let v6 = "TCP6: inuse 2\nUDP6: inuse 1\n";
        let s = Sockstat::parse(v4, v6).unwrap();
        assert_eq!((s.tcp, s.tw, s.udp, s.tcp6, s.udp6), (7, 331, 3, 2, 1));
        assert_eq!(s.total(), 344);
        assert!(Sockstat::parse("UDP: inuse 3", "").is_none());
    }

    /// Between full tables: listeners exact, TIME-WAIT and ESTAB from the kernel's
    /// counters and marked, states only the old table knows marked.
    #[test]
    fn counts_between_full_tables_mark_the_estimates() {
        let snap = table(vec![
            sock(80, 0, 1, State::Listen, 10),
            sock(80, 5000, 2, State::Estab, 10),
            sock(80, 5001, 3, State::TimeWait, 0),
            sock(80, 5002, 4, State::CloseWait, 10),
        ]);
        let exact = Counts::of(&snap);
        assert_eq!(exact.estimated, 0);
        assert_eq!(exact.states[State::Estab as usize], 1);
        // Without counters: only listeners are exact.
        let c = Counts::estimate(&snap, None);
        assert!(!c.is_estimate(State::Listen));
        assert!(c.is_estimate(State::Estab) && c.is_estimate(State::TimeWait));
        assert!(c.is_estimate(State::CloseWait));
        assert_eq!(c.states[State::Estab as usize], 1);
        // The kernel: 1 listener + 1 CLOSE-WAIT + 40 connected, 500 TIME-WAIT.
        let k = Sockstat {
            tcp: 42,
            tcp6: 0,
            tw: 500,
            udp: 0,
            udp6: 0,
        };
        let c = Counts::estimate(&snap, Some(&k));
        assert_eq!(c.states[State::Estab as usize], 40);
        assert_eq!(c.states[State::TimeWait as usize], 500);
        assert_eq!(c.states[State::Listen as usize], 1);
        assert!(
            !c.is_estimate(State::TimeWait),
            "the kernel's count is exact"
        );
        assert!(c.is_estimate(State::Estab), "ESTAB is worked out");
        assert!(c.is_estimate(State::CloseWait));
        assert!(c.protos_estimated);
        assert_eq!(c.protos[Proto::Tcp as usize], 542);
    }
}
