//! Process details on Linux, through [`crate::procfs`]: a known identity costs one
//! stat read per snapshot; a new one is read through one pinned handle.

use super::{Inspection, MAX_ARGS, Procs};
use crate::collect::origin;
use crate::model::Process;
use crate::model::process::display_name;
use crate::model::sanitize::{sanitize, sanitize_capped};
use crate::model::stat::{Stat, parse_stat, stat_comm};
use crate::procfs::{PidFile, ProcSource};
use std::collections::HashMap;

impl Procs {
    /// Details for these pids: the cached ones whose identity is unchanged get their
    /// volatile fields refreshed, the others are read in full.
    pub(super) fn refresh_from_cache(&mut self, pids: &[u32]) -> HashMap<u32, Process> {
        let mut out = HashMap::with_capacity(pids.len());
        for &pid in pids {
            let stat = self.src.stat(pid).ok();
            let known = match (self.cache.remove(&pid), stat) {
                (Some(p), Some(st)) if p.start_ticks == st.start_ticks => Some((p, st)),
                _ => None,
            };
            let process = match known {
                // Same identity as last time: only the volatile fields change.
                Some((mut p, st)) => {
                    p.state = st.state;
                    p.ppid = Some(st.ppid).filter(|&v| v != 0);
                    p.threads = st.threads;
                    p.session = st.session;
                    lineage(&*self.src, &mut p);
                    Some(p)
                }
                None => self.read_one(pid),
            };
            if let Some(p) = process {
                out.insert(pid, p);
            }
        }
        out
    }

    /// Everything about one process, through one pinned handle; `None` when it exited.
    fn read_one(&mut self, pid: u32) -> Option<Process> {
        let src = std::sync::Arc::clone(&self.src);
        let h = src.open(pid).ok()?;
        let raw = h.read(PidFile::Stat, 4096).ok()?;
        let st: Stat = parse_stat(&raw)?;
        let comm = String::from_utf8_lossy(stat_comm(&raw).unwrap_or_default()).into_owned();
        let cmdline = crate::model::sanitize::cmdline(
            &h.read(PidFile::Cmdline, crate::model::sanitize::MAX_CMDLINE_BYTES)
                .unwrap_or_default(),
            MAX_ARGS,
        );
        // A program replaced or removed since it started reads with " (deleted)".
        let exe = h.exe().ok().map(|e| {
            let e = e.to_string_lossy();
            sanitize(e.strip_suffix(" (deleted)").unwrap_or(&e))
        });
        let uid = h.status().ok().and_then(|s| s.real_uid);
        let ppid = Some(st.ppid).filter(|&v| v != 0);
        let cg = origin::cgroup_of(&*h);
        let mut process = Process {
            pid,
            ppid,
            start_ticks: st.start_ticks,
            start_time: self.boot_time + st.start_ticks / self.ticks_per_second,
            name: display_name(&sanitize_capped(&comm, 256), &cmdline),
            cmdline,
            exe,
            exe_root_owned: origin::exe_root_owned(&*h),
            uid,
            user: uid.and_then(|u| self.user_name(u)),
            state: st.state,
            threads: st.threads,
            kernel_thread: st.kernel_thread,
            container: origin::container(&cg),
            session: st.session,
            session_leader_alive: true,
            parent_state: None,
            parent_zombie: false,
            origin: origin::read(&*src, &*h, ppid, &cg),
        };
        lineage(&*src, &mut process);
        Some(process)
    }
}

/// Refreshes what diagnosis needs about a process's relatives: whether its session
/// leader still lives and its parent's state. Two small reads per owner per snapshot.
fn lineage(src: &dyn ProcSource, p: &mut Process) {
    p.session_leader_alive = p.session == 0 || p.session == p.pid || src.exists(p.session);
    let parent = p.ppid.and_then(|pp| src.stat(pp).ok());
    p.parent_state = parent.map(|s| s.state);
    p.parent_zombie = parent.is_some_and(|s| s.is_zombie());
}

/// Reads cwd and the parent chain of `pid`; whatever cannot be read is left out.
pub(super) fn inspect(src: &dyn ProcSource, pid: u32) -> Inspection {
    let cwd = src
        .open(pid)
        .and_then(|p| p.cwd())
        .ok()
        .map(|p| sanitize(&p.to_string_lossy()));
    let mut parents = Vec::new();
    let mut cur = src.stat(pid).ok().map(|s| s.ppid);
    while let Some(ppid) = cur.filter(|&p| p != 0) {
        if parents.len() >= 64 || parents.iter().any(|(p, _)| *p == ppid) {
            break;
        }
        let name = src
            .comm(ppid)
            .map(|n| sanitize(n.trim_end()))
            .unwrap_or_default();
        parents.push((ppid, name));
        cur = src.stat(ppid).ok().map(|s| s.ppid);
    }
    Inspection { pid, cwd, parents }
}
