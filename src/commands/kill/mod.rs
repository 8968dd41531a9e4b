//! `sockscope kill PORT|:PORT|pid:PID`: the safe kill of SPEC §4 from the command line,
//! then a wait, and the port's verdict (the same one `why` gives).
//!
//! `kill :PORT` targets the holders of the TCP listeners on the port: that is what blocks
//! a server's bind. UDP holders only with `--udp`. Each target is pinned to the socket it
//! holds: at pin time and again right before sending, a fresh read of its fd table must
//! show that socket, or nothing is sent.
//!
//! A target a supervisor will probably restart is named before anything is sent; after,
//! the port is watched for a respawn ([`crate::diagnose::respawn`]). `--container` stops
//! the container behind the port through its engine instead ([`container`]).

mod container;
pub(crate) mod plan;
pub(crate) mod watch;

use crate::cli::KillArgs;
use crate::collect::{self, CollectorKind};
use crate::diagnose::{Acted, Outcome, explain_process, respawn, signal_note};
use crate::error::Result;
use crate::model::{Delivery, Process, Refusal, Scope, Sig, Snapshot};
use crate::signal::{RealSignaller, Signaller};
use plan::Chosen;
use std::io::{self, Write};
use std::time::Duration;
use watch::{Ended, Wait};

/// After an escalation to KILL, how long to wait for the port.
const AFTER_KILL: Duration = Duration::from_secs(3);

pub fn run(args: &KillArgs, kind: CollectorKind) -> Result<u8> {
    let mut collector = collect::open_once(kind)?;
    let mut snap = collector.snapshot(Scope::All)?;
    if let crate::cli::KillTarget::Port(port) = args.target {
        collect::add_bound_holders(collector.as_mut(), &mut snap, port);
    }
    let mut out = io::stdout();
    if args.container {
        return container::run(collector.as_mut(), &snap, args, &mut out);
    }
    let plan = match plan::plan(&snap, args.target, args.udp) {
        plan::Planned::Go(plan) => plan,
        plan::Planned::Refused(why) => {
            super::warn(&why);
            return Ok(super::EXIT_ERROR);
        }
        plan::Planned::Nothing { lines, held } => {
            for line in lines {
                writeln!(out, "{line}")?;
            }
            return Ok(if held {
                super::EXIT_IN_USE
            } else {
                super::EXIT_OK
            });
        }
    };
    for note in &plan.notes {
        writeln!(out, "{note}")?;
    }
    let chosen = match plan::pin_all(&snap, &plan) {
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
    // Every target is signalled; the listing names the first ones and counts the rest.
    for c in chosen.iter().take(crate::model::fold::SHOWN) {
        writeln!(out, "{verb} {}", describe(&snap, &c.process, args.signal))?;
        for note in notes(c, args.signal) {
            writeln!(out, "        {note}")?;
        }
    }
    let all: Vec<u32> = chosen.iter().map(|c| c.process.pid).collect();
    if let Some(rest) = crate::model::fold::Folded::of(&snap, &all).sentence() {
        writeln!(out, "{rest}")?;
    }
    if args.dry_run {
        writeln!(out, "dry run: nothing was sent")?;
        return Ok(super::EXIT_OK);
    }
    let question = format!(
        "send {} to {}{}?",
        args.signal,
        snap.pids_folded(&all),
        if all.len() > 1 {
            format!(" ({} processes)", all.len())
        } else {
            String::new()
        }
    );
    if !args.yes && !super::confirm(&question)? {
        return Ok(super::EXIT_ERROR);
    }
    let mut signaller = RealSignaller::default();
    if send_all(&mut signaller, &snap, &chosen, args.signal, &mut out)? {
        return Ok(super::EXIT_ERROR);
    }
    let ended = judge(
        collector.as_mut(),
        &mut signaller,
        &snap,
        &plan,
        &chosen,
        args,
        &mut out,
    )?;
    let ended = match ended {
        Some(e) => e,
        None => return Ok(super::EXIT_ERROR),
    };
    if let Ended::Port(o) = &ended
        && o.retaken()
    {
        for c in chosen.iter().filter(|c| c.target.has_exited()) {
            writeln!(out, "{}/{} exited", c.process.pid, c.process.name)?;
        }
        writeln!(out, "{}", o.sentence(&snap))?;
        return Ok(super::EXIT_IN_USE);
    }
    let (lines, free) = watch::report(
        collector.as_mut(),
        &chosen,
        &plan.ports,
        (args.signal, args.escalate, args.udp),
    )?;
    for line in lines {
        writeln!(out, "{line}")?;
    }
    // The release judgement watches listeners; the final check also sees sockets bound
    // without listening and connections still on the port: "freed" needs both.
    Ok(match ended {
        Ended::Port(Outcome::Freed { .. }) if free => super::EXIT_OK,
        Ended::Exited(true) => super::EXIT_OK,
        _ => super::EXIT_IN_USE,
    })
}

/// Waits for the release judgement, escalating to KILL when asked and the targets still
/// hold on; `None` when the escalation could not be sent (said why already).
fn judge(
    collector: &mut dyn crate::collect::Collector,
    signaller: &mut RealSignaller,
    snap: &Snapshot,
    plan: &plan::Plan,
    chosen: &[Chosen],
    args: &KillArgs,
    out: &mut impl Write,
) -> Result<Option<Ended>> {
    let mut wait = Wait {
        chosen,
        acted: acted(
            snap,
            &plan.ports,
            chosen,
            args.signal,
            args.timeout,
            args.udp,
        ),
    };
    let ended = wait.run(collector)?;
    if !(ended.held_by_targets() && args.escalate && args.signal != Sig::Kill) {
        return Ok(Some(ended));
    }
    writeln!(
        out,
        "still held after {}: escalating to SIGKILL",
        crate::model::time::fmt_interval(args.timeout)
    )?;
    let alive: Vec<&Chosen> = chosen.iter().filter(|c| !c.target.has_exited()).collect();
    if send_all(signaller, snap, &alive, Sig::Kill, out)? {
        return Ok(None);
    }
    wait.acted.hold_for = AFTER_KILL;
    wait.acted.watch_for = wait.acted.watch_for.min(AFTER_KILL);
    Ok(Some(wait.run(collector)?))
}

/// What was done, for the release judgement: `sig` sent to `chosen` for `ports`, which
/// they may take `timeout` to let go of.
pub(crate) fn acted(
    snap: &Snapshot,
    ports: &[u16],
    chosen: &[Chosen],
    sig: Sig,
    timeout: Duration,
    udp: bool,
) -> Acted {
    let targets: Vec<_> = chosen.iter().map(|c| c.departed.clone()).collect();
    let terminates = sig.terminates();
    let watch_for = if terminates && !ports.is_empty() {
        respawn::watch_for(&targets, timeout)
    } else {
        Duration::ZERO
    };
    Acted {
        ports: ports.to_vec(),
        udp,
        targets,
        before: held_before(snap, ports),
        hold_for: if terminates { timeout } else { Duration::ZERO },
        watch_for,
    }
}

/// Every pid holding one of `ports` before anything was sent.
fn held_before(snap: &Snapshot, ports: &[u16]) -> Vec<u32> {
    ports
        .iter()
        .flat_map(|&p| {
            let h = crate::diagnose::Holders::of(snap, p);
            h.pids.into_iter().chain(h.udp_pids)
        })
        .collect()
}

/// What the user should know about a target before it is signalled: that a suspended
/// process is continued, why it looks odd, what will bring it back, where it runs.
pub(crate) fn notes(c: &Chosen, sig: Sig) -> Vec<String> {
    let mut notes: Vec<String> = signal_note(c.process.is_stopped(), sig)
        .into_iter()
        .chain(explain_process(&c.process))
        .collect();
    if let Some(w) = c.departed.warning() {
        notes.push(w);
    } else if let Some(s) = &c.departed.supervisor {
        notes.push(s.sentence());
    }
    if let Some(ct) = &c.process.container {
        notes.push(if ct.confirmed.verified() {
            format!(
                "it runs in container {}: `--container` stops the container instead",
                ct.label()
            )
        } else {
            format!(
                "its cgroup names container {}, not confirmed: {}",
                ct.label(),
                ct.confirmed.why()
            )
        });
    }
    notes
}

pub(crate) fn describe(snap: &Snapshot, p: &Process, sig: Sig) -> String {
    format!(
        "{sig} to {} (user {}, started {} UTC): {}",
        snap.pids_folded(&[p.pid]),
        p.user.as_deref().unwrap_or("?"),
        crate::model::time::clock_secs(p.start_time),
        p.command()
    )
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
    for said in send_each(signaller, snap, chosen, sig) {
        match said {
            Said::Line(line) => writeln!(out, "{line}")?,
            Said::Failed(why) => {
                super::warn(&why);
                failed = true;
            }
        }
    }
    Ok(failed)
}

/// What sending to one target came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Said {
    /// Sent, or the target had already exited: a line for stdout.
    Line(String),
    /// Not sent: why, for stderr.
    Failed(String),
}

/// Sends `sig` to every target in turn, each re-checked right before; what happened to
/// each, in order.
pub(crate) fn send_each<C: std::borrow::Borrow<Chosen>>(
    signaller: &mut RealSignaller,
    snap: &Snapshot,
    chosen: &[C],
    sig: Sig,
) -> Vec<Said> {
    let mut said = Vec::new();
    for c in chosen {
        let c = c.borrow();
        let who = snap.pids_folded(&[c.process.pid]);
        said.push(match signaller.send(&c.target, sig) {
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
                Said::Line(format!("sent {sig} to {who}{cont}{how}"))
            }
            // Already gone between the pin and now: that is what we wanted.
            Err(Refusal::Gone(_)) => Said::Line(format!("{who} had already exited")),
            Err(e) => Said::Failed(e.to_string()),
        });
    }
    said
}
