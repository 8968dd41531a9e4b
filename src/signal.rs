//! Sending signals safely (SPEC §4): pin the target by (pid, start time) and a pidfd,
//! refuse what must never be signalled, confirm from a fresh read of its fd table that it
//! still holds the socket, re-check everything right before sending, and report in plain
//! words. The values (`Sig`, `Refusal`, `Delivery`) live in [`crate::model::signal`].

pub use crate::model::signal::{Delivery, Refusal, Sent, Sig};
use crate::model::stat::{Stat, parse_stat};
use crate::procfs::{Holds, ProcFs, ProcSource, SystemFile, read_system};
use rustix::fd::OwnedFd;
use rustix::process::{Pid, PidfdFlags, Signal};
use std::io;

/// What the guards need to know about a pid; read from /proc by [`facts`] (through one
/// pinned handle), or made up by tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub stat: Stat,
    /// Thread-group id from `/proc/PID/status`; differs from the pid for a thread.
    pub tgid: u32,
}

impl Facts {
    /// The process group, when it is visible from here: `/proc` shows 0 when the group
    /// leader lives outside this pid namespace, which is "unknown", never "group 0".
    pub fn pgid(&self) -> Option<u32> {
        Some(self.stat.pgrp).filter(|&g| g != 0)
    }
}

/// Who we are, for the self-guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Me {
    pub pid: u32,
    /// Our process group as /proc numbers it; `None` when it is not visible from here (a
    /// nested pid namespace).
    pub pgid: Option<u32>,
}

impl Me {
    pub fn current() -> Me {
        let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
        // Read from /proc like every target's group, so both are numbered alike; the
        // getpgrp syscall may return 0 in a nested pid namespace.
        let pgid = read_system(SystemFile::OwnStat)
            .ok()
            .and_then(|t| parse_stat(t.as_bytes()))
            .map(|st| st.pgrp)
            .filter(|&g| g != 0);
        Me { pid, pgid }
    }
}

/// Checks a raw pid before anything else happens to it: the guards that need no /proc.
pub fn check_pid(pid: i64, me: Me) -> Result<u32, Refusal> {
    if pid <= 0 || pid > i64::from(i32::MAX) {
        return Err(Refusal::InvalidPid(pid));
    }
    let pid = pid as u32;
    if pid == 1 {
        return Err(Refusal::Init);
    }
    if pid == me.pid {
        return Err(Refusal::OwnPid);
    }
    Ok(pid)
}

/// All guards of SPEC §4 over what /proc says about `pid`.
pub fn guard(pid: u32, facts: &Facts, me: Me) -> Result<(), Refusal> {
    check_pid(i64::from(pid), me)?;
    if facts.tgid != pid {
        return Err(Refusal::NotAProcess {
            tid: pid,
            tgid: facts.tgid,
        });
    }
    if facts.stat.kernel_thread {
        return Err(Refusal::KernelThread(pid));
    }
    if facts.pgid().is_some() && facts.pgid() == me.pgid {
        return Err(Refusal::OwnGroup(pid));
    }
    if facts.stat.is_zombie() {
        return Err(Refusal::Zombie {
            pid,
            parent: facts.stat.ppid,
        });
    }
    Ok(())
}

/// Reads the guard facts of a pid from /proc. A pid that is not in /proc is told apart:
/// no such process, or a live one that `hidepid` hides from us.
pub fn facts(pid: u32) -> Result<Facts, Refusal> {
    let fs = ProcFs::new();
    let facts = facts_from(&fs, pid);
    if fs.shortage().take() {
        return Err(out_of_fds(pid));
    }
    facts
}

/// [`facts`] from `src`: stat and status through one handle, so both are of one process.
fn facts_from(src: &dyn ProcSource, pid: u32) -> Result<Facts, Refusal> {
    let missing = || absent(pid);
    let p = src.open(pid).map_err(|_| missing())?;
    let stat = p.stat().map_err(|_| missing())?;
    let tgid = p
        .status()
        .map_err(|_| missing())?
        .tgid
        .ok_or_else(missing)?;
    Ok(Facts { stat, tgid })
}

/// Why a pid cannot be read from /proc: it does not exist, or /proc hides it. The kernel
/// answers `pidfd_open` for any live pid of our namespace, whatever /proc shows.
fn absent(pid: u32) -> Refusal {
    use rustix::io::Errno;
    let Some(raw) = Pid::from_raw(pid as i32) else {
        return Refusal::NoSuchProcess(pid);
    };
    match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
        Ok(_) => Refusal::HiddenProcess(pid),
        Err(Errno::MFILE | Errno::NFILE) => out_of_fds(pid),
        Err(_) => Refusal::NoSuchProcess(pid),
    }
}

/// Nothing could be read for want of file descriptors: nothing is known about the
/// process, so nothing is decided (never "it has exited" or "it no longer holds it").
fn out_of_fds(pid: u32) -> Refusal {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(0);
    Refusal::Failed {
        pid,
        reason: format!("too many open files (the limit is {limit}): raise it with `ulimit -n`"),
    }
}

/// A process chosen as a target: its identity when chosen, the socket it was chosen for,
/// and a pidfd that keeps referring to exactly that process even if the pid is reused.
#[derive(Debug)]
pub struct Target {
    pub pid: u32,
    pub start_ticks: u64,
    /// The socket inode it held when pinned; it must still hold it when a signal is sent.
    pub inode: Option<u64>,
    pidfd: Option<OwnedFd>,
}

impl Target {
    /// A target known only by identity, without a pidfd: signals to it go through
    /// `kill()` after the start-time check. Also what test signallers hand out.
    pub fn without_pidfd(pid: u32, start_ticks: u64, inode: Option<u64>) -> Target {
        Target {
            pid,
            start_ticks,
            inode,
            pidfd: None,
        }
    }

    /// True once the pinned process has exited (a zombie waiting for its parent counts as
    /// exited: it holds nothing any more). Through the pidfd when there is one, which no
    /// pid reuse and no `hidepid` can fool.
    pub fn has_exited(&self) -> bool {
        if let Some(fd) = &self.pidfd {
            use rustix::event::{PollFd, PollFlags, poll};
            let mut fds = [PollFd::new(fd, PollFlags::IN)];
            let zero = rustix::event::Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            if let Ok(n) = poll(&mut fds, Some(&zero)) {
                return n > 0;
            }
        }
        match facts(self.pid) {
            Ok(f) => f.stat.start_ticks != self.start_ticks || f.stat.is_zombie(),
            // Hidden, or nothing could be read (no fds left): not known to have exited.
            Err(Refusal::HiddenProcess(_) | Refusal::Failed { .. }) => false,
            Err(_) => true,
        }
    }
}

/// Chooses and sends; a trait so tests can record instead of signalling.
pub trait Signaller {
    /// Pins `pid`, which must still have `start_ticks` (what the user saw; `None` takes
    /// the process that has the pid now) and, when `inode` is given, must hold that socket
    /// now, by a fresh read of its fd table.
    fn pin(
        &mut self,
        pid: u32,
        start_ticks: Option<u64>,
        inode: Option<u64>,
    ) -> Result<Target, Refusal>;
    /// Re-checks identity and the socket, sends, and sends CONT after it to a stopped
    /// target when the signal needs it.
    fn send(&mut self, target: &Target, sig: Sig) -> Result<Sent, Refusal>;
}

/// The real thing: /proc, pidfd_open, pidfd_send_signal.
#[derive(Debug, Clone, Copy)]
pub struct RealSignaller {
    me: Me,
}

impl Default for RealSignaller {
    fn default() -> Self {
        RealSignaller { me: Me::current() }
    }
}

impl RealSignaller {
    /// Facts of the pinned process, refused when the pid now belongs to another one.
    fn same_process(&self, pid: u32, start_ticks: u64) -> Result<Facts, Refusal> {
        let f = facts(pid).map_err(|e| match e {
            Refusal::NoSuchProcess(p) => Refusal::Gone(p),
            e => e,
        })?;
        if f.stat.start_ticks != start_ticks {
            return Err(Refusal::Changed(pid));
        }
        Ok(f)
    }

    /// The fresh fd-table check, through a handle pinned to the process with this start
    /// time ([`crate::procfs::holds`]); then the identity check, which tells why when
    /// the process is gone or hidden.
    fn confirm_holder(&self, pid: u32, start_ticks: u64, inode: u64) -> Result<(), Refusal> {
        let fs = ProcFs::new();
        let held = crate::procfs::holds(&fs, pid, start_ticks, inode);
        let starved = fs.shortage().take();
        self.same_process(pid, start_ticks)?;
        if starved {
            return Err(out_of_fds(pid));
        }
        match held {
            Holds::Yes => Ok(()),
            Holds::No => Err(Refusal::NotHolder { pid, inode }),
            Holds::Gone => Err(Refusal::Gone(pid)),
            Holds::Changed => Err(Refusal::Changed(pid)),
            Holds::Unreadable => Err(Refusal::Failed {
                pid,
                reason: format!(
                    "cannot read /proc/{pid}/fd to confirm that it holds the socket (run as root or as its user)"
                ),
            }),
        }
    }
}

impl Signaller for RealSignaller {
    fn pin(
        &mut self,
        pid: u32,
        start_ticks: Option<u64>,
        inode: Option<u64>,
    ) -> Result<Target, Refusal> {
        let pid = check_pid(i64::from(pid), self.me)?;
        let f = facts(pid).map_err(|e| match (e, start_ticks) {
            // We saw it a moment ago: it has exited since.
            (Refusal::NoSuchProcess(p), Some(_)) => Refusal::Gone(p),
            (e, _) => e,
        })?;
        guard(pid, &f, self.me)?;
        let start_ticks = start_ticks.unwrap_or(f.stat.start_ticks);
        if f.stat.start_ticks != start_ticks {
            return Err(Refusal::Changed(pid));
        }
        let raw = Pid::from_raw(pid as i32).ok_or(Refusal::InvalidPid(i64::from(pid)))?;
        let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::empty()).ok();
        // The pidfd was opened after the check: check once more that it is the same process.
        self.same_process(pid, start_ticks)?;
        if let Some(inode) = inode {
            self.confirm_holder(pid, start_ticks, inode)?;
        }
        Ok(Target {
            pid,
            start_ticks,
            inode,
            pidfd,
        })
    }

    fn send(&mut self, target: &Target, sig: Sig) -> Result<Sent, Refusal> {
        let pid = target.pid;
        if target.has_exited() {
            return Err(Refusal::Gone(pid));
        }
        let f = self.same_process(pid, target.start_ticks)?;
        guard(pid, &f, self.me)?;
        if let Some(inode) = target.inode {
            self.confirm_holder(pid, target.start_ticks, inode)?;
        }
        let delivery = deliver(target, sig)?;
        let stopped = matches!(f.stat.state, 'T' | 't');
        let continued =
            stopped && sig.needs_cont_when_stopped() && deliver(target, Sig::Cont).is_ok();
        Ok(Sent {
            delivery,
            continued,
        })
    }
}

/// One signal through the pidfd, or `kill()` when there is none.
fn deliver(target: &Target, sig: Sig) -> Result<Delivery, Refusal> {
    let pid = target.pid;
    let raw_sig = Signal::from_named_raw(sig.number()).ok_or_else(|| Refusal::Failed {
        pid,
        reason: format!("{sig} is not a signal here"),
    })?;
    let (result, how) = match &target.pidfd {
        Some(fd) => (
            rustix::process::pidfd_send_signal(fd, raw_sig),
            Delivery::Pidfd,
        ),
        None => {
            let raw = Pid::from_raw(pid as i32).ok_or(Refusal::InvalidPid(i64::from(pid)))?;
            (rustix::process::kill_process(raw, raw_sig), Delivery::Kill)
        }
    };
    result.map(|()| how).map_err(|e| errno_refusal(pid, e))
}

fn errno_refusal(pid: u32, e: rustix::io::Errno) -> Refusal {
    match e {
        rustix::io::Errno::SRCH => Refusal::Gone(pid),
        rustix::io::Errno::PERM | rustix::io::Errno::ACCESS => Refusal::Permission {
            pid,
            owner: owner_name(pid).unwrap_or_else(|| "the owner".to_owned()),
        },
        e => Refusal::Failed {
            pid,
            reason: io::Error::from(e).to_string(),
        },
    }
}

/// The user owning a pid, for "run as root or as user alice".
fn owner_name(pid: u32) -> Option<String> {
    let uid = ProcFs::new().open(pid).ok()?.owner().ok()?;
    let users = sysinfo::Users::new_with_refreshed_list().ok()?;
    let id = sysinfo::Uid::try_from(uid as usize).ok()?;
    Some(users.get_user_by_id(&id).map_or_else(
        || uid.to_string(),
        |u| crate::model::sanitize::sanitize_capped(u.name(), 64),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Me = Me {
        pid: 4000,
        pgid: Some(4000),
    };

    fn facts_for(pid: u32) -> Facts {
        Facts {
            stat: Stat {
                state: 'S',
                ppid: 10,
                pgrp: pid,
                session: 10,
                threads: 1,
                start_ticks: 99,
                kernel_thread: false,
            },
            tgid: pid,
        }
    }

    /// The guard facts are read through one handle: stat and status of one process.
    #[test]
    fn facts_over_a_fake() {
        use crate::procfs::fake::{FakeProc, FakeProcs};
        let mut thread = FakeProc::new(4243, 10, 99, "worker");
        thread.tgid = 4242;
        let procs = FakeProcs::new([(4243, thread)]);
        let f = facts_from(&procs, 4243).unwrap();
        assert_eq!((f.tgid, f.stat.start_ticks, f.stat.ppid), (4242, 99, 10));
        assert_eq!(
            guard(4243, &f, ME),
            Err(Refusal::NotAProcess {
                tid: 4243,
                tgid: 4242
            })
        );
    }

    #[test]
    fn raw_pids_that_are_never_signalled() {
        assert_eq!(check_pid(0, ME), Err(Refusal::InvalidPid(0)));
        assert_eq!(check_pid(-1, ME), Err(Refusal::InvalidPid(-1)));
        assert_eq!(check_pid(1, ME), Err(Refusal::Init));
        assert_eq!(check_pid(4000, ME), Err(Refusal::OwnPid));
        assert_eq!(
            check_pid(i64::from(u32::MAX), ME),
            Err(Refusal::InvalidPid(i64::from(u32::MAX)))
        );
        // u32::MAX cast to i32 would be -1, i.e. "every process": it must never get that far.
        assert_eq!(
            check_pid(i64::from(i32::MAX) + 1, ME),
            Err(Refusal::InvalidPid(i64::from(i32::MAX) + 1))
        );
        assert_eq!(check_pid(4242, ME), Ok(4242));
    }

    #[test]
    fn guards_over_proc_facts() {
        assert_eq!(guard(4242, &facts_for(4242), ME), Ok(()));
        let thread = Facts {
            tgid: 4200,
            ..facts_for(4242)
        };
        assert_eq!(
            guard(4242, &thread, ME),
            Err(Refusal::NotAProcess {
                tid: 4242,
                tgid: 4200
            })
        );
        let mut kthread = facts_for(4242);
        kthread.stat.kernel_thread = true;
        assert_eq!(guard(4242, &kthread, ME), Err(Refusal::KernelThread(4242)));
        let mut group = facts_for(4242);
        group.stat.pgrp = 4000;
        assert_eq!(guard(4242, &group, ME), Err(Refusal::OwnGroup(4242)));
        let mut zombie = facts_for(4242);
        zombie.stat.state = 'Z';
        assert_eq!(
            guard(4242, &zombie, ME),
            Err(Refusal::Zombie {
                pid: 4242,
                parent: 10
            })
        );
        // Z with live threads: the main thread exited, the process is alive.
        zombie.stat.threads = 3;
        assert_eq!(guard(4242, &zombie, ME), Ok(()));
        assert_eq!(guard(1, &facts_for(1), ME), Err(Refusal::Init));
        assert_eq!(guard(4000, &facts_for(4000), ME), Err(Refusal::OwnPid));
    }

    /// In a nested pid namespace both our group and the target's may read 0 from /proc:
    /// that is "not visible", and two unknowns are not the same group.
    #[test]
    fn a_group_that_reads_0_is_not_our_group() {
        let nested = Me {
            pid: 4000,
            pgid: None,
        };
        let mut f = facts_for(4242);
        f.stat.pgrp = 0;
        assert_eq!(f.pgid(), None);
        assert_eq!(guard(4242, &f, nested), Ok(()));
        assert_eq!(guard(4242, &f, ME), Ok(()));
    }

    #[test]
    fn real_signaller_refuses_our_own_pid_and_a_thread_id() {
        let mut s = RealSignaller::default();
        let me = std::process::id();
        assert_eq!(s.pin(me, None, None).unwrap_err(), Refusal::OwnPid);
        assert_eq!(s.pin(1, None, None).unwrap_err(), Refusal::Init);
        // A thread of ours: its tid is not a process.
        let (tx, rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tx.send(rustix::thread::gettid().as_raw_nonzero().get() as u32)
                .unwrap();
            let _ = done_rx.recv();
        });
        let tid = rx.recv().unwrap();
        assert_eq!(
            s.pin(tid, None, None).unwrap_err(),
            Refusal::NotAProcess { tid, tgid: me }
        );
        done_tx.send(()).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn a_pid_that_never_existed_is_no_such_process() {
        // pid_max is at most 2^22 on Linux: this pid cannot exist.
        let mut s = RealSignaller::default();
        assert_eq!(
            s.pin(i32::MAX as u32, None, None).unwrap_err(),
            Refusal::NoSuchProcess(i32::MAX as u32)
        );
    }

    #[test]
    fn real_signaller_reports_a_zombie_and_its_parent() {
        // A child of ours that exits and is not reaped yet is a zombie.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let f = loop {
            let f = facts(pid).unwrap();
            if f.stat.state == 'Z' || std::time::Instant::now() > deadline {
                break f;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let me = Me {
            pid: std::process::id(),
            pgid: None,
        };
        assert_eq!(
            guard(pid, &f, me),
            Err(Refusal::Zombie {
                pid,
                parent: std::process::id()
            })
        );
        child.wait().unwrap();
    }
}
