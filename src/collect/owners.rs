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

use super::fdscan::{
    Ino, Job, PARALLEL_MIN_FDS, PidRead, in_initial_pid_namespace, ino, parse_u32, read_pid,
    start_ticks,
};
use crate::model::{OwnerStatus, Pids, Socket};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Dir, Mode, OFlags, openat, statat};
use std::io::Write as _;
use std::mem::MaybeUninit;
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
}

/// The incremental inode → pids map.
pub struct Owners {
    proc: Option<OwnedFd>,
    /// Where /proc is (tests use another root).
    root: String,
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
    path: Vec<u8>,
    link: Vec<MaybeUninit<u8>>,
    stats: WalkStats,
}

/// Opens the /proc directory, noting a failure for want of fds.
fn open_root(root: &str) -> Option<rustix::fd::OwnedFd> {
    openat(
        rustix::fs::CWD,
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .inspect_err(|e| super::note_open_error(*e))
    .ok()
}

impl Owners {
    /// Reads `/proc`; a missing or unreadable `/proc` yields owners that are all unknown.
    pub fn new() -> Self {
        Owners::with_root("/proc", DEFAULT_RESYNC)
    }

    pub fn with_root(root: &str, resync: Duration) -> Self {
        Owners {
            proc: open_root(root),
            root: root.to_owned(),
            euid: rustix::process::geteuid().as_raw(),
            sees_all: crate::caps::current().reads_all_processes(),
            pids: HashMap::default(),
            by_inode: InodeOwners::default(),
            negative: HashSet::default(),
            last_inodes: Vec::new(),
            last_owned: Vec::new(),
            lost: Vec::new(),
            nested_pidns: !in_initial_pid_namespace(),
            generation: 0,
            last_full: None,
            walked_ahead: false,
            resync,
            path: Vec::with_capacity(64),
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
        if self.proc.is_none() {
            // Unreadable when we started (no fds left?): try again, and let the collector
            // know when it is for want of fds.
            self.proc = open_root(&self.root);
        }
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
        let Some(proc) = &self.proc else {
            return to_walk;
        };
        let mut dir = match Dir::read_from(proc) {
            Ok(d) => d,
            Err(e) => {
                super::note_open_error(e);
                return to_walk;
            }
        };
        while let Some(Ok(entry)) = dir.read() {
            let Some(pid) = parse_u32(entry.file_name().to_bytes()) else {
                continue;
            };
            self.stats.pids += 1;
            self.path.clear();
            let _ = write!(self.path, "{pid}/fd");
            let Ok(st) = statat(proc, self.path.as_slice(), AtFlags::empty()) else {
                continue;
            };
            let e = self.pids.entry(pid).or_insert_with(|| PidEntry {
                fd_count: -1,
                readable: true,
                ..Default::default()
            });
            e.seen = self.generation;
            let changed = e.fd_count != st.st_size || e.uid != st.st_uid;
            e.uid = st.st_uid;
            // A pid that holds sockets must still be the same process: a reused pid with
            // the same fd count and uid would otherwise keep the old owner's sockets
            // until the next resync.
            let start = if changed || e.inodes.is_empty() {
                None
            } else {
                start_ticks(proc, pid, &mut self.path)
            };
            let reused = start.is_some_and(|t| t != e.start_ticks);
            if reused {
                self.stats.reused += 1;
            }
            if full || changed || reused || e.via_tasks || dirty.contains(&pid) {
                e.fd_count = st.st_size;
                to_walk.push(pid);
            }
        }
        to_walk
    }

    /// Writes every socket's owners and owner status from the map, and notes the sockets
    /// that lost all their owners since the last update.
    ///
    /// After a walk run ahead of the dump, an unfound socket that was not in the last
    /// dump may have opened after the walk: it is not cached as ownerless.
    fn assign(&mut self, sockets: &mut [Socket], walked_ahead: bool) {
        let unreadable_uids: HashSet<u32> = self
            .pids
            .values()
            .filter(|p| !p.readable)
            .map(|p| p.uid)
            .collect();
        self.lost.clear();
        for (i, s) in sockets.iter_mut().enumerate() {
            s.owners.clear();
            if s.inode == 0 {
                s.owner_status = OwnerStatus::Kernel;
                continue;
            }
            let Some(inode) = ino(s.inode) else {
                s.owner_status = OwnerStatus::Unknown;
                continue;
            };
            match self.by_inode.get(inode) {
                pids if !pids.is_empty() => {
                    s.owners.extend_from_slice(pids);
                    s.owners.sort_unstable();
                    s.owner_status = OwnerStatus::Known;
                }
                _ => {
                    if !walked_ahead || self.last_inodes.binary_search(&inode).is_ok() {
                        self.negative.insert(inode);
                    }
                    if self.was_owned(inode) {
                        self.lost.push(i);
                    }
                    s.owner_status = self.unowned_status(s.uid, &unreadable_uids);
                }
            }
        }
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

    /// Why no visible process holds a socket of `uid`. Root (or the view's capabilities)
    /// reads every fd table, so then the owner is never "hidden": it is in a pid
    /// namespace we cannot see, or it closed the socket while we read.
    fn unowned_status(&self, uid: u32, unreadable_uids: &HashSet<u32>) -> OwnerStatus {
        let hidden = !self.sees_all && (unreadable_uids.contains(&uid) || uid != self.euid);
        if hidden {
            OwnerStatus::Hidden
        } else if self.nested_pidns {
            OwnerStatus::OtherNs
        } else {
            OwnerStatus::Unknown
        }
    }

    /// Sockets that are neither mapped nor known to be ownerless were opened by a pid whose
    /// fd count did not change (it closed something else), or sit at an fd number that a
    /// partial read took as unchanged. Those still open (`still_open`; a socket that
    /// closed since the dump needs no owner) send every readable pid of their uids that
    /// was not read in full already to a full read; whatever stays unfound goes to the
    /// negative cache until the next full resync.
    fn search_unknown(
        &mut self,
        sockets: &[Socket],
        walked: &[u32],
        partial: &[u32],
        still_open: &mut dyn FnMut(&Socket) -> bool,
    ) {
        // Asking costs a netlink round trip each: beyond this many, search anyway.
        const ASK_AT_MOST: usize = 256;
        let mut asked = 0;
        let mut uids: HashSet<u32> = HashSet::default();
        for s in sockets {
            let Some(inode) = ino(s.inode) else { continue };
            if !self.by_inode.get(inode).is_empty()
                || self.negative.contains(&inode)
                || uids.contains(&s.uid)
            {
                continue;
            }
            if asked < ASK_AT_MOST {
                asked += 1;
                if !still_open(s) {
                    continue;
                }
            }
            uids.insert(s.uid);
        }
        if uids.is_empty() {
            return;
        }
        let partial: HashSet<u32> = partial.iter().copied().collect();
        let walked: HashSet<u32> = walked
            .iter()
            .copied()
            .filter(|p| !partial.contains(p))
            .collect();
        let candidates: Vec<u32> = self
            .pids
            .iter()
            .filter(|(pid, e)| e.readable && uids.contains(&e.uid) && !walked.contains(pid))
            .map(|(pid, _)| *pid)
            .collect();
        self.walk_many(&candidates, false, None);
    }

    /// Re-reads these pids' socket fds and updates the map. Large walks (a cold start, a
    /// full resync) are spread over the cores: the cost is all in the kernel's /proc code,
    /// which runs in parallel well.
    ///
    /// With `alive` (the inodes of this dump), a pid that is still the same process reads
    /// only the links of fds that are new or whose socket left the dump: an fd whose
    /// socket is still in the dump, and which this process alone held at its last read,
    /// is taken as unchanged. A kept socket that another pid's read finds this time was
    /// handed over (fork, SCM_RIGHTS): that pid is read again in full. Returns the pids
    /// that kept something (for [`Owners::search_unknown`]).
    fn walk_many(&mut self, pids: &[u32], full: bool, alive: Option<&[Ino]>) -> Vec<u32> {
        let Some(proc) = &self.proc else {
            return Vec::new();
        };
        let mut jobs: Vec<(i64, Job)> = Vec::with_capacity(pids.len());
        for &pid in pids {
            // The identity the fds about to be read belong to; read first, so that a pid
            // reused during the read shows as changed at the next update.
            let start = start_ticks(proc, pid, &mut self.path).unwrap_or(0);
            let Some(e) = self.pids.get_mut(&pid) else {
                continue;
            };
            let same_process = start != 0 && e.start_ticks == start;
            e.start_ticks = start;
            let old = std::mem::take(&mut e.inodes);
            let fds = std::mem::take(&mut e.fds);
            let mut keep = Vec::new();
            if let Some(alive) = alive
                && same_process
                && e.readable
                && !e.via_tasks
                && fds.len() == old.len()
            {
                for (&fd, &inode) in fds.iter().zip(&old) {
                    let alone = self.by_inode.get(inode) == [pid];
                    if fd != u32::MAX && alone && alive.binary_search(&inode).is_ok() {
                        keep.push((fd, inode));
                    }
                }
                keep.sort_unstable();
            }
            if !full {
                for inode in &old {
                    self.by_inode.remove_pid(*inode, pid);
                }
            }
            jobs.push((
                e.fd_count,
                Job {
                    pid,
                    inodes: old,
                    fds,
                    keep,
                },
            ));
        }
        let mut reads = self.read_jobs(jobs);
        let mut partial = Vec::new();
        if reads.iter().any(|r| !r.kept_inodes.is_empty()) {
            // Sockets whose links were read this time, with the pid that read them
            // (u32::MAX: several did).
            let mut fresh: HashMap<Ino, u32> = HashMap::default();
            for r in &reads {
                for &inode in &r.inodes {
                    if r.kept_inodes.binary_search(&inode).is_ok() {
                        continue;
                    }
                    let by = fresh.entry(inode).or_insert(r.pid);
                    if *by != r.pid {
                        *by = u32::MAX;
                    }
                }
            }
            let mut again = Vec::new();
            for r in &reads {
                if r.kept_inodes.is_empty() {
                    continue;
                }
                // Only this pid's reads list its kept sockets unless another pid holds
                // one of them now.
                let handed_over = r
                    .kept_inodes
                    .iter()
                    .any(|i| fresh.get(i).is_some_and(|&p| p != r.pid));
                if handed_over {
                    again.push(r.pid);
                } else {
                    partial.push(r.pid);
                }
            }
            if !again.is_empty() {
                reads.retain(|r| !again.contains(&r.pid));
                let jobs = again
                    .iter()
                    .filter_map(|&pid| {
                        let e = self.pids.get(&pid)?;
                        Some((
                            e.fd_count,
                            Job {
                                pid,
                                inodes: Vec::new(),
                                fds: Vec::new(),
                                keep: Vec::new(),
                            },
                        ))
                    })
                    .collect();
                reads.extend(self.read_jobs(jobs));
            }
        }
        for r in reads {
            self.stats.walked += 1;
            self.stats.links_read += r.links;
            for &inode in &r.inodes {
                self.by_inode.add(inode, r.pid);
                self.negative.remove(&inode);
            }
            if let Some(e) = self.pids.get_mut(&r.pid) {
                e.inodes = r.inodes;
                e.fds = r.fds;
                e.readable = r.readable;
                e.via_tasks = r.via_tasks;
            }
        }
        partial
    }

    /// Runs read jobs, on several threads when they are many fds in all.
    fn read_jobs(&mut self, mut jobs: Vec<(i64, Job)>) -> Vec<PidRead> {
        let Some(proc) = &self.proc else {
            return Vec::new();
        };
        let weight: i64 = jobs.iter().map(|j| j.0.max(1)).sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        if threads < 2 || jobs.len() < 2 || weight < PARALLEL_MIN_FDS {
            return jobs
                .into_iter()
                .map(|(_, job)| read_pid(proc, &mut self.link, job))
                .collect();
        }
        // Greedy balance by fd count, biggest first.
        jobs.sort_unstable_by_key(|j| std::cmp::Reverse(j.0));
        let mut shares: Vec<(i64, Vec<Job>)> = (0..threads).map(|_| (0, Vec::new())).collect();
        for (count, job) in jobs {
            if let Some(share) = shares.iter_mut().min_by_key(|s| s.0) {
                share.0 += count.max(1);
                share.1.push(job);
            }
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|(_, share)| {
                    scope.spawn(move || {
                        let mut link = vec![MaybeUninit::uninit(); 64];
                        share
                            .into_iter()
                            .map(|job| read_pid(proc, &mut link, job))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        })
    }
}

impl Default for Owners {
    fn default() -> Self {
        Owners::new()
    }
}

/// What is in `a` and not in `b`, both sorted.
fn sorted_difference<'a>(a: &'a [Ino], b: &'a [Ino]) -> impl Iterator<Item = Ino> + 'a {
    let mut j = 0;
    a.iter().copied().filter(move |&x| {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        j >= b.len() || b[j] != x
    })
}

/// inode → the pids holding it. Nearly every socket has one holder: those are kept in a
/// map of plain pids (17 bytes a slot), the few shared ones (a listener inherited by
/// workers) in a second map of lists; at 500k sockets that is half the memory of one
/// map of lists.
#[derive(Default)]
struct InodeOwners {
    one: HashMap<Ino, u32>,
    many: HashMap<Ino, Pids>,
}

impl InodeOwners {
    fn get(&self, inode: Ino) -> &[u32] {
        match self.one.get(&inode) {
            Some(pid) => std::slice::from_ref(pid),
            None => self.many.get(&inode).map_or(&[], |p| p.as_slice()),
        }
    }

    fn add(&mut self, inode: Ino, pid: u32) {
        if let Some(pids) = self.many.get_mut(&inode) {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
            return;
        }
        match self.one.get(&inode) {
            None => {
                self.one.insert(inode, pid);
            }
            Some(&p) if p == pid => {}
            Some(&p) => {
                self.one.remove(&inode);
                self.many.insert(inode, Pids::from_slice(&[p, pid]));
            }
        }
    }

    fn remove_pid(&mut self, inode: Ino, pid: u32) {
        if self.one.get(&inode) == Some(&pid) {
            self.one.remove(&inode);
        } else if let Some(pids) = self.many.get_mut(&inode) {
            pids.retain(|p| *p != pid);
            match pids.as_slice() {
                [] => {
                    self.many.remove(&inode);
                }
                [last] => {
                    let last = *last;
                    self.many.remove(&inode);
                    self.one.insert(inode, last);
                }
                _ => {}
            }
        }
    }

    /// Forgets the inode, passing each pid that held it to `f`.
    fn remove(&mut self, inode: Ino, mut f: impl FnMut(u32)) {
        if let Some(pid) = self.one.remove(&inode) {
            f(pid);
        } else if let Some(pids) = self.many.remove(&inode) {
            pids.iter().copied().for_each(f);
        }
    }

    fn clear(&mut self) {
        self.one.clear();
        self.many.clear();
    }

    fn shrink_spare(&mut self) {
        use crate::model::spare::ShrinkSpare;
        self.one.shrink_spare();
        self.many.shrink_spare();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::State;
    use std::path::PathBuf;

    /// A fake /proc on tmpfs, where a directory's size grows with its entries as an fd
    /// table's does.
    struct FakeProc(PathBuf);

    impl FakeProc {
        fn new(tag: &str) -> FakeProc {
            let dir = PathBuf::from("/dev/shm")
                .join(format!("sockscope-fakeproc-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            FakeProc(dir)
        }

        fn process(&self, pid: u32, start: u64) {
            std::fs::create_dir_all(self.0.join(format!("{pid}/fd"))).unwrap();
            let stat = format!(
                "{pid} (fake) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {start} 1000 10"
            );
            std::fs::write(self.0.join(format!("{pid}/stat")), stat).unwrap();
        }

        /// fd `n` of `pid` points at socket `inode`, or at a file when `inode` is 0.
        fn fd(&self, pid: u32, n: u32, inode: u64) {
            let path = self.0.join(format!("{pid}/fd/{n}"));
            let _ = std::fs::remove_file(&path);
            let target = if inode == 0 {
                "/dev/null".to_owned()
            } else {
                format!("socket:[{inode}]")
            };
            std::os::unix::fs::symlink(target, path).unwrap();
        }

        fn close(&self, pid: u32, n: u32) {
            std::fs::remove_file(self.0.join(format!("{pid}/fd/{n}"))).unwrap();
        }

        fn owners(&self) -> Owners {
            Owners::with_root(self.0.to_str().unwrap(), DEFAULT_RESYNC)
        }

        /// Process 100 holds sockets 1001 and 1002 (fds 3 and 4), already read once.
        fn held(tag: &str) -> (FakeProc, Owners) {
            let p = FakeProc::new(tag);
            p.process(100, 5000);
            p.fd(100, 3, 1001);
            p.fd(100, 4, 1002);
            let mut o = p.owners();
            o.update(&mut dump(&[1001, 1002]));
            (p, o)
        }
    }

    impl Drop for FakeProc {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dump(inodes: &[u32]) -> Vec<Socket> {
        inodes
            .iter()
            .map(|&i| crate::model::diff::tests::sock(1000 + i as u16, 1, i, State::Estab, 0))
            .collect()
    }

    fn owners_of(sockets: &[Socket]) -> Vec<(u32, Vec<u32>)> {
        sockets
            .iter()
            .map(|s| (s.inode, s.owners.to_vec()))
            .collect()
    }

    /// A process whose fd count changed reads only the links of fds that are new or whose
    /// socket left the dump; the answer is the same as a full read's.
    #[test]
    fn a_changed_process_reads_only_what_can_have_changed() {
        let p = FakeProc::new("partial");
        p.process(100, 5000);
        p.fd(100, 3, 1001);
        p.fd(100, 4, 1002);
        p.fd(100, 5, 0);
        let mut o = p.owners();
        let mut s = dump(&[1001, 1002]);
        o.update(&mut s);
        assert_eq!(o.stats().links_read, 3);
        // 1002 closes; fd 4 is now 1003, and fd 6 opens 1004.
        p.fd(100, 4, 1003);
        p.fd(100, 6, 1004);
        let mut s = dump(&[1001, 1003, 1004]);
        o.update(&mut s);
        assert_eq!(
            owners_of(&s),
            vec![(1001, vec![100]), (1003, vec![100]), (1004, vec![100])]
        );
        // fds 4, 5 and 6 were read; fd 3's socket is still in the dump: kept.
        assert_eq!(o.stats().links_read, 3, "{:?}", o.stats());
    }

    /// A full walk run ahead of the dump, then a socket opened before the dump: the
    /// update finds it by re-reading its process's new fds, and nothing else.
    #[test]
    fn a_socket_opened_after_a_walk_ahead_is_found() {
        let p = FakeProc::new("ahead");
        p.process(100, 5000);
        p.fd(100, 3, 1001);
        p.process(200, 6000);
        p.fd(200, 3, 2001);
        let mut o = p.owners();
        assert!(o.full_walk_due());
        o.walk_ahead();
        assert!(!o.full_walk_due());
        assert_eq!(o.stats().links_read, 2);
        p.fd(100, 4, 1002);
        let mut s = dump(&[1001, 1002, 2001]);
        o.update(&mut s);
        assert_eq!(
            owners_of(&s),
            vec![(1001, vec![100]), (1002, vec![100]), (2001, vec![200])]
        );
        // The walk ahead's two links, then only 100's new fd.
        assert_eq!(o.stats().links_read, 3, "{:?}", o.stats());
        assert_eq!(o.stats().walked, 3, "{:?}", o.stats());

        // The next resync: after the walk, 200 opens 2003 at the fd number of a file it
        // closed, so its fd count does not change. Unfound at first (and not cached as
        // ownerless), found by the search of the next update.
        p.fd(200, 4, 0);
        o.update(&mut dump(&[1001, 1002, 2001]));
        o.walk_again();
        o.walk_ahead();
        p.fd(200, 4, 2003);
        let mut s = dump(&[1001, 1002, 2001, 2003]);
        o.update(&mut s);
        assert_eq!(owners_of(&s)[3], (2003, vec![]));
        let mut s = dump(&[1001, 1002, 2001, 2003]);
        o.update(&mut s);
        assert_eq!(owners_of(&s)[3], (2003, vec![200]));
    }

    /// A socket that had an owner and has none now is reported as lost (the collector
    /// then asks the kernel whether it closed), once; one that never had an owner is not.
    #[test]
    fn a_socket_that_loses_its_last_owner_is_lost_once() {
        let (p, mut o) = FakeProc::held("lost");
        let mut s = dump(&[1001, 1002, 1009]);
        o.update(&mut s);
        assert!(o.lost().is_empty(), "{:?}", o.lost());
        // 100 closes fd 4 (socket 1002), which stays in the dump without a holder.
        p.close(100, 4);
        let mut s = dump(&[1009, 1001, 1002]);
        o.update(&mut s);
        assert_eq!(owners_of(&s)[2], (1002, vec![]));
        assert_eq!(o.lost(), [2]);
        let mut s = dump(&[1009, 1001, 1002]);
        o.update(&mut s);
        assert!(o.lost().is_empty(), "{:?}", o.lost());
    }

    /// A kept socket that another process's read finds was handed over: the first
    /// process is read again in full, and no longer counts as its holder.
    #[test]
    fn a_socket_handed_to_a_new_process_is_not_kept() {
        let (p, mut o) = FakeProc::held("handover");
        // 100 forks 200 (which keeps 1001), then closes its own 1001, and its fd 3 is
        // a file now; it opens another file.
        p.process(200, 6000);
        p.fd(200, 3, 1001);
        p.fd(100, 3, 0);
        p.fd(100, 7, 0);
        let mut s = dump(&[1001, 1002]);
        o.update(&mut s);
        assert_eq!(owners_of(&s), vec![(1001, vec![200]), (1002, vec![100])]);
    }

    /// A socket that a kept fd number hides (it went to a process that was not read,
    /// and its fd now holds a new socket): the new socket is still open, so every
    /// process of its user is read in full, the partly read one too.
    #[test]
    fn a_socket_no_read_found_sends_the_partly_read_to_a_full_read() {
        let p = FakeProc::new("hidden");
        p.process(100, 5000);
        p.fd(100, 3, 1001);
        p.fd(100, 4, 1003);
        p.process(300, 7000);
        p.fd(300, 3, 0);
        let mut o = p.owners();
        let mut s = dump(&[1001, 1003]);
        o.update(&mut s);
        // 300 gets 1003 in place of a file (its fd count stays); 100 reuses fd 4 for a
        // new socket and opens a file.
        p.fd(300, 3, 1003);
        p.fd(100, 4, 1006);
        p.fd(100, 8, 0);
        let mut asked = Vec::new();
        let mut s = dump(&[1001, 1003, 1006]);
        o.update_checked(&mut s, &mut |s| {
            asked.push(s.inode);
            true
        });
        assert_eq!(asked, vec![1006]);
        assert_eq!(
            owners_of(&s),
            vec![(1001, vec![100]), (1003, vec![300]), (1006, vec![100])]
        );
    }

    /// A pid that is another process now (its start time changed) keeps nothing.
    #[test]
    fn a_reused_pid_is_read_in_full() {
        let (p, mut o) = FakeProc::held("reused");
        p.process(100, 9000);
        p.close(100, 4);
        let mut s = dump(&[1001]);
        o.update(&mut s);
        assert_eq!(o.stats().links_read, 1, "fd 3 was read, not kept");
        assert_eq!(owners_of(&s), vec![(1001, vec![100])]);
    }

    proptest::proptest! {
        /// The two-map store answers as a map of lists would, whatever the order of
        /// adds and removes.
        #[test]
        fn inode_owners_match_a_map_of_lists(
            ops in proptest::collection::vec((0u8..3, 0u32..6, 1u32..5), 0..80),
        ) {
            let mut store = InodeOwners::default();
            let mut model: std::collections::HashMap<u32, Vec<u32>> = Default::default();
            for (op, inode, pid) in ops {
                match op {
                    0 => {
                        store.add(inode, pid);
                        let v = model.entry(inode).or_default();
                        if !v.contains(&pid) {
                            v.push(pid);
                        }
                    }
                    1 => {
                        store.remove_pid(inode, pid);
                        if let Some(v) = model.get_mut(&inode) {
                            v.retain(|p| *p != pid);
                        }
                    }
                    _ => {
                        let mut got = Vec::new();
                        store.remove(inode, |p| got.push(p));
                        let mut want = model.remove(&inode).unwrap_or_default();
                        got.sort_unstable();
                        want.sort_unstable();
                        proptest::prop_assert_eq!(got, want);
                    }
                }
                for i in 0..6 {
                    let mut got = store.get(i).to_vec();
                    let mut want = model.get(&i).cloned().unwrap_or_default();
                    got.sort_unstable();
                    want.sort_unstable();
                    proptest::prop_assert_eq!(got, want, "inode {}", i);
                }
            }
        }

        #[test]
        fn sorted_difference_is_the_set_difference(
            a in proptest::collection::btree_set(0u32..64, 0..40),
            b in proptest::collection::btree_set(0u32..64, 0..40),
        ) {
            let (va, vb): (Vec<u32>, Vec<u32>) = (a.iter().copied().collect(), b.iter().copied().collect());
            let got: Vec<u32> = sorted_difference(&va, &vb).collect();
            let want: Vec<u32> = a.difference(&b).copied().collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn missing_proc_leaves_owners_unknown() {
        let mut o = Owners::with_root("/nonexistent-proc", DEFAULT_RESYNC);
        let mut socks = vec![crate::model::diff::tests::sock(
            80,
            0,
            7,
            crate::model::State::Listen,
            0,
        )];
        o.update(&mut socks);
        assert!(socks[0].owners.is_empty());
        assert_ne!(socks[0].owner_status, OwnerStatus::Known);
    }
}
