//! The real `/proc`: one directory fd on it for the owner walk's reads by pid, and one
//! on `/proc/PID` for each pinned process.

use super::fds::{self, FdDir, FdTables, Found, parse_u32};
use super::{FdShortage, FileMeta, Ns, PidFile, Proc, ProcSource};
use crate::model::stat::{Stat, main_thread_exited, parse_stat};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, Dir, Mode, OFlags, openat, readlinkat, statat};
use rustix::io::Errno;
use std::io::{self, Read as _, Write as _};
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where /proc is mounted.
pub(super) const PROC: &str = "/proc";

/// The real `/proc` (or a directory laid out like it, for the owner walk's tests).
#[derive(Debug)]
pub struct ProcFs {
    root_path: PathBuf,
    /// Opened when first needed, and again after a failure (fds may be back).
    root: OnceLock<OwnedFd>,
    /// Whether the root is a proc file system of our own pid namespace (see
    /// [`ProcFs::can_probe_fds`]).
    procfs: OnceLock<bool>,
    shortage: FdShortage,
}

impl Default for ProcFs {
    fn default() -> Self {
        ProcFs::new()
    }
}

/// `PID` or `PID/tail` as bytes, without allocating.
struct PidPath {
    buf: [u8; 64],
    len: usize,
}

impl PidPath {
    fn new(pid: u32, tail: &str) -> PidPath {
        let mut buf = [0u8; 64];
        let mut w: &mut [u8] = &mut buf;
        let _ = if tail.is_empty() {
            write!(w, "{pid}")
        } else {
            write!(w, "{pid}/{tail}")
        };
        let len = 64 - w.len();
        PidPath { buf, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl ProcFs {
    /// The real `/proc`; fds running out are noted in a shortage of its own.
    pub fn new() -> ProcFs {
        ProcFs::with_shortage(FdShortage::default())
    }

    /// The real `/proc`, noting fds running out in `shortage`.
    pub fn with_shortage(shortage: FdShortage) -> ProcFs {
        ProcFs::at(PROC, shortage)
    }

    /// A directory laid out like `/proc` (tests of the owner walk).
    pub fn at(root: impl Into<PathBuf>, shortage: FdShortage) -> ProcFs {
        ProcFs {
            root_path: root.into(),
            root: OnceLock::new(),
            procfs: OnceLock::new(),
            shortage,
        }
    }

    /// Whether fd tables can be probed by number: the root is a real proc file system,
    /// where an fd directory's offset is the fd number + 2 (a directory laid out like
    /// /proc for tests is not), and it shows our own pid namespace, whose numbers
    /// kcmp(2) takes (a /proc of another namespace, as under `unshare -p` without
    /// `--mount-proc`, names other processes by the same numbers): our `NSpid` there has
    /// one number.
    pub fn can_probe_fds(&self) -> bool {
        const PROC_SUPER_MAGIC: u64 = 0x9fa0;
        let Ok(root) = self.root() else {
            return false;
        };
        *self.procfs.get_or_init(|| {
            let procfs =
                rustix::fs::fstatfs(root).is_ok_and(|st| st.f_type as u64 == PROC_SUPER_MAGIC);
            let own_ns = read_at(&self.shortage, root, "self/status", 64 * 1024)
                .ok()
                .and_then(|status| {
                    let text = String::from_utf8_lossy(&status).into_owned();
                    let line = text.lines().find(|l| l.starts_with("NSpid:"))?.to_owned();
                    Some(line.split_whitespace().count() == 2)
                })
                .unwrap_or(false);
            procfs && own_ns
        })
    }

    pub fn shortage(&self) -> &FdShortage {
        &self.shortage
    }

    /// Whether /proc can be opened (tried again each time until it can).
    pub fn available(&self) -> bool {
        self.root().is_ok()
    }

    /// The `/proc` directory fd, opened now if it is not yet.
    fn root(&self) -> io::Result<&OwnedFd> {
        if let Some(fd) = self.root.get() {
            return Ok(fd);
        }
        let fd = open_at(
            &self.shortage,
            rustix::fs::CWD,
            self.root_path.as_path(),
            OFlags::RDONLY | OFlags::DIRECTORY,
        )?;
        let _ = self.root.set(fd);
        self.root.get().ok_or_else(|| io::Error::other("/proc"))
    }

    /// Runs `f` on `rel` below /proc: relative to the /proc fd once it is open (the
    /// owner walk opens it), else by its whole path, so that a one-off reader (a signal,
    /// a command) holds no fd beyond the ones it reads through.
    fn below<R>(
        &self,
        rel: &[u8],
        f: impl FnOnce(BorrowedFd<'_>, &[u8]) -> io::Result<R>,
    ) -> io::Result<R> {
        if let Some(root) = self.root.get() {
            return f(root.as_fd(), rel);
        }
        use std::os::unix::ffi::OsStrExt as _;
        let mut path = self.root_path.as_os_str().as_bytes().to_vec();
        path.push(b'/');
        path.extend_from_slice(rel);
        f(rustix::fs::CWD, &path)
    }

    /// Calls `f` with every pid listed in /proc. False when /proc cannot be listed.
    pub fn each_pid(&self, mut f: impl FnMut(u32)) -> bool {
        let Ok(root) = self.root() else {
            return false;
        };
        let mut dir = match Dir::read_from(root) {
            Ok(d) => d,
            Err(e) => {
                self.shortage.note(e);
                return false;
            }
        };
        while let Some(Ok(entry)) = dir.read() {
            if let Some(pid) = parse_u32(entry.file_name().to_bytes()) {
                f(pid);
            }
        }
        true
    }

    /// Size (the fd count) and owner of a pid's fd directory: one `stat`, what the owner
    /// walk checks every pid for at every update.
    pub fn fd_table_meta(&self, pid: u32) -> Option<(i64, u32)> {
        let root = self.root().ok()?;
        let st = statat(root, PidPath::new(pid, "fd").bytes(), AtFlags::empty()).ok()?;
        Some((st.st_size, st.st_uid))
    }

    /// The start time of the process that has `pid` now (one small read).
    pub fn start_ticks(&self, pid: u32) -> Option<u64> {
        self.stat_fast(pid).ok().map(|st| st.start_ticks)
    }

    /// A pid's stat line into a stack buffer: the owner walk reads one per changed pid.
    fn stat_fast(&self, pid: u32) -> io::Result<Stat> {
        let path = PidPath::new(pid, "stat");
        let fd = self.below(path.bytes(), |base, p| {
            open_at(&self.shortage, base, p, OFlags::RDONLY)
        })?;
        let mut buf = [0u8; 1024];
        let n = rustix::io::read(&fd, &mut buf)?;
        parse_stat(&buf[..n]).ok_or_else(super::unparsable)
    }

    /// The fd tables of `pid` read by pid, relative to /proc (the owner walk's fast path;
    /// it checks identity by start time itself).
    pub fn pid(&self, pid: u32) -> PidView<'_> {
        PidView { fs: self, pid }
    }
}

impl ProcSource for ProcFs {
    fn open(&self, pid: u32) -> io::Result<Box<dyn Proc>> {
        let dir = self.below(PidPath::new(pid, "").bytes(), |base, p| {
            open_at(&self.shortage, base, p, OFlags::PATH | OFlags::DIRECTORY)
        })?;
        Ok(Box::new(Pinned {
            dir,
            pid,
            shortage: self.shortage.clone(),
        }))
    }

    fn own_ns_inode(&self, ns: Ns) -> io::Result<u64> {
        let path = format!("{PROC}/self/{}", ns.path());
        Ok(rustix::fs::stat(path.as_str())?.st_ino)
    }

    fn read(&self, pid: u32, file: PidFile, limit: u64) -> io::Result<Vec<u8>> {
        let path = match file {
            PidFile::Children => format!("{pid}/task/{pid}/children"),
            f => format!("{pid}/{}", f.name()),
        };
        self.below(path.as_bytes(), |base, p| {
            read_at(&self.shortage, base, p, limit)
        })
    }

    fn stat(&self, pid: u32) -> io::Result<Stat> {
        self.stat_fast(pid)
    }

    fn exists(&self, pid: u32) -> bool {
        self.below(PidPath::new(pid, "").bytes(), |base, p| {
            Ok(statat(base, p, AtFlags::empty())?)
        })
        .is_ok()
    }

    fn ns_inode(&self, pid: u32, ns: Ns) -> io::Result<u64> {
        self.below(PidPath::new(pid, ns.path()).bytes(), |base, p| {
            Ok(statat(base, p, AtFlags::empty())?.st_ino)
        })
    }
}

/// A pid's fd tables read relative to /proc (see [`ProcFs::pid`]).
pub struct PidView<'a> {
    fs: &'a ProcFs,
    pid: u32,
}

impl FdTables for PidView<'_> {
    fn read_fd_dir(
        &self,
        task: Option<u32>,
        link: &mut [MaybeUninit<u8>],
        out: &mut Found<'_>,
    ) -> FdDir {
        let Ok(root) = self.fs.root() else {
            return FdDir::EMPTY;
        };
        let path = match task {
            None => PidPath::new(self.pid, "fd"),
            Some(tid) => PidPath::new(self.pid, &format!("task/{tid}/fd")),
        };
        let own = task.is_none().then_some(self.pid);
        read_fd_dir_at(&self.fs.shortage, root, path.bytes(), own, link, out)
    }

    fn task_ids(&self) -> Vec<u32> {
        match self.fs.root() {
            Ok(root) => task_ids_at(
                &self.fs.shortage,
                root,
                PidPath::new(self.pid, "task").bytes(),
            ),
            Err(_) => Vec::new(),
        }
    }

    fn main_thread_exited(&self) -> bool {
        self.fs
            .stat_fast(self.pid)
            .is_ok_and(|st| main_thread_exited(st.state, st.threads))
    }
}

/// A process pinned by its `/proc/PID` directory fd.
struct Pinned {
    dir: OwnedFd,
    pid: u32,
    shortage: FdShortage,
}

impl FdTables for Pinned {
    fn read_fd_dir(
        &self,
        task: Option<u32>,
        link: &mut [MaybeUninit<u8>],
        out: &mut Found<'_>,
    ) -> FdDir {
        let path = match task {
            None => "fd".to_owned(),
            Some(tid) => format!("task/{tid}/fd"),
        };
        read_fd_dir_at(&self.shortage, &self.dir, path.as_bytes(), None, link, out)
    }

    fn task_ids(&self) -> Vec<u32> {
        task_ids_at(&self.shortage, &self.dir, b"task")
    }

    fn main_thread_exited(&self) -> bool {
        self.stat()
            .is_ok_and(|st| main_thread_exited(st.state, st.threads))
    }
}

impl Proc for Pinned {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn read(&self, file: PidFile, limit: u64) -> io::Result<Vec<u8>> {
        let path = match file {
            PidFile::Children => format!("task/{}/children", self.pid),
            f => f.name().to_owned(),
        };
        read_at(&self.shortage, &self.dir, path.as_str(), limit)
    }

    fn exe(&self) -> io::Result<PathBuf> {
        link_at(&self.dir, "exe")
    }

    fn exe_meta(&self) -> io::Result<FileMeta> {
        let st = statat(&self.dir, "exe", AtFlags::empty())?;
        Ok(FileMeta {
            uid: st.st_uid,
            mode: st.st_mode,
        })
    }

    fn cwd(&self) -> io::Result<PathBuf> {
        link_at(&self.dir, "cwd")
    }

    fn ns_inode(&self, ns: Ns) -> io::Result<u64> {
        Ok(statat(&self.dir, ns.path(), AtFlags::empty())?.st_ino)
    }

    fn ns_file(&self, ns: Ns) -> io::Result<OwnedFd> {
        open_at(&self.shortage, &self.dir, ns.path(), OFlags::RDONLY)
    }

    fn owner(&self) -> io::Result<u32> {
        Ok(rustix::fs::fstat(&self.dir)?.st_uid)
    }
}

/// `openat` with CLOEXEC, noting a shortage of fds.
fn open_at<P: rustix::path::Arg, Fd: rustix::fd::AsFd>(
    shortage: &FdShortage,
    base: Fd,
    path: P,
    flags: OFlags,
) -> io::Result<OwnedFd> {
    openat(base, path, flags | OFlags::CLOEXEC, Mode::empty())
        .inspect_err(|e| shortage.note(*e))
        .map_err(io::Error::from)
}

/// Reads a file below `base` whole, at most `limit` bytes.
fn read_at<P: rustix::path::Arg, Fd: AsFd>(
    shortage: &FdShortage,
    base: Fd,
    path: P,
    limit: u64,
) -> io::Result<Vec<u8>> {
    let fd = open_at(shortage, base, path, OFlags::RDONLY)?;
    let mut buf = Vec::new();
    std::fs::File::from(fd).take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads the socket links of one fd directory below `base`. A table we may not read
/// (EACCES, EPERM) is unreadable; one that is gone (the process exited) reads as empty.
fn read_fd_dir_at(
    shortage: &FdShortage,
    base: &OwnedFd,
    path: &[u8],
    pid: Option<u32>,
    link: &mut [MaybeUninit<u8>],
    out: &mut Found<'_>,
) -> FdDir {
    match open_at(shortage, base, path, OFlags::RDONLY | OFlags::DIRECTORY) {
        Ok(fd) => fds::read_fd_dir(fd, pid, link, out),
        Err(e) => FdDir {
            readable: !matches!(
                e.raw_os_error().map(Errno::from_raw_os_error),
                Some(Errno::ACCESS | Errno::PERM)
            ),
            ..FdDir::EMPTY
        },
    }
}

/// The thread ids listed in the `task` directory below `base`.
fn task_ids_at(shortage: &FdShortage, base: &OwnedFd, path: &[u8]) -> Vec<u32> {
    let mut ids = Vec::new();
    let Ok(tasks) = open_at(shortage, base, path, OFlags::RDONLY | OFlags::DIRECTORY) else {
        return ids;
    };
    match Dir::read_from(&tasks) {
        Ok(mut dir) => {
            while let Some(Ok(entry)) = dir.read() {
                if let Some(tid) = parse_u32(entry.file_name().to_bytes()) {
                    ids.push(tid);
                }
            }
        }
        Err(e) => shortage.note(e),
    }
    ids
}

/// Where a link below `dir` points.
fn link_at(dir: &OwnedFd, name: &str) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStringExt as _;
    let target = readlinkat(dir, name, Vec::new())?;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(
        target.into_bytes(),
    )))
}
