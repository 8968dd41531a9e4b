//! Diagnosis (SPEC §5): flags for each row and a verdict for a port, as pure functions
//! over a snapshot — plus the bind probe, the one piece of ground truth that needs the OS.

pub mod probe;
pub mod verdict;

pub use probe::{BindResult, Probe};
pub use verdict::{Kind, Verdict, verdict};

use crate::model::{Flag, Flags, OwnerStatus, Process, Snapshot, Socket, State};
use std::collections::{HashMap, HashSet, VecDeque};

/// Flags that belong to a process, whatever socket it holds.
pub fn process_flags(p: &Process) -> Flags {
    let mut f = Flags::empty();
    if matches!(p.state, 'T' | 't') {
        f = f.with(Flag::Stopped);
    }
    if !p.session_leader_alive && p.session != p.pid && p.session != 0 {
        f = f.with(Flag::Orphan);
    }
    if p.state == 'Z' || p.parent_state == Some('Z') {
        f = f.with(Flag::Zombie);
    }
    if p.name == "docker-proxy" {
        f = f.with(Flag::DockerProxy);
    }
    f
}

/// Flags of one socket row: its owners' flags and its own.
pub fn socket_flags(s: &Socket, snap: &Snapshot, leaking: &HashSet<u32>) -> Flags {
    let mut f = Flags::empty();
    for p in snap.owners_of(s) {
        f = f.union(process_flags(p));
    }
    f.union(own_flags(s, leaking))
}

/// The flags a socket has by itself, without its owners' process flags.
fn own_flags(s: &Socket, leaking: &HashSet<u32>) -> Flags {
    let mut f = Flags::empty();
    if is_backlogged(s) {
        f = f.with(Flag::Backlog);
    }
    if s.owner_status == OwnerStatus::Hidden {
        f = f.with(Flag::Hidden);
    }
    if (s.state == State::CloseWait || s.is_listener())
        && s.owners.iter().any(|p| leaking.contains(p))
    {
        f = f.with(Flag::CloseWaitLeak);
    }
    f
}

/// Flags of every row, in snapshot order.
pub fn row_flags(snap: &Snapshot, leaking: &HashSet<u32>) -> Vec<Flags> {
    snap.sockets
        .iter()
        .map(|s| socket_flags(s, snap, leaking))
        .collect()
}

/// A listener whose accept queue has reached its backlog: new connections wait or fail.
pub fn is_backlogged(s: &Socket) -> bool {
    s.state == State::Listen && s.recv_q > 0 && s.recv_q >= s.send_q
}

/// One sentence per flag, for the detail pane and `why`.
pub fn explain(flag: Flag) -> &'static str {
    match flag {
        Flag::Stopped => {
            "suspended (state T, e.g. Ctrl-Z in its terminal): it holds the port but serves nothing; resume it with `fg` or `kill -CONT`, or stop it"
        }
        Flag::Orphan => {
            "orphaned: the terminal session it was started from is gone, so nothing will stop it for you"
        }
        Flag::Zombie => {
            "a zombie is involved: an exited process whose parent has not reaped it; the port is held by whichever live process inherited the socket"
        }
        Flag::Backlog => {
            "its accept queue is full: it is not accepting connections fast enough (hung or overloaded); clients wait or fail"
        }
        Flag::CloseWaitLeak => {
            "CLOSE-WAIT sockets are piling up in this process: peers closed but it never closes its side (a socket leak)"
        }
        Flag::DockerProxy => {
            "docker-proxy publishes a container's port: stop the container (docker ps --filter publish=PORT), not the proxy"
        }
        Flag::Hidden => "the owner is hidden from you: run as root to see it",
    }
}

/// Watches CLOSE-WAIT counts per process across snapshots to tell a leak (a count that
/// keeps growing) from the normal few.
#[derive(Clone, Debug)]
pub struct CloseWaitTracker {
    history: HashMap<u32, VecDeque<usize>>,
    window: usize,
}

/// Growing over at least this many snapshots, to at least [`LEAK_MIN`], is a leak.
pub const LEAK_WINDOW: usize = 4;
pub const LEAK_MIN: usize = 4;
/// This many at once is a leak even without history (one-shot commands).
pub const LEAK_MANY: usize = 32;

impl Default for CloseWaitTracker {
    fn default() -> Self {
        CloseWaitTracker {
            history: HashMap::new(),
            window: LEAK_WINDOW,
        }
    }
}

impl CloseWaitTracker {
    /// Records a snapshot; returns the pids whose CLOSE-WAIT sockets are piling up.
    pub fn observe(&mut self, snap: &Snapshot) -> HashSet<u32> {
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for s in snap.sockets.iter().filter(|s| s.state == State::CloseWait) {
            for p in &s.owners {
                *counts.entry(*p).or_default() += 1;
            }
        }
        self.history.retain(|pid, _| counts.contains_key(pid));
        let mut leaking = HashSet::new();
        for (pid, n) in counts {
            let h = self.history.entry(pid).or_default();
            h.push_back(n);
            while h.len() > self.window {
                h.pop_front();
            }
            let growing = h.len() == self.window
                && h.iter().zip(h.iter().skip(1)).all(|(a, b)| b >= a)
                && h.back() > h.front()
                && n >= LEAK_MIN;
            if growing || n >= LEAK_MANY {
                leaking.insert(pid);
            }
        }
        leaking
    }
}

#[cfg(test)]
mod tests;
