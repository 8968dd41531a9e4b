//! One socket as the kernel reports it, plus the pids that hold it.

use serde::Serialize;
use std::fmt;

use strum::IntoStaticStr;

pub use super::addr::{Addr, Endpoint, unmap};
pub use super::pair::AddrPair;
pub use super::pids::Pids;

/// Transport and address family, as `ss` and `netstat` name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Proto {
    Tcp,
    Tcp6,
    Udp,
    Udp6,
}

impl Proto {
    pub fn new(tcp: bool, v6: bool) -> Self {
        match (tcp, v6) {
            (true, false) => Proto::Tcp,
            (true, true) => Proto::Tcp6,
            (false, false) => Proto::Udp,
            (false, true) => Proto::Udp6,
        }
    }
    pub fn is_tcp(self) -> bool {
        matches!(self, Proto::Tcp | Proto::Tcp6)
    }
    pub fn is_v6(self) -> bool {
        matches!(self, Proto::Tcp6 | Proto::Udp6)
    }
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Socket state with the kernel's numbering (`include/net/tcp_states.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Estab = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    /// `TCP_CLOSE`: an unconnected UDP socket, or a TCP socket that is bound but idle.
    Unconn = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
}

impl State {
    /// Every state, in kernel order.
    pub const ALL: [State; 11] = [
        State::Estab,
        State::SynSent,
        State::SynRecv,
        State::FinWait1,
        State::FinWait2,
        State::TimeWait,
        State::Unconn,
        State::CloseWait,
        State::LastAck,
        State::Listen,
        State::Closing,
    ];

    /// Maps the kernel's state number; `TCP_NEW_SYN_RECV` (12) is a SYN-RECV request socket.
    pub fn from_kernel(n: u8) -> Option<State> {
        match n {
            12 => Some(State::SynRecv),
            n => State::ALL.iter().copied().find(|s| *s as u8 == n),
        }
    }

    /// The name `ss` uses, so users can move between the tools.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Estab => "ESTAB",
            State::SynSent => "SYN-SENT",
            State::SynRecv => "SYN-RECV",
            State::FinWait1 => "FIN-WAIT-1",
            State::FinWait2 => "FIN-WAIT-2",
            State::TimeWait => "TIME-WAIT",
            State::Unconn => "UNCONN",
            State::CloseWait => "CLOSE-WAIT",
            State::LastAck => "LAST-ACK",
            State::Listen => "LISTEN",
            State::Closing => "CLOSING",
        }
    }

    /// The bit for this state in a sock_diag `idiag_states` mask.
    pub fn mask_bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which kernel timer is pending on a TCP socket (`idiag_timer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerKind {
    Retransmit,
    Keepalive,
    TimeWait,
    Probe,
}

impl TimerKind {
    pub fn from_kernel(n: u8) -> Option<TimerKind> {
        match n {
            1 => Some(TimerKind::Retransmit),
            2 => Some(TimerKind::Keepalive),
            3 => Some(TimerKind::TimeWait),
            4 => Some(TimerKind::Probe),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            TimerKind::Retransmit => "on",
            TimerKind::Keepalive => "keepalive",
            TimerKind::TimeWait => "timewait",
            TimerKind::Probe => "persist",
        }
    }
}

/// A pending timer: what it is, when it fires, and how many retransmits so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Timer {
    pub kind: TimerKind,
    pub expires_ms: u32,
    pub retrans: u8,
}

impl fmt::Display for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.expires_ms;
        let text = if ms >= 1000 {
            format!(
                "{}({}.{}s)",
                self.kind.as_str(),
                ms / 1000,
                (ms % 1000) / 100
            )
        } else {
            format!("{}({}ms)", self.kind.as_str(), ms)
        };
        f.pad(&text)
    }
}

/// Why a row has no owning process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum OwnerStatus {
    /// At least one owning pid is known.
    Known,
    /// Inode 0: the kernel holds it (TIME-WAIT, SYN-RECV, orphaned FIN-WAIT).
    Kernel,
    /// The socket exists but the owner's /proc entries are not readable for us.
    Hidden,
    /// No process visible here holds it, and sockscope runs in a nested pid namespace:
    /// the owner most likely lives outside it.
    OtherNs,
    /// No visible process holds it: it closed while being read, or the kernel holds it
    /// without a file descriptor.
    Unknown,
}

impl OwnerStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What a row shows instead of an owner: `(kernel)`, `(hidden)`, `(other pid ns)`,
    /// `(unknown)`.
    pub fn placeholder(self) -> &'static str {
        match self {
            OwnerStatus::Known | OwnerStatus::Unknown => "(unknown)",
            OwnerStatus::Kernel => "(kernel)",
            OwnerStatus::Hidden => "(hidden)",
            OwnerStatus::OtherNs => "(other pid ns)",
        }
    }

    /// Why no owner is shown, as a sentence.
    pub fn explain(self) -> &'static str {
        match self {
            OwnerStatus::Known => "a visible process holds it",
            OwnerStatus::Kernel => {
                "none: the kernel holds it (TIME-WAIT, SYN-RECV or an orphaned FIN-WAIT); it goes away by itself"
            }
            OwnerStatus::Hidden => {
                "hidden: its process's file descriptors are not readable for you; run sockscope as root (when root is refused too, a security module or a non-dumpable process guards them)"
            }
            OwnerStatus::OtherNs => {
                "in another pid namespace: sockscope runs in a nested pid namespace and cannot see the process that holds it; run it from the host"
            }
            OwnerStatus::Unknown => {
                "unknown: no process visible here holds it (it closed while being read, or the kernel holds it without a file descriptor)"
            }
        }
    }
}

/// Identity of a socket across snapshots: never a row index or a port alone. It is the
/// protocol, both addresses, and the kernel's socket cookie where the collector has one
/// (sock_diag), else the inode. The cookie stays when the owner closes its file: a
/// client-side close (ESTAB → FIN-WAIT-2, inode → 0) is a state change of the same
/// socket, not a close and an open.
#[derive(Clone, Copy, Debug)]
pub struct SocketKey {
    pub proto: Proto,
    pub local: Addr,
    pub remote: Addr,
    /// The inode when the key was taken (0 once no file refers to it); shown, not
    /// compared when there is a cookie.
    pub inode: u64,
    /// The kernel's socket cookie; 0 where the collector cannot see it.
    pub cookie: u64,
    /// Its network namespace: the same addresses can be in use in two of them.
    pub netns: u32,
}

impl SocketKey {
    /// What tells two sockets on the same addresses apart: the cookie, or the inode.
    fn identity(&self) -> (bool, u64) {
        if self.cookie != 0 {
            (true, self.cookie)
        } else {
            (false, self.inode)
        }
    }

    fn tuple(&self) -> (u32, Proto, Addr, Addr, (bool, u64)) {
        (
            self.netns,
            self.proto,
            self.local,
            self.remote,
            self.identity(),
        )
    }
}

impl PartialEq for SocketKey {
    fn eq(&self, other: &Self) -> bool {
        self.tuple() == other.tuple()
    }
}

impl Eq for SocketKey {}

impl std::hash::Hash for SocketKey {
    /// A cookie is unique on the host: with one, it and the namespace are all that is
    /// hashed (keys that are equal have equal cookies and namespaces), which under churn
    /// saves hashing two addresses for every map of the live view and the diff.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        if self.cookie != 0 {
            (self.netns, self.cookie).hash(h);
        } else {
            self.tuple().hash(h);
        }
    }
}

impl PartialOrd for SocketKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SocketKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.tuple().cmp(&other.tuple())
    }
}

/// One row of the socket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    pub proto: Proto,
    /// Local and remote address ([`Socket::local`], [`Socket::remote`]). IPv4-mapped
    /// IPv6 addresses are stored in their v4 form; `proto` keeps the family.
    pub addrs: AddrPair,
    pub state: State,
    /// On LISTEN: the accept queue length. Otherwise bytes not yet read.
    pub recv_q: u32,
    /// On LISTEN: the backlog. Otherwise bytes not yet acknowledged.
    pub send_q: u32,
    pub timer: Option<Timer>,
    pub uid: u32,
    /// 0 for sockets no file descriptor refers to. The kernel's `idiag_inode` is 32 bits
    /// (socket inodes come from `get_next_ino()`, an `unsigned int`).
    pub inode: u32,
    /// The kernel's socket cookie; 0 where the collector cannot see it.
    pub cookie: u64,
    /// Inode of its network namespace; 0 for the host (see [`super::NetnsTable`]). The
    /// kernel's namespace inodes are `unsigned int` (`ns_common.inum`): 32 bits.
    pub netns: u32,
    /// An IPv6 socket that takes IPv6 only (`IPV6_V6ONLY`): a `[::]` listener without it
    /// also accepts IPv4.
    pub v6only: bool,
    pub owners: Pids,
    pub owner_status: OwnerStatus,
    /// For a TIME-WAIT socket: who made the connection it came from, as an index from 1
    /// into its snapshot's `makers` (0: not known). See `Snapshot::maker_of`.
    pub maker: u32,
}

impl Socket {
    pub fn local(&self) -> Addr {
        self.addrs.local()
    }

    pub fn remote(&self) -> Addr {
        self.addrs.remote()
    }

    pub fn set_local(&mut self, local: Addr) {
        self.addrs = AddrPair::new(local, self.remote());
    }

    pub fn set_remote(&mut self, remote: Addr) {
        self.addrs = AddrPair::new(self.local(), remote);
    }

    /// Whether this listener takes connections to `ip` (on its port): its own address,
    /// the wildcard of that family, or `[::]` for IPv4 too unless it is v6-only.
    pub fn accepts(&self, ip: std::net::IpAddr) -> bool {
        let local = self.local().ip();
        if local == ip {
            return true;
        }
        if !local.is_unspecified() {
            return false;
        }
        match (self.proto.is_v6(), ip.is_ipv6()) {
            (v6, want_v6) if v6 == want_v6 => true,
            (true, false) => !self.v6only,
            _ => false,
        }
    }

    /// What tells sockets on the same addresses apart: the cookie, or the inode (a
    /// cheap first look before a whole [`Socket::key`] is compared).
    pub fn ident(&self) -> u64 {
        if self.cookie != 0 {
            self.cookie
        } else {
            u64::from(self.inode)
        }
    }

    pub fn key(&self) -> SocketKey {
        let (local, remote) = self.addrs.get();
        SocketKey {
            proto: self.proto,
            local,
            remote,
            inode: u64::from(self.inode),
            cookie: self.cookie,
            netns: self.netns,
        }
    }

    /// A listener in the broad sense: TCP LISTEN, or UDP bound but not connected.
    pub fn is_listener(&self) -> bool {
        match self.state {
            State::Listen => true,
            State::Unconn => !self.proto.is_tcp(),
            _ => false,
        }
    }

    pub fn remote_is_unspecified(&self) -> bool {
        let remote = self.remote();
        remote.ip().is_unspecified() && remote.port() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    proptest::proptest! {
        /// Keys that are equal hash alike, with or without a cookie (the hash of a key
        /// with one leaves its addresses out).
        #[test]
        fn equal_keys_hash_alike(
            cookie in proptest::prop_oneof![proptest::strategy::Just(0u64), 1u64..4],
            inode in 0u64..3,
            netns in 0u32..2,
            ports in (0u16..3, 0u16..3),
            other in (0u64..4, 0u64..3, 0u16..3),
        ) {
            use std::hash::BuildHasher;
            let key = |cookie, inode, lport| SocketKey {
                proto: Proto::Tcp,
                local: Addr::new(IpAddr::from([127, 0, 0, 1]), lport),
                remote: Addr::new(IpAddr::from([127, 0, 0, 1]), ports.1),
                inode,
                cookie,
                netns,
            };
            let a = key(cookie, inode, ports.0);
            let b = key(other.0, other.1, other.2);
            let h = rustc_hash::FxBuildHasher;
            if a == b {
                proptest::prop_assert_eq!(h.hash_one(a), h.hash_one(b));
            }
            proptest::prop_assert_eq!(h.hash_one(a), h.hash_one(key(cookie, inode, ports.0)));
        }
    }

    #[test]
    fn kernel_states_map_to_ss_names() {
        assert_eq!(State::from_kernel(10), Some(State::Listen));
        assert_eq!(State::from_kernel(12), Some(State::SynRecv));
        assert_eq!(State::from_kernel(13), None);
        assert_eq!(State::from_kernel(0), None);
        for s in State::ALL {
            assert_eq!(State::from_kernel(s as u8), Some(s));
        }
        assert_eq!(State::TimeWait.to_string(), "TIME-WAIT");
    }

    #[test]
    fn names_as_ss_and_the_json_schema_spell_them() {
        assert_eq!(Proto::Tcp6.as_str(), "tcp6");
        assert_eq!(OwnerStatus::OtherNs.as_str(), "other-ns");
        assert_eq!(OwnerStatus::Known.as_str(), "known");
    }

    #[test]
    fn endpoints_print_like_ss() {
        let a: Addr = "0.0.0.0:80".parse().unwrap();
        assert_eq!(Endpoint(&a).to_string(), "*:80");
        let a: Addr = "[::]:0".parse().unwrap();
        assert_eq!(Endpoint(&a).to_string(), "*:*");
        let a: Addr = "[::1]:443".parse().unwrap();
        assert_eq!(Endpoint(&a).to_string(), "[::1]:443");
        let a: Addr = "10.0.0.1:0".parse().unwrap();
        assert_eq!(Endpoint(&a).to_string(), "10.0.0.1:*");
    }

    #[test]
    fn mapped_addresses_become_v4() {
        let ip: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(unmap(ip), "127.0.0.1".parse::<IpAddr>().unwrap());
        let ip: IpAddr = "::1".parse().unwrap();
        assert_eq!(unmap(ip), ip);
    }

    #[test]
    fn timers_show_seconds() {
        let t = Timer {
            kind: TimerKind::TimeWait,
            expires_ms: 59_800,
            retrans: 0,
        };
        assert_eq!(t.to_string(), "timewait(59.8s)");
    }
}

#[cfg(test)]
mod compact_tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, SocketAddr};

    /// The row's size is what a big table weighs: 500k sockets, 32 MB.
    #[test]
    fn a_socket_row_stays_small() {
        assert_eq!(std::mem::size_of::<Addr>(), 18);
        assert_eq!(std::mem::size_of::<Pids>(), 8);
        assert!(
            std::mem::size_of::<Socket>() <= 64,
            "{}",
            std::mem::size_of::<Socket>()
        );
    }

    proptest! {
        /// Pids behaves as a Vec of the same pids, inline or not.
        #[test]
        fn pids_behave_as_a_vec(ops in proptest::collection::vec((0u8..4, 1u32..6), 0..20)) {
            let (mut p, mut v) = (Pids::new(), Vec::<u32>::new());
            for (op, pid) in ops {
                match op {
                    0 | 1 => { p.push(pid); v.push(pid); }
                    2 => { p.retain(|&x| x != pid); v.retain(|&x| x != pid); }
                    _ => { p.sort_unstable(); p.dedup(); v.sort_unstable(); v.dedup(); }
                }
                prop_assert_eq!(p.as_slice(), v.as_slice());
                prop_assert_eq!(p.clone(), Pids::from_slice(&v));
                prop_assert_eq!(&v.iter().copied().collect::<Pids>(), &p);
                prop_assert_eq!(p.len(), v.len());
                // A copy is its own: changing one leaves the other as it was.
                let mut copy = p.clone();
                copy.push(9);
                copy.sort_unstable();
                prop_assert_eq!(p.as_slice(), v.as_slice());
                let moved = std::mem::take(&mut copy);
                prop_assert_eq!(moved.len(), v.len() + 1);
                prop_assert!(copy.is_empty());
            }
        }

        /// Addr gives back the address it was made from, orders as SocketAddr, and
        /// prints as it.
        #[test]
        fn addr_round_trips_and_orders_as_socket_addr(
            a in any::<(bool, u128, u16)>(),
            b in any::<(bool, u128, u16)>(),
        ) {
            let make = |(v6, bits, port): (bool, u128, u16)| -> SocketAddr {
                if v6 {
                    let ip = std::net::Ipv6Addr::from_bits(bits);
                    SocketAddr::new(unmap(IpAddr::V6(ip)), port)
                } else {
                    SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::from_bits(bits as u32)), port)
                }
            };
            let (x, y) = (make(a), make(b));
            prop_assert_eq!(Addr::from(x).socket_addr(), x);
            prop_assert_eq!(Addr::from(x).to_string(), x.to_string());
            prop_assert_eq!(Addr::from(x).cmp(&Addr::from(y)), x.cmp(&y));
            prop_assert_eq!(Addr::from(x) == Addr::from(y), x == y);
        }
    }
}
