//! What restarts a holder when it dies, and the command that stops it for good: a
//! container engine, PM2, systemd, a process supervisor (supervisord, runit, s6), a
//! dev-server reloader — or, when nothing restarts it, where it was left running (tmux,
//! screen). Pure: reads what `collect` put in the process's origin and container.
//!
//! Trust (SPEC §11): sockscope runs as root among processes that say what they like about
//! themselves. Every attribution carries its [`Evidence`]; only a verified one gives a
//! stop command, and the command runs as the user of the supervisor it talks to, so
//! pasting it never gives anyone more than that user already has.
//! - **Container** (its cgroup names it): the engine confirms it (`collect::containers::
//!   confirm`); containerd/Kubernetes: a root-owned cgroup directory.
//! - **docker-proxy**: runs as root, its program is a root-owned `docker-proxy`, its
//!   parent is a root dockerd/containerd; the container is the one the engine says
//!   publishes that host port, never the one its argv names.
//! - **PM2**: the PM2 daemon is the holder's parent and runs as the holder's user (or the
//!   holder is the daemon itself, in cluster mode, with apps in its children of the same
//!   user); `PM2_HOME` comes from the daemon's environment.
//! - **systemd**: a system unit's cgroup directory is root's; a user unit is under the
//!   user manager of the holder's own uid; names match systemd's grammar.
//! - **supervisord, runit, s6, reloaders, tmux/screen**: an ancestor that runs as root or
//!   as the holder's user, whose program (the kernel's `exe`) is the real one, a
//!   root-owned file; runit and s6 services are named by that ancestor's working
//!   directory; a supervisord program name is believed from a process of the
//!   supervisor's own user only.

use crate::model::cgroup::valid_service_name;
use crate::model::process::exe_basename;
use crate::model::{Ancestor, Command, Container, Evidence, Process, Runtime, Snapshot};
use serde::{Serialize, Serializer};

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
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervisor {
    pub kind: Kind,
    /// The container, unit, app, reloader or session.
    pub name: String,
    /// Why it is believed, or why it is only a claim.
    pub evidence: Evidence,
    /// What stops it for good: only for a verified supervisor, and only when there is
    /// such a command.
    pub stop: Option<Command>,
    /// It brings the process back when it dies (or may: a systemd unit's Restart=).
    pub restarts: bool,
    /// The pid of the supervising process, when it is one (a reloader, the PM2 daemon).
    pub pid: Option<u32>,
    /// The user it runs as, or whose manager it is.
    pub uid: Option<u32>,
    /// The holder is the PM2 daemon itself, in cluster mode for the apps in `name`.
    pub cluster: bool,
    /// The full id of its container, for a container.
    pub container: Option<String>,
}

/// `{kind, name, stop_command, stop, restarts, trust, why}`: `stop_command` is the
/// rendered text of `stop` (`{argv, text, run_as}`), both null without a command.
impl Serialize for Supervisor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut st = s.serialize_struct("Supervisor", 7)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("stop_command", &self.stop.as_ref().map(Command::text))?;
        st.serialize_field("stop", &self.stop)?;
        st.serialize_field("restarts", &self.restarts)?;
        st.serialize_field(
            "trust",
            if self.verified() {
                "verified"
            } else {
                "claimed"
            },
        )?;
        st.serialize_field("why", self.evidence.why())?;
        st.end()
    }
}

impl Supervisor {
    fn new(kind: Kind, name: impl Into<String>, evidence: Evidence) -> Supervisor {
        Supervisor {
            kind,
            name: name.into(),
            evidence,
            stop: None,
            restarts: false,
            pid: None,
            uid: None,
            cluster: false,
            container: None,
        }
    }

    /// A command, kept only when the evidence is verified.
    fn stopped_by(mut self, stop: Option<Command>) -> Supervisor {
        self.stop = stop.filter(|_| self.verified());
        self
    }

    pub fn verified(&self) -> bool {
        self.evidence.verified()
    }

    /// It restarts the holder, and that is believed: what `kill` warns about and
    /// watches for.
    pub fn restarter(&self) -> bool {
        self.restarts && self.verified()
    }

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
    /// with `pm2 stop barapp`"; for a claim, what is claimed and why it is not believed.
    pub fn sentence(&self) -> String {
        if !self.verified() {
            let what = match self.kind {
                Kind::Tmux | Kind::Screen => format!("to run in {}", self.what()),
                _ => format!("to be run by {}", self.what()),
            };
            return format!("claims {what}; not trusted: {}", self.evidence.why());
        }
        if matches!(self.kind, Kind::Tmux | Kind::Screen) {
            return format!("runs in {}", self.what());
        }
        if self.cluster {
            return match &self.stop {
                Some(cmd) => format!(
                    "this is the PM2 daemon, holding the port in cluster mode for app {}: stop the app with `{cmd}`",
                    self.name
                ),
                None => format!(
                    "this is the PM2 daemon, holding the port in cluster mode for app {}",
                    self.name
                ),
            };
        }
        let what = self.what();
        let comes_back = self
            .comes_back()
            .map(|c| format!(", which {c}"))
            .unwrap_or_default();
        match &self.stop {
            Some(cmd) => format!("run by {what}{comes_back}: stop it with `{cmd}`"),
            None => format!("run by {what}{comes_back}"),
        }
    }

    /// The same supervisor: kind, name, supervising process, user and container agree,
    /// and both are verified. What a respawn is credited to.
    pub fn same_as(&self, other: &Supervisor) -> bool {
        self.verified()
            && other.verified()
            && self.kind == other.kind
            && self.name == other.name
            && self.pid == other.pid
            && self.uid == other.uid
            && self.container == other.container
    }
}

/// What is behind process `p` (holding `port`, when the question is about one), most
/// important first: the one that restarts it.
pub fn supervisor(p: &Process, snap: &Snapshot, port: Option<u16>) -> Option<Supervisor> {
    if let Some(c) = &p.container {
        return Some(of_container(c));
    }
    if let Some(c) = proxied(p, snap, port) {
        return Some(of_container(c));
    }
    pm2(p, snap)
        .or_else(|| systemd(p, snap, port))
        .or_else(|| service_manager(p, snap))
        .or_else(|| reloader(p))
        .or_else(|| mux(p))
}

/// A name read from /proc that the sanitiser left as it was (it escapes with `\` and
/// cuts with `…`), short and non-empty: safe to hand back to the tool that made it.
fn exact(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && !name.contains(['\\', '…'])
}

/// Who a command for a supervisor of user `uid` runs as: nobody else when sockscope
/// already runs as that user; that user, by name, otherwise (`None` when it has none:
/// then there is no command).
fn run_as(snap: &Snapshot, uid: Option<u32>) -> Option<Option<String>> {
    let uid = uid?;
    if uid == snap.visibility.euid {
        return Some(None);
    }
    if uid == 0 {
        return Some(Some("root".into()));
    }
    snap.user_name(uid).map(|n| Some(n.to_owned()))
}

/// "user alice", "uid 1000".
fn user_text(snap: &Snapshot, uid: Option<u32>) -> String {
    match uid {
        Some(0) => "root".into(),
        Some(u) => snap
            .user_name(u)
            .map_or_else(|| format!("uid {u}"), |n| format!("user {n}")),
        None => "an unknown user".into(),
    }
}

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
            s.is_listener() && s.owners.contains(&p.pid) && port.is_none_or(|x| s.local.port() == x)
        })
        .find_map(|s| {
            snap.published.iter().find(|e| {
                e.port.host_port == s.local.port()
                    && e.port.tcp == s.proto.is_tcp()
                    && ip_matches(e.port.host_ip, s.local.ip())
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

/// A PM2 daemon's title: `PM2 vX.Y.Z: God Daemon (PM2_HOME)`.
fn titled_pm2(name: &str, cmdline: &[String]) -> bool {
    name.starts_with("PM2 v") || cmdline.first().is_some_and(|c| c.starts_with("PM2 v"))
}

/// `pm2 stop APP…` for the daemon's user, with the daemon's `PM2_HOME`.
fn pm2_stop(
    snap: &Snapshot,
    uid: Option<u32>,
    home: Option<&str>,
    apps: &[&str],
) -> Option<Command> {
    if apps.is_empty() || !apps.iter().all(|a| exact(a)) {
        return None;
    }
    let mut cmd = Command::new("pm2", std::iter::once("stop").chain(apps.iter().copied()));
    if let Some(h) = home.filter(|h| exact(h) && h.starts_with('/')) {
        cmd = cmd.with_env("PM2_HOME", h);
    }
    Some(cmd.run_as(run_as(snap, uid)?))
}

/// PM2: the app's environment names it, and its parent must be a PM2 daemon of its own
/// user; a holder that is the daemon itself is cluster mode.
fn pm2(p: &Process, snap: &Snapshot) -> Option<Supervisor> {
    if let Some(app) = &p.origin.pm2 {
        let parent = p
            .origin
            .ancestors
            .first()
            .filter(|a| Some(a.pid) == p.ppid && titled_pm2(&a.name, &a.cmdline));
        let mut s = match parent {
            None => Supervisor::new(
                Kind::Pm2,
                &app.name,
                Evidence::Claimed(
                    "its environment names a PM2 app, but no PM2 daemon is its parent".into(),
                ),
            ),
            Some(d) if d.uid.is_none() || d.uid != p.uid => Supervisor::new(
                Kind::Pm2,
                &app.name,
                Evidence::Claimed(format!(
                    "the PM2 daemon {} above it runs as {}, not as its user",
                    d.pid,
                    user_text(snap, d.uid)
                )),
            ),
            Some(d) => {
                // PM2 takes an app's id as well as its name.
                let target = if exact(&app.name) {
                    Some(app.name.as_str())
                } else {
                    app.id
                        .as_deref()
                        .filter(|i| i.bytes().all(|b| b.is_ascii_digit()))
                };
                let stop = target.and_then(|t| pm2_stop(snap, d.uid, d.pm2_home.as_deref(), &[t]));
                let mut s = Supervisor::new(
                    Kind::Pm2,
                    &app.name,
                    Evidence::Verified(format!("PM2 daemon {} is its parent, same user", d.pid)),
                )
                .stopped_by(stop);
                s.pid = Some(d.pid);
                s
            }
        };
        s.restarts = true;
        s.uid = p.uid;
        return Some(s);
    }
    if titled_pm2(&p.name, &p.cmdline) {
        // Cluster mode: the daemon holds its apps' listeners. Nothing restarts the
        // daemon itself, and signalling it stops every app it runs.
        let apps = &p.origin.pm2_apps;
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        let (name, evidence) = if names.is_empty() {
            (
                "(cluster mode)".to_owned(),
                Evidence::Claimed("it is titled as the PM2 daemon, but runs no app".into()),
            )
        } else {
            (
                names.join(", "),
                Evidence::Verified(
                    "it is the PM2 daemon; its children of the same user run the apps".into(),
                ),
            )
        };
        let stop = pm2_stop(snap, p.uid, p.origin.pm2_home.as_deref(), &names);
        let mut s = Supervisor::new(Kind::Pm2, name, evidence).stopped_by(stop);
        s.pid = Some(p.pid);
        s.uid = p.uid;
        s.cluster = true;
        return Some(s);
    }
    None
}

fn systemd(p: &Process, snap: &Snapshot, port: Option<u16>) -> Option<Supervisor> {
    if p.pid == 1 && p.name == "systemd" && p.uid == Some(0) {
        let units = &p.origin.socket_units;
        let unit = units
            .iter()
            .find(|(_, ports)| port.is_some_and(|x| ports.contains(&x)))
            .or_else(|| (units.len() == 1).then(|| &units[0]))
            .map(|(u, _)| u.clone())
            .filter(|u| exact(u));
        let mut s = Supervisor::new(
            Kind::SystemdSocket,
            unit.clone().unwrap_or_else(|| "(a .socket unit)".into()),
            Evidence::Verified("pid 1 is systemd; its socket units are root's files".into()),
        )
        .stopped_by(Some(match unit {
            Some(u) => Command::new("systemctl", ["stop", &u]),
            None => Command::new("systemctl", ["list-sockets"]),
        }));
        s.restarts = true;
        s.pid = Some(1);
        s.uid = Some(0);
        return Some(s);
    }
    let unit = p.origin.unit.as_ref()?;
    let path = &unit.dir.path;
    let (evidence, stop, uid) = if !valid_service_name(&unit.name) {
        (
            Evidence::Claimed(format!(
                "its cgroup directory {path} is not named as systemd names units"
            )),
            None,
            unit.user,
        )
    } else if let Some(u) = unit.user {
        if p.uid == Some(u) {
            let stop = if snap.visibility.euid == u {
                Some(Command::new("systemctl", ["--user", "stop", &unit.name]))
            } else {
                // Root asks that user's manager, which can only touch that user's units.
                snap.user_name(u).map(|name| {
                    Command::new(
                        "systemctl",
                        ["--user", "-M", &format!("{name}@"), "stop", &unit.name],
                    )
                })
            };
            (
                Evidence::Verified(format!("under the user manager of its own user (uid {u})")),
                stop,
                Some(u),
            )
        } else {
            (
                Evidence::Claimed(format!(
                    "its cgroup is under the user manager of uid {u}, but it runs as {}",
                    user_text(snap, p.uid)
                )),
                None,
                Some(u),
            )
        }
    } else {
        match unit.dir.owner {
            Some(0) => (
                Evidence::Verified(format!("its cgroup {path} is root's")),
                run_as(snap, Some(0))
                    .map(|who| Command::new("systemctl", ["stop", &unit.name]).run_as(who)),
                Some(0),
            ),
            Some(u) => (
                Evidence::Claimed(format!(
                    "its cgroup directory {path} belongs to uid {u}, not root: a subtree delegated to a user"
                )),
                None,
                Some(u),
            ),
            None => (
                Evidence::Claimed(format!("its cgroup directory {path} could not be read")),
                None,
                None,
            ),
        }
    };
    let mut s = Supervisor::new(Kind::Systemd, unit.name.clone(), evidence).stopped_by(stop);
    s.restarts = unit.restarts.unwrap_or(true);
    s.uid = uid;
    Some(s)
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

/// An interpreter's program: `python3.11`, `node`.
fn interpreter(exe: Option<&str>) -> bool {
    exe.is_some_and(|b| {
        matches!(
            b,
            "node" | "nodejs" | "python" | "python3" | "perl" | "ruby"
        ) || b.starts_with("python3.")
    })
}

/// Whether ancestor `a`, which says it is `tool`, is believed: it runs as root or as the
/// holder's user, and the kernel says it runs the real program (a root-owned file named
/// `tool`, or a root-owned interpreter running a script named so). `Err` says why not.
fn real_tool(
    a: &Ancestor,
    holder: &Process,
    tool: &str,
    snap: &Snapshot,
) -> Result<String, String> {
    let prog = a.program();
    // An interpreter runs the tool's script: `python3 /usr/bin/supervisord`, argv[0]
    // naming the interpreter too (`exec -a supervisord python3` is not that).
    let argv0 = a.cmdline.first().map(|c| c.rsplit('/').next().unwrap_or(c));
    let script = interpreter(prog) && interpreter(argv0) && program(&a.cmdline) == Some(tool);
    let runs_it = prog == Some(tool) || script;
    if !runs_it || !a.exe_root_owned {
        return Err(format!(
            "{} {} calls itself {tool}, but its program {} is not a root-owned {tool}",
            a.pid,
            a.name,
            a.exe.as_deref().unwrap_or("(unreadable)")
        ));
    }
    if a.uid == Some(0) || (a.uid.is_some() && a.uid == holder.uid) {
        return Ok(format!(
            "{tool} {} ({}) is above it",
            a.pid,
            user_text(snap, a.uid)
        ));
    }
    Err(format!(
        "{tool} {} runs as {}, neither root nor its user",
        a.pid,
        user_text(snap, a.uid)
    ))
}

/// supervisord, runit's runsv, s6-supervise: an ancestor.
fn service_manager(p: &Process, snap: &Snapshot) -> Option<Supervisor> {
    for a in &p.origin.ancestors {
        let said = program(&a.cmdline).unwrap_or(&a.name);
        let by_exe = a.program().unwrap_or("");
        let (kind, tool) = match (said, by_exe) {
            ("runsv", _) | (_, "runsv") => (Kind::Runit, "runsv"),
            ("s6-supervise", _) | (_, "s6-supervise") => (Kind::S6, "s6-supervise"),
            ("supervisord", _) | (_, "supervisord") => (Kind::Supervisord, "supervisord"),
            _ => continue,
        };
        let real = real_tool(a, p, tool, snap);
        let mut s = match (kind, real) {
            (_, Err(why)) => Supervisor::new(kind, said, Evidence::Claimed(why)),
            (Kind::Supervisord, Ok(why)) => supervisord(p, a, snap, why),
            (_, Ok(why)) => {
                // runsv and s6-supervise run in their service's directory.
                let dir = a.cwd.clone().filter(|d| exact(d) && d.starts_with('/'));
                let name = dir
                    .as_deref()
                    .and_then(|d| d.rsplit('/').next())
                    .unwrap_or("(its service)")
                    .to_owned();
                let stop = dir.and_then(|d| {
                    let cmd = if kind == Kind::Runit {
                        Command::new("sv", ["down", &d])
                    } else {
                        Command::new("s6-svc", ["-d", &d])
                    };
                    Some(cmd.run_as(run_as(snap, a.uid)?))
                });
                Supervisor::new(kind, name, Evidence::Verified(why)).stopped_by(stop)
            }
        };
        s.restarts = true;
        s.pid = Some(a.pid);
        s.uid = a.uid;
        return Some(s);
    }
    None
}

/// A supervisord program name it accepts: `[A-Za-z0-9._@+-]`, a group before one `:`.
fn valid_program(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'+' | b'-'))
}

/// Under a real supervisord: the program its environment names is believed only from a
/// process of supervisord's own user (another user could name any program).
fn supervisord(p: &Process, sd: &Ancestor, snap: &Snapshot, why: String) -> Supervisor {
    let status = || Command::new("supervisorctl", ["status"]);
    let Some(prog) = &p.origin.supervisord else {
        return Supervisor::new(
            Kind::Supervisord,
            "(unknown program)",
            Evidence::Claimed(format!(
                "{why}, but no program name is in its environment: `{}` lists which program has pid {}",
                status(),
                p.pid
            )),
        );
    };
    let full = match &prog.group {
        Some(g) if g != &prog.name => format!("{g}:{}", prog.name),
        _ => prog.name.clone(),
    };
    let valid = valid_program(&prog.name) && prog.group.as_deref().is_none_or(valid_program);
    if !valid {
        return Supervisor::new(
            Kind::Supervisord,
            full,
            Evidence::Claimed(format!(
                "{why}, but the program name in its environment is not one supervisord accepts"
            )),
        );
    }
    if p.uid.is_none() || p.uid != sd.uid {
        return Supervisor::new(
            Kind::Supervisord,
            full,
            Evidence::Claimed(format!(
                "{why}, but the program name comes from its own environment and it runs as {}: `{}` lists which program has pid {}",
                user_text(snap, p.uid),
                status(),
                p.pid
            )),
        );
    }
    let stop =
        run_as(snap, sd.uid).map(|who| Command::new("supervisorctl", ["stop", &full]).run_as(who));
    Supervisor::new(Kind::Supervisord, full, Evidence::Verified(why)).stopped_by(stop)
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
        uid: p.uid,
        exe: p.exe.clone(),
        exe_root_owned: p.exe_root_owned,
        ..Ancestor::default()
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
        // Its argv names it; believed when it runs as the holder's user or root and the
        // kernel says it runs a program root installed.
        let evidence = if !a.exe_root_owned {
            Evidence::Claimed(format!(
                "{} says it is {name}, but its program {} is not a root-owned file",
                a.pid,
                a.exe.as_deref().unwrap_or("(unreadable)")
            ))
        } else if a.uid == Some(0) || (a.uid.is_some() && a.uid == p.uid) {
            Evidence::Verified(format!(
                "{} ({name}) is its ancestor, same user or root",
                a.pid
            ))
        } else {
            Evidence::Claimed(format!("{} ({name}) runs as another user", a.pid))
        };
        let mut s =
            Supervisor::new(Kind::Reloader, format!("{name} ({})", a.pid), evidence).stopped_by(
                Some(Command::sockscope(["kill", &format!("pid:{}", a.pid)])),
            );
        // It waits for a file to change, not for the server to die.
        s.pid = Some(a.pid);
        s.uid = a.uid;
        return Some(s);
    }
    None
}

/// tmux or screen, as its environment says: believed when a tmux (screen) of its own user
/// or root is above it. Nothing to stop either way.
fn mux(p: &Process) -> Option<Supervisor> {
    let (kind, session) = p.origin.mux.as_ref()?;
    let (kind, tool) = if kind == "screen" {
        (Kind::Screen, "screen")
    } else {
        (Kind::Tmux, "tmux")
    };
    let above = p.origin.ancestors.iter().find(|a| {
        a.program() == Some(tool) && (a.uid == Some(0) || (a.uid.is_some() && a.uid == p.uid))
    });
    let evidence = match above {
        Some(a) => Evidence::Verified(format!("{tool} {} is its ancestor", a.pid)),
        None => Evidence::Claimed(format!(
            "its environment says so, but no {tool} is above it"
        )),
    };
    let mut s = Supervisor::new(kind, session.clone(), evidence);
    s.uid = p.uid;
    Some(s)
}

#[cfg(test)]
mod tests;
