//! `sockscope why` output: the verdict as sentences, or as JSON (schema in docs/commands.md and
//! `assets/schema/why.schema.json`).

use super::json::{ProcessDoc, SocketDoc, process_doc, socket_doc};
use crate::diagnose::{Probe, Verdict, explain, explain_process};
use crate::model::fold::{Folded, SHOWN};
use crate::model::process::Inspection;
use crate::model::socket::Endpoint;
use crate::model::{Process, Snapshot};
use serde::Serialize;
use std::io::{self, Write};

/// Version 2: `netns` on sockets, `container` objects, `supervisor` on holders,
/// `elsewhere` and `close_wait`. Version 3: `steps` (each next step with its command as
/// argv), `udp`, and trust on supervisors and containers (`trust`, `why`; a claimed one
/// has no `stop_command`); later `holders_omitted` (a field added, none changed meaning).
pub const VERSION: u32 = 3;

#[derive(Serialize)]
pub struct WhyDoc<'a> {
    pub version: u32,
    pub port: u16,
    pub verdict: crate::diagnose::Kind,
    /// A plain bind of the port succeeds right now.
    pub bindable: bool,
    pub headline: &'a str,
    /// The verdict is about UDP (`why --udp`).
    pub udp: bool,
    /// Each next step as one line.
    pub next: Vec<String>,
    /// The same steps with their commands as values (`argv`, `text`, `run_as`).
    pub steps: &'a [crate::model::Step],
    pub probe: &'a Probe,
    pub listeners: Vec<SocketDoc<'a>>,
    /// TCP sockets bound to the port that neither listen nor connect (verdict `bound`).
    pub bound: Vec<SocketDoc<'a>>,
    /// Listeners on the same port in other network namespaces (they do not block it).
    pub elsewhere: Vec<SocketDoc<'a>>,
    /// The first 16 holders in full.
    pub holders: Vec<Holder<'a>>,
    /// The holders beyond them: how many, and by name and user.
    pub holders_omitted: Folded,
    pub flags: Vec<FlagDoc>,
    pub time_wait: TimeWaitDoc,
    pub connections: usize,
    pub close_wait: CloseWaitDoc,
    /// Ports near this one that are free now; empty when this one is.
    pub free_nearby: &'a [u16],
}

/// The port's connections in CLOSE-WAIT and who holds them.
#[derive(Serialize)]
pub struct CloseWaitDoc {
    pub count: usize,
    pub holders: Vec<u32>,
}

#[derive(Serialize)]
pub struct Holder<'a> {
    #[serde(flatten)]
    pub process: ProcessDoc<'a>,
    /// What to know about it before acting ("its main thread exited; …"), or null.
    pub note: Option<String>,
    pub cwd: Option<&'a str>,
    /// Parent chain, nearest first, up to pid 1.
    pub parents: Vec<Parent<'a>>,
}

#[derive(Serialize)]
pub struct Parent<'a> {
    pub pid: u32,
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct FlagDoc {
    pub flag: &'static str,
    pub why: &'static str,
}

#[derive(Serialize)]
pub struct TimeWaitDoc {
    pub count: usize,
    pub last_expires_ms: u32,
    /// Who made their connections, most first (from a running sockscope's state file);
    /// empty when nobody knows.
    pub made_by: Vec<MadeBy>,
}

#[derive(Serialize)]
pub struct MadeBy {
    #[serde(flatten)]
    pub maker: crate::model::lifecycle::Maker,
    pub count: usize,
}

pub fn document<'a>(
    v: &'a Verdict,
    snap: &'a Snapshot,
    inspections: &'a [Inspection],
) -> WhyDoc<'a> {
    let docs = |indices: &[usize]| -> Vec<SocketDoc<'a>> {
        indices
            .iter()
            .map(|&i| {
                let s = &snap.sockets[i];
                let flags = crate::diagnose::socket_flags(s, snap, &Default::default());
                let mut doc = socket_doc(s, snap, flags);
                // The same first holders as `holders`; `holders_omitted` counts the rest.
                doc.owners.truncate(SHOWN);
                doc
            })
            .collect()
    };
    WhyDoc {
        version: VERSION,
        port: v.port,
        verdict: v.kind,
        bindable: v.bindable(),
        headline: &v.headline,
        udp: v.udp,
        next: v.next.iter().map(crate::model::Step::text).collect(),
        steps: &v.next,
        free_nearby: &v.free_nearby,
        probe: &v.probe,
        listeners: docs(&v.listeners),
        bound: docs(&v.evidence.bound),
        elsewhere: docs(&v.evidence.elsewhere),
        holders: v
            .holders
            .iter()
            .take(SHOWN)
            .filter_map(|pid| snap.processes.get(pid))
            .map(|p| {
                let i = inspections.iter().find(|i| i.pid == p.pid);
                Holder {
                    process: process_doc(p, snap, Some(v.port)),
                    note: explain_process(p),
                    cwd: i.and_then(|i| i.cwd.as_deref()),
                    parents: i.map_or_else(Vec::new, |i| {
                        i.parents
                            .iter()
                            .map(|(pid, name)| Parent { pid: *pid, name })
                            .collect()
                    }),
                }
            })
            .collect(),
        holders_omitted: Folded::of(snap, &v.holders),
        flags: v
            .flags
            .iter()
            .map(|f| FlagDoc {
                flag: f.as_str(),
                why: explain(f),
            })
            .collect(),
        time_wait: TimeWaitDoc {
            count: v.time_wait,
            last_expires_ms: v.time_wait_expires_ms,
            made_by: v
                .evidence
                .time_wait_by
                .iter()
                .filter_map(|&(m, count)| {
                    let maker = snap.makers.get((m as usize).checked_sub(1)?)?.clone();
                    Some(MadeBy { maker, count })
                })
                .collect(),
        },
        connections: v.connections,
        close_wait: CloseWaitDoc {
            count: v.evidence.close_wait.len(),
            holders: v.evidence.close_wait_pids(snap),
        },
    }
}

/// One holder: who, what, where it was started from, and what to know about it.
fn holder(out: &mut impl Write, p: &Process, inspection: Option<&Inspection>) -> io::Result<()> {
    let started = crate::model::time::clock_secs(p.start_time);
    writeln!(
        out,
        "  holder  {} {} · user {} · state {} · started {started} UTC",
        p.pid,
        p.name,
        p.user.as_deref().unwrap_or("?"),
        p.state
    )?;
    writeln!(out, "          {}", p.command())?;
    if let Some(note) = explain_process(p) {
        writeln!(out, "          {note}")?;
    }
    if let Some(i) = inspection {
        if let Some(cwd) = &i.cwd {
            writeln!(out, "          cwd {cwd}")?;
        }
        let chain: Vec<String> = i
            .parents
            .iter()
            .map(|(pid, n)| format!("{pid} {n}"))
            .collect();
        if !chain.is_empty() {
            writeln!(out, "          parents {}", chain.join(" ← "))?;
        }
    }
    if let Some(c) = &p.container {
        writeln!(out, "          container {}", c.describe())?;
    }
    Ok(())
}

/// The plain-text verdict.
pub fn write_text(
    out: &mut impl Write,
    v: &Verdict,
    snap: &Snapshot,
    inspections: &[Inspection],
) -> io::Result<()> {
    writeln!(out, "{}", v.headline)?;
    writeln!(out)?;
    for &i in v.listeners.iter().chain(&v.evidence.bound) {
        let s = &snap.sockets[i];
        let queue = if s.state == crate::model::State::Listen {
            format!("  accept queue {} of {}", s.recv_q, s.send_q)
        } else {
            String::new()
        };
        writeln!(
            out,
            "  {:<5} {:<7} {}{queue}",
            s.proto.as_str(),
            s.state.as_str(),
            Endpoint(&s.local())
        )?;
    }
    for p in v
        .holders
        .iter()
        .take(SHOWN)
        .filter_map(|pid| snap.processes.get(pid))
    {
        holder(out, p, inspections.iter().find(|i| i.pid == p.pid))?;
        if let Some((_, s)) = v.supervisors.iter().find(|(pid, _)| *pid == p.pid) {
            writeln!(out, "          {}", s.sentence())?;
        }
        if let Some(link) = crate::diagnose::supervisor::proxy_link(p, snap, Some(v.port)) {
            writeln!(out, "          forwards :{} → {link}", v.port)?;
        }
    }
    if let Some(rest) = Folded::of(snap, &v.holders).sentence() {
        writeln!(out, "  {rest}")?;
    }
    evidence(out, v, snap)?;
    writeln!(out)?;
    for n in &v.next {
        writeln!(out, "next: {n}")?;
    }
    if !v.free_nearby.is_empty() {
        let ports: Vec<String> = v.free_nearby.iter().map(u16::to_string).collect();
        writeln!(out, "free nearby: {}", ports.join(", "))?;
    }
    Ok(())
}

/// The flags, the connections and TIME-WAITs on the port, and the bind probe.
fn evidence(out: &mut impl Write, v: &Verdict, snap: &Snapshot) -> io::Result<()> {
    for f in v.flags.iter() {
        writeln!(out, "  {:<15} {}", f.as_str(), explain(f))?;
    }
    let cw = &v.evidence.close_wait;
    // Not accepted yet: in the listener's accept queue, no file refers to them.
    let queued = v.evidence.unaccepted_close_waits(snap);
    let held = cw.len() - queued;
    if held > 0 {
        let pids = v.evidence.close_wait_pids(snap);
        let who = if pids.is_empty() {
            "no visible process".to_owned()
        } else {
            snap.pids_folded(&pids)
        };
        writeln!(
            out,
            "  CLOSE-WAIT      {held} connection{} held by {who}: the peers closed, the holder has not",
            if held == 1 { "" } else { "s" },
        )?;
    }
    if queued > 0 {
        let listener = if v.evidence.pids.is_empty() {
            "the listener".to_owned()
        } else {
            snap.pids_folded(&v.evidence.pids)
        };
        writeln!(
            out,
            "  CLOSE-WAIT      {queued} connection{} never accepted: {} in the accept queue of {listener}, the peers gave up and closed",
            if queued == 1 { "" } else { "s" },
            if queued == 1 { "it waits" } else { "they wait" },
        )?;
    }
    if v.time_wait > 0 {
        writeln!(
            out,
            "  TIME-WAIT       {} socket{}, the last expires in {} s",
            v.time_wait,
            if v.time_wait == 1 { "" } else { "s" },
            v.time_wait_expires_ms.div_ceil(1000)
        )?;
        match v.evidence.time_wait_makers(snap) {
            Some(by) => writeln!(out, "                  {by}")?,
            None if v.traced => writeln!(
                out,
                "                  who made them is unknown even to the sockscope running now: their connections closed before it started, or in its last 3 s"
            )?,
            None => writeln!(
                out,
                "                  who made them is known while a sockscope runs (the live view, `sockscope watch` or `serve`): start one to trace new ones"
            )?,
        }
    }
    let p = &v.probe;
    writeln!(
        out,
        "  {}0.0.0.0:{port} {} (SO_REUSEADDR: {}) · [::]:{port} {} (SO_REUSEADDR: {})",
        if v.udp {
            "UDP probe       "
        } else {
            "bind probe      "
        },
        p.v4.as_str(),
        p.v4_reuseaddr.as_str(),
        p.v6.as_str(),
        p.v6_reuseaddr.as_str(),
        port = v.port
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{snapshot, time_wait};
    use crate::diagnose::probe::BindResult;
    use crate::model::Scope;

    /// TIME-WAITs with no known maker: "start one" only when no sockscope is running; a
    /// running one that names no maker did not see their connections.
    #[test]
    fn unknown_makers_say_whether_a_sockscope_runs() {
        let snap = snapshot(
            0,
            Scope::All,
            vec![time_wait("127.0.0.1:7000", "127.0.0.1:40000", 9)],
            &[],
        );
        let probe = Probe {
            v4: BindResult::InUse,
            v4_reuseaddr: BindResult::Ok,
            v6: BindResult::Ok,
            v6_reuseaddr: BindResult::Ok,
        };
        let mut v = crate::diagnose::verdict(&snap, 7000, probe, &Default::default());
        let text = |v: &Verdict| {
            let mut out = Vec::new();
            write_text(&mut out, v, &snap, &[]).unwrap();
            String::from_utf8(out).unwrap()
        };
        assert!(
            text(&v).contains("start one to trace new ones"),
            "{}",
            text(&v)
        );
        v.traced = true;
        let t = text(&v);
        assert!(
            t.contains("unknown even to the sockscope running now"),
            "{t}"
        );
        assert!(!t.contains("start one"), "{t}");
    }
}
