//! `sockscope watch` output: one line per event, or NDJSON (schema version 1, in README.md
//! and `assets/schema/watch.schema.json`).

use super::json::Endpoint as EndpointDoc;
use crate::model::socket::Endpoint;
use crate::model::time::rfc3339;
use crate::model::{Pids, Process, Snapshot, Socket, State};
use serde::Serialize;
use std::time::{SystemTime, UNIX_EPOCH};

pub const VERSION: u32 = 1;

/// One event, built from a diff: the socket as it is now (or was, when closed).
pub struct WatchEvent<'a> {
    pub at: SystemTime,
    pub kind: &'static str,
    pub socket: &'a Socket,
    pub old_state: Option<State>,
    pub old_owners: Option<&'a Pids>,
    /// The snapshot that knows the owners' details (the old one for closed sockets).
    pub snap: &'a Snapshot,
    /// Diagnosis flags of the socket now (none for a closed one).
    pub flags: crate::model::Flags,
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
    owners: Vec<&'a Process>,
    owner_pids: &'a [u32],
    old_owner_pids: Option<&'a [u32]>,
    flags: Vec<&'static str>,
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

pub fn json_line(e: &WatchEvent<'_>) -> serde_json::Result<String> {
    let s = e.socket;
    serde_json::to_string(&Doc {
        version: VERSION,
        time: rfc3339(e.at),
        time_ms: ms(e.at),
        event: e.kind,
        proto: s.proto.as_str(),
        local: EndpointDoc {
            addr: s.local.ip().to_string(),
            port: s.local.port(),
        },
        remote: EndpointDoc {
            addr: s.remote.ip().to_string(),
            port: s.remote.port(),
        },
        state: s.state.as_str(),
        old_state: e.old_state.map(State::as_str),
        inode: s.inode,
        owners: e.snap.owners_of(s).collect(),
        owner_pids: &s.owners,
        old_owner_pids: e.old_owners.map(|p| p.as_slice()),
        flags: e.flags.iter().map(|f| f.as_str()).collect(),
    })
}

pub fn text_line(e: &WatchEvent<'_>) -> String {
    let s = e.socket;
    let state = match e.old_state {
        Some(old) => format!("{old}→{}", s.state),
        None => s.state.to_string(),
    };
    let owners = if s.owners.is_empty() {
        format!("({})", s.owner_status.as_str())
    } else {
        s.owners
            .iter()
            .map(|p| {
                e.snap
                    .processes
                    .get(p)
                    .map_or_else(|| p.to_string(), |pr| format!("{p}/{}", pr.name))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let owners = match e.old_owners {
        Some(old) => format!("{:?}→{owners}", old.as_slice()),
        None => owners,
    };
    let flags = if e.flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", e.flags)
    };
    format!(
        "{} {:<13} {:<5} {:<22} {:<22} {:<22} {owners}{flags}",
        rfc3339(e.at),
        e.kind,
        s.proto.as_str(),
        Endpoint(&s.local).to_string(),
        Endpoint(&s.remote).to_string(),
        state
    )
}
