//! Least privilege (SPEC §13, issue 23): a copy of the binary with file capabilities,
//! run as `nobody`. The documented set (`cap_sys_ptrace,cap_dac_read_search`) shows the
//! owners of root's listeners; whatever the file carries, actions stay bounded by the
//! real user, nothing a user names is read with the capabilities, and what is not
//! needed is dropped at start. The capabilities go on a copy in a temp dir of the
//! test's own, never on an installed file; the victims are the tests' own children.

use crate::support::stack::{TempDir, need, wait_listening};
use crate::support::{Kid, PY_LISTEN, assert_schema, bin, is_root, wait_for};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The read-only view's set, as the README documents it.
const VIEW: &str = "cap_sys_ptrace,cap_dac_read_search+ep";
/// A careless grant: signalling and closing anyone's sockets too.
const GENEROUS: &str = "cap_sys_ptrace,cap_dac_read_search,cap_kill,cap_net_admin+ep";

/// A copy of the binary with file capabilities, runnable by nobody; removed on drop.
struct CapBin {
    _dir: TempDir,
    exe: PathBuf,
}

impl CapBin {
    fn new(tag: &str, caps: &str) -> CapBin {
        assert!(
            is_root(),
            "setcap and the root-owned victims need root: run the suite as root, as CI does"
        );
        need("setcap");
        need("setpriv");
        let dir = TempDir::new(tag);
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.0.join("sockscope");
        std::fs::copy(bin(), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let out = Command::new("setcap").arg(caps).arg(&exe).output().unwrap();
        assert!(
            out.status.success(),
            "setcap {caps}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        CapBin { _dir: dir, exe }
    }

    /// The copy as nobody (real and effective uid), with `args` and `env`.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&self.exe)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
        let out = self.command(args, env).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// Root's listener on loopback, in a process group of its own (sockscope never signals
/// its own group, which the test shares). It reports a SIGTERM as a line; on each line
/// of stdin it sends a byte through a loopback connection it holds to itself and
/// answers `pong` (or what broke).
fn roots_listener() -> (Kid, u16) {
    let script = format!(
        r#"{PY_LISTEN}
import signal
signal.signal(signal.SIGTERM, lambda *a: print("got TERM", flush=True))
s = listen()
c = socket.create_connection(s.getsockname())
a, _ = s.accept()
print(s.getsockname()[1], flush=True)
for line in sys.stdin:
    try:
        c.sendall(b"x"); a.recv(1)
        print("pong", flush=True)
    except OSError as e:
        print("broken: %s" % e, flush=True)
"#
    );
    let mut kid = Kid::python_own_group(&script, &[]);
    let port: u16 = kid.line().parse().unwrap();
    wait_listening(port);
    (kid, port)
}

/// The kid is alive, received no signal, and its connection still works.
fn untouched(kid: &mut Kid) {
    kid.send("ping");
    assert_eq!(kid.line(), "pong", "the root process was touched");
}

fn owner_pids(doc: &serde_json::Value, port: u16) -> Vec<u64> {
    doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["local"]["port"] == port && s["state"] == "LISTEN")
        .flat_map(|s| s["owners"].as_array().unwrap().iter())
        .map(|o| o["pid"].as_u64().unwrap())
        .collect()
}

/// `list`, `why` and the live view, run by nobody with the documented capabilities,
/// name the owner of root's listener; the same copy without capabilities cannot.
#[test]
fn the_view_capabilities_show_the_owners_of_roots_listeners() {
    let (kid, port) = roots_listener();
    let pid = u64::from(kid.pid());
    let with = CapBin::new("view", VIEW);
    let without = crate::support::NobodyBin::new("view-plain");

    let (code, out, err) = with.run(&["list", &format!(":{port}"), "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        owner_pids(&doc, port),
        [pid],
        "file capabilities had no effect (is the temp dir mounted nosuid?): {doc:#}"
    );
    assert_eq!(doc["euid"], 65534, "it ran as nobody");
    let (_, out, _) = without.run(&["list", &format!(":{port}"), "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(owner_pids(&doc, port).is_empty(), "{doc:#}");

    let (code, out, err) = with.run(&["why", &port.to_string(), "--json"], &[]);
    assert_eq!(code, 1, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["verdict"], "listener", "{doc:#}");
    assert_eq!(doc["holders"][0]["pid"], pid, "{doc:#}");
    assert_eq!(doc["holders"][0]["user"], "root", "{doc:#}");

    let mut cmd = portable_pty::CommandBuilder::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]);
    cmd.arg(&with.exe);
    cmd.args(["--interval", "250ms", "--filter", &format!("lport:{port}")]);
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("sockscope-test-no-config"),
    );
    let mut tui = crate::support::pty::Tui::start_cmd(cmd);
    tui.wait_screen("root's listener with its owner", |s| {
        s.contains(&format!("{pid}/python3")) && s.contains(&format!(":{port}"))
    });
    tui.keys("q");
    tui.wait_exit();
}

/// Whatever capabilities the file carries, nobody's `kill` of root's process is refused
/// and nothing is sent; `close` needs root and closes nothing. (With `cap_kill` and
/// `cap_net_admin` kept, both would have acted.)
#[test]
fn actions_stay_bounded_by_the_real_user() {
    let (mut kid, port) = roots_listener();
    let copy = CapBin::new("act", GENEROUS);
    for target in [format!(":{port}"), format!("pid:{}", kid.pid())] {
        let (code, out, err) = copy.run(&["kill", &target, "--yes", "--timeout", "1s"], &[]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains(&format!(
                "permission denied signalling pid {}: run as root or as user root",
                kid.pid()
            )),
            "{err}"
        );
        untouched(&mut kid);
    }
    let (code, out, err) = copy.run(&["close", &format!(":{port}"), "state:estab", "--yes"], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("closing sockets needs root (CAP_NET_ADMIN): it closes anyone's connections"),
        "{err}"
    );
    untouched(&mut kid);
}

/// A file the user names, through `--config` or `XDG_CONFIG_HOME`, is read with the
/// user's own rights: root's secrets stay unread, and `--config /etc/shadow` shows no
/// line of it. (Read with the capabilities, the parser's error named the secret key.)
#[test]
fn files_a_user_names_are_read_with_the_users_rights() {
    let copy = CapBin::new("config", VIEW);
    let secret = TempDir::new("config-secret");
    std::fs::set_permissions(&secret.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    let marker = format!("leaked_secret_{}", std::process::id());
    let file = secret.0.join("sockscope").join("config.toml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, format!("{marker} = 1\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The same file is what the test means: root reads it, and the marker shows.
    let (_, _, err) = crate::support::run(&["--config", file.to_str().unwrap()]);
    assert!(err.contains(&marker), "{err}");

    let (code, out, err) = copy.run(&["--config", file.to_str().unwrap()], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains(&marker) && !err.contains(&marker), "{err}");
    assert!(err.contains("Permission denied"), "{err}");

    // The default place, under XDG_CONFIG_HOME: unreachable, so there is no config.
    let xdg = secret.0.to_str().unwrap();
    let (code, out, err) = copy.run(&[], &[("XDG_CONFIG_HOME", xdg)]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(!out.contains(&marker) && !err.contains(&marker), "{err}");
    assert!(err.contains("needs a terminal"), "{err}");

    let shadow = std::fs::read_to_string("/etc/shadow").unwrap();
    let (code, out, err) = copy.run(&["--config", "/etc/shadow"], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("Permission denied"), "{err}");
    for line in shadow.lines().filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap();
        assert!(
            !out.contains(line) && !err.contains(line) && !err.contains(&format!("`{name}")),
            "a line of /etc/shadow: {err}"
        );
    }
}

/// An engine of the test's own: one request at a time, in the order they connected;
/// prints each request line, answers an empty container list.
const ENGINE: &str = r#"
import os, socket, sys
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX); srv.bind(path); os.chmod(path, 0o666); srv.listen(64)
print("ready", flush=True)
while True:
    c, _ = srv.accept()
    req = b""
    while b"\r\n\r\n" not in req:
        b = c.recv(4096)
        if not b: break
        req += b
    print("request " + req.split(b"\r\n")[0].decode(errors="replace"), flush=True)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[]")
    c.close()
"#;

/// Asks the engine for `/probe` and returns the request lines it printed up to that one:
/// every connection made before ours, in order.
fn requests_before_probe(engine: &mut Kid, sock: &Path) -> Vec<String> {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(sock).unwrap();
    s.write_all(b"GET /probe HTTP/1.0\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let mut seen = Vec::new();
    loop {
        let line = engine.line();
        if line == "request GET /probe HTTP/1.0" {
            return seen;
        }
        seen.push(line);
    }
}

/// `DOCKER_HOST` names a socket inside a directory only root may enter: nobody with the
/// view's capabilities does not reach it (root does, which shows the path is taken).
#[test]
fn the_engine_socket_a_user_names_is_reached_with_the_users_rights() {
    let copy = CapBin::new("engine", VIEW);
    let dir = TempDir::new("engine-secret");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    let sock = dir.0.join("engine.sock");
    let mut engine = Kid::python(ENGINE, &[sock.to_str().unwrap()]);
    assert_eq!(engine.line(), "ready");
    let host = format!("unix://{}", sock.display());
    let env = [("DOCKER_HOST", host.as_str())];
    // A process called docker-proxy holds a port: the collector asks the engine which
    // host ports its containers publish.
    let script = format!(
        "import ctypes\nctypes.CDLL(None).prctl(15, b'docker-proxy', 0, 0, 0)\n{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1], flush=True)\nsys.stdin.read()"
    );
    let exec = "import os, sys; os.execv('/usr/bin/python3', ['/usr/bin/docker-proxy', '-u', '-c', sys.argv[1]])";
    let mut proxy = Kid::python(exec, &[&script]);
    let port: u16 = proxy.line().parse().unwrap();
    wait_listening(port);

    let (code, out, err) = copy.run(&["list", &format!(":{port}")], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("docker-proxy"), "it saw the proxy: {out}");
    let seen = requests_before_probe(&mut engine, &sock);
    assert!(seen.is_empty(), "nobody reached root's socket: {seen:?}");

    let (code, out, err) = crate::support::run_env(&["list", &format!(":{port}")], &env);
    assert_eq!(code, 0, "{out}{err}");
    let seen = requests_before_probe(&mut engine, &sock);
    assert!(
        seen.iter()
            .any(|l| l.starts_with("request GET /containers/json")),
        "root asked the engine: {seen:?}"
    );
}

/// The capabilities of every thread of a running copy: only the view's two, in the
/// effective and permitted sets, none inheritable or ambient, and no_new_privs set.
#[test]
fn capabilities_not_needed_are_dropped_at_start() {
    let copy = CapBin::new("drop", GENEROUS);
    let mut cmd = copy.command(&["watch", "--interval", "250ms"], &[]);
    cmd.stdout(Stdio::null());
    let watch = Kid::spawn(cmd);
    let pid = watch.pid();
    let exe = std::fs::canonicalize(&copy.exe).unwrap();
    // Past exec and set-up: it runs the copy, has set no_new_privs, and has started its
    // collector thread.
    let statuses = wait_for("the copy to start its collector", || {
        let running = std::fs::read_link(format!("/proc/{pid}/exe")).ok()? == exe;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let ready = running
            && status.contains("NoNewPrivs:\t1")
            && field(&status, "Threads:").parse::<u32>().ok()? > 1;
        ready.then(|| {
            std::fs::read_dir(format!("/proc/{pid}/task"))
                .unwrap()
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
                .collect::<Vec<_>>()
        })
    });
    // CAP_DAC_READ_SEARCH (2) and CAP_SYS_PTRACE (19).
    let view = format!("{:016x}", (1u64 << 2) | (1u64 << 19));
    for status in &statuses {
        assert_eq!(field(status, "CapEff:"), view, "{status}");
        assert_eq!(field(status, "CapPrm:"), view, "{status}");
        assert_eq!(field(status, "CapInh:"), "0000000000000000", "{status}");
        assert_eq!(field(status, "CapAmb:"), "0000000000000000", "{status}");
    }
    // And info says so, in words.
    let (code, out, err) = copy.run(&["info", "--json"], &[]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_schema("info.schema.json", &doc);
    assert_eq!(
        doc["privilege"]["kept"],
        serde_json::json!(["cap_dac_read_search", "cap_sys_ptrace"]),
        "{doc:#}"
    );
    assert_eq!(
        doc["privilege"]["dropped"],
        serde_json::json!(["cap_kill", "cap_net_admin"]),
        "{doc:#}"
    );
}

fn field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_default()
}

fn info_check<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {doc:#}"))
}

/// `info` as root and as plain nobody: each limit, and the command that lifts it. Its
/// SOCK_DESTROY probe closes nothing (root's connection still works after it).
#[test]
fn info_says_what_is_limited_and_how_to_lift_it() {
    let (mut kid, _port) = roots_listener();
    let (code, out, err) = crate::support::run(&["info", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_schema("info.schema.json", &doc);
    assert_eq!(doc["privilege"]["root"], true);
    // A process may refuse even root its fds (this machine's pid 1 does): then, and
    // only then, owners are hidden from root and the owners check says so.
    let refused = doc["unreadable_processes"].as_u64().unwrap();
    let owners = info_check(&doc, "owners");
    if refused == 0 {
        assert_eq!(doc["hidden_owners"], 0, "{doc:#}");
        assert_eq!(owners["ok"], true, "{owners:#}");
    } else {
        assert_eq!(owners["ok"], false, "{owners:#}");
        assert!(
            owners["detail"].as_str().unwrap().contains("refused root"),
            "{owners:#}"
        );
    }
    for name in ["collector", "namespaces", "close", "signals"] {
        let c = info_check(&doc, name);
        assert_eq!(c["ok"], true, "{c:#}");
        assert!(c["fix"].is_null(), "{c:#}");
    }
    // This kernel has both (LINUX-FACTS).
    assert_eq!(info_check(&doc, "destroy_events")["ok"], true, "{doc:#}");
    assert_eq!(info_check(&doc, "pidfd")["ok"], true, "{doc:#}");
    untouched(&mut kid);

    let plain = crate::support::NobodyBin::new("info-plain");
    let (code, out, err) = plain.run(&["info", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_schema("info.schema.json", &doc);
    assert_eq!(doc["uid"], 65534);
    assert_eq!(doc["user"], "nobody");
    assert!(
        doc["hidden_owners"].as_u64().unwrap() >= 1,
        "root's listener: {doc:#}"
    );
    let owners = info_check(&doc, "owners");
    assert_eq!(owners["ok"], false);
    assert_eq!(
        owners["fix"]["argv"],
        serde_json::json!([
            "sudo",
            "setcap",
            "cap_sys_ptrace,cap_dac_read_search+ep",
            plain.exe.to_str().unwrap()
        ]),
        "{owners:#}"
    );
    for (name, argv) in [
        ("namespaces", serde_json::json!(["sudo", "sockscope"])),
        (
            "close",
            serde_json::json!(["sudo", "sockscope", "close", "QUERY"]),
        ),
        (
            "signals",
            serde_json::json!(["sudo", "sockscope", "kill", "PORT"]),
        ),
    ] {
        let c = info_check(&doc, name);
        assert_eq!(c["ok"], false, "{c:#}");
        assert_eq!(c["fix"]["argv"], argv, "{c:#}");
    }
    let (_, text, _) = plain.run(&["info"]);
    assert!(
        text.contains("lift it: sudo setcap 'cap_sys_ptrace,cap_dac_read_search+ep'"),
        "{text}"
    );
}

/// `info` names the config in use, or the line that is wrong in it, and whether the
/// engine's socket answers.
#[test]
fn info_checks_the_config_and_the_engine() {
    let dir = TempDir::new("info-config");
    let bad = dir.0.join("bad.toml");
    std::fs::write(&bad, "[general]\ninterval = \"never\"\n").unwrap();
    let (code, out, err) =
        crate::support::run(&["--config", bad.to_str().unwrap(), "info", "--json"]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = info_check(&doc, "config");
    assert_eq!(c["ok"], false, "{c:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("bad.toml:2"),
        "{c:#}"
    );

    let sock = dir.0.join("engine.sock");
    let mut engine = Kid::python(ENGINE, &[sock.to_str().unwrap()]);
    assert_eq!(engine.line(), "ready");
    let host = format!("unix://{}", sock.display());
    let (code, out, err) = crate::support::run_env(&["info", "--json"], &[("DOCKER_HOST", &host)]);
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let c = info_check(&doc, "containers");
    assert_eq!(c["ok"], true, "{c:#}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("answers (0 published ports)"),
        "{c:#}"
    );
    // Other tests' containers may have been asked about too; the list was.
    let seen = requests_before_probe(&mut engine, &sock);
    assert!(
        seen.iter()
            .any(|l| l == "request GET /containers/json HTTP/1.0"),
        "{seen:?}"
    );
}

/// The capabilities `assets/systemd/sockscope.service` gives `serve`, as setpriv's
/// `+name` list: `AmbientCapabilities=CAP_SYS_PTRACE …` → `+sys_ptrace,…`.
fn unit_caps(key: &str) -> String {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/systemd/sockscope.service"
    ))
    .unwrap();
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in the unit"));
    line.split_whitespace()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(",")
}

/// `sockscope serve` with what the systemd unit gives it (a user that is not root, the
/// ambient capabilities, that bounding set, no_new_privs), emulated with setpriv: its
/// metrics name the process behind root's listener, and it runs with those two
/// capabilities and no ambient ones. Without them the owner is hidden.
#[test]
fn serve_with_the_units_capabilities_names_roots_listeners() {
    let (_kid, port) = roots_listener();
    let ambient = unit_caps("AmbientCapabilities=");
    assert_eq!(ambient, "+sys_ptrace,+dac_read_search");
    let bounding = unit_caps("CapabilityBoundingSet=");
    let plain = crate::support::NobodyBin::new("serve-unit");
    let listener_of = |caps: bool| {
        let http = crate::support::stack::fresh_port();
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--no-new-privs",
        ]);
        if caps {
            cmd.arg(format!("--inh-caps={ambient}"))
                .arg(format!("--ambient-caps={ambient}"))
                .arg(format!("--bounding-set=-all,{bounding}"));
        }
        cmd.arg(&plain.exe)
            .args(["serve", "--top", "500", "--interval", "250ms", "--listen"])
            .arg(format!("127.0.0.1:{http}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let serve = Kid::spawn(cmd);
        let want = format!("port=\"{port}\"");
        let line = wait_for("serve to report root's listener", || {
            let body = http_get(http, "/metrics")?;
            body.lines()
                .find(|l| l.starts_with("sockscope_listener_info{") && l.contains(&want))
                .map(str::to_owned)
        });
        let status = std::fs::read_to_string(format!("/proc/{}/status", serve.pid())).unwrap();
        (line, status)
    };
    let (line, status) = listener_of(true);
    assert!(line.contains("process=\"python3\""), "{line}");
    let view = format!("{:016x}", (1u64 << 2) | (1u64 << 19));
    assert_eq!(field(&status, "CapEff:"), view, "{status}");
    assert_eq!(field(&status, "CapAmb:"), "0000000000000000", "{status}");
    let (line, _) = listener_of(false);
    assert!(line.contains("process=\"(hidden)\""), "{line}");
}

/// One HTTP/1.0 GET on loopback; the body of a 200 answer.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(crate::support::DEADLINE)).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?;
    (status == "200").then(|| body.to_owned())
}

/// A set-user-ID or set-group-ID copy refuses to run: its user would act with another
/// user's rights. (Made set-ID to `nobody` and `nogroup`, run by `daemon`: nobody gains
/// anything even if it ran.)
#[test]
fn a_set_id_copy_refuses_to_run() {
    assert!(
        is_root(),
        "chown needs root: run the suite as root, as CI does"
    );
    for (tag, mode, owner) in [("setuid", 0o4755, "nobody"), ("setgid", 0o2755, ":nogroup")] {
        let dir = TempDir::new(tag);
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = dir.0.join("sockscope");
        std::fs::copy(bin(), &exe).unwrap();
        let out = Command::new("chown").arg(owner).arg(&exe).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = Command::new("setpriv")
            .args(["--reuid=daemon", "--regid=daemon", "--clear-groups"])
            .arg(&exe)
            .args(["list"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{tag}: {err}");
        assert!(out.stdout.is_empty(), "{tag}");
        assert!(
            err.contains("refusing to run set-user-ID or set-group-ID"),
            "{tag}: {err}"
        );
    }
}

/// A non-dumpable process's file descriptors are refused to a root without
/// CAP_SYS_PTRACE (as a security module or a guest's init refuses even full root: pid 1
/// of this machine does): listing its fd table works, reading the links does not. Its
/// listener is `hidden`, and the hint says root was refused, not "run as root"
/// (review finding: it was `unknown`, "the kernel holds it", and `info` said every
/// owner was visible).
#[test]
fn a_listener_whose_fds_root_may_not_read_is_hidden_not_unknown() {
    assert!(is_root(), "run the suite as root, as CI does");
    need("setpriv");
    let mut kid = Kid::python(
        &format!(
            "{PY_LISTEN}\nimport ctypes\nctypes.CDLL(None).prctl(4, 0)  # PR_SET_DUMPABLE 0\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"
        ),
        &[],
    );
    let port: u16 = kid.line().parse().unwrap();
    let out = Command::new("setpriv")
        .args(["--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--"])
        .arg(bin())
        .args(["list", &format!("port:{port}"), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_schema("list.schema.json", &doc);
    assert_eq!(doc["sockets"][0]["owner_status"], "hidden", "{doc:#}");
    let out = Command::new("setpriv")
        .args(["--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace", "--"])
        .arg(bin())
        .args(["list", &format!("port:{port}")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused even root"), "{err}");
    assert!(!err.contains("run as root"), "{err}");
    drop(kid);
}
