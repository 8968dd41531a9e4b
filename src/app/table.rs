//! The table and its selection: which view, each view's sort, the rows on it (filtered,
//! aggregated, sorted), where the cursor is and what it points at, and the screen size.

use super::columns::Col;
use super::views::{PortRow, ProcRow, RowId, Selected, View};

/// Sort of one view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: Col,
    pub descending: bool,
}

/// The table state.
pub struct Table {
    pub view: View,
    sorts: [Sort; 5],
    /// Visible rows of the current view, filtered and sorted.
    pub rows: Vec<RowId>,
    pub ports: Vec<PortRow>,
    pub procs: Vec<ProcRow>,
    /// Index into `rows` of the selection, and what it points at.
    pub cursor: usize,
    pub selected: Option<Selected>,
    /// First row shown.
    pub offset: usize,
    pub width: u16,
    pub height: u16,
    pub hide_time_wait: bool,
    /// Closed sockets stay on screen for a few seconds unless hidden (`g`).
    pub show_ghosts: bool,
    /// Closed sockets that match but are not shown as rows (over the cap, or hidden):
    /// the header says "+N closed".
    pub folded_ghosts: usize,
    /// The widest Flags cell of all the rows (not only those on screen).
    pub flags_width: usize,
    /// The traffic columns (RX/s, TX/s, RTT, Retrans, Idle) are added to the socket
    /// views (`T`).
    pub traffic: bool,
}

impl Table {
    pub fn new(view: View) -> Table {
        let sort = |v: View| {
            let (column, descending) = Col::default_sort(v);
            Sort { column, descending }
        };
        Table {
            view,
            sorts: View::ALL.map(sort),
            rows: Vec::new(),
            ports: Vec::new(),
            procs: Vec::new(),
            cursor: 0,
            selected: None,
            offset: 0,
            width: 80,
            height: 24,
            hide_time_wait: false,
            show_ghosts: true,
            folded_ghosts: 0,
            flags_width: 0,
            traffic: false,
        }
    }

    /// The sort of the current view.
    pub fn sort(&self) -> Sort {
        self.sorts[self.view.index()]
    }

    /// Sorts the current view by `column`. The same column again flips the direction
    /// when `toggle`; a new one starts biggest first when it is numeric.
    pub fn sort_by(&mut self, column: Col, numeric: bool, toggle: bool) {
        let s = &mut self.sorts[self.view.index()];
        if s.column == column {
            if toggle {
                s.descending = !s.descending;
            }
        } else {
            *s = Sort {
                column,
                descending: numeric,
            };
        }
    }

    /// Flips the direction of the current view's sort.
    pub fn reverse(&mut self) {
        let s = &mut self.sorts[self.view.index()];
        s.descending = !s.descending;
    }

    /// Switches view; the cursor starts at the top.
    pub fn set_view(&mut self, v: View) -> bool {
        if self.view == v {
            return false;
        }
        self.view = v;
        self.cursor = 0;
        self.offset = 0;
        self.selected = None;
        true
    }

    /// Keeps the cursor within the `visible` rows on screen.
    pub fn scroll_to_cursor(&mut self, visible: usize) {
        let h = visible.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + h {
            self.offset = self.cursor + 1 - h;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(h));
    }

    pub fn selected_row(&self) -> Option<RowId> {
        self.rows.get(self.cursor).copied()
    }
}
