//! `update` flows with fake snapshots: sorting, selection, filters, ghosts, views and the
//! mouse here; signals and their results in `signals.rs`; the detail pane, the Ports
//! view's rule and the htop keys in `liveview.rs`.

mod liveview;
mod signals;
mod traffic;
mod views;

use super::keymap::Mode;
use super::msg::{KeyCode, MouseKind, Msg};
use super::testkit::*;
use super::update::normal::sort_by;
use super::update::update;
use super::views::RowMark;
use super::{Col, Column};
use super::{Effect, RowId, View, layout};
use crate::model::{Proto, Scope, State};

#[test]
fn every_column_sorts_both_ways() {
    let (mut app, _) = app(View::Sockets);
    for col in Column::all().map(Col::Socket) {
        sort_by(&mut app, col, false);
        let first = app.table.rows.clone();
        let first_desc = app.sort().descending;
        assert_eq!(first.len(), 8);
        assert_eq!(
            first_desc,
            col.spec(View::Sockets).numeric,
            "{col:?}: numeric columns start biggest first"
        );
        sort_by(&mut app, col, true);
        assert_eq!(app.sort().descending, !first_desc, "{col:?}");
        let mut other = app.table.rows.clone();
        other.reverse();
        assert_eq!(first, other, "{col:?}: one direction is the other reversed");
    }
    // Spot checks of meaning, not only of symmetry.
    sort_by(&mut app, Col::Socket(Column::Local), false);
    sort_by(&mut app, Col::Socket(Column::RecvQ), false);
    let q: Vec<u32> = app
        .table
        .rows
        .iter()
        .map(|r| app.row_socket(*r).unwrap().recv_q)
        .collect();
    assert_eq!(
        q,
        vec![200, 10, 5, 1, 0, 0, 0, 0],
        "numeric, not text order, biggest first"
    );
    sort_by(&mut app, Col::Socket(Column::Process), false);
    // Rows without a process (kernel, hidden) come first, then by name.
    assert!(app.row_socket(app.table.rows[0]).unwrap().owners.is_empty());
    let first = app.row_socket(app.table.rows[2]).unwrap();
    assert_eq!(app.live.snap.processes[&first.owners[0]].name, "curl");
    sort_by(&mut app, Col::Socket(Column::Local), false);
    assert_eq!(locals(&app)[0], "0.0.0.0:22 0.0.0.0:0");
}

#[test]
fn s_cycles_columns_and_r_reverses() {
    let (mut app, _) = app(View::Listeners);
    assert_eq!(app.sort().column, Col::Socket(Column::Local));
    press(&mut app, "s");
    assert_eq!(app.sort().column, Col::Socket(Column::Peer));
    press(&mut app, "r");
    assert!(app.sort().descending);
    press(&mut app, "S");
    assert!(!app.sort().descending);
}

#[test]
fn selection_follows_the_socket_across_refreshes_and_resorts() {
    let (mut app, mut feed) = app(View::Sockets);
    // Select the ESTAB curl end.
    let target = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).unwrap().inode == 15)
        .unwrap();
    app.select_index(target);
    let key = app.row_socket(app.selected_row().unwrap()).unwrap().key();
    // New snapshot: rows inserted before it and the table reordered.
    let (mut s, p) = table();
    s.reverse();
    s.insert(
        0,
        sock(
            Proto::Tcp,
            "0.0.0.0:1",
            "0.0.0.0:0",
            State::Listen,
            90,
            &[100],
        ),
    );
    s.insert(
        0,
        sock(
            Proto::Tcp,
            "0.0.0.0:2",
            "0.0.0.0:0",
            State::Listen,
            91,
            &[100],
        ),
    );
    feed.feed(&mut app, snapshot(1, Scope::All, s, &p));
    assert_eq!(
        app.row_socket(app.selected_row().unwrap()).unwrap().key(),
        key
    );
    // Re-sort by state descending: still the same socket.
    let state = Col::Socket(Column::State);
    sort_by(&mut app, state, false);
    sort_by(&mut app, state, true);
    assert_eq!(
        app.row_socket(app.selected_row().unwrap()).unwrap().key(),
        key
    );
    // Navigation moves it.
    press(&mut app, "j");
    assert_ne!(
        app.row_socket(app.selected_row().unwrap()).unwrap().key(),
        key
    );
}

#[test]
fn live_filter_applies_only_lines_that_parse_whole() {
    let (mut app, _) = app(View::Sockets);
    press(&mut app, "/");
    assert_eq!(app.modes.mode, Mode::Filter);
    press(&mut app, ":3000");
    assert_eq!(app.table.rows.len(), 5, "{:?}", locals(&app));
    press(&mut app, ",");
    assert!(app.modes.filter.error.is_some());
    assert_eq!(
        app.table.rows.len(),
        8,
        "a line that does not parse: the filter from before the edit (none)"
    );
    key(&mut app, KeyCode::Backspace);
    press(&mut app, " !state:tw");
    assert!(app.modes.filter.error.is_none());
    assert_eq!(app.table.rows.len(), 4);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.modes.mode, Mode::Normal);
    assert_eq!(app.modes.filter.text, ":3000 !state:tw");
    // An edit abandoned with Esc puts the kept filter back.
    press(&mut app, "/ udp");
    assert_eq!(app.table.rows.len(), 0);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.modes.filter.text, ":3000 !state:tw");
    assert_eq!(app.table.rows.len(), 4);
    // Enter on a line with an error keeps it open.
    press(&mut app, "/ port:x");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.modes.mode, Mode::Filter);
    assert!(app.modes.filter.error.is_some());
    assert_eq!(app.modes.filter.text, ":3000 !state:tw");
    key(&mut app, KeyCode::Esc);
    // Esc in normal mode clears.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.table.rows.len(), 8);
    assert!(app.modes.filter.text.is_empty());
}

#[test]
fn quick_keys_filter_by_the_selected_row() {
    let (mut app, _) = app(View::Sockets);
    let i = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).unwrap().inode == 14)
        .unwrap();
    app.select_index(i);
    press(&mut app, "p");
    assert_eq!(app.modes.filter.text, "lport:3000");
    assert_eq!(app.table.rows.len(), 4);
    press(&mut app, "f");
    assert_eq!(app.modes.filter.text, "lport:3000 state:estab");
    assert_eq!(app.table.rows.len(), 1);
    press(&mut app, "P");
    assert_eq!(app.modes.filter.text, "lport:3000 state:estab pid:100");
    key(&mut app, KeyCode::Esc);
    press(&mut app, "t");
    assert!(
        app.table
            .rows
            .iter()
            .all(|r| app.row_socket(*r).unwrap().state != State::TimeWait)
    );
    assert_eq!(app.table.rows.len(), 7);
    // l flips between all sockets and listeners; the collector keeps taking every
    // socket, so nothing is asked of it.
    let effects = press(&mut app, "l");
    assert_eq!(app.table.view, View::Listeners);
    assert!(effects.is_empty(), "{effects:?}");
    press(&mut app, "l");
    assert_eq!(app.table.view, View::Sockets);
}

#[test]
fn views_switch_with_digits_and_tab() {
    let (mut app, _) = app(View::Sockets);
    press(&mut app, "3");
    assert_eq!(app.table.view, View::Ports);
    // Ports: 3000, 8080, 53, 22 (41000 is ephemeral and not listened on).
    let ports: Vec<u16> = app.table.ports.iter().map(|p| p.port).collect();
    assert_eq!(ports.len(), 4, "{ports:?}");
    let p3000 = app.table.ports.iter().find(|p| p.port == 3000).unwrap();
    assert_eq!(
        (p3000.listen, p3000.estab, p3000.time_wait, p3000.close_wait),
        (1, 1, 1, 1)
    );
    press(&mut app, "4");
    assert_eq!(app.table.view, View::Processes);
    assert_eq!(app.table.rows.len(), 5);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.table.view, View::Events);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.table.view, View::Processes);
}

/// The standard table after the :3000 listener closed (returned) and a listener on :9000
/// (inode 50) opened.
fn one_closed_one_opened() -> (
    Vec<crate::model::Socket>,
    Vec<crate::model::Process>,
    crate::model::Socket,
) {
    let (mut s, p) = table();
    let closed = s.remove(0);
    s.push(listener_9000());
    (s, p, closed)
}

/// A listener on :9000 (inode 50) of pid 100.
fn listener_9000() -> crate::model::Socket {
    sock(
        Proto::Tcp,
        "0.0.0.0:9000",
        "0.0.0.0:0",
        State::Listen,
        50,
        &[100],
    )
}

/// The mark of the row (live or ghost) of the socket with this inode.
fn mark_of(app: &super::App, inode: u32) -> Option<RowMark> {
    row_with_inode(app, inode).and_then(|r| app.row_mark(r))
}

/// The row on screen (live or ghost) of the socket with this inode.
fn row_with_inode(app: &super::App, inode: u32) -> Option<RowId> {
    app.table
        .rows
        .iter()
        .find(|r| app.row_socket(**r).is_some_and(|s| s.inode == inode))
        .copied()
}

#[test]
fn new_changed_and_closed_rows_are_marked_and_ghosts_expire() {
    let (mut app, mut feed) = app(View::Sockets);
    let (mut s, p, closed) = one_closed_one_opened();
    s[2].state = State::CloseWait; // ESTAB → CLOSE-WAIT (inode 14)
    feed.feed(&mut app, snapshot(1, Scope::All, s, &p));
    assert_eq!(mark_of(&app, 50), Some(RowMark::New));
    assert_eq!(mark_of(&app, 14), Some(RowMark::Changed));
    assert_eq!(mark_of(&app, closed.inode), Some(RowMark::Closed));
    assert!(app.table.rows.iter().any(|r| matches!(r, RowId::Ghost(_))));
    assert_eq!(app.live.events.len(), 3);
    // Ghosts and marks go after their time.
    update(&mut app, Msg::Tick(at(2)));
    assert_eq!(mark_of(&app, closed.inode), Some(RowMark::Closed));
    update(&mut app, Msg::Tick(at(5)));
    assert_eq!(mark_of(&app, closed.inode), None);
    assert!(!app.table.rows.iter().any(|r| matches!(r, RowId::Ghost(_))));
    assert_eq!(mark_of(&app, 50), None);
}

/// While snapshots come, ghosts and marks go with the snapshot taken at their time (or
/// less than a tick before), not at a tick of their own: a redraw of their own a moment
/// after each snapshot's doubled the screen's work under churn.
#[test]
fn ghosts_and_marks_go_with_the_snapshot_at_their_time() {
    let (mut app, mut feed) = app(View::Sockets);
    let (s, p, closed) = one_closed_one_opened();
    assert_eq!(app.settings.ghost, std::time::Duration::from_secs(3));
    let ghosts = |app: &super::App| app.table.rows.iter().any(|r| matches!(r, RowId::Ghost(_)));
    feed.feed(&mut app, snapshot(1, Scope::All, s.clone(), &p));
    feed.feed(&mut app, snapshot(2, Scope::All, s.clone(), &p));
    feed.feed(&mut app, snapshot(3, Scope::All, s.clone(), &p));
    // Due at 4 s; the last snapshot is less than an interval old: the clock leaves them
    // to the next snapshot.
    update(&mut app, Msg::Tick(at(4)));
    assert!(ghosts(&app));
    assert_eq!(mark_of(&app, closed.inode), Some(RowMark::Closed));
    assert_eq!(mark_of(&app, 50), Some(RowMark::New));
    // A snapshot taken a little before their time takes them.
    let mut snap = snapshot(4, Scope::All, s, &p);
    snap.taken_at -= super::live::GO_EARLY / 2;
    feed.feed(&mut app, snap);
    assert!(!ghosts(&app));
    assert!(app.live.ghosts.is_empty());
    assert_eq!(mark_of(&app, 50), None);
    // With no snapshot for an interval and a tick, the clock takes them at their time.
    let (mut s, p) = table();
    let (mut app, mut feed) = super::testkit::app_with(View::Sockets, s.clone(), &p);
    s.remove(0);
    feed.feed(&mut app, snapshot(1, Scope::All, s, &p));
    assert!(ghosts(&app));
    update(&mut app, Msg::Tick(at(4)));
    assert!(!ghosts(&app));
}

/// Only a socket the view saw open is marked new: not those of the first snapshot, nor
/// those a change of scope brings in; its age is still its first snapshot's time.
#[test]
fn rows_of_the_first_snapshot_or_a_new_scope_are_not_marked_new() {
    let (mut app, mut feed) = app(View::Listeners);
    let (s, p) = table();
    let marked = |app: &super::App| app.table.rows.iter().any(|r| app.row_mark(*r).is_some());
    assert!(!marked(&app));
    let listener = |inode: u32, port: u16| {
        sock(
            Proto::Tcp,
            &format!("0.0.0.0:{port}"),
            "0.0.0.0:0",
            State::Listen,
            inode,
            &[100],
        )
    };
    let mut only = vec![listener(60, 9060)];
    only.extend(s.iter().filter(|s| s.is_listener()).cloned());
    feed.feed(&mut app, snapshot(1, Scope::Listeners, only.clone(), &p));
    assert!(!marked(&app), "a change of scope marks nothing");
    only.push(listener(61, 9061));
    feed.feed(&mut app, snapshot(2, Scope::Listeners, only, &p));
    assert_eq!(mark_of(&app, 61), Some(RowMark::New));
    assert_eq!(mark_of(&app, 60), None);
    let age_of = |app: &super::App, inode: u32| {
        row_with_inode(app, inode).and_then(|r| app.row_first_seen(r))
    };
    assert_eq!(age_of(&app, 61), Some(at(2)));
    assert_eq!(age_of(&app, 60), Some(at(1)));
}

/// Under churn ghosts expire every tick: the rows follow without a rebuild, and come out
/// as a rebuild makes them (the newest matching ghosts that fit, the rest counted as
/// folded), also with a filter that some ghosts fail and a sort that puts ghosts among
/// live rows.
#[test]
fn expiring_ghosts_leave_the_rows_a_rebuild_would_make() {
    let conn = |i: u16| {
        sock(
            Proto::Tcp,
            &format!("127.0.0.1:{}", 40000 + i),
            if i.is_multiple_of(5) {
                "127.0.0.1:6379"
            } else {
                "127.0.0.1:5432"
            },
            State::Estab,
            1000 + u32::from(i),
            &[100],
        )
    };
    let ghost_rows = |app: &super::App| {
        app.table
            .rows
            .iter()
            .filter_map(|r| match r {
                RowId::Ghost(i) => Some(app.live.ghosts[*i as usize].socket.inode),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    for filter in ["", "port:5432"] {
        let (mut app, mut feed) = app(View::Sockets);
        let (base, p) = table();
        let with = |n: std::ops::Range<u16>| {
            let mut s = base.clone();
            s.extend(n.map(conn));
            s
        };
        feed.feed(&mut app, snapshot(1, Scope::All, with(0..60), &p));
        // 25 close at 2, 25 more at 3: more than the ghosts' share of the screen.
        feed.feed(&mut app, snapshot(2, Scope::All, with(25..60), &p));
        feed.feed(&mut app, snapshot(3, Scope::All, with(50..60), &p));
        sort_by(&mut app, Col::Socket(Column::Local), false);
        app.modes.filter.query = crate::query::parse(filter).unwrap();
        app.rebuild();
        let shown_before = ghost_rows(&app);
        let folded_before = app.table.folded_ghosts;
        assert!(!shown_before.is_empty() && folded_before > 0, "{filter:?}");
        // The first 25 go (a ghost lasts the ghost time after its snapshot); every
        // row on screen was one of the newer.
        let went = at(2) + app.settings.ghost;
        update(&mut app, Msg::Tick(went));
        assert_eq!(app.live.ghosts.len(), 25, "{filter:?}");
        assert_eq!(ghost_rows(&app), shown_before, "{filter:?}");
        assert!(app.table.folded_ghosts < folded_before, "{filter:?}");
        let (rows, folded) = (app.table.rows.clone(), app.table.folded_ghosts);
        app.rebuild();
        assert_eq!(rows, app.table.rows, "{filter:?}");
        assert_eq!(folded, app.table.folded_ghosts, "{filter:?}");
    }
}

/// A ghost time made shorter mid-session: a newer ghost goes before older ones, and the
/// older stay their time.
#[test]
fn a_shorter_ghost_time_expires_newer_ghosts_first() {
    let (mut app, mut feed) = app(View::Sockets);
    let (s, p) = table();
    let ghost_inodes = |app: &super::App| {
        app.live
            .ghosts
            .iter()
            .map(|g| g.socket.inode)
            .collect::<Vec<_>>()
    };
    app.settings.ghost = std::time::Duration::from_secs(3);
    let mut next = s.clone();
    let first = next.remove(0);
    feed.feed(&mut app, snapshot(2, Scope::All, next.clone(), &p));
    app.settings.ghost = std::time::Duration::from_secs(1);
    let second = next.remove(0);
    feed.feed(&mut app, snapshot(3, Scope::All, next, &p));
    assert_eq!(ghost_inodes(&app), [first.inode, second.inode]);
    // At 4.5 s the second (until 4 s) has gone, the first (until 5 s) has not.
    update(
        &mut app,
        Msg::Tick(at(4) + std::time::Duration::from_millis(500)),
    );
    assert_eq!(ghost_inodes(&app), [first.inode]);
    update(&mut app, Msg::Tick(at(5)));
    assert!(ghost_inodes(&app).is_empty());
}

/// Ages follow each socket through snapshots that reorder, add and drop rows; a closed
/// socket keeps its age as a ghost; the same addresses with a new identity start again.
#[test]
fn ages_follow_sockets_across_reordered_snapshots() {
    let (mut app, mut feed) = app(View::Sockets);
    let (s, p) = table();
    let age_of = |app: &super::App, inode: u32| {
        row_with_inode(app, inode).and_then(|r| app.row_first_seen(r))
    };
    let mut next = s.clone();
    next.reverse();
    let gone = next.remove(0);
    let mut reborn = next[0].clone();
    next.remove(0);
    reborn.inode = 77;
    reborn.cookie = 77;
    next.push(reborn);
    next.push(listener_9000());
    feed.feed(&mut app, snapshot(4, Scope::All, next.clone(), &p));
    for old in &next[..next.len() - 2] {
        assert_eq!(age_of(&app, old.inode), Some(at(0)), "{old:?}");
    }
    assert_eq!(age_of(&app, 77), Some(at(4)));
    assert_eq!(age_of(&app, 50), Some(at(4)));
    assert_eq!(
        age_of(&app, gone.inode),
        Some(at(0)),
        "the ghost keeps its age"
    );
    next.rotate_left(3);
    feed.feed(&mut app, snapshot(9, Scope::All, next.clone(), &p));
    assert_eq!(age_of(&app, 50), Some(at(4)));
    assert_eq!(age_of(&app, next[0].inode), Some(at(0)));
}

#[test]
fn mouse_clicks_sort_and_select() {
    let (mut app, _) = app(View::Sockets);
    let header = layout::table(&app).y;
    // The first column starts at x 0: Proto.
    update(
        &mut app,
        Msg::Mouse(MouseKind::Click {
            column: 1,
            row: header,
        }),
    );
    assert_eq!(app.sort().column, Col::Socket(Column::Proto));
    update(
        &mut app,
        Msg::Mouse(MouseKind::Click {
            column: 1,
            row: header,
        }),
    );
    assert!(app.sort().descending, "second click reverses");
    let body = layout::table_body(&app).y;
    update(
        &mut app,
        Msg::Mouse(MouseKind::Click {
            column: 5,
            row: body + 3,
        }),
    );
    assert_eq!(app.table.cursor, 3);
    update(&mut app, Msg::Mouse(MouseKind::ScrollDown));
    assert_eq!(app.table.cursor, 6);
}

#[test]
fn pause_and_interval_keys_become_effects() {
    let (mut app, _) = app(View::Sockets);
    assert_eq!(press(&mut app, " "), vec![Effect::Pause(true)]);
    assert!(app.modes.paused);
    assert_eq!(
        press(&mut app, "+"),
        vec![Effect::SetInterval(std::time::Duration::from_secs(2))]
    );
    assert_eq!(
        press(&mut app, "--"),
        vec![
            Effect::SetInterval(std::time::Duration::from_secs(1)),
            Effect::SetInterval(std::time::Duration::from_millis(500))
        ]
    );
    assert_eq!(press(&mut app, "q"), vec![Effect::Quit]);
}

#[test]
fn detail_pane_asks_for_an_inspection() {
    let (mut app, _) = app(View::Listeners);
    let effects = key(&mut app, KeyCode::Enter);
    assert!(app.modes.detail.is_some());
    let owner = app
        .row_socket(app.selected_row().unwrap())
        .unwrap()
        .owners
        .first()
        .copied();
    match owner {
        Some(pid) => assert_eq!(effects, vec![Effect::Inspect(pid)]),
        None => assert!(effects.is_empty()),
    }
    key(&mut app, KeyCode::Esc);
    assert!(app.modes.detail.is_none());
}

#[test]
fn flags_show_and_filter() {
    let (mut app, _) = app(View::Sockets);
    // dnsmasq (pid 300) is stopped in the fixture; :22 has a hidden owner.
    press(&mut app, "/flag:stopped");
    key(&mut app, KeyCode::Enter);
    assert_eq!(locals(&app), vec!["127.0.0.1:53 0.0.0.0:0"]);
    let row = app.table.rows[0];
    assert!(app.row_flags(row).contains(crate::model::Flag::Stopped));
    assert!(app.flag_sentences(row)[0].1.contains("suspended"));
    key(&mut app, KeyCode::Esc);
    press(&mut app, "/!flag:hidden");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.table.rows.len(), 7);
    press(&mut app, "3");
    let p53 = app.table.ports.iter().find(|p| p.port == 53).unwrap();
    assert!(p53.flags.contains(crate::model::Flag::Stopped));
}

/// The view tabs can be clicked; the same layout draws them.
#[test]
fn clicking_a_tab_switches_view() {
    let (mut app, _) = app(View::Sockets);
    let line = layout::header(&app).y + layout::HEADER - 1;
    let (_, label, x) = app
        .tabs()
        .into_iter()
        .find(|(v, _, _)| *v == View::Ports)
        .unwrap();
    assert!(label.contains('3'));
    update(
        &mut app,
        Msg::Mouse(MouseKind::Click {
            column: x + 1,
            row: line,
        }),
    );
    assert_eq!(app.table.view, View::Ports);
}

#[test]
fn the_netns_column_shows_only_while_another_namespace_has_sockets() {
    let (mut app, mut feed) = app(View::Sockets);
    let has = |app: &super::App| app.columns().contains(&Col::Socket(Column::Netns));
    assert!(!has(&app), "only the host's sockets: no NetNS column");
    let (mut s, p) = table();
    let mut other = s[0].clone();
    other.netns = 4_026_532_999;
    other.inode = 999;
    s.push(other);
    let mut snap = snapshot(1, Scope::All, s, &p);
    snap.netns.host = 4_026_531_840;
    feed.feed(&mut app, snap);
    assert!(has(&app), "a socket in another namespace: the column shows");
    let (s, p) = table();
    feed.feed(&mut app, snapshot(2, Scope::All, s, &p));
    assert!(!has(&app), "gone again");
}
