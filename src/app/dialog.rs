//! The signal dialog (SPEC §4) and what happens after a signal: watching the next
//! snapshots to say whether the port was freed.

use super::{App, Effect};
use crate::model::{OwnerStatus, Socket, State};
use crate::signal::{Delivery, Refusal, Sig};
use std::time::{Duration, SystemTime};

/// How long after a signal the port is watched before saying it is still held.
pub const WATCH_FOR: Duration = Duration::from_secs(5);

/// One process the dialog may signal, as the user saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetInfo {
    pub pid: u32,
    /// What the user saw; `None` for a parent offered instead of a zombie (pinned as is).
    pub start_ticks: Option<u64>,
    pub name: String,
    pub user: String,
    pub cmdline: String,
    pub started: String,
    pub state: char,
    /// Filled when the runtime has pinned it: `Ok` or why it cannot be signalled.
    pub pinned: Option<Result<(), Refusal>>,
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
    pub signal: usize,
    pub focus: Button,
    /// Explains why the targets are not the socket's owners (a zombie owner).
    pub note: Option<String>,
}

impl Dialog {
    pub fn sig(&self) -> Sig {
        Sig::ALL[self.signal.min(Sig::ALL.len() - 1)]
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
            let why = match socket.owner_status {
                OwnerStatus::Kernel => {
                    "no process holds this socket: the kernel does (TIME-WAIT and the like expire on their own)"
                }
                OwnerStatus::Hidden => {
                    "the owner of this socket is hidden from you: run sockscope as root to see and signal it"
                }
                _ => "no visible process holds this socket",
            };
            self.say(why, true);
            return vec![];
        }
        let mut targets = Vec::new();
        let mut note = None;
        for pid in &socket.owners {
            let Some(p) = self.snap.processes.get(pid) else {
                continue;
            };
            if p.state == 'Z' && p.threads <= 1 {
                // A zombie cannot be killed; its parent must reap it. Offer the parent.
                let parent = p.ppid.unwrap_or(0);
                note = Some(format!(
                    "{} ({}) is a zombie: it has exited and cannot be killed. Its parent {} must reap it; the parent is offered instead.",
                    p.pid, p.name, parent
                ));
                if parent > 1 && !targets.iter().any(|t: &TargetInfo| t.pid == parent) {
                    let (name, user, cmdline, started, state) =
                        match self.snap.processes.get(&parent) {
                            Some(pp) => (
                                pp.name.clone(),
                                pp.user.clone().unwrap_or_default(),
                                pp.command(),
                                super::views::clock_secs(pp.start_time),
                                pp.state,
                            ),
                            None => (
                                "(parent)".into(),
                                String::new(),
                                String::new(),
                                String::new(),
                                '?',
                            ),
                        };
                    targets.push(TargetInfo {
                        pid: parent,
                        start_ticks: None,
                        name,
                        user,
                        cmdline,
                        started,
                        state,
                        pinned: None,
                    });
                }
                continue;
            }
            targets.push(TargetInfo {
                pid: p.pid,
                start_ticks: Some(p.start_ticks),
                name: p.name.clone(),
                user: p
                    .user
                    .clone()
                    .unwrap_or_else(|| p.uid.map_or(String::new(), |u| u.to_string())),
                cmdline: p.command(),
                started: super::views::clock_secs(p.start_time),
                state: p.state,
                pinned: None,
            });
        }
        if targets.is_empty() {
            self.say(
                note.unwrap_or_else(|| "the owner's details are gone (it exited?)".into()),
                true,
            );
            return vec![];
        }
        let pins = targets.iter().map(|t| (t.pid, t.start_ticks)).collect();
        let signal = if kill {
            Sig::ALL.iter().position(|s| *s == Sig::Kill).unwrap_or(0)
        } else {
            0
        };
        self.dialog = Some(Dialog {
            socket,
            targets,
            chosen: Some(0),
            signal,
            focus: Button::Cancel,
            note,
        });
        self.mode = super::keymap::Mode::Dialog;
        vec![Effect::Pin(pins)]
    }

    /// The runtime pinned (or refused) the dialog's targets.
    pub fn pinned(&mut self, results: Vec<(u32, Result<(), Refusal>)>) {
        let Some(d) = &mut self.dialog else { return };
        for (pid, r) in results {
            if let Some(t) = d.targets.iter_mut().find(|t| t.pid == pid) {
                t.pinned = Some(r);
            }
        }
    }

    /// Confirm: send to the chosen, pinned targets.
    pub fn confirm_dialog(&mut self) -> Vec<Effect> {
        let Some(d) = self.dialog.take() else {
            return vec![];
        };
        self.mode = super::keymap::Mode::Normal;
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
        let names: Vec<String> = d
            .targets
            .iter()
            .filter(|t| pids.contains(&t.pid))
            .map(|t| format!("{} {}", t.pid, t.name))
            .collect();
        self.watch = Some(KillWatch {
            port: d.socket.local.port(),
            tcp: d.socket.proto.is_tcp(),
            pids: pids.clone(),
            names: names.join(", "),
            sig: d.sig(),
            until: self.now + WATCH_FOR,
        });
        let mut effects = vec![Effect::Signal { sig: d.sig(), pids }];
        // Watching needs TIME-WAIT rows too.
        effects.push(Effect::SetScope(self.scope()));
        effects
    }

    pub fn cancel_dialog(&mut self) {
        self.dialog = None;
        self.mode = super::keymap::Mode::Normal;
    }

    /// The runtime sent the signal: say what happened; failures end the watch.
    pub fn signal_result(&mut self, sig: Sig, results: Vec<(u32, Result<Delivery, Refusal>)>) {
        let sent: Vec<u32> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(p, _)| *p)
            .collect();
        let errors: Vec<String> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().err().map(ToString::to_string))
            .collect();
        let fallback = results.iter().any(|(_, r)| matches!(r, Ok(Delivery::Kill)));
        if sent.is_empty() {
            self.watch = None;
            self.say(errors.join("; "), true);
            return;
        }
        if let Some(w) = &mut self.watch {
            w.pids.retain(|p| sent.contains(p));
            let mut text = format!("{sig} sent to {}; watching port {}…", w.names, w.port);
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

    /// After each snapshot: has the watched port been freed?
    pub fn check_watch(&mut self) {
        let Some(w) = self.watch.clone() else { return };
        let on_port = |s: &&Socket| s.local.port() == w.port && s.proto.is_tcp() == w.tcp;
        let holders: Vec<&Socket> = self
            .snap
            .sockets
            .iter()
            .filter(on_port)
            .filter(|s| s.is_listener())
            .collect();
        let head = format!("{} sent to {}", w.sig, w.names);
        let targets_alive = w.pids.iter().any(|p| self.snap.processes.contains_key(p));
        let text = if holders.is_empty() {
            let tw: Vec<&Socket> = self
                .snap
                .sockets
                .iter()
                .filter(on_port)
                .filter(|s| s.state == State::TimeWait)
                .collect();
            let exited = if targets_alive { "" } else { "exited, " };
            if tw.is_empty() {
                format!("{head}: {exited}port {} freed", w.port)
            } else {
                let last = tw
                    .iter()
                    .filter_map(|s| s.timer.map(|t| t.expires_ms))
                    .max()
                    .unwrap_or(0);
                format!(
                    "{head}: {exited}port {} has no listener; {} TIME-WAIT socket{} remain, expire in {} s",
                    w.port,
                    tw.len(),
                    if tw.len() == 1 { "" } else { "s" },
                    last.div_ceil(1000)
                )
            }
        } else {
            let mut by: Vec<u32> = holders
                .iter()
                .flat_map(|s| s.owners.iter().copied())
                .collect();
            by.sort_unstable();
            by.dedup();
            let still_ours = by.iter().any(|p| w.pids.contains(p));
            // An exiting process's socket can outlive its fd table for a moment and show
            // with no owner: wait for the next snapshot rather than blame a "hidden" owner.
            if (still_ours || by.is_empty()) && self.now < w.until {
                return; // give it time to exit
            }
            let who = if by.is_empty() {
                "a hidden or kernel owner".to_owned()
            } else {
                self.pids_text(&by)
            };
            let hint = if still_ours && !matches!(w.sig, Sig::Kill) {
                " (it may ignore the signal: try KILL with K)"
            } else {
                ""
            };
            format!("{head}: port {} still held by {who}{hint}", w.port)
        };
        self.watch = None;
        self.say(text, false);
    }
}
