//! Least privilege for a sockscope that holds capabilities without being root: a copy
//! with file capabilities (`setcap cap_sys_ptrace,cap_dac_read_search+ep`) or a systemd
//! unit's `AmbientCapabilities=`.
//!
//! The scheme, set up by [`init`] first thing in `main`, before any thread exists (every
//! thread inherits its creator's capability sets):
//! - Root (real and effective uid 0) is left as it is: it may do everything already.
//! - A set-user-ID or set-group-ID install is refused: the real user would act with
//!   another user's rights.
//! - Of what the process was given, only `CAP_SYS_PTRACE` and `CAP_DAC_READ_SEARCH` are
//!   kept (the read-only view: other users' `/proc/PID/fd` links, environment, cwd and
//!   exe), and only by commands that read the process table. Everything else
//!   (`CAP_KILL`, `CAP_NET_ADMIN`, `CAP_SYS_ADMIN`, whatever a generous `setcap` granted)
//!   leaves the effective, permitted and inheritable sets; the ambient set is cleared and
//!   no_new_privs is set. Actions stay bounded by the real user: the kernel refuses their
//!   signal to another user's process, and closing sockets needs root.
//! - The two kept stay effective: the collector walks /proc from more than one thread
//!   and module, and capability sets are per thread. What those walks open is named by
//!   the kernel (`/proc`) or by root (`/run/netns`, systemd's unit directories). Every
//!   path a user names (`--config`, the config under `$XDG_CONFIG_HOME` or `$HOME`,
//!   `$DOCKER_HOST`, `$XDG_RUNTIME_DIR`) is opened inside [`as_user`], which empties the
//!   calling thread's effective set for the open and restores it after: the file is
//!   opened with the real user's rights, and `--config /etc/shadow` is "permission
//!   denied".
//!
//! Imports nothing of ours: `config`, `collect` and the commands call into it.

use std::io;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

/// What the running process may do, as set up by [`init`].
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Privilege {
    /// Effective uid 0.
    pub root: bool,
    /// Capabilities in use (names like `cap_sys_ptrace`); empty for root, whose rights
    /// come from its uid.
    pub kept: Vec<&'static str>,
    /// Capabilities the process was given and gave up at start.
    pub dropped: Vec<&'static str>,
}

impl Privilege {
    /// Whether other users' processes can be read (root, or both capabilities kept).
    pub fn reads_all_processes(&self) -> bool {
        self.root || VIEW_NAMES.iter().all(|c| self.kept.contains(c))
    }
}

/// The capability set of the read-only view, as `setcap` takes it.
pub const VIEW_SETCAP: &str = "cap_sys_ptrace,cap_dac_read_search+ep";
const VIEW_NAMES: [&str; 2] = ["cap_dac_read_search", "cap_sys_ptrace"];

/// Whether this process runs with capabilities a user's own rights do not include.
static RAISED: AtomicBool = AtomicBool::new(false);
static STATE: OnceLock<Privilege> = OnceLock::new();

/// Sets up least privilege (see the module's text); call once, before any thread is
/// started. `view`: whether the command reads the process table (all but `completions`
/// and `man`). Returns what the process may do, or one line saying why it will not run.
pub fn init(view: bool) -> Result<&'static Privilege, String> {
    let p = setup(view)?;
    Ok(STATE.get_or_init(|| p))
}

/// What [`init`] set up; without it (library tests), the process as it is.
pub fn current() -> Privilege {
    STATE.get().cloned().unwrap_or_else(|| Privilege {
        root: rustix::process::geteuid().is_root(),
        kept: imp::effective_names(),
        dropped: Vec::new(),
    })
}

/// Runs `f` with the real user's rights: on the calling thread, with no capability in
/// effect, when this process holds capabilities its user does not (root keeps its own).
/// For every path and socket a user names. When the capabilities cannot be lowered,
/// `f` does not run.
pub fn as_user<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    if RAISED.load(Ordering::Acquire) {
        imp::lowered(f)
    } else {
        f()
    }
}

fn setup(view: bool) -> Result<Privilege, String> {
    use rustix::process::{getegid, geteuid, getgid, getuid};
    let (uid, euid) = (getuid(), geteuid());
    if uid != euid || getgid() != getegid() {
        return Err(format!(
            "refusing to run set-user-ID or set-group-ID (real uid {}, effective uid {}): remove the bit (`sudo chmod u-s,g-s \"$(command -v sockscope)\"`) and use capabilities instead (`sudo setcap {VIEW_SETCAP} \"$(command -v sockscope)\"`)",
            uid.as_raw(),
            euid.as_raw()
        ));
    }
    if euid.is_root() {
        return Ok(Privilege {
            root: true,
            ..Privilege::default()
        });
    }
    let (kept, dropped) = imp::keep_view_only(view)?;
    if !kept.is_empty() {
        RAISED.store(true, Ordering::Release);
    }
    Ok(Privilege {
        root: false,
        kept,
        dropped,
    })
}

#[cfg(target_os = "linux")]
mod imp {
    use rustix::thread::{CapabilitySet, CapabilitySets, capabilities, set_capabilities};
    use std::io;

    const VIEW: CapabilitySet = CapabilitySet::SYS_PTRACE.union(CapabilitySet::DAC_READ_SEARCH);

    /// Keeps the view's two capabilities (when `view` and given), drops everything else;
    /// returns (kept, dropped) by name.
    pub fn keep_view_only(view: bool) -> Result<(Vec<&'static str>, Vec<&'static str>), String> {
        let fail = |what: &str, e: rustix::io::Errno| {
            format!("cannot {what}: {e} (run without capabilities, or as root)")
        };
        let sets = capabilities(None).map_err(|e| fail("read this process's capabilities", e))?;
        let given = sets.permitted | sets.effective | sets.inheritable;
        let keep = if view {
            sets.permitted & VIEW
        } else {
            CapabilitySet::empty()
        };
        // Kernels before 4.3 have no ambient set: nothing to clear there.
        match rustix::thread::clear_ambient_capability_set() {
            Ok(()) | Err(rustix::io::Errno::INVAL) => {}
            Err(e) => return Err(fail("clear the ambient capabilities", e)),
        }
        let want = CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: CapabilitySet::empty(),
        };
        if sets != want {
            set_capabilities(None, want).map_err(|e| fail("drop capabilities", e))?;
            let now = capabilities(None).map_err(|e| fail("read capabilities", e))?;
            if now != want {
                return Err("capabilities could not be dropped (run without them)".into());
            }
        }
        if !given.is_empty() {
            rustix::thread::set_no_new_privs(true).map_err(|e| fail("set no_new_privs", e))?;
        }
        Ok((names(keep), names(given.difference(keep))))
    }

    /// The calling thread's effective capabilities by name.
    pub fn effective_names() -> Vec<&'static str> {
        capabilities(None)
            .map(|s| names(s.effective))
            .unwrap_or_default()
    }

    pub fn lowered<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let saved = capabilities(None)?;
        if saved.effective.is_empty() {
            return f();
        }
        set_capabilities(
            None,
            CapabilitySets {
                effective: CapabilitySet::empty(),
                ..saved
            },
        )
        .map_err(|e| io::Error::other(format!("cannot lower capabilities to open it: {e}")))?;
        let out = f();
        // A failure here leaves this thread without them: the safe side.
        let _ = set_capabilities(None, saved);
        out
    }

    /// `capabilities(7)` names, in bit order.
    const NAMES: [&str; 41] = [
        "cap_chown",
        "cap_dac_override",
        "cap_dac_read_search",
        "cap_fowner",
        "cap_fsetid",
        "cap_kill",
        "cap_setgid",
        "cap_setuid",
        "cap_setpcap",
        "cap_linux_immutable",
        "cap_net_bind_service",
        "cap_net_broadcast",
        "cap_net_admin",
        "cap_net_raw",
        "cap_ipc_lock",
        "cap_ipc_owner",
        "cap_sys_module",
        "cap_sys_rawio",
        "cap_sys_chroot",
        "cap_sys_ptrace",
        "cap_sys_pacct",
        "cap_sys_admin",
        "cap_sys_boot",
        "cap_sys_nice",
        "cap_sys_resource",
        "cap_sys_time",
        "cap_sys_tty_config",
        "cap_mknod",
        "cap_lease",
        "cap_audit_write",
        "cap_audit_control",
        "cap_setfcap",
        "cap_mac_override",
        "cap_mac_admin",
        "cap_syslog",
        "cap_wake_alarm",
        "cap_block_suspend",
        "cap_audit_read",
        "cap_perfmon",
        "cap_bpf",
        "cap_checkpoint_restore",
    ];

    pub fn names(set: CapabilitySet) -> Vec<&'static str> {
        let bits = set.bits();
        let mut out: Vec<&'static str> = (0..64)
            .filter(|b| bits & (1u64 << b) != 0)
            .map(|b| NAMES.get(b).copied().unwrap_or("cap_unknown"))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn names_follow_the_kernel_bits() {
            assert_eq!(
                names(CapabilitySet::SYS_PTRACE | CapabilitySet::DAC_READ_SEARCH),
                super::super::VIEW_NAMES
            );
            assert_eq!(names(CapabilitySet::KILL), ["cap_kill"]);
            assert_eq!(names(CapabilitySet::NET_ADMIN), ["cap_net_admin"]);
            assert_eq!(
                names(CapabilitySet::CHECKPOINT_RESTORE),
                ["cap_checkpoint_restore"]
            );
            assert!(names(CapabilitySet::empty()).is_empty());
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;

    pub fn keep_view_only(_view: bool) -> Result<(Vec<&'static str>, Vec<&'static str>), String> {
        Ok((Vec::new(), Vec::new()))
    }

    pub fn effective_names() -> Vec<&'static str> {
        Vec::new()
    }

    pub fn lowered<T>(f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        f()
    }
}
