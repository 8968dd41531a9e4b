//! The pids holding one socket, in 8 bytes.

use std::fmt;

/// Pids holding one socket inode, in 8 bytes (a row of the socket table has one: at 500k
/// sockets a `SmallVec` of two took 8 MB more a table). Nearly every socket has one
/// holder, kept inline; two or more (a listener shared by workers) are a boxed list.
///
/// `raw` is either `[pid, ONE]`, `[0, NONE]`, or the address of a `Box<Vec<u32>>` split
/// into its low and high halves. A user-space pointer's high half is far below both tags
/// (at most 0xffff on 64-bit Linux, 0 on 32-bit), so they cannot be mistaken for one.
pub struct Pids {
    raw: [u32; 2],
}

const NONE: u32 = u32::MAX - 1;
const ONE: u32 = u32::MAX;

impl Pids {
    pub const fn new() -> Pids {
        Pids { raw: [0, NONE] }
    }

    pub fn from_slice(pids: &[u32]) -> Pids {
        match pids {
            [] => Pids::new(),
            [pid] => Pids { raw: [*pid, ONE] },
            many => Pids::boxed(many.to_vec()),
        }
    }

    fn boxed(list: Vec<u32>) -> Pids {
        let addr = Box::into_raw(Box::new(list)) as usize as u64;
        let raw = [addr as u32, (addr >> 32) as u32];
        assert!(
            raw[1] < NONE,
            "a heap address in the top 8 GiB of the address space"
        );
        Pids { raw }
    }

    /// The boxed list, when there is one.
    fn list(&self) -> Option<*mut Vec<u32>> {
        (self.raw[1] < NONE).then(|| {
            (u64::from(self.raw[0]) | (u64::from(self.raw[1]) << 32)) as usize as *mut Vec<u32>
        })
    }

    pub fn as_slice(&self) -> &[u32] {
        match self.list() {
            // SAFETY: `raw` holds the address of a live `Box<Vec<u32>>` that this value
            // owns (made in `boxed`, freed only by `Drop` or `set`); the borrow of `self`
            // keeps it alive and unchanged.
            Some(list) => unsafe { &*list },
            None if self.raw[1] == ONE => std::slice::from_ref(&self.raw[0]),
            None => &[],
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u32] {
        match self.list() {
            // SAFETY: as in `as_slice`; `&mut self` makes the access exclusive.
            Some(list) => unsafe { &mut *list },
            None if self.raw[1] == ONE => std::slice::from_mut(&mut self.raw[0]),
            None => &mut [],
        }
    }

    /// Replaces the contents with `pids`.
    fn set(&mut self, pids: Vec<u32>) {
        *self = match pids.len() {
            0 | 1 => Pids::from_slice(&pids),
            _ => Pids::boxed(pids),
        };
    }

    /// Appends `pid`. The first stays inline: no heap for the one holder nearly every
    /// socket has (a list made and freed for each cost two allocator calls per owned
    /// socket, thousands a second under churn).
    pub fn push(&mut self, pid: u32) {
        match self.list() {
            // SAFETY: as in `as_mut_slice`.
            Some(list) => unsafe { (*list).push(pid) },
            None if self.raw[1] == ONE => *self = Pids::boxed(vec![self.raw[0], pid]),
            None => self.raw = [pid, ONE],
        }
    }

    pub fn extend_from_slice(&mut self, pids: &[u32]) {
        for &pid in pids {
            self.push(pid);
        }
    }

    pub fn clear(&mut self) {
        *self = Pids::new();
    }

    /// Removes consecutive repeats (as `Vec::dedup`).
    pub fn dedup(&mut self) {
        let mut last = None;
        self.retain(|&pid| last.replace(pid) != Some(pid));
    }

    /// Keeps the pids `keep` says yes to, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&u32) -> bool) {
        match self.list() {
            // SAFETY: as in `as_mut_slice`.
            Some(list) => {
                let kept = std::mem::take(unsafe { &mut *list });
                self.set(kept.into_iter().filter(|p| keep(p)).collect());
            }
            None if self.raw[1] == ONE && !keep(&self.raw[0]) => self.clear(),
            None => {}
        }
    }
}

impl Drop for Pids {
    fn drop(&mut self) {
        if let Some(list) = self.list() {
            // SAFETY: the box was made by `Box::into_raw` in `boxed` and is owned by this
            // value alone; it is freed once, here (`set` and `clear` drop the old value
            // through assignment, which comes here).
            drop(unsafe { Box::from_raw(list) });
        }
    }
}

impl Clone for Pids {
    fn clone(&self) -> Pids {
        Pids::from_slice(self.as_slice())
    }
}

impl Default for Pids {
    fn default() -> Self {
        Pids::new()
    }
}

impl std::ops::Deref for Pids {
    type Target = [u32];
    fn deref(&self) -> &[u32] {
        self.as_slice()
    }
}

impl std::ops::DerefMut for Pids {
    fn deref_mut(&mut self) -> &mut [u32] {
        self.as_mut_slice()
    }
}

impl PartialEq for Pids {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Pids {}

impl std::hash::Hash for Pids {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_slice().hash(h);
    }
}

impl fmt::Debug for Pids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl FromIterator<u32> for Pids {
    fn from_iter<I: IntoIterator<Item = u32>>(iter: I) -> Pids {
        let mut pids = Pids::new();
        for pid in iter {
            pids.push(pid);
        }
        pids
    }
}

impl<'a> IntoIterator for &'a Pids {
    type Item = &'a u32;
    type IntoIter = std::slice::Iter<'a, u32>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}
