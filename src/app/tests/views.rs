//! The views as an htop user meets them: what `s` cycles, how Local sorts, columns that
//! stay put, the Processes view's command, the Ports view's rule and its namespaces, the
//! filter editor, the close dialog's words, the Events view's owner of a TIME-WAIT.

use super::super::msg::KeyCode;
use super::super::testkit::*;
use super::super::{Col, Column, PortCol, View};
use super::liveview::resize;
use crate::model::{Proto, Scope, Socket, State};

/// `s` cycles the columns on screen only, so the sorted column always shows its arrow.
#[test]
fn s_cycles_the_visible_columns_only() {
    let (mut app, _) = app(View::Sockets);
    resize(&mut app, 80, 24);
    let visible = app.visible_columns();
    assert!(visible.len() < app.columns().len(), "80 columns hide some");
    let mut seen = Vec::new();
    for _ in 0..visible.len() {
        press(&mut app, "s");
        let c = app.sort().column;
        assert!(visible.contains(&c), "{c:?} is not on screen");
        seen.push(c);
    }
    seen.sort_by_key(|c| format!("{c:?}"));
    seen.dedup();
    assert_eq!(seen.len(), visible.len(), "every visible column, once");
}

/// Local (and Peer) sort by port, then address: IPv6 listeners are not all last.
#[test]
fn local_sorts_by_port_then_address() {
    let (mut app, mut feed) = app(View::Listeners);
    let listen = |local: &str, remote: &str, inode: u32| {
        sock(Proto::Tcp, local, remote, State::Listen, inode, &[100])
    };
    let sockets = vec![
        listen("0.0.0.0:38082", "0.0.0.0:0", 1),
        listen("[::]:2024", "[::]:0", 2),
        listen("127.0.0.1:38002", "0.0.0.0:0", 3),
        listen("0.0.0.0:2024", "0.0.0.0:0", 4),
        listen("[::1]:80", "[::]:0", 5),
    ];
    let (_, p) = table();
    feed.feed(&mut app, snapshot(1, Scope::All, sockets, &p));
    super::sort_by(&mut app, Col::Socket(Column::Local), false);
    // Only this snapshot's sockets (the table's first ones linger as closed rows).
    let order: Vec<String> = locals(&app)
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .filter(|l| {
            [80, 2024, 38002, 38082]
                .iter()
                .any(|p| l.ends_with(&format!(":{p}")))
        })
        .collect();
    assert_eq!(
        order,
        vec![
            "[::1]:80",
            "0.0.0.0:2024",
            "[::]:2024",
            "127.0.0.1:38002",
            "0.0.0.0:38082"
        ]
    );
}

/// Column positions come from every row, not from the ones on screen: paging to a row
/// with a long flag moves nothing.
#[test]
fn columns_stay_put_while_paging_and_filtering() {
    let (mut app, mut feed) = app(View::Sockets);
    let (_, mut p) = table();
    let mut sockets: Vec<Socket> = (0..60u16)
        .map(|i| {
            sock(
                Proto::Tcp,
                &format!("127.0.0.1:{}", 2000 + i),
                "0.0.0.0:0",
                State::Listen,
                1000 + u32::from(i),
                &[100],
            )
        })
        .collect();
    // The last row's owner is stopped and orphaned: the widest Flags cell.
    sockets.push(sock(
        Proto::Tcp,
        "127.0.0.1:9000",
        "0.0.0.0:0",
        State::Listen,
        5000,
        &[300],
    ));
    p[3].session = 77;
    feed.feed(&mut app, snapshot(1, Scope::All, sockets, &p));
    resize(&mut app, 120, 24);
    let top = app.column_layout(120);
    key(&mut app, KeyCode::End);
    assert_eq!(app.column_layout(120), top, "End moved the columns");
    key(&mut app, KeyCode::Home);
    press(&mut app, "/lport:2000-2010");
    assert_eq!(app.column_layout(120), top, "the filter's rows moved them");
}

/// The Processes view's Command takes the rest of the line, after the flags.
#[test]
fn the_command_column_takes_the_rest_of_the_line() {
    let (mut app, _) = app(View::Processes);
    resize(&mut app, 100, 24);
    let layout = app.column_layout(100);
    let (last, place) = layout.iter().rev().find(|(_, p)| p.is_some()).unwrap();
    assert_eq!(*last, Col::Proc(crate::app::ProcCol::Command));
    let (x, w) = place.unwrap();
    assert_eq!(x + w, 100, "to the right edge");
    // At least its minimum: RX/s and TX/s take 14 of what it had before.
    assert!(w >= 24, "{w}");
}

/// The Ports view: a client port in the ephemeral range is no row; a port there shows
/// when the filter names it, or when a TCP listener held it (its TIME-WAITs are the
/// server's, after the listener went).
#[test]
fn the_ports_view_shows_the_ephemeral_ports_of_servers_and_of_the_filter() {
    let (mut app, mut feed) = app(View::Ports);
    let (mut s, p) = table();
    let tw = |local: &str, remote: &str| sock(Proto::Tcp, local, remote, State::TimeWait, 0, &[]);
    for i in 0..10u16 {
        s.push(tw("127.0.0.1:38090", &format!("127.0.0.1:{}", 50_000 + i)));
    }
    s.push(sock(
        Proto::Tcp,
        "0.0.0.0:38100",
        "0.0.0.0:0",
        State::Listen,
        70,
        &[100],
    ));
    feed.feed(&mut app, snapshot(1, Scope::All, s.clone(), &p));
    let ports = |app: &crate::app::App| -> Vec<u16> {
        let mut v: Vec<u16> = app.table.ports.iter().map(|r| r.port).collect();
        v.sort_unstable();
        v
    };
    assert_eq!(ports(&app), vec![22, 53, 3000, 8080, 38100]);
    // The listener goes; its TIME-WAITs stay: the port still shows.
    s.retain(|x| x.local().port() != 38100);
    s.push(tw("127.0.0.1:38100", "127.0.0.1:50100"));
    feed.feed(&mut app, snapshot(2, Scope::All, s, &p));
    assert_eq!(ports(&app), vec![22, 53, 3000, 8080, 38100]);
    let row = app.table.ports.iter().find(|r| r.port == 38100).unwrap();
    assert_eq!((row.listen, row.time_wait), (0, 1));
    // 38090 never had a listener here: the filter that names it shows it.
    press(&mut app, "/lport:38090\r");
    assert_eq!(ports(&app), vec![38090]);
    assert_eq!(app.table.ports[0].time_wait, 10);
    // 41000 (curl's side of a connection) is a client port: only named, it shows.
    key(&mut app, KeyCode::Esc);
    assert!(!ports(&app).contains(&41000));
}

/// The same port in three namespaces is three rows, told apart by a NetNS column.
#[test]
fn ports_of_other_namespaces_are_rows_of_their_own() {
    let (mut app, mut feed) = app(View::Ports);
    let (_, p) = table();
    let mut snap = snapshot(
        1,
        Scope::All,
        (0..3u64)
            .map(|i| {
                let mut s = sock(
                    Proto::Tcp,
                    "0.0.0.0:8080",
                    "0.0.0.0:0",
                    State::Listen,
                    60 + i as u32,
                    &[100],
                );
                s.netns = [0, 501, 502][i as usize];
                s
            })
            .collect(),
        &p,
    );
    for (inode, name) in [(501u32, "web1"), (502, "web2")] {
        snap.netns.others.insert(
            inode,
            crate::model::Netns {
                inode,
                name: name.into(),
                kind: crate::model::NetnsKind::Container,
            },
        );
    }
    feed.feed(&mut app, snap);
    assert_eq!(app.table.ports.len(), 3);
    assert!(app.columns().contains(&Col::Port(PortCol::Netns)));
    let mut names: Vec<String> = app
        .table
        .rows
        .iter()
        .map(|r| app.cell(*r, Col::Port(PortCol::Netns)).into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec!["host", "web1", "web2"]);
}

/// Typing a filter that matches nothing for a moment does not lose the selection.
#[test]
fn a_filter_edit_that_matches_nothing_keeps_the_selection() {
    let (mut app, _) = app(View::Listeners);
    select_port(&mut app, 8080);
    let selected = app.table.selected;
    press(&mut app, "/lport:9");
    assert!(app.table.rows.is_empty());
    key(&mut app, KeyCode::Backspace);
    assert!(app.modes.filter.error.is_some(), "`lport:` does not parse");
    press(&mut app, "8080");
    assert_eq!(app.table.rows.len(), 1);
    assert_eq!(app.table.selected, selected);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.table.selected, selected, "the selection came back");
    let s = app.row_socket(app.selected_row().unwrap()).unwrap();
    assert_eq!(s.local().port(), 8080);
}

/// `x` on a Ports row says what closing its TIME-WAITs does and does not do.
#[test]
fn the_close_dialog_says_whether_the_port_stays_in_use() {
    let (mut app, mut feed) = app(View::Ports);
    let (mut s, p) = table();
    s.push(sock(
        Proto::Tcp,
        "127.0.0.1:5000",
        "127.0.0.1:50000",
        State::TimeWait,
        0,
        &[],
    ));
    feed.feed(&mut app, snapshot(1, Scope::All, s, &p));
    let row = |app: &crate::app::App, port: u16| {
        app.table
            .rows
            .iter()
            .position(|r| app.row_socket(*r).is_some_and(|s| s.local().port() == port))
            .unwrap()
    };
    let i = row(&app, 3000);
    app.select_index(i);
    press(&mut app, "x");
    let note = app.modes.close.as_ref().unwrap().note.clone();
    assert!(
        note.contains("stays in use") && note.contains("100/node"),
        "{note}"
    );
    assert!(!note.contains("works then"), "{note}");
    key(&mut app, KeyCode::Esc);
    let i = row(&app, 5000);
    app.select_index(i);
    press(&mut app, "x");
    let note = &app.modes.close.as_ref().unwrap().note;
    assert!(
        note.contains("a plain bind of the port works then"),
        "{note}"
    );
}

/// The Events view names a TIME-WAIT's owner as `list` does: `(kernel)`, not blank.
#[test]
fn the_events_view_says_kernel_for_a_time_wait() {
    let (mut app, mut feed) = app(View::Events);
    let (mut s, p) = table();
    s.push(sock(
        Proto::Tcp,
        "127.0.0.1:3000",
        "127.0.0.1:41010",
        State::TimeWait,
        0,
        &[],
    ));
    feed.feed(&mut app, snapshot(1, Scope::All, s, &p));
    let owners: Vec<String> = app
        .table
        .rows
        .iter()
        .map(|r| {
            app.cell(*r, Col::Event(crate::app::EventCol::Owner))
                .into_owned()
        })
        .collect();
    assert_eq!(owners, vec!["(kernel)"]);
}

/// At its newest row the Events view follows the newest event, as `tail -f` does;
/// one row down, the selection stays with its event while new ones arrive above it.
#[test]
fn the_events_view_at_its_top_follows_the_newest_event() {
    let (mut app, mut feed) = app(View::Events);
    let (base, p) = table();
    let conn = |port: u16| {
        sock(
            Proto::Tcp,
            &format!("127.0.0.1:{port}"),
            "127.0.0.1:3000",
            State::Estab,
            u32::from(port),
            &[100],
        )
    };
    let mut sockets = base.clone();
    let mut step = 1;
    let mut open = |app: &mut crate::app::App, port: u16| {
        sockets.push(conn(port));
        feed.feed(app, snapshot(step, Scope::All, sockets.clone(), &p));
        step += 1;
    };
    open(&mut app, 40001);
    open(&mut app, 40002);
    let local = |app: &crate::app::App| {
        app.cell(
            app.selected_row().unwrap(),
            Col::Event(crate::app::EventCol::Local),
        )
        .into_owned()
    };
    key(&mut app, KeyCode::Home);
    assert_eq!(local(&app), "127.0.0.1:40002");
    open(&mut app, 40003);
    assert_eq!(app.table.cursor, 0);
    assert_eq!(local(&app), "127.0.0.1:40003", "the newest, at the top");
    key(&mut app, KeyCode::Down);
    let held = local(&app);
    open(&mut app, 40004);
    assert_eq!(local(&app), held, "one row down, it stays with its event");
    assert_eq!(app.table.cursor, 2);
}

/// An Events view that a filter empties says so, not "no events yet".
#[test]
fn an_events_view_a_filter_empties_says_no_event_matches() {
    let (mut app, mut feed) = app(View::Events);
    super::liveview::resize(&mut app, 100, 20);
    let (mut s, p) = table();
    feed.feed(&mut app, snapshot(1, Scope::All, s.clone(), &p));
    s.push(sock(
        Proto::Tcp,
        "127.0.0.1:40001",
        "127.0.0.1:3000",
        State::Estab,
        40001,
        &[100],
    ));
    feed.feed(&mut app, snapshot(2, Scope::All, s, &p));
    assert!(!app.table.rows.is_empty());
    press(&mut app, "/:9");
    key(&mut app, KeyCode::Enter);
    assert!(app.table.rows.is_empty());
    let screen = super::liveview::render(&app, 100, 20);
    assert!(
        screen.contains("no event in the log matches `:9` (Esc clears the filter)"),
        "{screen}"
    );
    assert!(!screen.contains("no events yet"), "{screen}");
}

/// At 80 columns the tabs line keeps the filter typed whole: where the selection is and
/// the counts go first when it does not all fit.
#[test]
fn at_80_columns_the_tabs_line_keeps_the_filter() {
    let (mut app, mut feed) = app(View::Sockets);
    super::liveview::resize(&mut app, 80, 24);
    let (mut s, p) = table();
    for port in 40_000..41_500u16 {
        s.push(sock(
            Proto::Tcp,
            &format!("127.0.0.1:{port}"),
            "127.0.0.1:3000",
            State::Estab,
            u32::from(port),
            &[100],
        ));
    }
    feed.feed(&mut app, snapshot(1, Scope::All, s, &p));
    let filter = "rport:3000 state:estab";
    press(&mut app, &format!("/{filter}"));
    key(&mut app, KeyCode::Enter);
    let screen = super::liveview::render(&app, 80, 24);
    let tabs = screen.lines().nth(2).unwrap();
    assert!(tabs.contains(&format!("filter: {filter}")), "{tabs}");
    // A filter too long beside the tab names: the other tabs show their number only,
    // and what still does not fit ends in `…`.
    key(&mut app, KeyCode::Esc);
    let long = "rport:3000 state:estab proc:node user:root addr:127.0.0.1 port:3000-3999";
    press(&mut app, &format!("/{long}"));
    key(&mut app, KeyCode::Enter);
    let screen = super::liveview::render(&app, 80, 24);
    let tabs = screen.lines().nth(2).unwrap().trim_end();
    assert!(tabs.starts_with(" 1 Sock  2  3  4  5  "), "{tabs}");
    assert!(
        tabs.contains("filter: rport:3000 state:estab proc:node"),
        "{tabs}"
    );
    assert!(tabs.ends_with('…') && tabs.chars().count() <= 80, "{tabs}");
    key(&mut app, KeyCode::Esc);
    press(&mut app, &format!("/{filter}"));
    key(&mut app, KeyCode::Enter);
    // A wide terminal shows everything.
    let wide = super::liveview::render(&app, 160, 24);
    let tabs = wide.lines().nth(2).unwrap();
    assert!(
        tabs.contains("row 1/") && tabs.contains(" of 1,5") && tabs.contains(filter),
        "{tabs}"
    );
}

/// The counts line's notes take the longest wording that fits: at 80 columns an
/// unprivileged user still reads the whole of "run as root", never a word cut off.
#[test]
fn the_counts_line_words_its_notes_to_fit() {
    let (mut app, mut feed) = app(View::Sockets);
    super::liveview::resize(&mut app, 80, 24);
    let (s, p) = table();
    let mut snap = snapshot(1, Scope::All, s, &p);
    snap.visibility.hidden_sockets = 3;
    snap.visibility.netns_skipped = true;
    feed.feed(&mut app, snap);
    let line = |w: u16| {
        super::liveview::render(&app, w, 24)
            .lines()
            .nth(1)
            .unwrap()
            .trim_end()
            .to_owned()
    };
    // No room after the counts at 80 columns: the notes come first.
    let narrow = line(80);
    assert!(
        narrow.starts_with("3 owners hidden: run as root │ this netns only │ LISTEN 3"),
        "{narrow}"
    );
    // Room after the counts for a shorter wording.
    let middle = line(130);
    assert!(
        middle.ends_with("│ 3 owners hidden: run as root │ this netns only"),
        "{middle}"
    );
    let wide = line(200);
    assert!(
        wide.ends_with(
            "│ owners of 3 sockets hidden: run as root to see them │ this network namespace only (root reads the others)"
        ),
        "{wide}"
    );
}

/// The close dialog at 80×24 for a port of many TIME-WAITs: its sentences are never cut
/// (the list of sockets gives way), and each TIME-WAIT names who made it, as the table
/// does.
#[test]
fn the_close_dialog_at_80x24_keeps_its_sentences_and_names_the_maker() {
    let (mut app, mut feed) = app(View::Ports);
    super::liveview::resize(&mut app, 80, 24);
    let (base, p) = table();
    // 200 connections of 100/node a poll saw, then their TIME-WAITs.
    let (mut open, mut closed) = (base.clone(), base);
    for i in 0..200u16 {
        let peer = format!("127.0.0.1:{}", 50_000 + i);
        open.push(sock(
            Proto::Tcp,
            "127.0.0.1:5000",
            &peer,
            State::Estab,
            70_000 + u32::from(i),
            &[100],
        ));
        closed.push(crate::app::testkit::time_wait(
            "127.0.0.1:5000",
            &peer,
            90_000 + u64::from(i),
        ));
    }
    feed.feed(&mut app, snapshot(1, Scope::All, open, &p));
    feed.feed(&mut app, snapshot(2, Scope::All, closed, &p));
    let i = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).is_some_and(|s| s.local().port() == 5000))
        .unwrap();
    app.select_index(i);
    press(&mut app, "x");
    let screen = super::liveview::render(&app, 80, 24);
    let joined: String = screen
        .lines()
        .map(|l| l.trim_matches(|c: char| c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        joined.contains("one that changed is not touched"),
        "{screen}"
    );
    assert!(screen.contains("(made by 100/node)"), "{screen}");
    assert!(screen.contains("more"), "{screen}");
    assert!(screen.contains("Close 200 sockets"), "{screen}");
}
