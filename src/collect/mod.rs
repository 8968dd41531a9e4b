//! The OS boundary: everything that reads sockets and processes from the system.
//!
//! [`Collector::snapshot`] returns a complete [`Snapshot`]. On Linux the default is
//! [`linux::SockDiagCollector`] (sock_diag netlink + incremental /proc owners); elsewhere,
//! or on request, [`portable::PortableCollector`] (netstat2 + sysinfo).

#[cfg(target_os = "linux")]
pub mod bytecode;
pub mod containers;
pub mod features;
#[cfg(target_os = "linux")]
pub mod lifecycle;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod netns;
pub mod origin;
pub mod owners;
pub mod pacing;
pub mod portable;
pub mod procs;
#[cfg(target_os = "linux")]
pub mod sockdiag;
pub mod statefile;
pub mod worker;

use crate::error::Result;
use crate::model::{Fresh, Narrow, Scope, Snapshot};
use crate::procfs::{SystemFile, read_system};
use std::time::Duration;

/// Something that can take a snapshot, repeatedly and cheaply when kept alive.
pub trait Collector: Send {
    /// Takes one snapshot of `scope`.
    fn snapshot(&mut self, scope: Scope) -> Result<Snapshot>;
    /// Short name shown in the status bar and JSON (`sockdiag`, `portable`).
    fn name(&self) -> &'static str;
    /// Whether snapshots carry each TCP connection's `tcp_info` (traffic, RTT): costs
    /// about 2.5 times the bytes of a dump, so it is on only while something shows it.
    /// Collectors that cannot read it ignore this.
    fn set_traffic(&mut self, _on: bool) {}
    /// Whether [`Collector::refresh`] reads anything: then a CPU budget can spread the
    /// full snapshots and read what people watch in between.
    fn can_refresh(&self) -> bool {
        false
    }
    /// What people watch, read between full snapshots of every socket (see
    /// [`crate::model::fresh`]): every listener, the sockets `narrow` accepts, the
    /// kernel's counters and the destroy events, in the host's network namespace.
    /// `Ok(None)` when this collector cannot.
    fn refresh(&mut self, _narrow: Option<&Narrow>) -> Result<Option<Fresh>> {
        Ok(None)
    }
    /// The full table is read every `period` now: background work that repairs it (the
    /// owner walk's resync) need not run more often.
    fn set_full_period(&mut self, _period: Duration) {}
    /// Adds to `snap` (a snapshot of every socket) the TCP sockets bound to `port` in the
    /// host's namespace that neither listen nor connect (`bind()` without `listen()`),
    /// with their owners: they hold the port, but no table shows them (see
    /// [`sockdiag::BOUND_INACTIVE`]). `why` and `kill` ask when no listener is on the
    /// port. Collectors that cannot see them add nothing.
    fn add_bound_only(&mut self, _snap: &mut Snapshot, _port: u16) -> Result<()> {
        Ok(())
    }
}

/// Adds to `snap` the sockets bound to TCP `port` that neither listen nor connect, when
/// no listener on it in the host's namespace explains the port already: what `why`, `kill`
/// and `wait-free` judge a port from. Such a socket holds the port (a plain bind fails),
/// and no dump shows it unless asked. A failed extra dump adds nothing: the bind probe
/// still says the port is held.
pub fn add_bound_holders(collector: &mut dyn Collector, snap: &mut Snapshot, port: u16) {
    let listened = snap.sockets.iter().any(|s| {
        s.proto.is_tcp()
            && s.state == crate::model::State::Listen
            && s.local().port() == port
            && snap.netns.is_host(s.netns)
    });
    if !listened {
        let _ = collector.add_bound_only(snap, port);
    }
}

/// Nobody but root and `uid` can have put what is at `path` there: every directory and
/// file on the way (the path is absolute) belongs to root or `uid` and nobody else may
/// write it. With `links`, a symbolic link on the way counts when root or `uid` owns it
/// (its own mode is always 0777; where it leads is the caller's to check); without, none
/// may be one. The one rule for the state file's directory and a supervisor's script.
pub(crate) fn path_held_by(path: &std::path::Path, uid: u32, links: bool) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mut at = std::path::PathBuf::new();
    path.is_absolute()
        && path.components().all(|c| {
            at.push(c);
            std::fs::symlink_metadata(&at).is_ok_and(|m| {
                let link = m.file_type().is_symlink();
                (m.uid() == 0 || m.uid() == uid) && if link { links } else { m.mode() & 0o022 == 0 }
            })
        })
}

/// Which collector to use (`--collector`, mapped in `cli`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CollectorKind {
    /// sock_diag where available, else portable.
    #[default]
    Auto,
    /// Linux sock_diag netlink + /proc (full columns).
    Sockdiag,
    /// netstat2 + sysinfo (fewer columns: no queues, timers or UDP peers).
    Portable,
}

/// Opens the chosen collector for the live view and `watch`: a snapshot never waits for
/// the container engine (names fill in on a later tick).
pub fn open(kind: CollectorKind) -> Result<Box<dyn Collector>> {
    open_with(kind, Duration::ZERO)
}

/// How long a one-shot command's snapshot waits for container names.
pub const ONE_SHOT_SETTLE: Duration = Duration::from_secs(1);

/// Opens the chosen collector for a one-shot command (`list`, `why`, `kill`): its only
/// snapshot waits up to [`ONE_SHOT_SETTLE`] for the container engine to name containers.
pub fn open_once(kind: CollectorKind) -> Result<Box<dyn Collector>> {
    open_with(kind, ONE_SHOT_SETTLE)
}

fn open_with(kind: CollectorKind, settle: Duration) -> Result<Box<dyn Collector>> {
    #[cfg(not(target_os = "linux"))]
    let _ = settle;
    match kind {
        CollectorKind::Portable => Ok(Box::new(portable::PortableCollector::new()?)),
        #[cfg(target_os = "linux")]
        CollectorKind::Sockdiag => Ok(Box::new(live(linux::SockDiagCollector::new()?, settle))),
        #[cfg(target_os = "linux")]
        CollectorKind::Auto => match linux::SockDiagCollector::new() {
            Ok(c) => Ok(Box::new(live(c, settle))),
            Err(_) => Ok(Box::new(portable::PortableCollector::new()?)),
        },
        #[cfg(not(target_os = "linux"))]
        CollectorKind::Sockdiag => Err(crate::error::Error::Unsupported),
        #[cfg(not(target_os = "linux"))]
        CollectorKind::Auto => Ok(Box::new(portable::PortableCollector::new()?)),
    }
}

/// A collector that keeps running (no settle time) also watches the destroy events.
#[cfg(target_os = "linux")]
fn live(c: linux::SockDiagCollector, settle: Duration) -> linux::SockDiagCollector {
    if settle.is_zero() {
        c.watching_lifecycle()
    } else {
        c.settling(settle)
    }
}

/// The kernel's ephemeral port range (default 32768–60999).
pub fn ephemeral_range() -> std::ops::RangeInclusive<u16> {
    let text = read_system(SystemFile::LocalPortRange).unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .filter_map(|v| v.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(a), Some(b)) if a <= b => a..=b,
        _ => 32768..=60999,
    }
}

/// Gives memory back to the system after the socket table shrank a lot.
///
/// glibc keeps freed memory in its arenas for reuse: after a burst of 20,000 sockets the
/// resident size stays at the burst's high water although the snapshots are small again
/// (measured with the soak). When the table has fallen below half of the largest one
/// since the last trim, `malloc_trim(0)` returns the free pages. `high_water` is the
/// caller's record, updated here.
pub fn trim_after_shrink(high_water: &mut usize, sockets: usize) {
    if sockets >= *high_water {
        *high_water = sockets;
        return;
    }
    if sockets.saturating_mul(2) < *high_water && *high_water > 4096 {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim takes a size and touches only the allocator's own state.
        unsafe {
            libc::malloc_trim(0);
        }
        *high_water = sockets;
    }
}

/// Raises the soft limit on open files to the hard one, as Go's runtime does: a socket
/// per network namespace, fd tables read while processes come and go, and `serve`'s
/// clients all take descriptors, and the usual soft limit (1024) was what another user
/// could run out by making namespaces. sockscope polls (never `select`), so high numbers
/// are safe; it starts no processes that could inherit it.
pub fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// Makes every allocation of 1 MiB or more a mapping of its own, returned to the system
/// when freed. glibc's default raises that threshold to 32 MiB after the first big free,
/// and then keeps freed socket tables, maps and buffers of a big snapshot in its heaps: at
/// 500k sockets the live view held about 90 MB more than it used.
///
/// Below 1 MiB, allocations come from the heaps, and up to 4 MiB free at the top of a heap
/// stays there: what a poll makes and frees again every second under churn (its socket
/// list, its destroy events, the connections they closed: a few hundred KB each at 1,900
/// connections a second) is then taken from pages already there. With a threshold of
/// 256 KiB and glibc's 128 KiB trim, each was a fresh mapping faulted in page by page and
/// unmapped again: about 680 page faults a second, several per cent of the live view's
/// CPU (measured).
pub fn return_big_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets an allocator parameter; called first thing in main, before
    // any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 4 << 20);
    }
}

/// Whether this process may close sockets (CAP_NET_ADMIN in its effective set).
pub fn has_net_admin() -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    read_system(SystemFile::OwnStatus)
        .ok()
        .and_then(|t| crate::model::stat::parse_status(&t).cap_eff)
        .is_some_and(|caps| caps & (1 << CAP_NET_ADMIN) != 0)
}

/// The well-known port names of this machine (`/etc/services`); empty when unreadable.
pub fn services() -> crate::model::services::Services {
    std::fs::read_to_string("/etc/services")
        .map(|t| crate::model::services::Services::parse(&t))
        .unwrap_or_default()
}

/// Fills a snapshot's processes and user names from its sockets' owners and uids.
pub(crate) fn fill_details(snap: &mut Snapshot, procs: &mut procs::Procs) {
    // Sets, not lists of every socket's pids and uids: a few hundred distinct values
    // where a list held 500k (and grew through 6 MB on the way).
    let pids: rustc_hash::FxHashSet<u32> = snap
        .sockets
        .iter()
        .flat_map(|s| s.owners.iter().copied())
        .collect();
    let mut pids: Vec<u32> = pids.into_iter().collect();
    pids.sort_unstable();
    snap.processes = procs.refresh(&pids);
    // Inserted one by one: `collect` would first make room for a uid per socket (5 MB at
    // 500k sockets, at the live view's peak) where a handful are distinct.
    let mut uids = rustc_hash::FxHashSet::<u32>::default();
    let mut last = None;
    for s in snap.sockets.iter() {
        if last.replace(s.uid) != Some(s.uid) {
            uids.insert(s.uid);
        }
    }
    uids.extend(snap.processes.values().filter_map(|p| p.uid));
    let mut uids: Vec<u32> = uids.into_iter().collect();
    uids.sort_unstable();
    for uid in uids {
        if let Some(name) = procs.user_name(uid) {
            snap.users.insert(uid, name);
        }
    }
    snap.count_hidden();
}
