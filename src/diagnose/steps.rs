//! What to do next about a port, the command that solves it first: each step a
//! [`Step`] with its command as a value, never text edited afterwards.

use super::probe::Probe;
use super::supervisor::{Supervisor, proxy_claim};
use super::verdict::{Holders, Kind};
use crate::model::{Command, Flag, Flags, OwnerStatus, Snapshot, Socket, Step};

/// The commands that stop the holders for good, from verified supervisors only (a
/// supervisor that is only claimed is said as such with its holder, never as a step).
pub(super) fn supervisor_steps(supervisors: &[(u32, Supervisor)]) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for (pid, s) in supervisors {
        let Some(cmd) = &s.stop else { continue };
        let rel = s.relation();
        let tail = match s.comes_back() {
            Some(c) => format!("({pid} {rel} {}, which {c})", s.what()),
            None => format!("({pid} {rel} {})", s.what()),
        };
        // One step a command: hundreds of workers under one unit get one step, named
        // by the first of them.
        if !steps.iter().any(|s| s.command.as_ref() == Some(cmd)) {
            steps.push(Step::run("stop it for good:", cmd.clone(), tail));
        }
    }
    steps
}

/// What to do next, the command that solves it first.
pub(super) fn next_steps(
    snap: &Snapshot,
    h: &Holders,
    kind: Kind,
    flags: Flags,
    probe: &Probe,
    supervisors: &[(u32, Supervisor)],
) -> Vec<Step> {
    let mut next = verdict_steps(snap, h, kind, flags, probe, supervisors);
    next.extend(close_steps(snap, h, kind));
    next.extend(elsewhere_step(snap, h, kind));
    next.extend(udp_step(snap, h));
    next
}

/// The steps that answer the verdict itself.
fn verdict_steps(
    snap: &Snapshot,
    h: &Holders,
    kind: Kind,
    flags: Flags,
    probe: &Probe,
    supervisors: &[(u32, Supervisor)],
) -> Vec<Step> {
    let port = h.port;
    let secs = h.time_wait_expires_ms.div_ceil(1000);
    let sockscope = |args: &[&str]| Command::sockscope(args.iter().copied());
    let mut next = Vec::new();
    match kind {
        Kind::Listener => next.extend(listener_steps(snap, h, flags, supervisors)),
        Kind::Hidden => next.push(match snap.sockets[h.unowned[0]].owner_status {
            // Root was refused: running as root again cannot help.
            OwnerStatus::Hidden if snap.visibility.root_refused() => Step::say(format!(
                "its owner ({}) refused even root the read of its file descriptors (a security module or a non-dumpable process guards them); `sockscope info` counts such processes",
                socket_user(snap, &snap.sockets[h.unowned[0]])
            )),
            OwnerStatus::Hidden => Step::run(
                format!(
                    "its owner ({}) is hidden from you: run",
                    socket_user(snap, &snap.sockets[h.unowned[0]])
                ),
                Command::sockscope(["why", &port.to_string()]).run_as(Some("root".into())),
                "to see who it is",
            ),
            OwnerStatus::OtherNs => Step::say(
                "sockscope runs in a nested pid namespace: run it on the host to see the holder",
            ),
            _ => Step::say(
                "no process visible here holds it: it may be closing right now (look again), or the kernel holds it without a file descriptor",
            ),
        }),
        Kind::TimeWaitOnly => {
            let lead = if probe.reuseaddr_free() {
                format!("a server that sets SO_REUSEADDR (most do) can bind now; a plain bind must wait {secs} s (")
            } else {
                format!("even an SO_REUSEADDR bind fails: these TIME-WAITs were left by a socket without SO_REUSEADDR; wait {secs} s (")
            };
            next.push(Step::run(lead, sockscope(&["wait-free", &port.to_string()]), ")"));
        }
        Kind::Bound => {
            let lead = "it called bind() but not listen() or connect(): a server that has not started listening yet, or a client that bound its own port";
            next.push(if h.bound_pids.is_empty() {
                Step::say(format!("{lead}; its owner is not visible to you"))
            } else {
                Step::run(
                    format!("{lead}; stop it:"),
                    Command::sockscope(["kill", &format!(":{port}")])
                        .run_as(signaller(snap, &h.bound_pids)),
                    "",
                )
            });
        }
        Kind::Connections => {
            let mut pids: Vec<u32> = h
                .connections
                .iter()
                .flat_map(|&i| snap.sockets[i].owners.iter().copied())
                .collect();
            pids.sort_unstable();
            pids.dedup();
            next.push(Step::say(if pids.is_empty() {
                "they belong to the kernel or to hidden owners; they end when the connections close".to_owned()
            } else {
                format!("they are held by {}: the port frees when those connections close or those processes exit", snap.pids_folded(&pids))
            }));
        }
        Kind::Free if probe.denied() => next.push(Step::say(format!(
            "nothing holds port {port}, but binding it needs root or CAP_NET_BIND_SERVICE"
        ))),
        Kind::Free => next.push(Step::say(format!("a server can bind port {port} now"))),
        Kind::Unexplained => next.push(Step::say("no socket in this network namespace explains it; another namespace or a port reservation (net.ipv4.ip_local_reserved_ports) might")),
    }
    next
}

/// Closing TIME-WAIT or CLOSE-WAIT sockets (SOCK_DESTROY needs root: offered to root only).
fn close_steps(snap: &Snapshot, h: &Holders, kind: Kind) -> Vec<Step> {
    let port = h.port;
    let mut next = Vec::new();
    let root = snap.visibility.euid == 0;
    if kind == Kind::TimeWaitOnly && root {
        next.push(Step::run(
            "or free it now:",
            close_command(port, "state:time-wait", h.time_wait, 0),
            "(closes the TIME-WAIT sockets)",
        ));
    }
    let queued = h.unaccepted_close_waits(snap);
    if queued > 0 && queued == h.close_wait.len() {
        // In the accept queue: the listener is not accepting (hung, stopped, overloaded).
        let who = if h.pids.is_empty() {
            "the listener".to_owned()
        } else {
            snap.pids_folded(&h.pids)
        };
        next.push(Step::say(format!(
            "the CLOSE-WAIT connections were never accepted: they go once {who} accepts and closes them, or exits (a listener that does not accept is hung, stopped or overloaded)"
        )));
    } else if !h.close_wait.is_empty() {
        let pids = h.close_wait_pids(snap);
        let who = if pids.is_empty() {
            "their holder".to_owned()
        } else {
            snap.pids_folded(&pids)
        };
        let lead = format!(
            "the CLOSE-WAIT connections stay until {who} closes its side (a bug in its code is the usual cause)"
        );
        next.push(if root {
            Step::run(
                format!("{lead}; as a stopgap,"),
                close_command(port, "state:close-wait", h.close_wait.len(), pids.len()),
                "cuts them",
            )
        } else {
            Step::say(lead)
        });
    }
    next
}

/// Listeners on the same port in other network namespaces.
fn elsewhere_step(snap: &Snapshot, h: &Holders, kind: Kind) -> Option<Step> {
    let port = h.port;
    if h.elsewhere.is_empty() {
        return None;
    }
    let mut places: Vec<String> = h
        .elsewhere
        .iter()
        .map(|&i| {
            let s = &snap.sockets[i];
            let who = if s.owners.is_empty() {
                String::new()
            } else {
                format!("{} ", snap.pids_folded(&s.owners))
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
    Some(Step::say(format!(
        "{here}port {port} is also listened on in another network namespace ({}): that does not block a bind here",
        places.join(", ")
    )))
}

/// A UDP server on the same number: worth a line, since a UDP bind would fail.
fn udp_step(snap: &Snapshot, h: &Holders) -> Option<Step> {
    let port = h.port;
    if h.udp.is_empty() {
        return None;
    }
    let who = if h.udp_pids.is_empty() {
        "a process you cannot see".to_owned()
    } else {
        snap.pids_folded(&h.udp_pids)
    };
    Some(Step::run(
        format!(
            "UDP port {port} is bound by {who}: a UDP server cannot bind it (the verdict above is for TCP;"
        ),
        Command::sockscope(["why", &port.to_string(), "--udp"]),
        "judges UDP)",
    ))
}

/// Who may signal all of `pids`: nobody else when sockscope runs as root or as their
/// one user; that user, or root when they are several.
/// What stops one process (the Processes view's pane): `sockscope kill pid:PID`, as the
/// user who may signal it, and SIGCONT after for a suspended one. It is about the
/// process, never about one of its sockets' ports.
pub fn process_kill_step(snap: &Snapshot, pid: u32) -> Step {
    let stopped = snap
        .processes
        .get(&pid)
        .is_some_and(crate::model::Process::is_stopped);
    let cont = if stopped {
        ", then SIGCONT because it is suspended, so that it can exit"
    } else {
        ""
    };
    Step::run(
        "stop it:",
        Command::sockscope(["kill", &format!("pid:{pid}")]).run_as(signaller(snap, &[pid])),
        format!("(sends SIGTERM{cont})"),
    )
}

fn signaller(snap: &Snapshot, pids: &[u32]) -> Option<String> {
    let me = snap.visibility.euid;
    if me == 0 {
        return None;
    }
    let mut uids: Vec<u32> = pids
        .iter()
        .filter_map(|p| snap.processes.get(p)?.uid)
        .collect();
    uids.sort_unstable();
    uids.dedup();
    match uids.as_slice() {
        [u] if *u == me => None,
        [u] => Some(
            snap.user_name(*u)
                .map_or_else(|| "root".to_owned(), str::to_owned),
        ),
        _ => Some("root".to_owned()),
    }
}

/// `sockscope close :PORT STATE`, with the `--many N` that `close` asks for when it
/// selects more than one process's sockets or more than [`super::close::MANY`].
fn close_command(port: u16, state: &str, count: usize, processes: usize) -> Command {
    let mut args = vec!["close".to_owned(), format!(":{port}"), state.to_owned()];
    if count > super::close::MANY || processes > 1 {
        args.extend(["--many".to_owned(), count.to_string()]);
    }
    Command::sockscope(args)
}

/// For a port a process listens on: what stops it for good (verified supervisors
/// first), then the safe kill, then what else to know.
fn listener_steps(
    snap: &Snapshot,
    h: &Holders,
    flags: Flags,
    supervisors: &[(u32, Supervisor)],
) -> Vec<Step> {
    let port = h.port;
    let mut next = supervisor_steps(supervisors);
    // sockscope can ask the engine itself.
    let engine = supervisors.iter().any(|(_, s)| {
        s.stop.is_some()
            && matches!(
                s.kind,
                super::supervisor::Kind::Docker | super::supervisor::Kind::Podman
            )
    });
    if engine {
        next.push(Step::run(
            "or let sockscope ask the engine:",
            Command::sockscope(["kill", &format!(":{port}"), "--container"]),
            "",
        ));
    }
    let stops = supervisors.iter().any(|(_, s)| s.stop.is_some());
    let proxy = flags.contains(Flag::DockerProxy);
    if proxy && !stops {
        next.push(Step::run(
            format!("a container publishes port {port}: stop the container, not its proxy ("),
            Command::new("docker", ["ps", "--filter", &format!("publish={port}")]),
            "names it)",
        ));
    } else if !proxy {
        let restarting = supervisors.iter().any(|(_, s)| s.restarter());
        let kill =
            Command::sockscope(["kill", &format!(":{port}")]).run_as(signaller(snap, &h.pids));
        next.push(if restarting {
            Step::run("only then, or for a holder nothing restarts:", kill, "")
        } else {
            let cont = if flags.contains(Flag::Stopped) {
                ", then SIGCONT because it is suspended, so that it can exit"
            } else {
                ""
            };
            Step::run(
                "stop it:",
                kill,
                format!("(sends SIGTERM{cont}; then reports whether the port was freed)"),
            )
        });
    }
    for p in h.pids.iter().filter_map(|p| snap.processes.get(p)) {
        if p.is_stopped() {
            next.push(Step::run(
                "or resume it where it was suspended: `fg` in the shell that started it, or",
                Command::new("kill", ["-CONT", &p.pid.to_string()]),
                "",
            ));
        }
        if let Some(claim) = proxy_claim(p).filter(|c| !c.verified()) {
            next.push(Step::say(format!(
                "{} is not Docker's docker-proxy: {}",
                p.pid,
                claim.why()
            )));
        }
    }
    if flags.contains(Flag::Backlog) {
        next.push(Step::say(
            "the listener is unhealthy: restart it, or find why it stopped calling accept()",
        ));
    }
    next
}

fn socket_user(snap: &Snapshot, s: &Socket) -> String {
    snap.user_name(s.uid)
        .map_or_else(|| format!("uid {}", s.uid), |n| format!("user {n}"))
}
