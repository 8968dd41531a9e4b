//! Sort mode: the F6 menu of the columns on screen, as htop's. Enter sorts by the
//! chosen one (the sorted one again: reverses); Esc closes it.

use super::normal::sort_by;
use crate::app::keymap::Action;
use crate::app::{App, Effect};

pub fn action(app: &mut App, a: Action) -> Vec<Effect> {
    let cols = app.visible_columns();
    let n = cols.len().max(1);
    let Some(at) = app.modes.sort_menu else {
        app.modes.back_to_rest();
        return vec![];
    };
    match a {
        Action::Down => app.modes.sort_menu = Some((at + 1) % n),
        Action::Up => app.modes.sort_menu = Some((at + n - 1) % n),
        Action::First => app.modes.sort_menu = Some(0),
        Action::Last => app.modes.sort_menu = Some(n - 1),
        Action::Apply => {
            app.modes.sort_menu = None;
            app.modes.back_to_rest();
            if let Some(c) = cols.get(at) {
                sort_by(app, *c, true);
            }
        }
        Action::Cancel => {
            app.modes.sort_menu = None;
            app.modes.back_to_rest();
        }
        _ => {}
    }
    vec![]
}
