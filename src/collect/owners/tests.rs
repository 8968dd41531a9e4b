use super::inodes::{InodeOwners, sorted_difference};
use super::*;
use crate::model::State;
use crate::procfs::FdShortage;
use std::path::PathBuf;

/// A fake /proc on tmpfs, where a directory's size grows with its entries as an fd
/// table's does.
struct FakeProc(PathBuf);

impl FakeProc {
    fn new(tag: &str) -> FakeProc {
        let dir = PathBuf::from("/dev/shm")
            .join(format!("sockscope-fakeproc-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        FakeProc(dir)
    }

    fn process(&self, pid: u32, start: u64) {
        std::fs::create_dir_all(self.0.join(format!("{pid}/fd"))).unwrap();
        let stat = format!(
            "{pid} (fake) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 {start} 1000 10"
        );
        std::fs::write(self.0.join(format!("{pid}/stat")), stat).unwrap();
    }

    /// fd `n` of `pid` points at socket `inode`, or at a file when `inode` is 0.
    fn fd(&self, pid: u32, n: u32, inode: u64) {
        let path = self.0.join(format!("{pid}/fd/{n}"));
        let _ = std::fs::remove_file(&path);
        let target = if inode == 0 {
            "/dev/null".to_owned()
        } else {
            format!("socket:[{inode}]")
        };
        std::os::unix::fs::symlink(target, path).unwrap();
    }

    fn close(&self, pid: u32, n: u32) {
        std::fs::remove_file(self.0.join(format!("{pid}/fd/{n}"))).unwrap();
    }

    fn owners(&self) -> Owners {
        Owners::new(Arc::new(ProcFs::at(&self.0, FdShortage::default())))
    }

    /// Process 100 holds sockets 1001 and 1002 (fds 3 and 4), already read once.
    fn held(tag: &str) -> (FakeProc, Owners) {
        let p = FakeProc::new(tag);
        p.process(100, 5000);
        p.fd(100, 3, 1001);
        p.fd(100, 4, 1002);
        let mut o = p.owners();
        o.update(&mut dump(&[1001, 1002]));
        (p, o)
    }
}

impl Drop for FakeProc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dump(inodes: &[u32]) -> Vec<Socket> {
    inodes
        .iter()
        .map(|&i| crate::model::diff::tests::sock(1000 + i as u16, 1, i, State::Estab, 0))
        .collect()
}

fn owners_of(sockets: &[Socket]) -> Vec<(u32, Vec<u32>)> {
    sockets
        .iter()
        .map(|s| (s.inode, s.owners.to_vec()))
        .collect()
}

/// A process whose fd count changed reads only the links of fds that are new or whose
/// socket left the dump; the answer is the same as a full read's.
#[test]
fn a_changed_process_reads_only_what_can_have_changed() {
    let p = FakeProc::new("partial");
    p.process(100, 5000);
    p.fd(100, 3, 1001);
    p.fd(100, 4, 1002);
    p.fd(100, 5, 0);
    let mut o = p.owners();
    let mut s = dump(&[1001, 1002]);
    o.update(&mut s);
    assert_eq!(o.stats().links_read, 3);
    // 1002 closes; fd 4 is now 1003, and fd 6 opens 1004.
    p.fd(100, 4, 1003);
    p.fd(100, 6, 1004);
    let mut s = dump(&[1001, 1003, 1004]);
    o.update(&mut s);
    assert_eq!(
        owners_of(&s),
        vec![(1001, vec![100]), (1003, vec![100]), (1004, vec![100])]
    );
    // fds 4, 5 and 6 were read; fd 3's socket is still in the dump: kept.
    assert_eq!(o.stats().links_read, 3, "{:?}", o.stats());
}

/// Tables big enough to be read on several threads (the calling one reads a share):
/// every socket is found with its owner, at the first read and after a change.
#[test]
fn big_tables_are_read_on_threads_and_every_owner_is_found() {
    let p = FakeProc::new("threads");
    let per = (super::walk::PARALLEL_MIN_FDS as u32) / 2 + 100;
    let mut inodes = Vec::new();
    for (k, pid) in [100u32, 200, 300].into_iter().enumerate() {
        p.process(pid, 5000 + k as u64);
        for fd in 0..per {
            let inode = 10_000 + k as u32 * per + fd;
            p.fd(pid, fd, u64::from(inode));
            inodes.push(inode);
        }
    }
    let owner = |inode: u32| [100, 200, 300][((inode - 10_000) / per) as usize];
    let mut o = p.owners();
    let mut s = dump(&inodes);
    o.update(&mut s);
    assert_eq!(o.stats().walked, 3);
    for (inode, owners) in owners_of(&s) {
        assert_eq!(owners, vec![owner(inode)], "socket {inode}");
    }
    // Process 200's first fd now holds a new socket.
    let first = 10_000 + per;
    p.fd(200, 0, 1);
    let mut now: Vec<u32> = inodes.iter().copied().filter(|&i| i != first).collect();
    now.push(1);
    let mut s = dump(&now);
    o.update(&mut s);
    for (inode, owners) in owners_of(&s) {
        let want = if inode == 1 { 200 } else { owner(inode) };
        assert_eq!(owners, vec![want], "socket {inode}");
    }
}

/// A full walk run ahead of the dump, then a socket opened before the dump: the
/// update finds it by re-reading its process's new fds, and nothing else.
#[test]
fn a_socket_opened_after_a_walk_ahead_is_found() {
    let p = FakeProc::new("ahead");
    p.process(100, 5000);
    p.fd(100, 3, 1001);
    p.process(200, 6000);
    p.fd(200, 3, 2001);
    let mut o = p.owners();
    assert!(o.full_walk_due());
    o.walk_ahead();
    assert!(!o.full_walk_due());
    assert_eq!(o.stats().links_read, 2);
    p.fd(100, 4, 1002);
    let mut s = dump(&[1001, 1002, 2001]);
    o.update(&mut s);
    assert_eq!(
        owners_of(&s),
        vec![(1001, vec![100]), (1002, vec![100]), (2001, vec![200])]
    );
    // The walk ahead's two links, then only 100's new fd.
    assert_eq!(o.stats().links_read, 3, "{:?}", o.stats());
    assert_eq!(o.stats().walked, 3, "{:?}", o.stats());

    // The next resync: after the walk, 200 opens 2003 at the fd number of a file it
    // closed, so its fd count does not change. Unfound at first (and not cached as
    // ownerless), found by the search of the next update.
    p.fd(200, 4, 0);
    o.update(&mut dump(&[1001, 1002, 2001]));
    o.walk_again();
    o.walk_ahead();
    p.fd(200, 4, 2003);
    let mut s = dump(&[1001, 1002, 2001, 2003]);
    o.update(&mut s);
    assert_eq!(owners_of(&s)[3], (2003, vec![]));
    let mut s = dump(&[1001, 1002, 2001, 2003]);
    o.update(&mut s);
    assert_eq!(owners_of(&s)[3], (2003, vec![200]));
}

/// A socket that had an owner and has none now is reported as lost (the collector
/// then asks the kernel whether it closed), once; one that never had an owner is not.
#[test]
fn a_socket_that_loses_its_last_owner_is_lost_once() {
    let (p, mut o) = FakeProc::held("lost");
    let mut s = dump(&[1001, 1002, 1009]);
    o.update(&mut s);
    assert!(o.lost().is_empty(), "{:?}", o.lost());
    // 100 closes fd 4 (socket 1002), which stays in the dump without a holder.
    p.close(100, 4);
    let mut s = dump(&[1009, 1001, 1002]);
    o.update(&mut s);
    assert_eq!(owners_of(&s)[2], (1002, vec![]));
    assert_eq!(o.lost(), [2]);
    let mut s = dump(&[1009, 1001, 1002]);
    o.update(&mut s);
    assert!(o.lost().is_empty(), "{:?}", o.lost());
}

/// A kept socket that another process's read finds was handed over: the first
/// process is read again in full, and no longer counts as its holder.
#[test]
fn a_socket_handed_to_a_new_process_is_not_kept() {
    let (p, mut o) = FakeProc::held("handover");
    // 100 forks 200 (which keeps 1001), then closes its own 1001, and its fd 3 is
    // a file now; it opens another file.
    p.process(200, 6000);
    p.fd(200, 3, 1001);
    p.fd(100, 3, 0);
    p.fd(100, 7, 0);
    let mut s = dump(&[1001, 1002]);
    o.update(&mut s);
    assert_eq!(owners_of(&s), vec![(1001, vec![200]), (1002, vec![100])]);
}

/// A socket that a kept fd number hides (it went to a process that was not read,
/// and its fd now holds a new socket): the new socket is still open, so every
/// process of its user is read in full, the partly read one too.
#[test]
fn a_socket_no_read_found_sends_the_partly_read_to_a_full_read() {
    let p = FakeProc::new("hidden");
    p.process(100, 5000);
    p.fd(100, 3, 1001);
    p.fd(100, 4, 1003);
    p.process(300, 7000);
    p.fd(300, 3, 0);
    let mut o = p.owners();
    let mut s = dump(&[1001, 1003]);
    o.update(&mut s);
    // 300 gets 1003 in place of a file (its fd count stays); 100 reuses fd 4 for a
    // new socket and opens a file.
    p.fd(300, 3, 1003);
    p.fd(100, 4, 1006);
    p.fd(100, 8, 0);
    let mut asked = Vec::new();
    let mut s = dump(&[1001, 1003, 1006]);
    o.update_checked(&mut s, &mut |s| {
        asked.push(s.inode);
        true
    });
    assert_eq!(asked, vec![1006]);
    assert_eq!(
        owners_of(&s),
        vec![(1001, vec![100]), (1003, vec![300]), (1006, vec![100])]
    );
}

/// A pid that is another process now (its start time changed) keeps nothing.
#[test]
fn a_reused_pid_is_read_in_full() {
    let (p, mut o) = FakeProc::held("reused");
    p.process(100, 9000);
    p.close(100, 4);
    let mut s = dump(&[1001]);
    o.update(&mut s);
    assert_eq!(o.stats().links_read, 1, "fd 3 was read, not kept");
    assert_eq!(owners_of(&s), vec![(1001, vec![100])]);
}

proptest::proptest! {
    /// The two-map store answers as a map of lists would, whatever the order of
    /// adds and removes.
    #[test]
    fn inode_owners_match_a_map_of_lists(
        ops in proptest::collection::vec((0u8..3, 0u32..6, 1u32..5), 0..80),
    ) {
        let mut store = InodeOwners::default();
        let mut model: std::collections::HashMap<u32, Vec<u32>> = Default::default();
        for (op, inode, pid) in ops {
            match op {
                0 => {
                    store.add(inode, pid);
                    let v = model.entry(inode).or_default();
                    if !v.contains(&pid) {
                        v.push(pid);
                    }
                }
                1 => {
                    store.remove_pid(inode, pid);
                    if let Some(v) = model.get_mut(&inode) {
                        v.retain(|p| *p != pid);
                    }
                }
                _ => {
                    let mut got = Vec::new();
                    store.remove(inode, |p| got.push(p));
                    let mut want = model.remove(&inode).unwrap_or_default();
                    got.sort_unstable();
                    want.sort_unstable();
                    proptest::prop_assert_eq!(got, want);
                }
            }
            for i in 0..6 {
                let mut got = store.get(i).to_vec();
                let mut want = model.get(&i).cloned().unwrap_or_default();
                got.sort_unstable();
                want.sort_unstable();
                proptest::prop_assert_eq!(got, want, "inode {}", i);
            }
        }
    }

    #[test]
    fn sorted_difference_is_the_set_difference(
        a in proptest::collection::btree_set(0u32..64, 0..40),
        b in proptest::collection::btree_set(0u32..64, 0..40),
    ) {
        let (va, vb): (Vec<u32>, Vec<u32>) = (a.iter().copied().collect(), b.iter().copied().collect());
        let got: Vec<u32> = sorted_difference(&va, &vb).collect();
        let want: Vec<u32> = a.difference(&b).copied().collect();
        proptest::prop_assert_eq!(got, want);
    }
}

#[test]
fn missing_proc_leaves_owners_unknown() {
    let mut o = Owners::new(Arc::new(ProcFs::at(
        "/nonexistent-proc",
        FdShortage::default(),
    )));
    let mut socks = vec![crate::model::diff::tests::sock(
        80,
        0,
        7,
        crate::model::State::Listen,
        0,
    )];
    o.update(&mut socks);
    assert!(socks[0].owners.is_empty());
    assert_ne!(socks[0].owner_status, OwnerStatus::Known);
}
