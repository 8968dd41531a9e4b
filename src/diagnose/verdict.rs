//! The one answer to "what holds port P, and can a server bind it?": the evidence from a
//! snapshot, the verdict with a bind probe, and the next steps. `why`, `kill`'s report,
//! `wait-free`'s timeout message and the live view's after-signal line all use it.

use super::probe::Probe;
use super::steps::{next_steps, supervisor_steps};
use super::supervisor::{Supervisor, supervisor};
use super::{process_flags, socket_flags};
use crate::model::{Command, Flags, OwnerStatus, Snapshot, State, Step};
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
    /// Something listens, but no process visible to us holds it.
    Hidden,
    /// No listener: a socket is bound to it without listening or connecting (`bind()`
    /// without `listen()`: a server not listening yet, a client that bound its port).
    Bound,
    /// No listener, but other sockets (connections) are still bound to it.
    Connections,
    /// The kernel refuses the bind but no socket of ours explains it (another network
    /// namespace sharing the port? a bind below 1024 without privilege?).
    Unexplained,
}

/// Every socket bound to one port, sorted by what it means for a server that wants it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Holders {
    pub port: u16,
    /// TCP listeners on the port (indices into the snapshot's sockets).
    pub tcp: Vec<usize>,
    /// UDP sockets bound to the port and not connected.
    pub udp: Vec<usize>,
    /// Pids holding the TCP listeners, sorted.
    pub pids: Vec<u32>,
    /// Pids holding the UDP sockets, sorted.
    pub udp_pids: Vec<u32>,
    /// TCP listeners no visible process holds.
    pub unowned: Vec<usize>,
    /// TCP sockets bound to the port that neither listen nor connect (in the snapshot
    /// only after [`crate::collect::Collector::add_bound_only`]).
    pub bound: Vec<usize>,
    /// Pids holding them, sorted.
    pub bound_pids: Vec<u32>,
    pub time_wait: usize,
    /// When the last TIME-WAIT expires, in ms.
    pub time_wait_expires_ms: u32,
    /// Who made the TIME-WAITs' connections: (index into the snapshot's makers, count),
    /// most first; the TIME-WAITs of no known maker are not in it.
    pub time_wait_by: Vec<(u32, usize)>,
    /// Other TCP sockets bound to the port (connections, not listeners or TIME-WAIT).
    pub connections: Vec<usize>,
    /// The connections among them in CLOSE-WAIT: the peer closed, the holder did not.
    pub close_wait: Vec<usize>,
    /// Listeners on the same port number in other network namespaces (a container's
    /// own port, an `ip netns`): they do not block a bind here, but people look for them.
    pub elsewhere: Vec<usize>,
}

impl Holders {
    /// "1,180 made by 4242/php-fpm, 24 by uid 33 (www-data)": who made the TIME-WAITs,
    /// when a running sockscope saw it; `None` when no maker is known.
    pub fn time_wait_makers(&self, snap: &Snapshot) -> Option<String> {
        let parts: Vec<String> = self
            .time_wait_by
            .iter()
            .enumerate()
            .filter_map(|(i, &(m, n))| {
                let maker = snap.makers.get((m as usize).checked_sub(1)?)?;
                let verb = if i == 0 { "made by " } else { "by " };
                Some(format!("{n} {verb}{}", maker.text()))
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// Reads the port's sockets out of a snapshot.
    pub fn of(snap: &Snapshot, port: u16) -> Holders {
        let mut h = Holders {
            port,
            ..Holders::default()
        };
        for (i, s) in snap.sockets.iter().enumerate() {
            if s.local().port() != port {
                continue;
            }
            if !snap.netns.is_host(s.netns) {
                if s.is_listener() {
                    h.elsewhere.push(i);
                }
                continue;
            }
            match (s.proto.is_tcp(), s.state) {
                (true, State::Listen) => {
                    h.tcp.push(i);
                    h.pids.extend(s.owners.iter().copied());
                    if s.owners.is_empty() {
                        h.unowned.push(i);
                    }
                }
                (true, State::Unconn) => {
                    h.bound.push(i);
                    h.bound_pids.extend(s.owners.iter().copied());
                }
                (true, State::TimeWait) => {
                    h.time_wait += 1;
                    let ms = s.timer.map_or(0, |t| t.expires_ms);
                    h.time_wait_expires_ms = h.time_wait_expires_ms.max(ms);
                    if s.maker != 0 {
                        match h.time_wait_by.iter_mut().find(|(m, _)| *m == s.maker) {
                            Some((_, n)) => *n += 1,
                            None => h.time_wait_by.push((s.maker, 1)),
                        }
                    }
                }
                (true, st) => {
                    h.connections.push(i);
                    if st == State::CloseWait {
                        h.close_wait.push(i);
                    }
                }
                (false, _) if s.is_listener() => {
                    h.udp.push(i);
                    h.udp_pids.extend(s.owners.iter().copied());
                }
                (false, _) => {}
            }
        }
        for pids in [&mut h.pids, &mut h.udp_pids, &mut h.bound_pids] {
            pids.sort_unstable();
            pids.dedup();
        }
        h.time_wait_by
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        h
    }

    /// The processes holding the port's CLOSE-WAIT connections.
    pub fn close_wait_pids(&self, snap: &Snapshot) -> Vec<u32> {
        let mut pids: Vec<u32> = self
            .close_wait
            .iter()
            .flat_map(|&i| snap.sockets[i].owners.iter().copied())
            .collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    /// The port's CLOSE-WAIT connections no process has accepted yet (no file refers to
    /// them: they wait in a listener's accept queue), when a listener is on the port.
    pub fn unaccepted_close_waits(&self, snap: &Snapshot) -> usize {
        if self.tcp.is_empty() {
            return 0;
        }
        self.close_wait
            .iter()
            .filter(|&&i| snap.sockets[i].inode == 0)
            .count()
    }

    /// A TCP listener is on the port, owned or not: a server's bind fails.
    pub fn listening(&self) -> bool {
        !self.tcp.is_empty()
    }
}

/// The verdict with its evidence, ready to print or serialise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub port: u16,
    pub kind: Kind,
    pub probe: Probe,
    /// Indices into the snapshot's sockets: TCP and UDP listeners on the port.
    pub listeners: Vec<usize>,
    /// Pids holding the TCP listeners, in order; with no listener, those holding the
    /// sockets bound to the port without listening ([`Kind::Bound`]).
    pub holders: Vec<u32>,
    /// Everything bound to the port.
    pub evidence: Holders,
    /// Flags of the listeners and their holders.
    pub flags: Flags,
    pub time_wait: usize,
    /// When the last TIME-WAIT expires, in ms.
    pub time_wait_expires_ms: u32,
    /// Other sockets bound to the port (connections, not listeners).
    pub connections: usize,
    /// What is behind each holder (a container, PM2, systemd, a reloader), by pid.
    pub supervisors: Vec<(u32, Supervisor)>,
    /// Short answer, one line.
    pub headline: String,
    /// What to do next, most useful first.
    pub next: Vec<Step>,
    /// The verdict is about UDP (`why --udp`), not TCP.
    pub udp: bool,
    /// Ports near this one that are free now (filled by `why` for a port in use: it
    /// needs bind probes, see [`super::free`]).
    pub free_nearby: Vec<u16>,
    /// A running sockscope's record of who made the TIME-WAITs was read (filled by
    /// `why`): a TIME-WAIT it names no maker for came from a connection it did not see.
    pub traced: bool,
}

impl Verdict {
    /// A plain bind succeeds right now.
    pub fn bindable(&self) -> bool {
        self.probe.free()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Judges `port` from a snapshot of every socket (`Scope::All`) and a fresh probe.
pub fn verdict(snap: &Snapshot, port: u16, probe: Probe, leaking: &HashSet<u32>) -> Verdict {
    let h = Holders::of(snap, port);
    let (kind, headline) = judge(snap, &h, &probe);
    // Who holds it: the listeners' owners, or when none listens those of the sockets
    // bound to it.
    let (sockets, holders) = if kind == Kind::Bound {
        (&h.bound, &h.bound_pids)
    } else {
        (&h.tcp, &h.pids)
    };
    let mut flags = Flags::empty();
    for &i in sockets {
        flags |= socket_flags(&snap.sockets[i], snap, leaking);
    }
    for p in holders.iter().filter_map(|p| snap.processes.get(p)) {
        flags |= process_flags(p);
    }
    let supervisors = supervisors_of(snap, holders, port);
    let next = next_steps(snap, &h, kind, flags, &probe, &supervisors);
    let mut listeners: Vec<usize> = h.tcp.iter().chain(&h.udp).copied().collect();
    listeners.sort_unstable();
    Verdict {
        port,
        kind,
        probe,
        listeners,
        holders: holders.clone(),
        flags,
        time_wait: h.time_wait,
        time_wait_expires_ms: h.time_wait_expires_ms,
        connections: h.connections.len(),
        supervisors,
        headline,
        next,
        udp: false,
        evidence: h,
        free_nearby: Vec::new(),
        traced: false,
    }
}

/// Judges UDP `port` (`why --udp`): the sockets bound to it, and a UDP bind probe.
pub fn verdict_udp(snap: &Snapshot, port: u16, probe: Probe) -> Verdict {
    let h = Holders::of(snap, port);
    let mut flags = Flags::empty();
    for p in h.udp_pids.iter().filter_map(|p| snap.processes.get(p)) {
        flags |= process_flags(p);
    }
    let supervisors = supervisors_of(snap, &h.udp_pids, port);
    let (kind, headline) = if !h.udp_pids.is_empty() {
        (
            Kind::Listener,
            format!(
                "UDP port {port} is in use: bound by {}",
                snap.pids_folded(&h.udp_pids)
            ),
        )
    } else if !h.udp.is_empty() {
        (
            Kind::Hidden,
            format!("UDP port {port} is in use by a socket whose owner you cannot see"),
        )
    } else if probe.free() {
        (Kind::Free, super::release::free_sentence(port, true))
    } else {
        (
            Kind::Unexplained,
            format!(
                "UDP port {port} cannot be bound ({}), and no socket here holds it",
                probe.v4.as_str()
            ),
        )
    };
    let mut next = Vec::new();
    if kind == Kind::Listener {
        next.extend(supervisor_steps(&supervisors));
        next.push(Step::run(
            "stop it:",
            Command::sockscope(["kill", &format!(":{port}"), "--udp"]),
            "",
        ));
    }
    Verdict {
        port,
        kind,
        probe,
        listeners: h.udp.clone(),
        holders: h.udp_pids.clone(),
        flags,
        time_wait: 0,
        time_wait_expires_ms: 0,
        connections: 0,
        supervisors,
        headline,
        next,
        udp: true,
        evidence: h,
        free_nearby: Vec::new(),
        traced: false,
    }
}

/// What is behind each of `pids`, by pid.
fn supervisors_of(snap: &Snapshot, pids: &[u32], port: u16) -> Vec<(u32, Supervisor)> {
    pids.iter()
        .filter_map(|pid| snap.processes.get(pid))
        .filter_map(|p| supervisor(p, snap, Some(port)).map(|s| (p.pid, s)))
        .collect()
}

/// The kind of verdict and its one-line headline.
fn judge(snap: &Snapshot, h: &Holders, probe: &Probe) -> (Kind, String) {
    let port = h.port;
    let secs = h.time_wait_expires_ms.div_ceil(1000);
    if h.listening() && !h.pids.is_empty() {
        let mut line = format!(
            "port {port} is in use: listening by {}",
            snap.pids_folded(&h.pids)
        );
        if !h.unowned.is_empty() {
            line.push_str(&format!(
                ", and {} listener{} without a visible owner",
                h.unowned.len(),
                plural(h.unowned.len())
            ));
        }
        return (Kind::Listener, line);
    }
    if h.listening() {
        let why = match snap.sockets[h.unowned[0]].owner_status {
            OwnerStatus::Hidden => "whose owner is hidden",
            OwnerStatus::OtherNs => "held by a process in another pid namespace",
            _ => "that no visible process holds",
        };
        return (
            Kind::Hidden,
            format!("port {port} is in use by a listener {why}"),
        );
    }
    if probe.free() {
        if !h.udp.is_empty() {
            let who = if h.udp_pids.is_empty() {
                "a process you cannot see".to_owned()
            } else {
                snap.pids_folded(&h.udp_pids)
            };
            return (
                Kind::Free,
                format!("port {port} is free for TCP; UDP port {port} is held by {who}"),
            );
        }
        return (Kind::Free, super::release::free_sentence(port, false));
    }
    if !h.bound.is_empty() {
        let who = if h.bound_pids.is_empty() {
            "a process you cannot see".to_owned()
        } else {
            snap.pids_folded(&h.bound_pids)
        };
        return (
            Kind::Bound,
            format!("port {port} is held by a socket bound to it without listening, by {who}"),
        );
    }
    if h.time_wait > 0 && h.connections.is_empty() {
        return (
            Kind::TimeWaitOnly,
            format!(
                "port {port} has no listener, only {} TIME-WAIT socket{}; the last expires in {secs} s",
                h.time_wait,
                plural(h.time_wait)
            ),
        );
    }
    if !h.connections.is_empty() {
        let n = h.connections.len();
        return (
            Kind::Connections,
            format!(
                "port {port} has no listener, but {n} connection{} still use{} it",
                plural(n),
                if n == 1 { "s" } else { "" }
            ),
        );
    }
    if probe.denied() && h.udp.is_empty() {
        return (
            Kind::Free,
            format!("port {port} is free (binding it needs privilege)"),
        );
    }
    (
        Kind::Unexplained,
        format!(
            "port {port} cannot be bound ({}), and no socket here holds it",
            probe.v4.as_str()
        ),
    )
}
