//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the TUI, with no I/O.

use super::dialog::Button;
use super::keymap::{Action, Mode};
use super::msg::{Collected, Key, KeyCode, MouseKind, Msg};
use super::views::{View, layout_columns};
use super::{App, Effect, Ghost, LineEdit, Mark, layout};
use crate::model::Sig;
use crate::model::time::{MAX_INTERVAL, MIN_INTERVAL};
use crate::query;
use std::time::Duration;

/// Applies one message; returns what the runtime must do.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let before = app.scope();
    let mut effects = match msg {
        Msg::Key(k) => key(app, k),
        Msg::Mouse(m) => mouse(app, m),
        Msg::Resize { width, height } => {
            app.width = width;
            app.height = height;
            app.scroll_to_cursor();
            vec![]
        }
        Msg::Snapshot(c) => snapshot(app, *c),
        Msg::CollectFailed(e) => {
            app.collect.error = Some(e);
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
        Msg::Probed { port, probe } => {
            app.judge_watch(port, probe);
            vec![]
        }
        Msg::Inspected(i) => {
            app.inspection = Some(*i);
            vec![]
        }
        Msg::Tick(now) => {
            tick(app, now);
            vec![]
        }
    };
    if app.scope() != before && !effects.iter().any(|e| matches!(e, Effect::SetScope(_))) {
        effects.push(Effect::SetScope(app.scope()));
    }
    effects
}

fn snapshot(app: &mut App, c: Collected) -> Vec<Effect> {
    let now = c.snapshot.taken_at;
    app.now = app.now.max(now);
    app.collect.took = c.took;
    app.collect.overruns = c.overruns;
    app.collect.error = None;
    app.collect.snapshots += 1;
    let until = now + app.settings.ghost;
    if c.rescoped || app.collect.snapshots == 1 {
        // A new baseline: nothing is "new" about it.
        for s in &c.snapshot.sockets {
            app.first_seen.entry(s.key()).or_insert(now);
        }
    } else {
        for &i in &c.delta.opened {
            if let Some(s) = c.snapshot.sockets.get(i) {
                app.first_seen.insert(s.key(), now);
                app.marks.insert(s.key(), (Mark::New, until));
            }
        }
        for ch in &c.delta.changed {
            if let Some(s) = c.snapshot.sockets.get(ch.index)
                && matches!(ch.kind, crate::model::diff::ChangeKind::State { .. })
            {
                app.marks.insert(s.key(), (Mark::Changed, until));
            }
        }
        for s in &c.delta.closed {
            app.first_seen.remove(&s.key());
            app.marks.remove(&s.key());
            app.ghosts.push(Ghost {
                socket: s.clone(),
                until,
            });
        }
        app.events
            .record(&c.delta, c.previous.as_deref(), &c.snapshot);
    }
    if c.rescoped {
        // Sockets that are out of scope now are not gone; forget them quietly.
        let keys: std::collections::HashSet<_> =
            c.snapshot.sockets.iter().map(|s| s.key()).collect();
        app.first_seen.retain(|k, _| keys.contains(k));
        app.ghosts.clear();
    }
    // A ghost that reappeared (same identity) is not closed any more.
    if !app.ghosts.is_empty() {
        let keys: std::collections::HashSet<_> = c
            .delta
            .opened
            .iter()
            .filter_map(|&i| c.snapshot.sockets.get(i))
            .map(|s| s.key())
            .collect();
        app.ghosts.retain(|g| !keys.contains(&g.socket.key()));
    }
    app.snap = c.snapshot;
    let leaking = app.close_waits.observe(&app.snap);
    app.flags = crate::diagnose::row_flags(&app.snap, &leaking);
    let effects = app.check_watch();
    app.rebuild();
    effects
}

fn tick(app: &mut App, now: std::time::SystemTime) {
    app.now = app.now.max(now);
    let before = (app.ghosts.len(), app.marks.len());
    app.ghosts.retain(|g| g.until > now);
    app.marks.retain(|_, (_, until)| *until > now);
    if app.status.as_ref().is_some_and(|s| s.until <= now) {
        app.status = None;
    }
    if app
        .watch
        .as_ref()
        .is_some_and(|w| w.until + Duration::from_secs(5) <= now)
    {
        // No snapshot came to judge it (paused?): say so instead of waiting forever.
        app.watch = None;
        app.say(
            "signal sent; no fresh snapshot to tell whether the port was freed",
            false,
        );
    }
    if before.0 != app.ghosts.len() {
        app.rebuild();
    }
}

fn key(app: &mut App, k: Key) -> Vec<Effect> {
    match app.mode {
        Mode::Filter => filter_key(app, k),
        Mode::Dialog => dialog_key(app, k),
        Mode::Help => {
            match app.settings.keymap.lookup(Mode::Help, k) {
                Some(Action::Close) => app.mode = Mode::Normal,
                _ => match k.code {
                    KeyCode::Down | KeyCode::Char('j') => app.help_scroll += 1,
                    KeyCode::Up => app.help_scroll = app.help_scroll.saturating_sub(1),
                    KeyCode::PageDown => app.help_scroll += 10,
                    KeyCode::PageUp => app.help_scroll = app.help_scroll.saturating_sub(10),
                    _ => {}
                },
            }
            vec![]
        }
        Mode::Normal => match app.settings.keymap.lookup(Mode::Normal, k) {
            Some(a) => action(app, a),
            None => vec![],
        },
    }
}

/// Runs a normal-mode action.
pub fn action(app: &mut App, a: Action) -> Vec<Effect> {
    let page = app.table_rows().max(1);
    match a {
        Action::Quit => {
            app.quit = true;
            return vec![Effect::Quit];
        }
        Action::Help => {
            app.mode = Mode::Help;
            app.help_scroll = 0;
        }
        Action::Down => app.select_index(app.cursor.saturating_add(1)),
        Action::Up => app.select_index(app.cursor.saturating_sub(1)),
        Action::PageDown => app.select_index(app.cursor.saturating_add(page)),
        Action::PageUp => app.select_index(app.cursor.saturating_sub(page)),
        Action::First => app.select_index(0),
        Action::Last => app.select_index(usize::MAX),
        Action::ViewSockets => set_view(app, View::Sockets),
        Action::ViewListeners => set_view(app, View::Listeners),
        Action::ViewPorts => set_view(app, View::Ports),
        Action::ViewProcesses => set_view(app, View::Processes),
        Action::ViewEvents => set_view(app, View::Events),
        Action::NextView => set_view(app, View::ALL[(app.view.index() + 1) % View::ALL.len()]),
        Action::PrevView => set_view(
            app,
            View::ALL[(app.view.index() + View::ALL.len() - 1) % View::ALL.len()],
        ),
        Action::SortNext => {
            let n = app.col_specs().len().max(1);
            let next = (app.sort_column() + 1) % n;
            sort_by(app, next, false);
        }
        Action::SortReverse => {
            let i = app.view.index();
            app.sorts[i].column = app.sort_column();
            app.sorts[i].descending = !app.sorts[i].descending;
            app.rebuild();
        }
        Action::Filter => {
            let text = app.filter.text.clone();
            app.filter.edit = Some(LineEdit {
                cursor: text.chars().count(),
                text,
            });
            app.filter.error = None;
            app.mode = Mode::Filter;
        }
        Action::ListenersOnly => set_view(
            app,
            if app.view == View::Listeners {
                View::Sockets
            } else {
                View::Listeners
            },
        ),
        Action::ToggleTimeWait => {
            app.hide_time_wait = !app.hide_time_wait;
            app.say(
                if app.hide_time_wait {
                    "TIME-WAIT hidden (t shows it)"
                } else {
                    "TIME-WAIT shown"
                },
                false,
            );
            app.rebuild();
        }
        Action::FilterPort | Action::FilterState | Action::FilterProcess => quick_filter(app, a),
        Action::Clear => {
            if app.detail {
                app.detail = false;
                app.scroll_to_cursor();
            } else {
                app.filter = super::Filter::default();
                app.hide_time_wait = false;
                app.rebuild();
            }
        }
        Action::Detail => {
            app.detail = !app.detail;
            app.scroll_to_cursor();
            return inspect_selected(app);
        }
        Action::Kill => return app.open_dialog(false),
        Action::KillHard => return app.open_dialog(true),
        Action::Pause => {
            app.paused = !app.paused;
            return vec![Effect::Pause(app.paused)];
        }
        Action::Slower | Action::Faster => {
            let steps = [250u64, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000];
            let ms = app.interval.as_millis() as u64;
            let next = if a == Action::Slower {
                steps.iter().copied().find(|s| *s > ms).unwrap_or(60_000)
            } else {
                steps.iter().rev().copied().find(|s| *s < ms).unwrap_or(250)
            };
            app.interval = Duration::from_millis(next).clamp(MIN_INTERVAL, MAX_INTERVAL);
            app.say(
                format!("refresh every {}", super::views::fmt_interval(app.interval)),
                false,
            );
            return vec![Effect::SetInterval(app.interval)];
        }
        // Other modes' actions do nothing here.
        Action::Apply
        | Action::Cancel
        | Action::Confirm
        | Action::Press
        | Action::Focus
        | Action::NextTarget
        | Action::Close => {}
    }
    if app.detail {
        inspect_selected(app)
    } else {
        vec![]
    }
}

fn inspect_selected(app: &App) -> Vec<Effect> {
    if !app.detail {
        return vec![];
    }
    let pid = app
        .selected_row()
        .and_then(|r| app.row_socket(r))
        .and_then(|s| s.owners.first().copied());
    match pid {
        Some(pid) if app.inspection.as_ref().is_none_or(|i| i.pid != pid) => {
            vec![Effect::Inspect(pid)]
        }
        _ => vec![],
    }
}

fn set_view(app: &mut App, v: View) {
    if app.view != v {
        app.view = v;
        app.cursor = 0;
        app.offset = 0;
        app.selected = None;
        app.rebuild();
    }
}

/// Sorts by column `col` of the current view; the same column again flips the direction.
pub fn sort_by(app: &mut App, col: usize, toggle: bool) {
    let i = app.view.index();
    if toggle && app.sort_column() == col {
        app.sorts[i].descending = !app.sorts[i].descending;
    } else {
        app.sorts[i] = super::Sort {
            column: col,
            descending: false,
        };
    }
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
        .filter
        .text
        .split_whitespace()
        .filter(|t| !t.starts_with(prefix))
        .collect();
    terms.push(&term);
    let text = terms.join(" ");
    set_filter(app, text);
}

fn set_filter(app: &mut App, text: String) {
    match query::parse(&text) {
        Ok(q) => {
            app.filter.query = q;
            app.filter.text = text;
            app.filter.error = None;
        }
        Err(e) => app.filter.error = Some(e),
    }
    app.rebuild();
}

fn filter_key(app: &mut App, k: Key) -> Vec<Effect> {
    match app.settings.keymap.lookup(Mode::Filter, k) {
        Some(Action::Apply) => {
            app.mode = Mode::Normal;
            app.filter.edit = None;
            if app.filter.error.is_some() {
                app.say("the filter has an error: kept the last valid one", true);
                app.filter.error = None;
            }
            return vec![];
        }
        Some(Action::Cancel) => {
            app.mode = Mode::Normal;
            app.filter.edit = None;
            app.filter.error = None;
            return vec![];
        }
        _ => {}
    }
    let Some(edit) = &mut app.filter.edit else {
        return vec![];
    };
    let len = edit.text.chars().count();
    let byte = |t: &str, c: usize| t.char_indices().nth(c).map_or(t.len(), |(b, _)| b);
    let changed = match k.code {
        KeyCode::Char('u') if k.ctrl => {
            edit.text.clear();
            edit.cursor = 0;
            true
        }
        KeyCode::Char('w') if k.ctrl => {
            let b = byte(&edit.text, edit.cursor);
            let start = edit.text[..b].trim_end().rfind(' ').map_or(0, |i| i + 1);
            edit.text.replace_range(start..b, "");
            edit.cursor = edit.text[..start].chars().count();
            true
        }
        KeyCode::Char(c) if !k.ctrl && !k.alt => {
            let b = byte(&edit.text, edit.cursor);
            edit.text.insert(b, c);
            edit.cursor += 1;
            true
        }
        KeyCode::Backspace if edit.cursor > 0 => {
            let b = byte(&edit.text, edit.cursor - 1);
            edit.text.remove(b);
            edit.cursor -= 1;
            true
        }
        KeyCode::Delete if edit.cursor < len => {
            let b = byte(&edit.text, edit.cursor);
            edit.text.remove(b);
            true
        }
        KeyCode::Left => {
            edit.cursor = edit.cursor.saturating_sub(1);
            false
        }
        KeyCode::Right => {
            edit.cursor = (edit.cursor + 1).min(len);
            false
        }
        KeyCode::Home => {
            edit.cursor = 0;
            false
        }
        KeyCode::End => {
            edit.cursor = len;
            false
        }
        _ => false,
    };
    if changed {
        let text = edit.text.clone();
        // Live filtering; an invalid query keeps the last valid filter and shows the error.
        set_filter(app, text);
    }
    vec![]
}

fn dialog_key(app: &mut App, k: Key) -> Vec<Effect> {
    let Some(a) = app.settings.keymap.lookup(Mode::Dialog, k) else {
        // Digits pick a signal directly.
        if let KeyCode::Char(c @ '1'..='9') = k.code
            && let Some(d) = &mut app.dialog
        {
            d.signal = Sig::nth_wrapping(c as usize - '1' as usize);
        }
        return vec![];
    };
    let Some(d) = &mut app.dialog else {
        app.mode = Mode::Normal;
        return vec![];
    };
    match a {
        Action::Confirm => return app.confirm_dialog(),
        Action::Press => {
            return match d.focus {
                Button::Send => app.confirm_dialog(),
                Button::Cancel => {
                    app.cancel_dialog();
                    vec![]
                }
            };
        }
        Action::Cancel => app.cancel_dialog(),
        Action::Down => d.signal = Sig::nth_wrapping(d.signal.index() + 1),
        Action::Up => d.signal = Sig::nth_wrapping(d.signal.index() + Sig::all().count() - 1),
        Action::Focus => {
            d.focus = if d.focus == Button::Cancel {
                Button::Send
            } else {
                Button::Cancel
            }
        }
        Action::NextTarget => {
            let count = d.targets.len();
            d.chosen = match d.chosen {
                Some(i) if i + 1 < count => Some(i + 1),
                Some(_) if count > 1 => None,
                _ => Some(0),
            };
        }
        _ => {}
    }
    vec![]
}

fn mouse(app: &mut App, m: MouseKind) -> Vec<Effect> {
    if app.mode != Mode::Normal {
        return vec![];
    }
    match m {
        MouseKind::ScrollDown => app.select_index(app.cursor.saturating_add(3)),
        MouseKind::ScrollUp => app.select_index(app.cursor.saturating_sub(3)),
        MouseKind::Click { column, row } => {
            let table = layout::table(app);
            let body = layout::table_body(app);
            if row == table.y && column < table.width {
                // Header click: sort by that column (again: reverse).
                let cols = layout_columns(&app.col_specs(), table.width);
                if let Some(i) = cols
                    .iter()
                    .position(|c| c.is_some_and(|(x, w)| column >= x && column < x + w))
                {
                    sort_by(app, i, true);
                }
            } else if row >= body.y && row < body.y + body.height {
                let index = app.offset + usize::from(row - body.y);
                if index < app.rows.len() {
                    app.select_index(index);
                    return inspect_selected(app);
                }
            }
        }
    }
    vec![]
}
