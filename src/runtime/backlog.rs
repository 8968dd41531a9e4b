//! The lines `watch` has made and not written yet, between the collector thread and the
//! thread that owns stdout. It is bounded (lines and bytes). When it is full, the
//! producer waits for the writer while the writer keeps taking lines (a burst, a slow
//! reader: collection slows down to the reader's pace, nothing is lost); once the writer
//! has taken nothing for a while (the reader of stdout stopped reading), lines beyond the
//! bound are dropped and counted, and the count takes their place in the queue, so that
//! the writer reports the gap where it is. Nothing is dropped silently, and nothing grows.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the writer gets, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Line(String),
    /// This many lines were dropped here: the queue was full.
    Dropped(u64),
}

/// What became of a pushed line.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    Dropped,
    /// Closed or finished: nothing more is written.
    Refused,
}

pub struct Backlog {
    state: Mutex<State>,
    /// A line was queued, or the end came (for the writer).
    ready: Condvar,
    /// A line was taken, or the end came (for the producer).
    room: Condvar,
    max_lines: usize,
    max_bytes: usize,
    /// How long a full queue waits for the writer before it counts it as stalled.
    patience: Duration,
}

#[derive(Default)]
struct State {
    items: VecDeque<Item>,
    /// Bytes of the lines queued.
    bytes: usize,
    /// No more lines come: the writer ends after the last.
    finished: bool,
    /// Stopped: the writer ends now.
    closed: bool,
    /// The writer took nothing for `patience` while the queue was full: lines are
    /// dropped at once until it takes one again.
    stalled: bool,
}

impl Backlog {
    pub fn new(max_lines: usize, max_bytes: usize, patience: Duration) -> Backlog {
        Backlog {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            room: Condvar::new(),
            max_lines: max_lines.max(1),
            max_bytes,
            patience,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a line: waits for room while the writer keeps taking lines, and drops and
    /// counts it when the writer is stalled.
    pub fn push(&self, line: String) -> Pushed {
        let mut s = self.lock();
        let deadline = Instant::now() + self.patience;
        loop {
            if s.closed || s.finished {
                return Pushed::Refused;
            }
            if self.fits(&s, &line) {
                s.bytes += line.len();
                s.items.push_back(Item::Line(line));
                self.ready.notify_one();
                return Pushed::Queued;
            }
            let now = Instant::now();
            if s.stalled || now >= deadline {
                s.stalled = true;
                // At most one count follows the lines: the bound holds to one item.
                match s.items.back_mut() {
                    Some(Item::Dropped(n)) => *n += 1,
                    _ => s.items.push_back(Item::Dropped(1)),
                }
                self.ready.notify_one();
                return Pushed::Dropped;
            }
            s = self
                .room
                .wait_timeout(s, deadline - now)
                .map_or_else(|e| e.into_inner().0, |(s, _)| s);
        }
    }

    /// Whether `line` fits (a line longer than the byte bound goes alone).
    fn fits(&self, s: &State, line: &str) -> bool {
        let lines = s.items.len();
        lines < self.max_lines && (lines == 0 || s.bytes + line.len() <= self.max_bytes)
    }

    /// The next item, waiting for one; `None` when finished and empty, or closed.
    pub fn next(&self) -> Option<Item> {
        let mut s = self.lock();
        loop {
            if s.closed {
                return None;
            }
            if let Some(item) = s.items.pop_front() {
                if let Item::Line(l) = &item {
                    s.bytes -= l.len();
                }
                s.stalled = false;
                self.room.notify_one();
                return Some(item);
            }
            if s.finished {
                return None;
            }
            s = self.ready.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// True when nothing waits (the writer flushes then).
    pub fn is_empty(&self) -> bool {
        self.lock().items.is_empty()
    }

    /// No more lines: the writer writes what is queued, then ends.
    pub fn finish(&self) {
        self.lock().finished = true;
        self.ready.notify_all();
        self.room.notify_all();
    }

    /// Stops now; returns how many dropped lines were counted and not reported yet.
    pub fn close(&self) -> u64 {
        let mut s = self.lock();
        s.closed = true;
        let unreported = s
            .items
            .iter()
            .map(|i| match i {
                Item::Dropped(n) => *n,
                Item::Line(_) => 0,
            })
            .sum();
        s.items.clear();
        s.bytes = 0;
        self.ready.notify_all();
        self.room.notify_all();
        unreported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u32) -> String {
        format!("line {n}")
    }

    /// A burst far bigger than the queue, with a writer that keeps taking lines (slowly):
    /// the producer waits for it, and nothing is dropped.
    #[test]
    fn a_writer_that_keeps_up_slowly_loses_nothing() {
        let b = std::sync::Arc::new(Backlog::new(4, usize::MAX, Duration::from_secs(20)));
        let writer = {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(item) = b.next() {
                    got.push(item);
                    std::thread::sleep(Duration::from_millis(2));
                }
                got
            })
        };
        for n in 0..200 {
            assert_eq!(b.push(line(n)), Pushed::Queued);
        }
        b.finish();
        let got = writer.join().unwrap();
        assert_eq!(
            got,
            (0..200).map(|n| Item::Line(line(n))).collect::<Vec<_>>()
        );
    }

    /// A writer that takes nothing: the first line that does not fit waits the patience
    /// out, the rest are dropped at once; once the writer takes a line, the producer
    /// waits again.
    #[test]
    fn a_stalled_writer_is_waited_for_once() {
        let patience = Duration::from_millis(300);
        let b = Backlog::new(2, usize::MAX, patience);
        let started = Instant::now();
        for n in 0..2 {
            assert_eq!(b.push(line(n)), Pushed::Queued);
        }
        assert_eq!(b.push(line(2)), Pushed::Dropped);
        assert!(started.elapsed() >= patience);
        let quick = Instant::now();
        for n in 3..100 {
            assert_eq!(b.push(line(n)), Pushed::Dropped);
        }
        assert!(quick.elapsed() < patience, "{:?}", quick.elapsed());
        assert_eq!(b.next(), Some(Item::Line(line(0))));
        let again = Instant::now();
        assert_eq!(
            b.push(line(100)),
            Pushed::Dropped,
            "the count took the room"
        );
        assert!(
            again.elapsed() >= patience,
            "waited again: the writer moved"
        );
        assert_eq!(b.close(), 99, "lines 2 to 100");
    }

    /// Past the bound, lines are counted in one place, where the gap is; once the writer
    /// took some, lines are queued again after the count.
    #[test]
    fn a_full_queue_counts_what_it_drops_where_it_drops_it() {
        let b = Backlog::new(3, usize::MAX, Duration::ZERO);
        for n in 0..3 {
            assert_eq!(b.push(line(n)), Pushed::Queued);
        }
        for n in 3..10 {
            assert_eq!(b.push(line(n)), Pushed::Dropped);
        }
        assert_eq!(b.next(), Some(Item::Line(line(0))));
        assert_eq!(b.next(), Some(Item::Line(line(1))));
        assert_eq!(b.push(line(10)), Pushed::Queued);
        assert_eq!(b.push(line(11)), Pushed::Dropped);
        b.finish();
        assert_eq!(b.push(line(12)), Pushed::Refused);
        let rest: Vec<Item> = std::iter::from_fn(|| b.next()).collect();
        assert_eq!(
            rest,
            vec![
                Item::Line(line(2)),
                Item::Dropped(7),
                Item::Line(line(10)),
                Item::Dropped(1)
            ]
        );
    }

    /// The byte bound holds too (a single line longer than it still goes through alone).
    #[test]
    fn the_byte_bound_holds() {
        let b = Backlog::new(100, 10, Duration::ZERO);
        assert_eq!(b.push("x".repeat(30)), Pushed::Queued);
        assert_eq!(b.push("y".into()), Pushed::Dropped);
        assert_eq!(b.next(), Some(Item::Line("x".repeat(30))));
        assert_eq!(b.push("12345".into()), Pushed::Queued);
        assert_eq!(b.push("67890".into()), Pushed::Queued);
        assert_eq!(b.push("z".into()), Pushed::Dropped);
    }

    /// Closing reports the counts the writer never got to, and refuses what comes after.
    #[test]
    fn close_reports_unwritten_drops() {
        let b = Backlog::new(1, usize::MAX, Duration::ZERO);
        assert_eq!(b.push(line(0)), Pushed::Queued);
        for n in 1..4 {
            assert_eq!(b.push(line(n)), Pushed::Dropped);
        }
        assert_eq!(b.close(), 3);
        assert_eq!(b.push(line(4)), Pushed::Refused);
        assert_eq!(b.next(), None);
    }

    /// A writer waiting for lines gets them as they come, and is woken by the end.
    #[test]
    fn a_waiting_writer_is_woken_by_lines_and_by_the_end() {
        let b = std::sync::Arc::new(Backlog::new(8, usize::MAX, Duration::ZERO));
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = {
            let b = b.clone();
            std::thread::spawn(move || {
                while let Some(item) = b.next() {
                    tx.send(item).unwrap();
                }
            })
        };
        let wait = std::time::Duration::from_secs(20);
        assert_eq!(b.push(line(0)), Pushed::Queued);
        assert_eq!(rx.recv_timeout(wait).unwrap(), Item::Line(line(0)));
        b.finish();
        assert_eq!(
            rx.recv_timeout(wait),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected),
            "the writer ended"
        );
        writer.join().unwrap();
    }
}
