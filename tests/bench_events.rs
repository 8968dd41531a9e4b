//! Between the polls, measured: `cargo bench --bench events [-- OPTIONS]`.
//!
//! - `--capture 10s` (default on; `--rate 2000`): a client of ours, running as `nobody`,
//!   makes `rate` connections a second, each shorter than 50 ms, to a listener of ours
//!   (this process) for the duration, while `sockscope watch --json port:P` runs. Counts
//!   the `closed` events attributed to the listener's owner (the server's ends) and to the
//!   client (the client's ends: its uid, or its pid when a poll saw one open), and what
//!   `watch` said it lost.
//! - `--accuracy 10s` (default on; `--bytes-per-sec 10000000`): a sender child streams to
//!   a receiver child at a steady rate; the live view's collector, diff and rates (the
//!   same code) give both processes' RX/s and TX/s each second; prints them against the
//!   true rate from the third second on.
//! - `--soak 10m`: the live view (the real binary in a pseudo-terminal, Events view)
//!   under `rate` short connections a second; its RSS every 30 s.
//! - `--cold-list OLD_BINARY --connections 10000`: cold `list --all --json` of this build
//!   and of another (an earlier build), alternately, on a table of `2 × connections`
//!   sockets, and `ss -tanp`; medians of 15.
//!
//! Load stays on loopback, bounded in count and time; every child is ours and is killed
//! on drop. It is not a test: nothing here fails on a slow run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sockscope::collect::Collector;
use sockscope::collect::linux::SockDiagCollector;
use sockscope::collect::worker::Differ;
use sockscope::model::Scope;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "SOCKSCOPE_BENCH_EVENTS_CHILD";
const BIN: &str = env!("CARGO_BIN_EXE_sockscope");

fn main() {
    if let Ok(role) = std::env::var(CHILD_ENV) {
        let f: Vec<&str> = role.split(':').collect();
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        match f[0] {
            "client" => client(n(1) as u16, n(2), Duration::from_secs(n(3))),
            "sender" => sender(n(1) as u16, n(2), Duration::from_secs(n(3))),
            "receiver" => receiver(),
            "short" => short_load(n(1)),
            "hold" => hold(n(1) as usize),
            other => panic!("unknown child role {other}"),
        }
        return;
    }
    let mut capture = Some(Duration::from_secs(10));
    let mut accuracy = Some(Duration::from_secs(10));
    let mut soak = None;
    let mut cold: Option<String> = None;
    let mut rate = 2000u64;
    let mut bytes_per_sec = 10_000_000u64;
    let mut connections = 10_000usize;
    let mut args = std::env::args().skip(1);
    let dur = |s: Option<String>| humantime::parse_duration(&s.expect("a duration")).unwrap();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--capture" => capture = Some(dur(args.next())),
            "--no-capture" => capture = None,
            "--accuracy" => accuracy = Some(dur(args.next())),
            "--no-accuracy" => accuracy = None,
            "--soak" => soak = Some(dur(args.next())),
            "--cold-list" => cold = args.next(),
            "--rate" => rate = args.next().unwrap().parse().unwrap(),
            "--bytes-per-sec" => bytes_per_sec = args.next().unwrap().parse().unwrap(),
            "--connections" => connections = args.next().unwrap().parse().unwrap(),
            // cargo bench passes --bench.
            _ => {}
        }
    }
    raise_nofile();
    println!(
        "sockscope {} on {} cores, kernel {}",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
    );
    if let Some(d) = capture {
        capture_figures(d, rate);
    }
    if let Some(d) = accuracy {
        accuracy_figures(d, bytes_per_sec);
    }
    if let Some(old) = cold {
        cold_list_figures(&old, connections);
    }
    if let Some(d) = soak {
        soak_figures(d, rate);
    }
}

/// A child of ours, killed and reaped on drop.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// This benchmark as a child in `role`, optionally as `nobody` (from a copy any user may
/// run).
fn child(role: &str, as_nobody: Option<&std::path::Path>) -> Kid {
    let mut cmd = match as_nobody {
        Some(exe) => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
                .arg(exe);
            c
        }
        None => Command::new(std::env::current_exe().unwrap()),
    };
    let c = cmd
        .env(CHILD_ENV, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn a child");
    Kid(c)
}

fn first_line(k: &mut Kid) -> String {
    let mut line = String::new();
    BufReader::new(k.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.trim().to_owned()
}

/// A copy of this benchmark that `nobody` may run.
fn nobody_copy() -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("sockscope-bench-events-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let exe = dir.join("bench");
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, exe)
}

/// Client role: `rate` connections a second to `port` for `d`: each sends 16 bytes,
/// reads the 16-byte answer and the server's close, and closes (the server closes first:
/// the TIME-WAITs are on its side, the client's ephemeral ports are not used up).
/// Prints how many it made and the longest one.
fn client(port: u16, rate: u64, d: Duration) {
    let start = Instant::now();
    let (mut made, mut longest) = (0u64, Duration::ZERO);
    while start.elapsed() < d {
        // Paced against the start: `rate × elapsed` made so far.
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if made >= due {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        let t = Instant::now();
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) else {
            continue;
        };
        let _ = c.write_all(&[1u8; 16]);
        let mut back = Vec::new();
        let _ = c.read_to_end(&mut back);
        drop(c);
        longest = longest.max(t.elapsed());
        made += 1;
    }
    println!("{made} {}", longest.as_micros());
}

/// The server of the capture: answers each connection and closes it first.
fn serve_short(l: TcpListener, stop: Arc<AtomicU64>) {
    l.set_nonblocking(true).unwrap();
    while stop.load(Ordering::Relaxed) == 0 {
        match l.accept() {
            Ok((mut s, _)) => {
                s.set_nonblocking(false).unwrap();
                let mut b = [0u8; 16];
                let _ = s.read_exact(&mut b);
                let _ = s.write_all(&b);
            }
            Err(_) => std::thread::sleep(Duration::from_micros(200)),
        }
    }
}

/// What `watch --json` reported about the capture's connections.
#[derive(Default, Debug)]
struct Seen {
    server_by_listener: u64,
    server_other: u64,
    client_by_client: u64,
    time_waits_ended: u64,
    /// A few of the events counted as otherwise attributed, to show.
    samples: Vec<String>,
    client_other: u64,
    short_lived: u64,
}

fn capture_figures(d: Duration, rate: u64) {
    println!(
        "capture: a client (uid nobody) makes {rate} connections/s of under 50 ms to our listener for {}; `watch --json` counts them",
        humantime::format_duration(d)
    );
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let stop = Arc::new(AtomicU64::new(0));
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || serve_short(l, stop))
    };
    let mut watch = Kid(Command::new(BIN)
        .args(["watch", "--json", &format!("port:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    let mut err = BufReader::new(watch.0.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "{line}");
    let lost_lines = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    {
        let lost_lines = lost_lines.clone();
        std::thread::spawn(move || {
            for l in err.lines().map_while(Result::ok) {
                lost_lines.lock().unwrap().push(l);
            }
        });
    }
    let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
    let last_event = Arc::new(std::sync::Mutex::new(Instant::now()));
    let client_pid = Arc::new(AtomicU64::new(0));
    {
        let (seen, last_event, client_pid) = (seen.clone(), last_event.clone(), client_pid.clone());
        let out = BufReader::new(watch.0.stdout.take().unwrap());
        let me = u64::from(std::process::id());
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                let Ok(doc) = serde_json::from_str::<serde_json::Value>(&l) else {
                    continue;
                };
                if doc["event"] != "closed" || doc["proto"] != "tcp" {
                    continue;
                }
                let mut s = seen.lock().unwrap();
                // A TIME-WAIT row that ended (its 60 s, or a new SYN on its tuple): not a
                // connection closing.
                if doc["state"] == "TIME-WAIT" {
                    s.time_waits_ended += 1;
                    continue;
                }
                let by = &doc["made_by"];
                if doc["short_lived"] == true {
                    s.short_lived += 1;
                }
                if doc["local"]["port"] == port {
                    if (by["by"] == "listener" || by["by"] == "owner") && by["pid"] == me {
                        s.server_by_listener += 1;
                    } else {
                        s.server_other += 1;
                        if s.samples.len() < 4 {
                            s.samples.push(l.clone());
                        }
                    }
                } else if doc["remote"]["port"] == port {
                    let cp = client_pid.load(Ordering::Relaxed);
                    if by["by"] == "unseen"
                        || by["by"] == "owner" && by["pid"] == cp
                        || by["by"] == "uid" && by["uid"] == 65534
                    {
                        s.client_by_client += 1;
                    } else {
                        s.client_other += 1;
                        if s.samples.len() < 4 {
                            s.samples.push(l.clone());
                        }
                    }
                }
                *last_event.lock().unwrap() = Instant::now();
            }
        });
    }
    let (dir, exe) = nobody_copy();
    let watch_cpu0 = cpu_ticks_of(watch.0.id());
    let t0 = Instant::now();
    let mut c = child(&format!("client:{port}:{rate}:{}", d.as_secs()), Some(&exe));
    client_pid.store(u64::from(c.0.id()), Ordering::Relaxed);
    let result = first_line(&mut c);
    let wall = t0.elapsed();
    let mut f = result.split_whitespace().map(|v| v.parse::<u64>().unwrap());
    let (made, longest_us) = (f.next().unwrap(), f.next().unwrap());
    // The last events come with the next snapshot: wait until none came for 3 s.
    while last_event.lock().unwrap().elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let watch_cpu = cpu_ticks_of(watch.0.id()) - watch_cpu0;
    stop.store(1, Ordering::Relaxed);
    let _ = server.join();
    drop(watch);
    let _ = std::fs::remove_dir_all(dir);
    let s = seen.lock().unwrap();
    let pct = |n: u64| 100.0 * n as f64 / made.max(1) as f64;
    println!(
        "  made {made} connections in {:.1} s ({:.0}/s), the longest {:.1} ms",
        wall.as_secs_f64(),
        made as f64 / wall.as_secs_f64(),
        longest_us as f64 / 1e3
    );
    println!(
        "  server ends closed, made by the listener's owner: {} ({:.2} %); otherwise attributed: {}",
        s.server_by_listener,
        pct(s.server_by_listener),
        s.server_other
    );
    println!(
        "  client ends closed, made by the client (its pid or uid nobody when a poll saw it) or unseen: {} ({:.2} %); otherwise attributed: {}",
        s.client_by_client,
        pct(s.client_by_client),
        s.client_other
    );
    println!(
        "  short-lived (no poll saw them open): {} of {}",
        s.short_lived,
        s.server_by_listener + s.server_other + s.client_by_client + s.client_other
    );
    println!(
        "  TIME-WAIT rows that ended (not counted above): {}",
        s.time_waits_ended
    );
    for l in &s.samples {
        println!("  otherwise attributed, e.g. {l}");
    }
    let lost: Vec<String> = lost_lines
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("lost") || l.contains("dropped"))
        .cloned()
        .collect();
    println!(
        "  losses reported by watch: {}",
        if lost.is_empty() {
            "none".to_owned()
        } else {
            lost.join(" | ")
        }
    );
    println!(
        "  watch's CPU: {:.1} % of a core over {:.0} s",
        watch_cpu as f64 / ticks_per_sec() / (wall.as_secs_f64() + 3.0) * 100.0,
        wall.as_secs_f64() + 3.0
    );
    let ok = pct(s.server_by_listener) >= 99.0 && pct(s.client_by_client) >= 99.0;
    println!(
        "  target: ≥ 99 % of each end reported, the server's by its listener: {}\n",
        if ok { "met" } else { "NOT met" }
    );
}

/// Receiver role: prints its port, reads one connection to its end, prints the total.
fn receiver() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    println!("{}", l.local_addr().unwrap().port());
    std::io::stdout().flush().unwrap();
    let (mut s, _) = l.accept().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    println!("{total}");
}

/// Sender role: `rate` bytes a second to `port` for `d`, in 20 slices a second paced
/// against the start; prints the total.
fn sender(port: u16, rate: u64, d: Duration) {
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let slice = vec![7u8; (rate / 20) as usize];
    let start = Instant::now();
    let mut sent = 0u64;
    let mut k = 0u32;
    while start.elapsed() < d {
        c.write_all(&slice).unwrap();
        sent += slice.len() as u64;
        k += 1;
        let next = Duration::from_millis(50) * k;
        if let Some(wait) = next.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    println!("{sent}");
}

fn accuracy_figures(d: Duration, rate: u64) {
    println!(
        "accuracy: a sender streams {:.1} MB/s to a receiver (two children) for {}; the live view's per-process RX/s and TX/s each second",
        rate as f64 / 1e6,
        humantime::format_duration(d)
    );
    let mut rx = child("receiver", None);
    let port = first_line(&mut rx);
    let mut c = SockDiagCollector::new()
        .expect("sock_diag")
        .watching_lifecycle();
    c.set_traffic(true);
    let mut differ = Differ::default();
    differ.next(c.snapshot(Scope::All).unwrap(), Duration::ZERO, 0);
    let mut tx = child(&format!("sender:{port}:{rate}:{}", d.as_secs()), None);
    let (rx_pid, tx_pid) = (rx.0.id(), tx.0.id());
    let start = Instant::now();
    let mut rows = Vec::new();
    let mut tick = start;
    while start.elapsed() < d + Duration::from_secs(2) {
        tick += Duration::from_secs(1);
        if let Some(w) = tick.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        let col = differ.next(c.snapshot(Scope::All).unwrap(), Duration::ZERO, 0);
        let t = col.traffic.unwrap_or_default();
        let r = t.processes.get(&rx_pid).map_or(0, |r| r.rx);
        let s = t.processes.get(&tx_pid).map_or(0, |r| r.tx);
        rows.push((start.elapsed().as_secs_f64(), r, s));
    }
    let sent: u64 = first_line(&mut tx).parse().unwrap();
    let got: u64 = first_line(&mut rx).parse().unwrap();
    println!(
        "  {:>6} {:>14} {:>14} {:>9} {:>9}",
        "s", "receiver RX/s", "sender TX/s", "RX err", "TX err"
    );
    let mut worst: f64 = 0.0;
    for (at, r, s) in &rows {
        let err = |x: u64| (x as f64 - rate as f64) / rate as f64 * 100.0;
        // The sender starts with the clock and stops at `d`: its last second may be cut.
        let counted = *at >= 2.5 && *at <= d.as_secs_f64() - 0.5;
        if counted {
            worst = worst.max(err(*r).abs()).max(err(*s).abs());
        }
        println!(
            "  {at:>6.1} {r:>14} {s:>14} {:>8.1}% {:>8.1}%{}",
            err(*r),
            err(*s),
            if counted { "" } else { "  (not counted)" }
        );
    }
    println!(
        "  sent {sent} bytes, received {got}; worst error after the first 2 s: {worst:.1} % (target ±10 %: {})\n",
        if worst <= 10.0 { "met" } else { "NOT met" }
    );
}

/// Short-load role: a listener and `rate` connections a second to it (server closes
/// first, as in the capture) until stdin closes.
fn short_load(rate: u64) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let stop = Arc::new(AtomicU64::new(0));
    {
        let stop = stop.clone();
        std::thread::spawn(move || serve_short(l, stop));
    }
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
            stop.store(1, Ordering::Relaxed);
        });
    }
    println!("ready");
    std::io::stdout().flush().unwrap();
    while stop.load(Ordering::Relaxed) == 0 {
        client(port, rate, Duration::from_secs(1));
    }
}

/// Hold role: `n` established loopback connections (both ends its own), until stdin
/// closes; every socket with `SO_LINGER {1, 0}` so that nothing is left in TIME-WAIT.
fn hold(n: usize) {
    use std::os::fd::AsFd;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut held = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        for sock in [&c, &s] {
            let _ = rustix::net::sockopt::set_socket_linger(sock.as_fd(), Some(Duration::ZERO));
        }
        held.push(c);
        held.push(s);
    }
    println!("ready");
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// Median wall time of `argv` run `n` times, output discarded.
fn median_ms(argv: &[&str], n: usize) -> f64 {
    median_ms_env(argv, n, &[])
}

fn median_ms_env(argv: &[&str], n: usize, env: &[(&str, &str)]) -> f64 {
    let mut v: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            let st = Command::new(argv[0])
                .args(&argv[1..])
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success(), "{argv:?}");
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cold_list_figures(old: &str, connections: usize) {
    let per = 2000;
    let kids: Vec<Kid> = (0..connections.div_ceil(per))
        .map(|_| child(&format!("hold:{per}"), None))
        .collect();
    let mut kids = kids;
    for k in &mut kids {
        assert_eq!(first_line(k), "ready");
    }
    let sockets = std::fs::read_to_string("/proc/net/sockstat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("TCP: inuse "))
        .and_then(|r| r.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    println!(
        "cold `list --all --json`: this build against {old}, {} connections held (TCP inuse {sockets}); medians of 15, alternating",
        kids.len() * per
    );
    // A runtime directory of its own, empty: a cold `list` on a host where no sockscope
    // runs. (One that runs, or stopped less than 30 s ago — this benchmark's own capture
    // — leaves a state file that `list` reads: the makers of the TIME-WAITs, which the
    // earlier build does not know of.)
    let runtime = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("bench-rt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&runtime);
    std::fs::create_dir_all(&runtime).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let env = [("XDG_RUNTIME_DIR", runtime.to_str().unwrap())];
    println!("  (no running sockscope's state file is read: a runtime directory of its own)");
    let (mut new, mut was) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        new.push(median_ms_env(&[BIN, "list", "--all", "--json"], 5, &env));
        was.push(median_ms_env(&[old, "list", "--all", "--json"], 5, &env));
    }
    let _ = std::fs::remove_dir_all(&runtime);
    new.sort_by(f64::total_cmp);
    was.sort_by(f64::total_cmp);
    let (n, o) = (new[1], was[1]);
    let ss = median_ms(&["ss", "-tanp"], 15);
    println!(
        "  this build {n:.2} ms, the other {o:.2} ms: {:+.1} %; ss -tanp {ss:.2} ms ({:.2}x ss)",
        (n / o - 1.0) * 100.0,
        n / ss
    );
    println!(
        "  target: no more than 10 % slower: {}\n",
        if n <= o * 1.10 { "met" } else { "NOT met" }
    );
}

/// The live view in a pseudo-terminal, Events view, under `rate` short connections a
/// second; its RSS every 30 s.
/// TCP sockets on the host (in use and TIME-WAIT, from /proc/net/sockstat): the table the
/// live view holds grows and shrinks with them.
fn tcp_sockets() -> u64 {
    let stat = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("TCP:")) else {
        return 0;
    };
    let f: Vec<&str> = line.split_whitespace().collect();
    let field = |name: &str| {
        f.iter()
            .position(|w| *w == name)
            .and_then(|i| f.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field("inuse") + field("tw")
}

fn soak_figures(d: Duration, rate: u64) {
    use portable_pty::{CommandBuilder, PtySize, native_pty_system};
    println!(
        "soak: the live view (Events view) for {} under {rate} short connections/s; RSS every 30 s",
        humantime::format_duration(d)
    );
    let mut load = child(&format!("short:{rate}"), None);
    assert_eq!(first_line(&mut load), "ready");
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 160,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(BIN);
    cmd.args(["--view", "events"]);
    cmd.env("TERM", "xterm-256color");
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("sockscope-bench-no-config"),
    );
    let mut view = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let pid = view.process_id().unwrap();
    let mut reader = pair.master.try_clone_reader().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut cpu0 = cpu_ticks_of(pid);
    println!(
        "  {:>7} {:>8} {:>7} {:>12}",
        "minute", "RSS MB", "CPU %", "TCP sockets"
    );
    while start.elapsed() < d {
        std::thread::sleep(Duration::from_secs(30));
        let rss = rss_mb(pid);
        let cpu = cpu_ticks_of(pid);
        let min = start.elapsed().as_secs_f64() / 60.0;
        println!(
            "  {min:>7.1} {rss:>8.1} {:>7.1} {:>12}",
            (cpu - cpu0) as f64 / ticks_per_sec() / 30.0 * 100.0,
            tcp_sockets()
        );
        cpu0 = cpu;
        samples.push((min, rss));
    }
    let _ = view.kill();
    let _ = view.wait();
    drop(load);
    let after: Vec<f64> = samples
        .iter()
        .filter(|(m, _)| *m > 1.01)
        .map(|(_, r)| *r)
        .collect();
    if let (Some(lo), Some(hi)) = (
        after.iter().copied().reduce(f64::min),
        after.iter().copied().reduce(f64::max),
    ) {
        println!(
            "  after the first minute: RSS between {lo:.1} and {hi:.1} MB, a spread of {:.1} MB (target within ±2 MB: {})\n",
            hi - lo,
            if hi - lo <= 4.0 { "met" } else { "NOT met" }
        );
    }
}

fn raise_nofile() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut l = getrlimit(Resource::Nofile);
    if let Some(max) = l.maximum {
        l.current = Some(max);
        let _ = setrlimit(Resource::Nofile, l);
    }
}

fn ticks_per_sec() -> f64 {
    100.0
}

/// VmRSS of a process, MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// utime + stime of a process, clock ticks.
fn cpu_ticks_of(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}
