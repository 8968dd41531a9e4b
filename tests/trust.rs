//! Trust (SPEC §11, issue 19): every attack an unprivileged user made on root's hand is
//! a test here. The attackers are the tests' own children, switched to `nobody` with
//! setpriv; the victims (a container) are the tests' own too. Nothing here ever stops or
//! signals anything the test did not start.

use crate::support::stack::{Docker, TempDir, cgroup2_mount, need, wait_listening};
use crate::support::{Kid, PY_LISTEN, assert_schema, is_root, run_env, wait_for};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

/// A listener that prints its port and lives until its stdin closes (its parent's too:
/// it inherits it, so dropping the test's child ends the whole tree).
fn listener_script() -> String {
    format!("{PY_LISTEN}\ns = listen()\nprint(s.getsockname()[1], flush=True)\nsys.stdin.read()")
}

/// `setpriv` to nobody, then `/usr/bin/python3` (root's `python3` is a pyenv shim).
/// In a process group of its own: sockscope never signals its own group, which a
/// sockscope started by the test shares.
fn as_nobody(args: &[&str]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg("/usr/bin/python3")
        .args(args)
        .process_group(0);
    cmd
}

/// A nobody process whose argv[0] and comm say `name` (`exec -a` and prctl), running
/// the listener as its child with `env`; from `cwd`.
fn forged_parent(name: &str, env: &[(&str, &str)], cwd: &std::path::Path) -> Kid {
    let outer = format!(
        r#"
import ctypes, os, subprocess, sys
ctypes.CDLL(None).prctl(15, b"{name}", 0, 0, 0)
env = dict(os.environ)
env.update({env})
subprocess.run(["/usr/bin/python3", "-u", "-c", sys.argv[1]], env=env)
"#,
        env = serde_json::to_string(
            &env.iter()
                .copied()
                .collect::<std::collections::BTreeMap<_, _>>()
        )
        .unwrap()
    );
    let exec = format!(
        "import os, sys; os.execv('/usr/bin/python3', ['{name}', '-u', '-c', sys.argv[1], sys.argv[2]])"
    );
    let mut cmd = as_nobody(&["-c", &exec, &outer, &listener_script()]);
    cmd.current_dir(cwd);
    Kid::spawn(cmd)
}

fn why_json(port: u16, env: &[(&str, &str)]) -> serde_json::Value {
    let (code, out, err) = run_env(&["why", &port.to_string(), "--json"], env);
    assert_eq!(code, 1, "{out}{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_schema("why.schema.json", &doc);
    doc
}

/// No step of `why` runs one of `programs`, and no supervisor has a stop command.
fn no_command_of(doc: &serde_json::Value, programs: &[&str]) {
    for step in doc["steps"].as_array().unwrap() {
        let argv = &step["command"]["argv"];
        let Some(argv) = argv.as_array() else {
            continue;
        };
        for w in argv {
            assert!(
                !programs.contains(&w.as_str().unwrap()),
                "a command from a claim: {step:#}"
            );
        }
    }
    for h in doc["holders"].as_array().unwrap() {
        let sup = &h["supervisor"];
        if !sup.is_null() {
            assert_eq!(sup["trust"], "claimed", "{sup:#}");
            assert!(sup["stop_command"].is_null(), "{sup:#}");
            assert!(sup["stop"].is_null(), "{sup:#}");
        }
    }
}

/// A nobody process carrying PM2's variables, with no PM2 anywhere: root used to be told
/// `PM2_HOME=<its directory> pm2 stop webapp`, which starts a root PM2 daemon that loads
/// the attacker's module.
#[test]
fn a_forged_pm2_environment_gives_no_command() {
    let home = TempDir::new("fake-pm2-home");
    let mut cmd = as_nobody(&["-u", "-c", &listener_script()]);
    cmd.env("pm_id", "0")
        .env("name", "webapp")
        .env("PM2_HOME", &home.0);
    let mut kid = Kid::spawn(cmd);
    let port: u16 = kid.line().parse().unwrap();
    wait_listening(port);

    let doc = why_json(port, &[]);
    let sup = &doc["holders"][0]["supervisor"];
    assert_eq!(sup["kind"], "pm2", "{doc:#}");
    assert_eq!(sup["name"], "webapp");
    no_command_of(&doc, &["pm2"]);
    let (_, out, _) = run_env(&["why", &port.to_string()], &[]);
    assert!(
        out.contains("claims to be run by PM2 app webapp; not trusted: its environment names a PM2 app, but no PM2 daemon is its parent"),
        "{out}"
    );
    assert!(!out.contains("pm2 stop"), "{out}");
    assert!(!out.contains(&home.0.display().to_string()), "{out}");
    // Its plain kill is what is offered, and kill does not warn of a respawn.
    assert!(out.contains(&format!("`sockscope kill :{port}`")), "{out}");
    drop(kid);
}

/// `exec -a runsv` and `exec -a supervisord` (argv[0] and comm) above a nobody listener,
/// with hostile names in the service directory and the program's environment.
#[test]
fn forged_runsv_and_supervisord_ancestors_give_no_command() {
    let dir = TempDir::new("fake-svc");
    let svc = dir.0.join("svc;id>x");
    std::fs::create_dir(&svc).unwrap();
    for tool in ["runsv", "supervisord"] {
        let mut kid = forged_parent(
            tool,
            &[
                ("SUPERVISOR_PROCESS_NAME", "web;id>/tmp/p"),
                ("SUPERVISOR_GROUP_NAME", "web;id>/tmp/p"),
            ],
            &svc,
        );
        let port: u16 = kid.line().parse().unwrap();
        wait_listening(port);
        let doc = why_json(port, &[]);
        let sup = &doc["holders"][0]["supervisor"];
        let kind = if tool == "runsv" {
            "runit"
        } else {
            "supervisord"
        };
        assert_eq!(sup["kind"], kind, "{doc:#}");
        assert!(
            sup["why"]
                .as_str()
                .unwrap()
                .contains(&format!("calls itself {tool}, but its program")),
            "{sup:#}"
        );
        no_command_of(&doc, &["sv", "supervisorctl", "s6-svc"]);
        let (_, out, _) = run_env(&["why", &port.to_string()], &[]);
        assert!(!out.contains("sv down"), "{out}");
        assert!(!out.contains("supervisorctl stop"), "{out}");
        assert!(!out.contains("NAME"), "never a placeholder: {out}");
    }
}

/// Root's python3 running a script of nobody's own named `supervisord` (argv[0] the
/// interpreter, as a real supervisord run by python shows): which script an interpreter
/// runs is its argv's say, believed of root's processes only, so the program name it
/// hands its child is a claim, and no `supervisorctl` is offered.
#[test]
fn a_users_own_script_named_supervisord_is_a_claim() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("own-supervisord");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = dir.0.join("supervisord");
    std::fs::write(
        &script,
        "import os, subprocess, sys\nenv = dict(os.environ, SUPERVISOR_PROCESS_NAME='nginx')\nsubprocess.run(['/usr/bin/python3', '-u', '-c', sys.argv[1]], env=env)\n",
    )
    .unwrap();
    std::os::unix::fs::chown(&script, Some(65534), Some(65534)).unwrap();
    let mut kid = Kid::spawn(as_nobody(&[
        "-u",
        script.to_str().unwrap(),
        &listener_script(),
    ]));
    let port: u16 = kid.line().parse().unwrap();
    wait_listening(port);
    let doc = why_json(port, &[]);
    let sup = &doc["holders"][0]["supervisor"];
    assert_eq!(sup["kind"], "supervisord", "{doc:#}");
    assert_ne!(sup["trust"], "verified", "{sup:#}");
    assert!(
        sup["why"]
            .as_str()
            .unwrap()
            .contains("a script's name is its own say, believed of root's only"),
        "{sup:#}"
    );
    no_command_of(&doc, &["supervisorctl"]);
}

/// A cgroup subtree a user owns (systemd delegates `user@UID.service` so; simulated by a
/// directory the test chowns to nobody): the user names directories anything.
struct Delegated {
    top: PathBuf,
    subs: Vec<PathBuf>,
}

impl Delegated {
    fn new() -> Delegated {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let top = cgroup2_mount().join(format!(
            "sockscope-delegated-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&top).expect("create the delegated cgroup");
        rustix::fs::chown(
            &top,
            Some(rustix::process::Uid::from_raw(NOBODY)),
            Some(rustix::process::Gid::from_raw(NOBODY)),
        )
        .expect("chown it to nobody");
        Delegated {
            top,
            subs: Vec::new(),
        }
    }

    /// Nobody makes a directory `name` in it.
    fn mkdir(&mut self, name: &str) -> PathBuf {
        let path = self.top.join(name);
        let ok = Command::new("setpriv")
            .args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                "mkdir",
            ])
            .arg(&path)
            .status()
            .unwrap()
            .success();
        assert!(ok, "nobody makes {}", path.display());
        self.subs.push(path.clone());
        path
    }

    /// Moves the test's own (nobody) child into `dir`, as its delegate could.
    fn adopt(dir: &std::path::Path, pid: u32) {
        std::fs::write(dir.join("cgroup.procs"), pid.to_string()).expect("move into cgroup");
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        // The children go first (declared after this guard); their cgroups empty a
        // moment after they exit.
        let end = Instant::now() + crate::support::DEADLINE;
        for d in self.subs.iter().rev().chain(std::iter::once(&self.top)) {
            while std::fs::remove_dir(d).is_err() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A directory named like a unit in a delegated subtree: `systemctl stop x;id>…;true
/// .service` used to be printed as is; a well-formed name the user chose is a claim too.
#[test]
fn a_user_cgroup_named_like_a_unit_gives_no_command() {
    assert!(
        is_root(),
        "this test makes cgroups: run the suite as root, as CI does"
    );
    let mut cg = Delegated::new();
    for name in ["x;id>x;true .service", "sockscope-fake.service"] {
        let dir = cg.mkdir(name);
        let mut kid = Kid::spawn(as_nobody(&["-u", "-c", &listener_script()]));
        let port: u16 = kid.line().parse().unwrap();
        Delegated::adopt(&dir, kid.pid());
        wait_listening(port);
        let doc = why_json(port, &[]);
        let sup = &doc["holders"][0]["supervisor"];
        assert_eq!(sup["kind"], "systemd", "{doc:#}");
        let why = sup["why"].as_str().unwrap();
        assert!(
            why.contains("not named as systemd names units")
                || why.contains(&format!("belongs to uid {NOBODY}, not root")),
            "{why}"
        );
        no_command_of(&doc, &["systemctl"]);
        drop(kid);
    }
}

/// A victim container that publishes nothing and holds no port; a nobody process that
/// names itself docker-proxy with the victim's address in its argv, and another in a
/// cgroup named `docker-<the victim's id>.scope`. Neither `kill --container` nor the
/// live view's dialog stops the victim; plain `kill` signals the impostor.
#[test]
fn a_fake_docker_proxy_and_a_cgroup_named_like_a_container_never_stop_the_victim() {
    assert!(
        is_root(),
        "this test runs dockerd and makes cgroups: run the suite as root"
    );
    let docker = Docker::start();
    let victim = format!("sockscope-victim-{}", std::process::id());
    docker.run(&victim, &["sleep", "600"]);
    let id = docker.docker(&["inspect", "-f", "{{.Id}}", &victim]);
    let ip = docker.docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &victim]);
    assert_eq!(id.len(), 64, "{id}");
    let env = [("DOCKER_HOST", docker.host.as_str())];

    // The fake proxy: comm and argv say docker-proxy, argv names the victim.
    let script = format!(
        "import ctypes\nctypes.CDLL(None).prctl(15, b'docker-proxy', 0, 0, 0)\n{}",
        listener_script()
    );
    let exec = "import os, sys; os.execv('/usr/bin/python3', ['/usr/bin/docker-proxy', '-u', '-c', sys.argv[1], '-proto', 'tcp', '-container-ip', sys.argv[2], '-container-port', '8080'])";
    let mut fake = Kid::spawn(as_nobody(&["-c", exec, &script, &ip]));
    let port: u16 = fake.line().parse().unwrap();
    wait_listening(port);

    let (code, out, err) = run_env(&["kill", &format!(":{port}"), "--container", "--yes"], &env);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("no container holds or publishes"), "{err}");
    assert!(docker.running(&victim), "the victim still runs");
    let (_, out, _) = run_env(&["why", &port.to_string()], &env);
    assert!(!out.contains(&victim), "{out}");
    assert!(!out.contains("DOCKER-PROXY"), "{out}");
    assert!(
        out.contains("is not Docker's docker-proxy: it calls itself docker-proxy but runs as user nobody, not root"),
        "{out}"
    );
    // The live view's dialog offers no container (and pre-selects nothing but Cancel).
    let mut cmd = portable_pty::CommandBuilder::new(crate::support::bin());
    cmd.args(["--interval", "250ms", "--filter", &format!("lport:{port}")]);
    cmd.env("DOCKER_HOST", &docker.host);
    cmd.env(
        "XDG_CONFIG_HOME",
        std::env::temp_dir().join("sockscope-test-no-config"),
    );
    let mut tui = crate::support::pty::Tui::start_cmd(cmd);
    tui.wait_screen("the impostor's row", |s| {
        s.contains("row 1/1 ") && s.contains("docker-proxy")
    });
    // Time for the engine to have answered, were there anything to answer.
    std::thread::sleep(Duration::from_millis(1500));
    tui.keys("k");
    let screen = tui.wait_screen("the dialog", |s| s.contains("(pinned)"));
    assert!(!screen.contains("Stop container"), "{screen}");
    assert!(!screen.contains(&victim), "{screen}");
    tui.keys("\x1b");
    tui.keys("q");
    drop(tui);
    // Plain kill signals it: it is a process like any other, and our own child.
    let (code, out, err) = run_env(
        &["kill", &format!(":{port}"), "--yes", "--timeout", "5s"],
        &env,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("port {port} is free")), "{out}");
    wait_for("the impostor to exit", || fake.child.try_wait().unwrap());

    // The cgroup impostor: a directory named after the victim's real id.
    let mut cg = Delegated::new();
    let dir = cg.mkdir(&format!("docker-{id}.scope"));
    let mut kid = Kid::spawn(as_nobody(&["-u", "-c", &listener_script()]));
    let port: u16 = kid.line().parse().unwrap();
    Delegated::adopt(&dir, kid.pid());
    wait_listening(port);
    let doc = why_json(port, &env);
    let owner = &doc["holders"][0];
    assert_eq!(owner["container"]["trust"], "claimed", "{doc:#}");
    assert!(
        owner["container"]["why"]
            .as_str()
            .unwrap()
            .contains("shares no namespace with the container's main process"),
        "{doc:#}"
    );
    no_command_of(&doc, &["docker"]);
    let (code, out, err) = run_env(&["kill", &format!(":{port}"), "--container", "--yes"], &env);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("not stopping container"), "{err}");
    assert!(docker.running(&victim), "the victim still runs");
    drop(kid);
}

/// A Docker socket that trickles its answer a byte at a time, or takes the request and
/// never answers: one-shot commands keep their 1 s budget for names, and `kill
/// --container` gives up after the stop's own timeout and its margin.
#[test]
fn a_trickling_or_mute_engine_cannot_hold_a_command_past_its_deadline() {
    assert!(
        is_root(),
        "this test makes cgroups: run the suite as root, as CI does"
    );
    need("setpriv");
    let dir = TempDir::new("fake-engine");
    let sock = dir.0.join("docker.sock");
    // The holder, in a container cgroup of the test's own making.
    let id = format!("{:064x}", u128::from(std::process::id()) << 64 | 0x5eed);
    let cg = crate::support::stack::ServiceCgroup::leaf(&format!("docker-{id}.scope"));
    let mut holder = Kid::python_own_group(&listener_script(), &[]);
    let port: u16 = holder.line().parse().unwrap();
    cg.adopt(holder.pid());
    wait_listening(port);
    // The engine: inspect confirms the holder is the container's main process; the list
    // is empty; a stop trickles one byte every 200 ms forever. In "mute" mode, every
    // request is read and never answered.
    let engine = r#"
import json, os, socket, sys, threading, time
mode, path, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(64)
print("ready", flush=True)
def serve(c):
    req = b""
    while b"\r\n\r\n" not in req:
        b = c.recv(4096)
        if not b: return
        req += b
    line = req.split(b"\r\n")[0].decode()
    if mode == "mute":
        time.sleep(600); return
    if line.startswith("POST") and "/stop" in line:
        for ch in b"HTTP/1.0 204 No Content\r\n\r\n" * 100:
            c.send(bytes([ch])); time.sleep(0.2)
        return
    if line.startswith("GET /containers/json"):
        body = b"[]"
    else:
        body = json.dumps({"Name": "/trickled", "State": {"Running": True, "Pid": pid, "ExitCode": 0}}).encode()
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + body); c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;
    for mode in ["trickle", "mute"] {
        let _ = std::fs::remove_file(&sock);
        let mut eng = Kid::python(
            engine,
            &[mode, sock.to_str().unwrap(), &holder.pid().to_string()],
        );
        assert_eq!(eng.line(), "ready");
        let host = format!("unix://{}", sock.display());
        let env = [("DOCKER_HOST", host.as_str())];
        let start = Instant::now();
        let (code, out, err) = run_env(&["why", &port.to_string()], &env);
        let took = start.elapsed();
        assert_eq!(code, 1, "{out}{err}");
        assert!(took < Duration::from_secs(4), "{mode}: why took {took:?}");
        if mode == "mute" {
            assert!(out.contains("did not answer"), "{out}");
            continue;
        }
        assert!(out.contains("trickled"), "the engine named it: {out}");
        let start = Instant::now();
        let (code, out, err) = run_env(
            &[
                "kill",
                &format!(":{port}"),
                "--container",
                "--yes",
                "--timeout",
                "1s",
            ],
            &env,
        );
        let took = start.elapsed();
        assert_eq!(code, 2, "{out}{err}");
        assert!(
            err.contains("did not answer in 11s") || err.contains("did not answer in 11 s"),
            "{err}"
        );
        // 1 s grace + 10 s margin, and a few seconds for the rest of the command.
        assert!(
            took < Duration::from_secs(16),
            "kill --container took {took:?}"
        );
        drop(eng);
    }
    drop(holder);
}
