//! The CPU budget against real sockets: the kernel's bytecode filter keeps exactly what
//! the query's narrowing accepts, a filter by port stays fresh between full tables, and
//! a budget of 100 % reads everything every interval.

use crate::support::*;
use sockscope::collect::bytecode;
use sockscope::collect::sockdiag::SockDiag;
use sockscope::model::Socket;
use std::collections::BTreeSet;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The rows of a dump that are this test's own (by inode), as comparable tuples.
fn ours(rows: &[Socket], inodes: &BTreeSet<u32>) -> BTreeSet<String> {
    rows.iter()
        .filter(|s| inodes.contains(&s.inode))
        .map(|s| {
            format!(
                "{:?} {} {} {:?} {}",
                s.proto,
                s.local(),
                s.remote(),
                s.state,
                s.inode
            )
        })
        .collect()
}

/// For a table of queries over this test's own sockets (single ports, ranges, either
/// end, addresses with and without a port, v4 and v6, alternatives and conjunctions),
/// the kernel's filtered dump returns exactly the rows of the unfiltered dump that the
/// narrowing accepts.
#[test]
fn the_bytecode_filter_keeps_what_the_narrowing_accepts() {
    let l4 = TcpListener::bind("127.0.0.1:0").unwrap();
    let l6 = TcpListener::bind("[::1]:0").unwrap();
    let u4 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (p4, p6, pu) = (
        l4.local_addr().unwrap().port(),
        l6.local_addr().unwrap().port(),
        u4.local_addr().unwrap().port(),
    );
    let c4 = TcpStream::connect(("127.0.0.1", p4)).unwrap();
    let (a4, _) = l4.accept().unwrap();
    let c6 = TcpStream::connect(("::1", p6)).unwrap();
    let (a6, _) = l6.accept().unwrap();
    let cport = c4.local_addr().unwrap().port();
    let mut diag = SockDiag::open().unwrap();
    let mut all = Vec::new();
    diag.dump_filtered(0xffe, 0xffe, None, &mut all).unwrap();
    let inodes: BTreeSet<u32> = {
        let mine = [
            (p4, 0u16),
            (p6, 0),
            (pu, 0),
            (cport, p4),
            (p4, cport),
            (c6.local_addr().unwrap().port(), p6),
            (p6, c6.local_addr().unwrap().port()),
        ];
        all.iter()
            .filter(|s| mine.contains(&(s.local().port(), s.remote().port())))
            .map(|s| s.inode)
            .collect()
    };
    assert_eq!(inodes.len(), 7, "our sockets in the dump: {inodes:?}");
    let (lo, hi) = (p4.min(p6), p4.max(p6));
    let queries = [
        format!("port:{p4}"),
        format!("lport:{p4}"),
        format!("rport:{p4}"),
        format!("port:{pu}"),
        format!("port:{lo}-{hi}"),
        format!("lport:{p4},{p6}"),
        format!("port:{p4} port:{cport}"),
        "addr:127.0.0.1".to_owned(),
        "laddr:::1".to_owned(),
        format!("raddr:127.0.0.1:{p4}"),
        format!("laddr:[::1]:{p6}"),
        format!("addr:127.0.0.1 port:{p4}"),
        format!("lport:1-{lo}"),
        format!("rport:{hi}-65535"),
    ];
    for q in &queries {
        let query = sockscope::query::parse(q).unwrap();
        let narrow = query.narrowing().unwrap_or_else(|| panic!("{q} narrows"));
        let bc = bytecode::compile(&narrow).unwrap_or_else(|| panic!("{q} compiles"));
        let mut all = Vec::new();
        diag.dump_filtered(0xffe, 0xffe, None, &mut all).unwrap();
        let mut kept = Vec::new();
        diag.dump_filtered(0xffe, 0xffe, Some(&bc), &mut kept)
            .unwrap();
        let want: Vec<Socket> = all.into_iter().filter(|s| narrow.accepts(s)).collect();
        let (got, want) = (ours(&kept, &inodes), ours(&want, &inodes));
        assert!(
            !want.is_empty() || q.starts_with("rport:"),
            "{q}: selects none of ours"
        );
        assert_eq!(got, want, "{q}");
        // The kernel skipped the rest: nothing it kept fails the narrowing.
        assert!(kept.iter().all(|s| narrow.accepts(s)), "{q}");
    }
    drop((a4, a6, c4, c6, u4));
}

/// A listener child that accepts a connection each time it is asked, and prints its port.
fn acceptor() -> Kid {
    Kid::python(
        &format!(
            "{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1], flush=True)\nkeep = []\nfor line in sys.stdin:\n    keep.append(s.accept()[0])\n    print('accepted', flush=True)"
        ),
        &[],
    )
}

/// `sockscope watch ARGS --json --interval 250ms`, its full table read at most every
/// minute under a budget.
fn watch(args: &[&str]) -> Kid {
    let mut cmd = Command::new(bin());
    cmd.arg("watch")
        .args(args)
        .args(["--json", "--interval", "250ms"])
        .env("SOCKSCOPE_FULL_PERIOD", "60s")
        .stderr(Stdio::piped());
    let mut w = Kid::spawn(cmd);
    assert!(w.err_line().contains("watching"));
    w
}

/// Connects to the acceptor; returns when it accepted, and when that was.
fn connect(kid: &mut Kid, port: u16) -> (TcpStream, Instant) {
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    kid.send("accept");
    assert_eq!(kid.line(), "accepted");
    (c, Instant::now())
}

/// When `w` printed an `opened` event of an ESTAB socket on `port`, if within `limit`.
fn opened_within(w: &mut Kid, port: u16, limit: Duration) -> Option<Instant> {
    let start = Instant::now();
    while start.elapsed() < limit {
        match w.poll_line() {
            Some(line) => {
                let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
                if doc["event"] == "opened"
                    && doc["state"] == "ESTAB"
                    && (doc["local"]["port"] == port || doc["remote"]["port"] == port)
                {
                    return Some(Instant::now());
                }
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    None
}

/// With the full table read once a minute, a filter by one port still sees a new
/// connection on it within 1.5 s (its rows come from the kernel's filtered dump every
/// interval), while a filter by pid, which the kernel cannot narrow, does not.
#[test]
fn a_filter_by_port_stays_fresh_between_full_tables() {
    let mut kid = acceptor();
    let port: u16 = kid.line().parse().unwrap();
    let mut by_port = watch(&[&format!("port:{port}")]);
    let mut by_pid = watch(&[&format!("pid:{}", kid.pid())]);
    // Both have read their first (full) table; the next is a minute away.
    let (_c, at) = connect(&mut kid, port);
    let seen = opened_within(&mut by_port, port, Duration::from_secs(5))
        .expect("the filtered watch saw the new connection");
    let took = seen - at;
    assert!(
        took <= Duration::from_millis(1500),
        "the connection showed after {took:?}"
    );
    assert_eq!(
        opened_within(&mut by_pid, port, Duration::from_secs(2)),
        None,
        "a filter the kernel cannot narrow waits for the next full table"
    );
}

/// A budget of 100 % is the behaviour before budgets: every interval reads everything,
/// whatever the full period would be under a budget.
#[test]
fn a_budget_of_100_reads_everything_every_interval() {
    let mut kid = acceptor();
    let port: u16 = kid.line().parse().unwrap();
    let mut w = watch(&[&format!("pid:{}", kid.pid()), "--budget", "100%"]);
    let (_c, at) = connect(&mut kid, port);
    let seen = opened_within(&mut w, port, Duration::from_secs(5))
        .expect("budget 100 % saw the connection");
    assert!(
        seen - at <= Duration::from_millis(1500),
        "the connection showed after {:?}",
        seen - at
    );
}

/// Rounds between full tables that find nothing new hand the same table over again (no
/// copy of the table, no diff): with listeners and a filter's connections unchanged.
#[test]
fn a_round_that_finds_nothing_new_copies_no_table() {
    use sockscope::collect::Collector;
    use sockscope::collect::worker::Differ;
    use sockscope::model::Scope;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let _c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _a = l.accept().unwrap();
    let narrow = sockscope::query::parse(&format!("port:{port}"))
        .unwrap()
        .narrowing()
        .unwrap();
    let mut c = collector();
    let mut differ = Differ::default();
    let full = differ.next(c.snapshot(Scope::All).unwrap(), Duration::ZERO, 0);
    let mut last = full.snapshot;
    let mut same = 0;
    // Other tests open and close sockets meanwhile: a few rounds may change something.
    for _ in 0..20 {
        let f = c.refresh(Some(&narrow)).unwrap().unwrap();
        let got = differ.fresh(&f, Duration::ZERO, 0).unwrap();
        if std::sync::Arc::ptr_eq(&got.snapshot, &last) {
            same += 1;
        }
        last = got.snapshot;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(same >= 10, "only {same} of 20 rounds kept the table");
}

/// A listener opened between full tables comes with its owner in the next round.
#[test]
fn a_new_listener_between_full_tables_has_its_owner() {
    use sockscope::collect::Collector;
    use sockscope::model::Scope;
    let mut kid = Kid::python(
        &format!(
            "{PY_LISTEN}\nsys.stdin.readline()\nls = [listen() for _ in range(300)]\nprint(','.join(str(l.getsockname()[1]) for l in ls), flush=True)\nsys.stdin.read()"
        ),
        &[],
    );
    let mut c = collector().watching_lifecycle();
    c.snapshot(Scope::All).unwrap();
    c.refresh(None).unwrap().unwrap();
    kid.send("open");
    let ports: BTreeSet<u16> = kid.line().split(',').map(|p| p.parse().unwrap()).collect();
    let f = c.refresh(None).unwrap().unwrap();
    let new: Vec<&Socket> = f
        .sockets
        .iter()
        .filter(|s| ports.contains(&s.local().port()))
        .collect();
    assert_eq!(new.len(), 300, "every new listener was read");
    let pid = new[0].owners.as_slice().first().copied().expect("an owner");
    assert!(new.iter().all(|s| s.owners.as_slice() == [pid]), "{new:?}");
    assert!(f.processes.contains_key(&pid));
}
