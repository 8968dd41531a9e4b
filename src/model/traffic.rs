//! Traffic without packet capture: what the kernel counted per TCP connection
//! (`tcp_info`'s bytes acknowledged and received), as rates between two snapshots, per
//! connection and per process. TCP payload only (loopback included, UDP not). A
//! connection that closed in between still counts, through its destroy event's last
//! counters, toward the process that made it.

use super::lifecycle::{Closed, TcpInfo};
use super::snapshot::Snapshot;
use std::collections::HashMap;

/// Bytes per second each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    pub rx: u64,
    pub tx: u64,
}

impl Rate {
    fn add(&mut self, o: Rate) {
        self.rx = self.rx.saturating_add(o.rx);
        self.tx = self.tx.saturating_add(o.tx);
    }
}

/// The rates between two snapshots that both carried `tcp_info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Per connection of the newer snapshot, by cookie, sorted.
    pub sockets: Vec<(u64, Rate)>,
    /// Per process (the first owner of each connection; a closed one's maker).
    pub processes: HashMap<u32, Rate>,
    /// Per process as [`Traffic::processes`], in bytes moved since the snapshot before
    /// instead of per second (what a counter adds).
    pub moved: HashMap<u32, Rate>,
}

impl Traffic {
    /// A connection's rate, by cookie.
    pub fn of(&self, cookie: u64) -> Option<Rate> {
        self.sockets
            .binary_search_by_key(&cookie, |(c, _)| *c)
            .ok()
            .map(|i| self.sockets[i].1)
    }
}

/// Payload bytes moved between two readings of one connection (0 when the counters went
/// back: another connection with the same cookie cannot be, but a reset counter can).
/// Payload only: the SYN and, once `closed`, the FINs the kernel counts too are left out.
fn moved(before: Option<&TcpInfo>, after: &TcpInfo, closed: bool) -> (u64, u64) {
    let (rx0, tx0) = before.map_or((0, 0), |b| (b.received(false), b.sent(false)));
    (
        after.received(closed).saturating_sub(rx0),
        after.sent(closed).saturating_sub(tx0),
    )
}

/// Rates from `prev` to `next` (both with `tcp_info`), plus what the connections freed in
/// between moved since `prev` saw them. `None` when either snapshot lacks `tcp_info` or no
/// time passed.
pub fn rates(prev: &Snapshot, next: &Snapshot, closed: &[Closed]) -> Option<Traffic> {
    if prev.tcp.is_empty() || next.tcp.is_empty() {
        return None;
    }
    let ms = next
        .taken_at
        .duration_since(prev.taken_at)
        .ok()?
        .as_millis()
        .max(1) as u64;
    let per_sec = |bytes: u64| bytes.saturating_mul(1000) / ms;
    let before = |cookie: u64| {
        prev.tcp
            .binary_search_by_key(&cookie, |(c, _)| *c)
            .ok()
            .map(|i| &prev.tcp[i].1)
    };
    let mut t = Traffic {
        sockets: Vec::with_capacity(next.tcp.len()),
        processes: HashMap::new(),
        moved: HashMap::new(),
    };
    // Bytes per connection, to add per process (the rates are per second).
    let mut bytes: HashMap<u64, Rate> = HashMap::new();
    for (cookie, info) in &next.tcp {
        let (rx, tx) = moved(before(*cookie), info, false);
        if rx > 0 || tx > 0 {
            bytes.insert(*cookie, Rate { rx, tx });
        }
        t.sockets.push((
            *cookie,
            Rate {
                rx: per_sec(rx),
                tx: per_sec(tx),
            },
        ));
    }
    for s in next
        .sockets
        .iter()
        .filter(|s| s.proto.is_tcp() && s.cookie != 0)
    {
        let (Some(&pid), Some(r)) = (s.owners.first(), t.of(s.cookie)) else {
            continue;
        };
        if r != Rate::default() {
            t.processes.entry(pid).or_default().add(r);
        }
        if let Some(b) = bytes.get(&s.cookie) {
            t.moved.entry(pid).or_default().add(*b);
        }
    }
    for c in closed {
        let (Some(info), Some(pid)) = (&c.freed.tcp, c.by.pid()) else {
            continue;
        };
        let (rx, tx) = moved(before(c.freed.cookie), info, true);
        t.processes.entry(pid).or_default().add(Rate {
            rx: per_sec(rx),
            tx: per_sec(tx),
        });
        t.moved.entry(pid).or_default().add(Rate { rx, tx });
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{snapshot, sock};
    use crate::model::lifecycle::{Freed, Maker};
    use crate::model::{Proto, Scope, State};

    fn info(rx: u64, tx: u64) -> TcpInfo {
        TcpInfo {
            bytes_received: rx,
            bytes_acked: tx,
            ..TcpInfo::default()
        }
    }

    #[test]
    fn rates_per_connection_and_per_process_including_what_closed_between() {
        let conn = sock(
            Proto::Tcp,
            "127.0.0.1:5000",
            "127.0.0.1:40000",
            State::Estab,
            7,
            &[42],
        );
        let mut prev = snapshot(0, Scope::All, vec![conn.clone()], &[]);
        // As the kernel counts: the SYN in bytes_acked, the FINs of a closed one too.
        prev.tcp = vec![(7, info(1_000, 500)), (9, info(0, 1))];
        let mut next = snapshot(2, Scope::All, vec![conn], &[]);
        next.tcp = vec![(7, info(201_000, 40_500))];
        let closed = vec![Closed {
            freed: Freed {
                proto: Proto::Tcp,
                local: "127.0.0.1:6000".parse().unwrap(),
                remote: "127.0.0.1:40001".parse().unwrap(),
                netns: 0,
                cookie: 9,
                uid: 0,
                tcp: Some(info(10_001, 2_002)),
            },
            last_state: Some(State::Estab),
            by: Maker::Owner {
                pid: 42,
                name: "api".into(),
            },
        }];
        let t = rates(&prev, &next, &closed).unwrap();
        assert_eq!(
            t.of(7),
            Some(Rate {
                rx: 100_000,
                tx: 20_000
            })
        );
        assert_eq!(
            t.processes[&42],
            Rate {
                rx: 105_000,
                tx: 21_000
            }
        );
        // In bytes (what a counter adds): 200,000 + 10,000 received, 40,000 + 2,000 sent.
        assert_eq!(
            t.moved[&42],
            Rate {
                rx: 210_000,
                tx: 42_000
            }
        );
        // Without tcp_info on one side, nothing is made up.
        next.tcp.clear();
        assert_eq!(rates(&prev, &next, &closed), None);
    }
}
