//! Bursts of short connections in the Events view: a client that opens and closes
//! hundreds of connections a second would fill the log (and push out everything else),
//! one line each, and as many again for the TIME-WAIT sockets they leave. Within one
//! snapshot, the short connections (no poll saw them) to one service by one maker fold
//! into one event that carries their count — "+1,204 short connections to :8080 by
//! 4242/nginx" — and so do the TIME-WAIT sockets that appeared for one service and
//! maker ("+1,204 TIME-WAIT to 10.0.0.5:5432 (made by 4242/php-fpm)").
//! The count is never lost (the ring counts a folded event pushed out as that many
//! dropped); the single events are not kept (`watch --json` has every one).

use super::text::thousands;
use crate::model::lifecycle::Maker;
use crate::model::socket::Endpoint;
use crate::model::{Addr, Event, EventKind, Folded, Snapshot, State};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Events of one snapshot of one kind, service and maker from which on they fold into
/// one line: fewer stay one line each.
pub const FOLD_AT: usize = 10;

/// What events fold by: what they are, TCP or UDP, namespace, the service — the local
/// port for connections that came in on a listener, the remote address otherwise — and
/// the maker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Burst {
    time_wait: bool,
    tcp: bool,
    netns: u32,
    service: Service,
    /// A short connection's maker, or a TIME-WAIT's owner text (`(made by …)`).
    by: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Service {
    /// In on a listener of this port.
    Inbound(u16),
    /// Out to this address.
    Outbound(Addr),
}

impl Service {
    fn text(&self) -> String {
        match self {
            Service::Inbound(port) => format!(":{port}"),
            Service::Outbound(a) => Endpoint(a).to_string(),
        }
    }
}

/// The snapshot's TCP listening ports, by namespace: a TIME-WAIT on one of them is the
/// server's end.
type Listening = HashSet<(u32, u16)>;

fn burst_of(e: &Event, listening: &Listening) -> Option<Burst> {
    let k = &e.socket;
    match (&e.kind, e.life.as_deref()) {
        (EventKind::Closed, Some(life)) if life.short_lived => Some(Burst {
            time_wait: false,
            tcp: k.proto.is_tcp(),
            netns: k.netns,
            service: match life.by {
                Maker::Listener { .. } => Service::Inbound(k.local.port()),
                _ => Service::Outbound(k.remote),
            },
            by: life.by.text(),
        }),
        (EventKind::Opened, _) if e.state == State::TimeWait => Some(Burst {
            time_wait: true,
            tcp: true,
            netns: k.netns,
            service: if listening.contains(&(k.netns, k.local.port())) {
                Service::Inbound(k.local.port())
            } else {
                Service::Outbound(k.remote)
            },
            by: e.owners_text().to_owned(),
        }),
        _ => None,
    }
}

/// The line of a folded burst of `n`.
fn line(b: &Burst, n: u32) -> String {
    let n = thousands(u64::from(n));
    let to = b.service.text();
    if b.time_wait {
        format!("+{n} TIME-WAIT to {to} {}", b.by)
    } else {
        let what = if b.tcp { "connections" } else { "UDP sockets" };
        if b.by.is_empty() {
            // Outgoing and shorter than a poll: the kernel names no maker.
            format!("+{n} short {what} to {to} (no poll saw who made them)")
        } else {
            format!("+{n} short {what} to {to} by {}", b.by)
        }
    }
}

/// Folds the events of one snapshot (`snap`, the newer one): each group of at least
/// [`FOLD_AT`] events of one [`Burst`] becomes its first event, with the group's count
/// and line; every other event stays as it was, in order. A TIME-WAIT that appeared
/// says who made its connection, when that is known (`(made by 4242/php-fpm)`), as the
/// Sockets view does.
pub fn fold(events: &mut Vec<Event>, snap: &Snapshot) {
    name_time_wait_makers(events, snap);
    // Only short connections' ends and new TIME-WAITs can fold: under churn of
    // connections that polls see, that is a few events among thousands.
    let candidate = |e: &Event| match (&e.kind, e.life.as_deref()) {
        (EventKind::Closed, Some(life)) => life.short_lived,
        (EventKind::Opened, _) => e.state == State::TimeWait,
        _ => false,
    };
    if events.iter().filter(|e| candidate(e)).take(FOLD_AT).count() < FOLD_AT {
        return;
    }
    let listening: Listening = snap
        .sockets
        .iter()
        .filter(|s| s.proto.is_tcp() && s.state == State::Listen)
        .map(|s| (s.netns, s.local().port()))
        .collect();
    // (index, burst) of the events that may fold, in order.
    let keys: Vec<(usize, Burst)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| candidate(e))
        .filter_map(|(i, e)| Some((i, burst_of(e, &listening)?)))
        .collect();
    let mut sizes: HashMap<&Burst, u32> = HashMap::default();
    for (_, k) in &keys {
        *sizes.entry(k).or_default() += 1;
    }
    if !sizes.values().any(|n| *n as usize >= FOLD_AT) {
        return;
    }
    // In place (no second vector of thousands of events under churn): each folded
    // group keeps its first event, which carries the line.
    let mut first: HashSet<&Burst> = HashSet::default();
    let mut keys = keys.iter().peekable();
    let mut at = 0;
    events.retain_mut(|e| {
        let i = at;
        at += 1;
        let Some((k, &n)) = keys
            .next_if(|(j, _)| *j == i)
            .and_then(|(_, k)| Some((k, sizes.get(k)?)))
            .filter(|(_, n)| **n as usize >= FOLD_AT)
        else {
            return true;
        };
        if !first.insert(k) {
            return false;
        }
        e.folded = Some(Box::new(Folded {
            count: n,
            line: line(k, n),
        }));
        true
    });
}

/// Opened TIME-WAIT events have no owner; the snapshot may know who made their
/// connection: their owner text says so, as the Sockets view's does.
fn name_time_wait_makers(events: &mut [Event], snap: &Snapshot) {
    let unnamed =
        |e: &Event| e.kind == EventKind::Opened && e.state == State::TimeWait && e.names.is_empty();
    if snap.makers.is_empty() || !events.iter().any(unnamed) {
        return;
    }
    // The new TIME-WAITs are few next to the table's: a map of theirs, and one pass over
    // the table's TIME-WAITs to find their makers.
    let mut wanted: HashMap<(u32, Addr, Addr), Option<&Maker>> = events
        .iter()
        .filter(|e| unnamed(e))
        .map(|e| ((e.socket.netns, e.socket.local, e.socket.remote), None))
        .collect();
    for s in snap.sockets.iter().filter(|s| s.state == State::TimeWait) {
        if let Some(slot) = wanted.get_mut(&(s.netns, s.local(), s.remote())) {
            *slot = snap.maker_of(s);
        }
    }
    for e in events.iter_mut().filter(|e| unnamed(e)) {
        let k = &e.socket;
        if let Some(Some(m)) = wanted.get(&(k.netns, k.local, k.remote)) {
            e.names = format!("(made by {})", m.text()).into();
        }
    }
}

/// The line of an event that stands for a burst; None for one that stands for one.
pub fn text(e: &Event) -> Option<&str> {
    e.folded.as_deref().map(|f| f.line.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lifecycle::{Closed, TcpInfo};
    use crate::model::{EventLog, Proto, State};

    fn closed(local: &str, remote: &str, cookie: u64, by: Maker, short: bool) -> Closed {
        let mut c =
            crate::app::testkit::short_closed(local, remote, cookie, Some(TcpInfo::default()));
        c.last_state = (!short).then_some(State::Estab);
        c.by = by;
        c
    }

    fn empty() -> Snapshot {
        crate::app::testkit::snapshot(1, crate::model::Scope::All, vec![], &[])
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
    /// 10.0.0.5:5432 that no poll saw (the kernel names no maker), 3 out to another address by uid 33 (too few), and one
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
                cs.push(closed(
                    &local,
                    "10.0.0.5:5432",
                    5000 + i,
                    Maker::Unseen,
                    true,
                ));
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
        let mut folded = events;
        fold(&mut folded, &empty());
        let lines: Vec<String> = folded
            .iter()
            .map(|e| text(e).map_or_else(|| format!("one {}", e.socket.local), str::to_owned))
            .collect();
        assert_eq!(
            lines,
            [
                "one 10.0.0.1:40000",
                "+1,204 short connections to :8080 by 4242/nginx",
                "+12 short connections to 10.0.0.5:5432 (no poll saw who made them)",
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
        let mut folded = events;
        fold(&mut folded, &empty());
        assert_eq!(folded.len(), n);
        assert!(folded.iter().all(|e| text(e).is_none()));
    }

    /// The TIME-WAIT sockets a burst left, as the diff sees them appear: 12 of nginx's
    /// connections on its :8080 (the server closed first) and 12 of uid 33's out to
    /// 10.0.0.5:5432 fold into a line each, saying who made them; 3 whose maker is not
    /// known stay single, with `(kernel)`.
    #[test]
    fn the_time_waits_of_a_burst_fold_by_service_and_maker() {
        use crate::app::testkit::sock;
        let mut sockets = vec![sock(
            Proto::Tcp,
            "0.0.0.0:8080",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[4242],
        )];
        let tw = |local: String, remote: String, maker: u32| {
            let mut s = sock(Proto::Tcp, &local, &remote, State::TimeWait, 0, &[]);
            s.maker = maker;
            s
        };
        for i in 0..12 {
            sockets.push(tw(
                "10.0.0.1:8080".into(),
                format!("10.0.0.7:{}", 30000 + i),
                1,
            ));
            sockets.push(tw(
                format!("10.0.0.1:{}", 50000 + i),
                "10.0.0.5:5432".into(),
                2,
            ));
        }
        for i in 0..3 {
            sockets.push(tw(
                format!("10.0.0.1:{}", 40000 + i),
                "10.0.0.9:80".into(),
                0,
            ));
        }
        let mut snap = crate::app::testkit::snapshot(
            1,
            crate::model::Scope::All,
            sockets,
            &[crate::app::testkit::process(4242, "nginx", 'S')],
        );
        snap.makers = vec![
            Maker::Owner {
                pid: 4242,
                name: "nginx".into(),
            },
            uid33(),
        ];
        let delta = crate::model::Delta {
            opened: (1..snap.sockets.len()).collect(),
            ..Default::default()
        };
        let events = crate::model::events::events(&delta, None, &snap, &[], Default::default());
        assert_eq!(events.len(), 27);
        let mut folded = events;
        fold(&mut folded, &snap);
        let lines: Vec<String> = folded
            .iter()
            .map(|e| text(e).map_or_else(|| e.owners_text().to_owned(), str::to_owned))
            .collect();
        assert_eq!(
            lines,
            [
                "+12 TIME-WAIT to :8080 (made by 4242/nginx)",
                "+12 TIME-WAIT to 10.0.0.5:5432 (made by uid 33 (www-data))",
                "(kernel)",
                "(kernel)",
                "(kernel)",
            ]
        );
        assert_eq!(folded.iter().map(Event::count).sum::<u64>(), 27);
    }

    /// A folded line pushed out of the ring counts as every connection it stood for.
    #[test]
    fn a_folded_line_pushed_out_counts_all_it_stood_for() {
        let mut log = EventLog::new(2);
        let mut folded = burst();
        fold(&mut folded, &empty());
        for e in folded {
            log.push(e);
        }
        // 6 lines into a ring of 2: the first (1), the 1,204, the 12 and one more (1)
        // were pushed out.
        assert_eq!(log.len(), 2);
        assert_eq!(log.dropped(), 1 + 1204 + 12 + 1);
        assert_eq!(log.popped(), 4);
    }
}
