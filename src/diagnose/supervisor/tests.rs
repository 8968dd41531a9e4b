use super::*;
use crate::app::testkit::{process, snapshot};
use crate::model::cgroup::Unit;
use crate::model::{Pm2App, Scope};

fn ancestor(pid: u32, name: &str, cmd: &[&str]) -> Ancestor {
    Ancestor {
        pid,
        name: name.into(),
        cmdline: cmd.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn empty() -> Snapshot {
    snapshot(0, Scope::All, vec![], &[])
}

#[test]
fn a_docker_container_with_a_restart_policy() {
    let mut p = process(10, "busybox", 'S');
    let mut c = Container::from_id(Runtime::Docker, &"a".repeat(64));
    c.name = Some("barweb".into());
    c.restart = Some("unless-stopped".into());
    p.container = Some(c.clone());
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (
            s.kind,
            s.name.as_str(),
            s.stop_command.as_deref(),
            s.restarts
        ),
        (Kind::Docker, "barweb", Some("docker stop barweb"), true)
    );
    assert!(s.sentence().contains("stop it with `docker stop barweb`"));
    c.compose_project = Some("shop".into());
    c.compose_service = Some("web".into());
    c.restart = Some("no".into());
    p.container = Some(c);
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        s.stop_command.as_deref(),
        Some("docker compose -p shop stop web")
    );
    assert!(!s.restarts);
}

#[test]
fn a_docker_proxy_links_to_its_container() {
    let mut web = process(20, "busybox", 'S');
    let mut c = Container::from_id(Runtime::Docker, &"b".repeat(64));
    c.name = Some("barweb".into());
    c.ips = vec!["172.17.0.2".parse().unwrap()];
    web.container = Some(c);
    let mut proxy = process(21, "docker-proxy", 'S');
    proxy.cmdline = [
        "/usr/bin/docker-proxy",
        "-proto",
        "tcp",
        "-host-ip",
        "127.0.0.1",
        "-host-port",
        "49153",
        "-container-ip",
        "172.17.0.2",
        "-container-port",
        "8080",
    ]
    .map(String::from)
    .to_vec();
    let snap = snapshot(0, Scope::All, vec![], &[web, proxy.clone()]);
    assert_eq!(proxy_link(&proxy, &snap).as_deref(), Some("barweb:8080"));
    let s = supervisor(&proxy, &snap, Some(49153)).unwrap();
    assert_eq!(s.stop_command.as_deref(), Some("docker stop barweb"));
}

#[test]
fn a_pm2_app_and_the_daemon_in_cluster_mode() {
    let mut p = process(30, "node", 'S');
    p.origin.pm2 = Some(Pm2App {
        name: "barapp".into(),
        id: Some("0".into()),
        home: Some("/tmp/pm2home".into()),
    });
    p.origin.ancestors = vec![ancestor(
        29,
        "PM2 v7.0.4: God",
        &["PM2 v7.0.4: God Daemon (/tmp/pm2home)"],
    )];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.kind, Kind::Pm2);
    assert_eq!(
        s.stop_command.as_deref(),
        Some("PM2_HOME=/tmp/pm2home pm2 stop barapp")
    );
    assert_eq!(s.pid, Some(29));
    p.origin.pm2.as_mut().unwrap().home = Some("/home/alice/.pm2".into());
    assert_eq!(
        supervisor(&p, &empty(), None)
            .unwrap()
            .stop_command
            .as_deref(),
        Some("pm2 stop barapp")
    );
    let mut d = process(29, "PM2 v7.0.4: God", 'S');
    d.cmdline = vec!["PM2 v7.0.4: God Daemon (/root/.pm2)".into()];
    assert_eq!(supervisor(&d, &empty(), None).unwrap().kind, Kind::Pm2);
}

#[test]
fn systemd_units_and_socket_activation() {
    let mut p = process(40, "api", 'S');
    p.origin.unit = Some(Unit {
        name: "api.service".into(),
        user: None,
        restarts: Some(false),
    });
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        s.stop_command.as_deref(),
        Some("systemctl stop api.service")
    );
    assert!(!s.restarts);
    p.origin.unit = Some(Unit {
        name: "dev.service".into(),
        user: Some(1000),
        restarts: None,
    });
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        s.stop_command.as_deref(),
        Some("systemctl --user stop dev.service")
    );
    assert!(s.restarts, "unknown Restart=: it may come back");
    let mut init = process(1, "systemd", 'S');
    init.origin.socket_units = vec![
        ("web.socket".into(), vec![8080]),
        ("x.socket".into(), vec![1]),
    ];
    let s = supervisor(&init, &empty(), Some(8080)).unwrap();
    assert_eq!(
        (s.kind, s.stop_command.as_deref()),
        (Kind::SystemdSocket, Some("systemctl stop web.socket"))
    );
}

#[test]
fn reloaders_and_service_managers_up_the_chain() {
    let mut p = process(50, "node", 'S');
    p.origin.ancestors = vec![
        ancestor(
            49,
            "node",
            &[
                "node",
                "/usr/lib/node_modules/nodemon/bin/nodemon.js",
                "server.js",
            ],
        ),
        ancestor(48, "bash", &["bash"]),
    ];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(s.kind, Kind::Reloader);
    assert_eq!(s.name, "nodemon (49)");
    assert_eq!(s.stop_command.as_deref(), Some("sockscope kill pid:49"));
    p.origin.ancestors = vec![ancestor(60, "runsv", &["runsv", "web"])];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (s.kind, s.stop_command.as_deref()),
        (Kind::Runit, Some("sv down web"))
    );
    p.origin.ancestors = vec![
        ancestor(61, "gunicorn", &["gunicorn"]),
        ancestor(
            60,
            "supervisord",
            &["/usr/bin/python3", "/usr/bin/supervisord"],
        ),
    ];
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        s.stop_command.as_deref(),
        Some("supervisorctl stop gunicorn")
    );
    // uvicorn --reload: the reloader holds the socket itself.
    let mut u = process(70, "uvicorn", 'S');
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
    let s = supervisor(&p, &empty(), None).unwrap();
    assert_eq!(
        (s.kind, s.restarts, s.stop_command.clone()),
        (Kind::Tmux, false, None)
    );
    assert_eq!(s.sentence(), "runs in tmux session 3");
}
