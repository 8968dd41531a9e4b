//! The aligned plain table of `sockscope list`.
//!
//! Rows are formatted twice into one reused set of cell buffers — once to measure column
//! widths, once to write — so memory stays flat however many sockets there are.

use super::{Row, user_cell_into};
use crate::model::Snapshot;
use crate::model::socket::Endpoint;
use std::fmt::Write as _;
use std::io::{self, Write};

const COLUMNS: usize = 13;
/// The owner comes right after the addresses, as in `ss`, so a narrow terminal cuts the
/// less important columns first.
const HEADERS: [&str; COLUMNS] = [
    "PROTO", "STATE", "RECV-Q", "SEND-Q", "LOCAL", "PEER", "NETNS", "PROCESS", "USER", "TIMER",
    "INODE", "FLAGS", "COMMAND",
];
/// Numeric columns are right-aligned.
const RIGHT: [bool; COLUMNS] = [
    false, false, true, true, false, false, false, false, false, false, true, false, false,
];
/// The NETNS column, left out while every row is in the host's namespace.
const NETNS: usize = 6;

/// Writes the table. `width` caps each line (a terminal's width); `None` never cuts, as
/// when output goes to a pipe or file.
pub fn write(
    out: &mut impl Write,
    rows: &[Row<'_>],
    snap: &Snapshot,
    width: Option<usize>,
) -> io::Result<()> {
    let mut cells: [String; COLUMNS] = Default::default();
    let mut widths = HEADERS.map(str::len);
    let show = {
        let mut show = [true; COLUMNS];
        show[NETNS] = rows.iter().any(|r| !snap.netns.is_host(r.socket.netns));
        show
    };
    for r in rows {
        fill(&mut cells, r, snap, width.is_some());
        // The last column is never padded, so it needs no width.
        for (w, c) in widths.iter_mut().zip(cells.iter()).take(COLUMNS - 1) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = String::with_capacity(256);
    for (i, h) in HEADERS.iter().enumerate() {
        cells[i].clear();
        cells[i].push_str(h);
    }
    write_line(out, &mut line, &cells, &widths, &show, width)?;
    for r in rows {
        fill(&mut cells, r, snap, width.is_some());
        write_line(out, &mut line, &cells, &widths, &show, width)?;
    }
    Ok(())
}

fn write_line(
    out: &mut impl Write,
    line: &mut String,
    cells: &[String; COLUMNS],
    widths: &[usize; COLUMNS],
    show: &[bool; COLUMNS],
    width: Option<usize>,
) -> io::Result<()> {
    line.clear();
    for (i, c) in cells.iter().enumerate().filter(|(i, _)| show[*i]) {
        if i > 0 {
            line.push_str("  ");
        }
        let pad = widths[i].saturating_sub(c.chars().count());
        if RIGHT[i] {
            line.extend(std::iter::repeat_n(' ', pad));
            line.push_str(c);
        } else {
            line.push_str(c);
            if i < COLUMNS - 1 {
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
    }
    let text = line.trim_end();
    match width {
        Some(w) if text.chars().count() > w => {
            let cut: String = text.chars().take(w.saturating_sub(1)).collect();
            writeln!(out, "{cut}…")
        }
        _ => writeln!(out, "{text}"),
    }
}

/// One row's cells. On a terminal (`short`) the command is the program's basename and its
/// arguments, so that servers started from long paths can be told apart; piped, it is
/// the full command line.
fn fill(cells: &mut [String; COLUMNS], row: &Row<'_>, snap: &Snapshot, short: bool) {
    let s = row.socket;
    for c in cells.iter_mut() {
        c.clear();
    }
    // Writing into a String cannot fail.
    let _ = (|| -> std::fmt::Result {
        cells[0].push_str(s.proto.as_str());
        cells[1].push_str(s.state.as_str());
        write!(cells[2], "{}", s.recv_q)?;
        write!(cells[3], "{}", s.send_q)?;
        write!(cells[4], "{}", Endpoint(&s.local))?;
        write!(cells[5], "{}", Endpoint(&s.remote))?;
        cells[NETNS].push_str(&snap.netns.name(s.netns));
        snap.write_owners(&mut cells[7], s);
        user_cell_into(&mut cells[8], s, snap);
        if let Some(t) = s.timer {
            write!(cells[9], "{t}")?;
        }
        write!(cells[10], "{}", s.inode)?;
        write!(cells[11], "{}", row.flags)?;
        if let Some(p) = s.owners.first().and_then(|p| snap.processes.get(p)) {
            if short {
                cells[12].push_str(&p.short_command());
            } else {
                p.write_command(&mut cells[12])?;
            }
        }
        Ok(())
    })();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::diff::tests::sock;
    use crate::model::{Scope, Socket, State};

    fn render(sockets: &[&Socket], width: Option<usize>) -> String {
        let snap = Snapshot::empty(Scope::All);
        let rows: Vec<Row<'_>> = sockets
            .iter()
            .map(|s| Row {
                socket: s,
                flags: crate::model::Flags::empty(),
            })
            .collect();
        let mut out = Vec::new();
        write(&mut out, &rows, &snap, width).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn numbers_are_right_aligned_under_their_headers() {
        let mut a = sock(80, 0, 7, State::Listen, 0);
        a.owner_status = crate::model::OwnerStatus::Unknown;
        a.send_q = 4096;
        let b = sock(81, 9000, 0, State::TimeWait, 0);
        let text = render(&[&a, &b], None);
        let lines: Vec<&str> = text.lines().collect();
        let header = lines[0];
        for (col, row) in [("SEND-Q", 1), ("INODE", 1), ("INODE", 2)] {
            let end = header.find(col).unwrap() + col.len();
            let cell_end = lines[row][..end].trim_end().len();
            assert_eq!(
                cell_end, end,
                "{col} in row {row} ends under its header:\n{text}"
            );
        }
        assert!(
            lines[2].contains("(kernel)") && lines[2].contains(" - "),
            "{}",
            lines[2]
        );
        assert!(lines[1].contains("(unknown)"));
    }

    #[test]
    fn terminal_width_cuts_lines() {
        let a = sock(80, 0, 7, State::Listen, 0);
        let text = render(&[&a], Some(30));
        for line in text.lines() {
            assert!(line.chars().count() <= 30, "{line}");
            assert!(line.ends_with('…'));
        }
        assert!(render(&[&a], None).lines().all(|l| !l.ends_with('…')));
    }
}
