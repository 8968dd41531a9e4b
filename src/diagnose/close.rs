//! What `sockscope close QUERY` may close (SOCK_DESTROY, as `ss -K`), decided before
//! anything is sent. Pure: a query and a snapshot in, the sockets or a refusal out.
//!
//! - The query must narrow by port, pid, address or inode: a slip of the fingers must not
//!   close every connection of the machine. A query that matches every socket is refused.
//! - Listeners are never closed: the kernel stops them accepting but the port stays bound.
//!   Stopping the holder is what frees it.
//! - UDP sockets are only disconnected by the kernel and stay bound: only when the query
//!   names UDP explicitly.

use crate::model::{Proto, Snapshot, State};
use crate::query::{Query, Test};

/// The sockets to close (indices into the snapshot), and the listeners left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClosePlan {
    pub sockets: Vec<usize>,
    pub listeners: Vec<usize>,
}

/// Why nothing will be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseRefusal {
    #[error(
        "the query must name a port, pid, address or inode (e.g. `sockscope close :3000 state:time-wait`)"
    )]
    NotNarrowed,
    #[error("the query matches every socket ({0}): name a port, pid, address or inode")]
    TooBroad(usize),
    #[error(
        "{count} UDP socket{s} match: closing a UDP socket only disconnects it and it stays bound; add `proto:udp` to close {them} anyway",
        s = if *count == 1 { "" } else { "s" },
        them = if *count == 1 { "it" } else { "them" }
    )]
    Udp { count: usize },
    #[error(
        "only listeners match: closing a listener stops it accepting but the port stays bound; stop its holder instead (`sockscope kill :{port}`)"
    )]
    OnlyListeners { port: u16 },
}

/// A term that picks out sockets rather than kinds of them.
fn narrows(test: &Test) -> bool {
    match test {
        Test::Port(..) | Test::Pid(_) | Test::Inode(_) => true,
        Test::Word(w) => {
            w.parse::<std::net::IpAddr>().is_ok() || w.parse::<std::net::SocketAddr>().is_ok()
        }
        _ => false,
    }
}

/// Whether the query asks for UDP by name (`proto:udp`, `udp`, `proto:udp6`).
fn names_udp(q: &Query) -> bool {
    q.terms().iter().any(|t| {
        !t.negated
            && matches!(&t.test, Test::Proto(p) if p.iter().any(|x| matches!(x, Proto::Udp | Proto::Udp6)))
    })
}

/// Decides what `close` may close. `flags` are each socket's diagnosis flags, for
/// `flag:` terms.
pub fn plan(
    q: &Query,
    snap: &Snapshot,
    flags: &[crate::model::Flags],
) -> Result<ClosePlan, CloseRefusal> {
    if !q.terms().iter().any(|t| !t.negated && narrows(&t.test)) {
        return Err(CloseRefusal::NotNarrowed);
    }
    let matched: Vec<usize> = snap
        .sockets
        .iter()
        .enumerate()
        .filter(|(i, s)| q.matches_socket(s, snap, flags.get(*i).copied().unwrap_or_default()))
        .map(|(i, _)| i)
        .collect();
    if matched.len() > 1 && matched.len() == snap.sockets.len() {
        return Err(CloseRefusal::TooBroad(matched.len()));
    }
    let udp = matched
        .iter()
        .filter(|&&i| !snap.sockets[i].proto.is_tcp())
        .count();
    if udp > 0 && !names_udp(q) {
        return Err(CloseRefusal::Udp { count: udp });
    }
    let (listeners, sockets): (Vec<usize>, Vec<usize>) = matched
        .into_iter()
        .partition(|&i| snap.sockets[i].state == State::Listen);
    if sockets.is_empty()
        && let Some(&first) = listeners.first()
    {
        return Err(CloseRefusal::OnlyListeners {
            port: snap.sockets[first].local.port(),
        });
    }
    Ok(ClosePlan { sockets, listeners })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{snapshot, sock, table};
    use crate::model::Scope;

    fn run(q: &str) -> Result<ClosePlan, CloseRefusal> {
        let (mut s, p) = table();
        s.push(sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "127.0.0.1:41007",
            State::TimeWait,
            0,
            &[],
        ));
        let snap = snapshot(0, Scope::All, s, &p);
        let flags = vec![Default::default(); snap.sockets.len()];
        plan(&crate::query::parse(q).unwrap(), &snap, &flags)
    }

    #[test]
    fn narrow_queries_only() {
        assert_eq!(run("state:time-wait"), Err(CloseRefusal::NotNarrowed));
        assert_eq!(run("!:3000"), Err(CloseRefusal::NotNarrowed));
        assert_eq!(run("node"), Err(CloseRefusal::NotNarrowed));
        assert!(run(":3000 state:time-wait").is_ok());
        assert!(run("127.0.0.1 tcp").is_ok_and(|p| !p.sockets.is_empty()));
        let all = run("port:1-65535");
        assert!(matches!(all, Err(CloseRefusal::TooBroad(_))), "{all:?}");
    }

    #[test]
    fn listeners_are_left_out_and_udp_needs_naming() {
        let p = run(":3000").unwrap();
        assert!(!p.listeners.is_empty(), "the :3000 listener is left out");
        assert!(!p.sockets.is_empty());
        assert!(matches!(
            run(":3000 state:listen"),
            Err(CloseRefusal::OnlyListeners { port: 3000 })
        ));
        assert!(matches!(run(":53"), Err(CloseRefusal::Udp { count: 1 })));
        // Named explicitly: the UDP socket is planned (it is not a listener here only if
        // connected; an unconnected one is UNCONN, which is not LISTEN).
        assert!(run(":53 proto:udp").is_ok());
    }
}
