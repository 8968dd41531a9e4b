//! The signal dialog (SPEC §4): who will get what, what is behind each target (the layer:
//! a container, PM2, systemd, a reloader), and for a container the offer to stop it
//! through its engine instead. What happens after is in [`super::watch`].

use super::watch::{Act, KillWatch};
use super::{App, Effect};
use crate::diagnose::{Departed, signal_note, supervisor};
use crate::model::{Container, Process, Refusal, Runtime, Sig, Snapshot, Socket};

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
    /// What is behind it and what stops it for good: "run by PM2 app barapp, which brings
    /// it back when it dies: stop it with `pm2 stop barapp`". Shown, never run.
    pub layer: Option<String>,
    /// What it was, to recognise a respawn after the signal.
    pub departed: Departed,
    /// Filled when the runtime has pinned it: `Ok` or why it cannot be signalled.
    pub pinned: Option<Result<(), Refusal>>,
}

impl TargetInfo {
    fn of(
        p: &Process,
        snap: &Snapshot,
        port: u16,
        start_ticks: Option<u64>,
        inode: Option<u64>,
    ) -> TargetInfo {
        let departed = Departed::of(p, snap, Some(port));
        let layer = departed
            .warning()
            .or_else(|| departed.supervisor.as_ref().map(|s| s.sentence()));
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
            layer,
            departed,
            pinned: None,
        }
    }

    /// What the dialog says about sending `sig` to it, beyond the signal itself.
    pub fn note(&self, sig: Sig) -> Option<String> {
        signal_note(self.stopped, sig)
    }
}

/// A container the dialog can stop through its engine's API (Docker, Podman).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerOffer {
    /// The full id, for the API.
    pub id: String,
    /// Its name, or short id.
    pub name: String,
    pub engine: &'static str,
}

impl ContainerOffer {
    fn of(c: &Container) -> Option<ContainerOffer> {
        matches!(c.runtime, Runtime::Docker | Runtime::Podman).then(|| ContainerOffer {
            id: c.full_id.clone(),
            name: c.name.clone().unwrap_or_else(|| c.id.clone()),
            engine: c.runtime.title(),
        })
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
    /// The container behind the socket, when its engine can stop it.
    pub container: Option<ContainerOffer>,
    /// The last menu row is chosen: stop the container instead of sending a signal.
    pub stop_container: bool,
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

    /// Menu rows: every signal, then "stop the container" when one is offered.
    pub fn menu_len(&self) -> usize {
        Sig::all().count() + usize::from(self.container.is_some())
    }

    /// The chosen menu row.
    pub fn menu_index(&self) -> usize {
        if self.stop_container {
            Sig::all().count()
        } else {
            self.signal.index()
        }
    }

    /// Chooses menu row `i` (wrapping).
    pub fn choose(&mut self, i: usize) {
        let i = i % self.menu_len();
        self.stop_container = i == Sig::all().count();
        if !self.stop_container {
            self.signal = Sig::nth_wrapping(i);
        }
    }

    /// What the Send button does: "Send SIGTERM", "Stop container web1".
    pub fn action_label(&self) -> String {
        match (&self.container, self.stop_container) {
            (Some(c), true) => format!("Stop container {}", c.name),
            _ => format!("Send {}", self.signal),
        }
    }
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
            // "none: the kernel holds it …" as a reason: "the kernel holds it …".
            let explain = socket.owner_status.explain();
            let reason = explain.split_once(": ").map_or(explain, |(_, r)| r);
            let why = format!("no process to signal: {reason}");
            self.say(why, true);
            return vec![];
        }
        let Offer {
            targets,
            note,
            container,
            proxy,
        } = offer(&self.live.snap, &socket);
        if targets.is_empty() {
            self.say(
                note.unwrap_or_else(|| "the owner's details are gone (it exited?)".into()),
                true,
            );
            return vec![];
        }
        let pins = targets
            .iter()
            .map(|t| super::Pin {
                pid: t.pid,
                start_ticks: t.start_ticks,
                inode: t.inode,
            })
            .collect();
        // A docker-proxy only forwards: stopping its container is what frees the port.
        self.modes.dialog = Some(Dialog {
            socket,
            targets,
            chosen: Some(0),
            signal: if kill { Sig::Kill } else { Sig::Term },
            stop_container: proxy && container.is_some(),
            container,
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

    /// Confirm: send to the chosen, pinned targets, or stop the container.
    pub fn confirm_dialog(&mut self) -> Vec<Effect> {
        let Some(d) = self.modes.dialog.take() else {
            return vec![];
        };
        self.modes.back_to_rest();
        let port = d.socket.local().port();
        let tcp = d.socket.proto.is_tcp();
        if let (Some(c), true) = (&d.container, d.stop_container) {
            self.modes.watch = Some(KillWatch::new(
                port,
                tcp,
                Vec::new(),
                format!("container {}", c.name),
                Act::StopContainer {
                    name: c.name.clone(),
                    engine: c.engine,
                },
                Vec::new(),
                Vec::new(),
            ));
            // Until the engine answers (up to its grace time and more): no blank line.
            self.say_until_replaced(format!("asking {} to stop container {}…", c.engine, c.name));
            return vec![Effect::StopContainer {
                id: c.id.clone(),
                name: c.name.clone(),
            }];
        }
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
        let departed = d
            .targets
            .iter()
            .filter(|t| pids.contains(&t.pid))
            .map(|t| t.departed.clone())
            .collect();
        let before: Vec<u32> = crate::diagnose::Holders::of(&self.live.snap, port)
            .pids
            .into_iter()
            .filter(|p| !pids.contains(p))
            .collect();
        let mut watch = KillWatch::new(
            port,
            tcp,
            pids.clone(),
            self.live.snap.pids_folded(&pids),
            Act::Signal(d.sig()),
            departed,
            before,
        );
        watch.since = Some(self.live.now);
        self.modes.watch = Some(watch);
        vec![Effect::Signal { sig: d.sig(), pids }]
    }

    pub fn cancel_dialog(&mut self) {
        self.modes.dialog = None;
        self.modes.back_to_rest();
    }
}

/// What the dialog offers for a socket: its owners (a zombie's parent instead of the
/// zombie), the container behind them when the engine confirms it, and whether one is
/// Docker's proxy (then stopping its container is chosen already).
struct Offer {
    targets: Vec<TargetInfo>,
    note: Option<String>,
    container: Option<ContainerOffer>,
    proxy: bool,
}

fn offer(snap: &Snapshot, socket: &Socket) -> Offer {
    let port = socket.local().port();
    let mut o = Offer {
        targets: Vec::new(),
        note: None,
        container: None,
        proxy: false,
    };
    for pid in &socket.owners {
        let Some(p) = snap.processes.get(pid) else {
            continue;
        };
        if o.container.is_none() {
            // Only a container the engine confirms is offered (SPEC §11): a cgroup name
            // or a process calling itself docker-proxy is a claim.
            let c = p
                .container
                .as_ref()
                .filter(|c| c.confirmed.verified())
                .or_else(|| supervisor::proxied(p, snap, Some(port)));
            o.container = c.and_then(ContainerOffer::of);
        }
        o.proxy |= supervisor::is_docker_proxy(p);
        if p.is_zombie() {
            // A zombie cannot be killed; its parent must reap it. Offer the parent.
            let parent = p.ppid.unwrap_or(0);
            o.note = Some(format!(
                "{} ({}) is a zombie: it has exited and cannot be killed. Its parent {} must reap it; the parent is offered instead.",
                p.pid, p.name, parent
            ));
            if parent > 1 && !o.targets.iter().any(|t| t.pid == parent) {
                let pp = snap.processes.get(&parent).cloned().unwrap_or_else(|| {
                    let mut pp = Process::unknown(parent);
                    pp.name = "(parent)".into();
                    pp
                });
                o.targets.push(TargetInfo::of(&pp, snap, port, None, None));
            }
            continue;
        }
        o.targets.push(TargetInfo::of(
            p,
            snap,
            port,
            Some(p.start_ticks),
            Some(u64::from(socket.inode)).filter(|&i| i != 0),
        ));
    }
    o
}
