//! TUI state and its update: no I/O. The runtime feeds [`msg::Msg`]s to
//! [`update::update`], performs the [`Effect`]s it returns, and draws with `ui`.
//!
//! [`App`] is three parts, each in a file of its own: [`Live`] (the snapshot and its
//! history), [`Table`] (view, sort, rows, selection) and [`Modes`] (input mode, filter,
//! dialog, status line).

pub mod burst;
mod cells;
pub mod close;
pub mod columns;
pub mod detail;
pub mod dialog;
pub mod help;
pub mod keymap;
mod live;
mod modes;
pub mod msg;
mod rows;
mod sort;
mod table;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
pub mod text;
mod traffic;
pub mod update;
pub mod views;
pub mod watch;

pub use columns::{Col, ColSpec, Column, EventCol, PortCol, ProcCol};
pub use dialog::Dialog;
pub use live::{CollectInfo, Ghost, Live, Mark};
pub use modes::{Filter, LineEdit, Modes, Status, Until};
pub use table::{Sort, Table};
pub use traffic::PortConns;
pub use views::{RowId, View};
pub use watch::KillWatch;

use crate::model::{Sig, Socket};
use keymap::Keymap;
use ratatui::style::Color;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

/// Colours of the theme, by role. `NO_COLOR` replaces them all with `Reset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Theme {
    pub header: Color,
    pub title: Color,
    pub new: Color,
    pub changed: Color,
    pub closed: Color,
    pub selected_fg: Color,
    pub selected_bg: Color,
    pub error: Color,
    pub hint_key: Color,
    pub dim: Color,
    /// Flags that mean the holder is not doing its job: STOPPED, ZOMBIE, CLOSE-WAIT-LEAK.
    pub flag_bad: Color,
    /// Flags worth a look: ORPHAN, BACKLOG, HIDDEN, DOCKER-PROXY.
    pub flag_warn: Color,
    /// No colours at all: emphasis by bold/reverse only.
    pub mono: bool,
}

impl Theme {
    pub const KEYS: [&'static str; 12] = [
        "header",
        "title",
        "new",
        "changed",
        "closed",
        "selected_fg",
        "selected_bg",
        "error",
        "hint_key",
        "dim",
        "flag_bad",
        "flag_warn",
    ];

    pub fn plain() -> Theme {
        Theme {
            header: Color::Reset,
            title: Color::Reset,
            new: Color::Reset,
            changed: Color::Reset,
            closed: Color::Reset,
            selected_fg: Color::Reset,
            selected_bg: Color::Reset,
            error: Color::Reset,
            hint_key: Color::Reset,
            dim: Color::Reset,
            flag_bad: Color::Reset,
            flag_warn: Color::Reset,
            mono: true,
        }
    }

    /// Sets one role by its config name; false for an unknown name.
    pub fn set(&mut self, key: &str, c: Color) -> bool {
        let slot = match key {
            "header" => &mut self.header,
            "title" => &mut self.title,
            "new" => &mut self.new,
            "changed" => &mut self.changed,
            "closed" => &mut self.closed,
            "selected_fg" => &mut self.selected_fg,
            "selected_bg" => &mut self.selected_bg,
            "error" => &mut self.error,
            "hint_key" => &mut self.hint_key,
            "dim" => &mut self.dim,
            "flag_bad" => &mut self.flag_bad,
            "flag_warn" => &mut self.flag_warn,
            _ => return false,
        };
        *slot = c;
        self.mono = false;
        true
    }
}

/// What the app is configured with; fixed for a session.
#[derive(Clone, Debug)]
pub struct Settings {
    pub columns: Vec<Column>,
    pub ghost: Duration,
    pub theme: Theme,
    pub keymap: Keymap,
    pub host: String,
    /// The kernel's ephemeral port range: client ports, left out of the Ports view unless
    /// something listens there.
    pub ephemeral: RangeInclusive<u16>,
    /// Well-known port names for the Service column.
    pub services: Arc<crate::model::services::Services>,
}

/// A process to pin as a signal target, as the user saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pin {
    pub pid: u32,
    /// The start time seen; `None` takes the current process (a zombie's parent).
    pub start_ticks: Option<u64>,
    /// The socket inode it must hold; `None` for a zombie's parent.
    pub inode: Option<u64>,
}

/// What the runtime must do after an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Quit,
    SetInterval(Duration),
    Pause(bool),
    /// Have the collector read each TCP connection's `tcp_info` (a traffic column, the
    /// Processes view or a connection's detail pane is on screen), or stop: it costs.
    Traffic(bool),
    /// Pin these as signal targets.
    Pin(Vec<Pin>),
    /// Send to the pinned targets among these pids.
    Signal {
        sig: Sig,
        pids: Vec<u32>,
    },
    /// Read cwd and parent chain of a pid for the detail pane.
    Inspect(u32),
    /// Run the bind probe on a port (the after-signal verdict needs it).
    Probe(u16),
    /// Close exactly these sockets (SOCK_DESTROY, by tuple and cookie); for a port's
    /// TIME-WAITs, `port` asks for a bind probe afterwards.
    CloseSockets {
        sockets: Vec<Socket>,
        port: Option<u16>,
    },
    /// Ask the container engine to stop a container (by full id), off the event loop;
    /// [`msg::Msg::ContainerStopped`] answers.
    StopContainer {
        id: String,
        name: String,
    },
    /// Stop the process (SIGTSTP to ourselves, as a shell's Ctrl-Z would), after the
    /// terminal is handed back.
    Suspend,
}

/// The whole TUI state.
pub struct App {
    pub settings: Settings,
    pub live: Live,
    pub table: Table,
    pub modes: Modes,
}

impl App {
    pub fn new(settings: Settings, view: View, interval: Duration) -> App {
        App {
            settings,
            live: Live::default(),
            table: Table::new(view),
            modes: Modes::new(interval),
        }
    }

    /// Shows a message in the status line for a few seconds.
    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        self.modes.say(self.live.now, text, error);
        // A long line wraps: the table may have lost a row at its bottom.
        self.scroll_to_cursor();
    }

    /// A result the user must not miss: on the status line until the next key.
    pub fn say_until_key(&mut self, text: impl Into<String>, error: bool) {
        self.modes.say_until_key(text, error);
        self.scroll_to_cursor();
    }

    /// Work under way: on the status line until the line that says how it ended.
    pub fn say_until_replaced(&mut self, text: impl Into<String>) {
        self.modes.say_until_replaced(text);
        self.scroll_to_cursor();
    }

    pub fn sort(&self) -> Sort {
        self.table.sort()
    }

    /// The filter line's error as the footer shows it, while the line has one.
    pub fn filter_error(&self) -> Option<String> {
        let f = &self.modes.filter;
        let e = f.error.as_ref().filter(|_| f.edit.is_some())?;
        Some(format!("✗ {e} · the table shows the last valid filter"))
    }

    /// Rows that fit in the table area, from the same layout the UI draws.
    pub fn table_rows(&self) -> usize {
        usize::from(layout::table_body(self).height)
    }
}

/// The screen layout, shared by drawing and by mouse hit-testing.
pub mod layout {
    use super::App;
    use ratatui::layout::Rect;

    pub const HEADER: u16 = 3;
    pub const FOOTER: u16 = 1;
    pub const MIN_WIDTH: u16 = 40;
    pub const MIN_HEIGHT: u16 = 10;

    pub fn too_small(app: &App) -> bool {
        app.table.width < MIN_WIDTH || app.table.height < MIN_HEIGHT
    }

    /// The footer's height: one line, and while the filter line has an error, the
    /// error wrapped below it (at most three lines of it); a status line longer than
    /// the width wraps too (a result is never cut).
    pub fn footer_height(app: &App) -> u16 {
        let width = usize::from(app.table.width);
        let extra = match (&app.modes.filter.edit, &app.modes.status) {
            (Some(_), _) => app
                .filter_error()
                .map_or(0, |e| super::text::wrap(&e, width).len()),
            (None, Some(s)) => super::text::wrap(&s.text, width).len().saturating_sub(1),
            (None, None) => 0,
        };
        FOOTER + u16::try_from(extra.min(3)).unwrap_or(3)
    }

    /// Header, table, detail pane (empty unless open), footer. Plain arithmetic: this
    /// runs for every frame, every scroll and every click.
    fn areas(app: &App) -> [Rect; 4] {
        let (w, h) = (app.table.width, app.table.height);
        let header = Rect::new(0, 0, w, HEADER.min(h));
        let footer_h = footer_height(app).min(h.saturating_sub(header.height));
        let footer = Rect::new(0, h - footer_h, w, footer_h);
        let main_h = h - header.height - footer_h;
        let detail = if app.modes.detail.is_some() {
            (main_h * 45 / 100).max(6).min(main_h.saturating_sub(3))
        } else {
            0
        };
        let table = Rect::new(0, header.height, w, main_h - detail);
        let pane = Rect::new(0, table.y + table.height, w, detail);
        [header, table, pane, footer]
    }

    pub fn header(app: &App) -> Rect {
        areas(app)[0]
    }

    /// The table including its header line.
    pub fn table(app: &App) -> Rect {
        areas(app)[1]
    }

    /// The detail pane, when open.
    pub fn detail(app: &App) -> Rect {
        areas(app)[2]
    }

    /// The table's rows, below its header line.
    pub fn table_body(app: &App) -> Rect {
        let t = table(app);
        Rect {
            y: t.y + 1.min(t.height),
            height: t.height.saturating_sub(1),
            ..t
        }
    }

    pub fn footer(app: &App) -> Rect {
        areas(app)[3]
    }
}
