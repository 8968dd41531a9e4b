//! What a process's `/proc/PID/cgroup` says about who runs it: a container (Docker,
//! Podman, containerd/Kubernetes) or a systemd unit (system or user). Pure parsing: the
//! text is read in `collect`.

use serde::Serialize;

/// The container engine behind an id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    Podman,
    Containerd,
    Kubernetes,
}

impl Runtime {
    pub fn as_str(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::Kubernetes => "kubernetes",
        }
    }

    /// Its name in a sentence: "Docker", "Podman", "containerd", "Kubernetes".
    pub fn title(self) -> &'static str {
        match self {
            Runtime::Docker => "Docker",
            Runtime::Podman => "Podman",
            Runtime::Containerd => "containerd",
            Runtime::Kubernetes => "Kubernetes",
        }
    }
}

/// A systemd unit that runs a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    /// `nginx.service`.
    pub name: String,
    /// The uid of the user manager for a user unit (`systemctl --user`), else `None`.
    pub user: Option<u32>,
    /// Whether its `Restart=` brings it back when it dies; `None` when its unit file
    /// could not be read.
    pub restarts: Option<bool>,
}

/// Who runs a process, as its cgroups say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cgroup {
    /// The full container id (64 hex digits) and its engine.
    pub container: Option<(Runtime, String)>,
    /// The systemd service it belongs to, if any (not for containers: their scopes are
    /// the engine's).
    pub unit: Option<Unit>,
}

/// Parses `/proc/PID/cgroup` (v1, v2 or hybrid).
pub fn parse(text: &str) -> Cgroup {
    let mut out = Cgroup::default();
    for line in text.lines() {
        // hierarchy-ID:controllers:path — the path may itself hold ':'.
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(ctl), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if out.container.is_none() {
            out.container = container(path);
        }
        // The unified (v2) hierarchy, or v1's name=systemd one, names units.
        if out.unit.is_none() && (ctl.is_empty() || ctl == "name=systemd") {
            out.unit = unit(path);
        }
    }
    if out.container.is_some() {
        out.unit = None;
    }
    out
}

fn container(path: &str) -> Option<(Runtime, String)> {
    let kube = path.contains("kubepods");
    for seg in path.split('/').rev() {
        let seg = seg.strip_suffix(".scope").unwrap_or(seg);
        let (prefix, id) = match seg.rsplit_once(['-', ':']) {
            Some((p, id)) => (p, id),
            None => ("", seg),
        };
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let runtime = if kube {
            Runtime::Kubernetes
        } else if prefix.ends_with("libpod") {
            Runtime::Podman
        } else if prefix.ends_with("containerd") {
            Runtime::Containerd
        } else {
            Runtime::Docker
        };
        return Some((runtime, id.to_ascii_lowercase()));
    }
    None
}

fn unit(path: &str) -> Option<Unit> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // The innermost .service: a user unit lives below user@UID.service.
    let (i, name) = segs
        .iter()
        .enumerate()
        .rev()
        .find(|(_, s)| s.ends_with(".service") && !s.starts_with("user@"))?;
    let user = segs[..i].iter().find_map(|s| {
        s.strip_prefix("user@")
            .and_then(|r| r.strip_suffix(".service"))
            .and_then(|u| u.parse().ok())
    });
    Some(Unit {
        name: (*name).to_owned(),
        user,
        restarts: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn containers_from_every_engine() {
        let id = "a".repeat(64);
        let docker_v2 = parse(&format!("0::/system.slice/docker-{id}.scope"));
        assert_eq!(docker_v2.container, Some((Runtime::Docker, id.clone())));
        assert_eq!(docker_v2.unit, None, "the scope is docker's, not a service");
        let docker_v1 = parse(&format!("12:pids:/docker/{id}\n0::/\n"));
        assert_eq!(docker_v1.container, Some((Runtime::Docker, id.clone())));
        let podman = parse(&format!("0::/machine.slice/libpod-{id}.scope/container"));
        assert_eq!(podman.container, Some((Runtime::Podman, id.clone())));
        let kube = parse(&format!(
            "0::/kubepods/besteffort/pod1/cri-containerd-{id}.scope"
        ));
        assert_eq!(kube.container, Some((Runtime::Kubernetes, id.clone())));
        let ctrd = parse(&format!("0::/system.slice/cri-containerd-{id}.scope"));
        assert_eq!(ctrd.container, Some((Runtime::Containerd, id)));
    }

    #[test]
    fn systemd_units_system_and_user() {
        let sys = parse("0::/system.slice/nginx.service\n");
        assert_eq!(
            sys.unit,
            Some(Unit {
                name: "nginx.service".into(),
                user: None,
                restarts: None
            })
        );
        let hybrid = parse("12:pids:/\n1:name=systemd:/system.slice/api.service\n0::/\n");
        assert_eq!(hybrid.unit.unwrap().name, "api.service");
        let user =
            parse("0::/user.slice/user-1000.slice/user@1000.service/app.slice/vite-dev.service\n");
        assert_eq!(
            user.unit,
            Some(Unit {
                name: "vite-dev.service".into(),
                user: Some(1000),
                restarts: None
            })
        );
        let session = parse("0::/user.slice/user-1000.slice/session-2.scope\n");
        assert_eq!(session, Cgroup::default());
        assert_eq!(parse(""), Cgroup::default());
        assert_eq!(parse("0::/init.scope"), Cgroup::default());
    }

    proptest! {
        #[test]
        fn any_text_parses_without_panic(t in "\\PC{0,200}") {
            let _ = parse(&t);
        }

        #[test]
        fn any_unit_name_round_trips(name in "[a-z][a-z0-9-]{0,20}") {
            let c = parse(&format!("0::/system.slice/{name}.service"));
            prop_assert_eq!(c.unit.map(|u| u.name), Some(format!("{name}.service")));
        }
    }
}
