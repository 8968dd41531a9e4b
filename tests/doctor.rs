//! The port doctor against real processes the tests start: every verdict of `why`, the
//! safe `kill`, `wait-free` and `watch`. Only processes started here are signalled.

use crate::support::*;
use std::io::Read as _;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

fn why_json(port: u16) -> (i32, serde_json::Value) {
    let (code, out, err) = run(&["why", &port.to_string(), "--json"]);
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_schema("why.schema.json", &doc);
    (code, doc)
}

fn flags(doc: &serde_json::Value) -> Vec<String> {
    doc["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["flag"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn why_a_free_port_exits_0() {
    let port = {
        let l = TcpListener::bind("0.0.0.0:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, doc) = why_json(port);
    assert_eq!(code, 0, "{doc:#}");
    assert_eq!(doc["verdict"], "free");
    assert_eq!(doc["bindable"], true);
    let (code, out, _) = run(&["why", &format!(":{port}")]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("port {port} is free")), "{out}");
}

#[test]
fn why_a_child_listener_names_its_pid() {
    let mut kid = Kid::python(&wildcard_listener_script(), &[]);
    let port: u16 = kid.line().parse().unwrap();
    let (code, doc) = why_json(port);
    assert_eq!(code, 1);
    assert_eq!(doc["verdict"], "listener");
    assert_eq!(doc["holders"][0]["pid"], kid.pid());
    assert!(
        doc["headline"]
            .as_str()
            .unwrap()
            .contains(&kid.pid().to_string())
    );
    assert_eq!(doc["holders"][0]["parents"][0]["pid"], std::process::id());
    let (code, out, _) = run(&["why", &port.to_string()]);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!("holder  {} python3", kid.pid())),
        "{out}"
    );
    assert!(out.contains(&format!("sockscope kill :{port}")), "{out}");
}

#[test]
fn why_a_stopped_child_says_stopped() {
    let mut kid = Kid::python(&wildcard_listener_script(), &[]);
    let port: u16 = kid.line().parse().unwrap();
    let pid = rustix::process::Pid::from_raw(kid.pid() as i32).unwrap();
    // Our own child.
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    wait_for("state T", || {
        let st = std::fs::read_to_string(format!("/proc/{}/stat", kid.pid())).ok()?;
        st[st.rfind(')')? + 2..].starts_with('T').then_some(())
    });
    let (code, doc) = why_json(port);
    assert_eq!(code, 1);
    assert!(flags(&doc).contains(&"STOPPED".to_owned()), "{doc:#}");
    let (_, out, _) = run(&["why", &port.to_string()]);
    assert!(
        out.contains("STOPPED") && out.contains("suspended"),
        "{out}"
    );
    rustix::process::kill_process(pid, rustix::process::Signal::CONT).unwrap();
}

#[test]
fn why_time_wait_only_after_a_server_side_active_close() {
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = l.accept().unwrap();
    // The server closes first: the TIME-WAIT is on the server's port.
    drop(server);
    let mut buf = [0u8; 1];
    assert_eq!(client.read(&mut buf).unwrap(), 0);
    drop(client);
    drop(l);
    let doc = wait_for("TIME-WAIT only", || {
        let (code, doc) = why_json(port);
        (doc["verdict"] == "time-wait-only").then_some((code, doc))
    });
    assert_eq!(doc.0, 1);
    assert!(doc.1["time_wait"]["count"].as_u64().unwrap() >= 1);
    assert!(doc.1["time_wait"]["last_expires_ms"].as_u64().unwrap() > 0);
    assert!(doc.1["next"][0].as_str().unwrap().contains("SO_REUSEADDR"));
}

#[test]
fn why_an_orphan_names_the_live_holder() {
    // The child starts a session of its own (like a login shell), listens, forks a
    // grandchild that inherits the socket, and exits: the grandchild is an orphan of a
    // dead session. It exits by itself when our end of its stdin closes.
    let script = format!(
        "{PY_LISTEN}\nimport signal\nos.setsid()\ns = listen('0.0.0.0')\npid = os.fork()\nif pid == 0:\n    signal.alarm(120)\n    sys.stdin.read()\n    os._exit(0)\nprint(s.getsockname()[1], pid)\nos._exit(0)"
    );
    let mut kid = Kid::python(&script, &[]);
    let line = kid.line();
    let mut it = line.split_whitespace();
    let port: u16 = it.next().unwrap().parse().unwrap();
    let grandchild: u32 = it.next().unwrap().parse().unwrap();
    wait_for("the session leader to exit", || {
        kid.child.try_wait().unwrap()
    });
    let doc = wait_for("ORPHAN", || {
        let (_, doc) = why_json(port);
        flags(&doc).contains(&"ORPHAN".to_owned()).then_some(doc)
    });
    assert_eq!(doc["verdict"], "listener");
    let holders: Vec<u64> = doc["holders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(holders, vec![u64::from(grandchild)]);
    drop(kid); // closes the grandchild's stdin: it exits
    wait_for("grandchild gone", || {
        (!std::path::Path::new(&format!("/proc/{grandchild}")).exists()).then_some(())
    });
}

#[test]
fn why_a_full_accept_queue_is_backlog() {
    let mut kid = Kid::python(
        "import socket,sys\ns=socket.socket(); s.bind(('0.0.0.0',0)); s.listen(1)\nprint(s.getsockname()[1])\nsys.stdin.read()",
        &[],
    );
    let port: u16 = kid.line().parse().unwrap();
    // Nobody accepts: two connections fill a backlog of 1.
    let _c1 = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(10))
        .unwrap();
    let _c2 = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(10))
        .unwrap();
    let doc = wait_for("BACKLOG", || {
        let (_, doc) = why_json(port);
        flags(&doc).contains(&"BACKLOG".to_owned()).then_some(doc)
    });
    assert_eq!(doc["listeners"][0]["send_q"], 1);
    assert!(doc["listeners"][0]["recv_q"].as_u64().unwrap() >= 1);
}

#[test]
fn why_as_nobody_says_hidden() {
    assert!(
        is_root(),
        "this test switches to nobody: run the suite as root, as CI does"
    );
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let b = NobodyBin::new("why");
    let (code, out, err) = b.run(&["why", &port.to_string(), "--json"]);
    assert_eq!(code, 1, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_schema("why.schema.json", &doc);
    assert_eq!(doc["verdict"], "hidden");
    assert!(
        doc["next"][0]
            .as_str()
            .unwrap()
            .contains("sudo sockscope why")
    );
    drop(l);
}

const IGNORES_TERM: &str = "import socket,sys,signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ns=socket.socket(); s.bind(('0.0.0.0',0)); s.listen()\nprint(s.getsockname()[1], flush=True)\nsys.stdin.read()";

/// `kill :PORT` runs in a pid namespace of the test's own: whatever else holds the port
/// on this machine (a `[::1]` or UDP holder of the same number) is invisible there and
/// cannot be signalled.
#[test]
fn kill_escalates_when_term_is_ignored() {
    let ns = PidNs::new();
    let mut kid = ns.python(IGNORES_TERM, &[]);
    let port: u16 = kid.line().parse().unwrap();
    let (code, out, err) = ns.sockscope(&[
        "kill",
        &format!(":{port}"),
        "--yes",
        "--timeout",
        "1s",
        "--escalate",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("sent SIGTERM")
            && out.contains("escalating to SIGKILL")
            && out.contains("sent SIGKILL"),
        "{out}"
    );
    assert!(
        out.contains(&format!("port {port} is free")) || out.contains("TIME-WAIT"),
        "{out}"
    );
    let status = wait_for("the child to die", || kid.child.try_wait().unwrap());
    assert!(!status.success());
}

#[test]
fn kill_without_escalate_reports_still_held() {
    let ns = PidNs::new();
    let mut kid = ns.python(IGNORES_TERM, &[]);
    let port: u16 = kid.line().parse().unwrap();
    let (code, out, _) = ns.sockscope(&["kill", &port.to_string(), "--yes", "--timeout", "500ms"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("port {port} is in use: listening by ")),
        "{out}"
    );
    assert!(out.contains("it may ignore the signal"), "{out}");
    assert!(
        kid.child.try_wait().unwrap().is_none(),
        "it ignored TERM and lives"
    );
}

#[test]
fn kill_dry_run_signals_nothing() {
    let mut kid = Kid::python_own_group(&wildcard_listener_script(), &[]);
    let _port: u16 = kid.line().parse().unwrap();
    let pid = kid.pid();
    let (code, out, _) = run(&[
        "kill",
        &format!("pid:{pid}"),
        "--dry-run",
        "--signal",
        "KILL",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("would send SIGKILL to {pid}/python3"))
            && out.contains("nothing was sent"),
        "{out}"
    );
    assert!(kid.child.try_wait().unwrap().is_none(), "still alive");
}

#[test]
fn kill_refuses_without_a_terminal_or_yes() {
    let mut kid = Kid::python_own_group(&wildcard_listener_script(), &[]);
    let _port: u16 = kid.line().parse().unwrap();
    let (code, _, err) = run(&["kill", &format!("pid:{}", kid.pid())]);
    assert_eq!(code, 2);
    assert!(err.contains("add --yes"), "{err}");
    assert!(kid.child.try_wait().unwrap().is_none());
}

/// Pid 1 here is the test namespace's own init: even if the guard failed, nothing of the
/// machine's would be hit.
#[test]
fn kill_refuses_pid_1_without_sending() {
    let ns = PidNs::new();
    let (code, _, err) = ns.sockscope(&["kill", "pid:1", "--yes"]);
    assert_eq!(code, 2);
    assert!(err.contains("pid 1 (init)"), "{err}");
    assert!(ns.alive(1).is_some());
}

#[test]
fn kill_refuses_its_own_process_group() {
    // A child in the test's own group: a sockscope started by the test is in it too.
    let mut kid = Kid::python(&wildcard_listener_script(), &[]);
    let _port: u16 = kid.line().parse().unwrap();
    let (code, _, err) = run(&["kill", &format!("pid:{}", kid.pid()), "--yes"]);
    assert_eq!(code, 2);
    assert!(err.contains("own process group"), "{err}");
    assert!(kid.child.try_wait().unwrap().is_none());
}

#[test]
fn kill_as_nobody_is_permission_denied() {
    assert!(
        is_root(),
        "this test switches to nobody: run the suite as root, as CI does"
    );
    let mut kid = Kid::python_own_group(&wildcard_listener_script(), &[]);
    let _port: u16 = kid.line().parse().unwrap();
    let b = NobodyBin::new("kill");
    let (code, out, err) = b.run(&["kill", &format!("pid:{}", kid.pid()), "--yes"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("permission denied") && err.contains("run as root"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        kid.child.try_wait().unwrap().is_none(),
        "root's child is untouched"
    );
}

#[test]
fn wait_free_waits_for_the_port() {
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (code, _, err) = run(&["wait-free", &port.to_string(), "--timeout", "300ms"]);
    assert_eq!(code, 1);
    // On timeout it says what still holds the port: the same verdict as `why`.
    let me = std::process::id();
    assert!(
        err.contains("still not free after 300ms")
            && err.contains(&format!("port {port} is in use: listening by {me}/")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let mut waiter = Command::new(bin())
        .args(["wait-free", &port.to_string(), "--timeout", "20s"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    drop(l);
    let status = wait_for("wait-free to return", || waiter.try_wait().unwrap());
    assert_eq!(status.code(), Some(0));
}

#[test]
fn completions_and_man_come_from_the_cli() {
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("wait-free") && out.contains("sockscope"));
    let (code, out, _) = run(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(".TH sockscope") || out.contains(".TH SOCKSCOPE"),
        "{}",
        &out[..200.min(out.len())]
    );
}

/// The main thread exits with `pthread_exit` while a thread keeps the listener: the holder
/// shows state Z, but it is alive, not a zombie: no ZOMBIE flag, and `why` says what it is.
#[test]
fn why_a_holder_whose_main_thread_exited_is_alive_not_a_zombie() {
    let mut kid = Kid::python(PY_MAIN_THREAD_EXITS, &["0.0.0.0"]);
    let port: u16 = kid.line().parse().unwrap();
    let doc = wait_for("the main thread to exit", || {
        let (_, doc) = why_json(port);
        (doc["holders"][0]["state"] == "Z").then_some(doc)
    });
    assert_eq!(doc["verdict"], "listener");
    assert_eq!(doc["holders"][0]["pid"], kid.pid());
    assert!(!flags(&doc).contains(&"ZOMBIE".to_owned()), "{doc:#}");
    let (_, out, _) = run(&["why", &port.to_string()]);
    assert!(
        out.contains("its main thread exited; 1 thread still runs and holds the socket"),
        "{out}"
    );
}

/// Binds a port (0: the kernel picks) on 127.0.0.1 and neither listens nor connects;
/// prints the port, then lives until stdin closes.
const BOUND_ONLY: &str = r#"
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
sys.stdin.read()
"#;

/// A socket bound without listen() holds the port (a plain bind fails), and no dump
/// shows it unless asked: `why` names its holder instead of "no socket here explains
/// it", and says the verdict `bound`.
#[test]
fn why_a_socket_bound_without_listening_names_its_holder() {
    let mut kid = Kid::python(BOUND_ONLY, &[]);
    let port: u16 = kid.line().parse().unwrap();
    let (code, doc) = why_json(port);
    assert_eq!(code, 1, "{doc:#}");
    assert_eq!(doc["verdict"], "bound", "{doc:#}");
    assert_eq!(doc["holders"][0]["pid"], kid.pid(), "{doc:#}");
    assert_eq!(doc["bound"][0]["local"]["port"], port, "{doc:#}");
    assert_eq!(doc["bound"][0]["state"], "UNCONN", "{doc:#}");
    let (code, out, _) = run(&["why", &port.to_string()]);
    assert_eq!(code, 1);
    assert!(
        out.contains(&format!(
            "port {port} is held by a socket bound to it without listening, by {}/python3",
            kid.pid()
        )),
        "{out}"
    );
    assert!(out.contains(&format!("sockscope kill :{port}")), "{out}");
    assert!(!out.contains("no socket"), "{out}");
}

/// `kill :P` signals the holder of a socket bound without listening (it blocks the
/// port as a listener does), and the port is free after.
#[test]
fn kill_signals_the_holder_of_a_socket_bound_without_listening() {
    let mut kid = Kid::python_own_group(BOUND_ONLY, &[]);
    let port: u16 = kid.line().parse().unwrap();
    let pid = kid.pid();
    let (code, out, err) = run(&["kill", &format!(":{port}"), "--yes", "--timeout", "10s"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("sent SIGTERM to {pid}/python3")),
        "{out}"
    );
    assert!(out.contains(&format!("port {port} is free")), "{out}");
    let status = wait_for("the child to die", || kid.child.try_wait().unwrap());
    assert!(!status.success());
}

/// A wildcard socket bound with `SO_REUSEADDR` and not listening, printing its port.
const BOUND_REUSE: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 0))
print(s.getsockname()[1])
sys.stdin.read()
"#;

/// A listener on 127.0.0.1 and the port given, with `SO_REUSEADDR`.
const LISTEN_REUSE: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(8)
print("listening")
sys.stdin.read()
"#;

/// `kill :P` is "freed" (exit 0) only when the port is: a socket still bound to it
/// without listening, which the release judgement (listeners only) does not watch,
/// keeps it held after the listener it signalled exited (review finding: exit 0, and
/// `kill :P && start-server` failed with EADDRINUSE).
#[test]
fn kill_exits_1_when_a_socket_bound_without_listening_still_holds_the_port() {
    let mut bound = Kid::python(BOUND_REUSE, &[]);
    let port: u16 = bound.line().parse().unwrap();
    let mut listener = Kid::python_own_group(LISTEN_REUSE, &[&port.to_string()]);
    assert_eq!(listener.line(), "listening");
    let (code, out, err) = run(&["kill", &format!(":{port}"), "--yes", "--timeout", "10s"]);
    assert!(
        out.contains(&format!("sent SIGTERM to {}/python3", listener.pid())),
        "{out}{err}"
    );
    assert!(
        out.contains(&format!(
            "port {port} is held by a socket bound to it without listening, by {}/python3",
            bound.pid()
        )),
        "{out}"
    );
    assert_eq!(code, 1, "{out}{err}");
    let status = wait_for("the listener to die", || listener.child.try_wait().unwrap());
    assert!(!status.success());
    assert!(
        bound.child.try_wait().unwrap().is_none(),
        "the bound holder was not a target and lives on"
    );
}

/// Nothing to signal is not "freed": a port still used by a connection (no listener,
/// no socket bound alone) exits 1, as the help says; a free one exits 0.
#[test]
fn kill_with_nothing_to_signal_exits_1_while_the_port_is_held() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (_server, _) = l.accept().unwrap();
    // The client's own port: held by an established connection only.
    let port = client.local_addr().unwrap().port();
    let (code, out, err) = run(&["kill", &format!(":{port}"), "--yes"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("nothing to signal"), "{out}");
    drop(client);
    drop(l);
    let free = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, out, _) = run(&["kill", &format!(":{free}"), "--yes"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("nothing to signal: port {free} is free")),
        "{out}"
    );
}

/// Connections that wait in a listener's accept queue when their peers close are
/// CLOSE-WAIT with no file (nobody accepted them): `why` says they were never accepted
/// and whose queue they are in, not "held by no visible process" and a bug in someone's
/// code (review finding).
#[test]
fn close_waits_never_accepted_are_said_to_wait_in_the_accept_queue() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    for _ in 0..3 {
        drop(TcpStream::connect(("127.0.0.1", port)).unwrap());
    }
    let out = wait_for("the queued connections to be CLOSE-WAIT", || {
        let (_, out, _) = run(&["why", &port.to_string()]);
        out.contains("CLOSE-WAIT").then_some(out)
    });
    assert!(
        out.contains("3 connections never accepted: they wait in the accept queue of"),
        "{out}"
    );
    assert!(out.contains(&format!("{}/", std::process::id())), "{out}");
    assert!(!out.contains("no visible process"), "{out}");
    assert!(!out.contains("a bug in its code"), "{out}");
    assert!(out.contains("never accepted: they go once"), "{out}");
    drop(l);
}
