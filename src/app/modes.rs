//! What the user is doing: the input mode, the filter and its editor, the dialog, the
//! detail pane, the help, the status line, the port watched after a signal, pause and
//! the refresh interval.

use super::dialog::Dialog;
use super::keymap::Mode;
use super::watch::KillWatch;
use crate::model::process::Inspection;
use crate::query::{Query, QueryError};
use std::time::{Duration, SystemTime};

/// A message in the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
    /// When it goes; `None`: at the next key (a result the user must not miss).
    pub until: Option<SystemTime>,
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
    pub detail: bool,
    pub inspection: Option<Inspection>,
    pub help_scroll: usize,
    pub status: Option<Status>,
    pub watch: Option<KillWatch>,
    pub paused: bool,
    pub interval: Duration,
    pub quit: bool,
}

impl Modes {
    pub fn new(interval: Duration) -> Modes {
        Modes {
            mode: Mode::Normal,
            filter: Filter::default(),
            dialog: None,
            close: None,
            detail: false,
            inspection: None,
            help_scroll: 0,
            status: None,
            watch: None,
            paused: false,
            interval,
            quit: false,
        }
    }

    /// Shows a message in the status line for a few seconds from `now`.
    pub fn say(&mut self, now: SystemTime, text: impl Into<String>, error: bool) {
        let secs = if error { 8 } else { 5 };
        self.status = Some(Status {
            text: text.into(),
            error,
            until: Some(now + Duration::from_secs(secs)),
        });
    }

    /// Shows a message in the status line until the next key.
    pub fn say_until_key(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
            until: None,
        });
    }

    /// A key was pressed: a line shown until then goes, and a port judged after a signal
    /// is no longer followed.
    pub fn key_pressed(&mut self) {
        if self.status.as_ref().is_some_and(|s| s.until.is_none()) {
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
            .is_some_and(|s| s.until.is_some_and(|u| u <= now))
        {
            self.status = None;
            return true;
        }
        false
    }
}
