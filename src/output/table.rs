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
const COMMAND: usize = COLUMNS - 1;
const STATE: usize = 1;
/// Which columns go first when a terminal is too narrow, least useful first: those that
/// carry no information — the same empty or placeholder value on every row (PEER `*:*`
/// of listeners, NETNS `host`, an empty TIMER or FLAGS, queues at 0), or one STATE on
/// every row (what the query asked for) — go before any other, as the live view drops
/// Peer in its Listeners view. PROTO, LOCAL and PROCESS
/// stay; COMMAND, last, is cut at the right.
const DROP_ORDER: [usize; 9] = [10, 9, 3, 2, NETNS, 8, 1, 5, 11];

/// Owners a PROCESS cell names before it counts the rest.
const OWNERS_SHOWN: usize = 4;
/// What COMMAND keeps at least before another column is dropped for it.
const COMMAND_ROOM: usize = 16;

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
    // Whether a column says anything: the first row's cell, and whether one differs.
    let mut first: [String; COLUMNS] = Default::default();
    let mut varies = [false; COLUMNS];
    for (n, r) in rows.iter().enumerate() {
        fill(&mut cells, r, snap, width.is_some());
        for (i, c) in cells.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
            if n == 0 {
                first[i].clone_from(c);
            } else if !varies[i] && first[i] != *c {
                varies[i] = true;
            }
        }
    }
    let mut show = [true; COLUMNS];
    show[NETNS] = rows.iter().any(|r| !snap.netns.is_host(r.socket.netns));
    if let Some(w) = width {
        // One state on every row is what the query asked for (listeners, `state:tw`).
        let says = |i: usize| {
            varies[i]
                || !(i == STATE || matches!(first[i].as_str(), "" | "*:*" | "host" | "0" | "-"))
        };
        let informative: [bool; COLUMNS] = std::array::from_fn(says);
        fit_columns(&mut show, &widths, &informative, w);
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

/// Drops columns until the line fits `width` with [`COMMAND_ROOM`] left for COMMAND:
/// first those that carry no information, then the others, each in [`DROP_ORDER`].
fn fit_columns(
    show: &mut [bool; COLUMNS],
    widths: &[usize; COLUMNS],
    informative: &[bool; COLUMNS],
    width: usize,
) {
    let need = |show: &[bool; COLUMNS]| -> usize {
        let fixed: usize = (0..COMMAND)
            .filter(|i| show[*i])
            .map(|i| widths[i] + 2)
            .sum();
        fixed + widths[COMMAND].min(COMMAND_ROOM)
    };
    for pass in [false, true] {
        for i in DROP_ORDER {
            if need(show) <= width {
                return;
            }
            if show[i] && informative[i] == pass {
                show[i] = false;
            }
        }
    }
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
    for (n, (i, c)) in cells
        .iter()
        .enumerate()
        .filter(|(i, _)| show[*i])
        .enumerate()
    {
        if n > 0 {
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
        write!(cells[4], "{}", Endpoint(&s.local()))?;
        write!(cells[5], "{}", Endpoint(&s.remote()))?;
        cells[NETNS].push_str(&snap.netns.name(s.netns));
        // A listener shared by hundreds of workers: the first few, and how many more
        // (`--json` and `--csv` keep them all).
        if s.owners.len() > OWNERS_SHOWN {
            snap.write_pids(&mut cells[7], &s.owners[..OWNERS_SHOWN]);
            write!(cells[7], ",+{} more", s.owners.len() - OWNERS_SHOWN)?;
        } else {
            snap.write_owners(&mut cells[7], s);
        }
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

    /// At 80 columns, listeners keep USER, FLAGS and COMMAND: PEER (`*:*` on every row),
    /// STATE (LISTEN on every row) and the other columns that say nothing go first;
    /// piped, nothing goes.
    #[test]
    fn narrow_terminals_drop_what_says_nothing_first() {
        let mut snap = Snapshot::empty(Scope::All);
        let mut rows = Vec::new();
        for (i, port) in [2024u16, 38082, 3000].into_iter().enumerate() {
            let pid = 4000 + i as u32;
            let mut s = sock(port, 0, 100 + i as u32, State::Listen, pid);
            s.set_remote("0.0.0.0:0".parse().unwrap());
            s.uid = 1000;
            s.send_q = 128;
            snap.sockets.push(s);
            let mut p = crate::model::process::fixture(pid, "python3", 'S');
            p.cmdline = ["/usr/bin/python3", "-m", "http.server", &port.to_string()]
                .map(String::from)
                .to_vec();
            snap.processes.insert(pid, p);
        }
        snap.users.insert(1000, "alice".into());
        let mut flags = vec![crate::model::Flags::empty(); 3];
        flags[2] = flags[2].with(crate::model::Flag::CloseWaitLeak);
        rows.extend(
            snap.sockets
                .iter()
                .zip(&flags)
                .map(|(socket, f)| Row { socket, flags: *f }),
        );
        let mut out = Vec::new();
        write(&mut out, &rows, &snap, Some(80)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let header = text.lines().next().unwrap();
        for kept in ["PROTO", "LOCAL", "PROCESS", "USER", "FLAGS", "COMMAND"] {
            assert!(header.contains(kept), "{kept}: {text}");
        }
        assert!(!header.contains("PEER"), "{text}");
        assert!(
            !header.contains("STATE"),
            "LISTEN on every row says nothing: {text}"
        );
        assert!(
            text.contains("CLOSE-WAIT-LEAK") && text.contains("python3 -m http.s"),
            "{text}"
        );
        for line in text.lines() {
            assert!(line.chars().count() <= 80, "{line}");
        }
        let mut out = Vec::new();
        write(&mut out, &rows, &snap, None).unwrap();
        let piped = String::from_utf8(out).unwrap();
        assert!(piped.lines().next().unwrap().contains("PEER"), "{piped}");
    }

    #[test]
    fn terminal_width_cuts_lines() {
        let a = sock(80, 0, 7, State::Listen, 0);
        let text = render(&[&a], Some(30));
        assert!(text.contains('…'), "{text}");
        for line in text.lines() {
            assert!(line.chars().count() <= 30, "{line}");
        }
        assert!(render(&[&a], None).lines().all(|l| !l.ends_with('…')));
    }
}
