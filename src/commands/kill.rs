//! `sockscope kill PORT|:PORT|pid:PID`: the safe kill of SPEC §4 from the command line,
//! then a wait, and the port's verdict (the same one `why` gives).
//!
//! `kill :PORT` targets the holders of the TCP listeners on the port: that is what blocks
//! a server's bind. UDP holders only with `--udp`. Each target is pinned to the socket it
//! holds: at pin time and again right before sending, a fresh read of its fd table must
//! show that socket, or nothing is sent.

use crate::cli::{KillArgs, KillTarget};
use crate::collect::{self, Collector, CollectorKind, procs::Procs};
use crate::diagnose::{CloseWaitTracker, Holders, Probe, explain_process, signal_note, verdict};
use crate::error::{Error, Result};
use crate::model::{Delivery, Process, Refusal, Scope, Sig, Snapshot};
use crate::signal::{RealSignaller, Signaller, Target};
use std::io::{self, BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
/// After an escalation to KILL, how long to wait for the port.
const AFTER_KILL: Duration = Duration::from_secs(3);

/// A process chosen as a target, with what the user is shown.
struct Chosen {
    process: Process,
    target: Target,
}

/// Who gets the signal, for which socket, and which ports are judged afterwards.
struct Plan {
    /// (pid, the socket inode it must hold).
    targets: Vec<(u32, Option<u64>)>,
    ports: Vec<u16>,
}

pub fn run(args: &KillArgs, kind: CollectorKind) -> Result<u8> {
    let mut collector = collect::open(kind)?;
    let snap = collector.snapshot(Scope::All)?;
    let mut out = io::stdout();
    let plan = match plan(&snap, args, &mut out)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    let chosen = match pin_all(&snap, &plan) {
        Ok(c) => c,
        Err(e) => {
            super::warn(&e.to_string());
            return Ok(super::EXIT_ERROR);
        }
    };
    let verb = if args.dry_run {
        "would send"
    } else {
        "target:"
    };
    for c in &chosen {
        writeln!(out, "{verb} {}", describe(&snap, &c.process, args.signal))?;
        let notes = signal_note(c.process.is_stopped(), args.signal)
            .into_iter()
            .chain(explain_process(&c.process));
        for note in notes {
            writeln!(out, "        {note}")?;
        }
    }
    if args.dry_run {
        writeln!(out, "dry run: nothing was sent")?;
        return Ok(super::EXIT_OK);
    }
    if !args.yes && !confirm(&snap, &chosen, args.signal)? {
        return Ok(super::EXIT_ERROR);
    }
    let mut signaller = RealSignaller::default();
    if send_all(&mut signaller, &snap, &chosen, args.signal, &mut out)? {
        return Ok(super::EXIT_ERROR);
    }
    let wait = if args.signal.terminates() {
        args.timeout
    } else {
        Duration::ZERO
    };
    let mut held = wait_released(collector.as_mut(), &chosen, &plan.ports, args.udp, wait)?;
    if held && args.escalate && args.signal != Sig::Kill {
        writeln!(
            out,
            "still held after {}: escalating to SIGKILL",
            crate::model::time::fmt_interval(args.timeout)
        )?;
        let alive: Vec<&Chosen> = chosen.iter().filter(|c| !c.target.has_exited()).collect();
        if send_all(&mut signaller, &snap, &alive, Sig::Kill, &mut out)? {
            return Ok(super::EXIT_ERROR);
        }
        held = wait_released(
            collector.as_mut(),
            &chosen,
            &plan.ports,
            args.udp,
            AFTER_KILL,
        )?;
    }
    report(collector.as_mut(), &chosen, &plan.ports, args, &mut out)?;
    Ok(if held {
        super::EXIT_IN_USE
    } else {
        super::EXIT_OK
    })
}

/// What to signal. `Err(status)` when there is nothing to signal (said why already).
fn plan(snap: &Snapshot, args: &KillArgs, out: &mut impl Write) -> Result<Result<Plan, u8>> {
    let port = match args.target {
        KillTarget::Pid(pid) => {
            let ports = snap
                .sockets
                .iter()
                .filter(|s| s.owners.contains(&pid) && held_kind(s, args.udp))
                .map(|s| s.local.port())
                .collect::<std::collections::BTreeSet<u16>>();
            return Ok(Ok(Plan {
                targets: vec![(pid, None)],
                ports: ports.into_iter().collect(),
            }));
        }
        KillTarget::Port(port) => port,
    };
    let h = Holders::of(snap, port);
    let mut sockets: Vec<usize> = h.tcp.clone();
    if args.udp {
        sockets.extend(&h.udp);
    }
    let mut targets: Vec<(u32, Option<u64>)> = Vec::new();
    for &i in &sockets {
        let s = &snap.sockets[i];
        for &pid in &s.owners {
            if !targets.iter().any(|t| t.0 == pid) {
                targets.push((pid, Some(s.inode)));
            }
        }
    }
    if let Some(proxy) = targets.iter().find(|(pid, _)| {
        snap.processes
            .get(pid)
            .is_some_and(|p| p.name == "docker-proxy")
    }) {
        super::warn(&format!(
            "port {port} is published by a container (docker-proxy, pid {}): stop the container instead (`docker ps --filter publish={port}`, then `docker stop`); to signal the proxy anyway, name it: `sockscope kill pid:{}`",
            proxy.0, proxy.0
        ));
        return Ok(Err(super::EXIT_ERROR));
    }
    if let Some(&i) = sockets.iter().find(|&&i| snap.sockets[i].owners.is_empty()) {
        let status = snap.sockets[i].owner_status;
        if targets.is_empty() {
            super::warn(&format!(
                "no process to signal on port {port}: its listener's owner is {}",
                status.explain()
            ));
            return Ok(Err(super::EXIT_ERROR));
        }
        writeln!(
            out,
            "note: one listener on port {port} has no visible owner ({}); only the visible ones are signalled",
            status.as_str()
        )?;
    }
    if targets.is_empty() {
        let leaking = CloseWaitTracker::default().observe(snap);
        let v = verdict(snap, port, Probe::run(port), &leaking);
        writeln!(out, "nothing to signal: {}", v.headline)?;
        if !args.udp && !h.udp.is_empty() {
            writeln!(
                out,
                "UDP port {port} is bound by {}: add --udp to signal it",
                snap.pids_text(&h.udp_pids)
            )?;
        }
        return Ok(Err(super::EXIT_OK));
    }
    Ok(Ok(Plan {
        targets,
        ports: vec![port],
    }))
}

/// Sockets that count as holding a port for `kill`: TCP listeners, and UDP with `--udp`.
fn held_kind(s: &crate::model::Socket, udp: bool) -> bool {
    if s.proto.is_tcp() {
        s.state == crate::model::State::Listen
    } else {
        udp && s.is_listener()
    }
}

/// Pins every target; the first refusal stops everything (nothing is sent).
fn pin_all(snap: &Snapshot, plan: &Plan) -> std::result::Result<Vec<Chosen>, Refusal> {
    let mut signaller = RealSignaller::default();
    let mut procs = Procs::new().map_err(|e| Refusal::Failed {
        pid: 0,
        reason: e.to_string(),
    })?;
    let pids: Vec<u32> = plan.targets.iter().map(|t| t.0).collect();
    // A pid:PID target need not own a socket, so it may not be in the snapshot.
    let mut details = procs.refresh(&pids);
    let mut chosen = Vec::new();
    for &(pid, inode) in &plan.targets {
        let seen = snap.processes.get(&pid).or_else(|| details.get(&pid));
        let start = seen.map(|p| p.start_ticks).filter(|t| *t != 0);
        let target = signaller.pin(pid, start, inode)?;
        let process = details
            .remove(&pid)
            .or_else(|| snap.processes.get(&pid).cloned())
            .unwrap_or_else(|| Process::unknown(pid));
        chosen.push(Chosen { process, target });
    }
    Ok(chosen)
}

fn describe(snap: &Snapshot, p: &Process, sig: Sig) -> String {
    format!(
        "{sig} to {} (user {}, started {} UTC): {}",
        snap.pids_text(&[p.pid]),
        p.user.as_deref().unwrap_or("?"),
        crate::model::time::clock_secs(p.start_time),
        p.command()
    )
}

/// Asks on the terminal; refuses without one.
fn confirm(snap: &Snapshot, chosen: &[Chosen], sig: Sig) -> Result<bool> {
    let stdin = io::stdin();
    if !stdin.is_terminal() {
        super::warn(&format!(
            "refusing to send {sig} without confirmation: stdin is not a terminal (add --yes)"
        ));
        return Ok(false);
    }
    let pids: Vec<u32> = chosen.iter().map(|c| c.process.pid).collect();
    let mut err = io::stderr();
    let _ = write!(err, "send {sig} to {}? [y/N] ", snap.pids_text(&pids));
    let _ = err.flush();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(Error::Stdin)?;
    let yes = matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        super::warn("cancelled, nothing was sent");
    }
    Ok(yes)
}

/// Sends to every target; true when any send failed (said why already).
fn send_all<C: std::borrow::Borrow<Chosen>>(
    signaller: &mut RealSignaller,
    snap: &Snapshot,
    chosen: &[C],
    sig: Sig,
    out: &mut impl Write,
) -> Result<bool> {
    let mut failed = false;
    for c in chosen {
        let c = c.borrow();
        let who = snap.pids_text(&[c.process.pid]);
        match signaller.send(&c.target, sig) {
            Ok(sent) => {
                let how = match sent.delivery {
                    Delivery::Pidfd => "",
                    Delivery::Kill => {
                        " (pidfd unavailable: with kill() right after re-checking its start time)"
                    }
                };
                let cont = if sent.continued {
                    ", then SIGCONT so the suspended process can act on it"
                } else {
                    ""
                };
                writeln!(out, "sent {sig} to {who}{cont}{how}")?;
            }
            // Already gone between the pin and now: that is what we wanted.
            Err(Refusal::Gone(_)) => writeln!(out, "{who} had already exited")?,
            Err(e) => {
                super::warn(&e.to_string());
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// True while the port is still held (a TCP listener, whoever owns it; UDP too with
/// `--udp`), or, with no ports, while any target lives. Polls until released or `wait`
/// runs out.
fn wait_released(
    collector: &mut dyn Collector,
    chosen: &[Chosen],
    ports: &[u16],
    udp: bool,
    wait: Duration,
) -> Result<bool> {
    let end = Instant::now() + wait;
    loop {
        let held = if ports.is_empty() {
            chosen.iter().any(|c| !c.target.has_exited())
        } else {
            let snap = collector.snapshot(Scope::Listeners)?;
            ports.iter().any(|&port| {
                let h = Holders::of(&snap, port);
                h.listening() || (udp && !h.udp.is_empty())
            })
        };
        if !held || Instant::now() >= end {
            return Ok(held);
        }
        std::thread::sleep(POLL);
    }
}

/// The final word: who exited, and each port's verdict.
fn report(
    collector: &mut dyn Collector,
    chosen: &[Chosen],
    ports: &[u16],
    args: &KillArgs,
    out: &mut impl Write,
) -> Result<()> {
    let snap = collector.snapshot(Scope::All)?;
    let targets: Vec<u32> = chosen.iter().map(|c| c.target.pid).collect();
    for c in chosen.iter().filter(|c| c.target.has_exited()) {
        writeln!(out, "{}/{} exited", c.process.pid, c.process.name)?;
    }
    let leaking = CloseWaitTracker::default().observe(&snap);
    for &port in ports {
        let v = verdict(&snap, port, Probe::run(port), &leaking);
        let ours = v.evidence.pids.iter().any(|p| targets.contains(p));
        let hint = if ours && args.signal != Sig::Kill && !args.escalate {
            " (it may ignore the signal: try --signal KILL or --escalate)"
        } else {
            ""
        };
        writeln!(out, "{}{hint}", v.headline)?;
        if args.udp && !v.evidence.udp.is_empty() {
            writeln!(
                out,
                "UDP port {port} is still bound by {}",
                snap.pids_text(&v.evidence.udp_pids)
            )?;
        }
    }
    Ok(())
}
