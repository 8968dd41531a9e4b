//! After the signal: feed snapshots to the release judgement
//! ([`crate::diagnose::release`]) until it decides, and give the ports' verdicts.

use super::plan::Chosen;
use crate::collect::Collector;
use crate::diagnose::{Acted, CloseWaitTracker, Kind, Outcome, Probe, Release, verdict};
use crate::error::Result;
use crate::model::{Scope, Sig};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);

/// How the wait ended.
#[derive(Debug)]
pub enum Ended {
    /// What the release judgement said about the ports.
    Port(Outcome),
    /// No ports to judge: whether every target exited in time.
    Exited(bool),
}

impl Ended {
    /// The targets still hold what they held: worth escalating.
    pub fn held_by_targets(&self) -> bool {
        matches!(
            self,
            Ended::Port(Outcome::Held {
                by_targets: true,
                ..
            }) | Ended::Exited(false)
        )
    }
}

/// What to wait for: the act, and the targets (for their exit when there is no port).
pub struct Wait<'a> {
    pub chosen: &'a [Chosen],
    pub acted: Acted,
}

impl Wait<'_> {
    /// Polls snapshots until the judgement is made (or, with no ports, until the
    /// targets exit or the time runs out).
    pub fn run(&self, collector: &mut dyn Collector) -> Result<Ended> {
        let start = Instant::now();
        let mut release = Release::new(self.acted.clone());
        loop {
            if self.acted.ports.is_empty() {
                let exited = self.chosen.iter().all(|c| c.target.has_exited());
                if exited || start.elapsed() >= self.acted.hold_for {
                    return Ok(Ended::Exited(exited));
                }
            } else {
                let snap = collector.snapshot(Scope::Listeners)?;
                if let Some(outcome) = release.feed(&snap, start.elapsed()) {
                    return Ok(Ended::Port(outcome));
                }
            }
            std::thread::sleep(POLL);
        }
    }
}

/// The final word: who exited, and each port's verdict, as lines; and whether every port
/// is free for a server now (nothing but TIME-WAIT left on it, which a server's
/// `SO_REUSEADDR` bind takes over). `how` is the signal sent, whether it was escalated,
/// and whether UDP was judged.
pub fn report(
    collector: &mut dyn Collector,
    chosen: &[Chosen],
    ports: &[u16],
    how: (Sig, bool, bool),
) -> Result<(Vec<String>, bool)> {
    let (sig, escalate, udp) = how;
    let mut snap = collector.snapshot(Scope::All)?;
    for &port in ports {
        crate::collect::add_bound_holders(collector, &mut snap, port);
    }
    let targets: Vec<u32> = chosen.iter().map(|c| c.target.pid).collect();
    let mut lines = Vec::new();
    for c in chosen.iter().filter(|c| c.target.has_exited()) {
        lines.push(format!("{}/{} exited", c.process.pid, c.process.name));
    }
    let leaking = CloseWaitTracker::default().observe(&snap);
    let mut free = true;
    for &port in ports {
        let v = verdict(&snap, port, Probe::run(port), &leaking);
        free &= matches!(v.kind, Kind::Free | Kind::TimeWaitOnly);
        let ours = v
            .evidence
            .pids
            .iter()
            .chain(&v.evidence.bound_pids)
            .any(|p| targets.contains(p));
        let hint = if ours && sig != Sig::Kill && !escalate {
            " (it may ignore the signal: try --signal KILL or --escalate)"
        } else {
            ""
        };
        lines.push(format!("{}{hint}", v.headline));
        if udp && !v.evidence.udp.is_empty() {
            free = false;
            lines.push(format!(
                "UDP port {port} is still bound by {}",
                snap.pids_folded(&v.evidence.udp_pids)
            ));
        }
    }
    Ok((lines, free))
}
