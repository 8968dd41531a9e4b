//! After the signal: wait for the port to be released, keep watching it for a respawn
//! (see [`crate::diagnose::respawn`]), and give the port's verdict.

use super::plan::Chosen;
use crate::cli::KillArgs;
use crate::collect::Collector;
use crate::diagnose::{
    Back, CloseWaitTracker, Departed, Holders, Probe, Respawn, Taken, back, verdict,
};
use crate::error::Result;
use crate::model::{Scope, Sig, Snapshot};
use std::io::Write;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

/// How the wait ended.
#[derive(Debug)]
pub enum Outcome {
    /// Nothing holds the ports (or, with no ports, every target exited), and nothing
    /// came back while watched.
    Released,
    /// Still held when the time ran out.
    Held,
    /// Taken back under a target's supervisor, container or parent.
    Respawned(Respawn),
    /// Taken by a process that is none of that: someone else has the port now.
    Taken(u16, Taken),
}

/// What to wait for.
pub struct Wait<'a> {
    pub chosen: &'a [Chosen],
    /// Who held the ports before anything was sent (never a newcomer).
    pub before: Vec<u32>,
    pub ports: &'a [u16],
    pub udp: bool,
    /// How long the port may stay held.
    pub held_for: Duration,
    /// How long to keep watching after it is released.
    pub watch_for: Duration,
}

impl Wait<'_> {
    fn departed(&self) -> Vec<Departed> {
        self.chosen.iter().map(|c| c.departed.clone()).collect()
    }

    /// Polls until the ports are released and stay so for `watch_for`, a respawn is
    /// seen, or `held_for` runs out while they are held.
    pub fn run(&self, collector: &mut dyn Collector) -> Result<Outcome> {
        let start = Instant::now();
        let departed = self.departed();
        let mut released_at: Option<Instant> = None;
        loop {
            let held = if self.ports.is_empty() {
                self.chosen.iter().any(|c| !c.target.has_exited())
            } else {
                let snap = collector.snapshot(Scope::Listeners)?;
                match self.back(&departed, &snap) {
                    Some((_, Back::Respawned(r))) => return Ok(Outcome::Respawned(r)),
                    Some((port, Back::Taken(t))) => return Ok(Outcome::Taken(port, t)),
                    None => {}
                }
                self.ports.iter().any(|&port| {
                    let h = Holders::of(&snap, port);
                    h.listening() || (self.udp && !h.udp.is_empty())
                })
            };
            let now = Instant::now();
            if held {
                released_at = None;
                if now >= start + self.held_for {
                    return Ok(Outcome::Held);
                }
            } else {
                let at = *released_at.get_or_insert(now);
                if now >= at + self.watch_for.min(self.held_for) || now >= start + self.held_for {
                    return Ok(Outcome::Released);
                }
            }
            std::thread::sleep(POLL);
        }
    }

    fn back(&self, departed: &[Departed], snap: &Snapshot) -> Option<(u16, Back)> {
        // Nothing signalled (a container stop): its processes linger a moment, and no
        // newcomer can be told from them.
        if departed.is_empty() {
            return None;
        }
        self.ports
            .iter()
            .find_map(|&port| back(departed, &self.before, snap, port).map(|b| (port, b)))
    }
}

/// The final word: who exited, and each port's verdict.
pub fn report(
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
