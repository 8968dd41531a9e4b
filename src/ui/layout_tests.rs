//! What a user reads at 80×24 (review findings): the protocol of every socket, the
//! Events view's peer and owner, header lines that drop whole items.

use super::tests::render;
use crate::app::msg::Msg;
use crate::app::testkit::*;
use crate::app::update::update;
use crate::app::{App, View};
use crate::model::{Proto, Scope, State};

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
