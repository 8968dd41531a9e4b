//! Every column of every view, each defined once: its title and short title, its
//! widths, how long it survives on a narrow terminal, and whether it is numeric (then it
//! is right-aligned and sorts biggest first, as in htop). The text of a cell is in
//! `cells.rs` and its sort key in `rows.rs`, both matched on these enums.

use super::views::View;
use strum::{EnumIter, IntoEnumIterator};

/// Columns of the Sockets and Listeners views (chosen in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter)]
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
    /// The network namespace: `host`, an `ip netns` name, a container's name.
    Netns,
    /// Traffic (`tcp_info`, TCP only): payload bytes received per second since the
    /// snapshot before.
    RxRate,
    /// Payload bytes sent (each once, retransmits not again) per second.
    TxRate,
    /// Smoothed round-trip time.
    Rtt,
    /// Segments retransmitted over the connection's life.
    Retrans,
    /// Since the last data either way.
    Idle,
}

/// Columns of the Ports view: one row per local port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter)]
pub enum PortCol {
    Port,
    /// The network namespace, while some socket is not the host's.
    Netns,
    Proto,
    Listen,
    Estab,
    TimeWait,
    /// New connections per second: those a poll saw open and those that opened and
    /// closed between two polls (destroy events).
    ConnRate,
    CloseWait,
    Total,
    Owners,
    Flags,
}

/// Columns of the Processes view: one row per owning process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter)]
pub enum ProcCol {
    Pid,
    Name,
    User,
    State,
    Sockets,
    Estab,
    CloseWait,
    Listening,
    Flags,
    /// Payload bytes per second of its TCP connections, and of those that closed
    /// between the polls (destroy events).
    RxRate,
    TxRate,
    /// Last: it takes the rest of the line, cut at the right, as htop's.
    Command,
}

/// Columns of the Events view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter)]
pub enum EventCol {
    Time,
    Event,
    Proto,
    Local,
    Peer,
    State,
    Owner,
}

/// A column of any view.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Col {
    Socket(Column),
    Port(PortCol),
    Proc(ProcCol),
    Event(EventCol),
}

/// How a column is laid out and sorted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColSpec {
    pub title: &'static str,
    /// Used when the title and the sort arrow do not fit; never longer than `width - 1`.
    pub short: &'static str,
    /// Minimum width.
    pub width: u16,
    /// Share of the spare width.
    pub flex: u16,
    /// Right-aligned, and sorted biggest first when first chosen.
    pub numeric: bool,
    /// Columns with lower `keep` are dropped first when the terminal is narrow.
    pub keep: u8,
}

const fn spec(
    title: &'static str,
    short: &'static str,
    width: u16,
    flex: u16,
    keep: u8,
) -> ColSpec {
    ColSpec {
        title,
        short,
        width,
        flex,
        numeric: false,
        keep,
    }
}

const fn num(title: &'static str, short: &'static str, width: u16, keep: u8) -> ColSpec {
    ColSpec {
        title,
        short,
        width,
        flex: 0,
        numeric: true,
        keep,
    }
}

impl Column {
    /// The name in the config file's `columns` list.
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
            Column::Netns => "netns",
            Column::RxRate => "rx_rate",
            Column::TxRate => "tx_rate",
            Column::Rtt => "rtt",
            Column::Retrans => "retrans",
            Column::Idle => "idle",
        }
    }

    /// The columns without the traffic ones (those cost a `tcp_info` per connection:
    /// `T` adds them, or the config names them).
    pub fn all() -> impl Iterator<Item = Column> {
        Column::iter().filter(|c| !c.is_traffic())
    }

    /// The traffic columns, in the order `T` adds them.
    pub const TRAFFIC: [Column; 5] = [
        Column::RxRate,
        Column::TxRate,
        Column::Rtt,
        Column::Retrans,
        Column::Idle,
    ];

    /// A column read from `tcp_info`: while one is on screen the collector asks for it.
    pub fn is_traffic(self) -> bool {
        Column::TRAFFIC.contains(&self)
    }

    /// Every column the config may name.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Column::iter().map(Column::key)
    }

    pub fn parse(s: &str) -> Option<Column> {
        Column::iter().find(|c| c.key() == s)
    }

    fn spec(self, view: View) -> ColSpec {
        match self {
            // Five columns: `tcp6`, and the title without an arrow (`Pr▲` with one). In
            // the Sockets view it stays as long as the addresses (with the traffic
            // columns too): a connected UDP socket is ESTAB like a TCP connection, only
            // this column tells them apart.
            Column::Proto if view == View::Sockets => spec("Proto", "Pr", 5, 0, 9),
            Column::Proto => spec("Proto", "Pr", 5, 0, 6),
            Column::State => spec("State", "St", 10, 0, 8),
            Column::RecvQ => num("Recv-Q", "RQ", 7, 3),
            Column::SendQ => num("Send-Q", "SQ", 7, 2),
            // An address cut keeps its port (see `fit_endpoint`): 19 holds
            // `192.168.100.20:54321`, and Proto, State, Local, Peer, Process and Flags
            // fit 80 columns.
            Column::Local => spec("Local", "Local", 19, 2, 10),
            // A listener's peer is always `*:*`: in the Listeners view it goes first.
            Column::Peer if view == View::Listeners => spec("Peer", "Peer", 19, 2, 0),
            Column::Peer => spec("Peer", "Peer", 19, 2, 7),
            // `12345/postgres`; more pids are cut with `…` (the detail pane has them all).
            Column::Process => spec("Process", "Proc", 14, 3, 9),
            Column::User => spec("User", "User", 8, 0, 4),
            Column::Timer => spec("Timer", "Timer", 15, 0, 1),
            Column::Age => num("Age", "Age", 5, 5),
            Column::Inode => num("Inode", "Ino", 8, 1),
            Column::Flags => spec("Flags", "Flags", 8, 1, 9),
            Column::Service => spec("Service", "Svc", 10, 0, 2),
            Column::Netns => spec("NetNS", "NS", 10, 1, 7),
            // With traffic on, the rates are what is looked for: they stay with the
            // addresses (see `App::column_spec`), RTT next; the rest go first.
            Column::RxRate => num("RX/s", "RX", 6, 10),
            Column::TxRate => num("TX/s", "TX", 6, 10),
            Column::Rtt => num("RTT", "RTT", 7, 6),
            Column::Retrans => num("Retrans", "Rtx", 8, 2),
            Column::Idle => num("Idle", "Idle", 6, 3),
        }
    }
}

impl PortCol {
    fn spec(self) -> ColSpec {
        match self {
            PortCol::Port => num("Port", "Port", 6, 10),
            PortCol::Netns => spec("NetNS", "NS", 10, 1, 6),
            PortCol::Proto => spec("Proto", "Pr", 7, 0, 3),
            PortCol::Listen => num("Listen", "Lsn", 7, 7),
            PortCol::Estab => num("Estab", "Est", 6, 6),
            PortCol::TimeWait => num("TIME-WAIT", "TW", 10, 5),
            // At 80 columns it shows instead of CLOSE-WAIT (a leak is flagged anyway).
            PortCol::ConnRate => num("Conn/s", "C/s", 7, 4),
            PortCol::CloseWait => num("CLOSE-WAIT", "CW", 11, 3),
            PortCol::Total => num("Total", "All", 6, 2),
            PortCol::Owners => spec("Owners", "Owners", 16, 2, 9),
            PortCol::Flags => spec("Flags", "Flags", 8, 1, 8),
        }
    }
}

impl ProcCol {
    fn spec(self) -> ColSpec {
        match self {
            ProcCol::Pid => num("PID", "PID", 7, 10),
            // The command shows the program too: the name goes first when narrow.
            ProcCol::Name => spec("Name", "Name", 14, 0, 1),
            ProcCol::User => spec("User", "User", 8, 0, 3),
            ProcCol::State => spec("S", "S", 2, 0, 5),
            ProcCol::Sockets => num("Sockets", "Socks", 8, 7),
            ProcCol::Estab => num("Estab", "Est", 6, 2),
            ProcCol::CloseWait => num("CLOSE-WAIT", "CW", 11, 6),
            ProcCol::Listening => spec("Listening", "Lsn", 10, 0, 7),
            ProcCol::Flags => spec("Flags", "Flags", 8, 0, 8),
            ProcCol::RxRate => num("RX/s", "RX", 6, 9),
            ProcCol::TxRate => num("TX/s", "TX", 6, 9),
            ProcCol::Command => spec("Command", "Cmd", 24, 1, 8),
        }
    }
}

impl EventCol {
    fn spec(self) -> ColSpec {
        match self {
            // Newest first: time sorts like a number.
            EventCol::Time => num("Time", "Time", 8, 8),
            EventCol::Event => spec("Event", "Event", 13, 0, 9),
            EventCol::Proto => spec("Proto", "Pr", 5, 0, 3),
            // At 80 columns: Time, Event, Local, Peer, State and Owner. The peer tells
            // apart the connections of one local port; it gets the least room and goes
            // first when narrower. Addresses keep their port when cut.
            EventCol::Local => spec("Local", "Local", 15, 2, 7),
            EventCol::Peer => spec("Peer", "Peer", 13, 1, 4),
            // `short-lived`, `TIME-WAIT`, `CLOSE-WAIT`; a change (`ESTAB→CLOSE-WAIT`)
            // gets its share of spare width, and cut keeps its new state (`→CLOSE-WAIT`).
            EventCol::State => spec("State", "State", 11, 1, 6),
            // `by 8395/python3`: `(made by X)` says `by X` when it does not fit.
            EventCol::Owner => spec("Owner", "Owner", 15, 2, 5),
        }
    }
}

impl Col {
    /// Layout and sorting of this column in `view`.
    pub fn spec(self, view: View) -> ColSpec {
        match self {
            Col::Socket(c) => c.spec(view),
            Col::Port(c) => c.spec(),
            Col::Proc(c) => c.spec(),
            Col::Event(c) => c.spec(),
        }
    }

    /// A Flags column, drawn with a colour per flag.
    pub fn is_flags(self) -> bool {
        matches!(
            self,
            Col::Socket(Column::Flags) | Col::Port(PortCol::Flags) | Col::Proc(ProcCol::Flags)
        )
    }

    /// The default sort of a view.
    pub fn default_sort(view: View) -> (Col, bool) {
        match view {
            View::Sockets | View::Listeners => (Col::Socket(Column::Local), false),
            View::Ports => (Col::Port(PortCol::Port), false),
            View::Processes => (Col::Proc(ProcCol::Pid), false),
            View::Events => (Col::Event(EventCol::Time), true),
        }
    }
}

/// The fixed columns of the views that have them (the socket views' come from the
/// config).
pub fn fixed(view: View) -> Vec<Col> {
    match view {
        View::Sockets | View::Listeners => Vec::new(),
        View::Ports => PortCol::iter().map(Col::Port).collect(),
        View::Processes => ProcCol::iter().map(Col::Proc).collect(),
        View::Events => EventCol::iter().map(Col::Event).collect(),
    }
}

/// The header text of a column `w` wide: the title, or the short title when the title
/// and the sort arrow would not fit; the arrow is never cut.
pub fn header(spec: &ColSpec, w: u16, arrow: Option<char>) -> String {
    let room = usize::from(w).saturating_sub(usize::from(arrow.is_some()));
    let base = if spec.title.chars().count() <= room {
        spec.title
    } else {
        spec.short
    };
    let mut t: String = base.chars().take(room).collect();
    t.extend(arrow);
    t
}

/// Lays out columns in `width`: minimum widths first, the least important columns
/// dropped while they do not fit, then spare width. A column may `want` more than its
/// minimum (the Flags column wants its widest cell on screen): wants are met first, then
/// what is left is shared by flex. Returns, per column, its (x, width), or `None` when
/// it was dropped.
pub fn layout(specs: &[ColSpec], want: &[u16], width: u16) -> Vec<Option<(u16, u16)>> {
    let gap = 1u32;
    let mut shown: Vec<bool> = vec![true; specs.len()];
    let need = |shown: &[bool]| -> u32 {
        let n = shown.iter().filter(|s| **s).count() as u32;
        specs
            .iter()
            .zip(shown)
            .filter(|(_, s)| **s)
            .map(|(c, _)| u32::from(c.width))
            .sum::<u32>()
            + n.saturating_sub(1) * gap
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
    let mut spare = u32::from(width).saturating_sub(need(&shown));
    let mut widths: Vec<u16> = specs.iter().map(|s| s.width).collect();
    // Wants first, in column order.
    for (i, s) in specs.iter().enumerate() {
        let wanted = want.get(i).copied().unwrap_or(0);
        if shown[i] && wanted > s.width {
            let extra = (u32::from(wanted - s.width)).min(spare);
            widths[i] += extra as u16;
            spare -= extra;
        }
    }
    let flex: u32 = specs
        .iter()
        .zip(&shown)
        .filter(|(_, s)| **s)
        .map(|(c, _)| u32::from(c.flex))
        .sum();
    let mut out = Vec::with_capacity(specs.len());
    let (mut x, mut given, mut flex_seen) = (0u32, 0u32, 0u32);
    let mut first = true;
    for (i, s) in specs.iter().enumerate() {
        if !shown[i] {
            out.push(None);
            continue;
        }
        if !first {
            x += gap;
        }
        first = false;
        let mut w = u32::from(widths[i]);
        if flex > 0 && s.flex > 0 {
            flex_seen += u32::from(s.flex);
            // Cumulative rounding so the shares add up to exactly `spare`.
            let upto = spare * flex_seen / flex;
            w += upto - given;
            given = upto;
        }
        out.push(Some((x as u16, w as u16)));
        x += w;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket_specs(view: View) -> Vec<ColSpec> {
        Column::all().map(|c| Col::Socket(c).spec(view)).collect()
    }

    fn every_spec() -> Vec<ColSpec> {
        let mut all = socket_specs(View::Sockets);
        all.extend(socket_specs(View::Listeners));
        all.extend(Column::TRAFFIC.map(|c| Col::Socket(c).spec(View::Sockets)));
        for v in [View::Ports, View::Processes, View::Events] {
            all.extend(fixed(v).into_iter().map(|c| c.spec(v)));
        }
        all
    }

    #[test]
    fn every_title_and_arrow_fit_the_minimum_width() {
        for s in every_spec() {
            assert!(
                s.title.chars().count() <= usize::from(s.width),
                "{} is too narrow for its title",
                s.title
            );
            assert!(
                s.short.chars().count() < usize::from(s.width),
                "{} is too narrow for `{}▲`",
                s.title,
                s.short
            );
            let h = header(&s, s.width, Some('▲'));
            assert!(
                h.ends_with('▲') && h.chars().count() <= usize::from(s.width),
                "{h}"
            );
        }
        let recv = Col::Socket(Column::RecvQ).spec(View::Sockets);
        assert_eq!(header(&recv, 7, Some('▼')), "Recv-Q▼");
        assert_eq!(
            header(&recv, 6, Some('▼')),
            "RQ▼",
            "the short title when squeezed"
        );
        assert_eq!(header(&recv, 6, None), "Recv-Q");
    }

    #[test]
    fn narrow_terminals_drop_the_least_important_columns() {
        let specs = socket_specs(View::Sockets);
        let wide = layout(&specs, &[], 200);
        assert!(wide.iter().all(Option::is_some));
        let total: u16 =
            wide.iter().flatten().map(|(_, w)| w).sum::<u16>() + (specs.len() as u16 - 1);
        assert_eq!(total, 200, "spare width is all given out");
        let narrow = layout(&specs, &[], 80);
        let kept: Vec<&str> = specs
            .iter()
            .zip(&narrow)
            .filter(|(_, c)| c.is_some())
            .map(|(s, _)| s.title)
            .collect();
        for must in ["Process", "Local", "Flags"] {
            assert!(kept.contains(&must), "{kept:?}");
        }
        assert!(
            !kept.contains(&"Inode") && !kept.contains(&"Timer"),
            "{kept:?}"
        );
        let last = narrow.iter().flatten().last().unwrap();
        assert!(last.0 + last.1 <= 80);
        assert!(layout(&specs, &[], 0).iter().all(Option::is_none));
    }

    #[test]
    fn the_listeners_view_drops_peer_first() {
        let specs = socket_specs(View::Listeners);
        let at = |w| layout(&specs, &[], w);
        let peer = Column::all().position(|c| c == Column::Peer).unwrap();
        let full: u16 = specs.iter().map(|s| s.width + 1).sum::<u16>() - 1;
        assert!(at(full)[peer].is_some());
        let one_less = at(full - 1);
        assert!(one_less[peer].is_none());
        assert_eq!(one_less.iter().filter(|c| c.is_none()).count(), 1);
    }

    #[test]
    fn wants_are_met_before_flex() {
        let specs = vec![spec("Local", "L", 10, 2, 9), spec("Flags", "F", 5, 1, 9)];
        // 16 needed, 24 spare: 10 go to the want, the other 14 are shared 2:1.
        let cols = layout(&specs, &[0, 15], 40);
        assert_eq!((cols[0].unwrap().1, cols[1].unwrap().1), (19, 20));
        let cols = layout(&specs, &[0, 15], 26);
        assert_eq!(cols[1].unwrap().1, 15);
        assert_eq!(cols[0].unwrap().1, 10);
    }
}
