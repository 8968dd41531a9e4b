//! The one judgement of "after acting on these targets for port P, what happened?" —
//! freed, still held by the same, respawned by their supervisor, taken by someone else,
//! or only TIME-WAIT left — made snapshot by snapshot. `kill`, `kill --container`, the
//! live view's dialog and `wait-free` all feed it; none judges on its own. Pure: a
//! snapshot and the time since the act go in, an [`Outcome`] comes out.
//!
//! It keeps watching after the port is freed: a supervisor that brings the holder back a
//! second later turns "freed" into "respawned", and the live view updates its line.

use super::respawn::{Back, Departed, Respawn, Taken, back};
use super::verdict::Holders;
use crate::model::Snapshot;
use std::time::Duration;

/// What was done, and to what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acted {
    /// The ports judged (empty: only the targets' exit matters).
    pub ports: Vec<u16>,
    /// Judge the UDP ports as well as the TCP listeners.
    pub udp: bool,
    /// What the signalled processes were (empty for a container stop).
    pub targets: Vec<Departed>,
    /// Who else held the ports when it was done: left alone, never a newcomer.
    pub before: Vec<u32>,
    /// How long the targets may take to let the ports go.
    pub hold_for: Duration,
    /// Once released, how long to wait for a respawn before saying "freed".
    pub watch_for: Duration,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing listens on the ports any more; `time_wait` TIME-WAIT sockets remain on the
    /// first (a plain bind fails until they expire).
    Freed {
        ports: Vec<u16>,
        time_wait: usize,
        expires_ms: u32,
    },
    /// Still held when the time ran out (`by_targets`), or by holders that were not
    /// acted on once the targets let go.
    Held {
        port: u16,
        pids: Vec<u32>,
        by_targets: bool,
    },
    /// Taken back under a target's supervisor, container, or parent and user; `after`
    /// the release, when one was seen.
    Respawned {
        port: u16,
        after: Option<Duration>,
        by: Respawn,
    },
    /// Taken by someone else.
    Taken {
        port: u16,
        after: Option<Duration>,
        by: Taken,
    },
}

/// "port 3000 is free", the one way it is said ("UDP port 53 is free" for UDP).
pub fn free_sentence(port: u16, udp: bool) -> String {
    if udp {
        format!("UDP port {port} is free")
    } else {
        format!("port {port} is free")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// "0.8 s", "12 s".
fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 10_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", ms / 1000)
    }
}

impl Outcome {
    /// One sentence: "nothing listens on port 3000 any more", "port 3000 was taken again
    /// 0.8 s later by
    /// 250/node: respawned by PM2 app barapp: stop it with `…`". "Free" is the
    /// verdict's word, after a bind probe.
    pub fn sentence(&self, snap: &Snapshot) -> String {
        match self {
            Outcome::Freed {
                ports,
                time_wait: 0,
                ..
            } => match ports.as_slice() {
                [] => "it exited".to_owned(),
                // Not "free": connections may still hold the port; only a bind probe
                // (the verdict) says free.
                [p] => format!("nothing listens on port {p} any more"),
                many => {
                    let list: Vec<String> = many.iter().map(u16::to_string).collect();
                    format!("nothing listens on ports {} any more", list.join(", "))
                }
            },
            Outcome::Freed {
                ports,
                time_wait,
                expires_ms,
            } => format!(
                "port {} has no listener; {time_wait} TIME-WAIT socket{} remain{}, the last expires in {} s",
                ports.first().copied().unwrap_or(0),
                plural(*time_wait),
                if *time_wait == 1 { "s" } else { "" },
                expires_ms.div_ceil(1000)
            ),
            Outcome::Held {
                port,
                pids,
                by_targets: true,
            } => format!("port {port} is still held by {}", snap.pids_folded(pids)),
            Outcome::Held { port, pids, .. } => format!(
                "port {port} is still held by {}, which was not signalled",
                snap.pids_folded(pids)
            ),
            Outcome::Respawned { port, after, by } => match after {
                Some(d) => format!(
                    "port {port} was taken again {} later: {}",
                    seconds(*d),
                    by.sentence()
                ),
                None => format!("port {port} is held again: {}", by.sentence()),
            },
            Outcome::Taken { port, after, by } => match after {
                Some(d) => by.said(*port, &format!("was taken again {} later", seconds(*d))),
                None => by.sentence(*port),
            },
        }
    }

    /// The ports are free (TIME-WAIT aside).
    pub fn freed(&self) -> bool {
        matches!(self, Outcome::Freed { .. })
    }

    /// Someone holds the port again after the act: a respawn or a newcomer.
    pub fn retaken(&self) -> bool {
        matches!(self, Outcome::Respawned { .. } | Outcome::Taken { .. })
    }
}

/// The judgement in progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    acted: Acted,
    /// When nothing held the ports any more (since the act).
    released_at: Option<Duration>,
    outcome: Option<Outcome>,
}

/// What one snapshot shows on the judged ports.
struct Seen {
    /// The first held port and its holders (pids; empty when no visible owner).
    held: Option<(u16, Vec<u32>)>,
    /// A listener without a visible owner: an exiting process's socket can outlive its
    /// fd table for a moment.
    unowned: bool,
    time_wait: usize,
    expires_ms: u32,
}

impl Release {
    pub fn new(acted: Acted) -> Release {
        Release {
            acted,
            released_at: None,
            outcome: None,
        }
    }

    pub fn acted(&self) -> &Acted {
        &self.acted
    }

    /// The judgement so far.
    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    /// Feeds a snapshot taken `at` after the act. Returns the judgement when it is made,
    /// and again when it changes (a freed port taken back); `None` otherwise.
    pub fn feed(&mut self, snap: &Snapshot, at: Duration) -> Option<Outcome> {
        let next = self.judge(snap, at)?;
        if self.outcome.as_ref() == Some(&next) {
            return None;
        }
        // A retake is final: later snapshots do not turn it back into "freed".
        if self.outcome.as_ref().is_some_and(Outcome::retaken) {
            return None;
        }
        self.outcome = Some(next.clone());
        Some(next)
    }

    fn judge(&mut self, snap: &Snapshot, at: Duration) -> Option<Outcome> {
        let a = &self.acted;
        let after = self.released_at.map(|r| at.saturating_sub(r));
        if !a.targets.is_empty() {
            for &port in &a.ports {
                match back(&a.targets, &a.before, snap, port) {
                    Some(Back::Respawned(by)) => {
                        return Some(Outcome::Respawned { port, after, by });
                    }
                    Some(Back::Taken(by)) => return Some(Outcome::Taken { port, after, by }),
                    None => {}
                }
            }
        }
        if self.outcome.as_ref().is_some_and(Outcome::freed) {
            // Decided; only a retake (above) changes it.
            return None;
        }
        let seen = self.look(snap);
        if let Some((port, pids)) = seen.held {
            self.released_at = None;
            let targets_hold =
                a.targets.is_empty() || pids.iter().any(|p| a.targets.iter().any(|t| t.pid == *p));
            if !targets_hold && !seen.unowned && !pids.is_empty() {
                // The targets let go; what holds it was not acted on.
                return Some(Outcome::Held {
                    port,
                    pids,
                    by_targets: false,
                });
            }
            return (at >= a.hold_for).then_some(Outcome::Held {
                port,
                pids,
                by_targets: true,
            });
        }
        let released = *self.released_at.get_or_insert(at);
        let watched = at.saturating_sub(released) >= a.watch_for.min(a.hold_for);
        (watched || at >= a.hold_for).then(|| Outcome::Freed {
            ports: a.ports.clone(),
            time_wait: seen.time_wait,
            expires_ms: seen.expires_ms,
        })
    }

    fn look(&self, snap: &Snapshot) -> Seen {
        let mut seen = Seen {
            held: None,
            unowned: false,
            time_wait: 0,
            expires_ms: 0,
        };
        for (i, &port) in self.acted.ports.iter().enumerate() {
            let h = Holders::of(snap, port);
            let mut pids = h.pids.clone();
            let mut held = h.listening();
            if self.acted.udp && !h.udp.is_empty() {
                held = true;
                pids.extend(&h.udp_pids);
            }
            seen.unowned |= !h.unowned.is_empty();
            if held && seen.held.is_none() {
                pids.sort_unstable();
                pids.dedup();
                seen.held = Some((port, pids));
            }
            if i == 0 {
                seen.time_wait = h.time_wait;
                seen.expires_ms = h.time_wait_expires_ms;
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests;
