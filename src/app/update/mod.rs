//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the TUI, with no I/O.
//! Keys go through the keymap of the current mode: `normal.rs`, `pane.rs` (the detail
//! pane with the focus), `filter.rs`, `menu.rs` (the sort menu), `dialog.rs`, and the
//! help (here); the mouse is in `mouse.rs`.

mod dialog;
mod filter;
mod menu;
mod mouse;
pub(crate) mod normal;
mod pane;

pub use normal::action;

use super::keymap::{Action, Mode};
use super::msg::{Collected, Key, Msg};
use super::{App, Effect};
use std::time::{Duration, SystemTime};

/// Applies one message; returns what the runtime must do. Whatever the message, the
/// collector is told when `tcp_info` is wanted, or no longer is (it costs).
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let mut effects = apply(app, msg);
    let wanted = app.needs_traffic();
    if wanted != app.modes.traffic {
        app.modes.traffic = wanted;
        effects.push(Effect::Traffic(wanted));
    }
    effects
}

fn apply(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(k) => key(app, k),
        Msg::Mouse(m) => mouse::mouse(app, m),
        Msg::Resize { width, height } => {
            app.table.width = width;
            app.table.height = height;
            // The share of the screen closed sockets may take depends on the height.
            app.rebuild();
            vec![]
        }
        Msg::Snapshot(c) => snapshot(app, *c),
        Msg::CollectFailed(e) => {
            app.live.collect.error = Some(e);
            vec![]
        }
        Msg::Pinned(r) => {
            app.pinned(r);
            vec![]
        }
        Msg::SignalResult { sig, results } => {
            app.signal_result(sig, results);
            vec![]
        }
        Msg::SocketsClosed { port, result } => {
            app.closed(port, result);
            vec![]
        }
        Msg::ContainerStopped { name, result } => {
            app.container_stopped(&name, result);
            vec![]
        }
        Msg::Probed { port, probe } => {
            app.judge_watch(port, probe);
            vec![]
        }
        Msg::Inspected(i) => {
            app.modes.inspection = Some(*i);
            app.refresh_detail();
            vec![]
        }
        Msg::Tick(now) => {
            tick(app, now);
            vec![]
        }
    }
}

fn snapshot(app: &mut App, c: Collected) -> Vec<Effect> {
    if app.live.same_table(&c) {
        // A round between full tables that changed no row: the status moves on, and the
        // connections freed meanwhile are events.
        let went = app.live.touch(&c);
        let effects = app.check_watch();
        if !c.closed.is_empty() && app.table.view == crate::app::View::Events {
            app.rebuild();
        } else if !went.is_empty() {
            app.ghosts_went(&went);
        }
        return effects;
    }
    app.live.record(c, app.settings.ghost);
    let effects = app.check_watch();
    app.rebuild();
    effects
}

fn tick(app: &mut App, now: SystemTime) {
    let ghosts_went = app.live.tick(now, app.modes.interval);
    app.modes.expire(now);
    let undecided = app.modes.watch.as_ref().is_some_and(|w| {
        !w.judged()
            && w.since
                .is_some_and(|s| s + super::watch::WATCH_FOR + Duration::from_secs(5) <= now)
    });
    if undecided {
        // No snapshot came to judge it (paused?): say so instead of waiting forever.
        app.modes.watch = None;
        app.say(
            "signal sent; no fresh snapshot to tell whether the port was freed",
            false,
        );
    }
    if !ghosts_went.is_empty() {
        app.ghosts_went(&ghosts_went);
    }
}

fn key(app: &mut App, k: Key) -> Vec<Effect> {
    app.modes.key_pressed();
    let mode = app.modes.mode;
    // The detail pane binds only its own keys: the others act as in the table.
    let bound = app.settings.keymap.lookup(mode, k).or_else(|| {
        (mode == Mode::Detail)
            .then(|| app.settings.keymap.lookup(Mode::Normal, k))
            .flatten()
    });
    let Some(a) = bound else {
        return match (mode, k.code) {
            // Typing into the filter line: any key that is not bound is text.
            (Mode::Filter, super::msg::KeyCode::Char(c)) if !k.ctrl && !k.alt => {
                filter::insert(app, c);
                vec![]
            }
            _ => vec![],
        };
    };
    match mode {
        Mode::Normal => normal::action(app, a),
        Mode::Detail => match pane::action(app, a) {
            Some(effects) => effects,
            None => normal::action(app, a),
        },
        Mode::Filter => filter::action(app, a),
        Mode::Sort => menu::action(app, a),
        Mode::Dialog => dialog::action(app, a),
        Mode::Help => {
            help(app, a);
            vec![]
        }
    }
}

/// Help mode: scrolling within the help's lines.
fn help(app: &mut App, a: Action) {
    let max = app.help_max_scroll();
    let s = &mut app.modes.help_scroll;
    match a {
        Action::Close => app.modes.back_to_rest(),
        Action::Down => *s = (*s + 1).min(max),
        Action::Up => *s = s.saturating_sub(1),
        Action::PageDown => *s = (*s + 10).min(max),
        Action::PageUp => *s = s.saturating_sub(10),
        Action::First => *s = 0,
        Action::Last => *s = max,
        _ => {}
    }
}
