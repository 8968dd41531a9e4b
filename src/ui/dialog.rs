//! The signal dialog: who will get what, with Cancel as the safe default.

use super::fit;
use super::theme::Styles;
use crate::app::App;
use crate::app::dialog::{Button, Dialog};
use crate::model::Sig;
use crate::model::socket::Endpoint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// Owners listed in full; more are summarised so the buttons always fit.
const SHOWN_TARGETS: usize = 4;

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    if let Some(c) = &app.modes.close {
        draw_close(frame, c, th, area);
        return;
    }
    let Some(d) = &app.modes.dialog else { return };
    let width = area.width.saturating_sub(4).min(100);
    let text_width = usize::from(width.saturating_sub(6));
    let mut lines = head(d, th, text_width);
    // Frame (2) + blank line and buttons (2): what is left for the menu.
    let room = usize::from(area.height)
        .saturating_sub(lines.len() + 4)
        .clamp(1, d.menu_len());
    lines.extend(menu_lines(d, th, room));
    let title = match &d.container {
        Some(_) => " send a signal, or stop the container ",
        None => " send a signal ",
    };
    let room = usize::from(width.saturating_sub(2));
    boxed(frame, area, width, th, title, lines, buttons(d, th, room));
}

/// The socket, the note, and each target with how the signal will act on it.
fn head<'a>(d: &Dialog, th: &Styles, text_width: usize) -> Vec<Line<'a>> {
    let mut lines = vec![Line::from(vec![
        Span::styled("socket ", th.header),
        Span::raw(format!(
            "{} {} {}",
            d.socket.proto.as_str(),
            d.socket.state,
            Endpoint(&d.socket.local())
        )),
    ])];
    if let Some(n) = &d.note {
        lines.push(Line::styled(fit(n, text_width + 4), th.error));
    }
    lines.push(Line::raw(""));
    // Keep the chosen target in view when there are many.
    let first = d.chosen.map_or(0, |c| c.saturating_sub(SHOWN_TARGETS - 1));
    for (i, t) in d.targets.iter().enumerate().skip(first).take(SHOWN_TARGETS) {
        let chosen = d.chosen.is_none_or(|c| c == i);
        let mark = if chosen { "▶ " } else { "  " };
        let pin = match &t.pinned {
            None => Span::styled(" (pinning…)", th.dim),
            Some(Ok(())) => Span::styled(" (pinned)", th.dim),
            Some(Err(e)) => Span::styled(format!(" ✗ {e}"), th.error),
        };
        lines.push(Line::from(vec![
            Span::styled(mark, th.key),
            Span::styled(format!("{} {}", t.pid, t.name), th.title),
            Span::raw(format!(
                "  user {} · state {} · started {}",
                t.user, t.state, t.started
            )),
            pin,
        ]));
        lines.push(Line::styled(
            format!("    {}", fit(&t.cmdline, text_width)),
            th.dim,
        ));
        if let Some(n) = t.note(d.sig()) {
            lines.push(Line::styled(
                format!("    {}", fit(&n, text_width)),
                th.error,
            ));
        }
        if let Some(layer) = &t.layer {
            // The command that stops it for good must be readable whole: wrap, don't cut.
            for l in super::wrap(layer, text_width).into_iter().take(3) {
                lines.push(Line::styled(format!("    {l}"), th.flag_warn));
            }
        }
    }
    if d.targets.len() > SHOWN_TARGETS {
        lines.push(Line::styled(
            format!("  … {} owners in all", d.targets.len()),
            th.dim,
        ));
    }
    if d.targets.len() > 1 {
        let which = if d.chosen.is_none() {
            "all of them"
        } else {
            "the marked one"
        };
        lines.push(Line::styled(
            format!("  a: one owner / all owners (now: {which})"),
            th.dim,
        ));
    }
    lines.push(Line::raw(""));
    lines
}

/// The menu — every signal, then "stop the container" when one is offered — `room` rows
/// of it, scrolled so the chosen row is in view.
fn menu_lines<'a>(d: &Dialog, th: &Styles, room: usize) -> Vec<Line<'a>> {
    let first = (d.menu_index() + 1).saturating_sub(room);
    let signals = Sig::all().map(|sig| (sig.to_string(), sig.meaning().to_owned()));
    let container = d.container.iter().map(|c| {
        (
            format!("Stop container {}", c.name),
            format!("through the {} API, as `docker stop` does", c.engine),
        )
    });
    signals
        .chain(container)
        .enumerate()
        .skip(first)
        .take(room)
        .map(|(i, (label, meaning))| {
            let selected = i == d.menu_index();
            let style = if selected {
                th.selected
            } else {
                Style::default()
            };
            let mark = if selected { '▶' } else { ' ' };
            let key = if i < Sig::all().count() {
                format!("{mark}{} ", i + 1)
            } else {
                format!("{mark}  ")
            };
            Line::from(vec![
                Span::styled(format!("{key}{label:<8}"), style),
                Span::styled(format!(" {meaning}"), if selected { style } else { th.dim }),
            ])
        })
        .collect()
}

/// Cancel and Send (or Stop container), in `room` columns.
fn buttons<'a>(d: &Dialog, th: &Styles, room: usize) -> Line<'a> {
    button_row(
        d.focus,
        &d.action_label(),
        th,
        &["y confirm", "Enter press", "Esc cancel", "↑↓ choose"],
        room,
    )
}

/// The close dialog: which sockets, whose, what the kernel will do, Cancel focused.
fn draw_close(frame: &mut Frame, c: &crate::app::close::CloseDialog, th: &Styles, area: Rect) {
    let width = area.width.saturating_sub(4).min(100);
    let text_width = usize::from(width.saturating_sub(4));
    let n = c.sockets.len();
    let mut lines = vec![Line::from(vec![
        Span::styled("close ", th.header),
        Span::raw(format!(
            "{n} socket{}{}",
            if n == 1 { "" } else { "s" },
            c.port.map(|p| format!(" on port {p}")).unwrap_or_default()
        )),
    ])];
    lines.push(Line::raw(""));
    let mut notes: Vec<Line> = Vec::new();
    for l in super::wrap(&c.note, text_width.saturating_sub(2)) {
        notes.push(Line::styled(format!("  {l}"), th.flag_warn));
    }
    for l in super::wrap(
        "only these exact sockets (tuple and cookie): one that changed is not touched",
        text_width.saturating_sub(2),
    ) {
        notes.push(Line::styled(format!("  {l}"), th.dim));
    }
    // Frame (2), head (2), the notes as wrapped, "… more" (1), blank and buttons (2):
    // the sockets get what is left, the notes are never cut.
    let room = usize::from(area.height)
        .saturating_sub(7 + notes.len())
        .max(1);
    let room = if c.sockets.len() > room {
        room.saturating_sub(1).max(1)
    } else {
        room
    };
    for (s, owners) in c.sockets.iter().zip(&c.owners).take(room) {
        let row = format!(
            "  {} {} {} → {}  {owners}",
            s.proto.as_str(),
            s.state,
            Endpoint(&s.local()),
            Endpoint(&s.remote())
        );
        lines.push(Line::raw(fit(&row, text_width)));
    }
    if n > room {
        lines.push(Line::styled(format!("  … {} more", n - room), th.dim));
    }
    lines.extend(notes);
    let close = format!("Close {n} socket{}", if n == 1 { "" } else { "s" });
    let buttons = button_row(
        c.focus,
        &close,
        th,
        &["y close", "Enter press", "Esc cancel"],
        usize::from(width.saturating_sub(2)),
    );
    boxed(frame, area, width, th, " close sockets ", lines, buttons);
}

/// A dialog box: centred, `width` wide, as tall as its lines (and the buttons, which get
/// the last row whatever happens to the rest).
fn boxed(
    frame: &mut Frame,
    area: Rect,
    width: u16,
    th: &Styles,
    title: &'static str,
    lines: Vec<Line<'_>>,
    buttons: Line<'_>,
) {
    let height = (lines.len() as u16 + 4).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(Span::styled(title, th.title));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    if inner.height == 0 {
        return;
    }
    let body = Rect {
        height: inner.height.saturating_sub(2),
        ..inner
    };
    frame.render_widget(Paragraph::new(lines), body);
    let last = Rect {
        y: inner.y + inner.height - 1,
        height: 1,
        ..inner
    };
    frame.render_widget(Paragraph::new(buttons), last);
}

/// Cancel and the action; the focused one is unmistakable: a marker and reverse video,
/// the other plain text. Then as many of the `hints` as fit whole in `room` columns.
fn button_row<'a>(
    focus: Button,
    action: &str,
    th: &Styles,
    hints: &[&str],
    room: usize,
) -> Line<'a> {
    let button = |label: &str, b: Button| {
        if focus == b {
            Span::styled(
                format!("▶ {label} ◀"),
                th.selected.add_modifier(Modifier::BOLD),
            )
        } else {
            Span::raw(format!("  {label}  "))
        }
    };
    let mut spans = vec![
        Span::raw("   "),
        button("Cancel", Button::Cancel),
        Span::raw("   "),
        button(action, Button::Send),
    ];
    let used: usize = spans.iter().map(Span::width).sum::<usize>() + 4;
    let mut hint = String::new();
    for h in hints {
        let sep = if hint.is_empty() { "" } else { " · " };
        if used + hint.chars().count() + sep.chars().count() + h.chars().count() > room {
            break;
        }
        hint.push_str(sep);
        hint.push_str(h);
    }
    spans.push(Span::styled(format!("    {hint}"), th.dim));
    Line::from(spans)
}
