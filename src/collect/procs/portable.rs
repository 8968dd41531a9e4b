//! Process details where there is no /proc: one long-lived `sysinfo::System`, refreshed
//! for the owner pids only (lean refresh).

use super::{MAX_ARGS, Procs};
use crate::model::Process;
use crate::model::process::display_name;
use crate::model::sanitize::{sanitize, sanitize_capped};
use std::collections::HashMap;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};

pub(super) fn new() -> crate::error::Result<Procs> {
    let sys = System::new().map_err(|e| crate::error::Error::Processes(e.to_string()))?;
    Ok(Procs {
        sys,
        users: super::users()?,
        users_read: None,
        cache: HashMap::new(),
        boot_time: System::boot_time().unwrap_or(0),
    })
}

impl Procs {
    /// Details for these pids, every one read again: without a start time in ticks
    /// nothing tells that a cached process is still the same one.
    pub(super) fn refresh_from_cache(&mut self, pids: &[u32]) -> HashMap<u32, Process> {
        let mut out = HashMap::with_capacity(pids.len());
        let mut fresh: Vec<u32> = Vec::new();
        for &pid in pids {
            self.cache.remove(&pid);
            fresh.push(pid);
        }
        // Pids that stopped being owners are listed too: sysinfo drops them if they died,
        // which keeps its process map as small as the owner set.
        let gone: Vec<Pid> = self.cache.keys().map(|p| Pid::from_u32(*p)).collect();
        if !fresh.is_empty() || !gone.is_empty() {
            let mut ids: Vec<Pid> = fresh.iter().map(|p| Pid::from_u32(*p)).collect();
            ids.extend(gone);
            let kind = ProcessRefreshKind::nothing()
                .without_tasks()
                .with_cmd(UpdateKind::Always)
                .with_exe(UpdateKind::Always)
                .with_user(UpdateKind::Always);
            self.sys
                .refresh_processes_specifics(ProcessesToUpdate::Some(&ids), true, kind);
            for pid in fresh {
                if let Some(p) = self.read_one(pid) {
                    out.insert(pid, p);
                }
            }
        }
        out
    }

    fn read_one(&mut self, pid: u32) -> Option<Process> {
        let p = self.sys.process(Pid::from_u32(pid))?;
        let uid = p.user_id().map(|u| **u);
        let raw: Vec<u8> = p
            .cmd()
            .iter()
            .take(MAX_ARGS)
            .flat_map(|a| a.as_encoded_bytes().iter().copied().chain([0]))
            .collect();
        let cmdline = crate::model::sanitize::cmdline(&raw, MAX_ARGS);
        let start_time = if p.start_time() > 0 {
            p.start_time()
        } else {
            self.boot_time
        };
        let process = Process {
            ppid: p.parent().map(|p| p.as_u32()),
            start_time,
            name: display_name(&sanitize_capped(&p.name().to_string_lossy(), 256), &cmdline),
            cmdline,
            exe: p.exe().map(|e| sanitize(&e.to_string_lossy())),
            uid,
            state: status_letter(p.status()),
            threads: 1,
            ..Process::unknown(pid)
        };
        Some(Process {
            user: uid.and_then(|u| self.user_name(u)),
            ..process
        })
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
