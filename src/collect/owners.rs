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
    Job, PARALLEL_MIN_FDS, PidRead, in_initial_pid_namespace, parse_u32, read_pid, start_ticks,
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
    inodes: Vec<u64>,
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
    pids: HashMap<u32, PidEntry>,
    by_inode: HashMap<u64, Pids>,
    negative: HashSet<u64>,
    /// Socket inodes of the previous update, to notice sockets that went away.
    last_inodes: HashSet<u64>,
    /// Inodes that had an owner at the previous update.
    last_owned: HashSet<u64>,
    /// Indices (into the last update's sockets) of sockets that had owners at the previous
    /// update and have none now: closed between the dump and the fd walk, most likely.
    lost: Vec<usize>,
    /// When nobody visible owns a socket, why: our pid namespace is not the initial one,
    /// so the owner may live in an ancestor namespace we cannot see.
    nested_pidns: bool,
    generation: u64,
    last_full: Option<Instant>,
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
            pids: HashMap::default(),
            by_inode: HashMap::default(),
            negative: HashSet::default(),
            last_inodes: HashSet::default(),
            last_owned: HashSet::default(),
            lost: Vec::new(),
            nested_pidns: !in_initial_pid_namespace(),
            generation: 0,
            last_full: None,
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
        if self.proc.is_none() {
            // Unreadable when we started (no fds left?): try again, and let the collector
            // know when it is for want of fds.
            self.proc = open_root(&self.root);
        }
        let now = Instant::now();
        let full = self
            .last_full
            .is_none_or(|t| now.duration_since(t) >= self.resync);
        self.stats = WalkStats {
            full,
            ..WalkStats::default()
        };
        self.generation += 1;
        if full {
            self.negative.clear();
            self.last_full = Some(now);
        }

        let current: HashSet<u64> = sockets
            .iter()
            .map(|s| s.inode)
            .filter(|&i| i != 0)
            .collect();
        // Pids that held a socket which is gone have closed it, maybe opening another.
        let mut dirty: HashSet<u32> = HashSet::default();
        for inode in self.last_inodes.difference(&current) {
            if let Some(pids) = self.by_inode.remove(inode) {
                dirty.extend(pids);
            }
        }

        let to_walk = self.scan(full, &dirty);
        // Forget pids that exited.
        let generation = self.generation;
        let by_inode = &mut self.by_inode;
        self.pids.retain(|&pid, e| {
            if e.seen != generation {
                for inode in &e.inodes {
                    remove_pid(by_inode, *inode, pid);
                }
                false
            } else {
                true
            }
        });
        if full {
            self.by_inode.clear();
        }

        self.walk_many(&to_walk, full);
        if !full {
            self.search_unknown(sockets, &to_walk);
        }

        self.assign(sockets);
        self.last_inodes = current;
        {
            use crate::model::spare::ShrinkSpare;
            self.by_inode.shrink_spare();
            self.pids.shrink_spare();
            self.negative.shrink_spare();
            self.last_owned.shrink_spare();
        }
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
    fn assign(&mut self, sockets: &mut [Socket]) {
        let unreadable_uids: HashSet<u32> = self
            .pids
            .values()
            .filter(|p| !p.readable)
            .map(|p| p.uid)
            .collect();
        self.lost.clear();
        let mut owned =
            HashSet::with_capacity_and_hasher(self.last_owned.len(), Default::default());
        for (i, s) in sockets.iter_mut().enumerate() {
            s.owners.clear();
            if s.inode == 0 {
                s.owner_status = OwnerStatus::Kernel;
                continue;
            }
            match self.by_inode.get(&s.inode) {
                Some(pids) if !pids.is_empty() => {
                    s.owners.extend_from_slice(pids);
                    s.owners.sort_unstable();
                    s.owner_status = OwnerStatus::Known;
                    owned.insert(s.inode);
                }
                _ => {
                    self.negative.insert(s.inode);
                    if self.last_owned.contains(&s.inode) {
                        self.lost.push(i);
                    }
                    s.owner_status = self.unowned_status(s.uid, &unreadable_uids);
                }
            }
        }
        self.last_owned = owned;
    }

    /// Why no visible process holds a socket of `uid`. Root reads every fd table, so for
    /// root the owner is never "hidden": it is in a pid namespace we cannot see, or it
    /// closed the socket while we read.
    fn unowned_status(&self, uid: u32, unreadable_uids: &HashSet<u32>) -> OwnerStatus {
        let hidden = self.euid != 0 && (unreadable_uids.contains(&uid) || uid != self.euid);
        if hidden {
            OwnerStatus::Hidden
        } else if self.nested_pidns {
            OwnerStatus::OtherNs
        } else {
            OwnerStatus::Unknown
        }
    }

    /// Sockets that are neither mapped nor known to be ownerless were opened by a pid whose
    /// fd count did not change (it closed something else). Walk the readable pids of the
    /// sockets' uids that were not walked already; whatever stays unfound goes to the
    /// negative cache until the next full resync.
    fn search_unknown(&mut self, sockets: &[Socket], walked: &[u32]) {
        let uids: HashSet<u32> = sockets
            .iter()
            .filter(|s| {
                s.inode != 0
                    && !self.by_inode.contains_key(&s.inode)
                    && !self.negative.contains(&s.inode)
            })
            .map(|s| s.uid)
            .collect();
        if uids.is_empty() {
            return;
        }
        let walked: HashSet<u32> = walked.iter().copied().collect();
        let candidates: Vec<u32> = self
            .pids
            .iter()
            .filter(|(pid, e)| e.readable && uids.contains(&e.uid) && !walked.contains(pid))
            .map(|(pid, _)| *pid)
            .collect();
        self.walk_many(&candidates, false);
    }

    /// Re-reads these pids' socket fds and updates the map. Large walks (a cold start, a
    /// full resync) are spread over the cores: the cost is all in the kernel's /proc code,
    /// which runs in parallel well.
    fn walk_many(&mut self, pids: &[u32], full: bool) {
        let Some(proc) = &self.proc else { return };
        let mut jobs: Vec<(u32, i64, Vec<u64>)> = Vec::with_capacity(pids.len());
        for &pid in pids {
            // The identity the fds about to be read belong to; read first, so that a pid
            // reused during the read shows as changed at the next update.
            let start = start_ticks(proc, pid, &mut self.path).unwrap_or(0);
            let Some(e) = self.pids.get_mut(&pid) else {
                continue;
            };
            e.start_ticks = start;
            let old = std::mem::take(&mut e.inodes);
            if !full {
                for inode in &old {
                    remove_pid(&mut self.by_inode, *inode, pid);
                }
            }
            jobs.push((pid, e.fd_count, old));
        }
        let weight: i64 = jobs.iter().map(|j| j.1.max(1)).sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        let reads: Vec<PidRead> = if threads < 2 || jobs.len() < 2 || weight < PARALLEL_MIN_FDS {
            jobs.into_iter()
                .map(|(pid, _, buf)| read_pid(proc, pid, &mut self.link, buf))
                .collect()
        } else {
            // Greedy balance by fd count, biggest first.
            jobs.sort_unstable_by_key(|j| std::cmp::Reverse(j.1));
            let mut shares: Vec<(i64, Vec<Job>)> = (0..threads).map(|_| (0, Vec::new())).collect();
            for (pid, count, buf) in jobs {
                if let Some(share) = shares.iter_mut().min_by_key(|s| s.0) {
                    share.0 += count.max(1);
                    share.1.push((pid, buf));
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
                                .map(|(pid, buf)| read_pid(proc, pid, &mut link, buf))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_default())
                    .collect()
            })
        };
        for r in reads {
            self.stats.walked += 1;
            self.stats.links_read += r.links;
            for &inode in &r.inodes {
                let pids = self.by_inode.entry(inode).or_default();
                if !pids.contains(&r.pid) {
                    pids.push(r.pid);
                }
                self.negative.remove(&inode);
            }
            if let Some(e) = self.pids.get_mut(&r.pid) {
                e.inodes = r.inodes;
                e.readable = r.readable;
                e.via_tasks = r.via_tasks;
            }
        }
    }
}

impl Default for Owners {
    fn default() -> Self {
        Owners::new()
    }
}

fn remove_pid(by_inode: &mut HashMap<u64, Pids>, inode: u64, pid: u32) {
    if let Some(pids) = by_inode.get_mut(&inode) {
        pids.retain(|p| *p != pid);
        if pids.is_empty() {
            by_inode.remove(&inode);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
