//! Sending signals safely (SPEC §4): pin the target by (pid, start time) and a pidfd,
//! refuse what must never be signalled, re-check on send, report in plain words.

use crate::collect::procs::{Stat, parse_stat};
use rustix::fd::OwnedFd;
use rustix::process::{Pid, PidfdFlags, Signal};
use std::fmt;
use std::io;

/// The signals offered, in menu order; TERM first because it is the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sig {
    Term,
    Int,
    Hup,
    Quit,
    Kill,
    Stop,
    Cont,
    Usr1,
    Usr2,
}

impl Sig {
    pub const ALL: [Sig; 9] = [
        Sig::Term,
        Sig::Int,
        Sig::Hup,
        Sig::Quit,
        Sig::Kill,
        Sig::Stop,
        Sig::Cont,
        Sig::Usr1,
        Sig::Usr2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Sig::Term => "TERM",
            Sig::Int => "INT",
            Sig::Hup => "HUP",
            Sig::Quit => "QUIT",
            Sig::Kill => "KILL",
            Sig::Stop => "STOP",
            Sig::Cont => "CONT",
            Sig::Usr1 => "USR1",
            Sig::Usr2 => "USR2",
        }
    }

    /// What it does, for the dialog.
    pub fn meaning(self) -> &'static str {
        match self {
            Sig::Term => "ask to terminate (default)",
            Sig::Int => "interrupt, like Ctrl-C",
            Sig::Hup => "hang up / reload",
            Sig::Quit => "quit with core dump",
            Sig::Kill => "kill now, cannot be caught",
            Sig::Stop => "suspend",
            Sig::Cont => "resume a suspended process",
            Sig::Usr1 => "user signal 1",
            Sig::Usr2 => "user signal 2",
        }
    }

    /// Parses `TERM`, `SIGTERM`, `term` or a number.
    pub fn parse(s: &str) -> Option<Sig> {
        let up = s.to_ascii_uppercase();
        let name = up.strip_prefix("SIG").unwrap_or(&up);
        if let Ok(n) = name.parse::<i32>() {
            return Sig::ALL.into_iter().find(|sig| sig.raw().as_raw() == n);
        }
        Sig::ALL.into_iter().find(|sig| sig.name() == name)
    }

    fn raw(self) -> Signal {
        match self {
            Sig::Term => Signal::TERM,
            Sig::Int => Signal::INT,
            Sig::Hup => Signal::HUP,
            Sig::Quit => Signal::QUIT,
            Sig::Kill => Signal::KILL,
            Sig::Stop => Signal::STOP,
            Sig::Cont => Signal::CONT,
            Sig::Usr1 => Signal::USR1,
            Sig::Usr2 => Signal::USR2,
        }
    }
}

impl fmt::Display for Sig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIG{}", self.name())
    }
}

/// Why a signal was not sent. Every variant is a message for a person, not a crash.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("pid {0} is not a valid process id")]
    InvalidPid(i64),
    #[error("refusing to signal pid 1 (init): it would take the whole system with it")]
    Init,
    #[error("refusing to signal sockscope itself")]
    OwnPid,
    #[error("refusing to signal pid {0}: it is in sockscope's own process group")]
    OwnGroup(u32),
    #[error("refusing to signal pid {0}: it is a kernel thread")]
    KernelThread(u32),
    #[error("refusing to signal {tid}: it is a thread of process {tgid}, not a process")]
    NotAProcess { tid: u32, tgid: u32 },
    #[error(
        "pid {pid} is a zombie: it has exited and cannot be killed; its parent {parent} must reap it"
    )]
    Zombie { pid: u32, parent: u32 },
    #[error("pid {0} has exited")]
    Gone(u32),
    #[error("pid {0} is now a different process (its start time changed): nothing was sent")]
    Changed(u32),
    #[error("permission denied signalling pid {pid}: run as root or as user {owner}")]
    Permission { pid: u32, owner: String },
    #[error("cannot signal pid {pid}: {reason}")]
    Failed { pid: u32, reason: String },
}

/// What the guards need to know about a pid; read from /proc by [`facts`], or made up
/// by tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub stat: Stat,
    /// Thread-group id from `/proc/PID/status`; differs from the pid for a thread.
    pub tgid: u32,
    pub pgid: Option<u32>,
}

/// Who we are, for the self-guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Me {
    pub pid: u32,
    pub pgid: u32,
}

impl Me {
    pub fn current() -> Me {
        Me {
            pid: rustix::process::getpid().as_raw_nonzero().get() as u32,
            pgid: rustix::process::getpgrp().as_raw_nonzero().get() as u32,
        }
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
    if facts.pgid == Some(me.pgid) {
        return Err(Refusal::OwnGroup(pid));
    }
    // A zombie with live threads is a process whose main thread exited: still alive.
    if facts.stat.state == 'Z' && facts.stat.threads <= 1 {
        return Err(Refusal::Zombie {
            pid,
            parent: facts.stat.ppid,
        });
    }
    Ok(())
}

/// Reads the guard facts of a pid from /proc.
pub fn facts(pid: u32) -> Result<Facts, Refusal> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).map_err(|_| Refusal::Gone(pid))?;
    let stat = parse_stat(&stat).ok_or(Refusal::Gone(pid))?;
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|_| Refusal::Gone(pid))?;
    let tgid = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(Refusal::Gone(pid))?;
    let pgid = Pid::from_raw(pid as i32)
        .and_then(|p| rustix::process::getpgid(Some(p)).ok())
        .map(|g| g.as_raw_nonzero().get() as u32);
    Ok(Facts { stat, tgid, pgid })
}

/// A process chosen as a target: its identity when chosen, and a pidfd that keeps
/// referring to exactly that process even if the pid is reused.
#[derive(Debug)]
pub struct Target {
    pub pid: u32,
    pub start_ticks: u64,
    pidfd: Option<OwnedFd>,
}

impl Target {
    /// A target known only by identity, without a pidfd: signals to it go through
    /// `kill()` after the start-time check. Also what test signallers hand out.
    pub fn without_pidfd(pid: u32, start_ticks: u64) -> Target {
        Target {
            pid,
            start_ticks,
            pidfd: None,
        }
    }
}

/// How a signal was delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Through the pidfd opened when the target was chosen: no pid-reuse race.
    Pidfd,
    /// pidfd unavailable: `kill()` right after re-checking the start time.
    Kill,
}

/// Chooses and sends; a trait so tests can record instead of signalling.
pub trait Signaller {
    /// Pins `pid`, which must still have `start_ticks` (what the user saw); `None` takes
    /// the process that has the pid now.
    fn pin(&mut self, pid: u32, start_ticks: Option<u64>) -> Result<Target, Refusal>;
    /// Re-checks the pinned identity and sends.
    fn send(&mut self, target: &Target, sig: Sig) -> Result<Delivery, Refusal>;
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

impl Signaller for RealSignaller {
    fn pin(&mut self, pid: u32, start_ticks: Option<u64>) -> Result<Target, Refusal> {
        let pid = check_pid(i64::from(pid), self.me)?;
        let f = facts(pid)?;
        guard(pid, &f, self.me)?;
        let start_ticks = start_ticks.unwrap_or(f.stat.start_ticks);
        if f.stat.start_ticks != start_ticks {
            return Err(Refusal::Changed(pid));
        }
        let raw = Pid::from_raw(pid as i32).ok_or(Refusal::InvalidPid(i64::from(pid)))?;
        let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::empty()).ok();
        // The pidfd was opened after the check: check once more that it is the same process.
        if facts(pid)?.stat.start_ticks != start_ticks {
            return Err(Refusal::Changed(pid));
        }
        Ok(Target {
            pid,
            start_ticks,
            pidfd,
        })
    }

    fn send(&mut self, target: &Target, sig: Sig) -> Result<Delivery, Refusal> {
        let pid = target.pid;
        let f = facts(pid)?;
        guard(pid, &f, self.me)?;
        if f.stat.start_ticks != target.start_ticks {
            return Err(Refusal::Changed(pid));
        }
        let (result, how) = match &target.pidfd {
            Some(fd) => (
                rustix::process::pidfd_send_signal(fd, sig.raw()),
                Delivery::Pidfd,
            ),
            None => {
                let raw = Pid::from_raw(pid as i32).ok_or(Refusal::InvalidPid(i64::from(pid)))?;
                (
                    rustix::process::kill_process(raw, sig.raw()),
                    Delivery::Kill,
                )
            }
        };
        result.map(|()| how).map_err(|e| errno_refusal(pid, e))
    }
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
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata(format!("/proc/{pid}")).ok()?.uid();
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
        pgid: 4000,
    };

    fn facts_for(pid: u32) -> Facts {
        Facts {
            stat: Stat {
                state: 'S',
                ppid: 10,
                session: 10,
                threads: 1,
                start_ticks: 99,
                kernel_thread: false,
            },
            tgid: pid,
            pgid: Some(pid),
        }
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
        let group = Facts {
            pgid: Some(4000),
            ..facts_for(4242)
        };
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

    #[test]
    fn signal_names_parse() {
        assert_eq!(Sig::parse("term"), Some(Sig::Term));
        assert_eq!(Sig::parse("SIGKILL"), Some(Sig::Kill));
        assert_eq!(Sig::parse("9"), Some(Sig::Kill));
        assert_eq!(Sig::parse("15"), Some(Sig::Term));
        assert_eq!(Sig::parse("SIGWHAT"), None);
        assert_eq!(Sig::Usr1.to_string(), "SIGUSR1");
    }

    #[test]
    fn real_signaller_refuses_our_own_pid_and_a_thread_id() {
        let mut s = RealSignaller::default();
        let me = std::process::id();
        assert_eq!(s.pin(me, None).unwrap_err(), Refusal::OwnPid);
        assert_eq!(s.pin(1, None).unwrap_err(), Refusal::Init);
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
            s.pin(tid, None).unwrap_err(),
            Refusal::NotAProcess { tid, tgid: me }
        );
        done_tx.send(()).unwrap();
        t.join().unwrap();
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
            pgid: u32::MAX,
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
