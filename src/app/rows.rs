//! Building the rows of the current view: filter, aggregate (ports, processes), sort,
//! and keeping the selection on the same thing across rebuilds.

use super::App;
use super::views::{Column, PortRow, ProcRow, RowId, View};
use crate::model::{Flags, Socket, State};
use std::cmp::Ordering;
use std::collections::HashMap;

impl App {
    /// Flags of the `i`-th socket of the snapshot.
    fn socket_flags(&self, i: usize) -> Flags {
        self.flags.get(i).copied().unwrap_or_default()
    }

    /// Rebuilds the visible rows (filter, aggregate, sort) and puts the cursor back on
    /// what was selected.
    pub fn rebuild(&mut self) {
        let mut rows = std::mem::take(&mut self.rows);
        rows.clear();
        match self.view {
            View::Sockets | View::Listeners => {
                let listeners_only = self.view == View::Listeners;
                let keep = |s: &Socket, flags: Flags| {
                    (!listeners_only || s.is_listener())
                        && !(self.hide_time_wait && s.state == State::TimeWait)
                        && self.filter.query.matches_with_flags(s, &self.snap, flags)
                };
                rows.extend(
                    self.snap
                        .sockets
                        .iter()
                        .enumerate()
                        .filter(|(i, s)| keep(s, self.socket_flags(*i)))
                        .map(|(i, _)| RowId::Live(i)),
                );
                rows.extend(
                    self.ghosts
                        .iter()
                        .enumerate()
                        .filter(|(_, g)| keep(&g.socket, Flags::empty()))
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

    pub(super) fn restore_selection(&mut self) {
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

    /// Sockets that pass the filter and the TIME-WAIT toggle, with their index and flags:
    /// what the Ports and Processes views aggregate.
    fn counted(&self) -> impl Iterator<Item = (usize, &Socket, Flags)> {
        self.snap
            .sockets
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| {
                let flags = self.socket_flags(i);
                let shown = self.filter.query.matches_with_flags(s, &self.snap, flags)
                    && !(self.hide_time_wait && s.state == State::TimeWait);
                shown.then_some((i, s, flags))
            })
    }

    fn aggregate_ports(&self) -> Vec<PortRow> {
        let mut by_port: HashMap<u16, PortRow> = HashMap::new();
        for (i, s, flags) in self.counted() {
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
            row.flags = row.flags.union(flags);
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
        for (i, s, flags) in self.counted() {
            for &pid in &s.owners {
                let row = by_pid.entry(pid).or_insert_with(|| ProcRow {
                    pid,
                    example: i,
                    ..ProcRow::default()
                });
                row.sockets += 1;
                row.flags = row.flags.union(flags);
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
                    _ => {
                        // Keys computed once per row and compared as plain integers: this
                        // runs for every snapshot, on up to hundreds of thousands of rows.
                        let mut keyed: Vec<(SortKey, RowId)> = rows
                            .iter()
                            .filter_map(|r| {
                                sock(r).map(|s| (self.sort_key(column, s, self.row_flags(*r)), *r))
                            })
                            .collect();
                        keyed.sort_unstable_by_key(|k| k.0);
                        if desc {
                            keyed.reverse();
                        }
                        for (dst, (_, r)) in rows.iter_mut().zip(keyed) {
                            *dst = r;
                        }
                    }
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
                    7 => x.owners.cmp(&y.owners),
                    _ => x.flags.bits().cmp(&y.flags.bits()),
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
                    7 => px.map(|p| &p.cmdline).cmp(&py.map(|p| &p.cmdline)),
                    _ => x.flags.bits().cmp(&y.flags.bits()),
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

    /// The sort key of a socket for a non-text column, ending in a tie-break on the
    /// socket's identity (addresses, protocol, inode) so equal rows keep their order
    /// from one refresh to the next.
    fn sort_key(&self, c: Column, s: &Socket, flags: Flags) -> SortKey {
        let num = |n: u128| (0, n, 0);
        let primary: (u8, u128, u16) = match c {
            Column::Proto => num(s.proto as u128),
            Column::State => num(STATE_BY_NAME
                .iter()
                .position(|x| *x == s.state)
                .unwrap_or(0) as u128),
            Column::RecvQ => num(u128::from(s.recv_q)),
            Column::SendQ => num(u128::from(s.send_q)),
            Column::Local => (addr(&s.local).0, addr(&s.local).1, s.local.port()),
            Column::Peer => (addr(&s.remote).0, addr(&s.remote).1, s.remote.port()),
            Column::Timer => num(s.timer.map_or(0, |t| u128::from(t.expires_ms) + 1)),
            // Older first when ascending: first seen earlier.
            Column::Age => num(self
                .first_seen
                .get(&s.key())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(u128::MAX, |d| d.as_millis())),
            Column::Inode => num(u128::from(s.inode)),
            Column::Process | Column::User => num(0),
            // By port: services are named after their port.
            Column::Service => num(u128::from(s.local.port())),
            Column::Flags => num(u128::from(flags.bits())),
        };
        let (lf, lip) = addr(&s.local);
        let (rf, rip) = addr(&s.remote);
        let ports = (u32::from(s.local.port()) << 16) | u32::from(s.remote.port());
        (
            primary,
            lf,
            lip,
            ports,
            rf,
            rip,
            (s.proto as u64) << 60 | s.inode,
        )
    }
}

/// (primary, local family, local ip, ports, remote family, remote ip, proto+inode).
type SortKey = ((u8, u128, u16), u8, u128, u32, u8, u128, u64);

/// An address as (family, bits): v4 before v6, as `IpAddr` orders them.
fn addr(a: &std::net::SocketAddr) -> (u8, u128) {
    match a.ip() {
        std::net::IpAddr::V4(ip) => (0, u128::from(ip.to_bits())),
        std::net::IpAddr::V6(ip) => (1, ip.to_bits()),
    }
}

/// States in the order of their names, which is how the State column sorts.
const STATE_BY_NAME: [State; 11] = [
    State::CloseWait,
    State::Closing,
    State::Estab,
    State::FinWait1,
    State::FinWait2,
    State::LastAck,
    State::Listen,
    State::SynRecv,
    State::SynSent,
    State::TimeWait,
    State::Unconn,
];
