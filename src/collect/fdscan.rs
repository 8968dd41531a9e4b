//! Reading `/proc` for the owner map: one pid's fd table (and its threads' when its main
//! thread has exited), its start time, and which pid namespace we are in. Every read that
//! races with an exiting process just yields nothing.

use crate::model::stat::{Stat, main_thread_exited, parse_stat};
use rustix::fd::OwnedFd;
use rustix::fs::{Dir, Mode, OFlags, openat, readlinkat_raw};
use std::io::Write as _;
use std::mem::MaybeUninit;

/// One pid to read, with the buffer its previous inodes were in (reused).
pub(super) type Job = (u32, Vec<u64>);

/// Below this many fds in total a walk stays on the calling thread.
pub(super) const PARALLEL_MIN_FDS: i64 = 2048;

/// What one pid's fd table held.
pub(super) struct PidRead {
    pub pid: u32,
    pub readable: bool,
    pub via_tasks: bool,
    pub inodes: Vec<u64>,
    pub links: usize,
}

/// Reads one pid's socket inodes into `inodes` (cleared first; its allocation is reused).
pub(super) fn read_pid(
    proc: &OwnedFd,
    pid: u32,
    link: &mut [MaybeUninit<u8>],
    mut inodes: Vec<u64>,
) -> PidRead {
    inodes.clear();
    let mut path = Vec::with_capacity(32);
    let _ = write!(path, "{pid}/fd");
    let (readable, count) = read_fd_dir(proc, &path, link, &mut inodes);
    let mut r = PidRead {
        pid,
        readable,
        via_tasks: false,
        inodes,
        links: count,
    };
    if readable && count == 0 && main_thread_gone(proc, pid) {
        // The leader exited with pthread_exit: its fds live on under task/TID/fd.
        r.via_tasks = true;
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
                let (_, n) = read_fd_dir(&tasks, &path, link, &mut r.inodes);
                r.links += n;
            }
        }
        r.inodes.sort_unstable();
        r.inodes.dedup();
    }
    r
}

/// Reads the socket inodes of one fd directory. Returns (readable, entries seen).
pub(super) fn read_fd_dir(
    base: &OwnedFd,
    path: &[u8],
    link: &mut [MaybeUninit<u8>],
    out: &mut Vec<u64>,
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
        // A vanished fd (closed mid-walk) is simply skipped.
        if let Ok((target, _)) = readlinkat_raw(&fd, name, &mut *link)
            && let Some(inode) = socket_inode(target)
        {
            out.push(inode);
        }
    }
    (true, seen)
}

/// Parses `socket:[12345]`.
pub(super) fn socket_inode(link: &[u8]) -> Option<u64> {
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
        fn socket_links_round_trip(n in any::<u64>()) {
            prop_assert_eq!(socket_inode(format!("socket:[{n}]").as_bytes()), Some(n));
        }
    }
}
