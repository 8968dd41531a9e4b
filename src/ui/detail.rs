//! The detail pane: draws what `app::detail` built, from its scroll position, with "↑
//! more" in its title line and "more ↓" on its last line when there is more.

use super::theme::Styles;
use crate::app::App;
use crate::app::detail::{LABEL, Tone};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let Some(pane) = &app.modes.detail else {
        return;
    };
    let body = usize::from(area.height.saturating_sub(1));
    // The last row says what is left below, when anything is.
    let shown = if pane.below(body) > 0 {
        body.saturating_sub(1)
    } else {
        body
    };
    let below = pane.lines.len().saturating_sub(pane.scroll + shown);
    let title = if pane.focus {
        " detail · ↑↓ PgUp PgDn scroll · Tab table · Esc closes "
    } else {
        " detail · Enter focus · Esc closes "
    };
    let title_style = if pane.focus { th.tab_active } else { th.title };
    let mut block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(title, title_style));
    if pane.scroll > 0 {
        block = block.title(
            Line::from(Span::styled(format!(" ↑ {} more ", pane.scroll), th.key)).right_aligned(),
        );
    }
    let mut lines: Vec<Line<'_>> = pane
        .lines
        .iter()
        .skip(pane.scroll)
        .take(shown)
        .map(|l| {
            let label_style = match l.tone {
                Tone::Bad => th.error,
                Tone::Warn => th.flag_warn,
                Tone::Act => th.key,
                Tone::Plain => th.header,
            };
            let text_style = match l.tone {
                Tone::Bad => th.flag_bad,
                Tone::Warn => th.flag_warn,
                Tone::Act | Tone::Plain => Style::default(),
            };
            Line::from(vec![
                Span::styled(format!("{:>w$}  ", l.label, w = LABEL - 2), label_style),
                Span::styled(l.text.clone(), text_style),
            ])
        })
        .collect();
    if below > 0 {
        let marker = format!(
            " more ↓ ({below} line{}) ",
            if below == 1 { "" } else { "s" }
        );
        let pad = usize::from(area.width).saturating_sub(marker.chars().count());
        lines.push(Line::from(vec![
            Span::styled("─".repeat(pad), th.dim),
            Span::styled(marker, th.key),
        ]));
    }
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
