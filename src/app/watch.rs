//! What happens after the dialog: the signal's (or the container stop's) result, then
//! the release judgement ([`crate::diagnose::release`]) fed with every snapshot, then the
//! port's verdict as `why` gives it. The line stays until the next key, and the port is
//! followed a while longer: when a supervisor takes it back a second after "free", the
//! line says so ("… exited; port 3000 was taken again 0.8 s later by 250/node:
//! respawned by PM2 app barapp: stop it with `…`").

use super::App;
use super::Effect;
use crate::diagnose::{Acted, Departed, Outcome, Probe, Release, verdict};
use crate::model::{Delivery, Refusal, Sent, Sig};
use std::time::{Duration, SystemTime};

/// How long the targets may take to let the port go before it is judged held.
pub const WATCH_FOR: Duration = Duration::from_secs(5);
/// After the judgement, how long the port is still followed for a retake.
pub const FOLLOW: Duration = Duration::from_secs(30);
/// How long the engine lets a container's processes exit before it kills them.
pub const CONTAINER_GRACE: Duration = Duration::from_secs(5);

/// What the dialog did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Act {
    Signal(Sig),
    /// Asked this engine (`Docker`, `Podman`) to stop this container.
    StopContainer {
        name: String,
        engine: &'static str,
    },
}

impl Act {
    /// It ends the holder, so the port is worth watching.
    pub fn terminates(&self) -> bool {
        match self {
            Act::Signal(s) => s.terminates(),
            Act::StopContainer { .. } => true,
        }
    }
}

/// A signal was sent (or a container stopped): the port is judged, then followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillWatch {
    pub port: u16,
    pub tcp: bool,
    pub pids: Vec<u32>,
    /// Who got it: "123/node", "container web1".
    pub names: String,
    pub act: Act,
    /// When it was done: the signal sent, or the engine's answer (`None` until then).
    pub since: Option<SystemTime>,
    /// Pids that got CONT after the signal because they were stopped.
    pub continued: Vec<u32>,
    /// A probe was asked for: the verdict follows when it arrives.
    pub judging: bool,
    /// The judgement, fed with every snapshot.
    pub release: Release,
    /// Once judged, the start of the line ("SIGTERM sent to 100/node: exited; "), to
    /// which a later retake is added.
    pub said: Option<String>,
    /// How a stopped container ended, when the engine said: ": it did not stop in 5s,
    /// so Docker killed it (exit 137)".
    pub ending: String,
}

impl KillWatch {
    /// Watches `port` after `act` on the `targets`; `before`: the holders left alone.
    pub fn new(
        port: u16,
        tcp: bool,
        pids: Vec<u32>,
        names: String,
        act: Act,
        targets: Vec<Departed>,
        before: Vec<u32>,
    ) -> KillWatch {
        let hold_for = if act.terminates() {
            WATCH_FOR
        } else {
            Duration::ZERO
        };
        KillWatch {
            port,
            tcp,
            pids,
            names,
            act,
            since: None,
            continued: Vec::new(),
            judging: false,
            release: Release::new(Acted {
                ports: vec![port],
                udp: !tcp,
                targets,
                before,
                hold_for,
                // "Free" is said at once; a retake afterwards is said when it shows.
                watch_for: Duration::ZERO,
            }),
            said: None,
            ending: String::new(),
        }
    }

    /// "SIGTERM sent to 123/node", "container web1 stopped".
    fn done(&self) -> String {
        match &self.act {
            Act::Signal(sig) => format!("{sig} sent to {}", self.names),
            Act::StopContainer { name, .. } => format!("container {name} stopped{}", self.ending),
        }
    }

    /// The start of the verdict line: "SIGTERM sent to 123/node: exited; ", "container
    /// web1 stopped: it did not stop in 5s, so Docker killed it (exit 137); ".
    fn lead(&self, exited: bool) -> String {
        let sep = if self.ending.starts_with(':') {
            "; "
        } else {
            ": "
        };
        format!(
            "{}{sep}{}",
            self.done(),
            if exited { "exited; " } else { "" }
        )
    }

    /// Judged, and now only followed for a retake.
    pub fn judged(&self) -> bool {
        self.said.is_some()
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

    /// The engine answered the stop of a container: the line says so at once (it
    /// replaces "asking … to stop …", which stayed until now), with how it ended.
    pub fn container_stopped(&mut self, name: &str, result: Result<Option<i64>, String>) {
        let Some(w) = &mut self.modes.watch else {
            return;
        };
        let Act::StopContainer {
            name: asked,
            engine,
        } = &w.act
        else {
            return;
        };
        if asked != name {
            return;
        }
        match result {
            Ok(exit) => {
                let grace = super::views::fmt_interval(CONTAINER_GRACE);
                w.ending = crate::model::container::stop_ending(engine, &grace, exit);
                w.since = Some(self.live.now);
                let text = format!("{}; watching port {}…", w.done(), w.port);
                self.say_until_key(text, false);
            }
            Err(e) => {
                self.modes.watch = None;
                self.say_until_key(format!("could not stop container {name}: {e}"), true);
            }
        }
    }

    /// After each snapshot: feeds the release judgement. A freed or held port is then
    /// judged with a bind probe ([`App::judge_watch`]); a retake is said at once, also
    /// after "free" was said.
    pub fn check_watch(&mut self) -> Vec<Effect> {
        let now = self.live.now;
        let Some(w) = self.modes.watch.as_mut() else {
            return vec![];
        };
        let Some(since) = w.since else {
            return vec![];
        };
        if w.judging {
            return vec![];
        }
        let at = now.duration_since(since).unwrap_or_default();
        let snap = self.live.snap.clone();
        let Some(outcome) = w.release.feed(&snap, at) else {
            if w.judged() && at >= FOLLOW {
                self.modes.watch = None;
            }
            return vec![];
        };
        if outcome.retaken() {
            let start = w.said.clone().unwrap_or_else(|| {
                let exited = w.pids.iter().any(|p| !snap.processes.contains_key(p));
                w.lead(exited)
            });
            let text = format!("{start}{}", outcome.sentence(&snap));
            self.modes.watch = None;
            self.say_until_key(text, true);
            return vec![];
        }
        w.judging = true;
        vec![Effect::Probe(w.port)]
    }

    /// The probe for the watched port came back: say the verdict, and keep following the
    /// port when it was freed.
    pub fn judge_watch(&mut self, port: u16, probe: Probe) {
        let Some(mut w) = self.modes.watch.take() else {
            return;
        };
        if w.port != port {
            self.modes.watch = Some(w);
            return;
        }
        let snap = &self.live.snap;
        let exited = w.pids.iter().any(|p| !snap.processes.contains_key(p));
        let start = w.lead(exited);
        let v = verdict(snap, port, probe, &Default::default());
        let mut text = start.clone();
        if w.tcp {
            text.push_str(&v.headline);
        } else if v.evidence.udp.is_empty() {
            text.push_str(&crate::diagnose::release::free_sentence(port, true));
        } else {
            text.push_str(&format!(
                "UDP port {port} is still bound by {}",
                snap.pids_folded(&v.evidence.udp_pids)
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
        self.say_until_key(text, false);
        if w.release.outcome().is_some_and(Outcome::freed) {
            w.judging = false;
            w.said = Some(start);
            self.modes.watch = Some(w);
        }
    }
}
