//! The sort menu (F6): the columns on screen, the chosen one marked, the sorted one with
//! its arrow. It sits at the top left of the table, as htop's does beside its list.

use super::theme::Styles;
use crate::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let Some(at) = app.modes.sort_menu else {
        return;
    };
    let view = app.table.view;
    let sort = app.sort();
    let cols = app.visible_columns();
    let lines: Vec<Line<'_>> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let arrow = match (*c == sort.column, sort.descending) {
                (true, true) => " ▼",
                (true, false) => " ▲",
                _ => "",
            };
            let chosen = i == at;
            let style = if chosen {
                th.selected
            } else {
                Style::default()
            };
            Line::from(Span::styled(
                format!(
                    "{}{}{arrow}",
                    if chosen { "▶ " } else { "  " },
                    c.spec(view).title
                ),
                style,
            ))
        })
        .collect();
    let width = lines.iter().map(Line::width).max().unwrap_or(0).max(14) as u16 + 2;
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x,
        y: area.y,
        width: width.min(area.width),
        height,
    };
    // Keep the chosen entry in view when the table is short.
    let rows = usize::from(height.saturating_sub(2)).max(1);
    let scroll = u16::try_from((at + 1).saturating_sub(rows)).unwrap_or(0);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).scroll((scroll, 0)).block(
            Block::default()
                .borders(Borders::ALL)
                .title(Span::styled(" sort by ", th.title)),
        ),
        rect,
    );
}
