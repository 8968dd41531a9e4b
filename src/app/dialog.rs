//! The signal dialog (SPEC §4) and what happens after a signal: watching the next
//! snapshots, then judging the port with the same verdict `why` gives.

use super::{App, Effect};
use crate::diagnose::{Probe, signal_note, verdict};
use crate::model::{Delivery, Process, Refusal, Sent, Sig, Socket};
use std::time::{Duration, SystemTime};

/// How long after a signal the port is watched before saying it is still held.
pub const WATCH_FOR: Duration = Duration::from_secs(5);

/// One process the dialog may signal, as the user saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    pub pid: u32,
    /// What the user saw; `None` for a parent offered instead of a zombie (pinned as is).
    pub start_ticks: Option<u64>,
    /// The socket it must still hold when pinned and when the signal is sent; `None` for
    /// a zombie's parent, which is offered for what it is, not for a socket.
    pub inode: Option<u64>,
    pub name: String,
    pub user: String,
    pub cmdline: String,
    pub started: String,
    pub state: char,
    /// How the chosen signal will act on it ("suspended: TERM, then CONT so it can exit").
    pub stopped: bool,
    /// Filled when the runtime has pinned it: `Ok` or why it cannot be signalled.
    pub pinned: Option<Result<(), Refusal>>,
}

impl TargetInfo {
    fn of(p: &Process, start_ticks: Option<u64>, inode: Option<u64>) -> TargetInfo {
        TargetInfo {
            pid: p.pid,
            start_ticks,
            inode,
            name: p.name.clone(),
            user: p
                .user
                .clone()
                .unwrap_or_else(|| p.uid.map_or(String::new(), |u| u.to_string())),
            cmdline: p.command(),
            started: super::views::clock_secs(p.start_time),
            state: p.state,
            stopped: p.is_stopped(),
            pinned: None,
        }
    }

    /// What the dialog says about sending `sig` to it, beyond the signal itself.
    pub fn note(&self, sig: Sig) -> Option<String> {
        signal_note(self.stopped, sig)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Button {
    Cancel,
    Send,
}

/// The open dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dialog {
    /// The socket it was opened on.
    pub socket: Socket,
    pub targets: Vec<TargetInfo>,
    /// `Some(i)`: one target; `None`: all of them.
    pub chosen: Option<usize>,
    pub signal: Sig,
    pub focus: Button,
    /// Explains why the targets are not the socket's owners (a zombie owner).
    pub note: Option<String>,
}

impl Dialog {
    pub fn sig(&self) -> Sig {
        self.signal
    }

    /// The pids a confirm would signal: pinned ones only.
    pub fn chosen_pids(&self) -> Vec<u32> {
        self.targets
            .iter()
            .enumerate()
            .filter(|(i, _)| self.chosen.is_none_or(|c| c == *i))
            .filter(|(_, t)| matches!(t.pinned, Some(Ok(()))))
            .map(|(_, t)| t.pid)
            .collect()
    }
}

/// A signal was sent: watch the port until it is free or the time is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillWatch {
    pub port: u16,
    pub tcp: bool,
    pub pids: Vec<u32>,
    pub names: String,
    pub sig: Sig,
    pub until: SystemTime,
    /// Pids that got CONT after the signal because they were stopped.
    pub continued: Vec<u32>,
    /// A probe was asked for: the verdict follows when it arrives.
    pub judging: bool,
}

impl App {
    /// `k` / `K`: opens the dialog on the selected row's owners.
    pub fn open_dialog(&mut self, kill: bool) -> Vec<Effect> {
        let Some(row) = self.selected_row() else {
            self.say("nothing selected", true);
            return vec![];
        };
        let Some(socket) = self.row_socket(row).cloned() else {
            self.say(
                "select a socket, port or process row to send a signal",
                true,
            );
            return vec![];
        };
        if socket.owners.is_empty() {
            let why = format!(
                "no process to signal: owner {}",
                socket.owner_status.explain()
            );
            self.say(why, true);
            return vec![];
        }
        let mut targets: Vec<TargetInfo> = Vec::new();
        let mut note = None;
        for pid in &socket.owners {
            let Some(p) = self.live.snap.processes.get(pid) else {
                continue;
            };
            if p.is_zombie() {
                // A zombie cannot be killed; its parent must reap it. Offer the parent.
                let parent = p.ppid.unwrap_or(0);
                note = Some(format!(
                    "{} ({}) is a zombie: it has exited and cannot be killed. Its parent {} must reap it; the parent is offered instead.",
                    p.pid, p.name, parent
                ));
                if parent > 1 && !targets.iter().any(|t| t.pid == parent) {
                    let pp = self
                        .live
                        .snap
                        .processes
                        .get(&parent)
                        .cloned()
                        .unwrap_or_else(|| {
                            let mut pp = Process::unknown(parent);
                            pp.name = "(parent)".into();
                            pp
                        });
                    targets.push(TargetInfo::of(&pp, None, None));
                }
                continue;
            }
            targets.push(TargetInfo::of(
                p,
                Some(p.start_ticks),
                Some(socket.inode).filter(|&i| i != 0),
            ));
        }
        if targets.is_empty() {
            self.say(
                note.unwrap_or_else(|| "the owner's details are gone (it exited?)".into()),
                true,
            );
            return vec![];
        }
        let pins = targets
            .iter()
            .map(|t| (t.pid, t.start_ticks, t.inode))
            .collect();
        self.modes.dialog = Some(Dialog {
            socket,
            targets,
            chosen: Some(0),
            signal: if kill { Sig::Kill } else { Sig::Term },
            focus: Button::Cancel,
            note,
        });
        self.modes.mode = super::keymap::Mode::Dialog;
        vec![Effect::Pin(pins)]
    }

    /// The runtime pinned (or refused) the dialog's targets.
    pub fn pinned(&mut self, results: Vec<(u32, Result<(), Refusal>)>) {
        let Some(d) = &mut self.modes.dialog else {
            return;
        };
        for (pid, r) in results {
            if let Some(t) = d.targets.iter_mut().find(|t| t.pid == pid) {
                t.pinned = Some(r);
            }
        }
    }

    /// Confirm: send to the chosen, pinned targets.
    pub fn confirm_dialog(&mut self) -> Vec<Effect> {
        let Some(d) = self.modes.dialog.take() else {
            return vec![];
        };
        self.modes.mode = super::keymap::Mode::Normal;
        let pids = d.chosen_pids();
        if pids.is_empty() {
            let why = d
                .targets
                .iter()
                .find_map(|t| match &t.pinned {
                    Some(Err(e)) => Some(e.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| "the target is not pinned yet: nothing was sent".into());
            self.say(why, true);
            return vec![];
        }
        self.modes.watch = Some(KillWatch {
            port: d.socket.local.port(),
            tcp: d.socket.proto.is_tcp(),
            pids: pids.clone(),
            names: self.live.snap.pids_text(&pids),
            sig: d.sig(),
            until: self.live.now + WATCH_FOR,
            continued: Vec::new(),
            judging: false,
        });
        vec![Effect::Signal { sig: d.sig(), pids }]
    }

    pub fn cancel_dialog(&mut self) {
        self.modes.dialog = None;
        self.modes.mode = super::keymap::Mode::Normal;
    }

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

    /// After each snapshot: is it time to judge the watched port? Waits while the targets
    /// still hold it (they may be exiting) and until the snapshot shows what happened;
    /// then asks the runtime for a bind probe, and [`App::judge_watch`] says the verdict.
    pub fn check_watch(&mut self) -> Vec<Effect> {
        let Some(w) = self.modes.watch.as_mut() else {
            return vec![];
        };
        if w.judging {
            return vec![];
        }
        let h = crate::diagnose::Holders::of(&self.live.snap, w.port);
        let holders = if w.tcp { &h.pids } else { &h.udp_pids };
        let still_ours = holders.iter().any(|p| w.pids.contains(p));
        // An exiting process's socket can outlive its fd table for a moment and show with
        // no owner: wait for the next snapshot rather than blame a hidden owner.
        let settling = still_ours || !h.unowned.is_empty();
        if settling && self.live.now < w.until && w.sig.terminates() {
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
        let v = verdict(&self.live.snap, port, probe, &Default::default());
        let exited: Vec<u32> = w
            .pids
            .iter()
            .copied()
            .filter(|p| !self.live.snap.processes.contains_key(p))
            .collect();
        let mut text = format!("{} sent to {}: ", w.sig, w.names);
        if !exited.is_empty() {
            text.push_str("exited; ");
        }
        if w.tcp {
            text.push_str(&v.headline);
        } else if v.evidence.udp.is_empty() {
            text.push_str(&format!("UDP port {port} is free"));
        } else {
            text.push_str(&format!(
                "UDP port {port} is still bound by {}",
                self.live.snap.pids_text(&v.evidence.udp_pids)
            ));
        }
        let holders = if w.tcp {
            &v.evidence.pids
        } else {
            &v.evidence.udp_pids
        };
        let still_ours = holders.iter().any(|p| w.pids.contains(p));
        if still_ours && w.sig != Sig::Kill && w.sig.terminates() {
            text.push_str(" (it may ignore the signal: try KILL with K)");
        }
        self.say(text, false);
    }
}
