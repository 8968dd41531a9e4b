//! One picture of the socket table and the processes that own its sockets.

use super::process::Process;
use super::socket::{OwnerStatus, Socket};
use std::collections::HashMap;

/// `pid/name` texts of single owners, by pid, for [`Snapshot::pids_text_of_many`].
pub type TextsByPid = rustc_hash::FxHashMap<u32, std::sync::Arc<str>>;
use std::time::SystemTime;

/// Which sockets a snapshot holds. Listeners-only lets the kernel skip its established
/// hash table entirely, so it is much cheaper on busy hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// TCP LISTEN and unconnected UDP.
    Listeners,
    /// Every TCP and UDP socket.
    All,
    /// The listeners, and the CLOSE-WAIT sockets that tell whether their holders leak:
    /// `list` flags CLOSE-WAIT-LEAK as `--all` does, for a dump that still skips the
    /// other states.
    Serving,
}

impl Scope {
    /// What a dump of a namespace's listeners asks for in this scope: the listeners, and
    /// for [`Scope::Serving`] their CLOSE-WAIT sockets too.
    pub fn listening(self) -> Scope {
        if self == Scope::All {
            Scope::Listeners
        } else {
            self
        }
    }
}

/// What the collector could and could not see, for the "run as root" notice.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Effective uid of the collecting process.
    pub euid: u32,
    /// Processes whose fd table we could not read.
    pub unreadable_pids: usize,
    /// Sockets whose owner is hidden from us.
    pub hidden_sockets: usize,
    /// Other network namespaces were not read (entering them needs root).
    pub netns_skipped: bool,
}

impl Visibility {
    /// Root was refused some fd tables (a security module, a non-dumpable process):
    /// running as root cannot show the owners they hide.
    pub fn root_refused(&self) -> bool {
        self.euid == 0 && self.unreadable_pids > 0
    }
}

/// A snapshot: sockets, their owners' details, and socket uids' user names.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub taken_at: SystemTime,
    pub scope: Scope,
    /// Which collector produced it (`sockdiag`, `portable`).
    pub collector: &'static str,
    pub sockets: Vec<Socket>,
    pub processes: HashMap<u32, Process>,
    /// uid → sanitised user name, for socket uids and owner uids.
    pub users: HashMap<u32, String>,
    /// The network namespaces its sockets live in.
    pub netns: super::NetnsTable,
    pub visibility: Visibility,
    /// The host ports the container engine says its containers publish (empty without
    /// access to the engine).
    pub published: Vec<super::container::PublishedBy>,
    /// Sockets the kernel freed since the snapshot before (destroy events), in the order
    /// they came.
    pub freed: Vec<super::lifecycle::Freed>,
    /// Destroy events lost so far (the subscribers' queues overflowed).
    pub lost: super::lifecycle::Lost,
    /// Who made the connections TIME-WAIT sockets came from: `Socket::maker` is an index
    /// into it, from 1 (filled by the diff of consecutive snapshots, or from a running
    /// sockscope's state file).
    pub makers: Vec<super::lifecycle::Maker>,
    /// `tcp_info` of the host's TCP connections, sorted by cookie, when the collector was
    /// asked for it (traffic shown); empty otherwise.
    pub tcp: Vec<(u64, super::lifecycle::TcpInfo)>,
}

impl Snapshot {
    pub fn empty(scope: Scope) -> Self {
        Snapshot {
            taken_at: SystemTime::UNIX_EPOCH,
            scope,
            collector: "none",
            sockets: Vec::new(),
            processes: HashMap::new(),
            users: HashMap::new(),
            netns: super::NetnsTable::default(),
            visibility: Visibility::default(),
            published: Vec::new(),
            freed: Vec::new(),
            lost: Default::default(),
            makers: Vec::new(),
            tcp: Vec::new(),
        }
    }

    /// A socket's `tcp_info`, when the snapshot has it.
    pub fn tcp_of(&self, s: &super::Socket) -> Option<&super::lifecycle::TcpInfo> {
        if self.tcp.is_empty() || s.cookie == 0 || !self.netns.is_host(s.netns) {
            return None;
        }
        self.tcp
            .binary_search_by_key(&s.cookie, |(c, _)| *c)
            .ok()
            .map(|i| &self.tcp[i].1)
    }

    /// Who made the connection a TIME-WAIT socket came from, when known.
    pub fn maker_of(&self, s: &super::Socket) -> Option<&super::lifecycle::Maker> {
        (s.maker as usize)
            .checked_sub(1)
            .and_then(|i| self.makers.get(i))
    }

    pub fn user_name(&self, uid: u32) -> Option<&str> {
        self.users.get(&uid).map(String::as_str)
    }

    /// Owners of a socket that we have details for, in pid order.
    pub fn owners_of<'a>(&'a self, s: &'a Socket) -> impl Iterator<Item = &'a Process> + 'a {
        s.owners.iter().filter_map(|pid| self.processes.get(pid))
    }

    /// `pid/name` for each pid, comma-separated (just `pid` for one without details):
    /// the one way owners are written, in tables, events and sentences.
    pub fn pids_text(&self, pids: &[u32]) -> String {
        let mut out = String::new();
        self.write_pids(&mut out, pids);
        out
    }

    /// [`Snapshot::pids_text`] for one of many sockets of this snapshot: a single owner's
    /// text is written once into `texts` and shared after (under churn thousands of
    /// events of one snapshot name the same few processes: a copy each was an allocation
    /// each).
    pub fn pids_text_of_many(&self, pids: &[u32], texts: &mut TextsByPid) -> std::sync::Arc<str> {
        match pids {
            [pid] => texts
                .entry(*pid)
                .or_insert_with(|| self.pids_text(pids).into())
                .clone(),
            _ => self.pids_text(pids).into(),
        }
    }

    /// [`Snapshot::pids_text`] appended to a reused buffer.
    pub fn write_pids(&self, out: &mut String, pids: &[u32]) {
        use std::fmt::Write as _;
        for (i, pid) in pids.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = match self.processes.get(pid) {
                Some(p) => write!(out, "{pid}/{}", p.name),
                None => write!(out, "{pid}"),
            };
        }
    }

    /// A socket's owners as [`Snapshot::pids_text`], or why it has none: `(made by
    /// 4242/php-fpm)` for a TIME-WAIT whose connection's maker is known, else `(kernel)`,
    /// `(hidden)`, `(other pid ns)`, `(unknown)`.
    pub fn write_owners(&self, out: &mut String, s: &Socket) {
        if s.owners.is_empty() {
            match self.maker_of(s) {
                Some(m) => {
                    out.push_str("(made by ");
                    out.push_str(&m.text());
                    out.push(')');
                }
                None => out.push_str(s.owner_status.placeholder()),
            }
        } else {
            self.write_pids(out, &s.owners);
        }
    }

    /// Recounts `visibility.hidden_sockets` from the rows.
    pub fn count_hidden(&mut self) {
        self.visibility.hidden_sockets = self
            .sockets
            .iter()
            .filter(|s| s.owner_status == OwnerStatus::Hidden)
            .count();
    }
}

/// A snapshot from the collector thread with its diff against the previous one: the one
/// before it, or, when the consumer fell behind and snapshots were folded together, the
/// last one the consumer took.
#[derive(Clone, Debug)]
pub struct Collected {
    pub snapshot: std::sync::Arc<Snapshot>,
    /// The snapshot before it (what closed sockets' owners were), when comparable.
    pub previous: Option<std::sync::Arc<Snapshot>>,
    /// Empty (and `rescoped` true) when the scope changed, since the two are not comparable.
    pub delta: super::Delta,
    pub rescoped: bool,
    /// How long the snapshot took.
    pub took: std::time::Duration,
    /// Snapshots so far that took longer than the interval.
    pub overruns: u64,
    /// Connections the kernel freed since the snapshot before, with who made them.
    pub closed: Vec<super::lifecycle::Closed>,
    /// Traffic since the snapshot before, when both carried `tcp_info`.
    pub traffic: Option<super::traffic::Traffic>,
    /// Events the consumer would have seen had it taken every snapshot, that `delta` no
    /// longer shows (a socket that opened and closed between two snapshots it took, a
    /// state passed through): counted so that they are reported, not silently lost.
    pub unseen: u64,
    /// How fresh each part of the snapshot is (under a CPU budget, the full table may be
    /// older than the listeners).
    pub fresh: super::fresh::Freshness,
}
