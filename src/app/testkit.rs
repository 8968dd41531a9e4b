//! Fixtures for the pure core's tests: fake snapshots fed the way the collector thread
//! feeds real ones, and a fake signaller that records instead of signalling.

use super::msg::{Key, KeyCode, Msg};
use super::update::update;
use super::{App, Column, Effect, Settings, View};
use crate::config::{DEFAULT_TOML, parse};
use crate::model::{Delivery, Refusal, Sent, Sig};
use crate::model::{
    OwnerStatus, Pids, Process, Proto, Scope, Snapshot, Socket, State, Timer, TimerKind,
};
use crate::signal::{Signaller, Target};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const T0: u64 = 1_790_000_000;

pub fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

pub fn settings() -> Settings {
    let c = parse(DEFAULT_TOML, "defaults", None).unwrap();
    Settings {
        columns: Column::all().collect(),
        ghost: Duration::from_secs(3),
        theme: c.theme,
        keymap: c.keymap,
        host: "testhost".into(),
        ephemeral: 32768..=60999,
        services: Arc::new(crate::model::services::Services::parse(
            "ssh 22/tcp\nhttp-alt 8080/tcp\ndomain 53/udp\n",
        )),
    }
}

/// A socket: `local`/`remote` as "ip:port".
pub fn sock(
    proto: Proto,
    local: &str,
    remote: &str,
    state: State,
    inode: u32,
    owners: &[u32],
) -> Socket {
    Socket {
        proto,
        addrs: crate::model::AddrPair::new(local.parse().unwrap(), remote.parse().unwrap()),
        state,
        recv_q: 0,
        send_q: if state == State::Listen { 128 } else { 0 },
        timer: (state == State::TimeWait).then_some(Timer {
            kind: TimerKind::TimeWait,
            expires_ms: 41_000,
            retrans: 0,
        }),
        uid: 1000,
        inode,
        cookie: u64::from(inode),
        netns: 0,
        v6only: false,
        owners: owners.iter().copied().collect::<Pids>(),
        owner_status: if inode == 0 {
            OwnerStatus::Kernel
        } else if owners.is_empty() {
            OwnerStatus::Hidden
        } else {
            OwnerStatus::Known
        },
        maker: 0,
    }
}

/// A TCP TIME-WAIT socket (no inode, no owner) with its cookie.
pub fn time_wait(local: &str, remote: &str, cookie: u64) -> Socket {
    let mut s = sock(Proto::Tcp, local, remote, State::TimeWait, 0, &[]);
    s.cookie = cookie;
    s
}

/// A TCP connection freed between two polls (no poll saw it, no maker known), with
/// `tcp_info` as given.
pub fn short_closed(
    local: &str,
    remote: &str,
    cookie: u64,
    tcp: Option<crate::model::lifecycle::TcpInfo>,
) -> crate::model::lifecycle::Closed {
    use crate::model::lifecycle::{Closed, Freed, Maker};
    Closed {
        freed: Freed {
            proto: Proto::Tcp,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            netns: 0,
            cookie,
            uid: 0,
            tcp,
        },
        last_state: None,
        by: Maker::Unseen,
    }
}

pub fn process(pid: u32, name: &str, state: char) -> Process {
    crate::model::process::fixture(pid, name, state)
}

/// A node process of alice's run by PM2 app `app` (alice's daemon 900, her home).
pub fn pm2_app(pid: u32, app: &str) -> Process {
    let mut p = process(pid, "node", 'S');
    p.ppid = Some(900);
    p.origin.ancestors = vec![crate::model::Ancestor {
        pid: 900,
        name: "PM2 v7.0.4: God".into(),
        cmdline: vec!["PM2 v7.0.4: God Daemon (/home/alice/.pm2)".into()],
        uid: p.uid,
        exe: Some("/usr/bin/node".into()),
        exe_root_owned: true,
        pm2_home: Some("/home/alice/.pm2".into()),
        ..Default::default()
    }];
    p.origin.pm2 = Some(crate::model::Pm2App {
        name: app.into(),
        id: Some("0".into()),
        home: Some("/home/alice/.pm2".into()),
    });
    p
}

/// Docker's own docker-proxy as the kernel shows it: root, a root-owned program,
/// started by root's dockerd (pid 6).
pub fn docker_proxy(pid: u32) -> Process {
    let mut proxy = process(pid, "docker-proxy", 'S');
    proxy.uid = Some(0);
    proxy.user = Some("root".into());
    proxy.exe = Some("/usr/sbin/docker-proxy".into());
    proxy.exe_root_owned = true;
    proxy.ppid = Some(6);
    proxy.origin.ancestors = vec![crate::model::Ancestor {
        pid: 6,
        name: "dockerd".into(),
        uid: Some(0),
        exe: Some("/usr/sbin/dockerd".into()),
        exe_root_owned: true,
        ..Default::default()
    }];
    proxy
}

/// The engine's word that `c` publishes `host` (TCP) on its `container_port`.
pub fn published_by(
    c: &crate::model::Container,
    host: &str,
    container_port: u16,
) -> crate::model::container::PublishedBy {
    let host: std::net::SocketAddr = host.parse().expect("a host address");
    let mut c = c.clone();
    c.confirmed = crate::model::Evidence::Verified(format!(
        "the engine says it publishes host port {}",
        host.port()
    ));
    crate::model::container::PublishedBy {
        port: crate::model::container::Published {
            host_ip: Some(host.ip()),
            host_port: host.port(),
            container_port,
            tcp: true,
        },
        container: c,
    }
}

/// Docker's container web1 (its process 710 in its own namespace) published on
/// 127.0.0.1:32768 by docker-proxy 700, as the engine says.
pub fn docker_published() -> Snapshot {
    use crate::model::{Container, Runtime};
    let mut web = process(710, "busybox", 'S');
    let mut c = Container::from_id(Runtime::Docker, &"ab".repeat(32));
    c.name = Some("web1".into());
    c.ips = vec!["172.17.0.2".parse().unwrap()];
    c.access = crate::model::container::Access::Known;
    c.confirmed = crate::model::Evidence::Verified("the engine's main process".into());
    web.container = Some(c.clone());
    let proxy = docker_proxy(700);
    let sockets = vec![sock(
        Proto::Tcp,
        "127.0.0.1:32768",
        "0.0.0.0:0",
        State::Listen,
        77,
        &[700],
    )];
    let mut snap = snapshot(0, Scope::All, sockets, &[web, proxy]);
    snap.published = vec![published_by(&c, "127.0.0.1:32768", 8080)];
    snap
}

/// A small, varied socket table.
pub fn table() -> (Vec<Socket>, Vec<Process>) {
    let mut s = vec![
        sock(
            Proto::Tcp,
            "0.0.0.0:3000",
            "0.0.0.0:0",
            State::Listen,
            11,
            &[100],
        ),
        sock(
            Proto::Tcp6,
            "[::1]:8080",
            "[::]:0",
            State::Listen,
            12,
            &[200, 201],
        ),
        sock(
            Proto::Udp,
            "127.0.0.1:53",
            "0.0.0.0:0",
            State::Unconn,
            13,
            &[300],
        ),
        sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "127.0.0.1:41000",
            State::Estab,
            14,
            &[100],
        ),
        sock(
            Proto::Tcp,
            "127.0.0.1:41000",
            "127.0.0.1:3000",
            State::Estab,
            15,
            &[400],
        ),
        sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "127.0.0.1:41002",
            State::TimeWait,
            0,
            &[],
        ),
        sock(
            Proto::Tcp,
            "0.0.0.0:22",
            "0.0.0.0:0",
            State::Listen,
            16,
            &[],
        ),
        sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "127.0.0.1:41004",
            State::CloseWait,
            17,
            &[100],
        ),
    ];
    s[3].recv_q = 200;
    s[4].recv_q = 5;
    s[7].recv_q = 10;
    s[1].recv_q = 1;
    let p = vec![
        process(100, "node", 'S'),
        process(200, "nginx", 'S'),
        process(201, "nginx", 'S'),
        process(300, "dnsmasq", 'T'),
        process(400, "curl", 'R'),
    ];
    (s, p)
}

pub fn snapshot(secs: u64, scope: Scope, sockets: Vec<Socket>, procs: &[Process]) -> Snapshot {
    let mut snap = Snapshot::empty(scope);
    snap.taken_at = at(secs);
    snap.collector = "fake";
    snap.sockets = sockets;
    snap.processes = procs.iter().map(|p| (p.pid, p.clone())).collect();
    snap.users.insert(1000, "alice".into());
    snap.count_hidden();
    snap
}

/// Feeds snapshots to an app the way the collector thread does (diff against the last).
#[derive(Default)]
pub struct Feeder {
    differ: crate::collect::worker::Differ,
}

impl Feeder {
    pub fn feed(&mut self, app: &mut App, snap: Snapshot) -> Vec<Effect> {
        let c = self.differ.next(snap, Duration::from_millis(3), 0);
        let effects = update(app, Msg::Snapshot(Box::new(c)));
        answer_probes(app, effects)
    }
}

/// Answers the app's probe requests the way the runtime would, with a probe made up from
/// the snapshot (in use while any TCP socket is bound to the port); returns the rest.
pub fn answer_probes(app: &mut App, effects: Vec<Effect>) -> Vec<Effect> {
    let mut rest = Vec::new();
    for e in effects {
        match e {
            Effect::Probe(port) => {
                let held = app
                    .live
                    .snap
                    .sockets
                    .iter()
                    .any(|s| s.proto.is_tcp() && s.local().port() == port);
                let r = if held {
                    crate::diagnose::BindResult::InUse
                } else {
                    crate::diagnose::BindResult::Ok
                };
                let probe = crate::diagnose::Probe {
                    v4: r.clone(),
                    v4_reuseaddr: r.clone(),
                    v6: r.clone(),
                    v6_reuseaddr: r,
                };
                rest.extend(update(app, Msg::Probed { port, probe }));
            }
            e => rest.push(e),
        }
    }
    rest
}

/// An app in `view`, sized, with the standard table fed once.
pub fn app(view: View) -> (App, Feeder) {
    let (s, p) = table();
    app_with(view, s, &p)
}

/// An app in `view`, sized, fed these sockets and processes once.
pub fn app_with(view: View, sockets: Vec<Socket>, procs: &[Process]) -> (App, Feeder) {
    let mut app = App::new(settings(), view, Duration::from_secs(1));
    update(
        &mut app,
        Msg::Resize {
            width: 160,
            height: 50,
        },
    );
    let mut f = Feeder::default();
    f.feed(&mut app, snapshot(0, Scope::All, sockets, procs));
    (app, f)
}

pub fn press(app: &mut App, keys: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in keys.chars() {
        effects.extend(update(app, Msg::Key(Key::char(c))));
    }
    effects
}

pub fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    update(app, Msg::Key(Key::plain(code)))
}

/// Local endpoints of the visible rows, in order.
pub fn locals(app: &App) -> Vec<String> {
    app.table
        .rows
        .iter()
        .filter_map(|r| app.row_socket(*r))
        .map(|s| format!("{} {}", s.local(), s.remote()))
        .collect()
}

/// Records what would have been signalled.
#[derive(Default)]
pub struct FakeSignaller {
    pub pinned: Vec<(u32, Option<u64>, Option<u64>)>,
    pub sent: Vec<(u32, u64, Sig)>,
    pub refuse: Option<Refusal>,
}

impl Signaller for FakeSignaller {
    fn pin(
        &mut self,
        pid: u32,
        start_ticks: Option<u64>,
        inode: Option<u64>,
    ) -> Result<Target, Refusal> {
        self.pinned.push((pid, start_ticks, inode));
        Ok(Target::without_pidfd(pid, start_ticks.unwrap_or(1), inode))
    }
    fn send(&mut self, target: &Target, sig: Sig) -> Result<Sent, Refusal> {
        if let Some(r) = &self.refuse {
            return Err(r.clone());
        }
        self.sent.push((target.pid, target.start_ticks, sig));
        Ok(Sent {
            delivery: Delivery::Pidfd,
            continued: false,
        })
    }
}

/// Moves the selection to the first row whose local port is `port`.
pub fn select_port(app: &mut App, port: u16) {
    let i = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).is_some_and(|s| s.local().port() == port))
        .unwrap();
    app.select_index(i);
}

/// `tcp_info` as the kernel would give it: `rx` and `tx` payload bytes, the SYN in
/// `bytes_acked`.
pub fn tcp_info(rx: u64, tx: u64, rtt_us: u32) -> crate::model::lifecycle::TcpInfo {
    crate::model::lifecycle::TcpInfo {
        rtt_us,
        rttvar_us: rtt_us / 4,
        retrans: 3,
        bytes_acked: tx + 1,
        bytes_received: rx,
        last_send_ms: 40,
        last_recv_ms: 1_200,
        delivery_rate: 5 << 20,
        payload_sent: Some(tx),
    }
}

/// How many short connections [`traffic_app`] makes to :3000 between its last two
/// snapshots.
pub const BURST: u64 = 250;

/// The standard table with traffic, in `view`: two more snapshots with `tcp_info` one
/// second apart. Between them node's connection (:3000 ← curl) sent 256 KiB and got
/// 2 KiB, and [`BURST`] short connections came in on node's :3000 (4,000 bytes sent,
/// 100 received each, no poll saw them); two destroy events were lost meanwhile.
pub fn traffic_app(view: View) -> (App, Feeder) {
    let (mut app, mut feed) = app(view);
    let (s, p) = table();
    let mut one = snapshot(1, Scope::All, s.clone(), &p);
    one.tcp = vec![
        (14, tcp_info(10_000, 1_000_000, 45)),
        (15, tcp_info(1_000_000, 10_000, 52)),
        (17, tcp_info(300, 0, 61)),
    ];
    feed.feed(&mut app, one);
    let mut two = snapshot(2, Scope::All, s, &p);
    two.tcp = vec![
        (14, tcp_info(10_000 + 2_048, 1_000_000 + 262_144, 45)),
        (15, tcp_info(1_000_000 + 262_144, 10_000 + 2_048, 52)),
        (17, tcp_info(300, 0, 61)),
    ];
    two.freed = (0..BURST)
        .map(|i| crate::model::lifecycle::Freed {
            proto: Proto::Tcp,
            local: "127.0.0.1:3000".parse().unwrap(),
            remote: format!("127.0.0.1:{}", 42_000 + i).parse().unwrap(),
            netns: 0,
            cookie: 1_000 + i,
            uid: 1000,
            // The peer's FIN counted in bytes_received once closed.
            tcp: Some(tcp_info(101, 4_000, 30)),
        })
        .collect();
    two.lost = crate::model::lifecycle::Lost {
        times: 2,
        last_ms: (T0 + 2) * 1000,
    };
    feed.feed(&mut app, two);
    (app, feed)
}
