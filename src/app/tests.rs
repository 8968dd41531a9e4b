//! `update` flows with fake snapshots: sorting, selection, filters, ghosts, the dialog.

use super::keymap::Mode;
use super::msg::{KeyCode, MouseKind, Msg};
use super::testkit::*;
use super::update::normal::sort_by;
use super::update::update;
use super::views::RowMark;
use super::{Col, Column};
use super::{Effect, RowId, View, layout};
use crate::model::{Delivery, Refusal, Sent, Sig};
use crate::model::{Proto, Scope, State};
use crate::runtime::effects::{Effector, Outcome};

const SENT: Sent = Sent {
    delivery: Delivery::Pidfd,
    continued: false,
};

/// Selects the Listeners row of `port` and opens the dialog, pinned as `pids`.
fn dialog_on(app: &mut super::App, port: u16, pins: &[u32]) -> Vec<Effect> {
    select_port(app, port);
    let effects = press(app, "k");
    if !pins.is_empty() {
        update(
            app,
            Msg::Pinned(pins.iter().map(|p| (*p, Ok(()))).collect()),
        );
    }
    effects
}

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
    let (mut s, p) = table();
    let closed = s.remove(0); // the :3000 listener closes
    s[2].state = State::CloseWait; // ESTAB → CLOSE-WAIT (inode 14)
    s.push(sock(
        Proto::Tcp,
        "0.0.0.0:9000",
        "0.0.0.0:0",
        State::Listen,
        50,
        &[100],
    ));
    feed.feed(&mut app, snapshot(1, Scope::All, s, &p));
    let mark_of =
        |app: &super::App, inode: u32| row_with_inode(app, inode).and_then(|r| app.row_mark(r));
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
    next.push(sock(
        Proto::Tcp,
        "0.0.0.0:9000",
        "0.0.0.0:0",
        State::Listen,
        50,
        &[100],
    ));
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
fn dialog_stays_pinned_while_rows_churn() {
    let (mut app, mut feed) = app(View::Listeners);
    let effects = dialog_on(&mut app, 3000, &[]);
    assert_eq!(
        effects,
        vec![Effect::Pin(vec![super::Pin {
            pid: 100,
            start_ticks: Some(1000),
            inode: Some(11)
        }])]
    );
    assert_eq!(app.modes.mode, Mode::Dialog);
    let mut fx = Effector::new(FakeSignaller::default());
    for e in effects {
        for o in fx.perform(e) {
            if let Outcome::Reply(m) = o {
                update(&mut app, m);
            }
        }
    }
    // Churn: the listener's row moves, another process takes the row position.
    for t in 1..4 {
        let (mut s, p) = table();
        s.retain(|s| s.is_listener());
        s.rotate_left(t);
        s.insert(
            0,
            sock(
                Proto::Tcp,
                "0.0.0.0:1",
                "0.0.0.0:0",
                State::Listen,
                80 + t as u32,
                &[200],
            ),
        );
        feed.feed(&mut app, snapshot(t as u64, Scope::Listeners, s, &p));
    }
    assert_eq!(app.modes.dialog.as_ref().unwrap().targets[0].pid, 100);
    let effects = press(&mut app, "y");
    let Some(Effect::Signal { sig, pids }) = effects.first().cloned() else {
        panic!("{effects:?}")
    };
    assert_eq!((sig, pids.clone()), (Sig::Term, vec![100]));
    let mut replies = Vec::new();
    for e in effects {
        replies.extend(fx.perform(e));
    }
    assert_eq!(
        fx.signaller.sent,
        vec![(100, 1000, Sig::Term)],
        "the pinned pid and start time got it"
    );
    assert!(
        replies
            .iter()
            .any(|o| matches!(o, Outcome::Worker(crate::collect::worker::Command::Refresh)))
    );
}

#[test]
fn cancel_is_the_default_and_k_upper_preselects_kill() {
    let (mut app, _) = app(View::Listeners);
    select_port(&mut app, 3000);
    press(&mut app, "K");
    assert_eq!(app.modes.dialog.as_ref().unwrap().sig(), Sig::Kill);
    // Enter presses the focused button, which is Cancel: nothing is sent.
    let effects = key(&mut app, KeyCode::Enter);
    assert!(effects.iter().all(|e| !matches!(e, Effect::Signal { .. })));
    assert!(app.modes.dialog.is_none());
    assert_eq!(app.modes.mode, Mode::Normal);
}

#[test]
fn several_owners_choose_one_or_all() {
    let (mut app, _) = app(View::Listeners);
    select_port(&mut app, 8080);
    press(&mut app, "k");
    update(&mut app, Msg::Pinned(vec![(200, Ok(())), (201, Ok(()))]));
    assert_eq!(app.modes.dialog.as_ref().unwrap().chosen_pids(), vec![200]);
    press(&mut app, "a");
    assert_eq!(app.modes.dialog.as_ref().unwrap().chosen_pids(), vec![201]);
    press(&mut app, "a");
    assert_eq!(
        app.modes.dialog.as_ref().unwrap().chosen_pids(),
        vec![200, 201]
    );
    key(&mut app, KeyCode::Down);
    let effects = press(&mut app, "y");
    assert_eq!(
        effects[0],
        Effect::Signal {
            sig: Sig::Int,
            pids: vec![200, 201]
        }
    );
}

#[test]
fn zombie_owner_offers_the_parent() {
    let (mut app, mut feed) = app(View::Listeners);
    let (s, mut p) = table();
    p[0].state = 'Z';
    p[0].ppid = Some(77);
    feed.feed(
        &mut app,
        snapshot(
            1,
            Scope::Listeners,
            s.into_iter().filter(|s| s.is_listener()).collect(),
            &p,
        ),
    );
    let effects = dialog_on(&mut app, 3000, &[]);
    assert_eq!(
        effects,
        vec![Effect::Pin(vec![super::Pin {
            pid: 77,
            start_ticks: None,
            inode: None
        }])]
    );
    let d = app.modes.dialog.as_ref().unwrap();
    assert!(d.note.as_ref().unwrap().contains("zombie"), "{:?}", d.note);
}

#[test]
fn kernel_and_hidden_rows_cannot_be_signalled() {
    let (mut app, _) = app(View::Sockets);
    let tw = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).unwrap().state == State::TimeWait)
        .unwrap();
    app.select_index(tw);
    assert!(press(&mut app, "k").is_empty());
    assert!(app.modes.status.as_ref().unwrap().text.contains("kernel"));
    let hidden = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).unwrap().local.port() == 22)
        .unwrap();
    app.select_index(hidden);
    assert!(press(&mut app, "k").is_empty());
    assert!(
        app.modes
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("run sockscope as root")
    );
}

#[test]
fn after_a_signal_the_port_is_watched_until_freed() {
    let (mut app, mut feed) = app(View::Listeners);
    dialog_on(&mut app, 3000, &[100]);
    let effects = press(&mut app, "y");
    assert_eq!(
        effects,
        vec![Effect::Signal {
            sig: Sig::Term,
            pids: vec![100]
        }]
    );
    update(
        &mut app,
        Msg::SignalResult {
            sig: Sig::Term,
            results: vec![(100, Ok(SENT))],
        },
    );
    assert!(
        app.modes
            .status
            .as_ref()
            .unwrap()
            .text
            .contains("watching port 3000")
    );
    // Next snapshot: the listener and its process are gone, two TIME-WAITs remain.
    let (s, p) = table();
    let s: Vec<_> = s.into_iter().filter(|s| !s.owners.contains(&100)).collect();
    let mut s2 = s.clone();
    s2.push(sock(
        Proto::Tcp,
        "127.0.0.1:3000",
        "127.0.0.1:41006",
        State::TimeWait,
        0,
        &[],
    ));
    let p: Vec<_> = p.into_iter().filter(|p| p.pid != 100).collect();
    feed.feed(&mut app, snapshot(1, Scope::All, s2, &p));
    let text = &app.modes.status.as_ref().unwrap().text;
    assert!(
        text.contains("exited")
            && text.contains(
                "port 3000 has no listener, only 2 TIME-WAIT sockets; the last expires in 41 s"
            ),
        "{text}"
    );
    // Judged: the line stays until the next key, and the port is followed until then.
    assert_eq!(app.modes.status.as_ref().unwrap().until, None);
    assert!(app.modes.watch.as_ref().is_some_and(|w| w.judged()));
    press(&mut app, "j");
    assert!(app.modes.watch.is_none());
    assert!(app.modes.status.is_none(), "the key took the line away");
}

/// "free" is said as soon as the port is released; when the supervisor takes it back a
/// snapshot later, the same line says so (it used to stay "free" and vanish).
#[test]
fn a_respawn_after_free_updates_the_result_line() {
    use crate::app::testkit::pm2_app;
    let listening = |pid: u32, secs: u64| {
        let l = sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "0.0.0.0:0",
            State::Listen,
            pid,
            &[pid],
        );
        snapshot(secs, Scope::All, vec![l], &[pm2_app(pid, "barapp")])
    };
    let (mut app, mut feed) = app(View::Listeners);
    feed.feed(&mut app, listening(100, 0));
    dialog_on(&mut app, 3000, &[100]);
    press(&mut app, "y");
    update(
        &mut app,
        Msg::SignalResult {
            sig: Sig::Term,
            results: vec![(100, Ok(SENT))],
        },
    );
    feed.feed(&mut app, snapshot(1, Scope::All, vec![], &[]));
    assert_eq!(
        app.modes.status.as_ref().unwrap().text,
        "SIGTERM sent to 100/node: exited; port 3000 is free"
    );
    feed.feed(&mut app, listening(250, 2));
    let s = app.modes.status.as_ref().unwrap();
    assert!(s.error);
    assert_eq!(
        s.text,
        "SIGTERM sent to 100/node: exited; port 3000 was taken again 1.0 s later: respawned by PM2 app barapp as 250/node: stop it with `sudo -u alice env PM2_HOME=/home/alice/.pm2 pm2 stop barapp`"
    );
    assert!(app.modes.watch.is_none(), "a retake is final");
}

#[test]
fn refused_signal_is_a_message() {
    let (mut app, _) = app(View::Listeners);
    dialog_on(&mut app, 3000, &[100]);
    press(&mut app, "y");
    let refusal = Refusal::Permission {
        pid: 100,
        owner: "alice".into(),
    };
    update(
        &mut app,
        Msg::SignalResult {
            sig: Sig::Term,
            results: vec![(100, Err(refusal))],
        },
    );
    let s = app.modes.status.as_ref().unwrap();
    assert!(
        s.error && s.text.contains("run as root or as user alice"),
        "{}",
        s.text
    );
    assert!(app.modes.watch.is_none());
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
    assert!(app.modes.detail);
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
    assert!(!app.modes.detail);
}

#[test]
fn an_ownerless_listener_right_after_the_signal_is_not_blamed_on_a_hidden_owner() {
    let (mut app, mut feed) = app(View::Listeners);
    dialog_on(&mut app, 3000, &[100]);
    press(&mut app, "y");
    update(
        &mut app,
        Msg::SignalResult {
            sig: Sig::Term,
            results: vec![(100, Ok(SENT))],
        },
    );
    // The process is exiting: its listener is still there but no fd refers to it any more.
    let (mut s, p) = table();
    s[0].owners.clear();
    s[0].owner_status = crate::model::OwnerStatus::Unknown;
    let p: Vec<_> = p.into_iter().filter(|p| p.pid != 100).collect();
    feed.feed(&mut app, snapshot(1, Scope::All, s.clone(), &p));
    assert!(
        app.modes.watch.is_some(),
        "still watching: {:?}",
        app.modes.status
    );
    s.remove(0);
    feed.feed(&mut app, snapshot(2, Scope::All, s, &p));
    let text = &app.modes.status.as_ref().unwrap().text;
    assert!(
        text.contains("exited") && text.contains("port 3000"),
        "{text}"
    );
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

/// A suspended owner is signalled politely, then continued: the dialog says so before
/// anything is sent, and says nothing of it for KILL.
#[test]
fn the_dialog_says_a_stopped_target_gets_cont() {
    let (mut app, _) = app(View::Sockets);
    // dnsmasq (pid 300, UDP 53) is stopped in the fixture.
    select_port(&mut app, 53);
    press(&mut app, "k");
    let d = app.modes.dialog.as_ref().unwrap();
    assert_eq!(d.targets[0].pid, 300);
    assert_eq!(
        d.targets[0].note(Sig::Term).as_deref(),
        Some("suspended: TERM, then CONT so it can exit")
    );
    assert_eq!(d.targets[0].note(Sig::Kill), None);
    assert_eq!(d.targets[0].inode, Some(13), "pinned to its socket");
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
