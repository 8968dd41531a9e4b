//! The sock_diag collector against real loopback sockets, and netstat2 as an oracle.

use crate::support::*;
use sockscope::collect::Collector;
use sockscope::collect::portable::PortableCollector;
use sockscope::model::{OwnerStatus, Proto, Scope, State, TimerKind};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};

fn me() -> u32 {
    std::process::id()
}

#[test]
fn tcp_listeners_v4_and_v6_are_owned_by_us() {
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let (a4, a6) = (l4.local_addr().unwrap(), l6.local_addr().unwrap());
    let mut c = collector();
    let snap = c.snapshot(Scope::Listeners).unwrap();
    for (addr, proto) in [(a4, Proto::Tcp), (a6, Proto::Tcp6)] {
        let s = snap
            .sockets
            .iter()
            .find(|s| s.local() == addr && s.proto.is_tcp())
            .unwrap_or_else(|| panic!("no row for {addr}"));
        assert_eq!(s.proto, proto);
        assert_eq!(s.state, State::Listen);
        assert_ne!(s.inode, 0);
        assert_eq!(s.owner_status, OwnerStatus::Known);
        assert!(
            s.owners.contains(&me()),
            "owners {:?} lack {}",
            s.owners,
            me()
        );
        // std's listen backlog is 128: ss shows it as Send-Q on a listener.
        assert_eq!(s.send_q, 128);
        let p = &snap.processes[&me()];
        assert_eq!(p.pid, me());
        assert!(p.start_ticks > 0);
    }
    // The listeners scope holds nothing else.
    assert!(snap.sockets.iter().all(|s| s.is_listener()));
}

#[test]
fn established_pair_shows_both_ends() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    let (ca, sa) = (client.local_addr().unwrap(), server.local_addr().unwrap());
    let mut c = collector();
    let snap = c.snapshot(Scope::All).unwrap();
    let cl = snap
        .sockets
        .iter()
        .find(|s| s.local() == ca && s.remote() == sa)
        .expect("client end");
    let sv = snap
        .sockets
        .iter()
        .find(|s| s.local() == sa && s.remote() == ca)
        .expect("server end");
    for s in [cl, sv] {
        assert_eq!(s.state, State::Estab);
        assert!(s.owners.contains(&me()));
        assert_ne!(s.cookie, 0);
    }
    assert_ne!(cl.inode, sv.inode);
    // Not in the listeners-only dump.
    let listeners = c.snapshot(Scope::Listeners).unwrap();
    assert!(
        !listeners
            .sockets
            .iter()
            .any(|s| s.local() == ca && s.proto.is_tcp())
    );
}

#[test]
fn queues_are_reported() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (server, _) = l.accept().unwrap();
    client.write_all(&[7u8; 1000]).unwrap();
    let sa = server.local_addr().unwrap();
    let mut c = collector();
    let (snap, i) = snapshot_until(&mut c, Scope::All, "1000 bytes in recv-q", |s, _| {
        s.local() == sa && s.state == State::Estab && s.recv_q == 1000
    });
    assert_eq!(snap.sockets[i].send_q, 0);
    drop(server);
}

#[test]
fn time_wait_after_active_close_belongs_to_the_kernel() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (mut server, _) = l.accept().unwrap();
    let ca = client.local_addr().unwrap();
    let sa = l.local_addr().unwrap();
    // The client closes first (active close) and so ends in TIME-WAIT.
    drop(client);
    let mut buf = [0u8; 1];
    assert_eq!(server.read(&mut buf).unwrap(), 0);
    drop(server);
    let mut c = collector();
    let (snap, i) = snapshot_until(&mut c, Scope::All, "TIME-WAIT row", |s, _| {
        s.local() == ca && s.remote() == sa && s.state == State::TimeWait
    });
    let tw = &snap.sockets[i];
    assert_eq!(tw.inode, 0);
    assert_eq!(tw.owner_status, OwnerStatus::Kernel);
    assert!(tw.owners.is_empty());
    let timer = tw.timer.expect("TIME-WAIT timer");
    assert_eq!(timer.kind, TimerKind::TimeWait);
    assert!(
        timer.expires_ms > 0 && timer.expires_ms <= 60_000,
        "{timer:?}"
    );
}

#[test]
fn udp_unconnected_and_connected_with_peer() {
    let unconn = UdpSocket::bind("127.0.0.1:0").unwrap();
    let conn = UdpSocket::bind("[::1]:0").unwrap();
    let peer = UdpSocket::bind("[::1]:0").unwrap();
    conn.connect(peer.local_addr().unwrap()).unwrap();
    let (ua, ca, pa) = (
        unconn.local_addr().unwrap(),
        conn.local_addr().unwrap(),
        peer.local_addr().unwrap(),
    );
    let mut c = collector();
    let snap = c.snapshot(Scope::All).unwrap();
    let u = snap
        .sockets
        .iter()
        .find(|s| s.local() == ua && !s.proto.is_tcp())
        .expect("unconnected udp");
    assert_eq!((u.proto, u.state), (Proto::Udp, State::Unconn));
    assert!(u.remote_is_unspecified());
    assert!(u.owners.contains(&me()));
    let k = snap
        .sockets
        .iter()
        .find(|s| s.local() == ca && !s.proto.is_tcp())
        .expect("connected udp");
    assert_eq!((k.proto, k.state), (Proto::Udp6, State::Estab));
    assert_eq!(k.remote(), pa, "connected UDP shows its peer");
    // Listeners scope: the unconnected one only.
    let snap = c.snapshot(Scope::Listeners).unwrap();
    assert!(
        snap.sockets
            .iter()
            .any(|s| s.local() == ua && !s.proto.is_tcp())
    );
    assert!(
        !snap
            .sockets
            .iter()
            .any(|s| s.local() == ca && !s.proto.is_tcp())
    );
}

#[test]
fn v4_mapped_v6_is_shown_in_v4_form() {
    // A dual-stack listener accepting a v4 client: the server end is tcp6 with a mapped address.
    let l = TcpListener::bind("[::]:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (_server, _) = l.accept().unwrap();
    let ca = client.local_addr().unwrap();
    let mut c = collector();
    let snap = c.snapshot(Scope::All).unwrap();
    let s = snap
        .sockets
        .iter()
        .find(|s| s.remote() == ca && s.local().port() == port)
        .expect("server end of the mapped connection");
    assert_eq!(s.proto, Proto::Tcp6);
    assert_eq!(s.local(), SocketAddr::from(([127, 0, 0, 1], port)));
}

#[test]
fn child_listener_has_pid_name_and_cmdline() {
    let mut kid = Kid::python(
        &format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"),
        &["marker-arg-41"],
    );
    let port: u16 = kid.line().parse().unwrap();
    let mut c = collector();
    let (snap, i) = snapshot_until(&mut c, Scope::Listeners, "child listener", |s, _| {
        s.local().port() == port && s.proto.is_tcp()
    });
    let s = &snap.sockets[i];
    assert_eq!(s.owners.as_slice(), &[kid.pid()]);
    let p = &snap.processes[&kid.pid()];
    assert!(p.name.starts_with("python3"), "name {}", p.name);
    assert!(
        p.cmdline.iter().any(|a| a == "marker-arg-41"),
        "cmdline {:?}",
        p.cmdline
    );
    assert_eq!(p.ppid, Some(me()));
    assert!(matches!(p.state, 'S' | 'R'), "state {}", p.state);
    assert_eq!(p.uid, Some(rustix::process::geteuid().as_raw()));
}

#[test]
fn listener_inherited_after_fork_lists_both_pids() {
    let script = format!(
        "{PY_LISTEN}\ns = listen()\npid = os.fork()\nif pid == 0:\n    sys.stdin.read(); os._exit(0)\nprint(s.getsockname()[1], pid)\nsys.stdin.read()\nos.kill(pid, 9)"
    );
    let mut kid = Kid::python(&script, &[]);
    let line = kid.line();
    let mut it = line.split_whitespace();
    let port: u16 = it.next().unwrap().parse().unwrap();
    let grandchild: u32 = it.next().unwrap().parse().unwrap();
    let mut c = collector();
    let (snap, i) = snapshot_until(
        &mut c,
        Scope::Listeners,
        "listener with two owners",
        |s, _| s.local().port() == port && s.proto.is_tcp() && s.owners.len() == 2,
    );
    let mut want = vec![kid.pid(), grandchild];
    want.sort_unstable();
    assert_eq!(snap.sockets[i].owners.as_slice(), want.as_slice());
    // Closing our stdin makes the child kill its own fork child and exit.
    drop(kid);
}

#[test]
fn snapshots_survive_processes_that_come_and_go() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2000 {
                // Short-lived children that each open a socket and exit at once.
                let _ = std::process::Command::new("python3")
                    .args([
                        "-c",
                        "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen()",
                    ])
                    .status();
                n += 1;
            }
            n
        })
    };
    let mut c = collector();
    let mut p = PortableCollector::new().unwrap();
    for i in 0..60 {
        c.snapshot(if i % 2 == 0 {
            Scope::All
        } else {
            Scope::Listeners
        })
        .expect("sockdiag snapshot during churn");
        if i % 10 == 0 {
            p.snapshot(Scope::All)
                .expect("portable snapshot during churn");
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(churn.join().unwrap() > 0, "no children were spawned");
}

#[test]
fn portable_collector_agrees_on_our_sockets() {
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let client = TcpStream::connect(l4.local_addr().unwrap()).unwrap();
    let (server, _) = l4.accept().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    // Exact (proto, local, remote) of every socket this test made: other sockets on the
    // machine may share a port or even a local address with them.
    let any4 = SocketAddr::from(([0, 0, 0, 0], 0));
    let any6: SocketAddr = "[::]:0".parse().unwrap();
    let ours = [
        (Proto::Tcp, l4.local_addr().unwrap(), any4),
        (Proto::Tcp6, l6.local_addr().unwrap(), any6),
        (
            Proto::Tcp,
            client.local_addr().unwrap(),
            client.peer_addr().unwrap(),
        ),
        (
            Proto::Tcp,
            server.local_addr().unwrap(),
            server.peer_addr().unwrap(),
        ),
        (Proto::Udp, udp.local_addr().unwrap(), any4),
    ];
    let _keep = (server,);
    let mut a = collector();
    let mut b = PortableCollector::new().unwrap();
    let key = |snap: &sockscope::model::Snapshot| {
        let mut v: Vec<_> = snap
            .sockets
            .iter()
            .filter(|s| ours.contains(&(s.proto, s.local().into(), s.remote().into())))
            .map(|s| {
                (
                    s.proto,
                    s.local(),
                    s.remote(),
                    s.state,
                    s.inode,
                    s.owners.to_vec(),
                    s.owner_status,
                )
            })
            .collect();
        v.sort();
        v
    };
    let (sa, sb) = (
        key(&a.snapshot(Scope::All).unwrap()),
        key(&b.snapshot(Scope::All).unwrap()),
    );
    assert_eq!(
        sa.len(),
        5,
        "listener v4, listener v6, both ends, udp: {sa:?}"
    );
    assert_eq!(sa, sb);
    let (la, lb) = (
        key(&a.snapshot(Scope::Listeners).unwrap()),
        key(&b.snapshot(Scope::Listeners).unwrap()),
    );
    assert_eq!(la.len(), 3);
    assert_eq!(la, lb);
}
