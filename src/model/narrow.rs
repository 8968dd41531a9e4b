//! Which sockets a filter can be narrowed to before they are read: conditions on ports
//! and addresses the kernel can test itself (sock_diag's bytecode filter, as `ss` sends),
//! so that a dump returns those sockets and skips the rest.
//!
//! A [`Narrow`] is a pre-filter: it keeps every socket the filter it came from matches,
//! and maybe a few more; the filter still decides. [`Narrow::accepts`] says exactly what
//! the kernel keeps, so that rows read earlier can be replaced by a narrowed dump.

use super::socket::Socket;
use std::net::IpAddr;

/// The end of a socket a condition tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum End {
    Local,
    Remote,
}

/// One test the kernel can run on a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// The port at this end is in `lo..=hi` (an unconnected socket's remote port is 0).
    Port { end: End, lo: u16, hi: u16 },
    /// The address at this end is `ip` (IPv4-mapped IPv6 counts as IPv4), and the port is
    /// `port` when given.
    Addr {
        end: End,
        ip: IpAddr,
        port: Option<u16>,
    },
}

impl Cond {
    /// What the kernel answers for this socket (`inet_diag_bc_run`).
    pub fn accepts(&self, s: &Socket) -> bool {
        let at = |end: End| match end {
            End::Local => s.local(),
            End::Remote => s.remote(),
        };
        match *self {
            Cond::Port { end, lo, hi } => (lo..=hi).contains(&at(end).port()),
            Cond::Addr { end, ip, port } => {
                let a = at(end);
                port.is_none_or(|p| p == a.port()) && a.ip() == ip.to_canonical()
            }
        }
    }
}

/// Conditions in conjunctive form: every clause must hold, a clause holds when any of its
/// conditions does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Narrow {
    pub clauses: Vec<Vec<Cond>>,
}

/// More conditions than this are not sent to the kernel (its bytecode has 16-bit jumps,
/// and a long program costs at every socket): the dump is not narrowed then.
pub const MAX_CONDS: usize = 64;

impl Narrow {
    /// A narrowing with these clauses; `None` when there is none to make (no clause, an
    /// empty clause, or too many conditions).
    pub fn new(clauses: Vec<Vec<Cond>>) -> Option<Narrow> {
        let conds: usize = clauses.iter().map(Vec::len).sum();
        if clauses.is_empty() || clauses.iter().any(Vec::is_empty) || conds > MAX_CONDS {
            return None;
        }
        Some(Narrow { clauses })
    }

    /// Whether the kernel's narrowed dump returns this socket (its states aside).
    pub fn accepts(&self, s: &Socket) -> bool {
        self.clauses
            .iter()
            .all(|clause| clause.iter().any(|c| c.accepts(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diff::tests::sock;
    use crate::model::socket::{Addr, Proto, State};

    #[test]
    fn ports_and_addresses_as_the_kernel_tests_them() {
        let mut s = sock(3000, 0, 1, State::Listen, 0);
        s.set_remote("0.0.0.0:0".parse().unwrap());
        let local = |lo, hi| Cond::Port {
            end: End::Local,
            lo,
            hi,
        };
        assert!(local(3000, 3000).accepts(&s));
        assert!(!local(3001, 4000).accepts(&s));
        // An unconnected socket's remote port is 0, for the kernel too.
        let remote0 = Cond::Port {
            end: End::Remote,
            lo: 0,
            hi: 10,
        };
        assert!(remote0.accepts(&s));
        let here: IpAddr = "127.0.0.1".parse().unwrap();
        let addr = |ip, port| Cond::Addr {
            end: End::Local,
            ip,
            port,
        };
        assert!(addr(here, None).accepts(&s));
        assert!(addr(here, Some(3000)).accepts(&s));
        assert!(!addr(here, Some(3001)).accepts(&s));
        // A v6 socket on a v4-mapped address is that v4 address; `::` is not 0.0.0.0.
        let mut v6 = s.clone();
        v6.proto = Proto::Tcp6;
        v6.set_local(Addr::new("::ffff:127.0.0.1".parse().unwrap(), 3000));
        assert!(addr(here, None).accepts(&v6));
        assert!(addr("::ffff:127.0.0.1".parse().unwrap(), None).accepts(&v6));
        v6.set_local(Addr::new("::".parse().unwrap(), 3000));
        assert!(!addr("0.0.0.0".parse().unwrap(), None).accepts(&v6));
        let n = Narrow::new(vec![
            vec![local(1, 2), local(3000, 3000)],
            vec![addr(here, None)],
        ])
        .unwrap();
        assert!(n.accepts(&s));
        assert!(!n.accepts(&v6));
        assert!(Narrow::new(vec![]).is_none());
        assert!(Narrow::new(vec![vec![]]).is_none());
        assert!(Narrow::new(vec![vec![local(1, 1); MAX_CONDS + 1]]).is_none());
    }
}
