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

/// An app as the review saw it: a host `vm` whose full table is read every 49 s, a
/// snapshot slower than the interval, and counts in the tens of thousands.
fn busy_app() -> App {
    use crate::model::{Budget, Counts, Freshness};
    let (mut app, _) = app(View::Listeners);
    app.settings.host = "vm".into();
    let mut snap = (*app.live.snap).clone();
    snap.collector = "sockdiag";
    app.live.snap = std::sync::Arc::new(snap);
    app.live.collect.took = std::time::Duration::from_micros(21_400);
    app.live.collect.overruns = 1;
    let mut counts = Counts::default();
    for (s, n) in [
        (State::Listen, 13),
        (State::Estab, 20037),
        (State::TimeWait, 411),
        (State::CloseWait, 2),
        (State::SynSent, 1),
        (State::Unconn, 5),
    ] {
        counts.states[s as usize] = n;
    }
    counts.protos = [20013, 451, 3, 2];
    let now = app.live.now;
    app.live.collect.fresh = Freshness {
        budget: Budget::default(),
        interval: std::time::Duration::from_secs(1),
        every: 49,
        full_at: now - std::time::Duration::from_secs(32),
        partial: true,
        narrowed: false,
        counts: Some(counts),
        taken_at: now,
    };
    app
}

/// Every word of `line` (split at spaces, `·`, `│` and `:`) is one the full line has: nothing
/// is cut mid-word, and a number keeps its unit.
fn whole_words(line: &str, full: &str) {
    let words: Vec<&str> = full
        .split([' ', '·', '│', ':'])
        .filter(|w| !w.is_empty())
        .collect();
    for w in line
        .split([' ', '·', '│', ':'])
        .filter(|w| !w.is_empty() && *w != "…")
    {
        assert!(words.contains(&w), "`{w}` is cut: {line:?} (of {full:?})");
    }
}

/// The header lines drop whole items, least needed first, and end in `…` when they
/// dropped one; a number never loses its unit, a tab name is never cut.
#[test]
fn header_lines_drop_whole_items_and_say_so() {
    let mut app = busy_app();
    resized(&mut app, 200, 24);
    let wide = render(&app, 200, 24);
    let full: Vec<&str> = wide.lines().take(3).collect();
    assert!(!full[0].ends_with('…') && !full[1].ends_with('…'), "{wide}");
    for (w, h) in [(80, 24), (60, 12), (40, 10)] {
        resized(&mut app, w, h);
        let screen = render(&app, w, h);
        let lines: Vec<&str> = screen.lines().take(3).collect();
        whole_words(lines[0], full[0]);
        // The note's shorter wordings are its own words.
        whole_words(lines[1], &format!("{} 1 owner hidden", full[1]));
        for l in &lines[..2] {
            assert!(l.chars().count() <= usize::from(w), "{l}");
            assert!(l.ends_with('…'), "a dropped item is signalled: {l:?}");
        }
        assert!(lines[0].contains("every 1s"), "{screen}");
        assert!(lines[1].contains("owner hidden"), "{screen}");
        assert!(lines[1].contains("LISTEN 13"), "{screen}");
        // The tabs: whole names (the current one at least), never `5 E`.
        assert!(lines[2].contains(" 2 Listen "), "{screen}");
        assert!(!lines[2].trim_end().ends_with(" E"), "{screen}");
    }
    resized(&mut app, 80, 24);
    let screen = render(&app, 80, 24);
    let status = screen.lines().next().unwrap();
    assert!(status.contains("· 1 overrun "), "kept, short: {status}");
    assert!(status.contains("(32 s old)"), "{status}");
    assert!(!status.contains("sockdia"), "dropped whole: {status}");
}
