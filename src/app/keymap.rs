//! Key bindings as data: loaded from the config, looked up per mode, and listed by the
//! help overlay so that it can never disagree with what the keys do.

use super::msg::{Key, KeyCode};
use std::fmt;
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

/// Input modes with their own bindings; the config names them in lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Mode {
    Normal,
    /// The detail pane has the focus: the arrows scroll it.
    Detail,
    Filter,
    /// The sort menu (F6): the visible columns.
    Sort,
    Dialog,
    Help,
}

impl Mode {
    pub fn all() -> impl Iterator<Item = Mode> {
        Mode::iter()
    }
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The help overlay's title of this mode's section.
    pub fn title(self) -> &'static str {
        match self {
            Mode::Normal => "Keys",
            Mode::Detail => "In the detail pane (Enter focuses it; other keys act as in the table)",
            Mode::Filter => "While typing a filter (/)",
            Mode::Sort => "In the sort menu (F6)",
            Mode::Dialog => "In the signal and close dialogs (k, x)",
            Mode::Help => "In this help",
        }
    }
}

macro_rules! actions {
    ($($variant:ident = $name:literal),* $(,)?) => {
        /// What a key does.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Action { $($variant),* }
        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }
            pub fn parse(s: &str) -> Option<Action> {
                match s { $($name => Some(Action::$variant),)* _ => None }
            }
        }
    };
}

actions! {
    Quit = "quit", Help = "help", Down = "down", Up = "up", PageDown = "page_down",
    PageUp = "page_up", First = "first", Last = "last", ViewSockets = "view_sockets",
    ViewListeners = "view_listeners", ViewPorts = "view_ports",
    ViewProcesses = "view_processes", ViewEvents = "view_events", NextView = "next_view",
    PrevView = "prev_view", SortNext = "sort_next", SortReverse = "sort_reverse",
    Filter = "filter", ListenersOnly = "listeners_only", ToggleTimeWait = "toggle_timewait",
    FilterPort = "filter_port", FilterState = "filter_state", FilterProcess = "filter_process",
    Clear = "clear", Detail = "detail", Kill = "kill", KillHard = "kill_hard", Pause = "pause",
    Slower = "slower", Faster = "faster", ToggleGhosts = "toggle_ghosts", Suspend = "suspend",
    Apply = "apply", Cancel = "cancel", ClearLine = "clear_line", DeleteWord = "delete_word",
    CursorLeft = "cursor_left", CursorRight = "cursor_right", LineStart = "line_start",
    LineEnd = "line_end", DeleteBack = "delete_back", DeleteForward = "delete_forward",
    Confirm = "confirm", Press = "press", Focus = "focus", NextTarget = "next_target",
    Signal1 = "signal_1", Signal2 = "signal_2", Signal3 = "signal_3", Signal4 = "signal_4",
    Signal5 = "signal_5", Signal6 = "signal_6", Signal7 = "signal_7", Signal8 = "signal_8",
    Signal9 = "signal_9", Close = "close", CloseSocket = "close_socket",
    SortMenu = "sort_menu", FocusTable = "focus_table", ToggleTraffic = "toggle_traffic",
}

impl Action {
    /// The menu position a `signal_N` action picks (0-based).
    pub fn signal_index(self) -> Option<usize> {
        const PICKS: [Action; 9] = [
            Action::Signal1,
            Action::Signal2,
            Action::Signal3,
            Action::Signal4,
            Action::Signal5,
            Action::Signal6,
            Action::Signal7,
            Action::Signal8,
            Action::Signal9,
        ];
        PICKS.iter().position(|a| *a == self)
    }
}

/// One binding: key, action, and the sentence the help overlay shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub key: Key,
    pub action: Action,
    pub desc: String,
}

/// Bindings of every mode; earlier bindings win.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Keymap {
    pub normal: Vec<Binding>,
    pub detail: Vec<Binding>,
    pub filter: Vec<Binding>,
    pub sort: Vec<Binding>,
    pub dialog: Vec<Binding>,
    pub help: Vec<Binding>,
}

impl Keymap {
    pub fn mode(&self, mode: Mode) -> &[Binding] {
        match mode {
            Mode::Normal => &self.normal,
            Mode::Detail => &self.detail,
            Mode::Filter => &self.filter,
            Mode::Sort => &self.sort,
            Mode::Dialog => &self.dialog,
            Mode::Help => &self.help,
        }
    }

    pub fn mode_mut(&mut self, mode: Mode) -> &mut Vec<Binding> {
        match mode {
            Mode::Normal => &mut self.normal,
            Mode::Detail => &mut self.detail,
            Mode::Filter => &mut self.filter,
            Mode::Sort => &mut self.sort,
            Mode::Dialog => &mut self.dialog,
            Mode::Help => &mut self.help,
        }
    }

    pub fn lookup(&self, mode: Mode, key: Key) -> Option<Action> {
        self.mode(mode)
            .iter()
            .find(|b| b.key == key)
            .map(|b| b.action)
    }

    /// The first key bound to an action, for hints ("? help").
    pub fn key_for(&self, mode: Mode, action: Action) -> Option<Key> {
        self.mode(mode)
            .iter()
            .find(|b| b.action == action)
            .map(|b| b.key)
    }
}

/// Parses a key name as written in the config: `q`, `K`, `ctrl-c`, `enter`, `pageup`, …
pub fn parse_key(s: &str) -> Option<Key> {
    let mut ctrl = false;
    let mut alt = false;
    let mut rest = s;
    loop {
        let lower = rest.to_ascii_lowercase();
        if rest.chars().count() > 2 && lower.starts_with("ctrl-") {
            ctrl = true;
            rest = &rest[5..];
        } else if rest.chars().count() > 2 && lower.starts_with("alt-") {
            alt = true;
            rest = &rest[4..];
        } else {
            break;
        }
    }
    let code = match rest.to_ascii_lowercase().as_str() {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" | "shift-tab" => KeyCode::BackTab,
        "backspace" => KeyCode::Backspace,
        "delete" | "del" => KeyCode::Delete,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "space" => KeyCode::Char(' '),
        f if f.len() > 1 && f.starts_with('f') && f[1..].bytes().all(|b| b.is_ascii_digit()) => {
            match f[1..].parse::<u8>() {
                Ok(n @ 1..=12) => KeyCode::F(n),
                _ => return None,
            }
        }
        _ => {
            let mut chars = rest.chars();
            let c = chars.next()?;
            if chars.next().is_some() {
                return None;
            }
            KeyCode::Char(if ctrl { c.to_ascii_lowercase() } else { c })
        }
    };
    Some(Key { code, ctrl, alt })
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        if self.ctrl {
            s.push_str("Ctrl-");
        }
        if self.alt {
            s.push_str("Alt-");
        }
        match self.code {
            KeyCode::Char(' ') => s.push_str("Space"),
            KeyCode::Char(c) => s.push(c),
            KeyCode::Enter => s.push_str("Enter"),
            KeyCode::Esc => s.push_str("Esc"),
            KeyCode::Tab => s.push_str("Tab"),
            KeyCode::BackTab => s.push_str("S-Tab"),
            KeyCode::Backspace => s.push_str("Bksp"),
            KeyCode::Delete => s.push_str("Del"),
            KeyCode::Up => s.push('↑'),
            KeyCode::Down => s.push('↓'),
            KeyCode::Left => s.push('←'),
            KeyCode::Right => s.push('→'),
            KeyCode::PageUp => s.push_str("PgUp"),
            KeyCode::PageDown => s.push_str("PgDn"),
            KeyCode::Home => s.push_str("Home"),
            KeyCode::End => s.push_str("End"),
            KeyCode::F(n) => s.push_str(&format!("F{n}")),
        }
        f.pad(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_parse() {
        assert_eq!(parse_key("q"), Some(Key::char('q')));
        assert_eq!(parse_key("K"), Some(Key::char('K')));
        assert_eq!(parse_key("ctrl-c"), Some(Key::ctrl('c')));
        assert_eq!(parse_key("Ctrl-C"), Some(Key::ctrl('c')));
        assert_eq!(parse_key("enter"), Some(Key::plain(KeyCode::Enter)));
        assert_eq!(parse_key("space"), Some(Key::char(' ')));
        assert_eq!(parse_key("-"), Some(Key::char('-')));
        assert_eq!(parse_key("f1"), Some(Key::plain(KeyCode::F(1))));
        assert_eq!(parse_key("F10"), Some(Key::plain(KeyCode::F(10))));
        assert_eq!(parse_key("f13"), None);
        assert_eq!(parse_key("f0"), None);
        assert_eq!(Key::plain(KeyCode::F(9)).to_string(), "F9");
        assert_eq!(parse_key("f"), Some(Key::char('f')));
        assert_eq!(parse_key("nonsense"), None);
        assert_eq!(parse_key(""), None);
    }

    #[test]
    fn action_names_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.name()), Some(*a));
        }
    }
}
