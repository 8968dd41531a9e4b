//! The detail pane: the selected socket in full, its owners, and their other sockets.
//! Long values wrap under their value column, never back to column 0.

use super::theme::Styles;
use super::wrap;
use crate::app::App;
use crate::app::views::{clock_secs, short_duration};
use crate::diagnose::explain_process;
use crate::model::socket::Endpoint;
use crate::model::{Process, Socket, State};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use std::collections::BTreeMap;

/// Width of the key column, with its two spaces.
const KEY: usize = 12;

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(" detail (Enter/Esc closes) ", th.title));
    let width = usize::from(area.width);
    frame.render_widget(Paragraph::new(lines(app, th, width)).block(block), area);
}

/// Lines of `key  value`, the value wrapped at `width` with continuation lines under it.
struct Pane<'a> {
    th: &'a Styles,
    width: usize,
    out: Vec<Line<'a>>,
}

impl<'a> Pane<'a> {
    fn kv(&mut self, key: &str, value: impl Into<String>) {
        self.styled(key, self.th.header, value.into());
    }

    fn styled(&mut self, key: &str, key_style: Style, value: String) {
        let room = self.width.saturating_sub(KEY).max(8);
        for (i, part) in wrap(&value, room).into_iter().enumerate() {
            let label = if i == 0 {
                format!("{key:>10}  ")
            } else {
                " ".repeat(KEY)
            };
            self.out.push(Line::from(vec![
                Span::styled(label, key_style),
                Span::raw(part),
            ]));
        }
    }

    fn blank(&mut self) {
        self.out.push(Line::raw(""));
    }
}

pub fn lines<'a>(app: &'a App, th: &'a Styles, width: usize) -> Vec<Line<'a>> {
    let mut pane = Pane {
        th,
        width,
        out: Vec::new(),
    };
    let Some(row) = app.selected_row() else {
        return vec![Line::raw("nothing selected")];
    };
    let Some(s) = app.row_socket(row) else {
        return vec![Line::raw(
            "events have no detail: select a socket in another view",
        )];
    };
    socket(&mut pane, app, s, app.row_first_seen(row));
    for (flag, why) in app.flag_sentences(row) {
        pane.styled(flag.as_str(), th.error, why.to_owned());
    }
    if s.owners.is_empty() {
        pane.kv("owner", s.owner_status.explain());
    }
    for pid in &s.owners {
        match app.live.snap.processes.get(pid) {
            Some(p) => owner(&mut pane, app, s, p),
            None => pane.kv("owner", format!("{pid} (gone)")),
        }
    }
    pane.out
}

fn socket(pane: &mut Pane<'_>, app: &App, s: &Socket, first_seen: Option<std::time::SystemTime>) {
    pane.kv(
        "socket",
        format!(
            "{} {} {} → {}",
            s.proto.as_str(),
            s.state,
            Endpoint(&s.local),
            Endpoint(&s.remote)
        ),
    );
    pane.kv(
        "queues",
        if s.state == State::Listen {
            format!("accept queue {} of backlog {}", s.recv_q, s.send_q)
        } else {
            format!("recv-q {} bytes, send-q {} bytes", s.recv_q, s.send_q)
        },
    );
    let seen = first_seen.map_or("?".into(), |t| {
        short_duration(app.live.now.duration_since(t).unwrap_or_default().as_secs())
    });
    pane.kv(
        "kernel",
        format!(
            "inode {} · uid {} · timer {} · first seen {seen} ago",
            s.inode,
            s.uid,
            s.timer.map_or("none".into(), |t| t.to_string()),
        ),
    );
}

fn owner(pane: &mut Pane<'_>, app: &App, s: &Socket, p: &Process) {
    pane.blank();
    let user = p
        .user
        .clone()
        .unwrap_or_else(|| p.uid.map_or("?".into(), |u| u.to_string()));
    pane.kv(
        "owner",
        format!(
            "{} {} · user {user} · state {} · {} thread{} · started {}",
            p.pid,
            p.name,
            p.state,
            p.threads,
            if p.threads == 1 { "" } else { "s" },
            clock_secs(p.start_time)
        ),
    );
    if let Some(note) = explain_process(p) {
        pane.kv("note", note);
    }
    pane.kv("cmdline", p.command());
    if let Some(exe) = &p.exe {
        pane.kv("exe", exe.clone());
    }
    if let Some(c) = &p.container {
        pane.kv("container", c.describe());
    }
    let snap = &app.live.snap;
    if let Some(sup) = crate::diagnose::supervisor(p, snap, Some(s.local.port())) {
        pane.kv("behind", sup.sentence());
    }
    if let Some(link) = crate::diagnose::supervisor::proxy_link(p, snap, Some(s.local.port())) {
        pane.kv("forwards", format!(":{} → {link}", s.local.port()));
    }
    match app.modes.inspection.as_ref().filter(|i| i.pid == p.pid) {
        Some(i) => {
            if let Some(cwd) = &i.cwd {
                pane.kv("cwd", cwd.clone());
            }
            let chain: Vec<String> = i
                .parents
                .iter()
                .map(|(pid, name)| format!("{pid} {name}"))
                .collect();
            let chain = if chain.is_empty() {
                "none".into()
            } else {
                chain.join(" ← ")
            };
            pane.kv("parents", chain);
        }
        None => {
            if let Some(pp) = p.ppid {
                pane.kv("parent", pp.to_string());
            }
        }
    }
    let others = other_sockets(app, s, p);
    if !others.is_empty() {
        pane.kv("also", others.join(" · "));
    }
}

/// The owner's other sockets, grouped: connections to one peer, or on one of its
/// listening ports, count as one entry ("12× ESTAB on :3000", "3× ESTAB → 10.0.0.5:5432").
fn other_sockets(app: &App, s: &Socket, p: &Process) -> Vec<String> {
    let all: Vec<&Socket> = app
        .live
        .snap
        .sockets
        .iter()
        .filter(|o| o.owners.contains(&p.pid))
        .collect();
    let listening: Vec<u16> = all
        .iter()
        .filter(|o| o.is_listener())
        .map(|o| o.local.port())
        .collect();
    let mine: Vec<&&Socket> = all.iter().filter(|o| o.key() != s.key()).collect();
    let mut groups: BTreeMap<(State, String), usize> = BTreeMap::new();
    for o in &mine {
        let place = if o.is_listener() {
            format!("{} {}", o.proto.as_str(), Endpoint(&o.local))
        } else if listening.contains(&o.local.port()) {
            format!("on :{}", o.local.port())
        } else {
            format!("→ {}", Endpoint(&o.remote))
        };
        *groups.entry((o.state, place)).or_default() += 1;
    }
    groups
        .into_iter()
        .map(|((state, place), n)| {
            if n == 1 {
                format!("{state} {place}")
            } else {
                format!("{n}× {state} {place}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_at_words_and_cuts_long_ones() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), vec![""]);
        assert_eq!(wrap("a abcdef", 3), vec!["a", "abc", "def"]);
        for line in wrap(&"word ".repeat(50), 17) {
            assert!(line.chars().count() <= 17, "{line}");
        }
    }
}
