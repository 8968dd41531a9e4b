//! The event loop: `select!` over terminal input, snapshots from the collector thread,
//! OS signals and a tick; every message goes through `update`; effects are performed
//! here; the screen is drawn only when something changed.

use super::effects::{Effector, Os, RealOs};
use super::mailbox::{Receiver, mailbox};
use super::session::{Input, Session};
use super::terminal;
use crate::app::msg::{Key, KeyCode, MouseKind, Msg};
use crate::app::{App, Settings, View};
use crate::collect::worker::{self, Worker};
use crate::collect::{self, CollectorKind};
use crate::config;
use crate::error::{Error, Result};
use crate::model::Scope;
use crate::signal::{RealSignaller, Signaller};
use crossterm::event::{
    Event, EventStream, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use ratatui::backend::CrosstermBackend;
use std::io::IsTerminal;
use std::io::Stdout;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, SystemTime};
use tokio::signal::unix::{SignalKind, signal};

/// Command-line options of the TUI.
#[derive(Clone, Debug, Default)]
pub struct TuiOptions {
    pub interval: Option<Duration>,
    pub view: Option<View>,
    pub filter: Option<String>,
    pub no_color: bool,
    pub config: Option<PathBuf>,
    pub collector: CollectorKind,
    /// `--budget`; the config's otherwise.
    pub budget: Option<crate::model::Budget>,
}

/// Runs the TUI until the user quits. Errors are one line for the binary to print.
pub fn run(opts: TuiOptions) -> Result<()> {
    // A bad config is reported first, terminal or not.
    let cfg = config::load(opts.config.as_deref())?;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::NoTerminal);
    }
    let mut theme = cfg.theme.clone();
    if opts.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        theme = crate::app::Theme::plain();
    }
    let settings = Settings {
        columns: cfg.columns.clone(),
        ghost: cfg.ghost,
        theme,
        keymap: cfg.keymap.clone(),
        host: hostname(),
        ephemeral: collect::ephemeral_range(),
        services: std::sync::Arc::new(crate::collect::services()),
    };
    let interval = opts.interval.unwrap_or(cfg.interval);
    let mut app = App::new(settings, opts.view.unwrap_or(cfg.view), interval);
    if let Some(f) = &opts.filter {
        let q = crate::query::parse(f).map_err(|e| Error::Usage(format!("{e} (in --filter)")))?;
        app.modes.filter.text = f.clone();
        app.modes.filter.query = q;
    }
    let collector = collect::open(opts.collector)?;
    let budget = opts.budget.unwrap_or(cfg.budget);
    let rt = super::tokio()?;
    terminal::install_panic_hook();
    let _guard = terminal::Guard;
    let term = terminal::open().map_err(term_err("set up"))?;
    // Slow effects (stopping a container) answer through this channel.
    let (jobs, replies) = tokio::sync::mpsc::unbounded_channel();
    let os = RealOs { jobs: Some(jobs) };
    let effector = Effector::with_os(RealSignaller::default(), os);
    let mut session = Session::new(app, term, effector);
    let result = rt.block_on(event_loop(&mut session, collector, budget, replies));
    terminal::restore();
    result
}

/// The live view's loop: terminal input, snapshots from the collector thread, OS
/// signals and a clock, each turned into an [`Input`] for the session.
async fn event_loop<S: Signaller, O: Os>(
    session: &mut Session<CrosstermBackend<Stdout>, S, O>,
    collector: Box<dyn collect::Collector>,
    budget: crate::model::Budget,
    mut replies: tokio::sync::mpsc::UnboundedReceiver<Msg>,
) -> Result<()> {
    let settings = worker::Settings::new(Scope::All, session.app.modes.interval, budget);
    let (worker, mut snapshots) = spawn_worker(collector, settings)?;
    // What the filter narrows to is read every round, whatever the budget.
    let mut narrow = session.narrowing();
    worker.send(worker::Command::Narrow(narrow.clone()));
    let mut events = open_events()?;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let on = |kind| {
        signal(kind).map_err(|source| Error::Start {
            what: "signal handling",
            source,
        })
    };
    let mut sigterm = on(SignalKind::terminate())?;
    let mut sighup = on(SignalKind::hangup())?;
    let mut sigint = on(SignalKind::interrupt())?;
    let mut sigtstp = on(SignalKind::from_raw(rustix::process::Signal::TSTP.as_raw()))?;
    let mut sigcont = on(SignalKind::from_raw(rustix::process::Signal::CONT.as_raw()))?;
    // A resize wakes the loop even when crossterm loses its event (see `follow_size`).
    let mut sigwinch = on(SignalKind::window_change())?;
    loop {
        // The terminal's size, not the last resize event, lays the frame out. The first
        // view may need the collector to read tcp_info (the Processes view).
        let flow = session
            .follow_size()
            .map_err(term_err("read the size of"))?;
        for c in flow.worker {
            worker.send(c);
        }
        session.draw().map_err(term_err("draw on"))?;
        let input = tokio::select! {
            biased;
            ev = next_event(&mut events) => match ev {
                Some(Ok(ev)) => match convert(ev) {
                    Some(m) => Input::Msg(m),
                    None => continue,
                },
                Some(Err(e)) => return Err(term_err("read")(e)),
                None => return Ok(()),
            },
            _ = sigterm.recv() => return Ok(()),
            _ = sighup.recv() => return Ok(()),
            _ = sigint.recv() => return Ok(()),
            _ = sigwinch.recv() => continue,
            _ = sigtstp.recv() => {
                worker.suspending();
                terminal::suspend(&mut session.terminal).map_err(term_err("suspend"))?;
                session.invalidate();
                continue;
            }
            _ = sigcont.recv() => {
                // Stopped from outside (SIGSTOP): take the terminal back and redraw.
                terminal::resume(&mut session.terminal).map_err(term_err("resume"))?;
                session.invalidate();
                continue;
            }
            Some(m) = snapshots.recv() => Input::Msg(match m {
                Ok(c) => Msg::Snapshot(Box::new(c)),
                Err(e) => Msg::CollectFailed(std::sync::Arc::new(e)),
            }),
            Some(m) = replies.recv() => Input::Msg(m),
            _ = tick.tick() => Input::Tick(SystemTime::now()),
        };
        let flow = session.input(input);
        for c in flow.worker {
            worker.send(c);
        }
        let now = session.narrowing();
        if now != narrow {
            worker.send(worker::Command::Narrow(now.clone()));
            narrow = now;
        }
        if flow.quit {
            return Ok(());
        }
        if flow.suspend {
            worker.suspending();
            terminal::suspend(&mut session.terminal).map_err(term_err("suspend"))?;
            session.invalidate();
        }
    }
}

/// Starts the collector thread. One report at most waits for the loop (a terminal that
/// blocks the draw blocks the loop): a newer one is folded into it ([`fold_reports`]).
fn spawn_worker(
    collector: Box<dyn collect::Collector>,
    settings: worker::Settings,
) -> Result<(Worker, Receiver<Report>)> {
    let (tx, snapshots) = mailbox();
    let worker = Worker::spawn(collector, settings, move |m| tx.put_with(m, fold_reports))
        .map_err(|source| Error::Start {
            what: "the collector thread",
            source,
        })?;
    Ok((worker, snapshots))
}

/// The terminal's events. crossterm's event stream panics when its event source cannot
/// be made (no fds left); polling once first makes that source, or returns the error.
fn open_events() -> Result<EventStream> {
    crossterm::event::poll(Duration::ZERO).map_err(|e| {
        // crossterm hides the cause; a tiny open-file limit is the likely one.
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        if limit < 64 {
            Error::TooManyOpenFiles { limit }
        } else {
            term_err("read events from")(e)
        }
    })?;
    Ok(EventStream::new())
}

/// Two reports of the collector thread the loop has not taken, as one. Snapshots fold
/// ([`worker::fold`]); a snapshot not shown yet is kept over a failure that came after it
/// (the failure did not move the diff's base, the snapshot did); a failure is replaced by
/// whatever comes next.
fn fold_reports(unread: Report, newer: Report) -> Report {
    match (unread, newer) {
        (Ok(u), Ok(n)) => Ok(worker::fold(u, n)),
        (Ok(u), Err(_)) => Ok(u),
        (Err(_), n) => n,
    }
}

type Report = std::result::Result<crate::model::Collected, Error>;

/// Maps a terminal I/O error to what was being done with the terminal.
fn term_err(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |source| Error::Terminal { what, source }
}

async fn next_event(events: &mut EventStream) -> Option<std::io::Result<Event>> {
    std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut *events), cx)).await
}

fn convert(ev: Event) -> Option<Msg> {
    use crossterm::event::KeyCode as C;
    match ev {
        Event::Key(k) if k.kind != KeyEventKind::Release => {
            let code = match k.code {
                C::Char(c) => KeyCode::Char(c),
                C::Enter => KeyCode::Enter,
                C::Esc => KeyCode::Esc,
                C::Tab => KeyCode::Tab,
                C::BackTab => KeyCode::BackTab,
                C::Backspace => KeyCode::Backspace,
                C::Delete => KeyCode::Delete,
                C::Up => KeyCode::Up,
                C::Down => KeyCode::Down,
                C::Left => KeyCode::Left,
                C::Right => KeyCode::Right,
                C::PageUp => KeyCode::PageUp,
                C::PageDown => KeyCode::PageDown,
                C::Home => KeyCode::Home,
                C::End => KeyCode::End,
                C::F(n) => KeyCode::F(n),
                _ => return None,
            };
            let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
            let code = match code {
                KeyCode::Char(c) if ctrl => KeyCode::Char(c.to_ascii_lowercase()),
                c => c,
            };
            Some(Msg::Key(Key {
                code,
                ctrl,
                alt: k.modifiers.contains(KeyModifiers::ALT),
            }))
        }
        Event::Mouse(m) => match m.kind {
            MouseEventKind::Down(MouseButton::Left) => Some(Msg::Mouse(MouseKind::Click {
                column: m.column,
                row: m.row,
            })),
            MouseEventKind::ScrollDown => Some(Msg::Mouse(MouseKind::ScrollDown)),
            MouseEventKind::ScrollUp => Some(Msg::Mouse(MouseKind::ScrollUp)),
            _ => None,
        },
        Event::Resize(width, height) => Some(Msg::Resize { width, height }),
        _ => None,
    }
}

fn hostname() -> String {
    use crate::procfs::{SystemFile, read_system};
    let raw = read_system(SystemFile::Hostname).unwrap_or_else(|_| {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    });
    crate::model::sanitize::sanitize_capped(raw.trim(), 64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::testkit::{settings, snapshot, sock};
    use crate::collect::worker::Differ;
    use crate::model::{Proto, State};

    fn tcp(port: u16, inode: u32) -> crate::model::Socket {
        sock(
            Proto::Tcp,
            &format!("127.0.0.1:{port}"),
            "127.0.0.1:9",
            State::Estab,
            inode,
            &[],
        )
    }

    /// The loop took snapshot 0; snapshots 1 and 2 came while it was stalled, and a
    /// failure in between. It gets one message: the diff against snapshot 0 (2 closed, 4
    /// opened, so 2 is a closed row), and 3, which opened and closed unseen, counted in
    /// the event log's dropped.
    #[test]
    fn snapshots_a_stalled_loop_missed_reach_the_app_as_one_exact_diff() {
        let mut app = App::new(settings(), View::Sockets, Duration::from_secs(1));
        let mut differ = Differ::default();
        let mut next = |secs, sockets| {
            Ok(differ.next(snapshot(secs, Scope::All, sockets, &[]), Duration::ZERO, 0))
        };
        let (tx, mut rx) = mailbox::<Report>();
        tx.put_with(next(0, vec![tcp(1, 1), tcp(2, 2)]), fold_reports);
        let first = rx.try_recv().unwrap().unwrap();
        crate::app::update::update(&mut app, Msg::Snapshot(Box::new(first)));
        tx.put_with(next(1, vec![tcp(1, 1), tcp(3, 3)]), fold_reports);
        tx.put_with(Err(Error::Unsupported), fold_reports);
        tx.put_with(next(2, vec![tcp(1, 1), tcp(4, 4)]), fold_reports);
        let folded = rx.try_recv().unwrap().unwrap();
        assert!(rx.try_recv().is_none(), "one message");
        crate::app::update::update(&mut app, Msg::Snapshot(Box::new(folded)));
        let log: Vec<(String, u16)> = app
            .live
            .events
            .iter()
            .map(|e| (e.kind.as_str().to_owned(), e.socket.local.port()))
            .collect();
        assert_eq!(log, [("closed".into(), 2), ("opened".into(), 4)]);
        assert_eq!(app.live.events.dropped(), 2);
        let ghosts: Vec<u16> = app
            .live
            .ghosts
            .iter()
            .map(|g| g.socket.local().port())
            .collect();
        assert_eq!(ghosts, [2]);
        assert_eq!(app.live.snap.sockets.len(), 2);
    }

    /// A failure waits while a snapshot is unread (the snapshot moved the diff's base);
    /// alone, it is delivered, and the next snapshot replaces it.
    #[test]
    fn a_failure_never_replaces_an_unread_snapshot() {
        let mut differ = Differ::default();
        let mut s = |secs| {
            Ok::<_, Error>(differ.next(snapshot(secs, Scope::All, vec![], &[]), Duration::ZERO, 0))
        };
        let kept = fold_reports(s(0), Err(Error::Unsupported));
        assert!(kept.is_ok_and(|c| c.snapshot.taken_at == crate::app::testkit::at(0)));
        let mut differ = Differ::default();
        let replaced = fold_reports(
            Err(Error::Unsupported),
            Ok(differ.next(snapshot(1, Scope::All, vec![], &[]), Duration::ZERO, 0)),
        );
        assert!(replaced.is_ok());
        let failed = fold_reports(Err(Error::Unsupported), Err(Error::NoTerminal));
        assert!(matches!(failed, Err(Error::NoTerminal)));
    }
}
