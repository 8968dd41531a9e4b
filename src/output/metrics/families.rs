//! The families whose size depends on the host (ports, processes, listeners, their
//! queues, stopped holders), each cut to the top N with the rest in `other`.

use super::{Inputs, Labels, family_proto, labels, state_label, top_n};
use crate::model::{Snapshot, Socket, State};
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::RangeInclusive;

/// Listeners: TCP LISTEN, and UDP bound outside the ephemeral range (a UDP socket on an
/// ephemeral port is a client's).
pub(super) fn listeners<'a>(
    snap: &'a Snapshot,
    ephemeral: &RangeInclusive<u16>,
) -> Vec<&'a Socket> {
    snap.sockets
        .iter()
        .filter(|s| {
            s.state == State::Listen
                || (!s.proto.is_tcp() && s.is_listener() && !ephemeral.contains(&s.local.port()))
        })
        .collect()
}

/// Where listeners stand under top N: the port serving the most connections first, then
/// the lower port (stable while nothing connects). Connections waiting in an accept queue
/// count, so a listener whose backlog fills climbs into the named ones.
fn port_rank(served: &HashMap<u16, u64>, port: u16) -> (Reverse<u64>, u16) {
    (Reverse(served.get(&port).copied().unwrap_or(0)), port)
}

/// `listener_info`: one series per listener, the top N of them by [`port_rank`]; the rest
/// are counted in one `other` series. Returns the rows and how many were folded.
pub(super) fn listener_info(
    snap: &Snapshot,
    listeners: &[&Socket],
    served: &HashMap<u16, u64>,
    top: usize,
) -> (BTreeMap<Labels, i64>, usize) {
    // Two listeners can share every label (v4 and v6 on one port): still one series.
    let mut all: BTreeMap<Labels, u16> = BTreeMap::new();
    for s in listeners {
        let p = s.owners.first().and_then(|pid| snap.processes.get(pid));
        let process = p.map_or_else(
            || format!("({})", s.owner_status.as_str()),
            |p| p.name.clone(),
        );
        // The name, or the short id: never the explanation `label()` adds.
        let container = p
            .and_then(|p| p.container.as_ref())
            .map(|c| c.name.clone().unwrap_or_else(|| c.id.clone()))
            .unwrap_or_default();
        let addr = s.local.ip().to_string();
        let port = s.local.port().to_string();
        let netns = snap.netns.name(s.netns);
        let l = labels(&[
            ("proto", family_proto(s)),
            ("addr", &addr),
            ("port", &port),
            ("process", &process),
            ("container", &container),
            ("netns", &netns),
        ]);
        all.insert(l, s.local.port());
    }
    let mut ranked: Vec<(Labels, u16)> = all.into_iter().collect();
    // Stable: ties keep the label order of the map.
    ranked.sort_by_key(|(_, port)| port_rank(served, *port));
    let folded = ranked.len().saturating_sub(top);
    let mut rows: BTreeMap<Labels, i64> =
        ranked.into_iter().take(top).map(|(l, _)| (l, 1)).collect();
    if folded > 0 {
        let other =
            ["proto", "addr", "port", "process", "container", "netns"].map(|k| (k, "other"));
        rows.insert(labels(&other), folded as i64);
    }
    (rows, folded)
}

/// The accept queue gauges, by port.
pub(super) struct Queues {
    pub(super) length: BTreeMap<Labels, i64>,
    pub(super) limit: BTreeMap<Labels, i64>,
    pub(super) folded: usize,
}

/// Accept queues of the host's TCP listeners by port: the top N ports by [`port_rank`],
/// the rest summed in `port="other"`.
pub(super) fn listen_queues(
    snap: &Snapshot,
    listeners: &[&Socket],
    served: &HashMap<u16, u64>,
    top: usize,
) -> Queues {
    let mut by_port: BTreeMap<u16, (i64, i64)> = BTreeMap::new();
    for s in listeners
        .iter()
        .filter(|s| s.state == State::Listen && snap.netns.is_host(s.netns))
    {
        let e = by_port.entry(s.local.port()).or_default();
        e.0 += i64::from(s.recv_q);
        e.1 += i64::from(s.send_q);
    }
    let mut ranked: Vec<u16> = by_port.keys().copied().collect();
    ranked.sort_by_key(|p| port_rank(served, *p));
    let kept: HashSet<u16> = ranked.iter().take(top).copied().collect();
    let mut q = Queues {
        length: BTreeMap::new(),
        limit: BTreeMap::new(),
        folded: by_port.len().saturating_sub(kept.len()),
    };
    for (port, (len, lim)) in by_port {
        let port = if kept.contains(&port) {
            port.to_string()
        } else {
            "other".to_owned()
        };
        let l = labels(&[("proto", "tcp"), ("port", &port)]);
        *q.length.entry(l.clone()).or_default() += len;
        *q.limit.entry(l).or_default() += lim;
    }
    q
}

/// `port_sockets` and what the listener families rank by.
pub(super) struct ServicePorts {
    pub(super) rows: BTreeMap<Labels, i64>,
    pub(super) folded: usize,
    /// Connections per listening port (role=server).
    pub(super) served: HashMap<u16, u64>,
}

/// Connections by service port: the local port when it is listened on (server), else
/// the remote port (client), never an ephemeral one; the top N, the rest in `other`.
pub(super) fn service_ports(
    snap: &Snapshot,
    listeners: &[&Socket],
    i: &Inputs<'_>,
) -> ServicePorts {
    let listening: HashSet<u16> = listeners
        .iter()
        .filter(|s| s.state == State::Listen)
        .map(|s| s.local.port())
        .collect();
    let mut conns: BTreeMap<(&str, u16), BTreeMap<String, u64>> = BTreeMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.proto.is_tcp() && s.state != State::Listen)
    {
        let (role, port) = if listening.contains(&s.local.port()) {
            ("server", s.local.port())
        } else if !i.ephemeral.contains(&s.remote.port()) {
            ("client", s.remote.port())
        } else {
            ("client", 0)
        };
        *conns
            .entry((role, port))
            .or_default()
            .entry(state_label(s.state))
            .or_default() += 1;
    }
    let totals: BTreeMap<(&str, u16), u64> = conns
        .iter()
        .filter(|((_, p), _)| *p != 0)
        .map(|(k, v)| (*k, v.values().sum()))
        .collect();
    let served = totals
        .iter()
        .filter(|((role, _), _)| *role == "server")
        .map(|((_, port), n)| (*port, *n))
        .collect();
    let (kept, folded) = top_n(&totals, i.top);
    let mut rows: BTreeMap<Labels, i64> = BTreeMap::new();
    for ((role, port), states) in &conns {
        let port = if kept.contains(&(*role, *port)) {
            port.to_string()
        } else {
            "other".to_owned()
        };
        for (st, n) in states {
            *rows
                .entry(labels(&[
                    ("proto", "tcp"),
                    ("role", role),
                    ("port", &port),
                    ("state", st),
                ]))
                .or_default() += *n as i64;
        }
    }
    ServicePorts {
        rows,
        folded,
        served,
    }
}

/// Sockets by owning process name and state: the top N names, the rest in `other`.
pub(super) fn process_sockets(snap: &Snapshot, top: usize) -> (BTreeMap<Labels, i64>, usize) {
    let mut procs: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for s in &snap.sockets {
        for pid in &s.owners {
            let name = snap
                .processes
                .get(pid)
                .map_or_else(|| pid.to_string(), |p| p.name.clone());
            *procs
                .entry(name)
                .or_default()
                .entry(state_label(s.state))
                .or_default() += 1;
        }
    }
    let totals: BTreeMap<String, u64> = procs
        .iter()
        .map(|(k, v)| (k.clone(), v.values().sum()))
        .collect();
    let (kept, folded) = top_n(&totals, top);
    let mut rows: BTreeMap<Labels, i64> = BTreeMap::new();
    for (name, states) in &procs {
        let name = if kept.contains(name) {
            name.as_str()
        } else {
            "other"
        };
        for (st, n) in states {
            *rows
                .entry(labels(&[("process", name), ("state", st)]))
                .or_default() += *n as i64;
        }
    }
    (rows, folded)
}

/// Listeners held by stopped or zombie processes, by (process, port, state): the top N
/// by count, the rest in `process="other",port="other"` (the state is kept).
pub(super) fn stopped_holders(
    snap: &Snapshot,
    listeners: &[&Socket],
    top: usize,
) -> (BTreeMap<Labels, i64>, usize) {
    let mut all: BTreeMap<(String, u16, &str), u64> = BTreeMap::new();
    for s in listeners.iter().filter(|s| s.state == State::Listen) {
        for p in s.owners.iter().filter_map(|pid| snap.processes.get(pid)) {
            let st = if p.is_stopped() {
                "stopped"
            } else if p.is_zombie() {
                "zombie"
            } else {
                continue;
            };
            *all.entry((p.name.clone(), s.local.port(), st)).or_default() += 1;
        }
    }
    let (kept, folded) = top_n(&all, top);
    let mut rows: BTreeMap<Labels, i64> = BTreeMap::new();
    for ((name, port, st), n) in &all {
        let (name, port) = if kept.contains(&(name.clone(), *port, *st)) {
            (name.clone(), port.to_string())
        } else {
            ("other".to_owned(), "other".to_owned())
        };
        *rows
            .entry(labels(&[
                ("process", &name),
                ("port", &port),
                ("proc_state", st),
            ]))
            .or_default() += *n as i64;
    }
    (rows, folded)
}

/// TIME-WAIT sockets by who made their connection (`Snapshot::makers`): a process name,
/// `uid:N`, or `unknown`; the top N by count, the rest in `other`. Pids are never labels
/// (they churn); names and uids are bounded by the host.
pub(super) fn time_wait_makers(snap: &Snapshot, top: usize) -> (BTreeMap<Labels, i64>, usize) {
    use crate::model::lifecycle::Maker;
    let mut all: BTreeMap<String, u64> = BTreeMap::new();
    for s in snap.sockets.iter().filter(|s| s.state == State::TimeWait) {
        let maker = match snap.maker_of(s) {
            Some(Maker::Owner { name, .. } | Maker::Listener { name, .. }) => name.clone(),
            Some(Maker::Uid { uid, .. }) => format!("uid:{uid}"),
            None => "unknown".to_owned(),
        };
        *all.entry(maker).or_default() += 1;
    }
    let (kept, folded) = top_n(&all, top);
    let mut rows: BTreeMap<Labels, i64> = BTreeMap::new();
    for (maker, n) in &all {
        let maker = if kept.contains(maker) { maker } else { "other" };
        *rows.entry(labels(&[("maker", maker)])).or_default() += *n as i64;
    }
    (rows, folded)
}
