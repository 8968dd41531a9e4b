//! Build script: `--version` names the git commit when built from a checkout of this
//! repository (`0.2.0 (git 1a2b3c4)`), and nothing more when not (a crate tarball, no
//! git). Sets `SOCKSCOPE_VERSION` for `clap`.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?;
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    // Only this repository's commit: a copy of the crate inside another project's
    // checkout must not name that project's commit.
    let ours = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        Path::new(&top).canonicalize().ok() == Path::new(&manifest).canonicalize().ok()
    });
    let commit = git(&["rev-parse", "--short", "HEAD"])
        .filter(|c| ours && c.bytes().all(|b| b.is_ascii_hexdigit()));
    match &commit {
        Some(c) => println!("cargo:rustc-env=SOCKSCOPE_VERSION={version} (git {c})"),
        None => println!("cargo:rustc-env=SOCKSCOPE_VERSION={version}"),
    }
    // Rebuild when the commit changes: HEAD moves to another branch, or the branch (a
    // loose ref, or packed-refs) moves. Worktrees keep HEAD apart and refs in common.
    println!("cargo:rerun-if-changed=build.rs");
    if ours {
        let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(git(&["rev-parse", "--git-path", &head]));
        }
        for path in watch.into_iter().flatten() {
            let path = Path::new(&manifest).join(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
    }
}
