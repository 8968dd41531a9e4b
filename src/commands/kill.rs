//! `sockscope kill PORT|:PORT|pid:PID`: the safe kill of SPEC §4 from the command line,
//! then a wait to report whether the port was freed.

use crate::cli::{KillArgs, KillTarget};
use crate::collect::{self, CollectorKind, procs::Procs};
use crate::diagnose::Probe;
use crate::error::{Error, Result};
use crate::model::{Process, Scope, Snapshot, State};
use crate::signal::{RealSignaller, Refusal, Sig, Signaller, Target, facts};
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
/// After an escalation to KILL, how long to wait for the port.
const AFTER_KILL: Duration = Duration::from_secs(3);

/// A process chosen as a target, with what the user is shown.
struct Chosen {
    process: Process,
    target: Target,
}

pub fn run(args: &KillArgs, kind: CollectorKind) -> Result<u8> {
    let mut collector = collect::open(kind)?;
    let snap = collector.snapshot(Scope::All)?;
    let mut signaller = RealSignaller::default();

    // Who gets the signal, and which ports we watch.
    let (pids, ports): (Vec<u32>, Vec<u16>) = match args.target {
        KillTarget::Port(port) => {
            let holders = holders_of(&snap, port);
            if holders.is_empty() {
                return Ok(nobody_holds(&snap, port));
            }
            let proxies: Vec<&u32> = holders
                .iter()
                .filter(|p| {
                    snap.processes
                        .get(p)
                        .is_some_and(|p| p.name == "docker-proxy")
                })
                .collect();
            if let Some(pid) = proxies.first() {
                eprintln!(
                    "sockscope: port {port} is published by a container (docker-proxy, pid {pid}): stop the container instead (`docker ps --filter publish={port}`, then `docker stop`); to signal the proxy anyway, name it: `sockscope kill pid:{pid}`"
                );
                return Ok(super::EXIT_ERROR);
            }
            (holders, vec![port])
        }
        KillTarget::Pid(pid) => {
            let ports: Vec<u16> = snap
                .sockets
                .iter()
                .filter(|s| s.is_listener() && s.owners.contains(&pid))
                .map(|s| s.local.port())
                .collect();
            (vec![pid], ports)
        }
    };

    // Details for the pids (a pid:PID target need not own a socket, so read it directly).
    let mut procs = Procs::new()?;
    let details = procs.refresh(&pids);
    let mut chosen = Vec::new();
    for pid in &pids {
        let pinned = match details.get(pid) {
            Some(p) => signaller
                .pin(*pid, Some(p.start_ticks).filter(|t| *t != 0))
                .map(|t| (p.clone(), t)),
            None => Err(
                crate::signal::check_pid(i64::from(*pid), crate::signal::Me::current())
                    .err()
                    .unwrap_or(Refusal::Gone(*pid)),
            ),
        };
        match pinned {
            Ok((process, target)) => chosen.push(Chosen { process, target }),
            Err(e) => {
                eprintln!("sockscope: {e}");
                return Ok(super::EXIT_ERROR);
            }
        }
    }

    for c in &chosen {
        println!(
            "{} {}",
            if args.dry_run {
                "would send"
            } else {
                "target:"
            },
            describe(&c.process, args.signal)
        );
    }
    if args.dry_run {
        println!("dry run: nothing was sent");
        return Ok(super::EXIT_OK);
    }
    if !args.yes && !confirm(&chosen, args.signal)? {
        return Ok(super::EXIT_ERROR);
    }

    if let Some(code) = send_all(&mut signaller, &chosen, args.signal) {
        return Ok(code);
    }
    let terminating = matches!(
        args.signal,
        Sig::Term | Sig::Int | Sig::Quit | Sig::Kill | Sig::Hup
    );
    let wait = if terminating {
        args.timeout
    } else {
        Duration::ZERO
    };
    let mut held = wait_released(collector.as_mut(), &chosen, &ports, wait)?;
    if held && args.escalate && args.signal != Sig::Kill {
        println!(
            "still held after {}: escalating to SIGKILL",
            crate::model::time::fmt_interval(args.timeout)
        );
        if let Some(code) = send_all(&mut signaller, &chosen, Sig::Kill) {
            return Ok(code);
        }
        held = wait_released(collector.as_mut(), &chosen, &ports, AFTER_KILL)?;
    }
    report(collector.as_mut(), &chosen, &ports, args)?;
    Ok(if held {
        super::EXIT_IN_USE
    } else {
        super::EXIT_OK
    })
}

/// Pids of the TCP and UDP listeners on a port.
fn holders_of(snap: &Snapshot, port: u16) -> Vec<u32> {
    let mut pids: Vec<u32> = snap
        .sockets
        .iter()
        .filter(|s| s.local.port() == port && s.is_listener())
        .flat_map(|s| s.owners.iter().copied())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// No process to signal: say what holds the port instead.
fn nobody_holds(snap: &Snapshot, port: u16) -> u8 {
    let listeners = snap
        .sockets
        .iter()
        .filter(|s| s.local.port() == port && s.is_listener())
        .count();
    if listeners > 0 {
        eprintln!(
            "sockscope: the owner of the listener on port {port} is hidden from you: run as root (`sudo sockscope kill :{port}`)"
        );
        return super::EXIT_ERROR;
    }
    let tw = snap
        .sockets
        .iter()
        .filter(|s| s.local.port() == port && s.state == State::TimeWait)
        .count();
    if tw > 0 {
        println!(
            "nothing listens on port {port}; {tw} TIME-WAIT socket{} remain and expire by themselves (`sockscope wait-free {port}`)",
            if tw == 1 { "" } else { "s" }
        );
    } else {
        println!("nothing listens on port {port}: nothing to do");
    }
    super::EXIT_OK
}

fn describe(p: &Process, sig: Sig) -> String {
    format!(
        "{sig} to {} {} (user {}, started {} UTC): {}",
        p.pid,
        p.name,
        p.user.as_deref().unwrap_or("?"),
        crate::model::time::clock_secs(p.start_time),
        p.command()
    )
}

/// Asks on the terminal; refuses without one.
fn confirm(chosen: &[Chosen], sig: Sig) -> Result<bool> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        eprintln!(
            "sockscope: refusing to send {sig} without confirmation: stdin is not a terminal (add --yes)"
        );
        return Ok(false);
    }
    let names: Vec<String> = chosen
        .iter()
        .map(|c| format!("{} {}", c.process.pid, c.process.name))
        .collect();
    eprint!("send {sig} to {}? [y/N] ", names.join(", "));
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Output(e.to_string()))?;
    let yes = matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes");
    if !yes {
        eprintln!("sockscope: cancelled, nothing was sent");
    }
    Ok(yes)
}

/// Sends to every target; returns an exit status when any send failed.
fn send_all(signaller: &mut RealSignaller, chosen: &[Chosen], sig: Sig) -> Option<u8> {
    let mut failed = false;
    for c in chosen {
        match signaller.send(&c.target, sig) {
            Ok(crate::signal::Delivery::Pidfd) => {
                println!("sent {sig} to {} {}", c.process.pid, c.process.name)
            }
            Ok(crate::signal::Delivery::Kill) => println!(
                "sent {sig} to {} {} (pidfd unavailable: with kill() right after re-checking its start time)",
                c.process.pid, c.process.name
            ),
            // Already gone between the pin and now: that is what we wanted.
            Err(Refusal::Gone(pid)) => println!("{pid} had already exited"),
            Err(e) => {
                eprintln!("sockscope: {e}");
                failed = true;
            }
        }
    }
    failed.then_some(super::EXIT_ERROR)
}

/// True while any target still lives and holds one of the ports (or, with no ports,
/// while any target still lives). Polls until released or `wait` runs out.
fn wait_released(
    collector: &mut dyn collect::Collector,
    chosen: &[Chosen],
    ports: &[u16],
    wait: Duration,
) -> Result<bool> {
    let end = Instant::now() + wait;
    loop {
        let alive: Vec<u32> = chosen
            .iter()
            .filter(|c| {
                facts(c.target.pid).is_ok_and(|f| {
                    f.stat.start_ticks == c.target.start_ticks
                        && !(f.stat.state == 'Z' && f.stat.threads <= 1)
                })
            })
            .map(|c| c.target.pid)
            .collect();
        let held = if ports.is_empty() {
            !alive.is_empty()
        } else {
            let snap = collector.snapshot(Scope::Listeners)?;
            ports
                .iter()
                .any(|port| holders_of(&snap, *port).iter().any(|p| alive.contains(p)))
        };
        if !held || Instant::now() >= end {
            return Ok(held);
        }
        std::thread::sleep(POLL);
    }
}

/// The final word: free, TIME-WAIT only, or still held by whom.
fn report(
    collector: &mut dyn collect::Collector,
    chosen: &[Chosen],
    ports: &[u16],
    args: &KillArgs,
) -> Result<()> {
    let snap = collector.snapshot(Scope::All)?;
    for c in chosen {
        let gone = facts(c.target.pid).map_or(true, |f| {
            f.stat.start_ticks != c.target.start_ticks
                || (f.stat.state == 'Z' && f.stat.threads <= 1)
        });
        if gone {
            println!("{} {} exited", c.process.pid, c.process.name);
        }
    }
    for &port in ports {
        let holders = holders_of(&snap, port);
        if !holders.is_empty() {
            let names: Vec<String> = holders
                .iter()
                .map(|p| {
                    snap.processes
                        .get(p)
                        .map_or_else(|| p.to_string(), |pr| format!("{p} {}", pr.name))
                })
                .collect();
            let hint = if args.signal != Sig::Kill && !args.escalate {
                " (it may ignore the signal: try --signal KILL or --escalate)"
            } else {
                ""
            };
            println!("port {port} is still held by {}{hint}", names.join(", "));
            continue;
        }
        let probe = Probe::run(port);
        let tw: Vec<_> = snap
            .sockets
            .iter()
            .filter(|s| s.local.port() == port && s.state == State::TimeWait)
            .collect();
        if tw.is_empty() || probe.free() {
            println!("port {port} is free");
        } else {
            let last = tw
                .iter()
                .filter_map(|s| s.timer.map(|t| t.expires_ms))
                .max()
                .unwrap_or(0)
                .div_ceil(1000);
            let reuse = if probe.reuseaddr_free() {
                "servers using SO_REUSEADDR can bind now"
            } else {
                "even SO_REUSEADDR binds must wait"
            };
            println!(
                "port {port} has no listener; {} TIME-WAIT socket{} remain, the last expires in {last} s ({reuse})",
                tw.len(),
                if tw.len() == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}
