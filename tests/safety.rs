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
