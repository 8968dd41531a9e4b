//! The live view as an htop user meets it at 80×24: the detail pane (its content, focus,
//! scroll and markers), the F-keys and the sort menu, the tabs and the footer, and a
//! container's stop. The views' rules are in `views.rs`.

use super::super::keymap::Mode;
use super::super::msg::{Key, KeyCode, MouseKind, Msg};
use super::super::testkit::*;
use super::super::update::update;
use super::super::{Effect, View};
use crate::model::{Proto, Scope, State};

pub(super) fn resize(app: &mut crate::app::App, width: u16, height: u16) {
    update(app, Msg::Resize { width, height });
}

pub(super) fn fkey(app: &mut crate::app::App, n: u8) -> Vec<Effect> {
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

pub(super) fn pane_text(app: &crate::app::App) -> Vec<String> {
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

pub(super) fn render(app: &crate::app::App, w: u16, h: u16) -> String {
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
        shown.contains(&crate::model::socket::Endpoint(&socket.local()).to_string()),
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

/// The help scrolls within its lines: End shows the last, and ↑ moves at once.
#[test]
fn the_help_scrolls_within_its_lines() {
    let (mut app, _) = app(View::Listeners);
    resize(&mut app, 80, 24);
    press(&mut app, "?");
    let max = app.help_max_scroll();
    assert!(max > 20, "the help is longer than a screen at 80×24");
    key(&mut app, KeyCode::End);
    assert_eq!(app.modes.help_scroll, max);
    key(&mut app, KeyCode::Up);
    assert_eq!(app.modes.help_scroll, max - 1);
    for _ in 0..5 {
        key(&mut app, KeyCode::PageDown);
    }
    assert_eq!(app.modes.help_scroll, max);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("bare words match"), "{screen}");
}

/// In the Processes view the pane is about the process (review finding: it paired the
/// listener's BACKLOG flag with a `kill :PORT --udp` for the process's UDP socket, and
/// showed that UDP socket as "the" socket): each flag names the socket it is about, and
/// what to do acts on the process.
#[test]
fn the_processes_pane_is_about_the_process() {
    let mut full = sock(
        Proto::Tcp6,
        "[::1]:58753",
        "[::]:0",
        State::Listen,
        60,
        &[8394],
    );
    full.recv_q = 5;
    full.send_q = 5;
    let udp = sock(
        Proto::Udp,
        "127.0.0.1:44093",
        "0.0.0.0:0",
        State::Unconn,
        61,
        &[8394],
    );
    let mut app = crate::app::App::new(
        settings(),
        View::Processes,
        std::time::Duration::from_secs(1),
    );
    resize(&mut app, 80, 24);
    Feeder::default().feed(
        &mut app,
        snapshot(
            1,
            Scope::All,
            vec![udp, full],
            &[process(8394, "python3", 'S')],
        ),
    );
    key(&mut app, KeyCode::Enter);
    let lines = pane_text(&app);
    let text = lines.join("\n");
    let flag = lines
        .iter()
        .find(|l| l.contains("BACKLOG"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        flag.contains("BACKLOG on tcp6 LISTEN [::1]:58753 —"),
        "the flag names its socket: {text}"
    );
    assert!(
        text.contains("`sockscope kill pid:8394`"),
        "the action is the process's: {text}"
    );
    assert!(!text.contains(":44093 --udp"), "{text}");
    assert!(
        !text.contains("kill :"),
        "no socket's port is acted on: {text}"
    );
    assert!(
        !lines.iter().any(|l| l.trim_start().starts_with("socket ")),
        "no one socket stands for the process: {text}"
    );
    let sockets = lines
        .iter()
        .find(|l| l.trim_start().starts_with("sockets "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        sockets.contains("[::1]:58753") && text.contains("127.0.0.1:44093"),
        "its sockets are all listed: {text}"
    );
}
