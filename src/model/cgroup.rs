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

/// A directory in a cgroup hierarchy: what its owner says about who made it. Only root
/// makes root-owned directories; a user who owns a subtree (systemd delegates
/// `user@UID.service` to its user) can name directories in it anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dir {
    /// The hierarchy's controllers as `/proc/PID/cgroup` gives them: empty for v2,
    /// `name=systemd`, `pids`, ….
    pub controllers: String,
    /// The path inside the hierarchy, up to and including the directory that names it.
    pub path: String,
    /// The directory's owner, read by `collect`; `None` when it could not be read.
    pub owner: Option<u32>,
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
    /// The unit's cgroup directory.
    pub dir: Dir,
}

/// A container id in a cgroup path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub runtime: Runtime,
    /// The full id (64 hex digits).
    pub id: String,
    /// The directory that names it.
    pub dir: Dir,
}

/// Who runs a process, as its cgroups say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cgroup {
    /// The container its cgroup path names.
    pub container: Option<Named>,
    /// The systemd service it belongs to, if any (not for containers: their scopes are
    /// the engine's).
    pub unit: Option<Unit>,
}

/// Whether `name` is a unit name systemd accepts for a service: letters, digits and
/// `:_.\-`, at most one `@` (a template instance), at most 255 bytes, ending in
/// `.service`. Anything else did not come from systemd.
pub fn valid_service_name(name: &str) -> bool {
    let Some(prefix) = name.strip_suffix(".service") else {
        return false;
    };
    let (template, instance) = prefix.split_once('@').unwrap_or((prefix, ""));
    let ok = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'.' | b'\\' | b'-'))
    };
    name.len() <= 255 && !template.is_empty() && ok(template) && ok(instance)
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
            out.container = container(ctl, path);
        }
        // The unified (v2) hierarchy, or v1's name=systemd one, names units.
        if out.unit.is_none() && (ctl.is_empty() || ctl == "name=systemd") {
            out.unit = unit(ctl, path);
        }
    }
    if out.container.is_some() {
        out.unit = None;
    }
    out
}

/// The path up to and including segment `i` (of the `/`-split path).
fn dir(controllers: &str, path: &str, i: usize) -> Dir {
    let upto: Vec<&str> = path.split('/').take(i + 1).collect();
    Dir {
        controllers: controllers.to_owned(),
        path: upto.join("/"),
        owner: None,
    }
}

fn container(ctl: &str, path: &str) -> Option<Named> {
    let kube = path.contains("kubepods");
    let segs: Vec<&str> = path.split('/').collect();
    for (i, seg) in segs.iter().enumerate().rev() {
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
        return Some(Named {
            runtime,
            id: id.to_ascii_lowercase(),
            dir: dir(ctl, path, i),
        });
    }
    None
}

fn unit(ctl: &str, path: &str) -> Option<Unit> {
    let segs: Vec<&str> = path.split('/').collect();
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
        dir: dir(ctl, path, i),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn named(c: &Cgroup) -> Option<(Runtime, String)> {
        c.container.as_ref().map(|n| (n.runtime, n.id.clone()))
    }

    #[test]
    fn containers_from_every_engine() {
        let id = "a".repeat(64);
        let docker_v2 = parse(&format!("0::/system.slice/docker-{id}.scope"));
        assert_eq!(named(&docker_v2), Some((Runtime::Docker, id.clone())));
        assert_eq!(
            docker_v2.container.unwrap().dir,
            Dir {
                controllers: String::new(),
                path: format!("/system.slice/docker-{id}.scope"),
                owner: None
            }
        );
        assert_eq!(docker_v2.unit, None, "the scope is docker's, not a service");
        let docker_v1 = parse(&format!("12:pids:/docker/{id}\n0::/\n"));
        assert_eq!(named(&docker_v1), Some((Runtime::Docker, id.clone())));
        assert_eq!(docker_v1.container.unwrap().dir.controllers, "pids");
        let podman = parse(&format!("0::/machine.slice/libpod-{id}.scope/container"));
        assert_eq!(named(&podman), Some((Runtime::Podman, id.clone())));
        assert_eq!(
            podman.container.unwrap().dir.path,
            format!("/machine.slice/libpod-{id}.scope")
        );
        let kube = parse(&format!(
            "0::/kubepods/besteffort/pod1/cri-containerd-{id}.scope"
        ));
        assert_eq!(named(&kube), Some((Runtime::Kubernetes, id.clone())));
        let ctrd = parse(&format!("0::/system.slice/cri-containerd-{id}.scope"));
        assert_eq!(named(&ctrd), Some((Runtime::Containerd, id)));
    }

    #[test]
    fn systemd_units_system_and_user() {
        let sys = parse("0::/system.slice/nginx.service\n");
        assert_eq!(
            sys.unit,
            Some(Unit {
                name: "nginx.service".into(),
                user: None,
                restarts: None,
                dir: Dir {
                    controllers: String::new(),
                    path: "/system.slice/nginx.service".into(),
                    owner: None
                }
            })
        );
        let hybrid = parse("12:pids:/\n1:name=systemd:/system.slice/api.service\n0::/\n");
        let unit = hybrid.unit.unwrap();
        assert_eq!(unit.name, "api.service");
        assert_eq!(unit.dir.controllers, "name=systemd");
        let user =
            parse("0::/user.slice/user-1000.slice/user@1000.service/app.slice/vite-dev.service\n");
        let unit = user.unit.unwrap();
        assert_eq!(unit.name, "vite-dev.service");
        assert_eq!(unit.user, Some(1000));
        assert_eq!(
            unit.dir.path,
            "/user.slice/user-1000.slice/user@1000.service/app.slice/vite-dev.service"
        );
        // Inside a unit: the directory is the unit's, not the leaf's.
        let inner = parse("0::/system.slice/web.service/worker\n").unit.unwrap();
        assert_eq!(inner.dir.path, "/system.slice/web.service");
        let session = parse("0::/user.slice/user-1000.slice/session-2.scope\n");
        assert_eq!(session, Cgroup::default());
        assert_eq!(parse(""), Cgroup::default());
        assert_eq!(parse("0::/init.scope"), Cgroup::default());
    }

    #[test]
    fn only_names_systemd_accepts_are_unit_names() {
        for good in [
            "nginx.service",
            "getty@tty1.service",
            "a-b_c:d.e.service",
            "x\\x2d.service",
        ] {
            assert!(valid_service_name(good), "{good}");
        }
        for bad in [
            "x;id>y;true .service",
            "web$(id).service",
            ".service",
            "a@b@c.service",
            "nginx.socket",
            "a b.service",
            "caf\u{e9}.service",
            &format!("{}.service", "a".repeat(250)),
        ] {
            assert!(!valid_service_name(bad), "{bad}");
        }
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
