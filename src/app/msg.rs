//! Everything that can happen to the TUI, as plain values: the runtime turns terminal
//! events, snapshots and signal results into these; `update` consumes them.

pub use crate::model::Collected;
use crate::model::{Refusal, Sent, Sig};
use std::time::SystemTime;

/// A key, independent of the terminal library.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
    pub alt: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyCode {
    Char(char),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Home,
    End,
    /// A function key, F1 to F12.
    F(u8),
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key {
            code,
            ctrl: false,
            alt: false,
        }
    }
    pub const fn char(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }
    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
            alt: false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MouseKind {
    /// Left button pressed at a cell.
    Click {
        column: u16,
        row: u16,
    },
    ScrollUp,
    ScrollDown,
}

#[derive(Clone, Debug)]
pub enum Msg {
    Key(Key),
    Mouse(MouseKind),
    Resize {
        width: u16,
        height: u16,
    },
    Snapshot(Box<Collected>),
    /// A snapshot failed; the previous one stays on screen.
    CollectFailed(std::sync::Arc<dyn std::error::Error + Send + Sync>),
    /// The dialog's targets were pinned (or refused) by the runtime.
    Pinned(Vec<(u32, Result<(), Refusal>)>),
    SignalResult {
        sig: Sig,
        results: Vec<(u32, Result<Sent, Refusal>)>,
    },
    /// The bind probe of a port, asked for by [`super::Effect::Probe`].
    Probed {
        port: u16,
        probe: crate::diagnose::Probe,
    },
    /// The runtime answered [`super::Effect::CloseSockets`].
    SocketsClosed {
        port: Option<u16>,
        result: super::close::Closed,
    },
    /// The engine answered [`super::Effect::StopContainer`]: stopped, with the exit code
    /// when the engine told it (137: it had to KILL after the grace time), or why not.
    ContainerStopped {
        name: String,
        result: Result<Option<i64>, String>,
    },
    /// Facts about a process that only the OS knows (cwd, parent chain), for the detail pane.
    Inspected(Box<crate::model::process::Inspection>),
    Tick(SystemTime),
}
