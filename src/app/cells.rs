//! The text and highlight of each cell; called only for rows on screen.

use super::App;
use super::Mark;
use super::columns::{Col, Column, EventCol, PortCol, ProcCol};
use super::text::{fit, fit_endpoint};
use super::views::{Counts, PortRow, ProcRow, RowId, RowMark, clock, short_duration};
use crate::model::socket::Endpoint;
use crate::model::traffic::{bytes_short, idle_text, rtt_text};
use crate::model::{Event, EventKind, OwnerStatus, Proto, Socket, State};
use std::borrow::Cow;

/// The order of the state counts in the header: what people look for first.
pub const STATE_ORDER: [State; 11] = [
    State::Listen,
    State::Estab,
    State::TimeWait,
    State::CloseWait,
    State::SynSent,
    State::SynRecv,
    State::FinWait1,
    State::FinWait2,
    State::LastAck,
    State::Closing,
    State::Unconn,
];

impl App {
    /// The highlight of a row, if it changed recently or is a ghost.
    pub fn row_mark(&self, row: RowId) -> Option<RowMark> {
        match row {
            RowId::Ghost(_) => Some(RowMark::Closed),
            RowId::Live(i) => match self.live.mark_of(i as usize)? {
                Mark::New => Some(RowMark::New),
                Mark::Changed => Some(RowMark::Changed),
            },
            _ => None,
        }
    }

    /// The line of an Events row that stands for a burst of short connections
    /// ("+1,204 short connections to :8080 by 4242/nginx"), drawn across the columns
    /// after its time.
    pub fn folded_line(&self, row: RowId) -> Option<String> {
        match row {
            RowId::Event(i) => {
                super::burst::text(self.live.events.get(i as usize)?).map(str::to_owned)
            }
            _ => None,
        }
    }

    /// The text of one cell. Called only for rows on screen.
    pub fn cell(&self, row: RowId, col: Col) -> Cow<'_, str> {
        match (row, col) {
            (RowId::Live(_) | RowId::Ghost(_), Col::Socket(c)) => {
                let Some(s) = self.row_socket(row) else {
                    return Cow::Borrowed("");
                };
                match (row, c) {
                    (_, Column::Flags) => Cow::Owned(self.row_flags(row).to_string()),
                    (_, Column::Age) => self.row_first_seen(row).map_or(Cow::Borrowed(""), |t| {
                        Cow::Owned(short_duration(
                            self.live
                                .now
                                .duration_since(t)
                                .unwrap_or_default()
                                .as_secs(),
                        ))
                    }),
                    (RowId::Ghost(i), Column::Process) if !s.owners.is_empty() => {
                        Cow::Borrowed(self.live.ghosts.get(i as usize).map_or("", |g| &*g.names))
                    }
                    _ => self.socket_cell(s, c),
                }
            }
            (RowId::Port(i), Col::Port(c)) => match self.table.ports.get(i as usize) {
                Some(p) => Cow::Owned(self.port_cell(p, c)),
                None => Cow::Borrowed(""),
            },
            (RowId::Proc(i), Col::Proc(c)) => match self.table.procs.get(i as usize) {
                Some(r) => Cow::Owned(self.proc_cell(r, c)),
                None => Cow::Borrowed(""),
            },
            (RowId::Event(i), Col::Event(c)) => match self.live.events.get(i as usize) {
                Some(e) => Cow::Owned(event_cell(e, c)),
                None => Cow::Borrowed(""),
            },
            _ => Cow::Borrowed(""),
        }
    }

    /// The text of one cell cut to `width` columns the way its column reads best: an
    /// address keeps its port (its host is cut instead). Called only for rows on screen.
    pub fn fitted_cell(&self, row: RowId, col: Col, width: usize) -> String {
        fit_cell(col, &self.cell(row, col), width)
    }

    fn port_cell(&self, p: &PortRow, c: PortCol) -> String {
        match c {
            PortCol::Port => p.port.to_string(),
            PortCol::Netns => self.live.snap.netns.name(p.netns),
            PortCol::Proto => {
                let tcp = match (p.tcp4, p.tcp6) {
                    (true, true) => "tcp+tcp6",
                    (false, true) => "tcp6",
                    (true, false) => "tcp",
                    (false, false) => "",
                };
                match (tcp.is_empty(), p.udp) {
                    (false, true) => format!("{tcp}+udp"),
                    (false, false) => tcp.to_owned(),
                    (true, _) => "udp".to_owned(),
                }
            }
            PortCol::Listen => p.listen.to_string(),
            PortCol::Estab => p.estab.to_string(),
            PortCol::TimeWait => p.time_wait.to_string(),
            PortCol::ConnRate => match self.live.conns.per_sec(p.netns, p.port) {
                Some(n) if p.tcp => n.to_string(),
                _ => String::new(),
            },
            PortCol::CloseWait => p.close_wait.to_string(),
            PortCol::Total => p.total.to_string(),
            PortCol::Owners => {
                let mut text = self.pids_text(&p.owners);
                if let Some(status) = p.unowned {
                    if !text.is_empty() {
                        text.push(',');
                    }
                    text.push_str(status.placeholder());
                } else if let (true, Some(status)) = (text.is_empty(), p.ownerless) {
                    // No process holds any of its sockets: `(kernel)`, as `list` says.
                    text.push_str(status.placeholder());
                }
                text
            }
            PortCol::Flags => p.flags.to_string(),
        }
    }

    fn proc_cell(&self, r: &ProcRow, c: ProcCol) -> String {
        let p = self.live.snap.processes.get(&r.pid);
        match c {
            ProcCol::Pid => r.pid.to_string(),
            ProcCol::Name => p.map_or(String::new(), |p| p.name.clone()),
            ProcCol::User => p.and_then(|p| p.user.clone()).unwrap_or_default(),
            ProcCol::State => p.map_or(String::new(), |p| p.state.to_string()),
            ProcCol::Sockets => r.sockets.to_string(),
            ProcCol::Estab => r.estab.to_string(),
            ProcCol::CloseWait => r.close_wait.to_string(),
            ProcCol::Listening => {
                let ports: Vec<String> = r.listening.iter().map(u16::to_string).collect();
                ports.join(",")
            }
            ProcCol::Command => p.map_or(String::new(), |p| p.short_command()),
            ProcCol::Flags => r.flags.to_string(),
            ProcCol::RxRate => r.rate.map_or(String::new(), |t| bytes_short(t.rx)),
            ProcCol::TxRate => r.rate.map_or(String::new(), |t| bytes_short(t.tx)),
        }
    }

    fn socket_cell(&self, s: &Socket, c: Column) -> Cow<'_, str> {
        match c {
            Column::Proto => Cow::Borrowed(s.proto.as_str()),
            Column::State => Cow::Borrowed(s.state.as_str()),
            Column::RecvQ => Cow::Owned(s.recv_q.to_string()),
            Column::SendQ => Cow::Owned(s.send_q.to_string()),
            Column::Local => Cow::Owned(Endpoint(&s.local()).to_string()),
            Column::Peer => Cow::Owned(Endpoint(&s.remote()).to_string()),
            Column::Process if s.owners.is_empty() => {
                let mut out = String::new();
                self.live.snap.write_owners(&mut out, s);
                Cow::Owned(out)
            }
            Column::Process => Cow::Owned(self.pids_text(&s.owners)),
            Column::User if s.owner_status == OwnerStatus::Kernel => Cow::Borrowed("-"),
            Column::User => self
                .live
                .snap
                .user_name(s.uid)
                .map_or_else(|| Cow::Owned(s.uid.to_string()), Cow::Borrowed),
            Column::Timer => s
                .timer
                .map_or(Cow::Borrowed(""), |t| Cow::Owned(t.to_string())),
            Column::Inode => Cow::Owned(s.inode.to_string()),
            // Drawn by `cell`, which knows the row.
            Column::Flags | Column::Age => Cow::Borrowed(""),
            Column::Netns => Cow::Owned(self.live.snap.netns.name(s.netns)),
            Column::Service => Cow::Borrowed(
                self.settings
                    .services
                    .name(s.local().port(), s.proto.is_tcp())
                    .unwrap_or(""),
            ),
            Column::RxRate => self
                .socket_rate(s)
                .map_or(Cow::Borrowed(""), |r| Cow::Owned(bytes_short(r.rx))),
            Column::TxRate => self
                .socket_rate(s)
                .map_or(Cow::Borrowed(""), |r| Cow::Owned(bytes_short(r.tx))),
            Column::Rtt => self
                .socket_tcp(s)
                .map_or(Cow::Borrowed(""), |t| Cow::Owned(rtt_text(t.rtt_us))),
            Column::Retrans => self
                .socket_tcp(s)
                .map_or(Cow::Borrowed(""), |t| Cow::Owned(t.retrans.to_string())),
            Column::Idle => self
                .socket_tcp(s)
                .map_or(Cow::Borrowed(""), |t| Cow::Owned(idle_text(t.idle_ms()))),
        }
    }

    /// `pid/name` list.
    pub fn pids_text(&self, pids: &[u32]) -> String {
        self.live.snap.pids_text(pids)
    }

    /// Counts per state (in `STATE_ORDER`) and per protocol for the header, of every
    /// socket and of the ones the filter shows.
    pub fn counts(&self) -> Counts {
        let (mut states, mut protos) = self.live.tally;
        if let Some(c) = &self.live.collect.fresh.counts {
            // Between full tables: the collector's counts (some of them estimates).
            states = [0; 13];
            states[..12].copy_from_slice(&c.states);
            protos = c.protos;
        }
        let st = STATE_ORDER
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

/// `text`, a cell of `col`, cut to `width` columns (see [`App::fitted_cell`]).
pub fn fit_cell(col: Col, text: &str, width: usize) -> String {
    match col {
        Col::Socket(Column::Local | Column::Peer)
        | Col::Event(EventCol::Local | EventCol::Peer) => fit_endpoint(text, width),
        Col::Event(EventCol::State) => fit_change(text, width),
        Col::Event(EventCol::Owner) | Col::Socket(Column::Process) => fit_owner(text, width),
        _ => fit(text, width),
    }
}

/// A state change `FROM→TO` that does not fit keeps where it went: `…→CLOSE-WAIT`, or
/// `→CLOSE-WAIT` with no room for the `…`.
fn fit_change(text: &str, width: usize) -> String {
    let len = text.chars().count();
    match text.find('→') {
        Some(at) if len > width => {
            let to = &text[at..];
            match to.chars().count() {
                n if n < width => format!("…{to}"),
                n if n == width => to.to_owned(),
                _ => fit(text, width),
            }
        }
        _ => fit(text, width),
    }
}

/// An owner text that does not fit: `(made by 8395/python3)` says `by 8395/python3`, so
/// that the pid and the name stay readable.
fn fit_owner(text: &str, width: usize) -> String {
    if text.chars().count() > width
        && let Some(maker) = text
            .strip_prefix("(made by ")
            .and_then(|t| t.strip_suffix(')'))
    {
        return fit(&format!("by {maker}"), width);
    }
    fit(text, width)
}

fn event_cell(e: &Event, c: EventCol) -> String {
    match c {
        EventCol::Time => clock(e.at),
        EventCol::Event => e.kind.as_str().to_owned(),
        EventCol::Proto => e.socket.proto.as_str().to_owned(),
        EventCol::Local => Endpoint(&e.socket.local).to_string(),
        EventCol::Peer => Endpoint(&e.socket.remote).to_string(),
        EventCol::State => e.state_text(),
        EventCol::Owner => match &e.kind {
            EventKind::OwnerChanged { .. } => {
                format!("{}→{}", e.old_owners_text(), e.owners_text())
            }
            _ => e.owners_text().to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lifecycle::{Closed, Freed, Maker, TcpInfo};

    /// Cut cells keep what is read: a change its new state, a maker its pid and name.
    #[test]
    fn cut_changes_and_makers_keep_the_part_that_is_read() {
        let state = Col::Event(EventCol::State);
        assert_eq!(fit_cell(state, "UNCONN→CLOSE-WAIT", 12), "…→CLOSE-WAIT");
        assert_eq!(fit_cell(state, "UNCONN→CLOSE-WAIT", 11), "→CLOSE-WAIT");
        assert_eq!(fit_cell(state, "ESTAB→CLOSE-WAIT", 16), "ESTAB→CLOSE-WAIT");
        assert_eq!(fit_cell(state, "short-lived", 11), "short-lived");
        assert_eq!(fit_cell(state, "UNCONN→CLOSE-WAIT", 6), "UNCON…");
        let owner = Col::Event(EventCol::Owner);
        assert_eq!(
            fit_cell(owner, "(made by 8395/python3)", 15),
            "by 8395/python3"
        );
        assert_eq!(
            fit_cell(owner, "(made by 8395/python3)", 12),
            "by 8395/pyt…"
        );
        assert_eq!(
            fit_cell(owner, "(made by 8395/python3)", 22),
            "(made by 8395/python3)"
        );
        assert_eq!(fit_cell(owner, "100/node,101/node", 12), "100/node,10…");
    }

    /// The State cell of a closed connection: the state a poll last saw, "short-lived"
    /// for a TCP connection no poll saw (never ss's UDP word UNCONN), and UNCONN for UDP.
    #[test]
    fn a_closed_connection_no_poll_saw_says_short_lived() {
        let closed = |proto, cookie, seen: Option<State>| Closed {
            freed: Freed {
                proto,
                local: "10.0.0.1:40000".parse().unwrap(),
                remote: "10.0.0.9:80".parse().unwrap(),
                netns: 0,
                cookie,
                uid: 0,
                tcp: (proto == Proto::Tcp).then(TcpInfo::default),
            },
            last_state: seen,
            by: Maker::Unseen,
        };
        let cs = [
            closed(Proto::Tcp, 1, None),
            closed(Proto::Tcp, 2, Some(State::Estab)),
            closed(Proto::Udp, 3, None),
        ];
        let snap = crate::app::testkit::snapshot(1, crate::model::Scope::All, vec![], &[]);
        let events =
            crate::model::events::events(&Default::default(), None, &snap, &cs, Default::default());
        let states: Vec<String> = events
            .iter()
            .map(|e| event_cell(e, EventCol::State))
            .collect();
        assert_eq!(states, ["short-lived", "ESTAB", "UNCONN"]);
    }
}
