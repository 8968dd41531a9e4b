//! `sockscope serve`: Prometheus metrics over HTTP (hyper), for hosts that outgrow one
//! terminal.
//!
//! Collection is never doubled: the collector thread of the live view takes one snapshot
//! per `--interval`, and each snapshot is encoded once ([`crate::output::metrics`]);
//! every scrape, however many arrive at once, gets the latest encoding. A scrape never
//! waits for the kernel.
//!
//! Robustness: a request's head must arrive within [`HEADER_TIMEOUT`] (a slow or silent
//! client is dropped, between requests too), a head larger than [`MAX_HEAD`] is answered
//! 431, and unknown paths get 404. A response not written out within
//! [`slots::WRITE_DEADLINE`] (a client that stopped reading) ends its connection. Who
//! gets a connection slot is the rule of `slots.rs`: the newcomer is served, and the connection idle longest makes room, so that local
//! users holding idle connections cannot keep a scraper out. Rendering happens on the
//! collector thread, outside the lock scrapes read under. SIGTERM, SIGINT and SIGHUP end
//! it with status 0.

mod slots;

use crate::collect::worker::Worker;
use crate::collect::{self, CollectorKind};
use crate::diagnose::CloseWaitTracker;
use crate::error::{Error, Result};
use crate::model::{Collected, Scope};
use crate::output::metrics::{Counters, Inputs, openmetrics, text_format};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use slots::{Admit, Slots, Ticket, Watched};
pub use slots::{MAX_CONNECTIONS, PER_CLIENT};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

/// A request head must arrive within this long.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head served (431 beyond).
pub const MAX_HEAD: usize = 16 * 1024;
/// The accept queue asked of the kernel (which caps it at `net.core.somaxconn`):
/// connections wait there while the server turns idle ones over, and a full queue drops
/// a scraper's SYN (its client retries only a second later).
const BACKLOG: u32 = 4096;
/// How long an evicted connection may finish the response it is writing.
const EVICT_GRACE: Duration = Duration::from_secs(2);

/// What `serve` was asked for.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub interval: Duration,
    pub top: usize,
    pub collector: CollectorKind,
    /// The CPU budget of the collector thread.
    pub budget: crate::model::Budget,
}

/// The latest exposition, in both formats.
#[derive(Default)]
struct Latest {
    openmetrics: Bytes,
    text: Bytes,
    /// When the last snapshot arrived, and whether the last collection worked.
    at: Option<Instant>,
    ok: bool,
}

type Shared = Arc<RwLock<Latest>>;

pub fn run(opts: ServeOptions) -> Result<u8> {
    let rt = super::tokio()?;
    rt.block_on(serve(opts))
}

/// The listener, with a long accept queue (see [`BACKLOG`]).
fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// The one-line warning for a listener others can reach, if it is one.
pub fn exposure_warning(addr: SocketAddr) -> Option<String> {
    (!addr.ip().to_canonical().is_loopback()).then(|| {
        format!(
            "warning: {addr} is not a loopback address: the metrics name this host's processes, ports and containers to whoever can reach it (--listen 127.0.0.1:{} keeps them local; otherwise put a firewall or an authenticating proxy in front)",
            addr.port()
        )
    })
}

/// What the collector thread reads, and how often.
fn settings(opts: &ServeOptions) -> crate::collect::worker::Settings {
    crate::collect::worker::Settings::new(Scope::All, opts.interval, opts.budget)
}

async fn serve(opts: ServeOptions) -> Result<u8> {
    let listener = bind(opts.listen).map_err(|source| Error::Start {
        what: "the metrics listener",
        source,
    })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    if let Some(w) = exposure_warning(addr) {
        crate::commands::warn(&w);
    }
    let mut collector = collect::open(opts.collector)?;
    // Bytes per process need each connection's tcp_info.
    collector.set_traffic(true);
    let latest: Shared = Arc::default();
    let report = publisher(latest.clone(), opts.top, collector.name());
    let _worker =
        Worker::spawn(collector, settings(&opts), report).map_err(|source| Error::Start {
            what: "the collector thread",
            source,
        })?;
    let slots = Slots::new();
    crate::commands::warn(&format!(
        "serving metrics on http://{addr}/metrics (every {})",
        crate::model::time::fmt_interval(opts.interval)
    ));
    let on = |kind| {
        signal(kind).map_err(|source| Error::Start {
            what: "signal handling",
            source,
        })
    };
    let (mut term, mut int, mut hup) = (
        on(SignalKind::terminate())?,
        on(SignalKind::interrupt())?,
        on(SignalKind::hangup())?,
    );
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(crate::commands::EXIT_OK),
            _ = int.recv() => return Ok(crate::commands::EXIT_OK),
            _ = hup.recv() => return Ok(crate::commands::EXIT_OK),
            conn = listener.accept() => {
                let (stream, peer) = match conn {
                    Ok(c) => c,
                    // Out of descriptors, most likely: the connection waits in the queue.
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Refused: dropping the stream closes it.
                if let Some(ticket) = admit(&slots, &stream, peer.ip()).await {
                    tokio::spawn(connection(stream, ticket, latest.clone(), opts.interval));
                }
            }
        }
    }
}

/// A slot for a new connection, waiting a little while the only connections that could
/// make room have a request the server has not read yet.
async fn admit(slots: &Arc<Slots>, stream: &TcpStream, ip: IpAddr) -> Option<Ticket> {
    for _ in 0..50 {
        match slots.admit(stream, ip) {
            Admit::In(ticket) => return Some(ticket),
            Admit::Refuse => return None,
            Admit::Wait => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
    None
}

/// Serves one connection until it ends or is dropped to make room for another.
async fn connection(stream: TcpStream, ticket: Ticket, shared: Shared, interval: Duration) {
    let peer = ticket.peer.clone();
    let asked = peer.clone();
    let service = hyper::service::service_fn(move |req| {
        asked.request();
        let reply = respond(&req, &shared, interval);
        async move { Ok::<_, Infallible>(reply) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(Watched::new(stream, peer.clone())), service);
    tokio::pin!(conn);
    tokio::select! {
        // A request that arrived with the eviction is read (and answered) first.
        biased;
        _ = conn.as_mut() => return,
        () = peer.evicted() => {}
        () = peer.stalled() => {
            // Its client stopped reading: nothing it asked for can reach it any more.
            peer.reset_on_close();
            return;
        }
    }
    if peer.is_busy() {
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(EVICT_GRACE, conn).await;
    } else if !peer.answered() {
        peer.reset_on_close();
    }
    drop(ticket);
}

/// The collector thread's report: counts events, renders both formats there (off the
/// event loop), and swaps them in under a short write lock.
fn publisher(
    latest: Shared,
    top: usize,
    collector: &'static str,
) -> impl FnMut(std::result::Result<Collected, Error>) -> bool + Send + 'static {
    let mut counters = Counters::default();
    let mut tracker = CloseWaitTracker::default();
    let ephemeral = collect::ephemeral_range();
    let mut last: Option<Arc<crate::model::Snapshot>> = None;
    move |m| {
        if let Ok(c) = &m
            && last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &c.snapshot))
            && c.closed.is_empty()
        {
            // A round between full tables that changed nothing: the exposition stands.
            let mut l = latest.write().unwrap_or_else(|e| e.into_inner());
            l.at = Some(Instant::now());
            return true;
        }
        last = m.as_ref().ok().map(|c| c.snapshot.clone());
        let rendered = m.ok().map(|c| {
            counters.observe(&c, top, &ephemeral);
            let leaking = tracker.observe(&c.snapshot);
            let om = openmetrics(&Inputs {
                snap: &c.snapshot,
                leaking: &leaking,
                counters: &counters,
                top,
                took: c.took,
                ok: true,
                collector,
                ephemeral: ephemeral.clone(),
                fresh: &c.fresh,
            });
            (Bytes::from(text_format(&om)), Bytes::from(om))
        });
        let mut l = latest.write().unwrap_or_else(|e| e.into_inner());
        match rendered {
            Some((text, om)) => {
                l.text = text;
                l.openmetrics = om;
                l.at = Some(Instant::now());
                l.ok = true;
            }
            None => l.ok = false,
        }
        true
    }
}

fn respond(req: &Request<Incoming>, shared: &Shared, interval: Duration) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, ctype: &'static str, body: Bytes| {
        let mut r = Response::new(Full::new(body));
        *r.status_mut() = status;
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"only GET\n"),
        );
    }
    let l = shared.read().unwrap_or_else(|e| e.into_inner());
    match req.uri().path() {
        "/metrics" => {
            if l.at.is_none() {
                return reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"no snapshot yet\n"),
                );
            }
            let wants_om = req
                .headers()
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .any(|v| v.contains("application/openmetrics-text"));
            if wants_om {
                reply(
                    StatusCode::OK,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    l.openmetrics.clone(),
                )
            } else {
                reply(
                    StatusCode::OK,
                    "text/plain; version=0.0.4; charset=utf-8",
                    l.text.clone(),
                )
            }
        }
        "/healthz" => {
            // Healthy while snapshots keep coming and the last one worked.
            let fresh =
                l.at.is_some_and(|t| t.elapsed() < interval * 3 + Duration::from_secs(2));
            if fresh && l.ok {
                reply(
                    StatusCode::OK,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"ok\n"),
                )
            } else {
                reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain; charset=utf-8",
                    Bytes::from_static(b"collection failing or stalled\n"),
                )
            }
        }
        "/" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from_static(LANDING.as_bytes()),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"not found: try /metrics\n"),
        ),
    }
}

const LANDING: &str = "<!doctype html>\n<html><head><title>sockscope</title></head><body>\n<h1>sockscope</h1>\n<p><a href=\"/metrics\">/metrics</a> (Prometheus text format; OpenMetrics when asked) · <a href=\"/healthz\">/healthz</a></p>\n</body></html>\n";
