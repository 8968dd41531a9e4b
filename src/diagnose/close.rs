//! What `sockscope close` may close (SOCK_DESTROY, as `ss -K`), decided before anything
//! is sent. Pure: a selection and a snapshot in, the sockets or a refusal out. The query
//! is parsed and matched by the command; this module sees only what it selected (SPEC
//! §11: selections are exact, and broad ones need an explicit count).
//!
//! - The query must narrow by port, pid, address or inode: a slip of the fingers must not
//!   close every connection of the machine.
//! - A selection of more than one process, or of more than [`MANY`] sockets, needs
//!   `--many N` with N at least the count: a typo cannot close a host's connections.
//! - Listeners are never closed: the kernel stops them accepting but the port stays bound.
//!   Stopping the holder is what frees it.
//! - UDP sockets are only disconnected by the kernel and stay bound: only when the query
//!   names UDP explicitly.

use crate::model::{Snapshot, State};

/// More sockets than this in one `close` need `--many N`.
pub const MANY: usize = 64;

/// What the user's query selected, as facts: diagnose does not parse queries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// The sockets the query matched (indices into the snapshot).
    pub matched: Vec<usize>,
    /// The query names a port, pid, address or inode, not only kinds of sockets.
    pub narrowed: bool,
    /// The query names UDP (`proto:udp`, `udp`).
    pub names_udp: bool,
    /// `--many N`: consent to a broad selection of up to N sockets.
    pub many: Option<usize>,
}

/// The sockets to close (indices into the snapshot), and the listeners left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClosePlan {
    pub sockets: Vec<usize>,
    pub listeners: Vec<usize>,
    /// Distinct pids owning `sockets`; a socket no process holds (a TIME-WAIT) adds none.
    pub processes: usize,
    /// Set when the selection is broad and `--many` does not cover it: nothing may be
    /// closed, but a dry run still shows what was selected.
    pub blocked: Option<CloseRefusal>,
}

/// Why nothing will be closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CloseRefusal {
    #[error(
        "the query must name a port, pid, address or inode (e.g. `sockscope close :3000 state:time-wait`)"
    )]
    NotNarrowed,
    #[error("{}", many_text(*count, *processes, *given))]
    Many {
        count: usize,
        processes: usize,
        /// The `--many` the user gave, too small.
        given: Option<usize>,
    },
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

/// "this selects 212 sockets of 3 processes: add `--many 212` if you mean it".
fn many_text(count: usize, processes: usize, given: Option<usize>) -> String {
    let s = if count == 1 { "" } else { "s" };
    let of = match processes {
        0 => " that no process holds".to_owned(),
        1 => " of 1 process".to_owned(),
        k => format!(" of {k} processes"),
    };
    match given {
        Some(n) => format!(
            "this selects {count} socket{s}{of}, more than `--many {n}`: use `--many {count}` if you mean it"
        ),
        None => format!("this selects {count} socket{s}{of}: add `--many {count}` if you mean it"),
    }
}

/// Decides what `close` may close.
pub fn plan(sel: &Selection, snap: &Snapshot) -> Result<ClosePlan, CloseRefusal> {
    if !sel.narrowed {
        return Err(CloseRefusal::NotNarrowed);
    }
    let (listeners, sockets): (Vec<usize>, Vec<usize>) = sel
        .matched
        .iter()
        .copied()
        .filter(|&i| i < snap.sockets.len())
        .partition(|&i| snap.sockets[i].state == State::Listen);
    let mut pids: Vec<u32> = sockets
        .iter()
        .flat_map(|&i| snap.sockets[i].owners.iter().copied())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let (count, processes) = (sockets.len(), pids.len());
    let broad = processes > 1 || count > MANY;
    let blocked = (broad && sel.many.is_none_or(|n| n < count)).then_some(CloseRefusal::Many {
        count,
        processes,
        given: sel.many,
    });
    let plan = ClosePlan {
        sockets,
        listeners,
        processes,
        blocked,
    };
    // Too broad comes first: the selection is shown (in a dry run) before anything else
    // about it is judged.
    if plan.blocked.is_some() {
        return Ok(plan);
    }
    let udp = plan
        .sockets
        .iter()
        .filter(|&&i| !snap.sockets[i].proto.is_tcp())
        .count();
    if udp > 0 && !sel.names_udp {
        return Err(CloseRefusal::Udp { count: udp });
    }
    if plan.sockets.is_empty()
        && let Some(&first) = plan.listeners.first()
    {
        return Err(CloseRefusal::OnlyListeners {
            port: snap.sockets[first].local().port(),
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{snapshot, sock, table};
    use crate::model::{Proto, Scope, Socket};

    /// The test table plus a TIME-WAIT on :3000 (index 8).
    fn snap() -> Snapshot {
        let (mut s, p) = table();
        s.push(sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "127.0.0.1:41007",
            State::TimeWait,
            0,
            &[],
        ));
        snapshot(0, Scope::All, s, &p)
    }

    /// The sockets `pick` selects, narrowed, UDP not named, no `--many`.
    fn select(snap: &Snapshot, pick: impl Fn(&Socket) -> bool) -> Selection {
        Selection {
            matched: (0..snap.sockets.len())
                .filter(|&i| pick(&snap.sockets[i]))
                .collect(),
            narrowed: true,
            ..Selection::default()
        }
    }

    #[test]
    fn narrow_queries_only() {
        let snap = snap();
        let mut sel = select(&snap, |s| s.state == State::TimeWait);
        sel.narrowed = false;
        assert_eq!(plan(&sel, &snap), Err(CloseRefusal::NotNarrowed));
        sel.narrowed = true;
        assert!(plan(&sel, &snap).is_ok_and(|p| p.sockets.len() == 2 && p.blocked.is_none()));
    }

    #[test]
    fn listeners_are_left_out_and_udp_needs_naming() {
        let snap = snap();
        // Node's sockets on :3000: its listener, two connections; and two TIME-WAITs.
        let p = plan(&select(&snap, |s| s.local().port() == 3000), &snap).unwrap();
        assert_eq!(p.listeners, vec![0]);
        assert_eq!(p.sockets, vec![3, 5, 7, 8]);
        assert_eq!((p.processes, p.blocked), (1, None));
        let only = select(&snap, |s| {
            s.local().port() == 3000 && s.state == State::Listen
        });
        assert_eq!(
            plan(&only, &snap),
            Err(CloseRefusal::OnlyListeners { port: 3000 })
        );
        let mut udp = select(&snap, |s| s.local().port() == 53);
        assert_eq!(plan(&udp, &snap), Err(CloseRefusal::Udp { count: 1 }));
        udp.names_udp = true;
        assert_eq!(plan(&udp, &snap).unwrap().sockets, vec![2]);
    }

    #[test]
    fn more_than_one_process_needs_many_with_the_count() {
        let snap = snap();
        // Both ends of node's connection: node (100) and curl (400); and a TIME-WAIT.
        let mut sel = select(&snap, |s| s.state != State::Listen && s.proto.is_tcp());
        let p = plan(&sel, &snap).unwrap();
        assert_eq!((p.sockets.len(), p.processes), (5, 2));
        let refusal = CloseRefusal::Many {
            count: 5,
            processes: 2,
            given: None,
        };
        assert_eq!(p.blocked, Some(refusal.clone()));
        assert_eq!(
            refusal.to_string(),
            "this selects 5 sockets of 2 processes: add `--many 5` if you mean it"
        );
        sel.many = Some(4);
        let blocked = plan(&sel, &snap).unwrap().blocked.unwrap();
        assert_eq!(
            blocked.to_string(),
            "this selects 5 sockets of 2 processes, more than `--many 4`: use `--many 5` if you mean it"
        );
        sel.many = Some(5);
        assert_eq!(plan(&sel, &snap).unwrap().blocked, None);
        sel.many = Some(500);
        assert_eq!(plan(&sel, &snap).unwrap().blocked, None);
    }

    #[test]
    fn a_socket_two_processes_share_spans_both() {
        let (_, p) = table();
        let shared = sock(
            Proto::Tcp,
            "127.0.0.1:8080",
            "127.0.0.1:50000",
            State::Estab,
            30,
            &[200, 201],
        );
        let snap = snapshot(0, Scope::All, vec![shared], &p);
        let p = plan(&select(&snap, |_| true), &snap).unwrap();
        assert_eq!(p.processes, 2);
        assert!(matches!(
            p.blocked,
            Some(CloseRefusal::Many { count: 1, .. })
        ));
    }

    #[test]
    fn more_than_64_sockets_need_many_even_with_no_process() {
        let tw = |i: usize| {
            sock(
                Proto::Tcp,
                "127.0.0.1:3000",
                &format!("127.0.0.1:{}", 40000 + i),
                State::TimeWait,
                0,
                &[],
            )
        };
        let snap = snapshot(0, Scope::All, (0..MANY).map(tw).collect(), &[]);
        let p = plan(&select(&snap, |_| true), &snap).unwrap();
        assert_eq!((p.sockets.len(), p.processes, p.blocked), (MANY, 0, None));
        let snap = snapshot(0, Scope::All, (0..=MANY).map(tw).collect(), &[]);
        let mut sel = select(&snap, |_| true);
        let blocked = plan(&sel, &snap).unwrap().blocked.unwrap();
        assert_eq!(
            blocked.to_string(),
            "this selects 65 sockets that no process holds: add `--many 65` if you mean it"
        );
        sel.many = Some(65);
        assert_eq!(plan(&sel, &snap).unwrap().blocked, None);
    }

    #[test]
    fn a_broad_selection_is_shown_before_other_refusals() {
        let snap = snap();
        // UDP not named, but the selection spans three processes: the count comes first.
        let sel = select(&snap, |s| s.state != State::Listen);
        let p = plan(&sel, &snap).unwrap();
        assert!(p.sockets.contains(&2), "the UDP socket is shown");
        assert!(matches!(
            p.blocked,
            Some(CloseRefusal::Many { processes: 3, .. })
        ));
        let sel = Selection {
            many: Some(p.sockets.len()),
            ..sel
        };
        assert_eq!(plan(&sel, &snap), Err(CloseRefusal::Udp { count: 1 }));
    }
}
