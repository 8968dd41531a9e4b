//! Filter mode: editing the `/` line. The table follows as you type, but only lines that
//! parse whole are applied; Enter keeps a valid line (an invalid one stays open with its
//! error); Esc puts back the filter from before `/`.

use crate::app::keymap::Action;
use crate::app::{App, Effect};
use crate::query;

pub fn action(app: &mut App, a: Action) -> Vec<Effect> {
    match a {
        Action::Apply => apply(app),
        Action::Cancel => {
            let f = &mut app.modes.filter;
            if let Some((text, q)) = f.before.take() {
                f.text = text;
                f.query = q;
            }
            f.edit = None;
            f.error = None;
            app.modes.back_to_rest();
            app.rebuild();
        }
        a => edit(app, a),
    }
    vec![]
}

fn apply(app: &mut App) {
    let f = &mut app.modes.filter;
    let Some(line) = f.edit.as_ref().map(|e| e.text.clone()) else {
        app.modes.back_to_rest();
        return;
    };
    match query::parse(&line) {
        Ok(q) => {
            f.text = line;
            f.query = q;
            f.edit = None;
            f.error = None;
            f.before = None;
            app.modes.back_to_rest();
            app.rebuild();
        }
        // Never applies a prefix of what was typed: the line stays open with its error.
        Err(e) => f.error = Some(e),
    }
}

/// Types a character at the cursor.
pub fn insert(app: &mut App, c: char) {
    let Some(edit) = &mut app.modes.filter.edit else {
        return;
    };
    let b = byte(&edit.text, edit.cursor);
    edit.text.insert(b, c);
    edit.cursor += 1;
    let text = edit.text.clone();
    live(app, text);
}

/// The byte offset of the `c`-th character.
fn byte(t: &str, c: usize) -> usize {
    t.char_indices().nth(c).map_or(t.len(), |(b, _)| b)
}

fn edit(app: &mut App, a: Action) {
    let Some(edit) = &mut app.modes.filter.edit else {
        return;
    };
    let len = edit.text.chars().count();
    let changed = match a {
        Action::ClearLine => {
            edit.text.clear();
            edit.cursor = 0;
            true
        }
        Action::DeleteWord => {
            let b = byte(&edit.text, edit.cursor);
            let start = edit.text[..b].trim_end().rfind(' ').map_or(0, |i| i + 1);
            edit.text.replace_range(start..b, "");
            edit.cursor = edit.text[..start].chars().count();
            true
        }
        Action::DeleteBack if edit.cursor > 0 => {
            let b = byte(&edit.text, edit.cursor - 1);
            edit.text.remove(b);
            edit.cursor -= 1;
            true
        }
        Action::DeleteForward if edit.cursor < len => {
            let b = byte(&edit.text, edit.cursor);
            edit.text.remove(b);
            true
        }
        Action::CursorLeft => {
            edit.cursor = edit.cursor.saturating_sub(1);
            false
        }
        Action::CursorRight => {
            edit.cursor = (edit.cursor + 1).min(len);
            false
        }
        Action::LineStart => {
            edit.cursor = 0;
            false
        }
        Action::LineEnd => {
            edit.cursor = len;
            false
        }
        _ => false,
    };
    if changed {
        let text = edit.text.clone();
        live(app, text);
    }
}

/// Live filtering: a line that parses whole is applied at once; one that does not shows
/// its error, and the table goes back to the filter from before the edit, so that no
/// prefix of what is being typed stays applied (`flag:orphan port` on the way to
/// `flag:orphan port:abc`).
fn live(app: &mut App, text: String) {
    let f = &mut app.modes.filter;
    match query::parse(&text) {
        Ok(q) => {
            f.query = q;
            f.text = text;
            f.error = None;
        }
        Err(e) => {
            f.error = Some(e);
            if let Some((text, q)) = &f.before {
                f.text = text.clone();
                f.query = q.clone();
            }
        }
    }
    app.rebuild();
}

/// Sets the filter outright (quick filters): applied when it parses.
pub fn set_filter(app: &mut App, text: String) {
    live(app, text);
}
