//! Diagnosis (SPEC §5): flags for each row and a verdict for a port, as pure functions
//! over a snapshot — plus the bind probe, the one piece of ground truth that needs the OS.

pub mod close;
pub mod free;
pub mod probe;
pub mod release;
pub mod respawn;
mod steps;
pub mod supervisor;
pub mod verdict;

pub use probe::{BindResult, Probe};
pub use release::{Acted, Outcome, Release};
pub use respawn::{Back, Departed, Respawn, Taken, back, respawned};
pub use steps::process_kill_step;
pub use supervisor::{Supervisor, supervisor};
pub use verdict::{Holders, Kind, Verdict, verdict, verdict_udp};

use crate::model::{Flag, Flags, OwnerStatus, Process, Snapshot, Socket, State};
use std::collections::{HashMap, HashSet, VecDeque};

/// Flags that belong to a process, whatever socket it holds.
pub fn process_flags(p: &Process) -> Flags {
    let mut f = Flags::empty();
    if p.is_stopped() {
        f = f.with(Flag::Stopped);
    }
    if !p.session_leader_alive && p.session != p.pid && p.session != 0 {
        f = f.with(Flag::Orphan);
    }
    // A process whose main thread exited (state Z, threads running) is alive: not a
    // zombie. The flag is for a real zombie, or a live holder whose parent is one.
    if p.is_zombie() || p.parent_zombie {
        f = f.with(Flag::Zombie);
    }
    if supervisor::is_docker_proxy(p) {
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

/// Flags of every row, in snapshot order: [`socket_flags`] of each, with each process's
/// flags worked out once (at 500k sockets, doing it per socket was half of `update`).
pub fn row_flags(snap: &Snapshot, leaking: &HashSet<u32>) -> Vec<Flags> {
    let by_pid: rustc_hash::FxHashMap<u32, Flags> = snap
        .processes
        .iter()
        .map(|(&pid, p)| (pid, process_flags(p)))
        .collect();
    snap.sockets
        .iter()
        .map(|s| {
            let owners = s
                .owners
                .iter()
                .filter_map(|pid| by_pid.get(pid))
                .fold(Flags::empty(), |f, &p| f.union(p));
            owners.union(own_flags(s, leaking))
        })
        .collect()
}

/// A listener whose accept queue has reached its backlog: new connections wait or fail.
pub fn is_backlogged(s: &Socket) -> bool {
    s.state == State::Listen && s.recv_q > 0 && s.recv_q >= s.send_q
}

/// What a person must know about a holder before acting on it that no flag says: the
/// main thread exited but the process lives on. `None` for an ordinary process.
pub fn explain_process(p: &Process) -> Option<String> {
    if p.main_thread_exited() {
        let others = p.threads.saturating_sub(1);
        let run = if others == 1 {
            "1 thread still runs and holds".to_owned()
        } else {
            format!("{others} threads still run and hold")
        };
        return Some(format!(
            "its main thread exited; {run} the socket (the process is alive and can be signalled)"
        ));
    }
    None
}

/// How a signal will act on a holder, for the dialog and `kill` before sending: a
/// suspended process gets CONT after a polite signal so it can exit.
pub fn signal_note(stopped: bool, sig: crate::model::Sig) -> Option<String> {
    (stopped && sig.needs_cont_when_stopped())
        .then(|| format!("suspended: {}, then CONT so it can exit", sig.name()))
}

/// One sentence per flag, for the detail pane and `why`.
pub fn explain(flag: Flag) -> &'static str {
    match flag {
        Flag::Stopped => {
            "suspended (state T, e.g. Ctrl-Z in its terminal): it holds the port but serves nothing"
        }
        Flag::Orphan => {
            "orphaned: the terminal session it was started from is gone, so nothing will stop it for you"
        }
        Flag::Zombie => {
            "its parent is a zombie (exited, never reaped): nothing will wait for this process; the port is held by the live process that inherited the socket"
        }
        Flag::Backlog => {
            "its accept queue is full: it is not accepting connections fast enough (hung or overloaded); clients wait or fail"
        }
        Flag::CloseWaitLeak => {
            "CLOSE-WAIT sockets are piling up in this process: peers closed but it never closes its side (a socket leak)"
        }
        Flag::DockerProxy => "docker-proxy publishes a container's port on the host",
        Flag::Hidden => {
            "the owner is hidden: its file descriptors are not readable for sockscope (run it as root; `sockscope info` says what root is refused)"
        }
    }
}

/// Watches CLOSE-WAIT counts per process across snapshots to tell a leak (a count that
/// keeps growing) from the normal few. Once flagged, a leak stays flagged while the count
/// stays at [`LEAK_MIN`] or above and does not fall; it clears when the count falls.
#[derive(Clone, Debug)]
pub struct CloseWaitTracker {
    history: HashMap<u32, VecDeque<usize>>,
    window: usize,
    flagged: HashSet<u32>,
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
            flagged: HashSet::new(),
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
            let before = h.back().copied();
            h.push_back(n);
            while h.len() > self.window {
                h.pop_front();
            }
            let growing = h.len() == self.window
                && h.iter().zip(h.iter().skip(1)).all(|(a, b)| b >= a)
                && h.back() > h.front()
                && n >= LEAK_MIN;
            // Steady: a flagged leak stays while the count holds; a falling count clears it.
            let steady =
                self.flagged.contains(&pid) && n >= LEAK_MIN && before.is_none_or(|b| n >= b);
            if growing || steady || n >= LEAK_MANY {
                leaking.insert(pid);
            }
        }
        self.flagged.clone_from(&leaking);
        leaking
    }
}

#[cfg(test)]
mod tests;
