use super::fake::{FakeProc, FakeProcs};
use super::*;
use std::process::{Child, Command};

/// A child of this test, killed and reaped on drop.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A copy of this process made with a chosen pid (`clone3` with `set_tid`: root only),
/// waiting to be killed; killed and reaped on drop.
struct Newcomer(i32);

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

impl Newcomer {
    /// Fails with EPERM when not root, EEXIST when the pid was taken meanwhile.
    fn with_pid(pid: u32) -> Result<Newcomer, Errno> {
        let tid = [pid as libc::pid_t];
        let args = CloneArgs {
            exit_signal: libc::SIGCHLD as u64,
            set_tid: tid.as_ptr() as u64,
            set_tid_size: 1,
            ..Default::default()
        };
        // SAFETY: no std API makes a process with a chosen pid. clone3 without CLONE_VM
        // and with no stack is a fork; the child only calls pause() and _exit(), which
        // are async-signal-safe, so it touches nothing the other threads held.
        let got = unsafe {
            let r = libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            );
            if r == 0 {
                loop {
                    libc::pause();
                }
            }
            r
        };
        if got > 0 {
            Ok(Newcomer(got as i32))
        } else {
            Err(Errno::from_raw_os_error(
                io::Error::last_os_error().raw_os_error().unwrap_or(0),
            ))
        }
    }
}

impl Drop for Newcomer {
    fn drop(&mut self) {
        // SAFETY: our own child, signalled and reaped by its pid, which it keeps until
        // reaped here.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
            libc::waitpid(self.0, std::ptr::null_mut(), 0);
        }
    }
}

/// The handle pins the process, not the pid: once it has exited and been reaped, every
/// read through it fails, also after a newcomer took its pid.
#[test]
fn a_read_after_the_process_exited_fails() {
    let fs = ProcFs::new();
    let mut kid = Kid(Command::new("sleep").arg("60").spawn().unwrap());
    let pid = kid.0.id();
    // spawn() returns once exec has begun; its arguments are in place a moment later.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    const ARGV: &[u8] = b"sleep\x0060\x00";
    while fs.read(pid, PidFile::Cmdline, u64::MAX).unwrap_or_default() != ARGV {
        assert!(std::time::Instant::now() < deadline, "sleep never ran");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let p = fs.open(pid).unwrap();
    let start = p.stat().unwrap().start_ticks;
    assert_eq!(p.comm().unwrap(), "sleep\n");
    assert_eq!(p.read(PidFile::Cmdline, u64::MAX).unwrap(), ARGV);
    assert!(p.exe().is_ok() && p.cwd().is_ok() && p.ns_inode(Ns::Net).is_ok());
    assert_eq!(holds(&fs, pid, start, 1), Holds::No);

    kid.0.kill().unwrap();
    kid.0.wait().unwrap();
    assert!(p.stat().is_err());
    assert!(p.status().is_err());
    assert!(p.comm().is_err());
    assert!(p.read(PidFile::Cmdline, u64::MAX).is_err());
    assert!(p.read(PidFile::Environ, u64::MAX).is_err());
    assert!(p.exe().is_err() && p.exe_meta().is_err() && p.cwd().is_err());
    assert!(p.ns_inode(Ns::Net).is_err());
    assert_eq!(holds(&fs, pid, start, 1), Holds::Gone);

    match Newcomer::with_pid(pid) {
        Ok(newcomer) => {
            // The pid is taken again (the start time may even be the same tick): the old
            // handle still reads nothing, a fresh one reads the newcomer.
            assert_eq!(newcomer.0 as u32, pid);
            assert!(p.stat().is_err());
            assert!(p.read(PidFile::Status, u64::MAX).is_err());
            let fresh = fs.open(pid).unwrap();
            assert!(fresh.stat().is_ok());
            assert_ne!(fresh.comm().unwrap(), "sleep\n");
        }
        // Not root (the suite runs as root), or another process took the pid first.
        Err(e) => assert!(
            e == Errno::EXIST || (e == Errno::PERM && !rustix::process::geteuid().is_root()),
            "clone3 with set_tid: {e}"
        ),
    }
}

/// A fresh read of a real fd table sees a socket while it is open, and not after.
#[test]
fn holds_reads_the_fd_table_now() {
    let fs = ProcFs::new();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let inode = rustix::fs::fstat(&l).unwrap().st_ino;
    let me = std::process::id();
    let start = fs.stat(me).unwrap().start_ticks;
    assert_eq!(holds(&fs, me, start, inode), Holds::Yes);
    assert_eq!(holds(&fs, me, start + 1, inode), Holds::Changed);
    drop(l);
    assert_eq!(holds(&fs, me, start, inode), Holds::No);
}

/// The holder check over a fake: the start time must match, a process whose main thread
/// exited is looked for in its threads' tables, a zombie holds nothing, and a process
/// that exits or whose pid is reused is never taken for the holder.
#[test]
fn the_holder_check_over_a_fake() {
    let mut holder = FakeProc::new(100, 1, 5000, "server");
    holder.fds = Some(vec![(3, 1001), (4, 1002)]);
    let mut threads = FakeProc::new(200, 1, 6000, "threads");
    threads.stat.state = 'Z';
    threads.stat.threads = 3;
    threads.tasks = vec![(201, vec![(5, 2001)]), (202, vec![(6, 2002)])];
    let mut zombie = threads.clone();
    zombie.stat.threads = 1;
    let mut private = FakeProc::new(400, 1, 8000, "private");
    private.fds = None;
    let procs = FakeProcs::new([(100, holder), (200, threads), (300, zombie), (400, private)]);

    assert_eq!(holds(&procs, 100, 5000, 1001), Holds::Yes);
    assert_eq!(holds(&procs, 100, 5000, 1003), Holds::No);
    assert_eq!(holds(&procs, 100, 4999, 1001), Holds::Changed);
    assert_eq!(holds(&procs, 200, 6000, 2002), Holds::Yes);
    assert_eq!(holds(&procs, 300, 6000, 2002), Holds::No);
    assert_eq!(holds(&procs, 400, 8000, 1), Holds::Unreadable);
    assert_eq!(
        holds(&procs, 100, 5000, u64::from(u32::MAX) + 1001),
        Holds::No
    );

    // Pinned: a handle opened before the pid was reused reads nothing.
    let old = procs.open(100).unwrap();
    let mut newcomer = FakeProc::new(100, 1, 9000, "squatter");
    newcomer.fds = Some(vec![(3, 1001)]);
    procs.add(100, newcomer);
    assert!(old.stat().is_err());
    assert_eq!(holds(&procs, 100, 5000, 1001), Holds::Changed);
    procs.remove(100);
    assert_eq!(holds(&procs, 100, 5000, 1001), Holds::Gone);
}

#[test]
fn fd_shortage_is_noted_and_taken_once() {
    let s = FdShortage::default();
    let seen = s.clone();
    s.note(Errno::NOENT);
    assert!(!seen.take());
    s.note(Errno::MFILE);
    assert!(seen.take());
    assert!(!seen.take());
    s.note_io(&io::Error::from_raw_os_error(libc::ENFILE));
    assert!(seen.take());
}
