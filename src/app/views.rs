//! The five views: their columns, how their rows are built, filtered and sorted, and the
//! text of each cell. Only the rows on screen ever have their cells formatted.

use super::{App, Sort};
pub use crate::model::time::{clock, clock_secs, fmt_interval, short_duration};
use crate::model::{Proto, Scope, Socket, SocketKey, State};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum View {
    Sockets,
    Listeners,
    Ports,
    Processes,
    Events,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Sockets,
        View::Listeners,
        View::Ports,
        View::Processes,
        View::Events,
    ];

    pub fn index(self) -> usize {
        self as usize
    }
    pub fn title(self) -> &'static str {
        match self {
            View::Sockets => "Sockets",
            View::Listeners => "Listeners",
            View::Ports => "Ports",
            View::Processes => "Processes",
            View::Events => "Events",
        }
    }
    pub fn parse(s: &str) -> Option<View> {
        View::ALL
            .into_iter()
            .find(|v| v.title().eq_ignore_ascii_case(s))
    }
    pub fn scope(self) -> Scope {
        if self == View::Listeners {
            Scope::Listeners
        } else {
            Scope::All
        }
    }
    pub fn default_sort(self) -> Sort {
        match self {
            // Sockets and listeners: by local address (column index of Local in defaults
            // is resolved at sort time; 0 here means "the first column").
            View::Sockets | View::Listeners => Sort {
                column: usize::MAX,
                descending: false,
            },
            View::Ports | View::Processes => Sort {
                column: 0,
                descending: false,
            },
            // Newest event first.
            View::Events => Sort {
                column: 0,
                descending: true,
            },
        }
    }
    pub fn is_socket_view(self) -> bool {
        matches!(self, View::Sockets | View::Listeners)
    }
}

/// Columns of the socket views (configurable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    Proto,
    State,
    RecvQ,
    SendQ,
    Local,
    Peer,
    Process,
    User,
    Timer,
    Age,
    Inode,
    Flags,
    Service,
}

impl Column {
    pub const ALL: [Column; 13] = [
        Column::Proto,
        Column::State,
        Column::RecvQ,
        Column::SendQ,
        Column::Local,
        Column::Peer,
        Column::Process,
        Column::User,
        Column::Timer,
        Column::Age,
        Column::Inode,
        Column::Flags,
        Column::Service,
    ];
    pub fn key(self) -> &'static str {
        match self {
            Column::Proto => "proto",
            Column::State => "state",
            Column::RecvQ => "recv_q",
            Column::SendQ => "send_q",
            Column::Local => "local",
            Column::Peer => "peer",
            Column::Process => "process",
            Column::User => "user",
            Column::Timer => "timer",
            Column::Age => "age",
            Column::Inode => "inode",
            Column::Flags => "flags",
            Column::Service => "service",
        }
    }
    pub fn parse(s: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == s)
    }
    fn spec(self) -> ColSpec {
        // (title, min width, share of spare width, right-aligned, keep: the higher, the
        // longer the column survives on a narrow terminal)
        let (title, width, flex, right, keep) = match self {
            Column::Proto => ("Proto", 5, 0, false, 6),
            Column::State => ("State", 10, 0, false, 8),
            Column::RecvQ => ("Recv-Q", 6, 0, true, 3),
            Column::SendQ => ("Send-Q", 6, 0, true, 2),
            Column::Local => ("Local", 21, 2, false, 10),
            Column::Peer => ("Peer", 21, 2, false, 7),
            Column::Process => ("Process", 16, 3, false, 9),
            Column::User => ("User", 8, 0, false, 4),
            Column::Timer => ("Timer", 15, 0, false, 1),
            Column::Age => ("Age", 6, 0, true, 5),
            Column::Inode => ("Inode", 8, 0, true, 0),
            Column::Flags => ("Flags", 8, 1, false, 5),
            Column::Service => ("Service", 10, 0, false, 2),
        };
        ColSpec {
            title,
            width,
            flex,
            right,
            keep,
        }
    }
}

/// How a column is laid out: minimum width, share of spare width, alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColSpec {
    pub title: &'static str,
    pub width: u16,
    pub flex: u16,
    pub right: bool,
    /// Columns with lower `keep` are dropped first when the terminal is narrow.
    pub keep: u8,
}

const fn col(title: &'static str, width: u16, flex: u16, right: bool, keep: u8) -> ColSpec {
    ColSpec {
        title,
        width,
        flex,
        right,
        keep,
    }
}

const PORT_COLS: [ColSpec; 9] = [
    col("Port", 6, 0, true, 9),
    col("Proto", 9, 0, false, 3),
    col("Listen", 6, 0, true, 7),
    col("Estab", 6, 0, true, 6),
    col("TimeWait", 8, 0, true, 5),
    col("CloseWait", 9, 0, true, 4),
    col("Total", 6, 0, true, 2),
    col("Owners", 16, 1, false, 8),
    col("Flags", 8, 1, false, 7),
];

const PROC_COLS: [ColSpec; 9] = [
    col("PID", 7, 0, true, 9),
    col("Name", 14, 1, false, 8),
    col("User", 8, 0, false, 4),
    col("S", 1, 0, false, 5),
    col("Sockets", 7, 0, true, 6),
    col("Estab", 6, 0, true, 3),
    col("Listening", 12, 1, false, 7),
    col("Command", 16, 3, false, 2),
    col("Flags", 8, 1, false, 7),
];

const EVENT_COLS: [ColSpec; 7] = [
    col("Time", 8, 0, false, 8),
    col("Event", 13, 0, false, 9),
    col("Proto", 5, 0, false, 3),
    col("Local", 21, 2, false, 7),
    col("Peer", 21, 2, false, 5),
    col("State", 22, 0, false, 6),
    col("Owner", 12, 2, false, 4),
];

/// One row of the table, by what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowId {
    /// Index into the snapshot's sockets.
    Live(usize),
    /// Index into `App::ghosts`.
    Ghost(usize),
    Port(usize),
    Proc(usize),
    /// Index into the event log, oldest first.
    Event(usize),
}

/// What is selected, so that the selection follows it across refreshes and re-sorts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selected {
    Socket(SocketKey),
    Port(u16),
    Pid(u32),
    /// Events are identified by their position counted from the start of the log.
    Event(u64),
}

/// Ports view row: one local port.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortRow {
    pub port: u16,
    pub tcp: bool,
    pub udp: bool,
    pub listen: u32,
    pub estab: u32,
    pub time_wait: u32,
    pub close_wait: u32,
    pub total: u32,
    pub owners: Vec<u32>,
    pub flags: crate::model::Flags,
    /// A socket representing the port (its listener when there is one), for the detail
    /// pane and the kill dialog.
    pub example: usize,
}

/// Processes view row: one owning process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcRow {
    pub pid: u32,
    pub flags: crate::model::Flags,
    pub sockets: u32,
    pub estab: u32,
    pub listening: Vec<u16>,
    pub example: usize,
}

impl App {
    /// Column layout of the current view.
    pub fn col_specs(&self) -> Vec<ColSpec> {
        match self.view {
            View::Sockets | View::Listeners => {
                self.settings.columns.iter().map(|c| c.spec()).collect()
            }
            View::Ports => PORT_COLS.to_vec(),
            View::Processes => PROC_COLS.to_vec(),
            View::Events => EVENT_COLS.to_vec(),
        }
    }

    /// The sort column of the current view, resolved (socket views default to Local).
    pub fn sort_column(&self) -> usize {
        let s = self.sort();
        let n = self.col_specs().len();
        if s.column < n {
            s.column
        } else if self.view.is_socket_view() {
            self.settings
                .columns
                .iter()
                .position(|c| *c == Column::Local)
                .unwrap_or(0)
        } else {
            0
        }
    }

    /// The socket a row stands for (its listener for a port, any socket for a process).
    pub fn row_socket(&self, row: RowId) -> Option<&Socket> {
        match row {
            RowId::Live(i) => self.snap.sockets.get(i),
            RowId::Ghost(i) => self.ghosts.get(i).map(|g| &g.socket),
            RowId::Port(i) => self
                .ports
                .get(i)
                .and_then(|p| self.snap.sockets.get(p.example)),
            RowId::Proc(i) => self
                .procs
                .get(i)
                .and_then(|p| self.snap.sockets.get(p.example)),
            RowId::Event(_) => None,
        }
    }

    /// Diagnosis flags of a row (ghosts have none: they are gone).
    pub fn row_flags(&self, row: RowId) -> crate::model::Flags {
        match row {
            RowId::Live(i) => self.flags.get(i).copied().unwrap_or_default(),
            RowId::Port(i) => self.ports.get(i).map(|p| p.flags).unwrap_or_default(),
            RowId::Proc(i) => self.procs.get(i).map(|p| p.flags).unwrap_or_default(),
            RowId::Ghost(_) | RowId::Event(_) => crate::model::Flags::empty(),
        }
    }

    /// Each flag of a row with the sentence that explains it (for the detail pane).
    pub fn flag_sentences(&self, row: RowId) -> Vec<(crate::model::Flag, &'static str)> {
        self.row_flags(row)
            .iter()
            .map(|f| (f, crate::diagnose::explain(f)))
            .collect()
    }

    pub fn selected_row(&self) -> Option<RowId> {
        self.rows.get(self.cursor).copied()
    }

    pub(super) fn identity(&self, row: RowId) -> Option<Selected> {
        Some(match row {
            RowId::Live(_) | RowId::Ghost(_) => Selected::Socket(self.row_socket(row)?.key()),
            RowId::Port(i) => Selected::Port(self.ports.get(i)?.port),
            RowId::Proc(i) => Selected::Pid(self.procs.get(i)?.pid),
            RowId::Event(i) => Selected::Event(self.events.dropped() + i as u64),
        })
    }
}

/// Rows per state and per protocol, non-zero only.
pub type Counts = (Vec<(State, usize)>, Vec<(Proto, usize)>);

/// How a row is highlighted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowMark {
    New,
    Changed,
    Closed,
}

/// Lays out columns in `width`: minimum widths first, the least important columns
/// dropped while they do not fit, then spare width shared by flex. Returns, per column
/// spec, its (x, width), or `None` when it was dropped.
pub fn layout_columns(specs: &[ColSpec], width: u16) -> Vec<Option<(u16, u16)>> {
    let gap = 1u16;
    let mut shown: Vec<bool> = vec![true; specs.len()];
    let need = |shown: &[bool]| -> u32 {
        let n = shown.iter().filter(|s| **s).count() as u32;
        specs
            .iter()
            .zip(shown)
            .filter(|(_, s)| **s)
            .map(|(c, _)| u32::from(c.width))
            .sum::<u32>()
            + n.saturating_sub(1) * u32::from(gap)
    };
    while need(&shown) > u32::from(width) {
        let Some(drop) = (0..specs.len())
            .filter(|i| shown[*i])
            .min_by_key(|i| (specs[*i].keep, std::cmp::Reverse(*i)))
        else {
            break;
        };
        shown[drop] = false;
    }
    let spare = (u32::from(width).saturating_sub(need(&shown))) as u16;
    let flex: u16 = specs
        .iter()
        .zip(&shown)
        .filter(|(_, s)| **s)
        .map(|(c, _)| c.flex)
        .sum();
    let mut out = Vec::with_capacity(specs.len());
    let mut x = 0u16;
    let mut given = 0u16;
    let mut flex_seen = 0u16;
    let mut first = true;
    for (s, on) in specs.iter().zip(&shown) {
        if !on {
            out.push(None);
            continue;
        }
        if !first {
            x += gap;
        }
        first = false;
        let mut w = s.width;
        if flex > 0 && s.flex > 0 {
            flex_seen += s.flex;
            // Cumulative rounding so the shares add up to exactly `spare`.
            let upto = (u32::from(spare) * u32::from(flex_seen) / u32::from(flex)) as u16;
            w += upto - given;
            given = upto;
        }
        out.push(Some((x, w)));
        x += w;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_terminals_drop_the_least_important_columns() {
        let specs: Vec<ColSpec> = Column::ALL.iter().map(|c| c.spec()).collect();
        let wide = layout_columns(&specs, 200);
        assert!(wide.iter().all(Option::is_some));
        let total: u16 =
            wide.iter().flatten().map(|(_, w)| w).sum::<u16>() + (specs.len() as u16 - 1);
        assert_eq!(total, 200, "spare width is all given out");
        let narrow = layout_columns(&specs, 80);
        let kept: Vec<&str> = specs
            .iter()
            .zip(&narrow)
            .filter(|(_, c)| c.is_some())
            .map(|(s, _)| s.title)
            .collect();
        assert!(
            kept.contains(&"Process") && kept.contains(&"Local"),
            "{kept:?}"
        );
        assert!(
            !kept.contains(&"Inode") && !kept.contains(&"Timer"),
            "{kept:?}"
        );
        let last = narrow.iter().flatten().last().unwrap();
        assert!(last.0 + last.1 <= 80);
        assert!(layout_columns(&specs, 0).iter().all(Option::is_none));
    }
}
