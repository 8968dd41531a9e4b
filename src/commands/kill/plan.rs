//! What `kill` signals: the holders of a port's TCP listeners (UDP too with `--udp`), or
//! one pid; each pinned to the socket it holds before anything is sent.

use crate::cli::KillTarget;
use crate::collect::procs::Procs;
use crate::diagnose::supervisor::is_docker_proxy;
use crate::diagnose::{CloseWaitTracker, Departed, Holders, Kind, Probe, supervisor, verdict};
use crate::model::{Process, Refusal, Snapshot};
use crate::signal::{RealSignaller, Signaller, Target};

/// A process chosen as a target, with what the user is shown.
pub struct Chosen {
    pub process: Process,
    pub target: Target,
    /// What it was, to recognise a respawn.
    pub departed: Departed,
}

/// Who gets the signal, for which socket, and which ports are judged afterwards.
pub struct Plan {
    /// (pid, the socket inode it must hold).
    pub targets: Vec<(u32, Option<u64>)>,
    pub ports: Vec<u16>,
    /// What to say before anything is pinned ("one listener has no visible owner").
    pub notes: Vec<String>,
}

/// What planning came to.
pub enum Planned {
    /// Targets to pin and signal.
    Go(Plan),
    /// Nothing will be signalled, and that is an error (a docker-proxy, an owner that is
    /// not visible): one line for stderr.
    Refused(String),
    /// Nothing to signal: what to say (stdout), not an error; `held` when the port is
    /// still in use all the same (connections, or nothing here explains it), so that
    /// the exit status says so.
    Nothing { lines: Vec<String>, held: bool },
}

/// What to signal: the holders of `target`'s port (TCP listeners; UDP too with `udp`),
/// or one pid.
pub fn plan(snap: &Snapshot, target: KillTarget, udp: bool) -> Planned {
    let port = match target {
        KillTarget::Pid(pid) => {
            let ports = snap
                .sockets
                .iter()
                .filter(|s| s.owners.contains(&pid) && held_kind(s, udp))
                .map(|s| s.local().port())
                .collect::<std::collections::BTreeSet<u16>>();
            return Planned::Go(Plan {
                targets: vec![(pid, None)],
                ports: ports.into_iter().collect(),
                notes: Vec::new(),
            });
        }
        KillTarget::Port(port) => port,
    };
    let h = Holders::of(snap, port);
    // A socket bound without listening holds the port as a listener does (present only
    // when no listener is: see `collect::add_bound_holders`).
    let mut sockets: Vec<usize> = h.tcp.iter().chain(&h.bound).copied().collect();
    if udp {
        sockets.extend(&h.udp);
    }
    let mut targets: Vec<(u32, Option<u64>)> = Vec::new();
    for &i in &sockets {
        let s = &snap.sockets[i];
        for &pid in &s.owners {
            if !targets.iter().any(|t| t.0 == pid) {
                targets.push((pid, Some(u64::from(s.inode))));
            }
        }
    }
    // Docker's own proxy is not signalled (its container is what to stop); a process
    // that only calls itself docker-proxy is signalled like any other.
    if let Some(proxy) = targets
        .iter()
        .filter_map(|(pid, _)| snap.processes.get(pid))
        .find(|p| is_docker_proxy(p))
    {
        return Planned::Refused(proxy_refusal(proxy, snap, port));
    }
    let mut notes = Vec::new();
    if let Some(&i) = sockets.iter().find(|&&i| snap.sockets[i].owners.is_empty()) {
        let status = snap.sockets[i].owner_status;
        if targets.is_empty() {
            let what = if snap.sockets[i].state == crate::model::State::Listen {
                "its listener's owner"
            } else {
                "the owner of the socket bound to it"
            };
            return Planned::Refused(format!(
                "no process to signal on port {port}: {what} is {}",
                status.explain()
            ));
        }
        notes.push(format!(
            "note: one listener on port {port} has no visible owner ({}); only the visible ones are signalled",
            status.as_str()
        ));
    }
    if targets.is_empty() {
        let leaking = CloseWaitTracker::default().observe(snap);
        let v = verdict(snap, port, Probe::run(port), &leaking);
        let mut lines = vec![format!("nothing to signal: {}", v.headline)];
        if !udp && !h.udp.is_empty() {
            lines.push(format!(
                "UDP port {port} is bound by {}: add --udp to signal it",
                snap.pids_folded(&h.udp_pids)
            ));
        }
        let held = !matches!(v.kind, Kind::Free | Kind::TimeWaitOnly);
        return Planned::Nothing { lines, held };
    }
    Planned::Go(Plan {
        targets,
        ports: vec![port],
        notes,
    })
}

/// Why a docker-proxy is not signalled, naming the container it publishes when known.
fn proxy_refusal(proxy: &Process, snap: &Snapshot, port: u16) -> String {
    let pid = proxy.pid;
    let stop = match supervisor(proxy, snap, Some(port)) {
        Some(s) => {
            let cmd = s
                .stop
                .as_ref()
                .map(|c| format!(" or `{c}`"))
                .unwrap_or_default();
            format!(
                "port {port} is published by {} (docker-proxy, pid {pid}): stop the container with `sockscope kill :{port} --container`{cmd}",
                s.what()
            )
        }
        None => format!(
            "port {port} is published by a container (docker-proxy, pid {pid}): stop the container instead (`docker ps --filter publish={port}`, then `docker stop`)"
        ),
    };
    format!("{stop}; to signal the proxy anyway, name it: `sockscope kill pid:{pid}`")
}

/// Sockets that count as holding a port for `kill`: TCP listeners (and sockets bound
/// without listening, when a snapshot has them), and UDP with `--udp`.
pub fn held_kind(s: &crate::model::Socket, udp: bool) -> bool {
    if s.proto.is_tcp() {
        matches!(
            s.state,
            crate::model::State::Listen | crate::model::State::Unconn
        )
    } else {
        udp && s.is_listener()
    }
}

/// Pins every target; the first refusal stops everything (nothing is sent). Each must
/// still be the process the snapshot saw (its start time) and hold its socket now.
pub fn pin_all(snap: &Snapshot, plan: &Plan) -> std::result::Result<Vec<Chosen>, Refusal> {
    let targets: Vec<(u32, Option<u64>, Option<u64>)> = plan
        .targets
        .iter()
        .map(|&(pid, inode)| (pid, None, inode))
        .collect();
    pin_each(snap, plan.ports.first().copied(), &targets)
}

/// Pins exactly these (pid, start time, socket inode) targets, chosen earlier: each
/// must still be that process (same start time) and hold that socket now, by a fresh
/// read of its fd table. The first refusal stops everything.
pub fn pin_exact(
    snap: &Snapshot,
    port: Option<u16>,
    targets: &[(u32, u64, u64)],
) -> std::result::Result<Vec<Chosen>, Refusal> {
    let targets: Vec<(u32, Option<u64>, Option<u64>)> = targets
        .iter()
        .map(|&(pid, start, inode)| (pid, Some(start), Some(inode)))
        .collect();
    pin_each(snap, port, &targets)
}

/// (pid, start time it must have, inode it must hold) → pinned targets. Without a start
/// time, the one the snapshot (or a fresh read) saw.
fn pin_each(
    snap: &Snapshot,
    port: Option<u16>,
    targets: &[(u32, Option<u64>, Option<u64>)],
) -> std::result::Result<Vec<Chosen>, Refusal> {
    let mut signaller = RealSignaller::default();
    let mut procs = Procs::new().map_err(|e| Refusal::Failed {
        pid: 0,
        reason: e.to_string(),
    })?;
    let pids: Vec<u32> = targets.iter().map(|t| t.0).collect();
    // A pid:PID target need not own a socket, so it may not be in the snapshot.
    let mut details = procs.refresh(&pids);
    let mut chosen = Vec::new();
    for &(pid, start, inode) in targets {
        let seen = snap.processes.get(&pid).or_else(|| details.get(&pid));
        let start = start.or_else(|| seen.map(|p| p.start_ticks).filter(|t| *t != 0));
        let target = signaller.pin(pid, start, inode)?;
        // The fresh read has the current state (stopped or not); the snapshot's copy has
        // the container as the engine named it.
        let process = match (details.remove(&pid), snap.processes.get(&pid)) {
            (Some(mut fresh), Some(seen)) => {
                if seen.container.is_some() {
                    fresh.container = seen.container.clone();
                }
                fresh
            }
            (Some(fresh), None) => fresh,
            (None, Some(seen)) => seen.clone(),
            (None, None) => Process::unknown(pid),
        };
        let departed = Departed::of(&process, snap, port);
        chosen.push(Chosen {
            process,
            target,
            departed,
        });
    }
    Ok(chosen)
}
