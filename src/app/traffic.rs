//! Traffic in the live view: a connection's payload rates and `tcp_info` (the traffic
//! columns, the detail pane), and new connections per port (the Ports view's Conn/s).
//! The figures come from the collector (`model::traffic`, destroy events); this is what
//! the views read of them.

use super::App;
use super::detail::{Item, Tone, item};
use crate::model::{Collected, Socket, State};
use rustc_hash::FxHashMap as HashMap;

impl App {
    /// The payload rates of a TCP connection since the snapshot before (not of a
    /// listener: it moves none), when traffic is on.
    pub fn socket_rate(&self, s: &Socket) -> Option<crate::model::traffic::Rate> {
        if !s.proto.is_tcp() || s.state == State::Listen || s.cookie == 0 {
            return None;
        }
        self.live.traffic.as_ref()?.of(s.cookie)
    }

    /// A TCP connection's `tcp_info` from the snapshot (not a listener's), when traffic
    /// is on.
    pub fn socket_tcp(&self, s: &Socket) -> Option<&crate::model::lifecycle::TcpInfo> {
        if s.state == State::Listen {
            return None;
        }
        self.live.snap.tcp_of(s)
    }

    /// A TCP connection's `tcp_info`: rates since the snapshot before, round trip,
    /// retransmits, payload each way over its life, delivery rate, idle times. The
    /// collector reads it while the pane shows a connection: the first snapshot after
    /// opening has it, the one after that the rates.
    pub(super) fn tcp_items(&self, s: &Socket) -> Vec<Item> {
        use crate::model::traffic::{bytes_short, idle_text, rtt_text};
        if !s.proto.is_tcp() || s.state == State::Listen || s.state == State::TimeWait {
            return Vec::new();
        }
        let Some(t) = self.socket_tcp(s) else {
            // Only sock_diag reads tcp_info: with another collector there is nothing
            // to say.
            if self.live.snap.collector != "sockdiag" {
                return Vec::new();
            }
            let why = if self.live.snap.netns.is_host(s.netns) {
                "reading tcp_info: the next snapshot has it"
            } else {
                "no tcp_info: read in the host's network namespace only"
            };
            return vec![item("tcp", why, Tone::Plain)];
        };
        let rates = match self.socket_rate(s) {
            Some(r) => format!(
                "RX {}/s · TX {}/s (payload, since the snapshot before)",
                bytes_short(r.rx),
                bytes_short(r.tx)
            ),
            None => "RX/s and TX/s from the next snapshot on".into(),
        };
        vec![
            item("rates", rates, Tone::Plain),
            item(
                "tcp",
                format!(
                    "rtt {} ± {} · {} retransmitted segment{} · delivery rate {}/s",
                    rtt_text(t.rtt_us),
                    rtt_text(t.rttvar_us),
                    t.retrans,
                    if t.retrans == 1 { "" } else { "s" },
                    bytes_short(t.delivery_rate)
                ),
                Tone::Plain,
            ),
            item(
                "bytes",
                format!(
                    "received {} · sent {} (payload over its life, each byte once)",
                    bytes_short(t.received(false)),
                    bytes_short(t.sent(false))
                ),
                Tone::Plain,
            ),
            item(
                "idle",
                format!(
                    "last sent {} ago · last received {} ago",
                    idle_text(t.last_send_ms),
                    idle_text(t.last_recv_ms)
                ),
                Tone::Plain,
            ),
        ]
    }
}

/// New TCP connections per (network namespace, local port) between the last two
/// snapshots: those the diff saw open, and those that opened and closed between them
/// (destroy events of connections no poll saw), each once. The namespace is 0 for the
/// host's, as the Ports view keys its rows.
#[derive(Clone, Debug, Default)]
pub struct PortConns {
    per_port: HashMap<(u32, u16), u32>,
    /// Between the two snapshots; zero before there are two.
    window_ms: u64,
}

impl PortConns {
    /// From one diff and the connections freed meanwhile.
    pub fn of(c: &Collected) -> PortConns {
        let Some(prev) = c.previous.as_deref() else {
            return PortConns::default();
        };
        let snap = &c.snapshot;
        let ns = |n: u32| if snap.netns.is_host(n) { 0 } else { n };
        let mut per_port: HashMap<(u32, u16), u32> = HashMap::default();
        for s in c.delta.opened.iter().filter_map(|&i| snap.sockets.get(i)) {
            if s.proto.is_tcp() && is_new_connection(s.state) {
                *per_port.entry((ns(s.netns), s.local().port())).or_default() += 1;
            }
        }
        for closed in c.closed.iter().filter(|c| c.short_lived()) {
            let f = &closed.freed;
            if f.proto.is_tcp() {
                *per_port.entry((ns(f.netns), f.local.port())).or_default() += 1;
            }
        }
        let window_ms = snap
            .taken_at
            .duration_since(prev.taken_at)
            .map_or(0, |d| d.as_millis() as u64);
        PortConns {
            per_port,
            window_ms,
        }
    }

    /// Connections per second on a port, rounded; None before two snapshots.
    pub fn per_sec(&self, netns: u32, port: u16) -> Option<u64> {
        if self.window_ms == 0 {
            return None;
        }
        let n = u64::from(self.per_port.get(&(netns, port)).copied().unwrap_or(0));
        Some((n * 1000 + self.window_ms / 2) / self.window_ms)
    }
}

/// A socket first seen in this state is a connection that opened since the snapshot
/// before; a listener is not one, nor a TIME-WAIT or a SYN-RECV (both are what is left
/// of, or will become, a connection counted on its own).
fn is_new_connection(state: crate::model::State) -> bool {
    use crate::model::State::*;
    !matches!(state, Listen | TimeWait | SynRecv | Unconn)
}
