//! The three header lines: title and status, counts, view tabs and filter.

use super::items::{Part, fit_parts};
use super::theme::Styles;
use crate::app::views::fmt_interval;
use crate::app::{App, View};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, app: &App, th: &Styles, area: Rect) {
    let lines = vec![
        status(app, th, area.width),
        counts(app, th, area.width),
        tabs(app, th, area.width),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

/// Line 1: host, interval, pause, the collector's health. What does not fit goes
/// whole, least needed first: the read's timing, then the long wordings.
fn status<'a>(app: &App, th: &Styles, width: u16) -> Line<'a> {
    let mut parts = vec![Part::new(vec![(
        0,
        vec![
            Span::styled("sockscope", th.title),
            Span::styled(format!(" {} ", app.settings.host), th.header),
        ],
    )])];
    if let Some(lost) = app.live.lost_notice() {
        parts.push(Part::one(1, format!("· {lost} "), th.error));
    }
    parts.push(Part::one(
        0,
        format!("· every {} ", fmt_interval(app.modes.interval)),
        th.dim,
    ));
    if app.modes.paused {
        parts.push(Part::one(0, "[PAUSED] ".to_owned(), th.error));
    }
    // What is stale before how long the last read took.
    if let Some(stale) = stale(&app.live.collect.fresh, app.live.now) {
        let short = stale_short(&app.live.collect.fresh, app.live.now);
        parts.push(Part::new(vec![
            (3, vec![Span::styled(stale, th.dim)]),
            (2, vec![Span::styled(short, th.dim)]),
        ]));
    }
    if app.live.collect.snapshots > 0 {
        parts.push(Part::one(
            4,
            format!(
                "· {} {:.1} ms ",
                app.live.snap.collector,
                app.live.collect.took.as_secs_f64() * 1000.0
            ),
            th.dim,
        ));
    } else {
        parts.push(Part::one(4, "· collecting… ".to_owned(), th.dim));
    }
    let n = app.live.collect.overruns;
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        parts.push(Part::new(vec![
            (
                5,
                vec![Span::styled(
                    format!("· {n} overrun{s} (snapshot slower than interval) "),
                    th.error,
                )],
            ),
            (
                1,
                vec![Span::styled(format!("· {n} overrun{s} "), th.error)],
            ),
        ]));
    }
    if let Some(e) = &app.live.collect.error {
        parts.push(Part::one(0, format!("· collect failed: {e}"), th.error));
    }
    Line::from(fit_parts(parts, usize::from(width), th.dim))
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

/// The short wording of [`stale`]: `· full table every 4s (2 s old) `.
fn stale_short(f: &crate::model::Freshness, now: std::time::SystemTime) -> String {
    let age = now.duration_since(f.full_at).map_or(0, |d| d.as_secs());
    format!(
        "· full table every {} ({age} s old) ",
        fmt_interval(f.full_period())
    )
}

/// Line 2: counts per state and protocol, hidden owners. Counts that are estimates
/// (between full tables, from the kernel's counters or the last full table) have a `~`.
/// The notes at its end take the longest wording that fits `width`.
fn counts<'a>(app: &App, th: &Styles, width: u16) -> Line<'a> {
    let (states, protos) = app.counts();
    let estimates = app.live.collect.fresh.counts;
    // Each count is an item: the rarer states, then the protocols (the last first),
    // go before LISTEN and ESTAB when the line is narrow.
    let mut parts: Vec<Part<'a>> = Vec::new();
    for (i, (s, n)) in states.into_iter().enumerate() {
        let approx = if estimates.is_some_and(|c| c.is_estimate(s)) {
            "~"
        } else {
            ""
        };
        parts.push(Part::new(vec![(
            2 + i as u8,
            vec![
                Span::styled(format!("{s} "), th.header),
                Span::raw(format!("{approx}{n}  ")),
            ],
        )]));
    }
    let approx = if estimates.is_some_and(|c| c.protos_estimated) {
        "~"
    } else {
        ""
    };
    for (j, (p, n)) in protos.into_iter().enumerate() {
        let mut spans = Vec::new();
        if j == 0 {
            spans.push(Span::styled("│ ", th.dim));
        }
        spans.push(Span::styled(format!("{} ", p.as_str()), th.header));
        spans.push(Span::raw(format!("{approx}{n}  ")));
        parts.push(Part::new(vec![(30 + j as u8, spans)]));
    }
    // Each note in its wordings, longest first.
    let mut notes: Vec<(Vec<String>, Style)> = Vec::new();
    let hidden = app.live.snap.visibility.hidden_sockets;
    if hidden > 0 {
        let s = if hidden == 1 { "" } else { "s" };
        // Root is refused only by a security module or a non-dumpable process.
        let (fix, long) = if app.live.snap.visibility.root_refused() {
            ("refused to root", "refused even to root")
        } else {
            ("run as root", "run as root to see them")
        };
        notes.push((
            vec![
                format!("│ owners of {hidden} socket{s} hidden: {long}"),
                format!("│ {hidden} owner{s} hidden: {fix}"),
                format!("│ {hidden} owner{s} hidden"),
            ],
            th.error,
        ));
    }
    if app.live.snap.visibility.netns_skipped {
        notes.push((
            vec![
                " │ this network namespace only (root reads the others)".to_owned(),
                " │ this netns only".to_owned(),
            ],
            th.dim,
        ));
    } else {
        let unread = app.live.snap.netns.unread;
        if unread > 0 {
            notes.push((
                vec![
                    format!(" │ {unread} network namespaces not read (over the limit)"),
                    format!(" │ {unread} netns unread"),
                ],
                th.error,
            ));
        }
        let others = app.live.snap.netns.others.len();
        if others > 0 {
            let s = if others == 1 { "" } else { "s" };
            notes.push((
                vec![
                    format!(" │ {others} other network namespace{s}"),
                    format!(" │ +{others} netns"),
                ],
                th.dim,
            ));
        }
    }
    let used: usize = parts
        .iter()
        .flat_map(|p| p.words.first())
        .flat_map(|(_, spans)| spans)
        .map(Span::width)
        .sum();
    let mut left = usize::from(width).saturating_sub(used);
    let shortest = |words: &[String]| words.last().map_or(0, |w| w.chars().count());
    if notes.iter().map(|(w, _)| shortest(w)).sum::<usize>() > left {
        // No room after the counts: the notes come first (a warning matters more than
        // the last count), in their middle wording, and the counts are cut instead.
        // The counts then drop whole, least needed first, and a `…` says so.
        let notes_front = |pick: fn(&Vec<String>) -> Option<&String>| -> Vec<Span<'a>> {
            notes
                .iter()
                .map(|(words, style)| {
                    let w = pick(words).cloned().unwrap_or_default();
                    let w = w.trim_start_matches([' ', '│']).to_owned();
                    Span::styled(format!("{w} │ "), *style)
                })
                .collect()
        };
        let wide = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
        let mut front = notes_front(|w| w.get(1).or(w.last()));
        // The first count (LISTEN) matters more than the note's longer wording.
        let first = parts
            .first()
            .and_then(|p| p.words.first())
            .map_or(0, |(_, spans)| wide(spans));
        if wide(&front) + first > usize::from(width) {
            front = notes_front(|w| w.last());
        }
        let left = usize::from(width).saturating_sub(wide(&front));
        front.extend(fit_parts(parts, left, th.dim));
        return Line::from(front);
    }
    let mut l2: Vec<Span<'a>> = parts
        .into_iter()
        .flat_map(|mut p| p.words.swap_remove(0).1)
        .collect();
    for i in 0..notes.len() {
        // Room is left for the shortest wording of each note still to come.
        let later: usize = notes[i + 1..].iter().map(|(w, _)| shortest(w)).sum();
        let (words, style) = &notes[i];
        let room = left.saturating_sub(later);
        let pick = words
            .iter()
            .find(|w| w.chars().count() <= room)
            .or(words.last())
            .cloned()
            .unwrap_or_default();
        left = left.saturating_sub(pick.chars().count());
        l2.push(Span::styled(pick, *style));
    }
    Line::from(l2)
}

/// Line 3: the view tabs, where the selection is, what is filtered or folded. What does
/// not fit `width` goes, least needed first: the closed rows folded, where the selection
/// is, the log's fill, the counts, then what is dropped or hidden; the filter typed stays
/// longest (the other tabs show their number only to make room for it, see
/// [`App::tabs`]), and what of it still does not fit ends in `…`.
fn tabs<'a>(app: &App, th: &Styles, width: u16) -> Line<'a> {
    let mut l3 = Vec::new();
    for (v, label, _) in app.tabs() {
        let style = if v == app.table.view {
            th.tab_active
        } else {
            th.header
        };
        l3.push(Span::styled(label, style));
    }
    // (how much it is needed: 0 stays whatever the width, higher goes first; its spans)
    let mut extras: Vec<(u8, Vec<Span<'a>>)> = Vec::new();
    // Where the selection is, as in a pager: the table itself has no room for it.
    let position = if app.table.rows.is_empty() {
        "no rows".to_owned()
    } else {
        format!("row {}/{}", app.table.cursor + 1, app.table.rows.len())
    };
    extras.push((4, vec![Span::styled(format!(" {position} "), th.dim)]));
    let filtered = !app.modes.filter.text.is_empty() || app.table.hide_time_wait;
    if filtered && app.table.view.is_socket_view() {
        let live = app
            .table
            .rows
            .iter()
            .filter(|r| matches!(r, crate::app::RowId::Live(_)))
            .count();
        extras.push((
            2,
            vec![Span::styled(
                format!(
                    "· {} of {} ",
                    thousands(live),
                    thousands(app.live.snap.sockets.len())
                ),
                th.header,
            )],
        ));
    }
    if app.table.folded_ghosts > 0 {
        let secs = app.settings.ghost.as_secs();
        extras.push((
            5,
            vec![Span::styled(
                format!(
                    "· +{} closed in the last {secs} s ",
                    thousands(app.table.folded_ghosts)
                ),
                th.dim,
            )],
        ));
    }
    if app.table.view == View::Events {
        let kept = format!(
            " log {}/{}",
            app.live.events.len(),
            app.live.events.capacity()
        );
        extras.push((3, vec![Span::styled(kept, th.dim)]));
        let dropped = app.live.events.dropped();
        if dropped > 0 {
            extras.push((
                1,
                vec![Span::styled(format!(" · {dropped} dropped "), th.error)],
            ));
        }
    }
    if !app.modes.filter.text.is_empty() {
        extras.push((
            0,
            vec![
                Span::styled(" filter: ", th.dim),
                Span::styled(app.modes.filter.text.clone(), th.key),
            ],
        ));
    }
    if app.table.hide_time_wait {
        extras.push((1, vec![Span::styled("  TIME-WAIT hidden", th.dim)]));
    }
    let wide = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    // A dropped item leaves a `…` at the end, and room is kept for it.
    let mut dropped = false;
    let fixed = wide(&l3);
    while fixed + extras.iter().map(|(_, s)| wide(s)).sum::<usize>() + usize::from(dropped)
        > usize::from(width)
    {
        let Some(at) = extras
            .iter()
            .enumerate()
            .filter(|(_, (need, _))| *need > 0)
            .max_by_key(|(i, (need, _))| (*need, *i))
            .map(|(i, _)| i)
        else {
            break;
        };
        extras.remove(at);
        dropped = true;
    }
    let over = (fixed + extras.iter().map(|(_, s)| wide(s)).sum::<usize>() + usize::from(dropped))
        .saturating_sub(usize::from(width));
    if over > 0
        && let Some(text) = extras
            .iter_mut()
            .find(|(need, _)| *need == 0)
            .and_then(|(_, spans)| spans.last_mut())
    {
        let keep = text.width().saturating_sub(over + 1);
        let cut: String = text.content.chars().take(keep).collect();
        text.content = format!("{cut}…").into();
        // The cut filter ends the line: its `…` says that too.
        dropped = false;
    }
    l3.extend(extras.into_iter().flat_map(|(_, spans)| spans));
    if dropped {
        l3.push(Span::styled("…", th.dim));
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
