//! The Linux collector: sock_diag rows, owners from the fd tables, process details and
//! namespaces, all read through one [`ProcFs`] that notes when fds run out.

use super::containers::Containers;
use super::netns::{ContainerNames, Namespaces};
use super::owners::Owners;
use super::procs::Procs;
use super::sockdiag::SockDiag;
use super::{Collector, fill_details};
use crate::error::Result;
use crate::model::container::Access;
use crate::model::{
    Evidence, Fresh, Narrow, NetnsTable, Scope, Snapshot, Socket, Sockstat, Visibility,
};
use crate::procfs::{FdShortage, Ns, PidFile, ProcFs, ProcSource, SystemFile, read_system};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub struct SockDiagCollector {
    /// /proc for every reader below; its shortage says whether fds ran out.
    fs: Arc<ProcFs>,
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
    /// Cleared when the kernel refuses a filter program: rounds between full snapshots
    /// then read listeners only.
    bytecode: bool,
}

/// Names containers' namespaces from the container cache: only a container the
/// engine confirms (its main process is in that very namespace) names one.
struct Names<'a> {
    fs: &'a ProcFs,
    containers: &'a mut Containers,
    deadline: Option<Instant>,
}

impl ContainerNames for Names<'_> {
    fn container_of(&mut self, pid: u32) -> Option<(String, Option<String>)> {
        let text = self.fs.read(pid, PidFile::Cgroup, u64::MAX).ok()?;
        let cg = super::origin::cgroup(&text);
        let c = super::origin::container(&cg)?;
        let mut known = self.containers.enrich(&c);
        if known.access == Access::Pending
            && let Some(deadline) = self.deadline
        {
            self.containers.settle(deadline);
            known = self.containers.enrich(&c);
        }
        let main = known.pid?;
        let confirmed = main == pid || super::containers::share_ns(self.fs, pid, main, Ns::Net);
        confirmed.then(|| (known.id.clone(), known.name.clone()))
    }
}

impl SockDiagCollector {
    pub fn new() -> Result<Self> {
        let fs = Arc::new(ProcFs::with_shortage(FdShortage::default()));
        Ok(SockDiagCollector {
            diag: SockDiag::open()?,
            owners: Owners::new(Arc::clone(&fs)),
            procs: Procs::with_source(Arc::clone(&fs) as Arc<dyn ProcSource>)?,
            namespaces: Namespaces::new(Arc::clone(&fs)),
            fs,
            containers: Containers::new(),
            settle: Duration::ZERO,
            capacity: 64,
            confirmed: HashMap::new(),
            lifecycle: None,
            bytecode: true,
        })
    }

    /// For the live view, `watch` and `serve`: subscribes to the kernel's destroy
    /// events, so that connections opened and closed between two snapshots are seen too
    /// (and TIME-WAITs traced to who made them). Without it, or when the kernel refuses,
    /// snapshots carry no freed sockets.
    pub fn watching_lifecycle(mut self) -> Self {
        let rcvbuf = super::lifecycle::recv_buf();
        self.lifecycle = super::lifecycle::Subscriber::open(rcvbuf).ok();
        self.namespaces.watch_events(rcvbuf);
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
                    let ancestors: Vec<u32> = p.origin.ancestors.iter().map(|a| a.pid).collect();
                    let e = super::containers::confirm(&*self.fs, p.pid, &ancestors, c);
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
            && !published
                .iter()
                .any(|p| p.port.host_port == s.local().port())
    })
}

/// Sockets in this network namespace per `/proc/net/sockstat{,6}` (TCP in use and
/// TIME-WAIT, UDP in use), plus a margin; 0 when unreadable.
fn socket_count_hint() -> usize {
    let mut total = 0usize;
    for file in [SystemFile::Sockstat, SystemFile::Sockstat6] {
        let Ok(text) = read_system(file) else {
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

/// Ends a snapshot's watch for EMFILE: `Err` when an open failed for want of file
/// descriptors during it (the owner walk or a namespace could not be read, so the
/// snapshot would silently lack owners). Clears the mark for the next snapshot.
fn fds_ran_out(shortage: &FdShortage) -> Result<()> {
    if shortage.take() {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(0);
        return Err(crate::Error::TooManyOpenFiles { limit });
    }
    Ok(())
}

/// What the dumps of one snapshot gave: the host's sockets (or its dump's error), the
/// other namespaces' table, whether one could not be entered, and their sockets.
type Dumps = (Result<()>, NetnsTable, bool, Vec<Socket>);

impl SockDiagCollector {
    /// Dumps the host's sockets into `sockets` and, on a second thread, the other
    /// namespaces' (the kernel's walks of its shared hash tables run side by side); a
    /// full owner walk, when due, runs beside them (it reads /proc only), on the other
    /// core.
    fn dump_beside_walk(
        &mut self,
        scope: Scope,
        deadline: Option<Instant>,
        sockets: &mut Vec<Socket>,
    ) -> Dumps {
        let host = self.namespaces.host();
        let namespaces = &mut self.namespaces;
        let mut names = Names {
            fs: &self.fs,
            containers: &mut self.containers,
            deadline,
        };
        let diag = &mut self.diag;
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
                let host_dump = diag.dump(scope, sockets);
                let other = other.join().unwrap_or_else(|_| {
                    let only_host = NetnsTable {
                        host,
                        ..Default::default()
                    };
                    (only_host, true, Vec::new())
                });
                (host_dump, other)
            } else {
                let host_dump = diag.dump(scope, sockets);
                (host_dump, dump_others())
            };
            let walk_failed = walker.is_some_and(|w| w.join().is_err());
            (result.0, result.1, walk_failed)
        });
        if walk_failed {
            // Whatever it left half done, the update reads every fd table itself.
            self.owners.walk_again();
        }
        (host_dump, netns, skipped, others)
    }

    /// Fills every socket's owners. A TCP socket of the host that no read found may
    /// have closed since the dump: one exact lookup tells, instead of a search of every
    /// process.
    fn own(&mut self, sockets: &mut Vec<Socket>) {
        let host = self.namespaces.host();
        let diag = &mut self.diag;
        self.owners.update_checked(sockets, &mut |s| {
            if s.netns != host || !s.proto.is_tcp() {
                return true;
            }
            match diag.lookup(s) {
                Ok(Some(now)) => now.inode == s.inode,
                Ok(None) => false,
                Err(_) => true,
            }
        });
        self.settle_lost(sockets);
    }
}

impl SockDiagCollector {
    /// The destroy events queued since the last drain, of every namespace.
    fn drain(
        &mut self,
        now_ms: u64,
        freed: &mut Vec<crate::model::lifecycle::Freed>,
    ) -> crate::model::lifecycle::Lost {
        let mut lost = self.namespaces.drain_events(now_ms, freed);
        if let Some(sub) = &mut self.lifecycle {
            sub.drain(self.namespaces.host(), now_ms, freed);
            lost = lost.plus(sub.lost());
        }
        lost
    }

    /// A TCP socket of a round between full snapshots that no fd table holds most
    /// likely closed between the dump and the read: one exact lookup each, as
    /// [`SockDiagCollector::settle_lost`] does, so that a close is not first reported
    /// as its owner going away.
    fn settle_unowned(&mut self, sockets: &mut Vec<Socket>) {
        let host = self.namespaces.host();
        let mut gone = Vec::new();
        for (i, s) in sockets.iter_mut().enumerate() {
            if !s.proto.is_tcp() || s.inode == 0 || !s.owners.is_empty() || s.netns != host {
                continue;
            }
            match self.diag.lookup(s) {
                Ok(None) => gone.push(i),
                Ok(Some(mut now)) if now.inode != s.inode => {
                    now.netns = s.netns;
                    now.owner_status = crate::model::OwnerStatus::Kernel;
                    *s = now;
                }
                Ok(Some(_)) | Err(_) => {}
            }
        }
        for i in gone.into_iter().rev() {
            sockets.remove(i);
        }
    }

    /// The host's sockets in the states `tcp` and `udp` that a narrowing filter's
    /// program `bc` keeps: `Ok(false)` when the kernel refused the program (the dump is
    /// not narrowed from then on).
    fn dump_narrowed(
        &mut self,
        tcp: u32,
        udp: u32,
        bc: &[u8],
        out: &mut Vec<Socket>,
    ) -> Result<bool> {
        let before = out.len();
        match self.diag.dump_filtered(tcp, udp, Some(bc), out) {
            Ok(()) => Ok(true),
            Err(crate::Error::NetlinkDump { source, .. })
                if source.kind() == std::io::ErrorKind::InvalidInput =>
            {
                out.truncate(before);
                self.bytecode = false;
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

impl Collector for SockDiagCollector {
    fn can_refresh(&self) -> bool {
        true
    }

    fn refresh(&mut self, narrow: Option<&Narrow>) -> Result<Option<Fresh>> {
        let taken_at = SystemTime::now();
        self.fs.shortage().take();
        let now_ms = taken_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let mut freed = Vec::new();
        let lost = self.drain(now_ms, &mut freed);
        // In the order of a full dump (TCP listeners, the rest of TCP, then UDP), so that
        // a round that finds nothing new compares equal to the table and copies nothing.
        let mut sockets = Vec::new();
        let bc = match narrow {
            Some(n) if self.bytecode => super::bytecode::compile(n),
            _ => None,
        };
        let all = super::sockdiag::ALL_STATES;
        let (listen, unconn) = (
            crate::model::State::Listen.mask_bit(),
            crate::model::State::Unconn.mask_bit(),
        );
        self.diag.dump_filtered(listen, 0, None, &mut sockets)?;
        let mut narrowed = bc.is_some();
        let tcp_start = sockets.len();
        if let Some(bc) = &bc {
            narrowed &= self.dump_narrowed(all & !listen, 0, bc, &mut sockets)?;
        }
        let tcp_end = sockets.len();
        self.diag.dump_filtered(0, unconn, None, &mut sockets)?;
        if let Some(bc) = bc.as_ref().filter(|_| narrowed) {
            narrowed &= self.dump_narrowed(0, all & !unconn, bc, &mut sockets)?;
            if !narrowed {
                // Refused for UDP only: the round is not narrowed at all.
                sockets.drain(tcp_start..tcp_end);
            }
        }
        let host = self.namespaces.host();
        for s in &mut sockets {
            s.netns = host;
        }
        // Every other namespace's listeners too (as root), and namespaces new since.
        // (It also counts the rounds between looks for new namespaces: called every
        // round, as a full snapshot does.)
        let netns = if rustix::process::geteuid().is_root() {
            let mut names = Names {
                fs: &self.fs,
                containers: &mut self.containers,
                deadline: None,
            };
            let (table, _) = self
                .namespaces
                .dump(Scope::Listeners, &mut names, &mut sockets);
            Some(table)
        } else {
            None
        };
        self.owners.peek(&mut sockets);
        self.settle_unowned(&mut sockets);
        let pids: rustc_hash::FxHashSet<u32> = sockets
            .iter()
            .flat_map(|s| s.owners.iter().copied())
            .collect();
        let mut pids: Vec<u32> = pids.into_iter().collect();
        pids.sort_unstable();
        let processes: HashMap<u32, crate::model::Process> =
            self.procs.peek(&pids).into_iter().collect();
        let mut uids: Vec<u32> = sockets
            .iter()
            .map(|s| s.uid)
            .chain(processes.values().filter_map(|p| p.uid))
            .collect();
        uids.sort_unstable();
        uids.dedup();
        let users = uids
            .into_iter()
            .filter_map(|u| self.procs.user_name(u).map(|n| (u, n)))
            .collect();
        let sockstat = match (
            read_system(SystemFile::Sockstat),
            read_system(SystemFile::Sockstat6),
        ) {
            (Ok(v4), Ok(v6)) => Sockstat::parse(&v4, &v6),
            (Ok(v4), Err(_)) => Sockstat::parse(&v4, ""),
            _ => None,
        };
        // A process with no fd to spare leaves owners unread: the next full snapshot
        // says so; this round's rows keep what they had.
        let _ = self.fs.shortage().take();
        Ok(Some(Fresh {
            taken_at,
            sockets,
            narrow: narrowed.then(|| narrow.cloned()).flatten(),
            processes,
            users,
            freed,
            lost,
            sockstat,
            netns,
        }))
    }

    fn add_bound_only(&mut self, snap: &mut Snapshot, port: u16) -> Result<()> {
        use crate::model::State;
        use crate::model::narrow::{Cond, End};
        let Some(bc) = Narrow::new(vec![vec![Cond::Port {
            end: End::Local,
            lo: port,
            hi: port,
        }]])
        .and_then(|n| super::bytecode::compile(&n)) else {
            return Ok(());
        };
        let mut rows = Vec::new();
        // A kernel before 6.5 ignores the bit: nothing comes back.
        if !self.dump_narrowed(super::sockdiag::BOUND_INACTIVE, 0, &bc, &mut rows)? {
            return Ok(());
        }
        let host = self.namespaces.host();
        rows.retain(|s| s.local().port() == port && s.state == State::Unconn);
        for s in &mut rows {
            s.netns = host;
        }
        self.owners.peek(&mut rows);
        let mut pids: Vec<u32> = rows
            .iter()
            .flat_map(|s| s.owners.iter().copied())
            .filter(|p| !snap.processes.contains_key(p))
            .collect();
        pids.sort_unstable();
        pids.dedup();
        snap.processes.extend(self.procs.peek(&pids));
        for s in &rows {
            if !snap.users.contains_key(&s.uid)
                && let Some(name) = self.procs.user_name(s.uid)
            {
                snap.users.insert(s.uid, name);
            }
        }
        snap.sockets.extend(rows);
        Ok(())
    }

    fn set_full_period(&mut self, period: Duration) {
        // The resync repairs what the incremental walk missed; at most four of them
        // per full period, and never more often than every 30 s.
        self.owners.set_resync(period.saturating_mul(4));
    }

    fn snapshot(&mut self, scope: Scope) -> Result<Snapshot> {
        let taken_at = SystemTime::now();
        // A mark left from between snapshots (a namespace entered to close a socket)
        // is not this snapshot's.
        self.fs.shortage().take();
        // What the kernel freed since the last dump, before this one: a socket in this
        // dump was alive after its drain.
        let mut freed = Vec::new();
        let now_ms = taken_at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let lost = self.drain(now_ms, &mut freed);
        // Sized up front from the kernel's counters so a cold dump of a big table
        // does not double its vector (and its peak memory) on the way.
        let hint = if scope == Scope::All {
            socket_count_hint()
        } else {
            0
        };
        let mut sockets = Vec::with_capacity(self.capacity.max(hint));
        let deadline = (!self.settle.is_zero()).then(|| Instant::now() + self.settle);
        let (host_dump, netns, skipped, others) =
            self.dump_beside_walk(scope, deadline, &mut sockets);
        host_dump?;
        let host = self.namespaces.host();
        for s in &mut sockets {
            s.netns = host;
        }
        let mut tcp = self.diag.take_tcp_info();
        tcp.sort_unstable_by_key(|(c, _)| *c);
        sockets.extend(others);
        self.capacity = sockets.len() + sockets.len() / 32 + 16;
        self.own(&mut sockets);
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
            lost,
            makers: Vec::new(),
            tcp,
        };
        fill_details(&mut snap, &mut self.procs);
        self.enrich(&mut snap, deadline);
        fds_ran_out(self.fs.shortage())?;
        Ok(snap)
    }

    fn name(&self) -> &'static str {
        "sockdiag"
    }

    fn set_traffic(&mut self, on: bool) {
        self.diag.with_tcp_info(on);
    }
}
