//! The signal dialog and what follows it: pinning, confirming, the result line, the port
//! watched until it is judged.

use super::super::keymap::Mode;
use super::super::msg::{KeyCode, Msg};
use super::super::testkit::*;
use super::super::update::update;
use super::super::{Effect, View};
use crate::model::{Delivery, Refusal, Sent, Sig};
use crate::model::{Proto, Scope, State};
use crate::runtime::effects::{Effector, Outcome};

const SENT: Sent = Sent {
    delivery: Delivery::Pidfd,
    continued: false,
};

/// Selects the Listeners row of `port` and opens the dialog, pinned as `pids`.
fn dialog_on(app: &mut super::super::App, port: u16, pins: &[u32]) -> Vec<Effect> {
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
fn dialog_stays_pinned_while_rows_churn() {
    let (mut app, mut feed) = app(View::Listeners);
    let effects = dialog_on(&mut app, 3000, &[]);
    assert_eq!(
        effects,
        vec![Effect::Pin(vec![crate::app::Pin {
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
        vec![Effect::Pin(vec![crate::app::Pin {
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
        .position(|r| app.row_socket(*r).unwrap().local().port() == 22)
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
    assert_eq!(
        app.modes.status.as_ref().unwrap().until,
        crate::app::Until::NextKey
    );
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

/// `k` on a TIME-WAIT row says why nothing can be signalled in plain words ("the kernel
/// holds it"), not "owner none: …".
#[test]
fn k_on_a_time_wait_says_the_kernel_holds_it() {
    let (mut app, mut feed) = crate::app::testkit::app(crate::app::View::Sockets);
    let (mut s, p) = crate::app::testkit::table();
    s.push(crate::app::testkit::time_wait(
        "127.0.0.1:5000",
        "127.0.0.1:50000",
        7,
    ));
    feed.feed(
        &mut app,
        crate::app::testkit::snapshot(1, crate::model::Scope::All, s, &p),
    );
    let i = app
        .table
        .rows
        .iter()
        .position(|r| {
            app.row_socket(*r).is_some_and(|s| {
                s.state == crate::model::State::TimeWait && s.local().port() == 5000
            })
        })
        .unwrap();
    app.select_index(i);
    crate::app::testkit::press(&mut app, "k");
    let said = app
        .modes
        .status
        .as_ref()
        .map(|s| s.text.clone())
        .unwrap_or_default();
    assert!(
        said.starts_with("no process to signal: the kernel holds it (TIME-WAIT"),
        "{said}"
    );
}
