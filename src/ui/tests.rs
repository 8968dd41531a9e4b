//! Layouts as `insta` snapshots on ratatui's `TestBackend`, from fake snapshots (so
//! pids, ports and times are fixed), and a sweep of sizes that must never panic.

use crate::app::msg::{KeyCode, Msg};
use crate::app::testkit::*;
use crate::app::update::update;
use crate::app::{App, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub(super) fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| super::draw(f, app)).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn sized(view: View, w: u16, h: u16) -> App {
    let (mut app, _) = app(view);
    update(
        &mut app,
        Msg::Resize {
            width: w,
            height: h,
        },
    );
    app
}

#[test]
fn views() {
    for (w, h) in [(160, 50), (80, 24)] {
        for view in View::ALL {
            let mut app = sized(view, w, h);
            if view == View::Events {
                // Give the log something to show.
                let (mut feed_app, mut feed) = crate::app::testkit::app(View::Events);
                let (mut s, p) = table();
                s.remove(0);
                s[1].state = crate::model::State::CloseWait;
                feed.feed(&mut feed_app, snapshot(2, crate::model::Scope::All, s, &p));
                update(
                    &mut feed_app,
                    Msg::Resize {
                        width: w,
                        height: h,
                    },
                );
                app = feed_app;
            }
            insta::assert_snapshot!(
                format!("view_{}_{w}x{h}", view.title().to_lowercase()),
                render(&app, w, h)
            );
        }
    }
}

#[test]
fn detail_dialog_help() {
    for (w, h) in [(160, 50), (80, 24)] {
        let mut app = sized(View::Listeners, w, h);
        let i = app
            .table
            .rows
            .iter()
            .position(|r| app.row_socket(*r).unwrap().local().port() == 8080)
            .unwrap();
        app.select_index(i);
        update(
            &mut app,
            Msg::Key(crate::app::msg::Key::plain(KeyCode::Enter)),
        );
        insta::assert_snapshot!(format!("detail_{w}x{h}"), render(&app, w, h));
        update(
            &mut app,
            Msg::Key(crate::app::msg::Key::plain(KeyCode::Esc)),
        );
        press(&mut app, "k");
        update(
            &mut app,
            Msg::Pinned(vec![
                (200, Ok(())),
                (201, Err(crate::signal::Refusal::Gone(201))),
            ]),
        );
        insta::assert_snapshot!(format!("dialog_{w}x{h}"), render(&app, w, h));
        key(&mut app, KeyCode::Esc);
        press(&mut app, "?");
        insta::assert_snapshot!(format!("help_{w}x{h}"), render(&app, w, h));
    }
}

/// The help overlay at 80 and 120 columns, top and bottom: keys and their descriptions
/// apart, long lines wrapped (never cut), the colours explained, the detail pane's and
/// the sort menu's keys listed.
#[test]
fn help_at_80_and_120_columns() {
    for (w, h) in [(80, 24), (120, 40)] {
        let mut app = sized(View::Listeners, w, h);
        press(&mut app, "?");
        let top = render(&app, w, h);
        key(&mut app, KeyCode::End);
        let bottom = render(&app, w, h);
        let mut all = String::new();
        // Every line of the help, scrolled through a page at a time.
        key(&mut app, KeyCode::Home);
        for _ in 0..40 {
            all.push_str(&render(&app, w, h));
            key(&mut app, KeyCode::PageDown);
        }
        for must in [
            "In the detail pane",
            "In the sort menu (F6)",
            "Colours",
            "struck",
            "flag:close-wait-leak",
            "F10",
        ] {
            assert!(all.contains(must), "{must} at {w}: {all}");
        }
        for line in all.lines() {
            assert!(
                !line.contains("9pick") && !line.contains("headersort"),
                "a key runs into its description: {line}"
            );
        }
        insta::assert_snapshot!(format!("help_top_{w}x{h}"), top);
        insta::assert_snapshot!(format!("help_bottom_{w}x{h}"), bottom);
    }
}

#[test]
fn filter_line_with_an_error() {
    let mut app = sized(View::Sockets, 100, 20);
    press(&mut app, "/:3000 port:x");
    insta::assert_snapshot!("filter_error_100x20", render(&app, 100, 20));
}

#[test]
fn too_small_says_so() {
    let app = sized(View::Listeners, 39, 9);
    let text = render(&app, 39, 9);
    assert!(text.contains("terminal too small"), "{text}");
}

#[test]
fn every_size_renders_without_panic() {
    let mut app = sized(View::Sockets, 80, 24);
    press(&mut app, "k");
    let mut sizes: Vec<(u16, u16)> = Vec::new();
    for w in 0..=4 {
        for h in 0..=300 {
            sizes.push((w, h));
            sizes.push((h, w));
        }
    }
    for w in (0..=300).step_by(7) {
        for h in (0..=120).step_by(5) {
            sizes.push((w, h));
        }
    }
    for view in View::ALL {
        let mut app = sized(view, 80, 24);
        for (i, (w, h)) in sizes.iter().enumerate() {
            // Alternate overlays and the detail pane across sizes.
            if i % 97 == 0 {
                key(&mut app, KeyCode::Enter);
            }
            update(
                &mut app,
                Msg::Resize {
                    width: *w,
                    height: *h,
                },
            );
            let _ = render(&app, *w, *h);
        }
    }
    for &(w, h) in &sizes {
        update(
            &mut app,
            Msg::Resize {
                width: w,
                height: h,
            },
        );
        let _ = render(&app, w, h);
    }
    // The help, and the close dialog (x on a connection), at every size too.
    let mut help = sized(View::Sockets, 80, 24);
    press(&mut help, "?");
    let mut close = sized(View::Sockets, 80, 24);
    while close
        .selected_row()
        .and_then(|r| close.row_socket(r))
        .is_some_and(|s| s.state != crate::model::State::Estab)
    {
        press(&mut close, "j");
    }
    press(&mut close, "x");
    assert!(close.modes.close.is_some(), "the close dialog is open");
    for app in [&mut help, &mut close] {
        for (w, h) in sizes.iter().step_by(3) {
            update(
                app,
                Msg::Resize {
                    width: *w,
                    height: *h,
                },
            );
            let _ = render(app, *w, *h);
        }
    }
}

/// The detail pane groups the owner's other sockets with counts, and a long value wraps
/// under its value column, never back to column 0.
#[test]
fn detail_groups_other_sockets_and_wraps_under_the_value() {
    let (mut app, mut feed) = app(View::Sockets);
    let (mut s, mut p) = table();
    for i in 0..12u16 {
        s.push(sock(
            crate::model::Proto::Tcp,
            "127.0.0.1:3000",
            &format!("127.0.0.1:{}", 43_000 + i),
            crate::model::State::Estab,
            900 + u32::from(i),
            &[100],
        ));
    }
    p[0].cmdline = vec!["/usr/local/bin/node".into(); 12];
    feed.feed(&mut app, snapshot(1, crate::model::Scope::All, s, &p));
    update(
        &mut app,
        Msg::Resize {
            width: 80,
            height: 40,
        },
    );
    select_port(&mut app, 3000);
    key(&mut app, KeyCode::Enter);
    let pane = app.modes.detail.as_ref().unwrap();
    let all: Vec<String> = pane
        .lines
        .iter()
        .map(|l| format!("{:>10}  {}", l.label, l.text))
        .collect();
    let text = all.join("\n");
    assert!(text.contains("13× ESTAB on :3000"), "{text}");
    assert!(text.contains("CLOSE-WAIT on :3000"), "{text}");
    let cmd = all.iter().position(|l| l.contains("cmdline")).unwrap();
    assert!(all[cmd + 1].starts_with("            /usr"), "{text}");
    for l in &pane.lines {
        assert!(
            l.text.chars().count() <= 80 - 12,
            "wider than the pane: {l:?}"
        );
    }
    // On screen: the same lines, under the label column.
    let screen = render(&app, 80, 40);
    let shown: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains(" detail "))
        .skip(1)
        .take_while(|l| !l.starts_with('─') && !l.starts_with('/'))
        .collect();
    assert!(!shown.is_empty(), "{screen}");
    for l in &shown {
        assert!(
            l.is_empty() || l.starts_with(' '),
            "wrapped to column 0: {l:?}"
        );
    }
}

/// Between full tables the status line says how old the table is and why, and the
/// header's counts that are estimates carry a `~`; the table on screen is the same one.
#[test]
fn the_header_says_what_the_budget_left_stale() {
    use crate::model::{Budget, Collected, Counts, Freshness, Sockstat};
    let (mut app, _) = app(View::Sockets);
    let snap = app.live.snap.clone();
    let kernel = Sockstat {
        tcp: 40,
        tcp6: 0,
        tw: 700,
        udp: 0,
        udp6: 0,
    };
    let c = Collected {
        snapshot: snap.clone(),
        previous: Some(snap.clone()),
        delta: Default::default(),
        rescoped: false,
        took: std::time::Duration::from_millis(2),
        overruns: 0,
        closed: Vec::new(),
        traffic: None,
        unseen: 0,
        fresh: Freshness {
            budget: Budget::default(),
            interval: std::time::Duration::from_secs(1),
            every: 4,
            full_at: snap.taken_at,
            partial: true,
            narrowed: false,
            counts: Some(Counts::estimate(&snap, Some(&kernel))),
            taken_at: snap.taken_at + std::time::Duration::from_secs(3),
        },
    };
    update(&mut app, Msg::Snapshot(Box::new(c)));
    assert!(std::sync::Arc::ptr_eq(&app.live.snap, &snap));
    let screen = render(&app, 160, 20);
    assert!(
        screen.contains("full table every 4s: budget 10 % (3 s old)"),
        "{screen}"
    );
    assert!(
        screen.contains("TIME-WAIT 700"),
        "the kernel's count: {screen}"
    );
    assert!(screen.contains("ESTAB ~"), "an estimate: {screen}");
    assert!(
        !screen.contains("LISTEN ~"),
        "listeners are exact: {screen}"
    );
    // At 80 columns what is stale is said whole; the read's timing may be cut.
    let narrow = render(&app, 80, 24);
    assert!(
        narrow.contains("full table every 4s: budget 10 % (3 s old)"),
        "{narrow}"
    );
}

/// Applies a filter as Enter on the `/` line would.
fn filter(app: &mut App, text: &str) {
    app.modes.filter.text = text.to_owned();
    app.modes.filter.query = crate::query::parse(text).unwrap();
    app.rebuild();
}

/// Counts say one thing in the singular; items of the Events tab line stay apart.
#[test]
fn singular_counts_and_separate_status_items() {
    let (sockets, procs) = table();
    let mut sockets = sockets;
    let i = sockets
        .iter()
        .position(|s| s.state == crate::model::State::Estab)
        .unwrap();
    sockets[i].recv_q = 1;
    sockets[i].send_q = 0;
    let inode = sockets[i].inode;
    let (mut app, _f) = crate::app::testkit::app_with(View::Sockets, sockets, &procs);
    app.live.collect.overruns = 1;
    let row = app
        .table
        .rows
        .iter()
        .position(|r| app.row_socket(*r).is_some_and(|s| s.inode == inode))
        .unwrap();
    app.select_index(row);
    update(
        &mut app,
        Msg::Key(crate::app::msg::Key::plain(KeyCode::Enter)),
    );
    let screen = render(&app, 160, 50);
    assert!(screen.contains("· 1 overrun (snapshot"), "{screen}");
    assert!(screen.contains("recv-q 1 byte, send-q 0 bytes"), "{screen}");

    let (mut app, _) = app_with_log();
    app.live.events.missed(12639);
    filter(&mut app, ":33747");
    let screen = render(&app, 160, 50);
    let tabs = screen.lines().nth(2).unwrap();
    assert!(tabs.contains("12639 dropped  filter: :33747"), "{tabs}");
    assert!(tabs.contains("· 12639 dropped"), "{tabs}");
}

fn app_with_log() -> (App, Feeder) {
    let (mut app, mut feed) = crate::app::testkit::app(View::Events);
    let (mut s, p) = table();
    s.remove(0);
    feed.feed(&mut app, snapshot(2, crate::model::Scope::All, s, &p));
    (app, feed)
}

/// When `t` hides every row the filter leaves, the empty table says so and how to show
/// them, not only that the filter matches nothing.
#[test]
fn an_empty_table_says_time_wait_rows_are_hidden() {
    let mut app = sized(View::Sockets, 100, 20);
    filter(&mut app, "state:tw");
    assert!(!app.table.rows.is_empty(), "the table has TIME-WAIT rows");
    update(&mut app, Msg::Key(crate::app::msg::Key::char('t')));
    let screen = render(&app, 100, 20);
    assert!(
        screen.contains(
            "no rows match `state:tw` with TIME-WAIT rows hidden (`t` shows them; Esc clears the filter)"
        ),
        "{screen}"
    );
}

/// A narrow terminal has no room for the sort column, so no arrow shows the order: the
/// footer names it; with the column on screen it does not.
#[test]
fn the_footer_names_a_sort_column_that_is_off_screen() {
    use crate::app::columns::{Col, Column};
    let mut app = sized(View::Sockets, 60, 14);
    let peer = Col::Socket(Column::Peer);
    assert!(!app.visible_columns().contains(&peer), "Peer is off screen");
    app.table.sort_by(peer, false, false);
    app.rebuild();
    let screen = render(&app, 60, 14);
    let footer = screen.lines().last().unwrap();
    assert!(footer.contains("sort: Peer▲"), "{screen}");
    insta::assert_snapshot!("sort_off_screen_60x14", screen);
    update(
        &mut app,
        Msg::Resize {
            width: 160,
            height: 14,
        },
    );
    let screen = render(&app, 160, 14);
    assert!(!screen.contains("sort:"), "{screen}");
    assert!(screen.contains("Peer▲"), "{screen}");
}
