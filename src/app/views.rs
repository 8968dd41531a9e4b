//! The five views: their columns, how their rows are built, filtered and sorted, and the
//! text of each cell. Only the rows on screen ever have their cells formatted.

use super::{App, Sort};
use crate::model::{Proto, Scope, Socket, SocketKey, State};
use std::time::UNIX_EPOCH;

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
}

impl Column {
    pub const ALL: [Column; 11] = [
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
        }
    }
    pub fn parse(s: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.key() == s)
    }
    fn spec(self) -> ColSpec {
        let (title, width, flex, right) = match self {
            Column::Proto => ("Proto", 5, 0, false),
            Column::State => ("State", 10, 0, false),
            Column::RecvQ => ("Recv-Q", 6, 0, true),
            Column::SendQ => ("Send-Q", 6, 0, true),
            Column::Local => ("Local", 21, 2, false),
            Column::Peer => ("Peer", 21, 2, false),
            Column::Process => ("Process", 16, 3, false),
            Column::User => ("User", 8, 0, false),
            Column::Timer => ("Timer", 15, 0, false),
            Column::Age => ("Age", 6, 0, true),
            Column::Inode => ("Inode", 8, 0, true),
        };
        ColSpec {
            title,
            width,
            flex,
            right,
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
}

const PORT_COLS: [ColSpec; 8] = [
    ColSpec {
        title: "Port",
        width: 6,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "Proto",
        width: 9,
        flex: 0,
        right: false,
    },
    ColSpec {
        title: "Listen",
        width: 6,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "Estab",
        width: 6,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "TimeWait",
        width: 8,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "CloseWait",
        width: 9,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "Total",
        width: 6,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "Owners",
        width: 16,
        flex: 1,
        right: false,
    },
];

const PROC_COLS: [ColSpec; 8] = [
    ColSpec {
        title: "PID",
        width: 7,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "Name",
        width: 14,
        flex: 1,
        right: false,
    },
    ColSpec {
        title: "User",
        width: 8,
        flex: 0,
        right: false,
    },
    ColSpec {
        title: "S",
        width: 1,
        flex: 0,
        right: false,
    },
    ColSpec {
        title: "Sockets",
        width: 7,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "Estab",
        width: 6,
        flex: 0,
        right: true,
    },
    ColSpec {
        title: "Listening",
        width: 12,
        flex: 1,
        right: false,
    },
    ColSpec {
        title: "Command",
        width: 16,
        flex: 3,
        right: false,
    },
];

const EVENT_COLS: [ColSpec; 7] = [
    ColSpec {
        title: "Time",
        width: 8,
        flex: 0,
        right: false,
    },
    ColSpec {
        title: "Event",
        width: 13,
        flex: 0,
        right: false,
    },
    ColSpec {
        title: "Proto",
        width: 5,
        flex: 0,
        right: false,
    },
    ColSpec {
        title: "Local",
        width: 21,
        flex: 2,
        right: false,
    },
    ColSpec {
        title: "Peer",
        width: 21,
        flex: 2,
        right: false,
    },
    ColSpec {
        title: "State",
        width: 22,
        flex: 0,
        right: false,
    },
    ColSpec {
        title: "Owner",
        width: 12,
        flex: 2,
        right: false,
    },
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
    /// A socket representing the port (its listener when there is one), for the detail
    /// pane and the kill dialog.
    pub example: usize,
}

/// Processes view row: one owning process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcRow {
    pub pid: u32,
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

/// Lays out columns in `width`: minimum widths first, spare width by flex share, columns
/// that do not fit dropped from the right. Returns (x, width) per shown column.
pub fn layout_columns(specs: &[ColSpec], width: u16) -> Vec<(u16, u16)> {
    let gap = 1u16;
    let mut shown = 0usize;
    let mut used = 0u16;
    for s in specs {
        let need = s.width + if shown > 0 { gap } else { 0 };
        if used.saturating_add(need) > width {
            break;
        }
        used += need;
        shown += 1;
    }
    let spare = width - used;
    let flex: u16 = specs[..shown].iter().map(|s| s.flex).sum();
    let mut out = Vec::with_capacity(shown);
    let mut x = 0u16;
    let mut given = 0u16;
    let mut flex_seen = 0u16;
    for (i, s) in specs[..shown].iter().enumerate() {
        if i > 0 {
            x += gap;
        }
        let mut w = s.width;
        if flex > 0 && s.flex > 0 {
            flex_seen += s.flex;
            // Cumulative rounding so the shares add up to exactly `spare`.
            let upto = (u32::from(spare) * u32::from(flex_seen) / u32::from(flex)) as u16;
            w += upto - given;
            given = upto;
        }
        out.push((x, w));
        x += w;
    }
    out
}

/// `HH:MM:SS` in UTC.
pub fn clock(t: std::time::SystemTime) -> String {
    let s = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{:02}:{:02}:{:02}", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// `42s`, `5m`, `3h`, `2d`.
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m", secs / 60),
        3600..=86_399 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}

/// `HH:MM:SS` of a Unix time in seconds; empty for 0.
pub fn clock_secs(secs: u64) -> String {
    if secs == 0 {
        String::new()
    } else {
        clock(UNIX_EPOCH + std::time::Duration::from_secs(secs))
    }
}

/// `250ms`, `1s`, `2.5s`, `1m`.
pub fn fmt_interval(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
