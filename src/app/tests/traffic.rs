//! Traffic in the live view: the collector reads `tcp_info` only while something on
//! screen needs it, the header's lost-events line goes after a minute without loss,
//! and the Ports view's connections per second count each connection once.

use super::super::msg::{KeyCode, Msg};
use super::super::testkit::*;
use super::super::update::update;
use super::super::{Effect, View};
use crate::model::{Proto, Scope, State};

fn traffic(effects: &[Effect]) -> Vec<bool> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Traffic(on) => Some(*on),
            _ => None,
        })
        .collect()
}

#[test]
fn tcp_info_is_read_only_while_something_shows_it() {
    let (mut app, mut feed) = app(View::Listeners);
    assert!(!app.modes.traffic, "off at the start");
    // The traffic columns: on; off again with T.
    assert_eq!(traffic(&press(&mut app, "T")), [true]);
    assert_eq!(
        traffic(&press(&mut app, "j")),
        Vec::<bool>::new(),
        "said once"
    );
    assert_eq!(traffic(&press(&mut app, "T")), [false]);
    // The Processes view has RX/s and TX/s; the Ports and Events views need none.
    assert_eq!(traffic(&press(&mut app, "4")), [true]);
    assert_eq!(traffic(&press(&mut app, "3")), [false]);
    assert_eq!(traffic(&press(&mut app, "5")), Vec::<bool>::new());
    // The detail pane of a connection (not of a listener).
    press(&mut app, "1");
    select_port(&mut app, 22);
    assert_eq!(traffic(&key(&mut app, KeyCode::Enter)), Vec::<bool>::new());
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Esc);
    let estab = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).is_some_and(|s| s.state == State::Estab))
        .unwrap();
    app.select_index(estab);
    assert_eq!(traffic(&key(&mut app, KeyCode::Enter)), [true]);
    assert_eq!(traffic(&key(&mut app, KeyCode::Esc)), [false]);
    // A snapshot changes nothing by itself.
    let (s, p) = table();
    assert!(traffic(&feed.feed(&mut app, snapshot(5, Scope::All, s, &p))).is_empty());
}

#[test]
fn the_lost_events_line_goes_after_a_minute_without_loss() {
    let (mut app, _) = traffic_app(View::Sockets);
    let said = app.live.lost_notice().unwrap();
    assert!(said.starts_with("events lost: 2 at ") && said.ends_with("; resynced"));
    update(&mut app, Msg::Tick(at(2 + 59)));
    assert!(app.live.lost_notice().is_some(), "59 s later");
    update(&mut app, Msg::Tick(at(2 + 60)));
    assert_eq!(app.live.lost_notice(), None, "a minute without loss");
}

/// Port 3000: two connections a poll saw open (one arrives already in CLOSE-WAIT), a
/// TIME-WAIT that appeared (the end of one already counted: not again), a new
/// listener (no connection), and the 250 short ones of the fixture — over 2 s.
#[test]
fn connections_per_second_count_each_connection_once() {
    let (mut app, mut feed) = traffic_app(View::Ports);
    assert_eq!(app.live.conns.per_sec(0, 3000), Some(BURST));
    let (mut s, p) = table();
    for (i, state) in [State::Estab, State::CloseWait, State::TimeWait]
        .into_iter()
        .enumerate()
    {
        s.push(sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            &format!("127.0.0.1:{}", 45_000 + i),
            state,
            if state == State::TimeWait {
                0
            } else {
                60 + i as u32
            },
            &[100],
        ));
    }
    s.push(sock(
        Proto::Tcp,
        "0.0.0.0:4000",
        "0.0.0.0:0",
        State::Listen,
        70,
        &[100],
    ));
    feed.feed(&mut app, snapshot(4, Scope::All, s, &p));
    // 2 connections in 2 s.
    assert_eq!(app.live.conns.per_sec(0, 3000), Some(1));
    assert_eq!(app.live.conns.per_sec(0, 4000), Some(0));
}
