//! Reading where a process came from: its cgroups (container, systemd unit) and who owns
//! their directories, its ancestors up to pid 1 with what the kernel says of each (uid,
//! the program it runs and who owns that file, its working directory), and the few
//! environment variables that name a supervisor (PM2's `name`, `pm_id`, `PM2_HOME`;
//! supervisord's program; `TMUX`, `STY`). Read once per process identity. What it means,
//! and which of it is evidence rather than a claim, is judged in `diagnose::supervisor`.

use crate::model::cgroup::{self, Cgroup, Dir};
use crate::model::process::SupervisordProgram;
use crate::model::sanitize::{sanitize, sanitize_capped};
use crate::model::stat::parse_stat;
use crate::model::{Ancestor, Container, Origin, Pm2App};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Ancestors followed at most.
const MAX_DEPTH: usize = 32;
/// Bytes of an environment read at most.
const MAX_ENVIRON: u64 = 256 * 1024;

/// The cgroups of a pid, parsed, with the owners of the directories that name its unit
/// and its container; empty when unreadable.
pub fn cgroup(pid: u32) -> Cgroup {
    let mut cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map(|t| cgroup::parse(&t))
        .unwrap_or_default();
    if let Some(u) = &mut cg.unit {
        u.dir.owner = dir_owner(&u.dir);
    }
    if let Some(c) = &mut cg.container {
        c.dir.owner = dir_owner(&c.dir);
    }
    cg
}

/// The container a pid runs in, known so far only by its cgroup.
pub fn container(c: &Cgroup) -> Option<Container> {
    c.container.as_ref().map(|n| {
        let mut c = Container::from_id(n.runtime, &n.id);
        c.dir = Some(n.dir.clone());
        c
    })
}

/// Cgroup hierarchies mounted here: (filesystem type, super options, mount point).
fn mounts() -> &'static [(String, Vec<String>, PathBuf)] {
    static MOUNTS: std::sync::OnceLock<Vec<(String, Vec<String>, PathBuf)>> =
        std::sync::OnceLock::new();
    MOUNTS.get_or_init(|| {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|t| parse_mountinfo(&t))
            .unwrap_or_default()
    })
}

/// The cgroup mounts of a `/proc/self/mountinfo` text whose root is the hierarchy's.
pub fn parse_mountinfo(text: &str) -> Vec<(String, Vec<String>, PathBuf)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(point), Some(fstype), Some(opts)) =
            (left.get(3), left.get(4), right.first(), right.get(2))
        else {
            continue;
        };
        if *root != "/" || !matches!(*fstype, "cgroup" | "cgroup2") {
            continue;
        }
        out.push((
            (*fstype).to_owned(),
            opts.split(',').map(str::to_owned).collect(),
            PathBuf::from(point.replace("\\040", " ")),
        ));
    }
    out
}

/// Who owns a cgroup directory: root when root (systemd, an engine) made it; a user for
/// a subtree delegated to them.
fn dir_owner(dir: &Dir) -> Option<u32> {
    let wanted: Vec<&str> = dir
        .controllers
        .split(',')
        .filter(|c| !c.is_empty())
        .collect();
    let (_, _, point) = mounts().iter().find(|(fstype, opts, _)| {
        if wanted.is_empty() {
            fstype == "cgroup2"
        } else {
            fstype == "cgroup" && wanted.iter().all(|w| opts.iter().any(|o| o == w))
        }
    })?;
    let path = point.join(dir.path.trim_start_matches('/'));
    std::fs::metadata(path).ok().map(|m| m.uid())
}

/// Everything [`Origin`] holds, for `pid` whose parent is `ppid`.
pub fn read(pid: u32, ppid: Option<u32>, cg: &Cgroup) -> Origin {
    let env = environ(pid);
    let unit = cg.unit.clone().map(|mut u| {
        // Unit files are read only for a name systemd could have given.
        if u.user.is_none() && cgroup::valid_service_name(&u.name) {
            u.restarts = unit_restarts(&u.name);
        }
        u
    });
    Origin {
        unit,
        ancestors: ancestors(ppid),
        pm2: pm2(&env),
        pm2_apps: if is_pm2_daemon(pid) {
            pm2_children(pid)
        } else {
            Vec::new()
        },
        pm2_home: get(&env, "PM2_HOME").map(str::to_owned),
        supervisord: get(&env, "SUPERVISOR_PROCESS_NAME").map(|name| SupervisordProgram {
            group: get(&env, "SUPERVISOR_GROUP_NAME").map(str::to_owned),
            name: name.to_owned(),
        }),
        mux: mux(&env),
        socket_units: if pid == 1 { socket_units() } else { Vec::new() },
    }
}

/// The PM2 daemon titles itself `PM2 vX.Y.Z: God Daemon (PM2_HOME)`.
fn is_pm2_daemon(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.starts_with("PM2 v"))
}

/// The real uid of a pid (`Uid:` of its status; its `/proc/PID` directory's owner is not
/// it: a process that makes itself non-dumpable shows root there).
pub fn real_uid(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether the program `pid` runs is a root-owned file nobody else may write (`stat` of
/// `/proc/PID/exe` reaches the very file the kernel runs, even if it was renamed).
pub fn exe_root_owned(pid: u32) -> bool {
    std::fs::metadata(format!("/proc/{pid}/exe"))
        .is_ok_and(|m| m.uid() == 0 && m.mode() & 0o022 == 0)
}

/// The PM2 apps of a daemon's children of its own user (each app once, by name).
fn pm2_children(pid: u32) -> Vec<Pm2App> {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    let uid = real_uid(pid);
    let mut apps: Vec<Pm2App> = Vec::new();
    for child in children
        .split_whitespace()
        .filter_map(|c| c.parse::<u32>().ok())
    {
        if uid.is_none() || real_uid(child) != uid {
            continue;
        }
        if let Some(app) = pm2(&environ(child))
            && !apps.iter().any(|a| a.name == app.name)
        {
            apps.push(app);
        }
    }
    apps
}

/// Where system units live, the ones that win first.
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// Whether a system unit's `Restart=` brings it back: `None` when no unit file says.
fn unit_restarts(name: &str) -> Option<bool> {
    let text = UNIT_DIRS
        .iter()
        .find_map(|d| std::fs::read_to_string(Path::new(d).join(name)).ok())?;
    Some(restarts(&text))
}

/// The last `Restart=` of a unit file; systemd's default is `no`.
pub fn restarts(unit_file: &str) -> bool {
    unit_file
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Restart="))
        .next_back()
        .is_some_and(|v| v.trim() != "no")
}

/// systemd's socket units and the TCP ports they listen on (`ListenStream=`).
fn socket_units() -> Vec<(String, Vec<u16>)> {
    let mut out: Vec<(String, Vec<u16>)> = Vec::new();
    for d in UNIT_DIRS {
        let Ok(entries) = std::fs::read_dir(d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".socket") || out.iter().any(|(n, _)| *n == name) {
                continue;
            }
            let ports = std::fs::read_to_string(e.path())
                .map(|t| listen_ports(&t))
                .unwrap_or_default();
            if !ports.is_empty() {
                out.push((sanitize_capped(&name, 128), ports));
            }
        }
    }
    out
}

/// The ports of `ListenStream=` lines: `3000`, `0.0.0.0:3000`, `[::]:3000`.
pub fn listen_ports(unit_file: &str) -> Vec<u16> {
    unit_file
        .lines()
        .filter_map(|l| l.trim().strip_prefix("ListenStream="))
        .filter_map(|v| v.trim().rsplit(':').next()?.parse().ok())
        .collect()
}

/// The chain of parents, nearest first, stopping at pid 1 (included) or a loop.
pub fn ancestors(mut ppid: Option<u32>) -> Vec<Ancestor> {
    let mut out: Vec<Ancestor> = Vec::new();
    while let Some(pid) = ppid.filter(|&p| p != 0) {
        if out.len() >= MAX_DEPTH || out.iter().any(|a| a.pid == pid) {
            break;
        }
        let Some(stat) = std::fs::read(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|b| parse_stat(&b))
        else {
            break;
        };
        let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|n| sanitize_capped(n.trim_end(), 64))
            .unwrap_or_default();
        let cmdline: Vec<String> = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|a| !a.is_empty())
                    .take(64)
                    .map(|a| sanitize(&String::from_utf8_lossy(a)))
                    .collect()
            })
            .unwrap_or_default();
        let link = |what: &str| {
            std::fs::read_link(format!("/proc/{pid}/{what}"))
                .ok()
                .map(|p| sanitize(&p.to_string_lossy()))
        };
        let titled_pm2 =
            name.starts_with("PM2 v") || cmdline.first().is_some_and(|c| c.starts_with("PM2 v"));
        out.push(Ancestor {
            pid,
            uid: real_uid(pid),
            exe: link("exe"),
            exe_root_owned: exe_root_owned(pid),
            cwd: link("cwd"),
            pm2_home: if titled_pm2 {
                get(&environ(pid), "PM2_HOME").map(str::to_owned)
            } else {
                None
            },
            name,
            cmdline,
        });
        ppid = Some(stat.ppid);
    }
    out
}

/// `KEY=value` pairs of the variables that matter here (readable by root or the owner).
fn environ(pid: u32) -> Vec<(String, String)> {
    use std::io::Read as _;
    let Ok(f) = std::fs::File::open(format!("/proc/{pid}/environ")) else {
        return Vec::new();
    };
    let mut buf = Vec::new();
    if f.take(MAX_ENVIRON).read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    parse_environ(&buf)
}

const WANTED: [&str; 8] = [
    "name",
    "pm_id",
    "PM2_HOME",
    "pm_exec_path",
    "TMUX",
    "STY",
    "SUPERVISOR_PROCESS_NAME",
    "SUPERVISOR_GROUP_NAME",
];

/// The wanted variables of a NUL-separated environment block, values sanitised. A PM2
/// cluster worker has no `name` or `pm_id` of its own: they are read from the JSON in
/// its `pm2_env`.
pub fn parse_environ(buf: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut pm2_env = None;
    for kv in buf.split(|&b| b == 0) {
        let kv = String::from_utf8_lossy(kv);
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        if k == "pm2_env" {
            pm2_env = serde_json::from_str::<serde_json::Value>(v).ok();
        } else if WANTED.contains(&k) {
            out.push((k.to_owned(), sanitize_capped(v, 256)));
        }
    }
    if let Some(doc) = pm2_env {
        for key in ["name", "pm_id"] {
            let value = match &doc[key] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => continue,
            };
            if !out.iter().any(|(k, _)| k == key) {
                out.push((key.to_owned(), sanitize_capped(&value, 256)));
            }
        }
    }
    out
}

fn get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
    env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A PM2 app: PM2 puts `pm_id` (and `name`) in its apps' environment.
pub fn pm2(env: &[(String, String)]) -> Option<Pm2App> {
    let id = get(env, "pm_id")?;
    let name = get(env, "name").unwrap_or(id).to_owned();
    Some(Pm2App {
        name,
        id: Some(id.to_owned()),
        home: get(env, "PM2_HOME").map(str::to_owned),
    })
}

/// `("tmux", session)` or `("screen", session)` from `TMUX` / `STY`.
pub fn mux(env: &[(String, String)]) -> Option<(String, String)> {
    if let Some(t) = get(env, "TMUX") {
        // socket path,server pid,session index
        let session = t.rsplit(',').next().unwrap_or("").to_owned();
        return Some(("tmux".into(), session));
    }
    get(env, "STY").map(|s| {
        // pid.tty.host: the session name is after the first dot
        let name = s.split_once('.').map_or(s, |(_, n)| n).to_owned();
        ("screen".into(), name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pm2_and_tmux_from_an_environment() {
        let env = parse_environ(
            b"PATH=/bin\0name=barapp\0pm_id=3\0PM2_HOME=/tmp/pm\0TMUX=/tmp/tmux-0/default,812,4\0",
        );
        assert_eq!(
            pm2(&env),
            Some(Pm2App {
                name: "barapp".into(),
                id: Some("3".into()),
                home: Some("/tmp/pm".into())
            })
        );
        assert_eq!(mux(&env), Some(("tmux".into(), "4".into())));
        let screen = parse_environ(b"STY=1234.pts-0.host\0");
        assert_eq!(mux(&screen), Some(("screen".into(), "pts-0.host".into())));
        assert_eq!(
            pm2(&parse_environ(b"name=x\0")),
            None,
            "name alone is not PM2"
        );
        let hostile = parse_environ(b"name=\x1b[2J\0pm_id=1\0");
        assert_eq!(pm2(&hostile).unwrap().name, "\\e[2J");
        // A cluster worker: name and id only in the JSON of pm2_env.
        let worker =
            parse_environ(b"PM2_HOME=/tmp/h\0pm2_env={\"name\":\"clu\",\"pm_id\":1,\"x\":[1,2]}\0");
        assert_eq!(
            pm2(&worker),
            Some(Pm2App {
                name: "clu".into(),
                id: Some("1".into()),
                home: Some("/tmp/h".into())
            })
        );
    }

    #[test]
    fn unit_files_say_restart_and_listen() {
        assert!(restarts("[Service]\nRestart=always\n"));
        assert!(!restarts("[Service]\nRestart=on-failure\nRestart=no\n"));
        assert!(!restarts("[Service]\nExecStart=/bin/x\n"));
        assert_eq!(
            listen_ports(
                "[Socket]\nListenStream=3000\nListenStream=[::]:8080\nListenStream=/run/x.sock\n"
            ),
            vec![3000, 8080]
        );
    }

    #[test]
    fn our_own_ancestors_end_at_pid_1() {
        let me = std::process::id();
        let ppid = std::fs::read(format!("/proc/{me}/stat"))
            .ok()
            .and_then(|b| parse_stat(&b))
            .map(|s| s.ppid);
        let chain = ancestors(ppid);
        assert!(!chain.is_empty());
        assert_eq!(chain.last().unwrap().pid, 1);
    }

    proptest! {
        #[test]
        fn any_environ_block_parses_without_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let env = parse_environ(&b);
            let _ = pm2(&env);
            let _ = mux(&env);
        }
    }
}
