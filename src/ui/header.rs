//! The three header lines: title and status, counts, view tabs and filter.

use super::theme::Styles;
use crate::app::views::fmt_interval;
use crate::app::{App, View};
use crate::model::Scope;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let mut l1 = vec![
        Span::styled("sockscope", th.title),
        Span::styled(format!(" {} ", app.settings.host), th.header),
        Span::styled(format!("· every {} ", fmt_interval(app.interval)), th.dim),
    ];
    if app.paused {
        l1.push(Span::styled("[PAUSED] ", th.error));
    }
    if app.collect.snapshots > 0 {
        l1.push(Span::styled(
            format!(
                "· {} {:.1} ms ",
                app.snap.collector,
                app.collect.took.as_secs_f64() * 1000.0
            ),
            th.dim,
        ));
    } else {
        l1.push(Span::styled("· collecting… ", th.dim));
    }
    if app.collect.overruns > 0 {
        l1.push(Span::styled(
            format!(
                "· {} overruns (snapshot slower than interval) ",
                app.collect.overruns
            ),
            th.error,
        ));
    }
    if let Some(e) = &app.collect.error {
        l1.push(Span::styled(format!("· collect failed: {e}"), th.error));
    }

    let (states, protos) = app.counts();
    let mut l2 = Vec::new();
    if app.snap.scope == Scope::Listeners {
        l2.push(Span::styled("listeners only · ", th.dim));
    }
    for (s, n) in states {
        l2.push(Span::styled(format!("{s} "), th.header));
        l2.push(Span::raw(format!("{n}  ")));
    }
    l2.push(Span::styled("│ ", th.dim));
    for (p, n) in protos {
        l2.push(Span::styled(format!("{} ", p.as_str()), th.header));
        l2.push(Span::raw(format!("{n}  ")));
    }
    let hidden = app.snap.visibility.hidden_sockets;
    if hidden > 0 {
        l2.push(Span::styled(
            format!(
                "│ owners of {hidden} socket{} hidden: run as root to see them",
                if hidden == 1 { "" } else { "s" }
            ),
            th.error,
        ));
    }

    let mut l3 = Vec::new();
    for (i, v) in View::ALL.iter().enumerate() {
        let style = if *v == app.view {
            th.tab_active
        } else {
            th.header
        };
        // On narrow terminals only the active tab keeps its name.
        let label = if *v == app.view || app.width >= 110 {
            format!(" {} {} ", i + 1, v.title())
        } else {
            format!(" {} ", i + 1)
        };
        l3.push(Span::styled(label, style));
        l3.push(Span::raw(" "));
    }
    // Where the selection is, as in a pager: the table itself has no room for it.
    let position = if app.rows.is_empty() {
        "no rows".to_owned()
    } else {
        format!("row {}/{}", app.cursor + 1, app.rows.len())
    };
    l3.push(Span::styled(format!(" {position} "), th.dim));
    if app.view == View::Events {
        let dropped = app.events.dropped();
        let kept = format!(" log {}/{}", app.events.len(), app.events.capacity());
        l3.push(Span::styled(kept, th.dim));
        if dropped > 0 {
            l3.push(Span::styled(format!(" {dropped} dropped"), th.error));
        }
    }
    if !app.filter.text.is_empty() {
        l3.push(Span::styled(" filter: ", th.dim));
        l3.push(Span::styled(app.filter.text.clone(), th.key));
    }
    if app.hide_time_wait {
        l3.push(Span::styled("  TIME-WAIT hidden", th.dim));
    }
    let lines = vec![Line::from(l1), Line::from(l2), Line::from(l3)];
    frame.render_widget(Paragraph::new(lines), area);
}
