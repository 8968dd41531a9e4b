//! A process that owns at least one socket, as far as we could read it.

use serde::Serialize;

/// Everything shown about an owning process. Strings are already sanitised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: Option<u32>,
    /// Start time in clock ticks since boot (`/proc/PID/stat` field 22): with the pid, the
    /// process's identity. 0 where the platform does not give it.
    pub start_ticks: u64,
    /// Start time in seconds since the Unix epoch.
    pub start_time: u64,
    pub name: String,
    pub cmdline: Vec<String>,
    pub exe: Option<String>,
    /// Its program (`/proc/PID/exe`) is a root-owned file nobody else may write: root
    /// installed what it runs. False when that cannot be read.
    #[serde(skip)]
    pub exe_root_owned: bool,
    /// Real uid (a kernel fact: a process cannot change it without privilege).
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// One-letter state as in `ps` (R, S, D, T, t, Z, X, I); `?` when unknown.
    pub state: char,
    pub threads: u32,
    /// Kernel threads never own sockets through fds, but guard against signalling them.
    pub kernel_thread: bool,
    /// The container it runs in (from `/proc/PID/cgroup`, details from its engine).
    pub container: Option<super::Container>,
    /// Session id: the pid of the session leader (the shell of the terminal it started in).
    pub session: u32,
    /// False when the session leader has exited: the terminal it came from is gone.
    pub session_leader_alive: bool,
    /// State letter of the parent, when known (a zombie parent cannot reap anything).
    pub parent_state: Option<char>,
    /// The parent is a zombie (state Z, no threads left): it will never reap anything.
    #[serde(skip)]
    pub parent_zombie: bool,
    /// Who runs it and where it came from: what the supervisor diagnosis reads.
    #[serde(skip)]
    pub origin: Origin,
}

/// One process up the parent chain: what it says of itself (name, argv) and what the
/// kernel says of it (uid, the program it runs, where it runs), so that a supervisor
/// above a holder is believed only on the kernel's word (SPEC §11).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ancestor {
    pub pid: u32,
    pub name: String,
    /// Sanitised, like every string from another process.
    pub cmdline: Vec<String>,
    /// Real uid.
    pub uid: Option<u32>,
    /// The program the kernel runs (`/proc/PID/exe`), sanitised.
    pub exe: Option<String>,
    /// That program is a root-owned file nobody else may write.
    pub exe_root_owned: bool,
    /// When that program is an interpreter ([`interpreter`]): the script it was started
    /// with ([`script_arg`], against its working directory) is a root-owned file, reached
    /// through directories that are root's and that nobody else may write. Anyone can run
    /// root's python3 on a script of their own named `supervisord`.
    pub script_root_owned: bool,
    /// Its working directory (runsv and s6-supervise run in their service's directory).
    pub cwd: Option<String>,
    /// `PM2_HOME` from its own environment, read for a PM2 daemon.
    pub pm2_home: Option<String>,
}

impl Ancestor {
    /// The basename of the program the kernel runs, without a ` (deleted)` mark.
    pub fn program(&self) -> Option<&str> {
        exe_basename(self.exe.as_deref())
    }
}

/// An interpreter's program (the basename of an exe, or of argv[0]): `python3.11`, `node`.
pub fn interpreter(program: Option<&str>) -> bool {
    program.is_some_and(|b| {
        matches!(
            b,
            "node" | "nodejs" | "python" | "python3" | "perl" | "ruby"
        ) || b.starts_with("python3.")
    })
}

/// The script an interpreter runs: its first argument that is not an option.
pub fn script_arg(cmdline: &[String]) -> Option<&str> {
    cmdline
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(String::as_str)
}

/// The basename of an exe path, without a ` (deleted)` mark.
pub fn exe_basename(exe: Option<&str>) -> Option<&str> {
    let exe = exe?;
    let exe = exe.strip_suffix(" (deleted)").unwrap_or(exe);
    exe.rsplit('/').next().filter(|b| !b.is_empty())
}

/// A PM2 app, from the variables PM2 puts in its apps' environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pm2App {
    /// The app's name (`name=`).
    pub name: String,
    /// `pm_id=`.
    pub id: Option<String>,
    /// `PM2_HOME=` of the app's own environment (a claim: only the daemon's counts).
    pub home: Option<String>,
}

/// What a process under supervisord says its program is (`SUPERVISOR_GROUP_NAME`,
/// `SUPERVISOR_PROCESS_NAME`, which supervisord sets and its descendants inherit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupervisordProgram {
    pub group: Option<String>,
    pub name: String,
}

/// Who runs a process and where it came from: its systemd unit, its ancestors, and what
/// its environment says (PM2, tmux, screen). Read once per process identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub unit: Option<super::cgroup::Unit>,
    /// Nearest first, up to pid 1.
    pub ancestors: Vec<Ancestor>,
    pub pm2: Option<Pm2App>,
    /// For a PM2 daemon: the apps its children of the same user run (in cluster mode the
    /// daemon itself holds the apps' listeners).
    pub pm2_apps: Vec<Pm2App>,
    /// `PM2_HOME` of its own environment (for a PM2 daemon: where its apps live).
    pub pm2_home: Option<String>,
    /// The supervisord program its environment names.
    pub supervisord: Option<SupervisordProgram>,
    /// `tmux` or `screen` when the environment says it runs in one, with its session.
    pub mux: Option<(String, String)>,
    /// For systemd itself (pid 1): its socket units and the ports they listen on.
    pub socket_units: Vec<(String, Vec<u16>)>,
}

/// The name to show for a process: its comm, unless the program set a title (comm holds
/// a space: `node /tmp/pm/se`, cut at 15 bytes), then the basename of the program its
/// command line starts with (`node`), as htop shows it.
pub fn display_name(comm: &str, cmdline: &[String]) -> String {
    if !comm.contains(' ') {
        return comm.to_owned();
    }
    let prog = cmdline
        .first()
        .and_then(|c| c.split_whitespace().next())
        .and_then(|c| c.rsplit('/').next())
        .filter(|b| !b.is_empty());
    prog.unwrap_or(comm).to_owned()
}

impl Process {
    /// A process known by its pid alone (its details could not be read).
    pub fn unknown(pid: u32) -> Process {
        Process {
            pid,
            ppid: None,
            start_ticks: 0,
            start_time: 0,
            name: String::new(),
            cmdline: Vec::new(),
            exe: None,
            exe_root_owned: false,
            uid: None,
            user: None,
            state: '?',
            threads: 0,
            kernel_thread: false,
            container: None,
            session: 0,
            session_leader_alive: true,
            parent_state: None,
            parent_zombie: false,
            origin: Origin::default(),
        }
    }

    /// Exited and not reaped: holds nothing, cannot be killed; only its parent can reap it.
    pub fn is_zombie(&self) -> bool {
        super::stat::is_zombie(self.state, self.threads)
    }

    /// State Z with live threads: its main thread exited (`pthread_exit`), the other
    /// threads run on and hold its fds. It can be signalled.
    pub fn main_thread_exited(&self) -> bool {
        super::stat::main_thread_exited(self.state, self.threads)
    }

    /// Stopped (state T, or t under a tracer): it holds its sockets but serves nothing.
    pub fn is_stopped(&self) -> bool {
        matches!(self.state, 'T' | 't')
    }

    /// The command line joined with spaces, or `[name]` when it is empty (kernel threads,
    /// zombies), the way `ps` shows it.
    pub fn command(&self) -> String {
        let mut out = String::new();
        let _ = self.write_command(&mut out);
        out
    }

    /// The command as people tell processes apart: the program's basename and its
    /// arguments (`python3 -m http.server 38080`, not `/root/.pyenv/versions/…`). The
    /// full path is in `exe` and the detail pane.
    /// A program that rewrote its argv into one string (PM2's `node app/server.js`,
    /// nginx's `nginx: master process …`) is split at its first space before the
    /// basename is taken, so that the basename is the program's, not its argument's.
    pub fn short_command(&self) -> String {
        let Some((first, args)) = self.cmdline.split_first() else {
            return format!("[{}]", self.name);
        };
        let (prog, rest) = match first.split_once(' ') {
            Some((p, rest)) if args.is_empty() && !p.is_empty() => (p, Some(rest)),
            _ => (first.as_str(), None),
        };
        let base = prog
            .rsplit('/')
            .next()
            .filter(|b| !b.is_empty())
            .unwrap_or(prog);
        let mut out = base.to_owned();
        for a in rest.into_iter().chain(args.iter().map(String::as_str)) {
            out.push(' ');
            out.push_str(a);
        }
        out
    }

    /// [`Process::command`] written into a buffer.
    pub fn write_command(&self, out: &mut impl std::fmt::Write) -> std::fmt::Result {
        if self.cmdline.is_empty() {
            return write!(out, "[{}]", self.name);
        }
        for (i, arg) in self.cmdline.iter().enumerate() {
            if i > 0 {
                out.write_char(' ')?;
            }
            out.write_str(arg)?;
        }
        Ok(())
    }
}

/// What the detail pane shows beyond the snapshot: working directory and the chain of
/// parents up to pid 1.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspection {
    pub pid: u32,
    pub cwd: Option<String>,
    /// (pid, sanitised name), starting with the parent.
    pub parents: Vec<(u32, String)>,
}

/// A made-up process for the pure core's tests.
#[cfg(test)]
pub(crate) fn fixture(pid: u32, name: &str, state: char) -> Process {
    Process {
        ppid: Some(1),
        start_ticks: u64::from(pid) * 10,
        start_time: 1_790_000_000 - 3600,
        name: name.into(),
        cmdline: vec![name.into(), "--port".into(), format!("{}", 3000 + pid)],
        exe: Some(format!("/usr/bin/{name}")),
        uid: Some(1000),
        user: Some("alice".into()),
        state,
        threads: 1,
        ..Process::unknown(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_in_comm_gives_way_to_the_program_name() {
        let cmd = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            display_name("node /tmp/pm/se", &cmd(&["node /tmp/pm/server.js"])),
            "node"
        );
        assert_eq!(
            display_name(
                "node /tmp/pm/se",
                &cmd(&["/usr/bin/node", "/tmp/pm/server.js"])
            ),
            "node"
        );
        assert_eq!(
            display_name("python3", &cmd(&["/usr/bin/python3"])),
            "python3"
        );
        // Nothing better to show: a kernel thread, a zombie.
        assert_eq!(display_name("kworker/0:1 x", &[]), "kworker/0:1 x");
        assert_eq!(display_name("a b", &cmd(&[""])), "a b");
    }

    #[test]
    fn short_commands_keep_the_program_basename_and_every_argument() {
        let mut p = fixture(7, "python3", 'S');
        p.cmdline = [
            "/root/.pyenv/versions/3.11.7/bin/python3",
            "-m",
            "http.server",
            "38080",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(p.short_command(), "python3 -m http.server 38080");
        assert_eq!(
            p.command(),
            "/root/.pyenv/versions/3.11.7/bin/python3 -m http.server 38080"
        );
        p.cmdline.clear();
        assert_eq!(p.short_command(), "[python3]");
        p.cmdline = vec!["/".into()];
        assert_eq!(p.short_command(), "/");
        // A title PM2 wrote as one string: the program is `node`, not `server.js`.
        p.cmdline = vec!["node app/server.js".into()];
        assert_eq!(p.short_command(), "node app/server.js");
        p.cmdline = vec!["/usr/bin/node /srv/app/server.js --port 3000".into()];
        assert_eq!(p.short_command(), "node /srv/app/server.js --port 3000");
        // With arguments of its own, a space belongs to the program's path.
        p.cmdline = ["/opt/My App/bin/app", "-v"].map(String::from).to_vec();
        assert_eq!(p.short_command(), "app -v");
    }
}
