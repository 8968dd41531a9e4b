//! Whole sessions without a terminal: scripted keys, snapshots, ticks and resizes go
//! into a [`Session`] on a `TestBackend`, with a fake signaller and a fake OS; every
//! frame comes out into one insta snapshot per session.

use super::effects::{Effector, Os};
use super::session::{Input, Session};
use crate::app::msg::{Key, KeyCode, Msg};
use crate::app::testkit::{FakeSignaller, at, settings, snapshot, sock, table};
use crate::app::{App, View};
use crate::collect::worker::Differ;
use crate::diagnose::{BindResult, Probe};
use crate::model::process::Inspection;
use crate::model::{Proto, Scope, Sig, Snapshot, State};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::time::Duration;

/// The OS as the script says: every probe gives `bind`, inspections know nothing.
struct FakeOs {
    bind: BindResult,
    probed: Vec<u16>,
    /// Containers asked to stop (full ids); the fake engine stops them at once.
    stopped: Vec<String>,
    /// Sockets asked to be closed (their inodes or, for TIME-WAIT, remote ports).
    closed: Vec<u16>,
}

impl Os for FakeOs {
    fn probe(&mut self, port: u16) -> Probe {
        self.probed.push(port);
        Probe {
            v4: self.bind.clone(),
            v4_reuseaddr: BindResult::Ok,
            v6: BindResult::Ok,
            v6_reuseaddr: BindResult::Ok,
        }
    }
    fn inspect(&mut self, pid: u32) -> Inspection {
        Inspection {
            pid,
            ..Inspection::default()
        }
    }
    fn close_sockets(
        &mut self,
        sockets: &[crate::model::Socket],
        port: Option<u16>,
    ) -> crate::app::close::Closed {
        self.closed
            .extend(sockets.iter().map(|s| s.remote().port()));
        crate::app::close::Closed {
            closed: sockets.len(),
            gone: 0,
            error: None,
            bindable: port.map(|_| true),
        }
    }
    fn stop_container(&mut self, id: String, name: String) -> Option<Msg> {
        self.stopped.push(id);
        // It took the engine's KILL after the grace time.
        Some(Msg::ContainerStopped {
            name,
            result: Ok(Some(137)),
        })
    }
}

// A script's steps live on the stack one at a time: size does not matter here.
#[allow(clippy::large_enum_variant)]
enum Step {
    Keys(&'static str),
    Key(KeyCode),
    Snap(Snapshot),
    Tick(u64),
    Resize(u16, u16),
    /// The terminal changed size and no resize event came (crossterm lost it).
    SilentResize(u16, u16),
}

struct Script {
    session: Session<TestBackend, FakeSignaller, FakeOs>,
    differ: Differ,
    frames: String,
}

impl Script {
    fn new(view: View, w: u16, h: u16, bind: BindResult) -> Script {
        let app = App::new(settings(), view, Duration::from_secs(1));
        let terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        let os = FakeOs {
            bind,
            probed: Vec::new(),
            stopped: Vec::new(),
            closed: Vec::new(),
        };
        let effector = Effector::with_os(FakeSignaller::default(), os);
        let mut s = Script {
            session: Session::new(app, terminal, effector),
            differ: Differ::default(),
            frames: String::new(),
        };
        s.session.input(Input::Msg(Msg::Resize {
            width: w,
            height: h,
        }));
        s
    }

    /// Runs one step, draws, and keeps the frame under a title.
    fn step(&mut self, title: &str, step: Step) {
        match step {
            Step::Keys(keys) => {
                for c in keys.chars() {
                    let k = match c {
                        '\r' => Key::plain(KeyCode::Enter),
                        c => Key::char(c),
                    };
                    self.session.input(Input::Msg(Msg::Key(k)));
                }
            }
            Step::Key(code) => {
                self.session.input(Input::Msg(Msg::Key(Key::plain(code))));
            }
            Step::Snap(snap) => {
                let c = self.differ.next(snap, Duration::from_millis(3), 0);
                self.session.input(Input::Msg(Msg::Snapshot(Box::new(c))));
            }
            Step::Tick(secs) => {
                self.session.input(Input::Tick(at(secs)));
            }
            Step::Resize(w, h) => {
                self.session.terminal.backend_mut().resize(w, h);
                self.session.input(Input::Msg(Msg::Resize {
                    width: w,
                    height: h,
                }));
            }
            Step::SilentResize(w, h) => self.session.terminal.backend_mut().resize(w, h),
        }
        // As the event loop does before every draw.
        self.session.follow_size().unwrap();
        self.session.draw().unwrap();
        let buf = self.session.terminal.backend().buffer();
        self.frames.push_str(&format!(
            "── {title} ({}×{}) ──\n",
            buf.area.width, buf.area.height
        ));
        for y in 0..buf.area.height {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            self.frames.push_str(line.trim_end());
            self.frames.push('\n');
        }
    }
}

/// Filter to a port, open the dialog, send TERM, see the port judged: the listener and
/// its process are gone, two TIME-WAITs remain.
#[test]
fn filter_then_kill_then_the_result_line() {
    let mut s = Script::new(View::Listeners, 100, 16, BindResult::InUse);
    let (sockets, procs) = table();
    s.step(
        "first snapshot",
        Step::Snap(snapshot(0, Scope::All, sockets, &procs)),
    );
    s.step("filter typed and kept", Step::Keys("/:3000 state:listen\r"));
    s.step("k opens the dialog, pinned", Step::Keys("k"));
    s.step("y sends SIGTERM", Step::Keys("y"));
    let (sockets, procs) = table();
    let mut gone: Vec<_> = sockets
        .into_iter()
        .filter(|s| !s.owners.contains(&100))
        .collect();
    gone.push(sock(
        Proto::Tcp,
        "127.0.0.1:3000",
        "127.0.0.1:41006",
        State::TimeWait,
        0,
        &[],
    ));
    let procs: Vec<_> = procs.into_iter().filter(|p| p.pid != 100).collect();
    s.step(
        "the next snapshot: judged",
        Step::Snap(snapshot(1, Scope::All, gone, &procs)),
    );
    let fx = &s.session.effector;
    assert_eq!(fx.signaller.sent, vec![(100, 1000, Sig::Term)]);
    assert_eq!(fx.signaller.pinned, vec![(100, Some(1000), Some(11))]);
    assert_eq!(fx.os.probed, vec![3000]);
    let status = &s.session.app.modes.status.as_ref().unwrap().text;
    assert!(
        status.contains("SIGTERM sent to 100/node: exited; port 3000 has no listener"),
        "{status}"
    );
    insta::assert_snapshot!("session_filter_kill_result", s.frames);
}

/// Thirty connections open, then close: the closed ones show in red, at most a quarter
/// of the table, the rest folded into "+N closed"; `g` hides them; they expire.
#[test]
fn churn_with_ghosts() {
    let mut s = Script::new(View::Sockets, 100, 20, BindResult::Ok);
    let (base, procs) = table();
    s.step(
        "first snapshot",
        Step::Snap(snapshot(0, Scope::All, base.clone(), &procs)),
    );
    let mut busy = base.clone();
    for i in 0..30u16 {
        busy.push(sock(
            Proto::Tcp,
            &format!("127.0.0.1:{}", 42_000 + i),
            "127.0.0.1:3000",
            State::Estab,
            500 + u32::from(i),
            &[400],
        ));
    }
    s.step(
        "30 connections open (green)",
        Step::Snap(snapshot(1, Scope::All, busy, &procs)),
    );
    s.step(
        "they close (red, folded)",
        Step::Snap(snapshot(2, Scope::All, base, &procs)),
    );
    let app = &s.session.app;
    let ghosts = app
        .table
        .rows
        .iter()
        .filter(|r| matches!(r, crate::app::RowId::Ghost(_)))
        .count();
    assert!(ghosts <= app.table_rows() / 4, "{ghosts} ghost rows");
    assert_eq!(ghosts + app.table.folded_ghosts, 30);
    s.step("g hides them", Step::Keys("g"));
    assert_eq!(s.session.app.table.folded_ghosts, 30);
    s.step("g shows them", Step::Keys("g"));
    s.step("three seconds later they are gone", Step::Tick(6));
    assert!(s.session.app.live.ghosts.is_empty());
    insta::assert_snapshot!("session_churn_with_ghosts", s.frames);
}

/// Resizes keep the selection and never break the layout; below 40×10 the screen says
/// so, and the view comes back when there is room again.
#[test]
fn a_resize() {
    let mut s = Script::new(View::Sockets, 80, 24, BindResult::Ok);
    let (sockets, procs) = table();
    s.step(
        "80×24",
        Step::Snap(snapshot(0, Scope::All, sockets, &procs)),
    );
    s.step("select the fourth row", Step::Keys("jjj"));
    let selected = s.session.app.table.selected;
    s.step("wider", Step::Resize(160, 30));
    s.step("narrow", Step::Resize(60, 14));
    s.step("too small", Step::Resize(30, 8));
    s.step("room again, detail open", Step::Resize(90, 26));
    s.step("detail", Step::Key(KeyCode::Enter));
    assert_eq!(
        s.session.app.table.selected, selected,
        "the selection stayed"
    );
    insta::assert_snapshot!("session_resize", s.frames);
}

/// A resize no event told of (crossterm drops a SIGWINCH that is ready in the same poll
/// as a key) is still followed: the frame is laid out for the terminal's own size, the
/// footer on its last line.
#[test]
fn a_resize_without_its_event_is_followed() {
    let mut s = Script::new(View::Sockets, 80, 24, BindResult::Ok);
    let (sockets, procs) = table();
    s.step(
        "80×24",
        Step::Snap(snapshot(0, Scope::All, sockets, &procs)),
    );
    s.step("filter", Step::Keys("/tcp\r"));
    s.step("resized, no event", Step::SilentResize(120, 40));
    assert_eq!(
        (s.session.app.table.width, s.session.app.table.height),
        (120, 40)
    );
    let buf = s.session.terminal.backend().buffer();
    let line = |y: u16| -> String { (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect() };
    assert!(
        line(39).contains("q quit"),
        "footer on the last line: {}",
        s.frames
    );
    assert!(!line(23).contains("q quit"), "{}", s.frames);
}

/// The holder of the port: a docker-proxy publishing container web1's :8080 (and the
/// container's own process, in its namespace).
fn published(with_proxy: bool) -> Snapshot {
    use crate::app::testkit::process;
    use crate::model::{Container, Runtime};
    let mut web = process(710, "busybox", 'S');
    let mut c = Container::from_id(Runtime::Docker, &"ab".repeat(32));
    c.name = Some("web1".into());
    c.image = Some("bb:local".into());
    c.ips = vec!["172.17.0.2".parse().unwrap()];
    c.access = crate::model::container::Access::Known;
    c.confirmed = crate::model::Evidence::Verified("the engine's main process".into());
    web.container = Some(c.clone());
    let mut proxy = crate::app::testkit::docker_proxy(700);
    proxy.cmdline = [
        "/usr/sbin/docker-proxy",
        "-proto",
        "tcp",
        "-host-ip",
        "127.0.0.1",
        "-host-port",
        "32768",
        "-container-ip",
        "172.17.0.2",
        "-container-port",
        "8080",
    ]
    .map(String::from)
    .to_vec();
    let mut sockets = Vec::new();
    let mut procs = vec![web];
    if with_proxy {
        sockets.push(sock(
            Proto::Tcp,
            "127.0.0.1:32768",
            "0.0.0.0:0",
            State::Listen,
            77,
            &[700],
        ));
        procs.push(proxy);
    }
    let mut snap = snapshot(0, Scope::All, sockets, &procs);
    if with_proxy {
        snap.published = vec![crate::app::testkit::published_by(
            &c,
            "127.0.0.1:32768",
            8080,
        )];
    }
    snap
}

/// k on a docker-proxy's listener: the dialog names the container, offers to stop it
/// (chosen already: signalling the proxy frees nothing for long), y asks the engine,
/// and the port is judged once the proxy is gone.
#[test]
fn stop_a_container_from_the_dialog() {
    let mut s = Script::new(View::Listeners, 110, 26, BindResult::Ok);
    s.step("a published port", Step::Snap(published(true)));
    s.step("k: the dialog offers the container", Step::Keys("k"));
    let d = s.session.app.modes.dialog.clone().unwrap();
    assert!(d.stop_container, "stopping the container is chosen");
    assert_eq!(d.action_label(), "Stop container web1");
    let layer = d.targets[0].layer.clone().unwrap();
    assert!(layer.contains("Docker container web1"), "{layer}");
    s.step("↓ wraps to the first signal", Step::Key(KeyCode::Down));
    assert_eq!(
        s.session.app.modes.dialog.as_ref().unwrap().action_label(),
        "Send SIGTERM"
    );
    s.step("↑ back to the container", Step::Key(KeyCode::Up));
    s.step("y stops it", Step::Keys("y"));
    assert_eq!(s.session.effector.os.stopped, vec!["ab".repeat(32)]);
    assert!(
        s.session.effector.signaller.sent.is_empty(),
        "no signal was sent"
    );
    let mut next = published(false);
    next.taken_at = at(1);
    s.step("the proxy is gone: judged", Step::Snap(next));
    let status = &s.session.app.modes.status.as_ref().unwrap().text;
    assert_eq!(
        status,
        "container web1 stopped: it did not stop in 5s, so Docker killed it (exit 137); port 32768 is free"
    );
    insta::assert_snapshot!("session_stop_container", s.frames);
}

/// TERM to a PM2 app: PM2 brings it back under a new pid; the status line says so and
/// gives the command that stops it for good (shown, never run).
#[test]
fn a_pm2_respawn_is_named_after_the_signal() {
    let app = |pid: u32| crate::app::testkit::pm2_app(pid, "barapp");
    let listening = |pid: u32, secs: u64| {
        let s = sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            "0.0.0.0:0",
            State::Listen,
            pid,
            &[pid],
        );
        snapshot(secs, Scope::All, vec![s], &[app(pid)])
    };
    let mut s = Script::new(View::Listeners, 110, 22, BindResult::InUse);
    s.step("a PM2 app", Step::Snap(listening(100, 0)));
    s.step("k: the dialog warns", Step::Keys("k"));
    let layer = s.session.app.modes.dialog.as_ref().unwrap().targets[0]
        .layer
        .clone()
        .unwrap();
    assert_eq!(
        layer,
        "PM2 app barapp will probably start it again: stop it for good with `sudo -u alice env PM2_HOME=/home/alice/.pm2 pm2 stop barapp`"
    );
    s.step("y sends TERM", Step::Keys("y"));
    s.step("PM2 brought it back", Step::Snap(listening(250, 1)));
    assert_eq!(
        s.session.effector.signaller.sent,
        vec![(100, 1000, Sig::Term)]
    );
    let status = &s.session.app.modes.status.as_ref().unwrap().text;
    assert_eq!(
        status,
        "SIGTERM sent to 100/node: exited; port 3000 is held again: respawned by PM2 app barapp as 250/node: stop it with `sudo -u alice env PM2_HOME=/home/alice/.pm2 pm2 stop barapp`"
    );
    insta::assert_snapshot!("session_pm2_respawn", s.frames);
}

/// x on a Ports row: the port's TIME-WAIT sockets, named, Cancel focused; y closes
/// exactly those; x on a listener is refused with the reason.
#[test]
fn close_a_ports_time_waits_from_the_live_view() {
    let mut s = Script::new(View::Ports, 100, 18, BindResult::Ok);
    let (mut sockets, procs) = table();
    for peer in [41_100u16, 41_101] {
        sockets.push(sock(
            Proto::Tcp,
            "127.0.0.1:3000",
            &format!("127.0.0.1:{peer}"),
            State::TimeWait,
            0,
            &[],
        ));
    }
    s.step(
        "ports",
        Step::Snap(snapshot(0, Scope::All, sockets, &procs)),
    );
    let row = s
        .session
        .app
        .table
        .ports
        .iter()
        .position(|p| p.port == 3000)
        .unwrap();
    let at = s
        .session
        .app
        .table
        .rows
        .iter()
        .position(|r| *r == crate::app::RowId::Port(row as u32))
        .unwrap();
    s.session.app.select_index(at);
    s.step("x: the close dialog", Step::Keys("x"));
    let d = s.session.app.modes.close.clone().unwrap();
    // The table's own TIME-WAIT on 3000 and the two added.
    assert_eq!(d.sockets.len(), 3);
    assert_eq!(d.focus, crate::app::dialog::Button::Cancel);
    s.step("Enter presses Cancel", Step::Key(KeyCode::Enter));
    assert!(s.session.app.modes.close.is_none());
    assert!(
        s.session.effector.os.closed.is_empty(),
        "nothing was closed"
    );
    s.step("x again", Step::Keys("x"));
    s.step("y closes them", Step::Keys("y"));
    let closed = &s.session.effector.os.closed;
    assert_eq!(closed.len(), 3);
    assert!(closed.contains(&41_100) && closed.contains(&41_101));
    let status = &s.session.app.modes.status.as_ref().unwrap().text;
    assert_eq!(
        status,
        "closed 3 TIME-WAIT sockets on port 3000: a plain bind of 3000 works now"
    );
    insta::assert_snapshot!("session_close_time_waits", s.frames);
}

#[test]
fn x_on_a_listener_is_refused_with_the_reason() {
    let mut s = Script::new(View::Listeners, 100, 16, BindResult::Ok);
    let (sockets, procs) = table();
    s.step(
        "listeners",
        Step::Snap(snapshot(0, Scope::All, sockets, &procs)),
    );
    s.step("x on the first listener", Step::Keys("x"));
    assert!(s.session.app.modes.close.is_none());
    let status = &s.session.app.modes.status.as_ref().unwrap().text;
    assert!(status.contains("the port stays bound"), "{status}");
}
