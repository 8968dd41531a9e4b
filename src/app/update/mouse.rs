//! The mouse, in normal mode and with the detail pane focused: the wheel scrolls what
//! has the focus, a click on a row selects it (and gives the table the focus), on a
//! column header sorts by it (again: reverses), on a view tab switches to it, on the
//! detail pane gives it the focus.

use super::normal::{inspect_selected, set_view, sort_by};
use crate::app::keymap::Mode;
use crate::app::msg::MouseKind;
use crate::app::{App, Effect, layout};

pub fn mouse(app: &mut App, m: MouseKind) -> Vec<Effect> {
    let mode = app.modes.mode;
    if !matches!(mode, Mode::Normal | Mode::Detail) {
        return vec![];
    }
    let cursor = app.table.cursor;
    match m {
        MouseKind::ScrollDown | MouseKind::ScrollUp if mode == Mode::Detail => {
            super::pane::wheel(app, m == MouseKind::ScrollDown);
        }
        MouseKind::ScrollDown => app.select_index(cursor.saturating_add(3)),
        MouseKind::ScrollUp => app.select_index(cursor.saturating_sub(3)),
        MouseKind::Click { column, row } => return click(app, column, row),
    }
    vec![]
}

fn click(app: &mut App, column: u16, row: u16) -> Vec<Effect> {
    let table = layout::table(app);
    let body = layout::table_body(app);
    let pane = layout::detail(app);
    let tabs_line = layout::header(app).y + layout::HEADER - 1;
    if row == tabs_line {
        let hit = app
            .tabs()
            .into_iter()
            .find(|(_, label, x)| column >= *x && column < x + label.chars().count() as u16);
        if let Some((v, _, _)) = hit {
            set_view(app, v);
        }
    } else if row == table.y && column < table.width {
        let hit = app
            .column_layout(table.width)
            .into_iter()
            .find(|(_, place)| place.is_some_and(|(x, w)| column >= x && column < x + w));
        if let Some((col, _)) = hit {
            sort_by(app, col, true);
        }
    } else if row >= body.y && row < body.y + body.height {
        let index = app.table.offset + usize::from(row - body.y);
        if index < app.table.rows.len() {
            if let Some(p) = &mut app.modes.detail {
                p.focus = false;
                app.modes.mode = Mode::Normal;
            }
            app.select_index(index);
            return inspect_selected(app);
        }
    } else if pane.height > 0 && row >= pane.y && row < pane.y + pane.height {
        super::pane::focus(app);
    }
    vec![]
}
