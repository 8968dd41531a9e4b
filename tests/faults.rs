//! Faults, each giving one clear message and never a false verdict: no file descriptors
//! left, a Docker socket that accepts and never answers. (Closed pipes and full disks
//! for every output are in `cli_errors`; hidepid and pid reuse in `safety`; a process
//! exiting mid-walk in `owners`.)

use crate::support::stack::{ServiceCgroup, TempDir, fresh_port};
use crate::support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_limited(nofile: u32, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("prlimit")
        .arg(format!("--nofile={nofile}"))
        .arg(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run prlimit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// With almost no fds, the owners cannot be read: every command says so and none gives a
/// verdict built on a half-read table ("no visible process holds it", "free").
#[test]
fn out_of_file_descriptors_is_said_never_guessed() {
    // The holder is a child in its own process group: were it the test process, `kill`
    // would (rightly) refuse it as a member of sockscope's own group whenever the fds
    // suffice, and which limit suffices depends on the machine.
    let mut holder = Kid::python_own_group(
        "import socket\ns = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\nprint(s.getsockname()[1], flush=True)\nimport sys; sys.stdin.read()",
        &[],
    );
    let port = holder.line();
    let pid = holder.pid().to_string();
    for nofile in [4, 5, 6, 8, 64] {
        for args in [
            vec!["list"],
            vec!["why", port.as_str()],
            vec!["kill", port.as_str(), "--dry-run"],
        ] {
            let (code, out, err) = run_limited(nofile, &args);
            if code == 2 {
                assert!(
                    err.contains("too many open files"),
                    "{nofile} {args:?}: {err}"
                );
                assert!(out.is_empty(), "{nofile} {args:?}: {out}");
            } else {
                // Enough fds after all: then the answer must be the true one.
                assert!(
                    !out.contains("no visible process"),
                    "{nofile} {args:?}: {out}"
                );
                assert!(!out.contains(&format!("port {port} is free")), "{out}");
                assert!(code == 0 || code == 1, "{nofile} {args:?}: {code} {err}");
                if args[0] != "list" {
                    assert!(
                        out.contains(&pid),
                        "{nofile} {args:?} names the holder: {out}{err}"
                    );
                }
            }
        }
    }
    let (code, _, err) = run_limited(4, &["why", &port]);
    assert_eq!(code, 2, "{err}");
}

/// A Docker socket that accepts and never answers: a container's name cannot be had, and
/// a one-shot command still finishes promptly, saying so.
#[test]
fn a_docker_socket_that_never_answers_does_not_hang_a_snapshot() {
    assert!(
        is_root(),
        "makes a cgroup: run the suite as root, as CI does"
    );
    let dir = TempDir::new("mute-docker");
    let sock = dir.0.join("docker.sock");
    let mute = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        // Accept and keep every connection open, answering nothing.
        for c in mute.incoming().flatten() {
            keep.lock().unwrap().push(c);
        }
    });
    let id: String = format!("{:08x}", std::process::id()).repeat(8);
    let id = id.as_str();
    let cg = ServiceCgroup::leaf(&format!("docker-{id}.scope"));
    let port = fresh_port();
    let mut kid = Kid::python_own_group(
        "import socket, sys\ns = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\nprint('up', flush=True)\nsys.stdin.read()",
        &[&port.to_string()],
    );
    assert_eq!(kid.line(), "up");
    cg.adopt(kid.pid());
    let started = Instant::now();
    let out = Command::new(bin())
        .args(["why", &port.to_string()])
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        took < Duration::from_secs(8),
        "a mute engine held the snapshot for {took:?}"
    );
    assert!(text.contains(&format!("{}/python3", kid.pid())), "{text}");
    assert!(text.contains("the Docker socket did not answer"), "{text}");
    assert!(text.contains(&id[..12]), "the short id: {text}");
    drop(kid);
    drop(cg);
}

/// The live view under a tiny open-file limit: one clear message, in the header while it
/// keeps running or as the exit line when it cannot start, never a panic.
#[test]
fn the_live_view_out_of_file_descriptors_says_so() {
    for nofile in ["12", "16", "20"] {
        let mut cmd = portable_pty::CommandBuilder::new("prlimit");
        cmd.args([&format!("--nofile={nofile}"), bin(), "--view", "listeners"]);
        cmd.env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("sockscope-test-no-config"),
        );
        let mut tui = crate::support::pty::Tui::start_cmd(cmd);
        let running = wait_for("a frame or an exit", || {
            let screen = tui.screen();
            if screen.contains("too many open files") || screen.contains("sockdiag") {
                return Some(true);
            }
            let said = String::from_utf8_lossy(&tui_raw(&tui)).contains("too many open files");
            (said || tui_exited(&mut tui)).then_some(false)
        });
        if running {
            tui.keys("q");
        }
        tui.wait_exit();
        let raw = String::from_utf8_lossy(&tui_raw(&tui)).into_owned();
        assert!(!raw.contains("panicked"), "{nofile}: {raw}");
        if !running {
            assert!(raw.contains("too many open files"), "{nofile}: {raw}");
        }
    }
}

fn tui_raw(tui: &crate::support::pty::Tui) -> Vec<u8> {
    tui.raw.lock().unwrap().clone()
}

fn tui_exited(tui: &mut crate::support::pty::Tui) -> bool {
    tui.child.try_wait().ok().flatten().is_some()
}
