//! Drawing only: reads `&App`, writes a frame, changes nothing.

mod detail;
mod dialog;
mod header;
mod help;
mod table;
#[cfg(test)]
mod tests;
pub mod theme;

use crate::app::keymap::Mode;
use crate::app::{App, layout};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

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
    if app.modes.detail {
        detail::draw(frame, app, &th, layout::detail(app));
    }
    footer(frame, app, &th, layout::footer(app));
    match app.modes.mode {
        Mode::Dialog => dialog::draw(frame, app, &th, area),
        Mode::Help => help::draw(frame, app, &th, area),
        _ => {}
    }
}

fn footer(frame: &mut Frame, app: &App, th: &theme::Styles, area: Rect) {
    if let Some(edit) = &app.modes.filter.edit {
        let mut spans = vec![Span::styled("/", th.key), Span::raw(edit.text.clone())];
        if let Some(e) = &app.modes.filter.error {
            spans.push(Span::styled(
                format!("   ✗ {e} (showing the last valid filter)"),
                th.error,
            ));
        } else {
            spans.push(Span::styled("   Enter keep · Esc cancel", th.dim));
        }
        frame.render_widget(Paragraph::new(Line::from(spans)), area);
        let x = area.x + 1 + u16::try_from(edit.cursor).unwrap_or(u16::MAX);
        if x < area.x + area.width {
            frame.set_cursor_position((x, area.y));
        }
        return;
    }
    if let Some(s) = &app.modes.status {
        let style = if s.error { th.error } else { th.status };
        frame.render_widget(Paragraph::new(Line::styled(s.text.clone(), style)), area);
        return;
    }
    let hints: &[(crate::app::keymap::Action, &str)] = {
        use crate::app::keymap::Action as A;
        &[
            (A::Help, "help"),
            (A::Filter, "filter"),
            (A::SortNext, "sort"),
            (A::SortReverse, "reverse"),
            (A::Detail, "detail"),
            (A::Kill, "kill"),
            (A::ListenersOnly, "listeners"),
            (A::ToggleTimeWait, "TIME-WAIT"),
            (A::Pause, "pause"),
            (A::Quit, "quit"),
        ]
    };
    let mut spans = Vec::new();
    for (action, label) in hints {
        if let Some(k) = app.settings.keymap.key_for(Mode::Normal, *action) {
            spans.push(Span::styled(k.to_string(), th.key));
            spans.push(Span::styled(format!(" {label}  "), th.dim));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Cuts `s` to `width` columns in the middle, keeping its start and its end.
pub fn fit_middle(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_owned();
    }
    if width < 3 {
        return fit(s, width);
    }
    let head = (width - 1) / 2;
    let tail = width - 1 - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// Greedy word wrap at `room` columns; a word longer than a line is cut. At least one
/// (maybe empty) line.
pub fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let line = out.last_mut().map_or(0, |l| l.chars().count());
            let sep = usize::from(line > 0);
            if line + sep + word.len() <= room {
                if let Some(l) = out.last_mut() {
                    if sep == 1 {
                        l.push(' ');
                    }
                    l.extend(word.iter());
                }
                break;
            }
            if line > 0 {
                out.push(String::new());
                continue;
            }
            // A word longer than a whole line.
            let rest = word.split_off(room.min(word.len()));
            if let Some(l) = out.last_mut() {
                l.extend(word.iter());
            }
            out.push(String::new());
            word = rest;
            if word.is_empty() {
                out.pop();
                break;
            }
        }
    }
    out
}

/// Cuts `s` to `width` columns, marking the cut with `…`.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod fit_tests {
    use super::{fit, fit_middle};

    #[test]
    fn cuts_keep_the_start_or_both_ends() {
        assert_eq!(fit("python3 -m http.server 38080", 10), "python3 -…");
        assert_eq!(
            fit_middle("python3 -m http.server 38080", 15),
            "python3…r 38080"
        );
        assert_eq!(fit_middle("short", 15), "short");
        assert_eq!(fit_middle("abcdef", 2), "a…");
        assert_eq!(fit_middle("abcdef", 0), "");
        for w in 0..30 {
            assert!(
                fit_middle("python3 -m http.server 38080", w)
                    .chars()
                    .count()
                    <= w
            );
        }
    }
}
