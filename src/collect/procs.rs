//! Details of owning processes through one long-lived `sysinfo::System`.
//!
//! Only owner pids are refreshed, and a process's fixed details (name, cmdline, exe, user,
//! container) are read once per identity (pid + start time) and reused while it lives.
//! Where `/proc/PID/stat` exists it gives the exact start time in ticks, the state letter,
//! the thread count and the kernel-thread flag that sysinfo does not expose.

use crate::model::Process;
pub use crate::model::process::Inspection;
use crate::model::process::display_name;
use crate::model::sanitize::{sanitize, sanitize_capped};
pub use crate::model::stat::{Stat, parse_stat};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, Uid, UpdateKind, Users};

/// Arguments kept per command line; each argument is capped by the sanitiser too.
const MAX_ARGS: usize = 256;
/// How often the user list is re-read when an unknown uid shows up.
const USERS_REFRESH: Duration = Duration::from_secs(5);

#[cfg(target_os = "linux")]
fn read_stat(pid: u32) -> Option<Stat> {
    parse_stat(&std::fs::read(format!("/proc/{pid}/stat")).ok()?)
}

#[cfg(not(target_os = "linux"))]
fn read_stat(_pid: u32) -> Option<Stat> {
    None
}

/// Reads cwd and the parent chain of `pid`; whatever cannot be read is left out.
pub fn inspect(pid: u32) -> Inspection {
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
        .ok()
        .map(|p| sanitize(&p.to_string_lossy()));
    let mut parents = Vec::new();
    let mut cur = read_stat(pid).map(|s| s.ppid);
    while let Some(ppid) = cur.filter(|&p| p != 0) {
        if parents.len() >= 64 || parents.iter().any(|(p, _)| *p == ppid) {
            break;
        }
        let name = std::fs::read_to_string(format!("/proc/{ppid}/comm"))
            .map(|n| sanitize(n.trim_end()))
            .unwrap_or_default();
        parents.push((ppid, name));
        cur = read_stat(ppid).map(|s| s.ppid);
    }
    Inspection { pid, cwd, parents }
}

/// Refreshes what diagnosis needs about a process's relatives: whether its session
/// leader still lives and its parent's state. Two small reads per owner per snapshot.
#[cfg(target_os = "linux")]
fn lineage(p: &mut Process) {
    p.session_leader_alive = p.session == 0
        || p.session == p.pid
        || std::fs::metadata(format!("/proc/{}", p.session)).is_ok();
    let parent = p.ppid.and_then(read_stat);
    p.parent_state = parent.map(|s| s.state);
    p.parent_zombie = parent.is_some_and(|s| s.is_zombie());
}

#[cfg(not(target_os = "linux"))]
fn lineage(_p: &mut Process) {}

/// Long-lived process reader.
pub struct Procs {
    sys: System,
    users: Users,
    users_read: Option<Instant>,
    cache: HashMap<u32, Process>,
    boot_time: u64,
}

impl Procs {
    pub fn new() -> crate::error::Result<Self> {
        let sys = System::new().map_err(|e| crate::error::Error::Processes(e.to_string()))?;
        Ok(Procs {
            sys,
            users: Users::new().map_err(|e| crate::error::Error::Processes(e.to_string()))?,
            users_read: None,
            cache: HashMap::new(),
            boot_time: System::boot_time().unwrap_or(0),
        })
    }

    /// Details for exactly these pids; pids that exited meanwhile are left out.
    pub fn refresh(&mut self, pids: &[u32]) -> HashMap<u32, Process> {
        let mut out = HashMap::with_capacity(pids.len());
        let mut fresh: Vec<(u32, Option<Stat>)> = Vec::new();
        for &pid in pids {
            let stat = read_stat(pid);
            match (self.cache.remove(&pid), stat) {
                // Same identity as last time: only the volatile fields change.
                (Some(mut p), Some(st)) if p.start_ticks == st.start_ticks => {
                    p.state = st.state;
                    p.ppid = Some(st.ppid).filter(|&v| v != 0);
                    p.threads = st.threads;
                    p.session = st.session;
                    lineage(&mut p);
                    out.insert(pid, p);
                }
                _ => fresh.push((pid, stat)),
            }
        }
        // Pids that stopped being owners are listed too: sysinfo drops them if they died,
        // which keeps its process map as small as the owner set.
        let gone: Vec<Pid> = self.cache.keys().map(|p| Pid::from_u32(*p)).collect();
        if !fresh.is_empty() || !gone.is_empty() {
            let mut ids: Vec<Pid> = fresh.iter().map(|(p, _)| Pid::from_u32(*p)).collect();
            ids.extend(gone);
            let kind = ProcessRefreshKind::nothing()
                .without_tasks()
                .with_cmd(UpdateKind::Always)
                .with_exe(UpdateKind::Always)
                .with_user(UpdateKind::Always);
            self.sys
                .refresh_processes_specifics(ProcessesToUpdate::Some(&ids), true, kind);
            for (pid, stat) in fresh {
                if let Some(p) = self.read_one(pid, stat) {
                    out.insert(pid, p);
                }
            }
        }
        self.cache.clone_from(&out);
        out
    }

    fn read_one(&mut self, pid: u32, stat: Option<Stat>) -> Option<Process> {
        let p = self.sys.process(Pid::from_u32(pid))?;
        let uid = p.user_id().map(|u| **u);
        let cmdline: Vec<String> = p
            .cmd()
            .iter()
            .take(MAX_ARGS)
            .map(|a| sanitize(&a.to_string_lossy()))
            .collect();
        let (state, ppid, threads, start_ticks, kernel_thread, session) = match stat {
            Some(st) => (
                st.state,
                Some(st.ppid).filter(|&v| v != 0),
                st.threads,
                st.start_ticks,
                st.kernel_thread,
                st.session,
            ),
            None => (
                status_letter(p.status()),
                p.parent().map(|p| p.as_u32()),
                1,
                0,
                false,
                0,
            ),
        };
        let start_time = if p.start_time() > 0 {
            p.start_time()
        } else {
            self.boot_time
        };
        let process = Process {
            pid,
            ppid,
            start_ticks,
            start_time,
            name: display_name(&sanitize_capped(&p.name().to_string_lossy(), 256), &cmdline),
            cmdline,
            exe: p.exe().map(|e| sanitize(&e.to_string_lossy())),
            exe_root_owned: super::origin::exe_root_owned(pid),
            uid,
            user: None,
            state,
            threads,
            kernel_thread,
            container: None,
            session,
            session_leader_alive: true,
            parent_state: None,
            parent_zombie: false,
            origin: Default::default(),
        };
        let user = uid.and_then(|u| self.user_name(u));
        let cg = super::origin::cgroup(pid);
        let origin = super::origin::read(pid, process.ppid, &cg);
        let mut process = Process {
            user,
            container: super::origin::container(&cg),
            origin,
            ..process
        };
        lineage(&mut process);
        Some(process)
    }

    /// Sanitised user name for a uid, re-reading the user list now and then.
    pub fn user_name(&mut self, uid: u32) -> Option<String> {
        let id = Uid::try_from(uid as usize).ok()?;
        if self.users.get_user_by_id(&id).is_none()
            && self.users_read.is_none_or(|t| t.elapsed() >= USERS_REFRESH)
        {
            self.users.refresh();
            self.users_read = Some(Instant::now());
        }
        self.users
            .get_user_by_id(&id)
            .map(|u| sanitize_capped(u.name(), 64))
    }
}

fn status_letter(s: sysinfo::ProcessStatus) -> char {
    use sysinfo::ProcessStatus as S;
    match s {
        S::Run => 'R',
        S::Sleep => 'S',
        S::Idle => 'I',
        S::Stop => 'T',
        S::Tracing => 't',
        S::Zombie => 'Z',
        S::Dead => 'X',
        S::UninterruptibleDiskSleep => 'D',
        _ => '?',
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_our_own_process() {
        let me = std::process::id();
        let mut procs = Procs::new().unwrap();
        let got = procs.refresh(&[me]);
        let p = &got[&me];
        assert_eq!(p.pid, me);
        assert!(p.start_ticks > 0);
        assert!(!p.cmdline.is_empty());
        // Second refresh reuses the cached identity.
        let again = procs.refresh(&[me, u32::MAX - 1]);
        assert_eq!(again[&me].start_ticks, p.start_ticks);
        assert!(!again.contains_key(&(u32::MAX - 1)));
    }
}
