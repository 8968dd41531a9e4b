//! The detail pane's content and scroll. Built here whenever the selection, the snapshot,
//! the width or an inspection changes, so that drawing only reads it. What to act on
//! comes first — the flags, what is behind each owner with the command that stops it,
//! the next steps (the same as `why`'s) — then the socket and its owners in full. Long
//! values wrap under their value column.

use super::App;
use super::views::{Selected, clock_secs, short_duration};
use crate::diagnose::{BindResult, Probe, explain_process, supervisor, verdict, verdict_udp};
use crate::model::socket::Endpoint;
use crate::model::{Flag, Process, Socket, State, Step};
use std::collections::{BTreeMap, HashSet};

mod process;

/// Width of the label column, with its two spaces.
pub const LABEL: usize = 12;

/// How a line is coloured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// A flag that means the holder is not doing its job.
    Bad,
    /// A flag worth a look, or a supervisor only claimed.
    Warn,
    /// Something to do: what stops the holder for good, a next step.
    Act,
}

/// One labelled line before wrapping; an empty label and text is a blank line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Item {
    label: &'static str,
    text: String,
    tone: Tone,
}

/// One screen line of the pane: its label (empty on a continuation) and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaneLine {
    pub label: &'static str,
    pub text: String,
    pub tone: Tone,
}

/// The open pane.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pane {
    /// The pane has the focus: the arrows and the wheel scroll it.
    pub focus: bool,
    /// The first line shown.
    pub scroll: usize,
    /// Its content, wrapped at the screen's width.
    pub lines: Vec<PaneLine>,
    /// What it shows, to start at the top when the selection moves.
    shows: Option<Selected>,
}

impl Pane {
    /// Lines below the ones shown in `body` rows (one of which the "more" marker takes
    /// when anything is left below).
    pub fn below(&self, body: usize) -> usize {
        self.lines.len().saturating_sub(self.scroll + body)
    }

    /// The scroll that shows the last line in `body` rows.
    fn max_scroll(&self, body: usize) -> usize {
        self.lines.len().saturating_sub(body.max(1))
    }

    /// Scrolls by `delta` lines (negative: up), within the content.
    pub fn scroll_by(&mut self, delta: isize, body: usize) {
        let to = self.scroll.saturating_add_signed(delta);
        self.scroll = to.min(self.max_scroll(body));
    }

    pub fn scroll_to_end(&mut self, body: usize) {
        self.scroll = self.max_scroll(body);
    }
}

impl App {
    /// Rows of the pane's body (below its title line).
    pub fn detail_body(&self) -> usize {
        usize::from(super::layout::detail(self).height.saturating_sub(1))
    }

    /// Rebuilds the open pane's content for the selection; it starts at the top when the
    /// selection changed, and keeps its place (within the new content) otherwise.
    pub fn refresh_detail(&mut self) {
        if self.modes.detail.is_none() {
            return;
        }
        let items = self.detail_items();
        let width = usize::from(self.table.width);
        let lines = wrap_items(&items, width);
        let shows = self.table.selected;
        let body = self.detail_body();
        if let Some(pane) = &mut self.modes.detail {
            if pane.shows != shows {
                pane.scroll = 0;
                pane.shows = shows;
            }
            pane.lines = lines;
            pane.scroll = pane.scroll.min(pane.max_scroll(body));
        }
    }

    fn detail_items(&self) -> Vec<Item> {
        let Some(row) = self.selected_row() else {
            return vec![item("", "nothing selected", Tone::Plain)];
        };
        let Some(s) = self.row_socket(row) else {
            return vec![item(
                "",
                "events have no detail: select a socket in another view",
                Tone::Plain,
            )];
        };
        if let super::views::RowId::Proc(i) = row
            && let Some(r) = self.table.procs.get(i as usize)
        {
            return self.process_pane(r.pid, r.flags);
        }
        let mut out = Vec::new();
        for (flag, why) in self.flag_sentences(row) {
            let tone = match flag {
                Flag::Stopped | Flag::Zombie | Flag::CloseWaitLeak => Tone::Bad,
                _ => Tone::Warn,
            };
            out.push(item("flag", format!("{} — {why}", flag.as_str()), tone));
        }
        let owners: Vec<&Process> = s
            .owners
            .iter()
            .filter_map(|p| self.live.snap.processes.get(p))
            .collect();
        out.extend(self.actions(s, &owners));
        if !out.is_empty() {
            out.push(blank());
        }
        out.extend(self.socket_items(s, self.row_first_seen(row)));
        if s.owners.is_empty() {
            out.push(item("owner", s.owner_status.explain(), Tone::Plain));
        }
        for pid in &s.owners {
            out.push(blank());
            match self.live.snap.processes.get(pid) {
                Some(p) => out.extend(self.owner_items(Some(s), p)),
                None => out.push(item("owner", format!("{pid} (gone)"), Tone::Plain)),
            }
        }
        out
    }

    /// What is behind each owner (with the command that stops it for good), where a
    /// docker-proxy forwards, and for a listener of this namespace the next steps `why`
    /// gives (the stop commands already said left out).
    fn actions(&self, s: &Socket, owners: &[&Process]) -> Vec<Item> {
        let snap = &self.live.snap;
        let port = s.local().port();
        let mut out = Vec::new();
        let mut stops = Vec::new();
        for p in owners {
            let Some(sup) = supervisor(p, snap, Some(port)) else {
                continue;
            };
            let text = if owners.len() > 1 {
                format!("{} {}: {}", p.pid, p.name, sup.sentence())
            } else {
                sup.sentence()
            };
            let tone = if sup.verified() {
                Tone::Act
            } else {
                Tone::Warn
            };
            out.push(item("behind", text, tone));
            stops.extend(sup.stop);
        }
        for p in owners {
            if let Some(link) = crate::diagnose::supervisor::proxy_link(p, snap, Some(port)) {
                out.push(item("forwards", format!(":{port} → {link}"), Tone::Plain));
            }
        }
        if s.is_listener() && snap.netns.is_host(s.netns) && !s.owners.is_empty() {
            for step in next_steps(snap, s) {
                if step.command.as_ref().is_some_and(|c| stops.contains(c)) {
                    continue;
                }
                out.push(item("next", step.text(), Tone::Act));
            }
        }
        out
    }

    fn socket_items(&self, s: &Socket, first_seen: Option<std::time::SystemTime>) -> Vec<Item> {
        let seen = first_seen.map_or("?".into(), |t| {
            short_duration(
                self.live
                    .now
                    .duration_since(t)
                    .unwrap_or_default()
                    .as_secs(),
            )
        });
        let queues = if s.state == State::Listen {
            format!("accept queue {} of backlog {}", s.recv_q, s.send_q)
        } else {
            format!("recv-q {}, send-q {}", bytes(s.recv_q), bytes(s.send_q))
        };
        let mut out = vec![
            item(
                "socket",
                format!(
                    "{} {} {} → {}",
                    s.proto.as_str(),
                    s.state,
                    Endpoint(&s.local()),
                    Endpoint(&s.remote())
                ),
                Tone::Plain,
            ),
            item("queues", queues, Tone::Plain),
        ];
        out.extend(self.tcp_items(s));
        out.extend([item(
            "kernel",
            format!(
                "inode {} · uid {} · timer {} · first seen {seen} ago",
                s.inode,
                s.uid,
                s.timer.map_or("none".into(), |t| t.to_string()),
            ),
            Tone::Plain,
        )]);
        if self.live.other_netns {
            let ns = self.live.snap.netns.name(s.netns);
            out.push(item("netns", ns, Tone::Plain));
        }
        out
    }

    /// An owner of `s` in full, with its other sockets; with no `s` (the Processes
    /// view), the process with all its sockets.
    pub(super) fn owner_items(&self, s: Option<&Socket>, p: &Process) -> Vec<Item> {
        let user = p
            .user
            .clone()
            .unwrap_or_else(|| p.uid.map_or("?".into(), |u| u.to_string()));
        let mut out = vec![item(
            "owner",
            format!(
                "{} {} · user {user} · state {} · {} thread{} · started {}",
                p.pid,
                p.name,
                p.state,
                p.threads,
                if p.threads == 1 { "" } else { "s" },
                clock_secs(p.start_time)
            ),
            Tone::Plain,
        )];
        if let Some(note) = explain_process(p) {
            out.push(item("note", note, Tone::Warn));
        }
        out.push(item("cmdline", p.command(), Tone::Plain));
        if let Some(exe) = &p.exe {
            out.push(item("exe", exe.clone(), Tone::Plain));
        }
        if let Some(c) = &p.container {
            out.push(item("container", c.describe(), Tone::Plain));
        }
        match self.modes.inspection.as_ref().filter(|i| i.pid == p.pid) {
            Some(i) => {
                if let Some(cwd) = &i.cwd {
                    out.push(item("cwd", cwd.clone(), Tone::Plain));
                }
                let chain: Vec<String> = i
                    .parents
                    .iter()
                    .map(|(pid, name)| format!("{pid} {name}"))
                    .collect();
                let chain = if chain.is_empty() {
                    "none".into()
                } else {
                    chain.join(" ← ")
                };
                out.push(item("parents", chain, Tone::Plain));
            }
            None => {
                if let Some(pp) = p.ppid {
                    out.push(item("parent", pp.to_string(), Tone::Plain));
                }
            }
        }
        let others = self.other_sockets(s, p);
        if !others.is_empty() {
            let label = if s.is_some() { "also" } else { "sockets" };
            out.push(item(label, others.join(" · "), Tone::Plain));
        }
        out
    }

    /// The owner's other sockets, grouped: connections to one peer, or on one of its
    /// listening ports, count as one entry ("12× ESTAB on :3000", "3× ESTAB →
    /// 10.0.0.5:5432").
    fn other_sockets(&self, s: Option<&Socket>, p: &Process) -> Vec<String> {
        let all: Vec<&Socket> = self
            .live
            .snap
            .sockets
            .iter()
            .filter(|o| o.owners.contains(&p.pid))
            .collect();
        let listening: HashSet<u16> = all
            .iter()
            .filter(|o| o.is_listener())
            .map(|o| o.local().port())
            .collect();
        let key = s.map(Socket::key);
        let mut groups: BTreeMap<(State, String), usize> = BTreeMap::new();
        for o in all.iter().filter(|o| Some(o.key()) != key) {
            let place = if o.is_listener() {
                format!("{} {}", o.proto.as_str(), Endpoint(&o.local()))
            } else if listening.contains(&o.local().port()) {
                format!("on :{}", o.local().port())
            } else {
                format!("→ {}", Endpoint(&o.remote()))
            };
            *groups.entry((o.state, place)).or_default() += 1;
        }
        groups
            .into_iter()
            .map(|((state, place), n)| {
                if n == 1 {
                    format!("{state} {place}")
                } else {
                    format!("{n}× {state} {place}")
                }
            })
            .collect()
    }
}

/// `why`'s next steps for the port of a listener: the judgement is `why`'s own. A
/// listener is there, so a bind of its port fails: the probe says so without binding.
fn next_steps(snap: &crate::model::Snapshot, s: &Socket) -> Vec<Step> {
    let port = s.local().port();
    let held = Probe {
        v4: BindResult::InUse,
        v4_reuseaddr: BindResult::InUse,
        v6: BindResult::InUse,
        v6_reuseaddr: BindResult::InUse,
    };
    if s.proto.is_tcp() {
        verdict(snap, port, held, &HashSet::new()).next
    } else {
        verdict_udp(snap, port, held).next
    }
}

pub(in crate::app) fn item(label: &'static str, text: impl Into<String>, tone: Tone) -> Item {
    Item {
        label,
        text: text.into(),
        tone,
    }
}

pub(super) fn blank() -> Item {
    item("", "", Tone::Plain)
}

/// The items as screen lines `width` wide: each value wrapped under its value column.
fn wrap_items(items: &[Item], width: usize) -> Vec<PaneLine> {
    let room = width.saturating_sub(LABEL).max(8);
    let mut out = Vec::new();
    for it in items {
        for (i, part) in super::text::wrap(&it.text, room).into_iter().enumerate() {
            out.push(PaneLine {
                label: if i == 0 { it.label } else { "" },
                text: part,
                tone: it.tone,
            });
        }
    }
    out
}

/// `1 byte`, `0 bytes`.
fn bytes(n: u32) -> String {
    if n == 1 {
        "1 byte".to_owned()
    } else {
        format!("{n} bytes")
    }
}
