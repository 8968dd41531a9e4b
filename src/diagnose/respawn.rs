//! Will a holder come back after it is stopped, and did it? Before a signal, `kill` and
//! the dialog say when a supervisor will probably restart the target; afterwards, a new
//! listener on the port is matched against what the targets were (same supervisor, same
//! container, same parent) so that "port 3000 is free" is never said a second before PM2
//! brings the app back. Pure: works on snapshots.

use super::supervisor::{Kind, Supervisor, is_docker_proxy, proxied, supervisor};
use super::verdict::Holders;
use crate::model::{Command, Process, Snapshot};
use std::time::Duration;

/// After a port is released, how long `kill` keeps watching for a respawn when no known
/// supervisor restarts the target but its parent (a shell loop, an unknown daemon) lives.
pub const GRACE: Duration = Duration::from_secs(1);

/// What a target was before it was signalled: enough to recognise its replacement, and
/// to tell it from a squatter of another user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Departed {
    pub pid: u32,
    pub uid: Option<u32>,
    /// Its parent, unless that is pid 1 (orphans and services are judged by their
    /// supervisor alone).
    pub parent: Option<(u32, String)>,
    pub supervisor: Option<Supervisor>,
    /// The full id of its container (its own, confirmed by the engine, or the one the
    /// engine says its docker-proxy publishes).
    pub container: Option<String>,
}

impl Departed {
    pub fn of(p: &Process, snap: &Snapshot, port: Option<u16>) -> Departed {
        let parent = p.ppid.filter(|&pp| pp > 1).map(|pp| {
            let name = p
                .origin
                .ancestors
                .iter()
                .find(|a| a.pid == pp)
                .map(|a| a.name.clone())
                .or_else(|| snap.processes.get(&pp).map(|q| q.name.clone()))
                .unwrap_or_default();
            (pp, name)
        });
        Departed {
            pid: p.pid,
            uid: p.uid,
            parent,
            supervisor: supervisor(p, snap, port),
            container: container_of(p, snap, port),
        }
    }

    /// A supervisor that restarts it, and is believed (tmux and screen do not restart).
    pub fn restarter(&self) -> Option<&Supervisor> {
        self.supervisor.as_ref().filter(|s| s.restarter())
    }

    /// Said before signalling it: "PM2 app barapp will probably start it again: stop it
    /// for good with `pm2 stop barapp`"; for a reloader, that it starts it again when a
    /// file changes; for a claim, what it claims and why that is not believed.
    pub fn warning(&self) -> Option<String> {
        let s = self.supervisor.as_ref()?;
        if !s.verified() {
            return Some(s.sentence());
        }
        if s.cluster {
            let stop = s
                .stop
                .as_ref()
                .map(|c| format!("; `{c}` stops only the app"))
                .unwrap_or_default();
            return Some(format!(
                "this is the PM2 daemon (cluster mode for app {}): a signal stops the daemon and every app it runs{stop}",
                s.name
            ));
        }
        let what = s.what();
        let when = if s.restarts {
            "will probably start it again"
        } else if s.kind == Kind::Reloader {
            "starts it again when a file changes"
        } else {
            return None;
        };
        Some(match &s.stop {
            Some(cmd) => format!("{what} {when}: stop it for good with `{cmd}`"),
            None => format!("{what} {when}"),
        })
    }
}

fn container_of(p: &Process, snap: &Snapshot, port: Option<u16>) -> Option<String> {
    p.container
        .as_ref()
        .filter(|c| c.confirmed.verified())
        .or_else(|| is_docker_proxy(p).then(|| proxied(p, snap, port)).flatten())
        .map(|c| c.full_id.clone())
}

/// How long to watch the port for a respawn once it is released: until the command's
/// timeout when a supervisor restarts a target, [`GRACE`] when a target's parent might,
/// else not at all.
pub fn watch_for(departed: &[Departed], timeout: Duration) -> Duration {
    if departed.iter().any(|d| d.restarter().is_some()) {
        timeout
    } else if departed.iter().any(|d| d.parent.is_some()) {
        GRACE.min(timeout)
    } else {
        Duration::ZERO
    }
}

/// A listener that took the port back under a departed target's supervisor, container
/// or parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Respawn {
    pub pid: u32,
    pub name: String,
    /// "PM2 app barapp", "Docker container web1", "its parent 4100/bash".
    pub by: String,
    /// What stops it for good.
    pub stop: Option<Command>,
}

impl Respawn {
    /// "respawned by PM2 app barapp as 4250/node: stop it with `pm2 stop barapp`".
    pub fn sentence(&self) -> String {
        let mut out = format!("respawned by {} as {}/{}", self.by, self.pid, self.name);
        if let Some(cmd) = &self.stop {
            out.push_str(&format!(": stop it with `{cmd}`"));
        }
        out
    }
}

/// A listener on the port that is none of the departed and did not come back under
/// their supervisor, container or parent: someone else took the port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    pub pid: u32,
    pub name: String,
    /// "user nobody", "uid 1000".
    pub user: String,
    /// "PM2 app webapp": what the departed were run by, when something was.
    pub not_by: Option<String>,
}

impl Taken {
    /// "port 3000 is held again by 7577/python3 (user nobody), not by PM2 app webapp".
    pub fn sentence(&self, port: u16) -> String {
        self.said(port, "is held again")
    }

    /// The same with the verb given: "was taken again 0.8 s later".
    pub fn said(&self, port: u16, verb: &str) -> String {
        let mut out = format!(
            "port {port} {verb} by {}/{} ({})",
            self.pid, self.name, self.user
        );
        if let Some(by) = &self.not_by {
            out.push_str(&format!(", not by {by}"));
        }
        out
    }
}

/// After the departed left: the port is back under one of their supervisors, containers
/// or parents (a respawn), or held by someone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Back {
    Respawned(Respawn),
    Taken(Taken),
}

/// The first TCP listener holder on `port` that is none of the departed and came back
/// under one of their supervisors, containers or parents.
pub fn respawned(departed: &[Departed], snap: &Snapshot, port: u16) -> Option<Respawn> {
    match back(departed, &[], snap, port)? {
        Back::Respawned(r) => Some(r),
        Back::Taken(_) => None,
    }
}

/// Who holds `port` now that is none of the departed and did not hold it `before` (the
/// holders left alone): a respawn when it came back under one of their (verified)
/// supervisors, containers or parents with their user; someone else otherwise.
pub fn back(departed: &[Departed], before: &[u32], snap: &Snapshot, port: u16) -> Option<Back> {
    let h = Holders::of(snap, port);
    let mut taken = None;
    for &pid in &h.pids {
        if departed.iter().any(|d| d.pid == pid) || before.contains(&pid) {
            continue;
        }
        let Some(q) = snap.processes.get(&pid) else {
            continue;
        };
        let now = Departed::of(q, snap, Some(port));
        for d in departed {
            if let Some(r) = matched(d, &now, q) {
                return Some(Back::Respawned(r));
            }
        }
        if taken.is_none() {
            let user = match (q.user.as_deref(), q.uid) {
                (Some(u), _) => format!("user {u}"),
                (None, Some(u)) => format!("uid {u}"),
                (None, None) => "an unknown user".into(),
            };
            taken = Some(Taken {
                pid,
                name: q.name.clone(),
                user,
                not_by: departed
                    .iter()
                    .find_map(|d| d.supervisor.as_ref().filter(|s| s.verified()))
                    .map(Supervisor::what),
            });
        }
    }
    taken.map(Back::Taken)
}

fn matched(d: &Departed, now: &Departed, q: &Process) -> Option<Respawn> {
    let respawn = |by: String, stop: Option<Command>| Respawn {
        pid: q.pid,
        name: q.name.clone(),
        by,
        stop,
    };
    if let (Some(a), Some(b)) = (&d.supervisor, &now.supervisor)
        && a.restarts
        && a.same_as(b)
    {
        return Some(respawn(a.what(), a.stop.clone()));
    }
    if d.container.is_some() && d.container == now.container {
        if let Some(s) = d.supervisor.as_ref().filter(|s| s.verified()) {
            return Some(respawn(s.what(), s.stop.clone()));
        }
        return Some(respawn("its container".into(), None));
    }
    match (&d.parent, &now.parent) {
        (Some((a, name)), Some((b, _))) if a == b && d.uid.is_some() && d.uid == now.uid => {
            Some(respawn(
                format!("its parent {a}/{name}"),
                Some(Command::sockscope(["kill", &format!("pid:{a}")])),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{pm2_app, process, snapshot, sock};
    use crate::model::{Ancestor, Proto, Scope, Socket, State};

    fn listener(port: u16, pid: u32) -> Socket {
        sock(
            Proto::Tcp,
            &format!("127.0.0.1:{port}"),
            "0.0.0.0:0",
            State::Listen,
            pid,
            &[pid],
        )
    }

    fn snap_with(procs: &[Process], sockets: Vec<Socket>) -> Snapshot {
        snapshot(1, Scope::All, sockets, procs)
    }

    #[test]
    fn a_pm2_app_back_under_a_new_pid_is_a_respawn() {
        let before = snap_with(&[pm2_app(100, "barapp")], vec![listener(3000, 100)]);
        let gone = vec![Departed::of(&before.processes[&100], &before, Some(3000))];
        let warning = gone[0].warning().unwrap();
        assert_eq!(
            warning,
            "PM2 app barapp will probably start it again: stop it for good with `sudo -u alice env PM2_HOME=/home/alice/.pm2 pm2 stop barapp`"
        );
        assert_eq!(
            watch_for(&gone, Duration::from_secs(5)),
            Duration::from_secs(5)
        );

        let after = snap_with(&[pm2_app(250, "barapp")], vec![listener(3000, 250)]);
        let r = respawned(&gone, &after, 3000).unwrap();
        assert_eq!(r.pid, 250);
        assert_eq!(
            r.sentence(),
            "respawned by PM2 app barapp as 250/node: stop it with `sudo -u alice env PM2_HOME=/home/alice/.pm2 pm2 stop barapp`"
        );
    }

    #[test]
    fn another_app_on_the_port_is_not_a_respawn() {
        let before = snap_with(&[pm2_app(100, "barapp")], vec![listener(3000, 100)]);
        let gone = vec![Departed::of(&before.processes[&100], &before, Some(3000))];
        let mut other = process(300, "python3", 'S');
        other.ppid = Some(1);
        let after = snap_with(&[other], vec![listener(3000, 300)]);
        assert_eq!(respawned(&gone, &after, 3000), None);
        let other_app = snap_with(&[pm2_app(301, "other")], vec![listener(3000, 301)]);
        // Another app of the same daemon: same parent, so it is reported as the parent's.
        let r = respawned(&gone, &other_app, 3000).unwrap();
        assert!(r.by.starts_with("its parent 900/"), "{}", r.by);
        // The same pid still listening is not a respawn.
        let still = snap_with(&[pm2_app(100, "barapp")], vec![listener(3000, 100)]);
        assert_eq!(respawned(&gone, &still, 3000), None);
    }

    #[test]
    fn a_shell_loop_brings_it_back_under_the_same_parent() {
        let mut p = process(100, "server", 'S');
        p.ppid = Some(40);
        p.origin.ancestors = vec![Ancestor {
            pid: 40,
            name: "bash".into(),
            cmdline: vec![
                "bash".into(),
                "-c".into(),
                "while true; do server; done".into(),
            ],
            ..Ancestor::default()
        }];
        let before = snap_with(std::slice::from_ref(&p), vec![listener(8000, 100)]);
        let gone = vec![Departed::of(&p, &before, Some(8000))];
        assert_eq!(gone[0].warning(), None);
        assert_eq!(watch_for(&gone, Duration::from_secs(5)), GRACE);
        let mut q = p.clone();
        q.pid = 101;
        let after = snap_with(&[q], vec![listener(8000, 101)]);
        let r = respawned(&gone, &after, 8000).unwrap();
        assert_eq!(r.by, "its parent 40/bash");
        assert_eq!(
            r.stop.map(|c| c.text()).as_deref(),
            Some("sockscope kill pid:40")
        );
    }

    /// A process of another user that takes the port, even under the same parent, is
    /// not credited to the departed's supervisor or parent: it is named, with its user.
    #[test]
    fn a_squatter_of_another_user_is_not_a_respawn() {
        let before = snap_with(&[pm2_app(100, "barapp")], vec![listener(3000, 100)]);
        let gone = vec![Departed::of(&before.processes[&100], &before, Some(3000))];
        // Same parent, same claimed app, another uid.
        let mut squatter = pm2_app(7577, "barapp");
        squatter.name = "python3".into();
        squatter.uid = Some(65534);
        squatter.user = Some("nobody".into());
        let after = snap_with(&[squatter], vec![listener(3000, 7577)]);
        assert_eq!(respawned(&gone, &after, 3000), None);
        let Some(Back::Taken(t)) = back(&gone, &[], &after, 3000) else {
            panic!("{:?}", back(&gone, &[], &after, 3000));
        };
        assert_eq!(
            t.sentence(3000),
            "port 3000 is held again by 7577/python3 (user nobody), not by PM2 app barapp"
        );
        // A PM2 claim with no daemon above it is not PM2's respawn either.
        let mut fake = process(7578, "node", 'S');
        fake.ppid = Some(1);
        fake.origin.pm2 = before.processes[&100].origin.pm2.clone();
        let after = snap_with(&[fake], vec![listener(3000, 7578)]);
        assert!(matches!(
            back(&gone, &[], &after, 3000),
            Some(Back::Taken(_))
        ));
        // A holder left alone is not a newcomer.
        assert_eq!(back(&gone, &[7578], &after, 3000), None);
    }

    #[test]
    fn an_orphan_is_not_watched() {
        let mut p = process(100, "server", 'S');
        p.ppid = Some(1);
        let snap = snap_with(std::slice::from_ref(&p), vec![listener(8000, 100)]);
        let gone = vec![Departed::of(&p, &snap, Some(8000))];
        assert_eq!(watch_for(&gone, Duration::from_secs(5)), Duration::ZERO);
    }
}
