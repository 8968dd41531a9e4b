//! The portable collector: netstat2 for sockets and their pids, sysinfo for processes.
//!
//! It is the default where sock_diag is missing and, on Linux, an independent oracle for
//! the sock_diag collector in tests. netstat2 gives no queues, timers, cookies or UDP
//! peers, so those columns stay empty; the listeners scope is filtered here, not in the
//! kernel.

use super::procs::Procs;
use super::{Collector, fill_details};
use crate::error::{Error, Result};
use crate::model::socket::unmap;
use crate::model::{
    AddrPair, OwnerStatus, Pids, Proto, Scope, Snapshot, Socket, State, Visibility,
};
use netstat2::{AddressFamilyFlags, ProtocolFlags, ProtocolSocketInfo, TcpState};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::SystemTime;

pub struct PortableCollector {
    procs: Procs,
}

impl PortableCollector {
    pub fn new() -> Result<Self> {
        Ok(PortableCollector {
            procs: Procs::new()?,
        })
    }
}

fn state(s: TcpState) -> Option<State> {
    Some(match s {
        TcpState::Closed => State::Unconn,
        TcpState::Listen => State::Listen,
        TcpState::SynSent => State::SynSent,
        TcpState::SynReceived => State::SynRecv,
        TcpState::Established => State::Estab,
        TcpState::FinWait1 => State::FinWait1,
        TcpState::FinWait2 => State::FinWait2,
        TcpState::CloseWait => State::CloseWait,
        TcpState::Closing => State::Closing,
        TcpState::LastAck => State::LastAck,
        TcpState::TimeWait => State::TimeWait,
        TcpState::DeleteTcb | TcpState::Unknown => return None,
    })
}

/// netstat2's pid lookup panics when it cannot list `/proc`; only ask for pids when it can.
fn pids_available() -> bool {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        crate::procfs::listable()
    } else {
        true
    }
}

/// One netstat2 row as a socket; `None` for states sockscope does not show.
fn row(info: &netstat2::SocketInfo, euid: u32) -> Option<Socket> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let (inode, uid) = (info.inode, info.uid);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let (inode, uid) = (0u32, euid);
    let (proto, local, remote, state) = match &info.protocol_socket_info {
        ProtocolSocketInfo::Tcp(t) => {
            let v6 = t.local_addr.is_ipv6();
            (
                Proto::new(true, v6),
                SocketAddr::new(unmap(t.local_addr), t.local_port),
                SocketAddr::new(unmap(t.remote_addr), t.remote_port),
                state(t.state)?,
            )
        }
        ProtocolSocketInfo::Udp(u) => {
            let v6 = u.local_addr.is_ipv6();
            let any = if v6 {
                IpAddr::V6(Ipv6Addr::UNSPECIFIED)
            } else {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            };
            // netstat2 drops UDP peers: a connected UDP socket looks unconnected here.
            (
                Proto::new(false, v6),
                SocketAddr::new(unmap(u.local_addr), u.local_port),
                SocketAddr::new(any, 0),
                State::Unconn,
            )
        }
    };
    let mut owners: Pids = info.associated_pids.iter().copied().collect();
    owners.sort_unstable();
    owners.dedup();
    let owner_status = if !owners.is_empty() {
        OwnerStatus::Known
    } else if inode == 0 && cfg!(any(target_os = "linux", target_os = "android")) {
        OwnerStatus::Kernel
    } else if euid != 0 && uid != euid {
        OwnerStatus::Hidden
    } else {
        OwnerStatus::Unknown
    };
    Some(Socket {
        proto,
        addrs: AddrPair::new(local.into(), remote.into()),
        state,
        recv_q: 0,
        send_q: 0,
        timer: None,
        uid,
        inode,
        cookie: 0,
        netns: 0,
        v6only: false,
        owners,
        owner_status,
        maker: 0,
    })
}

impl Collector for PortableCollector {
    fn snapshot(&mut self, scope: Scope) -> Result<Snapshot> {
        let taken_at = SystemTime::now();
        let af = AddressFamilyFlags::IPV4 | AddressFamilyFlags::IPV6;
        let proto = ProtocolFlags::TCP | ProtocolFlags::UDP;
        let with_pids = pids_available();
        let infos: Vec<netstat2::SocketInfo> = if with_pids {
            netstat2::iterate_sockets_info(af, proto)
                .map_err(|e| Error::Portable(e.to_string()))?
                .filter_map(|r| r.ok())
                .collect()
        } else {
            netstat2::iterate_sockets_info_without_pids(af, proto)
                .map_err(|e| Error::Portable(e.to_string()))?
                .filter_map(|r| r.ok())
                .collect()
        };
        let euid = rustix::process::geteuid().as_raw();
        let sockets: Vec<Socket> = infos
            .iter()
            .filter_map(|info| row(info, euid))
            .filter(|s| {
                scope == Scope::All
                    || s.is_listener()
                    || (scope == Scope::Serving && s.state == State::CloseWait)
            })
            .collect();
        let mut snap = Snapshot {
            taken_at,
            scope,
            collector: "portable",
            sockets,
            processes: Default::default(),
            users: Default::default(),
            netns: Default::default(),
            visibility: Visibility {
                euid,
                unreadable_pids: 0,
                hidden_sockets: 0,
                netns_skipped: false,
            },
            published: Vec::new(),
            freed: Vec::new(),
            lost: Default::default(),
            makers: Default::default(),
            tcp: Vec::new(),
        };
        fill_details(&mut snap, &mut self.procs);
        Ok(snap)
    }

    fn name(&self) -> &'static str {
        "portable"
    }
}
