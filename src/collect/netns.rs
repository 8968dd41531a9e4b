//! Every network namespace of the machine, each dumped with a sock_diag socket of its
//! own. A netlink socket belongs to the namespace of the thread that made it, so each one
//! is made by a short-lived thread that first entered the namespace (`setns`); the
//! socket then serves every snapshot.
//!
//! Cost rule: listeners (TCP LISTEN, unconnected UDP) of every namespace are dumped on
//! every snapshot — the kernel skips its established table for them. A dump of every
//! state walks the kernel's whole TCP hash table, whatever namespace asks (measured: about
//! 5 ms per namespace beside 20k host sockets), so the other states of the other
//! namespaces are dumped one namespace per snapshot, the one whose last full dump is
//! oldest, and only once that dump is [`FULL_EVERY`] snapshots old: each namespace's
//! connections are at most max([`FULL_EVERY`], number of namespaces) snapshots old, and a
//! snapshot pays for at most one such walk. A namespace seen for the first time is
//! dumped in full at once. In between, its last full dump is carried over, so nothing
//! appears to close and reopen.
//!
//! Namespaces are found through `/proc/*/ns/net`, `/run/netns` and
//! `/var/run/docker/netns`, every [`DISCOVER_EVERY`]th snapshot. Unprivileged, entering
//! another namespace fails: only the own one is read, and the snapshot says so.

use super::lifecycle::Subscriber;
use super::sockdiag::SockDiag;
use crate::model::lifecycle::{Freed, Lost};
use crate::model::stat::parse_status;
use crate::model::{Netns, NetnsKind, NetnsTable, Scope, Socket};
use crate::procfs::{FdShortage, Ns, PidFile, ProcFs, ProcSource};
use rustix::fd::OwnedFd;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A namespace's full dump is refreshed when it is this old (in snapshots), one
/// namespace per snapshot.
pub const FULL_EVERY: u64 = 5;
/// Namespaces are looked for this often (in snapshots).
pub const DISCOVER_EVERY: u64 = 5;
/// At most this many other namespaces are read. Each holds a socket (two while destroy
/// events are watched) and costs a dump per snapshot; any user may make namespaces (a
/// user namespace of their own), and 1,200 of them ran root's open-file limit out so
/// that every command failed (review finding).
pub const MAX_READ: usize = 256;
/// Of those, at most this many made by other users (an unprivileged user's `unshare
/// -Urn`), shared out between their uids in turn: the namespaces root made (containers,
/// `ip netns`, a root `unshare`, with a user namespace of its own or not) are read first
/// and cannot be crowded out, and one user cannot take every other user's places.
pub const MAX_USER_MADE: usize = 32;

/// Where a namespace's handle is.
#[derive(Clone, Debug)]
enum Handle {
    /// A bind mount (`ip netns`, Docker's).
    File(PathBuf),
    /// `ns/net` of a process.
    Process(u32),
}

/// One namespace we can enter: where its handle is, and what it is called.
#[derive(Clone, Debug)]
struct Found {
    handle: Handle,
    name: String,
    kind: NetnsKind,
    /// A process in it, to name it after when nothing better is known.
    pid: Option<u32>,
    /// Made by root: a bind mount root made, or a namespace a process of sockscope's
    /// own user namespace or of real uid 0 is in. An unprivileged user's own namespaces
    /// hold only processes of the user namespace they made, whose real uid is theirs (a
    /// setuid program does not change it there); joining another's takes privilege.
    rooted: bool,
    /// The real uid of the first process found in it that is not root's.
    uid: Option<u32>,
}

/// A namespace being read: its diag socket, its destroy-event subscriber and its last
/// full dump's other states.
struct Reader {
    diag: SockDiag,
    /// Its destroy events (made in the namespace, as the diag socket), when watched.
    events: Option<Subscriber>,
    carried: Vec<Socket>,
    /// The snapshot (tick) of its last full dump.
    full_at: Option<u64>,
}

/// Names a container's namespace: the id of the container a process belongs to, and
/// the container's name when it is known.
pub trait ContainerNames {
    fn container_of(&mut self, pid: u32) -> Option<(String, Option<String>)>;
}

/// The other namespaces and their readers.
pub struct Namespaces {
    fs: Arc<ProcFs>,
    host: u32,
    readers: HashMap<u32, Reader>,
    found: BTreeMap<u32, Found>,
    /// Namespaces that could not be entered (and are not tried again until they go).
    refused: HashSet<u32>,
    /// Namespaces found and left unread (over [`MAX_READ`] or [`MAX_USER_MADE`]).
    unread: usize,
    tick: u64,
    /// The receive buffer of each namespace's destroy subscriber; none when 0 (the
    /// one-shot commands do not watch).
    events_buf: usize,
    /// What the subscribers of namespaces that went away had lost.
    lost_before: Lost,
}

/// The inode of a namespace handle (a bind mount under /run/netns). The kernel's
/// namespace inodes are 32 bits.
fn inode_of(path: &Path) -> Option<u32> {
    std::fs::metadata(path)
        .ok()
        .and_then(|m| u32::try_from(m.ino()).ok())
}

impl Namespaces {
    /// Finds processes' namespaces through `fs`, which notes when fds run out.
    pub fn new(fs: Arc<ProcFs>) -> Namespaces {
        Namespaces {
            host: fs
                .own_ns_inode(Ns::Net)
                .ok()
                .and_then(|i| u32::try_from(i).ok())
                .unwrap_or(0),
            fs,
            readers: HashMap::new(),
            found: BTreeMap::new(),
            refused: HashSet::new(),
            unread: 0,
            tick: 0,
            events_buf: 0,
            lost_before: Lost::default(),
        }
    }

    /// Subscribes to each namespace's destroy events too, with a receive buffer of
    /// `rcvbuf` bytes, from its reader's opening on.
    pub fn watch_events(&mut self, rcvbuf: usize) {
        self.events_buf = rcvbuf;
    }

    /// Takes the destroy events of every other namespace queued so far into `out`,
    /// each marked with its namespace. Returns what they lost, all told.
    pub fn drain_events(&mut self, now_ms: u64, out: &mut Vec<Freed>) -> Lost {
        let mut lost = self.lost_before;
        for (&inode, r) in &mut self.readers {
            if let Some(sub) = &mut r.events {
                sub.drain(inode, now_ms, out);
                lost = lost.plus(sub.lost());
            }
        }
        lost
    }

    pub fn host(&self) -> u32 {
        self.host
    }

    /// Whether the next [`Namespaces::dump`] has namespaces to read or look for (as
    /// root); when not, it costs nothing and needs no thread.
    pub fn has_work(&self) -> bool {
        rustix::process::geteuid().is_root()
            && (!self.found.is_empty() || self.tick.is_multiple_of(DISCOVER_EVERY))
    }

    /// Dumps the listeners (and, as the cost rule says, the other states) of every other
    /// namespace into `out`, each row marked with its namespace. Returns the namespace
    /// table and whether some namespace could not be entered.
    pub fn dump(
        &mut self,
        scope: Scope,
        names: &mut dyn ContainerNames,
        out: &mut Vec<Socket>,
    ) -> (NetnsTable, bool) {
        // Entering another namespace needs CAP_SYS_ADMIN: unprivileged, the own only.
        if !rustix::process::geteuid().is_root() {
            return (
                NetnsTable {
                    host: self.host,
                    others: BTreeMap::new(),
                    unread: 0,
                },
                true,
            );
        }
        if self.tick.is_multiple_of(DISCOVER_EVERY) {
            self.discover(names);
        }
        let tick = self.tick;
        self.tick += 1;
        let inodes: Vec<u32> = self.found.keys().copied().collect();
        // The one namespace whose connections are refreshed this time, if any is due.
        let due = inodes
            .iter()
            .filter_map(|i| {
                let at = self.readers.get(i)?.full_at?;
                (tick - at >= FULL_EVERY).then_some((at, *i))
            })
            .min()
            .map(|(_, i)| i);
        for inode in inodes {
            let Some(reader) = self.reader(inode) else {
                continue;
            };
            let start = out.len();
            if reader.diag.dump(scope.listening(), out).is_err() {
                out.truncate(start);
                self.readers.remove(&inode);
                continue;
            }
            if scope == Scope::All {
                if reader.full_at.is_none() || due == Some(inode) {
                    let mut rows = Vec::new();
                    let all = reader.diag.dump(Scope::All, &mut rows);
                    if all.is_ok() {
                        rows.retain(|s| !s.is_listener());
                        reader.carried = rows;
                        reader.full_at = Some(tick);
                    }
                }
                out.extend(reader.carried.iter().cloned());
            }
            for s in &mut out[start..] {
                s.netns = inode;
            }
        }
        let table = NetnsTable {
            host: self.host,
            others: self
                .found
                .iter()
                .map(|(&inode, f)| {
                    (
                        inode,
                        Netns {
                            inode,
                            name: f.name.clone(),
                            kind: f.kind,
                        },
                    )
                })
                .collect(),
            unread: self.unread,
        };
        (table, !self.refused.is_empty())
    }

    /// The diag socket of another namespace (to close one of its sockets).
    pub fn diag_for(&mut self, inode: u32) -> Option<&mut SockDiag> {
        self.reader(inode).map(|r| &mut r.diag)
    }

    /// The reader of a namespace, opened the first time it is needed.
    fn reader(&mut self, inode: u32) -> Option<&mut Reader> {
        if !self.readers.contains_key(&inode) {
            if self.refused.contains(&inode) {
                return None;
            }
            let handle = self.found.get(&inode)?.handle.clone();
            match open_in(&self.fs, &handle, inode, self.events_buf) {
                Ok((diag, events)) => {
                    self.readers.insert(
                        inode,
                        Reader {
                            diag,
                            events,
                            carried: Vec::new(),
                            full_at: None,
                        },
                    );
                }
                // Not allowed in: not tried again while it exists. Anything else (no
                // fds left, the namespace going away) is tried again next time.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    self.refused.insert(inode);
                    return None;
                }
                Err(_) => return None,
            }
        }
        self.readers.get_mut(&inode)
    }

    /// Finds the namespaces that exist now and names them.
    fn discover(&mut self, names: &mut dyn ContainerNames) {
        let mut found: BTreeMap<u32, Found> = BTreeMap::new();
        // ip netns: named bind mounts.
        for (dir, kind) in [
            ("/run/netns", NetnsKind::Named),
            ("/var/run/docker/netns", NetnsKind::Container),
        ] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                let Some(inode) = inode_of(&path) else {
                    continue;
                };
                if inode == self.host || found.contains_key(&inode) {
                    continue;
                }
                let name = e.file_name().to_string_lossy().into_owned();
                found.insert(
                    inode,
                    Found {
                        handle: Handle::File(path),
                        name: crate::model::sanitize::sanitize_capped(&name, 64),
                        kind,
                        pid: None,
                        rooted: true,
                        uid: None,
                    },
                );
            }
        }
        // Namespaces of processes: a container's, an `unshare -n`'s.
        let fs = &self.fs;
        let own_users = fs.own_ns_inode(Ns::User).ok();
        fs.each_pid(|pid| {
            let Some(inode) = fs
                .ns_inode(pid, Ns::Net)
                .ok()
                .and_then(|i| u32::try_from(i).ok())
            else {
                return;
            };
            if inode == self.host {
                return;
            }
            let ours = own_users.is_some() && fs.ns_inode(pid, Ns::User).ok() == own_users;
            let uid = if ours {
                None
            } else {
                fs.read(pid, PidFile::Status, 64 * 1024)
                    .ok()
                    .and_then(|t| parse_status(&String::from_utf8_lossy(&t)).real_uid)
            };
            let rooted = ours || uid == Some(0);
            found
                .entry(inode)
                .and_modify(|f| {
                    f.pid.get_or_insert(pid);
                    f.rooted |= rooted;
                    f.uid = f.uid.or(uid);
                })
                .or_insert(Found {
                    handle: Handle::Process(pid),
                    name: String::new(),
                    kind: NetnsKind::Process,
                    pid: Some(pid),
                    rooted,
                    uid,
                });
        });
        self.unread = keep_readable(&mut found);
        for f in found.values_mut() {
            name(&*self.fs, f, names);
        }
        // Forget what is gone: its reader (and sockets) close; what its subscriber
        // lost stays counted.
        let lost_before = &mut self.lost_before;
        self.readers.retain(|inode, r| {
            let keep = found.contains_key(inode);
            if !keep && let Some(sub) = &r.events {
                *lost_before = lost_before.plus(sub.lost());
            }
            keep
        });
        self.refused.retain(|inode| found.contains_key(inode));
        self.found = found;
    }
}

/// Keeps the namespaces to read: root's first (in inode order, so the same ones stay from
/// one discovery to the next), then at most [`MAX_USER_MADE`] others, one per uid in
/// turn; at most [`MAX_READ`] in all. Returns how many were left out.
fn keep_readable(found: &mut BTreeMap<u32, Found>) -> usize {
    let mut keep: HashSet<u32> = found
        .iter()
        .filter(|(_, f)| f.rooted)
        .map(|(&i, _)| i)
        .take(MAX_READ)
        .collect();
    let room = (MAX_READ - keep.len()).min(MAX_USER_MADE);
    let mut by_uid: BTreeMap<Option<u32>, Vec<u32>> = BTreeMap::new();
    for (&inode, f) in found.iter().filter(|(_, f)| !f.rooted) {
        by_uid.entry(f.uid).or_default().push(inode);
    }
    let mut taken = 0;
    'turns: for turn in 0.. {
        let mut any = false;
        for inodes in by_uid.values() {
            if let Some(&inode) = inodes.get(turn) {
                if taken == room {
                    break 'turns;
                }
                keep.insert(inode);
                taken += 1;
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    let before = found.len();
    found.retain(|inode, _| keep.contains(inode));
    before - found.len()
}

/// Names a namespace: an `ip netns` name stays; a container's gets the container's name
/// (or short id); a process's is `comm[pid]`.
fn name(fs: &dyn ProcSource, f: &mut Found, names: &mut dyn ContainerNames) {
    if f.kind == NetnsKind::Named {
        return;
    }
    let Some(pid) = f.pid else {
        // A docker netns file nobody is in any more: keep its file name.
        return;
    };
    if let Some((id, name)) = names.container_of(pid) {
        f.kind = NetnsKind::Container;
        f.name = name.unwrap_or_else(|| id.chars().take(12).collect());
        return;
    }
    if f.kind == NetnsKind::Container {
        return;
    }
    let comm = fs.comm(pid).unwrap_or_default();
    let comm = crate::model::sanitize::sanitize_capped(comm.trim_end(), 32);
    f.name = format!("{comm}[{pid}]");
}

/// A handle on a namespace, checked to be the namespace `inode` (a process's pid may
/// belong to another process by now).
fn ns_handle(fs: &ProcFs, handle: &Handle, inode: u64) -> std::io::Result<OwnedFd> {
    let fd: OwnedFd = match handle {
        Handle::File(path) => std::fs::File::open(path)
            .inspect_err(|e| fs.shortage().note_io(e))?
            .into(),
        Handle::Process(pid) => fs.open(*pid)?.ns_file(Ns::Net)?,
    };
    if rustix::fs::fstat(&fd)?.st_ino != inode {
        return Err(std::io::Error::other("the namespace is gone"));
    }
    Ok(fd)
}

/// A diag socket in namespace `inode`, made by a thread that entered it, and a
/// destroy subscriber there when `events_buf` is not 0 (none when the kernel refuses it:
/// the namespace is still read).
fn open_in(
    fs: &ProcFs,
    handle: &Handle,
    inode: u32,
    events_buf: usize,
) -> std::io::Result<(SockDiag, Option<Subscriber>)> {
    let handle = ns_handle(fs, handle, u64::from(inode))?;
    let shortage: &FdShortage = fs.shortage();
    std::thread::scope(|s| {
        s.spawn(|| {
            rustix::thread::move_into_link_name_space(
                handle.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )?;
            let diag = SockDiag::open().map_err(|e| match e {
                crate::Error::NetlinkOpen(io) => {
                    shortage.note_io(&io);
                    io
                }
                crate::Error::TooManyOpenFiles { .. } => {
                    let io = std::io::Error::from_raw_os_error(24);
                    shortage.note_io(&io);
                    io
                }
                e => std::io::Error::other(e.to_string()),
            })?;
            let events = (events_buf > 0)
                .then(|| Subscriber::open(events_buf).ok())
                .flatten();
            Ok((diag, events))
        })
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread panicked")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(rooted: bool, uid: Option<u32>) -> Found {
        Found {
            handle: Handle::Process(1),
            name: String::new(),
            kind: NetnsKind::Process,
            pid: Some(1),
            rooted,
            uid,
        }
    }

    /// Root's namespaces are all kept; the places for other users' go to each uid in
    /// turn, so one user's many namespaces (lower inodes first) do not take them all.
    #[test]
    fn roots_namespaces_first_then_each_user_in_turn() {
        let mut all = BTreeMap::new();
        for i in 0..40 {
            all.insert(100 + i, found(false, Some(65534)));
        }
        for i in 0..5 {
            all.insert(500 + i, found(false, Some(1000)));
        }
        for i in 0..3 {
            all.insert(900 + i, found(true, None));
        }
        let unread = keep_readable(&mut all);
        assert_eq!(unread, 48 - 3 - MAX_USER_MADE);
        assert_eq!(all.values().filter(|f| f.rooted).count(), 3);
        let of = |uid| all.values().filter(|f| f.uid == Some(uid)).count();
        assert_eq!(of(1000), 5, "every one of the smaller user's");
        assert_eq!(of(65534), MAX_USER_MADE - 5);
    }
}
