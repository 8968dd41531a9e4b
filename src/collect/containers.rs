//! Containers' details from their engine: the Docker Engine API on its unix socket
//! (`$DOCKER_HOST`, `/var/run/docker.sock`, or Podman's compatible socket). Plain
//! HTTP/1.0 over the socket, the response head parsed with `httparse`; no async runtime
//! in the collector.
//!
//! Lookups never block a snapshot: ids go to a thread of their own, answers land in a
//! cache, and a snapshot uses what the cache has (a one-shot command may wait a moment
//! for it: [`Containers::settle`]). Each request has a short timeout.

use crate::model::container::{Access, Published};
use crate::model::sanitize::sanitize_capped;
use crate::model::{Container, Runtime};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request to the engine takes at most this long.
const TIMEOUT: Duration = Duration::from_secs(1);
/// A response larger than this is refused.
const MAX_RESPONSE: u64 = 8 << 20;

/// Where the engine listens: `$DOCKER_HOST` (`unix://…`), Docker's default socket, or
/// Podman's (root's, then the user's).
pub fn socket_path() -> Option<PathBuf> {
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        return host.strip_prefix("unix://").map(PathBuf::from);
    }
    let mut candidates = vec![
        PathBuf::from("/var/run/docker.sock"),
        PathBuf::from("/run/podman/podman.sock"),
    ];
    if let Ok(dir) = std::env::var("XDG_RUNTIME_DIR") {
        candidates.push(PathBuf::from(dir).join("podman/podman.sock"));
    }
    candidates.into_iter().find(|p| p.exists())
}

/// Why a request to the engine failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no Docker or Podman socket (set DOCKER_HOST)")]
    NoSocket,
    #[error(
        "cannot reach the Docker socket {path}: {source} (run as root or join the docker group)"
    )]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the Docker socket did not answer: {0}")]
    Io(#[from] std::io::Error),
    #[error("the Docker API answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("cannot read the Docker API's answer: {0}")]
    Parse(String),
}

/// A client of the engine's API at one socket.
#[derive(Clone, Debug)]
pub struct Api {
    path: PathBuf,
}

impl Api {
    pub fn new() -> Result<Api, ApiError> {
        socket_path()
            .map(|path| Api { path })
            .ok_or(ApiError::NoSocket)
    }

    /// One request; returns the body of a 2xx answer.
    fn call(&self, method: &str, path: &str, timeout: Duration) -> Result<Vec<u8>, ApiError> {
        let mut s = UnixStream::connect(&self.path).map_err(|source| ApiError::Connect {
            path: self.path.display().to_string(),
            source,
        })?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(TIMEOUT))?;
        // HTTP/1.0: the engine answers without chunking and closes when done.
        write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"
        )?;
        let mut raw = Vec::new();
        s.take(MAX_RESPONSE).read_to_end(&mut raw)?;
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut res = httparse::Response::new(&mut headers);
        let head = match res.parse(&raw) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => return Err(ApiError::Parse("a cut answer".into())),
            Err(e) => return Err(ApiError::Parse(e.to_string())),
        };
        let status = res.code.unwrap_or(0);
        let body = raw.split_off(head);
        if !(200..300).contains(&status) {
            let message = serde_json::from_slice::<ErrorBody>(&body)
                .map(|e| e.message)
                .unwrap_or_default();
            return Err(ApiError::Status {
                status,
                message: sanitize_capped(&message, 200),
            });
        }
        Ok(body)
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, runtime: Runtime, id: &str) -> Result<Container, ApiError> {
        let body = self.call("GET", &format!("/containers/{id}/json"), TIMEOUT)?;
        let doc: Inspect =
            serde_json::from_slice(&body).map_err(|e| ApiError::Parse(e.to_string()))?;
        Ok(doc.into_container(runtime, id))
    }

    /// `POST /containers/{id}/stop`: the engine sends the container's stop signal, waits
    /// `wait` (whole seconds, at least one), then kills it. Returns when it has stopped.
    pub fn stop(&self, id: &str, wait: Duration) -> Result<(), ApiError> {
        let secs = wait.as_secs().max(1);
        // The engine answers once the container is down: allow its grace and a margin.
        let timeout = Duration::from_secs(secs + 10);
        match self.call("POST", &format!("/containers/{id}/stop?t={secs}"), timeout) {
            // 304: it was already stopped.
            Ok(_) | Err(ApiError::Status { status: 304, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Inspect {
    name: String,
    config: InspectConfig,
    host_config: HostConfig,
    network_settings: NetworkSettings,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct InspectConfig {
    image: String,
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    restart_policy: RestartPolicy,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct RestartPolicy {
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkSettings {
    #[serde(rename = "IPAddress")]
    ip_address: String,
    ports: Option<BTreeMap<String, Option<Vec<PortBinding>>>>,
    networks: Option<BTreeMap<String, Network>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PortBinding {
    #[serde(rename = "HostIp")]
    host_ip: String,
    #[serde(rename = "HostPort")]
    host_port: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Network {
    #[serde(rename = "IPAddress")]
    ip_address: String,
}

impl Inspect {
    fn into_container(self, runtime: Runtime, id: &str) -> Container {
        let clean = |s: &str| Some(sanitize_capped(s, 128)).filter(|s| !s.is_empty());
        let labels = self.config.labels.unwrap_or_default();
        let label = |k: &str| labels.get(k).and_then(|v| clean(v));
        let mut c = Container::from_id(runtime, id);
        c.name = clean(self.name.trim_start_matches('/'));
        c.image = clean(&self.config.image);
        c.compose_project = label("com.docker.compose.project");
        c.compose_service = label("com.docker.compose.service");
        c.restart = clean(&self.host_config.restart_policy.name);
        let ns = self.network_settings;
        for (spec, bindings) in ns.ports.unwrap_or_default() {
            // "8080/tcp"
            let (port, proto) = spec.split_once('/').unwrap_or((&spec, "tcp"));
            let Ok(container_port) = port.parse::<u16>() else {
                continue;
            };
            for b in bindings.unwrap_or_default() {
                if let Ok(host_port) = b.host_port.parse::<u16>() {
                    c.published.push(Published {
                        host_ip: b.host_ip.parse().ok(),
                        host_port,
                        container_port,
                        tcp: proto == "tcp",
                    });
                }
            }
        }
        c.ips = std::iter::once(ns.ip_address)
            .chain(
                ns.networks
                    .unwrap_or_default()
                    .into_values()
                    .map(|n| n.ip_address),
            )
            .filter_map(|ip| ip.parse().ok())
            .collect();
        c.ips.dedup();
        c.access = Access::Known;
        c
    }
}

/// The cache of containers' details, filled by a lookup thread.
pub struct Containers {
    known: Arc<Mutex<HashMap<String, Container>>>,
    asked: HashMap<String, Instant>,
    tx: Option<Sender<(Runtime, String)>>,
}

/// How long an answer is trusted before the container is asked about again (a restart
/// policy or a name may change).
const FRESH: Duration = Duration::from_secs(30);

impl Default for Containers {
    fn default() -> Self {
        Containers::new()
    }
}

impl Containers {
    pub fn new() -> Containers {
        let known = Arc::new(Mutex::new(HashMap::new()));
        let (tx, rx) = channel();
        let shared = known.clone();
        let tx = std::thread::Builder::new()
            .name("sockscope-containers".into())
            .spawn(move || lookups(&rx, &shared))
            .ok()
            .map(|_| tx);
        Containers {
            known,
            asked: HashMap::new(),
            tx,
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
            let _ = tx.send((c.runtime, c.full_id.clone()));
        }
        cached.unwrap_or_else(|| c.clone())
    }

    /// Waits up to `wait` until every asked lookup has an answer (one-shot commands want
    /// names; the live view never waits).
    pub fn settle(&self, wait: Duration) {
        let end = Instant::now() + wait;
        while Instant::now() < end {
            let done = self
                .known
                .lock()
                .is_ok_and(|m| self.asked.keys().all(|id| m.contains_key(id)));
            if done {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The lookup thread: one request at a time, answers into the cache; a failure is
/// cached too (as no access, or unknown), so a missing engine costs one try per id.
fn lookups(rx: &Receiver<(Runtime, String)>, known: &Mutex<HashMap<String, Container>>) {
    while let Ok((runtime, id)) = rx.recv() {
        let found = match Api::new().and_then(|api| api.inspect(runtime, &id)) {
            Ok(c) => c,
            Err(e) => {
                let mut c = Container::from_id(runtime, &id);
                c.access = match e {
                    ApiError::Status { status: 404, .. } => Access::Unknown,
                    ApiError::Io(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) =>
                    {
                        Access::NoAnswer
                    }
                    _ => Access::NoAccess,
                };
                c
            }
        };
        if let Ok(mut m) = known.lock() {
            m.insert(id, found);
        }
    }
}

/// Which container docker-proxy forwards to: the container with that address.
pub fn by_ip<'a>(
    containers: impl Iterator<Item = &'a Container>,
    ip: std::net::IpAddr,
) -> Option<&'a Container> {
    containers.into_iter().find(|c| c.ips.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inspect_answer_becomes_a_container() {
        let body = br#"{"Name":"/barweb","Config":{"Image":"bb:local","Labels":{"com.docker.compose.project":"shop","com.docker.compose.service":"web"}},
            "HostConfig":{"RestartPolicy":{"Name":"unless-stopped"}},
            "NetworkSettings":{"IPAddress":"172.17.0.2","Ports":{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"49153"}],"9/udp":null},
            "Networks":{"bridge":{"IPAddress":"172.17.0.2"}}}}"#;
        let doc: Inspect = serde_json::from_slice(body).unwrap();
        let id = "f".repeat(64);
        let c = doc.into_container(Runtime::Docker, &id);
        assert_eq!(c.id, "ffffffffffff");
        assert_eq!(c.name.as_deref(), Some("barweb"));
        assert_eq!(c.image.as_deref(), Some("bb:local"));
        assert_eq!(c.compose_project.as_deref(), Some("shop"));
        assert_eq!(c.compose_service.as_deref(), Some("web"));
        assert!(c.restarts());
        assert_eq!(
            c.published,
            vec![Published {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: 49153,
                container_port: 8080,
                tcp: true
            }]
        );
        assert_eq!(
            c.ips,
            vec!["172.17.0.2".parse::<std::net::IpAddr>().unwrap()]
        );
        // Odd answers: nothing panics, the fields stay empty.
        let empty: Inspect = serde_json::from_slice(b"{}").unwrap();
        assert_eq!(empty.into_container(Runtime::Podman, &id).name, None);
    }
}
