//! Which sockets a process holds, from its fd table (and its threads' when its main
//! thread has exited): one reader for the owner walk and the holder check of signals.
//! Every read that races with an exiting process just yields nothing.

use super::ProcSource;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{RawDir, readlinkat_raw};
use std::ffi::CStr;
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
    /// Open fds found (those taken from `keep` included).
    pub seen: usize,
    /// Links read, or tried: a probed number that held nothing counts.
    pub links: usize,
    /// Where the table's dense start ends: the next read may probe below it (see
    /// [`Density`]); 0 when no start is dense enough.
    pub dense_top: u32,
    /// The table was probed (see [`read_fd_dir`]).
    pub probed: bool,
}

impl FdDir {
    /// A table that reads as empty: readable, nothing in it (the process is gone).
    pub const EMPTY: FdDir = FdDir {
        readable: true,
        seen: 0,
        links: 0,
        dense_top: 0,
        probed: false,
    };
}

/// Finds the end of a table's dense start from its fd numbers seen in ascending order:
/// the number below which probing costs least against listing. Listing costs the kernel
/// about 1 µs an open fd; probing, one failed lookup (a little more) for each free
/// number; every other link is read either way. So the end chosen is the one where the
/// open fds below it outnumber twice the free numbers the most. The kernel hands out the
/// lowest free number, so most tables are dense up to a few outliers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Density {
    open: u32,
    best: i64,
    top: u32,
}

impl Density {
    /// Notes the next open fd number (ascending).
    pub fn saw(&mut self, n: u32) {
        self.open += 1;
        let end = n.saturating_add(1);
        let free = end.saturating_sub(self.open);
        let score = i64::from(self.open) - 2 * i64::from(free);
        if score > self.best {
            self.best = score;
            self.top = end;
        }
    }

    /// The end of the dense start; 0 when there is none.
    pub fn top(&self) -> u32 {
        self.top
    }
}

/// Where [`read_socket_fds`] puts what it finds.
pub struct Found<'a> {
    pub inodes: &'a mut Vec<Ino>,
    /// The fd number of each inode, when wanted.
    pub fds: Option<&'a mut Vec<u32>>,
    /// (fd, inode) pairs taken as they are without their links read, sorted by fd: when
    /// the fd is listed, or, below `probe_below`, at once.
    pub keep: &'a [(u32, Ino)],
    pub kept_inodes: &'a mut Vec<Ino>,
    /// The own table's fd numbers below this are not listed but probed, one link read
    /// each (`keep`'s numbers excepted); the listing starts there. 0: list it all. See
    /// [`read_fd_dir`].
    pub probe_below: u32,
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
    /// Links read or tried (entries taken from `keep` are not).
    pub links: usize,
    /// Where the own table's dense start ends (the next read probes below it).
    pub dense_top: u32,
    /// The own table was probed.
    pub probed: bool,
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
        links: own.links,
        dense_top: own.dense_top,
        probed: own.probed,
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
                probe_below: 0,
            };
            r.links += p.read_fd_dir(Some(tid), link, &mut task_out).links;
        }
        out.inodes.sort_unstable();
        out.inodes.dedup();
    }
    r
}

/// Reads the socket links of one open fd directory (of process `pid`, when it is a
/// process's own table).
///
/// Numbers below `out.probe_below` are probed instead of listed, and the directory is
/// listed only from there on (a /proc fd directory's offset is the fd number + 2). A
/// listing costs the kernel a locked dentry lookup for every open fd. A probe reads the
/// link of each number outside `keep` (which a listing does for every open fd outside
/// `keep` anyway), and asks only whether each of `keep`'s numbers is still open, the one
/// thing a listing tells of them: with kcmp(2), which looks in the fd table itself, at a
/// third of a lookup's cost (where kcmp is refused, their links are read too). It costs
/// a failed lookup for each free number, so the owner walk probes a table only up to
/// where it was dense at its last read ([`FdDir::dense_top`]). The caller checks that
/// `pid` is still the same process after the read (kcmp names it by number).
pub(super) fn read_fd_dir(
    fd: OwnedFd,
    pid: Option<u32>,
    link: &mut [MaybeUninit<u8>],
    out: &mut Found<'_>,
) -> FdDir {
    let mut r = FdDir::EMPTY;
    let mut density = Density::default();
    // The listing's start first: where the seek fails, the table is listed in full.
    let from = u64::from(out.probe_below) + 2;
    if let Some(pid) = pid.filter(|_| out.probe_below > 0)
        && rustix::fs::seek(&fd, rustix::fs::SeekFrom::Start(from)).is_ok()
    {
        probe(&fd, pid, link, out, &mut r, &mut density);
        r.probed = true;
    }
    list(&fd, link, out, &mut r, &mut density);
    r.dense_top = density.top();
    r
}

/// The probe of [`read_fd_dir`]: the numbers below `out.probe_below` (the listing of
/// the rest follows); adds to `r` and `density`.
fn probe(
    fd: &OwnedFd,
    pid: u32,
    link: &mut [MaybeUninit<u8>],
    out: &mut Found<'_>,
    r: &mut FdDir,
    density: &mut Density,
) {
    let mut keep = out.keep.iter().peekable();
    let mut name = FdName::default();
    // Until kcmp says it cannot tell (refused by a seccomp filter or a security module,
    // or not built in): then the kept numbers' links are read like the others'.
    let mut kcmp = true;
    for n in 0..out.probe_below {
        while keep.next_if(|k| k.0 < n).is_some() {}
        if let Some(&&(_, inode)) = keep.peek().filter(|k| k.0 == n && kcmp) {
            keep.next();
            match fd_open(pid, n) {
                Some(true) => {
                    out.kept_inodes.push(inode);
                    out.push(Some(n), inode);
                    r.seen += 1;
                    density.saw(n);
                    continue;
                }
                Some(false) => continue,
                None => kcmp = false,
            }
        }
        r.links += 1;
        match readlinkat_raw(fd, name.of(n), &mut *link) {
            Ok((target, _)) => {
                r.seen += 1;
                density.saw(n);
                if let Some(inode) = socket_inode(target) {
                    out.push(Some(n), inode);
                }
            }
            // Listing the table can be allowed while reading its links is not (a
            // non-dumpable process under a security module refuses even root): then
            // what it holds is unknown, and the table counts as unreadable.
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => r.readable = false,
            // Nothing at this number (or it closed as it was read).
            Err(_) => {}
        }
    }
}

/// Lists the fd directory from its current offset, reading the link of every fd not in
/// `keep`; adds to `r` and `density`.
fn list(
    fd: &OwnedFd,
    link: &mut [MaybeUninit<u8>],
    out: &mut Found<'_>,
    r: &mut FdDir,
    density: &mut Density,
) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 8192];
    let mut dir = RawDir::new(fd.as_fd(), &mut buf);
    // The process exited mid-read: what was read stands.
    while let Some(Ok(entry)) = dir.next() {
        let name = entry.file_name();
        if name.to_bytes().first() == Some(&b'.') {
            continue;
        }
        r.seen += 1;
        let number = parse_u32(name.to_bytes());
        if let Some(n) = number {
            density.saw(n);
        }
        if let Some(n) = number
            && let Ok(at) = out.keep.binary_search_by_key(&n, |k| k.0)
        {
            let inode = out.keep[at].1;
            out.kept_inodes.push(inode);
            out.push(number, inode);
            continue;
        }
        r.links += 1;
        // A vanished fd (closed mid-walk) is simply skipped.
        match readlinkat_raw(fd, name, &mut *link) {
            Ok((target, _)) => {
                if let Some(inode) = socket_inode(target) {
                    out.push(number, inode);
                }
            }
            // See `probe`.
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => r.readable = false,
            Err(_) => {}
        }
    }
}

/// Whether fd `n` of process `pid` is open: kcmp(2) of the fd with itself, 0 when it
/// is open, EBADF when not; None when kcmp cannot tell (the process is gone, or kcmp is
/// refused: it asks for the same ptrace read access as reading the fd table does).
fn fd_open(pid: u32, n: u32) -> Option<bool> {
    const KCMP_FILE: libc::c_int = 0;
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: kcmp takes five integers and reads or writes no memory of ours.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            pid,
            pid,
            KCMP_FILE,
            libc::c_ulong::from(n),
            libc::c_ulong::from(n),
        )
    };
    match r {
        0 => Some(true),
        -1 if std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF) => Some(false),
        _ => None,
    }
}

/// An fd number as a file name, written into a buffer kept across numbers.
#[derive(Default)]
struct FdName([u8; 12]);

impl FdName {
    fn of(&mut self, n: u32) -> &CStr {
        use std::io::Write as _;
        let room = self.0.len();
        let mut w: &mut [u8] = &mut self.0;
        let _ = write!(w, "{n}\0");
        let len = room - w.len();
        CStr::from_bytes_with_nul(&self.0[..len]).unwrap_or_default()
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
        probe_below: 0,
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

    fn dense_top(numbers: &[u32]) -> u32 {
        let mut d = Density::default();
        for &n in numbers {
            d.saw(n);
        }
        d.top()
    }

    #[test]
    fn a_dense_start_ends_before_the_outliers() {
        // 0-12 open, then one fd far above (as a test harness leaves behind).
        let mut fds: Vec<u32> = (0..13).collect();
        fds.push(251);
        assert_eq!(dense_top(&fds), 13);
        // A few holes are worth probing over; the end is the last fd.
        assert_eq!(dense_top(&[0, 1, 2, 4, 5, 6, 8, 9, 10, 11]), 12);
        // Mostly free numbers: listed in full.
        assert_eq!(dense_top(&[0, 100, 200]), 1);
        assert_eq!(dense_top(&[]), 0);
        assert_eq!(dense_top(&[5000]), 0);
        // A table of 3,600 fds under churn, spread over 3,700 numbers.
        let churn: Vec<u32> = (0..3700).filter(|n| n % 37 != 0).collect();
        assert_eq!(dense_top(&churn), 3700);
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

        #[test]
        fn fd_names_are_their_numbers(n in any::<u32>()) {
            let mut name = FdName::default();
            prop_assert_eq!(name.of(n).to_str().unwrap(), n.to_string());
        }
    }
}
