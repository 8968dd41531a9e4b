//! Layouts as `insta` snapshots on ratatui's `TestBackend`, from fake snapshots (so
//! pids, ports and times are fixed), and a sweep of sizes that must never panic.

use crate::app::msg::{KeyCode, Msg};
use crate::app::testkit::*;
use crate::app::update::update;
use crate::app::{App, View};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(app: &App, w: u16, h: u16) -> String {
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
            .position(|r| app.row_socket(*r).unwrap().local.port() == 8080)
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
    for (w, h) in sizes {
        update(
            &mut app,
            Msg::Resize {
                width: w,
                height: h,
            },
        );
        let _ = render(&app, w, h);
    }
}
