//! Shared helpers: children that clean up after themselves, polling with deadlines.

pub mod pty;
pub mod stack;

use sockscope::collect::Collector;
use sockscope::collect::linux::SockDiagCollector;
use sockscope::model::{Scope, Snapshot, Socket};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: process and socket tests must not flake on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `f` every 20 ms until it returns `Some`, or panics with `what` at the deadline.
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child process this test started. Dropping it kills and reaps exactly that child.
pub struct Kid {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    /// Lines of its stdout, read by a thread so that waiting for one has a deadline.
    lines: Lines,
    /// Lines of its stderr, when it was started with [`Kid::sockscope`].
    pub err: Option<Lines>,
}

/// The lines a pipe delivers, read by a thread of their own so that waiting for the next
/// one has a deadline.
pub struct Lines(std::sync::mpsc::Receiver<String>);

impl Lines {
    pub fn of(pipe: impl std::io::Read + Send + 'static) -> Lines {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut out = BufReader::new(pipe);
        std::thread::spawn(move || {
            loop {
                let mut s = String::new();
                match out.read_line(&mut s) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        if tx.send(s.trim_end().to_owned()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Lines(rx)
    }

    /// The next line, or `None` once the pipe has closed and every line was read.
    pub fn next_or_end(&self) -> Option<String> {
        match self.0.recv_timeout(DEADLINE) {
            Ok(line) => Some(line),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => None,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("the pipe stayed open and silent for {DEADLINE:?}")
            }
        }
    }

    /// A line if one has arrived, without waiting.
    pub fn poll(&self) -> Option<String> {
        self.0.try_recv().ok()
    }

    /// The next line, waiting at most [`DEADLINE`]; `what` names it in the failure.
    pub fn next(&self, what: &str) -> String {
        match self.0.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("no {what} within {DEADLINE:?}")
            }
            Err(_) => panic!("the pipe closed before {what}"),
        }
    }
}

impl Kid {
    /// Runs a Python script; it talks to the test over stdin/stdout lines.
    pub fn python(script: &str, args: &[&str]) -> Kid {
        let mut cmd = Command::new("python3");
        cmd.arg("-u").arg("-c").arg(script).args(args);
        Kid::spawn(cmd)
    }

    /// Like [`Kid::python`], in a process group of its own: sockscope refuses to signal
    /// its own group, and a sockscope started by a test shares the test's group.
    pub fn python_own_group(script: &str, args: &[&str]) -> Kid {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("python3");
        cmd.arg("-u")
            .arg("-c")
            .arg(script)
            .args(args)
            .process_group(0);
        Kid::spawn(cmd)
    }

    pub fn spawn(mut cmd: Command) -> Kid {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let lines = Lines::of(child.stdout.take().unwrap());
        let stdin = child.stdin.take();
        let err = child.stderr.take().map(Lines::of);
        Kid {
            child,
            stdin,
            lines,
            err,
        }
    }

    /// The sockscope binary as a child, with stdout and stderr read line by line.
    pub fn sockscope(args: &[&str]) -> Kid {
        let mut cmd = Command::new(bin());
        cmd.args(args).stderr(Stdio::piped());
        Kid::spawn(cmd)
    }

    /// The next line on stdout, or `None` once it has closed (after the child exited).
    pub fn try_line(&mut self) -> Option<String> {
        self.lines.next_or_end()
    }

    /// A line from the child's stdout if one has arrived, without waiting.
    pub fn poll_line(&mut self) -> Option<String> {
        self.lines.poll()
    }

    /// The next line on its stderr (see [`Kid::sockscope`]).
    pub fn err_line(&mut self) -> String {
        self.err
            .as_ref()
            .expect("stderr piped")
            .next("line on stderr")
    }

    /// Our own child's pid as a rustix Pid, to signal it.
    pub fn rustix_pid(&self) -> rustix::process::Pid {
        rustix::process::Pid::from_raw(self.pid() as i32).expect("a pid")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the child prints, waiting at most [`DEADLINE`].
    pub fn line(&mut self) -> String {
        self.lines.next("line from the child")
    }

    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        // Only ever our own child: its pid came from our own spawn.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Python prelude for child scripts: a listener helper that prints its port.
pub const PY_LISTEN: &str = r#"
import os, socket, sys, time
def listen(host="127.0.0.1", fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((host, 0)); s.listen(16)
    return s
"#;

/// A child that listens on the wildcard address, prints its port, and waits for stdin to
/// close.
pub fn wildcard_listener_script() -> String {
    format!("{PY_LISTEN}\ns = listen('0.0.0.0')\nprint(s.getsockname()[1])\nsys.stdin.read()")
}

/// A child whose main thread exits with `pthread_exit` while a worker thread keeps the
/// listener (bound to the address in argv[1]) and prints its port.
pub const PY_MAIN_THREAD_EXITS: &str = r#"
import socket, threading, sys, ctypes
s = socket.socket(); s.bind((sys.argv[1], 0)); s.listen()
def worker():
    print(s.getsockname()[1], flush=True)
    sys.stdin.read()
threading.Thread(target=worker).start()
ctypes.CDLL(None).pthread_exit(None)
"#;

pub fn collector() -> SockDiagCollector {
    SockDiagCollector::new().expect("sock_diag collector")
}

/// Takes snapshots until `pick` finds a socket in one; returns that snapshot and the index.
pub fn snapshot_until(
    c: &mut dyn Collector,
    scope: Scope,
    what: &str,
    pick: impl Fn(&Socket, &Snapshot) -> bool,
) -> (Snapshot, usize) {
    wait_for(what, || {
        let snap = c.snapshot(scope).expect("snapshot");
        let i = snap.sockets.iter().position(|s| pick(s, &snap))?;
        Some((snap, i))
    })
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sockscope")
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Runs the binary with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_env(args, &[])
}

/// [`run`] with extra environment.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run sockscope");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Validates a JSON document against one of the schemas in `assets/schema`.
pub fn assert_schema(schema_file: &str, doc: &serde_json::Value) {
    let path = format!("{}/assets/schema/{schema_file}", env!("CARGO_MANIFEST_DIR"));
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:#?}\n{doc:#}");
}

/// Copies the binary where `nobody` can execute it; returns its path (the directory is
/// removed when the guard drops).
pub struct NobodyBin {
    dir: std::path::PathBuf,
    pub exe: std::path::PathBuf,
}

impl NobodyBin {
    pub fn new(tag: &str) -> NobodyBin {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("sockscope-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("sockscope");
        std::fs::copy(bin(), &exe).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        NobodyBin { dir, exe }
    }

    /// Runs it as nobody; returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&self.exe)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for NobodyBin {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A pid namespace of the test's own (`unshare --pid --fork --mount-proc`): everything
/// started in it is ours, a sockscope run in it can see and signal nothing else, and
/// dropping it kills every process in it (its pid 1 dies, and the kernel kills the rest).
pub struct PidNs {
    unshare: Kid,
    /// Host pid of the namespace's pid 1, for nsenter.
    pub init: u32,
}

/// Pid 1 of a test namespace: reaps orphans, ends when its stdin closes.
const PY_INIT: &str = r#"
import os, sys, threading, time
def reap():
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(0.02)
threading.Thread(target=reap, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"#;

impl PidNs {
    pub fn new() -> PidNs {
        assert!(
            is_root(),
            "pid namespace tests run as root (CI runs them as root)"
        );
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "python3",
            "-u",
            "-c",
        ])
        .arg(PY_INIT);
        let mut unshare = Kid::spawn(cmd);
        assert_eq!(unshare.line(), "ready");
        let parent = unshare.pid();
        let init = wait_for("the namespace's pid 1", || {
            let children =
                std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
            children.split_whitespace().next()?.parse().ok()
        });
        PidNs { unshare, init }
    }

    /// A command that runs inside the namespace (pid and mount: its /proc is the
    /// namespace's).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &self.init.to_string(), "-p", "-m", "--", program]);
        cmd
    }

    /// A Python child inside the namespace, talking over stdin/stdout like [`Kid`].
    pub fn python(&self, script: &str, args: &[&str]) -> Kid {
        let mut cmd = self.command("python3");
        cmd.arg("-u").arg("-c").arg(script).args(args);
        Kid::spawn(cmd)
    }

    /// Runs sockscope inside the namespace; returns (exit code, stdout, stderr).
    pub fn sockscope(&self, args: &[&str]) -> (i32, String, String) {
        let out = self
            .command(bin())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run sockscope in the namespace");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Whether a pid of the namespace is alive (not gone, not a zombie), and its command.
    pub fn alive(&self, pid: u32) -> Option<String> {
        let stat = self.read(&format!("/proc/{pid}/stat"))?;
        let state = stat[stat.rfind(')')? + 2..].chars().next()?;
        (state != 'Z').then(|| {
            self.read(&format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
        })
    }

    /// Reads a file as the namespace's /proc shows it.
    pub fn read(&self, path: &str) -> Option<String> {
        let out = self.command("cat").arg(path).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).replace('\0', " "))
    }
}

impl Drop for PidNs {
    fn drop(&mut self) {
        // Killing unshare (our child) kills the namespace's pid 1 (--kill-child), and with
        // it every process in the namespace.
        let _ = self.unshare.child.kill();
        let _ = self.unshare.child.wait();
    }
}

/// A listener (argv[1] host) that forks a child keeping the socket in a new session, as
/// a dev server's worker does. Prints "port parent_pid child_pid fd_count", then exits
/// when the file argv[2] appears; the child lives on (two minutes at most).
pub const PY_LISTEN_AND_FORK: &str = r#"
import os, socket, sys, time, signal
s = socket.socket(); s.bind((sys.argv[1], 0)); s.listen(16)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setsid()
    signal.alarm(120)
    os.close(r); os.write(w, b"x"); os.close(w)
    while True:
        time.sleep(1)
os.close(w); os.read(r, 1); os.close(r)
fds = len(os.listdir('/proc/self/fd')) - 1
print(s.getsockname()[1], os.getpid(), pid, fds, flush=True)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.005)
os._exit(0)
"#;

/// Takes the pid argv[1] as soon as its process is gone: writes pid-1 to ns_last_pid and
/// forks; the child opens files until it has argv[2] fds (the old process's count), holds
/// no socket, and prints "pid N" (or "missed N" if another process took the pid first).
/// It stays until the namespace ends (two minutes at most).
pub const PY_TAKE_PID: &str = r#"
import os, sys, time, signal
want, fds = int(sys.argv[1]), int(sys.argv[2])
print("waiting", flush=True)
# Until the old process is gone and reaped: a zombie still occupies its pid.
while os.path.exists('/proc/%d' % want):
    time.sleep(0.0005)
with open('/proc/sys/kernel/ns_last_pid', 'w') as f:
    f.write(str(want - 1))
pid = os.fork()
if pid == 0:
    signal.alarm(120)
    held = []
    while len(os.listdir('/proc/self/fd')) - 1 < fds:
        held.append(os.open('/dev/null', os.O_RDONLY))
    while len(os.listdir('/proc/self/fd')) - 1 > fds and held:
        os.close(held.pop())
    while True:
        time.sleep(1)
print(("pid %d" if pid == want else "missed %d") % pid, flush=True)
while True:
    time.sleep(1)
"#;

/// `python3 -u -c script args…` run as nobody (`/usr/bin/python3`: root's python may live
/// where nobody cannot run it, as pyenv's does).
pub fn python_as_nobody(script: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "/usr/bin/python3",
        "-u",
        "-c",
        script,
    ])
    .args(args);
    cmd
}
