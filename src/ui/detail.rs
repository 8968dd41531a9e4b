//! The detail pane: the selected socket in full, its owners, and their other sockets.

use super::theme::Styles;
use crate::app::App;
use crate::app::views::{clock_secs, short_duration};
use crate::model::socket::Endpoint;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(Span::styled(" detail (Enter/Esc closes) ", th.title));
    let lines = lines(app, th);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn kv<'a>(th: &Styles, k: &'a str, v: String) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{k:>10}  "), th.header),
        Span::raw(v),
    ])
}

pub fn lines<'a>(app: &'a App, th: &Styles) -> Vec<Line<'a>> {
    let Some(row) = app.selected_row() else {
        return vec![Line::raw("nothing selected")];
    };
    let Some(s) = app.row_socket(row) else {
        return vec![Line::raw(
            "events have no detail: select a socket in another view",
        )];
    };
    let mut out = vec![
        kv(
            th,
            "socket",
            format!(
                "{} {} {} → {}",
                s.proto.as_str(),
                s.state,
                Endpoint(&s.local),
                Endpoint(&s.remote)
            ),
        ),
        kv(
            th,
            "queues",
            if s.state == crate::model::State::Listen {
                format!("accept queue {} of backlog {}", s.recv_q, s.send_q)
            } else {
                format!("recv-q {} bytes, send-q {} bytes", s.recv_q, s.send_q)
            },
        ),
        kv(
            th,
            "kernel",
            format!(
                "inode {} · uid {} · timer {} · first seen {} ago",
                s.inode,
                s.uid,
                s.timer.map_or("none".into(), |t| t.to_string()),
                app.live
                    .first_seen
                    .get(&s.key())
                    .map_or("?".into(), |t| short_duration(
                        app.live
                            .now
                            .duration_since(*t)
                            .unwrap_or_default()
                            .as_secs()
                    ))
            ),
        ),
    ];
    for (flag, why) in app.flag_sentences(row) {
        out.push(Line::from(vec![
            Span::styled(format!("{:>10}  ", flag.as_str()), th.error),
            Span::raw(why.replace("PORT", &s.local.port().to_string())),
        ]));
    }
    if s.owners.is_empty() {
        out.push(kv(
            th,
            "owner",
            match s.owner_status {
                crate::model::OwnerStatus::Kernel => "none: the kernel holds it (TIME-WAIT, SYN-RECV or an orphaned FIN-WAIT); it goes away by itself".into(),
                crate::model::OwnerStatus::Hidden => "hidden: its process is not readable for you; run sockscope as root to see it".into(),
                _ => "unknown: no visible process holds it (another pid namespace?)".into(),
            },
        ));
    }
    for pid in &s.owners {
        let Some(p) = app.live.snap.processes.get(pid) else {
            out.push(kv(th, "owner", format!("{pid} (gone)")));
            continue;
        };
        out.push(Line::raw(""));
        out.push(kv(
            th,
            "owner",
            format!(
                "{} {} · user {} · state {} · {} thread{} · started {}",
                p.pid,
                p.name,
                p.user
                    .clone()
                    .unwrap_or_else(|| p.uid.map_or("?".into(), |u| u.to_string())),
                p.state,
                p.threads,
                if p.threads == 1 { "" } else { "s" },
                clock_secs(p.start_time)
            ),
        ));
        out.push(kv(th, "cmdline", p.command()));
        if let Some(exe) = &p.exe {
            out.push(kv(th, "exe", exe.clone()));
        }
        if let Some(c) = &p.container {
            out.push(kv(th, "container", c.clone()));
        }
        if let Some(i) = app.modes.inspection.as_ref().filter(|i| i.pid == p.pid) {
            if let Some(cwd) = &i.cwd {
                out.push(kv(th, "cwd", cwd.clone()));
            }
            let chain: Vec<String> = i
                .parents
                .iter()
                .map(|(pid, name)| format!("{pid} {name}"))
                .collect();
            out.push(kv(
                th,
                "parents",
                if chain.is_empty() {
                    "none".into()
                } else {
                    chain.join(" ← ")
                },
            ));
        } else if let Some(pp) = p.ppid {
            out.push(kv(th, "parent", pp.to_string()));
        }
        let others: Vec<String> = app
            .live
            .snap
            .sockets
            .iter()
            .filter(|o| o.owners.contains(pid) && o.key() != s.key())
            .take(8)
            .map(|o| format!("{} {} {}", o.proto.as_str(), o.state, Endpoint(&o.local)))
            .collect();
        let total = app
            .live
            .snap
            .sockets
            .iter()
            .filter(|o| o.owners.contains(pid))
            .count()
            .saturating_sub(1);
        if total > 0 {
            let more = if total > others.len() {
                format!(" … and {} more", total - others.len())
            } else {
                String::new()
            };
            out.push(kv(th, "also", format!("{}{more}", others.join(" · "))));
        }
    }
    out
}
