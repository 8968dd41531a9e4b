//! `sockscope list`: one snapshot, filtered, as a table, JSON or CSV.

use crate::cli::ListArgs;
use crate::collect::{self, CollectorKind};
use crate::error::Result;
use crate::model::{Scope, Snapshot};
use crate::output;
use crate::query;
use std::io::{self, IsTerminal, Write};

/// Runs `list`, writing to stdout.
pub fn run(args: &ListArgs, kind: CollectorKind) -> Result<()> {
    let query = query::parse(&args.query.join(" "))?;
    // Each connection's tcp_info (RTT, bytes each way) goes in the JSON of every socket.
    let (snap, leaking) = snapshot(args.all, args.json && args.all, kind)?;
    let rows = output::rows_flagged(&snap, &query, &leaking);
    if snap.visibility.netns_skipped && !args.json {
        super::warn("this network namespace only: entering the others needs root");
    }
    if snap.netns.unread > 0 && !args.json {
        super::warn(&unread_sentence(snap.netns.unread));
    }
    let hidden = rows
        .iter()
        .filter(|r| r.socket.owner_status == crate::model::OwnerStatus::Hidden)
        .count();
    if hidden > 0 && !args.json {
        super::warn(&hidden_sentence(hidden, &snap.visibility));
    }

    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let width = if terminal { terminal_width() } else { None };
    let mut out = io::BufWriter::new(stdout.lock());
    if args.json {
        let doc = output::json::document(&rows, &snap, terminal);
        super::write_json(&mut out, &doc, terminal)?;
    } else if args.csv {
        output::csv::write(&mut out, &rows, &snap)?;
    } else {
        output::table::write(&mut out, &rows, &snap, width)?;
    }
    out.flush()?;
    Ok(())
}

/// Why the owners of `hidden` listed sockets are not shown, and what to do.
fn hidden_sentence(hidden: usize, v: &crate::model::Visibility) -> String {
    let are = if hidden == 1 { " are" } else { "s are" };
    if !v.root_refused() {
        return format!(
            "owners of {hidden} listed socket{are} hidden from you: run as root (or `sockscope info` says how to see them)"
        );
    }
    let n = v.unreadable_pids;
    let (es, their) = if n == 1 { ("", "its") } else { ("es", "their") };
    format!(
        "owners of {hidden} listed socket{are} hidden: {n} process{es} refused even root the read of {their} file descriptors (a security module or a non-dumpable process)"
    )
}

/// Why some namespaces are missing from the listing.
fn unread_sentence(unread: usize) -> String {
    use crate::collect::netns::{MAX_READ, MAX_USER_MADE};
    let s = if unread == 1 { "" } else { "s" };
    format!(
        "{unread} network namespace{s} not read: sockscope reads at most {MAX_READ}, those root made first and at most {MAX_USER_MADE} made by other users"
    )
}

/// The one snapshot `list` shows: listeners, or every socket with `all`; each TCP
/// connection's `tcp_info` with `traffic`; TIME-WAIT makers from a running sockscope's
/// state file. With it, the pids holding a CLOSE-WAIT pile: listeners come with the
/// CLOSE-WAIT sockets of the host (a states-filtered dump), counted so a leaking holder
/// is flagged as `--all` flags it, then dropped. `sockscope mcp` lists from it too.
pub fn snapshot(
    all: bool,
    traffic: bool,
    kind: CollectorKind,
) -> Result<(Snapshot, std::collections::HashSet<u32>)> {
    let scope = if all { Scope::All } else { Scope::Serving };
    let mut collector = collect::open_once(kind)?;
    collector.set_traffic(traffic);
    let mut snap = collector.snapshot(scope)?;
    let leaking = crate::diagnose::CloseWaitTracker::default().observe(&snap);
    if !all {
        snap.sockets.retain(crate::model::Socket::is_listener);
        snap.count_hidden();
        snap.scope = Scope::Listeners;
    }
    // Who made the TIME-WAITs: what a running sockscope knows, when it is believed.
    if let Some(dir) = collect::statefile::dir() {
        let _ = collect::statefile::apply(&dir, &mut snap);
    }
    Ok((snap, leaking))
}

fn terminal_width() -> Option<usize> {
    let ws = rustix::termios::tcgetwinsize(io::stdout()).ok()?;
    (ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}
