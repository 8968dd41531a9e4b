//! Who holds one of `serve`'s connection slots, and who is dropped to make room: the
//! rules that keep a scraper served while other local users open idle connections by the
//! thousand.
//!
//! - **The newcomer is served.** At most [`MAX_CONNECTIONS`] connections are open, and at
//!   most [`PER_CLIENT`] from one client. A client at its cap makes room among its own
//!   connections; otherwise a full server makes room among all of them. Only when nobody
//!   in that pool may be dropped is the newcomer closed: every one of them is then busy
//!   answering a request.
//! - **The one dropped is the one idle longest**: no response being written, no request
//!   bytes waiting in the kernel (a peek, so that a scraper whose request has arrived but
//!   has not been read yet is never taken for idle), least recently used (accepted, or
//!   last asked something). A response stuck for [`STUCK`] (a client that does not read)
//!   no longer protects its connection, and neither do request bytes waiting behind it:
//!   a client that pipelines requests and never reads the answers always has some, and
//!   would otherwise hold its slot for ever. Unread bytes protect only a connection that
//!   is not stuck writing.
//! - **A response must be written within [`WRITE_DEADLINE`]**: a connection whose peer
//!   stops reading ends then, with or without a newcomer to make room for.
//! - **Loopback is one client.** Every local user connects from loopback, and each can
//!   pick any source address in 127.0.0.0/8 (or `::1`), so addresses cannot tell local
//!   users apart; counting them one by one would only let one user multiply its share.
//!   The cap therefore never shields a local scraper from a local flood, and never refuses
//!   it either (a capped client makes room among its own connections): what serves the
//!   scraper is the eviction above, since a flood of idle connections is always idler
//!   than a connection whose request has arrived. The cap keeps local clients from
//!   crowding out remote ones (a Prometheus elsewhere), and one remote host from
//!   crowding out the others. IPv6 clients count by /64, which one host can hold whole.
//!
//! Idle connections also end on their own: hyper closes a connection whose next request
//! head has not arrived within the header timeout (see `mod.rs`).

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

/// Connections open at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Connections open at once from one client (all of loopback is one client).
pub const PER_CLIENT: usize = 16;
/// A response not written out after this long no longer protects its connection.
pub const STUCK: Duration = Duration::from_secs(10);
/// A response not written out after this long ends its connection (far beyond any
/// scrape timeout: Prometheus gives up after its scrape interval at most).
pub const WRITE_DEADLINE: Duration = Duration::from_secs(60);

/// Who a connection comes from, as far as the caps are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Client {
    /// Any loopback address: every local user.
    Loopback,
    V4(Ipv4Addr),
    /// The /64 of an IPv6 address.
    V6(u64),
}

impl Client {
    pub fn of(ip: IpAddr) -> Client {
        match ip.to_canonical() {
            ip if ip.is_loopback() => Client::Loopback,
            IpAddr::V4(v4) => Client::V4(v4),
            IpAddr::V6(v6) => Client::V6((v6.to_bits() >> 64) as u64),
        }
    }
}

/// What the slot table knows of a connection when it picks one to drop.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub client: Client,
    /// Accepted, or last asked something (ms since the table began).
    pub last_use: u64,
    /// Since when a response has been waiting to be written, if one is.
    pub busy_since: Option<u64>,
}

/// What to do with a newcomer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    Admit,
    /// Admit it after dropping this one.
    Evict(usize),
    /// Nobody may be dropped now, but some connection has a request waiting to be read:
    /// try again once the tasks have run.
    Wait,
    /// Every connection in the pool is answering a request.
    Refuse,
}

/// The rule of this module as a pure function: `entries` are the open connections,
/// `pending(i)` says whether request bytes wait in the kernel for entry `i`.
pub fn choose(
    entries: &[Seen],
    newcomer: Client,
    now: u64,
    mut pending: impl FnMut(usize) -> bool,
) -> Choice {
    let own = entries.iter().filter(|e| e.client == newcomer).count();
    let in_pool: &dyn Fn(&Seen) -> bool = if own >= PER_CLIENT {
        &|e| e.client == newcomer
    } else if entries.len() >= MAX_CONNECTIONS {
        &|_| true
    } else {
        return Choice::Admit;
    };
    let stuck = STUCK.as_millis() as u64;
    let mut candidates: Vec<(bool, u64, usize)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| in_pool(e))
        .filter_map(|(i, e)| match e.busy_since {
            None => Some((false, e.last_use, i)),
            Some(t) if now.saturating_sub(t) >= stuck => Some((true, t, i)),
            Some(_) => None,
        })
        .collect();
    // Idle ones first, the least recently used first; then stuck ones, the oldest first.
    candidates.sort_unstable();
    let mut waiting = false;
    for (stuck, _, i) in candidates {
        // A stuck connection goes even with requests waiting: they wait behind a response
        // its client does not read (pipelined, never to be answered).
        if stuck || !pending(i) {
            return Choice::Evict(i);
        }
        waiting = true;
    }
    if waiting {
        Choice::Wait
    } else {
        Choice::Refuse
    }
}

/// What the accept loop and a connection's task share about one connection.
pub struct Peer {
    /// A duplicate of the connection's descriptor: to peek at it, and to reset it.
    fd: OwnedFd,
    epoch: Instant,
    last_use: AtomicU64,
    /// 1 + ms since the epoch at which a write began to wait; 0 while none waits.
    blocked_since: AtomicU64,
    answered: AtomicBool,
    evicted: Notify,
}

impl Peer {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A request arrived.
    pub fn request(&self) {
        self.answered.store(true, Ordering::Relaxed);
        self.last_use.store(self.now(), Ordering::Relaxed);
    }

    /// Whether a response is being written (the kernel did not take all of it yet).
    pub fn is_busy(&self) -> bool {
        self.blocked_since.load(Ordering::Relaxed) != 0
    }

    /// How long a response has been waiting to be written, if one is.
    pub fn busy_for(&self) -> Option<Duration> {
        let b = self.blocked_since.load(Ordering::Relaxed);
        (b != 0).then(|| Duration::from_millis(self.now().saturating_sub(b - 1)))
    }

    /// Resolves once a response has waited [`WRITE_DEADLINE`] to be written: its client
    /// does not read. Wakes once per deadline while nothing waits.
    pub async fn stalled(&self) {
        loop {
            let left = match self.busy_for() {
                Some(d) if d >= WRITE_DEADLINE => return,
                Some(d) => WRITE_DEADLINE - d,
                None => WRITE_DEADLINE,
            };
            tokio::time::sleep(left).await;
        }
    }

    /// Whether this connection ever asked for anything.
    pub fn answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// Resolves once the accept loop dropped this connection to make room.
    pub async fn evicted(&self) {
        self.evicted.notified().await;
    }

    /// Closes with a reset rather than a FIN: a connection that never asked anything has
    /// no response to lose, and leaves no TIME-WAIT socket behind (a flood would leave
    /// thousands).
    pub fn reset_on_close(&self) {
        let _ = rustix::net::sockopt::set_socket_linger(&self.fd, Some(Duration::ZERO));
    }

    /// Whether request bytes wait in the kernel, unread (or the peer closed).
    fn pending(&self) -> bool {
        let mut b = [0u8; 1];
        let flags = rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT;
        matches!(rustix::net::recv(&self.fd, &mut b[..], flags), Ok((_, n)) if n > 0)
    }

    fn seen(&self, client: Client) -> Seen {
        let b = self.blocked_since.load(Ordering::Relaxed);
        Seen {
            client,
            last_use: self.last_use.load(Ordering::Relaxed),
            busy_since: (b != 0).then(|| b - 1),
        }
    }

    /// A write had to wait: the response is busy from now, unless it already was.
    fn write_waits(&self) {
        if self.blocked_since.load(Ordering::Relaxed) == 0 {
            self.blocked_since.store(self.now() + 1, Ordering::Relaxed);
        }
    }

    /// Everything hyper had to write has reached the kernel.
    fn written(&self) {
        self.blocked_since.store(0, Ordering::Relaxed);
    }
}

/// The open connections.
pub struct Slots {
    epoch: Instant,
    next: AtomicU64,
    table: Mutex<Vec<(u64, Client, Arc<Peer>)>>,
}

/// What [`Slots::admit`] decided.
pub enum Admit {
    In(Ticket),
    Wait,
    Refuse,
}

impl Slots {
    pub fn new() -> Arc<Slots> {
        Arc::new(Slots {
            epoch: Instant::now(),
            next: AtomicU64::new(0),
            table: Mutex::new(Vec::new()),
        })
    }

    /// Finds room for a connection from `ip` (dropping another if it must), by the rule
    /// of [`choose`].
    pub fn admit(self: &Arc<Self>, stream: &impl AsFd, ip: IpAddr) -> Admit {
        let Ok(fd) = stream.as_fd().try_clone_to_owned() else {
            // Out of descriptors: the newcomer cannot be watched, so it is not served.
            return Admit::Refuse;
        };
        let client = Client::of(ip);
        let now = self.epoch.elapsed().as_millis() as u64;
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let seen: Vec<Seen> = table.iter().map(|(_, c, p)| p.seen(*c)).collect();
        match choose(&seen, client, now, |i| table[i].2.pending()) {
            Choice::Admit => {}
            Choice::Evict(i) => {
                let (_, _, gone) = table.swap_remove(i);
                gone.evicted.notify_one();
            }
            Choice::Wait => return Admit::Wait,
            Choice::Refuse => return Admit::Refuse,
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let peer = Arc::new(Peer {
            fd,
            epoch: self.epoch,
            last_use: AtomicU64::new(now),
            blocked_since: AtomicU64::new(0),
            answered: AtomicBool::new(false),
            evicted: Notify::new(),
        });
        table.push((id, client, peer.clone()));
        Admit::In(Ticket {
            slots: self.clone(),
            id,
            peer,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().map(|t| t.len()).unwrap_or(0)
    }
}

/// A connection's hold on its slot: released when the connection ends.
pub struct Ticket {
    slots: Arc<Slots>,
    id: u64,
    pub peer: Arc<Peer>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut table = self.slots.table.lock().unwrap_or_else(|e| e.into_inner());
        table.retain(|(id, _, _)| *id != self.id);
    }
}

/// The connection's stream, telling its [`Peer`] whether a write is waiting for the
/// client to read. Busy runs from the first write that waits until hyper flushes, which
/// it does once its whole buffer reached the kernel: a client that reads a little now
/// and then (letting one write through) stays busy, so it cannot keep its response
/// young.
pub struct Watched<T> {
    io: T,
    peer: Arc<Peer>,
}

impl<T> Watched<T> {
    pub fn new(io: T, peer: Arc<Peer>) -> Watched<T> {
        Watched { io, peer }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if r.is_pending() {
            self.peer.write_waits();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if r.is_pending() {
            self.peer.write_waits();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        if r.is_ready() {
            self.peer.written();
        }
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
