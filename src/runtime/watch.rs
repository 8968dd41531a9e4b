//! `sockscope watch`: the live view's collector thread and diff → events, written as
//! lines. A writer thread owns stdout, so a reader that stops reading blocks only that
//! thread: SIGTERM, SIGINT and SIGHUP still end the command at once, with status 0.

use crate::collect::Collector;
use crate::collect::worker::Worker;
use crate::commands::{EXIT_OK, warn};
use crate::diagnose::{CloseWaitTracker, row_flags};
use crate::error::{Error, Result};
use crate::model::{Collected, EventKind, Flags, FlagsOf, Scope, Snapshot, events};
use crate::output::watch::{WatchEvent, json_line, text_line};
use crate::query::{Query, Subject};
use std::io::Write;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// What `watch` was asked for.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    pub query: Query,
    pub json: bool,
    pub count: Option<u64>,
    pub interval: Duration,
}

/// Lines the writer may hold before the loop waits for it (bounded memory when the
/// reader is slow).
const BACKLOG: usize = 4096;

/// Runs until interrupted, `count` events were written, or the reader went away.
pub fn run(collector: Box<dyn Collector>, opts: WatchOptions) -> Result<u8> {
    let rt = super::tokio()?;
    rt.block_on(stream(collector, opts))
}

/// SIGTERM, SIGINT and SIGHUP: each ends `watch` cleanly.
struct Stops {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Stops {
    fn new() -> Result<Stops> {
        let on = |kind| {
            signal(kind).map_err(|source| Error::Start {
                what: "signal handling",
                source,
            })
        };
        Ok(Stops {
            term: on(SignalKind::terminate())?,
            int: on(SignalKind::interrupt())?,
            hup: on(SignalKind::hangup())?,
        })
    }

    /// Completes when any of them arrives.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

async fn stream(collector: Box<dyn Collector>, opts: WatchOptions) -> Result<u8> {
    let start = |what: &'static str| move |source| Error::Start { what, source };
    let mut stops = Stops::new()?;
    let (tx, mut snapshots) = mpsc::unbounded_channel();
    let _worker = Worker::spawn(collector, Scope::All, opts.interval, move |m| {
        tx.send(m).is_ok()
    })
    .map_err(start("the collector thread"))?;
    let (lines, mut written) = Writer::spawn()?;
    let mut close_waits = CloseWaitTracker::default();
    let mut last_flags: Vec<Flags> = Vec::new();
    let mut sent = 0u64;
    let mut baseline = true;
    loop {
        let msg = tokio::select! {
            biased;
            _ = stops.recv() => return Ok(EXIT_OK),
            done = written.recv() => return done.unwrap_or(Ok(EXIT_OK)),
            m = snapshots.recv() => match m {
                Some(m) => m,
                None => return Ok(EXIT_OK),
            },
        };
        let c = msg?;
        let leaking = close_waits.observe(&c.snapshot);
        let flags = row_flags(&c.snapshot, &leaking);
        let prev_flags = std::mem::replace(&mut last_flags, flags.clone());
        if baseline {
            baseline = false;
            let matching = c
                .snapshot
                .sockets
                .iter()
                .zip(&flags)
                .filter(|(s, f)| opts.query.matches_socket(s, &c.snapshot, **f))
                .count();
            // On stderr, so scripts can wait for it and stdout holds only events.
            let noun = if matching == 1 { "socket" } else { "sockets" };
            warn(&format!("watching {matching} {noun}; Ctrl-C stops"));
            if opts.count == Some(0) {
                return Ok(EXIT_OK);
            }
            continue;
        }
        let of = FlagsOf {
            prev: &prev_flags,
            next: &flags,
        };
        for line in lines_of(&c, of, &opts) {
            if opts.count.is_some_and(|n| sent >= n) {
                break;
            }
            // A full queue (a reader that does not read) must not hide a signal.
            tokio::select! {
                biased;
                _ = stops.recv() => return Ok(EXIT_OK),
                done = written.recv() => return done.unwrap_or(Ok(EXIT_OK)),
                r = lines.send(line) => if r.is_err() { break },
            }
            sent += 1;
        }
        if opts.count.is_some_and(|n| sent >= n) {
            // Let the writer finish the last lines, still answering signals meanwhile.
            drop(lines);
            return tokio::select! {
                _ = stops.recv() => Ok(EXIT_OK),
                done = written.recv() => done.unwrap_or(Ok(EXIT_OK)),
            };
        }
    }
}

/// The events of one snapshot that match the query, as output lines. Each event is
/// matched as it happened: with its flags then, and a closed socket's owners as they were.
fn lines_of(c: &Collected, flags: FlagsOf<'_>, opts: &WatchOptions) -> Vec<String> {
    let next: &Snapshot = &c.snapshot;
    let prev = c.previous.as_deref();
    events(&c.delta, prev, next, &c.closed, flags)
        .iter()
        .filter(|e| opts.query.matches(&Subject::event(e, next)))
        .filter_map(|e| {
            let snap = match e.kind {
                EventKind::Closed => prev.unwrap_or(next),
                _ => next,
            };
            let w = WatchEvent {
                event: e,
                snap,
                flags: e.flags,
            };
            if opts.json {
                json_line(&w).ok()
            } else {
                Some(text_line(&w))
            }
        })
        .collect()
}

/// The thread that writes lines to stdout.
struct Writer;

impl Writer {
    /// Starts it; returns where to send lines, and where it reports that it ended (after
    /// the last line, or on a write error: a closed pipe ends quietly with status 0).
    #[allow(clippy::type_complexity)]
    fn spawn() -> Result<(mpsc::Sender<String>, mpsc::UnboundedReceiver<Result<u8>>)> {
        let (tx, mut rx) = mpsc::channel::<String>(BACKLOG);
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        // Its own handle on fd 1: std's Stdout lock is never held by a blocked thread.
        let fd = std::os::fd::AsFd::as_fd(&std::io::stdout())
            .try_clone_to_owned()
            .map_err(Error::Write)?;
        let mut out = std::io::BufWriter::new(std::fs::File::from(fd));
        std::thread::Builder::new()
            .name("sockscope-write".into())
            .spawn(move || {
                let result = loop {
                    let Some(line) = rx.blocking_recv() else {
                        break Ok(EXIT_OK);
                    };
                    let wrote = writeln!(out, "{line}")
                        .and_then(|()| if rx.is_empty() { out.flush() } else { Ok(()) });
                    if let Err(e) = wrote {
                        break Err(Error::Write(e));
                    }
                };
                let result = result.and_then(|c| out.flush().map(|()| c).map_err(Error::Write));
                let _ = done_tx.send(result);
            })
            .map_err(|source| Error::Start {
                what: "the output thread",
                source,
            })?;
        Ok((tx, done_rx))
    }
}
