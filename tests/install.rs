//! The Debian package on a clean machine (issue 23): a minimal Debian root made with
//! debootstrap, of this machine's release, from the mirror in this machine's apt sources
//! (cached as a tarball under target/debroot/, unpacked fresh for every run); the .deb
//! that `.ci/package` built is installed there with `dpkg -i`, checked inside (chroot,
//! with /proc mounted for the run and unmounted after, also on failure), and removed with
//! `dpkg -r`, which must take every file it installed. lintian must report no error.
//!
//! Needs root, debootstrap and lintian (`.ci/test` installs them) and the package:
//! `bash .ci/package && cargo test --test install -- --ignored`. `.ci/run` does both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const TARGET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target");
/// Packages beyond minbase: `man -w` needs man-db.
const INCLUDE: &str = "man-db";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a command; panics with its output unless it succeeds; returns stdout.
fn ok(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn one_line(cmd: &mut Command) -> String {
    ok(cmd).trim().to_owned()
}

/// This machine's release (`VERSION_CODENAME` of /etc/os-release).
fn codename() -> String {
    let os = std::fs::read_to_string("/etc/os-release").unwrap();
    os.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .expect("VERSION_CODENAME in /etc/os-release: this test needs a Debian machine")
}

/// A `deb` source of this machine: its URI, and the keyring it is signed with.
#[derive(Debug, PartialEq)]
struct Source {
    uri: String,
    keyring: Option<String>,
}

/// The first enabled `deb` source for `suite` in apt's one-line and deb822 formats.
fn mirror_from(files: &[(PathBuf, String)], suite: &str) -> Option<Source> {
    for (path, body) in files {
        let name = path.to_string_lossy();
        if name.ends_with(".list") {
            for line in body.lines().map(str::trim) {
                let mut words = line.split_whitespace().peekable();
                if words.next() != Some("deb") {
                    continue;
                }
                // Options in brackets: `[signed-by=… arch=…]`.
                let mut keyring = None;
                if words.peek().is_some_and(|w| w.starts_with('[')) {
                    for w in words.by_ref() {
                        let o = w.trim_matches(|c| c == '[' || c == ']');
                        if let Some(k) = o.strip_prefix("signed-by=") {
                            keyring = Some(k.to_owned());
                        }
                        if w.ends_with(']') {
                            break;
                        }
                    }
                }
                let (Some(uri), Some(s)) = (words.next(), words.next()) else {
                    continue;
                };
                if s == suite {
                    return Some(Source {
                        uri: uri.to_owned(),
                        keyring,
                    });
                }
            }
        } else if name.ends_with(".sources") {
            for stanza in body.split("\n\n") {
                let field = |key: &str| {
                    stanza
                        .lines()
                        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                        .map(str::trim)
                };
                let types = field("Types").unwrap_or_default();
                let enabled = field("Enabled").is_none_or(|e| e != "no");
                let suites = field("Suites").unwrap_or_default();
                if !enabled
                    || !types.split_whitespace().any(|t| t == "deb")
                    || !suites.split_whitespace().any(|s| s == suite)
                {
                    continue;
                }
                if let Some(uri) = field("URIs").and_then(|u| u.split_whitespace().next()) {
                    return Some(Source {
                        uri: uri.to_owned(),
                        keyring: field("Signed-By").map(str::to_owned),
                    });
                }
            }
        }
    }
    None
}

/// This machine's apt sources, in the order apt reads them.
fn apt_sources() -> Vec<(PathBuf, String)> {
    let mut paths = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        paths.extend(more);
    }
    paths
        .into_iter()
        .filter_map(|p| Some((p.clone(), std::fs::read_to_string(&p).ok()?)))
        .collect()
}

/// The cached root as a tarball: made once with debootstrap (minutes), unpacked for every
/// run (seconds).
fn cached_root(suite: &str, arch: &str) -> PathBuf {
    let cache_dir = Path::new(TARGET).join("debroot");
    std::fs::create_dir_all(&cache_dir).unwrap();
    let tarball = cache_dir.join(format!("{suite}-{arch}-minbase-{INCLUDE}.tar"));
    if tarball.exists() {
        eprintln!("using the cached Debian root {}", tarball.display());
        return tarball;
    }
    let source = mirror_from(&apt_sources(), suite).unwrap_or_else(|| {
        panic!("no `deb` source for {suite} in /etc/apt/sources.list or sources.list.d")
    });
    let build = cache_dir.join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&build);
    eprintln!(
        "debootstrap {suite} ({arch}) from {} into {}",
        source.uri,
        build.display()
    );
    let mut cmd = Command::new("debootstrap");
    cmd.args(["--variant=minbase", &format!("--include={INCLUDE}")])
        .arg(format!("--arch={arch}"));
    if let Some(k) = &source.keyring
        && k.starts_with('/')
    {
        cmd.arg(format!("--keyring={k}"));
    }
    cmd.arg(suite).arg(&build).arg(&source.uri);
    let out = cmd.stdin(Stdio::null()).output().expect("run debootstrap");
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&build);
        panic!("debootstrap failed: {}", text(&out));
    }
    let partial = tarball.with_extension("tar.partial");
    ok(Command::new("tar")
        .arg("-C")
        .arg(&build)
        .args(["--numeric-owner", "-cf"])
        .arg(&partial)
        .arg("."));
    std::fs::rename(&partial, &tarball).unwrap();
    std::fs::remove_dir_all(&build).unwrap();
    tarball
}

/// A fresh root unpacked from the cache, with /proc mounted; on drop, /proc is unmounted
/// and the root removed (never while anything is still mounted in it).
struct Root {
    dir: PathBuf,
    proc_mounted: bool,
}

impl Root {
    fn unpack(tarball: &Path) -> Root {
        let dir = Path::new(TARGET)
            .join("debroot")
            .join(format!("run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut root = Root {
            dir,
            proc_mounted: false,
        };
        ok(Command::new("tar")
            .arg("-C")
            .arg(&root.dir)
            .args(["--numeric-owner", "-xpf"])
            .arg(tarball));
        ok(Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(root.dir.join("proc")));
        root.proc_mounted = true;
        root
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.dir.join(inside.trim_start_matches('/'))
    }

    /// A command inside the root, with a clean environment.
    fn chroot(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("chroot");
        cmd.arg(&self.dir).args([
            "/usr/bin/env",
            "-i",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root",
            "LC_ALL=C",
            "TERM=dumb",
        ]);
        cmd.args(args);
        cmd
    }

    /// Every path in the root but /proc's, as `/usr/bin/x`.
    fn paths(&self) -> BTreeSet<String> {
        let out = ok(Command::new("find")
            .arg(&self.dir)
            .args(["-path"])
            .arg(self.dir.join("proc"))
            .args(["-prune", "-o", "-print"]));
        let prefix = self.dir.to_string_lossy().into_owned();
        out.lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if self.proc_mounted {
            let proc = self.dir.join("proc");
            let done = Command::new("umount")
                .arg(&proc)
                .status()
                .is_ok_and(|s| s.success())
                || Command::new("umount")
                    .arg("-l")
                    .arg(&proc)
                    .status()
                    .is_ok_and(|s| s.success());
            if !done {
                eprintln!("could not unmount {}: left in place", proc.display());
                return;
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = self.dir.to_string_lossy().into_owned();
        if mounts
            .lines()
            .any(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&prefix)))
        {
            eprintln!("something is still mounted under {prefix}: left in place");
            return;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn deb_path(arch: &str) -> PathBuf {
    let deb = Path::new(TARGET).join("debian").join(format!(
        "sockscope_{}-1_{arch}.deb",
        env!("CARGO_PKG_VERSION")
    ));
    assert!(
        deb.exists(),
        "{} is missing: build it with `bash .ci/package`",
        deb.display()
    );
    deb
}

#[test]
#[ignore = "needs root, debootstrap, lintian and the .deb: bash .ci/package && cargo test --test install -- --ignored (.ci/run runs it)"]
fn the_package_installs_works_and_leaves_nothing_behind_on_a_clean_debian() {
    assert!(
        rustix::process::geteuid().is_root(),
        "debootstrap, chroot and mount need root"
    );
    let arch = one_line(Command::new("dpkg").arg("--print-architecture"));
    let deb = deb_path(&arch);
    // The package is this checkout's: its binary names the commit.
    let head = one_line(Command::new("git").args([
        "-C",
        env!("CARGO_MANIFEST_DIR"),
        "rev-parse",
        "--short",
        "HEAD",
    ]));

    // lintian: no error (warnings and notes are printed).
    let out = Command::new("lintian")
        .args(["--tag-display-limit", "0"])
        .arg(&deb)
        .output()
        .expect("run lintian (`bash .ci/test` installs it)");
    let report = text(&out);
    eprintln!("lintian:\n{report}");
    let errors: Vec<&str> = report.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(
        errors.is_empty() && out.status.success(),
        "lintian errors:\n{report}"
    );

    let root = Root::unpack(&cached_root(&codename(), &arch));
    let before = root.paths();
    std::fs::copy(&deb, root.path("/tmp/sockscope.deb")).unwrap();
    ok(&mut root.chroot(&["dpkg", "-i", "/tmp/sockscope.deb"]));
    std::fs::remove_file(root.path("/tmp/sockscope.deb")).unwrap();

    let version = one_line(&mut root.chroot(&["sockscope", "--version"]));
    assert_eq!(
        version,
        format!("sockscope {} (git {head})", env!("CARGO_PKG_VERSION")),
        "an old package? build it again with `bash .ci/package`"
    );
    assert_eq!(
        one_line(&mut root.chroot(&["man", "-w", "sockscope"])),
        "/usr/share/man/man1/sockscope.1.gz"
    );
    let page = ok(&mut root.chroot(&["man", "-P", "cat", "sockscope"]));
    assert!(
        page.contains("htop for ports") && page.contains("serve"),
        "{page}"
    );
    for command in commands(&ok(&mut root.chroot(&["sockscope", "--help"]))) {
        let page = format!("sockscope-{command}");
        assert_eq!(
            one_line(&mut root.chroot(&["man", "-w", &page])),
            format!("/usr/share/man/man1/{page}.1.gz")
        );
    }
    let bash = ok(&mut root.chroot(&[
        "bash",
        "-c",
        ". /usr/share/bash-completion/completions/sockscope && complete -p sockscope",
    ]));
    assert!(
        bash.contains(" -F _sockscope ") && bash.trim_end().ends_with(" sockscope"),
        "{bash}"
    );
    let zsh =
        std::fs::read_to_string(root.path("/usr/share/zsh/vendor-completions/_sockscope")).unwrap();
    assert!(zsh.starts_with("#compdef sockscope"), "{zsh}");
    let fish =
        std::fs::read_to_string(root.path("/usr/share/fish/vendor_completions.d/sockscope.fish"))
            .unwrap();
    assert!(fish.contains("complete -c sockscope"), "{fish}");
    for file in [
        "/usr/share/doc/sockscope/examples/config.toml",
        "/usr/share/sockscope/prometheus/sockscope-rules.yml",
        "/usr/lib/systemd/system/sockscope.service",
        "/usr/share/doc/sockscope/copyright",
    ] {
        assert!(root.path(file).is_file(), "{file} is missing");
    }

    // The unit is as hardened as systemd measures it (2.1 now: "OK"; 10 is "UNSAFE"),
    // and listens on loopback.
    let unit =
        std::fs::read_to_string(root.path("/usr/lib/systemd/system/sockscope.service")).unwrap();
    assert!(
        unit.lines()
            .any(|l| l == "ExecStart=/usr/bin/sockscope serve --listen 127.0.0.1:9947"),
        "{unit}"
    );
    let report = ok(Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--threshold=25"])
        .arg(format!("--root={}", root.dir.display()))
        .arg("sockscope.service"));
    eprintln!("{}", report.lines().last().unwrap_or_default());

    // It works: the test's own listener, with this process as its owner; the example
    // config loads.
    let mine = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = mine.local_addr().unwrap().port();
    let list = ok(&mut root.chroot(&["sockscope", "list", &format!(":{port}")]));
    assert!(
        list.contains(&format!("127.0.0.1:{port}"))
            && list.contains(&format!("{}/", std::process::id())),
        "{list}"
    );
    let info = ok(&mut root.chroot(&[
        "sockscope",
        "--config",
        "/usr/share/doc/sockscope/examples/config.toml",
        "info",
        "--json",
    ]));
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let config = info["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert_eq!(config["ok"], true, "{config:#}");
    assert_eq!(info["privilege"]["root"], true, "{info:#}");

    // dpkg -r takes every file it installed; nothing of it stays anywhere in the root.
    let listed = ok(&mut root.chroot(&["dpkg", "-L", "sockscope"]));
    ok(&mut root.chroot(&["dpkg", "-r", "sockscope"]));
    for path in listed.lines().filter(|p| p.starts_with('/')) {
        if !before.contains(path) {
            assert!(
                !root.path(path).exists(),
                "{path} is still there after dpkg -r"
            );
        }
    }
    let left: Vec<String> = root
        .paths()
        .into_iter()
        .filter(|p| p.contains("sockscope") && !before.contains(p))
        // dpkg's record of what it did, and the page man formatted when the test read
        // it (man's cache, not the package's file).
        .filter(|p| !p.starts_with("/var/lib/dpkg/") && !p.starts_with("/var/cache/man/"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// The commands `sockscope --help` lists.
fn commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// `sockscope man COMMAND` is the page the main page names as sockscope-COMMAND(1), for
/// every command (`.ci/package` packs them all).
#[test]
fn every_command_has_the_man_page_the_main_page_names() {
    let bin = env!("CARGO_BIN_EXE_sockscope");
    let help = ok(Command::new(bin).arg("--help"));
    let list = commands(&help);
    assert!(list.len() > 10 && list.iter().any(|c| c == "why"), "{help}");
    let main = ok(Command::new(bin).arg("man"));
    for command in &list {
        // roff escapes every hyphen: `sockscope\-wait\-free(1)`.
        let roff = command.replace('-', "\\-");
        assert!(
            main.contains(&format!("sockscope\\-{roff}(1)")),
            "{command}"
        );
        let page = ok(Command::new(bin).args(["man", command]));
        assert!(
            page.contains(&format!(".TH sockscope-{command} 1 ")),
            "{}",
            &page[..300.min(page.len())]
        );
    }
    let out = Command::new(bin).args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("no command `nope` (one of: list, why,"),
        "{}",
        text(&out)
    );
}

#[test]
fn apt_sources_in_both_formats() {
    let files = vec![
        (
            PathBuf::from("/etc/apt/sources.list"),
            "# comment\ndeb-src http://src.example/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n".to_owned(),
        ),
        (
            PathBuf::from("/etc/apt/sources.list.d/debian.sources"),
            "Types: deb\nURIs: http://two.example/debian\nSuites: trixie trixie-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nEnabled: no\nURIs: http://off.example/debian\nSuites: sid\n".to_owned(),
        ),
        (
            PathBuf::from("/etc/apt/sources.list.d/other.list.disabled"),
            "deb http://never.example/debian sid main\n".to_owned(),
        ),
    ];
    assert_eq!(
        mirror_from(&files, "bookworm"),
        Some(Source {
            uri: "http://one.example/debian".into(),
            keyring: Some("/k.gpg".into())
        })
    );
    assert_eq!(
        mirror_from(&files, "trixie"),
        Some(Source {
            uri: "http://two.example/debian".into(),
            keyring: Some("/usr/share/keyrings/debian-archive-keyring.gpg".into())
        })
    );
    assert_eq!(mirror_from(&files, "sid"), None);
    assert_eq!(mirror_from(&files, "bookworm-security"), None);
}
