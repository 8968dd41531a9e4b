//! `kill :PORT --container`: stop the container that holds or publishes the port through
//! the engine's API (what `docker stop` does), confirmed like a signal, then verified by
//! watching the port.

use super::watch::{Ended, Wait, report};
use crate::cli::{KillArgs, KillTarget};
use crate::collect::{Collector, containers::Api};
use crate::diagnose::{Acted, Outcome};
use crate::diagnose::{Holders, supervisor::proxied};
use crate::error::Result;
use crate::model::Evidence;
use crate::model::{Container, Runtime, Snapshot};
use std::io::Write;

/// The containers behind a port's TCP listeners (their own process, confirmed by the
/// engine, or the one the engine says a real docker-proxy publishes), or behind one pid;
/// each once. Containers only claimed (a cgroup name the engine does not confirm) come
/// back apart, with why: they are never stopped.
pub fn behind(
    snap: &Snapshot,
    target: KillTarget,
) -> (Vec<Container>, Vec<(Container, Evidence)>, Vec<u16>) {
    let (pids, ports) = match target {
        KillTarget::Port(port) => (Holders::of(snap, port).pids, vec![port]),
        KillTarget::Pid(pid) => {
            let mut ports: Vec<u16> = snap
                .sockets
                .iter()
                .filter(|s| s.owners.contains(&pid) && super::plan::held_kind(s, false))
                .map(|s| s.local.port())
                .collect();
            ports.sort_unstable();
            ports.dedup();
            (vec![pid], ports)
        }
    };
    let port = ports
        .first()
        .copied()
        .filter(|_| matches!(target, KillTarget::Port(_)));
    let mut found: Vec<Container> = Vec::new();
    let mut claimed: Vec<(Container, Evidence)> = Vec::new();
    for p in pids.iter().filter_map(|pid| snap.processes.get(pid)) {
        let c = match &p.container {
            Some(c) if !c.confirmed.verified() => {
                claimed.push((c.clone(), c.confirmed.clone()));
                continue;
            }
            Some(c) => Some(c),
            None => proxied(p, snap, port),
        };
        if let Some(c) = c
            && !found.iter().any(|f| f.full_id == c.full_id)
        {
            found.push(c.clone());
        }
    }
    (found, claimed, ports)
}

pub fn run(
    collector: &mut dyn Collector,
    snap: &Snapshot,
    args: &KillArgs,
    out: &mut impl Write,
) -> Result<u8> {
    let (found, claimed, ports) = behind(snap, args.target);
    let what = match args.target {
        KillTarget::Port(p) => format!("port {p}"),
        KillTarget::Pid(p) => format!("pid {p}"),
    };
    for (c, why) in &claimed {
        super::super::warn(&format!(
            "not stopping container {}: {}; only a container the engine confirms is stopped",
            c.label(),
            why.why()
        ));
    }
    if found.is_empty() && !claimed.is_empty() {
        return Ok(super::super::EXIT_ERROR);
    }
    if found.is_empty() {
        super::super::warn(&format!(
            "no container holds or publishes {what}: `sockscope why` says what does"
        ));
        return Ok(super::super::EXIT_ERROR);
    }
    if let Some(c) = found
        .iter()
        .find(|c| !matches!(c.runtime, Runtime::Docker | Runtime::Podman))
    {
        let how = crate::diagnose::supervisor::of_container(c)
            .stop
            .map(|cmd| format!(": stop it with `{cmd}`"))
            .unwrap_or_else(|| ": scale down what runs it (kubectl)".into());
        super::super::warn(&format!(
            "{} runs under {}, whose API sockscope does not speak{how}",
            c.label(),
            c.runtime.title(),
        ));
        return Ok(super::super::EXIT_ERROR);
    }
    let verb = if args.dry_run {
        "would stop"
    } else {
        "target:"
    };
    for c in &found {
        writeln!(out, "{verb} container {}", c.describe())?;
    }
    if args.dry_run {
        writeln!(out, "dry run: nothing was stopped")?;
        return Ok(super::super::EXIT_OK);
    }
    let names: Vec<String> = found.iter().map(Container::label).collect();
    if !args.yes && !super::super::confirm(&format!("stop container {}?", names.join(", ")))? {
        return Ok(super::super::EXIT_ERROR);
    }
    let api = match Api::new() {
        Ok(api) => api,
        Err(e) => {
            super::super::warn(&e.to_string());
            return Ok(super::super::EXIT_ERROR);
        }
    };
    for c in &found {
        writeln!(
            out,
            "asking {} to stop {} (its stop signal, then KILL after {})",
            c.runtime.title(),
            c.label(),
            crate::model::time::fmt_interval(args.timeout.max(std::time::Duration::from_secs(1)))
        )?;
        out.flush()?;
        match api.stop(&c.full_id, args.timeout) {
            Ok(()) => writeln!(out, "stopped container {}", c.label())?,
            Err(e) => {
                super::super::warn(&format!("could not stop container {}: {e}", c.label()));
                return Ok(super::super::EXIT_ERROR);
            }
        }
    }
    let wait = Wait {
        chosen: &[],
        acted: Acted {
            ports: ports.clone(),
            udp: false,
            targets: Vec::new(),
            before: Vec::new(),
            hold_for: args.timeout,
            watch_for: std::time::Duration::ZERO,
        },
    };
    let ended = wait.run(collector)?;
    report(collector, &[], &ports, args, out)?;
    Ok(match ended {
        Ended::Port(Outcome::Freed { .. }) | Ended::Exited(true) => super::super::EXIT_OK,
        _ => super::super::EXIT_IN_USE,
    })
}
