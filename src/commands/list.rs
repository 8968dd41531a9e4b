//! `sockscope list`: one snapshot, filtered, as a table, JSON or CSV.

use crate::cli::ListArgs;
use crate::collect::{self, CollectorKind};
use crate::error::{Error, Result};
use crate::model::Scope;
use crate::output;
use crate::query;
use std::io::{self, IsTerminal, Write};

/// Runs `list`, writing to stdout.
pub fn run(args: &ListArgs, kind: CollectorKind) -> Result<()> {
    let query = query::parse(&args.query.join(" "))?;
    let scope = if args.all {
        Scope::All
    } else {
        Scope::Listeners
    };
    let mut collector = collect::open(kind)?;
    let snap = collector.snapshot(scope)?;
    let rows = output::rows(&snap, &query);

    let stdout = io::stdout();
    let width = if stdout.is_terminal() {
        terminal_width()
    } else {
        None
    };
    let mut out = io::BufWriter::new(stdout.lock());
    let result = if args.json {
        serde_json::to_writer_pretty(&mut out, &output::json::document(&rows, &snap))
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out))
    } else if args.csv {
        output::csv::write(&mut out, &rows, &snap).map_err(io::Error::from)
    } else {
        output::table::write(&mut out, &rows, &snap, width)
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if super::is_broken_pipe(&e) => Ok(()),
        Err(e) => Err(Error::Output(e.to_string())),
    }
}

fn terminal_width() -> Option<usize> {
    let ws = rustix::termios::tcgetwinsize(io::stdout()).ok()?;
    (ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}
