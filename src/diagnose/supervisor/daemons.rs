//! PM2 and systemd: the daemon above the holder, or the unit its cgroup names.

use super::{Kind, Supervisor, exact, run_as, user_text};
use crate::model::cgroup::valid_service_name;
use crate::model::{Command, Evidence, Process, Snapshot};

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
pub(super) fn pm2(p: &Process, snap: &Snapshot) -> Option<Supervisor> {
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

/// systemd itself (pid 1, root) holds the listener: one of its socket units.
fn socket_activation(p: &Process, port: Option<u16>) -> Supervisor {
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
    s
}

pub(super) fn systemd(p: &Process, snap: &Snapshot, port: Option<u16>) -> Option<Supervisor> {
    if p.pid == 1 && p.name == "systemd" && p.uid == Some(0) {
        return Some(socket_activation(p, port));
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
