//! `sockscope close`, with real sockets the tests made: TIME-WAIT freed, a connection cut,
//! a listener refused, a stale cookie left alone, nobody refused, broad queries refused.

use crate::support::stack::fresh_port;
use crate::support::*;
use sockscope::collect::Collector;
use sockscope::diagnose::probe::Probe;
use sockscope::model::{Scope, State};
use std::io::Read;
use std::net::{TcpListener, TcpStream};

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
            .filter(|s| s.local.port() == port && s.state == State::TimeWait)
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
        .find(|s| s.local.port() == port && s.state == State::TimeWait)
        .unwrap()
        .clone();
    assert_ne!(s.cookie, 0);
    s.cookie ^= 1;
    assert!(!c.destroy(&s).unwrap(), "another cookie: nothing closed");
    assert!(!Probe::plain_free(port), "the TIME-WAIT is still there");
    s.cookie ^= 1;
    assert!(c.destroy(&s).unwrap());
    assert!(Probe::plain_free(port));
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
    let (code, _, err) = run(&["close", "port:1-65535", "--dry-run"]);
    assert_eq!(code, 2);
    assert!(err.contains("matches every socket"), "{err}");
    let (code, _, err) = run(&["close", ":53", "--dry-run"]);
    assert!(
        code == 0 || (code == 2 && err.contains("add `proto:udp`")),
        "{err}"
    );
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
