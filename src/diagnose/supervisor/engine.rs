//! Containers as supervisors, and docker-proxy: believed only on the engine's word.

use super::{Kind, Supervisor, exact};
use crate::model::process::exe_basename;
use crate::model::{Command, Container, Evidence, Process, Runtime, Snapshot};

/// A container as a supervisor: its engine, name, restart policy, and — when the engine
/// confirms the process runs in it — its stop command.
pub fn of_container(c: &Container) -> Supervisor {
    let name = c
        .name
        .clone()
        .filter(|n| exact(n))
        .unwrap_or_else(|| c.full_id.clone());
    let (kind, stop) = match c.runtime {
        Runtime::Docker => (Kind::Docker, Some(Command::new("docker", ["stop", &name]))),
        Runtime::Podman => (Kind::Podman, Some(Command::new("podman", ["stop", &name]))),
        Runtime::Containerd => (
            Kind::Containerd,
            Some(Command::new("ctr", ["task", "kill", &c.full_id])),
        ),
        // A deleted pod comes back: scaling its deployment down is what stops it, and
        // which deployment is not known here.
        Runtime::Kubernetes => (Kind::Kubernetes, None),
    };
    let mut s = Supervisor::new(kind, c.label(), c.confirmed.clone()).stopped_by(stop);
    s.restarts = c.restarts();
    s.container = Some(c.full_id.clone());
    s
}

/// Whether `p` says it is a docker-proxy (by name, argv or program), and if so whether
/// that is believed: it runs as root, its program is a root-owned `docker-proxy`, and
/// its parent is a root `dockerd` or `containerd`. `None`: it does not say so.
pub fn proxy_claim(p: &Process) -> Option<Evidence> {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
    let says = p.name == "docker-proxy"
        || exe_basename(p.exe.as_deref()) == Some("docker-proxy")
        || p.cmdline.first().is_some_and(|c| base(c) == "docker-proxy");
    if !says {
        return None;
    }
    if p.uid != Some(0) {
        let who = match (&p.user, p.uid) {
            (Some(u), _) => format!("user {u}"),
            (None, Some(u)) => format!("uid {u}"),
            (None, None) => "an unknown user".into(),
        };
        return Some(Evidence::Claimed(format!(
            "it calls itself docker-proxy but runs as {who}, not root"
        )));
    }
    if exe_basename(p.exe.as_deref()) != Some("docker-proxy") || !p.exe_root_owned {
        return Some(Evidence::Claimed(format!(
            "it calls itself docker-proxy but its program {} is not a root-owned docker-proxy",
            p.exe.as_deref().unwrap_or("(unreadable)")
        )));
    }
    let parent = p.origin.ancestors.first().filter(|a| Some(a.pid) == p.ppid);
    match parent {
        Some(a)
            if a.uid == Some(0)
                && a.exe_root_owned
                && matches!(
                    a.program(),
                    Some("dockerd" | "containerd" | "docker-containerd")
                ) =>
        {
            Some(Evidence::Verified(format!(
                "a root docker-proxy started by {} {}",
                a.program().unwrap_or("dockerd"),
                a.pid
            )))
        }
        _ => Some(Evidence::Claimed(
            "it calls itself docker-proxy but its parent is not a root dockerd or containerd"
                .into(),
        )),
    }
}

/// A docker-proxy that is believed to be one.
pub fn is_docker_proxy(p: &Process) -> bool {
    proxy_claim(p).is_some_and(|e| e.verified())
}

/// The engine's entry for the host port a real docker-proxy listens on (on `port`, when
/// given): the container the engine says publishes it. Never from the proxy's argv.
fn published_by<'a>(
    p: &Process,
    snap: &'a Snapshot,
    port: Option<u16>,
) -> Option<&'a crate::model::container::PublishedBy> {
    if !is_docker_proxy(p) || snap.published.is_empty() {
        return None;
    }
    let ip_matches = |engine: Option<std::net::IpAddr>, local: std::net::IpAddr| match engine {
        None => local.is_unspecified(),
        Some(e) if e.is_unspecified() => local.is_unspecified(),
        Some(e) => e == local,
    };
    snap.sockets
        .iter()
        .filter(|s| {
            s.is_listener()
                && s.owners.contains(&p.pid)
                && port.is_none_or(|x| s.local().port() == x)
        })
        .find_map(|s| {
            snap.published.iter().find(|e| {
                e.port.host_port == s.local().port()
                    && e.port.tcp == s.proto.is_tcp()
                    && ip_matches(e.port.host_ip, s.local().ip())
            })
        })
}

/// The container a real docker-proxy publishes (on `port`, when given), as the engine
/// says.
pub fn proxied<'a>(p: &Process, snap: &'a Snapshot, port: Option<u16>) -> Option<&'a Container> {
    published_by(p, snap, port).map(|e| &e.container)
}

/// `host port → container:port` of a docker-proxy, or why it is not known.
pub fn proxy_link(p: &Process, snap: &Snapshot, port: Option<u16>) -> Option<String> {
    let claim = proxy_claim(p)?;
    if !claim.verified() {
        return Some(format!("nothing trusted: {}", claim.why()));
    }
    if let Some(e) = published_by(p, snap, port) {
        return Some(format!("{}:{}", e.container.label(), e.port.container_port));
    }
    let no_access = snap.processes.values().any(|q| {
        q.container
            .as_ref()
            .is_some_and(|c| c.access == crate::model::container::Access::NoAccess)
    });
    Some(if no_access || snap.published.is_empty() {
        "a container (no access to the Docker socket, or no answer from it, to name it)".to_owned()
    } else {
        "a container the engine does not list".to_owned()
    })
}
