//! Linux sock_diag netlink dump of TCP and UDP sockets, v4 and v6.
//!
//! One netlink socket and one receive buffer are reused across snapshots, rows are parsed
//! straight out of that buffer, and the kernel is asked only for the states wanted: a
//! LISTEN-only dump never walks the established hash table. TCP v4 and v6 come from one
//! walk through the legacy `TCPDIAG_GETSOCK` request, which dumps both families at once.

use crate::error::{Error, Result};
use crate::model::lifecycle::TcpInfo;
use crate::model::socket::unmap;
use crate::model::{
    Addr, AddrPair, OwnerStatus, Pids, Proto, Scope, Socket, State, Timer, TimerKind,
};
use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkBuffer};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_UDP, SOCK_DIAG_BY_FAMILY};
use netlink_packet_sock_diag::inet::{InetResponseBuffer, SocketIdBuffer};

use netlink_packet_sock_diag::constants::{INET_DIAG_INFO, INET_DIAG_SKV6ONLY};
use netlink_sys::{Socket as NlSocket, SocketAddr as NlAddr, protocols::NETLINK_SOCK_DIAG};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Legacy request type that dumps TCP of every family in one hash-table walk.
const TCPDIAG_GETSOCK: u16 = 18;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NL_HDR: usize = 16;
const RECV_BUF: usize = 256 * 1024;

/// Every TCP state up to CLOSING (bits 1..=11). Bit 12 (NEW_SYN_RECV) is implied by
/// SYN_RECV in the kernel; bit 13 ([`BOUND_INACTIVE`]) is left out of every table.
pub(crate) const ALL_STATES: u32 = 0xffe;

/// `TCPF_BOUND_INACTIVE` (Linux 6.5): TCP sockets bound to a port that neither listen nor
/// connect. The kernel keeps them in its bind table only, so asking for them walks that
/// table too (20-30 % more for a whole dump); they come back in state CLOSE (UNCONN).
/// Asked for one port only, when a bind fails and nothing else explains it.
pub(crate) const BOUND_INACTIVE: u32 = 1 << 13;

/// Which states one scope asks the kernel for: (tcp mask, udp mask).
fn masks(scope: Scope) -> (u32, u32) {
    match scope {
        Scope::Listeners => (State::Listen.mask_bit(), State::Unconn.mask_bit()),
        Scope::Serving => (
            State::Listen.mask_bit() | State::CloseWait.mask_bit(),
            State::Unconn.mask_bit(),
        ),
        Scope::All => (ALL_STATES, ALL_STATES),
    }
}

/// A reusable sock_diag dumper.
pub struct SockDiag {
    sock: NlSocket,
    buf: Vec<u8>,
    req: Vec<u8>,
    seq: u32,
    /// Cleared when the kernel refuses the one-walk legacy request; then v4 and v6 TCP are
    /// dumped separately.
    legacy_tcp: bool,
    /// `tcp_info` of every TCP socket of the last dump of every state, by cookie, when
    /// asked for ([`SockDiag::with_tcp_info`]): the kernel then sends about 2.5 times the
    /// bytes, so it is asked only when something shows traffic.
    info: Option<Vec<(u64, TcpInfo)>>,
}

impl SockDiag {
    pub fn open() -> Result<Self> {
        let mut sock = NlSocket::new(NETLINK_SOCK_DIAG).map_err(|e| {
            if matches!(e.raw_os_error(), Some(24) | Some(23)) {
                let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
                    .current
                    .unwrap_or(0);
                Error::TooManyOpenFiles { limit }
            } else {
                Error::NetlinkOpen(e)
            }
        })?;
        sock.bind_auto().map_err(Error::NetlinkOpen)?;
        sock.connect(&NlAddr::new(0, 0))
            .map_err(Error::NetlinkOpen)?;
        // A bigger receive buffer lets the kernel fill larger batches per recv.
        let _ = sock.set_rx_buf_sz(1 << 20);
        Ok(SockDiag {
            sock,
            buf: Vec::with_capacity(RECV_BUF),
            req: Vec::with_capacity(80),
            seq: 0,
            legacy_tcp: true,
            info: None,
        })
    }

    /// Asks (or stops asking) for each TCP socket's `tcp_info` in dumps of every state.
    pub fn with_tcp_info(&mut self, on: bool) {
        match (on, self.info.is_some()) {
            (true, false) => self.info = Some(Vec::new()),
            (false, true) => self.info = None,
            _ => {}
        }
    }

    /// The `tcp_info` of the last dump, by cookie (empty when not asked for).
    pub fn take_tcp_info(&mut self) -> Vec<(u64, TcpInfo)> {
        self.info.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Appends every TCP and UDP socket in `scope` to `out`.
    pub fn dump(&mut self, scope: Scope, out: &mut Vec<Socket>) -> Result<()> {
        let (tcp, udp) = masks(scope);
        self.dump_filtered(tcp, udp, None, out)
    }

    /// Appends the TCP sockets in the states of `tcp` and the UDP ones in the states of
    /// `udp` (state bit masks; 0 skips that protocol) to `out`; with `bytecode` (see
    /// [`super::bytecode`]), only those the kernel's filter keeps.
    pub fn dump_filtered(
        &mut self,
        tcp: u32,
        udp: u32,
        bytecode: Option<&[u8]>,
        out: &mut Vec<Socket>,
    ) -> Result<()> {
        if let Some(v) = &mut self.info {
            v.clear();
        }
        if self.legacy_tcp && tcp != 0 {
            match self.request(Request::LegacyTcp { states: tcp }, bytecode, out) {
                Ok(()) => {}
                Err(e)
                    if e.kind() == io::ErrorKind::InvalidInput || e.raw_os_error() == Some(95) =>
                {
                    self.legacy_tcp = false;
                }
                Err(source) => {
                    return Err(Error::NetlinkDump {
                        what: "tcp",
                        source,
                    });
                }
            }
        }
        if !self.legacy_tcp && tcp != 0 {
            for family in [AF_INET, AF_INET6] {
                self.request(
                    Request::ByFamily {
                        family,
                        protocol: 6,
                        states: tcp,
                    },
                    bytecode,
                    out,
                )
                .map_err(|source| Error::NetlinkDump {
                    what: "tcp",
                    source,
                })?;
            }
        }
        for family in [AF_INET, AF_INET6].into_iter().filter(|_| udp != 0) {
            self.request(
                Request::ByFamily {
                    family,
                    protocol: IPPROTO_UDP,
                    states: udp,
                },
                bytecode,
                out,
            )
            .map_err(|source| Error::NetlinkDump {
                what: "udp",
                source,
            })?;
        }
        Ok(())
    }

    /// This exact TCP socket (tuple and cookie) as the kernel has it now: one lookup, not
    /// a dump. `Ok(None)` when the kernel says it is gone (ENOENT) or the tuple now
    /// belongs to another socket (ESTALE, the cookie differs).
    pub fn lookup(&mut self, s: &Socket) -> io::Result<Option<Socket>> {
        self.seq = self.seq.wrapping_add(1);
        encode_exact(
            s,
            self.seq,
            SOCK_DIAG_BY_FAMILY,
            NLM_F_REQUEST | NLM_F_ACK,
            &mut self.req,
        );
        self.sock.send(&self.req, 0)?;
        let mut found = Vec::new();
        match self.receive(false, false, &mut found) {
            Ok(()) => Ok(found.pop()),
            Err(e) if matches!(e.raw_os_error(), Some(2) | Some(116)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Closes this exact socket (tuple and cookie): `SOCK_DESTROY`, what `ss -K` sends.
    /// `Ok(true)` when the kernel closed it, `Ok(false)` when it was gone or the tuple
    /// now belongs to another socket (the cookie differs): nothing was touched then.
    /// Needs CAP_NET_ADMIN (EPERM without).
    pub fn destroy(&mut self, s: &Socket) -> io::Result<bool> {
        self.seq = self.seq.wrapping_add(1);
        encode_exact(
            s,
            self.seq,
            SOCK_DESTROY,
            NLM_F_REQUEST | NLM_F_ACK,
            &mut self.req,
        );
        self.sock.send(&self.req, 0)?;
        let mut none = Vec::new();
        match self.receive(!s.proto.is_tcp(), false, &mut none) {
            Ok(()) => Ok(true),
            Err(e) if matches!(e.raw_os_error(), Some(2) | Some(116)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One dump, tried again once when the kernel dropped part of it (ENOBUFS: the
    /// receive buffer overflowed during a large dump) or a signal interrupted it; what a
    /// failed try appended is removed, and the late replies of the first try are told
    /// apart by their sequence number.
    fn request(
        &mut self,
        req: Request,
        bytecode: Option<&[u8]>,
        out: &mut Vec<Socket>,
    ) -> io::Result<()> {
        match self.request_once(req, bytecode, out) {
            Err(e) if transient(&e) => self.request_once(req, bytecode, out),
            r => r,
        }
    }

    fn request_once(
        &mut self,
        req: Request,
        bytecode: Option<&[u8]>,
        out: &mut Vec<Socket>,
    ) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        // tcp_info (INET_DIAG_INFO, extension bit 1) for TCP dumps of more than listeners.
        let info = self.info.is_some() && !req.is_udp() && req.states() != State::Listen.mask_bit();
        req.encode_ext(
            self.seq,
            if info { 1 << (INET_DIAG_INFO - 1) } else { 0 },
            &mut self.req,
        );
        if let Some(bc) = bytecode {
            attach_bytecode(&mut self.req, bc);
        }
        self.sock.send(&self.req, 0)?;
        let start = out.len();
        let infos = self.info.as_ref().map_or(0, Vec::len);
        let result = self.receive(req.is_udp(), info, out);
        if result.is_err() {
            out.truncate(start);
            if let Some(v) = &mut self.info {
                v.truncate(infos);
            }
        }
        result
    }

    fn receive(&mut self, udp: bool, info: bool, out: &mut Vec<Socket>) -> io::Result<()> {
        loop {
            self.buf.clear();
            let n = self.sock.recv(&mut self.buf, 0)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "netlink socket closed",
                ));
            }
            let sink = self.info.as_mut().filter(|_| info);
            if parse_batch_with(&self.buf, self.seq, udp, out, sink)? == Batch::Done {
                return Ok(());
            }
        }
    }
}

/// Whether a reply has ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Batch {
    Done,
    More,
}

/// Parses one received batch of netlink messages: rows of the request `seq` go to
/// `out`; messages of other requests are skipped; NLMSG_DONE or NLMSG_ERROR end the
/// reply (an error code becomes the error). A malformed message is an error, never a
/// panic or a loop.
#[cfg(test)]
pub(crate) fn parse_batch(
    buf: &[u8],
    seq: u32,
    udp: bool,
    out: &mut Vec<Socket>,
) -> io::Result<Batch> {
    parse_batch_with(buf, seq, udp, out, None)
}

/// [`parse_batch`], also taking each row's `tcp_info` into `info` (by cookie).
fn parse_batch_with(
    buf: &[u8],
    seq: u32,
    udp: bool,
    out: &mut Vec<Socket>,
    mut info: Option<&mut Vec<(u64, TcpInfo)>>,
) -> io::Result<Batch> {
    let mut off = 0;
    while off + NL_HDR <= buf.len() {
        let msg = NetlinkBuffer::new_checked(&buf[off..])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        let len = msg.length() as usize;
        // Always forward, whatever the length field says.
        let next = off + align(len.max(NL_HDR));
        if msg.sequence_number() != seq {
            off = next;
            continue;
        }
        match msg.message_type() {
            // NLMSG_DONE carries the dump's status; NLMSG_ERROR an error, or (code 0)
            // the ACK that ends a single request.
            NLMSG_DONE | NLMSG_ERROR => {
                let code = first_i32(msg.payload());
                return if code < 0 {
                    Err(io::Error::from_raw_os_error(code.saturating_neg()))
                } else {
                    Ok(Batch::Done)
                };
            }
            _ => {
                if let Some(s) = parse_row(msg.payload(), udp) {
                    if let Some(v) = info.as_deref_mut()
                        && let Some(t) = row_info(msg.payload())
                    {
                        v.push((s.cookie, t));
                    }
                    out.push(s);
                }
            }
        }
        off = next;
    }
    Ok(Batch::More)
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

fn first_i32(p: &[u8]) -> i32 {
    p.get(..4)
        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

#[derive(Clone, Copy)]
enum Request {
    /// `struct inet_diag_req` (the compat layout), family left AF_UNSPEC.
    LegacyTcp { states: u32 },
    /// `struct inet_diag_req_v2`.
    ByFamily {
        family: u8,
        protocol: u8,
        states: u32,
    },
}

impl Request {
    fn states(self) -> u32 {
        match self {
            Request::LegacyTcp { states } | Request::ByFamily { states, .. } => states,
        }
    }

    fn is_udp(self) -> bool {
        matches!(
            self,
            Request::ByFamily {
                protocol: IPPROTO_UDP,
                ..
            }
        )
    }

    #[cfg(test)]
    fn encode(self, seq: u32, buf: &mut Vec<u8>) {
        self.encode_ext(seq, 0, buf);
    }

    /// The request, asking for the extensions in `ext` (`idiag_ext`).
    fn encode_ext(self, seq: u32, ext: u8, buf: &mut Vec<u8>) {
        buf.clear();
        let (kind, body_len) = match self {
            Request::LegacyTcp { .. } => (TCPDIAG_GETSOCK, 60),
            Request::ByFamily { .. } => (SOCK_DIAG_BY_FAMILY, 56),
        };
        let len = (NL_HDR + body_len) as u32;
        buf.extend_from_slice(&len.to_ne_bytes());
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes());
        match self {
            Request::LegacyTcp { states } => {
                // family, src_len, dst_len, ext, then the 48-byte socket id, states, dbs.
                buf.extend_from_slice(&[0, 0, 0, ext]);
                buf.extend_from_slice(&[0; 48]);
                buf.extend_from_slice(&states.to_ne_bytes());
                buf.extend_from_slice(&0u32.to_ne_bytes());
            }
            Request::ByFamily {
                family,
                protocol,
                states,
            } => {
                buf.extend_from_slice(&[family, protocol, ext, 0]);
                buf.extend_from_slice(&states.to_ne_bytes());
                buf.extend_from_slice(&[0; 48]);
            }
        }
    }
}

/// Appends the filter program to an encoded dump request as its
/// `INET_DIAG_REQ_BYTECODE` attribute, and fixes the message's length.
fn attach_bytecode(req: &mut Vec<u8>, bc: &[u8]) {
    const INET_DIAG_REQ_BYTECODE: u16 = 1;
    let attr_len = 4 + bc.len();
    let Ok(len16) = u16::try_from(attr_len) else {
        return;
    };
    req.extend_from_slice(&len16.to_ne_bytes());
    req.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
    req.extend_from_slice(bc);
    req.resize(align(req.len()), 0);
    let total = req.len() as u32;
    req[..4].copy_from_slice(&total.to_ne_bytes());
}

/// Errors a second try of a dump may not meet: ENOBUFS, EINTR.
fn transient(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted || e.raw_os_error() == Some(105)
}

/// A row's `INET_DIAG_INFO`, when it has one.
fn row_info(payload: &[u8]) -> Option<TcpInfo> {
    let row = InetResponseBuffer::new_checked(payload).ok()?;
    row.nlas()
        .flatten()
        .find(|n| n.kind() == INET_DIAG_INFO)
        .and_then(|n| tcp_info(n.value()))
}

/// The fields of a `struct tcp_info` (`INET_DIAG_INFO`) that [`TcpInfo`] keeps, read by
/// offset and only when the kernel sent that much: older kernels send a shorter struct
/// (fields it lacks stay 0). `None` below the fields every kernel since 2.6 has.
pub(crate) fn tcp_info(b: &[u8]) -> Option<TcpInfo> {
    let u32_at = |off: usize| {
        b.get(off..off + 4)
            .map_or(0, |x| u32::from_ne_bytes([x[0], x[1], x[2], x[3]]))
    };
    let u64_at = |off: usize| {
        b.get(off..off + 8).map_or(0, |x| {
            u64::from_ne_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]])
        })
    };
    if b.len() < 76 {
        return None;
    }
    Some(TcpInfo {
        last_send_ms: u32_at(44),
        last_recv_ms: u32_at(52),
        rtt_us: u32_at(68),
        rttvar_us: u32_at(72),
        retrans: u32_at(100),
        bytes_acked: u64_at(120),
        bytes_received: u64_at(128),
        delivery_rate: u64_at(160),
        // tcpi_bytes_sent and tcpi_bytes_retrans, since Linux 4.19.
        payload_sent: (b.len() >= 216).then(|| u64_at(200).saturating_sub(u64_at(208))),
    })
}

/// `SOCK_DESTROY`: the netlink message type that closes one socket (not in
/// netlink-packet-sock-diag 0.4).
const SOCK_DESTROY: u16 = 21;

/// An `inet_diag_req_v2` for exactly one socket (asked about with
/// `SOCK_DIAG_BY_FAMILY`, closed with [`SOCK_DESTROY`]): its protocol, family, full tuple and
/// cookie, so that the kernel answers for that socket and no other.
pub(crate) fn encode_exact(s: &Socket, seq: u32, kind: u16, flags: u16, buf: &mut Vec<u8>) {
    buf.clear();
    let len = (NL_HDR + 56) as u32;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    let v6 = s.proto.is_v6();
    let protocol = if s.proto.is_tcp() { 6 } else { IPPROTO_UDP };
    buf.extend_from_slice(&[if v6 { AF_INET6 } else { AF_INET }, protocol, 0, 0]);
    buf.extend_from_slice(&s.state.mask_bit().to_ne_bytes());
    buf.extend_from_slice(&s.local().port().to_be_bytes());
    buf.extend_from_slice(&s.remote().port().to_be_bytes());
    for a in [s.local().ip(), s.remote().ip()] {
        let mut bytes = [0u8; 16];
        match (a, v6) {
            (IpAddr::V4(ip), false) => bytes[..4].copy_from_slice(&ip.octets()),
            // A v6 socket's v4 address was unmapped when read: map it back.
            (IpAddr::V4(ip), true) => bytes = ip.to_ipv6_mapped().octets(),
            (IpAddr::V6(ip), _) => bytes = ip.octets(),
        }
        buf.extend_from_slice(&bytes);
    }
    buf.extend_from_slice(&0u32.to_ne_bytes()); // interface: any
    // INET_DIAG_NOCOOKIE (all ones) when the cookie is not known: match by tuple only.
    let cookie = if s.cookie == 0 { u64::MAX } else { s.cookie };
    buf.extend_from_slice(&(cookie as u32).to_ne_bytes());
    buf.extend_from_slice(&((cookie >> 32) as u32).to_ne_bytes());
}

/// Parses one `inet_diag_msg` without allocating.
pub(crate) fn parse_row(payload: &[u8], udp: bool) -> Option<Socket> {
    let row = InetResponseBuffer::new_checked(payload).ok()?;
    let family = row.family();
    let v6 = match family {
        AF_INET => false,
        AF_INET6 => true,
        _ => return None,
    };
    let state = State::from_kernel(row.state())?;
    let id = SocketIdBuffer::new_checked(row.socket_id()).ok()?;
    let addr = |bytes: &[u8], port: &[u8]| -> Addr {
        let ip = if v6 {
            let mut a = [0u8; 16];
            a.copy_from_slice(&bytes[..16]);
            unmap(IpAddr::V6(Ipv6Addr::from(a)))
        } else {
            IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
        };
        Addr::new(ip, u16::from_be_bytes([port[0], port[1]]))
    };
    let local = addr(id.source_address(), id.source_port());
    let remote = addr(id.destination_address(), id.destination_port());
    let c = id.cookie();
    let cookie = u64::from(u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        | (u64::from(u32::from_ne_bytes([c[4], c[5], c[6], c[7]])) << 32);
    let timer = TimerKind::from_kernel(row.timer()).map(|kind| Timer {
        kind,
        expires_ms: row.expires(),
        retrans: row.retransmits(),
    });
    let inode = row.inode();
    // The kernel adds INET_DIAG_SKV6ONLY to every IPv6 row.
    let v6only = v6
        && row
            .nlas()
            .flatten()
            .any(|n| n.kind() == INET_DIAG_SKV6ONLY && n.value().first() == Some(&1));
    Some(Socket {
        proto: Proto::new(!udp, v6),
        addrs: AddrPair::new(local, remote),
        state,
        recv_q: row.recv_queue(),
        send_q: row.send_queue(),
        timer,
        uid: row.uid(),
        inode,
        cookie,
        netns: 0,
        v6only,
        owners: Pids::new(),
        owner_status: if inode == 0 {
            OwnerStatus::Kernel
        } else {
            OwnerStatus::Unknown
        },
        maker: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A real reply: every TCP socket of this machine (after opening a listener and a
    /// connection of our own, so that it is never empty), as the batches the kernel sent,
    /// with the sequence number they answer.
    fn captured() -> (Vec<Vec<u8>>, u32) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let _c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let _s = l.accept().unwrap();
        let mut d = SockDiag::open().unwrap();
        d.seq = 77;
        Request::LegacyTcp { states: u32::MAX }.encode(d.seq, &mut d.req);
        d.sock.send(&d.req, 0).unwrap();
        let mut batches = Vec::new();
        loop {
            d.buf.clear();
            d.sock.recv(&mut d.buf, 0).unwrap();
            batches.push(d.buf.clone());
            let mut rows = Vec::new();
            if parse_batch(&d.buf, 77, false, &mut rows).unwrap() == Batch::Done {
                return (batches, 77);
            }
        }
    }

    /// The messages of a batch, each as its own byte range.
    fn messages(buf: &[u8]) -> Vec<std::ops::Range<usize>> {
        let mut out = Vec::new();
        let mut off = 0;
        while off + NL_HDR <= buf.len() {
            let len =
                u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]]) as usize;
            let end = (off + align(len.max(NL_HDR))).min(buf.len());
            out.push(off..end);
            off = end;
        }
        out
    }

    #[test]
    fn a_real_reply_parses_whole_and_split_across_batches() {
        let (batches, seq) = captured();
        let all: Vec<u8> = batches.concat();
        let mut whole = Vec::new();
        assert_eq!(
            parse_batch(&all, seq, false, &mut whole).unwrap(),
            Batch::Done
        );
        assert!(whole.iter().any(|s| s.state == State::Listen));
        // Split at message boundaries (every one on a small table; 64 spread evenly on a
        // big one, or the test grows with the square of the machine's sockets): the two
        // halves give the same rows.
        let cuts = messages(&all);
        let step = cuts.len().div_ceil(64).max(1);
        for m in cuts.iter().step_by(step).chain(cuts.last()) {
            let (a, b) = all.split_at(m.start);
            let mut rows = Vec::new();
            let first = parse_batch(a, seq, false, &mut rows).unwrap();
            if first == Batch::More {
                assert_eq!(parse_batch(b, seq, false, &mut rows).unwrap(), Batch::Done);
            }
            assert_eq!(rows, whole);
        }
        // Another request's reply is skipped whole.
        let mut none = Vec::new();
        assert_eq!(
            parse_batch(&all, seq + 1, false, &mut none).unwrap(),
            Batch::More
        );
        assert!(none.is_empty());
    }

    /// A message header with the given length, type and sequence, and `payload`.
    fn message(len: u32, kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&len.to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn lengths_and_error_codes_that_once_could_hang_or_overflow() {
        // Another request's message claiming length 0 must not stall the walk.
        let mut b = message(0, 20, 5, &[]);
        b.extend(message(20, NLMSG_DONE, 9, &0i32.to_ne_bytes()));
        let mut rows = Vec::new();
        let r = parse_batch(&b, 9, false, &mut rows);
        assert!(matches!(r, Ok(Batch::Done) | Err(_)), "{r:?}");
        // An error code of i32::MIN: an error, not an overflow.
        let b = message(20, NLMSG_ERROR, 9, &i32::MIN.to_ne_bytes());
        assert!(parse_batch(&b, 9, false, &mut rows).is_err());
    }

    #[test]
    fn unknown_attributes_are_ignored() {
        let (batches, seq) = captured();
        let all: Vec<u8> = batches.concat();
        let first = messages(&all)[0].clone();
        let msg = &all[first];
        let mut with = msg.to_vec();
        // An attribute of a type no kernel sends yet: 8 bytes, type 0x7ff0.
        with.extend_from_slice(&8u16.to_ne_bytes());
        with.extend_from_slice(&0x7ff0u16.to_ne_bytes());
        with.extend_from_slice(&[1, 2, 3, 4]);
        let len = with.len() as u32;
        with[..4].copy_from_slice(&len.to_ne_bytes());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let _ = parse_batch(msg, seq, false, &mut a);
        let _ = parse_batch(&with, seq, false, &mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
        /// Cut anywhere, bytes changed anywhere (lengths and attributes included): an
        /// error or rows, never a panic or a hang.
        #[test]
        fn damaged_replies_never_panic(
            cut in 0usize..4096,
            flips in proptest::collection::vec((0usize..4096, any::<u8>()), 0..16),
        ) {
            let (batches, seq) = captured();
            let mut all: Vec<u8> = batches.concat();
            all.truncate(cut.min(all.len()));
            for (at, v) in flips {
                if let Some(b) = all.get_mut(at) {
                    *b = v;
                }
            }
            let mut rows = Vec::new();
            let _ = parse_batch(&all, seq, false, &mut rows);
            let _ = parse_batch(&all, seq, true, &mut rows);
        }

        #[test]
        fn any_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..512), seq in any::<u32>()) {
            let mut rows = Vec::new();
            let _ = parse_batch(&b, seq, false, &mut rows);
        }
    }

    #[test]
    fn requests_have_the_kernel_layouts() {
        let mut b = Vec::new();
        Request::LegacyTcp { states: 1 << 10 }.encode(7, &mut b);
        assert_eq!(b.len(), 76);
        assert_eq!(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]), 76);
        assert_eq!(u16::from_ne_bytes([b[4], b[5]]), 18);
        assert_eq!(u32::from_ne_bytes([b[8], b[9], b[10], b[11]]), 7);
        assert_eq!(u32::from_ne_bytes([b[68], b[69], b[70], b[71]]), 1 << 10);
        Request::ByFamily {
            family: AF_INET6,
            protocol: IPPROTO_UDP,
            states: 0x80,
        }
        .encode(1, &mut b);
        assert_eq!(b.len(), 72);
        assert_eq!((b[16], b[17]), (AF_INET6, IPPROTO_UDP));
        assert_eq!(u32::from_ne_bytes([b[20], b[21], b[22], b[23]]), 0x80);
    }

    #[test]
    fn garbage_rows_are_skipped() {
        assert!(parse_row(&[], false).is_none());
        assert!(parse_row(&[9; 72], false).is_none());
        let mut row = [0u8; 72];
        row[0] = AF_INET;
        row[1] = 10;
        row[4..6].copy_from_slice(&8080u16.to_be_bytes());
        row[8..12].copy_from_slice(&[127, 0, 0, 1]);
        row[68..72].copy_from_slice(&42u32.to_ne_bytes());
        let s = parse_row(&row, false).unwrap();
        assert_eq!(
            (s.proto, s.state, s.local().to_string(), s.inode),
            (Proto::Tcp, State::Listen, "127.0.0.1:8080".into(), 42)
        );
    }
}
