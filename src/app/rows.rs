//! Building the rows of the current view: filter, aggregate (ports, processes), and
//! keeping the selection on the same thing across rebuilds. Sorting is in `sort.rs`.

use super::App;
use super::views::{PortRow, ProcRow, RowId, View, row_index};
use crate::model::{Flags, Socket, State};
use crate::query::Subject;
use std::collections::HashMap;

/// At most this share of the table's height shows closed sockets; the rest are folded
/// into "+N closed" in the header, so that churn never crowds out live rows.
const GHOST_SHARE: usize = 4;

impl App {
    /// Rebuilds the visible rows (filter, aggregate, sort) and puts the cursor back on
    /// what was selected.
    pub fn rebuild(&mut self) {
        let mut rows = std::mem::take(&mut self.table.rows);
        rows.clear();
        self.table.folded_ghosts = 0;
        match self.table.view {
            View::Sockets | View::Listeners => self.socket_rows(&mut rows),
            View::Ports => {
                self.table.ports = self.aggregate_ports();
                rows.extend((0..self.table.ports.len()).map(|i| RowId::Port(row_index(i))));
            }
            View::Processes => {
                self.table.procs = self.aggregate_procs();
                rows.extend((0..self.table.procs.len()).map(|i| RowId::Proc(row_index(i))));
            }
            View::Events => {
                let q = &self.modes.filter.query;
                let snap = &self.live.snap;
                rows.extend(
                    self.live
                        .events
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| q.is_empty() || q.matches(&Subject::event(e, snap)))
                        .map(|(i, _)| RowId::Event(row_index(i))),
                );
            }
        }
        self.sort_rows(&mut rows);
        crate::model::spare::ShrinkSpare::shrink_spare(&mut rows);
        // The Flags column's width comes from every row, not the ones on screen, so
        // that the columns stay put while paging.
        self.table.flags_width = rows
            .iter()
            .map(|r| flags_text_width(self.row_flags(*r)))
            .max()
            .unwrap_or(0);
        self.table.rows = rows;
        self.restore_selection();
        self.refresh_detail();
    }

    /// Expired ghosts left the list (`went`: each with its index before, ascending).
    /// Under churn that is every tick, so the rows follow without a rebuild unless one
    /// of them was a row: the rows' ghost indices move down, and those that were folded
    /// into "+N closed" leave its count. That is what a rebuild would give: the rows
    /// show the newest matching ghosts that fit, and none of those went.
    pub fn ghosts_went(&mut self, went: &[(usize, super::live::Ghost)]) {
        if !matches!(self.table.view, View::Sockets | View::Listeners) {
            // Other views show no ghosts.
            return;
        }
        let before: Vec<u32> = went.iter().map(|(i, _)| row_index(*i)).collect();
        let shown_went = self
            .table
            .rows
            .iter()
            .any(|r| matches!(r, RowId::Ghost(i) if before.binary_search(i).is_ok()));
        if shown_went {
            self.rebuild();
            return;
        }
        let folded_went = went
            .iter()
            .filter(|(_, g)| self.shown(&g.socket, Flags::empty()))
            .count();
        self.table.folded_ghosts = self.table.folded_ghosts.saturating_sub(folded_went);
        for r in &mut self.table.rows {
            if let RowId::Ghost(i) = r {
                // How many that went were older than it (`before` is ascending).
                let older = before.partition_point(|&b| b < *i);
                *i -= row_index(older);
            }
        }
    }

    /// Whether a socket passes the view, the TIME-WAIT toggle and the filter.
    fn shown(&self, s: &Socket, flags: Flags) -> bool {
        (self.table.view != View::Listeners || s.is_listener())
            && !(self.table.hide_time_wait && s.state == State::TimeWait)
            && (self.modes.filter.query.is_empty()
                || self
                    .modes
                    .filter
                    .query
                    .matches(&Subject::socket(s, &self.live.snap, flags)))
    }

    /// Live sockets, then the newest closed ones that fit their share of the screen.
    fn socket_rows(&mut self, rows: &mut Vec<RowId>) {
        rows.extend(
            self.live
                .snap
                .sockets
                .iter()
                .enumerate()
                .filter(|(i, s)| self.shown(s, self.live.flags_of(*i)))
                .map(|(i, _)| RowId::Live(row_index(i))),
        );
        let ghosts: Vec<usize> = self
            .live
            .ghosts
            .iter()
            .enumerate()
            .filter(|(_, g)| self.shown(&g.socket, Flags::empty()))
            .map(|(i, _)| i)
            .collect();
        let room = if self.table.show_ghosts {
            (self.table_rows() / GHOST_SHARE).max(1)
        } else {
            0
        };
        let shown = ghosts.len().min(room);
        self.table.folded_ghosts = ghosts.len() - shown;
        // The newest ones: the ghost list is oldest first.
        rows.extend(
            ghosts[ghosts.len() - shown..]
                .iter()
                .map(|&i| RowId::Ghost(row_index(i))),
        );
    }

    pub(super) fn restore_selection(&mut self) {
        // The Events view at its newest row, newest first, no detail open: it follows the
        // newest event as `tail -f` does, instead of the event that was newest.
        let follow = self.table.view == View::Events
            && self.table.cursor == 0
            && (self.table.sort().column, self.table.sort().descending)
                == super::columns::Col::default_sort(View::Events)
            && self.modes.detail.is_none();
        if follow {
            self.table.selected = None;
        }
        let found = self.table.selected.and_then(|sel| {
            // Fast path: the cursor still points at it.
            if let Some(r) = self.table.rows.get(self.table.cursor).copied()
                && self.identity(r) == Some(sel)
            {
                return Some(self.table.cursor);
            }
            self.table
                .rows
                .iter()
                .position(|r| self.identity(*r) == Some(sel))
        });
        self.table.cursor = found
            .unwrap_or(self.table.cursor)
            .min(self.table.rows.len().saturating_sub(1));
        // While a filter is typed, a line that matches nothing (or not the selection)
        // must not lose it: it comes back when the line matches it again.
        let editing = self.modes.filter.edit.is_some();
        if found.is_some() || !editing || self.table.selected.is_none() {
            self.table.selected = self.selected_row().and_then(|r| self.identity(r));
        }
        self.scroll_to_cursor();
    }

    /// Moves the cursor to `index` and remembers what is there.
    pub fn select_index(&mut self, index: usize) {
        self.table.cursor = index.min(self.table.rows.len().saturating_sub(1));
        self.table.selected = self.selected_row().and_then(|r| self.identity(r));
        self.scroll_to_cursor();
        self.refresh_detail();
    }

    pub fn scroll_to_cursor(&mut self) {
        let h = self.table_rows();
        self.table.scroll_to_cursor(h);
    }

    /// Sockets that pass the filter and the TIME-WAIT toggle, with their index and flags:
    /// what the Ports and Processes views aggregate.
    fn counted(&self) -> impl Iterator<Item = (usize, &Socket, Flags)> {
        self.live
            .snap
            .sockets
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| {
                let flags = self.live.flags_of(i);
                let shown =
                    self.modes
                        .filter
                        .query
                        .matches(&Subject::socket(s, &self.live.snap, flags))
                        && !(self.table.hide_time_wait && s.state == State::TimeWait);
                shown.then_some((i, s, flags))
            })
    }

    /// One row per (network namespace, local port). A port in the ephemeral range is
    /// a client's unless something listens there, a TCP listener held it since
    /// sockscope started (its TIME-WAIT and CLOSE-WAIT sockets are the server's), or
    /// the filter names it: only those show.
    fn aggregate_ports(&self) -> Vec<PortRow> {
        let ephemeral = &self.settings.ephemeral;
        let named = named_ports(&self.modes.filter.query);
        let server = |port: u16| {
            !ephemeral.contains(&port)
                || self.live.listened(port)
                || named.iter().any(|r| r.contains(&port))
        };
        let netns = &self.live.snap.netns;
        let mut by_port: HashMap<(u32, u16), PortRow> = HashMap::new();
        for (i, s, flags) in self.counted() {
            let port = s.local().port();
            let listener = s.is_listener();
            // Most sockets on ephemeral ports are clients': no row is made for them.
            if !listener && !server(port) {
                continue;
            }
            let ns = if netns.is_host(s.netns) { 0 } else { s.netns };
            let row = by_port.entry((ns, port)).or_insert_with(|| PortRow {
                port,
                netns: ns,
                example: i,
                ..PortRow::default()
            });
            let example_listens = self
                .live
                .snap
                .sockets
                .get(row.example)
                .is_some_and(Socket::is_listener);
            if listener && !example_listens {
                row.example = i;
            }
            row.add(s, flags, listener);
        }
        by_port
            .into_values()
            .filter(|r| r.listen > 0 || server(r.port))
            .collect()
    }

    fn aggregate_procs(&self) -> Vec<ProcRow> {
        let mut by_pid: HashMap<u32, ProcRow> = HashMap::new();
        for (i, s, flags) in self.counted() {
            for &pid in &s.owners {
                let row = by_pid.entry(pid).or_insert_with(|| ProcRow {
                    pid,
                    example: i,
                    ..ProcRow::default()
                });
                row.sockets += 1;
                row.flags |= flags;
                match s.state {
                    State::Estab => row.estab += 1,
                    State::CloseWait => row.close_wait += 1,
                    _ => {}
                }
                if s.is_listener() && !row.listening.contains(&s.local().port()) {
                    row.listening.push(s.local().port());
                    row.example = i;
                }
            }
        }
        let mut v: Vec<ProcRow> = by_pid.into_values().collect();
        let traffic = self.live.traffic.as_ref();
        for r in &mut v {
            r.listening.sort_unstable();
            r.rate = traffic.map(|t| t.processes.get(&r.pid).copied().unwrap_or_default());
        }
        v
    }
}

/// The local ports the filter names (`:P`, `port:`, `lport:`, `addr:…:P`, not negated):
/// the Ports view shows them even in the ephemeral range.
fn named_ports(q: &crate::query::Query) -> Vec<std::ops::RangeInclusive<u16>> {
    use crate::query::{Side, Test};
    let mut out = Vec::new();
    for t in q.terms().iter().filter(|t| !t.negated) {
        match &t.test {
            Test::Port(Side::Local | Side::Either, ranges) => out.extend(ranges.iter().cloned()),
            Test::Addr(Side::Local | Side::Either, pats) => {
                out.extend(pats.iter().filter_map(|p| p.port).map(|p| p..=p));
            }
            _ => {}
        }
    }
    out
}

/// The width of a Flags cell (`ORPHAN,HIDDEN`), without writing it.
fn flags_text_width(f: Flags) -> usize {
    f.iter()
        .enumerate()
        .map(|(i, x)| x.as_str().len() + usize::from(i > 0))
        .sum()
}

impl PortRow {
    /// Counts one more socket of this port.
    fn add(&mut self, s: &Socket, flags: Flags, listener: bool) {
        if s.proto.is_tcp() {
            self.tcp = true;
            self.tcp6 |= s.proto.is_v6();
            self.tcp4 |= !s.proto.is_v6();
        } else {
            self.udp = true;
        }
        self.total += 1;
        self.flags |= flags;
        match s.state {
            State::Listen | State::Unconn => self.listen += u32::from(listener),
            State::Estab => self.estab += 1,
            State::TimeWait => self.time_wait += 1,
            State::CloseWait => self.close_wait += 1,
            _ => {}
        }
        if s.owners.is_empty() && listener {
            self.unowned = Some(s.owner_status);
        } else if s.owners.is_empty() {
            self.ownerless.get_or_insert(s.owner_status);
        }
        for pid in &s.owners {
            if !self.owners.contains(pid) {
                self.owners.push(*pid);
            }
        }
    }
}
