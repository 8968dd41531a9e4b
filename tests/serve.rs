//! `sockscope serve` against real clients: raw HTTP, promtool, and a real Prometheus that
//! scrapes it every second until the test's own listener shows up. Everything listens
//! on 127.0.0.1, and every child is killed on drop.

use crate::support::stack::{TempDir, fresh_port, need};
use crate::support::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `sockscope serve` of the test's own.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    fn start() -> Serve {
        Serve::with(&[])
    }

    /// With extra arguments, e.g. `--top 10`.
    fn with(args: &[&str]) -> Serve {
        let port = fresh_port();
        let child = Command::new(bin())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--interval",
                "250ms",
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start serve");
        let s = Serve { child, port };
        wait_for("serve to answer /healthz", || {
            (get(s.port, "/healthz", &[]).0 == 200).then_some(())
        });
        s
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 GET; returns (status, head, body).
fn get(port: u16, path: &str, headers: &[&str]) -> (u16, String, String) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), String::new());
    };
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new(), String::new());
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

#[test]
fn metrics_pass_promtool_and_bad_requests_do_not_stop_the_server() {
    need("promtool");
    let serve = Serve::start();
    let (status, head, body) = get(serve.port, "/metrics", &[]);
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let (_, head, body) = get(
        serve.port,
        "/metrics",
        &["Accept: application/openmetrics-text; version=1.0.0"],
    );
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(body.ends_with("# EOF\n"));

    assert_eq!(get(serve.port, "/nope", &[]).0, 404);
    let (status, _, landing) = get(serve.port, "/", &[]);
    assert_eq!(status, 200);
    assert!(landing.contains("href=\"/metrics\""));
    // A head far over the limit: refused, and the server goes on.
    let huge = format!("X-Big: {}", "a".repeat(64 * 1024));
    let (status, _, _) = get(serve.port, "/metrics", &[&huge]);
    assert!(status == 431 || status == 0, "{status}");
    // A client that never finishes its request is dropped; others are served meanwhile.
    let mut slow = TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
    slow.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    assert_eq!(get(serve.port, "/metrics", &[]).0, 200);
    slow.set_read_timeout(Some(DEADLINE)).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    let _ = slow.read_to_end(&mut buf);
    assert!(started.elapsed() < DEADLINE, "the slow client was dropped");
    assert_eq!(get(serve.port, "/healthz", &[]).0, 200);
}

#[test]
fn sigterm_ends_serve_with_status_0() {
    let mut serve = Serve::start();
    let pid = rustix::process::Pid::from_raw(serve.child.id() as i32).unwrap();
    // Our own child.
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = wait_for("serve to exit", || serve.child.try_wait().unwrap());
    assert!(status.success(), "{status:?}");
}

#[test]
fn the_alert_rules_pass_promtool() {
    need("promtool");
    let rules = format!(
        "{}/assets/prometheus/sockscope-rules.yml",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = Command::new("promtool")
        .args(["check", "rules", &rules])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rules do what they say on series made for them (`promtool test rules`): a
/// TIME-WAIT storm by one maker fires, a small one does not; lost events fire; the
/// closed-connections recording rule gives a rate.
#[test]
fn the_rules_fire_on_their_unit_tests() {
    need("promtool");
    let dir = format!("{}/tests/prometheus", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("promtool")
        .args(["test", "rules", "rules_test.yml"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Prometheus of the test's own, scraping serve every second.
struct Prometheus {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Prometheus {
    fn start(target: u16) -> Prometheus {
        need("prometheus");
        let dir = TempDir::new("prometheus");
        let port = fresh_port();
        let config = dir.0.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sockscope\n    static_configs:\n      - targets: ['127.0.0.1:{target}']\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.0.join("log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        Prometheus {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_tests_own_listener() {
    // The largest --top: other tests' listeners must not fold this one into `other`.
    let serve = Serve::with(&["--top", "500"]);
    let port = fresh_port();
    let _mine = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let prom = Prometheus::start(serve.port);
    let query = format!("/api/v1/query?query=sockscope_listener_info%7Bport%3D%22{port}%22%7D");
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, _, body) = get(prom.port, &query, &[]);
        if status == 200
            && let Ok(doc) = serde_json::from_str::<serde_json::Value>(&body)
            && let Some(first) = doc["data"]["result"].as_array().and_then(|r| r.first())
        {
            assert_eq!(first["metric"]["port"], port.to_string().as_str());
            assert_eq!(first["metric"]["addr"], "127.0.0.1");
            assert_eq!(first["metric"]["job"], "sockscope");
            assert_eq!(first["value"][1], "1");
            break;
        }
        assert!(
            Instant::now() < end,
            "Prometheus never saw the listener on {port}: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Opens argv[2] idle connections to 127.0.0.1:argv[1], sends nothing, and reopens each
/// one the server drops, at once, as an attacker would. Prints "ready" once argv[2]
/// connections have been established (a server that drops them at once never sees all
/// of them together); for each line on stdin prints "OPEN RECONNECTS". Ends when stdin closes,
/// or after two minutes.
const PY_FLOOD: &str = r#"
import errno, os, resource, select, signal, socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
signal.alarm(120)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
ep = select.epoll()
ep.register(0, select.EPOLLIN)
socks = {}
reconnects, missing, established, ready = 0, n, 0, False
def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    if s.connect_ex(('127.0.0.1', port)) not in (0, errno.EINPROGRESS):
        s.close()
        return False
    socks[s.fileno()] = s
    ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN | select.EPOLLRDHUP)
    return True
while True:
    while missing and connect():
        missing -= 1
    if not ready and established >= n:
        print("ready", flush=True)
        ready = True
    for fd, ev in ep.poll(0.05 if missing else 1.0):
        if fd == 0:
            if not os.read(0, 4096):
                sys.exit(0)
            print(len(socks), reconnects, flush=True)
            continue
        s = socks.get(fd)
        if s is None:
            continue
        if ev & (select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLERR | select.EPOLLHUP):
            ep.unregister(fd)
            del socks[fd]
            s.close()
            reconnects += 1
            if not connect():
                missing += 1
        elif ev & select.EPOLLOUT:
            ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
            established += 1
"#;

/// A scrape on a fresh connection that must be whole within `limit`: connected, asked,
/// answered 200 with the full body.
fn scrape_within(port: u16, limit: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, limit).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(limit)).unwrap();
    s.set_write_timeout(Some(limit)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after {} bytes: {e}", raw.len())),
        }
        if started.elapsed() > limit {
            return Err(format!("still reading after {limit:?}"));
        }
    }
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no response head in {} bytes", raw.len()))?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!("answered {head:?}"));
    }
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().parse().ok())
        .ok_or("no content-length")?;
    if body.len() != length || !body.contains("sockscope_build_info") {
        return Err(format!(
            "a body of {} bytes, {length} announced",
            body.len()
        ));
    }
    if took > limit {
        return Err(format!("took {took:?}"));
    }
    Ok(took)
}

#[test]
fn a_thousand_idle_connections_do_not_keep_a_scraper_out() {
    let serve = Serve::start();
    let mut flood = Kid::python(PY_FLOOD, &[&serve.port.to_string(), "1000"]);
    assert_eq!(flood.line(), "ready");
    let limit = Duration::from_secs(2);
    let mut times = Vec::new();
    for i in 0..20 {
        match scrape_within(serve.port, limit) {
            Ok(took) => times.push(took),
            Err(e) => panic!(
                "scrape {} of 20 under the flood failed: {e} (earlier: {times:?})",
                i + 1
            ),
        }
    }
    // The flood was on throughout: all its connections open, and the server had to drop
    // some of them (each was reopened at once).
    flood.send("stats");
    let stats = flood.line();
    println!("scrapes under the flood took {times:?}; the flood: {stats} (open, reopened)");
    let (open, reconnects) = stats.split_once(' ').unwrap();
    assert_eq!(open, "1000", "{stats}");
    assert!(reconnects.parse::<u64>().unwrap() > 0, "{stats}");
}

/// Opens argv[2] connections to port argv[1] on 127.0.0.1 with a tiny receive buffer,
/// pipelines 400 scrapes on each without ever reading an answer, prints "ready", and
/// waits for stdin to close.
const PY_PIPELINE_NEVER_READ: &str = r#"
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 400
held = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    sent = 0
    try:
        while sent < len(req):
            sent += s.send(req[sent:])
    except BlockingIOError:
        pass
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"#;

/// A local user pipelines scrapes on a loopback client's every slot and never reads the
/// answers: each connection is stuck writing, with requests unread in the kernel behind
/// the response. Once stuck past `STUCK` they make room, so a scrape gets through.
#[test]
fn clients_that_pipeline_and_never_read_do_not_keep_a_scraper_out() {
    let serve = Serve::start();
    let n = sockscope::runtime::serve::PER_CLIENT.to_string();
    let mut stuck = Kid::python(PY_PIPELINE_NEVER_READ, &[&serve.port.to_string(), &n]);
    assert_eq!(stuck.line(), "ready");
    let started = Instant::now();
    let limit = Duration::from_secs(30);
    let mut failures = Vec::new();
    loop {
        match scrape_within(serve.port, Duration::from_secs(5)) {
            Ok(_) => break,
            Err(e) => failures.push(e),
        }
        assert!(
            started.elapsed() < limit,
            "no scrape got through in {limit:?} ({} tries; last: {:?})",
            failures.len(),
            failures.last()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "a scrape got through after {:?} ({} refused before)",
        started.elapsed(),
        failures.len()
    );
    // The stuck clients are still connected (the server dropped one or more of theirs).
    assert!(stuck.child.try_wait().unwrap().is_none());
}

/// Opens argv[1] TCP listeners on 127.0.0.1, prints "ready", and waits for stdin to close.
const PY_LISTENERS: &str = r#"
import resource, socket, sys
n = int(sys.argv[1])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
held = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
"#;

/// The series of a family, in the order of the exposition: their label sets.
fn series<'a>(body: &'a str, family: &str) -> Vec<&'a str> {
    let prefix = format!("{family}{{");
    body.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| l.rsplit_once(' ').map(|(labels, _)| labels))
        .collect()
}

fn sample(body: &str, line: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(line)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn top_bounds_the_listener_series_and_their_order_holds() {
    let mut listeners = Kid::python(PY_LISTENERS, &["300"]);
    assert_eq!(listeners.line(), "ready");
    let serve = Serve::with(&["--top", "10"]);
    let metrics = || {
        let (status, head, body) = get(serve.port, "/metrics", &[]);
        assert_eq!(status, 200, "{head}");
        body
    };
    let listening = "sockscope_sockets{proto=\"tcp\",state=\"listen\"}";
    let body = wait_for("a snapshot with the 300 listeners", || {
        let body = metrics();
        (sample(&body, listening)? >= 300.0).then_some(body)
    });
    let info = series(&body, "sockscope_listener_info");
    let named = info
        .iter()
        .filter(|l| !l.contains("port=\"other\""))
        .count();
    assert!(
        named <= 10,
        "{named} listeners named with --top 10: {info:#?}"
    );
    let other: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("sockscope_listener_info{") && l.contains("port=\"other\""))
        .collect();
    assert_eq!(other.len(), 1, "{other:#?}");
    let folded: f64 = other[0].rsplit(' ').next().unwrap().parse().unwrap();
    assert!(folded >= 290.0, "{}", other[0]);
    for family in [
        "sockscope_listen_queue_length",
        "sockscope_listen_queue_limit",
        "sockscope_stopped_holder_sockets",
    ] {
        let n = series(&body, family).len();
        assert!(n <= 11, "{family}: {n} series with --top 10");
    }
    // The next snapshot lists the series in the same order.
    let took = "sockscope_scrape_duration_seconds";
    let next = wait_for("the next snapshot", || {
        let b = metrics();
        (sample(&b, took) != sample(&body, took)).then_some(b)
    });
    for family in [
        "sockscope_listener_info",
        "sockscope_sockets",
        "sockscope_process_sockets",
    ] {
        let (a, b) = (series(&body, family), series(&next, family));
        let common = |x: &[&str], y: &[&str]| -> Vec<String> {
            x.iter()
                .filter(|l| y.contains(l))
                .map(|l| (*l).to_owned())
                .collect()
        };
        assert_eq!(
            common(&a, &b),
            common(&b, &a),
            "{family}: the order changed"
        );
    }
    drop(listeners);
}

#[test]
fn a_listener_beyond_loopback_is_warned_about() {
    let mut wide = Kid::sockscope(&["serve", "--listen", "0.0.0.0:0", "--interval", "1s"]);
    let warning = wide.err_line();
    assert!(
        warning.contains("0.0.0.0:") && warning.contains("not a loopback address"),
        "{warning}"
    );
    assert!(warning.contains("--listen 127.0.0.1:"), "{warning}");
    assert!(
        wide.err_line()
            .contains("serving metrics on http://0.0.0.0:"),
        "the warning comes first, on one line"
    );
    drop(wide);
    // On loopback: no warning.
    let mut local = Kid::sockscope(&["serve", "--listen", "127.0.0.1:0", "--interval", "1s"]);
    let first = local.err_line();
    assert!(
        first.starts_with("sockscope: serving metrics on http://127.0.0.1:"),
        "{first}"
    );
}

#[test]
fn silent_and_idle_connections_end_at_the_header_timeout() {
    let serve = Serve::start();
    // One that never says anything, one that goes quiet after a request.
    let mut silent = TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
    let mut quiet = TcpStream::connect(("127.0.0.1", serve.port)).unwrap();
    quiet
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut answers = Vec::new();
    for s in [&mut silent, &mut quiet] {
        s.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut got = Vec::new();
        // Ends with EOF (or a reset) when the server closes it; a timeout is a failure.
        if let Err(e) = s.read_to_end(&mut got) {
            assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "never closed");
            assert_ne!(e.kind(), std::io::ErrorKind::TimedOut, "never closed");
        }
        answers.push(String::from_utf8_lossy(&got).into_owned());
    }
    assert!(started.elapsed() < DEADLINE, "{:?}", started.elapsed());
    assert_eq!(answers[0], "", "nothing asked, nothing answered");
    assert!(answers[1].starts_with("HTTP/1.1 200"), "{}", answers[1]);
}

/// Between the polls, counted: 20 connections of 1,000 bytes each, shorter than one
/// poll, to a listener whose process renamed itself: `closed_connections` counts them
/// on its port, `process_traffic_bytes` counts the 20,000 bytes it received (through the
/// destroy events' last tcp_info), and the TIME-WAITs it made are under its name.
#[test]
fn serve_counts_closed_connections_bytes_and_time_wait_makers() {
    let mut kid = Kid::python(
        &format!(
            "{PY_LISTEN}\nimport ctypes\nctypes.CDLL(None).prctl(15, b'ssmetrics', 0, 0, 0)\ns = listen()\nprint(s.getsockname()[1], flush=True)\nwhile True:\n    c, _ = s.accept()\n    got = 0\n    while got < 1000:\n        got += len(c.recv(4096))\n    c.sendall(b'y' * 500)\n    c.close()"
        ),
        &[],
    );
    let port: u16 = kid.line().parse().unwrap();
    let serve = Serve::start();
    // Let serve take its first snapshot before the connections.
    wait_for("a first snapshot", || {
        let (_, _, body) = get(serve.port, "/metrics", &[]);
        body.contains("sockscope_sockets{").then_some(())
    });
    for _ in 0..20 {
        let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
        c.write_all(&[b'x'; 1000]).unwrap();
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back.len(), 500);
    }
    let closed = format!(
        "sockscope_closed_connections_total{{proto=\"tcp\",role=\"server\",port=\"{port}\"}}"
    );
    let rx = "sockscope_process_traffic_bytes_total{process=\"ssmetrics\",direction=\"rx\"}";
    let tx = "sockscope_process_traffic_bytes_total{process=\"ssmetrics\",direction=\"tx\"}";
    let tw = "sockscope_time_wait_sockets_by_maker{maker=\"ssmetrics\"}";
    let body = wait_for("the 20 closed connections counted", || {
        let (_, _, body) = get(serve.port, "/metrics", &[]);
        (sample(&body, &closed)? >= 20.0 && sample(&body, rx)? >= 20_000.0).then_some(body)
    });
    assert_eq!(sample(&body, &closed), Some(20.0), "{body}");
    assert_eq!(sample(&body, rx), Some(20_000.0), "{body}");
    assert_eq!(sample(&body, tx), Some(10_000.0), "{body}");
    assert_eq!(sample(&body, tw), Some(20.0), "{body}");
    assert!(
        body.contains("# TYPE sockscope_destroy_events_lost_total counter"),
        "{body}"
    );
    assert_eq!(
        sample(&body, "sockscope_destroy_events_lost_total"),
        Some(0.0)
    );
    drop(kid);
}

/// How old the full table is: its timestamp and period, exact at a budget of 100 %, a
/// whole number of intervals under a small budget, and never older than its period
/// (with room for a loaded machine).
#[test]
fn serve_says_when_the_full_table_was_read_and_how_often() {
    for budget in ["100%", "1%"] {
        let serve = Serve::with(&["--budget", budget]);
        let (status, _, body) = get(serve.port, "/metrics", &[]);
        assert_eq!(status, 200);
        let period = sample(&body, "sockscope_full_table_period_seconds")
            .unwrap_or_else(|| panic!("no period at {budget}:\n{body}"));
        let at = sample(&body, "sockscope_full_table_timestamp_seconds")
            .unwrap_or_else(|| panic!("no timestamp at {budget}:\n{body}"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        if budget == "100%" {
            assert_eq!(period, 0.25, "{budget}");
        }
        let intervals = period / 0.25;
        assert!(
            intervals >= 1.0 && (intervals - intervals.round()).abs() < 1e-9,
            "{budget}: a whole number of 250 ms intervals, not {period}"
        );
        assert!(
            at <= now && now - at < period + 10.0,
            "{budget}: read at {at}, now {now}, period {period}"
        );
    }
}
