//! The filter language of SPEC §3: whitespace-separated terms, all of which must match.
//!
//! `:3000`, `port:3000-3999`, `lport:`, `rport:`, `addr:127.0.0.1`, `addr:[::1]:3000`,
//! `laddr:`, `raddr:`, `state:listen,tw`, `proto:udp`, `tcp`, `udp`, `v4`, `v6`, `pid:123`,
//! `inode:81234`, `proc:node`, `user:alice`, `flag:orphan`, `!term`, and bare words
//! (case-insensitive substring of process name, cmdline and addresses). Commands that act
//! parse with [`parse_exact`]: no substring search selects what they act on.

mod parse;

pub use parse::{ExactError, QueryError, parse, parse_exact};

use crate::model::Addr;
use crate::model::socket::Endpoint;
use crate::model::{Event, Flag, Flags, Proto, Snapshot, Socket, State};
use std::fmt::Write as _;
use std::ops::RangeInclusive;

/// A parsed query: every term must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    terms: Vec<Term>,
}

/// One term, possibly negated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Term {
    pub negated: bool,
    pub test: Test,
}

/// Which closed connections `closed:` means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freed {
    Any,
    Short,
    Seen,
}

/// Which end of a socket a port or address test looks at. An unconnected socket has no
/// remote end: its `0.0.0.0:0` never matches a remote test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Either,
    Local,
    Remote,
}

/// An exact address, with or without a port. IPv4-mapped IPv6 is kept as IPv4, as
/// sockets' addresses are, so `::ffff:10.0.0.1` and `10.0.0.1` are the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrPat {
    pub ip: std::net::IpAddr,
    pub port: Option<u16>,
}

impl AddrPat {
    fn matches(&self, a: &Addr) -> bool {
        a.ip() == self.ip && self.port.is_none_or(|p| p == a.port())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    Port(Side, Vec<RangeInclusive<u16>>),
    /// The address equals one of these (not a substring).
    Addr(Side, Vec<AddrPat>),
    State(Vec<State>),
    /// Protocols accepted; `tcp` means both tcp and tcp6.
    Proto(Vec<Proto>),
    V4,
    V6,
    Pid(Vec<u32>),
    /// The socket's inode (what `list` shows in INODE).
    Inode(Vec<u64>),
    /// Lowercased substring of an owner's process name.
    Proc(String),
    /// An owner's whole process name, case-insensitively: what `proc:` means in a query
    /// that acts (`close`), where no substring may select.
    ProcName(String),
    /// A user name or a numeric uid, matched against the socket's and owners' users.
    User(String),
    /// A network namespace: its name (`host`, an `ip netns` name, a container's) or
    /// inode, case-insensitively.
    Netns(String),
    Flag(Flag),
    /// An event of a connection the kernel freed (`closed:any`), one no poll saw open
    /// (`closed:short`), or one a poll saw (`closed:seen`).
    Closed(Freed),
    /// Lowercased substring of process name, cmdline or addresses.
    Word(String),
}

impl Query {
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// Whether every term matches. A subject always comes with its flags, so `flag:`
    /// terms are never silently ignored.
    pub fn matches(&self, x: &Subject<'_>) -> bool {
        self.terms.iter().all(|t| t.test.matches(x) != t.negated)
    }

    /// Whether a term (not negated) picks out particular sockets: a port, pid, address or
    /// inode, rather than kinds of sockets (a state, a protocol).
    pub fn narrows(&self) -> bool {
        self.terms.iter().any(|t| {
            !t.negated
                && matches!(
                    t.test,
                    Test::Port(..) | Test::Addr(..) | Test::Pid(_) | Test::Inode(_)
                )
        })
    }

    /// What the kernel can narrow a dump to for this query: its port and address terms
    /// (those not negated), each a clause of the [`Narrow`]. `None` when it has none, or
    /// too many values to send. The kernel's answer holds every socket the query
    /// matches (an unconnected socket's remote port is 0 for it, while `rport:` never
    /// matches one): the query still decides.
    pub fn narrowing(&self) -> Option<crate::model::Narrow> {
        use crate::model::narrow::{Cond, End, Narrow};
        let ends = |side: Side| match side {
            Side::Either => &[End::Local, End::Remote][..],
            Side::Local => &[End::Local][..],
            Side::Remote => &[End::Remote][..],
        };
        let mut clauses = Vec::new();
        for t in self.terms.iter().filter(|t| !t.negated) {
            match &t.test {
                Test::Port(side, ranges) => clauses.push(
                    ranges
                        .iter()
                        .flat_map(|r| {
                            ends(*side).iter().map(|&end| Cond::Port {
                                end,
                                lo: *r.start(),
                                hi: *r.end(),
                            })
                        })
                        .collect(),
                ),
                Test::Addr(side, pats) => clauses.push(
                    pats.iter()
                        .flat_map(|p| {
                            ends(*side).iter().map(|&end| Cond::Addr {
                                end,
                                ip: p.ip,
                                port: p.port,
                            })
                        })
                        .collect(),
                ),
                _ => {}
            }
        }
        Narrow::new(clauses)
    }

    /// Whether the query asks for UDP by name (`proto:udp`, `udp`, `proto:udp6`).
    pub fn names_udp(&self) -> bool {
        self.terms.iter().any(|t| {
            !t.negated
                && matches!(&t.test, Test::Proto(p) if p.iter().any(|x| matches!(x, Proto::Udp | Proto::Udp6)))
        })
    }

    /// Matches a socket of `snap` whose diagnosis `flags` the caller computed.
    pub fn matches_socket(&self, s: &Socket, snap: &Snapshot, flags: Flags) -> bool {
        self.matches(&Subject::socket(s, snap, flags))
    }
}

/// What a query is matched against: a socket as it is now, or as an event saw it.
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub proto: Proto,
    pub local: Addr,
    pub remote: Addr,
    pub state: State,
    /// Inode of its network namespace (0: the host).
    pub netns: u32,
    /// The socket's uid; unknown for an event.
    pub uid: Option<u32>,
    pub inode: u64,
    pub owners: &'a [u32],
    /// The owners as `pid/name`, for owners that may have exited since (events).
    pub names: Option<&'a str>,
    /// For a connection the kernel freed (an event): whether no poll saw it open.
    pub freed_short: Option<bool>,
    pub flags: Flags,
    /// Where the owners' details are looked up.
    pub snap: &'a Snapshot,
}

impl<'a> Subject<'a> {
    pub fn socket(s: &'a Socket, snap: &'a Snapshot, flags: Flags) -> Subject<'a> {
        Subject {
            proto: s.proto,
            local: s.local(),
            remote: s.remote(),
            state: s.state,
            netns: s.netns,
            uid: Some(s.uid),
            inode: u64::from(s.inode),
            owners: &s.owners,
            names: None,
            freed_short: None,
            flags,
            snap,
        }
    }

    /// An event, with the flags and owner names it had when it happened.
    pub fn event(e: &'a Event, snap: &'a Snapshot) -> Subject<'a> {
        Subject {
            proto: e.socket.proto,
            local: e.socket.local,
            remote: e.socket.remote,
            state: e.state,
            netns: e.socket.netns,
            uid: None,
            inode: e.socket.inode,
            owners: &e.owners,
            names: Some(&e.names),
            freed_short: e.life.as_ref().map(|l| l.short_lived),
            flags: e.flags,
            snap,
        }
    }

    /// Owners whose details the snapshot has.
    fn processes(&self) -> impl Iterator<Item = &'a crate::model::Process> + 'a {
        let snap = self.snap;
        self.owners
            .iter()
            .filter_map(move |p| snap.processes.get(p))
    }

    /// The owners' names, from the snapshot or from what the event kept.
    fn name_matches(&self, needle: &str) -> bool {
        self.processes().any(|p| contains_ci(&p.name, needle))
            || self.names.is_some_and(|n| {
                n.split(',')
                    .filter_map(|o| o.split_once('/').map(|(_, name)| name))
                    .any(|name| contains_ci(name, needle))
            })
    }
}

impl Test {
    fn matches(&self, s: &Subject<'_>) -> bool {
        let snap = s.snap;
        match self {
            Test::Port(side, ranges) => {
                let hit = |p: u16| ranges.iter().any(|r| r.contains(&p));
                match side {
                    Side::Local => hit(s.local.port()),
                    Side::Remote => s.remote.port() != 0 && hit(s.remote.port()),
                    Side::Either => {
                        hit(s.local.port()) || (s.remote.port() != 0 && hit(s.remote.port()))
                    }
                }
            }
            Test::Addr(side, pats) => {
                let hit = |a: &Addr| pats.iter().any(|p| p.matches(a));
                let remote = || !s.remote.ip().is_unspecified() && hit(&s.remote);
                match side {
                    Side::Local => hit(&s.local),
                    Side::Remote => remote(),
                    Side::Either => hit(&s.local) || remote(),
                }
            }
            Test::State(states) => states.contains(&s.state),
            Test::Proto(protos) => protos.contains(&s.proto),
            Test::V4 => !s.proto.is_v6(),
            Test::V6 => s.proto.is_v6(),
            Test::Pid(pids) => s.owners.iter().any(|p| pids.contains(p)),
            Test::Inode(inodes) => inodes.contains(&s.inode),
            Test::Proc(needle) => s.name_matches(needle),
            Test::ProcName(name) => s.processes().any(|p| p.name.eq_ignore_ascii_case(name)),
            Test::User(user) => {
                let is = |uid: u32| {
                    uid.to_string() == *user || snap.user_name(uid).is_some_and(|n| n == user)
                };
                s.uid.is_some_and(is) || s.processes().any(|p| p.uid.is_some_and(is))
            }
            Test::Flag(f) => s.flags.contains(*f),
            Test::Closed(which) => match (which, s.freed_short) {
                (_, None) => false,
                (Freed::Any, Some(_)) => true,
                (Freed::Short, Some(short)) => short,
                (Freed::Seen, Some(short)) => !short,
            },
            Test::Netns(want) => {
                s.netns.to_string() == *want || snap.netns.name(s.netns).eq_ignore_ascii_case(want)
            }
            Test::Word(needle) => {
                s.name_matches(needle)
                    || s.processes()
                        .any(|p| p.cmdline.iter().any(|a| contains_ci(a, needle)))
                    || {
                        let mut buf = String::with_capacity(48);
                        let _ = write!(
                            buf,
                            "{} {} {} {}",
                            Endpoint(&s.local),
                            Endpoint(&s.remote),
                            s.local,
                            s.remote
                        );
                        contains_ci(&buf, needle)
                    }
            }
        }
    }
}

/// Case-insensitive substring test; `needle` is already lowercase.
fn contains_ci(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    if hay.is_ascii() && needle.is_ascii() {
        let (h, n) = (hay.as_bytes(), needle.as_bytes());
        return h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    hay.to_lowercase().contains(needle)
}

#[cfg(test)]
mod tests;
