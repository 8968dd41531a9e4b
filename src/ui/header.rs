//! The three header lines: title and status, counts, view tabs and filter.

use super::theme::Styles;
use crate::app::views::fmt_interval;
use crate::app::{App, View};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let lines = vec![status(app, th), counts(app, th), tabs(app, th)];
    frame.render_widget(Paragraph::new(lines), area);
}

/// Line 1: host, interval, pause, the collector's health.
fn status<'a>(app: &App, th: &Styles) -> Line<'a> {
    let mut l1 = vec![
        Span::styled("sockscope", th.title),
        Span::styled(format!(" {} ", app.settings.host), th.header),
    ];
    // First after the host: at 80 columns the rest of the line may be cut.
    if let Some(lost) = app.live.lost_notice() {
        l1.push(Span::styled(format!("· {lost} "), th.error));
    }
    l1.push(Span::styled(
        format!("· every {} ", fmt_interval(app.modes.interval)),
        th.dim,
    ));
    if app.modes.paused {
        l1.push(Span::styled("[PAUSED] ", th.error));
    }
    // What is stale before how long the last read took: at 80 columns the end is cut.
    if let Some(stale) = stale(&app.live.collect.fresh, app.live.now) {
        l1.push(Span::styled(stale, th.dim));
    }
    if app.live.collect.snapshots > 0 {
        l1.push(Span::styled(
            format!(
                "· {} {:.1} ms ",
                app.live.snap.collector,
                app.live.collect.took.as_secs_f64() * 1000.0
            ),
            th.dim,
        ));
    } else {
        l1.push(Span::styled("· collecting… ", th.dim));
    }
    if app.live.collect.overruns > 0 {
        l1.push(Span::styled(
            format!(
                "· {} overruns (snapshot slower than interval) ",
                app.live.collect.overruns
            ),
            th.error,
        ));
    }
    if let Some(e) = &app.live.collect.error {
        l1.push(Span::styled(format!("· collect failed: {e}"), th.error));
    }
    Line::from(l1)
}

/// What the CPU budget leaves stale, for the status line: `· full table every 4 s:
/// budget 10 % (2 s old) `; `None` while every interval reads everything.
pub fn stale(f: &crate::model::Freshness, now: std::time::SystemTime) -> Option<String> {
    if f.every <= 1 && !f.partial {
        return None;
    }
    let age = now.duration_since(f.full_at).map_or(0, |d| d.as_secs());
    let narrowed = if f.narrowed {
        "; the filter's sockets every interval"
    } else {
        ""
    };
    Some(format!(
        "· full table every {}: budget {} ({age} s old{narrowed}) ",
        fmt_interval(f.full_period()),
        f.budget
    ))
}

/// Line 2: counts per state and protocol, hidden owners. Counts that are estimates
/// (between full tables, from the kernel's counters or the last full table) have a `~`.
fn counts<'a>(app: &App, th: &Styles) -> Line<'a> {
    let (states, protos) = app.counts();
    let estimates = app.live.collect.fresh.counts;
    let mut l2 = Vec::new();
    for (s, n) in states {
        let approx = if estimates.is_some_and(|c| c.is_estimate(s)) {
            "~"
        } else {
            ""
        };
        l2.push(Span::styled(format!("{s} "), th.header));
        l2.push(Span::raw(format!("{approx}{n}  ")));
    }
    l2.push(Span::styled("│ ", th.dim));
    let approx = if estimates.is_some_and(|c| c.protos_estimated) {
        "~"
    } else {
        ""
    };
    for (p, n) in protos {
        l2.push(Span::styled(format!("{} ", p.as_str()), th.header));
        l2.push(Span::raw(format!("{approx}{n}  ")));
    }
    let hidden = app.live.snap.visibility.hidden_sockets;
    if hidden > 0 {
        l2.push(Span::styled(
            format!(
                "│ owners of {hidden} socket{} hidden: run as root to see them",
                if hidden == 1 { "" } else { "s" }
            ),
            th.error,
        ));
    }
    if app.live.snap.visibility.netns_skipped {
        l2.push(Span::styled(
            " │ this network namespace only (root reads the others)",
            th.dim,
        ));
    } else {
        let others = app.live.snap.netns.others.len();
        if others > 0 {
            l2.push(Span::styled(
                format!(
                    " │ {others} other network namespace{}",
                    if others == 1 { "" } else { "s" }
                ),
                th.dim,
            ));
        }
    }
    Line::from(l2)
}

/// Line 3: the view tabs, where the selection is, what is filtered or folded.
fn tabs<'a>(app: &App, th: &Styles) -> Line<'a> {
    let mut l3 = Vec::new();
    for (v, label, _) in app.tabs() {
        let style = if v == app.table.view {
            th.tab_active
        } else {
            th.header
        };
        l3.push(Span::styled(label, style));
    }
    // Where the selection is, as in a pager: the table itself has no room for it.
    let position = if app.table.rows.is_empty() {
        "no rows".to_owned()
    } else {
        format!("row {}/{}", app.table.cursor + 1, app.table.rows.len())
    };
    l3.push(Span::styled(format!(" {position} "), th.dim));
    let filtered = !app.modes.filter.text.is_empty() || app.table.hide_time_wait;
    if filtered && app.table.view.is_socket_view() {
        let live = app
            .table
            .rows
            .iter()
            .filter(|r| matches!(r, crate::app::RowId::Live(_)))
            .count();
        l3.push(Span::styled(
            format!(
                "· {} of {} ",
                thousands(live),
                thousands(app.live.snap.sockets.len())
            ),
            th.header,
        ));
    }
    if app.table.folded_ghosts > 0 {
        let secs = app.settings.ghost.as_secs();
        l3.push(Span::styled(
            format!(
                "· +{} closed in the last {secs} s ",
                thousands(app.table.folded_ghosts)
            ),
            th.dim,
        ));
    }
    if app.table.view == View::Events {
        let dropped = app.live.events.dropped();
        let kept = format!(
            " log {}/{}",
            app.live.events.len(),
            app.live.events.capacity()
        );
        l3.push(Span::styled(kept, th.dim));
        if dropped > 0 {
            l3.push(Span::styled(format!(" {dropped} dropped"), th.error));
        }
    }
    if !app.modes.filter.text.is_empty() {
        l3.push(Span::styled(" filter: ", th.dim));
        l3.push(Span::styled(app.modes.filter.text.clone(), th.key));
    }
    if app.table.hide_time_wait {
        l3.push(Span::styled("  TIME-WAIT hidden", th.dim));
    }
    Line::from(l3)
}

/// `8041` → `8,041`.
fn thousands(n: usize) -> String {
    crate::app::text::thousands(n as u64)
}

#[cfg(test)]
mod tests {
    use crate::model::{Budget, Freshness};
    use std::time::{Duration, UNIX_EPOCH};

    /// What the budget leaves stale is said, with the full table's period and age; a
    /// table read in full every interval says nothing.
    #[test]
    fn the_status_says_what_is_stale() {
        let now = UNIX_EPOCH + Duration::from_secs(1000);
        let mut f = Freshness {
            budget: Budget::default(),
            interval: Duration::from_secs(1),
            every: 4,
            full_at: now - Duration::from_secs(3),
            partial: true,
            narrowed: false,
            counts: None,
            taken_at: now,
        };
        assert_eq!(
            super::stale(&f, now).as_deref(),
            Some("· full table every 4s: budget 10 % (3 s old) ")
        );
        f.narrowed = true;
        assert!(
            super::stale(&f, now)
                .unwrap()
                .contains("(3 s old; the filter's sockets every interval)")
        );
        let every_time = Freshness {
            full_at: now,
            ..Freshness::default()
        };
        assert_eq!(super::stale(&every_time, now), None);
    }

    #[test]
    fn thousands() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(8041), "8,041");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
    }
}
