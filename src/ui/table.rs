//! The table: its header line and only the rows that are on screen.

use super::fit;
use super::theme::Styles;
use crate::app::views::{RowMark, layout_columns};
use crate::app::{App, View};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    if area.height == 0 {
        return;
    }
    let specs = app.col_specs();
    let cols = layout_columns(&specs, area.width);
    let sort_col = app.sort_column();
    let desc = app.sort().descending;
    let buf = frame.buffer_mut();
    // Header line.
    for (i, (x, w)) in cols
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.map(|c| (i, c)))
    {
        let mut title = specs[i].title.to_owned();
        if i == sort_col {
            title.push(if desc { '▼' } else { '▲' });
        }
        let style = if i == sort_col {
            th.sorted_header
        } else {
            th.column_header
        };
        put(buf, area.x + x, area.y, w, &title, specs[i].right, style);
    }
    if app.rows.is_empty() {
        let msg = if app.collect.snapshots == 0 {
            "collecting the first snapshot…".to_owned()
        } else if app.view == View::Events {
            "no events yet: changes to sockets show up here".to_owned()
        } else if !app.filter.text.is_empty() {
            format!(
                "no rows match `{}` (Esc clears the filter)",
                app.filter.text
            )
        } else {
            "no rows".to_owned()
        };
        if area.height > 1 {
            buf.set_string(
                area.x + 1,
                area.y + 1,
                fit(&msg, usize::from(area.width.saturating_sub(1))),
                th.dim,
            );
        }
        return;
    }
    // Only the rows on screen are formatted.
    let body = area.height.saturating_sub(1);
    for (line, index) in (app.offset..app.rows.len())
        .take(usize::from(body))
        .enumerate()
    {
        let row = app.rows[index];
        let y = area.y + 1 + line as u16;
        let mut style = match app.row_mark(row) {
            Some(RowMark::New) => th.new,
            Some(RowMark::Changed) => th.changed,
            Some(RowMark::Closed) => th.closed,
            None => Style::default(),
        };
        if index == app.cursor {
            style = style.patch(th.selected);
            buf.set_string(area.x, y, " ".repeat(usize::from(area.width)), style);
        }
        for (i, (x, w)) in cols
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.map(|c| (i, c)))
        {
            let text = app.cell(row, i);
            put(buf, area.x + x, y, w, &text, specs[i].right, style);
        }
    }
}

fn put(
    buf: &mut ratatui::buffer::Buffer,
    x: u16,
    y: u16,
    w: u16,
    text: &str,
    right: bool,
    style: Style,
) {
    let t = fit(text, usize::from(w));
    let len = t.chars().count() as u16;
    let x = if right { x + w.saturating_sub(len) } else { x };
    buf.set_line(x, y, &Line::from(Span::styled(t, style)), w);
}
