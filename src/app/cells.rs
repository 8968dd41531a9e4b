//! The text and highlight of each cell; called only for rows on screen.

use super::App;
use super::Mark;
use super::views::{Column, Counts, RowId, RowMark, clock, short_duration};
use crate::model::socket::Endpoint;
use crate::model::{Proto, Socket, State};
use std::borrow::Cow;

impl App {
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
                if *c == Column::Flags {
                    return Cow::Owned(self.row_flags(row).to_string());
                }
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
                    7 => self.pids_text(&p.owners),
                    _ => p.flags.to_string(),
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
                    7 => p.map_or(String::new(), |p| p.command()),
                    _ => r.flags.to_string(),
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
                    return Cow::Borrowed(s.owner_status.placeholder());
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
            // Filled in by `cell`, which knows the row.
            Column::Flags => Cow::Borrowed(""),
            Column::Service => Cow::Borrowed(
                self.settings
                    .services
                    .name(s.local.port(), s.proto.is_tcp())
                    .unwrap_or(""),
            ),
        }
    }

    /// `pid/name` list.
    pub fn pids_text(&self, pids: &[u32]) -> String {
        self.snap.pids_text(pids)
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
