//! inode → the pids holding it, and the sorted-list difference the updates use.

use super::Ino;
use crate::model::Pids;
use rustc_hash::FxHashMap as HashMap;

/// What is in `a` and not in `b`, both sorted.
pub(super) fn sorted_difference<'a>(a: &'a [Ino], b: &'a [Ino]) -> impl Iterator<Item = Ino> + 'a {
    let mut j = 0;
    a.iter().copied().filter(move |&x| {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        j >= b.len() || b[j] != x
    })
}

/// inode → the pids holding it. Nearly every socket has one holder: those are kept in a
/// map of plain pids (17 bytes a slot), the few shared ones (a listener inherited by
/// workers) in a second map of lists; at 500k sockets that is half the memory of one
/// map of lists.
#[derive(Default)]
pub(super) struct InodeOwners {
    one: HashMap<Ino, u32>,
    many: HashMap<Ino, Pids>,
}

impl InodeOwners {
    pub(super) fn get(&self, inode: Ino) -> &[u32] {
        match self.one.get(&inode) {
            Some(pid) => std::slice::from_ref(pid),
            None => self.many.get(&inode).map_or(&[], |p| p.as_slice()),
        }
    }

    pub(super) fn add(&mut self, inode: Ino, pid: u32) {
        if let Some(pids) = self.many.get_mut(&inode) {
            if !pids.contains(&pid) {
                pids.push(pid);
            }
            return;
        }
        match self.one.get(&inode) {
            None => {
                self.one.insert(inode, pid);
            }
            Some(&p) if p == pid => {}
            Some(&p) => {
                self.one.remove(&inode);
                self.many.insert(inode, Pids::from_slice(&[p, pid]));
            }
        }
    }

    pub(super) fn remove_pid(&mut self, inode: Ino, pid: u32) {
        if self.one.get(&inode) == Some(&pid) {
            self.one.remove(&inode);
        } else if let Some(pids) = self.many.get_mut(&inode) {
            pids.retain(|p| *p != pid);
            match pids.as_slice() {
                [] => {
                    self.many.remove(&inode);
                }
                [last] => {
                    let last = *last;
                    self.many.remove(&inode);
                    self.one.insert(inode, last);
                }
                _ => {}
            }
        }
    }

    /// Forgets the inode, passing each pid that held it to `f`.
    pub(super) fn remove(&mut self, inode: Ino, mut f: impl FnMut(u32)) {
        if let Some(pid) = self.one.remove(&inode) {
            f(pid);
        } else if let Some(pids) = self.many.remove(&inode) {
            pids.iter().copied().for_each(f);
        }
    }

    pub(super) fn clear(&mut self) {
        self.one.clear();
        self.many.clear();
    }

    pub(super) fn shrink_spare(&mut self) {
        use crate::model::spare::ShrinkSpare;
        self.one.shrink_spare();
        self.many.shrink_spare();
    }
}
