//! The read-only tools. Each one calls what its command calls and returns the same
//! document (`why --json`, `list --json`, `info --json`, the watch's lines); nothing is
//! judged here. They run on a blocking thread: collectors and probes read the OS.

use super::args;
use super::events::Recent;
use super::{Reply, Server};
use crate::commands;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `why_port`: the verdict of `sockscope why`.
pub fn why(s: &Server, a: args::Why) -> Reply {
    let j = commands::why::judge(a.port, a.udp, s.kind).map_err(|e| e.to_string())?;
    to_value(&j.document())
}

/// `list_sockets`: rows as `sockscope list --json`, at most `limit`.
pub fn list(s: &Server, a: args::List) -> Reply {
    let q = crate::query::parse(a.query.as_deref().unwrap_or(""))
        .map_err(|e| format!("bad query: {e}"))?;
    let (snap, leaking) =
        commands::list::snapshot(a.all, a.all, s.kind).map_err(|e| e.to_string())?;
    let rows = crate::output::rows_flagged(&snap, &q, &leaking);
    let matched = rows.len();
    let shown = &rows[..matched.min(a.limit)];
    let doc = crate::output::json::document(shown, &snap, false);
    Ok(json!({
        "matched": matched,
        "truncated": matched > shown.len(),
        "list": to_value(&doc)?,
    }))
}

/// `free_port`: what `sockscope free-port` prints.
pub fn free_port(s: &Server, a: args::FreePort) -> Reply {
    let search = commands::free_port::search(a.near, a.range, a.count, false);
    let ports = commands::free_port::find(&search, s.kind).map_err(|e| e.to_string())?;
    let shortfall = commands::free_port::shortfall(&search, &ports);
    Ok(json!({
        "ports": ports,
        "count": search.count,
        "range": format!("{}-{}", search.range.start(), search.range.end()),
        "shortfall": shortfall,
    }))
}

/// `wait_listen`: `sockscope wait-listen`.
pub fn wait_listen(s: &Server, a: args::WaitListen, stop: &dyn Fn() -> bool) -> Reply {
    let start = Instant::now();
    let w = commands::wait_listen::wait(a.port, a.timeout, a.addr, s.kind, stop)
        .map_err(|e| e.to_string())?;
    Ok(json!({
        "port": a.port,
        "listening": w.listening,
        "message": w.message,
        "addresses": w.addresses,
        "pids": w.pids,
        "waited_ms": millis(start.elapsed()),
    }))
}

/// `wait_free`: `sockscope wait-free`.
pub fn wait_free(s: &Server, a: args::WaitFree, stop: &dyn Fn() -> bool) -> Reply {
    let start = Instant::now();
    let w =
        commands::wait_free::wait(a.port, a.timeout, s.kind, stop).map_err(|e| e.to_string())?;
    Ok(json!({
        "port": a.port,
        "free": w.free,
        "message": w.message,
        "verdict": w.verdict,
        "waited_ms": millis(start.elapsed()),
    }))
}

/// `recent_events`: from the watch the server keeps.
pub fn recent(recent: &Recent, a: args::Recent) -> Reply {
    let q = crate::query::parse(a.query.as_deref().unwrap_or(""))
        .map_err(|e| format!("bad query: {e}"))?;
    let page = recent.page(a.since_cursor, &q, a.limit);
    if let Some(why) = &page.failed {
        return Err(why.clone());
    }
    let events: Vec<Value> = page
        .events
        .iter()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    Ok(json!({
        "events": events,
        "next_cursor": page.next_cursor,
        "more": page.more,
        "missed": page.missed,
        "unrecorded": page.unrecorded,
        "snapshots": page.snapshots,
        "watching_since_ms": recent
            .since
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, millis),
        "interval_ms": millis(recent.interval),
    }))
}

/// `info`: what `sockscope info --json` reports.
pub fn info(s: &Server) -> Reply {
    let info = commands::info::gather(s.config.as_deref(), s.kind).map_err(|e| e.to_string())?;
    to_value(&info)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub fn to_value(doc: &impl serde::Serialize) -> Reply {
    serde_json::to_value(doc).map_err(|e| format!("cannot write the result: {e}"))
}
