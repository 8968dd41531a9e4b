//! What `serve` counts across snapshots: socket events, destroy-event losses, TCP payload
//! bytes per process and connections closed per service port.
//!
//! A family keyed by something the host decides (process names, ports) names at most
//! `top` keys, and its counters never go back: a key keeps its series while it moves
//! anything; one idle for [`IDLE_SNAPSHOTS`] snapshots makes room for a newcomer (its
//! series stops); whatever no named key takes is added to `other`.

use super::{Labels, labels};
use crate::model::diff::ChangeKind;
use crate::model::{Collected, Snapshot, State};
use std::collections::{BTreeMap, HashSet};
use std::ops::RangeInclusive;

/// A named key that moved nothing for this many snapshots (10 minutes at the default
/// interval) gives its place to the next newcomer.
pub const IDLE_SNAPSHOTS: u64 = 600;

/// Counters of at most `top` named keys, each `N` values wide, and `other`.
#[derive(Clone, Debug)]
pub(super) struct Sticky<K, const N: usize> {
    named: BTreeMap<K, ([u64; N], u64)>,
    other: [u64; N],
}

impl<K, const N: usize> Default for Sticky<K, N> {
    fn default() -> Self {
        Sticky {
            named: BTreeMap::new(),
            other: [0; N],
        }
    }
}

impl<K: Ord, const N: usize> Sticky<K, N> {
    /// Adds `v` to `key` at snapshot `tick`: to its own series when it has one or a place
    /// is free (or held by a key idle for [`IDLE_SNAPSHOTS`]), else to `other`.
    pub(super) fn add(&mut self, key: K, v: [u64; N], tick: u64, top: usize) {
        if v.iter().all(|x| *x == 0) {
            return;
        }
        if !self.named.contains_key(&key) && self.named.len() >= top {
            self.named
                .retain(|_, (_, at)| tick.saturating_sub(*at) < IDLE_SNAPSHOTS);
        }
        let slot = if self.named.contains_key(&key) || self.named.len() < top {
            Some(self.named.entry(key).or_insert(([0; N], tick)))
        } else {
            None
        };
        let values = match slot {
            Some((values, at)) => {
                *at = tick;
                values
            }
            None => &mut self.other,
        };
        for (a, b) in values.iter_mut().zip(v) {
            *a = a.saturating_add(b);
        }
    }

    /// The series: each named key's labels (from `label`), then `other`'s (when it has
    /// counted anything), each with its `N` values.
    pub(super) fn rows(&self, label: impl Fn(Option<&K>) -> Labels) -> Vec<(Labels, [u64; N])> {
        let mut rows: Vec<(Labels, [u64; N])> = self
            .named
            .iter()
            .map(|(k, (v, _))| (label(Some(k)), *v))
            .collect();
        if self.other.iter().any(|x| *x > 0) {
            rows.push((label(None), self.other));
        }
        rows
    }
}

/// A closed connection's service port: (proto, role, port); port 0 for a client of an
/// ephemeral remote port (no service to name).
type ClosedKey = (&'static str, &'static str, u16);

/// Everything `serve` counts, kept across snapshots by the server.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    events: BTreeMap<&'static str, u64>,
    /// Overflows of the kernel's destroy-event queues (the collector's own count).
    pub(super) lost: u64,
    /// Payload bytes [received, sent] by process name.
    pub(super) traffic: Sticky<String, 2>,
    pub(super) closed: Sticky<ClosedKey, 1>,
    tick: u64,
}

impl Counters {
    /// Counts one snapshot's events: `opened`, `closed`, `state_changed`,
    /// `owner_changed`.
    pub fn add(&mut self, kind: &'static str, n: u64) {
        *self.events.entry(kind).or_default() += n;
    }

    /// Counts what one snapshot brought: its events (not across a change of scope),
    /// the bytes its connections moved, the connections the kernel freed since the one
    /// before, and the destroy-event losses so far.
    pub fn observe(&mut self, c: &Collected, top: usize, ephemeral: &RangeInclusive<u16>) {
        self.tick += 1;
        self.lost = c.snapshot.lost.times;
        if !c.rescoped {
            let d = &c.delta;
            self.add("opened", d.opened.len() as u64);
            self.add("closed", d.closed.len() as u64);
            let states = d
                .changed
                .iter()
                .filter(|x| matches!(x.kind, ChangeKind::State { .. }))
                .count() as u64;
            self.add("state_changed", states);
            self.add("owner_changed", d.changed.len() as u64 - states);
        }
        if let Some(t) = &c.traffic {
            for (pid, moved) in &t.moved {
                let name = process_name(c, *pid);
                self.traffic.add(name, [moved.rx, moved.tx], self.tick, top);
            }
        }
        let listening = listening_ports(&c.snapshot);
        for closed in &c.closed {
            let f = &closed.freed;
            let proto = if f.proto.is_tcp() { "tcp" } else { "udp" };
            let key = if listening.contains(&(proto, f.local.port())) {
                (proto, "server", f.local.port())
            } else if ephemeral.contains(&f.remote.port()) {
                (proto, "client", 0)
            } else {
                (proto, "client", f.remote.port())
            };
            self.closed.add(key, [1], self.tick, top);
        }
    }

    /// The event counters, by kind.
    pub(super) fn events(&self) -> &BTreeMap<&'static str, u64> {
        &self.events
    }

    /// `process_traffic_bytes`: one series per process and direction.
    pub(super) fn traffic_rows(&self) -> BTreeMap<Labels, i64> {
        let mut out = BTreeMap::new();
        for (l, [rx, tx]) in self
            .traffic
            .rows(|k| labels(&[("process", k.map_or("other", String::as_str))]))
        {
            for (dir, n) in [("rx", rx), ("tx", tx)] {
                let mut l = l.clone();
                l.push(("direction".to_owned(), dir.to_owned()));
                out.insert(l, i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        out
    }

    /// `closed_connections`: one series per service port.
    pub(super) fn closed_rows(&self) -> BTreeMap<Labels, i64> {
        self.closed
            .rows(|k| match k {
                Some((proto, role, port)) => {
                    let port = if *port == 0 {
                        "ephemeral".to_owned()
                    } else {
                        port.to_string()
                    };
                    labels(&[("proto", proto), ("role", role), ("port", &port)])
                }
                None => labels(&[("proto", "other"), ("role", "other"), ("port", "other")]),
            })
            .into_iter()
            .map(|(l, [n])| (l, i64::try_from(n).unwrap_or(i64::MAX)))
            .collect()
    }
}

/// The ports listened on, per protocol: a closed connection to one of them came in.
fn listening_ports(snap: &Snapshot) -> HashSet<(&'static str, u16)> {
    snap.sockets
        .iter()
        .filter(|s| s.state == State::Listen || (!s.proto.is_tcp() && s.is_listener()))
        .map(|s| {
            let proto = if s.proto.is_tcp() { "tcp" } else { "udp" };
            (proto, s.local().port())
        })
        .collect()
}

/// A process's name: from the snapshot, the one before (it may have exited since), or
/// the maker of a connection it closed; its pid when none knows it.
fn process_name(c: &Collected, pid: u32) -> String {
    let known = c
        .snapshot
        .processes
        .get(&pid)
        .or_else(|| c.previous.as_ref().and_then(|p| p.processes.get(&pid)))
        .map(|p| p.name.clone());
    known
        .or_else(|| {
            c.closed.iter().find_map(|cl| match &cl.by {
                crate::model::lifecycle::Maker::Owner { pid: p, name }
                | crate::model::lifecycle::Maker::Listener { pid: p, name }
                    if *p == pid =>
                {
                    Some(name.to_string())
                }
                _ => None,
            })
        })
        .unwrap_or_else(|| pid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sticky_names_at_most_top_keys_and_never_goes_back() {
        let mut s: Sticky<&str, 1> = Sticky::default();
        s.add("a", [5], 1, 2);
        s.add("b", [3], 1, 2);
        // No place left: c goes to other.
        s.add("c", [7], 2, 2);
        s.add("a", [1], 2, 2);
        let rows = s.rows(|k| labels(&[("k", k.copied().unwrap_or("other"))]));
        let get = |k: &str| rows.iter().find(|(l, _)| l[0].1 == k).map(|(_, v)| v[0]);
        assert_eq!(
            (get("a"), get("b"), get("c"), get("other")),
            (Some(6), Some(3), None, Some(7))
        );
        // Zero moves nothing and takes no place.
        s.add("d", [0], 3, 2);
        assert_eq!(s.named.len(), 2);
        // b idle long enough: the next newcomer takes its place; a (moving) stays.
        s.add("a", [1], IDLE_SNAPSHOTS, 2);
        s.add("c", [2], IDLE_SNAPSHOTS + 1, 2);
        let rows = s.rows(|k| labels(&[("k", k.copied().unwrap_or("other"))]));
        let keys: Vec<&str> = rows.iter().map(|(l, _)| l[0].1.as_str()).collect();
        assert_eq!(keys, ["a", "c", "other"]);
        assert_eq!(rows[2].1, [7], "other never goes back");
    }
}
