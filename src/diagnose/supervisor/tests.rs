use super::*;
use crate::app::testkit::{process, snapshot, sock};
use crate::model::cgroup::{Dir, Unit};
use crate::model::container::{Access, Published, PublishedBy};
use crate::model::process::SupervisordProgram;
use crate::model::{Ancestor, Container, Pm2App, Proto, Runtime, Scope, State};

/// An ancestor as the kernel shows a real program: its exe a root-owned file (and an
/// interpreter's script one too).
fn real(pid: u32, exe: &str, uid: u32, cmd: &[&str]) -> Ancestor {
    Ancestor {
        pid,
        name: exe.rsplit('/').next().unwrap().chars().take(15).collect(),
        cmdline: cmd.iter().map(|s| (*s).to_owned()).collect(),
        uid: Some(uid),
        exe: Some(exe.into()),
        exe_root_owned: true,
        script_root_owned: true,
        ..Ancestor::default()
    }
}

/// What `exec -a NAME` from an attacker's own copy looks like: argv and comm say NAME,
/// the kernel says its program is the attacker's file.
fn forged(pid: u32, name: &str, uid: u32, cmd: &[&str]) -> Ancestor {
    Ancestor {
        pid,
        name: name.into(),
        cmdline: cmd.iter().map(|s| (*s).to_owned()).collect(),
        uid: Some(uid),
        exe: Some(format!("/tmp/evil/{name}")),
        exe_root_owned: false,
        ..Ancestor::default()
    }
}

fn empty() -> Snapshot {
    snapshot(0, Scope::All, vec![], &[])
}

fn stop(s: &Supervisor) -> Option<String> {
    s.stop.as_ref().map(Command::text)
}

fn confirmed(c: &mut Container) {
    c.access = Access::Known;
    c.confirmed = Evidence::Verified("the engine's main process is its ancestor".into());
}

#[test]
fn a_confirmed_docker_container_is_stopped_by_its_name_whatever_its_labels_say() {
    let mut p = process(10, "busybox", 'S');
    let mut c = Container::from_id(Runtime::Docker, &"a".repeat(64));
    c.name = Some("barweb".into());
    c.restart = Some("unless-stopped".into());
    confirmed(&mut c);
    p.container = Some(c.clone());
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (s.kind, s.name.as_str(), stop(&s).as_deref(), s.restarts),
        (Kind::Docker, "barweb", Some("docker stop barweb"), true)
    );
    assert!(s.sentence().contains("stop it with `docker stop barweb`"));
    // Compose labels come from whoever built the image: never in a command.
    c.compose_project = Some("p;id>x".into());
    c.compose_service = Some("web$(id>x)".into());
    c.restart = Some("no".into());
    p.container = Some(c);
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(stop(&s).as_deref(), Some("docker stop barweb"));
    assert!(!s.restarts);
}

#[test]
fn a_container_only_its_cgroup_names_gets_no_command() {
    let mut p = process(10, "python3", 'S');
    let mut c = Container::from_id(Runtime::Docker, &"a".repeat(64));
    c.name = Some("victim".into());
    c.access = Access::Known;
    c.confirmed = Evidence::Claimed(
        "its cgroup names the container, but it shares no namespace with the container's main process 77".into(),
    );
    p.container = Some(c);
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.stop, None);
    assert!(!s.restarter());
    assert!(
        s.sentence().starts_with(
            "claims to be run by Docker container victim; not trusted: its cgroup names"
        ),
        "{}",
        s.sentence()
    );
    let doc = serde_json::to_value(&s).unwrap();
    assert_eq!(doc["trust"], "claimed");
    assert_eq!(doc["stop_command"], serde_json::Value::Null);
}

/// A docker-proxy listening on 127.0.0.1:49153, and the engine's word on that port.
fn proxy_scene(proxy: Process) -> (Process, Snapshot) {
    let mut c = Container::from_id(Runtime::Docker, &"b".repeat(64));
    c.name = Some("barweb".into());
    c.access = Access::Known;
    c.confirmed = Evidence::Verified("the engine says it publishes host port 49153".into());
    let mut victim = Container::from_id(Runtime::Docker, &"c".repeat(64));
    victim.name = Some("victim".into());
    victim.ips = vec!["172.17.0.9".parse().unwrap()];
    let mut web = process(20, "busybox", 'S');
    web.container = Some(victim);
    let listener = sock(
        Proto::Tcp,
        "127.0.0.1:49153",
        "0.0.0.0:0",
        State::Listen,
        5,
        &[proxy.pid],
    );
    let mut snap = snapshot(0, Scope::All, vec![listener], &[web, proxy.clone()]);
    snap.published = vec![PublishedBy {
        port: Published {
            host_ip: Some("127.0.0.1".parse().unwrap()),
            host_port: 49153,
            container_port: 8080,
            tcp: true,
        },
        container: c,
    }];
    (proxy, snap)
}

fn docker_proxy(uid: u32, exe: &str, root_owned: bool, parent: Ancestor) -> Process {
    let mut proxy = process(21, "docker-proxy", 'S');
    proxy.uid = Some(uid);
    proxy.user = None;
    proxy.exe = Some(exe.into());
    proxy.exe_root_owned = root_owned;
    proxy.ppid = Some(parent.pid);
    proxy.origin.ancestors = vec![parent];
    // Its argv names another container's address: never believed.
    proxy.cmdline = [
        "/usr/bin/docker-proxy",
        "-proto",
        "tcp",
        "-host-port",
        "49153",
        "-container-ip",
        "172.17.0.9",
        "-container-port",
        "8080",
    ]
    .map(String::from)
    .to_vec();
    proxy
}

#[test]
fn a_real_docker_proxy_leads_to_the_container_the_engine_says_publishes_its_port() {
    let dockerd = real(9, "/usr/sbin/dockerd", 0, &["/usr/sbin/dockerd"]);
    let (proxy, snap) = proxy_scene(docker_proxy(0, "/usr/sbin/docker-proxy", true, dockerd));
    assert!(is_docker_proxy(&proxy));
    assert_eq!(
        proxy_link(&proxy, &snap, Some(49153)).as_deref(),
        Some("barweb:8080")
    );
    let s = supervisor(&proxy, &snap, Some(49153)).unwrap();
    assert_eq!(stop(&s).as_deref(), Some("docker stop barweb"));
    assert_eq!(
        proxied(&proxy, &snap, Some(49153)).unwrap().name.as_deref(),
        Some("barweb")
    );
}

#[test]
fn a_process_that_calls_itself_docker_proxy_leads_nowhere() {
    let dockerd = real(9, "/usr/sbin/dockerd", 0, &["/usr/sbin/dockerd"]);
    let shell = real(9, "/usr/bin/bash", 0, &["bash"]);
    for (proxy, why) in [
        (
            docker_proxy(65534, "/usr/sbin/docker-proxy", true, dockerd.clone()),
            "runs as uid 65534, not root",
        ),
        (
            docker_proxy(0, "/tmp/evil/docker-proxy", false, dockerd),
            "is not a root-owned docker-proxy",
        ),
        (
            docker_proxy(0, "/usr/sbin/docker-proxy", true, shell),
            "its parent is not a root dockerd",
        ),
    ] {
        let (proxy, snap) = proxy_scene(proxy);
        assert!(!is_docker_proxy(&proxy));
        let claim = proxy_claim(&proxy).unwrap();
        assert!(claim.why().contains(why), "{}", claim.why());
        assert_eq!(proxied(&proxy, &snap, Some(49153)), None);
        assert_eq!(supervisor(&proxy, &snap, Some(49153)), None);
        let link = proxy_link(&proxy, &snap, Some(49153)).unwrap();
        assert!(link.starts_with("nothing trusted"), "{link}");
        assert!(!crate::diagnose::process_flags(&proxy).contains(crate::model::Flag::DockerProxy));
    }
}

#[test]
fn a_real_docker_proxy_the_engine_does_not_list_leads_nowhere() {
    let dockerd = real(9, "/usr/sbin/dockerd", 0, &["/usr/sbin/dockerd"]);
    let (proxy, mut snap) = proxy_scene(docker_proxy(0, "/usr/sbin/docker-proxy", true, dockerd));
    snap.published[0].port.host_port = 49154;
    assert_eq!(proxied(&proxy, &snap, Some(49153)), None);
    assert_eq!(supervisor(&proxy, &snap, Some(49153)), None);
    // Another address on the same port is another mapping.
    snap.published[0].port.host_port = 49153;
    snap.published[0].port.host_ip = Some("127.0.0.2".parse().unwrap());
    assert_eq!(proxied(&proxy, &snap, Some(49153)), None);
}

fn pm2_app(pid: u32, name: &str, parent: Ancestor) -> Process {
    let mut p = process(pid, "node", 'S');
    p.ppid = Some(parent.pid);
    p.origin.ancestors = vec![parent];
    p.origin.pm2 = Some(Pm2App {
        name: name.into(),
        id: Some("3".into()),
        // The app's own claim, never used.
        home: Some("/tmp/attacker".into()),
    });
    p
}

fn pm2_daemon(pid: u32, uid: u32, home: &str) -> Ancestor {
    let mut d = real(
        pid,
        "/usr/bin/node",
        uid,
        &[&format!("PM2 v7.0.4: God Daemon ({home})")],
    );
    d.name = "PM2 v7.0.4: God".into();
    d.pm2_home = Some(home.into());
    d
}

#[test]
fn a_pm2_app_under_its_own_users_daemon_is_stopped_as_that_user_with_the_daemons_home() {
    let p = pm2_app(30, "barapp", pm2_daemon(29, 1000, "/home/alice/.pm2"));
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.kind, Kind::Pm2);
    assert!(s.verified());
    assert_eq!(
        stop(&s).as_deref(),
        Some("sudo -u alice env PM2_HOME=/home/alice/.pm2 pm2 stop barapp")
    );
    assert_eq!(s.pid, Some(29));
    // Run by alice herself: no sudo.
    let mut as_alice = empty();
    as_alice.visibility.euid = 1000;
    assert_eq!(
        stop(&supervisor(&p, &as_alice, None).unwrap()).as_deref(),
        Some("env PM2_HOME=/home/alice/.pm2 pm2 stop barapp")
    );
    // A hostile name is one quoted word; one the sanitiser changed is named by its id.
    let p = pm2_app(30, "web;id>x", pm2_daemon(29, 1000, "/home/alice/.pm2"));
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        s.stop.as_ref().unwrap().argv().last().map(String::as_str),
        Some("web;id>x")
    );
    assert!(stop(&s).unwrap().ends_with("pm2 stop 'web;id>x'"));
    let p = pm2_app(30, "\\e[2Jweb", pm2_daemon(29, 1000, "/home/alice/.pm2"));
    assert!(
        stop(&supervisor(&p, &empty(), None).unwrap())
            .unwrap()
            .ends_with("pm2 stop 3")
    );
}

#[test]
fn pm2_variables_without_a_pm2_daemon_above_are_only_a_claim() {
    // No daemon: the attacker's own shell is the parent.
    let p = pm2_app(30, "webapp", real(29, "/usr/bin/bash", 65534, &["bash"]));
    let s = supervisor(&p, &empty(), None).unwrap();
    assert!(!s.verified());
    assert_eq!(s.stop, None);
    assert!(!s.restarter(), "a claim is not watched as a restarter");
    assert_eq!(
        s.sentence(),
        "claims to be run by PM2 app webapp; not trusted: its environment names a PM2 app, but no PM2 daemon is its parent"
    );
    // A daemon of another user above it.
    let p = pm2_app(30, "webapp", pm2_daemon(29, 0, "/root/.pm2"));
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.stop, None);
    assert!(
        s.evidence.why().contains("runs as root, not as its user"),
        "{:?}",
        s.evidence
    );
}

#[test]
fn the_pm2_daemon_itself_in_cluster_mode() {
    let mut d = process(29, "PM2 v7.0.4: God", 'S');
    d.cmdline = vec!["PM2 v7.0.4: God Daemon (/home/alice/.pm2)".into()];
    d.origin.pm2_home = Some("/home/alice/.pm2".into());
    d.origin.pm2_apps = vec![Pm2App {
        name: "clu".into(),
        id: Some("1".into()),
        home: None,
    }];
    let s = supervisor(&d, &empty(), None).unwrap();
    assert!(s.cluster && s.verified());
    assert_eq!(
        stop(&s).as_deref(),
        Some("sudo -u alice env PM2_HOME=/home/alice/.pm2 pm2 stop clu")
    );
    d.origin.pm2_apps.clear();
    let s = supervisor(&d, &empty(), None).unwrap();
    assert_eq!(s.stop, None);
}

fn unit(name: &str, user: Option<u32>, owner: Option<u32>) -> Unit {
    Unit {
        name: name.into(),
        user,
        restarts: Some(false),
        dir: Dir {
            controllers: String::new(),
            path: format!("/system.slice/{name}"),
            owner,
        },
    }
}

#[test]
fn systemd_units_need_a_root_cgroup_or_the_users_own_manager() {
    let mut p = process(40, "api", 'S');
    p.origin.unit = Some(unit("api.service", None, Some(0)));
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(stop(&s).as_deref(), Some("systemctl stop api.service"));
    assert!(!s.restarts);
    // A user who owns a subtree names a directory like a unit.
    p.origin.unit = Some(unit("x.service", None, Some(1000)));
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.stop, None);
    assert!(s.evidence.why().contains("belongs to uid 1000, not root"));
    p.origin.unit = Some(unit("x;id>/tmp/p;true .service", None, Some(0)));
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.stop, None);
    assert!(
        s.evidence
            .why()
            .contains("not named as systemd names units")
    );
    // User units: the holder's own user manager, asked by root through it.
    p.origin.unit = Some(unit("dev.service", Some(1000), Some(1000)));
    p.origin.unit.as_mut().unwrap().restarts = None;
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        stop(&s).as_deref(),
        Some("systemctl --user -M alice@ stop dev.service")
    );
    assert!(s.restarts, "unknown Restart=: it may come back");
    p.uid = Some(1001);
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.stop, None, "another user's manager");
    let mut init = process(1, "systemd", 'S');
    init.uid = Some(0);
    init.origin.socket_units = vec![
        ("web.socket".into(), vec![8080]),
        ("x.socket".into(), vec![1]),
    ];
    let s = supervisor(&init, &empty(), Some(8080)).unwrap();
    assert_eq!(
        (s.kind, stop(&s).as_deref()),
        (Kind::SystemdSocket, Some("systemctl stop web.socket"))
    );
}

#[test]
fn runit_and_s6_are_named_by_the_real_supervisors_directory() {
    let mut p = process(50, "web", 'S');
    let mut runsv = real(60, "/usr/bin/runsv", 0, &["runsv", "web"]);
    runsv.cwd = Some("/etc/service/web".into());
    p.origin.ancestors = vec![runsv.clone()];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (s.kind, s.name.as_str(), stop(&s).as_deref()),
        (Kind::Runit, "web", Some("sv down /etc/service/web"))
    );
    // `exec -a runsv` from the attacker's own copy: a claim.
    p.origin.ancestors = vec![forged(60, "runsv", 1000, &["runsv", "x;id>/tmp/p"])];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!((s.kind, s.stop.clone()), (Kind::Runit, None));
    assert!(
        s.evidence.why().contains("not a root-owned runsv"),
        "{:?}",
        s.evidence
    );
    // The real runsv, run by a third user.
    runsv.uid = Some(1001);
    p.origin.ancestors = vec![runsv];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.stop, None);
    let mut s6 = real(61, "/usr/bin/s6-supervise", 0, &["s6-supervise", "db"]);
    s6.cwd = Some("/run/service/db".into());
    p.origin.ancestors = vec![s6];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(stop(&s).as_deref(), Some("s6-svc -d /run/service/db"));
}

#[test]
fn supervisord_names_a_program_only_from_its_own_user() {
    let sd = real(
        60,
        "/usr/bin/python3.11",
        0,
        &["/usr/bin/python3", "/usr/bin/supervisord"],
    );
    let mut p = process(50, "gunicorn", 'S');
    p.uid = Some(0);
    p.origin.ancestors = vec![
        real(61, "/usr/bin/python3.11", 0, &["gunicorn"]),
        sd.clone(),
    ];
    p.origin.supervisord = Some(SupervisordProgram {
        group: Some("web".into()),
        name: "web".into(),
    });
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (s.kind, s.name.as_str(), stop(&s).as_deref()),
        (Kind::Supervisord, "web", Some("supervisorctl stop web"))
    );
    p.origin.supervisord = Some(SupervisordProgram {
        group: Some("apps".into()),
        name: "web".into(),
    });
    assert_eq!(
        stop(&supervisor(&p, &empty(), None).unwrap()).as_deref(),
        Some("supervisorctl stop apps:web")
    );
    // The program runs as alice: it could name any program of root's supervisord.
    p.uid = Some(1000);
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.stop, None);
    assert!(
        s.evidence
            .why()
            .contains("`supervisorctl status` lists which program has pid 50")
    );
    // A name supervisord does not accept, and none at all: never the `NAME` placeholder.
    p.uid = Some(0);
    p.origin.supervisord = Some(SupervisordProgram {
        group: None,
        name: "web;id>x".into(),
    });
    assert_eq!(supervisor(&p, &empty(), None).unwrap().stop, None);
    p.origin.supervisord = None;
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (s.name.as_str(), s.stop.clone()),
        ("(unknown program)", None)
    );
    // argv[0] `supervisord` from a program comm set by prctl: a claim.
    p.origin.ancestors = vec![forged(60, "supervisord", 1000, &["supervisord"])];
    assert!(!supervisor(&p, &empty(), None).unwrap().verified());
    // Root's python3 running a script of the user's own named supervisord (it could
    // have set SUPERVISOR_PROCESS_NAME to anything): a claim, no `supervisorctl`.
    let mut own_script = sd.clone();
    own_script.cmdline = vec!["python3".into(), "/tmp/x/supervisord".into()];
    own_script.uid = Some(0);
    own_script.script_root_owned = false;
    p.origin.ancestors = vec![own_script];
    p.origin.supervisord = Some(SupervisordProgram {
        group: None,
        name: "nginx".into(),
    });
    let s = supervisor(&p, &empty(), None).unwrap();
    assert!(!s.verified(), "{s:?}");
    assert_eq!(s.stop, None);
    assert!(
        s.evidence
            .why()
            .contains("/tmp/x/supervisord is not a root-owned file"),
        "{}",
        s.evidence.why()
    );
    // Another user's python3 whose argv names root's supervisord script (an option's
    // value, or an argv it rewrote): which script runs is its own say, not root's.
    let mut users = sd.clone();
    users.uid = Some(1000);
    users.cmdline = vec![
        "/usr/bin/python3".into(),
        "-X".into(),
        "/usr/bin/supervisord".into(),
        "/tmp/x/runsv".into(),
    ];
    p.uid = Some(1000);
    p.origin.ancestors = vec![users];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert!(!s.verified(), "{s:?}");
    assert_eq!(s.stop, None);
    assert!(
        s.evidence.why().contains("believed of root's only"),
        "{}",
        s.evidence.why()
    );
    p.uid = Some(0);
    // `exec -a supervisord python3 …`: root's interpreter, but argv[0] lies about it.
    p.origin.ancestors = vec![real(
        60,
        "/usr/bin/python3.11",
        1000,
        &["supervisord", "-c", "x"],
    )];
    assert!(!supervisor(&p, &empty(), None).unwrap().verified());
}

#[test]
fn reloaders_up_the_chain() {
    let mut p = process(50, "node", 'S');
    p.origin.ancestors = vec![
        real(
            49,
            "/usr/bin/node",
            1000,
            &[
                "node",
                "/usr/lib/node_modules/nodemon/bin/nodemon.js",
                "server.js",
            ],
        ),
        real(48, "/usr/bin/bash", 1000, &["bash"]),
    ];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.kind, Kind::Reloader);
    assert_eq!(s.name, "nodemon (49)");
    assert_eq!(stop(&s).as_deref(), Some("sockscope kill pid:49"));
    p.origin.ancestors[0].exe_root_owned = false;
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!((s.verified(), s.stop.clone()), (false, None));
    // uvicorn --reload: the reloader holds the socket itself.
    let mut u = process(70, "uvicorn", 'S');
    u.exe_root_owned = true;
    u.cmdline = [
        "/usr/bin/python3",
        "/usr/local/bin/uvicorn",
        "app:app",
        "--reload",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(supervisor(&u, &empty(), None).unwrap().kind, Kind::Reloader);
}

#[test]
fn tmux_is_where_it_runs_when_nothing_restarts_it() {
    let mut p = process(80, "python3", 'S');
    assert_eq!(supervisor(&p, &empty(), None), None);
    p.origin.mux = Some(("tmux".into(), "3".into()));
    p.origin.ancestors = vec![real(79, "/usr/bin/tmux", 1000, &["tmux"])];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (s.kind, s.restarts, s.stop.clone()),
        (Kind::Tmux, false, None)
    );
    assert_eq!(s.sentence(), "runs in tmux session 3");
    p.origin.ancestors.clear();
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        s.sentence(),
        "claims to run in tmux session 3; not trusted: its environment says so, but no tmux is above it"
    );
}
