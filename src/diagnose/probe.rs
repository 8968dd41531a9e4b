//! The bind probe: try to bind the port on the wildcard addresses, plainly and with
//! `SO_REUSEADDR`, and close at once. What the kernel says is the ground truth.

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketType, bind, ipproto, socket, sockopt};
use serde::Serialize;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The outcome of one probe bind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BindResult {
    Ok,
    InUse,
    /// Ports below `net.ipv4.ip_unprivileged_port_start` need root or CAP_NET_BIND_SERVICE.
    Denied,
    /// The family is not available here (IPv6 disabled).
    Unsupported,
    Failed(String),
}

impl BindResult {
    pub fn as_str(&self) -> &str {
        match self {
            BindResult::Ok => "binds",
            BindResult::InUse => "in use",
            BindResult::Denied => "permission denied",
            BindResult::Unsupported => "not available",
            BindResult::Failed(e) => e,
        }
    }
}

/// Binds of `0.0.0.0:port` and `[::]:port` (v6-only), with and without SO_REUSEADDR:
/// TCP ones, or UDP ones for `why --udp`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub v4: BindResult,
    pub v4_reuseaddr: BindResult,
    pub v6: BindResult,
    pub v6_reuseaddr: BindResult,
}

impl Probe {
    /// Probes TCP `port` now; every socket it opens is closed before it returns.
    pub fn run(port: u16) -> Probe {
        Probe::of(port, SocketType::STREAM)
    }

    /// Probes UDP `port` now.
    pub fn run_udp(port: u16) -> Probe {
        Probe::of(port, SocketType::DGRAM)
    }

    fn of(port: u16, kind: SocketType) -> Probe {
        let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
        Probe {
            v4: try_bind_as(v4, false, kind),
            v4_reuseaddr: try_bind_as(v4, true, kind),
            v6: try_bind_as(v6, false, kind),
            v6_reuseaddr: try_bind_as(v6, true, kind),
        }
    }

    /// Only the plain binds (no `SO_REUSEADDR`) on both wildcards: what `free-port`
    /// asks of each candidate.
    pub fn plain_free(port: u16) -> bool {
        let v4 = try_bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false);
        if !ok_or_absent(&v4) {
            return false;
        }
        let v6 = try_bind(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), false);
        ok_or_absent(&v6) && !(v4 == BindResult::Unsupported && v6 == BindResult::Unsupported)
    }

    /// A plain bind works on every family this machine has.
    pub fn free(&self) -> bool {
        ok_or_absent(&self.v4)
            && ok_or_absent(&self.v6)
            && !(self.v4 == BindResult::Unsupported && self.v6 == BindResult::Unsupported)
    }

    /// A server that sets SO_REUSEADDR could bind now.
    pub fn reuseaddr_free(&self) -> bool {
        ok_or_absent(&self.v4_reuseaddr) && ok_or_absent(&self.v6_reuseaddr)
    }

    /// Some bind was refused for want of privilege (a port below 1024).
    pub fn denied(&self) -> bool {
        [&self.v4, &self.v6].contains(&&BindResult::Denied)
    }
}

fn ok_or_absent(r: &BindResult) -> bool {
    matches!(r, BindResult::Ok | BindResult::Unsupported)
}

fn try_bind(addr: SocketAddr, reuse: bool) -> BindResult {
    try_bind_as(addr, reuse, SocketType::STREAM)
}

fn try_bind_as(addr: SocketAddr, reuse: bool, kind: SocketType) -> BindResult {
    let family = if addr.is_ipv6() {
        AddressFamily::INET6
    } else {
        AddressFamily::INET
    };
    let proto = if kind == SocketType::DGRAM {
        ipproto::UDP
    } else {
        ipproto::TCP
    };
    let fd = match socket(family, kind, Some(proto)) {
        Ok(fd) => fd,
        Err(Errno::AFNOSUPPORT) => return BindResult::Unsupported,
        Err(e) => return BindResult::Failed(std::io::Error::from(e).to_string()),
    };
    if addr.is_ipv6() {
        // Test the v6 wildcard alone; the v4 probe covers v4.
        let _ = sockopt::set_ipv6_v6only(&fd, true);
    }
    if reuse {
        let _ = sockopt::set_socket_reuseaddr(&fd, true);
    }
    // The probe never listens, so closing it (drop) leaves nothing behind.
    match bind(&fd, &addr) {
        Ok(()) => BindResult::Ok,
        Err(Errno::ADDRINUSE) => BindResult::InUse,
        Err(Errno::ACCESS) | Err(Errno::PERM) => BindResult::Denied,
        Err(Errno::ADDRNOTAVAIL) if addr.is_ipv6() => BindResult::Unsupported,
        Err(e) => BindResult::Failed(std::io::Error::from(e).to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_port_is_in_use_and_a_released_one_binds() {
        // Outside the ephemeral range: a port 0 bind or an outgoing connection elsewhere
        // can take a just-released ephemeral port before the second probe.
        let eph = crate::collect::ephemeral_range();
        let search = crate::diagnose::free::Search::nearby(Some(20000), eph, 1, false);
        let port = search.run(&Default::default(), Probe::plain_free)[0];
        let l = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
        let p = Probe::run(port);
        assert_eq!(p.v4, BindResult::InUse);
        assert!(!p.free());
        drop(l);
        let p = Probe::run(port);
        assert!(p.free(), "{p:?}");
        assert!(p.reuseaddr_free());
        // UDP is its own port space: a UDP socket on it fails a UDP probe only.
        let u = std::net::UdpSocket::bind(("0.0.0.0", port)).unwrap();
        assert_eq!(Probe::run_udp(port).v4, BindResult::InUse);
        assert!(Probe::run(port).free());
        drop(u);
        assert!(Probe::run_udp(port).free());
    }
}
