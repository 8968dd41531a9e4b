//! The aligned plain table of `sockscope list`.

use super::{owners_cell, user_cell};
use crate::model::socket::Endpoint;
use crate::model::{Snapshot, Socket};
use std::io::{self, Write};

const HEADERS: [&str; 11] = [
    "PROTO", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "PEER", "TIMER", "USER", "INODE", "PROCESS",
    "COMMAND",
];
/// Numeric columns are right-aligned.
const RIGHT: [bool; 11] = [
    false, false, true, true, false, false, false, false, true, false, false,
];

/// Writes the table. `width` caps each line (a terminal's width); `None` never cuts, as
/// when output goes to a pipe or file.
pub fn write(
    out: &mut impl Write,
    rows: &[&Socket],
    snap: &Snapshot,
    width: Option<usize>,
) -> io::Result<()> {
    let cells: Vec<[String; 11]> = rows.iter().map(|s| row(s, snap)).collect();
    let mut widths = HEADERS.map(str::len);
    for r in &cells {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = String::with_capacity(256);
    let header = HEADERS.map(str::to_owned);
    for r in std::iter::once(&header).chain(cells.iter()) {
        line.clear();
        for (i, c) in r.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let last = i == r.len() - 1;
            let pad = widths[i].saturating_sub(c.chars().count());
            if RIGHT[i] {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                if !last {
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
        }
        let text = match width {
            Some(w) if line.chars().count() > w => {
                let mut cut: String = line.chars().take(w.saturating_sub(1)).collect();
                cut.push('…');
                cut
            }
            _ => line.trim_end().to_owned(),
        };
        writeln!(out, "{text}")?;
    }
    Ok(())
}

fn row(s: &Socket, snap: &Snapshot) -> [String; 11] {
    let command = s
        .owners
        .first()
        .and_then(|p| snap.processes.get(p))
        .map(|p| p.command())
        .unwrap_or_default();
    [
        s.proto.as_str().to_owned(),
        s.state.as_str().to_owned(),
        s.recv_q.to_string(),
        s.send_q.to_string(),
        Endpoint(&s.local).to_string(),
        Endpoint(&s.remote).to_string(),
        s.timer.map(|t| t.to_string()).unwrap_or_default(),
        user_cell(s, snap),
        s.inode.to_string(),
        owners_cell(s, snap),
        command,
    ]
}
