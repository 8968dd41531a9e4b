//! Snapshot benchmark: `cargo bench --bench snapshot [-- --connections 1000,10000 --polls 15]`.
//! Other runs: `-- --churn 2m` (the live view's CPU against `ss -tanp` once a second under
//! a churn of 1,900 connections a second), `-- --scale 200000,500000` (the figures at
//! that many sockets), `-- --soak 60m` (memory and false events over time),
//! `-- --budget 200000,500000` (the live view and `watch` under the default CPU budget at
//! that many sockets: CPU, freshness of listeners and of a filter by port, peak RSS,
//! update time, and what each kind of dump costs against `ss`).
//!
//! Starts its own bounded loopback load — N established connections spread over child
//! processes (2,000 per child, both ends its own: 4,000 fds, under the usual
//! RLIMIT_NOFILE), every socket set to `SO_LINGER {1, 0}` so closing sends RST and leaves
//! no TIME-WAIT — and then measures, in the same run, the median of several polls after
//! warm-up of:
//! - sockscope's steady-state snapshot (one collector reused across polls, as in the TUI),
//!   of every socket and of listeners only;
//! - sockscope's cold one-shot (`sockscope list --all` as a process), with its peak RSS;
//! - `netstat2::get_sockets_info` plus a full sysinfo process refresh;
//! - `ss -tanp` as a process, with its peak RSS.
//!
//! Prints times, ratios against `ss`, and peak RSS. It is not a test: nothing here fails
//! on a slow run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sockscope::collect::Collector;
use sockscope::collect::linux::SockDiagCollector;
use sockscope::model::Scope;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Connections per load child: both ends are its own, so 4,000 fds.
/// Counts the heap this process uses, for the scale run's breakdown of the live view's
/// memory (relaxed atomics: a few ns per allocation, the same for every figure).
struct Counting;

static HEAP_NOW: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static HEAP_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call is passed straight to the system allocator; only counters are added.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        let now = HEAP_NOW.fetch_add(layout.size(), Relaxed) + layout.size();
        HEAP_PEAK.fetch_max(now, Relaxed);
        // SAFETY: the caller's layout contract is passed on unchanged.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        HEAP_NOW.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        if new >= layout.size() {
            let now = HEAP_NOW.fetch_add(new - layout.size(), Relaxed) + new - layout.size();
            HEAP_PEAK.fetch_max(now, Relaxed);
        } else {
            HEAP_NOW.fetch_sub(layout.size() - new, Relaxed);
        }
        // SAFETY: as above.
        unsafe { std::alloc::System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// (heap in use now, peak since the last call) in MB; resets the peak.
fn heap_mb() -> (f64, f64) {
    use std::sync::atomic::Ordering::Relaxed;
    let now = HEAP_NOW.load(Relaxed);
    let peak = HEAP_PEAK.swap(now, Relaxed);
    (now as f64 / 1e6, peak as f64 / 1e6)
}

const PER_CHILD: usize = 2000;
const CHILD_ENV: &str = "SOCKSCOPE_BENCH_CHILD";

fn main() {
    if let Ok(n) = std::env::var(CHILD_ENV) {
        child(n.parse().expect("connection count"));
        return;
    }
    if std::env::var_os(SPAWNER_ENV).is_some() {
        spawner();
        return;
    }
    if std::env::var_os(NS_ENV).is_some() {
        namespace_child();
        return;
    }
    if let Ok(rate) = std::env::var(CHURN_ENV) {
        churn_child(rate.parse().expect("churn rate"));
        return;
    }
    // Started first, while this process is still small: see `Spawner`.
    let mut spawner = Spawner::start();
    let floor = spawner.run(&["true"]).1;
    let mut sizes = vec![1000usize, 10_000];
    let mut polls = 15usize;
    let mut namespaces = 50usize;
    let mut soak_for: Option<Duration> = None;
    let mut churn_for: Option<Duration> = None;
    let mut scale: Vec<usize> = Vec::new();
    let mut budget: Vec<usize> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--connections" => {
                sizes = args
                    .next()
                    .expect("--connections N[,N…]")
                    .split(',')
                    .map(|v| v.parse().expect("number"))
                    .collect();
            }
            "--polls" => polls = args.next().expect("--polls N").parse().expect("number"),
            "--soak" => {
                let d = args.next().expect("--soak DURATION (e.g. 60m)");
                soak_for = Some(humantime::parse_duration(&d).expect("a duration"));
            }
            "--churn" => {
                let d = args.next().expect("--churn DURATION (e.g. 2m)");
                churn_for = Some(humantime::parse_duration(&d).expect("a duration"));
            }
            "--scale" => {
                scale = args
                    .next()
                    .expect("--scale SOCKETS[,SOCKETS…]")
                    .split(',')
                    .map(|v| v.parse().expect("number"))
                    .collect();
            }
            "--budget" => {
                budget = args
                    .next()
                    .expect("--budget SOCKETS[,SOCKETS…]")
                    .split(',')
                    .map(|v| v.parse().expect("number"))
                    .collect();
            }
            "--namespaces" => {
                namespaces = args
                    .next()
                    .expect("--namespaces N")
                    .parse()
                    .expect("number");
            }
            _ => {} // cargo passes --bench
        }
    }
    if let Some(d) = soak_for {
        drop(spawner);
        soak(d, 1900);
        return;
    }
    if let Some(d) = churn_for {
        churn_cost(d, &mut spawner);
        return;
    }
    if !scale.is_empty() {
        scale_figures(&scale, &mut spawner);
        return;
    }
    if !budget.is_empty() {
        budget_figures(&budget, &mut spawner);
        return;
    }
    let polls = polls.max(10);
    println!(
        "sockscope snapshot benchmark: {} cores, kernel {}, {polls} polls per figure (median)",
        cores(),
        kernel()
    );
    println!();
    println!(
        "(peak RSS below includes up to {:.1} MB inherited from the spawner: `true` shows that much)",
        floor as f64 / 1024.0
    );
    println!();
    tui_figures(polls);
    report("idle (no load)", 0, polls, &mut spawner);
    for n in sizes {
        let load = Load::start(n);
        report(
            &format!("{n} connections"),
            load.sockets(),
            polls,
            &mut spawner,
        );
        drop(load);
    }
    if namespaces > 0 {
        namespace_cost(polls.max(20), namespaces);
    }
    serve_memory(10_000);
}

/// `sockscope serve`'s resident memory over `scrapes` scrapes of /metrics, and the time
/// one scrape takes (the exposition is encoded once per snapshot, not per scrape).
fn serve_memory(scrapes: usize) {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--interval",
            "1s",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let scrape = || -> usize {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
            return 0;
        };
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n");
        let mut body = Vec::new();
        let _ = s.read_to_end(&mut body);
        body.len()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while scrape() < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let rss = |pid: u32| rss_mb(&pid.to_string());
    for _ in 0..100 {
        scrape();
    }
    let warm = rss(child.id());
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..scrapes {
        bytes += scrape();
    }
    let per = t.elapsed() / scrapes as u32;
    let after = rss(child.id());
    println!("== sockscope serve: {scrapes} scrapes of /metrics");
    println!(
        "  RSS after 100 scrapes {warm:.1} MB, after {scrapes} more {after:.1} MB; {} per scrape ({} bytes each)",
        ms(per),
        bytes / scrapes.max(1)
    );
    println!();
    let _ = child.kill();
    let _ = child.wait();
}

const NS_ENV: &str = "SOCKSCOPE_BENCH_NETNS";

/// The extra cost of other network namespaces: with 10,000 connections (20k sockets) on
/// the host, the steady snapshot of every socket, without and then with `n` namespaces
/// of our own, each holding one listener. Listeners of every namespace are read every
/// tick and their other sockets every 5th tick, so p90 shows the 5th tick.
fn namespace_cost(polls: usize, n: usize) {
    let load = Load::start(10_000);
    let mut c = SockDiagCollector::new().expect("sock_diag");
    let before = time_polls(polls, || c.snapshot(Scope::All).unwrap().sockets.len());
    let before_l = time_polls(polls, || {
        c.snapshot(Scope::Listeners).unwrap().sockets.len()
    });
    let mut kids = ready_children(NS_ENV, vec!["1".to_owned(); n], "namespace child");
    let mut c = SockDiagCollector::new().expect("sock_diag");
    let after = time_polls(polls, || c.snapshot(Scope::All).unwrap().sockets.len());
    let after_l = time_polls(polls, || {
        c.snapshot(Scope::Listeners).unwrap().sockets.len()
    });
    println!(
        "== {n} network namespaces, one listener each, beside {} host sockets",
        load.sockets()
    );
    println!(
        "  {:<44} {:>10} {:>10} {:>10}",
        "steady-state snapshot, all", "median", "p90", "max"
    );
    for (name, t) in [
        ("host only", &before),
        (&*format!("host + {n} namespaces"), &after),
    ] {
        println!(
            "  {:<44} {:>10} {:>10} {:>10}   ({} sockets)",
            name,
            ms(t.median),
            ms(t.p90),
            ms(t.max),
            t.rows
        );
    }
    println!(
        "  extra per snapshot: median {:+.2} ms, p90 {:+.2} ms",
        (after.median.as_secs_f64() - before.median.as_secs_f64()) * 1e3,
        (after.p90.as_secs_f64() - before.p90.as_secs_f64()) * 1e3
    );
    println!(
        "  listeners only: host {} → with namespaces {} (median)",
        ms(before_l.median),
        ms(after_l.median)
    );
    println!();
    for kid in &mut kids {
        drop(kid.stdin.take());
    }
    for kid in &mut kids {
        let _ = kid.wait();
    }
    drop(load);
}

/// A namespace child: a network namespace of its own (root only) with one listener on
/// the wildcard address (no loopback needed), until stdin closes.
fn namespace_child() {
    // SAFETY: unshare(2) with a flag constant; no memory is passed.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "unshare(CLONE_NEWNET) needs root");
    let l = TcpListener::bind("0.0.0.0:0").unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    drop(l);
}

const SPAWNER_ENV: &str = "SOCKSCOPE_BENCH_SPAWNER";

/// Runs the measured commands from a small helper process. A child started by a big
/// process inherits its resident size until `exec` (posix_spawn shares the memory, and
/// the kernel keeps the high-water mark across `exec`), so `ru_maxrss` of a command
/// spawned from this benchmark, which holds big tables, would report this benchmark's
/// size instead of the command's.
struct Spawner {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Spawner {
    fn start() -> Spawner {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(SPAWNER_ENV, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the spawner");
        let out = BufReader::new(child.stdout.take().unwrap());
        Spawner { child, out }
    }

    /// Runs `argv` with output discarded: (wall time, peak RSS in KiB).
    fn run(&mut self, argv: &[&str]) -> (Duration, i64) {
        let r = self.run_any(argv);
        assert_eq!(r.status, 0, "{argv:?} exited with status {}", r.status);
        (r.wall, r.max_rss_kb)
    }

    /// Runs `argv` with output discarded, whatever its exit status.
    fn run_any(&mut self, argv: &[&str]) -> Ran {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{}", argv.join("\t")).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        let f: Vec<i64> = line
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        Ran {
            wall: Duration::from_nanos(f[0] as u64),
            max_rss_kb: f[1],
            status: f[2] as i32,
            cpu: Duration::from_micros(f[3] as u64),
        }
    }
}

/// One command run by the spawner.
struct Ran {
    wall: Duration,
    max_rss_kb: i64,
    status: i32,
    /// User + system CPU time.
    cpu: Duration,
}

impl Drop for Spawner {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The spawner's side: one command per line (tab-separated argv), one answer per line
/// ("wall_ns maxrss_kib status cpu_us").
// Each child is reaped by `wait4`, which std cannot see.
#[allow(clippy::zombie_processes)]
fn spawner() {
    let stdin = std::io::stdin();
    let mut out = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap();
        let argv: Vec<&str> = line.split('\t').collect();
        let t = Instant::now();
        let child = Command::new(argv[0])
            .args(&argv[1..])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let (status, rss, cpu) = wait4(&child);
        writeln!(
            out,
            "{} {rss} {status} {}",
            t.elapsed().as_nanos(),
            cpu.as_micros()
        )
        .unwrap();
        out.flush().unwrap();
    }
}

fn report(title: &str, load_sockets: usize, polls: usize, spawner: &mut Spawner) {
    let mut steady = SockDiagCollector::new().expect("sock_diag");
    let all = time_polls(polls, || steady.snapshot(Scope::All).unwrap().sockets.len());
    let stats = steady.owner_stats();
    let mut steady_l = SockDiagCollector::new().expect("sock_diag");
    let listeners = time_polls(polls, || {
        steady_l.snapshot(Scope::Listeners).unwrap().sockets.len()
    });
    let cold = time_process(
        polls,
        spawner,
        &[env!("CARGO_BIN_EXE_sockscope"), "list", "--all"],
    );
    let cold_json = time_process(
        polls,
        spawner,
        &[env!("CARGO_BIN_EXE_sockscope"), "list", "--all", "--json"],
    );
    let mut sys = sysinfo::System::new().unwrap();
    let net = time_polls(polls, || {
        let af = netstat2::AddressFamilyFlags::IPV4 | netstat2::AddressFamilyFlags::IPV6;
        let pf = netstat2::ProtocolFlags::TCP | netstat2::ProtocolFlags::UDP;
        let n = netstat2::get_sockets_info(af, pf).unwrap().len();
        sys.refresh_processes(sysinfo::ProcessesToUpdate::All, true);
        n
    });
    let ss = time_process(polls, spawner, &["ss", "-tanp"]);

    println!(
        "== {title}: {} sockets in the table (load made {load_sockets})",
        all.rows
    );
    println!(
        "  {:<44} {:>10} {:>10} {:>10} {:>9}",
        "what", "median", "p90", "max", "vs ss"
    );
    let line = |name: &str, t: &Timing| {
        println!(
            "  {:<44} {:>10} {:>10} {:>10} {:>8.2}x",
            name,
            ms(t.median),
            ms(t.p90),
            ms(t.max),
            t.median.as_secs_f64() / ss.time.median.as_secs_f64()
        );
    };
    line("sockscope steady-state snapshot, all", &all);
    line("sockscope steady-state snapshot, listeners", &listeners);
    line("sockscope cold `list --all` (process)", &cold.time);
    line(
        "sockscope cold `list --all --json` (process)",
        &cold_json.time,
    );
    line("netstat2 get_sockets_info + sysinfo refresh", &net);
    line("ss -tanp (process)", &ss.time);
    println!(
        "  peak RSS: sockscope list --all {:.1} MB, ss -tanp {:.1} MB; last steady poll walked {} of {} pids ({} fd links)",
        cold.max_rss_kb as f64 / 1024.0,
        ss.max_rss_kb as f64 / 1024.0,
        stats.walked,
        stats.pids,
        stats.links_read
    );
    println!();
}

/// The live view's state as the real binary builds it (default config, every column,
/// the Sockets view, 160x50), and a test terminal of that size to draw it on.
fn sockets_app(
    host: &str,
) -> (
    sockscope::app::App,
    ratatui::Terminal<ratatui::backend::TestBackend>,
) {
    use sockscope::app::msg::Msg;
    use sockscope::app::{App, Column, Settings, View};
    let cfg = sockscope::config::parse(sockscope::config::DEFAULT_TOML, "defaults", None).unwrap();
    let settings = Settings {
        columns: Column::all().collect(),
        ghost: Duration::from_secs(3),
        theme: cfg.theme,
        keymap: cfg.keymap,
        host: host.into(),
        ephemeral: sockscope::collect::ephemeral_range(),
        services: Default::default(),
    };
    let mut app = App::new(settings, View::Sockets, Duration::from_secs(1));
    sockscope::app::update::update(
        &mut app,
        Msg::Resize {
            width: 160,
            height: 50,
        },
    );
    let term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 50)).unwrap();
    (app, term)
}

/// The TUI's per-frame and per-snapshot costs on synthetic tables: drawing one frame of
/// the Sockets view (TestBackend 160x50) at 200k sockets, and `update` for a new
/// snapshot of 100k sockets of which 1% changed.
fn tui_figures(polls: usize) {
    use sockscope::app::App;
    use sockscope::app::msg::Msg;
    use sockscope::app::update::update;
    use sockscope::model::{Collected, diff};
    use std::sync::Arc;

    let feed = |app: &mut App,
                prev: Option<&Arc<sockscope::model::Snapshot>>,
                next: &Arc<sockscope::model::Snapshot>| {
        let (delta, rescoped) = match prev {
            Some(p) => (diff(p, next), false),
            None => (Default::default(), false),
        };
        let c = Collected {
            snapshot: next.clone(),
            previous: prev.cloned(),
            delta,
            rescoped,
            took: Duration::ZERO,
            overruns: 0,
            closed: Vec::new(),
            traffic: None,
            unseen: 0,
            fresh: Default::default(),
        };
        update(app, Msg::Snapshot(Box::new(c)));
    };

    // Frame at 200k sockets.
    let big = Arc::new(synthetic(200_000, 0));
    let (mut app, mut term) = sockets_app("bench");
    feed(&mut app, None, &big);
    let frame = time_polls(polls, || {
        term.draw(|f| sockscope::ui::draw(f, &app)).unwrap();
        app.table.rows.len()
    });

    // update() for a new snapshot of 100k sockets, 1% of them replaced.
    let (mut app, _) = sockets_app("bench");
    let base = Arc::new(synthetic(100_000, 0));
    feed(&mut app, None, &base);
    // The collector thread builds and diffs snapshots; only update() is timed here.
    let mut prev = base;
    let mut ready = std::collections::VecDeque::new();
    for round in 1..=(polls as u64 + 3) {
        let next = Arc::new(synthetic(100_000, round));
        let c = Collected {
            snapshot: next.clone(),
            previous: Some(prev.clone()),
            delta: diff(&prev, &next),
            rescoped: false,
            took: Duration::ZERO,
            overruns: 0,
            closed: Vec::new(),
            traffic: None,
            unseen: 0,
            fresh: Default::default(),
        };
        ready.push_back(c);
        prev = next;
    }
    drop(prev);
    let upd = time_polls(polls, || {
        let c = ready.pop_front().unwrap();
        update(&mut app, Msg::Snapshot(Box::new(c)));
        app.table.rows.len()
    });
    println!("== TUI (synthetic tables)");
    println!(
        "  {:<44} {:>10} {:>10} {:>10}",
        "what", "median", "p90", "max"
    );
    for (name, t) in [
        ("draw one frame, 200k sockets, 160x50", &frame),
        ("update for a new snapshot, 100k sockets", &upd),
    ] {
        println!(
            "  {:<44} {:>10} {:>10} {:>10}",
            name,
            ms(t.median),
            ms(t.p90),
            ms(t.max)
        );
    }
    println!();
}

/// `n` established sockets with owners; `round` replaces a different 1% each time.
fn synthetic(n: usize, round: u64) -> sockscope::model::Snapshot {
    use sockscope::model::{
        AddrPair, OwnerStatus, Pids, Process, Proto, Scope, Snapshot, Socket, State,
    };
    use std::net::{Ipv4Addr, SocketAddr};
    let mut snap = Snapshot::empty(Scope::All);
    snap.taken_at = std::time::UNIX_EPOCH + Duration::from_secs(1_790_000_000 + round);
    for i in 0..n {
        let churn = i % 100 == (round % 100) as usize && round > 0;
        let inode = if churn {
            10_000_000 * round as u32 + i as u32
        } else {
            i as u32 + 1
        };
        let a = (i / 60000) as u8;
        snap.sockets.push(Socket {
            proto: Proto::Tcp,
            addrs: AddrPair::new(
                SocketAddr::from((Ipv4Addr::new(10, a, 0, 1), 443)).into(),
                SocketAddr::from((
                    Ipv4Addr::new(10, a, 1, (i % 250) as u8),
                    (1024 + i % 60000) as u16,
                ))
                .into(),
            ),
            state: if i % 7 == 0 {
                State::TimeWait
            } else {
                State::Estab
            },
            recv_q: (i % 13) as u32,
            send_q: 0,
            timer: None,
            uid: 1000,
            inode,
            cookie: u64::from(inode),
            netns: 0,
            v6only: false,
            owners: std::iter::once(1000 + (i % 50) as u32).collect::<Pids>(),
            owner_status: OwnerStatus::Known,
            maker: 0,
        });
    }
    for pid in 1000..1050u32 {
        snap.processes.insert(
            pid,
            Process {
                ppid: Some(1),
                start_ticks: 1,
                start_time: 1,
                name: format!("worker-{pid}"),
                cmdline: vec!["worker".into()],
                uid: Some(1000),
                user: Some("www".into()),
                state: 'S',
                threads: 1,
                ..Process::unknown(pid)
            },
        );
    }
    snap
}

struct Timing {
    median: Duration,
    p90: Duration,
    max: Duration,
    rows: usize,
}

fn summarize(mut v: Vec<Duration>, rows: usize) -> Timing {
    v.sort();
    Timing {
        median: v[v.len() / 2],
        p90: v[(v.len() * 9) / 10 - 1],
        max: v[v.len() - 1],
        rows,
    }
}

/// Warms up with 3 calls, then times `polls` calls.
fn time_polls(polls: usize, mut f: impl FnMut() -> usize) -> Timing {
    let mut rows = 0;
    for _ in 0..3 {
        rows = f();
    }
    let v = (0..polls)
        .map(|_| {
            let t = Instant::now();
            rows = std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    summarize(v, rows)
}

struct ProcTiming {
    time: Timing,
    max_rss_kb: i64,
}

/// Runs a command `polls` times (after one warm-up) through the spawner, output
/// discarded; wall time and peak RSS.
fn time_process(polls: usize, spawner: &mut Spawner, argv: &[&str]) -> ProcTiming {
    let mut times = Vec::new();
    let mut max_rss_kb = 0;
    for i in 0..=polls {
        let (dt, rss) = spawner.run(argv);
        max_rss_kb = max_rss_kb.max(rss);
        if i > 0 {
            times.push(dt);
        }
    }
    ProcTiming {
        time: summarize(times, 0),
        max_rss_kb,
    }
}

/// Reaps our own child and returns (wait status, peak RSS in KiB, user + system CPU).
fn wait4(child: &Child) -> (i32, i64, Duration) {
    let mut status = 0;
    // SAFETY: zeroed is a valid rusage (plain integers); wait4 fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not yet reaped; both pointers are valid and
    // exclusive for the call. std's Child has no way to return rusage.
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    assert!(r > 0, "wait4 failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (status, ru.ru_maxrss, tv(ru.ru_utime) + tv(ru.ru_stime))
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Starts one copy of this benchmark per value, as the child `var` names (with that
/// value), all at once, and waits until each says "ready".
fn ready_children(var: &str, values: Vec<String>, what: &str) -> Vec<Child> {
    let mut kids: Vec<Child> = values
        .into_iter()
        .map(|v| {
            Command::new(std::env::current_exe().unwrap())
                .env(var, v)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("start a {what}: {e}"))
        })
        .collect();
    for kid in &mut kids {
        let mut line = String::new();
        BufReader::new(kid.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "{what} failed");
    }
    kids
}

/// The load: children that each hold up to PER_CHILD loopback connections (both ends).
struct Load {
    kids: Vec<Child>,
    sockets: usize,
}

impl Load {
    fn start(n: usize) -> Load {
        let mut counts = Vec::new();
        let mut left = n;
        while left > 0 {
            let k = left.min(PER_CHILD);
            left -= k;
            counts.push(k.to_string());
        }
        let kids = ready_children(CHILD_ENV, counts, "load child");
        Load {
            kids,
            sockets: 2 * n + n.div_ceil(PER_CHILD),
        }
    }

    fn sockets(&self) -> usize {
        self.sockets
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        // Closing stdin tells each child to exit; its sockets close with RST.
        for kid in &mut self.kids {
            drop(kid.stdin.take());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for kid in &mut self.kids {
            while kid.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = kid.kill();
            let _ = kid.wait();
        }
    }
}

/// Child side of the load: N connections to its own listener, all with linger 0.
fn child(n: usize) {
    // Spread over 127.1.0.1 … 127.200.0.1, so that large loads do not crowd one
    // address's ephemeral ports.
    let l = TcpListener::bind((
        std::net::Ipv4Addr::new(127, 1 + (std::process::id() % 200) as u8, 0, 1),
        0,
    ))
    .unwrap();
    let addr = l.local_addr().unwrap();
    let mut keep = Vec::with_capacity(2 * n);
    for _ in 0..n {
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        for sock in [&c, &s] {
            rustix::net::sockopt::set_socket_linger(sock.as_fd(), Some(Duration::ZERO)).unwrap();
        }
        keep.push(c);
        keep.push(s);
    }
    let mut out = std::io::stdout();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

const CHURN_ENV: &str = "SOCKSCOPE_BENCH_CHURN";

/// The soak: the live view's collector, diff, `update` and a 160x50 frame once a second
/// for `d`, under a loopback churn of about `rate` connections a second. Prints RSS, CPU,
/// the event log and the ghosts every minute (every tenth of `d` when shorter), and
/// counts false events: an owner change to nobody for a socket of the churn, which only a
/// socket closing between the dump and the fd walk would produce.
fn soak(d: Duration, rate: u32) {
    use sockscope::app::msg::Msg;
    use sockscope::app::update::update;

    use sockscope::collect::worker::Differ;

    let churn = Churn::start(rate, 2);
    let churn_pids = churn.pids();
    let mut c = SockDiagCollector::new().expect("sock_diag");
    let mut differ = Differ::default();
    let (mut app, mut term) = sockets_app("soak");
    let every = (d / 10)
        .min(Duration::from_secs(60))
        .max(Duration::from_secs(1));
    println!(
        "soak: {} of the live view's collector, update and drawing at 1 s, churn of ~{rate} connections/s",
        humantime::format_duration(d)
    );
    println!(
        "  {:>7} {:>9} {:>8} {:>9} {:>10} {:>11} {:>7} {:>8} {:>7}",
        "minute",
        "RSS MB",
        "CPU %",
        "sockets",
        "events",
        "dropped",
        "ghosts",
        "false ev",
        "snap ms"
    );
    let start = Instant::now();
    let mut next_sample = start + every;
    let mut cpu_before = cpu_ticks();
    let mut false_events = 0u64;
    let mut took_max = Duration::ZERO;
    let mut high_water = 0usize;
    let ticks_per_sec = 100.0;
    while start.elapsed() < d {
        let tick = Instant::now();
        let snap = c.snapshot(Scope::All).unwrap();
        let took = tick.elapsed();
        took_max = took_max.max(took);
        let collected = differ.next(snap, took, 0);
        for ch in &collected.delta.changed {
            if let sockscope::model::diff::ChangeKind::Owners { from, to } = &ch.kind
                && to.is_empty()
                && churn_pids.iter().any(|p| from.contains(p))
            {
                false_events += 1;
            }
        }
        let sockets = collected.snapshot.sockets.len();
        update(&mut app, Msg::Snapshot(Box::new(collected)));
        sockscope::collect::trim_after_shrink(&mut high_water, sockets);
        update(&mut app, Msg::Tick(std::time::SystemTime::now()));
        term.draw(|f| sockscope::ui::draw(f, &app)).unwrap();
        if Instant::now() >= next_sample {
            let cpu = cpu_ticks();
            let secs = every.as_secs_f64();
            println!(
                "  {:>7.1} {:>9.1} {:>8.1} {:>9} {:>10} {:>11} {:>7} {:>8} {:>7.1}",
                start.elapsed().as_secs_f64() / 60.0,
                self_rss_mb(),
                (cpu - cpu_before) as f64 / ticks_per_sec / secs * 100.0,
                sockets,
                app.live.events.len(),
                app.live.events.dropped(),
                app.live.ghosts.len(),
                false_events,
                took_max.as_secs_f64() * 1e3
            );
            cpu_before = cpu;
            took_max = Duration::ZERO;
            next_sample += every;
        }
        let spent = tick.elapsed();
        if spent < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_secs(1) - spent);
        }
    }
    drop(churn);
}

fn self_rss_mb() -> f64 {
    rss_mb("self")
}

/// VmRSS of `/proc/PID` (or `self`), in MB.
fn rss_mb(pid: &str) -> f64 {
    status_mb(pid, "VmRSS:")
}

/// A size field of `/proc/PID/status` (VmRSS:, VmHWM:), in MB.
fn status_mb(pid: &str, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// utime + stime of this process, in clock ticks.
fn cpu_ticks() -> u64 {
    cpu_ticks_of("self")
}

/// utime + stime of `/proc/PID` (or `self`), in clock ticks.
fn cpu_ticks_of(pid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After the comm: state is field 0, utime 11, stime 12.
    n(11) + n(12)
}

/// The churn: connections to its own listener at about `rate` a second, each kept open
/// for CHURN_LIFETIME and then closed; 39 in 40 with RST (no TIME-WAIT), one in 40
/// normally, client first (a TIME-WAIT on the client side, for 60 s). At 1,900/s over two
/// children that is about 8k sockets: 2 × 1,900 × 2 s established and the TIME-WAITs, with every
/// child's fd count changing all the time. Stops when its stdin closes.
fn churn_child(rate: u32) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let (stop_tx, stop) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        let _ = stop_tx.send(());
    });
    let per_tick = (rate / 100).max(1);
    let mut n = 0u64;
    let mut open: std::collections::VecDeque<(Instant, TcpStream, TcpStream)> =
        std::collections::VecDeque::new();
    loop {
        let tick = Instant::now();
        for _ in 0..per_tick {
            let Ok(c) = TcpStream::connect(addr) else {
                continue;
            };
            let Ok((s, _)) = l.accept() else { continue };
            n += 1;
            if !n.is_multiple_of(40) {
                for sock in [&c, &s] {
                    let _ =
                        rustix::net::sockopt::set_socket_linger(sock.as_fd(), Some(Duration::ZERO));
                }
            }
            open.push_back((tick, c, s));
        }
        while open
            .front()
            .is_some_and(|(at, _, _)| at.elapsed() >= CHURN_LIFETIME)
        {
            // Client first, so a normal close leaves the TIME-WAIT on the client side.
            let (_, c, s) = open.pop_front().unwrap();
            drop(c);
            drop(s);
        }
        if stop.try_recv().is_ok() {
            return;
        }
        let spent = tick.elapsed();
        if spent < Duration::from_millis(10) {
            std::thread::sleep(Duration::from_millis(10) - spent);
        }
    }
}

const CHURN_LIFETIME: Duration = Duration::from_millis(2000);

/// A running churn: `children` processes, `rate` connections a second between them.
struct Churn {
    kids: Vec<Child>,
}

impl Churn {
    fn start(rate: u32, children: u32) -> Churn {
        let each = (0..children)
            .map(|_| (rate / children).to_string())
            .collect();
        Churn {
            kids: ready_children(CHURN_ENV, each, "churn child"),
        }
    }

    fn pids(&self) -> Vec<u32> {
        self.kids.iter().map(Child::id).collect()
    }
}

impl Drop for Churn {
    fn drop(&mut self) {
        for kid in &mut self.kids {
            drop(kid.stdin.take());
        }
        for kid in &mut self.kids {
            let _ = kid.wait();
        }
    }
}

/// The real binary's live view in a pseudo-terminal of 160x50, its output read and
/// dropped, with a config of its own (defaults: a snapshot a second).
struct LiveView {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    pid: String,
    writer: Box<dyn Write + Send>,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl LiveView {
    fn start(view: &str) -> LiveView {
        use portable_pty::{CommandBuilder, PtySize, native_pty_system};
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 50,
                cols: 160,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_sockscope"));
        cmd.args(["--view", view]);
        cmd.env("TERM", "xterm-256color");
        cmd.env(
            "XDG_CONFIG_HOME",
            std::env::temp_dir().join("sockscope-bench-no-config"),
        );
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let pid = child.process_id().unwrap().to_string();
        let mut reader = pair.master.try_clone_reader().unwrap();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                count.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
            }
        });
        let writer = pair.master.take_writer().unwrap();
        let view = LiveView {
            child,
            pid,
            writer,
            seen,
            _master: pair.master,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        while view.seen.load(std::sync::atomic::Ordering::Relaxed) < 2000 {
            assert!(Instant::now() < deadline, "the live view drew nothing");
            std::thread::sleep(Duration::from_millis(50));
        }
        view
    }

    /// Watches for `d` (after the first frame): (CPU % of one core, VmRSS MB, VmHWM MB).
    fn measure(&self, d: Duration) -> (f64, f64, f64) {
        let before = cpu_ticks_of(&self.pid);
        std::thread::sleep(d);
        let ticks = cpu_ticks_of(&self.pid) - before;
        (
            ticks as f64 / 100.0 / d.as_secs_f64() * 100.0,
            status_mb(&self.pid, "VmRSS:"),
            status_mb(&self.pid, "VmHWM:"),
        )
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        let _ = self.writer.write_all(b"q");
        let _ = self.writer.flush();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ss -tanp` run once a second for `d`: its CPU as % of one core, and its median wall
/// time.
fn ss_each_second(d: Duration, spawner: &mut Spawner) -> (f64, Duration) {
    let start = Instant::now();
    let mut cpu = Duration::ZERO;
    let mut walls = Vec::new();
    while start.elapsed() < d {
        let tick = Instant::now();
        let r = spawner.run_any(&["ss", "-tanp"]);
        assert_eq!(r.status, 0, "ss -tanp failed");
        cpu += r.cpu;
        walls.push(r.wall);
        let spent = tick.elapsed();
        if spent < Duration::from_secs(1) {
            std::thread::sleep(Duration::from_secs(1) - spent);
        }
    }
    let took = start.elapsed();
    (
        cpu.as_secs_f64() / took.as_secs_f64() * 100.0,
        summarize(walls, 0).median,
    )
}

fn table_size() -> usize {
    let mut c = SockDiagCollector::new().expect("sock_diag");
    c.snapshot(Scope::All).unwrap().sockets.len()
}

/// The live Sockets view (the real binary, a snapshot a second) against `ss -tanp` run
/// once a second, each for `d`, under a churn of about 1,900 connections a second.
fn churn_cost(d: Duration, spawner: &mut Spawner) {
    let rate = 1900;
    println!(
        "churn: {rate} connections/s from 2 processes, each open {} ms; the live Sockets view vs `ss -tanp` once a second, {} each",
        CHURN_LIFETIME.as_millis(),
        humantime::format_duration(d)
    );
    let churn = Churn::start(rate, 2);
    // TIME-WAIT lasts 60 s: the table is steady after a minute.
    std::thread::sleep(Duration::from_secs(60));
    let before = table_size();
    let (ss_cpu, ss_wall) = ss_each_second(d, spawner);
    let view = LiveView::start("sockets");
    std::thread::sleep(Duration::from_secs(3));
    let (live_cpu, live_rss, live_hwm) = view.measure(d);
    drop(view);
    // What the owner walk reads each second under this churn (in this process).
    let mut c = SockDiagCollector::new().expect("sock_diag");
    let (mut walked, mut links, mut polls) = (0, 0, 0);
    for i in 0..12 {
        let tick = Instant::now();
        c.snapshot(Scope::All).unwrap();
        let st = c.owner_stats();
        // The first is the cold walk, the second may be a full resync.
        if i >= 2 && !st.full {
            walked += st.walked;
            links += st.links_read;
            polls += 1;
        }
        std::thread::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed()));
    }
    let after = table_size();
    drop(churn);
    println!("  sockets in the table: {before} before, {after} after");
    println!("  {:<44} {:>12} {:>12}", "what", "CPU % core", "vs ss");
    println!(
        "  {:<44} {:>12.1} {:>11.2}x",
        "sockscope live Sockets view (1 s)",
        live_cpu,
        live_cpu / ss_cpu
    );
    println!(
        "  {:<44} {:>12.1} {:>11.2}x",
        "ss -tanp once a second", ss_cpu, 1.0
    );
    println!(
        "  ss -tanp took {} (median); the live view's RSS {live_rss:.1} MB, peak {live_hwm:.1} MB",
        ms(ss_wall)
    );
    println!(
        "  owner walk per snapshot: {:.1} pids, {:.0} fd links read (mean of {polls})",
        walked as f64 / f64::from(polls.max(1)),
        links as f64 / f64::from(polls.max(1))
    );
    println!();
}

/// Steady-state snapshot, `update` and a frame on the real table, the cold listing,
/// `ss -tanp` (when it finishes within 60 s) and the live view's memory, at each size in
/// `sizes` (sockets: half as many loopback connections, 2,000 to a child).
fn scale_figures(sizes: &[usize], spawner: &mut Spawner) {
    use sockscope::app::msg::Msg;
    use sockscope::app::update::update;

    use sockscope::collect::worker::Differ;

    let tracked = std::fs::read_to_string("/proc/sys/net/netfilter/nf_conntrack_count")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if tracked > 0 {
        println!(
            "note: conntrack is tracking {tracked} flows: loopback connections count against nf_conntrack_max"
        );
    }
    println!(
        "scale: {} cores, kernel {}; every figure at each size in the same run",
        cores(),
        kernel()
    );
    for &n in sizes {
        let avail_before = meminfo_mb("MemAvailable:");
        let t = Instant::now();
        let load = Load::start(n / 2);
        let built = t.elapsed();
        let used = avail_before - meminfo_mb("MemAvailable:");

        let mut steady = SockDiagCollector::new().expect("sock_diag");
        let snap = time_polls(5, || steady.snapshot(Scope::All).unwrap().sockets.len());

        let (mut app, mut term) = sockets_app("bench");
        let mut differ = Differ::default();
        let (mut updates, mut frames) = (Vec::new(), Vec::new());
        let mut heap = [(0.0, 0.0); 4];
        for round in 0..6 {
            let tick = Instant::now();
            heap_mb();
            let s = steady.snapshot(Scope::All).unwrap();
            let h_snap = heap_mb();
            let collected = differ.next(s, tick.elapsed(), 0);
            let h_diff = heap_mb();
            let t = Instant::now();
            update(&mut app, Msg::Snapshot(Box::new(collected)));
            let u = t.elapsed();
            let h_upd = heap_mb();
            let t = Instant::now();
            term.draw(|f| sockscope::ui::draw(f, &app)).unwrap();
            let f = t.elapsed();
            let h_draw = heap_mb();
            heap = [h_snap, h_diff, h_upd, h_draw];
            // The first is the cold start of the table: not a steady figure.
            if round > 0 {
                updates.push(u);
                frames.push(f);
            }
        }
        drop((app, term, differ, steady));
        let upd = summarize(updates, 0);
        let frame = summarize(frames, 0);

        let cold = time_process(
            3,
            spawner,
            &[env!("CARGO_BIN_EXE_sockscope"), "list", "--all"],
        );
        let mut ss_walls = Vec::new();
        let mut ss_rss = 0;
        let mut ss_late = false;
        for _ in 0..3 {
            let r = spawner.run_any(&["timeout", "60", "ss", "-tanp"]);
            if r.status != 0 {
                ss_late = true;
                break;
            }
            ss_walls.push(r.wall);
            ss_rss = ss_rss.max(r.max_rss_kb);
        }

        let view = LiveView::start("sockets");
        let (live_cpu, live_rss, live_hwm) = view.measure(Duration::from_secs(20));
        drop(view);

        println!(
            "== {} sockets in the table (load: {} connections over {} processes, built in {:.1} s, {:.0} MB of kernel and process memory)",
            snap.rows,
            n / 2,
            load.kids.len(),
            built.as_secs_f64(),
            used
        );
        let ss = (!ss_late).then(|| summarize(ss_walls, 0).median);
        let vs = |d: Duration| {
            ss.map_or("      -".to_owned(), |s| {
                format!("{:>8.2}x", d.as_secs_f64() / s.as_secs_f64())
            })
        };
        println!(
            "  {:<44} {:>10} {:>10} {:>10} {:>9}",
            "what", "median", "p90", "max", "vs ss"
        );
        for (name, t) in [
            ("sockscope steady-state snapshot, all", &snap),
            ("sockscope cold `list --all` (process)", &cold.time),
            ("update for a new snapshot (real table)", &upd),
            ("draw one frame, 160x50 (real table)", &frame),
        ] {
            println!(
                "  {:<44} {:>10} {:>10} {:>10} {}",
                name,
                ms(t.median),
                ms(t.p90),
                ms(t.max),
                vs(t.median)
            );
        }
        match ss {
            Some(s) => println!("  {:<44} {:>10}", "ss -tanp (process)", ms(s)),
            None => println!("  ss -tanp did not finish within 60 s"),
        }
        println!(
            "  per socket: snapshot {:.2} µs; peak RSS: list --all {:.1} MB, ss -tanp {:.1} MB, live Sockets view {live_hwm:.1} MB (now {live_rss:.1} MB, {live_cpu:.0} % of a core at 1 s)",
            snap.median.as_secs_f64() * 1e6 / snap.rows.max(1) as f64,
            cold.max_rss_kb as f64 / 1024.0,
            ss_rss as f64 / 1024.0,
        );
        println!(
            "  in-process heap, MB in use after / peak during: snapshot {:.0}/{:.0}, diff {:.0}/{:.0}, update {:.0}/{:.0}, frame {:.0}/{:.0}",
            heap[0].0, heap[0].1, heap[1].0, heap[1].1, heap[2].0, heap[2].1, heap[3].0, heap[3].1
        );
        println!();
        drop(load);
    }
}

/// A field of /proc/meminfo, in MB.
fn meminfo_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// `sockscope watch QUERY --json` (default settings) as a child, its lines read by a
/// thread.
struct Watch {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Watch {
    fn start(query: &str) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sockscope"))
            .args(["watch", query, "--json"])
            .env(
                "XDG_CONFIG_HOME",
                std::env::temp_dir().join("sockscope-bench-no-config"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Watch { child, lines }
    }

    /// Time from `since` until an `opened` event in `state` on `port` (within 60 s).
    fn opened(&self, state: &str, port: u16, since: Instant) -> Option<Duration> {
        let deadline = since + Duration::from_secs(60);
        while Instant::now() < deadline {
            let Ok(line) = self.lines.recv_timeout(Duration::from_millis(20)) else {
                continue;
            };
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if doc["event"] == "opened"
                && doc["state"] == state
                && (doc["local"]["port"] == port || doc["remote"]["port"] == port)
            {
                return Some(since.elapsed());
            }
        }
        None
    }

    /// Drops what it printed so far.
    fn drain(&self) {
        while self.lines.try_recv().is_ok() {}
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // Our own child.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The live view (Listeners view) and `watch` with default settings (the 10 % budget) at
/// each size: CPU over 30 s, how soon a new listener and a new connection on a filtered
/// port show, peak RSS, the update's time after a full and after a budget round, and what
/// each dump costs against `ss`.
fn budget_figures(sizes: &[usize], spawner: &mut Spawner) {
    use sockscope::app::msg::Msg;
    use sockscope::app::update::update;
    use sockscope::collect::sockdiag::SockDiag;
    use sockscope::collect::worker::Differ;
    println!(
        "budget: {} cores, kernel {}; default settings (budget 10 %, interval 1 s)",
        cores(),
        kernel()
    );
    for &n in sizes {
        let load = Load::start(n / 2);
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = target.local_addr().unwrap().port();
        let narrow = sockscope::query::parse(&format!("port:{port}"))
            .unwrap()
            .narrowing()
            .unwrap();
        let bc = sockscope::collect::bytecode::compile(&narrow).unwrap();

        // What each dump costs (rows parsed, no owners), and `ss` in the same run.
        let mut diag = SockDiag::open().unwrap();
        let mut rows = Vec::new();
        let mut dump = |tcp: u32, udp: u32, bc: Option<&[u8]>| {
            rows.clear();
            diag.dump_filtered(tcp, udp, bc, &mut rows).unwrap();
            rows.len()
        };
        let full = time_polls(5, || dump(0xffe, 0xffe, None));
        let listen = time_polls(5, || dump(1 << 10, 1 << 7, None));
        let filtered = time_polls(5, || dump(0xffe, 0xffe, Some(&bc)));
        drop(rows);
        let ss = |spawner: &mut Spawner, argv: &[&str]| {
            let v: Vec<Ran> = (0..4).map(|_| spawner.run_any(argv)).skip(1).collect();
            let cpu = v.iter().map(|r| r.cpu).min().unwrap();
            (summarize(v.into_iter().map(|r| r.wall).collect(), 0), cpu)
        };
        let (ss_all, ss_all_cpu) = ss(spawner, &["ss", "-tan"]);
        let (ss_listen, ss_listen_cpu) = ss(spawner, &["ss", "-tln"]);
        let sport = format!("sport = :{port}");
        let (ss_port, ss_port_cpu) = ss(spawner, &["ss", "-tan", &sport]);

        // The update after a full round and after a budget round, in this process.
        let mut c = SockDiagCollector::new().unwrap();
        let (mut app, _term) = sockets_app("bench");
        let mut differ = Differ::default();
        let (mut full_upd, mut part_upd, mut part_round) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..5 {
            let s = c.snapshot(Scope::All).unwrap();
            let col = differ.next(s, Duration::ZERO, 0);
            let t = Instant::now();
            update(&mut app, Msg::Snapshot(Box::new(col)));
            if round > 0 {
                full_upd.push(t.elapsed());
            }
            for _ in 0..3 {
                let t = Instant::now();
                let f = c.refresh(Some(&narrow)).unwrap().unwrap();
                let col = differ.fresh(&f, Duration::ZERO, 0).unwrap();
                part_round.push(t.elapsed());
                let t = Instant::now();
                update(&mut app, Msg::Snapshot(Box::new(col)));
                part_upd.push(t.elapsed());
            }
        }
        drop((app, differ, c));

        // The live view and watch, default settings.
        let view = LiveView::start("listeners");
        let listeners = Watch::start("state:listen");
        let on_port = Watch::start(&format!("port:{port}"));
        // Past the cold start: the pacing has measured its full rounds.
        std::thread::sleep(Duration::from_secs(10));
        listeners.drain();
        on_port.drain();
        let before = cpu_ticks_of(&view.pid);
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(8));
        let fresh = TcpListener::bind("127.0.0.1:0").unwrap();
        let fresh_port = fresh.local_addr().unwrap().port();
        let new_listener = listeners.opened("LISTEN", fresh_port, Instant::now());
        std::thread::sleep(Duration::from_secs(5));
        let conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, _) = target.accept().unwrap();
        let new_conn = on_port.opened("ESTAB", port, Instant::now());
        std::thread::sleep(Duration::from_secs(30).saturating_sub(start.elapsed()));
        let cpu = (cpu_ticks_of(&view.pid) - before) as f64 / 100.0 / start.elapsed().as_secs_f64()
            * 100.0;
        let watch_cpu = |w: &Watch| cpu_ticks_of(&w.child.id().to_string());
        let (w1, w2) = (watch_cpu(&listeners), watch_cpu(&on_port));
        let hwm = status_mb(&view.pid, "VmHWM:");
        let rss = status_mb(&view.pid, "VmRSS:");
        drop((view, listeners, on_port, conn, accepted, fresh));

        let secs = |d: Option<Duration>| {
            d.map_or("not within 60 s".to_owned(), |d| {
                format!("{:.2} s", d.as_secs_f64())
            })
        };
        println!(
            "== {} sockets in the table (load: {} connections over {} processes)",
            full.rows,
            n / 2,
            load.kids.len()
        );
        println!(
            "  live view, Listeners view, default settings, 30 s: {cpu:.1} % of a core; peak RSS {hwm:.1} MB (now {rss:.1} MB)"
        );
        println!(
            "  watch (default settings): a new listener showed after {}, a new connection on a filtered port after {}; watch CPU since start {:.1} s and {:.1} s",
            secs(new_listener),
            secs(new_conn),
            w1 as f64 / 100.0,
            w2 as f64 / 100.0,
        );
        let (fu, pu, pr) = (
            summarize(full_upd, 0),
            summarize(part_upd, 0),
            summarize(part_round, 0),
        );
        println!(
            "  update (Sockets view, in process): after a full round {} median, {} max; after a budget round {} median, {} max (the round itself {} median)",
            ms(fu.median),
            ms(fu.max),
            ms(pu.median),
            ms(pu.max),
            ms(pr.median)
        );
        println!(
            "  {:<46} {:>10} {:>10} {:>10}",
            "dump (no owners)", "rows", "median", "p90"
        );
        for (name, t) in [
            ("sock_diag, every socket", &full),
            ("sock_diag, LISTEN only", &listen),
            ("sock_diag, bytecode port filter", &filtered),
        ] {
            println!(
                "  {:<46} {:>10} {:>10} {:>10}",
                name,
                t.rows,
                ms(t.median),
                ms(t.p90)
            );
        }
        for (name, t, cpu) in [
            ("ss -tan (process)", &ss_all, ss_all_cpu),
            ("ss -tln (process)", &ss_listen, ss_listen_cpu),
            ("ss -tan 'sport = :PORT' (process)", &ss_port, ss_port_cpu),
        ] {
            println!(
                "  {:<46} {:>10} {:>10} {:>10}  (CPU {})",
                name,
                "-",
                ms(t.median),
                ms(t.p90),
                ms(cpu)
            );
        }
        println!();
        drop(load);
    }
}
