//! Network namespaces: which one a socket lives in, and what people call it — `host`
//! (the one sockscope runs in), an `ip netns` name, a container's name, or the process
//! that made it.

use serde::Serialize;
use std::collections::BTreeMap;

/// What a namespace is, for its name and for what a listener in it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetnsKind {
    /// The namespace sockscope runs in: its ports are the ones a bind here competes for.
    Host,
    /// Named by `ip netns add` (a file under /run/netns).
    Named,
    /// A container's namespace.
    Container,
    /// Made by a process (`unshare -n`, a sandbox): named after it.
    Process,
}

/// One namespace other than the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Netns {
    pub inode: u32,
    pub name: String,
    pub kind: NetnsKind,
}

/// The namespaces of a snapshot. Sockets carry the inode of their namespace; 0 means
/// the host (a collector that cannot tell namespaces apart).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetnsTable {
    /// Inode of the namespace sockscope runs in.
    pub host: u32,
    pub others: BTreeMap<u32, Netns>,
    /// Namespaces found and not read: more than sockscope reads (see
    /// `collect::netns::MAX_READ`).
    pub unread: usize,
}

impl NetnsTable {
    pub fn is_host(&self, inode: u32) -> bool {
        inode == 0 || inode == self.host
    }

    /// `host`, the namespace's name, or `netns:INODE` when nothing better is known.
    pub fn name(&self, inode: u32) -> String {
        self.name_ref(inode).into_owned()
    }

    /// [`NetnsTable::name`], borrowed where it can be (no string a row for `host`).
    pub fn name_ref(&self, inode: u32) -> std::borrow::Cow<'_, str> {
        if self.is_host(inode) {
            return "host".into();
        }
        self.others.get(&inode).map_or_else(
            || format!("netns:{inode}").into(),
            |n| n.name.as_str().into(),
        )
    }

    pub fn kind(&self, inode: u32) -> NetnsKind {
        if self.is_host(inode) {
            return NetnsKind::Host;
        }
        self.others
            .get(&inode)
            .map_or(NetnsKind::Process, |n| n.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_kinds() {
        let mut t = NetnsTable {
            host: 10,
            ..NetnsTable::default()
        };
        t.others.insert(
            20,
            Netns {
                inode: 20,
                name: "barweb".into(),
                kind: NetnsKind::Container,
            },
        );
        assert_eq!(t.name(0), "host");
        assert_eq!(t.name(10), "host");
        assert_eq!(t.name(20), "barweb");
        assert_eq!(t.name(30), "netns:30");
        assert!(t.is_host(0) && !t.is_host(20));
        assert_eq!(t.kind(20), NetnsKind::Container);
        assert_eq!(t.kind(10), NetnsKind::Host);
    }
}
