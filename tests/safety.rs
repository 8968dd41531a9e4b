//! Kill safety against pid reuse, in a pid namespace of the test's own: a process that
//! took a dead holder's pid (same uid, same fd count) must never be offered or signalled.
//! Everything signalled here was started by the test, inside the namespace.

use crate::support::pty::Tui;
use crate::support::*;
use std::time::Duration;

/// The scenario of issue 7: A listens and forks C, which keeps the socket; A exits and an
/// unrelated process R takes A's pid at once. Returns (ns, port, A, C, R's kid, flag file).
struct Reuse {
    ns: PidNs,
    port: u16,
    a: u32,
    c: u32,
    _a_kid: Kid,
    r_kid: Option<Kid>,
    flag: std::path::PathBuf,
    fds: usize,
}

impl Reuse {
    fn new(tag: &str) -> Reuse {
        let ns = PidNs::new();
        let flag =
            std::env::temp_dir().join(format!("sockscope-reuse-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_file(&flag);
        let mut a_kid = ns.python(PY_LISTEN_AND_FORK, &["127.0.0.1", flag.to_str().unwrap()]);
        let line = a_kid.line();
        let v: Vec<usize> = line
            .split_whitespace()
            .map(|w| w.parse().unwrap())
            .collect();
        Reuse {
            port: v[0] as u16,
            a: v[1] as u32,
            c: v[2] as u32,
            fds: v[3],
            ns,
            _a_kid: a_kid,
            r_kid: None,
            flag,
        }
    }

    /// A exits and R takes its pid with A's fd count. Panics if another process won the
    /// pid (nothing else forks in this namespace, so it does not happen).
    fn reuse(&mut self) -> u32 {
        let mut r = self
            .ns
            .python(PY_TAKE_PID, &[&self.a.to_string(), &self.fds.to_string()]);
        assert_eq!(r.line(), "waiting");
        std::fs::write(&self.flag, b"exit").unwrap();
        let got = r.line();
        assert_eq!(got, format!("pid {}", self.a), "R did not get A's pid");
        self.r_kid = Some(r);
        self.a
    }

    fn r_alive(&self) -> bool {
        self.ns
            .alive(self.a)
            .is_some_and(|cmd| cmd.contains("ns_last_pid") || cmd.contains("want, fds"))
    }
}

impl Drop for Reuse {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.flag);
    }
}

/// The live view shows A and C, A's pid is reused by R within one snapshot interval:
/// the row must drop A, and the dialog must offer C; R gets nothing.
#[test]
fn dialog_never_offers_a_process_that_reused_a_holders_pid() {
    let mut s = Reuse::new("tui");
    let (a, c, port) = (s.a, s.c, s.port);
    let mut tui = Tui::start_in(
        &s.ns,
        &[
            "--interval",
            "250ms",
            "--filter",
            &format!("lport:{port} tcp"),
        ],
    );
    let both = format!("{a}/python3,{c}/python3");
    tui.wait_screen("A and C holding the listener", |s| s.contains(&both));
    let r = s.reuse();
    assert!(s.r_alive(), "R holds pid {r}");
    let c_only = format!(" {c}/python3");
    // Within a few snapshots (250 ms each), well before the owner cache's 30 s resync
    // would have repaired a stale entry by accident.
    let screen = tui.wait_screen_for("the row to list C alone", Duration::from_secs(12), |s| {
        s.contains(&c_only) && !s.contains(&both) && !s.contains(&format!("{a}/python3,"))
    });
    assert!(screen.contains(&format!("127.0.0.1:{port}")), "{screen}");
    tui.keys("k");
    let screen = tui.wait_screen("the dialog, pinned", |s| {
        s.contains("send a signal") && s.contains("(pinned)")
    });
    assert!(screen.contains(&format!("{c} python3")), "{screen}");
    assert!(
        !screen.contains(&format!("{a} python3")),
        "R is offered:\n{screen}"
    );
    tui.keys("y");
    tui.wait_screen("the result line", |sc| {
        sc.contains(&format!("SIGTERM sent to {c}/python3"))
            && sc.contains(&format!("port {port} is free"))
    });
    assert!(s.r_alive(), "R, which never held the socket, is untouched");
    assert!(s.ns.alive(c).is_none(), "C got SIGTERM and exited");
    tui.keys("q");
    tui.wait_exit();
}

/// `kill :PORT` pins A and C and asks; meanwhile A exits and R takes its pid. On "y" the
/// re-check before sending refuses R, and only C is signalled.
#[test]
fn kill_never_signals_a_process_that_reused_a_holders_pid() {
    let mut s = Reuse::new("cli");
    let (a, c, port) = (s.a, s.c, s.port);
    let mut cmd = portable_pty::CommandBuilder::new("nsenter");
    cmd.args(["-t", &s.ns.init.to_string(), "-p", "-m", "--", bin()]);
    cmd.args(["kill", &format!(":{port}"), "--timeout", "5s"]);
    let mut tui = Tui::start_cmd(cmd);
    tui.wait_screen("the question", |sc| {
        sc.contains(&format!("target: SIGTERM to {a}/python3"))
            && sc.contains(&format!("target: SIGTERM to {c}/python3"))
            && sc.contains("[y/N]")
    });
    s.reuse();
    tui.keys("y\r");
    let screen = tui.wait_screen("the report", |sc| {
        sc.contains(&format!("port {port} is free"))
    });
    assert!(
        screen.contains(&format!("{a}/python3 had already exited")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("sent SIGTERM to {c}/python3")),
        "{screen}"
    );
    assert!(s.r_alive(), "R is untouched");
    let status = tui.wait_exit();
    assert_eq!(status.exit_code(), 0, "{screen}");
}

/// A process that closed its socket is no longer its holder: pinning it for that socket
/// is refused after a fresh read of its fd table, and nothing is sent.
#[test]
fn pinning_checks_that_the_target_still_holds_the_socket() {
    use sockscope::signal::{RealSignaller, Signaller};
    let mut kid = Kid::python_own_group(
        &format!(
            "{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1], os.stat(s.fileno()).st_ino)\nsys.stdin.readline()\ns.close()\nprint('closed')\nfor l in sys.stdin: print(l.strip())"
        ),
        &[],
    );
    let line = kid.line();
    let inode: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let pid = kid.pid();
    let mut sig = RealSignaller::default();
    let target = sig.pin(pid, None, Some(inode)).expect("holds it now");
    kid.send("close");
    assert_eq!(kid.line(), "closed");
    let refused = sig.send(&target, sockscope::model::Sig::Term).unwrap_err();
    assert_eq!(
        refused,
        sockscope::model::Refusal::NotHolder { pid, inode },
        "{refused}"
    );
    assert_eq!(
        sig.pin(pid, None, Some(inode)).unwrap_err(),
        sockscope::model::Refusal::NotHolder { pid, inode }
    );
    kid.send("still here");
    assert_eq!(kid.line(), "still here", "nothing was sent");
}

/// A listener whose owner sockscope cannot see (here: the test process, outside the
/// namespace sockscope runs in) holds the port as much as any other. `kill :PORT`
/// signals what it can see and never reports "free" while that listener remains.
#[test]
fn kill_never_says_free_while_an_unseen_listener_remains() {
    let ns = PidNs::new();
    let mut kid = ns.python(
        "import socket,sys\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\nprint(s.getsockname()[1], flush=True)\nsys.stdin.read()",
        &[],
    );
    let port: u16 = kid.line().parse().unwrap();
    // The same port on another loopback address, held by the test itself.
    let unseen = std::net::TcpListener::bind(("127.0.0.2", port)).unwrap();
    let (code, out, err) = ns.sockscope(&["kill", &format!(":{port}"), "--yes", "--timeout", "1s"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("sent SIGTERM"), "{out}");
    assert!(
        out.contains(&format!(
            "port {port} is in use by a listener held by a process in another pid namespace"
        )),
        "{out}"
    );
    assert!(!out.contains("is free"), "{out}");
    wait_for("the child to exit", || kid.child.try_wait().unwrap());
    // With only the unseen listener left there is nothing to signal: said so, exit 2,
    // and as root never "run as root".
    let (code, out, err) = ns.sockscope(&["kill", &format!(":{port}"), "--yes"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("no process to signal"), "{err}");
    assert!(err.contains("another pid namespace"), "{err}");
    assert!(
        !err.contains("run as root") && !err.contains("sudo"),
        "{err}"
    );
    let (_, out, _) = ns.sockscope(&["list", &format!("lport:{port}")]);
    assert!(out.contains("(other pid ns)"), "{out}");
    let (code, out, _) = ns.sockscope(&["why", &port.to_string()]);
    assert_eq!(code, 1);
    assert!(
        out.contains("another pid namespace") && !out.contains("sudo"),
        "{out}"
    );
    drop(unseen);
}

/// A suspended holder acts on TERM only once continued: kill sends CONT after it, the
/// holder exits, and the port is free.
#[test]
fn kill_continues_a_stopped_holder_so_it_can_exit() {
    let ns = PidNs::new();
    let mut kid = ns.python(
        "import os,signal,socket,sys\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()\nprint(s.getsockname()[1], os.getpid(), flush=True)\nos.kill(os.getpid(), signal.SIGSTOP)\nsys.stdin.read()",
        &[],
    );
    let line = kid.line();
    let mut it = line.split_whitespace();
    let port: u16 = it.next().unwrap().parse().unwrap();
    let pid: u32 = it.next().unwrap().parse().unwrap();
    wait_for("the holder to stop", || {
        let st = ns.read(&format!("/proc/{pid}/stat"))?;
        st[st.rfind(')')? + 2..].starts_with('T').then_some(())
    });
    let (code, out, err) =
        ns.sockscope(&["kill", &format!(":{port}"), "--yes", "--timeout", "10s"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("suspended: TERM, then CONT so it can exit"),
        "{out}"
    );
    assert!(
        out.contains(&format!("sent SIGTERM to {pid}/python3, then SIGCONT")),
        "{out}"
    );
    assert!(out.contains(&format!("port {port} is free")), "{out}");
    // (nsenter, its parent here, mirrors a stopped child by stopping itself: look at the
    // holder, not at nsenter.)
    wait_for("the holder to exit", || {
        ns.alive(pid).is_none().then_some(())
    });
    drop(kid);
}

#[test]
fn kill_a_pid_that_never_existed_says_no_such_process() {
    let (code, out, err) = run(&["kill", "pid:2147483647", "--yes"]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(err.trim(), "sockscope: no such process: pid 2147483647");
}

/// With /proc mounted hidepid=2, another user's live process is invisible in /proc but
/// not gone: `kill pid:N` says so instead of "has exited".
#[test]
fn a_process_hidden_by_hidepid_is_not_reported_as_exited() {
    let ns = PidNs::new();
    let mut kid = ns.python(
        "import os,sys\nprint(os.getpid(), flush=True)\nsys.stdin.read()",
        &[],
    );
    let pid = kid.line();
    let remount = ns
        .command("mount")
        .args(["-o", "remount,hidepid=2", "/proc"])
        .status()
        .unwrap();
    assert!(remount.success(), "remount /proc with hidepid=2");
    let nobody = NobodyBin::new("hidepid");
    let out = ns
        .command("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&nobody.exe)
        .args(["kill", &format!("pid:{pid}"), "--yes"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("pid {pid} exists but /proc hides it from you")),
        "{err}"
    );
    assert!(kid.child.try_wait().unwrap().is_none());
}
