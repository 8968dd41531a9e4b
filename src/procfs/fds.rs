//! Which sockets a process holds, from its fd table (and its threads' when its main
//! thread has exited): one reader for the owner walk and the holder check of signals.
//! Every read that races with an exiting process just yields nothing.

use super::{FdShortage, ProcSource};
use rustix::fd::OwnedFd;
use rustix::fs::{Dir, readlinkat_raw};
use std::mem::MaybeUninit;

/// A socket's inode number. Sockets get theirs from the kernel's `get_next_ino()`, an
/// `unsigned int`: 4 bytes, where a `u64` would add 12 MB to the owner maps at 500k
/// sockets.
pub type Ino = u32;

/// A socket's inode as the owner maps keep it; `None` for 0 (no file).
pub fn ino(inode: u32) -> Option<Ino> {
    Some(inode).filter(|&i| i != 0)
}

/// Parses `socket:[12345]`.
pub fn socket_inode(link: &[u8]) -> Option<Ino> {
    let digits = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// A directory entry's name as a pid or fd number.
pub fn parse_u32(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// The fd tables of one process: its own, and each thread's.
pub trait FdTables {
    /// Reads the socket links of the process's fd directory (`task` `None`) or of one
    /// thread's, into `out`.
    fn read_fd_dir(
        &self,
        task: Option<u32>,
        link: &mut [MaybeUninit<u8>],
        out: &mut Found<'_>,
    ) -> FdDir;
    /// Its thread ids.
    fn task_ids(&self) -> Vec<u32>;
    /// State Z with live threads: the main thread exited (`pthread_exit`), its fds live
    /// on under `task/TID/fd`.
    fn main_thread_exited(&self) -> bool;
}

/// What reading one fd directory gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdDir {
    /// False when the table is not readable for us (EACCES, EPERM).
    pub readable: bool,
    /// Entries seen.
    pub seen: usize,
}

/// Where [`read_socket_fds`] puts what it finds.
pub struct Found<'a> {
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

/// What one process's fd tables held, besides the inodes put in [`Found`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdRead {
    pub readable: bool,
    /// Read from its threads' tables (its main thread has exited).
    pub via_tasks: bool,
    /// Links read (entries taken from `keep` are not).
    pub links: usize,
}

/// Reads the socket inodes a process holds. An fd listed in `out.keep` with its number
/// is taken to hold the same socket without its link being read. When the process's own
/// table is empty because its main thread has exited, every thread's table is read
/// instead: then the inodes are sorted and deduplicated, and no fd numbers are given.
pub fn read_socket_fds<T: FdTables + ?Sized>(
    p: &T,
    link: &mut [MaybeUninit<u8>],
    out: &mut Found<'_>,
) -> FdRead {
    let own = p.read_fd_dir(None, link, out);
    out.kept_inodes.sort_unstable();
    let mut r = FdRead {
        readable: own.readable,
        via_tasks: false,
        links: own.seen - out.kept_inodes.len(),
    };
    if own.readable && own.seen == 0 && p.main_thread_exited() {
        r.via_tasks = true;
        if let Some(fds) = out.fds.as_deref_mut() {
            fds.clear();
        }
        for tid in p.task_ids() {
            let mut unused = Vec::new();
            let mut task_out = Found {
                inodes: out.inodes,
                fds: None,
                keep: &[],
                kept_inodes: &mut unused,
            };
            r.links += p.read_fd_dir(Some(tid), link, &mut task_out).seen;
        }
        out.inodes.sort_unstable();
        out.inodes.dedup();
    }
    r
}

/// Reads the socket links of one open fd directory. Returns (readable, entries seen).
pub(super) fn read_fd_dir(
    fd: &OwnedFd,
    link: &mut [MaybeUninit<u8>],
    out: &mut Found<'_>,
    shortage: &FdShortage,
) -> FdDir {
    let mut dir = match Dir::read_from(fd) {
        Ok(d) => d,
        Err(e) => {
            shortage.note(e);
            return FdDir {
                readable: true,
                seen: 0,
            };
        }
    };
    let mut seen = 0;
    // Listing the table can be allowed while reading its links is not (a non-dumpable
    // process under a security module refuses even root): then what it holds is
    // unknown, and the table counts as unreadable.
    let mut denied = false;
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
        match readlinkat_raw(fd, name, &mut *link) {
            Ok((target, _)) => {
                if let Some(inode) = socket_inode(target) {
                    out.push(number, inode);
                }
            }
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => denied = true,
            Err(_) => {}
        }
    }
    FdDir {
        readable: !denied,
        seen,
    }
}

/// What a fresh read of one process's fd tables says about one socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Holds {
    Yes,
    No,
    /// Its fd table is not readable for us.
    Unreadable,
    /// No process has the pid, or it exited while it was read.
    Gone,
    /// The pid belongs to a process with another start time.
    Changed,
}

/// Does the process `pid` that started at `start_ticks` hold socket `inode` now? One
/// pinned handle: the start time and the fd tables are read through it, so the answer
/// is about that very process, never about a newcomer with the same pid.
pub fn holds(src: &dyn ProcSource, pid: u32, start_ticks: u64, inode: u64) -> Holds {
    let Ok(p) = src.open(pid) else {
        return Holds::Gone;
    };
    match p.stat() {
        Ok(st) if st.start_ticks == start_ticks => {}
        Ok(_) => return Holds::Changed,
        Err(_) => return Holds::Gone,
    }
    let (mut inodes, mut kept) = (Vec::new(), Vec::new());
    let mut out = Found {
        inodes: &mut inodes,
        fds: None,
        keep: &[],
        kept_inodes: &mut kept,
    };
    let mut link = [MaybeUninit::uninit(); 64];
    let read = read_socket_fds(&*p, &mut link, &mut out);
    // A process that exited during the read left an empty table behind.
    if p.stat().is_err() {
        return Holds::Gone;
    }
    if !read.readable {
        return Holds::Unreadable;
    }
    match Ino::try_from(inode) {
        Ok(i) if inodes.contains(&i) => Holds::Yes,
        _ => Holds::No,
    }
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
