//! The collection thread: one snapshot per interval, never two at once, each diffed
//! against the previous one before it is handed over. A snapshot slower than the
//! interval is counted as an overrun and the next one starts right away, without a
//! burst of catch-up snapshots.

use super::Collector;
use crate::error::Error;
use crate::model::{Collected, Delta, Scope, Snapshot, diff};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the UI may ask of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    SetInterval(Duration),
    SetScope(Scope),
    Pause(bool),
    /// Take a snapshot now.
    Refresh,
    Quit,
}

/// Handle to the thread; dropping it stops the thread.
pub struct Worker {
    tx: Sender<Command>,
    handle: Option<JoinHandle<()>>,
    /// Bumped before the process stops itself (Ctrl-Z): a snapshot that spans a
    /// suspension was slow because nobody ran, and is not an overrun.
    suspensions: Arc<AtomicU64>,
}

impl Worker {
    /// Starts the thread. `report` gets every snapshot (or the error of a failed one) and
    /// returns false when nobody listens any more, which ends the thread.
    pub fn spawn(
        mut collector: Box<dyn Collector>,
        scope: Scope,
        interval: Duration,
        mut report: impl FnMut(Result<Collected, Error>) -> bool + Send + 'static,
    ) -> std::io::Result<Worker> {
        let (tx, rx) = channel();
        let suspensions = Arc::new(AtomicU64::new(0));
        let seen = suspensions.clone();
        let handle = std::thread::Builder::new()
            .name("sockscope-collect".into())
            .spawn(move || {
                run(
                    collector.as_mut(),
                    (scope, interval),
                    &rx,
                    &seen,
                    &mut report,
                )
            })?;
        Ok(Worker {
            tx,
            handle: Some(handle),
            suspensions,
        })
    }

    /// The process is about to stop itself (Ctrl-Z, SIGTSTP): the snapshot under way, if
    /// any, will not count as an overrun.
    pub fn suspending(&self) {
        self.suspensions.fetch_add(1, Ordering::SeqCst);
    }

    pub fn send(&self, c: Command) {
        let _ = self.tx.send(c);
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Quit);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Turns each snapshot into a [`Collected`]: diffed against the one before, unless the
/// scope changed (then it is a new baseline). The worker thread uses it, and so do tests
/// that feed snapshots by hand.
#[derive(Default)]
pub struct Differ {
    prev: Option<Arc<Snapshot>>,
    /// Who made the connections of the TIME-WAIT sockets seen last.
    makers: crate::model::lifecycle::Makers,
}

impl Differ {
    pub fn next(&mut self, mut snap: Snapshot, took: Duration, overruns: u64) -> Collected {
        let closed =
            crate::model::lifecycle::attribute(self.prev.as_deref(), &mut snap, &mut self.makers);
        let snap = Arc::new(snap);
        let (delta, rescoped) = match &self.prev {
            Some(p) if p.scope == snap.scope => (diff(p, &snap), false),
            Some(_) => (Delta::default(), true),
            None => (Delta::default(), false),
        };
        let previous = self.prev.replace(snap.clone()).filter(|_| !rescoped);
        let traffic = previous
            .as_deref()
            .and_then(|p| crate::model::traffic::rates(p, &snap, &closed));
        Collected {
            snapshot: snap,
            previous,
            delta,
            rescoped,
            took,
            overruns,
            closed,
            traffic,
        }
    }
}

fn run(
    collector: &mut dyn Collector,
    (mut scope, mut interval): (Scope, Duration),
    rx: &Receiver<Command>,
    suspensions: &AtomicU64,
    report: &mut dyn FnMut(Result<Collected, Error>) -> bool,
) {
    let mut differ = Differ::default();
    let mut state = super::statefile::Writer::default();
    let mut overruns = 0u64;
    let mut high_water = 0usize;
    let mut paused = false;
    let mut next = Instant::now();
    loop {
        let now = Instant::now();
        let cmd = if paused {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else if next > now {
            rx.recv_timeout(next - now)
        } else {
            // Overrunning: still look at commands between snapshots, or Quit would
            // never be seen.
            rx.try_recv().map_err(|e| match e {
                std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            })
        };
        match cmd {
            Ok(Command::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Command::SetInterval(d)) => {
                interval = d;
                continue;
            }
            Ok(Command::SetScope(s)) => {
                if s != scope {
                    scope = s;
                    next = Instant::now();
                }
                continue;
            }
            Ok(Command::Pause(p)) => {
                paused = p;
                next = Instant::now();
                continue;
            }
            Ok(Command::Refresh) => {}
            Err(RecvTimeoutError::Timeout) => {}
        }
        let start = Instant::now();
        let generation = suspensions.load(Ordering::SeqCst);
        let result = collector.snapshot(scope);
        let took = start.elapsed();
        if took > interval && suspensions.load(Ordering::SeqCst) == generation {
            overruns += 1;
        }
        next = (start + interval).max(Instant::now());
        let message = result.map(|snap| differ.next(snap, took, overruns));
        if let Ok(c) = &message {
            state.offer(&c.snapshot);
        }
        let sockets = message.as_ref().map_or(0, |c| c.snapshot.sockets.len());
        if !report(message) {
            return;
        }
        super::trim_after_shrink(&mut high_water, sockets);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use std::sync::atomic::AtomicUsize;

    /// A collector that counts calls and can be slow.
    struct Fake {
        calls: Arc<AtomicUsize>,
        delay: Duration,
    }

    impl Collector for Fake {
        fn snapshot(&mut self, scope: Scope) -> Result<Snapshot> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(self.delay);
            Ok(Snapshot::empty(scope))
        }
        fn name(&self) -> &'static str {
            "fake"
        }
    }

    /// A worker over a fake collector whose snapshots take `delay`; returns the worker,
    /// where its snapshots arrive, and the count of snapshots taken.
    fn fake_worker(
        scope: Scope,
        delay: Duration,
        interval: Duration,
    ) -> (
        Worker,
        std::sync::mpsc::Receiver<Result<Collected, Error>>,
        Arc<AtomicUsize>,
    ) {
        let calls = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = channel();
        let fake = Fake {
            calls: calls.clone(),
            delay,
        };
        let w =
            Worker::spawn(Box::new(fake), scope, interval, move |m| tx.send(m).is_ok()).unwrap();
        (w, rx, calls)
    }

    #[test]
    fn slow_snapshots_count_as_overruns_and_never_overlap() {
        let (w, rx, _) = fake_worker(
            Scope::All,
            Duration::from_millis(30),
            Duration::from_millis(10),
        );
        let mut last = None;
        for _ in 0..3 {
            last = Some(rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap());
        }
        drop(w);
        let c = last.unwrap();
        assert!(c.overruns >= 2, "{}", c.overruns);
        assert!(c.took >= Duration::from_millis(30));
    }

    /// A snapshot slowed down by a suspension (Ctrl-Z, then fg) is not an overrun.
    #[test]
    fn a_suspension_is_not_an_overrun() {
        let (w, rx, _) = fake_worker(
            Scope::All,
            Duration::from_millis(150),
            Duration::from_millis(100),
        );
        // Every snapshot takes longer than the interval, but each spans a "suspension".
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let mut got = 0;
        while got < 3 {
            w.suspending();
            if let Ok(Ok(c)) = rx.recv_timeout(Duration::from_millis(50)) {
                got += 1;
                assert!(c.took >= Duration::from_millis(150));
                assert!(c.overruns <= 1, "{}", c.overruns);
            }
            assert!(std::time::Instant::now() < deadline);
        }
    }

    #[test]
    fn scope_change_is_a_new_baseline() {
        let (w, rx, _) = fake_worker(Scope::Listeners, Duration::ZERO, Duration::from_secs(60));
        let first = rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert!(!first.rescoped);
        w.send(Command::SetScope(Scope::All));
        let second = rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert!(second.rescoped);
        assert!(
            second.previous.is_none(),
            "not comparable with the old scope"
        );
        assert_eq!(second.snapshot.scope, Scope::All);
    }

    /// At a 10 ms interval snapshots flow; paused, none come (over 30 intervals), except
    /// the one a Refresh asks for; resumed, they flow again.
    #[test]
    fn pause_stops_the_flow_and_refresh_still_works() {
        let (w, rx, calls) = fake_worker(Scope::All, Duration::ZERO, Duration::from_millis(10));
        for _ in 0..3 {
            rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        }
        w.send(Command::Pause(true));
        // Whatever was under way when the pause arrived drains first.
        let quiet = Duration::from_millis(300);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while rx.recv_timeout(quiet).is_ok() {
            assert!(
                std::time::Instant::now() < deadline,
                "snapshots never stopped"
            );
        }
        let paused_at = calls.load(Ordering::SeqCst);
        assert!(
            rx.recv_timeout(quiet).is_err(),
            "a snapshot came while paused"
        );
        assert_eq!(calls.load(Ordering::SeqCst), paused_at);
        w.send(Command::Refresh);
        rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), paused_at + 1);
        w.send(Command::Pause(false));
        for _ in 0..3 {
            rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        }
    }
}
