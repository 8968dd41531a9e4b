//! The five views: their columns, how their rows are built, filtered and sorted, and the
//! text of each cell. Only the rows on screen ever have their cells formatted.

use super::{App, Mark, Sort};
use crate::model::socket::Endpoint;
use crate::model::{Proto, Scope, Socket, SocketKey, State};
use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;
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

    fn identity(&self, row: RowId) -> Option<Selected> {
        Some(match row {
            RowId::Live(_) | RowId::Ghost(_) => Selected::Socket(self.row_socket(row)?.key()),
            RowId::Port(i) => Selected::Port(self.ports.get(i)?.port),
            RowId::Proc(i) => Selected::Pid(self.procs.get(i)?.pid),
            RowId::Event(i) => Selected::Event(self.events.dropped() + i as u64),
        })
    }

    /// Rebuilds the visible rows (filter, aggregate, sort) and puts the cursor back on
    /// what was selected.
    pub fn rebuild(&mut self) {
        let mut rows = std::mem::take(&mut self.rows);
        rows.clear();
        match self.view {
            View::Sockets | View::Listeners => {
                let listeners_only = self.view == View::Listeners;
                let keep = |s: &Socket| {
                    (!listeners_only || s.is_listener())
                        && !(self.hide_time_wait && s.state == State::TimeWait)
                        && self.filter.query.matches(s, &self.snap)
                };
                rows.extend(
                    self.snap
                        .sockets
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| keep(s))
                        .map(|(i, _)| RowId::Live(i)),
                );
                rows.extend(
                    self.ghosts
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| keep(&g.socket))
                        .map(|(i, _)| RowId::Ghost(i)),
                );
            }
            View::Ports => {
                self.ports = self.aggregate_ports();
                rows.extend((0..self.ports.len()).map(RowId::Port));
            }
            View::Processes => {
                self.procs = self.aggregate_procs();
                rows.extend((0..self.procs.len()).map(RowId::Proc));
            }
            View::Events => {
                let q = &self.filter.query;
                let snap = &self.snap;
                rows.extend(
                    self.events
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| {
                            q.is_empty() || {
                                // Events match through the socket they are about, as it is now or was.
                                let s = Socket {
                                    proto: e.socket.proto,
                                    local: e.socket.local,
                                    remote: e.socket.remote,
                                    state: e.state,
                                    recv_q: 0,
                                    send_q: 0,
                                    timer: None,
                                    uid: 0,
                                    inode: e.socket.inode,
                                    cookie: 0,
                                    owners: e.owners.clone(),
                                    owner_status: crate::model::OwnerStatus::Known,
                                };
                                q.matches(&s, snap)
                            }
                        })
                        .map(|(i, _)| RowId::Event(i)),
                );
            }
        }
        self.sort_rows(&mut rows);
        self.rows = rows;
        self.restore_selection();
    }

    fn restore_selection(&mut self) {
        let found = self.selected.and_then(|sel| {
            // Fast path: the cursor still points at it.
            if let Some(r) = self.rows.get(self.cursor).copied()
                && self.identity(r) == Some(sel)
            {
                return Some(self.cursor);
            }
            self.rows
                .iter()
                .position(|r| self.identity(*r) == Some(sel))
        });
        self.cursor = found
            .unwrap_or(self.cursor)
            .min(self.rows.len().saturating_sub(1));
        self.selected = self.selected_row().and_then(|r| self.identity(r));
        self.scroll_to_cursor();
    }

    /// Moves the cursor to `index` and remembers what is there.
    pub fn select_index(&mut self, index: usize) {
        self.cursor = index.min(self.rows.len().saturating_sub(1));
        self.selected = self.selected_row().and_then(|r| self.identity(r));
        self.scroll_to_cursor();
    }

    pub fn scroll_to_cursor(&mut self) {
        let h = self.table_rows().max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + h {
            self.offset = self.cursor + 1 - h;
        }
        self.offset = self.offset.min(self.rows.len().saturating_sub(h));
    }

    fn aggregate_ports(&self) -> Vec<PortRow> {
        let mut by_port: HashMap<u16, PortRow> = HashMap::new();
        for (i, s) in self.snap.sockets.iter().enumerate() {
            if !self.filter.query.matches(s, &self.snap)
                || (self.hide_time_wait && s.state == State::TimeWait)
            {
                continue;
            }
            let port = s.local.port();
            let listener = s.is_listener();
            if !listener && self.settings.ephemeral.contains(&port) && !by_port.contains_key(&port)
            {
                continue;
            }
            let row = by_port.entry(port).or_insert_with(|| PortRow {
                port,
                example: i,
                ..PortRow::default()
            });
            if listener
                && !self
                    .snap
                    .sockets
                    .get(row.example)
                    .is_some_and(Socket::is_listener)
            {
                row.example = i;
            }
            if s.proto.is_tcp() {
                row.tcp = true;
            } else {
                row.udp = true;
            }
            row.total += 1;
            match s.state {
                State::Listen | State::Unconn => row.listen += u32::from(listener),
                State::Estab => row.estab += 1,
                State::TimeWait => row.time_wait += 1,
                State::CloseWait => row.close_wait += 1,
                _ => {}
            }
            for pid in &s.owners {
                if !row.owners.contains(pid) {
                    row.owners.push(*pid);
                }
            }
        }
        // Client sockets seen before their port's listener was: keep only ports that are
        // listened on or outside the ephemeral range.
        by_port
            .into_values()
            .filter(|r| r.listen > 0 || !self.settings.ephemeral.contains(&r.port))
            .collect()
    }

    fn aggregate_procs(&self) -> Vec<ProcRow> {
        let mut by_pid: HashMap<u32, ProcRow> = HashMap::new();
        for (i, s) in self.snap.sockets.iter().enumerate() {
            if !self.filter.query.matches(s, &self.snap)
                || (self.hide_time_wait && s.state == State::TimeWait)
            {
                continue;
            }
            for &pid in &s.owners {
                let row = by_pid.entry(pid).or_insert_with(|| ProcRow {
                    pid,
                    example: i,
                    ..ProcRow::default()
                });
                row.sockets += 1;
                if s.state == State::Estab {
                    row.estab += 1;
                }
                if s.is_listener() && !row.listening.contains(&s.local.port()) {
                    row.listening.push(s.local.port());
                    row.example = i;
                }
            }
        }
        let mut v: Vec<ProcRow> = by_pid.into_values().collect();
        for r in &mut v {
            r.listening.sort_unstable();
        }
        v
    }

    fn process_name(&self, s: &Socket) -> &str {
        s.owners
            .first()
            .and_then(|p| self.snap.processes.get(p))
            .map_or("", |p| p.name.as_str())
    }

    fn sort_rows(&self, rows: &mut [RowId]) {
        let col = self.sort_column();
        let desc = self.sort().descending;
        let dir = |o: Ordering| if desc { o.reverse() } else { o };
        match self.view {
            View::Sockets | View::Listeners => {
                let column = self
                    .settings
                    .columns
                    .get(col)
                    .copied()
                    .unwrap_or(Column::Local);
                let sock = |r: &RowId| self.row_socket(*r);
                let tie = |a: &Socket, b: &Socket| {
                    (a.local, a.remote, a.proto, a.inode)
                        .cmp(&(b.local, b.remote, b.proto, b.inode))
                };
                match column {
                    Column::Process | Column::User => {
                        // String keys: computed once per row, not once per comparison.
                        rows.sort_by_cached_key(|r| {
                            let s = sock(r);
                            let name = s.map_or(String::new(), |s| match column {
                                Column::Process => self.process_name(s).to_lowercase(),
                                _ => self.snap.user_name(s.uid).unwrap_or("").to_owned(),
                            });
                            (
                                name,
                                s.map(|s| (s.owners.first().copied(), s.local, s.remote, s.inode)),
                            )
                        });
                        if desc {
                            rows.reverse();
                        }
                    }
                    _ => rows.sort_by(|a, b| match (sock(a), sock(b)) {
                        (Some(x), Some(y)) => {
                            dir(self.cmp_socket(column, x, y).then_with(|| tie(x, y)))
                        }
                        _ => Ordering::Equal,
                    }),
                }
            }
            View::Ports => rows.sort_by(|a, b| {
                let (RowId::Port(a), RowId::Port(b)) = (a, b) else {
                    return Ordering::Equal;
                };
                let (x, y) = (&self.ports[*a], &self.ports[*b]);
                let o = match col {
                    0 => x.port.cmp(&y.port),
                    1 => (x.tcp, x.udp).cmp(&(y.tcp, y.udp)),
                    2 => x.listen.cmp(&y.listen),
                    3 => x.estab.cmp(&y.estab),
                    4 => x.time_wait.cmp(&y.time_wait),
                    5 => x.close_wait.cmp(&y.close_wait),
                    6 => x.total.cmp(&y.total),
                    _ => x.owners.cmp(&y.owners),
                };
                dir(o.then(x.port.cmp(&y.port)))
            }),
            View::Processes => rows.sort_by(|a, b| {
                let (RowId::Proc(a), RowId::Proc(b)) = (a, b) else {
                    return Ordering::Equal;
                };
                let (x, y) = (&self.procs[*a], &self.procs[*b]);
                let (px, py) = (
                    self.snap.processes.get(&x.pid),
                    self.snap.processes.get(&y.pid),
                );
                let o = match col {
                    0 => x.pid.cmp(&y.pid),
                    1 => px.map(|p| &p.name).cmp(&py.map(|p| &p.name)),
                    2 => px
                        .and_then(|p| p.user.as_ref())
                        .cmp(&py.and_then(|p| p.user.as_ref())),
                    3 => px.map(|p| p.state).cmp(&py.map(|p| p.state)),
                    4 => x.sockets.cmp(&y.sockets),
                    5 => x.estab.cmp(&y.estab),
                    6 => x.listening.cmp(&y.listening),
                    _ => px.map(|p| &p.cmdline).cmp(&py.map(|p| &p.cmdline)),
                };
                dir(o.then(x.pid.cmp(&y.pid)))
            }),
            View::Events => {
                // Log order is time order; other columns sort by their text.
                if col == 0 {
                    if desc {
                        rows.reverse();
                    }
                } else {
                    rows.sort_by_cached_key(|r| self.cell(*r, col).into_owned());
                    if desc {
                        rows.reverse();
                    }
                }
            }
        }
    }

    fn cmp_socket(&self, c: Column, a: &Socket, b: &Socket) -> Ordering {
        match c {
            Column::Proto => a.proto.cmp(&b.proto),
            Column::State => a.state.as_str().cmp(b.state.as_str()),
            Column::RecvQ => a.recv_q.cmp(&b.recv_q),
            Column::SendQ => a.send_q.cmp(&b.send_q),
            Column::Local => (a.local.ip(), a.local.port()).cmp(&(b.local.ip(), b.local.port())),
            Column::Peer => (a.remote.ip(), a.remote.port()).cmp(&(b.remote.ip(), b.remote.port())),
            Column::Process | Column::User => Ordering::Equal,
            Column::Timer => a
                .timer
                .map(|t| t.expires_ms)
                .cmp(&b.timer.map(|t| t.expires_ms)),
            // Older first when ascending: first seen earlier.
            Column::Age => self
                .first_seen
                .get(&a.key())
                .cmp(&self.first_seen.get(&b.key())),
            Column::Inode => a.inode.cmp(&b.inode),
        }
    }

    /// The highlight of a row, if it changed recently or is a ghost.
    pub fn row_mark(&self, row: RowId) -> Option<RowMark> {
        match row {
            RowId::Ghost(_) => Some(RowMark::Closed),
            RowId::Live(i) => match self.marks.get(&self.snap.sockets.get(i)?.key()) {
                Some((Mark::New, _)) => Some(RowMark::New),
                Some((Mark::Changed, _)) => Some(RowMark::Changed),
                None => None,
            },
            _ => None,
        }
    }

    /// The text of one cell. Called only for rows on screen.
    pub fn cell(&self, row: RowId, col: usize) -> Cow<'_, str> {
        match row {
            RowId::Live(_) | RowId::Ghost(_) => {
                let Some(s) = self.row_socket(row) else {
                    return Cow::Borrowed("");
                };
                let Some(c) = self.settings.columns.get(col) else {
                    return Cow::Borrowed("");
                };
                self.socket_cell(s, *c)
            }
            RowId::Port(i) => {
                let Some(p) = self.ports.get(i) else {
                    return Cow::Borrowed("");
                };
                Cow::Owned(match col {
                    0 => p.port.to_string(),
                    1 => match (p.tcp, p.udp) {
                        (true, true) => "tcp+udp".into(),
                        (true, false) => "tcp".into(),
                        _ => "udp".into(),
                    },
                    2 => p.listen.to_string(),
                    3 => p.estab.to_string(),
                    4 => p.time_wait.to_string(),
                    5 => p.close_wait.to_string(),
                    6 => p.total.to_string(),
                    _ => self.pids_text(&p.owners),
                })
            }
            RowId::Proc(i) => {
                let Some(r) = self.procs.get(i) else {
                    return Cow::Borrowed("");
                };
                let p = self.snap.processes.get(&r.pid);
                Cow::Owned(match col {
                    0 => r.pid.to_string(),
                    1 => p.map_or(String::new(), |p| p.name.clone()),
                    2 => p.and_then(|p| p.user.clone()).unwrap_or_default(),
                    3 => p.map_or(String::new(), |p| p.state.to_string()),
                    4 => r.sockets.to_string(),
                    5 => r.estab.to_string(),
                    6 => {
                        let ports: Vec<String> = r.listening.iter().map(u16::to_string).collect();
                        ports.join(",")
                    }
                    _ => p.map_or(String::new(), |p| p.command()),
                })
            }
            RowId::Event(i) => {
                let Some(e) = self.events.get(i) else {
                    return Cow::Borrowed("");
                };
                Cow::Owned(match col {
                    0 => clock(e.at),
                    1 => e.kind.as_str().to_owned(),
                    2 => e.socket.proto.as_str().to_owned(),
                    3 => Endpoint(&e.socket.local).to_string(),
                    4 => Endpoint(&e.socket.remote).to_string(),
                    5 => match &e.kind {
                        crate::model::EventKind::StateChanged { from } => {
                            format!("{from}→{}", e.state)
                        }
                        _ => e.state.to_string(),
                    },
                    _ => match &e.kind {
                        crate::model::EventKind::OwnerChanged { from } => {
                            format!("{}→{}", self.pids_text(from), self.pids_text(&e.owners))
                        }
                        _ => self.pids_text(&e.owners),
                    },
                })
            }
        }
    }

    fn socket_cell(&self, s: &Socket, c: Column) -> Cow<'_, str> {
        match c {
            Column::Proto => Cow::Borrowed(s.proto.as_str()),
            Column::State => Cow::Borrowed(s.state.as_str()),
            Column::RecvQ => Cow::Owned(s.recv_q.to_string()),
            Column::SendQ => Cow::Owned(s.send_q.to_string()),
            Column::Local => Cow::Owned(Endpoint(&s.local).to_string()),
            Column::Peer => Cow::Owned(Endpoint(&s.remote).to_string()),
            Column::Process => {
                if s.owners.is_empty() {
                    return Cow::Borrowed(match s.owner_status {
                        crate::model::OwnerStatus::Kernel => "(kernel)",
                        crate::model::OwnerStatus::Hidden => "(hidden)",
                        _ => "(unknown)",
                    });
                }
                Cow::Owned(self.pids_text(&s.owners))
            }
            Column::User => {
                if s.owner_status == crate::model::OwnerStatus::Kernel {
                    Cow::Borrowed("-")
                } else {
                    self.snap
                        .user_name(s.uid)
                        .map_or_else(|| Cow::Owned(s.uid.to_string()), Cow::Borrowed)
                }
            }
            Column::Timer => s
                .timer
                .map_or(Cow::Borrowed(""), |t| Cow::Owned(t.to_string())),
            Column::Age => self
                .first_seen
                .get(&s.key())
                .map_or(Cow::Borrowed(""), |t| {
                    Cow::Owned(short_duration(
                        self.now.duration_since(*t).unwrap_or_default().as_secs(),
                    ))
                }),
            Column::Inode => Cow::Owned(s.inode.to_string()),
        }
    }

    /// `pid/name` list.
    pub fn pids_text(&self, pids: &[u32]) -> String {
        let mut out = String::new();
        for (i, pid) in pids.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = match self.snap.processes.get(pid) {
                Some(p) => write!(out, "{pid}/{}", p.name),
                None => write!(out, "{pid}"),
            };
        }
        out
    }

    /// Counts per state and per protocol for the header.
    pub fn counts(&self) -> Counts {
        let mut states = [0usize; 12];
        let mut protos = [0usize; 4];
        for s in &self.snap.sockets {
            states[s.state as usize] += 1;
            protos[s.proto as usize] += 1;
        }
        let st = State::ALL
            .into_iter()
            .map(|s| (s, states[s as usize]))
            .filter(|(_, n)| *n > 0)
            .collect();
        let pr = [Proto::Tcp, Proto::Tcp6, Proto::Udp, Proto::Udp6]
            .into_iter()
            .map(|p| (p, protos[p as usize]))
            .filter(|(_, n)| *n > 0)
            .collect();
        (st, pr)
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
