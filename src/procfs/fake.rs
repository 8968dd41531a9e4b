//! A made-up `/proc` for tests: processes as values, served through the same trait as
//! the real one. A handle keeps the identity (pid and start time) it was opened for:
//! once that process is removed or replaced, reads through it fail, as on Linux.

use super::{FdDir, FdTables, FileMeta, Found, Ino, Ns, PidFile, Proc, ProcSource};
use crate::model::stat::Stat;
use rustix::fd::OwnedFd;
use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One made-up process.
#[derive(Clone, Debug)]
pub struct FakeProc {
    pub stat: Stat,
    pub comm: String,
    /// Real uid (its status's `Uid:`), also the owner of its /proc directory.
    pub uid: u32,
    pub tgid: u32,
    pub cmdline: Vec<String>,
    pub environ: Vec<(String, String)>,
    pub cgroup: String,
    /// Where `exe` points, and the owner and mode of that file.
    pub exe: Option<(String, FileMeta)>,
    pub cwd: Option<String>,
    pub children: Vec<u32>,
    pub net_ns: u64,
    pub pid_ns: u64,
    pub user_ns: u64,
    /// Its fd table as (fd, socket inode); `None`: not readable for us.
    pub fds: Option<Vec<(u32, Ino)>>,
    /// Its threads' fd tables (read when its main thread has exited).
    pub tasks: Vec<(u32, Vec<(u32, Ino)>)>,
}

/// The owner and mode of a root-owned program nobody else may write.
pub const ROOT_PROGRAM: FileMeta = FileMeta {
    uid: 0,
    mode: 0o100_755,
};

impl FakeProc {
    /// A sleeping single-threaded process of uid 1000 running `/usr/bin/{comm}`.
    pub fn new(pid: u32, ppid: u32, start_ticks: u64, comm: &str) -> FakeProc {
        FakeProc {
            stat: Stat {
                state: 'S',
                ppid,
                pgrp: pid,
                session: pid,
                threads: 1,
                start_ticks,
                kernel_thread: false,
            },
            comm: comm.to_owned(),
            uid: 1000,
            tgid: pid,
            cmdline: vec![comm.to_owned()],
            environ: Vec::new(),
            cgroup: "0::/user.slice/user-1000.slice/session-1.scope\n".to_owned(),
            exe: Some((format!("/usr/bin/{comm}"), ROOT_PROGRAM)),
            cwd: Some("/".to_owned()),
            children: Vec::new(),
            net_ns: 4026531840,
            pid_ns: 4026531836,
            user_ns: 4026531837,
            fds: Some(Vec::new()),
            tasks: Vec::new(),
        }
    }

    fn stat_line(&self, pid: u32) -> String {
        let st = &self.stat;
        let flags = if st.kernel_thread { 0x0020_0000 } else { 0 };
        format!(
            "{pid} ({}) {} {} {} {} 0 -1 {flags} 0 0 0 0 0 0 0 0 20 0 {} 0 {} 1000 10\n",
            self.comm, st.state, st.ppid, st.pgrp, st.session, st.threads, st.start_ticks
        )
    }

    fn file(&self, pid: u32, file: PidFile) -> Vec<u8> {
        let nul_joined = |items: Vec<String>| {
            items
                .into_iter()
                .flat_map(|a| a.into_bytes().into_iter().chain([0]))
                .collect()
        };
        match file {
            PidFile::Stat => self.stat_line(pid).into_bytes(),
            PidFile::Status => format!(
                "Name:\t{}\nTgid:\t{}\nPid:\t{pid}\nUid:\t{u}\t{u}\t{u}\t{u}\n",
                self.comm,
                self.tgid,
                u = self.uid
            )
            .into_bytes(),
            PidFile::Comm => format!("{}\n", self.comm).into_bytes(),
            PidFile::Cmdline => nul_joined(self.cmdline.clone()),
            PidFile::Environ => nul_joined(
                self.environ
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
            ),
            PidFile::Cgroup => self.cgroup.clone().into_bytes(),
            PidFile::Children => self
                .children
                .iter()
                .map(|c| format!("{c} "))
                .collect::<String>()
                .into_bytes(),
        }
    }
}

/// A made-up `/proc`. Clones share the same processes.
#[derive(Clone, Debug, Default)]
pub struct FakeProcs {
    procs: Arc<Mutex<HashMap<u32, FakeProc>>>,
}

impl FakeProcs {
    pub fn new(procs: impl IntoIterator<Item = (u32, FakeProc)>) -> FakeProcs {
        FakeProcs {
            procs: Arc::new(Mutex::new(procs.into_iter().collect())),
        }
    }

    /// Adds a process, or replaces the one with its pid (a reused pid).
    pub fn add(&self, pid: u32, p: FakeProc) {
        self.procs.lock().unwrap().insert(pid, p);
    }

    /// The process exits and is reaped.
    pub fn remove(&self, pid: u32) {
        self.procs.lock().unwrap().remove(&pid);
    }

    /// Changes a process in place (same identity).
    pub fn change(&self, pid: u32, f: impl FnOnce(&mut FakeProc)) {
        if let Some(p) = self.procs.lock().unwrap().get_mut(&pid) {
            f(p);
        }
    }
}

fn gone() -> io::Error {
    io::Error::from_raw_os_error(libc::ESRCH)
}

impl ProcSource for FakeProcs {
    fn open(&self, pid: u32) -> io::Result<Box<dyn Proc>> {
        let start = self
            .procs
            .lock()
            .unwrap()
            .get(&pid)
            .map(|p| p.stat.start_ticks)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))?;
        Ok(Box::new(Handle {
            procs: self.procs.clone(),
            pid,
            start,
        }))
    }

    fn own_ns_inode(&self, ns: Ns) -> io::Result<u64> {
        Ok(match ns {
            Ns::Net => 4026531840,
            Ns::Pid => 4026531836,
            Ns::User => 4026531837,
        })
    }
}

/// A handle on one made-up process, pinned to its start time.
struct Handle {
    procs: Arc<Mutex<HashMap<u32, FakeProc>>>,
    pid: u32,
    start: u64,
}

impl Handle {
    /// `f` of the process the handle was opened for; ESRCH once it is gone.
    fn with<R>(&self, f: impl FnOnce(&FakeProc) -> R) -> io::Result<R> {
        let procs = self.procs.lock().unwrap();
        match procs.get(&self.pid) {
            Some(p) if p.stat.start_ticks == self.start => Ok(f(p)),
            _ => Err(gone()),
        }
    }
}

impl FdTables for Handle {
    fn read_fd_dir(
        &self,
        task: Option<u32>,
        _link: &mut [MaybeUninit<u8>],
        out: &mut Found<'_>,
    ) -> FdDir {
        let table = self.with(|p| match task {
            None => p.fds.clone(),
            Some(tid) => p.tasks.iter().find(|t| t.0 == tid).map(|t| t.1.clone()),
        });
        match table {
            Ok(Some(fds)) => {
                for &(fd, inode) in &fds {
                    out.inodes.push(inode);
                    if let Some(numbers) = out.fds.as_deref_mut() {
                        numbers.push(fd);
                    }
                }
                FdDir {
                    readable: true,
                    seen: fds.len(),
                    links: fds.len(),
                    dense_top: 0,
                    probed: false,
                }
            }
            Ok(None) => FdDir {
                readable: false,
                ..FdDir::EMPTY
            },
            Err(_) => FdDir::EMPTY,
        }
    }

    fn task_ids(&self) -> Vec<u32> {
        self.with(|p| p.tasks.iter().map(|t| t.0).collect())
            .unwrap_or_default()
    }

    fn main_thread_exited(&self) -> bool {
        self.with(|p| p.stat.state == 'Z' && p.stat.threads > 1)
            .unwrap_or(false)
    }
}

impl Proc for Handle {
    fn pid(&self) -> u32 {
        self.pid
    }

    fn read(&self, file: PidFile, limit: u64) -> io::Result<Vec<u8>> {
        let mut bytes = self.with(|p| p.file(self.pid, file))?;
        bytes.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(bytes)
    }

    fn exe(&self) -> io::Result<PathBuf> {
        self.with(|p| p.exe.as_ref().map(|e| PathBuf::from(&e.0)))?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EACCES))
    }

    fn exe_meta(&self) -> io::Result<FileMeta> {
        self.with(|p| p.exe.as_ref().map(|e| e.1))?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EACCES))
    }

    fn cwd(&self) -> io::Result<PathBuf> {
        self.with(|p| p.cwd.as_ref().map(PathBuf::from))?
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EACCES))
    }

    fn ns_inode(&self, ns: Ns) -> io::Result<u64> {
        self.with(|p| match ns {
            Ns::Net => p.net_ns,
            Ns::Pid => p.pid_ns,
            Ns::User => p.user_ns,
        })
    }

    fn ns_file(&self, _ns: Ns) -> io::Result<OwnedFd> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    fn owner(&self) -> io::Result<u32> {
        self.with(|p| p.uid)
    }
}
