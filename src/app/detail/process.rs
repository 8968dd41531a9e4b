//! The Processes view's pane: about the process, not one socket of it.

use super::{Item, Tone, blank, item};
use crate::app::App;
use crate::diagnose::supervisor;
use crate::model::socket::Endpoint;
use crate::model::{Flag, Flags, Socket};

impl App {
    /// The Processes view's pane is about the process, not one socket of it: each flag
    /// names the sockets it is about (a flag of the process itself, such as STOPPED,
    /// none), and what to do acts on the process (`sockscope kill pid:PID`), never on
    /// one picked socket's port.
    pub(super) fn process_pane(&self, pid: u32, flags: Flags) -> Vec<Item> {
        let snap = &self.live.snap;
        let Some(p) = snap.processes.get(&pid) else {
            return vec![item("owner", format!("{pid} (gone)"), Tone::Plain)];
        };
        let mine: Vec<(usize, &Socket)> = snap
            .sockets
            .iter()
            .enumerate()
            .filter(|(_, s)| s.owners.contains(&pid))
            .collect();
        let mut out = Vec::new();
        for flag in flags.iter() {
            let tone = match flag {
                Flag::Stopped | Flag::Zombie | Flag::CloseWaitLeak => Tone::Bad,
                _ => Tone::Warn,
            };
            let why = crate::diagnose::explain(flag);
            let on: Vec<&Socket> = mine
                .iter()
                .filter(|(i, _)| self.live.flags.get(*i).is_some_and(|f| f.contains(flag)))
                .map(|(_, s)| *s)
                .collect();
            let text = match flag {
                Flag::Orphan | Flag::Stopped | Flag::Zombie | Flag::DockerProxy | Flag::Hidden => {
                    format!("{} — {why}", flag.as_str())
                }
                _ => format!("{} on {} — {why}", flag.as_str(), sockets_named(&on)),
            };
            out.push(item("flag", text, tone));
        }
        let mut stops = false;
        if let Some(sup) = supervisor(p, snap, None) {
            let tone = if sup.verified() {
                Tone::Act
            } else {
                Tone::Warn
            };
            out.push(item("behind", sup.sentence(), tone));
            stops = sup.stop.is_some();
        }
        if !stops && !flags.contains(Flag::DockerProxy) {
            let step = crate::diagnose::process_kill_step(snap, pid);
            out.push(item("next", step.text(), Tone::Act));
        }
        out.push(blank());
        out.extend(self.owner_items(None, p));
        out
    }
}

/// The sockets a flag is about: `tcp6 LISTEN [::1]:58753`, three at most and how many
/// more.
fn sockets_named(on: &[&Socket]) -> String {
    const SHOWN: usize = 3;
    let mut names: Vec<String> = on
        .iter()
        .take(SHOWN)
        .map(|s| {
            let mut t = format!("{} {} {}", s.proto.as_str(), s.state, Endpoint(&s.local()));
            if !s.is_listener() && s.remote().port() != 0 {
                t.push_str(&format!(" → {}", Endpoint(&s.remote())));
            }
            t
        })
        .collect();
    if on.len() > SHOWN {
        names.push(format!("{} more", on.len() - SHOWN));
    }
    if names.is_empty() {
        "its sockets".to_owned()
    } else {
        names.join(", ")
    }
}
