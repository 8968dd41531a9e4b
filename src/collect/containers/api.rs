//! The engine's API client: plain HTTP/1.0 over its unix socket, the response head
//! parsed with `httparse`, one deadline for all of a request (connect, write and the
//! whole answer).

use crate::model::container::{Access, Published};
use crate::model::sanitize::sanitize_capped;
use crate::model::{Container, Runtime};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A request for names and ports takes at most this long, all of it.
pub const TIMEOUT: Duration = Duration::from_secs(1);
/// A stop may take the container's grace time plus this much.
pub const STOP_MARGIN: Duration = Duration::from_secs(10);
/// A response larger than this is refused.
const MAX_RESPONSE: u64 = 8 << 20;

/// Where the engine listens: `$DOCKER_HOST` (`unix://…`), Docker's default socket, or
/// Podman's (root's, then the user's).
/// The user names these (through the environment): they are looked at with the user's
/// own rights ([`crate::caps::as_user`]).
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
    crate::caps::as_user(|| Ok(candidates.into_iter().find(|p| p.exists())))
        .ok()
        .flatten()
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
    #[error("the Docker socket {path} did not answer in {}", crate::model::time::fmt_interval(*within))]
    NoAnswer { path: String, within: Duration },
    #[error("the Docker socket failed: {0}")]
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

    /// The engine behind the socket: Podman's socket speaks for Podman.
    pub(super) fn runtime(&self) -> Runtime {
        if self.path.to_string_lossy().contains("podman") {
            Runtime::Podman
        } else {
            Runtime::Docker
        }
    }

    /// One request, all of it (connect, write, the whole answer) within `within`;
    /// returns the body of a 2xx answer.
    fn call(&self, method: &str, path: &str, within: Duration) -> Result<Vec<u8>, ApiError> {
        let deadline = Instant::now() + within;
        let no_answer = || ApiError::NoAnswer {
            path: self.path.display().to_string(),
            within,
        };
        let left = || {
            deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
        };
        let mut s = self.connect(deadline).map_err(|source| {
            if source.kind() == std::io::ErrorKind::TimedOut {
                no_answer()
            } else {
                ApiError::Connect {
                    path: self.path.display().to_string(),
                    source,
                }
            }
        })?;
        let timed_out = |e: &std::io::Error| {
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        };
        // HTTP/1.0: the engine answers without chunking and closes when done.
        let request =
            format!("{method} {path} HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n");
        let mut sent = 0;
        while sent < request.len() {
            s.set_write_timeout(Some(left().ok_or_else(no_answer)?))?;
            match s.write(&request.as_bytes()[sent..]) {
                Ok(0) => return Err(ApiError::Parse("the socket closed".into())),
                Ok(n) => sent += n,
                Err(e) if timed_out(&e) => return Err(no_answer()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let mut raw = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            s.set_read_timeout(Some(left().ok_or_else(no_answer)?))?;
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    raw.extend_from_slice(&buf[..n]);
                    if raw.len() as u64 > MAX_RESPONSE {
                        return Err(ApiError::Parse("an answer over 8 MiB".into()));
                    }
                }
                Err(e) if timed_out(&e) => return Err(no_answer()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
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

    /// A nonblocking connect, retried while the engine's backlog is full, until
    /// `deadline`; then a blocking stream (its reads and writes get timeouts).
    /// Connects with the user's own rights: the socket's path is the user's to name
    /// (`DOCKER_HOST`), so capabilities sockscope holds never reach it.
    fn connect(&self, deadline: Instant) -> std::io::Result<UnixStream> {
        crate::caps::as_user(|| self.connect_as_is(deadline))
    }

    fn connect_as_is(&self, deadline: Instant) -> std::io::Result<UnixStream> {
        use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
        let addr = SocketAddrUnix::new(&self.path)?;
        let fd = rustix::net::socket_with(
            AddressFamily::UNIX,
            SocketType::STREAM,
            SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            None,
        )?;
        loop {
            match rustix::net::connect(&fd, &addr) {
                Ok(()) => break,
                Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR)
                    if Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(rustix::io::Errno::AGAIN) => {
                    return Err(std::io::ErrorKind::TimedOut.into());
                }
                Err(e) => return Err(e.into()),
            }
        }
        let s = UnixStream::from(fd);
        s.set_nonblocking(false)?;
        Ok(s)
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self, runtime: Runtime, id: &str) -> Result<Container, ApiError> {
        let body = self.call("GET", &format!("/containers/{id}/json"), TIMEOUT)?;
        let doc: Inspect =
            serde_json::from_slice(&body).map_err(|e| ApiError::Parse(e.to_string()))?;
        Ok(doc.into_container(runtime, id))
    }

    /// `GET /containers/json`: the host ports each running container publishes, by full
    /// id.
    pub fn published(&self) -> Result<Vec<(Published, String)>, ApiError> {
        let body = self.call("GET", "/containers/json", TIMEOUT)?;
        let list: Vec<Listed> =
            serde_json::from_slice(&body).map_err(|e| ApiError::Parse(e.to_string()))?;
        let mut out = Vec::new();
        for c in list {
            if c.id.len() != 64 || !c.id.bytes().all(|b| b.is_ascii_hexdigit()) {
                continue;
            }
            for p in c.ports.unwrap_or_default() {
                let Some(host_port) = p.public_port.filter(|&p| p != 0) else {
                    continue;
                };
                out.push((
                    Published {
                        host_ip: p.ip.parse().ok(),
                        host_port,
                        container_port: p.private_port,
                        tcp: p.kind != "udp",
                    },
                    c.id.to_ascii_lowercase(),
                ));
            }
        }
        Ok(out)
    }

    /// `POST /containers/{id}/stop`: the engine sends the container's stop signal, waits
    /// `wait` (whole seconds, at least one), then kills it. Returns when it has stopped;
    /// gives up after the wait and [`STOP_MARGIN`].
    pub fn stop(&self, id: &str, wait: Duration) -> Result<(), ApiError> {
        let secs = wait.as_secs().max(1);
        let within = Duration::from_secs(secs) + STOP_MARGIN;
        match self.call("POST", &format!("/containers/{id}/stop?t={secs}"), within) {
            // 304: it was already stopped.
            Ok(_) | Err(ApiError::Status { status: 304, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// How a container ended (`State.ExitCode`, `State.OOMKilled`): 137 means the
    /// engine had to KILL it after its grace time.
    pub fn exit_code(&self, id: &str) -> Result<Option<i64>, ApiError> {
        let body = self.call("GET", &format!("/containers/{id}/json"), TIMEOUT)?;
        let doc: Inspect =
            serde_json::from_slice(&body).map_err(|e| ApiError::Parse(e.to_string()))?;
        Ok((!doc.state.running).then_some(doc.state.exit_code))
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Listed {
    id: String,
    ports: Option<Vec<ListedPort>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListedPort {
    #[serde(rename = "IP")]
    ip: String,
    #[serde(rename = "PrivatePort")]
    private_port: u16,
    #[serde(rename = "PublicPort")]
    public_port: Option<u16>,
    #[serde(rename = "Type")]
    kind: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct Inspect {
    name: String,
    state: State,
    config: InspectConfig,
    host_config: HostConfig,
    network_settings: NetworkSettings,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct State {
    running: bool,
    pid: u32,
    exit_code: i64,
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
        c.pid = (self.state.running && self.state.pid > 0).then_some(self.state.pid);
        c
    }
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
