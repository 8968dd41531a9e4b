//! Performing the effects `update` asks for. Kept apart from the event loop, and the OS
//! behind two traits ([`Signaller`], [`Os`]), so that whole sessions run in tests with
//! fakes.

use crate::app::Effect;
use crate::app::close::Closed;
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

/// What effects ask of the OS besides signals.
pub trait Os {
    /// The bind probe of a port (the after-signal verdict).
    fn probe(&mut self, port: u16) -> crate::diagnose::Probe;
    /// A process's cwd and parent chain (the detail pane).
    fn inspect(&mut self, pid: u32) -> crate::model::process::Inspection;
    /// Closes exactly these sockets (SOCK_DESTROY) and, for a port, probes it after.
    fn close_sockets(&mut self, sockets: &[crate::model::Socket], port: Option<u16>) -> Closed;
    /// Asks the container engine to stop a container. The answer is a
    /// [`Msg::ContainerStopped`]: returned now, or sent later by a job of its own.
    fn stop_container(&mut self, id: String, name: String) -> Option<Msg>;
}

/// The real OS: a real bind probe, a real /proc, the real container engine. Slow work
/// (stopping a container takes seconds) runs on a thread that answers through `jobs`.
#[derive(Clone, Debug, Default)]
pub struct RealOs {
    pub jobs: Option<tokio::sync::mpsc::UnboundedSender<Msg>>,
}

/// Stops the container, then asks how it ended (137: the engine had to KILL it).
fn stop_now(id: &str, name: String) -> Msg {
    let result = crate::collect::containers::Api::new()
        .and_then(|api| {
            api.stop(id, crate::app::watch::CONTAINER_GRACE)?;
            Ok(api.exit_code(id).ok().flatten())
        })
        .map_err(|e| e.to_string());
    Msg::ContainerStopped { name, result }
}

/// Closes each socket by tuple and cookie through a diag socket of this namespace (the
/// close dialog offers host sockets only).
#[cfg(target_os = "linux")]
fn close_now(sockets: &[crate::model::Socket], port: Option<u16>) -> Closed {
    let mut r = Closed {
        closed: 0,
        gone: 0,
        error: None,
        bindable: None,
    };
    match crate::collect::sockdiag::SockDiag::open() {
        Ok(mut diag) => {
            for s in sockets {
                match diag.destroy(s) {
                    Ok(true) => r.closed += 1,
                    Ok(false) => r.gone += 1,
                    Err(e) => {
                        r.error = Some(match e.raw_os_error() {
                            Some(1) => "needs root (CAP_NET_ADMIN)".to_owned(),
                            _ => e.to_string(),
                        });
                        break;
                    }
                }
            }
        }
        Err(e) => r.error = Some(e.to_string()),
    }
    r.bindable = port.map(|p| crate::diagnose::Probe::run(p).free());
    r
}

impl Os for RealOs {
    fn probe(&mut self, port: u16) -> crate::diagnose::Probe {
        crate::diagnose::Probe::run(port)
    }
    fn inspect(&mut self, pid: u32) -> crate::model::process::Inspection {
        procs::inspect(pid)
    }
    fn close_sockets(&mut self, sockets: &[crate::model::Socket], port: Option<u16>) -> Closed {
        #[cfg(target_os = "linux")]
        return close_now(sockets, port);
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (sockets, port);
            Closed {
                closed: 0,
                gone: 0,
                error: Some("closing sockets needs Linux".into()),
                bindable: None,
            }
        }
    }
    fn stop_container(&mut self, id: String, name: String) -> Option<Msg> {
        let Some(jobs) = self.jobs.clone() else {
            return Some(stop_now(&id, name));
        };
        let named = name.clone();
        let spawned = std::thread::Builder::new()
            .name("sockscope-stop-container".into())
            .spawn(move || {
                let _ = jobs.send(stop_now(&id, name));
            });
        match spawned {
            Ok(_) => None,
            Err(e) => Some(Msg::ContainerStopped {
                name: named,
                result: Err(format!("cannot start a thread: {e}")),
            }),
        }
    }
}

/// Holds the signaller, the OS, and the targets pinned by the open dialog.
pub struct Effector<S: Signaller, O: Os = RealOs> {
    pub signaller: S,
    pub os: O,
    pinned: HashMap<u32, Target>,
}

impl<S: Signaller> Effector<S> {
    pub fn new(signaller: S) -> Self {
        Effector::with_os(signaller, RealOs::default())
    }
}

impl<S: Signaller, O: Os> Effector<S, O> {
    pub fn with_os(signaller: S, os: O) -> Self {
        Effector {
            signaller,
            os,
            pinned: HashMap::new(),
        }
    }

    pub fn perform(&mut self, effect: Effect) -> Vec<Outcome> {
        match effect {
            Effect::Quit => vec![Outcome::Quit],
            Effect::Suspend => vec![Outcome::Suspend],
            Effect::SetInterval(d) => vec![Outcome::Worker(Command::SetInterval(d))],
            Effect::Pause(p) => vec![Outcome::Worker(Command::Pause(p))],
            Effect::Traffic(on) => vec![Outcome::Worker(Command::SetTraffic(on))],
            Effect::Pin(list) => {
                // A new dialog: targets of an earlier one are dropped (their pidfds closed).
                self.pinned.clear();
                let results = list
                    .into_iter()
                    .map(
                        |p| match self.signaller.pin(p.pid, p.start_ticks, p.inode) {
                            Ok(t) => {
                                self.pinned.insert(p.pid, t);
                                (p.pid, Ok(()))
                            }
                            Err(e) => (p.pid, Err(e)),
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
            Effect::Inspect(pid) => vec![Outcome::Reply(Msg::Inspected(Box::new(
                self.os.inspect(pid),
            )))],
            Effect::CloseSockets { sockets, port } => {
                let result = self.os.close_sockets(&sockets, port);
                vec![
                    Outcome::Reply(Msg::SocketsClosed { port, result }),
                    Outcome::Worker(Command::Refresh),
                ]
            }
            Effect::StopContainer { id, name } => self
                .os
                .stop_container(id, name)
                .map(Outcome::Reply)
                .into_iter()
                .collect(),
            Effect::Probe(port) => vec![Outcome::Reply(Msg::Probed {
                port,
                probe: self.os.probe(port),
            })],
        }
    }
}
