//! `close_sockets` (only with `--allow-actions`): `sockscope close QUERY`, in two calls.
//!
//! The preview parses the query exactly (addresses compare whole, free words are
//! refused) and plans with every rule of `close` (a port, pid, address or inode must be
//! named; more than one process or 64 sockets needs `many` of at least the count;
//! listeners are never closed; UDP only when named). Its token stands for the exact
//! sockets shown, each by tuple and cookie: the execute call closes those and no other,
//! and one that changed since is not touched.

use super::args;
use super::{Reply, Server, said};
use crate::collect::{self, Collector as _, CollectorKind, linux::SockDiagCollector};
use crate::commands::close::{Remaining, describe, destroy_each, is_connection, select};
use crate::diagnose::close::plan;
use crate::diagnose::{CloseWaitTracker, row_flags};
use crate::model::socket::Endpoint;
use crate::model::{Scope, Socket};
use crate::query::{ExactError, parse_exact};
use serde_json::{Value, json};
use std::sync::PoisonError;
use std::time::Instant;

/// What a close token stands for.
pub struct Pending {
    query: String,
    many: Option<usize>,
    /// The sockets shown, each closed by its tuple and cookie.
    sockets: Vec<Socket>,
}

pub fn close(s: &Server, a: args::Close) -> Reply {
    if s.kind == CollectorKind::Portable {
        return Err(
            "close needs the sockdiag collector (Linux netlink): drop --collector portable".into(),
        );
    }
    if !collect::has_net_admin() {
        return Err(
            "closing sockets needs root (CAP_NET_ADMIN): it closes anyone's connections, so sockscope closes only as root; nothing was closed".into(),
        );
    }
    match &a.token {
        None => preview(s, &a),
        Some(token) => execute(s, &a, token),
    }
}

fn preview(s: &Server, a: &args::Close) -> Reply {
    let query = match parse_exact(&a.query) {
        Ok(q) => q,
        Err(ExactError::Query(e)) => return Err(format!("bad query: {e}")),
        Err(ExactError::FreeWord(w)) => {
            return Err(format!(
                "close does not take free words like `{w}`: name a port, pid, address (`addr:…`) or inode"
            ));
        }
    };
    let mut collector = said(SockDiagCollector::new())?.settling(collect::ONE_SHOT_SETTLE);
    let snap = said(collector.snapshot(Scope::All))?;
    let leaking = CloseWaitTracker::default().observe(&snap);
    let flags = row_flags(&snap, &leaking);
    let plan = plan(&select(&query, &snap, &flags, a.many), &snap).map_err(|r| r.to_string())?;
    if let Some(refusal) = &plan.blocked {
        return Err(format!(
            "{refusal} (`many` is close_sockets' argument for it); nothing was closed"
        ));
    }
    if plan.sockets.is_empty() {
        return Ok(json!({
            "stage": "nothing",
            "message": "nothing matches: nothing to close",
        }));
    }
    let sockets: Vec<Socket> = plan
        .sockets
        .iter()
        .map(|&i| snap.sockets[i].clone())
        .collect();
    let shown: Vec<Value> = sockets
        .iter()
        .map(|s| {
            json!({
                "socket": describe(&snap, s),
                "proto": s.proto.as_str(),
                "state": s.state.as_str(),
                "local": Endpoint(&s.local()).to_string(),
                "remote": Endpoint(&s.remote()).to_string(),
                "owners": &s.owners[..],
                "inode": s.inode,
                "cookie": s.cookie,
            })
        })
        .collect();
    let mut notes = Vec::new();
    if sockets.iter().any(is_connection) {
        notes.push(
            "the owner of a closed connection gets ECONNABORTED on its next call, its peer a RST"
                .to_owned(),
        );
    }
    if !plan.listeners.is_empty() {
        let k = plan.listeners.len();
        notes.push(format!(
            "not closing {k} listener{}: the port would stay bound; stop the holder instead (kill_port)",
            if k == 1 { "" } else { "s" }
        ));
    }
    let n = sockets.len();
    let pending = Pending {
        query: a.query.clone(),
        many: a.many,
        sockets,
    };
    let mut tokens = s.closes.lock().unwrap_or_else(PoisonError::into_inner);
    let ttl = tokens.ttl();
    let token = tokens
        .issue(pending, Instant::now())
        .map_err(|e| format!("cannot make a token: {e}"))?;
    Ok(json!({
        "stage": "preview",
        "sockets": shown,
        "notes": notes,
        "token": token,
        "expires_in_s": ttl.as_secs(),
        "next": format!(
            "to close exactly these {n} socket{}, call close_sockets again within {} s with the same query and this token",
            if n == 1 { "" } else { "s" },
            ttl.as_secs()
        ),
    }))
}

fn execute(s: &Server, a: &args::Close, token: &str) -> Reply {
    let p = s
        .closes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(token, Instant::now())
        .map_err(|r| r.to_string())?;
    if (p.query.as_str(), p.many) != (a.query.as_str(), a.many) {
        return Err(format!(
            "this token was issued for the query `{}`{}: nothing was closed; call close_sockets without a token for a new preview",
            crate::model::sanitize::quote(&p.query),
            p.many
                .map(|m| format!(" with many {m}"))
                .unwrap_or_default()
        ));
    }
    let mut collector = said(SockDiagCollector::new())?;
    let sockets: Vec<&Socket> = p.sockets.iter().collect();
    let d = destroy_each(&mut collector, &sockets);
    if let Some(why) = &d.failed {
        return Err(format!("{}; {why}", d.summary()));
    }
    let now = said(collector.snapshot(Scope::All))?;
    let left = Remaining::of(&now, &sockets);
    let mut lines = vec![d.summary()];
    lines.extend(left.lines());
    Ok(json!({
        "stage": "done",
        "asked": d.asked,
        "closed": d.closed,
        "gone": d.gone,
        "remaining": left.count,
        "port": left.port.map(|(p, _)| p),
        "port_free": left.port.map(|(_, free)| free),
        "lines": lines,
    }))
}
