//! What happens after the dialog: the signal's (or the container stop's) result, then
//! watching the next snapshots, then judging the port with the same verdict `why` gives —
//! and naming a respawn when a supervisor brought the holder back.

use super::App;
use super::Effect;
use crate::diagnose::{Back, Departed, Probe, back, verdict};
use crate::model::{Delivery, Refusal, Sent, Sig};
use std::time::{Duration, SystemTime};

/// How long after a signal the port is watched before saying it is still held.
pub const WATCH_FOR: Duration = Duration::from_secs(5);

/// What the dialog did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    Signal(Sig),
    /// Asked the engine to stop this container.
    StopContainer(String),
}

impl Act {
    /// It ends the holder, so the port is worth watching.
    pub fn terminates(&self) -> bool {
        match self {
            Act::Signal(s) => s.terminates(),
            Act::StopContainer(_) => true,
        }
    }
}

/// A signal was sent (or a container stopped): watch the port until it is free or the
/// time is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillWatch {
    pub port: u16,
    pub tcp: bool,
    pub pids: Vec<u32>,
    /// Who got it: "123/node", "container web1".
    pub names: String,
    pub act: Act,
    pub until: SystemTime,
    /// Pids that got CONT after the signal because they were stopped.
    pub continued: Vec<u32>,
    /// A probe was asked for: the verdict follows when it arrives.
    pub judging: bool,
    /// The engine has not answered yet: nothing to judge.
    pub pending: bool,
    /// What the targets were, to recognise a respawn.
    pub departed: Vec<Departed>,
    /// Who held the port when the dialog acted: never reported as taking it back.
    pub held_before: Vec<u32>,
}

impl KillWatch {
    /// "SIGTERM sent to 123/node", "container web1 stopped".
    fn done(&self) -> String {
        match &self.act {
            Act::Signal(sig) => format!("{sig} sent to {}", self.names),
            Act::StopContainer(name) => format!("container {name} stopped"),
        }
    }
}

impl App {
    /// The runtime sent the signal: say what happened; failures end the watch.
    pub fn signal_result(&mut self, sig: Sig, results: Vec<(u32, Result<Sent, Refusal>)>) {
        let sent: Vec<u32> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(p, _)| *p)
            .collect();
        let errors: Vec<String> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().err().map(ToString::to_string))
            .collect();
        let fallback = results
            .iter()
            .any(|(_, r)| matches!(r, Ok(s) if s.delivery == Delivery::Kill));
        let continued: Vec<u32> = results
            .iter()
            .filter(|(_, r)| matches!(r, Ok(s) if s.continued))
            .map(|(p, _)| *p)
            .collect();
        if sent.is_empty() {
            self.modes.watch = None;
            self.say(errors.join("; "), true);
            return;
        }
        if let Some(w) = &mut self.modes.watch {
            w.pids.retain(|p| sent.contains(p));
            w.continued = continued.clone();
            let mut text = format!("{sig} sent to {}", w.names);
            if !continued.is_empty() {
                text.push_str(", then SIGCONT (it was suspended)");
            }
            text.push_str(&format!("; watching port {}…", w.port));
            if fallback {
                text.push_str(
                    " (pidfd unavailable: sent with kill() right after re-checking the start time)",
                );
            }
            if !errors.is_empty() {
                text.push_str(&format!(" ({})", errors.join("; ")));
            }
            self.say(text, !errors.is_empty());
        }
    }

    /// The engine answered the stop of a container.
    pub fn container_stopped(&mut self, name: &str, result: Result<(), String>) {
        let Some(w) = &mut self.modes.watch else {
            return;
        };
        if w.act != Act::StopContainer(name.to_owned()) {
            return;
        }
        match result {
            Ok(()) => {
                w.pending = false;
                w.until = self.live.now + WATCH_FOR;
                let text = format!("container {name} stopped; watching port {}…", w.port);
                self.say(text, false);
            }
            Err(e) => {
                self.modes.watch = None;
                self.say(format!("could not stop container {name}: {e}"), true);
            }
        }
    }

    /// After each snapshot: is it time to judge the watched port? Waits while the targets
    /// still hold it (they may be exiting) and until the snapshot shows what happened;
    /// then asks the runtime for a bind probe, and [`App::judge_watch`] says the verdict.
    pub fn check_watch(&mut self) -> Vec<Effect> {
        let Some(w) = self.modes.watch.as_mut() else {
            return vec![];
        };
        if w.judging || w.pending {
            return vec![];
        }
        let h = crate::diagnose::Holders::of(&self.live.snap, w.port);
        let holders = if w.tcp { &h.pids } else { &h.udp_pids };
        let still_ours = match &w.act {
            Act::Signal(_) => holders.iter().any(|p| w.pids.contains(p)),
            // The proxy and the container's processes go a moment after the engine says
            // it stopped.
            Act::StopContainer(_) => !holders.is_empty(),
        };
        // An exiting process's socket can outlive its fd table for a moment and show with
        // no owner: wait for the next snapshot rather than blame a hidden owner.
        let settling = still_ours || !h.unowned.is_empty();
        if settling && self.live.now < w.until && w.act.terminates() {
            return vec![];
        }
        w.judging = true;
        vec![Effect::Probe(w.port)]
    }

    /// The probe for the watched port came back: say the verdict.
    pub fn judge_watch(&mut self, port: u16, probe: Probe) {
        let Some(w) = self.modes.watch.take() else {
            return;
        };
        if w.port != port {
            self.modes.watch = Some(w);
            return;
        }
        let snap = &self.live.snap;
        let mut text = format!("{}: ", w.done());
        if w.tcp && !w.departed.is_empty() {
            match back(&w.departed, &w.held_before, snap, port) {
                Some(Back::Respawned(r)) => {
                    text.push_str(&format!("port {port} is held again: {}", r.sentence()));
                    self.say(text, true);
                    return;
                }
                Some(Back::Taken(t)) => {
                    text.push_str(&t.sentence(port));
                    self.say(text, true);
                    return;
                }
                None => {}
            }
        }
        let v = verdict(snap, port, probe, &Default::default());
        let exited = w.pids.iter().any(|p| !snap.processes.contains_key(p));
        if exited {
            text.push_str("exited; ");
        }
        if w.tcp {
            text.push_str(&v.headline);
        } else if v.evidence.udp.is_empty() {
            text.push_str(&format!("UDP port {port} is free"));
        } else {
            text.push_str(&format!(
                "UDP port {port} is still bound by {}",
                snap.pids_text(&v.evidence.udp_pids)
            ));
        }
        let holders = if w.tcp {
            &v.evidence.pids
        } else {
            &v.evidence.udp_pids
        };
        let still_ours = holders.iter().any(|p| w.pids.contains(p));
        if let Act::Signal(sig) = w.act
            && still_ours
            && sig != Sig::Kill
            && sig.terminates()
        {
            text.push_str(" (it may ignore the signal: try KILL with K)");
        }
        self.say(text, false);
    }
}
