//! Reading fd tables for the owner map: which pids to read and what may be kept of
//! their last read, the reads themselves (spread over threads when they are many), and
//! the search for sockets no read found.

use super::{HashMap, HashSet, Owners};
use crate::model::Socket;
use crate::procfs::{Found, Ino, ProcFs, ino, read_socket_fds};
use std::mem::MaybeUninit;

/// Below this many fds in total a walk stays on the calling thread. A read costs about
/// 1 µs an fd listed (and 4 for a link read), so below this a walk takes a few ms, and
/// starting threads for it, each poll, cost more CPU than they save time: under issue
/// 22's churn (two processes of 3,600 fds each, read every poll) they were 2 % of the
/// live view's samples, with the page faults of their fresh stacks.
pub(super) const PARALLEL_MIN_FDS: i64 = 16_384;

/// One pid to read: the buffers its previous inodes and fd numbers were in (reused), the
/// (fd, inode) pairs that may be taken as still true without reading their links, and
/// below which number its table is probed instead of listed (0: listed in full): where
/// it was dense at the last read.
struct Job {
    pid: u32,
    inodes: Vec<Ino>,
    fds: Vec<u32>,
    keep: Vec<(u32, Ino)>,
    probe_below: u32,
    /// Its start time when the job was made (0: unknown).
    start: u64,
}

/// What one pid's fd table held.
struct PidRead {
    pid: u32,
    readable: bool,
    via_tasks: bool,
    inodes: Vec<Ino>,
    /// The fd number of each of `inodes` (same order); empty when read via its tasks.
    fds: Vec<u32>,
    /// Links read.
    links: usize,
    /// The inodes of the entries of `keep` still listed (or below the probed number),
    /// taken without reading their links; sorted.
    kept_inodes: Vec<Ino>,
    /// Where its own table's dense start ends.
    dense_top: u32,
    /// Its table was probed.
    probed: bool,
    /// Another process had taken its pid by the end of the read: read again next time.
    reused: bool,
}

/// Reads one pid's socket inodes (the job's buffers are cleared first and reused).
/// An fd listed in `job.keep` with its number is taken to hold the same socket without
/// its link being read: the caller keeps there only sockets that are still in the dump
/// and that this same process (pid and start time) alone held at the last read.
fn read_pid(fs: &ProcFs, link: &mut [MaybeUninit<u8>], job: Job) -> PidRead {
    let Job {
        pid,
        mut inodes,
        mut fds,
        keep,
        probe_below,
        start,
    } = job;
    inodes.clear();
    fds.clear();
    let mut kept_inodes = Vec::new();
    let mut out = Found {
        inodes: &mut inodes,
        fds: Some(&mut fds),
        keep: &keep,
        kept_inodes: &mut kept_inodes,
        probe_below,
    };
    let mut read = read_socket_fds(&fs.pid(pid), link, &mut out);
    // A probe asks kcmp about the pid by number: if another process has the number now,
    // what it said is about that one. (A process that exited left nothing to find.)
    let reused = read.probed && fs.start_ticks(pid).is_some_and(|t| t != start);
    if reused {
        inodes.clear();
        fds.clear();
        kept_inodes.clear();
        read.via_tasks = false;
    }
    PidRead {
        pid,
        readable: read.readable,
        via_tasks: read.via_tasks,
        inodes,
        fds,
        links: read.links,
        kept_inodes,
        dense_top: read.dense_top,
        probed: read.probed,
        reused,
    }
}

impl Owners {
    /// Sockets that are neither mapped nor known to be ownerless were opened by a pid whose
    /// fd count did not change (it closed something else), or sit at an fd number that a
    /// partial read took as unchanged. Those still open (`still_open`; a socket that
    /// closed since the dump needs no owner) send every readable pid of their uids that
    /// was not read in full already to a full read; whatever stays unfound goes to the
    /// negative cache until the next full resync.
    pub(super) fn search_unknown(
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
    pub(super) fn walk_many(
        &mut self,
        pids: &[u32],
        full: bool,
        alive: Option<&[Ino]>,
    ) -> Vec<u32> {
        if !self.fs.available() {
            return Vec::new();
        }
        let jobs = self.jobs(pids, full, alive);
        let mut reads = self.read_jobs(jobs);
        let partial = self.reread_handed_over(&mut reads);
        for r in reads {
            self.stats.walked += 1;
            self.stats.links_read += r.links;
            self.stats.probed += usize::from(r.probed);
            for &inode in &r.inodes {
                self.by_inode.add(inode, r.pid);
                self.negative.remove(&inode);
            }
            if let Some(e) = self.pids.get_mut(&r.pid) {
                e.inodes = r.inodes;
                e.fds = r.fds;
                e.readable = r.readable;
                e.via_tasks = r.via_tasks;
                e.fd_dense_top = r.dense_top;
                if r.reused {
                    e.fd_count = -1;
                }
            }
        }
        partial
    }

    /// A read job for each pid, with what may be kept of its last read (see
    /// [`Owners::walk_many`]); takes its inodes out of the map unless the walk is full.
    fn jobs(&mut self, pids: &[u32], full: bool, alive: Option<&[Ino]>) -> Vec<(i64, Job)> {
        let mut jobs: Vec<(i64, Job)> = Vec::with_capacity(pids.len());
        let probes = self.fs.can_probe_fds();
        for &pid in pids {
            // The identity the fds about to be read belong to; read first, so that a pid
            // reused during the read shows as changed at the next update.
            let start = self.fs.start_ticks(pid).unwrap_or(0);
            let Some(e) = self.pids.get_mut(&pid) else {
                continue;
            };
            let same_process = start != 0 && e.start_ticks == start;
            e.start_ticks = start;
            let old = std::mem::take(&mut e.inodes);
            let fds = std::mem::take(&mut e.fds);
            let mut keep = Vec::new();
            // Probing pays off while the table is about as big as where it was dense
            // (its count is the directory's size from Linux 6.2 on, 0 before: then the
            // table is listed).
            let probe_below = if probes
                && same_process
                && e.readable
                && !e.via_tasks
                && e.fd_count > 0
                && e.fd_count.saturating_mul(2) >= i64::from(e.fd_dense_top)
            {
                e.fd_dense_top
            } else {
                0
            };
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
                    probe_below,
                    start,
                },
            ));
        }
        jobs
    }

    /// Reads again in full the pids that kept a socket another pid's read found this
    /// time (handed over); returns the pids that kept something and keep it.
    fn reread_handed_over(&mut self, reads: &mut Vec<PidRead>) -> Vec<u32> {
        let mut partial = Vec::new();
        if reads.iter().all(|r| r.kept_inodes.is_empty()) {
            return partial;
        }
        // Sockets whose links were read this time, with the pid that read them
        // (u32::MAX: several did).
        let mut fresh: HashMap<Ino, u32> = HashMap::default();
        for r in reads.iter() {
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
        for r in reads.iter() {
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
                            probe_below: 0,
                            start: 0,
                        },
                    ))
                })
                .collect();
            reads.extend(self.read_jobs(jobs));
        }
        partial
    }

    /// Runs read jobs, on several threads when they are many fds in all.
    fn read_jobs(&mut self, mut jobs: Vec<(i64, Job)>) -> Vec<PidRead> {
        let fs = &*self.fs;
        let weight: i64 = jobs.iter().map(|j| j.0.max(1)).sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4);
        if threads < 2 || jobs.len() < 2 || weight < PARALLEL_MIN_FDS {
            return jobs
                .into_iter()
                .map(|(_, job)| read_pid(fs, &mut self.link, job))
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
        // Fewer jobs than threads leave shares empty: no thread for those. The calling
        // thread reads one share itself: one thread fewer to start.
        shares.retain(|s| !s.1.is_empty());
        let (_, own) = shares.pop().unwrap_or_default();
        let link = &mut self.link;
        std::thread::scope(|scope| {
            let handles: Vec<_> = shares
                .into_iter()
                .map(|(_, share)| {
                    scope.spawn(move || {
                        let mut link = vec![MaybeUninit::uninit(); 64];
                        share
                            .into_iter()
                            .map(|job| read_pid(fs, &mut link, job))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let mine: Vec<PidRead> = own.into_iter().map(|job| read_pid(fs, link, job)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .chain(mine)
                .collect()
        })
    }
}
