//! The help overlay, generated from the keymap so it always tells the truth: every key of
//! every mode, the mouse, what the colours mean, and the filter terms, each wrapped to
//! the overlay's width.

use super::theme::Styles;
use super::wrap;
use crate::app::App;
use crate::app::keymap::Mode;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// The filter terms, one group a line (wrapped when narrow).
const TERMS: [&str; 7] = [
    ":3000 port:80,443 port:3000-3999 lport:… rport:…",
    "addr:10.0.0.5 addr:[::1]:8080 laddr:… raddr:… (whole addresses)",
    "state:listen,tw proto:udp tcp udp v4 v6 netns:NAME",
    "pid:123 proc:node user:alice inode:81234",
    "flag:stopped flag:orphan flag:zombie flag:backlog flag:close-wait-leak flag:docker-proxy flag:hidden",
    "!term negates a term",
    "bare words match process names, command lines and addresses",
];

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let width = area.width.saturating_sub(4).min(100);
    let inner = usize::from(width.saturating_sub(2));
    let lines = lines(app, th, inner);
    let height = area.height.saturating_sub(2);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + 1,
        width,
        height,
    };
    let rows = usize::from(height.saturating_sub(2));
    let max_scroll = lines.len().saturating_sub(rows);
    let scroll = u16::try_from(app.modes.help_scroll.min(max_scroll)).unwrap_or(u16::MAX);
    frame.render_widget(Clear, rect);
    let title = Span::styled(" help · ↑↓ PgUp PgDn scroll · Esc closes ", th.title);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll, 0))
            .block(Block::default().borders(Borders::ALL).title(title)),
        rect,
    );
}

/// Every line of the help, `inner` columns wide.
pub fn lines<'a>(app: &App, th: &Styles, inner: usize) -> Vec<Line<'a>> {
    let mut sections: Vec<(&str, Vec<(String, String)>)> = Vec::new();
    for mode in Mode::all() {
        // One line per description, all its keys together.
        let mut seen: Vec<(String, String)> = Vec::new();
        for b in app.settings.keymap.mode(mode) {
            if let Some(entry) = seen.iter_mut().find(|(_, d)| *d == b.desc) {
                entry.0.push_str(&format!(" {}", b.key));
            } else {
                seen.push((b.key.to_string(), b.desc.clone()));
            }
        }
        sections.push((mode.title(), seen));
    }
    let mouse = [
        (
            "wheel",
            "scrolls the table, or the detail pane when it has the focus",
        ),
        (
            "click a row",
            "selects it (the detail pane, when open, shows it)",
        ),
        ("click a header", "sorts by that column; again: reverses"),
        ("click a tab", "switches to that view"),
        ("click the pane", "gives the detail pane the focus"),
    ];
    sections.push((
        "Mouse",
        mouse
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
    ));
    // The key column: as wide as the widest keys, up to 14 (wider keys take a line of
    // their own), and always two spaces before the description.
    let keys = sections
        .iter()
        .flat_map(|(_, s)| s.iter().map(|(k, _)| k.chars().count()))
        .max()
        .unwrap_or(0)
        .min(14);
    let mut out = Vec::new();
    for (title, entries) in sections {
        out.push(Line::styled(title.to_owned(), th.title));
        for (k, desc) in entries {
            entry(&mut out, th, &k, &desc, keys, inner);
        }
        out.push(Line::raw(""));
    }
    out.extend(colours(th, keys, inner));
    out.push(Line::raw(""));
    out.push(Line::styled("Filter terms (all must match)", th.title));
    for t in TERMS {
        for l in wrap(t, inner.saturating_sub(2)) {
            out.push(Line::styled(format!("  {l}"), th.dim));
        }
    }
    out
}

/// `  keys  description`, the description wrapped under itself; keys wider than the
/// column take a line of their own.
fn entry<'a>(out: &mut Vec<Line<'a>>, th: &Styles, k: &str, desc: &str, keys: usize, inner: usize) {
    let room = inner.saturating_sub(keys + 4).max(10);
    let indent = " ".repeat(keys + 4);
    let mut parts = wrap(desc, room).into_iter();
    if k.chars().count() > keys {
        out.push(Line::styled(format!("  {k}"), th.key));
    } else if let Some(first) = parts.next() {
        out.push(Line::from(vec![
            Span::styled(format!("  {k:<keys$}  "), th.key),
            Span::raw(first),
        ]));
    }
    for p in parts {
        out.push(Line::raw(format!("{indent}{p}")));
    }
}

/// What the colours of rows and flags mean, each said in its own colour.
fn colours<'a>(th: &Styles, keys: usize, inner: usize) -> Vec<Line<'a>> {
    let legend: [(&str, Style, &str); 5] = [
        ("green", th.new, "a new socket (for a few seconds)"),
        (
            "yellow",
            th.changed,
            "its state changed (for a few seconds)",
        ),
        (
            "red, struck",
            th.closed,
            "closed: stays a few seconds (g hides them)",
        ),
        (
            "red flag",
            th.flag_bad,
            "STOPPED, ZOMBIE, CLOSE-WAIT-LEAK: the holder is not doing its job",
        ),
        (
            "yellow flag",
            th.flag_warn,
            "ORPHAN, BACKLOG, HIDDEN, DOCKER-PROXY: worth a look",
        ),
    ];
    let mut out = vec![Line::styled("Colours", th.title)];
    let room = inner.saturating_sub(keys + 4).max(10);
    for (name, style, means) in legend {
        let mut parts = wrap(means, room).into_iter();
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(format!("{name:<keys$}"), style),
            Span::raw("  "),
            Span::raw(parts.next().unwrap_or_default()),
        ]));
        for p in parts {
            out.push(Line::raw(format!("{}{p}", " ".repeat(keys + 4))));
        }
    }
    out
}
