//! Giving back the room a burst left behind. A map or vector keeps its capacity when its
//! entries go: after a burst of 20,000 sockets the owner map, the "first seen" times and
//! the row list would hold room for 20,000 for the rest of the session (the soak showed
//! it: the resident size stayed at the burst's high water). [`ShrinkSpare`] shrinks a
//! collection that has four times the room it needs, keeping a floor so that ordinary
//! churn never reallocates.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash};

/// Below this many entries of room, nothing is worth giving back.
const FLOOR: usize = 1024;

pub trait ShrinkSpare {
    /// Shrinks to fit when the capacity is over four times the length (and the floor).
    fn shrink_spare(&mut self);
}

/// Whether room for `capacity` is far more than `len` entries need (see [`ShrinkSpare`]).
pub fn too_roomy(len: usize, capacity: usize) -> bool {
    capacity > FLOOR && capacity > len.saturating_mul(4)
}

impl<K: Eq + Hash, V, S: BuildHasher> ShrinkSpare for HashMap<K, V, S> {
    fn shrink_spare(&mut self) {
        if too_roomy(self.len(), self.capacity()) {
            self.shrink_to_fit();
        }
    }
}

impl<K: Eq + Hash, S: BuildHasher> ShrinkSpare for HashSet<K, S> {
    fn shrink_spare(&mut self) {
        if too_roomy(self.len(), self.capacity()) {
            self.shrink_to_fit();
        }
    }
}

impl<T> ShrinkSpare for Vec<T> {
    fn shrink_spare(&mut self) {
        if too_roomy(self.len(), self.capacity()) {
            self.shrink_to_fit();
        }
    }
}

impl<T> ShrinkSpare for VecDeque<T> {
    fn shrink_spare(&mut self) {
        if too_roomy(self.len(), self.capacity()) {
            self.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_gives_its_room_back_and_churn_keeps_it() {
        let mut m: HashMap<u64, u64> = (0..20_000).map(|i| (i, i)).collect();
        m.retain(|k, _| *k < 100);
        let before = m.capacity();
        m.shrink_spare();
        assert!(m.capacity() < before / 10, "{} → {}", before, m.capacity());
        let mut v: Vec<u32> = Vec::with_capacity(900);
        v.push(1);
        v.shrink_spare();
        assert_eq!(v.capacity(), 900, "under the floor: kept");
    }
}
