//! Drawing only: reads `&App`, writes a frame, changes nothing.

mod detail;
mod dialog;
mod header;
mod help;
mod items;
#[cfg(test)]
mod layout_tests;
mod menu;
mod table;
#[cfg(test)]
mod tests;
pub mod theme;
#[cfg(test)]
mod traffic_tests;

use crate::app::keymap::Mode;
use crate::app::{App, layout};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub use crate::app::text::{fit, wrap};

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width == 0 || area.height == 0 {
        return;
    }
    if layout::too_small(app) || area.width < layout::MIN_WIDTH || area.height < layout::MIN_HEIGHT
    {
        let msg = format!(
            "terminal too small: {}×{} (need {}×{})",
            area.width,
            area.height,
            layout::MIN_WIDTH,
            layout::MIN_HEIGHT
        );
        frame.render_widget(
            Paragraph::new(msg).wrap(ratatui::widgets::Wrap { trim: true }),
            area,
        );
        return;
    }
    let th = theme::Styles::new(&app.settings.theme);
    header::draw(
        frame,
        app,
        &th,
        Rect {
            x: 0,
            y: 0,
            width: area.width,
            height: layout::HEADER,
        },
    );
    table::draw(frame, app, &th, layout::table(app));
    if app.modes.detail.is_some() {
        detail::draw(frame, app, &th, layout::detail(app));
    }
    footer(frame, app, &th, layout::footer(app));
    match app.modes.mode {
        Mode::Dialog => dialog::draw(frame, app, &th, area),
        Mode::Help => help::draw(frame, app, &th, area),
        Mode::Sort => menu::draw(frame, app, &th, layout::table(app)),
        _ => {}
    }
}

fn footer(frame: &mut Frame, app: &App, th: &theme::Styles, area: Rect) {
    if let Some(edit) = &app.modes.filter.edit {
        filter_line(frame, app, edit, th, area);
        return;
    }
    if let Some(s) = &app.modes.status {
        let style = if s.error { th.error } else { th.status };
        let lines: Vec<Line<'_>> = wrap(&s.text, usize::from(area.width))
            .into_iter()
            .map(|l| Line::styled(l, style))
            .collect();
        frame.render_widget(Paragraph::new(lines), area);
        return;
    }
    use crate::app::keymap::Action as A;
    let hint = |action: A, label: &str| {
        app.settings
            .keymap
            .key_for(Mode::Normal, action)
            .map(|k| (k.to_string(), format!(" {label}  ")))
    };
    // `? help  q quit` always show, at the right; the rest fill what is left. When the
    // sort column has no room on screen, no arrow shows the order: the footer does.
    let sort = app.sort();
    let hidden = !app.visible_columns().contains(&sort.column);
    let sorted = hidden.then(|| {
        let arrow = if sort.descending { '▼' } else { '▲' };
        let title = sort.column.spec(app.table.view).title;
        (format!("sort: {title}{arrow}"), "  ".to_owned())
    });
    let right: Vec<(String, String)> = [sorted, hint(A::Help, "help"), hint(A::Quit, "quit")]
        .into_iter()
        .flatten()
        .collect();
    let width = |h: &[(String, String)]| -> usize {
        h.iter()
            .map(|(k, l)| k.chars().count() + l.chars().count())
            .sum()
    };
    let room = usize::from(area.width).saturating_sub(width(&right));
    let mut left: Vec<(String, String)> = Vec::new();
    for (action, label) in [
        (A::Filter, "filter"),
        (A::SortNext, "sort"),
        (A::Detail, "detail"),
        (A::Kill, "kill"),
        (A::ListenersOnly, "listeners"),
        (A::ToggleTimeWait, "TIME-WAIT"),
        (A::Pause, "pause"),
        (A::SortReverse, "reverse"),
    ] {
        let Some(h) = hint(action, label) else {
            continue;
        };
        if width(&left) + h.0.chars().count() + h.1.chars().count() > room {
            break;
        }
        left.push(h);
    }
    let pad = room.saturating_sub(width(&left));
    let mut spans = Vec::new();
    for (k, l) in left {
        spans.push(Span::styled(k, th.key));
        spans.push(Span::styled(l, th.dim));
    }
    spans.push(Span::raw(" ".repeat(pad)));
    for (k, l) in right {
        spans.push(Span::styled(k, th.key));
        spans.push(Span::styled(l, th.dim));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The `/` line while it is typed, and below it the error of a line that does not
/// parse, wrapped (the footer is as tall as it needs).
fn filter_line(
    frame: &mut Frame,
    app: &App,
    edit: &crate::app::LineEdit,
    th: &theme::Styles,
    area: Rect,
) {
    let mut lines = vec![Line::from(vec![
        Span::styled("/", th.key),
        Span::raw(edit.text.clone()),
        Span::styled("   Enter keep · Esc cancel", th.dim),
    ])];
    if let Some(e) = app.filter_error() {
        for l in wrap(&e, usize::from(area.width)) {
            lines.push(Line::styled(l, th.error));
        }
    }
    frame.render_widget(Paragraph::new(lines), area);
    let x = area.x + 1 + u16::try_from(edit.cursor).unwrap_or(u16::MAX);
    if x < area.x + area.width {
        frame.set_cursor_position((x, area.y));
    }
}
