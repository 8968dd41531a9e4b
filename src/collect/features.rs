//! What this kernel and host offer sockscope, probed without side effects, for
//! `sockscope info`: sock_diag, the destroy-event groups, `SOCK_DESTROY`, pidfd, the
//! cgroup hierarchy, and the container engine's socket.

use crate::model::sanitize::sanitize_capped;

/// Whether a kernel feature answers: `Ok(())`, or why not, in words.
pub type Answer = Result<(), String>;

/// The kernel's release (`uname -r`).
pub fn kernel_release() -> String {
    let uname = rustix::system::uname();
    sanitize_capped(&uname.release().to_string_lossy(), 64)
}

/// The sanitised name of a uid, from the user database.
pub fn user_name(uid: u32) -> Option<String> {
    let users = sysinfo::Users::new_with_refreshed_list().ok()?;
    let id = sysinfo::Uid::try_from(uid as usize).ok()?;
    users
        .get_user_by_id(&id)
        .map(|u| sanitize_capped(u.name(), 64))
}

/// A sock_diag netlink socket opens and answers a listeners dump.
pub fn sock_diag() -> Answer {
    #[cfg(target_os = "linux")]
    {
        let mut diag = super::sockdiag::SockDiag::open().map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        diag.dump(crate::model::Scope::Listeners, &mut rows)
            .map_err(|e| e.to_string())
    }
    #[cfg(not(target_os = "linux"))]
    Err("Linux only".into())
}

/// A sock_diag socket may join the four destroy-event groups (TCP and UDP, v4 and v6):
/// what a subscriber to sockets freed between polls needs. Joining sends nothing.
pub fn destroy_events() -> Answer {
    #[cfg(target_os = "linux")]
    {
        use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
        let mut sock = Socket::new(NETLINK_SOCK_DIAG).map_err(|e| e.to_string())?;
        sock.bind(&SocketAddr::new(0, 0))
            .map_err(|e| e.to_string())?;
        for group in 1..=4 {
            sock.add_membership(group)
                .map_err(|e| format!("joining group {group}: {e}"))?;
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    Err("Linux only".into())
}

/// Whether the kernel closes sockets on request (`SOCK_DESTROY`, built with
/// `CONFIG_INET_DIAG_DESTROY`), asked by closing a TCP socket that cannot exist: port 0
/// at both ends (no socket is bound to port 0) and a cookie no socket has had. A kernel
/// that has the feature answers "no such socket" before it looks at privileges; one
/// without it answers "not supported". Nothing is closed either way.
pub fn sock_destroy() -> Answer {
    #[cfg(target_os = "linux")]
    {
        use crate::model::{Addr, AddrPair, OwnerStatus, Pids, Proto, Socket, State};
        use std::net::{IpAddr, Ipv4Addr};
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let nothing = Socket {
            proto: Proto::new(true, false),
            addrs: AddrPair::new(Addr::new(lo, 0), Addr::new(lo, 0)),
            state: State::Estab,
            recv_q: 0,
            send_q: 0,
            timer: None,
            uid: 0,
            inode: 0,
            cookie: u64::MAX - 1,
            netns: 0,
            v6only: false,
            owners: Pids::default(),
            owner_status: OwnerStatus::Kernel,
            maker: 0,
        };
        let mut diag = super::sockdiag::SockDiag::open().map_err(|e| e.to_string())?;
        match diag.destroy(&nothing) {
            Ok(false) => Ok(()),
            Ok(true) => Err("the kernel said it closed a socket that cannot exist".into()),
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::OPNOTSUPP.raw_os_error()) => {
                Err("this kernel was built without CONFIG_INET_DIAG_DESTROY".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }
    #[cfg(not(target_os = "linux"))]
    Err("Linux only".into())
}

/// `pidfd_open` works on our own pid: signals are pinned to the process (Linux 5.3).
pub fn pidfd() -> Answer {
    #[cfg(target_os = "linux")]
    {
        rustix::process::pidfd_open(
            rustix::process::getpid(),
            rustix::process::PidfdFlags::empty(),
        )
        .map(drop)
        .map_err(|e| e.to_string())
    }
    #[cfg(not(target_os = "linux"))]
    Err("Linux only".into())
}

/// The cgroup hierarchies mounted here: `v2`, `v1`, `v1 + v2 (hybrid)`, or `none`.
pub fn cgroup_version() -> &'static str {
    let mounts = crate::procfs::read_system(crate::procfs::SystemFile::OwnMountinfo)
        .map(|t| super::origin::parse_mountinfo(&t))
        .unwrap_or_default();
    let v1 = mounts.iter().any(|(fs, _, _)| fs == "cgroup");
    let v2 = mounts.iter().any(|(fs, _, _)| fs == "cgroup2");
    match (v1, v2) {
        (true, true) => "v1 + v2 (hybrid)",
        (false, true) => "v2",
        (true, false) => "v1",
        (false, false) => "none",
    }
}

/// The container engine: its socket (`$DOCKER_HOST`, Docker's, Podman's), and whether it
/// answers a list of containers, with the user's own rights.
pub struct Engine {
    pub socket: Option<String>,
    pub answer: Result<usize, super::containers::ApiError>,
}

pub fn engine() -> Engine {
    let socket =
        super::containers::socket_path().map(|p| sanitize_capped(&p.to_string_lossy(), 256));
    let answer = super::containers::Api::new().and_then(|api| api.published().map(|p| p.len()));
    Engine { socket, answer }
}
