//! The collection thread: one round per interval, never two at once, each diffed
//! against the one before it is handed over. A round slower than the interval is
//! counted as an overrun and the next one starts right away, without a burst of
//! catch-up rounds.
//!
//! Under a CPU budget ([`Pacing`]) a round reads every socket only when the budget allows
//! it; the rounds between read what people watch (listeners, a narrowing filter's
//! sockets, the kernel's counters, the destroy events) and merge it into the last table.

use super::Collector;
use super::pacing::{Pacing, Round, process_cpu};
use crate::error::Error;
use crate::model::fresh::{Counts, Fresh, Freshness, merge};
use crate::model::{Budget, Collected, Delta, Narrow, Scope, Snapshot, diff};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// What the UI may ask of the worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    SetInterval(Duration),
    SetScope(Scope),
    Pause(bool),
    /// Ask for each TCP connection's `tcp_info` (traffic shown) or stop asking; on, a
    /// snapshot is taken at once: the rates need two in a row that have it.
    SetTraffic(bool),
    /// Take a full snapshot now.
    Refresh,
    /// What the consumer's filter narrows to: those sockets are read every round.
    Narrow(Option<Narrow>),
    Quit,
}

/// What the worker reads, and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub scope: Scope,
    pub interval: Duration,
    pub budget: Budget,
    /// The full table is read at most this often under the budget (see
    /// [`super::pacing::PERIOD_VAR`]); zero: as the budget allows.
    pub min_period: Duration,
}

impl Settings {
    /// These settings, with the floor on the full period from the environment.
    pub fn new(scope: Scope, interval: Duration, budget: Budget) -> Settings {
        Settings {
            scope,
            interval,
            budget,
            min_period: super::pacing::min_period(),
        }
    }
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
        settings: Settings,
        mut report: impl FnMut(Result<Collected, Error>) -> bool + Send + 'static,
    ) -> std::io::Result<Worker> {
        let (tx, rx) = channel();
        let suspensions = Arc::new(AtomicU64::new(0));
        let seen = suspensions.clone();
        let handle = std::thread::Builder::new()
            .name("sockscope-collect".into())
            .spawn(move || run(collector.as_mut(), settings, &rx, &seen, &mut report))?;
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
    said_closed: SaidClosed,
    /// Sockets the destroy events said closed in rounds between full tables that left
    /// them in the table (see [`merge`]): the diff that drops them does not say so again.
    freed_said: rustc_hash::FxHashSet<(u32, u64)>,
}

/// At most this many sockets freed are left in the table before a round copies it to
/// take them out.
const FREED_LEFT: usize = 1 << 16;

/// Keeps the sockets of `delta.closed` that `keep` accepts (and their places in
/// `closed_at`).
fn keep_closed(delta: &mut Delta, keep: impl Fn(&crate::model::Socket) -> bool) {
    if delta.closed.iter().all(&keep) {
        return;
    }
    let mask: Vec<bool> = delta.closed.iter().map(&keep).collect();
    let mut k = mask.iter();
    delta.closed.retain(|_| *k.next().unwrap_or(&true));
    let mut k = mask.iter();
    delta.closed_at.retain(|_| *k.next().unwrap_or(&true));
}

/// How long a socket said closed is remembered against a second report (and for at
/// least [`SAID_STEPS`] snapshots: a collector held up longer, by a reader that does not
/// read, still pairs a late destroy event with its diff).
pub const SAID_FOR: Duration = Duration::from_secs(5);
const SAID_STEPS: u64 = 3;

/// The sockets said closed lately, by (namespace, cookie), in the order they were said:
/// what is old enough leaves from the front, so a snapshot pays for what it adds and
/// what expires, never for the whole memory (under a churn of 2,000 connections a second
/// it holds about 20,000).
#[derive(Default)]
struct SaidClosed {
    order: std::collections::VecDeque<(SystemTime, u64, (u32, u64))>,
    keys: rustc_hash::FxHashSet<(u32, u64)>,
    /// Snapshots seen, counted by [`SaidClosed::expire`].
    step: u64,
}

impl SaidClosed {
    /// A new snapshot at `now`: forgets what was said [`SAID_FOR`] and [`SAID_STEPS`]
    /// snapshots ago or more (or after `now`: a clock set back).
    fn expire(&mut self, now: SystemTime) {
        self.step += 1;
        while let Some((at, step, key)) = self.order.front() {
            let recent = now.duration_since(*at).is_ok_and(|age| age < SAID_FOR);
            let back = now.duration_since(*at).is_err();
            if !back && (recent || self.step - step < SAID_STEPS) {
                break;
            }
            self.keys.remove(key);
            self.order.pop_front();
        }
    }

    /// A new snapshot at `now` and the sockets its destroy events freed: each is kept
    /// once (not said before, nor twice in one drain) and remembered.
    fn step(&mut self, now: SystemTime, closed: &mut Vec<crate::model::lifecycle::Closed>) {
        self.expire(now);
        closed.retain(|c| self.insert((c.freed.netns, c.freed.cookie), now));
    }

    /// Remembers `key` as said at `now`; false when it was said already.
    fn insert(&mut self, key: (u32, u64), now: SystemTime) -> bool {
        let new = self.keys.insert(key);
        if new {
            self.order.push_back((now, self.step, key));
        }
        new
    }

    fn contains(&self, key: &(u32, u64)) -> bool {
        self.keys.contains(key)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

impl Differ {
    pub fn next(&mut self, mut snap: Snapshot, took: Duration, overruns: u64) -> Collected {
        let mut closed =
            crate::model::lifecycle::attribute(self.prev.as_deref(), &mut snap, &mut self.makers);
        let now = snap.taken_at;
        self.said_closed.step(now, &mut closed);
        let snap = Arc::new(snap);
        let (mut delta, rescoped) = match &self.prev {
            Some(p) if p.scope == snap.scope => (diff(p, &snap), false),
            Some(_) => (Delta::default(), true),
            None => (Delta::default(), false),
        };
        if !self.freed_said.is_empty() {
            // Said closed from their destroy events, rounds ago (maybe longer ago than
            // `said_closed` remembers).
            let said = std::mem::take(&mut self.freed_said);
            keep_closed(&mut delta, |c| {
                c.cookie == 0 || !said.contains(&(c.netns, c.cookie))
            });
        }
        // A socket the diff finds gone that a destroy event of an earlier step said
        // closed was said (this step's events are paired with it by `events`).
        if !delta.closed.is_empty() && self.said_closed.len() > closed.len() {
            let this_step: rustc_hash::FxHashSet<(u32, u64)> = closed
                .iter()
                .map(|c| (c.freed.netns, c.freed.cookie))
                .collect();
            let said = &self.said_closed;
            keep_closed(&mut delta, |c| {
                let key = (c.netns, c.cookie);
                c.cookie == 0 || this_step.contains(&key) || !said.contains(&key)
            });
        }
        for c in delta.closed.iter().filter(|c| c.cookie != 0) {
            self.said_closed.insert((c.netns, c.cookie), now);
        }
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
            fresh: Freshness::default(),
        }
    }

    /// A round between full snapshots: `fresh` merged into the last snapshot (`None`
    /// before the first). When that changes no row, the last snapshot is handed over
    /// again (no table is copied) with the connections freed meanwhile.
    pub fn fresh(&mut self, fresh: &Fresh, took: Duration, overruns: u64) -> Option<Collected> {
        let prev = self.prev.clone()?;
        let flush = self.freed_said.len() >= FREED_LEFT;
        if let Some(mut snap) = merge(&prev, fresh, &self.freed_said, flush) {
            snap.freed = fresh.freed.clone();
            return Some(self.next(snap, took, overruns));
        }
        let mut closed =
            crate::model::lifecycle::attribute_freed(&prev, &fresh.freed, &mut self.makers);
        let now = fresh.taken_at;
        self.said_closed.step(now, &mut closed);
        self.freed_said.extend(
            fresh
                .freed
                .iter()
                .filter(|f| f.cookie != 0)
                .map(|f| (f.netns, f.cookie)),
        );
        let delta = Delta {
            previous: (0..prev.sockets.len() as u32).collect(),
            ..Delta::default()
        };
        Some(Collected {
            snapshot: prev.clone(),
            previous: Some(prev),
            delta,
            rescoped: false,
            took,
            overruns,
            closed,
            traffic: None,
            unseen: 0,
            fresh: Freshness::default(),
        })
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

/// When the next round is due, and what it covers. Every command changes it at once:
/// the worker waits on the deadline *or* a command, never on a tick scheduled under an
/// interval that no longer holds.
struct Plan {
    scope: Scope,
    interval: Duration,
    paused: bool,
    next: Instant,
    /// When the last round started.
    last: Option<Instant>,
    pacing: Pacing,
    narrow: Option<Narrow>,
    /// Traffic is shown (tcp_info asked for): no rounds between full ones.
    traffic: bool,
}

impl Plan {
    /// Waits until the next round is due or a command comes, whichever is first.
    fn wait(&self, rx: &Receiver<Command>) -> Result<Command, RecvTimeoutError> {
        let now = Instant::now();
        if self.paused {
            rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
        } else if self.next > now {
            rx.recv_timeout(self.next - now)
        } else {
            // Overrunning: still look at commands between rounds, or Quit would never
            // be seen.
            rx.try_recv().map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            })
        }
    }

    /// Applies a command other than Quit; true when a round is to be taken now.
    fn apply(&mut self, c: Command) -> bool {
        match c {
            Command::SetInterval(d) => {
                self.interval = d;
                self.pacing.set_interval(d);
                // Due one new interval after the last round started: a shorter interval
                // may make it due now, a longer one puts it off. A round already due (a
                // resume, a new scope) stays due.
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
                    self.pacing.force_full();
                }
                false
            }
            Command::Pause(p) => {
                self.paused = p;
                self.next = Instant::now();
                if p {
                    // The round under way ends here: a pause is no part of its cost.
                    self.pacing.idle(process_cpu().unwrap_or_default());
                }
                false
            }
            Command::Refresh => {
                self.pacing.force_full();
                true
            }
            Command::Narrow(n) => {
                self.narrow = n;
                false
            }
            // Applied by the loop, which holds the collector. Rates need two full
            // snapshots in a row with tcp_info: while traffic is shown, every round is
            // full.
            Command::SetTraffic(on) => {
                self.traffic = on;
                if on {
                    self.pacing.force_full();
                }
                on
            }
            Command::Quit => false,
        }
    }

    /// How fresh a round's snapshot is.
    fn freshness(&self, full_at: SystemTime, partial: bool, taken_at: SystemTime) -> Freshness {
        Freshness {
            taken_at,
            budget: self.pacing.budget(),
            interval: self.interval,
            every: self.pacing.every(),
            full_at,
            partial,
            narrowed: partial && self.narrow.is_some(),
            counts: None,
        }
    }
}

/// The worker's state between rounds.
struct Rounds<'a> {
    collector: &'a mut dyn Collector,
    differ: Differ,
    state: super::statefile::Writer,
    overruns: u64,
    high_water: usize,
    /// When the last full table was taken.
    full_at: SystemTime,
    /// Partial rounds are possible: the collector reads parts, and CPU time is known.
    can_partial: bool,
    /// Destroy-event losses noticed so far.
    lost: u64,
    /// The table the last handed-over one replaced. While the consumer still holds it
    /// (it has not finished with the last message), a new full table would be the third
    /// in memory: see [`Rounds::wait_for_older`].
    older: std::sync::Weak<Snapshot>,
}

impl Rounds<'_> {
    /// Waits until nobody holds the table before the last, at most an interval (a
    /// consumer that takes no messages is not waited for forever). The live view's
    /// first `update` of a big table takes longer than a round: meanwhile it holds that
    /// table, the round it has not taken holds the last one, and the next full round
    /// would read a third (at 500k sockets, 32 MB more at the peak).
    fn wait_for_older(&self, interval: Duration) {
        let until = Instant::now() + interval;
        while self.older.strong_count() > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Hands a round's result over; false when nobody listens any more.
    fn hand_over(
        &mut self,
        message: Result<Collected, Error>,
        report: &mut dyn FnMut(Result<Collected, Error>) -> bool,
    ) -> bool {
        if let Ok(c) = &message {
            self.state.offer(&c.snapshot);
            self.older = match &c.previous {
                Some(p) if !Arc::ptr_eq(p, &c.snapshot) => Arc::downgrade(p),
                _ => std::sync::Weak::new(),
            };
        }
        let sockets = message.as_ref().map_or(0, |c| c.snapshot.sockets.len());
        if !report(message) {
            return false;
        }
        super::trim_after_shrink(&mut self.high_water, sockets);
        true
    }

    /// Reads what people watch and merges it into the last table: `None` when there is
    /// no table yet or the collector has nothing to add.
    fn partial(&mut self, plan: &mut Plan) -> Option<Result<Collected, Error>> {
        let start = Instant::now();
        let fresh = match self.collector.refresh(plan.narrow.as_ref()) {
            Ok(Some(f)) => f,
            Ok(None) => return None,
            Err(e) => return Some(Err(e)),
        };
        if fresh.lost.times > self.lost {
            // Destroy events were lost: the table may keep sockets that are gone, and
            // only a full dump puts it right. The next round is one.
            self.lost = fresh.lost.times;
            plan.pacing.force_full();
        }
        let mut c = self.differ.fresh(&fresh, start.elapsed(), self.overruns)?;
        c.fresh = plan.freshness(self.full_at, true, fresh.taken_at);
        c.fresh.counts = Some(Counts::estimate(&c.snapshot, fresh.sockstat.as_ref()));
        Some(Ok(c))
    }

    /// Reads every socket.
    fn full(
        &mut self,
        plan: &Plan,
        generation: u64,
        suspensions: &AtomicU64,
    ) -> Result<Collected, Error> {
        self.wait_for_older(plan.interval);
        let start = Instant::now();
        let result = self.collector.snapshot(plan.scope);
        let took = start.elapsed();
        if took > plan.interval && suspensions.load(Ordering::SeqCst) == generation {
            self.overruns += 1;
        }
        let snap = result?;
        self.full_at = snap.taken_at;
        self.lost = snap.lost.times;
        let mut c = self.differ.next(snap, took, self.overruns);
        c.fresh = plan.freshness(self.full_at, false, self.full_at);
        Ok(c)
    }
}

fn run(
    collector: &mut dyn Collector,
    settings: Settings,
    rx: &Receiver<Command>,
    suspensions: &AtomicU64,
    report: &mut dyn FnMut(Result<Collected, Error>) -> bool,
) {
    let mut plan = Plan {
        scope: settings.scope,
        interval: settings.interval,
        paused: false,
        next: Instant::now(),
        last: None,
        pacing: Pacing::new(settings.budget, settings.interval),
        narrow: None,
        traffic: false,
    };
    plan.pacing.set_min_period(settings.min_period);
    let mut rounds = Rounds {
        can_partial: collector.can_refresh() && process_cpu().is_some(),
        collector,
        differ: Differ::default(),
        state: super::statefile::Writer::default(),
        overruns: 0,
        high_water: 0,
        full_at: SystemTime::UNIX_EPOCH,
        lost: 0,
        older: std::sync::Weak::new(),
    };
    loop {
        match plan.wait(rx) {
            Ok(Command::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(c) => {
                if let Command::SetTraffic(on) = c {
                    rounds.collector.set_traffic(on);
                }
                if !plan.apply(c) {
                    continue;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        let start = Instant::now();
        let generation = suspensions.load(Ordering::SeqCst);
        // Only a table of every socket is read in parts (a listeners-only one is cheap).
        let can_partial = rounds.can_partial && plan.scope == Scope::All && !plan.traffic;
        let round = plan.pacing.next(can_partial);
        plan.pacing.start(round, process_cpu().unwrap_or_default());
        // Between full tables. (Not also just before one: the consumer may not have taken
        // that round's table when the full one is built, and three tables would be held.)
        if round == Round::Partial
            && can_partial
            && let Some(message) = rounds.partial(&mut plan)
            && !rounds.hand_over(message, report)
        {
            return;
        }
        // (A loss that round noticed makes the next round full.)
        if round == Round::Full {
            let message = rounds.full(&plan, generation, suspensions);
            if !rounds.hand_over(message, report) {
                return;
            }
            let period = plan.interval.saturating_mul(plan.pacing.every());
            rounds.collector.set_full_period(period);
        }
        plan.last = Some(start);
        plan.next = (start + plan.interval).max(Instant::now());
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
        let fake = Fake {
            calls: calls.clone(),
            delay,
        };
        let (w, rx) = spawn_over(Box::new(fake), scope, interval);
        (w, rx, calls)
    }

    /// A worker over `collector` without a budget, its reports sent to the receiver.
    fn spawn_over(
        collector: Box<dyn Collector>,
        scope: Scope,
        interval: Duration,
    ) -> (Worker, std::sync::mpsc::Receiver<Result<Collected, Error>>) {
        let (tx, rx) = channel();
        let settings = Settings {
            scope,
            interval,
            budget: Budget::OFF,
            min_period: Duration::ZERO,
        };
        let w = Worker::spawn(collector, settings, move |m| tx.send(m).is_ok()).unwrap();
        (w, rx)
    }

    /// A collector whose snapshots are empty and say when each was taken.
    struct Stamped(Arc<std::sync::Mutex<Vec<Instant>>>);

    impl Collector for Stamped {
        fn snapshot(&mut self, scope: Scope) -> Result<Snapshot> {
            self.0.lock().unwrap().push(Instant::now());
            Ok(Snapshot::empty(scope))
        }
        fn name(&self) -> &'static str {
            "stamped"
        }
    }

    /// While the consumer still holds the table before the last, the next full round
    /// waits for it (so no third table is read), and goes on once it is let go.
    #[test]
    fn a_full_round_waits_while_the_table_before_the_last_is_held() {
        let taken = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (_w, rx) = spawn_over(
            Box::new(Stamped(taken.clone())),
            Scope::All,
            Duration::from_secs(2),
        );
        let wait = Duration::from_secs(60);
        drop(rx.recv_timeout(wait).unwrap().unwrap());
        let second = rx.recv_timeout(wait).unwrap().unwrap();
        let held = second.previous.clone().expect("the first table");
        drop(second);
        // Let go of it 2.6 s from now: after the next round is due (2 s), well before
        // the wait for it ends (4 s).
        let released = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2600));
            let at = Instant::now();
            drop(held);
            at
        });
        let third = rx.recv_timeout(wait).unwrap().unwrap();
        let released = released.join().unwrap();
        let at = taken.lock().unwrap()[2];
        assert!(
            at >= released,
            "the third table was read {:?} before the first was let go",
            released - at
        );
        drop(third);
    }

    /// A collector that reads parts: each full snapshot and each round between them is
    /// counted, and the destroy events it reports lost are set by the test.
    struct Parts {
        fulls: Arc<AtomicUsize>,
        partials: Arc<AtomicUsize>,
        lost: Arc<AtomicU64>,
    }

    impl Collector for Parts {
        fn snapshot(&mut self, scope: Scope) -> Result<Snapshot> {
            self.fulls.fetch_add(1, Ordering::SeqCst);
            let mut s = Snapshot::empty(scope);
            s.lost.times = self.lost.load(Ordering::SeqCst);
            Ok(s)
        }
        fn name(&self) -> &'static str {
            "parts"
        }
        fn can_refresh(&self) -> bool {
            true
        }
        fn refresh(&mut self, narrow: Option<&Narrow>) -> Result<Option<Fresh>> {
            self.partials.fetch_add(1, Ordering::SeqCst);
            Ok(Some(Fresh {
                taken_at: SystemTime::now(),
                sockets: Vec::new(),
                narrow: narrow.cloned(),
                processes: Default::default(),
                users: Default::default(),
                freed: Vec::new(),
                lost: crate::model::lifecycle::Lost {
                    times: self.lost.load(Ordering::SeqCst),
                    last_ms: 0,
                },
                sockstat: None,
                netns: None,
            }))
        }
    }

    /// Under a budget with the full table a minute apart, the rounds between read parts
    /// and are marked so; destroy events lost make the next round full; a budget of
    /// 100 % reads everything every round.
    #[test]
    fn lost_events_force_a_full_round_and_budget_100_reads_everything() {
        let start = |budget| {
            let parts = Parts {
                fulls: Arc::default(),
                partials: Arc::default(),
                lost: Arc::default(),
            };
            let (fulls, partials, lost) = (
                parts.fulls.clone(),
                parts.partials.clone(),
                parts.lost.clone(),
            );
            let (tx, rx) = channel();
            let settings = Settings {
                scope: Scope::All,
                interval: Duration::from_millis(250),
                budget,
                min_period: Duration::from_secs(60),
            };
            let w = Worker::spawn(Box::new(parts), settings, move |m| tx.send(m).is_ok()).unwrap();
            (w, rx, fulls, partials, lost)
        };
        let (_w, rx, fulls, partials, lost) = start(Budget::default());
        let next = || rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
        // The first round is full; the next ones read parts.
        assert!(!next().fresh.partial);
        for _ in 0..3 {
            let c = next();
            assert!(c.fresh.partial);
            assert_eq!(c.fresh.every, 240, "a minute of 250 ms intervals");
        }
        assert_eq!(fulls.load(Ordering::SeqCst), 1);
        lost.store(1, Ordering::SeqCst);
        // The round that notices the loss is handed over, and a full one follows.
        let mut full_after_loss = false;
        for _ in 0..3 {
            if !next().fresh.partial {
                full_after_loss = true;
                break;
            }
        }
        assert!(full_after_loss, "no full round after the loss");
        assert_eq!(fulls.load(Ordering::SeqCst), 2);
        assert!(partials.load(Ordering::SeqCst) >= 4);

        let (_w, rx, fulls, partials, _) = start(Budget::OFF);
        for _ in 0..4 {
            let c = rx.recv_timeout(Duration::from_secs(20)).unwrap().unwrap();
            assert!(!c.fresh.partial);
        }
        assert!(fulls.load(Ordering::SeqCst) >= 4);
        assert_eq!(partials.load(Ordering::SeqCst), 0);
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
        let (w, rx) = spawn_over(
            Box::new(Traffic(told.clone())),
            Scope::All,
            Duration::from_secs(3600),
        );
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
            .map(|&i| c.snapshot.sockets[i].local().port())
            .collect();
        let closed = c.delta.closed.iter().map(|s| s.local().port()).collect();
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

    /// A listener on :3000 of pid 100, cookie 55.
    fn listener() -> crate::model::Socket {
        let mut l = sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "0.0.0.0:0",
            State::Listen,
            5,
            &[100],
        );
        l.cookie = 55;
        l
    }

    /// A socket unhashed before a dump and freed after the next drain: the diff says it
    /// closed first; its destroy event, a snapshot later, is not a second event.
    #[test]
    fn a_socket_the_diff_said_closed_is_not_said_again_by_its_destroy_event() {
        // A connection: an event with no peer port that no poll saw is no connection
        // and would be dropped whatever was said before.
        let mut l = listener();
        l.state = State::Estab;
        l.set_remote("127.0.0.1:40000".parse().unwrap());
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
            local: l.local(),
            remote: l.remote(),
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

    /// What was said closed is forgotten SAID_FOR and SAID_STEPS snapshots later, oldest
    /// first, and all of it when the clock is set back; a key said twice is said once.
    #[test]
    fn said_closed_forgets_oldest_first() {
        let t0 = crate::app::testkit::at(100);
        let s = Duration::from_secs;
        let mut said = SaidClosed::default();
        said.expire(t0);
        assert!(said.insert((0, 1), t0));
        assert!(!said.insert((0, 1), t0 + s(1)));
        said.expire(t0 + s(2));
        assert!(said.insert((0, 2), t0 + s(2)));
        // Long enough ago, but one snapshot later (a held-up collector): kept.
        said.expire(t0 + SAID_FOR + s(60));
        assert!(said.contains(&(0, 1)) && said.contains(&(0, 2)));
        said.expire(t0 + SAID_FOR + s(61));
        assert!(!said.contains(&(0, 1)), "3 snapshots and SAID_FOR later");
        assert!(said.contains(&(0, 2)));
        assert_eq!(said.len(), 1);
        said.expire(t0);
        assert_eq!(
            said.len(),
            0,
            "a clock set back forgets what is 'in the future'"
        );
    }

    /// A destroy event drained before a dump that still listed its socket (or the same
    /// event twice in one drain): said closed once, not again by the diff a snapshot later.
    #[test]
    fn a_socket_its_destroy_event_said_closed_is_not_said_again_by_the_diff() {
        let l = listener();
        let freed = Freed {
            proto: Proto::Tcp,
            local: l.local(),
            remote: l.remote(),
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
        m.set_local("127.0.0.1:3001".parse().unwrap());
        d.next(snapshot(3, Scope::All, vec![m], &[]), Duration::ZERO, 0);
        let c = d.next(snapshot(4, Scope::All, vec![], &[]), Duration::ZERO, 0);
        assert_eq!(c.delta.closed.len(), 1);
        assert_eq!(c.delta.closed_at, vec![0]);
    }
}
