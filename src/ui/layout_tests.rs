//! What a user reads at 80×24 (review findings): the protocol of every socket, the
//! Events view's peer and owner, header lines that drop whole items.

use super::tests::render;
use crate::app::msg::Msg;
use crate::app::testkit::*;
use crate::app::update::update;
use crate::app::{App, View};
use crate::model::lifecycle::{Closed, Freed, Maker, TcpInfo};
use crate::model::{EventKind, Proto, Scope, State};

fn resized(app: &mut App, width: u16, height: u16) {
    update(app, Msg::Resize { width, height });
}

/// The line of `screen` that contains `needle`.
fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle}:\n{screen}"))
}

/// A connected UDP socket is ESTAB like a TCP connection: at 80 columns the Sockets view
/// keeps the Proto column, as the Listeners view does, and an address cut keeps its port.
#[test]
fn the_sockets_view_shows_the_protocol_at_80_columns() {
    let (mut sockets, mut procs) = table();
    sockets.push(sock(
        Proto::Udp6,
        "[::1]:40091",
        "[::1]:40091",
        State::Estab,
        90,
        &[8394],
    ));
    sockets.push(sock(
        Proto::Tcp,
        "192.168.100.200:54321",
        "10.200.30.40:443",
        State::Estab,
        91,
        &[8394],
    ));
    procs.push(process(8394, "python3", 'S'));
    let mut app = App::new(settings(), View::Sockets, std::time::Duration::from_secs(1));
    resized(&mut app, 80, 24);
    Feeder::default().feed(&mut app, snapshot(0, Scope::All, sockets, &procs));
    let screen = render(&app, 80, 24);
    let header = screen.lines().nth(3).unwrap();
    assert!(header.starts_with("Proto "), "{screen}");
    let udp = line_with(&screen, "[::1]:40091");
    assert!(udp.starts_with("udp6  ESTAB "), "{screen}");
    let tcp = line_with(&screen, ":54321");
    assert!(tcp.starts_with("tcp   ESTAB "), "{screen}");
    assert!(
        tcp.contains("192.168.100.…:54321"),
        "the port survives: {tcp}"
    );
    for must in ["8394/python3", "Flags"] {
        assert!(screen.contains(must), "{must}: {screen}");
    }
}

/// A short TCP connection that 8395/python3 made to `peer` and that no poll saw.
fn short_lived(cookie: u64, peer: &str) -> Closed {
    Closed {
        freed: Freed {
            proto: Proto::Tcp,
            local: "127.0.0.1:37807".parse().unwrap(),
            remote: peer.parse().unwrap(),
            netns: 0,
            cookie,
            uid: 1000,
            tcp: Some(TcpInfo::default()),
        },
        last_state: None,
        by: Maker::Owner {
            pid: 8395,
            name: "python3".into(),
        },
    }
}

/// At 80 columns the Events view shows the peer (three connections from one local port
/// are told apart), State no wider than `short-lived`, and the owner's pid and name
/// (`(made by X)` says `by X` when it does not fit).
#[test]
fn the_events_view_shows_peer_and_owner_at_80_columns() {
    let (mut app, _) = app(View::Events);
    let snap = app.live.snap.clone();
    let closed: Vec<Closed> = [
        (1, "127.0.0.1:8001"),
        (2, "127.0.0.1:8002"),
        (3, "127.0.0.1:8003"),
    ]
    .into_iter()
    .map(|(c, p)| short_lived(c, p))
    .collect();
    let mut events = crate::model::events::events(
        &Default::default(),
        None,
        &snap,
        &closed,
        Default::default(),
    );
    let mut tw = events[0].clone();
    tw.kind = EventKind::Opened;
    tw.state = State::TimeWait;
    tw.life = None;
    tw.socket.remote = "127.0.0.1:8004".parse().unwrap();
    tw.names = "(made by 8395/python3)".into();
    events.push(tw);
    for e in events {
        app.live.events.push(e);
    }
    app.rebuild();
    resized(&mut app, 80, 24);
    let screen = render(&app, 80, 24);
    let header = screen.lines().nth(3).unwrap();
    assert!(header.contains("Peer"), "{screen}");
    for port in 8001..=8003 {
        let line = line_with(&screen, &format!(":{port}"));
        assert!(line.contains("short-lived"), "{line}");
        assert!(line.contains("8395/python3"), "{line}");
    }
    let tw = line_with(&screen, ":8004");
    assert!(tw.contains("TIME-WAIT"), "{tw}");
    assert!(tw.contains("by 8395/python3"), "{tw}");
    // The State column is as wide as `short-lived` and a space, no wider.
    let state = header.find("State").unwrap();
    let owner = header.find("Owner").unwrap();
    assert!(owner - state <= 12, "{header}");
}
