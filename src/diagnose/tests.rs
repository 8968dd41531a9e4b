use super::*;
use crate::app::testkit::{process, snapshot, sock, table};
use crate::diagnose::probe::BindResult;
use crate::model::{OwnerStatus, Proto, Scope};

fn lines(v: &Verdict) -> Vec<String> {
    v.next.iter().map(|s| s.text()).collect()
}

fn probe(v4: BindResult, reuse: BindResult) -> Probe {
    Probe {
        v4,
        v4_reuseaddr: reuse,
        v6: BindResult::Ok,
        v6_reuseaddr: BindResult::Ok,
    }
}

#[test]
fn process_flags_from_state_and_lineage() {
    let mut p = process(100, "node", 'T');
    assert!(process_flags(&p).contains(Flag::Stopped));
    p.state = 'S';
    p.session = 50;
    p.session_leader_alive = false;
    assert!(process_flags(&p).contains(Flag::Orphan));
    p.session = 100; // its own session leader (a daemon) is never an orphan
    assert!(!process_flags(&p).contains(Flag::Orphan));
    p.parent_state = Some('Z');
    p.parent_zombie = true;
    assert!(process_flags(&p).contains(Flag::Zombie));
    // A main thread that exited while other threads run and hold the socket is not a
    // zombie: the process is alive and can be signalled.
    let mut m = process(101, "python3", 'Z');
    m.threads = 3;
    assert!(!process_flags(&m).contains(Flag::Zombie));
    assert!(
        explain_process(&m)
            .unwrap()
            .contains("main thread exited; 2 threads still run and hold the socket")
    );
    assert_eq!(explain_process(&process(102, "node", 'S')), None);
    // Docker's proxy is flagged; a process that only calls itself so is not.
    let d = crate::app::testkit::docker_proxy(7);
    assert!(process_flags(&d).contains(Flag::DockerProxy));
    assert!(!process_flags(&process(7, "docker-proxy", 'S')).contains(Flag::DockerProxy));
}

#[test]
fn backlog_when_the_accept_queue_reaches_the_backlog() {
    let mut s = sock(
        Proto::Tcp,
        "0.0.0.0:80",
        "0.0.0.0:0",
        State::Listen,
        1,
        &[1],
    );
    s.send_q = 1;
    s.recv_q = 0;
    assert!(!is_backlogged(&s));
    s.recv_q = 1;
    assert!(is_backlogged(&s));
    s.recv_q = 2;
    assert!(is_backlogged(&s));
}

#[test]
fn close_wait_leak_needs_growth() {
    let (s, p) = table();
    let mut t = CloseWaitTracker::default();
    let mut leak = HashSet::new();
    for n in 1..=5u64 {
        let mut rows = s.clone();
        for i in 0..n * 2 {
            rows.push(sock(
                Proto::Tcp,
                "127.0.0.1:3000",
                &format!("127.0.0.1:{}", 50000 + i),
                State::CloseWait,
                100 + i as u32,
                &[400],
            ));
        }
        leak = t.observe(&snapshot(n, Scope::All, rows, &p));
    }
    assert!(leak.contains(&400), "{leak:?}");
    assert!(!leak.contains(&100), "node has one steady CLOSE-WAIT");
}

#[test]
fn verdicts() {
    let (s, p) = table();
    let snap = snapshot(0, Scope::All, s, &p);
    let none = HashSet::new();
    let v = verdict(
        &snap,
        3000,
        probe(BindResult::InUse, BindResult::InUse),
        &none,
    );
    assert_eq!(v.kind, Kind::Listener);
    assert_eq!(v.holders, vec![100]);
    assert!(
        v.headline.contains("listening by 100/node"),
        "{}",
        v.headline
    );
    assert_eq!(v.time_wait, 1);
    let v = verdict(
        &snap,
        22,
        probe(BindResult::InUse, BindResult::InUse),
        &none,
    );
    assert_eq!(v.kind, Kind::Hidden);
    assert!(
        lines(&v)[0].contains("sudo sockscope why 22"),
        "{:?}",
        lines(&v)
    );
    let v = verdict(&snap, 4444, probe(BindResult::Ok, BindResult::Ok), &none);
    assert_eq!(v.kind, Kind::Free);
    // UDP 53 is held by dnsmasq: TCP is free, but the UDP holder is named.
    let v = verdict(&snap, 53, probe(BindResult::Ok, BindResult::Ok), &none);
    assert_eq!(v.kind, Kind::Free);
    assert!(
        lines(&v)
            .iter()
            .any(|n| n.contains("UDP port 53 is bound by 300/dnsmasq")),
        "{:?}",
        lines(&v)
    );
    // TIME-WAIT only.
    let tw = vec![sock(
        Proto::Tcp,
        "127.0.0.1:5000",
        "127.0.0.1:40000",
        State::TimeWait,
        0,
        &[],
    )];
    let snap = snapshot(0, Scope::All, tw, &p);
    let v = verdict(&snap, 5000, probe(BindResult::InUse, BindResult::Ok), &none);
    assert_eq!(v.kind, Kind::TimeWaitOnly);
    assert!(v.headline.contains("expires in 41 s"), "{}", v.headline);
    assert!(lines(&v)[0].contains("SO_REUSEADDR (most do) can bind now"));
    let v = verdict(
        &snap,
        5000,
        probe(BindResult::InUse, BindResult::InUse),
        &none,
    );
    assert!(lines(&v)[0].contains("even an SO_REUSEADDR bind fails"));
    assert!(
        lines(&v)[1].contains("`sockscope close :5000 state:time-wait`"),
        "{:?}",
        lines(&v)
    );
    // Over 64 sockets, the command carries the --many that close asks for.
    let tw: Vec<_> = (0..70)
        .map(|i| {
            sock(
                Proto::Tcp,
                "127.0.0.1:5000",
                &format!("127.0.0.1:{}", 40000 + i),
                State::TimeWait,
                0,
                &[],
            )
        })
        .collect();
    let snap = snapshot(0, Scope::All, tw, &p);
    let v = verdict(&snap, 5000, probe(BindResult::InUse, BindResult::Ok), &none);
    assert!(
        lines(&v)[1].contains("`sockscope close :5000 state:time-wait --many 70`"),
        "{:?}",
        lines(&v)
    );
}

#[test]
fn docker_proxy_says_stop_the_container() {
    let s = vec![sock(
        Proto::Tcp,
        "0.0.0.0:8000",
        "0.0.0.0:0",
        State::Listen,
        5,
        &[7],
    )];
    let proxy = crate::app::testkit::docker_proxy(7);
    // Only calling itself so: a process like any other, signalled by `kill`.
    let mut fake = proxy.clone();
    fake.uid = Some(65534);
    fake.user = None;
    let snap = snapshot(0, Scope::All, s.clone(), &[fake]);
    let v = verdict(
        &snap,
        8000,
        probe(BindResult::InUse, BindResult::InUse),
        &HashSet::new(),
    );
    assert!(!v.flags.contains(Flag::DockerProxy));
    let advice = lines(&v).join("\n");
    assert!(
        advice.contains("stop it: `sockscope kill :8000`"),
        "{advice}"
    );
    assert!(
        advice.contains("7 is not Docker's docker-proxy: it calls itself docker-proxy but runs as uid 65534, not root"),
        "{advice}"
    );
    assert!(!advice.contains("docker ps"), "{advice}");

    let snap = snapshot(0, Scope::All, s, &[proxy]);
    let v = verdict(
        &snap,
        8000,
        probe(BindResult::InUse, BindResult::InUse),
        &HashSet::new(),
    );
    assert!(v.flags.contains(Flag::DockerProxy));
    assert!(
        lines(&v)[0].contains("docker ps --filter publish=8000"),
        "{:?}",
        lines(&v)
    );
    assert!(
        !lines(&v).iter().any(|n| n.contains("sockscope kill")),
        "{:?}",
        lines(&v)
    );
}

/// A listener whose owner cannot be seen still holds the port, whatever else is there:
/// the verdict never says "free" while a TCP listener is in the table.
#[test]
fn an_ownerless_listener_is_never_free() {
    let none = HashSet::new();
    for status in [
        OwnerStatus::Hidden,
        OwnerStatus::OtherNs,
        OwnerStatus::Unknown,
    ] {
        let mut l = sock(
            Proto::Tcp,
            "127.0.0.1:7000",
            "0.0.0.0:0",
            State::Listen,
            9,
            &[],
        );
        l.owner_status = status;
        let snap = snapshot(0, Scope::All, vec![l], &[]);
        // Even a probe that binds (the listener is on one address only) does not free it.
        let v = verdict(&snap, 7000, probe(BindResult::Ok, BindResult::Ok), &none);
        assert_eq!(v.kind, Kind::Hidden, "{status:?}");
        assert!(v.evidence.listening());
        let advice = lines(&v).join(" ");
        assert_eq!(
            advice.contains("sudo"),
            status == OwnerStatus::Hidden,
            "{status:?}: {advice}"
        );
    }
    // Owned and unowned listeners together: a listener verdict that mentions both.
    let (s, p) = table();
    let mut s: Vec<_> = s.into_iter().filter(|s| s.local().port() == 3000).collect();
    let mut other = sock(Proto::Tcp6, "[::1]:3000", "[::]:0", State::Listen, 99, &[]);
    other.owner_status = OwnerStatus::OtherNs;
    s.push(other);
    let snap = snapshot(0, Scope::All, s, &p);
    let v = verdict(
        &snap,
        3000,
        probe(BindResult::InUse, BindResult::InUse),
        &none,
    );
    assert_eq!(v.kind, Kind::Listener);
    assert!(
        v.headline.contains("1 listener without a visible owner"),
        "{}",
        v.headline
    );
}

/// A user with the read-only capabilities sees root's holder: the kill it is offered
/// runs as root, or it would be refused.
#[test]
fn the_kill_offered_runs_as_whoever_may_signal_the_holder() {
    let (s, p) = table();
    let mut snap = snapshot(0, Scope::All, s, &p);
    let none = HashSet::new();
    let v = verdict(
        &snap,
        3000,
        probe(BindResult::InUse, BindResult::InUse),
        &none,
    );
    assert!(
        lines(&v)
            .iter()
            .any(|l| l.contains("`sockscope kill :3000`"))
    );
    snap.visibility.euid = 1001;
    let v = verdict(
        &snap,
        3000,
        probe(BindResult::InUse, BindResult::InUse),
        &none,
    );
    assert!(
        lines(&v)
            .iter()
            .any(|l| l.contains("`sudo -u alice sockscope kill :3000`")),
        "{:?}",
        lines(&v)
    );
    snap.visibility.euid = 1000;
    let v = verdict(
        &snap,
        3000,
        probe(BindResult::InUse, BindResult::InUse),
        &none,
    );
    assert!(
        lines(&v)
            .iter()
            .any(|l| l.contains("stop it: `sockscope kill :3000`"))
    );
}

#[test]
fn stopped_holders_get_concrete_next_steps() {
    let (s, mut p) = table();
    p[0].state = 'T';
    let snap = snapshot(0, Scope::All, s, &p);
    let v = verdict(
        &snap,
        3000,
        probe(BindResult::InUse, BindResult::InUse),
        &HashSet::new(),
    );
    assert!(v.flags.contains(Flag::Stopped));
    assert!(lines(&v)[0].contains("then SIGCONT"), "{:?}", lines(&v));
    assert!(lines(&v)[1].contains("kill -CONT 100"), "{:?}", lines(&v));
    // The flag's sentence is evidence, not a next step: it is not repeated there.
    assert!(!lines(&v).iter().any(|n| n.contains(explain(Flag::Stopped))));
    assert_eq!(
        signal_note(true, crate::model::Sig::Term).as_deref(),
        Some("suspended: TERM, then CONT so it can exit")
    );
    assert_eq!(signal_note(true, crate::model::Sig::Kill), None);
}

/// A flagged leak stays while the count holds at or above the threshold (it stopped
/// growing at 14: still a leak) and clears when the count falls.
#[test]
fn close_wait_leak_is_steady_until_the_count_falls() {
    let (base, p) = table();
    let with = |n: u64| {
        let mut rows = base.clone();
        for i in 0..n {
            rows.push(sock(
                Proto::Tcp,
                "127.0.0.1:3000",
                &format!("127.0.0.1:{}", 50000 + i),
                State::CloseWait,
                100 + i as u32,
                &[400],
            ));
        }
        snapshot(n, Scope::All, rows, &p)
    };
    let mut t = CloseWaitTracker::default();
    let mut flagged = Vec::new();
    for n in [2, 5, 8, 11, 14, 14, 14, 14, 13, 13] {
        flagged.push(t.observe(&with(n)).contains(&400));
    }
    assert_eq!(
        flagged,
        vec![
            false, false, false, true, true, true, true, true, false, false
        ]
    );
}

/// The rows' flags, worked out with each process's once, are each socket's own
/// `socket_flags`: a stopped holder, an orphan, a hidden owner, a backlogged listener, a
/// leak, several owners, and an owner with no details.
#[test]
fn row_flags_are_each_sockets_flags() {
    let (mut s, mut p) = table();
    let mut stopped = process(300, "node", 'T');
    stopped.session = 7;
    stopped.session_leader_alive = false;
    p.push(stopped);
    s.push(sock(
        Proto::Tcp,
        "0.0.0.0:4000",
        "0.0.0.0:0",
        State::Listen,
        90,
        &[300, 100, 999],
    ));
    s[0].recv_q = s[0].send_q;
    s[1].owner_status = OwnerStatus::Hidden;
    let snap = snapshot(0, Scope::All, s, &p);
    let leaking: HashSet<u32> = [100].into();
    let rows = row_flags(&snap, &leaking);
    assert_eq!(rows.len(), snap.sockets.len());
    for (s, &f) in snap.sockets.iter().zip(&rows) {
        assert_eq!(f, socket_flags(s, &snap, &leaking), "{s:?}");
    }
    let last = rows.last().copied().unwrap();
    assert!(last.contains(Flag::Stopped) && last.contains(Flag::Orphan));
    assert!(last.contains(Flag::CloseWaitLeak), "an owner of it leaks");
    assert!(rows[0].contains(Flag::Backlog));
    assert!(rows[1].contains(Flag::Hidden));
}

/// A TCP socket bound to the port without listening (what `add_bound_holders` adds) is
/// the verdict `bound`, its owner the holder and `kill :P` the step; without a visible
/// owner it says so and offers no command. It outranks TIME-WAITs on the same port.
#[test]
fn a_socket_bound_without_listening_is_the_verdict_bound() {
    let bound = sock(
        Proto::Tcp,
        "127.0.0.1:7070",
        "0.0.0.0:0",
        State::Unconn,
        70,
        &[700],
    );
    let tw = crate::app::testkit::time_wait("127.0.0.1:7070", "127.0.0.1:40000", 71);
    let snap = snapshot(
        0,
        Scope::All,
        vec![bound.clone(), tw],
        &[process(700, "devserver", 'S')],
    );
    let in_use = || probe(BindResult::InUse, BindResult::InUse);
    let v = verdict(&snap, 7070, in_use(), &HashSet::new());
    assert_eq!(v.kind, Kind::Bound);
    assert_eq!(v.holders, vec![700]);
    assert_eq!(v.evidence.bound, vec![0]);
    assert!(v.listeners.is_empty());
    assert_eq!(
        v.headline,
        "port 7070 is held by a socket bound to it without listening, by 700/devserver"
    );
    let cmd = v.next[0].command.as_ref().map(|c| c.text());
    assert_eq!(
        cmd.as_deref(),
        Some("sockscope kill :7070"),
        "{:?}",
        lines(&v)
    );
    let mut hidden = bound;
    hidden.owners = crate::model::Pids::new();
    hidden.owner_status = OwnerStatus::Hidden;
    let snap = snapshot(0, Scope::All, vec![hidden], &[]);
    let v = verdict(&snap, 7070, in_use(), &HashSet::new());
    assert_eq!(v.kind, Kind::Bound);
    assert!(
        v.headline.ends_with("by a process you cannot see"),
        "{}",
        v.headline
    );
    assert!(v.next[0].command.is_none(), "{:?}", lines(&v));
}
