//! The help overlay's content, generated from the keymap so it always tells the truth:
//! every key of every mode, the mouse, what the colours mean, and the filter terms, each
//! wrapped to the overlay's width. Built here, so that its length bounds the scroll
//! (`End`, then `↑`, moves at once); `ui` only draws it.

use super::App;
use super::keymap::Mode;
use super::text::wrap;

/// How a piece of a help line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Title,
    Key,
    Text,
    Dim,
    /// Said in the colour it explains.
    New,
    Changed,
    Closed,
    FlagBad,
    FlagWarn,
}

/// One line of the help: pieces of text, each with its role.
pub type HelpLine = Vec<(String, Role)>;

/// The filter terms, one group a line (wrapped when narrow).
const TERMS: [&str; 8] = [
    ":3000 port:80,443 port:3000-3999 lport:… rport:…",
    "addr:10.0.0.5 addr:[::1]:8080 laddr:… raddr:… (whole addresses)",
    "state:listen,tw proto:udp tcp udp v4 v6 netns:NAME",
    "pid:123 proc:node user:alice inode:81234",
    "flag:stopped flag:orphan flag:zombie flag:backlog flag:close-wait-leak flag:docker-proxy flag:hidden",
    "closed:any closed:short closed:seen (Events view, watch: connections that closed)",
    "!term negates a term",
    "bare words match process names, command lines and addresses",
];

const MOUSE: [(&str, &str); 5] = [
    (
        "wheel",
        "scrolls the table, or the detail pane when it has the focus",
    ),
    (
        "click a row",
        "selects it (the detail pane, when open, shows it)",
    ),
    ("click a header", "sorts by that column; again: reverses"),
    ("click a tab", "switches to that view"),
    ("click the pane", "gives the detail pane the focus"),
];

const COLOURS: [(&str, Role, &str); 5] = [
    ("green", Role::New, "a new socket (for a few seconds)"),
    (
        "yellow",
        Role::Changed,
        "its state changed (for a few seconds)",
    ),
    (
        "red, struck",
        Role::Closed,
        "closed: stays a few seconds (g hides them)",
    ),
    (
        "red flag",
        Role::FlagBad,
        "STOPPED, ZOMBIE, CLOSE-WAIT-LEAK: the holder is not doing its job",
    ),
    (
        "yellow flag",
        Role::FlagWarn,
        "ORPHAN, BACKLOG, HIDDEN, DOCKER-PROXY: worth a look",
    ),
];

/// The overlay in a `w`×`h` screen: its width, the width inside its frame, and the rows
/// of text it shows.
pub fn geometry(w: u16, h: u16) -> (u16, usize, usize) {
    let width = w.saturating_sub(4).min(100);
    let inner = usize::from(width.saturating_sub(2));
    let rows = usize::from(h.saturating_sub(4));
    (width, inner, rows)
}

impl App {
    /// Every line of the help, as wide as the overlay on this screen.
    pub fn help_lines(&self) -> Vec<HelpLine> {
        let (_, inner, _) = geometry(self.table.width, self.table.height);
        let mut sections: Vec<(&str, Vec<(String, String)>)> = Vec::new();
        for mode in Mode::all() {
            // One line per description, all its keys together.
            let mut seen: Vec<(String, String)> = Vec::new();
            for b in self.settings.keymap.mode(mode) {
                if let Some(entry) = seen.iter_mut().find(|(_, d)| *d == b.desc) {
                    entry.0.push_str(&format!(" {}", b.key));
                } else {
                    seen.push((b.key.to_string(), b.desc.clone()));
                }
            }
            sections.push((mode.title(), seen));
        }
        let mouse = MOUSE
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()));
        sections.push(("Mouse", mouse.collect()));
        // The key column: as wide as the widest keys, up to 14 (wider keys take a line
        // of their own), and always two spaces before the description.
        let keys = sections
            .iter()
            .flat_map(|(_, s)| s.iter().map(|(k, _)| k.chars().count()))
            .max()
            .unwrap_or(0)
            .min(14);
        let mut out = Vec::new();
        for (title, entries) in sections {
            out.push(vec![(title.to_owned(), Role::Title)]);
            for (k, desc) in entries {
                entry(&mut out, (&k, Role::Key), &desc, keys, inner);
            }
            out.push(Vec::new());
        }
        out.push(vec![("Colours".to_owned(), Role::Title)]);
        for (name, role, means) in COLOURS {
            entry(&mut out, (name, role), means, keys, inner);
        }
        out.push(Vec::new());
        out.push(vec![(
            "Filter terms (all must match)".to_owned(),
            Role::Title,
        )]);
        for t in TERMS {
            for l in wrap(t, inner.saturating_sub(2)) {
                out.push(vec![(format!("  {l}"), Role::Dim)]);
            }
        }
        out
    }

    /// How far the help scrolls: its last line at the bottom of the overlay.
    pub fn help_max_scroll(&self) -> usize {
        let (_, _, rows) = geometry(self.table.width, self.table.height);
        self.help_lines().len().saturating_sub(rows)
    }
}

/// `  keys  description`, the description wrapped under itself; keys wider than the
/// column take a line of their own.
fn entry(out: &mut Vec<HelpLine>, key: (&str, Role), desc: &str, keys: usize, inner: usize) {
    let (k, role) = key;
    let room = inner.saturating_sub(keys + 4).max(10);
    let indent = " ".repeat(keys + 4);
    let mut parts = wrap(desc, room).into_iter();
    if k.chars().count() > keys {
        out.push(vec![(format!("  {k}"), role)]);
    } else if let Some(first) = parts.next() {
        out.push(vec![
            ("  ".to_owned(), Role::Text),
            (format!("{k:<keys$}"), role),
            ("  ".to_owned(), Role::Text),
            (first, Role::Text),
        ]);
    }
    for p in parts {
        out.push(vec![(format!("{indent}{p}"), Role::Text)]);
    }
}
