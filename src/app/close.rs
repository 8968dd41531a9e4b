//! `x`: close the selected socket (SOCK_DESTROY), or on a Ports row the port's TIME-WAIT
//! sockets — the live view's face of `sockscope close`, with its rules: never a listener
//! (the port would stay bound), never UDP (only disconnected), root only. The dialog
//! names the sockets and their owners, Cancel is focused, and the sockets are pinned by
//! the tuple and cookie the user saw: one that changed since is not touched.

use super::dialog::Button;
use super::views::RowId;
use super::{App, Effect};
use crate::model::{Socket, State};

/// The open close dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseDialog {
    /// Exactly the sockets shown, with their cookies.
    pub sockets: Vec<Socket>,
    /// The port when the dialog closes a port's TIME-WAITs (the result says whether a
    /// plain bind works then).
    pub port: Option<u16>,
    /// What closing them will do, and what it will not (the port stays in use while a
    /// listener or connections hold it).
    pub note: String,
    /// Each socket's owners as the table words them when the dialog opened (`(made by
    /// 4242/php-fpm)` for a TIME-WAIT whose maker is known), in the same order.
    pub owners: Vec<String>,
    pub focus: Button,
}

/// What the runtime did with [`Effect::CloseSockets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Closed {
    pub closed: usize,
    /// Changed or gone since they were shown: not touched.
    pub gone: usize,
    pub error: Option<String>,
    /// For a port: whether a plain bind works now.
    pub bindable: Option<bool>,
}

impl App {
    /// `x` on the selected row.
    pub fn open_close_dialog(&mut self) -> Vec<Effect> {
        if self.live.snap.visibility.euid != 0 {
            self.say("closing sockets needs root (CAP_NET_ADMIN)", true);
            return vec![];
        }
        let Some(row) = self.selected_row() else {
            self.say("nothing selected", true);
            return vec![];
        };
        let snap = &self.live.snap;
        let (sockets, port): (Vec<Socket>, Option<u16>) = match row {
            RowId::Port(i) => {
                let Some((port, ns)) = self.table.ports.get(i as usize).map(|p| (p.port, p.netns))
                else {
                    return vec![];
                };
                let in_ns = |s: &Socket| {
                    if ns == 0 {
                        snap.netns.is_host(s.netns)
                    } else {
                        s.netns == ns
                    }
                };
                let tw = snap
                    .sockets
                    .iter()
                    .filter(|s| s.state == State::TimeWait && s.local().port() == port && in_ns(s))
                    .cloned()
                    .collect::<Vec<_>>();
                if tw.is_empty() {
                    self.say(
                        format!("port {port} has no TIME-WAIT sockets to close (x on a Ports row closes those)"),
                        true,
                    );
                    return vec![];
                }
                (tw, Some(port))
            }
            RowId::Live(_) => match self.row_socket(row) {
                Some(s) => (vec![s.clone()], None),
                None => return vec![],
            },
            _ => {
                self.say(
                    "select a socket, or a port in the Ports view, to close",
                    true,
                );
                return vec![];
            }
        };
        let first = &sockets[0];
        let refusal = if first.state == State::Listen {
            Some(
                "a listener: closing it stops it accepting but the port stays bound; k stops its holder",
            )
        } else if !first.proto.is_tcp() {
            Some(
                "UDP: closing only disconnects the socket and it stays bound (`sockscope close … proto:udp` does it)",
            )
        } else if !snap.netns.is_host(first.netns) {
            Some("in another network namespace: `sockscope close inode:N` closes it")
        } else {
            None
        };
        if let Some(r) = refusal {
            self.say(format!("not closing {r}"), true);
            return vec![];
        }
        let note = close_note(snap, &sockets, port);
        let owners = sockets
            .iter()
            .map(|s| {
                let mut out = String::new();
                snap.write_owners(&mut out, s);
                out
            })
            .collect();
        self.modes.close = Some(CloseDialog {
            sockets,
            port,
            note,
            owners,
            focus: Button::Cancel,
        });
        self.modes.mode = super::keymap::Mode::Dialog;
        vec![]
    }

    /// Confirm: ask the runtime to close exactly those sockets.
    pub fn confirm_close(&mut self) -> Vec<Effect> {
        let Some(d) = self.modes.close.take() else {
            return vec![];
        };
        self.modes.back_to_rest();
        vec![Effect::CloseSockets {
            sockets: d.sockets,
            port: d.port,
        }]
    }

    pub fn cancel_close(&mut self) {
        self.modes.close = None;
        self.modes.back_to_rest();
    }

    /// The runtime's answer: say what was closed.
    pub fn closed(&mut self, port: Option<u16>, r: Closed) {
        let what = match port {
            Some(p) => format!("TIME-WAIT socket{} on port {p}", plural(r.closed)),
            None => format!("socket{}", plural(r.closed)),
        };
        let mut text = format!("closed {} {what}", r.closed);
        if r.gone > 0 {
            text.push_str(&format!(
                "; {} had changed or gone and {} not touched",
                r.gone,
                if r.gone == 1 { "was" } else { "were" }
            ));
        }
        if let (Some(p), Some(b)) = (port, r.bindable) {
            text.push_str(&if b {
                format!(": a plain bind of {p} works now")
            } else {
                format!(": {p} is still in use")
            });
        }
        let error = r.error.is_some();
        if let Some(e) = r.error {
            text.push_str(&format!(" ({e})"));
        }
        self.say(text, error);
    }
}

/// What the close will do: a connection's owner and peer see it end; TIME-WAIT sockets
/// go at once, and whether a plain bind of the port then works depends on what else
/// holds it, judged as `why` does.
fn close_note(snap: &crate::model::Snapshot, sockets: &[Socket], port: Option<u16>) -> String {
    if !sockets.iter().all(|s| s.state == State::TimeWait) {
        return "the owner's next call fails with ECONNABORTED, the peer gets a RST".into();
    }
    let Some(port) = port else {
        return "a TIME-WAIT socket is removed at once".into();
    };
    let h = crate::diagnose::Holders::of(snap, port);
    if h.listening() {
        let who = if h.pids.is_empty() {
            "a listener".to_owned()
        } else {
            format!("the listener of {}", snap.pids_folded(&h.pids))
        };
        format!("removes them at once; the port stays in use: {who} still holds it (k stops it)")
    } else if !h.connections.is_empty() {
        let n = h.connections.len();
        format!(
            "removes them at once; the port stays in use while {n} connection{} use it",
            plural(n)
        )
    } else {
        "removes them at once: a plain bind of the port works then".into()
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
