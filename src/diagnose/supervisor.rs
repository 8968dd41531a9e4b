//! What restarts a holder when it dies, and the command that stops it for good: a
//! container engine, PM2, systemd, a process supervisor (supervisord, runit, s6), a
//! dev-server reloader — or, when nothing restarts it, where it was left running (tmux,
//! screen). Pure: reads what `collect` put in the process's origin and container.

use crate::model::{Ancestor, Container, Process, Runtime, Snapshot};
use serde::Serialize;

/// The kinds of supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Docker,
    Podman,
    Containerd,
    Kubernetes,
    Pm2,
    Systemd,
    SystemdSocket,
    Supervisord,
    Runit,
    S6,
    Reloader,
    Tmux,
    Screen,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Docker => "Docker",
            Kind::Podman => "Podman",
            Kind::Containerd => "containerd",
            Kind::Kubernetes => "Kubernetes",
            Kind::Pm2 => "PM2",
            Kind::Systemd => "systemd",
            Kind::SystemdSocket => "systemd socket activation",
            Kind::Supervisord => "supervisord",
            Kind::Runit => "runit",
            Kind::S6 => "s6",
            Kind::Reloader => "a reloader",
            Kind::Tmux => "tmux",
            Kind::Screen => "screen",
        }
    }
}

/// Who is behind a holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Supervisor {
    pub kind: Kind,
    /// The container, unit, app, reloader or session.
    pub name: String,
    /// What stops it for good, to run in a shell; `None` when there is no such command.
    pub stop_command: Option<String>,
    /// It brings the process back when it dies (or may: a systemd unit's Restart=).
    pub restarts: bool,
    /// The pid of the supervising process, when it is one (a reloader, the PM2 daemon).
    #[serde(skip)]
    pub pid: Option<u32>,
    /// The holder is the PM2 daemon itself, in cluster mode for the apps in `name`.
    #[serde(skip)]
    pub cluster: bool,
}

impl Supervisor {
    /// What it is: "PM2 app barapp", "Docker container barweb", "the reloader nodemon".
    pub fn what(&self) -> String {
        match self.kind {
            Kind::Docker | Kind::Podman | Kind::Containerd | Kind::Kubernetes => {
                format!("{} container {}", self.kind.as_str(), self.name)
            }
            Kind::Pm2 if self.cluster => {
                format!("the PM2 daemon, in cluster mode for app {}", self.name)
            }
            Kind::Pm2 => format!("PM2 app {}", self.name),
            Kind::Systemd => format!("systemd unit {}", self.name),
            Kind::SystemdSocket => format!("systemd socket {}", self.name),
            Kind::Supervisord | Kind::Runit | Kind::S6 => {
                format!("{} service {}", self.kind.as_str(), self.name)
            }
            Kind::Reloader => format!("the reloader {}", self.name),
            Kind::Tmux | Kind::Screen => format!("{} session {}", self.kind.as_str(), self.name),
        }
    }

    /// How a holder relates to it, for "PID is run by …": the PM2 daemon in cluster mode
    /// *is* the holder.
    pub fn relation(&self) -> &'static str {
        if self.cluster { "is" } else { "is run by" }
    }

    /// When it starts the process again: "brings it back when it dies" (it restarts), or
    /// for a reloader "starts it again when a file changes".
    pub fn comes_back(&self) -> Option<&'static str> {
        if self.restarts {
            Some("brings it back when it dies")
        } else if self.kind == Kind::Reloader {
            Some("starts it again when a file changes")
        } else {
            None
        }
    }

    /// One sentence: "run by PM2 app barapp, which brings it back when it dies: stop it
    /// with `pm2 stop barapp`".
    pub fn sentence(&self) -> String {
        if matches!(self.kind, Kind::Tmux | Kind::Screen) {
            return format!("runs in {}", self.what());
        }
        if self.cluster {
            let cmd = self.stop_command.as_deref().unwrap_or("pm2 ls");
            return format!(
                "this is the PM2 daemon, holding the port in cluster mode for app {}: stop the app with `{cmd}`",
                self.name
            );
        }
        let what = self.what();
        let comes_back = self
            .comes_back()
            .map(|c| format!(", which {c}"))
            .unwrap_or_default();
        match &self.stop_command {
            Some(cmd) => format!("run by {what}{comes_back}: stop it with `{cmd}`"),
            None => format!("run by {what}{comes_back}"),
        }
    }
}

/// What is behind process `p` (holding `port`, when the question is about one), most
/// important first: the one that restarts it.
pub fn supervisor(p: &Process, snap: &Snapshot, port: Option<u16>) -> Option<Supervisor> {
    if let Some(c) = &p.container {
        return Some(of_container(c));
    }
    if p.name == "docker-proxy"
        && let Some(c) = proxied(p, snap)
    {
        return Some(of_container(c));
    }
    pm2(p)
        .or_else(|| systemd(p, port))
        .or_else(|| service_manager(&p.origin.ancestors))
        .or_else(|| reloader(p))
        .or_else(|| mux(p))
}

/// A container as a supervisor: its engine, name, stop command and restart policy.
pub fn of_container(c: &Container) -> Supervisor {
    let name = c.name.clone().unwrap_or_else(|| c.id.clone());
    let (kind, stop) = match c.runtime {
        Runtime::Docker => match (&c.compose_project, &c.compose_service) {
            (Some(p), Some(s)) => (Kind::Docker, format!("docker compose -p {p} stop {s}")),
            _ => (Kind::Docker, format!("docker stop {name}")),
        },
        Runtime::Podman => (Kind::Podman, format!("podman stop {name}")),
        Runtime::Containerd => (Kind::Containerd, format!("ctr task kill {}", c.full_id)),
        Runtime::Kubernetes => (
            Kind::Kubernetes,
            "kubectl scale --replicas=0 the deployment that runs it (a deleted pod comes back)"
                .to_owned(),
        ),
    };
    Supervisor {
        kind,
        name: c.label(),
        stop_command: (kind != Kind::Kubernetes).then_some(stop),
        restarts: c.restarts(),
        pid: None,
        cluster: false,
    }
}

/// The container a docker-proxy forwards to (`-container-ip`), among the snapshot's.
pub fn proxied<'a>(p: &Process, snap: &'a Snapshot) -> Option<&'a Container> {
    let ip: std::net::IpAddr = arg_after(&p.cmdline, "-container-ip")?.parse().ok()?;
    snap.processes
        .values()
        .filter_map(|q| q.container.as_ref())
        .find(|c| c.ips.contains(&ip))
}

/// `host:port → container:port` of a docker-proxy, as far as its arguments say.
pub fn proxy_link(p: &Process, snap: &Snapshot) -> Option<String> {
    let port = arg_after(&p.cmdline, "-container-port")?;
    if let Some(c) = proxied(p, snap) {
        return Some(format!("{}:{port}", c.label()));
    }
    let ip = arg_after(&p.cmdline, "-container-ip")?;
    // The engine names containers; without its socket only the address is known.
    let no_access = snap.processes.values().any(|q| {
        q.container
            .as_ref()
            .is_some_and(|c| c.access == crate::model::container::Access::NoAccess)
    });
    Some(if no_access {
        format!("{ip}:{port} (a container: no access to the Docker socket to name it)")
    } else {
        format!("{ip}:{port}")
    })
}

fn arg_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).map(String::as_str)
}

/// PM2: the app's own environment names it; a holder that is the daemon itself is
/// cluster mode.
fn pm2(p: &Process) -> Option<Supervisor> {
    let daemon = |name: &str, cmd: &[String]| {
        name.starts_with("PM2 v") || cmd.first().is_some_and(|c| c.starts_with("PM2 v"))
    };
    if let Some(app) = &p.origin.pm2 {
        let home = app
            .home
            .as_deref()
            .filter(|h| !h.ends_with("/.pm2"))
            .map(|h| format!("PM2_HOME={h} "))
            .unwrap_or_default();
        let pid = p
            .origin
            .ancestors
            .iter()
            .find(|a| daemon(&a.name, &a.cmdline))
            .map(|a| a.pid);
        return Some(Supervisor {
            kind: Kind::Pm2,
            name: app.name.clone(),
            stop_command: Some(format!("{home}pm2 stop {}", app.name)),
            restarts: true,
            pid,
            cluster: false,
        });
    }
    if daemon(&p.name, &p.cmdline) {
        // Cluster mode: the daemon holds its apps' listeners. Nothing restarts the
        // daemon itself, and signalling it stops every app it runs.
        let apps = &p.origin.pm2_apps;
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        let home = apps
            .first()
            .and_then(|a| a.home.as_deref())
            .filter(|h| !h.ends_with("/.pm2"))
            .map(|h| format!("PM2_HOME={h} "))
            .unwrap_or_default();
        let stop = if names.is_empty() {
            "pm2 ls, then pm2 stop NAME".to_owned()
        } else {
            format!("{home}pm2 stop {}", names.join(" "))
        };
        return Some(Supervisor {
            kind: Kind::Pm2,
            name: if names.is_empty() {
                "(cluster mode)".into()
            } else {
                names.join(", ")
            },
            stop_command: Some(stop),
            restarts: false,
            pid: Some(p.pid),
            cluster: true,
        });
    }
    None
}

fn systemd(p: &Process, port: Option<u16>) -> Option<Supervisor> {
    if p.pid == 1 && p.name == "systemd" {
        let units = &p.origin.socket_units;
        let unit = units
            .iter()
            .find(|(_, ports)| port.is_some_and(|x| ports.contains(&x)))
            .or_else(|| (units.len() == 1).then(|| &units[0]))
            .map(|(u, _)| u.clone());
        return Some(Supervisor {
            kind: Kind::SystemdSocket,
            name: unit.clone().unwrap_or_else(|| "(a .socket unit)".into()),
            stop_command: Some(match unit {
                Some(u) => format!("systemctl stop {u}"),
                None => "systemctl list-sockets, then systemctl stop NAME.socket".into(),
            }),
            restarts: true,
            pid: Some(1),
            cluster: false,
        });
    }
    let unit = p.origin.unit.as_ref()?;
    let user = if unit.user.is_some() { "--user " } else { "" };
    Some(Supervisor {
        kind: Kind::Systemd,
        name: unit.name.clone(),
        stop_command: Some(format!("systemctl {user}stop {}", unit.name)),
        restarts: unit.restarts.unwrap_or(true),
        pid: None,
        cluster: false,
    })
}

/// supervisord, runit's runsv, s6-supervise: an ancestor.
fn service_manager(ancestors: &[Ancestor]) -> Option<Supervisor> {
    for (i, a) in ancestors.iter().enumerate() {
        let prog = program(&a.cmdline).unwrap_or(&a.name);
        let (kind, name, stop) = match prog {
            "runsv" => {
                let svc = a.cmdline.get(1).cloned().unwrap_or_default();
                (Kind::Runit, svc.clone(), format!("sv down {svc}"))
            }
            "s6-supervise" => {
                let svc = a.cmdline.get(1).cloned().unwrap_or_default();
                (Kind::S6, svc.clone(), format!("s6-svc -d {svc}"))
            }
            "supervisord" => {
                // The program is the child supervisord started: the ancestor just below.
                let child = i
                    .checked_sub(1)
                    .and_then(|j| ancestors.get(j))
                    .map_or("NAME".to_owned(), |c| c.name.clone());
                (
                    Kind::Supervisord,
                    child.clone(),
                    format!("supervisorctl stop {child}"),
                )
            }
            _ => continue,
        };
        return Some(Supervisor {
            kind,
            name,
            stop_command: Some(stop),
            restarts: true,
            pid: Some(a.pid),
            cluster: false,
        });
    }
    None
}

/// The basename of a command line's program, and for an interpreter its script.
fn program(cmdline: &[String]) -> Option<&str> {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
    let first = cmdline.first()?;
    let b = base(first);
    let interp = ["node", "python", "python3", "sh", "bash"]
        .iter()
        .any(|i| b == *i || b.starts_with("python3."));
    let pick = if interp {
        cmdline.iter().skip(1).find(|a| !a.starts_with('-'))?
    } else {
        first
    };
    Some(pick.rsplit('/').next().unwrap_or(pick))
}

/// Dev-server reloaders: they restart the server when files change (and some when it
/// dies); stopping the server alone does not stop them.
fn reloader(p: &Process) -> Option<Supervisor> {
    // The process itself may be the reloader's parent half (uvicorn --reload holds the
    // socket in both), so look at it too.
    let me = Ancestor {
        pid: p.pid,
        name: p.name.clone(),
        cmdline: p.cmdline.clone(),
    };
    for a in p.origin.ancestors.iter().chain(std::iter::once(&me)) {
        let joined = a.cmdline.join(" ");
        let prog = program(&a.cmdline).unwrap_or(&a.name);
        let name = match prog {
            "nodemon" | "nodemon.js" => "nodemon",
            "ts-node-dev" => "ts-node-dev",
            "cargo-watch" => "cargo watch",
            "next" if joined.contains(" dev") => "next dev",
            "uvicorn" if joined.contains("--reload") => "uvicorn --reload",
            "flask" if joined.contains("--reload") || joined.contains("--debug") => {
                "flask's reloader"
            }
            _ if a.name == "node" && a.cmdline.iter().any(|x| x == "--watch") => "node --watch",
            _ if a.name == "cargo" && a.cmdline.get(1).is_some_and(|x| x == "watch") => {
                "cargo watch"
            }
            _ => continue,
        };
        if a.pid == p.pid && name != "uvicorn --reload" {
            continue;
        }
        return Some(Supervisor {
            kind: Kind::Reloader,
            name: format!("{name} ({})", a.pid),
            stop_command: Some(format!("sockscope kill pid:{}", a.pid)),
            // It waits for a file to change, not for the server to die.
            restarts: false,
            pid: Some(a.pid),
            cluster: false,
        });
    }
    None
}

fn mux(p: &Process) -> Option<Supervisor> {
    let (kind, session) = p.origin.mux.as_ref()?;
    Some(Supervisor {
        kind: if kind == "screen" {
            Kind::Screen
        } else {
            Kind::Tmux
        },
        name: session.clone(),
        stop_command: None,
        restarts: false,
        pid: None,
        cluster: false,
    })
}

#[cfg(test)]
mod tests;
