//! The help overlay: draws what `app::help` built, from its scroll position.

use super::theme::Styles;
use crate::app::App;
use crate::app::help::{Role, geometry};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let (width, _, _) = geometry(area.width, area.height);
    let lines: Vec<Line<'_>> = app
        .help_lines()
        .into_iter()
        .map(|l| {
            Line::from(
                l.into_iter()
                    .map(|(text, role)| Span::styled(text, style(th, role)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + 1,
        width,
        height: area.height.saturating_sub(2),
    };
    let scroll = app.modes.help_scroll.min(app.help_max_scroll());
    let scroll = u16::try_from(scroll).unwrap_or(u16::MAX);
    frame.render_widget(Clear, rect);
    let title = Span::styled(" help · ↑↓ PgUp PgDn scroll · Esc closes ", th.title);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

fn style(th: &Styles, role: Role) -> Style {
    match role {
        Role::Title => th.title,
        Role::Key => th.key,
        Role::Text => Style::default(),
        Role::Dim => th.dim,
        Role::New => th.new,
        Role::Changed => th.changed,
        Role::Closed => th.closed,
        Role::FlagBad => th.flag_bad,
        Role::FlagWarn => th.flag_warn,
    }
}
