//! Normal mode: navigation, views, sorting, quick filters, the detail pane, signals,
//! pause and interval. Keys the detail pane does not bind come here too.

use crate::app::columns::Col;
use crate::app::detail::Pane;
use crate::app::keymap::{Action, Mode};
use crate::app::views::{View, fmt_interval};
use crate::app::{App, Effect, Filter, LineEdit};
use crate::model::time::{MAX_INTERVAL, MIN_INTERVAL};
use std::time::Duration;

/// Runs a normal-mode action.
pub fn action(app: &mut App, a: Action) -> Vec<Effect> {
    if let Some(effects) = at_once(app, a) {
        return effects;
    }
    match a {
        Action::Down
        | Action::Up
        | Action::PageDown
        | Action::PageUp
        | Action::First
        | Action::Last => navigate(app, a),
        Action::ViewSockets
        | Action::ViewListeners
        | Action::ViewPorts
        | Action::ViewProcesses
        | Action::ViewEvents
        | Action::NextView
        | Action::PrevView
        | Action::ListenersOnly => view(app, a),
        Action::SortNext | Action::SortReverse | Action::SortMenu => sort(app, a),
        Action::Filter => open_filter(app),
        Action::ToggleTimeWait | Action::ToggleGhosts => toggle_rows(app, a),
        Action::ToggleTraffic => toggle_traffic(app),
        Action::FilterPort | Action::FilterState | Action::FilterProcess => quick_filter(app, a),
        Action::Help => {
            app.modes.mode = Mode::Help;
            app.modes.help_scroll = 0;
        }
        Action::Clear => clear(app),
        // Other modes' actions do nothing here.
        _ => {}
    }
    inspect_selected(app)
}

/// Actions whose effects are the whole answer: leaving, the dialogs, pause, the
/// interval, the detail pane.
fn at_once(app: &mut App, a: Action) -> Option<Vec<Effect>> {
    Some(match a {
        Action::Quit => {
            app.modes.quit = true;
            vec![Effect::Quit]
        }
        Action::Suspend => vec![Effect::Suspend],
        Action::Kill => app.open_dialog(false),
        Action::KillHard => app.open_dialog(true),
        Action::CloseSocket => app.open_close_dialog(),
        Action::Pause => {
            app.modes.paused = !app.modes.paused;
            vec![Effect::Pause(app.modes.paused)]
        }
        Action::Slower | Action::Faster => interval(app, a == Action::Slower),
        Action::Detail => detail(app),
        _ => return None,
    })
}

fn navigate(app: &mut App, a: Action) {
    let page = app.table_rows().max(1);
    let cursor = app.table.cursor;
    let to = match a {
        Action::Down => cursor.saturating_add(1),
        Action::Up => cursor.saturating_sub(1),
        Action::PageDown => cursor.saturating_add(page),
        Action::PageUp => cursor.saturating_sub(page),
        Action::First => 0,
        _ => usize::MAX,
    };
    app.select_index(to);
}

fn view(app: &mut App, a: Action) {
    let v = match a {
        Action::ViewSockets => View::Sockets,
        Action::ViewListeners => View::Listeners,
        Action::ViewPorts => View::Ports,
        Action::ViewProcesses => View::Processes,
        Action::ViewEvents => View::Events,
        Action::ListenersOnly if app.table.view == View::Listeners => View::Sockets,
        Action::ListenersOnly => View::Listeners,
        _ => {
            let n = View::ALL.len();
            let step = if a == Action::NextView { 1 } else { n - 1 };
            View::ALL[(app.table.view.index() + step) % n]
        }
    };
    set_view(app, v);
}

/// `s` walks the columns on screen (a column the terminal has no room for would show
/// no arrow), `S`/`r` reverse, F6 opens the menu of the columns on screen.
fn sort(app: &mut App, a: Action) {
    let cols = app.visible_columns();
    let now = cols.iter().position(|c| *c == app.sort().column);
    match a {
        Action::SortNext => {
            let next = now.map_or(0, |i| (i + 1) % cols.len().max(1));
            if let Some(c) = cols.get(next) {
                sort_by(app, *c, false);
            }
        }
        Action::SortReverse => {
            app.table.reverse();
            app.rebuild();
        }
        _ => {
            app.modes.sort_menu = Some(now.unwrap_or(0));
            app.modes.mode = Mode::Sort;
        }
    }
}

fn open_filter(app: &mut App) {
    let f = &mut app.modes.filter;
    f.before = Some((f.text.clone(), f.query.clone()));
    f.edit = Some(LineEdit {
        cursor: f.text.chars().count(),
        text: f.text.clone(),
    });
    f.error = None;
    app.modes.mode = Mode::Filter;
}

/// `t` hides TIME-WAIT, `g` closed sockets.
fn toggle_rows(app: &mut App, a: Action) {
    let what = if a == Action::ToggleTimeWait {
        if toggle(&mut app.table.hide_time_wait) {
            "TIME-WAIT hidden (t shows it)"
        } else {
            "TIME-WAIT shown"
        }
    } else if toggle(&mut app.table.show_ghosts) {
        "closed sockets shown in red for a few seconds"
    } else {
        "closed sockets hidden (g shows them)"
    };
    app.say(what, false);
    app.rebuild();
}

/// `T`: the traffic columns in the socket views. Elsewhere it only says so: the
/// Processes view has its RX/s and TX/s anyway.
fn toggle_traffic(app: &mut App) {
    let on = toggle(&mut app.table.traffic);
    let text = match (on, app.table.view.is_socket_view()) {
        (true, true) => "traffic columns on: RX/s TX/s RTT Retrans Idle (TCP payload; T hides)",
        (true, false) => "traffic columns on in the Sockets and Listeners views (T hides)",
        (false, _) => "traffic columns off",
    };
    app.say(text, false);
    app.rebuild();
}

/// Esc: closes the detail pane when open, else clears the filters.
fn clear(app: &mut App) {
    if app.modes.detail.is_some() {
        close_detail(app);
    } else {
        app.modes.filter = Filter::default();
        app.table.hide_time_wait = false;
        app.rebuild();
    }
}

/// Enter: opens the detail pane with the focus, or gives the open pane the focus.
fn detail(app: &mut App) -> Vec<Effect> {
    let pane = app.modes.detail.get_or_insert_with(Pane::default);
    pane.focus = true;
    app.modes.mode = Mode::Detail;
    app.refresh_detail();
    app.scroll_to_cursor();
    inspect_selected(app)
}

/// Closes the detail pane; the table has the focus again.
pub(super) fn close_detail(app: &mut App) {
    app.modes.detail = None;
    app.modes.mode = Mode::Normal;
    app.scroll_to_cursor();
}

/// Flips a switch; returns its new value.
fn toggle(b: &mut bool) -> bool {
    *b = !*b;
    *b
}

fn interval(app: &mut App, slower: bool) -> Vec<Effect> {
    let steps = [250u64, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
    let ms = app.modes.interval.as_millis() as u64;
    let next = if slower {
        steps.iter().copied().find(|s| *s > ms).unwrap_or(60_000)
    } else {
        steps.iter().rev().copied().find(|s| *s < ms).unwrap_or(250)
    };
    app.modes.interval = Duration::from_millis(next).clamp(MIN_INTERVAL, MAX_INTERVAL);
    app.say(
        format!("refresh every {}", fmt_interval(app.modes.interval)),
        false,
    );
    vec![Effect::SetInterval(app.modes.interval)]
}

/// With the detail pane open, asks for the facts about the selected row's owner that
/// only the OS knows (cwd, parents).
pub(super) fn inspect_selected(app: &App) -> Vec<Effect> {
    if app.modes.detail.is_none() {
        return vec![];
    }
    let pid = app
        .selected_row()
        .and_then(|r| app.row_socket(r))
        .and_then(|s| s.owners.first().copied());
    match pid {
        Some(pid) if app.modes.inspection.as_ref().is_none_or(|i| i.pid != pid) => {
            vec![Effect::Inspect(pid)]
        }
        _ => vec![],
    }
}

pub(super) fn set_view(app: &mut App, v: View) {
    if app.table.set_view(v) {
        app.rebuild();
    }
}

/// Sorts by `col` of the current view; the same column again flips the direction when
/// `toggle`. A numeric column starts biggest first, as in htop.
pub fn sort_by(app: &mut App, col: Col, toggle: bool) {
    let numeric = col.spec(app.table.view).numeric;
    app.table.sort_by(col, numeric, toggle);
    app.rebuild();
}

/// `p`, `f`, `P`: replace the term of that kind in the filter with the selected row's value.
fn quick_filter(app: &mut App, a: Action) {
    let Some(s) = app.selected_row().and_then(|r| app.row_socket(r)).cloned() else {
        app.say("select a row first", true);
        return;
    };
    let (prefix, term) = match a {
        Action::FilterPort => ("lport:", format!("lport:{}", s.local().port())),
        Action::FilterState => (
            "state:",
            format!("state:{}", s.state.as_str().to_ascii_lowercase()),
        ),
        _ => match s.owners.first() {
            Some(pid) => ("pid:", format!("pid:{pid}")),
            None => {
                app.say("this row has no owning process", true);
                return;
            }
        },
    };
    let mut terms: Vec<&str> = app
        .modes
        .filter
        .text
        .split_whitespace()
        .filter(|t| !t.starts_with(prefix))
        .collect();
    terms.push(&term);
    let text = terms.join(" ");
    super::filter::set_filter(app, text);
}
