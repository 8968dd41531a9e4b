//! TUI state and its update: no I/O. The runtime feeds [`msg::Msg`]s to
//! [`update::update`], performs the [`Effect`]s it returns, and draws with `ui`.

mod cells;
pub mod dialog;
pub mod keymap;
pub mod msg;
mod rows;
#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;
pub mod update;
pub mod views;

pub use dialog::{Dialog, KillWatch};
pub use views::{Column, RowId, View};

use crate::model::Sig;
use crate::model::process::Inspection;
use crate::model::{EventLog, Scope, Snapshot, Socket, SocketKey};
use crate::query::{Query, QueryError};
use keymap::{Keymap, Mode};
use ratatui::style::Color;
use std::collections::HashMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
    /// No colours at all: emphasis by bold/reverse only.
    pub mono: bool,
}

impl Theme {
    pub const KEYS: [&'static str; 10] = [
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

/// Highlight of a row that changed recently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    New,
    Changed,
}

/// A closed socket kept on screen (in red) for a few seconds.
#[derive(Clone, Debug)]
pub struct Ghost {
    pub socket: Socket,
    pub until: SystemTime,
}

/// A message in the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
    pub until: SystemTime,
}

/// The `/` line while it is being edited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineEdit {
    pub text: String,
    /// Cursor position in chars.
    pub cursor: usize,
}

/// The active filter: the text, its parsed form, and the error of the text being typed.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub text: String,
    pub query: Query,
    pub edit: Option<LineEdit>,
    pub error: Option<QueryError>,
}

/// Sort of one view: column index into that view's columns, and direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: usize,
    pub descending: bool,
}

/// Collector health for the status bar.
#[derive(Clone, Debug, Default)]
pub struct CollectInfo {
    pub took: Duration,
    pub overruns: u64,
    pub error: Option<std::sync::Arc<crate::error::Error>>,
    pub snapshots: u64,
}

/// What the runtime must do after an update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    Quit,
    SetInterval(Duration),
    SetScope(Scope),
    Pause(bool),
    /// Pin these as signal targets: (pid, start ticks seen — `None` takes the current
    /// process —, the socket inode it must hold).
    Pin(Vec<(u32, Option<u64>, Option<u64>)>),
    /// Send to the pinned targets among these pids.
    Signal {
        sig: Sig,
        pids: Vec<u32>,
    },
    /// Read cwd and parent chain of a pid for the detail pane.
    Inspect(u32),
    /// Run the bind probe on a port (the after-signal verdict needs it).
    Probe(u16),
}

/// The whole TUI state.
pub struct App {
    pub settings: Settings,
    pub snap: Arc<Snapshot>,
    pub view: View,
    pub sorts: [Sort; View::ALL.len()],
    pub filter: Filter,
    pub hide_time_wait: bool,
    pub mode: Mode,
    pub dialog: Option<Dialog>,
    pub detail: bool,
    pub inspection: Option<Inspection>,
    pub paused: bool,
    pub interval: Duration,
    pub now: SystemTime,
    pub first_seen: HashMap<SocketKey, SystemTime>,
    pub marks: HashMap<SocketKey, (Mark, SystemTime)>,
    pub ghosts: Vec<Ghost>,
    pub events: EventLog,
    /// Diagnosis flags of each socket of `snap`, same order.
    pub flags: Vec<crate::model::Flags>,
    pub close_waits: crate::diagnose::CloseWaitTracker,
    pub status: Option<Status>,
    pub collect: CollectInfo,
    pub watch: Option<KillWatch>,
    /// Visible rows of the current view, filtered and sorted.
    pub rows: Vec<RowId>,
    pub ports: Vec<views::PortRow>,
    pub procs: Vec<views::ProcRow>,
    /// Index into `rows` of the selection, and what it points at.
    pub cursor: usize,
    pub selected: Option<views::Selected>,
    /// First row shown.
    pub offset: usize,
    pub width: u16,
    pub height: u16,
    pub help_scroll: usize,
    pub quit: bool,
}

impl App {
    pub fn new(settings: Settings, view: View, interval: Duration) -> App {
        App {
            settings,
            snap: Arc::new(Snapshot::empty(view.scope())),
            view,
            sorts: View::ALL.map(View::default_sort),
            filter: Filter::default(),
            hide_time_wait: false,
            mode: Mode::Normal,
            dialog: None,
            detail: false,
            inspection: None,
            paused: false,
            interval,
            now: SystemTime::UNIX_EPOCH,
            first_seen: HashMap::new(),
            marks: HashMap::new(),
            ghosts: Vec::new(),
            events: EventLog::default(),
            flags: Vec::new(),
            close_waits: crate::diagnose::CloseWaitTracker::default(),
            status: None,
            collect: CollectInfo::default(),
            watch: None,
            rows: Vec::new(),
            ports: Vec::new(),
            procs: Vec::new(),
            cursor: 0,
            selected: None,
            offset: 0,
            width: 80,
            height: 24,
            help_scroll: 0,
            quit: false,
        }
    }

    /// The scope the collector should dump for what is on screen: listeners only when
    /// nothing else is needed, which spares the kernel the established table.
    pub fn scope(&self) -> Scope {
        if self.view == View::Listeners && self.watch.is_none() {
            Scope::Listeners
        } else {
            Scope::All
        }
    }

    /// Shows a message in the status line for a few seconds.
    pub fn say(&mut self, text: impl Into<String>, error: bool) {
        let secs = if error { 8 } else { 5 };
        self.status = Some(Status {
            text: text.into(),
            error,
            until: self.now + Duration::from_secs(secs),
        });
    }

    pub fn sort(&self) -> Sort {
        self.sorts[self.view.index()]
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
        app.width < MIN_WIDTH || app.height < MIN_HEIGHT
    }

    fn main(app: &App) -> Rect {
        Rect {
            x: 0,
            y: HEADER,
            width: app.width,
            height: app.height.saturating_sub(HEADER + FOOTER),
        }
    }

    /// The table including its header line.
    pub fn table(app: &App) -> Rect {
        let m = main(app);
        if app.detail {
            let detail = (m.height * 45 / 100).max(6).min(m.height.saturating_sub(3));
            Rect {
                height: m.height - detail,
                ..m
            }
        } else {
            m
        }
    }

    /// The detail pane, when open.
    pub fn detail(app: &App) -> Rect {
        let m = main(app);
        let t = table(app);
        Rect {
            y: t.y + t.height,
            height: m.height - t.height,
            ..m
        }
    }

    /// The table's rows, below its header line.
    pub fn table_body(app: &App) -> Rect {
        let t = table(app);
        Rect {
            y: t.y + 1,
            height: t.height.saturating_sub(1),
            ..t
        }
    }

    pub fn footer(app: &App) -> Rect {
        Rect {
            x: 0,
            y: app.height.saturating_sub(FOOTER),
            width: app.width,
            height: FOOTER.min(app.height),
        }
    }
}
