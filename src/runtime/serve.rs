//! `sockscope serve`: Prometheus metrics over HTTP (hyper), for hosts that outgrow one
//! terminal.
//!
//! Collection is never doubled: the collector thread of the live view takes one snapshot
//! per `--interval`, and each snapshot is encoded once ([`crate::output::metrics`]);
//! every scrape, however many arrive at once, gets the latest encoding. A scrape never
//! waits for the kernel.
//!
//! Robustness: a request's head must arrive within [`HEADER_TIMEOUT`] (a slow client is
//! dropped), a head larger than [`MAX_HEAD`] is answered 431, at most [`MAX_CONNECTIONS`]
//! connections are served at once (more are closed), and unknown paths get 404. SIGTERM,
//! SIGINT and SIGHUP end it with status 0.

use crate::collect::worker::Worker;
use crate::collect::{self, CollectorKind};
use crate::diagnose::CloseWaitTracker;
use crate::error::{Error, Result};
use crate::model::diff::ChangeKind;
use crate::model::{Collected, Scope};
use crate::output::metrics::{EventCounters, Inputs, openmetrics, text_format};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};

/// A request head must arrive within this long.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest request head served (431 beyond).
pub const MAX_HEAD: usize = 16 * 1024;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;

/// What `serve` was asked for.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub interval: Duration,
    pub top: usize,
    pub collector: CollectorKind,
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

async fn serve(opts: ServeOptions) -> Result<u8> {
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| Error::Start {
            what: "the metrics listener",
            source,
        })?;
    let addr = listener.local_addr().unwrap_or(opts.listen);
    let collector = collect::open(opts.collector)?;
    let name = collector.name();
    let (tx, mut snapshots) = tokio::sync::mpsc::unbounded_channel();
    let _worker = Worker::spawn(collector, Scope::All, opts.interval, move |m| {
        tx.send(m).is_ok()
    })
    .map_err(|source| Error::Start {
        what: "the collector thread",
        source,
    })?;
    let latest: Shared = Arc::default();
    let events = EventCounters::default();
    let mut tracker = CloseWaitTracker::default();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
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
    let ephemeral = collect::ephemeral_range();
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(crate::commands::EXIT_OK),
            _ = int.recv() => return Ok(crate::commands::EXIT_OK),
            _ = hup.recv() => return Ok(crate::commands::EXIT_OK),
            Some(m) = snapshots.recv() => {
                let c: Option<Collected> = m.ok();
                let mut l = latest.write().unwrap_or_else(|e| e.into_inner());
                match c {
                    Some(c) => {
                        count_events(&events, &c);
                        let leaking = tracker.observe(&c.snapshot);
                        let om = openmetrics(&Inputs {
                            snap: &c.snapshot,
                            leaking: &leaking,
                            events: &events,
                            top: opts.top,
                            took: c.took,
                            ok: true,
                            collector: name,
                            ephemeral: ephemeral.clone(),
                        });
                        l.text = Bytes::from(text_format(&om));
                        l.openmetrics = Bytes::from(om);
                        l.at = Some(Instant::now());
                        l.ok = true;
                    }
                    None => l.ok = false,
                }
            }
            conn = listener.accept() => {
                let Ok((stream, _)) = conn else { continue };
                // Over the limit: close at once rather than queue without bound.
                let Ok(permit) = slots.clone().try_acquire_owned() else { continue };
                let shared = latest.clone();
                let interval = opts.interval;
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(respond(&req, &shared, interval)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_TIMEOUT)
                        .max_buf_size(MAX_HEAD)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    drop(permit);
                });
            }
        }
    }
}

/// Adds one snapshot's events to the counters.
fn count_events(events: &EventCounters, c: &Collected) {
    if c.rescoped {
        return;
    }
    let d = &c.delta;
    events.add("opened", d.opened.len() as u64);
    events.add("closed", d.closed.len() as u64);
    let states = d
        .changed
        .iter()
        .filter(|x| matches!(x.kind, ChangeKind::State { .. }))
        .count() as u64;
    events.add("state_changed", states);
    events.add("owner_changed", d.changed.len() as u64 - states);
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
