//! The OS boundary: everything that reads sockets and processes from the system.
//!
//! [`Collector::snapshot`] returns a complete [`Snapshot`]. On Linux the default is
//! [`linux::SockDiagCollector`] (sock_diag netlink + incremental /proc owners); elsewhere,
//! or on request, [`portable::PortableCollector`] (netstat2 + sysinfo).

pub mod containers;
mod fdscan;
pub mod features;
#[cfg(target_os = "linux")]
pub mod lifecycle;
pub mod netns;
pub mod origin;
pub mod owners;
pub mod portable;
pub mod procs;
#[cfg(target_os = "linux")]
pub mod sockdiag;
pub mod statefile;
pub mod worker;

use crate::error::Result;
use crate::model::{Scope, Snapshot};
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
    let text =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap_or_default();
    let mut it = text
        .split_whitespace()
        .filter_map(|v| v.parse::<u16>().ok());
    match (it.next(), it.next()) {
        (Some(a), Some(b)) if a <= b => a..=b,
        _ => 32768..=60999,
    }
}

/// Set when an open failed for want of file descriptors (EMFILE, ENFILE) during a
/// snapshot: the owner walk or a namespace could not be read, so the snapshot would
/// silently lack owners. The collector turns it into [`crate::Error::TooManyOpenFiles`].
static OUT_OF_FDS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Notes an errno from an open: EMFILE and ENFILE mark the snapshot as incomplete.
pub(crate) fn note_open_error(e: rustix::io::Errno) {
    if e == rustix::io::Errno::MFILE || e == rustix::io::Errno::NFILE {
        OUT_OF_FDS.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// [`note_open_error`] for a std error.
pub(crate) fn note_io_error(e: &std::io::Error) {
    if let Some(code) = e.raw_os_error() {
        note_open_error(rustix::io::Errno::from_raw_os_error(code));
    }
}

/// Starts a snapshot's watch for EMFILE, or ends it: `Err` when fds ran out.
fn fds_ran_out(start: bool) -> Result<()> {
    use std::sync::atomic::Ordering;
    if start {
        OUT_OF_FDS.store(false, Ordering::Relaxed);
        return Ok(());
    }
    if OUT_OF_FDS.swap(false, Ordering::Relaxed) {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(0);
        return Err(crate::Error::TooManyOpenFiles { limit });
    }
    Ok(())
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

/// Makes every allocation of 256 KiB or more a mapping of its own, returned to the
/// system when freed. glibc's default raises that threshold to 32 MiB after the first big
/// free, and then keeps freed socket tables, maps and buffers of a big snapshot in its
/// heaps: at 500k sockets the live view held about 90 MB more than it used.
pub fn return_big_frees() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt sets an allocator parameter; called first thing in main, before
    // any thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// Whether this process may close sockets (CAP_NET_ADMIN in its effective set).
pub fn has_net_admin() -> bool {
    const CAP_NET_ADMIN: u32 = 12;
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
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
    let mut uids: rustc_hash::FxHashSet<u32> = snap.sockets.iter().map(|s| s.uid).collect();
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

#[cfg(target_os = "linux")]
pub mod linux {
    //! The Linux collector: sock_diag rows, /proc owners, sysinfo details.

    use super::containers::Containers;
    use super::netns::{ContainerNames, Namespaces};
    use super::owners::Owners;
    use super::procs::Procs;
    use super::sockdiag::SockDiag;
    use super::{Collector, fill_details};
    use crate::error::Result;
    use crate::model::container::Access;
    use crate::model::{Evidence, Scope, Snapshot, Socket, Visibility};
    use std::collections::HashMap;
    use std::time::{Duration, Instant, SystemTime};

    pub struct SockDiagCollector {
        diag: SockDiag,
        owners: Owners,
        procs: Procs,
        namespaces: Namespaces,
        containers: Containers,
        /// How long a snapshot may wait for container names (one-shot commands); the
        /// live view never waits.
        settle: Duration,
        capacity: usize,
        /// Whether a process really runs in the container its cgroup names, by (pid,
        /// start time, container id): asked once per process.
        confirmed: HashMap<(u32, u64, String), Evidence>,
        /// The host's destroy events (none when the kernel refuses the subscription).
        lifecycle: Option<super::lifecycle::Subscriber>,
    }

    /// Names containers' namespaces from the container cache: only a container the
    /// engine confirms (its main process is in that very namespace) names one.
    struct Names<'a> {
        containers: &'a mut Containers,
        deadline: Option<Instant>,
    }

    impl ContainerNames for Names<'_> {
        fn container_of(&mut self, pid: u32) -> Option<(String, Option<String>)> {
            let cg = super::origin::cgroup(pid);
            let c = super::origin::container(&cg)?;
            let mut known = self.containers.enrich(&c);
            if known.access == Access::Pending
                && let Some(deadline) = self.deadline
            {
                self.containers.settle(deadline);
                known = self.containers.enrich(&c);
            }
            let main = known.pid?;
            let confirmed = main == pid || super::containers::share_ns(pid, main, "net");
            confirmed.then(|| (known.id.clone(), known.name.clone()))
        }
    }

    impl SockDiagCollector {
        pub fn new() -> Result<Self> {
            Ok(SockDiagCollector {
                diag: SockDiag::open()?,
                owners: Owners::new(),
                procs: Procs::new()?,
                namespaces: Namespaces::new(),
                containers: Containers::new(),
                settle: Duration::ZERO,
                capacity: 64,
                confirmed: HashMap::new(),
                lifecycle: None,
            })
        }

        /// For the live view, `watch` and `serve`: subscribes to the kernel's destroy
        /// events, so that connections opened and closed between two snapshots are seen
        /// too (and TIME-WAITs traced to who made them). Without it, or when the kernel
        /// refuses, snapshots carry no freed sockets.
        pub fn watching_lifecycle(mut self) -> Self {
            self.lifecycle = super::lifecycle::Subscriber::open(super::lifecycle::RECV_BUF).ok();
            self
        }

        /// For one-shot commands: a snapshot waits up to `wait` for container names.
        pub fn settling(mut self, wait: Duration) -> Self {
            self.settle = wait;
            self
        }

        /// Sockets that had owners at the last snapshot and have none now usually closed
        /// between the dump and the fd walk. Reporting them as "lost their owners" would be
        /// a false event, so each is looked up once more by tuple and cookie: one that is
        /// gone leaves this snapshot (the next diff reports it closed); one whose file was
        /// released (the owner closed it; the kernel finishes the close) is replaced by
        /// what the kernel has now (FIN-WAIT, no owner: a state change). One still open
        /// keeps no owner: that is a real change.
        fn settle_lost(&mut self, sockets: &mut Vec<Socket>) {
            let lost: Vec<usize> = self
                .owners
                .lost()
                .iter()
                .copied()
                .filter(|&i| sockets.get(i).is_some_and(|s| s.proto.is_tcp()))
                .collect();
            let mut gone = std::collections::HashSet::new();
            let host = self.namespaces.host();
            for i in lost {
                // Another namespace's sockets are looked up by its own reader at its next
                // dump; only the host's are settled here.
                if sockets[i].netns != host {
                    continue;
                }
                match self.diag.lookup(&sockets[i]) {
                    Ok(None) => {
                        gone.insert(i);
                    }
                    Ok(Some(now)) if now.inode != sockets[i].inode => {
                        let mut now = now;
                        now.owner_status = crate::model::OwnerStatus::Kernel;
                        sockets[i] = now;
                    }
                    // Still open, or cannot tell: keep what the dump and the walk said.
                    Ok(Some(_)) | Err(_) => {}
                }
            }
            if gone.is_empty() {
                return;
            }
            let mut i = 0;
            sockets.retain(|_| {
                let keep = !gone.contains(&i);
                i += 1;
                keep
            });
        }

        /// Fills the containers of the snapshot's processes from the cache (asking the
        /// engine about new ones), confirms each process's container with the engine's
        /// answer, and fills the host ports the engine says are published when a
        /// docker-proxy is about; waits for answers only until `deadline` (one-shot
        /// commands).
        fn enrich(&mut self, snap: &mut Snapshot, deadline: Option<Instant>) {
            let proxies: rustc_hash::FxHashSet<u32> = snap
                .processes
                .values()
                .filter(|p| p.name == "docker-proxy")
                .map(|p| p.pid)
                .collect();
            let mut published = Vec::new();
            for round in 0..2 {
                for p in snap.processes.values_mut() {
                    if let Some(c) = &p.container {
                        p.container = Some(self.containers.enrich(c));
                    }
                }
                if !proxies.is_empty() {
                    published = self.containers.published(false);
                    if proxy_port_missing(snap, &proxies, &published) {
                        published = self.containers.published(true);
                    }
                }
                let pending = snap.processes.values().any(|p| {
                    p.container
                        .as_ref()
                        .is_some_and(|c| c.access == Access::Pending)
                });
                match deadline {
                    Some(d) if round == 0 && (pending || !proxies.is_empty()) => {
                        self.containers.settle(d);
                    }
                    _ => break,
                }
            }
            let mut seen = std::collections::HashSet::new();
            for p in snap.processes.values_mut() {
                let Some(c) = &mut p.container else { continue };
                if deadline.is_some() && c.access == Access::Pending {
                    // Waited, and still nothing: a one-shot answer says so.
                    c.access = Access::NoAnswer;
                }
                let key = (p.pid, p.start_ticks, c.full_id.clone());
                let settled = c.access != Access::Pending;
                let evidence = match self.confirmed.get(&key) {
                    Some(e) => e.clone(),
                    None => {
                        let ancestors: Vec<u32> =
                            p.origin.ancestors.iter().map(|a| a.pid).collect();
                        let e = super::containers::confirm(p.pid, &ancestors, c);
                        // An answer still to come is asked again next time.
                        if settled {
                            self.confirmed.insert(key.clone(), e.clone());
                        }
                        e
                    }
                };
                c.confirmed = evidence;
                seen.insert(key);
            }
            self.confirmed.retain(|k, _| seen.contains(k));
            snap.published = published;
        }

        /// Closes this exact socket (tuple and cookie, in its own network namespace):
        /// `Ok(true)` when the kernel closed it, `Ok(false)` when it was gone or changed.
        pub fn destroy(&mut self, s: &Socket) -> std::io::Result<bool> {
            if s.netns == 0 || s.netns == self.namespaces.host() {
                return self.diag.destroy(s);
            }
            match self.namespaces.diag_for(s.netns) {
                Some(diag) => diag.destroy(s),
                None => Err(std::io::Error::other(
                    "its network namespace is gone or cannot be entered",
                )),
            }
        }

        /// Counters of the last owner walk (for the benchmark).
        pub fn owner_stats(&self) -> super::owners::WalkStats {
            self.owners.stats()
        }
    }

    /// Whether a docker-proxy holds a listener on a host port the engine's list lacks (a
    /// container started since the list was read).
    fn proxy_port_missing(
        snap: &Snapshot,
        proxies: &rustc_hash::FxHashSet<u32>,
        published: &[crate::model::container::PublishedBy],
    ) -> bool {
        snap.sockets.iter().any(|s| {
            s.is_listener()
                && s.owners.iter().any(|p| proxies.contains(p))
                && !published.iter().any(|p| p.port.host_port == s.local.port())
        })
    }

    /// Sockets in this network namespace per `/proc/net/sockstat{,6}` (TCP in use and
    /// TIME-WAIT, UDP in use), plus a margin; 0 when unreadable.
    fn socket_count_hint() -> usize {
        let mut total = 0usize;
        for path in ["/proc/net/sockstat", "/proc/net/sockstat6"] {
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            for line in text.lines() {
                let mut words = line.split_whitespace();
                let Some(proto) = words.next() else { continue };
                if !matches!(proto, "TCP:" | "UDP:" | "TCP6:" | "UDP6:") {
                    continue;
                }
                let words: Vec<&str> = words.collect();
                for pair in words.chunks(2) {
                    if let [key, value] = pair
                        && matches!(*key, "inuse" | "tw")
                    {
                        total += value.parse::<usize>().unwrap_or(0);
                    }
                }
            }
        }
        total + total / 32 + 64
    }

    impl Collector for SockDiagCollector {
        fn snapshot(&mut self, scope: Scope) -> Result<Snapshot> {
            let taken_at = SystemTime::now();
            super::fds_ran_out(true)?;
            // What the kernel freed since the last dump, before this one: a socket in
            // this dump was alive after its drain.
            let mut freed = Vec::new();
            let host = self.namespaces.host();
            if let Some(sub) = &mut self.lifecycle {
                let now_ms = taken_at
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                sub.drain(host, now_ms, &mut freed);
            }
            // Sized up front from the kernel's counters so a cold dump of a big table
            // does not double its vector (and its peak memory) on the way.
            let hint = if scope == Scope::All {
                socket_count_hint()
            } else {
                0
            };
            let mut sockets = Vec::with_capacity(self.capacity.max(hint));
            // Other namespaces are dumped on a second thread while this one dumps the
            // host's: the kernel's walks of its shared hash tables run side by side.
            let namespaces = &mut self.namespaces;
            let deadline = (!self.settle.is_zero()).then(|| Instant::now() + self.settle);
            let mut names = Names {
                containers: &mut self.containers,
                deadline,
            };
            let diag = &mut self.diag;
            // A full owner walk (the first, then one every resync) reads /proc only: it
            // runs beside the dumps, on the other core.
            let owners = &mut self.owners;
            let ahead = owners.full_walk_due();
            let spread = namespaces.has_work();
            let mut dump_others = move || {
                let mut others = Vec::new();
                let (t, skipped) = namespaces.dump(scope, &mut names, &mut others);
                (t, skipped, others)
            };
            let (host_dump, (netns, skipped, others), walk_failed) = std::thread::scope(|s| {
                let walker = ahead.then(|| s.spawn(|| owners.walk_ahead()));
                let result = if spread {
                    let other = s.spawn(dump_others);
                    let host_dump = diag.dump(scope, &mut sockets);
                    let other = other.join().unwrap_or_else(|_| {
                        let only_host = crate::model::NetnsTable {
                            host,
                            ..Default::default()
                        };
                        (only_host, true, Vec::new())
                    });
                    (host_dump, other)
                } else {
                    let host_dump = diag.dump(scope, &mut sockets);
                    (host_dump, dump_others())
                };
                let walk_failed = walker.is_some_and(|w| w.join().is_err());
                (result.0, result.1, walk_failed)
            });
            if walk_failed {
                // Whatever it left half done, the update reads every fd table itself.
                self.owners.walk_again();
            }
            host_dump?;
            for s in &mut sockets {
                s.netns = host;
            }
            let mut tcp = self.diag.take_tcp_info();
            tcp.sort_unstable_by_key(|(c, _)| *c);
            sockets.extend(others);
            self.capacity = sockets.len() + sockets.len() / 32 + 16;
            // A TCP socket of the host that no read found may have closed since the
            // dump: one exact lookup tells, instead of a search of every process.
            let diag = &mut self.diag;
            self.owners.update_checked(&mut sockets, &mut |s| {
                if s.netns != host || !s.proto.is_tcp() {
                    return true;
                }
                match diag.lookup(s) {
                    Ok(Some(now)) => now.inode == s.inode,
                    Ok(None) => false,
                    Err(_) => true,
                }
            });
            self.settle_lost(&mut sockets);
            let mut snap = Snapshot {
                taken_at,
                scope,
                collector: "sockdiag",
                sockets,
                processes: Default::default(),
                users: Default::default(),
                netns,
                visibility: Visibility {
                    euid: rustix::process::geteuid().as_raw(),
                    unreadable_pids: self.owners.unreadable_pids(),
                    hidden_sockets: 0,
                    netns_skipped: skipped,
                },
                published: Vec::new(),
                freed,
                lost: self
                    .lifecycle
                    .as_ref()
                    .map(|l| l.lost())
                    .unwrap_or_default(),
                makers: Default::default(),
                tcp,
            };
            fill_details(&mut snap, &mut self.procs);
            self.enrich(&mut snap, deadline);
            super::fds_ran_out(false)?;
            Ok(snap)
        }

        fn name(&self) -> &'static str {
            "sockdiag"
        }

        fn set_traffic(&mut self, on: bool) {
            self.diag.with_tcp_info(on);
        }
    }
}
