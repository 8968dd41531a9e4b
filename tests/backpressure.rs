//! The pipeline from the collector thread to the screen and to stdout: an interval
//! change takes effect at once, and a terminal or a pipe that stops reading makes
//! nothing pile up (the live view keeps one snapshot; `watch` counts what it drops).

use crate::support::pty::Tui;
use crate::support::*;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// `+` five times (1 s up to 1 m), then `-` five times (back to 1 s): a connection opened
/// then shows within 2 s. Before the fix the worker kept the tick it had scheduled at
/// 1 m, and the screen stayed frozen for up to a minute under "every 1s".
#[test]
fn an_interval_change_takes_effect_at_once() {
    // Not while a churn test loads the machine: 2 s is the point of the test.
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut tui = Tui::start(&[
        "--view",
        "sockets",
        "--interval",
        "1s",
        "--filter",
        &format!("port:{port}"),
    ]);
    tui.wait_screen("the listener at 1 s", |s| {
        s.contains(&format!("127.0.0.1:{port}")) && s.contains("every 1s")
    });
    tui.keys("+++++");
    tui.wait_screen("every 1m", |s| s.contains("every 1m "));
    // Stay at 1 m for longer than the 1 s tick that was pending when the keys came: the
    // old worker took that snapshot and then scheduled the next a minute later.
    let a = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let dwell = Instant::now() + Duration::from_secs(3);
    while Instant::now() < dwell {
        std::thread::sleep(Duration::from_millis(50));
    }
    tui.keys("-----");
    tui.wait_screen("every 1s again", |s| s.contains("every 1s "));
    let b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let b_port = b.local_addr().unwrap().port();
    let opened = Instant::now();
    tui.wait_screen_for(
        "the new connection within 2 s",
        Duration::from_secs(2),
        |s| s.contains(&format!("127.0.0.1:{b_port}")),
    );
    assert!(opened.elapsed() <= Duration::from_secs(2));
    tui.keys("q");
    assert!(tui.wait_exit().success());
    drop((a, b, l));
}

/// A child that holds `KEEP` loopback connections to a listener of its own and keeps
/// replacing them (`STEP` every 20 ms), for at most a minute. Every socket closes
/// abortively (SO_LINGER 0), also when the child is killed: no TIME-WAIT piles up, so the
/// table stays the same size. It prints the listener's port once `KEEP` are open; a line
/// on stdin stops the churn: it closes them all, opens one last connection and prints its
/// client port.
const CHURN: &str = r#"
import collections, select, socket, struct, sys, time
KEEP, STEP = int(sys.argv[1]), int(sys.argv[2])
abort = struct.pack('ii', 1, 0)
l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1024)
live = collections.deque()
def connect():
    c = socket.create_connection(l.getsockname())
    a, _ = l.accept()
    for s in (c, a):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, abort)
    return c, a
def step(n):
    for _ in range(n):
        live.append(connect())
    while len(live) > KEEP:
        for s in live.popleft():
            s.close()
while len(live) < KEEP:
    step(100)
print(l.getsockname()[1], flush=True)
end = time.time() + 60
while time.time() < end:
    if select.select([sys.stdin], [], [], 0.02)[0]:
        sys.stdin.readline()
        break
    step(STEP)
while live:
    for s in live.popleft():
        s.close()
c, a = connect()
print(c.getsockname()[1], flush=True)
sys.stdin.read()
"#;

/// The tests here take turns: each churn test measures memory while the table holds its
/// own churn, not the other's growing, and the interval test's 2 s are not spent on
/// someone else's 8,000 sockets.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Connections the churn keeps open: 8,000 sockets, so that every snapshot weighs about
/// a megabyte and a pile of them shows.
const KEEP: &str = "4000";

/// Resident memory of a process we started, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Whether a thread of `pid` (ours) is blocked in `write` (to the terminal, or to
/// stdout through a descriptor of its own: `watch`'s writer thread dups it).
fn blocked_writing(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("syscall"))
            .is_ok_and(|s| s.split_whitespace().next() == Some(SYS_WRITE))
    })
}

/// `write` on this machine's architecture, as /proc/PID/syscall gives it.
const SYS_WRITE: &str = if cfg!(target_arch = "aarch64") {
    "64"
} else {
    "1"
};

/// Waits until `pid` is blocked writing, and has been for half a second.
fn wait_blocked_writing(pid: u32, what: &str) {
    let mut since: Option<Instant> = None;
    wait_for(what, || {
        if blocked_writing(pid) {
            let t = *since.get_or_insert_with(Instant::now);
            (t.elapsed() >= Duration::from_millis(500)).then_some(())
        } else {
            since = None;
            None
        }
    });
}

/// Holds for five seconds while `pid` stays blocked writing; returns how much its
/// resident memory grew meanwhile, in KiB.
fn growth_while_blocked(pid: u32) -> i64 {
    let before = rss_kib(pid);
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        assert!(blocked_writing(pid), "the writer stayed blocked");
        std::thread::sleep(Duration::from_millis(100));
    }
    rss_kib(pid) as i64 - before as i64
}

/// The live view on a terminal that stops reading, for five seconds of churn: its
/// memory stays within 10 MB (one snapshot waits, not one per interval), and once the
/// terminal reads again the screen shows the newest state.
#[test]
fn a_terminal_that_stops_reading_makes_nothing_pile_up() {
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    // 250 connections a second: the snapshots differ, and the machine keeps some breath.
    let mut churn = Kid::python(CHURN, &[KEEP, "5"]);
    let port: u16 = churn.line().parse().unwrap();
    let mut tui = Tui::start(&[
        "--view",
        "sockets",
        "--interval",
        "250ms",
        "--filter",
        &format!("port:{port}"),
    ]);
    tui.wait_screen("the churn on screen", |s| {
        s.contains(&format!("127.0.0.1:{port}")) && s.contains("python3")
    });
    let pid = tui.child.process_id().unwrap();
    tui.stall(true);
    wait_blocked_writing(pid, "the view blocked writing to the terminal");
    let grew = growth_while_blocked(pid);
    assert!(
        grew < 10 * 1024,
        "RSS grew by {grew} KiB while the terminal was stalled"
    );
    churn.send("stop");
    let last: u16 = churn.line().parse().unwrap();
    tui.stall(false);
    tui.wait_screen(
        "the newest connection, once the terminal reads again",
        |s| s.contains(&format!("127.0.0.1:{last}")),
    );
    tui.keys("q");
    assert!(tui.wait_exit().success());
}

/// `watch --json` whose reader stops reading, for five seconds of churn: its memory
/// stays within 10 MB, and once stdout is read again, stderr says how many events were
/// dropped; every line written is a whole event.
#[test]
fn watch_with_a_reader_that_stops_reading_counts_what_it_drops() {
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    // 1,000 connections a second, 4,000 events: the backlog (2 MiB) fills within the
    // five seconds, so that lines are dropped.
    let mut churn = Kid::python(CHURN, &[KEEP, "20"]);
    let port: u16 = churn.line().parse().unwrap();
    let mut child = std::process::Command::new(bin())
        .args([
            "watch",
            &format!("port:{port}"),
            "--json",
            "--interval",
            "250ms",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let unread = child.stdout.take().unwrap();
    let err = Lines::of(child.stderr.take().unwrap());
    let mut w = Reaped(child);
    assert!(err.next("the watching line").contains("watching"));
    let pid = w.0.id();
    wait_blocked_writing(pid, "watch blocked writing to stdout");
    let grew = growth_while_blocked(pid);
    assert!(
        grew < 10 * 1024,
        "RSS grew by {grew} KiB while stdout was not read"
    );
    let out = Lines::of(unread);
    let warning = err.next("the dropped events, once stdout is read");
    assert!(
        warning.contains("dropped here: stdout was not read fast enough"),
        "{warning}"
    );
    let dropped: u64 = warning
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap();
    assert!(dropped > 0, "{warning}");
    for _ in 0..100 {
        let line = out.next("an event");
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(doc["event"].is_string(), "{line}");
    }
    churn.send("stop");
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    // Our own child.
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = wait_for("watch to stop", || w.0.try_wait().unwrap());
    assert_eq!(status.code(), Some(0));
}

/// A reader slower than `watch` but never stalled: 6,000 listeners open in one snapshot
/// and close in another, 12,000 lines, more than the backlog holds (2 MiB). `watch`
/// waits for the reader and writes every event: each port opened and closed once, and
/// nothing dropped.
#[test]
fn watch_with_a_slow_reader_loses_nothing() {
    let _turn = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let script = "import socket, sys\nsys.stdin.readline()\nls = []\nfor _ in range(6000):\n    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); ls.append(s)\nprint('open', flush=True)\nsys.stdin.readline()\nfor s in ls:\n    s.close()\nprint('closed', flush=True)\nsys.stdin.read()\n";
    let mut kid = Kid::python(script, &[]);
    let mut child = std::process::Command::new(bin())
        .args([
            "watch",
            &format!("pid:{}", kid.pid()),
            "--json",
            "--count",
            "12000",
            "--interval",
            "250ms",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Lines are read from the pipe only as the test takes them (a channel of no room).
    let (tx, lines) = std::sync::mpsc::sync_channel::<String>(0);
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let err = Lines::of(child.stderr.take().unwrap());
    let mut w = Reaped(child);
    assert!(err.next("the watching line").contains("watching 0 sockets"));
    kid.send("open");
    assert_eq!(kid.line(), "open");
    let mut opened = std::collections::HashMap::new();
    let mut closed = std::collections::HashMap::new();
    for n in 0..12_000 {
        if n == 6000 {
            kid.send("close");
            assert_eq!(kid.line(), "closed");
        }
        if n % 200 == 0 {
            // Slower than watch, never for a whole second.
            std::thread::sleep(Duration::from_millis(50));
        }
        let line = lines.recv_timeout(DEADLINE).expect("an event");
        let doc: serde_json::Value = serde_json::from_str(&line).unwrap();
        let port = doc["local"]["port"].as_u64().unwrap();
        let before = match doc["event"].as_str().unwrap() {
            "opened" => opened.insert(port, line.clone()),
            "closed" => closed.insert(port, line.clone()),
            other => panic!("{other}: {line}"),
        };
        assert!(
            before.is_none(),
            "twice: {line}\nfirst: {}",
            before.unwrap_or_default()
        );
    }
    assert_eq!((opened.len(), closed.len()), (6000, 6000));
    let ports = |m: &std::collections::HashMap<u64, String>| {
        m.keys()
            .copied()
            .collect::<std::collections::BTreeSet<u64>>()
    };
    assert_eq!(ports(&opened), ports(&closed));
    let status = wait_for("watch to stop after 12,000 events", || {
        w.0.try_wait().unwrap()
    });
    assert!(status.success());
    while let Some(line) = err.next_or_end() {
        assert!(!line.contains("dropped"), "{line}");
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
