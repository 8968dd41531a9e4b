//! Whether a process really runs in the container its cgroup names (SPEC §11): the
//! engine's answer and the kernel's namespaces, never the cgroup's name alone.

use crate::model::container::Access;
use crate::model::{Container, Evidence, Runtime};
use crate::procfs::{Ns, ProcSource};

/// Whether `a` and `b` share namespace `ns`, and it is not this process's own (the
/// host's: a container on the host network shares it with every host process).
pub fn share_ns(src: &dyn ProcSource, a: u32, b: u32, ns: Ns) -> bool {
    let (Ok(x), Ok(y)) = (src.ns_inode(a, ns), src.ns_inode(b, ns)) else {
        return false;
    };
    x == y && src.own_ns_inode(ns).ok() != Some(x)
}

/// Whether process `pid` (with `ancestors`) really runs in container `c`, which its
/// cgroup path names (SPEC §11): a cgroup name is a claim, since a user who owns a
/// cgroup subtree can name a directory `docker-<any id>.scope`. Docker and Podman
/// containers are confirmed by the engine's own answer: the container's main process
/// (`State.Pid`) is the process or one of its ancestors, or shares its pid or network
/// namespace (not the host's). containerd and Kubernetes have no API here: their cgroup
/// directory must be root's (only root makes root-owned directories).
pub fn confirm(src: &dyn ProcSource, pid: u32, ancestors: &[u32], c: &Container) -> Evidence {
    match c.runtime {
        Runtime::Docker | Runtime::Podman => {}
        Runtime::Containerd | Runtime::Kubernetes => {
            let dir = c.dir.as_ref();
            return match dir.and_then(|d| d.owner) {
                Some(0) => Evidence::Verified(format!(
                    "its cgroup directory {} is root's",
                    dir.map_or("", |d| d.path.as_str())
                )),
                Some(uid) => Evidence::Claimed(format!(
                    "its cgroup directory names the container but belongs to uid {uid}, not root"
                )),
                None => Evidence::Claimed("its cgroup directory could not be read".into()),
            };
        }
    }
    let engine = c.runtime.title();
    let main = match (c.access, c.pid) {
        (Access::Known, Some(main)) => main,
        (Access::Known, None) => {
            return Evidence::Claimed(format!(
                "its cgroup names the container, but {engine} says it is not running"
            ));
        }
        (Access::NoAccess, _) => {
            return Evidence::Claimed(format!(
                "its cgroup names the container; no access to the {engine} socket to confirm it"
            ));
        }
        (Access::NoAnswer, _) => {
            return Evidence::Claimed(format!(
                "its cgroup names the container; the {engine} socket did not answer to confirm it"
            ));
        }
        (Access::Unknown, _) => {
            return Evidence::Claimed(format!(
                "its cgroup names a container {engine} does not know"
            ));
        }
        (Access::Pending, _) => {
            return Evidence::Claimed(format!("not confirmed by {engine} yet"));
        }
    };
    if main == pid {
        Evidence::Verified(format!("{engine} says it is the container's main process"))
    } else if ancestors.contains(&main) {
        Evidence::Verified(format!(
            "the container's main process {main} ({engine}'s State.Pid) is its ancestor"
        ))
    } else if share_ns(src, pid, main, Ns::Pid) {
        Evidence::Verified(format!(
            "it shares the pid namespace of the container's main process {main}"
        ))
    } else if share_ns(src, pid, main, Ns::Net) {
        Evidence::Verified(format!(
            "it shares the network namespace of the container's main process {main}"
        ))
    } else {
        Evidence::Claimed(format!(
            "its cgroup names the container, but it shares no namespace with the container's main process {main}"
        ))
    }
}
