//! Configuration: the compiled-in `assets/default-config.toml`, overridden by the user's
//! file. A bad file is one error naming the file, the line, and what is wrong.

use crate::app::keymap::{Action, Binding, Keymap, Mode, parse_key};
use crate::app::{Column, Theme, View};
use crate::model::sanitize::quote;
use crate::model::time::{check_interval, parse_duration};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

pub const DEFAULT_TOML: &str = include_str!("../assets/default-config.toml");
/// A config file larger than this is refused (`--config /dev/zero` must not hang).
pub const MAX_BYTES: u64 = 1 << 20;

/// Everything the TUI takes from configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub interval: Duration,
    pub view: View,
    pub columns: Vec<Column>,
    pub ghost: Duration,
    pub theme: Theme,
    pub keymap: Keymap,
    /// The CPU budget of collection, a share of one core.
    pub budget: crate::model::Budget,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad config {path}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: String,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Raw {
    general: Option<RawGeneral>,
    theme: Option<BTreeMap<String, Spanned<String>>>,
    keymap: Option<BTreeMap<String, Spanned<Vec<RawBinding>>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawGeneral {
    interval: Option<Spanned<String>>,
    view: Option<Spanned<String>>,
    columns: Option<Spanned<Vec<String>>>,
    ghost_seconds: Option<Spanned<u64>>,
    budget: Option<Spanned<RawBudget>>,
}

/// `budget = "10%"`, `budget = 10`, `budget = 2.5` or `budget = "off"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawBudget {
    Text(String),
    Whole(i64),
    Share(f64),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    on: Spanned<String>,
    action: Spanned<String>,
    desc: Option<String>,
}

/// Where the user's file is looked for: `$XDG_CONFIG_HOME/sockscope/config.toml`, else
/// `~/.config/sockscope/config.toml`.
pub fn user_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("sockscope").join("config.toml"))
}

/// Loads the defaults and then `path` (or the user's file if it exists).
pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
    let mut config = parse(DEFAULT_TOML, "built-in defaults", None)?;
    let (path, required) = match path {
        Some(p) => (Some(p.to_path_buf()), true),
        None => (user_path(), false),
    };
    if let Some(path) = path {
        // The user names this file (or its place, through XDG_CONFIG_HOME or HOME): it is
        // read with the user's own rights, never with capabilities sockscope was given.
        let read = crate::caps::as_user(|| {
            let r = read_capped(&path);
            let unreachable = path.parent().is_some_and(|d| std::fs::metadata(d).is_err());
            Ok((r, unreachable))
        });
        let (read, unreachable) = read.unwrap_or_else(|e| (Err(e), false));
        match read {
            Ok(text) => config = parse(&text, &path.display().to_string(), Some(config))?,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {}
            // The default place is behind a directory we may not enter (HOME of another
            // user, e.g. under sudo or setpriv): there is no config of ours to read.
            Err(e)
                if !required && e.kind() == std::io::ErrorKind::PermissionDenied && unreachable => {
            }
            Err(e) => {
                return Err(ConfigError {
                    path: path.display().to_string(),
                    line: None,
                    message: format!("{e} (check --config)"),
                });
            }
        }
    }
    Ok(config)
}

/// Reads at most [`MAX_BYTES`] (plus one, to tell a file that is too big).
fn read_capped(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    file.take(MAX_BYTES + 1).read_to_end(&mut buf)?;
    if buf.len() as u64 > MAX_BYTES {
        return Err(std::io::Error::other(
            "larger than 1 MiB: not a config file",
        ));
    }
    String::from_utf8(buf).map_err(|_| std::io::Error::other("not UTF-8 text: not a config file"))
}

/// Where a config error is: the file and its text, to turn a byte span into a line.
struct Place<'a> {
    text: &'a str,
    path: &'a str,
}

impl Place<'_> {
    fn err(&self, span: Option<std::ops::Range<usize>>, message: String) -> ConfigError {
        let line_of = |offset: usize| {
            self.text[..offset.min(self.text.len())]
                .matches('\n')
                .count()
                + 1
        };
        ConfigError {
            path: self.path.to_owned(),
            line: span.map(|s| line_of(s.start)),
            message,
        }
    }
}

/// Parses one file on top of `base` (or from nothing, for the defaults).
pub fn parse(text: &str, path: &str, base: Option<Config>) -> Result<Config, ConfigError> {
    let at = Place { text, path };
    let raw: Raw = toml::from_str(text).map_err(|e| {
        at.err(
            e.span(),
            crate::model::sanitize::sanitize_capped(e.message(), 240),
        )
    })?;
    let mut c = base.unwrap_or_else(|| Config {
        interval: Duration::from_secs(1),
        view: View::Listeners,
        columns: Column::all().collect(),
        ghost: Duration::from_secs(3),
        theme: Theme::plain(),
        keymap: Keymap::default(),
        budget: crate::model::Budget::default(),
    });
    general(&mut c, raw.general.unwrap_or_default(), &at)?;
    theme(&mut c, raw.theme.unwrap_or_default(), &at)?;
    keymap(&mut c, raw.keymap.unwrap_or_default(), &at)?;
    Ok(c)
}

fn general(c: &mut Config, g: RawGeneral, at: &Place<'_>) -> Result<(), ConfigError> {
    if let Some(v) = g.interval {
        let d = parse_duration(v.get_ref()).map_err(|m| at.err(Some(v.span()), m))?;
        c.interval = check_interval(d).map_err(|m| at.err(Some(v.span()), m))?;
    }
    if let Some(v) = g.view {
        c.view = View::parse(v.get_ref()).ok_or_else(|| {
            at.err(
                Some(v.span()),
                format!(
                    "unknown view `{}` (sockets, listeners, ports, processes, events)",
                    quote(v.get_ref())
                ),
            )
        })?;
    }
    if let Some(v) = g.columns {
        let mut cols = Vec::new();
        for name in v.get_ref() {
            cols.push(Column::parse(name).ok_or_else(|| {
                let names: Vec<&str> = Column::names().collect();
                at.err(
                    Some(v.span()),
                    format!(
                        "unknown column `{}` (one of: {})",
                        quote(name),
                        names.join(", ")
                    ),
                )
            })?);
        }
        if cols.is_empty() {
            return Err(at.err(
                Some(v.span()),
                "columns must name at least one column".into(),
            ));
        }
        c.columns = cols;
    }
    if let Some(v) = g.ghost_seconds {
        c.ghost = Duration::from_secs(*v.get_ref().min(&60));
    }
    if let Some(v) = g.budget {
        let parsed = match v.get_ref() {
            RawBudget::Text(t) => crate::model::Budget::parse(t),
            RawBudget::Whole(n) => crate::model::Budget::parse(&n.to_string()),
            RawBudget::Share(x) => crate::model::Budget::from_percent(*x).ok_or_else(|| {
                format!("`{x}` is not a CPU budget: give a share of one core from 0.1% to 100% (e.g. 10%), or off")
            }),
        };
        c.budget = parsed.map_err(|m| at.err(Some(v.span()), m))?;
    }
    Ok(())
}

fn theme(
    c: &mut Config,
    colours: BTreeMap<String, Spanned<String>>,
    at: &Place<'_>,
) -> Result<(), ConfigError> {
    for (name, value) in colours {
        let color = value
            .get_ref()
            .parse::<ratatui::style::Color>()
            .map_err(|_| {
                at.err(
                    Some(value.span()),
                    format!("`{}` is not a colour", quote(value.get_ref())),
                )
            })?;
        if !c.theme.set(&name, color) {
            return Err(at.err(
                Some(value.span()),
                format!(
                    "unknown theme key `{}` (one of: {})",
                    quote(&name),
                    Theme::KEYS.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn keymap(
    c: &mut Config,
    modes: BTreeMap<String, Spanned<Vec<RawBinding>>>,
    at: &Place<'_>,
) -> Result<(), ConfigError> {
    for (mode_name, bindings) in modes {
        let mode = Mode::all().find(|m| m.name() == mode_name).ok_or_else(|| {
            let modes: Vec<&str> = Mode::all().map(Mode::name).collect();
            at.err(
                Some(bindings.span()),
                format!(
                    "unknown keymap mode `{}` ({})",
                    quote(&mode_name),
                    modes.join(", ")
                ),
            )
        })?;
        let mut parsed = Vec::new();
        for b in bindings.into_inner() {
            let key = parse_key(b.on.get_ref()).ok_or_else(|| {
                at.err(
                    Some(b.on.span()),
                    format!("unknown key `{}`", quote(b.on.get_ref())),
                )
            })?;
            let action = Action::parse(b.action.get_ref()).ok_or_else(|| {
                at.err(
                    Some(b.action.span()),
                    format!("unknown action `{}`", quote(b.action.get_ref())),
                )
            })?;
            parsed.push(Binding {
                key,
                action,
                desc: b.desc.unwrap_or_else(|| action.name().replace('_', " ")),
            });
        }
        // The user's bindings come first so they win; the defaults stay for the rest.
        let list = c.keymap.mode_mut(mode);
        parsed.append(list);
        *list = parsed;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::msg::Key;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]
        /// Any file: a config, or one error that names the file.
        #[test]
        fn any_file_is_a_config_or_one_clear_error(t in "\\PC{0,200}") {
            if let Err(e) = parse(&t, "x.toml", None) {
                let msg = e.to_string();
                prop_assert!(msg.contains("x.toml"), "{}", msg);
                prop_assert!(!msg.contains('\n'), "one line: {}", msg);
            }
        }

        /// TOML-shaped input with our keys and any values.
        #[test]
        fn our_keys_with_any_values(key in "(interval|view|ghost|columns|theme)", v in "\\PC{0,30}") {
            let t = format!("{key} = {v}\n");
            if let Err(e) = parse(&t, "x.toml", None) {
                prop_assert!(!e.to_string().contains('\n'));
            }
        }
    }

    #[test]
    fn defaults_load() {
        let c = load(Some(Path::new("/dev/null"))).unwrap();
        assert_eq!(c.interval, Duration::from_secs(1));
        assert_eq!(c.view, View::Listeners);
        assert_eq!(
            c.keymap.lookup(Mode::Normal, Key::char('q')),
            Some(Action::Quit)
        );
        assert_eq!(
            c.keymap.lookup(Mode::Normal, Key::char('k')),
            Some(Action::Kill)
        );
        assert_eq!(
            c.keymap.lookup(Mode::Dialog, Key::char('y')),
            Some(Action::Confirm)
        );
    }

    #[test]
    fn user_file_overrides() {
        let base = parse(DEFAULT_TOML, "d", None).unwrap();
        let text = "[general]\ninterval = \"500ms\"\nview = \"ports\"\ncolumns = [\"local\", \"process\"]\n[theme]\nnew = \"#00ff00\"\n[keymap]\nnormal = [{ on = \"x\", action = \"quit\", desc = \"leave\" }]\n";
        let c = parse(text, "u", Some(base)).unwrap();
        assert_eq!(c.interval, Duration::from_millis(500));
        assert_eq!(c.view, View::Ports);
        assert_eq!(c.columns, vec![Column::Local, Column::Process]);
        assert_eq!(
            c.keymap.lookup(Mode::Normal, Key::char('x')),
            Some(Action::Quit)
        );
        assert_eq!(
            c.keymap.lookup(Mode::Normal, Key::char('q')),
            Some(Action::Quit)
        );
        assert_eq!(c.keymap.normal[0].desc, "leave");
    }

    /// `budget` as text, a whole number or a share; a bad one names its line.
    #[test]
    fn the_budget_key() {
        let base = || Some(parse(DEFAULT_TOML, "d", None).unwrap());
        assert_eq!(base().unwrap().budget, crate::model::Budget::default());
        let pct = |t: &str| parse(&format!("[general]\nbudget = {t}\n"), "c", base());
        assert_eq!(pct("\"5%\"").unwrap().budget.to_string(), "5 %");
        assert_eq!(pct("20").unwrap().budget.to_string(), "20 %");
        assert_eq!(pct("2.5").unwrap().budget.to_string(), "2.5 %");
        assert!(pct("\"off\"").unwrap().budget.is_off());
        assert!(pct("\"100%\"").unwrap().budget.is_off());
        for bad in ["\"lots\"", "0", "250", "-1.5"] {
            let e = pct(bad).unwrap_err();
            assert_eq!(e.line, Some(2), "{bad}: {e}");
            assert!(e.message.contains("CPU budget"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_files_name_the_line() {
        let base = || Some(parse(DEFAULT_TOML, "d", None).unwrap());
        let e = parse("[general]\n\ninterval = \"fast\"\n", "c.toml", base()).unwrap_err();
        assert_eq!((e.line, e.path.as_str()), (Some(3), "c.toml"));
        assert!(
            e.to_string()
                .starts_with("bad config c.toml:3: `fast` is not a duration"),
            "{e}"
        );
        let e = parse(
            "[keymap]\nnormal = [\n { on = \"x\", action = \"explode\" },\n]\n",
            "c",
            base(),
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("unknown action `explode`"));
        let e = parse("[general]\ninterval = \"10ms\"\n", "c", base()).unwrap_err();
        assert!(e.message.contains("250ms..60s"), "{e}");
        let e = parse("this is not toml", "c", base()).unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = parse("[theme]\nnew = \"blurple\"\n", "c", base()).unwrap_err();
        assert_eq!(e.line, Some(2));
        let e = parse("[genral]\n", "c", base()).unwrap_err();
        assert!(e.message.contains("genral"), "{e}");
        assert!(load(Some(Path::new("/nonexistent/sockscope.toml"))).is_err());
    }
}
