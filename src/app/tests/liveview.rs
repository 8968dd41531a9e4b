//! The live view as an htop user meets it at 80×24: the detail pane (its content, focus,
//! scroll and markers), the F-keys and the sort menu, what `s` cycles, how Local sorts,
//! columns that stay put, the Ports view's rule, the filter editor, the close dialog's
//! words and a container's stop.

use super::super::keymap::Mode;
use super::super::msg::{Key, KeyCode, MouseKind, Msg};
use super::super::testkit::*;
use super::super::update::update;
use super::super::{Col, Column, Effect, PortCol, View};
use crate::model::{Proto, Scope, Socket, State};

fn resize(app: &mut crate::app::App, width: u16, height: u16) {
    update(app, Msg::Resize { width, height });
}

fn fkey(app: &mut crate::app::App, n: u8) -> Vec<Effect> {
    key(app, KeyCode::F(n))
}

/// A PM2 app listening on 3000, and 30 connections of it, at 80×24.
fn pm2_app_80x24(view: View) -> crate::app::App {
    let mut app = crate::app::App::new(settings(), view, std::time::Duration::from_secs(1));
    let mut feed = Feeder::default();
    let mut sockets = vec![sock(
        Proto::Tcp,
        "0.0.0.0:3000",
        "0.0.0.0:0",
        State::Listen,
        50,
        &[250],
    )];
    for i in 0..30u16 {
        sockets.push(sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            &format!("10.0.0.{}:5000", i + 1),
            State::Estab,
            100 + u32::from(i),
            &[250],
        ));
    }
    let mut p = pm2_app(250, "barapp");
    p.cmdline = vec!["node /srv/barapp/server.js --port 3000".into()];
    feed.feed(&mut app, snapshot(1, Scope::All, sockets, &[p]));
    resize(&mut app, 80, 24);
    app
}

fn pane_text(app: &crate::app::App) -> Vec<String> {
    app.modes
        .detail
        .as_ref()
        .map(|p| {
            p.lines
                .iter()
                .map(|l| format!("{:>10}  {}", l.label, l.text))
                .collect()
        })
        .unwrap_or_default()
}

fn render(app: &crate::app::App, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| crate::ui::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

/// At 80×24 the pane is short: what to do comes first (what is behind the holder and
/// the command that stops it), the rest scrolls, with markers saying so.
#[test]
fn the_detail_pane_puts_what_to_do_first_and_scrolls_with_markers() {
    let mut app = pm2_app_80x24(View::Listeners);
    select_port(&mut app, 3000);
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.modes.mode,
        Mode::Detail,
        "Enter gives the pane the focus"
    );
    let lines = pane_text(&app);
    let behind = lines
        .iter()
        .position(|l| l.contains("behind"))
        .unwrap_or_else(|| panic!("{lines:#?}"));
    let socket = lines.iter().position(|l| l.contains("socket")).unwrap();
    assert!(behind < socket, "{lines:#?}");
    assert!(
        lines[behind..socket].join(" ").contains("pm2 stop barapp"),
        "{lines:#?}"
    );
    let body = app.detail_body();
    assert!(lines.len() > body, "more than fits: {} lines", lines.len());
    let screen = render(&app, 80, 24);
    assert!(screen.contains("behind"), "{screen}");
    assert!(screen.contains("more ↓"), "{screen}");
    assert!(!screen.contains("↑ "), "{screen}");
    // ↓ scrolls the pane, not the table.
    let cursor = app.table.cursor;
    key(&mut app, KeyCode::Down);
    assert_eq!(app.modes.detail.as_ref().unwrap().scroll, 1);
    assert_eq!(app.table.cursor, cursor);
    assert!(render(&app, 80, 24).contains("↑ 1 more"));
    key(&mut app, KeyCode::PageDown);
    key(&mut app, KeyCode::End);
    let pane = app.modes.detail.as_ref().unwrap();
    assert_eq!(pane.below(body), 0, "End shows the last line");
    let screen = render(&app, 80, 24);
    assert!(!screen.contains("more ↓"), "{screen}");
    assert!(
        screen.contains("also"),
        "the last lines are reachable: {screen}"
    );
    key(&mut app, KeyCode::Home);
    assert_eq!(app.modes.detail.as_ref().unwrap().scroll, 0);
    // The wheel scrolls the focused pane.
    update(&mut app, Msg::Mouse(MouseKind::ScrollDown));
    assert_eq!(app.modes.detail.as_ref().unwrap().scroll, 3);
    assert_eq!(app.table.cursor, cursor);
}

/// Tab gives the focus back to the table: the arrows move rows and the pane follows the
/// selection from its top; Enter focuses the pane again, Esc closes it.
#[test]
fn tab_gives_the_table_the_focus_and_the_pane_follows() {
    let mut app = pm2_app_80x24(View::Sockets);
    select_port(&mut app, 3000);
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.modes.mode, Mode::Normal);
    assert!(app.modes.detail.as_ref().is_some_and(|p| !p.focus));
    assert_eq!(app.table.view, View::Sockets, "Tab did not switch views");
    let before = app.table.cursor;
    key(&mut app, KeyCode::Down);
    assert_eq!(app.table.cursor, before + 1, "↓ moves the table");
    let pane = app.modes.detail.as_ref().unwrap();
    assert_eq!(pane.scroll, 0, "a new selection starts at the top");
    let socket = app.row_socket(app.selected_row().unwrap()).unwrap().clone();
    let shown = pane_text(&app).join("\n");
    assert!(
        shown.contains(&crate::model::socket::Endpoint(&socket.local).to_string()),
        "{shown}"
    );
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.modes.mode, Mode::Detail);
    // Keys the pane does not bind act on the table: `/` opens the filter line.
    press(&mut app, "/");
    assert_eq!(app.modes.mode, Mode::Filter);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.modes.mode, Mode::Detail, "back to the focused pane");
    key(&mut app, KeyCode::Esc);
    assert!(app.modes.detail.is_none());
    assert_eq!(app.modes.mode, Mode::Normal);
}

/// A flag's name is part of its line, not a label wider than the label column, and its
/// sentence wraps under the value column.
#[test]
fn flag_sentences_wrap_under_the_value_column() {
    let (mut app, _) = app(View::Listeners);
    resize(&mut app, 80, 24);
    select_port(&mut app, 53);
    key(&mut app, KeyCode::Enter);
    let pane = app.modes.detail.as_ref().unwrap();
    let i = pane
        .lines
        .iter()
        .position(|l| l.text.starts_with("STOPPED — "))
        .unwrap();
    assert_eq!(pane.lines[i].label, "flag");
    assert_eq!(pane.lines[i + 1].label, "", "{:#?}", pane.lines);
    assert!(pane.lines.iter().all(|l| l.text.chars().count() <= 80 - 12));
}

/// htop's function keys: F1 help, F3/F4 filter, F6 the sort menu, F9 kill, F10 quit.
#[test]
fn function_keys_do_what_they_do_in_htop() {
    let (mut app, _) = app(View::Listeners);
    fkey(&mut app, 1);
    assert_eq!(app.modes.mode, Mode::Help);
    fkey(&mut app, 1);
    assert_eq!(app.modes.mode, Mode::Normal);
    for n in [3, 4] {
        fkey(&mut app, n);
        assert_eq!(app.modes.mode, Mode::Filter, "F{n}");
        key(&mut app, KeyCode::Esc);
    }
    select_port(&mut app, 3000);
    let effects = fkey(&mut app, 9);
    assert_eq!(app.modes.mode, Mode::Dialog);
    assert!(
        matches!(effects.as_slice(), [Effect::Pin(_)]),
        "{effects:?}"
    );
    key(&mut app, KeyCode::Esc);
    // F6: the columns on screen; Enter sorts by the chosen one.
    resize(&mut app, 80, 24);
    fkey(&mut app, 6);
    assert_eq!(app.modes.mode, Mode::Sort);
    let visible = app.visible_columns();
    let at = app.modes.sort_menu.unwrap();
    assert_eq!(
        visible[at],
        app.sort().column,
        "the menu starts on the sorted column"
    );
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.modes.mode, Mode::Normal);
    assert_eq!(app.sort().column, visible[(at + 1) % visible.len()]);
    assert_eq!(fkey(&mut app, 10), vec![Effect::Quit]);
}

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
    assert!(w >= 30, "{w}");
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
    s.retain(|x| x.local.port() != 38100);
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
    for (inode, name) in [(501u64, "web1"), (502, "web2")] {
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
    assert_eq!(s.local.port(), 8080);
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
            .position(|r| app.row_socket(*r).is_some_and(|s| s.local.port() == port))
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

/// Stopping a container: "asking…" stays (no blank line) until the engine answers,
/// however long it takes, and the answer says when the engine had to KILL.
#[test]
fn a_container_stop_says_asking_until_the_answer_and_an_exit_137() {
    let (mut app, mut feed) = app(View::Listeners);
    feed.feed(&mut app, docker_published());
    select_port(&mut app, 32768);
    press(&mut app, "k");
    assert!(app.modes.dialog.as_ref().unwrap().stop_container);
    let effects = press(&mut app, "y");
    assert!(matches!(effects.as_slice(), [Effect::StopContainer { .. }]));
    let asking = app.modes.status.clone().unwrap().text;
    assert!(
        asking.starts_with("asking Docker to stop container web1"),
        "{asking}"
    );
    update(&mut app, Msg::Tick(at(60)));
    update(&mut app, Msg::Key(Key::char('j')));
    assert_eq!(
        app.modes.status.as_ref().unwrap().text,
        asking,
        "still asking"
    );
    update(
        &mut app,
        Msg::ContainerStopped {
            name: "web1".into(),
            result: Ok(Some(137)),
        },
    );
    let text = &app.modes.status.as_ref().unwrap().text;
    assert!(
        text.starts_with(
            "container web1 stopped: it did not stop in 5s, so Docker killed it (exit 137)"
        ),
        "{text}"
    );
}

/// The tabs have short names at 80 columns, and the footer always ends in `? help  q
/// quit`.
#[test]
fn tabs_and_footer_fit_80_columns() {
    let (mut app, _) = app(View::Listeners);
    resize(&mut app, 80, 24);
    let screen = render(&app, 80, 24);
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[2].starts_with(" 1 Sock  2 Listen  3 Ports  4 Procs  5 Events "),
        "{}",
        lines[2]
    );
    assert!(
        lines[23].trim_end().ends_with("? help  q quit"),
        "{}",
        lines[23]
    );
    resize(&mut app, 40, 10);
    let screen = render(&app, 40, 10);
    assert!(
        screen
            .lines()
            .nth(9)
            .unwrap()
            .trim_end()
            .ends_with("? help  q quit"),
        "{screen}"
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
