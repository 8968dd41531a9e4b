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
    /// The default search: unprivileged ports outside the ephemeral range, nearest to
    /// `near`.
    pub fn around(near: Option<u16>, ephemeral: RangeInclusive<u16>, count: usize) -> Search {
        Search {
            near,
            range: FIRST_UNPRIVILEGED..=u16::MAX,
            skip: Some(ephemeral),
            count,
        }
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
        .map(|s| s.local.port())
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
        let d = Search::around(Some(3000), 32768..=60999, 2);
        assert!(
            d.candidates()
                .all(|p| p >= 1024 && !(32768..=60999).contains(&p))
        );
    }
}
