//! The event loop: `select!` over terminal input, snapshots from the collector thread,
//! OS signals and a tick; every message goes through `update`; effects are performed
//! here; the screen is drawn only when something changed.

use super::effects::{Effector, Os, RealOs};
use super::session::{Input, Session};
use super::terminal;
use crate::app::msg::{Key, KeyCode, MouseKind, Msg};
use crate::app::{App, Settings, View};
use crate::collect::worker::Worker;
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
    let rt = super::tokio()?;
    terminal::install_panic_hook();
    let _guard = terminal::Guard;
    let term = terminal::open().map_err(term_err("set up"))?;
    // Slow effects (stopping a container) answer through this channel.
    let (jobs, replies) = tokio::sync::mpsc::unbounded_channel();
    let os = RealOs { jobs: Some(jobs) };
    let effector = Effector::with_os(RealSignaller::default(), os);
    let mut session = Session::new(app, term, effector);
    let result = rt.block_on(event_loop(&mut session, collector, replies));
    terminal::restore();
    result
}

/// The live view's loop: terminal input, snapshots from the collector thread, OS
/// signals and a clock, each turned into an [`Input`] for the session.
async fn event_loop<S: Signaller, O: Os>(
    session: &mut Session<CrosstermBackend<Stdout>, S, O>,
    collector: Box<dyn collect::Collector>,
    mut replies: tokio::sync::mpsc::UnboundedReceiver<Msg>,
) -> Result<()> {
    let (tx, mut snapshots) = tokio::sync::mpsc::unbounded_channel();
    let worker = Worker::spawn(
        collector,
        Scope::All,
        session.app.modes.interval,
        move |m| tx.send(m).is_ok(),
    )
    .map_err(|source| Error::Start {
        what: "the collector thread",
        source,
    })?;
    // crossterm's event stream panics when its event source cannot be made (no fds
    // left); polling once first makes that source, or returns the error.
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
    let mut events = EventStream::new();
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
    let size = session
        .terminal
        .size()
        .map_err(term_err("read the size of"))?;
    session.input(Input::Msg(Msg::Resize {
        width: size.width,
        height: size.height,
    }));
    loop {
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
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| {
        rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned()
    });
    crate::model::sanitize::sanitize_capped(raw.trim(), 64)
}
