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

/// A byte count or rate in four or five characters, in units of 1024 (`0`, `512`,
/// `1.2K`, `256K`, `12M`, `1.5G`), as top and htop write memory: what the RX/s and TX/s
/// columns show.
pub fn bytes_short(n: u64) -> String {
    const UNITS: [char; 5] = ['K', 'M', 'G', 'T', 'P'];
    if n < 1024 {
        return n.to_string();
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1023.95 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if v < 9.95 {
        format!("{v:.1}{}", UNITS[unit])
    } else {
        format!("{v:.0}{}", UNITS[unit])
    }
}

/// A round-trip time in µs as people read it: `45µs`, `1.2ms`, `38ms`, `1.5s`.
pub fn rtt_text(us: u32) -> String {
    match us {
        0..=999 => format!("{us}µs"),
        1000..=9_949 => format!("{:.1}ms", f64::from(us) / 1000.0),
        9_950..=999_999 => format!("{}ms", (us + 500) / 1000),
        _ => format!("{:.1}s", f64::from(us) / 1_000_000.0),
    }
}

/// Time since the last data, in ms: `120ms` below a second, then `3s`, `4m`, `2h`.
pub fn idle_text(ms: u32) -> String {
    if ms < 1000 {
        format!("{ms}ms")
    } else {
        super::time::short_duration(u64::from(ms) / 1000)
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

    fn estab(port: u16, cookie: u64, pid: u32) -> crate::model::Socket {
        let mut s = sock(
            Proto::Tcp,
            &format!("127.0.0.1:{port}"),
            "127.0.0.1:40000",
            State::Estab,
            cookie as u32,
            &[pid],
        );
        s.cookie = cookie;
        s
    }

    /// Counters that went back (the kernel never does that for one cookie, but a
    /// reading from another source could) give 0, never a huge wrapped rate; a
    /// connection no earlier snapshot had counts all its bytes (it opened in between);
    /// one second and a half between snapshots divides by 1.5, not 1 or 2.
    #[test]
    fn a_reset_counter_is_zero_and_a_new_connection_counts_from_zero() {
        let mut prev = snapshot(0, Scope::All, vec![estab(5000, 7, 42)], &[]);
        prev.tcp = vec![(7, info(50_000, 50_000))];
        let mut next = snapshot(
            0,
            Scope::All,
            vec![estab(5000, 7, 42), estab(5001, 8, 42)],
            &[],
        );
        next.taken_at = prev.taken_at + std::time::Duration::from_millis(1500);
        next.tcp = vec![(7, info(10, 20)), (8, info(3_000, 1_501))];
        let t = rates(&prev, &next, &[]).unwrap();
        assert_eq!(t.of(7), Some(Rate { rx: 0, tx: 0 }));
        // 3,000 and 1,500 bytes (the SYN left out of bytes_acked) over 1.5 s.
        assert_eq!(
            t.of(8),
            Some(Rate {
                rx: 2_000,
                tx: 1_000
            })
        );
        assert_eq!(
            t.processes[&42],
            Rate {
                rx: 2_000,
                tx: 1_000
            }
        );
        assert_eq!(t.of(9), None);
    }

    /// A connection no poll saw (opened and closed between two snapshots) counts its
    /// whole life toward its maker; a maker with no pid (only a uid) counts toward no
    /// process; one a poll saw counts only what it moved since.
    #[test]
    fn connections_closed_between_polls_count_toward_their_maker() {
        let mut prev = snapshot(0, Scope::All, vec![estab(5000, 7, 42)], &[]);
        prev.tcp = vec![(7, info(1_000, 1_001))];
        let mut next = snapshot(1, Scope::All, vec![], &[]);
        next.tcp = vec![(99, info(0, 1))];
        let freed = |cookie: u64, rx: u64, tx: u64| Freed {
            proto: Proto::Tcp,
            local: "127.0.0.1:5000".parse().unwrap(),
            remote: "127.0.0.1:40001".parse().unwrap(),
            netns: 0,
            cookie,
            uid: 0,
            tcp: Some(info(rx, tx)),
        };
        let closed = vec![
            // Seen open by prev: 4,000 more received, 2,000 more sent (+ FIN).
            Closed {
                freed: freed(7, 5_001, 3_002),
                last_state: Some(State::Estab),
                by: Maker::Owner {
                    pid: 42,
                    name: "api".into(),
                },
            },
            // Never seen: all of it, toward the listener's owner.
            Closed {
                freed: freed(11, 10_001, 20_002),
                last_state: None,
                by: Maker::Listener {
                    pid: 43,
                    name: "nginx".into(),
                },
            },
            Closed {
                freed: freed(12, 70_001, 70_002),
                last_state: None,
                by: Maker::Uid {
                    uid: 33,
                    user: None,
                },
            },
        ];
        let t = rates(&prev, &next, &closed).unwrap();
        assert_eq!(
            t.processes[&42],
            Rate {
                rx: 4_000,
                tx: 2_000
            }
        );
        assert_eq!(
            t.processes[&43],
            Rate {
                rx: 10_000,
                tx: 20_000
            }
        );
        assert_eq!(t.processes.len(), 2, "a uid is no process");
    }

    #[test]
    fn units_as_the_columns_write_them() {
        assert_eq!(bytes_short(0), "0");
        assert_eq!(bytes_short(1023), "1023");
        assert_eq!(bytes_short(1024), "1.0K");
        assert_eq!(bytes_short(262_144), "256K");
        assert_eq!(bytes_short(10_188), "9.9K");
        assert_eq!(bytes_short(10_189), "10K");
        assert_eq!(bytes_short(1_048_575), "1.0M");
        assert_eq!(bytes_short(5 << 30), "5.0G");
        assert_eq!(rtt_text(45), "45µs");
        assert_eq!(rtt_text(1_234), "1.2ms");
        assert_eq!(rtt_text(38_400), "38ms");
        assert_eq!(rtt_text(1_500_000), "1.5s");
        assert_eq!(idle_text(120), "120ms");
        assert_eq!(idle_text(3_400), "3s");
    }
}
