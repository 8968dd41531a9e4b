//! The help overlay, generated from the keymap so it always tells the truth.

use super::theme::Styles;
use crate::app::App;
use crate::app::keymap::Mode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let mut lines = Vec::new();
    for mode in Mode::all() {
        let title = match mode {
            Mode::Normal => "Keys",
            Mode::Filter => "While typing a filter (/)",
            Mode::Dialog => "In the signal dialog (k)",
            Mode::Help => "In this help",
        };
        lines.push(Line::styled(title, th.title));
        // One line per action, all its keys together.
        let mut seen: Vec<(String, String)> = Vec::new();
        for b in app.settings.keymap.mode(mode) {
            if let Some(entry) = seen.iter_mut().find(|(_, d)| *d == b.desc) {
                entry.0.push_str(&format!(" {}", b.key));
            } else {
                seen.push((b.key.to_string(), b.desc.clone()));
            }
        }
        for (keys, desc) in seen {
            lines.push(Line::from(vec![
                Span::styled(format!("  {keys:<14}"), th.key),
                Span::raw(desc),
            ]));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled("Mouse", th.title));
    for (what, does) in [
        ("wheel", "scroll"),
        (
            "click a row",
            "select it (and show it in the detail pane when open)",
        ),
        ("click a header", "sort by that column; again: reverse"),
        ("click a tab", "switch to that view"),
    ] {
        lines.push(Line::from(vec![
            Span::styled(format!("  {what:<14}"), th.key),
            Span::raw(does),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Filter terms (all must match)", th.title));
    for t in [
        ":3000 port:80,443 port:3000-3999 lport:… rport:…",
        "addr:10.0.0.5 addr:[::1]:8080 laddr:… raddr:… (whole addresses)",
        "state:listen,tw proto:udp tcp udp v4 v6",
        "pid:123 proc:node user:alice",
        "flag:stopped flag:orphan flag:zombie flag:backlog flag:close-wait-leak",
        "flag:docker-proxy flag:hidden   !term negates   bare words match names and addresses",
    ] {
        lines.push(Line::styled(format!("  {t}"), th.dim));
    }
    let width = area.width.saturating_sub(4).min(90);
    let height = area.height.saturating_sub(2);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + 1,
        width,
        height,
    };
    let inner = height.saturating_sub(2) as usize;
    let max_scroll = lines.len().saturating_sub(inner);
    let scroll = app.modes.help_scroll.min(max_scroll) as u16;
    frame.render_widget(Clear, rect);
    let title = Span::styled(" help · ↑↓ scroll · Esc closes ", th.title);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}
