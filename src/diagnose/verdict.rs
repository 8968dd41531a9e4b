//! The verdict for one port: why a server cannot bind it, the evidence, the next step.

use super::probe::Probe;
use super::{explain, process_flags, socket_flags};
use crate::model::{Flag, Flags, OwnerStatus, Snapshot, Socket, State};
use serde::Serialize;
use std::collections::HashSet;

/// What holds the port, in order of how a person would act on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Nothing holds it: a plain bind succeeds.
    Free,
    /// A process listens on it.
    Listener,
    /// Only TIME-WAIT sockets remain; they expire by themselves.
    TimeWaitOnly,
    /// Something listens, but its owner is not visible to us.
    Hidden,
    /// No listener, but other sockets (connections) are still bound to it.
    Connections,
    /// The kernel refuses the bind but no socket of ours explains it (another network
    /// namespace sharing the port? a bind below 1024 without privilege?).
    Unexplained,
}

/// The verdict with its evidence, ready to print or serialise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub port: u16,
    pub kind: Kind,
    pub probe: Probe,
    /// Indices into the snapshot's sockets: TCP and UDP listeners on the port.
    pub listeners: Vec<usize>,
    /// Pids holding those listeners, in order.
    pub holders: Vec<u32>,
    /// Flags of the listeners and their holders.
    pub flags: Flags,
    pub time_wait: usize,
    /// When the last TIME-WAIT expires, in ms.
    pub time_wait_expires_ms: u32,
    /// Other sockets bound to the port (connections, not listeners).
    pub connections: usize,
    /// Short answer, one line.
    pub headline: String,
    /// What to do next, one or more sentences.
    pub next: Vec<String>,
}

impl Verdict {
    /// A plain bind succeeds right now.
    pub fn bindable(&self) -> bool {
        self.probe.free()
    }
}

/// Judges `port` from a snapshot of every socket (`Scope::All`) and a fresh probe.
pub fn verdict(snap: &Snapshot, port: u16, probe: Probe, leaking: &HashSet<u32>) -> Verdict {
    let on_port = |s: &&Socket| s.local.port() == port;
    let listeners: Vec<usize> = snap
        .sockets
        .iter()
        .enumerate()
        .filter(|(_, s)| on_port(s) && s.is_listener())
        .map(|(i, _)| i)
        .collect();
    let tcp_listeners: Vec<&Socket> = listeners
        .iter()
        .map(|&i| &snap.sockets[i])
        .filter(|s| s.state == State::Listen)
        .collect();
    let mut holders: Vec<u32> = tcp_listeners
        .iter()
        .flat_map(|s| s.owners.iter().copied())
        .collect();
    holders.sort_unstable();
    holders.dedup();
    let mut flags = Flags::empty();
    for s in &tcp_listeners {
        flags = flags.union(socket_flags(s, snap, leaking));
    }
    for pid in &holders {
        if let Some(p) = snap.processes.get(pid) {
            flags = flags.union(process_flags(p));
        }
    }
    let tw: Vec<&Socket> = snap
        .sockets
        .iter()
        .filter(on_port)
        .filter(|s| s.state == State::TimeWait && s.proto.is_tcp())
        .collect();
    let time_wait_expires_ms = tw
        .iter()
        .filter_map(|s| s.timer.map(|t| t.expires_ms))
        .max()
        .unwrap_or(0);
    let connections = snap
        .sockets
        .iter()
        .filter(on_port)
        .filter(|s| s.proto.is_tcp() && !s.is_listener() && s.state != State::TimeWait)
        .count();
    let names = |pids: &[u32]| -> String {
        pids.iter()
            .map(|p| match snap.processes.get(p) {
                Some(pr) => format!("{p} ({})", pr.name),
                None => p.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };

    let mut next = Vec::new();
    let (kind, headline) = if !tcp_listeners.is_empty() && !holders.is_empty() {
        next.push(format!("stop it: `sockscope kill :{port}` (sends SIGTERM, then reports whether the port was freed)"));
        for f in flags.iter().filter(|f| *f != Flag::Hidden) {
            next.push(explain(f).replace("PORT", &port.to_string()));
        }
        if flags.contains(Flag::DockerProxy) {
            next.insert(0, format!("a container publishes port {port}: `docker ps --filter publish={port}`, then `docker stop` it"));
            next.remove(1);
        }
        (
            Kind::Listener,
            format!("port {port} is in use: listening by {}", names(&holders)),
        )
    } else if !tcp_listeners.is_empty() {
        let uid = tcp_listeners[0].uid;
        let user = snap
            .user_name(uid)
            .map_or_else(|| format!("uid {uid}"), |n| format!("user {n}"));
        let status = tcp_listeners[0].owner_status;
        next.push(match status {
            OwnerStatus::Hidden => format!("its owner ({user}) is hidden from you: run `sudo sockscope why {port}` to see who it is"),
            _ => format!(
                "no visible process holds it ({user}): it may live in another pid namespace (a container); `sudo sockscope why {port}` from the host shows more"
            ),
        });
        (
            Kind::Hidden,
            format!("port {port} is in use by a listener whose owner you cannot see"),
        )
    } else if !probe.free() && !tw.is_empty() && connections == 0 {
        let secs = time_wait_expires_ms.div_ceil(1000);
        if probe.reuseaddr_free() {
            next.push(format!(
                "a server that sets SO_REUSEADDR (most do) can bind now; a plain bind must wait {secs} s (`sockscope wait-free {port}`)"
            ));
        } else {
            next.push(format!(
                "even an SO_REUSEADDR bind fails: these TIME-WAITs were left by a socket without SO_REUSEADDR; wait {secs} s (`sockscope wait-free {port}`)"
            ));
        }
        (
            Kind::TimeWaitOnly,
            format!(
                "port {port} has only {} TIME-WAIT socket{}; the last expires in {secs} s",
                tw.len(),
                if tw.len() == 1 { "" } else { "s" }
            ),
        )
    } else if !probe.free() && connections > 0 {
        let mut pids: Vec<u32> = snap
            .sockets
            .iter()
            .filter(on_port)
            .filter(|s| s.proto.is_tcp() && !s.is_listener())
            .flat_map(|s| s.owners.iter().copied())
            .collect();
        pids.sort_unstable();
        pids.dedup();
        next.push(if pids.is_empty() {
            "they belong to the kernel or to hidden owners; they end when the connections close".to_owned()
        } else {
            format!("they are held by {}: the port frees when those connections close or those processes exit", names(&pids))
        });
        (
            Kind::Connections,
            format!(
                "port {port} has no listener, but {connections} connection{} still use it",
                if connections == 1 { "" } else { "s" }
            ),
        )
    } else if probe.free() {
        next.push(format!("a server can bind port {port} now"));
        (Kind::Free, format!("port {port} is free"))
    } else if probe.denied() && listeners.is_empty() {
        next.push(format!(
            "nothing holds port {port}, but binding it needs root or CAP_NET_BIND_SERVICE"
        ));
        (
            Kind::Free,
            format!("port {port} is free (binding it needs privilege)"),
        )
    } else {
        next.push("no socket in this network namespace explains it; another namespace or a port reservation (net.ipv4.ip_local_reserved_ports) might".into());
        (
            Kind::Unexplained,
            format!(
                "port {port} cannot be bound ({}), and no socket here holds it",
                probe.v4.as_str()
            ),
        )
    };
    // The probe and the verdict are about TCP; a UDP server on the same number is
    // worth a line, since a UDP bind would fail.
    let udp: Vec<u32> = listeners
        .iter()
        .map(|&i| &snap.sockets[i])
        .filter(|s| !s.proto.is_tcp())
        .flat_map(|s| s.owners.iter().copied())
        .collect();
    if listeners.iter().any(|&i| !snap.sockets[i].proto.is_tcp()) {
        let who = if udp.is_empty() {
            "a hidden owner".to_owned()
        } else {
            names(&udp)
        };
        next.push(format!("UDP port {port} is bound by {who}: a UDP server cannot bind it (the verdict above is for TCP)"));
    }
    if flags.contains(Flag::Backlog) && kind == Kind::Listener {
        next.push(
            "the listener is unhealthy: restart it, or find why it stopped calling accept()".into(),
        );
    }
    Verdict {
        port,
        kind,
        probe,
        listeners,
        holders,
        flags,
        time_wait: tw.len(),
        time_wait_expires_ms,
        connections,
        headline,
        next,
    }
}
