//! The real things behind ports, started by the tests themselves and removed in `Drop`,
//! also when a test fails: a Docker daemon and containers, a PM2 home, a systemd-like
//! service cgroup, a network namespace. `.ci/test` installs what they need.

use super::{DEADLINE, wait_for};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A port that is free now, outside the ephemeral range (so no outgoing connection or
/// port-0 bind elsewhere takes it before the test's server does): for servers that must
/// come back on the same port after a restart, so cannot bind port 0 themselves. Each
/// call starts its search somewhere else, so parallel tests get different ports.
pub fn fresh_port() -> u16 {
    use sockscope::diagnose::free::Search;
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let start = 20_000 + (std::process::id() * 37 + n * 101) % 10_000;
    let search = Search::nearby(
        Some(start as u16),
        sockscope::collect::ephemeral_range(),
        1,
        false,
    );
    // Never the same port twice in one run, whatever the search finds.
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let held: std::collections::HashSet<u16> = given.iter().copied().collect();
    let port = search.run(&held, sockscope::diagnose::probe::Probe::plain_free)[0];
    given.push(port);
    port
}

/// A directory of the test's own under /tmp, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "sockscope-{tag}-{}-{:?}",
            std::process::id(),
            Instant::now()
        ));
        let dir = PathBuf::from(dir.to_string_lossy().replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '/' && c != '-',
            "",
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl TempDir {
    /// A directory of mode 0700 under the build directory, whose every parent is root's
    /// and writable by nobody else: what sockscope accepts as a runtime directory (one
    /// under /tmp, writable by all, is not).
    pub fn private(tag: &str) -> TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join(format!("rt-{tag}-{}-{}", std::process::id(), {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                N.fetch_add(1, Ordering::Relaxed)
            }));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create private dir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The program on PATH, or a failure that says how to install it.
pub fn need(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{program}` is not installed: `bash .ci/test` installs what the tests need"
    );
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A Docker daemon for the test: the one already answering (`$DOCKER_HOST` or the
/// default socket), or one started here with `--storage-driver vfs` and a private data
/// root and socket, stopped on drop. Containers made through it are removed on drop.
pub struct Docker {
    pub host: String,
    daemon: Option<Child>,
    dir: Option<TempDir>,
    containers: std::sync::Mutex<Vec<String>>,
    /// Our daemon made the `docker0` bridge: it goes when the daemon stops.
    made_bridge: bool,
}

pub const IMAGE: &str = "sockscope-bb:local";

impl Docker {
    pub fn start() -> Docker {
        need("docker");
        need("dockerd");
        let answers = |host: &str| {
            Command::new("docker")
                .env("DOCKER_HOST", host)
                .args(["version", "--format", "{{.Server.Version}}"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let existing = std::env::var("DOCKER_HOST")
            .ok()
            .into_iter()
            .chain(Some("unix:///var/run/docker.sock".to_owned()))
            .find(|h| answers(h));
        let mut docker = match existing {
            Some(host) => Docker {
                host,
                daemon: None,
                dir: None,
                containers: Default::default(),
                made_bridge: false,
            },
            None => {
                let made_bridge = !std::path::Path::new("/sys/class/net/docker0").exists();
                let dir = TempDir::new("dockerd");
                let d = &dir.0;
                let sock = d.join("docker.sock");
                let log = std::fs::File::create(d.join("log")).expect("log file");
                // No iptables: docker-proxy publishes the tests' ports on its own, and
                // the host's firewall (FORWARD policy, NAT chains) stays as it was.
                let daemon = Command::new("dockerd")
                    .arg("--iptables=false")
                    .arg("--ip6tables=false")
                    .arg("--ip-forward=false")
                    .arg("--storage-driver")
                    .arg("vfs")
                    .arg("--data-root")
                    .arg(d.join("root"))
                    .arg("--exec-root")
                    .arg(d.join("exec"))
                    .arg("--pidfile")
                    .arg(d.join("docker.pid"))
                    .arg("-H")
                    .arg(format!("unix://{}", sock.display()))
                    .stdin(Stdio::null())
                    .stdout(log.try_clone().expect("log"))
                    .stderr(log)
                    .spawn()
                    .expect("start dockerd");
                let host = format!("unix://{}", sock.display());
                let docker = Docker {
                    host,
                    daemon: Some(daemon),
                    dir: Some(dir),
                    containers: Default::default(),
                    made_bridge,
                };
                let end = Instant::now() + Duration::from_secs(60);
                while !answers(&docker.host) {
                    let log = std::fs::read_to_string(docker.path("log")).unwrap_or_default();
                    assert!(
                        Instant::now() < end,
                        "dockerd did not answer within 60 s:\n{log}"
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
                docker
            }
        };
        docker.image();
        docker
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir
            .as_ref()
            .map(|d| d.0.join(name))
            .unwrap_or_default()
    }

    /// `docker ARGS` against this daemon; panics with its output when it fails.
    pub fn docker(&self, args: &[&str]) -> String {
        let o = Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(args)
            .output()
            .expect("run docker");
        assert!(o.status.success(), "docker {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    /// A busybox image imported from the machine's busybox-static (no registry here).
    fn image(&mut self) {
        let have = Command::new("docker")
            .env("DOCKER_HOST", &self.host)
            .args(["image", "inspect", IMAGE])
            .output()
            .is_ok_and(|o| o.status.success());
        if have {
            return;
        }
        need("busybox");
        let root = TempDir::new("image");
        let bin = root.0.join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static");
        std::fs::copy(busybox, bin.join("busybox")).expect("copy busybox");
        for app in ["sh", "httpd", "sleep"] {
            std::os::unix::fs::symlink("busybox", bin.join(app)).expect("link");
        }
        let tar = root.0.join("image.tar");
        let ok = Command::new("tar")
            .arg("-C")
            .arg(&root.0)
            .arg("-cf")
            .arg(&tar)
            .arg("bin")
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tar of the image");
        self.docker(&["import", &tar.to_string_lossy(), IMAGE]);
    }

    /// Starts a detached container named `name` (removed on drop) running busybox httpd
    /// on its port 8080, published on 127.0.0.1 only; returns the host port.
    pub fn httpd(&self, name: &str, extra: &[&str]) -> u16 {
        let mut args = vec!["run", "-d", "--name", name, "-p", "127.0.0.1::8080"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[IMAGE, "/bin/busybox", "httpd", "-f", "-p", "8080"]);
        if let Ok(mut c) = self.containers.lock() {
            c.push(name.to_owned());
        }
        self.docker(&args);
        let port = self.docker(&["port", name, "8080/tcp"]);
        port.lines()
            .next()
            .and_then(|l| l.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no published port: {port}"))
    }

    /// A container running `cmd` (busybox applets) that publishes nothing; removed on drop.
    pub fn run(&self, name: &str, cmd: &[&str]) {
        if let Ok(mut c) = self.containers.lock() {
            c.push(name.to_owned());
        }
        let mut args = vec!["run", "-d", "--name", name, IMAGE, "/bin/busybox"];
        args.extend_from_slice(cmd);
        self.docker(&args);
    }

    /// Whether the container is running.
    pub fn running(&self, name: &str) -> bool {
        self.docker(&["inspect", "-f", "{{.State.Running}}", name]) == "true"
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let names = self
            .containers
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        for name in names {
            let _ = Command::new("docker")
                .env("DOCKER_HOST", &self.host)
                .args(["rm", "-f", &name])
                .output();
        }
        if let Some(mut daemon) = self.daemon.take() {
            // Our own dockerd: TERM lets it stop its containerd and clean its mounts.
            if let Ok(pid) = i32::try_from(daemon.id())
                && let Some(pid) = rustix::process::Pid::from_raw(pid)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let end = Instant::now() + DEADLINE;
            while Instant::now() < end {
                if let Ok(Some(_)) = daemon.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = daemon.kill();
            let _ = daemon.wait();
            if self.made_bridge {
                let _ = Command::new("ip")
                    .args(["link", "del", "docker0"])
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// A PM2 home of the test's own (`PM2_HOME`): its daemon and apps are killed on drop.
pub struct Pm2 {
    pub home: TempDir,
    pub dir: TempDir,
}

/// A node HTTP server on `$PORT` (127.0.0.1), for PM2 and nodemon.
pub const NODE_SERVER: &str = "const http = require('http');\n\
const s = http.createServer((q, r) => r.end('ok'));\n\
s.listen(+process.env.PORT, '127.0.0.1', () => console.log('listening', s.address().port));\n";

impl Pm2 {
    pub fn new() -> Pm2 {
        need("pm2");
        need("node");
        let dir = TempDir::new("pm2app");
        std::fs::write(dir.0.join("server.js"), NODE_SERVER).expect("write server.js");
        Pm2 {
            home: TempDir::new("pm2home"),
            dir,
        }
    }

    pub fn pm2(&self, args: &[&str], port: u16) -> String {
        let o = Command::new("pm2")
            .env("PM2_HOME", &self.home.0)
            .env("PORT", port.to_string())
            .current_dir(&self.dir.0)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run pm2");
        assert!(o.status.success(), "pm2 {args:?}: {}", text(&o));
        text(&o)
    }

    pub fn script(&self) -> String {
        self.dir.0.join("server.js").to_string_lossy().into_owned()
    }
}

impl Drop for Pm2 {
    fn drop(&mut self) {
        // Kills this home's daemon and its apps only.
        let _ = Command::new("pm2")
            .env("PM2_HOME", &self.home.0)
            .arg("kill")
            .stdin(Stdio::null())
            .output();
    }
}

/// The cgroup2 mount point, from /proc/self/mountinfo.
pub fn cgroup2_mount() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    info.lines()
        .find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            if right.split(' ').next()? != "cgroup2" {
                return None;
            }
            left.split(' ').nth(4).map(PathBuf::from)
        })
        .expect("a cgroup2 mount")
}

/// A cgroup `system.slice/NAME.service` under the cgroup2 mount, as systemd makes for a
/// service; the test moves its own child into it. Removed on drop (after the child).
pub struct ServiceCgroup {
    pub name: String,
    dir: PathBuf,
    slice: Option<PathBuf>,
}

impl ServiceCgroup {
    pub fn new(name: &str) -> ServiceCgroup {
        ServiceCgroup::leaf(&format!("{name}.service"))
    }

    /// `system.slice/LEAF`, e.g. `docker-<64 hex>.scope` as Docker makes on cgroup v2.
    pub fn leaf(leaf: &str) -> ServiceCgroup {
        let slice = cgroup2_mount().join("system.slice");
        let made_slice = !slice.exists();
        std::fs::create_dir_all(&slice).expect("create system.slice");
        let dir = slice.join(leaf);
        std::fs::create_dir(&dir).expect("create the cgroup");
        ServiceCgroup {
            name: leaf.to_owned(),
            dir,
            slice: made_slice.then_some(slice),
        }
    }

    /// Moves the test's own child `pid` into it.
    pub fn adopt(&self, pid: u32) {
        std::fs::write(self.dir.join("cgroup.procs"), pid.to_string()).expect("move into cgroup");
    }
}

impl Drop for ServiceCgroup {
    fn drop(&mut self) {
        // The child is killed first (declared after this guard); its exit empties the
        // cgroup a moment later.
        let end = Instant::now() + DEADLINE;
        while std::fs::remove_dir(&self.dir).is_err() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(slice) = &self.slice {
            let _ = std::fs::remove_dir(slice);
        }
    }
}

/// Waits until a TCP listener on `port` is in this namespace's socket table. Reads the
/// table rather than connecting: a probe connection could leave a TIME-WAIT on the port
/// and change the verdict a test then checks.
pub fn wait_listening(port: u16) {
    use sockscope::collect::Collector;
    let mut c = super::collector();
    wait_for(&format!("a listener on port {port}"), || {
        let snap = c.snapshot(sockscope::model::Scope::Listeners).ok()?;
        snap.sockets
            .iter()
            .any(|s| {
                s.proto.is_tcp()
                    && s.state == sockscope::model::State::Listen
                    && s.local().port() == port
                    && snap.netns.is_host(s.netns)
            })
            .then_some(())
    });
}

/// A child in a process group of its own (a reloader and the server it starts): the whole
/// group, all of it started by the test, is killed on drop.
pub struct Group(pub Child);

impl Group {
    pub fn spawn(mut cmd: Command) -> Group {
        use std::os::unix::process::CommandExt;
        Group(
            cmd.process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn"),
        )
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.0.id())
            && let Some(pgid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        let _ = self.0.wait();
    }
}
