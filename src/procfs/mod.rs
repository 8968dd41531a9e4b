//! The one door to `/proc`: every read of it in sockscope goes through here.
//!
//! A process is read through a handle that pins it: [`ProcSource::open`] opens
//! `/proc/PID` once as a directory fd and every read of that process (stat, status,
//! cmdline, environ, comm, cgroup, namespaces, exe, cwd, fd tables, children) is made
//! relative to it. The directory fd refers to the process it was opened for, not to the
//! pid: once that process has exited and been reaped, every read through it fails, even
//! when a new process already has the same pid. A single file read by pid
//! ([`ProcSource::read`], [`ProcSource::stat`]) pins nothing and is one open, for the
//! reads that carry their own identity (a stat line holds the start time) or need none.
//!
//! The owner walk reads every process's fd table once a second: it keeps its fast path,
//! reads relative to one `/proc` directory fd ([`ProcFs::fd_table_meta`],
//! [`ProcFs::start_ticks`], [`ProcFs::pid`]) and checks identity by start time itself.
//! Its fd-table read and the holder check share [`fds::read_socket_fds`].
//!
//! Every open that fails for want of file descriptors (EMFILE, ENFILE) is noted in the
//! [`FdShortage`] the reader was made with, so a snapshot can say it is incomplete
//! instead of showing a half-read table. System-wide files (`/proc/net/sockstat`, the
//! local port range, our own status) are read here too ([`read_system`]), so that no
//! other module names a `/proc` path. Parsing of what is read stays with the callers
//! and in `model`.

#[cfg(test)]
pub mod fake;
pub mod fds;
#[cfg(test)]
mod tests;

mod real;
mod system;

pub use fds::{FdDir, FdTables, Found, Holds, Ino, holds, ino, parse_u32, read_socket_fds};
pub use real::{PidView, ProcFs};
pub use system::{SystemFile, listable, read_system};

use crate::model::stat::{Stat, Status, parse_stat, parse_status};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes of a stat line read at most (a real one is about 300).
const STAT_MAX: u64 = 4096;

/// Set when an open failed for want of file descriptors (EMFILE, ENFILE). Shared by the
/// readers of one collector (the owner walk, process details, namespaces), which may
/// run on several threads during a snapshot; the collector checks and clears it.
#[derive(Clone, Debug, Default)]
pub struct FdShortage(Arc<AtomicBool>);

impl FdShortage {
    /// Notes an errno from an open: EMFILE and ENFILE mark the snapshot as incomplete.
    pub fn note(&self, e: Errno) {
        if e == Errno::MFILE || e == Errno::NFILE {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// [`FdShortage::note`] for a std error.
    pub fn note_io(&self, e: &io::Error) {
        if let Some(code) = e.raw_os_error() {
            self.note(Errno::from_raw_os_error(code));
        }
    }

    /// Whether fds ran out since the last call; clears the mark.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }
}

/// A file of `/proc/PID` read whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PidFile {
    Stat,
    Status,
    Comm,
    Cmdline,
    Environ,
    Cgroup,
    /// `task/PID/children`: the main thread's children.
    Children,
}

impl PidFile {
    fn name(self) -> &'static str {
        match self {
            PidFile::Stat => "stat",
            PidFile::Status => "status",
            PidFile::Comm => "comm",
            PidFile::Cmdline => "cmdline",
            PidFile::Environ => "environ",
            PidFile::Cgroup => "cgroup",
            PidFile::Children => "children",
        }
    }
}

/// A namespace of a process (`/proc/PID/ns/…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ns {
    Net,
    Pid,
    /// The user namespace: who owns the namespaces a process makes.
    User,
}

impl Ns {
    fn path(self) -> &'static str {
        match self {
            Ns::Net => "ns/net",
            Ns::Pid => "ns/pid",
            Ns::User => "ns/user",
        }
    }
}

/// Owner and mode of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMeta {
    pub uid: u32,
    pub mode: u32,
}

/// One process, pinned: every read is of the process the handle was opened for, or
/// fails (ESRCH, ENOENT) once it has exited.
pub trait Proc: FdTables + Send + Sync {
    fn pid(&self) -> u32;
    /// A file of the process, at most `limit` bytes of it.
    fn read(&self, file: PidFile, limit: u64) -> io::Result<Vec<u8>>;
    /// Where `exe` points (the program's path as the kernel gives it).
    fn exe(&self) -> io::Result<PathBuf>;
    /// Owner and mode of the very file the kernel runs (`stat` through `exe`: the file,
    /// even when renamed).
    fn exe_meta(&self) -> io::Result<FileMeta>;
    /// Where `cwd` points.
    fn cwd(&self) -> io::Result<PathBuf>;
    /// The inode of one of its namespaces.
    fn ns_inode(&self, ns: Ns) -> io::Result<u64>;
    /// A handle on one of its namespaces, to enter it (`setns`).
    fn ns_file(&self, ns: Ns) -> io::Result<OwnedFd>;
    /// The owner of its `/proc/PID` directory: its effective uid, or root when it made
    /// itself non-dumpable.
    fn owner(&self) -> io::Result<u32>;

    /// Its stat line, parsed.
    fn stat(&self) -> io::Result<Stat> {
        parse_stat(&self.read(PidFile::Stat, STAT_MAX)?).ok_or_else(unparsable)
    }

    /// Its status, parsed (real uid, thread-group id).
    fn status(&self) -> io::Result<Status> {
        let text = self.read(PidFile::Status, u64::MAX)?;
        Ok(parse_status(&String::from_utf8_lossy(&text)))
    }

    /// Its command name, as the file has it (with the newline); not UTF-8 is an error.
    fn comm(&self) -> io::Result<String> {
        String::from_utf8(self.read(PidFile::Comm, u64::MAX)?).map_err(|_| unparsable())
    }

    /// The pids of its main thread's children; empty when unreadable.
    fn children(&self) -> Vec<u32> {
        let text = self.read(PidFile::Children, u64::MAX).unwrap_or_default();
        String::from_utf8_lossy(&text)
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect()
    }
}

/// Where processes are read from: the real `/proc` ([`ProcFs`]) or a fake in tests.
pub trait ProcSource: Send + Sync {
    /// Pins `pid`: reads through the handle are of this process or fail.
    fn open(&self, pid: u32) -> io::Result<Box<dyn Proc>>;
    /// The inode of one of our own namespaces.
    fn own_ns_inode(&self, ns: Ns) -> io::Result<u64>;

    /// One file of `pid`, read by pid (nothing pinned: one open).
    fn read(&self, pid: u32, file: PidFile, limit: u64) -> io::Result<Vec<u8>> {
        self.open(pid)?.read(file, limit)
    }

    /// The stat line of `pid`, parsed; it carries the start time, so who was read is known.
    fn stat(&self, pid: u32) -> io::Result<Stat> {
        parse_stat(&self.read(pid, PidFile::Stat, STAT_MAX)?).ok_or_else(unparsable)
    }

    /// The command name of `pid` (with the newline); not UTF-8 is an error.
    fn comm(&self, pid: u32) -> io::Result<String> {
        String::from_utf8(self.read(pid, PidFile::Comm, u64::MAX)?).map_err(|_| unparsable())
    }

    /// Whether `pid` is in /proc now.
    fn exists(&self, pid: u32) -> bool {
        self.open(pid).is_ok()
    }

    /// The inode of a namespace of `pid`.
    fn ns_inode(&self, pid: u32, ns: Ns) -> io::Result<u64> {
        self.open(pid)?.ns_inode(ns)
    }
}

fn unparsable() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, "unexpected content in /proc")
}
