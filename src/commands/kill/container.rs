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
use std::time::Duration;

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
                .map(|s| s.local().port())
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
    if let Some(code) = refused(&found, &claimed, args.target) {
        return Ok(code);
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
    if !stop_all(&found, args.timeout, out)? {
        return Ok(super::super::EXIT_ERROR);
    }
    let wait = Wait {
        chosen: &[],
        acted: Acted {
            ports: ports.clone(),
            udp: false,
            targets: Vec::new(),
            before: Vec::new(),
            hold_for: args.timeout,
            watch_for: Duration::ZERO,
        },
    };
    let ended = wait.run(collector)?;
    let (lines, free) = report(
        collector,
        &[],
        &ports,
        (args.signal, args.escalate, args.udp),
    )?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    Ok(match ended {
        Ended::Port(Outcome::Freed { .. }) if free => super::super::EXIT_OK,
        Ended::Exited(true) => super::super::EXIT_OK,
        _ => super::super::EXIT_IN_USE,
    })
}

/// Why nothing will be stopped, said; `None` when the found containers can be.
fn refused(
    found: &[Container],
    claimed: &[(Container, Evidence)],
    target: KillTarget,
) -> Option<u8> {
    for (c, why) in claimed {
        super::super::warn(&format!(
            "not stopping container {}: {}; only a container the engine confirms is stopped",
            c.label(),
            why.why()
        ));
    }
    if found.is_empty() {
        if claimed.is_empty() {
            let what = match target {
                KillTarget::Port(p) => format!("port {p}"),
                KillTarget::Pid(p) => format!("pid {p}"),
            };
            super::super::warn(&format!(
                "no container holds or publishes {what}: `sockscope why` says what does"
            ));
        }
        return Some(super::super::EXIT_ERROR);
    }
    let other = found
        .iter()
        .find(|c| !matches!(c.runtime, Runtime::Docker | Runtime::Podman))?;
    let how = crate::diagnose::supervisor::of_container(other)
        .stop
        .map(|cmd| format!(": stop it with `{cmd}`"))
        .unwrap_or_else(|| ": scale down what runs it (kubectl)".into());
    super::super::warn(&format!(
        "{} runs under {}, whose API sockscope does not speak{how}",
        other.label(),
        other.runtime.title(),
    ));
    Some(super::super::EXIT_ERROR)
}

/// Asks the engine to stop each container, and says how each ended (137: the engine had
/// to KILL it after its grace time); false when one could not be stopped.
fn stop_all(found: &[Container], wait: Duration, out: &mut impl Write) -> Result<bool> {
    let api = match Api::new() {
        Ok(api) => api,
        Err(e) => {
            super::super::warn(&e.to_string());
            return Ok(false);
        }
    };
    let grace = crate::model::time::fmt_interval(wait.max(Duration::from_secs(1)));
    for c in found {
        writeln!(
            out,
            "asking {} to stop {} (its stop signal, then KILL after {grace})",
            c.runtime.title(),
            c.label(),
        )?;
        out.flush()?;
        if let Err(e) = api.stop(&c.full_id, wait) {
            super::super::warn(&format!("could not stop container {}: {e}", c.label()));
            return Ok(false);
        }
        let how = crate::model::container::stop_ending(
            c.runtime.title(),
            &grace,
            api.exit_code(&c.full_id).ok().flatten(),
        );
        writeln!(out, "stopped container {}{how}", c.label())?;
    }
    Ok(true)
}
