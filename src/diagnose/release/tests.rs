//! The release judgement as a table: scripted snapshot sequences after an act, and what
//! is said at each step.

use super::*;
use crate::app::testkit::{pm2_app, process, snapshot, sock};
use crate::model::cgroup::{Dir, Unit};
use crate::model::container::Access;
use crate::model::{Ancestor, Container, Evidence, Process, Proto, Runtime, Scope, Socket, State};

const PORT: u16 = 3000;

fn listener(pid: u32) -> Socket {
    sock(
        Proto::Tcp,
        &format!("127.0.0.1:{PORT}"),
        "0.0.0.0:0",
        State::Listen,
        pid,
        &[pid],
    )
}

fn time_wait(i: u16) -> Socket {
    let mut s = sock(
        Proto::Tcp,
        &format!("127.0.0.1:{PORT}"),
        &format!("127.0.0.1:{}", 40000 + i),
        State::TimeWait,
        0,
        &[],
    );
    s.timer = Some(crate::model::Timer {
        kind: crate::model::TimerKind::TimeWait,
        expires_ms: 41_000,
        retrans: 0,
    });
    s
}

/// A snapshot where `procs` each hold a listener on the port, plus `extra` sockets.
fn holding(procs: &[Process], extra: Vec<Socket>) -> Snapshot {
    let mut sockets: Vec<Socket> = procs.iter().map(|p| listener(p.pid)).collect();
    sockets.extend(extra);
    snapshot(0, Scope::All, sockets, procs)
}

fn acted(targets: &[&Process], before: &Snapshot, others: &[u32], watch: u64) -> Release {
    Release::new(Acted {
        ports: vec![PORT],
        udp: false,
        targets: targets
            .iter()
            .map(|p| Departed::of(p, before, Some(PORT)))
            .collect(),
        before: others.to_vec(),
        hold_for: Duration::from_secs(5),
        watch_for: Duration::from_secs(watch),
    })
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A child of bash 40, of alice's.
fn child(pid: u32) -> Process {
    let mut p = process(pid, "server", 'S');
    p.ppid = Some(40);
    p.origin.ancestors = vec![Ancestor {
        pid: 40,
        name: "bash".into(),
        uid: Some(1000),
        ..Ancestor::default()
    }];
    p
}

fn in_unit(pid: u32) -> Process {
    let mut p = process(pid, "api", 'S');
    p.ppid = Some(1);
    p.origin.unit = Some(Unit {
        name: "api.service".into(),
        user: None,
        restarts: Some(true),
        dir: Dir {
            controllers: String::new(),
            path: "/system.slice/api.service".into(),
            owner: Some(0),
        },
    });
    p
}

fn in_container(pid: u32) -> Process {
    let mut p = process(pid, "busybox", 'S');
    p.ppid = Some(1);
    let mut c = Container::from_id(Runtime::Docker, &"e".repeat(64));
    c.name = Some("web1".into());
    c.restart = Some("always".into());
    c.access = Access::Known;
    c.confirmed = Evidence::Verified("the engine's main process".into());
    p.container = Some(c);
    p
}

#[test]
fn freed_when_nothing_listens_any_more() {
    let a = child(100);
    let before = holding(std::slice::from_ref(&a), vec![]);
    let mut r = acted(&[&a], &before, &[], 0);
    assert_eq!(r.feed(&before, ms(100)), None, "still exiting");
    let empty = holding(&[], vec![]);
    let out = r.feed(&empty, ms(600)).unwrap();
    assert_eq!(
        out.sentence(&empty),
        "nothing listens on port 3000 any more"
    );
    assert_eq!(r.feed(&empty, ms(1600)), None, "said once");
}

#[test]
fn a_respawn_is_credited_to_the_same_verified_supervisor_container_or_parent() {
    let cases: Vec<(Process, Process, &str)> = vec![
        (
            pm2_app(100, "barapp"),
            pm2_app(250, "barapp"),
            "respawned by PM2 app barapp as 250/node",
        ),
        (
            in_unit(100),
            in_unit(250),
            "respawned by systemd unit api.service as 250/api",
        ),
        (
            in_container(100),
            in_container(250),
            "respawned by Docker container web1 as 250/busybox",
        ),
        (
            child(100),
            child(250),
            "respawned by its parent 40/bash as 250/server",
        ),
    ];
    for (a, b, want) in cases {
        let before = holding(std::slice::from_ref(&a), vec![]);
        let mut r = acted(&[&a], &before, &[], 0);
        let gone = holding(&[], vec![]);
        assert!(r.feed(&gone, ms(300)).unwrap().freed(), "{want}");
        let back = holding(std::slice::from_ref(&b), vec![]);
        let out = r.feed(&back, ms(1100)).unwrap();
        let said = out.sentence(&back);
        assert!(
            said.starts_with("port 3000 was taken again 0.8 s later: ") && said.contains(want),
            "{said}"
        );
        // Final: the port going free again does not undo it.
        assert_eq!(r.feed(&gone, ms(2000)), None);
    }
}

#[test]
fn a_squatter_of_another_user_is_named_not_credited() {
    let a = pm2_app(100, "barapp");
    let before = holding(std::slice::from_ref(&a), vec![]);
    let mut r = acted(&[&a], &before, &[], 0);
    let mut squatter = pm2_app(7577, "barapp");
    squatter.name = "python3".into();
    squatter.uid = Some(65534);
    squatter.user = Some("nobody".into());
    // Taken before the port was ever seen free.
    let snap = holding(&[squatter], vec![]);
    let out = r.feed(&snap, ms(400)).unwrap();
    assert_eq!(
        out.sentence(&snap),
        "port 3000 is held again by 7577/python3 (user nobody), not by PM2 app barapp"
    );
}

#[test]
fn only_time_wait_left() {
    let a = child(100);
    let before = holding(std::slice::from_ref(&a), vec![]);
    let mut r = acted(&[&a], &before, &[], 0);
    let tw = holding(&[], (0..3).map(time_wait).collect());
    let out = r.feed(&tw, ms(500)).unwrap();
    assert_eq!(
        out.sentence(&tw),
        "port 3000 has no listener; 3 TIME-WAIT sockets remain, the last expires in 41 s"
    );
}

#[test]
fn held_until_the_time_runs_out_or_by_holders_left_alone() {
    let a = child(100);
    let before = holding(std::slice::from_ref(&a), vec![]);
    let mut r = acted(&[&a], &before, &[], 0);
    assert_eq!(r.feed(&before, ms(4900)), None);
    let out = r.feed(&before, ms(5000)).unwrap();
    assert_eq!(
        out.sentence(&before),
        "port 3000 is still held by 100/server"
    );
    // Two holders, one signalled: once it lets go, the other is said at once.
    let c = child(101);
    let both = holding(&[a.clone(), c.clone()], vec![]);
    let mut r = acted(&[&a], &both, &[101], 0);
    assert_eq!(r.feed(&both, ms(200)), None);
    let left = holding(std::slice::from_ref(&c), vec![]);
    let out = r.feed(&left, ms(700)).unwrap();
    assert_eq!(
        out.sentence(&left),
        "port 3000 is still held by 101/server, which was not signalled"
    );
}

#[test]
fn a_restarter_is_watched_for_before_free_is_said() {
    let a = pm2_app(100, "barapp");
    let before = holding(std::slice::from_ref(&a), vec![]);
    let mut r = acted(&[&a], &before, &[], 5);
    let gone = holding(&[], vec![]);
    assert_eq!(r.feed(&gone, ms(500)), None);
    assert_eq!(r.feed(&gone, ms(3000)), None);
    assert!(r.feed(&gone, ms(5000)).unwrap().freed(), "the time is up");
}

#[test]
fn a_container_stop_waits_for_its_processes_to_go() {
    let proxy = crate::app::testkit::docker_proxy(700);
    let before = holding(std::slice::from_ref(&proxy), vec![]);
    let mut r = Release::new(Acted {
        ports: vec![PORT],
        udp: false,
        targets: vec![],
        before: vec![],
        hold_for: Duration::from_secs(5),
        watch_for: Duration::ZERO,
    });
    assert_eq!(
        r.feed(&before, ms(300)),
        None,
        "the proxy goes a moment later"
    );
    let gone = holding(&[], vec![]);
    assert!(r.feed(&gone, ms(900)).unwrap().freed());
}

#[test]
fn a_listener_without_a_visible_owner_is_waited_for() {
    let a = child(100);
    let before = holding(std::slice::from_ref(&a), vec![]);
    let mut r = acted(&[&a], &before, &[], 0);
    let mut orphaned = listener(100);
    orphaned.owners = Default::default();
    let snap = snapshot(0, Scope::All, vec![orphaned], &[]);
    assert_eq!(r.feed(&snap, ms(300)), None, "closing right now");
}
