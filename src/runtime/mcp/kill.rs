//! `kill_port` (only with `--allow-actions`): `sockscope kill :PORT`, in two calls.
//!
//! The preview plans and pins exactly as `kill` does (the holders of the port's TCP
//! listeners, UDP too with `udp`; docker-proxy, pid 1, our own process group, kernel
//! threads, zombies refused) and hands out a token bound to each holder's (pid, start
//! time, socket inode). The execute call brings the token back: each target is pinned
//! again by exactly that identity (its start time unchanged, its fd table holding that
//! socket now), re-checked right before the signal, and the release judgement says what
//! became of the port (freed, still held, respawned by its supervisor, taken by someone
//! else). An agent signals only processes of the user the server runs as.

use super::args;
use super::{Reply, Server, said};
use crate::cli::KillTarget;
use crate::collect;
use crate::commands::kill::plan::{self, Chosen, Planned};
use crate::commands::kill::watch::{Ended, Wait, report};
use crate::commands::kill::{Said, acted, describe, notes, send_each};
use crate::diagnose::Outcome;
use crate::model::{Scope, Sig};
use crate::signal::RealSignaller;
use serde_json::{Value, json};
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// How long the targets may take to let the port go (`kill`'s default `--timeout`).
const HOLD_FOR: Duration = Duration::from_secs(5);

/// What a kill token stands for.
pub struct Pending {
    port: u16,
    udp: bool,
    signal: Sig,
    /// (pid, start time in clock ticks, socket inode) of each target.
    targets: Vec<(u32, u64, u64)>,
}

pub fn kill(s: &Server, a: args::Kill) -> Reply {
    match &a.token {
        None => preview(s, &a),
        Some(token) => execute(s, &a, token),
    }
}

fn preview(s: &Server, a: &args::Kill) -> Reply {
    let snap = said(collect::open_once(s.kind).and_then(|mut c| {
        let mut snap = c.snapshot(Scope::All)?;
        collect::add_bound_holders(c.as_mut(), &mut snap, a.port);
        Ok(snap)
    }))?;
    let plan = match plan::plan(&snap, KillTarget::Port(a.port), a.udp) {
        Planned::Go(plan) => plan,
        Planned::Refused(why) => return Err(why),
        Planned::Nothing { lines, .. } => {
            return Ok(json!({
                "stage": "nothing",
                "port": a.port,
                "signal": a.signal.to_string(),
                "message": lines.join("\n"),
            }));
        }
    };
    let chosen = plan::pin_all(&snap, &plan).map_err(|r| format!("nothing will be sent: {r}"))?;
    own_user(&chosen, a.port)?;
    let mut exact = Vec::new();
    for c in &chosen {
        let inode = c.target.inode.ok_or_else(|| {
            format!(
                "pid {} holds no socket of port {} to pin it to: nothing will be sent",
                c.target.pid, a.port
            )
        })?;
        exact.push((c.target.pid, c.target.start_ticks, inode));
    }
    let targets: Vec<Value> = chosen
        .iter()
        .map(|c| {
            let p = &c.process;
            json!({
                "pid": p.pid,
                "start_ticks": c.target.start_ticks,
                "started": crate::model::time::clock_secs(p.start_time),
                "name": p.name,
                "user": p.user,
                "uid": p.uid,
                "command": p.command(),
                "inode": c.target.inode,
                "state": p.state.to_string(),
                "container": p.container,
                "supervisor": c.departed.supervisor,
                "target": describe(&snap, p, a.signal),
                "notes": notes(c, a.signal),
            })
        })
        .collect();
    let pending = Pending {
        port: a.port,
        udp: a.udp,
        signal: a.signal,
        targets: exact,
    };
    let mut tokens = s.kills.lock().unwrap_or_else(PoisonError::into_inner);
    let ttl = tokens.ttl();
    let token = tokens
        .issue(pending, Instant::now())
        .map_err(|e| format!("cannot make a token: {e}"))?;
    let pids: Vec<u32> = chosen.iter().map(|c| c.process.pid).collect();
    Ok(json!({
        "stage": "preview",
        "port": a.port,
        "signal": a.signal.to_string(),
        "udp": a.udp,
        "targets": targets,
        "notes": plan.notes,
        "token": token,
        "expires_in_s": ttl.as_secs(),
        "next": format!(
            "to send {} to {} (exactly these processes), call kill_port again within {} s with the same port and this token",
            a.signal,
            snap.pids_folded(&pids),
            ttl.as_secs()
        ),
    }))
}

fn execute(s: &Server, a: &args::Kill, token: &str) -> Reply {
    let p = s
        .kills
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(token, Instant::now())
        .map_err(|r| r.to_string())?;
    if (p.port, p.udp, p.signal) != (a.port, a.udp, a.signal) {
        return Err(format!(
            "this token was issued for {} to the holders of port {}{}: nothing was sent; call kill_port without a token for a new preview",
            p.signal,
            p.port,
            if p.udp { " (UDP too)" } else { "" }
        ));
    }
    let mut collector = said(collect::open_once(s.kind))?;
    let mut snap = said(collector.snapshot(Scope::All))?;
    collect::add_bound_holders(collector.as_mut(), &mut snap, p.port);
    let chosen = plan::pin_exact(&snap, Some(p.port), &p.targets)
        .map_err(|r| format!("nothing was sent: {r}"))?;
    own_user(&chosen, p.port)?;
    let mut signaller = RealSignaller::default();
    let mut sent = Vec::new();
    let mut failed = Vec::new();
    for s in send_each(&mut signaller, &snap, &chosen, p.signal) {
        match s {
            Said::Line(line) => sent.push(line),
            Said::Failed(why) => failed.push(why),
        }
    }
    if !failed.is_empty() {
        sent.extend(failed);
        return Err(sent.join("\n"));
    }
    let acted = acted(&snap, &[p.port], &chosen, p.signal, HOLD_FOR, p.udp);
    let ended = said(
        Wait {
            chosen: &chosen,
            acted,
        }
        .run(collector.as_mut()),
    )?;
    let (mut outcome, mut sentence, mut freed) = match &ended {
        Ended::Port(o) => (kind(o), o.sentence(&snap), o.freed()),
        Ended::Exited(true) => ("exited", "it exited".to_owned(), true),
        Ended::Exited(false) => ("held", "it has not exited".to_owned(), false),
    };
    let lines = match &ended {
        Ended::Port(o) if o.retaken() => {
            let mut lines: Vec<String> = chosen
                .iter()
                .filter(|c| c.target.has_exited())
                .map(|c| format!("{}/{} exited", c.process.pid, c.process.name))
                .collect();
            lines.push(sentence.clone());
            lines
        }
        _ => {
            let (lines, free) = said(report(
                collector.as_mut(),
                &chosen,
                &[p.port],
                (p.signal, false, p.udp),
            ))?;
            // The release judgement watches listeners; the final check also sees sockets
            // bound without listening and connections left on the port.
            if freed && !free {
                (outcome, freed) = ("held", false);
                let targets_exited = chosen.iter().filter(|c| c.target.has_exited()).count();
                sentence = lines[targets_exited..].join("; ");
            }
            lines
        }
    };
    Ok(json!({
        "stage": "done",
        "port": p.port,
        "signal": p.signal.to_string(),
        "sent": sent,
        "outcome": outcome,
        "freed": freed,
        "sentence": sentence,
        "report": lines,
    }))
}

/// The release judgement's word for what happened.
fn kind(o: &Outcome) -> &'static str {
    match o {
        Outcome::Freed { .. } => "freed",
        Outcome::Held { .. } => "held",
        Outcome::Respawned { .. } => "respawned",
        Outcome::Taken { .. } => "taken",
    }
}

/// An agent signals only processes of the user the server runs as: another user's
/// process (a root server's agent and www-data's nginx) is that user's business, done
/// from a terminal with `sockscope kill`.
fn own_user(chosen: &[Chosen], port: u16) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    for c in chosen {
        let p = &c.process;
        if p.uid != Some(me) {
            let whose = match (&p.user, p.uid) {
                (Some(u), _) => format!("user {u}"),
                (None, Some(uid)) => format!("uid {uid}"),
                (None, None) => "a user that cannot be read".to_owned(),
            };
            return Err(format!(
                "refusing to signal pid {} ({}): it runs as {whose}, and this server as uid {me}; an agent signals only its own user's processes (from a terminal: `sockscope kill :{port}`); nothing will be sent",
                p.pid, p.name
            ));
        }
    }
    Ok(())
}
