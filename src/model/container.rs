//! A container, as far as its engine told us (Docker Engine API, Podman's compatible
//! one): what the `container` field of a process carries.

pub use super::cgroup::Runtime;
use super::evidence::Evidence;
use serde::Serialize;
use std::net::IpAddr;

/// Whether the engine could be asked about a container.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Access {
    /// Not asked yet, or the answer is on its way.
    #[default]
    Pending,
    /// The engine answered.
    Known,
    /// No engine socket, or no permission on it.
    NoAccess,
    /// The engine's socket took the request but did not answer in time.
    NoAnswer,
    /// The engine does not know this id (another engine's container).
    Unknown,
}

/// A port the container publishes on the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub tcp: bool,
}

/// One container. Serialised as the `container` object of a process (schema v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Container {
    /// Short id (12 hex digits), as `docker ps` shows it.
    pub id: String,
    pub name: Option<String>,
    pub image: Option<String>,
    pub runtime: Runtime,
    pub compose_project: Option<String>,
    pub compose_service: Option<String>,
    /// The full id, for the engine's API.
    #[serde(skip)]
    pub full_id: String,
    /// The restart policy (`always`, `unless-stopped`, `on-failure`, `no`).
    #[serde(skip)]
    pub restart: Option<String>,
    #[serde(skip)]
    pub published: Vec<Published>,
    /// Its addresses on the engine's networks (what docker-proxy forwards to).
    #[serde(skip)]
    pub ips: Vec<IpAddr>,
    #[serde(skip)]
    pub access: Access,
    /// Its main process, as the engine says (`State.Pid`); `None` when stopped or not
    /// asked.
    #[serde(skip)]
    pub pid: Option<u32>,
    /// The cgroup directory that names it (for a container found through a cgroup).
    #[serde(skip)]
    pub dir: Option<super::cgroup::Dir>,
    /// Whether the process this was found on really runs in it: a cgroup path is a
    /// claim until the engine confirms it (SPEC §11).
    #[serde(flatten)]
    pub confirmed: Evidence,
}

/// A host port the engine says a container publishes (what docker-proxy forwards).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedBy {
    pub port: Published,
    pub container: Container,
}

impl Container {
    /// A container known only from a cgroup path.
    pub fn from_id(runtime: Runtime, full_id: &str) -> Container {
        Container {
            id: full_id.chars().take(12).collect(),
            name: None,
            image: None,
            runtime,
            compose_project: None,
            compose_service: None,
            full_id: full_id.to_owned(),
            restart: None,
            published: Vec::new(),
            ips: Vec::new(),
            access: Access::Pending,
            pid: None,
            dir: None,
            confirmed: Evidence::Claimed("not confirmed by the engine yet".into()),
        }
    }

    /// Its name, or its short id with why there is no name.
    pub fn label(&self) -> String {
        match (&self.name, self.access) {
            (Some(n), _) => n.clone(),
            (None, Access::NoAccess) => {
                format!("{} (no access to the Docker socket)", self.id)
            }
            (None, Access::NoAnswer) => {
                format!("{} (the Docker socket did not answer)", self.id)
            }
            (None, _) => self.id.clone(),
        }
    }

    /// One line about it: name (or id), engine, image, compose project and service,
    /// restart policy.
    pub fn describe(&self) -> String {
        let mut out = format!("{} ({} {})", self.label(), self.runtime.as_str(), self.id);
        if let Some(i) = &self.image {
            out.push_str(&format!(" · image {i}"));
        }
        if let (Some(p), Some(s)) = (&self.compose_project, &self.compose_service) {
            // Labels: whoever built the image or wrote the compose file chose them.
            out.push_str(&format!(" · compose labels {p}/{s}"));
        }
        if let Some(r) = self
            .restart
            .as_deref()
            .filter(|r| !r.is_empty() && *r != "no")
        {
            out.push_str(&format!(" · restart {r}"));
        }
        if let Evidence::Claimed(why) = &self.confirmed {
            out.push_str(&format!(" · not confirmed: {why}"));
        }
        out
    }

    /// A restart policy that brings the container back after its process dies.
    pub fn restarts(&self) -> bool {
        matches!(
            self.restart.as_deref(),
            Some("always" | "unless-stopped" | "on-failure")
        ) || self.runtime == Runtime::Kubernetes
    }
}

/// How a container that was asked to stop ended, said after "stopped container NAME":
/// `: it did not stop in 5s, so Docker killed it (exit 137)`, ` (exit 0)`, or nothing
/// when the engine did not say. `kill --container` and the live view say it alike.
pub fn stop_ending(engine: &str, grace: &str, exit: Option<i64>) -> String {
    match exit {
        Some(137) => format!(": it did not stop in {grace}, so {engine} killed it (exit 137)"),
        Some(code) => format!(" (exit {code})"),
        None => String::new(),
    }
}
