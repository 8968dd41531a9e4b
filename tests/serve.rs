//! `sockscope serve` against real clients: raw HTTP, promtool, and a real Prometheus that
//! scrapes it every second until the test's own listener shows up. Everything listens
//! on 127.0.0.1, and every child is killed on drop.

use crate::support::stack::{TempDir, fresh_port, need};
use crate::support::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `sockscope serve` of the test's own.
struct Serve {
    child: Child,
    port: u16,
}

impl Serve {
    fn start() -> Serve {
        let port = fresh_port();
        let child = Command::new(bin())
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--interval",
                "250ms",
            ])
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
    let serve = Serve::start();
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
