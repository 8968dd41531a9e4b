//! Normal mode: navigation, views, sorting, quick filters, the detail pane, signals,
//! pause and interval.

use crate::app::columns::Col;
use crate::app::keymap::{Action, Mode};
use crate::app::views::{View, fmt_interval};
use crate::app::{App, Effect, Filter, LineEdit};
use crate::model::time::{MAX_INTERVAL, MIN_INTERVAL};
use std::time::Duration;

/// Runs a normal-mode action.
pub fn action(app: &mut App, a: Action) -> Vec<Effect> {
    let page = app.table_rows().max(1);
    let cursor = app.table.cursor;
    match a {
        Action::Quit => {
            app.modes.quit = true;
            return vec![Effect::Quit];
        }
        Action::Suspend => return vec![Effect::Suspend],
        Action::Help => {
            app.modes.mode = Mode::Help;
            app.modes.help_scroll = 0;
        }
        Action::Down => app.select_index(cursor.saturating_add(1)),
        Action::Up => app.select_index(cursor.saturating_sub(1)),
        Action::PageDown => app.select_index(cursor.saturating_add(page)),
        Action::PageUp => app.select_index(cursor.saturating_sub(page)),
        Action::First => app.select_index(0),
        Action::Last => app.select_index(usize::MAX),
        Action::ViewSockets => set_view(app, View::Sockets),
        Action::ViewListeners => set_view(app, View::Listeners),
        Action::ViewPorts => set_view(app, View::Ports),
        Action::ViewProcesses => set_view(app, View::Processes),
        Action::ViewEvents => set_view(app, View::Events),
        Action::NextView | Action::PrevView => {
            let n = View::ALL.len();
            let step = if a == Action::NextView { 1 } else { n - 1 };
            set_view(app, View::ALL[(app.table.view.index() + step) % n]);
        }
        Action::SortNext => {
            let cols = app.columns();
            let now = cols.iter().position(|c| *c == app.sort().column);
            let next = now.map_or(0, |i| (i + 1) % cols.len().max(1));
            if let Some(c) = cols.get(next) {
                sort_by(app, *c, false);
            }
        }
        Action::SortReverse => {
            app.table.reverse();
            app.rebuild();
        }
        Action::Filter => {
            let f = &mut app.modes.filter;
            f.before = Some((f.text.clone(), f.query.clone()));
            f.edit = Some(LineEdit {
                cursor: f.text.chars().count(),
                text: f.text.clone(),
            });
            f.error = None;
            app.modes.mode = Mode::Filter;
        }
        Action::ListenersOnly => {
            let v = if app.table.view == View::Listeners {
                View::Sockets
            } else {
                View::Listeners
            };
            set_view(app, v);
        }
        Action::ToggleTimeWait => {
            let on = toggle(&mut app.table.hide_time_wait);
            let what = if on {
                "TIME-WAIT hidden (t shows it)"
            } else {
                "TIME-WAIT shown"
            };
            app.say(what, false);
            app.rebuild();
        }
        Action::ToggleGhosts => {
            let on = toggle(&mut app.table.show_ghosts);
            let what = if on {
                "closed sockets shown in red for a few seconds"
            } else {
                "closed sockets hidden (g shows them)"
            };
            app.say(what, false);
            app.rebuild();
        }
        Action::FilterPort | Action::FilterState | Action::FilterProcess => quick_filter(app, a),
        Action::Clear => {
            if app.modes.detail {
                app.modes.detail = false;
                app.scroll_to_cursor();
            } else {
                app.modes.filter = Filter::default();
                app.table.hide_time_wait = false;
                app.rebuild();
            }
        }
        Action::Detail => {
            app.modes.detail = !app.modes.detail;
            app.scroll_to_cursor();
            return inspect_selected(app);
        }
        Action::Kill => return app.open_dialog(false),
        Action::KillHard => return app.open_dialog(true),
        Action::CloseSocket => return app.open_close_dialog(),
        Action::Pause => {
            app.modes.paused = !app.modes.paused;
            return vec![Effect::Pause(app.modes.paused)];
        }
        Action::Slower | Action::Faster => return interval(app, a == Action::Slower),
        // Other modes' actions do nothing here.
        _ => {}
    }
    inspect_selected(app)
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
    if !app.modes.detail {
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
        Action::FilterPort => ("lport:", format!("lport:{}", s.local.port())),
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
