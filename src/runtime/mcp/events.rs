//! `recent_events`: the server keeps a watch (the collector worker, one snapshot per
//! interval, diffed into events as `sockscope watch` does) and a bounded ring of what it
//! saw. Each event gets a cursor, one more than the one before, so that an agent can
//! ask for what happened since its last call.
//!
//! Each event is kept as its `watch --json` line, made on the collector thread, with
//! what a query needs to match it later: the event and the details of its owners only
//! (never whole snapshots).

use crate::collect::Collector;
use crate::collect::worker::Worker;
use crate::diagnose::{CloseWaitTracker, row_flags};
use crate::model::{Collected, Event, EventKind, Flags, FlagsOf, Scope, Snapshot, events};
use crate::output::watch::{WatchEvent, json_line};
use crate::query::{Query, Subject};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Events kept at most; the oldest go first.
pub const CAPACITY: usize = 5_000;
/// Bytes of event documents kept at most.
pub const CAPACITY_BYTES: usize = 8 << 20;

/// One event kept.
struct Item {
    cursor: u64,
    event: Event,
    /// The owners' details and names, for queries (`proc:`, `user:`, words).
    owners: Arc<Snapshot>,
    json: String,
}

/// The ring of events and what the watch has seen so far.
#[derive(Default)]
struct Ring {
    items: VecDeque<Item>,
    bytes: usize,
    /// The last cursor handed out (0: none yet).
    last: u64,
    /// Events never kept: the collector had fallen behind (`unseen`).
    unseen: u64,
    /// Snapshots taken, the first being the baseline.
    snapshots: u64,
    /// Why the watch stopped, when it did.
    failed: Option<String>,
}

impl Ring {
    fn push(&mut self, event: Event, owners: Arc<Snapshot>, json: String) {
        self.last += 1;
        self.bytes += json.len();
        self.items.push_back(Item {
            cursor: self.last,
            event,
            owners,
            json,
        });
        while self.items.len() > CAPACITY || self.bytes > CAPACITY_BYTES {
            match self.items.pop_front() {
                Some(old) => self.bytes -= old.json.len(),
                None => break,
            }
        }
    }

    /// The cursor of the oldest event kept, or the next one to come.
    fn oldest(&self) -> u64 {
        self.items.front().map_or(self.last + 1, |i| i.cursor)
    }
}

/// The events the server has seen, shared between the collector thread and the tools.
#[derive(Clone)]
pub struct Recent {
    ring: Arc<Mutex<Ring>>,
    pub since: SystemTime,
    pub interval: Duration,
}

/// What a `recent_events` call gets.
pub struct Page {
    /// The `watch --json` documents, oldest first.
    pub events: Vec<String>,
    /// Where the next call starts (`since_cursor`).
    pub next_cursor: u64,
    /// More matching events follow: call again with `next_cursor`.
    pub more: bool,
    /// Events after `since_cursor` that were pushed out of the ring before this call.
    pub missed: u64,
    /// Events the watch never recorded since it started (it fell behind the collector).
    pub unrecorded: u64,
    pub snapshots: u64,
    pub failed: Option<String>,
}

impl Recent {
    /// Starts the watch: `collector` on its own thread, one snapshot per `interval`.
    /// Returns the worker, which stops the thread when dropped.
    pub fn start(
        collector: Box<dyn Collector>,
        interval: Duration,
    ) -> std::io::Result<(Recent, Worker)> {
        let recent = Recent {
            ring: Arc::default(),
            since: SystemTime::now(),
            interval,
        };
        let mut keeper = Keeper {
            ring: recent.ring.clone(),
            close_waits: CloseWaitTracker::default(),
            last_flags: Vec::new(),
        };
        let settings = crate::collect::worker::Settings::new(
            Scope::All,
            interval,
            crate::model::Budget::default(),
        );
        let worker = Worker::spawn(collector, settings, move |m| keeper.take(m))?;
        Ok((recent, worker))
    }

    /// A watch that could not start: every call says why.
    pub fn failed(why: String, interval: Duration) -> Recent {
        let ring = Ring {
            failed: Some(why),
            ..Ring::default()
        };
        Recent {
            ring: Arc::new(Mutex::new(ring)),
            since: SystemTime::now(),
            interval,
        }
    }

    /// Up to `limit` events that match `query`: the first ones after `since` when given,
    /// else the newest ones.
    pub fn page(&self, since: Option<u64>, query: &Query, limit: usize) -> Page {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let matches = |i: &&Item| query.matches(&Subject::event(&i.event, &i.owners));
        let (events, next_cursor, more, missed) = match since {
            Some(after) => {
                let mut hits = ring
                    .items
                    .iter()
                    .filter(|i| i.cursor > after)
                    .filter(matches);
                let page: Vec<&Item> = hits.by_ref().take(limit).collect();
                let more = hits.next().is_some();
                let next = match (more, page.last()) {
                    (true, Some(last)) => last.cursor,
                    _ => ring.last.max(after),
                };
                let evicted = ring.oldest().saturating_sub(after.saturating_add(1));
                (
                    page,
                    next,
                    more,
                    evicted.min(ring.last.saturating_sub(after)),
                )
            }
            None => {
                let mut page: Vec<&Item> = ring
                    .items
                    .iter()
                    .rev()
                    .filter(matches)
                    .take(limit)
                    .collect();
                page.reverse();
                (page, ring.last, false, 0)
            }
        };
        Page {
            events: events.iter().map(|i| i.json.clone()).collect(),
            next_cursor,
            more,
            missed,
            unrecorded: ring.unseen,
            snapshots: ring.snapshots,
            failed: ring.failed.clone(),
        }
    }
}

/// Turns the worker's snapshots into events, on the collector thread.
struct Keeper {
    ring: Arc<Mutex<Ring>>,
    close_waits: CloseWaitTracker,
    /// Flags of the previous snapshot's sockets, same order.
    last_flags: Vec<Flags>,
}

impl Keeper {
    /// The worker's report; false ends the collector thread.
    fn take(&mut self, m: crate::Result<Collected>) -> bool {
        let c = match m {
            Ok(c) => c,
            Err(e) => {
                let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
                ring.failed = Some(format!("the watch stopped: {e}"));
                return false;
            }
        };
        let leaking = self.close_waits.observe(&c.snapshot);
        let flags = row_flags(&c.snapshot, &leaking);
        let of = FlagsOf {
            prev: &self.last_flags,
            next: &flags,
        };
        let made = made(&c, of);
        self.last_flags = flags;
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        ring.snapshots += 1;
        ring.unseen = ring.unseen.saturating_add(c.unseen);
        if let Some((owners, evs)) = made {
            for (event, json) in evs {
                ring.push(event, owners.clone(), json);
            }
        }
        true
    }
}

type Made = (Arc<Snapshot>, Vec<(Event, String)>);

/// The events of one snapshot (none for the baseline), each with its `watch --json`
/// line, and the details of their owners.
fn made(c: &Collected, flags: FlagsOf<'_>) -> Option<Made> {
    let prev = c.previous.as_deref()?;
    let next: &Snapshot = &c.snapshot;
    let evs = events(&c.delta, Some(prev), next, &c.closed, flags);
    if evs.is_empty() {
        return None;
    }
    let mut owners = Snapshot::empty(next.scope);
    owners.taken_at = next.taken_at;
    owners.users = next.users.clone();
    owners.netns = next.netns.clone();
    let mut out = Vec::with_capacity(evs.len());
    for e in evs {
        let snap = match e.kind {
            EventKind::Closed => prev,
            _ => next,
        };
        for pid in e.owners.iter() {
            if let Some(p) = snap.processes.get(pid).or_else(|| next.processes.get(pid)) {
                owners.processes.entry(*pid).or_insert_with(|| p.clone());
            }
        }
        let w = WatchEvent {
            event: &e,
            snap,
            flags: e.flags,
        };
        if let Ok(json) = json_line(&w) {
            out.push((e, json));
        }
    }
    Some((Arc::new(owners), out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Pids, SocketKey, State};

    fn event(port: u16) -> Event {
        let a = crate::model::Addr::new(std::net::IpAddr::from([127, 0, 0, 1]), port);
        Event {
            at: SystemTime::UNIX_EPOCH,
            kind: EventKind::Opened,
            socket: SocketKey {
                proto: crate::model::Proto::Tcp,
                local: a,
                remote: crate::model::Addr::new(std::net::IpAddr::from([0, 0, 0, 0]), 0),
                inode: u64::from(port),
                cookie: u64::from(port),
                netns: 0,
            },
            state: State::Listen,
            owner_status: crate::model::OwnerStatus::Kernel,
            owners: Pids::new(),
            names: "".into(),
            old_names: String::new(),
            flags: Flags::empty(),
            life: None,
            folded: None,
        }
    }

    fn recent(ports: impl IntoIterator<Item = u16>) -> Recent {
        let r = Recent::failed(String::new(), Duration::from_secs(1));
        {
            let mut ring = r.ring.lock().unwrap();
            ring.failed = None;
            let owners = Arc::new(Snapshot::empty(Scope::All));
            for p in ports {
                ring.push(event(p), owners.clone(), format!("{{\"port\":{p}}}"));
            }
        }
        r
    }

    #[test]
    fn cursors_page_through_matching_events() {
        let r = recent(1000..1010);
        let all = Query::default();
        // Without a cursor: the newest, oldest first.
        let p = r.page(None, &all, 3);
        assert_eq!(
            p.events,
            vec!["{\"port\":1007}", "{\"port\":1008}", "{\"port\":1009}"]
        );
        assert_eq!((p.next_cursor, p.more), (10, false));
        // From a cursor: the first ones after it, and where to go on.
        let p = r.page(Some(2), &all, 3);
        assert_eq!(
            p.events,
            vec!["{\"port\":1002}", "{\"port\":1003}", "{\"port\":1004}"]
        );
        assert_eq!((p.next_cursor, p.more, p.missed), (5, true, 0));
        let p = r.page(Some(5), &all, 10);
        assert_eq!(p.events.len(), 5);
        assert_eq!((p.next_cursor, p.more), (10, false));
        // Nothing new: the cursor stays.
        let p = r.page(Some(10), &all, 10);
        assert!(p.events.is_empty());
        assert_eq!(p.next_cursor, 10);
        // A query filters; the cursor still moves past what did not match.
        let q = crate::query::parse(":1004").unwrap();
        let p = r.page(Some(0), &q, 10);
        assert_eq!(p.events, vec!["{\"port\":1004}"]);
        assert_eq!((p.next_cursor, p.more), (10, false));
    }

    #[test]
    fn the_ring_is_bounded_and_says_what_was_missed() {
        let r = recent((0..(CAPACITY as u32 + 20)).map(|i| 1 + (i % 60000) as u16));
        let all = Query::default();
        let ring_len = r.ring.lock().unwrap().items.len();
        assert_eq!(ring_len, CAPACITY);
        let p = r.page(Some(0), &all, 1);
        assert_eq!(p.missed, 20, "the 20 oldest were pushed out");
        assert_eq!(p.next_cursor, 21);
        let p = r.page(Some(30), &all, 1);
        assert_eq!(p.missed, 0);
        // Bytes bound it too.
        let r = recent([]);
        let mut ring = r.ring.lock().unwrap();
        let owners = Arc::new(Snapshot::empty(Scope::All));
        for _ in 0..10 {
            ring.push(event(1), owners.clone(), "x".repeat(CAPACITY_BYTES / 4));
        }
        assert_eq!(ring.items.len(), 4);
        assert!(ring.bytes <= CAPACITY_BYTES);
        assert_eq!(ring.last, 10);
    }
}
