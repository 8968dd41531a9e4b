//! inode → every pid holding it, from `/proc/*/fd`, kept up to date incrementally.
//!
//! A full walk reads one link per open fd (~4 µs each): far too slow to repeat every
//! second on a busy host. So the map is kept between snapshots and only what can have
//! changed is walked again: new pids, pids whose fd count (`stat(/proc/PID/fd).st_size`)
//! changed, and pids that held a socket which has since vanished. Inodes nobody visible
//! owns go to a negative cache; a periodic full resync repairs whatever slipped through.
//! Races (a pid exiting mid-walk, EACCES, ENOENT) skip that pid; they never fail a snapshot.
//!
//! Pids are reused, so the cache is keyed by process identity, not by pid alone: every pid
//! that holds sockets has its start time checked on each update, and a pid whose start
//! time changed is a new process whose fd table is walked again, whatever its fd count.
//!
//! All of it is read through [`ProcFs`]'s fast path (reads by pid relative to one
//! `/proc` fd: no more system calls than a walk by path); the fd-table reader is the
//! one the holder check of signals uses. The parts: this module keeps the map and
//! decides what to read, `walk` reads (and searches), `inodes` stores inode → pids.

mod inodes;
#[cfg(test)]
mod tests;
mod walk;

use crate::model::{OwnerStatus, Socket};
use crate::procfs::{Ino, Ns, ProcFs, ProcSource, ino};
use inodes::{InodeOwners, sorted_difference};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often every pid is walked again regardless of what changed.
pub const DEFAULT_RESYNC: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
struct PidEntry {
    /// fd count at the last walk.
    fd_count: i64,
    /// Socket inodes the pid held at the last walk.
    inodes: Vec<Ino>,
    /// The fd number of each of `inodes` (same order), when read from its own fd table.
    fds: Vec<u32>,
    /// Where its own fd table's dense start ended at the last read: the next read
    /// probes below it instead of listing (see `procfs::Density`).
    fd_dense_top: u32,
    uid: u32,
    /// False when its fd table was not readable for us (EACCES).
    readable: bool,
    /// Its main thread is gone; fds were read from `task/*/fd`, and are read again each time.
    via_tasks: bool,
    /// Start time in clock ticks when its fds were last read: with the pid, the identity
    /// of the process the cached inodes belong to. 0 until first read.
    start_ticks: u64,
    seen: u64,
}

/// Counters from the last [`Owners::update`], for benchmarks and the status bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkStats {
    pub pids: usize,
    pub walked: usize,
    pub links_read: usize,
    pub full: bool,
    /// Pids found to be a different process than at the last walk (pid reuse).
    pub reused: usize,
    /// Pids whose fd table was probed by number (up to where it was dense at the last
    /// read) instead of listed.
    pub probed: usize,
}

/// The incremental inode → pids map.
pub struct Owners {
    /// /proc (tests use a directory laid out like it).
    fs: Arc<ProcFs>,
    euid: u32,
    /// Root, or a user holding the read-only view's capabilities: every fd table is
    /// readable, so an unowned socket is never "hidden".
    sees_all: bool,
    pids: HashMap<u32, PidEntry>,
    by_inode: InodeOwners,
    negative: HashSet<Ino>,
    /// Socket inodes of the previous update, to notice sockets that went away.
    last_inodes: Vec<Ino>,
    /// Which of `last_inodes` had an owner, one bit each (a list of them weighed 2 MB at
    /// 500k sockets, and a second one was built at every update).
    last_owned: Vec<u64>,
    /// Indices (into the last update's sockets) of sockets that had owners at the previous
    /// update and have none now: closed between the dump and the fd walk, most likely.
    lost: Vec<usize>,
    /// When nobody visible owns a socket, why: our pid namespace is not the initial one,
    /// so the owner may live in an ancestor namespace we cannot see.
    nested_pidns: bool,
    generation: u64,
    last_full: Option<Instant>,
    /// [`Owners::walk_ahead`] did this update's walk.
    walked_ahead: bool,
    resync: Duration,
    link: Vec<MaybeUninit<u8>>,
    stats: WalkStats,
}

/// The initial pid namespace has a fixed inode number (`PROC_PID_INIT_INO`); any other
/// means sockscope runs in a nested one and cannot see processes above it.
fn in_initial_pid_namespace(fs: &dyn ProcSource) -> bool {
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    fs.own_ns_inode(Ns::Pid)
        .map_or(true, |i| i == PROC_PID_INIT_INO)
}

impl Owners {
    /// Reads `fs`; a missing or unreadable /proc yields owners that are all unknown.
    pub fn new(fs: Arc<ProcFs>) -> Self {
        Owners::with_resync(fs, DEFAULT_RESYNC)
    }

    pub fn with_resync(fs: Arc<ProcFs>, resync: Duration) -> Self {
        Owners {
            nested_pidns: !in_initial_pid_namespace(&*fs),
            fs,
            euid: rustix::process::geteuid().as_raw(),
            sees_all: crate::caps::current().reads_all_processes(),
            pids: HashMap::default(),
            by_inode: InodeOwners::default(),
            negative: HashSet::default(),
            last_inodes: Vec::new(),
            last_owned: Vec::new(),
            lost: Vec::new(),
            generation: 0,
            last_full: None,
            walked_ahead: false,
            resync,
            link: vec![MaybeUninit::uninit(); 64],
            stats: WalkStats::default(),
        }
    }

    pub fn stats(&self) -> WalkStats {
        self.stats
    }

    /// Sockets (indices into the slice given to the last [`Owners::update`]) that lost every
    /// owner since the update before: the caller checks whether they still exist before
    /// reporting an owner change that is really a close.
    pub fn lost(&self) -> &[usize] {
        &self.lost
    }

    /// Number of pids whose fd table we could not read at the last update.
    pub fn unreadable_pids(&self) -> usize {
        self.pids.values().filter(|p| !p.readable).count()
    }

    /// Fills `owners` and `owner_status` of every socket.
    pub fn update(&mut self, sockets: &mut [Socket]) {
        self.update_checked(sockets, &mut |_| true);
    }

    /// [`Owners::update`], with a way to ask whether a socket that no read found is
    /// still open (`false`: surely closed since the dump). Sockets that closed between
    /// the dump and the walk then cost no search of every process of their user.
    pub fn update_checked(
        &mut self,
        sockets: &mut [Socket],
        still_open: &mut dyn FnMut(&Socket) -> bool,
    ) {
        // Sorted inode lists, not sets: at 500k sockets a set of them weighs 4.5 MB, a
        // sorted list 2.
        let mut current: Vec<Ino> = sockets.iter().filter_map(|s| ino(s.inode)).collect();
        current.sort_unstable();
        current.dedup();
        let ahead = std::mem::take(&mut self.walked_ahead);
        if ahead {
            // The walk ran before the dump: sockets opened in between are found by
            // re-reading the new fds of pids whose fd count changed. No search of every
            // process of a user follows, as after any full walk: a new socket still
            // unfound stays out of the negative cache, and the next update searches.
            if self.any_unfound(sockets) {
                self.generation += 1;
                self.incremental(sockets, &current, None);
            }
        } else {
            self.begin();
            if self.stats.full {
                self.walk_full();
            } else {
                self.incremental(sockets, &current, Some(still_open));
            }
        }
        self.assign(sockets, ahead);
        self.last_owned = self.owned_bits(&current);
        self.last_inodes = current;
        {
            use crate::model::spare::ShrinkSpare;
            self.by_inode.shrink_spare();
            self.pids.shrink_spare();
            self.negative.shrink_spare();
        }
    }

    /// Owners of a few sockets read between full snapshots (listeners, a narrowing
    /// filter's sockets), without disturbing what the last [`Owners::update`] knows of
    /// the full table: from the map, and for a socket not in it, by re-reading the fd
    /// tables that changed since (new fds only). The map learns what those reads found;
    /// the last update's sockets, its ownerless cache and its lost sockets stay as they
    /// were.
    pub fn peek(&mut self, sockets: &mut [Socket]) {
        let unfound = sockets.iter().any(|s| {
            ino(s.inode)
                .is_some_and(|i| self.by_inode.get(i).is_empty() && !self.negative.contains(&i))
        });
        if unfound && self.last_full.is_some() {
            self.generation += 1;
            let to_walk = self.scan(false, &HashSet::default());
            self.forget_exited();
            let alive = std::mem::take(&mut self.last_inodes);
            let partial = self.walk_many(&to_walk, false, Some(&alive));
            self.last_inodes = alive;
            // Still unfound (an fd at a number a partial read took as unchanged, a count
            // that did not move): searched as a full update searches, once; what stays
            // unfound is ownerless until the next resync, as there.
            self.search_unknown(sockets, &to_walk, &partial, &mut |_| true);
            for s in sockets.iter() {
                if let Some(i) = ino(s.inode)
                    && self.by_inode.get(i).is_empty()
                {
                    self.negative.insert(i);
                }
            }
        }
        let unreadable_uids = self.unreadable_uids();
        for s in sockets.iter_mut() {
            self.assign_one(s, &unreadable_uids);
        }
    }

    /// How often every fd table is read again whatever changed (at least every
    /// [`DEFAULT_RESYNC`]).
    pub fn set_resync(&mut self, every: Duration) {
        self.resync = every.max(DEFAULT_RESYNC);
    }

    /// Whether the next update reads every fd table (the first one, then a resync every
    /// 30 s). Such a walk needs no dump: [`Owners::walk_ahead`] can run beside it.
    pub fn full_walk_due(&self) -> bool {
        self.full_walk_due_at(Instant::now())
    }

    fn full_walk_due_at(&self, now: Instant) -> bool {
        self.last_full
            .is_none_or(|t| now.duration_since(t) >= self.resync)
    }

    /// Does the next update's full walk now, before the dump it will be matched with
    /// (on another thread while the kernel dumps); nothing when no full walk is due.
    /// A socket opened between the two is found like any other no read found: by its
    /// user's processes, after an exact kernel lookup.
    pub fn walk_ahead(&mut self) {
        if !self.full_walk_due() {
            return;
        }
        self.begin();
        self.walk_full();
        self.walked_ahead = true;
    }

    /// The next update does a full walk itself (one run ahead did not finish).
    pub fn walk_again(&mut self) {
        self.last_full = None;
        self.walked_ahead = false;
    }

    /// Starts an update: decides whether it reads every fd table and resets the counters.
    fn begin(&mut self) {
        let now = Instant::now();
        let full = self.full_walk_due_at(now);
        self.stats = WalkStats {
            full,
            ..WalkStats::default()
        };
        self.generation += 1;
        if full {
            self.negative.clear();
            self.last_full = Some(now);
        }
    }

    /// Reads every pid's fd table into a fresh map.
    fn walk_full(&mut self) {
        let to_walk = self.scan(true, &HashSet::default());
        self.forget_exited();
        self.by_inode.clear();
        self.walk_many(&to_walk, true, None);
    }

    /// Re-reads what can have changed since the last walk: pids that closed a socket of
    /// the last dump, whose fd count, uid or identity changed (only their new fds), then
    /// searches for sockets still unfound (with `still_open`).
    fn incremental(
        &mut self,
        sockets: &[Socket],
        current: &[Ino],
        still_open: Option<&mut dyn FnMut(&Socket) -> bool>,
    ) {
        // Pids that held a socket which is gone have closed it, maybe opening another.
        let mut dirty: HashSet<u32> = HashSet::default();
        for inode in sorted_difference(&self.last_inodes, current) {
            self.by_inode.remove(inode, |pid| {
                dirty.insert(pid);
            });
        }
        let to_walk = self.scan(false, &dirty);
        self.forget_exited();
        let partial = self.walk_many(&to_walk, false, Some(current));
        if let Some(still_open) = still_open {
            self.search_unknown(sockets, &to_walk, &partial, still_open);
        }
    }

    /// Some socket with a file is neither mapped nor known to be ownerless.
    fn any_unfound(&self, sockets: &[Socket]) -> bool {
        sockets.iter().any(|s| {
            ino(s.inode)
                .is_some_and(|i| self.by_inode.get(i).is_empty() && !self.negative.contains(&i))
        })
    }

    /// Forgets pids that exited (not seen by the last scan).
    fn forget_exited(&mut self) {
        let generation = self.generation;
        let by_inode = &mut self.by_inode;
        self.pids.retain(|&pid, e| {
            if e.seen != generation {
                for inode in &e.inodes {
                    by_inode.remove_pid(*inode, pid);
                }
                false
            } else {
                true
            }
        });
    }

    /// Lists /proc: notes every pid, and returns the ones whose fd table must be read
    /// again (new, changed fd count or uid, reused pid, ghost main thread, dirty, or all
    /// of them on a full resync).
    fn scan(&mut self, full: bool, dirty: &HashSet<u32>) -> Vec<u32> {
        let mut to_walk = Vec::new();
        let fs = Arc::clone(&self.fs);
        fs.each_pid(|pid| {
            self.stats.pids += 1;
            let Some((fd_count, uid)) = fs.fd_table_meta(pid) else {
                return;
            };
            let e = self.pids.entry(pid).or_insert_with(|| PidEntry {
                fd_count: -1,
                readable: true,
                ..Default::default()
            });
            e.seen = self.generation;
            let changed = e.fd_count != fd_count || e.uid != uid;
            e.uid = uid;
            // A pid that holds sockets must still be the same process: a reused pid with
            // the same fd count and uid would otherwise keep the old owner's sockets
            // until the next resync.
            let start = if changed || e.inodes.is_empty() {
                None
            } else {
                fs.start_ticks(pid)
            };
            let reused = start.is_some_and(|t| t != e.start_ticks);
            if reused {
                self.stats.reused += 1;
            }
            if full || changed || reused || e.via_tasks || dirty.contains(&pid) {
                e.fd_count = fd_count;
                to_walk.push(pid);
            }
        });
        to_walk
    }

    /// Writes every socket's owners and owner status from the map, and notes the sockets
    /// that lost all their owners since the last update.
    ///
    /// After a walk run ahead of the dump, an unfound socket that was not in the last
    /// dump may have opened after the walk: it is not cached as ownerless.
    fn assign(&mut self, sockets: &mut [Socket], walked_ahead: bool) {
        let unreadable_uids = self.unreadable_uids();
        self.lost.clear();
        for (i, s) in sockets.iter_mut().enumerate() {
            let Some(inode) = self.assign_one(s, &unreadable_uids) else {
                continue;
            };
            if !walked_ahead || self.last_inodes.binary_search(&inode).is_ok() {
                self.negative.insert(inode);
            }
            if self.was_owned(inode) {
                self.lost.push(i);
            }
        }
    }

    /// The uids of the processes whose fd tables could not be read.
    fn unreadable_uids(&self) -> HashSet<u32> {
        self.pids
            .values()
            .filter(|p| !p.readable)
            .map(|p| p.uid)
            .collect()
    }

    /// Writes one socket's owners and owner status from the map. Returns the inode of a
    /// socket no process holds (and that has one).
    fn assign_one(&self, s: &mut Socket, unreadable_uids: &HashSet<u32>) -> Option<Ino> {
        s.owners.clear();
        if s.inode == 0 {
            s.owner_status = OwnerStatus::Kernel;
            return None;
        }
        let Some(inode) = ino(s.inode) else {
            s.owner_status = OwnerStatus::Unknown;
            return None;
        };
        let pids = self.by_inode.get(inode);
        if pids.is_empty() {
            s.owner_status = self.unowned_status(s.uid, unreadable_uids);
            return Some(inode);
        }
        s.owners.extend_from_slice(pids);
        s.owners.sort_unstable();
        s.owner_status = OwnerStatus::Known;
        None
    }

    /// One bit for each of `inodes` (sorted): whether it has an owner now.
    fn owned_bits(&self, inodes: &[Ino]) -> Vec<u64> {
        let mut bits = vec![0u64; inodes.len().div_ceil(64)];
        for (i, &inode) in inodes.iter().enumerate() {
            if !self.by_inode.get(inode).is_empty() {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    }

    /// Whether this socket had an owner at the previous update.
    fn was_owned(&self, inode: Ino) -> bool {
        self.last_inodes.binary_search(&inode).is_ok_and(|i| {
            self.last_owned
                .get(i / 64)
                .is_some_and(|w| w & (1 << (i % 64)) != 0)
        })
    }

    /// Why no visible process holds a socket of `uid`. A process of that uid whose fd
    /// table we could not read may hold it: hidden, even from root (a security module or
    /// a non-dumpable process can refuse root: measured, `readlink /proc/1/fd/0` is
    /// EACCES for root in a Firecracker guest). Otherwise root reads every fd table, so
    /// for root the owner is in a pid namespace we cannot see, or it closed the socket
    /// while we read.
    fn unowned_status(&self, uid: u32, unreadable_uids: &HashSet<u32>) -> OwnerStatus {
        let hidden = unreadable_uids.contains(&uid) || (!self.sees_all && uid != self.euid);
        if hidden {
            OwnerStatus::Hidden
        } else if self.nested_pidns {
            OwnerStatus::OtherNs
        } else {
            OwnerStatus::Unknown
        }
    }
}
