//! Performing the effects `update` asks for. Kept apart from the event loop so that the
//! signal path can be tested with a fake [`Signaller`].

use crate::app::Effect;
use crate::app::msg::Msg;
use crate::collect::procs;
use crate::collect::worker::Command;
use crate::model::Refusal;
use crate::signal::{Signaller, Target};
use std::collections::HashMap;

/// What the event loop must do next.
#[derive(Debug)]
pub enum Outcome {
    Quit,
    /// Hand the terminal back and stop, as Ctrl-Z in a shell does.
    Suspend,
    Worker(Command),
    Reply(Msg),
}

/// Holds the signaller and the targets pinned by the open dialog.
pub struct Effector<S: Signaller> {
    pub signaller: S,
    pinned: HashMap<u32, Target>,
}

impl<S: Signaller> Effector<S> {
    pub fn new(signaller: S) -> Self {
        Effector {
            signaller,
            pinned: HashMap::new(),
        }
    }

    pub fn perform(&mut self, effect: Effect) -> Vec<Outcome> {
        match effect {
            Effect::Quit => vec![Outcome::Quit],
            Effect::Suspend => vec![Outcome::Suspend],
            Effect::SetInterval(d) => vec![Outcome::Worker(Command::SetInterval(d))],
            Effect::Pause(p) => vec![Outcome::Worker(Command::Pause(p))],
            Effect::Pin(list) => {
                // A new dialog: targets of an earlier one are dropped (their pidfds closed).
                self.pinned.clear();
                let results = list
                    .into_iter()
                    .map(
                        |(pid, start, inode)| match self.signaller.pin(pid, start, inode) {
                            Ok(t) => {
                                self.pinned.insert(pid, t);
                                (pid, Ok(()))
                            }
                            Err(e) => (pid, Err(e)),
                        },
                    )
                    .collect();
                vec![Outcome::Reply(Msg::Pinned(results))]
            }
            Effect::Signal { sig, pids } => {
                let results = pids
                    .into_iter()
                    .map(|pid| {
                        let r = match self.pinned.get(&pid) {
                            Some(t) => self.signaller.send(t, sig),
                            None => Err(Refusal::Failed {
                                pid,
                                reason: "it was not pinned when the dialog opened".into(),
                            }),
                        };
                        (pid, r)
                    })
                    .collect();
                self.pinned.clear();
                vec![
                    Outcome::Reply(Msg::SignalResult { sig, results }),
                    Outcome::Worker(Command::Refresh),
                ]
            }
            Effect::Inspect(pid) => vec![Outcome::Reply(Msg::Inspected(Box::new(procs::inspect(
                pid,
            ))))],
            Effect::Probe(port) => vec![Outcome::Reply(Msg::Probed {
                port,
                probe: crate::diagnose::Probe::run(port),
            })],
        }
    }
}
