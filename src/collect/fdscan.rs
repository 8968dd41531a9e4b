//! Reading `/proc` for the owner map: one pid's fd table (and its threads' when its main
//! thread has exited), its start time, and which pid namespace we are in. Every read that
//! races with an exiting process just yields nothing.

use crate::model::stat::{Stat, main_thread_exited, parse_stat};
use rustix::fd::OwnedFd;
use rustix::fs::{Dir, Mode, OFlags, openat, readlinkat_raw};
use std::io::Write as _;
use std::mem::MaybeUninit;

/// One pid to read: the buffers its previous inodes and fd numbers were in (reused), and
/// the (fd, inode) pairs that may be taken as still true without reading their links.
pub(super) struct Job {
    pub pid: u32,
    pub inodes: Vec<Ino>,
    pub fds: Vec<u32>,
    pub keep: Vec<(u32, Ino)>,
}

/// Below this many fds in total a walk stays on the calling thread.
pub(super) const PARALLEL_MIN_FDS: i64 = 2048;

/// What one pid's fd table held.
pub(super) struct PidRead {
    pub pid: u32,
    pub readable: bool,
    pub via_tasks: bool,
    pub inodes: Vec<Ino>,
    /// The fd number of each of `inodes` (same order); empty when read via its tasks.
    pub fds: Vec<u32>,
    /// Links read.
    pub links: usize,
    /// The inodes of the entries of `keep` still listed, taken without reading their
    /// links; sorted.
    pub kept_inodes: Vec<Ino>,
}

/// Reads one pid's socket inodes (the job's buffers are cleared first and reused).
/// An fd listed in `job.keep` with its number is taken to hold the same socket without
/// its link being read: the caller keeps there only sockets that are still in the dump
/// and that this same process (pid and start time) alone held at the last read.
pub(super) fn read_pid(proc: &OwnedFd, link: &mut [MaybeUninit<u8>], job: Job) -> PidRead {
    let Job {
        pid,
        mut inodes,
        mut fds,
        keep,
    } = job;
    inodes.clear();
    fds.clear();
    let mut path = Vec::with_capacity(32);
    let _ = write!(path, "{pid}/fd");
    let mut kept_inodes = Vec::new();
    let mut out = Found {
        inodes: &mut inodes,
        fds: Some(&mut fds),
        keep: &keep,
        kept_inodes: &mut kept_inodes,
    };
    let (readable, count) = read_fd_dir(proc, &path, link, &mut out);
    kept_inodes.sort_unstable();
    let mut r = PidRead {
        pid,
        readable,
        via_tasks: false,
        inodes,
        fds,
        links: count - kept_inodes.len(),
        kept_inodes,
    };
    if readable && count == 0 && main_thread_gone(proc, pid) {
        // The leader exited with pthread_exit: its fds live on under task/TID/fd.
        r.via_tasks = true;
        r.fds.clear();
        path.clear();
        let _ = write!(path, "{pid}/task");
        let tasks = openat(
            proc,
            path.as_slice(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .inspect_err(|e| super::note_open_error(*e));
        if let Ok(tasks) = tasks
            && let Ok(mut dir) = Dir::read_from(&tasks).inspect_err(|e| super::note_open_error(*e))
        {
            while let Some(Ok(entry)) = dir.read() {
                let Some(tid) = parse_u32(entry.file_name().to_bytes()) else {
                    continue;
                };
                path.clear();
                let _ = write!(path, "{tid}/fd");
                let mut unused = Vec::new();
                let mut out = Found {
                    inodes: &mut r.inodes,
                    fds: None,
                    keep: &[],
                    kept_inodes: &mut unused,
                };
                let (_, n) = read_fd_dir(&tasks, &path, link, &mut out);
                r.links += n;
            }
        }
        r.inodes.sort_unstable();
        r.inodes.dedup();
    }
    r
}

/// Where [`read_fd_dir`] puts what it finds.
pub(super) struct Found<'a> {
    pub inodes: &'a mut Vec<Ino>,
    /// The fd number of each inode, when wanted.
    pub fds: Option<&'a mut Vec<u32>>,
    /// (fd, inode) pairs taken as they are when the fd is listed, sorted by fd.
    pub keep: &'a [(u32, Ino)],
    pub kept_inodes: &'a mut Vec<Ino>,
}

impl Found<'_> {
    fn push(&mut self, fd: Option<u32>, inode: Ino) {
        self.inodes.push(inode);
        if let Some(fds) = self.fds.as_deref_mut() {
            fds.push(fd.unwrap_or(u32::MAX));
        }
    }
}

/// Reads the socket inodes of one fd directory. Returns (readable, entries seen).
pub(super) fn read_fd_dir(
    base: &OwnedFd,
    path: &[u8],
    link: &mut [MaybeUninit<u8>],
    out: &mut Found<'_>,
) -> (bool, usize) {
    let fd = match openat(
        base,
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            super::note_open_error(e);
            return (
                e != rustix::io::Errno::ACCESS && e != rustix::io::Errno::PERM,
                0,
            );
        }
    };
    let mut dir = match Dir::read_from(&fd) {
        Ok(d) => d,
        Err(e) => {
            super::note_open_error(e);
            return (true, 0);
        }
    };
    let mut seen = 0;
    while let Some(Ok(entry)) = dir.read() {
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        seen += 1;
        let number = parse_u32(name.to_bytes());
        if let Some(n) = number
            && let Ok(at) = out.keep.binary_search_by_key(&n, |k| k.0)
        {
            let inode = out.keep[at].1;
            out.kept_inodes.push(inode);
            out.push(number, inode);
            continue;
        }
        // A vanished fd (closed mid-walk) is simply skipped.
        if let Ok((target, _)) = readlinkat_raw(&fd, name, &mut *link)
            && let Some(inode) = socket_inode(target)
        {
            out.push(number, inode);
        }
    }
    (true, seen)
}

/// A socket's inode number. Sockets get theirs from the kernel's `get_next_ino()`, an
/// `unsigned int`: 4 bytes, where a `u64` would add 12 MB to the owner maps at 500k
/// sockets.
pub(super) type Ino = u32;

/// A socket's inode as the owner maps keep it; `None` for 0 (no file).
pub(super) fn ino(inode: u32) -> Option<Ino> {
    Some(inode).filter(|&i| i != 0)
}

/// Parses `socket:[12345]`.
pub(super) fn socket_inode(link: &[u8]) -> Option<Ino> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

pub(super) fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `/proc/PID/stat` of one pid, parsed; `None` when it exited or is unreadable.
pub(super) fn read_stat(proc: &OwnedFd, pid: u32, path: &mut Vec<u8>) -> Option<Stat> {
    path.clear();
    let _ = write!(path, "{pid}/stat");
    let fd = openat(
        proc,
        path.as_slice(),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .inspect_err(|e| super::note_open_error(*e))
    .ok()?;
    let mut buf = [0u8; 1024];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    parse_stat(&buf[..n])
}

/// The start time of the process that has `pid` now.
pub(super) fn start_ticks(proc: &OwnedFd, pid: u32, path: &mut Vec<u8>) -> Option<u64> {
    read_stat(proc, pid, path).map(|st| st.start_ticks)
}

/// True when the pid is a zombie leader with live threads (state Z, more than one thread).
pub(super) fn main_thread_gone(proc: &OwnedFd, pid: u32) -> bool {
    read_stat(proc, pid, &mut Vec::with_capacity(32))
        .is_some_and(|st| main_thread_exited(st.state, st.threads))
}

/// The initial pid namespace has a fixed inode number (`PROC_PID_INIT_INO`); any other
/// means sockscope runs in a nested one and cannot see processes above it.
pub(super) fn in_initial_pid_namespace() -> bool {
    const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
    std::fs::read_link("/proc/self/ns/pid")
        .map(|l| l.as_os_str() == format!("pid:[{PROC_PID_INIT_INO}]").as_str())
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_socket_links() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"socket:[4294967296]"), None);
        assert_eq!(ino(0), None);
        assert_eq!(ino(7), Some(7));
        assert_eq!(parse_u32(b"self"), None);
        assert_eq!(parse_u32(b"42"), Some(42));
    }

    proptest! {
        /// Any link target: a socket inode or nothing, never a panic.
        #[test]
        fn any_link_target_parses_or_not(b in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = socket_inode(&b);
            let _ = parse_u32(&b);
        }

        #[test]
        fn socket_links_round_trip(n in any::<u32>()) {
            prop_assert_eq!(socket_inode(format!("socket:[{n}]").as_bytes()), Some(n));
        }
    }
}
