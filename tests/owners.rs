//! The incremental owner map: it must stay right while processes change their sockets
//! between snapshots, and tell hidden owners from kernel-owned rows.

use crate::support::*;
use sockscope::collect::Collector;
use sockscope::model::{OwnerStatus, Scope};

/// A process closes one listener and opens another, so its fd count does not change:
/// the owner of the new socket must still be found on the next snapshot.
#[test]
fn swapped_socket_with_same_fd_count_is_found() {
    let script = format!(
        "{PY_LISTEN}\na = listen()\nprint(a.getsockname()[1])\nsys.stdin.readline()\na.close()\nb = listen()\nprint(b.getsockname()[1])\nsys.stdin.read()"
    );
    let mut kid = Kid::python(&script, &[]);
    let first: u16 = kid.line().parse().unwrap();
    let mut c = collector();
    let (snap, i) = snapshot_until(&mut c, Scope::Listeners, "first listener", |s, _| {
        s.local().port() == first && s.proto.is_tcp()
    });
    assert_eq!(snap.sockets[i].owners.as_slice(), &[kid.pid()]);
    kid.send("swap");
    let second: u16 = kid.line().parse().unwrap();
    let (snap, i) = snapshot_until(&mut c, Scope::Listeners, "second listener", |s, _| {
        s.local().port() == second && s.proto.is_tcp()
    });
    assert_eq!(
        snap.sockets[i].owners.as_slice(),
        &[kid.pid()],
        "owner of the swapped-in socket"
    );
    assert!(
        !snap
            .sockets
            .iter()
            .any(|s| s.local().port() == first && s.proto.is_tcp())
    );
}

/// A new process appears with a listener: found on the very next snapshot, not at the
/// next full resync.
#[test]
fn new_process_is_found_on_the_next_snapshot() {
    let mut c = collector();
    c.snapshot(Scope::Listeners).unwrap();
    let mut kid = Kid::python(
        &format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"),
        &[],
    );
    let port: u16 = kid.line().parse().unwrap();
    let snap = c.snapshot(Scope::Listeners).unwrap();
    let s = snap
        .sockets
        .iter()
        .find(|s| s.local().port() == port && s.proto.is_tcp())
        .expect("row");
    assert_eq!(s.owners.as_slice(), &[kid.pid()]);
    // And the owner leaves with the process.
    let pid = kid.pid();
    drop(kid);
    let snap = wait_for("row gone", || {
        let snap = c.snapshot(Scope::Listeners).unwrap();
        (!snap
            .sockets
            .iter()
            .any(|s| s.local().port() == port && s.proto.is_tcp()))
        .then_some(snap)
    });
    assert!(!snap.processes.contains_key(&pid));
}

/// As `nobody`, a listener owned by root (this test process) is listed with its owner
/// `hidden`, and the run succeeds.
#[test]
fn unprivileged_user_sees_hidden_owner() {
    assert!(
        is_root(),
        "this test switches to nobody: run the suite as root, as CI does"
    );
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    // Copy the binary where `nobody` can surely execute it.
    let dir = std::env::temp_dir().join(format!("sockscope-nobody-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("sockscope");
    std::fs::copy(bin(), &exe).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&exe)
        .args(["list", "--json", &format!("lport:{port}")])
        .output()
        .unwrap();
    // The table says so on stderr, as the live view's header does.
    let text = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&exe)
        .args(["list", &format!("lport:{port}")])
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&text.stderr);
    assert!(
        err.contains("owners of 1 listed socket are hidden from you: run as root"),
        "{err}"
    );
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = doc["sockets"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{doc}");
    assert_eq!(rows[0]["owner_status"], "hidden");
    assert_eq!(rows[0]["owners"].as_array().unwrap().len(), 0);
    assert_eq!(rows[0]["user"], "root");
    // The listed rows' hidden owners, not the whole table's.
    assert_eq!(doc["hidden_sockets"], 1, "{doc}");
    assert_eq!(doc["euid"], 65534);
    drop(l);
}

#[test]
fn kernel_rows_are_not_hidden() {
    let mut c = collector();
    let snap = c.snapshot(Scope::All).unwrap();
    for s in &snap.sockets {
        assert_eq!(s.inode == 0, s.owner_status == OwnerStatus::Kernel, "{s:?}");
    }
}

/// The main thread exits with `pthread_exit` while another thread lives on: the process
/// shows as a zombie with an empty `/proc/PID/fd`, and the socket must still be found
/// under `/proc/PID/task/TID/fd`.
#[test]
fn socket_of_a_process_whose_main_thread_exited_is_found() {
    let mut kid = Kid::python(PY_MAIN_THREAD_EXITS, &["127.0.0.1"]);
    let port: u16 = kid.line().parse().unwrap();
    let pid = kid.pid();
    // Wait until the leader really is gone: state Z with the worker thread alive.
    wait_for("main thread exit", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after = &stat[stat.rfind(')')? + 2..];
        after.starts_with('Z').then_some(())
    });
    let mut c = collector();
    let (snap, i) = snapshot_until(
        &mut c,
        Scope::Listeners,
        "listener of the zombie leader",
        |s, _| s.local().port() == port && s.proto.is_tcp() && !s.owners.is_empty(),
    );
    assert_eq!(snap.sockets[i].owners.as_slice(), &[pid]);
    assert_eq!(snap.processes[&pid].state, 'Z');
    assert!(snap.processes[&pid].threads > 1);
}

/// Processes that open sockets and exit while snapshots are taken (some of them in the
/// middle of the fd walk): every snapshot succeeds, a steady listener always has its
/// owner, and a socket's owner without details is always one that has exited.
#[test]
fn processes_exiting_during_the_walk_never_break_a_snapshot() {
    let steady = Kid::python(
        &format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"),
        &[],
    );
    let mut steady = steady;
    let port: u16 = steady.line().parse().unwrap();
    // 400 short-lived children, each with a listener and a few other fds, bounded in
    // count and time; the parent reaps them.
    let mut churn = Kid::python(
        "import os, socket, sys, time\nprint('go', flush=True)\nfor i in range(400):\n    pid = os.fork()\n    if pid == 0:\n        s = [socket.socket() for _ in range(8)]\n        s[0].bind(('127.0.0.1', 0)); s[0].listen()\n        time.sleep(0.005)\n        os._exit(0)\n    os.waitpid(pid, 0)\nprint('done', flush=True)\nsys.stdin.read()",
        &[],
    );
    assert_eq!(churn.line(), "go");
    let mut c = collector();
    let mut snapshots = 0;
    loop {
        let snap = c
            .snapshot(Scope::All)
            .expect("a snapshot while processes exit");
        snapshots += 1;
        let s = snap
            .sockets
            .iter()
            .find(|s| s.local().port() == port && s.proto.is_tcp())
            .expect("the steady listener");
        assert_eq!(s.owners.as_slice(), &[steady.pid()]);
        // An owner without details is one that exited between the walk and the read
        // of its details (its socket is closing), never a live process left unread.
        for s in &snap.sockets {
            for pid in &s.owners {
                let known = snap.processes.contains_key(pid);
                let gone = !std::path::Path::new(&format!("/proc/{pid}/stat")).exists();
                assert!(known || gone, "pid {pid} is alive but has no details");
            }
        }
        if churn.poll_line().is_some_and(|l| l == "done") || snapshots > 2000 {
            break;
        }
    }
    assert!(snapshots > 3, "{snapshots} snapshots during the churn");
}

/// A process forks a child that keeps its listener, then closes its own copy and opens a
/// file at the same fd number: the first snapshot after it names the child alone. (The
/// parent's fd count changed, so it is read in part; the listener is still in the dump
/// and it alone held it, but the child's read finds it: handed over, read again.)
#[test]
fn a_listener_handed_to_a_child_names_the_child_alone() {
    let script = format!(
        "{PY_LISTEN}\na = listen(); b = listen()\nprint(a.getsockname()[1], flush=True)\nsys.stdin.readline()\n\
r, w = os.pipe()\npid = os.fork()\nif pid == 0:\n    os.write(w, b'x')\n    sys.stdin.read()\n    os._exit(0)\n\
os.read(r, 1)\nn = a.fileno()\na.close()\nf1 = os.open('/dev/null', os.O_RDONLY)\nf2 = os.open('/dev/null', os.O_RDONLY)\n\
print(pid, n, f1, flush=True)\nsys.stdin.read()"
    );
    let mut kid = Kid::python(&script, &[]);
    let port: u16 = kid.line().parse().unwrap();
    let mut c = collector();
    let (snap, i) = snapshot_until(&mut c, Scope::Listeners, "the listener", |s, _| {
        s.local().port() == port && s.proto.is_tcp()
    });
    assert_eq!(snap.sockets[i].owners.as_slice(), &[kid.pid()]);
    // Twice more, so that the next one is an incremental update, not the first walk.
    c.snapshot(Scope::Listeners).unwrap();
    kid.send("go");
    let line = kid.line();
    let f: Vec<u32> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let child = f[0];
    assert_eq!(f[1], f[2], "the file took the listener's fd number: {line}");
    let snap = c.snapshot(Scope::Listeners).unwrap();
    assert!(!c.owner_stats().full, "an incremental update");
    let s = snap
        .sockets
        .iter()
        .find(|s| s.local().port() == port && s.proto.is_tcp())
        .expect("the listener, held by the child");
    assert_eq!(s.owners.as_slice(), &[child], "{:?}", c.owner_stats());
    // The child reads stdin too: closing it (with the parent) ends both.
    drop(kid);
    wait_for("the child gone", || {
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for whoever reaps orphans here.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        matches!(state, None | Some("Z")).then_some(())
    });
}

/// A listener on 127.0.0.1 shared by argv[1] forked children, as a pre-fork server's
/// workers share it. Prints the port, then waits for stdin to close; each child exits
/// when its parent is gone (the pipe only the parent writes to reaches end of file), and
/// within two minutes at most.
const PY_SHARED_LISTENER: &str = r#"
import os, signal, socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(16)
r, w = os.pipe()
for _ in range(int(sys.argv[1])):
    if os.fork() == 0:
        os.close(w)
        signal.alarm(120)
        os.read(r, 1)
        os._exit(0)
os.close(r)
print(s.getsockname()[1], flush=True)
sys.stdin.read()
"#;

/// A listener held by 41 processes: `why` names the first 16 in full and counts the
/// rest by name and user, in text and JSON; `kill --dry-run` lists the same way.
#[test]
fn many_holders_of_one_listener_are_folded_past_the_first_16() {
    // Its own process group: `kill` refuses to target the group of the sockscope the
    // test runs (the test's own).
    let mut kid = Kid::python_own_group(PY_SHARED_LISTENER, &["40"]);
    let port = kid.line();
    let folded = "and 25 more: 25 python3 processes of user ";
    let (code, out, err) = wait_for("all 41 holders in `why`", || {
        let r = run(&["why", &port]);
        r.1.contains(folded).then_some(r)
    });
    assert_eq!(code, 1, "{err}");
    assert_eq!(out.matches("\n  holder ").count(), 16, "{out}");
    assert!(out.len() < 64 * 1024, "{} bytes:\n{out}", out.len());
    let headline = out.lines().next().unwrap();
    assert!(headline.ends_with(", … and 25 more"), "{headline}");

    let (_, json, err) = run(&["why", &port, "--json"]);
    let doc: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_schema("why.schema.json", &doc);
    assert_eq!(doc["holders"].as_array().unwrap().len(), 16);
    assert_eq!(
        doc["holders_omitted"]["count"], 25,
        "{:#}",
        doc["holders_omitted"]
    );
    assert_eq!(doc["holders_omitted"]["by"][0]["name"], "python3");
    assert_eq!(doc["listeners"][0]["owners"].as_array().unwrap().len(), 16);
    assert!(json.len() < 128 * 1024, "{} bytes", json.len());

    // `list`'s PROCESS cell names the first 4 and counts the rest (a 5,700-character
    // line with 400 holders before).
    let (_, out, err) = run(&["list", &format!("lport:{port}")]);
    assert!(out.contains(",+37 more"), "{out}{err}");
    assert!(out.lines().all(|l| l.len() < 600), "{out}");

    let (code, out, err) = run(&["kill", &format!(":{port}"), "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.matches("would send ").count(), 16, "{out}");
    assert!(out.contains(folded), "{out}");
    // Nothing was sent: the parent still answers.
    kid.send("");
    assert!(kid.child.try_wait().unwrap().is_none());
}

/// A process with a dense fd table is read by probing its fd numbers instead of listing
/// them: sockets closed, new ones in the freed numbers, and one moved above the last
/// read's highest fd are all seen at the next (incremental) snapshot, each with its one
/// owner, and the stats say the table was probed.
#[test]
fn a_dense_fd_table_is_probed_and_every_change_is_seen() {
    let script = format!(
        "{PY_LISTEN}\nsocks = [listen() for _ in range(8)]\n\
print(' '.join(str(s.getsockname()[1]) for s in socks), flush=True)\nsys.stdin.readline()\n\
gone = [socks[2].getsockname()[1], socks[5].getsockname()[1]]\nsocks[2].close(); socks[5].close()\n\
new = [listen(), listen()]\nhi = listen(); port_hi = hi.getsockname()[1]\nos.dup2(hi.fileno(), 300); hi.close()\n\
print(' '.join(str(p) for p in gone), ' '.join(str(s.getsockname()[1]) for s in new), port_hi, flush=True)\n\
sys.stdin.read()"
    );
    let mut kid = Kid::python(&script, &[]);
    let before: Vec<u16> = numbers(&kid.line());
    let mut c = collector();
    let held = |snap: &sockscope::model::Snapshot, port: u16| {
        snap.sockets
            .iter()
            .find(|s| s.local().port() == port && s.proto.is_tcp())
            .map(|s| s.owners.as_slice().to_vec())
    };
    let last = before[7];
    snapshot_until(&mut c, Scope::Listeners, "the listeners", |s, _| {
        s.local().port() == last && s.proto.is_tcp()
    });
    // One more: from now on the table has a read to probe against.
    c.snapshot(Scope::Listeners).unwrap();
    kid.send("go");
    let after: Vec<u16> = numbers(&kid.line());
    let snap = c.snapshot(Scope::Listeners).unwrap();
    let stats = c.owner_stats();
    assert!(!stats.full, "an incremental update: {stats:?}");
    // (Counts every pid read in this update: the test's own process may be one.)
    assert!(stats.probed >= 1, "a dense table was probed: {stats:?}");
    // (A new listener may have drawn a closed one's port.)
    for &p in after[..2].iter().filter(|p| !after[2..].contains(p)) {
        assert_eq!(held(&snap, p), None, "closed listener {p} still listed");
    }
    for &p in after[2..]
        .iter()
        .chain(before.iter().filter(|p| !after[..2].contains(p)))
    {
        assert_eq!(
            held(&snap, p),
            Some(vec![kid.pid()]),
            "listener {p}: {stats:?}"
        );
    }
}

/// The numbers of a line a child printed.
fn numbers<T: std::str::FromStr>(line: &str) -> Vec<T>
where
    T::Err: std::fmt::Debug,
{
    line.split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// One read of a real process's fd table, probing below `probe_below` with `keep` taken
/// as it is; (inodes sorted, kept inodes, what the read said).
fn read_fds(
    pid: u32,
    probe_below: u32,
    keep: &[(u32, u32)],
) -> (Vec<u32>, Vec<u32>, Vec<u32>, sockscope::procfs::fds::FdRead) {
    use sockscope::procfs::{Found, ProcFs, read_socket_fds};
    let fs = ProcFs::new();
    let (mut inodes, mut fds, mut kept) = (Vec::new(), Vec::new(), Vec::new());
    let mut out = Found {
        inodes: &mut inodes,
        fds: Some(&mut fds),
        keep,
        kept_inodes: &mut kept,
        probe_below,
    };
    let mut link = [std::mem::MaybeUninit::uninit(); 64];
    let read = read_socket_fds(&fs.pid(pid), &mut link, &mut out);
    let mut sorted = inodes.clone();
    sorted.sort_unstable();
    let _ = fds;
    (sorted, inodes, kept, read)
}

/// The fd numbers and socket inodes a listing of `pid`'s table shows now.
fn socket_fds(pid: u32) -> Vec<(u32, u32)> {
    let mut pairs = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let Some(n) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(link) = std::fs::read_link(format!("/proc/{pid}/fd/{n}"))
            && let Some(i) =
                sockscope::procfs::fds::socket_inode(link.as_os_str().as_encoded_bytes())
        {
            pairs.push((n, i));
        }
    }
    pairs.sort_unstable();
    pairs
}

/// The probing reader on a real table: after sockets closed, new ones took the freed
/// numbers and the number where the table's dense start ended, and one moved far above
/// it, a read that probes below the dense start (taking the surviving sockets as they
/// are) stands, and finds the same sockets as a full listing.
#[test]
fn probing_below_the_dense_start_finds_what_a_listing_finds() {
    let script = format!(
        "{PY_LISTEN}\nsocks = [listen() for _ in range(8)]\nprint('ready', flush=True)\nsys.stdin.readline()\n\
closed = [socks[2].fileno(), socks[5].fileno()]\nsocks[2].close(); socks[5].close()\n\
new = [listen(), listen(), listen()]\nhi = listen(); os.dup2(hi.fileno(), 300); hi.close()\n\
print(' '.join(str(f) for f in closed), new[2].fileno(), flush=True)\nsys.stdin.read()"
    );
    let mut kid = Kid::python(&script, &[]);
    kid.line();
    let (before, _, _, first) = read_fds(kid.pid(), 0, &[]);
    assert!(first.dense_top > 8, "the table is dense: {first:?}");
    let pairs = socket_fds(kid.pid());
    assert_eq!(
        pairs
            .iter()
            .map(|p| p.1)
            .collect::<std::collections::BTreeSet<_>>(),
        before.iter().copied().collect()
    );
    kid.send("go");
    let f: Vec<u32> = numbers(&kid.line());
    let (closed, third) = (&f[..2], f[2]);
    assert_eq!(
        third, first.dense_top,
        "the third new socket took the dense end's number"
    );
    let keep: Vec<(u32, u32)> = pairs
        .into_iter()
        .filter(|(n, _)| !closed.contains(n))
        .collect();
    let (listed, _, _, _) = read_fds(kid.pid(), 0, &[]);
    let (probed, _, mut kept, read) = read_fds(kid.pid(), first.dense_top, &keep);
    assert!(read.probed, "{read:?}");
    assert_eq!(probed, listed, "probed {read:?}");
    assert_eq!(
        listed.len(),
        10,
        "8 listeners, 2 closed, 3 new, 1 moved to fd 300"
    );
    kept.sort_unstable();
    let mut want: Vec<u32> = keep.iter().map(|k| k.1).collect();
    want.sort_unstable();
    assert_eq!(kept, want, "the surviving sockets were taken as they were");
}

/// A kept socket whose fd was closed while the socket lives on elsewhere (here in flight
/// in an unread SCM_RIGHTS message): the probe asks whether the kept number is still
/// open, as a listing shows, and does not name the socket.
#[test]
fn a_kept_socket_whose_fd_closed_is_not_named_by_a_probe() {
    let script = format!(
        "{PY_LISTEN}\nsocks = [listen() for _ in range(6)]\nprint(socks[3].fileno(), flush=True)\nsys.stdin.readline()\n\
a, b = socket.socketpair()\nsocket.send_fds(a, [b'x'], [socks[3].fileno()])\nsocks[3].close()\n\
print('sent', flush=True)\nsys.stdin.read()"
    );
    let mut kid = Kid::python(&script, &[]);
    let gone: u32 = kid.line().parse().unwrap();
    let (_, _, _, first) = read_fds(kid.pid(), 0, &[]);
    let pairs = socket_fds(kid.pid());
    let sent = pairs
        .iter()
        .find(|p| p.0 == gone)
        .expect("the socket to send")
        .1;
    kid.send("go");
    kid.line();
    let (listed, _, _, _) = read_fds(kid.pid(), 0, &[]);
    assert!(!listed.contains(&sent), "the listing does not name it");
    let (probed, _, kept, read) = read_fds(kid.pid(), first.dense_top, &pairs);
    assert!(read.probed, "{read:?}");
    assert_eq!(probed, listed);
    assert!(!kept.contains(&sent), "{kept:?}");
}

/// A process read while its main thread was alive, whose main thread then exits while
/// a worker opens a socket: its own table is empty now, so the probe finds nothing (the
/// kept sockets' numbers included), and the socket is found in the threads' tables.
#[test]
fn a_main_thread_that_exits_after_a_read_is_read_through_its_threads() {
    const SCRIPT: &str = r#"
import socket, threading, sys, ctypes, os
socks = [socket.socket() for _ in range(4)]
for s in socks: s.bind(("127.0.0.1", 0)); s.listen()
print("ready", flush=True)
sys.stdin.readline()
def worker():
    import time
    for _ in range(3000):
        st = open("/proc/%d/stat" % os.getpid()).read()
        if st[st.rfind(")") + 2] == "Z": break
        time.sleep(0.01)
    b = socket.socket(); b.bind(("127.0.0.1", 0)); b.listen()
    print(os.fstat(b.fileno()).st_ino, flush=True)
    sys.stdin.read()
threading.Thread(target=worker).start()
ctypes.CDLL(None).pthread_exit(None)
"#;
    let mut kid = Kid::python(SCRIPT, &[]);
    kid.line();
    let (_, _, _, first) = read_fds(kid.pid(), 0, &[]);
    let pairs = socket_fds(kid.pid());
    assert_eq!(pairs.len(), 4);
    kid.send("go");
    let b: u32 = kid.line().parse().unwrap();
    let (probed, _, _, read) = read_fds(kid.pid(), first.dense_top, &pairs);
    assert!(read.via_tasks, "read through its threads: {read:?}");
    assert!(
        probed.contains(&b),
        "the worker's new socket {b}: {probed:?}"
    );
}
