//! Who is behind a port, against the real things: a listener in a network namespace of
//! the test's own, a service cgroup as systemd makes them, nodemon, PM2 and a Docker
//! daemon. Each is started here and removed on drop; only our own processes and
//! containers are ever signalled or stopped.

use crate::support::stack::{
    Docker, Group, NODE_SERVER, Pm2, ServiceCgroup, TempDir, fresh_port, need, wait_listening,
};
use crate::support::{Kid, PY_LISTEN, assert_schema, bin, is_root, run_env, wait_for};
use std::process::Command;

fn json(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let (code, out, err) = run_env(args, env);
    assert!(code == 0 || code == 1, "{args:?} exited {code}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn need_root() {
    assert!(
        is_root(),
        "this test reads every namespace and makes cgroups: run the suite as root, as CI does"
    );
}

/// A listener of the test's own in a network namespace root made for it (`unshare
/// --net`, `lo` up), and its port.
fn listener_in_a_namespace_of_its_own() -> (Kid, u16) {
    need("unshare");
    need("ip");
    let script = format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()");
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--net",
        "--",
        "sh",
        "-c",
        "ip link set lo up && exec python3 -u -c \"$0\"",
    ])
    .arg(&script);
    let mut kid = Kid::spawn(cmd);
    let port: u16 = kid.line().parse().unwrap();
    (kid, port)
}

/// `unshare --net` with `lo` up: the listener is in a namespace of its own.
#[test]
fn a_listener_in_another_network_namespace_is_listed_and_named_by_why() {
    need_root();
    need("unshare");
    need("ip");
    let (kid, port) = listener_in_a_namespace_of_its_own();
    let pid = kid.pid().to_string();
    let pid_n = u64::from(kid.pid());

    let doc = json(&["list", "--all", "--json", &format!("port:{port}")], &[]);
    assert_schema("list.schema.json", &doc);
    let sockets = doc["sockets"].as_array().unwrap();
    let s = sockets
        .iter()
        .find(|s| s["state"] == "LISTEN" && s["owners"][0]["pid"] == pid_n)
        .unwrap_or_else(|| panic!("the namespace's listener is listed: {doc:#}"));
    let ns = s["netns"]["name"].as_str().unwrap();
    assert_ne!(ns, "host", "{s:#}");
    assert!(ns.contains(&pid), "named after its process: {ns}");

    // Free on the host, and why says where it listens.
    let (code, out, _) = run_env(&["why", &port.to_string()], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("another network namespace"), "{out}");
    assert!(out.contains(&format!("{pid}/python3")), "{out}");
    // The filter term picks it out.
    let (code, out, err) = run_env(&["list", &format!("netns:{ns}")], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("127.0.0.1:{port}")), "{out}");
}

/// Forks N children, each in a user and network namespace of its own (what any user
/// may make), which die with it; prints "ready" once all are in.
const USER_NAMESPACES: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
hold, _never = os.pipe()
for i in range(int(sys.argv[1])):
    if os.fork() == 0:
        libc.prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL: gone with the parent
        if libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET
            os._exit(1)
        os.write(w, b"x")
        os.read(hold, 1)  # blocks: nothing is ever written to it
        os._exit(0)
got = 0
while got < int(sys.argv[1]):
    got += len(os.read(r, 64))
print("ready")
sys.stdin.read()
"#;

/// Namespaces cost sockscope a socket and a dump each, and any user may make them: 1,200
/// made by `nobody` ran root's open-file limit out and every command failed (review
/// finding). Those made by other users' user namespaces are read up to a limit, after
/// the ones root made, and the rest are counted as unread, never silently dropped.
#[test]
fn namespaces_users_make_are_capped_and_never_crowd_out_roots() {
    need_root();
    need("unshare");
    need("setpriv");
    let many = 40;
    let cmd = crate::support::python_as_nobody(USER_NAMESPACES, &[&many.to_string()]);
    let mut flood = Kid::spawn(cmd);
    assert_eq!(flood.line(), "ready");

    let (kid, port) = listener_in_a_namespace_of_its_own();
    // Root's namespace with a user namespace of its own (as rootless-style containers
    // make): root made it too (review finding: it was left to compete with nobody's).
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--user",
        "--map-root-user",
        "--net",
        "--",
        "sh",
        "-c",
        "ip link set lo up && exec python3 -u -c \"$0\"",
    ])
    .arg(format!(
        "{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"
    ));
    let mut userns = Kid::spawn(cmd);
    let userns_port: u16 = userns.line().parse().unwrap();

    let doc = json(&["list", "--all", "--json"], &[]);
    assert_schema("list.schema.json", &doc);
    let unread = doc["netns_unread"].as_u64().unwrap();
    assert!(
        unread >= 8,
        "{many} made by nobody, at most 32 read: {unread}"
    );
    let listed = doc["sockets"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["local"]["port"] == port && s["owners"][0]["pid"] == u64::from(kid.pid()));
    assert!(listed, "the namespace root made is read first");
    let listed = doc["sockets"].as_array().unwrap().iter().any(|s| {
        s["local"]["port"] == userns_port && s["owners"][0]["pid"] == u64::from(userns.pid())
    });
    assert!(
        listed,
        "root's namespace with a user namespace of its own is root's too"
    );
    let (code, _, err) = run_env(&["list"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("network namespaces not read: sockscope reads at most 256"),
        "{err}"
    );
}

/// A child moved into `system.slice/NAME.service` is that unit's, as under systemd.
#[test]
fn a_service_cgroup_names_the_systemd_unit_and_kill_warns_before() {
    need_root();
    let unit = ServiceCgroup::new(&format!("sockscope-test-{}", std::process::id()));
    let mut kid = Kid::python_own_group(
        &format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1])\nsys.stdin.read()"),
        &[],
    );
    let port: u16 = kid.line().parse().unwrap();
    unit.adopt(kid.pid());

    let doc = json(&["why", &port.to_string(), "--json"], &[]);
    assert_schema("why.schema.json", &doc);
    let sup = &doc["holders"][0]["supervisor"];
    assert_eq!(sup["kind"], "systemd", "{doc:#}");
    assert_eq!(sup["name"], unit.name.as_str());
    assert_eq!(
        sup["stop_command"],
        format!("systemctl stop {}", unit.name).as_str()
    );
    let next = doc["next"][0].as_str().unwrap();
    assert!(
        next.starts_with(&format!("stop it for good: `systemctl stop {}`", unit.name)),
        "{next}"
    );

    // No systemd here restarts it: kill warns, sends, watches, and the port is free.
    let (code, out, err) = run_env(
        &["kill", &format!(":{port}"), "--yes", "--timeout", "2s"],
        &[],
    );
    assert!(
        out.contains(&format!(
            "systemd unit {} will probably start it again",
            unit.name
        )),
        "{out}"
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("port {port} is free")), "{out}");
    wait_for("the child to exit", || kid.child.try_wait().unwrap());
}

#[test]
fn nodemon_is_named_and_kill_says_what_it_does_next() {
    need("nodemon");
    let dir = TempDir::new("nodemon");
    std::fs::write(dir.0.join("server.js"), NODE_SERVER).unwrap();
    let port = fresh_port();
    let mut cmd = Command::new("nodemon");
    cmd.arg("server.js")
        .current_dir(&dir.0)
        .env("PORT", port.to_string());
    let _nodemon = Group::spawn(cmd);
    wait_listening(port);

    let doc = json(&["why", &port.to_string(), "--json"], &[]);
    let sup = &doc["holders"][0]["supervisor"];
    assert_eq!(sup["kind"], "reloader", "{doc:#}");
    assert!(
        sup["name"].as_str().unwrap().starts_with("nodemon ("),
        "{sup}"
    );
    assert_eq!(sup["restarts"], false, "it waits for a file change");

    let (code, out, err) = run_env(
        &["kill", &format!(":{port}"), "--yes", "--timeout", "10s"],
        &[],
    );
    assert!(
        out.contains(
            "starts it again when a file changes: stop it for good with `sockscope kill pid:"
        ),
        "{out}"
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("port {port} is free")), "{out}");
}

/// `kill :P` on a PM2 app: PM2 brings it back under a new pid; kill says so, with the
/// command that stops it for good, and exits 1. Running that command frees the port.
#[test]
fn pm2_respawn_is_reported_with_the_command_that_stops_it() {
    let pm2 = Pm2::new();
    let port = fresh_port();
    let app = format!("sockscope-test-{}", std::process::id());
    pm2.pm2(&["start", &pm2.script(), "--name", &app], port);
    wait_listening(port);

    let doc = json(&["why", &port.to_string(), "--json"], &[]);
    let sup = &doc["holders"][0]["supervisor"];
    assert_eq!(sup["kind"], "pm2", "{doc:#}");
    assert_eq!(sup["name"], app.as_str());
    assert_eq!(sup["restarts"], true);
    // The daemon is our child and root's: its own PM2_HOME, no sudo.
    assert_eq!(sup["trust"], "verified", "{sup}");
    let stop = format!("env PM2_HOME={} pm2 stop {app}", pm2.home.0.display());
    assert_eq!(sup["stop_command"], stop.as_str());
    let argv: Vec<String> = sup["stop"]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();

    let (code, out, err) = run_env(
        &["kill", &format!(":{port}"), "--yes", "--timeout", "15s"],
        &[],
    );
    assert!(
        out.contains(&format!("PM2 app {app} will probably start it again")),
        "{out}"
    );
    assert!(
        out.contains(&format!("respawned by PM2 app {app} as ")),
        "{out}{err}"
    );
    assert!(out.contains(&format!("stop it with `{stop}`")), "{out}");
    assert_eq!(code, 1, "{out}{err}");

    // The command it gave, run as given, stops it for good.
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{argv:?}");
    wait_for("the port to be free", || {
        std::net::TcpListener::bind(("127.0.0.1", port)).ok()
    });
    let (code, out, _) = run_env(&["why", &port.to_string()], &[]);
    assert_eq!(code, 0, "{out}");

    // Cluster mode: the daemon itself holds the app's listener. It is named for the app,
    // and a signal to it is said to stop every app.
    let port = fresh_port();
    let clu = format!("{app}-clu");
    pm2.pm2(&["start", &pm2.script(), "--name", &clu, "-i", "2"], port);
    wait_listening(port);
    let doc = json(&["why", &port.to_string(), "--json"], &[]);
    let sup = &doc["holders"][0]["supervisor"];
    assert_eq!(sup["kind"], "pm2", "{doc:#}");
    assert_eq!(sup["name"], clu.as_str(), "{doc:#}");
    let stop = format!("env PM2_HOME={} pm2 stop {clu}", pm2.home.0.display());
    assert_eq!(sup["stop_command"], stop.as_str());
    let (code, out, _) = run_env(&["kill", &format!(":{port}"), "--dry-run"], &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("this is the PM2 daemon (cluster mode for app")
            && out.contains("a signal stops the daemon and every app it runs"),
        "{out}"
    );
    pm2.pm2(&["stop", &clu], port);
    wait_for("the cluster port to be free", || {
        std::net::TcpListener::bind(("127.0.0.1", port)).ok()
    });
}

/// A container published on 127.0.0.1: why names it and links the proxy to it, its own
/// listener is listed in its namespace, kill refuses the proxy and names the container,
/// and `--container` stops it through the API and frees the port.
#[test]
fn a_docker_container_is_named_and_stopped_through_its_engine() {
    need_root();
    let docker = Docker::start();
    let name = format!("sockscope-test-{}", std::process::id());
    let port = docker.httpd(&name, &[]);
    let env = [("DOCKER_HOST", docker.host.as_str())];
    wait_listening(port);

    let (code, out, _) = run_env(&["why", &port.to_string()], &env);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("forwards :{port} → {name}:8080")),
        "{out}"
    );
    assert!(
        out.contains(&format!("next: stop it for good: `docker stop {name}`")),
        "{out}"
    );
    let doc = json(&["why", &port.to_string(), "--json"], &env);
    assert_schema("why.schema.json", &doc);
    assert_eq!(doc["holders"][0]["supervisor"]["kind"], "docker", "{doc:#}");
    assert_eq!(doc["holders"][0]["supervisor"]["name"], name.as_str());

    // The container's own :8080, in its namespace, named after the container.
    let doc = json(&["list", "--json", &format!("netns:{name}")], &env);
    let sockets = doc["sockets"].as_array().unwrap();
    let own = sockets
        .iter()
        .find(|s| s["local"]["port"] == 8080 && s["state"] == "LISTEN")
        .unwrap_or_else(|| panic!("the container's listener: {doc:#}"));
    assert_eq!(own["netns"]["name"], name.as_str());
    assert_eq!(own["owners"][0]["container"]["name"], name.as_str());
    assert_eq!(
        own["owners"][0]["container"]["image"],
        crate::support::stack::IMAGE
    );

    // Without the engine's socket: the short id, and why there is no name.
    let (_, out, _) = run_env(
        &["why", &port.to_string()],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    assert!(out.contains("no access to the Docker socket"), "{out}");
    assert!(!out.contains(&name), "{out}");

    // kill refuses the proxy and says what to do.
    let (code, _, err) = run_env(&["kill", &format!(":{port}"), "--yes"], &env);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!("published by Docker container {name}")),
        "{err}"
    );
    assert!(
        err.contains(&format!("`sockscope kill :{port} --container`")),
        "{err}"
    );
    assert!(docker.running(&name));

    let (code, out, _) = run_env(
        &["kill", &format!(":{port}"), "--container", "--dry-run"],
        &env,
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!("would stop container {name}")),
        "{out}"
    );
    assert!(docker.running(&name));

    // The live view: k on the proxy's row offers the container, y stops it through the
    // engine (off the event loop), and the port is judged free.
    let name2 = format!("{name}-tui");
    let port2 = docker.httpd(&name2, &[]);
    wait_listening(port2);
    let mut cmd = portable_pty::CommandBuilder::new(bin());
    cmd.args(["--interval", "250ms"]);
    cmd.env("DOCKER_HOST", &docker.host);
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("sockscope-test-no-config"),
    );
    let mut tui = crate::support::pty::Tui::start_cmd(cmd);
    tui.wait_screen("the first snapshot", |s| s.contains("sockdiag"));
    tui.keys(&format!("/lport:{port2} state:listen\r"));
    tui.wait_screen("the proxy's row", |s| {
        s.contains("row 1/1 ") && s.contains("docker-proxy")
    });
    // The engine's list of published ports comes a moment after the first snapshot: the
    // detail pane says when it names the container, as a user would see it.
    tui.keys("\r");
    tui.wait_screen("the detail pane naming the container", |s| {
        s.contains(&format!("{name2}:8080"))
    });
    tui.keys("k");
    let screen = tui.wait_screen("the dialog offering the container", |s| {
        s.contains(&format!("Stop container {name2}")) && s.contains("(pinned)")
    });
    assert!(
        screen.contains(&format!("Docker container {name2}")),
        "{screen}"
    );
    tui.keys("y");
    // Until the engine answers (busybox httpd, pid 1 of its container, ignores TERM:
    // the engine waits its 5 s), the line says it is asking, never blank.
    tui.wait_screen("asking the engine", |s| {
        s.contains(&format!("asking Docker to stop container {name2}…"))
    });
    let screen = tui.wait_screen("the container stopped and the port judged", |s| {
        // No listener left; the test's own probe connection may leave a TIME-WAIT.
        s.contains(&format!("container {name2} stopped"))
            && (s.contains(&format!("port {port2} is free"))
                || s.contains(&format!("port {port2} has no listener, only")))
    });
    assert!(
        screen.contains("it did not stop in 5s, so Docker killed it (exit 137)"),
        "{screen}"
    );
    assert!(!docker.running(&name2), "{screen}");
    tui.keys("q");
    assert!(tui.wait_exit().success());

    let (code, out, err) = run_env(
        &[
            "kill",
            &format!(":{port}"),
            "--container",
            "--yes",
            "--timeout",
            "2s",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("stopped container {name}")), "{out}");
    // No listener left (a TIME-WAIT of the test's own probe connection may remain).
    assert!(
        out.contains(&format!("port {port} is free"))
            || out.contains(&format!("port {port} has no listener, only")),
        "{out}"
    );
    assert!(!docker.running(&name));
}
