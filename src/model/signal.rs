//! Signals as values: which ones are offered, why one was not sent, and how one was sent.
//! Pure data shared by the live view, the command line and the OS layer that sends them.

use std::fmt;
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// The signals offered, in menu order; TERM first because it is the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "UPPERCASE")]
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
    /// Every signal, in menu order.
    pub fn all() -> impl Iterator<Item = Sig> {
        Sig::iter()
    }

    /// Its position in the menu (0-based).
    pub fn index(self) -> usize {
        Sig::iter().position(|s| s == self).unwrap_or(0)
    }

    /// The signal at a menu position, wrapping around.
    pub fn nth_wrapping(i: usize) -> Sig {
        let n = Sig::iter().count();
        Sig::iter().nth(i % n).unwrap_or(Sig::Term)
    }

    /// `TERM`, `KILL`, …
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Its number on Linux (`kill -l`).
    pub fn number(self) -> i32 {
        match self {
            Sig::Hup => 1,
            Sig::Int => 2,
            Sig::Quit => 3,
            Sig::Kill => 9,
            Sig::Usr1 => 10,
            Sig::Usr2 => 12,
            Sig::Term => 15,
            Sig::Cont => 18,
            Sig::Stop => 19,
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

    /// Signals after which a process is expected to exit, so the port is watched.
    pub fn terminates(self) -> bool {
        matches!(
            self,
            Sig::Term | Sig::Int | Sig::Quit | Sig::Kill | Sig::Hup
        )
    }

    /// A stopped (T) process only acts on these once it is continued: after sending one,
    /// CONT follows, as systemd does, so that it can exit. KILL needs no CONT.
    pub fn needs_cont_when_stopped(self) -> bool {
        matches!(self, Sig::Term | Sig::Int | Sig::Hup | Sig::Quit)
    }

    /// Parses `TERM`, `SIGTERM`, `term` or a Linux signal number.
    pub fn parse(s: &str) -> Option<Sig> {
        let up = s.to_ascii_uppercase();
        let name = up.strip_prefix("SIG").unwrap_or(&up);
        if let Ok(n) = name.parse::<i32>() {
            return Sig::iter().find(|sig| sig.number() == n);
        }
        Sig::iter().find(|sig| sig.name() == name)
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
    #[error(
        "refusing to signal pid {0}: it is in sockscope's own process group (started by the same shell job or script; start the server with `setsid`, or run sockscope from another terminal)"
    )]
    OwnGroup(u32),
    #[error("refusing to signal pid {0}: it is a kernel thread")]
    KernelThread(u32),
    #[error("refusing to signal {tid}: it is a thread of process {tgid}, not a process")]
    NotAProcess { tid: u32, tgid: u32 },
    #[error(
        "pid {pid} is a zombie: it has exited and cannot be killed; its parent {parent} must reap it"
    )]
    Zombie { pid: u32, parent: u32 },
    #[error("no such process: pid {0}")]
    NoSuchProcess(u32),
    #[error(
        "pid {0} exists but /proc hides it from you (mounted with hidepid): run as root to see and signal it"
    )]
    HiddenProcess(u32),
    #[error("pid {0} has exited")]
    Gone(u32),
    #[error("pid {0} is now a different process (its start time changed): nothing was sent")]
    Changed(u32),
    #[error(
        "pid {pid} no longer holds socket inode {inode} (it closed it, or the pid now belongs to another process): nothing was sent"
    )]
    NotHolder { pid: u32, inode: u64 },
    #[error("permission denied signalling pid {pid}: run as root or as user {owner}")]
    Permission { pid: u32, owner: String },
    #[error("cannot signal pid {pid}: {reason}")]
    Failed { pid: u32, reason: String },
}

/// How a signal was delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Through the pidfd opened when the target was chosen: no pid-reuse race.
    Pidfd,
    /// pidfd unavailable: `kill()` right after re-checking the start time.
    Kill,
}

/// What was sent to one target: the delivery, and whether CONT followed because the
/// target was stopped (state T) and could not act on the signal otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub delivery: Delivery,
    pub continued: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_and_numbers_parse() {
        assert_eq!(Sig::parse("term"), Some(Sig::Term));
        assert_eq!(Sig::parse("SIGKILL"), Some(Sig::Kill));
        assert_eq!(Sig::parse("9"), Some(Sig::Kill));
        assert_eq!(Sig::parse("15"), Some(Sig::Term));
        assert_eq!(Sig::parse("SIGWHAT"), None);
        assert_eq!(Sig::parse("-1"), None);
        assert_eq!(Sig::Usr1.to_string(), "SIGUSR1");
        for s in Sig::all() {
            assert_eq!(Sig::parse(s.name()), Some(s));
            assert_eq!(Sig::nth_wrapping(s.index()), s);
        }
        assert_eq!(Sig::nth_wrapping(9), Sig::Term);
    }

    #[test]
    fn stopped_targets_get_cont_after_the_polite_signals_only() {
        let with_cont: Vec<Sig> = Sig::all().filter(|s| s.needs_cont_when_stopped()).collect();
        assert_eq!(with_cont, vec![Sig::Term, Sig::Int, Sig::Hup, Sig::Quit]);
    }
}
