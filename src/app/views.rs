//! The five views: their columns, how their rows are built, filtered and sorted, and the
//! text of each cell. Only the rows on screen ever have their cells formatted.

use super::App;
use super::columns::{Col, ColSpec, Column, PortCol, fixed};
pub use crate::model::time::{clock, clock_secs, fmt_interval, short_duration};
use crate::model::{Proto, Socket, SocketKey, State};
use strum::IntoStaticStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, IntoStaticStr)]
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
        self.into()
    }
    /// The tab's name on a narrow terminal.
    pub fn short(self) -> &'static str {
        match self {
            View::Sockets => "Sock",
            View::Listeners => "Listen",
            View::Ports => "Ports",
            View::Processes => "Procs",
            View::Events => "Events",
        }
    }
    pub fn parse(s: &str) -> Option<View> {
        View::ALL
            .into_iter()
            .find(|v| v.title().eq_ignore_ascii_case(s))
    }
    pub fn is_socket_view(self) -> bool {
        matches!(self, View::Sockets | View::Listeners)
    }
}

/// One row of the table, by what it shows: 8 bytes (4 MB at 500k sockets, where `usize`
/// indices made it 8 MB).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowId {
    /// Index into the snapshot's sockets.
    Live(u32),
    /// Index into `App::ghosts`.
    Ghost(u32),
    Port(u32),
    Proc(u32),
    /// Index into the event log, oldest first.
    Event(u32),
}

/// A row index as [`RowId`] keeps it (tables are far below 4 billion rows).
pub fn row_index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// What is selected, so that the selection follows it across refreshes and re-sorts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selected {
    Socket(SocketKey),
    /// A port of a network namespace (0: the host's).
    Port(u32, u16),
    Pid(u32),
    /// Events are identified by their position counted from the start of the log.
    Event(u64),
}

/// Ports view row: one local port of one network namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortRow {
    pub port: u16,
    /// Its network namespace: 0 for the host's.
    pub netns: u32,
    pub tcp: bool,
    /// Which TCP families have sockets on it: a v6-only listener is `tcp6`.
    pub tcp4: bool,
    pub tcp6: bool,
    pub udp: bool,
    /// Why a listener of this port has no owner, when one has none.
    pub unowned: Option<crate::model::OwnerStatus>,
    /// Why its other sockets have no owner, when none has one (`(kernel)` for a port
    /// only TIME-WAIT sockets hold).
    pub ownerless: Option<crate::model::OwnerStatus>,
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
    pub close_wait: u32,
    pub listening: Vec<u16>,
    pub example: usize,
    /// Payload bytes per second of its connections (and of those that closed between
    /// the polls); None without traffic figures.
    pub rate: Option<crate::model::traffic::Rate>,
}

impl App {
    /// The columns of the current view, in order. NetNS shows only while some socket is
    /// in another network namespace than the host's.
    pub fn columns(&self) -> Vec<Col> {
        match self.table.view {
            View::Sockets | View::Listeners => {
                let configured = &self.settings.columns;
                let mut cols: Vec<Col> = configured
                    .iter()
                    .filter(|c| **c != Column::Netns || self.live.other_netns)
                    .map(|c| Col::Socket(*c))
                    .collect();
                if self.table.traffic {
                    cols.extend(
                        Column::TRAFFIC
                            .into_iter()
                            .filter(|c| !configured.contains(c))
                            .map(Col::Socket),
                    );
                }
                cols
            }
            v => fixed(v)
                .into_iter()
                .filter(|c| *c != Col::Port(PortCol::Netns) || self.live.other_netns)
                .collect(),
        }
    }

    /// Layout specs of the current view's columns, in order.
    pub fn col_specs(&self) -> Vec<ColSpec> {
        let cols = self.columns();
        let traffic = has_traffic(&cols);
        cols.into_iter()
            .map(|c| self.column_spec(c, traffic))
            .collect()
    }

    /// A column's spec in the current view. With traffic columns on, the Sockets view
    /// keeps the peer (who the bytes go to) over the state and the flags: at 80 columns
    /// it shows Local, Peer, Process, RX/s and TX/s, as iftop and nethogs would.
    fn column_spec(&self, c: Col, traffic: bool) -> ColSpec {
        let mut spec = c.spec(self.table.view);
        if traffic && self.table.view == View::Sockets && c == Col::Socket(Column::Peer) {
            spec.keep = 9;
        }
        spec
    }

    /// The collector must read `tcp_info`: a traffic column is on screen (the Processes
    /// view always has RX/s and TX/s), or the detail pane shows a TCP connection.
    pub fn needs_traffic(&self) -> bool {
        match self.table.view {
            View::Processes => true,
            View::Sockets | View::Listeners => {
                has_traffic(&self.columns())
                    || (self.modes.detail.is_some()
                        && self
                            .selected_row()
                            .and_then(|r| self.row_socket(r))
                            .is_some_and(|s| s.proto.is_tcp() && s.state != State::Listen))
            }
            View::Ports | View::Events => false,
        }
    }

    /// Where each column of the current view goes in a table `width` wide, or `None`
    /// when it does not fit. The Flags column wants its widest cell (of every row, so
    /// that columns stay put while paging) before the address columns get spare width.
    /// Drawing and mouse clicks both use this.
    pub fn column_layout(&self, width: u16) -> Vec<(Col, Option<(u16, u16)>)> {
        let cols = self.columns();
        let traffic = has_traffic(&cols);
        let specs: Vec<ColSpec> = cols.iter().map(|c| self.column_spec(*c, traffic)).collect();
        let flags = u16::try_from(self.table.flags_width.min(40)).unwrap_or(40);
        // The sorted column wants room for its whole title and the arrow (`Proto▲`, not
        // `Pr▲`) when there is some to spare.
        let sorted = self.sort().column;
        let want: Vec<u16> = cols
            .iter()
            .zip(&specs)
            .map(|(c, spec)| {
                if c.is_flags() {
                    flags
                } else if *c == sorted {
                    u16::try_from(spec.title.chars().count() + 1).unwrap_or(0)
                } else {
                    0
                }
            })
            .collect();
        let places = super::columns::layout(&specs, &want, width);
        cols.into_iter().zip(places).collect()
    }

    /// The columns on screen, in order: what `s` and the sort menu choose from.
    pub fn visible_columns(&self) -> Vec<Col> {
        self.column_layout(self.table.width)
            .into_iter()
            .filter_map(|(c, place)| place.map(|_| c))
            .collect()
    }

    /// The view tabs of the header as (view, label, x): full names on a wide terminal,
    /// short ones (`1 Sock 2 Listen 3 Ports 4 Procs 5 Events`) below 110 columns.
    /// Drawing and mouse clicks both use this.
    pub fn tabs(&self) -> Vec<(View, String, u16)> {
        let mut x = 0u16;
        let wide = self.table.width >= 110;
        // A filter that would not fit beside the five names: the other tabs show their
        // number only (the filter typed is what the line must keep).
        // So does a terminal narrower than the five names (46 columns): a name is never
        // cut (`5 E`).
        let filter = self.modes.filter.text.chars().count();
        let width = usize::from(self.table.width);
        let compact = !wide && ((filter > 0 && 48 + 9 + filter > width) || width < 46);
        View::ALL
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let name = if wide { v.title() } else { v.short() };
                let label = if compact && *v != self.table.view {
                    format!(" {} ", i + 1)
                } else {
                    format!(" {} {name} ", i + 1)
                };
                let at = x;
                x = x.saturating_add(label.chars().count() as u16);
                (*v, label, at)
            })
            .collect()
    }

    /// The socket a row stands for (its listener for a port, any socket for a process).
    pub fn row_socket(&self, row: RowId) -> Option<&Socket> {
        match row {
            RowId::Live(i) => self.live.snap.sockets.get(i as usize),
            RowId::Ghost(i) => self.live.ghosts.get(i as usize).map(|g| &g.socket),
            RowId::Port(i) => self
                .table
                .ports
                .get(i as usize)
                .and_then(|p| self.live.snap.sockets.get(p.example)),
            RowId::Proc(i) => self
                .table
                .procs
                .get(i as usize)
                .and_then(|p| self.live.snap.sockets.get(p.example)),
            RowId::Event(_) => None,
        }
    }

    /// When the socket a row stands for was first seen.
    pub fn row_first_seen(&self, row: RowId) -> Option<std::time::SystemTime> {
        match row {
            RowId::Live(i) => self.live.first_seen_of(i as usize),
            RowId::Ghost(i) => self.live.ghosts.get(i as usize).and_then(|g| g.first_seen),
            RowId::Port(i) => self
                .table
                .ports
                .get(i as usize)
                .and_then(|p| self.live.first_seen_of(p.example)),
            RowId::Proc(i) => self
                .table
                .procs
                .get(i as usize)
                .and_then(|p| self.live.first_seen_of(p.example)),
            RowId::Event(_) => None,
        }
    }

    /// Diagnosis flags of a row (ghosts have none: they are gone).
    pub fn row_flags(&self, row: RowId) -> crate::model::Flags {
        match row {
            RowId::Live(i) => self.live.flags.get(i as usize).copied().unwrap_or_default(),
            RowId::Port(i) => self
                .table
                .ports
                .get(i as usize)
                .map(|p| p.flags)
                .unwrap_or_default(),
            RowId::Proc(i) => self
                .table
                .procs
                .get(i as usize)
                .map(|p| p.flags)
                .unwrap_or_default(),
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
        self.table.rows.get(self.table.cursor).copied()
    }

    pub(super) fn identity(&self, row: RowId) -> Option<Selected> {
        Some(match row {
            RowId::Live(_) | RowId::Ghost(_) => Selected::Socket(self.row_socket(row)?.key()),
            RowId::Port(i) => {
                let p = self.table.ports.get(i as usize)?;
                Selected::Port(p.netns, p.port)
            }
            RowId::Proc(i) => Selected::Pid(self.table.procs.get(i as usize)?.pid),
            RowId::Event(i) => Selected::Event(self.live.events.popped() + i as u64),
        })
    }
}

/// Some column is read from `tcp_info`.
fn has_traffic(cols: &[Col]) -> bool {
    cols.iter()
        .any(|c| matches!(c, Col::Socket(s) if s.is_traffic()))
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
