//! The live data of the TUI: the latest snapshot and what is remembered across
//! snapshots — when each socket was first seen, recent changes, closed sockets kept for a
//! few seconds, the event log, diagnosis flags, and the collector's health. Every socket
//! is collected whatever view is shown, so ages and events never depend on the view.

use crate::diagnose::CloseWaitTracker;
use crate::model::diff::ChangeKind;
use crate::model::{Collected, EventLog, Flags, FlagsOf, Snapshot, Socket, SocketKey};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Highlight of a row that changed recently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    New,
    Changed,
}

/// A closed socket kept on screen (in red) for a few seconds.
#[derive(Clone, Debug)]
pub struct Ghost {
    pub socket: Socket,
    /// Its owners as `pid/name`, from the snapshot that last saw them: they may have
    /// exited since.
    pub names: String,
    pub until: SystemTime,
}

/// Collector health for the status bar.
#[derive(Clone, Debug, Default)]
pub struct CollectInfo {
    pub took: Duration,
    pub overruns: u64,
    pub error: Option<Arc<dyn std::error::Error + Send + Sync>>,
    pub snapshots: u64,
}

/// The latest snapshot and its history.
pub struct Live {
    pub snap: Arc<Snapshot>,
    pub now: SystemTime,
    pub first_seen: HashMap<SocketKey, SystemTime>,
    pub marks: HashMap<SocketKey, (Mark, SystemTime)>,
    /// Closed sockets, oldest first.
    pub ghosts: Vec<Ghost>,
    pub events: EventLog,
    /// Diagnosis flags of each socket of `snap`, same order.
    pub flags: Vec<Flags>,
    pub close_waits: CloseWaitTracker,
    pub collect: CollectInfo,
    /// Some socket lives in a network namespace other than the host's.
    pub other_netns: bool,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            snap: Arc::new(Snapshot::empty(crate::model::Scope::All)),
            now: SystemTime::UNIX_EPOCH,
            first_seen: HashMap::default(),
            marks: HashMap::default(),
            ghosts: Vec::new(),
            events: EventLog::default(),
            flags: Vec::new(),
            close_waits: CloseWaitTracker::default(),
            collect: CollectInfo::default(),
            other_netns: false,
        }
    }
}

impl Live {
    /// Takes in a new snapshot and its diff; `ghost` is how long closed rows stay.
    pub fn record(&mut self, c: Collected, ghost: Duration) {
        let now = c.snapshot.taken_at;
        self.now = self.now.max(now);
        self.collect.took = c.took;
        self.collect.overruns = c.overruns;
        self.collect.error = None;
        self.collect.snapshots += 1;
        let until = now + ghost;
        let leaking = self.close_waits.observe(&c.snapshot);
        let flags = crate::diagnose::row_flags(&c.snapshot, &leaking);
        if c.rescoped || self.collect.snapshots == 1 {
            // A new baseline: nothing is "new" about it.
            for s in &c.snapshot.sockets {
                self.first_seen.entry(s.key()).or_insert(now);
            }
            if c.rescoped {
                let keys: HashSet<_> = c.snapshot.sockets.iter().map(Socket::key).collect();
                self.first_seen.retain(|k, _| keys.contains(k));
                self.ghosts.clear();
            }
        } else {
            self.mark(&c, now, until);
            let prev = c.previous.as_deref();
            for s in &c.delta.closed {
                self.first_seen.remove(&s.key());
                self.marks.remove(&s.key());
                let names = prev.unwrap_or(&c.snapshot).pids_text(&s.owners);
                self.ghosts.push(Ghost {
                    socket: s.clone(),
                    names,
                    until,
                });
            }
            let of = FlagsOf {
                prev: &self.flags,
                next: &flags,
            };
            self.events.record(&c.delta, prev, &c.snapshot, of);
        }
        // A ghost that reappeared (same identity) is not closed any more.
        if !self.ghosts.is_empty() && !c.delta.opened.is_empty() {
            let keys: HashSet<_> = c
                .delta
                .opened
                .iter()
                .filter_map(|&i| c.snapshot.sockets.get(i))
                .map(Socket::key)
                .collect();
            self.ghosts.retain(|g| !keys.contains(&g.socket.key()));
        }
        self.snap = c.snapshot;
        self.flags = flags;
        {
            use crate::model::spare::ShrinkSpare;
            self.first_seen.shrink_spare();
            self.marks.shrink_spare();
            self.ghosts.shrink_spare();
        }
        let snap = &self.snap;
        self.other_netns = snap.sockets.iter().any(|s| !snap.netns.is_host(s.netns));
    }

    fn mark(&mut self, c: &Collected, now: SystemTime, until: SystemTime) {
        for &i in &c.delta.opened {
            if let Some(s) = c.snapshot.sockets.get(i) {
                self.first_seen.insert(s.key(), now);
                self.marks.insert(s.key(), (Mark::New, until));
            }
        }
        for ch in &c.delta.changed {
            if let Some(s) = c.snapshot.sockets.get(ch.index)
                && matches!(ch.kind, ChangeKind::State { .. })
            {
                self.marks.insert(s.key(), (Mark::Changed, until));
            }
        }
    }

    /// Lets time pass: expired ghosts and marks go. True when a ghost went (the rows
    /// change).
    pub fn tick(&mut self, now: SystemTime) -> bool {
        self.now = self.now.max(now);
        let before = self.ghosts.len();
        self.ghosts.retain(|g| g.until > now);
        self.marks.retain(|_, (_, until)| *until > now);
        before != self.ghosts.len()
    }

    /// Flags of the `i`-th socket of the snapshot.
    pub fn flags_of(&self, i: usize) -> Flags {
        self.flags.get(i).copied().unwrap_or_default()
    }
}
