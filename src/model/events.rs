//! The event log: every opened, closed and changed socket, in a bounded ring.

use super::diff::{ChangeKind, Delta};
use super::flags::Flags;
use super::lifecycle::{Closed, Maker, TcpInfo};
use super::snapshot::Snapshot;
use super::socket::{OwnerStatus, Pids, SocketKey, State};
use std::collections::VecDeque;
use std::time::SystemTime;

/// Default number of events kept before the oldest are dropped.
pub const DEFAULT_CAPACITY: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Opened,
    Closed,
    StateChanged { from: State },
    OwnerChanged { from: Pids },
}

impl EventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Closed => "closed",
            EventKind::StateChanged { .. } => "state-changed",
            EventKind::OwnerChanged { .. } => "owner-changed",
        }
    }
}

/// One event, with the socket's state and owners after it happened (before, for closed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: SystemTime,
    pub kind: EventKind,
    pub socket: SocketKey,
    pub state: State,
    pub owners: Pids,
    /// The owners as `pid/name`, written when the event happened: a closed socket's
    /// owner may have exited since, and its name is still wanted. Shared: thousands of
    /// events a second under churn name the same few processes.
    pub names: std::sync::Arc<str>,
    /// For an owner change, the owners before, as `pid/name`; empty otherwise.
    pub old_names: String,
    /// Why no owner is known, when none is (`(kernel)` for a TIME-WAIT).
    pub owner_status: OwnerStatus,
    /// Diagnosis flags of the socket when the event happened (as last seen, for a closed
    /// one): `flag:` filters work on events too.
    pub flags: Flags,
    /// For a connection the kernel freed (its destroy event): who made it and what
    /// `tcp_info` said last.
    pub life: Option<Box<Life>>,
    /// Set by the live view when this event stands for a burst of its kind.
    pub folded: Option<Box<Folded>>,
}

/// What the destroy event of a closed connection adds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Life {
    pub by: Maker,
    /// No poll saw it open: it lived less than one interval.
    pub short_lived: bool,
    pub tcp: Option<TcpInfo>,
}

/// A burst the live view folded into one event (this one, the burst's first): how many
/// events it stands for and the line that says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Folded {
    pub count: u32,
    /// "+1,204 short connections to :8080 by 4242/nginx"
    pub line: String,
}

impl Event {
    /// How many socket events this one stands for (a folded burst stands for many).
    pub fn count(&self) -> u64 {
        self.folded
            .as_ref()
            .map_or(1, |f| u64::from(f.count.max(1)))
    }
}

impl Event {
    /// Its owners as every view and `watch` write them: `pid/name`, or why there is
    /// none — `(kernel)` for a TIME-WAIT, as `list` says.
    pub fn owners_text(&self) -> &str {
        if self.names.is_empty() {
            self.owner_status.placeholder()
        } else {
            &self.names
        }
    }

    /// Its state as every view and `watch` write it: `FROM→TO` for a change, and
    /// `short-lived` for a TCP connection no poll saw (it has no state to show: the
    /// kernel's last, CLOSE, would read as ss's UDP word `UNCONN`).
    pub fn state_text(&self) -> String {
        match &self.kind {
            EventKind::StateChanged { from } => format!("{from}→{}", self.state),
            EventKind::Closed
                if self.socket.proto.is_tcp()
                    && self.life.as_ref().is_some_and(|l| l.short_lived) =>
            {
                "short-lived".to_owned()
            }
            _ => self.state.to_string(),
        }
    }

    /// The owners before an owner change, the same way (`(unknown)` when none was
    /// visible).
    pub fn old_owners_text(&self) -> &str {
        if self.old_names.is_empty() {
            OwnerStatus::Unknown.placeholder()
        } else {
            &self.old_names
        }
    }
}

/// Flags of the sockets of the two snapshots an event list is made from, by index.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlagsOf<'a> {
    pub prev: &'a [Flags],
    pub next: &'a [Flags],
}

/// The events of one diff and of the connections freed meanwhile, in the order they are
/// shown: closed, opened, changed. The one place a diff becomes events, for the live
/// view's log and for `watch`. `prev` knows the closed sockets' owners; `next` everyone
/// else's. A socket both the diff and a destroy event say closed is one event, the
/// destroy event's (it knows more). A connection its process closed while the kernel
/// still closes it (an orphan in FIN-WAIT-2, no file: see [`super::lifecycle::lingers`])
/// is one `closed` event too: the orphan that goes on with its tuple is not said to
/// open, nor its state to change, in the same round (a user read "closed", then "opened"
/// on the same addresses, as a new connection). A TIME-WAIT it leaves is said, as every
/// TIME-WAIT is (with who made it).
pub fn events(
    delta: &Delta,
    prev: Option<&Snapshot>,
    next: &Snapshot,
    closed: &[Closed],
    flags: FlagsOf<'_>,
) -> Vec<Event> {
    let mut out = Vec::new();
    events_into(&mut out, delta, prev, next, closed, flags);
    out
}

/// [`events`], appended to `out` (a buffer the live view keeps from round to round: under
/// churn it holds thousands of events, and a fresh one each round is a fresh mapping
/// with its page faults).
pub fn events_into(
    out: &mut Vec<Event>,
    delta: &Delta,
    prev: Option<&Snapshot>,
    next: &Snapshot,
    closed: &[Closed],
    flags: FlagsOf<'_>,
) {
    let at = next.taken_at;
    let before = prev.unwrap_or(next);
    out.reserve(closed.len() + delta.opened.len() + delta.closed.len() + delta.changed.len());
    let freed: rustc_hash::FxHashSet<(u32, u64)> = closed
        .iter()
        .map(|c| (c.freed.netns, c.freed.cookie))
        .collect();
    let ended: rustc_hash::FxHashSet<super::lifecycle::Tuple> = closed
        .iter()
        .filter(|c| c.freed.proto.is_tcp())
        .map(|c| (c.freed.netns, c.freed.local, c.freed.remote))
        .collect();
    let goes_on = |s: &super::Socket| {
        s.state != State::TimeWait
            && super::lifecycle::lingers(s)
            && (freed.contains(&(s.netns, s.cookie))
                || ended.contains(&(s.netns, s.local(), s.remote())))
    };
    let (mut before_texts, mut next_texts) = Default::default();
    // Thousands of connections closed by the same few makers: each text written once.
    let mut maker_texts: rustc_hash::FxHashMap<&super::lifecycle::Maker, std::sync::Arc<str>> =
        Default::default();
    for c in closed {
        let names = maker_texts
            .entry(&c.by)
            .or_insert_with(|| c.by.text().into())
            .clone();
        out.push(freed_event(at, c, names));
    }
    for (c, &i) in delta.closed.iter().zip(&delta.closed_at) {
        if c.cookie != 0 && freed.contains(&(c.netns, c.cookie)) {
            continue;
        }
        out.push(Event {
            at,
            kind: EventKind::Closed,
            socket: c.key(),
            state: c.state,
            owners: c.owners.clone(),
            // An orphan or TIME-WAIT that goes says who made it, as its row did.
            names: match before.maker_of(c).filter(|_| c.owners.is_empty()) {
                Some(m) => format!("(made by {})", m.text()).into(),
                None => before.pids_text_of_many(&c.owners, &mut before_texts),
            },
            old_names: String::new(),
            owner_status: c.owner_status,
            flags: flags.prev.get(i).copied().unwrap_or_default(),
            life: None,
            folded: None,
        });
    }
    for &i in &delta.opened {
        let s = &next.sockets[i];
        if goes_on(s) {
            continue;
        }
        out.push(Event {
            at,
            kind: EventKind::Opened,
            socket: s.key(),
            state: s.state,
            owners: s.owners.clone(),
            names: next.pids_text_of_many(&s.owners, &mut next_texts),
            old_names: String::new(),
            owner_status: s.owner_status,
            flags: flags.next.get(i).copied().unwrap_or_default(),
            life: None,
            folded: None,
        });
    }
    for c in &delta.changed {
        let s = &next.sockets[c.index];
        if goes_on(s) {
            continue;
        }
        let (kind, old_names) = match &c.kind {
            ChangeKind::State { from, .. } => {
                (EventKind::StateChanged { from: *from }, String::new())
            }
            ChangeKind::Owners { from, .. } => (
                EventKind::OwnerChanged { from: from.clone() },
                before.pids_text(from),
            ),
        };
        out.push(Event {
            at,
            kind,
            socket: s.key(),
            state: s.state,
            owners: s.owners.clone(),
            names: next.pids_text_of_many(&s.owners, &mut next_texts),
            old_names,
            owner_status: s.owner_status,
            flags: flags.next.get(c.index).copied().unwrap_or_default(),
            life: None,
            folded: None,
        });
    }
}

/// A connection the kernel freed, as an event: the state a poll last saw it in (UNCONN,
/// the kernel's CLOSE, when none did), its maker as its owner.
fn freed_event(at: SystemTime, c: &Closed, names: std::sync::Arc<str>) -> Event {
    let f = &c.freed;
    let owners = c.by.pid().into_iter().collect::<Pids>();
    Event {
        at,
        kind: EventKind::Closed,
        socket: SocketKey {
            proto: f.proto,
            local: f.local,
            remote: f.remote,
            inode: 0,
            cookie: f.cookie,
            netns: f.netns,
        },
        state: c.last_state.unwrap_or(State::Unconn),
        owner_status: if owners.is_empty() {
            OwnerStatus::Unknown
        } else {
            OwnerStatus::Known
        },
        owners,
        names,
        old_names: String::new(),
        flags: Flags::empty(),
        life: Some(Box::new(Life {
            by: c.by.clone(),
            short_lived: c.short_lived(),
            tcp: f.tcp,
        })),
        folded: None,
    }
}

/// A ring buffer of events that counts what it had to drop.
#[derive(Clone, Debug)]
pub struct EventLog {
    ring: VecDeque<Event>,
    capacity: usize,
    dropped: u64,
    /// Entries pushed out of the ring (a folded burst is one entry): where the oldest
    /// kept one stands since the log began.
    popped: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog::new(DEFAULT_CAPACITY)
    }
}

impl EventLog {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        EventLog {
            ring: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
            dropped: 0,
            popped: 0,
        }
    }

    pub fn push(&mut self, e: Event) {
        if self.ring.len() == self.capacity
            && let Some(old) = self.ring.pop_front()
        {
            // A folded burst pushed out loses every connection it counted.
            self.dropped = self.dropped.saturating_add(old.count());
            self.popped += 1;
        }
        self.ring.push_back(e);
    }

    /// Pushes every event of `new` in order, as [`EventLog::push`] one by one would, and
    /// leaves `new` empty (its room kept). The events pushed out go together, dropped
    /// where they lie: under churn thousands go each round, and taking each out first
    /// copied it (160 bytes) for nothing.
    pub fn append(&mut self, new: &mut Vec<Event>) {
        let over = (self.ring.len() + new.len()).saturating_sub(self.capacity);
        let from_ring = over.min(self.ring.len());
        // More new events than the ring holds: the oldest of them are pushed out too.
        let from_new = over - from_ring;
        let gone = self.ring.range(..from_ring).chain(&new[..from_new]);
        let counted = gone.fold(0u64, |n, e| n.saturating_add(e.count()));
        self.dropped = self.dropped.saturating_add(counted);
        self.popped += over as u64;
        self.ring.drain(..from_ring);
        self.ring.extend(new.drain(..).skip(from_new));
    }

    /// Appends the events of `delta` (computed from `prev` → `next`), stamped with
    /// `next.taken_at`, and returns how many were added.
    pub fn record(
        &mut self,
        delta: &Delta,
        prev: Option<&Snapshot>,
        next: &Snapshot,
        closed: &[Closed],
        flags: FlagsOf<'_>,
    ) -> usize {
        let mut new = events(delta, prev, next, closed, flags);
        let n = new.len();
        self.append(&mut new);
        n
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.ring.iter()
    }
    /// The `i`-th event kept, oldest first.
    pub fn get(&self, i: usize) -> Option<&Event> {
        self.ring.get(i)
    }
    pub fn len(&self) -> usize {
        self.ring.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
    /// Events dropped: pushed out of the ring, or never recorded ([`EventLog::missed`]).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
    /// Entries pushed out of the ring so far: the position of the oldest one kept,
    /// counted from the start of the log.
    pub fn popped(&self) -> u64 {
        self.popped
    }
    /// Counts `n` events that happened but never reached the log (snapshots the consumer
    /// skipped while it was behind).
    pub fn missed(&mut self, n: u64) {
        self.dropped = self.dropped.saturating_add(n);
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diff::diff;
    use crate::model::diff::tests::sock;
    use crate::model::snapshot::Scope;

    /// A TIME-WAIT (or an orphan) that goes says who made it, as its row did, not
    /// `(kernel)`.
    #[test]
    fn a_time_wait_that_goes_names_its_maker() {
        use crate::model::lifecycle::Maker;
        let mut tw = crate::app::testkit::time_wait("127.0.0.1:8080", "127.0.0.1:41406", 9);
        tw.maker = 1;
        let mut a = Snapshot::empty(Scope::All);
        a.sockets = vec![tw];
        a.makers = vec![Maker::Owner {
            pid: 42,
            name: "php-fpm".into(),
        }];
        let b = Snapshot::empty(Scope::All);
        let evs = events(&diff(&a, &b), Some(&a), &b, &[], FlagsOf::default());
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].owners_text(), "(made by 42/php-fpm)");
    }

    /// A connection its process closed while the kernel still closes it is one
    /// `closed` event: its orphan (FIN-WAIT-2, another cookie when no poll saw it open)
    /// is not said to open on the same addresses in the same round.
    #[test]
    fn an_orphan_going_on_is_not_said_to_open() {
        use crate::app::testkit::short_closed;
        let a = Snapshot::empty(Scope::All);
        let mut orphan = crate::app::testkit::time_wait("127.0.0.1:8080", "127.0.0.1:41406", 99);
        orphan.state = State::FinWait2;
        let other = crate::app::testkit::time_wait("127.0.0.1:8080", "127.0.0.1:41407", 98);
        // A TIME-WAIT left by a connection freed in the same round is said, as before.
        let left = crate::app::testkit::time_wait("127.0.0.1:8080", "127.0.0.1:41408", 97);
        let mut b = Snapshot::empty(Scope::All);
        b.sockets = vec![orphan, other, left];
        let tw = short_closed("127.0.0.1:8080", "127.0.0.1:41408", 6, None);
        let c = short_closed("127.0.0.1:8080", "127.0.0.1:41406", 7, None);
        let evs = events(&diff(&a, &b), Some(&a), &b, &[c, tw], FlagsOf::default());
        let kinds: Vec<(&str, u16)> = evs
            .iter()
            .map(|e| (e.kind.as_str(), e.socket.remote.port()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("closed", 41406),
                ("closed", 41408),
                ("opened", 41407),
                ("opened", 41408)
            ]
        );
    }

    /// An event told apart by `i` (its inode and cookie).
    fn numbered(i: u64) -> Event {
        let s = sock(80, 0, 1, State::Listen, 1);
        Event {
            at: SystemTime::UNIX_EPOCH,
            kind: EventKind::Opened,
            socket: SocketKey {
                inode: i,
                cookie: i,
                ..s.key()
            },
            state: State::Listen,
            owners: Pids::new(),
            names: "".into(),
            old_names: String::new(),
            owner_status: OwnerStatus::Known,
            flags: Flags::empty(),
            life: None,
            folded: None,
        }
    }

    proptest::proptest! {
        /// Appending a round's events leaves the log as pushing them one by one does:
        /// the same events kept, the same counts of what was pushed out (a folded line
        /// counting all it stood for), whether the ring or the round overflows.
        #[test]
        fn append_is_push_one_by_one(
            capacity in 1usize..6,
            rounds in proptest::collection::vec(proptest::collection::vec(0u32..4, 0..9), 0..5),
        ) {
            let (mut one, mut all) = (EventLog::new(capacity), EventLog::new(capacity));
            let mut n = 0u64;
            for round in rounds {
                let mut new = Vec::new();
                for fold in round {
                    let mut e = numbered(n);
                    n += 1;
                    if fold > 1 {
                        e.folded = Some(Box::new(Folded { count: fold, line: String::new() }));
                    }
                    one.push(e.clone());
                    new.push(e);
                }
                all.append(&mut new);
                proptest::prop_assert!(new.is_empty());
                let kept = |log: &EventLog| log.iter().map(|e| e.socket.inode).collect::<Vec<_>>();
                proptest::prop_assert_eq!(kept(&all), kept(&one));
                proptest::prop_assert_eq!(
                    (all.dropped(), all.popped(), all.len()),
                    (one.dropped(), one.popped(), one.len())
                );
            }
        }
    }

    #[test]
    fn ring_drops_oldest_and_counts() {
        let mut log = EventLog::new(3);
        for i in 0..5u64 {
            log.push(numbered(i));
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.dropped(), 2);
        let inodes: Vec<u64> = log.iter().map(|e| e.socket.inode).collect();
        assert_eq!(inodes, vec![2, 3, 4]);
        // Events that never reached the log count as dropped too.
        log.missed(3);
        assert_eq!((log.len(), log.dropped()), (3, 5));
    }

    #[test]
    fn records_a_delta() {
        let mut a = Snapshot::empty(Scope::All);
        a.sockets = vec![
            sock(80, 0, 1, State::Listen, 1),
            sock(81, 9, 2, State::Estab, 1),
        ];
        let mut b = Snapshot::empty(Scope::All);
        b.sockets = vec![
            sock(81, 9, 2, State::CloseWait, 1),
            sock(82, 0, 3, State::Listen, 2),
        ];
        let mut log = EventLog::default();
        assert_eq!(
            log.record(&diff(&a, &b), Some(&a), &b, &[], FlagsOf::default()),
            3
        );
        let kinds: Vec<&str> = log.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, vec!["closed", "opened", "state-changed"]);
    }
}
