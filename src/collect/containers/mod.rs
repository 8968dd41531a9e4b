//! Containers' details from their engine: the Docker Engine API on its unix socket
//! (`$DOCKER_HOST`, `/var/run/docker.sock`, or Podman's compatible socket). Plain
//! HTTP/1.0 over the socket, the response head parsed with `httparse`; no async runtime
//! in the collector.
//!
//! Lookups never block a snapshot: ids go to a thread of their own, answers land in a
//! cache, and a snapshot uses what the cache has (a one-shot command may wait a moment
//! for it: [`Containers::settle`]). Every request has one deadline for all of it
//! (connect, write and the whole answer): an engine that trickles bytes cannot hold a
//! command past it.
//!
//! The engine's answers are evidence (SPEC §11): which process is a container's main
//! one (`State.Pid`) and which host ports it publishes. Its labels are not: whoever
//! built the image chose them.

mod api;
mod confirm;

pub use api::{Api, ApiError, STOP_MARGIN, TIMEOUT, socket_path};
pub use confirm::{confirm, share_ns};

use crate::model::container::{Access, Published, PublishedBy};
use crate::model::{Container, Evidence, Runtime};
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the lookup thread is asked.
enum Lookup {
    Inspect(Runtime, String),
    List,
}

/// The engine's list of published host ports, as last answered.
#[derive(Default)]
struct Listing {
    /// (port, full id); `None` until the engine answered.
    ports: Option<Vec<(Published, String)>>,
    /// Why the last list failed, if it did.
    failed: Option<Access>,
}

/// The cache of containers' details, filled by a lookup thread.
pub struct Containers {
    known: Arc<Mutex<HashMap<String, Container>>>,
    listing: Arc<Mutex<Listing>>,
    asked: HashMap<String, Instant>,
    listed: Option<Instant>,
    list_pending: bool,
    tx: Option<Sender<Lookup>>,
    runtime: Runtime,
}

/// How long an answer is trusted before the container is asked about again (a restart
/// policy or a name may change).
const FRESH: Duration = Duration::from_secs(30);
/// A port a docker-proxy holds that the engine's list does not show is asked about
/// again at most this often.
const MISSING_AGAIN: Duration = Duration::from_secs(2);

impl Default for Containers {
    fn default() -> Self {
        Containers::new()
    }
}

impl Containers {
    pub fn new() -> Containers {
        let known = Arc::new(Mutex::new(HashMap::new()));
        let listing = Arc::new(Mutex::new(Listing::default()));
        let (tx, rx) = channel();
        let (k, l) = (known.clone(), listing.clone());
        let tx = std::thread::Builder::new()
            .name("sockscope-containers".into())
            .spawn(move || lookups(&rx, &k, &l))
            .ok()
            .map(|_| tx);
        Containers {
            known,
            listing,
            asked: HashMap::new(),
            listed: None,
            list_pending: false,
            tx,
            runtime: Api::new().map_or(Runtime::Docker, |a| a.runtime()),
        }
    }

    /// The details of a container known by its cgroup: what the cache has now, and a
    /// lookup asked for when it has nothing fresh.
    pub fn enrich(&mut self, c: &Container) -> Container {
        let cached = self
            .known
            .lock()
            .ok()
            .and_then(|m| m.get(&c.full_id).cloned());
        let stale = self
            .asked
            .get(&c.full_id)
            .is_none_or(|t| t.elapsed() >= FRESH);
        if stale && let Some(tx) = &self.tx {
            self.asked.insert(c.full_id.clone(), Instant::now());
            let _ = tx.send(Lookup::Inspect(c.runtime, c.full_id.clone()));
        }
        let mut out = cached.unwrap_or_else(|| c.clone());
        // The cgroup directory is the process's, not the engine's.
        out.dir.clone_from(&c.dir);
        out
    }

    /// The host ports the engine says its containers publish, each with its container
    /// (details from the cache). Asks the engine again when the list is old, or when
    /// `missing` (a docker-proxy holds a port the list lacks) and it is a little old.
    pub fn published(&mut self, missing: bool) -> Vec<PublishedBy> {
        let age = self.listed.map(|t| t.elapsed());
        let due = age.is_none_or(|a| a >= FRESH || (missing && a >= MISSING_AGAIN));
        if due && let Some(tx) = &self.tx {
            self.listed = Some(Instant::now());
            self.list_pending = true;
            let _ = tx.send(Lookup::List);
        }
        let ports = self
            .listing
            .lock()
            .ok()
            .and_then(|l| l.ports.clone())
            .unwrap_or_default();
        let mut out = Vec::with_capacity(ports.len());
        for (port, id) in ports {
            let mut c = self.enrich(&Container::from_id(self.runtime, &id));
            c.confirmed = Evidence::Verified(format!(
                "the engine says it publishes host port {}",
                port.host_port
            ));
            out.push(PublishedBy { port, container: c });
        }
        out
    }

    /// Waits until `deadline` at most for every asked lookup to have an answer
    /// (one-shot commands want names; the live view never waits).
    pub fn settle(&mut self, deadline: Instant) {
        while Instant::now() < deadline {
            let listed = !self.list_pending
                || self
                    .listing
                    .lock()
                    .is_ok_and(|l| l.ports.is_some() || l.failed.is_some());
            let done = listed
                && self
                    .known
                    .lock()
                    .is_ok_and(|m| self.asked.keys().all(|id| m.contains_key(id)));
            if done {
                self.list_pending = false;
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Why the engine could not answer, as a container's [`Access`].
fn access_of(e: &ApiError) -> Access {
    match e {
        ApiError::Status { status: 404, .. } => Access::Unknown,
        ApiError::NoAnswer { .. } => Access::NoAnswer,
        _ => Access::NoAccess,
    }
}

/// The lookup thread: one request at a time, answers into the cache; a failure is
/// cached too (as no access, or unknown), so a missing engine costs one try per id.
fn lookups(
    rx: &Receiver<Lookup>,
    known: &Mutex<HashMap<String, Container>>,
    listing: &Mutex<Listing>,
) {
    while let Ok(lookup) = rx.recv() {
        match lookup {
            Lookup::Inspect(runtime, id) => {
                let found = match Api::new().and_then(|api| api.inspect(runtime, &id)) {
                    Ok(c) => c,
                    Err(e) => {
                        let mut c = Container::from_id(runtime, &id);
                        c.access = access_of(&e);
                        c
                    }
                };
                if let Ok(mut m) = known.lock() {
                    m.insert(id, found);
                }
            }
            Lookup::List => {
                let answer = Api::new().and_then(|api| api.published());
                if let Ok(mut l) = listing.lock() {
                    match answer {
                        Ok(ports) => {
                            l.ports = Some(ports);
                            l.failed = None;
                        }
                        Err(e) => l.failed = Some(access_of(&e)),
                    }
                }
            }
        }
    }
}
