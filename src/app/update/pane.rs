//! Detail mode: the detail pane has the focus. The arrows, PgUp/PgDn, Home/End and the
//! wheel scroll it; Tab gives the focus back to the table, which the pane then follows;
//! Enter or Esc closes it. Keys it does not bind act as in normal mode.

use super::normal::close_detail;
use crate::app::keymap::{Action, Mode};
use crate::app::{App, Effect};

/// Runs a detail-mode action; `None` when the pane does not bind it.
pub fn action(app: &mut App, a: Action) -> Option<Vec<Effect>> {
    let body = app.detail_body();
    let page = body.saturating_sub(1).max(1) as isize;
    let Some(pane) = &mut app.modes.detail else {
        app.modes.mode = Mode::Normal;
        return None;
    };
    match a {
        Action::Down => pane.scroll_by(1, body),
        Action::Up => pane.scroll_by(-1, body),
        Action::PageDown => pane.scroll_by(page, body),
        Action::PageUp => pane.scroll_by(-page, body),
        Action::First => pane.scroll = 0,
        Action::Last => pane.scroll_to_end(body),
        Action::FocusTable => {
            pane.focus = false;
            app.modes.mode = Mode::Normal;
        }
        Action::Close => close_detail(app),
        _ => return None,
    }
    Some(vec![])
}

/// The wheel over the focused pane: three lines a notch.
pub fn wheel(app: &mut App, down: bool) {
    let body = app.detail_body();
    if let Some(pane) = &mut app.modes.detail {
        pane.scroll_by(if down { 3 } else { -3 }, body);
    }
}

/// Gives the open pane the focus (a click on it).
pub fn focus(app: &mut App) {
    if let Some(pane) = &mut app.modes.detail {
        pane.focus = true;
        app.modes.mode = Mode::Detail;
    }
}
