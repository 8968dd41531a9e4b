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

mod ancestors;
mod daemons;
mod engine;

pub use engine::{is_docker_proxy, of_container, proxied, proxy_claim, proxy_link};

use crate::model::{Command, Evidence, Process, Snapshot};
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
    daemons::pm2(p, snap)
        .or_else(|| daemons::systemd(p, snap, port))
        .or_else(|| ancestors::service_manager(p, snap))
        .or_else(|| ancestors::reloader(p))
        .or_else(|| ancestors::mux(p))
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

#[cfg(test)]
mod tests;
