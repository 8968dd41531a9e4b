//! Reading where a process came from: its cgroups (container, systemd unit) and who owns
//! their directories, its ancestors up to pid 1 with what the kernel says of each (uid,
//! the program it runs and who owns that file, its working directory), and the few
//! environment variables that name a supervisor (PM2's `name`, `pm_id`, `PM2_HOME`;
//! supervisord's program; `TMUX`, `STY`). Read once per process identity. What it means,
//! and which of it is evidence rather than a claim, is judged in `diagnose::supervisor`.

use crate::model::cgroup::{self, Cgroup, Dir};
use crate::model::process::SupervisordProgram;
use crate::model::sanitize::{sanitize, sanitize_capped};
use crate::model::{Ancestor, Container, Origin, Pm2App};
use crate::procfs::{PidFile, Proc, ProcSource, SystemFile, read_system};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Ancestors followed at most.
const MAX_DEPTH: usize = 32;
/// Bytes of an environment read at most.
const MAX_ENVIRON: u64 = 256 * 1024;

/// The cgroups of a process, parsed, with the owners of the directories that name its
/// unit and its container; empty when unreadable.
pub fn cgroup_of(p: &dyn Proc) -> Cgroup {
    cgroup(&p.read(PidFile::Cgroup, u64::MAX).unwrap_or_default())
}

/// A `/proc/PID/cgroup` text, parsed, with the owners of the directories that name its
/// unit and its container; empty when not UTF-8.
pub fn cgroup(text: &[u8]) -> Cgroup {
    let mut cg = std::str::from_utf8(text)
        .map(cgroup::parse)
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
        read_system(SystemFile::OwnMountinfo)
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

/// Everything [`Origin`] holds, for process `p` whose parent is `ppid`.
pub fn read(src: &dyn ProcSource, p: &dyn Proc, ppid: Option<u32>, cg: &Cgroup) -> Origin {
    let pid = p.pid();
    let env = environ(p);
    let unit = cg.unit.clone().map(|mut u| {
        // Unit files are read only for a name systemd could have given.
        if u.user.is_none() && cgroup::valid_service_name(&u.name) {
            u.restarts = unit_restarts(&u.name);
        }
        u
    });
    Origin {
        unit,
        ancestors: ancestors(src, ppid),
        pm2: pm2(&env),
        pm2_apps: if is_pm2_daemon(p) {
            pm2_children(src, p)
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
fn is_pm2_daemon(p: &dyn Proc) -> bool {
    p.comm().is_ok_and(|c| c.starts_with("PM2 v"))
}

/// The real uid of a process (`Uid:` of its status; its `/proc/PID` directory's owner is
/// not it: a process that makes itself non-dumpable shows root there).
pub fn real_uid(p: &dyn Proc) -> Option<u32> {
    p.status().ok()?.real_uid
}

/// Whether the program a process runs is a root-owned file nobody else may write (`stat`
/// through `/proc/PID/exe` reaches the very file the kernel runs, even if it was renamed).
pub fn exe_root_owned(p: &dyn Proc) -> bool {
    p.exe_meta()
        .is_ok_and(|m| m.uid == 0 && m.mode & 0o022 == 0)
}

/// Whether an interpreter's script ([`crate::model::process::script_arg`], against its
/// working directory `cwd`) is a root-owned file that only root could have put there:
/// every directory on the way, and on the way to where its links lead, is root's and
/// writable by nobody else. (The script is named by argv, which its process wrote; a
/// path only root controls cannot have held another file when it started.)
pub fn script_root_owned(cmdline: &[String], cwd: Option<&Path>) -> bool {
    let Some(arg) = crate::model::process::script_arg(cmdline) else {
        return false;
    };
    let path = match (Path::new(arg).is_absolute(), cwd) {
        (true, _) => PathBuf::from(arg),
        (false, Some(cwd)) if cwd.is_absolute() => cwd.join(arg),
        _ => return false,
    };
    let Ok(real) = std::fs::canonicalize(&path) else {
        return false;
    };
    std::fs::metadata(&real).is_ok_and(|m| m.is_file())
        && root_controlled(&path)
        && root_controlled(&real)
}

/// Every prefix of `path` is root's, and (but for a link) writable by nobody else.
fn root_controlled(path: &Path) -> bool {
    super::path_held_by(path, 0, true)
}

/// The PM2 apps of a daemon's children of its own user (each app once, by name).
fn pm2_children(src: &dyn ProcSource, p: &dyn Proc) -> Vec<Pm2App> {
    let uid = real_uid(p);
    let mut apps: Vec<Pm2App> = Vec::new();
    for child in p.children() {
        let Ok(child) = src.open(child) else {
            continue;
        };
        if uid.is_none() || real_uid(&*child) != uid {
            continue;
        }
        if let Some(app) = pm2(&environ(&*child))
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

/// The chain of parents, nearest first, stopping at pid 1 (included) or a loop. Each
/// ancestor is read through one pinned handle: its facts are all of one process.
pub fn ancestors(src: &dyn ProcSource, mut ppid: Option<u32>) -> Vec<Ancestor> {
    let mut out: Vec<Ancestor> = Vec::new();
    while let Some(pid) = ppid.filter(|&p| p != 0) {
        if out.len() >= MAX_DEPTH || out.iter().any(|a| a.pid == pid) {
            break;
        }
        let Ok(p) = src.open(pid) else {
            break;
        };
        let Ok(stat) = p.stat() else {
            break;
        };
        out.push(ancestor(&*p));
        ppid = Some(stat.ppid);
    }
    out
}

/// What one ancestor says of itself and what the kernel says of it.
fn ancestor(p: &dyn Proc) -> Ancestor {
    let name = p
        .comm()
        .map(|n| sanitize_capped(n.trim_end(), 64))
        .unwrap_or_default();
    let cmdline = crate::model::sanitize::cmdline(
        &p.read(PidFile::Cmdline, crate::model::sanitize::MAX_CMDLINE_BYTES)
            .unwrap_or_default(),
        64,
    );
    let exe = p.exe().ok();
    let cwd = p.cwd().ok();
    let script_root_owned = crate::model::process::interpreter(
        crate::model::process::exe_basename(exe.as_deref().and_then(|e| e.to_str())),
    ) && script_root_owned(&cmdline, cwd.as_deref());
    let link = |l: Option<PathBuf>| l.map(|p| sanitize(&p.to_string_lossy()));
    let titled_pm2 =
        name.starts_with("PM2 v") || cmdline.first().is_some_and(|c| c.starts_with("PM2 v"));
    Ancestor {
        pid: p.pid(),
        uid: real_uid(p),
        exe: link(exe),
        exe_root_owned: exe_root_owned(p),
        script_root_owned,
        cwd: link(cwd),
        pm2_home: if titled_pm2 {
            get(&environ(p), "PM2_HOME").map(str::to_owned)
        } else {
            None
        },
        name,
        cmdline,
    }
}

/// `KEY=value` pairs of the variables that matter here (readable by root or the owner).
fn environ(p: &dyn Proc) -> Vec<(String, String)> {
    match p.read(PidFile::Environ, MAX_ENVIRON) {
        Ok(buf) => parse_environ(&buf),
        Err(_) => Vec::new(),
    }
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
        let fs = crate::procfs::ProcFs::new();
        let ppid = fs.stat(std::process::id()).ok().map(|s| s.ppid);
        let chain = ancestors(&fs, ppid);
        assert!(!chain.is_empty());
        assert_eq!(chain.last().unwrap().pid, 1);
    }

    /// Ancestors over a fake: what the kernel says of each (uid, the program and who owns
    /// it, cwd) beside what it says of itself (name, argv); a program others may write is
    /// not root-owned; `PM2_HOME` is read only from a process titled PM2; the chain ends
    /// at pid 1, at a loop, or where a process exited.
    #[test]
    fn ancestor_facts_over_a_fake() {
        use crate::procfs::FileMeta;
        use crate::procfs::fake::{FakeProc, FakeProcs};
        let mut init = FakeProc::new(1, 0, 1, "systemd");
        init.uid = 0;
        init.cmdline = vec!["/sbin/init".into(), "splash".into()];
        let mut god = FakeProc::new(200, 1, 100, "PM2 v5.3.0: God");
        god.cmdline = vec!["PM2 v5.3.0: God Daemon (/home/u/.pm2)".into()];
        god.environ = vec![("PM2_HOME".into(), "/home/u/.pm2".into())];
        let group_writable = FileMeta {
            uid: 0,
            mode: 0o100_775,
        };
        god.exe = Some(("/usr/bin/node".into(), group_writable));
        god.cwd = Some("/home/u".into());
        let mut shell = FakeProc::new(250, 200, 150, "bash");
        shell.environ = vec![("PM2_HOME".into(), "/tmp/forged".into())];
        let users_own = FileMeta {
            uid: 1000,
            mode: 0o100_755,
        };
        shell.exe = Some(("/home/u/bin/bash".into(), users_own));
        shell.cwd = None;
        let procs = FakeProcs::new([(1, init), (200, god), (250, shell)]);

        let chain = ancestors(&procs, Some(250));
        let pids: Vec<u32> = chain.iter().map(|a| a.pid).collect();
        assert_eq!(pids, vec![250, 200, 1]);
        let (bash, pm2, init) = (&chain[0], &chain[1], &chain[2]);
        assert_eq!((bash.name.as_str(), bash.uid), ("bash", Some(1000)));
        assert_eq!(bash.exe.as_deref(), Some("/home/u/bin/bash"));
        assert!(!bash.exe_root_owned);
        assert_eq!(
            (bash.cwd.as_deref(), bash.pm2_home.as_deref()),
            (None, None)
        );
        assert_eq!(pm2.pm2_home.as_deref(), Some("/home/u/.pm2"));
        assert!(!pm2.exe_root_owned, "group-writable");
        assert_eq!(pm2.cwd.as_deref(), Some("/home/u"));
        assert_eq!((init.uid, init.exe_root_owned), (Some(0), true));
        assert_eq!(init.cmdline, vec!["/sbin/init", "splash"]);
        assert_eq!(init.exe.as_deref(), Some("/usr/bin/systemd"));

        procs.change(1, |p| p.stat.ppid = 250);
        assert_eq!(
            ancestors(&procs, Some(250)).len(),
            3,
            "a loop ends the chain"
        );
        procs.remove(200);
        let pids: Vec<u32> = ancestors(&procs, Some(250)).iter().map(|a| a.pid).collect();
        assert_eq!(pids, vec![250], "an exited ancestor ends the chain");
    }

    /// Where a process came from, over a fake: its environment (PM2 app, tmux,
    /// supervisord), its cgroup (a system unit) and, for a PM2 daemon, the apps of its
    /// children of its own user only.
    #[test]
    fn origin_from_environ_and_cgroup_over_a_fake() {
        use crate::procfs::fake::{FakeProc, FakeProcs};
        let mut app = FakeProc::new(300, 200, 300, "node");
        app.environ = vec![
            ("name".into(), "api".into()),
            ("pm_id".into(), "2".into()),
            ("PM2_HOME".into(), "/h".into()),
            ("TMUX".into(), "/tmp/tmux-0/default,812,4".into()),
            ("SUPERVISOR_PROCESS_NAME".into(), "web".into()),
            ("SUPERVISOR_GROUP_NAME".into(), "g".into()),
        ];
        app.cgroup = "0::/system.slice/sockscope-fake-unit.service\n".into();
        let mut other = FakeProc::new(301, 200, 301, "node");
        other.uid = 1001;
        other.environ = vec![
            ("name".into(), "theirs".into()),
            ("pm_id".into(), "3".into()),
        ];
        let mut god = FakeProc::new(200, 1, 100, "PM2 v5.3.0: God");
        god.children = vec![300, 301, 302];
        let procs = FakeProcs::new([(200, god), (300, app), (301, other)]);

        let p = procs.open(300).unwrap();
        let cg = cgroup_of(&*p);
        assert_eq!(
            cg.unit.as_ref().map(|u| u.name.as_str()),
            Some("sockscope-fake-unit.service")
        );
        let o = read(&procs, &*p, Some(200), &cg);
        assert_eq!(
            o.pm2.as_ref().map(|a| (a.name.as_str(), a.id.as_deref())),
            Some(("api", Some("2")))
        );
        assert_eq!(o.pm2_home.as_deref(), Some("/h"));
        assert_eq!(o.mux, Some(("tmux".into(), "4".into())));
        let sup = o.supervisord.unwrap();
        assert_eq!(
            (sup.group.as_deref(), sup.name.as_str()),
            (Some("g"), "web")
        );
        assert_eq!(
            o.unit.map(|u| u.name),
            Some("sockscope-fake-unit.service".into())
        );
        assert!(o.pm2_apps.is_empty(), "not a PM2 daemon");

        let daemon = procs.open(200).unwrap();
        let o = read(&procs, &*daemon, Some(1), &cgroup_of(&*daemon));
        let apps: Vec<&str> = o.pm2_apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(apps, vec!["api"], "301 is another user's, 302 is gone");
    }

    proptest! {
        #[test]
        fn any_environ_block_parses_without_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let env = parse_environ(&b);
            let _ = pm2(&env);
            let _ = mux(&env);
        }
    }

    /// A script counts as root's only when root alone could have put it at its path:
    /// root's file in root's directories. The same file in a directory anyone may write
    /// (/tmp), a file of another user's, or a relative path without a working directory
    /// are not.
    #[test]
    fn an_interpreters_script_is_roots_only_on_a_path_only_root_controls() {
        use std::os::unix::fs::PermissionsExt;
        let cmd = |path: &str| vec!["python3".to_owned(), "-u".to_owned(), path.to_owned()];
        // Under the build directory: root's and 0755 on a root checkout.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("script-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = dir.join("supervisord");
        std::fs::write(&script, "print()").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        let root = rustix::process::geteuid().is_root()
            && root_controlled(Path::new(env!("CARGO_MANIFEST_DIR")));
        assert_eq!(
            script_root_owned(&cmd(script.to_str().unwrap()), None),
            root
        );
        // Relative: against its working directory, and not without one.
        assert_eq!(script_root_owned(&cmd("supervisord"), Some(&dir)), root);
        assert!(!script_root_owned(&cmd("supervisord"), None));
        // Others may write the directory: anyone could have put it there.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!script_root_owned(&cmd(script.to_str().unwrap()), None));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another user's file.
        if root {
            rustix::fs::chown(&script, Some(rustix::fs::Uid::from_raw(65534)), None).unwrap();
            assert!(!script_root_owned(&cmd(script.to_str().unwrap()), None));
        }
        // In /tmp (anyone may write there), even through a root-owned link.
        let tmp = std::env::temp_dir().join(format!("supervisord-{}", std::process::id()));
        std::fs::write(&tmp, "print()").unwrap();
        assert!(!script_root_owned(&cmd(tmp.to_str().unwrap()), None));
        let link = dir.join("linked");
        std::os::unix::fs::symlink(&tmp, &link).unwrap();
        assert!(!script_root_owned(&cmd(link.to_str().unwrap()), None));
        std::fs::remove_file(&tmp).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // No script at all.
        assert!(!script_root_owned(&["python3".to_owned()], None));
    }
}
