//! `sockscope watch`: the live view's collector thread and diff → events, written as
//! lines. The lines are made on the collector thread, for every snapshot; a writer thread
//! owns stdout, so a reader that stops reading blocks only that thread: SIGTERM, SIGINT
//! and SIGHUP still end the command at once, with status 0. Between the two, a bounded
//! [`Backlog`]: lines it cannot hold are dropped and reported on stderr, never piled up.

use super::backlog::{Backlog, Item, Pushed};
use crate::collect::Collector;
use crate::collect::worker::{Command, Settings, Worker};
use crate::commands::{EXIT_OK, warn};
use crate::diagnose::{CloseWaitTracker, row_flags};
use crate::error::{Error, Result};
use crate::model::{Collected, EventKind, Flags, FlagsOf, Scope, Snapshot, events};
use crate::output::watch::{WatchEvent, json_line, text_line};
use crate::query::{Query, Subject};
use std::io::Write;
use std::sync::Arc;
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
    /// The CPU budget of the collector thread.
    pub budget: crate::model::Budget,
}

/// Lines waiting for stdout, at most (beyond them, lines are dropped and counted).
const BACKLOG_LINES: usize = 4096;
/// Bytes of lines waiting for stdout, at most.
const BACKLOG_BYTES: usize = 2 << 20;
/// A full backlog waits this long for the writer to take a line before it counts stdout
/// as stalled and drops lines (a reader that is only slow makes collection wait instead).
const PATIENCE: Duration = Duration::from_secs(1);

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

/// The collector thread makes the lines of every snapshot in turn (each diffed against
/// the one before; snapshots are never queued, so none is skipped) and queues them for
/// the writer thread: it waits while the writer keeps up, and drops and counts lines
/// while stdout is stalled. This loop only waits for the end: a signal, the writer done,
/// or a failed snapshot.
async fn stream(collector: Box<dyn Collector>, opts: WatchOptions) -> Result<u8> {
    let start = |what: &'static str| move |source| Error::Start { what, source };
    let mut stops = Stops::new()?;
    let backlog = Arc::new(Backlog::new(BACKLOG_LINES, BACKLOG_BYTES, PATIENCE));
    let (ended_tx, mut ended) = mpsc::unbounded_channel();
    spawn_writer(backlog.clone(), ended_tx.clone())?;
    let settings = Settings::new(Scope::All, opts.interval, opts.budget);
    let narrow = opts.query.narrowing();
    let mut lines = Producer {
        opts,
        backlog: backlog.clone(),
        ended: ended_tx,
        close_waits: CloseWaitTracker::default(),
        last_flags: Vec::new(),
        sent: 0,
        baseline: true,
        lost_said: 0,
        last: None,
    };
    let worker = Worker::spawn(collector, settings, move |m| lines.take(m))
        .map_err(start("the collector thread"))?;
    // The sockets of a query by port or address are read every round.
    worker.send(Command::Narrow(narrow));
    let code = tokio::select! {
        _ = stops.recv() => Ok(EXIT_OK),
        done = ended.recv() => done.unwrap_or(Ok(EXIT_OK)),
    };
    let unreported = backlog.close();
    drop(worker);
    if unreported > 0 {
        warn(&dropped(unreported));
    }
    code
}

/// The warning for lines dropped because stdout was not read.
fn dropped(n: u64) -> String {
    let noun = if n == 1 { "event" } else { "events" };
    format!(
        "warning: {n} {noun} dropped here: stdout was not read fast enough (read it steadily, or narrow the query)"
    )
}

/// Makes the lines of each snapshot, on the collector thread.
struct Producer {
    opts: WatchOptions,
    backlog: Arc<Backlog>,
    ended: mpsc::UnboundedSender<Result<u8>>,
    close_waits: CloseWaitTracker,
    /// Flags of the previous snapshot's sockets, same order.
    last_flags: Vec<Flags>,
    /// Lines queued so far (for `--count`).
    sent: u64,
    baseline: bool,
    /// Destroy-event overflows reported so far.
    lost_said: u64,
    /// The table of the last snapshot: a round between full tables that hands it over
    /// again with nothing freed has no line to give.
    last: Option<Arc<crate::model::Snapshot>>,
}

impl Producer {
    /// The worker's report: queues the snapshot's lines; false ends the collector thread.
    fn take(&mut self, m: Result<Collected>) -> bool {
        let c = match m {
            Ok(c) => c,
            Err(e) => {
                let _ = self.ended.send(Err(e));
                return false;
            }
        };
        let lost = c.snapshot.lost;
        if lost.times > self.lost_said {
            self.lost_said = lost.times;
            if let Some(said) = lost.sentence() {
                warn(&format!(
                    "warning: {said} (the kernel's queue of closed sockets overflowed: connections that opened and closed in between are missing; set {}=BYTES above 8388608 to queue more)",
                    crate::collect::lifecycle::BUF_VAR
                ));
            }
        }
        let same = self
            .last
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(l, &c.snapshot))
            && c.unseen == 0;
        if same && c.closed.is_empty() {
            return true;
        }
        let flags = if same {
            // The same table: only the connections freed meanwhile make lines.
            std::mem::take(&mut self.last_flags)
        } else {
            self.last = Some(c.snapshot.clone());
            let leaking = self.close_waits.observe(&c.snapshot);
            row_flags(&c.snapshot, &leaking)
        };
        if std::mem::take(&mut self.baseline) {
            self.announce(&c, &flags);
        } else {
            let of = FlagsOf {
                prev: &self.last_flags,
                next: &flags,
            };
            for line in lines_of(&c, of, &self.opts) {
                if self.done() {
                    break;
                }
                match self.backlog.push(line) {
                    Pushed::Queued => self.sent += 1,
                    Pushed::Dropped => {}
                    Pushed::Refused => return false,
                }
            }
        }
        self.last_flags = flags;
        if self.done() {
            // The writer writes what is queued, then reports the end.
            self.backlog.finish();
            return false;
        }
        true
    }

    /// `--count` is reached.
    fn done(&self) -> bool {
        self.opts.count.is_some_and(|n| self.sent >= n)
    }

    /// How many sockets match, on stderr (scripts can wait for it; stdout holds only
    /// events).
    fn announce(&self, c: &Collected, flags: &[Flags]) {
        let matching = c
            .snapshot
            .sockets
            .iter()
            .zip(flags)
            .filter(|(s, f)| self.opts.query.matches_socket(s, &c.snapshot, **f))
            .count();
        let noun = if matching == 1 { "socket" } else { "sockets" };
        warn(&format!("watching {matching} {noun}; Ctrl-C stops"));
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

/// Starts the thread that owns stdout: it writes the backlog's lines, reports dropped
/// ones on stderr where they were dropped, and sends how it ended (after the last line,
/// or on a write error: a closed pipe ends quietly with status 0).
fn spawn_writer(backlog: Arc<Backlog>, ended: mpsc::UnboundedSender<Result<u8>>) -> Result<()> {
    // Its own handle on fd 1: std's Stdout lock is never held by a blocked thread.
    let fd = std::os::fd::AsFd::as_fd(&std::io::stdout())
        .try_clone_to_owned()
        .map_err(Error::Write)?;
    let mut out = std::io::BufWriter::new(std::fs::File::from(fd));
    std::thread::Builder::new()
        .name("sockscope-write".into())
        .spawn(move || {
            let result = loop {
                let wrote = match backlog.next() {
                    None => break Ok(EXIT_OK),
                    Some(Item::Line(line)) => writeln!(out, "{line}").and_then(|()| {
                        if backlog.is_empty() {
                            out.flush()
                        } else {
                            Ok(())
                        }
                    }),
                    Some(Item::Dropped(n)) => out.flush().map(|()| warn(&dropped(n))),
                };
                if let Err(e) = wrote {
                    break Err(Error::Write(e));
                }
            };
            let result = result.and_then(|c| out.flush().map(|()| c).map_err(Error::Write));
            let _ = ended.send(result);
        })
        .map(drop)
        .map_err(|source| Error::Start {
            what: "the output thread",
            source,
        })
}
