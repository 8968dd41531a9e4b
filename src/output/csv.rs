//! CSV output of `sockscope list --csv`: one header row, one row per socket.

use super::{Row, owners_cell, user_cell};
use crate::model::Snapshot;
use std::io::Write;

pub const HEADER: [&str; 18] = [
    "proto",
    "state",
    "recv_q",
    "send_q",
    "local_addr",
    "local_port",
    "peer_addr",
    "peer_port",
    "timer",
    "timer_ms",
    "uid",
    "user",
    "inode",
    "owner_status",
    "owners",
    "command",
    "flags",
    "netns",
];

pub fn write(out: impl Write, rows: &[Row<'_>], snap: &Snapshot) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    for row in rows {
        let s = row.socket;
        let command = s
            .owners
            .first()
            .and_then(|p| snap.processes.get(p))
            .map(|p| p.command())
            .unwrap_or_default();
        // As in JSON: the plain address, `0.0.0.0` or `::` for the wildcard, no brackets.
        let ip = |a: &crate::model::Addr| a.ip().to_string();
        w.write_record([
            s.proto.as_str(),
            s.state.as_str(),
            &s.recv_q.to_string(),
            &s.send_q.to_string(),
            &ip(&s.local()),
            &s.local().port().to_string(),
            &ip(&s.remote()),
            &s.remote().port().to_string(),
            s.timer.map_or("", |t| t.kind.as_str()),
            &s.timer.map_or(String::new(), |t| t.expires_ms.to_string()),
            &s.uid.to_string(),
            &user_cell(s, snap),
            &s.inode.to_string(),
            s.owner_status.as_str(),
            &owners_cell(s, snap),
            &command,
            &row.flags.to_string(),
            &snap.netns.name(s.netns),
        ])?;
    }
    w.flush()?;
    Ok(())
}
