//! `sockscope watch` against real sockets: events as they happen, the count of matching
//! sockets, a clean stop on SIGTERM, SIGINT and SIGHUP even when nobody reads its output,
//! and no false owner changes under churn.

use crate::support::*;

#[test]
fn watch_json_sees_a_listener_open_and_close() {
    // A child of its own owns the listener, so the query matches nothing else the
    // parallel tests do.
    let mut kid = Kid::python(
        &format!(
            "{PY_LISTEN}\nsys.stdin.readline()\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.readline()\ns.close()\nprint('closed')\nsys.stdin.read()"
        ),
        &[],
    );
    let mut w = Kid::sockscope(&[
        "watch",
        &format!("pid:{}", kid.pid()),
        "--json",
        "--count",
        "2",
        "--interval",
        "250ms",
    ]);
    let line = w.err_line();
    assert_eq!(line, "sockscope: watching 0 sockets; Ctrl-C stops");
    kid.send("open");
    let port: u16 = kid.line().parse().unwrap();
    let first = w.line();
    kid.send("close");
    assert_eq!(kid.line(), "closed");
    let second = w.line();
    let status = wait_for("watch to stop after 2 events", || {
        w.child.try_wait().unwrap()
    });
    assert!(status.success());
    let a: serde_json::Value = serde_json::from_str(&first).unwrap();
    let b: serde_json::Value = serde_json::from_str(&second).unwrap();
    for doc in [&a, &b] {
        assert_schema("watch.schema.json", doc);
        assert_eq!(doc["local"]["port"], port);
        assert_eq!(doc["state"], "LISTEN");
    }
    assert_eq!(
        (a["event"].as_str(), b["event"].as_str()),
        (Some("opened"), Some("closed"))
    );
    assert_eq!(a["owners"][0]["pid"], kid.pid());
    // The closed event still names the owner, from the snapshot that knew it.
    assert_eq!(b["owners"][0]["pid"], kid.pid());
}

/// "watching N sockets" counts the sockets that match the query, not the whole table.
#[test]
fn watch_counts_the_sockets_that_match() {
    let mut kid = Kid::python(&wildcard_listener_script(), &[]);
    let _port: u16 = kid.line().parse().unwrap();
    let mut w = Kid::sockscope(&["watch", &format!("pid:{}", kid.pid()), "--count", "0"]);
    assert_eq!(w.err_line(), "sockscope: watching 1 socket; Ctrl-C stops");
    let status = wait_for("watch --count 0 to stop", || w.child.try_wait().unwrap());
    assert!(status.success());
}

/// Each stop signal ends watch with status 0, also while its reader reads nothing and
/// its output pipe is full.
#[test]
fn watch_stops_on_term_int_and_hup_even_when_nobody_reads() {
    use rustix::process::{Signal, kill_process};
    // 1,500 listeners: 1,500 events of over 100 bytes, more than twice what a 64 KiB pipe
    // holds.
    let many = "import socket, sys\nsys.stdin.readline()\nls = []\nfor _ in range(1500):\n    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); ls.append(s)\nprint('open', flush=True)\nsys.stdin.read()\n";
    for sig in [Signal::TERM, Signal::INT, Signal::HUP] {
        let mut kid = Kid::python(many, &[]);
        // stdout is a pipe nobody reads: it stays held here, unread, until the end.
        let mut child = std::process::Command::new(bin())
            .args([
                "watch",
                &format!("pid:{}", kid.pid()),
                "--interval",
                "250ms",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let unread = child.stdout.take();
        let err = Lines::of(child.stderr.take().unwrap());
        let w = Reaped(child);
        assert!(err.next("the watching line").contains("watching"));
        kid.send("go");
        assert_eq!(kid.line(), "open");
        // Nobody reads stdout: watch writes until the pipe is full, then blocks.
        // Blocked: tens of KiB sit in the pipe and no more arrive for half a second,
        // although far more is queued.
        let pipe = unread.as_ref().unwrap();
        let (mut last, mut since) = (0, std::time::Instant::now());
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            let now = rustix::io::ioctl_fionread(pipe).unwrap();
            if now != last {
                (last, since) = (now, std::time::Instant::now());
            } else if last >= 32 * 1024 && since.elapsed() >= std::time::Duration::from_millis(500)
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never blocked: {last} bytes in the pipe"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // Our own child.
        let pid = rustix::process::Pid::from_raw(w.0.id() as i32).unwrap();
        kill_process(pid, sig).unwrap();
        let mut w = w;
        let status = wait_for("watch to stop", || w.0.try_wait().unwrap());
        assert_eq!(status.code(), Some(0), "{sig:?}");
    }
}

/// A child that is killed and reaped when the test ends, whatever happened.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Under churn (about 2,000 connections a second, 3,000 alive at once), a socket that
/// closes between the dump and the fd walk is reported closed, never "owner-changed" to
/// nobody first. Before the fix this gave hundreds of such events in a few seconds.
#[test]
fn churn_gives_no_false_owner_changes() {
    let churn = r#"
import socket, sys, time, collections
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1024)
live = collections.deque()
def step():
    for _ in range(20):
        c = socket.create_connection(l.getsockname())
        a, _ = l.accept()
        live.append((c, a))
    while len(live) > 3000:
        c, a = live.popleft()
        a.close(); c.close()
    time.sleep(0.01)
while len(live) < 3000:
    step()
print(l.getsockname()[1], flush=True)
end = time.time() + 4
while time.time() < end:
    step()
print("done", flush=True)
sys.stdin.read()
"#;
    let mut kid = Kid::python(churn, &[]);
    let port: u16 = kid.line().parse().unwrap();
    let mut w = Kid::sockscope(&[
        "watch",
        &format!("port:{port}"),
        "--json",
        "--interval",
        "250ms",
    ]);
    assert!(w.err_line().contains("watching"));
    assert_eq!(kid.line(), "done");
    rustix::process::kill_process(w.rustix_pid(), rustix::process::Signal::TERM).unwrap();
    wait_for("watch to stop", || w.child.try_wait().unwrap());
    let mut events = 0;
    let mut lost = Vec::new();
    while let Some(line) = w.try_line() {
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        events += 1;
        if doc["event"] == "owner-changed" && doc["owner_pids"].as_array().unwrap().is_empty() {
            lost.push(line);
        }
    }
    assert!(events > 1000, "the churn made only {events} events");
    assert!(
        lost.is_empty(),
        "{} of {events} events lost every owner: {:#?}",
        lost.len(),
        &lost[..lost.len().min(3)]
    );
}

/// Connections that open and close between two snapshots: every one is a `closed` event
/// (the kernel's destroy event), marked short-lived, the server's end attributed to the
/// listener's owner; the client's is unseen (a destroy event names no uid: the kernel
/// leaves it 0, which would read as root's).
#[test]
fn watch_sees_connections_that_live_less_than_one_poll() {
    use std::io::{Read, Write};
    let mut kid = Kid::python(
        &format!(
            "{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1], flush=True)\nwhile True:\n    c, _ = s.accept()\n    c.recv(16)\n    c.close()"
        ),
        &[],
    );
    let port: u16 = kid.line().parse().unwrap();
    // A long interval: no poll sees these connections open.
    let mut w = watch_port(port, "3s");
    const N: usize = 20;
    for _ in 0..N {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(b"hello").unwrap();
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
    }
    let (mut server, mut client) = (0, 0);
    while server < N || client < N {
        let doc: serde_json::Value = serde_json::from_str(&w.line()).unwrap();
        if doc["event"] != "closed" {
            continue;
        }
        assert_schema("watch.schema.json", &doc);
        assert_eq!(doc["short_lived"], true, "{doc}");
        if doc["local"]["port"] == port {
            assert_eq!(doc["made_by"]["by"], "listener", "{doc}");
            assert_eq!(doc["made_by"]["pid"], kid.pid(), "{doc}");
            assert_eq!(doc["tcp"]["bytes_received"], 5, "{doc}");
            server += 1;
        } else {
            assert_eq!(doc["remote"]["port"], port, "{doc}");
            assert_eq!(doc["made_by"]["by"], "unseen", "{doc}");
            assert!(doc["made_by"]["uid"].is_null(), "{doc}");
            assert_eq!(doc["tcp"]["bytes_sent"], 5, "{doc}");
            client += 1;
        }
    }
}

/// The destroy groups take unprivileged subscribers (the kernel's diag socket is made
/// with NL_CFG_F_NONROOT_RECV): `nobody` sees short connections too.
#[test]
fn an_unprivileged_watch_sees_short_connections_too() {
    use std::io::Read;
    let b = NobodyBin::new("watch-life");
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&b.exe)
        .args([
            "watch",
            &format!("port:{port}"),
            "--json",
            "--interval",
            "3s",
        ])
        .stderr(std::process::Stdio::piped());
    let mut w = Kid::spawn(cmd);
    assert!(w.err_line().starts_with("sockscope: watching "));
    let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut a, _) = l.accept().unwrap();
    drop(c);
    let mut rest = Vec::new();
    let _ = a.read_to_end(&mut rest);
    drop(a);
    let closed = next_event(&mut w, "a closed event", |doc| doc["event"] == "closed");
    assert_eq!(closed["short_lived"], true, "{closed}");
}

/// "What are all these TIME-WAIT sockets?": while a sockscope runs, `why` and `list`
/// name the process that made them (a one-shot command reads the running one's state
/// file).
#[test]
fn why_names_who_made_the_time_waits_while_a_sockscope_runs() {
    use std::io::Read;
    let port = crate::support::stack::fresh_port();
    // The server end closes first: the TIME-WAITs are on its side, port `port`.
    let mut kid = Kid::python(
        &format!(
            "{PY_LISTEN}\ns = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(16)\nprint('up', flush=True)\nfor _ in range(5):\n    c, _ = s.accept()\n    c.close()\nsys.stdin.read()"
        ),
        &[],
    );
    assert_eq!(kid.line(), "up");
    // A runtime directory of the test's own: another sockscope running on the host as
    // root (a benchmark, a live view) writes root's state file in /run/sockscope.
    let runtime = crate::support::stack::TempDir::private("runtime");
    let env = [("XDG_RUNTIME_DIR", runtime.0.to_str().unwrap())];
    let mut cmd = std::process::Command::new(crate::support::bin());
    cmd.args(["watch", "--count", "100000", "--interval", "300ms"])
        .envs(env)
        .stderr(std::process::Stdio::piped());
    let mut w = Kid::spawn(cmd);
    assert!(w.err_line().starts_with("sockscope: watching "));
    for _ in 0..5 {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest);
    }
    let pid = kid.pid();
    let out = wait_for("why to name the maker", || {
        let (_, out, _) = run_env(&["why", &port.to_string()], &env);
        out.contains(&format!("made by {pid}/python3"))
            .then_some(out)
    });
    assert!(out.contains("5 made by"), "{out}");
    let (_, json, _) = run_env(&["why", &port.to_string(), "--json"], &env);
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_schema("why.schema.json", &doc);
    assert_eq!(doc["time_wait"]["made_by"][0]["pid"], pid, "{doc:#}");
    let (_, list, _) = run_env(
        &["list", "--all", &format!("port:{port}"), "state:tw"],
        &env,
    );
    assert!(list.contains(&format!("(made by {pid}/python3)")), "{list}");
    drop(w);
}

/// The server closes first and the client keeps its end open past a poll: the server's
/// end is an orphan in FIN-WAIT-2 for a while, then a TIME-WAIT. Its maker is still the
/// listener's owner once it is a TIME-WAIT (review finding: the orphan's round forgot it,
/// and `why` said the record did not have it), and `watch` says `closed` once, with no
/// `opened` of the orphan on the same addresses.
#[test]
fn a_server_side_close_seen_as_fin_wait_2_keeps_its_maker() {
    use std::io::{Read, Write};
    let port = crate::support::stack::fresh_port();
    let mut kid = Kid::python(
        &format!(
            "{PY_LISTEN}\ns = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(16)\nprint('up', flush=True)\nc, _ = s.accept()\nc.recv(10)\nc.close()\nsys.stdin.read()"
        ),
        &[],
    );
    assert_eq!(kid.line(), "up");
    let runtime = crate::support::stack::TempDir::private("runtime");
    let env = [("XDG_RUNTIME_DIR", runtime.0.to_str().unwrap())];
    let mut cmd = std::process::Command::new(crate::support::bin());
    cmd.args([
        "watch",
        &format!("port:{port}"),
        "--json",
        "--interval",
        "300ms",
    ])
    .envs(env)
    .stderr(std::process::Stdio::piped());
    let mut w = Kid::spawn(cmd);
    assert!(w.err_line().starts_with("sockscope: watching "));
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let client = c.local_addr().unwrap().port();
    c.write_all(b"x").unwrap();
    // The server has closed once our read sees its FIN; the orphan then waits for ours.
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    let orphan =
        |doc: &serde_json::Value| doc["local"]["port"] == port && doc["remote"]["port"] == client;
    let fin_wait = next_event(&mut w, "the orphan's FIN-WAIT-2", |doc| {
        orphan(doc) && (doc["state"] == "FIN-WAIT-2" || doc["event"] == "closed")
    });
    assert_eq!(
        fin_wait["event"], "closed",
        "one event, not opened: {fin_wait}"
    );
    // Past a few polls, so that a round has seen the orphan before it is a TIME-WAIT.
    // The running watch rewrites its state file every few seconds.
    let seen = wait_for("list to name the orphan's maker", || {
        let (_, out, _) = run_env(
            &["list", "--all", &format!("port:{port}"), "state:fin-wait-2"],
            &env,
        );
        (out.contains(&format!(":{client}")) && out.contains("(made by")).then_some(out)
    });
    assert!(
        seen.contains(&format!("(made by {}/python3)", kid.pid())),
        "the orphan is the listener owner's: {seen}"
    );
    drop(c);
    let pid = kid.pid();
    let out = wait_for("why to name the TIME-WAIT's maker", || {
        let (_, out, _) = run_env(&["why", &port.to_string()], &env);
        out.contains("TIME-WAIT").then_some(out)
    });
    assert!(out.contains(&format!("made by {pid}/python3")), "{out}");
    while let Some(line) = w.poll_line() {
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&line) {
            assert!(
                !(orphan(&doc) && doc["event"] == "opened"),
                "the orphan is not said to open: {doc}"
            );
        }
    }
}

/// A subscriber that falls behind is never silent: with a tiny receive buffer (the
/// kernel drops what does not fit: ENOBUFS) and a burst of closes, `watch` says how
/// many times events were lost and when, and goes on with a table resynced by its full
/// dumps (a listener opened afterwards is still seen).
#[test]
fn watch_reports_lost_destroy_events_and_goes_on() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut cmd = std::process::Command::new(crate::support::bin());
    cmd.args(["watch", "--json", "--interval", "1s"])
        .env("SOCKSCOPE_EVENT_BUFFER", "4096")
        .stderr(std::process::Stdio::piped());
    let mut w = Kid::spawn(cmd);
    assert!(w.err_line().starts_with("sockscope: watching "));
    for _ in 0..400 {
        let c = std::net::TcpStream::connect(addr).unwrap();
        let (a, _) = l.accept().unwrap();
        drop(c);
        drop(a);
    }
    // Under a loaded machine this test reads stdout slower than the whole host's events
    // come: a line that says so ("events dropped here") may come first.
    let mut said = w.err_line();
    while said.contains("dropped here") {
        said = w.err_line();
    }
    assert!(
        said.contains("warning: events lost: ") && said.contains("; resynced"),
        "{said}"
    );
    let later = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = later.local_addr().unwrap().port();
    next_event(&mut w, "the listener opened after the loss", |doc| {
        doc["event"] == "opened" && doc["local"]["port"] == port && doc["state"] == "LISTEN"
    });
}

/// Another network namespace (an `unshare --net` pair of ends): its short connections
/// reach `watch` through a subscriber made in that namespace, marked with its inode.
#[test]
fn watch_sees_short_connections_in_another_network_namespace() {
    assert!(
        is_root(),
        "entering another namespace needs root: run the suite as root, as CI does"
    );
    let script = format!(
        "{PY_LISTEN}\ns = listen()\nport = s.getsockname()[1]\nprint(port, flush=True)\nfor line in sys.stdin:\n    for _ in range(10):\n        c = socket.create_connection(('127.0.0.1', port))\n        a, _ = s.accept()\n        c.close(); a.close()\n    print('done', flush=True)"
    );
    // Watching first: the namespace's listener is then an opened event.
    let mut w = Kid::sockscope(&["watch", "--json", "--interval", "300ms"]);
    assert!(w.err_line().starts_with("sockscope: watching "));
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "--net",
        "--",
        "sh",
        "-c",
        "ip link set lo up && exec python3 -u -c \"$0\"",
    ])
    .arg(&script);
    let mut kid = Kid::spawn(cmd);
    let port: u16 = kid.line().parse().unwrap();
    let inode = std::fs::metadata(format!("/proc/{}/ns/net", kid.pid()))
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
        .unwrap();
    // Its namespace is found (and its reader opened) within a few snapshots.
    next_event(&mut w, "the namespace's listener", |doc| {
        doc["local"]["port"] == port && doc["netns"]["inode"] == inode
    });
    kid.send("go");
    assert_eq!(kid.line(), "done");
    let closed = next_event(&mut w, "a short connection of that namespace", |doc| {
        doc["event"] == "closed"
            && doc["short_lived"] == true
            && (doc["local"]["port"] == port || doc["remote"]["port"] == port)
    });
    assert_schema("watch.schema.json", &closed);
    assert_eq!(closed["netns"]["inode"], inode, "{closed}");
}

/// Reads `watch --json` lines until one matches, without pausing between lines (a busy
/// machine's events come by the hundred), against one deadline.
/// `watch port:P --json` at `interval`, once it says it is watching.
fn watch_port(port: u16, interval: &str) -> Kid {
    let mut w = Kid::sockscope(&[
        "watch",
        &format!("port:{port}"),
        "--json",
        "--interval",
        interval,
    ]);
    assert!(w.err_line().starts_with("sockscope: watching "));
    w
}

fn next_event(
    w: &mut Kid,
    what: &str,
    matches: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let end = std::time::Instant::now() + DEADLINE;
    loop {
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        let line = w.line();
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&line)
            && matches(&doc)
        {
            return doc;
        }
    }
}

/// Sockscope's own bind probes on a listener's port (`why` makes four) are sockets that
/// never connected: no `closed` event, nothing said made by the listener's owner. The
/// one real connection made after them is reported, both ends.
#[test]
fn bind_probes_are_not_short_connections() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut w = watch_port(port, "3s");
    let (code, _, err) = run(&["why", &port.to_string()]);
    assert_eq!(code, 1, "{err}");
    let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (a, _) = l.accept().unwrap();
    drop(c);
    drop(a);
    let mut ends = 0;
    while ends < 2 {
        let doc = next_event(&mut w, "the connection's closed events", |doc| {
            doc["event"] == "closed"
        });
        assert_ne!(doc["remote"]["port"], 0, "a probe reported closed: {doc}");
        ends += 1;
    }
}

/// A connection reset by its own side (SO_LINGER 0) is disconnected before the kernel
/// frees it: its destroy event says 0.0.0.0 and peer port 0. One a poll saw is reported
/// with the addresses the poll saw, so `watch port:P` still sees its close.
#[test]
fn a_reset_connection_a_poll_saw_keeps_its_addresses() {
    use std::os::fd::AsFd;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut w = watch_port(port, "250ms");
    let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (a, _) = l.accept().unwrap();
    let mine = c.local_addr().unwrap().port();
    // A poll sees the client end open.
    next_event(&mut w, "the client end opened", |doc| {
        doc["event"] == "opened" && doc["local"]["port"] == mine
    });
    rustix::net::sockopt::set_socket_linger(c.as_fd(), Some(std::time::Duration::ZERO)).unwrap();
    drop(c);
    let closed = next_event(&mut w, "the client end closed", |doc| {
        doc["event"] == "closed" && doc["local"]["port"] == mine
    });
    assert_eq!(closed["local"]["addr"], "127.0.0.1", "{closed}");
    assert_eq!(closed["remote"]["port"], port, "{closed}");
    // Said by its destroy event (made by its owner), or, when the kernel's work queue
    // sent that event after a dump had already missed the socket, by the diff (its
    // owners as the poll saw them; the late event is then not said again).
    if closed["made_by"].is_null() {
        assert_eq!(closed["owner_pids"][0], std::process::id(), "{closed}");
    } else {
        assert_eq!(closed["made_by"]["by"], "owner", "{closed}");
        assert_eq!(closed["made_by"]["pid"], std::process::id(), "{closed}");
    }
    drop(a);
}

/// A connection reset by its own side before any poll saw it: the kernel clears its
/// peer port, local address and counters before freeing it, but it is still a closed
/// connection (its peer's address is left): reported, not taken for a bind probe.
#[test]
fn a_reset_no_poll_saw_is_still_a_closed_connection() {
    use std::io::{Read, Write};
    use std::os::fd::AsFd;
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut w = watch_port(port, "3s");
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut a, _) = l.accept().unwrap();
    c.write_all(b"hello").unwrap();
    let mut buf = [0u8; 5];
    a.read_exact(&mut buf).unwrap();
    // The server resets: its end keeps its own port, the listener's.
    rustix::net::sockopt::set_socket_linger(a.as_fd(), Some(std::time::Duration::ZERO)).unwrap();
    drop(a);
    let closed = next_event(&mut w, "the server end's closed event", |doc| {
        doc["event"] == "closed" && doc["local"]["port"] == port
    });
    assert_eq!(closed["remote"]["addr"], "127.0.0.1", "{closed}");
    assert_eq!(closed["short_lived"], true, "{closed}");
    drop(c);
}
