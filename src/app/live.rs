//! The live data of the TUI: the latest snapshot and what is remembered across
//! snapshots — when each socket was first seen, recent changes, closed sockets kept for a
//! few seconds, the event log, diagnosis flags, and the collector's health. Every socket
//! is collected whatever view is shown, so ages and events never depend on the view.

use crate::diagnose::CloseWaitTracker;
use crate::model::diff::ChangeKind;
use crate::model::{Collected, EventLog, Flags, FlagsOf, Snapshot, Socket, SocketKey};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long the header says that destroy events were lost.
pub const LOST_SHOWN: Duration = Duration::from_secs(60);

/// How much before its time a ghost or a mark may go with a snapshot: the clock's tick.
/// Ghosts and marks go with the snapshot drawn at their time, not at a tick of their
/// own: under churn some go every second, and a redraw of their own, a fraction of a
/// second after the snapshot's, doubled what the screen's thread did. A snapshot takes
/// those due by the next tick; the clock takes them only when no snapshot came for an
/// interval and a tick (paused, a slow round).
pub const GO_EARLY: Duration = Duration::from_millis(250);

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
    /// exited since. Shared with the events that name them.
    pub names: std::sync::Arc<str>,
    pub until: SystemTime,
    /// When it was first seen, for its age.
    pub first_seen: Option<SystemTime>,
}

/// When each socket was first seen, as tenths of a second after the first snapshot: 4
/// bytes a socket instead of a `SystemTime`'s 16 (8 MB less at 500k sockets), exact to
/// the tenth for 6 years. The top bit says the socket opened while the view watched (a
/// diff saw it come), so its row is marked new for a while: no map of keys to keep and
/// expire, which under a churn of thousands of connections a second cost more than
/// anything else the screen's thread did.
#[derive(Clone, Debug)]
pub struct Stamps {
    base: SystemTime,
    tenths: Vec<u32>,
}

impl Default for Stamps {
    fn default() -> Self {
        Stamps {
            base: SystemTime::UNIX_EPOCH,
            tenths: Vec::new(),
        }
    }
}

impl Stamps {
    /// The bit of a stamp that says the socket opened while the view watched.
    const OPENED: u32 = 1 << 31;

    /// `t` as tenths of a second after `base` (0 before it, saturated far after).
    fn tenths_after(base: SystemTime, t: SystemTime) -> u32 {
        t.duration_since(base).map_or(0, |d| {
            u32::try_from(d.as_millis() / 100).map_or(Self::OPENED - 1, |t| t.min(Self::OPENED - 1))
        })
    }

    fn time(&self, stamp: u32) -> SystemTime {
        self.base + Duration::from_millis(u64::from(stamp & !Self::OPENED) * 100)
    }

    pub fn get(&self, i: usize) -> Option<SystemTime> {
        Some(self.time(*self.tenths.get(i)?))
    }

    /// When the `i`-th socket opened, if the view saw it open (not there at the first
    /// snapshot, nor found by a change of scope).
    pub fn opened(&self, i: usize) -> Option<SystemTime> {
        let t = *self.tenths.get(i)?;
        (t & Self::OPENED != 0).then(|| self.time(t))
    }
}

/// Collector health for the status bar.
#[derive(Clone, Debug, Default)]
pub struct CollectInfo {
    pub took: Duration,
    pub overruns: u64,
    pub error: Option<Arc<dyn std::error::Error + Send + Sync>>,
    pub snapshots: u64,
    /// How fresh the table is under the CPU budget, and the header's counts when they
    /// are not the table's own.
    pub fresh: crate::model::Freshness,
}

/// The latest snapshot and its history.
pub struct Live {
    pub snap: Arc<Snapshot>,
    pub now: SystemTime,
    /// When each socket of `snap` was first seen, same order (carried from one snapshot
    /// to the next by the diff's index map: no map of keys, which at 500k sockets would
    /// weigh over 100 MB).
    pub first_seen: Stamps,
    /// Rows whose state changed recently, until when they are marked. (A new row's mark
    /// is in its stamp: [`Stamps::opened`].)
    changed: HashMap<SocketKey, SystemTime>,
    /// When each change mark was made to go, in that order (a mark set again later has a
    /// later entry): a tick takes the expired ones from the front instead of going
    /// through every mark.
    changed_expiry: VecDeque<(SystemTime, SocketKey)>,
    /// When the new marks of each snapshot that opened sockets go, oldest first.
    opened_expiry: VecDeque<SystemTime>,
    /// How long a row stays marked (the ghost time of the last snapshot).
    mark_for: Duration,
    /// How many times marks went: a tick that counts one redraws.
    pub marks_gone: u64,
    /// Ghosts and marks due by then have gone (see [`GO_EARLY`]).
    gone_by: SystemTime,
    /// When the last round the view took in was taken.
    last_round: SystemTime,
    /// Closed sockets, oldest first.
    pub ghosts: VecDeque<Ghost>,
    /// A ghost was added that goes before one added earlier (the ghost time was made
    /// shorter): expiring them takes a pass over all, not only the front.
    ghosts_unordered: bool,
    pub events: EventLog,
    /// The room one round's new events were made in, kept for the next (see
    /// [`crate::model::events::events_into`]).
    new_events: Vec<crate::model::Event>,
    /// Diagnosis flags of each socket of `snap`, same order.
    pub flags: Vec<Flags>,
    pub close_waits: CloseWaitTracker,
    pub collect: CollectInfo,
    /// Some socket lives in a network namespace other than the host's.
    pub other_netns: bool,
    /// Sockets of `snap` per state (by the kernel's number) and per protocol, counted
    /// once per snapshot rather than at every frame.
    pub tally: ([usize; 13], [usize; 4]),
    /// Ports a TCP listener held since the first snapshot, one bit a port (8 KiB): the
    /// Ports view shows their sockets even in the ephemeral range.
    listened: Box<[u64; 1024]>,
    /// Payload rates since the snapshot before, when both carried `tcp_info`.
    pub traffic: Option<crate::model::traffic::Traffic>,
    /// New connections per local port since the snapshot before.
    pub conns: super::traffic::PortConns,
}

/// A table this big is freed on a thread of its own: at 500k sockets giving its 32 MB
/// back took about 8 ms of each `update`, during which the screen waited.
const RETIRE_ON_A_THREAD: usize = 50_000;

/// Frees the tables the view no longer shows (its last reference is usually here): a
/// big one off the event loop, a small one at once.
fn retire(tables: (Arc<Snapshot>, Option<Arc<Snapshot>>)) {
    let big = tables
        .0
        .sockets
        .len()
        .max(tables.1.as_ref().map_or(0, |p| p.sockets.len()));
    if big < RETIRE_ON_A_THREAD {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("retire".into())
        .spawn(move || drop(tables));
    // No thread to spare: the tables were moved into the closure, which the failed
    // spawn dropped here.
    drop(spawned);
}

impl Default for Live {
    fn default() -> Self {
        Live {
            snap: Arc::new(Snapshot::empty(crate::model::Scope::All)),
            now: SystemTime::UNIX_EPOCH,
            first_seen: Stamps::default(),
            changed: HashMap::default(),
            changed_expiry: VecDeque::new(),
            opened_expiry: VecDeque::new(),
            mark_for: Duration::ZERO,
            marks_gone: 0,
            gone_by: SystemTime::UNIX_EPOCH,
            last_round: SystemTime::UNIX_EPOCH,
            ghosts: VecDeque::new(),
            ghosts_unordered: false,
            events: EventLog::default(),
            new_events: Vec::new(),
            flags: Vec::new(),
            close_waits: CloseWaitTracker::default(),
            collect: CollectInfo::default(),
            other_netns: false,
            tally: ([0; 13], [0; 4]),
            listened: Box::new([0; 1024]),
            traffic: None,
            conns: super::traffic::PortConns::default(),
        }
    }
}

impl Live {
    /// Whether `c` hands over the very table on screen (a round between full tables
    /// that changed no row; it may bring connections the kernel freed meanwhile).
    pub fn same_table(&self, c: &Collected) -> bool {
        Arc::ptr_eq(&c.snapshot, &self.snap)
            && c.unseen == 0
            && !c.rescoped
            && c.delta.opened.is_empty()
            && c.delta.closed.is_empty()
            && c.delta.changed.is_empty()
            && self.collect.snapshots > 0
    }

    /// Takes in a round that changed no row (see [`Live::same_table`]): its status, and
    /// the connections the kernel freed meanwhile as events. Returns the ghosts that
    /// went with it, as [`Live::tick`] does.
    pub fn touch(&mut self, c: &Collected) -> Vec<(usize, Ghost)> {
        self.now = self.now.max(c.fresh.taken_at);
        self.last_round = c.fresh.taken_at;
        let went = self.expire(c.fresh.taken_at + GO_EARLY, true);
        if !c.closed.is_empty() {
            let of = FlagsOf {
                prev: &self.flags,
                next: &self.flags,
            };
            self.events.record(
                &crate::model::Delta::default(),
                Some(&self.snap),
                &self.snap,
                &c.closed,
                of,
            );
        }
        self.collect.took = c.took;
        self.collect.overruns = c.overruns;
        self.collect.fresh = c.fresh.clone();
        self.collect.error = None;
        self.collect.snapshots += 1;
        went
    }

    /// Takes in a new snapshot and its diff; `ghost` is how long closed rows stay.
    pub fn record(&mut self, mut c: Collected, ghost: Duration) {
        let now = c.snapshot.taken_at;
        self.now = self.now.max(now);
        self.collect.took = c.took;
        self.collect.overruns = c.overruns;
        self.collect.fresh = c.fresh.clone();
        self.collect.error = None;
        self.collect.snapshots += 1;
        // Snapshots folded together while the screen was behind (a terminal that did not
        // read): what happened between them is counted, never shown as if it had not.
        self.events.missed(c.unseen);
        let until = now + ghost;
        self.last_round = now;
        // What was due goes with this snapshot (the rows are built again from what is left).
        self.expire(now + GO_EARLY, false);
        let leaking = self.close_waits.observe(&c.snapshot);
        let flags = crate::diagnose::row_flags(&c.snapshot, &leaking);
        let first_seen = self.carry_first_seen(&c, now);
        self.conns = super::traffic::PortConns::of(&c);
        self.traffic = c.traffic.take();
        if c.rescoped || self.collect.snapshots == 1 {
            if c.rescoped {
                self.ghosts.clear();
                self.ghosts_unordered = false;
            }
        } else {
            self.mark(&c, until, ghost);
            let prev = c.previous.as_deref();
            // (A closed socket's mark, if any, goes when it expires: a ghost row shows
            // as closed whatever its mark.)
            let mut texts = Default::default();
            for (s, &at) in c.delta.closed.iter().zip(&c.delta.closed_at) {
                let names = prev
                    .unwrap_or(&c.snapshot)
                    .pids_text_of_many(&s.owners, &mut texts);
                self.ghosts_unordered |= self.ghosts.back().is_some_and(|g| g.until > until);
                self.ghosts.push_back(Ghost {
                    socket: s.clone(),
                    names,
                    until,
                    first_seen: self.first_seen.get(at),
                });
            }
            let of = FlagsOf {
                prev: &self.flags,
                next: &flags,
            };
            // Bursts of short connections fold into one line each, with their count.
            let mut new = std::mem::take(&mut self.new_events);
            crate::model::events::events_into(&mut new, &c.delta, prev, &c.snapshot, &c.closed, of);
            super::burst::fold(&mut new, &c.snapshot);
            let made = new.len();
            self.events.append(&mut new);
            // Kept for the next round, unless a burst left it far too big.
            if !crate::model::spare::too_roomy(made, new.capacity()) {
                self.new_events = new;
            }
        }
        // A ghost that reappeared (same identity) is not closed any more.
        if !self.ghosts.is_empty() && !c.delta.opened.is_empty() {
            // First by cookie (or inode) alone, which under churn rules out every ghost
            // at the cost of a small set; whole keys only when one may be back.
            let opened = || {
                c.delta
                    .opened
                    .iter()
                    .filter_map(|&i| c.snapshot.sockets.get(i))
            };
            let idents: HashSet<u64> = opened().map(Socket::ident).collect();
            if self
                .ghosts
                .iter()
                .any(|g| idents.contains(&g.socket.ident()))
            {
                let keys: HashSet<_> = opened().map(Socket::key).collect();
                self.ghosts.retain(|g| !keys.contains(&g.socket.key()));
            }
        }
        let old = std::mem::replace(&mut self.snap, c.snapshot);
        retire((old, c.previous.take()));
        self.flags = flags;
        self.first_seen = first_seen;
        {
            use crate::model::spare::ShrinkSpare;
            self.changed.shrink_spare();
            self.changed_expiry.shrink_spare();
            self.ghosts.shrink_spare();
        }
        let snap = &self.snap;
        let mut other = false;
        let (mut states, mut protos) = ([0; 13], [0; 4]);
        for s in &snap.sockets {
            other |= !snap.netns.is_host(s.netns);
            states[s.state as usize] += 1;
            protos[s.proto as usize] += 1;
            if s.state == crate::model::State::Listen {
                let p = usize::from(s.local().port());
                self.listened[p / 64] |= 1 << (p % 64);
            }
        }
        self.other_netns = other;
        self.tally = (states, protos);
    }

    /// "events lost: 2 at 10:42:07; resynced" while the last loss of destroy events is
    /// less than [`LOST_SHOWN`] old: a minute without loss clears it (the count in it is
    /// the session's, so a new loss says how many in all).
    pub fn lost_notice(&self) -> Option<String> {
        let lost = self.snap.lost;
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(lost.last_ms);
        let recent = self.now.duration_since(at).map_or(true, |d| d < LOST_SHOWN);
        if recent { lost.sentence() } else { None }
    }

    /// A TCP listener held `port` at some snapshot of this session.
    pub fn listened(&self, port: u16) -> bool {
        let p = usize::from(port);
        self.listened[p / 64] & (1 << (p % 64)) != 0
    }

    /// When each socket of the new snapshot was first seen: from the diff's index map
    /// when the diff was against the snapshot on screen (always, unless the scope
    /// changed), else by key.
    fn carry_first_seen(&self, c: &Collected, now: SystemTime) -> Stamps {
        let sockets = &c.snapshot.sockets;
        let against_ours = c
            .previous
            .as_ref()
            .is_some_and(|p| Arc::ptr_eq(p, &self.snap))
            && c.delta.previous.len() == sockets.len();
        let old = &self.first_seen;
        let base = if old.tenths.is_empty() { now } else { old.base };
        let fresh = Stamps::tenths_after(base, now);
        // A socket the diff against the table on screen saw open is marked new from its
        // stamp (the first table, or one of another scope, is stamped by key: unmarked).
        let opened = fresh | Stamps::OPENED;
        let tenths = if against_ours {
            c.delta
                .previous
                .iter()
                .map(|&j| {
                    if j == crate::model::diff::NEW {
                        opened
                    } else {
                        old.tenths.get(j as usize).copied().unwrap_or(fresh)
                    }
                })
                .collect()
        } else {
            let known: HashMap<SocketKey, u32> = self
                .snap
                .sockets
                .iter()
                .zip(&old.tenths)
                .map(|(s, &t)| (s.key(), t))
                .collect();
            sockets
                .iter()
                .map(|s| known.get(&s.key()).copied().unwrap_or(fresh))
                .collect()
        };
        Stamps { base, tenths }
    }

    /// When the `i`-th socket of the snapshot was first seen.
    pub fn first_seen_of(&self, i: usize) -> Option<SystemTime> {
        self.first_seen.get(i)
    }

    /// Marks the rows whose state changed (the new ones are marked by their stamps),
    /// and notes when this snapshot's marks go.
    fn mark(&mut self, c: &Collected, until: SystemTime, ghost: Duration) {
        self.mark_for = ghost;
        if !c.delta.opened.is_empty() {
            self.opened_expiry.push_back(until);
        }
        for ch in &c.delta.changed {
            if let Some(s) = c.snapshot.sockets.get(ch.index)
                && matches!(ch.kind, ChangeKind::State { .. })
            {
                self.changed.insert(s.key(), until);
                self.changed_expiry.push_back((until, s.key()));
            }
        }
    }

    /// The mark of the `i`-th socket of the snapshot, if it opened or changed state
    /// less than the ghost time ago (a change is the later news).
    pub fn mark_of(&self, i: usize) -> Option<Mark> {
        if !self.changed.is_empty() {
            let s = self.snap.sockets.get(i)?;
            if self
                .changed
                .get(&s.key())
                .is_some_and(|&u| u > self.gone_by)
            {
                return Some(Mark::Changed);
            }
        }
        let opened = self.first_seen.opened(i)?;
        // The stamp is the snapshot's time to the tenth below: a mark goes at most a
        // tenth earlier than a change's.
        (opened + self.mark_for > self.gone_by).then_some(Mark::New)
    }

    /// Lets time pass. Ghosts and marks go with snapshots ([`GO_EARLY`]); when none came
    /// for `interval` and a tick, the expired ones go now. Returns the ghosts that went,
    /// with their index before they went (oldest first), for the rows to follow.
    pub fn tick(&mut self, now: SystemTime, interval: Duration) -> Vec<(usize, Ghost)> {
        self.now = self.now.max(now);
        let overdue = self.last_round + interval + GO_EARLY <= now;
        if overdue {
            self.expire(now, true)
        } else {
            Vec::new()
        }
    }

    /// Ghosts and marks due by `by` go. Returns the ghosts that went, as [`Live::tick`],
    /// when `keep` asks for them (a snapshot builds its rows again and needs none: under
    /// churn thousands go with each, dropped where they lie).
    fn expire(&mut self, by: SystemTime, keep: bool) -> Vec<(usize, Ghost)> {
        self.gone_by = self.gone_by.max(by);
        let now = self.gone_by;
        // Oldest first: those that went are at the front, unless the ghost time was
        // changed meanwhile.
        // Sized first: under churn a thousand go each tick, and a vector grown to that
        // size goes through a fresh mapping and its page faults.
        let due = self.ghosts.iter().take_while(|g| g.until <= now).count();
        let mut went = Vec::with_capacity(if keep { due } else { 0 });
        for (i, g) in self.ghosts.drain(..due).enumerate() {
            if keep {
                went.push((i, g));
            }
        }
        if self.ghosts_unordered && self.ghosts.iter().any(|g| g.until <= now) {
            for (i, g) in (due..).zip(std::mem::take(&mut self.ghosts)) {
                if g.until > now {
                    self.ghosts.push_back(g);
                } else if keep {
                    went.push((i, g));
                }
            }
            self.ghosts_unordered = !self.ghosts.iter().is_sorted_by_key(|g| g.until);
        }
        while let Some((until, key)) = self.changed_expiry.pop_front_if(|(until, _)| *until <= now)
        {
            // A mark set again since has its own, later entry.
            if self.changed.get(&key).is_some_and(|&u| u <= until) {
                self.changed.remove(&key);
                self.marks_gone += 1;
            }
        }
        while self
            .opened_expiry
            .pop_front_if(|until| *until <= now)
            .is_some()
        {
            self.marks_gone += 1;
        }
        went
    }

    /// Flags of the `i`-th socket of the snapshot.
    pub fn flags_of(&self, i: usize) -> Flags {
        self.flags.get(i).copied().unwrap_or_default()
    }
}
