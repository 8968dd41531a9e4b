//! Traffic on screen, as `insta` snapshots at 80 and 120 columns: the socket views'
//! traffic columns (`T`), the Processes view's RX/s and TX/s, the Ports view's Conn/s,
//! a burst of short connections folded into one Events line, lost destroy events in the
//! header, and a connection's `tcp_info` in the detail pane. Each also checks what the
//! snapshot must show, so that accepting a wrong snapshot still fails.

use super::tests::render;
use crate::app::msg::{KeyCode, Msg};
use crate::app::testkit::*;
use crate::app::update::update;
use crate::app::{App, View};

fn resized(app: &mut App, w: u16, h: u16) {
    update(
        app,
        Msg::Resize {
            width: w,
            height: h,
        },
    );
}

/// The row of the table whose text contains each of `what`.
fn row<'a>(screen: &'a str, what: &[&str]) -> &'a str {
    screen
        .lines()
        .skip(4)
        .find(|l| what.iter().all(|w| l.contains(w)))
        .unwrap_or_else(|| panic!("no row with {what:?}:\n{screen}"))
}

#[test]
fn traffic_columns_at_80_and_120() {
    for (w, h) in [(80, 24), (120, 30)] {
        let (mut app, _) = traffic_app(View::Sockets);
        resized(&mut app, w, h);
        press(&mut app, "T");
        let screen = render(&app, w, h);
        insta::assert_snapshot!(format!("traffic_sockets_{w}x{h}"), screen);
        let header = screen.lines().nth(3).unwrap();
        for title in ["Local", "Peer", "Process", "RX/s", "TX/s"] {
            assert!(header.contains(title), "{title} at {w}: {header}");
        }
        // node's end of the connection with curl: 2 KiB in, 256 KiB out in 1 s.
        let node = row(&screen, &["127.0.0.1:41000", "100/node"]);
        assert!(node.contains("2.0K") && node.contains("256K"), "{node}");
        if w >= 120 {
            assert!(header.contains("RTT") && node.contains("45µs"), "{screen}");
        }
        // The lost destroy events, in the first line.
        assert!(
            screen.lines().next().unwrap().contains("events lost: 2 at"),
            "{screen}"
        );
    }
}

#[test]
fn processes_rates_at_80_and_120() {
    for (w, h) in [(80, 24), (120, 30)] {
        let (mut app, _) = traffic_app(View::Processes);
        resized(&mut app, w, h);
        let screen = render(&app, w, h);
        insta::assert_snapshot!(format!("traffic_processes_{w}x{h}"), screen);
        // node: its connection's 256 KiB/s out and 2 KiB/s in, plus the 250 short
        // connections' 4,000 bytes out and 100 in each (1,262,144 and 27,048 B/s).
        let node = row(&screen, &["node --port"]);
        assert!(node.contains("26K") && node.contains("1.2M"), "{node}");
        let curl = row(&screen, &["curl --port"]);
        assert!(curl.contains("256K") && curl.contains("2.0K"), "{curl}");
        // The default sort stays by PID; sorting by TX/s puts node first.
        assert!(
            screen
                .lines()
                .nth(4)
                .unwrap()
                .trim_start()
                .starts_with("100 ")
        );
        let tx = app
            .visible_columns()
            .into_iter()
            .find(|c| *c == crate::app::Col::Proc(crate::app::ProcCol::TxRate))
            .unwrap();
        crate::app::update::normal::sort_by(&mut app, tx, false);
        let pids: Vec<u32> = app
            .table
            .rows
            .iter()
            .filter_map(|r| match r {
                crate::app::RowId::Proc(i) => Some(app.table.procs[*i as usize].pid),
                _ => None,
            })
            .collect();
        assert_eq!(&pids[..2], &[100, 400], "biggest first");
    }
}

#[test]
fn a_burst_is_one_events_line_with_its_count() {
    for (w, h) in [(80, 24), (120, 30)] {
        let (mut app, _) = traffic_app(View::Events);
        resized(&mut app, w, h);
        let screen = render(&app, w, h);
        insta::assert_snapshot!(format!("traffic_events_burst_{w}x{h}"), screen);
        let line = format!("+{BURST} short connections to :3000 by 100/node");
        assert_eq!(
            screen.matches(&line).count(),
            1,
            "one line for the burst:\n{screen}"
        );
        assert_eq!(
            screen.matches("127.0.0.1:4").count(),
            0,
            "no single line of it:\n{screen}"
        );
    }
}

#[test]
fn ports_connections_per_second() {
    for (w, h) in [(80, 24), (120, 30)] {
        let (mut app, _) = traffic_app(View::Ports);
        resized(&mut app, w, h);
        let screen = render(&app, w, h);
        insta::assert_snapshot!(format!("traffic_ports_{w}x{h}"), screen);
        assert!(
            screen.lines().nth(3).unwrap().contains("Conn/s"),
            "{screen}"
        );
        let port = row(&screen, &["100/node"]);
        assert!(
            port.split_whitespace().any(|x| x == BURST.to_string()),
            "{port}"
        );
    }
}

#[test]
fn detail_pane_shows_tcp_info() {
    let (mut app, _) = traffic_app(View::Sockets);
    resized(&mut app, 80, 30);
    let i = app
        .table
        .rows
        .iter()
        .position(|r| {
            app.row_socket(*r)
                .is_some_and(|s| s.local().port() == 3000 && s.remote().port() == 41000)
        })
        .unwrap();
    app.select_index(i);
    key(&mut app, KeyCode::Enter);
    let screen = render(&app, 80, 30);
    insta::assert_snapshot!("traffic_detail_80x30", screen);
    for must in [
        "RX 2.0K/s · TX 256K/s",
        "rtt 45µs ± 11µs · 3 retransmitted segments · delivery rate 5.0M/s",
        "received 12K · sent 1.2M",
        "last sent 40ms ago · last received 1s ago",
    ] {
        assert!(screen.contains(must), "{must}:\n{screen}");
    }
}
