//! `sockscope watch [QUERY]`: a stream of socket events until interrupted or `--count`.

use crate::cli::WatchArgs;
use crate::collect::{self, CollectorKind};
use crate::error::{Error, Result};
use crate::model::diff::ChangeKind;
use crate::model::{Flags, Scope, Snapshot, diff};
use crate::output::watch::{WatchEvent, json_line, text_line};
use crate::query;
use std::io::{self, Write};
use tokio::signal::unix::{SignalKind, signal};

pub fn run(args: &WatchArgs, kind: CollectorKind) -> Result<u8> {
    let query = query::parse(&args.query.join(" "))?;
    let collector = collect::open(kind)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Output(format!("cannot start the event loop: {e}")))?;
    rt.block_on(stream(args, &query, collector))
}

async fn stream(
    args: &WatchArgs,
    q: &query::Query,
    mut collector: Box<dyn collect::Collector>,
) -> Result<u8> {
    let mut term = signal(SignalKind::terminate()).map_err(|e| Error::Output(e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| Error::Output(e.to_string()))?;
    let mut tick = tokio::time::interval(args.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prev: Option<Snapshot> = None;
    let mut close_waits = crate::diagnose::CloseWaitTracker::default();
    let mut printed = 0u64;
    let stdout = io::stdout();
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(super::EXIT_OK),
            _ = int.recv() => return Ok(super::EXIT_OK),
            _ = tick.tick() => {}
        }
        // The snapshot runs on the blocking pool so signals are still seen meanwhile.
        let (c, snap) = tokio::task::spawn_blocking(move || {
            let s = collector.snapshot(Scope::All);
            (collector, s)
        })
        .await
        .map_err(|e| Error::Output(e.to_string()))?;
        collector = c;
        let next = snap?;
        // Flags of the new snapshot; CLOSE-WAIT growth is judged across snapshots.
        let leaking = close_waits.observe(&next);
        let flags = crate::diagnose::row_flags(&next, &leaking);
        if prev.is_none() {
            // The first snapshot is the baseline: say so, on stderr, so scripts can wait
            // for it and stdout holds only events.
            eprintln!(
                "sockscope: watching {} sockets; Ctrl-C stops",
                next.sockets.len()
            );
            if args.count == Some(0) {
                return Ok(super::EXIT_OK);
            }
        }
        if let Some(old) = &prev {
            let d = diff(old, &next);
            let mut events: Vec<WatchEvent<'_>> = Vec::new();
            for s in &d.closed {
                events.push(WatchEvent {
                    at: next.taken_at,
                    kind: "closed",
                    socket: s,
                    old_state: None,
                    old_owners: None,
                    snap: old,
                    flags: Flags::empty(),
                });
            }
            for &i in &d.opened {
                events.push(WatchEvent {
                    at: next.taken_at,
                    kind: "opened",
                    socket: &next.sockets[i],
                    old_state: None,
                    old_owners: None,
                    snap: &next,
                    flags: flags[i],
                });
            }
            for c in &d.changed {
                let s = &next.sockets[c.index];
                let (kind, old_state, old_owners) = match &c.kind {
                    ChangeKind::State { from, .. } => ("state-changed", Some(*from), None),
                    ChangeKind::Owners { from, .. } => ("owner-changed", None, Some(from)),
                };
                events.push(WatchEvent {
                    at: next.taken_at,
                    kind,
                    socket: s,
                    old_state,
                    old_owners,
                    snap: &next,
                    flags: flags[c.index],
                });
            }
            let mut out = stdout.lock();
            for e in events
                .iter()
                .filter(|e| q.matches_with_flags(e.socket, e.snap, e.flags))
            {
                let line = if args.json {
                    json_line(e).map_err(|e| Error::Output(e.to_string()))?
                } else {
                    text_line(e)
                };
                match writeln!(out, "{line}").and_then(|()| out.flush()) {
                    Ok(()) => {}
                    Err(e) if super::is_broken_pipe(&e) => return Ok(super::EXIT_OK),
                    Err(e) => return Err(Error::Output(e.to_string())),
                }
                printed += 1;
                if args.count.is_some_and(|n| printed >= n) {
                    return Ok(super::EXIT_OK);
                }
            }
        }
        prev = Some(next);
    }
}
