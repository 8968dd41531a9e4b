//! The filter language of SPEC §3: whitespace-separated terms, all of which must match.
//!
//! `:3000`, `port:3000-3999`, `lport:`, `rport:`, `state:listen,tw`, `proto:udp`, `tcp`,
//! `udp`, `v4`, `v6`, `pid:123`, `proc:node`, `user:alice`, `flag:orphan`, `!term`, and bare
//! words (case-insensitive substring of process name, cmdline and addresses).

mod parse;

pub use parse::{QueryError, parse};

use crate::model::socket::Endpoint;
use crate::model::{Flag, Flags, Proto, Snapshot, Socket, State};
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

/// Which port of a socket a port test looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortSide {
    Either,
    Local,
    Remote,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    Port(PortSide, Vec<RangeInclusive<u16>>),
    State(Vec<State>),
    /// Protocols accepted; `tcp` means both tcp and tcp6.
    Proto(Vec<Proto>),
    V4,
    V6,
    Pid(Vec<u32>),
    /// Lowercased substring of an owner's process name.
    Proc(String),
    /// A user name or a numeric uid, matched against the socket's and owners' users.
    User(String),
    Flag(Flag),
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

    /// Matches a socket that carries no diagnosis flags.
    pub fn matches(&self, s: &Socket, snap: &Snapshot) -> bool {
        self.matches_with_flags(s, snap, Flags::empty())
    }

    /// Matches a socket whose diagnosis `flags` have been computed by the caller.
    pub fn matches_with_flags(&self, s: &Socket, snap: &Snapshot, flags: Flags) -> bool {
        self.terms
            .iter()
            .all(|t| t.test.matches(s, snap, flags) != t.negated)
    }
}

impl Test {
    fn matches(&self, s: &Socket, snap: &Snapshot, flags: Flags) -> bool {
        match self {
            Test::Port(side, ranges) => {
                let hit = |p: u16| ranges.iter().any(|r| r.contains(&p));
                match side {
                    PortSide::Local => hit(s.local.port()),
                    PortSide::Remote => s.remote.port() != 0 && hit(s.remote.port()),
                    PortSide::Either => {
                        hit(s.local.port()) || (s.remote.port() != 0 && hit(s.remote.port()))
                    }
                }
            }
            Test::State(states) => states.contains(&s.state),
            Test::Proto(protos) => protos.contains(&s.proto),
            Test::V4 => !s.proto.is_v6(),
            Test::V6 => s.proto.is_v6(),
            Test::Pid(pids) => s.owners.iter().any(|p| pids.contains(p)),
            Test::Proc(needle) => snap.owners_of(s).any(|p| contains_ci(&p.name, needle)),
            Test::User(user) => {
                let is = |uid: u32| {
                    uid.to_string() == *user || snap.user_name(uid).is_some_and(|n| n == user)
                };
                is(s.uid) || snap.owners_of(s).any(|p| p.uid.is_some_and(is))
            }
            Test::Flag(f) => flags.contains(*f),
            Test::Word(needle) => {
                snap.owners_of(s).any(|p| {
                    contains_ci(&p.name, needle) || p.cmdline.iter().any(|a| contains_ci(a, needle))
                }) || {
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
