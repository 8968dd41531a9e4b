//! The collection thread: one snapshot per interval, never two at once, each diffed
//! against the previous one before it is handed over. A snapshot slower than the
//! interval is counted as an overrun and the next one starts right away, without a
//! burst of catch-up snapshots.

use super::Collector;
use crate::error::Error;
use crate::model::{Collected, Delta, Scope, Snapshot, diff};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the UI may ask of the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    SetInterval(Duration),
    SetScope(Scope),
    Pause(bool),
    /// Ask for each TCP connection's `tcp_info` (traffic shown) or stop asking; on, a
    /// snapshot is taken at once: the rates need two in a row that have it.
    SetTraffic(bool),
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
    /// The sockets said closed in the last [`SAID_FOR`] (by a diff or a destroy event),
    /// and when: each is said closed once. A destroy event drained only after the diff
    /// said its socket closed (unhashed before a dump; the kernel sends the event from a
    /// work queue, snapshots later on a busy machine) was said already, and so is a
    /// socket whose destroy event came before a dump that still listed it.
    said_closed: std::collections::HashMap<(u32, u64), std::time::SystemTime>,
}

/// How long a socket said closed is remembered against a second report.
pub const SAID_FOR: Duration = Duration::from_secs(30);

impl Differ {
    pub fn next(&mut self, mut snap: Snapshot, took: Duration, overruns: u64) -> Collected {
        let mut closed =
            crate::model::lifecycle::attribute(self.prev.as_deref(), &mut snap, &mut self.makers);
        let now = snap.taken_at;
        self.said_closed
            .retain(|_, at| now.duration_since(*at).is_ok_and(|age| age < SAID_FOR));
        // Each freed socket once: not said before, nor twice in one drain.
        closed.retain(|c| {
            self.said_closed
                .insert((c.freed.netns, c.freed.cookie), now)
                .is_none()
        });
        let snap = Arc::new(snap);
        let (mut delta, rescoped) = match &self.prev {
            Some(p) if p.scope == snap.scope => (diff(p, &snap), false),
            Some(_) => (Delta::default(), true),
            None => (Delta::default(), false),
        };
        // A socket the diff finds gone that a destroy event of an earlier step said
        // closed was said (this step's events are paired with it by `events`).
        let this_step: std::collections::HashSet<(u32, u64)> = closed
            .iter()
            .map(|c| (c.freed.netns, c.freed.cookie))
            .collect();
        if !delta.closed.is_empty() && self.said_closed.len() > this_step.len() {
            let said = &self.said_closed;
            let keep: Vec<bool> = delta
                .closed
                .iter()
                .map(|c| {
                    let key = (c.netns, c.cookie);
                    c.cookie == 0 || this_step.contains(&key) || !said.contains_key(&key)
                })
                .collect();
            if keep.contains(&false) {
                let mut k = keep.iter();
                delta.closed.retain(|_| *k.next().unwrap_or(&true));
                let mut k = keep.iter();
                delta.closed_at.retain(|_| *k.next().unwrap_or(&true));
            }
        }
        self.said_closed.extend(
            delta
                .closed
                .iter()
                .filter(|c| c.cookie != 0)
                .map(|c| ((c.netns, c.cookie), now)),
        );
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
            unseen: 0,
        }
    }
}

/// Folds a snapshot its consumer has not taken yet (`unread`) and the next one into one:
/// the newer snapshot, diffed against the last one the consumer took (`unread`'s
/// previous), so that what the consumer keeps per socket (ages, closed rows) follows
/// exactly. Events the two diffs had that the folded one no longer shows (a socket that
/// opened and closed in between, a state passed through) are counted in `unseen`.
///
/// A channel that keeps only the newest snapshot folds with this instead of replacing:
/// re-diffing here, on the collector thread, only when the consumer fell behind, keeps
/// the usual path (every snapshot taken) as cheap as before.
pub fn fold(unread: Collected, newer: Collected) -> Collected {
    let shown = |c: &Collected| match c.previous {
        Some(_) => events_in(&c.delta),
        None => 0,
    };
    let had = shown(&unread) + shown(&newer) + unread.unseen + newer.unseen;
    // Connections freed while the consumer was behind are each reported once, in order.
    let mut closed = unread.closed;
    closed.extend(newer.closed);
    let merged = match unread.previous {
        _ if newer.rescoped => Collected { closed, ..newer },
        Some(base) => Collected {
            delta: diff(&base, &newer.snapshot),
            traffic: crate::model::traffic::rates(&base, &newer.snapshot, &closed),
            previous: Some(base),
            closed,
            ..newer
        },
        // The consumer never saw the baseline (the first snapshot, or the first of a new
        // scope): the newer one is its baseline now.
        None => Collected {
            delta: Delta::default(),
            previous: None,
            rescoped: unread.rescoped,
            closed,
            ..newer
        },
    };
    Collected {
        unseen: had.saturating_sub(shown(&merged)),
        ..merged
    }
}

/// How many events a diff makes: one per opened, closed and changed socket.
fn events_in(d: &Delta) -> u64 {
    (d.opened.len() + d.closed.len() + d.changed.len()) as u64
}

/// When the next snapshot is due, and what it covers. Every command changes it at
/// once: the worker waits on the deadline *or* a command, never on a tick scheduled
/// under an interval that no longer holds.
struct Plan {
    scope: Scope,
    interval: Duration,
    paused: bool,
    next: Instant,
    /// When the last snapshot started.
    last: Option<Instant>,
}

impl Plan {
    /// Waits until the next snapshot is due or a command comes, whichever is first.
    fn wait(&self, rx: &Receiver<Command>) -> Result<Command, RecvTimeoutError> {
        let now = Instant::now();
        if self.paused {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else if self.next > now {
            rx.recv_timeout(self.next - now)
        } else {
            // Overrunning: still look at commands between snapshots, or Quit would
            // never be seen.
            rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            })
        }
    }

    /// Applies a command other than Quit; true when a snapshot is to be taken now.
    fn apply(&mut self, c: Command) -> bool {
        match c {
            Command::SetInterval(d) => {
                self.interval = d;
                // Due one new interval after the last snapshot started: a shorter
                // interval may make it due now, a longer one puts it off. A snapshot
                // already due (a resume, a new scope) stays due.
                if let Some(last) = self.last
                    && self.next > Instant::now()
                {
                    self.next = last + d;
                }
                false
            }
            Command::SetScope(s) => {
                if s != self.scope {
                    self.scope = s;
                    self.next = Instant::now();
                }
                false
            }
            Command::Pause(p) => {
                self.paused = p;
                self.next = Instant::now();
                false
            }
            Command::Refresh => true,
            // Applied by the loop, which holds the collector.
            Command::SetTraffic(on) => on,
            Command::Quit => false,
        }
    }
}

fn run(
    collector: &mut dyn Collector,
    (scope, interval): (Scope, Duration),
    rx: &Receiver<Command>,
    suspensions: &AtomicU64,
    report: &mut dyn FnMut(Result<Collected, Error>) -> bool,
) {
    let mut differ = Differ::default();
    let mut state = super::statefile::Writer::default();
    let mut overruns = 0u64;
    let mut high_water = 0usize;
    let mut plan = Plan {
        scope,
        interval,
        paused: false,
        next: Instant::now(),
        last: None,
    };
    loop {
        match plan.wait(rx) {
            Ok(Command::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(c) => {
                if let Command::SetTraffic(on) = c {
                    collector.set_traffic(on);
                }
                if !plan.apply(c) {
                    continue;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let start = Instant::now();
        let generation = suspensions.load(Ordering::SeqCst);
        let result = collector.snapshot(plan.scope);
        let took = start.elapsed();
        if took > plan.interval && suspensions.load(Ordering::SeqCst) == generation {
            overruns += 1;
        }
        plan.last = Some(start);
        plan.next = (start + plan.interval).max(Instant::now());
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

    /// `SetTraffic` reaches the collector on its thread, and turning it on takes a
    /// snapshot at once (the rates need two in a row with `tcp_info`), not an interval
    /// later; turning it off waits for the next one.
    #[test]
    fn set_traffic_reaches_the_collector_and_on_takes_a_snapshot_now() {
        struct Traffic(Arc<std::sync::Mutex<Vec<bool>>>);
        impl Collector for Traffic {
            fn snapshot(&mut self, scope: Scope) -> Result<Snapshot> {
                Ok(Snapshot::empty(scope))
            }
            fn name(&self) -> &'static str {
                "traffic"
            }
            fn set_traffic(&mut self, on: bool) {
                self.0.lock().unwrap().push(on);
            }
        }
        let told = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = channel();
        let w = Worker::spawn(
            Box::new(Traffic(told.clone())),
            Scope::All,
            Duration::from_secs(3600),
            move |m| tx.send(m).is_ok(),
        )
        .unwrap();
        rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        w.send(Command::SetTraffic(true));
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a snapshot at once")
            .unwrap();
        w.send(Command::SetTraffic(false));
        assert!(
            rx.recv_timeout(Duration::from_millis(300)).is_err(),
            "off takes no snapshot"
        );
        drop(w);
        assert_eq!(*told.lock().unwrap(), [true, false]);
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

    /// A command wakes the worker at once: at an interval of an hour, a shorter
    /// interval, a resume and a refresh each bring a snapshot right away, not an hour
    /// later.
    #[test]
    fn commands_take_effect_at_once() {
        let hour = Duration::from_secs(3600);
        let wait = Duration::from_secs(20);
        let (w, rx, calls) = fake_worker(Scope::All, Duration::ZERO, hour);
        rx.recv_timeout(wait).unwrap().unwrap();
        w.send(Command::Refresh);
        rx.recv_timeout(wait).expect("a refresh").unwrap();
        w.send(Command::Pause(true));
        w.send(Command::Pause(false));
        rx.recv_timeout(wait).expect("a resume").unwrap();
        // The last snapshot started well over 10 ms ago: the next is due now.
        w.send(Command::SetInterval(Duration::from_millis(10)));
        for _ in 0..3 {
            rx.recv_timeout(wait)
                .expect("the shorter interval")
                .unwrap();
        }
        // Back to an hour: the snapshots stop (those taken before it drain first).
        w.send(Command::SetInterval(hour));
        let quiet = Duration::from_millis(300);
        let deadline = Instant::now() + wait;
        while rx.recv_timeout(quiet).is_ok() {
            assert!(Instant::now() < deadline, "snapshots never stopped");
        }
        let before = calls.load(Ordering::SeqCst);
        assert!(rx.recv_timeout(quiet).is_err(), "a snapshot at 1 h");
        assert_eq!(calls.load(Ordering::SeqCst), before);
    }

    /// Snapshots on a scale: socket `n` is open in snapshot `i` when `open(n, i)`.
    fn series(open: impl Fn(u16, usize) -> bool, count: usize) -> Vec<Collected> {
        use crate::model::diff::tests::sock;
        use crate::model::socket::State;
        let mut differ = Differ::default();
        (0..count)
            .map(|i| {
                let mut snap = Snapshot::empty(Scope::All);
                snap.sockets = (1..=8u16)
                    .filter(|&n| open(n, i))
                    .map(|n| sock(n, 0, u32::from(n), State::Listen, 1))
                    .collect();
                differ.next(snap, Duration::ZERO, 0)
            })
            .collect()
    }

    fn ports(c: &Collected) -> (Vec<u16>, Vec<u16>) {
        let opened = c
            .delta
            .opened
            .iter()
            .map(|&i| c.snapshot.sockets[i].local.port())
            .collect();
        let closed = c.delta.closed.iter().map(|s| s.local.port()).collect();
        (opened, closed)
    }

    /// Folded snapshots diff against the last one the consumer took: what opened and
    /// closed since then shows, and what opened and closed in between is counted.
    #[test]
    fn a_fold_diffs_against_what_the_consumer_saw_and_counts_the_rest() {
        // 1 stays; 2 closes in snapshot 1; 3 opens in 1 and closes in 2; 4 opens in 2.
        let c = series(
            |n, i| match n {
                1 => true,
                2 => i == 0,
                3 => i == 1,
                4 => i >= 2,
                _ => false,
            },
            3,
        );
        let [seen, skipped, newest] = <[Collected; 3]>::try_from(c).unwrap();
        let folded = fold(skipped, newest);
        assert!(Arc::ptr_eq(
            folded.previous.as_ref().unwrap(),
            &seen.snapshot
        ));
        assert_eq!(ports(&folded), (vec![4], vec![2]));
        // 3 opened and closed unseen: two events.
        assert_eq!(folded.unseen, 2);
        assert_eq!(
            crate::model::diff::diff(&seen.snapshot, &folded.snapshot),
            folded.delta
        );
        // Folding again keeps the base and adds up.
        let more = series(|n, i| n == 1 || (n == 5 && i == 3) || (n == 4 && i == 2), 5);
        let mut it = more.into_iter().skip(1);
        let first = it.next().unwrap();
        let base = first.previous.clone().unwrap();
        let folded = it.fold(first, fold);
        assert!(Arc::ptr_eq(folded.previous.as_ref().unwrap(), &base));
        // 4 opened (snapshot 2) and closed (3); 5 opened (3) and closed (4): four events.
        assert_eq!(ports(&folded), (vec![], vec![]));
        assert_eq!(folded.unseen, 4);
    }

    /// A fold onto a baseline the consumer never took is a baseline; a new scope wins.
    #[test]
    fn a_fold_keeps_baselines() {
        let c = series(|n, i| n <= i as u16 + 1, 3);
        let [first, second, third] = <[Collected; 3]>::try_from(c).unwrap();
        let folded = fold(first, second);
        assert!(folded.previous.is_none() && folded.delta.is_empty() && !folded.rescoped);
        assert_eq!(folded.snapshot.sockets.len(), 2);
        // Had the consumer taken both, it would have seen socket 2 open.
        assert_eq!(folded.unseen, 1);
        let mut rescoped = third.clone();
        rescoped.rescoped = true;
        rescoped.previous = None;
        rescoped.delta = Delta::default();
        let folded = fold(third, rescoped);
        assert!(folded.rescoped && folded.previous.is_none());
        // The third's opening of socket 3 was never shown.
        assert_eq!(folded.unseen, 1);
        // Folded after the baseline fold: its count is kept.
        let c = series(|n, i| n <= i as u16 + 1, 3);
        let folded = c.into_iter().reduce(fold).unwrap();
        assert!(folded.previous.is_none());
        assert_eq!(folded.unseen, 2);
    }
}

#[cfg(test)]
mod lifecycle_tests {
    use super::*;
    use crate::app::testkit::{snapshot, sock};
    use crate::model::lifecycle::Freed;
    use crate::model::{Proto, State};

    /// A socket unhashed before a dump and freed after the next drain: the diff says it
    /// closed first; its destroy event, a snapshot later, is not a second event.
    #[test]
    fn a_socket_the_diff_said_closed_is_not_said_again_by_its_destroy_event() {
        let mut l = sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[100],
        );
        l.cookie = 55;
        let mut d = Differ::default();
        d.next(
            snapshot(0, Scope::All, vec![l.clone()], &[]),
            Duration::ZERO,
            0,
        );
        let gone = d.next(snapshot(1, Scope::All, vec![], &[]), Duration::ZERO, 0);
        assert_eq!(gone.delta.closed.len(), 1);
        let mut late = snapshot(3, Scope::All, vec![], &[]);
        late.freed = vec![Freed {
            proto: Proto::Tcp,
            local: l.local,
            remote: l.remote,
            netns: 0,
            cookie: 55,
            uid: 0,
            tcp: None,
        }];
        // On a busy machine the kernel's work queue sends it snapshots later.
        d.next(snapshot(2, Scope::All, vec![], &[]), Duration::ZERO, 0);
        let c = d.next(late.clone(), Duration::ZERO, 0);
        assert!(c.closed.is_empty(), "{:?}", c.closed);
        // Another socket's event is kept.
        late.freed[0].cookie = 56;
        late.taken_at = crate::app::testkit::at(4);
        assert_eq!(d.next(late, Duration::ZERO, 0).closed.len(), 1);
    }

    /// A destroy event drained before a dump that still listed its socket (or the same
    /// event twice in one drain): said closed once, not again by the diff a snapshot later.
    #[test]
    fn a_socket_its_destroy_event_said_closed_is_not_said_again_by_the_diff() {
        let mut l = sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[100],
        );
        l.cookie = 55;
        let freed = Freed {
            proto: Proto::Tcp,
            local: l.local,
            remote: l.remote,
            netns: 0,
            cookie: 55,
            uid: 0,
            tcp: None,
        };
        let mut d = Differ::default();
        d.next(
            snapshot(0, Scope::All, vec![l.clone()], &[]),
            Duration::ZERO,
            0,
        );
        let mut early = snapshot(1, Scope::All, vec![l.clone()], &[]);
        early.freed = vec![freed.clone(), freed];
        let c = d.next(early, Duration::ZERO, 0);
        assert_eq!(c.closed.len(), 1, "{:?}", c.closed);
        let gone = d.next(snapshot(2, Scope::All, vec![], &[]), Duration::ZERO, 0);
        assert!(gone.delta.closed.is_empty(), "{:?}", gone.delta.closed);
        assert!(gone.delta.closed_at.is_empty());
        // Another socket the diff finds gone is still said.
        let mut m = l.clone();
        m.cookie = 56;
        m.local = "127.0.0.1:3001".parse().unwrap();
        d.next(snapshot(3, Scope::All, vec![m], &[]), Duration::ZERO, 0);
        let c = d.next(snapshot(4, Scope::All, vec![], &[]), Duration::ZERO, 0);
        assert_eq!(c.delta.closed.len(), 1);
        assert_eq!(c.delta.closed_at, vec![0]);
    }
}
