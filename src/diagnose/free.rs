//! Choosing a free port (`free-port`, and `why`'s "free nearby"): a port is free when a
//! plain bind — no `SO_REUSEADDR` — works right now on `0.0.0.0` and `[::]` (v6-only),
//! and no socket of this namespace has it as its local port in any state. TIME-WAIT
//! counts: a port tools like get-port call free is not, for a server without
//! `SO_REUSEADDR`. Racy by nature: another process can take it a moment later.

use std::collections::HashSet;
use std::ops::RangeInclusive;

/// Where to look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Search {
    /// Nearest to this first; without it, from the bottom of the range up.
    pub near: Option<u16>,
    pub range: RangeInclusive<u16>,
    /// Left out (the ephemeral range, unless the user's range asked for it).
    pub skip: Option<RangeInclusive<u16>>,
    pub count: usize,
}

/// Ports below this need privilege: left out of the default range.
pub const FIRST_UNPRIVILEGED: u16 = 1024;

impl Search {
    /// The search `free-port` and `why`'s "free nearby" share: ports from 1024 up (from
    /// `near` when it is lower), nearest to `near` first, without the ephemeral range —
    /// where outgoing connections take their ports — unless `near` is in it (then its
    /// neighbours are what was asked for) or `allow_ephemeral`.
    pub fn nearby(
        near: Option<u16>,
        ephemeral: RangeInclusive<u16>,
        count: usize,
        allow_ephemeral: bool,
    ) -> Search {
        let inside = near.is_some_and(|n| ephemeral.contains(&n));
        Search {
            near,
            range: near.map_or(FIRST_UNPRIVILEGED, |n| n.min(FIRST_UNPRIVILEGED))..=u16::MAX,
            skip: (!allow_ephemeral && !inside).then_some(ephemeral),
            count,
        }
    }

    /// Whether leaving out the skipped range changed the answer: fewer ports than asked
    /// were found, or a skipped port is nearer than the farthest one found (from the
    /// bottom up without `near`, the highest found).
    pub fn skip_mattered(&self, found: &[u16]) -> bool {
        let Some(skip) = &self.skip else {
            return false;
        };
        if found.len() < self.count {
            return true;
        }
        let dist = |p: u16| u32::from(p).abs_diff(u32::from(self.near.unwrap_or(0)));
        let farthest = found.iter().map(|p| dist(*p)).max().unwrap_or(0);
        let in_range = |p: u16| self.range.contains(&p);
        let nearest_skipped = [*skip.start(), *skip.end()]
            .into_iter()
            .filter(|p| in_range(*p))
            .map(dist)
            .chain(
                self.near
                    .filter(|n| skip.contains(n) && in_range(*n))
                    .map(|_| 0),
            )
            .min();
        nearest_skipped.is_some_and(|d| d < farthest)
    }

    /// Candidate ports in the order they are tried: `near`, `near+1`, `near-1`, … within
    /// the range (or the range upwards), the skipped ones left out.
    pub fn candidates(&self) -> impl Iterator<Item = u16> + '_ {
        let (lo, hi) = (u32::from(*self.range.start()), u32::from(*self.range.end()));
        let order: Box<dyn Iterator<Item = u32>> = match self.near {
            None => Box::new(lo..=hi),
            Some(n) => {
                let n = u32::from(n).clamp(lo, hi);
                let span = (n - lo).max(hi - n);
                Box::new((0..=span).flat_map(move |d| {
                    let up = (n + d <= hi).then_some(n + d);
                    let down = (d > 0 && n >= lo + d).then(|| n - d);
                    up.into_iter().chain(down)
                }))
            }
        };
        order
            .filter_map(|p| u16::try_from(p).ok())
            .filter(|p| !self.skip.as_ref().is_some_and(|s| s.contains(p)))
    }

    /// The first `count` candidates that no socket holds and `binds` says bind now.
    pub fn run(&self, held: &HashSet<u16>, mut binds: impl FnMut(u16) -> bool) -> Vec<u16> {
        self.candidates()
            .filter(|p| !held.contains(p))
            .filter(|&p| binds(p))
            .take(self.count)
            .collect()
    }
}

/// Ports of every socket of this namespace, in any state (TIME-WAIT included).
pub fn held_ports(snap: &crate::model::Snapshot) -> HashSet<u16> {
    snap.sockets
        .iter()
        .filter(|s| snap.netns.is_host(s.netns))
        .map(|s| s.local().port())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_first_within_the_range_without_the_skipped() {
        let s = Search {
            near: Some(3000),
            range: 2998..=3003,
            skip: Some(3001..=3001),
            count: 10,
        };
        let c: Vec<u16> = s.candidates().collect();
        assert_eq!(c, vec![3000, 2999, 3002, 2998, 3003]);
        let held: HashSet<u16> = [3000, 3002].into();
        assert_eq!(s.run(&held, |p| p != 2999), vec![2998, 3003]);
        let s = Search { count: 1, ..s };
        assert_eq!(s.run(&HashSet::new(), |_| true), vec![3000]);
    }

    #[test]
    fn edges_of_the_port_space() {
        let top = Search {
            near: Some(u16::MAX),
            range: 65534..=u16::MAX,
            skip: None,
            count: 5,
        };
        assert_eq!(top.candidates().collect::<Vec<_>>(), vec![65535, 65534]);
        let bottom = Search {
            near: None,
            range: 0..=2,
            skip: None,
            count: 5,
        };
        assert_eq!(bottom.candidates().collect::<Vec<_>>(), vec![0, 1, 2]);
        // near outside the range starts at the nearest end.
        let s = Search {
            near: Some(80),
            range: 1024..=1026,
            skip: None,
            count: 5,
        };
        assert_eq!(s.candidates().collect::<Vec<_>>(), vec![1024, 1025, 1026]);
        let d = Search::nearby(Some(3000), 32768..=60999, 2, false);
        assert!(
            d.candidates()
                .all(|p| p >= 1024 && !(32768..=60999).contains(&p))
        );
    }

    /// `free-port --near 38080` and `why 38080` ask the same: the neighbours of a port
    /// in the ephemeral range are searched; near a port outside it the range is left
    /// out, and said to matter only when it would have given a nearer port.
    #[test]
    fn one_search_for_free_port_and_why() {
        let eph = 32768..=60999;
        let inside = Search::nearby(Some(38080), eph.clone(), 3, false);
        assert_eq!(inside.skip, None);
        let c: Vec<u16> = inside.candidates().take(3).collect();
        assert_eq!(c, vec![38080, 38081, 38079]);
        assert!(!inside.skip_mattered(&[38081, 38079, 38082]));
        // Outside: left out, and it matters next to the range's edge only.
        let edge = Search::nearby(Some(32760), eph.clone(), 20, false);
        assert_eq!(edge.skip, Some(eph.clone()));
        let found: Vec<u16> = edge.run(&HashSet::new(), |_| true);
        assert!(found.iter().all(|p| *p < 32768), "{found:?}");
        assert!(edge.skip_mattered(&found), "32768 is nearer than {found:?}");
        let few = Search { count: 10, ..edge };
        let found = few.run(&HashSet::new(), |_| true);
        assert!(
            !few.skip_mattered(&found),
            "the ten nearest are all below 32768"
        );
        let far = Search::nearby(Some(3000), eph.clone(), 2, false);
        assert!(!far.skip_mattered(&[3000, 3001]));
        assert!(far.skip_mattered(&[3000]), "fewer than asked");
        // --allow-ephemeral lifts it; without --near, from 1024 up.
        let all = Search::nearby(Some(32760), eph.clone(), 20, true);
        assert_eq!(all.skip, None);
        assert!(all.run(&HashSet::new(), |_| true).contains(&32768));
        let bottom = Search::nearby(None, eph, 2, false);
        assert_eq!(bottom.run(&HashSet::new(), |_| true), vec![1024, 1025]);
        assert!(!bottom.skip_mattered(&[1024, 1025]));
        // A privileged port asked for is searched from itself.
        let low = Search::nearby(Some(80), 32768..=60999, 1, false);
        assert_eq!(low.candidates().next(), Some(80));
    }
}
