//! The families whose size depends on the host (ports, processes, listeners, their
//! queues, stopped holders), each cut to the top N with the rest in `other`.

use super::{Inputs, Labels, family_proto, labels, state_label, top_n};
use crate::diagnose::supervisor::{is_docker_proxy, proxied};
use crate::model::{Process, Snapshot, Socket, State};
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
                || (!s.proto.is_tcp() && s.is_listener() && !ephemeral.contains(&s.local().port()))
        })
        .collect()
}

/// Where listeners stand under top N: the port serving the most connections first, then
/// the lower port (stable while nothing connects). Connections waiting in an accept queue
/// count, so a listener whose backlog fills climbs into the named ones.
fn port_rank(served: &HashMap<u16, u64>, port: u16) -> (Reverse<u64>, u16) {
    (Reverse(served.get(&port).copied().unwrap_or(0)), port)
}

/// How long after a docker-proxy starts the engine's word on its port may still be on
/// its way (the collector asks again when a proxy's port is missing from its list).
const PROXY_SETTLE: u64 = 10;

/// The `container` label of a listener held by `p`: for Docker's own docker-proxy, the
/// container the engine says publishes the port (never what the proxy's argv says);
/// else the container `p` runs in; "" for none. `None` while the engine has not named
/// it yet (a container just started), so that a series never changes its labels a few
/// seconds after it appears; a proxy the engine does not know (another engine's) is
/// "" once it is older than [`PROXY_SETTLE`] seconds.
fn container_label(p: &Process, snap: &Snapshot, port: u16) -> Option<String> {
    use crate::model::container::Access;
    let name = |c: &crate::model::Container| c.name.clone().unwrap_or_else(|| c.id.clone());
    let settling = |c: &crate::model::Container| c.access == Access::Pending;
    if is_docker_proxy(p) {
        let now = snap
            .taken_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        return match proxied(p, snap, Some(port)) {
            Some(c) if settling(c) => None,
            Some(c) => Some(name(c)),
            None if now.saturating_sub(p.start_time) < PROXY_SETTLE => None,
            None => Some(String::new()),
        };
    }
    match &p.container {
        Some(c) if settling(c) => None,
        Some(c) => Some(name(c)),
        None => Some(String::new()),
    }
}

/// The `netns` label: `host`, or for a container's namespace the name (or short id) of
/// the container its holder runs in — the same from the first scrape on, where the
/// namespace table names it after the engine's file, then the id, then the name.
fn netns_label(s: &Socket, p: Option<&Process>, snap: &Snapshot) -> String {
    if snap.netns.is_host(s.netns) {
        return "host".into();
    }
    match p.and_then(|p| p.container.as_ref()) {
        Some(c) => c.name.clone().unwrap_or_else(|| c.id.clone()),
        None => snap.netns.name(s.netns),
    }
}

/// `listener_info`: one series per listener, the top N of them by [`port_rank`]; the rest
/// are counted in one `other` series. Returns the rows and how many were folded. A
/// listener whose container the engine has not named yet waits for it.
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
        let container = match p {
            Some(p) => match container_label(p, snap, s.local().port()) {
                Some(c) => c,
                None => continue,
            },
            None => String::new(),
        };
        let addr = s.local().ip().to_string();
        let port = s.local().port().to_string();
        let netns = netns_label(s, p, snap);
        let l = labels(&[
            ("proto", family_proto(s)),
            ("addr", &addr),
            ("port", &port),
            ("process", &process),
            ("container", &container),
            ("netns", &netns),
        ]);
        all.insert(l, s.local().port());
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

/// Accept queues of the TCP listeners of every namespace read, by (namespace, port):
/// the top N by [`port_rank`], the rest summed in `port="other",netns="other"`.
pub(super) fn listen_queues(
    snap: &Snapshot,
    listeners: &[&Socket],
    served: &HashMap<u16, u64>,
    top: usize,
) -> Queues {
    let mut by_port: BTreeMap<(u16, String), (i64, i64)> = BTreeMap::new();
    for s in listeners.iter().filter(|s| s.state == State::Listen) {
        let p = s.owners.first().and_then(|pid| snap.processes.get(pid));
        let e = by_port
            .entry((s.local().port(), netns_label(s, p, snap)))
            .or_default();
        e.0 += i64::from(s.recv_q);
        e.1 += i64::from(s.send_q);
    }
    let mut ranked: Vec<&(u16, String)> = by_port.keys().collect();
    ranked.sort_by_key(|(p, ns)| (port_rank(served, *p), ns.clone()));
    let kept: HashSet<(u16, String)> = ranked.iter().take(top).map(|k| (*k).clone()).collect();
    let mut q = Queues {
        length: BTreeMap::new(),
        limit: BTreeMap::new(),
        folded: by_port.len().saturating_sub(kept.len()),
    };
    for ((port, ns), (len, lim)) in by_port {
        let (port, ns) = if kept.contains(&(port, ns.clone())) {
            (port.to_string(), ns)
        } else {
            ("other".to_owned(), "other".to_owned())
        };
        let l = labels(&[("proto", "tcp"), ("port", &port), ("netns", &ns)]);
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
        .map(|s| s.local().port())
        .collect();
    let mut conns: BTreeMap<(&str, u16), BTreeMap<String, u64>> = BTreeMap::new();
    for s in snap
        .sockets
        .iter()
        .filter(|s| s.proto.is_tcp() && s.state != State::Listen)
    {
        let (role, port) = if listening.contains(&s.local().port()) {
            ("server", s.local().port())
        } else if !i.ephemeral.contains(&s.remote().port()) {
            ("client", s.remote().port())
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
            *all.entry((p.name.clone(), s.local().port(), st))
                .or_default() += 1;
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
            Some(Maker::Owner { name, .. } | Maker::Listener { name, .. }) => name.to_string(),
            Some(Maker::Uid { uid, .. }) => format!("uid:{uid}"),
            Some(Maker::Unseen) | None => "unknown".to_owned(),
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
