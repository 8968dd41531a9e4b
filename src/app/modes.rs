//! What the user is doing: the input mode, the filter and its editor, the dialog, the
//! detail pane, the help, the status line, the port watched after a signal, pause and
//! the refresh interval.

use super::dialog::Dialog;
use super::keymap::Mode;
use super::watch::KillWatch;
use crate::model::process::Inspection;
use crate::query::{Query, QueryError};
use std::time::{Duration, SystemTime};

/// When a status line goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// At this time (a passing remark).
    At(SystemTime),
    /// At the next key: a result the user must not miss.
    NextKey,
    /// When the next line replaces it: work under way ("asking Docker to stop…").
    Replaced,
}

/// A message in the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
    pub until: Until,
}

/// The `/` line while it is being edited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineEdit {
    pub text: String,
    /// Cursor position in chars.
    pub cursor: usize,
}

/// The active filter: the text, its parsed form, and while editing, the line being typed
/// and its error. Only lines that parse whole are applied as you type.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub text: String,
    pub query: Query,
    pub edit: Option<LineEdit>,
    pub error: Option<QueryError>,
    /// The filter from before `/` was pressed: Esc puts it back.
    pub before: Option<(String, Query)>,
}

/// Modes and transient state.
pub struct Modes {
    pub mode: Mode,
    pub filter: Filter,
    pub dialog: Option<Dialog>,
    /// The close dialog (`x`); shares the dialog mode and its keys.
    pub close: Option<super::close::CloseDialog>,
    /// The detail pane, when open.
    pub detail: Option<super::detail::Pane>,
    /// The sort menu (F6), when open: the chosen entry of the columns on screen.
    pub sort_menu: Option<usize>,
    pub inspection: Option<Inspection>,
    pub help_scroll: usize,
    pub status: Option<Status>,
    pub watch: Option<KillWatch>,
    pub paused: bool,
    pub interval: Duration,
    pub quit: bool,
    /// What the collector was last told about `tcp_info` (off when it starts).
    pub traffic: bool,
}

impl Modes {
    pub fn new(interval: Duration) -> Modes {
        Modes {
            mode: Mode::Normal,
            filter: Filter::default(),
            dialog: None,
            close: None,
            detail: None,
            sort_menu: None,
            inspection: None,
            help_scroll: 0,
            status: None,
            watch: None,
            paused: false,
            interval,
            quit: false,
            traffic: false,
        }
    }

    /// Shows a message in the status line for a few seconds from `now`.
    pub fn say(&mut self, now: SystemTime, text: impl Into<String>, error: bool) {
        let secs = if error { 8 } else { 5 };
        self.status = Some(Status {
            text: text.into(),
            error,
            until: Until::At(now + Duration::from_secs(secs)),
        });
    }

    /// Shows work under way until the line that says how it ended replaces it.
    pub fn say_until_replaced(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
            until: Until::Replaced,
        });
    }

    /// The mode keys go back to when an overlay, the filter line or a menu closes: the
    /// detail pane's when it has the focus, else the table's.
    pub fn rest_mode(&self) -> Mode {
        if self.detail.as_ref().is_some_and(|d| d.focus) {
            Mode::Detail
        } else {
            Mode::Normal
        }
    }

    /// Closes whatever overlay or line is open and goes back to [`Modes::rest_mode`].
    pub fn back_to_rest(&mut self) {
        self.mode = self.rest_mode();
    }

    /// Shows a message in the status line until the next key.
    pub fn say_until_key(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
            until: Until::NextKey,
        });
    }

    /// A key was pressed: a line shown until then goes, and a port judged after a signal
    /// is no longer followed.
    pub fn key_pressed(&mut self) {
        if self
            .status
            .as_ref()
            .is_some_and(|s| s.until == Until::NextKey)
        {
            self.status = None;
        }
        if self.watch.as_ref().is_some_and(KillWatch::judged) {
            self.watch = None;
        }
    }

    /// Clears an expired status line; true when it went.
    pub fn expire(&mut self, now: SystemTime) -> bool {
        if self
            .status
            .as_ref()
            .is_some_and(|s| matches!(s.until, Until::At(u) if u <= now))
        {
            self.status = None;
            return true;
        }
        false
    }
}
