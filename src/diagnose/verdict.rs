//! The one answer to "what holds port P, and can a server bind it?": the evidence from a
//! snapshot, the verdict with a bind probe, and the next steps. `why`, `kill`'s report,
//! `wait-free`'s timeout message and the live view's after-signal line all use it.

use super::probe::Probe;
use super::supervisor::{Supervisor, supervisor};
use super::{process_flags, socket_flags};
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
    /// Something listens, but no process visible to us holds it.
    Hidden,
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
    pub time_wait: usize,
    /// When the last TIME-WAIT expires, in ms.
    pub time_wait_expires_ms: u32,
    /// Other TCP sockets bound to the port (connections, not listeners or TIME-WAIT).
    pub connections: Vec<usize>,
    /// The connections among them in CLOSE-WAIT: the peer closed, the holder did not.
    pub close_wait: Vec<usize>,
    /// Listeners on the same port number in other network namespaces (a container's
    /// own port, an `ip netns`): they do not block a bind here, but people look for them.
    pub elsewhere: Vec<usize>,
}

impl Holders {
    /// Reads the port's sockets out of a snapshot.
    pub fn of(snap: &Snapshot, port: u16) -> Holders {
        let mut h = Holders {
            port,
            ..Holders::default()
        };
        for (i, s) in snap.sockets.iter().enumerate() {
            if s.local.port() != port {
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
                (true, State::TimeWait) => {
                    h.time_wait += 1;
                    let ms = s.timer.map_or(0, |t| t.expires_ms);
                    h.time_wait_expires_ms = h.time_wait_expires_ms.max(ms);
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
        for pids in [&mut h.pids, &mut h.udp_pids] {
            pids.sort_unstable();
            pids.dedup();
        }
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
    /// Pids holding the TCP listeners, in order.
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
    pub next: Vec<String>,
    /// Ports near this one that are free now (filled by `why` for a port in use: it
    /// needs bind probes, see [`super::free`]).
    pub free_nearby: Vec<u16>,
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
    let mut flags = Flags::empty();
    for &i in &h.tcp {
        flags |= socket_flags(&snap.sockets[i], snap, leaking);
    }
    for p in h.pids.iter().filter_map(|p| snap.processes.get(p)) {
        flags |= process_flags(p);
    }
    let supervisors: Vec<(u32, Supervisor)> = h
        .pids
        .iter()
        .filter_map(|pid| snap.processes.get(pid))
        .filter_map(|p| supervisor(p, snap, Some(port)).map(|s| (p.pid, s)))
        .collect();
    let (kind, headline) = judge(snap, &h, &probe);
    let mut next = next_steps(snap, &h, kind, flags, &probe);
    if kind == Kind::Listener {
        first_the_supervisors(&mut next, &supervisors, flags, port);
    }
    let mut listeners: Vec<usize> = h.tcp.iter().chain(&h.udp).copied().collect();
    listeners.sort_unstable();
    Verdict {
        port,
        kind,
        probe,
        listeners,
        holders: h.pids.clone(),
        flags,
        time_wait: h.time_wait,
        time_wait_expires_ms: h.time_wait_expires_ms,
        connections: h.connections.len(),
        supervisors,
        headline,
        next,
        evidence: h,
        free_nearby: Vec::new(),
    }
}

/// The commands that stop the holders for good go first; when something brings the
/// holder back, the plain kill is only the second step.
fn first_the_supervisors(
    next: &mut Vec<String>,
    supervisors: &[(u32, Supervisor)],
    flags: Flags,
    port: u16,
) {
    let mut first: Vec<String> = Vec::new();
    for (pid, s) in supervisors {
        let Some(cmd) = &s.stop_command else { continue };
        // sockscope can ask the engine itself.
        let cmd = if matches!(
            s.kind,
            super::supervisor::Kind::Docker | super::supervisor::Kind::Podman
        ) {
            format!("{cmd}` or `sockscope kill :{port} --container")
        } else {
            cmd.clone()
        };
        let rel = s.relation();
        let line = match s.comes_back() {
            Some(c) => format!(
                "stop it for good: `{cmd}` ({pid} {rel} {}, which {c})",
                s.what()
            ),
            None => format!("stop it for good: `{cmd}` ({pid} {rel} {})", s.what()),
        };
        if !first.contains(&line) {
            first.push(line);
        }
    }
    if first.is_empty() {
        return;
    }
    if flags.contains(Flag::DockerProxy) {
        // The container's command replaces the advice about the proxy.
        next.retain(|n| !n.starts_with("a container publishes port"));
    }
    let restarting = supervisors.iter().any(|(_, s)| s.restarts);
    if restarting {
        for n in next.iter_mut() {
            if n.starts_with("stop it: `sockscope kill") {
                *n = format!(
                    "only then, or for a holder nothing restarts: `sockscope kill :{port}`"
                );
            }
        }
    }
    first.append(next);
    *next = first;
}

/// The kind of verdict and its one-line headline.
fn judge(snap: &Snapshot, h: &Holders, probe: &Probe) -> (Kind, String) {
    let port = h.port;
    let secs = h.time_wait_expires_ms.div_ceil(1000);
    if h.listening() && !h.pids.is_empty() {
        let mut line = format!(
            "port {port} is in use: listening by {}",
            snap.pids_text(&h.pids)
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
            OwnerStatus::Hidden => "whose owner is hidden from you",
            OwnerStatus::OtherNs => "held by a process in another pid namespace",
            _ => "that no visible process holds",
        };
        return (
            Kind::Hidden,
            format!("port {port} is in use by a listener {why}"),
        );
    }
    if probe.free() {
        return (Kind::Free, format!("port {port} is free"));
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

/// What to do next, the command that solves it first.
fn next_steps(
    snap: &Snapshot,
    h: &Holders,
    kind: Kind,
    flags: Flags,
    probe: &Probe,
) -> Vec<String> {
    let port = h.port;
    let secs = h.time_wait_expires_ms.div_ceil(1000);
    let mut next = Vec::new();
    match kind {
        Kind::Listener => {
            if flags.contains(Flag::DockerProxy) {
                next.push(format!("a container publishes port {port}: stop the container (`docker ps --filter publish={port}`, then `docker stop NAME`), not its proxy"));
            } else {
                let cont = if flags.contains(Flag::Stopped) {
                    ", then SIGCONT because it is suspended, so that it can exit"
                } else {
                    ""
                };
                next.push(format!("stop it: `sockscope kill :{port}` (sends SIGTERM{cont}; then reports whether the port was freed)"));
            }
            for p in h.pids.iter().filter_map(|p| snap.processes.get(p)) {
                if p.is_stopped() {
                    next.push(format!("or resume it where it was suspended: `fg` in the shell that started it, or `kill -CONT {}`", p.pid));
                }
            }
            if flags.contains(Flag::Backlog) {
                next.push("the listener is unhealthy: restart it, or find why it stopped calling accept()".into());
            }
        }
        Kind::Hidden => next.push(match snap.sockets[h.unowned[0]].owner_status {
            OwnerStatus::Hidden => format!("its owner ({}) is hidden from you: run `sudo sockscope why {port}` to see who it is", socket_user(snap, &snap.sockets[h.unowned[0]])),
            OwnerStatus::OtherNs => "sockscope runs in a nested pid namespace: run it on the host to see the holder".to_owned(),
            _ => "no process visible here holds it: it may be closing right now (look again), or the kernel holds it without a file descriptor".to_owned(),
        }),
        Kind::TimeWaitOnly => next.push(if probe.reuseaddr_free() {
            format!("a server that sets SO_REUSEADDR (most do) can bind now; a plain bind must wait {secs} s (`sockscope wait-free {port}`)")
        } else {
            format!("even an SO_REUSEADDR bind fails: these TIME-WAITs were left by a socket without SO_REUSEADDR; wait {secs} s (`sockscope wait-free {port}`)")
        }),
        Kind::Connections => {
            let mut pids: Vec<u32> = h
                .connections
                .iter()
                .flat_map(|&i| snap.sockets[i].owners.iter().copied())
                .collect();
            pids.sort_unstable();
            pids.dedup();
            next.push(if pids.is_empty() {
                "they belong to the kernel or to hidden owners; they end when the connections close".to_owned()
            } else {
                format!("they are held by {}: the port frees when those connections close or those processes exit", snap.pids_text(&pids))
            });
        }
        Kind::Free if probe.denied() => next.push(format!(
            "nothing holds port {port}, but binding it needs root or CAP_NET_BIND_SERVICE"
        )),
        Kind::Free => next.push(format!("a server can bind port {port} now")),
        Kind::Unexplained => next.push("no socket in this network namespace explains it; another namespace or a port reservation (net.ipv4.ip_local_reserved_ports) might".into()),
    }
    // Closing sockets (SOCK_DESTROY) needs root: offered to root only.
    let root = snap.visibility.euid == 0;
    if kind == Kind::TimeWaitOnly && root {
        next.push(format!(
            "or free it now: `sockscope close :{port} state:time-wait` (closes the TIME-WAIT sockets)"
        ));
    }
    if !h.close_wait.is_empty() {
        let pids = h.close_wait_pids(snap);
        let who = if pids.is_empty() {
            "their holder".to_owned()
        } else {
            snap.pids_text(&pids)
        };
        let stopgap = if root {
            format!("; as a stopgap, `sockscope close :{port} state:close-wait` cuts them")
        } else {
            String::new()
        };
        next.push(format!(
            "the CLOSE-WAIT connections stay until {who} closes its side (a bug in its code is the usual cause){stopgap}"
        ));
    }
    if !h.elsewhere.is_empty() {
        let mut places: Vec<String> = h
            .elsewhere
            .iter()
            .map(|&i| {
                let s = &snap.sockets[i];
                let who = if s.owners.is_empty() {
                    String::new()
                } else {
                    format!("{} ", snap.pids_text(&s.owners))
                };
                format!("{who}in {}", snap.netns.name(s.netns))
            })
            .collect();
        places.dedup();
        let here = if kind == Kind::Free {
            "free here; "
        } else {
            ""
        };
        next.push(format!(
            "{here}port {port} is also listened on in another network namespace ({}): that does not block a bind here",
            places.join(", ")
        ));
    }
    // The probe and the verdict are about TCP; a UDP server on the same number is worth
    // a line, since a UDP bind would fail.
    if !h.udp.is_empty() {
        let who = if h.udp_pids.is_empty() {
            "a process you cannot see".to_owned()
        } else {
            snap.pids_text(&h.udp_pids)
        };
        next.push(format!("UDP port {port} is bound by {who}: a UDP server cannot bind it (the verdict above is for TCP)"));
    }
    next
}

fn socket_user(snap: &Snapshot, s: &Socket) -> String {
    snap.user_name(s.uid)
        .map_or_else(|| format!("uid {}", s.uid), |n| format!("user {n}"))
}
