//! The table: its header line and only the rows that are on screen.

use super::fit;
use super::theme::Styles;
use crate::app::columns::{Col, EventCol, header};
use crate::app::keymap::{Action, Mode};
use crate::app::views::RowMark;
use crate::app::{App, RowId, View};
use crate::model::Flag;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    if area.height == 0 {
        return;
    }
    let cols: Vec<_> = app
        .column_layout(area.width)
        .into_iter()
        .filter_map(|(c, place)| place.map(|p| (c, c.spec(app.table.view), p)))
        .collect();
    let sort = app.sort();
    let buf = frame.buffer_mut();
    // Header line: the sorted column always shows its arrow.
    for (col, spec, (x, w)) in &cols {
        let sorted = *col == sort.column;
        let arrow = sorted.then_some(if sort.descending { '▼' } else { '▲' });
        let title = header(spec, *w, arrow);
        let style = if sorted {
            th.sorted_header
        } else {
            th.column_header
        };
        put(buf, area.x + x, area.y, *w, &title, spec.numeric, style);
    }
    if app.table.rows.is_empty() {
        let msg = if app.live.collect.snapshots == 0 {
            "collecting the first snapshot…".to_owned()
        } else if app.table.view == View::Events {
            events_empty(app)
        } else if app.table.hide_time_wait {
            // `t` may be what hides every row: say so, and how to show them.
            let key = app
                .settings
                .keymap
                .key_for(Mode::Normal, Action::ToggleTimeWait)
                .map_or_else(String::new, |k| format!("`{k}` shows them"));
            if app.modes.filter.text.is_empty() {
                format!("no rows: TIME-WAIT rows are hidden ({key})")
            } else {
                format!(
                    "no rows match `{}` with TIME-WAIT rows hidden ({key}; Esc clears the filter)",
                    app.modes.filter.text
                )
            }
        } else if !app.modes.filter.text.is_empty() {
            format!(
                "no rows match `{}` (Esc clears the filter)",
                app.modes.filter.text
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
    for (line, index) in (app.table.offset..app.table.rows.len())
        .take(usize::from(body))
        .enumerate()
    {
        let row = app.table.rows[index];
        let y = area.y + 1 + line as u16;
        let mut style = match app.row_mark(row) {
            Some(RowMark::New) => th.new,
            Some(RowMark::Changed) => th.changed,
            Some(RowMark::Closed) => th.closed,
            None => Style::default(),
        };
        if index == app.table.cursor {
            style = style.patch(th.selected);
            buf.set_string(area.x, y, " ".repeat(usize::from(area.width)), style);
        }
        if let Some(line) = app.folded_line(row) {
            // A burst of short connections: its time, then one sentence across the
            // other columns.
            let mut rest = None;
            for (col, spec, (x, w)) in &cols {
                if *col == Col::Event(EventCol::Time) {
                    put(
                        buf,
                        area.x + x,
                        y,
                        *w,
                        &app.cell(row, *col),
                        spec.numeric,
                        style,
                    );
                } else {
                    rest = rest.or(Some(*x));
                }
            }
            if let Some(x) = rest {
                put(buf, area.x + x, y, area.width - x, &line, false, style);
            }
            continue;
        }
        for (col, spec, (x, w)) in &cols {
            if col.is_flags() && !matches!(row, RowId::Ghost(_)) {
                flags(buf, area.x + x, y, *w, app.row_flags(row), th, style);
                continue;
            }
            let text = app.fitted_cell(row, *col, usize::from(*w));
            put(buf, area.x + x, y, *w, &text, spec.numeric, style);
        }
    }
}

/// A flags cell: each flag in its colour (red for a holder not doing its job, yellow for
/// one worth a look). Cut with `…` like any cell when it does not fit, then in the colour
/// of the worst flag.
fn flags(
    buf: &mut ratatui::buffer::Buffer,
    x: u16,
    y: u16,
    w: u16,
    flags: crate::model::Flags,
    th: &Styles,
    row: Style,
) {
    let colour = |f: Flag| match f {
        Flag::Stopped | Flag::Zombie | Flag::CloseWaitLeak => th.flag_bad,
        _ => th.flag_warn,
    };
    let text = flags.to_string();
    let line = if text.chars().count() <= usize::from(w) {
        let mut spans = Vec::new();
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(",", row));
            }
            spans.push(Span::styled(f.as_str(), row.patch(colour(f))));
        }
        Line::from(spans)
    } else {
        let worst = flags
            .iter()
            .find(|f| colour(*f) == th.flag_bad)
            .or_else(|| flags.iter().next());
        let style = worst.map_or(row, |f| row.patch(colour(f)));
        Line::from(Span::styled(fit(&text, usize::from(w)), style))
    };
    buf.set_line(x, y, &line, w);
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

/// Why the Events view shows no row: nothing happened yet, or nothing in the log matches
/// the filter (and older events, which might have, were dropped from the full log).
fn events_empty(app: &App) -> String {
    let log = &app.live.events;
    let dropped = log.dropped();
    let filter = &app.modes.filter.text;
    if filter.is_empty() && log.is_empty() && dropped == 0 {
        return "no events yet: changes to sockets show up here".to_owned();
    }
    let older = if dropped > 0 {
        format!("; {dropped} older events left the full log")
    } else {
        String::new()
    };
    if filter.is_empty() {
        format!("no events in the log{older}")
    } else {
        format!("no event in the log matches `{filter}`{older} (Esc clears the filter)")
    }
}
