//! `free-port`, `wait-listen` and `why`'s free ports nearby, against real sockets on
//! loopback: a held port, a TIME-WAIT port, a late listener, a timeout, a v4-only
//! listener waited for on ::1, and v6-only against dual-stack `[::]`.

use crate::support::stack::fresh_port;
use crate::support::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

/// A port whose only socket is a TIME-WAIT left by an active close on the server side.
fn time_wait_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = l.accept().unwrap();
    drop(server); // the server closes first: its end (local port = port) goes TIME-WAIT
    let mut buf = [0u8; 1];
    let _ = client.read(&mut buf); // EOF
    drop(client);
    drop(l);
    let mut c = collector();
    snapshot_until(
        &mut c,
        sockscope::model::Scope::All,
        "the TIME-WAIT socket",
        |s, _| s.local().port() == port && s.state == sockscope::model::State::TimeWait,
    );
    port
}

#[test]
fn free_port_never_offers_a_held_or_time_wait_port() {
    // Outside the ephemeral range, so that nothing else takes it once released.
    let p = fresh_port();
    let held = TcpListener::bind(("127.0.0.1", p)).unwrap();
    let range = format!("{p}-{p}");
    let (code, out, err) = run(&["free-port", "--range", &range]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains(&format!("no free port in {range}")), "{err}");

    let t = time_wait_port();
    let (code, out, _) = run(&["free-port", "--range", &format!("{t}-{t}")]);
    assert_eq!((code, out.as_str()), (1, ""), "TIME-WAIT is not free");

    // The same question once the listener is gone: the port is offered.
    drop(held);
    let (code, out, err) = run(&["free-port", "--near", &p.to_string(), "--range", &range]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), p.to_string());

    // By default: unprivileged, outside the ephemeral range, as many as asked, and each
    // binds.
    let (code, out, err) = run(&["free-port", "--count", "3", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["version"], 3);
    let ports: Vec<u16> = doc["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u16)
        .collect();
    assert_eq!(ports.len(), 3);
    let eph = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
    let eph: Vec<u16> = eph.split_whitespace().map(|v| v.parse().unwrap()).collect();
    for port in ports {
        assert!(port >= 1024 && !(eph[0]..=eph[1]).contains(&port), "{port}");
        assert!(TcpListener::bind(("0.0.0.0", port)).is_ok(), "{port} binds");
    }
}

#[test]
fn wait_listen_returns_when_a_late_listener_appears() {
    let port = fresh_port();
    let mut kid = Kid::python(
        "import socket, sys, time\ntime.sleep(1)\ns = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\nprint('up', flush=True)\nsys.stdin.read()",
        &[&port.to_string()],
    );
    let (code, out, err) = run(&["wait-listen", &port.to_string(), "--timeout", "20s"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(kid.line(), "up", "the child listened");
    assert!(
        out.contains(&format!(
            "port {port} is listening on 127.0.0.1:{port} only (not ::1): {}/python3",
            kid.pid()
        )),
        "{out}"
    );
}

#[test]
fn wait_listen_times_out_saying_what_it_saw() {
    // A v4-only listener, waited for on ::1: the classic localhost trap.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (code, _, err) = run(&[
        "wait-listen",
        &port.to_string(),
        "--addr",
        "::1",
        "--timeout",
        "500ms",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "nothing takes connections to [::1]:{port} after 500ms: port {port} is listening on 127.0.0.1:{port} only (not ::1)"
        )),
        "{err}"
    );
    let (code, _, _) = run(&["wait-listen", &port.to_string(), "--addr", "127.0.0.1"]);
    assert_eq!(code, 0);
    drop(l);
    let nobody = fresh_port();
    let (code, _, err) = run(&["wait-listen", &nobody.to_string(), "--timeout", "300ms"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("nothing listens on port {nobody} after 300ms")),
        "{err}"
    );
}

#[test]
fn a_v6_only_wildcard_does_not_take_v4_and_a_dual_stack_one_does() {
    let mut v6only = Kid::python(
        "import socket, sys\ns = socket.socket(socket.AF_INET6)\ns.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)\ns.bind(('::', 0)); s.listen()\nprint(s.getsockname()[1], flush=True)\nsys.stdin.read()",
        &[],
    );
    let port: u16 = v6only.line().parse().unwrap();
    let args = |addr: &'static str, port: u16| {
        vec![
            "wait-listen".to_owned(),
            port.to_string(),
            "--addr".into(),
            addr.into(),
            "--timeout".into(),
            "300ms".into(),
        ]
    };
    let a = args("127.0.0.1", port);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, _, err) = run(&a);
    assert_eq!(code, 1, "v6-only [::] takes no IPv4: {err}");
    assert!(err.contains("only (not 127.0.0.1)"), "{err}");
    let a = args("::1", port);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    assert_eq!(run(&a).0, 0);

    // Rust's std leaves IPV6_V6ONLY off: a dual-stack wildcard takes IPv4 too.
    let dual = TcpListener::bind("[::]:0").unwrap();
    let port = dual.local_addr().unwrap().port();
    let a = args("127.0.0.1", port);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (code, out, err) = run(&a);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("listening on *:{port}")), "{out}");
    assert!(!out.contains("only"), "{out}");
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _ = s.write_all(b"x");
}

#[test]
fn why_offers_free_ports_nearby_for_a_held_port() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let (code, out, _) = run(&["why", &port.to_string(), "--json"]);
    assert_eq!(code, 1);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_schema("why.schema.json", &doc);
    let near: Vec<u64> = doc["free_nearby"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(near.len(), 2, "{doc:#}");
    assert!(!near.contains(&u64::from(port)));
    assert!(
        near.iter().all(|p| p.abs_diff(u64::from(port)) < 1000),
        "{near:?}"
    );
    let (_, text, _) = run(&["why", &port.to_string()]);
    assert!(
        text.contains(&format!("free nearby: {}, {}", near[0], near[1])),
        "{text}"
    );
    drop(l);
    let (code, out, _) = run(&["why", &port.to_string(), "--json"]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["free_nearby"], serde_json::json!([]));
}

/// `free-port --near P` and `why P` search alike: near a port in the ephemeral range,
/// its neighbours (as `why` offers them); near the range's edge from outside, the range
/// is left out and stderr says so, and `--allow-ephemeral` searches it.
#[test]
fn free_port_and_why_search_alike_and_say_when_the_ephemeral_range_is_left_out() {
    let eph = sockscope::collect::ephemeral_range();
    // A held port in the ephemeral range (port 0 binds land there).
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    assert!(eph.contains(&port), "{port} outside {eph:?}");
    let (code, out, err) = run(&["free-port", "--near", &port.to_string(), "--count", "3"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "nothing was left out: {err}");
    let ports: Vec<u16> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert!(
        ports.iter().all(|p| p.abs_diff(port) < 200),
        "near {port}: {ports:?}"
    );
    let (_, why, _) = run(&["why", &port.to_string(), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&why).unwrap();
    let near: Vec<u16> = doc["free_nearby"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u16)
        .collect();
    assert!(
        near.iter().all(|p| p.abs_diff(port) < 200),
        "why offers {near:?} near {port}"
    );
    drop(l);
    // Just below the range: what the range would give is nearer than ten ports below.
    let below = eph.start() - 3;
    let (code, out, err) = run(&["free-port", "--near", &below.to_string(), "--count", "10"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.lines()
            .all(|l| l.parse::<u16>().unwrap() < *eph.start()),
        "{out}"
    );
    assert!(
        err.contains("ephemeral range") && err.contains("--allow-ephemeral"),
        "{err}"
    );
    let (code, _, err) = run(&[
        "free-port",
        "--near",
        &below.to_string(),
        "--count",
        "10",
        "--allow-ephemeral",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.is_empty(), "{err}");
}
