//! Sockets freed between the polls: a netlink socket subscribed to sock_diag's destroy
//! groups (what `ss -E` reads), one per network namespace, drained on the collector's
//! thread before each dump. The kernel sends one message per socket freed — tuple,
//! uid, cookie and, for TCP, the whole `tcp_info` — only while a subscriber exists; the
//! diag socket is made with `NL_CFG_F_NONROOT_RECV`, so an unprivileged user may
//! subscribe too. A subscriber that falls behind gets `ENOBUFS`: what it lost is counted
//! and said, never silent.

use super::sockdiag::{parse_row, tcp_info};
use crate::model::lifecycle::{Freed, Lost};
use netlink_packet_core::NetlinkBuffer;
use netlink_packet_sock_diag::constants::{INET_DIAG_INFO, INET_DIAG_PROTOCOL};
use netlink_packet_sock_diag::inet::InetResponseBuffer;
use netlink_sys::{Socket as NlSocket, SocketAddr as NlAddr, protocols::NETLINK_SOCK_DIAG};
use std::io;

/// `SKNLGRP_INET_TCP_DESTROY`, `…_UDP_…`, `SKNLGRP_INET6_TCP_DESTROY`, `…_UDP_…`: groups
/// 1 to 4, as the bind mask of the first netlink multicast groups.
const DESTROY_GROUPS: u32 = 0b1111;
/// Receive buffer asked for: 8 MiB holds about 25,000 events between two drains (each
/// about 340 bytes with its `tcp_info`). Root gets it whole (`SO_RCVBUFFORCE`); others
/// get up to `net.core.rmem_max`.
pub const RECV_BUF: usize = 8 << 20;
const NL_HDR: usize = 16;
/// Sets the receive buffer in bytes instead of [`RECV_BUF`] (at least 4096): for a host
/// that frees more than about 25,000 sockets a second, or to see a loss reported.
pub const BUF_VAR: &str = "SOCKSCOPE_EVENT_BUFFER";

/// The receive buffer to ask for: [`BUF_VAR`] when it is a number of bytes, else
/// [`RECV_BUF`].
pub fn recv_buf() -> usize {
    std::env::var(BUF_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(RECV_BUF, |b| b.max(4096))
}
const IPPROTO_TCP: u8 = 6;

/// Messages taken per `recvmmsg`, and the room each gets: a destroy message with its
/// `tcp_info` is about 340 bytes. The kernel queues one datagram per socket freed, so a
/// `recv` a message cost a system call per closed socket (3,800 a second under the
/// churn benchmark); a batch takes up to [`SLOTS`] of them in one.
const SLOTS: usize = 32;
const SLOT: usize = 2048;

/// One namespace's subscriber.
pub struct Subscriber {
    sock: NlSocket,
    buf: Box<[[u8; SLOT]; SLOTS]>,
    lost: Lost,
}

impl Subscriber {
    /// Subscribes in the calling thread's network namespace, with a receive buffer of
    /// `rcvbuf` bytes (as much of it as the kernel grants).
    pub fn open(rcvbuf: usize) -> io::Result<Subscriber> {
        let mut sock = NlSocket::new(NETLINK_SOCK_DIAG)?;
        sock.bind(&NlAddr::new(0, DESTROY_GROUPS))?;
        sock.set_non_blocking(true)?;
        force_rcvbuf(&sock, rcvbuf);
        Ok(Subscriber {
            sock,
            buf: Box::new([[0; SLOT]; SLOTS]),
            lost: Lost::default(),
        })
    }

    /// What it lost so far.
    pub fn lost(&self) -> Lost {
        self.lost
    }

    /// Takes every event queued so far into `out` (each with `netns`); true when some
    /// were lost since the last drain (the kernel's queue overflowed).
    pub fn drain(&mut self, netns: u32, now_ms: u64, out: &mut Vec<Freed>) -> bool {
        let mut lost = false;
        let mut lens = [0usize; SLOTS];
        loop {
            match recv_batch(&self.sock, &mut self.buf, &mut lens) {
                Ok(0) => break,
                Ok(n) => {
                    for (slot, &len) in self.buf.iter().zip(&lens[..n]) {
                        parse_events(&slot[..len.min(SLOT)], netns, out);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ENOBUFS: the queue overflowed and events were dropped; the socket
                // goes on working.
                Err(e) if e.raw_os_error() == Some(105) => {
                    lost = true;
                    self.lost.times += 1;
                    self.lost.last_ms = now_ms;
                }
                Err(_) => break,
            }
        }
        lost
    }
}

/// Takes up to [`SLOTS`] queued messages into the slots of `buf` at once (without
/// waiting); `lens` gets each one's length. Returns how many. (An error met after the
/// first message, such as `ENOBUFS`, comes back from the next call.)
fn recv_batch(
    sock: &NlSocket,
    buf: &mut [[u8; SLOT]; SLOTS],
    lens: &mut [usize; SLOTS],
) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: iovec and mmsghdr are plain C structs for which all zeroes (null pointers,
    // zero lengths) is a valid value.
    let mut iov: [libc::iovec; SLOTS] = unsafe { std::mem::zeroed() };
    let mut hdrs: [libc::mmsghdr; SLOTS] = unsafe { std::mem::zeroed() };
    for ((v, h), slot) in iov.iter_mut().zip(hdrs.iter_mut()).zip(buf.iter_mut()) {
        v.iov_base = slot.as_mut_ptr().cast();
        v.iov_len = SLOT;
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at its own iovec, each iovec at its own slot of `buf`;
    // all of them outlive the call, which writes only there (and into `hdrs`).
    let n = unsafe {
        libc::recvmmsg(
            sock.as_raw_fd(),
            hdrs.as_mut_ptr(),
            SLOTS as _,
            libc::MSG_DONTWAIT as _,
            std::ptr::null_mut(),
        )
    };
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    for (len, h) in lens.iter_mut().zip(&hdrs[..n]) {
        *len = h.msg_len as usize;
    }
    Ok(n)
}

/// Asks for `bytes` of receive buffer: `SO_RCVBUFFORCE` (root, past `rmem_max`), else
/// `SO_RCVBUF` (capped by the kernel).
fn force_rcvbuf(sock: &NlSocket, bytes: usize) {
    use rustix::net::sockopt::{set_socket_recv_buffer_size, set_socket_recv_buffer_size_force};
    use std::os::fd::AsFd;
    if set_socket_recv_buffer_size_force(sock.as_fd(), bytes).is_err() {
        let _ = set_socket_recv_buffer_size(sock.as_fd(), bytes);
    }
}

/// Parses one received batch of destroy messages. A malformed message ends the batch,
/// never a panic.
pub fn parse_events(buf: &[u8], netns: u32, out: &mut Vec<Freed>) {
    let mut off = 0;
    while off + NL_HDR <= buf.len() {
        let Ok(msg) = NetlinkBuffer::new_checked(&buf[off..]) else {
            return;
        };
        let len = msg.length() as usize;
        if let Some(f) = parse_freed(msg.payload(), netns) {
            out.push(f);
        }
        off += (len.max(NL_HDR) + 3) & !3;
    }
}

/// One destroy message: an `inet_diag_msg` with `INET_DIAG_PROTOCOL` (TCP or UDP) and,
/// for TCP, `INET_DIAG_INFO`.
fn parse_freed(payload: &[u8], netns: u32) -> Option<Freed> {
    let row = InetResponseBuffer::new_checked(payload).ok()?;
    let mut protocol = None;
    let mut info = None;
    for nla in row.nlas().flatten() {
        match nla.kind() {
            INET_DIAG_PROTOCOL => protocol = nla.value().first().copied(),
            INET_DIAG_INFO => info = tcp_info(nla.value()),
            _ => {}
        }
    }
    let tcp = protocol? == IPPROTO_TCP;
    let s = parse_row(payload, !tcp)?;
    Some(Freed {
        proto: s.proto,
        local: s.local(),
        remote: s.remote(),
        netns,
        cookie: s.cookie,
        uid: s.uid,
        tcp: if tcp { info } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    /// Real sockets: a connection that moves 1,000 bytes and closes is one event per
    /// end, each with its tuple, cookie and tcp_info.
    #[test]
    fn a_closed_connection_is_an_event_per_end_with_its_bytes() {
        let mut sub = Subscriber::open(RECV_BUF).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let mut c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut a, _) = l.accept().unwrap();
        c.write_all(&[7u8; 1000]).unwrap();
        let mut got = vec![0u8; 1000];
        a.read_exact(&mut got).unwrap();
        drop(a);
        let mut b = [0u8; 1];
        let _ = c.read(&mut b);
        drop(c);
        let end = Instant::now() + Duration::from_secs(20);
        let mut events = Vec::new();
        while Instant::now() < end {
            sub.drain(0, 0, &mut events);
            let ours = events
                .iter()
                .filter(|e| e.local.port() == port || e.remote.port() == port)
                .count();
            if ours >= 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let client = events
            .iter()
            .find(|e| e.remote.port() == port)
            .expect("the client end's event");
        let info = client.tcp.expect("tcp_info");
        assert_eq!(info.sent(true), 1000, "{info:?}");
        assert!(client.proto.is_tcp() && client.cookie != 0);
        let server = events
            .iter()
            .find(|e| e.local.port() == port)
            .expect("the server end's event");
        assert_eq!(server.tcp.unwrap().received(true), 1000);
    }

    /// A burst of closes several batches long: every end comes once, none twice.
    #[test]
    fn a_burst_longer_than_a_batch_arrives_whole_and_once() {
        let mut sub = Subscriber::open(RECV_BUF).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let n = 3 * SLOTS + 5;
        for _ in 0..n {
            let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
            let (a, _) = l.accept().unwrap();
            drop(c);
            drop(a);
        }
        let ours = |events: &[Freed]| {
            events
                .iter()
                .filter(|e| e.local.port() == port || e.remote.port() == port)
                .map(|e| e.cookie)
                .collect::<Vec<_>>()
        };
        let mut events = Vec::new();
        let end = Instant::now() + Duration::from_secs(20);
        while ours(&events).len() < 2 * n && Instant::now() < end {
            sub.drain(0, 0, &mut events);
            std::thread::sleep(Duration::from_millis(20));
        }
        // A little longer: a second report of any would show now.
        std::thread::sleep(Duration::from_millis(200));
        sub.drain(0, 0, &mut events);
        let mut cookies = ours(&events);
        assert_eq!(cookies.len(), 2 * n, "every end of {n} connections once");
        cookies.sort_unstable();
        cookies.dedup();
        assert_eq!(cookies.len(), 2 * n, "no end twice");
        assert_eq!(sub.lost().times, 0);
    }

    /// A subscriber with a tiny receive buffer and a burst of closes: the overflow is
    /// counted (with when), never silent, and the subscriber goes on receiving.
    #[test]
    fn an_overflow_is_counted_and_the_subscriber_goes_on() {
        let mut sub = Subscriber::open(4096).unwrap();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        for _ in 0..300 {
            let c = TcpStream::connect(addr).unwrap();
            let (a, _) = l.accept().unwrap();
            drop(c);
            drop(a);
        }
        let mut events = Vec::new();
        let end = Instant::now() + Duration::from_secs(20);
        // The kernel sends destroy events from a work queue: wait for the overflow.
        while !sub.drain(0, 1234, &mut events) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(sub.lost().times >= 1 && sub.lost().last_ms == 1234);
        assert!(events.len() < 600, "{} events fit in 4 KiB?", events.len());
        // After the overflow, new closes still arrive (one may still be dropped while
        // the burst's events drain: a fresh connection each try).
        let port = addr.port();
        let end = Instant::now() + Duration::from_secs(20);
        let seen = loop {
            let c = TcpStream::connect(addr).unwrap();
            let (a, _) = l.accept().unwrap();
            let client = c.local_addr().unwrap().port();
            drop(c);
            drop(a);
            let mut tries = 0;
            let mut found = false;
            while tries < 10 && !found {
                events.clear();
                sub.drain(0, 0, &mut events);
                found = events
                    .iter()
                    .any(|e| e.local.port() == client && e.remote.port() == port);
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            if found || Instant::now() > end {
                break found;
            }
        };
        assert!(seen, "the subscriber stopped after its overflow");
    }

    #[test]
    fn odd_bytes_parse_to_nothing_without_panic() {
        let mut out = Vec::new();
        for len in [0usize, 3, 16, 40, 100] {
            parse_events(&vec![0xff; len], 0, &mut out);
            parse_events(&vec![0; len], 0, &mut out);
        }
        assert!(out.is_empty());
    }
}
