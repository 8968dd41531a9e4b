//! Bursts of short connections in the Events view: a client that opens and closes
//! hundreds of connections a second would fill the log (and push out everything else),
//! one line each. Within one snapshot, the short connections (no poll saw them) to one
//! service by one maker fold into one event that carries their count: "+1,204 short
//! connections to :8080 by 4242/nginx". The count is never lost (the ring counts a
//! folded event pushed out as that many dropped); the single connections are not kept
//! (`watch --json` has every one).

use crate::model::lifecycle::Maker;
use crate::model::socket::Endpoint;
use crate::model::{Addr, Event, EventKind};
use std::collections::HashMap;

/// Short connections of one snapshot, to one service by one maker, from which on they
/// fold into one line: fewer stay one line each.
pub const FOLD_AT: usize = 10;

/// What short connections fold by: TCP or UDP, namespace, and the service — the local
/// port for connections that came in on a listener, the remote address otherwise — and
/// the maker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Burst {
    tcp: bool,
    netns: u32,
    service: Service,
    by: Maker,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Service {
    /// In on a listener of this port.
    Inbound(u16),
    /// Out to this address.
    Outbound(Addr),
}

fn burst_of(e: &Event) -> Option<Burst> {
    let life = e.life.as_ref()?;
    if e.kind != EventKind::Closed || !life.short_lived {
        return None;
    }
    let service = match life.by {
        Maker::Listener { .. } => Service::Inbound(e.socket.local.port()),
        _ => Service::Outbound(e.socket.remote),
    };
    Some(Burst {
        tcp: e.socket.proto.is_tcp(),
        netns: e.socket.netns,
        service,
        by: life.by.clone(),
    })
}

/// Folds the events of one snapshot: each group of at least [`FOLD_AT`] short
/// connections with the same [`Burst`] becomes its first event, with the group's count;
/// every other event stays as it was, in order.
pub fn fold(events: Vec<Event>) -> Vec<Event> {
    let keys: Vec<Option<Burst>> = events.iter().map(burst_of).collect();
    let mut sizes: HashMap<&Burst, u32> = HashMap::new();
    for k in keys.iter().flatten() {
        *sizes.entry(k).or_default() += 1;
    }
    if !sizes.values().any(|n| *n as usize >= FOLD_AT) {
        return events;
    }
    // Where each folded group's line is: the index in `out` of its first event.
    let mut first: HashMap<&Burst, usize> = HashMap::new();
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    for (e, k) in events.into_iter().zip(&keys) {
        let Some(k) = k.as_ref().filter(|k| sizes[k] as usize >= FOLD_AT) else {
            out.push(e);
            continue;
        };
        match first.get(k) {
            Some(&at) => {
                if let Some(life) = out[at].life.as_mut() {
                    life.count = life.count.saturating_add(1);
                }
            }
            None => {
                first.insert(k, out.len());
                out.push(e);
            }
        }
    }
    out
}

/// The line of a folded burst: `+1,204 short connections to :8080 by 4242/nginx`
/// (in on a listener), `+300 short connections to 10.0.0.5:5432 by uid 33 (www-data)`
/// (out). None for an event that stands for one.
pub fn text(e: &Event) -> Option<String> {
    let life = e.life.as_ref().filter(|l| l.count > 1)?;
    let what = if e.socket.proto.is_tcp() {
        "connections"
    } else {
        "UDP sockets"
    };
    let to = match life.by {
        Maker::Listener { .. } => format!(":{}", e.socket.local.port()),
        _ => Endpoint(&e.socket.remote).to_string(),
    };
    Some(format!(
        "+{} short {what} to {to} by {}",
        thousands(u64::from(life.count)),
        life.by.text()
    ))
}

/// `8041` → `8,041`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lifecycle::{Closed, Freed, TcpInfo};
    use crate::model::{EventLog, Proto, State};

    fn closed(local: &str, remote: &str, cookie: u64, by: Maker, short: bool) -> Closed {
        Closed {
            freed: Freed {
                proto: Proto::Tcp,
                local: local.parse().unwrap(),
                remote: remote.parse().unwrap(),
                netns: 0,
                cookie,
                uid: 0,
                tcp: Some(TcpInfo::default()),
            },
            last_state: (!short).then_some(State::Estab),
            by,
        }
    }

    fn nginx() -> Maker {
        Maker::Listener {
            pid: 4242,
            name: "nginx".into(),
        }
    }

    fn uid33() -> Maker {
        Maker::Uid {
            uid: 33,
            user: Some("www-data".into()),
        }
    }

    /// One snapshot's events: 1,204 short connections in on :8080 (nginx), 12 out to
    /// 10.0.0.5:5432 by uid 33, 3 out to another address by uid 33 (too few), and one
    /// the poll saw open: three lines fold, the rest stay, in order, and the counts add
    /// up to every connection.
    fn burst() -> Vec<Event> {
        let mut cs = Vec::new();
        cs.push(closed("10.0.0.1:40000", "10.0.0.9:80", 1, uid33(), true));
        for i in 0..1204u64 {
            let remote = format!("10.0.0.7:{}", 30000 + i);
            cs.push(closed("10.0.0.1:8080", &remote, 10 + i, nginx(), true));
            if i < 12 {
                let local = format!("10.0.0.1:{}", 50000 + i);
                cs.push(closed(&local, "10.0.0.5:5432", 5000 + i, uid33(), true));
            }
        }
        cs.push(closed("10.0.0.1:40001", "10.0.0.9:80", 2, uid33(), true));
        cs.push(closed("10.0.0.1:8080", "10.0.0.7:2", 3, nginx(), false));
        cs.push(closed("10.0.0.1:40002", "10.0.0.9:80", 4, uid33(), true));
        let snap = crate::app::testkit::snapshot(1, crate::model::Scope::All, vec![], &[]);
        crate::model::events::events(&Default::default(), None, &snap, &cs, Default::default())
    }

    #[test]
    fn a_burst_folds_into_one_line_per_service_and_maker_and_keeps_its_count() {
        let events = burst();
        let all = events.len() as u64;
        assert_eq!(all, 1204 + 12 + 3 + 1);
        let folded = fold(events);
        let lines: Vec<String> = folded
            .iter()
            .map(|e| text(e).unwrap_or_else(|| format!("one {}", e.socket.local)))
            .collect();
        assert_eq!(
            lines,
            [
                "one 10.0.0.1:40000",
                "+1,204 short connections to :8080 by 4242/nginx",
                "+12 short connections to 10.0.0.5:5432 by uid 33 (www-data)",
                "one 10.0.0.1:40001",
                "one 10.0.0.1:8080",
                "one 10.0.0.1:40002",
            ]
        );
        assert_eq!(folded.iter().map(Event::count).sum::<u64>(), all);
    }

    /// Fewer than FOLD_AT of a kind stay one line each; nothing is folded across
    /// makers or services.
    #[test]
    fn a_few_short_connections_stay_as_they_are() {
        let mut cs = Vec::new();
        for i in 0..(FOLD_AT as u64 - 1) {
            let remote = format!("10.0.0.7:{}", 30000 + i);
            cs.push(closed("10.0.0.1:8080", &remote, 10 + i, nginx(), true));
            cs.push(closed("10.0.0.1:8081", &remote, 100 + i, nginx(), true));
        }
        let snap = crate::app::testkit::snapshot(1, crate::model::Scope::All, vec![], &[]);
        let events =
            crate::model::events::events(&Default::default(), None, &snap, &cs, Default::default());
        let n = events.len();
        let folded = fold(events);
        assert_eq!(folded.len(), n);
        assert!(folded.iter().all(|e| text(e).is_none()));
    }

    /// A folded line pushed out of the ring counts as every connection it stood for.
    #[test]
    fn a_folded_line_pushed_out_counts_all_it_stood_for() {
        let mut log = EventLog::new(2);
        for e in fold(burst()) {
            log.push(e);
        }
        // 6 lines into a ring of 2: the first (1), the 1,204, the 12 and one more (1)
        // were pushed out.
        assert_eq!(log.len(), 2);
        assert_eq!(log.dropped(), 1 + 1204 + 12 + 1);
        assert_eq!(log.popped(), 4);
    }
}
