//! `sockscope close`, with real sockets the tests made: TIME-WAIT freed, a connection cut,
//! a listener refused, a stale cookie left alone, nobody refused, broad queries refused,
//! an address selected exactly, free words refused, `--many` for broad selections.

use crate::support::stack::fresh_port;
use crate::support::*;
use sockscope::collect::Collector;
use sockscope::diagnose::probe::Probe;
use sockscope::model::{Scope, State};
use std::collections::BTreeSet;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};

/// `n` TIME-WAIT sockets on `port`, left by the server side closing first.
fn time_waits(port: u16, n: usize) {
    let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
    for _ in 0..n {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (s, _) = l.accept().unwrap();
        drop(s);
        let mut b = [0u8; 1];
        let _ = c.read(&mut b);
    }
    drop(l);
    let mut c = collector();
    wait_for("the TIME-WAIT sockets", || {
        let snap = c.snapshot(Scope::All).unwrap();
        let k = snap
            .sockets
            .iter()
            .filter(|s| s.local().port() == port && s.state == State::TimeWait)
            .count();
        (k >= n).then_some(())
    });
}

#[test]
fn time_wait_closed_frees_the_port_for_a_plain_bind() {
    assert!(
        is_root(),
        "closing sockets needs root: run the suite as root, as CI does"
    );
    let port = fresh_port();
    time_waits(port, 3);
    assert!(!Probe::plain_free(port), "TIME-WAIT blocks a plain bind");
    let (code, out, err) = run(&["close", &format!(":{port}"), "state:time-wait", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("will close 3 sockets"), "{out}");
    assert!(out.contains("closed 3 of 3 sockets"), "{out}");
    assert!(
        out.contains(&format!("port {port}: a plain bind works now")),
        "{out}"
    );
    assert!(Probe::plain_free(port));
}

#[test]
fn a_cut_connection_fails_its_owner_and_a_listener_is_refused() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = l.accept().unwrap();
    let cport = client.local_addr().unwrap().port();

    // The listener: refused, and it still accepts.
    let (code, _, err) = run(&["close", &format!(":{port}"), "state:listen", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the port stays bound"), "{err}");
    let _again = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = l.accept().unwrap();

    // The client's end of the connection.
    let (code, out, err) = run(&[
        "close",
        &format!("lport:{cport}"),
        &format!("rport:{port}"),
        "--yes",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("closed 1 of 1 socket"), "{out}");
    assert!(
        out.contains("ECONNABORTED"),
        "the plan says what the owner gets: {out}"
    );
    let mut b = [0u8; 1];
    let e = client.read(&mut b).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
        ),
        "{e:?}"
    );
}

#[test]
fn a_socket_whose_cookie_changed_is_not_touched() {
    let port = fresh_port();
    time_waits(port, 1);
    let mut c = collector();
    let snap = c.snapshot(Scope::All).unwrap();
    let mut s = snap
        .sockets
        .iter()
        .find(|s| s.local().port() == port && s.state == State::TimeWait)
        .unwrap()
        .clone();
    assert_ne!(s.cookie, 0);
    s.cookie ^= 1;
    assert!(!c.destroy(&s).unwrap(), "another cookie: nothing closed");
    assert!(!Probe::plain_free(port), "the TIME-WAIT is still there");
    s.cookie ^= 1;
    assert!(c.destroy(&s).unwrap());
    // Nothing of ours holds the port now; poll rather than race a probe of a moment.
    wait_for("the port to bind", || Probe::plain_free(port).then_some(()));
}

#[test]
fn nobody_and_broad_queries_are_refused() {
    let b = NobodyBin::new("close");
    let (code, _, err) = b.run(&["close", ":22", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs root (CAP_NET_ADMIN)"), "{err}");
    let (code, _, err) = run(&["close", "state:established", "--yes"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("must name a port, pid, address or inode"),
        "{err}"
    );
    let (code, _, err) = run(&["close", ":53", "--dry-run"]);
    assert!(
        code == 0 || (code == 2 && (err.contains("add `proto:udp`") || err.contains("--many"))),
        "{err}"
    );
}

/// The sockets a `close --dry-run` lists, by their local address.
fn listed(out: &str) -> BTreeSet<SocketAddr> {
    out.lines()
        .filter(|l| l.starts_with("  tcp"))
        .map(|l| {
            let local = l.split_whitespace().nth(2).unwrap();
            local
                .parse()
                .unwrap_or_else(|_| panic!("an address in {l}"))
        })
        .collect()
}

/// Both ends of a new connection to `l`: (client, the accepted server end).
fn connect(l: &TcpListener) -> (TcpStream, TcpStream) {
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Regression (issue 19): `close 127.0.0.3` selected sockets on 127.0.0.35 and every
/// socket of a process whose command line named 127.0.0.3, and a query matching all
/// connections of the host passed. The addresses are `127.A.B.3` and `127.A.B.35`, A.B
/// from this test's pid, so that two runs at once never see each other's sockets.
#[test]
fn an_address_selects_exactly_that_address_and_broad_selections_need_many() {
    let pid = std::process::id();
    let net = format!("127.{}.{}", (pid >> 8) & 0xff, pid & 0xff);
    let (three, thirty_five) = (format!("{net}.3"), format!("{net}.35"));
    let l3 = TcpListener::bind((three.as_str(), 0)).unwrap();
    let l35 = TcpListener::bind((thirty_five.as_str(), 0)).unwrap();
    let (c3, s3) = connect(&l3);
    let (c35, s35) = connect(&l35);
    // A child whose command line names the address: connected to the .35 listener, and
    // to itself on 127.0.0.1.
    let script = r#"
import socket, sys
up = socket.create_connection((sys.argv[2], int(sys.argv[3])))
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen()
a = socket.create_connection(l.getsockname()); b, _ = l.accept()
print(up.getsockname()[1], a.getsockname()[1], flush=True)
sys.stdin.read()
"#;
    let port35 = l35.local_addr().unwrap().port().to_string();
    let mut kid = Kid::python(
        script,
        &[&format!("--upstream={three}"), &thirty_five, &port35],
    );
    let line = kid.line();
    let (up_port, own_port) = line.split_once(' ').unwrap();
    let (up_port, own_port): (u16, u16) = (up_port.parse().unwrap(), own_port.parse().unwrap());
    let (s_kid, _) = l35.accept().unwrap();
    // Every socket is seen with its owner before a command is asked.
    let ours = std::process::id();
    let mut c = collector();
    wait_for("the sockets with their owners", || {
        let snap = c.snapshot(Scope::All).unwrap();
        let owned = |port: u16, pid: u32| {
            snap.sockets.iter().any(|s| {
                s.local().port() == port && s.state == State::Estab && s.owners.contains(&pid)
            })
        };
        let mine = [&c3, &s3, &c35, &s35, &s_kid]
            .iter()
            .all(|t| owned(t.local_addr().unwrap().port(), ours));
        (mine && owned(up_port, kid.pid()) && owned(own_port, kid.pid())).then_some(())
    });

    // The address as a bare word: both ends of the .3 connection, nothing else. (Asked
    // again while a child another test starts holds this process's fds until its exec.)
    let (code, out, err) = wait_for("one holder of the .3 sockets", || {
        let r = run(&["close", &three, "state:estab", "--dry-run"]);
        (!r.2.contains("sockets of 2 processes")).then_some(r)
    });
    assert_eq!(
        code, 0,
        "one process, two sockets: no --many needed\n{out}{err}"
    );
    let want: BTreeSet<SocketAddr> = [&c3, &s3].iter().map(|t| t.local_addr().unwrap()).collect();
    assert_eq!(listed(&out), want, "{out}");
    assert!(!out.contains(&thirty_five), "{out}");
    assert!(!out.contains(&format!("{}/", kid.pid())), "{out}");

    // A free word is refused, whatever it would match.
    let (code, out, err) = run(&["close", ":22", "python3", "--dry-run"]);
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(
        err.trim(),
        "sockscope: close does not take free words like `python3`: name a port, pid, address (`addr:…`) or inode"
    );
    assert!(out.is_empty(), "{out}");

    // The .35 connections span two processes (ours and the child): 4 sockets need --many 4.
    let q35 = format!("addr:{thirty_five}");
    // (Asked again while a child another test starts holds this process's fds.)
    let (code, out, err) = wait_for("two holders of the .35 sockets", || {
        let r = run(&["close", &q35, "state:estab", "--dry-run"]);
        (!r.2.contains("sockets of 3 processes")).then_some(r)
    });
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("would close 4 sockets"),
        "the dry run still lists: {out}"
    );
    assert!(
        err.contains("this selects 4 sockets of 2 processes: add `--many 4` if you mean it"),
        "{err}"
    );
    let mut want35: BTreeSet<SocketAddr> = [&c35, &s35, &s_kid]
        .iter()
        .map(|t| t.local_addr().unwrap())
        .collect();
    want35.insert(s_kid.peer_addr().unwrap());
    assert_eq!(listed(&out), want35, "{out}");
    let (code, _, err) = run(&["close", &q35, "state:estab", "--many", "3", "--yes"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("more than `--many 3`: use `--many 4`"),
        "{err}"
    );
    let mut b = [0u8; 1];
    c35.set_nonblocking(true).unwrap();
    assert_eq!(
        (&c35).read(&mut b).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "refused: nothing was closed"
    );
    c35.set_nonblocking(false).unwrap();
    let (code, out, err) = run(&["close", &q35, "state:estab", "--many", "4", "--yes"]);
    assert_eq!(code, 0, "{out}{err}");
    // Closing one end resets its peer: the peer may be gone before its turn comes.
    assert!(out.contains("will close 4 sockets:"), "{out}");
    assert!(out.contains(" of 4 sockets"), "{out}");
    let e = (&c35).read(&mut b).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
        ),
        "{e:?}"
    );

    // Every connection of the host: refused without --many, with the count it listed.
    let (code, out, err) = run(&["close", "port:1-65535", "state:estab", "--dry-run"]);
    assert_eq!(code, 2, "{out}{err}");
    let shown: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("would close "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count in {out}"));
    assert!(
        err.contains(&format!("add `--many {shown}` if you mean it")),
        "{err}"
    );
    assert!(
        listed(&out).contains(&c3.local_addr().unwrap()),
        "our connection is among them: {out}"
    );
    drop((s3, s35, s_kid, kid));
}

/// The live view: `x` on a Ports row closes that port's TIME-WAITs, through the real
/// runtime, and says the port binds now.
#[test]
fn x_in_the_live_view_frees_a_time_wait_port() {
    let port = fresh_port();
    time_waits(port, 2);
    let mut tui = crate::support::pty::Tui::start(&["--view", "ports", "--interval", "250ms"]);
    tui.wait_screen("the first snapshot", |s| s.contains("sockdiag"));
    tui.keys(&format!("/lport:{port}\r"));
    tui.wait_screen("the port's row", |s| {
        s.contains("row 1/1 ") && s.contains(&format!(":{port}"))
    });
    tui.keys("x");
    let screen = tui.wait_screen("the close dialog", |s| s.contains("close sockets"));
    assert!(
        screen.contains(&format!("close 2 sockets on port {port}")),
        "{screen}"
    );
    assert!(screen.contains("▶ Cancel ◀"), "{screen}");
    tui.keys("y");
    tui.wait_screen("the result", |s| {
        s.contains(&format!(
            "closed 2 TIME-WAIT sockets on port {port}: a plain bind of {port} works now"
        ))
    });
    assert!(Probe::plain_free(port));
    tui.keys("q");
    assert!(tui.wait_exit().success());
}
