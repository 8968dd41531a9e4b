//! Traffic in the real live view at 80×24, in a pseudo-terminal: a child that sends a
//! known number of bytes per second over loopback shows that rate in the Processes
//! view, and a burst of short connections shows as one folded Events line with its
//! count.

use crate::support::pty::Tui;
use crate::support::*;

/// 256 KiB a second, in 64 paced writes (one more or less in a snapshot's second is
/// 1.6 %): what the child sends (and, holding the other end too, receives).
const RATE: u64 = 256 * 1024;

/// A listener whose one connection the child both makes and reads: it writes RATE
/// bytes a second on the client end, paced by the clock (never drifting), and reads
/// them on the server end. Prints its pid when the first bytes went.
const PY_SENDER: &str = r#"
import os, socket, sys, threading, time
rate = int(sys.argv[1])
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(4)
def sink():
    s, _ = l.accept()
    while s.recv(1 << 16):
        pass
threading.Thread(target=sink, daemon=True).start()
c = socket.create_connection(l.getsockname())
chunk = b"x" * (rate // 64)
start = time.monotonic(); n = 0
while True:
    c.sendall(chunk); n += 1
    if n == 1:
        print(os.getpid(), flush=True)
    wait = start + n / 64 - time.monotonic()
    if wait > 0:
        time.sleep(wait)
"#;

/// `256K` → 262,144; `1.2M`, `1023`: as the RX/s and TX/s columns write bytes.
fn bytes(cell: &str) -> Option<f64> {
    let (num, unit) = match cell.chars().last()? {
        'K' => (&cell[..cell.len() - 1], 1024.0),
        'M' => (&cell[..cell.len() - 1], 1024.0 * 1024.0),
        'G' => (&cell[..cell.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (cell, 1.0),
    };
    num.parse::<f64>().ok().map(|n| n * unit)
}

/// The cell of a right-aligned column in `row`: the word that ends where the column's
/// title ends in `header` (positions in characters: the header has arrows).
fn cell_under(header: &str, row: &str, title: &str) -> Option<String> {
    let h: Vec<char> = header.chars().collect();
    let t: Vec<char> = title.chars().collect();
    let end = h.windows(t.len()).position(|w| w == t.as_slice())? + t.len();
    let r: Vec<char> = row.chars().collect();
    if r.len() < end || r.get(end).is_some_and(|c| !c.is_whitespace()) {
        return None;
    }
    let upto: String = r[..end].iter().collect();
    let word = upto.split_whitespace().last()?;
    upto.ends_with(word).then(|| word.to_owned())
}

/// The RX/s and TX/s of `pid`'s row on `screen` (the Processes view), in bytes.
fn rates_of(screen: &str, pid: u32) -> Option<(f64, f64)> {
    let lines: Vec<&str> = screen.lines().collect();
    let header = lines.get(3)?;
    let row = lines
        .iter()
        .find(|l| l.trim_start().starts_with(&format!("{pid} ")))?;
    let rx = cell_under(header, row, "RX/s").and_then(|c| bytes(&c))?;
    let tx = cell_under(header, row, "TX/s").and_then(|c| bytes(&c))?;
    Some((rx, tx))
}

/// Three snapshots in a row show RX/s and TX/s within 10 % of the rate sent: one
/// lucky reading (a stalled sender, a window cut short) is not enough.
#[test]
fn the_processes_view_shows_a_known_rate_within_ten_percent() {
    let mut kid = Kid::python(PY_SENDER, &[&RATE.to_string()]);
    let pid: u32 = kid.line().parse().unwrap();
    assert_eq!(pid, kid.pid());
    let filter = format!("pid:{pid}");
    let mut tui = Tui::start_sized(&["--view", "processes", "--filter", &filter], 80, 24);
    let within = |v: f64| (v - RATE as f64).abs() <= RATE as f64 * 0.10;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    // Each new frame's reading; the first line (the snapshot's collection time) tells
    // one snapshot from the next.
    let mut readings: Vec<(String, f64, f64)> = Vec::new();
    let mut in_a_row = 0;
    while in_a_row < 3 {
        let screen = tui.screen();
        let stamp = screen.lines().next().unwrap_or_default().to_owned();
        if let Some((rx, tx)) = rates_of(&screen, pid)
            && readings.last().is_none_or(|(s, ..)| *s != stamp)
        {
            readings.push((stamp, rx, tx));
            in_a_row = if within(rx) && within(tx) {
                in_a_row + 1
            } else {
                0
            };
        }
        assert!(
            std::time::Instant::now() < deadline,
            "RX/s and TX/s never within 10 % of {RATE} three times in a row; readings \
             (rx, tx): {:?}\nscreen:\n{screen}",
            readings
                .iter()
                .map(|(_, r, t)| (*r, *t))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let screen = tui.screen();
    let header = screen.lines().nth(3).unwrap();
    assert!(
        header.contains("RX/s") && header.contains("TX/s"),
        "{screen}"
    );
    tui.keys("q");
    assert!(tui.wait_exit().success());
    drop(kid);
}

/// On each line from the test: `n` connections to its own listener, each accepted and
/// closed by both ends at once (far faster than a poll). Prints its port first, then
/// `done` after each burst.
const PY_BURST: &str = r#"
import socket, sys
n = int(sys.argv[1])
l = socket.socket(); l.bind(("127.0.0.1", 0)); l.listen(1024)
print(l.getsockname()[1], flush=True)
for line in sys.stdin:
    for i in range(n):
        c = socket.create_connection(l.getsockname())
        s, _ = l.accept()
        c.close(); s.close()
    print("done", flush=True)
"#;

/// How many short connections the Events view says came in on `port` of `pid`: the
/// folded lines' counts and the single closed events (a burst cut by a poll leaves a
/// few of its connections on each side of it, too few to fold, or seen open). Also
/// whether any line was folded.
fn burst_on_screen(screen: &str, port: u16, pid: u32) -> (u64, bool) {
    let folded = format!(" short connections to :{port} by {pid}/python3");
    let mut total = 0;
    let mut any_folded = false;
    for l in screen.lines().skip(4) {
        if let Some(at) = l.find(&folded) {
            let count = l[..at]
                .rsplit('+')
                .next()
                .unwrap_or_default()
                .replace(',', "");
            total += count.trim().parse::<u64>().unwrap_or(0);
            any_folded = true;
        } else if l.contains(" closed ") && l.contains(&format!("127.0.0.1:{port} ")) {
            total += 1;
        }
    }
    (total, any_folded)
}

/// A burst of 300 short connections to a child's listener, at 80×24: the Events view
/// shows them folded ("+300 short connections to :P by PID/python3"), and its counts
/// add up to every connection.
#[test]
fn a_burst_of_short_connections_is_folded_with_its_count() {
    const N: u64 = 300;
    let mut kid = Kid::python(PY_BURST, &[&N.to_string()]);
    let port: u16 = kid.line().parse().unwrap();
    let pid = kid.pid();
    // Only the listener's end: the client ends are on ephemeral ports.
    let filter = format!("lport:{port}");
    let mut tui = Tui::start_sized(&["--view", "events", "--filter", &filter], 80, 24);
    // Two snapshots in: the destroy subscriber is listening, the listener is known.
    tui.wait_screen("the collector running", |s| s.contains("sockdiag"));
    let first = tui.screen().lines().next().unwrap_or_default().to_owned();
    tui.wait_screen("the next snapshot", |s| {
        s.lines().next().is_some_and(|l| l != first)
    });
    kid.send("go");
    assert_eq!(kid.line(), "done");
    let screen = tui.wait_screen_for(
        "every connection of the burst counted",
        std::time::Duration::from_secs(60),
        |s| burst_on_screen(s, port, pid).0 >= N,
    );
    let (total, folded) = burst_on_screen(&screen, port, pid);
    assert_eq!(total, N, "{screen}");
    assert!(folded, "{screen}");
    assert!(
        screen
            .lines()
            .skip(4)
            .filter(|l| l.contains(" closed "))
            .count()
            < 20,
        "not one line each: {screen}"
    );
    tui.keys("q");
    assert!(tui.wait_exit().success());
    drop(kid);
}
