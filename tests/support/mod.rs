//! Shared helpers: children that clean up after themselves, polling with deadlines.

use sockscope::collect::Collector;
use sockscope::collect::linux::SockDiagCollector;
use sockscope::model::{Scope, Snapshot, Socket};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
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
    out: BufReader<ChildStdout>,
}

impl Kid {
    /// Runs a Python script; it talks to the test over stdin/stdout lines.
    pub fn python(script: &str, args: &[&str]) -> Kid {
        let mut cmd = Command::new("python3");
        cmd.arg("-u").arg("-c").arg(script).args(args);
        Kid::spawn(cmd)
    }

    pub fn spawn(mut cmd: Command) -> Kid {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let out = BufReader::new(child.stdout.take().unwrap());
        let stdin = child.stdin.take();
        Kid { child, stdin, out }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads the next line the child prints (blocking; children print promptly).
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        self.out.read_line(&mut s).expect("read child stdout");
        assert!(!s.is_empty(), "child exited before printing");
        s.trim_end().to_owned()
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
