//! System-wide files of `/proc`, read whole; their parsers live with their users.

use std::io;

/// A system-wide file of `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SystemFile {
    /// `sys/net/ipv4/ip_local_port_range`: the ephemeral port range.
    LocalPortRange,
    /// `net/sockstat`: socket counts of our network namespace (IPv4).
    Sockstat,
    /// `net/sockstat6`: the same for IPv6.
    Sockstat6,
    /// `self/mountinfo`: our mounts (to find the cgroup hierarchies).
    OwnMountinfo,
    /// `self/status`: our capabilities.
    OwnStatus,
    /// `self/stat`: our process group as /proc numbers it.
    OwnStat,
    /// `sys/kernel/hostname`.
    Hostname,
}

impl SystemFile {
    fn path(self) -> &'static str {
        match self {
            SystemFile::LocalPortRange => "/proc/sys/net/ipv4/ip_local_port_range",
            SystemFile::Sockstat => "/proc/net/sockstat",
            SystemFile::Sockstat6 => "/proc/net/sockstat6",
            SystemFile::OwnMountinfo => "/proc/self/mountinfo",
            SystemFile::OwnStatus => "/proc/self/status",
            SystemFile::OwnStat => "/proc/self/stat",
            SystemFile::Hostname => "/proc/sys/kernel/hostname",
        }
    }
}

/// Reads a system-wide file of `/proc` whole.
pub fn read_system(file: SystemFile) -> io::Result<String> {
    std::fs::read_to_string(file.path())
}

/// Whether `/proc` can be listed at all.
pub fn listable() -> bool {
    std::fs::read_dir(super::real::PROC).is_ok()
}
