//! Details of owning processes, refreshed for exactly the owner pids of a snapshot.
//!
//! A process's fixed details (name, cmdline, exe, user, container, origin) are read once
//! per identity (pid + start time) and reused while it lives; only the volatile ones
//! (state, threads, parent, session) are read again at each snapshot. On Linux every
//! read goes through [`crate::procfs`] (a new process is read through one pinned handle,
//! so its details are all of one process); elsewhere through one long-lived
//! `sysinfo::System`. User names come from `sysinfo::Users` everywhere: it reads the
//! user database (`/etc/passwd`, not /proc) and is refreshed when an unknown uid shows.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod portable;
#[cfg(all(test, target_os = "linux"))]
mod tests;

use crate::model::Process;
pub use crate::model::process::Inspection;
use crate::model::sanitize::sanitize_capped;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use sysinfo::{Uid, Users};

/// Arguments kept per command line; each argument is capped by the sanitiser too.
const MAX_ARGS: usize = 256;
/// How often the user list is re-read when an unknown uid shows up.
const USERS_REFRESH: Duration = Duration::from_secs(5);

/// Long-lived process reader.
pub struct Procs {
    /// Where processes are read from (a fake in tests).
    #[cfg(target_os = "linux")]
    src: std::sync::Arc<dyn crate::procfs::ProcSource>,
    /// Clock ticks per second, to turn start ticks into a time.
    #[cfg(target_os = "linux")]
    ticks_per_second: u64,
    #[cfg(not(target_os = "linux"))]
    sys: sysinfo::System,
    users: Users,
    users_read: Option<Instant>,
    cache: HashMap<u32, Process>,
    boot_time: u64,
}

impl Procs {
    /// Reads the real `/proc` (elsewhere: sysinfo).
    pub fn new() -> crate::error::Result<Self> {
        #[cfg(target_os = "linux")]
        return Procs::with_source(std::sync::Arc::new(crate::procfs::ProcFs::new()));
        #[cfg(not(target_os = "linux"))]
        return portable::new();
    }

    /// Reads processes from `src`.
    #[cfg(target_os = "linux")]
    pub fn with_source(
        src: std::sync::Arc<dyn crate::procfs::ProcSource>,
    ) -> crate::error::Result<Self> {
        Ok(Procs {
            src,
            ticks_per_second: rustix::param::clock_ticks_per_second().max(1),
            users: users()?,
            users_read: None,
            cache: HashMap::new(),
            boot_time: sysinfo::System::boot_time().unwrap_or(0),
        })
    }

    /// Details for exactly these pids; pids that exited meanwhile are left out.
    pub fn refresh(&mut self, pids: &[u32]) -> HashMap<u32, Process> {
        let out = self.refresh_from_cache(pids);
        self.cache.clone_from(&out);
        out
    }

    /// [`Procs::refresh`] for a few pids between full snapshots: the cache keeps the
    /// others, so the next full snapshot does not read them again.
    pub fn peek(&mut self, pids: &[u32]) -> HashMap<u32, Process> {
        let out = self.refresh_from_cache(pids);
        for (pid, p) in &out {
            self.cache.insert(*pid, p.clone());
        }
        out
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

fn users() -> crate::error::Result<Users> {
    Users::new().map_err(|e| crate::error::Error::Processes(e.to_string()))
}

/// Reads cwd and the parent chain of `pid`; whatever cannot be read is left out.
pub fn inspect(pid: u32) -> Inspection {
    #[cfg(target_os = "linux")]
    return linux::inspect(&crate::procfs::ProcFs::new(), pid);
    #[cfg(not(target_os = "linux"))]
    return Inspection {
        pid,
        cwd: None,
        parents: Vec::new(),
    };
}
