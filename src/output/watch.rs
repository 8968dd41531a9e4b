//! `sockscope watch` output: one line per event, or NDJSON (schema version 1, in docs/commands.md
//! and `assets/schema/watch.schema.json`).

use super::json::{Endpoint as EndpointDoc, NetnsDoc, ProcessDoc, process_doc};
use crate::model::socket::Endpoint;
use crate::model::time::rfc3339;
use crate::model::{Event, EventKind, Flags, Snapshot};
use serde::Serialize;
use std::time::UNIX_EPOCH;

/// Version 2: `netns`, `container` objects and `supervisor` in owners. Version 3: trust
/// on containers and supervisors, as in `list`.
pub const VERSION: u32 = 3;

/// One event with what it needs to be written: the snapshot that knows its owners (the
/// previous one for a closed socket) and its flags now (none when closed).
pub struct WatchEvent<'a> {
    pub event: &'a Event,
    pub snap: &'a Snapshot,
    pub flags: Flags,
}

#[derive(Serialize)]
struct Doc<'a> {
    version: u32,
    time: String,
    time_ms: u64,
    event: &'static str,
    proto: &'static str,
    local: EndpointDoc,
    remote: EndpointDoc,
    state: &'static str,
    old_state: Option<&'static str>,
    inode: u64,
    netns: NetnsDoc<'a>,
    owners: Vec<ProcessDoc<'a>>,
    owner_pids: &'a [u32],
    old_owner_pids: Option<&'a [u32]>,
    flags: Vec<&'static str>,
    /// For a connection the kernel freed: no poll saw it open.
    #[serde(skip_serializing_if = "Option::is_none")]
    short_lived: Option<bool>,
    /// For a connection the kernel freed: who made it.
    #[serde(skip_serializing_if = "Option::is_none")]
    made_by: Option<&'a crate::model::lifecycle::Maker>,
    /// For a TCP connection the kernel freed: what `tcp_info` said last.
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<TcpDoc>,
}

/// A closed connection's traffic and round trip, from its last `tcp_info`.
#[derive(Serialize)]
pub struct TcpDoc {
    /// Payload bytes sent, each once.
    pub bytes_sent: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    pub rtt_us: u32,
    pub retrans: u32,
}

impl TcpDoc {
    pub fn of_closed(t: &crate::model::lifecycle::TcpInfo) -> TcpDoc {
        TcpDoc {
            bytes_sent: t.sent(true),
            bytes_received: t.received(true),
            rtt_us: t.rtt_us,
            retrans: t.retrans,
        }
    }
}

pub fn json_line(w: &WatchEvent<'_>) -> serde_json::Result<String> {
    let e = w.event;
    let k = &e.socket;
    let (old_state, old_owners) = match &e.kind {
        EventKind::StateChanged { from } => (Some(from.as_str()), None),
        EventKind::OwnerChanged { from } => (None, Some(from.as_slice())),
        _ => (None, None),
    };
    serde_json::to_string(&Doc {
        version: VERSION,
        time: rfc3339(e.at),
        time_ms: e
            .at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        event: e.kind.as_str(),
        proto: k.proto.as_str(),
        local: EndpointDoc {
            addr: k.local.ip(),
            port: k.local.port(),
        },
        remote: EndpointDoc {
            addr: k.remote.ip(),
            port: k.remote.port(),
        },
        state: e.state.as_str(),
        old_state,
        inode: k.inode,
        netns: NetnsDoc {
            inode: if k.netns == 0 {
                u64::from(w.snap.netns.host)
            } else {
                u64::from(k.netns)
            },
            name: w.snap.netns.name_ref(k.netns),
        },
        owners: e
            .owners
            .iter()
            .filter_map(|p| w.snap.processes.get(p))
            .map(|p| process_doc(p, w.snap, Some(k.local.port())))
            .collect(),
        owner_pids: &e.owners,
        old_owner_pids: old_owners,
        flags: w.flags.iter().map(|f| f.as_str()).collect(),
        short_lived: e.life.as_ref().map(|l| l.short_lived),
        made_by: e.life.as_ref().map(|l| &l.by),
        tcp: e
            .life
            .as_ref()
            .and_then(|l| l.tcp.as_ref())
            .map(TcpDoc::of_closed),
    })
}

pub fn text_line(w: &WatchEvent<'_>) -> String {
    let e = w.event;
    let k = &e.socket;
    let state = e.state_text();
    let owners = match &e.kind {
        EventKind::OwnerChanged { .. } => {
            format!("{}→{}", e.old_owners_text(), e.owners_text())
        }
        _ => e.owners_text().to_owned(),
    };
    let mut flags = if w.flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", w.flags)
    };
    if let Some(life) = &e.life {
        let mut said = vec![if life.short_lived {
            "shorter than one poll".to_owned()
        } else {
            "seen open".to_owned()
        }];
        if let Some(t) = &life.tcp {
            said.push(format!(
                "{} B sent, {} B received",
                t.sent(true),
                t.received(true)
            ));
        }
        flags.push_str(&format!(" ({})", said.join(", ")));
    }
    format!(
        "{} {:<13} {:<5} {:<22} {:<22} {:<22} {owners}{flags}",
        rfc3339(e.at),
        e.kind.as_str(),
        k.proto.as_str(),
        Endpoint(&k.local).to_string(),
        Endpoint(&k.remote).to_string(),
        state
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diff::tests::sock;
    use crate::model::events::{FlagsOf, events};
    use crate::model::{Scope, State};

    /// A TIME-WAIT's owner is `(kernel)` in `watch` as in `list` and the live view.
    #[test]
    fn a_time_wait_is_the_kernels() {
        let a = Snapshot::empty(Scope::All);
        let mut b = Snapshot::empty(Scope::All);
        b.sockets = vec![sock(3000, 41000, 0, State::TimeWait, 0)];
        let delta = crate::model::diff::diff(&a, &b);
        let evs = events(&delta, Some(&a), &b, &[], FlagsOf::default());
        let line = text_line(&WatchEvent {
            event: &evs[0],
            snap: &b,
            flags: Flags::empty(),
        });
        assert!(line.ends_with(" (kernel)"), "{line}");
        let mut list = String::new();
        b.write_owners(&mut list, &b.sockets[0]);
        assert_eq!(list, "(kernel)", "the word list uses");
    }

    /// A TCP connection no poll saw says `short-lived` in `watch` as in the Events view,
    /// not the kernel's last state (UNCONN, UDP's word in ss).
    #[test]
    fn a_short_connection_is_short_lived_not_unconn() {
        use crate::model::lifecycle::TcpInfo;
        let b = Snapshot::empty(Scope::All);
        let c = crate::app::testkit::short_closed(
            "127.0.0.1:8080",
            "127.0.0.1:41406",
            7,
            Some(TcpInfo::default()),
        );
        let delta = crate::model::diff::diff(&b, &b);
        let evs = events(&delta, Some(&b), &b, &[c], FlagsOf::default());
        let line = text_line(&WatchEvent {
            event: &evs[0],
            snap: &b,
            flags: Flags::empty(),
        });
        assert!(line.contains(" short-lived "), "{line}");
        assert!(!line.contains("UNCONN"), "{line}");
    }
}
